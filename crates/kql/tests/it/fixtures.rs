//! Snapshot tests over `tests/fixtures/{ok,err}/*.kql`: the canonical formatting, rendered
//! parse and check diagnostics, the output schema and the Debug AST, in one `.snap` per file.
//! Review changes with `cargo insta review` (CI runs with `INSTA_UPDATE=no`).
use bulwark_kql::{check, format, parse, render};
use bulwark_model::SchemaRegistry;
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "kql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

fn snapshot(text: &str) -> (String, bool, usize) {
    let parsed = parse(text);
    let result = check(&parsed.syntax, &SchemaRegistry::builtin());
    let mut out = String::new();
    out.push_str("=== format ===\n");
    out.push_str(&format(&parsed.syntax));
    out.push_str("\n=== parse diagnostics ===\n");
    for d in &parsed.diagnostics {
        out.push_str(&render(text, d));
    }
    out.push_str("=== check diagnostics ===\n");
    for d in &result.diagnostics {
        out.push_str(&render(text, d));
    }
    out.push_str("=== output schema ===\n");
    if let Some(s) = &result.output_schema {
        let cols: Vec<String> = s
            .columns
            .iter()
            .map(|c| format!("{}:{}", c.name, c.ty.map_or("?".into(), |t| t.to_string())))
            .collect();
        let _ = writeln!(out, "{}{}", if s.open { "(open) " } else { "" }, cols.join(", "));
    }
    let _ = write!(out, "=== ast ===\n{:#?}\n", parsed.syntax);
    let errors =
        parsed.diagnostics.iter().chain(&result.diagnostics).filter(|d| d.is_error()).count();
    (out, parsed.has_valid_syntax(), errors)
}

#[test]
fn ok_fixtures_parse_round_trip_and_match_snapshots() {
    for path in fixtures("ok") {
        let text = std::fs::read_to_string(&path).expect("read fixture");
        let (snap, valid, _) = snapshot(&text);
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("fixture").to_string();
        assert!(valid, "{name}: syntax errors\n{snap}");
        let first = parse(&text).syntax;
        let printed = format(&first);
        let second = parse(&printed);
        assert!(second.has_valid_syntax(), "{name}: printed text does not parse:\n{printed}");
        assert_eq!(first, second.syntax, "{name}: round trip changed the tree:\n{printed}");
        insta::assert_snapshot!(format!("ok_{name}"), snap);
    }
}

#[test]
fn err_fixtures_report_errors_and_match_snapshots() {
    for path in fixtures("err") {
        let text = std::fs::read_to_string(&path).expect("read fixture");
        let (snap, _, errors) = snapshot(&text);
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("fixture").to_string();
        assert!(errors > 0, "{name}: expected diagnostics\n{snap}");
        insta::assert_snapshot!(format!("err_{name}"), snap);
    }
}
