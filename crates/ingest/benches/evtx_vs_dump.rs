//! Ingest of the shared EVTX set (parse + map + Parquet + commit) against the evtx crate's own
//! `evtx_dump -o jsonl` on the same files (parse + JSON to /dev/null), wall-clock, one run.
//!
//! `cargo bench -p bulwark-ingest --bench evtx_vs_dump` (set `EVTX_DUMP` to the evtx_dump
//! binary, e.g. from `cargo install evtx --root /tmp/evtx_tool`; without it only ingest is
//! timed). `BENCH_DIR` overrides the input folder.
use bulwark_ingest::{IngestOptions, ingest};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn evtx_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("evtx")) {
            out.push(p);
        }
    }
}

fn main() {
    let dir = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| bulwark_testutil::shared_path("evtx"));
    let Some(dir) = dir else { return };
    let mut files = Vec::new();
    evtx_files(&dir, &mut files);
    let bytes: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();

    let data = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tempdir: {e}");
            return;
        }
    };
    let store = match bulwark_store::Store::open(data.path()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("store: {e}");
            return;
        }
    };
    let options = IngestOptions { force: true, ..Default::default() };
    let start = Instant::now();
    let report = match ingest(&store, &files, &options, &|_| {}) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ingest: {e}");
            return;
        }
    };
    let ours = start.elapsed().as_secs_f64();
    println!(
        "ingest: {} files, {:.1} MB, {} records, {} rows in {:.2}s = {:.0} events/s",
        files.len(),
        bytes as f64 / 1e6,
        report.records,
        report.total_rows(),
        ours,
        report.records as f64 / ours
    );

    let Some(dump) = std::env::var_os("EVTX_DUMP") else {
        println!("evtx_dump: set EVTX_DUMP to compare");
        return;
    };
    let start = Instant::now();
    let mut failed = 0;
    for f in &files {
        let ok = Command::new(&dump)
            .args(["-o", "jsonl"])
            .arg(f)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        failed += usize::from(!ok);
    }
    let theirs = start.elapsed().as_secs_f64();
    println!(
        "evtx_dump -o jsonl: {} files ({failed} failed) in {theirs:.2}s = {:.0} events/s",
        files.len(),
        report.records as f64 / theirs
    );
    println!("speed ratio (evtx_dump time / ingest time): {:.2}x", theirs / ours);
}
