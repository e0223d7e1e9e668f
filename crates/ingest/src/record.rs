//! The parsed Windows event, independent of the store: system fields plus a flat `EventData`
//! map. EVTX records and flattened JSON exports (OTRF Security-Datasets, NXLog, Winlogbeat) both
//! become a [`WindowsRecord`], so the table mapping and the detection engine see one shape.
use bulwark_model::time::parse_datetime_ns;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One Windows event: the `System` block as typed fields, and its `EventData` (or `UserData`)
/// flattened into one level of name → value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WindowsRecord {
    /// When the event was created, in nanoseconds since the Unix epoch (UTC).
    pub time_ns: Option<i64>,
    /// The log's record number (`EventRecordID`).
    pub record_id: Option<u64>,
    /// Event ID.
    pub event_id: Option<i64>,
    /// Channel (log name), e.g. `Security`, `Microsoft-Windows-Sysmon/Operational`.
    pub channel: String,
    /// Provider (source) name, e.g. `Microsoft-Windows-Security-Auditing`.
    pub provider: String,
    /// Computer name as logged.
    pub computer: String,
    /// Level (0 = LogAlways, 1 critical … 5 verbose).
    pub level: Option<i64>,
    /// Task category.
    pub task: Option<i64>,
    /// Opcode.
    pub opcode: Option<i64>,
    /// Keywords mask as written (hex).
    pub keywords: Option<String>,
    /// Process id of the writer (`Execution/@ProcessID`).
    pub process_id: Option<i64>,
    /// Thread id of the writer.
    pub thread_id: Option<i64>,
    /// SID of the user the event was logged under (`Security/@UserID`).
    pub user_sid: Option<String>,
    /// Event data: named fields, or `Data`/`Param<n>` for unnamed ones.
    pub data: Map<String, Value>,
}

/// The three channels that have rich mappings, recognized from channel or provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `Microsoft-Windows-Sysmon/Operational`.
    Sysmon,
    /// The `Security` log.
    Security,
    /// `Microsoft-Windows-PowerShell/Operational` (and `PowerShellCore/Operational`).
    PowerShell,
    /// The `System` log.
    System,
    /// Anything else.
    Other,
}

impl WindowsRecord {
    /// Which of the well-known logs this event comes from.
    pub fn source(&self) -> Source {
        let ch = self.channel.to_ascii_lowercase();
        let pr = self.provider.to_ascii_lowercase();
        if ch.contains("sysmon") || pr == "microsoft-windows-sysmon" {
            Source::Sysmon
        } else if ch == "security" || pr == "microsoft-windows-security-auditing" {
            Source::Security
        } else if ch.contains("powershell") || pr.contains("powershell") {
            Source::PowerShell
        } else if ch == "system" {
            Source::System
        } else {
            Source::Other
        }
    }

    /// An event-data field as text (numbers and booleans rendered; objects as JSON). `None` for
    /// absent, null, empty and `-` values (Windows writes `-` for "not applicable").
    pub fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        let text = match self.data.get(name)? {
            Value::Null => return None,
            Value::String(s) => Cow::Borrowed(s.as_str()),
            Value::Number(n) => Cow::Owned(n.to_string()),
            Value::Bool(b) => Cow::Owned(b.to_string()),
            other => Cow::Owned(other.to_string()),
        };
        let t = text.trim();
        if t.is_empty() || t == "-" { None } else { Some(text) }
    }

    /// The event data as one JSON object text.
    pub fn data_json(&self) -> String {
        // Serializing a Map of Values cannot fail.
        serde_json::to_string(&self.data).unwrap_or_else(|_| "{}".to_string())
    }

    /// Builds a record from the JSON the `evtx` crate renders (`{"Event": {"System": …,
    /// "EventData": …}}`). Returns the reason when the shape is not an event.
    pub fn from_evtx_json(value: &Value) -> Result<WindowsRecord, String> {
        WindowsRecord::from_evtx_value(value.clone())
    }

    /// Like [`WindowsRecord::from_evtx_json`], taking the value (its event data is moved, not
    /// copied).
    pub fn from_evtx_value(mut value: Value) -> Result<WindowsRecord, String> {
        let event = value.get_mut("Event").ok_or("record has no Event element")?;
        let mut r = {
            let system = event.get("System").ok_or("record has no System element")?;
            WindowsRecord {
                event_id: system.get("EventID").and_then(text_or_attr).and_then(as_i64),
                channel: system
                    .get("Channel")
                    .and_then(text_or_attr)
                    .map(to_text)
                    .unwrap_or_default(),
                computer: system
                    .get("Computer")
                    .and_then(text_or_attr)
                    .map(to_text)
                    .unwrap_or_default(),
                provider: attr(system.get("Provider"), "Name")
                    .or_else(|| attr(system.get("Provider"), "EventSourceName"))
                    .map(to_text)
                    .unwrap_or_default(),
                time_ns: attr(system.get("TimeCreated"), "SystemTime")
                    .and_then(Value::as_str)
                    .and_then(parse_datetime_ns),
                record_id: system.get("EventRecordID").and_then(text_or_attr).and_then(as_u64),
                level: system.get("Level").and_then(text_or_attr).and_then(as_i64),
                task: system.get("Task").and_then(text_or_attr).and_then(as_i64),
                opcode: system.get("Opcode").and_then(text_or_attr).and_then(as_i64),
                keywords: system.get("Keywords").and_then(text_or_attr).map(to_text),
                process_id: attr(system.get("Execution"), "ProcessID").and_then(as_i64),
                thread_id: attr(system.get("Execution"), "ThreadID").and_then(as_i64),
                user_sid: attr(system.get("Security"), "UserID").map(to_text),
                data: Map::new(),
            }
        };
        if let Some(data) = event.get_mut("EventData") {
            flatten_data(data.take(), &mut r.data, 0);
        }
        if let Some(user) = event.get_mut("UserData") {
            flatten_data(user.take(), &mut r.data, 0);
        }
        Ok(r)
    }

    /// Builds a record from a flattened JSON event (OTRF Security-Datasets, NXLog, Winlogbeat
    /// `winlog.*`), or `None` when the object does not look like a Windows event (it needs an
    /// event ID and a channel or provider). System-like keys become the system fields; every
    /// other key is kept as event data.
    pub fn from_flat_json(obj: &Map<String, Value>) -> Option<WindowsRecord> {
        // Winlogbeat nests the event under `winlog` with snake_case names.
        if let Some(Value::Object(w)) = obj.get("winlog") {
            let mut r = WindowsRecord {
                event_id: w.get("event_id").and_then(as_i64),
                channel: w.get("channel").map(to_text).unwrap_or_default(),
                provider: w.get("provider_name").map(to_text).unwrap_or_default(),
                computer: w.get("computer_name").map(to_text).unwrap_or_default(),
                record_id: w.get("record_id").and_then(as_u64),
                task: w.get("task").and_then(as_i64),
                opcode: w.get("opcode").and_then(as_i64),
                keywords: None,
                process_id: w.get("process").and_then(|p| p.get("pid")).and_then(as_i64),
                thread_id: w
                    .get("process")
                    .and_then(|p| p.get("thread"))
                    .and_then(|t| t.get("id"))
                    .and_then(as_i64),
                user_sid: w.get("user").and_then(|u| u.get("identifier")).map(to_text),
                level: None,
                time_ns: obj.get("@timestamp").and_then(Value::as_str).and_then(parse_datetime_ns),
                data: Map::new(),
            };
            r.event_id?;
            for key in ["event_data", "user_data"] {
                if let Some(d) = w.get(key) {
                    flatten_data(d.clone(), &mut r.data, 0);
                }
            }
            if let Some(m) = obj.get("message") {
                r.data.entry("Message").or_insert_with(|| m.clone());
            }
            return Some(r);
        }
        let event_id = obj.get("EventID").or_else(|| obj.get("EventId")).and_then(as_i64)?;
        let channel = obj.get("Channel").map(to_text).unwrap_or_default();
        let provider = ["SourceName", "ProviderName", "Provider", "EventSourceName"]
            .iter()
            .find_map(|k| obj.get(*k).filter(|v| v.is_string()))
            .map(to_text)
            .unwrap_or_default();
        let has_computer =
            ["Hostname", "Computer"].iter().any(|k| obj.get(*k).is_some_and(Value::is_string));
        if channel.is_empty() && provider.is_empty() && !has_computer {
            return None;
        }
        let time_ns = ["TimeCreated", "@timestamp", "EventTime", "TimeGenerated", "UtcTime"]
            .iter()
            .filter_map(|k| obj.get(*k).and_then(Value::as_str))
            .find_map(parse_datetime_ns);
        let mut r = WindowsRecord {
            event_id: Some(event_id),
            channel,
            provider,
            computer: ["Hostname", "Computer", "host"]
                .iter()
                .find_map(|k| obj.get(*k).filter(|v| v.is_string()))
                .map(to_text)
                .unwrap_or_default(),
            time_ns,
            record_id: obj.get("RecordNumber").and_then(as_u64),
            level: obj.get("Level").and_then(as_i64),
            task: obj.get("Task").and_then(as_i64),
            opcode: obj.get("OpcodeValue").and_then(as_i64),
            keywords: obj.get("Keywords").map(to_text),
            process_id: obj.get("ExecutionProcessID").and_then(as_i64),
            thread_id: obj.get("ThreadID").and_then(as_i64),
            user_sid: obj.get("UserID").map(to_text),
            data: Map::new(),
        };
        for (k, v) in obj {
            if !FLAT_SYSTEM_KEYS.contains(&k.as_str()) {
                r.data.insert(k.clone(), v.clone());
            }
        }
        Some(r)
    }
}

/// Keys of flattened exports that describe the record itself rather than its event data.
const FLAT_SYSTEM_KEYS: &[&str] = &[
    "EventID",
    "EventId",
    "Channel",
    "SourceName",
    "ProviderName",
    "Hostname",
    "Computer",
    "TimeCreated",
    "@timestamp",
    "@version",
    "EventTime",
    "EventReceivedTime",
    "RecordNumber",
    "Level",
    "Task",
    "OpcodeValue",
    "Keywords",
    "ExecutionProcessID",
    "ThreadID",
    "SourceModuleName",
    "SourceModuleType",
    "SeverityValue",
    "Severity",
    "port",
    "tags",
    "host",
    "ProviderGuid",
    "Version",
];

fn attr<'a>(v: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    v?.get("#attributes")?.get(name)
}

/// An element's value: itself, or its `#text` when it also has attributes.
fn text_or_attr(v: &Value) -> Option<&Value> {
    match v {
        Value::Object(o) => o.get("#text"),
        Value::Null => None,
        other => Some(other),
    }
}

fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
        Value::String(s) => {
            let t = s.trim();
            t.parse().ok().or_else(|| {
                t.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok()).map(|u| u as i64)
            })
        }
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Nesting limit for `UserData` flattening: deeper values are kept as JSON text.
const MAX_DEPTH: usize = 8;

/// Flattens `EventData`/`UserData` into `out`. Named children become keys; `#attributes` are
/// dropped; unnamed `Data` values become `Data` (one) or `Param1..n` (several); nested elements
/// (UserData) are walked with a depth limit.
fn flatten_data(v: Value, out: &mut Map<String, Value>, depth: usize) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k == "#attributes" {
                    continue;
                }
                if k == "Data" || k == "#text" {
                    match child {
                        Value::Array(items) => {
                            for (i, item) in items.into_iter().enumerate() {
                                out.insert(format!("Param{}", i + 1), leaf(item));
                            }
                        }
                        Value::Null => {}
                        other => {
                            out.insert("Data".to_string(), leaf(other));
                        }
                    }
                    continue;
                }
                match child {
                    Value::Object(inner) if depth < MAX_DEPTH && !inner.contains_key("#text") => {
                        flatten_data(Value::Object(inner), out, depth + 1)
                    }
                    other => {
                        out.insert(k, leaf(other));
                    }
                }
            }
        }
        Value::Null => {}
        other => {
            out.insert("Data".to_string(), leaf(other));
        }
    }
}

/// A value as stored in the flat map: `#text` of an attributed element, otherwise itself.
fn leaf(v: Value) -> Value {
    match v {
        Value::Object(mut o) => match o.remove("#text") {
            Some(t) => t,
            None => Value::Object(o),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evtx_json_becomes_system_fields_and_flat_data() {
        let v = json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
            "TimeCreated": {"#attributes": {"SystemTime": "2024-01-02T03:04:05.5Z"}},
            "EventRecordID": 9, "Channel": "System", "Computer": "pc1",
            "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}}},
            "EventData": {"ServiceName": "evil", "ImagePath": "c:\\x.exe"}}});
        let r = WindowsRecord::from_evtx_json(&v).expect("record");
        assert_eq!(r.event_id, Some(7045));
        assert_eq!(r.record_id, Some(9));
        assert_eq!(r.process_id, Some(4));
        assert_eq!(r.time_ns, Some(1_704_164_645_500_000_000));
        assert_eq!(r.field("ServiceName").as_deref(), Some("evil"));
        assert_eq!(r.source(), Source::Sysmon);
    }

    #[test]
    fn unnamed_data_and_user_data_are_flattened() {
        let v = json!({"Event": {"System": {"EventID": 1}, "EventData": {"Data": ["a", "b"]},
            "UserData": {"LogFileCleared": {"#attributes": {"x": 1}, "SubjectUserName": "bob"}}}});
        let r = WindowsRecord::from_evtx_json(&v).expect("record");
        assert_eq!(r.field("Param2").as_deref(), Some("b"));
        assert_eq!(r.field("SubjectUserName").as_deref(), Some("bob"));
        assert!(WindowsRecord::from_evtx_json(&json!({"x": 1})).is_err());
    }

    #[test]
    fn flat_exports_need_an_event_id_and_a_channel() {
        let o = json!({"EventID": 4688, "Channel": "Security", "Hostname": "WS5",
            "TimeCreated": "2020-10-18 10:56:18.799", "NewProcessName": "c:\\cmd.exe"});
        let r = WindowsRecord::from_flat_json(o.as_object().expect("obj")).expect("windows");
        assert_eq!(r.computer, "WS5");
        assert!(r.data.contains_key("NewProcessName") && !r.data.contains_key("Channel"));
        let not = json!({"EventID": 1, "Foo": "bar"});
        assert!(WindowsRecord::from_flat_json(not.as_object().expect("obj")).is_none());
    }
}
