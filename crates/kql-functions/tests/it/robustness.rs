//! Hostile input: every scalar function is called with odd strings, extreme
//! integers and extreme datetimes. Results may be null or a clean error, but
//! never a panic.

use std::sync::Arc;

use bulwark_kql_functions::{scalar_info, scalar_names};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::datasource::MemTable;

use crate::util::ctx;

fn hostile_strings() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "-",
        "%",
        "%%zz",
        "[",
        "]",
        "{",
        "}",
        "(",
        "[a-",
        "\\",
        "::",
        ":::",
        "/99",
        "1/2",
        "999999999999999999999999d",
        "-9223372036854775808",
        "9223372036854775807",
        "1e309",
        "NaN",
        "\u{0}",
        "ǅǆ İ ß ﬃ",
        "🦀🦀",
        "255.255.255.255/0",
        "::ffff:1.2.3.4/200",
        "0001-01-01",
        "9999-12-31T23:59:59.9999999Z",
        "24:00:00",
        "1.:",
        "yyyyyyyyyyyyyyyyyyyy",
        "ddddddddddddddddddddddd",
        "FFFFFFFFF fffffffff tt",
        "[\"a\",1,null,{\"b\":[]}]",
        "{\"a\":{\"b\":{\"c\":[1,2,3]}}}",
        "\"quoted\"",
        "a,b,,c",
        "file://",
        "C:",
        "\\\\srv\\share\\x.y:ads",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("[".repeat(300));
    v.push(format!("{}1{}", "[".repeat(100), "]".repeat(100)));
    v.push("a".repeat(100_000));
    v
}

#[tokio::test]
async fn no_function_panics_on_hostile_input() {
    let strings = hostile_strings();
    let n = strings.len();
    let ints: Vec<Option<i64>> = (0..n)
        .map(|i| match i % 8 {
            0 => Some(i64::MIN),
            1 => Some(i64::MAX),
            2 => Some(0),
            3 => Some(-1),
            4 => None,
            5 => Some(1_000_000_000_000),
            6 => Some(1024),
            _ => Some(-7),
        })
        .collect();
    let times: Vec<Option<i64>> = (0..n)
        .map(|i| match i % 4 {
            0 => Some(i64::MIN),
            1 => Some(i64::MAX),
            2 => None,
            _ => Some(0),
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from_iter_values(strings.iter())),
            Arc::new(Int64Array::from(ints)),
            Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
        ],
    )
    .expect("batch");
    let ctx = ctx();
    ctx.register_table("h", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).expect("mem")))
        .expect("register");
    let mut calls = 0;
    let mut panics = Vec::new();
    for name in scalar_names() {
        let info = scalar_info(name).expect("info");
        let hi = info.max_args.min(3);
        for arity in info.min_args.max(1)..=hi {
            for pick in 0..3usize {
                // Rotate columns through the argument positions.
                let args: Vec<&str> = (0..arity).map(|k| ["s", "n", "t"][(k + pick) % 3]).collect();
                let sql = format!("SELECT {}({}) FROM h", info.df_name, args.join(", "));
                calls += 1;
                let r = match ctx.sql(&sql).await {
                    Ok(df) => df.collect().await.map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(e) = r {
                    let msg = e.to_string();
                    // Every listed function must be registered, and nothing may panic.
                    if msg.to_lowercase().contains("panic") || msg.contains("Invalid function") {
                        panics.push(format!("{sql}: {msg}"));
                    }
                }
            }
        }
    }
    assert!(calls > 200, "only {calls} calls");
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}
