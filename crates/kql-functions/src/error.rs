//! Crate error type: failures of this crate's own API (registration, lookups).
//! Per-row failures inside functions follow KQL and yield nulls; invalid
//! constant arguments (bad regex, bad part names) surface as DataFusion errors.

/// Errors raised by the function library's API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No function with this KQL name exists.
    #[error("unknown KQL function `{name}`")]
    UnknownFunction {
        /// The name looked up.
        name: String,
    },
    /// A DataFusion error (registration or execution).
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
