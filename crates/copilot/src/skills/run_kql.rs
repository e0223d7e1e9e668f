//! RunKql: runs a KQL query as written and shows its rows.
use super::rows_table;
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput, input_str};
use crate::{Error, Result};
use serde_json::{Value, json};

/// Runs a KQL query.
pub struct RunKql;

impl Skill for RunKql {
    fn name(&self) -> &'static str {
        "RunKql"
    }
    fn description(&self) -> &'static str {
        "Run a KQL query over the stored tables and show the result rows."
    }
    fn examples(&self) -> &'static [&'static str] {
        &["run this query: DeviceProcessEvents | take 10", "execute the KQL SigninLogs | count"]
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"query": {"type": "string", "description": "KQL text"}}, "required": ["query"]})
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let query = input_str(self.name(), input, "query")?;
        match ctx.query(query) {
            Ok(rows) => {
                let mut md = format!(
                    "The query returned {} row{}{}.\n\n",
                    rows.row_count,
                    if rows.row_count == 1 { "" } else { "s" },
                    if rows.truncated { " (cut at the row limit)" } else { "" }
                );
                md.push_str(&rows_table(&rows, 20));
                Ok(SkillOutput {
                    result: json!({"kql": query, "row_count": rows.row_count, "columns": rows.columns, "rows": rows.rows.iter().take(100).collect::<Vec<_>>()}),
                    markdown: md,
                    evidence: vec![Evidence::from_rows(self.name(), &rows)],
                })
            }
            Err(Error::Query { message, .. }) => Ok(SkillOutput {
                result: json!({"kql": query, "error": message}),
                markdown: format!("The query did not run:\n\n```text\n{message}\n```\n"),
                evidence: Vec::new(),
            }),
            Err(e) => Err(e),
        }
    }
}
