//! `[llm]` configuration: file + environment, validation messages, secrets, connect_remote.
#![allow(clippy::unwrap_used)]
mod openai_server;

use bulwark_llm::config::{Backend, LlmConfig, connect_remote};
use bulwark_llm::{CancelToken, ChatRequest, Error, Message};
use openai_server::{Reply, Server};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k: &str| map.get(k).cloned()
}

fn from(text: &str, env: &[(&str, &str)]) -> Result<LlmConfig, Error> {
    LlmConfig::from_sources(Some((Path::new("/data/bulwark.toml"), text)), &env_of(env))
}

fn config_error(r: Result<LlmConfig, Error>) -> String {
    match r {
        Err(Error::Config(m)) => m,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn defaults_without_file_or_env() {
    let cfg = LlmConfig::from_sources(None, &env_of(&[])).unwrap();
    assert_eq!(cfg.backend, Backend::None);
    assert_eq!((cfg.max_steps, cfg.max_retries, cfg.timeout_secs), (4, 3, 120));
    assert!(connect_remote(&cfg).unwrap().is_none());
}

#[test]
fn file_settings_and_env_overrides() {
    let text = r#"
[server]
port = 8080

[llm]
backend = "openai"
url = "http://localhost:11434/v1"
model = "qwen2.5:7b"
timeout_secs = 30
max_retries = 5
context_window = 32768
max_tokens = 800
temperature = 0.2
seed = 7
max_steps = 6
time_budget_secs = 90
"#;
    let cfg = from(text, &[]).unwrap();
    assert_eq!(cfg.backend, Backend::OpenAi);
    assert_eq!(cfg.url.as_deref(), Some("http://localhost:11434/v1"));
    assert_eq!(cfg.context_window, Some(32768));
    assert_eq!(cfg.temperature, Some(0.2));
    assert_eq!((cfg.seed, cfg.max_steps, cfg.time_budget_secs), (Some(7), 6, 90));
    assert_eq!(cfg.http_options().max_retries, 5);
    assert_eq!(cfg.summary(), "openai qwen2.5:7b at http://localhost:11434/v1");

    let cfg = from(
        text,
        &[
            ("BULWARK_LLM", "anthropic"),
            ("BULWARK_LLM_URL", ""),
            ("BULWARK_LLM_MODEL", "claude-sonnet-4-5"),
            ("BULWARK_LLM_KEY", "sk-ant-secret-value"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.backend, Backend::Anthropic);
    // An empty variable does not override.
    assert_eq!(cfg.url.as_deref(), Some("http://localhost:11434/v1"));
    assert_eq!(cfg.model.as_deref(), Some("claude-sonnet-4-5"));
    let p = connect_remote(&cfg).unwrap().unwrap();
    assert_eq!(p.backend(), "anthropic");
    assert_eq!(p.context_window(), 32768);
    let mut req = ChatRequest::new(vec![Message::user("q")]);
    cfg.apply_request_defaults(&mut req);
    assert_eq!((req.max_tokens, req.seed, req.temperature), (Some(800), Some(7), 0.2));
}

#[test]
fn validation_names_the_setting_and_the_file() {
    let m = config_error(from("[llm]\nbackend = \"gpt\"\n", &[]));
    assert!(m.contains("/data/bulwark.toml") && m.contains("\"gpt\""), "{m}");
    let m = config_error(from("[llm]\nbackend = \"none\"\nmodle = \"x\"\n", &[]));
    assert!(m.contains("unknown setting `modle`") && m.contains("/data/bulwark.toml"), "{m}");
    let m = config_error(from("[llm]\nbackend = \"openai\"\nmodel = \"m\"\n", &[]));
    assert!(m.contains("[llm] url is required for the openai backend"), "{m}");
    assert!(m.contains("BULWARK_LLM_URL") && m.contains("/data/bulwark.toml"), "{m}");
    let m = config_error(from(
        "[llm]\nbackend = \"openai\"\nurl = \"https://api.openai.com/v1\"\nmodel = \"gpt-4o\"\n",
        &[],
    ));
    assert!(m.contains("api_key is required") && m.contains("BULWARK_LLM_KEY"), "{m}");
    let m = config_error(from("[llm]\nbackend = \"local\"\n", &[]));
    assert!(m.contains("model_path is required for the local backend"), "{m}");
    let m = config_error(from(
        "[llm]\nbackend = \"azure\"\nurl = \"https://r.openai.azure.com\"\napi_key = \"k\"\n",
        &[],
    ));
    assert!(m.contains("deployment is required"), "{m}");
    let m = config_error(from("[llm]\ntemperature = 5\n", &[]));
    assert!(m.contains("temperature") && m.contains("out of range"), "{m}");
    let m = config_error(from("[llm]\nmax_steps = \"many\"\n", &[]));
    assert!(m.contains("max_steps must be a number"), "{m}");
    let m = config_error(from("[llm]\nurl = 3\n", &[]));
    assert!(m.contains("url must be a string"), "{m}");
    let m = config_error(from("[llm\n", &[]));
    assert!(m.starts_with("/data/bulwark.toml:"), "{m}");
    // The environment is named when it is the source.
    let m = config_error(from("", &[("BULWARK_LLM", "bogus")]));
    assert!(m.contains("BULWARK_LLM:"), "{m}");
    let m = config_error(from(
        "",
        &[
            ("BULWARK_LLM", "openai"),
            ("BULWARK_LLM_URL", "localhost:8080"),
            ("BULWARK_LLM_MODEL", "m"),
        ],
    ));
    assert!(m.contains("BULWARK_LLM_URL") && m.contains("http://"), "{m}");
}

#[test]
fn local_backend_is_left_to_the_local_module() {
    let cfg = from("[llm]\nbackend = \"local\"\n", &[("BULWARK_LLM_MODEL_PATH", "/models/m.gguf")])
        .unwrap();
    assert_eq!(cfg.model_path.as_deref(), Some(Path::new("/models/m.gguf")));
    assert!(matches!(connect_remote(&cfg), Err(Error::Config(m)) if m.contains("local module")));
}

#[test]
fn secrets_are_never_shown() {
    let cfg = from(
        "[llm]\nbackend = \"azure\"\nurl = \"https://r.openai.azure.com\"\ndeployment = \"d\"\napi_key = \"azure-SECRET-1\"\nbearer_token = \"entra-SECRET-2\"\n",
        &[],
    )
    .unwrap();
    let debug = format!("{cfg:?}");
    assert!(!debug.contains("SECRET") && debug.contains("[redacted]"), "{debug}");
    let p = connect_remote(&cfg).unwrap().unwrap();
    assert_eq!((p.backend(), p.model()), ("azure", "d"));
    // A key given with the wrong type is rejected without echoing it.
    let m = config_error(from("[llm]\napi_key = 123456789\n", &[]));
    assert!(!m.contains("123456789"), "{m}");
}

#[test]
fn load_reads_the_data_dir_file_or_the_explicit_one() {
    let dir = std::env::temp_dir().join(format!("bulwark-llm-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // No file: defaults (unless the environment running the tests sets BULWARK_LLM).
    if std::env::var_os("BULWARK_LLM").is_none() {
        assert_eq!(LlmConfig::load(&dir, None).unwrap().backend, Backend::None);
        std::fs::write(dir.join("bulwark.toml"), "[llm]\nmax_steps = 9\n").unwrap();
        assert_eq!(LlmConfig::load(&dir, None).unwrap().max_steps, 9);
        let other = dir.join("other.toml");
        std::fs::write(&other, "[llm]\nmax_steps = 2\n").unwrap();
        assert_eq!(LlmConfig::load(&dir, Some(&other)).unwrap().max_steps, 2);
    }
    let missing = dir.join("missing.toml");
    assert!(matches!(LlmConfig::load(&dir, Some(&missing)), Err(Error::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn connect_remote_talks_to_an_openai_compatible_server() {
    let server = Server::start(|_, seen| {
        assert_eq!(seen.body["model"], "m1");
        Reply::json(
            200,
            json!({"choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "pong"}}]}),
        )
    });
    let cfg = from(
        "[llm]\nbackend = \"openai\"\nmodel = \"m1\"\n",
        &[("BULWARK_LLM_URL", &format!("{}/v1", server.base))],
    )
    .unwrap();
    let p = connect_remote(&cfg).unwrap().unwrap();
    assert_eq!(p.context_window(), 8192);
    let resp = p
        .chat(&ChatRequest::new(vec![Message::user("ping")]), &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert_eq!(resp.message.content, "pong");
    assert!(!server.seen()[0].headers.contains_key("authorization"));
}

#[test]
fn providers_can_be_built_and_dropped_inside_an_async_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let cfg = from(
            "[llm]\nbackend = \"openai\"\nurl = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\n",
            &[],
        )
        .unwrap();
        let p = connect_remote(&cfg).unwrap().unwrap();
        assert_eq!(p.model(), "m");
        drop(p);
    });
}
