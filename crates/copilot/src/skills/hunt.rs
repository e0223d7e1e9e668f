//! HuntIndicators: every given IOC searched in the tables where that kind of indicator shows
//! up, with hits, first/last seen, devices and users per table.
use super::{json_strings, lookup_query, lookup_value, lookups, md_cell};
use crate::query::cell;
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput, input_list};
use crate::{Error, Result};
use bulwark_model::EntityKind;
use serde_json::{Value, json};

/// Hunting for indicators.
pub struct HuntIndicators;

fn kind_of(value: &str) -> Option<EntityKind> {
    let e = crate::entities::extract(value);
    e.entities.first().map(|e| e.kind)
}

/// Hunts `iocs` and returns a Markdown section, the per-IOC result and the evidence.
pub fn hunt_indicators(
    ctx: &SkillContext,
    skill: &str,
    iocs: &[(EntityKind, String)],
) -> Result<SkillOutput> {
    let mut md = String::from(
        "| indicator | table | hits | first seen | last seen | devices | users |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut results = Vec::new();
    let mut evidence = Vec::new();
    let mut found_any = false;
    let mut all_devices: Vec<String> = Vec::new();
    let mut all_users: Vec<String> = Vec::new();
    for (kind, value) in iocs.iter().take(20) {
        let v = lookup_value(*kind, value);
        let mut per = Vec::new();
        let ls: Vec<_> = lookups(*kind, &v)
            .into_iter()
            .filter(|l| ctx.runner.registry().get(l.table).is_some())
            .collect();
        let queries: Vec<String> = ls.iter().map(|l| lookup_query(l, &v)).collect();
        for (l, outcome) in ls.iter().zip(ctx.query_many(&queries)) {
            let rows = match outcome {
                Ok(r) => r,
                // A table the store never received is not a failure of the hunt.
                Err(Error::Query { .. }) => continue,
                Err(e) => return Err(e),
            };
            let hits: u64 = rows
                .rows
                .first()
                .map(|r| cell(r, "Hits"))
                .and_then(|h| h.parse().ok())
                .unwrap_or(0);
            if hits == 0 {
                continue;
            }
            found_any = true;
            let r = &rows.rows[0];
            let devices = json_strings(r.get("Devices"));
            let users = json_strings(r.get("Users"));
            for d in &devices {
                if !all_devices.contains(d) {
                    all_devices.push(d.clone());
                }
            }
            for u in &users {
                if !all_users.contains(u) {
                    all_users.push(u.clone());
                }
            }
            md.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                md_cell(value, 80),
                l.table,
                hits,
                cell(r, "FirstSeen"),
                cell(r, "LastSeen"),
                md_cell(&devices.join(", "), 200),
                md_cell(&users.join(", "), 200)
            ));
            per.push(json!({"table": l.table, "hits": hits, "first_seen": cell(r, "FirstSeen"), "last_seen": cell(r, "LastSeen"), "devices": devices, "users": users}));
            evidence.push(Evidence::from_rows(skill, &rows));
        }
        results.push(
            json!({"kind": kind.name(), "value": value, "found": !per.is_empty(), "tables": per}),
        );
    }
    let not_found: Vec<&str> = results
        .iter()
        .filter(|r| r["found"] == json!(false))
        .filter_map(|r| r["value"].as_str())
        .collect();
    let mut out = if found_any {
        format!(
            "**Indicator hunt**: {} of {} indicators found in the data.\n\n{md}",
            iocs.len() - not_found.len(),
            iocs.len()
        )
    } else {
        format!("**Indicator hunt**: none of the {} indicators appears in the data.\n", iocs.len())
    };
    if found_any && !not_found.is_empty() {
        out.push_str(&format!(
            "\nNot found: {}\n",
            not_found.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(SkillOutput {
        result: json!({"indicators": results, "devices": all_devices, "users": all_users}),
        markdown: out,
        evidence,
    })
}

impl Skill for HuntIndicators {
    fn name(&self) -> &'static str {
        "HuntIndicators"
    }
    fn description(&self) -> &'static str {
        "Hunt for indicators of compromise (IP addresses, domains, URLs, file hashes, file names) across all relevant tables: where were they seen, when, on which devices and by which users."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "hunt for 45.142.212.61 and cdn-ms365.com",
            "search all tables for this hash",
            "have we seen these IOCs anywhere?",
            "sweep the environment for these indicators",
        ]
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"indicators": {"type": "array", "items": {"type": "string"}}}, "required": ["indicators"]})
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let iocs: Vec<(EntityKind, String)> = input_list(input, "indicators")
            .into_iter()
            .filter_map(|v| kind_of(&v).map(|k| (k, v)))
            .collect();
        if iocs.is_empty() {
            return Err(Error::Input {
                skill: self.name().into(),
                message: "no IP, domain, URL, hash or file name among the indicators".into(),
            });
        }
        hunt_indicators(ctx, self.name(), &iocs)
    }
}
