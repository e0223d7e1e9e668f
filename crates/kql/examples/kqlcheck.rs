//! Reads a KQL query on stdin; prints diagnostics (rendered), the output schema and the
//! canonical formatting. `cargo run -p bulwark-kql --example kqlcheck < query.kql`
use std::io::Read;

fn main() {
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        eprintln!("could not read stdin");
        std::process::exit(2);
    }
    let parsed = bulwark_kql::parse(&text);
    for d in &parsed.diagnostics {
        eprint!("{}", bulwark_kql::render(&text, d));
    }
    let result = bulwark_kql::check(&parsed.syntax, &bulwark_model::SchemaRegistry::builtin());
    for d in &result.diagnostics {
        eprint!("{}", bulwark_kql::render(&text, d));
    }
    if let Some(s) = &result.output_schema {
        let cols: Vec<String> = s
            .columns
            .iter()
            .map(|c| format!("{}:{}", c.name, c.ty.map_or("?".to_string(), |t| t.to_string())))
            .collect();
        eprintln!("schema{}: {}", if s.open { " (open)" } else { "" }, cols.join(", "));
    }
    eprintln!("{}", bulwark_kql::format(&parsed.syntax));
}
