//! `cargo run -p bulwark-copilot --example gen -- "question" …`: prints the generated KQL.
fn main() {
    for q in std::env::args().skip(1) {
        let g = bulwark_copilot::nl2kql::generate(&q);
        println!("## {q}\nvalid={} table={}\n{}\n", g.valid, g.table, g.kql);
        for d in &g.diagnostics {
            println!("  {} {}: {}", d.severity, d.code, d.message);
        }
    }
}
