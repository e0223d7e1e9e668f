//! The application state shared by every handler: configuration, the server database, open
//! workspaces, the rate limiter, the API key cache and the OIDC validator.
use crate::audit::AuditEvent;
use crate::auth::{Claims, KeyCache, Oidc};
use crate::config::ServerConfig;
use crate::db::{Db, User};
use crate::error::{ApiError, Error, Result};
use crate::limits::RateLimiter;
use crate::names::{Role, WorkspaceName};
use crate::workspace::{Workspace, Workspaces};
use std::sync::Arc;

/// Everything handlers share (cheap to clone).
#[derive(Clone, Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<ServerConfig>,
    /// The server database.
    pub db: Arc<Db>,
    /// Open workspaces.
    pub workspaces: Arc<Workspaces>,
    /// Rate limiter.
    pub limiter: Arc<RateLimiter>,
    /// Verified API keys.
    pub keys: Arc<KeyCache>,
    /// OIDC validator, when configured.
    pub oidc: Option<Arc<Oidc>>,
    /// Whether cookies are marked `Secure`.
    pub secure_cookies: bool,
    /// Slots for copilot and KQL runs ([`ServerConfig::max_concurrent_runs`]).
    pub runs: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State over an opened database (no OIDC).
    pub fn new(config: ServerConfig, db: Db, secure_cookies: bool) -> AppState {
        AppState {
            runs: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_runs.max(1))),
            limiter: Arc::new(RateLimiter::new(config.rate_limit)),
            config: Arc::new(config),
            db: Arc::new(db),
            workspaces: Arc::new(Workspaces::default()),
            keys: Arc::new(KeyCache::default()),
            oidc: None,
            secure_cookies,
        }
    }

    /// Records an audit event; a failure to write is reported on stderr (the request has
    /// already been decided).
    pub fn audit(&self, event: AuditEvent<'_>) {
        if let Err(e) = self.db.audit(&event) {
            eprintln!("bulwark-server: cannot write the audit log: {e}");
        }
    }

    pub(crate) fn cached_key(&self, digest: &str) -> Option<User> {
        self.keys.get(digest)
    }

    pub(crate) fn cache_key(&self, digest: String, user: User) {
        self.keys.put(digest, user);
    }

    /// Maps OIDC claims to a user: a provisioned user of that name keeps its role and
    /// workspace; otherwise the token's `roles` (highest) and `workspace` claims decide, and a
    /// token without a Bulwark role is refused.
    pub fn oidc_user(&self, claims: &Claims) -> Result<User> {
        let name = crate::names::user_name(claims.user_name())?.to_string();
        if let Some(user) = self.db.user(&name)? {
            return Ok(user);
        }
        let role = claims
            .roles
            .iter()
            .filter_map(|r| Role::parse(r).ok())
            .max()
            .ok_or_else(|| Error::Invalid(format!("user '{name}' has no Bulwark role")))?;
        let workspace = WorkspaceName::parse(claims.workspace.as_deref().unwrap_or("default"))?;
        Ok(User { name, role, workspace, created: String::new() })
    }

    /// Waits for a run slot; hold the permit for the run's duration.
    pub async fn run_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.runs)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("the server is shutting down".into()))
    }

    /// The caller's workspace, opened on first use (on a blocking thread).
    pub async fn workspace(&self, name: &WorkspaceName) -> Result<Arc<Workspace>, ApiError> {
        let state = self.clone();
        let name = name.clone();
        Ok(tokio::task::spawn_blocking(move || state.workspaces.get(&state.config, &name))
            .await??)
    }
}
