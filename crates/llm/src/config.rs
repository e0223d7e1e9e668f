//! Which model Bulwark talks to: the `[llm]` table of `bulwark.toml` (or the `--config`
//! file), overridden by `BULWARK_LLM*` environment variables, validated with errors naming the
//! setting and where it came from; and [`connect_remote`], which builds the remote providers.
//!
//! ```toml
//! [llm]
//! backend = "openai"                  # none | openai | azure | anthropic | local
//! url = "http://localhost:11434/v1"   # OpenAI-compatible base URL / Azure endpoint / Anthropic base
//! model = "qwen2.5:7b-instruct"
//! api_key = "…"                       # Bearer (openai), api-key header (azure), x-api-key (anthropic)
//! # azure: deployment = "gpt4o-soc", api_version = "2024-10-21", bearer_token = "<Entra ID token>"
//! # local: model_path = "/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"
//! timeout_secs = 120
//! max_retries = 3
//! context_window = 32768              # override the model's default
//! max_tokens = 1024
//! temperature = 0.0
//! seed = 42
//! max_steps = 4                       # planner tool-calling steps
//! time_budget_secs = 120
//! ```
//!
//! Environment overrides: `BULWARK_LLM` (backend), `BULWARK_LLM_URL`, `BULWARK_LLM_MODEL`,
//! `BULWARK_LLM_KEY`, `BULWARK_LLM_TOKEN` (Entra ID bearer), `BULWARK_LLM_MODEL_PATH`,
//! `BULWARK_LLM_API_VERSION`, `BULWARK_LLM_DEPLOYMENT`. Empty values are ignored.
//!
//! Secrets (`api_key`, `bearer_token`) never appear in `Debug` output or error messages.
use crate::anthropic::AnthropicProvider;
use crate::http::HttpOptions;
use crate::openai::{AzureAuth, OpenAiProvider};
use crate::provider::Provider;
use crate::{ChatRequest, Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The configuration file looked for in the data directory.
pub const CONFIG_FILE: &str = "bulwark.toml";
/// Azure OpenAI REST version used when none is configured (the current GA version).
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";
/// Anthropic's API base used when none is configured.
pub const DEFAULT_ANTHROPIC_URL: &str = "https://api.anthropic.com";

/// Which backend answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// No model: Bulwark answers from templates.
    #[default]
    None,
    /// An OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio).
    OpenAi,
    /// Azure OpenAI.
    Azure,
    /// Anthropic's Messages API.
    Anthropic,
    /// The in-process GGUF model.
    Local,
}

impl Backend {
    /// Parses a backend name (case-insensitive).
    pub fn parse(s: &str) -> Option<Backend> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" | "" => Backend::None,
            "openai" => Backend::OpenAi,
            "azure" | "azure-openai" | "azure_openai" => Backend::Azure,
            "anthropic" | "claude" => Backend::Anthropic,
            "local" => Backend::Local,
            _ => return None,
        })
    }

    /// The backend's name as configured.
    pub fn name(self) -> &'static str {
        match self {
            Backend::None => "none",
            Backend::OpenAi => "openai",
            Backend::Azure => "azure",
            Backend::Anthropic => "anthropic",
            Backend::Local => "local",
        }
    }
}

/// The LLM settings.
#[derive(Clone, PartialEq)]
pub struct LlmConfig {
    /// Backend.
    pub backend: Backend,
    /// Base URL (OpenAI-compatible), resource endpoint (Azure) or API base (Anthropic).
    pub url: Option<String>,
    /// Model name (Azure: optional, the deployment answers).
    pub model: Option<String>,
    /// API key (secret).
    pub api_key: Option<String>,
    /// Azure deployment name.
    pub deployment: Option<String>,
    /// Azure REST `api-version`.
    pub api_version: Option<String>,
    /// Microsoft Entra ID access token for Azure (secret; instead of `api_key`).
    pub bearer_token: Option<String>,
    /// GGUF file of the local model.
    pub model_path: Option<PathBuf>,
    /// Request (and streaming idle) timeout in seconds.
    pub timeout_secs: u64,
    /// Connect timeout in seconds.
    pub connect_timeout_secs: u64,
    /// Retries on 429/5xx/connection failures.
    pub max_retries: u32,
    /// Context window override (tokens).
    pub context_window: Option<usize>,
    /// Default `max_tokens` of a request.
    pub max_tokens: Option<u32>,
    /// Default sampling temperature.
    pub temperature: Option<f32>,
    /// Default sampling seed.
    pub seed: Option<u64>,
    /// Planner tool-calling steps.
    pub max_steps: u32,
    /// Wall-clock budget of one copilot answer, in seconds.
    pub time_budget_secs: u64,
    /// Where each setting came from (file path or environment variable), for messages.
    origins: BTreeMap<&'static str, String>,
}

impl Default for LlmConfig {
    fn default() -> LlmConfig {
        LlmConfig {
            backend: Backend::None,
            url: None,
            model: None,
            api_key: None,
            deployment: None,
            api_version: None,
            bearer_token: None,
            model_path: None,
            timeout_secs: 120,
            connect_timeout_secs: 10,
            max_retries: 3,
            context_window: None,
            max_tokens: None,
            temperature: None,
            seed: None,
            max_steps: 4,
            time_budget_secs: 120,
            origins: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |s: &Option<String>| s.as_ref().map(|_| "[redacted]");
        f.debug_struct("LlmConfig")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &secret(&self.api_key))
            .field("deployment", &self.deployment)
            .field("api_version", &self.api_version)
            .field("bearer_token", &secret(&self.bearer_token))
            .field("model_path", &self.model_path)
            .field("timeout_secs", &self.timeout_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("max_retries", &self.max_retries)
            .field("context_window", &self.context_window)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .field("seed", &self.seed)
            .field("max_steps", &self.max_steps)
            .field("time_budget_secs", &self.time_budget_secs)
            .finish()
    }
}

/// Keys of the `[llm]` table.
const KEYS: &[&str] = &[
    "backend",
    "url",
    "model",
    "api_key",
    "deployment",
    "api_version",
    "bearer_token",
    "model_path",
    "timeout_secs",
    "connect_timeout_secs",
    "max_retries",
    "context_window",
    "max_tokens",
    "temperature",
    "seed",
    "max_steps",
    "time_budget_secs",
];

/// Environment variables and the settings they override.
const ENV: &[(&str, &str)] = &[
    ("BULWARK_LLM", "backend"),
    ("BULWARK_LLM_URL", "url"),
    ("BULWARK_LLM_MODEL", "model"),
    ("BULWARK_LLM_KEY", "api_key"),
    ("BULWARK_LLM_TOKEN", "bearer_token"),
    ("BULWARK_LLM_MODEL_PATH", "model_path"),
    ("BULWARK_LLM_API_VERSION", "api_version"),
    ("BULWARK_LLM_DEPLOYMENT", "deployment"),
];

impl LlmConfig {
    /// Loads the configuration: `explicit` (`--config FILE`, which must exist) or else
    /// `DATA_DIR/bulwark.toml` when present, then the environment overrides, then validates.
    pub fn load(data_dir: &Path, explicit: Option<&Path>) -> Result<LlmConfig> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => Some(data_dir.join(CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let text = match &path {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|source| Error::Io { path: p.display().to_string(), source })?,
            ),
            None => None,
        };
        let file = path.as_deref().zip(text.as_deref());
        LlmConfig::from_sources(file, &|name| std::env::var(name).ok())
    }

    /// Builds the configuration from a file (`(path for messages, TOML text)`) and an
    /// environment lookup, then validates. Testable without touching the process.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LlmConfig> {
        let mut cfg = LlmConfig::default();
        if let Some((path, text)) = file {
            cfg.apply_file(path, text)?;
        }
        for (var, key) in ENV {
            if let Some(value) = env(var).filter(|v| !v.trim().is_empty()) {
                cfg.set_str(key, value.trim(), var)?;
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply_file(&mut self, path: &Path, text: &str) -> Result<()> {
        let where_ = path.display().to_string();
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{where_}: {}", e.to_string().trim())))?;
        let Some(llm) = table.get("llm") else { return Ok(()) };
        let toml::Value::Table(llm) = llm else {
            return Err(Error::Config(format!("{where_}: `llm` must be a table ([llm])")));
        };
        for (key, value) in llm {
            let Some(&key) = KEYS.iter().find(|k| **k == key) else {
                return Err(Error::Config(format!(
                    "{where_}: unknown setting `{key}` in [llm] (known: {})",
                    KEYS.join(", ")
                )));
            };
            let origin = where_.clone();
            match value {
                toml::Value::String(s) => self.set_str(key, s, &origin)?,
                toml::Value::Integer(i) => self.set_num(key, *i as f64, true, &origin)?,
                toml::Value::Float(f) => self.set_num(key, *f, false, &origin)?,
                other => {
                    return Err(Error::Config(format!(
                        "{where_}: [llm] {key} must be a {}, not a {}",
                        if is_text_key(key) { "string" } else { "number" },
                        other.type_str()
                    )));
                }
            }
        }
        Ok(())
    }

    fn origin(&self, key: &str) -> String {
        self.origins.get(key).cloned().unwrap_or_else(|| "the defaults".into())
    }

    /// Sets `key` from text (file strings and environment variables).
    fn set_str(&mut self, key: &'static str, value: &str, origin: &str) -> Result<()> {
        self.origins.insert(key, origin.to_string());
        let v = Some(value.to_string());
        match key {
            "backend" => {
                self.backend = Backend::parse(value).ok_or_else(|| {
                    Error::Config(format!(
                        "{origin}: unknown backend {value:?} for [llm] backend \
                         (expected none, openai, azure, anthropic or local)"
                    ))
                })?;
            }
            "url" => self.url = v,
            "model" => self.model = v,
            "api_key" => self.api_key = v,
            "deployment" => self.deployment = v,
            "api_version" => self.api_version = v,
            "bearer_token" => self.bearer_token = v,
            "model_path" => self.model_path = Some(PathBuf::from(value)),
            _ => {
                // A number given as text (environment, or a quoted TOML value).
                let n: f64 = value.trim().parse().map_err(|_| {
                    Error::Config(format!("{origin}: [llm] {key} must be a number, got {value:?}"))
                })?;
                return self.set_num(key, n, !value.contains(['.', 'e', 'E']), origin);
            }
        }
        Ok(())
    }

    fn set_num(&mut self, key: &'static str, n: f64, integer: bool, origin: &str) -> Result<()> {
        self.origins.insert(key, origin.to_string());
        if is_text_key(key) {
            return Err(Error::Config(format!("{origin}: [llm] {key} must be a string")));
        }
        let bad = |why: &str| Error::Config(format!("{origin}: [llm] {key} = {n} {why}"));
        if key == "temperature" {
            if !(0.0..=2.0).contains(&n) {
                return Err(bad("is out of range (0 to 2)"));
            }
            self.temperature = Some(n as f32);
            return Ok(());
        }
        if !integer || n.fract() != 0.0 || n < 0.0 || n > u32::MAX as f64 * 4096.0 {
            return Err(bad("must be a whole number ≥ 0"));
        }
        let u = n as u64;
        let small = || u32::try_from(u).map_err(|_| bad("is too large"));
        match key {
            "timeout_secs" | "connect_timeout_secs" | "time_budget_secs" => {
                if u == 0 || u > 86_400 {
                    return Err(bad("must be between 1 and 86400 seconds"));
                }
                match key {
                    "timeout_secs" => self.timeout_secs = u,
                    "connect_timeout_secs" => self.connect_timeout_secs = u,
                    _ => self.time_budget_secs = u,
                }
            }
            "max_retries" => {
                if u > 20 {
                    return Err(bad("is too many (at most 20)"));
                }
                self.max_retries = small()?;
            }
            "context_window" => {
                if u < 256 {
                    return Err(bad("is too small (at least 256 tokens)"));
                }
                self.context_window = Some(usize::try_from(u).map_err(|_| bad("is too large"))?);
            }
            "max_tokens" => {
                if u == 0 {
                    return Err(bad("must be at least 1"));
                }
                self.max_tokens = Some(small()?);
            }
            "seed" => self.seed = Some(u),
            "max_steps" => {
                if !(1..=32).contains(&u) {
                    return Err(bad("must be between 1 and 32"));
                }
                self.max_steps = small()?;
            }
            _ => return Err(bad("is not a known setting")),
        }
        Ok(())
    }

    /// Checks that the chosen backend has what it needs.
    pub fn validate(&self) -> Result<()> {
        let need = |key: &str, what: &str| -> Error {
            let envs: Vec<&str> = ENV.iter().filter(|(_, k)| *k == key).map(|(v, _)| *v).collect();
            let env_hint =
                if envs.is_empty() { String::new() } else { format!(" or {}", envs.join("/")) };
            Error::Config(format!(
                "[llm] {key} is required for the {} backend ({what}; backend set in {}): \
                 set it in {CONFIG_FILE}{env_hint}",
                self.backend.name(),
                self.origin("backend"),
            ))
        };
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let check_url = |v: &Option<String>| -> Result<()> {
            if let Some(u) = v.as_deref()
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                return Err(Error::Config(format!(
                    "{}: [llm] url must start with http:// or https://, got {u:?}",
                    self.origin("url")
                )));
            }
            Ok(())
        };
        match self.backend {
            Backend::None => {}
            Backend::OpenAi => {
                if !present(&self.url) {
                    return Err(need(
                        "url",
                        "e.g. https://api.openai.com/v1 or http://localhost:11434/v1",
                    ));
                }
                check_url(&self.url)?;
                if !present(&self.model) {
                    return Err(need("model", "the model name the server knows"));
                }
                // Local servers need no key; OpenAI itself always does.
                if self.url.as_deref().is_some_and(|u| u.contains("://api.openai.com"))
                    && !present(&self.api_key)
                {
                    return Err(need("api_key", "api.openai.com needs an API key"));
                }
            }
            Backend::Azure => {
                if !present(&self.url) {
                    return Err(need(
                        "url",
                        "the resource endpoint, e.g. https://NAME.openai.azure.com",
                    ));
                }
                check_url(&self.url)?;
                if !present(&self.deployment) {
                    return Err(need("deployment", "the Azure OpenAI deployment name"));
                }
                if !present(&self.api_key) && !present(&self.bearer_token) {
                    return Err(need("api_key", "or bearer_token, an Entra ID access token"));
                }
            }
            Backend::Anthropic => {
                check_url(&self.url)?;
                if !present(&self.api_key) {
                    return Err(need("api_key", "an Anthropic API key"));
                }
                if !present(&self.model) {
                    return Err(need("model", "e.g. claude-sonnet-4-5"));
                }
            }
            Backend::Local => {
                if self.model_path.as_deref().is_none_or(|p| p.as_os_str().is_empty()) {
                    return Err(need("model_path", "the GGUF model file"));
                }
            }
        }
        Ok(())
    }

    /// The HTTP timeouts and retry policy these settings ask for.
    pub fn http_options(&self) -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(self.timeout_secs),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            max_retries: self.max_retries,
            ..HttpOptions::default()
        }
    }

    /// Applies the configured request defaults: `max_tokens` and `seed` where the request
    /// sets none, and the configured temperature.
    pub fn apply_request_defaults(&self, request: &mut ChatRequest) {
        if request.max_tokens.is_none() {
            request.max_tokens = self.max_tokens;
        }
        if request.seed.is_none() {
            request.seed = self.seed;
        }
        if let Some(t) = self.temperature {
            request.temperature = t;
        }
    }

    /// One line for status output, without secrets: `openai qwen2.5:7b at http://…/v1`.
    pub fn summary(&self) -> String {
        let model = match self.backend {
            Backend::Azure => self.deployment.clone().or_else(|| self.model.clone()),
            Backend::Local => self.model_path.as_ref().map(|p| p.display().to_string()),
            _ => self.model.clone(),
        };
        let mut out = self.backend.name().to_string();
        if let Some(m) = model {
            out.push(' ');
            out.push_str(&m);
        }
        if let Some(u) = self.url.as_deref().filter(|_| self.backend != Backend::Local) {
            out.push_str(" at ");
            out.push_str(u);
        }
        out
    }

    /// Whether any model is configured.
    pub fn enabled(&self) -> bool {
        self.backend != Backend::None
    }
}

fn is_text_key(key: &str) -> bool {
    matches!(
        key,
        "backend"
            | "url"
            | "model"
            | "api_key"
            | "deployment"
            | "api_version"
            | "bearer_token"
            | "model_path"
    )
}

/// Builds the configured remote provider: `Ok(None)` for `none`; an error for `local` (the
/// local module builds that one).
pub fn connect_remote(cfg: &LlmConfig) -> Result<Option<Arc<dyn Provider>>> {
    cfg.validate()?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let provider: Arc<dyn Provider> = match cfg.backend {
        Backend::None => return Ok(None),
        Backend::Local => {
            return Err(Error::Config("local backend is built by the local module".into()));
        }
        Backend::OpenAi => {
            let p =
                OpenAiProvider::new(&text(&cfg.url), cfg.api_key.as_deref(), &text(&cfg.model))?
                    .with_http_options(cfg.http_options())?;
            let p = match cfg.context_window {
                Some(n) => p.with_context_window(n),
                None => p,
            };
            Arc::new(p)
        }
        Backend::Azure => {
            let auth = match (&cfg.bearer_token, &cfg.api_key) {
                (Some(t), _) if !t.is_empty() => AzureAuth::Bearer(t.clone()),
                (_, Some(k)) => AzureAuth::ApiKey(k.clone()),
                _ => return Err(Error::Config("[llm] api_key or bearer_token is required".into())),
            };
            let version =
                cfg.api_version.clone().unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.into());
            let mut p =
                OpenAiProvider::azure(&text(&cfg.url), &text(&cfg.deployment), &version, auth)?
                    .with_http_options(cfg.http_options())?;
            if let Some(m) = cfg.model.as_deref().filter(|m| !m.is_empty()) {
                p = p.with_model(m);
            }
            if let Some(n) = cfg.context_window {
                p = p.with_context_window(n);
            }
            Arc::new(p)
        }
        Backend::Anthropic => {
            let url = cfg.url.clone().unwrap_or_else(|| DEFAULT_ANTHROPIC_URL.into());
            let mut p = AnthropicProvider::new(&url, &text(&cfg.api_key), &text(&cfg.model))?
                .with_http_options(cfg.http_options())?;
            if let Some(n) = cfg.max_tokens {
                p = p.with_default_max_tokens(n);
            }
            if let Some(n) = cfg.context_window {
                p = p.with_context_window(n);
            }
            Arc::new(p)
        }
    };
    Ok(Some(provider))
}
