//! Prints the text report (or JSON with `--json`) for files given on the command line.
//! `cargo run -p bulwark-scripts --example analyze -- FILE [--json]`
use bulwark_scripts::{AnalyzeOptions, analyze_bytes, render_text};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    for path in args.iter().filter(|a| !a.starts_with("--")) {
        match std::fs::read(path) {
            Ok(bytes) => {
                let a = analyze_bytes(&bytes, &AnalyzeOptions::default());
                if json {
                    println!("{}", serde_json::to_string_pretty(&a).unwrap_or_default());
                } else {
                    println!("{}", render_text(&a));
                }
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
