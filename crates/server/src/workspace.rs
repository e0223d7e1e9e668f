//! Workspaces: each a data directory with its own store, KQL engine, copilot and session
//! database, opened once and cached. A [`Workspace`] is only reachable through a validated
//! [`WorkspaceName`], and its directory is built from that name alone.
use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::names::WorkspaceName;
use bulwark_copilot::Copilot;
use bulwark_copilot::session::SessionStore;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// One open workspace.
pub struct Workspace {
    /// Its name.
    pub name: WorkspaceName,
    /// Its data directory.
    pub dir: PathBuf,
    /// The copilot over its store (blocking: call from `spawn_blocking`).
    pub copilot: Copilot,
    /// The KQL engine over its store only.
    pub engine: bulwark_kql::exec::Engine,
    sessions: Mutex<SessionStore>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace").field("name", &self.name).field("dir", &self.dir).finish()
    }
}

impl Workspace {
    /// The session database (held briefly: never across a copilot call).
    pub fn sessions(&self) -> MutexGuard<'_, SessionStore> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The data directory of a workspace.
pub fn workspace_dir(config: &ServerConfig, name: &WorkspaceName) -> PathBuf {
    match config.workspace_dirs.get(name.as_str()) {
        Some(dir) => dir.clone(),
        None => config.root.join("workspaces").join(name.as_str()),
    }
}

/// Opened workspaces.
#[derive(Default)]
pub struct Workspaces {
    open: Mutex<HashMap<WorkspaceName, Arc<Workspace>>>,
    // Serializes opening so two first requests do not open the same store twice.
    opening: Mutex<()>,
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspaces").finish_non_exhaustive()
    }
}

impl Drop for Workspaces {
    fn drop(&mut self) {
        let open = std::mem::take(self.open.get_mut().unwrap_or_else(|p| p.into_inner()));
        if open.is_empty() {
            return;
        }
        // The copilots own tokio runtimes, which refuse to be dropped on an async thread (the
        // last state clone may well go there): drop them on a plain thread.
        let _ = std::thread::spawn(move || drop(open)).join();
    }
}

impl Workspaces {
    /// The workspace `name`, opening it on first use. Blocking (opens stores and builds the
    /// copilot's runtime): call from `spawn_blocking`.
    pub fn get(&self, config: &ServerConfig, name: &WorkspaceName) -> Result<Arc<Workspace>> {
        if let Some(w) = self.lock().get(name) {
            return Ok(Arc::clone(w));
        }
        let _guard = self.opening.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = self.lock().get(name) {
            return Ok(Arc::clone(w));
        }
        let dir = workspace_dir(config, name);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            context: format!("cannot create workspace {}", name),
            source,
        })?;
        let store = bulwark_store::Store::open(&dir)?;
        let mut copilot = Copilot::with_store(&store)?;
        if let Some(now) = config.now {
            copilot = copilot.with_now(now);
        }
        if let Some(llm) = &config.llm {
            copilot = copilot.with_llm(Arc::clone(&llm.provider), llm.settings.clone());
        }
        let engine = bulwark_kql::exec::Engine::open(&store)
            .map_err(|e| Error::Config(format!("cannot open workspace {name} for KQL: {e}")))?;
        let sessions = SessionStore::open(dir.join("sessions.sqlite"))?;
        let ws = Arc::new(Workspace {
            name: name.clone(),
            dir,
            copilot,
            engine,
            sessions: Mutex::new(sessions),
        });
        self.lock().insert(name.clone(), Arc::clone(&ws));
        Ok(ws)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<WorkspaceName, Arc<Workspace>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}
