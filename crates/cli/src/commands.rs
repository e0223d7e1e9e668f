//! One function per subcommand: open what it needs, call the library, print the result.
use crate::cli::{BenchCommand, Cli, Command, DemoArgs, ListFormat, SchemaCommand, TablesArgs};
use crate::output;
use anyhow::{Context, Result, bail};
use bulwark_store::{Store, resolve_data_dir};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let data_dir = resolve_data_dir(cli.data_dir.as_deref());
    crate::llm_cmds::set_config_path(cli.config.clone());
    match cli.command {
        Command::Demo(args) => demo(&data_dir, &args, cli.quiet),
        Command::Tables(args) => tables(&data_dir, &args),
        Command::Schema(cmd) => schema(&data_dir, cmd),
        Command::Bench(cmd) => bench(cmd, &data_dir),
        Command::Ingest(args) => ingest(&open_store(&data_dir)?, &args, cli.quiet),
        Command::Detect(args) => crate::hunting::detect(&open_store(&data_dir)?, &args, cli.quiet),
        Command::Incidents(cmd) => crate::hunting::incidents(&open_store(&data_dir)?, cmd),
        Command::Sigma(cmd) => crate::hunting::sigma(cmd, cli.quiet),
        Command::Analyze(args) => analyze(&data_dir, &args),
        Command::Ask(args) => crate::assistant::ask(&data_dir, &args),
        Command::Chat { session } => crate::assistant::chat(&data_dir, session),
        Command::Promptbook(cmd) => crate::assistant::promptbook(&data_dir, cmd),
        Command::Sessions(cmd) => crate::assistant::sessions_cmd(&data_dir, cmd),
        Command::Kql(args) => crate::hunting::kql(&open_store(&data_dir)?, args),
        Command::Llm(cmd) => crate::llm_cmds::llm(&data_dir, cmd, cli.quiet),
        Command::Eval(cmd) => crate::llm_cmds::eval(&data_dir, cmd),
        Command::Serve(args) => crate::server_cmds::serve(&data_dir, args),
        Command::Users(cmd) => crate::server_cmds::users(&data_dir, cmd),
        Command::Audit(args) => crate::server_cmds::audit(&data_dir, args),
    }
}

fn open_store(data_dir: &std::path::Path) -> Result<Store> {
    Store::open(data_dir)
        .with_context(|| format!("cannot open the data directory {}", data_dir.display()))
}

fn demo(data_dir: &std::path::Path, args: &DemoArgs, quiet: bool) -> Result<ExitCode> {
    let store = open_store(data_dir)?;
    let existing: u64 = store.table_stats()?.iter().map(|t| t.rows).sum();
    // A previous demo tenant (and nothing ingested on top) is simply regenerated; real data
    // is never thrown away implicitly.
    let previous_demo =
        data_dir.join("scenarios.json").is_file() && store.manifest()?.sources.is_empty();
    if existing > 0 && !args.append && !previous_demo {
        bail!(
            "{} already holds {} rows that are not a demo tenant; use another --data-dir, delete this one, or pass --append",
            data_dir.display(),
            output::count(existing)
        );
    }
    let end = match &args.end {
        Some(text) => bulwark_model::time::parse_datetime_ns(text).with_context(|| {
            format!("--end '{text}' is not a date and time (use e.g. 2026-11-23T12:00:00Z)")
        })?,
        None => bulwark_demo::default_end(),
    };
    let options = bulwark_demo::DemoOptions {
        events: args.events,
        seed: args.seed,
        days: args.days,
        end,
        replace: existing > 0 && !args.append,
        ..Default::default()
    };
    let bar = output::progress(args.events, "events", quiet);
    let started = Instant::now();
    let progress_bar = bar.clone();
    let summary =
        bulwark_demo::write_demo(&store, &options, &mut move |n| progress_bar.set_position(n))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    // Detection over the new tenant, so it has alerts and incidents like a real one.
    let detection = if args.no_detect {
        None
    } else {
        let tables = crate::hunting::tables_with_rows(&store)?;
        let rules = crate::hunting::load_rules_for(&[], true, quiet, Some(tables))?;
        let detect_started = Instant::now();
        let findings = crate::hunting::run_detection(&store, &rules, quiet)?;
        Some((findings, detect_started.elapsed().as_secs_f64()))
    };
    if quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Demo tenant written to {} in {elapsed:.1} s: {} rows in {} tables ({} events/s).",
        data_dir.display(),
        output::count(summary.total_rows()),
        summary.rows.iter().filter(|r| r.1 > 0).count(),
        output::count((summary.total_rows() as f64 / elapsed.max(1e-9)) as u64),
    )?;
    let gt = &summary.ground_truth;
    writeln!(
        out,
        "Organization {}: {} users, {} devices; telemetry from {} to {}.",
        gt.domain, gt.users, gt.devices, gt.start, gt.end
    )?;
    let mut t = output::table(&["table", "rows"]);
    for (name, rows) in summary.rows.iter().filter(|r| r.1 > 0) {
        t.add_row(vec![name.clone(), output::count(*rows)]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "{} attack scenarios are hidden in the data (answers in {}).",
        gt.scenarios.len(),
        data_dir.join("scenarios.json").display()
    )?;
    writeln!(out)?;
    if let Some((findings, detect_elapsed)) = &detection {
        crate::hunting::print_findings(findings, *detect_elapsed)?;
    }
    writeln!(
        out,
        "Next: `bulwark --data-dir {0} incidents show N` for an incident's alerts and entities, `bulwark --data-dir {0} tables` for the data.",
        data_dir.display()
    )?;
    drop(out);
    if detection.is_some() {
        crate::assistant::first_answer(data_dir)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ingest(store: &Store, args: &crate::cli::IngestArgs, quiet: bool) -> Result<ExitCode> {
    use bulwark_ingest::ProgressEvent;
    let format: bulwark_ingest::Format = args.format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = bulwark_ingest::IngestOptions {
        format,
        table: args.table.clone(),
        force: args.force,
        ..Default::default()
    };
    // Detection at ingest: every written batch is evaluated as it arrives.
    let had_rows = store.table_stats()?.iter().any(|t| t.rows > 0);
    let rules =
        if args.detect { Some(crate::hunting::load_rules(&[], true, quiet)?) } else { None };
    let mut detector = match &rules {
        Some(r) => Some(bulwark_detect::StreamingDetector::new(
            r,
            bulwark_detect::StreamConfig::default(),
        )?),
        None => None,
    };
    let mut stream_error: Option<String> = None;
    let mut alerts_seen = 0usize;
    let mut on_batch = |table: &str, batch: &bulwark_demo::RecordBatch| {
        if let Some(d) = detector.as_mut() {
            match d.push(table, batch) {
                Ok(new) => alerts_seen += new.len(),
                Err(e) => {
                    stream_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    };
    let bar = output::spinner("records", quiet);
    let progress_bar = bar.clone();
    let report = bulwark_ingest::ingest_with(
        store,
        &args.paths,
        &options,
        &move |event| match event {
            ProgressEvent::Records { records, events_per_sec, .. } => {
                progress_bar.set_position(records);
                progress_bar
                    .set_message(format!("{} events/s", output::count(events_per_sec as u64)));
            }
            ProgressEvent::FileStarted { path, .. } => {
                progress_bar.set_prefix(path.display().to_string())
            }
            _ => {}
        },
        &mut on_batch,
    )?;
    bar.finish_and_clear();
    if let Some(e) = stream_error {
        bail!("detection at ingest failed: {e}");
    }
    let detection = match detector {
        Some(d) => {
            let started = Instant::now();
            let findings = if had_rows {
                // The store held data before: correlate over all of it, so earlier findings
                // are not replaced by ones from the new rows alone.
                let tables = crate::hunting::tables_with_rows(store)?;
                let rules = crate::hunting::load_rules_for(&[], true, quiet, Some(tables))?;
                crate::hunting::run_detection(store, &rules, quiet)?
            } else {
                let findings = d.finish();
                bulwark_detect::hunt::write_findings(store, &findings)?;
                findings
            };
            Some((findings, started.elapsed().as_secs_f64()))
        }
        None => None,
    };
    match args.output {
        ListFormat::Json => println!("{}", serde_json::to_string(&report)?),
        ListFormat::Table => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "Ingested {} rows from {} files in {:.1} s ({} events/s); {} records rejected, {} duplicate and {} skipped files.",
                output::count(report.total_rows()),
                report.files_ingested.len(),
                report.elapsed_secs,
                output::count(report.events_per_sec as u64),
                output::count(report.rejected),
                report.files_duplicate.len(),
                report.files_skipped.len()
            )?;
            let mut t = output::table(&["table", "rows"]);
            for (table, rows) in report.rows.iter().filter(|r| *r.1 > 0) {
                t.add_row(vec![table.clone(), output::count(*rows)]);
            }
            if !report.rows.is_empty() {
                writeln!(out, "{t}")?;
            }
            for d in &report.files_duplicate {
                writeln!(
                    out,
                    "already ingested (use --force to read again): {}",
                    d.path.display()
                )?;
            }
            for d in &report.files_skipped {
                writeln!(out, "skipped {}: {}", d.path.display(), d.reason)?;
            }
            for r in report.rejections.iter().take(20) {
                writeln!(out, "rejected {r}")?;
            }
            if report.rejections.len() > 20 {
                writeln!(
                    out,
                    "… and {} more rejections (use --output json)",
                    report.rejections.len() - 20
                )?;
            }
            if let Some((findings, elapsed)) = &detection {
                writeln!(out)?;
                drop(out);
                crate::hunting::print_findings(findings, *elapsed)?;
            }
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}

fn analyze(data_dir: &std::path::Path, args: &crate::cli::AnalyzeArgs) -> Result<ExitCode> {
    use crate::cli::{ReportFormat, ScriptLang};
    let lang = match args.lang {
        ScriptLang::Auto => None,
        other => {
            let name = format!("{other:?}").to_lowercase();
            Some(
                bulwark_scripts::Language::parse(&name)
                    .with_context(|| format!("unsupported language {name}"))?,
            )
        }
    };
    let options = bulwark_scripts::AnalyzeOptions { lang, ..Default::default() };
    // Indicators are linked to the environment when the data directory holds tables; a
    // missing directory is not created (Store::open would).
    let mut linker = None;
    if data_dir.join("manifest.json").is_file() {
        let store = open_store(data_dir)?;
        let tables: std::collections::BTreeSet<String> =
            store.table_stats()?.into_iter().filter(|t| t.rows > 0).map(|t| t.name).collect();
        if !tables.is_empty() {
            let engine = bulwark_kql::exec::Engine::open(&store)
                .map_err(|e| anyhow::anyhow!("cannot open the data for querying: {e}"))?;
            let link_options =
                bulwark_scripts::LinkOptions { tables: Some(tables), ..Default::default() };
            linker = Some((engine, link_options));
        }
    }
    let mut out = std::io::stdout().lock();
    let many = args.files.len() > 1;
    for file in &args.files {
        let bytes = if file.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)?;
            buf
        } else {
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
        };
        let analysis = bulwark_scripts::analyze_bytes(&bytes, &options);
        let links = linker.as_ref().map(|(e, o)| bulwark_scripts::link(&analysis, e, o));
        match args.format {
            ReportFormat::Json => {
                let mut v = serde_json::to_value(&analysis)?;
                if let Some(o) = v.as_object_mut() {
                    if many {
                        o.insert("file".into(), serde_json::json!(file.display().to_string()));
                    }
                    if let Some(l) = &links {
                        o.insert("links".into(), serde_json::to_value(&l.links)?);
                        o.insert("links_not_seen".into(), serde_json::to_value(&l.not_seen)?);
                        o.insert("link_errors".into(), serde_json::to_value(&l.errors)?);
                    }
                }
                if many {
                    writeln!(out, "{v}")?;
                } else {
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                }
            }
            ReportFormat::Text => {
                if many {
                    writeln!(out, "# {}\n", file.display())?;
                }
                writeln!(out, "{}", bulwark_scripts::render_text(&analysis))?;
                if let Some(l) = &links {
                    writeln!(out, "{}", bulwark_scripts::render_links(l))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct TableJson<'a> {
    table: &'a str,
    rows: u64,
    columns: Vec<[&'a str; 2]>,
}

fn tables(data_dir: &std::path::Path, args: &TablesArgs) -> Result<ExitCode> {
    let store = open_store(data_dir)?;
    let stats = store.table_stats()?;
    let shown: Vec<_> = stats.iter().filter(|t| args.all || t.rows > 0).collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            let rows: Vec<TableJson<'_>> = shown
                .iter()
                .filter_map(|s| {
                    let schema = store.registry().get(&s.name)?;
                    Some(TableJson {
                        table: &s.name,
                        rows: s.rows,
                        columns: schema
                            .columns()
                            .iter()
                            .map(|c| [c.name.as_str(), c.ty.name()])
                            .collect(),
                    })
                })
                .collect();
            serde_json::to_writer(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            if shown.is_empty() {
                writeln!(
                    out,
                    "No table in {} has rows yet. Run `bulwark demo` or `bulwark ingest PATH`, or pass --all to list every known table.",
                    data_dir.display()
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = output::table(&["table", "rows", "files", "size", "columns"]);
            for s in &shown {
                let columns = store.registry().get(&s.name).map_or(0, |t| t.columns().len());
                t.add_row(vec![
                    s.name.clone(),
                    output::count(s.rows),
                    s.files.to_string(),
                    format!("{:.1} MB", s.bytes as f64 / 1e6),
                    columns.to_string(),
                ]);
            }
            writeln!(out, "{t}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn schema(data_dir: &std::path::Path, cmd: SchemaCommand) -> Result<ExitCode> {
    let mut store = open_store(data_dir)?;
    match cmd {
        SchemaCommand::Add { file } => {
            let names = store.add_custom_schema(&file)?;
            println!("Added {} table(s): {}", names.len(), names.join(", "));
        }
        SchemaCommand::Show { table, format } => {
            let schema = store.table(&table)?;
            match format {
                ListFormat::Json => {
                    let cols: Vec<[&str; 2]> =
                        schema.columns().iter().map(|c| [c.name.as_str(), c.ty.name()]).collect();
                    println!("{}", serde_json::json!({ "table": schema.name(), "columns": cols }));
                }
                ListFormat::Table => {
                    let mut t = output::table(&["column", "type"]);
                    for c in schema.columns() {
                        t.add_row(vec![c.name.clone(), c.ty.name().to_string()]);
                    }
                    println!("{}\n{t}", schema.name());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(cmd: BenchCommand, data_dir: &std::path::Path) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Ask { rounds } => {
            let copilot = crate::llm_cmds::copilot(data_dir)?;
            let l = bulwark_copilot::bench::measure(&copilot, rounds);
            for (ms, skills, p) in &l.first_round {
                println!("{ms:8.1} ms  {skills:<28} {p}");
            }
            println!(
                "{} prompts × {} rounds: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                bulwark_copilot::bench::PROMPTS.len(),
                rounds.max(1),
                l.p50,
                l.p95,
                l.max
            );
            if l.usage.model_calls > 0 {
                println!(
                    "model {} ({}): {} calls, {} prompt + {} completion tokens, {:.1} s in the model; orchestration beyond the model: p50 {:.1} ms, p95 {:.1} ms per prompt",
                    l.usage.model,
                    l.usage.backend,
                    l.usage.model_calls,
                    l.usage.prompt_tokens,
                    l.usage.completion_tokens,
                    l.model_ms / 1000.0,
                    l.overhead_p50,
                    l.overhead_p95
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        BenchCommand::Kql { runs, duckdb, format } => {
            return crate::bench_kql::run(&open_store(data_dir)?, runs, duckdb, format);
        }
        BenchCommand::Demo { events, format } => {
            let options = bulwark_demo::DemoOptions {
                events,
                end: 1_763_856_000_000_000_000,
                ..Default::default()
            };
            // 1. Generation alone (batches built, then dropped).
            let started = Instant::now();
            let mut rows = 0u64;
            let mut sink = |_: &'static str, batch: bulwark_demo::RecordBatch| {
                rows += batch.num_rows() as u64;
                Ok(())
            };
            bulwark_demo::generate(&options, &mut sink, &mut |_| {})?;
            let generate_s = started.elapsed().as_secs_f64();
            // 2. Generation written to a store (two threads: generate, encode Parquet).
            let dir = tempfile::tempdir()?;
            let store = Store::open(dir.path())?;
            let started = Instant::now();
            let summary = bulwark_demo::write_demo(&store, &options, &mut |_| {})?;
            let write_s = started.elapsed().as_secs_f64();
            let bytes: u64 = store.table_stats()?.iter().map(|t| t.bytes).sum();
            let report = serde_json::json!({
                "events": events,
                "rows": rows,
                "generate_seconds": generate_s,
                "generate_rows_per_second": rows as f64 / generate_s,
                "generate_and_write_seconds": write_s,
                "generate_and_write_rows_per_second": summary.total_rows() as f64 / write_s,
                "parquet_bytes": bytes,
                "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            });
            match format {
                ListFormat::Json => println!("{report}"),
                ListFormat::Table => {
                    println!(
                        "demo generation: {} rows in {generate_s:.2} s = {} rows/s\n\
                         generation + Parquet write: {} rows in {write_s:.2} s = {} rows/s ({:.1} MB on disk)",
                        output::count(rows),
                        output::count((rows as f64 / generate_s) as u64),
                        output::count(summary.total_rows()),
                        output::count((summary.total_rows() as f64 / write_s) as u64),
                        bytes as f64 / 1e6
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
