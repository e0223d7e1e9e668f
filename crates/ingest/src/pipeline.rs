//! The ingest run: files → parse workers → one writer, with bounded memory.
//!
//! Worker threads (one per core) take files from a shared list; each hashes its file (SHA-256,
//! for duplicate detection), detects the format, parses it into per-table row builders and sends
//! a chunk of record batches every [`IngestOptions::chunk_rows`] rows over a bounded channel.
//! The calling thread is the single writer: it appends chunks to the store's open transaction
//! and commits every [`IngestOptions::commit_rows`] rows and at the end. A file's content hash
//! is recorded in the transaction that holds its last rows, so an interrupted run never marks a
//! file as ingested before all its rows are committed.
//!
//! Memory is bounded by the chunk size × (workers + channel slots) plus the store's open
//! Parquet row groups, whatever the input size.
use crate::delimited::{ingest_csv, ingest_lines};
use crate::evtx::read_evtx;
use crate::json::ingest_json;
use crate::sink::Rows;
use crate::sniff::{Format, sniff_file};
use crate::{Error, Result, windows};
use arrow::record_batch::RecordBatch;
use bulwark_model::{SchemaRegistry, TableSchema};
use bulwark_store::{Store, Transaction, WriteOptions};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Display;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Input format, or [`Format::Auto`] to detect per file.
    pub format: Format,
    /// Put every record of JSON/CSV input in this table (columns matched by name).
    pub table: Option<String>,
    /// Ingest files whose content hash the store already has.
    pub force: bool,
    /// Parse threads; 0 = one per core.
    pub threads: usize,
    /// Rejections described per file (the rest are counted).
    pub max_rejections_per_file: usize,
    /// Rows a worker builds before handing them to the writer.
    pub chunk_rows: usize,
    /// Rows written between commits.
    pub commit_rows: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: Format::Auto,
            table: None,
            force: false,
            threads: 0,
            max_rejections_per_file: 10,
            chunk_rows: 8192,
            commit_rows: 4 << 20,
        }
    }
}

/// Progress of a run, reported to the caller's callback (on the calling thread).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A file is being parsed.
    FileStarted {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: Format,
    },
    /// A file was not ingested.
    FileSkipped {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file is done.
    FileFinished {
        /// The file.
        path: PathBuf,
        /// Records read from it.
        records: u64,
        /// Of which rejected.
        rejected: u64,
    },
    /// Running totals (at most a few times per second).
    Records {
        /// Records read so far.
        records: u64,
        /// Rows written so far (all tables).
        rows: u64,
        /// Seconds since the start.
        elapsed_secs: f64,
        /// Records per second so far.
        events_per_sec: f64,
    },
}

/// One file of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// The format it was read as.
    pub format: Option<Format>,
    /// SHA-256 of its content (hex).
    pub sha256: String,
    /// Records read (accepted + rejected).
    pub records: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rows written per table (derived `Device*` rows included).
    pub rows: BTreeMap<String, u64>,
}

/// A file that was not ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// The summary of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Records read in all files (accepted + rejected).
    pub records: u64,
    /// Records rejected in all files.
    pub rejected: u64,
    /// The first rejections of each file, as `file:record: reason`.
    pub rejections: Vec<String>,
    /// Values that did not fit their column's type and were stored as null (row kept).
    pub field_errors: u64,
    /// The first of those, as `file: reason`.
    pub field_error_samples: Vec<String>,
    /// Input keys with no column in their table (dropped), as `Table.key`.
    pub unmapped_columns: BTreeSet<String>,
    /// Files that added rows.
    pub files_ingested: Vec<FileReport>,
    /// Files whose content the store already had (not read again without `force`).
    pub files_duplicate: Vec<SkippedFile>,
    /// Files that could not be ingested at all.
    pub files_skipped: Vec<SkippedFile>,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
    /// Records per second over the run.
    pub events_per_sec: f64,
}

impl IngestReport {
    /// Total rows written.
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }

    /// The CLI's exit code: 0 when anything was ingested (or every file was a duplicate),
    /// 2 when nothing could be.
    pub fn exit_code(&self) -> u8 {
        if self.total_rows() > 0
            || (!self.files_duplicate.is_empty() && self.files_skipped.is_empty())
        {
            0
        } else {
            2
        }
    }
}

/// Everything a parser needs while reading one file.
pub(crate) struct FileCtx<'a> {
    pub rows: Rows,
    pub display: String,
    pub records: u64,
    pub rejected: u64,
    pub rejections: Vec<String>,
    max_rejections: usize,
    chunk_rows: usize,
    /// `--table`, resolved.
    pub table: Option<Arc<TableSchema>>,
    pub unmapped: BTreeSet<String>,
    pub infer_cache: HashMap<String, Option<String>>,
    /// Set by a reader that finds the whole file unusable (no rows, not per-record rejects).
    pub skip_reason: Option<String>,
    /// The writer has gone away (it failed): stop reading.
    pub stopped: bool,
    emit: &'a mut dyn FnMut(Vec<(String, RecordBatch)>, u64) -> bool,
    /// Records already announced to the writer with a chunk.
    announced: u64,
}

impl FileCtx<'_> {
    /// Counts a rejected record and describes the first few.
    pub fn reject(&mut self, locator: &dyn Display, reason: &dyn Display) {
        self.records += 1;
        self.rejected += 1;
        if self.rejections.len() < self.max_rejections {
            self.rejections.push(format!("{}:{locator}: {reason}", self.display));
        }
    }

    /// Counts an accepted record; hands a full chunk to the writer.
    pub fn accepted(&mut self) -> Result<()> {
        self.records += 1;
        if self.rows.pending >= self.chunk_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands every built row to the writer.
    pub fn flush(&mut self) -> Result<()> {
        let batches = self.rows.take()?;
        if !batches.is_empty() {
            let delta = self.records - self.announced;
            self.announced = self.records;
            if !(self.emit)(batches, delta) {
                self.stopped = true;
            }
        }
        Ok(())
    }
}

enum Msg {
    Started(PathBuf, Format),
    Chunk(usize, Vec<(String, RecordBatch)>, u64),
    Done(Box<Finished>),
    Skipped(PathBuf, String),
    Duplicate(PathBuf, String),
}

struct Finished {
    file: usize,
    report: FileReport,
    rejections: Vec<String>,
    field_errors: u64,
    field_error_samples: Vec<String>,
    unmapped: BTreeSet<String>,
    skip_reason: Option<String>,
}

/// Ingests files and directories (recursively) into the store. Problems with single files or
/// records are reported, not returned: `Err` means the store itself failed or the options are
/// wrong.
pub fn ingest(
    store: &Store,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Fn(ProgressEvent),
) -> Result<IngestReport> {
    ingest_with(store, paths, options, progress, &mut |_, _| {})
}

/// [`ingest`], also handing every batch to `on_batch` (table name, rows) as it is written,
/// for streaming consumers such as detection at ingest.
pub fn ingest_with(
    store: &Store,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Fn(ProgressEvent),
    on_batch: &mut dyn FnMut(&str, &RecordBatch),
) -> Result<IngestReport> {
    let start = Instant::now();
    let table = match &options.table {
        Some(name) => {
            Some(store.registry().get(name).cloned().ok_or_else(|| Error::UnknownTable {
                name: name.clone(),
                suggestion: store.registry().suggest_table(name),
            })?)
        }
        None => None,
    };
    let mut report = IngestReport::default();
    let files = expand(paths, &mut report.files_skipped);
    for s in &report.files_skipped {
        progress(ProgressEvent::FileSkipped { path: s.path.clone(), reason: s.reason.clone() });
    }
    let known: HashMap<String, String> =
        store.manifest()?.sources.into_iter().map(|(h, s)| (h, s.origin)).collect();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let threads = if options.threads == 0 { cores } else { options.threads };
    let workers = threads.min(files.len()).max(1);
    let evtx_threads = if files.len() == 1 { threads } else { 1 };
    let shared = Shared {
        files: &files,
        next: AtomicUsize::new(0),
        known,
        seen: Mutex::new(HashMap::new()),
        registry: Arc::new(store.registry().clone()),
        table,
        options,
        evtx_threads,
    };
    let (tx, rx) = sync_channel::<Msg>(workers * 2);
    let result = std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let shared = &shared;
            scope.spawn(move || worker(shared, tx));
        }
        drop(tx);
        let r = write_all(store, rx, options, progress, &mut report, start, on_batch);
        // On error the receiver is dropped with `r`'s frame; workers stop at their next send.
        r
    });
    result?;
    report.elapsed_secs = start.elapsed().as_secs_f64();
    report.events_per_sec =
        if report.elapsed_secs > 0.0 { report.records as f64 / report.elapsed_secs } else { 0.0 };
    Ok(report)
}

struct Shared<'a> {
    files: &'a [PathBuf],
    next: AtomicUsize,
    known: HashMap<String, String>,
    seen: Mutex<HashMap<String, PathBuf>>,
    registry: Arc<SchemaRegistry>,
    table: Option<Arc<TableSchema>>,
    options: &'a IngestOptions,
    evtx_threads: usize,
}

/// Lists the files under `paths` (directories recursively, in name order).
fn expand(paths: &[PathBuf], skipped: &mut Vec<SkippedFile>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, skipped, 0);
    }
    out
}

/// Directory nesting followed at most (symlink loops end here).
const MAX_DEPTH: usize = 64;

fn walk(p: &Path, out: &mut Vec<PathBuf>, skipped: &mut Vec<SkippedFile>, depth: usize) {
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) => {
            skipped.push(SkippedFile { path: p.to_path_buf(), reason: e.to_string() });
            return;
        }
    };
    if meta.is_file() {
        out.push(p.to_path_buf());
        return;
    }
    if !meta.is_dir() || depth >= MAX_DEPTH {
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(e) => {
            skipped.push(SkippedFile { path: p.to_path_buf(), reason: e.to_string() });
            return;
        }
    };
    entries.sort();
    for e in entries {
        walk(&e, out, skipped, depth + 1);
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let digest = h.finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn worker(shared: &Shared<'_>, tx: SyncSender<Msg>) {
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = shared.files.get(i) else { return };
        if !process_file(shared, i, path, &tx) {
            return;
        }
    }
}

/// Parses one file, sending its chunks; false when the writer has gone.
fn process_file(shared: &Shared<'_>, index: usize, path: &Path, tx: &SyncSender<Msg>) -> bool {
    let options = shared.options;
    let hash = match sha256_file(path) {
        Ok(h) => h,
        Err(e) => {
            return tx.send(Msg::Skipped(path.to_path_buf(), format!("cannot read: {e}"))).is_ok();
        }
    };
    if !options.force {
        if let Some(origin) = shared.known.get(&hash) {
            let why =
                format!("already ingested (same content as {origin}); use --force to ingest again");
            return tx.send(Msg::Duplicate(path.to_path_buf(), why)).is_ok();
        }
        let earlier = match shared.seen.lock() {
            Ok(mut seen) => match seen.get(&hash) {
                Some(p) => Some(p.clone()),
                None => {
                    seen.insert(hash.clone(), path.to_path_buf());
                    None
                }
            },
            Err(_) => None,
        };
        if let Some(p) = earlier {
            let why = format!("same content as {} in this run", p.display());
            return tx.send(Msg::Duplicate(path.to_path_buf(), why)).is_ok();
        }
    }
    let format = match options.format {
        Format::Auto => match sniff_file(path) {
            Ok(f) => f,
            Err(reason) => return tx.send(Msg::Skipped(path.to_path_buf(), reason)).is_ok(),
        },
        f => f,
    };
    if tx.send(Msg::Started(path.to_path_buf(), format)).is_err() {
        return false;
    }
    let mut writer_gone = false;
    let mut emit = |batches: Vec<(String, RecordBatch)>, records: u64| {
        let ok = tx.send(Msg::Chunk(index, batches, records)).is_ok();
        writer_gone |= !ok;
        ok
    };
    let mut ctx = FileCtx {
        rows: Rows::new(shared.registry.clone()),
        display: path.display().to_string(),
        records: 0,
        rejected: 0,
        rejections: Vec::new(),
        max_rejections: options.max_rejections_per_file,
        chunk_rows: options.chunk_rows.max(1),
        table: shared.table.clone(),
        unmapped: BTreeSet::new(),
        infer_cache: HashMap::new(),
        skip_reason: None,
        stopped: false,
        emit: &mut emit,
        announced: 0,
    };
    // A parser bug on hostile input must cost one file, not the run: contain panics here.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse_file(&mut ctx, path, format, shared.evtx_threads)
    }));
    let outcome = match outcome {
        Ok(r) => r.and_then(|()| ctx.flush()),
        Err(_) => {
            let n = ctx.records;
            ctx.reject(
                &format!("#{}", n + 1),
                &"the parser failed on this input; rest of file skipped",
            );
            ctx.flush()
        }
    };
    if let Err(e) = outcome {
        ctx.skip_reason.get_or_insert(e.to_string());
    }
    let finished = Finished {
        file: index,
        report: FileReport {
            path: path.to_path_buf(),
            format: Some(format),
            sha256: hash,
            records: ctx.records,
            rejected: ctx.rejected,
            rows: BTreeMap::new(),
        },
        rejections: std::mem::take(&mut ctx.rejections),
        field_errors: ctx.rows.field_errors,
        field_error_samples: std::mem::take(&mut ctx.rows.field_error_samples)
            .into_iter()
            .map(|s| format!("{}: {s}", ctx.display))
            .collect(),
        unmapped: std::mem::take(&mut ctx.unmapped),
        skip_reason: ctx.skip_reason.take(),
    };
    drop(ctx);
    !writer_gone && tx.send(Msg::Done(Box::new(finished))).is_ok()
}

fn parse_file(
    ctx: &mut FileCtx<'_>,
    path: &Path,
    format: Format,
    evtx_threads: usize,
) -> Result<()> {
    let open = || {
        std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
    };
    match format {
        Format::Evtx => {
            let mut reader = match read_evtx(path, evtx_threads) {
                Ok(r) => r,
                Err(e) => {
                    ctx.skip_reason = Some(e.to_string());
                    return Ok(());
                }
            };
            for rec in reader.records() {
                match rec {
                    Ok(r) => {
                        windows::write_record(&mut ctx.rows, &r);
                        ctx.accepted()?;
                    }
                    Err(e) => ctx.reject(&e.locator, &e.reason),
                }
                if ctx.stopped {
                    break;
                }
            }
            Ok(())
        }
        Format::Jsonl | Format::Auto => {
            ingest_json(ctx, BufReader::with_capacity(1 << 20, open()?))
        }
        Format::Csv => ingest_csv(ctx, BufReader::with_capacity(1 << 20, open()?)),
        Format::Syslog | Format::Cef => {
            ingest_lines(ctx, BufReader::with_capacity(1 << 20, open()?))
        }
    }
}

/// The writer loop: appends chunks, commits every `commit_rows` rows and at the end.
fn write_all(
    store: &Store,
    rx: Receiver<Msg>,
    options: &IngestOptions,
    progress: &dyn Fn(ProgressEvent),
    report: &mut IngestReport,
    start: Instant,
    on_batch: &mut dyn FnMut(&str, &RecordBatch),
) -> Result<()> {
    // Small row groups bound the Parquet writer's buffers per open table. Automatic compaction
    // is off during ingest: it reads whole files into memory, which would break the memory
    // bound on big inputs; commits already produce files near the target size.
    let write_options = WriteOptions {
        row_group_rows: 64 << 10,
        auto_compact_files: usize::MAX,
        ..WriteOptions::default()
    };
    let mut tx: Option<Transaction<'_>> = None;
    let mut uncommitted = 0usize;
    let mut file_rows: HashMap<usize, BTreeMap<String, u64>> = HashMap::new();
    let mut total_rows = 0u64;
    let mut last_progress = Instant::now();
    let mut seen_records = 0u64;
    let mut announced: HashMap<usize, u64> = HashMap::new();
    for msg in rx {
        match msg {
            Msg::Started(path, format) => progress(ProgressEvent::FileStarted { path, format }),
            Msg::Chunk(file, batches, records) => {
                seen_records += records;
                *announced.entry(file).or_default() += records;
                let t = match tx.as_mut() {
                    Some(t) => t,
                    None => tx.insert(store.begin_with(write_options)?),
                };
                let counts = file_rows.entry(file).or_default();
                for (table, batch) in &batches {
                    t.write(table, batch)?;
                    on_batch(table, batch);
                    let n = batch.num_rows() as u64;
                    *counts.entry(table.clone()).or_default() += n;
                    *report.rows.entry(table.clone()).or_default() += n;
                    total_rows += n;
                    uncommitted += batch.num_rows();
                }
                if last_progress.elapsed() >= Duration::from_millis(250) {
                    last_progress = Instant::now();
                    let secs = start.elapsed().as_secs_f64();
                    progress(ProgressEvent::Records {
                        records: seen_records,
                        rows: total_rows,
                        elapsed_secs: secs,
                        events_per_sec: if secs > 0.0 { seen_records as f64 / secs } else { 0.0 },
                    });
                }
            }
            Msg::Done(done) => {
                let Finished {
                    file,
                    report: mut file_report,
                    rejections,
                    field_errors,
                    field_error_samples,
                    unmapped,
                    skip_reason,
                } = *done;
                file_report.rows = file_rows.remove(&file).unwrap_or_default();
                seen_records += file_report.records - announced.remove(&file).unwrap_or(0);
                report.records += file_report.records;
                report.rejected += file_report.rejected;
                report.rejections.extend(rejections);
                if file_report.rejected as usize > options.max_rejections_per_file {
                    report.rejections.push(format!(
                        "{}: … and {} more rejected records",
                        file_report.path.display(),
                        file_report.rejected as usize - options.max_rejections_per_file
                    ));
                }
                report.field_errors += field_errors;
                report.field_error_samples.extend(field_error_samples);
                report.unmapped_columns.extend(unmapped);
                progress(ProgressEvent::FileFinished {
                    path: file_report.path.clone(),
                    records: file_report.records,
                    rejected: file_report.rejected,
                });
                let rows: u64 = file_report.rows.values().sum();
                if rows > 0 {
                    let t = match tx.as_mut() {
                        Some(t) => t,
                        None => tx.insert(store.begin_with(write_options)?),
                    };
                    t.record_source(
                        &file_report.sha256,
                        &file_report.path.display().to_string(),
                        rows,
                    );
                    report.files_ingested.push(file_report);
                } else {
                    let reason = skip_reason.unwrap_or_else(|| {
                        if file_report.records == 0 {
                            "no records found".to_string()
                        } else {
                            format!("all {} records rejected", file_report.records)
                        }
                    });
                    progress(ProgressEvent::FileSkipped {
                        path: file_report.path.clone(),
                        reason: reason.clone(),
                    });
                    report.files_skipped.push(SkippedFile { path: file_report.path, reason });
                }
            }
            Msg::Skipped(path, reason) => {
                progress(ProgressEvent::FileSkipped { path: path.clone(), reason: reason.clone() });
                report.files_skipped.push(SkippedFile { path, reason });
            }
            Msg::Duplicate(path, reason) => {
                progress(ProgressEvent::FileSkipped { path: path.clone(), reason: reason.clone() });
                report.files_duplicate.push(SkippedFile { path, reason });
            }
        }
        if uncommitted >= options.commit_rows
            && let Some(t) = tx.take()
        {
            t.commit()?;
            uncommitted = 0;
        }
    }
    if let Some(t) = tx.take() {
        t.commit()?;
    }
    let secs = start.elapsed().as_secs_f64();
    progress(ProgressEvent::Records {
        records: report.records,
        rows: total_rows,
        elapsed_secs: secs,
        events_per_sec: if secs > 0.0 { report.records as f64 / secs } else { 0.0 },
    });
    Ok(())
}
