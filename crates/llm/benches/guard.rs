//! Grounding-guard throughput: indexing evidence rows and checking answers against them.
//! `cargo bench -p bulwark-llm --bench guard`
use bulwark_llm::guard::{EvidenceIndex, check};
use serde_json::json;
use std::time::Instant;

fn main() {
    let rows: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            json!({"Timestamp": format!("2024-05-{:02}T{:02}:{:02}:17.1234567Z", 1 + i % 28, i % 24, i % 60),
                "DeviceName": format!("ws-fin-{:04}.contoso.local", i % 500),
                "RemoteIP": format!("10.{}.{}.{}", i % 200, (i / 7) % 250, i % 250),
                "RemotePort": 443 + (i % 3), "AccountUpn": format!("user{}@contoso.com", i % 900),
                "SHA256": format!("{:064x}", i as u128 * 0x9E37_79B9_7F4A_7C15),
                "ProcessCommandLine": format!("powershell.exe -enc SQBFAFgA{i} -w hidden"), "SentBytes": i * 37})
        })
        .collect();
    let evidence =
        json!({"query": "DeviceNetworkEvents | where Timestamp > ago(7d)", "rows": rows});
    let bytes = evidence.to_string().len();
    let t = Instant::now();
    let mut ev = EvidenceIndex::new();
    ev.add_json(&evidence);
    let index_time = t.elapsed();
    println!(
        "index {:.1} MB of evidence rows: {:?} ({:.1} MB/s)",
        bytes as f64 / 1e6,
        index_time,
        bytes as f64 / 1e6 / index_time.as_secs_f64()
    );

    let paragraph = "Device ws-fin-0042 (WS-FIN-0042) connected to 10.42.6.42 on port 443 at \
2024-05-15T18:42:17Z as user42@contoso.com, sending 1,554 bytes [E1]. It also reached \
10.250.250.250 from EVIL-PC 57 times.\n";
    for reps in [10usize, 1_000] {
        let answer = paragraph.repeat(reps);
        let t = Instant::now();
        let report = check(&answer, &ev);
        let took = t.elapsed();
        println!(
            "check {:>7} bytes, {:>5} claims ({} unsupported): {:?} ({:.1} MB/s)",
            answer.len(),
            report.claims.len(),
            report.unsupported().len(),
            took,
            answer.len() as f64 / 1e6 / took.as_secs_f64()
        );
    }
}
