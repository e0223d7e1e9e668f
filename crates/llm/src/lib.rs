//! Language models for Bulwark.
//!
//! One blocking [`Provider`] trait (chat with tool calling, streamed [`StreamEvent`]s, token
//! [`Usage`], cancellation through a [`CancelToken`]) and the backends behind it. The copilot
//! uses a provider to plan (skills as tools) and to write answers, and checks everything a
//! model writes against the evidence before a user sees it.
//!
//! Modules:
//! * [`chat`] — messages, tools, requests, responses, usage, stream events, cancellation.
//! * [`provider`] — the [`Provider`] trait.
//! * [`local`] — an in-process GGUF model on the CPU (candle): [`local::LocalModel`].
//! * [`serve`] — an OpenAI-compatible HTTP server over any provider.
#![deny(missing_docs)]

pub mod chat;
mod error;
pub mod local;
pub mod provider;
pub mod serve;

pub use chat::{
    CancelToken, ChatRequest, ChatResponse, FinishReason, Message, Role, StreamEvent, ToolCall,
    ToolChoice, ToolSpec, Usage,
};
pub use error::{Error, Result};
pub use local::{LocalModel, LocalOptions};
pub use provider::{Provider, estimate_tokens};
