//! Running KQL for skills: one engine and one runtime per copilot, results turned into JSON
//! rows that become evidence. Every read of data goes through here, so every answer can show
//! the query behind it.
use crate::{Error, Result};
use bulwark_kql::exec;
use serde_json::{Map, Value};

/// Rows kept from one query (the evidence shows a sample; skills read them all).
pub const MAX_ROWS: usize = 5_000;

/// A query's result.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// The KQL text that ran.
    pub query: String,
    /// Tables the query reads (its source).
    pub source: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows as JSON objects.
    pub rows: Vec<Map<String, Value>>,
    /// Rows returned.
    pub row_count: usize,
    /// Whether [`MAX_ROWS`] cut the result.
    pub truncated: bool,
    /// Milliseconds.
    pub elapsed_ms: u64,
}

impl Rows {
    /// Text of a cell (`""` for null or missing).
    pub fn text(&self, row: usize, column: &str) -> String {
        self.rows.get(row).map(|r| cell(r, column)).unwrap_or_default()
    }

    /// Values of one column, in row order, without empties.
    pub fn column(&self, column: &str) -> Vec<String> {
        self.rows.iter().map(|r| cell(r, column)).filter(|s| !s.is_empty()).collect()
    }
}

/// A cell of a JSON row as text: strings as they are, others as JSON.
pub fn cell(row: &Map<String, Value>, column: &str) -> String {
    match row.get(column) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Table names a query reads: identifiers that start a pipeline or follow `union`/`join`.
fn sources(kql: &str, registry: &bulwark_model::SchemaRegistry) -> String {
    let mut found: Vec<String> = Vec::new();
    for token in kql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if token.len() > 2
            && token.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && registry.get(token).is_some()
            && !found.iter().any(|f| f == token)
        {
            found.push(token.to_string());
        }
    }
    found.join(", ")
}

/// Runs KQL over the store.
pub struct QueryRunner {
    engine: exec::Engine,
    runtime: tokio::runtime::Runtime,
    registry: bulwark_model::SchemaRegistry,
}

impl std::fmt::Debug for QueryRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRunner").finish_non_exhaustive()
    }
}

impl QueryRunner {
    /// A runner over every table of `store`.
    pub fn open(store: &bulwark_store::Store) -> Result<QueryRunner> {
        let engine = exec::Engine::open(store)
            .map_err(|e| Error::Query { query: String::new(), message: e.render("") })?;
        Self::with_engine(engine, store.registry().clone())
    }

    /// A runner over an engine.
    pub fn with_engine(
        engine: exec::Engine,
        registry: bulwark_model::SchemaRegistry,
    ) -> Result<QueryRunner> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            // Deeply nested expressions (long Sigma `or` chains) recurse in DataFusion's planner.
            .thread_stack_size(32 << 20)
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::Query { query: String::new(), message: e.to_string() })?;
        Ok(QueryRunner { engine, runtime, registry })
    }

    /// The schema registry queries are checked against.
    pub fn registry(&self) -> &bulwark_model::SchemaRegistry {
        &self.registry
    }

    /// Runs `kql` with `now()` fixed at `now`.
    pub fn run(&self, kql: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Rows> {
        let options = exec::QueryOptions { now: Some(now), max_rows: Some(MAX_ROWS) };
        let started = std::time::Instant::now();
        let out = self
            .runtime
            .block_on(self.engine.query(kql, &options))
            .map_err(|e| Error::Query { query: kql.to_string(), message: e.render(kql) })?;
        let rows = out.to_json_rows();
        Ok(Rows {
            query: out.query.clone(),
            source: sources(kql, &self.registry),
            columns: out.columns.iter().map(|c| c.name.clone()).collect(),
            row_count: out.row_count,
            truncated: out.truncated,
            rows,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}
