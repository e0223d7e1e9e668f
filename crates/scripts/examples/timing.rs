//! Ad-hoc phase timing on a file: `cargo run --release --example timing -- FILE`.
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let t = Instant::now();
    let iocs = bulwark_scripts::extract_iocs(&text);
    println!("iocs: {} in {:.3} s", iocs.len(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    let a = bulwark_scripts::analyze(&text, &bulwark_scripts::AnalyzeOptions::default());
    println!("analyze: {} layers in {:.3} s", a.layers.len(), t.elapsed().as_secs_f64());
}
