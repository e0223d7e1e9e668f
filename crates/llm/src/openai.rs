//! OpenAI-compatible chat completions (`POST {base}/chat/completions`): OpenAI itself, Azure
//! OpenAI (`{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`), and the
//! local servers that copy the API (Ollama, vLLM, llama.cpp server, LM Studio, Bulwark's own).
//!
//! Requests stream (`stream: true` with `stream_options.include_usage`); a server that ignores
//! `stream` and answers with one JSON document is understood too (by content type). Tool-call
//! deltas are assembled by index and each complete call is reported once, at the end.
use crate::chat::{
    CancelToken, ChatRequest, ChatResponse, FinishReason, Message, Role, StreamEvent, ToolCall,
    ToolChoice, Usage,
};
use crate::http::{HttpClient, HttpOptions, Opened, json_error_message};
use crate::provider::{Provider, estimate_tokens};
use crate::{Error, Result};
use serde_json::{Map, Value, json};

/// How to authenticate to Azure OpenAI.
#[derive(Clone, PartialEq)]
pub enum AzureAuth {
    /// A resource key, sent as the `api-key` header.
    ApiKey(String),
    /// A Microsoft Entra ID access token, sent as `Authorization: Bearer`.
    Bearer(String),
}

impl std::fmt::Debug for AzureAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AzureAuth::ApiKey(_) => f.write_str("ApiKey([redacted])"),
            AzureAuth::Bearer(_) => f.write_str("Bearer([redacted])"),
        }
    }
}

/// A chat model behind an OpenAI-compatible endpoint.
pub struct OpenAiProvider {
    http: HttpClient,
    url: String,
    headers: Vec<(&'static str, String)>,
    backend: &'static str,
    model: String,
    context_window: usize,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .field("model", &self.model)
            .field("context_window", &self.context_window)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// An OpenAI-compatible endpoint: `base_url` up to the version (`https://api.openai.com/v1`,
    /// `http://localhost:11434/v1`), an optional API key (sent as a bearer token; local
    /// servers usually need none) and the model name.
    pub fn new(base_url: &str, api_key: Option<&str>, model: &str) -> Result<OpenAiProvider> {
        let base = checked_url(base_url, "url")?;
        let url = if base.ends_with("/chat/completions") {
            base
        } else {
            format!("{base}/chat/completions")
        };
        let mut headers = Vec::new();
        let mut http = HttpClient::new(HttpOptions::default(), &[])?;
        if let Some(key) = api_key.filter(|k| !k.is_empty()) {
            headers.push(("authorization", format!("Bearer {key}")));
            http.add_secret(key);
        }
        Ok(OpenAiProvider {
            http,
            url,
            headers,
            backend: "openai",
            model: model.to_string(),
            context_window: default_context_window(model),
        })
    }

    /// An Azure OpenAI deployment: the resource endpoint (`https://NAME.openai.azure.com`),
    /// the deployment name, the REST `api-version` (e.g. `2024-10-21`) and the credential.
    pub fn azure(
        endpoint: &str,
        deployment: &str,
        api_version: &str,
        auth: AzureAuth,
    ) -> Result<OpenAiProvider> {
        let endpoint = checked_url(endpoint, "url")?;
        if deployment.is_empty() || deployment.contains(['/', '?', '#']) {
            return Err(Error::Config(format!("invalid Azure deployment name {deployment:?}")));
        }
        if api_version.is_empty()
            || !api_version.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(Error::Config(format!("invalid Azure api_version {api_version:?}")));
        }
        let url = format!(
            "{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={api_version}"
        );
        let mut http = HttpClient::new(HttpOptions::default(), &[])?;
        let header = match &auth {
            AzureAuth::ApiKey(key) => {
                http.add_secret(key);
                ("api-key", key.clone())
            }
            AzureAuth::Bearer(token) => {
                http.add_secret(token);
                ("authorization", format!("Bearer {token}"))
            }
        };
        Ok(OpenAiProvider {
            http,
            url,
            headers: vec![header],
            backend: "azure",
            model: deployment.to_string(),
            context_window: default_context_window(deployment),
        })
    }

    /// Replaces the timeouts and retry policy.
    pub fn with_http_options(mut self, opts: HttpOptions) -> Result<OpenAiProvider> {
        let mut http = HttpClient::new(opts, &[])?;
        for (_, value) in &self.headers {
            http.add_secret(value.strip_prefix("Bearer ").unwrap_or(value));
        }
        self.http = http;
        Ok(self)
    }

    /// Overrides the context window (the default is guessed from the model name).
    pub fn with_context_window(mut self, tokens: usize) -> OpenAiProvider {
        self.context_window = tokens.max(1);
        self
    }

    /// Overrides the model name sent in requests (Azure: the default is the deployment).
    pub fn with_model(mut self, model: &str) -> OpenAiProvider {
        self.model = model.to_string();
        self
    }

    /// The full chat completions URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JSON body for `request` (streaming on).
    pub fn request_body(&self, request: &ChatRequest) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert(
            "messages".into(),
            Value::Array(request.messages.iter().map(message_json).collect()),
        );
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
        body.insert("temperature".into(), json!(request.temperature));
        if let Some(max) = request.max_tokens {
            body.insert("max_tokens".into(), json!(max));
        }
        if let Some(seed) = request.seed {
            body.insert("seed".into(), json!(seed));
        }
        if !request.stop.is_empty() {
            body.insert("stop".into(), json!(request.stop));
        }
        // Some servers reject `tool_choice` without `tools`: send both or neither.
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
            let choice = match request.tool_choice {
                ToolChoice::Auto => "auto",
                ToolChoice::None => "none",
                ToolChoice::Required => "required",
            };
            body.insert("tool_choice".into(), json!(choice));
        }
        Value::Object(body)
    }
}

/// Rejects URLs reqwest cannot use and trims a trailing slash.
fn checked_url(url: &str, setting: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 8 {
        return Err(Error::Config(format!(
            "{setting} must be an http:// or https:// URL, got {url:?}"
        )));
    }
    Ok(url.to_string())
}

/// The context window of well-known models; 8192 for unknown (local) ones, a safe floor.
pub fn default_context_window(model: &str) -> usize {
    let m = model.to_ascii_lowercase();
    if m.starts_with("claude") {
        200_000
    } else if m.starts_with("gpt-4.1") {
        1_047_576
    } else if m.starts_with("gpt-5")
        || m.starts_with("o1")
        || m.starts_with("o3")
        || m.starts_with("o4")
    {
        200_000
    } else if m.starts_with("gpt-4o") || m.starts_with("gpt-4-turbo") {
        128_000
    } else if m.starts_with("gpt-35") || m.starts_with("gpt-3.5") {
        16_385
    } else {
        8_192
    }
}

fn message_json(m: &Message) -> Value {
    match m.role {
        Role::System => json!({"role": "system", "content": m.content}),
        Role::User => json!({"role": "user", "content": m.content}),
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": m.tool_call_id.clone().unwrap_or_default(),
            "content": m.content,
        }),
        Role::Assistant => {
            let mut obj = Map::new();
            obj.insert("role".into(), json!("assistant"));
            // OpenAI wants `content: null` (not "") on a message that only calls tools.
            let content = if m.content.is_empty() && !m.tool_calls.is_empty() {
                Value::Null
            } else {
                json!(m.content)
            };
            obj.insert("content".into(), content);
            if !m.tool_calls.is_empty() {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function",
                               "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect();
                obj.insert("tool_calls".into(), Value::Array(calls));
            }
            Value::Object(obj)
        }
    }
}

impl Provider for OpenAiProvider {
    fn backend(&self) -> &str {
        self.backend
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
        let mut body = self.request_body(request);
        // A server that rejects one of our optional parameters (OpenAI's reasoning models
        // want `max_completion_tokens` and no `temperature`; some older local servers reject
        // `stream_options`) gets the request again without it, a few times at most.
        let mut adapted = 0;
        let opened = loop {
            match self.http.post_json(&self.url, &self.headers, &body, cancel) {
                Ok(opened) => break opened,
                Err(Error::Http { status: 400, message, .. })
                    if adapted < 3 && adapt(&mut body, &message) =>
                {
                    adapted += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let mut acc = Accumulator::default();
        if opened.is_sse() {
            read_stream(opened, &mut acc, on_event, cancel)?;
        } else {
            let value = opened.json(cancel)?;
            acc.absorb_complete(&value, on_event)?;
        }
        Ok(acc.finish(request, &self.model, on_event))
    }
}

/// Rewrites `body` after a 400 that names a parameter the server does not accept; `false`
/// when the message names nothing we can drop or rename.
fn adapt(body: &mut Value, message: &str) -> bool {
    let Some(obj) = body.as_object_mut() else { return false };
    let m = message.to_ascii_lowercase();
    if m.contains("max_completion_tokens") && obj.contains_key("max_tokens") {
        if let Some(v) = obj.remove("max_tokens") {
            obj.insert("max_completion_tokens".into(), v);
        }
        return true;
    }
    for key in ["stream_options", "temperature", "seed", "tool_choice"] {
        if m.contains(key) && obj.contains_key(key) {
            obj.remove(key);
            return true;
        }
    }
    false
}

fn read_stream(
    opened: Opened,
    acc: &mut Accumulator,
    on_event: &mut dyn FnMut(StreamEvent),
    cancel: &CancelToken,
) -> Result<()> {
    crate::http::read_json_stream(opened, cancel, &mut |_, value, _| {
        acc.absorb_chunk(value, on_event)?;
        Ok(false)
    })
}

/// A tool call being assembled from deltas.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// The answer as it arrives.
#[derive(Debug, Default)]
struct Accumulator {
    text: String,
    /// By the delta's `index` (kept in index order).
    calls: std::collections::BTreeMap<u64, PartialCall>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    model: Option<String>,
}

impl Accumulator {
    fn absorb_chunk(&mut self, v: &Value, on_event: &mut dyn FnMut(StreamEvent)) -> Result<()> {
        if let Some(msg) = v.get("error").and(json_error_message(v)) {
            return Err(Error::Protocol(format!("the backend failed mid-answer: {msg}")));
        }
        self.absorb_meta(v);
        let Some(choice) = v.get("choices").and_then(|c| c.get(0)) else { return Ok(()) };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str)
                && !text.is_empty()
            {
                self.text.push_str(text);
                on_event(StreamEvent::Token(text.to_string()));
            }
            for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                let index =
                    call.get("index").and_then(Value::as_u64).unwrap_or(self.calls.len() as u64);
                let slot = self.calls.entry(index).or_default();
                if let Some(id) = call.get("id").and_then(Value::as_str)
                    && !id.is_empty()
                {
                    slot.id = id.to_string();
                }
                if let Some(f) = call.get("function") {
                    if let Some(name) = f.get("name").and_then(Value::as_str) {
                        // Names arrive whole in the first delta; a few servers repeat them
                        // in every delta, a few split them.
                        if slot.name != name {
                            slot.name.push_str(name);
                        }
                    }
                    if let Some(args) = f.get("arguments") {
                        match args {
                            Value::String(s) => slot.arguments.push_str(s),
                            Value::Null => {}
                            // Some servers send the arguments as an object.
                            other => slot.arguments.push_str(&other.to_string()),
                        }
                    }
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(finish_reason(reason));
        }
        Ok(())
    }

    fn absorb_meta(&mut self, v: &Value) {
        if let Some(model) = v.get("model").and_then(Value::as_str)
            && !model.is_empty()
        {
            self.model = Some(model.to_string());
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            self.usage = Some(Usage {
                prompt_tokens: n("prompt_tokens"),
                completion_tokens: n("completion_tokens"),
            });
        }
    }

    /// A non-streamed answer (`choices[0].message`).
    fn absorb_complete(&mut self, v: &Value, on_event: &mut dyn FnMut(StreamEvent)) -> Result<()> {
        if v.get("error").is_some() {
            let msg = json_error_message(v).unwrap_or_else(|| "unknown error".into());
            return Err(Error::Protocol(format!("the backend failed: {msg}")));
        }
        self.absorb_meta(v);
        let choice = v
            .get("choices")
            .and_then(|c| c.get(0))
            .ok_or_else(|| Error::Protocol("the answer has no choices".into()))?;
        let message = choice.get("message").cloned().unwrap_or(Value::Null);
        if let Some(text) = message.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            self.text.push_str(text);
            on_event(StreamEvent::Token(text.to_string()));
        }
        for (i, call) in
            message.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let f = call.get("function").cloned().unwrap_or(Value::Null);
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            self.calls.insert(
                i as u64,
                PartialCall {
                    id: call.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                    name: f.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                    arguments,
                },
            );
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(finish_reason(reason));
        }
        Ok(())
    }

    fn finish(
        self,
        request: &ChatRequest,
        fallback_model: &str,
        on_event: &mut dyn FnMut(StreamEvent),
    ) -> ChatResponse {
        let mut tool_calls = Vec::new();
        for (index, call) in self.calls {
            let call = ToolCall {
                id: if call.id.is_empty() { format!("call_{index}") } else { call.id },
                name: call.name,
                arguments: if call.arguments.trim().is_empty() {
                    "{}".to_string()
                } else {
                    call.arguments
                },
            };
            on_event(StreamEvent::ToolCall(call.clone()));
            tool_calls.push(call);
        }
        // Some servers (Ollama) say "stop" after calling tools: the calls are what matter.
        let finish_reason = match self.finish {
            Some(FinishReason::Stop) | None if !tool_calls.is_empty() => FinishReason::ToolCalls,
            Some(reason) => reason,
            None => FinishReason::Stop,
        };
        let usage = self.usage.unwrap_or_else(|| estimate_usage(request, &self.text, &tool_calls));
        ChatResponse {
            message: Message {
                role: Role::Assistant,
                content: self.text,
                tool_calls,
                tool_call_id: None,
            },
            finish_reason,
            usage,
            model: self.model.unwrap_or_else(|| fallback_model.to_string()),
        }
    }
}

/// Usage estimated from text when the server reports none.
pub(crate) fn estimate_usage(request: &ChatRequest, text: &str, calls: &[ToolCall]) -> Usage {
    let prompt: usize = request
        .messages
        .iter()
        .map(|m| {
            4 + estimate_tokens(&m.content)
                + m.tool_calls
                    .iter()
                    .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
                    .sum::<usize>()
        })
        .sum::<usize>()
        + request
            .tools
            .iter()
            .map(|t| estimate_tokens(&t.description) + estimate_tokens(&t.parameters.to_string()))
            .sum::<usize>();
    let completion = estimate_tokens(text)
        + calls
            .iter()
            .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
            .sum::<usize>();
    Usage { prompt_tokens: prompt as u64, completion_tokens: completion as u64 }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::chat::ToolSpec;

    #[test]
    fn request_body_has_the_openai_shape() {
        let p = OpenAiProvider::new("http://localhost:11434/v1/", None, "qwen").unwrap();
        assert_eq!(p.url(), "http://localhost:11434/v1/chat/completions");
        let mut req = ChatRequest::new(vec![
            Message::system("sys"),
            Message::user("hi"),
            Message {
                role: Role::Assistant,
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "c1".into(),
                    name: "lookup".into(),
                    arguments: "{\"ip\":\"1.2.3.4\"}".into(),
                }],
                tool_call_id: None,
            },
            Message::tool("c1", "result"),
        ]);
        req.tools.push(ToolSpec {
            name: "lookup".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        });
        req.tool_choice = ToolChoice::Required;
        req.max_tokens = Some(50);
        req.seed = Some(9);
        let body = p.request_body(&req);
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["name"], "lookup");
        assert_eq!(body["messages"][3]["tool_call_id"], "c1");
        assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
        assert_eq!(body["tool_choice"], "required");
        assert_eq!(body["max_tokens"], 50);
        assert_eq!(body["seed"], 9);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("stop").is_none());
    }

    #[test]
    fn no_tool_choice_without_tools() {
        let p = OpenAiProvider::new("https://api.openai.com/v1", Some("sk-x"), "gpt-4o").unwrap();
        let body = p.request_body(&ChatRequest::new(vec![Message::user("q")]));
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
        assert_eq!(p.context_window(), 128_000);
    }

    #[test]
    fn azure_url_and_bad_settings() {
        let p = OpenAiProvider::azure(
            "https://res.openai.azure.com/",
            "gpt4o-prod",
            "2024-10-21",
            AzureAuth::ApiKey("k".into()),
        )
        .unwrap();
        assert_eq!(
            p.url(),
            "https://res.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(p.backend(), "azure");
        assert!(matches!(
            OpenAiProvider::azure("https://x", "a/b", "1", AzureAuth::ApiKey("k".into())),
            Err(Error::Config(_))
        ));
        assert!(matches!(OpenAiProvider::new("ftp://x", None, "m"), Err(Error::Config(_))));
        assert_eq!(format!("{:?}", AzureAuth::Bearer("secret-token".into())), "Bearer([redacted])");
    }
}
