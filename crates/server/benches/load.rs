//! Load benchmark: N concurrent clients prompting the real server over HTTP for D seconds on
//! a generated demo tenant. Reports throughput, p50/p99 latency, errors and the process RSS
//! (server and clients share this process).
//!
//! `cargo bench -p bulwark-server --bench load` (environment: `BULWARK_BENCH_CLIENTS`
//! (default 50), `BULWARK_BENCH_SECS` (60), `BULWARK_BENCH_EVENTS` (demo size, 20000)).
use bulwark_server::db::{Db, HashCost};
use bulwark_server::names::{Role, WorkspaceName};
use bulwark_server::{RateLimit, Server, ServerConfig};
use std::time::{Duration, Instant};

const LIGHT: HashCost = HashCost { memory_kib: 1024, iterations: 1 };

const PROMPTS: &[&str] = &[
    "Who was patient zero?",
    "What is the impact of that incident?",
    "Show antivirus detections",
    "Which sprayed account signed in successfully?",
    "Show inbox rules forwarding mail",
    "list high severity incidents",
    "What should we do first about the intrusion?",
    "Show sign-ins for the past day",
];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let clients = env_or("BULWARK_BENCH_CLIENTS", 50) as usize;
    let secs = env_or("BULWARK_BENCH_SECS", 60);
    let events = env_or("BULWARK_BENCH_EVENTS", 20_000);
    let data = tempfile::tempdir().expect("temp");
    let t = Instant::now();
    let store = bulwark_store::Store::open(data.path()).expect("store");
    let options = bulwark_demo::DemoOptions { events, seed: 7, ..Default::default() };
    bulwark_demo::write_demo(&store, &options, &mut |_| {}).expect("demo");
    let mut rules = bulwark_detect::RuleSet::new();
    bulwark_detect::builtin::load_builtin(&mut rules);
    let findings = bulwark_detect::hunt::hunt(
        &store,
        &rules,
        &bulwark_detect::IncidentConfig::default(),
        &mut |_| {},
    )
    .expect("detection");
    bulwark_detect::hunt::write_findings(&store, &findings).expect("findings");
    eprintln!("demo tenant ({events} events) ready in {:.1} s", t.elapsed().as_secs_f64());

    let root = tempfile::tempdir().expect("temp");
    let mut config = ServerConfig::new(root.path()).with_workspace_dir("default", data.path());
    config.rate_limit = RateLimit { burst: 1_000_000, per_second: 1_000_000.0 };
    let keys: Vec<String> = {
        let db = Db::open(&config.db_path()).expect("db");
        let ws = WorkspaceName::parse("default").expect("ws");
        (0..clients)
            .map(|i| {
                db.add_user(&format!("bench{i}"), Role::Contributor, &ws, LIGHT).expect("user")
            })
            .collect()
    };
    let (rss_before, _) = rss();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (latencies, errors, elapsed) = rt.block_on(async move {
        let server = Server::open(config, false).await.expect("server");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = server.state().clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(bulwark_server::serve_state(listener, state, async {
            let _ = stop_rx.await;
        }));
        // Warm up: open the workspace (store, engine, copilot) once.
        let client = {
            bulwark_llm::install_tls_provider();
            reqwest::Client::new()
        };
        let warm = client
            .post(format!("{base}/api/v1/prompts"))
            .bearer_auth(&keys[0])
            .json(&serde_json::json!({"prompt": "What can you do?"}))
            .send()
            .await
            .expect("warm-up");
        assert!(warm.status().is_success(), "warm-up: {}", warm.status());
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let base = base.clone();
            tasks.push(tokio::spawn(async move {
                let client = {
                    bulwark_llm::install_tls_provider();
                    reqwest::Client::new()
                };
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut session: Option<String> = None;
                let mut n = i;
                while Instant::now() < deadline {
                    let prompt = PROMPTS[n % PROMPTS.len()];
                    n += 1;
                    let t = Instant::now();
                    let r = client
                        .post(format!("{base}/api/v1/prompts"))
                        .bearer_auth(&key)
                        .json(&serde_json::json!({"prompt": prompt, "session_id": session}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let v: serde_json::Value = r.json().await.unwrap_or_default();
                            lat.push(t.elapsed());
                            // A fresh session every 8 prompts keeps sessions realistic.
                            session = if n % 8 == 0 {
                                None
                            } else {
                                v["session_id"].as_str().map(String::from)
                            };
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await.expect("client");
            all.extend(lat);
            errors += e;
        }
        let elapsed = started.elapsed();
        let _ = stop_tx.send(());
        let _ = serving.await;
        (all, errors, elapsed)
    });
    let mut sorted = latencies;
    sorted.sort();
    let (rss_after, hwm) = rss();
    let n = sorted.len();
    println!(
        "bulwark-server load: {clients} clients, {:.1} s, demo tenant of {events} events",
        elapsed.as_secs_f64()
    );
    println!(
        "  prompts answered: {n} ({:.1}/s), errors: {errors}",
        n as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&sorted, 0.5).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  process RSS (server + clients): {} MiB before serving, {} MiB after, peak {} MiB",
        rss_before / 1024,
        rss_after / 1024,
        hwm / 1024
    );
    drop(rt);
}
