//! Peak memory and time of a hunt over a data directory, as `bulwark detect` runs it.
//!
//! Run: `cargo bench -p bulwark-detect --bench hunt_memory -- DATA_DIR [sigma] [restrict]`
//! (`--profile dev` skips the release build). `sigma` adds the SigmaHQ rules from
//! `../shared/data/sigma/rules`; `restrict` builds rule engines only for the tables holding rows
//! ([`RuleSet::restrict_to_tables`]). Without DATA_DIR it prints this help and exits.

use bulwark_detect::hunt;
use bulwark_detect::{IncidentConfig, RuleSet, builtin};

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(dir) = args.iter().find(|a| !matches!(a.as_str(), "sigma" | "restrict")) else {
        println!("usage: hunt_memory DATA_DIR [sigma] [restrict]");
        return;
    };
    let store = match bulwark_store::Store::open(dir) {
        Ok(s) => s,
        Err(e) => {
            println!("cannot open {dir}: {e}");
            return;
        }
    };
    let started = std::time::Instant::now();
    let mut rules = RuleSet::new();
    if args.iter().any(|a| a == "restrict") {
        let tables: Vec<String> = store
            .table_stats()
            .map(|t| t.into_iter().filter(|s| s.rows > 0).map(|s| s.name).collect())
            .unwrap_or_default();
        rules.restrict_to_tables(tables);
    }
    builtin::load_builtin(&mut rules);
    if args.iter().any(|a| a == "sigma") {
        match bulwark_testutil::shared_path("sigma/rules").map(|d| rules.load_dir(&d)) {
            Some(Ok(r)) => println!("SigmaHQ: {} rules", r.loaded),
            Some(Err(e)) => println!("SigmaHQ rules: {e}"),
            None => println!("../shared/data/sigma/rules is absent: SigmaHQ skipped"),
        }
    }
    let loaded = started.elapsed().as_secs_f64();
    let peak_loaded = peak_mib();
    match hunt::hunt(&store, &rules, &IncidentConfig::default(), &mut |_| {}) {
        Ok(f) => println!(
            "{rules:?}: loaded in {loaded:.1} s (peak {peak_loaded:.0} MiB); {} rows, {} alerts, \
             {} incidents in {:.1} s; peak RSS {:.0} MiB",
            f.report.rows_scanned,
            f.report.alerts + f.report.product_alerts,
            f.incidents.len(),
            started.elapsed().as_secs_f64() - loaded,
            peak_mib()
        ),
        Err(e) => println!("hunt failed: {e}"),
    }
}
