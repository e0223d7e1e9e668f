//! Alerts: a rule hit on one row, with the rule's metadata and the entities found in the row.
//!
//! Entities come from a fixed list of column names ([`ENTITY_COLUMNS`]) covering our Defender
//! XDR / Sentinel tables and the raw Windows event fields, so every table yields devices, users,
//! processes, files and hashes, IPs, URLs, domains, registry keys and mailboxes the same way.

use bulwark_model::{Entity, EntityKind};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::rules::technique_of;

/// Whether the alert comes from a single-event rule or a correlation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A detection rule matched one row.
    Detection,
    /// A correlation rule's condition was met; the row is the one that completed it.
    Correlation,
}

/// A rule hit.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Detection or correlation.
    pub kind: AlertKind,
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// Level (`informational` .. `critical`).
    pub level: Option<String>,
    /// Rule tags.
    pub tags: Vec<String>,
    /// ATT&CK technique ids from the tags (`T1059.001`).
    pub techniques: Vec<String>,
    /// Rule author (credited per the Detection Rule License for SigmaHQ rules).
    pub author: Option<String>,
    /// Event time as written in the row, when present.
    pub time: Option<String>,
    /// Table the row belongs to.
    pub table: String,
    /// The matched row.
    pub row: Value,
    /// Entities extracted from the row, de-duplicated, in column order.
    pub entities: Vec<Entity>,
}

impl Alert {
    /// Builds an alert for `row`, extracting its entities.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: AlertKind,
        rule_id: String,
        title: String,
        level: Option<String>,
        tags: Vec<String>,
        author: Option<String>,
        table: &str,
        row: &Map<String, Value>,
    ) -> Self {
        let techniques = tags.iter().filter_map(|t| technique_of(t)).collect();
        let time = ["TimeGenerated", "Timestamp", "TimeCreated"]
            .iter()
            .find_map(|k| row.get(*k).and_then(Value::as_str).map(str::to_string));
        Alert {
            kind,
            rule_id,
            title,
            level,
            tags,
            techniques,
            author,
            time,
            table: table.to_string(),
            row: Value::Object(row.clone()),
            entities: extract_entities(row),
        }
    }
}

/// Column (or Windows EventData field) -> entity kind.
pub const ENTITY_COLUMNS: &[(&str, EntityKind)] = &[
    ("DeviceName", EntityKind::Device),
    ("Computer", EntityKind::Device),
    ("RemoteDeviceName", EntityKind::Device),
    ("AccountUpn", EntityKind::User),
    ("UserPrincipalName", EntityKind::User),
    ("AccountName", EntityKind::User),
    ("InitiatingProcessAccountName", EntityKind::User),
    ("TargetUserName", EntityKind::User),
    ("SubjectUserName", EntityKind::User),
    ("UserId", EntityKind::User),
    ("User", EntityKind::User),
    ("ProcessCommandLine", EntityKind::Process),
    ("InitiatingProcessCommandLine", EntityKind::Process),
    ("CommandLine", EntityKind::Process),
    ("ParentCommandLine", EntityKind::Process),
    ("FolderPath", EntityKind::File),
    ("InitiatingProcessFolderPath", EntityKind::File),
    ("Image", EntityKind::File),
    ("TargetFilename", EntityKind::File),
    ("ImageLoaded", EntityKind::File),
    ("FileName", EntityKind::File),
    ("SHA256", EntityKind::FileHash),
    ("SHA1", EntityKind::FileHash),
    ("MD5", EntityKind::FileHash),
    ("InitiatingProcessSHA256", EntityKind::FileHash),
    ("RemoteIP", EntityKind::Ip),
    ("IPAddress", EntityKind::Ip),
    ("IpAddress", EntityKind::Ip),
    ("ClientIP", EntityKind::Ip),
    ("DestinationIP", EntityKind::Ip),
    ("DestinationIp", EntityKind::Ip),
    ("SourceIP", EntityKind::Ip),
    ("SenderIPv4", EntityKind::Ip),
    ("RemoteUrl", EntityKind::Url),
    ("Url", EntityKind::Url),
    ("RequestURL", EntityKind::Url),
    ("DestinationHostname", EntityKind::Domain),
    ("QueryName", EntityKind::Domain),
    ("SenderFromDomain", EntityKind::Domain),
    ("RegistryKey", EntityKind::RegistryKey),
    ("TargetObject", EntityKind::RegistryKey),
    ("RecipientEmailAddress", EntityKind::Mailbox),
    ("SenderFromAddress", EntityKind::Mailbox),
    ("MailboxOwnerUPN", EntityKind::Mailbox),
    ("AppDisplayName", EntityKind::CloudApp),
];

/// Values that name nothing (placeholders Windows and Defender write for "none").
fn is_placeholder(v: &str) -> bool {
    matches!(v.trim(), "" | "-" | "::" | "0.0.0.0" | "127.0.0.1" | "::1" | "N/A" | "null")
}

/// Entities in a row: top-level columns, then (raw Windows events) `EventData` fields.
pub fn extract_entities(row: &Map<String, Value>) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let data = row.get("EventData").and_then(Value::as_object);
    for (column, kind) in ENTITY_COLUMNS {
        let value = row.get(*column).or_else(|| data.and_then(|d| d.get(*column)));
        let Some(text) = value.and_then(Value::as_str) else { continue };
        if is_placeholder(text) {
            continue;
        }
        let entity = Entity::new(*kind, text);
        if !out.contains(&entity) {
            out.push(entity);
        }
    }
    // Sysmon packs hashes into one string.
    if let Some(h) = data.and_then(|d| d.get("Hashes")).and_then(Value::as_str) {
        for part in h.split(',') {
            if let Some((algo, hex)) = part.split_once('=')
                && matches!(algo, "SHA256" | "SHA1" | "MD5")
                && !hex.is_empty()
            {
                let entity = Entity::new(EntityKind::FileHash, hex);
                if !out.contains(&entity) {
                    out.push(entity);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extracts_defender_entities_and_skips_placeholders() {
        let row = json!({"DeviceName": "ws01", "AccountName": "alice", "RemoteIP": "203.0.113.7",
                         "SHA256": "aa", "LocalIP": "10.0.0.1", "RemoteUrl": "", "IPAddress": "-"});
        let e = extract_entities(row.as_object().unwrap_or(&Map::new()));
        assert!(e.contains(&Entity::new(EntityKind::Device, "ws01")));
        assert!(e.contains(&Entity::new(EntityKind::User, "alice")));
        assert!(e.contains(&Entity::new(EntityKind::Ip, "203.0.113.7")));
        assert!(e.contains(&Entity::new(EntityKind::FileHash, "aa")));
        assert_eq!(e.len(), 4);
    }

    #[test]
    fn splits_sysmon_hashes_from_event_data() {
        let row = json!({"Computer": "h", "EventData": {"Hashes": "MD5=AB,SHA256=CD,IMPHASH=EF"}});
        let e = extract_entities(row.as_object().unwrap_or(&Map::new()));
        assert!(e.contains(&Entity::new(EntityKind::FileHash, "CD")));
        assert!(!e.contains(&Entity::new(EntityKind::FileHash, "EF")));
    }
}
