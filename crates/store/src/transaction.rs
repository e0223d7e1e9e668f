//! Write transactions: batches → Parquet files → one atomic manifest commit.
use crate::manifest::{FileEntry, Manifest, SourceEntry, sync_dir};
use crate::{Error, Result, Store};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Test hook: when this variable is `commit:before-manifest`, a commit aborts the process after
/// the data files are in place and before the manifest is replaced, exactly like a crash there.
/// Tests use it to prove the atomic-write guarantee on a real killed process.
pub const FAILPOINT_ENV: &str = "BULWARK_FAILPOINT";

/// How big the files a transaction writes get.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// A table's open file is closed and a new one started after this many rows.
    pub target_file_rows: usize,
    /// Rows per Parquet row group (the unit of pruning and parallel scans).
    pub row_group_rows: usize,
    /// Compact a table automatically at commit when it has at least this many small files.
    pub auto_compact_files: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            target_file_rows: 4 << 20,
            row_group_rows: 128 << 10,
            auto_compact_files: 32,
        }
    }
}

struct OpenFile {
    tmp: PathBuf,
    relative: String,
    writer: ArrowWriter<BufWriter<File>>,
    rows: u64,
}

static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A set of writes that become visible together at [`Transaction::commit`], or not at all.
///
/// Holds the data directory's writer lock until committed or dropped. Dropping an uncommitted
/// transaction deletes the files it wrote.
pub struct Transaction<'a> {
    store: &'a Store,
    options: WriteOptions,
    _lock: File,
    open: HashMap<String, OpenFile>,
    written: Vec<(String, FileEntry)>,
    replaced: BTreeMap<String, BTreeSet<String>>,
    sources: Vec<(String, SourceEntry)>,
    truncate_sources: bool,
    finished: bool,
}

impl<'a> Transaction<'a> {
    pub(crate) fn begin(store: &'a Store, options: WriteOptions) -> Result<Transaction<'a>> {
        let lock_path = store.dir().join(".lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io("cannot open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(Error::Locked(store.dir().into())),
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("cannot lock", &lock_path)(e)),
        }
        let tx = Transaction {
            store,
            options,
            _lock: lock,
            open: HashMap::new(),
            written: Vec::new(),
            replaced: BTreeMap::new(),
            sources: Vec::new(),
            truncate_sources: false,
            finished: false,
        };
        tx.remove_orphans()?;
        Ok(tx)
    }

    /// Deletes files no manifest names: leftovers of writers that crashed before committing.
    /// Safe because we hold the writer lock, so no other transaction is in flight.
    fn remove_orphans(&self) -> Result<()> {
        let manifest = self.store.manifest()?;
        let known: BTreeSet<&str> =
            manifest.tables.values().flatten().map(|f| f.path.as_str()).collect();
        let tables = self.store.dir().join("tables");
        let entries = fs::read_dir(&tables).map_err(Error::io("cannot list", &tables))?;
        for table_dir in entries.flatten() {
            let Ok(files) = fs::read_dir(table_dir.path()) else { continue };
            for file in files.flatten() {
                let name = file.file_name();
                let relative = format!(
                    "tables/{}/{}",
                    table_dir.file_name().to_string_lossy(),
                    name.to_string_lossy()
                );
                if !known.contains(relative.as_str()) {
                    let _ = fs::remove_file(file.path());
                }
            }
        }
        let tmp = self.store.dir().join("tmp");
        if let Ok(files) = fs::read_dir(&tmp) {
            for file in files.flatten() {
                let _ = fs::remove_file(file.path());
            }
        }
        Ok(())
    }

    /// Appends a batch to `table`. The batch's columns must match the table's schema by name and
    /// type, in order (build it with [`bulwark_model::BatchBuilder`]).
    pub fn write(&mut self, table: &str, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let schema = self.store.table(table)?.clone();
        let expected = schema.arrow_schema();
        if batch.num_columns() != expected.fields().len() {
            return Err(Error::SchemaMismatch {
                table: table.to_string(),
                detail: format!(
                    "{} columns given, {} expected",
                    batch.num_columns(),
                    expected.fields().len()
                ),
            });
        }
        for (given, want) in batch.schema().fields().iter().zip(expected.fields()) {
            if given.name() != want.name() || given.data_type() != want.data_type() {
                return Err(Error::SchemaMismatch {
                    table: table.to_string(),
                    detail: format!(
                        "column '{}' ({}) where '{}' ({}) was expected",
                        given.name(),
                        given.data_type(),
                        want.name(),
                        want.data_type()
                    ),
                });
            }
        }
        let batch = RecordBatch::try_new(expected.clone(), batch.columns().to_vec())?;
        let name = schema.name().to_string();
        if !self.open.contains_key(&name) {
            let file = self.create_file(&name, &expected)?;
            self.open.insert(name.clone(), file);
        }
        let full = {
            let Some(file) = self.open.get_mut(&name) else {
                return Err(Error::SchemaMismatch { table: name, detail: "no open file".into() });
            };
            file.writer
                .write(&batch)
                .map_err(|source| Error::Parquet { path: file.tmp.clone(), source })?;
            file.rows += batch.num_rows() as u64;
            file.rows >= self.options.target_file_rows as u64
        };
        if full {
            self.close_file(&name)?;
        }
        Ok(())
    }

    fn create_file(&self, table: &str, schema: &arrow::datatypes::SchemaRef) -> Result<OpenFile> {
        let n = FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let file_name = format!("{stamp:016x}-{:05}-{n:04}.parquet", std::process::id() % 100_000);
        let tmp = self.store.dir().join("tmp").join(&file_name);
        let relative = format!("tables/{table}/{file_name}");
        let handle = File::create(&tmp).map_err(Error::io("cannot create", &tmp))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(self.options.row_group_rows))
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, handle),
            schema.clone(),
            Some(props),
        )
        .map_err(|source| Error::Parquet { path: tmp.clone(), source })?;
        Ok(OpenFile { tmp, relative, writer, rows: 0 })
    }

    /// Finishes a table's open file and moves it into the table directory (still invisible:
    /// no manifest names it yet).
    fn close_file(&mut self, table: &str) -> Result<()> {
        let Some(file) = self.open.remove(table) else { return Ok(()) };
        let OpenFile { tmp, relative, writer, rows } = file;
        let inner =
            writer.into_inner().map_err(|source| Error::Parquet { path: tmp.clone(), source })?;
        let handle =
            inner.into_inner().map_err(|e| Error::io("cannot flush", &tmp)(e.into_error()))?;
        handle.sync_all().map_err(Error::io("cannot sync", &tmp))?;
        let bytes = handle.metadata().map(|m| m.len()).unwrap_or(0);
        drop(handle);
        let target = self.store.dir().join(&relative);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))?;
        }
        fs::rename(&tmp, &target).map_err(Error::io("cannot move into place", &target))?;
        self.written.push((table.to_string(), FileEntry { path: relative, rows, bytes }));
        Ok(())
    }

    /// Replaces the store's contents: every file committed so far stops being visible when this
    /// transaction commits (and is deleted then). Rows written by this transaction stay.
    pub fn truncate_all(&mut self) -> Result<()> {
        let manifest = self.store.manifest()?;
        for (table, files) in &manifest.tables {
            let replaced = self.replaced.entry(table.clone()).or_default();
            replaced.extend(files.iter().map(|f| f.path.clone()));
        }
        self.truncate_sources = true;
        Ok(())
    }

    /// Replaces one table's contents: its committed files stop being visible when this
    /// transaction commits. Rows this transaction writes to it stay.
    pub fn truncate_table(&mut self, table: &str) -> Result<()> {
        let name = self.store.table(table)?.name().to_string();
        let manifest = self.store.manifest()?;
        if let Some(files) = manifest.tables.get(&name) {
            self.replaced.entry(name).or_default().extend(files.iter().map(|f| f.path.clone()));
        }
        Ok(())
    }

    /// Records that a source (identified by its content hash) was ingested by this transaction.
    pub fn record_source(&mut self, content_hash: &str, origin: &str, rows: u64) {
        self.sources.push((
            content_hash.to_string(),
            SourceEntry { origin: origin.to_string(), rows, generation: 0 },
        ));
    }

    /// Rows written so far per table (including files not yet closed).
    pub fn rows_written(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for (t, f) in &self.written {
            *out.entry(t.clone()).or_default() += f.rows;
        }
        for (t, f) in &self.open {
            *out.entry(t.clone()).or_default() += f.rows;
        }
        out
    }

    /// Makes every write of this transaction visible at once by replacing the manifest.
    /// Returns the new manifest generation.
    pub fn commit(mut self) -> Result<u64> {
        let tables: Vec<String> = self.open.keys().cloned().collect();
        for t in tables {
            self.close_file(&t)?;
        }
        if let Some(dir) = self.store.dir().join("tables").to_str().map(PathBuf::from) {
            sync_dir(&dir)?;
        }
        if std::env::var(FAILPOINT_ENV).is_ok_and(|v| v == "commit:before-manifest") {
            std::process::abort();
        }
        // Re-read under the lock: another process may have committed since we began.
        let path = self.store.manifest_path();
        let mut manifest = Manifest::load(&path)?;
        manifest.version = crate::manifest::FORMAT_VERSION;
        manifest.generation += 1;
        for (table, paths) in &self.replaced {
            if let Some(files) = manifest.tables.get_mut(table) {
                files.retain(|f| !paths.contains(&f.path));
            }
        }
        if self.truncate_sources {
            manifest.sources.clear();
        }
        for (table, entry) in self.written.drain(..) {
            manifest.tables.entry(table).or_default().push(entry);
        }
        for (hash, mut source) in self.sources.drain(..) {
            source.generation = manifest.generation;
            manifest.sources.insert(hash, source);
        }
        manifest.store(&path)?;
        self.finished = true;
        // The old files are no longer named; remove them (a reader holding an older manifest
        // may still be scanning them on platforms that allow it, which is why this comes last).
        for paths in self.replaced.values() {
            for p in paths {
                let _ = fs::remove_file(self.store.dir().join(p));
            }
        }
        let generation = manifest.generation;
        let auto = self.options.auto_compact_files;
        let needs_compaction = manifest.tables.values().any(|files| {
            files.iter().filter(|f| f.rows < self.options.target_file_rows as u64 / 4).count()
                >= auto
        });
        let store = self.store;
        drop(self);
        if needs_compaction {
            store.compact(auto)?;
        }
        Ok(generation)
    }

    /// Rewrites each table's small files into full-size ones, within this transaction.
    pub fn compact_small_files(&mut self, min_files: usize) -> Result<Vec<(String, usize)>> {
        let manifest = self.store.manifest()?;
        let small_limit = self.options.target_file_rows as u64 / 4;
        let mut merged = Vec::new();
        for (table, files) in &manifest.tables {
            let small: Vec<&FileEntry> = files.iter().filter(|f| f.rows < small_limit).collect();
            if small.len() < min_files.max(2) || self.store.registry().get(table).is_none() {
                continue;
            }
            for entry in &small {
                let path = self.store.dir().join(&entry.path);
                // Batch by batch, so compacting a large table needs memory for one batch only.
                for batch in parquet_batches(&path)? {
                    let batch = batch.map_err(Error::from)?;
                    self.write(table, &batch)?;
                }
                self.replaced.entry(table.clone()).or_default().insert(entry.path.clone());
            }
            merged.push((table.clone(), small.len()));
        }
        Ok(merged)
    }
}

/// The batches of a Parquet file, read lazily.
pub(crate) fn parquet_batches(
    path: &Path,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    let file = File::open(path).map_err(Error::io("cannot open", path))?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(64 << 10).build())
        .map_err(|source| Error::Parquet { path: path.to_path_buf(), source })
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Aborted: nothing was committed, so everything this transaction wrote is garbage.
        for (_, file) in self.open.drain() {
            let _ = fs::remove_file(&file.tmp);
        }
        for (_, entry) in &self.written {
            let _ = fs::remove_file(self.store.dir().join(&entry.path));
        }
    }
}
