//! Bad input never aborts the run and never loses good records.
use crate::util::{count, evtx_file, run, store, xml_events};
use bulwark_ingest::IngestOptions;

#[test]
fn truncated_evtx_keeps_the_records_before_the_cut_and_says_so() {
    let Some(path) = evtx_file("DeepBlueCLI/Powershell-Invoke-Obfuscation-many.evtx") else {
        return;
    };
    let bytes = std::fs::read(&path).expect("read");
    let s = store();
    // Header plus one whole chunk plus part of the next.
    let cut = 4096 + 65536 + 20_000;
    assert!(bytes.len() > cut);
    let truncated = s.dir.path().join("truncated.evtx");
    std::fs::write(&truncated, &bytes[..cut]).expect("write");
    let whole_chunk = s.dir.path().join("one-chunk.evtx");
    std::fs::write(&whole_chunk, &bytes[..4096 + 65536]).expect("write");
    let expected = xml_events(&whole_chunk).len();
    assert!(expected > 0);
    let report = run(&s.store, std::slice::from_ref(&truncated), &IngestOptions::default());
    assert_eq!(report.records as usize, expected + 1, "{:?}", report.rejections);
    assert_eq!(report.rejected, 1);
    assert!(
        report.rejections[0].contains("truncated.evtx:end of file: file truncated"),
        "{:?}",
        report.rejections
    );
    assert_eq!(count(&s.store, "WindowsEvent") + count(&s.store, "SecurityEvent"), expected);
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn corrupt_evtx_bytes_are_rejected_per_record_and_the_rest_ingested() {
    let Some(path) = evtx_file("DeepBlueCLI/Powershell-Invoke-Obfuscation-many.evtx") else {
        return;
    };
    let mut bytes = std::fs::read(&path).expect("read");
    // Scribble over the middle of the first chunk's records.
    for b in &mut bytes[4096 + 20_000..4096 + 20_400] {
        *b = 0xAB;
    }
    let s = store();
    let file = s.dir.path().join("corrupt.evtx");
    std::fs::write(&file, &bytes).expect("write");
    let report = run(&s.store, std::slice::from_ref(&file), &IngestOptions::default());
    let raw = count(&s.store, "WindowsEvent") + count(&s.store, "SecurityEvent");
    assert_eq!(report.records as usize, raw + report.rejected as usize);
    assert!(raw > 0, "records outside the damage are kept");
}

#[test]
fn bad_lines_rows_and_files_are_reported_as_file_record_reason() {
    let s = store();
    let dir = s.dir.path().join("in");
    std::fs::create_dir(&dir).expect("mkdir");
    let json = dir.join("a.jsonl");
    std::fs::write(
        &json,
        "{\"Type\":\"Syslog\",\"HostName\":\"h\",\"SyslogMessage\":\"one\"}\n\
         {not json\n\
         [1,2]\n\
         {\"Type\":\"Syslog\",\"HostName\":\"h\",\"SyslogMessage\":\"two\"}\n",
    )
    .expect("write");
    let csv = dir.join("b.csv");
    std::fs::write(
        &csv,
        "HostName,SyslogMessage,Facility\nh,hello,auth\nh,too,many,fields\nh,bye,kern\n",
    )
    .expect("write");
    let binary = dir.join("c.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150, 0, 1, 2, 3]).expect("write");
    let report = run(&s.store, std::slice::from_ref(&dir), &IngestOptions::default());
    assert_eq!(report.rows.get("Syslog"), Some(&4));
    assert_eq!(report.rejected, 3);
    let text = report.rejections.join("\n");
    assert!(text.contains("a.jsonl:2: invalid JSON"), "{text}");
    assert!(text.contains("a.jsonl:3: expected a JSON object, found an array"), "{text}");
    assert!(text.contains("b.csv:line 3: expected 3 fields, found 4"), "{text}");
    assert!(report.files_skipped.iter().any(|f| f.path == binary && f.reason.contains("binary")));
    assert_eq!(report.records, 7);
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn nothing_ingestible_gives_exit_code_2() {
    let s = store();
    let f = s.dir.path().join("junk.dat");
    std::fs::write(&f, [0u8; 100]).expect("write");
    let missing = s.dir.path().join("missing.evtx");
    let report = run(&s.store, &[f, missing], &IngestOptions::default());
    assert_eq!(report.total_rows(), 0);
    assert_eq!(report.files_skipped.len(), 2);
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn rejections_are_capped_per_file_then_counted() {
    let s = store();
    let f = s.dir.path().join("many.jsonl");
    let mut text = String::from("{\"Type\":\"Syslog\",\"SyslogMessage\":\"ok\"}\n");
    for _ in 0..25 {
        text.push_str("nope\n");
    }
    std::fs::write(&f, text).expect("write");
    let report = run(&s.store, std::slice::from_ref(&f), &IngestOptions::default());
    assert_eq!(report.rejected, 25);
    assert_eq!(report.rejections.len(), 11);
    assert!(report.rejections[10].contains("and 15 more"), "{:?}", report.rejections);
}
