//! Batch checking of a JSON-lines query corpus (`bulwark kql check --jsonl FILE`).
use crate::{Error, Result, check, parse};
use bulwark_model::SchemaRegistry;
use std::io::BufRead;

/// Which stage rejected a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Syntax error.
    Parse,
    /// Schema/semantic error.
    Check,
}

/// One rejected query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CorpusFailure {
    /// 1-based line in the JSON-lines file.
    pub line: usize,
    /// Stage that failed.
    pub stage: Stage,
    /// The first error's code.
    pub code: String,
    /// The first error's message (with `line:col` inside the query).
    pub message: String,
}

/// Totals over a corpus.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct CorpusReport {
    /// Queries read.
    pub total: usize,
    /// Queries whose syntax was accepted.
    pub parsed: usize,
    /// Queries that also passed the schema check.
    pub checked: usize,
    /// Every rejected query.
    pub failures: Vec<CorpusFailure>,
}

impl CorpusReport {
    /// Parsed share in percent.
    pub fn parse_rate(&self) -> f64 {
        percent(self.parsed, self.total)
    }

    /// Checked share in percent.
    pub fn check_rate(&self) -> f64 {
        percent(self.checked, self.total)
    }
}

fn percent(n: usize, total: usize) -> f64 {
    if total == 0 { 100.0 } else { n as f64 * 100.0 / total as f64 }
}

/// Parses and checks every line's `query` field (lines that are not JSON objects with a string
/// `query` count as parse failures; blank lines are skipped).
pub fn check_corpus(lines: impl BufRead, registry: &SchemaRegistry) -> Result<CorpusReport> {
    let mut report = CorpusReport::default();
    for (i, line) in lines.lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|source| Error::Io { line: line_no, source })?;
        if line.trim().is_empty() {
            continue;
        }
        report.total += 1;
        let query = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) => match v.get("query").and_then(|q| q.as_str()) {
                Some(q) => q.to_string(),
                None => {
                    report.failures.push(CorpusFailure {
                        line: line_no,
                        stage: Stage::Parse,
                        code: "JSON".into(),
                        message: "line has no string field 'query'".into(),
                    });
                    continue;
                }
            },
            Err(e) => {
                report.failures.push(CorpusFailure {
                    line: line_no,
                    stage: Stage::Parse,
                    code: "JSON".into(),
                    message: format!("invalid JSON: {e}"),
                });
                continue;
            }
        };
        let parsed = parse(&query);
        if let Some(d) = parsed.diagnostics.iter().find(|d| d.is_error()) {
            let (l, c) = d.line_col(&query);
            report.failures.push(CorpusFailure {
                line: line_no,
                stage: Stage::Parse,
                code: d.code.into(),
                message: format!("{l}:{c}: {}", d.message),
            });
            continue;
        }
        report.parsed += 1;
        let checked = check(&parsed.syntax, registry);
        if let Some(d) = checked.diagnostics.iter().find(|d| d.is_error()) {
            let (l, c) = d.line_col(&query);
            let help = d.help.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
            report.failures.push(CorpusFailure {
                line: line_no,
                stage: Stage::Check,
                code: d.code.into(),
                message: format!("{l}:{c}: {}{help}", d.message),
            });
            continue;
        }
        report.checked += 1;
    }
    Ok(report)
}
