//! Property tests on hostile input: arbitrary bytes and mutated EVTX files never panic, and
//! every record read is either written or rejected. Raise `PROPTEST_CASES` for longer runs.
use crate::util::{evtx_file, run, store};
use bulwark_ingest::{Format, IngestOptions, WindowsRecord};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_json_lines_never_panic(lines in prop::collection::vec(
        prop_oneof![
            "[ -~]{0,80}",
            Just("{\"EventID\": 4688, \"Channel\": \"Security\", \"NewProcessName\": 5}".to_string()),
            Just("{\"Type\":\"Syslog\",\"ProcessID\":\"x\"}".to_string()),
            Just("{\"Type\":\"AuditLogs\",\"TargetResources\":[{\"a\":[[[]]]}]}".to_string()),
            "\\{\"[A-Za-z]{1,12}\": ?(\"[ -~]{0,20}\"|[0-9]{1,25}|true|null|\\[\\]|\\{\\})\\}",
        ], 0..30))
    {
        let s = store();
        let f = s.dir.path().join("f.jsonl");
        std::fs::write(&f, lines.join("\n")).expect("write");
        let options = IngestOptions { format: Format::Jsonl, ..Default::default() };
        let report = run(&s.store, std::slice::from_ref(&f), &options);
        let nonblank = lines.iter().filter(|l| !l.trim().is_empty()).count() as u64;
        if let Some(first) = lines.iter().find(|l| !l.trim().is_empty())
            && !first.trim_start().starts_with('[') && !first.trim_start().starts_with('{') {
            prop_assert_eq!(report.records, nonblank);
        }
        prop_assert!(report.records >= report.rejected);
    }

    #[test]
    fn flat_json_objects_never_panic(obj in prop::collection::btree_map("[A-Za-z@_]{1,10}", any::<i64>().prop_map(serde_json::Value::from), 0..10)) {
        let map: serde_json::Map<String, serde_json::Value> = obj.into_iter().collect();
        let _ = WindowsRecord::from_flat_json(&map);
    }

    #[test]
    fn mutated_evtx_never_panics(flips in prop::collection::vec((0usize..200_000, any::<u8>()), 1..64)) {
        let Some(path) = evtx_file("DeepBlueCLI/Powershell-Invoke-Obfuscation-many.evtx") else { return Ok(()) };
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.truncate(4096 + 2 * 65536);
        let len = bytes.len();
        for (at, v) in flips {
            bytes[at % len] = v;
        }
        let s = store();
        let f = s.dir.path().join("m.evtx");
        std::fs::write(&f, &bytes).expect("write");
        let report = run(&s.store, std::slice::from_ref(&f), &IngestOptions::default());
        let raw = report.rows.get("SecurityEvent").copied().unwrap_or(0)
            + report.rows.get("WindowsEvent").copied().unwrap_or(0);
        prop_assert_eq!(report.records, raw + report.rejected);
    }
}
