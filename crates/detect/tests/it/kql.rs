//! Sigma to KQL on SigmaHQ rules: conversion coverage and snapshot-style checks of known rules.

use std::collections::BTreeMap;

use bulwark_detect::to_kql;

use crate::sigmahq::sigmahq;

#[test]
fn sigmahq_windows_rules_mostly_convert() {
    let t0 = std::time::Instant::now();
    let Some((rules, _)) = sigmahq() else { return };
    eprintln!("load {:?}", t0.elapsed());
    let mut ok = 0usize;
    let mut total = 0usize;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut tables: BTreeMap<String, usize> = BTreeMap::new();
    for rule in rules.parsed_rules() {
        if rule.logsource.product.as_deref() != Some("windows") {
            continue;
        }
        total += 1;
        match to_kql(rule) {
            Ok(q) => {
                ok += 1;
                let table =
                    q.lines().find(|l| !l.starts_with("//")).unwrap_or_default().to_string();
                *tables.entry(table).or_default() += 1;
                assert!(q.contains("Detection Rule License (DRL) 1.1"));
                if let Some(author) = &rule.author {
                    let first = author.split_whitespace().next().unwrap_or_default();
                    assert!(q.contains(first), "author missing in {q}");
                }
            }
            Err(e) => {
                let key = match &e {
                    bulwark_detect::Error::UnmappedField { field, table, .. } => {
                        format!("unmapped {table}.{field}")
                    }
                    other => {
                        let s = other.to_string();
                        s.split_once(": ").map(|(_, r)| r.to_string()).unwrap_or(s)
                    }
                };
                *reasons.entry(key).or_default() += 1;
            }
        }
    }
    eprintln!("convert {:?}", t0.elapsed());
    let pct = ok as f64 * 100.0 / total.max(1) as f64;
    eprintln!("windows rules converted to KQL: {ok}/{total} = {pct:.1}%; by table: {tables:?}");
    let mut top: Vec<_> = reasons.into_iter().collect();
    top.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (r, n) in top.iter().take(25) {
        eprintln!("  {n:5}  {r}");
    }
    assert!(pct >= 80.0, "only {pct:.1}% converted");
}

/// SigmaHQ rules whose KQL is kept in `tests/fixtures/kql/<stem>.kql`. Set `BULWARK_BLESS=1` to
/// rewrite the snapshots after an intended change (and review the diff).
const SNAPSHOTS: &[&str] = &[
    "rules/windows/process_creation/proc_creation_win_certutil_download.yml",
    "rules/windows/process_creation/proc_creation_win_powershell_base64_iex.yml",
    "rules/windows/process_creation/proc_creation_win_certoc_load_dll.yml",
    "rules/windows/registry/registry_set/registry_set_susp_user_shell_folders.yml",
    "rules/windows/network_connection/net_connection_win_office_outbound_non_local_ip.yml",
    "rules/windows/builtin/security/win_security_account_backdoor_dcsync_rights.yml",
];

#[test]
fn sigmahq_kql_snapshots() {
    let Some(base) = bulwark_testutil::shared_path("sigma") else { return };
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kql");
    let bless = std::env::var_os("BULWARK_BLESS").is_some();
    for rel in SNAPSHOTS {
        let yaml = std::fs::read_to_string(base.join(rel)).expect("rule file");
        let collection = rsigma_parser::parse_sigma_yaml(&yaml).expect("parses");
        let rule = collection.rules.first().expect("one rule");
        let kql = to_kql(rule).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let stem = std::path::Path::new(rel).file_stem().and_then(|s| s.to_str()).unwrap_or("x");
        let path = fixtures.join(format!("{stem}.kql"));
        if bless {
            std::fs::write(&path, &kql).expect("write snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing snapshot {}", path.display()));
        assert_eq!(kql, expected, "KQL of {rel} changed");
    }
}

/// A correlation over a correlation: a password-spray burst (≥ 3 failures from one IP in ten
/// minutes) seen twice within the hour. The chained query runs through our KQL engine over a
/// store holding one IP with two bursts, one with a single burst and one below the threshold.
#[test]
fn chained_correlation_runs_through_the_engine() {
    let yaml = r#"
title: Failed Sign-In
id: 0a000000-0000-4000-8000-000000000001
name: failed_signin
logsource: {product: azure, service: signinlogs}
detection:
    sel: {ResultType: '50126'}
    condition: sel
level: low
---
title: Failure Burst
id: 0a000000-0000-4000-8000-000000000002
name: failure_burst
correlation:
    type: event_count
    rules: [failed_signin]
    group-by: [IPAddress]
    timespan: 10m
    condition: {gte: 3}
level: medium
---
title: Repeated Failure Bursts
id: 0a000000-0000-4000-8000-000000000003
correlation:
    type: event_count
    rules: [failure_burst]
    group-by: [source_ip]
    aliases:
        source_ip:
            failure_burst: IPAddress
    timespan: 1h
    condition: {gte: 2}
level: high
"#;
    let collection = rsigma_parser::parse_sigma_yaml(yaml).expect("parses");
    let outer = collection
        .correlations
        .iter()
        .find(|c| c.title == "Repeated Failure Bursts")
        .expect("outer correlation");
    // The plain converter names the gap; the chained one converts.
    assert!(bulwark_detect::correlation_to_kql(outer, &collection.rules).is_err());
    let kql = bulwark_detect::chained_correlation_to_kql(
        outer,
        &collection.rules,
        &collection.correlations,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(kql.contains("TimeGenerated = LastSeen"), "{kql}");

    let mut lines = Vec::new();
    let mut failure = |ip: &str, minute: u32| {
        lines.push(
            serde_json::json!({"TimeGenerated": format!("2026-11-20T07:{minute:02}:00Z"),
                "ResultType": "50126", "IPAddress": ip, "UserPrincipalName": "a@contoso.com"})
            .to_string(),
        )
    };
    for m in [1, 2, 3, 21, 22, 23] {
        failure("203.0.113.1", m); // two bursts in the hour
    }
    for m in [1, 2, 3] {
        failure("203.0.113.2", m); // one burst
    }
    for m in [1, 2] {
        failure("203.0.113.3", m); // no burst
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("signins.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write");
    let store = bulwark_store::Store::open(dir.path().join("store")).expect("store");
    let options =
        bulwark_ingest::IngestOptions { table: Some("SigninLogs".into()), ..Default::default() };
    bulwark_ingest::ingest(&store, &[file], &options, &|_| {}).expect("ingest");
    let engine = bulwark_kql::exec::Engine::open(&store).expect("engine");
    let out = engine
        .query_blocking(&kql, &bulwark_kql::exec::QueryOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{kql}"));
    let rows = out.to_json_rows();
    assert_eq!(rows.len(), 1, "{rows:?}\n{kql}");
    assert_eq!(rows[0]["source_ip"], serde_json::json!("203.0.113.1"), "{rows:?}");
    assert_eq!(rows[0]["EventCount"], serde_json::json!(2), "{rows:?}");
}
