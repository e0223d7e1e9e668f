//! Ingests files into a data directory and prints the report as JSON: the benchmark driver
//! (`cargo run --release -p bulwark-ingest --example ingest_files -- DATA_DIR PATH...`).
use bulwark_ingest::{IngestOptions, ProgressEvent, ingest};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: ingest_files DATA_DIR PATH...");
        return ExitCode::from(2);
    };
    let paths: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let store = match bulwark_store::Store::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let options =
        IngestOptions { force: std::env::var_os("FORCE").is_some(), ..Default::default() };
    let quiet = std::env::var_os("QUIET").is_some();
    let progress = |e: ProgressEvent| {
        if !quiet && let ProgressEvent::Records { records, events_per_sec, .. } = e {
            eprintln!("{records} records, {events_per_sec:.0} events/s");
        }
    };
    match ingest(&store, &paths, &options, &progress) {
        Ok(mut report) => {
            if quiet {
                report.files_ingested.clear();
            }
            match serde_json::to_string_pretty(&report) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: {e}"),
            }
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
