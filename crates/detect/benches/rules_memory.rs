//! Memory of a loaded rule set: RSS before and after loading the built-in pack and the SigmaHQ
//! rules (from `../shared/data/sigma/rules`), and after compiling the correlator.
//!
//! Run: `cargo bench -p bulwark-detect --bench rules_memory [-- restrict]` (or with `--profile
//! dev` to skip the release build). Prints rules, buckets and RSS in MiB at each step;
//! `restrict` builds engines only for the tables a demo tenant fills.

use bulwark_detect::{RuleSet, builtin};

fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn step(name: &str) {
    let (rss, hwm) = rss_mib();
    println!("{name:<40} RSS {rss:8.1} MiB   peak {hwm:8.1} MiB");
}

/// The tables a demo tenant fills (`bulwark tables` on one).
const DEMO_TABLES: &[&str] = &[
    "AlertEvidence",
    "AlertInfo",
    "AuditLogs",
    "CommonSecurityLog",
    "DeviceEvents",
    "DeviceFileEvents",
    "DeviceImageLoadEvents",
    "DeviceInfo",
    "DeviceLogonEvents",
    "DeviceNetworkEvents",
    "DeviceProcessEvents",
    "DeviceRegistryEvents",
    "EmailAttachmentInfo",
    "EmailEvents",
    "EmailUrlInfo",
    "IdentityLogonEvents",
    "OfficeActivity",
    "SecurityEvent",
    "SigninLogs",
    "Syslog",
    "UrlClickEvents",
];

fn main() {
    // `restrict` as first argument: load only engines for the demo tenant's tables.
    let restrict = std::env::args().any(|a| a == "restrict");
    step("start");
    let mut rules = RuleSet::new();
    if restrict {
        rules.restrict_to_tables(DEMO_TABLES.iter().copied());
        println!("restricted to the {} tables of a demo tenant", DEMO_TABLES.len());
    }
    let report = builtin::load_builtin(&mut rules);
    step(&format!("built-in pack ({} rules)", report.loaded));
    let Some(dir) = bulwark_testutil::shared_path("sigma/rules") else {
        println!("../shared/data/sigma/rules is absent: SigmaHQ step skipped");
        return;
    };
    let t = std::time::Instant::now();
    let report = match rules.load_dir(&dir) {
        Ok(r) => r,
        Err(e) => {
            println!("cannot load {}: {e}", dir.display());
            return;
        }
    };
    step(&format!("+ SigmaHQ rules ({} rules, {:.1} s)", report.loaded, t.elapsed().as_secs_f64()));
    println!("{rules:?}");
    let placements: usize = rules.infos().iter().map(|i| i.tables.len()).sum();
    println!(
        "{placements} rule placements (a rule is compiled once per table its logsource maps to)"
    );
    let correlator = rules.correlator();
    step("+ correlator");
    drop(correlator);
    drop(rules);
    step("dropped");
}
