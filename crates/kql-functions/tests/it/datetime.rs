//! Datetime and timespan functions. The session's query time is
//! 2024-01-15T12:00:00Z (see `util::now`).

use crate::util::{check, check_err};

#[tokio::test]
async fn now_and_ago_use_the_fixed_query_time() {
    check(&[
        ("kql_now()", "2024-01-15T12:00:00Z"),
        ("kql_now('-1h')", "2024-01-15T11:00:00Z"),
        ("kql_ago('1d')", "2024-01-14T12:00:00Z"),
        ("kql_ago(INTERVAL '2 hours')", "2024-01-15T10:00:00Z"),
        ("kql_ago(kql_totimespan('00:30:00'))", "2024-01-15T11:30:00Z"),
    ])
    .await;
}

#[tokio::test]
async fn bin_and_bin_at() {
    check(&[
        // Doc (bin): bin(4.5, 1) == 4, bin(time(16d), 7d) == 14d,
        // bin(datetime(1970-05-11 13:45:07), 1d) == datetime(1970-05-11).
        ("kql_bin(4.5, 1)", "4"),
        ("kql_bin(-4.5, 1)", "-5"),
        ("kql_bin(10, 3)", "9"),
        ("kql_bin(kql_totimespan('16d'), '7d')", "14.00:00:00"),
        ("kql_bin(kql_todatetime('1970-05-11 13:45:07'), '1d')", "1970-05-11T00:00:00Z"),
        ("kql_bin(kql_todatetime('2024-01-15 12:34:56'), INTERVAL '1 hour')", "2024-01-15T12:00:00Z"),
        ("kql_floor(kql_todatetime('2024-01-15 12:34:56'), '15m')", "2024-01-15T12:30:00Z"),
        ("kql_bin(kql_todatetime(NULL), '1h')", "null"),
        // Doc (bin_at).
        ("kql_bin_at(6.5, 2.5, 7)", "4.5"),
        ("kql_bin_at(kql_totimespan('1h'), '1d', '12h')", "-12:00:00"),
        (
            "kql_bin_at(kql_todatetime('2017-05-15 10:20:00'), '1d', kql_todatetime('1970-01-01 12:00'))",
            "2017-05-14T12:00:00Z",
        ),
    ])
    .await;
}

#[tokio::test]
async fn start_and_end_of_periods() {
    check(&[
        ("kql_startofday(kql_todatetime('2017-01-01 10:10:17'))", "2017-01-01T00:00:00Z"),
        ("kql_startofday(kql_todatetime('2017-01-01 10:10:17'), -1)", "2016-12-31T00:00:00Z"),
        // 2017-01-01 was a Sunday; weeks start on Sunday.
        ("kql_startofweek(kql_todatetime('2017-01-01 10:10:17'))", "2017-01-01T00:00:00Z"),
        ("kql_startofweek(kql_todatetime('2017-01-04'))", "2017-01-01T00:00:00Z"),
        ("kql_startofmonth(kql_todatetime('2017-01-15 10:10'))", "2017-01-01T00:00:00Z"),
        ("kql_startofmonth(kql_todatetime('2017-01-15'), 1)", "2017-02-01T00:00:00Z"),
        ("kql_startofyear(kql_todatetime('2017-06-15'))", "2017-01-01T00:00:00Z"),
        ("kql_endofday(kql_todatetime('2017-01-01 10:10:17'))", "2017-01-01T23:59:59.9999999Z"),
        ("kql_endofweek(kql_todatetime('2017-01-01'))", "2017-01-07T23:59:59.9999999Z"),
        ("kql_endofmonth(kql_todatetime('2017-02-10'))", "2017-02-28T23:59:59.9999999Z"),
        ("kql_endofyear(kql_todatetime('2017-02-10'))", "2017-12-31T23:59:59.9999999Z"),
    ])
    .await;
}

#[tokio::test]
async fn format_datetime_and_timespan() {
    let dt = "kql_todatetime('2015-12-14 02:03:04.12345')";
    let cases = [
        // Doc (format_datetime) examples.
        (format!("kql_format_datetime({dt}, 'y-M-d h:m:s.fffffff')"), "15-12-14 2:3:4.1234500"),
        (format!("kql_format_datetime({dt}, 'yyyy-MM-dd [HH:mm:ss]')"), "2015-12-14 [02:03:04]"),
        (format!("kql_format_datetime({dt}, 'yy-MM-dd HH:mm:ss')"), "15-12-14 02:03:04"),
        (
            format!("kql_format_datetime({dt}, 'yyyy-MM-dd HH:mm:ss.fff')"),
            "2015-12-14 02:03:04.123",
        ),
        (format!("kql_format_datetime({dt}, 'hh tt')"), "02 AM"),
        (
            "kql_format_datetime(kql_todatetime('2009-06-15 13:45:30.05'), 'HH:mm:ss.FF')".into(),
            "13:45:30.05",
        ),
        ("kql_format_datetime(kql_todatetime('2009-06-15 13:45:30.0005'), 'ss.FFF')".into(), "30"),
        // Doc (format_timespan) examples.
        (
            "kql_format_timespan(kql_totimespan('29.09:00:05.12345'), 'dd.hh:mm:ss:FF')".into(),
            "29.09:00:05:12",
        ),
        (
            "kql_format_timespan(kql_totimespan('29.09:00:05.12345'), 'ddd.h:mm:ss [fffffff]')"
                .into(),
            "029.9:00:05 [1234500]",
        ),
    ];
    let refs: Vec<(&str, &str)> = cases.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    check(&refs).await;
}

#[tokio::test]
async fn datetime_diff_part_add() {
    let d = |s: &str| format!("kql_todatetime('{s}')");
    let cases = [
        // Doc (datetime_diff) examples.
        (format!("kql_datetime_diff('year', {}, {})", d("2017-01-01"), d("2000-12-31")), "17"),
        (format!("kql_datetime_diff('quarter', {}, {})", d("2017-07-01"), d("2017-03-30")), "2"),
        (format!("kql_datetime_diff('month', {}, {})", d("2017-01-01"), d("2015-12-30")), "13"),
        (
            format!(
                "kql_datetime_diff('week', {}, {})",
                d("2017-10-29 00:00"),
                d("2017-09-30 23:59")
            ),
            "5",
        ),
        (
            format!(
                "kql_datetime_diff('day', {}, {})",
                d("2017-10-29 00:00"),
                d("2017-09-30 23:59")
            ),
            "29",
        ),
        (
            format!(
                "kql_datetime_diff('hour', {}, {})",
                d("2017-10-31 01:00"),
                d("2017-10-30 23:59")
            ),
            "2",
        ),
        (
            format!(
                "kql_datetime_diff('minute', {}, {})",
                d("2017-10-30 23:05:01"),
                d("2017-10-30 23:00:59")
            ),
            "5",
        ),
        (
            format!(
                "kql_datetime_diff('second', {}, {})",
                d("2017-10-30 23:00:10.100"),
                d("2017-10-30 23:00:00.900")
            ),
            "10",
        ),
        (
            format!(
                "kql_datetime_diff('millisecond', {}, {})",
                d("2017-10-30 23:00:00.200100"),
                d("2017-10-30 23:00:00.100900")
            ),
            "100",
        ),
        (
            format!(
                "kql_datetime_diff('microsecond', {}, {})",
                d("2017-10-30 23:00:00.1009001"),
                d("2017-10-30 23:00:00.1008009")
            ),
            "100",
        ),
        (
            format!(
                "kql_datetime_diff('nanosecond', {}, {})",
                d("2017-10-30 23:00:00.0000000"),
                d("2017-10-30 23:00:00.0000007")
            ),
            "-700",
        ),
        // Doc (datetime_part) on 2017-10-30 01:02:03.7654321.
        (format!("kql_datetime_part('year', {})", d("2017-10-30 01:02:03.7654321")), "2017"),
        (format!("kql_datetime_part('quarter', {})", d("2017-10-30 01:02:03.7654321")), "4"),
        (format!("kql_datetime_part('month', {})", d("2017-10-30 01:02:03.7654321")), "10"),
        (format!("kql_datetime_part('week_of_year', {})", d("2017-10-30 01:02:03.7654321")), "44"),
        (format!("kql_datetime_part('day', {})", d("2017-10-30 01:02:03.7654321")), "30"),
        (format!("kql_datetime_part('dayOfYear', {})", d("2017-10-30 01:02:03.7654321")), "303"),
        (format!("kql_datetime_part('hour', {})", d("2017-10-30 01:02:03.7654321")), "1"),
        (format!("kql_datetime_part('minute', {})", d("2017-10-30 01:02:03.7654321")), "2"),
        (format!("kql_datetime_part('second', {})", d("2017-10-30 01:02:03.7654321")), "3"),
        (format!("kql_datetime_part('millisecond', {})", d("2017-10-30 01:02:03.7654321")), "765"),
        (
            format!("kql_datetime_part('microsecond', {})", d("2017-10-30 01:02:03.7654321")),
            "765432",
        ),
        (
            format!("kql_datetime_part('nanosecond', {})", d("2017-10-30 01:02:03.7654321")),
            "765432100",
        ),
        (format!("kql_getyear({})", d("2017-10-30")), "2017"),
        (format!("kql_getmonth({})", d("2017-10-30")), "10"),
        (format!("kql_dayofmonth({})", d("2017-10-30")), "30"),
        (format!("kql_dayofyear({})", d("2015-12-14")), "348"),
        (format!("kql_hourofday({})", d("2015-12-14 18:54")), "18"),
        // Doc (dayofweek): Sunday -> 0d, Monday -> 1d.
        (format!("kql_dayofweek({})", d("1947-11-30 10:00:05")), "00:00:00"),
        (format!("kql_dayofweek({})", d("1970-05-11")), "1.00:00:00"),
        (format!("kql_datetime_add('month', 1, {})", d("2017-01-31")), "2017-02-28T00:00:00Z"),
        (
            format!("kql_datetime_add('year', -5, {})", d("2017-10-30 01:02:03.7654321")),
            "2012-10-30T01:02:03.7654321Z",
        ),
        (format!("kql_datetime_add('day', 1, {})", d("2017-12-31")), "2018-01-01T00:00:00Z"),
        (format!("kql_datetime_add('hour', 5, {})", d("2017-10-30 01:00")), "2017-10-30T06:00:00Z"),
    ];
    let refs: Vec<(&str, &str)> = cases.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    check(&refs).await;
    check_err("kql_datetime_diff('fortnight', kql_now(), kql_now())", "unknown datetime part")
        .await;
}

#[tokio::test]
async fn parsing_and_unixtime() {
    check(&[
        ("kql_todatetime('2015-12-24')", "2015-12-24T00:00:00Z"),
        ("kql_todatetime('2015-12-31 23:59:59.9')", "2015-12-31T23:59:59.9000000Z"),
        ("kql_todatetime('2014-11-08T15:05:02.123+02:00')", "2014-11-08T13:05:02.1230000Z"),
        ("kql_todatetime('Sat, 08 Nov 2014 15:05:02 GMT')", "2014-11-08T15:05:02Z"),
        ("kql_todatetime('Saturday, 08-Nov-14 15:05:02 GMT')", "2014-11-08T15:05:02Z"),
        ("kql_todatetime('11/08/2014 15:05')", "2014-11-08T15:05:00Z"),
        ("kql_todatetime('garbage')", "null"),
        ("kql_todatetime(NULL)", "null"),
        ("kql_totimespan('0.00:01:00')", "00:01:00"),
        ("kql_totimespan('1.02:03:04.5')", "1.02:03:04.5000000"),
        ("kql_totimespan('1d')", "1.00:00:00"),
        ("kql_totimespan('-2h')", "-02:00:00"),
        ("kql_totimespan('100ms')", "00:00:00.1000000"),
        ("kql_totimespan('bad')", "null"),
        ("kql_totimespan('25:00:00')", "null"),
        // Doc (unixtime_*_todatetime): 1546300800 -> 2019-01-01.
        ("kql_unixtime_seconds_todatetime(1546300800)", "2019-01-01T00:00:00Z"),
        ("kql_unixtime_seconds_todatetime(1546300800.5)", "2019-01-01T00:00:00.5000000Z"),
        ("kql_unixtime_milliseconds_todatetime(1546300800123)", "2019-01-01T00:00:00.1230000Z"),
        ("kql_unixtime_microseconds_todatetime(1546300800123456)", "2019-01-01T00:00:00.1234560Z"),
        (
            "kql_unixtime_nanoseconds_todatetime(1546300800123456700)",
            "2019-01-01T00:00:00.1234567Z",
        ),
    ])
    .await;
}
