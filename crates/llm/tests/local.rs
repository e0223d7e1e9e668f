//! The in-process GGUF model against the real SmolLM2-135M-Instruct test model (skipped with a
//! message when the model file is absent). Generations stay short: debug builds run them.
use bulwark_llm::{
    CancelToken, ChatRequest, ChatResponse, Error, FinishReason, LocalModel, LocalOptions, Message,
    Provider, StreamEvent,
};
use std::sync::{Arc, OnceLock};

fn model() -> Option<Arc<LocalModel>> {
    static MODEL: OnceLock<Option<Arc<LocalModel>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = bulwark_testutil::test_model()?;
            Some(Arc::new(LocalModel::load(&path, LocalOptions::default()).expect("model loads")))
        })
        .clone()
}

/// One greedy answer shared by the tests that only read it (generation is the slow part).
fn greedy() -> Option<&'static (ChatRequest, ChatResponse, Vec<String>)> {
    static ANSWER: OnceLock<Option<(ChatRequest, ChatResponse, Vec<String>)>> = OnceLock::new();
    ANSWER
        .get_or_init(|| {
            let model = model()?;
            let request = ask("List the days of the week.", 24);
            let (response, tokens) = run(&model, &request);
            Some((request, response, tokens))
        })
        .as_ref()
}

fn ask(text: &str, max_tokens: u32) -> ChatRequest {
    let mut request = ChatRequest::new(vec![Message::user(text)]);
    request.max_tokens = Some(max_tokens);
    request
}

/// Runs a request, returning the response and the streamed token texts.
fn run(model: &LocalModel, request: &ChatRequest) -> (ChatResponse, Vec<String>) {
    let mut tokens = Vec::new();
    let response = model
        .chat(
            request,
            &mut |event| {
                if let StreamEvent::Token(text) = event {
                    tokens.push(text);
                }
            },
            &CancelToken::new(),
        )
        .expect("generation succeeds");
    (response, tokens)
}

#[test]
fn loads_with_metadata_from_the_gguf_file() {
    let Some(model) = model() else { return };
    assert_eq!(model.backend(), "local");
    assert_eq!(model.architecture(), "llama");
    assert!(model.model().contains("SmolLM2"), "{}", model.model());
    // SmolLM2 declares 8192 positions; candle's llama RoPE table caps it at 4096.
    assert_eq!(model.context_window(), 4096);
}

#[test]
fn greedy_generation_is_deterministic_and_streams_the_final_content() {
    let (Some(model), Some((request, first, tokens))) = (model(), greedy()) else { return };
    let (second, _) = run(&model, request);
    assert!(!first.message.content.trim().is_empty());
    assert_eq!(first.message.content, second.message.content);
    assert!(tokens.len() > 1, "{tokens:?}");
    assert_eq!(tokens.concat(), first.message.content);
    assert!(first.message.tool_calls.is_empty());
    assert!(first.usage.completion_tokens >= 1 && first.usage.completion_tokens <= 24);
    assert_eq!(first.model, model.model());
}

#[test]
fn max_tokens_ends_with_finish_length() {
    let Some(model) = model() else { return };
    let (response, _) = run(&model, &ask("Write a long story about a dragon and a knight.", 3));
    assert_eq!(response.finish_reason, FinishReason::Length);
    assert_eq!(response.usage.completion_tokens, 3);
    let (response, tokens) = run(&model, &ask("Hello", 0));
    assert_eq!(response.finish_reason, FinishReason::Length);
    assert_eq!((response.usage.completion_tokens, response.message.content.as_str()), (0, ""));
    assert!(tokens.is_empty());
}

#[test]
fn usage_counts_come_from_the_real_tokenizer() {
    let (Some(model), Some((request, response, _))) = (model(), greedy()) else { return };
    let prompt = model.render_prompt(request).expect("prompt");
    assert!(prompt.ends_with("<|im_start|>assistant\n"), "{prompt}");
    let ids = model.tokenize(&prompt).expect("tokenize");
    assert_eq!(response.usage.prompt_tokens, ids.len() as u64);
    assert_eq!(model.count_tokens(&prompt), ids.len());
    // Chat markers are single special tokens, not spelled out.
    assert_eq!(model.count_tokens("<|im_start|>"), 1);
    assert_eq!(model.count_tokens(""), 0);
}

#[test]
fn tokenizer_round_trips_text() {
    let Some(model) = model() else { return };
    for text in [
        "Hello, world!",
        "  leading spaces and\ttabs\nnew lines",
        "DeviceProcessEvents | where FileName =~ \"powershell.exe\" | take 10",
        "Ünïcödé — 東京 🛡️ émojis",
        "<|im_start|>user\nhi<|im_end|>",
    ] {
        let ids = model.tokenize(text).expect("tokenize");
        assert_eq!(model.detokenize(&ids).expect("detokenize"), text);
    }
    // Digits are split one by one (the SmolLM2 pre-tokenizer).
    assert_eq!(model.tokenize("2024").expect("tokenize").len(), 4);
}

#[test]
fn cancellation_stops_generation() {
    let Some(model) = model() else { return };
    let cancel = CancelToken::new();
    let mut seen = 0;
    let result = model.chat(
        &ask("Write a long story about a dragon.", 32),
        &mut |_| {
            seen += 1;
            cancel.cancel();
        },
        &cancel,
    );
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert_eq!(seen, 1);
    let cancelled = CancelToken::new();
    cancelled.cancel();
    let result = model.chat(&ask("Hi", 4), &mut |_| {}, &cancelled);
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
}

#[test]
fn stop_sequences_cut_the_reply() {
    let (Some(model), Some((request, full, _))) = (model(), greedy()) else { return };
    // Stop at a word from the middle of the greedy answer: the reply ends right before it.
    let words: Vec<&str> = full.message.content.split_whitespace().collect();
    assert!(words.len() >= 3, "{:?}", full.message.content);
    let stop = words[words.len() / 2];
    let cut = full.message.content.find(stop).expect("word in content");
    let mut stopped = request.clone();
    stopped.stop = vec![stop.to_string()];
    let (response, tokens) = run(&model, &stopped);
    assert_eq!(response.message.content, full.message.content[..cut]);
    assert_eq!(tokens.concat(), response.message.content);
    assert_eq!(response.finish_reason, FinishReason::Stop);
}

#[test]
fn seeded_sampling_repeats_with_the_same_seed() {
    let Some(model) = model() else { return };
    let mut request = ask("Tell me a fun fact.", 8);
    request.temperature = 0.9;
    request.seed = Some(7);
    let (a, _) = run(&model, &request);
    let (b, _) = run(&model, &request);
    assert_eq!(a.message.content, b.message.content);
    assert!(a.usage.completion_tokens > 0);
}

#[test]
fn requests_that_do_not_fit_the_window_are_refused() {
    let Some(model) = model() else { return };
    let request = ask("Hi", 4096);
    match model.chat(&request, &mut |_| {}, &CancelToken::new()) {
        Err(Error::ContextWindow { needed, window }) => {
            assert_eq!(window, 4096);
            assert!(needed > 4096);
        }
        other => panic!("expected a context window error, got {other:?}"),
    }
}

#[test]
fn concurrent_requests_from_threads_get_the_same_greedy_answer() {
    let Some(model) = model() else { return };
    let request = ask("What colour is the sky?", 6);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let model = Arc::clone(&model);
            let request = request.clone();
            std::thread::spawn(move || run(&model, &request).0.message.content)
        })
        .collect();
    let answers: Vec<String> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
    assert_eq!(answers[0], answers[1]);
    assert!(!answers[0].is_empty());
}

#[test]
fn missing_and_invalid_files_are_errors() {
    let missing =
        LocalModel::load(std::path::Path::new("/nonexistent/model.gguf"), LocalOptions::default());
    assert!(matches!(missing, Err(Error::Io { .. })), "{missing:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"GGUF but not really a model").expect("write");
    let junk = LocalModel::load(&junk, LocalOptions::default());
    assert!(matches!(junk, Err(Error::Model(_))), "{junk:?}");
}
