//! Anthropic's Messages API (`POST {base}/v1/messages`, `x-api-key`, `anthropic-version:
//! 2023-06-01`), streamed.
//!
//! Mapping from the OpenAI-shaped chat vocabulary: system messages become the separate
//! `system` prompt; assistant tool calls become `tool_use` blocks (arguments parsed to JSON);
//! tool messages become `tool_result` blocks in a user message (consecutive results, and any
//! consecutive same-role messages, merged into one message because the API wants the roles to
//! alternate). Stream events: `message_start` (input usage), `content_block_start/delta/stop`
//! (`text_delta`, `input_json_delta`), `message_delta` (stop reason, output usage),
//! `message_stop`, `ping`, `error`.
use crate::chat::{
    CancelToken, ChatRequest, ChatResponse, FinishReason, Message, Role, StreamEvent, ToolCall,
    ToolChoice, Usage,
};
use crate::http::{HttpClient, HttpOptions, Opened, json_error_message};
use crate::openai::{default_context_window, estimate_usage};
use crate::provider::Provider;
use crate::{Error, Result};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The API version header value.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` sent when the request sets none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A Claude model behind the Messages API.
pub struct AnthropicProvider {
    http: HttpClient,
    url: String,
    headers: Vec<(&'static str, String)>,
    model: String,
    context_window: usize,
    default_max_tokens: u32,
}

impl std::fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("context_window", &self.context_window)
            .finish_non_exhaustive()
    }
}

impl AnthropicProvider {
    /// A provider for `model` at `base_url` (`https://api.anthropic.com`; a trailing `/v1`
    /// is accepted) with `api_key`.
    pub fn new(base_url: &str, api_key: &str, model: &str) -> Result<AnthropicProvider> {
        let base = base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config(format!(
                "url must be an http:// or https:// URL, got {base:?}"
            )));
        }
        let base = base.trim_end_matches("/v1/messages").trim_end_matches("/v1");
        if api_key.is_empty() {
            return Err(Error::Config("api_key is required for the anthropic backend".into()));
        }
        let mut http = HttpClient::new(HttpOptions::default(), &[529])?;
        http.add_secret(api_key);
        Ok(AnthropicProvider {
            http,
            url: format!("{base}/v1/messages"),
            headers: vec![
                ("x-api-key", api_key.to_string()),
                ("anthropic-version", ANTHROPIC_VERSION.to_string()),
            ],
            model: model.to_string(),
            context_window: default_context_window(model),
            default_max_tokens: DEFAULT_MAX_TOKENS,
        })
    }

    /// Replaces the timeouts and retry policy.
    pub fn with_http_options(mut self, opts: HttpOptions) -> Result<AnthropicProvider> {
        let mut http = HttpClient::new(opts, &[529])?;
        http.add_secret(&self.headers[0].1);
        self.http = http;
        Ok(self)
    }

    /// Overrides the context window (default: 200 000 for Claude models).
    pub fn with_context_window(mut self, tokens: usize) -> AnthropicProvider {
        self.context_window = tokens.max(1);
        self
    }

    /// `max_tokens` for requests that set none.
    pub fn with_default_max_tokens(mut self, tokens: u32) -> AnthropicProvider {
        self.default_max_tokens = tokens.max(1);
        self
    }

    /// The messages URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JSON body for `request` (streaming on).
    pub fn request_body(&self, request: &ChatRequest) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert(
            "max_tokens".into(),
            json!(request.max_tokens.unwrap_or(self.default_max_tokens)),
        );
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System && !m.content.is_empty())
            .map(|m| m.content.as_str())
            .collect();
        if !system.is_empty() {
            body.insert("system".into(), json!(system.join("\n\n")));
        }
        body.insert("messages".into(), Value::Array(messages_json(&request.messages)));
        body.insert("stream".into(), json!(true));
        body.insert("temperature".into(), json!(request.temperature.clamp(0.0, 1.0)));
        if !request.stop.is_empty() {
            body.insert("stop_sequences".into(), json!(request.stop));
        }
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"name": t.name, "description": t.description,
                           "input_schema": t.parameters})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
            let choice = match request.tool_choice {
                ToolChoice::Auto => "auto",
                ToolChoice::None => "none",
                ToolChoice::Required => "any",
            };
            body.insert("tool_choice".into(), json!({"type": choice}));
        }
        Value::Object(body)
    }
}

/// Our messages as Anthropic messages: content blocks, alternating roles.
fn messages_json(messages: &[Message]) -> Vec<Value> {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", text_block(&m.content)),
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content,
                })],
            ),
            Role::Assistant => {
                let mut blocks = text_block(&m.content);
                for c in &m.tool_calls {
                    // Arguments are JSON text; the API wants the object. Invalid text (the
                    // model's own mistake) is sent as an empty object.
                    let input = serde_json::from_str::<Value>(&c.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                ("assistant", blocks)
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last_role, last_blocks)) if last_role == role => {
                // Tool results must come first in a user message; they do, because a user
                // message merged after them appends.
                last_blocks.extend(blocks);
            }
            _ => out.push((role.to_string(), blocks)),
        }
    }
    out.into_iter()
        .map(|(role, mut content)| {
            // The API wants a user message's tool results before anything else in it.
            if role == "user" {
                content
                    .sort_by_key(|b| b.get("type").and_then(Value::as_str) != Some("tool_result"));
            }
            json!({"role": role, "content": content})
        })
        .collect()
}

fn text_block(text: &str) -> Vec<Value> {
    // The API rejects empty text blocks.
    if text.trim().is_empty() { Vec::new() } else { vec![json!({"type": "text", "text": text})] }
}

impl Provider for AnthropicProvider {
    fn backend(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn context_window(&self) -> usize {
        self.context_window
    }

    fn chat(
        &self,
        request: &ChatRequest,
        on_event: &mut dyn FnMut(StreamEvent),
        cancel: &CancelToken,
    ) -> Result<ChatResponse> {
        let body = self.request_body(request);
        let opened = self.http.post_json(&self.url, &self.headers, &body, cancel)?;
        let mut acc = Accumulator::default();
        if opened.is_sse() {
            read_stream(opened, &mut acc, on_event, cancel)?;
        } else {
            let value = opened.json(cancel)?;
            acc.absorb_complete(&value, on_event)?;
        }
        Ok(acc.finish(request, &self.model))
    }
}

fn read_stream(
    opened: Opened,
    acc: &mut Accumulator,
    on_event: &mut dyn FnMut(StreamEvent),
    cancel: &CancelToken,
) -> Result<()> {
    crate::http::read_json_stream(opened, cancel, &mut |event, value, url| {
        // The event type is in the data too; prefer it over the `event:` line.
        let kind = value.get("type").and_then(Value::as_str).unwrap_or(event);
        acc.absorb_event(kind, value, on_event, url)
    })
}

#[derive(Debug, Default)]
struct Block {
    tool: Option<(String, String)>,
    json: String,
    done: bool,
}

#[derive(Debug, Default)]
struct Accumulator {
    text: String,
    blocks: BTreeMap<u64, Block>,
    calls: Vec<ToolCall>,
    stop: Option<FinishReason>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    model: Option<String>,
}

fn stop_reason(s: &str) -> FinishReason {
    match s {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        // end_turn, stop_sequence, pause_turn
        _ => FinishReason::Stop,
    }
}

fn input_tokens(u: &Value) -> Option<u64> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let base = n("input_tokens")?;
    Some(
        base + n("cache_creation_input_tokens").unwrap_or(0)
            + n("cache_read_input_tokens").unwrap_or(0),
    )
}

impl Accumulator {
    /// Handles one stream event; `Ok(true)` at `message_stop`.
    fn absorb_event(
        &mut self,
        kind: &str,
        v: &Value,
        on_event: &mut dyn FnMut(StreamEvent),
        url: &str,
    ) -> Result<bool> {
        match kind {
            "message_start" => {
                let msg = v.get("message").cloned().unwrap_or(Value::Null);
                if let Some(m) = msg.get("model").and_then(Value::as_str) {
                    self.model = Some(m.to_string());
                }
                if let Some(u) = msg.get("usage") {
                    self.input_tokens = input_tokens(u).or(self.input_tokens);
                    if let Some(o) = u.get("output_tokens").and_then(Value::as_u64) {
                        self.output_tokens = Some(o);
                    }
                }
            }
            "content_block_start" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let block = v.get("content_block").cloned().unwrap_or(Value::Null);
                let mut b = Block::default();
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let s = |k: &str| {
                            block.get(k).and_then(Value::as_str).unwrap_or("").to_string()
                        };
                        b.tool = Some((s("id"), s("name")));
                        // Non-streamed input (rare) arrives whole here.
                        if let Some(input) = block
                            .get("input")
                            .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                        {
                            b.json = input.to_string();
                        }
                    }
                    Some("text") => {
                        if let Some(t) = block.get("text").and_then(Value::as_str)
                            && !t.is_empty()
                        {
                            self.text.push_str(t);
                            on_event(StreamEvent::Token(t.to_string()));
                        }
                    }
                    _ => {}
                }
                self.blocks.insert(index, b);
            }
            "content_block_delta" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = v.get("delta").cloned().unwrap_or(Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(t) = delta.get("text").and_then(Value::as_str)
                            && !t.is_empty()
                        {
                            self.text.push_str(t);
                            on_event(StreamEvent::Token(t.to_string()));
                        }
                    }
                    Some("input_json_delta") => {
                        if let Some(p) = delta.get("partial_json").and_then(Value::as_str) {
                            self.blocks.entry(index).or_default().json.push_str(p);
                        }
                    }
                    // thinking_delta, signature_delta, citations_delta: not shown.
                    _ => {}
                }
            }
            "content_block_stop" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                self.close_block(index, on_event);
            }
            "message_delta" => {
                if let Some(r) =
                    v.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str)
                {
                    self.stop = Some(stop_reason(r));
                }
                if let Some(u) = v.get("usage") {
                    if let Some(o) = u.get("output_tokens").and_then(Value::as_u64) {
                        self.output_tokens = Some(o);
                    }
                    if let Some(i) = input_tokens(u) {
                        self.input_tokens = Some(i);
                    }
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let message = json_error_message(v).unwrap_or_else(|| "unknown error".into());
                let status =
                    match v.get("error").and_then(|e| e.get("type")).and_then(Value::as_str) {
                        Some("overloaded_error") => 529,
                        Some("rate_limit_error") => 429,
                        Some("invalid_request_error") => 400,
                        Some("authentication_error") => 401,
                        Some("permission_error") => 403,
                        Some("not_found_error") => 404,
                        Some("request_too_large") => 413,
                        _ => 500,
                    };
                return Err(Error::Http { url: url.to_string(), status, message });
            }
            // ping and future event types
            _ => {}
        }
        Ok(false)
    }

    fn close_block(&mut self, index: u64, on_event: &mut dyn FnMut(StreamEvent)) {
        let Some(b) = self.blocks.get_mut(&index) else { return };
        if b.done {
            return;
        }
        b.done = true;
        if let Some((id, name)) = b.tool.clone() {
            let arguments = if b.json.trim().is_empty() {
                "{}".to_string()
            } else {
                std::mem::take(&mut b.json)
            };
            let call = ToolCall {
                id: if id.is_empty() { format!("toolu_{index}") } else { id },
                name,
                arguments,
            };
            on_event(StreamEvent::ToolCall(call.clone()));
            self.calls.push(call);
        }
    }

    /// A non-streamed answer (`content` blocks).
    fn absorb_complete(&mut self, v: &Value, on_event: &mut dyn FnMut(StreamEvent)) -> Result<()> {
        if v.get("type").and_then(Value::as_str) == Some("error") {
            let msg = json_error_message(v).unwrap_or_else(|| "unknown error".into());
            return Err(Error::Protocol(format!("the backend failed: {msg}")));
        }
        if let Some(m) = v.get("model").and_then(Value::as_str) {
            self.model = Some(m.to_string());
        }
        for (i, block) in
            v.get("content").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    if let Some(t) = block.get("text").and_then(Value::as_str)
                        && !t.is_empty()
                    {
                        self.text.push_str(t);
                        on_event(StreamEvent::Token(t.to_string()));
                    }
                }
                Some("tool_use") => {
                    let s =
                        |k: &str| block.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                    let call = ToolCall {
                        id: if s("id").is_empty() { format!("toolu_{i}") } else { s("id") },
                        name: s("name"),
                        arguments: input.to_string(),
                    };
                    on_event(StreamEvent::ToolCall(call.clone()));
                    self.calls.push(call);
                }
                _ => {}
            }
        }
        if let Some(r) = v.get("stop_reason").and_then(Value::as_str) {
            self.stop = Some(stop_reason(r));
        }
        if let Some(u) = v.get("usage") {
            self.input_tokens = input_tokens(u);
            self.output_tokens = u.get("output_tokens").and_then(Value::as_u64);
        }
        Ok(())
    }

    fn finish(self, request: &ChatRequest, fallback_model: &str) -> ChatResponse {
        let finish_reason = match self.stop {
            Some(FinishReason::Stop) | None if !self.calls.is_empty() => FinishReason::ToolCalls,
            Some(r) => r,
            None => FinishReason::Stop,
        };
        let estimate = estimate_usage(request, &self.text, &self.calls);
        let usage = Usage {
            prompt_tokens: self.input_tokens.unwrap_or(estimate.prompt_tokens),
            completion_tokens: self.output_tokens.unwrap_or(estimate.completion_tokens),
        };
        ChatResponse {
            message: Message {
                role: Role::Assistant,
                content: self.text,
                tool_calls: self.calls,
                tool_call_id: None,
            },
            finish_reason,
            usage,
            model: self.model.unwrap_or_else(|| fallback_model.to_string()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::chat::ToolSpec;

    #[test]
    fn messages_alternate_and_tools_map_to_blocks() {
        let p = AnthropicProvider::new(
            "https://api.anthropic.com/v1/",
            "sk-ant-x",
            "claude-sonnet-4-5",
        )
        .unwrap();
        assert_eq!(p.url(), "https://api.anthropic.com/v1/messages");
        let mut req = ChatRequest::new(vec![
            Message::system("rules"),
            Message::user("q"),
            Message {
                role: Role::Assistant,
                content: "Let me look.".into(),
                tool_calls: vec![
                    ToolCall { id: "t1".into(), name: "a".into(), arguments: "{\"x\":1}".into() },
                    ToolCall { id: "t2".into(), name: "b".into(), arguments: "not json".into() },
                ],
                tool_call_id: None,
            },
            Message::tool("t1", "r1"),
            Message::tool("t2", "r2"),
            Message::user("and?"),
        ]);
        // A user remark between the call and its results still leaves the results first.
        req.messages.insert(3, Message::user("(also check the logs)"));
        req.tools.push(ToolSpec {
            name: "a".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        });
        req.tool_choice = ToolChoice::Required;
        let body = p.request_body(&req);
        assert_eq!(body["system"], "rules");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert_eq!(msgs[1]["content"][1]["input"]["x"], 1);
        assert_eq!(msgs[1]["content"][2]["input"], json!({}));
        let results = msgs[2]["content"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        assert_eq!(results[0]["type"], "tool_result");
        assert_eq!(results[1]["tool_use_id"], "t2");
        assert_eq!(results[2]["text"], "(also check the logs)");
        assert_eq!(results[3]["text"], "and?");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(body["tool_choice"]["type"], "any");
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(stop_reason("end_turn"), FinishReason::Stop);
        assert_eq!(stop_reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(stop_reason("max_tokens"), FinishReason::Length);
        assert_eq!(stop_reason("tool_use"), FinishReason::ToolCalls);
    }
}
