//! Parsing datetimes and timespans as they appear in logs and in Kusto.

/// Nanoseconds since the Unix epoch for a date and time of day (proleptic Gregorian, UTC).
pub fn civil_to_ns(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days.checked_mul(86_400)? + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    secs.checked_mul(1_000_000_000)?.checked_add(i64::from(nanos))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats nanoseconds since the epoch as ISO-8601 UTC (`2024-03-01T10:00:00.5000000Z` when there
/// are fractional seconds, as Kusto prints them; else `2024-03-01T10:00:00Z`).
pub fn format_datetime_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:07}Z", frac / 100)
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses RFC 3339 / ISO-8601 (`2024-03-01T10:00:00Z`, `2024-03-01 10:00:00.123+02:00`,
/// `2024-03-01`), the same with `/` separators, and Unix epoch seconds or milliseconds given
/// as digits, to nanoseconds since the epoch, UTC.
pub fn parse_datetime_ns(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.len() >= 9 && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t.parse().ok()?;
        // 13 digits and more are milliseconds, fewer are seconds.
        return if t.len() >= 13 { n.checked_mul(1_000_000) } else { n.checked_mul(1_000_000_000) };
    }
    let bytes = t.as_bytes();
    if bytes.len() < 10 {
        return None;
    }
    let (date, rest) = t.split_at(10);
    let sep = date.as_bytes()[4];
    if !(sep == b'-' || sep == b'/') || date.as_bytes()[7] != sep {
        return None;
    }
    let y = i64::from(digits(&date[0..4])?);
    let mo = digits(&date[5..7])?;
    let d = digits(&date[8..10])?;
    let rest = rest.trim_start_matches(['T', 't', ' ']);
    if rest.is_empty() {
        return civil_to_ns(y, mo, d, 0, 0, 0, 0);
    }
    // Split off the zone: Z, +hh:mm, -hh:mm, +hhmm.
    let (clock, offset_secs) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else if let Some(pos) = rest.rfind(['+', '-']).filter(|&p| p >= 5) {
        let zone = rest[pos + 1..].replace(':', "");
        if zone.len() != 4 {
            return None;
        }
        let zh = i64::from(digits(&zone[0..2])?);
        let zm = i64::from(digits(&zone[2..4])?);
        let sign = if rest.as_bytes()[pos] == b'-' { -1 } else { 1 };
        (&rest[..pos], sign * (zh * 3600 + zm * 60))
    } else {
        (rest.trim_end_matches(" UTC"), 0)
    };
    let (hms, frac) = match clock.split_once(['.', ',']) {
        Some((a, f)) => (a, f),
        None => (clock, ""),
    };
    let mut parts = hms.split(':');
    let h = digits(parts.next()?)?;
    let mi = digits(parts.next().unwrap_or("0"))?;
    let s = digits(parts.next().unwrap_or("0"))?;
    if parts.next().is_some() {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        let f: String = frac.chars().take(9).collect();
        let v = digits(&f)?;
        v * 10u32.pow(9 - f.len() as u32)
    };
    civil_to_ns(y, mo, d, h, mi, s, nanos)?.checked_sub(offset_secs * 1_000_000_000)
}

/// Parses a timespan: Kusto's `[-][d.]hh:mm:ss[.fffffff]` or a literal like `1d`, `2h`,
/// `30m`, `10s`, `100ms`, `1.5d`.
pub fn parse_timespan_ns(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let ns = if t.contains(':') {
        let (days, clock) = match t.split_once(':') {
            Some((first, _)) if first.contains('.') => {
                let (d, c) = t.split_once('.')?;
                (i64::from(digits(d)?), c)
            }
            _ => (0, t),
        };
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let mut p = hms.split(':');
        let h = i64::from(digits(p.next()?)?);
        let m = i64::from(digits(p.next()?)?);
        let s = i64::from(digits(p.next().unwrap_or("0"))?);
        let f = if frac.is_empty() {
            0
        } else {
            let f: String = frac.chars().take(9).collect();
            i64::from(digits(&f)?) * 10i64.pow(9 - f.len() as u32)
        };
        ((days * 24 + h) * 60 + m) * 60 * 1_000_000_000 + s * 1_000_000_000 + f
    } else {
        let split = t.find(|c: char| c.is_ascii_alphabetic())?;
        let (num, unit) = t.split_at(split);
        let value: f64 = num.parse().ok()?;
        let scale = match unit {
            "d" | "day" | "days" => 86_400e9,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600e9,
            "m" | "min" | "minute" | "minutes" => 60e9,
            "s" | "sec" | "second" | "seconds" => 1e9,
            "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1e6,
            "microsecond" | "microseconds" => 1e3,
            "tick" | "ticks" => 100.0,
            _ => return None,
        };
        let v = value * scale;
        if !v.is_finite() || v.abs() > i64::MAX as f64 {
            return None;
        }
        v as i64
    };
    Some(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_in_common_log_shapes() {
        let base = 1_709_287_200_000_000_000; // 2024-03-01T10:00:00Z
        assert_eq!(parse_datetime_ns("2024-03-01T10:00:00Z"), Some(base));
        assert_eq!(parse_datetime_ns("2024-03-01 10:00:00"), Some(base));
        assert_eq!(parse_datetime_ns("2024-03-01T12:00:00+02:00"), Some(base));
        assert_eq!(parse_datetime_ns("2024-03-01T10:00:00.25Z"), Some(base + 250_000_000));
        assert_eq!(parse_datetime_ns("2024/03/01 10:00:00"), Some(base));
        assert_eq!(parse_datetime_ns("1709287200"), Some(base));
        assert_eq!(parse_datetime_ns("1709287200000"), Some(base));
        assert_eq!(parse_datetime_ns("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse_datetime_ns("yesterday"), None);
        assert_eq!(
            parse_datetime_ns("2024-03-01T10:00:00.123456789123Z"),
            Some(base + 123_456_789)
        );
    }

    #[test]
    fn datetimes_format_back() {
        assert_eq!(format_datetime_ns(1_709_287_200_000_000_000), "2024-03-01T10:00:00Z");
        assert_eq!(format_datetime_ns(1_709_287_200_500_000_000), "2024-03-01T10:00:00.5000000Z");
        assert_eq!(format_datetime_ns(0), "1970-01-01T00:00:00Z");
        for days in [-1000, 0, 1, 59, 365, 20000, 60000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn timespans_parse_both_forms() {
        assert_eq!(parse_timespan_ns("1d"), Some(86_400_000_000_000));
        assert_eq!(parse_timespan_ns("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_timespan_ns("100ms"), Some(100_000_000));
        assert_eq!(parse_timespan_ns("01:02:03"), Some(3_723_000_000_000));
        assert_eq!(parse_timespan_ns("2.00:00:01.5"), Some(172_801_500_000_000));
        assert_eq!(parse_timespan_ns("-10s"), Some(-10_000_000_000));
        assert_eq!(parse_timespan_ns("ten"), None);
    }
}
