//! Building Arrow record batches for a table, one row at a time.
//!
//! Producers (the demo generator, every ingest parser) fill rows column by column; columns a
//! row does not set are null. Values are appended straight into Arrow builders, so there is no
//! per-row allocation beyond the strings themselves.
use crate::{KustoType, TableSchema};
use arrow::array::{
    ArrayRef, BooleanBuilder, DurationNanosecondBuilder, Float64Builder, Int32Builder,
    Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

enum Column {
    Bool(BooleanBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    Real(Float64Builder),
    Str(StringBuilder),
    Time(TimestampNanosecondBuilder),
    Span(DurationNanosecondBuilder),
}

impl Column {
    fn new(ty: KustoType, capacity: usize) -> Column {
        match ty {
            KustoType::Bool => Column::Bool(BooleanBuilder::with_capacity(capacity)),
            KustoType::Int => Column::Int(Int32Builder::with_capacity(capacity)),
            KustoType::Long => Column::Long(Int64Builder::with_capacity(capacity)),
            KustoType::Real | KustoType::Decimal => {
                Column::Real(Float64Builder::with_capacity(capacity))
            }
            KustoType::String | KustoType::Guid | KustoType::Dynamic => {
                Column::Str(StringBuilder::with_capacity(capacity, capacity * 8))
            }
            KustoType::DateTime => Column::Time(
                TimestampNanosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            KustoType::TimeSpan => Column::Span(DurationNanosecondBuilder::with_capacity(capacity)),
        }
    }

    fn len(&self) -> usize {
        use arrow::array::ArrayBuilder;
        match self {
            Column::Bool(b) => b.len(),
            Column::Int(b) => b.len(),
            Column::Long(b) => b.len(),
            Column::Real(b) => b.len(),
            Column::Str(b) => b.len(),
            Column::Time(b) => b.len(),
            Column::Span(b) => b.len(),
        }
    }

    fn append_null(&mut self) {
        match self {
            Column::Bool(b) => b.append_null(),
            Column::Int(b) => b.append_null(),
            Column::Long(b) => b.append_null(),
            Column::Real(b) => b.append_null(),
            Column::Str(b) => b.append_null(),
            Column::Time(b) => b.append_null(),
            Column::Span(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Long(b) => Arc::new(b.finish()),
            Column::Real(b) => Arc::new(b.finish()),
            Column::Str(b) => Arc::new(b.finish()),
            Column::Time(b) => Arc::new(b.finish()),
            Column::Span(b) => Arc::new(b.finish()),
        }
    }
}

/// Why a value could not be put in a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// Column name.
    pub column: String,
    /// Column type.
    pub ty: KustoType,
    /// The offending text (truncated to 64 characters).
    pub value: String,
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column '{}' ({}) cannot hold '{}'", self.column, self.ty, self.value)
    }
}

impl std::error::Error for ValueError {}

/// Accumulates rows of one table and turns them into a [`RecordBatch`].
///
/// Set columns by index (resolve names once with [`TableSchema::index_of`]), then call
/// [`BatchBuilder::end_row`]. Setting a column twice in a row keeps the first value.
pub struct BatchBuilder {
    schema: Arc<TableSchema>,
    columns: Vec<Column>,
    rows: usize,
}

impl BatchBuilder {
    /// A builder for `schema`'s table with room for `capacity` rows.
    pub fn new(schema: Arc<TableSchema>, capacity: usize) -> BatchBuilder {
        let columns = schema.columns().iter().map(|c| Column::new(c.ty, capacity)).collect();
        BatchBuilder { schema, columns, rows: 0 }
    }

    /// The table this builder fills.
    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// Completed rows so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn slot(&mut self, col: usize) -> Option<&mut Column> {
        let rows = self.rows;
        self.columns.get_mut(col).filter(|c| c.len() == rows)
    }

    /// Sets a string, guid or dynamic (JSON text) column.
    pub fn set_str(&mut self, col: usize, value: &str) {
        if let Some(Column::Str(b)) = self.slot(col) {
            b.append_value(value);
        }
    }

    /// Sets an integer column (int, long; also real, bool as value != 0, and string as digits).
    pub fn set_i64(&mut self, col: usize, value: i64) {
        match self.slot(col) {
            Some(Column::Long(b)) => b.append_value(value),
            Some(Column::Int(b)) => match i32::try_from(value) {
                Ok(v) => b.append_value(v),
                Err(_) => b.append_null(),
            },
            Some(Column::Real(b)) => b.append_value(value as f64),
            Some(Column::Bool(b)) => b.append_value(value != 0),
            Some(Column::Str(b)) => b.append_value(value.to_string()),
            _ => {}
        }
    }

    /// Sets a real column.
    pub fn set_f64(&mut self, col: usize, value: f64) {
        if let Some(Column::Real(b)) = self.slot(col) {
            b.append_value(value);
        }
    }

    /// Sets a bool column.
    pub fn set_bool(&mut self, col: usize, value: bool) {
        if let Some(Column::Bool(b)) = self.slot(col) {
            b.append_value(value);
        }
    }

    /// Sets a datetime column from nanoseconds since the Unix epoch (UTC).
    pub fn set_time_ns(&mut self, col: usize, nanos: i64) {
        if let Some(Column::Time(b)) = self.slot(col) {
            b.append_value(nanos);
        }
    }

    /// Sets a timespan column from nanoseconds.
    pub fn set_span_ns(&mut self, col: usize, nanos: i64) {
        if let Some(Column::Span(b)) = self.slot(col) {
            b.append_value(nanos);
        }
    }

    /// Sets any column from text, converting to the column's type (numbers, `true`/`false`,
    /// RFC 3339 / ISO-8601 datetimes, timespans as `[d.]hh:mm:ss[.fffffff]`, JSON for dynamic).
    /// Empty text is null. Text that does not convert is refused with the reason.
    pub fn set_text(&mut self, col: usize, text: &str) -> Result<(), ValueError> {
        let Some(def) = self.schema.columns().get(col) else { return Ok(()) };
        let ty = def.ty;
        let t = text.trim();
        if t.is_empty() && !matches!(ty, KustoType::String) {
            return Ok(());
        }
        let bad =
            || ValueError { column: def.name.clone(), ty, value: text.chars().take(64).collect() };
        match ty {
            KustoType::String | KustoType::Guid => self.set_str(col, text),
            KustoType::Dynamic => {
                if serde_json::from_str::<serde_json::Value>(t).is_ok() {
                    self.set_str(col, t);
                } else {
                    // Kusto stores a non-JSON value of a dynamic column as a JSON string.
                    let quoted = serde_json::Value::String(text.to_string()).to_string();
                    self.set_str(col, &quoted);
                }
            }
            KustoType::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => self.set_bool(col, true),
                "false" | "0" | "no" => self.set_bool(col, false),
                _ => return Err(bad()),
            },
            KustoType::Int | KustoType::Long => match t.parse::<i64>() {
                Ok(v) => self.set_i64(col, v),
                Err(_) => match t.parse::<f64>() {
                    Ok(v) if v.fract() == 0.0 && v.is_finite() => self.set_i64(col, v as i64),
                    _ => return Err(bad()),
                },
            },
            KustoType::Real | KustoType::Decimal => match t.parse::<f64>() {
                Ok(v) => self.set_f64(col, v),
                Err(_) => return Err(bad()),
            },
            KustoType::DateTime => match crate::time::parse_datetime_ns(t) {
                Some(ns) => self.set_time_ns(col, ns),
                None => return Err(bad()),
            },
            KustoType::TimeSpan => match crate::time::parse_timespan_ns(t) {
                Some(ns) => self.set_span_ns(col, ns),
                None => return Err(bad()),
            },
        }
        Ok(())
    }

    /// Completes the current row: every column it did not set becomes null.
    pub fn end_row(&mut self) {
        let next = self.rows + 1;
        for c in &mut self.columns {
            if c.len() < next {
                c.append_null();
            }
        }
        self.rows = next;
    }

    /// Discards the values set since the last [`BatchBuilder::end_row`]. Builders cannot pop,
    /// so this rebuilds the current rows; call it only for rare rejected records.
    pub fn abandon_row(&mut self) -> Result<(), ArrowError> {
        if self.columns.iter().all(|c| c.len() == self.rows) {
            return Ok(());
        }
        let batch = self.finish_partial()?;
        let capacity = batch.num_rows().max(16);
        self.columns = self.schema.columns().iter().map(|c| Column::new(c.ty, capacity)).collect();
        self.rows = 0;
        self.extend_from(&batch)
    }

    fn finish_partial(&mut self) -> Result<RecordBatch, ArrowError> {
        let rows = self.rows;
        let arrays: Vec<ArrayRef> =
            self.columns.iter_mut().map(|c| c.finish().slice(0, rows)).collect();
        RecordBatch::try_new(self.schema.arrow_schema(), arrays)
    }

    fn extend_from(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::{
            DurationNanosecondType, Float64Type, Int32Type, Int64Type, TimestampNanosecondType,
        };
        for (i, col) in self.columns.iter_mut().enumerate() {
            let array = batch.column(i);
            for row in 0..array.len() {
                if array.is_null(row) {
                    col.append_null();
                    continue;
                }
                match col {
                    Column::Bool(b) => b.append_value(array.as_boolean().value(row)),
                    Column::Int(b) => b.append_value(array.as_primitive::<Int32Type>().value(row)),
                    Column::Long(b) => b.append_value(array.as_primitive::<Int64Type>().value(row)),
                    Column::Real(b) => {
                        b.append_value(array.as_primitive::<Float64Type>().value(row))
                    }
                    Column::Str(b) => b.append_value(array.as_string::<i32>().value(row)),
                    Column::Time(b) => {
                        b.append_value(array.as_primitive::<TimestampNanosecondType>().value(row))
                    }
                    Column::Span(b) => {
                        b.append_value(array.as_primitive::<DurationNanosecondType>().value(row))
                    }
                }
            }
        }
        self.rows = batch.num_rows();
        Ok(())
    }

    /// Takes the completed rows as a batch and starts afresh. Values of an unfinished row are
    /// dropped.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        if self.columns.iter().any(|c| c.len() != self.rows) {
            self.abandon_row()?;
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.arrow_schema(), arrays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SchemaRegistry;
    use arrow::array::{Array, AsArray};

    #[test]
    fn unset_columns_are_null_and_values_land_in_place() {
        let schema = SchemaRegistry::builtin().get("DeviceLogonEvents").cloned().expect("table");
        let account = schema.index_of("AccountName").expect("col");
        let logon = schema.index_of("LogonType").expect("col");
        let mut b = BatchBuilder::new(schema, 4);
        b.set_str(account, "alice");
        b.set_str(account, "ignored second value");
        b.end_row();
        b.set_str(logon, "Network");
        b.end_row();
        let batch = b.finish().expect("batch");
        assert_eq!(batch.num_rows(), 2);
        let names = batch.column(account).as_string::<i32>();
        assert_eq!(names.value(0), "alice");
        assert!(names.is_null(1));
        assert_eq!(batch.column(logon).as_string::<i32>().value(1), "Network");
    }

    #[test]
    fn text_is_converted_per_column_type_or_refused() {
        let schema = SchemaRegistry::builtin().get("DeviceProcessEvents").cloned().expect("t");
        let pid = schema.index_of("ProcessId").expect("c");
        let ts = schema.index_of("Timestamp").expect("c");
        let extra = schema.index_of("AdditionalFields").expect("c");
        let mut b = BatchBuilder::new(schema, 2);
        b.set_text(pid, "4242").expect("long");
        b.set_text(ts, "2024-03-01T10:00:00.5Z").expect("time");
        b.set_text(extra, "not json").expect("dynamic");
        b.end_row();
        let err = b.set_text(pid, "12abc").expect_err("not a number");
        assert!(err.to_string().contains("ProcessId"), "{err}");
        b.abandon_row().expect("abandon");
        let batch = b.finish().expect("batch");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.column(extra).as_string::<i32>().value(0), "\"not json\"");
        let t = batch.column(ts).as_primitive::<arrow::datatypes::TimestampNanosecondType>();
        assert_eq!(t.value(0), 1_709_287_200_500_000_000);
    }

    #[test]
    fn abandoning_a_half_row_keeps_earlier_rows() {
        let schema = SchemaRegistry::builtin().get("Syslog").cloned().expect("t");
        let host = schema.index_of("HostName").expect("c");
        let msg = schema.index_of("SyslogMessage").expect("c");
        let mut b = BatchBuilder::new(schema, 2);
        b.set_str(host, "a");
        b.end_row();
        b.set_str(host, "b");
        b.abandon_row().expect("abandon");
        b.set_str(msg, "c");
        b.end_row();
        let batch = b.finish().expect("batch");
        assert_eq!(batch.num_rows(), 2);
        assert!(batch.column(host).is_null(1));
        assert_eq!(batch.column(msg).as_string::<i32>().value(1), "c");
    }
}
