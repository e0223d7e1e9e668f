//! Language models for Bulwark.
//!
//! One blocking [`Provider`] trait (chat with tool calling, streamed [`StreamEvent`]s, token
//! [`Usage`], cancellation through a [`CancelToken`]) and the backends behind it. The copilot
//! uses a provider to plan (skills as tools) and to write answers, and checks everything a
//! model writes against the evidence before a user sees it.
//!
//! Modules:
//! * [`anthropic`] — Anthropic's Messages API over HTTP.
//! * [`budget`] — fitting evidence into a model's context window.
//! * [`chat`] — messages, tools, requests, responses, usage, stream events, cancellation.
//! * [`provider`] — the [`Provider`] trait.
//! * [`config`] — the `[llm]` settings (file + environment) and [`connect_remote`].
//! * [`guard`] — the grounding guard: model answers checked against the evidence.
//! * [`openai`] — OpenAI-compatible and Azure OpenAI chat completions over HTTP.
//! * [`local`] — an in-process GGUF model on the CPU (candle): [`local::LocalModel`].
//! * [`serve`] — an OpenAI-compatible HTTP server over any provider.
#![deny(missing_docs)]

pub mod anthropic;
pub mod budget;
pub mod chat;
pub mod config;
mod error;
pub mod guard;
mod http;
pub mod local;
pub mod openai;
pub mod provider;
pub mod serve;

pub use anthropic::AnthropicProvider;
pub use chat::{
    CancelToken, ChatRequest, ChatResponse, FinishReason, Message, Role, StreamEvent, ToolCall,
    ToolChoice, ToolSpec, Usage,
};
pub use config::{Backend, LlmConfig, connect_remote};
pub use error::{Error, Result};
pub use http::HttpOptions;
pub use local::{LocalModel, LocalOptions};
pub use openai::{AzureAuth, OpenAiProvider};
pub use provider::{Provider, estimate_tokens};

/// The configured model: a remote backend through [`connect_remote`], the in-process GGUF
/// model for `local` (loaded now, from `model_path`), or `None` for `none` (the default).
pub fn connect(cfg: &LlmConfig) -> Result<Option<std::sync::Arc<dyn Provider>>> {
    if cfg.backend != Backend::Local {
        return connect_remote(cfg);
    }
    let path = cfg.model_path.as_deref().ok_or_else(|| {
        Error::Config(
            "model_path is required for the local backend (BULWARK_LLM_MODEL_PATH)".into(),
        )
    })?;
    let defaults = LocalOptions::default();
    let options = LocalOptions {
        context_window: cfg.context_window,
        max_tokens: cfg.max_tokens.unwrap_or(defaults.max_tokens),
        seed: cfg.seed.unwrap_or(defaults.seed),
    };
    Ok(Some(std::sync::Arc::new(LocalModel::load(path, options)?)))
}

/// Installs ring as the process's rustls crypto provider, unless one already is. reqwest is
/// built here without a default provider (aws-lc needs cmake and a long C build), so any
/// reqwest client in a process linking this crate needs a provider installed first; the
/// model clients do it themselves, other HTTP clients (tests, benchmarks) call this.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
