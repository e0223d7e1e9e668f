//! KQL aggregation functions as DataFusion UDAFs, each with explicit state
//! fields so partial/final (multi-partition) aggregation merges correctly.
//!
//! * `make_list`/`make_set`/`make_bag` (+`_if`) return JSON text; items keep
//!   first-seen order within a partition and partitions are appended in merge
//!   order (no sorting). Nulls are skipped.
//! * `dcount`/`dcountif` are exact (Kusto's are HyperLogLog estimates).
//! * `percentile`/`percentiles` are exact nearest-rank.
//! * `arg_max`/`arg_min` return a struct `{c0: by, c1.., cn: values}`.

use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::scalar::ScalarStructBuilder;
use datafusion::common::{Result as DFResult, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use serde_json::{Map, Value};

use crate::dynamic::cell_to_json;
use crate::registry::{FunctionInfo, Returns};
use crate::udf::{bools, f64s};
use bulwark_model::KustoType;

/// Kusto's default cap for `make_set`/`make_list`/`make_bag`.
const DEFAULT_MAX: usize = 1_048_576;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    CountIf,
    DCount,
    DCountIf,
    SumIf,
    AvgIf,
    MakeList,
    MakeListIf,
    MakeSet,
    MakeSetIf,
    MakeBag,
    MakeBagIf,
    ArgMax,
    ArgMin,
    Percentile,
    Percentiles,
    Stdev,
    Stdevp,
    Variance,
    Variancep,
    TakeAny,
    MinIf,
    MaxIf,
}

struct KqlUdaf {
    name: String,
    kind: Kind,
    min: usize,
    max: usize,
    signature: Signature,
}

impl fmt::Debug for KqlUdaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KqlUdaf").field("name", &self.name).finish()
    }
}
impl PartialEq for KqlUdaf {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}
impl Eq for KqlUdaf {}
impl Hash for KqlUdaf {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}

fn numeric_result(t: &DataType) -> DataType {
    if t.is_floating() || !t.is_numeric() { DataType::Float64 } else { DataType::Int64 }
}

fn arg_struct(types: &[DataType]) -> DataType {
    DataType::Struct(Fields::from(
        types
            .iter()
            .enumerate()
            .map(|(i, t)| Field::new(format!("c{i}"), t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

impl AggregateUDFImpl for KqlUdaf {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, t: &[DataType]) -> DFResult<DataType> {
        if t.len() < self.min || t.len() > self.max {
            return plan_err!(
                "{}() expects {}..{} arguments, got {}",
                self.name,
                self.min,
                self.max,
                t.len()
            );
        }
        let first = t.first().cloned().unwrap_or(DataType::Null);
        Ok(match self.kind {
            Kind::CountIf | Kind::DCount | Kind::DCountIf => DataType::Int64,
            Kind::SumIf => numeric_result(&first),
            Kind::AvgIf | Kind::Stdev | Kind::Stdevp | Kind::Variance | Kind::Variancep => {
                DataType::Float64
            }
            Kind::MakeList
            | Kind::MakeListIf
            | Kind::MakeSet
            | Kind::MakeSetIf
            | Kind::MakeBag
            | Kind::MakeBagIf
            | Kind::Percentiles => DataType::Utf8,
            Kind::Percentile => numeric_result(&first),
            Kind::TakeAny | Kind::MinIf | Kind::MaxIf => first,
            Kind::ArgMax | Kind::ArgMin => arg_struct(t),
        })
    }
    fn is_nullable(&self) -> bool {
        true
    }
    fn state_fields(&self, args: StateFieldsArgs) -> DFResult<Vec<FieldRef>> {
        let f =
            |n: &str, t: DataType| Arc::new(Field::new(format_state_name(args.name, n), t, true));
        let rt = args.return_field.data_type().clone();
        Ok(match self.kind {
            Kind::CountIf => vec![f("count", DataType::Int64)],
            Kind::SumIf => vec![f("sum", rt)],
            Kind::AvgIf | Kind::Stdev | Kind::Stdevp | Kind::Variance | Kind::Variancep => {
                vec![
                    f("count", DataType::Int64),
                    f("mean", DataType::Float64),
                    f("m2", DataType::Float64),
                ]
            }
            Kind::TakeAny | Kind::MinIf | Kind::MaxIf => vec![f("value", rt)],
            Kind::ArgMax | Kind::ArgMin => args
                .input_fields
                .iter()
                .enumerate()
                .map(|(i, x)| f(&format!("c{i}"), x.data_type().clone()))
                .collect(),
            _ => vec![f("json", DataType::Utf8)],
        })
    }
    fn accumulator(&self, a: AccumulatorArgs) -> DFResult<Box<dyn Accumulator>> {
        let lit = |i: usize| -> Option<ScalarValue> {
            a.exprs.get(i).and_then(|e| e.downcast_ref::<Literal>()).map(|l| l.value().clone())
        };
        let lit_usize = |i: usize| -> DFResult<usize> {
            match lit(i) {
                None => Ok(DEFAULT_MAX),
                Some(v) => match v.cast_to(&DataType::Int64)? {
                    ScalarValue::Int64(Some(n)) if n >= 0 => Ok((n as usize).min(DEFAULT_MAX)),
                    _ => exec_err!("{}: maxSize must be a non-negative constant", self.name),
                },
            }
        };
        let rt = a.return_field.data_type().clone();
        let json = |mode: JsonMode, pred: Option<usize>, max: usize| -> Box<dyn Accumulator> {
            Box::new(JsonAcc {
                mode,
                pred,
                max,
                items: Vec::new(),
                seen: HashSet::new(),
                bag: Map::new(),
                rt: rt.clone(),
                ps: Vec::new(),
            })
        };
        Ok(match self.kind {
            Kind::CountIf => Box::new(CountIf(0)),
            Kind::DCount => json(JsonMode::Count, None, usize::MAX),
            Kind::DCountIf => json(JsonMode::Count, Some(1), usize::MAX),
            Kind::MakeList => json(JsonMode::List, None, lit_usize(1)?),
            Kind::MakeListIf => json(JsonMode::List, Some(1), lit_usize(2)?),
            Kind::MakeSet => json(JsonMode::Set, None, lit_usize(1)?),
            Kind::MakeSetIf => json(JsonMode::Set, Some(1), lit_usize(2)?),
            Kind::MakeBag => json(JsonMode::Bag, None, lit_usize(1)?),
            Kind::MakeBagIf => json(JsonMode::Bag, Some(1), lit_usize(2)?),
            Kind::Percentile | Kind::Percentiles => {
                let mut ps = Vec::new();
                for i in 1..a.exprs.len() {
                    match lit(i).map(|v| v.cast_to(&DataType::Float64)) {
                        Some(Ok(ScalarValue::Float64(Some(p)))) if (0.0..=100.0).contains(&p) => {
                            ps.push(p)
                        }
                        _ => {
                            return exec_err!(
                                "{}: percentile must be a constant between 0 and 100",
                                self.name
                            );
                        }
                    }
                }
                let mode = if self.kind == Kind::Percentile {
                    JsonMode::Percentile
                } else {
                    JsonMode::Percentiles
                };
                let mut acc = JsonAcc {
                    mode,
                    pred: None,
                    max: usize::MAX,
                    items: Vec::new(),
                    seen: HashSet::new(),
                    bag: Map::new(),
                    rt: rt.clone(),
                    ps: Vec::new(),
                };
                acc.ps = ps;
                Box::new(acc)
            }
            Kind::SumIf => Box::new(SumIf { sum: ScalarValue::try_from(&rt)?, rt }),
            Kind::AvgIf => Box::new(Moments::new(MomentOut::Avg, Some(1))),
            Kind::Stdev => Box::new(Moments::new(MomentOut::Stdev, None)),
            Kind::Stdevp => Box::new(Moments::new(MomentOut::Stdevp, None)),
            Kind::Variance => Box::new(Moments::new(MomentOut::Variance, None)),
            Kind::Variancep => Box::new(Moments::new(MomentOut::Variancep, None)),
            Kind::TakeAny => {
                Box::new(Pick { mode: PickMode::Any, value: ScalarValue::try_from(&rt)? })
            }
            Kind::MinIf => {
                Box::new(Pick { mode: PickMode::Min, value: ScalarValue::try_from(&rt)? })
            }
            Kind::MaxIf => {
                Box::new(Pick { mode: PickMode::Max, value: ScalarValue::try_from(&rt)? })
            }
            Kind::ArgMax | Kind::ArgMin => {
                let DataType::Struct(fields) = rt else {
                    return exec_err!("{}: unexpected return type", self.name);
                };
                let values = fields
                    .iter()
                    .map(|f| ScalarValue::try_from(f.data_type()))
                    .collect::<DFResult<Vec<_>>>()?;
                Box::new(ArgPick { max: self.kind == Kind::ArgMax, fields, values })
            }
        })
    }
}

// ---------- count_if ----------

#[derive(Debug)]
struct CountIf(i64);

impl Accumulator for CountIf {
    fn update_batch(&mut self, v: &[ArrayRef]) -> DFResult<()> {
        let n = bools(&v[0])?.iter().filter(|b| *b == Some(true)).count() as i64;
        self.0 = self.0.saturating_add(n);
        Ok(())
    }
    fn merge_batch(&mut self, s: &[ArrayRef]) -> DFResult<()> {
        for n in crate::udf::i64s(&s[0])?.iter().flatten() {
            self.0 = self.0.saturating_add(n);
        }
        Ok(())
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(Some(self.0))])
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.0)))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

fn pred_mask(v: &[ArrayRef], pred: Option<usize>, n: usize) -> DFResult<Vec<bool>> {
    match pred {
        None => Ok(vec![true; n]),
        Some(i) => Ok(bools(&v[i])?.iter().map(|b| b == Some(true)).collect()),
    }
}

// ---------- JSON-collecting aggregates ----------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonMode {
    List,
    Set,
    Count,
    Bag,
    Percentile,
    Percentiles,
}

#[derive(Debug)]
struct JsonAcc {
    mode: JsonMode,
    pred: Option<usize>,
    max: usize,
    items: Vec<Value>,
    seen: HashSet<String>,
    bag: Map<String, Value>,
    rt: DataType,
    ps: Vec<f64>,
}

impl JsonAcc {
    fn add(&mut self, v: Value) {
        if v.is_null() {
            return;
        }
        match self.mode {
            JsonMode::Bag => {
                if let Value::Object(m) = v {
                    for (k, x) in m {
                        if self.bag.len() >= self.max {
                            break;
                        }
                        self.bag.entry(k).or_insert(x);
                    }
                }
            }
            JsonMode::Set | JsonMode::Count => {
                if self.seen.len() < self.max {
                    let key = v.to_string();
                    if self.seen.insert(key) && self.mode == JsonMode::Set {
                        self.items.push(v);
                    }
                }
            }
            _ => {
                if self.items.len() < self.max {
                    self.items.push(v);
                }
            }
        }
    }

    fn state_value(&self) -> Value {
        match self.mode {
            JsonMode::Bag => Value::Object(self.bag.clone()),
            JsonMode::Count => {
                Value::Array(self.seen.iter().map(|k| Value::String(k.clone())).collect())
            }
            _ => Value::Array(self.items.clone()),
        }
    }

    fn sorted_numbers(&self) -> Vec<f64> {
        let mut xs: Vec<f64> =
            self.items.iter().filter_map(Value::as_f64).filter(|x| !x.is_nan()).collect();
        xs.sort_by(f64::total_cmp);
        xs
    }
}

/// Nearest-rank percentile: the value at rank `ceil(p/100 * n)` (at least 1).
fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

impl Accumulator for JsonAcc {
    fn update_batch(&mut self, v: &[ArrayRef]) -> DFResult<()> {
        let n = v[0].len();
        let mask = pred_mask(v, self.pred, n)?;
        if matches!(self.mode, JsonMode::Percentile | JsonMode::Percentiles) {
            let xs = f64s(&v[0])?;
            for x in xs.iter().flatten() {
                if let Some(num) = serde_json::Number::from_f64(x) {
                    self.items.push(Value::Number(num));
                }
            }
            return Ok(());
        }
        for (i, keep) in mask.into_iter().enumerate() {
            if keep {
                let mut j = cell_to_json(&v[0], i)?;
                if self.mode == JsonMode::Bag
                    && let Value::String(s) = &j
                {
                    j = crate::dynamic::parse(s).unwrap_or(Value::Null);
                }
                self.add(j);
            }
        }
        Ok(())
    }
    fn merge_batch(&mut self, s: &[ArrayRef]) -> DFResult<()> {
        let Some(texts) = s[0].as_any().downcast_ref::<StringArray>() else {
            return exec_err!("kql aggregate: unexpected state type {}", s[0].data_type());
        };
        for t in texts.iter().flatten() {
            let Ok(v) = serde_json::from_str::<Value>(t) else {
                return exec_err!("kql aggregate: corrupt state");
            };
            match (self.mode, v) {
                (JsonMode::Count, Value::Array(keys)) => {
                    for k in keys {
                        if let Value::String(k) = k {
                            self.seen.insert(k);
                        }
                    }
                }
                (JsonMode::Bag, b @ Value::Object(_)) => self.add(b),
                (JsonMode::Percentile | JsonMode::Percentiles, Value::Array(xs)) => {
                    self.items.extend(xs)
                }
                (_, Value::Array(xs)) => {
                    for x in xs {
                        self.add(x);
                    }
                }
                _ => return exec_err!("kql aggregate: corrupt state"),
            }
        }
        Ok(())
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(self.state_value().to_string()))])
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        match self.mode {
            JsonMode::Count => Ok(ScalarValue::Int64(Some(self.seen.len() as i64))),
            JsonMode::Percentile => {
                let xs = self.sorted_numbers();
                let p = self.ps.first().copied().unwrap_or(50.0);
                ScalarValue::Float64(nearest_rank(&xs, p)).cast_to(&self.rt)
            }
            JsonMode::Percentiles => {
                let xs = self.sorted_numbers();
                let out: Vec<Value> = self
                    .ps
                    .iter()
                    .map(|p| {
                        nearest_rank(&xs, *p)
                            .and_then(serde_json::Number::from_f64)
                            .map_or(Value::Null, Value::Number)
                    })
                    .collect();
                Ok(ScalarValue::Utf8(Some(Value::Array(out).to_string())))
            }
            _ => Ok(ScalarValue::Utf8(Some(self.state_value().to_string()))),
        }
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.items.len() * 64
            + self.seen.len() * 64
            + self.bag.len() * 96
    }
}

// ---------- sumif ----------

#[derive(Debug)]
struct SumIf {
    sum: ScalarValue,
    rt: DataType,
}

impl SumIf {
    fn add(&mut self, x: ScalarValue) -> DFResult<()> {
        if x.is_null() {
            return Ok(());
        }
        self.sum = if self.sum.is_null() {
            x
        } else {
            self.sum.add_checked(&x).or_else(|_| self.sum.add(&x))?
        };
        Ok(())
    }
}

impl Accumulator for SumIf {
    fn update_batch(&mut self, v: &[ArrayRef]) -> DFResult<()> {
        let mask = pred_mask(v, Some(1), v[0].len())?;
        let vals = datafusion::arrow::compute::cast(&v[0], &self.rt)?;
        for (i, keep) in mask.into_iter().enumerate() {
            if keep {
                self.add(ScalarValue::try_from_array(&vals, i)?)?;
            }
        }
        Ok(())
    }
    fn merge_batch(&mut self, s: &[ArrayRef]) -> DFResult<()> {
        for i in 0..s[0].len() {
            self.add(ScalarValue::try_from_array(&s[0], i)?)?;
        }
        Ok(())
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![self.sum.clone()])
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        // Kusto's sum over no matching rows is 0, not null.
        if self.sum.is_null() {
            return ScalarValue::Int64(Some(0)).cast_to(&self.rt);
        }
        Ok(self.sum.clone())
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

// ---------- moments: avgif, stdev, variance ----------

#[derive(Debug, Clone, Copy)]
enum MomentOut {
    Avg,
    Stdev,
    Stdevp,
    Variance,
    Variancep,
}

#[derive(Debug)]
struct Moments {
    out: MomentOut,
    pred: Option<usize>,
    n: i64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn new(out: MomentOut, pred: Option<usize>) -> Self {
        Moments { out, pred, n: 0, mean: 0.0, m2: 0.0 }
    }
    /// Chan et al.'s parallel combination of (n, mean, M2).
    fn combine(&mut self, n: i64, mean: f64, m2: f64) {
        if n == 0 {
            return;
        }
        let total = self.n + n;
        let delta = mean - self.mean;
        self.mean += delta * n as f64 / total as f64;
        self.m2 += m2 + delta * delta * self.n as f64 * n as f64 / total as f64;
        self.n = total;
    }
}

impl Accumulator for Moments {
    fn update_batch(&mut self, v: &[ArrayRef]) -> DFResult<()> {
        let mask = pred_mask(v, self.pred, v[0].len())?;
        let xs = f64s(&v[0])?;
        for (i, keep) in mask.into_iter().enumerate() {
            if keep && xs.is_valid(i) {
                self.combine(1, xs.value(i), 0.0);
            }
        }
        Ok(())
    }
    fn merge_batch(&mut self, s: &[ArrayRef]) -> DFResult<()> {
        let n = crate::udf::i64s(&s[0])?;
        let (mean, m2) = (f64s(&s[1])?, f64s(&s[2])?);
        for i in 0..n.len() {
            if n.is_valid(i) && mean.is_valid(i) && m2.is_valid(i) {
                self.combine(n.value(i), mean.value(i), m2.value(i));
            }
        }
        Ok(())
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Int64(Some(self.n)),
            ScalarValue::Float64(Some(self.mean)),
            ScalarValue::Float64(Some(self.m2)),
        ])
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        if self.n == 0 {
            return Ok(ScalarValue::Float64(None));
        }
        let n = self.n as f64;
        // Sample statistics of a single value are 0 in Kusto.
        let sample = if self.n > 1 { self.m2 / (n - 1.0) } else { 0.0 };
        Ok(ScalarValue::Float64(Some(match self.out {
            MomentOut::Avg => self.mean,
            MomentOut::Variance => sample,
            MomentOut::Stdev => sample.sqrt(),
            MomentOut::Variancep => self.m2 / n,
            MomentOut::Stdevp => (self.m2 / n).sqrt(),
        })))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

// ---------- take_any, min_if, max_if ----------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PickMode {
    Any,
    Min,
    Max,
}

#[derive(Debug)]
struct Pick {
    mode: PickMode,
    value: ScalarValue,
}

fn is_empty_value(v: &ScalarValue) -> bool {
    v.is_null()
        || matches!(v, ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) if s.is_empty())
}

impl Pick {
    fn offer(&mut self, x: ScalarValue) {
        if x.is_null() {
            return;
        }
        let replace = match self.mode {
            // take_any keeps the first value but prefers a non-empty one.
            PickMode::Any => {
                self.value.is_null() || (is_empty_value(&self.value) && !is_empty_value(&x))
            }
            PickMode::Min => {
                self.value.is_null() || x.partial_cmp(&self.value) == Some(std::cmp::Ordering::Less)
            }
            PickMode::Max => {
                self.value.is_null()
                    || x.partial_cmp(&self.value) == Some(std::cmp::Ordering::Greater)
            }
        };
        if replace {
            self.value = x;
        }
    }
}

impl Accumulator for Pick {
    fn update_batch(&mut self, v: &[ArrayRef]) -> DFResult<()> {
        let pred = if self.mode == PickMode::Any { None } else { Some(1) };
        let mask = pred_mask(v, pred, v[0].len())?;
        for (i, keep) in mask.into_iter().enumerate() {
            if keep {
                self.offer(ScalarValue::try_from_array(&v[0], i)?);
                if self.mode == PickMode::Any && !is_empty_value(&self.value) {
                    break;
                }
            }
        }
        Ok(())
    }
    fn merge_batch(&mut self, s: &[ArrayRef]) -> DFResult<()> {
        for i in 0..s[0].len() {
            self.offer(ScalarValue::try_from_array(&s[0], i)?);
        }
        Ok(())
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![self.value.clone()])
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(self.value.clone())
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size()
    }
}

// ---------- arg_max, arg_min ----------

#[derive(Debug)]
struct ArgPick {
    max: bool,
    fields: Fields,
    /// values[0] is the `by` value; the rest are the selected row's values.
    values: Vec<ScalarValue>,
}

impl ArgPick {
    fn offer_row(&mut self, cols: &[ArrayRef], i: usize) -> DFResult<()> {
        let by = ScalarValue::try_from_array(&cols[0], i)?;
        if by.is_null() {
            return Ok(());
        }
        let better = self.values[0].is_null()
            || match by.partial_cmp(&self.values[0]) {
                Some(std::cmp::Ordering::Greater) => self.max,
                Some(std::cmp::Ordering::Less) => !self.max,
                _ => false,
            };
        if better {
            self.values = cols
                .iter()
                .map(|c| ScalarValue::try_from_array(c, i))
                .collect::<DFResult<Vec<_>>>()?;
        }
        Ok(())
    }
}

impl Accumulator for ArgPick {
    fn update_batch(&mut self, v: &[ArrayRef]) -> DFResult<()> {
        for i in 0..v[0].len() {
            self.offer_row(v, i)?;
        }
        Ok(())
    }
    fn merge_batch(&mut self, s: &[ArrayRef]) -> DFResult<()> {
        self.update_batch(s)
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(self.values.clone())
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        let mut b = ScalarStructBuilder::new();
        for (f, v) in self.fields.iter().zip(&self.values) {
            b = b.with_scalar(Arc::clone(f), v.clone());
        }
        b.build()
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.iter().map(ScalarValue::size).sum::<usize>()
    }
}

/// All aggregate definitions with their checker info.
pub(crate) fn defs() -> Vec<(FunctionInfo, AggregateUDF)> {
    use Kind::*;
    let t = Returns::Type;
    let table: Vec<(&'static str, Kind, usize, usize, Returns)> = vec![
        ("count_if", CountIf, 1, 1, t(KustoType::Long)),
        ("dcount", DCount, 1, 2, t(KustoType::Long)),
        ("dcountif", DCountIf, 2, 3, t(KustoType::Long)),
        ("sumif", SumIf, 2, 2, Returns::SameAsArg(0)),
        ("avgif", AvgIf, 2, 2, t(KustoType::Real)),
        ("make_list", MakeList, 1, 2, t(KustoType::Dynamic)),
        ("make_list_if", MakeListIf, 2, 3, t(KustoType::Dynamic)),
        ("make_set", MakeSet, 1, 2, t(KustoType::Dynamic)),
        ("make_set_if", MakeSetIf, 2, 3, t(KustoType::Dynamic)),
        ("make_bag", MakeBag, 1, 2, t(KustoType::Dynamic)),
        ("make_bag_if", MakeBagIf, 2, 3, t(KustoType::Dynamic)),
        ("arg_max", ArgMax, 1, 4096, Returns::ArgStruct),
        ("arg_min", ArgMin, 1, 4096, Returns::ArgStruct),
        ("percentile", Percentile, 2, 2, Returns::SameAsArg(0)),
        ("percentiles", Percentiles, 2, 64, t(KustoType::Dynamic)),
        ("stdev", Stdev, 1, 1, t(KustoType::Real)),
        ("stdevp", Stdevp, 1, 1, t(KustoType::Real)),
        ("variance", Variance, 1, 1, t(KustoType::Real)),
        ("variancep", Variancep, 1, 1, t(KustoType::Real)),
        ("take_any", TakeAny, 1, 1, Returns::SameAsArg(0)),
        ("min_if", MinIf, 2, 2, Returns::SameAsArg(0)),
        ("max_if", MaxIf, 2, 2, Returns::SameAsArg(0)),
    ];
    table
        .into_iter()
        .map(|(kql, kind, min, max, returns)| {
            let name = format!("kql_{kql}");
            let info = FunctionInfo {
                kql_name: kql,
                df_name: name.clone(),
                min_args: min,
                max_args: max,
                returns,
            };
            let udaf = AggregateUDF::new_from_impl(KqlUdaf {
                name,
                kind,
                min,
                max,
                signature: Signature::variadic_any(Volatility::Immutable),
            });
            (info, udaf)
        })
        .collect()
}
