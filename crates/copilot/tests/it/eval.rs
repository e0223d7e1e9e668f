//! The offline NL→KQL metrics over a small set whose scores are known by construction.
use bulwark_copilot::eval;
use serde_json::Value;
use std::collections::HashMap;

const SET: &str = include_str!("../data/eval_small.jsonl");

fn baselines() -> HashMap<String, String> {
    SET.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            (
                v["context"].as_str().unwrap_or("").to_string(),
                v["baseline"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn baseline_against_itself_scores_one_everywhere() {
    let b = baselines();
    let r = eval::nl2kql(SET.lines(), &|q| b.get(q).cloned().unwrap_or_default());
    assert_eq!((r.count, r.skipped), (7, 1));
    for row in &r.rows {
        assert_eq!(
            (row.syntax, row.semantic, row.table, row.filter_column, row.filter_literal),
            (1.0, 1.0, 1.0, 1.0, 1.0),
            "{row:?}"
        );
    }
    assert_eq!((r.syntax, r.semantic, r.table), (1.0, 1.0, 1.0));
}

#[test]
fn wrong_table_and_broken_text_score_zero() {
    let other = eval::nl2kql(SET.lines().take(1), &|_| {
        "EmailEvents | where SenderFromAddress == \"x@y.com\"".to_string()
    });
    let row = &other.rows[0];
    assert_eq!(
        (row.syntax, row.semantic, row.table, row.filter_column, row.filter_literal),
        (1.0, 1.0, 0.0, 0.0, 0.0)
    );
    // Same table, one of two filter columns, no time filter: partial scores.
    let partial = eval::nl2kql(SET.lines().skip(1).take(1), &|_| {
        "SigninLogs | where IPAddress == \"185.220.101.4\"".to_string()
    });
    let row = &partial.rows[0];
    assert_eq!(row.table, 1.0);
    assert_eq!(row.filter_column, 1.0 / 3.0, "IPAddress of TimeGenerated, IPAddress, ResultType");
    assert_eq!(row.filter_literal, 1.0 / 3.0, "185.220.101.4 of 24h, 185.220.101.4, 0");
    let broken = eval::nl2kql(SET.lines().take(2), &|_| "SigninLogs | where (".to_string());
    assert_eq!((broken.syntax, broken.semantic), (0.0, 0.0));
    let unknown = eval::nl2kql(SET.lines().take(1), &|_| "NoSuchTable | where X == 1".to_string());
    assert_eq!((unknown.rows[0].syntax, unknown.rows[0].semantic), (1.0, 0.0));
}

#[test]
fn deterministic_generator_scores_and_reports_json() {
    let r = eval::nl2kql(SET.lines(), &|q| bulwark_copilot::nl2kql::generate(q).kql);
    assert_eq!(r.syntax, 1.0, "{:#}", r.to_json());
    assert_eq!(r.semantic, 1.0, "{:#}", r.to_json());
    assert!(r.table >= 6.0 / 7.0, "{:#}", r.to_json());
    assert!(r.filter_column > 0.3 && r.filter_literal > 0.3, "{:#}", r.to_json());
    let j = r.to_json();
    assert_eq!(j["count"], 7);
    assert_eq!(j["rows"].as_array().map(Vec::len), Some(7));
    let avg = j["averages"]["table"].as_f64().unwrap_or(-1.0);
    let mean = r.rows.iter().map(|x| x.table).sum::<f64>() / 7.0;
    assert!((avg - mean).abs() < 1e-12);
}
