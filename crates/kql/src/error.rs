//! Errors of the KQL crate that are not diagnostics about a query: I/O while reading a corpus.
//!
//! Problems *in* a query (syntax, unknown columns, …) are [`crate::Diagnostic`]s, never errors:
//! hostile or broken input is data.

/// Result with the KQL crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Failures of the crate's I/O-facing helpers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a query corpus failed.
    #[error("reading query corpus at line {line}: {source}")]
    Io {
        /// 1-based line being read.
        line: usize,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
