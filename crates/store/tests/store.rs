//! Store behaviour on a real data directory: commits, atomicity under a killed process,
//! compaction, locking, custom tables.
use arrow::array::{Array, AsArray, Int64Array};
use arrow::record_batch::RecordBatch;
use bulwark_model::BatchBuilder;
use bulwark_store::{Store, WriteOptions};
use datafusion::prelude::*;
use std::path::Path;
use std::process::Command;

fn logon_batch(store: &Store, users: &[&str]) -> RecordBatch {
    let schema = store.table("DeviceLogonEvents").expect("table").clone();
    let account = schema.index_of("AccountName").expect("col");
    let ts = schema.index_of("Timestamp").expect("col");
    let mut b = BatchBuilder::new(schema, users.len());
    for (i, u) in users.iter().enumerate() {
        b.set_str(account, u);
        b.set_time_ns(ts, 1_700_000_000_000_000_000 + i as i64);
        b.end_row();
    }
    b.finish().expect("batch")
}

fn count(store: &Store, table: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let ctx = store.session_context().expect("ctx");
        let df = ctx.table(bulwark_store::table_ref(table)).await.expect("table");
        let batches =
            df.aggregate(vec![], vec![count_all()]).expect("agg").collect().await.expect("run");
        batches[0].column(0).as_any().downcast_ref::<Int64Array>().expect("i64").value(0)
    })
}

fn count_all() -> Expr {
    datafusion::functions_aggregate::count::count(lit(1))
}

#[test]
fn committed_rows_are_queryable_and_uncommitted_are_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    assert_eq!(count(&store, "DeviceLogonEvents"), 0);

    let mut tx = store.begin().expect("begin");
    tx.write("DeviceLogonEvents", &logon_batch(&store, &["alice", "bob"])).expect("write");
    tx.commit().expect("commit");
    assert_eq!(count(&store, "DeviceLogonEvents"), 2);

    // A transaction dropped without commit leaves nothing behind.
    let mut tx = store.begin().expect("begin");
    tx.write("DeviceLogonEvents", &logon_batch(&store, &["mallory"])).expect("write");
    drop(tx);
    assert_eq!(count(&store, "DeviceLogonEvents"), 2);
    let files =
        std::fs::read_dir(dir.path().join("tables/DeviceLogonEvents")).expect("dir").count();
    assert_eq!(files, 1, "the aborted transaction's file must be removed");

    let stats = store.table_stats().expect("stats");
    let logons = stats.iter().find(|t| t.name == "DeviceLogonEvents").expect("row");
    assert_eq!((logons.rows, logons.files), (2, 1));
}

#[test]
fn batches_that_do_not_match_the_table_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let batch = logon_batch(&store, &["alice"]);
    let mut tx = store.begin().expect("begin");
    let err = tx.write("DeviceProcessEvents", &batch).expect_err("mismatch");
    assert!(err.to_string().contains("does not match its schema"), "{err}");
    let err = tx.write("DeviceLogonEvent", &batch).expect_err("unknown");
    assert!(err.to_string().contains("did you mean 'DeviceLogonEvents'"), "{err}");
}

#[test]
fn a_second_writer_is_told_the_store_is_busy() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let _tx = store.begin().expect("begin");
    let other = Store::open(dir.path()).expect("open again");
    let err = other.begin().err().expect("locked");
    assert!(err.to_string().contains("another Bulwark process is writing"), "{err}");
}

/// Child half of the crash test: commits with the failpoint set, so the process aborts after
/// the data file is in place and before the manifest names it.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os("BULWARK_CRASH_DIR") else { return };
    let store = Store::open(Path::new(&dir)).expect("open");
    let mut tx = store.begin().expect("begin");
    tx.write("DeviceLogonEvents", &logon_batch(&store, &["eve", "trudy", "oscar"])).expect("write");
    let _ = tx.commit();
    unreachable!("the failpoint aborts the process inside commit");
}

#[test]
fn a_process_killed_between_data_and_manifest_leaves_the_old_contents() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let store = Store::open(dir.path()).expect("open");
        let mut tx = store.begin().expect("begin");
        tx.write("DeviceLogonEvents", &logon_batch(&store, &["alice", "bob"])).expect("write");
        tx.commit().expect("commit");
    }
    let status = Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("BULWARK_CRASH_DIR", dir.path())
        .env(bulwark_store::FAILPOINT_ENV, "commit:before-manifest")
        .status()
        .expect("spawn child");
    assert!(!status.success(), "the child must have died at the failpoint");
    // The data file reached the table directory, but no manifest names it.
    let files =
        std::fs::read_dir(dir.path().join("tables/DeviceLogonEvents")).expect("dir").count();
    assert_eq!(files, 2, "the crashed writer's file is on disk");

    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(count(&store, "DeviceLogonEvents"), 2, "only committed rows are visible");

    // The next writer removes the orphan and commits normally.
    let mut tx = store.begin().expect("begin");
    tx.write("DeviceLogonEvents", &logon_batch(&store, &["carol"])).expect("write");
    tx.commit().expect("commit");
    assert_eq!(count(&store, "DeviceLogonEvents"), 3);
    let files =
        std::fs::read_dir(dir.path().join("tables/DeviceLogonEvents")).expect("dir").count();
    assert_eq!(files, 2, "orphan removed, one new file added");
}

#[test]
fn many_small_appends_are_compacted_without_losing_rows() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let options =
        WriteOptions { target_file_rows: 1000, row_group_rows: 100, auto_compact_files: 8 };
    let mut expected = Vec::new();
    for i in 0..10 {
        let users: Vec<String> = (0..7).map(|j| format!("user{i}-{j}")).collect();
        let refs: Vec<&str> = users.iter().map(String::as_str).collect();
        expected.extend(users.clone());
        let mut tx = store.begin_with(options).expect("begin");
        tx.write("DeviceLogonEvents", &logon_batch(&store, &refs)).expect("write");
        tx.commit().expect("commit");
    }
    let manifest = store.manifest().expect("manifest");
    let files = &manifest.tables["DeviceLogonEvents"];
    assert!(files.len() < 8, "auto-compaction merged the small files: {}", files.len());
    assert_eq!(manifest.rows("DeviceLogonEvents"), 70);
    let on_disk =
        std::fs::read_dir(dir.path().join("tables/DeviceLogonEvents")).expect("dir").count();
    assert_eq!(on_disk, files.len(), "replaced files are deleted");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let mut got: Vec<String> = rt.block_on(async {
        let ctx = store.session_context().expect("ctx");
        let df = ctx.table(bulwark_store::table_ref("DeviceLogonEvents")).await.expect("t");
        let batches =
            df.select_columns(&["AccountName"]).expect("sel").collect().await.expect("run");
        batches
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_string::<i32>();
                (0..a.len()).map(|i| a.value(i).to_string()).collect::<Vec<_>>()
            })
            .collect()
    });
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
fn custom_tables_are_persisted_and_queryable() {
    let dir = tempfile::tempdir().expect("tmp");
    let schema_file = dir.path().join("fw.json");
    std::fs::write(
        &schema_file,
        r#"{"Firewall_CL": [["TimeGenerated","datetime"],["SrcIp","string"]]}"#,
    )
    .expect("write schema");
    let data = dir.path().join("data");
    let mut store = Store::open(&data).expect("open");
    assert_eq!(store.add_custom_schema(&schema_file).expect("add"), vec!["Firewall_CL"]);
    let reopened = Store::open(&data).expect("reopen");
    let t = reopened.table("Firewall_CL").expect("custom table survives reopen").clone();
    let mut b = BatchBuilder::new(t.clone(), 1);
    b.set_str(t.index_of("SrcIp").expect("c"), "10.0.0.1");
    b.end_row();
    let mut tx = reopened.begin().expect("begin");
    tx.write("Firewall_CL", &b.finish().expect("batch")).expect("write");
    tx.commit().expect("commit");
    assert_eq!(count(&reopened, "Firewall_CL"), 1);
}

#[test]
fn a_corrupt_manifest_is_reported_not_ignored() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("manifest.json"), "{ not json").expect("write");
    let err = Store::open(dir.path()).expect_err("corrupt");
    assert!(err.to_string().contains("manifest"), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");
}
