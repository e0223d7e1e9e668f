//! The demo tenant on a real store: volume, coverage of tables, ground truth present in the
//! data, determinism.
use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use bulwark_demo::{DemoOptions, GroundTruth, write_demo};
use bulwark_store::{Store, table_ref};
use std::collections::BTreeMap;

const END: i64 = 1_763_900_000_000_000_000; // 2025-11-23T12:13:20Z, fixed so runs compare.

fn options(seed: u64, events: u64) -> DemoOptions {
    DemoOptions { events, seed, end: END - END % 3_600_000_000_000, ..Default::default() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Every string value of every table, as one text per table (small tenants only).
fn all_text(store: &Store) -> BTreeMap<String, String> {
    let rt = runtime();
    let ctx = store.session_context().expect("ctx");
    let mut out = BTreeMap::new();
    for stats in store.table_stats().expect("stats") {
        if stats.rows == 0 {
            continue;
        }
        let batches = rt.block_on(async {
            ctx.table(table_ref(&stats.name)).await.expect("table").collect().await.expect("scan")
        });
        let mut text = String::new();
        for b in &batches {
            for col in b.columns() {
                if col.data_type() == &DataType::Utf8 {
                    let s = col.as_string::<i32>();
                    for i in 0..s.len() {
                        if s.is_valid(i) {
                            text.push_str(s.value(i));
                            text.push('\n');
                        }
                    }
                }
            }
        }
        out.insert(stats.name.clone(), text);
    }
    out
}

#[test]
fn demo_fills_the_tables_and_plants_findable_ground_truth() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let summary = write_demo(&store, &options(7, 20_000), &mut |_| {}).expect("demo");

    let stats = store.table_stats().expect("stats");
    let with_rows: Vec<&str> =
        stats.iter().filter(|t| t.rows > 0).map(|t| t.name.as_str()).collect();
    assert!(with_rows.len() >= 20, "tables with rows: {with_rows:?}");
    let total: u64 = stats.iter().map(|t| t.rows).sum();
    assert_eq!(total, summary.total_rows());
    assert!((18_000..=22_000).contains(&total), "total rows {total} not within 10% of 20000");

    let text: GroundTruth =
        serde_json::from_slice(&std::fs::read(dir.path().join("scenarios.json")).expect("read"))
            .expect("scenarios.json parses");
    assert_eq!(text, summary.ground_truth);
    assert_eq!(text.scenarios.len(), 3);

    let corpus = all_text(&store);
    let everywhere: String = corpus.values().cloned().collect();
    for s in &text.scenarios {
        let mut values: Vec<&String> = Vec::new();
        values.extend(s.patient_zero_device.iter());
        values.extend(s.patient_zero_user.iter());
        values.extend(&s.compromised_devices);
        values.extend(&s.compromised_users);
        values.extend(&s.malicious_domains);
        values.extend(&s.malicious_urls);
        values.extend(&s.malicious_ips);
        values.extend(&s.file_hashes);
        assert!(!values.is_empty(), "{} has entities", s.id);
        for v in values {
            assert!(
                everywhere.contains(v.as_str()),
                "scenario {}: '{v}' does not occur in any table",
                s.id
            );
        }
        assert!(!s.stages.is_empty());
        assert!(s.start <= s.end, "{}: {} > {}", s.id, s.start, s.end);
    }
    // Specific placements an analyst will query.
    let intrusion = &text.scenarios[0];
    let pz = intrusion.patient_zero_device.as_deref().expect("pz");
    let macro_cmd = intrusion.facts["macro_child_command_line"].as_str().expect("cmd");
    assert!(corpus["DeviceProcessEvents"].contains(macro_cmd));
    assert!(corpus["DeviceProcessEvents"].contains(pz));
    let exfil = intrusion.facts["exfil_ip"].as_str().expect("ip");
    assert!(corpus["CommonSecurityLog"].contains(exfil));
    let spray = &text.scenarios[1];
    assert!(corpus["SigninLogs"].contains(spray.facts["victim_upn"].as_str().expect("upn")));
    assert!(
        corpus["OfficeActivity"].contains(spray.facts["forwarding_address"].as_str().expect("fwd"))
    );
    assert!(corpus["AlertInfo"].contains("AgentTesla"));
}

fn fingerprint(seed: u64) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    write_demo(&store, &options(seed, 10_000), &mut |_| {}).expect("demo");
    all_text(&store)
}

#[test]
fn same_seed_same_data_and_other_seed_other_data() {
    let a = fingerprint(11);
    let b = fingerprint(11);
    let c = fingerprint(12);
    assert_eq!(a, b, "same seed and end must give identical data");
    assert_ne!(a, c, "another seed must give another tenant");
}

#[test]
fn out_of_range_options_are_refused_with_the_flag_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let err = write_demo(&store, &options(1, 5), &mut |_| {}).expect_err("too few");
    assert!(err.to_string().contains("--events"), "{err}");
    assert_eq!(store.manifest().expect("manifest").generation, 0, "nothing committed");
}
