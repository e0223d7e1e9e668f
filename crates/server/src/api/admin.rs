//! Sign-in (browser sessions), the caller's identity, and the owner's endpoints: users,
//! plugins and the audit log.
use crate::audit::{AuditEvent, Outcome};
use crate::auth::{Auth, SESSION_COOKIE, Via, verify_api_key};
use crate::error::{ApiError, Json, Query};
use crate::names::{Role, WorkspaceName};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// `POST /auth/login` body.
#[derive(Debug, Deserialize)]
pub struct Login {
    api_key: String,
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Signs in with an API key: sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/auth/login", tag = "auth", responses((status = 200, description = "Signed in"), (status = 401, description = "Invalid key")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(b): Json<Login>,
) -> Result<Response, ApiError> {
    let addr = addr.ip().to_string();
    state.limiter.check(&format!("login:{addr}")).map_err(ApiError::RateLimited)?;
    let user = verify_api_key(&state, b.api_key.trim(), &addr)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid API key".into()))?;
    let (id, csrf) = state.db.create_browser_session(&user.name, state.config.session_ttl_secs)?;
    state.audit(AuditEvent {
        actor: &user.name,
        workspace: user.workspace.as_str(),
        action: "sign_in",
        target: "browser",
        outcome: Outcome::Ok,
        detail: json!({"via": "browser", "addr": addr}),
    });
    let body = json!({"user": user.name, "role": user.role, "workspace": user.workspace, "csrf_token": csrf});
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, &id, state.config.session_ttl_secs)?);
    Ok(response)
}

/// Ends the browser session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 200, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string());
    if let Some(id) = id.filter(|_| auth.via == Via::Cookie) {
        state.db.end_browser_session(&id)?;
    }
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action: "sign_out",
        target: "",
        outcome: Outcome::Ok,
        detail: json!({}),
    });
    let mut response = axum::Json(json!({"ok": true})).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, "", 0)?);
    Ok(response)
}

/// Who the caller is.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, description = "User, role, workspace, CSRF token")))]
pub async fn me(auth: Auth) -> Json<Value> {
    Json(
        json!({"user": auth.user, "role": auth.role, "workspace": auth.workspace, "csrf_token": auth.csrf}),
    )
}

/// Users of the caller's workspace (owner).
#[utoipa::path(get, path = "/users", tag = "admin", responses((status = 200, description = "Users")))]
pub async fn users(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Owner, "admin.users")?;
    Ok(Json(json!(state.db.users(Some(&auth.workspace))?)))
}

/// `POST /users` body.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    name: String,
    role: String,
    #[serde(default)]
    workspace: Option<String>,
}

/// Adds a user to the caller's workspace (owner); the API key is shown once.
#[utoipa::path(post, path = "/users", tag = "admin", responses((status = 200, description = "The new user's API key (shown once)")))]
pub async fn add_user(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<NewUser>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Owner, "admin.users")?;
    let role = Role::parse(&b.role)?;
    let workspace = match b.workspace.as_deref() {
        None => auth.workspace.clone(),
        Some(w) => WorkspaceName::parse(w)?,
    };
    if workspace != auth.workspace {
        return Err(ApiError::forbidden("owners add users to their own workspace only"));
    }
    let db = std::sync::Arc::clone(&state.db);
    let cost = state.config.key_hash_cost;
    let (name, ws) = (b.name.clone(), workspace.clone());
    let key = tokio::task::spawn_blocking(move || db.add_user(&name, role, &ws, cost)).await??;
    state.keys.clear();
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action: "admin.user_add",
        target: &b.name,
        outcome: Outcome::Ok,
        detail: json!({"role": role, "workspace": workspace}),
    });
    Ok(Json(json!({"name": b.name, "role": role, "workspace": workspace, "api_key": key})))
}

/// The native skills with their per-workspace settings.
#[utoipa::path(get, path = "/plugins", tag = "admin", responses((status = 200, description = "Plugins")))]
pub async fn plugins(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "plugins")?;
    let ws = state.workspace(&auth.workspace).await?;
    let settings = state.db.plugin_settings(&auth.workspace)?;
    let list: Vec<Value> = ws
        .copilot
        .skills()
        .infos()
        .into_iter()
        .map(|s| {
            let (enabled, conf) = settings.get(&s.name).cloned().unwrap_or((true, json!({})));
            json!({"name": s.name, "description": s.description, "examples": s.examples, "kind": "native", "enabled": enabled, "settings": conf})
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `PATCH /plugins/{name}` body.
#[derive(Debug, Deserialize)]
pub struct PluginPatch {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    settings: Option<Value>,
}

/// Enables or disables a plugin, or changes its settings (owner).
#[utoipa::path(patch, path = "/plugins/{name}", tag = "admin", params(("name" = String, Path, description = "Plugin")), responses((status = 200, description = "Updated")))]
pub async fn update_plugin(
    State(state): State<AppState>,
    auth: Auth,
    axum::extract::Path(name): axum::extract::Path<String>,
    Json(b): Json<PluginPatch>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Owner, "admin.plugins")?;
    let ws = state.workspace(&auth.workspace).await?;
    let skill =
        ws.copilot.skills().get(&name).ok_or_else(|| ApiError::not_found("no such plugin"))?.name();
    if let Some(s) = &b.settings
        && (!s.is_object() || s.to_string().len() > 64 * 1024)
    {
        return Err(ApiError::bad("settings must be a JSON object under 64 KiB"));
    }
    let current =
        state.db.plugin_settings(&auth.workspace)?.remove(skill).unwrap_or((true, json!({})));
    let enabled = b.enabled.unwrap_or(current.0);
    let settings = b.settings.clone().unwrap_or(current.1);
    state.db.set_plugin(&auth.workspace, skill, enabled, &settings)?;
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action: "admin.plugin",
        target: skill,
        outcome: Outcome::Ok,
        detail: json!({"enabled": enabled, "settings": settings}),
    });
    Ok(Json(json!({"name": skill, "enabled": enabled, "settings": settings})))
}

/// `?limit=`.
#[derive(Debug, Deserialize)]
pub struct Limit {
    #[serde(default)]
    limit: Option<usize>,
}

/// The audit log of the caller's workspace, newest first (owner).
#[utoipa::path(get, path = "/audit", tag = "admin", params(("limit" = Option<usize>, Query, description = "Entries (default 100, at most 10000)")), responses((status = 200, description = "Audit entries")))]
pub async fn audit(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<Limit>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Owner, "admin.audit")?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    Ok(Json(json!(state.db.audit_entries(limit, Some(&auth.workspace))?)))
}
