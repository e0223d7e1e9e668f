//! Promptbooks: named, parameterized prompt sequences (`<incident_id>` style inputs) run step
//! by step in one session, so later steps resolve "it"/"that incident" from earlier ones.
//! Written in YAML; the Markdown shape of the shared Security Copilot samples imports too.
use crate::copilot::{Answer, Copilot};
use crate::session::SessionStore;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest promptbook accepted, and most steps.
const MAX_BYTES: usize = 256 * 1024;
const MAX_STEPS: usize = 50;

/// A promptbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promptbook {
    /// Name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Input names (`incident_id`), written `<incident_id>` in prompts.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The prompts, in order.
    pub prompts: Vec<String>,
}

fn promptbook_error(message: impl Into<String>) -> Error {
    Error::Input { skill: "promptbook".into(), message: message.into() }
}

/// Normalizes an input name: `< incidentID >`, `incident_id` and `Incident ID` are one.
fn key(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

impl Promptbook {
    /// Parses a YAML promptbook (`name`, `description`, `inputs`, `prompts`).
    pub fn from_yaml(text: &str) -> Result<Promptbook> {
        if text.len() > MAX_BYTES {
            return Err(promptbook_error("promptbook too large"));
        }
        let book: Promptbook = yaml_serde::from_str(text)
            .map_err(|e| promptbook_error(format!("invalid YAML: {e}")))?;
        book.validated()
    }

    /// Imports the Markdown shape of the Security Copilot samples: `# Title`, a
    /// `**Required Input**: <name>` line, `**Description**: …`, and one fenced block per prompt.
    pub fn from_markdown(text: &str) -> Result<Promptbook> {
        if text.len() > MAX_BYTES {
            return Err(promptbook_error("promptbook too large"));
        }
        let mut name = String::new();
        let mut description = String::new();
        let mut inputs = Vec::new();
        let mut prompts = Vec::new();
        let mut block: Option<String> = None;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("```") {
                match block.take() {
                    Some(b) => {
                        let p = b.trim().to_string();
                        if !p.is_empty() {
                            prompts.push(p);
                        }
                    }
                    None => block = Some(String::new()),
                }
                continue;
            }
            if let Some(b) = block.as_mut() {
                b.push_str(trimmed);
                b.push(' ');
                continue;
            }
            if name.is_empty()
                && let Some(t) = trimmed.strip_prefix("# ")
            {
                name = t.trim().to_string();
            } else if trimmed.to_ascii_lowercase().starts_with("**required input") {
                let mut rest = trimmed;
                while let Some(start) = rest.find('<') {
                    let Some(end) = rest[start..].find('>') else { break };
                    let n = rest[start + 1..start + end].trim().to_string();
                    if !n.is_empty() && !inputs.contains(&n) {
                        inputs.push(n);
                    }
                    rest = &rest[start + end + 1..];
                }
            } else if let Some(d) = trimmed.strip_prefix("**Description**:") {
                description = d.trim().replace('*', "");
            }
        }
        Promptbook { name, description, inputs, prompts }.validated()
    }

    fn validated(self) -> Result<Promptbook> {
        if self.name.trim().is_empty() {
            return Err(promptbook_error("a promptbook needs a name"));
        }
        if self.prompts.is_empty() || self.prompts.len() > MAX_STEPS {
            return Err(promptbook_error(format!(
                "a promptbook needs 1 to {MAX_STEPS} prompts, '{}' has {}",
                self.name,
                self.prompts.len()
            )));
        }
        Ok(self)
    }

    /// The prompts with `<input>` placeholders replaced by `params` (names compared without
    /// case, spaces or underscores). Missing inputs are an error.
    pub fn expand(&self, params: &BTreeMap<String, String>) -> Result<Vec<String>> {
        let values: BTreeMap<String, &String> = params.iter().map(|(k, v)| (key(k), v)).collect();
        for input in &self.inputs {
            if !values.contains_key(&key(input)) {
                return Err(promptbook_error(format!(
                    "promptbook '{}' needs --param {}=…",
                    self.name,
                    input.trim()
                )));
            }
        }
        let mut out = Vec::new();
        for p in &self.prompts {
            let mut text = String::new();
            let mut rest = p.as_str();
            while let Some(start) = rest.find('<') {
                text.push_str(&rest[..start]);
                match rest[start..].find('>') {
                    Some(end) if end < 64 => {
                        let name = &rest[start + 1..start + end];
                        match values.get(&key(name)) {
                            Some(v) => text.push_str(v),
                            None => text.push_str(&rest[start..start + end + 1]),
                        }
                        rest = &rest[start + end + 1..];
                    }
                    _ => {
                        text.push('<');
                        rest = &rest[start + 1..];
                    }
                }
            }
            text.push_str(rest);
            out.push(text);
        }
        Ok(out)
    }
}

/// The built-in promptbooks.
pub fn builtin() -> Vec<Promptbook> {
    let book = |name: &str, description: &str, inputs: &[&str], prompts: &[&str]| Promptbook {
        name: name.into(),
        description: description.into(),
        inputs: inputs.iter().map(|s| (*s).to_string()).collect(),
        prompts: prompts.iter().map(|s| (*s).to_string()).collect(),
    };
    vec![
        book(
            "incident-investigation",
            "Summary, impact, indicators hunted, guided response and an executive report for one incident.",
            &["incident_id"],
            &[
                "Summarize incident <incident_id>",
                "What is the impact of that incident?",
                "Which processes did Office applications launch? Show processes spawned by winword",
                "What should we do first about that incident?",
                "Write an executive report for the past week",
            ],
        ),
        book(
            "suspicious-script",
            "Deobfuscate and explain a script, then hunt its indicators.",
            &["script"],
            &["Analyze this script: ```\n<script>\n```"],
        ),
        book(
            "user-compromise",
            "A user's activity, sign-ins, mailbox rules and the response.",
            &["user"],
            &[
                "Tell me about user <user>",
                "Show sign-ins for user <user> in the past week",
                "Show inbox rules forwarding mail for user <user>",
                "What should we do first about the password spray?",
            ],
        ),
        book(
            "vulnerability-impact",
            "Devices exposed to a CVE and the posture around them.",
            &["cve"],
            &["Which devices have vulnerable software for <cve>?", "Give me a posture report"],
        ),
    ]
}

/// A promptbook by name among the built-ins.
pub fn find(name: &str) -> Option<Promptbook> {
    builtin().into_iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

impl Copilot {
    /// Runs a promptbook step by step in one stored session (new when `session` is `None`).
    pub fn run_promptbook(
        &self,
        store: &mut SessionStore,
        session: Option<&str>,
        book: &Promptbook,
        params: &BTreeMap<String, String>,
    ) -> Result<(String, Vec<Answer>)> {
        let prompts = book.expand(params)?;
        let id = match session {
            Some(s) => s.to_string(),
            None => store.create(Some(&book.name))?,
        };
        let mut answers = Vec::new();
        for p in prompts {
            let (_, _, answer) = self.ask_in_session(store, Some(&id), &p)?;
            answers.push(answer);
        }
        Ok((id, answers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_round_trip_and_expansion() -> Result<()> {
        let book = Promptbook::from_yaml(
            "name: triage\ninputs: [incident_id]\nprompts:\n  - Summarize incident <incident_id>\n  - What should we do about <Incident ID>? a<b\n",
        )?;
        let mut params = BTreeMap::new();
        params.insert("incident-id".to_string(), "5".to_string());
        assert_eq!(
            book.expand(&params)?,
            vec!["Summarize incident 5", "What should we do about 5? a<b"]
        );
        assert!(book.expand(&BTreeMap::new()).is_err());
        assert!(Promptbook::from_yaml("name: x\nprompts: []\n").is_err());
        assert!(Promptbook::from_yaml(": : :").is_err());
        Ok(())
    }

    #[test]
    fn markdown_samples_import() -> Result<()> {
        let md = "# Incident Prioritization\n\n**Required Input**:< incidentID >\n\n**Description**: *Guide* the triage.\n\n1. **Step**:\n   ```\n   Summarize <incidentID>\n   ```\n2. **Next**:\n   ```\n   What should we do?\n   ```\n";
        let book = Promptbook::from_markdown(md)?;
        assert_eq!(book.name, "Incident Prioritization");
        assert_eq!(book.inputs, vec!["incidentID"]);
        assert_eq!(book.prompts, vec!["Summarize <incidentID>", "What should we do?"]);
        assert_eq!(book.description, "Guide the triage.");
        Ok(())
    }

    #[test]
    fn builtins_are_valid() {
        for b in builtin() {
            assert!(b.clone().validated().is_ok(), "{}", b.name);
        }
        assert!(find("incident-investigation").is_some());
    }
}
