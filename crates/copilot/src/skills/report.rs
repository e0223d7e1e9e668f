//! SecurityReport: a period's incidents and trends written for an audience — executive
//! (plain language, business impact first), technical (tables, techniques, entities) or
//! auditor (timeline, statuses, who owns what) — in Markdown ready to share.
use super::{json_object, json_strings, md_cell};
use crate::Result;
use crate::query::cell;
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput};
use serde_json::{Value, json};

/// Security report.
pub struct SecurityReport;

impl Skill for SecurityReport {
    fn name(&self) -> &'static str {
        "SecurityReport"
    }
    fn description(&self) -> &'static str {
        "Write a security report of a period's incidents and trends for an audience (executive, technical or auditor), in Markdown ready to share."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "write an executive report for the past week",
            "security report for the auditors",
            "technical report of this week's incidents",
            "summarize the week's incidents for management",
        ]
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {
            "audience": {"type": "string", "enum": ["executive", "technical", "auditor"], "default": "executive"},
            "days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 7}
        }})
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let audience = input.get("audience").and_then(Value::as_str).unwrap_or("executive");
        let days = input.get("days").and_then(Value::as_u64).unwrap_or(7).clamp(1, 365);
        let q = format!(
            "SecurityIncident\n| where LastActivityTime > ago({days}d)\n| project IncidentNumber, Title, Severity, Status, Owner, FirstActivityTime, LastActivityTime, AdditionalData\n| sort by FirstActivityTime asc"
        );
        let rows = ctx.query(&q)?;
        let count_sev = |s: &str| rows.rows.iter().filter(|r| cell(r, "Severity") == s).count();
        let (high, medium, low) = (count_sev("High"), count_sev("Medium"), count_sev("Low"));
        let open = rows.rows.iter().filter(|r| cell(r, "Status") != "Closed").count();
        let mut tactics: Vec<(String, usize)> = Vec::new();
        let mut techniques: Vec<(String, usize)> = Vec::new();
        for r in &rows.rows {
            let data = json_object(r.get("AdditionalData"));
            for (list, key) in [(&mut tactics, "tactics"), (&mut techniques, "techniques")] {
                for t in json_strings(data.get(key)) {
                    match list.iter_mut().find(|x| x.0 == t) {
                        Some(x) => x.1 += 1,
                        None => list.push((t, 1)),
                    }
                }
            }
        }
        tactics.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        techniques.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let total = rows.row_count;
        let mut md = String::new();
        match audience {
            "technical" => {
                md.push_str(&format!("# Technical security report: last {days} days\n\n{total} incidents ({high} High, {medium} Medium, {low} Low); {open} open.\n\n| # | severity | status | first activity | last activity | title |\n| --- | --- | --- | --- | --- | --- |\n"));
                for r in &rows.rows {
                    md.push_str(&format!(
                        "| {} | {} | {} | {} | {} | {} |\n",
                        cell(r, "IncidentNumber"),
                        cell(r, "Severity"),
                        cell(r, "Status"),
                        cell(r, "FirstActivityTime"),
                        cell(r, "LastActivityTime"),
                        md_cell(&cell(r, "Title"), 160)
                    ));
                }
                if !techniques.is_empty() {
                    md.push_str(&format!(
                        "\nMost frequent techniques: {}.\n",
                        techniques
                            .iter()
                            .take(10)
                            .map(|(t, n)| format!("{t} ({n})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            "auditor" => {
                md.push_str(&format!("# Security incidents for audit: last {days} days\n\n{total} incidents were recorded; {open} are not closed.\n\n| # | opened (first activity) | last activity | severity | status | owner |\n| --- | --- | --- | --- | --- | --- |\n"));
                for r in &rows.rows {
                    let owner = json_object(r.get("Owner"))
                        .get("assignedTo")
                        .and_then(Value::as_str)
                        .unwrap_or("unassigned")
                        .to_string();
                    md.push_str(&format!(
                        "| {} | {} | {} | {} | {} | {} |\n",
                        cell(r, "IncidentNumber"),
                        cell(r, "FirstActivityTime"),
                        cell(r, "LastActivityTime"),
                        cell(r, "Severity"),
                        cell(r, "Status"),
                        owner
                    ));
                }
                let unassigned = rows
                    .rows
                    .iter()
                    .filter(|r| {
                        json_object(r.get("Owner"))
                            .get("assignedTo")
                            .and_then(Value::as_str)
                            .is_none()
                    })
                    .count();
                md.push_str(&format!(
                    "\n{unassigned} of {total} incidents have no owner assigned.\n"
                ));
            }
            _ => {
                md.push_str(&format!("# Security summary: last {days} days\n\n"));
                if total == 0 {
                    md.push_str("No security incidents were recorded in this period.\n");
                } else {
                    md.push_str(&format!(
                        "We recorded **{total} security incidents**: {high} high, {medium} medium and {low} low severity; {open} still need action.\n\n"
                    ));
                    if tactics.iter().any(|t| t.0 == "exfiltration") {
                        md.push_str("- At least one incident involved data leaving the network (exfiltration).\n");
                    }
                    if tactics.iter().any(|t| t.0 == "credential-access") {
                        md.push_str("- Attackers tried to steal or guess account credentials.\n");
                    }
                    if tactics.iter().any(|t| t.0 == "lateral-movement") {
                        md.push_str(
                            "- An attacker moved from one computer to others inside the network.\n",
                        );
                    }
                    let top: Vec<String> = rows
                        .rows
                        .iter()
                        .filter(|r| cell(r, "Severity") == "High")
                        .map(|r| {
                            format!(
                                "incident {} ({})",
                                cell(r, "IncidentNumber"),
                                md_cell(&cell(r, "Title"), 100)
                            )
                        })
                        .take(5)
                        .collect();
                    if !top.is_empty() {
                        md.push_str(&format!("\nHighest priority: {}.\n", top.join("; ")));
                    }
                }
            }
        }
        let result = json!({
            "audience": audience, "days": days, "incidents": total, "high": high, "medium": medium,
            "low": low, "open": open, "tactics": tactics, "techniques": techniques,
        });
        Ok(SkillOutput {
            result,
            markdown: md,
            evidence: vec![Evidence::from_rows(self.name(), &rows)],
        })
    }
}
