//! Malware family / tool naming from deterministic textual features of the peeled layers.
//! Names follow Unit 42's EncodedCommand study (Empire, Unicorn, SET, Powerfun, ...).

use std::sync::LazyLock;

use regex::Regex;

struct Fam {
    name: &'static str,
    all: Vec<Regex>,
    none: Vec<Regex>,
}

fn fam(name: &'static str, all: &[&str], none: &[&str]) -> Fam {
    let c = |p: &&str| Regex::new(p).expect("invariant: static regex");
    Fam { name, all: all.iter().map(c).collect(), none: none.iter().map(c).collect() }
}

const SHELLCODE: &str =
    r#"(?i)DllImport\("kernel32\.dll"\)\]\s*public static extern IntPtr VirtualAlloc"#;

/// Ordered: the first family whose features all match (and none of its exclusions) wins.
static FAMILIES: LazyLock<Vec<Fam>> = LazyLock::new(|| {
    vec![
        fam("AMSI Bypass", &[r"(?i)amsiInitFailed"], &[]),
        fam(
            "PowerShell Empire",
            &[r"(?i)-bxor\s*\$k\[\$i\+\+\s*%\s*\$k\.length\]|\$R=\{\$D,\$K=\$ARgs"],
            &[],
        ),
        fam(
            "PowerShell Empire",
            &[r"(?i)System\.Net\.WebClient", r"(?i)\$k\s*=", r"(?i)-bxor", r"(?i)\bIEX\b"],
            &[],
        ),
        fam(
            "Meterpreter RHTTP",
            &[r"(?i)Invoke-Shellcode\s+-Payload\s+windows/meterpreter/reverse_http"],
            &[],
        ),
        fam("SET", &[SHELLCODE, r"(?i)\[Byte\[\]\]\s*\$sc(64)?\s*="], &[]),
        fam("Shellcode Inject", &[SHELLCODE, r"(?i)\$x\s*=\s*\$w::VirtualAlloc"], &[]),
        fam("Unicorn", &[SHELLCODE], &[]),
        fam(
            "Powerfun Reverse",
            &[r"(?i)\[IntPtr\]::Size\s*-eq\s*4", r"(?i)ProcessStartInfo", r"(?i)FromBase64String"],
            &[],
        ),
        fam(
            "Powerfun Reverse",
            &[
                r#"(?i)^\s*\$s\s*=\s*New-Object IO\.MemoryStream\(,\[Convert\]::FromBase64String\(["']H4sI"#,
                r"(?i)GzipStream",
            ],
            &[],
        ),
        fam("Powerfun Bind", &[r"(?i)Net\.Sockets\.TCPClient", r"(?i)iex\s+\$data"], &[]),
        fam(
            "Veil Stream",
            &[
                r"(?i)Invoke-Expression\s+\$\(New-Object IO\.StreamReader\s*\(\$\(New-Object IO\.Compression\.DeflateStream",
            ],
            &[],
        ),
        fam("PowerWorm", &[r"(?i)Win32_ComputerSystemProduct\)\.UUID", r"(?i)querytype=txt"], &[]),
        fam("TXT C2", &[r"(?i)nslookup\s+-q(uerytype)?=txt", r"(?i)\biex\b"], &[]),
        fam("Remote DLL", &[r"(?i)regsvr32\s+/u\s+/s\s+/i:https?://"], &[]),
        fam("PowerSploit GTS", &[r"(?i)Get-TimedScreenshot"], &[]),
        fam("DynAmite Launcher", &[r"(?i)DynAmite|\\dyna\\"], &[]),
        fam("Remove AV", &[r"(?i)UninstallString", r"(?i)\*AVG\*"], &[]),
        fam("Scheduled Task COM", &[r"(?i)Schedule\.Service", r"(?i)RegisterTaskDefinition"], &[]),
        fam("VB Task", &[r"(?i)\.vbs", r"(?i)FromBase64String", r"(?i)schtasks"], &[]),
        fam("BITSTransfer", &[r"(?i)Start-BitsTransfer"], &[]),
        fam("Downloader Proxy", &[r"(?i)GetSystemWebProxy", r"(?i)DownloadString"], &[]),
        fam("Downloader Kraken", &[r"(?i)GetTempPath\(\)", r"(?i)DownloadFile"], &[]),
        fam(
            "Downloader DFSP DPL",
            &[r"(?i)^\s*\(\$\w+\s*=\s*\$env:temp\s*\+", r"(?i)DownloadFile"],
            &[],
        ),
        fam(
            "Downloader DFSP 2X",
            &[
                r"(?i)^\s*PowerShell\s+-ExecutionPolicy\s+bypass[^\n]*-command\s+\(New-Object System\.Net\.WebClient\)\.DownloadFile",
            ],
            &[],
        ),
        fam(
            "Downloader IEXDS",
            &[r"(?i)\biex\s*\(+\s*new-object\s+(system\.)?net\.webclient\)\.downloadstring\("],
            &[],
        ),
        fam(
            "Downloader DFSP",
            &[r"(?i)\.DownloadFile\(", r"(?i)Start-Process|Invoke-Item|\bstart\b"],
            &[],
        ),
    ]
});

/// Names the family of a script from its layers' texts (outermost first), or `None`.
pub(crate) fn name(texts: &[&str]) -> Option<String> {
    // Layers are judged one at a time, outermost first: the launcher names the family (a Veil
    // stager that unpacks shellcode is Veil), and an outer layer never lends features to an
    // unrelated inner payload.
    for t in texts {
        for f in FAMILIES.iter() {
            if f.all.iter().all(|r| r.is_match(t)) && !f.none.iter().any(|r| r.is_match(t)) {
                return Some(f.name.to_string());
            }
        }
    }
    None
}
