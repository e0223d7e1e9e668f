//! PostureReport: exposure read from the data — open incidents by severity, devices with the
//! most alerts, accounts signing in without MFA or with legacy authentication, stale and
//! highly exposed devices, top ATT&CK techniques — each finding with what to do about it.
use super::{json_strings, md_cell};
use crate::query::{Rows, cell};
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput};
use crate::{Error, Result};
use serde_json::{Value, json};

/// Posture report.
pub struct PostureReport;

const LEGACY: &str = "(\"Exchange ActiveSync\", \"Other clients\", \"IMAP4\", \"POP3\", \"Authenticated SMTP\", \"Exchange Web Services\")";

struct Section {
    title: &'static str,
    query: String,
    guidance: &'static str,
    /// Columns shown, first is the subject.
    columns: &'static [&'static str],
}

impl Skill for PostureReport {
    fn name(&self) -> &'static str {
        "PostureReport"
    }
    fn description(&self) -> &'static str {
        "Report the security posture from the data: open incidents by severity, devices with the most alerts, accounts signing in without MFA or with legacy authentication, stale or highly exposed devices, top attack techniques, with prescriptive guidance."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "give me a posture report",
            "what is our security posture?",
            "where are we exposed?",
            "which weak spots should we fix first?",
        ]
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }
    fn run(&self, ctx: &SkillContext, _input: &Value) -> Result<SkillOutput> {
        let sections = [
            Section {
                title: "Open incidents by severity",
                query: "SecurityIncident\n| where Status != \"Closed\"\n| summarize Incidents = count() by Severity\n| sort by Incidents desc".into(),
                guidance: "Triage High incidents first; assign an owner to each.",
                columns: &["Severity", "Incidents"],
            },
            Section {
                title: "Devices with the most alerts",
                query: "AlertEvidence\n| where EntityType == \"Machine\" and isnotempty(DeviceName)\n| summarize Alerts = dcount(AlertId) by DeviceName\n| top 10 by Alerts desc".into(),
                guidance: "Investigate these devices; isolate any with confirmed malicious activity.",
                columns: &["DeviceName", "Alerts"],
            },
            Section {
                title: "Accounts signing in without MFA",
                query: "SigninLogs\n| where ResultType == \"0\" and AuthenticationRequirement == \"singleFactorAuthentication\"\n| summarize SignIns = count(), Apps = make_set(AppDisplayName, 5) by UserPrincipalName\n| sort by SignIns desc".into(),
                guidance: "Enforce MFA with a Conditional Access policy for every user; start with these accounts.",
                columns: &["UserPrincipalName", "SignIns", "Apps"],
            },
            Section {
                title: "Accounts using legacy authentication",
                query: format!("SigninLogs\n| where ResultType == \"0\" and ClientAppUsed in {LEGACY}\n| summarize SignIns = count(), Clients = make_set(ClientAppUsed, 5) by UserPrincipalName\n| sort by SignIns desc"),
                guidance: "Block legacy authentication with Conditional Access and move these mail clients to modern authentication.",
                columns: &["UserPrincipalName", "SignIns", "Clients"],
            },
            Section {
                title: "Stale devices (no inventory report for 3 days)",
                query: "DeviceInfo\n| summarize LastSeen = max(TimeGenerated) by DeviceName\n| where LastSeen < ago(3d)\n| sort by LastSeen asc".into(),
                guidance: "Check the sensor on stale devices or retire them from the inventory.",
                columns: &["DeviceName", "LastSeen"],
            },
            Section {
                title: "Highly exposed devices",
                query: "DeviceInfo\n| where ExposureLevel == \"High\" or IsInternetFacing == true\n| summarize LastSeen = max(TimeGenerated) by DeviceName, ExposureLevel\n| sort by DeviceName asc".into(),
                guidance: "Patch and harden highly exposed devices first; limit what is reachable from the internet.",
                columns: &["DeviceName", "ExposureLevel"],
            },
            Section {
                title: "Top attack techniques in alerts",
                query: "AlertInfo\n| where isnotempty(AttackTechniques) and AttackTechniques != \"[]\"\n| summarize Alerts = count() by AttackTechniques\n| top 10 by Alerts desc".into(),
                guidance: "Review detections and hardening for the most frequent techniques.",
                columns: &["AttackTechniques", "Alerts"],
            },
        ];
        let mut md = String::from("**Security posture from the data**\n");
        let mut evidence = Vec::new();
        let mut result = serde_json::Map::new();
        let mut users: Vec<String> = Vec::new();
        let mut devices: Vec<String> = Vec::new();
        for s in &sections {
            let rows: Rows = match ctx.query(&s.query) {
                Ok(r) => r,
                Err(Error::Query { .. }) => continue,
                Err(e) => return Err(e),
            };
            md.push_str(&format!("\n**{}**: ", s.title));
            if rows.row_count == 0 {
                md.push_str("none.\n");
            } else {
                md.push_str(&format!("{} found. {}\n\n", rows.row_count, s.guidance));
                md.push_str(&format!(
                    "| {} |\n|{}\n",
                    s.columns.join(" | "),
                    " --- |".repeat(s.columns.len())
                ));
                for r in rows.rows.iter().take(15) {
                    let cells: Vec<String> = s
                        .columns
                        .iter()
                        .map(|c| {
                            let v = r.get(*c);
                            if matches!(v, Some(Value::Array(_))) {
                                json_strings(v).join(", ")
                            } else {
                                md_cell(&cell(r, c), 200)
                            }
                        })
                        .collect();
                    md.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
                if rows.row_count > 15 {
                    md.push_str(&format!("\n_{} more not shown._\n", rows.row_count - 15));
                }
            }
            for v in rows.column("UserPrincipalName") {
                if !users.contains(&v) {
                    users.push(v);
                }
            }
            for v in rows.column("DeviceName") {
                if !devices.contains(&v) {
                    devices.push(v);
                }
            }
            result
                .insert(s.title.to_string(), json!(rows.rows.iter().take(50).collect::<Vec<_>>()));
            evidence.push(Evidence::from_rows(self.name(), &rows));
        }
        result.insert("users".into(), json!(users.iter().take(50).collect::<Vec<_>>()));
        result.insert("devices".into(), json!(devices.iter().take(50).collect::<Vec<_>>()));
        Ok(SkillOutput { result: Value::Object(result), markdown: md, evidence })
    }
}
