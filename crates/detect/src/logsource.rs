//! The one auditable place that maps Sigma logsources to Bulwark tables and Sigma field names to
//! table columns.
//!
//! [`LOGSOURCES`] is a static table: each row names a Sigma `product`/`category`/`service` and the
//! tables that carry such events, in preference order (the first is what [`crate::to_kql`]
//! queries). Each [`Target`] says which rows of its table belong to the logsource (a gate on
//! `Channel`/`EventID` for the raw [`WINDOWS_EVENT`] table, on `ActionType` for Defender tables)
//! and how Sigma taxonomy fields become columns ([`FieldSource`]). A field that a target does not
//! map is looked up under its own name, so rules written against our column names (the built-in
//! pack) need no mapping.
//!
//! The raw Windows event table [`WINDOWS_EVENT`] has columns `TimeGenerated`, `Computer`,
//! `Channel`, `EventID`, `Provider` and `EventData` (a JSON object of the event's
//! EventData/UserData fields); evaluation reads Sigma fields from `EventData` first, then from the
//! top level.

/// Name of the raw Windows event table.
pub const WINDOWS_EVENT: &str = "WindowsEvent";

/// Where a Sigma field's value comes from in a table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldSource {
    /// One column, by name.
    Column(&'static str),
    /// Sysmon's `Hashes` string (`SHA1=..,MD5=..,SHA256=..`), rebuilt from the `SHA1`, `MD5` and
    /// `SHA256` columns.
    Hashes,
    /// Sysmon's registry `TargetObject`: `RegistryKey`, plus `\RegistryValueName` when the value
    /// name is not empty.
    RegistryPath,
    /// Sysmon's `Initiated` (`true` for outbound): `false` when `ActionType` is an inbound or
    /// listening action, `true` otherwise.
    Initiated,
}

/// ActionType values of DeviceNetworkEvents that are not locally initiated connections.
pub const INBOUND_ACTION_TYPES: &[&str] =
    &["InboundConnectionAccepted", "ListeningConnectionCreated"];

/// One table that carries the events of a logsource.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Table name.
    pub table: &'static str,
    /// For [`WINDOWS_EVENT`]: accepted `Channel` values (empty: any channel).
    pub channels: &'static [&'static str],
    /// For [`WINDOWS_EVENT`]: accepted `EventID` values (empty: any id).
    pub event_ids: &'static [i64],
    /// For Defender tables: accepted `ActionType` values (empty: any).
    pub action_types: &'static [&'static str],
    /// Sigma field -> column; unmapped fields are read under their own name.
    pub fields: &'static [(&'static str, FieldSource)],
    /// For Defender device tables, which hold Windows, Linux and macOS devices alike: only rows
    /// whose path column ([`UNIX_PATH_COLUMNS`]) is a Unix path. A macOS rule looking for a
    /// command line ending in a space must not judge Windows processes.
    pub unix_only: bool,
}

/// Columns that tell a Unix device's row from a Windows one (the first present decides).
pub const UNIX_PATH_COLUMNS: &[&str] = &["FolderPath", "InitiatingProcessFolderPath"];

impl Target {
    /// The column source of a Sigma field on this target, if it is mapped.
    pub fn field(&self, sigma_field: &str) -> Option<FieldSource> {
        self.fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(sigma_field))
            .map(|(_, source)| *source)
    }
}

/// One row of the logsource table.
#[derive(Debug, Clone, Copy)]
pub struct LogsourceEntry {
    /// Sigma `product` (lower case), or `None` for "not set".
    pub product: Option<&'static str>,
    /// Sigma `category`.
    pub category: Option<&'static str>,
    /// Sigma `service`.
    pub service: Option<&'static str>,
    /// Tables carrying these events, preferred first.
    pub targets: &'static [Target],
}

use FieldSource::{Column, Hashes, Initiated, RegistryPath};

const SYSMON: &[&str] = &["Microsoft-Windows-Sysmon/Operational"];
const SECURITY: &[&str] = &["Security"];
const POWERSHELL: &[&str] =
    &["Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"];

const fn win(channels: &'static [&'static str], event_ids: &'static [i64]) -> Target {
    Target {
        table: WINDOWS_EVENT,
        channels,
        event_ids,
        action_types: &[],
        fields: &[],
        unix_only: false,
    }
}

const fn win_fields(
    channels: &'static [&'static str],
    event_ids: &'static [i64],
    fields: &'static [(&'static str, FieldSource)],
) -> Target {
    Target {
        table: WINDOWS_EVENT,
        channels,
        event_ids,
        action_types: &[],
        fields,
        unix_only: false,
    }
}

const fn table(table: &'static str, fields: &'static [(&'static str, FieldSource)]) -> Target {
    Target { table, channels: &[], event_ids: &[], action_types: &[], fields, unix_only: false }
}

const fn defender(
    table: &'static str,
    action_types: &'static [&'static str],
    fields: &'static [(&'static str, FieldSource)],
) -> Target {
    Target { table, channels: &[], event_ids: &[], action_types, fields, unix_only: false }
}

/// A Defender device-table target restricted to Linux and macOS rows.
const fn unix(target: Target) -> Target {
    Target { unix_only: true, ..target }
}

const PROCESS_FIELDS: &[(&str, FieldSource)] = &[
    ("Image", Column("FolderPath")),
    ("CommandLine", Column("ProcessCommandLine")),
    ("ParentImage", Column("InitiatingProcessFolderPath")),
    ("ParentCommandLine", Column("InitiatingProcessCommandLine")),
    ("ParentProcessId", Column("InitiatingProcessId")),
    ("ParentUser", Column("InitiatingProcessAccountName")),
    ("User", Column("AccountName")),
    ("Hashes", Hashes),
    ("OriginalFileName", Column("ProcessVersionInfoOriginalFileName")),
    ("IntegrityLevel", Column("ProcessIntegrityLevel")),
    ("Company", Column("ProcessVersionInfoCompanyName")),
    ("Description", Column("ProcessVersionInfoFileDescription")),
    ("Product", Column("ProcessVersionInfoProductName")),
    ("ProcessId", Column("ProcessId")),
    ("LogonId", Column("LogonId")),
    ("Computer", Column("DeviceName")),
];

const NETWORK_FIELDS: &[(&str, FieldSource)] = &[
    ("DestinationIp", Column("RemoteIP")),
    ("DestinationPort", Column("RemotePort")),
    ("DestinationHostname", Column("RemoteUrl")),
    ("SourceIp", Column("LocalIP")),
    ("SourcePort", Column("LocalPort")),
    ("Protocol", Column("Protocol")),
    ("Initiated", Initiated),
    ("Image", Column("InitiatingProcessFolderPath")),
    ("CommandLine", Column("InitiatingProcessCommandLine")),
    ("User", Column("InitiatingProcessAccountName")),
    ("ProcessId", Column("InitiatingProcessId")),
    ("ParentImage", Column("InitiatingProcessParentFileName")),
    ("Computer", Column("DeviceName")),
];

const FILE_FIELDS: &[(&str, FieldSource)] = &[
    ("TargetFilename", Column("FolderPath")),
    ("SourceFilename", Column("PreviousFolderPath")),
    ("Hashes", Hashes),
    ("Image", Column("InitiatingProcessFolderPath")),
    ("CommandLine", Column("InitiatingProcessCommandLine")),
    ("User", Column("InitiatingProcessAccountName")),
    ("ProcessId", Column("InitiatingProcessId")),
    ("ParentImage", Column("InitiatingProcessParentFileName")),
    ("Computer", Column("DeviceName")),
];

const REGISTRY_FIELDS: &[(&str, FieldSource)] = &[
    ("TargetObject", RegistryPath),
    ("Details", Column("RegistryValueData")),
    ("NewName", Column("RegistryKey")),
    ("Image", Column("InitiatingProcessFolderPath")),
    ("CommandLine", Column("InitiatingProcessCommandLine")),
    ("User", Column("InitiatingProcessAccountName")),
    ("ProcessId", Column("InitiatingProcessId")),
    ("ParentImage", Column("InitiatingProcessParentFileName")),
    ("Computer", Column("DeviceName")),
];

const IMAGE_LOAD_FIELDS: &[(&str, FieldSource)] = &[
    ("ImageLoaded", Column("FolderPath")),
    ("Hashes", Hashes),
    ("Image", Column("InitiatingProcessFolderPath")),
    ("CommandLine", Column("InitiatingProcessCommandLine")),
    ("User", Column("InitiatingProcessAccountName")),
    ("ProcessId", Column("InitiatingProcessId")),
    ("Computer", Column("DeviceName")),
];

/// DeviceEvents rows about a target process (process access, remote threads).
const TARGET_PROCESS_FIELDS: &[(&str, FieldSource)] = &[
    ("TargetImage", Column("FolderPath")),
    ("SourceImage", Column("InitiatingProcessFolderPath")),
    ("SourceCommandLine", Column("InitiatingProcessCommandLine")),
    ("SourceUser", Column("InitiatingProcessAccountName")),
    ("Computer", Column("DeviceName")),
];

const DRIVER_FIELDS: &[(&str, FieldSource)] = &[
    ("ImageLoaded", Column("FolderPath")),
    ("Hashes", Hashes),
    ("Computer", Column("DeviceName")),
];

/// Sigma's generic firewall/proxy taxonomy on CEF (CommonSecurityLog).
const CEF_FIELDS: &[(&str, FieldSource)] = &[
    ("src_ip", Column("SourceIP")),
    ("src_port", Column("SourcePort")),
    ("dst_ip", Column("DestinationIP")),
    ("dst_port", Column("DestinationPort")),
    ("action", Column("DeviceAction")),
    ("c-uri", Column("RequestURL")),
    ("cs-host", Column("DestinationHostName")),
    ("c-useragent", Column("RequestClientApplication")),
    ("cs-method", Column("RequestMethod")),
];

/// Sentinel's SecurityEvent names the host `Computer` and the event `EventID`, like the raw
/// events, and promotes most EventData fields to columns of the same name.
const SECURITY_EVENT_FIELDS: &[(&str, FieldSource)] =
    &[("Provider_Name", Column("EventSourceName"))];

const SYSLOG_FIELDS: &[(&str, FieldSource)] = &[
    ("Computer", Column("Computer")),
    ("Hostname", Column("HostName")),
    ("ProcessName", Column("ProcessName")),
];

/// The logsource table. Lookup is by exact (product, category, service), then by
/// (product, category) and (product, service) ignoring the other key; see [`targets_for`].
pub static LOGSOURCES: &[LogsourceEntry] = &[
    // --- Windows, Sysmon taxonomy -------------------------------------------------------
    entry(
        Some("windows"),
        Some("process_creation"),
        None,
        &[
            table("DeviceProcessEvents", PROCESS_FIELDS),
            win(SYSMON, &[1]),
            win_fields(
                SECURITY,
                &[4688],
                &[
                    ("Image", Column("NewProcessName")),
                    ("ParentImage", Column("ParentProcessName")),
                    ("User", Column("SubjectUserName")),
                ],
            ),
        ],
    ),
    entry(
        Some("windows"),
        Some("network_connection"),
        None,
        &[defender("DeviceNetworkEvents", &[], NETWORK_FIELDS), win(SYSMON, &[3])],
    ),
    entry(
        Some("windows"),
        Some("file_event"),
        None,
        &[
            defender("DeviceFileEvents", &["FileCreated", "FileModified"], FILE_FIELDS),
            win(SYSMON, &[11]),
        ],
    ),
    entry(
        Some("windows"),
        Some("file_change"),
        None,
        &[defender("DeviceFileEvents", &["FileModified"], FILE_FIELDS), win(SYSMON, &[2])],
    ),
    entry(
        Some("windows"),
        Some("file_delete"),
        None,
        &[defender("DeviceFileEvents", &["FileDeleted"], FILE_FIELDS), win(SYSMON, &[23, 26])],
    ),
    entry(
        Some("windows"),
        Some("file_rename"),
        None,
        &[defender("DeviceFileEvents", &["FileRenamed"], FILE_FIELDS)],
    ),
    entry(Some("windows"), Some("file_access"), None, &[win(&[], &[])]),
    entry(Some("windows"), Some("file_executable_detected"), None, &[win(SYSMON, &[29])]),
    entry(Some("windows"), Some("file_block"), None, &[win(SYSMON, &[27, 28])]),
    entry(
        Some("windows"),
        Some("registry_event"),
        None,
        &[defender("DeviceRegistryEvents", &[], REGISTRY_FIELDS), win(SYSMON, &[12, 13, 14])],
    ),
    entry(
        Some("windows"),
        Some("registry_add"),
        None,
        &[
            defender("DeviceRegistryEvents", &["RegistryKeyCreated"], REGISTRY_FIELDS),
            win(SYSMON, &[12]),
        ],
    ),
    entry(
        Some("windows"),
        Some("registry_delete"),
        None,
        &[
            defender(
                "DeviceRegistryEvents",
                &["RegistryKeyDeleted", "RegistryValueDeleted"],
                REGISTRY_FIELDS,
            ),
            win(SYSMON, &[12]),
        ],
    ),
    entry(
        Some("windows"),
        Some("registry_set"),
        None,
        &[
            defender("DeviceRegistryEvents", &["RegistryValueSet"], REGISTRY_FIELDS),
            win(SYSMON, &[13]),
        ],
    ),
    entry(
        Some("windows"),
        Some("registry_rename"),
        None,
        &[
            defender("DeviceRegistryEvents", &["RegistryKeyRenamed"], REGISTRY_FIELDS),
            win(SYSMON, &[14]),
        ],
    ),
    entry(
        Some("windows"),
        Some("image_load"),
        None,
        &[defender("DeviceImageLoadEvents", &[], IMAGE_LOAD_FIELDS), win(SYSMON, &[7])],
    ),
    entry(
        Some("windows"),
        Some("driver_load"),
        None,
        &[defender("DeviceEvents", &["DriverLoad"], DRIVER_FIELDS), win(SYSMON, &[6])],
    ),
    entry(
        Some("windows"),
        Some("process_access"),
        None,
        &[
            defender("DeviceEvents", &["OpenProcessApiCall"], TARGET_PROCESS_FIELDS),
            win(SYSMON, &[10]),
        ],
    ),
    entry(
        Some("windows"),
        Some("create_remote_thread"),
        None,
        &[
            defender("DeviceEvents", &["CreateRemoteThreadApiCall"], TARGET_PROCESS_FIELDS),
            win(SYSMON, &[8]),
        ],
    ),
    entry(Some("windows"), Some("process_termination"), None, &[win(SYSMON, &[5])]),
    entry(Some("windows"), Some("raw_access_thread"), None, &[win(SYSMON, &[9])]),
    entry(Some("windows"), Some("raw_access_read"), None, &[win(SYSMON, &[9])]),
    entry(Some("windows"), Some("create_stream_hash"), None, &[win(SYSMON, &[15])]),
    entry(Some("windows"), Some("pipe_created"), None, &[win(SYSMON, &[17, 18])]),
    entry(Some("windows"), Some("wmi_event"), None, &[win(SYSMON, &[19, 20, 21])]),
    entry(Some("windows"), Some("dns_query"), None, &[win(SYSMON, &[22])]),
    entry(Some("windows"), Some("clipboard_capture"), None, &[win(SYSMON, &[24])]),
    entry(Some("windows"), Some("process_tampering"), None, &[win(SYSMON, &[25])]),
    entry(Some("windows"), Some("sysmon_status"), None, &[win(SYSMON, &[4, 16])]),
    entry(Some("windows"), Some("sysmon_error"), None, &[win(SYSMON, &[255])]),
    entry(Some("windows"), Some("ps_script"), None, &[win(POWERSHELL, &[4104])]),
    entry(Some("windows"), Some("ps_module"), None, &[win(POWERSHELL, &[4103])]),
    entry(Some("windows"), Some("ps_classic_start"), None, &[win(&["Windows PowerShell"], &[400])]),
    entry(
        Some("windows"),
        Some("ps_classic_provider_start"),
        None,
        &[win(&["Windows PowerShell"], &[600])],
    ),
    entry(
        Some("windows"),
        Some("ps_classic_script"),
        None,
        &[win(&["Windows PowerShell"], &[800])],
    ),
    // --- Windows, event log services --------------------------------------------------------
    entry(
        Some("windows"),
        None,
        Some("security"),
        &[table("SecurityEvent", SECURITY_EVENT_FIELDS), win(SECURITY, &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("system"),
        &[win(&["System"], &[]), table("SecurityEvent", SECURITY_EVENT_FIELDS)],
    ),
    entry(Some("windows"), None, Some("application"), &[win(&["Application"], &[])]),
    entry(Some("windows"), None, Some("sysmon"), &[win(SYSMON, &[])]),
    entry(Some("windows"), None, Some("powershell"), &[win(POWERSHELL, &[])]),
    entry(Some("windows"), None, Some("powershell-classic"), &[win(&["Windows PowerShell"], &[])]),
    entry(
        Some("windows"),
        None,
        Some("windefend"),
        &[win(&["Microsoft-Windows-Windows Defender/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("taskscheduler"),
        &[win(&["Microsoft-Windows-TaskScheduler/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("wmi"),
        &[win(&["Microsoft-Windows-WMI-Activity/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("bits-client"),
        &[win(&["Microsoft-Windows-Bits-Client/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("codeintegrity-operational"),
        &[win(&["Microsoft-Windows-CodeIntegrity/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("firewall-as"),
        &[win(&["Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("dns-client"),
        &[win(&["Microsoft-Windows-DNS Client Events/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("ntlm"),
        &[win(&["Microsoft-Windows-NTLM/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("applocker"),
        &[win(
            &[
                "Microsoft-Windows-AppLocker/MSI and Script",
                "Microsoft-Windows-AppLocker/EXE and DLL",
                "Microsoft-Windows-AppLocker/Packaged app-Deployment",
                "Microsoft-Windows-AppLocker/Packaged app-Execution",
            ],
            &[],
        )],
    ),
    entry(
        Some("windows"),
        None,
        Some("terminalservices-localsessionmanager"),
        &[win(&["Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"], &[])],
    ),
    entry(Some("windows"), None, Some("openssh"), &[win(&["OpenSSH/Operational"], &[])]),
    entry(
        Some("windows"),
        None,
        Some("lsa-server"),
        &[win(&["Microsoft-Windows-LSA/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("capi2"),
        &[win(&["Microsoft-Windows-CAPI2/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("smbclient-security"),
        &[win(&["Microsoft-Windows-SmbClient/Security"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("printservice-operational"),
        &[win(&["Microsoft-Windows-PrintService/Operational"], &[])],
    ),
    entry(
        Some("windows"),
        None,
        Some("printservice-admin"),
        &[win(&["Microsoft-Windows-PrintService/Admin"], &[])],
    ),
    // Any other Windows service: the raw table, not gated (the channel list above is not exhaustive).
    entry(Some("windows"), None, None, &[win(&[], &[])]),
    // --- Linux and macOS (Defender for Endpoint covers both) ---------------------------------
    entry(
        Some("linux"),
        Some("process_creation"),
        None,
        &[unix(table("DeviceProcessEvents", PROCESS_FIELDS))],
    ),
    entry(
        Some("linux"),
        Some("network_connection"),
        None,
        &[unix(defender("DeviceNetworkEvents", &[], NETWORK_FIELDS))],
    ),
    entry(
        Some("linux"),
        Some("file_event"),
        None,
        &[unix(defender("DeviceFileEvents", &["FileCreated", "FileModified"], FILE_FIELDS))],
    ),
    entry(Some("linux"), None, None, &[table("Syslog", SYSLOG_FIELDS)]),
    entry(
        Some("macos"),
        Some("process_creation"),
        None,
        &[unix(table("DeviceProcessEvents", PROCESS_FIELDS))],
    ),
    entry(
        Some("macos"),
        Some("file_event"),
        None,
        &[unix(defender("DeviceFileEvents", &["FileCreated", "FileModified"], FILE_FIELDS))],
    ),
    // --- Network appliances ------------------------------------------------------------------
    entry(None, Some("firewall"), None, &[table("CommonSecurityLog", CEF_FIELDS)]),
    entry(None, Some("proxy"), None, &[table("CommonSecurityLog", CEF_FIELDS)]),
    // --- Cloud: Entra ID, Azure, Microsoft 365 ----------------------------------------------
    entry(Some("azure"), None, Some("signinlogs"), &[table("SigninLogs", &[])]),
    entry(Some("azure"), None, Some("auditlogs"), &[table("AuditLogs", &[])]),
    entry(Some("azure"), None, Some("activitylogs"), &[table("AzureActivity", &[])]),
    entry(Some("m365"), None, Some("exchange"), &[table("OfficeActivity", &[])]),
    entry(Some("m365"), None, Some("threat_management"), &[table("OfficeActivity", &[])]),
    entry(Some("m365"), None, Some("audit"), &[table("OfficeActivity", &[])]),
    // --- Bulwark: direct table logsources for the built-in pack -------------------------------
    // `product: m365_defender` / `product: sentinel` with the table (lower case) as service; the
    // rule's fields are the table's column names.
    entry(Some("m365_defender"), None, Some("emailevents"), &[table("EmailEvents", &[])]),
    entry(
        Some("m365_defender"),
        None,
        Some("emailattachmentinfo"),
        &[table("EmailAttachmentInfo", &[])],
    ),
    entry(Some("m365_defender"), None, Some("urlclickevents"), &[table("UrlClickEvents", &[])]),
    entry(Some("m365_defender"), None, Some("deviceevents"), &[table("DeviceEvents", &[])]),
    entry(
        Some("m365_defender"),
        None,
        Some("devicelogonevents"),
        &[table("DeviceLogonEvents", &[])],
    ),
    entry(
        Some("m365_defender"),
        None,
        Some("devicenetworkevents"),
        &[table("DeviceNetworkEvents", &[])],
    ),
    entry(
        Some("m365_defender"),
        None,
        Some("deviceprocessevents"),
        &[table("DeviceProcessEvents", &[])],
    ),
    entry(Some("m365_defender"), None, Some("devicefileevents"), &[table("DeviceFileEvents", &[])]),
    entry(
        Some("m365_defender"),
        None,
        Some("deviceregistryevents"),
        &[table("DeviceRegistryEvents", &[])],
    ),
    entry(Some("sentinel"), None, Some("signinlogs"), &[table("SigninLogs", &[])]),
    entry(Some("sentinel"), None, Some("auditlogs"), &[table("AuditLogs", &[])]),
    entry(Some("sentinel"), None, Some("officeactivity"), &[table("OfficeActivity", &[])]),
    entry(Some("sentinel"), None, Some("commonsecuritylog"), &[table("CommonSecurityLog", &[])]),
    entry(Some("sentinel"), None, Some("securityevent"), &[table("SecurityEvent", &[])]),
    entry(Some("sentinel"), None, Some("syslog"), &[table("Syslog", &[])]),
];

const fn entry(
    product: Option<&'static str>,
    category: Option<&'static str>,
    service: Option<&'static str>,
    targets: &'static [Target],
) -> LogsourceEntry {
    LogsourceEntry { product, category, service, targets }
}

fn same(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// The logsource entry for a rule's `product`/`category`/`service`.
///
/// Exact match first; then the entry with the same product and category (service ignored), the
/// same product and service (category ignored), the same category alone, and finally the
/// product-wide fallback (only `product` set).
pub fn entry_for(
    product: Option<&str>,
    category: Option<&str>,
    service: Option<&str>,
) -> Option<&'static LogsourceEntry> {
    let exact = |e: &&LogsourceEntry| {
        same(e.product, product) && same(e.category, category) && same(e.service, service)
    };
    let by_category = |e: &&LogsourceEntry| {
        category.is_some()
            && same(e.product, product)
            && same(e.category, category)
            && e.service.is_none()
    };
    let by_service = |e: &&LogsourceEntry| {
        service.is_some()
            && same(e.product, product)
            && same(e.service, service)
            && e.category.is_none()
    };
    let category_only = |e: &&LogsourceEntry| {
        category.is_some()
            && e.product.is_none()
            && same(e.category, category)
            && e.service.is_none()
    };
    let product_wide = |e: &&LogsourceEntry| {
        product.is_some() && same(e.product, product) && e.category.is_none() && e.service.is_none()
    };
    LOGSOURCES
        .iter()
        .find(exact)
        .or_else(|| LOGSOURCES.iter().find(by_category))
        .or_else(|| LOGSOURCES.iter().find(by_service))
        .or_else(|| LOGSOURCES.iter().find(category_only))
        .or_else(|| LOGSOURCES.iter().find(product_wide))
}

/// The tables carrying a rule's logsource, preferred first (empty when unmapped).
pub fn targets_for(
    product: Option<&str>,
    category: Option<&str>,
    service: Option<&str>,
) -> &'static [Target] {
    entry_for(product, category, service).map_or(&[], |e| e.targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_creation_prefers_defender_then_sysmon() {
        let t = targets_for(Some("windows"), Some("process_creation"), None);
        assert_eq!(t[0].table, "DeviceProcessEvents");
        assert_eq!(t[0].field("CommandLine"), Some(Column("ProcessCommandLine")));
        assert_eq!(t[0].field("image"), Some(Column("FolderPath")));
        assert_eq!(t[1].table, WINDOWS_EVENT);
        assert_eq!(t[1].event_ids, &[1]);
    }

    #[test]
    fn unknown_windows_service_falls_back_to_raw_table() {
        let t = targets_for(Some("windows"), None, Some("no-such-service"));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].table, WINDOWS_EVENT);
        assert!(t[0].channels.is_empty());
    }

    #[test]
    fn unmapped_product_has_no_targets() {
        assert!(targets_for(Some("okta"), None, Some("okta")).is_empty());
    }

    #[test]
    fn every_table_exists_in_the_schema_registry() {
        let registry = bulwark_model::SchemaRegistry::builtin();
        for e in LOGSOURCES {
            for t in e.targets {
                if t.table == WINDOWS_EVENT {
                    continue;
                }
                let schema = registry.get(t.table);
                assert!(schema.is_some(), "table {} is not in the schema registry", t.table);
                if let Some(schema) = schema {
                    for (sigma, source) in t.fields {
                        // Real Defender columns that the model's schema does not list yet.
                        if let Column(c) = source
                            && !c.starts_with("ProcessVersionInfo")
                        {
                            assert!(
                                schema.column(c).is_some(),
                                "{}: {sigma} -> {c} is not a column",
                                t.table
                            );
                        }
                    }
                }
            }
        }
    }
}
