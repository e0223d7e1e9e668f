//! Alerts: a rule hit on one row, with the rule's metadata and the entities found in the row.
//!
//! Entities come from a fixed list of column names ([`ENTITY_COLUMNS`]) covering our Defender
//! XDR / Sentinel tables and the raw Windows event fields, so every table yields devices, users,
//! processes, files and hashes, IPs, URLs, domains, registry keys and mailboxes the same way.
//! Columns that name the *reporting* appliance rather than a victim ([`OBSERVER_COLUMNS`], e.g.
//! `CommonSecurityLog.DeviceName`, the firewall that logged the connection) are skipped.
//!
//! An alert also lists its *linking* entities ([`Alert::links`]): the ones strong enough to tie it
//! to other alerts in one incident. Built-in accounts (SYSTEM, LOCAL SERVICE), machine accounts
//! and loopback addresses name no particular victim; the targets counted by an aggregate
//! correlation (the sprayed accounts of a password spray) are evidence, not compromised
//! entities, so such an alert links only through its group-by values (the spraying IP).

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
    /// The entities that tie this alert to others in an incident (a subset of `entities`).
    pub links: Vec<Entity>,
    /// For a correlation alert, its group-by values (`field`, `value`); empty otherwise.
    pub group: Vec<(String, String)>,
    /// Hits folded into this alert: the same rule on the same entities again within the
    /// aggregation window counts here instead of raising another alert (1 for a single hit).
    pub count: u64,
    /// Time of the last folded hit, when `count > 1`.
    pub last_time: Option<String>,
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
        let entities = extract_table_entities(table, row);
        let links = entities.iter().filter(|e| is_linking(e)).cloned().collect();
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
            entities,
            links,
            group: Vec::new(),
            count: 1,
            last_time: None,
        }
    }

    /// Restricts the linking entities to the correlation's group-by values: an aggregate
    /// correlation (event or value count) counts many targets, and only the grouping values
    /// (the spraying IP, the beaconing device) are the attacker's or the victim's.
    pub fn link_only_group(&mut self, group: Vec<(String, String)>) {
        let values: Vec<String> = group.iter().map(|(_, v)| v.to_ascii_lowercase()).collect();
        self.links.retain(|e| values.contains(&e.value.to_ascii_lowercase()));
        self.group = group;
    }
}

/// Whether an entity is specific enough to link alerts: devices, users, mailboxes, IPs, file
/// hashes, URLs and domains, except built-in accounts, machine accounts and loopback or
/// unspecified addresses, which every host has.
pub fn is_linking(e: &Entity) -> bool {
    let v = e.value.trim().to_ascii_lowercase();
    match e.kind {
        EntityKind::User | EntityKind::Mailbox => {
            let bare = v.rsplit('\\').next().unwrap_or(&v);
            !(matches!(
                bare,
                "system"
                    | "local service"
                    | "localservice"
                    | "network service"
                    | "networkservice"
                    | "anonymous logon"
                    | "local system"
                    | "trustedinstaller"
            ) || bare.ends_with('$')
                || bare.starts_with("dwm-")
                || bare.starts_with("umfd-")
                || bare.starts_with("font driver host"))
        }
        EntityKind::Ip => is_public_ip(&v),
        EntityKind::Device | EntityKind::FileHash | EntityKind::Url | EntityKind::Domain => true,
        _ => false,
    }
}

/// Whether an address is routable on the internet. Private, loopback, link-local and shared
/// (CGNAT) addresses do not link alerts: inside the network they name servers every host talks
/// to (a domain controller, a proxy, a DNS resolver) and are reused across sites, so linking on
/// them glues unrelated alerts together. Internal hosts link by device name instead.
pub fn is_public_ip(text: &str) -> bool {
    match text.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || (a == 100 && (64..128).contains(&b)))
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
        // Not an address (a host name in an IP column): let it link like a name.
        Err(_) => true,
    }
}

/// Whether a value is a GUID (`8-4-4-4-12` hex digits).
fn is_guid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Columns that name the appliance or collector that *reported* the event, per table: a
/// firewall's `DeviceName` in `CommonSecurityLog` is the observer of a connection, not a host the
/// attacker touched, so it is no device entity (Defender XDR does not list it either).
pub const OBSERVER_COLUMNS: &[(&str, &[&str])] =
    &[("CommonSecurityLog", &["DeviceName", "Computer", "DeviceVendor", "DeviceProduct"])];

/// Entities of a row of `table`: [`extract_entities`] without the table's observer columns,
/// plus the initiating user and IP that `AuditLogs` keeps in JSON.
pub fn extract_table_entities(table: &str, row: &Map<String, Value>) -> Vec<Entity> {
    let skip: &[&str] = OBSERVER_COLUMNS.iter().find(|(t, _)| *t == table).map_or(&[], |(_, c)| c);
    let mut out = entities_except(row, skip);
    // Entra ID object ids (`SigninLogs.UserId`) name the same person as the UPN next to them;
    // analysts read names, so an id stays only when it is all the row says about the user.
    if out.iter().any(|e| e.kind == EntityKind::User && !is_guid(&e.value)) {
        out.retain(|e| !(e.kind == EntityKind::User && is_guid(&e.value)));
    }
    // `InitiatedBy` is dynamic: parsed in rows read for rules, JSON text elsewhere.
    let parsed;
    let initiated_by = match row.get("InitiatedBy") {
        Some(Value::String(s)) if table == "AuditLogs" => {
            parsed = serde_json::from_str::<Value>(s).ok();
            parsed.as_ref()
        }
        other => other,
    };
    if table == "AuditLogs"
        && let Some(Value::Object(by)) = initiated_by
        && let Some(Value::Object(user)) = by.get("user")
    {
        for (key, kind) in [("userPrincipalName", EntityKind::User), ("ipAddress", EntityKind::Ip)]
        {
            if let Some(v) = user.get(key).and_then(Value::as_str)
                && !is_placeholder(v)
            {
                let entity = Entity::new(kind, v);
                if !out.contains(&entity) {
                    out.push(entity);
                }
            }
        }
    }
    out
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
    ("SourceUserName", EntityKind::User),
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
    ("SourceIp", EntityKind::Ip),
    ("RemoteUrl", EntityKind::Url),
    ("Url", EntityKind::Url),
    ("RequestURL", EntityKind::Url),
    ("DestinationHostname", EntityKind::Domain),
    ("DestinationHostName", EntityKind::Domain),
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
    entities_except(row, &[])
}

fn entities_except(row: &Map<String, Value>, skip: &[&str]) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let data = row.get("EventData").and_then(Value::as_object);
    for (column, kind) in ENTITY_COLUMNS {
        if skip.contains(column) {
            continue;
        }
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
    fn appliances_object_ids_and_builtin_accounts() {
        let fw = json!({"DeviceName": "fw01", "Computer": "fw01.contoso.com", "SourceIP": "10.20.0.12",
                        "DestinationIP": "37.120.233.17", "SourceUserName": "CONTOSO\\adm-x"});
        let e = extract_table_entities("CommonSecurityLog", fw.as_object().unwrap_or(&Map::new()));
        assert!(e.iter().all(|e| e.kind != EntityKind::Device), "{e:?}");
        let alert = Alert::new(
            AlertKind::Detection,
            "r".into(),
            "r".into(),
            None,
            Vec::new(),
            None,
            "CommonSecurityLog",
            fw.as_object().unwrap_or(&Map::new()),
        );
        // The private source address does not link; the external one and the account do.
        let links: Vec<&str> = alert.links.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(links, vec!["CONTOSO\\adm-x", "37.120.233.17"]);

        let signin = json!({"UserPrincipalName": "mh@contoso.com",
                            "UserId": "02b5d4a2-4207-44c6-a221-1c4caf3fad61"});
        let e = extract_table_entities("SigninLogs", signin.as_object().unwrap_or(&Map::new()));
        assert_eq!(e, vec![Entity::new(EntityKind::User, "mh@contoso.com")]);
        let only_id = json!({"UserId": "02b5d4a2-4207-44c6-a221-1c4caf3fad61"});
        assert_eq!(
            extract_table_entities("SigninLogs", only_id.as_object().unwrap_or(&Map::new())).len(),
            1
        );

        for account in ["SYSTEM", "NT AUTHORITY\\LOCAL SERVICE", "WS01$", "DWM-1"] {
            assert!(!is_linking(&Entity::new(EntityKind::User, account)), "{account}");
        }
        assert!(is_linking(&Entity::new(EntityKind::User, "jdoe")));
        assert!(
            !is_public_ip("192.168.1.5") && !is_public_ip("100.64.0.1") && !is_public_ip("fe80::1")
        );
        assert!(is_public_ip("185.220.101.4") && is_public_ip("2001:db8::1"));
    }

    #[test]
    fn splits_sysmon_hashes_from_event_data() {
        let row = json!({"Computer": "h", "EventData": {"Hashes": "MD5=AB,SHA256=CD,IMPHASH=EF"}});
        let e = extract_entities(row.as_object().unwrap_or(&Map::new()));
        assert!(e.contains(&Entity::new(EntityKind::FileHash, "CD")));
        assert!(!e.contains(&Entity::new(EntityKind::FileHash, "EF")));
    }
}
