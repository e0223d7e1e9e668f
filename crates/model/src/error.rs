//! Errors of the model crate: schema definitions that cannot be accepted.
use std::path::PathBuf;

/// Result with the model crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a schema definition was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A column type that is not one of Kusto's scalar types.
    #[error(
        "unknown type '{ty}' for column '{column}' of table '{table}' (expected one of: {expected})"
    )]
    UnknownType {
        /// Table being defined.
        table: String,
        /// Column being defined.
        column: String,
        /// The type as written.
        ty: String,
        /// The accepted type names.
        expected: &'static str,
    },
    /// A table or column name that KQL could not refer to.
    #[error("invalid {what} name '{name}': {reason}")]
    InvalidName {
        /// "table" or "column".
        what: &'static str,
        /// The name as written.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Custom tables must not shadow or redefine built-in ones.
    #[error("table '{0}' is built in; custom tables need the '_CL' suffix and a name of their own")]
    BuiltinTable(String),
    /// A custom table redefined with different columns.
    #[error("table '{table}' already exists with a different schema; {detail}")]
    Conflict {
        /// Table name.
        table: String,
        /// What differs.
        detail: String,
    },
    /// A schema file could not be read.
    #[error("cannot read schema file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A schema file is not in the expected JSON shape.
    #[error("schema file {path} is not valid: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}
