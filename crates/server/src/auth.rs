//! Authentication and authorization. Every handler takes an [`Auth`] (the extractor
//! authenticates the request, checks CSRF for cookie sessions and takes a rate-limit token)
//! and calls [`Auth::require`] for its minimum role. Credentials: API keys
//! (`Authorization: Bearer bwk_…`, argon2-verified, cached briefly by their SHA-256), OIDC
//! JWTs (RS256 against the configured JWKS) and browser sessions (cookie + `X-CSRF-Token`).
use crate::audit::{AuditEvent, Outcome};
use crate::config::{JwksSource, OidcConfig};
use crate::db::{User, sha256_hex};
use crate::error::{ApiError, Error, Result};
use crate::names::{Role, WorkspaceName};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "bulwark_session";
/// The CSRF header unsafe cookie-authenticated requests must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a verified API key is trusted without running argon2 again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer bwk_…`.
    ApiKey,
    /// An OIDC bearer JWT.
    Oidc,
    /// The browser session cookie.
    Cookie,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    /// User name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// The only workspace the caller can reach.
    pub workspace: WorkspaceName,
    /// How the request authenticated.
    pub via: Via,
    /// The CSRF token of the browser session (cookie auth only).
    pub csrf: Option<String>,
}

impl Auth {
    /// Fails with 403 (and an audit record) unless the caller has at least `role`.
    pub fn require(&self, state: &AppState, role: Role, action: &str) -> Result<(), ApiError> {
        if self.role >= role {
            return Ok(());
        }
        state.audit(AuditEvent {
            actor: &self.user,
            workspace: self.workspace.as_str(),
            action,
            target: "",
            outcome: Outcome::Denied,
            detail: serde_json::json!({"role": self.role, "needs": role}),
        });
        Err(ApiError::forbidden(format!("this needs the {} role", role.as_str())))
    }

    fn from_user(u: User, via: Via) -> Auth {
        Auth { user: u.name, role: u.role, workspace: u.workspace, via, csrf: None }
    }
}

fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The value of a cookie in the request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies an API key (cached, then argon2 on a thread that may block). Audits sign-ins
/// that ran argon2, successful or not.
pub async fn verify_api_key(
    state: &AppState,
    key: &str,
    addr: &str,
) -> Result<Option<User>, ApiError> {
    let digest = sha256_hex(key);
    if let Some(user) = state.cached_key(&digest) {
        return Ok(Some(user));
    }
    // Argon2 is deliberately slow: bound how often one address can make us run it.
    state.limiter.check(&format!("auth:{addr}")).map_err(ApiError::RateLimited)?;
    let db = std::sync::Arc::clone(&state.db);
    let k = key.to_string();
    let user =
        tokio::task::spawn_blocking(move || db.verify_key(&k)).await?.map_err(ApiError::from)?;
    let key_id = crate::db::parse_api_key(key).map(|(id, _)| id).unwrap_or("malformed");
    match &user {
        Some(u) => {
            state.cache_key(digest, u.clone());
            state.audit(AuditEvent {
                actor: &u.name,
                workspace: u.workspace.as_str(),
                action: "sign_in",
                target: key_id,
                outcome: Outcome::Ok,
                detail: serde_json::json!({"via": "api_key", "addr": addr}),
            });
        }
        None => state.audit(AuditEvent {
            actor: &format!("key:{key_id}"),
            workspace: "",
            action: "sign_in",
            target: key_id,
            outcome: Outcome::Failed,
            detail: serde_json::json!({"via": "api_key", "addr": addr}),
        }),
    }
    Ok(user)
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Auth, ApiError> {
    let addr = client_addr(parts);
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token =
            value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).ok_or_else(
                || ApiError::Unauthorized("expected 'Authorization: Bearer <token>'".into()),
            )?;
        if token.starts_with("bwk_") {
            return match verify_api_key(state, token, &addr).await? {
                Some(u) => Ok(Auth::from_user(u, Via::ApiKey)),
                None => Err(ApiError::Unauthorized("invalid API key".into())),
            };
        }
        let Some(oidc) = &state.oidc else {
            return Err(ApiError::Unauthorized("invalid bearer token".into()));
        };
        return match oidc.validate(token).and_then(|c| state.oidc_user(&c)) {
            Ok(user) => Ok(Auth::from_user(user, Via::Oidc)),
            Err(e) => {
                state.limiter.check(&format!("auth:{addr}")).map_err(ApiError::RateLimited)?;
                state.audit(AuditEvent {
                    actor: "oidc",
                    workspace: "",
                    action: "sign_in",
                    target: "",
                    outcome: Outcome::Failed,
                    detail: serde_json::json!({"via": "oidc", "addr": addr, "reason": e.to_string()}),
                });
                Err(ApiError::Unauthorized(format!("invalid token: {e}")))
            }
        };
    }
    if let Some(id) = cookie(parts, SESSION_COOKIE) {
        let db = std::sync::Arc::clone(&state.db);
        let found = db.browser_session(id).map_err(ApiError::from)?;
        let Some((user, csrf)) = found else {
            return Err(ApiError::Unauthorized("the session has ended; sign in again".into()));
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                state.audit(AuditEvent {
                    actor: &user.name,
                    workspace: user.workspace.as_str(),
                    action: "csrf",
                    target: parts.uri.path(),
                    outcome: Outcome::Denied,
                    detail: serde_json::json!({"method": parts.method.as_str()}),
                });
                return Err(ApiError::forbidden("missing or wrong X-CSRF-Token"));
            }
        }
        let mut auth = Auth::from_user(user, Via::Cookie);
        auth.csrf = Some(csrf);
        return Ok(auth);
    }
    Err(ApiError::Unauthorized("sign in: send 'Authorization: Bearer <API key>' or log in".into()))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
        let auth = authenticate(parts, state).await?;
        state.limiter.check(&format!("user:{}", auth.user)).map_err(ApiError::RateLimited)?;
        Ok(auth)
    }
}

/// The claims Bulwark reads from an OIDC token.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Claims {
    /// Subject.
    #[serde(default)]
    pub sub: String,
    /// Preferred user name.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// Entra ID's user principal name.
    #[serde(default)]
    pub upn: Option<String>,
    /// App roles (`owner`, `contributor`, `reader`; the highest wins).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Bulwark workspace.
    #[serde(default)]
    pub workspace: Option<String>,
}

impl Claims {
    /// The user name: `preferred_username`, else `upn`, else `sub`.
    pub fn user_name(&self) -> &str {
        self.preferred_username.as_deref().or(self.upn.as_deref()).unwrap_or(&self.sub)
    }
}

/// An OIDC validator: issuer, audience and the provider's keys.
pub struct Oidc {
    config: OidcConfig,
    keys: jsonwebtoken::jwk::JwkSet,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

impl Oidc {
    /// Loads the JWKS (read from the file, or fetched from the URL with the `jwks-url`
    /// feature).
    pub async fn load(config: OidcConfig) -> Result<Oidc> {
        let text = match &config.jwks {
            JwksSource::File(path) => std::fs::read_to_string(path).map_err(|source| {
                Error::Io { context: format!("cannot read the JWKS {}", path.display()), source }
            })?,
            JwksSource::Url(url) => fetch_jwks(url).await?,
        };
        let keys: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&text).map_err(|e| Error::Config(format!("invalid JWKS: {e}")))?;
        if keys.keys.is_empty() {
            return Err(Error::Config("the JWKS holds no keys".into()));
        }
        Ok(Oidc { config, keys })
    }

    /// Validates signature (RS256 only), issuer, audience and expiry.
    pub fn validate(&self, token: &str) -> Result<Claims> {
        let bad = |e: jsonwebtoken::errors::Error| Error::Invalid(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(bad)?;
        if header.alg != jsonwebtoken::Algorithm::RS256 {
            return Err(Error::Invalid("only RS256 tokens are accepted".into()));
        }
        let jwk = match &header.kid {
            Some(kid) => self.keys.find(kid),
            None if self.keys.keys.len() == 1 => self.keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| Error::Invalid("unknown signing key".into()))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(bad)?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(bad)?;
        Ok(data.claims)
    }
}

#[cfg(feature = "jwks-url")]
async fn fetch_jwks(url: &str) -> Result<String> {
    if !url.starts_with("https://") {
        return Err(Error::Config("the JWKS URL must use https".into()));
    }
    bulwark_llm::install_tls_provider();
    let resp =
        reqwest::get(url).await.map_err(|e| Error::Config(format!("cannot fetch {url}: {e}")))?;
    resp.text().await.map_err(|e| Error::Config(format!("cannot read {url}: {e}")))
}

#[cfg(not(feature = "jwks-url"))]
async fn fetch_jwks(url: &str) -> Result<String> {
    Err(Error::Config(format!(
        "cannot fetch the JWKS from {url}: this build reads JWKS files only (enable the `jwks-url` feature)"
    )))
}

/// The cached users of verified API keys.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (User, Instant)>>,
}

impl KeyCache {
    /// A fresh entry.
    pub fn get(&self, digest: &str) -> Option<User> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(digest).filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL).map(|(u, _)| u.clone())
    }

    /// Remembers a verified key.
    pub fn put(&self, digest: String, user: User) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
        }
        map.insert(digest, (user, Instant::now()));
    }

    /// Forgets everything (after user changes).
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
