//! The copilot with a language model: settings, the metered client every model call goes
//! through (token usage, a process-log entry per call, the time budget enforced by cancelling
//! the request), and the parts built on it.
//!
//! * [`prompts`] — system prompts and the `<untrusted-data>` fence.
//! * [`planner`] — skills as tools; the bounded tool-calling loop with argument validation,
//!   repair, rejection feedback and the injection check on follow-up calls.
//! * [`composer`] — the answer written from numbered evidence, checked by the grounding guard.
//! * [`nl2kql`] — schema-retrieval NL→KQL with few-shot examples and a repair loop.
//! * [`guard`] — the one place the grounding guard is called.
//!
//! Nothing here runs without a [`bulwark_llm::Provider`]: a copilot without one stays fully
//! deterministic.
pub mod composer;
pub mod guard;
pub mod nl2kql;
pub mod planner;
pub mod prompts;

use crate::copilot::{ProcessEntry, TokenUsage};
use bulwark_llm::{CancelToken, ChatRequest, ChatResponse, Provider, StreamEvent};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use guard::GuardPolicy;

/// How the copilot uses its model.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    /// Largest number of planning rounds (model calls that may call tools).
    pub max_steps: usize,
    /// Wall-clock budget for one prompt's model calls (planning, NL→KQL, composing).
    pub time_budget: Duration,
    /// Sampling temperature (0: greedy, reproducible on the local model).
    pub temperature: f32,
    /// Largest completion per call (`None`: the provider's default).
    pub max_tokens: Option<u32>,
    /// What the grounding guard does with unsupported claims.
    pub guard: GuardPolicy,
    /// Sampling seed, for backends that take one.
    pub seed: Option<u64>,
}

impl LlmSettings {
    /// The settings of an `[llm]` configuration (`max_steps`, `time_budget_secs`,
    /// `temperature`, `max_tokens`, `seed`); the rest keep their defaults.
    pub fn from_config(cfg: &bulwark_llm::LlmConfig) -> LlmSettings {
        let d = LlmSettings::default();
        LlmSettings {
            max_steps: (cfg.max_steps as usize).max(1),
            time_budget: Duration::from_secs(cfg.time_budget_secs.max(1)),
            temperature: cfg.temperature.unwrap_or(d.temperature),
            max_tokens: cfg.max_tokens.or(d.max_tokens),
            seed: cfg.seed,
            ..d
        }
    }
}

impl Default for LlmSettings {
    fn default() -> Self {
        LlmSettings {
            max_steps: 4,
            time_budget: Duration::from_secs(60),
            temperature: 0.0,
            max_tokens: Some(1024),
            guard: GuardPolicy::Remove,
            seed: None,
        }
    }
}

/// What one prompt's model calls cost, shared by every part that calls the model.
#[derive(Debug, Default)]
struct Meter {
    usage: TokenUsage,
    entries: Vec<ProcessEntry>,
}

/// A provider with settings and a meter: every model call of one prompt goes through one
/// client so its tokens and timings are counted once, and the time budget is shared.
#[derive(Clone)]
pub struct LlmClient {
    provider: Arc<dyn Provider>,
    settings: LlmSettings,
    meter: Arc<Mutex<Meter>>,
    deadline: Instant,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient")
            .field("backend", &self.provider.backend())
            .field("model", &self.provider.model())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why a model call failed, in words for the process log.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError(pub String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl LlmClient {
    /// A client for one prompt: the time budget starts now.
    pub fn new(provider: Arc<dyn Provider>, settings: LlmSettings) -> LlmClient {
        let deadline = Instant::now() + settings.time_budget;
        let usage = TokenUsage {
            backend: provider.backend().to_string(),
            model: provider.model().to_string(),
            ..TokenUsage::default()
        };
        LlmClient {
            provider,
            settings,
            meter: Arc::new(Mutex::new(Meter { usage, entries: Vec::new() })),
            deadline,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn Provider> {
        &self.provider
    }

    /// Time left in the budget.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// A request with the settings' temperature and completion limit.
    pub fn request(&self, messages: Vec<bulwark_llm::Message>) -> ChatRequest {
        let mut r = ChatRequest::new(messages);
        r.temperature = self.settings.temperature;
        r.max_tokens = self.settings.max_tokens;
        r.seed = self.settings.seed;
        r
    }

    /// Runs one request within the remaining budget (the request is cancelled when the budget
    /// runs out), counting its tokens and logging it as step `llm` with `purpose`.
    pub fn chat(
        &self,
        purpose: &str,
        request: &ChatRequest,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<ChatResponse, CallError> {
        let remaining = self.remaining();
        if remaining.is_zero() {
            let e = CallError(format!(
                "time budget of {}s used up",
                self.settings.time_budget.as_secs_f64()
            ));
            self.log(&format!("{purpose}: {}", e.0), 0, false);
            return Err(e);
        }
        let cancel = CancelToken::new();
        // A watchdog cancels the request when the budget runs out; dropping `done` ends it.
        let (done, wait) = mpsc::channel::<()>();
        let watchdog = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(remaining) {
                    cancel.cancel();
                }
            })
        };
        let started = Instant::now();
        let mut on_event = |e: StreamEvent| {
            if let StreamEvent::Token(t) = e {
                on_token(&t);
            }
        };
        let out = self.provider.chat(request, &mut on_event, &cancel);
        drop(done);
        let _ = watchdog.join();
        let ms = started.elapsed().as_millis() as u64;
        match out {
            Ok(resp) => {
                if let Ok(mut m) = self.meter.lock() {
                    m.usage.prompt_tokens += resp.usage.prompt_tokens;
                    m.usage.completion_tokens += resp.usage.completion_tokens;
                    m.usage.model_calls += 1;
                    if !resp.model.is_empty() {
                        m.usage.model = resp.model.clone();
                    }
                }
                let detail = format!(
                    "{purpose}: {} tokens in, {} out, {ms} ms{}",
                    resp.usage.prompt_tokens,
                    resp.usage.completion_tokens,
                    if resp.message.tool_calls.is_empty() {
                        String::new()
                    } else {
                        format!(", {} tool call(s)", resp.message.tool_calls.len())
                    }
                );
                self.log(&detail, ms, true);
                Ok(resp)
            }
            Err(e) => {
                if let Ok(mut m) = self.meter.lock() {
                    m.usage.model_calls += 1;
                }
                let why = match e {
                    bulwark_llm::Error::Cancelled if cancel.is_cancelled() => format!(
                        "timed out (time budget of {}s)",
                        self.settings.time_budget.as_secs_f64()
                    ),
                    other => other.to_string(),
                };
                self.log(&format!("{purpose}: failed after {ms} ms: {why}"), ms, false);
                Err(CallError(why))
            }
        }
    }

    fn log(&self, detail: &str, ms: u64, ok: bool) {
        if let Ok(mut m) = self.meter.lock() {
            m.entries.push(ProcessEntry {
                step: "llm".into(),
                detail: detail.to_string(),
                elapsed_ms: ms,
                ok,
            });
        }
    }

    /// Process entries logged since the last call (model calls, in order).
    pub fn take_entries(&self) -> Vec<ProcessEntry> {
        self.meter.lock().map(|mut m| std::mem::take(&mut m.entries)).unwrap_or_default()
    }

    /// Tokens used so far.
    pub fn usage(&self) -> TokenUsage {
        self.meter.lock().map(|m| m.usage.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::field_reassign_with_default)] // `LlmConfig` has private fields
    fn settings_follow_the_configuration() {
        let mut cfg = bulwark_llm::LlmConfig::default();
        cfg.max_steps = 6;
        cfg.time_budget_secs = 30;
        cfg.temperature = Some(0.2);
        cfg.max_tokens = Some(512);
        cfg.seed = Some(42);
        let s = LlmSettings::from_config(&cfg);
        assert_eq!(s.max_steps, 6);
        assert_eq!(s.time_budget, Duration::from_secs(30));
        assert_eq!((s.temperature, s.max_tokens, s.seed), (0.2, Some(512), Some(42)));
        assert_eq!(s.guard, GuardPolicy::Remove);
    }
}
