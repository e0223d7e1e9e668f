//! `bulwark bench kql`: five typical hunting queries, written in KQL and run by Bulwark's
//! engine, against the same logic in DataFusion SQL and (optionally) DuckDB over the same
//! Parquet files, in one run. Medians of N timed runs after a warm-up.
use crate::cli::ListFormat;
use crate::output;
use anyhow::{Context, Result, bail};
use bulwark_kql::exec::{Engine, QueryOptions};
use bulwark_store::Store;
use std::io::Write;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// One benchmark query in its three dialects. `{T}` is replaced by a timestamp three days
/// before the newest process event.
struct HuntQuery {
    name: &'static str,
    kql: &'static str,
    datafusion: &'static str,
    duckdb: &'static str,
}

const QUERIES: &[HuntQuery] = &[
    HuntQuery {
        name: "filter+project",
        kql: r#"DeviceProcessEvents
| where Timestamp > datetime({T}) and FileName =~ "powershell.exe"
| project Timestamp, DeviceName, AccountName, ProcessCommandLine"#,
        datafusion: r#"SELECT "Timestamp", "DeviceName", "AccountName", "ProcessCommandLine" FROM "DeviceProcessEvents" WHERE "Timestamp" > to_timestamp('{T}') AND lower("FileName") = 'powershell.exe'"#,
        duckdb: r#"SELECT "Timestamp", "DeviceName", "AccountName", "ProcessCommandLine" FROM "DeviceProcessEvents" WHERE "Timestamp" > '{T}'::TIMESTAMPTZ_NS AND lower("FileName") = 'powershell.exe'"#,
    },
    HuntQuery {
        name: "summarize by bin",
        kql: r#"DeviceNetworkEvents
| summarize Connections = count() by DeviceName, bin(Timestamp, 1h)"#,
        datafusion: r#"SELECT "DeviceName", date_bin(INTERVAL '1 hour', "Timestamp") AS "Timestamp", count(*) AS "Connections" FROM "DeviceNetworkEvents" GROUP BY 1, 2"#,
        duckdb: r#"SELECT "DeviceName", epoch_ns("Timestamp") // 3600000000000 AS "Hour", count(*) AS "Connections" FROM "DeviceNetworkEvents" GROUP BY 1, 2"#,
    },
    HuntQuery {
        name: "join process-network",
        kql: r#"DeviceProcessEvents
| where FileName in~ ("powershell.exe", "cmd.exe", "rundll32.exe", "msedge.exe", "chrome.exe")
| join kind=inner (DeviceNetworkEvents | where RemotePort in (80, 443)) on DeviceId, $left.ProcessId == $right.InitiatingProcessId
| summarize Connections = count() by DeviceName, FileName"#,
        datafusion: r#"SELECT p."DeviceName", p."FileName", count(*) AS "Connections" FROM "DeviceProcessEvents" p JOIN "DeviceNetworkEvents" n ON p."DeviceId" = n."DeviceId" AND p."ProcessId" = n."InitiatingProcessId" WHERE lower(p."FileName") IN ('powershell.exe', 'cmd.exe', 'rundll32.exe', 'msedge.exe', 'chrome.exe') AND n."RemotePort" IN (80, 443) GROUP BY 1, 2"#,
        duckdb: r#"SELECT p."DeviceName", p."FileName", count(*) AS "Connections" FROM "DeviceProcessEvents" p JOIN "DeviceNetworkEvents" n ON p."DeviceId" = n."DeviceId" AND p."ProcessId" = n."InitiatingProcessId" WHERE lower(p."FileName") IN ('powershell.exe', 'cmd.exe', 'rundll32.exe', 'msedge.exe', 'chrome.exe') AND n."RemotePort" IN (80, 443) GROUP BY 1, 2"#,
    },
    HuntQuery {
        name: "has_any command lines",
        kql: r#"DeviceProcessEvents
| where ProcessCommandLine has_any ("-enc", "downloadstring", "bypass", "hidden", "invoke-expression")
| summarize Hits = count() by FileName"#,
        datafusion: r#"SELECT "FileName", count(*) AS "Hits" FROM "DeviceProcessEvents" WHERE "ProcessCommandLine" ILIKE '%-enc%' OR "ProcessCommandLine" ILIKE '%downloadstring%' OR "ProcessCommandLine" ILIKE '%bypass%' OR "ProcessCommandLine" ILIKE '%hidden%' OR "ProcessCommandLine" ILIKE '%invoke-expression%' GROUP BY 1"#,
        duckdb: r#"SELECT "FileName", count(*) AS "Hits" FROM "DeviceProcessEvents" WHERE "ProcessCommandLine" ILIKE '%-enc%' OR "ProcessCommandLine" ILIKE '%downloadstring%' OR "ProcessCommandLine" ILIKE '%bypass%' OR "ProcessCommandLine" ILIKE '%hidden%' OR "ProcessCommandLine" ILIKE '%invoke-expression%' GROUP BY 1"#,
    },
    HuntQuery {
        name: "top by count",
        kql: r#"DeviceNetworkEvents
| summarize Count = count() by RemoteIP
| top 10 by Count"#,
        datafusion: r#"SELECT "RemoteIP", count(*) AS "Count" FROM "DeviceNetworkEvents" GROUP BY 1 ORDER BY 2 DESC LIMIT 10"#,
        duckdb: r#"SELECT "RemoteIP", count(*) AS "Count" FROM "DeviceNetworkEvents" GROUP BY 1 ORDER BY 2 DESC LIMIT 10"#,
    },
];

/// Runs the queries over DuckDB: reads a JSON job on stdin, prints medians as JSON.
const DUCKDB_SCRIPT: &str = r#"
import json, sys, time, os
import duckdb
job = json.load(sys.stdin)
con = duckdb.connect()
con.execute(f"SET threads TO {job['threads']}")
con.execute("SET enable_progress_bar = false")
for name, files in job['tables'].items():
    if files:
        quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{quoted}])')
out = {}
for q in job['queries']:
    # Results are materialized inside DuckDB (a temp table), as Bulwark materializes Arrow
    # batches: no Python object conversion is timed.
    run = 'CREATE OR REPLACE TEMP TABLE bench_result AS ' + q['sql']
    con.execute(run)
    times = []
    rows = 0
    for _ in range(job['runs']):
        t = time.perf_counter()
        con.execute(run)
        times.append((time.perf_counter() - t) * 1000.0)
        rows = con.execute('SELECT count(*) FROM bench_result').fetchone()[0]
    times.sort()
    out[q['name']] = {"median_ms": times[len(times) // 2], "rows": rows}
print(json.dumps({"version": duckdb.__version__, "results": out}))
"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(store: &Store, runs: usize, duckdb: bool, format: ListFormat) -> Result<ExitCode> {
    let runs = runs.max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let engine = Engine::open(store).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = store.session_context()?;
    let events: u64 = ["DeviceProcessEvents", "DeviceNetworkEvents"]
        .iter()
        .map(|t| store.manifest().map(|m| m.rows(t)).unwrap_or(0))
        .sum();
    if events == 0 {
        bail!(
            "the store has no DeviceProcessEvents/DeviceNetworkEvents rows; build a tenant first (`bulwark demo --events 10000000 --no-detect`)"
        );
    }
    // The time anchor: three days before the newest process event.
    let newest = engine
        .query_blocking("DeviceProcessEvents | summarize max(Timestamp)", &QueryOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let newest_text = newest.cell_text(0, 0);
    let newest_ns = bulwark_model::time::parse_datetime_ns(&newest_text)
        .context("cannot read the newest event time")?;
    let anchor = bulwark_kql_functions::format_iso(newest_ns - 3 * 86_400 * 1_000_000_000);
    let fill = |s: &str| s.replace("{T}", &anchor);

    let mut results = Vec::new();
    for q in QUERIES {
        let kql = fill(q.kql);
        let sql = fill(q.datafusion);
        let (kql_ms, kql_rows, sql_ms, sql_rows) = rt.block_on(async {
            let mut kql_times = Vec::new();
            let mut sql_times = Vec::new();
            let mut kql_rows = 0;
            let mut sql_rows = 0;
            // One warm-up each (file metadata caches), then alternate so both see the same
            // machine state.
            for i in 0..=runs {
                let t = Instant::now();
                let out = engine
                    .query(&kql, &QueryOptions::default())
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", q.name, e.render(&kql)))?;
                let kql_elapsed = t.elapsed().as_secs_f64() * 1000.0;
                kql_rows = out.row_count;
                let t = Instant::now();
                let batches = ctx.sql(&sql).await?.collect().await?;
                let sql_elapsed = t.elapsed().as_secs_f64() * 1000.0;
                sql_rows = batches.iter().map(|b| b.num_rows()).sum();
                if i > 0 {
                    kql_times.push(kql_elapsed);
                    sql_times.push(sql_elapsed);
                }
            }
            anyhow::Ok((median(kql_times), kql_rows, median(sql_times), sql_rows))
        })?;
        results.push(serde_json::json!({
            "query": q.name,
            "kql": kql,
            "kql_ms": kql_ms,
            "kql_rows": kql_rows,
            "datafusion_sql_ms": sql_ms,
            "datafusion_sql_rows": sql_rows,
            "ratio_vs_datafusion": kql_ms / sql_ms,
        }));
    }
    let mut duck_version = None;
    if duckdb {
        let manifest = store.manifest()?;
        let tables: serde_json::Map<String, serde_json::Value> =
            ["DeviceProcessEvents", "DeviceNetworkEvents"]
                .iter()
                .map(|t| {
                    let files: Vec<serde_json::Value> = manifest
                        .tables
                        .get(*t)
                        .map(|fs| {
                            fs.iter()
                                .map(|f| {
                                    serde_json::Value::String(
                                        store.dir().join(&f.path).display().to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    (t.to_string(), serde_json::Value::Array(files))
                })
                .collect();
        let job = serde_json::json!({
            "tables": tables,
            "runs": runs,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            "queries": QUERIES.iter().map(|q| serde_json::json!({"name": q.name, "sql": fill(q.duckdb)})).collect::<Vec<_>>(),
        });
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(DUCKDB_SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start python3 for the DuckDB comparison")?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(job.to_string().as_bytes())?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "the DuckDB run failed (is the `duckdb` Python package installed? `pip install duckdb`)"
            );
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("the DuckDB run printed no JSON")?;
        duck_version = doc.get("version").and_then(|v| v.as_str()).map(str::to_string);
        for r in &mut results {
            let name = r["query"].as_str().unwrap_or_default().to_string();
            if let Some(d) = doc.get("results").and_then(|x| x.get(&name)) {
                let ms = d["median_ms"].as_f64().unwrap_or(f64::NAN);
                r["duckdb_ms"] = serde_json::json!(ms);
                r["duckdb_rows"] = d["rows"].clone();
                r["ratio_vs_duckdb"] =
                    serde_json::json!(r["kql_ms"].as_f64().unwrap_or(f64::NAN) / ms);
            }
        }
    }
    let report = serde_json::json!({
        "events_in_tables": events,
        "runs": runs,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "duckdb_version": duck_version,
        "queries": results,
    });
    match format {
        ListFormat::Json => println!("{report}"),
        ListFormat::Table => {
            println!("{} process + network events, median of {runs} runs:", output::count(events));
            let mut t = output::table(&[
                "query",
                "KQL (ms)",
                "DataFusion SQL (ms)",
                "KQL/SQL",
                "DuckDB (ms)",
                "KQL/DuckDB",
                "rows",
            ]);
            for r in &results {
                let f = |k: &str| {
                    r.get(k).and_then(|v| v.as_f64()).map_or("-".to_string(), |v| format!("{v:.1}"))
                };
                let x = |k: &str| {
                    r.get(k)
                        .and_then(|v| v.as_f64())
                        .map_or("-".to_string(), |v| format!("{v:.2}×"))
                };
                t.add_row(vec![
                    r["query"].as_str().unwrap_or_default().to_string(),
                    f("kql_ms"),
                    f("datafusion_sql_ms"),
                    x("ratio_vs_datafusion"),
                    f("duckdb_ms"),
                    x("ratio_vs_duckdb"),
                    format!("{}", r["kql_rows"]),
                ]);
            }
            println!("{t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
