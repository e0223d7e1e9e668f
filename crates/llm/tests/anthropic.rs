//! The Anthropic Messages client against a real HTTP server speaking the wire format.
#![allow(clippy::unwrap_used)]
mod openai_server;

use bulwark_llm::{
    AnthropicProvider, CancelToken, ChatRequest, Error, FinishReason, HttpOptions, Message,
    Provider, Role, StreamEvent, ToolCall, ToolSpec,
};
use openai_server::{Reply, Server};
use serde_json::{Value, json};
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

fn provider(server: &Server, opts: HttpOptions) -> AnthropicProvider {
    AnthropicProvider::new(&server.base, "sk-ant-test-key", "claude-sonnet-4-5")
        .unwrap()
        .with_http_options(opts)
        .unwrap()
}

fn ev(kind: &str, v: Value) -> String {
    format!("event: {kind}\ndata: {v}\n\n")
}

fn start(input: u64) -> String {
    ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
        "role": "assistant", "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null,
        "usage": {"input_tokens": input, "cache_read_input_tokens": 5, "output_tokens": 1}}}),
    )
}

fn text_delta(index: u64, text: &str) -> String {
    ev(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index,
        "delta": {"type": "text_delta", "text": text}}),
    )
}

fn run(
    p: &dyn Provider,
    req: &ChatRequest,
) -> (Result<bulwark_llm::ChatResponse, Error>, Vec<StreamEvent>) {
    let mut events = Vec::new();
    let out = p.chat(req, &mut |e| events.push(e), &CancelToken::new());
    (out, events)
}

#[test]
fn streamed_text_with_usage_and_headers() {
    let server = Server::start(|_, _| {
        Reply::sse(vec![
            (0, start(25)),
            (
                0,
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
                ),
            ),
            (0, ev("ping", json!({"type": "ping"}))),
            (5, text_delta(0, "Three failed ")),
            (5, text_delta(0, "logons from 10.0.0.5.")),
            (0, ev("content_block_stop", json!({"type": "content_block_stop", "index": 0}))),
            (
                0,
                ev(
                    "message_delta",
                    json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 12}}),
                ),
            ),
            (0, ev("message_stop", json!({"type": "message_stop"}))),
        ])
    });
    let p = provider(&server, fast(0));
    let mut req = ChatRequest::new(vec![
        Message::system("Answer from evidence."),
        Message::user("what happened?"),
    ]);
    req.stop.push("END".into());
    let (out, events) = run(&p, &req);
    let resp = out.unwrap();
    assert_eq!(resp.message.content, "Three failed logons from 10.0.0.5.");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!((resp.usage.prompt_tokens, resp.usage.completion_tokens), (30, 12));
    assert_eq!(resp.model, "claude-sonnet-4-5-20250929");
    assert_eq!(events.len(), 2);
    let seen = &server.seen()[0];
    assert_eq!(seen.path_and_query, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], "sk-ant-test-key");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert_eq!(seen.body["system"], "Answer from evidence.");
    assert_eq!(seen.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(seen.body["messages"][0]["role"], "user");
    assert_eq!(seen.body["stop_sequences"][0], "END");
    assert_eq!(seen.body["stream"], true);
}

#[test]
fn tool_use_round_trip() {
    let server = Server::start(|attempt, seen| {
        if attempt == 1 {
            let json_delta = |p: &str| {
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": p}}),
                )
            };
            return Reply::sse(vec![
                (0, start(40)),
                (
                    0,
                    ev(
                        "content_block_start",
                        json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
                    ),
                ),
                (0, text_delta(0, "Checking the device.")),
                (0, ev("content_block_stop", json!({"type": "content_block_stop", "index": 0}))),
                (
                    0,
                    ev(
                        "content_block_start",
                        json!({"type": "content_block_start", "index": 1,
                    "content_block": {"type": "tool_use", "id": "toolu_01", "name": "device_timeline", "input": {}}}),
                    ),
                ),
                (2, json_delta("")),
                (2, json_delta("{\"device\": \"WS-")),
                (2, json_delta("FIN-07\", \"hours\": 2")),
                (2, json_delta("4}")),
                (0, ev("content_block_stop", json!({"type": "content_block_stop", "index": 1}))),
                (
                    0,
                    ev(
                        "message_delta",
                        json!({"type": "message_delta",
                    "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}}),
                    ),
                ),
                (0, ev("message_stop", json!({"type": "message_stop"}))),
            ]);
        }
        // Second turn: the server checks the tool_use / tool_result shapes it was sent.
        let msgs = seen.body["messages"].as_array().cloned().unwrap_or_default();
        let ok = msgs.len() == 3
            && msgs[1]["role"] == "assistant"
            && msgs[1]["content"][0]["type"] == "text"
            && msgs[1]["content"][1]["type"] == "tool_use"
            && msgs[1]["content"][1]["id"] == "toolu_01"
            && msgs[1]["content"][1]["input"]["device"] == "WS-FIN-07"
            && msgs[2]["role"] == "user"
            && msgs[2]["content"][0]["type"] == "tool_result"
            && msgs[2]["content"][0]["tool_use_id"] == "toolu_01"
            && msgs[2]["content"][0]["content"] == "3 logons";
        if !ok {
            return Reply::json(
                400,
                json!({"type": "error", "error": {"type": "invalid_request_error",
                "message": format!("bad messages: {msgs:?}")}}),
            );
        }
        Reply::sse(vec![
            (0, start(80)),
            (
                0,
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
                ),
            ),
            (0, text_delta(0, "WS-FIN-07 had 3 logons.")),
            (0, ev("content_block_stop", json!({"type": "content_block_stop", "index": 0}))),
            (
                0,
                ev(
                    "message_delta",
                    json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 8}}),
                ),
            ),
            (0, ev("message_stop", json!({"type": "message_stop"}))),
        ])
    });
    let p = provider(&server, fast(0));
    let mut req = ChatRequest::new(vec![Message::user("Timeline of WS-FIN-07?")]);
    req.tools.push(ToolSpec {
        name: "device_timeline".into(),
        description: "Events on a device".into(),
        parameters: json!({"type": "object", "properties": {"device": {"type": "string"}}}),
    });
    let (out, events) = run(&p, &req);
    let first = out.unwrap();
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    let call = ToolCall {
        id: "toolu_01".into(),
        name: "device_timeline".into(),
        arguments: "{\"device\": \"WS-FIN-07\", \"hours\": 24}".into(),
    };
    assert_eq!(first.message.tool_calls, vec![call.clone()]);
    assert_eq!(
        events,
        vec![
            StreamEvent::Token("Checking the device.".into()),
            StreamEvent::ToolCall(call.clone())
        ]
    );
    let seen = &server.seen()[0];
    assert_eq!(seen.body["tools"][0]["name"], "device_timeline");
    assert_eq!(seen.body["tools"][0]["input_schema"]["properties"]["device"]["type"], "string");
    assert_eq!(seen.body["tool_choice"]["type"], "auto");

    req.messages.push(first.message.clone());
    req.messages.push(Message::tool("toolu_01", "3 logons"));
    let (out, _) = run(&p, &req);
    let second = out.unwrap();
    assert_eq!(second.message.role, Role::Assistant);
    assert_eq!(second.message.content, "WS-FIN-07 had 3 logons.");
    assert_eq!(second.usage.prompt_tokens, 85);
}

#[test]
fn overloaded_is_retried() {
    let server = Server::start(|attempt, _| {
        if attempt <= 2 {
            Reply::json(
                529,
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            )
        } else {
            Reply::sse(vec![
                (0, start(3)),
                (0, text_delta(0, "ok")),
                (0, ev("message_stop", json!({"type": "message_stop"}))),
            ])
        }
    });
    let p = provider(&server, fast(3));
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    assert_eq!(out.unwrap().message.content, "ok");
    assert_eq!(server.attempts(), 3);
}

#[test]
fn errors_after_retries_carry_the_message_without_the_key() {
    let server = Server::start(|_, seen| {
        let key = seen.headers["x-api-key"].clone();
        Reply::json(
            503,
            json!({"type": "error", "error": {"type": "api_error",
            "message": format!("upstream down for key {key}")}}),
        )
    });
    let p = provider(&server, fast(1));
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    match out {
        Err(Error::Http { status: 503, message, .. }) => {
            assert_eq!(message, "upstream down for key [redacted]");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.attempts(), 2);
}

#[test]
fn stream_error_event_is_an_http_error() {
    let server = Server::start(|_, _| {
        Reply::sse(vec![
            (0, start(3)),
            (
                0,
                ev(
                    "error",
                    json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                ),
            ),
        ])
    });
    let p = provider(&server, fast(0));
    let (out, _) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    assert!(
        matches!(&out, Err(Error::Http { status: 529, message, .. }) if message == "Overloaded"),
        "{out:?}"
    );
}

#[test]
fn max_tokens_maps_to_length_and_cancel_works() {
    let server = Server::start(|_, _| {
        Reply::sse(vec![
            (0, start(3)),
            (0, text_delta(0, "partial")),
            (
                0,
                ev(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
                "usage": {"output_tokens": 1}}),
                ),
            ),
            (0, ev("message_stop", json!({"type": "message_stop"}))),
        ])
    });
    let p = provider(&server, fast(0));
    let mut req = ChatRequest::new(vec![Message::user("q")]);
    req.max_tokens = Some(1);
    let (out, _) = run(&p, &req);
    assert_eq!(out.unwrap().finish_reason, FinishReason::Length);
    assert_eq!(server.seen()[0].body["max_tokens"], 1);

    let slow = Server::start(|_, _| {
        let mut r = Reply::sse(vec![(0, start(3))]);
        r.head_delay_ms = 5_000;
        r
    });
    let p = provider(&slow, fast(0));
    let cancel = CancelToken::new();
    let c = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        c.cancel();
    });
    let t = Instant::now();
    let out = p.chat(&ChatRequest::new(vec![Message::user("q")]), &mut |_| {}, &cancel);
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn non_streamed_answer_is_understood() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({"id": "msg", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "Hi."},
                        {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"ip": "1.2.3.4"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 9, "output_tokens": 4}}),
        )
    });
    let p = provider(&server, fast(0));
    let (out, events) = run(&p, &ChatRequest::new(vec![Message::user("q")]));
    let resp = out.unwrap();
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    assert_eq!(resp.message.tool_calls[0].name, "lookup");
    let args: Value = serde_json::from_str(&resp.message.tool_calls[0].arguments).unwrap();
    assert_eq!(args["ip"], "1.2.3.4");
    assert_eq!(resp.usage.total(), 13);
    assert_eq!(events.len(), 2);
}
