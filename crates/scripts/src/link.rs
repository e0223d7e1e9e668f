//! Linking an analysis to the environment: for each indicator, and for the command lines the
//! script runs, the devices, accounts and events where it appears, found with KQL over the
//! tables that hold rows. Every query text is kept beside its result so the answer can show it.
//!
//! Indicator text is hostile input: it only ever reaches a query through [`kql_string`], which
//! writes a double-quoted KQL literal with every quote, backslash and control character
//! escaped, so a crafted indicator can never change a query's structure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use bulwark_kql::exec::{Engine, QueryOptions, QueryOutput};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{Analysis, IocKind};

/// Options of [`link`].
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Tables known to hold rows; `None` probes each candidate table with `T | take 1`.
    pub tables: Option<BTreeSet<String>>,
    /// Sample rows kept per hit.
    pub sample_rows: usize,
    /// Indicators searched at most (in the analysis's order).
    pub max_indicators: usize,
    /// Devices and accounts listed per hit at most.
    pub max_entities: usize,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions { tables: None, sample_rows: 3, max_indicators: 40, max_entities: 20 }
    }
}

/// One indicator found in one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The indicator (or command line) searched.
    pub indicator: String,
    /// Its kind (`url`, `ipv4`, … or `command_line`).
    pub kind: String,
    /// The table searched.
    pub table: String,
    /// The KQL that counted the matches (shown with the answer).
    pub query: String,
    /// Matching rows.
    pub rows: u64,
    /// Earliest matching time (ISO 8601), when the table has a time column.
    pub first_seen: Option<String>,
    /// Latest matching time.
    pub last_seen: Option<String>,
    /// Devices of the matching rows.
    pub devices: Vec<String>,
    /// Accounts of the matching rows.
    pub accounts: Vec<String>,
    /// The KQL that fetched the sample rows.
    pub sample_query: Option<String>,
    /// A few matching rows (key columns only).
    pub samples: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// An indicator searched without a hit, with the queries that show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotSeen {
    /// The indicator.
    pub indicator: String,
    /// Its kind.
    pub kind: String,
    /// The queries that found nothing.
    pub queries: Vec<String>,
}

/// Everything [`link`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Links {
    /// Hits: one per indicator and table with matching rows.
    pub links: Vec<Link>,
    /// Indicators searched and found nowhere.
    pub not_seen: Vec<NotSeen>,
    /// Queries run.
    pub queries: usize,
    /// Queries that failed (the rest still ran).
    pub errors: Vec<String>,
}

impl Links {
    /// Every device where some indicator was seen, with the number of hits naming it.
    pub fn devices(&self) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for l in &self.links {
            for d in &l.devices {
                *m.entry(d.as_str()).or_default() += 1;
            }
        }
        m
    }

    /// Every account where some indicator was seen, with the number of hits naming it.
    pub fn accounts(&self) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for l in &self.links {
            for a in &l.accounts {
                *m.entry(a.as_str()).or_default() += 1;
            }
        }
        m
    }
}

/// A KQL string literal holding exactly `s`: double-quoted, with quotes, backslashes and every
/// control or line-separator character escaped (the lexer ends a string at a line end).
pub fn kql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                // Every control character is in the BMP, so four hex digits always suffice.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How a column is compared with the indicator.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// Case-sensitive equality (hashes are normalised lower-case, IPs exact).
    Eq,
    /// Case-insensitive equality.
    EqCi,
    /// Whole-term match (`has`).
    Has,
    /// Case-insensitive substring.
    Contains,
}

impl Op {
    fn kql(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::EqCi => "=~",
            Op::Has => "has",
            Op::Contains => "contains",
        }
    }
}

type Spec = (&'static str, &'static [(&'static str, Op)]);

const CMD_COLS: &[(&str, Op)] =
    &[("ProcessCommandLine", Op::Contains), ("InitiatingProcessCommandLine", Op::Contains)];

/// Where each kind of indicator can appear. Columns missing from a table's schema are skipped.
fn specs(kind: &str) -> &'static [Spec] {
    match kind {
        "url" => &[
            ("DeviceNetworkEvents", &[("RemoteUrl", Op::Contains)]),
            ("DeviceFileEvents", &[("FileOriginUrl", Op::EqCi)]),
            ("EmailUrlInfo", &[("Url", Op::EqCi)]),
            ("UrlClickEvents", &[("Url", Op::EqCi)]),
            ("CommonSecurityLog", &[("RequestURL", Op::Contains)]),
            ("DeviceProcessEvents", CMD_COLS),
            ("DeviceEvents", CMD_COLS),
        ],
        "domain" => &[
            ("DeviceNetworkEvents", &[("RemoteUrl", Op::Has)]),
            ("EmailUrlInfo", &[("UrlDomain", Op::EqCi)]),
            ("UrlClickEvents", &[("Url", Op::Has)]),
            ("DnsEvents", &[("Name", Op::EqCi)]),
            ("CommonSecurityLog", &[("DestinationHostName", Op::EqCi), ("RequestURL", Op::Has)]),
            ("DeviceProcessEvents", &[("ProcessCommandLine", Op::Has)]),
            ("DeviceEvents", &[("ProcessCommandLine", Op::Has)]),
        ],
        "ipv4" | "ipv6" => &[
            ("DeviceNetworkEvents", &[("RemoteIP", Op::Eq), ("LocalIP", Op::Eq)]),
            ("DeviceLogonEvents", &[("RemoteIP", Op::Eq)]),
            ("SigninLogs", &[("IPAddress", Op::Eq)]),
            ("AADSignInEventsBeta", &[("IPAddress", Op::Eq)]),
            ("IdentityLogonEvents", &[("IPAddress", Op::Eq)]),
            ("EmailEvents", &[("SenderIPv4", Op::Eq)]),
            ("OfficeActivity", &[("ClientIP", Op::Eq)]),
            ("CommonSecurityLog", &[("DestinationIP", Op::Eq), ("SourceIP", Op::Eq)]),
            ("DeviceProcessEvents", &[("ProcessCommandLine", Op::Has)]),
        ],
        "md5" => &[
            ("DeviceProcessEvents", &[("MD5", Op::EqCi)]),
            ("DeviceFileEvents", &[("MD5", Op::EqCi)]),
            ("DeviceImageLoadEvents", &[("MD5", Op::EqCi)]),
        ],
        "sha1" => &[
            ("DeviceProcessEvents", &[("SHA1", Op::EqCi)]),
            ("DeviceFileEvents", &[("SHA1", Op::EqCi)]),
            ("DeviceImageLoadEvents", &[("SHA1", Op::EqCi)]),
            ("DeviceEvents", &[("SHA1", Op::EqCi)]),
        ],
        "sha256" => &[
            ("DeviceProcessEvents", &[("SHA256", Op::EqCi)]),
            ("DeviceFileEvents", &[("SHA256", Op::EqCi)]),
            ("DeviceImageLoadEvents", &[("SHA256", Op::EqCi)]),
            ("DeviceEvents", &[("SHA256", Op::EqCi)]),
            ("EmailAttachmentInfo", &[("SHA256", Op::EqCi)]),
        ],
        "file_path" => &[
            ("DeviceFileEvents", &[("FolderPath", Op::EqCi)]),
            (
                "DeviceProcessEvents",
                &[("FolderPath", Op::EqCi), ("ProcessCommandLine", Op::Contains)],
            ),
            ("DeviceImageLoadEvents", &[("FolderPath", Op::EqCi)]),
        ],
        "file_name" => &[
            ("DeviceFileEvents", &[("FileName", Op::EqCi)]),
            ("DeviceProcessEvents", &[("FileName", Op::EqCi)]),
            ("EmailAttachmentInfo", &[("FileName", Op::EqCi)]),
        ],
        "registry_key" => &[("DeviceRegistryEvents", &[("RegistryKey", Op::Contains)])],
        "user_agent" => &[
            ("SigninLogs", &[("UserAgent", Op::EqCi)]),
            ("OfficeActivity", &[("UserAgent", Op::EqCi)]),
            ("CommonSecurityLog", &[("RequestClientApplication", Op::EqCi)]),
        ],
        "email" => &[
            (
                "EmailEvents",
                &[("SenderFromAddress", Op::EqCi), ("RecipientEmailAddress", Op::EqCi)],
            ),
            ("SigninLogs", &[("UserPrincipalName", Op::EqCi)]),
        ],
        "named_pipe" => &[("DeviceEvents", &[("AdditionalFields", Op::Contains)])],
        "command_line" => &[
            ("DeviceProcessEvents", CMD_COLS),
            ("DeviceEvents", CMD_COLS),
            ("DeviceNetworkEvents", &[("InitiatingProcessCommandLine", Op::Contains)]),
            ("DeviceFileEvents", &[("InitiatingProcessCommandLine", Op::Contains)]),
            ("DeviceRegistryEvents", &[("InitiatingProcessCommandLine", Op::Contains)]),
            ("SecurityEvent", &[("CommandLine", Op::Contains)]),
        ],
        _ => &[],
    }
}

const DEVICE_COLS: &[&str] = &["DeviceName", "Computer", "SourceHostName"];
const ACCOUNT_COLS: &[&str] = &[
    "AccountName",
    "InitiatingProcessAccountName",
    "UserPrincipalName",
    "AccountUpn",
    "RecipientEmailAddress",
    "SourceUserName",
    "UserId",
    "Account",
];

/// Programs whose command lines are worth looking up as they are written.
const LAUNCHERS: &[&str] = &[
    "powershell",
    "pwsh",
    "cmd",
    "wscript",
    "cscript",
    "mshta",
    "rundll32",
    "regsvr32",
    "certutil",
    "bitsadmin",
    "curl",
    "wget",
    "bash",
    "python",
];

/// The indicators to search: the analysis's IOCs (plus the file name of each path) and the
/// command lines it runs.
fn indicators(a: &Analysis, options: &LinkOptions) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |v: String, k: &'static str, out: &mut Vec<(String, &'static str)>| {
        if !v.trim().is_empty() && seen.insert((v.to_ascii_lowercase(), k)) {
            out.push((v, k));
        }
    };
    for l in a.layers.iter().chain(a.payloads.iter().flat_map(|p| p.layers.iter())) {
        // A one-line layer is a command line as some process would log it.
        let whole = l.text.trim();
        if !whole.contains('\n') && (24..=4096).contains(&whole.len()) {
            push(whole.to_string(), "command_line", &mut out);
        }
        for line in l.text.lines().take(2000) {
            for cmd in launches_in(line) {
                push(cmd.to_string(), "command_line", &mut out);
            }
        }
    }
    out.truncate(8);
    for i in &a.iocs {
        if out.len() >= options.max_indicators {
            break;
        }
        let kind = i.kind.name();
        if specs(kind).is_empty() {
            continue;
        }
        let value = match i.kind {
            IocKind::Md5 | IocKind::Sha1 | IocKind::Sha256 => i.value.to_ascii_lowercase(),
            // Hives are written HKLM\… or HKEY_LOCAL_MACHINE\…: search the part after it.
            IocKind::RegistryKey => {
                i.value.split_once('\\').map_or(i.value.clone(), |(_, k)| k.to_string())
            }
            _ => i.value.clone(),
        };
        push(value, kind, &mut out);
        if i.kind == IocKind::FilePath
            && let Some(name) = i.value.rsplit(['\\', '/']).next()
            && name.contains('.')
            && name.len() >= 5
        {
            push(name.to_string(), "file_name", &mut out);
        }
    }
    out
}

/// Command lines started inside a line (`Shell "powershell.exe -enc …"`, `cmd /c …`): from
/// the program name to the end of its enclosing quote, or of the line.
fn launches_in(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let lower = line.to_ascii_lowercase();
    for name in LAUNCHERS {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(name).map(|p| p + from) {
            from = pos + name.len();
            let after = lower[from..].strip_prefix(".exe").unwrap_or(&lower[from..]);
            let word_start = pos == 0 || !lower.as_bytes()[pos - 1].is_ascii_alphanumeric();
            if !word_start || !after.starts_with([' ', '\t']) {
                continue;
            }
            // Back up over a directory (`C:\Windows\…\powershell.exe`).
            let start = lower[..pos].rfind([' ', '"', '\'', '\t', '(', '=']).map_or(0, |p| p + 1);
            let quote = lower[..start].chars().next_back().filter(|c| matches!(c, '"' | '\''));
            let end = match quote {
                Some(q) => lower[start..].find(q).map_or(line.len(), |p| p + start),
                None => line.len(),
            };
            let cmd = line[start..end].trim();
            if (24..=4096).contains(&cmd.len()) && !out.contains(&cmd) {
                out.push(cmd);
            }
            if out.len() >= 4 {
                return out;
            }
        }
    }
    out
}

/// Searches the environment for the analysis's indicators and command lines. Never fails:
/// queries that fail are listed in [`Links::errors`]. Runs the queries on a runtime of its own:
/// do not call it from inside a tokio runtime (use a blocking task there).
pub fn link(a: &Analysis, engine: &Engine, options: &LinkOptions) -> Links {
    let mut out = Links::default();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(format!("cannot start the query runtime: {e}"));
                return out;
            }
        };
    let run = |q: &str| runtime.block_on(engine.query(q, &QueryOptions::default()));
    let mut has_rows: BTreeMap<&'static str, bool> = BTreeMap::new();
    for (value, kind) in indicators(a, options) {
        let mut misses = Vec::new();
        for (table, cols) in specs(kind) {
            let Some(schema) = engine.registry().get(table) else { continue };
            let nonempty = *has_rows.entry(table).or_insert_with(|| match &options.tables {
                Some(t) => t.contains(*table),
                None => run(&format!("{table} | take 1")).is_ok_and(|o| o.row_count > 0),
            });
            if !nonempty {
                continue;
            }
            let lit = kql_string(&value);
            let preds: Vec<String> = cols
                .iter()
                .filter(|(c, _)| schema.column(c).is_some())
                .map(|(c, op)| format!("{c} {} {lit}", op.kql()))
                .collect();
            if preds.is_empty() {
                continue;
            }
            let filter = format!("{table}\n| where {}", preds.join(" or "));
            let time = schema.time_column();
            let device = DEVICE_COLS.iter().find(|c| schema.column(c).is_some());
            // Up to two account columns (the process's and its parent's user, say).
            let accounts: Vec<&str> = ACCOUNT_COLS
                .iter()
                .copied()
                .filter(|c| schema.column(c).is_some())
                .take(2)
                .collect();
            let mut aggs = vec!["Rows = count()".to_string()];
            if let Some(t) = time {
                aggs.push(format!("FirstSeen = min({t}), LastSeen = max({t})"));
            }
            let n = options.max_entities;
            if let Some(d) = device {
                aggs.push(format!("Devices = make_set({d}, {n})"));
            }
            for (k, c) in accounts.iter().enumerate() {
                aggs.push(format!("Accounts{k} = make_set({c}, {n})"));
            }
            let query = format!("{filter}\n| summarize {}", aggs.join(", "));
            out.queries += 1;
            let summary = match run(&query) {
                Ok(o) => o,
                Err(e) => {
                    out.errors.push(format!("{table}: {e}"));
                    continue;
                }
            };
            let Some(row) = summary.to_json_rows().into_iter().next() else { continue };
            let rows = row.get("Rows").and_then(serde_json::Value::as_u64).unwrap_or(0);
            if rows == 0 {
                misses.push(query);
                continue;
            }
            let text = |k: &str| row.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let list = |k: &str| -> Vec<String> {
                let v = row.get(k).cloned().unwrap_or_default();
                // Dynamic values may arrive as JSON text.
                let v = match v {
                    serde_json::Value::String(s) => serde_json::from_str(&s).unwrap_or_default(),
                    v => v,
                };
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str())
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut link = Link {
                indicator: value.clone(),
                kind: kind.to_string(),
                table: table.to_string(),
                query,
                rows,
                first_seen: text("FirstSeen"),
                last_seen: text("LastSeen"),
                devices: list("Devices"),
                accounts: {
                    let mut v: Vec<String> =
                        (0..accounts.len()).flat_map(|k| list(&format!("Accounts{k}"))).collect();
                    v.sort();
                    v.dedup();
                    v
                },
                sample_query: None,
                samples: Vec::new(),
            };
            if options.sample_rows > 0 {
                let mut shown: Vec<&str> = time.into_iter().collect();
                shown.extend(device.copied());
                shown.extend(accounts.iter().copied());
                shown.extend(cols.iter().map(|(c, _)| *c).filter(|c| schema.column(c).is_some()));
                for extra in ["ActionType", "FileName", "RemotePort"] {
                    if schema.column(extra).is_some() && !shown.contains(&extra) {
                        shown.push(extra);
                    }
                }
                let mut q = filter.clone();
                if let Some(t) = time {
                    let _ = write!(q, "\n| sort by {t} asc");
                }
                let _ =
                    write!(q, "\n| take {}\n| project {}", options.sample_rows, shown.join(", "));
                out.queries += 1;
                match run(&q) {
                    Ok(o) => link.samples = sample_rows(&o),
                    Err(e) => out.errors.push(format!("{table}: {e}")),
                }
                link.sample_query = Some(q);
            }
            out.links.push(link);
        }
        if !misses.is_empty() && !out.links.iter().any(|l| l.indicator == value && l.kind == kind) {
            out.not_seen.push(NotSeen {
                indicator: value,
                kind: kind.to_string(),
                queries: misses,
            });
        }
    }
    out
}

fn sample_rows(o: &QueryOutput) -> Vec<serde_json::Map<String, serde_json::Value>> {
    o.to_json_rows()
        .into_iter()
        .map(|mut r| {
            // Long command lines make samples unreadable; the query gives them whole.
            for v in r.values_mut() {
                if let serde_json::Value::String(s) = v
                    && s.len() > 300
                {
                    *s = format!("{}…", crate::decode::cut(s, 300));
                }
            }
            r
        })
        .collect()
}

/// [`link`] over a data directory's store: only the tables holding rows are searched.
pub fn link_store(
    a: &Analysis,
    store: &bulwark_store::Store,
    options: &LinkOptions,
) -> Result<Links> {
    let engine = Engine::open(store).map_err(|e| Error::Link(e.to_string()))?;
    let stats = store.table_stats().map_err(|e| Error::Link(e.to_string()))?;
    let tables = stats.into_iter().filter(|t| t.rows > 0).map(|t| t.name).collect();
    Ok(link(a, &engine, &LinkOptions { tables: Some(tables), ..options.clone() }))
}

/// The "Seen in your environment" section of the text report.
pub fn render_links(links: &Links) -> String {
    let mut s = String::from("\n## Seen in your environment\n\n");
    if links.links.is_empty() {
        let _ = writeln!(
            s,
            "None of the {} indicator(s) searched appear in the data ({} queries).",
            links.not_seen.len(),
            links.queries
        );
    }
    let devices = links.devices();
    let accounts = links.accounts();
    if !devices.is_empty() {
        let d: Vec<&str> = devices.keys().copied().collect();
        let _ = writeln!(s, "- Devices: {}", d.join(", "));
    }
    if !accounts.is_empty() {
        let a: Vec<&str> = accounts.keys().copied().collect();
        let _ = writeln!(s, "- Accounts: {}", a.join(", "));
    }
    for l in &links.links {
        let shown: String = if l.indicator.chars().count() > 100 {
            format!("{}…", l.indicator.chars().take(100).collect::<String>())
        } else {
            l.indicator.clone()
        };
        let _ = writeln!(
            s,
            "\n### {} `{}` in {}: {} row(s){}",
            l.kind,
            shown.replace(['\r', '\n'], " "),
            l.table,
            l.rows,
            match (&l.first_seen, &l.last_seen) {
                (Some(f), Some(t)) => format!(", {f} .. {t}"),
                _ => String::new(),
            }
        );
        if !l.devices.is_empty() {
            let _ = writeln!(s, "- devices: {}", l.devices.join(", "));
        }
        if !l.accounts.is_empty() {
            let _ = writeln!(s, "- accounts: {}", l.accounts.join(", "));
        }
        let _ = writeln!(s, "\n```kql\n{}\n```", l.query);
    }
    if !links.not_seen.is_empty() {
        let names: Vec<String> = links
            .not_seen
            .iter()
            .take(20)
            .map(|n| {
                let v: String = n.indicator.chars().take(80).collect();
                format!("{} ({})", v.replace(['\r', '\n'], " "), n.kind)
            })
            .collect();
        let _ = writeln!(s, "\nNot seen: {}", names.join(", "));
    }
    for e in &links.errors {
        let _ = writeln!(s, "- query error: {e}");
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_cut_out_of_the_lines_that_start_them() {
        let l = r#"  Shell "C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -nop -enc SQBFAFgA", 0"#;
        assert_eq!(
            launches_in(l),
            [r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -nop -enc SQBFAFgA"]
        );
        assert_eq!(
            launches_in("x = 1; cmd.exe /c whoami /all > out.txt"),
            ["cmd.exe /c whoami /all > out.txt"]
        );
        // Names inside words, or without arguments, are not launches.
        assert!(launches_in("Write-Host 'mycmd /c something long enough here'").is_empty());
        assert!(launches_in("$p = 'powershell.exe'").is_empty());
    }

    #[test]
    fn indicators_include_file_names_and_normalised_hashes() {
        let a = crate::analyze(
            "copy C:\\Users\\Public\\evil.dll x; # D41D8CD98F00B204E9800998ECF8427E\nreg add HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v x",
            &crate::AnalyzeOptions::default(),
        );
        let ind = indicators(&a, &LinkOptions::default());
        let has = |v: &str, k: &str| ind.iter().any(|(x, y)| x == v && *y == k);
        assert!(has("evil.dll", "file_name"), "{ind:?}");
        assert!(has("d41d8cd98f00b204e9800998ecf8427e", "md5"), "{ind:?}");
        assert!(ind.iter().any(|(v, k)| *k == "registry_key" && !v.starts_with("HKLM")), "{ind:?}");
    }
}
