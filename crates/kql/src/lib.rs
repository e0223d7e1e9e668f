//! Bulwark's KQL front end: lexer → parser (spanned AST, error recovery) → schema checker →
//! pretty printer. No execution engine here: the planner lowers [`ast::TabularExpr`] and
//! [`ast::Expr`] onto DataFusion elsewhere.
//!
//! * [`parse`] returns a [`Parsed`] tree plus diagnostics, never panicking.
//! * [`check`] resolves tables in a [`bulwark_model::SchemaRegistry`], tracks the schema through
//!   every operator and reports unknown tables, columns and functions with suggestions.
//! * [`format()`] prints a canonical layout that parses back to the same tree.
//! * [`render`] draws a diagnostic as `line:col`, the source line and carets.
//! * [`check_corpus`] batch-checks a JSON-lines file of queries.
//! * [`catalog`] lists the builtin functions (arity, result type, aggregate column names) and
//!   [`time`] turns `datetime(…)`/`time(…)` literal text into nanoseconds, for the planner.
//!
//! Every node carries a byte [`Span`]; spans compare equal, so `==` on trees is structural.
//! Diagnostic codes: `KQL0xxx` syntax (lexer, parser, nesting), `KQL1xxx` semantic (see
//! [`codes`]). Nothing here panics on input: nesting is bounded by [`MAX_DEPTH`], output by
//! [`MAX_DIAGNOSTICS`].
//!
//! ```
//! use bulwark_kql::{check, format, parse, render};
//! use bulwark_model::SchemaRegistry;
//!
//! let text = "DeviceLogonEvents | where AccountNam == 'x' | take 5";
//! let parsed = parse(text);
//! assert!(parsed.has_valid_syntax());
//! let result = check(&parsed.syntax, &SchemaRegistry::builtin());
//! let d = &result.diagnostics[0];
//! assert_eq!(d.code, "KQL1002");
//! assert!(d.message.contains("did you mean 'AccountName'?"));
//! assert!(render(text, d).contains("1:27"));
//! assert_eq!(format(&parsed.syntax), "DeviceLogonEvents\n| where AccountNam == \"x\"\n| take 5");
//! ```
#![deny(missing_docs)]

pub mod ast;
pub mod catalog;
mod check;
mod corpus;
mod diagnostic;
mod error;
pub mod exec;
mod format;
pub mod lexer;
mod parser;
mod span;
pub mod time;

pub use check::{CheckResult, Column, Schema, check};
pub use corpus::{CorpusFailure, CorpusReport, Stage, check_corpus};
pub use diagnostic::{Diagnostic, MAX_DIAGNOSTICS, Severity, codes, render};
pub use error::{Error, Result};
pub use format::{format, format_expr, timespan_text};
pub use parser::{MAX_DEPTH, Parsed, parse, parse_expr};
pub use span::{Span, line_col};
