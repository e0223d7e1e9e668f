//! Latency per prompt on a demo tenant: p50/p95/max over a fixed prompt set.
//!
//! `BULWARK_BENCH_EVENTS` (default 1,000,000) background events; `BULWARK_BENCH_DIR` reuses a
//! data directory that already holds a tenant with detection run (otherwise one is built in a
//! temporary directory, which takes a while at 1M events).
use bulwark_copilot::Copilot;
use std::time::Instant;

use bulwark_copilot::bench::PROMPTS;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: u64 = std::env::var("BULWARK_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (_tmp, dir) = match std::env::var("BULWARK_BENCH_DIR") {
        Ok(d) => (None, std::path::PathBuf::from(d)),
        Err(_) => {
            let tmp = tempfile::tempdir()?;
            let store = bulwark_store::Store::open(tmp.path())?;
            let t = Instant::now();
            let options = bulwark_demo::DemoOptions { events, seed: 7, ..Default::default() };
            bulwark_demo::write_demo(&store, &options, &mut |_| {})?;
            let mut rules = bulwark_detect::RuleSet::new();
            bulwark_detect::builtin::load_builtin(&mut rules);
            let findings = bulwark_detect::hunt::hunt(
                &store,
                &rules,
                &bulwark_detect::IncidentConfig::default(),
                &mut |_| {},
            )?;
            bulwark_detect::hunt::write_findings(&store, &findings)?;
            eprintln!("tenant of {events} events built in {:.1} s", t.elapsed().as_secs_f64());
            let path = tmp.path().to_path_buf();
            (Some(tmp), path)
        }
    };
    let copilot = Copilot::open(&dir)?;
    // Warm-up: first queries register tables and compile regexes.
    let l = bulwark_copilot::bench::measure(&copilot, 3);
    for (ms, skills, p) in &l.first_round {
        println!("{ms:8.1} ms  {skills:<28} {p}");
    }
    println!(
        "{} prompts over {} runs: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        PROMPTS.len(),
        l.samples,
        l.p50,
        l.p95,
        l.max
    );
    Ok(())
}
