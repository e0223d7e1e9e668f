//! The schema registry: every table Bulwark knows, with typed columns.
//!
//! Built-in tables come from `schemas/tables.txt` (compiled in), which carries the public column
//! names and types of the Defender XDR advanced-hunting and Sentinel tables so that analysts'
//! KQL runs unchanged. Custom tables (`*_CL`, as in Log Analytics) are added from JSON schema files.
use crate::{Error, KustoType, Result};
use arrow::datatypes::{Field, Schema, SchemaRef};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Field-metadata key under which every stored column records its Kusto type.
pub const KUSTO_TYPE_METADATA_KEY: &str = "kusto.type";

const BUILTIN_TABLES: &str = include_str!("../schemas/tables.txt");

/// One typed column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnDef {
    /// Column name, case-sensitive as in KQL.
    pub name: String,
    /// Kusto type.
    pub ty: KustoType,
}

/// A table: its name and ordered, typed columns.
#[derive(Debug, Clone)]
pub struct TableSchema {
    name: String,
    columns: Vec<ColumnDef>,
    index: HashMap<String, usize>,
    custom: bool,
    arrow: SchemaRef,
}

impl PartialEq for TableSchema {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.columns == other.columns
    }
}

impl TableSchema {
    /// Builds a table schema, validating names. Duplicate column names are refused.
    pub fn new(name: impl Into<String>, columns: Vec<ColumnDef>) -> Result<Self> {
        let name = name.into();
        validate_name("table", &name)?;
        let mut index = HashMap::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            validate_name("column", &c.name)?;
            if index.insert(c.name.clone(), i).is_some() {
                return Err(Error::InvalidName {
                    what: "column",
                    name: c.name.clone(),
                    reason: "defined twice in the same table",
                });
            }
        }
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| {
                Field::new(&c.name, c.ty.arrow_type(), true).with_metadata(HashMap::from([(
                    KUSTO_TYPE_METADATA_KEY.to_string(),
                    c.ty.name().to_string(),
                )]))
            })
            .collect();
        let arrow = Arc::new(Schema::new(fields));
        let custom = name.ends_with("_CL");
        Ok(TableSchema { name, columns, index, custom, arrow })
    }

    /// Table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Columns in table order.
    pub fn columns(&self) -> &[ColumnDef] {
        &self.columns
    }

    /// Whether this is a user-defined (`_CL`) table.
    pub fn is_custom(&self) -> bool {
        self.custom
    }

    /// The column with exactly this name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.index.get(name).map(|&i| &self.columns[i])
    }

    /// Position of the column with exactly this name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The closest column name to a misspelt one, for "did you mean" help.
    pub fn suggest_column(&self, name: &str) -> Option<String> {
        crate::text::closest(name, self.columns.iter().map(|c| c.name.as_str())).map(str::to_string)
    }

    /// The column holding each row's event time: `TimeGenerated` (Sentinel) or `Timestamp`
    /// (Defender XDR), whichever the table has, preferring `Timestamp`'s absence.
    pub fn time_column(&self) -> Option<&str> {
        ["TimeGenerated", "Timestamp"]
            .into_iter()
            .find(|c| self.column(c).is_some_and(|c| c.ty == KustoType::DateTime))
    }

    /// The Arrow schema of the table's stored batches (with Kusto types in field metadata).
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::clone(&self.arrow)
    }
}

fn validate_name(what: &'static str, name: &str) -> Result<()> {
    let invalid = |reason| Err(Error::InvalidName { what, name: name.to_string(), reason });
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > 1024 {
        return invalid("it is longer than 1024 bytes");
    }
    let first = name.chars().next().unwrap_or('0');
    if !(first.is_ascii_alphabetic() || first == '_') {
        return invalid("it must start with a letter or '_'");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return invalid("only letters, digits and '_' are allowed");
    }
    Ok(())
}

/// Every table Bulwark knows. Lookups are exact first, then case-insensitive.
#[derive(Debug, Clone, Default)]
pub struct SchemaRegistry {
    tables: BTreeMap<String, Arc<TableSchema>>,
    lower: HashMap<String, String>,
}

impl SchemaRegistry {
    /// The built-in Defender XDR / Sentinel tables (parsed once per process, then cloned).
    pub fn builtin() -> SchemaRegistry {
        static BUILTIN: OnceLock<SchemaRegistry> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut registry = SchemaRegistry::default();
                for table in parse_builtin(BUILTIN_TABLES) {
                    registry.insert(table);
                }
                registry
            })
            .clone()
    }

    fn insert(&mut self, table: TableSchema) {
        self.lower.insert(table.name.to_ascii_lowercase(), table.name.clone());
        self.tables.insert(table.name.clone(), Arc::new(table));
    }

    /// The table with this name (exact match, else the unique case-insensitive match).
    pub fn get(&self, name: &str) -> Option<&Arc<TableSchema>> {
        self.tables
            .get(name)
            .or_else(|| self.lower.get(&name.to_ascii_lowercase()).and_then(|n| self.tables.get(n)))
    }

    /// All tables, sorted by name.
    pub fn tables(&self) -> impl Iterator<Item = &Arc<TableSchema>> {
        self.tables.values()
    }

    /// Number of tables.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether no table is defined.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The closest table name to a misspelt one.
    pub fn suggest_table(&self, name: &str) -> Option<String> {
        crate::text::closest(name, self.tables.keys().map(String::as_str)).map(str::to_string)
    }

    /// Adds a custom table. Names must end in `_CL`; re-adding the same definition is a no-op,
    /// a different definition is a conflict (stored data would no longer match).
    pub fn add_custom(&mut self, table: TableSchema) -> Result<()> {
        if !table.name.ends_with("_CL") {
            return Err(Error::InvalidName {
                what: "table",
                name: table.name.clone(),
                reason: "custom table names must end with '_CL'",
            });
        }
        if let Some(existing) = self.tables.get(&table.name) {
            if **existing == table {
                return Ok(());
            }
            if !existing.is_custom() {
                return Err(Error::BuiltinTable(table.name.clone()));
            }
            return Err(Error::Conflict {
                table: table.name.clone(),
                detail: "drop its data first or give the new schema another name".into(),
            });
        }
        self.insert(table);
        Ok(())
    }

    /// Parses custom table definitions from JSON: `{"Table_CL": [["Col","type"], ...]}` or the
    /// Log Analytics dump shape `{"Table_CL": {"columns": [["Col","type"], ...]}}`.
    pub fn parse_custom_json(text: &str, origin: &Path) -> Result<Vec<TableSchema>> {
        let format = |message: String| Error::Format { path: origin.to_path_buf(), message };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format(format!("not JSON ({e})")))?;
        let object = value
            .as_object()
            .ok_or_else(|| format("expected an object mapping table names to columns".into()))?;
        let mut tables = Vec::with_capacity(object.len());
        for (name, def) in object {
            let columns = def.get("columns").unwrap_or(def).as_array().ok_or_else(|| {
                format(format!("table '{name}': expected a list of [column, type] pairs"))
            })?;
            let mut defs = Vec::with_capacity(columns.len());
            for (i, pair) in columns.iter().enumerate() {
                let (col, ty) = match pair.as_array().map(Vec::as_slice) {
                    Some([c, t]) => (c.as_str(), t.as_str()),
                    _ => (None, None),
                };
                let (Some(col), Some(ty)) = (col, ty) else {
                    return Err(format(format!(
                        "table '{name}', column #{}: expected [\"name\", \"type\"]",
                        i + 1
                    )));
                };
                let ty = KustoType::parse(ty).ok_or_else(|| Error::UnknownType {
                    table: name.clone(),
                    column: col.to_string(),
                    ty: ty.to_string(),
                    expected: KustoType::EXPECTED,
                })?;
                defs.push(ColumnDef { name: col.trim().to_string(), ty });
            }
            tables.push(TableSchema::new(name.clone(), defs)?);
        }
        Ok(tables)
    }

    /// Reads a custom schema file (see [`SchemaRegistry::parse_custom_json`]) and adds its tables.
    pub fn load_custom_file(&mut self, path: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let tables = Self::parse_custom_json(&text, path)?;
        let mut names = Vec::with_capacity(tables.len());
        for t in tables {
            names.push(t.name.clone());
            self.add_custom(t)?;
        }
        Ok(names)
    }
}

/// Parses the compiled-in table list. The file is ours and checked by tests, so a malformed line
/// is a build defect; it is skipped rather than taking the process down.
fn parse_builtin(text: &str) -> Vec<TableSchema> {
    let mut tables = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_ascii_whitespace();
        let Some(name) = parts.next() else { continue };
        let columns: Option<Vec<ColumnDef>> = parts
            .map(|p| {
                let (col, ty) = p.split_once(':')?;
                Some(ColumnDef { name: col.to_string(), ty: KustoType::parse(ty)? })
            })
            .collect();
        if let Some(table) = columns.and_then(|c| TableSchema::new(name, c).ok()) {
            tables.push(table);
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: &[&str] = &[
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileEvents",
        "DeviceRegistryEvents",
        "DeviceLogonEvents",
        "DeviceImageLoadEvents",
        "DeviceEvents",
        "DeviceInfo",
        "EmailEvents",
        "EmailAttachmentInfo",
        "EmailUrlInfo",
        "UrlClickEvents",
        "IdentityLogonEvents",
        "SigninLogs",
        "AuditLogs",
        "OfficeActivity",
        "SecurityEvent",
        "Syslog",
        "CommonSecurityLog",
        "AlertInfo",
        "AlertEvidence",
        "SecurityIncident",
    ];

    #[test]
    fn every_line_of_the_builtin_file_becomes_a_table() {
        let lines =
            BUILTIN_TABLES.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
        assert_eq!(SchemaRegistry::builtin().len(), lines);
    }

    #[test]
    fn required_tables_exist_with_time_columns() {
        let r = SchemaRegistry::builtin();
        for name in REQUIRED {
            let t = r.get(name).unwrap_or_else(|| panic!("missing {name}"));
            assert!(t.time_column().is_some(), "{name} has no time column");
        }
        let dpe = r.get("DeviceProcessEvents").expect("table");
        assert_eq!(dpe.column("ProcessId").map(|c| c.ty), Some(KustoType::Long));
        assert_eq!(dpe.column("AdditionalFields").map(|c| c.ty), Some(KustoType::Dynamic));
        let meta = dpe.arrow_schema();
        let field = meta.field_with_name("AdditionalFields").expect("field");
        assert_eq!(
            field.metadata().get(KUSTO_TYPE_METADATA_KEY).map(String::as_str),
            Some("dynamic")
        );
    }

    #[test]
    fn lookups_fall_back_to_case_insensitive() {
        let r = SchemaRegistry::builtin();
        assert_eq!(r.get("deviceprocessevents").map(|t| t.name()), Some("DeviceProcessEvents"));
        assert!(r.get("NoSuchTable").is_none());
        let t = r.get("DeviceLogonEvents").expect("table");
        assert_eq!(t.suggest_column("AccountNam").as_deref(), Some("AccountName"));
    }

    #[test]
    fn custom_tables_parse_from_both_shapes() {
        let text = r#"{"Firewall_CL": [["TimeGenerated","datetime"],["SrcIp","string"],["Bytes","long"]],
                       "Vpn_CL": {"columns": [["TimeGenerated","datetime"],["User","string"]]}}"#;
        let tables = SchemaRegistry::parse_custom_json(text, Path::new("x.json")).expect("parse");
        let mut r = SchemaRegistry::builtin();
        for t in tables {
            r.add_custom(t).expect("add");
        }
        let fw = r.get("Firewall_CL").expect("table");
        assert!(fw.is_custom());
        assert_eq!(fw.column("Bytes").map(|c| c.ty), Some(KustoType::Long));
        assert!(r.get("Vpn_CL").is_some());
    }

    #[test]
    fn bad_custom_definitions_name_the_problem() {
        let p = Path::new("s.json");
        let err = SchemaRegistry::parse_custom_json(r#"{"A_CL": [["x","varchar"]]}"#, p)
            .expect_err("bad type");
        assert!(err.to_string().contains("unknown type 'varchar' for column 'x'"), "{err}");
        let err = SchemaRegistry::parse_custom_json(r#"{"A_CL": [["x y","string"]]}"#, p)
            .expect_err("bad name");
        assert!(err.to_string().contains("invalid column name 'x y'"), "{err}");
        let err = SchemaRegistry::parse_custom_json("[1,2]", p).expect_err("shape");
        assert!(err.to_string().contains("expected an object"), "{err}");
        let mut r = SchemaRegistry::builtin();
        let t = TableSchema::new("Syslog", vec![]).expect("schema");
        assert!(r.add_custom(t).is_err());
        let a =
            TableSchema::new("A_CL", vec![ColumnDef { name: "x".into(), ty: KustoType::String }])
                .expect("a");
        let b = TableSchema::new("A_CL", vec![ColumnDef { name: "x".into(), ty: KustoType::Long }])
            .expect("b");
        r.add_custom(a.clone()).expect("first");
        r.add_custom(a).expect("same again is fine");
        assert!(matches!(r.add_custom(b), Err(Error::Conflict { .. })));
    }
}
