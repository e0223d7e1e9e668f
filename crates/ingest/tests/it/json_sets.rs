//! JSON inputs: OTRF flattened Windows events, the GoldenSAML Log-Analytics set, Defender
//! exports, `--table`.
use crate::util::{column_values, count, run, store};
use bulwark_ingest::IngestOptions;
use std::io::BufRead;

/// Non-blank lines of a JSON-lines file: each is one record.
fn lines(path: &std::path::Path) -> u64 {
    let f = std::io::BufReader::new(std::fs::File::open(path).expect("open"));
    f.split(b'\n').filter_map(Result::ok).filter(|l| !l.trim_ascii().is_empty()).count() as u64
}

#[test]
fn otrf_atomic_windows_events_land_one_raw_row_per_line() {
    let Some(path) = bulwark_testutil::shared_path(
        "otrf/datasets/atomic/windows/lateral_movement/host/schtask_create/schtask_create_2020-12-1907003032.json",
    ) else {
        return;
    };
    let expected = lines(&path);
    let s = store();
    let report = run(&s.store, std::slice::from_ref(&path), &IngestOptions::default());
    assert_eq!(report.records, expected);
    assert_eq!(report.rejected, 0);
    let raw = count(&s.store, "SecurityEvent") + count(&s.store, "WindowsEvent");
    assert_eq!(raw as u64, expected);
    // Sysmon 1 lines, counted from the raw JSON, equal DeviceProcessEvents rows.
    let text = std::fs::read_to_string(&path).expect("read");
    let sysmon1 = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["EventID"].as_i64() == Some(1)
                && v["Channel"].as_str().is_some_and(|c| c.contains("Sysmon"))
        })
        .count();
    let security4688 = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["EventID"].as_i64() == Some(4688) && v["Channel"] == "Security")
        .count();
    assert_eq!(count(&s.store, "DeviceProcessEvents"), sysmon1 + security4688);
}

#[test]
fn golden_saml_compound_set_lands_in_typed_tables() {
    let Some(dir) =
        bulwark_testutil::shared_path("otrf/datasets/compound/GoldenSAMLADFSMailAccess")
    else {
        return;
    };
    let s = store();
    let report = run(&s.store, std::slice::from_ref(&dir), &IngestOptions::default());
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    let total: u64 = report.files_ingested.iter().map(|f| lines(&f.path)).sum();
    assert_eq!(report.records, total);
    assert_eq!(count(&s.store, "AuditLogs"), 4);
    assert_eq!(count(&s.store, "OfficeActivity"), 1);
    assert_eq!(
        count(&s.store, "SecurityEvent")
            + count(&s.store, "Event")
            + count(&s.store, "WindowsEvent"),
        38
    );
    // Defender rows without a Type are placed by their columns.
    assert_eq!(count(&s.store, "IdentityDirectoryEvents"), 2);
    assert_eq!(count(&s.store, "CloudAppEvents"), 2);
    // Typed: datetimes are timestamps, dynamic columns hold JSON.
    let times = column_values(&s.store, "AuditLogs", "ActivityDateTime");
    assert!(
        times.iter().all(|t| t.as_str().is_some_and(|s| s.starts_with("2021-08-02"))),
        "{times:?}"
    );
    let targets = column_values(&s.store, "AuditLogs", "TargetResources");
    for t in targets {
        let text = t.as_str().expect("dynamic as JSON text");
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_array()),
            "{text}"
        );
    }
    let logon_types = column_values(&s.store, "SecurityEvent", "LogonType");
    assert!(logon_types.iter().any(|v| v.as_i64() == Some(3)), "{logon_types:?}");
}

#[test]
fn whole_otrf_corpus_ingests_without_a_panic() {
    let Some(dir) = bulwark_testutil::shared_path("otrf") else { return };
    let s = store();
    let report = run(&s.store, std::slice::from_ref(&dir), &IngestOptions::default());
    assert!(report.total_rows() > 20_000, "{}", report.total_rows());
    // The binary packet capture and the YAML metadata are skipped with a reason.
    assert!(
        report
            .files_skipped
            .iter()
            .any(|f| f.path.extension().is_some_and(|e| e == "cap") && f.reason.contains("binary"))
    );
    for f in &report.files_ingested {
        assert!(f.records >= f.rejected);
    }
    // Ingesting again finds every file already there.
    let again = run(&s.store, std::slice::from_ref(&dir), &IngestOptions::default());
    assert_eq!(again.total_rows(), 0);
    assert_eq!(again.files_duplicate.len(), report.files_ingested.len());
    assert!(again.files_duplicate.iter().all(|d| d.reason.contains("already ingested")));
    assert_eq!(again.exit_code(), 2, "duplicates and skips only: nothing ingested");
}

#[test]
fn table_option_matches_columns_by_name_and_force_reingests() {
    let s = store();
    let file = s.dir.path().join("in.jsonl");
    std::fs::write(
        &file,
        "{\"TimeGenerated\":\"2024-01-01T00:00:00Z\",\"HostName\":\"h1\",\"SyslogMessage\":\"a\",\"Weird\":1}\n\
         {\"HostName\":\"h2\",\"SyslogMessage\":\"b\",\"ProcessID\":\"12\"}\n",
    )
    .expect("write");
    let options = IngestOptions { table: Some("Syslog".into()), ..Default::default() };
    let report = run(&s.store, std::slice::from_ref(&file), &options);
    assert_eq!(report.rows.get("Syslog"), Some(&2));
    assert!(report.unmapped_columns.contains("Syslog.Weird"));
    assert_eq!(
        column_values(&s.store, "Syslog", "ProcessID"),
        vec![serde_json::Value::Null, serde_json::json!(12)]
    );
    let dup = run(&s.store, std::slice::from_ref(&file), &options);
    assert_eq!(dup.total_rows(), 0);
    let forced = run(
        &s.store,
        std::slice::from_ref(&file),
        &IngestOptions { force: true, ..options.clone() },
    );
    assert_eq!(forced.total_rows(), 2);
    assert_eq!(count(&s.store, "Syslog"), 4);
    let bad = bulwark_ingest::ingest(
        &s.store,
        &[file],
        &IngestOptions { table: Some("Sislog".into()), ..Default::default() },
        &|_| {},
    );
    assert!(bad.is_err_and(|e| e.to_string().contains("Syslog")));
}
