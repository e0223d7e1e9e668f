//! KQL datetime and timespan functions: `now`, `ago`, `bin`/`bin_at`,
//! `startof*`/`endof*`, `format_datetime`, `format_timespan`,
//! `datetime_diff`/`datetime_part`/`datetime_add`, the `get*` accessors,
//! `todatetime`/`totimespan` parsing and `unixtime_*_todatetime`.
//!
//! Datetimes are UTC nanoseconds since the Unix epoch (Arrow
//! `Timestamp(Nanosecond, "UTC")`), timespans are nanoseconds (Arrow
//! `Duration(Nanosecond)`). Kusto's resolution is one tick (100 ns); parsed
//! and printed values keep 7 fractional digits.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DFResult, exec_err};

use crate::registry::Returns;
use crate::udf::{
    Def, const_str, datetimes, dur_array, f64s, i64_array, i64s, r_dur, r_first, r_i64, r_str,
    r_ts, str_array, strs, timespans, ts_array,
};
use bulwark_model::KustoType;

const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;
/// 0001-01-01T00:00:00Z in Unix nanoseconds (as i128: it overflows i64).
const KUSTO_EPOCH_NS: i128 = -62_135_596_800 * 1_000_000_000;

/// Converts Unix nanoseconds to a chrono datetime.
pub(crate) fn to_dt(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

fn from_naive(n: NaiveDateTime) -> Option<i64> {
    n.and_utc().timestamp_nanos_opt()
}

/// Kusto's datetime text: `2024-01-01T00:00:00Z`, with 7 fractional digits
/// when the value has a sub-second part (`2024-01-01T10:20:30.1234567Z`).
pub fn format_iso(ns: i64) -> String {
    let dt = to_dt(ns);
    let frac = ns.rem_euclid(NS_PER_SEC) / 100;
    let base = dt.format("%Y-%m-%dT%H:%M:%S");
    if frac == 0 { format!("{base}Z") } else { format!("{base}.{frac:07}Z") }
}

/// Kusto's timespan text: `[-][d.]hh:mm:ss[.fffffff]`.
pub fn format_timespan_kql(ns: i64) -> String {
    let neg = ns < 0;
    let a = ns.unsigned_abs();
    let ticks = (a % 1_000_000_000) / 100;
    let secs = a / 1_000_000_000;
    let (d, h, m, s) = (secs / 86_400, (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if d > 0 {
        out.push_str(&format!("{d}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

/// KQL `todatetime(string)`: ISO-8601 (with or without `T`, offset, fraction,
/// date only), RFC 1123/822/850 and `MM/dd/yyyy [HH:mm[:ss]]`. None on failure.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return d.with_timezone(&Utc).timestamp_nanos_opt();
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return d.with_timezone(&Utc).timestamp_nanos_opt();
    }
    let body = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix(" GMT"))
        .or_else(|| s.strip_suffix(" UTC"))
        .unwrap_or(s);
    const NAIVE: [&str; 10] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S%.f",
        "%m/%d/%Y %H:%M:%S%.f",
        "%m/%d/%Y %H:%M",
        "%A, %d-%b-%y %H:%M:%S",
        "%a, %d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M:%S",
    ];
    for f in NAIVE {
        if let Ok(n) = NaiveDateTime::parse_from_str(body, f) {
            return from_naive(n);
        }
    }
    // Offsets without a `T` (`2024-01-01 10:00:00+02:00`).
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return d.with_timezone(&Utc).timestamp_nanos_opt();
        }
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(body, f) {
            return from_naive(d.and_time(NaiveTime::MIN));
        }
    }
    None
}

/// KQL timespan text: `1d`, `2h`, `30m`, `10s`, `100ms`, `5microsecond`,
/// `7tick`, `1.5h`, `[-][d.]hh:mm[:ss[.fffffff]]`. None on failure.
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = if body.contains(':') { parse_clock(body)? } else { parse_unit(body)? };
    Some(if neg { -v } else { v })
}

fn parse_unit(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let x: f64 = num.parse().ok()?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => 86_400e9,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600e9,
        "m" | "min" | "minute" | "minutes" => 60e9,
        "s" | "sec" | "second" | "seconds" => 1e9,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1e6,
        "microsecond" | "microseconds" => 1e3,
        "tick" | "ticks" => 100.0,
        "nanosecond" | "nanoseconds" => 1.0,
        _ => return None,
    };
    let v = (x * mult).round();
    if !v.is_finite() || v.abs() > 9.2e18 {
        return None;
    }
    Some(v as i64)
}

fn parse_clock(s: &str) -> Option<i64> {
    // [d.]hh:mm[:ss[.fffffff]]
    let (days, rest) = match s.split_once(':') {
        Some((head, _)) if head.contains('.') => {
            let (d, _) = head.split_once('.')?;
            (d.parse::<i64>().ok()?, &s[d.len() + 1..])
        }
        _ => (0, s),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let (sec, frac) = match parts.get(2) {
        Some(p) => match p.split_once('.') {
            Some((a, b)) => {
                if b.is_empty() || b.len() > 9 || !b.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let f: i64 = format!("{b:0<9}").parse().ok()?;
                (a.parse::<i64>().ok()?, f)
            }
            None => (p.parse::<i64>().ok()?, 0),
        },
        None => (0, 0),
    };
    if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..60).contains(&sec) || days < 0 {
        return None;
    }
    days.checked_mul(NS_PER_DAY)?
        .checked_add(h * 3_600 * NS_PER_SEC + m * 60 * NS_PER_SEC + sec * NS_PER_SEC + frac)
}

/// `floor((v - origin) / size) * size + origin` in i128.
fn floor_to(v: i64, size: i64, origin: i128) -> Option<i64> {
    if size <= 0 {
        return None;
    }
    let rel = i128::from(v) - origin;
    let s = i128::from(size);
    i64::try_from(rel.div_euclid(s) * s + origin).ok()
}

fn bin_eval(a: &[ArrayRef], at: bool) -> DFResult<ArrayRef> {
    let fixed =
        |i: usize| -> DFResult<Option<ArrayRef>> { Ok(if at { a.get(i).cloned() } else { None }) };
    match a[0].data_type() {
        DataType::Timestamp(_, _) => {
            let v = datetimes(&a[0])?;
            let size = timespans(&a[1])?;
            let fp = match fixed(2)? {
                Some(f) => datetimes(&f)?,
                None => vec![None; v.len()],
            };
            Ok(ts_array(
                (0..v.len())
                    .map(|i| {
                        let origin = if at { i128::from(fp[i]?) } else { KUSTO_EPOCH_NS };
                        floor_to(v[i]?, size[i]?, origin)
                    })
                    .collect(),
            ))
        }
        DataType::Duration(_) => {
            let v = timespans(&a[0])?;
            let size = timespans(&a[1])?;
            let fp = match fixed(2)? {
                Some(f) => timespans(&f)?,
                None => vec![Some(0); v.len()],
            };
            Ok(dur_array(
                (0..v.len()).map(|i| floor_to(v[i]?, size[i]?, i128::from(fp[i]?))).collect(),
            ))
        }
        t if t.is_integer() => {
            let v = i64s(&a[0])?;
            let size = i64s(&a[1])?;
            let fp = match fixed(2)? {
                Some(f) => i64s(&f)?.iter().collect(),
                None => vec![Some(0); v.len()],
            };
            Ok(i64_array(
                (0..v.len())
                    .map(|i| {
                        let (x, s) = (
                            v.is_valid(i).then(|| v.value(i))?,
                            size.is_valid(i).then(|| size.value(i))?,
                        );
                        floor_to(x, s, i128::from(fp[i]?))
                    })
                    .collect(),
            ))
        }
        _ => {
            let v = f64s(&a[0])?;
            let size = f64s(&a[1])?;
            let fp = match fixed(2)? {
                Some(f) => f64s(&f)?.iter().collect(),
                None => vec![Some(0.0); v.len()],
            };
            Ok(crate::udf::f64_array(
                (0..v.len())
                    .map(|i| {
                        let (x, s, o) = (
                            v.is_valid(i).then(|| v.value(i))?,
                            size.is_valid(i).then(|| size.value(i))?,
                            fp[i]?,
                        );
                        (s > 0.0).then(|| ((x - o) / s).floor() * s + o)
                    })
                    .collect(),
            ))
        }
    }
}

fn start_of(ns: i64, unit: &str, offset: i64) -> Option<i64> {
    let d = to_dt(ns).date_naive();
    let start = match unit {
        "day" => d.checked_add_signed(Duration::try_days(offset)?)?,
        "week" => {
            let back = i64::from(d.weekday().num_days_from_sunday());
            d.checked_sub_signed(Duration::try_days(back)?)?
                .checked_add_signed(Duration::try_days(offset.checked_mul(7)?)?)?
        }
        "month" => add_months(d.with_day(1)?, offset)?,
        "year" => {
            NaiveDate::from_ymd_opt(d.year().checked_add(i32::try_from(offset).ok()?)?, 1, 1)?
        }
        _ => return None,
    };
    from_naive(start.and_time(NaiveTime::MIN))
}

fn end_of(ns: i64, unit: &str, offset: i64) -> Option<i64> {
    // The next period's start minus one tick, as Kusto returns `...59.9999999`.
    let next = start_of(ns, unit, offset.checked_add(1)?)?;
    next.checked_sub(100)
}

fn add_months(d: NaiveDate, months: i64) -> Option<NaiveDate> {
    let total = (i64::from(d.year()) * 12 + i64::from(d.month0())).checked_add(months)?;
    let y = i32::try_from(total.div_euclid(12)).ok()?;
    let m = u32::try_from(total.rem_euclid(12)).ok()? + 1;
    let mut day = d.day();
    loop {
        if let Some(r) = NaiveDate::from_ymd_opt(y, m, day) {
            return Some(r);
        }
        if day <= 28 {
            return None;
        }
        day -= 1;
    }
}

/// Normalized datetime part name.
fn part_name(p: &str) -> Option<&'static str> {
    Some(match p.to_ascii_lowercase().as_str() {
        "year" => "year",
        "quarter" => "quarter",
        "month" => "month",
        "week" | "week_of_year" | "weekofyear" => "week",
        "day" => "day",
        "dayofyear" => "dayofyear",
        "hour" => "hour",
        "minute" => "minute",
        "second" => "second",
        "millisecond" => "millisecond",
        "microsecond" => "microsecond",
        "nanosecond" => "nanosecond",
        _ => return None,
    })
}

fn unit_ns(part: &str) -> Option<i64> {
    Some(match part {
        "week" => 7 * NS_PER_DAY,
        "day" => NS_PER_DAY,
        "hour" => 3_600 * NS_PER_SEC,
        "minute" => 60 * NS_PER_SEC,
        "second" => NS_PER_SEC,
        "millisecond" => 1_000_000,
        "microsecond" => 1_000,
        "nanosecond" => 1,
        _ => return None,
    })
}

/// Kusto `datetime_diff`: the number of `part` boundaries between b and a.
fn datetime_diff(part: &str, a: i64, b: i64) -> Option<i64> {
    let (da, db) = (to_dt(a), to_dt(b));
    let months = |d: &DateTime<Utc>| i64::from(d.year()) * 12 + i64::from(d.month0());
    Some(match part {
        "year" => i64::from(da.year()) - i64::from(db.year()),
        "quarter" => {
            let q = |d: &DateTime<Utc>| i64::from(d.year()) * 4 + i64::from(d.month0() / 3);
            q(&da) - q(&db)
        }
        "month" => months(&da) - months(&db),
        "week" => {
            // Week starts are Sundays, so their difference is a whole number of weeks.
            let (sa, sb) = (start_of(a, "week", 0)?, start_of(b, "week", 0)?);
            (sa - sb).div_euclid(7 * NS_PER_DAY)
        }
        p => {
            let u = unit_ns(p)?;
            a.div_euclid(u) - b.div_euclid(u)
        }
    })
}

fn datetime_part(part: &str, ns: i64) -> Option<i64> {
    let d = to_dt(ns);
    Some(match part {
        "year" => i64::from(d.year()),
        "quarter" => i64::from(d.month0() / 3 + 1),
        "month" => i64::from(d.month()),
        "week" => i64::from(d.iso_week().week()),
        "day" => i64::from(d.day()),
        "dayofyear" => i64::from(d.ordinal()),
        "hour" => i64::from(d.hour()),
        "minute" => i64::from(d.minute()),
        "second" => i64::from(d.second()),
        "millisecond" => ns.rem_euclid(NS_PER_SEC) / 1_000_000,
        "microsecond" => ns.rem_euclid(NS_PER_SEC) / 1_000,
        "nanosecond" => ns.rem_euclid(NS_PER_SEC),
        _ => return None,
    })
}

fn datetime_add(part: &str, amount: i64, ns: i64) -> Option<i64> {
    let dt = to_dt(ns);
    let calendar = |months: i64| -> Option<i64> {
        let d = add_months(dt.date_naive(), months)?;
        from_naive(d.and_time(dt.time()))
    };
    match part {
        "year" => calendar(amount.checked_mul(12)?),
        "quarter" => calendar(amount.checked_mul(3)?),
        "month" => calendar(amount),
        p => ns.checked_add(amount.checked_mul(unit_ns(p)?)?),
    }
}

/// Splits a Kusto format string into runs of the same specifier letter and
/// literal separators.
fn tokens(fmt: &str) -> Vec<(char, usize)> {
    let mut out: Vec<(char, usize)> = Vec::new();
    for c in fmt.chars() {
        match out.last_mut() {
            Some((p, n)) if *p == c && c.is_ascii_alphabetic() => *n += 1,
            _ => out.push((c, 1)),
        }
    }
    out
}

fn push_fraction(out: &mut String, frac_ns: i64, n: usize, trim: bool) {
    let digits = format!("{frac_ns:09}");
    let mut d = &digits[..n.min(9)];
    if trim {
        d = d.trim_end_matches('0');
        if d.is_empty() && out.ends_with('.') {
            out.pop();
        }
    }
    out.push_str(d);
}

/// KQL `format_datetime` with the documented specifiers (`d dd f..fffffff
/// F..FFFFFFF h hh H HH m mm M MM s ss y yy yyyy tt`); anything else is copied.
pub fn format_datetime(ns: i64, fmt: &str) -> String {
    let d = to_dt(ns);
    let frac = ns.rem_euclid(NS_PER_SEC);
    let mut out = String::new();
    for (c, n) in tokens(fmt) {
        match c {
            'd' if n <= 2 => out.push_str(&pad(i64::from(d.day()), n)),
            'f' if n <= 7 => push_fraction(&mut out, frac, n, false),
            'F' if n <= 7 => push_fraction(&mut out, frac, n, true),
            'h' if n <= 2 => {
                let h = d.hour() % 12;
                out.push_str(&pad(i64::from(if h == 0 { 12 } else { h }), n));
            }
            'H' if n <= 2 => out.push_str(&pad(i64::from(d.hour()), n)),
            'm' if n <= 2 => out.push_str(&pad(i64::from(d.minute()), n)),
            'M' if n <= 2 => out.push_str(&pad(i64::from(d.month()), n)),
            's' if n <= 2 => out.push_str(&pad(i64::from(d.second()), n)),
            'y' => match n {
                1 => out.push_str(&(d.year() % 100).to_string()),
                2 => out.push_str(&format!("{:02}", d.year() % 100)),
                _ => out.push_str(&format!("{:0width$}", d.year(), width = n)),
            },
            't' if n == 2 => out.push_str(if d.hour() < 12 { "AM" } else { "PM" }),
            c => {
                for _ in 0..n {
                    out.push(c);
                }
            }
        }
    }
    out
}

fn pad(v: i64, n: usize) -> String {
    if n >= 2 { format!("{v:02}") } else { v.to_string() }
}

/// KQL `format_timespan` (`d..dddddddd f.. F.. h hh H HH m mm s ss`).
pub fn format_timespan(ns: i64, fmt: &str) -> String {
    let a = ns.unsigned_abs();
    let frac = (a % 1_000_000_000) as i64;
    let secs = a / 1_000_000_000;
    let (days, h, m, s) = (secs / 86_400, (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if ns < 0 {
        out.push('-');
    }
    for (c, n) in tokens(fmt) {
        match c {
            'd' => out.push_str(&format!("{days:0n$}")),
            'f' if n <= 7 => push_fraction(&mut out, frac, n, false),
            'F' if n <= 7 => push_fraction(&mut out, frac, n, true),
            'h' | 'H' if n <= 2 => out.push_str(&pad(h as i64, n)),
            'm' if n <= 2 => out.push_str(&pad(m as i64, n)),
            's' if n <= 2 => out.push_str(&pad(s as i64, n)),
            c => {
                for _ in 0..n {
                    out.push(c);
                }
            }
        }
    }
    out
}

fn dt_unary(kql: &'static str, returns: KustoType, f: fn(i64) -> Option<i64>, as_ts: bool) -> Def {
    let r = if as_ts { r_ts } else { r_i64 };
    Def::new(kql, 1, 1, Returns::Type(returns), r, move |a, _| {
        let v = datetimes(&a[0])?;
        let out: Vec<Option<i64>> = v.into_iter().map(|x| x.and_then(f)).collect();
        Ok(if as_ts { ts_array(out) } else { i64_array(out) })
    })
}

fn period(kql: &'static str, unit: &'static str, end: bool) -> Def {
    Def::new(kql, 1, 2, Returns::Type(KustoType::DateTime), r_ts, move |a, n| {
        let v = datetimes(&a[0])?;
        let off: Vec<Option<i64>> = match a.get(1) {
            Some(o) => i64s(o)?.iter().collect(),
            None => vec![Some(0); n],
        };
        Ok(ts_array(
            (0..v.len())
                .map(|i| {
                    let (x, o) = (v[i]?, off[i]?);
                    if end { end_of(x, unit, o) } else { start_of(x, unit, o) }
                })
                .collect(),
        ))
    })
}

fn part_arg(a: &ArrayRef, func: &str) -> DFResult<&'static str> {
    let p = const_str(a)?.unwrap_or_default();
    match part_name(&p) {
        Some(p) => Ok(p),
        None => exec_err!("{func}: unknown datetime part '{p}'"),
    }
}

/// All datetime/timespan definitions; `now` is the query start (Unix ns).
pub(crate) fn defs(now: i64) -> Vec<Def> {
    let t = Returns::Type;
    let mut v = vec![
        Def::new("now", 0, 1, t(KustoType::DateTime), r_ts, move |a, n| {
            let off: Vec<Option<i64>> = match a.first() {
                Some(o) => timespans(o)?,
                None => vec![Some(0); n],
            };
            Ok(ts_array(off.into_iter().map(|o| now.checked_add(o?)).collect()))
        })
        .stable(),
        Def::new("ago", 1, 1, t(KustoType::DateTime), r_ts, move |a, _| {
            let off = timespans(&a[0])?;
            Ok(ts_array(off.into_iter().map(|o| now.checked_sub(o?)).collect()))
        })
        .stable(),
        Def::new("bin", 2, 2, Returns::SameAsArg(0), r_first, |a, _| bin_eval(a, false)),
        Def::new("bin_at", 3, 3, Returns::SameAsArg(0), r_first, |a, _| bin_eval(a, true)),
        period("startofday", "day", false),
        period("startofweek", "week", false),
        period("startofmonth", "month", false),
        period("startofyear", "year", false),
        period("endofday", "day", true),
        period("endofweek", "week", true),
        period("endofmonth", "month", true),
        period("endofyear", "year", true),
        dt_unary("getyear", KustoType::Int, |x| datetime_part("year", x), false),
        dt_unary("getmonth", KustoType::Int, |x| datetime_part("month", x), false),
        dt_unary("monthofyear", KustoType::Int, |x| datetime_part("month", x), false),
        dt_unary("dayofmonth", KustoType::Int, |x| datetime_part("day", x), false),
        dt_unary("dayofyear", KustoType::Int, |x| datetime_part("dayofyear", x), false),
        dt_unary("hourofday", KustoType::Int, |x| datetime_part("hour", x), false),
        dt_unary("week_of_year", KustoType::Int, |x| datetime_part("week", x), false),
        Def::new("dayofweek", 1, 1, t(KustoType::TimeSpan), r_dur, |a, _| {
            let v = datetimes(&a[0])?;
            Ok(dur_array(
                v.into_iter()
                    .map(|x| {
                        let d = to_dt(x?).weekday().num_days_from_sunday();
                        Some(i64::from(d) * NS_PER_DAY)
                    })
                    .collect(),
            ))
        }),
        Def::new("format_datetime", 2, 2, t(KustoType::String), r_str, |a, _| {
            let v = datetimes(&a[0])?;
            let f = strs(&a[1])?;
            Ok(str_array(
                (0..v.len())
                    .map(|i| Some(format_datetime(v[i]?, f.is_valid(i).then(|| f.value(i))?)))
                    .collect(),
            ))
        }),
        Def::new("format_timespan", 2, 2, t(KustoType::String), r_str, |a, _| {
            let v = timespans(&a[0])?;
            let f = strs(&a[1])?;
            Ok(str_array(
                (0..v.len())
                    .map(|i| Some(format_timespan(v[i]?, f.is_valid(i).then(|| f.value(i))?)))
                    .collect(),
            ))
        }),
        Def::new("datetime_diff", 3, 3, t(KustoType::Long), r_i64, |a, _| {
            let p = part_arg(&a[0], "datetime_diff")?;
            let (x, y) = (datetimes(&a[1])?, datetimes(&a[2])?);
            Ok(i64_array((0..x.len()).map(|i| datetime_diff(p, x[i]?, y[i]?)).collect()))
        }),
        Def::new("datetime_part", 2, 2, t(KustoType::Int), r_i64, |a, _| {
            let p = part_arg(&a[0], "datetime_part")?;
            let x = datetimes(&a[1])?;
            Ok(i64_array(x.into_iter().map(|v| datetime_part(p, v?)).collect()))
        }),
        Def::new("datetime_add", 3, 3, t(KustoType::DateTime), r_ts, |a, _| {
            let p = part_arg(&a[0], "datetime_add")?;
            let amt = i64s(&a[1])?;
            let x = datetimes(&a[2])?;
            Ok(ts_array(
                (0..x.len())
                    .map(|i| datetime_add(p, amt.is_valid(i).then(|| amt.value(i))?, x[i]?))
                    .collect(),
            ))
        }),
        Def::new("todatetime", 1, 1, t(KustoType::DateTime), r_ts, |a, _| {
            Ok(ts_array(match a[0].data_type() {
                DataType::Timestamp(_, _)
                | DataType::Utf8
                | DataType::Utf8View
                | DataType::LargeUtf8 => datetimes(&a[0])?,
                // Kusto reads a long as ticks (100 ns) since 0001-01-01.
                d if d.is_integer() => i64s(&a[0])?
                    .iter()
                    .map(|t| i64::try_from(i128::from(t?) * 100 + KUSTO_EPOCH_NS).ok())
                    .collect(),
                _ => vec![None; a[0].len()],
            }))
        }),
        Def::new("totimespan", 1, 1, t(KustoType::TimeSpan), r_dur, |a, _| {
            Ok(dur_array(match a[0].data_type() {
                DataType::Duration(_)
                | DataType::Utf8
                | DataType::Utf8View
                | DataType::LargeUtf8 => timespans(&a[0])?,
                // A number is a count of ticks.
                d if d.is_integer() => i64s(&a[0])?.iter().map(|t| t?.checked_mul(100)).collect(),
                _ => vec![None; a[0].len()],
            }))
        }),
    ];
    for (name, per_unit) in [
        ("unixtime_seconds_todatetime", 1e9),
        ("unixtime_milliseconds_todatetime", 1e6),
        ("unixtime_microseconds_todatetime", 1e3),
        ("unixtime_nanoseconds_todatetime", 1.0),
    ] {
        v.push(Def::new(name, 1, 1, t(KustoType::DateTime), r_ts, move |a, _| {
            Ok(ts_array(if a[0].data_type().is_integer() {
                let m = per_unit as i64;
                i64s(&a[0])?.iter().map(|x| x?.checked_mul(m)).collect()
            } else {
                f64s(&a[0])?
                    .iter()
                    .map(|x| {
                        let ns = (x? * per_unit).round();
                        (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns as i64)
                    })
                    .collect()
            }))
        }));
    }
    v
}
