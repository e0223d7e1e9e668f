//! The one provider trait every backend implements.
//!
//! It is blocking on purpose: the copilot above it is blocking (it drives its own runtime for
//! the KQL engine), the local model is CPU-bound, and async callers (the HTTP servers) run a
//! request on a blocking thread and forward [`StreamEvent`]s through a channel.
use crate::Result;
use crate::chat::{CancelToken, ChatRequest, ChatResponse, StreamEvent};

/// A chat model.
pub trait Provider: Send + Sync {
    /// Backend kind (`openai`, `azure`, `anthropic`, `local`, …).
    fn backend(&self) -> &str;
    /// Model name as the backend knows it.
    fn model(&self) -> &str;
    /// Context window in tokens (prompt + completion), for budgeting.
    fn context_window(&self) -> usize;
    /// Token count of `text` for budgeting: exact for the local model, an estimate elsewhere.
    fn count_tokens(&self, text: &str) -> usize {
        estimate_tokens(text)
    }
    /// Runs one chat request. `on_event` receives tokens and tool calls as they arrive (every
    /// provider calls it, streaming or not); the full response is returned at the end.
    fn chat(
        &self,
        request: &ChatRequest,
        on_event: &mut dyn FnMut(StreamEvent),
        cancel: &CancelToken,
    ) -> Result<ChatResponse>;
}

/// A rough token count (≈ 4 characters a token for English and code, never 0 for non-empty
/// text), used where the backend's tokenizer is not available.
pub fn estimate_tokens(text: &str) -> usize {
    if text.is_empty() { 0 } else { text.chars().count().div_ceil(4).max(1) }
}
