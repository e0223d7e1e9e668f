//! Throughput over the Unit 42 EncodedCommand corpus (scripts/s) and worst-case timings on
//! hostile inputs (10 MB text, 10 MB random bytes, 1,000-deep nesting, decompression bomb).
//! `cargo bench -p bulwark-scripts --bench unit42`
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::time::Instant;

use base64::Engine;
use bulwark_scripts::{AnalyzeOptions, analyze, analyze_bytes};

fn main() {
    let opts = AnalyzeOptions::default();
    if let Some(path) = bulwark_testutil::shared_path("scripts/unit42/encoded_commands.jsonl") {
        let text = std::fs::read_to_string(path).unwrap();
        let originals: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["original"].as_str().map(str::to_string))
            .collect();
        let bytes: usize = originals.iter().map(String::len).sum();
        // Warm-up (regex compilation) then three timed passes; the best is reported.
        for o in originals.iter().take(50) {
            std::hint::black_box(analyze(o, &opts));
        }
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            for o in &originals {
                std::hint::black_box(analyze(o, &opts));
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "unit42: {} scripts ({:.1} MB) in {:.3} s = {:.0} scripts/s, {:.1} MB/s",
            originals.len(),
            bytes as f64 / 1e6,
            best,
            originals.len() as f64 / best,
            bytes as f64 / 1e6 / best
        );
    }
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b'A'; 256 << 20]).unwrap();
        e.finish().unwrap()
    };
    let bomb = format!(
        "IEX (New-Object IO.StreamReader(New-Object IO.Compression.GzipStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String('{}'))),[IO.Compression.CompressionMode]::Decompress))).ReadToEnd()",
        base64::engine::general_purpose::STANDARD.encode(gz)
    );
    let line = "$a = 'http://198.51.100.1/x'; Write-Host $a\n";
    let big = line.repeat((10 << 20) / line.len() + 1);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..10 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let n = 1000;
    let cases: Vec<(&str, String)> = vec![
        ("10 MB PowerShell text", big),
        ("1,000-deep parentheses", format!("iex {}'write-host x'{}", "(".repeat(n), ")".repeat(n))),
        ("1,000-deep $( )", format!("iex {}'a'{}", "$(".repeat(n), ")".repeat(n))),
        ("1,000-deep JS eval", format!("eval({}'x'{})", "eval(".repeat(n), ")".repeat(n))),
        ("256 MB gzip bomb", bomb),
    ];
    for (name, input) in &cases {
        let t = Instant::now();
        let a = analyze(input, &opts);
        println!(
            "{name}: {:.3} s, {} layers, {} notes",
            t.elapsed().as_secs_f64(),
            a.layers.len(),
            a.limits_hit.len()
        );
    }
    let t = Instant::now();
    let a = analyze_bytes(&random, &opts);
    println!(
        "10 MB random bytes: {:.3} s, verdict {:?}",
        t.elapsed().as_secs_f64(),
        a.verdict.level
    );
}
