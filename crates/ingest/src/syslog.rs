//! Syslog (RFC 3164 and RFC 5424) and CEF line parsing, and their rows in `Syslog` and
//! `CommonSecurityLog`.
use crate::sink::Rows;
use bulwark_model::time::{civil_to_ns, parse_datetime_ns};
use std::collections::BTreeMap;

/// A parsed syslog line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogLine<'a> {
    /// Facility name (`auth`, `local0` …) when a PRI was present.
    pub facility: Option<&'static str>,
    /// Severity name (`err`, `info` …) when a PRI was present.
    pub severity: Option<&'static str>,
    /// Event time, nanoseconds since the epoch.
    pub time_ns: Option<i64>,
    /// Host name.
    pub host: Option<&'a str>,
    /// Program (tag / app name).
    pub program: Option<&'a str>,
    /// Process id.
    pub pid: Option<i64>,
    /// The message after the header.
    pub message: &'a str,
}

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
const SEVERITIES: [&str; 8] =
    ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Whether a line starts like syslog: a `<PRI>`, a BSD `Mmm dd hh:mm:ss` or an ISO timestamp.
pub fn looks_like_syslog(line: &str) -> bool {
    let l = line.trim_start();
    if let Some(rest) = l.strip_prefix('<') {
        return rest.split_once('>').is_some_and(|(p, _)| {
            !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
        });
    }
    bsd_time(l, 2024).is_some()
        || (l.len() > 20
            && parse_datetime_ns(l.split(' ').next().unwrap_or("")).is_some()
            && l.contains(' '))
}

/// Parses `Mmm dd hh:mm:ss` at the start of `s` in `year`; returns (ns, rest).
fn bsd_time(s: &str, year: i64) -> Option<(i64, &str)> {
    let month = MONTHS.iter().position(|m| s.get(..3) == Some(*m))? as u32 + 1;
    let rest = s.get(3..)?.trim_start();
    let (day, rest) = rest.split_once(' ')?;
    let day: u32 = day.parse().ok()?;
    let clock = rest.get(..8)?;
    let mut parts = clock.split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let sec: u32 = parts.next()?.parse().ok()?;
    let mut rest = &rest[8..];
    // Optional fraction and year (`Oct 11 22:14:15.123 2024` appears in some exports).
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    Some((civil_to_ns(year, month, day, h, m, sec, 0)?, rest.strip_prefix(' ').unwrap_or(rest)))
}

fn current_year_and_now() -> (i64, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, _, _) = bulwark_model::time::civil_from_days(now.div_euclid(86_400));
    (y, now.saturating_mul(1_000_000_000))
}

/// Parses one syslog line. Lines without a recognizable header become a bare message.
pub fn parse_syslog(line: &str) -> SyslogLine<'_> {
    let mut out = SyslogLine { message: line, ..Default::default() };
    let mut rest = line.trim_start();
    if let Some(r) = rest.strip_prefix('<')
        && let Some((pri, after)) = r.split_once('>')
        && let Ok(p) = pri.parse::<usize>()
        && p < 192
    {
        out.facility = FACILITIES.get(p / 8).copied();
        out.severity = SEVERITIES.get(p % 8).copied();
        rest = after;
        // RFC 5424: version digit, then TIMESTAMP HOST APP PROCID MSGID SD MSG.
        if let Some(r5) = rest.strip_prefix("1 ") {
            let mut it = r5.splitn(6, ' ');
            let ts = it.next().unwrap_or("-");
            let host = it.next().unwrap_or("-");
            let app = it.next().unwrap_or("-");
            let procid = it.next().unwrap_or("-");
            let _msgid = it.next();
            let tail = it.next().unwrap_or("");
            out.time_ns = parse_datetime_ns(ts);
            out.host = (host != "-").then_some(host);
            out.program = (app != "-").then_some(app);
            out.pid = procid.parse().ok();
            out.message = skip_structured_data(tail).trim_start_matches('\u{feff}');
            return out;
        }
    }
    let (year, now) = current_year_and_now();
    let after_time = if let Some((ns, r)) = bsd_time(rest, year) {
        // No year in RFC 3164: a date in the future belongs to last year.
        out.time_ns = Some(if ns > now + 86_400_000_000_000 {
            bsd_time(rest, year - 1).map(|(n, _)| n).unwrap_or(ns)
        } else {
            ns
        });
        Some(r)
    } else if let Some((ts, r)) = rest.split_once(' ')
        && let Some(ns) = parse_datetime_ns(ts)
    {
        out.time_ns = Some(ns);
        Some(r)
    } else {
        None
    };
    let Some(r) = after_time else {
        out.message = rest;
        return out;
    };
    // HOST TAG[PID]: MSG — the host is absent when the next word already is the tag.
    let (first, tail) = r.split_once(' ').unwrap_or((r, ""));
    let (host, tagged) =
        if first.ends_with(':') || first.contains('[') { (None, r) } else { (Some(first), tail) };
    out.host = host.filter(|h| !h.is_empty());
    if let Some((tag, msg)) = tagged.split_once(": ")
        && !tag.contains(' ')
        && !tag.is_empty()
    {
        let (prog, pid) = match tag.split_once('[') {
            Some((p, rest)) => (p, rest.trim_end_matches(']').parse().ok()),
            None => (tag, None),
        };
        out.program = Some(prog);
        out.pid = pid;
        out.message = msg;
    } else {
        out.message = tagged;
    }
    out
}

fn skip_structured_data(s: &str) -> &str {
    if let Some(r) = s.strip_prefix("- ") {
        return r;
    }
    if s == "-" {
        return "";
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut depth = 0;
    let mut escaped = false;
    let mut quoted = false;
    while i < bytes.len() {
        let b = bytes[i];
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if !quoted && b == b'[' {
            depth += 1;
        } else if !quoted && b == b']' {
            depth -= 1;
            if depth == 0 && bytes.get(i + 1) != Some(&b'[') {
                return s.get(i + 1..).unwrap_or("").trim_start();
            }
        } else if depth == 0 {
            return s.get(i..).unwrap_or("");
        }
        i += 1;
    }
    ""
}

/// A parsed CEF message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cef {
    /// The seven header fields: version, vendor, product, device version, signature id, name,
    /// severity.
    pub header: Vec<String>,
    /// Extension key=value pairs, unescaped.
    pub extensions: Vec<(String, String)>,
}

/// Parses the `CEF:` part of a line; `None` when the header has fewer than seven fields.
pub fn parse_cef(text: &str) -> Option<Cef> {
    let start = text.find("CEF:")?;
    let body = &text[start + 4..];
    let mut header = Vec::with_capacity(7);
    let mut cur = String::new();
    let mut chars = body.char_indices();
    let mut ext_start = body.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            '|' => {
                header.push(std::mem::take(&mut cur));
                if header.len() == 7 {
                    ext_start = i + 1;
                    break;
                }
            }
            c => cur.push(c),
        }
    }
    if header.len() < 7 {
        if header.len() == 6 {
            header.push(cur);
        } else {
            return None;
        }
    }
    Some(Cef { header, extensions: parse_extensions(body.get(ext_start..).unwrap_or("")) })
}

/// `k1=v1 k2=v with spaces k3=v3`: a key is a word directly followed by an unescaped `=`.
fn parse_extensions(s: &str) -> Vec<(String, String)> {
    let bytes = s.as_bytes();
    // Positions of every `key=` start.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && (i == 0 || bytes[i - 1] != b'\\') {
            let mut k = i;
            while k > 0
                && (bytes[k - 1].is_ascii_alphanumeric()
                    || bytes[k - 1] == b'_'
                    || bytes[k - 1] == b'.'
                    || bytes[k - 1] == b'-')
            {
                k -= 1;
            }
            if k < i && (k == 0 || bytes[k - 1] == b' ') {
                keys.push((k, i));
            }
        }
        i += 1;
    }
    let mut out = Vec::with_capacity(keys.len());
    for (n, &(ks, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map(|&(next, _)| next).unwrap_or(bytes.len());
        let key = s.get(ks..eq).unwrap_or("");
        let raw = s.get(eq + 1..end).unwrap_or("").trim_end();
        let value =
            raw.replace("\\=", "=").replace("\\n", "\n").replace("\\r", "\r").replace("\\\\", "\\");
        out.push((key.to_string(), value));
    }
    out
}

/// CEF extension keys → CommonSecurityLog columns (the ArcSight dictionary as Sentinel maps it).
const CEF_COLUMNS: &[(&str, &str)] = &[
    ("act", "DeviceAction"),
    ("app", "ApplicationProtocol"),
    ("cat", "DeviceEventCategory"),
    ("cnt", "EventCount"),
    ("destinationDnsDomain", "DestinationDnsDomain"),
    ("destinationServiceName", "DestinationServiceName"),
    ("destinationTranslatedAddress", "DestinationTranslatedAddress"),
    ("destinationTranslatedPort", "DestinationTranslatedPort"),
    ("deviceDirection", "CommunicationDirection"),
    ("deviceDnsDomain", "DeviceDnsDomain"),
    ("deviceExternalId", "DeviceExternalID"),
    ("deviceFacility", "DeviceFacility"),
    ("deviceInboundInterface", "DeviceInboundInterface"),
    ("deviceNtDomain", "DeviceNtDomain"),
    ("deviceOutboundInterface", "DeviceOutboundInterface"),
    ("devicePayloadId", "DevicePayloadId"),
    ("deviceProcessName", "ProcessName"),
    ("deviceTranslatedAddress", "DeviceTranslatedAddress"),
    ("dhost", "DestinationHostName"),
    ("dmac", "DestinationMACAddress"),
    ("dntdom", "DestinationNTDomain"),
    ("dpid", "DestinationProcessId"),
    ("dpriv", "DestinationUserPrivileges"),
    ("dproc", "DestinationProcessName"),
    ("dpt", "DestinationPort"),
    ("dst", "DestinationIP"),
    ("dtz", "DeviceTimeZone"),
    ("duid", "DestinationUserID"),
    ("duser", "DestinationUserName"),
    ("dvc", "DeviceAddress"),
    ("dvchost", "DeviceName"),
    ("dvcmac", "DeviceMacAddress"),
    ("dvcpid", "ProcessID"),
    ("externalId", "ExternalID"),
    ("fileHash", "FileHash"),
    ("fileId", "FileID"),
    ("filePath", "FilePath"),
    ("filePermission", "FilePermission"),
    ("fileType", "FileType"),
    ("fname", "FileName"),
    ("fsize", "FileSize"),
    ("in", "ReceivedBytes"),
    ("msg", "Message"),
    ("out", "SentBytes"),
    ("outcome", "EventOutcome"),
    ("proto", "Protocol"),
    ("reason", "Reason"),
    ("request", "RequestURL"),
    ("requestClientApplication", "RequestClientApplication"),
    ("requestContext", "RequestContext"),
    ("requestCookies", "RequestCookies"),
    ("requestMethod", "RequestMethod"),
    ("rt", "ReceiptTime"),
    ("shost", "SourceHostName"),
    ("smac", "SourceMACAddress"),
    ("sntdom", "SourceNTDomain"),
    ("sourceDnsDomain", "SourceDnsDomain"),
    ("sourceServiceName", "SourceServiceName"),
    ("sourceTranslatedAddress", "SourceTranslatedAddress"),
    ("sourceTranslatedPort", "SourceTranslatedPort"),
    ("spid", "SourceProcessId"),
    ("spriv", "SourceUserPrivileges"),
    ("sproc", "SourceProcessName"),
    ("spt", "SourcePort"),
    ("src", "SourceIP"),
    ("start", "StartTime"),
    ("end", "EndTime"),
    ("suid", "SourceUserID"),
    ("suser", "SourceUserName"),
];

fn cef_column(key: &str) -> Option<String> {
    if let Some((_, c)) = CEF_COLUMNS.iter().find(|(k, _)| *k == key) {
        return Some((*c).to_string());
    }
    // cs1..cs6, cn1..cn3, cfp1..4, c6a1..4, cs1Label …: DeviceCustomString1[Label] and so on.
    for (prefix, column) in [
        ("cs", "DeviceCustomString"),
        ("cn", "DeviceCustomNumber"),
        ("cfp", "DeviceCustomFloatingPoint"),
        ("c6a", "DeviceCustomIPv6Address"),
        ("deviceCustomDate", "DeviceCustomDate"),
        ("flexString", "FlexString"),
        ("flexNumber", "FlexNumber"),
    ] {
        if let Some(rest) = key.strip_prefix(prefix) {
            let (n, label) = match rest.strip_suffix("Label") {
                Some(n) => (n, "Label"),
                None => (rest, ""),
            };
            if n.len() == 1 && n.as_bytes()[0].is_ascii_digit() {
                return Some(format!("{column}{n}{label}"));
            }
        }
    }
    None
}

/// Writes one line as a `Syslog` row, or a `CommonSecurityLog` row when it carries CEF.
/// Returns the table written.
pub(crate) fn write_line(rows: &mut Rows, line: &str) -> &'static str {
    let sys = parse_syslog(line);
    if let Some(cef) = parse_cef(sys.message).or_else(|| parse_cef(line)) {
        write_cef(rows, &sys, &cef);
        return "CommonSecurityLog";
    }
    if let Some(mut row) = rows.row("Syslog") {
        if let Some(t) = sys.time_ns {
            row.time("TimeGenerated", t);
            row.time("EventTime", t);
        }
        if let Some(h) = sys.host {
            row.text("Computer", h);
            row.text("HostName", h);
        }
        if let Some(f) = sys.facility {
            row.text("Facility", f);
        }
        if let Some(s) = sys.severity {
            row.text("SeverityLevel", s);
        }
        if let Some(p) = sys.program {
            row.text("ProcessName", p);
        }
        if let Some(p) = sys.pid {
            row.int("ProcessID", p);
        }
        row.text("SyslogMessage", sys.message);
        row.text("SourceSystem", "Bulwark");
        row.end();
    }
    "Syslog"
}

fn write_cef(rows: &mut Rows, sys: &SyslogLine<'_>, cef: &Cef) {
    let Some(mut row) = rows.row("CommonSecurityLog") else { return };
    let schema = row.schema().clone();
    if let Some(t) = sys.time_ns {
        row.time("TimeGenerated", t);
    }
    if let Some(h) = sys.host {
        row.text("Computer", h);
    }
    let h = |i: usize| cef.header.get(i).map(String::as_str).unwrap_or("");
    row.text("DeviceVendor", h(1));
    row.text("DeviceProduct", h(2));
    row.text("DeviceVersion", h(3));
    row.text("DeviceEventClassID", h(4));
    row.text("Activity", h(5));
    row.text("LogSeverity", h(6));
    row.text("OriginalLogSeverity", h(6));
    let mut extra = BTreeMap::new();
    for (k, v) in &cef.extensions {
        match cef_column(k).and_then(|c| schema.index_of(&c)) {
            Some(i) => row.text_at(i, v),
            None => {
                extra.insert(k.clone(), v.clone());
            }
        }
    }
    if !extra.is_empty() {
        let text: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        row.text("AdditionalExtensions", &text.join(";"));
    }
    row.text("SourceSystem", "Bulwark");
    row.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3164_header_fields() {
        let l = parse_syslog("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick");
        assert_eq!(l.facility, Some("auth"));
        assert_eq!(l.severity, Some("crit"));
        assert_eq!(l.host, Some("mymachine"));
        assert_eq!(l.program, Some("su"));
        assert_eq!(l.pid, Some(123));
        assert_eq!(l.message, "'su root' failed for lonvick");
        assert!(l.time_ns.is_some());
    }

    #[test]
    fn rfc5424_header_fields_and_structured_data() {
        let l = parse_syslog(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 99 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App]\"] An application event",
        );
        assert_eq!(l.facility, Some("local4"));
        assert_eq!(l.severity, Some("notice"));
        assert_eq!(l.host, Some("mymachine.example.com"));
        assert_eq!(l.program, Some("evntslog"));
        assert_eq!(l.pid, Some(99));
        assert_eq!(l.message, "An application event");
        assert_eq!(l.time_ns, parse_datetime_ns("2003-10-11T22:14:15.003Z"));
    }

    #[test]
    fn cef_header_escapes_and_extensions_with_spaces() {
        let c = parse_cef(r"Sep 19 08:26:10 host CEF:0|Security|threat\|manager|1.0|100|worm stopped|10|src=10.0.0.1 dst=2.1.2.2 msg=Detected a threat. No action\=needed cs1Label=rule cs1=a b").expect("cef");
        assert_eq!(c.header[2], "threat|manager");
        assert_eq!(c.header[6], "10");
        let ext: BTreeMap<_, _> = c.extensions.into_iter().collect();
        assert_eq!(ext["src"], "10.0.0.1");
        assert_eq!(ext["msg"], "Detected a threat. No action=needed");
        assert_eq!(ext["cs1"], "a b");
        assert_eq!(cef_column("cs1Label").as_deref(), Some("DeviceCustomString1Label"));
        assert!(parse_cef("CEF:0|only|three").is_none());
    }
}
