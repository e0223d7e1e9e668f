//! Shared helpers: a fresh store per test, running an ingest, counting rows with DataFusion,
//! and counting EVTX events independently from the evtx crate's XML rendering.
use bulwark_ingest::{IngestOptions, IngestReport, ingest};
use bulwark_store::{Store, table_ref};
use datafusion::prelude::{ident, lit};
use std::path::{Path, PathBuf};

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

pub fn store() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open store");
    TestStore { dir, store }
}

pub fn run(store: &Store, paths: &[PathBuf], options: &IngestOptions) -> IngestReport {
    ingest(store, paths, options, &|_| {}).expect("ingest runs")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Rows of `table`, counted by a DataFusion query over the committed Parquet files.
pub fn count(store: &Store, table: &str) -> usize {
    runtime().block_on(async {
        let ctx = store.session_context().expect("ctx");
        ctx.table(table_ref(table)).await.expect("table").count().await.expect("count")
    })
}

/// Rows of `table` whose string `column` equals `value`.
pub fn count_where(store: &Store, table: &str, column: &str, value: &str) -> usize {
    runtime().block_on(async {
        let ctx = store.session_context().expect("ctx");
        let df = ctx.table(table_ref(table)).await.expect("table");
        df.filter(ident(column).eq(lit(value))).expect("filter").count().await.expect("count")
    })
}

/// The values of one string column of a table (JSON rows from the store's helper).
pub fn column_values(store: &Store, table: &str, column: &str) -> Vec<serde_json::Value> {
    runtime().block_on(async {
        let ctx = store.session_context().expect("ctx");
        let df = ctx.table(table_ref(table)).await.expect("table");
        let batches =
            df.select_columns(&[column]).expect("select").collect().await.expect("collect");
        bulwark_store::batches_to_json_rows(&batches)
            .expect("json")
            .into_iter()
            .map(|mut r| r.remove(column).unwrap_or(serde_json::Value::Null))
            .collect()
    })
}

/// (channel, event id) of every record, read from the XML rendering — a different code path
/// from the JSON one ingest uses.
pub fn xml_events(path: &Path) -> Vec<(String, i64)> {
    let mut parser = evtx::EvtxParser::from_path(path).expect("evtx");
    parser
        .records()
        .filter_map(Result::ok)
        .map(|r| {
            let x = r.data;
            let channel = between(&x, "<Channel>", "</Channel>").unwrap_or_default().to_string();
            let id = x
                .find("<EventID")
                .and_then(|i| x[i..].find('>').map(|j| i + j + 1))
                .and_then(|s| x[s..].find('<').map(|e| x[s..s + e].trim().to_string()))
                .and_then(|t| t.parse().ok())
                .unwrap_or(-1);
            (channel, id)
        })
        .collect()
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)?;
    Some(&s[i..i + j])
}

/// A file of the shared EVTX set, or None to skip.
pub fn evtx_file(relative: &str) -> Option<PathBuf> {
    bulwark_testutil::shared_path(&format!("evtx/{relative}"))
}
