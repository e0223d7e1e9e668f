//! The generic scalar UDF wrapper and argument/result helpers shared by all
//! scalar function modules. Each KQL function is a [`Def`]: a spec for the
//! checker, a return-type rule and an evaluation closure over arrays.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, DurationNanosecondArray, Float64Array, Int64Array, StringArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result as DFResult, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use crate::registry::{FunctionInfo, Returns};

/// Evaluates a function over argument arrays of equal length `n`.
pub(crate) type EvalFn = Arc<dyn Fn(&[ArrayRef], usize) -> DFResult<ArrayRef> + Send + Sync>;
/// Computes the Arrow return type from argument types.
pub(crate) type ReturnFn = fn(&[DataType]) -> DFResult<DataType>;

/// One scalar function definition.
pub(crate) struct Def {
    pub(crate) info: FunctionInfo,
    pub(crate) ret: ReturnFn,
    pub(crate) eval: EvalFn,
    pub(crate) volatility: Volatility,
}

impl Def {
    /// A pure function definition.
    pub(crate) fn new(
        kql: &'static str,
        min: usize,
        max: usize,
        returns: Returns,
        ret: ReturnFn,
        eval: impl Fn(&[ArrayRef], usize) -> DFResult<ArrayRef> + Send + Sync + 'static,
    ) -> Self {
        Def {
            info: FunctionInfo {
                kql_name: kql,
                df_name: format!("kql_{kql}"),
                min_args: min,
                max_args: max,
                returns,
            },
            ret,
            eval: Arc::new(eval),
            volatility: Volatility::Immutable,
        }
    }

    /// Marks the function as stable (depends on the query's fixed time).
    pub(crate) fn stable(mut self) -> Self {
        self.volatility = Volatility::Stable;
        self
    }

    /// Builds the DataFusion UDF.
    pub(crate) fn into_udf(self) -> ScalarUDF {
        let signature = if self.info.max_args == 0 {
            Signature::nullary(self.volatility)
        } else if self.info.min_args == 0 {
            Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                self.volatility,
            )
        } else {
            Signature::variadic_any(self.volatility)
        };
        ScalarUDF::new_from_impl(KqlUdf {
            name: self.info.df_name.clone(),
            info: self.info,
            signature,
            ret: self.ret,
            eval: self.eval,
        })
    }
}

/// A KQL scalar function as a DataFusion [`ScalarUDFImpl`].
struct KqlUdf {
    name: String,
    info: FunctionInfo,
    signature: Signature,
    ret: ReturnFn,
    eval: EvalFn,
}

impl fmt::Debug for KqlUdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KqlUdf").field("name", &self.name).finish()
    }
}

// Names are unique within the library, so identity is the name.
impl PartialEq for KqlUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for KqlUdf {}
impl Hash for KqlUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for KqlUdf {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> DFResult<DataType> {
        let n = arg_types.len();
        if n < self.info.min_args || n > self.info.max_args {
            let max = if self.info.max_args == usize::MAX {
                "any number of".to_string()
            } else {
                self.info.max_args.to_string()
            };
            return plan_err!(
                "{}() expects between {} and {} arguments, got {}",
                self.info.kql_name,
                self.info.min_args,
                max,
                n
            );
        }
        (self.ret)(arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if all_scalar { 1 } else { args.number_rows };
        let arrays =
            args.args.into_iter().map(|a| a.into_array(n)).collect::<DFResult<Vec<_>>>()?;
        let out = (self.eval)(&arrays, n)?;
        let want = args.return_field.data_type();
        let out = if out.data_type() != want { cast(&out, want)? } else { out };
        if out.len() != n {
            return exec_err!("{}: produced {} rows, expected {}", self.name, out.len(), n);
        }
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

// ---------- return-type rules ----------

pub(crate) fn r_bool(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::Boolean)
}
pub(crate) fn r_str(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::Utf8)
}
pub(crate) fn r_i64(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::Int64)
}
pub(crate) fn r_i32(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::Int32)
}
pub(crate) fn r_f64(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::Float64)
}
pub(crate) fn r_ts(_: &[DataType]) -> DFResult<DataType> {
    Ok(ts_type())
}
pub(crate) fn r_dur(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::Duration(TimeUnit::Nanosecond))
}
/// The type of the first argument (e.g. `bin`).
pub(crate) fn r_first(t: &[DataType]) -> DFResult<DataType> {
    Ok(t.first().cloned().unwrap_or(DataType::Null))
}

/// KQL datetime storage type.
pub(crate) fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

// ---------- argument helpers ----------

/// Whether a type is one of the string encodings.
pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// The argument as a `StringArray`, casting any other type with Arrow's cast.
pub(crate) fn strs(a: &ArrayRef) -> DFResult<StringArray> {
    if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
        return Ok(s.clone());
    }
    let c = match a.data_type() {
        DataType::Timestamp(_, _) => {
            // Arrow's timestamp text differs from Kusto's; use KQL formatting.
            let v = datetimes(a)?;
            return Ok(v.iter().map(|x| x.map(crate::datetime::format_iso)).collect());
        }
        DataType::Duration(_) => {
            let v = timespans(a)?;
            return Ok(v.iter().map(|x| x.map(crate::datetime::format_timespan_kql)).collect());
        }
        _ => cast(a, &DataType::Utf8)?,
    };
    match c.as_any().downcast_ref::<StringArray>() {
        Some(s) => Ok(s.clone()),
        None => exec_err!("cannot convert {} to string", a.data_type()),
    }
}

/// The argument as 64-bit integers (null when not convertible).
pub(crate) fn i64s(a: &ArrayRef) -> DFResult<Int64Array> {
    if is_string(a.data_type()) {
        let s = strs(a)?;
        return Ok(s.iter().map(|v| v.and_then(crate::convert::parse_long)).collect());
    }
    let c = match a.data_type() {
        DataType::Timestamp(_, _) | DataType::Duration(_) => {
            let v = match a.data_type() {
                DataType::Duration(_) => timespans(a)?,
                _ => datetimes(a)?,
            };
            return Ok(v.into_iter().collect());
        }
        _ => cast(a, &DataType::Int64)?,
    };
    match c.as_any().downcast_ref::<Int64Array>() {
        Some(s) => Ok(s.clone()),
        None => exec_err!("cannot convert {} to long", a.data_type()),
    }
}

/// The argument as doubles.
pub(crate) fn f64s(a: &ArrayRef) -> DFResult<Float64Array> {
    if is_string(a.data_type()) {
        let s = strs(a)?;
        return Ok(s.iter().map(|v| v.and_then(crate::convert::parse_real)).collect());
    }
    let c = cast(a, &DataType::Float64)?;
    match c.as_any().downcast_ref::<Float64Array>() {
        Some(s) => Ok(s.clone()),
        None => exec_err!("cannot convert {} to real", a.data_type()),
    }
}

/// The argument as booleans.
pub(crate) fn bools(a: &ArrayRef) -> DFResult<BooleanArray> {
    if let Some(b) = a.as_any().downcast_ref::<BooleanArray>() {
        return Ok(b.clone());
    }
    if is_string(a.data_type()) {
        let s = strs(a)?;
        return Ok(s.iter().map(|v| v.and_then(crate::convert::parse_bool)).collect());
    }
    let c = cast(a, &DataType::Boolean)?;
    match c.as_any().downcast_ref::<BooleanArray>() {
        Some(s) => Ok(s.clone()),
        None => exec_err!("cannot convert {} to bool", a.data_type()),
    }
}

/// The argument as UTC nanoseconds since the epoch. Strings are parsed with
/// KQL's `todatetime` rules.
pub(crate) fn datetimes(a: &ArrayRef) -> DFResult<Vec<Option<i64>>> {
    if is_string(a.data_type()) {
        let s = strs(a)?;
        return Ok(s.iter().map(|v| v.and_then(crate::datetime::parse_datetime)).collect());
    }
    if matches!(a.data_type(), DataType::Null) {
        return Ok(vec![None; a.len()]);
    }
    let c = cast(a, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    match c.as_any().downcast_ref::<TimestampNanosecondArray>() {
        Some(s) => Ok(s.iter().collect()),
        None => exec_err!("cannot convert {} to datetime", a.data_type()),
    }
}

/// The argument as nanosecond timespans. Strings use KQL timespan syntax.
pub(crate) fn timespans(a: &ArrayRef) -> DFResult<Vec<Option<i64>>> {
    if is_string(a.data_type()) {
        let s = strs(a)?;
        return Ok(s.iter().map(|v| v.and_then(crate::datetime::parse_timespan)).collect());
    }
    match a.data_type() {
        DataType::Null => Ok(vec![None; a.len()]),
        DataType::Duration(_) => {
            let c = cast(a, &DataType::Duration(TimeUnit::Nanosecond))?;
            match c.as_any().downcast_ref::<DurationNanosecondArray>() {
                Some(s) => Ok(s.iter().collect()),
                None => exec_err!("cannot convert {} to timespan", a.data_type()),
            }
        }
        DataType::Interval(_) => {
            // SQL `INTERVAL` literals: accepted when they carry no months.
            let c = cast(
                a,
                &DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano),
            )?;
            let Some(iv) =
                c.as_any().downcast_ref::<datafusion::arrow::array::IntervalMonthDayNanoArray>()
            else {
                return exec_err!("cannot convert {} to timespan", a.data_type());
            };
            Ok(iv
                .iter()
                .map(|v| {
                    let v = v?;
                    if v.months != 0 {
                        return None;
                    }
                    i64::from(v.days).checked_mul(86_400_000_000_000)?.checked_add(v.nanoseconds)
                })
                .collect())
        }
        other => exec_err!("expected a timespan, got {other}"),
    }
}

/// The first non-null value of a (constant) argument, as a string.
pub(crate) fn const_str(a: &ArrayRef) -> DFResult<Option<String>> {
    let s = strs(a)?;
    Ok(s.iter().flatten().next().map(str::to_string))
}

/// Builds a UTC timestamp array.
pub(crate) fn ts_array(v: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC"))
}

/// Builds a timespan array.
pub(crate) fn dur_array(v: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(DurationNanosecondArray::from(v))
}

/// Wraps a vector of optional strings as an array.
pub(crate) fn str_array<S: AsRef<str>>(v: Vec<Option<S>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(v))
}

/// Wraps booleans.
pub(crate) fn bool_array(v: Vec<Option<bool>>) -> ArrayRef {
    Arc::new(BooleanArray::from(v))
}

/// Wraps longs.
pub(crate) fn i64_array(v: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}

/// Wraps reals.
pub(crate) fn f64_array(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}
