//! The command line, as clap definitions. Validation only; no work is done here.
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Bulwark: a self-hosted security copilot whose answers are grounded in your own data.
#[derive(Debug, Parser)]
#[command(name = "bulwark", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Data directory (default: $BULWARK_DATA_DIR, else ./bulwark-data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print only results: no progress bars or notes.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Configuration file with an `[llm]` section (default: DATA_DIR/bulwark.toml when present;
    /// `BULWARK_LLM`, `BULWARK_LLM_URL`, `BULWARK_LLM_MODEL`, `BULWARK_LLM_KEY` override it).
    #[arg(long, global = true, value_name = "FILE", env = "BULWARK_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Output format for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table for people.
    Table,
    /// JSON for programs.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the demo tenant: a week of telemetry from a 200-person company with three
    /// attacks embedded (ground truth in DATA_DIR/scenarios.json).
    Demo(DemoArgs),
    /// List the tables with their row counts and columns.
    Tables(TablesArgs),
    /// Manage custom (`*_CL`) table schemas.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Ingest telemetry files or folders: EVTX, JSON lines, CSV, syslog, CEF.
    Ingest(IngestArgs),
    /// Run detection rules over the stored data and correlate alerts into incidents.
    Detect(DetectArgs),
    /// List incidents, or show one.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Sigma rules: run the SigmaHQ regression tests, convert rules to KQL.
    #[command(subcommand)]
    Sigma(SigmaCommand),
    /// KQL: run a query over the store (`bulwark kql "DeviceProcessEvents | take 5"`), check
    /// queries against the schema, format them.
    Kql(KqlArgs),
    /// Ask a question about your data in plain language; the answer cites its evidence.
    Ask(AskArgs),
    /// An interactive session: questions, follow-ups ("summarize it"), /pin, /export, /quit.
    Chat {
        /// Continue this session.
        #[arg(long)]
        session: Option<String>,
    },
    /// Promptbooks: multi-step prompt recipes run in one session.
    #[command(subcommand)]
    Promptbook(PromptbookCommand),
    /// Stored copilot sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Reverse-engineer scripts without running them: peel obfuscation, list indicators and
    /// behaviours, give a verdict.
    Analyze(AnalyzeArgs),
    /// Language models: serve a local GGUF model over the OpenAI API, show or test the
    /// configured backend.
    #[command(subcommand)]
    Llm(LlmCommand),
    /// Score whatever backend is configured on a test set.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Measure throughput (demo generation and store writes).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Serve the API and the web app.
    Serve(crate::server_cmds::ServeArgs),
    /// Server users and their API keys.
    #[command(subcommand)]
    Users(crate::server_cmds::UsersCommand),
    /// Show (or --verify) the server's audit log.
    Audit(crate::server_cmds::AuditArgs),
}

#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Serve a local GGUF model (run in this process on the CPU) over the OpenAI-compatible
    /// `/v1/chat/completions` (streaming and not) and `/v1/models`, so one box can host a model
    /// for every analyst (`BULWARK_LLM=openai BULWARK_LLM_URL=http://HOST:PORT/v1`).
    Serve {
        /// The GGUF file (default: `model_path` from the `[llm]` configuration).
        #[arg(long, value_name = "FILE.gguf")]
        model: Option<PathBuf>,
        /// Address to listen on (`:0` picks a free port, printed on the first line).
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// Context window in tokens (default: the model's).
        #[arg(long)]
        context_window: Option<usize>,
        /// Tokens generated when a request sets no max_tokens.
        #[arg(long)]
        max_tokens: Option<u32>,
    },
    /// Show the configured backend (secrets redacted); `--ping` sends it a tiny request.
    Info {
        /// Send a one-line chat request and report the reply, tokens and time.
        #[arg(long)]
        ping: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Natural language → KQL with the NL2KQL paper's offline metrics (syntax, semantic,
    /// table, filter-column and filter-literal scores) over lines
    /// `{"context": QUESTION, "baseline": KQL}`, using the configured backend (or the
    /// deterministic generator with `BULWARK_LLM=none`).
    Nl2kql {
        /// JSON-lines file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Background events to generate (10k to 100M; attack events come on top).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(10_000..=100_000_000))]
    pub events: u64,
    /// Seed: the same seed (and --end) gives the same tenant.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Days of history.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(5..=90))]
    pub days: u32,
    /// End of the time window (ISO-8601, UTC); default: the start of the current hour.
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// Add to an existing data directory instead of refusing when it already has data.
    #[arg(long)]
    pub append: bool,
    /// Skip running detection at the end (large tenants for benchmarks).
    #[arg(long)]
    pub no_detect: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or directories (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Input format; `auto` decides per file from its content.
    #[arg(long, default_value = "auto", value_parser = ["auto", "evtx", "jsonl", "csv", "syslog", "cef"])]
    pub format: String,
    /// Put every JSON/CSV record in this table (columns matched by name).
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Ingest files the store already has (same content hash) again.
    #[arg(long)]
    pub force: bool,
    /// Output format of the summary.
    #[arg(long = "output", value_enum, default_value_t = ListFormat::Table)]
    pub output: ListFormat,
    /// Run the detection rules on the events as they are ingested, then correlate alerts
    /// into incidents.
    #[arg(long)]
    pub detect: bool,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Extra Sigma rule directories (SigmaHQ layout); the built-in pack always runs.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Skip the built-in rule pack.
    #[arg(long)]
    pub no_builtin: bool,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, most recent first.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show one incident by number (or IncidentName): alerts, entities, timeline.
    Show {
        /// Incident number or name.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigmaCommand {
    /// Run SigmaHQ regression tests: each folder's info.yml names a rule and its expected hits.
    Test {
        /// The regression_data folder.
        dir: PathBuf,
        /// Rule directories (default: the `rules*` folders beside DIR).
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Convert Sigma rules (a file or directory) to KQL for Defender XDR or Sentinel.
    Convert {
        /// Rule file or directory.
        rule: PathBuf,
        /// Target language.
        #[arg(long = "to", value_enum, default_value_t = ConvertTarget::Kql)]
        to: ConvertTarget,
    },
}

/// Languages Sigma rules convert to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvertTarget {
    /// Kusto Query Language.
    Kql,
}

/// `bulwark kql [QUERY | -f FILE] [--format …]` or `bulwark kql check|fmt …`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct KqlArgs {
    /// Check or format instead of running.
    #[command(subcommand)]
    pub command: Option<KqlCommand>,
    /// The query to run.
    pub query: Option<String>,
    /// Read the query from a file (`-` for standard input).
    #[arg(short, long, value_name = "FILE", conflicts_with = "query")]
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ResultFormat::Table)]
    pub format: ResultFormat,
    /// Print at most this many rows (0: all).
    #[arg(long, default_value_t = 1000)]
    pub max_rows: usize,
    /// The query's now() (RFC 3339), for repeatable results; default: the current time.
    #[arg(long, value_name = "DATETIME")]
    pub now: Option<String>,
}

/// How query results print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    /// A table for people.
    Table,
    /// One JSON object: query, columns, rows.
    Json,
    /// CSV with a header line.
    Csv,
}

/// `bulwark ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question.
    #[arg(required = true)]
    pub prompt: Vec<String>,
    /// Ask within this session (follow-ups resolve from it); default: a new session.
    #[arg(long)]
    pub session: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum PromptbookCommand {
    /// List the built-in promptbooks.
    List,
    /// Show a promptbook's inputs and prompts (a built-in name, or a YAML/Markdown file).
    Show {
        /// Name or file.
        name: String,
    },
    /// Run a promptbook step by step in one session.
    Run {
        /// Name or file.
        name: String,
        /// Inputs as `key=value` (e.g. `--param incident_id=2`).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List sessions.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show a session's prompts and answers.
    Show {
        /// Session id.
        id: String,
    },
    /// Export a session as Markdown or self-contained HTML.
    Export {
        /// Session id.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Markdown)]
        format: ExportFormat,
    },
    /// Delete a session.
    Delete {
        /// Session id.
        id: String,
    },
}

/// Session export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Markdown.
    Markdown,
    /// One self-contained HTML page.
    Html,
}

#[derive(Debug, Subcommand)]
pub enum KqlCommand {
    /// Turn a question into KQL (checked against the schema before it is shown).
    Generate {
        /// The question, e.g. "failed sign-ins for alice in the past week".
        #[arg(required = true)]
        question: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Check queries: a JSON-lines file with a `query` field per line, or one query.
    Check {
        /// JSON-lines corpus.
        #[arg(long, value_name = "FILE", conflicts_with = "query")]
        jsonl: Option<PathBuf>,
        /// A query to check.
        query: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Pretty-print a query (from the argument, or -f FILE).
    Fmt {
        /// The query.
        query: Option<String>,
        /// Read the query from a file.
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Script files, or `-` for standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Language of the input.
    #[arg(long, value_enum, default_value_t = ScriptLang::Auto)]
    pub lang: ScriptLang,
    /// Output format (several files with json: one object per line).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Script languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptLang {
    /// Detect from the content.
    Auto,
    /// PowerShell.
    Powershell,
    /// cmd.exe batch.
    Cmd,
    /// bash / sh.
    Bash,
    /// JavaScript / JScript.
    Js,
    /// VBA / VBScript.
    Vba,
    /// Python.
    Python,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// For programs.
    Json,
}

#[derive(Debug, Args)]
pub struct TablesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Include tables that have no rows.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Add custom tables from a JSON file: {"Table_CL": [["Column","type"], ...]}.
    Add {
        /// The schema file.
        file: PathBuf,
    },
    /// Show a table's columns and types.
    Show {
        /// Table name.
        table: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Copilot latency per prompt over the data dir's tenant: p50/p95/max of a fixed prompt set.
    Ask {
        /// Rounds over the prompt set (after one warm-up prompt).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Five hunting queries over the store: KQL through Bulwark's engine vs the same logic in
    /// DataFusion SQL and (with --duckdb) DuckDB, over the same Parquet files, in one run.
    Kql {
        /// Timed runs per query (the median is reported, after one warm-up run).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also time DuckDB through `python3 -c 'import duckdb'` (pip package `duckdb`).
        #[arg(long)]
        duckdb: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Demo generation alone, then generation written to a temporary store.
    Demo {
        /// Background events.
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
