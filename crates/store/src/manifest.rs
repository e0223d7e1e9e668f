//! The manifest: the single source of truth for which Parquet files make up each table.
//!
//! A file is visible only once the manifest names it. The manifest is replaced atomically
//! (write `manifest.json.tmp`, fsync, rename over `manifest.json`, fsync the directory), so a
//! crash at any point leaves either the old or the new manifest, never a mix. Data files written
//! by a transaction that never committed are orphans; the next writer deletes them.
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

/// Format version of the data directory layout.
pub const FORMAT_VERSION: u32 = 1;

/// One committed Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the data directory, `/`-separated.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// A source that was ingested, keyed by its content hash in [`Manifest::sources`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    /// Where it was read from.
    pub origin: String,
    /// Rows it produced.
    pub rows: u64,
    /// Manifest generation that committed it.
    pub generation: u64,
}

/// The committed state of the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub version: u32,
    /// Incremented by every commit.
    pub generation: u64,
    /// Committed files per table.
    pub tables: BTreeMap<String, Vec<FileEntry>>,
    /// Content hashes of ingested sources (so re-ingesting can be skipped).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceEntry>,
}

impl Manifest {
    /// Reads the manifest at `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest { version: FORMAT_VERSION, ..Manifest::default() });
            }
            Err(e) => return Err(Error::io("cannot read", path)(e)),
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            Error::CorruptManifest { path: path.to_path_buf(), message: e.to_string() }
        })?;
        if manifest.version > FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.parent().unwrap_or(path).to_path_buf(),
                found: manifest.version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(manifest)
    }

    /// Atomically replaces the manifest at `path` with this one.
    pub fn store(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::CorruptManifest {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        {
            let mut f = fs::File::create(&tmp).map_err(Error::io("cannot create", &tmp))?;
            f.write_all(&text).map_err(Error::io("cannot write", &tmp))?;
            f.sync_all().map_err(Error::io("cannot sync", &tmp))?;
        }
        fs::rename(&tmp, path).map_err(Error::io("cannot replace", path))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Total rows of a table.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables.get(table).map_or(0, |files| files.iter().map(|f| f.rows).sum())
    }
}

/// Makes a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    // Directories cannot be opened for sync on every platform; where they can, do it.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
