//! Datetime and timespan literal text to numbers, shared by the parser, the checker and (later)
//! the planner: `datetime(…)` bodies become UTC nanoseconds since the Unix epoch, `time(…)`
//! bodies become nanoseconds.
use crate::lexer::timespan_unit;

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `HH:MM[:SS[.fffffff]]` (optionally `AM`/`PM`) to nanoseconds into the day.
fn time_of_day(s: &str) -> Option<i64> {
    let s = s.trim();
    let (s, pm) = match s.strip_suffix("PM").or_else(|| s.strip_suffix("pm")) {
        Some(r) => (r.trim(), Some(true)),
        None => match s.strip_suffix("AM").or_else(|| s.strip_suffix("am")) {
            Some(r) => (r.trim(), Some(false)),
            None => (s, None),
        },
    };
    let mut parts = s.split(':');
    let mut h = num(parts.next()?)?;
    let m = num(parts.next()?)?;
    let (sec, frac) = match parts.next() {
        Some(sec) => match sec.split_once('.') {
            Some((a, f)) => (num(a)?, f),
            None => (num(sec)?, ""),
        },
        None => (0, ""),
    };
    if parts.next().is_some() || m > 59 || sec > 59 {
        return None;
    }
    if let Some(pm) = pm {
        if !(1..=12).contains(&h) {
            return None;
        }
        h = h % 12 + if pm { 12 } else { 0 };
    }
    if h > 23 {
        return None;
    }
    let mut nanos = 0i64;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos = format!("{frac:0<9}").parse().ok()?;
    }
    Some(((h * 60 + m) * 60 + sec) * 1_000_000_000 + nanos)
}

/// Parses the body of a `datetime(…)` literal to UTC nanoseconds since the Unix epoch.
/// Accepts ISO 8601 (`2024-01-02`, `2024-01-02T03:04:05.1234567Z`, `2024-01-02 03:04`, with
/// `Z` or `±hh:mm`), `yyyy/MM/dd` and US `MM/dd/yyyy` dates with optional times.
/// Returns `None` for anything else (such as `now` or templated placeholders).
pub fn datetime_nanos(text: &str) -> Option<i64> {
    let t = text.trim();
    let (date, rest) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], t[i + 1..].trim()),
        None => (t, ""),
    };
    let fields: Vec<&str> = date.split(['-', '/']).collect();
    let [a, b, c] = fields.as_slice() else { return None };
    let (y, m, d) =
        if a.len() == 4 { (num(a)?, num(b)?, num(c)?) } else { (num(c)?, num(a)?, num(b)?) };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || !(1..=9999).contains(&y) {
        return None;
    }
    let mut offset = 0i64;
    let mut time = rest;
    if let Some(r) = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("UTC"))
        .or_else(|| time.strip_suffix("GMT"))
    {
        time = r.trim();
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (tm, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        offset = sign * (num(oh)? * 60 + num(om)?) * 60_000_000_000;
        time = tm.trim();
    }
    let tod = if time.is_empty() { 0 } else { time_of_day(time)? };
    let days = days_from_civil(y, m, d);
    days.checked_mul(86_400_000_000_000)?.checked_add(tod)?.checked_sub(offset)
}

/// Parses `[-][d.]hh:mm[:ss[.fffffff]]` or `<number><unit>` timespan text to nanoseconds.
pub fn timespan_nanos(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let digits_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    if digits_end > 0
        && digits_end < t.len()
        && let (Ok(v), Some(m)) =
            (t[..digits_end].parse::<f64>(), timespan_unit(t[digits_end..].trim()))
    {
        let n = v * m as f64;
        return (n.is_finite() && n.abs() < 9.2e18).then_some(if neg { -n } else { n } as i64);
    }
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let (days, hours) = match parts[0].split_once('.') {
        Some((d, h)) => (num(d)?, num(h)?),
        None => (0, num(parts[0])?),
    };
    let minutes = num(parts[1])?;
    let seconds = match parts.get(2) {
        Some(s) => s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)?,
        None => 0.0,
    };
    let total = (days * 86_400 + hours * 3_600 + minutes * 60) as f64 * 1e9 + seconds * 1e9;
    let total = if neg { -total } else { total };
    (total.is_finite() && total.abs() < 9.2e18).then_some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn iso_and_us_datetimes() {
        assert_eq!(datetime_nanos("1970-01-01"), Some(0));
        assert_eq!(datetime_nanos("1970-01-02T00:00:01Z"), Some(DAY + 1_000_000_000));
        assert_eq!(datetime_nanos("2018-06-09T02:23:26.6832917Z"), Some(1_528_511_006_683_291_700));
        assert_eq!(datetime_nanos("2018-07-15 19:51"), datetime_nanos("2018-07-15T19:51:00Z"));
        assert_eq!(datetime_nanos("01/16/2022 00:00:00"), datetime_nanos("2022-01-16"));
        assert_eq!(datetime_nanos("2000-01-01T01:00:00+01:00"), datetime_nanos("2000-01-01"));
        assert_eq!(datetime_nanos("2024-02-29"), Some(19_782 * DAY));
        assert_eq!(datetime_nanos("2023-02-29"), None);
        assert_eq!(datetime_nanos("{{StartTimeISO}}"), None);
        assert_eq!(datetime_nanos("2020-01-01 25:00"), None);
    }

    #[test]
    fn timespan_text_forms() {
        assert_eq!(timespan_nanos("1.02:03:04"), Some((86_400 + 7_384) * 1_000_000_000));
        assert_eq!(timespan_nanos("00:30"), Some(1_800_000_000_000));
        assert_eq!(timespan_nanos("-0:0:1.5"), Some(-1_500_000_000));
        assert_eq!(timespan_nanos("2 h"), Some(7_200_000_000_000));
        assert_eq!(timespan_nanos("nonsense"), None);
    }
}
