//! The demo tenant end to end: generate a small tenant with `bulwark-demo`, hunt it with the
//! built-in pack, and check the incidents against the ground truth in `scenarios.json`.
use bulwark_demo::{DemoOptions, GroundTruth, Scenario};
use bulwark_detect::hunt::{self, Findings};
use bulwark_detect::{Alert, Incident, IncidentConfig, builtin};
use bulwark_model::EntityKind;
use bulwark_store::Store;

/// A fixed end so the tenant does not depend on the clock.
const END_NS: i64 = 1_795_438_800 * 1_000_000_000; // 2026-11-23T13:00:00Z

fn tenant(seed: u64, events: u64) -> (tempfile::TempDir, Store, GroundTruth) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let options = DemoOptions { events, seed, end: END_NS, ..Default::default() };
    let summary = bulwark_demo::write_demo(&store, &options, &mut |_| {}).expect("demo");
    (dir, store, summary.ground_truth)
}

fn findings(store: &Store) -> Findings {
    let (rules, report) = builtin::builtin_rules();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    hunt::hunt(store, &rules, &IncidentConfig::default(), &mut |_| {}).expect("hunt")
}

fn norm(v: &str) -> String {
    v.to_ascii_lowercase()
}

fn has_entity(incident: &Incident, kinds: &[EntityKind], value: &str) -> bool {
    let value = norm(value);
    incident.entities.iter().any(|e| {
        kinds.contains(&e.kind) && {
            let v = norm(&e.value);
            v == value || v.split('@').next() == Some(value.as_str())
        }
    })
}

/// Whether `incident` is the scenario's: it holds the patient-zero device, every compromised
/// device and user, and at least one of the attacker's indicators (IP, hash, domain) when the
/// ground truth lists some. A phishing recipient who was later sprayed appears in both attacks'
/// incidents, so one shared user alone does not decide.
fn matches(incident: &Incident, s: &Scenario) -> bool {
    let users = [EntityKind::User, EntityKind::Mailbox];
    let device = |d: &String| has_entity(incident, &[EntityKind::Device], d);
    let indicators: Vec<(EntityKind, &String)> = s
        .malicious_ips
        .iter()
        .map(|v| (EntityKind::Ip, v))
        .chain(s.file_hashes.iter().map(|v| (EntityKind::FileHash, v)))
        .chain(s.malicious_domains.iter().map(|v| (EntityKind::Domain, v)))
        .collect();
    s.patient_zero_device.as_ref().is_none_or(device)
        && s.compromised_devices.iter().all(device)
        && s.compromised_users.iter().all(|u| has_entity(incident, &users, u))
        && (indicators.is_empty()
            || indicators.iter().any(|(kind, v)| has_entity(incident, &[*kind], v)))
}

fn dump(f: &Findings) -> String {
    let mut out = String::new();
    for (n, i) in f.incidents.iter().enumerate() {
        out.push_str(&format!(
            "#{} {} [{}] {} alerts\n",
            n + 1,
            i.title,
            i.severity,
            i.alerts.len()
        ));
        let mut titles = std::collections::BTreeMap::new();
        for &a in &i.alerts {
            let a: &Alert = &f.alerts[a];
            *titles.entry((a.title.clone(), a.table.clone())).or_insert(0) += 1;
        }
        for ((t, table), c) in titles {
            out.push_str(&format!("    {c:4} {t} ({table})\n"));
        }
        if std::env::var_os("BULWARK_DUMP_LINKS").is_some() {
            for &a in &i.alerts {
                let a = &f.alerts[a];
                let links: Vec<&str> = a.links.iter().map(|e| e.value.as_str()).collect();
                out.push_str(&format!(
                    "      {} {} {links:?}\n",
                    a.time.as_deref().unwrap_or(""),
                    a.title
                ));
            }
        }
        for e in &i.entities {
            if matches!(
                e.kind,
                EntityKind::Device | EntityKind::User | EntityKind::Ip | EntityKind::Mailbox
            ) {
                out.push_str(&format!("        {:?} {}\n", e.kind, e.value));
            }
        }
    }
    let inside: std::collections::BTreeSet<usize> =
        f.incidents.iter().flat_map(|i| i.alerts.iter().copied()).collect();
    let mut outside = std::collections::BTreeMap::new();
    for (n, a) in f.alerts.iter().enumerate().filter(|(n, _)| !inside.contains(n)) {
        let _ = n;
        *outside.entry((a.title.clone(), a.level.clone().unwrap_or_default())).or_insert(0) += 1;
    }
    out.push_str(&format!(
        "{} alerts, {} outside incidents:\n",
        f.alerts.len(),
        f.alerts.len() - inside.len()
    ));
    for ((t, l), c) in outside {
        out.push_str(&format!("    {c:4} {t} [{l}]\n"));
    }
    out
}

/// `CommandAndControl` -> `command-and-control` (ATT&CK tag spelling).
fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn check_seed(seed: u64, events: u64) {
    let (_dir, store, truth) = tenant(seed, events);
    let f = findings(&store);
    let dump = dump(&f);
    if std::env::var_os("BULWARK_DUMP").is_some() {
        eprintln!("seed {seed}:\n{dump}");
    }
    assert_eq!(truth.scenarios.len(), 3);
    // Some seeds make the phishing victim the spray victim too: one person, two attacks the
    // same night, linked by that account's activity on both sides. One incident is then the
    // right answer (as in Defender XDR); check it and the rest, not the separate titles.
    let users = |id: &str| -> Vec<String> {
        truth
            .scenarios
            .iter()
            .filter(|s| s.id == id)
            .flat_map(|s| s.compromised_users.clone())
            .collect()
    };
    let spray = users("password-spray");
    if users("intrusion").iter().any(|u| spray.contains(u)) {
        let both: Vec<&Incident> = f
            .incidents
            .iter()
            .filter(|i| {
                truth
                    .scenarios
                    .iter()
                    .filter(|s| s.id != "commodity-malware")
                    .all(|s| matches(i, s))
            })
            .collect();
        assert_eq!(both.len(), 1, "seed {seed}: one user in both attacks\n{dump}");
        eprintln!("seed {seed}: the phishing victim was also sprayed; one incident holds both");
        return;
    }
    let mut matched = Vec::new();
    for s in &truth.scenarios {
        let hits: Vec<usize> =
            (0..f.incidents.len()).filter(|&n| matches(&f.incidents[n], s)).collect();
        assert_eq!(hits.len(), 1, "seed {seed}: scenario {} in {hits:?}\n{dump}", s.id);
        let incident = &f.incidents[hits[0]];
        for d in &s.compromised_devices {
            assert!(
                has_entity(incident, &[EntityKind::Device], d),
                "seed {seed}: {} lacks {d}",
                s.id
            );
        }
        for u in &s.compromised_users {
            let users = [EntityKind::User, EntityKind::Mailbox];
            assert!(has_entity(incident, &users, u), "seed {seed}: {} lacks {u}", s.id);
        }
        // A multi-stage attack's incident spans every stage's tactic.
        if s.stages.len() >= 3 {
            for stage in &s.stages {
                let tactic = kebab(&stage.tactic);
                assert!(
                    incident.tactics.contains(&tactic),
                    "seed {seed}: {}: no {tactic} alert for stage '{}'",
                    s.id,
                    stage.name
                );
            }
        }
        // Titles say what happened, as the ground truth (Defender's wording) does.
        assert_eq!(incident.title, s.expected_incident_title, "seed {seed}\n{dump}");
        assert!(!incident.title.contains("fw01"), "an appliance is no endpoint");
        // The incident's alerts start with the attack, not with background noise before it.
        let start = bulwark_model::time::parse_datetime_ns(&s.start).map(|ns| ns / 1_000_000_000);
        assert!(
            incident.first_seen >= start.map(|t| t - 60),
            "seed {seed}: {} starts before the attack\n{dump}",
            s.id
        );
        matched.push(hits[0]);
    }
    matched.sort_unstable();
    matched.dedup();
    assert_eq!(matched.len(), 3, "seed {seed}: scenarios share an incident\n{dump}");
    for (n, i) in f.incidents.iter().enumerate() {
        if !matched.contains(&n) {
            assert!(
                matches!(i.severity.as_str(), "informational" | "low"),
                "seed {seed}: noise incident {}\n{dump}",
                i.title
            );
        }
    }
    // Incident ids depend on the alerts, not on their order.
    let mut reversed = f.alerts.clone();
    reversed.reverse();
    let ids = |incidents: Vec<Incident>| -> std::collections::BTreeSet<String> {
        incidents.into_iter().map(|i| i.id).collect()
    };
    assert_eq!(
        ids(f.incidents.clone()),
        ids(bulwark_detect::correlate(&reversed, &IncidentConfig::default()))
    );
}

#[test]
fn demo_seed_7_has_one_incident_per_scenario() {
    check_seed(7, 20_000);
}

fn rows(store: &Store, table: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let ctx = store.session_context().expect("ctx");
    let batches = rt
        .block_on(async { ctx.table(bulwark_store::table_ref(table)).await?.collect().await })
        .expect("query");
    bulwark_store::batches_to_json_rows(&batches).expect("rows")
}

#[test]
fn findings_are_written_where_kql_sees_them() {
    let (_dir, store, truth) = tenant(11, 12_000);
    let f = findings(&store);
    hunt::write_findings(&store, &f).expect("write");
    let incidents = rows(&store, "SecurityIncident");
    let mut titles: Vec<String> = incidents
        .iter()
        .filter_map(|r| r.get("Title").and_then(|t| t.as_str()).map(str::to_string))
        .collect();
    titles.sort();
    let mut expected: Vec<String> =
        truth.scenarios.iter().map(|s| s.expected_incident_title.clone()).collect();
    expected.sort();
    assert_eq!(titles, expected);
    // Each incident lists its alerts, and every listed alert is in AlertInfo.
    let info = rows(&store, "AlertInfo");
    let ids: std::collections::BTreeSet<&str> =
        info.iter().filter_map(|r| r.get("AlertId").and_then(|v| v.as_str())).collect();
    for inc in &incidents {
        let listed: Vec<String> = inc
            .get("AlertIds")
            .and_then(|v| v.as_str())
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        assert!(!listed.is_empty());
        assert!(listed.iter().all(|a| ids.contains(a.as_str())), "{listed:?}");
    }
    // The firewall is no device in the evidence; repeated beacons are counted, not repeated.
    let evidence = rows(&store, "AlertEvidence");
    assert!(evidence.iter().all(|r| r.get("DeviceName").and_then(|v| v.as_str()) != Some("fw01")));
    assert!(evidence.iter().any(|r| {
        r.get("AdditionalFields").and_then(|v| v.as_str()).is_some_and(|s| s.contains("\"Hits\""))
    }));
    // Writing again replaces, not appends.
    hunt::write_findings(&store, &f).expect("rewrite");
    assert_eq!(rows(&store, "SecurityIncident").len(), incidents.len());
}

#[test]
fn demo_seed_2_has_one_incident_per_scenario() {
    check_seed(2, 15_000);
}

#[test]
fn demo_seed_3_has_one_incident_per_scenario() {
    check_seed(3, 15_000);
}

/// What identifies an alert across the two evaluation paths (with the hits folded into it).
fn alert_keys(alerts: &[Alert]) -> Vec<String> {
    let mut keys: Vec<String> = alerts
        .iter()
        .map(|a| {
            let mut entities: Vec<String> =
                a.entities.iter().map(|e| format!("{:?}={}", e.kind, e.value)).collect();
            entities.sort();
            format!(
                "{}|{:?}|{}|{}|{}|{}",
                a.rule_id,
                a.kind,
                a.time.as_deref().unwrap_or(""),
                a.count,
                a.last_time.as_deref().unwrap_or(""),
                entities.join(",")
            )
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn streaming_gives_the_same_alerts_as_the_hunt() {
    use bulwark_detect::stream::{StreamConfig, StreamingDetector};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let (rules, _) = builtin::builtin_rules();
    // The generator writes each table's background rows before the attack rows, days apart in
    // event time: the reorder buffer must span the whole week for the same correlations.
    let config = StreamConfig { max_delay_secs: 8 * 86_400, ..StreamConfig::default() };
    let mut detector = StreamingDetector::new(&rules, config).expect("detector");
    let options =
        DemoOptions { events: 12_000, seed: 5, end: END_NS, batch_rows: 700, ..Default::default() };
    let mut tx = store.begin().expect("tx");
    let mut pushed = 0usize;
    let mut sink = |table: &'static str, batch: bulwark_demo::RecordBatch| {
        detector.push(table, &batch).expect("push");
        pushed += 1;
        tx.write(table, &batch).map_err(bulwark_demo::Error::from)
    };
    bulwark_demo::generate(&options, &mut sink, &mut |_| {}).expect("generate");
    tx.commit().expect("commit");
    assert!(pushed > 20, "the tenant came in {pushed} batches");
    let streamed = detector.finish();
    let hunted = findings(&store);
    assert!(hunted.alerts.len() > 40, "{}", hunted.alerts.len());
    assert_eq!(streamed.report.rows_scanned, hunted.report.rows_scanned);
    assert_eq!(alert_keys(&streamed.alerts), alert_keys(&hunted.alerts));
    let ids = |f: &Findings| f.incidents.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&streamed), ids(&hunted));
}

/// More seeds, on demand: `BULWARK_SEEDS=1,4,9 cargo test -p bulwark-detect --test it -- --ignored`.
#[test]
#[ignore = "slow: several tenants; run on demand with BULWARK_SEEDS"]
fn demo_more_seeds_have_one_incident_per_scenario() {
    let seeds = std::env::var("BULWARK_SEEDS").unwrap_or_else(|_| "1,4,9".into());
    for seed in seeds.split(',').filter_map(|s| s.trim().parse().ok()) {
        check_seed(seed, 15_000);
    }
}
