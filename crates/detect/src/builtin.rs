//! The built-in analytics pack: Sigma rules written by this project (author "Bulwark"), compiled
//! into the binary from `crates/detect/rules/*.yml`.
//!
//! The pack covers common ATT&CK techniques and the artifacts of the demo tenant's attack story
//! (macro phishing, encoded PowerShell cradles, beaconing, LSASS dumping, PsExec/WMI lateral
//! movement, scheduled-task and Run-key persistence, password-protected staging, rclone
//! exfiltration, password spraying, inbox forwarding rules, commodity malware). Rules on the
//! Windows Sysmon taxonomy run on Defender tables through [`crate::logsource`]; rules on
//! Defender/Sentinel-only tables use `product: m365_defender`/`sentinel`/`azure`/`m365` logsources
//! and the tables' own column names.

use crate::rules::{LoadReport, RuleSet};

/// The pack's files: (file name, YAML text).
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    ("initial_access.yml", include_str!("../rules/initial_access.yml")),
    ("execution.yml", include_str!("../rules/execution.yml")),
    ("persistence.yml", include_str!("../rules/persistence.yml")),
    ("credential_access.yml", include_str!("../rules/credential_access.yml")),
    ("discovery_lateral.yml", include_str!("../rules/discovery_lateral.yml")),
    ("defense_evasion.yml", include_str!("../rules/defense_evasion.yml")),
    ("c2_exfil.yml", include_str!("../rules/c2_exfil.yml")),
    ("identity_cloud.yml", include_str!("../rules/identity_cloud.yml")),
];

/// Adds the built-in pack to `rules`.
pub fn load_builtin(rules: &mut RuleSet) -> LoadReport {
    let origins: Vec<String> =
        BUILTIN_FILES.iter().map(|(name, _)| format!("builtin:{name}")).collect();
    let sources: Vec<(&str, &str)> = BUILTIN_FILES
        .iter()
        .zip(&origins)
        .map(|((_, yaml), origin)| (origin.as_str(), *yaml))
        .collect();
    rules.add_sources(&sources)
}

/// A rule set holding only the built-in pack, with its load report.
pub fn builtin_rules() -> (RuleSet, LoadReport) {
    let mut rules = RuleSet::new();
    let report = load_builtin(&mut rules);
    (rules, report)
}
