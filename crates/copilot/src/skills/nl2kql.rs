//! NaturalLanguageToKql: a question to a checked KQL query, run when it is valid.
use super::rows_table;
use crate::nl2kql::generate_with;
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput, input_str};
use crate::{Error, Result};
use serde_json::{Value, json};

/// Natural language to KQL.
pub struct NaturalLanguageToKql;

impl Skill for NaturalLanguageToKql {
    fn name(&self) -> &'static str {
        "NaturalLanguageToKql"
    }
    fn description(&self) -> &'static str {
        "Turn a question about the data into a KQL query (checked against the schema) and run it: show, list, count, which devices, users, processes, sign-ins, emails, network connections, files, registry, alerts, logons."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "show failed sign-ins for alice in the past week",
            "which devices ran encoded powershell yesterday",
            "count network connections by remote ip",
            "write a kql query for inbox rules forwarding mail",
            "list emails from billing-notices.com",
        ]
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {
            "question": {"type": "string"},
            "run": {"type": "boolean", "default": true}
        }, "required": ["question"]})
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let question = input_str(self.name(), input, "question")?;
        let run = input.get("run").and_then(Value::as_bool).unwrap_or(true);
        // With a model: schema-grounded generation with repair (deterministic when it fails).
        let (g, rounds) = match &ctx.llm {
            Some(client) => {
                let out = crate::llm::nl2kql::generate(client, question, ctx.runner.registry());
                (out.generated, Some(out.rounds))
            }
            None => (generate_with(question, ctx.runner.registry()), None),
        };
        let mut md = format!("```kql\n{}\n```\n\n", g.kql);
        let mut result = json!({
            "kql": g.kql, "valid": g.valid, "diagnostics": g.diagnostics,
            "table": g.table, "filters": g.filters.iter().map(|f| f.to_kql()).collect::<Vec<_>>(),
            "notes": g.notes,
        });
        if let Some(r) = rounds {
            result["model_rounds"] = json!(r);
        }
        let mut evidence = Vec::new();
        if !g.valid {
            md.push_str("The generated query does not check:\n");
            for d in &g.diagnostics {
                md.push_str(&format!("- {} {}: {}\n", d.severity, d.code, d.message));
            }
            return Ok(SkillOutput { result, markdown: md, evidence });
        }
        if run {
            match ctx.query(&g.kql) {
                Ok(rows) => {
                    md.push_str(&format!(
                        "{} row{} from {}{}.\n\n",
                        rows.row_count,
                        if rows.row_count == 1 { "" } else { "s" },
                        g.table,
                        if rows.truncated { " (cut at the row limit)" } else { "" }
                    ));
                    md.push_str(&rows_table(&rows, 50));
                    result["row_count"] = json!(rows.row_count);
                    result["rows"] = json!(rows.rows.iter().take(100).collect::<Vec<_>>());
                    let mut devices = Vec::new();
                    let mut users = Vec::new();
                    for r in &rows.rows {
                        for c in ["DeviceName", "AccountName", "UserPrincipalName"] {
                            let list = if c == "DeviceName" { &mut devices } else { &mut users };
                            let v = crate::query::cell(r, c);
                            if !v.is_empty() && !list.contains(&v) && list.len() < 20 {
                                list.push(v);
                            }
                        }
                    }
                    result["devices"] = json!(devices);
                    result["users"] = json!(users);
                    // The question's time range, resolved at the query's `now`.
                    let range = crate::entities::extract(question).time_range.map(|r| {
                        let now_ns = ctx.now.timestamp_nanos_opt().unwrap_or(0);
                        let (a, b) = r.bounds(now_ns);
                        (
                            bulwark_model::time::format_datetime_ns(a),
                            bulwark_model::time::format_datetime_ns(b),
                        )
                    });
                    evidence.push(Evidence::from_rows(self.name(), &rows).with_time_range(range));
                }
                Err(Error::Query { message, .. }) => {
                    md.push_str(&format!(
                        "The query checks but did not run:\n\n```text\n{message}\n```\n"
                    ));
                    result["error"] = json!(message);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(SkillOutput { result, markdown: md, evidence })
    }
}
