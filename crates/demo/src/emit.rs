//! Writing events into per-table Arrow batches with Defender XDR / Sentinel column names.
//!
//! Column indices are resolved once per table (the `columns!` structs name each column exactly
//! as the schema does), so emitting a row is a handful of appends with no lookups.
use crate::Error;
use crate::tenant::{Account, Device};
use arrow::record_batch::RecordBatch;
use bulwark_model::{BatchBuilder, SchemaRegistry, TableSchema};
use std::sync::Arc;

/// Receives finished batches: `(table, batch)`.
pub type Sink<'a> = dyn FnMut(&'static str, RecordBatch) -> Result<(), Error> + 'a;

/// Index of `name` in `t`, or `usize::MAX` (which [`BatchBuilder`] ignores) when absent.
fn idx(t: &TableSchema, name: &str) -> usize {
    t.index_of(name).unwrap_or(usize::MAX)
}

macro_rules! columns {
    ($name:ident { $($field:ident),* $(,)? }) => {
        // Every column a table offers is listed, used or not, so the struct documents the table.
        #[allow(non_snake_case, dead_code)]
        #[derive(Debug, Clone)]
        pub(crate) struct $name { $(pub $field: usize),* }
        impl $name {
            fn resolve(t: &TableSchema) -> Self { Self { $($field: idx(t, stringify!($field))),* } }
            #[cfg(test)]
            fn missing(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $( if self.$field == usize::MAX { out.push(stringify!($field)); } )*
                out
            }
        }
    };
}

columns!(DeviceCommon {
    Timestamp,
    TimeGenerated,
    DeviceId,
    DeviceName,
    MachineGroup,
    ReportId,
    ActionType,
    InitiatingProcessAccountDomain,
    InitiatingProcessAccountName,
    InitiatingProcessAccountSid,
    InitiatingProcessAccountUpn,
    InitiatingProcessAccountObjectId,
    InitiatingProcessCommandLine,
    InitiatingProcessFileName,
    InitiatingProcessFolderPath,
    InitiatingProcessId,
    InitiatingProcessIntegrityLevel,
    InitiatingProcessSHA256,
    InitiatingProcessSHA1,
    InitiatingProcessMD5,
    InitiatingProcessParentFileName,
    InitiatingProcessParentId,
    InitiatingProcessCreationTime,
});
columns!(ProcessCols {
    FileName,
    FolderPath,
    ProcessCommandLine,
    ProcessId,
    ProcessCreationTime,
    SHA256,
    SHA1,
    MD5,
    AccountDomain,
    AccountName,
    AccountSid,
    AccountUpn,
    AccountObjectId,
    ProcessIntegrityLevel,
    ProcessTokenElevation,
    LogonId,
});
columns!(NetworkCols {
    LocalIP,
    LocalPort,
    RemoteIP,
    RemotePort,
    RemoteUrl,
    Protocol,
    RemoteIPType,
    LocalIPType,
});
columns!(FileCols {
    FileName,
    FolderPath,
    SHA256,
    SHA1,
    MD5,
    FileSize,
    FileOriginUrl,
    FileOriginIP,
    ShareName,
    PreviousFileName,
});
columns!(RegistryCols { RegistryKey, RegistryValueName, RegistryValueData, RegistryValueType });
columns!(LogonCols {
    AccountDomain,
    AccountName,
    AccountSid,
    LogonType,
    RemoteIP,
    RemoteDeviceName,
    Protocol,
    FailureReason,
    IsLocalAdmin,
    LogonId,
    RemoteIPType,
});
columns!(ImageCols { FileName, FolderPath, SHA256, SHA1, MD5 });
columns!(EventCols {
    FileName,
    FolderPath,
    SHA256,
    AccountName,
    AccountDomain,
    AccountSid,
    ProcessCommandLine,
    RemoteUrl,
    RemoteIP,
    RemotePort,
    RegistryKey,
    RegistryValueName,
    RegistryValueData,
    AdditionalFields,
    FileOriginUrl,
});
columns!(InfoCols {
    Timestamp,
    TimeGenerated,
    DeviceId,
    DeviceName,
    MachineGroup,
    ReportId,
    OSPlatform,
    OSVersion,
    OSBuild,
    OSArchitecture,
    PublicIP,
    IsAzureADJoined,
    LoggedOnUsers,
    DeviceType,
    DeviceCategory,
    OnboardingStatus,
    SensorHealthState,
    ExposureLevel,
    IsInternetFacing,
    AssetValue,
    JoinType,
    ClientVersion,
});
columns!(EmailCols {
    Timestamp,
    TimeGenerated,
    ReportId,
    NetworkMessageId,
    InternetMessageId,
    SenderFromAddress,
    SenderFromDomain,
    SenderMailFromAddress,
    SenderMailFromDomain,
    SenderIPv4,
    RecipientEmailAddress,
    RecipientObjectId,
    Subject,
    EmailDirection,
    DeliveryAction,
    DeliveryLocation,
    AttachmentCount,
    UrlCount,
    ThreatTypes,
    DetectionMethods,
    EmailLanguage,
    ConfidenceLevel,
    OrgLevelAction,
});
columns!(AttachmentCols {
    Timestamp,
    TimeGenerated,
    ReportId,
    NetworkMessageId,
    SenderFromAddress,
    RecipientEmailAddress,
    RecipientObjectId,
    FileName,
    FileType,
    SHA256,
    FileSize,
    ThreatTypes,
    ThreatNames,
    DetectionMethods,
});
columns!(UrlInfoCols {
    Timestamp,
    TimeGenerated,
    ReportId,
    NetworkMessageId,
    Url,
    UrlDomain,
    UrlLocation
});
columns!(ClickCols {
    Timestamp,
    TimeGenerated,
    ReportId,
    Url,
    UrlChain,
    ActionType,
    AccountUpn,
    Workload,
    NetworkMessageId,
    IPAddress,
    ThreatTypes,
    DetectionMethods,
    IsClickedThrough,
    Type,
    TenantId,
});
columns!(IdentityCols {
    Timestamp,
    TimeGenerated,
    ReportId,
    ActionType,
    Application,
    LogonType,
    Protocol,
    FailureReason,
    AccountName,
    AccountDomain,
    AccountUpn,
    AccountSid,
    AccountObjectId,
    AccountDisplayName,
    DeviceName,
    IPAddress,
    DestinationDeviceName,
    DestinationIPAddress,
    DestinationPort,
    Type,
    TenantId,
    OSPlatform,
    DeviceType,
});
columns!(SigninCols {
    TenantId,
    TimeGenerated,
    CreatedDateTime,
    OperationName,
    Category,
    ResultType,
    ResultDescription,
    Identity,
    Location,
    AppDisplayName,
    AppId,
    AuthenticationRequirement,
    ClientAppUsed,
    ConditionalAccessStatus,
    DeviceDetail,
    IsInteractive,
    Id,
    CorrelationId,
    IPAddress,
    LocationDetails,
    MfaDetail,
    RiskLevelDuringSignIn,
    RiskLevelAggregated,
    RiskState,
    RiskDetail,
    ResourceDisplayName,
    Status,
    UserAgent,
    UserDisplayName,
    UserId,
    UserPrincipalName,
    UserType,
    Type,
    SourceSystem,
    AuthenticationDetails,
    IsRisky,
    NetworkLocationDetails,
    AADTenantId,
    Level,
});
columns!(AuditCols {
    TenantId,
    TimeGenerated,
    OperationName,
    Category,
    Result,
    ResultReason,
    Identity,
    InitiatedBy,
    TargetResources,
    AdditionalDetails,
    Id,
    CorrelationId,
    LoggedByService,
    ActivityDisplayName,
    ActivityDateTime,
    AADOperationType,
    Type,
    SourceSystem,
    OperationVersion,
    Level,
});
columns!(OfficeCols {
    TenantId,
    TimeGenerated,
    Operation,
    OfficeWorkload,
    RecordType,
    ResultStatus,
    UserId,
    UserKey,
    UserType,
    ClientIP,
    OfficeObjectId,
    Parameters,
    Site_Url,
    SourceFileName,
    SourceFileExtension,
    SourceRelativeUrl,
    ItemType,
    MailboxOwnerUPN,
    ClientInfoString,
    OrganizationName,
    OrganizationId,
    OfficeId,
    ExternalAccess,
    UserAgent,
    Type,
    SourceSystem,
    Folder,
});
columns!(SecEventCols {
    TenantId,
    TimeGenerated,
    SourceSystem,
    Computer,
    EventSourceName,
    Channel,
    Task,
    Level,
    EventID,
    Activity,
    Account,
    AccountType,
    AccountName,
    AccountDomain,
    SubjectUserName,
    SubjectDomainName,
    SubjectUserSid,
    SubjectLogonId,
    TargetUserName,
    TargetDomainName,
    TargetUserSid,
    TargetLogonId,
    LogonType,
    LogonTypeName,
    LogonProcessName,
    AuthenticationPackageName,
    WorkstationName,
    IpAddress,
    IpPort,
    Status,
    SubStatus,
    FailureReason,
    ProcessName,
    CommandLine,
    NewProcessName,
    ParentProcessName,
    ServiceName,
    ServiceFileName,
    EventData,
    Type,
    ElevatedToken,
    ImpersonationLevel,
    LmPackageName,
    KeyLength,
    LogonGuid,
    ServiceAccount,
    ServiceStartType,
    ServiceType,
});
columns!(SyslogCols {
    TenantId,
    TimeGenerated,
    SourceSystem,
    Computer,
    EventTime,
    Facility,
    HostName,
    SeverityLevel,
    SyslogMessage,
    ProcessID,
    HostIP,
    ProcessName,
    Type,
});
columns!(CefCols {
    TenantId,
    TimeGenerated,
    SourceSystem,
    DeviceVendor,
    DeviceProduct,
    DeviceVersion,
    DeviceEventClassID,
    Activity,
    LogSeverity,
    DeviceAction,
    SimplifiedDeviceAction,
    Computer,
    ApplicationProtocol,
    DestinationPort,
    DestinationIP,
    DestinationHostName,
    SourceIP,
    SourcePort,
    SourceUserName,
    SentBytes,
    ReceivedBytes,
    Protocol,
    RequestURL,
    CommunicationDirection,
    DeviceName,
    Message,
    Type,
    EventCount,
    ReceiptTime,
});
columns!(AlertCols {
    TenantId,
    TimeGenerated,
    Timestamp,
    AlertId,
    Title,
    Category,
    Severity,
    ServiceSource,
    DetectionSource,
    AttackTechniques,
    Type,
    SourceSystem,
});
columns!(EvidenceCols {
    TenantId,
    TimeGenerated,
    Timestamp,
    AlertId,
    Title,
    Categories,
    AttackTechniques,
    ServiceSource,
    DetectionSource,
    EntityType,
    EvidenceRole,
    EvidenceDirection,
    FileName,
    FolderPath,
    SHA1,
    SHA256,
    FileSize,
    ThreatFamily,
    RemoteIP,
    RemoteUrl,
    AccountName,
    AccountDomain,
    AccountSid,
    AccountObjectId,
    AccountUpn,
    DeviceId,
    DeviceName,
    LocalIP,
    NetworkMessageId,
    EmailSubject,
    ProcessCommandLine,
    AdditionalFields,
    RegistryKey,
    RegistryValueName,
    RegistryValueData,
    Type,
    SourceSystem,
});

/// A running process as events see it: the acting (initiating) process or the one created.
#[derive(Debug, Clone, Copy)]
pub struct Proc<'a> {
    /// Image file name (`powershell.exe`).
    pub file_name: &'a str,
    /// Full image path including the file name, as Defender's FolderPath.
    pub path: &'a str,
    /// Command line.
    pub command_line: &'a str,
    /// Process id.
    pub pid: i64,
    /// Creation time (ns since epoch).
    pub created: i64,
    /// Image hashes.
    pub sha256: &'a str,
    /// SHA-1.
    pub sha1: &'a str,
    /// MD5.
    pub md5: &'a str,
    /// Account it runs as.
    pub account: &'a Account,
    /// Integrity level (`Medium`, `High`, `System`).
    pub integrity: &'a str,
    /// Its parent's image name.
    pub parent_file_name: &'a str,
    /// Its parent's pid.
    pub parent_pid: i64,
}

struct Out<C> {
    name: &'static str,
    b: BatchBuilder,
    c: C,
    written: u64,
}

impl<C> Out<C> {
    fn new(
        registry: &SchemaRegistry,
        name: &'static str,
        capacity: usize,
        resolve: fn(&TableSchema) -> C,
    ) -> Result<Self, Error> {
        let schema: Arc<TableSchema> =
            registry.get(name).cloned().ok_or(Error::MissingTable(name))?;
        let c = resolve(&schema);
        Ok(Out { name, b: BatchBuilder::new(schema, capacity), c, written: 0 })
    }
}

fn put(b: &mut BatchBuilder, col: usize, v: &str) {
    if !v.is_empty() {
        b.set_str(col, v);
    }
}

/// Holds a batch builder per table and hands full batches to the sink.
pub struct Emitter<'s> {
    sink: &'s mut Sink<'s>,
    batch_rows: usize,
    report_id: i64,
    tenant_id: String,
    proc_common: DeviceCommon,
    proc: Out<ProcessCols>,
    net_common: DeviceCommon,
    net: Out<NetworkCols>,
    file_common: DeviceCommon,
    file: Out<FileCols>,
    reg_common: DeviceCommon,
    reg: Out<RegistryCols>,
    logon_common: DeviceCommon,
    logon: Out<LogonCols>,
    image_common: DeviceCommon,
    image: Out<ImageCols>,
    event_common: DeviceCommon,
    event: Out<EventCols>,
    info: Out<InfoCols>,
    email: Out<EmailCols>,
    attachment: Out<AttachmentCols>,
    url_info: Out<UrlInfoCols>,
    click: Out<ClickCols>,
    identity: Out<IdentityCols>,
    signin: Out<SigninCols>,
    audit: Out<AuditCols>,
    office: Out<OfficeCols>,
    sec: Out<SecEventCols>,
    syslog: Out<SyslogCols>,
    cef: Out<CefCols>,
    alert: Out<AlertCols>,
    evidence: Out<EvidenceCols>,
}

macro_rules! flush_if_full {
    ($self:ident, $out:ident) => {{
        $self.$out.b.end_row();
        if $self.$out.b.rows() >= $self.batch_rows {
            let batch = $self.$out.b.finish()?;
            $self.$out.written += batch.num_rows() as u64;
            ($self.sink)($self.$out.name, batch)?;
        }
    }};
}

impl<'s> Emitter<'s> {
    /// An emitter for the built-in tables, flushing every `batch_rows` rows per table.
    pub fn new(sink: &'s mut Sink<'s>, batch_rows: usize, tenant_id: &str) -> Result<Self, Error> {
        let r = SchemaRegistry::builtin();
        let cap = batch_rows.min(1 << 16);
        let common = |name: &str| -> Result<DeviceCommon, Error> {
            Ok(DeviceCommon::resolve(r.get(name).ok_or(Error::MissingTable("Device*"))?))
        };
        Ok(Emitter {
            sink,
            batch_rows,
            report_id: 0,
            tenant_id: tenant_id.to_string(),
            proc_common: common("DeviceProcessEvents")?,
            proc: Out::new(&r, "DeviceProcessEvents", cap, ProcessCols::resolve)?,
            net_common: common("DeviceNetworkEvents")?,
            net: Out::new(&r, "DeviceNetworkEvents", cap, NetworkCols::resolve)?,
            file_common: common("DeviceFileEvents")?,
            file: Out::new(&r, "DeviceFileEvents", cap, FileCols::resolve)?,
            reg_common: common("DeviceRegistryEvents")?,
            reg: Out::new(&r, "DeviceRegistryEvents", cap, RegistryCols::resolve)?,
            logon_common: common("DeviceLogonEvents")?,
            logon: Out::new(&r, "DeviceLogonEvents", cap, LogonCols::resolve)?,
            image_common: common("DeviceImageLoadEvents")?,
            image: Out::new(&r, "DeviceImageLoadEvents", cap, ImageCols::resolve)?,
            event_common: common("DeviceEvents")?,
            event: Out::new(&r, "DeviceEvents", cap, EventCols::resolve)?,
            info: Out::new(&r, "DeviceInfo", 1024, InfoCols::resolve)?,
            email: Out::new(&r, "EmailEvents", cap, EmailCols::resolve)?,
            attachment: Out::new(&r, "EmailAttachmentInfo", cap, AttachmentCols::resolve)?,
            url_info: Out::new(&r, "EmailUrlInfo", cap, UrlInfoCols::resolve)?,
            click: Out::new(&r, "UrlClickEvents", cap, ClickCols::resolve)?,
            identity: Out::new(&r, "IdentityLogonEvents", cap, IdentityCols::resolve)?,
            signin: Out::new(&r, "SigninLogs", cap, SigninCols::resolve)?,
            audit: Out::new(&r, "AuditLogs", cap, AuditCols::resolve)?,
            office: Out::new(&r, "OfficeActivity", cap, OfficeCols::resolve)?,
            sec: Out::new(&r, "SecurityEvent", cap, SecEventCols::resolve)?,
            syslog: Out::new(&r, "Syslog", cap, SyslogCols::resolve)?,
            cef: Out::new(&r, "CommonSecurityLog", cap, CefCols::resolve)?,
            alert: Out::new(&r, "AlertInfo", 1024, AlertCols::resolve)?,
            evidence: Out::new(&r, "AlertEvidence", 1024, EvidenceCols::resolve)?,
        })
    }

    /// Hands every partly filled batch to the sink. Returns rows written per table.
    pub fn finish(mut self) -> Result<Vec<(&'static str, u64)>, Error> {
        macro_rules! drain {
            ($($out:ident),*) => {{
                let mut totals = Vec::new();
                $(
                    if self.$out.b.rows() > 0 {
                        let batch = self.$out.b.finish()?;
                        self.$out.written += batch.num_rows() as u64;
                        (self.sink)(self.$out.name, batch)?;
                    }
                    totals.push((self.$out.name, self.$out.written));
                )*
                totals
            }};
        }
        Ok(drain!(
            proc, net, file, reg, logon, image, event, info, email, attachment, url_info, click,
            identity, signin, audit, office, sec, syslog, cef, alert, evidence
        ))
    }

    fn next_report_id(&mut self) -> i64 {
        self.report_id += 1;
        self.report_id
    }

    fn device_common(
        b: &mut BatchBuilder,
        c: &DeviceCommon,
        time: i64,
        dev: &Device,
        action: &str,
        report: i64,
        by: &Proc<'_>,
    ) {
        b.set_time_ns(c.Timestamp, time);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_str(c.DeviceId, &dev.id);
        b.set_str(c.DeviceName, &dev.name);
        b.set_str(c.MachineGroup, dev.machine_group);
        b.set_i64(c.ReportId, report);
        b.set_str(c.ActionType, action);
        put(b, c.InitiatingProcessAccountDomain, &by.account.domain.to_lowercase());
        put(b, c.InitiatingProcessAccountName, &by.account.name);
        put(b, c.InitiatingProcessAccountSid, &by.account.sid);
        put(b, c.InitiatingProcessAccountUpn, &by.account.upn);
        put(b, c.InitiatingProcessAccountObjectId, &by.account.object_id);
        put(b, c.InitiatingProcessCommandLine, by.command_line);
        put(b, c.InitiatingProcessFileName, by.file_name);
        put(b, c.InitiatingProcessFolderPath, by.path);
        b.set_i64(c.InitiatingProcessId, by.pid);
        put(b, c.InitiatingProcessIntegrityLevel, by.integrity);
        put(b, c.InitiatingProcessSHA256, by.sha256);
        put(b, c.InitiatingProcessSHA1, by.sha1);
        put(b, c.InitiatingProcessMD5, by.md5);
        put(b, c.InitiatingProcessParentFileName, by.parent_file_name);
        b.set_i64(c.InitiatingProcessParentId, by.parent_pid);
        b.set_time_ns(c.InitiatingProcessCreationTime, by.created);
    }

    /// DeviceProcessEvents: `parent` created `child`.
    pub fn process(
        &mut self,
        time: i64,
        dev: &Device,
        parent: &Proc<'_>,
        child: &Proc<'_>,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.proc.b;
        Self::device_common(b, &self.proc_common, time, dev, "ProcessCreated", report, parent);
        let c = &self.proc.c;
        b.set_str(c.FileName, child.file_name);
        b.set_str(c.FolderPath, child.path);
        b.set_str(c.ProcessCommandLine, child.command_line);
        b.set_i64(c.ProcessId, child.pid);
        b.set_time_ns(c.ProcessCreationTime, time);
        put(b, c.SHA256, child.sha256);
        put(b, c.SHA1, child.sha1);
        put(b, c.MD5, child.md5);
        b.set_str(c.AccountDomain, &child.account.domain.to_lowercase());
        b.set_str(c.AccountName, &child.account.name);
        b.set_str(c.AccountSid, &child.account.sid);
        put(b, c.AccountUpn, &child.account.upn);
        put(b, c.AccountObjectId, &child.account.object_id);
        b.set_str(c.ProcessIntegrityLevel, child.integrity);
        b.set_str(
            c.ProcessTokenElevation,
            if child.integrity == "High" {
                "TokenElevationTypeFull"
            } else {
                "TokenElevationTypeDefault"
            },
        );
        flush_if_full!(self, proc);
        Ok(())
    }

    /// DeviceNetworkEvents.
    #[allow(clippy::too_many_arguments)]
    pub fn network(
        &mut self,
        time: i64,
        dev: &Device,
        by: &Proc<'_>,
        action: &str,
        local_port: i64,
        remote_ip: &str,
        remote_port: i64,
        remote_url: &str,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.net.b;
        Self::device_common(b, &self.net_common, time, dev, action, report, by);
        let c = &self.net.c;
        b.set_str(c.LocalIP, &dev.ip);
        b.set_i64(c.LocalPort, local_port);
        b.set_str(c.RemoteIP, remote_ip);
        b.set_i64(c.RemotePort, remote_port);
        put(b, c.RemoteUrl, remote_url);
        b.set_str(c.Protocol, if remote_port == 53 { "Udp" } else { "Tcp" });
        b.set_str(c.LocalIPType, "Private");
        b.set_str(c.RemoteIPType, ip_type(remote_ip));
        flush_if_full!(self, net);
        Ok(())
    }

    /// DeviceFileEvents.
    #[allow(clippy::too_many_arguments)]
    pub fn file(
        &mut self,
        time: i64,
        dev: &Device,
        by: &Proc<'_>,
        action: &str,
        file_name: &str,
        path: &str,
        sha256: &str,
        size: i64,
        origin_url: &str,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.file.b;
        Self::device_common(b, &self.file_common, time, dev, action, report, by);
        let c = &self.file.c;
        b.set_str(c.FileName, file_name);
        b.set_str(c.FolderPath, path);
        put(b, c.SHA256, sha256);
        if size > 0 {
            b.set_i64(c.FileSize, size);
        }
        put(b, c.FileOriginUrl, origin_url);
        flush_if_full!(self, file);
        Ok(())
    }

    /// DeviceRegistryEvents.
    #[allow(clippy::too_many_arguments)]
    pub fn registry(
        &mut self,
        time: i64,
        dev: &Device,
        by: &Proc<'_>,
        action: &str,
        key: &str,
        value_name: &str,
        value_data: &str,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.reg.b;
        Self::device_common(b, &self.reg_common, time, dev, action, report, by);
        let c = &self.reg.c;
        b.set_str(c.RegistryKey, key);
        put(b, c.RegistryValueName, value_name);
        put(b, c.RegistryValueData, value_data);
        if !value_name.is_empty() {
            b.set_str(
                c.RegistryValueType,
                if value_data.bytes().all(|b| b.is_ascii_digit()) && !value_data.is_empty() {
                    "Dword"
                } else {
                    "String"
                },
            );
        }
        flush_if_full!(self, reg);
        Ok(())
    }

    /// DeviceLogonEvents.
    #[allow(clippy::too_many_arguments)]
    pub fn logon(
        &mut self,
        time: i64,
        dev: &Device,
        by: &Proc<'_>,
        success: bool,
        account: &Account,
        logon_type: &str,
        remote_ip: &str,
        remote_device: &str,
        is_local_admin: bool,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.logon.b;
        let action = if success { "LogonSuccess" } else { "LogonFailed" };
        Self::device_common(b, &self.logon_common, time, dev, action, report, by);
        let c = &self.logon.c;
        b.set_str(c.AccountDomain, &account.domain.to_lowercase());
        b.set_str(c.AccountName, &account.name);
        b.set_str(c.AccountSid, &account.sid);
        b.set_str(c.LogonType, logon_type);
        put(b, c.RemoteIP, remote_ip);
        if !remote_ip.is_empty() {
            b.set_str(c.RemoteIPType, ip_type(remote_ip));
        }
        put(b, c.RemoteDeviceName, remote_device);
        b.set_str(c.Protocol, if logon_type == "Network" { "NTLM" } else { "Kerberos" });
        if !success {
            b.set_str(c.FailureReason, "InvalidUserNameOrPassword");
        }
        b.set_bool(c.IsLocalAdmin, is_local_admin);
        b.set_i64(c.LogonId, report * 7919 % 1_000_000_007);
        flush_if_full!(self, logon);
        Ok(())
    }

    /// DeviceImageLoadEvents.
    pub fn image_load(
        &mut self,
        time: i64,
        dev: &Device,
        by: &Proc<'_>,
        dll: &crate::catalog::Binary,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.image.b;
        Self::device_common(b, &self.image_common, time, dev, "ImageLoaded", report, by);
        let c = &self.image.c;
        b.set_str(c.FileName, dll.name);
        b.set_str(c.FolderPath, &dll.path);
        b.set_str(c.SHA256, &dll.sha256);
        b.set_str(c.SHA1, &dll.sha1);
        b.set_str(c.MD5, &dll.md5);
        flush_if_full!(self, image);
        Ok(())
    }

    /// DeviceEvents (miscellaneous sensor events).
    pub fn device_event(
        &mut self,
        time: i64,
        dev: &Device,
        by: &Proc<'_>,
        action: &str,
        ev: &DeviceEventFields<'_>,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.event.b;
        Self::device_common(b, &self.event_common, time, dev, action, report, by);
        let c = &self.event.c;
        put(b, c.FileName, ev.file_name);
        put(b, c.FolderPath, ev.folder_path);
        put(b, c.SHA256, ev.sha256);
        if let Some(a) = ev.account {
            b.set_str(c.AccountName, &a.name);
            b.set_str(c.AccountDomain, &a.domain.to_lowercase());
            b.set_str(c.AccountSid, &a.sid);
        }
        put(b, c.ProcessCommandLine, ev.process_command_line);
        put(b, c.RemoteUrl, ev.remote_url);
        put(b, c.RemoteIP, ev.remote_ip);
        if ev.remote_port > 0 {
            b.set_i64(c.RemotePort, ev.remote_port);
        }
        put(b, c.RegistryKey, ev.registry_key);
        put(b, c.RegistryValueName, ev.registry_value_name);
        put(b, c.RegistryValueData, ev.registry_value_data);
        put(b, c.AdditionalFields, ev.additional_fields);
        put(b, c.FileOriginUrl, ev.file_origin_url);
        flush_if_full!(self, event);
        Ok(())
    }

    /// DeviceInfo snapshot.
    pub fn device_info(&mut self, time: i64, dev: &Device, logged_on: &str) -> Result<(), Error> {
        use crate::tenant::DeviceKind;
        let report = self.next_report_id();
        let b = &mut self.info.b;
        let c = &self.info.c;
        b.set_time_ns(c.Timestamp, time);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_str(c.DeviceId, &dev.id);
        b.set_str(c.DeviceName, &dev.name);
        b.set_str(c.MachineGroup, dev.machine_group);
        b.set_i64(c.ReportId, report);
        let (platform, version, build) = match dev.kind {
            DeviceKind::Workstation => ("Windows11", "23H2", 22631),
            DeviceKind::Server | DeviceKind::DomainController => {
                ("WindowsServer2022", "21H2", 20348)
            }
            DeviceKind::LinuxServer => ("Linux", "Ubuntu 22.04", 0),
        };
        b.set_str(c.OSPlatform, platform);
        b.set_str(c.OSVersion, version);
        if build > 0 {
            b.set_i64(c.OSBuild, build);
        }
        b.set_str(c.OSArchitecture, "64-bit");
        b.set_str(c.PublicIP, crate::tenant::CORP_EGRESS_IP);
        b.set_bool(c.IsAzureADJoined, dev.kind == DeviceKind::Workstation);
        b.set_str(c.LoggedOnUsers, logged_on);
        b.set_str(
            c.DeviceType,
            if dev.kind == DeviceKind::Workstation { "Workstation" } else { "Server" },
        );
        b.set_str(c.DeviceCategory, "Endpoint");
        b.set_str(c.OnboardingStatus, "Onboarded");
        b.set_str(c.SensorHealthState, "Active");
        b.set_str(c.ExposureLevel, if dev.is_critical() { "High" } else { "Medium" });
        b.set_bool(c.IsInternetFacing, dev.role.contains("Public"));
        b.set_str(c.AssetValue, if dev.is_critical() { "High" } else { "Normal" });
        b.set_str(
            c.JoinType,
            if dev.kind == DeviceKind::Workstation {
                "Hybrid Azure AD Join"
            } else {
                "Domain Joined"
            },
        );
        b.set_str(c.ClientVersion, "10.8760.22631.1000");
        flush_if_full!(self, info);
        Ok(())
    }

    /// EmailEvents.
    pub fn email(&mut self, time: i64, m: &EmailFields<'_>) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.email.b;
        let c = &self.email.c;
        b.set_time_ns(c.Timestamp, time);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_i64(c.ReportId, report);
        b.set_str(c.NetworkMessageId, m.network_message_id);
        b.set_str(c.InternetMessageId, m.internet_message_id);
        b.set_str(c.SenderFromAddress, m.sender);
        let sender_domain = m.sender.rsplit('@').next().unwrap_or_default();
        b.set_str(c.SenderFromDomain, sender_domain);
        b.set_str(c.SenderMailFromAddress, m.sender);
        b.set_str(c.SenderMailFromDomain, sender_domain);
        put(b, c.SenderIPv4, m.sender_ip);
        b.set_str(c.RecipientEmailAddress, m.recipient);
        put(b, c.RecipientObjectId, m.recipient_object_id);
        b.set_str(c.Subject, m.subject);
        b.set_str(c.EmailDirection, m.direction);
        b.set_str(c.DeliveryAction, m.delivery_action);
        b.set_str(c.DeliveryLocation, m.delivery_location);
        b.set_i64(c.AttachmentCount, m.attachments);
        b.set_i64(c.UrlCount, m.urls);
        put(b, c.ThreatTypes, m.threat_types);
        put(b, c.DetectionMethods, m.detection_methods);
        b.set_str(c.EmailLanguage, "en");
        flush_if_full!(self, email);
        Ok(())
    }

    /// EmailAttachmentInfo.
    #[allow(clippy::too_many_arguments)]
    pub fn attachment(
        &mut self,
        time: i64,
        network_message_id: &str,
        sender: &str,
        recipient: &str,
        recipient_object_id: &str,
        file_name: &str,
        sha256: &str,
        size: i64,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.attachment.b;
        let c = &self.attachment.c;
        b.set_time_ns(c.Timestamp, time);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_i64(c.ReportId, report);
        b.set_str(c.NetworkMessageId, network_message_id);
        b.set_str(c.SenderFromAddress, sender);
        b.set_str(c.RecipientEmailAddress, recipient);
        put(b, c.RecipientObjectId, recipient_object_id);
        b.set_str(c.FileName, file_name);
        b.set_str(c.FileType, file_name.rsplit('.').next().unwrap_or_default());
        b.set_str(c.SHA256, sha256);
        b.set_i64(c.FileSize, size);
        flush_if_full!(self, attachment);
        Ok(())
    }

    /// EmailUrlInfo.
    pub fn email_url(
        &mut self,
        time: i64,
        network_message_id: &str,
        url: &str,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.url_info.b;
        let c = &self.url_info.c;
        b.set_time_ns(c.Timestamp, time);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_i64(c.ReportId, report);
        b.set_str(c.NetworkMessageId, network_message_id);
        b.set_str(c.Url, url);
        b.set_str(c.UrlDomain, url_host(url));
        b.set_str(c.UrlLocation, "Body");
        flush_if_full!(self, url_info);
        Ok(())
    }

    /// UrlClickEvents.
    pub fn url_click(
        &mut self,
        time: i64,
        upn: &str,
        url: &str,
        network_message_id: &str,
        ip: &str,
        blocked: bool,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.click.b;
        let c = &self.click.c;
        b.set_time_ns(c.Timestamp, time);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_i64(c.ReportId, report);
        b.set_str(c.Url, url);
        b.set_str(c.UrlChain, &format!("[\"{}\"]", url.replace('"', "")));
        b.set_str(c.ActionType, if blocked { "ClickBlocked" } else { "ClickAllowed" });
        b.set_str(c.AccountUpn, upn);
        b.set_str(c.Workload, "Email");
        b.set_str(c.NetworkMessageId, network_message_id);
        b.set_str(c.IPAddress, ip);
        b.set_bool(c.IsClickedThrough, !blocked);
        b.set_str(c.Type, "UrlClickEvents");
        b.set_str(c.TenantId, &self.tenant_id);
        flush_if_full!(self, click);
        Ok(())
    }

    /// IdentityLogonEvents (domain controller authentications seen by Defender for Identity).
    #[allow(clippy::too_many_arguments)]
    pub fn identity_logon(
        &mut self,
        time: i64,
        account: &Account,
        display: &str,
        success: bool,
        protocol: &str,
        from: &Device,
        dc: &Device,
    ) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.identity.b;
        let c = &self.identity.c;
        b.set_time_ns(c.Timestamp, time);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_i64(c.ReportId, report);
        b.set_str(c.ActionType, if success { "LogonSuccess" } else { "LogonFailed" });
        b.set_str(c.Application, "Active Directory");
        b.set_str(
            c.LogonType,
            if protocol == "Kerberos" { "Resource access" } else { "Credentials validation" },
        );
        b.set_str(c.Protocol, protocol);
        if !success {
            b.set_str(c.FailureReason, "WrongPassword");
        }
        b.set_str(c.AccountName, &account.name);
        b.set_str(c.AccountDomain, &account.domain.to_lowercase());
        put(b, c.AccountUpn, &account.upn);
        b.set_str(c.AccountSid, &account.sid);
        put(b, c.AccountObjectId, &account.object_id);
        b.set_str(c.AccountDisplayName, display);
        b.set_str(c.DeviceName, &from.name);
        b.set_str(c.IPAddress, &from.ip);
        b.set_str(c.DestinationDeviceName, &dc.name);
        b.set_str(c.DestinationIPAddress, &dc.ip);
        b.set_i64(c.DestinationPort, if protocol == "Kerberos" { 88 } else { 445 });
        b.set_str(c.Type, "IdentityLogonEvents");
        b.set_str(c.TenantId, &self.tenant_id);
        flush_if_full!(self, identity);
        Ok(())
    }

    /// SigninLogs (Entra ID interactive sign-ins).
    pub fn signin(&mut self, time: i64, s: &SigninFields<'_>) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.signin.b;
        let c = &self.signin.c;
        let id = crate::rng::guid(report as u64 ^ 0x5157);
        b.set_str(c.TenantId, &self.tenant_id);
        b.set_str(c.AADTenantId, &self.tenant_id);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_time_ns(c.CreatedDateTime, time);
        b.set_str(c.OperationName, "Sign-in activity");
        b.set_str(c.Category, "SignInLogs");
        b.set_str(c.ResultType, s.result_type);
        b.set_str(c.ResultDescription, s.result_description);
        b.set_str(c.Identity, s.display_name);
        b.set_str(c.Location, s.country);
        b.set_str(c.AppDisplayName, s.app);
        b.set_str(c.AppId, &crate::rng::guid(crate::rng::hash_str(s.app)));
        b.set_str(c.ResourceDisplayName, s.app);
        b.set_str(
            c.AuthenticationRequirement,
            if s.mfa { "multiFactorAuthentication" } else { "singleFactorAuthentication" },
        );
        b.set_str(c.ClientAppUsed, s.client_app);
        b.set_str(
            c.ConditionalAccessStatus,
            if s.result_type == "0" {
                if s.mfa { "success" } else { "notApplied" }
            } else {
                "notApplied"
            },
        );
        b.set_str(c.DeviceDetail, s.device_detail);
        b.set_bool(c.IsInteractive, true);
        b.set_str(c.Id, &id);
        b.set_str(c.CorrelationId, &id);
        b.set_str(c.IPAddress, s.ip);
        b.set_str(
            c.LocationDetails,
            &format!(
                "{{\"city\":\"{}\",\"state\":\"\",\"countryOrRegion\":\"{}\"}}",
                s.city, s.country
            ),
        );
        let risk = if s.risky { "high" } else { "none" };
        b.set_str(c.RiskLevelDuringSignIn, risk);
        b.set_str(c.RiskLevelAggregated, risk);
        b.set_str(c.RiskState, if s.risky { "atRisk" } else { "none" });
        b.set_str(c.RiskDetail, "none");
        b.set_bool(c.IsRisky, s.risky);
        b.set_str(
            c.Status,
            &format!(
                "{{\"errorCode\":{},\"failureReason\":\"{}\"}}",
                s.result_type, s.result_description
            ),
        );
        b.set_str(c.UserAgent, s.user_agent);
        b.set_str(c.UserDisplayName, s.display_name);
        b.set_str(c.UserId, s.object_id);
        b.set_str(c.UserPrincipalName, s.upn);
        b.set_str(c.UserType, "Member");
        b.set_str(c.Type, "SigninLogs");
        b.set_str(c.SourceSystem, "Azure AD");
        b.set_str(c.Level, "4");
        b.set_str(c.AuthenticationDetails, if s.mfa { "[{\"authenticationMethod\":\"Password\",\"succeeded\":true},{\"authenticationMethod\":\"Mobile app notification\",\"succeeded\":true}]" } else { "[{\"authenticationMethod\":\"Password\",\"succeeded\":true}]" });
        flush_if_full!(self, signin);
        Ok(())
    }

    /// AuditLogs (Entra ID directory changes).
    pub fn audit(&mut self, time: i64, a: &AuditFields<'_>) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.audit.b;
        let c = &self.audit.c;
        let id = crate::rng::guid(report as u64 ^ 0xa0d1);
        b.set_str(c.TenantId, &self.tenant_id);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_time_ns(c.ActivityDateTime, time);
        b.set_str(c.OperationName, a.operation);
        b.set_str(c.ActivityDisplayName, a.operation);
        b.set_str(c.Category, a.category);
        b.set_str(c.Result, "success");
        b.set_str(c.Identity, a.initiated_by_upn);
        b.set_str(
            c.InitiatedBy,
            &format!(
                "{{\"user\":{{\"userPrincipalName\":\"{}\",\"ipAddress\":\"{}\"}}}}",
                a.initiated_by_upn, a.ip
            ),
        );
        b.set_str(
            c.TargetResources,
            &format!(
                "[{{\"userPrincipalName\":\"{}\",\"type\":\"User\",\"modifiedProperties\":[]}}]",
                a.target_upn
            ),
        );
        b.set_str(c.AdditionalDetails, a.details);
        b.set_str(c.Id, &id);
        b.set_str(c.CorrelationId, &id);
        b.set_str(c.LoggedByService, a.service);
        b.set_str(c.AADOperationType, a.operation_type);
        b.set_str(c.OperationVersion, "1.0");
        b.set_str(c.Type, "AuditLogs");
        b.set_str(c.SourceSystem, "Azure AD");
        b.set_str(c.Level, "4");
        flush_if_full!(self, audit);
        Ok(())
    }

    /// OfficeActivity (Microsoft 365 unified audit log).
    pub fn office(&mut self, time: i64, o: &OfficeFields<'_>) -> Result<(), Error> {
        let report = self.next_report_id();
        let b = &mut self.office.b;
        let c = &self.office.c;
        b.set_str(c.TenantId, &self.tenant_id);
        b.set_str(c.OrganizationId, &self.tenant_id);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_str(c.Operation, o.operation);
        b.set_str(c.OfficeWorkload, o.workload);
        b.set_str(c.RecordType, o.record_type);
        b.set_str(c.ResultStatus, "Succeeded");
        b.set_str(c.UserId, o.user);
        b.set_str(c.UserKey, o.user_key);
        b.set_str(c.UserType, "Regular");
        b.set_str(c.ClientIP, o.client_ip);
        put(b, c.OfficeObjectId, o.object_id);
        put(b, c.Parameters, o.parameters);
        put(b, c.Site_Url, o.site_url);
        put(b, c.SourceFileName, o.file_name);
        put(
            b,
            c.SourceFileExtension,
            o.file_name.rsplit_once('.').map(|x| x.1).unwrap_or_default(),
        );
        put(b, c.SourceRelativeUrl, o.relative_url);
        put(b, c.MailboxOwnerUPN, o.mailbox_owner);
        put(b, c.ClientInfoString, o.client_info);
        put(b, c.Folder, o.folder);
        b.set_str(c.OrganizationName, "contoso.onmicrosoft.com");
        b.set_str(c.OfficeId, &crate::rng::guid(report as u64 ^ 0x0ff1));
        b.set_bool(c.ExternalAccess, false);
        b.set_str(c.Type, "OfficeActivity");
        b.set_str(c.SourceSystem, "OfficeActivityManager");
        flush_if_full!(self, office);
        Ok(())
    }

    /// SecurityEvent (Windows Security log forwarded to Sentinel).
    pub fn security_event(
        &mut self,
        time: i64,
        computer: &str,
        e: &SecurityEventFields<'_>,
    ) -> Result<(), Error> {
        let b = &mut self.sec.b;
        let c = &self.sec.c;
        b.set_str(c.TenantId, &self.tenant_id);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_str(c.SourceSystem, "OpsManager");
        b.set_str(c.Computer, computer);
        b.set_str(c.EventSourceName, "Microsoft-Windows-Security-Auditing");
        b.set_str(c.Channel, "Security");
        b.set_str(c.Level, "8");
        b.set_i64(c.EventID, e.event_id);
        b.set_str(c.Activity, &format!("{} - {}", e.event_id, e.activity));
        b.set_str(c.Type, "SecurityEvent");
        if !e.account_name.is_empty() {
            b.set_str(c.Account, &format!("{}\\{}", e.account_domain, e.account_name));
            b.set_str(
                c.AccountType,
                if e.account_name.ends_with('$') { "Machine" } else { "User" },
            );
        }
        put(b, c.SubjectUserName, e.subject_user);
        put(b, c.SubjectDomainName, e.subject_domain);
        put(b, c.TargetUserName, e.account_name);
        put(b, c.TargetDomainName, e.account_domain);
        put(b, c.TargetUserSid, e.account_sid);
        if e.logon_type > 0 {
            b.set_i64(c.LogonType, e.logon_type);
            b.set_str(
                c.LogonTypeName,
                match e.logon_type {
                    2 => "2 - Interactive",
                    3 => "3 - Network",
                    4 => "4 - Batch",
                    5 => "5 - Service",
                    7 => "7 - Unlock",
                    10 => "10 - RemoteInteractive",
                    _ => "0 - Other",
                },
            );
            b.set_str(c.LogonProcessName, if e.logon_type == 3 { "NtLmSsp " } else { "User32 " });
            b.set_str(
                c.AuthenticationPackageName,
                if e.logon_type == 3 { "NTLM" } else { "Negotiate" },
            );
        }
        put(b, c.WorkstationName, e.workstation);
        put(b, c.IpAddress, e.ip);
        put(b, c.Status, e.status);
        put(b, c.SubStatus, e.sub_status);
        put(b, c.FailureReason, e.failure_reason);
        put(b, c.ProcessName, e.process_name);
        put(b, c.NewProcessName, e.new_process_name);
        put(b, c.ParentProcessName, e.parent_process_name);
        put(b, c.CommandLine, e.command_line);
        put(b, c.ServiceName, e.service_name);
        put(b, c.ServiceFileName, e.service_file_name);
        if e.task_name.is_empty() {
            put(b, c.EventData, e.event_data);
        } else {
            // SecurityEvent has no task columns; 4698's fields travel in EventData.
            let data =
                serde_json::json!({ "TaskName": e.task_name, "TaskContent": e.task_content });
            b.set_str(c.EventData, &data.to_string());
        }
        flush_if_full!(self, sec);
        Ok(())
    }

    /// Syslog.
    #[allow(clippy::too_many_arguments)]
    pub fn syslog(
        &mut self,
        time: i64,
        host: &Device,
        facility: &str,
        severity: &str,
        process: &str,
        pid: i64,
        message: &str,
    ) -> Result<(), Error> {
        let b = &mut self.syslog.b;
        let c = &self.syslog.c;
        b.set_str(c.TenantId, &self.tenant_id);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_time_ns(c.EventTime, time);
        b.set_str(c.SourceSystem, "Linux");
        b.set_str(c.Computer, host.short_name());
        b.set_str(c.HostName, host.short_name());
        b.set_str(c.HostIP, &host.ip);
        b.set_str(c.Facility, facility);
        b.set_str(c.SeverityLevel, severity);
        b.set_str(c.ProcessName, process);
        b.set_i64(c.ProcessID, pid);
        b.set_str(c.SyslogMessage, message);
        b.set_str(c.Type, "Syslog");
        flush_if_full!(self, syslog);
        Ok(())
    }

    /// CommonSecurityLog (perimeter firewall traffic, CEF).
    pub fn firewall(&mut self, time: i64, f: &FirewallFields<'_>) -> Result<(), Error> {
        let b = &mut self.cef.b;
        let c = &self.cef.c;
        b.set_str(c.TenantId, &self.tenant_id);
        b.set_time_ns(c.TimeGenerated, time);
        b.set_str(c.ReceiptTime, &bulwark_model::time::format_datetime_ns(time));
        b.set_str(c.SourceSystem, "OpsManager");
        b.set_str(c.DeviceVendor, "Palo Alto Networks");
        b.set_str(c.DeviceProduct, "PAN-OS");
        b.set_str(c.DeviceVersion, "11.1.2");
        b.set_str(c.DeviceEventClassID, "end");
        b.set_str(c.Activity, "TRAFFIC");
        b.set_str(c.LogSeverity, if f.allowed { "1" } else { "5" });
        b.set_str(c.DeviceAction, if f.allowed { "allow" } else { "deny" });
        b.set_str(c.SimplifiedDeviceAction, if f.allowed { "Allow" } else { "Deny" });
        b.set_str(c.Computer, "fw01.contoso.com");
        b.set_str(c.DeviceName, "fw01");
        b.set_str(c.ApplicationProtocol, f.app);
        b.set_i64(c.DestinationPort, f.dest_port);
        b.set_str(c.DestinationIP, f.dest_ip);
        put(b, c.DestinationHostName, f.dest_host);
        b.set_str(c.SourceIP, f.source_ip);
        b.set_i64(c.SourcePort, f.source_port);
        put(b, c.SourceUserName, f.user);
        b.set_i64(c.SentBytes, f.sent);
        b.set_i64(c.ReceivedBytes, f.received);
        b.set_str(c.Protocol, "TCP");
        put(b, c.RequestURL, f.url);
        b.set_str(c.CommunicationDirection, "Outbound");
        b.set_i64(c.EventCount, 1);
        b.set_str(c.Type, "CommonSecurityLog");
        flush_if_full!(self, cef);
        Ok(())
    }

    /// AlertInfo + AlertEvidence for an alert raised by a Microsoft product (e.g. Defender
    /// Antivirus) that reaches the tenant with its telemetry.
    pub fn product_alert(&mut self, time: i64, a: &ProductAlert<'_>) -> Result<(), Error> {
        {
            let b = &mut self.alert.b;
            let c = &self.alert.c;
            b.set_str(c.TenantId, &self.tenant_id);
            b.set_time_ns(c.TimeGenerated, time);
            b.set_time_ns(c.Timestamp, time);
            b.set_str(c.AlertId, a.alert_id);
            b.set_str(c.Title, a.title);
            b.set_str(c.Category, a.category);
            b.set_str(c.Severity, a.severity);
            b.set_str(c.ServiceSource, a.service_source);
            b.set_str(c.DetectionSource, a.detection_source);
            b.set_str(c.AttackTechniques, a.techniques);
            b.set_str(c.Type, "AlertInfo");
            b.set_str(c.SourceSystem, "Microsoft 365 Defender");
        }
        flush_if_full!(self, alert);
        for e in a.evidence {
            let b = &mut self.evidence.b;
            let c = &self.evidence.c;
            b.set_str(c.TenantId, &self.tenant_id);
            b.set_time_ns(c.TimeGenerated, time);
            b.set_time_ns(c.Timestamp, time);
            b.set_str(c.AlertId, a.alert_id);
            b.set_str(c.Title, a.title);
            b.set_str(c.Categories, &format!("[\"{}\"]", a.category));
            b.set_str(c.AttackTechniques, a.techniques);
            b.set_str(c.ServiceSource, a.service_source);
            b.set_str(c.DetectionSource, a.detection_source);
            b.set_str(c.EntityType, e.entity_type);
            b.set_str(c.EvidenceRole, e.role);
            put(b, c.DeviceName, e.device_name);
            put(b, c.DeviceId, e.device_id);
            put(b, c.AccountName, e.account_name);
            put(b, c.AccountUpn, e.account_upn);
            put(b, c.FileName, e.file_name);
            put(b, c.FolderPath, e.folder_path);
            put(b, c.SHA256, e.sha256);
            put(b, c.ThreatFamily, e.threat_family);
            put(b, c.RemoteUrl, e.remote_url);
            put(b, c.RemoteIP, e.remote_ip);
            b.set_str(c.Type, "AlertEvidence");
            b.set_str(c.SourceSystem, "Microsoft 365 Defender");
            flush_if_full!(self, evidence);
        }
        Ok(())
    }
}

/// Whether an address is private, public, loopback or reserved, as Defender's `*IPType`.
pub fn ip_type(ip: &str) -> &'static str {
    let Ok(addr) = ip.parse::<std::net::Ipv4Addr>() else { return "Public" };
    if addr.is_loopback() {
        "Loopback"
    } else if addr.is_private() {
        "Private"
    } else if addr.is_documentation() || addr.is_unspecified() {
        "Reserved"
    } else {
        "Public"
    }
}

/// The host part of a URL.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |x| x.1);
    rest.split(['/', ':', '?']).next().unwrap_or(rest)
}

/// Optional DeviceEvents columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeviceEventFields<'a> {
    /// FileName.
    pub file_name: &'a str,
    /// FolderPath.
    pub folder_path: &'a str,
    /// SHA256.
    pub sha256: &'a str,
    /// Account*.
    pub account: Option<&'a Account>,
    /// ProcessCommandLine (e.g. a PowerShell command).
    pub process_command_line: &'a str,
    /// RemoteUrl.
    pub remote_url: &'a str,
    /// RemoteIP.
    pub remote_ip: &'a str,
    /// RemotePort.
    pub remote_port: i64,
    /// RegistryKey.
    pub registry_key: &'a str,
    /// RegistryValueName.
    pub registry_value_name: &'a str,
    /// RegistryValueData.
    pub registry_value_data: &'a str,
    /// AdditionalFields (JSON).
    pub additional_fields: &'a str,
    /// FileOriginUrl.
    pub file_origin_url: &'a str,
}

/// EmailEvents columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmailFields<'a> {
    /// NetworkMessageId.
    pub network_message_id: &'a str,
    /// InternetMessageId.
    pub internet_message_id: &'a str,
    /// Sender address.
    pub sender: &'a str,
    /// Sending server address.
    pub sender_ip: &'a str,
    /// Recipient address.
    pub recipient: &'a str,
    /// Recipient object id.
    pub recipient_object_id: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// Inbound, Outbound, Intra-org.
    pub direction: &'a str,
    /// Delivered, Junked, Blocked.
    pub delivery_action: &'a str,
    /// Inbox/folder, Junk folder, Quarantine.
    pub delivery_location: &'a str,
    /// Attachment count.
    pub attachments: i64,
    /// URL count.
    pub urls: i64,
    /// Phish, Malware, Spam.
    pub threat_types: &'a str,
    /// Detection methods (JSON).
    pub detection_methods: &'a str,
}

/// SigninLogs columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct SigninFields<'a> {
    /// UPN.
    pub upn: &'a str,
    /// Display name.
    pub display_name: &'a str,
    /// Object id.
    pub object_id: &'a str,
    /// Application.
    pub app: &'a str,
    /// "0" for success, else the AADSTS code.
    pub result_type: &'a str,
    /// Description of the result.
    pub result_description: &'a str,
    /// Source address.
    pub ip: &'a str,
    /// Country code.
    pub country: &'a str,
    /// City.
    pub city: &'a str,
    /// Browser, Mobile Apps and Desktop clients, Exchange ActiveSync, IMAP4, …
    pub client_app: &'a str,
    /// Whether MFA was satisfied.
    pub mfa: bool,
    /// Whether Identity Protection flagged it.
    pub risky: bool,
    /// User agent.
    pub user_agent: &'a str,
    /// DeviceDetail JSON.
    pub device_detail: &'a str,
}

/// AuditLogs columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuditFields<'a> {
    /// OperationName.
    pub operation: &'a str,
    /// Category.
    pub category: &'a str,
    /// Actor UPN.
    pub initiated_by_upn: &'a str,
    /// Actor address.
    pub ip: &'a str,
    /// Target UPN.
    pub target_upn: &'a str,
    /// AdditionalDetails JSON.
    pub details: &'a str,
    /// Service.
    pub service: &'a str,
    /// Add, Update, Delete.
    pub operation_type: &'a str,
}

/// OfficeActivity columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct OfficeFields<'a> {
    /// Operation.
    pub operation: &'a str,
    /// Exchange, SharePoint, OneDrive, MicrosoftTeams.
    pub workload: &'a str,
    /// RecordType.
    pub record_type: &'a str,
    /// UserId (UPN).
    pub user: &'a str,
    /// UserKey.
    pub user_key: &'a str,
    /// Client address.
    pub client_ip: &'a str,
    /// Object id.
    pub object_id: &'a str,
    /// Parameters JSON (inbox rules).
    pub parameters: &'a str,
    /// Site URL.
    pub site_url: &'a str,
    /// File name.
    pub file_name: &'a str,
    /// Relative URL.
    pub relative_url: &'a str,
    /// Mailbox owner.
    pub mailbox_owner: &'a str,
    /// Client info.
    pub client_info: &'a str,
    /// Folder.
    pub folder: &'a str,
}

/// SecurityEvent columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct SecurityEventFields<'a> {
    /// EventID.
    pub event_id: i64,
    /// Activity text.
    pub activity: &'a str,
    /// Target account name.
    pub account_name: &'a str,
    /// Target account domain.
    pub account_domain: &'a str,
    /// Target account SID.
    pub account_sid: &'a str,
    /// Subject account.
    pub subject_user: &'a str,
    /// Subject domain.
    pub subject_domain: &'a str,
    /// Logon type number.
    pub logon_type: i64,
    /// Source workstation.
    pub workstation: &'a str,
    /// Source address.
    pub ip: &'a str,
    /// Status.
    pub status: &'a str,
    /// SubStatus.
    pub sub_status: &'a str,
    /// FailureReason.
    pub failure_reason: &'a str,
    /// ProcessName.
    pub process_name: &'a str,
    /// NewProcessName (4688).
    pub new_process_name: &'a str,
    /// ParentProcessName (4688).
    pub parent_process_name: &'a str,
    /// CommandLine (4688).
    pub command_line: &'a str,
    /// ServiceName (4697).
    pub service_name: &'a str,
    /// ServiceFileName (4697).
    pub service_file_name: &'a str,
    /// TaskName (4698).
    pub task_name: &'a str,
    /// TaskContent (4698).
    pub task_content: &'a str,
    /// EventData XML/JSON.
    pub event_data: &'a str,
}

/// CommonSecurityLog columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct FirewallFields<'a> {
    /// Source (internal) address.
    pub source_ip: &'a str,
    /// Source port.
    pub source_port: i64,
    /// Destination address.
    pub dest_ip: &'a str,
    /// Destination port.
    pub dest_port: i64,
    /// Destination host name.
    pub dest_host: &'a str,
    /// App-ID.
    pub app: &'a str,
    /// Bytes sent.
    pub sent: i64,
    /// Bytes received.
    pub received: i64,
    /// Allowed or denied.
    pub allowed: bool,
    /// User-ID.
    pub user: &'a str,
    /// URL.
    pub url: &'a str,
}

/// One evidence row of a product alert.
#[derive(Debug, Default, Clone, Copy)]
pub struct EvidenceFields<'a> {
    /// Machine, User, File, Ip, Url, MailMessage …
    pub entity_type: &'a str,
    /// Impacted or Related.
    pub role: &'a str,
    /// DeviceName.
    pub device_name: &'a str,
    /// DeviceId.
    pub device_id: &'a str,
    /// AccountName.
    pub account_name: &'a str,
    /// AccountUpn.
    pub account_upn: &'a str,
    /// FileName.
    pub file_name: &'a str,
    /// FolderPath.
    pub folder_path: &'a str,
    /// SHA256.
    pub sha256: &'a str,
    /// ThreatFamily.
    pub threat_family: &'a str,
    /// RemoteUrl.
    pub remote_url: &'a str,
    /// RemoteIP.
    pub remote_ip: &'a str,
}

/// An alert raised by a Microsoft product.
#[derive(Debug, Clone, Copy)]
pub struct ProductAlert<'a> {
    /// AlertId.
    pub alert_id: &'a str,
    /// Title.
    pub title: &'a str,
    /// Category (Malware, InitialAccess …).
    pub category: &'a str,
    /// Informational, Low, Medium, High.
    pub severity: &'a str,
    /// Product.
    pub service_source: &'a str,
    /// Detection technology.
    pub detection_source: &'a str,
    /// ATT&CK techniques text.
    pub techniques: &'a str,
    /// Evidence rows.
    pub evidence: &'a [EvidenceFields<'a>],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_column_exists_in_its_table() {
        let r = SchemaRegistry::builtin();
        let get = |n: &str| r.get(n).cloned().expect("table");
        for t in [
            "DeviceProcessEvents",
            "DeviceNetworkEvents",
            "DeviceFileEvents",
            "DeviceRegistryEvents",
            "DeviceLogonEvents",
            "DeviceImageLoadEvents",
        ] {
            assert_eq!(DeviceCommon::resolve(&get(t)).missing(), Vec::<&str>::new(), "{t}");
        }
        // DeviceEvents lacks a few initiating-process columns in the public schema.
        let ev = DeviceCommon::resolve(&get("DeviceEvents")).missing();
        assert!(ev.iter().all(|c| c.starts_with("InitiatingProcess")), "{ev:?}");
        assert!(ProcessCols::resolve(&get("DeviceProcessEvents")).missing().is_empty());
        assert!(NetworkCols::resolve(&get("DeviceNetworkEvents")).missing().is_empty());
        assert!(FileCols::resolve(&get("DeviceFileEvents")).missing().is_empty());
        assert!(RegistryCols::resolve(&get("DeviceRegistryEvents")).missing().is_empty());
        assert!(LogonCols::resolve(&get("DeviceLogonEvents")).missing().is_empty());
        assert!(ImageCols::resolve(&get("DeviceImageLoadEvents")).missing().is_empty());
        assert!(EventCols::resolve(&get("DeviceEvents")).missing().is_empty());
        assert!(InfoCols::resolve(&get("DeviceInfo")).missing().is_empty());
        assert!(IdentityCols::resolve(&get("IdentityLogonEvents")).missing().is_empty());
        assert!(SigninCols::resolve(&get("SigninLogs")).missing().is_empty());
        assert!(AuditCols::resolve(&get("AuditLogs")).missing().is_empty());
        assert!(OfficeCols::resolve(&get("OfficeActivity")).missing().is_empty());
        assert!(SyslogCols::resolve(&get("Syslog")).missing().is_empty());
        assert!(CefCols::resolve(&get("CommonSecurityLog")).missing().is_empty());
        assert!(AlertCols::resolve(&get("AlertInfo")).missing().is_empty());
        assert!(EvidenceCols::resolve(&get("AlertEvidence")).missing().is_empty());
        assert!(UrlInfoCols::resolve(&get("EmailUrlInfo")).missing().is_empty());
        assert!(EmailCols::resolve(&get("EmailEvents")).missing().is_empty());
        assert!(AttachmentCols::resolve(&get("EmailAttachmentInfo")).missing().is_empty());
        assert!(ClickCols::resolve(&get("UrlClickEvents")).missing().is_empty());
        let sec = SecEventCols::resolve(&get("SecurityEvent")).missing();
        assert!(sec.is_empty(), "{sec:?}");
    }

    #[test]
    fn ip_types_follow_the_address_ranges() {
        assert_eq!(ip_type("10.1.2.3"), "Private");
        assert_eq!(ip_type("185.220.101.4"), "Public");
        assert_eq!(ip_type("198.51.100.10"), "Reserved");
        assert_eq!(url_host("https://a.example.com:8443/x?y"), "a.example.com");
    }
}
