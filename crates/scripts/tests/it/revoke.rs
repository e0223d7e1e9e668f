//! Revoke-Obfuscation demo scripts (Invoke-Obfuscation special-character and whitespace
//! encodings) must come out readable.

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
