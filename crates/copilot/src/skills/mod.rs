//! The native skills, and the small helpers they share (KQL literals, Markdown tables, the
//! per-entity lookups used by both EntitySummary and HuntIndicators).
use crate::query::{Rows, cell};
use crate::skill::Skill;
use bulwark_model::EntityKind;
use serde_json::{Map, Value};

mod entity;
mod hunt;
mod incident;
mod nl2kql;
mod posture;
mod report;
mod run_kql;
mod script;

pub use entity::EntitySummary;
pub use hunt::HuntIndicators;
pub use incident::{GuidedResponse, IncidentImpact, IncidentSummary, load_incident};
pub use nl2kql::NaturalLanguageToKql;
pub use posture::PostureReport;
pub use report::SecurityReport;
pub use run_kql::RunKql;
pub use script::ScriptAnalysis;

/// Every native skill.
pub fn all() -> Vec<Box<dyn Skill>> {
    vec![
        Box::new(IncidentSummary),
        Box::new(IncidentImpact),
        Box::new(GuidedResponse),
        Box::new(EntitySummary),
        Box::new(HuntIndicators),
        Box::new(ScriptAnalysis),
        Box::new(PostureReport),
        Box::new(SecurityReport),
        Box::new(NaturalLanguageToKql),
        Box::new(RunKql),
    ]
}

/// A KQL string literal.
pub fn lit(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// A KQL list of string literals: `("a", "b")`.
pub fn lit_list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| lit(s.as_ref())).collect();
    format!("({})", parts.join(", "))
}

/// Escapes a Markdown table cell and cuts it to `max` characters.
pub fn md_cell(s: &str, max: usize) -> String {
    let s = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// A Markdown table of `rows` (at most `limit`), with the given columns.
pub fn md_table(rows: &[Map<String, Value>], columns: &[String], limit: usize) -> String {
    if rows.is_empty() || columns.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    out.push_str(&format!("| {} |\n", columns.join(" | ")));
    out.push_str(&format!("|{}\n", " --- |".repeat(columns.len())));
    for r in rows.iter().take(limit) {
        let cells: Vec<String> = columns.iter().map(|c| md_cell(&cell(r, c), 600)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if rows.len() > limit {
        out.push_str(&format!("\n_{} more rows not shown._\n", rows.len() - limit));
    }
    out
}

/// A table of a query result's rows with all its columns.
pub fn rows_table(rows: &Rows, limit: usize) -> String {
    md_table(&rows.rows, &rows.columns, limit)
}

/// `n` with thousands separators.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether an IP address is private, loopback or link-local (not an external indicator).
pub fn is_internal_ip(ip: &str) -> bool {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00
        }
        Err(_) => true,
    }
}

/// Accounts that are the operating system, not people.
pub fn is_system_account(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "system"
            | "local service"
            | "network service"
            | "localsystem"
            | ""
            | "-"
            | "anonymous logon"
    ) || name.ends_with('$')
}

/// One place an entity of some kind is looked up: a table, the predicate, and the columns
/// that say where (device) and who (user).
pub struct Lookup {
    /// Table.
    pub table: &'static str,
    /// Predicate template with `{v}` for the quoted value.
    pub predicate: &'static str,
    /// Device column, if any.
    pub device: Option<&'static str>,
    /// User column, if any.
    pub user: Option<&'static str>,
}

const fn lk(
    table: &'static str,
    predicate: &'static str,
    device: Option<&'static str>,
    user: Option<&'static str>,
) -> Lookup {
    Lookup { table, predicate, device, user }
}

/// Where entities of a kind appear.
pub fn lookups(kind: EntityKind, value: &str) -> Vec<Lookup> {
    match kind {
        EntityKind::Ip => vec![
            lk(
                "DeviceNetworkEvents",
                "RemoteIP == {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk(
                "CommonSecurityLog",
                "DestinationIP == {v} or SourceIP == {v}",
                Some("SourceIP"),
                Some("SourceUserName"),
            ),
            lk("SigninLogs", "IPAddress == {v}", None, Some("UserPrincipalName")),
            lk("OfficeActivity", "ClientIP == {v}", None, Some("UserId")),
            lk("DeviceLogonEvents", "RemoteIP == {v}", Some("DeviceName"), Some("AccountName")),
            lk("EmailEvents", "SenderIPv4 == {v}", None, Some("RecipientEmailAddress")),
            lk("AuditLogs", "tostring(InitiatedBy) has {v}", None, Some("Identity")),
        ],
        EntityKind::Domain => vec![
            lk(
                "DeviceNetworkEvents",
                "RemoteUrl has {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk("EmailEvents", "SenderFromDomain =~ {v}", None, Some("RecipientEmailAddress")),
            lk("EmailUrlInfo", "UrlDomain has {v}", None, None),
            lk("UrlClickEvents", "Url has {v}", None, Some("AccountUpn")),
            lk(
                "DeviceFileEvents",
                "FileOriginUrl has {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk(
                "CommonSecurityLog",
                "DestinationHostName has {v} or RequestURL has {v}",
                Some("SourceIP"),
                Some("SourceUserName"),
            ),
            lk("OfficeActivity", "Parameters has {v}", None, Some("UserId")),
        ],
        EntityKind::Url => vec![
            lk(
                "DeviceNetworkEvents",
                "RemoteUrl has {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk(
                "DeviceFileEvents",
                "FileOriginUrl == {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk("CommonSecurityLog", "RequestURL == {v}", Some("SourceIP"), Some("SourceUserName")),
            lk("UrlClickEvents", "Url == {v}", None, Some("AccountUpn")),
            lk("EmailUrlInfo", "Url == {v}", None, None),
        ],
        EntityKind::FileHash => {
            let col = match value.len() {
                32 => "MD5",
                40 => "SHA1",
                _ => "SHA256",
            };
            let mut v = vec![
                Lookup {
                    table: "DeviceFileEvents",
                    predicate: hash_pred(col),
                    device: Some("DeviceName"),
                    user: Some("InitiatingProcessAccountName"),
                },
                Lookup {
                    table: "DeviceProcessEvents",
                    predicate: hash_pred(col),
                    device: Some("DeviceName"),
                    user: Some("AccountName"),
                },
                Lookup {
                    table: "DeviceEvents",
                    predicate: hash_pred(col),
                    device: Some("DeviceName"),
                    user: Some("InitiatingProcessAccountName"),
                },
            ];
            if col == "SHA256" {
                v.push(lk(
                    "EmailAttachmentInfo",
                    "SHA256 == {v}",
                    None,
                    Some("RecipientEmailAddress"),
                ));
            }
            v
        }
        EntityKind::Device => vec![
            lk(
                "DeviceProcessEvents",
                "DeviceName startswith {v}",
                Some("DeviceName"),
                Some("AccountName"),
            ),
            lk(
                "DeviceNetworkEvents",
                "DeviceName startswith {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk(
                "DeviceFileEvents",
                "DeviceName startswith {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk(
                "DeviceLogonEvents",
                "DeviceName startswith {v}",
                Some("DeviceName"),
                Some("AccountName"),
            ),
            lk(
                "DeviceRegistryEvents",
                "DeviceName startswith {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
        ],
        EntityKind::User | EntityKind::Mailbox => vec![
            lk("SigninLogs", "UserPrincipalName has {v}", None, Some("UserPrincipalName")),
            lk("DeviceLogonEvents", "AccountName has {v}", Some("DeviceName"), Some("AccountName")),
            lk(
                "DeviceProcessEvents",
                "AccountName has {v}",
                Some("DeviceName"),
                Some("AccountName"),
            ),
            lk("OfficeActivity", "UserId has {v}", None, Some("UserId")),
            lk(
                "EmailEvents",
                "RecipientEmailAddress has {v} or SenderFromAddress has {v}",
                None,
                Some("RecipientEmailAddress"),
            ),
        ],
        EntityKind::File => vec![
            lk(
                "DeviceFileEvents",
                "FileName =~ {v}",
                Some("DeviceName"),
                Some("InitiatingProcessAccountName"),
            ),
            lk("DeviceProcessEvents", "FileName =~ {v}", Some("DeviceName"), Some("AccountName")),
            lk("EmailAttachmentInfo", "FileName =~ {v}", None, Some("RecipientEmailAddress")),
        ],
        _ => Vec::new(),
    }
}

fn hash_pred(col: &str) -> &'static str {
    match col {
        "MD5" => "MD5 == {v}",
        "SHA1" => "SHA1 == {v}",
        _ => "SHA256 == {v}",
    }
}

/// The value a lookup searches for: account names without their domain, hosts without it.
pub fn lookup_value(kind: EntityKind, value: &str) -> String {
    match kind {
        EntityKind::User if !value.contains('@') => value.to_string(),
        EntityKind::Device => value.split('.').next().unwrap_or(value).to_string(),
        _ => value.to_string(),
    }
}

/// A lookup's KQL: hits, first and last seen, devices and users involved.
pub fn lookup_query(l: &Lookup, value: &str) -> String {
    let pred = l.predicate.replace("{v}", &lit(value));
    let mut aggs = vec![
        "Hits = count()".to_string(),
        "FirstSeen = min(TimeGenerated)".to_string(),
        "LastSeen = max(TimeGenerated)".to_string(),
    ];
    if let Some(d) = l.device {
        aggs.push(format!("Devices = make_set({d}, 20)"));
    }
    if let Some(u) = l.user {
        aggs.push(format!("Users = make_set({u}, 20)"));
    }
    format!("{}\n| where {pred}\n| summarize {}", l.table, aggs.join(", "))
}

/// The strings of a JSON array value (or of a JSON array written as a string).
pub fn json_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(_)) => json_strings(serde_json::from_str::<Value>(s).ok().as_ref()),
            _ if s.is_empty() => Vec::new(),
            _ => vec![s.clone()],
        },
        _ => Vec::new(),
    }
}

/// A JSON object value (or an object written as a string).
pub fn json_object(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(o)) => o.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => o,
            _ => Map::new(),
        },
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape() {
        assert_eq!(lit("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(lit_list(&["x", "y"]), "(\"x\", \"y\")");
    }

    #[test]
    fn counts_and_cells() {
        assert_eq!(count(2_680_098_760), "2,680,098,760");
        assert_eq!(count(12), "12");
        assert_eq!(md_cell("a|b\nc", 10), "a\\|b c");
        assert_eq!(md_cell("abcdef", 3), "abc…");
    }

    #[test]
    fn internal_addresses() {
        assert!(is_internal_ip("10.10.1.2"));
        assert!(is_internal_ip("192.168.0.1"));
        assert!(!is_internal_ip("37.120.233.17"));
        assert!(is_internal_ip("not an ip"));
    }

    #[test]
    fn lookup_queries_check() {
        let registry = bulwark_model::SchemaRegistry::builtin();
        for (kind, v) in [
            (EntityKind::Ip, "1.2.3.4"),
            (EntityKind::Domain, "evil.com"),
            (EntityKind::Url, "http://evil.com/a"),
            (
                EntityKind::FileHash,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (EntityKind::FileHash, "d41d8cd98f00b204e9800998ecf8427e"),
            (EntityKind::Device, "wks-fin-001"),
            (EntityKind::User, "alice.smith"),
            (EntityKind::File, "updater.exe"),
        ] {
            for l in lookups(kind, v) {
                let q = lookup_query(&l, v);
                let (ok, diags) = crate::nl2kql::validate(&q, &registry);
                assert!(ok, "{q}\n{diags:?}");
            }
        }
    }
}
