//! The audit log as a KQL table: `BulwarkAudit_CL` (custom tables end in `_CL`), built on
//! demand from the workspace's audit rows into an engine over that workspace's store, for
//! owners only. Nothing is written into the store.
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use bulwark_model::{BatchBuilder, ColumnDef, KustoType, TableSchema};
use std::path::Path;
use std::sync::Arc;

/// The table's name.
pub const AUDIT_TABLE: &str = "BulwarkAudit_CL";

/// Whether a query names the audit table (then it needs [`engine_with_audit`]).
pub fn mentions_audit(query: &str) -> bool {
    query.contains(AUDIT_TABLE)
}

fn schema() -> Result<TableSchema> {
    let col = |name: &str, ty| ColumnDef { name: name.into(), ty };
    TableSchema::new(
        AUDIT_TABLE,
        vec![
            col("TimeGenerated", KustoType::DateTime),
            col("Id", KustoType::Long),
            col("Actor", KustoType::String),
            col("Workspace", KustoType::String),
            col("Action", KustoType::String),
            col("Target", KustoType::String),
            col("Outcome", KustoType::String),
            col("Detail", KustoType::String),
            col("Hash", KustoType::String),
        ],
    )
    .map_err(|e| Error::Config(e.to_string()))
}

/// An engine over the store in `dir` plus `entries` as `BulwarkAudit_CL`.
pub fn engine_with_audit(dir: &Path, entries: &[AuditEntry]) -> Result<bulwark_kql::exec::Engine> {
    let store = bulwark_store::Store::open(dir)?;
    let ctx = store.session_context()?;
    let table = Arc::new(schema()?);
    let mut registry = store.registry().clone();
    registry.add_custom((*table).clone()).map_err(|e| Error::Config(e.to_string()))?;
    let mut b = BatchBuilder::new(Arc::clone(&table), entries.len());
    for e in entries {
        let ns = chrono::DateTime::parse_from_rfc3339(&e.time)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0);
        b.set_time_ns(0, ns);
        b.set_i64(1, e.id);
        for (i, v) in
            [&e.actor, &e.workspace, &e.action, &e.target, &e.outcome].into_iter().enumerate()
        {
            b.set_str(i + 2, v);
        }
        b.set_str(7, &e.detail.to_string());
        b.set_str(8, &e.hash);
        b.end_row();
    }
    let batch = b.finish().map_err(|e| Error::Config(e.to_string()))?;
    ctx.register_batch(bulwark_store::table_ref(AUDIT_TABLE), batch)
        .map_err(|e| Error::Config(e.to_string()))?;
    bulwark_kql::exec::Engine::with_context(ctx, registry).map_err(|e| Error::Config(e.to_string()))
}
