//! The skill contract: what a skill declares (name, description, examples, JSON Schema of its
//! input), what it receives ([`SkillContext`]: the KQL engine, the store directory, `now`, the
//! session's context) and what it returns ([`SkillOutput`]: a structured result, a Markdown
//! fragment and the [`Evidence`] behind every number in it). [`SkillRegistry`] holds them.
use crate::query::{QueryRunner, Rows};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Sample rows kept per evidence item.
pub const SAMPLE_ROWS: usize = 20;

/// One piece of evidence: a query that ran (or an analysis that was made) and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Skill that produced it.
    pub skill: String,
    /// Source: the table(s) read, or the analyser used.
    pub source: String,
    /// The KQL text that ran, when the evidence comes from data.
    pub query: Option<String>,
    /// Rows returned.
    pub row_count: usize,
    /// Whether the row cap cut the result.
    pub truncated: bool,
    /// Up to [`SAMPLE_ROWS`] rows.
    pub sample_rows: Vec<Map<String, Value>>,
    /// Time range the query covered (ISO-8601 start and end), when it had one.
    pub time_range: Option<(String, String)>,
    /// Milliseconds the query took.
    pub elapsed_ms: u64,
}

impl Evidence {
    /// Evidence for a query result.
    pub fn from_rows(skill: &str, rows: &Rows) -> Evidence {
        Evidence {
            skill: skill.to_string(),
            source: rows.source.clone(),
            query: Some(rows.query.clone()),
            row_count: rows.row_count,
            truncated: rows.truncated,
            sample_rows: rows.rows.iter().take(SAMPLE_ROWS).cloned().collect(),
            time_range: None,
            elapsed_ms: rows.elapsed_ms,
        }
    }

    /// Evidence for a non-query analysis.
    pub fn analysis(skill: &str, source: &str, sample: Map<String, Value>) -> Evidence {
        Evidence {
            skill: skill.to_string(),
            source: source.to_string(),
            query: None,
            row_count: 1,
            truncated: false,
            sample_rows: vec![sample],
            time_range: None,
            elapsed_ms: 0,
        }
    }

    /// Sets the time range.
    pub fn with_time_range(mut self, range: Option<(String, String)>) -> Evidence {
        self.time_range = range;
        self
    }
}

/// What a skill returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SkillOutput {
    /// Structured result (for JSON output and for later steps).
    pub result: Value,
    /// Markdown fragment: every number and entity in it comes from `evidence`.
    pub markdown: String,
    /// The evidence.
    pub evidence: Vec<Evidence>,
}

/// What the session knows from earlier turns, for follow-ups ("it", "that incident",
/// "those devices").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionContext {
    /// Last incident talked about (number or name).
    pub last_incident: Option<String>,
    /// Devices mentioned or found last.
    pub devices: Vec<String>,
    /// Users mentioned or found last.
    pub users: Vec<String>,
    /// IP addresses mentioned or found last.
    pub ips: Vec<String>,
    /// Last generated or run KQL.
    pub last_query: Option<String>,
}

impl SessionContext {
    /// Records entities found by a skill (replacing the previous lists when non-empty).
    pub fn remember(&mut self, result: &Value) {
        if let Some(i) = result.get("incident_number").and_then(value_text) {
            self.last_incident = Some(i);
        }
        for (key, list) in
            [("devices", &mut self.devices), ("users", &mut self.users), ("ips", &mut self.ips)]
        {
            if let Some(Value::Array(items)) = result.get(key) {
                let vals: Vec<String> = items.iter().filter_map(value_text).take(50).collect();
                if !vals.is_empty() {
                    *list = vals;
                }
            }
        }
        if let Some(q) = result.get("kql").and_then(Value::as_str) {
            self.last_query = Some(q.to_string());
        }
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("name").and_then(value_text),
        _ => None,
    }
}

/// Everything a skill may use.
pub struct SkillContext {
    /// Runs KQL (the engine over the store).
    pub runner: Arc<QueryRunner>,
    /// The store's data directory (for `scenarios.json`-free facts such as the data range).
    pub store_dir: PathBuf,
    /// The time questions are relative to.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The session's context.
    pub session: SessionContext,
    /// The language model for skills that can use one (NL→KQL), when configured.
    pub llm: Option<crate::llm::LlmClient>,
}

impl SkillContext {
    /// Runs KQL at `now`; the result is also the evidence.
    pub fn query(&self, kql: &str) -> Result<Rows> {
        self.runner.run(kql, self.now)
    }

    /// Runs independent queries in parallel (a few threads), results in input order.
    pub fn query_many(&self, queries: &[String]) -> Vec<Result<Rows>> {
        const THREADS: usize = 4;
        let mut out: Vec<Option<Result<Rows>>> = (0..queries.len()).map(|_| None).collect();
        for (chunk_index, chunk) in queries.chunks(THREADS).enumerate() {
            let results: Vec<Result<Rows>> = std::thread::scope(|scope| {
                let handles: Vec<_> =
                    chunk.iter().map(|q| scope.spawn(move || self.query(q))).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(Error::Query {
                                query: String::new(),
                                message: "the query thread stopped".into(),
                            })
                        })
                    })
                    .collect()
            });
            for (i, r) in results.into_iter().enumerate() {
                out[chunk_index * THREADS + i] = Some(r);
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::Query { query: String::new(), message: "not run".into() })
                })
            })
            .collect()
    }
}

/// A skill.
pub trait Skill: Send + Sync {
    /// Stable name (`IncidentSummary`).
    fn name(&self) -> &'static str;
    /// One-paragraph description (also used by the planner's similarity score).
    fn description(&self) -> &'static str;
    /// Example prompts.
    fn examples(&self) -> &'static [&'static str];
    /// JSON Schema of the input object.
    fn input_schema(&self) -> Value;
    /// Runs the skill.
    fn run(&self, ctx: &SkillContext, input: &Value) -> Result<SkillOutput>;
}

/// A skill's public description, for listings and LLM planners.
#[derive(Debug, Clone, Serialize)]
pub struct SkillInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Examples.
    pub examples: Vec<String>,
    /// Input JSON Schema.
    pub input_schema: Value,
}

/// The skills, by name.
#[derive(Default)]
pub struct SkillRegistry {
    skills: Vec<Box<dyn Skill>>,
}

impl SkillRegistry {
    /// An empty registry.
    pub fn new() -> SkillRegistry {
        SkillRegistry::default()
    }

    /// Every native skill.
    pub fn builtin() -> SkillRegistry {
        let mut r = SkillRegistry::new();
        for s in crate::skills::all() {
            r.register(s);
        }
        r
    }

    /// Adds a skill (replacing one of the same name).
    pub fn register(&mut self, skill: Box<dyn Skill>) {
        self.skills.retain(|s| s.name() != skill.name());
        self.skills.push(skill);
    }

    /// The skill named `name`.
    pub fn get(&self, name: &str) -> Option<&dyn Skill> {
        self.skills.iter().find(|s| s.name().eq_ignore_ascii_case(name)).map(|b| b.as_ref())
    }

    /// All skills in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Skill> {
        self.skills.iter().map(|b| b.as_ref())
    }

    /// Descriptions of every skill.
    pub fn infos(&self) -> Vec<SkillInfo> {
        self.iter()
            .map(|s| SkillInfo {
                name: s.name().to_string(),
                description: s.description().to_string(),
                examples: s.examples().iter().map(|e| (*e).to_string()).collect(),
                input_schema: s.input_schema(),
            })
            .collect()
    }

    /// Runs the skill `name`.
    pub fn run(&self, name: &str, ctx: &SkillContext, input: &Value) -> Result<SkillOutput> {
        self.get(name).ok_or_else(|| Error::UnknownSkill(name.to_string()))?.run(ctx, input)
    }
}

/// A string field of a skill input.
pub fn input_str<'a>(skill: &str, input: &'a Value, key: &str) -> Result<&'a str> {
    input.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        Error::Input {
            skill: skill.to_string(),
            message: format!("'{key}' (a string) is required"),
        }
    })
}

/// A list of strings of a skill input (a single string counts as a list of one).
pub fn input_list(input: &Value, key: &str) -> Vec<String> {
    match input.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(value_text).collect(),
        Some(v) => value_text(v).into_iter().collect(),
        None => Vec::new(),
    }
}
