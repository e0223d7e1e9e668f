//! KQL `dynamic` values, stored as JSON text in Utf8 columns: `parse_json`,
//! property access (`kql_get`), `array_length`, `bag_keys`, `pack`,
//! `pack_array`, `array_concat`, `set_union`, `set_intersect`, `bag_merge`,
//! and the Arrow-value -> JSON conversion the aggregates share.
//!
//! A dynamic `null` (JSON `null`, missing property, unparsable text) is an SQL
//! null. Strings given where a dynamic value is built (`pack`, `make_list`)
//! are embedded as JSON when they hold a JSON object or array text, else as a
//! JSON string: Utf8 cannot tell a dynamic column from a string column.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, Int64Builder, ListBuilder, StringBuilder, UInt8Array, UInt16Array, UInt32Array,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result as DFResult, exec_err};
use serde_json::{Map, Value};

use crate::registry::Returns;
use crate::udf::{
    Def, bool_array, datetimes, i64_array, i64s, is_string, r_bool, r_i64, r_str, str_array, strs,
    timespans,
};
use bulwark_model::KustoType;

/// Largest dynamic text parsed (serde_json itself limits nesting to 128).
const MAX_TEXT: usize = 64 << 20;

/// Parses dynamic text; `None` for null, empty or invalid text.
pub(crate) fn parse(text: &str) -> Option<Value> {
    if text.is_empty() || text.len() > MAX_TEXT {
        return None;
    }
    serde_json::from_str::<Value>(text).ok().filter(|v| !v.is_null())
}

/// KQL `parse_json`: JSON text is normalized; other text becomes a JSON string.
pub(crate) fn parse_json(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) => None,
        Ok(v) => Some(v),
        Err(_) => Some(Value::String(text.to_string())),
    }
}

/// `tostring()` of a dynamic value: strings unquoted, others as compact JSON.
pub(crate) fn value_to_kql_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One Arrow value as JSON, following the module's string heuristic.
pub(crate) fn cell_to_json(a: &ArrayRef, i: usize) -> DFResult<Value> {
    if a.is_null(i) {
        return Ok(Value::Null);
    }
    macro_rules! num {
        ($t:ty) => {
            if let Some(x) = a.as_any().downcast_ref::<$t>() {
                return Ok(Value::from(x.value(i)));
            }
        };
    }
    num!(Int64Array);
    num!(Int32Array);
    num!(Int16Array);
    num!(Int8Array);
    num!(UInt64Array);
    num!(UInt32Array);
    num!(UInt16Array);
    num!(UInt8Array);
    if let Some(x) = a.as_any().downcast_ref::<Float64Array>() {
        return Ok(serde_json::Number::from_f64(x.value(i)).map_or(Value::Null, Value::Number));
    }
    if let Some(x) = a.as_any().downcast_ref::<Float32Array>() {
        return Ok(
            serde_json::Number::from_f64(f64::from(x.value(i))).map_or(Value::Null, Value::Number)
        );
    }
    if let Some(x) = a.as_any().downcast_ref::<BooleanArray>() {
        return Ok(Value::Bool(x.value(i)));
    }
    let slice = a.slice(i, 1);
    match a.data_type() {
        DataType::Timestamp(_, _) => Ok(datetimes(&slice)?[0]
            .map_or(Value::Null, |t| Value::String(crate::datetime::format_iso(t)))),
        DataType::Duration(_) => Ok(timespans(&slice)?[0]
            .map_or(Value::Null, |t| Value::String(crate::datetime::format_timespan_kql(t)))),
        DataType::Null => Ok(Value::Null),
        _ => {
            let s = strs(&slice)?;
            let text = s.value(0);
            let trimmed = text.trim_start();
            if (trimmed.starts_with('{') || trimmed.starts_with('['))
                && let Ok(v) = serde_json::from_str::<Value>(text)
            {
                return Ok(v);
            }
            Ok(Value::String(text.to_string()))
        }
    }
}

/// JSON text of a value (None for null).
pub(crate) fn to_text(v: &Value) -> Option<String> {
    if v.is_null() { None } else { Some(v.to_string()) }
}

/// Follows one path step.
fn step<'a>(v: &'a Value, key: &Value) -> Option<&'a Value> {
    match (v, key) {
        (Value::Object(m), Value::String(k)) => m.get(k),
        (Value::Array(xs), Value::Number(n)) => {
            let k = n.as_i64()?;
            let idx = if k < 0 { xs.len() as i64 + k } else { k };
            usize::try_from(idx).ok().and_then(|i| xs.get(i))
        }
        (Value::Array(xs), Value::String(k)) => k.parse::<usize>().ok().and_then(|i| xs.get(i)),
        _ => None,
    }
}

fn dyn_col(a: &ArrayRef) -> DFResult<Vec<Option<Value>>> {
    if !is_string(a.data_type()) && !matches!(a.data_type(), DataType::Null) {
        return (0..a.len())
            .map(|i| cell_to_json(a, i).map(|v| if v.is_null() { None } else { Some(v) }))
            .collect();
    }
    Ok(strs(a)?.iter().map(|v| v.and_then(parse)).collect())
}

fn array_of(v: Option<Value>) -> Option<Vec<Value>> {
    match v {
        Some(Value::Array(xs)) => Some(xs),
        _ => None,
    }
}

fn set_op(a: &[ArrayRef], n: usize, intersect: bool) -> DFResult<ArrayRef> {
    let cols = a.iter().map(dyn_col).collect::<DFResult<Vec<_>>>()?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let arrays: Option<Vec<Vec<Value>>> = cols.iter().map(|c| array_of(c[i].clone())).collect();
        let Some(arrays) = arrays else {
            out.push(None);
            continue;
        };
        let mut acc: Vec<Value> = Vec::new();
        for x in arrays.iter().flatten() {
            if !acc.contains(x) {
                acc.push(x.clone());
            }
        }
        if intersect {
            acc.retain(|x| arrays.iter().all(|arr| arr.contains(x)));
        }
        out.push(Some(Value::Array(acc).to_string()));
    }
    Ok(str_array(out))
}

/// All dynamic-value function definitions.
pub(crate) fn defs() -> Vec<Def> {
    let dynamic = Returns::Type(KustoType::Dynamic);
    let mut v = Vec::new();
    v.push(Def::new("parse_json", 1, 1, dynamic, r_str, |a, _| {
        if !is_string(a[0].data_type()) {
            let c = dyn_col(&a[0])?;
            return Ok(str_array(c.into_iter().map(|v| v.as_ref().and_then(to_text)).collect()));
        }
        let s = strs(&a[0])?;
        Ok(str_array(s.iter().map(|v| v.and_then(parse_json).and_then(|j| to_text(&j))).collect()))
    }));
    v.push(Def::new("get", 2, 64, dynamic, r_str, |a, n| {
        let base = dyn_col(&a[0])?;
        let keys = a[1..]
            .iter()
            .map(|k| (0..n).map(|i| cell_to_json(k, i)).collect::<DFResult<Vec<_>>>())
            .collect::<DFResult<Vec<_>>>()?;
        Ok(str_array(
            (0..n)
                .map(|i| {
                    let mut cur = base[i].as_ref()?;
                    for k in &keys {
                        // A dynamic string holding JSON is not implicitly re-parsed, as in KQL.
                        cur = step(cur, &k[i])?;
                    }
                    to_text(cur)
                })
                .collect(),
        ))
    }));
    v.push(Def::new("tostring_dynamic", 1, 1, Returns::Type(KustoType::String), r_str, |a, _| {
        let c = dyn_col(&a[0])?;
        Ok(str_array(
            c.iter()
                .map(|v| Some(v.as_ref().map(value_to_kql_string).unwrap_or_default()))
                .collect(),
        ))
    }));
    // mv-expand support: the elements of a dynamic value as an Arrow list of JSON texts, which
    // DataFusion's unnest expands. Kusto: null expands to one null row, an empty array or bag to
    // no row, a bag to one `{key: value}` bag per property (kind=bag) or `[key, value]` (array),
    // a scalar to itself. The second argument (optional, default false) selects kind=array.
    v.push(Def::new("mv_items", 1, 2, dynamic, r_list_str, |a, n| {
        let c = dyn_col(&a[0])?;
        let as_array = match a.get(1) {
            Some(k) => crate::udf::bools(k)?.iter().next().flatten().unwrap_or(false),
            None => false,
        };
        let mut b = ListBuilder::new(StringBuilder::new());
        for v in c.into_iter().take(n) {
            match v {
                None => b.values().append_null(),
                Some(Value::Array(xs)) => {
                    for x in xs {
                        b.values().append_option(to_text(&x));
                    }
                }
                Some(Value::Object(m)) => {
                    for (k, x) in m {
                        let item = if as_array {
                            Value::Array(vec![Value::String(k), x])
                        } else {
                            let mut one = Map::new();
                            one.insert(k, x);
                            Value::Object(one)
                        };
                        b.values().append_value(item.to_string());
                    }
                }
                Some(other) => b.values().append_option(to_text(&other)),
            }
            b.append(true);
        }
        Ok(Arc::new(b.finish()) as ArrayRef)
    }));
    // The item indexes (0, 1, …) matching `mv_items`, for `with_itemindex=`.
    v.push(Def::new("mv_indexes", 1, 1, Returns::Type(KustoType::Long), r_list_i64, |a, _| {
        let c = dyn_col(&a[0])?;
        let mut b = ListBuilder::new(Int64Builder::new());
        for v in c {
            let len = match v {
                None => 1,
                Some(Value::Array(xs)) => xs.len(),
                Some(Value::Object(m)) => m.len(),
                Some(_) => 1,
            };
            for i in 0..len {
                b.values().append_value(i as i64);
            }
            b.append(true);
        }
        Ok(Arc::new(b.finish()) as ArrayRef)
    }));
    v.push(Def::new("strcat_array", 2, 2, Returns::Type(KustoType::String), r_str, |a, _| {
        let arrays = dyn_col(&a[0])?;
        let delims = strs(&a[1])?;
        Ok(str_array(
            arrays
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let xs = array_of(v)?;
                    let d = if delims.is_null(i) { "" } else { delims.value(i) };
                    Some(xs.iter().map(value_to_kql_string).collect::<Vec<_>>().join(d))
                })
                .collect(),
        ))
    }));
    for (name, desc) in [("array_sort_asc", false), ("array_sort_desc", true)] {
        v.push(Def::new(name, 1, 2, dynamic, r_str, move |a, _| {
            let arrays = dyn_col(&a[0])?;
            Ok(str_array(
                arrays
                    .into_iter()
                    .map(|v| {
                        let mut xs = array_of(v)?;
                        xs.sort_by(json_order);
                        if desc {
                            xs.reverse();
                        }
                        Some(Value::Array(xs).to_string())
                    })
                    .collect(),
            ))
        }));
    }
    v.push(Def::new("array_reverse", 1, 1, dynamic, r_str, |a, _| {
        let arrays = dyn_col(&a[0])?;
        Ok(str_array(
            arrays
                .into_iter()
                .map(|v| {
                    let mut xs = array_of(v)?;
                    xs.reverse();
                    Some(Value::Array(xs).to_string())
                })
                .collect(),
        ))
    }));
    v.push(Def::new("set_difference", 2, 64, dynamic, r_str, |a, n| {
        let cols = a.iter().map(dyn_col).collect::<DFResult<Vec<_>>>()?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let Some(first) = array_of(cols[0][i].clone()) else {
                out.push(None);
                continue;
            };
            let others: Vec<Vec<Value>> =
                cols[1..].iter().filter_map(|c| array_of(c[i].clone())).collect();
            let mut acc: Vec<Value> = Vec::new();
            for x in first {
                if !acc.contains(&x) && !others.iter().any(|o| o.contains(&x)) {
                    acc.push(x);
                }
            }
            out.push(Some(Value::Array(acc).to_string()));
        }
        Ok(str_array(out))
    }));
    v.push(Def::new("array_slice", 3, 3, dynamic, r_str, |a, n| {
        let arrays = dyn_col(&a[0])?;
        let starts = i64_array_of(&a[1])?;
        let ends = i64_array_of(&a[2])?;
        Ok(str_array(
            (0..n)
                .map(|i| {
                    let xs = array_of(arrays[i].clone())?;
                    let len = xs.len() as i64;
                    let norm = |k: i64| if k < 0 { (len + k).max(0) } else { k.min(len) };
                    let (s, e) = (norm(starts[i]?), norm(ends[i]?));
                    let slice = if s > e {
                        Vec::new()
                    } else {
                        xs[s as usize..((e + 1).min(len)) as usize].to_vec()
                    };
                    Some(Value::Array(slice).to_string())
                })
                .collect(),
        ))
    }));
    v.push(Def::new("array_index_of", 2, 2, Returns::Type(KustoType::Long), r_i64, |a, n| {
        let arrays = dyn_col(&a[0])?;
        Ok(i64_array(
            (0..n)
                .map(|i| {
                    let xs = array_of(arrays[i].clone())?;
                    let needle = cell_to_json(&a[1], i).ok()?;
                    let pos = xs.iter().position(|x| {
                        x == &needle || value_to_kql_string(x) == value_to_kql_string(&needle)
                    });
                    Some(pos.map_or(-1, |p| p as i64))
                })
                .collect(),
        ))
    }));
    v.push(Def::new("set_has_element", 2, 2, Returns::Type(KustoType::Bool), r_bool, |a, n| {
        let arrays = dyn_col(&a[0])?;
        Ok(bool_array(
            (0..n)
                .map(|i| {
                    let xs = array_of(arrays[i].clone())?;
                    let needle = cell_to_json(&a[1], i).ok()?;
                    Some(xs.iter().any(|x| {
                        x == &needle || value_to_kql_string(x) == value_to_kql_string(&needle)
                    }))
                })
                .collect(),
        ))
    }));
    v.push(Def::new("bag_has_key", 2, 2, Returns::Type(KustoType::Bool), r_bool, |a, n| {
        let bags = dyn_col(&a[0])?;
        let keys = strs(&a[1])?;
        Ok(bool_array(
            (0..n)
                .map(|i| match &bags[i] {
                    Some(Value::Object(m)) => {
                        Some(!keys.is_null(i) && m.contains_key(keys.value(i)))
                    }
                    _ => Some(false),
                })
                .collect(),
        ))
    }));
    v.push(Def::new("gettype_dynamic", 1, 1, Returns::Type(KustoType::String), r_str, |a, _| {
        let c = dyn_col(&a[0])?;
        Ok(str_array(
            c.into_iter()
                .map(|v| {
                    Some(match v {
                        None => "null",
                        Some(Value::Array(_)) => "array",
                        Some(Value::Object(_)) => "dictionary",
                        Some(Value::String(_)) => "string",
                        Some(Value::Bool(_)) => "bool",
                        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "long",
                        Some(Value::Number(_)) => "real",
                        Some(Value::Null) => "null",
                    })
                })
                .collect(),
        ))
    }));
    v.push(Def::new("base64_decode_toarray", 1, 1, dynamic, r_str, |a, _| {
        use base64::Engine as _;
        let s = strs(&a[0])?;
        Ok(str_array(
            s.iter()
                .map(|v| {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(v?.trim()).ok()?;
                    Some(Value::Array(bytes.into_iter().map(Value::from).collect()).to_string())
                })
                .collect(),
        ))
    }));
    // make-series support: places aggregated values at their bin indexes in an array of `n`
    // slots, the others holding `default`.
    v.push(Def::new("series_fill", 4, 4, dynamic, r_str, |a, n| {
        let bins = dyn_col(&a[0])?;
        let vals = dyn_col(&a[1])?;
        let counts = i64_array_of(&a[2])?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let slots = usize::try_from(counts[i].unwrap_or(0).clamp(0, 1_000_000)).unwrap_or(0);
            let default = cell_to_json(&a[3], i)?;
            let mut series = vec![default; slots];
            if let (Some(Value::Array(bs)), Some(Value::Array(vs))) = (&bins[i], &vals[i]) {
                for (b, v) in bs.iter().zip(vs) {
                    if let Some(k) = b.as_i64().and_then(|k| usize::try_from(k).ok())
                        && k < slots
                    {
                        series[k] = v.clone();
                    }
                }
            }
            out.push(Some(Value::Array(series).to_string()));
        }
        Ok(str_array(out))
    }));
    // parse_xml: XML text → dynamic, with Kusto's mapping (attributes `@name`, mixed text
    // `#text`, repeated children → arrays, empty elements → null). Invalid XML → null.
    v.push(Def::new("parse_xml", 1, 1, dynamic, r_str, |a, _| {
        let s = strs(&a[0])?;
        Ok(str_array(s.iter().map(|v| v.and_then(xml_to_json).map(|j| j.to_string())).collect()))
    }));
    v.push(Def::new("array_length", 1, 1, Returns::Type(KustoType::Long), r_i64, |a, _| {
        let c = dyn_col(&a[0])?;
        Ok(i64_array(
            c.iter()
                .map(|v| match v {
                    Some(Value::Array(xs)) => Some(xs.len() as i64),
                    _ => None,
                })
                .collect(),
        ))
    }));
    v.push(Def::new("bag_keys", 1, 1, dynamic, r_str, |a, _| {
        let c = dyn_col(&a[0])?;
        Ok(str_array(
            c.iter()
                .map(|v| match v {
                    Some(Value::Object(m)) => Some(
                        Value::Array(m.keys().map(|k| Value::String(k.clone())).collect())
                            .to_string(),
                    ),
                    _ => None,
                })
                .collect(),
        ))
    }));
    v.push(Def::new("pack", 0, 128, dynamic, r_str, |a, n| {
        if a.len() % 2 != 0 {
            return exec_err!("pack/bag_pack expects key/value pairs, got {} arguments", a.len());
        }
        let keys = a.iter().step_by(2).map(strs).collect::<DFResult<Vec<_>>>()?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut m = Map::new();
            for (j, k) in keys.iter().enumerate() {
                if k.is_null(i) {
                    continue;
                }
                m.insert(k.value(i).to_string(), cell_to_json(&a[2 * j + 1], i)?);
            }
            out.push(Some(Value::Object(m).to_string()));
        }
        Ok(str_array(out))
    }));
    v.push(Def::new("pack_array", 0, 128, dynamic, r_str, |a, n| {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let xs = a.iter().map(|c| cell_to_json(c, i)).collect::<DFResult<Vec<_>>>()?;
            out.push(Some(Value::Array(xs).to_string()));
        }
        Ok(str_array(out))
    }));
    v.push(Def::new("array_concat", 1, 64, dynamic, r_str, |a, n| {
        let cols = a.iter().map(dyn_col).collect::<DFResult<Vec<_>>>()?;
        Ok(str_array(
            (0..n)
                .map(|i| {
                    let mut all = Vec::new();
                    for c in &cols {
                        all.extend(array_of(c[i].clone())?);
                    }
                    Some(Value::Array(all).to_string())
                })
                .collect(),
        ))
    }));
    v.push(Def::new("set_union", 2, 64, dynamic, r_str, |a, n| set_op(a, n, false)));
    v.push(Def::new("set_intersect", 2, 64, dynamic, r_str, |a, n| set_op(a, n, true)));
    v.push(Def::new("bag_merge", 2, 64, dynamic, r_str, |a, n| {
        let cols = a.iter().map(dyn_col).collect::<DFResult<Vec<_>>>()?;
        Ok(str_array(
            (0..n)
                .map(|i| {
                    let mut m = Map::new();
                    for c in &cols {
                        if let Some(Value::Object(b)) = &c[i] {
                            for (k, v) in b {
                                // Leftmost bag wins on duplicate keys.
                                m.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    }
                    Some(Value::Object(m).to_string())
                })
                .collect(),
        ))
    }));
    v
}

fn r_list_str(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))))
}

fn r_list_i64(_: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::List(Arc::new(Field::new("item", DataType::Int64, true))))
}

fn i64_array_of(a: &ArrayRef) -> DFResult<Vec<Option<i64>>> {
    Ok(i64s(a)?.iter().collect())
}

/// A total order on JSON values for sorting arrays: nulls, bools, numbers, strings, others.
fn json_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            _ => 4,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x.total_cmp(&y)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)).then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

/// Largest XML text converted by `parse_xml`, and the deepest nesting followed.
const MAX_XML: usize = 16 << 20;
const MAX_XML_DEPTH: usize = 256;

/// Kusto's XML → JSON mapping; `None` for invalid or oversized XML.
pub(crate) fn xml_to_json(text: &str) -> Option<Value> {
    use quick_xml::events::Event;
    if text.trim().is_empty() || text.len() > MAX_XML {
        return None;
    }
    // (element name, attributes and children, text)
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    let mut root: Option<Value> = None;
    let mut reader = quick_xml::Reader::from_str(text);
    fn attrs(e: &quick_xml::events::BytesStart<'_>) -> Option<Map<String, Value>> {
        let mut m = Map::new();
        for attr in e.attributes() {
            let attr = attr.ok()?;
            let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
            let value = attr.unescape_value().ok()?.into_owned();
            m.insert(format!("@{key}"), Value::String(value));
        }
        Some(m)
    }
    fn close(name: String, map: Map<String, Value>, text: String) -> (String, Value) {
        let text = text.trim().to_string();
        let value = if map.is_empty() {
            if text.is_empty() { Value::Null } else { Value::String(text) }
        } else {
            let mut map = map;
            if !text.is_empty() {
                map.insert("#text".to_string(), Value::String(text));
            }
            Value::Object(map)
        };
        (name, value)
    }
    fn attach(
        stack: &mut [(String, Map<String, Value>, String)],
        root: &mut Option<Value>,
        name: String,
        value: Value,
    ) {
        match stack.last_mut() {
            Some((_, parent, _)) => match parent.get_mut(&name) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    parent.insert(name, value);
                }
            },
            None => {
                let mut m = Map::new();
                m.insert(name, value);
                *root = Some(Value::Object(m));
            }
        }
    }
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                if stack.len() >= MAX_XML_DEPTH {
                    return None;
                }
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                stack.push((name, attrs(&e)?, String::new()));
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let (name, value) = close(name, attrs(&e)?, String::new());
                attach(&mut stack, &mut root, name, value);
            }
            Event::End(_) => {
                let (name, map, text) = stack.pop()?;
                let (name, value) = close(name, map, text);
                attach(&mut stack, &mut root, name, value);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let raw = t.decode().ok()?;
                    top.2.push_str(&quick_xml::escape::unescape(&raw).ok()?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.decode().ok()?;
                    let ch = match name.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        n => n
                            .strip_prefix("#x")
                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                            .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                            .and_then(char::from_u32),
                    };
                    top.2.push(ch?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

#[cfg(test)]
mod xml_tests {
    use super::xml_to_json;
    use serde_json::json;

    #[test]
    fn kusto_xml_mapping() {
        assert_eq!(xml_to_json("<e/>"), Some(json!({"e": null})));
        assert_eq!(xml_to_json("<e>text</e>"), Some(json!({"e": "text"})));
        assert_eq!(xml_to_json(r#"<e name="value"/>"#), Some(json!({"e": {"@name": "value"}})));
        assert_eq!(
            xml_to_json(r#"<e name="value">text</e>"#),
            Some(json!({"e": {"@name": "value", "#text": "text"}}))
        );
        assert_eq!(
            xml_to_json("<e> <a>text</a> <b>text</b> </e>"),
            Some(json!({"e": {"a": "text", "b": "text"}}))
        );
        assert_eq!(
            xml_to_json("<e> <a>x</a> <a>y</a> <a>z</a> </e>"),
            Some(json!({"e": {"a": ["x", "y", "z"]}}))
        );
        assert_eq!(
            xml_to_json("<e> text <a>inner</a> </e>"),
            Some(json!({"e": {"#text": "text", "a": "inner"}}))
        );
        assert_eq!(xml_to_json("<e>a &amp; b &#x41;</e>"), Some(json!({"e": "a & b A"})));
        assert_eq!(xml_to_json("<e><a></e>"), None);
        assert_eq!(xml_to_json("not xml"), None);
        assert_eq!(xml_to_json(&"<a>".repeat(1000)), None);
    }
}
