//! Test-only helpers shared by every crate's tests.
//!
//! Large real-world corpora (EVTX, Sigma rules, KQL queries, scripts) live in `../shared/data`
//! beside the project root; users do not have them. [`shared_data`] finds that folder (or the one
//! named by `BULWARK_SHARED_DATA`). When it is absent, tests skip with a message — except under
//! CI (`CI` set), where the data is promised and a missing folder is a failure.
#![deny(missing_docs)]

use std::path::PathBuf;

/// The shared data folder, or `None` (after printing why) when tests should skip.
///
/// # Panics
/// When `CI` is set and the folder is missing, because CI is promised the data.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("BULWARK_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "shared data folder {} is missing under CI",
        dir.display()
    );
    eprintln!("skipping: shared data folder {} not found (set BULWARK_SHARED_DATA)", dir.display());
    None
}

/// A file or folder inside the shared data, or `None` (after printing why) to skip.
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    let path = shared_data()?.join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} not found in the shared data", path.display());
        None
    }
}
