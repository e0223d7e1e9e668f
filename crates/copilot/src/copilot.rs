//! The orchestrator: prompt → entities → plan → skills → a Markdown answer composed only from
//! the skills' fragments (each built from its evidence), with the evidence and a process log.
use crate::entities::{self, Extracted};
use crate::planner::{self, Plan};
use crate::query::QueryRunner;
use crate::skill::{Evidence, SessionContext, SkillContext, SkillRegistry};
use crate::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// One line of the process log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessEntry {
    /// `extract`, `plan`, or a skill name.
    pub step: String,
    /// What happened and why.
    pub detail: String,
    /// Milliseconds.
    pub elapsed_ms: u64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// A skill's result inside an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillResult {
    /// Skill name.
    pub skill: String,
    /// Its input.
    pub input: Value,
    /// Its structured result (null when it failed).
    pub result: Value,
}

/// The answer to one prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The prompt.
    pub prompt: String,
    /// The answer in Markdown.
    pub markdown: String,
    /// Skills that ran, in order.
    pub skills: Vec<String>,
    /// Structured results per skill.
    pub results: Vec<SkillResult>,
    /// Evidence behind the answer, numbered in order (the Markdown cites `[n]`).
    pub evidence: Vec<Evidence>,
    /// Skills chosen and why, with timings.
    pub process_log: Vec<ProcessEntry>,
    /// What was extracted from the prompt.
    pub extracted: Extracted,
}

impl Answer {
    /// The JSON shape of `bulwark ask --format json`:
    /// `{"session":..,"answer":..,"skills":[..],"evidence":[..],"process_log":[..],"results":[..]}`.
    pub fn to_json(&self, session: Option<&str>) -> Value {
        serde_json::json!({
            "session": session,
            "prompt": self.prompt,
            "answer": self.markdown,
            "skills": self.skills,
            "evidence": self.evidence,
            "process_log": self.process_log,
            "results": self.results,
        })
    }
}

/// The copilot over one data directory.
pub struct Copilot {
    skills: SkillRegistry,
    runner: Arc<QueryRunner>,
    store_dir: PathBuf,
    now: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for Copilot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Copilot").field("store_dir", &self.store_dir).finish_non_exhaustive()
    }
}

impl Copilot {
    /// A copilot over the store in `data_dir`, with every native skill.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Copilot> {
        let store = bulwark_store::Store::open(data_dir.as_ref())?;
        Copilot::with_store(&store)
    }

    /// A copilot over an open store.
    pub fn with_store(store: &bulwark_store::Store) -> Result<Copilot> {
        Ok(Copilot {
            skills: SkillRegistry::builtin(),
            runner: Arc::new(QueryRunner::open(store)?),
            store_dir: store.dir().to_path_buf(),
            now: None,
        })
    }

    /// Fixes the time questions are relative to (default: the current time).
    pub fn with_now(mut self, now: chrono::DateTime<chrono::Utc>) -> Copilot {
        self.now = Some(now);
        self
    }

    /// The skills.
    pub fn skills(&self) -> &SkillRegistry {
        &self.skills
    }

    /// The data directory.
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Plans a prompt without running anything.
    pub fn plan(&self, prompt: &str, session: &SessionContext) -> (Extracted, Plan) {
        let ex = entities::extract(prompt);
        let plan = planner::plan(prompt, &ex, session, &self.skills, self.runner.registry());
        (ex, plan)
    }

    /// Answers a prompt, updating `session` with what the answer was about.
    pub fn ask(&self, prompt: &str, session: &mut SessionContext) -> Answer {
        let started = Instant::now();
        let mut log = Vec::new();
        let ex = entities::extract(prompt);
        log.push(ProcessEntry {
            step: "extract".into(),
            detail: describe_extraction(&ex),
            elapsed_ms: started.elapsed().as_millis() as u64,
            ok: true,
        });
        let t = Instant::now();
        let plan = planner::plan(prompt, &ex, session, &self.skills, self.runner.registry());
        log.push(ProcessEntry {
            step: "plan".into(),
            detail: if plan.steps.is_empty() {
                "no skill fits the prompt".into()
            } else {
                plan.steps
                    .iter()
                    .map(|s| format!("{} ({}; score {:.2})", s.skill, s.reason, s.score))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
            elapsed_ms: t.elapsed().as_millis() as u64,
            ok: true,
        });
        let ctx = SkillContext {
            runner: Arc::clone(&self.runner),
            store_dir: self.store_dir.clone(),
            now: self.now.unwrap_or_else(chrono::Utc::now),
            session: session.clone(),
        };
        let mut fragments: Vec<String> = Vec::new();
        let mut evidence: Vec<Evidence> = Vec::new();
        let mut results = Vec::new();
        let mut skills = Vec::new();
        // Steps are independent (each reads the data itself): run them in parallel, compose
        // in plan order.
        let outcomes: Vec<(Result<crate::SkillOutput>, u64)> = std::thread::scope(|scope| {
            let handles: Vec<_> = plan
                .steps
                .iter()
                .map(|step| {
                    let ctx = &ctx;
                    scope.spawn(move || {
                        let t = Instant::now();
                        let out = self.skills.run(&step.skill, ctx, &step.input);
                        (out, t.elapsed().as_millis() as u64)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        (
                            Err(Error::Query {
                                query: String::new(),
                                message: "the skill stopped unexpectedly".into(),
                            }),
                            0,
                        )
                    })
                })
                .collect()
        });
        for (step, (outcome, elapsed_ms)) in plan.steps.iter().zip(outcomes) {
            skills.push(step.skill.clone());
            match outcome {
                Ok(out) => {
                    let first = evidence.len() + 1;
                    let n = out.evidence.len();
                    let mut fragment = out.markdown.trim_end().to_string();
                    if n > 0 {
                        let cites: Vec<String> =
                            (first..first + n).map(|i| format!("[{i}]")).collect();
                        fragment.push_str(&format!("\n\n_Evidence: {}_", cites.join(" ")));
                    }
                    fragments.push(fragment);
                    evidence.extend(out.evidence);
                    session.remember(&out.result);
                    log.push(ProcessEntry {
                        step: step.skill.clone(),
                        detail: format!("{}; {n} evidence items", step.reason),
                        elapsed_ms,
                        ok: true,
                    });
                    results.push(SkillResult {
                        skill: step.skill.clone(),
                        input: step.input.clone(),
                        result: out.result,
                    });
                }
                Err(e) => {
                    let message = match &e {
                        Error::Input { message, .. } => message.clone(),
                        other => other.to_string(),
                    };
                    fragments.push(format!("{} could not answer: {message}.", step.skill));
                    log.push(ProcessEntry {
                        step: step.skill.clone(),
                        detail: message,
                        elapsed_ms,
                        ok: false,
                    });
                    results.push(SkillResult {
                        skill: step.skill.clone(),
                        input: step.input.clone(),
                        result: Value::Null,
                    });
                }
            }
        }
        let markdown = if plan.steps.is_empty() {
            self.capabilities()
        } else {
            compose(&fragments, &evidence)
        };
        log.push(ProcessEntry {
            step: "total".into(),
            detail: format!("{} skills, {} evidence items", skills.len(), evidence.len()),
            elapsed_ms: started.elapsed().as_millis() as u64,
            ok: true,
        });
        Answer {
            prompt: prompt.to_string(),
            markdown,
            skills,
            results,
            evidence,
            process_log: log,
            extracted: ex,
        }
    }

    /// What Bulwark can do, for prompts no skill fits.
    pub fn capabilities(&self) -> String {
        let mut md = String::from(
            "I could not match that to anything I can look up. Without a language model I answer from the data with these skills:\n\n",
        );
        for s in self.skills.iter() {
            md.push_str(&format!(
                "- **{}**: {} For example: _{}_\n",
                s.name(),
                s.description(),
                s.examples().first().copied().unwrap_or("")
            ));
        }
        md
    }
}

fn describe_extraction(ex: &Extracted) -> String {
    let mut parts: Vec<String> = ex.entities.iter().map(|e| e.to_string()).collect();
    parts.extend(ex.incidents.iter().map(|i| format!("incident:{i}")));
    parts.extend(ex.cves.iter().map(|c| format!("cve:{c}")));
    if let Some(t) = &ex.time_range {
        parts.push(format!("time:{}", t.describe()));
    }
    if !ex.scripts.is_empty() {
        parts.push(format!("{} pasted script(s)", ex.scripts.len()));
    }
    if parts.is_empty() { "nothing extracted".into() } else { parts.join(", ") }
}

/// Joins skill fragments and lists the evidence (source, rows, query) at the end.
fn compose(fragments: &[String], evidence: &[Evidence]) -> String {
    let mut md = fragments.join("\n\n---\n\n");
    if !evidence.is_empty() {
        md.push_str("\n\n**Evidence**\n\n");
        for (i, e) in evidence.iter().enumerate() {
            md.push_str(&format!(
                "{}. {} — {} row{}{}",
                i + 1,
                e.source,
                e.row_count,
                if e.row_count == 1 { "" } else { "s" },
                if e.truncated { " (truncated)" } else { "" }
            ));
            if let Some(q) = &e.query {
                let q = entities::cut(q, 1500);
                md.push_str(&format!("\n\n   ```kql\n   {}\n   ```\n", q.replace('\n', "\n   ")));
            } else {
                md.push('\n');
            }
        }
    }
    md
}
