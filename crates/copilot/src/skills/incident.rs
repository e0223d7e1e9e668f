//! Incident skills: IncidentSummary (what, when, where, who, how in kill-chain order),
//! IncidentImpact (affected assets, data volume, blast radius, severity rationale) and
//! GuidedResponse (triage → investigation → containment → remediation → recovery, each step
//! with a KQL query to verify it). All three start from [`load_incident`], which reads the
//! incident, its alerts and their evidence through KQL.
use super::{
    count, is_internal_ip, is_system_account, json_object, json_strings, lit, lit_list, md_cell,
};
use crate::query::{Rows, cell};
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput};
use crate::{Error, Result};
use serde_json::{Value, json};

/// ATT&CK tactics in kill-chain order, as Defender names alert categories.
const KILL_CHAIN: &[&str] = &[
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "CommandAndControl",
    "Exfiltration",
    "Impact",
];

fn stage_index(category: &str) -> usize {
    let norm: String = category.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    KILL_CHAIN.iter().position(|k| k.eq_ignore_ascii_case(&norm)).unwrap_or(KILL_CHAIN.len())
}

/// Alerts of one title within an incident.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertGroup {
    /// Title.
    pub title: String,
    /// Category (tactic).
    pub category: String,
    /// Severity.
    pub severity: String,
    /// How many alerts.
    pub count: usize,
    /// First alert time.
    pub first: String,
    /// Last alert time.
    pub last: String,
    /// Devices in their evidence.
    pub devices: Vec<String>,
    /// Accounts in their evidence.
    pub users: Vec<String>,
}

/// An incident with its alerts and entities, read through KQL.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IncidentData {
    /// Incident number.
    pub number: String,
    /// Incident name (`INC-…`).
    pub name: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// Status.
    pub status: String,
    /// First activity.
    pub first: String,
    /// Last activity.
    pub last: String,
    /// Member alert ids.
    pub alert_ids: Vec<String>,
    /// Tactics (kill-chain order, as recorded).
    pub tactics: Vec<String>,
    /// Techniques.
    pub techniques: Vec<String>,
    /// Alerts grouped by title, in order of first occurrence.
    pub alerts: Vec<AlertGroup>,
    /// Devices (host names as in telemetry).
    pub devices: Vec<String>,
    /// User accounts (not system accounts).
    pub users: Vec<String>,
    /// Mailboxes.
    pub mailboxes: Vec<String>,
    /// External IP addresses.
    pub external_ips: Vec<String>,
    /// Domains and URLs.
    pub domains: Vec<String>,
    /// File hashes.
    pub hashes: Vec<String>,
    /// First device in the alerts' evidence, and when.
    pub first_device: Option<(String, String)>,
    /// First account in the alerts' evidence, and when.
    pub first_user: Option<(String, String)>,
    /// Queries behind all of this.
    #[serde(skip)]
    pub evidence: Vec<Evidence>,
}

const SEVERITY_RANK: &[&str] = &["Informational", "Low", "Medium", "High"];

fn severity_rank(s: &str) -> usize {
    SEVERITY_RANK.iter().position(|x| x.eq_ignore_ascii_case(s)).unwrap_or(0)
}

/// Prompt words → text expected in a matching incident's title, description or entities.
const HINTS: &[(&[&str], &[&str])] = &[
    (
        &[
            "spray", "password", "sign-in", "signin", "inbox", "forward", "mailbox", "victim",
            "brute",
        ],
        &["t1110", "t1114", "collection", "185.220."],
    ),
    (
        &[
            "malware",
            "antivirus",
            "quarantin",
            "agenttesla",
            "agent tesla",
            "pdf",
            "commodity",
            "download",
        ],
        &["msmpeng", "pdfconverter", "antivirus", "malware"],
    ),
    (
        &[
            "intrusion",
            "exfil",
            "lateral",
            "macro",
            "phish",
            "patient zero",
            "ransom",
            "c2",
            "beacon",
            "implant",
            "lsass",
            "psexec",
            "rclone",
            "breach",
            "multi-stage",
        ],
        &["exfiltration", "lateral-movement", "t1566", "command-and-control"],
    ),
];

fn pick_incident(rows: &Rows, id: Option<&str>, hint: &str) -> Option<usize> {
    if rows.rows.is_empty() {
        return None;
    }
    if let Some(id) = id {
        let id = id.trim().trim_start_matches('#');
        return rows.rows.iter().position(|r| {
            cell(r, "IncidentNumber") == id || cell(r, "IncidentName").eq_ignore_ascii_case(id)
        });
    }
    let hint = hint.to_lowercase();
    let mut best: Option<(usize, (usize, usize, usize, usize))> = None;
    for (i, r) in rows.rows.iter().enumerate() {
        let hay = format!(
            "{} {} {}",
            cell(r, "Title"),
            cell(r, "Description"),
            r.get("AdditionalData").map(|v| v.to_string()).unwrap_or_default()
        )
        .to_lowercase();
        let mut score = 0;
        for (words, needles) in HINTS {
            if words.iter().any(|w| hint.contains(w)) {
                score += needles.iter().filter(|n| hay.contains(*n)).count();
            }
        }
        // Entities named in the prompt.
        for token in hint.split_whitespace() {
            let t =
                token.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-');
            if t.len() > 4 && (t.contains('.') || t.contains('-')) && hay.contains(t) {
                score += 5;
            }
        }
        let alerts = json_strings(r.get("AlertIds")).len();
        let key = (score, severity_rank(&cell(r, "Severity")), alerts, i);
        if best.as_ref().is_none_or(|(_, k)| key > *k) {
            best = Some((i, key));
        }
    }
    best.map(|b| b.0)
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if !v.is_empty() && !list.iter().any(|x| x.eq_ignore_ascii_case(v)) {
        list.push(v.to_string());
    }
}

/// Loads an incident (by number or name; without one, the incident that best matches `hint`,
/// then the most severe and largest) with its alerts and evidence.
pub fn load_incident(
    ctx: &SkillContext,
    skill: &str,
    id: Option<&str>,
    hint: &str,
) -> Result<IncidentData> {
    let q = "SecurityIncident\n| project IncidentNumber, IncidentName, Title, Description, Severity, Status, FirstActivityTime, LastActivityTime, AlertIds, AdditionalData\n| sort by IncidentNumber asc";
    let all = ctx.query(q)?;
    let Some(index) = pick_incident(&all, id, hint) else {
        return Err(Error::Input {
            skill: skill.to_string(),
            message: match id {
                Some(id) => format!("no incident '{id}'"),
                None => "there are no incidents; run detection first (`bulwark detect`)".into(),
            },
        });
    };
    let row = &all.rows[index];
    let mut inc = IncidentData {
        number: cell(row, "IncidentNumber"),
        name: cell(row, "IncidentName"),
        title: cell(row, "Title"),
        severity: cell(row, "Severity"),
        status: cell(row, "Status"),
        first: cell(row, "FirstActivityTime"),
        last: cell(row, "LastActivityTime"),
        alert_ids: json_strings(row.get("AlertIds")),
        ..Default::default()
    };
    let mut ev = Evidence::from_rows(skill, &all);
    ev.sample_rows = vec![row.clone()];
    ev.row_count = 1;
    ev.query = Some(format!(
        "SecurityIncident\n| where IncidentNumber == {}\n| project IncidentNumber, IncidentName, Title, Description, Severity, Status, FirstActivityTime, LastActivityTime, AlertIds, AdditionalData",
        inc.number
    ));
    inc.evidence.push(ev.with_time_range(Some((inc.first.clone(), inc.last.clone()))));
    let data = json_object(row.get("AdditionalData"));
    inc.tactics = json_strings(data.get("tactics"));
    inc.techniques = json_strings(data.get("techniques"));
    if let Some(Value::Array(entities)) = data.get("entities") {
        for e in entities {
            let kind = e.get("kind").and_then(Value::as_str).unwrap_or("");
            let value = e.get("value").and_then(Value::as_str).unwrap_or("");
            match kind {
                "ip" if !is_internal_ip(value) => push_unique(&mut inc.external_ips, value),
                "domain" | "url" => push_unique(&mut inc.domains, value),
                "file_hash" => push_unique(&mut inc.hashes, value),
                "mailbox" => push_unique(&mut inc.mailboxes, value),
                _ => {}
            }
        }
    }
    if inc.alert_ids.is_empty() {
        return Ok(inc);
    }
    let ids = lit_list(&inc.alert_ids);
    let mut batch = ctx
        .query_many(&[
            format!(
                "AlertInfo\n| where AlertId in {ids}\n| summarize Alerts = count(), First = min(TimeGenerated), Last = max(TimeGenerated), Category = take_any(Category), Severity = max(Severity) by Title\n| sort by First asc"
            ),
            format!(
                "AlertEvidence\n| where AlertId in {ids}\n| summarize Devices = make_set(DeviceName, 10), Users = make_set(AccountName, 10) by Title"
            ),
            format!(
                "AlertEvidence\n| where AlertId in {ids}\n| where EntityType in (\"Machine\", \"User\")\n| summarize First = min(TimeGenerated) by EntityType, DeviceName, AccountName\n| sort by First asc"
            ),
        ])
        .into_iter();
    let mut next = || batch.next().unwrap_or_else(|| Ok(Rows::default()));
    let alerts = next()?;
    let evq = next()?;
    let order = next()?;
    for r in &alerts.rows {
        let title = cell(r, "Title");
        let ev_row = evq.rows.iter().find(|e| cell(e, "Title") == title);
        let devices: Vec<String> =
            ev_row.map(|e| json_strings(e.get("Devices"))).unwrap_or_default();
        let users: Vec<String> = ev_row
            .map(|e| json_strings(e.get("Users")))
            .unwrap_or_default()
            .into_iter()
            .filter(|u| !is_system_account(u))
            .collect();
        inc.alerts.push(AlertGroup {
            title,
            category: cell(r, "Category"),
            severity: cell(r, "Severity"),
            count: cell(r, "Alerts").parse().unwrap_or(0),
            first: cell(r, "First"),
            last: cell(r, "Last"),
            devices,
            users,
        });
    }
    inc.evidence.push(Evidence::from_rows(skill, &alerts));
    inc.evidence.push(Evidence::from_rows(skill, &evq));

    for r in &order.rows {
        let first = cell(r, "First");
        match cell(r, "EntityType").as_str() {
            "Machine" => {
                let d = cell(r, "DeviceName");
                // Host names without a domain duplicate the FQDN form when both appear.
                if !d.is_empty()
                    && !inc.devices.iter().any(|x| x.split('.').next() == d.split('.').next())
                {
                    inc.devices.push(d.clone());
                }
                if inc.first_device.is_none() && !d.is_empty() {
                    inc.first_device = Some((d, first));
                }
            }
            _ => {
                let u = cell(r, "AccountName");
                if !is_system_account(&u) {
                    push_unique(&mut inc.users, &u);
                    if inc.first_user.is_none() {
                        inc.first_user = Some((u, first));
                    }
                }
            }
        }
    }
    // Users known only by their mailbox (cloud incidents).
    if inc.users.is_empty() {
        let upns = ctx.query(&format!(
            "AlertEvidence\n| where AlertId in {ids}\n| where isnotempty(AccountUpn)\n| summarize First = min(TimeGenerated) by AccountUpn\n| sort by First asc"
        ))?;
        for r in &upns.rows {
            let upn = cell(r, "AccountUpn");
            // Object ids (GUIDs) are not names an analyst acts on.
            if upn.contains('@') {
                push_unique(&mut inc.users, &upn);
            }
        }
        inc.evidence.push(Evidence::from_rows(skill, &upns));
    }
    inc.evidence.push(Evidence::from_rows(skill, &order));
    // One name per account: `name` and `name@domain` are the same person.
    let plain: Vec<String> = inc.users.iter().filter(|u| !u.contains('@')).cloned().collect();
    inc.users.retain(|u| {
        !u.contains('@')
            || !plain.iter().any(|p| u.split('@').next().is_some_and(|l| l.eq_ignore_ascii_case(p)))
    });
    if let Some((u, t)) = &inc.first_user
        && let Some(local) = u.split('@').next()
        && u.contains('@')
        && plain.iter().any(|p| p.eq_ignore_ascii_case(local))
    {
        inc.first_user = Some((local.to_string(), t.clone()));
    }
    Ok(inc)
}

fn incident_input(input: &Value) -> (Option<String>, String) {
    let id = input.get("incident").and_then(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let hint = input.get("hint").and_then(Value::as_str).unwrap_or("").to_string();
    (id, hint)
}

fn incident_schema() -> Value {
    json!({"type": "object", "properties": {
        "incident": {"type": "string", "description": "incident number or name; omitted: the incident best matching the hint, else the most severe"},
        "hint": {"type": "string", "description": "words of the question, used to pick an incident"}
    }})
}

fn time_window(inc: &IncidentData) -> String {
    if inc.first.is_empty() || inc.last.is_empty() {
        return "TimeGenerated > ago(30d)".into();
    }
    format!("TimeGenerated between (datetime({}) .. datetime({}))", inc.first, inc.last)
}

fn short(d: &str) -> &str {
    d.split('.').next().unwrap_or(d)
}

/// Endpoints among the incident's devices: those with process telemetry.
fn endpoints(
    ctx: &SkillContext,
    skill: &str,
    inc: &IncidentData,
    evidence: &mut Vec<Evidence>,
) -> Vec<String> {
    if inc.devices.is_empty() {
        return Vec::new();
    }
    let names: Vec<&str> = inc.devices.iter().map(|d| short(d)).collect();
    let conds: Vec<String> =
        names.iter().map(|n| format!("DeviceName startswith {}", lit(n))).collect();
    let q = format!(
        "DeviceProcessEvents\n| where {}\n| summarize Processes = count() by DeviceName\n| sort by Processes desc",
        conds.join(" or ")
    );
    match ctx.query(&q) {
        Ok(rows) => {
            let list = rows.column("DeviceName");
            evidence.push(Evidence::from_rows(skill, &rows));
            list
        }
        Err(_) => inc.devices.clone(),
    }
}

/// Incident summary.
pub struct IncidentSummary;

impl Skill for IncidentSummary {
    fn name(&self) -> &'static str {
        "IncidentSummary"
    }
    fn description(&self) -> &'static str {
        "Summarize an incident: what happened, when, where (devices), who (users, patient zero) and how, in kill-chain order with alert counts and times, key command lines and external addresses."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "summarize incident 5",
            "what happened in the intrusion?",
            "who was patient zero?",
            "give me the timeline of the attack",
            "how did the attacker get in?",
            "tell me about that incident",
        ]
    }
    fn input_schema(&self) -> Value {
        incident_schema()
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let (id, hint) = incident_input(input);
        let inc = load_incident(ctx, self.name(), id.as_deref(), &hint)?;
        let mut evidence = inc.evidence.clone();
        let total: usize = inc.alerts.iter().map(|a| a.count).sum();
        let mut md = format!(
            "**Incident {}: {}**\n\n- **What**: {} severity, status {}, {} alerts of {} kinds; tactics: {}.\n- **When**: {} to {}.\n",
            inc.number,
            md_cell(&inc.title, 300),
            inc.severity,
            inc.status,
            total,
            inc.alerts.len(),
            if inc.tactics.is_empty() {
                "none recorded".to_string()
            } else {
                inc.tactics.join(", ")
            },
            inc.first,
            inc.last
        );
        if !inc.devices.is_empty() {
            md.push_str(&format!(
                "- **Where**: {}.\n",
                inc.devices.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        if !inc.users.is_empty() {
            md.push_str(&format!(
                "- **Who**: {}.\n",
                inc.users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        if let Some((d, t)) = &inc.first_device {
            let user =
                inc.first_user.as_ref().map(|(u, _)| format!(", user `{u}`")).unwrap_or_default();
            md.push_str(&format!(
                "- **Patient zero**: device `{d}`{user} (first alert evidence at {t}).\n"
            ));
        } else if let Some((u, t)) = &inc.first_user {
            md.push_str(&format!(
                "- **Patient zero**: account `{u}` (first alert evidence at {t}).\n"
            ));
        }
        md.push_str("\n**How** (alerts by first occurrence):\n\n| first | last | tactic | alerts | title | devices | users |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        for a in inc.alerts.iter().take(40) {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                a.first,
                a.last,
                a.category,
                a.count,
                md_cell(&a.title, 120),
                md_cell(&a.devices.iter().map(|d| short(d)).collect::<Vec<_>>().join(", "), 120),
                md_cell(&a.users.join(", "), 120)
            ));
        }
        let mut stages: Vec<(usize, &str)> =
            inc.alerts.iter().map(|a| (stage_index(&a.category), a.category.as_str())).collect();
        stages.sort();
        stages.dedup();
        md.push_str(&format!(
            "\nKill chain: {}.\n",
            stages.iter().map(|s| s.1).collect::<Vec<_>>().join(" → ")
        ));
        // How it started on the endpoint: what Office or the browser launched.
        let mut launched = Vec::new();
        if !inc.devices.is_empty() {
            let conds: Vec<String> = inc
                .devices
                .iter()
                .map(|d| format!("DeviceName startswith {}", lit(short(d))))
                .collect();
            let q = format!(
                "DeviceProcessEvents\n| where {}\n| where ({})\n| where InitiatingProcessFileName in~ (\"WINWORD.EXE\", \"EXCEL.EXE\", \"POWERPNT.EXE\", \"OUTLOOK.EXE\", \"mshta.exe\", \"wscript.exe\")\n| project TimeGenerated, DeviceName, AccountName, InitiatingProcessFileName, FileName, ProcessCommandLine\n| sort by TimeGenerated asc\n| take 10",
                time_window(&inc),
                conds.join(" or ")
            );
            if let Ok(rows) = ctx.query(&q)
                && rows.row_count > 0
            {
                md.push_str("\nProcesses started by Office or script hosts:\n\n");
                for r in &rows.rows {
                    md.push_str(&format!(
                        "- {} on `{}` by `{}`: {} launched `{}`\n",
                        cell(r, "TimeGenerated"),
                        cell(r, "DeviceName"),
                        cell(r, "AccountName"),
                        cell(r, "InitiatingProcessFileName"),
                        md_cell(&cell(r, "ProcessCommandLine"), 1000)
                    ));
                    launched.push(json!({"time": cell(r, "TimeGenerated"), "device": cell(r, "DeviceName"), "parent": cell(r, "InitiatingProcessFileName"), "command_line": cell(r, "ProcessCommandLine")}));
                }
                evidence.push(Evidence::from_rows(self.name(), &rows));
            }
        }
        let mut network = Vec::new();
        if !inc.external_ips.is_empty() {
            let q = format!(
                "DeviceNetworkEvents\n| where RemoteIP in {}\n| summarize Connections = count(), First = min(TimeGenerated), Last = max(TimeGenerated), Devices = make_set(DeviceName, 10) by RemoteIP\n| sort by Connections desc",
                lit_list(&inc.external_ips)
            );
            if let Ok(rows) = ctx.query(&q)
                && rows.row_count > 0
            {
                md.push_str("\nExternal addresses contacted:\n\n| address | connections | first | last | devices |\n| --- | --- | --- | --- | --- |\n");
                for r in &rows.rows {
                    md.push_str(&format!(
                        "| {} | {} | {} | {} | {} |\n",
                        cell(r, "RemoteIP"),
                        cell(r, "Connections"),
                        cell(r, "First"),
                        cell(r, "Last"),
                        json_strings(r.get("Devices")).join(", ")
                    ));
                    network.push(
                        json!({"ip": cell(r, "RemoteIP"), "connections": cell(r, "Connections")}),
                    );
                }
                evidence.push(Evidence::from_rows(self.name(), &rows));
            }
        }
        let result = json!({
            "incident_number": inc.number, "name": inc.name, "title": inc.title, "severity": inc.severity,
            "status": inc.status, "first": inc.first, "last": inc.last, "alerts": total,
            "alert_groups": inc.alerts, "tactics": inc.tactics, "techniques": inc.techniques,
            "devices": inc.devices, "users": inc.users, "ips": inc.external_ips,
            "patient_zero_device": inc.first_device.as_ref().map(|d| d.0.clone()),
            "patient_zero_user": inc.first_user.as_ref().map(|u| u.0.clone()),
            "launched": launched, "network": network,
        });
        Ok(SkillOutput { result, markdown: md, evidence })
    }
}

/// Incident impact.
pub struct IncidentImpact;

impl Skill for IncidentImpact {
    fn name(&self) -> &'static str {
        "IncidentImpact"
    }
    fn description(&self) -> &'static str {
        "Assess an incident's impact: affected devices, users and mailboxes, business-critical assets, data volume sent out and to where, blast radius (other accounts on the compromised devices), and the severity rationale."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "what is the impact of incident 5?",
            "how much data was exfiltrated and where did it go?",
            "what is the blast radius?",
            "which assets are affected?",
            "how bad is it?",
        ]
    }
    fn input_schema(&self) -> Value {
        incident_schema()
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let (id, hint) = incident_input(input);
        let inc = load_incident(ctx, self.name(), id.as_deref(), &hint)?;
        let mut evidence = inc.evidence.clone();
        let endpoints = endpoints(ctx, self.name(), &inc, &mut evidence);
        let critical: Vec<&String> = endpoints
            .iter()
            .filter(|d| {
                let s = short(d).to_ascii_lowercase();
                s.starts_with("srv") || s.starts_with("dc") || s.contains("sql") || s.contains("fs")
            })
            .collect();
        let mut md = format!(
            "**Impact of incident {}** ({} severity)\n\n- Devices affected: {} ({}).\n- Business-critical assets (servers, domain controllers): {}.\n- Accounts involved: {} ({}).\n- Mailboxes involved: {}.\n",
            inc.number,
            inc.severity,
            endpoints.len(),
            endpoints.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", "),
            if critical.is_empty() {
                "none".to_string()
            } else {
                critical.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
            },
            inc.users.len(),
            inc.users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", "),
            inc.mailboxes.len()
        );
        let mut transfers = Vec::new();
        if !inc.external_ips.is_empty() {
            let q = format!(
                "CommonSecurityLog\n| where DestinationIP in {}\n| summarize SentBytes = sum(SentBytes), Sessions = count(), Sources = make_set(SourceIP, 10) by DestinationIP\n| sort by SentBytes desc",
                lit_list(&inc.external_ips)
            );
            if let Ok(rows) = ctx.query(&q)
                && rows.row_count > 0
            {
                md.push_str("\nData sent to the incident's external addresses (firewall):\n\n| destination | bytes sent | sessions | sources |\n| --- | --- | --- | --- |\n");
                for r in &rows.rows {
                    let bytes: u64 =
                        cell(r, "SentBytes").parse::<f64>().map(|b| b as u64).unwrap_or(0);
                    md.push_str(&format!(
                        "| {} | {} | {} | {} |\n",
                        cell(r, "DestinationIP"),
                        count(bytes),
                        cell(r, "Sessions"),
                        json_strings(r.get("Sources")).join(", ")
                    ));
                    transfers.push(json!({"ip": cell(r, "DestinationIP"), "bytes": bytes}));
                }
                if let Some(top) = transfers.first() {
                    md.push_str(&format!(
                        "\nThe largest transfer went to **{}**: {} bytes.\n",
                        top["ip"].as_str().unwrap_or(""),
                        count(top["bytes"].as_u64().unwrap_or(0))
                    ));
                }
                evidence.push(Evidence::from_rows(self.name(), &rows));
            }
        }
        let mut blast = Vec::new();
        if !endpoints.is_empty() {
            let q = format!(
                "DeviceLogonEvents\n| where DeviceName in {}\n| where ActionType == \"LogonSuccess\"\n| summarize Logons = count(), Devices = make_set(DeviceName, 10) by AccountName\n| sort by Logons desc",
                lit_list(&endpoints)
            );
            if let Ok(rows) = ctx.query(&q) {
                for r in &rows.rows {
                    let a = cell(r, "AccountName");
                    if !is_system_account(&a) {
                        blast.push(a);
                    }
                }
                if !blast.is_empty() {
                    md.push_str(&format!(
                        "\nBlast radius: {} accounts signed in to the affected devices and may have exposed credentials: {}.\n",
                        blast.len(),
                        blast.iter().take(20).map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                    ));
                }
                evidence.push(Evidence::from_rows(self.name(), &rows));
            }
        }
        let mut rationale = Vec::new();
        for (tactic, why) in [
            ("exfiltration", "data left the network"),
            ("lateral-movement", "the attacker moved between devices"),
            ("credential-access", "credentials were stolen or guessed"),
            ("persistence", "the attacker set up persistence"),
            ("collection", "data or mail was collected"),
            ("command-and-control", "a device talked to attacker infrastructure"),
        ] {
            if inc.tactics.iter().any(|t| t == tactic) {
                rationale.push(why);
            }
        }
        if !critical.is_empty() {
            rationale.push("business-critical servers are involved");
        }
        md.push_str(&format!(
            "\nSeverity rationale: {} — {}.\n",
            inc.severity,
            if rationale.is_empty() {
                "no high-impact tactic recorded".to_string()
            } else {
                rationale.join("; ")
            }
        ));
        let result = json!({
            "incident_number": inc.number, "severity": inc.severity, "devices": endpoints,
            "critical_assets": critical, "users": inc.users, "mailboxes": inc.mailboxes,
            "transfers": transfers, "blast_radius_accounts": blast, "rationale": rationale,
            "ips": inc.external_ips,
        });
        Ok(SkillOutput { result, markdown: md, evidence })
    }
}

/// Guided response.
pub struct GuidedResponse;

struct Step {
    phase: &'static str,
    action: String,
    verify: Option<String>,
    link: Option<String>,
}

impl Skill for GuidedResponse {
    fn name(&self) -> &'static str {
        "GuidedResponse"
    }
    fn description(&self) -> &'static str {
        "Recommend response steps for an incident — triage, investigation, containment, remediation, recovery — tailored to its devices, accounts, inbox rules, persistence and indicators: what to isolate, disable, reset, revoke, delete and block first, each with a KQL query to verify it."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "what should we do first?",
            "how do I respond to incident 5?",
            "give me remediation steps",
            "what should be contained?",
            "recommend next steps for this incident",
        ]
    }
    fn input_schema(&self) -> Value {
        incident_schema()
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let (id, hint) = incident_input(input);
        let inc = load_incident(ctx, self.name(), id.as_deref(), &hint)?;
        let mut evidence = inc.evidence.clone();
        let endpoints = endpoints(ctx, self.name(), &inc, &mut evidence);
        let window = time_window(&inc);
        let mut steps: Vec<Step> = Vec::new();
        steps.push(Step {
            phase: "Triage",
            action: format!(
                "Assign incident {} ({} severity, {} alert kinds) to an owner and set it to Active.",
                inc.number,
                inc.severity,
                inc.alerts.len()
            ),
            verify: Some(format!("SecurityIncident\n| where IncidentNumber == {}\n| project IncidentNumber, Status, Owner, Severity", inc.number)),
            link: Some(format!("/incidents/{}", inc.number)),
        });
        if let Some((d, t)) = &inc.first_device {
            steps.push(Step {
                phase: "Investigation",
                action: format!("Review the process tree on patient zero `{d}` from {t}."),
                verify: Some(format!(
                    "DeviceProcessEvents\n| where DeviceName startswith {}\n| where {window}\n| project TimeGenerated, AccountName, InitiatingProcessFileName, FileName, ProcessCommandLine\n| sort by TimeGenerated asc",
                    lit(short(d))
                )),
                link: Some(format!("/devices/{}", short(d))),
            });
        }
        // Cloud incidents: which accounts signed in from the attacker's addresses (compromised)
        // and which were only targeted.
        let mut compromised: Vec<String> = inc.users.clone();
        let mut targeted: Vec<String> = Vec::new();
        if inc.devices.is_empty() && !inc.external_ips.is_empty() {
            let q = format!(
                "SigninLogs\n| where IPAddress in {}\n| summarize Failures = countif(ResultType != \"0\"), Successes = countif(ResultType == \"0\") by UserPrincipalName\n| sort by Successes desc",
                lit_list(&inc.external_ips)
            );
            if let Ok(rows) = ctx.query(&q) {
                compromised.clear();
                for r in &rows.rows {
                    let u = cell(r, "UserPrincipalName");
                    if cell(r, "Successes").parse::<u64>().unwrap_or(0) > 0 {
                        compromised.push(u);
                    } else {
                        targeted.push(u);
                    }
                }
                evidence.push(Evidence::from_rows(self.name(), &rows));
            }
        }
        let inc = IncidentData { users: compromised, ..inc };
        for u in inc.users.iter().take(5) {
            steps.push(Step {
                phase: "Investigation",
                action: format!("Review sign-ins and activity of `{u}` during the incident."),
                verify: Some(format!(
                    "SigninLogs\n| where UserPrincipalName has {}\n| where {window}\n| project TimeGenerated, IPAddress, AppDisplayName, ResultType, UserAgent",
                    lit(u.split('@').next().unwrap_or(u))
                )),
                link: Some(format!("/users/{}", u)),
            });
        }
        for d in &endpoints {
            steps.push(Step {
                phase: "Containment",
                action: format!("Isolate device `{d}` from the network."),
                verify: Some(format!(
                    "DeviceNetworkEvents\n| where DeviceName == {}\n| where TimeGenerated > ago(1h)\n| summarize Connections = count() by RemoteIP",
                    lit(d)
                )),
                link: Some(format!("/devices/{}", short(d))),
            });
        }
        for u in &inc.users {
            steps.push(Step {
                phase: "Containment",
                action: format!("Disable account `{u}`, reset its password and revoke its sessions and refresh tokens."),
                verify: Some(format!(
                    "SigninLogs\n| where UserPrincipalName has {}\n| where TimeGenerated > ago(1h)\n| project TimeGenerated, IPAddress, ResultType",
                    lit(u.split('@').next().unwrap_or(u))
                )),
                link: Some(format!("/users/{u}")),
            });
        }
        if !targeted.is_empty() {
            steps.push(Step {
                phase: "Containment",
                action: format!(
                    "Require a password change and check MFA registration for the {} accounts targeted from the same addresses without a successful sign-in.",
                    targeted.len()
                ),
                verify: Some(format!(
                    "SigninLogs\n| where IPAddress in {}\n| summarize Attempts = count() by UserPrincipalName, ResultType",
                    lit_list(&inc.external_ips)
                )),
                link: None,
            });
        }
        // Inbox rules created by the incident's users.
        let mut rules = Vec::new();
        let upns: Vec<String> = inc
            .users
            .iter()
            .chain(inc.mailboxes.iter())
            .filter(|u| u.contains('@'))
            .cloned()
            .collect();
        let names: Vec<String> =
            inc.users.iter().map(|u| u.split('@').next().unwrap_or(u).to_string()).collect();
        if !names.is_empty() || !upns.is_empty() {
            let mut who: Vec<String> =
                names.iter().map(|n| format!("UserId has {}", lit(n))).collect();
            who.extend(upns.iter().map(|u| format!("UserId =~ {}", lit(u))));
            let q = format!(
                "OfficeActivity\n| where Operation in (\"New-InboxRule\", \"Set-InboxRule\", \"UpdateInboxRules\")\n| where {}\n| project TimeGenerated, UserId, ClientIP, Parameters\n| sort by TimeGenerated asc",
                who.join(" or ")
            );
            if let Ok(rows) = ctx.query(&q) {
                for r in &rows.rows {
                    let params = cell(r, "Parameters");
                    let forward = forward_address(&params);
                    let user = cell(r, "UserId");
                    steps.push(Step {
                        phase: "Containment",
                        action: match &forward {
                            Some(f) => format!("Delete the inbox rule of `{user}` that forwards mail to `{f}` (created {} from {}).", cell(r, "TimeGenerated"), cell(r, "ClientIP")),
                            None => format!("Delete the inbox rule created by `{user}` at {}.", cell(r, "TimeGenerated")),
                        },
                        verify: Some(format!(
                            "OfficeActivity\n| where UserId =~ {}\n| where Operation in (\"New-InboxRule\", \"Set-InboxRule\", \"Remove-InboxRule\")\n| project TimeGenerated, Operation, Parameters",
                            lit(&user)
                        )),
                        link: Some(format!("/users/{user}")),
                    });
                    rules.push(json!({"user": user, "forward_to": forward, "client_ip": cell(r, "ClientIP")}));
                }
                if rows.row_count > 0 {
                    evidence.push(Evidence::from_rows(self.name(), &rows));
                }
            }
        }
        for ip in &inc.external_ips {
            steps.push(Step {
                phase: "Containment",
                action: format!("Block IP address `{ip}` at the firewall and proxy."),
                verify: Some(format!(
                    "DeviceNetworkEvents\n| where RemoteIP == {}\n| where TimeGenerated > ago(1h)\n| summarize Connections = count() by DeviceName",
                    lit(ip)
                )),
                link: None,
            });
        }
        for d in inc.domains.iter().take(10) {
            steps.push(Step {
                phase: "Containment",
                action: format!("Block domain/URL `{d}`."),
                verify: Some(format!("DeviceNetworkEvents\n| where RemoteUrl has {}\n| summarize Connections = count() by DeviceName", lit(d))),
                link: None,
            });
        }
        // Persistence on the affected devices during the incident.
        let mut persistence = Vec::new();
        if !endpoints.is_empty() {
            let q = format!(
                "DeviceRegistryEvents\n| where DeviceName in {}\n| where {window}\n| where ActionType == \"RegistryValueSet\" and RegistryKey contains \"CurrentVersion\\\\Run\"\n| project TimeGenerated, DeviceName, RegistryKey, RegistryValueName, RegistryValueData",
                lit_list(&endpoints)
            );
            if let Ok(rows) = ctx.query(&q) {
                for r in &rows.rows {
                    steps.push(Step {
                        phase: "Remediation",
                        action: format!(
                            "Remove the Run key value `{}` (`{}`) on `{}`.",
                            cell(r, "RegistryValueName"),
                            md_cell(&cell(r, "RegistryValueData"), 200),
                            cell(r, "DeviceName")
                        ),
                        verify: Some(format!(
                            "DeviceRegistryEvents\n| where DeviceName == {}\n| where RegistryValueName == {}\n| project TimeGenerated, ActionType, RegistryKey",
                            lit(&cell(r, "DeviceName")),
                            lit(&cell(r, "RegistryValueName"))
                        )),
                        link: Some(format!("/devices/{}", short(&cell(r, "DeviceName")))),
                    });
                    persistence.push(json!({"kind": "run_key", "device": cell(r, "DeviceName"), "name": cell(r, "RegistryValueName"), "data": cell(r, "RegistryValueData")}));
                }
                if rows.row_count > 0 {
                    evidence.push(Evidence::from_rows(self.name(), &rows));
                }
            }
            let q = format!(
                "DeviceProcessEvents\n| where DeviceName in {}\n| where {window}\n| where FileName =~ \"schtasks.exe\" and ProcessCommandLine has \"/create\"\n| project TimeGenerated, DeviceName, AccountName, ProcessCommandLine",
                lit_list(&endpoints)
            );
            if let Ok(rows) = ctx.query(&q) {
                for r in &rows.rows {
                    let cmd = cell(r, "ProcessCommandLine");
                    steps.push(Step {
                        phase: "Remediation",
                        action: format!("Delete the scheduled task created on `{}`: `{}`.", cell(r, "DeviceName"), md_cell(&cmd, 300)),
                        verify: Some(format!(
                            "DeviceEvents\n| where DeviceName == {}\n| where ActionType in (\"ScheduledTaskCreated\", \"ScheduledTaskDeleted\")\n| project TimeGenerated, ActionType, AdditionalFields",
                            lit(&cell(r, "DeviceName"))
                        )),
                        link: Some(format!("/devices/{}", short(&cell(r, "DeviceName")))),
                    });
                    persistence.push(json!({"kind": "scheduled_task", "device": cell(r, "DeviceName"), "command_line": cmd}));
                }
                if rows.row_count > 0 {
                    evidence.push(Evidence::from_rows(self.name(), &rows));
                }
            }
        }
        // Files dropped during the incident (not every binary it used: PowerShell stays).
        let mut dropped = Vec::new();
        let sha: Vec<&String> = inc.hashes.iter().filter(|h| h.len() == 64).collect();
        if !sha.is_empty() && !endpoints.is_empty() {
            let q = format!(
                "DeviceFileEvents\n| where SHA256 in {}\n| where {window}\n| where ActionType == \"FileCreated\"\n| summarize Devices = make_set(DeviceName, 10), First = min(TimeGenerated) by SHA256, FileName, FolderPath\n| sort by First asc",
                lit_list(&sha)
            );
            if let Ok(rows) = ctx.query(&q) {
                for r in &rows.rows {
                    let h = cell(r, "SHA256");
                    steps.push(Step {
                        phase: "Remediation",
                        action: format!(
                            "Remove `{}` (SHA-256 `{h}`) from {} and block the hash.",
                            cell(r, "FolderPath"),
                            json_strings(r.get("Devices")).iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
                        ),
                        verify: Some(format!("DeviceFileEvents\n| where SHA256 == {}\n| summarize Files = count() by DeviceName, FolderPath", lit(&h))),
                        link: None,
                    });
                    dropped.push(json!({"sha256": h, "path": cell(r, "FolderPath")}));
                }
                if rows.row_count > 0 {
                    evidence.push(Evidence::from_rows(self.name(), &rows));
                }
            }
        }
        for d in &endpoints {
            steps.push(Step {
                phase: "Recovery",
                action: format!("Reimage or restore `{d}` from a known-good state, then release it from isolation and watch it for 7 days."),
                verify: Some(format!("AlertEvidence\n| where DeviceName == {}\n| where TimeGenerated > ago(7d)\n| summarize Alerts = dcount(AlertId)", lit(d))),
                link: Some(format!("/devices/{}", short(d))),
            });
        }
        if !inc.users.is_empty() {
            steps.push(Step {
                phase: "Recovery",
                action: format!(
                    "Re-enable {} with new credentials and MFA re-registered, and review their MFA methods.",
                    inc.users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
                ),
                verify: Some(format!(
                    "AuditLogs\n| where OperationName has \"security info\"\n| where Identity in~ {}\n| project TimeGenerated, OperationName, Identity",
                    lit_list(&inc.users)
                )),
                link: None,
            });
        }
        // Verification queries must check before they are shown.
        let registry = ctx.runner.registry();
        let mut md =
            format!("**Response plan for incident {}** ({} severity)\n", inc.number, inc.severity);
        let mut last_phase = "";
        let mut n = 0;
        let mut out_steps = Vec::new();
        for s in &steps {
            if s.phase != last_phase {
                md.push_str(&format!("\n**{}**\n\n", s.phase));
                last_phase = s.phase;
            }
            n += 1;
            md.push_str(&format!("{n}. {}", s.action));
            if let Some(l) = &s.link {
                md.push_str(&format!(" ([open]({l}))"));
            }
            md.push('\n');
            let verify = s.verify.as_ref().filter(|q| crate::nl2kql::validate(q, registry).0);
            if let Some(q) = verify {
                md.push_str(&format!(
                    "   Verify:\n   ```kql\n   {}\n   ```\n",
                    q.replace('\n', "\n   ")
                ));
            }
            out_steps.push(
                json!({"phase": s.phase, "action": s.action, "verify": verify, "link": s.link}),
            );
        }
        let result = json!({
            "incident_number": inc.number, "steps": out_steps, "devices": endpoints, "users": inc.users,
            "ips": inc.external_ips, "targeted_accounts": targeted, "inbox_rules": rules, "persistence": persistence, "dropped_files": dropped,
        });
        Ok(SkillOutput { result, markdown: md, evidence })
    }
}

/// The `ForwardTo`/`RedirectTo`/`ForwardAsAttachmentTo` value of inbox-rule parameters.
fn forward_address(params: &str) -> Option<String> {
    let v: Value = serde_json::from_str(params).ok()?;
    let items = v.as_array()?;
    for p in items {
        let name = p.get("Name").and_then(Value::as_str).unwrap_or("");
        if matches!(name, "ForwardTo" | "RedirectTo" | "ForwardAsAttachmentTo") {
            return p.get("Value").and_then(Value::as_str).map(String::from);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_chain_order() {
        assert!(stage_index("InitialAccess") < stage_index("Execution"));
        assert!(stage_index("LateralMovement") < stage_index("Exfiltration"));
        assert_eq!(stage_index("Malware"), KILL_CHAIN.len());
    }

    #[test]
    fn forwarding_address_from_parameters() {
        let p = r#"[{"Name":"Name","Value":"."},{"Name":"ForwardTo","Value":"x@proton.me"}]"#;
        assert_eq!(forward_address(p).as_deref(), Some("x@proton.me"));
        assert_eq!(forward_address("not json"), None);
    }

    #[test]
    fn incident_choice_by_id_hint_and_severity() {
        let row = |n: i64, sev: &str, desc: &str, alerts: usize| {
            let mut m = serde_json::Map::new();
            m.insert("IncidentNumber".into(), json!(n));
            m.insert("IncidentName".into(), json!(format!("INC-{n}")));
            m.insert("Severity".into(), json!(sev));
            m.insert("Description".into(), json!(desc));
            m.insert(
                "AlertIds".into(),
                json!((0..alerts).map(|i| i.to_string()).collect::<Vec<_>>()),
            );
            m
        };
        let rows = Rows {
            rows: vec![
                row(1, "Medium", "tactics: initial-access", 3),
                row(
                    2,
                    "High",
                    "tactics: credential-access, collection; techniques: T1110.003, T1114.003",
                    9,
                ),
                row(3, "High", "tactics: lateral-movement, exfiltration", 600),
            ],
            ..Default::default()
        };
        assert_eq!(pick_incident(&rows, Some("2"), ""), Some(1));
        assert_eq!(pick_incident(&rows, Some("inc-1"), ""), Some(0));
        assert_eq!(pick_incident(&rows, Some("9"), ""), None);
        assert_eq!(pick_incident(&rows, None, ""), Some(2));
        assert_eq!(
            pick_incident(&rows, None, "which accounts were hit by the password spray"),
            Some(1)
        );
        assert_eq!(pick_incident(&rows, None, "where did the exfiltrated data go"), Some(2));
    }
}
