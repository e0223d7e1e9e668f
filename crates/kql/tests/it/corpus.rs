//! The real-world corpus: ~1,200 Sentinel detection and hunting queries.
use bulwark_kql::{Stage, check_corpus, format, parse};
use bulwark_model::SchemaRegistry;
use std::collections::BTreeMap;
use std::io::BufReader;

fn corpus() -> Option<std::path::PathBuf> {
    let p = bulwark_testutil::shared_path("kql/sentinel_queries.jsonl");
    if p.is_none() {
        eprintln!("skipping: shared data kql/sentinel_queries.jsonl not found");
    }
    p
}

#[test]
fn corpus_parse_and_check_rates_meet_targets() {
    let Some(path) = corpus() else { return };
    let file = std::fs::File::open(&path).expect("open corpus");
    let report =
        check_corpus(BufReader::new(file), &SchemaRegistry::builtin()).expect("read corpus");
    let mut causes: BTreeMap<String, usize> = BTreeMap::new();
    for f in &report.failures {
        let key = format!(
            "{:?} {}",
            f.stage,
            f.message.split_once(": ").map_or(f.message.as_str(), |(_, m)| m)
        );
        *causes.entry(key).or_default() += 1;
    }
    if std::env::var_os("KQL_CORPUS_VERBOSE").is_some() {
        for f in &report.failures {
            eprintln!("line {} {:?} {} {}", f.line, f.stage, f.code, f.message);
        }
    }
    eprintln!(
        "corpus: total {} parsed {} ({:.1}%) checked {} ({:.1}%)",
        report.total,
        report.parsed,
        report.parse_rate(),
        report.checked,
        report.check_rate()
    );
    assert!(report.total > 1000, "corpus unexpectedly small: {}", report.total);
    let parse_failures = report.failures.iter().filter(|f| f.stage == Stage::Parse).count();
    assert_eq!(report.parsed, report.total - parse_failures);
    assert!(report.parse_rate() >= 97.0, "parse rate {:.1}%", report.parse_rate());
    assert!(report.check_rate() >= 90.0, "check rate {:.1}%", report.check_rate());
}

#[test]
fn corpus_queries_round_trip_through_the_printer() {
    let Some(path) = corpus() else { return };
    let text = std::fs::read_to_string(&path).expect("read corpus");
    let mut compared = 0;
    for (i, line) in text.lines().enumerate() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let Some(q) = v.get("query").and_then(|q| q.as_str()) else { continue };
        let first = parse(q);
        if !first.has_valid_syntax() {
            continue;
        }
        let printed = format(&first.syntax);
        let second = parse(&printed);
        assert!(
            second.has_valid_syntax(),
            "line {}: printed text does not parse: {:?}\n{printed}",
            i + 1,
            second.diagnostics
        );
        assert_eq!(
            first.syntax,
            second.syntax,
            "line {}: round trip changed the tree\n{printed}",
            i + 1
        );
        compared += 1;
    }
    assert!(compared > 1000);
}
