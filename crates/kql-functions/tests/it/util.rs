//! Shared helpers: a session with all functions registered and a table-driven
//! case runner that reports every mismatch at once.

use bulwark_kql_functions::{format_iso, format_real, format_timespan_kql, register_all};
use chrono::{DateTime, TimeZone, Utc};
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

/// The fixed query start time used by every test.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 15, 12, 0, 0).single().expect("valid time")
}

/// A session with every KQL function registered.
pub fn ctx() -> SessionContext {
    let ctx = SessionContext::new();
    register_all(&ctx, now());
    ctx
}

/// Renders a value the way Kusto prints it; `null` for nulls.
pub fn show(v: &ScalarValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
        ScalarValue::Float64(Some(f)) => format_real(*f),
        ScalarValue::TimestampNanosecond(Some(t), _) => format_iso(*t),
        ScalarValue::DurationNanosecond(Some(d)) => format_timespan_kql(*d),
        other => other.to_string(),
    }
}

/// First column of a query's result, one rendered value per row.
pub async fn column(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = Vec::new();
    for b in batches {
        let c: &ArrayRef = b.column(0);
        for i in 0..c.len() {
            out.push(show(&ScalarValue::try_from_array(c, i)?));
        }
    }
    Ok(out)
}

/// Evaluates `SELECT <expr>` for each case and compares with the expected
/// rendering. An expected value starting with `json:` is compared as JSON.
/// Returns the number of cases checked.
pub async fn check(cases: &[(&str, &str)]) -> usize {
    let ctx = ctx();
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = match column(&ctx, &format!("SELECT {expr}")).await {
            Ok(v) if v.len() == 1 => v[0].clone(),
            Ok(v) => format!("<{} rows>", v.len()),
            Err(e) => format!("<error: {e}>"),
        };
        let ok = match want.strip_prefix("json:") {
            Some(j) => {
                let a: Option<serde_json::Value> = serde_json::from_str(j).ok();
                let b: Option<serde_json::Value> = serde_json::from_str(&got).ok();
                a.is_some() && a == b
            }
            None => got == *want,
        };
        if !ok {
            failures.push(format!("{expr}\n    want: {want}\n    got:  {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

/// Asserts that `SELECT <expr>` fails with an error containing `needle`.
pub async fn check_err(expr: &str, needle: &str) {
    let ctx = ctx();
    let r = match ctx.sql(&format!("SELECT {expr}")).await {
        Ok(df) => df.collect().await.map(|_| ()),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => panic!("{expr}: expected an error containing {needle:?}"),
        Err(e) => assert!(e.to_string().contains(needle), "{expr}: error {e} lacks {needle:?}"),
    }
}
