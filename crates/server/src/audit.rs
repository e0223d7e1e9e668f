//! The audit log: an insert-only table where each row carries the SHA-256 of its content and
//! of the previous row, so any edit, deletion or reordering breaks the chain that
//! [`verify`] walks. Triggers refuse UPDATE and DELETE; this module has no statement that
//! changes a row once written.
use crate::error::Result;
use rusqlite::{Connection, params};
use serde::Serialize;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, workspace TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// The hash the first row chains from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did.
    Ok,
    /// It failed (bad credentials, invalid input, error).
    Failed,
    /// The caller was not allowed.
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Denied => "denied",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Who (user name, or what was presented for failed sign-ins).
    pub actor: &'a str,
    /// Workspace (empty when unknown).
    pub workspace: &'a str,
    /// `sign_in`, `prompt`, `skill`, `kql`, `data_read`, `admin`, ... (dotted subactions).
    pub action: &'a str,
    /// What it was done to (session id, incident number, user, ...).
    pub target: &'a str,
    /// Outcome.
    pub outcome: Outcome,
    /// Details (query text, skills, changed fields).
    pub detail: serde_json::Value,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When (ISO-8601 UTC).
    pub time: String,
    /// Who.
    pub actor: String,
    /// Workspace.
    pub workspace: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// `ok`, `failed` or `denied`.
    pub outcome: String,
    /// Details.
    pub detail: serde_json::Value,
    /// This row's hash.
    pub hash: String,
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Rows checked.
    pub rows: u64,
    /// First row whose hash or link is wrong, if any.
    pub broken_at: Option<i64>,
}

impl Verification {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.broken_at.is_none()
    }
}

pub(crate) fn init(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn row_hash(
    prev: &str,
    id: i64,
    time: &str,
    actor: &str,
    workspace: &str,
    action: &str,
    target: &str,
    outcome: &str,
    detail: &str,
) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    // Length-prefixed fields: no two different rows hash the same text.
    for field in [prev, &id.to_string(), time, actor, workspace, action, target, outcome, detail] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    crate::db::hex(&h.finalize())
}

/// Appends an event, chaining it to the last row (in one immediate transaction, so two
/// processes sharing the database cannot fork the chain).
pub fn append(conn: &mut Connection, e: &AuditEvent<'_>) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let last: Option<(i64, String)> = tx
        .query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ok();
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let time = crate::db::now_text();
    let detail = e.detail.to_string();
    let hash = row_hash(
        &prev,
        id,
        &time,
        e.actor,
        e.workspace,
        e.action,
        e.target,
        e.outcome.as_str(),
        &detail,
    );
    tx.execute(
        "INSERT INTO audit (id, time, actor, workspace, action, target, outcome, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![id, time, e.actor, e.workspace, e.action, e.target, e.outcome.as_str(), detail, prev, hash],
    )?;
    tx.commit()?;
    Ok(())
}

/// The newest `limit` rows, newest first, optionally of one workspace.
pub fn list(conn: &Connection, limit: usize, workspace: Option<&str>) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare(
        "SELECT id, time, actor, workspace, action, target, outcome, detail, hash FROM audit
         WHERE ?1 IS NULL OR workspace = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![workspace, limit.min(100_000) as i64], |r| {
        let detail: String = r.get(7)?;
        Ok(AuditEntry {
            id: r.get(0)?,
            time: r.get(1)?,
            actor: r.get(2)?,
            workspace: r.get(3)?,
            action: r.get(4)?,
            target: r.get(5)?,
            outcome: r.get(6)?,
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
            hash: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Walks the whole chain in order, recomputing every hash and link.
pub fn verify(conn: &Connection) -> Result<Verification> {
    let mut stmt = conn.prepare(
        "SELECT id, time, actor, workspace, action, target, outcome, detail, prev_hash, hash
         FROM audit ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_string();
    let mut expected_id = 1;
    let mut count = 0;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let get = |i: usize| r.get::<_, String>(i);
        let (time, actor, workspace, action, target, outcome, detail, prev_hash, hash) =
            (get(1)?, get(2)?, get(3)?, get(4)?, get(5)?, get(6)?, get(7)?, get(8)?, get(9)?);
        let recomputed =
            row_hash(&prev, id, &time, &actor, &workspace, &action, &target, &outcome, &detail);
        if id != expected_id || prev_hash != prev || hash != recomputed {
            return Ok(Verification { rows: count, broken_at: Some(id) });
        }
        prev = hash;
        expected_id += 1;
        count += 1;
    }
    Ok(Verification { rows: count, broken_at: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> AuditEvent<'_> {
        AuditEvent {
            actor: "alice",
            workspace: "default",
            action,
            target: "",
            outcome: Outcome::Ok,
            detail: serde_json::json!({"q": "x"}),
        }
    }

    #[test]
    fn the_chain_verifies_and_refuses_edits() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        init(&conn)?;
        for a in ["sign_in", "prompt", "kql"] {
            append(&mut conn, &event(a))?;
        }
        assert_eq!(verify(&conn)?, Verification { rows: 3, broken_at: None });
        assert!(conn.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2", []).is_err());
        assert!(conn.execute("DELETE FROM audit WHERE id = 2", []).is_err());
        // Someone with file access drops the trigger and edits a row: the chain shows it.
        conn.execute_batch("DROP TRIGGER audit_no_update")?;
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2", [])?;
        assert_eq!(verify(&conn)?.broken_at, Some(2));
        assert_eq!(list(&conn, 2, None)?.len(), 2);
        Ok(())
    }
}
