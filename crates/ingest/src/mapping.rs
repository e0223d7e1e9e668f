//! The one declarative table that maps Windows events onto the Defender-style `Device*` tables.
//!
//! Read [`MAPPINGS`] top to bottom to audit what lands where: each entry names the log, the event
//! IDs, the target table, the `ActionType` and, column by column, where the value comes from.
//! Every mapped event also keeps its raw row (see [`crate::windows`]); these rows are additions.
//! Columns every mapped row gets without listing them: `Timestamp`/`TimeGenerated` (event time),
//! `DeviceName` (computer), `ReportId` (record number) and `AdditionalFields` (the whole event
//! data as JSON, unless the entry sets it).
use crate::record::Source;

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// An event-data field as is (converted to the column type).
    Field(&'static str),
    /// The first of these fields that has a value.
    FirstOf(&'static [&'static str]),
    /// The file-name part of a path field (`C:\x\cmd.exe` → `cmd.exe`).
    FileName(&'static str),
    /// A numeric field that Windows writes in hex (`0x1f4`) or decimal.
    Number(&'static str),
    /// One hash out of Sysmon's `Hashes` field (`SHA1=…,MD5=…,SHA256=…`): the algorithm name.
    Hash(&'static str),
    /// The domain part of a `DOMAIN\user` field.
    DomainOf(&'static str),
    /// The user part of a `DOMAIN\user` field.
    UserOf(&'static str),
    /// A Security-log logon type number rendered as its name (`3` → `Network`).
    LogonTypeName(&'static str),
    /// The event data as JSON, with `Command` added from this field (PowerShell script text).
    DataWithCommand(&'static str),
    /// A fixed value.
    Const(&'static str),
}

/// How a mapped row's `ActionType` is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Always this value.
    Fixed(&'static str),
    /// By the value of a field: (field value, action) pairs, then the default.
    ByField(&'static str, &'static [(&'static str, &'static str)], &'static str),
}

/// One row of the mapping table.
#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    /// The log the events come from.
    pub source: Source,
    /// Event IDs this entry applies to.
    pub event_ids: &'static [i64],
    /// Target table.
    pub table: &'static str,
    /// The `ActionType` of the rows.
    pub action: Action,
    /// Target column ← source, in addition to the common columns.
    pub columns: &'static [(&'static str, Src)],
}

use Src::*;

const SYSMON_FILE: &[(&str, Src)] = &[
    ("FileName", FileName("TargetFilename")),
    ("FolderPath", Field("TargetFilename")),
    ("SHA1", Hash("SHA1")),
    ("SHA256", Hash("SHA256")),
    ("MD5", Hash("MD5")),
    ("InitiatingProcessFileName", FileName("Image")),
    ("InitiatingProcessFolderPath", Field("Image")),
    ("InitiatingProcessId", Number("ProcessId")),
    ("InitiatingProcessAccountDomain", DomainOf("User")),
    ("InitiatingProcessAccountName", UserOf("User")),
];

const SYSMON_REGISTRY: &[(&str, Src)] = &[
    ("RegistryKey", Field("TargetObject")),
    ("RegistryValueName", FileName("TargetObject")),
    ("RegistryValueData", Field("Details")),
    ("PreviousRegistryKey", Field("NewName")),
    ("InitiatingProcessFileName", FileName("Image")),
    ("InitiatingProcessFolderPath", Field("Image")),
    ("InitiatingProcessId", Number("ProcessId")),
    ("InitiatingProcessAccountDomain", DomainOf("User")),
    ("InitiatingProcessAccountName", UserOf("User")),
];

/// Logon events name the logged-on account in `Target*` fields.
const SECURITY_LOGON: &[(&str, Src)] = &[
    ("AccountName", FirstOf(&["TargetUserName", "SubjectUserName"])),
    ("AccountDomain", FirstOf(&["TargetDomainName", "SubjectDomainName"])),
    ("AccountSid", FirstOf(&["TargetUserSid", "SubjectUserSid"])),
    ("LogonType", LogonTypeName("LogonType")),
    ("LogonId", Number("TargetLogonId")),
    ("RemoteIP", Field("IpAddress")),
    ("RemotePort", Number("IpPort")),
    ("RemoteDeviceName", FirstOf(&["WorkstationName", "TargetServerName"])),
    ("Protocol", FirstOf(&["AuthenticationPackageName", "LogonProcessName"])),
    ("FailureReason", FirstOf(&["FailureReason", "SubStatus", "Status"])),
    ("InitiatingProcessFileName", FileName("ProcessName")),
    ("InitiatingProcessFolderPath", Field("ProcessName")),
    ("InitiatingProcessId", Number("ProcessId")),
    ("InitiatingProcessAccountName", Field("SubjectUserName")),
    ("InitiatingProcessAccountDomain", Field("SubjectDomainName")),
    ("InitiatingProcessAccountSid", Field("SubjectUserSid")),
];

/// 4672 (special privileges) names the account in `Subject*` fields.
const SECURITY_PRIVILEGES: &[(&str, Src)] = &[
    ("AccountName", Field("SubjectUserName")),
    ("AccountDomain", Field("SubjectDomainName")),
    ("AccountSid", Field("SubjectUserSid")),
    ("LogonId", Number("SubjectLogonId")),
];

/// Service installs and scheduled tasks: the subject is the actor.
const SECURITY_ACTOR: &[(&str, Src)] = &[
    ("AccountName", Field("SubjectUserName")),
    ("AccountDomain", Field("SubjectDomainName")),
    ("AccountSid", Field("SubjectUserSid")),
    ("LogonId", Number("SubjectLogonId")),
    ("FileName", FileName("ServiceFileName")),
    ("FolderPath", Field("ServiceFileName")),
];

/// The mapping table. Order matters only for readability: an event matches every entry whose
/// log and ID fit (at most one today).
pub const MAPPINGS: &[Mapping] = &[
    Mapping {
        source: Source::Sysmon,
        event_ids: &[1],
        table: "DeviceProcessEvents",
        action: Action::Fixed("ProcessCreated"),
        columns: &[
            ("FileName", FileName("Image")),
            ("FolderPath", Field("Image")),
            ("ProcessCommandLine", Field("CommandLine")),
            ("ProcessId", Number("ProcessId")),
            ("ProcessCreationTime", Field("UtcTime")),
            ("ProcessIntegrityLevel", Field("IntegrityLevel")),
            ("AccountDomain", DomainOf("User")),
            ("AccountName", UserOf("User")),
            ("LogonId", Number("LogonId")),
            ("SHA1", Hash("SHA1")),
            ("SHA256", Hash("SHA256")),
            ("MD5", Hash("MD5")),
            ("ProcessVersionInfoOriginalFileName", Field("OriginalFileName")),
            ("ProcessVersionInfoFileDescription", Field("Description")),
            ("ProcessVersionInfoProductName", Field("Product")),
            ("ProcessVersionInfoCompanyName", Field("Company")),
            ("ProcessVersionInfoProductVersion", Field("FileVersion")),
            ("InitiatingProcessFileName", FileName("ParentImage")),
            ("InitiatingProcessFolderPath", Field("ParentImage")),
            ("InitiatingProcessCommandLine", Field("ParentCommandLine")),
            ("InitiatingProcessId", Number("ParentProcessId")),
            ("InitiatingProcessAccountDomain", DomainOf("ParentUser")),
            ("InitiatingProcessAccountName", UserOf("ParentUser")),
        ],
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[3],
        table: "DeviceNetworkEvents",
        action: Action::Fixed("ConnectionSuccess"),
        columns: &[
            ("LocalIP", Field("SourceIp")),
            ("LocalPort", Number("SourcePort")),
            ("RemoteIP", Field("DestinationIp")),
            ("RemotePort", Number("DestinationPort")),
            ("RemoteUrl", Field("DestinationHostname")),
            ("Protocol", Field("Protocol")),
            ("InitiatingProcessFileName", FileName("Image")),
            ("InitiatingProcessFolderPath", Field("Image")),
            ("InitiatingProcessId", Number("ProcessId")),
            ("InitiatingProcessAccountDomain", DomainOf("User")),
            ("InitiatingProcessAccountName", UserOf("User")),
        ],
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[7],
        table: "DeviceImageLoadEvents",
        action: Action::Fixed("ImageLoaded"),
        columns: &[
            ("FileName", FileName("ImageLoaded")),
            ("FolderPath", Field("ImageLoaded")),
            ("SHA1", Hash("SHA1")),
            ("SHA256", Hash("SHA256")),
            ("MD5", Hash("MD5")),
            ("InitiatingProcessFileName", FileName("Image")),
            ("InitiatingProcessFolderPath", Field("Image")),
            ("InitiatingProcessId", Number("ProcessId")),
            ("InitiatingProcessAccountDomain", DomainOf("User")),
            ("InitiatingProcessAccountName", UserOf("User")),
        ],
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[11],
        table: "DeviceFileEvents",
        action: Action::Fixed("FileCreated"),
        columns: SYSMON_FILE,
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[23, 26],
        table: "DeviceFileEvents",
        action: Action::Fixed("FileDeleted"),
        columns: SYSMON_FILE,
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[12],
        table: "DeviceRegistryEvents",
        action: Action::ByField(
            "EventType",
            &[("CreateKey", "RegistryKeyCreated"), ("DeleteKey", "RegistryKeyDeleted")],
            "RegistryValueDeleted",
        ),
        columns: SYSMON_REGISTRY,
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[13],
        table: "DeviceRegistryEvents",
        action: Action::Fixed("RegistryValueSet"),
        columns: SYSMON_REGISTRY,
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[14],
        table: "DeviceRegistryEvents",
        action: Action::Fixed("RegistryKeyRenamed"),
        columns: SYSMON_REGISTRY,
    },
    Mapping {
        source: Source::Sysmon,
        event_ids: &[22],
        table: "DeviceEvents",
        action: Action::Fixed("DnsQueryResponse"),
        columns: &[
            ("RemoteUrl", Field("QueryName")),
            ("InitiatingProcessFileName", FileName("Image")),
            ("InitiatingProcessFolderPath", Field("Image")),
            ("InitiatingProcessId", Number("ProcessId")),
            ("InitiatingProcessAccountDomain", DomainOf("User")),
            ("InitiatingProcessAccountName", UserOf("User")),
        ],
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4688],
        table: "DeviceProcessEvents",
        action: Action::Fixed("ProcessCreated"),
        columns: &[
            ("FileName", FileName("NewProcessName")),
            ("FolderPath", Field("NewProcessName")),
            ("ProcessCommandLine", Field("CommandLine")),
            ("ProcessId", Number("NewProcessId")),
            ("ProcessTokenElevation", Field("TokenElevationType")),
            ("AccountName", FirstOf(&["TargetUserName", "SubjectUserName"])),
            ("AccountDomain", FirstOf(&["TargetDomainName", "SubjectDomainName"])),
            ("AccountSid", FirstOf(&["TargetUserSid", "SubjectUserSid"])),
            ("LogonId", Number("SubjectLogonId")),
            ("InitiatingProcessFileName", FileName("ParentProcessName")),
            ("InitiatingProcessFolderPath", Field("ParentProcessName")),
            ("InitiatingProcessId", Number("ProcessId")),
            ("InitiatingProcessAccountName", Field("SubjectUserName")),
            ("InitiatingProcessAccountDomain", Field("SubjectDomainName")),
            ("InitiatingProcessAccountSid", Field("SubjectUserSid")),
        ],
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4624],
        table: "DeviceLogonEvents",
        action: Action::Fixed("LogonSuccess"),
        columns: SECURITY_LOGON,
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4625],
        table: "DeviceLogonEvents",
        action: Action::Fixed("LogonFailed"),
        columns: SECURITY_LOGON,
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4634],
        table: "DeviceLogonEvents",
        action: Action::Fixed("Logoff"),
        columns: SECURITY_LOGON,
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4648],
        table: "DeviceLogonEvents",
        action: Action::Fixed("LogonAttemptedExplicitCredentials"),
        columns: SECURITY_LOGON,
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4672],
        table: "DeviceLogonEvents",
        action: Action::Fixed("SpecialPrivilegesAssigned"),
        columns: SECURITY_PRIVILEGES,
    },
    Mapping {
        source: Source::PowerShell,
        event_ids: &[4104],
        table: "DeviceEvents",
        action: Action::Fixed("PowerShellCommand"),
        columns: &[
            ("AdditionalFields", DataWithCommand("ScriptBlockText")),
            ("FolderPath", Field("Path")),
            ("FileName", FileName("Path")),
        ],
    },
    Mapping {
        source: Source::System,
        event_ids: &[7045],
        table: "DeviceEvents",
        action: Action::Fixed("ServiceInstalled"),
        columns: &[
            ("FileName", FileName("ImagePath")),
            ("FolderPath", Field("ImagePath")),
            ("AccountName", Field("AccountName")),
            ("ProcessCommandLine", Field("ImagePath")),
        ],
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4697],
        table: "DeviceEvents",
        action: Action::Fixed("ServiceInstalled"),
        columns: SECURITY_ACTOR,
    },
    Mapping {
        source: Source::Security,
        event_ids: &[4698],
        table: "DeviceEvents",
        action: Action::Fixed("ScheduledTaskCreated"),
        columns: SECURITY_ACTOR,
    },
];

/// The entries that apply to an event from `source` with `event_id`.
pub fn mappings_for(source: Source, event_id: i64) -> impl Iterator<Item = &'static Mapping> {
    MAPPINGS.iter().filter(move |m| m.source == source && m.event_ids.contains(&event_id))
}

/// The name Windows gives a logon type number (Security 4624/4625 `LogonType`).
pub fn logon_type_name(n: i64) -> Option<&'static str> {
    Some(match n {
        0 => "System",
        2 => "Interactive",
        3 => "Network",
        4 => "Batch",
        5 => "Service",
        7 => "Unlock",
        8 => "NetworkCleartext",
        9 => "NewCredentials",
        10 => "RemoteInteractive",
        11 => "CachedInteractive",
        12 => "CachedRemoteInteractive",
        13 => "CachedUnlock",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_model::SchemaRegistry;

    #[test]
    fn every_mapped_column_exists_in_its_table() {
        let registry = SchemaRegistry::builtin();
        for m in MAPPINGS {
            let table = registry.get(m.table).unwrap_or_else(|| panic!("table {}", m.table));
            assert!(table.index_of("ActionType").is_some(), "{} has ActionType", m.table);
            for (col, _) in m.columns {
                // PreviousRegistryKey is optional: only some schema versions have it.
                if *col == "PreviousRegistryKey" {
                    continue;
                }
                assert!(table.index_of(col).is_some(), "{}.{col} is not a column", m.table);
            }
        }
    }

    #[test]
    fn no_event_maps_to_two_entries() {
        for m in MAPPINGS {
            for id in m.event_ids {
                assert_eq!(mappings_for(m.source, *id).count(), 1, "{:?} {id}", m.source);
            }
        }
    }
}
