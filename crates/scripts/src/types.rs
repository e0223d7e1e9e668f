//! The analysis result types: everything [`crate::analyze`] returns, all serde round-trippable.

use bulwark_model::EntityKind;
use serde::{Deserialize, Serialize};

/// A scripting language the analyzer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Windows PowerShell / pwsh, including `powershell.exe` command lines.
    PowerShell,
    /// cmd.exe batch.
    Cmd,
    /// bash / POSIX sh.
    Bash,
    /// JavaScript / JScript.
    JavaScript,
    /// VBA / VBScript.
    Vba,
    /// Python.
    Python,
    /// Not recognised.
    Unknown,
}

impl Language {
    /// Lower-case name as used on the command line (`--lang`).
    pub fn name(self) -> &'static str {
        match self {
            Language::PowerShell => "powershell",
            Language::Cmd => "cmd",
            Language::Bash => "bash",
            Language::JavaScript => "js",
            Language::Vba => "vba",
            Language::Python => "python",
            Language::Unknown => "unknown",
        }
    }

    /// Parses a `--lang` value (`auto` gives `None`).
    pub fn parse(name: &str) -> Option<Language> {
        Some(match name.to_ascii_lowercase().as_str() {
            "powershell" | "ps" | "ps1" | "pwsh" => Language::PowerShell,
            "cmd" | "bat" | "batch" => Language::Cmd,
            "bash" | "sh" | "shell" => Language::Bash,
            "js" | "javascript" | "jscript" => Language::JavaScript,
            "vba" | "vbs" | "vbscript" => Language::Vba,
            "python" | "py" => Language::Python,
            _ => return None,
        })
    }
}

/// Options of [`crate::analyze`]. `Default` gives limits that keep any input under a couple of
/// seconds and a few hundred MB.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalyzeOptions {
    /// Force a language; `None` detects it (and re-detects it at each layer).
    pub lang: Option<Language>,
    /// Maximum number of layers peeled.
    pub max_depth: usize,
    /// Maximum size of any produced layer (bytes); larger results are not taken.
    pub max_output_bytes: usize,
    /// Input beyond this size is cut before analysis (noted in `limits_hit`).
    pub max_input_bytes: usize,
    /// Cap on decompressed payloads (decompression bombs stop here).
    pub max_decompressed_bytes: usize,
    /// Total bytes of layer text kept in the result; later layers keep a prefix only.
    pub max_kept_bytes: usize,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            lang: None,
            max_depth: 32,
            max_output_bytes: 8 << 20,
            max_input_bytes: 16 << 20,
            max_decompressed_bytes: 8 << 20,
            max_kept_bytes: 32 << 20,
        }
    }
}

/// One stage of deobfuscation: the text after `technique` was undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// 0 for the input, then 1, 2, ...
    pub depth: usize,
    /// What was undone to get this text (`input` for depth 0).
    pub technique: String,
    /// Language of this layer's text.
    pub language: Language,
    /// The text (possibly cut, see `truncated`).
    pub text: String,
    /// True when `text` was cut to respect `max_kept_bytes`.
    pub truncated: bool,
}

/// A payload decoded from inside the final script layer (an embedded base64 / compressed /
/// encrypted blob, or a child interpreter's script), with its own decoding chain. Its
/// indicators and behaviours are merged into the analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Depth of the script layer it was found in.
    pub found_in: usize,
    /// How it was extracted (the technique of its first layer).
    pub technique: String,
    /// The decoded payload first, then every further step; depths continue after the
    /// script's layers, so an [`Ioc::layer`] names one layer of either chain.
    pub layers: Vec<Layer>,
}

impl Payload {
    /// The payload's deepest text.
    pub fn final_text(&self) -> &str {
        self.layers.last().map(|l| l.text.as_str()).unwrap_or("")
    }
}

/// Kind of indicator of compromise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IocKind {
    /// http(s)/ftp/... URL.
    Url,
    /// Domain name.
    Domain,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// MD5 hex digest.
    Md5,
    /// SHA-1 hex digest.
    Sha1,
    /// SHA-256 hex digest.
    Sha256,
    /// E-mail address.
    Email,
    /// Windows or Unix file path.
    FilePath,
    /// Windows registry key.
    RegistryKey,
    /// Named pipe (`\\.\pipe\name`).
    NamedPipe,
    /// HTTP user agent string.
    UserAgent,
    /// CVE identifier.
    Cve,
    /// Bitcoin address.
    BitcoinWallet,
    /// Ethereum address.
    EthereumWallet,
    /// Monero address.
    MoneroWallet,
}

impl IocKind {
    /// Snake-case name (as serialized).
    pub fn name(self) -> &'static str {
        match self {
            IocKind::Url => "url",
            IocKind::Domain => "domain",
            IocKind::Ipv4 => "ipv4",
            IocKind::Ipv6 => "ipv6",
            IocKind::Md5 => "md5",
            IocKind::Sha1 => "sha1",
            IocKind::Sha256 => "sha256",
            IocKind::Email => "email",
            IocKind::FilePath => "file_path",
            IocKind::RegistryKey => "registry_key",
            IocKind::NamedPipe => "named_pipe",
            IocKind::UserAgent => "user_agent",
            IocKind::Cve => "cve",
            IocKind::BitcoinWallet => "bitcoin_wallet",
            IocKind::EthereumWallet => "ethereum_wallet",
            IocKind::MoneroWallet => "monero_wallet",
        }
    }

    /// The data-model entity this IOC can be linked to, if any.
    pub fn entity_kind(&self) -> Option<EntityKind> {
        match self {
            IocKind::Url => Some(EntityKind::Url),
            IocKind::Domain => Some(EntityKind::Domain),
            IocKind::Ipv4 | IocKind::Ipv6 => Some(EntityKind::Ip),
            IocKind::Md5 | IocKind::Sha1 | IocKind::Sha256 => Some(EntityKind::FileHash),
            IocKind::Email => Some(EntityKind::Mailbox),
            IocKind::FilePath | IocKind::NamedPipe => Some(EntityKind::File),
            IocKind::RegistryKey => Some(EntityKind::RegistryKey),
            IocKind::UserAgent
            | IocKind::Cve
            | IocKind::BitcoinWallet
            | IocKind::EthereumWallet
            | IocKind::MoneroWallet => None,
        }
    }
}

/// One indicator found in some layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ioc {
    /// What it is.
    pub kind: IocKind,
    /// Refanged, normalised value (`http://evil.com/x`).
    pub value: String,
    /// The text as written when it was defanged (`hxxp://evil[.]com/x`).
    pub defanged_from: Option<String>,
    /// Private, loopback, link-local, documentation or otherwise reserved address (or a URL on one).
    pub private_or_reserved: bool,
    /// Layer where it was first seen.
    pub layer: usize,
    /// 1-based line in that layer.
    pub line: usize,
}

/// A behaviour seen in the script, mapped to MITRE ATT&CK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    /// Short name (`download cradle`, `AMSI bypass`).
    pub name: String,
    /// ATT&CK technique id (`T1059.001`).
    pub attack_technique: String,
    /// ATT&CK tactic (`execution`, `defense-evasion`).
    pub tactic: String,
    /// The line (or a window of it, for one-line scripts) that shows it.
    pub evidence_line: String,
    /// Layer of the evidence.
    pub layer: usize,
    /// 1-based line of the evidence in that layer.
    pub line_number: usize,
    /// How much this behaviour weighs in the verdict score.
    pub weight: u32,
}

/// Verdict level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictLevel {
    /// Nothing to judge (empty or unreadable input).
    Unknown,
    /// No malicious or suspicious trait found.
    Benign,
    /// Some suspicious traits.
    Suspicious,
    /// Clear malicious behaviour.
    Malicious,
}

/// The verdict and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The level.
    pub level: VerdictLevel,
    /// 0..=100.
    pub score: u32,
    /// One line per contributing finding.
    pub reasons: Vec<String>,
}

/// The full result of [`crate::analyze`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// Language of the input (as detected or forced).
    pub language: Language,
    /// The script's layers, input first, ending at the last one that is still the script as
    /// a program (what an analyst reads).
    pub layers: Vec<Layer>,
    /// Payloads decoded from inside the final layer, each with its own chain.
    #[serde(default)]
    pub payloads: Vec<Payload>,
    /// The last layer, pretty-printed.
    pub final_script: String,
    /// Indicators, de-duplicated.
    pub iocs: Vec<Ioc>,
    /// Behaviours, one per name.
    pub behaviours: Vec<Behaviour>,
    /// Verdict with reasons.
    pub verdict: Verdict,
    /// Malware family or tool, when deterministic features name one.
    pub family: Option<String>,
    /// Plain-language, step-by-step explanation.
    pub explanation: Vec<String>,
    /// True when the input or a layer was cut.
    pub truncated: bool,
    /// Limits reached and decoding problems met (human-readable notes).
    pub limits_hit: Vec<String>,
}

impl Analysis {
    /// The final script layer's text.
    pub fn final_layer(&self) -> &str {
        self.layers.last().map(|l| l.text.as_str()).unwrap_or("")
    }

    /// The deepest text decoded: the last payload's final text, else the final layer.
    pub fn deepest(&self) -> &str {
        self.payloads.last().map_or_else(|| self.final_layer(), Payload::final_text)
    }

    /// Every layer: the script's, then each payload's.
    pub fn all_layers(&self) -> impl Iterator<Item = &Layer> {
        self.layers.iter().chain(self.payloads.iter().flat_map(|p| p.layers.iter()))
    }
}
