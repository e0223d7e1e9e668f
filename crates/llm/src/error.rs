//! The crate's one error type.
use std::time::Duration;

/// What can go wrong talking to a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is incomplete or contradictory (names the setting).
    #[error("LLM configuration: {0}")]
    Config(String),
    /// The backend could not be reached (connection refused, DNS, TLS).
    #[error("cannot reach {url}: {message}")]
    Connect {
        /// Endpoint.
        url: String,
        /// Cause.
        message: String,
    },
    /// The backend answered with an HTTP error (after retries, for 429/5xx).
    #[error("{url} answered HTTP {status}: {message}")]
    Http {
        /// Endpoint.
        url: String,
        /// Status code.
        status: u16,
        /// The error body's message.
        message: String,
    },
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The caller cancelled the request.
    #[error("cancelled")]
    Cancelled,
    /// The backend's answer could not be understood.
    #[error("unexpected answer from the model backend: {0}")]
    Protocol(String),
    /// The request does not fit the model's context window even after trimming.
    #[error("the request needs {needed} tokens but the context window is {window}")]
    ContextWindow {
        /// Tokens needed.
        needed: usize,
        /// Tokens available.
        window: usize,
    },
    /// Loading or running the local model failed.
    #[error("local model: {0}")]
    Model(String),
    /// File system error (names the path).
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
