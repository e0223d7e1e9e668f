//! Prompts (plain and streamed), promptbooks, feedback and the single-call endpoints (intel
//! lookup, reports, embedded widgets): everything that runs the copilot. The copilot blocks,
//! so it always runs on `spawn_blocking` threads.
use crate::api::sessions::{Access, session_access};
use crate::audit::{AuditEvent, Outcome};
use crate::auth::Auth;
use crate::error::{ApiError, Json, Query};
use crate::names::Role;
use crate::state::AppState;
use crate::workspace::Workspace;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use bulwark_copilot::{Answer, AskEvent, ProcessEntry, SessionContext};
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;

/// Longest prompt accepted (characters).
pub const MAX_PROMPT: usize = 100_000;

/// `POST /prompts` body.
#[derive(Debug, Deserialize)]
pub struct PromptBody {
    prompt: String,
    #[serde(default)]
    session_id: Option<String>,
}

/// What a prompt run reports as it goes (the SSE events).
#[derive(Debug)]
pub enum PromptEvent<'a> {
    /// The session id (first).
    Session(&'a str),
    /// A process-log entry.
    Process(&'a ProcessEntry),
    /// A piece of the answer's Markdown.
    Token(&'a str),
}

fn check_prompt(prompt: &str) -> Result<(), ApiError> {
    if prompt.trim().is_empty() {
        return Err(ApiError::bad("the prompt is empty"));
    }
    if prompt.chars().count() > MAX_PROMPT {
        return Err(ApiError::bad(format!("the prompt is longer than {MAX_PROMPT} characters")));
    }
    Ok(())
}

/// The answer JSON of the API.
pub fn answer_json(session_id: &str, prompt_id: i64, a: &Answer) -> Value {
    json!({
        "session_id": session_id,
        "prompt_id": prompt_id,
        "prompt": a.prompt,
        "answer": a.markdown,
        "skills": a.skills,
        "evidence": a.evidence,
        "process_log": a.process_log,
        "results": a.results,
    })
}

/// Splits Markdown into pieces of about `size` bytes, cut after whitespace.
pub fn chunks(markdown: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last_space = None;
    for (i, c) in markdown.char_indices() {
        if c.is_whitespace() {
            last_space = Some(i + c.len_utf8());
        }
        if i - start >= size {
            let cut = match last_space {
                Some(s) if s > start => s,
                _ => i,
            };
            out.push(&markdown[start..cut]);
            start = cut;
            last_space = None;
        }
    }
    if start < markdown.len() {
        out.push(&markdown[start..]);
    }
    out
}

/// Answers a prompt with events: the one place that talks to the copilot for prompts.
/// Today the copilot answers in one call, so the process entries and the Markdown pieces
/// are replayed after it returns; with `ask_with_events` they can be forwarded as they come.
fn ask_with_events(
    ws: &Workspace,
    prompt: &str,
    context: &mut SessionContext,
    previous: &[String],
    on_event: &mut dyn FnMut(PromptEvent<'_>),
) -> Answer {
    // The copilot reports each step as it finishes and the composer's tokens as they are
    // written (a model's, before the grounding guard; the deterministic composer's answer
    // comes as one piece, sent here in chunks). The final, guarded Markdown is the `answer`
    // event that follows, so the copilot's `Replace` needs no event of its own.
    ws.copilot.ask_with_history(prompt, context, previous, &mut |event| match event {
        AskEvent::Process(entry) => on_event(PromptEvent::Process(&entry)),
        AskEvent::Token(text) => {
            for piece in chunks(&text, 96) {
                on_event(PromptEvent::Token(piece));
            }
        }
        AskEvent::Replace(_) | AskEvent::Done => {}
    })
}

/// Audits a finished answer: the prompt, each skill with the queries it ran and the tables
/// it read.
pub fn audit_answer(state: &AppState, auth: &Auth, target: &str, action: &str, a: &Answer) {
    let ws = auth.workspace.as_str();
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: ws,
        action,
        target,
        outcome: Outcome::Ok,
        detail: json!({"prompt": crate::names::shorten(&a.prompt, 2000), "skills": a.skills}),
    });
    for skill in &a.skills {
        let evidence: Vec<&bulwark_copilot::Evidence> =
            a.evidence.iter().filter(|e| &e.skill == skill).collect();
        let queries: Vec<&str> = evidence.iter().filter_map(|e| e.query.as_deref()).collect();
        let sources: Vec<&str> = evidence.iter().map(|e| e.source.as_str()).collect();
        state.audit(AuditEvent {
            actor: &auth.user,
            workspace: ws,
            action: "skill",
            target: skill,
            outcome: Outcome::Ok,
            detail: json!({"kql": queries, "data_accessed": sources}),
        });
    }
}

/// Runs one prompt in a session the caller owns (a new one when `session` is `None`),
/// recording the turn. Blocking.
pub fn run_prompt(
    state: &AppState,
    ws: &Workspace,
    auth: &Auth,
    session: Option<&str>,
    prompt: &str,
    on_event: &mut dyn FnMut(PromptEvent<'_>),
) -> Result<(String, i64, Answer), ApiError> {
    let id = match session {
        Some(id) => {
            if session_access(state, auth, id)? != Access::Owner {
                return Err(ApiError::forbidden("only the session's owner can prompt in it"));
            }
            id.to_string()
        }
        None => {
            let id = ws.sessions().create(None)?;
            state.db.own_session(&auth.workspace, &id, &auth.user)?;
            id
        }
    };
    on_event(PromptEvent::Session(&id));
    let mut context = ws.sessions().context(&id)?;
    let previous = if ws.copilot.llm_name().is_some() {
        ws.sessions().previous_turns(&id)?
    } else {
        Vec::new()
    };
    let answer = ask_with_events(ws, prompt, &mut context, &previous, on_event);
    let prompt_id = ws.sessions().record(&id, &answer, &context)?;
    state.db.save_turn(&auth.workspace, prompt_id, &id, &answer_json(&id, prompt_id, &answer))?;
    audit_answer(state, auth, &id, "prompt", &answer);
    Ok((id, prompt_id, answer))
}

/// Ask the copilot; the answer cites its evidence.
#[utoipa::path(post, path = "/prompts", tag = "prompts", responses((status = 200, description = "The answer")))]
pub async fn prompt(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<PromptBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "prompt")?;
    check_prompt(&body.prompt)?;
    let ws = state.workspace(&auth.workspace).await?;
    let slot = state.run_slot().await?;
    let (id, prompt_id, answer) = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        run_prompt(&state, &ws, &auth, body.session_id.as_deref(), &body.prompt, &mut |_| {})
    })
    .await??;
    Ok(Json(answer_json(&id, prompt_id, &answer)))
}

/// The same as `POST /prompts`, streamed as server-sent events: `session`, `process`…,
/// `token`…, `answer`, `done` (or `error`).
#[utoipa::path(post, path = "/prompts/stream", tag = "prompts", responses((status = 200, description = "text/event-stream")))]
pub async fn prompt_stream(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<PromptBody>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    auth.require(&state, Role::Contributor, "prompt")?;
    check_prompt(&body.prompt)?;
    // Refuse a session the caller cannot prompt in before the stream starts (a real status).
    if let Some(id) = &body.session_id
        && session_access(&state, &auth, id)? != Access::Owner
    {
        return Err(ApiError::forbidden("only the session's owner can prompt in it"));
    }
    let ws = state.workspace(&auth.workspace).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(256);
    let slot = state.run_slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let send = |name: &str, data: Value| {
            // A closed channel means the client left; the answer is still recorded.
            let _ = tx.blocking_send(Event::default().event(name).data(data.to_string()));
        };
        let result =
            run_prompt(&state, &ws, &auth, body.session_id.as_deref(), &body.prompt, &mut |e| {
                match e {
                    PromptEvent::Session(id) => send("session", json!({"session_id": id})),
                    PromptEvent::Process(p) => send("process", json!(p)),
                    PromptEvent::Token(t) => send("token", json!({"text": t})),
                }
            });
        match result {
            Ok((id, prompt_id, answer)) => {
                send("answer", answer_json(&id, prompt_id, &answer));
                send("done", json!({}));
            }
            Err(e) => send("error", json!({"message": e.to_string()})),
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `POST /promptbooks/{name}/run` body.
#[derive(Debug, Deserialize)]
pub struct RunBook {
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    session_id: Option<String>,
}

/// The built-in promptbooks.
#[utoipa::path(get, path = "/promptbooks", tag = "prompts", responses((status = 200, description = "Promptbooks")))]
pub async fn promptbooks(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "promptbooks")?;
    let books: Vec<Value> = bulwark_copilot::promptbook::builtin()
        .iter()
        .map(|b| {
            json!({
                "name": b.name,
                "description": b.description,
                "parameters": b.inputs.iter().map(|i| json!({"name": i, "description": i.replace('_', " "), "required": true})).collect::<Vec<_>>(),
                "steps": b.prompts,
            })
        })
        .collect();
    Ok(Json(Value::Array(books)))
}

/// Runs a promptbook step by step in one session.
#[utoipa::path(post, path = "/promptbooks/{name}/run", tag = "prompts", params(("name" = String, Path, description = "Promptbook")), responses((status = 200, description = "One answer per step")))]
pub async fn run_promptbook(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    Json(body): Json<RunBook>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "promptbook")?;
    let book = bulwark_copilot::promptbook::find(&name).ok_or_else(|| {
        ApiError::not_found(format!("no promptbook '{}'", crate::names::shorten(&name, 60)))
    })?;
    let prompts = book.expand(&body.params).map_err(ApiError::from)?;
    for p in &prompts {
        check_prompt(p)?;
    }
    let ws = state.workspace(&auth.workspace).await?;
    let slot = state.run_slot().await?;
    let out = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let _slot = slot;
        let mut session = body.session_id.clone();
        let mut steps = Vec::new();
        for p in &prompts {
            let (id, prompt_id, answer) =
                run_prompt(&state, &ws, &auth, session.as_deref(), p, &mut |_| {})?;
            steps.push(answer_json(&id, prompt_id, &answer));
            session = Some(id);
        }
        state.audit(AuditEvent {
            actor: &auth.user,
            workspace: auth.workspace.as_str(),
            action: "promptbook",
            target: &book.name,
            outcome: Outcome::Ok,
            detail: json!({"params": body.params, "session": session}),
        });
        Ok(json!({"session_id": session, "steps": steps}))
    })
    .await??;
    Ok(Json(out))
}

/// `POST /feedback` body.
#[derive(Debug, Deserialize)]
pub struct FeedbackBody {
    prompt_id: i64,
    kind: String,
    #[serde(default)]
    comment: String,
}

/// Feedback on an answer: `up`, `down`, `wrong` or `harmful`.
#[utoipa::path(post, path = "/feedback", tag = "prompts", responses((status = 200, description = "Recorded")))]
pub async fn feedback(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<FeedbackBody>,
) -> Result<Json<Value>, ApiError> {
    use bulwark_copilot::session::Feedback;
    auth.require(&state, Role::Contributor, "feedback")?;
    let kind = match body.kind.as_str() {
        "up" => Feedback::Confirmed,
        "down" => Feedback::OffTarget,
        "wrong" | "harmful" => Feedback::Inaccurate,
        _ => return Err(ApiError::bad("kind must be up, down, wrong or harmful")),
    };
    if body.comment.len() > 10_000 {
        return Err(ApiError::bad("the comment is too long"));
    }
    let session = state
        .db
        .turn_session(&auth.workspace, body.prompt_id)?
        .ok_or_else(|| ApiError::not_found("no such prompt"))?;
    session_access(&state, &auth, &session)?;
    let ws = state.workspace(&auth.workspace).await?;
    ws.sessions().feedback(body.prompt_id, kind, &body.comment)?;
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action: "feedback",
        target: &body.prompt_id.to_string(),
        outcome: Outcome::Ok,
        detail: json!({"kind": body.kind, "comment": crate::names::shorten(&body.comment, 500)}),
    });
    Ok(Json(json!({"ok": true})))
}

/// Asks without a stored session; returns `{"markdown","evidence"}`.
async fn one_shot(
    state: AppState,
    auth: Auth,
    action: &'static str,
    prompt: String,
) -> Result<Json<Value>, ApiError> {
    check_prompt(&prompt)?;
    let ws: Arc<Workspace> = state.workspace(&auth.workspace).await?;
    let slot = state.run_slot().await?;
    let answer = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let a = ws.copilot.ask(&prompt, &mut SessionContext::default());
        audit_answer(&state, &auth, "", action, &a);
        a
    })
    .await?;
    Ok(Json(
        json!({"markdown": answer.markdown, "evidence": answer.evidence, "skills": answer.skills}),
    ))
}

/// `GET /intel/lookup` query.
#[derive(Debug, Deserialize)]
pub struct Indicator {
    indicator: String,
}

fn one_line(value: &str, what: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(ApiError::bad(format!("{what} must be one line of 1 to {max} characters")));
    }
    Ok(v.to_string())
}

/// What the data and the knowledge base know about an indicator.
#[utoipa::path(get, path = "/intel/lookup", tag = "prompts", params(("indicator" = String, Query, description = "IP, domain, hash, URL, host or user")), responses((status = 200, description = "Markdown and evidence")))]
pub async fn intel_lookup(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<Indicator>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "intel")?;
    let indicator = one_line(&q.indicator, "indicator", 512)?;
    one_shot(state, auth, "intel", format!("Tell me about {indicator}")).await
}

/// `POST /reports` body.
#[derive(Debug, Deserialize)]
pub struct ReportBody {
    audience: String,
    #[serde(default)]
    tone: String,
    #[serde(default)]
    period: Option<String>,
}

/// A security report for an audience.
#[utoipa::path(post, path = "/reports", tag = "prompts", responses((status = 200, description = "Markdown and evidence")))]
pub async fn report(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<ReportBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "report")?;
    let audience = one_line(&body.audience, "audience", 60)?;
    let period = one_line(body.period.as_deref().unwrap_or("past week"), "period", 60)?;
    let tone = if body.tone.trim().is_empty() {
        String::new()
    } else {
        format!(" in a {} tone", one_line(&body.tone, "tone", 40)?)
    };
    one_shot(
        state,
        auth,
        "report",
        format!("Write a {audience} security report for the {period}{tone}"),
    )
    .await
}

/// `{"incident"}` of the embedded incident endpoints.
#[derive(Debug, Deserialize)]
pub struct IncidentRef {
    incident: Value,
}

fn incident_ref(v: &Value) -> Result<String, ApiError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => String::new(),
    };
    if text.is_empty()
        || text.len() > 80
        || !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::bad("incident must be an incident number or name"));
    }
    Ok(text)
}

/// Embedded: an incident summary.
#[utoipa::path(post, path = "/embed/incident-summary", tag = "embed", responses((status = 200, description = "Markdown and evidence")))]
pub async fn embed_incident_summary(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<IncidentRef>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "embed")?;
    let n = incident_ref(&b.incident)?;
    one_shot(state, auth, "embed", format!("Summarize incident {n}")).await
}

/// Embedded: guided response for an incident.
#[utoipa::path(post, path = "/embed/guided-response", tag = "embed", responses((status = 200, description = "Markdown and evidence")))]
pub async fn embed_guided_response(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<IncidentRef>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "embed")?;
    let n = incident_ref(&b.incident)?;
    one_shot(state, auth, "embed", format!("What should we do about incident {n}?")).await
}

/// `{"script"}`.
#[derive(Debug, Deserialize)]
pub struct ScriptRef {
    script: String,
}

/// Embedded: script analysis.
#[utoipa::path(post, path = "/embed/script-analysis", tag = "embed", responses((status = 200, description = "Markdown and evidence")))]
pub async fn embed_script_analysis(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<ScriptRef>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "embed")?;
    if b.script.trim().is_empty() {
        return Err(ApiError::bad("the script is empty"));
    }
    // A fence the script cannot close early.
    let script = b.script.replace("```", "` ` `");
    one_shot(state, auth, "embed", format!("Analyze this script: ```\n{script}\n```")).await
}

/// `{"question"}`.
#[derive(Debug, Deserialize)]
pub struct QuestionRef {
    question: String,
}

/// Embedded: a KQL query for a question.
#[utoipa::path(post, path = "/embed/kql-assistant", tag = "embed", responses((status = 200, description = "Markdown and evidence")))]
pub async fn embed_kql_assistant(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<QuestionRef>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "embed")?;
    let q = one_line(&b.question, "question", 2000)?;
    one_shot(state, auth, "embed", format!("Write a KQL query for {q}")).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_rebuild_the_markdown() {
        let md = "# Title\n\nSome **bold** text — with ünïcödé and a long line that goes on and on and on.";
        for size in [1, 5, 16, 1000] {
            let parts = super::chunks(md, size);
            assert_eq!(parts.concat(), md);
            assert!(parts.iter().all(|p| !p.is_empty()));
        }
    }
}
