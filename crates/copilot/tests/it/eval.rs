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

/// The deterministic generator over the shared Sentinel corpus (rule name and description as
/// the question, the rule's query as the baseline): its queries always parse and check; the
/// other scores are printed as the figure to beat.
#[test]
fn deterministic_generator_over_the_sentinel_corpus() {
    let Some(path) = bulwark_testutil::shared_path("kql/sentinel_queries.jsonl") else { return };
    let text = std::fs::read_to_string(path).expect("corpus");
    let lines: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let q = v.get("query")?.as_str()?;
            let nl = format!(
                "{} {}",
                v.get("name")?.as_str()?,
                v.get("description").and_then(Value::as_str).unwrap_or("")
            );
            let nl: String = nl.chars().take(300).collect();
            Some(serde_json::json!({"context": nl, "baseline": q}).to_string())
        })
        .collect();
    let r = eval::nl2kql(&lines, &|q| bulwark_copilot::nl2kql::generate(q).kql);
    let j = r.to_json();
    eprintln!("sentinel corpus, deterministic generator: {}", j["averages"]);
    for row in r.rows.iter().filter(|x| x.syntax == 0.0).take(3) {
        eprintln!("does not parse: {:?}\n{}\n", row.context, row.generated);
    }
    assert!(r.count > 1000, "{}", r.count);
    assert_eq!(r.syntax, 1.0);
    assert!(r.semantic > 0.99, "{}", j["averages"]);
    assert!(r.table > 0.0 && r.table < 1.0, "{}", j["averages"]);
}
