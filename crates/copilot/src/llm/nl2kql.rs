//! NL→KQL with a language model, grounded in the schema registry.
//!
//! 1. Retrieval picks the relevant tables: a BM25 score of the question against each table's
//!    name, column names and a short description, with the deterministic generator's table
//!    guess as a strong prior; only those tables' most relevant columns go into the prompt.
//! 2. Few-shot examples come from a library of validated NL+KQL pairs shipped with the crate
//!    (`examples.jsonl`), ranked by word overlap with the question and by table.
//! 3. The reply is parsed and checked ([`crate::nl2kql::validate`]); the diagnostics go back
//!    to the model for repair, up to [`MAX_ROUNDS`] model calls in all.
//! 4. Still invalid (or the model failed): the deterministic generator's query.
use super::prompts::NL2KQL_SYSTEM;
use super::{CallError, LlmClient};
use crate::nl2kql::{Generated, generate_with, validate};
use bulwark_llm::{Message, ToolChoice};
use bulwark_model::SchemaRegistry;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Largest number of model calls for one question (the first attempt and the repairs).
pub const MAX_ROUNDS: u32 = 3;
/// Tables offered to the model.
const TABLES: usize = 3;
/// Columns offered per table.
const COLUMNS: usize = 24;
/// Few-shot examples given.
const EXAMPLES: usize = 3;

/// The shipped library of validated NL+KQL pairs (`{"nl": …, "kql": …}` per line).
pub const EXAMPLES_JSONL: &str = include_str!("examples.jsonl");

/// What a few common tables hold, in words an analyst uses (the registry has names only).
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "SigninLogs",
        "azure ad entra interactive user sign-in signin login logon authentication failed successful mfa conditional access location ip",
    ),
    (
        "AADNonInteractiveUserSignInLogs",
        "non-interactive sign-in token refresh legacy authentication",
    ),
    (
        "DeviceProcessEvents",
        "process execution created spawned launched command line powershell cmd script parent child executable",
    ),
    (
        "DeviceNetworkEvents",
        "network connection remote ip port url outbound inbound traffic connect beacon c2",
    ),
    (
        "DeviceFileEvents",
        "file created modified deleted renamed written dropped downloaded path hash",
    ),
    ("DeviceRegistryEvents", "registry key value set modified run key persistence"),
    ("DeviceLogonEvents", "device logon local remote interactive rdp network logon account"),
    ("DeviceImageLoadEvents", "dll image load module loaded"),
    ("DeviceEvents", "device misc events antivirus detection exploit guard usb"),
    ("DeviceInfo", "device inventory os platform onboarding machine"),
    ("EmailEvents", "email mail message sender recipient subject phishing delivered inbound"),
    ("EmailAttachmentInfo", "email attachment file name hash"),
    ("EmailUrlInfo", "email url link domain"),
    ("UrlClickEvents", "url click safe links user clicked"),
    ("AlertInfo", "alert title severity category detection"),
    ("AlertEvidence", "alert evidence entity device user ip file"),
    ("SecurityAlert", "sentinel alert severity provider"),
    ("SecurityIncident", "incident status severity owner"),
    ("SecurityEvent", "windows security event log event id logon 4624 4625 account"),
    ("IdentityLogonEvents", "identity logon domain controller kerberos ntlm"),
    (
        "OfficeActivity",
        "office 365 activity exchange sharepoint onedrive inbox rule forwarding mailbox operation",
    ),
    ("AuditLogs", "azure ad audit directory changes role assignment user added"),
    ("CloudAppEvents", "cloud app activity saas"),
    ("CommonSecurityLog", "firewall cef network appliance"),
    ("Syslog", "linux syslog host facility message"),
];

/// The model's query and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmGenerated {
    /// The query in the deterministic generator's shape (`table` is the first table read;
    /// `filters` are empty for a model-written query).
    pub generated: Generated,
    /// Model calls used (0 when the model was not reached).
    pub rounds: u32,
    /// Whether the query is the model's (false: the deterministic fallback).
    pub from_model: bool,
}

/// Lower-case word pieces: `DeviceProcessEvents` → device, process, events; plurals folded.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            cur.extend(c.to_lowercase());
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .filter(|w| w.len() > 1)
        .map(|w| {
            if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
                w[..w.len() - 1].to_string()
            } else {
                w
            }
        })
        .collect()
}

/// Tables ranked for a question: `(table, score)`, best first.
pub fn rank_tables(question: &str, registry: &SchemaRegistry) -> Vec<(String, f64)> {
    let q: HashSet<String> = words(question).into_iter().collect();
    let descriptions: HashMap<&str, &str> = DESCRIPTIONS.iter().copied().collect();
    let docs: Vec<(String, Vec<String>)> = registry
        .tables()
        .map(|t| {
            let mut d = words(t.name());
            // The table name counts three times: it is the strongest signal.
            d.extend(words(t.name()));
            d.extend(words(t.name()));
            for c in t.columns() {
                d.extend(words(&c.name));
            }
            if let Some(desc) = descriptions.get(t.name()) {
                for _ in 0..2 {
                    d.extend(words(desc));
                }
            }
            (t.name().to_string(), d)
        })
        .collect();
    let n = docs.len().max(1) as f64;
    let avg = docs.iter().map(|(_, d)| d.len()).sum::<usize>() as f64 / n;
    let mut df: HashMap<&str, usize> = HashMap::new();
    for (_, d) in &docs {
        let uniq: HashSet<&str> = d.iter().map(String::as_str).collect();
        for w in uniq {
            if q.contains(w) {
                *df.entry(w).or_default() += 1;
            }
        }
    }
    let (k1, b) = (1.2, 0.75);
    let prior = generate_with(question, registry).table;
    let mut scored: Vec<(String, f64)> = docs
        .iter()
        .map(|(name, d)| {
            let mut s = 0.0;
            for w in &q {
                let tf = d.iter().filter(|x| *x == w).count() as f64;
                if tf == 0.0 {
                    continue;
                }
                let dfw = *df.get(w.as_str()).unwrap_or(&0) as f64;
                let idf = ((n - dfw + 0.5) / (dfw + 0.5) + 1.0).ln();
                s += idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * d.len() as f64 / avg));
            }
            (name.clone(), s)
        })
        .collect();
    let best = scored.iter().map(|(_, s)| *s).fold(0.0, f64::max);
    for (name, s) in &mut scored {
        if *name == prior {
            // The rule-based guess is a strong prior: it comes first.
            *s = best + 1.0;
        }
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored
}

/// The schema part of the prompt: the chosen tables with their most relevant columns.
pub fn schema_context(question: &str, registry: &SchemaRegistry) -> (Vec<String>, String) {
    let q: HashSet<String> = words(question).into_iter().collect();
    let tables: Vec<String> =
        rank_tables(question, registry).into_iter().take(TABLES).map(|(t, _)| t).collect();
    let mut text = String::new();
    for t in &tables {
        let Some(schema) = registry.get(t) else { continue };
        let time = schema.time_column().map(str::to_string);
        // Columns whose words the question uses first, then the table's own order.
        let mut cols: Vec<(usize, usize, String)> = schema
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let hits = words(&c.name).iter().filter(|w| q.contains(*w)).count();
                let boost = usize::from(Some(&c.name) == time.as_ref()) * 10;
                (hits + boost, i, format!("{}:{}", c.name, c.ty.name()))
            })
            .collect();
        cols.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let shown: Vec<String> = cols.into_iter().take(COLUMNS).map(|c| c.2).collect();
        text.push_str(&format!("- {t}({})\n", shown.join(", ")));
    }
    (tables, text)
}

/// The library's examples most like the question (`(nl, kql)`).
pub fn examples_for(question: &str, tables: &[String]) -> Vec<(String, String)> {
    let q: HashSet<String> = words(question).into_iter().collect();
    let mut scored: Vec<(f64, String, String)> = EXAMPLES_JSONL
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let nl = v.get("nl")?.as_str()?.to_string();
            let kql = v.get("kql")?.as_str()?.to_string();
            let e: HashSet<String> = words(&nl).into_iter().collect();
            let overlap = q.intersection(&e).count() as f64 / (q.union(&e).count().max(1) as f64);
            let table_bonus = if tables.first().is_some_and(|t| kql.starts_with(t.as_str())) {
                0.5
            } else if tables.iter().any(|t| kql.starts_with(t.as_str())) {
                0.2
            } else {
                0.0
            };
            Some((overlap + table_bonus, nl, kql))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(EXAMPLES).map(|(_, nl, kql)| (nl, kql)).collect()
}

/// The KQL in a reply: the first code block, else the whole text.
pub fn kql_from_reply(reply: &str) -> String {
    if let Some(start) = reply.find("```") {
        let rest = &reply[start + 3..];
        let rest = rest.find('\n').map_or(rest, |i| &rest[i + 1..]);
        let end = rest.find("```").unwrap_or(rest.len());
        return rest[..end].trim().to_string();
    }
    reply.trim().to_string()
}

/// The prompt for a question.
pub fn prompt(question: &str, registry: &SchemaRegistry) -> (Vec<String>, String) {
    let (tables, schema) = schema_context(question, registry);
    let mut text = format!("Tables (name(column:type, …)):\n{schema}\n");
    let examples = examples_for(question, &tables);
    if !examples.is_empty() {
        text.push_str("Examples:\n");
        for (nl, kql) in examples {
            text.push_str(&format!("Question: {nl}\n```kql\n{kql}\n```\n"));
        }
        text.push('\n');
    }
    text.push_str(&format!("Question: {question}\n"));
    (tables, text)
}

/// Generates KQL for `question` with the model, checked and repaired; the deterministic
/// generator's query when the model cannot produce a valid one.
pub fn generate(client: &LlmClient, question: &str, registry: &SchemaRegistry) -> LlmGenerated {
    let (tables, user) = prompt(question, registry);
    let mut messages = vec![Message::system(NL2KQL_SYSTEM), Message::user(user)];
    let mut rounds = 0;
    let mut last_problem = String::new();
    while rounds < MAX_ROUNDS {
        let mut request = client.request(messages.clone());
        request.tool_choice = ToolChoice::None;
        rounds += 1;
        let reply = match client.chat(&format!("nl2kql round {rounds}"), &request, &mut |_| {}) {
            Ok(r) => r.message.content,
            Err(CallError(why)) => {
                last_problem = format!("the model failed: {why}");
                break;
            }
        };
        let kql = kql_from_reply(&reply);
        let (valid, diagnostics) = validate(&kql, registry);
        if valid && !kql.is_empty() {
            let features = crate::eval::features(&kql);
            let table = features
                .tables
                .iter()
                .find(|t| tables.contains(t))
                .or_else(|| features.tables.iter().next())
                .cloned()
                .unwrap_or_default();
            return LlmGenerated {
                generated: Generated {
                    kql,
                    valid,
                    diagnostics,
                    table,
                    filters: Vec::new(),
                    notes: vec![
                        format!("tables offered: {}", tables.join(", ")),
                        format!("written by the model in {rounds} round(s)"),
                    ],
                },
                rounds,
                from_model: true,
            };
        }
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|d| d.severity == "error")
            .map(|d| format!("- {} {}", d.code, d.message))
            .collect();
        last_problem = if kql.is_empty() {
            "the reply held no query".into()
        } else {
            format!("{} error(s): {}", errors.len(), errors.join(" "))
        };
        messages.push(Message::assistant(reply));
        messages.push(Message::user(format!(
            "That query does not check:\n{}\nReply with the corrected query only, in a ```kql code block.",
            if errors.is_empty() { "- the reply held no query".to_string() } else { errors.join("\n") }
        )));
    }
    let mut g = generate_with(question, registry);
    g.notes.push(format!(
        "the model's query was not used after {rounds} round(s) ({last_problem}); rule-based query instead"
    ));
    LlmGenerated { generated: g, rounds, from_model: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_names() {
        assert_eq!(words("DeviceProcessEvents"), vec!["device", "process", "event"]);
        assert_eq!(words("failed sign-ins"), vec!["failed", "sign", "ins"]);
    }

    #[test]
    fn retrieval_finds_the_tables() {
        let r = SchemaRegistry::builtin();
        let top = |q: &str| rank_tables(q, &r).into_iter().take(3).map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(top("failed sign-ins for alice")[0], "SigninLogs");
        assert!(
            top("registry run keys modified on wks-fin-001")
                .contains(&"DeviceRegistryEvents".to_string())
        );
        assert!(
            top("emails with attachments from contoso.com").iter().any(|t| t.starts_with("Email"))
        );
    }

    #[test]
    fn prompt_has_schema_and_examples() {
        let r = SchemaRegistry::builtin();
        let (tables, p) = prompt("show encoded powershell command lines", &r);
        assert_eq!(tables[0], "DeviceProcessEvents");
        assert!(p.contains("ProcessCommandLine:string"), "{p}");
        assert!(p.contains("Examples:"), "{p}");
        assert!(p.ends_with("Question: show encoded powershell command lines\n"));
    }

    #[test]
    fn kql_is_taken_from_code_blocks() {
        assert_eq!(kql_from_reply("Here:\n```kql\nT | take 1\n```\nDone."), "T | take 1");
        assert_eq!(kql_from_reply("T | take 2"), "T | take 2");
    }
}
