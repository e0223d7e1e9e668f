//! An OpenAI-compatible HTTP server over any [`Provider`]: `POST /v1/chat/completions`
//! (JSON or server-sent events), `GET /v1/models`, `GET /health`.
//!
//! It lets OpenAI clients (and Bulwark's own OpenAI backend) use the local model, and it is how
//! LLM plumbing is tested against a real model over a real socket. Requests follow OpenAI's
//! wire format: messages with assistant `tool_calls` and `tool` results, `tools`,
//! `tool_choice`, `temperature`, `max_tokens` / `max_completion_tokens`, `seed`, `stop`,
//! `stream` and `stream_options.include_usage`; unknown fields are ignored as OpenAI does.
//!
//! The blocking provider runs on `spawn_blocking`; its [`StreamEvent`]s reach the client
//! through a channel, and a client that goes away cancels generation through a
//! [`CancelToken`]. Errors use OpenAI's shape, `{"error": {"message", "type", "param",
//! "code"}}`: 400 for malformed requests (naming the field), 413 for bodies over the limit,
//! 500 for model errors. The server binds nothing itself: callers pass the listener.
use crate::chat::{
    CancelToken, ChatRequest, ChatResponse, FinishReason, Message, Role, StreamEvent, ToolCall,
    ToolChoice, ToolSpec,
};
use crate::{Error, Provider};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Largest request body accepted by [`router`] (4 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

#[derive(Clone)]
struct AppState {
    provider: Arc<dyn Provider>,
    next_id: Arc<AtomicU64>,
    body_limit: usize,
}

/// The server's routes over `provider`, with the [`DEFAULT_BODY_LIMIT`].
pub fn router(provider: Arc<dyn Provider>) -> Router {
    router_with_body_limit(provider, DEFAULT_BODY_LIMIT)
}

/// The server's routes over `provider`; bodies over `body_limit` bytes get 413.
pub fn router_with_body_limit(provider: Arc<dyn Provider>, body_limit: usize) -> Router {
    let state = AppState { provider, next_id: Arc::new(AtomicU64::new(0)), body_limit };
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes (then finishes open requests).
pub async fn serve(
    listener: tokio::net::TcpListener,
    provider: Arc<dyn Provider>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(provider)).with_graceful_shutdown(shutdown).await
}

/// An error in OpenAI's JSON shape.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
}

impl ApiError {
    /// A malformed request, naming the field at fault.
    fn invalid(param: impl Into<String>, message: impl Into<String>) -> ApiError {
        let param = param.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("{param}: {}", message.into()),
            kind: "invalid_request_error",
            param: Some(param),
            code: Some("invalid_value"),
        }
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }

    fn from_model(error: Error) -> ApiError {
        let message = error.to_string();
        let (status, kind, code, param) = match &error {
            Error::ContextWindow { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("context_length_exceeded"),
                Some("messages".to_string()),
            ),
            Error::Connect { .. } | Error::Http { .. } | Error::Protocol(_) => {
                (StatusCode::BAD_GATEWAY, "server_error", Some("upstream_error"), None)
            }
            Error::Timeout(_) => {
                (StatusCode::GATEWAY_TIMEOUT, "server_error", Some("timeout"), None)
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None, None),
        };
        ApiError { status, message, kind, param, code }
    }

    fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

async fn health(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "status": "ok",
        "model": state.provider.model(),
        "backend": state.provider.backend(),
    }))
    .into_response()
}

async fn models(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [{
            "id": state.provider.model(),
            "object": "model",
            "created": 0,
            "owned_by": state.provider.backend(),
            "context_window": state.provider.context_window(),
        }],
    }))
    .into_response()
}

async fn not_found(request: Request) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("no endpoint {} {}", request.method(), request.uri().path()),
        kind: "invalid_request_error",
        param: None,
        code: Some("not_found"),
    }
}

/// Cancels generation when dropped while armed: the handler future or response stream went
/// away because the client disconnected.
struct CancelOnDrop {
    token: CancelToken,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.token.cancel();
        }
    }
}

/// What the generation thread reports.
enum Update {
    Event(StreamEvent),
    Done(crate::Result<ChatResponse>),
}

async fn chat_completions(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!("request body is larger than {} bytes", state.body_limit),
                kind: "invalid_request_error",
                param: None,
                code: Some("request_too_large"),
            }
        } else {
            ApiError::invalid("body", rejection.body_text())
        }
    })?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!("the body is not valid JSON: {e}"),
        kind: "invalid_request_error",
        param: None,
        code: Some("invalid_json"),
    })?;
    let parsed = parse_request(&value)?;
    let id =
        format!("chatcmpl-{:x}{:06x}", unix_now(), state.next_id.fetch_add(1, Ordering::Relaxed));
    let created = unix_now();
    let cancel = CancelToken::new();
    let mut guard = CancelOnDrop { token: cancel.clone(), armed: true };
    let provider = state.provider.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<Update>();
    let request = parsed.request;
    let streaming = parsed.stream;
    tokio::task::spawn_blocking(move || {
        let events = tx.clone();
        let worker_cancel = cancel.clone();
        let result = provider.chat(
            &request,
            &mut |event| {
                // Only streaming clients read events; a closed channel means they left.
                if streaming && events.send(Update::Event(event)).is_err() {
                    worker_cancel.cancel();
                }
            },
            &cancel,
        );
        let _ = tx.send(Update::Done(result));
    });

    if !parsed.stream {
        let response = loop {
            match rx.recv().await {
                Some(Update::Done(result)) => break result,
                Some(Update::Event(_)) => {}
                None => {
                    return Err(ApiError::internal("the generation thread stopped unexpectedly"));
                }
            }
        };
        guard.armed = false;
        let response = response.map_err(ApiError::from_model)?;
        return Ok(axum::Json(completion_json(&id, created, &response)).into_response());
    }

    // Wait for the first update so errors before any output (context window, template) still
    // get a proper status instead of a broken stream.
    let first = match rx.recv().await {
        Some(Update::Done(Err(e))) => {
            guard.armed = false;
            return Err(ApiError::from_model(e));
        }
        Some(update) => update,
        None => return Err(ApiError::internal("the generation thread stopped unexpectedly")),
    };
    let (body_tx, body_rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let chunks = ChunkWriter {
        id,
        created,
        model: state.provider.model().to_string(),
        include_usage: parsed.include_usage,
        tool_index: 0,
    };
    tokio::spawn(forward_stream(first, rx, body_tx, chunks, guard));
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(body_rx));
    Ok(([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body)
        .into_response())
}

/// Turns generation updates into SSE lines until the end or until the client leaves (the body
/// channel closes), in which case dropping `guard` cancels generation.
async fn forward_stream(
    first: Update,
    mut rx: mpsc::UnboundedReceiver<Update>,
    body: mpsc::Sender<Result<Bytes, Infallible>>,
    mut chunks: ChunkWriter,
    mut guard: CancelOnDrop,
) {
    let role = chunks.chunk(json!({"role": "assistant", "content": ""}), None);
    if body.send(Ok(sse(&role))).await.is_err() {
        return;
    }
    let mut next = Some(first);
    loop {
        let update = match next.take() {
            Some(update) => update,
            None => match rx.recv().await {
                Some(update) => update,
                None => {
                    // The generation thread ended without a result (it panicked).
                    guard.armed = false;
                    let error = ApiError::internal("the generation thread stopped unexpectedly");
                    let _ = body.send(Ok(sse(&error.body()))).await;
                    return;
                }
            },
        };
        match update {
            Update::Event(StreamEvent::Token(text)) => {
                let chunk = chunks.chunk(json!({"content": text}), None);
                if body.send(Ok(sse(&chunk))).await.is_err() {
                    return;
                }
            }
            Update::Event(StreamEvent::ToolCall(call)) => {
                let index = chunks.tool_index;
                chunks.tool_index += 1;
                let delta = json!({"tool_calls": [{
                    "index": index,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }]});
                if body.send(Ok(sse(&chunks.chunk(delta, None)))).await.is_err() {
                    return;
                }
            }
            Update::Done(result) => {
                guard.armed = false;
                let lines = match result {
                    Ok(response) => {
                        let mut lines =
                            vec![sse(&chunks.chunk(json!({}), Some(response.finish_reason)))];
                        if chunks.include_usage {
                            lines.push(sse(&chunks.usage_chunk(&response)));
                        }
                        lines.push(Bytes::from_static(b"data: [DONE]\n\n"));
                        lines
                    }
                    Err(e) => vec![sse(&ApiError::from_model(e).body())],
                };
                for line in lines {
                    if body.send(Ok(line)).await.is_err() {
                        return;
                    }
                }
                return;
            }
        }
    }
}

/// Builds `chat.completion.chunk` objects for one streamed answer.
struct ChunkWriter {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    tool_index: usize,
}

impl ChunkWriter {
    fn chunk(&self, delta: Value, finish: Option<FinishReason>) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish.map(finish_reason),
            }],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn usage_chunk(&self, response: &ChatResponse) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_json(response),
        })
    }
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

fn usage_json(response: &ChatResponse) -> Value {
    json!({
        "prompt_tokens": response.usage.prompt_tokens,
        "completion_tokens": response.usage.completion_tokens,
        "total_tokens": response.usage.total(),
    })
}

fn tool_calls_json(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|call| {
            json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })
        })
        .collect()
}

/// The non-streaming `chat.completion` object.
fn completion_json(id: &str, created: u64, response: &ChatResponse) -> Value {
    let message = &response.message;
    // OpenAI sends `content: null` for a reply that only calls tools.
    let content = if message.content.is_empty() && !message.tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(message.content.clone())
    };
    let mut out_message = json!({"role": "assistant", "content": content, "refusal": null});
    if !message.tool_calls.is_empty() {
        out_message["tool_calls"] = tool_calls_json(&message.tool_calls);
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": response.model,
        "choices": [{
            "index": 0,
            "message": out_message,
            "logprobs": null,
            "finish_reason": finish_reason(response.finish_reason),
        }],
        "usage": usage_json(response),
    })
}

/// A request read from OpenAI's JSON.
#[derive(Debug)]
struct ParsedRequest {
    request: ChatRequest,
    stream: bool,
    include_usage: bool,
}

/// Reads OpenAI's chat completion request, naming the first bad field.
fn parse_request(value: &Value) -> Result<ParsedRequest, ApiError> {
    let root =
        value.as_object().ok_or_else(|| ApiError::invalid("body", "expected a JSON object"))?;
    let field = |name: &str| root.get(name).filter(|v| !v.is_null());
    if let Some(model) = field("model")
        && !model.is_string()
    {
        return Err(ApiError::invalid("model", "expected a string"));
    }
    let messages = match field("messages") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, m)| parse_message(m, &format!("messages[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) => return Err(ApiError::invalid("messages", "must not be empty")),
        Some(_) => return Err(ApiError::invalid("messages", "expected an array of messages")),
        None => return Err(ApiError::invalid("messages", "is required")),
    };
    let mut request = ChatRequest::new(messages);
    if let Some(tools) = field("tools") {
        let items =
            tools.as_array().ok_or_else(|| ApiError::invalid("tools", "expected an array"))?;
        request.tools = items
            .iter()
            .enumerate()
            .map(|(i, t)| parse_tool(t, &format!("tools[{i}]")))
            .collect::<Result<_, _>>()?;
    }
    if let Some(choice) = field("tool_choice") {
        request.tool_choice = match choice {
            Value::String(s) => match s.as_str() {
                "auto" => ToolChoice::Auto,
                "none" => ToolChoice::None,
                "required" => ToolChoice::Required,
                other => {
                    return Err(ApiError::invalid(
                        "tool_choice",
                        format!("unknown value `{other}` (auto, none, required or a function)"),
                    ));
                }
            },
            Value::Object(object) => {
                let name = object
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid("tool_choice.function.name", "is required"))?;
                // A named function: offer only that tool and require a call.
                request.tools.retain(|t| t.name == name);
                if request.tools.is_empty() {
                    return Err(ApiError::invalid(
                        "tool_choice.function.name",
                        format!("`{name}` is not one of the tools"),
                    ));
                }
                ToolChoice::Required
            }
            _ => return Err(ApiError::invalid("tool_choice", "expected a string or an object")),
        };
    }
    if let Some(t) = field("temperature") {
        let t = t.as_f64().filter(|t| (0.0..=2.0).contains(t));
        request.temperature = t
            .ok_or_else(|| ApiError::invalid("temperature", "expected a number from 0 to 2"))?
            as f32;
    }
    for name in ["max_completion_tokens", "max_tokens"] {
        if let Some(max) = field(name) {
            let max = max.as_u64().and_then(|m| u32::try_from(m).ok());
            request.max_tokens = Some(
                max.ok_or_else(|| ApiError::invalid(name, "expected a non-negative integer"))?,
            );
            break;
        }
    }
    if let Some(seed) = field("seed") {
        // OpenAI takes any 64-bit integer; negative seeds keep their bits.
        let seed = seed.as_u64().or_else(|| seed.as_i64().map(|s| s as u64));
        request.seed = Some(seed.ok_or_else(|| ApiError::invalid("seed", "expected an integer"))?);
    }
    if let Some(stop) = field("stop") {
        request.stop = match stop {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ApiError::invalid(format!("stop[{i}]"), "expected a string"))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(ApiError::invalid("stop", "expected a string or an array of strings")),
        };
    }
    if let Some(n) = field("n")
        && n.as_u64() != Some(1)
    {
        return Err(ApiError::invalid("n", "only one choice (n = 1) is supported"));
    }
    let stream = match field("stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("stream", "expected a boolean")),
    };
    let include_usage = match field("stream_options").map(|o| o.get("include_usage")) {
        None | Some(None) | Some(Some(Value::Null)) => false,
        Some(Some(Value::Bool(b))) => *b,
        Some(Some(_)) => {
            return Err(ApiError::invalid("stream_options.include_usage", "expected a boolean"));
        }
    };
    Ok(ParsedRequest { request, stream, include_usage })
}

fn parse_message(value: &Value, at: &str) -> Result<Message, ApiError> {
    let object =
        value.as_object().ok_or_else(|| ApiError::invalid(at, "expected a message object"))?;
    let role = match object.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("{at}.role"),
                format!("unknown role `{other}` (system, developer, user, assistant, tool)"),
            ));
        }
        None => return Err(ApiError::invalid(format!("{at}.role"), "is required")),
    };
    let content = match object.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                let here = format!("{at}.content[{j}]");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => match part.get("text").and_then(Value::as_str) {
                        Some(t) => text.push_str(t),
                        None => {
                            return Err(ApiError::invalid(
                                format!("{here}.text"),
                                "expected a string",
                            ));
                        }
                    },
                    Some(other) => {
                        return Err(ApiError::invalid(
                            format!("{here}.type"),
                            format!("only text parts are supported, not `{other}`"),
                        ));
                    }
                    None => return Err(ApiError::invalid(format!("{here}.type"), "is required")),
                }
            }
            text
        }
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{at}.content"),
                "expected a string, null or an array of parts",
            ));
        }
    };
    let mut message = Message { role, content, tool_calls: Vec::new(), tool_call_id: None };
    if let Some(calls) = object.get("tool_calls").filter(|v| !v.is_null()) {
        let items = calls
            .as_array()
            .ok_or_else(|| ApiError::invalid(format!("{at}.tool_calls"), "expected an array"))?;
        for (j, call) in items.iter().enumerate() {
            let here = format!("{at}.tool_calls[{j}]");
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::invalid(format!("{here}.id"), "expected a string"))?;
            let function = call
                .get("function")
                .ok_or_else(|| ApiError::invalid(format!("{here}.function"), "is required"))?;
            let name = function.get("name").and_then(Value::as_str).ok_or_else(|| {
                ApiError::invalid(format!("{here}.function.name"), "expected a string")
            })?;
            let arguments = match function.get("arguments") {
                None | Some(Value::Null) => "{}".to_string(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            message.tool_calls.push(ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments,
            });
        }
    }
    if role == Role::Tool {
        let id = object.get("tool_call_id").and_then(Value::as_str).ok_or_else(|| {
            ApiError::invalid(format!("{at}.tool_call_id"), "is required for tool messages")
        })?;
        message.tool_call_id = Some(id.to_string());
    }
    Ok(message)
}

fn parse_tool(value: &Value, at: &str) -> Result<ToolSpec, ApiError> {
    if let Some(kind) = value.get("type").and_then(Value::as_str)
        && kind != "function"
    {
        return Err(ApiError::invalid(
            format!("{at}.type"),
            format!("only `function` tools are supported, not `{kind}`"),
        ));
    }
    let function = value
        .get("function")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::invalid(format!("{at}.function"), "expected an object"))?;
    let name = function.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or_else(
        || ApiError::invalid(format!("{at}.function.name"), "expected a non-empty string"),
    )?;
    let description = match function.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{at}.function.description"),
                "expected a string",
            ));
        }
    };
    let parameters = match function.get("parameters") {
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{at}.function.parameters"),
                "expected a JSON Schema object",
            ));
        }
    };
    Ok(ToolSpec { name: name.to_string(), description, parameters })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(value: Value) -> ApiError {
        parse_request(&value).expect_err("should be rejected")
    }

    #[test]
    fn reads_a_full_openai_request() {
        let parsed = parse_request(&json!({
            "model": "x",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "r"},
            ],
            "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}, {"type": "function", "function": {"name": "g"}}],
            "tool_choice": {"type": "function", "function": {"name": "g"}},
            "temperature": 0.5, "max_completion_tokens": 7, "max_tokens": 9, "seed": -1,
            "stop": ["a", "b"], "stream": true, "stream_options": {"include_usage": true},
            "top_p": 1, "user": "ignored",
        }))
        .expect("valid");
        let r = &parsed.request;
        assert_eq!(r.messages[0].role, Role::System);
        assert_eq!(r.messages[0].content, "be brief");
        assert_eq!(r.messages[2].tool_calls[0].arguments, "{\"a\":1}");
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(r.tools.len(), 1, "a named tool_choice keeps only that tool");
        assert_eq!(r.tools[0].name, "g");
        assert_eq!(r.tools[0].parameters, json!({"type": "object", "properties": {}}));
        assert_eq!(r.tool_choice, ToolChoice::Required);
        assert_eq!(r.temperature, 0.5);
        assert_eq!(r.max_tokens, Some(7), "max_completion_tokens wins over max_tokens");
        assert_eq!(r.seed, Some(u64::MAX));
        assert_eq!(r.stop, ["a", "b"]);
        assert!(parsed.stream && parsed.include_usage);
    }

    #[test]
    fn names_the_bad_field() {
        let cases = [
            (json!([]), "body"),
            (json!({}), "messages"),
            (json!({"messages": []}), "messages"),
            (json!({"messages": [{"role": "robot", "content": "x"}]}), "messages[0].role"),
            (json!({"messages": [{"content": "x"}]}), "messages[0].role"),
            (json!({"messages": [{"role": "user", "content": 5}]}), "messages[0].content"),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
                "messages[0].content[0].type",
            ),
            (json!({"messages": [{"role": "tool", "content": "x"}]}), "messages[0].tool_call_id"),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}),
                "messages[0].tool_calls[0].function",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}),
                "temperature",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": -3}),
                "max_tokens",
            ),
            (json!({"messages": [{"role": "user", "content": "x"}], "stop": [1]}), "stop[0]"),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {}}]}),
                "tools[0].function.name",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}),
                "tool_choice",
            ),
            (json!({"messages": [{"role": "user", "content": "x"}], "n": 2}), "n"),
            (json!({"messages": [{"role": "user", "content": "x"}], "model": 3}), "model"),
        ];
        for (body, field) in cases {
            let e = err(body.clone());
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert_eq!(e.param.as_deref(), Some(field), "{body}: {}", e.message);
            assert!(e.message.starts_with(field), "{}", e.message);
        }
    }

    #[test]
    fn tool_only_replies_have_null_content() {
        let response = ChatResponse {
            message: Message {
                tool_calls: vec![ToolCall {
                    id: "call_0".into(),
                    name: "f".into(),
                    arguments: "{}".into(),
                }],
                ..Message::assistant("")
            },
            finish_reason: FinishReason::ToolCalls,
            usage: crate::Usage { prompt_tokens: 3, completion_tokens: 4 },
            model: "m".into(),
        };
        let v = completion_json("id", 1, &response);
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "f");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(v["usage"]["total_tokens"], 7);
    }
}
