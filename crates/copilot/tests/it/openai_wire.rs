//! The copilot through the real OpenAI-compatible client (`bulwark_llm::OpenAiProvider`) to an
//! HTTP server on 127.0.0.1 that answers from a script: tool calls and text cross the wire as
//! a real backend sends them, and every request body is kept for inspection.
use bulwark_copilot::{LlmSettings, SessionContext};
use bulwark_llm::Provider;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Serves one scripted JSON answer per connection; returns the base URL and the bodies seen.
fn serve(answers: Vec<Value>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut answers = answers.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            bodies.lock().expect("lock").push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            let answer =
                answers.next().unwrap_or_else(|| json!({"error": {"message": "script exhausted"}}));
            let text = answer.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, seen)
}

fn answer(message: Value, finish: &str) -> Value {
    json!({
        "id": "x", "object": "chat.completion", "model": "wire-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55}
    })
}

#[test]
fn tool_calls_and_answers_cross_the_wire() {
    let query = "DeviceNetworkEvents | where DeviceName == 'wks-fin-003'";
    let (url, bodies) = serve(vec![
        answer(
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "RunKql", "arguments": json!({"query": query}).to_string()}
            }]}),
            "tool_calls",
        ),
        answer(json!({"role": "assistant", "content": "I have the data."}), "stop"),
        answer(
            json!({"role": "assistant", "content": "wks-fin-003 connected to 45.142.212.61 four times [E1]. It also called 198.51.100.7 [E1]."}),
            "stop",
        ),
    ]);
    let provider = bulwark_llm::OpenAiProvider::new(&url, None, "wire-model").expect("client");
    let provider: Arc<dyn Provider> = Arc::new(provider.with_context_window(16_384));
    let copilot = super::llm::plain().with_llm(provider, LlmSettings::default());
    let a = copilot.ask("where did wks-fin-003 connect?", &mut SessionContext::default());
    assert_eq!(a.skills, vec!["RunKql"], "{:?}", a.process_log);
    assert_eq!(a.results[0].input, json!({"query": query}));
    assert!(a.markdown.starts_with("wks-fin-003 connected to 45.142.212.61"), "{}", a.markdown);
    assert!(!a.markdown.contains("It also called"), "{}", a.markdown);
    assert_eq!(
        (a.usage.prompt_tokens, a.usage.completion_tokens, a.usage.model_calls),
        (150, 15, 3)
    );
    assert_eq!(
        (a.usage.backend.as_str(), a.usage.model.as_str()),
        (provider_backend(), "wire-model")
    );
    let bodies = bodies.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 3);
    let tools: Vec<&str> = bodies[0]["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|x| x["function"]["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(tools.contains(&"RunKql") && tools.contains(&"HuntIndicators"), "{tools:?}");
    let tool_msg = bodies[1]["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["role"] == "tool").cloned())
        .expect("tool message sent back");
    assert_eq!(tool_msg["tool_call_id"], "call_1");
    assert!(
        tool_msg["content"].as_str().unwrap_or("").contains("<untrusted-data source=\"RunKql\">")
    );
    assert_eq!(bodies[2]["temperature"], 0.0);
}

fn provider_backend() -> &'static str {
    "openai"
}
