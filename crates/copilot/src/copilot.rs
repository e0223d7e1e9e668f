//! The orchestrator: prompt → entities → plan → skills → a Markdown answer composed only from
//! the skills' fragments (each built from its evidence), with the evidence and a process log.
use crate::entities::{self, Extracted};
use crate::llm::{LlmClient, LlmSettings};
use crate::planner::{self, Plan};
use crate::query::QueryRunner;
use crate::skill::{Evidence, SessionContext, SkillContext, SkillOutput, SkillRegistry};
use crate::{Error, Result};
use bulwark_llm::Provider;
use serde::{Deserialize, Serialize};
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

/// Tokens a prompt cost (Security Copilot bills the same thing as capacity units). All zero
/// and empty names without a language model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Tokens read by the model, over every call.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Model calls made (failed ones included).
    pub model_calls: u64,
    /// Backend kind (`openai`, `local`, …); empty without a model.
    pub backend: String,
    /// Model name; empty without a model.
    pub model: String,
}

impl TokenUsage {
    /// Prompt plus completion tokens.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// What [`Copilot::ask_with_events`] reports while it works. Serializes as
/// `{"type":"process","data":{…}}`, `{"type":"token","data":"…"}`, `{"type":"replace",…}`,
/// `{"type":"done"}` for server-sent events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum AskEvent {
    /// A step finished (extraction, planning, a model call, a skill, the guard).
    Process(ProcessEntry),
    /// A piece of the answer as the composer writes it (before the grounding guard). The
    /// deterministic composer sends its whole answer as one token (or as a `Replace` when a
    /// model's composer failed after streaming).
    Token(String),
    /// The final Markdown, replacing the streamed tokens (the guard changed the text or the
    /// evidence list was appended).
    Replace(String),
    /// The answer is complete.
    Done,
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
    /// Tokens the language model used for this answer (zero without one).
    pub usage: TokenUsage,
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
            "usage": self.usage,
        })
    }
}

/// The copilot over one data directory.
pub struct Copilot {
    skills: SkillRegistry,
    runner: Arc<QueryRunner>,
    store_dir: PathBuf,
    now: Option<chrono::DateTime<chrono::Utc>>,
    llm: Option<(Arc<dyn Provider>, LlmSettings)>,
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
            llm: None,
        })
    }

    /// Fixes the time questions are relative to (default: the current time).
    pub fn with_now(mut self, now: chrono::DateTime<chrono::Utc>) -> Copilot {
        self.now = Some(now);
        self
    }

    /// Plans, writes answers and generates KQL with a language model. Without one (the
    /// default) everything is deterministic; with one, any failure of the model falls back to
    /// the deterministic planner and composer, and what the model writes is checked against
    /// the evidence before it is returned.
    pub fn with_llm(mut self, provider: Arc<dyn Provider>, settings: LlmSettings) -> Copilot {
        self.llm = Some((provider, settings));
        self
    }

    /// The language model's backend and model name, when one is configured.
    pub fn llm_name(&self) -> Option<(String, String)> {
        self.llm.as_ref().map(|(p, _)| (p.backend().to_string(), p.model().to_string()))
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
        self.ask_with_events(prompt, session, &mut |_| {})
    }

    /// [`Copilot::ask`], reporting each step as it finishes, the answer's tokens as the
    /// composer writes them, and the final text ([`AskEvent`]), for streaming front ends.
    pub fn ask_with_events(
        &self,
        prompt: &str,
        session: &mut SessionContext,
        on_event: &mut dyn FnMut(AskEvent),
    ) -> Answer {
        self.ask_with_history(prompt, session, &[], on_event)
    }

    /// [`Copilot::ask_with_events`] with a short summary of the session's earlier turns
    /// (`question → answer headline`), given to the model as context (the deterministic path
    /// ignores them: it has the session context).
    pub fn ask_with_history(
        &self,
        prompt: &str,
        session: &mut SessionContext,
        previous: &[String],
        on_event: &mut dyn FnMut(AskEvent),
    ) -> Answer {
        let started = Instant::now();
        let mut rep = Reporter { on_event, log: Vec::new() };
        let ex = entities::extract(prompt);
        rep.process(ProcessEntry {
            step: "extract".into(),
            detail: describe_extraction(&ex),
            elapsed_ms: started.elapsed().as_millis() as u64,
            ok: true,
        });
        let client = self.llm.as_ref().map(|(p, s)| LlmClient::new(Arc::clone(p), s.clone()));
        let now = self.now.unwrap_or_else(chrono::Utc::now);
        let ctx_for = |session: &SessionContext| SkillContext {
            runner: Arc::clone(&self.runner),
            store_dir: self.store_dir.clone(),
            now,
            session: session.clone(),
            llm: client.clone(),
        };
        // Skill runs: from the model's tool-calling loop, else from the deterministic plan.
        let mut runs: Vec<Run> = Vec::new();
        let mut remembered = false;
        let mut planned = false;
        if let Some(client) = &client {
            let input = crate::llm::planner::LoopInput {
                prompt,
                extracted: &ex,
                previous,
                registry: &self.skills,
            };
            let run_skill = |name: &str, args: &Value, s: &SessionContext| {
                self.skills.run(name, &ctx_for(s), args)
            };
            let outcome =
                crate::llm::planner::run_loop(client, &input, session, &run_skill, &mut |e| {
                    rep.process(e)
                });
            match outcome.fallback {
                Some(why) => rep.process(ProcessEntry {
                    step: "plan".into(),
                    detail: format!("LLM planner fell back to the deterministic planner: {why}"),
                    elapsed_ms: 0,
                    ok: false,
                }),
                None => {
                    planned = true;
                    remembered = true;
                    runs = outcome
                        .executed
                        .into_iter()
                        .map(|x| Run {
                            skill: x.skill,
                            input: x.input,
                            reason: x.reason,
                            outcome: x.outcome,
                            elapsed_ms: x.elapsed_ms,
                            logged: true,
                        })
                        .collect();
                }
            }
        }
        if !planned {
            let t = Instant::now();
            let plan = planner::plan(prompt, &ex, session, &self.skills, self.runner.registry());
            rep.process(ProcessEntry {
                step: "plan".into(),
                detail: describe_plan(&plan),
                elapsed_ms: t.elapsed().as_millis() as u64,
                ok: true,
            });
            let ctx = ctx_for(session);
            runs = self.run_plan(&plan, &ctx);
            // Model calls made inside skills (NL→KQL) come before the skills' own entries.
            if let Some(client) = &client {
                for e in client.take_entries() {
                    rep.process(e);
                }
            }
        }
        let mut fragments: Vec<String> = Vec::new();
        let mut evidence: Vec<Evidence> = Vec::new();
        let mut results = Vec::new();
        let mut skills = Vec::new();
        let mut outputs: Vec<(String, SkillOutput)> = Vec::new();
        for run in runs {
            skills.push(run.skill.clone());
            if !run.logged {
                rep.process(skill_entry(&run.skill, &run.reason, &run.outcome, run.elapsed_ms));
            }
            match run.outcome {
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
                    evidence.extend(out.evidence.iter().cloned());
                    if !remembered {
                        session.remember(&out.result);
                    }
                    results.push(SkillResult {
                        skill: run.skill.clone(),
                        input: run.input,
                        result: out.result.clone(),
                    });
                    outputs.push((run.skill, out));
                }
                Err(e) => {
                    fragments.push(format!("{} could not answer: {}.", run.skill, error_text(&e)));
                    results.push(SkillResult {
                        skill: run.skill,
                        input: run.input,
                        result: Value::Null,
                    });
                }
            }
        }
        let mut markdown = None;
        let mut streamed_any = false;
        if let Some(client) = &client
            && !skills.is_empty()
        {
            let input = crate::llm::composer::ComposeInput {
                prompt,
                session,
                outputs: &outputs,
                fragments: &fragments,
                evidence: &evidence,
            };
            let composed = crate::llm::composer::compose(client, &input, &mut |t| {
                streamed_any = true;
                rep.event(AskEvent::Token(t.to_string()))
            });
            for e in client.take_entries() {
                rep.process(e);
            }
            match composed {
                Ok(c) => {
                    for e in c.entries {
                        rep.process(e);
                    }
                    if c.markdown != c.streamed {
                        rep.event(AskEvent::Replace(c.markdown.clone()));
                    }
                    markdown = Some(c.markdown);
                }
                Err(why) => rep.process(ProcessEntry {
                    step: "compose".into(),
                    detail: format!("LLM composer fell back to the deterministic composer: {why}"),
                    elapsed_ms: 0,
                    ok: false,
                }),
            }
        }
        let markdown = match markdown {
            Some(m) => m,
            None => {
                let m = if skills.is_empty() {
                    self.capabilities()
                } else {
                    compose(&fragments, &evidence)
                };
                // A composer that failed mid-stream already sent tokens: replace them.
                rep.event(if streamed_any {
                    AskEvent::Replace(m.clone())
                } else {
                    AskEvent::Token(m.clone())
                });
                m
            }
        };
        let usage = client.as_ref().map(LlmClient::usage).unwrap_or_default();
        rep.process(ProcessEntry {
            step: "total".into(),
            detail: if usage.model_calls > 0 {
                format!(
                    "{} skills, {} evidence items, {} model calls, {} tokens",
                    skills.len(),
                    evidence.len(),
                    usage.model_calls,
                    usage.total()
                )
            } else {
                format!("{} skills, {} evidence items", skills.len(), evidence.len())
            },
            elapsed_ms: started.elapsed().as_millis() as u64,
            ok: true,
        });
        rep.event(AskEvent::Done);
        Answer {
            prompt: prompt.to_string(),
            markdown,
            skills,
            results,
            evidence,
            process_log: rep.log,
            extracted: ex,
            usage,
        }
    }

    /// Runs a deterministic plan's steps. They are independent (each reads the data itself):
    /// run them in parallel, results in plan order.
    fn run_plan(&self, plan: &Plan, ctx: &SkillContext) -> Vec<Run> {
        let outcomes: Vec<(Result<SkillOutput>, u64)> = std::thread::scope(|scope| {
            let handles: Vec<_> = plan
                .steps
                .iter()
                .map(|step| {
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
        plan.steps
            .iter()
            .zip(outcomes)
            .map(|(step, (outcome, elapsed_ms))| Run {
                skill: step.skill.clone(),
                input: step.input.clone(),
                reason: step.reason.clone(),
                outcome,
                elapsed_ms,
                logged: false,
            })
            .collect()
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

/// Sends events and keeps the process log.
struct Reporter<'a> {
    on_event: &'a mut dyn FnMut(AskEvent),
    log: Vec<ProcessEntry>,
}

impl Reporter<'_> {
    fn process(&mut self, e: ProcessEntry) {
        (self.on_event)(AskEvent::Process(e.clone()));
        self.log.push(e);
    }
    fn event(&mut self, e: AskEvent) {
        (self.on_event)(e);
    }
}

/// One skill run, from either planner.
struct Run {
    skill: String,
    input: Value,
    reason: String,
    outcome: Result<SkillOutput>,
    elapsed_ms: u64,
    /// Whether its process entry was already reported.
    logged: bool,
}

/// A skill failure in words (input errors without the skill-name prefix).
pub(crate) fn error_text(e: &Error) -> String {
    match e {
        Error::Input { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The process entry for one skill run.
pub(crate) fn skill_entry(
    skill: &str,
    reason: &str,
    outcome: &Result<SkillOutput>,
    elapsed_ms: u64,
) -> ProcessEntry {
    match outcome {
        Ok(out) => ProcessEntry {
            step: skill.to_string(),
            detail: format!("{reason}; {} evidence items", out.evidence.len()),
            elapsed_ms,
            ok: true,
        },
        Err(e) => {
            ProcessEntry { step: skill.to_string(), detail: error_text(e), elapsed_ms, ok: false }
        }
    }
}

fn describe_plan(plan: &Plan) -> String {
    if plan.steps.is_empty() {
        "no skill fits the prompt".into()
    } else {
        plan.steps
            .iter()
            .map(|s| format!("{} ({}; score {:.2})", s.skill, s.reason, s.score))
            .collect::<Vec<_>>()
            .join("; ")
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
    md.push_str(&evidence_section(evidence, ""));
    md
}

/// The evidence list appended to an answer: `{prefix}{n}. source — rows`, with the query.
pub(crate) fn evidence_section(evidence: &[Evidence], prefix: &str) -> String {
    let mut md = String::new();
    if !evidence.is_empty() {
        md.push_str("\n\n**Evidence**\n\n");
        for (i, e) in evidence.iter().enumerate() {
            md.push_str(&format!(
                "{prefix}{}. {} — {} row{}{}",
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
