//! Bulwark's security copilot: deterministic by default, optionally with a language model.
//!
//! Without a model, a prompt goes through [`entities::extract`] (incident ids, hosts, users, IPs, domains, URLs,
//! hashes, CVEs, time ranges, pasted scripts), the deterministic [`planner`] (rules plus keyword
//! similarity to each skill's description and examples; follow-ups resolved from the session),
//! the native [`skills`] (every data read is KQL run by the `bulwark_kql` engine, so each
//! answer carries the queries behind it as [`Evidence`]) and a composer that only joins the
//! skills' Markdown fragments. [`Copilot::ask`] returns an [`Answer`] with the Markdown, the
//! evidence and a process log; [`session::SessionStore`] keeps sessions in SQLite.
//!
//! With a model ([`Copilot::with_llm`], any `bulwark_llm::Provider`), the model plans by
//! calling the skills as tools (every call validated against the skill's schema; data from
//! logs, emails and scripts reaches it only inside `<untrusted-data>` fences, and calls it
//! proposes after seeing data may only use values the analyst or the evidence supplied), then
//! writes the answer from the numbered evidence, and the grounding guard removes whatever the
//! evidence does not support. Any failure of the model falls back to the deterministic planner
//! or composer, and the process log says why. Token usage is kept per answer and per session.
//!
//! Modules:
//! * [`entities`] — entity and time-range extraction.
//! * [`nl2kql`] — natural language to KQL over the schema registry, parsed and checked.
//! * [`skill`] — the [`Skill`] trait, [`SkillRegistry`], [`SkillContext`], [`Evidence`].
//! * [`skills`] — IncidentSummary, IncidentImpact, GuidedResponse, EntitySummary,
//!   HuntIndicators, ScriptAnalysis, PostureReport, SecurityReport, NaturalLanguageToKql, RunKql.
//! * [`planner`] — prompt → skills.
//! * [`query`] — the KQL runner skills use.
//! * [`session`] — sessions, prompts, responses, evidence, pins, feedback in SQLite.
//! * [`llm`] — with a language model ([`Copilot::with_llm`]): tool-calling planner, grounded
//!   composer, schema-retrieval NL→KQL; falls back to the deterministic parts on any failure.
//! * [`eval`] — offline NL→KQL metrics (syntax, semantic, table, filter column, filter literal).
//!
//! For a command line (call from a thread that is not inside a tokio runtime: the copilot
//! drives its own):
//!
//! ```no_run
//! # fn main() -> bulwark_copilot::Result<()> {
//! use bulwark_copilot::{Copilot, session::SessionStore};
//! let copilot = Copilot::open("bulwark-data")?;
//! let mut sessions = SessionStore::open("bulwark-data/sessions.sqlite")?;
//! // `bulwark ask "PROMPT" [--session ID] [--format json]`
//! let (session, _prompt_id, answer) = copilot.ask_in_session(&mut sessions, None, "who was patient zero?")?;
//! println!("{}", answer.markdown); // --format text
//! println!("{}", answer.to_json(Some(&session))); // --format json
//! // `bulwark kql generate "NL" [--format json]`
//! let g = bulwark_copilot::nl2kql::generate("failed sign-ins in the last day");
//! println!("{}", g.to_json()); // {"kql":..,"valid":..,"diagnostics":[..]}
//! # Ok(()) }
//! ```
//!
//! With a model, streaming the answer (the HTTP server forwards the same events):
//!
//! ```no_run
//! # fn provider() -> std::sync::Arc<dyn bulwark_llm::Provider> { unimplemented!() }
//! # fn main() -> bulwark_copilot::Result<()> {
//! use bulwark_copilot::{AskEvent, Copilot, LlmSettings, SessionContext};
//! let copilot = Copilot::open("bulwark-data")?.with_llm(provider(), LlmSettings::default());
//! let mut context = SessionContext::default();
//! let answer = copilot.ask_with_events("what did the macro launch?", &mut context, &mut |e| {
//!     match e {
//!         AskEvent::Token(t) => print!("{t}"),
//!         AskEvent::Replace(markdown) => println!("\n---\n{markdown}"),
//!         _ => {}
//!     }
//! });
//! println!("{} tokens in {} model calls", answer.usage.total(), answer.usage.model_calls);
//! # Ok(()) }
//! ```
//!
//! ```
//! let g = bulwark_copilot::nl2kql::generate("failed sign-ins for alice in the past week");
//! assert!(g.valid);
//! assert_eq!(g.table, "SigninLogs");
//! assert!(g.kql.contains("TimeGenerated > ago(7d)"));
//! assert!(g.kql.contains("ResultType != \"0\""));
//! ```
#![deny(missing_docs)]

pub mod bench;
mod copilot;
pub mod entities;
mod error;
pub mod eval;
pub mod llm;
pub mod nl2kql;
pub mod planner;
pub mod promptbook;
pub mod query;
pub mod session;
pub mod skill;
pub mod skills;

pub use copilot::{Answer, AskEvent, Copilot, ProcessEntry, SkillResult, TokenUsage};
pub use error::{Error, Result};
pub use llm::{GuardPolicy, LlmSettings};
pub use skill::{Evidence, SessionContext, Skill, SkillContext, SkillOutput, SkillRegistry};
