//! Streaming evaluation benchmark: every SigmaHQ rule (rules, rules-threat-hunting,
//! rules-emerging-threats) over the regression events as `WindowsEvent` rows, and the built-in
//! pack plus the SigmaHQ Windows rules over Defender-shaped rows derived from them.
//!
//! Run: `cargo bench -p bulwark-detect --bench sigma_eval`. Prints load time, events/s and RSS.

use std::path::Path;
use std::time::{Duration, Instant};

use bulwark_detect::event::{parse_json_stream, windows_event_row};
use bulwark_detect::{RuleSet, builtin};
use serde_json::{Map, Value};

fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn collect_json(dir: &Path, out: &mut Vec<Map<String, Value>>, depth: usize) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_json(&p, out, depth + 1);
        } else if p.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if let Ok(values) = parse_json_stream(&text, &p.display().to_string()) {
                out.extend(values.iter().filter_map(windows_event_row));
            }
        }
    }
}

/// A Sysmon process-creation row rewritten as a DeviceProcessEvents row.
fn as_defender(row: &Map<String, Value>) -> Option<Map<String, Value>> {
    if row.get("EventID").and_then(Value::as_i64) != Some(1) {
        return None;
    }
    let d = row.get("EventData")?.as_object()?;
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v.clone());
        }
    };
    put("Timestamp", row.get("TimeGenerated"));
    put("DeviceName", row.get("Computer"));
    put("FolderPath", d.get("Image"));
    put("ProcessCommandLine", d.get("CommandLine"));
    put("InitiatingProcessFolderPath", d.get("ParentImage"));
    put("InitiatingProcessCommandLine", d.get("ParentCommandLine"));
    put("AccountName", d.get("User"));
    put("ProcessIntegrityLevel", d.get("IntegrityLevel"));
    Some(m)
}

fn run(name: &str, rules: &RuleSet, table: &str, rows: &[Map<String, Value>]) {
    if rows.is_empty() {
        println!("{name}: no rows");
        return;
    }
    let budget = Duration::from_secs(5);
    let start = Instant::now();
    let mut events = 0u64;
    let mut hits = 0u64;
    while start.elapsed() < budget {
        for row in rows {
            hits += rules.evaluate_row(table, row).len() as u64;
            events += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {events} events in {secs:.2}s = {:.0} events/s ({:.2} alerts/event)",
        events as f64 / secs,
        hits as f64 / events as f64
    );
}

fn main() {
    let base = std::env::var_os("BULWARK_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let sigma = base.join("sigma");
    if !sigma.is_dir() {
        println!("skipping: {} not found", sigma.display());
        return;
    }
    let (rss0, _) = rss_kib();
    let t = Instant::now();
    let mut rules = RuleSet::new();
    let dirs = ["rules", "rules-threat-hunting", "rules-emerging-threats"].map(|d| sigma.join(d));
    let dirs: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();
    let loaded = rules.load_dirs(&dirs).map(|r| r.loaded).unwrap_or(0);
    let load = t.elapsed();
    builtin::load_builtin(&mut rules);
    let (rss1, _) = rss_kib();
    println!(
        "loaded {loaded} SigmaHQ rules (+ built-in pack) in {:.2}s; RSS {} MiB -> {} MiB",
        load.as_secs_f64(),
        rss0 / 1024,
        rss1 / 1024
    );

    let mut rows = Vec::new();
    collect_json(&sigma.join("regression_data"), &mut rows, 0);
    println!("{} regression events", rows.len());
    run("WindowsEvent (Sysmon JSON)", &rules, "WindowsEvent", &rows);
    let defender: Vec<_> = rows.iter().filter_map(as_defender).collect();
    run("DeviceProcessEvents (derived)", &rules, "DeviceProcessEvents", &defender);
    let (rss, hwm) = rss_kib();
    println!("RSS {} MiB, peak {} MiB", rss / 1024, hwm / 1024);
}
