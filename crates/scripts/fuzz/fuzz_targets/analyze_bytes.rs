//! `cargo +nightly fuzz run analyze_bytes` (from crates/scripts): any bytes, analysed with
//! small limits, must never panic, and the result must respect them and round-trip as JSON.
#![no_main]

use bulwark_scripts::{AnalyzeOptions, analyze_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = AnalyzeOptions {
        max_depth: 12,
        max_output_bytes: 1 << 20,
        max_decompressed_bytes: 1 << 20,
        ..AnalyzeOptions::default()
    };
    let a = analyze_bytes(data, &options);
    assert!(!a.layers.is_empty());
    assert!(a.all_layers().count() <= options.max_depth + 1);
    let json = serde_json::to_string(&a).unwrap();
    let back: bulwark_scripts::Analysis = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
});
