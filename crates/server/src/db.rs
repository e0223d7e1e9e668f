//! The server database (`ROOT/server.sqlite`): users, API keys (argon2 hashes), browser
//! sessions, who owns and who may see each copilot session, the full answers of each turn,
//! the incident overlay, plugin settings and the audit log (see [`crate::audit`]).
use crate::audit::{self, AuditEvent};
use crate::error::{Error, Result};
use crate::names::{Role, WorkspaceName, user_name};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, workspace TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    hash TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS browser_sessions (
    id_hash TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL, expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chat_sessions (
    workspace TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (workspace, id)
);
CREATE TABLE IF NOT EXISTS shares (
    workspace TEXT NOT NULL, session_id TEXT NOT NULL, user TEXT NOT NULL,
    PRIMARY KEY (workspace, session_id, user)
);
CREATE TABLE IF NOT EXISTS turns (
    workspace TEXT NOT NULL, prompt_id INTEGER NOT NULL, session_id TEXT NOT NULL,
    answer TEXT NOT NULL, PRIMARY KEY (workspace, prompt_id)
);
CREATE TABLE IF NOT EXISTS incident_overlay (
    workspace TEXT NOT NULL, number INTEGER NOT NULL, status TEXT, classification TEXT,
    owner TEXT, updated_by TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (workspace, number)
);
CREATE TABLE IF NOT EXISTS plugin_settings (
    workspace TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL, settings TEXT NOT NULL,
    PRIMARY KEY (workspace, name)
);
";

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Name (API keys and OIDC usernames map to it).
    pub name: String,
    /// Role.
    pub role: Role,
    /// The one workspace the user works in.
    pub workspace: WorkspaceName,
    /// When the user was added.
    pub created: String,
}

/// Argon2 cost for new API key hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

impl Default for HashCost {
    /// The argon2 crate's defaults (19 MiB, 2 passes: OWASP's recommendation).
    fn default() -> HashCost {
        HashCost { memory_kib: 19 * 1024, iterations: 2 }
    }
}

/// The overlay of analyst updates on an incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IncidentUpdate {
    /// New status.
    pub status: Option<String>,
    /// Classification.
    pub classification: Option<String>,
    /// Owner.
    pub owner: Option<String>,
}

/// The server database.
pub struct Db {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

/// Current UTC time as ISO-8601.
pub fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of text as hex (browser session ids are stored hashed).
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(text.as_bytes()))
}

/// Splits an API key `bwk_<id>_<secret>` into id and secret, checking the shape.
pub fn parse_api_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("bwk_")?;
    let (id, secret) = rest.split_once('_')?;
    let hexy = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexy(id, 12) && hexy(secret, 64)).then_some((id, secret))
}

fn hash_secret(secret: &str, cost: HashCost) -> Result<String> {
    let params = argon2::Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| Error::Hash(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hash(e.to_string()))?;
    Ok(argon
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| Error::Hash(e.to_string()))?
        .to_string())
}

fn verify_secret(secret: &str, stored: &str) -> bool {
    // The stored PHC string carries its own parameters.
    PasswordHash::new(stored)
        .map(|h| argon2::Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

fn row_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn to_user((name, role, workspace, created): (String, String, String, String)) -> Result<User> {
    Ok(User {
        name,
        role: Role::parse(&role)?,
        workspace: WorkspaceName::parse(&workspace)?,
        created,
    })
}

impl Db {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                context: format!("cannot create {}", parent.display()),
                source,
            })?;
        }
        Db::init(Connection::open(path)?)
    }

    /// A database in memory (tests).
    pub fn open_in_memory() -> Result<Db> {
        Db::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Db> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        audit::init(&conn)?;
        Ok(Db { conn: Mutex::new(conn) })
    }

    /// The connection (poisoning is ignored: every write is a single statement or transaction).
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an audit event.
    pub fn audit(&self, event: &AuditEvent<'_>) -> Result<()> {
        let mut conn = self.conn();
        audit::append(&mut conn, event)
    }

    /// The newest `limit` audit entries (optionally of one workspace), newest first.
    pub fn audit_entries(
        &self,
        limit: usize,
        workspace: Option<&WorkspaceName>,
    ) -> Result<Vec<audit::AuditEntry>> {
        audit::list(&self.conn(), limit, workspace.map(WorkspaceName::as_str))
    }

    /// Verifies the audit chain.
    pub fn verify_audit(&self) -> Result<audit::Verification> {
        audit::verify(&self.conn())
    }

    /// Adds a user with a first API key; returns the key (shown once).
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        workspace: &WorkspaceName,
        cost: HashCost,
    ) -> Result<String> {
        let name = user_name(name)?;
        {
            let conn = self.conn();
            let exists: Option<String> = conn
                .query_row("SELECT name FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()?;
            if exists.is_some() {
                return Err(Error::Invalid(format!("user '{name}' already exists")));
            }
            conn.execute(
                "INSERT INTO users (name, role, workspace, created) VALUES (?1, ?2, ?3, ?4)",
                params![name, role.as_str(), workspace.as_str(), now_text()],
            )?;
        }
        self.add_key(name, cost)
    }

    /// Issues a new API key for a user; returns it (shown once; only its hash is kept).
    pub fn add_key(&self, user: &str, cost: HashCost) -> Result<String> {
        let id = random_hex(6);
        let secret = random_hex(32);
        let hash = hash_secret(&secret, cost)?;
        self.conn().execute(
            "INSERT INTO api_keys (id, user, hash, created) VALUES (?1, ?2, ?3, ?4)",
            params![id, user, hash, now_text()],
        )?;
        Ok(format!("bwk_{id}_{secret}"))
    }

    /// The user an API key belongs to, when the key is valid. Runs argon2: call it off the
    /// async threads.
    pub fn verify_key(&self, key: &str) -> Result<Option<User>> {
        let Some((id, secret)) = parse_api_key(key) else { return Ok(None) };
        let found: Option<(String, String)> = self
            .conn()
            .query_row("SELECT user, hash FROM api_keys WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((user, hash)) = found else { return Ok(None) };
        if !verify_secret(secret, &hash) {
            return Ok(None);
        }
        self.user(&user)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Result<Option<User>> {
        let row = self
            .conn()
            .query_row(
                "SELECT name, role, workspace, created FROM users WHERE name = ?1",
                [name],
                row_user,
            )
            .optional()?;
        row.map(to_user).transpose()
    }

    /// Users, optionally of one workspace.
    pub fn users(&self, workspace: Option<&WorkspaceName>) -> Result<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, role, workspace, created FROM users
             WHERE ?1 IS NULL OR workspace = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([workspace.map(WorkspaceName::as_str)], row_user)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(to_user(r?)?);
        }
        Ok(out)
    }

    /// Starts a browser session for `user`; returns (session id, CSRF token).
    pub fn create_browser_session(&self, user: &str, ttl_secs: i64) -> Result<(String, String)> {
        let id = random_hex(32);
        let csrf = random_hex(32);
        let expires = chrono::Utc::now().timestamp() + ttl_secs;
        let conn = self.conn();
        // Expired sessions are dropped as new ones start.
        conn.execute(
            "DELETE FROM browser_sessions WHERE expires < ?1",
            [chrono::Utc::now().timestamp()],
        )?;
        conn.execute(
            "INSERT INTO browser_sessions (id_hash, user, csrf, expires) VALUES (?1, ?2, ?3, ?4)",
            params![sha256_hex(&id), user, csrf, expires],
        )?;
        Ok((id, csrf))
    }

    /// The user and CSRF token of a live browser session.
    pub fn browser_session(&self, id: &str) -> Result<Option<(User, String)>> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let found: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT user, csrf FROM browser_sessions WHERE id_hash = ?1 AND expires >= ?2",
                params![sha256_hex(id), chrono::Utc::now().timestamp()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((user, csrf)) = found else { return Ok(None) };
        Ok(self.user(&user)?.map(|u| (u, csrf)))
    }

    /// Ends a browser session.
    pub fn end_browser_session(&self, id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM browser_sessions WHERE id_hash = ?1", [sha256_hex(id)])?;
        Ok(())
    }

    /// Records who owns a new copilot session.
    pub fn own_session(&self, ws: &WorkspaceName, id: &str, owner: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO chat_sessions (workspace, id, owner) VALUES (?1, ?2, ?3)",
            params![ws.as_str(), id, owner],
        )?;
        Ok(())
    }

    /// The owner of a copilot session and whether it is shared with anyone.
    pub fn session_owner(&self, ws: &WorkspaceName, id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT owner FROM chat_sessions WHERE workspace = ?1 AND id = ?2",
                params![ws.as_str(), id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Users a session is shared with.
    pub fn shared_with(&self, ws: &WorkspaceName, id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT user FROM shares WHERE workspace = ?1 AND session_id = ?2 ORDER BY user",
        )?;
        let rows = stmt.query_map(params![ws.as_str(), id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    /// Sessions `user` may see in `ws`: (id, owner, shared with anyone).
    pub fn visible_sessions(
        &self,
        ws: &WorkspaceName,
        user: &str,
    ) -> Result<Vec<(String, String, bool)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT c.id, c.owner, EXISTS (SELECT 1 FROM shares s WHERE s.workspace = c.workspace AND s.session_id = c.id)
             FROM chat_sessions c
             WHERE c.workspace = ?1 AND (c.owner = ?2 OR EXISTS (
                 SELECT 1 FROM shares s WHERE s.workspace = c.workspace AND s.session_id = c.id AND s.user = ?2))",
        )?;
        let rows =
            stmt.query_map(params![ws.as_str(), user], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Shares a session with a user.
    pub fn share(&self, ws: &WorkspaceName, id: &str, user: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO shares (workspace, session_id, user) VALUES (?1, ?2, ?3)",
            params![ws.as_str(), id, user],
        )?;
        Ok(())
    }

    /// Forgets a deleted session's ownership, shares and turns.
    pub fn forget_session(&self, ws: &WorkspaceName, id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for sql in [
            "DELETE FROM chat_sessions WHERE workspace = ?1 AND id = ?2",
            "DELETE FROM shares WHERE workspace = ?1 AND session_id = ?2",
            "DELETE FROM turns WHERE workspace = ?1 AND session_id = ?2",
        ] {
            tx.execute(sql, params![ws.as_str(), id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Keeps the full answer JSON of a turn.
    pub fn save_turn(
        &self,
        ws: &WorkspaceName,
        prompt_id: i64,
        session: &str,
        answer: &serde_json::Value,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO turns (workspace, prompt_id, session_id, answer) VALUES (?1, ?2, ?3, ?4)",
            params![ws.as_str(), prompt_id, session, answer.to_string()],
        )?;
        Ok(())
    }

    /// The session a prompt belongs to.
    pub fn turn_session(&self, ws: &WorkspaceName, prompt_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT session_id FROM turns WHERE workspace = ?1 AND prompt_id = ?2",
                params![ws.as_str(), prompt_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The stored answers of a session's turns, by prompt id.
    pub fn turns(
        &self,
        ws: &WorkspaceName,
        session: &str,
    ) -> Result<std::collections::HashMap<i64, serde_json::Value>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT prompt_id, answer FROM turns WHERE workspace = ?1 AND session_id = ?2",
        )?;
        let rows = stmt.query_map(params![ws.as_str(), session], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = std::collections::HashMap::new();
        for r in rows {
            let (id, text) = r?;
            out.insert(id, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
        }
        Ok(out)
    }

    /// Records an analyst update on an incident (merged with earlier ones).
    pub fn update_incident(
        &self,
        ws: &WorkspaceName,
        number: i64,
        update: &IncidentUpdate,
        by: &str,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO incident_overlay (workspace, number, status, classification, owner, updated_by, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (workspace, number) DO UPDATE SET
               status = COALESCE(excluded.status, status),
               classification = COALESCE(excluded.classification, classification),
               owner = COALESCE(excluded.owner, owner),
               updated_by = excluded.updated_by, updated = excluded.updated",
            params![ws.as_str(), number, update.status, update.classification, update.owner, by, now_text()],
        )?;
        Ok(())
    }

    /// Every incident update of a workspace, by incident number.
    pub fn incident_overlay(
        &self,
        ws: &WorkspaceName,
    ) -> Result<std::collections::HashMap<i64, IncidentUpdate>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT number, status, classification, owner FROM incident_overlay WHERE workspace = ?1",
        )?;
        let rows = stmt.query_map([ws.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                IncidentUpdate { status: r.get(1)?, classification: r.get(2)?, owner: r.get(3)? },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Plugin settings of a workspace: name → (enabled, settings).
    pub fn plugin_settings(
        &self,
        ws: &WorkspaceName,
    ) -> Result<std::collections::HashMap<String, (bool, serde_json::Value)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT name, enabled, settings FROM plugin_settings WHERE workspace = ?1")?;
        let rows = stmt.query_map([ws.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut out = std::collections::HashMap::new();
        for r in rows {
            let (name, enabled, settings) = r?;
            out.insert(
                name,
                (enabled, serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null)),
            );
        }
        Ok(out)
    }

    /// Stores a plugin's settings.
    pub fn set_plugin(
        &self,
        ws: &WorkspaceName,
        name: &str,
        enabled: bool,
        settings: &serde_json::Value,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO plugin_settings (workspace, name, enabled, settings) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workspace, name) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings",
            params![ws.as_str(), name, enabled, settings.to_string()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashCost = HashCost { memory_kib: 64, iterations: 1 };

    #[test]
    fn api_keys_verify_only_with_their_secret() -> Result<()> {
        let db = Db::open_in_memory()?;
        let ws = WorkspaceName::parse("default")?;
        let key = db.add_user("alice", Role::Owner, &ws, CHEAP)?;
        assert!(parse_api_key(&key).is_some(), "{key}");
        assert_eq!(db.verify_key(&key)?.map(|u| u.name), Some("alice".into()));
        let (id, secret) =
            parse_api_key(&key).map(|(a, b)| (a.to_string(), b.to_string())).unwrap_or_default();
        let mut wrong = secret.into_bytes();
        wrong[0] = if wrong[0] == b'a' { b'b' } else { b'a' };
        let forged = format!("bwk_{id}_{}", String::from_utf8_lossy(&wrong));
        assert!(db.verify_key(&forged)?.is_none());
        assert!(db.verify_key("bwk_x_y")?.is_none());
        assert!(db.add_user("alice", Role::Reader, &ws, CHEAP).is_err());
        assert!(db.add_user("../alice", Role::Reader, &ws, CHEAP).is_err());
        Ok(())
    }

    #[test]
    fn browser_sessions_expire_and_end() -> Result<()> {
        let db = Db::open_in_memory()?;
        let ws = WorkspaceName::parse("default")?;
        db.add_user("bob", Role::Reader, &ws, CHEAP)?;
        let (id, csrf) = db.create_browser_session("bob", 60)?;
        assert_eq!(db.browser_session(&id)?.map(|(u, c)| (u.name, c)), Some(("bob".into(), csrf)));
        db.end_browser_session(&id)?;
        assert!(db.browser_session(&id)?.is_none());
        let (old, _) = db.create_browser_session("bob", -1)?;
        assert!(db.browser_session(&old)?.is_none());
        Ok(())
    }
}
