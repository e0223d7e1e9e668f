//! KQL network functions: IPv4/IPv6 parsing, comparison and range matching,
//! `parse_url`, `parse_path` and the offline `geo_info_from_ip_address`.
//! Invalid addresses yield null, never an error.

use std::net::{Ipv4Addr, Ipv6Addr};

use datafusion::arrow::array::{Array, Int64Array, StringArray};
use datafusion::common::Result as DFResult;
use serde_json::{Map, Value, json};

use crate::registry::Returns;
use crate::udf::{Def, bool_array, i64_array, i64s, r_bool, r_i64, r_str, str_array, strs};
use bulwark_model::KustoType;

/// Parses `a.b.c.d[/prefix]` into (address, prefix length).
pub fn parse_ipv4_cidr(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, p.trim().parse::<u32>().ok().filter(|p| *p <= 32)?),
        None => (s, 32),
    };
    let addr: Ipv4Addr = ip.trim().parse().ok()?;
    Some((u32::from(addr), prefix))
}

fn mask4(prefix: u32) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

/// Parses an IPv6 (or IPv4, mapped) address with optional `/prefix`.
pub fn parse_ipv6_cidr(s: &str) -> Option<(u128, u32)> {
    let s = s.trim();
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p.trim().parse::<u32>().ok()?)),
        None => (s, None),
    };
    if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        // IPv4 prefixes count within the mapped address's last 32 bits.
        let p = prefix.unwrap_or(32);
        if p > 32 {
            return None;
        }
        return Some((u128::from(v4.to_ipv6_mapped()), 96 + p));
    }
    let v6: Ipv6Addr = ip.parse().ok()?;
    let p = prefix.unwrap_or(128);
    (p <= 128).then_some((u128::from(v6), p))
}

fn mask6(prefix: u32) -> u128 {
    if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) }
}

fn opt_prefix(p: &Option<Int64Array>, i: usize) -> Option<Option<u32>> {
    match p {
        None => Some(None),
        Some(p) if p.is_null(i) => None,
        Some(p) => Some(Some(u32::try_from(p.value(i)).ok()?)),
    }
}

fn ipv4_compare(a: &str, b: &str, prefix: Option<u32>) -> Option<i64> {
    let (x, px) = parse_ipv4_cidr(a)?;
    let (y, py) = parse_ipv4_cidr(b)?;
    let p = px.min(py).min(prefix.unwrap_or(32));
    if p > 32 {
        return None;
    }
    let m = mask4(p);
    Some(match (x & m).cmp(&(y & m)) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    })
}

fn ipv6_compare(a: &str, b: &str, prefix: Option<u32>) -> Option<i64> {
    let (x, px) = parse_ipv6_cidr(a)?;
    let (y, py) = parse_ipv6_cidr(b)?;
    let p = px.min(py).min(prefix.unwrap_or(128));
    if p > 128 {
        return None;
    }
    let m = mask6(p);
    Some(match (x & m).cmp(&(y & m)) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    })
}

fn is_private(s: &str) -> Option<bool> {
    let (ip, _) = parse_ipv4_cidr(s)?;
    let o = Ipv4Addr::from(ip).octets();
    Some(o[0] == 10 || (o[0] == 172 && (16..32).contains(&o[1])) || (o[0] == 192 && o[1] == 168))
}

fn in_range(ip: &str, range: &str) -> Option<bool> {
    let (x, _) = parse_ipv4_cidr(ip)?;
    let (r, pr) = parse_ipv4_cidr(range)?;
    let m = mask4(pr);
    Some(x & m == r & m)
}

/// KQL `parse_url` as a JSON bag (keys as Kusto names them; empty when absent).
pub fn parse_url(s: &str) -> Value {
    let mut m = Map::new();
    let (mut scheme, mut host, mut port, mut path) =
        (String::new(), String::new(), String::new(), String::new());
    let (mut user, mut pass, mut frag) = (String::new(), String::new(), String::new());
    let mut query = Map::new();
    if let Ok(u) = url::Url::parse(s.trim()) {
        scheme = u.scheme().to_string();
        host = u.host_str().unwrap_or_default().to_string();
        port = u.port().map(|p| p.to_string()).unwrap_or_default();
        path = u.path().to_string();
        user = u.username().to_string();
        pass = u.password().unwrap_or_default().to_string();
        frag = u.fragment().unwrap_or_default().to_string();
        for (k, v) in u.query_pairs() {
            query.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    m.insert("Scheme".into(), Value::String(scheme));
    m.insert("Host".into(), Value::String(host));
    m.insert("Port".into(), Value::String(port));
    m.insert("Path".into(), Value::String(path));
    m.insert("Username".into(), Value::String(user));
    m.insert("Password".into(), Value::String(pass));
    m.insert("Query Parameters".into(), Value::Object(query));
    m.insert("Fragment".into(), Value::String(frag));
    Value::Object(m)
}

/// KQL `parse_path` as a JSON bag (Windows, UNC, URL and POSIX paths).
pub fn parse_path(s: &str) -> Value {
    let (scheme, rest) = match s.split_once("://") {
        Some((sc, r)) if !sc.is_empty() && sc.bytes().all(|b| b.is_ascii_alphanumeric()) => (sc, r),
        _ => ("", s),
    };
    let is_sep = |c: char| c == '\\' || c == '/';
    let root = if !scheme.is_empty() {
        rest.split(is_sep).next().unwrap_or_default().to_string()
    } else if rest.len() >= 2
        && rest.as_bytes()[1] == b':'
        && rest.as_bytes()[0].is_ascii_alphabetic()
    {
        rest[..2].to_string()
    } else if let Some(unc) = rest.strip_prefix("\\\\") {
        unc.split(is_sep).next().unwrap_or_default().to_string()
    } else {
        String::new()
    };
    let (dir, file) = match s.rfind(is_sep) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => ("", s),
    };
    let (file, ads) = match file.split_once(':') {
        Some((f, a)) if !f.is_empty() => (f, a),
        _ => (file, ""),
    };
    let dir_name = dir.rsplit(is_sep).next().unwrap_or_default();
    let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    json!({
        "Scheme": scheme,
        "RootPath": root,
        "DirectoryPath": dir,
        "DirectoryName": dir_name,
        "Filename": file,
        "Extension": ext,
        "AlternateDataStreamName": ads,
    })
}

fn pair_bool(
    kql: &'static str,
    f: fn(&str, &str, Option<u32>) -> Option<i64>,
    as_bool: bool,
) -> Def {
    let (ret, r) = if as_bool {
        (Returns::Type(KustoType::Bool), r_bool as crate::udf::ReturnFn)
    } else {
        (Returns::Type(KustoType::Long), r_i64 as crate::udf::ReturnFn)
    };
    Def::new(kql, 2, 3, ret, r, move |a, _| {
        let (x, y) = (strs(&a[0])?, strs(&a[1])?);
        let p = a.get(2).map(i64s).transpose()?;
        let v: Vec<Option<i64>> = (0..x.len())
            .map(|i| {
                let pre = opt_prefix(&p, i)?;
                f(x.is_valid(i).then(|| x.value(i))?, y.is_valid(i).then(|| y.value(i))?, pre)
            })
            .collect();
        Ok(if as_bool {
            bool_array(v.into_iter().map(|c| c.map(|c| c == 0)).collect())
        } else {
            i64_array(v)
        })
    })
}

fn map1<T>(s: &StringArray, f: impl Fn(&str) -> Option<T>) -> Vec<Option<T>> {
    s.iter().map(|v| v.and_then(&f)).collect()
}

/// All network definitions.
pub(crate) fn defs() -> Vec<Def> {
    let t = Returns::Type;
    vec![
        Def::new("ipv4_is_private", 1, 1, t(KustoType::Bool), r_bool, |a, _| {
            Ok(bool_array(map1(&strs(&a[0])?, is_private)))
        }),
        Def::new("ipv4_is_in_range", 2, 2, t(KustoType::Bool), r_bool, |a, _| {
            let (x, r) = (strs(&a[0])?, strs(&a[1])?);
            Ok(bool_array(
                (0..x.len())
                    .map(|i| {
                        in_range(
                            x.is_valid(i).then(|| x.value(i))?,
                            r.is_valid(i).then(|| r.value(i))?,
                        )
                    })
                    .collect(),
            ))
        }),
        Def::new("ipv4_is_in_any_range", 2, 64, t(KustoType::Bool), r_bool, |a, _| {
            let x = strs(&a[0])?;
            let lists = a[1..].iter().map(strs).collect::<DFResult<Vec<_>>>()?;
            Ok(bool_array(
                (0..x.len())
                    .map(|i| {
                        let ip = x.is_valid(i).then(|| x.value(i))?;
                        parse_ipv4_cidr(ip)?;
                        let ranges = crate::string::expand_list(&lists, i);
                        Some(ranges.iter().any(|r| in_range(ip, r) == Some(true)))
                    })
                    .collect(),
            ))
        }),
        pair_bool("ipv4_compare", ipv4_compare, false),
        pair_bool("ipv4_is_match", ipv4_compare, true),
        pair_bool("ipv6_compare", ipv6_compare, false),
        pair_bool("ipv6_is_match", ipv6_compare, true),
        Def::new("parse_ipv4", 1, 1, t(KustoType::Long), r_i64, |a, _| {
            Ok(i64_array(map1(&strs(&a[0])?, |s| {
                let (ip, p) = parse_ipv4_cidr(s)?;
                Some(i64::from(ip & mask4(p)))
            })))
        }),
        Def::new("parse_ipv4_mask", 2, 2, t(KustoType::Long), r_i64, |a, _| {
            let (x, p) = (strs(&a[0])?, i64s(&a[1])?);
            Ok(i64_array(
                (0..x.len())
                    .map(|i| {
                        let (ip, _) = parse_ipv4_cidr(x.is_valid(i).then(|| x.value(i))?)?;
                        let pre = u32::try_from(p.is_valid(i).then(|| p.value(i))?)
                            .ok()
                            .filter(|p| *p <= 32)?;
                        Some(i64::from(ip & mask4(pre)))
                    })
                    .collect(),
            ))
        }),
        Def::new("parse_url", 1, 1, t(KustoType::Dynamic), r_str, |a, _| {
            Ok(str_array(map1(&strs(&a[0])?, |s| Some(parse_url(s).to_string()))))
        }),
        Def::new("parse_path", 1, 1, t(KustoType::Dynamic), r_str, |a, _| {
            Ok(str_array(map1(&strs(&a[0])?, |s| Some(parse_path(s).to_string()))))
        }),
        // No geolocation database ships offline: always an empty bag.
        Def::new("geo_info_from_ip_address", 1, 1, t(KustoType::Dynamic), r_str, |a, _| {
            Ok(str_array(map1(&strs(&a[0])?, |_| Some("{}".to_string()))))
        }),
    ]
}
