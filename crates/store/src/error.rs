//! Errors of the store: I/O with the path involved, format problems, engine errors.
use std::path::PathBuf;

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot create", "cannot read", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The manifest exists but cannot be understood.
    #[error(
        "the store manifest {path} is corrupt ({message}); restore it from a backup or move the data directory aside"
    )]
    CorruptManifest {
        /// Manifest path.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// The data directory was written by a newer Bulwark.
    #[error(
        "the data directory {path} has format version {found}; this Bulwark reads version {supported}. Upgrade Bulwark"
    )]
    UnsupportedVersion {
        /// Data directory.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// Another process holds the writer lock.
    #[error("another Bulwark process is writing to {0}; wait for it to finish and try again")]
    Locked(PathBuf),
    /// A table that is not in the schema registry.
    #[error("unknown table '{name}'{}", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownTable {
        /// Table name as given.
        name: String,
        /// Closest known table.
        suggestion: Option<String>,
    },
    /// A batch whose columns do not match its table.
    #[error("batch for table '{table}' does not match its schema: {detail}")]
    SchemaMismatch {
        /// Table.
        table: String,
        /// What differs.
        detail: String,
    },
    /// A schema definition was refused.
    #[error(transparent)]
    Schema(#[from] bulwark_model::Error),
    /// Parquet encoding or decoding failed.
    #[error("parquet error in {path}: {source}")]
    Parquet {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed to assemble a batch.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The query engine failed.
    #[error("query engine error: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}
