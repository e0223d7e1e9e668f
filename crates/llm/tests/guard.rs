//! The grounding guard on crafted model answers: invented facts removed (or flagged),
//! supported ones kept, defanged IOCs, number and timestamp formats, hostile input.
#![allow(clippy::unwrap_used)]

use bulwark_llm::guard::{ClaimKind, EvidenceIndex, GuardPolicy, check, check_with};
use serde_json::json;

/// Evidence shaped like the copilot's: a query and its rows.
fn evidence() -> EvidenceIndex {
    let mut ev = EvidenceIndex::new();
    ev.add_json(&json!({
        "query": "DeviceNetworkEvents | where Timestamp > ago(7d) | where RemoteIP == \"10.0.0.5\"",
        "rows": [
            {"Timestamp": "2024-05-01T10:22:33.1234567Z", "DeviceName": "ws-fin-07.contoso.local",
             "RemoteIP": "10.0.0.5", "RemotePort": 443, "InitiatingProcessFileName": "powershell.exe",
             "AccountUpn": "jdoe@contoso.com", "SentBytes": 1234567},
            {"Timestamp": "2024-05-01T11:05:00Z", "DeviceName": "ws-fin-07.contoso.local",
             "RemoteIP": "10.0.0.5", "RemotePort": 443, "InitiatingProcessFileName": "powershell.exe",
             "AccountUpn": "jdoe@contoso.com", "SentBytes": 2048}
        ]
    }));
    ev.add_json(
        &json!({"IncidentId": 7, "Title": "Suspicious PowerShell download", "AlertCount": 3,
        "Url": "http://evil-updates.com/payload.ps1",
        "SHA256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}),
    );
    ev.add_count(2);
    ev
}

#[test]
fn invented_ip_host_and_count_are_removed() {
    let answer = "Device WS-FIN-07 connected to 10.0.0.5 over port 443 [E1]. \
It also reached 10.9.9.9 shortly after. \
The same user logged on to EVIL-PC. \
In total 57 connections were made.\n\
Incident 7 has 3 alerts [E2].";
    let report = check(answer, &evidence());
    let bad: Vec<(ClaimKind, String)> =
        report.unsupported().iter().map(|c| (c.kind, c.text.clone())).collect();
    assert_eq!(
        bad,
        vec![
            (ClaimKind::Ip, "10.9.9.9".to_string()),
            (ClaimKind::Host, "EVIL-PC".to_string()),
            (ClaimKind::Number, "57".to_string()),
        ]
    );
    assert_eq!(report.removed_statements, 3);
    assert!(report.text.starts_with(
        "Device WS-FIN-07 connected to 10.0.0.5 over port 443 [E1].\nIncident 7 has 3 alerts [E2]."
    ), "{}", report.text);
    assert!(!report.text.contains("10.9.9.9 shortly"));
    assert!(!report.text.contains("logged on to EVIL-PC"));
    assert!(report.text.ends_with(
        "Removed 3 statements not supported by the evidence: 10.9.9.9, 'host EVIL-PC', 'number 57'."
    ), "{}", report.text);
    // Every supported claim was checked too.
    let ok: Vec<&str> =
        report.claims.iter().filter(|c| c.supported).map(|c| c.text.as_str()).collect();
    for expected in ["WS-FIN-07", "10.0.0.5", "443", "[E1]", "Incident 7", "3", "[E2]"] {
        assert!(ok.contains(&expected), "{expected} not in {ok:?}");
    }
}

#[test]
fn fully_supported_answer_is_unchanged() {
    let answer = "## Summary\n\
1. On 2024-05-01 at 10:22 UTC, jdoe@contoso.com ran powershell.exe on ws-fin-07.contoso.local [E1].\n\
2. It downloaded hxxp://evil-updates[.]com/payload.ps1 (SHA-256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855) [E2].\n\
3. There were 2 connections to 10[.]0[.]0[.]5 in the last 7 days, sending 1.2 MB and 2,048 bytes.\n\
See incident 7 for the 3 alerts.";
    let report = check(answer, &evidence());
    assert!(report.is_clean(), "{:?}", report.unsupported());
    assert_eq!(report.text, answer);
    assert_eq!(report.note, None);
    assert_eq!(report.removed_statements, 0);
    let kinds: Vec<ClaimKind> = report.claims.iter().map(|c| c.kind).collect();
    for k in [
        ClaimKind::Timestamp,
        ClaimKind::Account,
        ClaimKind::File,
        ClaimKind::Domain,
        ClaimKind::Url,
        ClaimKind::Hash,
        ClaimKind::Ip,
        ClaimKind::Number,
        ClaimKind::Id,
        ClaimKind::Citation,
    ] {
        assert!(kinds.contains(&k), "{k:?} not extracted: {kinds:?}");
    }
    // List ordinals and the years are not claims.
    assert!(!report.claims.iter().any(|c| c.text == "1" || c.text == "2024"));
}

#[test]
fn flag_policy_keeps_text_and_marks_claims() {
    let answer = "The beacon went to 10.9.9.9 from WS-FIN-07.";
    let report = check_with(answer, &evidence(), GuardPolicy::Flag);
    assert_eq!(report.removed_statements, 0);
    assert!(report.text.starts_with("The beacon went to 10.9.9.9 [unsupported] from WS-FIN-07."));
    assert!(report.text.ends_with("Flagged 1 claim not supported by the evidence: 10.9.9.9."));
}

#[test]
fn defanged_iocs_match_either_way() {
    let mut ev = EvidenceIndex::new();
    ev.add("IOC list: hxxps://bad-domain[.]net/login 203[.]0[.]113[.]9 phish[@]bad-domain[.]net");
    let answer = "Block https://bad-domain.net/login and 203.0.113.9; mail came from phish@bad-domain.net. \
Also bad-domain[.]net resolves to 203[.]0[.]113[.]10.";
    let report = check(answer, &ev);
    let bad: Vec<&str> = report.unsupported().iter().map(|c| c.text.as_str()).collect();
    // The defanged invented IP is reported as written.
    assert_eq!(bad, vec!["203[.]0[.]113[.]10"]);
    assert!(report.text.starts_with("Block https://bad-domain.net/login and 203.0.113.9;"));
    assert!(!report.text.contains("resolves"));
}

#[test]
fn number_formats() {
    let mut ev = EvidenceIndex::new();
    ev.add_json(&json!([{"Count": 1234, "Bytes": 5_368_709_120u64, "Ratio": 3.5, "Failed": 1200}]));
    ev.add_count(17);
    let cases = [
        ("There were 1,234 events.", true),
        ("There were 1234 events.", true),
        ("There were 1.2k failures.", true),
        ("About 5 GB left the host.", true), // 5 GiB = 5368709120
        ("About 5.4 GB left the host.", true), // 5.4e9 ± 0.05e9 holds 5368709120
        ("The ratio was 3.50 to one.", true),
        ("17 rows matched.", true),
        ("There were 1,235 events.", false),
        ("There were 4.2k failures.", false),
        ("About 9 GB left the host.", false),
        ("Roughly 88% were blocked.", false),
    ];
    for (answer, ok) in cases {
        let report = check(answer, &ev);
        assert_eq!(report.is_clean(), ok, "{answer}: {:?}", report.claims);
        assert!(report.claims.iter().any(|c| c.kind == ClaimKind::Number), "{answer}");
    }
}

#[test]
fn not_claims_are_left_alone() {
    let ev = EvidenceIndex::new();
    let answer = "1. Review the SHA-256 values on x64 hosts running Win10 in 2024.\n2) Use UTF-8.\n\
3. Patch Windows Server 2019 and Windows 10, require TLS 1.2 and 64-bit builds.\n\
4. Watch the next 24 hours and re-run in 15 minutes.\n\
5. Hash with SHA256 or MD5, map to T1059, install KB5034441, require TLS13 and SMB3.";
    let report = check(answer, &ev);
    assert!(report.claims.is_empty(), "{:?}", report.claims);
    assert_eq!(report.text, answer);
}

#[test]
fn capital_digit_host_names() {
    let mut ev = EvidenceIndex::new();
    ev.add_json(&json!({"Computer": "DC01.contoso.local", "Other": "SRV7"}));
    let report = check("DC01 and SRV7 were targeted. DC02 was not. Then WKS042$ logged on.", &ev);
    let bad: Vec<&str> = report.unsupported().iter().map(|c| c.text.as_str()).collect();
    assert_eq!(bad, vec!["DC02", "WKS042"]);
}

#[test]
fn counts_of_json_rows_are_supported() {
    let mut ev = EvidenceIndex::new();
    ev.add_json(&json!({"rows": [{"a": "x"}, {"a": "y"}, {"a": "z"}]}));
    assert!(check("The query returned 3 rows.", &ev).is_clean());
    assert!(!check("The query returned 4 rows.", &ev).is_clean());
}

#[test]
fn a_code_block_with_an_invented_value_goes_whole() {
    let mut ev = EvidenceIndex::new();
    ev.add("DeviceName ws-fin-07");
    let answer = "Next, run:\n```kql\nDeviceEvents\n| where DeviceName == \"ws-fin-07\"\n| where RemoteIP == \"10.7.7.7\"\n```\nThen review ws-fin-07.";
    let report = check(answer, &ev);
    assert_eq!(report.removed_statements, 1);
    assert!(
        report.text.starts_with("Next, run:\nThen review ws-fin-07.\n\nRemoved 1 statement"),
        "{}",
        report.text
    );
}

#[test]
fn timestamps_in_many_formats() {
    let mut ev = EvidenceIndex::new();
    ev.add_json(
        &json!({"TimeGenerated": "2024-05-01T10:22:33.1234567Z", "Other": "5/3/2024 4:15:00 PM"}),
    );
    let cases = [
        ("It started at 2024-05-01T10:22:33Z.", true),
        ("It started at 2024-05-01 10:22 UTC.", true),
        ("It started at 2024-05-01T12:22:33+02:00.", true),
        ("It started on 2024-05-01.", true),
        ("It started on May 1, 2024 at 10:22.", true),
        ("It started on 1 May 2024.", true),
        ("It started on 05/01/2024 10:22 AM.", true),
        ("It started at 10:22:33 UTC.", true),
        ("It started at 10:22 AM.", true),
        ("The second burst was at 4:15 p.m. that day.", true),
        ("The second burst was on 2024-05-03 16:15.", true),
        ("It started at 2024-05-01T10:23:00Z.", false),
        ("It started on 2024-05-02.", false),
        ("It started at 11:47.", false),
        ("It started on June 9, 2024.", false),
    ];
    for (answer, ok) in cases {
        let report = check(answer, &ev);
        assert!(
            report.claims.iter().any(|c| c.kind == ClaimKind::Timestamp),
            "{answer}: {:?}",
            report.claims
        );
        assert_eq!(report.is_clean(), ok, "{answer}: {:?}", report.claims);
    }
}

#[test]
fn citations_must_point_at_existing_items() {
    let mut ev = EvidenceIndex::new();
    ev.add("first item: host WS-1");
    ev.add("second item");
    let report = check("WS-1 was seen [E1][E2]. It was also seen elsewhere [E5].", &ev);
    let bad: Vec<&str> = report.unsupported().iter().map(|c| c.text.as_str()).collect();
    assert_eq!(bad, vec!["[E5]"]);
    // The bogus citation goes; the sentence stays.
    assert!(
        report.text.starts_with("WS-1 was seen [E1][E2]. It was also seen elsewhere."),
        "{}",
        report.text
    );
    assert!(report.text.contains("'citation [E5]'"));
}

#[test]
fn hosts_accounts_and_ids() {
    let mut ev = EvidenceIndex::new();
    ev.add_json(&json!({"DeviceName": "srv01.contoso.local", "AccountDomain": "CONTOSO",
        "AccountName": "svc_backup", "AlertId": "da637a1b-0c2d-4e5f-8a9b-1c2d3e4f5a6b"}));
    let report = check(
        "The device SRV01 ran as CONTOSO\\svc_backup (alert da637a1b-0c2d-4e5f-8a9b-1c2d3e4f5a6b). \
Host DC01 was untouched. Account CONTOSO\\admin was not used. Alert 99 is related.",
        &ev,
    );
    let bad: Vec<(ClaimKind, &str)> =
        report.unsupported().iter().map(|c| (c.kind, c.text.as_str())).collect();
    assert_eq!(
        bad,
        vec![
            (ClaimKind::Host, "DC01"),
            (ClaimKind::Account, "CONTOSO\\admin"),
            (ClaimKind::Id, "Alert 99"),
        ]
    );
    assert!(report.text.starts_with("The device SRV01 ran as CONTOSO\\svc_backup"));
}

#[test]
fn list_lines_with_invented_facts_disappear_whole() {
    let mut ev = EvidenceIndex::new();
    ev.add("RemoteIP 10.0.0.5");
    let answer = "Findings:\n- Beacon to 10.0.0.5\n- Beacon to 10.6.6.6\n- Nothing else";
    let report = check(answer, &ev);
    assert!(
        report
            .text
            .starts_with("Findings:\n- Beacon to 10.0.0.5\n- Nothing else\n\nRemoved 1 statement"),
        "{}",
        report.text
    );
}

#[test]
fn everything_removed_leaves_the_note() {
    let report = check("Host EVIL-PC talked to 10.9.9.9.", &EvidenceIndex::new());
    assert_eq!(report.kept_statements, 0);
    assert_eq!(
        report.text,
        "Removed 1 statement not supported by the evidence: 'host EVIL-PC', 10.9.9.9."
    );
}

#[test]
fn hostile_input_never_panics() {
    let mut ev = EvidenceIndex::new();
    // Deep JSON is walked without recursion.
    let mut deep = json!("leaf 10.0.0.1");
    for _ in 0..1_000 {
        deep = json!([deep]);
    }
    ev.add_json(&deep);
    ev.add("İstanbul ǅ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{202e}evil\u{202c} ß");
    let weird = [
        "",
        "[E",
        "[E99999999999999999999]",
        "hxxp",
        "[.][.][.]",
        "1.2.3.4.5.6.7.8",
        "::::::::",
        "99999999999999999999999999999999999 bytes",
        "1e308 and 1,000,000,000,000,000,000,000,000 GB",
        "İİİİ WS-İ-07 10.0.0.1İ",
        "\u{202e}10.0.0.9\u{202c} 𝟙𝟚.𝟘.𝟘.𝟙",
        "13/45/2024 25:61 and 2024-02-30T99:99:99Z and Feb 31, 2024",
        "-\n-\n```\n10.1.1.1\n```\n|a|b|\n",
    ];
    for w in weird {
        let _ = check(w, &ev);
        let _ = check_with(w, &ev, GuardPolicy::Flag);
    }
    // Large input: linear passes (this would take minutes if anything were quadratic).
    let big =
        "Host WS-FIN-07 sent 1,234 bytes to 10.0.0.1 at 2024-05-01T10:22:33Z [E1]. ".repeat(5_000);
    let report = check(&big, &ev);
    assert_eq!(report.claims.len(), 5_000 * 5);
}

#[test]
fn random_fragment_soup_never_panics() {
    // Deterministic xorshift so failures reproduce.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let fragments = [
        "[.]",
        "(.)",
        "[dot]",
        "hxxp",
        "hXXps://",
        "://",
        "10.",
        "0.",
        "255",
        "::",
        "fe80",
        "1,",
        "234",
        ".5",
        "k ",
        "MB",
        "%",
        "é",
        "İ",
        "ǅ",
        "\u{202e}",
        "\u{200b}",
        "𝟙",
        "\n",
        "```",
        "|",
        "- ",
        "1. ",
        "[E",
        "]",
        "E3",
        "–",
        "-",
        "WS",
        "host ",
        "device ",
        "incident ",
        "#",
        "@",
        "\\",
        "C:\\",
        "/",
        "2024-",
        "05-01",
        "T10:",
        "22",
        ":33Z",
        " AM",
        "May ",
        "1st, ",
        "CVE-",
        "da637a1b-0c2d-",
        "e3b0c442",
        "98fc1c14",
        ".com",
        ".exe",
        " ",
        ". ",
        "! ",
        "?",
        "\"",
        "'",
        "`",
        "\r",
    ];
    let mut ev = EvidenceIndex::new();
    ev.add("ws-fin-07 10.0.0.5 2024-05-01T10:22:33Z evil.com 1,234");
    for round in 0..2_000 {
        let len = (next() % 40) as usize;
        let answer: String =
            (0..len).map(|_| fragments[(next() % fragments.len() as u64) as usize]).collect();
        let policy = if round % 2 == 0 { GuardPolicy::Remove } else { GuardPolicy::Flag };
        let report = check_with(&answer, &ev, policy);
        for c in &report.claims {
            assert_eq!(answer.get(c.span.clone()), Some(c.text.as_str()), "{answer:?}");
        }
        if report.is_clean() {
            assert_eq!(report.text, answer);
        }
        // Indexing arbitrary text as evidence must not panic either.
        let mut e2 = EvidenceIndex::new();
        e2.add(&answer);
        // Everything the answer says is in its own evidence, citations aside.
        let self_check = check(&answer, &e2);
        for c in self_check.unsupported() {
            // Citations need items; scaled numbers (`234k`) are not their own digits.
            let scaled =
                c.kind == ClaimKind::Number && c.text.bytes().any(|b| b.is_ascii_alphabetic());
            assert!(
                c.kind == ClaimKind::Citation || scaled,
                "{:?} unsupported by its own text {answer:?}",
                c
            );
        }
    }
}

#[test]
fn citation_lists_and_ranges() {
    let mut ev = EvidenceIndex::new();
    for i in 0..3 {
        ev.add(&format!("item {i}"));
    }
    assert!(check("Seen twice [E1, E3] and across [E1–E3].", &ev).is_clean());
    let report = check("Seen [E2; E4]. Also [E2-E9].", &ev);
    let bad: Vec<&str> = report.unsupported().iter().map(|c| c.text.as_str()).collect();
    assert_eq!(bad, vec!["[E2; E4]", "[E2-E9]"]);
    assert!(report.text.starts_with("Seen. Also."), "{}", report.text);
    // A caller that numbers its own evidence.
    ev.set_item_count(9);
    assert!(check("Also [E2-E9].", &ev).is_clean());
}

#[test]
fn flagging_a_defanged_claim_marks_the_original_text() {
    let report =
        check_with("Block hxxp://bad[.]example/x now.", &EvidenceIndex::new(), GuardPolicy::Flag);
    assert!(
        report.text.starts_with("Block hxxp://bad[.]example/x [unsupported] now."),
        "{}",
        report.text
    );
    assert_eq!(report.claims[0].kind, ClaimKind::Url);
}

#[test]
fn notes_do_not_carry_invisible_characters() {
    let report = check("Dropped C:\\Temp\\inv\u{202e}fdp.exe here.", &EvidenceIndex::new());
    let note = report.note.unwrap();
    assert!(note.contains("C:\\Temp\\invfdp.exe"), "{note}");
    assert!(!note.contains('\u{202e}'));
}
