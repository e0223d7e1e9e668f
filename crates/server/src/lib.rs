//! Bulwark's HTTP server: the copilot, KQL, incidents and sessions behind an authenticated
//! JSON API (`/api/v1`, described by `/api/v1/openapi.json`), server-sent events for streamed
//! answers, the embedded web app and widget, and a tamper-evident audit log.
//!
//! Modules:
//! * [`config`] — [`ServerConfig`]: root directory, workspaces, limits, OIDC.
//! * [`names`] — validated workspace names, roles, user names, session ids.
//! * [`db`] — the server database: users, API keys, browser sessions, shares, overlays.
//! * [`audit`] — the append-only, hash-chained audit log; [`audit_table`] shows it to KQL.
//! * [`auth`] — the [`auth::Auth`] extractor: API keys, OIDC JWTs, cookie sessions + CSRF.
//! * [`workspace`] — one store, KQL engine, copilot and session database per workspace.
//! * [`limits`] — rate limiting and security headers.
//! * [`api`] — the handlers.
//! * [`web`] — the embedded web app and `embed/widget.js`.
//!
//! ```no_run
//! # async fn run() -> bulwark_server::Result<()> {
//! use bulwark_server::{ServerConfig, serve};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.map_err(|source| {
//!     bulwark_server::Error::Io { context: "bind".into(), source }
//! })?;
//! serve(listener, ServerConfig::new("bulwark-server"), async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod audit;
pub mod audit_table;
pub mod auth;
pub mod config;
pub mod db;
mod error;
pub mod limits;
pub mod names;
pub mod state;
pub mod web;
pub mod workspace;

pub use config::{JwksSource, OidcConfig, RateLimit, ServerConfig, ServerLlm};
pub use error::{ApiError, Error, Result};
pub use state::AppState;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// An opened server: its state, ready to be routed.
#[derive(Debug, Clone)]
pub struct Server {
    state: AppState,
}

impl Server {
    /// Opens the server database and loads the OIDC keys. `secure_cookies` applies when the
    /// configuration does not decide.
    pub async fn open(config: ServerConfig, default_secure: bool) -> Result<Server> {
        let db = db::Db::open(&config.db_path())?;
        let secure = config.secure_cookies.unwrap_or(default_secure);
        let oidc = match &config.oidc {
            Some(o) => Some(Arc::new(auth::Oidc::load(o.clone()).await?)),
            None => None,
        };
        let mut state = AppState::new(config, db, secure);
        state.oidc = oidc;
        Ok(Server { state })
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The application router.
    pub fn router(&self) -> Router {
        app(self.state.clone())
    }
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::router().1
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Cross-origin access for the embed endpoints only (bearer keys, never cookies).
async fn embed_cors(request: Request, next: Next) -> Response {
    let embed = request.uri().path().starts_with("/api/v1/embed/");
    if embed && request.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return r;
    }
    let mut response = next.run(request).await;
    if embed {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    response
}

/// The whole application: `/api/v1/…`, `/api/v1/openapi.json`, `/embed/widget.js` and the
/// web app, with body limit, CORS for embeds and security headers.
pub fn app(state: AppState) -> Router {
    let (api, doc) = api::router();
    let doc = Arc::new(doc);
    let api = api
        .route(
            "/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(not_found);
    let limit = state.config.body_limit;
    Router::new()
        .nest("/api/v1", api)
        .route("/embed/widget.js", get(web::widget))
        .fallback(web::static_file)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(embed_cors))
        .layer(axum::middleware::from_fn(limits::security_headers))
}

/// Serves on `listener` until `shutdown` completes. Cookies are `Secure` unless the listener
/// is on a loopback address (plain HTTP for local use) or the configuration says otherwise.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|source| Error::Io { context: "cannot read the listen address".into(), source })?;
    let server = Server::open(config, !local.ip().is_loopback()).await?;
    serve_state(listener, server.state.clone(), shutdown).await
}

/// Serves an already opened state (tests and benchmarks that need the state too).
pub async fn serve_state(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let keep = state.clone();
    let result =
        axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| Error::Io { context: "the server stopped".into(), source });
    // The workspaces own tokio runtimes (the copilot's), which must not be dropped on an
    // async thread: release the last reference on a blocking one.
    let _ = tokio::task::spawn_blocking(move || drop(keep)).await;
    result
}
