//! The OpenAI-compatible server on a real socket (127.0.0.1:0) with a real HTTP client: a small
//! scripted provider pins the wire format (tool calls, errors, cancellation), and the real
//! SmolLM2 test model checks streaming against non-streaming answers.
use bulwark_llm::{
    CancelToken, ChatRequest, ChatResponse, Error, FinishReason, LocalModel, LocalOptions, Message,
    Provider, Result, StreamEvent, ToolCall, Usage,
};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Answers by script: tools on offer → one `lookup_ip` call; "fail" → a model error; "huge" →
/// a context window error; "endless" → tokens until cancelled; otherwise it echoes the last
/// user message word by word.
#[derive(Default)]
struct Scripted {
    cancelled: AtomicBool,
}

impl Provider for Scripted {
    fn backend(&self) -> &str {
        "scripted"
    }
    fn model(&self) -> &str {
        "scripted-1"
    }
    fn context_window(&self) -> usize {
        1000
    }
    fn chat(
        &self,
        request: &ChatRequest,
        on_event: &mut dyn FnMut(StreamEvent),
        cancel: &CancelToken,
    ) -> Result<ChatResponse> {
        let last = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
        let usage =
            Usage { prompt_tokens: last.split_whitespace().count() as u64, completion_tokens: 0 };
        let response = |message: Message, finish_reason, completion_tokens| ChatResponse {
            message,
            finish_reason,
            usage: Usage { completion_tokens, ..usage },
            model: "scripted-1".into(),
        };
        if !request.tools.is_empty() {
            let call = ToolCall {
                id: "call_0".into(),
                name: request.tools[0].name.clone(),
                arguments: r#"{"ip":"10.0.0.1"}"#.into(),
            };
            on_event(StreamEvent::ToolCall(call.clone()));
            let message = Message { tool_calls: vec![call], ..Message::assistant("") };
            return Ok(response(message, FinishReason::ToolCalls, 5));
        }
        match last.as_str() {
            "fail" => return Err(Error::Model("the weights are on fire".into())),
            "huge" => return Err(Error::ContextWindow { needed: 5000, window: 1000 }),
            "endless" => loop {
                if cancel.is_cancelled() {
                    self.cancelled.store(true, Ordering::SeqCst);
                    return Err(Error::Cancelled);
                }
                on_event(StreamEvent::Token("more ".into()));
                std::thread::sleep(Duration::from_millis(5));
            },
            _ => {}
        }
        let content = format!("echo: {last}");
        let pieces: Vec<String> = content.split_inclusive(' ').map(str::to_string).collect();
        for piece in &pieces {
            on_event(StreamEvent::Token(piece.clone()));
        }
        Ok(response(Message::assistant(content), FinishReason::Stop, pieces.len() as u64))
    }
}

/// An HTTP client. The crate builds reqwest without a default TLS crypto provider (it picks
/// ring), so one is installed first even though these requests are plain HTTP.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Serves `provider` on 127.0.0.1:0 for the rest of the test.
async fn start(provider: Arc<dyn Provider>) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bulwark_llm::serve::serve(listener, provider, async {
        let _ = stopped.await;
    }));
    (address, stop)
}

async fn post(address: SocketAddr, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("http://{address}/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// The `data:` payloads of a server-sent event stream, in order.
async fn stream(address: SocketAddr, body: &Value) -> Vec<String> {
    let response = client()
        .post(format!("http://{address}/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("header").to_string();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let text = response.text().await.expect("body");
    assert!(text.ends_with("\n\n"), "{text:?}");
    text.split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| event.strip_prefix("data: ").expect("data line").to_string())
        .collect()
}

fn user(text: &str) -> Value {
    json!({"model": "any", "messages": [{"role": "user", "content": text}], "temperature": 0})
}

#[tokio::test]
async fn non_streaming_answer_has_openai_shape() {
    let (address, _stop) = start(Arc::new(Scripted::default())).await;
    let (status, body) = post(address, &user("hello there")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_str().expect("id").starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().expect("created") > 1_700_000_000);
    assert_eq!(body["model"], "scripted-1");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "echo: hello there");
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5})
    );
}

#[tokio::test]
async fn streaming_sends_role_content_finish_usage_then_done() {
    let (address, _stop) = start(Arc::new(Scripted::default())).await;
    let mut body = user("one two three");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = stream(address, &body).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk JSON"))
        .collect();
    assert!(
        chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "scripted-1")
    );
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "echo: one two three");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 7);
    // Every other chunk carries `usage: null`, as OpenAI does with include_usage.
    assert!(chunks[..chunks.len() - 1].iter().all(|c| c["usage"].is_null()));
    assert!(chunks[..chunks.len() - 2].iter().all(|c| c["choices"][0]["finish_reason"].is_null()));
}

#[tokio::test]
async fn tool_calls_come_back_in_openai_shape() {
    let (address, _stop) = start(Arc::new(Scripted::default())).await;
    let mut body = user("Check 10.0.0.1");
    body["tools"] = json!([{"type": "function", "function": {
        "name": "lookup_ip", "description": "IP reputation",
        "parameters": {"type": "object", "properties": {"ip": {"type": "string"}}}}}]);
    body["messages"] = json!([
        {"role": "user", "content": "Check 10.0.0.1"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "lookup_ip", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "{\"error\": \"missing ip\"}"},
    ]);
    let (status, response) = post(address, &body).await;
    assert_eq!(status, 200, "{response}");
    let choice = &response["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "call_0", "type": "function", "function": {"name": "lookup_ip", "arguments": "{\"ip\":\"10.0.0.1\"}"}}])
    );

    body["stream"] = json!(true);
    let events = stream(address, &body).await;
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk JSON"))
        .collect();
    let call = chunks
        .iter()
        .find_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .expect("a tool_calls delta");
    assert_eq!(
        call,
        &json!([{"index": 0, "id": "call_0", "type": "function", "function": {"name": "lookup_ip", "arguments": "{\"ip\":\"10.0.0.1\"}"}}])
    );
    assert_eq!(chunks.last().expect("chunk")["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn models_and_health_name_the_provider() {
    let (address, _stop) = start(Arc::new(Scripted::default())).await;
    let client = client();
    let models: Value = client
        .get(format!("http://{address}/v1/models"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "scripted-1");
    assert_eq!(models["data"][0]["object"], "model");
    let health = client.get(format!("http://{address}/health")).send().await.expect("send");
    assert_eq!(health.status().as_u16(), 200);
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn malformed_requests_get_openai_errors_naming_the_field() {
    let (address, _stop) = start(Arc::new(Scripted::default())).await;
    let client = client();
    let url = format!("http://{address}/v1/chat/completions");

    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"messages\": [")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_json");

    let (status, body) =
        post(address, &json!({"messages": [{"role": "wizard", "content": "x"}]})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages[0].role");
    assert!(body["error"]["message"].as_str().expect("message").contains("messages[0].role"));

    let (status, body) = post(
        address,
        &json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": "many"}),
    )
    .await;
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("max_tokens")));

    let huge = "x".repeat(bulwark_llm::serve::DEFAULT_BODY_LIMIT + 1);
    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "request_too_large");

    let response = client.get(format!("http://{address}/v2/nothing")).send().await.expect("send");
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.expect("json");
    assert!(body["error"]["message"].as_str().expect("message").contains("/v2/nothing"));
}

#[tokio::test]
async fn model_errors_map_to_statuses() {
    let (address, _stop) = start(Arc::new(Scripted::default())).await;
    let (status, body) = post(address, &user("fail")).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"].as_str().expect("message").contains("on fire"));
    let (status, body) = post(address, &user("huge")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    // A streaming request that fails before any output still gets a status, not a stream.
    let mut streaming = user("huge");
    streaming["stream"] = json!(true);
    let (status, body) = post(address, &streaming).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("context_length_exceeded")));
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_generation() {
    let provider = Arc::new(Scripted::default());
    let (address, _stop) = start(provider.clone()).await;
    let mut body = user("endless");
    body["stream"] = json!(true);
    let mut response = client()
        .post(format!("http://{address}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("send");
    let first = response.chunk().await.expect("read").expect("a chunk");
    assert!(first.starts_with(b"data: "));
    drop(response);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !provider.cancelled.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "generation was not cancelled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn local_model() -> Option<Arc<LocalModel>> {
    static MODEL: OnceLock<Option<Arc<LocalModel>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = bulwark_testutil::test_model()?;
            Some(Arc::new(LocalModel::load(&path, LocalOptions::default()).expect("model loads")))
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_model_streams_the_same_answer_it_returns() {
    let Some(model) = local_model() else { return };
    let (address, _stop) = start(model.clone()).await;
    let mut body = user("What is the capital of France?");
    body["max_tokens"] = json!(16);
    let (status, whole) = post(address, &body).await;
    assert_eq!(status, 200, "{whole}");
    let content = whole["choices"][0]["message"]["content"].as_str().expect("content").to_string();
    assert!(!content.trim().is_empty());
    assert_eq!(whole["model"], model.model());
    let completion = whole["usage"]["completion_tokens"].as_u64().expect("usage");
    assert!((1..=16).contains(&completion));

    body["stream"] = json!(true);
    let events = stream(address, &body).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let streamed: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).expect("chunk"))
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(streamed, content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_model_answers_a_named_tool_choice_with_a_call() {
    let Some(model) = local_model() else { return };
    let (address, _stop) = start(model).await;
    let mut body = user("Look up the reputation of the IP address 10.0.0.1");
    body["max_tokens"] = json!(32);
    body["tools"] = json!([{"type": "function", "function": {
        "name": "lookup_ip", "description": "Reputation of an IP address",
        "parameters": {"type": "object", "properties": {"ip": {"type": "string"}}, "required": ["ip"]}}}]);
    body["tool_choice"] = json!({"type": "function", "function": {"name": "lookup_ip"}});
    let (status, response) = post(address, &body).await;
    assert_eq!(status, 200, "{response}");
    let choice = &response["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{response}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "lookup_ip");
    let arguments = call["function"]["arguments"].as_str().expect("arguments are a JSON string");
    let arguments: Value = serde_json::from_str(arguments).expect("arguments parse as JSON");
    assert!(arguments["ip"].is_string(), "{arguments}");
}
