//! Errors: the library's [`Error`] (database, files, configuration, the copilot) and the HTTP
//! [`ApiError`], whose response body is always
//! `{"error": {"code": "...", "message": "..."}}` (plus `diagnostics` for invalid KQL).
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Errors raised by the server library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server database failed.
    #[error("server database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The configuration is invalid (bad workspace name, unreadable JWKS, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// A caller-supplied value is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The copilot failed.
    #[error(transparent)]
    Copilot(#[from] bulwark_copilot::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] bulwark_store::Error),
    /// Hashing a secret failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// JSON (de)serialization failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The server library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An HTTP error: a status code and a JSON body with a stable `code`.
#[derive(Debug)]
pub enum ApiError {
    /// 401: no or invalid credentials.
    Unauthorized(String),
    /// 403: authenticated but not allowed (role, CSRF).
    Forbidden(String),
    /// 404: absent, or not visible to the caller (never says which).
    NotFound(String),
    /// 400: invalid input.
    BadRequest(String),
    /// 400 for a KQL query that does not parse or check, with its diagnostics.
    Query {
        /// Rendered message.
        message: String,
        /// `[{"line","column","message"}]`.
        diagnostics: Vec<Value>,
    },
    /// 413: body over the limit.
    TooLarge(String),
    /// 429: over the rate limit; retry after this many seconds.
    RateLimited(u64),
    /// 500: the detail is logged, never sent.
    Internal(String),
}

impl ApiError {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::Query { .. } => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) | ApiError::Query { .. } => "bad_request",
            ApiError::TooLarge(_) => "too_large",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A 400 with this message.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }

    /// A 404 with this message.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::NotFound(message.into())
    }

    /// A 403 with this message.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(message.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::BadRequest(m)
            | ApiError::TooLarge(m)
            | ApiError::Internal(m) => f.write_str(m),
            ApiError::Query { message, .. } => f.write_str(message),
            ApiError::RateLimited(s) => write!(f, "rate limit exceeded; retry in {s} s"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            // Internal details stay in the log.
            ApiError::Internal(detail) => {
                eprintln!("bulwark-server: internal error: {detail}");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut body = json!({"error": {"code": self.code(), "message": message}});
        if let ApiError::Query { diagnostics, .. } = &self {
            body["diagnostics"] = Value::Array(diagnostics.clone());
        }
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Invalid(m) => ApiError::BadRequest(m),
            Error::NotFound(m) => ApiError::NotFound(m),
            Error::Copilot(bulwark_copilot::Error::Input { message, .. }) => {
                ApiError::BadRequest(message)
            }
            Error::Copilot(bulwark_copilot::Error::UnknownSession(_)) => {
                ApiError::NotFound("no such session".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<bulwark_copilot::Error> for ApiError {
    fn from(e: bulwark_copilot::Error) -> ApiError {
        ApiError::from(Error::Copilot(e))
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::Internal(format!("server database: {e}"))
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> ApiError {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge("request body too large".into())
        } else {
            ApiError::BadRequest(r.body_text())
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::BadRequest(r.body_text())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Internal(format!("worker stopped: {e}"))
    }
}

/// The JSON body extractor whose rejections use the [`ApiError`] shape (413 for oversize).
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The query-string extractor whose rejections use the [`ApiError`] shape.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);
