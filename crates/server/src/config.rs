//! Server configuration: where the data lives, limits, cookie policy and OIDC.
use crate::db::HashCost;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Token-bucket rate limit per user (and per client address for sign-in attempts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests that may come at once.
    pub burst: u32,
    /// Tokens added per second.
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit { burst: 120, per_second: 20.0 }
    }
}

/// Where an OIDC provider's signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS JSON file.
    File(PathBuf),
    /// An `https://` URL (needs the `jwks-url` feature).
    Url(String),
}

/// OIDC bearer-token validation (RS256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// The provider's keys.
    pub jwks: JwksSource,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `ROOT`: `server.sqlite` and `workspaces/<name>/`.
    pub root: PathBuf,
    /// Workspaces whose data directory is elsewhere (`bulwark serve --data-dir D` serves D
    /// as `default`).
    pub workspace_dirs: BTreeMap<String, PathBuf>,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Rate limit per user.
    pub rate_limit: RateLimit,
    /// Mark the session cookie `Secure`; `None`: yes unless bound to a loopback address.
    pub secure_cookies: Option<bool>,
    /// Browser session lifetime in seconds.
    pub session_ttl_secs: i64,
    /// OIDC bearer tokens, when configured.
    pub oidc: Option<OidcConfig>,
    /// Argon2 cost of new API keys.
    pub key_hash_cost: HashCost,
    /// Copilot and KQL runs executing at once; more wait their turn (running them all at
    /// once on a few cores only thrashes). Default: the number of cores, at least 2.
    pub max_concurrent_runs: usize,
    /// Fix the copilot's `now` (tests over a generated tenant); `None`: the clock.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// The language model the copilots use (`None`: the deterministic planner and composer).
    pub llm: Option<ServerLlm>,
}

/// The language model every workspace's copilot uses, shared (one local model in memory, or
/// one client of a remote backend).
#[derive(Clone)]
pub struct ServerLlm {
    /// The model.
    pub provider: std::sync::Arc<dyn bulwark_llm::Provider>,
    /// How the copilot uses it.
    pub settings: bulwark_copilot::llm::LlmSettings,
}

impl std::fmt::Debug for ServerLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerLlm")
            .field("backend", &self.provider.backend())
            .field("model", &self.provider.model())
            .field("settings", &self.settings)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults for a root directory: 1 MiB bodies, 120-request bursts at 20/s per user,
    /// 12-hour browser sessions.
    pub fn new(root: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            root: root.into(),
            workspace_dirs: BTreeMap::new(),
            body_limit: 1024 * 1024,
            rate_limit: RateLimit::default(),
            secure_cookies: None,
            session_ttl_secs: 12 * 3600,
            oidc: None,
            key_hash_cost: HashCost::default(),
            max_concurrent_runs: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            now: None,
            llm: None,
        }
    }

    /// Serves `dir` as the workspace `name`.
    pub fn with_workspace_dir(mut self, name: &str, dir: impl Into<PathBuf>) -> ServerConfig {
        self.workspace_dirs.insert(name.to_string(), dir.into());
        self
    }

    /// The server database path.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("server.sqlite")
    }
}
