//! ScriptAnalysis: static analysis of a pasted script or command line with `bulwark-scripts`
//! (nothing is executed), then a hunt for its network and file indicators in the data.
use super::hunt::hunt_indicators;
use crate::Result;
use crate::skill::{Evidence, Skill, SkillContext, SkillOutput, input_str};
use bulwark_model::EntityKind;
use bulwark_scripts::{AnalyzeOptions, analyze};
use serde_json::{Map, Value, json};

/// Script analysis.
pub struct ScriptAnalysis;

impl Skill for ScriptAnalysis {
    fn name(&self) -> &'static str {
        "ScriptAnalysis"
    }
    fn description(&self) -> &'static str {
        "Analyze a suspicious script or command line without running it: deobfuscate and decode it, extract indicators, map behaviours to MITRE ATT&CK, give a verdict, and look for its indicators in the data."
    }
    fn examples(&self) -> &'static [&'static str] {
        &[
            "analyze this script: powershell -enc ...",
            "what does this command line do?",
            "is this powershell malicious?",
            "deobfuscate and explain this script",
        ]
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {
            "script": {"type": "string"},
            "hunt": {"type": "boolean", "default": true}
        }, "required": ["script"]})
    }
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        let script = input_str(self.name(), input, "script")?;
        let a = analyze(script, &AnalyzeOptions::default());
        let mut md = format!(
            "**Verdict: {:?}** (score {}){}.\n\n",
            a.verdict.level,
            a.verdict.score,
            a.family.as_ref().map(|f| format!(", family {f}")).unwrap_or_default()
        );
        if a.layers.len() > 1 {
            md.push_str(&format!(
                "Decoded through {} layer{} ({}). Final script:\n\n```{}\n{}\n```\n\n",
                a.layers.len() - 1,
                if a.layers.len() == 2 { "" } else { "s" },
                a.layers
                    .iter()
                    .skip(1)
                    .map(|l| l.technique.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                a.language.name(),
                crate::entities::cut(&a.final_script, 4000)
            ));
        }
        if !a.behaviours.is_empty() {
            md.push_str("Behaviours:\n");
            for b in a.behaviours.iter().take(15) {
                md.push_str(&format!(
                    "- {} ({} {}): `{}`\n",
                    b.name,
                    b.attack_technique,
                    b.tactic,
                    super::md_cell(&b.evidence_line, 200)
                ));
            }
            md.push('\n');
        }
        if !a.iocs.is_empty() {
            md.push_str("Indicators:\n");
            for i in a.iocs.iter().take(25) {
                md.push_str(&format!("- {}: `{}`\n", i.kind.name(), super::md_cell(&i.value, 300)));
            }
            md.push('\n');
        }
        for e in a.explanation.iter().take(8) {
            md.push_str(&format!("> {e}\n"));
        }
        let mut sample = Map::new();
        sample.insert("verdict".into(), json!(format!("{:?}", a.verdict.level)));
        sample.insert("score".into(), json!(a.verdict.score));
        sample.insert("layers".into(), json!(a.layers.len()));
        sample.insert("final_script".into(), json!(crate::entities::cut(&a.final_script, 2000)));
        let mut evidence =
            vec![Evidence::analysis(self.name(), "bulwark-scripts (static analysis)", sample)];
        let iocs: Vec<(EntityKind, String)> = a
            .iocs
            .iter()
            .filter(|i| !i.private_or_reserved)
            .filter_map(|i| i.kind.entity_kind().map(|k| (k, i.value.clone())))
            .filter(|(k, _)| {
                matches!(
                    k,
                    EntityKind::Ip | EntityKind::Domain | EntityKind::Url | EntityKind::FileHash
                )
            })
            .take(10)
            .collect();
        let mut hunt = Value::Null;
        if input.get("hunt").and_then(Value::as_bool).unwrap_or(true) && !iocs.is_empty() {
            let h = hunt_indicators(ctx, self.name(), &iocs)?;
            md.push('\n');
            md.push_str(&h.markdown);
            evidence.extend(h.evidence);
            hunt = h.result;
        }
        let result = json!({
            "verdict": format!("{:?}", a.verdict.level),
            "score": a.verdict.score,
            "reasons": a.verdict.reasons,
            "family": a.family,
            "final_script": crate::entities::cut(&a.final_script, 8000),
            "iocs": a.iocs.iter().map(|i| json!({"kind": i.kind.name(), "value": i.value})).collect::<Vec<_>>(),
            "techniques": a.behaviours.iter().map(|b| b.attack_technique.clone()).collect::<Vec<_>>(),
            "hunt": hunt,
        });
        Ok(SkillOutput { result, markdown: md, evidence })
    }
}
