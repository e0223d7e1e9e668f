//! Sessions in SQLite: sessions (with the follow-up context), prompts, responses, evidence,
//! pins and feedback; rename, delete and export to Markdown.
use crate::copilot::{Answer, Copilot, TokenUsage};
use crate::skill::SessionContext;
use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL, context TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS prompts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    text TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    prompt_id INTEGER PRIMARY KEY REFERENCES prompts(id) ON DELETE CASCADE,
    markdown TEXT NOT NULL, skills TEXT NOT NULL, results TEXT NOT NULL, process_log TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    n INTEGER NOT NULL, skill TEXT NOT NULL, source TEXT NOT NULL, query TEXT,
    row_count INTEGER NOT NULL, sample TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    prompt_id INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    note TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, comment TEXT NOT NULL, created TEXT NOT NULL
);
";

/// Token-usage columns of `responses`, added by migration when missing.
const USAGE_COLUMNS: &[(&str, &str)] = &[
    ("prompt_tokens", "INTEGER NOT NULL DEFAULT 0"),
    ("completion_tokens", "INTEGER NOT NULL DEFAULT 0"),
    ("model_calls", "INTEGER NOT NULL DEFAULT 0"),
    ("backend", "TEXT NOT NULL DEFAULT ''"),
    ("model", "TEXT NOT NULL DEFAULT ''"),
];

/// Feedback on a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// The answer was right.
    Confirmed,
    /// It answered something else.
    OffTarget,
    /// It was wrong.
    Inaccurate,
}

impl Feedback {
    fn name(self) -> &'static str {
        match self {
            Feedback::Confirmed => "confirmed",
            Feedback::OffTarget => "off_target",
            Feedback::Inaccurate => "inaccurate",
        }
    }
}

/// A session in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Creation time (ISO-8601).
    pub created: String,
    /// Prompts asked.
    pub prompts: u64,
}

/// One prompt and its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    /// Prompt id (for pins and feedback).
    pub prompt_id: i64,
    /// Prompt.
    pub prompt: String,
    /// Response Markdown.
    pub markdown: String,
    /// Skills that ran.
    pub skills: Vec<String>,
    /// When.
    pub created: String,
    /// Tokens the model used for this answer (zero without a model).
    pub usage: TokenUsage,
}

/// A pinned response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pin {
    /// Prompt id.
    pub prompt_id: i64,
    /// Prompt.
    pub prompt: String,
    /// Note.
    pub note: String,
}

/// The session database.
pub struct SessionStore {
    conn: Connection,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore").finish_non_exhaustive()
    }
}

fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl SessionStore {
    /// Opens (creating) the database at `path`, conventionally `<data dir>/sessions.sqlite`.
    pub fn open(path: impl AsRef<Path>) -> Result<SessionStore> {
        let conn = Connection::open(path.as_ref())?;
        Self::init(conn)
    }

    /// A database in memory (for tests and one-off runs).
    pub fn open_in_memory() -> Result<SessionStore> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SessionStore> {
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        conn.execute_batch(SCHEMA)?;
        Self::migrate(&conn)?;
        Ok(SessionStore { conn })
    }

    /// Adds the token-usage columns to databases written before they existed (old rows read
    /// as zero usage).
    fn migrate(conn: &Connection) -> Result<()> {
        let mut stmt = conn.prepare("PRAGMA table_info(responses)")?;
        let have: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<std::result::Result<_, _>>()?;
        for (name, decl) in USAGE_COLUMNS {
            if !have.iter().any(|h| h == name) {
                conn.execute_batch(&format!("ALTER TABLE responses ADD COLUMN {name} {decl};"))?;
            }
        }
        Ok(())
    }

    /// Creates a session and returns its id.
    pub fn create(&self, name: Option<&str>) -> Result<String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let count: i64 = self.conn.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?;
        let id = format!("s{:x}{:x}", nanos & 0xffff_ffff_ffff, count);
        let name = name.map(str::to_string).unwrap_or_else(|| format!("Session {}", count + 1));
        self.conn.execute(
            "INSERT INTO sessions (id, name, created, context) VALUES (?1, ?2, ?3, ?4)",
            params![id, name, now_text(), serde_json::to_string(&SessionContext::default())?],
        )?;
        Ok(id)
    }

    fn require(&self, id: &str) -> Result<()> {
        let found: Option<String> = self
            .conn
            .query_row("SELECT id FROM sessions WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        found.map(|_| ()).ok_or_else(|| Error::UnknownSession(id.to_string()))
    }

    /// Sessions, newest first.
    pub fn list(&self) -> Result<Vec<SessionSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.name, s.created, (SELECT COUNT(*) FROM prompts p WHERE p.session_id = s.id)
             FROM sessions s ORDER BY s.created DESC, s.rowid DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SessionSummary {
                id: r.get(0)?,
                name: r.get(1)?,
                created: r.get(2)?,
                prompts: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }

    /// The follow-up context of a session.
    pub fn context(&self, id: &str) -> Result<SessionContext> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT context FROM sessions WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        let text = text.ok_or_else(|| Error::UnknownSession(id.to_string()))?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    }

    /// Stores a prompt, its answer and evidence, and the updated context; returns the prompt id.
    pub fn record(&mut self, id: &str, answer: &Answer, context: &SessionContext) -> Result<i64> {
        self.require(id)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO prompts (session_id, text, created) VALUES (?1, ?2, ?3)",
            params![id, answer.prompt, now_text()],
        )?;
        let prompt_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO responses (prompt_id, markdown, skills, results, process_log, prompt_tokens, completion_tokens, model_calls, backend, model)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                prompt_id,
                answer.markdown,
                serde_json::to_string(&answer.skills)?,
                serde_json::to_string(&answer.results)?,
                serde_json::to_string(&answer.process_log)?,
                answer.usage.prompt_tokens as i64,
                answer.usage.completion_tokens as i64,
                answer.usage.model_calls as i64,
                answer.usage.backend,
                answer.usage.model
            ],
        )?;
        for (n, e) in answer.evidence.iter().enumerate() {
            tx.execute(
                "INSERT INTO evidence (prompt_id, n, skill, source, query, row_count, sample) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![prompt_id, n as i64 + 1, e.skill, e.source, e.query, e.row_count as i64, serde_json::to_string(&e.sample_rows)?],
            )?;
        }
        tx.execute(
            "UPDATE sessions SET context = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(context)?],
        )?;
        tx.commit()?;
        Ok(prompt_id)
    }

    /// The session's earlier turns as `question → answer headline` lines, the history a
    /// model gets with a follow-up question.
    pub fn previous_turns(&self, id: &str) -> Result<Vec<String>> {
        Ok(self
            .history(id)?
            .into_iter()
            .map(|t| {
                let (headline, _) = answer_gist(&t.markdown);
                let headline = crate::entities::cut(&headline, 160);
                if headline.is_empty() { t.prompt } else { format!("{} → {headline}", t.prompt) }
            })
            .collect())
    }

    /// The prompts and responses of a session, in order.
    pub fn history(&self, id: &str) -> Result<Vec<Turn>> {
        self.require(id)?;
        let mut stmt = self.conn.prepare(
            "SELECT p.id, p.text, r.markdown, r.skills, p.created,
                    r.prompt_tokens, r.completion_tokens, r.model_calls, r.backend, r.model
             FROM prompts p JOIN responses r ON r.prompt_id = p.id
             WHERE p.session_id = ?1 ORDER BY p.id",
        )?;
        let rows = stmt.query_map([id], |r| {
            let skills: String = r.get(3)?;
            Ok(Turn {
                prompt_id: r.get(0)?,
                prompt: r.get(1)?,
                markdown: r.get(2)?,
                skills: serde_json::from_str(&skills).unwrap_or_default(),
                created: r.get(4)?,
                usage: TokenUsage {
                    prompt_tokens: r.get::<_, i64>(5)?.max(0) as u64,
                    completion_tokens: r.get::<_, i64>(6)?.max(0) as u64,
                    model_calls: r.get::<_, i64>(7)?.max(0) as u64,
                    backend: r.get(8)?,
                    model: r.get(9)?,
                },
            })
        })?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }

    /// Token usage of a whole session: the sum over its answers (backend and model of the
    /// latest answer that used a model).
    pub fn usage(&self, id: &str) -> Result<TokenUsage> {
        let mut total = TokenUsage::default();
        for t in self.history(id)? {
            total.prompt_tokens += t.usage.prompt_tokens;
            total.completion_tokens += t.usage.completion_tokens;
            total.model_calls += t.usage.model_calls;
            if t.usage.model_calls > 0 {
                total.backend = t.usage.backend;
                total.model = t.usage.model;
            }
        }
        Ok(total)
    }

    /// Number of evidence items stored for a prompt.
    pub fn evidence_count(&self, prompt_id: i64) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM evidence WHERE prompt_id = ?1",
            [prompt_id],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Pins a response to the session's pinboard.
    pub fn pin(&self, id: &str, prompt_id: i64, note: &str) -> Result<()> {
        self.require(id)?;
        self.conn.execute(
            "INSERT INTO pins (session_id, prompt_id, note, created) VALUES (?1, ?2, ?3, ?4)",
            params![id, prompt_id, note, now_text()],
        )?;
        Ok(())
    }

    /// The pinboard.
    pub fn pins(&self, id: &str) -> Result<Vec<Pin>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.prompt_id, q.text, p.note FROM pins p JOIN prompts q ON q.id = p.prompt_id WHERE p.session_id = ?1 ORDER BY p.id",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(Pin { prompt_id: r.get(0)?, prompt: r.get(1)?, note: r.get(2)? })
        })?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }

    /// The pinboard's summary, written from the pinned answers themselves: per pin, the
    /// prompt, the answer's headline (its first line) and its key points (up to three bullet
    /// lines), and the analyst's note.
    pub fn pin_summary(&self, id: &str) -> Result<String> {
        let pins = self.pins(id)?;
        if pins.is_empty() {
            return Ok("Nothing is pinned yet.".to_string());
        }
        let history = self.history(id)?;
        let mut out =
            format!("{} pinned item{}:\n", pins.len(), if pins.len() == 1 { "" } else { "s" });
        for (i, p) in pins.iter().enumerate() {
            let turn = history.iter().find(|t| t.prompt_id == p.prompt_id);
            let (headline, points) = match turn {
                Some(t) => answer_gist(&t.markdown),
                None => (String::new(), Vec::new()),
            };
            out.push_str(&format!("{}. {}", i + 1, p.prompt));
            if !headline.is_empty() {
                out.push_str(&format!(" — {headline}"));
            }
            if !p.note.is_empty() {
                out.push_str(&format!(" (note: {})", p.note));
            }
            out.push('\n');
            for point in points {
                out.push_str(&format!("   - {point}\n"));
            }
        }
        Ok(out)
    }

    /// Records feedback on a response.
    pub fn feedback(&self, prompt_id: i64, kind: Feedback, comment: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO feedback (prompt_id, kind, comment, created) VALUES (?1, ?2, ?3, ?4)",
            params![prompt_id, kind.name(), comment, now_text()],
        )?;
        Ok(())
    }

    /// Feedback counts per kind.
    pub fn feedback_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt =
            self.conn.prepare("SELECT kind, COUNT(*) FROM feedback GROUP BY kind ORDER BY kind")?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }

    /// Renames a session.
    pub fn rename(&self, id: &str, name: &str) -> Result<()> {
        self.require(id)?;
        self.conn.execute("UPDATE sessions SET name = ?2 WHERE id = ?1", params![id, name])?;
        Ok(())
    }

    /// Deletes a session and everything in it.
    pub fn delete(&self, id: &str) -> Result<()> {
        self.require(id)?;
        self.conn.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(())
    }

    /// The session as Markdown: each prompt and answer, then the pinboard.
    pub fn export_markdown(&self, id: &str) -> Result<String> {
        let name: String = self
            .conn
            .query_row("SELECT name FROM sessions WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::UnknownSession(id.to_string()))?;
        let mut md = format!("# {name}\n\n");
        let usage = self.usage(id)?;
        if usage.model_calls > 0 {
            md.push_str(&format!(
                "_Model usage: {} prompt + {} completion tokens ({} total) in {} model calls ({} {})_\n\n",
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total(),
                usage.model_calls,
                usage.backend,
                usage.model
            ));
        }
        for t in self.history(id)? {
            let tokens = if t.usage.model_calls > 0 {
                format!("; {} tokens in {} model calls", t.usage.total(), t.usage.model_calls)
            } else {
                String::new()
            };
            md.push_str(&format!(
                "## {}\n\n_{}; skills: {}{tokens}_\n\n{}\n\n",
                t.prompt,
                t.created,
                t.skills.join(", "),
                t.markdown
            ));
        }
        let pins = self.pins(id)?;
        if !pins.is_empty() {
            md.push_str("## Pinboard\n\n");
            md.push_str(&self.pin_summary(id)?);
            md.push('\n');
            for p in pins {
                md.push_str(&format!(
                    "- **{}**{}\n",
                    p.prompt,
                    if p.note.is_empty() { String::new() } else { format!(": {}", p.note) }
                ));
            }
        }
        Ok(md)
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl SessionStore {
    /// The session as one self-contained HTML page (no scripts, no external resources): each
    /// prompt and its Markdown answer, escaped, then the pinboard.
    pub fn export_html(&self, id: &str) -> Result<String> {
        let name: String = self
            .conn
            .query_row("SELECT name FROM sessions WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::UnknownSession(id.to_string()))?;
        let mut html = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}pre{{white-space:pre-wrap;background:#f6f8fa;padding:1em}}</style></head><body>\n<h1>{0}</h1>\n",
            html_escape(&name)
        );
        let usage = self.usage(id)?;
        if usage.model_calls > 0 {
            html.push_str(&format!(
                "<p><em>Model usage: {} prompt + {} completion tokens in {} model calls ({} {})</em></p>\n",
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.model_calls,
                html_escape(&usage.backend),
                html_escape(&usage.model)
            ));
        }
        for t in self.history(id)? {
            html.push_str(&format!(
                "<h2>{}</h2>\n<p><em>{}; skills: {}</em></p>\n<pre>{}</pre>\n",
                html_escape(&t.prompt),
                html_escape(&t.created),
                html_escape(&t.skills.join(", ")),
                html_escape(&t.markdown)
            ));
        }
        let pins = self.pins(id)?;
        if !pins.is_empty() {
            html.push_str("<h2>Pinboard</h2>\n<ul>\n");
            for p in pins {
                html.push_str(&format!(
                    "<li><strong>{}</strong> {}</li>\n",
                    html_escape(&p.prompt),
                    html_escape(&p.note)
                ));
            }
            html.push_str("</ul>\n");
        }
        html.push_str("</body></html>\n");
        Ok(html)
    }
}

impl Copilot {
    /// Answers `prompt` in a stored session (a new one when `session` is `None`), resolving
    /// follow-ups from the session's context and recording the turn. Returns the session id,
    /// the prompt id and the answer.
    pub fn ask_in_session(
        &self,
        store: &mut SessionStore,
        session: Option<&str>,
        prompt: &str,
    ) -> Result<(String, i64, Answer)> {
        let id = match session {
            Some(id) => {
                store.require(id)?;
                id.to_string()
            }
            None => store.create(None)?,
        };
        let mut context = store.context(&id)?;
        // The model gets the session's earlier turns; the deterministic path does not need
        // them (it has the context), so the history is read only with a model.
        let previous =
            if self.llm_name().is_some() { store.previous_turns(&id)? } else { Vec::new() };
        let answer = self.ask_with_history(prompt, &mut context, &previous, &mut |_| {});
        let prompt_id = store.record(&id, &answer, &context)?;
        Ok((id, prompt_id, answer))
    }
}

/// An answer's headline (first text line, Markdown emphasis removed) and up to three bullets.
fn answer_gist(markdown: &str) -> (String, Vec<String>) {
    let clean = |l: &str| l.trim().trim_start_matches('#').replace("**", "").trim().to_string();
    let mut lines =
        markdown.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("```"));
    let headline = lines.next().map(clean).unwrap_or_default();
    let points = markdown
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- "))
        .take(3)
        .map(|l| clean(&l[2..]))
        .collect();
    (headline, points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skill::Evidence;

    fn answer(prompt: &str) -> Answer {
        Answer {
            prompt: prompt.into(),
            markdown: format!("answer to {prompt}"),
            skills: vec!["IncidentSummary".into()],
            results: Vec::new(),
            evidence: vec![Evidence::analysis(
                "IncidentSummary",
                "SecurityIncident",
                serde_json::Map::new(),
            )],
            process_log: Vec::new(),
            extracted: crate::entities::extract(prompt),
            usage: TokenUsage::default(),
        }
    }

    #[test]
    fn sessions_round_trip() -> Result<()> {
        let mut store = SessionStore::open_in_memory()?;
        let id = store.create(Some("triage"))?;
        let ctx = SessionContext { last_incident: Some("5".into()), ..Default::default() };
        let p1 = store.record(&id, &answer("summarize incident 5"), &ctx)?;
        let p2 = store.record(&id, &answer("what should we do?"), &ctx)?;
        assert_eq!(store.context(&id)?.last_incident.as_deref(), Some("5"));
        let h = store.history(&id)?;
        assert_eq!(h.iter().map(|t| t.prompt_id).collect::<Vec<_>>(), vec![p1, p2]);
        assert_eq!(store.evidence_count(p1)?, 1);
        store.pin(&id, p2, "plan")?;
        store.feedback(p1, Feedback::Confirmed, "")?;
        store.feedback(p2, Feedback::Inaccurate, "wrong device")?;
        assert_eq!(
            store.feedback_counts()?,
            vec![("confirmed".into(), 1), ("inaccurate".into(), 1)]
        );
        store.rename(&id, "incident 5")?;
        let md = store.export_markdown(&id)?;
        assert!(md.starts_with("# incident 5"), "{md}");
        assert!(md.contains("## Pinboard") && md.contains("**what should we do?**: plan"), "{md}");
        assert_eq!(store.list()?[0].prompts, 2);
        store.record(&id, &answer("<script>alert(1)</script>"), &ctx)?;
        let html = store.export_html(&id)?;
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        store.delete(&id)?;
        assert!(store.list()?.is_empty());
        assert!(matches!(store.history(&id), Err(Error::UnknownSession(_))));
        Ok(())
    }

    #[test]
    fn old_databases_gain_usage_columns() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io { path: "tmp".into(), source: e })?;
        let path = dir.path().join("sessions.sqlite");
        {
            // The schema before token usage existed, with one answer in it.
            let conn = Connection::open(&path)?;
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(
                "INSERT INTO sessions VALUES ('s1', 'old', '2026-01-01T00:00:00Z', '{}');
                 INSERT INTO prompts (session_id, text, created) VALUES ('s1', 'old question', '2026-01-01T00:00:00Z');
                 INSERT INTO responses (prompt_id, markdown, skills, results, process_log) VALUES (1, 'old answer', '[]', '[]', '[]');",
            )?;
            let cols: i64 = conn.query_row(
                "SELECT COUNT(*) FROM pragma_table_info('responses') WHERE name = 'prompt_tokens'",
                [],
                |r| r.get(0),
            )?;
            assert_eq!(cols, 0);
        }
        let mut store = SessionStore::open(&path)?;
        assert_eq!(store.history("s1")?[0].usage, TokenUsage::default());
        let mut a = answer("new question");
        a.usage = TokenUsage {
            prompt_tokens: 120,
            completion_tokens: 30,
            model_calls: 2,
            backend: "local".into(),
            model: "smol".into(),
        };
        store.record("s1", &a, &SessionContext::default())?;
        let total = store.usage("s1")?;
        assert_eq!((total.total(), total.model_calls, total.model.as_str()), (150, 2, "smol"));
        drop(store);
        // Opening again does not add the columns twice.
        let store = SessionStore::open(&path)?;
        assert_eq!(store.usage("s1")?.prompt_tokens, 120);
        assert!(
            store.export_markdown("s1")?.contains("Model usage: 120 prompt + 30 completion tokens")
        );
        Ok(())
    }

    #[test]
    fn pinboard_summary_comes_from_the_pinned_answers() -> Result<()> {
        let mut store = SessionStore::open_in_memory()?;
        let id = store.create(None)?;
        let ctx = SessionContext::default();
        assert_eq!(store.pin_summary(&id)?, "Nothing is pinned yet.");
        let mut a = answer("who was patient zero?");
        a.markdown = "**Patient zero: wks-fin-003**\n\n- user nancy.robinson\n- first alert 10:15\n- device isolated: no\n- extra".into();
        let p = store.record(&id, &a, &ctx)?;
        store.record(&id, &answer("unpinned question"), &ctx)?;
        store.pin(&id, p, "escalate")?;
        let summary = store.pin_summary(&id)?;
        assert!(summary.starts_with("1 pinned item:"), "{summary}");
        assert!(
            summary.contains("who was patient zero? — Patient zero: wks-fin-003 (note: escalate)"),
            "{summary}"
        );
        assert!(
            summary.contains("   - user nancy.robinson") && !summary.contains("extra"),
            "{summary}"
        );
        assert!(!summary.contains("unpinned"), "{summary}");
        assert!(store.export_markdown(&id)?.contains(&summary));
        Ok(())
    }
}
