//! Natural language to KQL: a deterministic semantic parser over the schema registry.
//!
//! The question is read in five passes: entities and time range ([`crate::entities`]), the
//! table (scored keyword rules, then entities as a fallback), filters (entities, quoted
//! strings, domain concepts such as "failed" or "encoded", each negatable with "not",
//! "except", "excluding"), the shape of the result (top-N, count by, distinct, over time) and
//! finally the KQL text, which is always parsed and checked with `bulwark_kql` before it is
//! returned: the caller sees `valid` and the diagnostics, never an unchecked query.
use crate::entities::{self, Extracted};
use bulwark_kql::{Severity, check, parse};
use bulwark_model::{EntityKind, SchemaRegistry, TableSchema};
use serde::Serialize;
use std::fmt;

/// One `where` predicate of a generated query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    /// Column (or a function call such as `isnotempty(X)` when `op` is empty).
    pub column: String,
    /// Operator: `==`, `!=`, `=~`, `has`, `!has`, `has_any`, `contains`, `in`, `>`, `isnotempty` …
    pub op: String,
    /// Values, already KQL literals (`"x"`, `42`, `true`).
    pub values: Vec<String>,
}

impl Filter {
    fn new(column: &str, op: &str, values: Vec<String>) -> Filter {
        Filter { column: column.to_string(), op: op.to_string(), values }
    }

    /// The predicate as KQL.
    pub fn to_kql(&self) -> String {
        match self.op.as_str() {
            "isnotempty" | "isempty" => format!("{}({})", self.op, self.column),
            // Kusto has no `!has_any`.
            "!has_any" => format!("not({} has_any ({}))", self.column, self.values.join(", ")),
            "has_any" | "in" | "!in" | "in~" | "!in~" => {
                format!("{} {} ({})", self.column, self.op, self.values.join(", "))
            }
            op => format!("{} {op} {}", self.column, self.values.join(", ")),
        }
    }

    /// Whether this filter and `other` say the same thing (column and operator equal, values
    /// equal ignoring case and quotes), for accuracy scoring.
    pub fn matches_text(&self, expected: &str) -> bool {
        let norm = |s: &str| {
            s.to_ascii_lowercase()
                .replace(['"', '\'', '(', ')', ','], " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        norm(&self.to_kql()) == norm(expected)
    }

    fn negate(&mut self) {
        let op = match self.op.as_str() {
            "==" => "!=",
            "!=" => "==",
            "=~" => "!~",
            "has" => "!has",
            "has_any" => "!has_any",
            "contains" => "!contains",
            "in" => "!in",
            "in~" => "!in~",
            "startswith" => "!startswith",
            "isnotempty" => "isempty",
            ">" => "<=",
            other => other,
        };
        self.op = op.to_string();
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_kql())
    }
}

/// A diagnostic from checking the generated query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneratedDiagnostic {
    /// `KQL0xxx` / `KQL1xxx`.
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    /// Message.
    pub message: String,
}

/// The result of [`generate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generated {
    /// The KQL text.
    pub kql: String,
    /// Whether it parsed and checked without errors.
    pub valid: bool,
    /// Parser and checker diagnostics.
    pub diagnostics: Vec<GeneratedDiagnostic>,
    /// The table queried.
    pub table: String,
    /// The filters applied (time range excluded).
    pub filters: Vec<Filter>,
    /// Why the query looks the way it does (table choice, filters, shape), for the process log.
    pub notes: Vec<String>,
}

impl Generated {
    /// The JSON shape of `bulwark kql generate --format json`: `{"kql","valid","diagnostics"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"kql": self.kql, "valid": self.valid, "diagnostics": self.diagnostics})
    }
}

/// Table keyword rules: (phrase in the normalized question, table, weight). Longer, more
/// specific phrases weigh more; ties go to the earlier rule.
const TABLE_RULES: &[(&str, &str, u32)] = &[
    ("identity logon", "IdentityLogonEvents", 9),
    ("kerberos", "IdentityLogonEvents", 6),
    ("ntlm", "IdentityLogonEvents", 6),
    ("domain controller logon", "IdentityLogonEvents", 9),
    ("signin", "SigninLogs", 6),
    ("authentication", "SigninLogs", 4),
    ("mfa", "SigninLogs", 3),
    ("conditional access", "SigninLogs", 6),
    ("password spray", "SigninLogs", 6),
    ("spray", "SigninLogs", 6),
    ("brute force", "SigninLogs", 5),
    ("legacy auth", "SigninLogs", 6),
    ("inbox rule", "OfficeActivity", 9),
    ("forwarding", "OfficeActivity", 6),
    ("forwarded", "OfficeActivity", 6),
    ("mailbox", "OfficeActivity", 5),
    ("mail items", "OfficeActivity", 8),
    ("sharepoint", "OfficeActivity", 6),
    ("onedrive", "OfficeActivity", 6),
    ("office activity", "OfficeActivity", 9),
    ("attachment", "EmailAttachmentInfo", 5),
    ("clicked", "UrlClickEvents", 7),
    ("click", "UrlClickEvents", 6),
    ("email", "EmailEvents", 6),
    ("mail", "EmailEvents", 4),
    ("phish", "EmailEvents", 5),
    ("sender", "EmailEvents", 5),
    ("recipient", "EmailEvents", 5),
    ("subject", "EmailEvents", 4),
    ("security event", "SecurityEvent", 9),
    ("windows event", "SecurityEvent", 9),
    ("event id", "SecurityEvent", 9),
    ("eventid", "SecurityEvent", 9),
    ("audit", "AuditLogs", 6),
    ("security info", "AuditLogs", 7),
    ("mfa method", "AuditLogs", 8),
    ("authentication method", "AuditLogs", 8),
    ("role assignment", "AuditLogs", 8),
    ("added to group", "AuditLogs", 8),
    ("added to a group", "AuditLogs", 8),
    ("consent", "AuditLogs", 6),
    ("password reset", "AuditLogs", 7),
    ("firewall", "CommonSecurityLog", 7),
    ("palo alto", "CommonSecurityLog", 8),
    ("fortinet", "CommonSecurityLog", 8),
    ("proxy", "CommonSecurityLog", 5),
    ("cef", "CommonSecurityLog", 6),
    ("bytes", "CommonSecurityLog", 4),
    ("syslog", "Syslog", 8),
    ("linux", "Syslog", 5),
    ("dns", "DnsEvents", 7),
    ("vulnerable software", "DeviceTvmSoftwareVulnerabilities", 9),
    ("vulnerabilities on", "DeviceTvmSoftwareVulnerabilities", 8),
    ("vulnerab", "DeviceTvmSoftwareVulnerabilities", 4),
    ("cve", "DeviceTvmSoftwareVulnerabilities", 2),
    ("windows security", "SecurityEvent", 8),
    ("security event log", "SecurityEvent", 9),
    ("event log", "SecurityEvent", 6),
    ("security log", "SecurityEvent", 6),
    ("windows event log", "SecurityEvent", 9),
    ("4624", "SecurityEvent", 9),
    ("4625", "SecurityEvent", 9),
    ("4688", "SecurityEvent", 9),
    ("4662", "SecurityEvent", 9),
    ("4720", "SecurityEvent", 9),
    ("4728", "SecurityEvent", 9),
    ("4732", "SecurityEvent", 9),
    ("4768", "SecurityEvent", 9),
    ("4769", "SecurityEvent", 9),
    ("5136", "SecurityEvent", 9),
    ("7045", "SecurityEvent", 9),
    ("1102", "SecurityEvent", 9),
    ("cloud app", "CloudAppEvents", 8),
    ("mcas", "CloudAppEvents", 8),
    ("defender for cloud apps", "CloudAppEvents", 9),
    ("azure devops", "AzureDevOpsAuditing", 9),
    ("github", "GitHubAudit", 8),
    ("azure activity", "AzureActivity", 9),
    ("resource group", "AzureActivity", 6),
    ("subscription", "AzureActivity", 5),
    ("threat intelligence", "ThreatIntelligenceIndicator", 7),
    ("ti map", "ThreatIntelligenceIndicator", 8),
    ("threat indicator", "ThreatIntelligenceIndicator", 8),
    ("log analytics quer", "LAQueryLogs", 9),
    ("iis", "W3CIISLog", 8),
    ("web server log", "W3CIISLog", 8),
    ("proofpoint", "ProofpointPOD", 9),
    ("sysmon", "Event", 8),
    ("service principal", "AuditLogs", 6),
    ("app registration", "AuditLogs", 7),
    ("credential added", "AuditLogs", 7),
    ("privileged role", "AuditLogs", 8),
    ("pim", "AuditLogs", 6),
    ("conditional access policy", "AuditLogs", 9),
    ("azure ad audit", "AuditLogs", 9),
    ("directory role", "AuditLogs", 8),
    ("smartscreen", "DeviceEvents", 8),
    ("named pipe", "DeviceEvents", 8),
    ("exploit protection", "DeviceEvents", 8),
    ("attack surface reduction", "DeviceEvents", 9),
    ("tamper", "DeviceEvents", 6),
    ("security alert", "SecurityAlert", 7),
    ("inventory", "DeviceInfo", 7),
    ("os version", "DeviceInfo", 8),
    ("os platform", "DeviceInfo", 8),
    ("operating system", "DeviceInfo", 8),
    ("onboard", "DeviceInfo", 7),
    ("exposure level", "DeviceInfo", 8),
    ("internet facing", "DeviceInfo", 8),
    ("image load", "DeviceImageLoadEvents", 9),
    ("dll load", "DeviceImageLoadEvents", 9),
    ("loaded dll", "DeviceImageLoadEvents", 9),
    ("loaded module", "DeviceImageLoadEvents", 9),
    ("antivirus", "DeviceEvents", 7),
    ("quarantin", "DeviceEvents", 7),
    ("av detection", "DeviceEvents", 8),
    ("service installed", "DeviceEvents", 8),
    ("services installed", "DeviceEvents", 8),
    ("scheduled task created", "DeviceEvents", 9),
    ("usb", "DeviceEvents", 7),
    ("asr", "DeviceEvents", 6),
    ("amsi", "DeviceEvents", 7),
    ("powershell command event", "DeviceEvents", 9),
    ("device event", "DeviceEvents", 8),
    ("registry", "DeviceRegistryEvents", 8),
    ("run key", "DeviceRegistryEvents", 8),
    ("autorun", "DeviceRegistryEvents", 7),
    ("evidence", "AlertEvidence", 6),
    ("incident", "SecurityIncident", 6),
    ("alert", "AlertInfo", 6),
    ("detection", "AlertInfo", 3),
    ("logon", "DeviceLogonEvents", 6),
    ("logged on", "DeviceLogonEvents", 6),
    ("rdp", "DeviceLogonEvents", 5),
    ("remote desktop", "DeviceLogonEvents", 6),
    ("network", "DeviceNetworkEvents", 5),
    ("connection", "DeviceNetworkEvents", 6),
    ("connected", "DeviceNetworkEvents", 6),
    ("outbound", "DeviceNetworkEvents", 3),
    ("traffic", "DeviceNetworkEvents", 4),
    ("beacon", "DeviceNetworkEvents", 6),
    ("c2", "DeviceNetworkEvents", 4),
    ("port", "DeviceNetworkEvents", 3),
    ("remote ip", "DeviceNetworkEvents", 5),
    ("contacted", "DeviceNetworkEvents", 5),
    ("communicat", "DeviceNetworkEvents", 5),
    ("talked to", "DeviceNetworkEvents", 5),
    ("process", "DeviceProcessEvents", 5),
    ("command line", "DeviceProcessEvents", 6),
    ("commandline", "DeviceProcessEvents", 6),
    ("executed", "DeviceProcessEvents", 4),
    ("execution", "DeviceProcessEvents", 4),
    ("launched", "DeviceProcessEvents", 4),
    ("spawned", "DeviceProcessEvents", 5),
    ("started by", "DeviceProcessEvents", 4),
    ("ran ", "DeviceProcessEvents", 3),
    ("run by", "DeviceProcessEvents", 3),
    ("powershell", "DeviceProcessEvents", 3),
    ("encoded", "DeviceProcessEvents", 3),
    ("lolbin", "DeviceProcessEvents", 5),
    ("executable", "DeviceProcessEvents", 3),
    ("file", "DeviceFileEvents", 4),
    ("dropped", "DeviceFileEvents", 4),
    ("downloaded", "DeviceFileEvents", 3),
    ("written to disk", "DeviceFileEvents", 6),
    ("folder", "DeviceFileEvents", 3),
];

/// Known process images, as written in questions, and their file names.
const PROCESS_NAMES: &[(&str, &str)] = &[
    ("powershell", "powershell.exe"),
    ("pwsh", "pwsh.exe"),
    ("cmd", "cmd.exe"),
    ("rundll32", "rundll32.exe"),
    ("regsvr32", "regsvr32.exe"),
    ("mshta", "mshta.exe"),
    ("wscript", "wscript.exe"),
    ("cscript", "cscript.exe"),
    ("certutil", "certutil.exe"),
    ("bitsadmin", "bitsadmin.exe"),
    ("wmic", "WMIC.exe"),
    ("schtasks", "schtasks.exe"),
    ("psexec", "PsExec64.exe"),
    ("rclone", "rclone.exe"),
    ("7-zip", "7z.exe"),
    ("7zip", "7z.exe"),
    ("7z", "7z.exe"),
    ("whoami", "whoami.exe"),
    ("nltest", "nltest.exe"),
    ("mimikatz", "mimikatz.exe"),
    ("procdump", "procdump.exe"),
    ("vssadmin", "vssadmin.exe"),
    ("bcdedit", "bcdedit.exe"),
    ("msiexec", "msiexec.exe"),
    ("winword", "WINWORD.EXE"),
    ("word", "WINWORD.EXE"),
    ("excel", "EXCEL.EXE"),
    ("outlook", "OUTLOOK.EXE"),
    ("net.exe", "net.exe"),
    ("curl", "curl.exe"),
];

/// Roles a column can play; each table maps a role to its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Upn,
    Device,
    Ip,
    Url,
    Domain,
    Sha256,
    Sha1,
    Md5,
    Command,
    FileName,
    ParentName,
    Text,
    Sender,
    Recipient,
}

fn role_candidates(table: &str, role: Role) -> &'static [&'static str] {
    use Role::*;
    match (table, role) {
        ("SigninLogs" | "AADNonInteractiveUserSignInLogs", User | Upn) => &["UserPrincipalName"],
        ("SigninLogs" | "AADNonInteractiveUserSignInLogs", Text) => &["AppDisplayName"],
        ("EmailEvents", User | Upn | Recipient) => &["RecipientEmailAddress"],
        ("EmailEvents", Sender) => &["SenderFromAddress"],
        ("EmailEvents", Ip) => &["SenderIPv4"],
        ("EmailEvents", Domain) => &["SenderFromDomain"],
        ("EmailEvents", Text) => &["Subject"],
        ("EmailAttachmentInfo", User | Upn | Recipient) => &["RecipientEmailAddress"],
        ("EmailAttachmentInfo", Sender) => &["SenderFromAddress"],
        ("EmailUrlInfo", Domain) => &["UrlDomain"],
        ("OfficeActivity", User | Upn) => &["UserId"],
        ("OfficeActivity", Ip) => &["ClientIP"],
        ("OfficeActivity", Text) => &["Parameters"],
        ("OfficeActivity", FileName) => &["SourceFileName"],
        ("AuditLogs", User | Upn) => &["Identity"],
        ("AuditLogs", Text) => &["OperationName"],
        ("CommonSecurityLog", User | Upn) => &["SourceUserName"],
        ("CommonSecurityLog", Ip) => &["DestinationIP"],
        ("CommonSecurityLog", Url) => &["RequestURL"],
        ("CommonSecurityLog", Domain) => &["DestinationHostName"],
        ("CommonSecurityLog", Sha256 | Sha1 | Md5) => &["FileHash"],
        ("CommonSecurityLog", Device) => &["SourceHostName"],
        ("CommonSecurityLog", Text) => &["Activity"],
        ("SecurityEvent", User | Upn) => &["Account", "TargetUserName"],
        ("SecurityEvent", Device) => &["Computer"],
        ("SecurityEvent", Ip) => &["IpAddress"],
        ("SecurityEvent", Command) => &["CommandLine"],
        ("SecurityEvent", FileName) => &["NewProcessName"],
        ("SecurityEvent", Text) => &["Activity"],
        ("Syslog", Device) => &["Computer"],
        ("Syslog", Text | Command | User | Upn) => &["SyslogMessage"],
        ("DnsEvents", Device) => &["Computer"],
        ("DnsEvents", Ip) => &["ClientIP"],
        ("DnsEvents", Domain | Url | Text) => &["Name"],
        ("SecurityIncident", Text) => &["Title"],
        ("SecurityIncident", Device | User | Upn | Ip | Domain | Sha256 | Url) => &["Title"],
        ("AlertInfo", Text) => &["Title"],
        ("AlertEvidence", Text) => &["Title"],
        ("AlertEvidence", Upn) => &["AccountUpn"],
        ("DeviceProcessEvents" | "DeviceLogonEvents" | "DeviceEvents", User) => {
            &["AccountName", "InitiatingProcessAccountName"]
        }
        ("DeviceProcessEvents", Upn) => &["AccountUpn"],
        ("DeviceProcessEvents", Text) => &["ProcessCommandLine"],
        ("DeviceNetworkEvents", Text) => &["RemoteUrl"],
        ("DeviceNetworkEvents" | "DeviceRegistryEvents", FileName) => {
            &["InitiatingProcessFileName"]
        }
        ("DeviceFileEvents", FileName) => &["FileName"],
        ("DeviceFileEvents", Text) => &["FileName", "FolderPath"],
        ("DeviceFileEvents", Url | Domain) => &["FileOriginUrl"],
        ("DeviceFileEvents", Ip) => &["FileOriginIP"],
        ("DeviceRegistryEvents", Text) => &["RegistryKey"],
        ("DeviceEvents", Text) => &["ActionType"],
        ("DeviceLogonEvents", Text) => &["ActionType"],
        ("DeviceInfo", Ip) => &["PublicIP"],
        ("DeviceInfo", Text) => &["OSPlatform"],
        ("IdentityLogonEvents", User) => &["AccountName"],
        ("IdentityLogonEvents", Upn) => &["AccountUpn"],
        ("UrlClickEvents", User | Upn) => &["AccountUpn"],
        (_, User) => {
            &["AccountName", "InitiatingProcessAccountName", "UserPrincipalName", "UserId"]
        }
        (_, Upn) => &["AccountUpn", "InitiatingProcessAccountUpn", "UserPrincipalName", "UserId"],
        (_, Device) => &["DeviceName", "Computer", "HostName"],
        (_, Ip) => &["RemoteIP", "IPAddress", "IpAddress", "ClientIP", "SourceIP"],
        (_, Url) => &["RemoteUrl", "Url", "FileOriginUrl", "RequestURL"],
        (_, Domain) => &["RemoteUrl", "UrlDomain", "Url", "FileOriginUrl", "Name"],
        (_, Sha256) => &["SHA256", "InitiatingProcessSHA256"],
        (_, Sha1) => &["SHA1", "InitiatingProcessSHA1"],
        (_, Md5) => &["MD5", "InitiatingProcessMD5"],
        (_, Command) => &["ProcessCommandLine", "InitiatingProcessCommandLine", "CommandLine"],
        (_, FileName) => &["FileName", "InitiatingProcessFileName"],
        (_, ParentName) => &["InitiatingProcessFileName", "ParentProcessName"],
        (_, Text) => &["Title", "Description", "ProcessCommandLine", "Message"],
        (_, Sender) => &["SenderFromAddress"],
        (_, Recipient) => &["RecipientEmailAddress"],
    }
}

fn column_for(schema: &TableSchema, role: Role) -> Option<String> {
    role_candidates(schema.name(), role)
        .iter()
        .find(|c| schema.column(c).is_some())
        .map(|c| (*c).to_string())
}

/// Words naming a column in "by X", "top N X", "distinct X": (phrase, role or column names).
enum ColumnWord {
    Role(Role),
    Columns(&'static [&'static str]),
}

const COLUMN_WORDS: &[(&str, ColumnWord)] = &[
    ("parent process", ColumnWord::Role(Role::ParentName)),
    ("command line", ColumnWord::Role(Role::Command)),
    ("remote ip", ColumnWord::Columns(&["RemoteIP", "DestinationIP"])),
    ("destination ip", ColumnWord::Columns(&["DestinationIP", "RemoteIP"])),
    ("source ip", ColumnWord::Columns(&["SourceIP", "IPAddress", "LocalIP", "SenderIPv4"])),
    ("client ip", ColumnWord::Columns(&["ClientIP", "IPAddress"])),
    ("ip address", ColumnWord::Role(Role::Ip)),
    ("remote port", ColumnWord::Columns(&["RemotePort", "DestinationPort"])),
    ("destination port", ColumnWord::Columns(&["DestinationPort", "RemotePort"])),
    ("logon type", ColumnWord::Columns(&["LogonType", "LogonTypeName"])),
    ("event id", ColumnWord::Columns(&["EventID", "EventId"])),
    ("action type", ColumnWord::Columns(&["ActionType"])),
    ("user agent", ColumnWord::Columns(&["UserAgent"])),
    ("client app", ColumnWord::Columns(&["ClientAppUsed"])),
    ("result type", ColumnWord::Columns(&["ResultType"])),
    ("error code", ColumnWord::Columns(&["ResultType", "FailureReason"])),
    ("failure reason", ColumnWord::Columns(&["FailureReason", "ResultDescription"])),
    ("file name", ColumnWord::Columns(&["FileName"])),
    ("process name", ColumnWord::Columns(&["FileName", "InitiatingProcessFileName"])),
    ("registry key", ColumnWord::Columns(&["RegistryKey"])),
    ("delivery action", ColumnWord::Columns(&["DeliveryAction"])),
    ("threat type", ColumnWord::Columns(&["ThreatTypes"])),
    ("os", ColumnWord::Columns(&["OSPlatform"])),
    ("user", ColumnWord::Role(Role::User)),
    ("account", ColumnWord::Role(Role::User)),
    ("upn", ColumnWord::Role(Role::Upn)),
    ("mailbox", ColumnWord::Role(Role::User)),
    ("device", ColumnWord::Role(Role::Device)),
    ("host", ColumnWord::Role(Role::Device)),
    ("machine", ColumnWord::Role(Role::Device)),
    ("computer", ColumnWord::Role(Role::Device)),
    ("endpoint", ColumnWord::Role(Role::Device)),
    ("ip", ColumnWord::Role(Role::Ip)),
    ("address", ColumnWord::Role(Role::Ip)),
    ("country", ColumnWord::Columns(&["Location", "MaliciousIPCountry"])),
    ("location", ColumnWord::Columns(&["Location"])),
    ("application", ColumnWord::Columns(&["AppDisplayName", "Application"])),
    ("app", ColumnWord::Columns(&["AppDisplayName", "Application"])),
    ("process", ColumnWord::Role(Role::FileName)),
    ("executable", ColumnWord::Role(Role::FileName)),
    ("binary", ColumnWord::Role(Role::FileName)),
    ("parent", ColumnWord::Role(Role::ParentName)),
    ("file", ColumnWord::Role(Role::FileName)),
    ("sender", ColumnWord::Role(Role::Sender)),
    ("recipient", ColumnWord::Role(Role::Recipient)),
    ("domain", ColumnWord::Role(Role::Domain)),
    ("url", ColumnWord::Role(Role::Url)),
    ("port", ColumnWord::Columns(&["RemotePort", "DestinationPort", "LocalPort"])),
    ("severity", ColumnWord::Columns(&["Severity"])),
    ("title", ColumnWord::Columns(&["Title"])),
    ("category", ColumnWord::Columns(&["Category", "Categories"])),
    ("result", ColumnWord::Columns(&["ResultType", "ActionType"])),
    ("action", ColumnWord::Columns(&["ActionType", "DeviceAction", "Operation"])),
    ("operation", ColumnWord::Columns(&["Operation", "OperationName"])),
    ("status", ColumnWord::Columns(&["Status", "ResultType"])),
    ("technique", ColumnWord::Columns(&["AttackTechniques"])),
    ("subject", ColumnWord::Columns(&["Subject"])),
    ("protocol", ColumnWord::Columns(&["Protocol", "ApplicationProtocol"])),
    ("folder", ColumnWord::Columns(&["FolderPath"])),
    ("path", ColumnWord::Columns(&["FolderPath"])),
    ("hash", ColumnWord::Role(Role::Sha256)),
    ("activity", ColumnWord::Columns(&["Activity", "ActivityDisplayName"])),
];

/// Normalizes spelling variants so rules match one form.
fn normalize(text: &str) -> String {
    let mut t = format!(" {} ", text.to_lowercase());
    for (from, to) in [
        ("sign-ins", "signins"),
        ("sign ins", "signins"),
        ("sign-in", "signin"),
        ("sign in", "signin"),
        ("log-ins", "signins"),
        ("logins", "signins"),
        ("log-in", "signin"),
        ("login", "signin"),
        ("log-ons", "logons"),
        ("log ons", "logons"),
        ("log-on", "logon"),
        ("log on", "logon"),
        ("command-line", "command line"),
        ("commandlines", "command lines"),
        ("e-mail", "email"),
        ("ip addresses", "ip address"),
        ("ips", "ip"),
        ("internet-facing", "internet facing"),
        ("high-severity", "high severity"),
        ("multi-factor", "mfa"),
        ("multifactor", "mfa"),
        ("two-factor", "mfa"),
        ("run-key", "run key"),
        ("run keys", "run key"),
        ("\u{2019}", "'"),
    ] {
        t = t.replace(from, to);
    }
    t
}

fn contains_word(text: &str, phrase: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(phrase) {
        let start = from + pos;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        if before_ok {
            return Some(start);
        }
        from = start + phrase.len().max(1);
        if from >= text.len() {
            break;
        }
    }
    None
}

fn is_negated(text: &str, at: usize) -> bool {
    let mut at = at.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    let words: Vec<&str> = text[..at]
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    // Skip the filler between a negation and its term: "not from", "except the user".
    const FILLER: &[&str] = &[
        "from",
        "to",
        "the",
        "on",
        "for",
        "by",
        "in",
        "any",
        "user",
        "users",
        "device",
        "devices",
        "host",
        "hosts",
        "ip",
        "account",
        "accounts",
        "process",
        "processes",
        "port",
        "ports",
        "a",
        "an",
        "of",
        "events",
        "than",
        "named",
        "called",
        "address",
        "domain",
    ];
    let mut i = words.len();
    let mut skipped = 0;
    while i > 0 && FILLER.contains(&words[i - 1]) && skipped < 3 {
        i -= 1;
        skipped += 1;
    }
    if i == 0 {
        return false;
    }
    let last = words[i - 1];
    let prev = if i >= 2 { words[i - 2] } else { "" };
    matches!(last, "not" | "except" | "excluding" | "exclude" | "excludes" | "no" | "but")
        || (skipped > 0 && words.get(i).is_some_and(|w| *w == "than") && prev == "other")
        || (last == "other" && words.get(i).is_some_and(|w| *w == "than"))
        || (last == "apart" && words.get(i).is_some_and(|w| *w == "from"))
}

fn quote(s: &str) -> String {
    // Kusto string literals cannot span lines: control characters are escaped too.
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t");
    format!("\"{escaped}\"")
}

/// Whether a question names a kind of data (sign-ins, processes, emails …) strongly enough to
/// pick a table by itself.
pub fn mentions_table(question: &str) -> bool {
    let text = normalize(question);
    TABLE_RULES
        .iter()
        .any(|(phrase, _, weight)| *weight >= 4 && contains_word(&text, phrase).is_some())
}

/// Picks the table for a question.
fn choose_table(text: &str, ex: &Extracted, registry: &SchemaRegistry) -> (String, String) {
    let mut best: Option<(&str, u32, &str)> = None;
    for (phrase, table, weight) in TABLE_RULES {
        if registry.get(table).is_none() || contains_word(text, phrase).is_none() {
            continue;
        }
        if best.is_none_or(|(_, w, _)| *weight > w) {
            best = Some((table, *weight, phrase));
        }
    }
    // An attachment named by file name or hash is a question about attachments.
    if let Some((table, _, _)) = best.as_mut()
        && *table == "EmailEvents"
        && contains_word(text, "attachment").is_some()
        && (ex.has(EntityKind::File) || ex.has(EntityKind::FileHash))
    {
        *table = "EmailAttachmentInfo";
    }
    if let Some((table, _, phrase)) = best {
        // Emails that have attachments are still email questions.
        if table == "EmailAttachmentInfo"
            && contains_word(text, "email").is_some()
            && contains_word(text, "attachment name").is_none()
            && !ex.has(EntityKind::File)
            && !ex.has(EntityKind::FileHash)
        {
            return ("EmailEvents".into(), "the question is about emails".into());
        }
        return (table.to_string(), format!("'{}' names {table}", phrase.trim()));
    }
    let by_entity = if ex.has(EntityKind::FileHash) || ex.has(EntityKind::File) {
        Some(("DeviceFileEvents", "a file or hash"))
    } else if ex.has(EntityKind::Ip) || ex.has(EntityKind::Url) || ex.has(EntityKind::Domain) {
        Some(("DeviceNetworkEvents", "a network indicator"))
    } else if ex.has(EntityKind::Device) {
        Some(("DeviceProcessEvents", "a device"))
    } else if ex.has(EntityKind::User) {
        Some(("SigninLogs", "a user"))
    } else if !ex.incidents.is_empty() {
        Some(("SecurityIncident", "an incident id"))
    } else {
        None
    };
    match by_entity {
        Some((t, why)) => (t.to_string(), format!("no table named; the question mentions {why}")),
        None => (
            "DeviceProcessEvents".to_string(),
            "no table or entity named; process events by default".into(),
        ),
    }
}

/// A concept: a phrase and the filter it means on each table.
struct Concept {
    phrases: &'static [&'static str],
    build: fn(&TableSchema) -> Option<Filter>,
}

fn col(schema: &TableSchema, name: &str) -> bool {
    schema.column(name).is_some()
}

fn s(v: &str) -> Vec<String> {
    vec![quote(v)]
}

fn list(vs: &[&str]) -> Vec<String> {
    vs.iter().map(|v| quote(v)).collect()
}

const CONCEPTS: &[Concept] = &[
    Concept {
        phrases: &["high or medium", "medium or high", "high and medium", "medium and high"],
        build: |t| {
            col(t, "Severity").then(|| Filter::new("Severity", "in", list(&["High", "Medium"])))
        },
    },
    Concept {
        phrases: &["non-system", "nonsystem", "non system", "not system", "excluding system"],
        build: |t| column_for(t, Role::User).map(|c| Filter::new(&c, "!=", s("system"))),
    },
    Concept {
        phrases: &["without mfa", "no mfa", "single factor", "single-factor", "without multi"],
        build: |t| {
            col(t, "AuthenticationRequirement").then(|| {
                Filter::new("AuthenticationRequirement", "==", s("singleFactorAuthentication"))
            })
        },
    },
    Concept {
        phrases: &["failed", "failure", "unsuccessful", "invalid password", "bad password"],
        build: |t| match t.name() {
            "SigninLogs" | "AADNonInteractiveUserSignInLogs" => {
                Some(Filter::new("ResultType", "!=", s("0")))
            }
            "DeviceLogonEvents" | "IdentityLogonEvents" => {
                Some(Filter::new("ActionType", "==", s("LogonFailed")))
            }
            "SecurityEvent" => Some(Filter::new("EventID", "==", vec!["4625".into()])),
            "DeviceNetworkEvents" => Some(Filter::new("ActionType", "==", s("ConnectionFailed"))),
            "AuditLogs" => Some(Filter::new("Result", "==", s("failure"))),
            _ => None,
        },
    },
    Concept {
        phrases: &["successful", "succeeded", "success"],
        build: |t| match t.name() {
            "SigninLogs" | "AADNonInteractiveUserSignInLogs" => {
                Some(Filter::new("ResultType", "==", s("0")))
            }
            "DeviceLogonEvents" | "IdentityLogonEvents" => {
                Some(Filter::new("ActionType", "==", s("LogonSuccess")))
            }
            "SecurityEvent" => Some(Filter::new("EventID", "==", vec!["4624".into()])),
            "DeviceNetworkEvents" => Some(Filter::new("ActionType", "==", s("ConnectionSuccess"))),
            _ => None,
        },
    },
    Concept {
        phrases: &["encoded", "base64", "-enc", "obfuscated"],
        build: |t| {
            let c = if col(t, "ProcessCommandLine") {
                "ProcessCommandLine"
            } else if col(t, "InitiatingProcessCommandLine") {
                "InitiatingProcessCommandLine"
            } else {
                return None;
            };
            Some(Filter::new(c, "has_any", list(&["-enc", "-encodedcommand", "FromBase64String"])))
        },
    },
    Concept {
        phrases: &["high severity", "high-severity", "severity high", "critical"],
        build: |t| col(t, "Severity").then(|| Filter::new("Severity", "==", s("High"))),
    },
    Concept {
        phrases: &["medium severity", "severity medium"],
        build: |t| col(t, "Severity").then(|| Filter::new("Severity", "==", s("Medium"))),
    },
    Concept {
        phrases: &["low severity", "severity low"],
        build: |t| col(t, "Severity").then(|| Filter::new("Severity", "==", s("Low"))),
    },
    Concept {
        phrases: &["open incident", "active incident", "unresolved", "open ones"],
        build: |t| col(t, "Status").then(|| Filter::new("Status", "!=", s("Closed"))),
    },
    Concept {
        phrases: &["open ", "active ", "new incident"],
        build: |t| {
            (t.name() == "SecurityIncident").then(|| Filter::new("Status", "!=", s("Closed")))
        },
    },
    Concept {
        phrases: &["closed incident", "resolved incident"],
        build: |t| col(t, "Status").then(|| Filter::new("Status", "==", s("Closed"))),
    },
    Concept {
        phrases: &["rdp", "remote desktop", "remoteinteractive"],
        build: |t| match t.name() {
            "DeviceLogonEvents" => Some(Filter::new("LogonType", "==", s("RemoteInteractive"))),
            "DeviceNetworkEvents" => Some(Filter::new("RemotePort", "==", vec!["3389".into()])),
            "SecurityEvent" => Some(Filter::new("LogonType", "==", vec!["10".into()])),
            _ => None,
        },
    },
    Concept {
        phrases: &["smb"],
        build: |t| {
            col(t, "RemotePort").then(|| Filter::new("RemotePort", "==", vec!["445".into()]))
        },
    },
    Concept {
        phrases: &["ssh"],
        build: |t| match t.name() {
            "Syslog" => Some(Filter::new("ProcessName", "==", s("sshd"))),
            _ => col(t, "RemotePort").then(|| Filter::new("RemotePort", "==", vec!["22".into()])),
        },
    },
    Concept {
        phrases: &["public ip", "external ip", "internet", "external address", "public address"],
        build: |t| col(t, "RemoteIPType").then(|| Filter::new("RemoteIPType", "==", s("Public"))),
    },
    Concept {
        phrases: &["inbound"],
        build: |t| {
            col(t, "EmailDirection").then(|| Filter::new("EmailDirection", "==", s("Inbound")))
        },
    },
    Concept {
        phrases: &["outbound", "outgoing", "sent by our", "sent from our"],
        build: |t| {
            col(t, "EmailDirection").then(|| Filter::new("EmailDirection", "==", s("Outbound")))
        },
    },
    Concept {
        phrases: &["delivered"],
        build: |t| {
            col(t, "DeliveryAction").then(|| Filter::new("DeliveryAction", "==", s("Delivered")))
        },
    },
    Concept {
        phrases: &["phish"],
        build: |t| col(t, "ThreatTypes").then(|| Filter::new("ThreatTypes", "has", s("Phish"))),
    },
    Concept {
        phrases: &["malware"],
        build: |t| match t.name() {
            "EmailEvents" | "EmailAttachmentInfo" => {
                Some(Filter::new("ThreatTypes", "has", s("Malware")))
            }
            "AlertInfo" => Some(Filter::new("Category", "==", s("Malware"))),
            _ => None,
        },
    },
    Concept {
        phrases: &["with attachment", "with an attachment", "have attachment", "had attachment"],
        build: |t| {
            col(t, "AttachmentCount").then(|| Filter::new("AttachmentCount", ">", vec!["0".into()]))
        },
    },
    Concept {
        phrases: &["with url", "with link", "containing link", "with a link", "containing url"],
        build: |t| col(t, "UrlCount").then(|| Filter::new("UrlCount", ">", vec!["0".into()])),
    },
    Concept {
        phrases: &["risky"],
        build: |t| col(t, "IsRisky").then(|| Filter::new("IsRisky", "==", vec!["true".into()])),
    },
    Concept {
        phrases: &["legacy auth", "legacy protocol", "basic auth"],
        build: |t| {
            col(t, "ClientAppUsed").then(|| {
                Filter::new(
                    "ClientAppUsed",
                    "in",
                    list(&[
                        "Exchange ActiveSync",
                        "Other clients",
                        "IMAP4",
                        "POP3",
                        "Authenticated SMTP",
                        "Exchange Web Services",
                    ]),
                )
            })
        },
    },
    Concept {
        phrases: &["use legacy", "using legacy", "still use", "rely on legacy"],
        build: |t| (t.name() == "SigninLogs").then(|| Filter::new("ResultType", "==", s("0"))),
    },
    Concept {
        phrases: &["local admin", "as admin", "admin rights", "administrator rights"],
        build: |t| {
            col(t, "IsLocalAdmin").then(|| Filter::new("IsLocalAdmin", "==", vec!["true".into()]))
        },
    },
    Concept {
        phrases: &["interactive"],
        build: |t| match t.name() {
            "DeviceLogonEvents" => Some(Filter::new("LogonType", "==", s("Interactive"))),
            "SigninLogs" => Some(Filter::new("IsInteractive", "==", vec!["true".into()])),
            _ => None,
        },
    },
    Concept {
        phrases: &["inbox rule", "mailbox rule", "forwarding rule"],
        build: |t| {
            col(t, "Operation").then(|| {
                Filter::new(
                    "Operation",
                    "in",
                    list(&["New-InboxRule", "Set-InboxRule", "UpdateInboxRules"]),
                )
            })
        },
    },
    Concept {
        phrases: &["forward", "forwarding"],
        build: |t| col(t, "Parameters").then(|| Filter::new("Parameters", "has", s("ForwardTo"))),
    },
    Concept {
        phrases: &["mail items accessed", "mailitemsaccessed", "mailbox access"],
        build: |t| {
            col(t, "Operation").then(|| Filter::new("Operation", "==", s("MailItemsAccessed")))
        },
    },
    Concept {
        phrases: &["run key", "autorun"],
        build: |t| {
            col(t, "RegistryKey")
                .then(|| Filter::new("RegistryKey", "contains", s("CurrentVersion\\Run")))
        },
    },
    Concept {
        phrases: &["scheduled task"],
        build: |t| match t.name() {
            "DeviceEvents" => Some(Filter::new("ActionType", "==", s("ScheduledTaskCreated"))),
            "SecurityEvent" => Some(Filter::new("EventID", "==", vec!["4698".into()])),
            "DeviceProcessEvents" => Some(Filter::new("FileName", "=~", s("schtasks.exe"))),
            _ => None,
        },
    },
    Concept {
        phrases: &["service installed", "services installed", "new service"],
        build: |t| match t.name() {
            "DeviceEvents" => Some(Filter::new("ActionType", "==", s("ServiceInstalled"))),
            "SecurityEvent" => Some(Filter::new("EventID", "==", vec!["4697".into()])),
            _ => None,
        },
    },
    Concept {
        phrases: &["antivirus", "av detection", "quarantin"],
        build: |t| {
            col(t, "ActionType").then(|| Filter::new("ActionType", "==", s("AntivirusDetection")))
        },
    },
    Concept {
        phrases: &[
            "credential dump",
            "dumped credentials",
            "lsass dump",
            "memory dump",
            "minidump",
        ],
        build: |t| {
            col(t, "ProcessCommandLine").then(|| {
                Filter::new(
                    "ProcessCommandLine",
                    "has_any",
                    list(&["MiniDump", "lsass", "procdump"]),
                )
            })
        },
    },
    Concept {
        phrases: &[
            "created file",
            "files created",
            "file created",
            "new file",
            "dropped",
            "written",
            "created in ",
            "created under ",
        ],
        build: |t| {
            (t.name() == "DeviceFileEvents")
                .then(|| Filter::new("ActionType", "==", s("FileCreated")))
        },
    },
    Concept {
        phrases: &["deleted"],
        build: |t| match t.name() {
            "DeviceFileEvents" => Some(Filter::new("ActionType", "==", s("FileDeleted"))),
            "DeviceRegistryEvents" => {
                Some(Filter::new("ActionType", "==", s("RegistryValueDeleted")))
            }
            _ => None,
        },
    },
    Concept {
        phrases: &["renamed"],
        build: |t| {
            (t.name() == "DeviceFileEvents")
                .then(|| Filter::new("ActionType", "==", s("FileRenamed")))
        },
    },
    Concept {
        phrases: &["downloaded", "download "],
        build: |t| {
            col(t, "FileOriginUrl").then(|| Filter::new("FileOriginUrl", "isnotempty", vec![]))
        },
    },
    Concept {
        phrases: &["value set", "modified", "changed", "set "],
        build: |t| {
            (t.name() == "DeviceRegistryEvents")
                .then(|| Filter::new("ActionType", "==", s("RegistryValueSet")))
        },
    },
    Concept {
        phrases: &["clicked through", "clicked"],
        build: |t| {
            col(t, "IsClickedThrough")
                .then(|| Filter::new("IsClickedThrough", "==", vec!["true".into()]))
        },
    },
    Concept {
        phrases: &["security info", "mfa method", "authentication method"],
        build: |t| {
            (t.name() == "AuditLogs")
                .then(|| Filter::new("OperationName", "has", s("security info")))
        },
    },
    Concept {
        phrases: &["blocked", "denied", "deny"],
        build: |t| match t.name() {
            "CommonSecurityLog" => Some(Filter::new(
                "DeviceAction",
                "in~",
                list(&["deny", "drop", "block", "reset-both"]),
            )),
            "EmailEvents" => Some(Filter::new("DeliveryAction", "==", s("Blocked"))),
            _ => None,
        },
    },
    Concept {
        phrases: &["new user", "user created", "account created", "created account"],
        build: |t| match t.name() {
            "SecurityEvent" => Some(Filter::new("EventID", "==", vec!["4720".into()])),
            "AuditLogs" => Some(Filter::new("OperationName", "==", s("Add user"))),
            _ => None,
        },
    },
    Concept {
        phrases: &["tor exit", "tor node", "from tor"],
        build: |t| {
            col(t, "IPAddress").then(|| Filter::new("IPAddress", "startswith", s("185.220.")))
        },
    },
];

/// Shape of the result.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Rows,
    Count,
    CountBy {
        by: Vec<String>,
        top: Option<usize>,
    },
    DistinctCount(String),
    Distinct(String),
    Latest(usize),
    Timechart(&'static str),
    /// Failures from one address across many accounts: the password-spray pattern.
    Spray,
}

fn word_count(w: &str) -> Option<usize> {
    Some(match w {
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "five" => 5,
        "ten" => 10,
        "twenty" => 20,
        n => n.parse().ok()?,
    })
}

/// Finds a column named right after `at` ("by user", "top 10 devices").
fn column_after(text: &str, at: usize, schema: &TableSchema) -> Option<String> {
    let rest = text.get(at..)?.trim_start();
    let rest = rest.strip_prefix("the ").unwrap_or(rest);
    let rest = rest.strip_prefix("each ").unwrap_or(rest);
    let rest = rest.strip_prefix("distinct ").unwrap_or(rest);
    let rest = rest.strip_prefix("unique ").unwrap_or(rest);
    let rest = rest.strip_prefix("most common ").unwrap_or(rest);
    let rest = rest.strip_prefix("most active ").unwrap_or(rest);
    let rest = rest.strip_prefix("targeted ").unwrap_or(rest);
    // Exact column names first ("by RemotePort", "by remoteport").
    let first: String =
        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if !first.is_empty()
        && let Some(c) = schema.columns().iter().find(|c| c.name.eq_ignore_ascii_case(&first))
    {
        return Some(c.name.clone());
    }
    for (phrase, target) in COLUMN_WORDS {
        if let Some(tail) = rest.strip_prefix(phrase) {
            let after = tail.chars().next();
            if after.is_some_and(|c| c.is_ascii_alphanumeric() && c != 's') {
                continue;
            }
            // "mailbox rules", "user sign-ins": the word qualifies a thing, it is no column.
            let next_word = tail.trim_start_matches('s').split_whitespace().next().unwrap_or("");
            if [
                "rule",
                "rules",
                "event",
                "events",
                "logs",
                "activity",
                "items",
                "connections",
                "processes",
                "files",
                "emails",
                "signins",
                "signin",
                "logons",
                "alerts",
            ]
            .contains(&next_word)
            {
                continue;
            }
            let found = match target {
                ColumnWord::Role(r) => column_for(schema, *r),
                ColumnWord::Columns(cs) => {
                    cs.iter().find(|c| schema.column(c).is_some()).map(|c| (*c).to_string())
                }
            };
            if found.is_some() {
                return found;
            }
        }
    }
    None
}

fn shape(text: &str, schema: &TableSchema, notes: &mut Vec<String>) -> Shape {
    let time = schema.time_column().unwrap_or("TimeGenerated").to_string();
    if contains_word(text, "spray").is_some()
        && schema.column("ResultType").is_some()
        && schema.column("UserPrincipalName").is_some()
        && schema.column("IPAddress").is_some()
    {
        notes.push("'spray': failed sign-ins per source address across many accounts".into());
        return Shape::Spray;
    }
    // Over time.
    for (phrase, bin) in [
        ("per hour", "1h"),
        ("hourly", "1h"),
        ("by hour", "1h"),
        ("per day", "1d"),
        ("daily", "1d"),
        ("by day", "1d"),
        ("over time", "1d"),
        ("trend", "1d"),
        ("timechart", "1d"),
        ("timeline of", "1h"),
    ] {
        if contains_word(text, phrase).is_some() {
            notes.push(format!("'{phrase}': counts per {bin} as a time chart"));
            return Shape::Timechart(bin);
        }
    }
    // Top N.
    let mut top: Option<usize> = None;
    if let Some(at) = contains_word(text, "top ") {
        let rest = &text[at + 4..];
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if let Some(n) = word_count(&word) {
            top = Some(n.clamp(1, 10_000));
            if let Some(c) = column_after(text, at + 4 + word.len(), schema) {
                notes.push(format!("'top {n}': the {n} {c} values with the most rows"));
                return Shape::CountBy { by: vec![c], top };
            }
        } else if let Some(c) = column_after(text, at + 4, schema) {
            return Shape::CountBy { by: vec![c], top: Some(10) };
        }
    }
    for phrase in ["most common", "most frequent", "most active", "most targeted", "most often"] {
        if let Some(at) = contains_word(text, phrase)
            && let Some(c) = column_after(text, at + phrase.len(), schema)
        {
            return Shape::CountBy { by: vec![c], top: Some(top.unwrap_or(10)) };
        }
    }
    // Count by.
    for phrase in [" by ", " per ", "grouped by ", "group by ", "broken down by ", "for each "] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(phrase) {
            let at = from + pos + phrase.len();
            if let Some(c) = column_after(text, at, schema) {
                let counting = [
                    "count",
                    "how many",
                    "number of",
                    "summar",
                    "group",
                    "top",
                    "per ",
                    "broken down",
                    "each",
                    "breakdown",
                    "most",
                ]
                .iter()
                .any(|w| text.contains(w));
                if counting {
                    notes.push(format!("counted by {c}"));
                    return Shape::CountBy { by: vec![c], top };
                }
            }
            from = at;
        }
    }
    // Distinct.
    for phrase in [
        "how many distinct ",
        "how many unique ",
        "number of distinct ",
        "number of unique ",
        "count of distinct ",
        "count of unique ",
    ] {
        if let Some(at) = contains_word(text, phrase)
            && let Some(c) = column_after(text, at + phrase.len(), schema)
        {
            return Shape::DistinctCount(c);
        }
    }
    for phrase in ["distinct ", "unique ", "list of ", "list the ", "list all ", "which ", "what "]
    {
        if let Some(at) = contains_word(text, phrase)
            && let Some(c) = column_after(text, at + phrase.len(), schema)
        {
            notes.push(format!("'{}': distinct {c}", phrase.trim()));
            return Shape::Distinct(c);
        }
    }
    if ["how many", "number of", "count of", "count the", "total count"]
        .iter()
        .any(|p| contains_word(text, p).is_some())
    {
        return Shape::Count;
    }
    if let Some(n) = top {
        return Shape::Latest(n);
    }
    for phrase in ["latest ", "most recent ", "last ", "newest "] {
        if let Some(at) = contains_word(text, phrase) {
            let word: String = text[at + phrase.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if let Some(n) = word_count(&word)
                && !text[at + phrase.len() + word.len()..]
                    .trim_start()
                    .starts_with(['h', 'd', 'w', 'm'])
            {
                notes.push(format!("the {n} most recent rows by {time}"));
                return Shape::Latest(n);
            }
        }
    }
    Shape::Rows
}

/// Columns shown for plain row results, when the table has them.
const DEFAULT_PROJECTION: &[&str] = &[
    "IncidentNumber",
    "Title",
    "Severity",
    "DeviceName",
    "Computer",
    "AccountName",
    "UserPrincipalName",
    "UserId",
    "Identity",
    "ActionType",
    "Operation",
    "OperationName",
    "EventID",
    "Activity",
    "ResultType",
    "AppDisplayName",
    "IPAddress",
    "ClientIP",
    "Name",
    "SenderFromAddress",
    "RecipientEmailAddress",
    "Subject",
    "FileName",
    "FolderPath",
    "ProcessCommandLine",
    "InitiatingProcessFileName",
    "InitiatingProcessCommandLine",
    "RemoteIP",
    "RemotePort",
    "RemoteUrl",
    "RegistryKey",
    "RegistryValueName",
    "RegistryValueData",
    "SourceIP",
    "DestinationIP",
    "DestinationPort",
    "Status",
    "Category",
];

fn entity_filters(
    ex: &Extracted,
    text: &str,
    schema: &TableSchema,
    filters: &mut Vec<Filter>,
    notes: &mut Vec<String>,
) {
    let push = |mut f: Filter, value: &str, filters: &mut Vec<Filter>| {
        if let Some(at) = text.find(&value.to_lowercase())
            && is_negated(text, at)
        {
            f.negate();
        }
        if !filters.contains(&f) {
            filters.push(f);
        }
    };
    for e in &ex.entities {
        let v = e.value.as_str();
        match e.kind {
            EntityKind::Device => {
                if let Some(c) = column_for(schema, Role::Device) {
                    let f = if v.contains('.') {
                        Filter::new(&c, "=~", s(v))
                    } else {
                        Filter::new(&c, "startswith", s(v))
                    };
                    push(f, v, filters);
                }
            }
            EntityKind::User | EntityKind::Mailbox => {
                let lower = text.to_lowercase();
                let at = lower.find(&v.to_lowercase()).unwrap_or(0);
                let before = &lower[..at];
                let role = if schema.name().starts_with("Email") {
                    if before.trim_end().ends_with("from")
                        || before.trim_end().ends_with("sender")
                        || before.trim_end().ends_with("by")
                    {
                        Role::Sender
                    } else {
                        Role::Recipient
                    }
                } else if v.contains('@') {
                    Role::Upn
                } else {
                    Role::User
                };
                let column = column_for(schema, role).or_else(|| column_for(schema, Role::User));
                let Some(c) = column else { continue };
                let upn_column = c.contains("Upn")
                    || c.contains("Principal")
                    || c.contains("Address")
                    || c == "UserId";
                let f = if v.contains('@') && upn_column {
                    Filter::new(&c, "=~", s(v))
                } else {
                    let name = v.split('@').next().unwrap_or(v);
                    Filter::new(&c, "has", s(name))
                };
                push(f, v, filters);
            }
            EntityKind::Ip => {
                let lower_text = text;
                let c = if schema.name() == "CommonSecurityLog"
                    && (lower_text.contains(&format!("from {v}")) || lower_text.contains("source"))
                {
                    Some("SourceIP".to_string())
                } else {
                    column_for(schema, Role::Ip)
                };
                if let Some(c) = c {
                    push(Filter::new(&c, "==", s(v)), v, filters);
                }
            }
            EntityKind::Url => {
                if let Some(c) = column_for(schema, Role::Url) {
                    push(Filter::new(&c, "has", s(v)), v, filters);
                }
            }
            EntityKind::Domain => {
                if let Some(c) = column_for(schema, Role::Domain) {
                    let op = if c == "SenderFromDomain" || c == "UrlDomain" { "=~" } else { "has" };
                    push(Filter::new(&c, op, s(v)), v, filters);
                }
            }
            EntityKind::FileHash => {
                let role = match v.len() {
                    32 => Role::Md5,
                    40 => Role::Sha1,
                    _ => Role::Sha256,
                };
                if let Some(c) = column_for(schema, role) {
                    push(Filter::new(&c, "==", s(v)), v, filters);
                }
            }
            EntityKind::File => {
                let lower = v.to_lowercase();
                let parent =
                    text.find(&lower).is_some_and(|at| is_parent_mention(text, at, lower.len()));
                let c = if schema.name() == "SecurityEvent" {
                    Some(if parent { "ParentProcessName" } else { "NewProcessName" }.to_string())
                } else if parent {
                    column_for(schema, Role::ParentName)
                        .or_else(|| column_for(schema, Role::FileName))
                } else {
                    column_for(schema, Role::FileName)
                };
                if let Some(c) = c {
                    let op = if c.ends_with("ProcessName") && schema.name() == "SecurityEvent" {
                        "endswith"
                    } else {
                        "=~"
                    };
                    push(Filter::new(&c, op, s(v)), v, filters);
                }
            }
            _ => {}
        }
    }
    merge_alternatives(filters);
    if !ex.incidents.is_empty() && schema.column("IncidentNumber").is_some() {
        let ids: Vec<String> = ex
            .incidents
            .iter()
            .filter(|i| i.chars().all(|c| c.is_ascii_digit()))
            .cloned()
            .collect();
        if ids.len() == 1 {
            filters.push(Filter::new("IncidentNumber", "==", ids));
        } else if ids.len() > 1 {
            filters.push(Filter::new("IncidentNumber", "in", ids));
        }
        notes.push("incident ids filter IncidentNumber".into());
    }
}

/// Whether the process named at `at` is the parent: "spawned by X", "children of X",
/// "X launching Y", "X spawned Y" (but not "X spawned by Y").
fn is_parent_mention(text: &str, at: usize, len: usize) -> bool {
    let mut start = at.saturating_sub(24);
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[start..at];
    let after = text.get(at + len..).unwrap_or("");
    let after = after.strip_prefix(".exe").unwrap_or(after);
    [
        "spawned by ",
        "launched by ",
        "started by ",
        "run by ",
        "created by ",
        "parent ",
        "child of ",
        "children of ",
        "parent is ",
        "parent was ",
        "parent process is ",
        "parent process ",
        "made by ",
        "set by ",
        "executed by ",
    ]
    .iter()
    .any(|p| before.ends_with(p))
        || [" spawning", " launching", " starting", " creating", " executing", " running "]
            .iter()
            .any(|p| after.starts_with(p))
        || [" spawned ", " launched ", " started ", " ran "]
            .iter()
            .any(|p| after.starts_with(p) && !after[p.len()..].starts_with("by "))
}

/// Several values for one column ("to 1.2.3.4 or 5.6.7.8") mean any of them: `==` filters on
/// one column become `in`, `has` filters `has_any`, `=~` filters `in~`.
fn merge_alternatives(filters: &mut Vec<Filter>) {
    let mut out: Vec<Filter> = Vec::new();
    for f in filters.drain(..) {
        let merged = match f.op.as_str() {
            "==" => Some("in"),
            "has" => Some("has_any"),
            "=~" => Some("in~"),
            _ => None,
        };
        if let Some(op) = merged
            && let Some(prev) =
                out.iter_mut().find(|g| g.column == f.column && (g.op == f.op || g.op == op))
        {
            prev.op = op.to_string();
            prev.values.extend(f.values);
            continue;
        }
        out.push(f);
    }
    *filters = out;
}

fn process_filters(text: &str, ex: &Extracted, schema: &TableSchema, filters: &mut Vec<Filter>) {
    let files = ex.values(EntityKind::File);
    let mut images: Vec<(&str, bool, bool)> = Vec::new(); // (file name, parent?, negated)
    for (word, image) in PROCESS_NAMES {
        let Some(at) = contains_word(text, word) else { continue };
        let after = text.as_bytes().get(at + word.len()).copied().unwrap_or(b' ');
        if after.is_ascii_alphanumeric()
            || (after == b'.'
                && !word.contains('.')
                && !text[at..].starts_with(&format!("{word}.exe")))
        {
            continue;
        }
        if files.iter().any(|f| f.eq_ignore_ascii_case(image))
            || images.iter().any(|i| i.0 == *image)
        {
            continue;
        }
        // "word" alone is too common a word: require a process context.
        if *word == "word"
            && !text.contains("winword")
            && !text.contains("word spawn")
            && !text.contains("word launch")
            && !text.contains("by word")
            && !text.contains("from word")
        {
            continue;
        }
        let parent = is_parent_mention(text, at, word.len());
        images.push((image, parent, is_negated(text, at)));
    }
    for (parent_flag, role) in [(false, Role::FileName), (true, Role::ParentName)] {
        let chosen: Vec<&(&str, bool, bool)> =
            images.iter().filter(|i| i.1 == parent_flag).collect();
        if chosen.is_empty() {
            continue;
        }
        let column = if schema.name() == "DeviceProcessEvents"
            || schema.name() == "DeviceFileEvents" && parent_flag
        {
            column_for(schema, role)
        } else if schema.name() == "SecurityEvent" {
            Some(if parent_flag { "ParentProcessName" } else { "NewProcessName" }.to_string())
        } else {
            column_for(schema, Role::ParentName).or_else(|| column_for(schema, Role::FileName))
        };
        let Some(c) = column else { continue };
        for negated in [false, true] {
            let names: Vec<&str> = chosen.iter().filter(|i| i.2 == negated).map(|i| i.0).collect();
            if names.is_empty() {
                continue;
            }
            let mut f = if c.ends_with("ProcessName") && schema.name() == "SecurityEvent" {
                Filter::new(&c, "has_any", list(&names))
            } else if names.len() == 1 {
                Filter::new(&c, "=~", s(names[0]))
            } else {
                Filter::new(&c, "in~", list(&names))
            };
            if negated {
                f.negate();
            }
            filters.push(f);
        }
    }
}

fn quoted_strings(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for q in ['"', '\''] {
        let mut start = None;
        for (i, ch) in text.char_indices() {
            if ch != q {
                continue;
            }
            // An apostrophe inside a word ("user's") is not a quote.
            let prev = text[..i].chars().next_back();
            let next = text[i + 1..].chars().next();
            if q == '\''
                && prev.is_some_and(|c| c.is_alphanumeric())
                && next.is_some_and(|c| c.is_alphanumeric())
            {
                continue;
            }
            match start {
                None => start = Some(i),
                Some(st) => {
                    let inner = &text[st + 1..i];
                    if !inner.trim().is_empty() && inner.len() < 512 {
                        out.push((st, inner.to_string()));
                    }
                    start = None;
                }
            }
        }
    }
    out
}

/// "ending in .xyz", "starting with adm-", "extension .ps1", "in the Downloads folder".
fn pattern_filters(text: &str, schema: &TableSchema, filters: &mut Vec<Filter>) {
    let value_after = |at: usize| -> Option<String> {
        let v: String = text
            .get(at..)?
            .trim_start()
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ',' && *c != '?' && *c != ')')
            .collect();
        let v = v.trim_matches(|c| c == '"' || c == '\'' || c == '`').to_string();
        (!v.is_empty() && v.len() < 200).then_some(v)
    };
    let text_col = if schema.column("FileName").is_some() && schema.name().starts_with("Device") {
        Some("FileName".to_string())
    } else {
        column_for(schema, Role::Text)
    };
    for (phrases, op) in [
        (&["ending in ", "ends with ", "ending with ", "that end in "][..], "endswith"),
        (
            &["starting with ", "starts with ", "beginning with ", "that start with "][..],
            "startswith",
        ),
        (&["extension ", "file type "][..], "endswith"),
    ] {
        for p in phrases {
            if let Some(at) = text.find(p)
                && let Some(v) = value_after(at + p.len())
                && let Some(c) = &text_col
            {
                let v = if *p == "extension " || *p == "file type " {
                    format!(".{}", v.trim_start_matches("*.").trim_start_matches('.'))
                } else {
                    v
                };
                filters.push(Filter::new(c, op, s(&v)));
                break;
            }
        }
    }
    // "*.ps1" or ".ps1 files".
    if !filters.iter().any(|f| f.op == "endswith")
        && let Some(c) = &text_col
    {
        for w in text.split_whitespace() {
            let ext = w.strip_prefix("*.").or_else(|| w.strip_prefix('.'));
            if let Some(e) = ext
                && (1..=5).contains(&e.len())
                && e.chars().all(|c| c.is_ascii_alphanumeric())
            {
                filters.push(Filter::new(c, "endswith", s(&format!(".{e}"))));
                break;
            }
        }
    }
    if schema.column("FolderPath").is_some() {
        for p in [" folder", " directory"] {
            if let Some(end) = text.find(p) {
                let before: Vec<&str> = text[..end].split_whitespace().collect();
                if let Some(name) = before.last()
                    && !["the", "a", "this", "that", "any", "same"].contains(name)
                    && before.len() >= 2
                    && matches!(before[before.len() - 2], "the" | "in" | "into" | "to" | "from")
                {
                    let name = name.trim_matches(|c| c == '"' || c == '\'');
                    filters.push(Filter::new("FolderPath", "has", s(name)));
                }
                break;
            }
        }
    }
}

fn port_and_event_filters(text: &str, schema: &TableSchema, filters: &mut Vec<Filter>) {
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(|n| n.trim_matches(|c: char| !c.is_ascii_alphanumeric()));
        let Some(next) = next else { continue };
        let Ok(n) = next.parse::<u32>() else { continue };
        let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        if w == "port" {
            let c = ["RemotePort", "DestinationPort", "LocalPort"]
                .into_iter()
                .find(|c| schema.column(c).is_some());
            if let Some(c) = c {
                let mut f = Filter::new(c, "==", vec![n.to_string()]);
                let pos = text.find(&format!("port {n}")).unwrap_or(0);
                if is_negated(text, pos) {
                    f.negate();
                }
                filters.push(f);
            }
        }
        if (w == "id" && i > 0 && words[i - 1].ends_with("event")) || w == "eventid" {
            let c = ["EventID", "EventId"].into_iter().find(|c| schema.column(c).is_some());
            if let Some(c) = c
                && !filters.iter().any(|f| f.column == c)
            {
                filters.push(Filter::new(c, "==", vec![n.to_string()]));
            }
        }
    }
    for id in [
        "4624", "4625", "4648", "4672", "4688", "4697", "4698", "4720", "4728", "4732", "4740",
        "4768", "4769", "4776", "1102",
    ] {
        if contains_word(text, id).is_some()
            && schema.column("EventID").is_some()
            && !filters.iter().any(|f| f.column == "EventID")
        {
            filters.push(Filter::new("EventID", "==", vec![id.to_string()]));
        }
    }
}

/// Threshold after a count: "more than 10", "at least 5", "over 100".
fn threshold(text: &str) -> Option<(String, u64)> {
    for (phrase, op) in [
        ("more than ", ">"),
        ("over ", ">"),
        ("at least ", ">="),
        ("greater than ", ">"),
        ("fewer than ", "<"),
        ("less than ", "<"),
    ] {
        if let Some(at) = contains_word(text, phrase) {
            let word: String =
                text[at + phrase.len()..].chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = word.parse::<u64>() {
                return Some((op.to_string(), n));
            }
        }
    }
    None
}

/// Generates KQL for a question over the built-in schema registry.
pub fn generate(question: &str) -> Generated {
    generate_with(question, &SchemaRegistry::builtin())
}

/// Generates KQL for a question over `registry`; the text is parsed and checked before it is
/// returned.
pub fn generate_with(question: &str, registry: &SchemaRegistry) -> Generated {
    let ex = entities::extract(question);
    generate_from(&ex, registry)
}

/// Generates KQL from an already extracted prompt.
pub fn generate_from(ex: &Extracted, registry: &SchemaRegistry) -> Generated {
    let text = normalize(&ex.text);
    let mut notes = Vec::new();
    let (mut table, mut why) = choose_table(&text, ex, registry);
    // Alerts about a device, user, address or file: their evidence holds those columns.
    if table == "AlertInfo"
        && [EntityKind::Device, EntityKind::User, EntityKind::Ip, EntityKind::FileHash]
            .iter()
            .any(|k| ex.has(*k))
    {
        table = "AlertEvidence".into();
        why = "alerts about an entity: their evidence".into();
    }
    notes.push(format!("table {table}: {why}"));
    let Some(schema) = registry.get(&table).cloned() else {
        return finish(table.clone(), table, Vec::new(), notes, registry);
    };
    let time = schema.time_column().unwrap_or("TimeGenerated").to_string();
    let mut filters = Vec::new();
    entity_filters(ex, &text, &schema, &mut filters, &mut notes);
    // Concepts: the longest phrase of a concept that occurs wins; each concept once.
    for concept in CONCEPTS {
        let Some((at, _)) =
            concept.phrases.iter().filter_map(|p| contains_word(&text, p).map(|at| (at, p))).next()
        else {
            continue;
        };
        if let Some(mut f) = (concept.build)(&schema) {
            // "failed" and "successful" are one another's negation, not two filters.
            if f.column == "Severity" && filters.iter().any(|g: &Filter| g.column == "Severity") {
                continue;
            }
            if filters.iter().any(|g: &Filter| {
                g.column == f.column
                    && g.op.contains('=')
                    && f.op.contains('=')
                    && g.column != "EventID"
                    && f.column != "ActionType"
            }) {
                continue;
            }
            if filters.iter().any(|g: &Filter| {
                g.column == f.column
                    && g.column == "ActionType"
                    && (g.values.iter().any(|v| v.contains("Logon"))
                        || g.values.iter().any(|v| v.contains("Connection")))
            }) && f.column == "ActionType"
            {
                continue;
            }
            if is_negated(&text, at) && !concept.phrases[0].starts_with("without") {
                f.negate();
            }
            if !filters.contains(&f) {
                filters.push(f);
            }
        }
    }
    process_filters(&text, ex, &schema, &mut filters);
    port_and_event_filters(&text, &schema, &mut filters);
    pattern_filters(&text, &schema, &mut filters);
    for (at, value) in quoted_strings(&ex.text) {
        if let Some(c) = column_for(&schema, Role::Text) {
            let wordy = value.chars().all(|c| c.is_alphanumeric() || c == ' ' || c == '_');
            let mut f = Filter::new(&c, if wordy { "has" } else { "contains" }, s(&value));
            if is_negated(&ex.text, at) {
                f.negate();
            }
            if !filters
                .iter()
                .any(|g| g.values.iter().any(|v| v.eq_ignore_ascii_case(&quote(&value))))
            {
                filters.push(f);
            }
        }
    }
    let mut shape = shape(&text, &schema, &mut notes);
    // Alert rows repeat: list alert kinds instead.
    if shape == Shape::Rows && matches!(table.as_str(), "AlertInfo" | "AlertEvidence") {
        shape = Shape::Distinct("Title".into());
        notes.push("alerts listed by title".into());
    }
    if shape == Shape::Spray {
        // The spray summary counts failures and successes itself.
        filters.retain(|f| f.column != "ResultType");
    }
    let mut lines = vec![table.clone()];
    if let Some(range) = &ex.time_range
        && schema.column(&time).is_some()
    {
        lines.push(format!("| where {}", range.kql_predicate(&time)));
        notes.push(format!("time range: {}", range.describe()));
    }
    for f in &filters {
        lines.push(format!("| where {}", f.to_kql()));
    }
    let cnt = "Count";
    match &shape {
        Shape::Rows => {
            let mut cols: Vec<&str> = vec![time.as_str()];
            cols.extend(
                DEFAULT_PROJECTION.iter().copied().filter(|c| schema.column(c).is_some()).take(9),
            );
            // Where a table keeps the detail in one column, show it.
            for extra in ["AdditionalFields", "Parameters", "TargetResources"] {
                if matches!(table.as_str(), "DeviceEvents" | "OfficeActivity" | "AuditLogs")
                    && schema.column(extra).is_some()
                    && !cols.contains(&extra)
                {
                    cols.push(extra);
                }
            }
            // Filtered columns are shown too.
            for f in &filters {
                if schema.column(&f.column).is_some() && !cols.contains(&f.column.as_str()) {
                    cols.push(f.column.as_str());
                }
            }
            if schema.column(&time).is_some() {
                lines.push(format!("| project {}", cols.join(", ")));
                lines.push(format!("| sort by {time} desc"));
            }
        }
        Shape::Count => lines.push(format!("| summarize {cnt} = count()")),
        Shape::DistinctCount(c) => lines.push(format!("| summarize Distinct{c} = dcount({c})")),
        Shape::Distinct(c) => {
            lines.push(format!(
                "| summarize {cnt} = count(), FirstSeen = min({time}), LastSeen = max({time}) by {c}"
            ));
            if let Some((op, n)) = threshold(&text) {
                lines.push(format!("| where {cnt} {op} {n}"));
            }
            lines.push(format!("| sort by {cnt} desc"));
        }
        Shape::CountBy { by, top } => {
            lines.push(format!("| summarize {cnt} = count() by {}", by.join(", ")));
            if let Some((op, n)) = threshold(&text) {
                lines.push(format!("| where {cnt} {op} {n}"));
            }
            match top {
                Some(n) => lines.push(format!("| top {n} by {cnt} desc")),
                None => lines.push(format!("| sort by {cnt} desc")),
            }
        }
        Shape::Latest(n) => {
            lines.push(format!("| top {n} by {time} desc"));
        }
        Shape::Spray => {
            lines.push(format!(
                "| summarize Failures = countif(ResultType != \"0\"), FailedAccounts = dcountif(UserPrincipalName, ResultType != \"0\"), SprayedAccounts = make_set_if(UserPrincipalName, ResultType != \"0\", 500), SuccessfulAccounts = make_set_if(UserPrincipalName, ResultType == \"0\", 50), FirstSeen = min({time}), LastSeen = max({time}) by IPAddress"
            ));
            lines.push("| where FailedAccounts >= 5".into());
            lines.push("| sort by FailedAccounts desc".into());
        }
        Shape::Timechart(bin) => {
            lines.push(format!("| summarize {cnt} = count() by bin({time}, {bin})"));
            lines.push("| render timechart".into());
        }
    }
    let kql = lines.join("\n");
    finish(kql, table, filters, notes, registry)
}

fn finish(
    kql: String,
    table: String,
    filters: Vec<Filter>,
    notes: Vec<String>,
    registry: &SchemaRegistry,
) -> Generated {
    let (valid, diagnostics) = validate(&kql, registry);
    Generated { kql, valid, diagnostics, table, filters, notes }
}

/// Parses and checks KQL text: whether it is valid, and the diagnostics.
pub fn validate(kql: &str, registry: &SchemaRegistry) -> (bool, Vec<GeneratedDiagnostic>) {
    let parsed = parse(kql);
    let mut diags: Vec<bulwark_kql::Diagnostic> = parsed.diagnostics.clone();
    if parsed.has_valid_syntax() {
        diags.extend(check(&parsed.syntax, registry).diagnostics);
    }
    let valid = !diags.iter().any(|d| d.severity == Severity::Error);
    let out = diags
        .iter()
        .map(|d| GeneratedDiagnostic {
            code: d.code.to_string(),
            severity: match d.severity {
                Severity::Error => "error".into(),
                Severity::Warning => "warning".into(),
            },
            message: match &d.help {
                Some(h) => format!("{} ({h})", d.message),
                None => d.message.clone(),
            },
        })
        .collect();
    (valid, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_ok(q: &str) -> Generated {
        let g = generate(q);
        assert!(g.valid, "{q}\n{}\n{:?}", g.kql, g.diagnostics);
        g
    }

    #[test]
    fn failed_signins_for_a_user_in_a_range() {
        let g = gen_ok("failed sign-ins for alice in the past week");
        assert_eq!(g.table, "SigninLogs");
        assert!(g.kql.contains("TimeGenerated > ago(7d)"), "{}", g.kql);
        assert!(g.filters.iter().any(|f| f.matches_text("ResultType != \"0\"")), "{:?}", g.filters);
        assert!(
            g.filters.iter().any(|f| f.matches_text("UserPrincipalName has \"alice\"")),
            "{:?}",
            g.filters
        );
    }

    #[test]
    fn encoded_powershell_on_a_device() {
        let g = gen_ok("show encoded powershell command lines on wks-fin-001 yesterday");
        assert_eq!(g.table, "DeviceProcessEvents");
        assert!(g.kql.contains("startofday"), "{}", g.kql);
        assert!(g.filters.iter().any(|f| f.column == "ProcessCommandLine" && f.op == "has_any"));
        assert!(
            g.filters.iter().any(|f| f.matches_text("FileName =~ \"powershell.exe\"")),
            "{:?}",
            g.filters
        );
        assert!(g.filters.iter().any(|f| f.matches_text("DeviceName startswith \"wks-fin-001\"")));
    }

    #[test]
    fn quoted_text_spanning_lines_stays_one_literal() {
        let g = gen_ok("DNS events 'lookups of mining pools.\nThis rule uses ASIM'");
        assert!(g.kql.contains("\\n"), "{}", g.kql);
    }

    #[test]
    fn negation_inverts_the_filter() {
        let g = gen_ok("network connections from wks-fin-001 excluding port 443");
        // "excluding" applies to the port, not to the device.
        assert_eq!(g.table, "DeviceNetworkEvents");
        assert!(g.filters.iter().any(|f| f.matches_text("RemotePort != 443")), "{:?}", g.filters);
        assert!(g.filters.iter().any(|f| f.op == "startswith"), "{:?}", g.filters);
        let g2 = gen_ok("processes except powershell on srv-fs01");
        assert!(
            g2.filters.iter().any(|f| f.matches_text("FileName !~ \"powershell.exe\"")),
            "{:?}",
            g2.filters
        );
        assert!(g2.filters.iter().any(|f| f.op == "startswith"), "{:?}", g2.filters);
        let g3 = gen_ok("sign-ins not from 10.0.0.1");
        assert!(
            g3.filters.iter().any(|f| f.matches_text("IPAddress != \"10.0.0.1\"")),
            "{:?}",
            g3.filters
        );
        let _ = g;
    }

    #[test]
    fn top_n_and_count_by() {
        let g = gen_ok("top 5 users with failed sign-ins");
        assert!(g.kql.contains("summarize Count = count() by UserPrincipalName"), "{}", g.kql);
        assert!(g.kql.contains("top 5 by Count desc"), "{}", g.kql);
        let g = gen_ok("count alerts by severity in the last 30 days");
        assert_eq!(g.table, "AlertInfo");
        assert!(g.kql.contains("by Severity"), "{}", g.kql);
        let g = gen_ok("how many distinct devices connected to 185.220.101.4");
        assert!(g.kql.contains("dcount(DeviceName)"), "{}", g.kql);
    }

    #[test]
    fn distinct_and_timechart() {
        let g = gen_ok("which devices ran rundll32 in the last 3 days");
        assert!(g.kql.contains("by DeviceName"), "{}", g.kql);
        let g = gen_ok("failed logons per hour today");
        assert_eq!(g.table, "DeviceLogonEvents");
        assert!(g.kql.contains("bin(TimeGenerated, 1h)"), "{}", g.kql);
    }

    #[test]
    fn incidents_and_alerts() {
        let g = gen_ok("show incident 7");
        assert_eq!(g.table, "SecurityIncident");
        assert!(g.filters.iter().any(|f| f.matches_text("IncidentNumber == 7")));
        let g = gen_ok("high severity alerts this week");
        assert!(g.filters.iter().any(|f| f.matches_text("Severity == \"High\"")));
    }

    #[test]
    fn hash_and_ip_fallbacks() {
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let g = gen_ok(&format!("where was {sha} seen?"));
        assert_eq!(g.table, "DeviceFileEvents");
        assert!(g.filters.iter().any(|f| f.column == "SHA256"));
        let g = gen_ok("anything talking to 45.153.160.140?");
        assert_eq!(g.table, "DeviceNetworkEvents");
        assert!(g.filters.iter().any(|f| f.matches_text("RemoteIP == \"45.153.160.140\"")));
    }

    #[test]
    fn quoted_values_filter_the_text_column() {
        let g = gen_ok("emails with subject \"Invoice overdue\" in the last 2 days");
        assert_eq!(g.table, "EmailEvents");
        assert!(
            g.filters.iter().any(|f| f.matches_text("Subject has \"Invoice overdue\"")),
            "{:?}",
            g.filters
        );
    }

    #[test]
    fn hostile_questions_still_give_valid_kql() {
        for q in [
            "",
            "\"",
            "show processes with command line \"a\\\"b\\\\\"",
            "top 99999999999999999999 users",
            "emails from \"'; drop table x; --\"",
        ] {
            let g = generate(q);
            assert!(g.valid, "{q:?}: {}\n{:?}", g.kql, g.diagnostics);
        }
    }
}
