//! The grounding guard: every answer a model writes is checked against the evidence before a
//! user sees it, and statements the evidence does not support are removed (or flagged).
//!
//! [`check`] extracts *claims* from the answer — the concrete facts an analyst would act on —
//! and looks each one up in an [`EvidenceIndex`] built from the evidence rows, queries and
//! results the model was given:
//!
//! | kind | examples | supported when the evidence has… |
//! |---|---|---|
//! | IP | `10.0.0.5`, `10.0.0.0/24`, `fe80::1` | the same address, compared parsed (`::1` = `0:0:0:0:0:0:0:1`; a CIDR suffix is ignored) |
//! | URL, domain, file, path | `https://x.io/a`, `srv01.contoso.local`, `evil.ps1`, `C:\Temp\a.exe` | the text, case-insensitive, at word boundaries |
//! | hash | MD5 / SHA-1 / SHA-256 hex | the same hex |
//! | account | `jdoe@contoso.com`, `CONTOSO\jdoe` | the text, or (for `DOMAIN\user`) both parts |
//! | host | `WS-FIN-07`, `EVIL-PC`, `DC01`, a name-like word after *host/device/machine…* | the text at word boundaries (`WS-FIN-07` matches `ws-fin-07.contoso.local`) |
//! | id | `incident 7`, `alert #12`, GUIDs | the number / GUID |
//! | CVE | `CVE-2024-3400` | the text |
//! | number | `42`, `1,234`, `1.2k`, `3.4 MB`, `75%` | the same value; a suffixed or unit number (`1.2k`, `3.4 MB`) matches any evidence number that rounds to it (MB/GB in both 1000 and 1024 bases); or a count: a JSON array's length, or one given with [`EvidenceIndex::add_count`] |
//! | timestamp | `2024-05-01T10:22:33Z`, `2024-05-01 10:22`, `5/1/2024 10:22 AM`, `May 1, 2024`, `10:22 UTC` | the same instant at the precision written (a date alone: any evidence time that day; `10:22`: any evidence time in that minute) |
//! | citation | `[E3]` | evidence item 3 exists |
//!
//! Not claims (never removed): list ordinals (`1.` / `2)` at the start of a line), years alone
//! (1900–2100 written without separators), numbers inside words or identifiers (`x64`,
//! `Win10`, `SHA-256`, `64-bit`), durations (`the next 24 hours`, `15 minutes`), product
//! versions (`Windows 10`, `TLS 1.2`), spelled-out numbers, MITRE technique ids, and plain
//! words. Evidence is matched leniently (every digit run in it counts as a number; JSON keys
//! are indexed as text), so a figure that appears anywhere in the evidence is supported.
//!
//! Defanged IOCs (`hxxp://evil[.]com`, `10[.]0[.]0[.]5`, `user[@]corp.com`) are refanged on both
//! sides before comparing.
//!
//! Policy ([`GuardPolicy`]): `Remove` (the default) drops every *sentence* (or list line, table
//! row, or whole fenced code block) holding an unsupported claim, because a sentence built
//! around an invented fact is wrong as a whole, and cuts out citations of evidence that does
//! not exist (the sentence stays); `Flag` keeps the text and appends ` [unsupported]` after
//! each unsupported claim. Either way [`GuardReport::text`] ends
//! with a note naming what was removed or flagged, and the report lists every claim checked.
//!
//! Robustness: all regexes are the `regex` crate's (linear time, no backtracking; ASCII
//! digits only); the answer is processed in a few linear passes plus one evidence lookup per
//! distinct claim (set lookups, a substring scan of the evidence only for text misses); nothing indexes
//! by an offset that is not a character boundary; JSON evidence is walked with an explicit
//! stack (no recursion).
use regex::Regex;
use serde_json::Value;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::LazyLock;

/// What to do with unsupported claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardPolicy {
    /// Drop each sentence holding an unsupported claim (and bogus citations).
    #[default]
    Remove,
    /// Keep the text; mark each unsupported claim with ` [unsupported]`.
    Flag,
}

/// The kind of fact a claim states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimKind {
    /// IPv4 or IPv6 address (CIDR suffix allowed).
    Ip,
    /// URL.
    Url,
    /// Domain or fully qualified host name.
    Domain,
    /// File name with a known extension.
    File,
    /// Windows path.
    Path,
    /// MD5, SHA-1 or SHA-256.
    Hash,
    /// E-mail address / UPN or `DOMAIN\user`.
    Account,
    /// Host (device) name.
    Host,
    /// Incident / alert id or GUID.
    Id,
    /// CVE id.
    Cve,
    /// Count, size or other figure.
    Number,
    /// Date, time or both.
    Timestamp,
    /// `[E3]`-style citation of an evidence item.
    Citation,
}

impl ClaimKind {
    fn label(self) -> &'static str {
        match self {
            ClaimKind::Ip => "IP",
            ClaimKind::Url => "URL",
            ClaimKind::Domain => "domain",
            ClaimKind::File => "file",
            ClaimKind::Path => "path",
            ClaimKind::Hash => "hash",
            ClaimKind::Account => "account",
            ClaimKind::Host => "host",
            ClaimKind::Id => "id",
            ClaimKind::Cve => "CVE",
            ClaimKind::Number => "number",
            ClaimKind::Timestamp => "time",
            ClaimKind::Citation => "citation",
        }
    }
}

/// One fact stated in the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// Kind.
    pub kind: ClaimKind,
    /// The text as the answer wrote it.
    pub text: String,
    /// Byte range in the answer.
    pub span: std::ops::Range<usize>,
    /// Whether the evidence supports it.
    pub supported: bool,
}

impl Claim {
    /// How the note names the claim: addresses and indicators bare, others with their kind
    /// (`10.9.9.9`, `'host EVIL-PC'`).
    pub fn describe(&self) -> String {
        // Invisible and direction-changing characters could disguise the name in the note.
        let text: String = self
            .text
            .chars()
            .filter(|c| {
                !c.is_control()
                    && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
            })
            .collect();
        match self.kind {
            ClaimKind::Ip
            | ClaimKind::Url
            | ClaimKind::Domain
            | ClaimKind::Hash
            | ClaimKind::Cve
            | ClaimKind::File
            | ClaimKind::Path => text,
            ClaimKind::Citation => format!("'citation {text}'"),
            kind => format!("'{} {text}'", kind.label()),
        }
    }
}

/// The outcome of checking one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardReport {
    /// The answer to show: cleaned (or flagged) text, ending with a note when anything was
    /// unsupported; the original answer when everything was.
    pub text: String,
    /// Every claim checked, in answer order.
    pub claims: Vec<Claim>,
    /// Sentences (or lines) removed (0 under [`GuardPolicy::Flag`]).
    pub removed_statements: usize,
    /// Sentences (or lines) left with content.
    pub kept_statements: usize,
    /// The note appended to the text, if any.
    pub note: Option<String>,
}

impl GuardReport {
    /// The claims the evidence does not support.
    pub fn unsupported(&self) -> Vec<&Claim> {
        self.claims.iter().filter(|c| !c.supported).collect()
    }
    /// Whether every claim is supported (the text is the answer unchanged).
    pub fn is_clean(&self) -> bool {
        self.claims.iter().all(|c| c.supported)
    }
}

/// What the evidence says, indexed for claim lookups.
#[derive(Debug, Clone, Default)]
pub struct EvidenceIndex {
    /// Lower-cased, refanged evidence text (items separated by newlines).
    haystack: String,
    /// Whitespace/punctuation-delimited tokens of the haystack, for fast exact lookups.
    tokens: HashSet<String>,
    ips: HashSet<IpAddr>,
    /// Every number seen, ordered for range lookups.
    numbers: std::collections::BTreeSet<Num>,
    counts: HashSet<u64>,
    /// Instants (Unix seconds, UTC) of evidence timestamps.
    instants: std::collections::BTreeSet<i64>,
    /// Days (since the Unix epoch) on which evidence timestamps fall.
    days: HashSet<i64>,
    /// Times of day (seconds since midnight) written without a date.
    times_of_day: Vec<i64>,
    items: usize,
}

/// Deepest JSON nesting walked (deeper values are skipped).
const MAX_JSON_DEPTH: usize = 256;

impl EvidenceIndex {
    /// An empty index.
    pub fn new() -> EvidenceIndex {
        EvidenceIndex::default()
    }

    /// Adds one citable evidence item (text); returns its number (`[E1]` is the first).
    pub fn add(&mut self, text: &str) -> usize {
        self.add_context(text);
        self.items += 1;
        self.items
    }

    /// Adds one citable evidence item (rows, a query and its result…); every string and
    /// number in it is indexed. Returns its number.
    pub fn add_json(&mut self, value: &Value) -> usize {
        self.add_context_json(value);
        self.items += 1;
        self.items
    }

    /// Adds supporting text that is not a citable item (the analyst's question, a query).
    pub fn add_context(&mut self, text: &str) {
        let refanged = refang(text).text;
        self.index_text(&refanged);
    }

    /// Adds supporting JSON that is not a citable item.
    pub fn add_context_json(&mut self, value: &Value) {
        let mut stack = vec![(value, 0usize)];
        while let Some((v, depth)) = stack.pop() {
            match v {
                Value::String(s) => self.add_context(s),
                Value::Number(n) => {
                    if let Some(f) = n.as_f64() {
                        self.push_number(f);
                    }
                    self.index_text(&n.to_string());
                }
                Value::Bool(_) | Value::Null => {}
                Value::Array(a) if depth < MAX_JSON_DEPTH => {
                    // "I found 2 accounts" is supported by a two-row result.
                    self.counts.insert(a.len() as u64);
                    stack.extend(a.iter().rev().map(|x| (x, depth + 1)));
                }
                Value::Object(o) if depth < MAX_JSON_DEPTH => {
                    // Keys are column names: indexed so `DeviceName` etc. are not "invented".
                    for (k, x) in o.iter().rev() {
                        self.index_text(&k.to_lowercase());
                        stack.push((x, depth + 1));
                    }
                }
                Value::Array(_) | Value::Object(_) => {}
            }
        }
    }

    /// Declares a count the answer may state (rows returned, alerts in an incident…).
    pub fn add_count(&mut self, n: u64) {
        self.counts.insert(n);
    }

    /// Sets the number of citable items (when the caller numbers evidence itself).
    pub fn set_item_count(&mut self, n: usize) {
        self.items = n;
    }

    /// Citable items so far.
    pub fn item_count(&self) -> usize {
        self.items
    }

    fn push_number(&mut self, f: f64) {
        if f.is_finite() {
            // `+ 0.0` turns -0 into 0, which total ordering would keep apart.
            self.numbers.insert(Num(f + 0.0));
        }
    }

    /// Indexes refanged text: the haystack, tokens, IPs, numbers (leniently: every digit
    /// run and every separated number, wherever it is), timestamps.
    fn index_text(&mut self, text: &str) {
        let lower = text.to_lowercase();
        for tok in lower.split(is_token_delim).filter(|t| !t.is_empty()) {
            self.tokens.insert(tok.to_string());
        }
        if !self.haystack.is_empty() {
            self.haystack.push('\n');
        }
        self.haystack.push_str(&lower);
        // Addresses, numbers and timestamps all contain a digit (IPv6 at least a colon).
        let has_digit = text.bytes().any(|b| b.is_ascii_digit());
        if !has_digit {
            if text.contains("::") {
                for m in IPV6.find_iter(text) {
                    if let Some(ip) = parse_ip(m.as_str()) {
                        self.ips.insert(ip);
                    }
                }
            }
            return;
        }
        for m in IPV4.find_iter(text) {
            if let Some(ip) = parse_ip(m.as_str()) {
                self.ips.insert(ip);
            }
        }
        for m in IPV6.find_iter(text) {
            if let Some(ip) = parse_ip(m.as_str()) {
                self.ips.insert(ip);
            }
        }
        for m in EVIDENCE_NUMBER.find_iter(text) {
            let s = m.as_str();
            if let Some(v) = parse_plain_number(s) {
                self.push_number(v);
            }
            // Lenient: "0.1,1" also holds 0.1 and 1; "10.0.0.5" holds 10, 0 and 5.
            let pieces = s.split(',').chain(s.split([',', '.']));
            for part in pieces {
                if let Ok(v) = part.parse::<f64>() {
                    self.push_number(v);
                }
            }
        }
        for ts in find_timestamps(text) {
            match ts.value {
                TimeValue::Instant { secs, .. } => {
                    self.instants.insert(secs);
                    self.days.insert(secs.div_euclid(86_400));
                }
                TimeValue::Date { day } => {
                    self.days.insert(day);
                }
                TimeValue::TimeOfDay { secs, .. } => self.times_of_day.push(secs),
            }
        }
    }

    fn has_number(&self, lo: f64, hi: f64) -> bool {
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return false;
        }
        self.numbers.range(Num(lo + 0.0)..=Num(hi + 0.0)).next().is_some()
    }

    /// Whether `needle` (lower case) occurs in the evidence between word boundaries.
    fn has_text(&self, needle: &str) -> bool {
        if needle.is_empty() {
            return false;
        }
        if self.tokens.contains(needle) {
            return true;
        }
        let hay = self.haystack.as_str();
        let mut from = 0;
        while let Some(pos) = hay[from..].find(needle) {
            let start = from + pos;
            let end = start + needle.len();
            let before_ok = hay[..start].chars().next_back().is_none_or(|c| !is_word_char(c));
            let after_ok = hay[end..].chars().next().is_none_or(|c| !is_word_char(c));
            if before_ok && after_ok {
                return true;
            }
            // Advance by one character (keeps slicing on char boundaries).
            from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
        }
        false
    }
}

/// A finite number ordered by `total_cmp` (never NaN: only finite values are stored).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Num(f64);

impl Eq for Num {}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn is_token_delim(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\''
                | '`'
                | ','
                | ';'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '<'
                | '>'
                | '|'
                | '='
        )
}

/// Characters that continue a word/identifier for boundary checks (`.` does not, so a
/// host matches its FQDN; `$` does not, so `WS1` matches the machine account `WS1$`).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

// ---------------------------------------------------------------------------------------
// Refanging with an offset map back to the original text.

struct Refanged {
    text: String,
    /// Original byte offset of every byte of `text`, plus one entry for the end.
    map: Vec<usize>,
}

impl Refanged {
    fn orig(&self, i: usize) -> usize {
        self.map.get(i).copied().unwrap_or_else(|| self.map.last().copied().unwrap_or(0))
    }
}

const DEFANGS: &[(&str, &str)] = &[
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("[:]", ":"),
    ("[://]", "://"),
    ("[@]", "@"),
    ("[at]", "@"),
    ("hxxps", "https"),
    ("hxxp", "http"),
];

fn refang(s: &str) -> Refanged {
    let mut text = String::with_capacity(s.len());
    let mut map = Vec::with_capacity(s.len() + 1);
    let bytes = s.as_bytes();
    let mut i = 0;
    'outer: while i < s.len() {
        let b = bytes[i];
        if matches!(b, b'[' | b'(' | b'{' | b'h' | b'H') {
            for (pat, rep) in DEFANGS {
                let end = i + pat.len();
                if end <= s.len() && bytes[i..end].eq_ignore_ascii_case(pat.as_bytes()) {
                    // `hxxp` only at a word start.
                    if pat.starts_with('h')
                        && s[..i].chars().next_back().is_some_and(char::is_alphanumeric)
                    {
                        continue;
                    }
                    for _ in 0..rep.len() {
                        map.push(i);
                    }
                    text.push_str(rep);
                    i = end;
                    continue 'outer;
                }
            }
        }
        let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
        text.push_str(&s[i..i + ch_len]);
        map.extend(std::iter::repeat_n(i, ch_len));
        i += ch_len;
    }
    map.push(s.len());
    Refanged { text, map }
}

// ---------------------------------------------------------------------------------------
// Patterns. Boundaries the regex crate cannot express (no look-behind) are checked by hand.

fn re(pattern: &str) -> Regex {
    // The patterns are constants: a failure here is a bug caught by every test.
    Regex::new(pattern).expect("static guard regex")
}

static CITATION: LazyLock<Regex> =
    LazyLock::new(|| re(r"\[E([0-9]{1,6})((?:\s*[,;]\s*E?[0-9]{1,6}|\s*[-–]\s*E?[0-9]{1,6})*)\]"));
static URL: LazyLock<Regex> = LazyLock::new(|| re(r#"(?i)\b(?:https?|ftp)://[^\s<>"'`\])]+"#));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+",
    )
});
static WIN_PATH: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)\b[a-z]:\\[^\s"'<>|*?`]+|\\\\[a-z0-9._-]+\\[^\s"'<>|*?`]+"#));
static DOMAIN_USER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-Za-z0-9][A-Za-z0-9._-]{0,62}\\[A-Za-z0-9][A-Za-z0-9._$-]{0,63}"));
static GUID: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"));
static CVE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bCVE-[0-9]{4}-[0-9]{4,7}\b"));
static HASH: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b"));
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/[0-9]{1,2})?\b"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%[a-z0-9]+)?(?:/[0-9]{1,3})?")
});
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.[a-z][a-z0-9-]{0,23}\b",
    )
});
static DASH_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b\$?"));
/// Capitals then digits: `DC01`, `SRV042`, `WKS7A`.
static CAPS_DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z]{2,}[0-9]+[A-Z0-9]*\b\$?"));
/// Capitals-and-digits words that are standards, algorithms, versions or catalogue ids.
static NOT_HOSTS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:SHA|MD|AES|RC|UTF|IPV|WIN|ARM|BASE|HTTP|TLS|SSL|SMB|SMBV|NTLMV|KRB|MP|PS|DES|RSA|PKCS|IE|KB|CVE|TCP|UDP|DNS|OS|GPT|CWE|CAPEC|ISO|RFC|NIST|PCI|ECDSA|ED|CRC|FIPS|HMAC|PBKDF|SP|SHA3|ID|TA|DS|CIS|SOC|PE|COM|LPT|CPU|GPU|DDR|USB|MS|XP|WPA|WEP|SNMPV|OAUTH|HTML|CSS|ES|JS|PY|EC|DH|DHE|ECDHE|SSH|SSHV|SFTP|FTP|TLSV|SSLV|AD|TIER|LEVEL|PHASE|STEP|Q|H|T)[0-9]+$",
    )
});
static HOST_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:device|host|hostname|machine|computer|server|workstation|endpoint|devicename)s?\s*(?:named|called|:|=)?\s*[`'"]?([A-Za-z0-9][A-Za-z0-9_$-]{1,62})"#,
    )
});
static ID_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:incident|alert|case|ticket|event\s*id|incidentid|alertid)\s*(?:id|number|no\.?)?\s*[:#]?\s*([0-9]{1,12})\b",
    )
});
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"));
static NUMBER_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:\s?(?:[KMGT]i?B|bytes?)\b|[kKMB]\b|%)"));
static DURATION_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^[ -]?(?:ms|milliseconds?|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?|months?|years?)\b",
    )
});
static EVIDENCE_NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]+(?:[.,][0-9]+)*"));
static LIST_ORDINAL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?m)^[ \t]*(?:[#>*+-]+[ \t]*)?(?:\*\*)?[0-9]{1,3}[.)](?:\*\*)?(?:[ \t]|$)")
});

/// Well-known dashed words that look like host names.
const DASH_WORDS: &[&str] = &[
    "sha-1",
    "sha-2",
    "sha-224",
    "sha-256",
    "sha-384",
    "sha-512",
    "sha-3",
    "utf-8",
    "utf-16",
    "utf-32",
    "x86-64",
    "aes-128",
    "aes-256",
    "rc4-hmac",
    "hmac-sha256",
    "hmac-sha1",
    "base-64",
    "covid-19",
    "wi-fi",
    "e-mail",
    "tls-1",
    "ipv4",
    "ipv6",
    "md-5",
    "ssl-3",
    "http-2",
    "x-509",
    "rsa-2048",
    "rsa-4096",
    "p-256",
    "p-384",
];

/// Words a product version follows ("Windows 10", "TLS 1.2", "version 3").
const VERSION_WORDS: &[&str] = &[
    "windows",
    "server",
    "tls",
    "ssl",
    "smb",
    "smbv",
    "http",
    "ntlm",
    "ntlmv",
    "office",
    "exchange",
    "sql",
    "powershell",
    "python",
    "ios",
    "android",
    "macos",
    "ubuntu",
    "rhel",
    "debian",
    "version",
    "ver",
    "v",
    "iis",
    "net",
    "kerberos",
    "snmp",
    "snmpv",
    "oauth",
    "java",
    "chrome",
    "edge",
    "firefox",
    "ie",
    "outlook",
    "teams",
    "win",
    "sha",
    "md",
];

/// Words that follow "host"/"device" without being a name.
const NOT_NAMES: &[&str] = &[
    "is",
    "was",
    "were",
    "has",
    "had",
    "and",
    "or",
    "the",
    "that",
    "which",
    "with",
    "in",
    "on",
    "of",
    "to",
    "for",
    "from",
    "by",
    "as",
    "at",
    "it",
    "its",
    "a",
    "an",
    "be",
    "been",
    "are",
    "not",
    "also",
    "then",
    "id",
    "ids",
    "name",
    "names",
    "isolation",
    "list",
    "inventory",
];

const FILE_EXTS: &[&str] = &[
    "exe", "dll", "ps1", "psm1", "bat", "cmd", "vbs", "vbe", "js", "jse", "hta", "lnk", "zip",
    "rar", "7z", "iso", "img", "docx", "docm", "xlsx", "xlsm", "xls", "doc", "pdf", "msi", "sys",
    "scr", "jar", "py", "sh", "txt", "csv", "log", "tmp", "dat", "bin", "elf", "so", "apk", "one",
    "wsf", "cpl", "ocx", "pif", "reg", "inf", "evtx", "json", "xml", "html", "htm",
];

/// Dotted abbreviations the domain pattern would otherwise take for names.
const NOT_DOMAINS: &[&str] = &["e.g", "i.e", "etc", "vs", "a.m", "p.m", "u.s", "n.b"];

// ---------------------------------------------------------------------------------------
// Timestamps.

#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeValue {
    /// An instant and the precision written (1 = seconds, 60 = minutes).
    Instant { secs: i64, precision: i64 },
    /// A date alone (days since the epoch).
    Date { day: i64 },
    /// A time of day alone (seconds since midnight) and its precision.
    TimeOfDay { secs: i64, precision: i64 },
}

struct FoundTime {
    span: std::ops::Range<usize>,
    /// Alternatives (an ambiguous `05/01/2024` is 1 May or 5 January).
    value: TimeValue,
    alt: Option<TimeValue>,
}

static ISO_TS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]+)?)?(\s?(?:z|utc|gmt)\b|[+-][0-9]{2}:?[0-9]{2}|z)?)?",
    )
});
static SLASH_TS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?:,?\s+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?(\s?(?:[ap]m\b|[ap]\.m\.))?(\s?(?:z|utc|gmt)\b)?)?",
    )
});
static MONTH_TS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?|([0-9]{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?),?\s+([0-9]{4})(?:,?\s+(?:at\s+)?([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(\s?(?:[ap]m\b|[ap]\.m\.))?(\s?(?:z|utc|gmt)\b)?)?",
    )
});
static TIME_OF_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?(\s?(?:[ap]m\b|[ap]\.m\.))?(\s?(?:z|utc|gmt)\b)?",
    )
});

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d > dim[(m - 1) as usize] {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn num(c: Option<regex::Match<'_>>) -> Option<i64> {
    c.and_then(|m| m.as_str().parse().ok())
}

fn month_index(name: &str) -> Option<i64> {
    let m = name.get(..3)?.to_ascii_lowercase();
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        .iter()
        .position(|x| *x == m)
        .map(|i| i as i64 + 1)
}

/// Seconds since midnight from hour/minute/second/AM-PM; `None` when out of range.
fn clock(h: i64, mi: i64, s: Option<i64>, ampm: Option<&str>) -> Option<(i64, i64)> {
    let mut h = h;
    if let Some(ap) = ampm {
        let pm = ap.trim().to_ascii_lowercase().starts_with('p');
        if !(1..=12).contains(&h) {
            return None;
        }
        h = match (pm, h) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    if !(0..=23).contains(&h) || !(0..=59).contains(&mi) || !(0..=60).contains(&s.unwrap_or(0)) {
        return None;
    }
    Some((h * 3600 + mi * 60 + s.unwrap_or(0), if s.is_some() { 1 } else { 60 }))
}

/// Offset in seconds of `Z`, `UTC`, `+02:00`, `-0500`.
fn zone_offset(z: Option<&str>) -> i64 {
    let Some(z) = z.map(str::trim) else { return 0 };
    let sign = match z.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return 0,
    };
    let digits: String = z.chars().filter(char::is_ascii_digit).collect();
    let h: i64 = digits.get(..2).and_then(|x| x.parse().ok()).unwrap_or(0);
    let m: i64 = digits.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
    sign * (h * 3600 + m * 60)
}

fn make(day: Option<i64>, tod: Option<(i64, i64)>, zone: i64) -> Option<TimeValue> {
    let day = day?;
    Some(match tod {
        Some((secs, precision)) => {
            TimeValue::Instant { secs: day * 86_400 + secs - zone, precision }
        }
        None => TimeValue::Date { day },
    })
}

/// Every timestamp in `text` (non-overlapping, first pattern wins).
fn find_timestamps(text: &str) -> Vec<FoundTime> {
    let mut out: Vec<FoundTime> = Vec::new();
    let mut taken = Taken::default();
    // Capturing regexes are the slow part of indexing: skip those that cannot match.
    let bytes = text.as_bytes();
    let (dash, slash, colon) =
        (bytes.contains(&b'-'), bytes.contains(&b'/'), bytes.contains(&b':'));
    let letters = bytes.iter().any(u8::is_ascii_alphabetic);
    let iso = if dash { Some(ISO_TS.captures_iter(text)) } else { None };
    for c in iso.into_iter().flatten() {
        let Some(m) = c.get(0) else { continue };
        let day = days_from_civil(
            num(c.get(1)).unwrap_or(0),
            num(c.get(2)).unwrap_or(0),
            num(c.get(3)).unwrap_or(0),
        );
        let tod = match (num(c.get(4)), num(c.get(5))) {
            (Some(h), Some(mi)) => clock(h, mi, num(c.get(6)), None),
            _ => None,
        };
        if let Some(value) = make(day, tod, zone_offset(c.get(7).map(|z| z.as_str()))) {
            taken.insert(&m.range());
            out.push(FoundTime { span: m.range(), value, alt: None });
        }
    }
    let slashed = if slash { Some(SLASH_TS.captures_iter(text)) } else { None };
    for c in slashed.into_iter().flatten() {
        let Some(m) = c.get(0) else { continue };
        if taken.overlaps(&m.range()) {
            continue;
        }
        let (a, b, y) =
            (num(c.get(1)).unwrap_or(0), num(c.get(2)).unwrap_or(0), num(c.get(3)).unwrap_or(0));
        let tod = match (num(c.get(4)), num(c.get(5))) {
            (Some(h), Some(mi)) => clock(h, mi, num(c.get(6)), c.get(7).map(|x| x.as_str())),
            _ => None,
        };
        // Month/day first (US, and what .NET's invariant culture prints), day/month second.
        let us = make(days_from_civil(y, a, b), tod, 0);
        let eu = make(days_from_civil(y, b, a), tod, 0);
        let (value, alt) = match (us, eu) {
            (Some(v), alt) => (v, alt.filter(|a| *a != v)),
            (None, Some(v)) => (v, None),
            (None, None) => continue,
        };
        taken.insert(&m.range());
        out.push(FoundTime { span: m.range(), value, alt });
    }
    let named = if letters { Some(MONTH_TS.captures_iter(text)) } else { None };
    for c in named.into_iter().flatten() {
        let Some(m) = c.get(0) else { continue };
        if taken.overlaps(&m.range()) {
            continue;
        }
        let month = c.get(1).or(c.get(4)).and_then(|x| month_index(x.as_str()));
        let d = num(c.get(2)).or(num(c.get(3)));
        let y = num(c.get(5));
        let day = match (y, month, d) {
            (Some(y), Some(mo), Some(d)) => days_from_civil(y, mo, d),
            _ => None,
        };
        let tod = match (num(c.get(6)), num(c.get(7))) {
            (Some(h), Some(mi)) => clock(h, mi, num(c.get(8)), c.get(9).map(|x| x.as_str())),
            _ => None,
        };
        if let Some(value) = make(day, tod, 0) {
            taken.insert(&m.range());
            out.push(FoundTime { span: m.range(), value, alt: None });
        }
    }
    let clocks = if colon { Some(TIME_OF_DAY.captures_iter(text)) } else { None };
    for c in clocks.into_iter().flatten() {
        let Some(m) = c.get(0) else { continue };
        if taken.overlaps(&m.range()) {
            continue;
        }
        // Not part of a longer run of digits and colons (an IPv6 address, a MAC, a ratio).
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(|c| c == ':' || c.is_ascii_alphanumeric())
            || after.is_some_and(|c| c == ':' || c.is_ascii_alphanumeric())
        {
            continue;
        }
        let (Some(h), Some(mi)) = (num(c.get(1)), num(c.get(2))) else { continue };
        if let Some((secs, precision)) = clock(h, mi, num(c.get(3)), c.get(4).map(|x| x.as_str())) {
            taken.insert(&m.range());
            out.push(FoundTime {
                span: m.range(),
                value: TimeValue::TimeOfDay { secs, precision },
                alt: None,
            });
        }
    }
    out.sort_by_key(|f| f.span.start);
    out
}

// ---------------------------------------------------------------------------------------
// Numbers.

/// `1,234.5` → 1234.5 (thousands separators only in groups of three).
fn parse_plain_number(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() > 1
        && !parts[1..].iter().all(|p| p.split('.').next().is_some_and(|g| g.len() == 3))
    {
        return None;
    }
    s.replace(',', "").parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Value bounds a written number allows: exact for plain numbers, ± half the last written
/// digit for scaled ones (`1.2k` is 1150..1250), in both bases for byte units.
fn number_ranges(digits: &str, suffix: &str) -> Vec<(f64, f64)> {
    let Some(v) = parse_plain_number(digits) else { return Vec::new() };
    let suffix = suffix.trim();
    let decimals = digits.split('.').nth(1).map_or(0, str::len) as i32;
    let half_ulp = 0.5 * 10f64.powi(-decimals);
    let scaled = |mult: f64| (((v - half_ulp) * mult), ((v + half_ulp) * mult));
    let lower = suffix.to_ascii_lowercase();
    match lower.as_str() {
        "" | "%" | "b" if suffix != "B" => vec![(v, v)],
        "bytes" | "byte" => vec![(v, v)],
        "k" => vec![scaled(1e3)],
        "m" => vec![scaled(1e6)],
        "b" => vec![(v, v), scaled(1e9)],
        "kb" | "kib" => vec![scaled(1e3), scaled(1024.0)],
        "mb" | "mib" => vec![scaled(1e6), scaled(1024.0 * 1024.0)],
        "gb" | "gib" => vec![scaled(1e9), scaled(1024f64.powi(3))],
        "tb" | "tib" => vec![scaled(1e12), scaled(1024f64.powi(4))],
        _ => vec![(v, v)],
    }
}

// ---------------------------------------------------------------------------------------
// Extraction.

struct Candidate {
    kind: ClaimKind,
    /// Range in the refanged text.
    range: std::ops::Range<usize>,
    /// Lower-cased comparison value.
    value: String,
    /// Extra payload: numeric ranges, time values, cited items, IP.
    detail: Detail,
}

enum Detail {
    None,
    Ip(IpAddr),
    Numbers(Vec<(f64, f64)>),
    Time(TimeValue, Option<TimeValue>),
    Cited(Vec<usize>),
    IdNumber(f64),
    Account { domain: String, user: String },
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.split('/').next()?;
    let s = s.split('%').next()?;
    s.parse::<IpAddr>().ok()
}

/// Disjoint covered byte ranges (first extractor wins), keyed by start.
#[derive(Default)]
struct Taken(std::collections::BTreeMap<usize, usize>);

impl Taken {
    /// Whether `r` overlaps a taken range. The ranges are disjoint, so only the last one
    /// starting before `r.end` can overlap.
    fn overlaps(&self, r: &std::ops::Range<usize>) -> bool {
        self.0.range(..r.end).next_back().is_some_and(|(_, &end)| end > r.start)
    }
    fn insert(&mut self, r: &std::ops::Range<usize>) {
        self.0.insert(r.start, r.end);
    }
}

fn extract(text: &str) -> Vec<Candidate> {
    let mut taken = Taken::default();
    let mut out = Vec::new();
    let push = |taken: &mut Taken, out: &mut Vec<Candidate>, c: Candidate| {
        if c.range.is_empty() || taken.overlaps(&c.range) {
            return false;
        }
        // A name glued to more name characters ("abc-12--x", "evil.com-x") is a fragment of
        // a longer token: looking it up would apply different boundaries than the evidence.
        if !matches!(
            c.kind,
            ClaimKind::Number | ClaimKind::Ip | ClaimKind::Timestamp | ClaimKind::Citation
        ) {
            let before = text[..c.range.start].chars().next_back();
            let after = text[c.range.end..].chars().next();
            if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
                return false;
            }
        }
        taken.insert(&c.range);
        out.push(c);
        true
    };
    let lower_of = |r: &std::ops::Range<usize>| text[r.clone()].to_lowercase();

    for c in CITATION.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        let mut items = Vec::new();
        let first: usize = c.get(1).and_then(|x| x.as_str().parse().ok()).unwrap_or(0);
        items.push(first);
        if let Some(rest) = c.get(2) {
            let rest = rest.as_str();
            let is_range = rest.trim_start().starts_with(['-', '–']);
            let nums: Vec<usize> = rest
                .split(|ch: char| !ch.is_ascii_digit())
                .filter_map(|x| x.parse().ok())
                .collect();
            if is_range && nums.len() == 1 {
                // [E2–E5]: the ends are what can be missing; don't expand huge ranges.
                items.push(nums[0]);
            } else {
                items.extend(nums);
            }
        }
        push(
            &mut taken,
            &mut out,
            Candidate {
                kind: ClaimKind::Citation,
                range: m.range(),
                value: m.as_str().to_string(),
                detail: Detail::Cited(items),
            },
        );
    }
    for m in URL.find_iter(text) {
        // Trailing sentence punctuation is not part of the URL.
        let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        let range = m.start()..m.start() + trimmed.len();
        let value = lower_of(&range).trim_end_matches('/').to_string();
        push(
            &mut taken,
            &mut out,
            Candidate { kind: ClaimKind::Url, range, value, detail: Detail::None },
        );
    }
    for m in EMAIL.find_iter(text) {
        let range = m.range();
        let value = lower_of(&range);
        push(
            &mut taken,
            &mut out,
            Candidate { kind: ClaimKind::Account, range, value, detail: Detail::None },
        );
    }
    for m in WIN_PATH.find_iter(text) {
        let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        let range = m.start()..m.start() + trimmed.len();
        let value = lower_of(&range);
        push(
            &mut taken,
            &mut out,
            Candidate { kind: ClaimKind::Path, range, value, detail: Detail::None },
        );
    }
    for found in find_timestamps(text) {
        // A time of day alone is checked after ids and numbers took nothing from it.
        let value = text[found.span.clone()].to_lowercase();
        push(
            &mut taken,
            &mut out,
            Candidate {
                kind: ClaimKind::Timestamp,
                range: found.span,
                value,
                detail: Detail::Time(found.value, found.alt),
            },
        );
    }
    for m in DOMAIN_USER.find_iter(text) {
        if text[..m.start()].ends_with(['\\', ':']) {
            continue;
        }
        let s = m.as_str().trim_end_matches('.');
        let range = m.start()..m.start() + s.len();
        let value = lower_of(&range);
        let (domain, user) = value.split_once('\\').unwrap_or(("", &value));
        let detail = Detail::Account { domain: domain.to_string(), user: user.to_string() };
        push(
            &mut taken,
            &mut out,
            Candidate { kind: ClaimKind::Account, range, value: value.clone(), detail },
        );
    }
    for m in GUID.find_iter(text) {
        let range = m.range();
        let value = lower_of(&range);
        push(
            &mut taken,
            &mut out,
            Candidate { kind: ClaimKind::Id, range, value, detail: Detail::None },
        );
    }
    for m in CVE.find_iter(text) {
        let range = m.range();
        let value = lower_of(&range);
        push(
            &mut taken,
            &mut out,
            Candidate { kind: ClaimKind::Cve, range, value, detail: Detail::None },
        );
    }
    for m in HASH.find_iter(text) {
        // All-decimal runs of 32+ digits are numbers, not hashes.
        if m.as_str().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let range = m.range();
        let value = lower_of(&range);
        push(
            &mut taken,
            &mut out,
            Candidate { kind: ClaimKind::Hash, range, value, detail: Detail::None },
        );
    }
    for m in IPV4.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(|c| c == '.')
            || after.is_some_and(|c| {
                c == '.' && text[m.end()..].chars().nth(1).is_some_and(|d| d.is_ascii_digit())
            })
        {
            continue;
        }
        if let Some(ip) = parse_ip(m.as_str()) {
            let range = m.range();
            push(
                &mut taken,
                &mut out,
                Candidate {
                    kind: ClaimKind::Ip,
                    range,
                    value: ip.to_string(),
                    detail: Detail::Ip(ip),
                },
            );
        }
    }
    for m in IPV6.find_iter(text) {
        let s = m.as_str();
        if s.matches(':').count() < 2 || !s.bytes().any(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let before = text[..m.start()].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        if let Some(ip @ IpAddr::V6(_)) = parse_ip(s) {
            push(
                &mut taken,
                &mut out,
                Candidate {
                    kind: ClaimKind::Ip,
                    range: m.range(),
                    value: ip.to_string(),
                    detail: Detail::Ip(ip),
                },
            );
        }
    }
    for m in DOMAIN.find_iter(text) {
        let s = m.as_str();
        let lower = s.to_lowercase();
        if NOT_DOMAINS.contains(&lower.as_str()) {
            continue;
        }
        // Part of a longer dotted run (a version `1.2.3`, an IP) or a path: skip.
        let before = text[..m.start()].chars().next_back();
        if before.is_some_and(|c| c == '.' || c == '\\' || c == '/' || c == '@') {
            continue;
        }
        let tld = lower.rsplit('.').next().unwrap_or("");
        let kind = if FILE_EXTS.contains(&tld) { ClaimKind::File } else { ClaimKind::Domain };
        // Sentence-joined words ("done.Next") are rare; require a lower-case or known TLD
        // shape: letters only, 2+ chars.
        if kind == ClaimKind::Domain
            && (tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_lowercase()))
        {
            continue;
        }
        // A capitalised word after a period without a space ("end.The") is not a domain.
        if kind == ClaimKind::Domain
            && s.rsplit('.').next().is_some_and(|t| {
                t.chars().next().is_some_and(char::is_uppercase)
                    && t.chars().skip(1).all(char::is_lowercase)
            })
        {
            continue;
        }
        push(
            &mut taken,
            &mut out,
            Candidate { kind, range: m.range(), value: lower, detail: Detail::None },
        );
    }
    for c in ID_CONTEXT.captures_iter(text) {
        let (Some(m), Some(n)) = (c.get(0), c.get(1)) else { continue };
        let Ok(v) = n.as_str().parse::<f64>() else { continue };
        push(
            &mut taken,
            &mut out,
            Candidate {
                kind: ClaimKind::Id,
                range: m.range(),
                value: n.as_str().to_string(),
                detail: Detail::IdNumber(v),
            },
        );
    }
    for m in DASH_NAME.find_iter(text) {
        let s = m.as_str();
        let lower = s.to_lowercase();
        let bare = lower.trim_end_matches('$');
        if DASH_WORDS.contains(&bare) {
            continue;
        }
        let has_digit = s.bytes().any(|b| b.is_ascii_digit());
        let has_letter = s.bytes().any(|b| b.is_ascii_alphabetic());
        let all_caps = s.bytes().filter(u8::is_ascii_alphabetic).all(|b| b.is_ascii_uppercase());
        let letters = s.bytes().filter(u8::is_ascii_alphabetic).count();
        if !has_letter || !(has_digit || (all_caps && letters >= 3)) {
            continue;
        }
        // "64-bit", "24-hour", "2-factor": a figure with a word, not a name.
        if s.split('-').next().is_some_and(|first| first.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        push(
            &mut taken,
            &mut out,
            Candidate {
                kind: ClaimKind::Host,
                range: m.range(),
                value: bare.to_string(),
                detail: Detail::None,
            },
        );
    }
    for m in CAPS_DIGITS.find_iter(text) {
        let name = m.as_str().trim_end_matches('$');
        // Two letters and one digit ("AB1") reads as a code, not a name; "SRV1" and "DC01"
        // are names.
        let letters = name.bytes().take_while(u8::is_ascii_uppercase).count();
        let digits = name.bytes().filter(u8::is_ascii_digit).count();
        if NOT_HOSTS.is_match(name) || (letters < 3 && digits < 2) {
            continue;
        }
        push(
            &mut taken,
            &mut out,
            Candidate {
                kind: ClaimKind::Host,
                range: m.start()..m.start() + name.len(),
                value: name.to_lowercase(),
                detail: Detail::None,
            },
        );
    }
    for c in HOST_CONTEXT.captures_iter(text) {
        let Some(name) = c.get(1) else { continue };
        let s = name.as_str().trim_end_matches(['-', '_']);
        let lower = s.to_lowercase();
        if NOT_NAMES.contains(&lower.as_str()) || !s.bytes().any(|b| b.is_ascii_alphabetic()) {
            continue;
        }
        // Name-like: a digit, an inner capital, all capitals, or a separator.
        let name_like =
            s.bytes().any(|b| b.is_ascii_digit() || b == b'_' || b == b'-' || b == b'$')
                || (s.len() >= 2
                    && s.bytes().filter(u8::is_ascii_alphabetic).all(|b| b.is_ascii_uppercase()))
                || s.chars().skip(1).any(char::is_uppercase);
        if !name_like {
            continue;
        }
        let range = name.start()..name.start() + s.len();
        push(
            &mut taken,
            &mut out,
            Candidate {
                kind: ClaimKind::Host,
                range,
                value: lower.trim_end_matches('$').to_string(),
                detail: Detail::None,
            },
        );
    }
    // Numbers last: whatever is left standing alone.
    let ordinals: Vec<std::ops::Range<usize>> =
        LIST_ORDINAL.find_iter(text).map(|m| m.range()).collect();
    for m in NUMBER.find_iter(text) {
        let range = m.range();
        // Ordinal matches are disjoint and sorted: only the last one starting at or before
        // this number can contain it.
        let i = ordinals.partition_point(|o| o.start <= range.start);
        if i > 0 && ordinals[i - 1].end >= range.end {
            continue;
        }
        let before = text[..range.start].chars().next_back();
        if before.is_some_and(|c| {
            c.is_alphanumeric()
                || matches!(c, '_' | '.' | '-' | '/' | '\\' | ':' | '#' | '@' | '$' | ',' | 'v')
        }) {
            // Keep "-" as a boundary after a space ("range 5 - 7") but not inside names.
            if !(before == Some('-')
                && text[..range.start].chars().rev().nth(1).is_none_or(char::is_whitespace))
            {
                continue;
            }
        }
        let rest = &text[range.end..];
        let suffix = NUMBER_SUFFIX.find(rest).map_or("", |s| s.as_str());
        let after = rest[suffix.len()..].chars().next();
        if suffix.is_empty() {
            if after
                .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '\\' | '/'))
            {
                continue;
            }
            if after == Some('.') && rest.chars().nth(1).is_some_and(|c| c.is_ascii_alphanumeric())
            {
                continue;
            }
        }
        let s = m.as_str();
        // Durations ("the next 24 hours") and product versions ("Windows 10", "TLS 1.2")
        // are not claims about the evidence.
        if suffix.is_empty() && DURATION_UNIT.is_match(rest) {
            continue;
        }
        let word_before = text[..range.start].trim_end_matches(' ');
        let word_before = &word_before[word_before
            .rfind(|c: char| !c.is_alphanumeric())
            .map_or(0, |i| i + word_before[i..].chars().next().map_or(1, char::len_utf8))..];
        if word_before.len() < range.start
            && VERSION_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word_before))
        {
            continue;
        }
        // Years alone are context, not claims.
        if suffix.is_empty()
            && s.len() == 4
            && s.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y))
        {
            continue;
        }
        let ranges = number_ranges(s, suffix);
        if ranges.is_empty() {
            continue;
        }
        let full = range.start..range.end + suffix.len();
        push(
            &mut taken,
            &mut out,
            Candidate {
                kind: ClaimKind::Number,
                range: full,
                value: text[range.start..range.end + suffix.len()].to_lowercase(),
                detail: Detail::Numbers(ranges),
            },
        );
    }
    out.sort_by_key(|c| c.range.start);
    out
}

fn time_supported(ev: &EvidenceIndex, v: TimeValue) -> bool {
    match v {
        TimeValue::Instant { secs, precision } => {
            let lo = secs.div_euclid(precision) * precision;
            ev.instants.range(lo..lo.saturating_add(precision.max(1))).next().is_some()
        }
        TimeValue::Date { day } => ev.days.contains(&day),
        TimeValue::TimeOfDay { secs, precision } => {
            let lo = secs.div_euclid(precision) * precision;
            let within = |tod: i64| tod >= lo && tod < lo + precision;
            ev.instants.iter().any(|&t| within(t.rem_euclid(86_400)))
                || ev.times_of_day.iter().any(|&t| within(t))
        }
    }
}

fn supported(ev: &EvidenceIndex, c: &Candidate) -> bool {
    match &c.detail {
        Detail::Ip(ip) => ev.ips.contains(ip),
        Detail::Numbers(ranges) => ranges.iter().any(|&(lo, hi)| {
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            ev.has_number(lo, hi) || ev.counts.iter().any(|&n| (n as f64) >= lo && (n as f64) <= hi)
        }),
        Detail::Time(v, alt) => {
            time_supported(ev, *v) || alt.is_some_and(|a| time_supported(ev, a))
        }
        Detail::Cited(items) => items.iter().all(|&i| i >= 1 && i <= ev.items),
        Detail::IdNumber(v) => ev.has_number(*v, *v) || ev.has_text(&c.value),
        Detail::Account { domain, user } => {
            ev.has_text(&c.value)
                || (!domain.is_empty() && ev.has_text(domain) && ev.has_text(user))
        }
        Detail::None => {
            if ev.has_text(&c.value) {
                return true;
            }
            match c.kind {
                // A URL is supported by the same URL with a trailing slash or without scheme.
                ClaimKind::Url => c
                    .value
                    .split_once("://")
                    .is_some_and(|(_, rest)| ev.has_text(rest) || ev.haystack.contains(&c.value)),
                // A host written bare matches an FQDN's first label (handled by boundaries)
                // and a file name matches inside a path.
                ClaimKind::File => {
                    ev.haystack.contains(&format!("\\{}", c.value))
                        || ev.haystack.contains(&format!("/{}", c.value))
                }
                _ => false,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sentences and rewriting.

/// Statement ranges (in the original answer): sentences within lines; a table row is one
/// statement, and so is a whole fenced code block (a query with an invented value goes as a
/// whole rather than as a broken query).
fn statements(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut fence: Option<usize> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        if trimmed.starts_with("```") {
            match fence.take() {
                Some(open) => out.push(open..start + body.len()),
                None => fence = Some(start),
            }
            continue;
        }
        if fence.is_some() || body.trim().is_empty() {
            continue;
        }
        if trimmed.starts_with('|') {
            out.push(start..start + body.len());
            continue;
        }
        let mut s = start;
        let mut chars = body.char_indices().peekable();
        while let Some((i, ch)) = chars.next() {
            if matches!(ch, '.' | '!' | '?')
                && let Some(&(j, next)) = chars.peek()
                && next.is_whitespace()
            {
                let end = start + i + ch.len_utf8();
                if !text[s..end].trim().is_empty() {
                    out.push(s..end);
                }
                s = start + j;
            }
        }
        if !text[s..start + body.len()].trim().is_empty() {
            out.push(s..start + body.len());
        }
    }
    if let Some(open) = fence {
        out.push(open..text.trim_end().len().max(open));
    }
    out
}

/// Checks `answer` against `evidence` with [`GuardPolicy::Remove`].
pub fn check(answer: &str, evidence: &EvidenceIndex) -> GuardReport {
    check_with(answer, evidence, GuardPolicy::Remove)
}

/// Checks `answer` against `evidence` with the given policy.
pub fn check_with(answer: &str, evidence: &EvidenceIndex, policy: GuardPolicy) -> GuardReport {
    let ev = evidence;
    let refanged = refang(answer);
    let candidates = extract(&refanged.text);
    let mut claims = Vec::with_capacity(candidates.len());
    // Answers repeat their facts; each distinct one is looked up once.
    let mut cache: std::collections::HashMap<(ClaimKind, String), bool> =
        std::collections::HashMap::new();
    for c in &candidates {
        let key = (c.kind, c.value.clone());
        let ok = match cache.get(&key) {
            Some(&ok) => ok,
            None => {
                let ok = supported(ev, c);
                cache.insert(key, ok);
                ok
            }
        };
        let span = refanged.orig(c.range.start)..refanged.orig(c.range.end);
        let text = answer.get(span.clone()).unwrap_or_default().to_string();
        claims.push(Claim { kind: c.kind, text, span, supported: ok });
    }
    let bad: Vec<&Claim> = claims.iter().filter(|c| !c.supported).collect();
    let stmts = statements(answer);
    if bad.is_empty() {
        return GuardReport {
            text: answer.to_string(),
            kept_statements: stmts.len(),
            claims,
            removed_statements: 0,
            note: None,
        };
    }
    let mut names: Vec<String> = Vec::new();
    let mut named = HashSet::new();
    for c in &bad {
        let d = c.describe();
        if named.insert(d.clone()) {
            names.push(d);
        }
    }
    let (text, removed, kept, note) = match policy {
        GuardPolicy::Flag => {
            let mut out = String::with_capacity(answer.len() + bad.len() * 14);
            let mut last = 0;
            for c in &bad {
                // Spans are disjoint and in order; `get` keeps a surprise from panicking.
                if let Some(piece) = answer.get(last..c.span.end) {
                    out.push_str(piece);
                    out.push_str(" [unsupported]");
                    last = c.span.end;
                }
            }
            out.push_str(answer.get(last..).unwrap_or_default());
            let note = format!(
                "Flagged {} claim{} not supported by the evidence: {}.",
                bad.len(),
                plural(bad.len()),
                names.join(", ")
            );
            (out, 0, stmts.len(), note)
        }
        GuardPolicy::Remove => {
            // Bogus citations are cut out by themselves; other claims take their sentence.
            // Statements and claims are both in answer order: binary search, no quadratic scan.
            let containing = |span: &std::ops::Range<usize>| {
                let i = stmts.partition_point(|st| st.start <= span.start);
                (i > 0 && stmts[i - 1].end >= span.end).then(|| i - 1)
            };
            let mut hit = vec![false; stmts.len()];
            let mut loose: Vec<std::ops::Range<usize>> = Vec::new();
            for c in bad.iter().filter(|c| c.kind != ClaimKind::Citation) {
                match containing(&c.span) {
                    Some(i) => hit[i] = true,
                    // Outside any statement (a code fence marker line, say): the claim alone.
                    None => loose.push(c.span.clone()),
                }
            }
            let removed = hit.iter().filter(|&&h| h).count();
            let mut drop_ranges: Vec<std::ops::Range<usize>> =
                stmts.iter().zip(&hit).filter(|&(_, &h)| h).map(|(st, _)| st.clone()).collect();
            drop_ranges.extend(loose);
            for c in bad.iter().filter(|c| c.kind == ClaimKind::Citation) {
                if containing(&c.span).is_none_or(|i| !hit[i]) {
                    // Take the space before the citation with it ("seen [E5]." → "seen.").
                    let before = &answer[..c.span.start];
                    let start = before.trim_end_matches([' ', '\t']).len();
                    drop_ranges.push(start..c.span.end);
                }
            }
            drop_ranges.sort_by_key(|r| r.start);
            let out = rebuild(answer, &drop_ranges);
            let note = if removed > 0 {
                format!(
                    "Removed {removed} statement{} not supported by the evidence: {}.",
                    plural(removed),
                    names.join(", ")
                )
            } else {
                format!("Removed citations of evidence that does not exist: {}.", names.join(", "))
            };
            (out, removed, stmts.len().saturating_sub(removed), note)
        }
    };
    let text = if text.trim().is_empty() {
        note.clone()
    } else {
        format!("{}\n\n{note}", text.trim_end())
    };
    GuardReport {
        text,
        claims,
        removed_statements: removed,
        kept_statements: kept,
        note: Some(note),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The answer without `drop` ranges (sorted). A line that lost something and has nothing
/// left but list markers or whitespace disappears; spaces left doubled close up.
fn rebuild(answer: &str, drop: &[std::ops::Range<usize>]) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut line_start = 0;
    let mut first = 0;
    for line in answer.split_inclusive('\n') {
        let start = line_start;
        let end = start + line.len();
        line_start = end;
        // `drop` is sorted by start; ranges ending before this line are done with.
        while first < drop.len() && drop[first].end <= start {
            first += 1;
        }
        let touching: Vec<&std::ops::Range<usize>> =
            drop[first..].iter().take_while(|r| r.start < end).filter(|r| r.end > start).collect();
        if touching.is_empty() {
            out.push_str(line);
            continue;
        }
        let mut kept = String::with_capacity(line.len());
        let mut pos = start;
        for r in touching {
            let from = r.start.clamp(pos, end);
            kept.push_str(answer.get(pos..from).unwrap_or_default());
            pos = r.end.clamp(pos, end);
        }
        kept.push_str(answer.get(pos..end).unwrap_or_default());
        let newline = kept.ends_with('\n');
        let body = kept.trim_end_matches(['\n', '\r']);
        let content = body
            .trim()
            .trim_start_matches(['-', '*', '+', '>', '#', '|', ' '])
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(['.', ')'])
            .trim();
        if content.is_empty() {
            continue;
        }
        // Keep the original line's indentation; drop spaces a removed first sentence left.
        let original = line.trim_end_matches(['\n', '\r']);
        let indent = original.len() - original.trim_start().len();
        out.push_str(&original[..indent]);
        let mut prev_space = false;
        for ch in body.trim().chars() {
            if ch == ' ' && prev_space {
                continue;
            }
            prev_space = ch == ' ';
            out.push(ch);
        }
        if newline {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refang_keeps_offsets() {
        let r = refang("see hxxps://evil[.]com/x and 10[.]0[.]0[.]1 or a[@]b.io");
        assert_eq!(r.text, "see https://evil.com/x and 10.0.0.1 or a@b.io");
        let start = r.text.find("10.0").unwrap();
        assert_eq!(r.orig(start), "see hxxps://evil[.]com/x and ".len());
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(2024, 2, 29), Some(19_782));
    }

    #[test]
    fn number_shapes() {
        assert_eq!(number_ranges("1,234", ""), vec![(1234.0, 1234.0)]);
        let k = number_ranges("1.2", "k");
        assert!((k[0].0 - 1150.0).abs() < 1e-6 && (k[0].1 - 1250.0).abs() < 1e-6);
        assert_eq!(parse_plain_number("1,23"), None);
    }
}
