//! EVTX files: rows per table equal counts made independently from the XML rendering, and no
//! record is dropped silently (records read = raw rows + rejected).
use crate::util::{count, count_where, evtx_file, run, store, xml_events};
use bulwark_ingest::IngestOptions;

fn is_sysmon(c: &str) -> bool {
    c == "Microsoft-Windows-Sysmon/Operational"
}

#[test]
fn sysmon_process_creations_become_device_process_events() {
    let Some(path) = evtx_file(
        "EVTX-to-MITRE-Attack/TA0007-Discovery/T1087-Account discovery/ID1-SPN discovery (SYSMON process).evtx",
    ) else {
        return;
    };
    let events = xml_events(&path);
    let expected = events.iter().filter(|(c, id)| is_sysmon(c) && *id == 1).count();
    assert!(expected > 0, "the sample has Sysmon 1 events");
    let s = store();
    let report = run(&s.store, std::slice::from_ref(&path), &IngestOptions::default());
    assert_eq!(report.records as usize, events.len());
    assert_eq!(report.rejected, 0);
    assert_eq!(count(&s.store, "DeviceProcessEvents"), expected);
    assert_eq!(
        count_where(&s.store, "DeviceProcessEvents", "ActionType", "ProcessCreated"),
        expected
    );
    let security = events.iter().filter(|(c, _)| c == "Security").count();
    assert_eq!(count(&s.store, "SecurityEvent"), security);
    assert_eq!(count(&s.store, "WindowsEvent"), events.len() - security);
}

#[test]
fn security_4688_becomes_process_events_and_raw_security_rows() {
    let Some(path) = evtx_file(
        "EVTX-to-MITRE-Attack/TA0007-Discovery/T1069-Permission Groups Discovery/ID4688-Group discovery via commandline.evtx",
    ) else {
        return;
    };
    let events = xml_events(&path);
    let expected = events.iter().filter(|(c, id)| c == "Security" && *id == 4688).count();
    assert!(expected > 0);
    let s = store();
    let report = run(&s.store, std::slice::from_ref(&path), &IngestOptions::default());
    assert_eq!(report.rows.get("DeviceProcessEvents").copied().unwrap_or(0) as usize, expected);
    assert_eq!(count(&s.store, "DeviceProcessEvents"), expected);
    let security = events.iter().filter(|(c, _)| c == "Security").count();
    assert_eq!(count(&s.store, "SecurityEvent"), security);
    // Promoted columns carry the event data: every 4688 row has its CommandLine promoted.
    let lines = crate::util::column_values(&s.store, "DeviceProcessEvents", "ProcessCommandLine");
    assert!(lines.iter().all(|v| v.as_str().is_some_and(|s| !s.is_empty())), "{lines:?}");
}

#[test]
fn logon_events_become_device_logon_events() {
    let Some(path) = evtx_file(
        "EVTX-to-MITRE-Attack/TA0008-Lateral Movement/T1550-Use Alternate Authentication Material/ID4624-Mimikatz Pass the hash.evtx",
    ) else {
        return;
    };
    let events = xml_events(&path);
    let logons = [4624, 4625, 4634, 4648, 4672];
    let expected = events.iter().filter(|(c, id)| c == "Security" && logons.contains(id)).count();
    let successes = events.iter().filter(|(c, id)| c == "Security" && *id == 4624).count();
    assert!(successes > 0);
    let s = store();
    run(&s.store, std::slice::from_ref(&path), &IngestOptions::default());
    assert_eq!(count(&s.store, "DeviceLogonEvents"), expected);
    assert_eq!(count_where(&s.store, "DeviceLogonEvents", "ActionType", "LogonSuccess"), successes);
}

#[test]
fn powershell_script_blocks_keep_their_text() {
    let Some(path) = evtx_file(
        "EVTX-to-MITRE-Attack/TA0008-Lateral Movement/T1021.003-Distributed Component Object Model (DCOM)/ID4103,4104-DCOMexec native via PowerShell.evtx",
    ) else {
        return;
    };
    let events = xml_events(&path);
    let expected = events.iter().filter(|(c, id)| c.contains("PowerShell") && *id == 4104).count();
    assert!(expected > 0);
    let s = store();
    run(&s.store, std::slice::from_ref(&path), &IngestOptions::default());
    assert_eq!(count_where(&s.store, "DeviceEvents", "ActionType", "PowerShellCommand"), expected);
    let fields = crate::util::column_values(&s.store, "DeviceEvents", "AdditionalFields");
    assert!(
        fields.iter().any(|v| v.to_string().contains("Command")),
        "script text is kept under Command: {fields:?}"
    );
}

#[test]
fn whole_evtx_corpus_ingests_and_accounts_for_every_record() {
    let Some(dir) = bulwark_testutil::shared_path("evtx") else { return };
    let s = store();
    let report = run(&s.store, std::slice::from_ref(&dir), &IngestOptions::default());
    assert!(report.files_ingested.len() > 250, "{}", report.files_ingested.len());
    for f in &report.files_ingested {
        let raw = f.rows.get("SecurityEvent").copied().unwrap_or(0)
            + f.rows.get("WindowsEvent").copied().unwrap_or(0);
        assert_eq!(f.records, raw + f.rejected, "{}", f.path.display());
    }
    let raw = count(&s.store, "SecurityEvent") + count(&s.store, "WindowsEvent");
    assert_eq!(report.records as usize, raw + report.rejected as usize);
    // Files with identical content are ingested once.
    assert!(report.files_duplicate.iter().all(|d| d.reason.contains("same content")));
    assert_eq!(report.exit_code(), 0);
}
