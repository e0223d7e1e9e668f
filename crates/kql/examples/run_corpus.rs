//! Runs every query of a JSON-lines corpus (`{"query": …}` per line) over a data directory and
//! reports which ones fail to plan or execute, grouped by message: a coverage check of the
//! engine on real-world KQL.
//!
//! `cargo run --release -p bulwark-kql --example run_corpus -- DATA_DIR CORPUS.jsonl`
use std::collections::BTreeMap;
use std::io::BufRead;

use bulwark_kql::exec::{Engine, QueryError, QueryOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(corpus)) = (args.next(), args.next()) else {
        eprintln!("usage: run_corpus DATA_DIR CORPUS.jsonl");
        std::process::exit(2);
    };
    let store = bulwark_store::Store::open(&dir)?;
    let engine = Engine::open(&store)?;
    let rt = tokio::runtime::Runtime::new()?;
    let options = QueryOptions { max_rows: Some(10), ..Default::default() };
    let (mut total, mut checked, mut ran) = (0usize, 0usize, 0usize);
    let mut failures: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let file = std::io::BufReader::new(std::fs::File::open(&corpus)?);
    for (i, line) in file.lines().enumerate() {
        let line = line?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let Some(q) = v.get("query").and_then(|q| q.as_str()) else { continue };
        total += 1;
        match rt.block_on(engine.query(q, &options)) {
            Ok(_) => {
                checked += 1;
                ran += 1;
            }
            Err(QueryError::Syntax(_)) | Err(QueryError::Check(_)) => {}
            Err(e) => {
                checked += 1;
                let msg = e.to_string();
                let key: String = msg.chars().take(90).collect();
                failures.entry(key).or_default().push(i + 1);
            }
        }
    }
    println!(
        "{total} queries, {checked} pass the checker, {ran} ran ({:.1}% of checked)",
        ran as f64 * 100.0 / checked.max(1) as f64
    );
    let mut v: Vec<_> = failures.into_iter().collect();
    v.sort_by_key(|(_, lines)| std::cmp::Reverse(lines.len()));
    for (msg, lines) in v.iter().take(40) {
        println!("{:4}  {msg}  (e.g. line {})", lines.len(), lines[0]);
    }
    Ok(())
}
