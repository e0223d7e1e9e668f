//! Event shapes the rules run on: table rows viewed through the logsource field mapping, and the
//! raw Windows event row built from an EVTX record rendered as JSON.
//!
//! [`RowEvent`] implements rsigma's [`Event`] over one row (a JSON object with our column names):
//! a Sigma field is resolved through the [`Target`]'s mapping, then under its own name, then (for
//! the raw `WindowsEvent` table) inside the `EventData` object. Rules are compiled once with Sigma
//! names; only the lookup differs per table.

use std::borrow::Cow;

use rsigma_eval::event::{Event, EventValue};
use serde_json::{Map, Value};

use crate::logsource::{FieldSource, INBOUND_ACTION_TYPES, Target, WINDOWS_EVENT};

/// Depth limit when walking nested JSON for keyword search.
const MAX_DEPTH: usize = 32;

/// One table row seen through a logsource target's field mapping.
pub struct RowEvent<'a> {
    row: &'a Map<String, Value>,
    target: &'a Target,
}

impl<'a> RowEvent<'a> {
    /// Views `row` (an object of column values) as an event of `target`'s logsource.
    pub fn new(row: &'a Map<String, Value>, target: &'a Target) -> Self {
        RowEvent { row, target }
    }

    fn raw(&self, name: &str) -> Option<&'a Value> {
        if let Some(v) = self.row.get(name) {
            return Some(v);
        }
        if self.target.table == WINDOWS_EVENT {
            if let Some(v) = self.row.get("EventData").and_then(|d| d.get(name)) {
                return Some(v);
            }
            // SigmaHQ's Windows taxonomy calls the provider `Provider_Name`.
            if name == "Provider_Name" {
                return self.row.get("Provider");
            }
        }
        // Dotted paths into dynamic columns (AdditionalFields.Foo).
        if let Some((head, rest)) = name.split_once('.') {
            let mut cur = self.row.get(head)?;
            for part in rest.split('.') {
                cur = cur.get(part)?;
            }
            return Some(cur);
        }
        None
    }

    fn text(&self, column: &str) -> Option<&'a str> {
        self.row.get(column).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

/// Defender's long hive names as Sysmon writes them (`HKEY_LOCAL_MACHINE\..` -> `HKLM\..`,
/// `HKEY_USERS`/`HKEY_CURRENT_USER` -> `HKU`), so SigmaHQ's `startswith: 'HKLM\'` works on
/// DeviceRegistryEvents. [`crate::kql`] applies the same rewrite.
pub const HIVE_PREFIXES: &[(&str, &str)] = &[
    ("HKEY_LOCAL_MACHINE\\", "HKLM\\"),
    ("HKEY_USERS\\", "HKU\\"),
    ("HKEY_CURRENT_USER\\", "HKU\\"),
];

fn short_hive(key: &str) -> String {
    for (long, short) in HIVE_PREFIXES {
        if key.len() >= long.len()
            && key.is_char_boundary(long.len())
            && key[..long.len()].eq_ignore_ascii_case(long)
        {
            return format!("{short}{}", &key[long.len()..]);
        }
    }
    key.to_string()
}

/// A Sysmon-style `Hashes` string from the `SHA1`, `MD5` and `SHA256` columns of a row.
pub fn hashes_string(row: &Map<String, Value>) -> Option<String> {
    let parts: Vec<String> = ["SHA1", "MD5", "SHA256"]
        .iter()
        .filter_map(|k| {
            row.get(*k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", v.to_ascii_uppercase()))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

impl Event for RowEvent<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        match self.target.field(path) {
            Some(FieldSource::Column(c)) => self.raw(c).map(value_of),
            Some(FieldSource::Hashes) => {
                hashes_string(self.row).map(|s| EventValue::Str(Cow::Owned(s)))
            }
            Some(FieldSource::RegistryPath) => {
                let key = self.text("RegistryKey")?;
                let key = short_hive(key);
                let path = match self.text("RegistryValueName") {
                    Some(name) => format!("{key}\\{name}"),
                    None => key,
                };
                Some(EventValue::Str(Cow::Owned(path)))
            }
            Some(FieldSource::Initiated) => {
                let action = self.text("ActionType")?;
                let inbound = INBOUND_ACTION_TYPES.iter().any(|a| a.eq_ignore_ascii_case(action));
                Some(EventValue::Str(Cow::Borrowed(if inbound { "false" } else { "true" })))
            }
            None => self.raw(path).map(value_of),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        let mut found = false;
        for v in self.row.values() {
            visit_strings(v, 0, &mut |s| found = found || pred(s));
            if found {
                return true;
            }
        }
        found
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        for v in self.row.values() {
            visit_strings(v, 0, &mut |s| out.push(Cow::Borrowed(s)));
        }
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        for v in self.row.values() {
            visit_strings(v, 0, visit);
        }
    }

    fn to_json(&self) -> Value {
        Value::Object(self.row.clone())
    }
}

/// A column value as rsigma sees it. Objects (dynamic columns such as `AdditionalFields`) are
/// matched as their JSON text, as KQL's string operators do on `dynamic`; arrays stay arrays (a
/// Sigma value matches when any element does).
fn value_of(v: &Value) -> EventValue<'_> {
    match v {
        Value::Object(_) => EventValue::Str(Cow::Owned(v.to_string())),
        other => EventValue::from(other),
    }
}

fn visit_strings<'v>(value: &'v Value, depth: usize, visit: &mut dyn FnMut(&'v str)) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::String(s) => visit(s),
        Value::Array(items) => items.iter().for_each(|v| visit_strings(v, depth + 1, visit)),
        Value::Object(map) => map.values().for_each(|v| visit_strings(v, depth + 1, visit)),
        _ => {}
    }
}

/// EventData fields copied to top-level columns of `WindowsEvent` rows, so common questions need
/// no dynamic access. Rules read EventData first-class anyway; this is for queries and display.
pub const PROMOTED_FIELDS: &[&str] = &[
    "Image",
    "CommandLine",
    "ParentImage",
    "User",
    "TargetFilename",
    "TargetObject",
    "TargetUserName",
    "SubjectUserName",
    "IpAddress",
    "LogonType",
    "ServiceName",
    "DestinationIp",
    "DestinationPort",
    "QueryName",
];

/// Builds a `WindowsEvent` row from one EVTX record rendered as JSON (the `evtx_dump` shape:
/// `{"Event": {"System": {..}, "EventData": {..}}}`).
///
/// Columns: `TimeGenerated` (System/TimeCreated/SystemTime), `Computer`, `Channel`, `EventID`
/// (number), `Provider` (System/Provider Name), `EventData` (the EventData fields, or the fields
/// of the single UserData child, as an object; field names lose their spaces, as in Sigma's
/// taxonomy), `SecurityUserID`, and the [`PROMOTED_FIELDS`] present. Returns `None` when the
/// value is not an event.
pub fn windows_event_row(record: &Value) -> Option<Map<String, Value>> {
    let event = record.get("Event").unwrap_or(record);
    let system = event.get("System")?;
    let mut row = Map::new();
    let time = system
        .get("TimeCreated")
        .and_then(|t| t.get("#attributes"))
        .and_then(|a| a.get("SystemTime"))
        .cloned()
        .unwrap_or(Value::Null);
    row.insert("TimeGenerated".into(), time);
    for key in ["Computer", "Channel"] {
        row.insert(key.into(), system.get(key).cloned().unwrap_or(Value::Null));
    }
    // EventID is either a number or {"#text": n, "#attributes": {Qualifiers}}.
    let event_id = match system.get("EventID") {
        Some(Value::Object(o)) => o.get("#text").cloned().unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let event_id = match &event_id {
        Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(event_id),
        _ => event_id,
    };
    row.insert("EventID".into(), event_id);
    let provider = system
        .get("Provider")
        .and_then(|p| p.get("#attributes"))
        .and_then(|a| a.get("Name"))
        .cloned()
        .unwrap_or(Value::Null);
    row.insert("Provider".into(), provider);
    let mut data = Map::new();
    if let Some(Value::Object(ed)) = event.get("EventData") {
        flatten_event_data(ed, &mut data);
    }
    if let Some(Value::Object(ud)) = event.get("UserData") {
        // UserData has one element whose children are the fields.
        for child in ud.values() {
            match child {
                Value::Object(fields) => flatten_event_data(fields, &mut data),
                other => {
                    data.insert("UserData".into(), other.clone());
                }
            }
        }
    }
    if let Some(user) =
        system.get("Security").and_then(|s| s.get("#attributes")).and_then(|a| a.get("UserID"))
    {
        row.insert("SecurityUserID".into(), user.clone());
    }
    for field in PROMOTED_FIELDS {
        if let Some(v) = data.get(*field) {
            row.insert((*field).to_string(), v.clone());
        }
    }
    row.insert("EventData".into(), Value::Object(data));
    Some(row)
}

fn flatten_event_data(fields: &Map<String, Value>, out: &mut Map<String, Value>) {
    for (k, v) in fields {
        if k == "#attributes" {
            continue;
        }
        // Unnamed <Data> elements render as {"#text": [..]} ("Data"); keep them as text.
        let value = match v {
            Value::Object(o) if o.contains_key("#text") => {
                o.get("#text").cloned().unwrap_or(Value::Null)
            }
            other => other.clone(),
        };
        // Some providers (Windows Defender) name fields with spaces ("Threat Name"); Sigma's
        // taxonomy writes them without ("ThreatName"), as THOR and evtx-sigma-checker do.
        let key = if k.contains(' ') { k.replace(' ', "") } else { k.clone() };
        out.insert(key, value);
    }
}

/// Reads every JSON value in `text` (one document, concatenated documents, or JSON lines).
///
/// Stops at the first undecodable value and returns the error with what was read so far dropped,
/// because a half-read file would give wrong match counts.
pub fn parse_json_stream(text: &str, origin: &str) -> crate::Result<Vec<Value>> {
    let mut out = Vec::new();
    for item in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        out.push(item.map_err(|source| crate::Error::Json { origin: origin.to_string(), source })?);
    }
    Ok(out)
}

/// Rows of record batches as JSON objects with their `dynamic` columns parsed.
///
/// Arrow's JSON encoding (what [`bulwark_store::batches_to_json_rows`] uses) leaves `dynamic`
/// columns as JSON text; rules must reach their members (`EventData.PipeName` on the raw Windows
/// table, `AdditionalFields.X`), so each such column is parsed back into a value. A column is
/// dynamic when its field metadata says so; `EventData` always is (it may come from a batch that
/// lost its metadata). Text that does not parse stays text.
pub fn json_rows(
    batches: &[arrow::array::RecordBatch],
) -> Result<Vec<Map<String, Value>>, bulwark_store::Error> {
    let mut rows = bulwark_store::batches_to_json_rows(batches)?;
    let Some(first) = batches.first() else { return Ok(rows) };
    let dynamic: Vec<&str> = first
        .schema_ref()
        .fields()
        .iter()
        .filter(|f| {
            f.name() == "EventData"
                || f.metadata().get(bulwark_model::KUSTO_TYPE_METADATA_KEY).map(String::as_str)
                    == Some("dynamic")
        })
        .map(|f| f.name().as_str())
        .collect();
    if dynamic.is_empty() {
        return Ok(rows);
    }
    for row in &mut rows {
        for name in &dynamic {
            if let Some(v) = row.get_mut(*name) {
                parse_json_text(v);
            }
        }
    }
    Ok(rows)
}

/// Replaces JSON object/array text by its value.
fn parse_json_text(v: &mut Value) {
    let Value::String(s) = v else { return };
    if !matches!(s.trim_start().as_bytes().first(), Some(b'{' | b'[')) {
        return;
    }
    if let Ok(parsed) = serde_json::from_str::<Value>(s) {
        *v = parsed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logsource::targets_for;
    use serde_json::json;

    #[test]
    fn json_rows_parse_dynamic_columns() {
        use arrow::array::{RecordBatch, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        let dynamic = std::collections::HashMap::from([(
            bulwark_model::KUSTO_TYPE_METADATA_KEY.to_string(),
            "dynamic".to_string(),
        )]);
        let schema = Schema::new(vec![
            Field::new("EventData", DataType::Utf8, true),
            Field::new("AdditionalFields", DataType::Utf8, true).with_metadata(dynamic),
            Field::new("Note", DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            std::sync::Arc::new(schema),
            vec![
                std::sync::Arc::new(StringArray::from(vec![r#"{"PipeName":"\\x"}"#])),
                std::sync::Arc::new(StringArray::from(vec![r#"{"A":[1,2]}"#])),
                std::sync::Arc::new(StringArray::from(vec![r#"{"not":"parsed"}"#])),
            ],
        )
        .expect("batch");
        let rows = json_rows(&[batch]).expect("rows");
        assert_eq!(rows[0]["EventData"]["PipeName"], json!("\\x"));
        assert_eq!(rows[0]["AdditionalFields"]["A"], json!([1, 2]));
        // A string column keeps its text even when it looks like JSON.
        assert_eq!(rows[0]["Note"], json!(r#"{"not":"parsed"}"#));
        // Rules now reach EventData members of stored raw Windows rows.
        let target = targets_for(Some("windows"), Some("pipe_created"), None)
            .iter()
            .find(|t| t.table == WINDOWS_EVENT)
            .expect("raw target");
        let ev = RowEvent::new(&rows[0], target);
        assert!(ev.raw("PipeName").is_some());
    }

    #[test]
    fn maps_sigma_fields_to_defender_columns() {
        let row = json!({"FolderPath": "C:\\Windows\\System32\\cmd.exe", "ProcessCommandLine": "cmd /c whoami",
                         "SHA256": "abc", "MD5": "def"});
        let row = row.as_object().cloned().unwrap_or_default();
        let t = &targets_for(Some("windows"), Some("process_creation"), None)[0];
        let ev = RowEvent::new(&row, t);
        assert_eq!(
            ev.get_field("Image").and_then(|v| v.as_str().map(|s| s.into_owned())).as_deref(),
            Some("C:\\Windows\\System32\\cmd.exe")
        );
        assert_eq!(
            ev.get_field("Hashes").and_then(|v| v.as_str().map(|s| s.into_owned())).as_deref(),
            Some("MD5=DEF,SHA256=ABC")
        );
        assert!(ev.get_field("CurrentDirectory").is_none());
    }

    #[test]
    fn registry_path_joins_key_and_value_name_with_short_hive() {
        let row =
            json!({"RegistryKey": "HKEY_CURRENT_USER\\Software\\Run", "RegistryValueName": "x"});
        let row = row.as_object().cloned().unwrap_or_default();
        let t = &targets_for(Some("windows"), Some("registry_set"), None)[0];
        let ev = RowEvent::new(&row, t);
        assert_eq!(
            ev.get_field("TargetObject")
                .and_then(|v| v.as_str().map(|s| s.into_owned()))
                .as_deref(),
            Some("HKU\\Software\\Run\\x")
        );
    }

    #[test]
    fn builds_windows_event_row_from_evtx_json() {
        let rec = json!({"Event": {"System": {"Provider": {"#attributes": {"Name": "P"}},
            "EventID": {"#text": "4624", "#attributes": {"Qualifiers": 0}}, "Channel": "Security",
            "Computer": "dc1", "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}}},
            "EventData": {"LogonType": 3}}});
        let row = windows_event_row(&rec).unwrap_or_default();
        assert_eq!(row["EventID"], json!(4624));
        assert_eq!(row["EventData"]["LogonType"], json!(3));
        assert_eq!(row["Provider"], json!("P"));
        assert!(windows_event_row(&json!([1, 2])).is_none());
    }
}
