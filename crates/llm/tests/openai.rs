//! The OpenAI-compatible and Azure OpenAI client against a real HTTP server speaking the wire
//! format: streaming, tool-call assembly, usage, retries, timeouts, cancellation, errors.
#![allow(clippy::unwrap_used)]
mod openai_server;

use bulwark_llm::{
    AzureAuth, CancelToken, ChatRequest, Error, FinishReason, HttpOptions, Message, OpenAiProvider,
    Provider, StreamEvent, ToolChoice, ToolSpec,
};
use openai_server::{Reply, Server, data};
use serde_json::json;
use std::time::{Duration, Instant};

fn fast(max_retries: u32) -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_retries,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_secs(3),
    }
}

fn provider(server: &Server, opts: HttpOptions) -> OpenAiProvider {
    OpenAiProvider::new(&format!("{}/v1", server.base), Some("sk-test-123456"), "test-model")
        .unwrap()
        .with_http_options(opts)
        .unwrap()
}

fn run(
    p: &dyn Provider,
    req: &ChatRequest,
) -> (Result<bulwark_llm::ChatResponse, Error>, Vec<StreamEvent>) {
    let mut events = Vec::new();
    let out = p.chat(req, &mut |e| events.push(e), &CancelToken::new());
    (out, events)
}

fn text_chunk(text: &str) -> String {
    data(&json!({"id": "c", "object": "chat.completion.chunk", "model": "served-model",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}))
}

#[test]
fn streamed_text_is_reassembled_with_usage() {
    let server = Server::start(|_, _| {
        Reply::sse(vec![
            (
                0,
                data(
                    &json!({"model": "served-model", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
                ),
            ),
            (5, text_chunk("Host WS-01 ")),
            // One event split across two TCP writes, and a multi-byte character split too.
            (5, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"contacted ".into()),
            (5, "10.0.0.5 — déjà vu\"}}]}\n\n".into()),
            (0, data(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))),
            (
                0,
                data(
                    &json!({"choices": [], "usage": {"prompt_tokens": 17, "completion_tokens": 9, "total_tokens": 26}}),
                ),
            ),
            (0, "data: [DONE]\n\n".into()),
        ])
    });
    let p = provider(&server, fast(0));
    let req = ChatRequest::new(vec![Message::system("be brief"), Message::user("what happened?")]);
    let (out, events) = run(&p, &req);
    let resp = out.unwrap();
    assert_eq!(resp.message.content, "Host WS-01 contacted 10.0.0.5 — déjà vu");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!((resp.usage.prompt_tokens, resp.usage.completion_tokens), (17, 9));
    assert_eq!(resp.model, "served-model");
    let tokens: Vec<String> = events
        .iter()
        .map(|e| match e {
            StreamEvent::Token(t) => t.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(tokens, vec!["Host WS-01 ", "contacted 10.0.0.5 — déjà vu"]);
    let seen = &server.seen()[0];
    assert_eq!(seen.path_and_query, "/v1/chat/completions");
    assert_eq!(seen.headers["authorization"], "Bearer sk-test-123456");
    assert_eq!(seen.body["stream"], true);
    assert_eq!(seen.body["model"], "test-model");
    assert_eq!(seen.body["messages"][0]["role"], "system");
    assert_eq!(seen.body["messages"][1]["content"], "what happened?");
}

#[test]
fn tool_call_deltas_are_assembled_by_index() {
    let server = Server::start(|_, _| {
        let delta = |calls: serde_json::Value| {
            data(&json!({"choices": [{"index": 0, "delta": {"tool_calls": calls}}]}))
        };
        Reply::sse(vec![
            (
                0,
                delta(
                    json!([{"index": 0, "id": "call_a", "type": "function", "function": {"name": "run_kql", "arguments": ""}}]),
                ),
            ),
            (2, delta(json!([{"index": 0, "function": {"arguments": "{\"query\": \"Device"}}]))),
            (
                2,
                delta(
                    json!([{"index": 1, "id": "call_b", "type": "function", "function": {"name": "lookup_ip", "arguments": "{\"ip\":"}}]),
                ),
            ),
            (2, delta(json!([{"index": 0, "function": {"arguments": "Events | take 5\"}"}}]))),
            (2, delta(json!([{"index": 1, "function": {"arguments": " \"10.1.2.3\"}"}}]))),
            (
                0,
                data(
                    &json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
                             "usage": {"prompt_tokens": 100, "completion_tokens": 20}}),
                ),
            ),
            (0, "data: [DONE]\n\n".into()),
        ])
    });
    let p = provider(&server, fast(0));
    let mut req = ChatRequest::new(vec![Message::user("investigate")]);
    req.tools.push(ToolSpec {
        name: "run_kql".into(),
        description: "Run KQL".into(),
        parameters: json!({"type": "object", "properties": {"query": {"type": "string"}}}),
    });
    req.tool_choice = ToolChoice::Required;
    let (out, events) = run(&p, &req);
    let resp = out.unwrap();
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    let calls = &resp.message.tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("call_a", "run_kql"));
    assert_eq!(calls[0].arguments, "{\"query\": \"DeviceEvents | take 5\"}");
    assert_eq!((calls[1].id.as_str(), calls[1].name.as_str()), ("call_b", "lookup_ip"));
    let args: serde_json::Value = serde_json::from_str(&calls[1].arguments).unwrap();
    assert_eq!(args["ip"], "10.1.2.3");
    // Each call reported exactly once, complete.
    assert_eq!(
        events,
        vec![StreamEvent::ToolCall(calls[0].clone()), StreamEvent::ToolCall(calls[1].clone())]
    );
    let seen = &server.seen()[0];
    assert_eq!(seen.body["tools"][0]["type"], "function");
    assert_eq!(seen.body["tools"][0]["function"]["name"], "run_kql");
    assert_eq!(seen.body["tool_choice"], "required");
}

#[test]
fn rate_limit_is_retried_after_the_servers_delay() {
    let server = Server::start(|attempt, _| {
        if attempt == 1 {
            Reply::json(
                429,
                json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
            )
            .header("retry-after", "1")
        } else {
            Reply::sse(vec![(0, text_chunk("ok")), (0, "data: [DONE]\n\n".into())])
        }
    });
    let p = provider(&server, fast(3));
    let start = Instant::now();
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    assert_eq!(out.unwrap().message.content, "ok");
    assert_eq!(server.attempts(), 2);
    // The 10 ms backoff would have retried at once; Retry-After: 1 made it wait a second.
    assert!(start.elapsed() >= Duration::from_millis(950), "{:?}", start.elapsed());
}

#[test]
fn server_errors_exhaust_the_retries_then_report_the_message() {
    let server = Server::start(|_, _| {
        Reply::json(
            500,
            json!({"error": {"message": "The server had an error while processing your request"}}),
        )
    });
    let p = provider(&server, fast(2));
    let (out, events) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    match out {
        Err(Error::Http { status, message, url }) => {
            assert_eq!(status, 500);
            assert_eq!(message, "The server had an error while processing your request");
            assert!(url.ends_with("/v1/chat/completions"));
        }
        other => panic!("expected Http error, got {other:?}"),
    }
    assert_eq!(server.attempts(), 3, "first attempt plus max_retries = 2");
    assert!(events.is_empty());
}

#[test]
fn client_errors_are_not_retried_and_keys_are_redacted() {
    let server = Server::start(|_, seen| {
        let key = seen.headers["authorization"].trim_start_matches("Bearer ").to_string();
        Reply::json(
            401,
            json!({"error": {"message": format!("Incorrect API key provided: {key}")}}),
        )
    });
    let p = provider(&server, fast(3));
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    let err = out.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Http { status: 401, .. }), "{err:?}");
    assert!(!text.contains("sk-test-123456"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    assert_eq!(server.attempts(), 1);
}

#[test]
fn a_silent_server_times_out() {
    let server = Server::start(|_, _| {
        let mut r = Reply::sse(vec![(0, "data: [DONE]\n\n".into())]);
        r.head_delay_ms = 5_000;
        r
    });
    let p = provider(&server, HttpOptions { timeout: Duration::from_millis(300), ..fast(0) });
    let start = Instant::now();
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    assert!(matches!(out, Err(Error::Timeout(d)) if d == Duration::from_millis(300)), "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_stream_that_stalls_times_out() {
    let server = Server::start(|_, _| {
        Reply::sse(vec![(0, text_chunk("partial")), (5_000, "data: [DONE]\n\n".into())])
    });
    let p = provider(&server, HttpOptions { timeout: Duration::from_millis(300), ..fast(0) });
    let (out, events) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    assert!(matches!(out, Err(Error::Timeout(_))), "{out:?}");
    assert_eq!(events, vec![StreamEvent::Token("partial".into())]);
}

#[test]
fn cancelling_mid_stream_stops_at_once() {
    let server = Server::start(|_, _| {
        Reply::sse(vec![
            (0, text_chunk("first")),
            (10, text_chunk("second")),
            (5_000, text_chunk("late")),
            (0, "data: [DONE]\n\n".into()),
        ])
    });
    let p = provider(&server, fast(0));
    let cancel = CancelToken::new();
    let canceller = cancel.clone();
    let mut tokens = Vec::new();
    let start = Instant::now();
    let out = p.chat(
        &ChatRequest::new(vec![Message::user("q")]),
        &mut |e| {
            if let StreamEvent::Token(t) = e {
                tokens.push(t);
                // Cancel from "another thread" after the second token, while the server is
                // silent for five seconds.
                if tokens.len() == 2 {
                    let c = canceller.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(100));
                        c.cancel();
                    });
                }
            }
        },
        &cancel,
    );
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
    assert_eq!(tokens, vec!["first", "second"]);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
}

#[test]
fn azure_url_headers_and_a_non_streamed_answer() {
    let server = Server::start(|_, seen| {
        let ok = seen.path_and_query
            == "/openai/deployments/gpt4o-soc/chat/completions?api-version=2024-10-21"
            && seen.headers.get("api-key").map(String::as_str) == Some("azure-key-42")
            && !seen.headers.contains_key("authorization");
        if !ok {
            return Reply::json(
                404,
                json!({"error": {"code": "404", "message": "Resource not found"}}),
            );
        }
        // This server ignores `stream` and answers with one JSON document.
        Reply::json(
            200,
            json!({"id": "x", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": null,
                    "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_incident", "arguments": "{\"id\":7}"}}]}}],
                "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35}}),
        )
    });
    let p = OpenAiProvider::azure(
        &server.base,
        "gpt4o-soc",
        "2024-10-21",
        AzureAuth::ApiKey("azure-key-42".into()),
    )
    .unwrap()
    .with_http_options(fast(0))
    .unwrap();
    let (out, events) = run(&p, &ChatRequest::new(vec![Message::user("incident 7?")]));
    let resp = out.unwrap();
    assert_eq!(p.backend(), "azure");
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    assert_eq!(resp.message.tool_calls[0].name, "get_incident");
    assert_eq!(resp.message.tool_calls[0].arguments, "{\"id\":7}");
    assert_eq!(resp.usage.total(), 35);
    assert_eq!(events, vec![StreamEvent::ToolCall(resp.message.tool_calls[0].clone())]);
}

#[test]
fn azure_entra_token_is_a_bearer() {
    let server = Server::start(|_, seen| {
        if seen.headers.get("authorization").map(String::as_str) == Some("Bearer eyJ0b2tlbg")
            && !seen.headers.contains_key("api-key")
        {
            Reply::sse(vec![(0, text_chunk("fine"))])
        } else {
            Reply::json(401, json!({"error": {"message": "no token"}}))
        }
    });
    let p = OpenAiProvider::azure(
        &server.base,
        "d",
        "2025-01-01-preview",
        AzureAuth::Bearer("eyJ0b2tlbg".into()),
    )
    .unwrap()
    .with_http_options(fast(0))
    .unwrap();
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    // No [DONE] and no usage: the end of the body ends the answer, usage is estimated.
    let resp = out.unwrap();
    assert_eq!(resp.message.content, "fine");
    assert!(resp.usage.prompt_tokens > 0 && resp.usage.completion_tokens > 0);
}

#[test]
fn unreachable_server_is_a_connect_error_after_retries() {
    // Bind then drop a listener: nothing is listening on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = OpenAiProvider::new(&format!("http://127.0.0.1:{port}/v1"), None, "m")
        .unwrap()
        .with_http_options(fast(2))
        .unwrap();
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    assert!(matches!(out, Err(Error::Connect { .. })), "{out:?}");
}

#[test]
fn a_mid_stream_error_event_fails_the_request() {
    let server = Server::start(|_, _| {
        Reply::sse(vec![
            (0, text_chunk("a")),
            (0, data(&json!({"error": {"message": "model crashed"}}))),
        ])
    });
    let p = provider(&server, fast(0));
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    assert!(matches!(&out, Err(Error::Protocol(m)) if m.contains("model crashed")), "{out:?}");
}

#[test]
fn rejected_optional_parameters_are_adapted() {
    let server = Server::start(|_, seen| {
        if seen.body.get("max_tokens").is_some() {
            return Reply::json(
                400,
                json!({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "type": "invalid_request_error", "param": "max_tokens"}}),
            );
        }
        if seen.body.get("temperature").is_some() {
            return Reply::json(
                400,
                json!({"error": {"message": "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported."}}),
            );
        }
        Reply::sse(vec![(0, text_chunk("adapted")), (0, "data: [DONE]\n\n".into())])
    });
    let p = provider(&server, fast(0));
    let mut req = ChatRequest::new(vec![Message::user("q")]);
    req.max_tokens = Some(99);
    let (out, _) = run(&p, &req);
    assert_eq!(out.unwrap().message.content, "adapted");
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].body["max_completion_tokens"], 99);
    // Other 400s are not retried.
    let server =
        Server::start(|_, _| Reply::json(400, json!({"error": {"message": "bad messages"}})));
    let (out, _) = run(&provider(&server, fast(3)), &req);
    assert!(matches!(out, Err(Error::Http { status: 400, .. })));
    assert_eq!(server.attempts(), 1);
}
