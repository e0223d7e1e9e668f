//! Where parsers put rows: one [`BatchBuilder`] per table, drained into record batches in
//! chunks. Values that do not fit their column's type become null and are counted (the row is
//! kept: one bad field must not lose the record).
use crate::{Error, Result};
use arrow::record_batch::RecordBatch;
use bulwark_model::{BatchBuilder, KustoType, SchemaRegistry, TableSchema};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Rows being built for many tables.
pub(crate) struct Rows {
    registry: Arc<SchemaRegistry>,
    builders: BTreeMap<String, BatchBuilder>,
    /// Rows completed since the last [`Rows::take`].
    pub pending: usize,
    /// Values that did not convert and were stored as null.
    pub field_errors: u64,
    /// The first few of those, as `column: reason`.
    pub field_error_samples: Vec<String>,
}

/// How many converted-to-null values are described per file.
const FIELD_ERROR_SAMPLES: usize = 5;

impl Rows {
    pub fn new(registry: Arc<SchemaRegistry>) -> Rows {
        Rows {
            registry,
            builders: BTreeMap::new(),
            pending: 0,
            field_errors: 0,
            field_error_samples: Vec::new(),
        }
    }

    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// A row writer for `table` (its exact registry name), or `None` for an unknown table.
    pub fn row(&mut self, table: &str) -> Option<Row<'_>> {
        if !self.builders.contains_key(table) {
            let schema = self.registry.get(table)?.clone();
            self.builders.insert(schema.name().to_string(), BatchBuilder::new(schema, 1024));
        }
        let b = self.builders.get_mut(table)?;
        Some(Row {
            b,
            pending: &mut self.pending,
            errors: &mut self.field_errors,
            samples: &mut self.field_error_samples,
        })
    }

    /// Takes every completed row as batches, one per table that has rows.
    pub fn take(&mut self) -> Result<Vec<(String, RecordBatch)>> {
        let mut out = Vec::new();
        for (name, b) in &mut self.builders {
            if b.rows() == 0 {
                continue;
            }
            let batch = b
                .finish()
                .map_err(|e| Error::Internal { table: name.clone(), message: e.to_string() })?;
            out.push((name.clone(), batch));
        }
        self.pending = 0;
        Ok(out)
    }
}

/// One row of one table being filled.
pub(crate) struct Row<'a> {
    b: &'a mut BatchBuilder,
    pending: &'a mut usize,
    errors: &'a mut u64,
    samples: &'a mut Vec<String>,
}

impl Row<'_> {
    pub fn schema(&self) -> &Arc<TableSchema> {
        self.b.schema()
    }

    /// Sets a column by name from text (ignored when the table has no such column).
    pub fn text(&mut self, column: &str, value: &str) {
        if let Some(i) = self.b.schema().index_of(column) {
            self.text_at(i, value);
        }
    }

    /// Sets a column by position from text.
    pub fn text_at(&mut self, col: usize, value: &str) {
        if let Err(e) = self.b.set_text(col, value) {
            *self.errors += 1;
            if self.samples.len() < FIELD_ERROR_SAMPLES {
                self.samples.push(e.to_string());
            }
        }
    }

    /// Sets a datetime column by name from nanoseconds.
    pub fn time(&mut self, column: &str, ns: i64) {
        if let Some(i) = self.b.schema().index_of(column) {
            self.b.set_time_ns(i, ns);
        }
    }

    /// Sets an integer column by name.
    pub fn int(&mut self, column: &str, v: i64) {
        if let Some(i) = self.b.schema().index_of(column) {
            self.b.set_i64(i, v);
        }
    }

    /// Sets a column by position from a JSON value, converting to the column's type.
    pub fn json_at(&mut self, col: usize, v: &Value) {
        let Some(ty) = self.b.schema().columns().get(col).map(|c| c.ty) else { return };
        match v {
            Value::Null => {}
            Value::String(s) => self.text_at(col, s),
            Value::Bool(x) => match ty {
                KustoType::Bool => self.b.set_bool(col, *x),
                _ => self.text_at(col, if *x { "true" } else { "false" }),
            },
            Value::Number(n) => match (ty, n.as_i64()) {
                (KustoType::Long | KustoType::Int | KustoType::Bool, Some(i)) => {
                    self.b.set_i64(col, i)
                }
                (KustoType::Real | KustoType::Decimal, _) => match n.as_f64() {
                    Some(f) => self.b.set_f64(col, f),
                    None => self.text_at(col, &n.to_string()),
                },
                _ => self.text_at(col, &n.to_string()),
            },
            other => self.text_at(col, &other.to_string()),
        }
    }

    /// Completes the row.
    pub fn end(self) {
        self.b.end_row();
        *self.pending += 1;
    }
}

/// Finds the column a key of an export names: exact, then without Log Analytics type suffixes
/// (`_s`, `_d`, `_string`, `_dynamic` …), then case-insensitively.
pub(crate) fn resolve_column(schema: &TableSchema, key: &str) -> Option<usize> {
    if let Some(i) = schema.index_of(key) {
        return Some(i);
    }
    const SUFFIXES: &[&str] = &[
        "_string",
        "_dynamic",
        "_long",
        "_int",
        "_real",
        "_bool",
        "_datetime",
        "_guid",
        "_s",
        "_d",
        "_b",
        "_g",
        "_t",
    ];
    for s in SUFFIXES {
        if let Some(base) = key.strip_suffix(s)
            && let Some(i) = schema.index_of(base)
        {
            return Some(i);
        }
    }
    schema.columns().iter().position(|c| c.name.eq_ignore_ascii_case(key))
}
