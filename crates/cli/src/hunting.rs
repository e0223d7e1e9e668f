//! Detection, incidents, Sigma and KQL commands.
use crate::cli::{
    DetectArgs, IncidentsCommand, KqlArgs, KqlCommand, ListFormat, ResultFormat, SigmaCommand,
};
use crate::output;
use anyhow::{Context, Result, bail};
use bulwark_detect::hunt::{self, Findings};
use bulwark_detect::{IncidentConfig, RuleSet};
use bulwark_store::{Store, batches_to_json_rows, table_ref};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Loads the built-in pack and any extra directories, printing what failed to load.
pub fn load_rules(extra: &[std::path::PathBuf], builtin: bool, quiet: bool) -> Result<RuleSet> {
    load_rules_for(extra, builtin, quiet, None)
}

/// [`load_rules`] keeping only rules over `tables` (the tables holding rows): rsigma builds
/// a matching engine per rule table, so unused ones are memory for nothing.
pub fn load_rules_for(
    extra: &[std::path::PathBuf],
    builtin: bool,
    quiet: bool,
    tables: Option<Vec<String>>,
) -> Result<RuleSet> {
    let mut rules = RuleSet::new();
    if let Some(tables) = tables {
        rules.restrict_to_tables(tables);
    }
    if builtin {
        let report = bulwark_detect::builtin::load_builtin(&mut rules);
        if !report.failed.is_empty() {
            bail!(
                "{} built-in rules failed to load: {}",
                report.failed.len(),
                report.failed[0].feature
            );
        }
    }
    for dir in extra {
        let report = rules
            .load_dir(dir)
            .with_context(|| format!("cannot load rules from {}", dir.display()))?;
        if !quiet {
            eprintln!(
                "{}: {} rules loaded, {} failed ({:.1}%)",
                dir.display(),
                report.loaded,
                report.failed.len(),
                report.load_percent()
            );
        }
    }
    Ok(rules)
}

/// Runs the hunt and writes the findings; used by `detect` and at the end of `demo`.
pub fn run_detection(store: &Store, rules: &RuleSet, quiet: bool) -> Result<Findings> {
    let total: u64 = store
        .table_stats()?
        .iter()
        .filter(|t| rules.tables().contains(&t.name.as_str()))
        .map(|t| t.rows)
        .sum();
    let bar = output::progress(total, "rows", quiet);
    let findings =
        hunt::hunt(store, rules, &IncidentConfig::default(), &mut |n| bar.set_position(n))?;
    bar.finish_and_clear();
    hunt::write_findings(store, &findings)?;
    Ok(findings)
}

/// The tables of the store that hold rows.
pub fn tables_with_rows(store: &Store) -> Result<Vec<String>> {
    Ok(store.table_stats()?.into_iter().filter(|t| t.rows > 0).map(|t| t.name).collect())
}

pub fn detect(store: &Store, args: &DetectArgs, quiet: bool) -> Result<ExitCode> {
    let rules =
        load_rules_for(&args.rules, !args.no_builtin, quiet, Some(tables_with_rows(store)?))?;
    let started = std::time::Instant::now();
    let findings = run_detection(store, &rules, quiet)?;
    let elapsed = started.elapsed().as_secs_f64();
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string(&findings.report)?),
        ListFormat::Table => print_findings(&findings, elapsed)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_findings(findings: &Findings, elapsed: f64) -> Result<()> {
    let r = &findings.report;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Evaluated {} rows in {elapsed:.1} s: {} alerts ({} from products), {} incidents.",
        output::count(r.rows_scanned),
        r.alerts + r.product_alerts,
        r.product_alerts,
        r.incidents
    )?;
    let mut t = output::table(&["#", "severity", "alerts", "title"]);
    for (n, i) in findings.incidents.iter().enumerate() {
        t.add_row(vec![
            (n + 1).to_string(),
            hunt::severity(Some(&i.severity)).to_string(),
            i.alerts.len().to_string(),
            i.title.clone(),
        ]);
    }
    if !findings.incidents.is_empty() {
        writeln!(out, "{t}")?;
    }
    Ok(())
}

fn query_rows(store: &Store, table: &str) -> Result<Vec<Map<String, Value>>> {
    let rt = tokio_runtime()?;
    let ctx = store.session_context()?;
    let batches = rt.block_on(async { ctx.table(table_ref(table)).await?.collect().await })?;
    Ok(batches_to_json_rows(&batches)?)
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

fn text(row: &Map<String, Value>, key: &str) -> String {
    match row.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

pub fn incidents(store: &Store, cmd: IncidentsCommand) -> Result<ExitCode> {
    let mut rows = query_rows(store, "SecurityIncident")?;
    rows.sort_by_key(|r| {
        std::cmp::Reverse(r.get("IncidentNumber").and_then(Value::as_i64).unwrap_or(0))
    });
    match cmd {
        IncidentsCommand::List { format } => match format {
            ListFormat::Json => println!("{}", serde_json::to_string(&rows)?),
            ListFormat::Table => {
                if rows.is_empty() {
                    println!(
                        "No incidents. Run `bulwark detect` after `bulwark demo` or `bulwark ingest`."
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                let mut t = output::table(&[
                    "#",
                    "severity",
                    "status",
                    "first activity",
                    "last activity",
                    "title",
                ]);
                for r in &rows {
                    t.add_row(vec![
                        text(r, "IncidentNumber"),
                        text(r, "Severity"),
                        text(r, "Status"),
                        text(r, "FirstActivityTime"),
                        text(r, "LastActivityTime"),
                        text(r, "Title"),
                    ]);
                }
                println!("{t}");
            }
        },
        IncidentsCommand::Show { id, format } => {
            let Some(incident) = rows.iter().find(|r| {
                text(r, "IncidentNumber") == id || text(r, "IncidentName").eq_ignore_ascii_case(&id)
            }) else {
                bail!("no incident '{id}'; `bulwark incidents list` shows their numbers");
            };
            let alert_ids: Vec<String> =
                serde_json::from_str(&text(incident, "AlertIds")).unwrap_or_default();
            let mut alerts: Vec<Map<String, Value>> = query_rows(store, "AlertInfo")?
                .into_iter()
                .filter(|a| alert_ids.contains(&text(a, "AlertId")))
                .collect();
            alerts.sort_by_key(|a| text(a, "TimeGenerated"));
            match format {
                ListFormat::Json => {
                    println!("{}", serde_json::json!({ "incident": incident, "alerts": alerts }));
                }
                ListFormat::Table => {
                    println!(
                        "Incident {}: {}",
                        text(incident, "IncidentNumber"),
                        text(incident, "Title")
                    );
                    println!(
                        "Severity {}, status {}; activity from {} to {}.",
                        text(incident, "Severity"),
                        text(incident, "Status"),
                        text(incident, "FirstActivityTime"),
                        text(incident, "LastActivityTime")
                    );
                    println!("{}", text(incident, "Description"));
                    let mut t = output::table(&["time", "severity", "category", "alert"]);
                    for a in &alerts {
                        t.add_row(vec![
                            text(a, "TimeGenerated"),
                            text(a, "Severity"),
                            text(a, "Category"),
                            text(a, "Title"),
                        ]);
                    }
                    println!("{t}");
                    if let Ok(Value::Object(data)) =
                        serde_json::from_str::<Value>(&text(incident, "AdditionalData"))
                        && let Some(Value::Array(entities)) = data.get("entities")
                    {
                        let mut t = output::table(&["entity", "value"]);
                        for e in entities.iter().take(40) {
                            t.add_row(vec![text_of(e, "kind"), text_of(e, "value")]);
                        }
                        println!("{t}");
                        if entities.len() > 40 {
                            println!(
                                "… and {} more entities (use --format json)",
                                entities.len() - 40
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn text_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

pub fn sigma(cmd: SigmaCommand, quiet: bool) -> Result<ExitCode> {
    match cmd {
        SigmaCommand::Test { dir, rules, format } => {
            let rules = if rules.is_empty() { sibling_rule_dirs(&dir)? } else { rules };
            let set = load_rules(&rules, false, quiet)?;
            let report = bulwark_detect::run_regression(
                &set,
                &dir,
                &bulwark_detect::regression::JsonRendering,
            )?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string(&report)?),
                ListFormat::Table => {
                    println!(
                        "{} of {} regression tests passed ({:.1}%).",
                        report.passed,
                        report.total,
                        report.pass_percent()
                    );
                    for f in report.failures.iter().take(20) {
                        println!("  {}: {}", f.test, f.reason);
                    }
                }
            }
        }
        SigmaCommand::Convert { rule, to: _ } => {
            let mut set = RuleSet::new();
            let report = if rule.is_dir() {
                set.load_dir(&rule)?
            } else {
                let yaml = std::fs::read_to_string(&rule)
                    .with_context(|| format!("cannot read {}", rule.display()))?;
                set.add_yaml(&yaml, &rule.display().to_string())
            };
            for f in &report.failed {
                eprintln!("{}: {}", f.origin, f.feature);
            }
            let mut out = std::io::stdout().lock();
            let mut converted = 0;
            for r in set.parsed_rules() {
                match bulwark_detect::to_kql(r) {
                    Ok(kql) => {
                        writeln!(out, "{kql}\n")?;
                        converted += 1;
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
            for c in set.correlation_rules() {
                match bulwark_detect::chained_correlation_to_kql(
                    c,
                    set.parsed_rules(),
                    set.correlation_rules(),
                ) {
                    Ok(kql) => {
                        writeln!(out, "{kql}\n")?;
                        converted += 1;
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
            if converted == 0 {
                bail!("no rule in {} could be converted", rule.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sibling_rule_dirs(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let parent = dir.parent().context("the regression folder has no parent; pass --rules DIR")?;
    let mut dirs: Vec<_> = std::fs::read_dir(parent)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("rules"))
        })
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!("no rules* folder beside {}; pass --rules DIR", dir.display());
    }
    Ok(dirs)
}

pub fn kql(store: &Store, args: KqlArgs) -> Result<ExitCode> {
    let Some(cmd) = args.command else {
        return run_kql(store, args);
    };
    match cmd {
        KqlCommand::Generate { question, format } => {
            crate::assistant::kql_generate(&question.join(" "), format)
        }
        KqlCommand::Check { jsonl: Some(file), format, .. } => {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let report = bulwark_kql::check_corpus(std::io::BufReader::new(f), store.registry())?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string(&report)?),
                ListFormat::Table => {
                    let pct = |n: usize| {
                        if report.total == 0 { 0.0 } else { n as f64 * 100.0 / report.total as f64 }
                    };
                    println!(
                        "{} queries: {} parsed ({:.1}%), {} checked ({:.1}%).",
                        report.total,
                        report.parsed,
                        pct(report.parsed),
                        report.checked,
                        pct(report.checked)
                    );
                    for f in report.failures.iter().take(20) {
                        println!("  line {} [{:?}]: {}", f.line, f.stage, f.message);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        KqlCommand::Check { query: Some(text), format, .. } => {
            let parsed = bulwark_kql::parse(&text);
            let mut diagnostics = parsed.diagnostics.clone();
            if parsed.has_valid_syntax() {
                diagnostics
                    .extend(bulwark_kql::check(&parsed.syntax, store.registry()).diagnostics);
            }
            let errors =
                diagnostics.iter().filter(|d| d.severity == bulwark_kql::Severity::Error).count();
            match format {
                ListFormat::Json => println!(
                    "{}",
                    serde_json::json!({ "valid": errors == 0, "diagnostics": diagnostics })
                ),
                ListFormat::Table => {
                    for d in &diagnostics {
                        eprintln!("{}", bulwark_kql::render(&text, d));
                    }
                    if errors == 0 {
                        println!("The query is valid.");
                    }
                }
            }
            Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        KqlCommand::Check { .. } => bail!("give a query, or --jsonl FILE"),
        KqlCommand::Fmt { query, file } => {
            let text = match (query, file) {
                (Some(q), None) => q,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?,
                _ => bail!("give a query, or -f FILE"),
            };
            let parsed = bulwark_kql::parse(&text);
            if !parsed.has_valid_syntax() {
                for d in &parsed.diagnostics {
                    eprintln!("{}", bulwark_kql::render(&text, d));
                }
                bail!("the query has syntax errors; nothing was formatted");
            }
            println!("{}", bulwark_kql::format(&parsed.syntax));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `bulwark kql QUERY`: runs the query and prints the rows; exit 1 for an invalid query.
fn run_kql(store: &Store, args: KqlArgs) -> Result<ExitCode> {
    let text = match (&args.query, &args.file) {
        (Some(q), None) => q.clone(),
        (None, Some(f)) if f.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("cannot read the query from standard input")?;
            s
        }
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        _ => bail!("give a query (`bulwark kql \"SecurityEvent | take 5\"`), or -f FILE"),
    };
    let now = match &args.now {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--now {t}: not an RFC 3339 datetime"))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let engine = bulwark_kql::exec::Engine::open(store)
        .map_err(|e| anyhow::anyhow!("cannot open the store for queries: {e}"))?;
    let options = bulwark_kql::exec::QueryOptions {
        now,
        max_rows: if args.max_rows == 0 { None } else { Some(args.max_rows) },
    };
    let out = match engine.query_blocking(&text, &options) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("{}", e.render(&text));
            return Ok(ExitCode::from(1));
        }
    };
    for w in &out.warnings {
        eprintln!("{}", bulwark_kql::render(&text, w));
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        ResultFormat::Csv => write!(stdout, "{}", out.to_csv())?,
        ResultFormat::Json => {
            let columns: Vec<Value> = out
                .columns
                .iter()
                .map(|c| serde_json::json!({ "name": c.name, "type": c.ty.name() }))
                .collect();
            let doc = serde_json::json!({
                "query": out.query,
                "columns": columns,
                "rows": out.to_json_rows(),
                "row_count": out.row_count,
                "truncated": out.truncated,
                "render": out.render.as_ref().map(|r| serde_json::json!({
                    "chart": r.chart,
                    "properties": r.properties.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<String, Value>>(),
                })),
                "elapsed_ms": out.elapsed.as_secs_f64() * 1000.0,
            });
            writeln!(stdout, "{doc}")?;
        }
        ResultFormat::Table => {
            let header: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
            let mut t = output::table(&header);
            for row in out.rows_text() {
                t.add_row(row);
            }
            writeln!(stdout, "{t}")?;
            let more =
                if out.truncated { " (more rows not shown: --max-rows 0 for all)" } else { "" };
            eprintln!(
                "{} row{} in {:.0} ms{more}",
                output::count(out.row_count as u64),
                if out.row_count == 1 { "" } else { "s" },
                out.elapsed.as_secs_f64() * 1000.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
