//! KQL conversion functions (`tostring`, `toint`, `tolong`, `todouble`,
//! `tobool`, `toguid`) that return null instead of failing, and the
//! conditional helpers `iff` and `coalesce` (which skips empty strings).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int32Array};
use datafusion::arrow::compute::{cast, kernels::zip::zip};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DFResult, ScalarValue};

use crate::registry::Returns;
use crate::udf::{
    Def, bool_array, bools, datetimes, f64_array, f64s, i64_array, i64s, is_string, r_bool, r_f64,
    r_i32, r_i64, r_str, str_array, strs, timespans,
};
use bulwark_model::KustoType;

/// Ticks (100 ns) from 0001-01-01 to the Unix epoch.
const EPOCH_TICKS: i64 = 621_355_968_000_000_000;

fn unquote(s: &str) -> &str {
    let t = s.trim();
    // A dynamic JSON string ("\"5\"") converts like its content.
    t.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(t)
}

/// KQL `tolong(string)`: an integer, or a real truncated toward zero.
pub fn parse_long(s: &str) -> Option<i64> {
    let t = unquote(s);
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let f = parse_real(t)?;
    (f.is_finite() && f.abs() < 9.2e18).then_some(f.trunc() as i64)
}

/// KQL `todouble(string)`.
pub fn parse_real(s: &str) -> Option<f64> {
    let t = unquote(s);
    match t.to_ascii_lowercase().as_str() {
        "nan" => return Some(f64::NAN),
        "inf" | "+inf" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) {
        return None;
    }
    t.parse::<f64>().ok()
}

/// KQL `tobool(string)`: `true`/`false` (any case) or an integer (non-zero is true).
pub fn parse_bool(s: &str) -> Option<bool> {
    let t = unquote(s);
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        t.parse::<i64>().ok().map(|v| v != 0)
    }
}

/// KQL `toguid`: the canonical lowercase form, or None.
pub fn parse_guid(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t.strip_prefix('{').and_then(|r| r.strip_suffix('}')).unwrap_or(t);
    let hex: String = if t.len() == 36 {
        let b = t.as_bytes();
        if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        t.chars().filter(|&c| c != '-').collect()
    } else if t.len() == 32 {
        t.to_string()
    } else {
        return None;
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

/// Kusto's `tostring` of a real: shortest round-trip text, `1` for 1.0.
pub fn format_real(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        format!("{v}")
    }
}

fn to_string_array(a: &ArrayRef) -> DFResult<ArrayRef> {
    let out: Vec<Option<String>> = match a.data_type() {
        DataType::Float64 | DataType::Float32 => {
            f64s(a)?.iter().map(|v| Some(v.map(format_real).unwrap_or_default())).collect()
        }
        DataType::Boolean => {
            bools(a)?.iter().map(|v| Some(v.map(|b| b.to_string()).unwrap_or_default())).collect()
        }
        _ => strs(a)?.iter().map(|v| Some(v.unwrap_or_default().to_string())).collect(),
    };
    Ok(str_array(out))
}

fn to_long_vec(a: &ArrayRef) -> DFResult<Vec<Option<i64>>> {
    Ok(match a.data_type() {
        DataType::Float64 | DataType::Float32 => f64s(a)?
            .iter()
            .map(|v| v.filter(|x| x.is_finite() && x.abs() < 9.2e18).map(|x| x.trunc() as i64))
            .collect(),
        DataType::Boolean => bools(a)?.iter().map(|v| v.map(i64::from)).collect(),
        // datetime -> ticks since 0001-01-01; timespan -> ticks, as Kusto.
        DataType::Timestamp(_, _) => {
            datetimes(a)?.into_iter().map(|v| v.map(|x| x / 100 + EPOCH_TICKS)).collect()
        }
        DataType::Duration(_) => timespans(a)?.into_iter().map(|v| v.map(|x| x / 100)).collect(),
        _ => i64s(a)?.iter().collect(),
    })
}

/// The common result type of value arguments (for `iff`/`coalesce`).
fn common_type(types: &[DataType]) -> DataType {
    let mut cur = DataType::Null;
    for t in types {
        let t = if is_string(t) { DataType::Utf8 } else { t.clone() };
        cur = match (&cur, &t) {
            (DataType::Null, _) => t,
            (_, DataType::Null) => cur,
            (a, b) if a == b => cur,
            (a, b) if a.is_numeric() && b.is_numeric() => {
                if a.is_floating() || b.is_floating() {
                    DataType::Float64
                } else {
                    DataType::Int64
                }
            }
            _ => DataType::Utf8,
        };
    }
    cur
}

fn r_iff(t: &[DataType]) -> DFResult<DataType> {
    Ok(common_type(t.get(1..).unwrap_or_default()))
}

fn r_coalesce(t: &[DataType]) -> DFResult<DataType> {
    Ok(common_type(t))
}

fn cast_to(a: &ArrayRef, t: &DataType) -> DFResult<ArrayRef> {
    if a.data_type() == t {
        return Ok(Arc::clone(a));
    }
    if *t == DataType::Utf8 {
        return to_string_array(a);
    }
    Ok(cast(a, t)?)
}

/// All conversion definitions.
pub(crate) fn defs() -> Vec<Def> {
    let t = Returns::Type;
    vec![
        Def::new("tostring", 1, 1, t(KustoType::String), r_str, |a, _| to_string_array(&a[0])),
        Def::new("tolong", 1, 1, t(KustoType::Long), r_i64, |a, _| {
            Ok(i64_array(to_long_vec(&a[0])?))
        }),
        Def::new("toint", 1, 1, t(KustoType::Int), r_i32, |a, _| {
            let v = to_long_vec(&a[0])?;
            Ok(Arc::new(Int32Array::from(
                v.into_iter().map(|x| x.and_then(|x| i32::try_from(x).ok())).collect::<Vec<_>>(),
            )) as ArrayRef)
        }),
        Def::new("todouble", 1, 1, t(KustoType::Real), r_f64, |a, _| {
            Ok(match a[0].data_type() {
                DataType::Boolean => f64_array(
                    bools(&a[0])?.iter().map(|v| v.map(|b| f64::from(u8::from(b)))).collect(),
                ),
                DataType::Timestamp(_, _) | DataType::Duration(_) => f64_array(
                    to_long_vec(&a[0])?.into_iter().map(|v| v.map(|x| x as f64)).collect(),
                ),
                _ => f64_array(f64s(&a[0])?.iter().collect()),
            })
        }),
        Def::new("tobool", 1, 1, t(KustoType::Bool), r_bool, |a, _| {
            Ok(match a[0].data_type() {
                DataType::Float64 | DataType::Float32 => {
                    bool_array(f64s(&a[0])?.iter().map(|v| v.map(|x| x != 0.0)).collect())
                }
                d if d.is_integer() => {
                    bool_array(i64s(&a[0])?.iter().map(|v| v.map(|x| x != 0)).collect())
                }
                _ => Arc::new(bools(&a[0])?) as ArrayRef,
            })
        }),
        Def::new("toguid", 1, 1, t(KustoType::Guid), r_str, |a, _| {
            Ok(str_array(strs(&a[0])?.iter().map(|v| v.and_then(parse_guid)).collect()))
        }),
        Def::new("iff", 3, 3, Returns::CommonOfArgs(1), r_iff, |a, _| {
            let rt = common_type(&[a[1].data_type().clone(), a[2].data_type().clone()]);
            let cond = bools(&a[0])?;
            // A null condition selects the else branch, as in KQL.
            let mask: BooleanArray = cond.iter().map(|v| Some(v.unwrap_or(false))).collect();
            let (x, y) = (cast_to(&a[1], &rt)?, cast_to(&a[2], &rt)?);
            Ok(zip(&mask, &x, &y)?)
        }),
        Def::new("coalesce", 2, 64, Returns::CommonOfArgs(0), r_coalesce, |a, n| {
            let types: Vec<DataType> = a.iter().map(|x| x.data_type().clone()).collect();
            let rt = common_type(&types);
            let cols = a.iter().map(|x| cast_to(x, &rt)).collect::<DFResult<Vec<_>>>()?;
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let mut pick = ScalarValue::try_from(&rt)?;
                for c in &cols {
                    let v = ScalarValue::try_from_array(c, i)?;
                    let empty = matches!(&v, ScalarValue::Utf8(Some(s)) if s.is_empty());
                    if !v.is_null() && !empty {
                        pick = v;
                        break;
                    }
                }
                out.push(pick);
            }
            if out.is_empty() {
                return Ok(datafusion::arrow::array::new_empty_array(&rt));
            }
            ScalarValue::iter_to_array(out)
        }),
    ]
}
