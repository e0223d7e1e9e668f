//! Benign background activity: what a 200-person company's telemetry looks like on a normal
//! week. Event times follow a business-hours curve; each event is one row in one table.
use crate::Error;
use crate::catalog::{self, Binary, Program};
use crate::emit::{
    AuditFields, DeviceEventFields, EmailFields, Emitter, FirewallFields, OfficeFields, Proc,
    SecurityEventFields, SigninFields,
};
use crate::rng::{Rng, cumulative, guid, hex};
use crate::tenant::{Account, CORP_EGRESS_IP, Device, DeviceKind, Tenant};
use std::fmt::Write as _;

const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 24 * HOUR_NS;

/// The tables background events go to, with their share (per mille) of the volume.
const KINDS: &[(Kind, u32)] = &[
    (Kind::Process, 200),
    (Kind::Network, 220),
    (Kind::File, 120),
    (Kind::Registry, 70),
    (Kind::Logon, 40),
    (Kind::ImageLoad, 80),
    (Kind::DeviceEvent, 40),
    (Kind::SecurityEvent, 60),
    (Kind::Signin, 30),
    (Kind::Identity, 20),
    (Kind::Email, 30),
    (Kind::Office, 30),
    (Kind::Audit, 5),
    (Kind::Syslog, 20),
    (Kind::Firewall, 35),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Process,
    Network,
    File,
    Registry,
    Logon,
    ImageLoad,
    DeviceEvent,
    SecurityEvent,
    Signin,
    Identity,
    Email,
    Office,
    Audit,
    Syslog,
    Firewall,
}

/// Maps event ordinals onto times so that volume follows office hours on weekdays.
pub struct Clock {
    start: i64,
    cumulative: Vec<f64>,
}

impl Clock {
    /// A clock over `days` days ending at `end` (ns since epoch).
    pub fn new(end: i64, days: u32) -> Clock {
        let start = end - i64::from(days) * DAY_NS;
        let hours = days as usize * 24;
        let mut cumulative = Vec::with_capacity(hours);
        let mut total = 0.0;
        for h in 0..hours {
            let t = start + h as i64 * HOUR_NS;
            let day = t.div_euclid(DAY_NS);
            // 1970-01-01 was a Thursday: weekday index 0 = Monday.
            let weekday = (day + 3).rem_euclid(7);
            let hour = t.rem_euclid(DAY_NS) / HOUR_NS;
            let weekend = weekday >= 5;
            let w = match (weekend, hour) {
                (false, 8..=17) => 10.0,
                (false, 7 | 18..=20) => 4.0,
                (true, 9..=18) => 1.5,
                _ => 1.0,
            };
            total += w;
            cumulative.push(total);
        }
        for c in &mut cumulative {
            *c /= total;
        }
        Clock { start, cumulative }
    }

    /// The time of quantile `q` in [0, 1), with `jitter` in [0, 1) spreading it in its hour.
    pub fn at(&self, q: f64, jitter: f64) -> i64 {
        let hour = self
            .cumulative
            .partition_point(|&c| c <= q)
            .min(self.cumulative.len().saturating_sub(1));
        self.start + hour as i64 * HOUR_NS + (jitter * HOUR_NS as f64) as i64
    }
}

/// Generates background activity.
pub struct Background<'t> {
    tenant: &'t Tenant,
    rng: Rng,
    kinds_cum: Vec<u32>,
    ws_programs: Vec<usize>,
    ws_cum: Vec<u32>,
    srv_programs: Vec<usize>,
    srv_cum: Vec<u32>,
    program_hash: Vec<Binary>,
    parents: Vec<(&'static str, Binary)>,
    dlls: Vec<Binary>,
    web_cum: Vec<u32>,
    app_cum: Vec<u32>,
    windows: Vec<usize>,
    linux: Vec<usize>,
    dcs: Vec<usize>,
    file_server: usize,
    imap_users: Vec<usize>,
    humans: Vec<usize>,
    admins: Vec<usize>,
    workstations: usize,
    winlogon: Binary,
    lsass: Binary,
    path: String,
    cmd: String,
    text: String,
}

fn system_binary(name: &'static str) -> Binary {
    let folder = match name {
        "explorer.exe" => "C:\\Windows\\",
        "MsMpEng.exe" => {
            "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\"
        }
        "msedge.exe" => "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\",
        "chrome.exe" => "C:\\Program Files\\Google\\Chrome\\Application\\",
        "Code.exe" => "C:\\Program Files\\Microsoft VS Code\\",
        _ => "C:\\Windows\\System32\\",
    };
    Binary::new(name, format!("{folder}{name}"))
}

impl<'t> Background<'t> {
    /// A generator over `tenant`, seeded.
    pub fn new(tenant: &'t Tenant, seed: u64) -> Background<'t> {
        let kinds_cum = cumulative(&KINDS.iter().map(|k| k.1).collect::<Vec<_>>());
        let ws_programs: Vec<usize> = (0..catalog::PROGRAMS.len()).collect();
        let ws_cum = cumulative(
            &ws_programs.iter().map(|&i| catalog::PROGRAMS[i].weight).collect::<Vec<_>>(),
        );
        let srv_programs: Vec<usize> =
            (0..catalog::PROGRAMS.len()).filter(|&i| catalog::PROGRAMS[i].servers).collect();
        let srv_cum = cumulative(
            &srv_programs.iter().map(|&i| catalog::PROGRAMS[i].weight).collect::<Vec<_>>(),
        );
        let program_hash = catalog::PROGRAMS
            .iter()
            .map(|p| {
                Binary::new(p.name, format!("{}{}", p.folder.replace("%USER%", "user"), p.name))
            })
            .collect();
        let mut parents: Vec<(&'static str, Binary)> = Vec::new();
        for p in catalog::PROGRAMS {
            if !parents.iter().any(|(n, _)| *n == p.parent) {
                parents.push((p.parent, system_binary(p.parent)));
            }
        }
        let dlls = catalog::DLLS
            .iter()
            .map(|d| Binary::new(d, format!("C:\\Windows\\System32\\{d}")))
            .collect();
        let idx = |f: &dyn Fn(&Device) -> bool| -> Vec<usize> {
            tenant.devices.iter().enumerate().filter(|(_, d)| f(d)).map(|(i, _)| i).collect()
        };
        let humans: Vec<usize> =
            tenant.users.iter().enumerate().filter(|(_, u)| !u.is_admin).map(|(i, _)| i).collect();
        let admins: Vec<usize> =
            tenant.users.iter().enumerate().filter(|(_, u)| u.is_admin).map(|(i, _)| i).collect();
        let imap_users = humans.iter().rev().step_by(40).copied().take(4).collect();
        Background {
            tenant,
            rng: Rng::new(seed ^ 0xbac6_2009),
            kinds_cum,
            ws_programs,
            ws_cum,
            srv_programs,
            srv_cum,
            program_hash,
            parents,
            dlls,
            web_cum: cumulative(&catalog::WEB.iter().map(|w| w.2).collect::<Vec<_>>()),
            app_cum: cumulative(&catalog::APPS.iter().map(|a| a.1).collect::<Vec<_>>()),
            windows: idx(&|d| d.kind != DeviceKind::LinuxServer),
            linux: idx(&|d| d.kind == DeviceKind::LinuxServer),
            dcs: idx(&|d| d.kind == DeviceKind::DomainController),
            file_server: tenant
                .devices
                .iter()
                .position(|d| d.short_name() == "srv-fs01")
                .unwrap_or(0),
            imap_users,
            humans,
            admins,
            workstations: tenant.workstations().count(),
            winlogon: system_binary("winlogon.exe"),
            lsass: system_binary("lsass.exe"),
            path: String::with_capacity(256),
            cmd: String::with_capacity(512),
            text: String::with_capacity(512),
        }
    }

    /// Users whose mail client still uses legacy (basic) authentication.
    pub fn legacy_auth_users(&self) -> &[usize] {
        &self.imap_users
    }

    /// Emits about `events` rows between `clock`'s start and end. Returns rows emitted.
    pub fn run(
        &mut self,
        em: &mut Emitter<'_>,
        clock: &Clock,
        events: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Error> {
        let mut emitted = 0u64;
        let mut i = 0u64;
        while emitted < events {
            let q = (i as f64 + 0.5) / events as f64;
            i += 1;
            let jitter = self.rng.unit();
            let time = clock.at(q.min(0.999_999), jitter);
            let kind = KINDS[self.rng.weighted(&self.kinds_cum)].0;
            emitted += self.one(em, kind, time)?;
            if i.is_multiple_of(65_536) {
                progress(emitted);
            }
        }
        progress(emitted);
        Ok(emitted)
    }

    fn device(&mut self) -> &'t Device {
        let t = self.tenant;
        // Workstations (listed after the servers) produce most endpoint telemetry.
        if self.workstations > 0 && self.rng.chance(0.85) {
            &t.devices[t.devices.len() - self.workstations + self.rng.below(self.workstations)]
        } else {
            &t.devices[self.windows[self.rng.below(self.windows.len())]]
        }
    }

    fn owner(&self, dev: &Device) -> Option<&'t crate::tenant::User> {
        dev.primary_user.and_then(|u| self.tenant.users.get(u))
    }

    fn pid(&mut self) -> i64 {
        self.rng.range(250, 9000) * 4
    }

    fn one(&mut self, em: &mut Emitter<'_>, kind: Kind, time: i64) -> Result<u64, Error> {
        match kind {
            Kind::Process => self.process(em, time).map(|_| 1),
            Kind::Network => self.network(em, time).map(|_| 1),
            Kind::File => self.file(em, time).map(|_| 1),
            Kind::Registry => self.registry(em, time).map(|_| 1),
            Kind::Logon => self.logon(em, time).map(|_| 1),
            Kind::ImageLoad => self.image_load(em, time).map(|_| 1),
            Kind::DeviceEvent => self.device_event(em, time).map(|_| 1),
            Kind::SecurityEvent => self.security_event(em, time).map(|_| 1),
            Kind::Signin => self.signin(em, time).map(|_| 1),
            Kind::Identity => self.identity(em, time).map(|_| 1),
            Kind::Email => self.email(em, time),
            Kind::Office => self.office(em, time).map(|_| 1),
            Kind::Audit => self.audit(em, time).map(|_| 1),
            Kind::Syslog => self.syslog(em, time).map(|_| 1),
            Kind::Firewall => self.firewall(em, time).map(|_| 1),
        }
    }

    /// Picks a program for a device and renders its path and command line into the scratch
    /// buffers. Returns the program index.
    fn program_for(&mut self, dev: &Device, user: &str) -> usize {
        let i = if dev.kind == DeviceKind::Workstation {
            self.ws_programs[self.rng.weighted(&self.ws_cum)]
        } else {
            self.srv_programs[self.rng.weighted(&self.srv_cum)]
        };
        let p: &Program = &catalog::PROGRAMS[i];
        self.path.clear();
        self.path.push_str(p.folder);
        if self.path.contains("%USER%") {
            self.path = self.path.replace("%USER%", user);
        }
        self.path.push_str(p.name);
        let n = self.rng.range(1, 9999);
        self.cmd.clear();
        let rendered = p.command.replace("{path}", &self.path).replace("{user}", user);
        let _ = write!(self.cmd, "{}", rendered.replace("{n}", &n.to_string()));
        i
    }

    fn actor(&self, dev: &Device, as_user: bool) -> &'t Account {
        match (as_user, self.owner(dev)) {
            (true, Some(u)) => &u.account,
            _ => &self.tenant.system,
        }
    }

    fn parent_proc<'a>(
        &'a self,
        name: &str,
        account: &'a Account,
        time: i64,
        pid: i64,
    ) -> Proc<'a> {
        let bin = self.parents.iter().find(|(n, _)| *n == name).map(|(_, b)| b);
        let (path, sha256, sha1, md5) = match bin {
            Some(b) => (b.path.as_str(), b.sha256.as_str(), b.sha1.as_str(), b.md5.as_str()),
            None => ("", "", "", ""),
        };
        Proc {
            file_name: bin.map_or("", |b| b.name),
            path,
            command_line: path,
            pid,
            created: time - 3 * HOUR_NS,
            sha256,
            sha1,
            md5,
            account,
            integrity: if account.domain == "nt authority" { "System" } else { "Medium" },
            parent_file_name: if name == "explorer.exe" { "userinit.exe" } else { "wininit.exe" },
            parent_pid: 4 * 150,
        }
    }

    fn process(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let dev = self.device();
        let user_name = self.owner(dev).map_or("administrator", |u| u.account.name.as_str());
        let i = self.program_for(dev, user_name);
        let p = &catalog::PROGRAMS[i];
        let account = self.actor(dev, p.as_user);
        let (ppid, pid) = (self.pid(), self.pid());
        let h = &self.program_hash[i];
        let parent = self.parent_proc(p.parent, account, time, ppid);
        let child = Proc {
            file_name: p.name,
            path: &self.path,
            command_line: &self.cmd,
            pid,
            created: time,
            sha256: &h.sha256,
            sha1: &h.sha1,
            md5: &h.md5,
            account,
            integrity: parent.integrity,
            parent_file_name: p.parent,
            parent_pid: ppid,
        };
        em.process(time, dev, &parent, &child)
    }

    fn running(&mut self, dev: &Device) -> (usize, i64) {
        let user_name = self.owner(dev).map_or("administrator", |u| u.account.name.as_str());
        let i = self.program_for(dev, user_name);
        let pid = self.pid();
        (i, pid)
    }

    fn proc_ref<'a>(&'a self, i: usize, dev: &Device, pid: i64, time: i64) -> Proc<'a> {
        let p = &catalog::PROGRAMS[i];
        let h = &self.program_hash[i];
        let account = self.actor(dev, p.as_user);
        Proc {
            file_name: p.name,
            path: &self.path,
            command_line: &self.cmd,
            pid,
            created: time - self.tenant.devices.len() as i64 * 60_000_000_000,
            sha256: &h.sha256,
            sha1: &h.sha1,
            md5: &h.md5,
            account,
            integrity: if p.as_user { "Medium" } else { "System" },
            parent_file_name: p.parent,
            parent_pid: 4 * 211,
        }
    }

    fn network(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let dev = self.device();
        let (i, pid) = self.running(dev);
        let local_port = self.rng.range(49152, 65535);
        let roll = self.rng.below(100);
        let t = self.tenant;
        let (host, ip, _) = catalog::WEB[self.rng_web()];
        let by = self.proc_ref(i, dev, pid, time);
        if roll < 70 {
            em.network(time, dev, &by, "ConnectionSuccess", local_port, ip, 443, host)
        } else if roll < 85 {
            let fs = &t.devices[self.file_server];
            em.network(time, dev, &by, "ConnectionSuccess", local_port, &fs.ip, 445, "")
        } else {
            let dc = &t.devices[self.dcs[(pid as usize) % self.dcs.len().max(1)]];
            let port = [53, 88, 389, 135][(pid as usize / 4) % 4];
            em.network(time, dev, &by, "ConnectionSuccess", local_port, &dc.ip, port, "")
        }
    }

    fn rng_web(&mut self) -> usize {
        let cum = std::mem::take(&mut self.web_cum);
        let i = self.rng.weighted(&cum);
        self.web_cum = cum;
        i
    }

    fn file(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let dev = self.device();
        let (i, pid) = self.running(dev);
        let user = self.owner(dev).map_or("administrator", |u| u.account.name.as_str());
        let doc = catalog::DOCUMENTS[self.rng.below(catalog::DOCUMENTS.len())];
        let n = self.rng.range(1, 400);
        let (folder, name) = match self.rng.below(4) {
            0 => ("Downloads", doc.replace(' ', "_").to_string()),
            1 => ("Documents", format!("Draft-{n}-{doc}")),
            2 => ("AppData\\Local\\Temp", format!("~DF{:04X}.tmp", n * 37)),
            _ => ("Desktop", doc.to_string()),
        };
        let path = format!("C:\\Users\\{user}\\{folder}\\{name}");
        let action = ["FileCreated", "FileModified", "FileModified", "FileRenamed", "FileDeleted"]
            [self.rng.below(5)];
        let sha = hex(self.rng.next_u64(), 64);
        let size = self.rng.range(2_000, 4_000_000);
        let by = self.proc_ref(i, dev, pid, time);
        em.file(time, dev, &by, action, &name, &path, &sha, size, "")
    }

    fn registry(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let dev = self.device();
        let (i, pid) = self.running(dev);
        let sid = self.owner(dev).map_or("S-1-5-18", |u| u.account.sid.as_str()).to_string();
        let n = self.rng.range(1, 1_000_000);
        let (key, name, data) = match self.rng.below(5) {
            0 => ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates".to_string(), "SignatureUpdateLastAttempted", n.to_string()),
            1 => (format!("HKEY_USERS\\{sid}\\Software\\Microsoft\\Office\\16.0\\Common\\Roaming\\Identities"), "LastSwitchedTime", n.to_string()),
            2 => (format!("HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\bam\\State\\UserSettings\\{sid}"), "\\Device\\HarddiskVolume3\\Windows\\System32\\notepad.exe", n.to_string()),
            3 => ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update".to_string(), "LastOnlineScanTimeForAppCategory", n.to_string()),
            _ => (format!("HKEY_USERS\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs"), "MRUListEx", n.to_string()),
        };
        let by = self.proc_ref(i, dev, pid, time);
        em.registry(time, dev, &by, "RegistryValueSet", &key, name, &data)
    }

    fn logon(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let t = self.tenant;
        let roll = self.rng.below(100);
        if roll < 55 {
            let dev = self.device();
            let Some(user) = self.owner(dev) else { return Ok(()) };
            let success = !self.rng.chance(0.03);
            let logon_type = if self.rng.chance(0.6) { "Unlock" } else { "Interactive" };
            let by = self.system_proc(&self.winlogon, time);
            em.logon(time, dev, &by, success, &user.account, logon_type, "", "", false)
        } else if roll < 90 {
            let src = self.device();
            let Some(user) = self.owner(src) else { return Ok(()) };
            let fs = &t.devices[self.file_server];
            let by = self.system_proc(&self.lsass, time);
            em.logon(time, fs, &by, true, &user.account, "Network", &src.ip, &src.name, false)
        } else {
            let server = &t.devices[self.windows[self.rng.below(self.windows.len())]];
            let svc = &t.service_accounts[self.rng.below(t.service_accounts.len())];
            let by = self.system_proc(&self.lsass, time);
            em.logon(time, server, &by, true, svc, "Service", "", "", true)
        }
    }

    fn system_proc<'a>(&'a self, b: &'a Binary, time: i64) -> Proc<'a> {
        Proc {
            file_name: b.name,
            path: &b.path,
            command_line: &b.path,
            pid: 700,
            created: time - DAY_NS,
            sha256: &b.sha256,
            sha1: &b.sha1,
            md5: &b.md5,
            account: &self.tenant.system,
            integrity: "System",
            parent_file_name: "wininit.exe",
            parent_pid: 560,
        }
    }

    fn image_load(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let dev = self.device();
        let (i, pid) = self.running(dev);
        // Credential-related DLLs are loaded by real software too, but rarely.
        let n = if self.rng.chance(0.97) {
            self.rng.below(14)
        } else {
            self.rng.below(self.dlls.len())
        };
        let dll = self.dlls[n].clone();
        let by = self.proc_ref(i, dev, pid, time);
        em.image_load(time, dev, &by, &dll)
    }

    fn device_event(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let dev = self.device();
        let (i, pid) = self.running(dev);
        let roll = self.rng.below(100);
        let (host, ip, _) = catalog::WEB[self.rng_web()];
        let url = format!("https://{host}/");
        let scan = format!(
            "{{\"ScanTypeIndex\":\"{}\",\"DurationMs\":{}}}",
            1 + roll % 2,
            1000 + roll * 77
        );
        let by = self.proc_ref(i, dev, pid, time);
        let (action, f) = match roll {
            0..=39 => (
                "DnsQueryResponse",
                DeviceEventFields {
                    remote_url: host,
                    remote_ip: ip,
                    additional_fields: "{\"DnsQueryString\":\"\",\"DnsQueryResult\":\"NOERROR\"}",
                    ..Default::default()
                },
            ),
            40..=64 => (
                "BrowserLaunchedToOpenUrl",
                DeviceEventFields { remote_url: &url, ..Default::default() },
            ),
            65..=79 => (
                "NamedPipeEvent",
                DeviceEventFields {
                    file_name: "\\Device\\NamedPipe\\mojo.12345",
                    additional_fields: "{\"PipeName\":\"\\\\Device\\\\NamedPipe\\\\mojo\",\"NamedPipeEnd\":\"Client\"}",
                    ..Default::default()
                },
            ),
            80..=92 => (
                "AntivirusScanCompleted",
                DeviceEventFields { additional_fields: &scan, ..Default::default() },
            ),
            93..=97 => (
                "PowerShellCommand",
                DeviceEventFields {
                    additional_fields: "{\"Command\":\"Get-ItemProperty\"}",
                    process_command_line: "Get-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion",
                    ..Default::default()
                },
            ),
            _ => (
                "UsbDriveMounted",
                DeviceEventFields {
                    additional_fields: "{\"DriveLetter\":\"E:\",\"ProductName\":\"SanDisk Ultra\",\"Manufacturer\":\"SanDisk\"}",
                    ..Default::default()
                },
            ),
        };
        em.device_event(time, dev, &by, action, &f)
    }

    fn security_event(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let t = self.tenant;
        let dc = &t.devices[self.dcs[self.rng.below(self.dcs.len())]];
        let src = self.device();
        let Some(user) = self.owner(src) else { return Ok(()) };
        let a = &user.account;
        let roll = self.rng.below(100);
        let base = SecurityEventFields {
            account_name: &a.name,
            account_domain: &a.domain,
            account_sid: &a.sid,
            workstation: src.short_name(),
            ip: &src.ip,
            ..Default::default()
        };
        let e = match roll {
            0..=34 => SecurityEventFields {
                event_id: 4624,
                activity: "An account was successfully logged on.",
                logon_type: 3,
                process_name: "-",
                ..base
            },
            35..=54 => SecurityEventFields {
                event_id: 4634,
                activity: "An account was logged off.",
                logon_type: 3,
                ..base
            },
            55..=69 => SecurityEventFields {
                event_id: 4768,
                activity: "A Kerberos authentication ticket (TGT) was requested.",
                status: "0x0",
                ..base
            },
            70..=89 => SecurityEventFields {
                event_id: 4769,
                activity: "A Kerberos service ticket was requested.",
                status: "0x0",
                ..base
            },
            90..=96 => SecurityEventFields {
                event_id: 4776,
                activity: "The computer attempted to validate the credentials for an account.",
                status: "0x0",
                ..base
            },
            _ => SecurityEventFields {
                event_id: 4625,
                activity: "An account failed to log on.",
                logon_type: 3,
                status: "0xc000006d",
                sub_status: "0xc000006a",
                failure_reason: "%%2313",
                ..base
            },
        };
        em.security_event(time, &dc.name, &e)
    }

    fn signin(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let t = self.tenant;
        let ui = self.humans[self.rng.below(self.humans.len())];
        let u = &t.users[ui];
        let legacy = self.imap_users.contains(&ui);
        let at_office = self.rng.chance(0.7);
        let (country, city) = catalog::OFFICES[ui % catalog::OFFICES.len()];
        let app = catalog::APPS[self.rng.weighted(&self.app_cum)].0;
        let roll = self.rng.below(1000);
        let (result, description) = match roll {
            0..=14 => {
                ("50126", "Error validating credentials due to invalid username or password.")
            }
            15..=24 => ("50074", "Strong Authentication is required."),
            25..=29 => (
                "50140",
                "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.",
            ),
            _ => ("0", ""),
        };
        let (client, agent) = if legacy {
            ("IMAP4", "")
        } else if self.rng.chance(0.75) {
            (
                "Browser",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
            )
        } else {
            (
                "Mobile Apps and Desktop clients",
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
            )
        };
        let app = if legacy { "Office 365 Exchange Online" } else { app };
        let s = SigninFields {
            upn: &u.account.upn,
            display_name: &u.display_name,
            object_id: &u.account.object_id,
            app,
            result_type: result,
            result_description: description,
            ip: if at_office { CORP_EGRESS_IP } else { &u.home_ip },
            country,
            city,
            client_app: client,
            mfa: u.mfa && !legacy,
            risky: false,
            user_agent: agent,
            device_detail: "{\"operatingSystem\":\"Windows10\",\"browser\":\"Edge 130.0.0\",\"isCompliant\":true,\"isManaged\":true,\"trustType\":\"Hybrid Azure AD joined\"}",
        };
        em.signin(time, &s)
    }

    fn identity(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let t = self.tenant;
        let dc = &t.devices[self.dcs[self.rng.below(self.dcs.len())]];
        let src = self.device();
        let Some(user) = self.owner(src) else { return Ok(()) };
        let protocol = if self.rng.chance(0.8) { "Kerberos" } else { "Ntlm" };
        let ok = !self.rng.chance(0.02);
        em.identity_logon(time, &user.account, &user.display_name, ok, protocol, src, dc)
    }

    fn email(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<u64, Error> {
        let t = self.tenant;
        let ui = self.humans[self.rng.below(self.humans.len())];
        let u = &t.users[ui];
        let id = guid(self.rng.next_u64());
        let internet_id =
            format!("<{}@{}>", hex(self.rng.next_u64(), 24), "mail.protection.outlook.com");
        let inbound = self.rng.chance(0.6);
        let other = &t.users[self.humans[self.rng.below(self.humans.len())]];
        let sender = if inbound {
            catalog::SENDERS[self.rng.below(catalog::SENDERS.len())]
        } else {
            other.account.upn.as_str()
        };
        let subject = catalog::SUBJECTS[self.rng.below(catalog::SUBJECTS.len())];
        let spam = inbound && self.rng.chance(0.05);
        let has_attachment = self.rng.chance(0.3);
        let has_url = self.rng.chance(0.4);
        let m = EmailFields {
            network_message_id: &id,
            internet_message_id: &internet_id,
            sender,
            sender_ip: if inbound { "40.107.22.51" } else { "" },
            recipient: &u.account.upn,
            recipient_object_id: &u.account.object_id,
            subject,
            direction: if inbound { "Inbound" } else { "Intra-org" },
            delivery_action: if spam { "Junked" } else { "Delivered" },
            delivery_location: if spam { "Junk folder" } else { "Inbox/folder" },
            attachments: i64::from(has_attachment),
            urls: i64::from(has_url),
            threat_types: if spam { "Spam" } else { "" },
            detection_methods: if spam { "{\"Spam\":[\"Advanced filter\"]}" } else { "" },
        };
        em.email(time, &m)?;
        let mut rows = 1;
        if has_attachment {
            let doc = catalog::DOCUMENTS[self.rng.below(catalog::DOCUMENTS.len())];
            let sha = hex(self.rng.next_u64(), 64);
            em.attachment(
                time,
                &id,
                sender,
                &u.account.upn,
                &u.account.object_id,
                doc,
                &sha,
                self.rng.range(20_000, 3_000_000),
            )?;
            rows += 1;
        }
        if has_url {
            let (host, _, _) = catalog::WEB[self.rng_web()];
            let url = format!("https://{host}/{}", hex(self.rng.next_u64(), 8));
            em.email_url(time, &id, &url)?;
            rows += 1;
            if self.rng.chance(0.15) {
                em.url_click(
                    time + 90_000_000_000,
                    &u.account.upn,
                    &url,
                    &id,
                    CORP_EGRESS_IP,
                    false,
                )?;
                rows += 1;
            }
        }
        Ok(rows)
    }

    fn office(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let t = self.tenant;
        let ui = self.humans[self.rng.below(self.humans.len())];
        let u = &t.users[ui];
        let doc = catalog::DOCUMENTS[self.rng.below(catalog::DOCUMENTS.len())];
        let dept = u.department.replace(' ', "");
        let site = format!("https://contoso.sharepoint.com/sites/{dept}/");
        let roll = self.rng.below(100);
        self.text.clear();
        let o = match roll {
            0..=44 => OfficeFields {
                operation: ["FileAccessed", "FileModified", "FileDownloaded", "FilePreviewed"]
                    [roll % 4],
                workload: "SharePoint",
                record_type: "SharePointFileOperation",
                file_name: doc,
                site_url: &site,
                relative_url: "Shared Documents",
                ..Default::default()
            },
            45..=79 => OfficeFields {
                operation: "MailItemsAccessed",
                workload: "Exchange",
                record_type: "ExchangeItemAggregated",
                mailbox_owner: &u.account.upn,
                client_info: "Client=OWA;Action=ViaProxy",
                folder: "Inbox",
                ..Default::default()
            },
            80..=96 => OfficeFields {
                operation: "MessageSent",
                workload: "MicrosoftTeams",
                record_type: "MicrosoftTeams",
                ..Default::default()
            },
            _ => {
                let _ = write!(
                    self.text,
                    "[{{\"Name\":\"Name\",\"Value\":\"Newsletters\"}},{{\"Name\":\"From\",\"Value\":\"news@adatum.com\"}},{{\"Name\":\"MoveToFolder\",\"Value\":\"Newsletters\"}},{{\"Name\":\"StopProcessingRules\",\"Value\":\"True\"}}]"
                );
                OfficeFields {
                    operation: "New-InboxRule",
                    workload: "Exchange",
                    record_type: "ExchangeAdmin",
                    mailbox_owner: &u.account.upn,
                    client_info: "Client=OWA",
                    ..Default::default()
                }
            }
        };
        let parameters = self.text.clone();
        let o = OfficeFields {
            user: &u.account.upn,
            user_key: &u.account.object_id,
            client_ip: if self.rng.chance(0.7) { CORP_EGRESS_IP } else { &u.home_ip },
            object_id: &site,
            parameters: &parameters,
            ..o
        };
        em.office(time, &o)
    }

    fn audit(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let t = self.tenant;
        let target = &t.users[self.humans[self.rng.below(self.humans.len())]];
        let admin = self.admins.first().map(|&a| &t.users[a]).unwrap_or(target);
        let roll = self.rng.below(100);
        let (operation, category, by, kind) = match roll {
            0..=29 => ("Update user", "UserManagement", &admin.account.upn, "Update"),
            30..=49 => ("Add member to group", "GroupManagement", &admin.account.upn, "Assign"),
            50..=64 => ("Reset user password", "UserManagement", &admin.account.upn, "Update"),
            65..=84 => {
                ("Reset password (self-service)", "UserManagement", &target.account.upn, "Update")
            }
            _ => ("User registered security info", "UserManagement", &target.account.upn, "Add"),
        };
        let a = AuditFields {
            operation,
            category,
            initiated_by_upn: by,
            ip: CORP_EGRESS_IP,
            target_upn: &target.account.upn,
            details: "[{\"key\":\"UserType\",\"value\":\"Member\"}]",
            service: if operation.contains("security info") || operation.contains("self-service") {
                "Authentication Methods"
            } else {
                "Core Directory"
            },
            operation_type: kind,
        };
        em.audit(time, &a)
    }

    fn syslog(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let t = self.tenant;
        let host = &t.devices[self.linux[self.rng.below(self.linux.len())]];
        let roll = self.rng.below(100);
        let pid = self.rng.range(300, 40000);
        let port = self.rng.range(30000, 65000);
        self.text.clear();
        let (facility, severity, process) = match roll {
            0..=34 => {
                let _ = write!(
                    self.text,
                    "Accepted publickey for deploy from 10.20.0.{} port {port} ssh2: ED25519 SHA256:{}",
                    10 + roll % 7,
                    hex(host.id.len() as u64, 43)
                );
                ("auth", "info", "sshd")
            }
            35..=59 => {
                let _ = write!(self.text, "(root) CMD (/usr/local/bin/backup.sh >/dev/null 2>&1)");
                ("cron", "info", "CRON")
            }
            60..=74 => {
                let _ = write!(
                    self.text,
                    "deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
                );
                ("authpriv", "notice", "sudo")
            }
            75..=89 => {
                let _ = write!(self.text, "Started Daily apt download activities.");
                ("daemon", "info", "systemd")
            }
            _ => {
                // The public web server sees the internet's background SSH noise.
                let _ = write!(
                    self.text,
                    "Failed password for invalid user admin from 203.0.113.{} port {port} ssh2",
                    1 + roll
                );
                ("auth", "warning", "sshd")
            }
        };
        let msg = self.text.clone();
        em.syslog(time, host, facility, severity, process, pid, &msg)
    }

    fn firewall(&mut self, em: &mut Emitter<'_>, time: i64) -> Result<(), Error> {
        let src = self.device();
        let (host, ip, _) = catalog::WEB[self.rng_web()];
        let user = self
            .owner(src)
            .map(|u| format!("{}\\{}", "contoso", u.account.name))
            .unwrap_or_default();
        let sent = (self.rng.unit().powi(3) * 2_000_000.0) as i64 + 400;
        let received = (self.rng.unit().powi(2) * 20_000_000.0) as i64 + 1_000;
        let f = FirewallFields {
            source_ip: &src.ip,
            source_port: self.rng.range(49152, 65535),
            dest_ip: ip,
            dest_port: 443,
            dest_host: host,
            app: "ssl",
            sent,
            received,
            allowed: !self.rng.chance(0.01),
            user: &user,
            url: "",
        };
        em.firewall(time, &f)
    }

    /// One DeviceInfo snapshot per device per day.
    pub fn device_inventory(
        &mut self,
        em: &mut Emitter<'_>,
        clock_end: i64,
        days: u32,
    ) -> Result<u64, Error> {
        let t = self.tenant;
        let mut rows = 0;
        for day in 0..days {
            let day_start = clock_end - i64::from(days - day) * DAY_NS;
            for dev in &t.devices {
                let logged_on = match self.owner(dev) {
                    Some(u) => format!(
                        "[{{\"UserName\":\"{}\",\"DomainName\":\"CONTOSO\",\"Sid\":\"{}\"}}]",
                        u.account.name, u.account.sid
                    ),
                    None => "[]".to_string(),
                };
                let at = day_start + self.rng.range(0, 30) * 60_000_000_000;
                em.device_info(at, dev, &logged_on)?;
                rows += 1;
            }
        }
        Ok(rows)
    }
}
