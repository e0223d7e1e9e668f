//! Errors of the scripts crate.
//!
//! [`crate::analyze`] never fails: problems met while peeling layers end up in
//! [`crate::Analysis::limits_hit`]. This enum exists for the few fallible helpers that are
//! public (decoders) and for callers that want to turn an analysis note into an error.

/// Something that went wrong while decoding a payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not valid base64.
    #[error("invalid base64: {0}")]
    Base64(String),
    /// A compressed stream was corrupt.
    #[error("corrupt {format} stream: {message}")]
    Decompress {
        /// `gzip`, `deflate` or `zlib`.
        format: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// A size limit was reached (decompression bomb, oversized layer).
    #[error("size limit of {limit} bytes reached while {what}")]
    Limit {
        /// The limit, in bytes.
        limit: usize,
        /// What was being produced.
        what: &'static str,
    },
    /// Linking to the environment failed before any query ran (the store could not be read).
    #[error("cannot search the data: {0}")]
    Link(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
