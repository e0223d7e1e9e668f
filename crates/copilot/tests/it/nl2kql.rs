//! NL→KQL on our own pairs (`tests/data/nl2kql.jsonl`) and validity on the descriptions of the
//! shared corpus's KQL skills, which nobody wrote for this parser.
use bulwark_copilot::nl2kql::generate;
use serde_json::Value;

#[test]
fn pairs_parse_check_and_match() {
    let text = include_str!("../data/nl2kql.jsonl");
    let (mut total, mut valid, mut table_ok) = (0usize, 0usize, 0usize);
    let (mut expected_filters, mut found_filters, mut generated_filters, mut exact) =
        (0usize, 0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let pair: Value = serde_json::from_str(line).expect("test data is JSON");
        let nl = pair["nl"].as_str().expect("nl");
        let table = pair["table"].as_str().expect("table");
        let filters: Vec<&str> =
            pair["filters"].as_array().expect("filters").iter().filter_map(Value::as_str).collect();
        let g = generate(nl);
        total += 1;
        valid += usize::from(g.valid);
        if !g.valid {
            misses.push(format!("INVALID {nl}: {}\n{:?}", g.kql, g.diagnostics));
        }
        if g.table == table {
            table_ok += 1;
        } else {
            misses.push(format!("TABLE {nl}: {} (expected {table})", g.table));
        }
        let mut all = true;
        for f in &filters {
            expected_filters += 1;
            if g.filters.iter().any(|h| h.matches_text(f)) {
                found_filters += 1;
            } else {
                all = false;
                misses.push(format!(
                    "FILTER {nl}: missing {f}; got {:?}",
                    g.filters.iter().map(|f| f.to_kql()).collect::<Vec<_>>()
                ));
            }
        }
        generated_filters += g.filters.len();
        let extra = g.filters.iter().filter(|h| !filters.iter().any(|f| h.matches_text(f))).count();
        if all && extra == 0 {
            exact += 1;
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "NL→KQL on {total} pairs: {:.1}% parse+check, {:.1}% table, filter recall {:.1}% ({found_filters}/{expected_filters}), filter precision {:.1}%, exact filter sets {:.1}%",
        pct(valid, total),
        pct(table_ok, total),
        pct(found_filters, expected_filters),
        pct(found_filters, generated_filters),
        pct(exact, total),
    );
    for m in &misses {
        println!("  {m}");
    }
    assert!(total >= 80, "at least 80 pairs, found {total}");
    assert!(pct(valid, total) >= 95.0, "parse/check rate below 95%");
    assert!(pct(table_ok, total) >= 90.0, "table accuracy below 90%");
    assert!(pct(found_filters, expected_filters) >= 85.0, "filter recall below 85%");
}

/// The first table a query reads (the gold table of a corpus entry).
fn first_table(query: &str, registry: &bulwark_model::SchemaRegistry) -> Option<String> {
    query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|t| t.len() > 3 && registry.get(t).is_some_and(|s| s.name() == *t))
        .map(String::from)
}

/// Table choice on text nobody wrote for this parser: the descriptions of the shared corpus's
/// Sentinel/Defender queries and Security Copilot KQL skills, against the table each query
/// reads. Reported, with a floor well below our own pairs (descriptions often name no data).
#[test]
fn corpus_descriptions_pick_the_queried_table() {
    let registry = bulwark_model::SchemaRegistry::builtin();
    let mut report = Vec::new();
    for (file, field) in [
        ("kql/sentinel_queries.jsonl", "description"),
        ("secopilot/kql_skills.jsonl", "description"),
    ] {
        let Some(path) = bulwark_testutil::shared_path(file) else {
            eprintln!("skipping: shared data {file} is absent");
            return;
        };
        let text = std::fs::read_to_string(&path).expect("readable corpus");
        let (mut total, mut hit) = (0usize, 0usize);
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            let (Some(desc), Some(query)) = (v[field].as_str(), v["query"].as_str()) else {
                continue;
            };
            let Some(gold) = first_table(query, &registry) else { continue };
            total += 1;
            let chosen = generate(desc).table;
            if chosen == gold {
                hit += 1;
            } else if std::env::var("NL2KQL_MISSES").is_ok() {
                println!("MISS {gold} <- {chosen}");
            }
        }
        let pct = 100.0 * hit as f64 / total.max(1) as f64;
        println!(
            "{file}: table chosen from the description matches the query's table in {hit}/{total} ({pct:.1}%)"
        );
        report.push(pct);
    }
    assert!(report.iter().all(|p| *p >= 20.0), "{report:?}");
}

/// Descriptions of the shared corpus's KQL skills (written for Security Copilot plugins, not
/// for this parser): every generated query must parse and check.
#[test]
fn corpus_skill_descriptions_give_valid_kql() {
    let Some(path) = bulwark_testutil::shared_path("secopilot/kql_skills.jsonl") else {
        eprintln!("skipping: shared data secopilot/kql_skills.jsonl is absent");
        return;
    };
    let text = std::fs::read_to_string(&path).expect("readable corpus");
    let (mut total, mut valid) = (0usize, 0usize);
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        let Some(desc) = v["description"].as_str() else { continue };
        let g = generate(desc);
        total += 1;
        if g.valid {
            valid += 1;
        } else {
            println!("INVALID {desc}: {}\n{:?}", g.kql, g.diagnostics);
        }
    }
    println!("{valid}/{total} skill descriptions gave valid KQL");
    assert!(total > 0);
    assert!(valid as f64 >= 0.95 * total as f64);
}

/// Random questions from a security vocabulary (a fixed-seed generator): generation never
/// panics and every query parses and checks.
#[test]
fn random_questions_give_valid_kql() {
    const WORDS: &[&str] = &[
        "show",
        "failed",
        "sign-ins",
        "processes",
        "network",
        "connections",
        "emails",
        "from",
        "to",
        "not",
        "except",
        "top",
        "10",
        "by",
        "user",
        "device",
        "count",
        "distinct",
        "past",
        "week",
        "yesterday",
        "between",
        "2024-01-01",
        "and",
        "2024-01-05",
        "powershell",
        "encoded",
        "wks-fin-001",
        "alice.smith@contoso.com",
        "185.220.101.4",
        "evil.com",
        "\"quoted value\"",
        "'x'",
        "registry",
        "run",
        "key",
        "alerts",
        "high",
        "severity",
        "incident",
        "7",
        "#3",
        "port",
        "443",
        "per",
        "hour",
        "which",
        "how",
        "many",
        "spray",
        "inbox",
        "rule",
        "forwarding",
        "dns",
        "firewall",
        "logons",
        "rdp",
        "file",
        "hash",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "more",
        "than",
        "excluding",
        "parent",
        "spawned",
        "winword",
        "legacy",
        "authentication",
        "(",
        ")",
        "|",
        "\\",
        "\"",
        "'",
        "--",
        ";",
        "é",
        "🙂",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut invalid = Vec::new();
    for _ in 0..1500 {
        let n = 1 + (next() % 12) as usize;
        let q: Vec<&str> = (0..n).map(|_| WORDS[(next() % WORDS.len() as u64) as usize]).collect();
        let q = q.join(" ");
        let g = generate(&q);
        if !g.valid {
            invalid.push(format!("{q}\n{}\n{:?}", g.kql, g.diagnostics));
        }
    }
    for i in invalid.iter().take(10) {
        println!("INVALID {i}");
    }
    assert!(invalid.is_empty(), "{} of 1500 random questions gave invalid KQL", invalid.len());
}
