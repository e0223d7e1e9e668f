//! The Unit 42 EncodedCommand corpus: every `original` command line must peel to its
//! `decoded` ground truth as its *final* script layer (payloads decoded from inside it are
//! kept apart), with every URL / IP of the ground truth listed as an indicator.

use std::collections::BTreeMap;

use bulwark_scripts::{AnalyzeOptions, IocKind, analyze};
use regex::Regex;
use serde_json::Value;

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The upstream decoder dropped NUL bytes from the UTF-16LE bytes instead of decoding them, so
/// characters above U+00FF (smart quotes) became byte pairs. Reproduce that to compare.
fn upstream_forms(s: &str) -> [String; 2] {
    let bytes: Vec<u8> =
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).filter(|b| *b != 0).collect();
    [bytes.iter().map(|b| char::from(*b)).collect(), String::from_utf8_lossy(&bytes).into_owned()]
}

pub(crate) struct Row {
    pub original: String,
    pub decoded: String,
    pub family: String,
}

pub(crate) fn rows() -> Option<Vec<Row>> {
    let path = bulwark_testutil::shared_path("scripts/unit42/encoded_commands.jsonl")?;
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| Row {
                original: v["original"].as_str().unwrap_or_default().to_string(),
                decoded: v["decoded"].as_str().unwrap_or_default().to_string(),
                family: v["family"].as_str().unwrap_or("Unknown").to_string(),
            })
            .collect(),
    )
}

#[test]
fn unit42_layers_iocs_and_families() {
    let Some(rows) = rows() else { return };
    assert!(rows.len() > 2000, "corpus unexpectedly small: {}", rows.len());
    // Independent oracles, deliberately simpler than the crate's extractor.
    let url_re = Regex::new(r#"https?://[^\s'"()<>,;`]+"#).unwrap();
    let ip_re = Regex::new(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b").unwrap();
    let opts = AnalyzeOptions::default();
    let (mut layer_ok, mut strict_ok, mut final_ok, mut ioc_ok, mut both_ok, mut fam_ok) =
        (0, 0, 0, 0, 0, 0);
    let (mut with_payload, mut payload_iocs) = (0, 0);
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    // Two workers: the corpus is the slowest test in debug builds.
    let half = rows.len() / 2;
    let analyses: Vec<bulwark_scripts::Analysis> = std::thread::scope(|s| {
        let (a, b) = rows.split_at(half);
        let ha = s.spawn(|| a.iter().map(|r| analyze(&r.original, &opts)).collect::<Vec<_>>());
        let hb = s.spawn(|| b.iter().map(|r| analyze(&r.original, &opts)).collect::<Vec<_>>());
        let mut v = ha.join().unwrap();
        v.extend(hb.join().unwrap());
        v
    });
    for (r, a) in rows.iter().zip(analyses) {
        let want = norm(&r.decoded);
        let matches = |t: &str| {
            let n = norm(t);
            n == want || upstream_forms(t).iter().any(|u| norm(u) == want)
        };
        let layer_hit = a.layers.iter().skip(1).any(|l| matches(&l.text));
        let strict_hit = a.layers.iter().skip(1).any(|l| norm(&l.text) == want);
        let final_hit = a.layers.last().is_some_and(|l| l.depth > 0 && matches(&l.text));
        final_ok += usize::from(final_hit);
        if !a.payloads.is_empty() {
            with_payload += 1;
            // Payload indicators are merged: some indicator must come from a payload layer
            // whenever the payload text holds a URL.
            let first_payload = a.layers.len();
            if a.payloads.iter().any(|p| url_re.is_match(p.final_text())) {
                payload_iocs += usize::from(
                    a.iocs.iter().any(|i| i.kind == IocKind::Url && i.layer >= first_payload),
                );
            } else {
                payload_iocs += 1;
            }
        }
        let urls = a.ioc_values(IocKind::Url);
        let ips = a.ioc_values(IocKind::Ipv4);
        let mut missing = Vec::new();
        for m in url_re.find_iter(&r.decoded) {
            let u = m.as_str().trim_end_matches(['.', ']', '}', '\\']);
            if !urls.iter().any(|x| x.starts_with(u) || u.starts_with(*x) && x.len() > 10) {
                missing.push(u.to_string());
            }
        }
        for c in ip_re.captures_iter(&r.decoded) {
            if (1..=4).all(|k| c[k].parse::<u16>().is_ok_and(|o| o <= 255)) && !ips.contains(&&c[0])
            {
                missing.push(c[0].to_string());
            }
        }
        layer_ok += usize::from(layer_hit);
        strict_ok += usize::from(strict_hit);
        ioc_ok += usize::from(missing.is_empty());
        both_ok += usize::from(final_hit && missing.is_empty());
        if (!final_hit || !missing.is_empty()) && failures.len() < 15 {
            failures.push(format!(
                "final_hit={final_hit} layer_hit={layer_hit} missing={missing:?}\n  original: {:.160}\n  decoded: {:.160}\n  layers: {:?}",
                r.original,
                r.decoded,
                a.layers.iter().map(|l| format!("{}:{:.80}", l.technique, l.text)).collect::<Vec<_>>()
            ));
        }
        let got = a.family.clone().unwrap_or_else(|| "Unknown".into());
        if got == r.family {
            fam_ok += 1;
        } else {
            *confusion.entry((r.family.clone(), got)).or_default() += 1;
        }
    }
    let n = rows.len() as f64;
    let pct = |k: usize| 100.0 * k as f64 / n;
    println!("unit42: {} command lines", rows.len());
    println!("  a layer equals `decoded` (upstream artifact-normalised): {:.2}%", pct(layer_ok));
    println!("  a layer equals `decoded` (strict whitespace-normalised):  {:.2}%", pct(strict_ok));
    println!("  final layer equals `decoded`:                           {:.2}%", pct(final_ok));
    println!("  every URL/IP of `decoded` listed:                       {:.2}%", pct(ioc_ok));
    println!("  final layer equals `decoded` and every URL/IP listed:   {:.2}%", pct(both_ok));
    println!("  lines with a payload decoded from the final layer:      {with_payload}");
    println!("  family accuracy:                                        {:.2}%", pct(fam_ok));
    for ((want, got), k) in &confusion {
        println!("    {k:>4} x  {want} -> {got}");
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(pct(both_ok) >= 99.0, "pass rate {:.2}% < 99%", pct(both_ok));
    assert!(with_payload > 50, "payloads expected in the Metasploit/Unicorn lines");
    assert_eq!(payload_iocs, with_payload, "payload URLs must be merged into the indicators");
    assert!(pct(fam_ok) >= 90.0, "family accuracy {:.2}% < 90%", pct(fam_ok));
}
