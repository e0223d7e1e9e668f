//! Copilot sessions: listing, history, rename, delete, share, export and pins. A session is
//! visible to its owner and to the users it is shared with, only inside its workspace; any
//! other id (malformed, another user's, another workspace's) is a 404.
use crate::audit::{AuditEvent, Outcome};
use crate::auth::Auth;
use crate::error::{ApiError, Json, Query};
use crate::names::{Role, is_session_id};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// How the caller may use a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// It is theirs.
    Owner,
    /// It was shared with them (read only).
    Shared,
}

/// The caller's access to session `id` in their workspace, or 404.
pub fn session_access(state: &AppState, auth: &Auth, id: &str) -> Result<Access, ApiError> {
    let missing = || ApiError::not_found("no such session");
    if !is_session_id(id) {
        return Err(missing());
    }
    let owner = state.db.session_owner(&auth.workspace, id)?.ok_or_else(missing)?;
    if owner == auth.user {
        return Ok(Access::Owner);
    }
    if state.db.shared_with(&auth.workspace, id)?.iter().any(|u| u == &auth.user) {
        return Ok(Access::Shared);
    }
    Err(missing())
}

fn owner_only(state: &AppState, auth: &Auth, id: &str) -> Result<(), ApiError> {
    match session_access(state, auth, id)? {
        Access::Owner => Ok(()),
        Access::Shared => Err(ApiError::forbidden("only the session's owner can change it")),
    }
}

fn audit(state: &AppState, auth: &Auth, action: &str, target: &str, detail: Value) {
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action,
        target,
        outcome: Outcome::Ok,
        detail,
    });
}

/// The caller's sessions and those shared with them.
#[utoipa::path(get, path = "/sessions", tag = "sessions", responses((status = 200, description = "Sessions, newest first")))]
pub async fn list(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "sessions")?;
    let visible = state.db.visible_sessions(&auth.workspace, &auth.user)?;
    if visible.is_empty() {
        return Ok(Json(json!([])));
    }
    let ws = state.workspace(&auth.workspace).await?;
    let all = ws.sessions().list()?;
    let out: Vec<Value> = all
        .into_iter()
        .filter_map(|s| {
            let (_, owner, shared) = visible.iter().find(|(id, _, _)| id == &s.id)?;
            Some(json!({"id": s.id, "name": s.name, "created": s.created, "prompts": s.prompts, "owner": owner, "shared": shared}))
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// A session's turns.
#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses((status = 200, description = "The session"), (status = 404, description = "Absent or not visible")))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "sessions")?;
    session_access(&state, &auth, &id)?;
    let ws = state.workspace(&auth.workspace).await?;
    let (name, history) = {
        let store = ws.sessions();
        let name =
            store.list()?.into_iter().find(|s| s.id == id).map(|s| s.name).unwrap_or_default();
        (name, store.history(&id)?)
    };
    let stored = state.db.turns(&auth.workspace, &id)?;
    let turns: Vec<Value> = history
        .iter()
        .map(|t| {
            let full = stored.get(&t.prompt_id);
            let field = |k: &str| full.and_then(|f| f.get(k)).cloned().unwrap_or(json!([]));
            json!({
                "prompt_id": t.prompt_id, "prompt": t.prompt, "answer": t.markdown, "skills": t.skills,
                "evidence": field("evidence"), "process_log": field("process_log"), "created": t.created,
            })
        })
        .collect();
    audit(&state, &auth, "data_read", &id, json!({"what": "session"}));
    Ok(Json(json!({"id": id, "name": name, "turns": turns})))
}

/// `PATCH /sessions/{id}` body.
#[derive(Debug, Deserialize)]
pub struct Rename {
    name: String,
}

/// Renames a session (owner).
#[utoipa::path(patch, path = "/sessions/{id}", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses((status = 200, description = "Renamed")))]
pub async fn rename(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(b): Json<Rename>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "sessions")?;
    owner_only(&state, &auth, &id)?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad("the name must be one line of 1 to 200 characters"));
    }
    let ws = state.workspace(&auth.workspace).await?;
    ws.sessions().rename(&id, name)?;
    audit(&state, &auth, "session.rename", &id, json!({"name": name}));
    Ok(Json(json!({"id": id, "name": name})))
}

/// Deletes a session (owner).
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses((status = 200, description = "Deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "sessions")?;
    owner_only(&state, &auth, &id)?;
    let ws = state.workspace(&auth.workspace).await?;
    ws.sessions().delete(&id)?;
    state.db.forget_session(&auth.workspace, &id)?;
    audit(&state, &auth, "session.delete", &id, json!({}));
    Ok(Json(json!({"deleted": id})))
}

/// `POST /sessions/{id}/share` body.
#[derive(Debug, Deserialize)]
pub struct ShareBody {
    user: String,
}

/// Shares a session with a user of the same workspace (owner).
#[utoipa::path(post, path = "/sessions/{id}/share", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses((status = 200, description = "Shared")))]
pub async fn share(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(b): Json<ShareBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "sessions")?;
    owner_only(&state, &auth, &id)?;
    let user = state
        .db
        .user(&b.user)?
        .filter(|u| u.workspace == auth.workspace)
        .ok_or_else(|| ApiError::not_found("no such user in this workspace"))?;
    state.db.share(&auth.workspace, &id, &user.name)?;
    audit(&state, &auth, "session.share", &id, json!({"with": user.name}));
    Ok(Json(json!({"id": id, "shared_with": state.db.shared_with(&auth.workspace, &id)?})))
}

/// `?format=md|html`.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// A session as Markdown or a self-contained HTML page.
#[utoipa::path(get, path = "/sessions/{id}/export", tag = "sessions", params(("id" = String, Path, description = "Session id"), ("format" = Option<String>, Query, description = "md (default) or html")), responses((status = 200, description = "text/markdown or text/html")))]
pub async fn export(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    auth.require(&state, Role::Reader, "sessions")?;
    session_access(&state, &auth, &id)?;
    let ws = state.workspace(&auth.workspace).await?;
    let (body, ty) = match q.format.as_deref().unwrap_or("md") {
        "md" | "markdown" => (ws.sessions().export_markdown(&id)?, "text/markdown; charset=utf-8"),
        "html" => (ws.sessions().export_html(&id)?, "text/html; charset=utf-8"),
        _ => return Err(ApiError::bad("format must be md or html")),
    };
    audit(&state, &auth, "data_read", &id, json!({"what": "session export"}));
    Ok(([(header::CONTENT_TYPE, ty)], body).into_response())
}

/// A session's pinboard.
#[utoipa::path(get, path = "/sessions/{id}/pins", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses((status = 200, description = "Pins")))]
pub async fn pins(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "sessions")?;
    session_access(&state, &auth, &id)?;
    let ws = state.workspace(&auth.workspace).await?;
    let (pins, history) = {
        let store = ws.sessions();
        (store.pins(&id)?, store.history(&id)?)
    };
    let out: Vec<Value> = pins
        .iter()
        .map(|p| {
            let turn = history.iter().find(|t| t.prompt_id == p.prompt_id);
            json!({
                "prompt_id": p.prompt_id, "note": p.note, "prompt": p.prompt,
                "answer": turn.map(|t| t.markdown.clone()).unwrap_or_default(),
                "created": turn.map(|t| t.created.clone()).unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// `POST /sessions/{id}/pins` body.
#[derive(Debug, Deserialize)]
pub struct PinBody {
    prompt_id: i64,
    #[serde(default)]
    note: String,
}

/// Pins an answer of the session (owner).
#[utoipa::path(post, path = "/sessions/{id}/pins", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses((status = 200, description = "Pinned")))]
pub async fn pin(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(b): Json<PinBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "sessions")?;
    owner_only(&state, &auth, &id)?;
    if state.db.turn_session(&auth.workspace, b.prompt_id)?.as_deref() != Some(id.as_str()) {
        return Err(ApiError::not_found("no such prompt in this session"));
    }
    if b.note.len() > 10_000 {
        return Err(ApiError::bad("the note is too long"));
    }
    let ws = state.workspace(&auth.workspace).await?;
    ws.sessions().pin(&id, b.prompt_id, &b.note)?;
    audit(&state, &auth, "session.pin", &id, json!({"prompt_id": b.prompt_id}));
    Ok(Json(json!({"pinned": b.prompt_id})))
}
