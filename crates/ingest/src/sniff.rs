//! Recognizing a file's format from its content (the extension is only a tie-breaker).
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Decide per file from its content.
    #[default]
    Auto,
    /// Windows event log files.
    Evtx,
    /// JSON lines, concatenated JSON objects or one JSON array of objects.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// Syslog lines (RFC 3164 or 5424), CEF inside them included.
    Syslog,
    /// CEF lines, bare or inside syslog.
    Cef,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Evtx => "evtx",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Syslog => "syslog",
            Format::Cef => "cef",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => Format::Auto,
            "evtx" => Format::Evtx,
            "jsonl" | "json" | "ndjson" => Format::Jsonl,
            "csv" => Format::Csv,
            "syslog" => Format::Syslog,
            "cef" => Format::Cef,
            other => {
                return Err(format!(
                    "unknown format '{other}' (expected auto, evtx, jsonl, csv, syslog or cef)"
                ));
            }
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How much of a file is looked at.
const HEAD: usize = 64 * 1024;

/// Detects the format of `path` from its first bytes. `Err` says why it is not ingestible
/// (binary, empty, unrecognized).
pub fn sniff_file(path: &Path) -> Result<Format, String> {
    let mut head = Vec::with_capacity(HEAD);
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    file.take(HEAD as u64).read_to_end(&mut head).map_err(|e| format!("cannot read: {e}"))?;
    let evtx_ext = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("evtx"));
    sniff(&head, evtx_ext)
}

/// Detects the format of content starting with `head`.
pub fn sniff(head: &[u8], evtx_extension: bool) -> Result<Format, String> {
    if head.starts_with(b"ElfFile\0") {
        return Ok(Format::Evtx);
    }
    if head.is_empty() {
        return Err("empty file".into());
    }
    let binary = looks_binary(head);
    if binary {
        // A damaged EVTX still goes to the EVTX reader, which reports what it can salvage.
        return if evtx_extension {
            Ok(Format::Evtx)
        } else {
            Err("binary file in no supported format".into())
        };
    }
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') || text.starts_with('[') {
        return Ok(Format::Jsonl);
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    if first.contains("CEF:") {
        return Ok(Format::Cef);
    }
    if crate::syslog::looks_like_syslog(first) {
        return Ok(Format::Syslog);
    }
    let commas = first.matches(',').count();
    if commas >= 1 {
        return Ok(Format::Csv);
    }
    Err("unrecognized text format (give --format)".into())
}

/// NUL bytes, or many control characters, in the head mean binary.
fn looks_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
        .count();
    control * 20 > head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(sniff(b"ElfFile\0rest", false), Ok(Format::Evtx));
        assert_eq!(sniff(b"  {\"a\":1}\n", false), Ok(Format::Jsonl));
        assert_eq!(
            sniff(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed", false),
            Ok(Format::Syslog)
        );
        assert_eq!(sniff(b"CEF:0|Vendor|Prod|1|100|name|5|src=1.2.3.4", false), Ok(Format::Cef));
        assert_eq!(sniff(b"a,b,c\n1,2,3\n", false), Ok(Format::Csv));
        assert!(sniff(b"\x00\x01\x02\x03binary", false).is_err());
        assert_eq!(sniff(b"\x00\x01garbage", true), Ok(Format::Evtx));
        assert!(sniff(b"", false).is_err());
        assert!(sniff(b"just words here", false).is_err());
    }
}
