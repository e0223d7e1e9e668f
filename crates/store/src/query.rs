//! Querying the store with DataFusion: every known table registered in a `SessionContext`.
use crate::{Error, Result, Store};
use arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

/// The DataFusion reference for a table name, kept case-sensitive (KQL names are).
pub fn table_ref(name: &str) -> TableReference {
    TableReference::bare(name)
}

impl Store {
    /// A DataFusion session configured for this machine, with every table registered under its
    /// exact (case-sensitive) name. Registration does no I/O; files are opened by queries.
    pub fn session_context(&self) -> Result<SessionContext> {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let mut config = SessionConfig::new().with_target_partitions(threads);
        // Strings are stored as Utf8; keep them so (KQL functions take both, but plans are
        // simpler to reason about with one string type).
        config.options_mut().execution.parquet.schema_force_view_types = false;
        config.options_mut().execution.parquet.pushdown_filters = true;
        config.options_mut().execution.parquet.reorder_filters = true;
        let ctx = SessionContext::new_with_config(config);
        self.register_tables(&ctx)?;
        Ok(ctx)
    }

    /// Registers (or re-registers) every table of the current manifest in `ctx`.
    pub fn register_tables(&self, ctx: &SessionContext) -> Result<()> {
        let manifest = self.manifest()?;
        for table in self.registry().tables() {
            let schema = table.arrow_schema();
            let files = manifest.tables.get(table.name()).map(Vec::as_slice).unwrap_or_default();
            let provider: Arc<dyn TableProvider> = if files.is_empty() {
                Arc::new(EmptyTable::new(schema))
            } else {
                let urls = files
                    .iter()
                    .map(|f| {
                        let path = self.dir().join(&f.path);
                        let abs = std::path::absolute(&path)
                            .map_err(Error::io("cannot resolve", &path))?;
                        ListingTableUrl::parse(abs.to_string_lossy()).map_err(Error::from)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet");
                let config = ListingTableConfig::new_with_multi_paths(urls)
                    .with_listing_options(options)
                    .with_schema(schema);
                Arc::new(ListingTable::try_new(config)?)
            };
            let name = table_ref(table.name());
            if ctx.table_exist(name.clone())? {
                ctx.deregister_table(name.clone())?;
            }
            ctx.register_table(name, provider)?;
        }
        Ok(())
    }
}

/// Converts batches to JSON objects, one per row, with Arrow's JSON encoding (datetimes as
/// ISO-8601 strings). Dynamic columns stay JSON text.
pub fn batches_to_json_rows(
    batches: &[RecordBatch],
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    writer.write_batches(&refs)?;
    writer.finish()?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_slice(&bytes)
        .map_err(|e| Error::SchemaMismatch { table: String::new(), detail: e.to_string() })?;
    Ok(rows)
}
