//! Hostile inputs: random bytes, huge inputs, deep nesting, decompression bombs, cycles.
//! Each must finish with a clear result and no panic (timing is measured by the bench).

use std::io::Write;

use base64::Engine;
use bulwark_scripts::{AnalyzeOptions, Language, VerdictLevel, analyze, analyze_bytes};
use rand::{Rng, SeedableRng};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn random_bytes_give_a_result() {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    for len in [0usize, 1, 17, 4096, 1 << 20] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let a = analyze_bytes(&bytes, &AnalyzeOptions::default());
        assert!(!a.layers.is_empty());
        assert!(!a.explanation.is_empty());
        if len > 1000 {
            assert_eq!(a.verdict.level, VerdictLevel::Unknown, "random bytes are not a script");
        }
    }
}

#[test]
fn ten_megabyte_input_is_handled() {
    let line = "$a = 'http://198.51.100.1/x'; Write-Host $a\n";
    let big = line.repeat((10 << 20) / line.len() + 1);
    let a = analyze(&big, &AnalyzeOptions::default());
    assert!(a.iocs.iter().any(|i| i.value == "http://198.51.100.1/x"));
    let small = AnalyzeOptions { max_input_bytes: 1 << 20, ..AnalyzeOptions::default() };
    let a = analyze(&big[..3 << 20], &small);
    assert!(a.truncated);
    assert!(a.limits_hit.iter().any(|n| n.contains("cut")));
}

#[test]
fn thousand_deep_nesting_in_every_language() {
    let n = 1000;
    let cases = [
        format!("iex {}'write-host x'{}", "(".repeat(n), ")".repeat(n)),
        format!("iex {}'a'{}", "$(".repeat(n), ")".repeat(n)),
        format!("{}{}", "{".repeat(n), "}".repeat(n)),
        format!("$x = {}1", "-".repeat(n)),
        format!("$x = {}65", "[char]".repeat(n)),
        format!("eval({}'x'{})", "eval(".repeat(n), ")".repeat(n)),
        format!("x = {}\"a\"{}", "StrReverse(".repeat(n), ")".repeat(n)),
        format!("echo {}", "%a:~1,2%".repeat(n)),
        format!("\"{}\"", "$(".repeat(n)),
        "[".repeat(n),
    ];
    for c in &cases {
        let a = analyze(c, &AnalyzeOptions::default());
        assert!(!a.layers.is_empty(), "{:.40}", c);
    }
    // Deep parentheses around a real payload still fold.
    let a = analyze(&cases[0], &AnalyzeOptions::default());
    assert!(a.final_layer().contains("write-host x") || a.layers.len() == 1);
}

#[test]
fn decompression_bomb_is_capped() {
    let bomb = gzip(&vec![b'A'; 64 << 20]);
    let s = format!(
        "IEX (New-Object IO.StreamReader(New-Object IO.Compression.GzipStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String('{}'))),[IO.Compression.CompressionMode]::Decompress))).ReadToEnd()",
        b64(&bomb)
    );
    let a = analyze(&s, &AnalyzeOptions::default());
    assert!(a.limits_hit.iter().any(|n| n.contains("limit")), "{:?}", a.limits_hit);
    assert!(a.layers.iter().all(|l| l.text.len() <= 8 << 20));
    // Nested bomb: gzip of gzip.
    let nested = gzip(&gzip(&vec![0u8; 32 << 20]));
    let a = analyze(
        &format!("[Convert]::FromBase64String('{}')", b64(&nested)),
        &AnalyzeOptions::default(),
    );
    assert!(a.layers.len() <= 2);
}

#[test]
fn self_reproducing_layers_stop() {
    // A layer that decodes to itself would loop forever without cycle detection.
    let inner = "powershell -enc X";
    let utf16: Vec<u8> = inner.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let s = format!("powershell -enc {}", b64(&utf16));
    let a = analyze(&s, &AnalyzeOptions { max_depth: 5, ..AnalyzeOptions::default() });
    assert!(a.layers.len() <= 6);
    // Depth limit reported.
    let mut cur = "write-host deep".to_string();
    for _ in 0..6 {
        let u: Vec<u8> = cur.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        cur = format!("powershell -enc {}", b64(&u));
    }
    // The first -enc reaches the script; the nested ones are child processes (a payload).
    let a = analyze(&cur, &AnalyzeOptions { max_depth: 3, ..AnalyzeOptions::default() });
    assert_eq!(a.layers.len(), 2);
    assert_eq!(a.all_layers().count(), 4);
    assert!(a.limits_hit.iter().any(|n| n.contains("depth")));
    let a = analyze(&cur, &AnalyzeOptions::default());
    assert_eq!(a.deepest(), "write-host deep");
    assert_eq!(a.language, Language::PowerShell);
}

#[test]
fn odd_unicode_in_command_lines_and_scripts() {
    for s in [
        "powershell -\u{e9}x bypass -c 'x'",
        "powershell -w\u{e9} hidden -enc \u{1f600}",
        "powershell \u{2013}EncodedCommand \u{2014}",
        "iex (\"{0}\u{1f600}\" -f '\u{e9}')",
        "$\u{e9}='a';iex $\u{e9}",
        "set \u{e9}=1\r\necho %\u{e9}:~0,1%",
    ] {
        let a = analyze(s, &AnalyzeOptions::default());
        assert!(!a.layers.is_empty());
    }
}

#[test]
fn variable_copies_of_huge_strings_stay_bounded() {
    // Each copy of an 8 MB string would multiply memory without the variable budget.
    let mut s = String::from("$a = 'x' * 8000000\n");
    for i in 0..200 {
        s.push_str(&format!("$b{i} = $a; (++$c); (++$c)\n"));
    }
    s.push_str("iex ('write-'+'host done')\n");
    let a = analyze(&s, &AnalyzeOptions::default());
    assert!(a.final_layer().contains("write-host done"));
    let s = "$r = 0..100000000; $q = (1..900000) + (1..900000); iex 'write-host ok'";
    let a = analyze(s, &AnalyzeOptions::default());
    assert!(a.final_layer().contains("write-host ok"));
}
