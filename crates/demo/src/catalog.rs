//! What normal looks like: real Windows software, its process trees, DLLs, web destinations,
//! and Microsoft 365 applications. Hashes are derived from the path so that every copy of a
//! binary has the same hash across the tenant, as real fleets do.
use crate::rng::{hash_str, hex};

/// An executable image or DLL with stable hashes.
#[derive(Debug, Clone)]
pub struct Binary {
    /// File name.
    pub name: &'static str,
    /// Full path including the file name.
    pub path: String,
    /// SHA-256.
    pub sha256: String,
    /// SHA-1.
    pub sha1: String,
    /// MD5.
    pub md5: String,
}

impl Binary {
    /// A binary at `path` (the file name is its last component).
    pub fn new(name: &'static str, path: String) -> Binary {
        let h = hash_str(&path.to_ascii_lowercase());
        Binary { name, sha256: hex(h, 64), sha1: hex(h ^ 1, 40), md5: hex(h ^ 2, 32), path }
    }
}

/// A program users or the system start, with who starts it and a typical command line.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// File name.
    pub name: &'static str,
    /// Folder (with trailing backslash); `%USER%` is the user's profile.
    pub folder: &'static str,
    /// Parent image name.
    pub parent: &'static str,
    /// Command line template; `{path}` is the full path, `{user}` the account, `{n}` a number.
    pub command: &'static str,
    /// Relative frequency.
    pub weight: u32,
    /// Runs as the signed-in user (else SYSTEM).
    pub as_user: bool,
    /// Runs on servers too.
    pub servers: bool,
}

/// Programs of a normal Windows fleet.
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "msedge.exe",
        folder: "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\",
        parent: "explorer.exe",
        command: "\"{path}\" --single-argument https://contoso.sharepoint.com/",
        weight: 30,
        as_user: true,
        servers: false,
    },
    Program {
        name: "msedge.exe",
        folder: "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\",
        parent: "msedge.exe",
        command: "\"{path}\" --type=renderer --lang=en-US --renderer-client-id={n}",
        weight: 40,
        as_user: true,
        servers: false,
    },
    Program {
        name: "chrome.exe",
        folder: "C:\\Program Files\\Google\\Chrome\\Application\\",
        parent: "explorer.exe",
        command: "\"{path}\"",
        weight: 12,
        as_user: true,
        servers: false,
    },
    Program {
        name: "chrome.exe",
        folder: "C:\\Program Files\\Google\\Chrome\\Application\\",
        parent: "chrome.exe",
        command: "\"{path}\" --type=utility --utility-sub-type=network.mojom.NetworkService --field-trial-handle={n}",
        weight: 15,
        as_user: true,
        servers: false,
    },
    Program {
        name: "OUTLOOK.EXE",
        folder: "C:\\Program Files\\Microsoft Office\\root\\Office16\\",
        parent: "explorer.exe",
        command: "\"{path}\" ",
        weight: 10,
        as_user: true,
        servers: false,
    },
    Program {
        name: "WINWORD.EXE",
        folder: "C:\\Program Files\\Microsoft Office\\root\\Office16\\",
        parent: "explorer.exe",
        command: "\"{path}\" /n \"C:\\Users\\{user}\\Documents\\Report-{n}.docx\"",
        weight: 8,
        as_user: true,
        servers: false,
    },
    Program {
        name: "EXCEL.EXE",
        folder: "C:\\Program Files\\Microsoft Office\\root\\Office16\\",
        parent: "explorer.exe",
        command: "\"{path}\" \"C:\\Users\\{user}\\Documents\\Budget-{n}.xlsx\"",
        weight: 8,
        as_user: true,
        servers: false,
    },
    Program {
        name: "POWERPNT.EXE",
        folder: "C:\\Program Files\\Microsoft Office\\root\\Office16\\",
        parent: "explorer.exe",
        command: "\"{path}\" \"C:\\Users\\{user}\\Documents\\Deck-{n}.pptx\"",
        weight: 3,
        as_user: true,
        servers: false,
    },
    Program {
        name: "ms-teams.exe",
        folder: "C:\\Program Files\\WindowsApps\\MSTeams_24004.1403.2634.2418_x64__8wekyb3d8bbwe\\",
        parent: "explorer.exe",
        command: "\"{path}\" msteams:system-initiated",
        weight: 10,
        as_user: true,
        servers: false,
    },
    Program {
        name: "OneDrive.exe",
        folder: "C:\\Users\\%USER%\\AppData\\Local\\Microsoft\\OneDrive\\",
        parent: "explorer.exe",
        command: "\"{path}\" /background",
        weight: 6,
        as_user: true,
        servers: false,
    },
    Program {
        name: "notepad.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "explorer.exe",
        command: "\"{path}\" C:\\Users\\{user}\\Desktop\\notes.txt",
        weight: 3,
        as_user: true,
        servers: false,
    },
    Program {
        name: "Code.exe",
        folder: "C:\\Users\\%USER%\\AppData\\Local\\Programs\\Microsoft VS Code\\",
        parent: "explorer.exe",
        command: "\"{path}\" ",
        weight: 4,
        as_user: true,
        servers: false,
    },
    Program {
        name: "git.exe",
        folder: "C:\\Program Files\\Git\\cmd\\",
        parent: "Code.exe",
        command: "git.exe fetch --all --prune",
        weight: 3,
        as_user: true,
        servers: false,
    },
    Program {
        name: "svchost.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "services.exe",
        command: "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
        weight: 18,
        as_user: false,
        servers: true,
    },
    Program {
        name: "svchost.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "services.exe",
        command: "C:\\Windows\\System32\\svchost.exe -k NetworkService -p -s Dnscache",
        weight: 10,
        as_user: false,
        servers: true,
    },
    Program {
        name: "taskhostw.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "svchost.exe",
        command: "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
        weight: 6,
        as_user: false,
        servers: true,
    },
    Program {
        name: "wuauclt.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "svchost.exe",
        command: "\"C:\\Windows\\system32\\wuauclt.exe\" /RunHandlerComServer",
        weight: 3,
        as_user: false,
        servers: true,
    },
    Program {
        name: "MpCmdRun.exe",
        folder: "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\",
        parent: "MsMpEng.exe",
        command: "\"{path}\" SignatureUpdate -ScheduleJob -RestrictPrivileges",
        weight: 4,
        as_user: false,
        servers: true,
    },
    Program {
        name: "SearchProtocolHost.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "SearchIndexer.exe",
        command: "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe{n}",
        weight: 6,
        as_user: false,
        servers: false,
    },
    Program {
        name: "backgroundTaskHost.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "svchost.exe",
        command: "\"C:\\Windows\\system32\\backgroundTaskHost.exe\" -ServerName:BackgroundTaskHost.WebAccountProvider",
        weight: 5,
        as_user: true,
        servers: false,
    },
    Program {
        name: "conhost.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "svchost.exe",
        command: "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
        weight: 4,
        as_user: false,
        servers: true,
    },
    Program {
        name: "CcmExec.exe",
        folder: "C:\\Windows\\CCM\\",
        parent: "services.exe",
        command: "C:\\Windows\\CCM\\CcmExec.exe",
        weight: 2,
        as_user: false,
        servers: true,
    },
    Program {
        name: "sqlservr.exe",
        folder: "C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\",
        parent: "services.exe",
        command: "\"{path}\" -sMSSQLSERVER",
        weight: 1,
        as_user: false,
        servers: true,
    },
    Program {
        name: "gpupdate.exe",
        folder: "C:\\Windows\\System32\\",
        parent: "svchost.exe",
        command: "gpupdate.exe /target:computer",
        weight: 1,
        as_user: false,
        servers: true,
    },
];

/// DLLs loaded by ordinary processes.
pub const DLLS: &[&str] = &[
    "ntdll.dll",
    "kernel32.dll",
    "kernelbase.dll",
    "user32.dll",
    "advapi32.dll",
    "crypt32.dll",
    "wininet.dll",
    "winhttp.dll",
    "bcrypt.dll",
    "combase.dll",
    "ole32.dll",
    "msvcp_win.dll",
    "clr.dll",
    "mscoree.dll",
    "dbghelp.dll",
    "samlib.dll",
    "vaultcli.dll",
    "amsi.dll",
];

/// Web destinations of normal browsing: (host, address, weight).
pub const WEB: &[(&str, &str, u32)] = &[
    ("contoso.sharepoint.com", "13.107.136.9", 20),
    ("outlook.office365.com", "52.96.165.18", 18),
    ("teams.microsoft.com", "52.113.194.132", 14),
    ("login.microsoftonline.com", "20.190.151.68", 10),
    ("www.google.com", "142.250.72.196", 10),
    ("github.com", "140.82.112.3", 5),
    ("contoso.my.salesforce.com", "101.53.168.10", 5),
    ("www.linkedin.com", "13.107.42.14", 4),
    ("zoom.us", "170.114.52.2", 3),
    ("www.bing.com", "204.79.197.200", 5),
    ("docs.python.org", "151.101.0.223", 2),
    ("stackoverflow.com", "104.18.32.7", 3),
    ("news.ycombinator.com", "209.216.230.207", 1),
    ("www.wikipedia.org", "208.80.154.224", 2),
    ("update.googleapis.com", "142.250.80.35", 3),
    ("settings-win.data.microsoft.com", "20.42.65.92", 6),
    ("ctldl.windowsupdate.com", "93.184.221.240", 4),
];

/// Microsoft 365 and SaaS applications users sign in to: (name, weight).
pub const APPS: &[(&str, u32)] = &[
    ("Office 365 Exchange Online", 30),
    ("Microsoft Teams", 25),
    ("Office 365 SharePoint Online", 20),
    ("Microsoft Office", 10),
    ("Azure Portal", 3),
    ("Salesforce", 5),
    ("My Apps", 2),
];

/// Cities of the offices (country code, city).
pub const OFFICES: &[(&str, &str)] = &[("US", "Seattle"), ("US", "Chicago"), ("GB", "London")];

/// Partner and newsletter senders of inbound mail.
pub const SENDERS: &[&str] = &[
    "orders@fabrikam.com",
    "news@adatum.com",
    "support@litware.com",
    "billing@northwindtraders.com",
    "noreply@github.com",
    "events@tailspintoys.com",
    "hr@woodgrovebank.com",
    "team@relecloud.com",
];

/// Subjects of ordinary mail.
pub const SUBJECTS: &[&str] = &[
    "Quarterly planning",
    "Re: contract renewal",
    "Weekly status",
    "Invoice approved",
    "Lunch & learn on Thursday",
    "Updated travel policy",
    "Re: customer escalation",
    "Your order has shipped",
    "Meeting notes",
    "Budget review",
    "New hire onboarding",
    "Security awareness training reminder",
];

/// SharePoint documents people open.
pub const DOCUMENTS: &[&str] = &[
    "Q3 Forecast.xlsx",
    "Board deck.pptx",
    "Vendor contract.docx",
    "Roadmap 2027.pptx",
    "Payroll export.xlsx",
    "Customer list.xlsx",
    "Architecture.vsdx",
    "Policy handbook.pdf",
];
