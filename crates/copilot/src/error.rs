//! The copilot's error type: user faults (bad prompt input, unknown session) apart from
//! failures of the store, the KQL engine or the session database.

/// Errors raised by the copilot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A skill was given input that does not match its schema.
    #[error("invalid input for skill {skill}: {message}")]
    Input {
        /// Skill name.
        skill: String,
        /// What is wrong.
        message: String,
    },
    /// No skill of that name.
    #[error("no skill named '{0}'")]
    UnknownSkill(String),
    /// A KQL query failed (syntax, check, plan or execution); `message` is rendered for people.
    #[error("query failed: {message}")]
    Query {
        /// The KQL text.
        query: String,
        /// Rendered error.
        message: String,
    },
    /// The session database failed.
    #[error("session store: {0}")]
    Session(#[from] rusqlite::Error),
    /// No session with that id.
    #[error("no session '{0}'")]
    UnknownSession(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] bulwark_store::Error),
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// JSON (de)serialization failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The copilot's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
