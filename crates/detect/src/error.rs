//! Errors of the detection crate: rule loading, conversion to KQL and the regression harness.

use std::path::PathBuf;

/// Everything that can go wrong in `bulwark-detect`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A Sigma document could not be parsed.
    #[error("cannot parse Sigma rule {origin}: {message}")]
    Parse {
        /// Where the rule came from (file path or built-in name).
        origin: String,
        /// What the parser said.
        message: String,
    },
    /// A parsed Sigma rule could not be compiled for evaluation.
    #[error("cannot compile Sigma rule {rule}: {message}")]
    Compile {
        /// Rule id or title.
        rule: String,
        /// What the compiler said.
        message: String,
    },
    /// The rule's logsource has no table in the logsource mapping.
    #[error("rule {rule}: logsource {logsource} maps to no table")]
    UnmappedLogsource {
        /// Rule id or title.
        rule: String,
        /// The logsource, as `product/category/service`.
        logsource: String,
    },
    /// A field used by the rule has no column in the target table.
    #[error("rule {rule}: field `{field}` has no column in table {table}")]
    UnmappedField {
        /// Rule id or title.
        rule: String,
        /// The Sigma field name.
        field: String,
        /// The target table.
        table: String,
    },
    /// The rule uses a Sigma feature this conversion does not support.
    #[error("rule {rule}: unsupported Sigma feature: {feature}")]
    Unsupported {
        /// Rule id or title.
        rule: String,
        /// The feature, named (e.g. `modifier expand`).
        feature: String,
    },
    /// Reading from or writing to the store failed.
    #[error("store: {0}")]
    Store(String),
    /// A regression test folder is malformed.
    #[error("regression test {path}: {message}")]
    Regression {
        /// The test folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// JSON input could not be decoded.
    #[error("invalid JSON in {origin}: {source}")]
    Json {
        /// Where the JSON came from.
        origin: String,
        /// The decoder error.
        source: serde_json::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
