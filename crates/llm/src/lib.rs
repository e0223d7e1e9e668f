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
#![deny(missing_docs)]

pub mod anthropic;
pub mod budget;
pub mod chat;
pub mod config;
mod error;
pub mod guard;
mod http;
pub mod openai;
pub mod provider;

pub use anthropic::AnthropicProvider;
pub use chat::{
    CancelToken, ChatRequest, ChatResponse, FinishReason, Message, Role, StreamEvent, ToolCall,
    ToolChoice, ToolSpec, Usage,
};
pub use config::{Backend, LlmConfig, connect_remote};
pub use error::{Error, Result};
pub use http::HttpOptions;
pub use openai::{AzureAuth, OpenAiProvider};
pub use provider::{Provider, estimate_tokens};
