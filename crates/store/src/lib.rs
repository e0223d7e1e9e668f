//! Bulwark's embedded store: one directory, Parquet files per table, queried with DataFusion.
//!
//! Layout of a data directory:
//! ```text
//! manifest.json          which files make up each table (the commit point)
//! schemas.json           custom (`*_CL`) table definitions
//! tables/<Table>/*.parquet
//! tmp/                   files being written
//! .lock                  held by the one process writing at a time
//! ```
//! Writes go through a [`Transaction`]: batches become Parquet files that are invisible until
//! [`Transaction::commit`] names them in a new manifest, replaced atomically. Killing the process
//! at any point loses nothing committed and shows nothing partial. Many small appends are merged
//! by [`Store::compact`] (run automatically when a table collects many small files).
//!
//! ```no_run
//! # fn main() -> bulwark_store::Result<()> {
//! let store = bulwark_store::Store::open("bulwark-data")?;
//! for t in store.table_stats()? { println!("{} {}", t.name, t.rows); }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
mod manifest;
mod query;
mod transaction;

pub use error::{Error, Result};
pub use manifest::{FORMAT_VERSION, FileEntry, Manifest, SourceEntry};
pub use query::{batches_to_json_rows, table_ref};
pub use transaction::{FAILPOINT_ENV, Transaction, WriteOptions};

use bulwark_model::{SchemaRegistry, TableSchema};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable naming the data directory when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "BULWARK_DATA_DIR";
/// The data directory used when neither `--data-dir` nor the environment names one.
pub const DEFAULT_DATA_DIR: &str = "bulwark-data";

/// Resolves the data directory: the explicit one, else `$BULWARK_DATA_DIR`, else `./bulwark-data`.
pub fn resolve_data_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// Row and file counts of one table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    /// Table name.
    pub name: String,
    /// Committed rows.
    pub rows: u64,
    /// Committed Parquet files.
    pub files: usize,
    /// Bytes on disk.
    pub bytes: u64,
}

/// An open data directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    registry: Arc<SchemaRegistry>,
}

impl Store {
    /// Opens (creating if needed) the data directory `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        for sub in [dir.join("tables"), dir.join("tmp")] {
            std::fs::create_dir_all(&sub).map_err(Error::io("cannot create", &sub))?;
        }
        // Fail early on an unreadable manifest rather than at the first query.
        Manifest::load(&dir.join("manifest.json"))?;
        let mut registry = SchemaRegistry::builtin();
        let custom = dir.join("schemas.json");
        if custom.exists() {
            registry.load_custom_file(&custom)?;
        }
        Ok(Store { dir, registry: Arc::new(registry) })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every table this store knows (built-in and custom).
    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// The schema of a table, or an error naming the closest known table.
    pub fn table(&self, name: &str) -> Result<&Arc<TableSchema>> {
        self.registry.get(name).ok_or_else(|| Error::UnknownTable {
            name: name.to_string(),
            suggestion: self.registry.suggest_table(name),
        })
    }

    /// The committed manifest, read now (other processes may have committed since open).
    pub fn manifest(&self) -> Result<Manifest> {
        Manifest::load(&self.manifest_path())
    }

    pub(crate) fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    /// Rows, files and bytes of every known table (tables without data have zeros).
    pub fn table_stats(&self) -> Result<Vec<TableStats>> {
        let manifest = self.manifest()?;
        Ok(self
            .registry
            .tables()
            .map(|t| {
                let files = manifest.tables.get(t.name()).map(Vec::as_slice).unwrap_or_default();
                TableStats {
                    name: t.name().to_string(),
                    rows: files.iter().map(|f| f.rows).sum(),
                    files: files.len(),
                    bytes: files.iter().map(|f| f.bytes).sum(),
                }
            })
            .collect())
    }

    /// Adds custom tables from a JSON schema file (see
    /// [`SchemaRegistry::parse_custom_json`]) and records them in the data directory.
    /// Returns the names of the tables defined.
    pub fn add_custom_schema(&mut self, file: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(file).map_err(Error::io("cannot read", file))?;
        let tables = SchemaRegistry::parse_custom_json(&text, file)?;
        let mut registry = (*self.registry).clone();
        let mut names = Vec::new();
        for t in &tables {
            registry.add_custom(t.clone())?;
            names.push(t.name().to_string());
        }
        // Persist every custom table (old and new) in the registry's JSON shape.
        let mut all = serde_json::Map::new();
        for t in registry.tables().filter(|t| t.is_custom()) {
            let cols: Vec<serde_json::Value> =
                t.columns().iter().map(|c| serde_json::json!([c.name, c.ty.name()])).collect();
            all.insert(t.name().to_string(), serde_json::Value::Array(cols));
        }
        let path = self.dir.join("schemas.json");
        let tmp = self.dir.join("schemas.json.tmp");
        let body = serde_json::to_vec_pretty(&serde_json::Value::Object(all))
            .map_err(|e| Error::SchemaMismatch { table: String::new(), detail: e.to_string() })?;
        std::fs::write(&tmp, body).map_err(Error::io("cannot write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io("cannot replace", &path))?;
        self.registry = Arc::new(registry);
        Ok(names)
    }

    /// Starts a write transaction (takes the writer lock; fails if another process holds it).
    pub fn begin(&self) -> Result<Transaction<'_>> {
        Transaction::begin(self, WriteOptions::default())
    }

    /// Starts a write transaction with explicit file-size options.
    pub fn begin_with(&self, options: WriteOptions) -> Result<Transaction<'_>> {
        Transaction::begin(self, options)
    }

    /// Merges each table's small files (fewer than `options.target_file_rows` rows) into larger
    /// ones when a table has at least `min_files` of them. Returns (table, files merged) pairs.
    pub fn compact(&self, min_files: usize) -> Result<Vec<(String, usize)>> {
        let mut tx = self.begin()?;
        let merged = tx.compact_small_files(min_files)?;
        tx.commit()?;
        Ok(merged)
    }
}
