//! Throughput of `has` / `has_any` / `contains` over 1M synthetic log lines,
//! run through DataFusion, against DataFusion's own `ILIKE` as a baseline.
//! Run: `cargo bench -p bulwark-kql-functions --bench has`.

use std::sync::Arc;
use std::time::Instant;

use bulwark_kql_functions::register_all;
use chrono::Utc;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

const ROWS: usize = 1_000_000;
const BATCH: usize = 8192;

fn line(i: usize) -> String {
    let users = ["alice", "bob", "Administrator", "svc-backup", "carol"];
    let verbs = ["logon", "LOGOFF", "failed logon", "process create", "net use"];
    format!(
        "{} user={} host=WKS-{:04} cmd=\"powershell.exe -enc {:x}\" pid={}",
        verbs[i % verbs.len()],
        users[(i / 7) % users.len()],
        i % 9973,
        i.wrapping_mul(2654435761),
        i % 65536
    )
}

async fn time(ctx: &SessionContext, label: &str, sql: &str) -> Result<()> {
    // One warm-up run, then the best of three.
    ctx.sql(sql).await?.collect().await?;
    let mut best = f64::MAX;
    let mut hits = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = ctx.sql(sql).await?.collect().await?;
        best = best.min(t.elapsed().as_secs_f64());
        hits = datafusion::arrow::util::pretty::pretty_format_batches(&out)?
            .to_string()
            .lines()
            .nth(3)
            .unwrap_or_default()
            .to_string();
    }
    println!(
        "{label:<28} {:>8.1} ms  {:>7.1} Mrows/s  {hits}",
        best * 1e3,
        ROWS as f64 / best / 1e6
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
    let mut batches = Vec::new();
    for start in (0..ROWS).step_by(BATCH) {
        let end = (start + BATCH).min(ROWS);
        let col = StringArray::from_iter_values((start..end).map(line));
        batches.push(RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(col)])?);
    }
    let ctx = SessionContext::new();
    register_all(&ctx, Utc::now());
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    println!("{ROWS} rows, single partition");
    time(&ctx, "kql_has 'logon'", "SELECT count(*) FROM t WHERE kql_has(s, 'logon')").await?;
    time(&ctx, "kql_has_cs 'logon'", "SELECT count(*) FROM t WHERE kql_has_cs(s, 'logon')").await?;
    time(
        &ctx,
        "kql_has_any (3 terms)",
        "SELECT count(*) FROM t WHERE kql_has_any(s, 'administrator', 'svc-backup', 'mimikatz')",
    )
    .await?;
    time(&ctx, "kql_contains 'logon'", "SELECT count(*) FROM t WHERE kql_contains(s, 'logon')")
        .await?;
    time(&ctx, "ILIKE '%logon%' (baseline)", "SELECT count(*) FROM t WHERE s ILIKE '%logon%'")
        .await?;
    Ok(())
}
