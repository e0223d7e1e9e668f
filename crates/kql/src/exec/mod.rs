//! Execution: KQL text → parse → check → a DataFusion [`LogicalPlan`] → Arrow batches.
//!
//! The planner ([`planner`]) lowers the syntax tree onto DataFusion's logical plans, using the
//! `kql_*` UDFs/UDAFs of `bulwark-kql-functions` wherever Kusto's semantics differ from SQL. It is
//! synchronous; the few constructs whose plan depends on data (`toscalar`, `x in (subquery)`,
//! `evaluate bag_unpack`) ask the driver here for a value, which runs that sub-plan and plans
//! the query again with the answer (bounded by [`MAX_PREFETCH`]).
//!
//! The [`Engine`] is what the copilot and the CLI use: an engine over a store (every table
//! registered) or an empty one (for `datatable`/`print`/`range` queries), returning a
//! [`QueryOutput`] that keeps the query text beside the rows, so every answer can show it.
mod names;
mod planner;
mod scalar;
mod values;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulwark_model::{KustoType, SchemaRegistry};
use chrono::{DateTime, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use crate::diagnostic::{Diagnostic, Severity, render};
use crate::span::Span;

pub use values::cell_text;

/// Largest number of data-dependent values (`toscalar`, subquery lists, bag keys) one query may
/// need before its plan is complete.
pub const MAX_PREFETCH: usize = 64;

/// Largest number of values a `x in (subquery)` list may hold.
pub const MAX_IN_LIST: usize = 1_000_000;

/// Options for one query.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// The query's `now()` (also `ago()`); default: the current time.
    pub now: Option<DateTime<Utc>>,
    /// Keep at most this many result rows (the result says when it was cut).
    pub max_rows: Option<usize>,
}

/// A column of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// Name.
    pub name: String,
    /// Kusto type.
    pub ty: KustoType,
}

/// `| render chart with (…)`: kept with the result as a hint for whoever draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderHint {
    /// Chart kind (`timechart`, `barchart`, …).
    pub chart: String,
    /// `with (name = value, …)` properties, values as written.
    pub properties: Vec<(String, String)>,
}

/// The result of a query.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The KQL text that ran (shown with every answer built on it).
    pub query: String,
    /// Result columns.
    pub columns: Vec<OutputColumn>,
    /// Result rows.
    pub batches: Vec<RecordBatch>,
    /// Rows in `batches`.
    pub row_count: usize,
    /// Whether `max_rows` cut the result.
    pub truncated: bool,
    /// Chart hint from `render`.
    pub render: Option<RenderHint>,
    /// Checker warnings (the query ran anyway).
    pub warnings: Vec<Diagnostic>,
    /// Whether the row order is meaningful (`sort`, `top`, `serialize` …).
    pub ordered: bool,
    /// Wall time of planning and execution.
    pub elapsed: Duration,
}

/// Why a query did not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    /// The text is not valid KQL.
    #[error("syntax error: {}", first_message(.0))]
    Syntax(Vec<Diagnostic>),
    /// The query refers to unknown tables, columns or functions, or mixes types.
    #[error("{}", first_message(.0))]
    Check(Vec<Diagnostic>),
    /// Valid KQL that the engine cannot run (an unsupported operator or function).
    #[error("{message}")]
    Plan {
        /// What is wrong.
        message: String,
        /// Where, when known.
        span: Option<Span>,
    },
    /// Execution failed (for example an invalid regular expression in the data path).
    #[error("query failed: {0}")]
    Execution(String),
}

fn first_message(d: &[Diagnostic]) -> String {
    d.iter()
        .find(|d| d.severity == Severity::Error)
        .or(d.first())
        .map_or_else(|| "invalid query".to_string(), |d| d.message.clone())
}

impl QueryError {
    /// The error for a person: every diagnostic with `line:col` and carets.
    pub fn render(&self, text: &str) -> String {
        match self {
            QueryError::Syntax(d) | QueryError::Check(d) => d
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| render(text, d))
                .collect::<Vec<_>>()
                .join("\n"),
            QueryError::Plan { message, span: Some(span) } => {
                render(text, &Diagnostic::error("KQL2001", *span, message.clone()))
            }
            QueryError::Plan { message, span: None } => format!("error: {message}"),
            QueryError::Execution(m) => format!("error: query failed: {m}"),
        }
    }
}

/// Runs KQL over a set of tables.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    registry: SchemaRegistry,
    tables: HashMap<String, Arc<dyn TableProvider>>,
    /// Tables known to hold rows (wildcard unions skip the others); `None` when unknown.
    nonempty: Option<HashSet<String>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("tables", &self.tables.len()).finish()
    }
}

impl Engine {
    /// An engine without data: `datatable`, `print`, `range` and `let` queries run; table
    /// names from the builtin registry check but read no rows.
    pub fn empty() -> Engine {
        Engine {
            ctx: new_context(),
            registry: SchemaRegistry::builtin(),
            tables: HashMap::new(),
            nonempty: Some(HashSet::new()),
        }
    }

    /// An engine over every table of a store.
    pub fn open(store: &bulwark_store::Store) -> Result<Engine, QueryError> {
        // The store's session: its Parquet settings (filter pushdown, late materialization).
        let ctx = store.session_context().map_err(|e| QueryError::Execution(e.to_string()))?;
        let manifest = store.manifest().map_err(|e| QueryError::Execution(e.to_string()))?;
        let nonempty: HashSet<String> = manifest
            .tables
            .iter()
            .filter(|(name, _)| manifest.rows(name) > 0)
            .map(|(name, _)| name.clone())
            .collect();
        let mut engine = Engine::with_context(ctx, store.registry().clone())?;
        engine.nonempty = Some(nonempty);
        Ok(engine)
    }

    /// An engine over the tables already registered in `ctx` (default catalog and schema).
    pub fn with_context(
        ctx: SessionContext,
        registry: SchemaRegistry,
    ) -> Result<Engine, QueryError> {
        let mut tables = HashMap::new();
        let state = ctx.state();
        let catalog = state.catalog_list().catalog("datafusion");
        if let Some(schema) = catalog.and_then(|c| c.schema("public")) {
            for name in schema.table_names() {
                // Registered in-memory providers resolve without I/O, so blocking is safe.
                if let Ok(Some(p)) = futures::executor::block_on(schema.table(&name)) {
                    tables.insert(name, p);
                }
            }
        }
        Ok(Engine { ctx, registry, tables, nonempty: None })
    }

    /// The schema registry queries are checked against.
    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// Parses, checks and plans a query without running it: the DataFusion logical plan and
    /// the output columns. Data-dependent parts (`toscalar` …) run.
    pub async fn plan(
        &self,
        text: &str,
        options: &QueryOptions,
    ) -> Result<(LogicalPlan, Vec<OutputColumn>), QueryError> {
        let (planned, _) = self.plan_inner(text, options).await?;
        Ok((planned.plan, planned.columns))
    }

    async fn plan_inner(
        &self,
        text: &str,
        options: &QueryOptions,
    ) -> Result<(planner::Planned, Vec<Diagnostic>), QueryError> {
        let parsed = crate::parse(text);
        if !parsed.has_valid_syntax() {
            return Err(QueryError::Syntax(parsed.diagnostics));
        }
        let checked = crate::check(&parsed.syntax, &self.registry);
        let (errors, warnings): (Vec<_>, Vec<_>) =
            checked.diagnostics.into_iter().partition(|d| d.severity == Severity::Error);
        if !errors.is_empty() {
            return Err(QueryError::Check(errors));
        }
        let now = options.now.unwrap_or_else(Utc::now);
        let mut prefetched: HashMap<String, planner::Prefetched> = HashMap::new();
        for _ in 0..=MAX_PREFETCH {
            let p = planner::Planner::new(self, now, &prefetched);
            match p.plan_query(&parsed.syntax) {
                Ok(planned) => return Ok((planned, warnings)),
                Err(planner::PlanError::Need(request)) => {
                    let value = self.fetch(&request, now).await?;
                    prefetched.insert(request.key.clone(), value);
                }
                Err(planner::PlanError::Fail(e)) => return Err(e),
            }
        }
        Err(QueryError::Plan {
            message: format!(
                "the query needs more than {MAX_PREFETCH} sub-query results before it can run"
            ),
            span: None,
        })
    }

    /// Runs a query.
    pub async fn query(
        &self,
        text: &str,
        options: &QueryOptions,
    ) -> Result<QueryOutput, QueryError> {
        let start = Instant::now();
        let (planned, warnings) = self.plan_inner(text, options).await?;
        let now = options.now.unwrap_or_else(Utc::now);
        let mut batches = self.collect(planned.plan, now).await?;
        let mut truncated = false;
        if let Some(max) = options.max_rows {
            let total: usize = batches.iter().map(|b| b.num_rows()).sum();
            if total > max {
                truncated = true;
                let mut left = max;
                let mut kept = Vec::new();
                for b in batches {
                    if left == 0 {
                        break;
                    }
                    let take = b.num_rows().min(left);
                    kept.push(b.slice(0, take));
                    left -= take;
                }
                batches = kept;
            }
        }
        let row_count = batches.iter().map(|b| b.num_rows()).sum();
        Ok(QueryOutput {
            query: text.to_string(),
            columns: planned.columns,
            batches,
            row_count,
            truncated,
            render: planned.render,
            warnings,
            ordered: planned.ordered,
            elapsed: start.elapsed(),
        })
    }

    /// Runs a query on a runtime of its own (for callers that are not async). Do not call it
    /// from inside a tokio runtime.
    pub fn query_blocking(
        &self,
        text: &str,
        options: &QueryOptions,
    ) -> Result<QueryOutput, QueryError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            // Deeply nested expressions (long Sigma `or` chains) recurse in DataFusion's planner.
            .thread_stack_size(32 << 20)
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| QueryError::Execution(format!("cannot start the query runtime: {e}")))?;
        rt.block_on(self.query(text, options))
    }

    async fn collect(
        &self,
        plan: LogicalPlan,
        now: DateTime<Utc>,
    ) -> Result<Vec<RecordBatch>, QueryError> {
        let state = self.ctx.state();
        bulwark_kql_functions::register_all(&self.ctx, now);
        let df = datafusion::dataframe::DataFrame::new(state, plan);
        df.collect().await.map_err(|e| QueryError::Execution(clean_error(&e.to_string())))
    }

    async fn fetch(
        &self,
        request: &planner::Request,
        now: DateTime<Utc>,
    ) -> Result<planner::Prefetched, QueryError> {
        let batches = self.collect(request.plan.clone(), now).await?;
        match request.kind {
            planner::RequestKind::Scalar => {
                for b in &batches {
                    if b.num_rows() > 0 && b.num_columns() > 0 {
                        let v = ScalarValue::try_from_array(b.column(0), 0)
                            .map_err(|e| QueryError::Execution(e.to_string()))?;
                        return Ok(planner::Prefetched::Scalar(v));
                    }
                }
                let ty = request.plan.schema().field(0).data_type().clone();
                let null = ScalarValue::try_from(&ty).unwrap_or(ScalarValue::Null);
                Ok(planner::Prefetched::Scalar(null))
            }
            planner::RequestKind::List => {
                let mut out = Vec::new();
                for b in &batches {
                    if b.num_columns() == 0 {
                        continue;
                    }
                    for i in 0..b.num_rows() {
                        let v = ScalarValue::try_from_array(b.column(0), i)
                            .map_err(|e| QueryError::Execution(e.to_string()))?;
                        out.push(v);
                        if out.len() > MAX_IN_LIST {
                            return Err(QueryError::Execution(format!(
                                "the sub-query in `in (…)` returned more than {MAX_IN_LIST} values"
                            )));
                        }
                    }
                }
                Ok(planner::Prefetched::List(out))
            }
            planner::RequestKind::Keys => {
                let mut keys = std::collections::BTreeSet::new();
                for b in &batches {
                    for i in 0..b.num_rows() {
                        let text = values::cell_text(b.column(0), i, KustoType::String);
                        if let Ok(serde_json::Value::Object(m)) =
                            serde_json::from_str::<serde_json::Value>(&text)
                        {
                            keys.extend(m.keys().cloned());
                        }
                        if keys.len() > 10_000 {
                            return Err(QueryError::Execution(
                                "bag_unpack would create more than 10000 columns".into(),
                            ));
                        }
                    }
                }
                Ok(planner::Prefetched::Keys(keys.into_iter().collect()))
            }
        }
    }
}

fn new_context() -> SessionContext {
    let config = datafusion::prelude::SessionConfig::new()
        .with_information_schema(false)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    SessionContext::new_with_config(config)
}

/// DataFusion errors wrap the cause in layers (`Parquet error: External: Compute error: …
/// Execution("invalid regular expression …")`); keep the innermost sentence.
fn clean_error(e: &str) -> String {
    let mut text = e;
    if let Some(i) = text.rfind("Execution(\"") {
        let inner = &text[i + "Execution(\"".len()..];
        text = inner.rfind("\")").map_or(inner, |end| &inner[..end]);
    }
    let mut out = text.replace("\\n", "\n");
    for prefix in ["Execution error: ", "Error during planning: ", "External error: "] {
        if let Some(rest) = out.strip_prefix(prefix) {
            out = rest.to_string();
        }
    }
    out
}

impl QueryOutput {
    /// A cell as Kusto prints it (empty for null).
    pub fn cell_text(&self, row: usize, col: usize) -> String {
        let mut r = row;
        for b in &self.batches {
            if r < b.num_rows() {
                let ty = self.columns.get(col).map_or(KustoType::String, |c| c.ty);
                return match b.columns().get(col) {
                    Some(a) => values::cell_text(a, r, ty),
                    None => String::new(),
                };
            }
            r -= b.num_rows();
        }
        String::new()
    }

    /// Every row as cell texts.
    pub fn rows_text(&self) -> Vec<Vec<String>> {
        let mut out = Vec::with_capacity(self.row_count);
        for b in &self.batches {
            for r in 0..b.num_rows() {
                out.push(
                    self.columns
                        .iter()
                        .enumerate()
                        .map(|(c, col)| {
                            b.columns()
                                .get(c)
                                .map_or_else(String::new, |a| values::cell_text(a, r, col.ty))
                        })
                        .collect(),
                );
            }
        }
        out
    }

    /// The result as CSV: a header line, then one line per row (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| values::csv_field(&c.name)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in self.rows_text() {
            let fields: Vec<String> = row.iter().map(|v| values::csv_field(v)).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// The rows as JSON objects: dynamic columns as JSON values, datetimes as ISO text,
    /// timespans as Kusto text, numbers as numbers, null as null.
    pub fn to_json_rows(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let mut out = Vec::with_capacity(self.row_count);
        for b in &self.batches {
            for r in 0..b.num_rows() {
                let mut m = serde_json::Map::new();
                for (c, col) in self.columns.iter().enumerate() {
                    let v = b
                        .columns()
                        .get(c)
                        .map_or(serde_json::Value::Null, |a| values::cell_json(a, r, col.ty));
                    m.insert(col.name.clone(), v);
                }
                out.push(m);
            }
        }
        out
    }
}
