//! The chat vocabulary every provider speaks: messages (with tool calls and tool results),
//! tool specifications (JSON Schema), requests, responses, token usage, stream events and
//! cancellation. Shapes follow OpenAI's chat completions, the lingua franca of the backends.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from Bulwark.
    System,
    /// The analyst (or Bulwark speaking for them).
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one of the assistant's tool calls.
    Tool,
}

/// A tool the model asked to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id (the tool message answering it carries the same id).
    pub id: String,
    /// Tool (skill) name.
    pub name: String,
    /// Arguments as the model wrote them (JSON text, possibly invalid: the caller validates).
    pub arguments: String,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Text (may be empty for an assistant message that only calls tools).
    #[serde(default)]
    pub content: String,
    /// Tool calls (assistant messages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call this message answers (tool messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Message {
        Message::text(Role::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Message {
        Message::text(Role::User, content)
    }
    /// An assistant message with text only.
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::text(Role::Assistant, content)
    }
    /// A tool result answering call `id`.
    pub fn tool(id: impl Into<String>, content: impl Into<String>) -> Message {
        Message { tool_call_id: Some(id.into()), ..Message::text(Role::Tool, content) }
    }
    fn text(role: Role, content: impl Into<String>) -> Message {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name (a skill name).
    pub name: String,
    /// What it does and when to use it.
    pub description: String,
    /// JSON Schema of its arguments object.
    pub parameters: Value,
}

/// Whether the model may, must or must not call tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// Text only.
    None,
    /// At least one tool call.
    Required,
}

/// One chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools on offer (empty: none).
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Tool policy.
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// Sampling temperature; 0 is greedy (deterministic on the local model).
    #[serde(default)]
    pub temperature: f32,
    /// Largest number of tokens to generate (`None`: the provider's default).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Seed for sampling when the backend supports it.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Stop sequences.
    #[serde(default)]
    pub stop: Vec<String>,
}

impl ChatRequest {
    /// A request with these messages, no tools, temperature 0.
    pub fn new(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            messages,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            temperature: 0.0,
            max_tokens: None,
            seed: None,
            stop: Vec::new(),
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn (or hit a stop sequence).
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The backend filtered the answer.
    ContentFilter,
}

/// Tokens used by one request (Security Copilot bills the same thing as capacity units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

impl Usage {
    /// Prompt plus completion.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// The model's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The assistant message (text and/or tool calls).
    pub message: Message,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Tokens used.
    pub usage: Usage,
    /// Model that answered, as the backend names it.
    pub model: String,
}

/// What a streaming request reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of the answer's text.
    Token(String),
    /// A complete tool call (reported once its arguments are complete).
    ToolCall(ToolCall),
}

/// Cancels a request from another thread; providers check it between tokens/chunks and
/// return [`crate::Error::Cancelled`].
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }
    /// Cancels every request holding a clone of this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
