//! Errors of the ingest crate: failures that stop a whole run (the store, the arguments).
//! Problems with one file or one record are not errors: they are reported in the
//! [`crate::IngestReport`] and the run goes on.
use std::path::PathBuf;

/// Result with the ingest crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an ingest run could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store refused a write or a commit.
    #[error("store: {0}")]
    Store(#[from] bulwark_store::Error),
    /// `--table` named a table the store does not know.
    #[error("unknown table '{name}'{}", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownTable {
        /// The name given.
        name: String,
        /// The closest known table.
        suggestion: Option<String>,
    },
    /// A file could not be opened or read at all.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An EVTX file whose header cannot be parsed.
    #[error("{path}: not a readable EVTX file: {message}")]
    Evtx {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Building an Arrow batch failed (a bug: batches are built from the table's schema).
    #[error("internal: cannot build a batch for {table}: {message}")]
    Internal {
        /// Table being built.
        table: String,
        /// What failed.
        message: String,
    },
}
