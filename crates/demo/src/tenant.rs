//! The organization: its devices, people and accounts, derived from the seed.
use crate::rng::{Rng, guid, hash_str, hex};

/// The tenant's DNS domain.
pub const DOMAIN: &str = "contoso.com";
/// The tenant's NetBIOS domain.
pub const NETBIOS: &str = "CONTOSO";
/// The corporate internet egress address (documentation range, never routed).
pub const CORP_EGRESS_IP: &str = "198.51.100.10";

const GIVEN: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Paul",
    "Ashley",
    "Steven",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "Priya",
    "Deborah",
    "Wei",
    "Stephanie",
    "Aisha",
    "Rebecca",
    "Omar",
    "Laura",
    "Hiroshi",
    "Sharon",
    "Diego",
    "Cynthia",
    "Lars",
    "Kathleen",
    "Noah",
    "Amy",
    "Ivan",
    "Angela",
];
const SURNAME: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Patel",
    "Chen",
    "Kim",
    "Singh",
    "Okafor",
    "Novak",
    "Larsen",
    "Tanaka",
    "Rossi",
    "Dubois",
];

/// Departments, with their share of staff and a short code for device names.
pub const DEPARTMENTS: &[(&str, &str, u32)] = &[
    ("Finance", "fin", 14),
    ("Human Resources", "hr", 8),
    ("Engineering", "eng", 24),
    ("Sales", "sal", 18),
    ("Marketing", "mkt", 10),
    ("IT", "it", 8),
    ("Legal", "leg", 5),
    ("Operations", "ops", 10),
    ("Executive", "exe", 3),
];

/// A security principal as it appears in event columns.
#[derive(Debug, Clone)]
pub struct Account {
    /// SAM account name (`jane.doe`, `system`).
    pub name: String,
    /// Domain (`CONTOSO`, `NT AUTHORITY`).
    pub domain: String,
    /// SID.
    pub sid: String,
    /// UPN (empty for built-in accounts).
    pub upn: String,
    /// Entra ID object id (empty for built-in accounts).
    pub object_id: String,
}

impl Account {
    fn builtin(name: &str, sid: &str) -> Account {
        Account {
            name: name.into(),
            domain: "nt authority".into(),
            sid: sid.into(),
            upn: String::new(),
            object_id: String::new(),
        }
    }
}

/// A person with a mailbox and an account.
#[derive(Debug, Clone)]
pub struct User {
    /// Display name.
    pub display_name: String,
    /// Department.
    pub department: &'static str,
    /// Job title.
    pub title: String,
    /// The user's domain account.
    pub account: Account,
    /// Whether this is an IT administrator's separate admin account.
    pub is_admin: bool,
    /// The user's home internet address (for remote sign-ins).
    pub home_ip: String,
    /// Whether sign-ins usually satisfy MFA.
    pub mfa: bool,
}

/// The kind of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A user's Windows workstation.
    Workstation,
    /// A Windows server.
    Server,
    /// An Active Directory domain controller.
    DomainController,
    /// A Linux server (reports through syslog).
    LinuxServer,
}

/// A device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Fully qualified lower-case name, as Defender reports it.
    pub name: String,
    /// Defender device id (40 hex digits).
    pub id: String,
    /// Internal IPv4 address.
    pub ip: String,
    /// Kind.
    pub kind: DeviceKind,
    /// Index of the primary user in [`Tenant::users`].
    pub primary_user: Option<usize>,
    /// Role description (servers).
    pub role: &'static str,
    /// Defender machine group.
    pub machine_group: &'static str,
}

impl Device {
    /// The host part of the name (`wks-fin-003`).
    pub fn short_name(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }
    /// Whether Bulwark considers the device business-critical.
    pub fn is_critical(&self) -> bool {
        matches!(self.kind, DeviceKind::DomainController | DeviceKind::Server)
    }
}

/// The whole organization.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Entra tenant id.
    pub tenant_id: String,
    /// People and their admin accounts.
    pub users: Vec<User>,
    /// Devices.
    pub devices: Vec<Device>,
    /// Built-in accounts: SYSTEM, LOCAL SERVICE, NETWORK SERVICE.
    pub system: Account,
    /// LOCAL SERVICE.
    pub local_service: Account,
    /// NETWORK SERVICE.
    pub network_service: Account,
    /// Service accounts (backup, SQL, deployment).
    pub service_accounts: Vec<Account>,
}

const SERVERS: &[(&str, &str, DeviceKind)] = &[
    ("dc01", "Domain controller", DeviceKind::DomainController),
    ("dc02", "Domain controller", DeviceKind::DomainController),
    ("srv-fs01", "File server (finance and HR shares)", DeviceKind::Server),
    ("srv-sql01", "SQL Server (ERP database)", DeviceKind::Server),
    ("srv-app01", "ERP application server", DeviceKind::Server),
    ("srv-exch01", "Exchange hybrid server", DeviceKind::Server),
    ("srv-backup01", "Backup server", DeviceKind::Server),
    ("srv-web01", "Public web server (Linux)", DeviceKind::LinuxServer),
    ("srv-jump01", "Linux bastion host", DeviceKind::LinuxServer),
];

impl Tenant {
    /// Builds the organization for a seed: `users` people and `workstations` workstations
    /// plus the fixed servers.
    pub fn build(seed: u64, users: usize, workstations: usize) -> Tenant {
        let mut rng = Rng::new(seed ^ 0x7e4a_4a17);
        let domain_sid = format!(
            "S-1-5-21-{}-{}-{}",
            1_000_000_000 + rng.below(999_999_999),
            1_000_000_000 + rng.below(999_999_999),
            1_000_000_000 + rng.below(999_999_999)
        );
        let tenant_id = guid(seed ^ 0x7e4a);
        let dept_weights: Vec<u32> = DEPARTMENTS.iter().map(|d| d.2).collect();
        let dept_cum = crate::rng::cumulative(&dept_weights);
        let mut people = Vec::with_capacity(users + 8);
        let mut taken = std::collections::HashSet::new();
        let mut rid = 1100;
        while people.len() < users {
            let given = rng.pick(GIVEN).copied().unwrap_or("Alex");
            let surname = rng.pick(SURNAME).copied().unwrap_or("Doe");
            let sam = format!("{}.{}", given.to_lowercase(), surname.to_lowercase());
            if !taken.insert(sam.clone()) {
                continue;
            }
            // Everyone in a department; the first few people fill IT and Executive so both exist.
            let department = match people.len() {
                0..=3 => "IT",
                4 | 5 => "Executive",
                6..=8 => "Finance",
                _ => DEPARTMENTS[rng.weighted(&dept_cum)].0,
            };
            rid += 1;
            let title = job_title(department, &mut rng);
            let mfa = !rng.chance(0.08);
            people.push(User {
                display_name: format!("{given} {surname}"),
                department,
                title,
                account: Account {
                    upn: format!("{sam}@{DOMAIN}"),
                    object_id: guid(hash_str(&sam)),
                    name: sam,
                    domain: NETBIOS.into(),
                    sid: format!("{domain_sid}-{rid}"),
                },
                is_admin: false,
                home_ip: format!(
                    "{}.{}.{}.{}",
                    [24, 47, 67, 71, 73, 98, 108, 174][rng.below(8)],
                    rng.range(1, 254),
                    rng.range(1, 254),
                    rng.range(1, 254)
                ),
                mfa,
            });
        }
        // IT staff have separate admin accounts (the ones attackers hunt for).
        let it_staff: Vec<usize> = people
            .iter()
            .enumerate()
            .filter(|(_, u)| u.department == "IT")
            .map(|(i, _)| i)
            .collect();
        for &i in it_staff.iter().take(4) {
            rid += 1;
            let base = people[i].clone();
            let sam = format!("adm-{}", base.account.name);
            people.push(User {
                display_name: format!("{} (admin)", base.display_name),
                title: "Administrator account".into(),
                account: Account {
                    upn: format!("{sam}@{DOMAIN}"),
                    object_id: guid(hash_str(&sam)),
                    name: sam,
                    domain: NETBIOS.into(),
                    sid: format!("{domain_sid}-{rid}"),
                },
                is_admin: true,
                mfa: true,
                ..base
            });
        }
        let service_accounts = ["svc-backup", "svc-sql", "svc-deploy"]
            .iter()
            .map(|name| {
                rid += 1;
                Account {
                    name: (*name).into(),
                    domain: NETBIOS.into(),
                    sid: format!("{domain_sid}-{rid}"),
                    upn: format!("{name}@{DOMAIN}"),
                    object_id: guid(hash_str(name)),
                }
            })
            .collect();

        let mut devices = Vec::with_capacity(workstations + SERVERS.len());
        for (i, (name, role, kind)) in SERVERS.iter().enumerate() {
            devices.push(Device {
                name: format!("{name}.{DOMAIN}"),
                id: hex(hash_str(name), 40),
                ip: format!("10.20.0.{}", 10 + i),
                kind: *kind,
                primary_user: None,
                role,
                machine_group: if *kind == DeviceKind::DomainController {
                    "Tier 0"
                } else {
                    "Servers"
                },
            });
        }
        let humans: Vec<usize> =
            people.iter().enumerate().filter(|(_, u)| !u.is_admin).map(|(i, _)| i).collect();
        let mut per_dept: std::collections::HashMap<&str, usize> = Default::default();
        for w in 0..workstations {
            // Spread workstations over people: the first `workstations` people get one each.
            let owner = humans[w % humans.len().max(1)];
            let dept = people[owner].department;
            let code = DEPARTMENTS.iter().find(|d| d.0 == dept).map_or("gen", |d| d.1);
            let n = per_dept.entry(dept).or_default();
            *n += 1;
            let short = format!("wks-{code}-{n:03}");
            devices.push(Device {
                id: hex(hash_str(&short), 40),
                name: format!("{short}.{DOMAIN}"),
                ip: format!("10.10.{}.{}", 1 + w / 200, 20 + w % 200),
                kind: DeviceKind::Workstation,
                primary_user: Some(owner),
                role: "Workstation",
                machine_group: "Workstations",
            });
        }
        Tenant {
            tenant_id,
            users: people,
            devices,
            system: Account::builtin("system", "S-1-5-18"),
            local_service: Account::builtin("local service", "S-1-5-19"),
            network_service: Account::builtin("network service", "S-1-5-20"),
            service_accounts,
        }
    }

    /// Workstations, in order.
    pub fn workstations(&self) -> impl Iterator<Item = &Device> {
        self.devices.iter().filter(|d| d.kind == DeviceKind::Workstation)
    }

    /// The device with this short or full name.
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name || d.short_name() == name)
    }

    /// The workstation whose primary user is `user`.
    pub fn workstation_of(&self, user: usize) -> Option<&Device> {
        self.devices.iter().find(|d| d.primary_user == Some(user))
    }
}

fn job_title(department: &str, rng: &mut Rng) -> String {
    let titles: &[&str] = match department {
        "Finance" => {
            &["Accountant", "Financial Analyst", "Accounts Payable Specialist", "Controller"]
        }
        "Human Resources" => &["HR Generalist", "Recruiter", "HR Business Partner"],
        "Engineering" => {
            &["Software Engineer", "Senior Software Engineer", "QA Engineer", "DevOps Engineer"]
        }
        "Sales" => &["Account Executive", "Sales Manager", "Sales Development Rep"],
        "Marketing" => &["Marketing Specialist", "Content Manager", "Brand Manager"],
        "IT" => &["Systems Administrator", "Helpdesk Technician", "Network Engineer"],
        "Legal" => &["Counsel", "Paralegal"],
        "Operations" => &["Operations Manager", "Logistics Coordinator", "Facilities Manager"],
        _ => &["Chief Executive Officer", "Chief Financial Officer", "Chief Operating Officer"],
    };
    rng.pick(titles).copied().unwrap_or("Employee").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_has_the_promised_shape() {
        let t = Tenant::build(7, 196, 41);
        assert_eq!(t.users.iter().filter(|u| !u.is_admin).count(), 196);
        assert_eq!(t.users.iter().filter(|u| u.is_admin).count(), 4);
        assert_eq!(t.devices.len(), 50);
        assert!(t.devices.iter().any(|d| d.kind == DeviceKind::DomainController));
        let names: std::collections::HashSet<_> = t.users.iter().map(|u| &u.account.name).collect();
        assert_eq!(names.len(), t.users.len(), "account names are unique");
        let devs: std::collections::HashSet<_> = t.devices.iter().map(|d| &d.name).collect();
        assert_eq!(devs.len(), t.devices.len(), "device names are unique");
        assert!(t.workstations().all(|w| w.primary_user.is_some()));
    }

    #[test]
    fn seeds_change_people() {
        let a = Tenant::build(1, 50, 10);
        let b = Tenant::build(2, 50, 10);
        let c = Tenant::build(1, 50, 10);
        assert_ne!(a.users[10].account.name, b.users[10].account.name);
        assert_eq!(a.users[10].account.name, c.users[10].account.name);
    }
}
