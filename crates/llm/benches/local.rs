//! Local model figures: load time, prompt processing and generation speed, and the HTTP
//! overhead of `serve` compared with calling the provider directly.
//!
//! `cargo bench -p bulwark-llm --bench local`. The model comes from `BULWARK_TEST_GGUF` or the
//! cache (`~/.cache/bulwark/models/`); without it the bench prints why and exits.
use bulwark_llm::{CancelToken, ChatRequest, LocalModel, LocalOptions, Message, Provider};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let Some(path) = bulwark_testutil::test_model() else { return };
    let started = Instant::now();
    let model = LocalModel::load(&path, LocalOptions::default()).expect("model loads");
    let load = started.elapsed();
    println!("model        {}", path.display());
    println!("load         {:>8.1} ms", ms(load));
    if let (Some(peak), Some(now)) = (memory("VmHWM:"), memory("VmRSS:")) {
        println!("memory       {now} resident after load, {peak} peak while loading");
    }

    // Prompt processing: a long prompt, one generated token.
    let long = "Summarise the following alert. ".to_string()
        + &"Suspicious PowerShell spawned by winword.exe on host WS-042 contacting 203.0.113.7. "
            .repeat(20);
    let mut request = ChatRequest::new(vec![Message::user(long)]);
    request.max_tokens = Some(1);
    let _ = run(&model, &request); // warm-up
    let rounds = 3;
    let mut prompt_tokens = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        prompt_tokens += run(&model, &request).0;
    }
    let elapsed = started.elapsed();
    println!(
        "prompt       {:>8.1} tok/s  ({} tokens per prompt)",
        prompt_tokens as f64 / elapsed.as_secs_f64(),
        prompt_tokens / rounds
    );

    // Generation: a short prompt, many tokens; subtract the time of a 1-token run.
    let mut short = ChatRequest::new(vec![Message::user("Write a long story about a dragon.")]);
    short.max_tokens = Some(1);
    let started = Instant::now();
    let _ = run(&model, &short);
    let one = started.elapsed();
    short.max_tokens = Some(128);
    let started = Instant::now();
    let (_, generated) = run(&model, &short);
    let many = started.elapsed();
    println!(
        "generation   {:>8.1} tok/s  ({generated} tokens, {:.0} ms first token)",
        (generated.saturating_sub(1)) as f64 / (many - one.min(many)).as_secs_f64(),
        ms(one)
    );

    let model: Arc<dyn Provider> = Arc::new(model);
    http_overhead("local model, 1 token", model, 10);
    http_overhead("instant provider", Arc::new(Immediate), 200);
}

/// A provider that answers at once, to isolate the HTTP layer's cost.
struct Immediate;

impl Provider for Immediate {
    fn backend(&self) -> &str {
        "instant"
    }
    fn model(&self) -> &str {
        "instant"
    }
    fn context_window(&self) -> usize {
        4096
    }
    fn chat(
        &self,
        _: &ChatRequest,
        on_event: &mut dyn FnMut(bulwark_llm::StreamEvent),
        _: &CancelToken,
    ) -> bulwark_llm::Result<bulwark_llm::ChatResponse> {
        on_event(bulwark_llm::StreamEvent::Token("ok".into()));
        Ok(bulwark_llm::ChatResponse {
            message: Message::assistant("ok"),
            finish_reason: bulwark_llm::FinishReason::Stop,
            usage: bulwark_llm::Usage { prompt_tokens: 1, completion_tokens: 1 },
            model: "instant".into(),
        })
    }
}

/// (prompt tokens, completion tokens) of one request.
fn run(model: &dyn Provider, request: &ChatRequest) -> (usize, usize) {
    let r = model.chat(request, &mut |_| {}, &CancelToken::new()).expect("generation");
    (r.usage.prompt_tokens as usize, r.usage.completion_tokens as usize)
}

/// Per-request cost of the HTTP layer: the same 1-token request directly and through `serve`.
fn http_overhead(label: &str, model: Arc<dyn Provider>, rounds: u32) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let address = listener.local_addr().expect("address");
    let provider = model.clone();
    runtime.spawn(bulwark_llm::serve::serve(listener, provider, std::future::pending()));

    let mut request = ChatRequest::new(vec![Message::user("Hi")]);
    request.max_tokens = Some(1);
    let body = serde_json::json!({
        "model": model.model(),
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 1,
        "temperature": 0,
    });
    // reqwest is built without a default TLS crypto provider: install ring (plain HTTP here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = format!("http://{address}/v1/chat/completions");
    let post = || async {
        let response = client.post(&url).json(&body).send().await.expect("send");
        assert!(response.status().is_success());
        response.bytes().await.expect("body");
    };
    runtime.block_on(post()); // warm-up (connection)
    let direct = time(rounds, || {
        run(model.as_ref(), &request);
    });
    let http = time(rounds, || runtime.block_on(post()));
    println!(
        "http         {:>8.3} ms per request direct, {:.3} ms through serve: {:.3} ms overhead ({label})",
        ms(direct),
        ms(http),
        ms(http.saturating_sub(direct))
    );
}

fn time(rounds: u32, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..rounds {
        f();
    }
    started.elapsed() / rounds
}

/// A memory figure of this process from `/proc/self/status` (Linux only).
fn memory(key: &str) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    Some(line.trim_start_matches(key).trim().to_string())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
