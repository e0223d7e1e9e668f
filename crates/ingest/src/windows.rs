//! Writing a [`WindowsRecord`] into tables: its raw row, then the `Device*` rows that
//! [`crate::mapping::MAPPINGS`] derives from it.
//!
//! The raw row goes to `SecurityEvent` for the Security log (Sentinel's table, whose promoted
//! columns — `Account`, `LogonType`, `IpAddress`, `ProcessName`, `CommandLine`, … — are filled
//! from event-data fields of the same name) and to `WindowsEvent` for every other log (whose
//! `EventData` column is dynamic). In both, `EventData` holds the whole event data as JSON.
use crate::mapping::{Action, Mapping, Src, logon_type_name, mappings_for};
use crate::record::{Source, WindowsRecord};
use crate::sink::{Row, Rows};
use serde_json::Value;
use std::borrow::Cow;

/// The raw table a record lands in.
pub fn raw_table(r: &WindowsRecord) -> &'static str {
    if r.source() == Source::Security { "SecurityEvent" } else { "WindowsEvent" }
}

/// SecurityEvent columns that come from the system block, never from event data.
const SECURITY_SYSTEM_COLUMNS: &[&str] = &[
    "TimeGenerated",
    "Computer",
    "Channel",
    "EventID",
    "EventSourceName",
    "Task",
    "Level",
    "EventData",
    "Activity",
    "Account",
    "AccountType",
    "SourceSystem",
    "TenantId",
];

/// Writes the raw row and the mapped rows of one record. Returns the number of rows written.
pub(crate) fn write_record(rows: &mut Rows, r: &WindowsRecord) -> usize {
    let data_json = r.data_json();
    let mut written = 0;
    let raw = raw_table(r);
    if let Some(mut row) = rows.row(raw) {
        if let Some(t) = r.time_ns {
            row.time("TimeGenerated", t);
        }
        row.text("Computer", &r.computer);
        row.text("Channel", &r.channel);
        if let Some(id) = r.event_id {
            row.int("EventID", id);
        }
        if let Some(t) = r.task {
            row.int("Task", t);
        }
        row.text("SourceSystem", "Bulwark");
        row.text("EventData", &data_json);
        if raw == "SecurityEvent" {
            row.text("EventSourceName", &r.provider);
            if let Some(l) = r.level {
                row.text("Level", &l.to_string());
            }
            if let Some(id) = r.event_id {
                row.text("Activity", &id.to_string());
            }
            let (domain, user) = match (r.field("TargetUserName"), r.field("SubjectUserName")) {
                (Some(u), _) => (r.field("TargetDomainName"), Some(u)),
                (None, Some(u)) => (r.field("SubjectDomainName"), Some(u)),
                (None, None) => (None, None),
            };
            if let Some(u) = user {
                let account = match domain {
                    Some(d) => format!("{d}\\{u}"),
                    None => u.to_string(),
                };
                row.text("Account", &account);
                row.text("AccountType", if u.ends_with('$') { "Machine" } else { "User" });
            }
            let schema = row.schema().clone();
            for (k, v) in &r.data {
                if SECURITY_SYSTEM_COLUMNS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(i) = schema.index_of(k) {
                    promote(&mut row, i, k, v);
                }
            }
        } else {
            row.text("Provider", &r.provider);
            if let Some(l) = r.level {
                row.int("EventLevel", l);
                row.text("EventLevelName", level_name(l));
            }
            row.text("Type", "WindowsEvent");
        }
        row.end();
        written += 1;
    }
    if let Some(id) = r.event_id {
        for m in mappings_for(r.source(), id) {
            if let Some(mut row) = rows.row(m.table) {
                fill_mapped(&mut row, m, r, &data_json);
                row.end();
                written += 1;
            }
        }
    }
    written
}

/// Copies an event-data value into a promoted SecurityEvent column. Windows writes `-` for
/// "none" and `%%nnnn` message references where numbers are expected; those stay null rather
/// than counting as conversion errors.
fn promote(row: &mut Row<'_>, col: usize, _key: &str, v: &Value) {
    if let Value::String(s) = v {
        let t = s.trim();
        if t == "-" || t.starts_with("%%") {
            return;
        }
        if let Some(hex) = t.strip_prefix("0x")
            && let Ok(n) = i64::from_str_radix(hex, 16)
            && matches!(
                row.schema().columns()[col].ty,
                bulwark_model::KustoType::Int | bulwark_model::KustoType::Long
            )
        {
            row.json_at(col, &Value::from(n));
            return;
        }
    }
    row.json_at(col, v);
}

fn level_name(l: i64) -> &'static str {
    match l {
        1 => "Critical",
        2 => "Error",
        3 => "Warning",
        5 => "Verbose",
        _ => "Information",
    }
}

fn fill_mapped(row: &mut Row<'_>, m: &Mapping, r: &WindowsRecord, data_json: &str) {
    if let Some(t) = r.time_ns {
        row.time("Timestamp", t);
        row.time("TimeGenerated", t);
    }
    row.text("DeviceName", &r.computer);
    if let Some(id) = r.record_id {
        row.int("ReportId", id as i64);
    }
    let action = match m.action {
        Action::Fixed(a) => a,
        Action::ByField(field, table, default) => {
            let v = r.field(field);
            table.iter().find(|(k, _)| v.as_deref() == Some(*k)).map(|(_, a)| *a).unwrap_or(default)
        }
    };
    row.text("ActionType", action);
    let mut additional_set = false;
    for (col, from) in m.columns {
        if let Some(v) = value_of(r, *from) {
            additional_set |= *col == "AdditionalFields";
            row.text(col, &v);
        }
    }
    if !additional_set {
        row.text("AdditionalFields", data_json);
    }
}

/// The value a mapping source yields for a record.
fn value_of<'a>(r: &'a WindowsRecord, from: Src) -> Option<Cow<'a, str>> {
    match from {
        Src::Field(f) => r.field(f),
        Src::FirstOf(fs) => fs.iter().find_map(|f| r.field(f)),
        Src::FileName(f) => {
            let v = r.field(f)?;
            let name = v.rsplit(['\\', '/']).next().unwrap_or(&v).to_string();
            (!name.is_empty()).then_some(Cow::Owned(name))
        }
        Src::Number(f) => {
            let v = r.field(f)?;
            let t = v.trim();
            let n = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16).ok().map(|u| u as i64),
                None => t.parse::<i64>().ok(),
            }?;
            Some(Cow::Owned(n.to_string()))
        }
        Src::Hash(algo) => {
            let v = r.field("Hashes")?;
            let found = v.split(',').find_map(|part| {
                let (k, h) = part.split_once('=')?;
                k.trim().eq_ignore_ascii_case(algo).then(|| h.trim().to_ascii_lowercase())
            })?;
            Some(Cow::Owned(found))
        }
        Src::DomainOf(f) => {
            let v = r.field(f)?;
            let (d, _) = v.split_once('\\')?;
            Some(Cow::Owned(d.to_string()))
        }
        Src::UserOf(f) => {
            let v = r.field(f)?;
            Some(Cow::Owned(v.split_once('\\').map(|(_, u)| u).unwrap_or(&v).to_string()))
        }
        Src::LogonTypeName(f) => {
            let v = r.field(f)?;
            let n: i64 = v.trim().parse().ok()?;
            logon_type_name(n).map(Cow::Borrowed)
        }
        Src::DataWithCommand(f) => {
            let mut data = r.data.clone();
            if let Some(cmd) = r.data.get(f).cloned() {
                data.insert("Command".to_string(), cmd);
            }
            serde_json::to_string(&data).ok().map(Cow::Owned)
        }
        Src::Const(c) => Some(Cow::Borrowed(c)),
    }
}
