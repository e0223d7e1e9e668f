//! EntitySummary: a device, user, IP, domain, URL, file or hash: where and when it was seen,
//! who and what it was seen with, and the alerts and incidents it is part of.
use super::{json_strings, lit, lookup_query, lookup_value, lookups, md_cell};
use crate::query::cell;
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput, input_str};
use crate::{Error, Result};
use bulwark_model::EntityKind;
use serde_json::{Value, json};

/// Entity summary.
pub struct EntitySummary;

fn parse_kind(s: &str) -> Option<EntityKind> {
    Some(match s.to_ascii_lowercase().as_str() {
        "device" | "host" | "machine" => EntityKind::Device,
        "user" | "account" => EntityKind::User,
        "mailbox" => EntityKind::Mailbox,
        "ip" | "address" => EntityKind::Ip,
        "domain" => EntityKind::Domain,
        "url" => EntityKind::Url,
        "file" => EntityKind::File,
        "hash" | "file_hash" => EntityKind::FileHash,
        _ => return None,
    })
}

fn alert_predicate(kind: EntityKind, v: &str) -> Option<String> {
    let q = lit(v);
    Some(match kind {
        EntityKind::Device => format!("DeviceName startswith {q}"),
        EntityKind::User | EntityKind::Mailbox => {
            format!("AccountName has {q} or AccountUpn has {q}")
        }
        EntityKind::Ip => format!("RemoteIP == {q}"),
        EntityKind::Domain | EntityKind::Url => format!("RemoteUrl has {q}"),
        EntityKind::FileHash => match v.len() {
            40 => format!("SHA1 == {q}"),
            _ => format!("SHA256 == {q}"),
        },
        EntityKind::File => format!("FileName =~ {q}"),
        _ => return None,
    })
}

impl Skill for EntitySummary {
    fn name(&self) -> &'static str {
        "EntitySummary"
    }
    fn description(&self) -> &'static str {
        "Summarize an entity (device, user, IP address, domain, URL, file, file hash): first and last seen, activity by table, related devices and users, related alerts and incidents."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "tell me about wks-fin-003",
            "who is nancy.robinson and what did she do",
            "what do we know about 37.120.233.17",
            "summarize activity for user adm-diego.king",
            "profile this host",
        ]
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {
            "kind": {"type": "string", "enum": ["device", "user", "mailbox", "ip", "domain", "url", "file", "hash"]},
            "value": {"type": "string"}
        }, "required": ["kind", "value"]})
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let kind_text = input_str(self.name(), input, "kind")?;
        let value = input_str(self.name(), input, "value")?;
        let kind = parse_kind(kind_text).ok_or_else(|| Error::Input {
            skill: self.name().into(),
            message: format!("unknown entity kind '{kind_text}'"),
        })?;
        let v = lookup_value(kind, value);
        let mut evidence = Vec::new();
        let mut tables = Vec::new();
        let (mut first, mut last) = (String::new(), String::new());
        let mut total: u64 = 0;
        let mut devices: Vec<String> = Vec::new();
        let mut users: Vec<String> = Vec::new();
        let mut md_rows = String::new();
        let ls = lookups(kind, &v);
        let queries: Vec<String> = ls.iter().map(|l| lookup_query(l, &v)).collect();
        for (l, outcome) in ls.iter().zip(ctx.query_many(&queries)) {
            let rows = match outcome {
                Ok(r) => r,
                Err(Error::Query { .. }) => continue,
                Err(e) => return Err(e),
            };
            let Some(r) = rows.rows.first() else { continue };
            let hits: u64 = cell(r, "Hits").parse().unwrap_or(0);
            if hits == 0 {
                continue;
            }
            total += hits;
            let f = cell(r, "FirstSeen");
            let la = cell(r, "LastSeen");
            if first.is_empty() || (!f.is_empty() && f < first) {
                first = f.clone();
            }
            if la > last {
                last = la.clone();
            }
            let ds = json_strings(r.get("Devices"));
            let us = json_strings(r.get("Users"));
            for d in &ds {
                if !devices.contains(d) && d.parse::<std::net::IpAddr>().is_err() {
                    devices.push(d.clone());
                }
            }
            for u in &us {
                if !users.contains(u) && !super::is_system_account(u) {
                    users.push(u.clone());
                }
            }
            md_rows.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                l.table,
                super::count(hits),
                f,
                la
            ));
            tables.push(json!({"table": l.table, "events": hits, "first_seen": f, "last_seen": la, "devices": ds, "users": us}));
            evidence.push(Evidence::from_rows(self.name(), &rows));
        }
        // Related alerts and incidents.
        let mut alert_count = 0u64;
        let mut titles = Vec::new();
        let mut incidents = Vec::new();
        if let Some(pred) = alert_predicate(kind, &v) {
            let q = format!(
                "AlertEvidence\n| where {pred}\n| summarize Alerts = dcount(AlertId), FirstAlert = min(TimeGenerated), LastAlert = max(TimeGenerated), Titles = make_set(Title, 15), AlertIds = make_set(AlertId, 5000)"
            );
            if let Ok(rows) = ctx.query(&q)
                && let Some(r) = rows.rows.first()
            {
                alert_count = cell(r, "Alerts").parse().unwrap_or(0);
                titles = json_strings(r.get("Titles"));
                let ids = json_strings(r.get("AlertIds"));
                evidence.push(Evidence::from_rows(self.name(), &rows));
                if !ids.is_empty() {
                    let iq = "SecurityIncident\n| project IncidentNumber, Title, Severity, Status, AlertIds\n| sort by IncidentNumber asc";
                    if let Ok(inc) = ctx.query(iq) {
                        for row in &inc.rows {
                            let members = json_strings(row.get("AlertIds"));
                            let shared = members.iter().filter(|m| ids.contains(m)).count();
                            if shared > 0 {
                                incidents.push(json!({"number": cell(row, "IncidentNumber"), "title": cell(row, "Title"), "severity": cell(row, "Severity"), "status": cell(row, "Status"), "alerts": shared}));
                            }
                        }
                        if !incidents.is_empty() {
                            evidence.push(Evidence::from_rows(self.name(), &inc));
                        }
                    }
                }
            }
        }
        let mut md = if total == 0 {
            format!("No activity for {} `{value}` in the data.\n", kind.name())
        } else {
            format!(
                "**{} `{value}`**: {} events in {} tables, first seen {first}, last seen {last}.\n\n| table | events | first seen | last seen |\n| --- | --- | --- | --- |\n{md_rows}\n",
                kind.name(),
                super::count(total),
                tables.len()
            )
        };
        if !devices.is_empty() && kind != EntityKind::Device {
            md.push_str(&format!(
                "Devices: {}.\n\n",
                devices.iter().take(15).map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        if !users.is_empty() {
            md.push_str(&format!(
                "Users: {}.\n\n",
                users.iter().take(15).map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        if alert_count > 0 {
            md.push_str(&format!(
                "Related alerts: {alert_count} ({}).\n\n",
                titles.iter().take(8).map(|t| md_cell(t, 100)).collect::<Vec<_>>().join("; ")
            ));
        } else {
            md.push_str("No alerts involve it.\n\n");
        }
        for i in &incidents {
            md.push_str(&format!(
                "- Incident {} ({} severity, {}): {} — {} of its alerts involve this {}.\n",
                i["number"].as_str().unwrap_or(""),
                i["severity"].as_str().unwrap_or(""),
                i["status"].as_str().unwrap_or(""),
                md_cell(i["title"].as_str().unwrap_or(""), 160),
                i["alerts"],
                kind.name()
            ));
        }
        let incident_number =
            incidents.first().and_then(|i| i["number"].as_str()).map(String::from);
        let result = json!({
            "kind": kind.name(), "value": value, "events": total, "first_seen": first, "last_seen": last,
            "tables": tables, "devices": devices, "users": users, "alerts": alert_count, "alert_titles": titles,
            "incidents": incidents, "incident_number": incident_number,
        });
        Ok(SkillOutput { result, markdown: md, evidence })
    }
}
