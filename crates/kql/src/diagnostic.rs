//! Renderer-agnostic diagnostics shared by lexer, parser and checker, and a plain-text
//! caret renderer (`line:col`, the source line, carets under the span).
use crate::span::{Span, line_col};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The query is rejected.
    Error,
    /// The query is accepted but something is suspicious or unsupported.
    Warning,
}

/// One finding about a query, with byte-range labels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Stable code: `KQL0xxx` syntax, `KQL1xxx` semantic.
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One-line message.
    pub message: String,
    /// Labelled spans; the first is the primary location.
    pub labels: Vec<(Span, String)>,
    /// A suggestion such as "did you mean 'AccountName'?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with one primary label.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: vec![(span, String::new())],
            help: None,
        }
    }

    /// A warning with one primary label.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    /// Adds help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the primary label's text.
    pub fn with_label(mut self, text: impl Into<String>) -> Diagnostic {
        if let Some(first) = self.labels.first_mut() {
            first.1 = text.into();
        }
        self
    }

    /// The primary span (an empty span at 0 if there is no label).
    pub fn span(&self) -> Span {
        self.labels.first().map(|l| l.0).unwrap_or_default()
    }

    /// 1-based line and column of the primary span in `source`.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span().start_usize())
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Most diagnostics any one stage (lexer, parser, checker) reports for a query; hostile input
/// must not turn into unbounded output.
pub const MAX_DIAGNOSTICS: usize = 200;

/// Diagnostic codes in one place so they stay unique.
pub mod codes {
    /// Unexpected character or malformed token.
    pub const LEX: &str = "KQL0001";
    /// Syntax error.
    pub const SYNTAX: &str = "KQL0002";
    /// Nesting too deep.
    pub const DEPTH: &str = "KQL0003";
    /// Unknown table or tabular name.
    pub const UNKNOWN_TABLE: &str = "KQL1001";
    /// Unknown column.
    pub const UNKNOWN_COLUMN: &str = "KQL1002";
    /// Unknown function.
    pub const UNKNOWN_FUNCTION: &str = "KQL1003";
    /// Wrong number of arguments.
    pub const ARITY: &str = "KQL1004";
    /// Certain type error.
    pub const TYPE: &str = "KQL1005";
    /// Parsed but not supported by Bulwark.
    pub const UNSUPPORTED: &str = "KQL1006";
    /// Aggregate used outside summarize or similar misuse.
    pub const MISUSE: &str = "KQL1007";
}

/// Renders a diagnostic as plain text:
///
/// ```text
/// error[KQL1002]: unknown column 'AccountNam' in DeviceLogonEvents
///  --> 1:33
///   |
/// 1 | DeviceLogonEvents | project AccountNam
///   |                           ^^^^^^^^^^ did you mean 'AccountName'?
/// ```
pub fn render(source: &str, diag: &Diagnostic) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let sev = match diag.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{sev}[{}]: {}", diag.code, diag.message);
    for (i, (span, text)) in diag.labels.iter().enumerate() {
        let (line, col) = line_col(source, span.start_usize());
        let line_text = source.lines().nth(line - 1).unwrap_or("");
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {line}:{col}");
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line} | {}", line_text.trim_end());
        // Carets cover the span's part on its first line, at least one character.
        let (end_line, end_col) = line_col(source, span.end_usize());
        let line_chars = line_text.chars().count();
        let width =
            if end_line == line { end_col.saturating_sub(col) } else { line_chars + 1 - col };
        let width = width.max(1);
        let _ = write!(out, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(width));
        let label = if text.is_empty() && i == 0 { "" } else { text.as_str() };
        if label.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, " {label}");
        }
    }
    if let Some(help) = &diag.help {
        let _ = writeln!(out, "help: {help}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_points_at_the_span() {
        let src = "T\n| project AccountNam";
        let d = Diagnostic::error(codes::UNKNOWN_COLUMN, Span::new(12, 22), "unknown column")
            .with_label("here")
            .with_help("did you mean 'AccountName'?");
        let text = render(src, &d);
        assert!(text.contains("--> 2:11"), "{text}");
        assert!(text.contains("2 | | project AccountNam"), "{text}");
        assert!(text.contains("  |           ^^^^^^^^^^ here"), "{text}");
        assert!(text.ends_with("help: did you mean 'AccountName'?\n"), "{text}");
    }

    #[test]
    fn render_survives_out_of_range_spans() {
        let d = Diagnostic::error(codes::SYNTAX, Span::new(50, 60), "eof");
        let text = render("ab", &d);
        assert!(text.contains("1:3"), "{text}");
    }
}
