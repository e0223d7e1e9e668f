//! Parse and check throughput over the shared Sentinel corpus (queries/s and MB/s).
//! `cargo bench -p bulwark-kql --bench parse` (skips when the shared data is absent).
use bulwark_kql::{check, parse};
use bulwark_model::SchemaRegistry;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let Some(path) = bulwark_testutil::shared_path("kql/sentinel_queries.jsonl") else {
        eprintln!("skipping: shared data kql/sentinel_queries.jsonl not found");
        return;
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: cannot read {}", path.display());
        return;
    };
    let queries: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("query").and_then(|q| q.as_str()).map(str::to_string))
        .collect();
    let bytes: usize = queries.iter().map(String::len).sum();
    let registry = SchemaRegistry::builtin();

    let run = |label: &str, f: &dyn Fn(&str)| {
        // Warm up, then run whole passes for at least two seconds.
        for q in &queries {
            f(q);
        }
        let start = Instant::now();
        let mut passes = 0u32;
        while start.elapsed() < Duration::from_secs(2) {
            for q in &queries {
                f(q);
            }
            passes += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        let n = queries.len() as f64 * f64::from(passes);
        println!(
            "{label:<12} {:>10.0} queries/s  {:>7.1} MB/s  ({} queries x {passes} passes)",
            n / secs,
            bytes as f64 * f64::from(passes) / secs / 1e6,
            queries.len()
        );
    };
    run("parse", &|q| {
        black_box(parse(black_box(q)));
    });
    run("parse+check", &|q| {
        let p = parse(q);
        black_box(check(&p.syntax, &registry));
    });
}
