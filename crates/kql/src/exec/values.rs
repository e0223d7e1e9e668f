//! Values: how result cells print (Kusto's text forms) and how literal values become Arrow
//! arrays (`datatable`, `print` constants).
use bulwark_kql_functions::{format_iso, format_real, format_timespan_kql};
use bulwark_model::KustoType;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, DurationNanosecondArray, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, LargeStringArray, StringArray, StringViewArray,
    TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use serde_json::Value;

/// One cell as Kusto prints it; empty for null. `ty` tells a dynamic column from a string one.
pub fn cell_text(a: &ArrayRef, i: usize, ty: KustoType) -> String {
    if i >= a.len() || a.is_null(i) {
        return String::new();
    }
    macro_rules! int {
        ($t:ty) => {
            if let Some(x) = a.as_any().downcast_ref::<$t>() {
                return x.value(i).to_string();
            }
        };
    }
    int!(Int64Array);
    int!(Int32Array);
    int!(Int16Array);
    int!(Int8Array);
    int!(UInt64Array);
    int!(UInt32Array);
    if let Some(x) = a.as_any().downcast_ref::<Float64Array>() {
        return format_real(x.value(i));
    }
    if let Some(x) = a.as_any().downcast_ref::<Float32Array>() {
        return format_real(f64::from(x.value(i)));
    }
    if let Some(x) = a.as_any().downcast_ref::<BooleanArray>() {
        return x.value(i).to_string();
    }
    if let Some(x) = a.as_any().downcast_ref::<TimestampNanosecondArray>() {
        return format_iso(x.value(i));
    }
    if let Some(x) = a.as_any().downcast_ref::<DurationNanosecondArray>() {
        return format_timespan_kql(x.value(i));
    }
    let text = match string_at(a, i) {
        Some(s) => s,
        None => {
            // Other Arrow types (structs, lists, other time units): through a cast to text.
            return datafusion::arrow::compute::cast(&a.slice(i, 1), &DataType::Utf8)
                .ok()
                .and_then(|c| string_at(&c, 0).map(str::to_string))
                .unwrap_or_default();
        }
    };
    if ty == KustoType::Dynamic {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::String(s)) => s,
            Ok(Value::Null) => String::new(),
            Ok(v) => v.to_string(),
            Err(_) => text.to_string(),
        };
    }
    text.to_string()
}

fn string_at(a: &ArrayRef, i: usize) -> Option<&str> {
    if let Some(x) = a.as_any().downcast_ref::<StringArray>() {
        return Some(x.value(i));
    }
    if let Some(x) = a.as_any().downcast_ref::<StringViewArray>() {
        return Some(x.value(i));
    }
    if let Some(x) = a.as_any().downcast_ref::<LargeStringArray>() {
        return Some(x.value(i));
    }
    None
}

/// One cell as a JSON value (dynamic as JSON, numbers as numbers, times as text).
pub fn cell_json(a: &ArrayRef, i: usize, ty: KustoType) -> Value {
    if i >= a.len() || a.is_null(i) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            cell_text(a, i, ty).parse::<i64>().map_or(Value::Null, Value::from)
        }
        DataType::UInt32 | DataType::UInt64 => {
            cell_text(a, i, ty).parse::<u64>().map_or(Value::Null, Value::from)
        }
        DataType::Float64 | DataType::Float32 => {
            let v = a
                .as_any()
                .downcast_ref::<Float64Array>()
                .map(|x| x.value(i))
                .or_else(|| {
                    a.as_any().downcast_ref::<Float32Array>().map(|x| f64::from(x.value(i)))
                })
                .unwrap_or(f64::NAN);
            serde_json::Number::from_f64(v)
                .map_or_else(|| Value::String(format_real(v)), Value::Number)
        }
        DataType::Boolean => {
            a.as_any().downcast_ref::<BooleanArray>().map_or(Value::Null, |x| x.value(i).into())
        }
        _ if ty == KustoType::Dynamic => match string_at(a, i) {
            Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
            None => Value::String(cell_text(a, i, ty)),
        },
        _ => Value::String(cell_text(a, i, ty)),
    }
}

/// A CSV field with RFC 4180 quoting.
pub fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// The Kusto type of a result column: from its Arrow type, `dynamic` when the planner says so.
pub fn kusto_type(dt: &DataType, dynamic: bool) -> KustoType {
    if dynamic {
        return KustoType::Dynamic;
    }
    match dt {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => KustoType::DateTime,
        DataType::Duration(_) => KustoType::TimeSpan,
        DataType::Int8 | DataType::Int16 | DataType::Int32 => KustoType::Int,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KustoType::Long,
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => KustoType::Real,
        DataType::Boolean => KustoType::Bool,
        other => KustoType::from_arrow(other),
    }
}
