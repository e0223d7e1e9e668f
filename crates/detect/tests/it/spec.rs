//! Sigma specification features through the wrapper, on both row shapes: raw Windows events
//! (WindowsEvent rows, EventData nested or flat) and Defender-shaped rows.

use bulwark_detect::RuleSet;
use serde_json::{Map, Value, json};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn rules(yaml: &str) -> RuleSet {
    let mut r = RuleSet::new();
    let report = r.add_yaml(yaml, "test");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    r
}

fn sysmon1(data: Value) -> Map<String, Value> {
    obj(
        json!({"TimeGenerated": "2026-01-01T00:00:00Z", "Computer": "h1", "Channel": "Microsoft-Windows-Sysmon/Operational",
               "EventID": 1, "Provider": "Microsoft-Windows-Sysmon", "EventData": data}),
    )
}

const PROC: &str = "logsource: {product: windows, category: process_creation}\n";

fn fires(r: &RuleSet, table: &str, row: &Map<String, Value>) -> bool {
    !r.evaluate_row(table, row).is_empty()
}

#[test]
fn selections_lists_and_quantified_conditions() {
    let r = rules(&format!(
        "title: t\nid: a\n{PROC}detection:\n  sel_a: {{Image|endswith: '\\\\a.exe'}}\n  sel_b:\n    - CommandLine|contains: x1\n    - CommandLine|contains: x2\n  filter_1: {{User: svc}}\n  condition: all of sel_* and not 1 of filter_*\n"
    ));
    assert!(fires(
        &r,
        "WindowsEvent",
        &sysmon1(json!({"Image": "C:\\a.exe", "CommandLine": "run x2"}))
    ));
    assert!(!fires(
        &r,
        "WindowsEvent",
        &sysmon1(json!({"Image": "C:\\a.exe", "CommandLine": "run x3"}))
    ));
    assert!(!fires(
        &r,
        "WindowsEvent",
        &sysmon1(json!({"Image": "C:\\a.exe", "CommandLine": "x1", "User": "SVC"}))
    ));
    // Same rule, Defender row.
    let d = obj(
        json!({"FolderPath": "C:\\a.exe", "ProcessCommandLine": "x1 go", "AccountName": "bob"}),
    );
    assert!(fires(&r, "DeviceProcessEvents", &d));
    // Wrong EventID: not a process creation.
    let mut other = sysmon1(json!({"Image": "C:\\a.exe", "CommandLine": "x1"}));
    other.insert("EventID".into(), json!(3));
    assert!(!fires(&r, "WindowsEvent", &other));
}

#[test]
fn keywords_match_any_value() {
    let r = rules(&format!(
        "title: t\nid: k\n{PROC}detection:\n  keywords: ['mimikatz', 'sekurlsa']\n  condition: keywords\n"
    ));
    assert!(fires(
        &r,
        "WindowsEvent",
        &sysmon1(json!({"CommandLine": "x sekurlsa::logonpasswords"}))
    ));
    assert!(!fires(&r, "WindowsEvent", &sysmon1(json!({"CommandLine": "notepad"}))));
}

#[test]
fn value_modifiers() {
    let cases: &[(&str, Value, Value)] = &[
        (
            "CommandLine|re: '^cmd\\s+/c\\s+\\w+$'",
            json!({"CommandLine": "cmd /c whoami"}),
            json!({"CommandLine": "cmd /c who ami"}),
        ),
        (
            "CommandLine|windash|contains: ' -enc '",
            json!({"CommandLine": "x /enc y"}),
            json!({"CommandLine": "x enc y"}),
        ),
        (
            "CommandLine|base64offset|contains: 'http://'",
            json!({"CommandLine": "aHR0cDovL2V4"}),
            json!({"CommandLine": "plain http://"}),
        ),
        (
            "CommandLine|contains|all: ['a1', 'b2']",
            json!({"CommandLine": "b2 a1"}),
            json!({"CommandLine": "a1"}),
        ),
        ("ProcessId|gt: 1000", json!({"ProcessId": 4242}), json!({"ProcessId": 4})),
        ("ParentImage|exists: true", json!({"ParentImage": "p"}), json!({"Image": "p"})),
        (
            "Image|fieldref: ParentImage",
            json!({"Image": "p", "ParentImage": "p"}),
            json!({"Image": "p", "ParentImage": "q"}),
        ),
        (
            "CommandLine|cased: 'Secret'",
            json!({"CommandLine": "Secret"}),
            json!({"CommandLine": "secret"}),
        ),
        (
            "CommandLine: 'a*b?c'",
            json!({"CommandLine": "aXXbYc"}),
            json!({"CommandLine": "aXXbYYc"}),
        ),
    ];
    for (sel, pos, neg) in cases {
        let r = rules(&format!(
            "title: t\nid: m\n{PROC}detection:\n  sel:\n    {sel}\n  condition: sel\n"
        ));
        assert!(fires(&r, "WindowsEvent", &sysmon1(pos.clone())), "{sel} should match {pos}");
        assert!(!fires(&r, "WindowsEvent", &sysmon1(neg.clone())), "{sel} should not match {neg}");
    }
}

#[test]
fn cidr_on_defender_network_rows() {
    let r = rules(
        "title: t\nid: c\nlogsource: {product: windows, category: network_connection}\ndetection:\n  sel: {DestinationIp|cidr: '203.0.113.0/24', Initiated: 'true'}\n  condition: sel\n",
    );
    let row = |ip: &str, action: &str| obj(json!({"RemoteIP": ip, "ActionType": action}));
    assert!(fires(&r, "DeviceNetworkEvents", &row("203.0.113.9", "ConnectionSuccess")));
    assert!(!fires(&r, "DeviceNetworkEvents", &row("198.51.100.9", "ConnectionSuccess")));
    assert!(!fires(&r, "DeviceNetworkEvents", &row("203.0.113.9", "InboundConnectionAccepted")));
}

#[test]
fn event_count_correlation_fires_at_threshold() {
    let r = rules(
        "title: Failed\nid: f\nname: failed\nlogsource: {product: windows, service: security}\ndetection:\n  sel: {EventID: 4625}\n  condition: sel\n---\ntitle: Brute\nid: b\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [TargetUserName]\n  timespan: 5m\n  condition: {gte: 3}\n",
    );
    let mut c = r.correlator().expect("compiles");
    let mut fired = 0;
    for i in 0..3 {
        let row = obj(
            json!({"TimeGenerated": format!("2026-01-01T00:0{i}:00Z"), "Channel": "Security", "EventID": 4625,
                             "EventData": {"TargetUserName": "bob"}}),
        );
        fired += c.process_row("WindowsEvent", &row).iter().filter(|a| a.rule_id == "b").count();
    }
    assert_eq!(fired, 1);
}

#[test]
fn hostile_input_is_reported_not_panicking() {
    let mut r = RuleSet::new();
    for junk in [
        "",
        "::::",
        "title: x\ndetection: 5",
        "- a\n- b",
        "title: t\nlogsource: {}\ndetection: {sel: {a: 1}, condition: 'sel and ('}",
    ] {
        let report = r.add_yaml(junk, "junk");
        assert_eq!(report.loaded, 0, "{junk:?}");
    }
    assert!(r.evaluate_row("WindowsEvent", &Map::new()).is_empty());
}

#[test]
fn registry_hives_match_in_sysmon_spelling_on_defender_rows() {
    let r = rules(
        "title: t\nid: r\nlogsource: {product: windows, category: registry_set}\ndetection:\n  sel: {TargetObject|startswith: 'HKLM\\SOFTWARE\\Policies\\', Details: 'DWORD (0x00000001)'}\n  condition: sel\n",
    );
    let row = |key: &str| {
        obj(
            json!({"ActionType": "RegistryValueSet", "RegistryKey": key, "RegistryValueName": "DisableAntiSpyware",
                   "RegistryValueData": "DWORD (0x00000001)"}),
        )
    };
    let defender = row("HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender");
    assert!(fires(&r, "DeviceRegistryEvents", &defender));
    assert!(!fires(&r, "DeviceRegistryEvents", &row("HKEY_CURRENT_USER\\SOFTWARE\\Policies\\X")));
    let sysmon = obj(
        json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 13, "EventData": {
        "TargetObject": "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware", "Details": "DWORD (0x00000001)"}}),
    );
    assert!(fires(&r, "WindowsEvent", &sysmon));
}
