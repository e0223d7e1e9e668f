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
