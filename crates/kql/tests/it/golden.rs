//! Golden tests of the execution engine: every case in `tests/golden/*.kqltest` runs on
//! [`Engine::empty`] with `now = 2024-01-15T12:00:00Z`, and its columns and rows must equal the
//! expected CSV. Failures are collected over every case and reported together, so one run
//! shows every engine gap, not just the first.
//!
//! File format (one file holds many cases, separated by a line `====`):
//!
//! ```text
//! # name: has matches whole terms only
//! # source: https://learn.microsoft.com/kusto/query/has-operator
//! # order: any                  (or `ordered`: compare rows in order)
//! # status: known-gap <reason>  (optional: the case is expected to fail for now)
//! datatable(s:string)["abc def", "abcdef"]
//! | where s has "abc"
//! ----
//! s
//! abc def
//! ```
//!
//! The expected block is a CSV header line and one CSV record per row (RFC 4180 quoting; an
//! empty field is a null or an empty string, both of which print as empty text). Blank lines
//! at the end of a block are dropped, so a single-column row holding an empty value is written
//! `""`. Instead of `----` a case may end with `----error` and a line holding a substring of the
//! error message (compared case-insensitively). Other lines starting with `#` are comments.
//! A `known-gap` case must fail: if it passes, the run fails so that the mark gets removed.
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use bulwark_kql::exec::{Engine, QueryOptions};

/// Fewer cases than this means files went missing (issue #4 asks for at least 150).
const MIN_CASES: usize = 150;
/// The fixed `now()` every case runs with.
const NOW: &str = "2024-01-15T12:00:00Z";

/// What a case expects.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Column names in order and rows as cell text.
    Table { columns: Vec<String>, rows: Vec<Vec<String>> },
    /// The query fails with a message containing this text.
    Error(String),
}

/// One golden case.
#[derive(Debug, Clone)]
struct Case {
    file: String,
    line: usize,
    name: String,
    ordered: bool,
    known_gap: Option<String>,
    query: String,
    expect: Expect,
}

impl Case {
    fn label(&self) -> String {
        format!("{}:{} `{}`", self.file, self.line, self.name)
    }
}

/// Splits one `.kqltest` file into cases.
fn parse_file(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut cases = Vec::new();
    let mut start = 0;
    while start < lines.len() {
        let end = (start..lines.len()).find(|&i| lines[i] == "====").unwrap_or(lines.len());
        let chunk = &lines[start..end];
        if chunk.iter().any(|l| !l.trim().is_empty()) {
            cases.push(parse_case(file, start + 1, chunk)?);
        }
        start = end + 1;
    }
    let mut names = BTreeSet::new();
    for case in &cases {
        if !names.insert(case.name.as_str()) {
            return Err(format!("{}: duplicate case name", case.label()));
        }
    }
    Ok(cases)
}

fn parse_case(file: &str, first_line: usize, chunk: &[&str]) -> Result<Case, String> {
    let at = |offset: usize| format!("{file}:{}", first_line + offset);
    let (mut name, mut source, mut order, mut known_gap) = (None, None, None, None);
    let mut i = 0;
    while i < chunk.len() && (chunk[i].starts_with('#') || chunk[i].trim().is_empty()) {
        if let Some((key, value)) = chunk[i].trim_start_matches('#').split_once(':') {
            let value = value.trim().to_string();
            match key.trim() {
                "name" => name = Some(value),
                "source" => source = Some(value),
                "order" => order = Some(value),
                "status" => match value.strip_prefix("known-gap") {
                    Some(reason) => known_gap = Some(reason.trim().to_string()),
                    None => return Err(format!("{}: unknown status `{value}`", at(i))),
                },
                _ => {} // a comment that happens to contain a colon
            }
        }
        i += 1;
    }
    let name = name.ok_or_else(|| format!("{}: case without `# name:`", at(0)))?;
    if source.as_deref().is_none_or(str::is_empty) {
        return Err(format!("{}: `{name}` has no `# source:`", at(0)));
    }
    let ordered = match order.as_deref() {
        Some("any") => false,
        Some("ordered") => true,
        other => return Err(format!("{}: `{name}` has order {other:?}, want any|ordered", at(0))),
    };
    let query_start = i;
    let sep = (i..chunk.len())
        .find(|&j| chunk[j] == "----" || chunk[j] == "----error")
        .ok_or_else(|| format!("{}: `{name}` has no `----` line", at(i)))?;
    let query = chunk[query_start..sep].join("\n").trim().to_string();
    if query.is_empty() {
        return Err(format!("{}: `{name}` has an empty query", at(i)));
    }
    let mut body: Vec<&str> = chunk[sep + 1..].to_vec();
    while body.last().is_some_and(|l| l.trim().is_empty()) {
        body.pop();
    }
    let expect = if chunk[sep] == "----error" {
        let text = body.join("\n").trim().to_string();
        if text.is_empty() {
            return Err(format!("{}: `{name}` expects an error but gives no text", at(sep)));
        }
        Expect::Error(text)
    } else {
        let mut records = parse_csv(&body.join("\n")).map_err(|e| format!("{}: {e}", at(sep)))?;
        if records.is_empty() {
            return Err(format!("{}: `{name}` has no header line", at(sep)));
        }
        let columns = records.remove(0);
        if let Some(bad) = records.iter().find(|r| r.len() != columns.len()) {
            return Err(format!(
                "{}: `{name}`: row {bad:?} has {} cells for {} columns",
                at(sep),
                bad.len(),
                columns.len()
            ));
        }
        Expect::Table { columns, rows: records }
    };
    Ok(Case {
        file: file.to_string(),
        line: first_line + query_start,
        name,
        ordered,
        known_gap,
        query,
        expect,
    })
}

/// RFC 4180 records: `,` separates fields, `"` quotes (doubled inside), quoted fields may span
/// lines. An empty text has no records; an empty line is one record with one empty field.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    if text.is_empty() {
        return Ok(records);
    }
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => return Err(format!("stray quote in CSV field `{field}\"`")),
            ',' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                was_quoted = false;
            }
            _ if was_quoted => return Err(format!("text after closing quote: `{c}`")),
            _ => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted CSV field".to_string());
    }
    record.push(field);
    records.push(record);
    Ok(records)
}

/// One CSV record, quoted where RFC 4180 needs it (for readable failure reports).
fn csv_line(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) || (cells.len() == 1 && c.is_empty()) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden")
}

/// Every case of every `.kqltest` file, in file-name order.
fn load_all() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kqltest"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable golden file");
        let file = path.file_name().expect("file name").to_string_lossy().into_owned();
        cases.extend(parse_file(&file, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    cases
}

/// Runs one case; `Err` holds the mismatch report.
fn run_case(engine: &Engine, opts: &QueryOptions, case: &Case) -> Result<(), String> {
    let result = catch_unwind(AssertUnwindSafe(|| engine.query_blocking(&case.query, opts)));
    let result = match result {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(format!("engine panicked: {msg}"));
        }
    };
    match (&case.expect, result) {
        (Expect::Error(want), Err(e)) => {
            let got = format!("{}\n{e:?}", e.render(&case.query));
            if got.to_lowercase().contains(&want.to_lowercase()) {
                Ok(())
            } else {
                Err(format!("error does not mention `{want}`:\n{}", e.render(&case.query)))
            }
        }
        (Expect::Error(want), Ok(out)) => Err(format!(
            "expected an error mentioning `{want}`, got {} rows:\n{}",
            out.row_count,
            out.to_csv()
        )),
        (Expect::Table { .. }, Err(e)) => Err(format!("query failed:\n{}", e.render(&case.query))),
        (Expect::Table { columns, rows }, Ok(out)) => {
            let got_columns: Vec<String> = out.columns.iter().map(|c| c.name.clone()).collect();
            let mut got_rows = out.rows_text();
            let mut want_rows = rows.clone();
            if !case.ordered {
                got_rows.sort();
                want_rows.sort();
            }
            if &got_columns == columns && got_rows == want_rows {
                // An `ordered` case's order comes from the query, so the output must say so.
                if case.ordered && !out.ordered {
                    return Err("rows match, but the output is not marked `ordered`".to_string());
                }
                return Ok(());
            }
            let mut report = String::new();
            let _ = writeln!(report, "expected:\n  {}", csv_line(columns));
            for r in &want_rows {
                let _ = writeln!(report, "  {}", csv_line(r));
            }
            let _ = writeln!(report, "actual:\n  {}", csv_line(&got_columns));
            for r in &got_rows {
                let _ = writeln!(report, "  {}", csv_line(r));
            }
            Err(report)
        }
    }
}

#[test]
fn golden_cases_are_well_formed_and_parse() {
    let cases = load_all();
    assert!(cases.len() >= MIN_CASES, "only {} golden cases (want >= {MIN_CASES})", cases.len());
    let mut bad = Vec::new();
    for case in &cases {
        let parsed = bulwark_kql::parse(&case.query);
        // Error cases may be syntax errors on purpose; known gaps may be front-end gaps.
        let expect_valid = matches!(case.expect, Expect::Table { .. }) && case.known_gap.is_none();
        if expect_valid && !parsed.has_valid_syntax() {
            bad.push(format!("{}: {:?}", case.label(), parsed.diagnostics));
        }
    }
    assert!(bad.is_empty(), "golden queries with syntax errors:\n{}", bad.join("\n"));
}

#[test]
fn golden_cases_match_the_engine() {
    let cases = load_all();
    assert!(cases.len() >= MIN_CASES, "only {} golden cases (want >= {MIN_CASES})", cases.len());
    let engine = Engine::empty();
    let opts = QueryOptions { now: Some(NOW.parse().expect("valid now")), ..Default::default() };
    let (mut passed, mut gaps) = (0, 0);
    let mut failures = Vec::new();
    for case in &cases {
        match (run_case(&engine, &opts, case), &case.known_gap) {
            (Ok(()), None) => passed += 1,
            (Err(_), Some(_)) => gaps += 1,
            (Ok(()), Some(reason)) => failures.push(format!(
                "{} passes now: remove its `# status: known-gap {reason}` line",
                case.label()
            )),
            (Err(report), None) => {
                failures.push(format!("{}\n{}\n{report}", case.label(), case.query))
            }
        }
    }
    eprintln!(
        "golden: {} cases, {passed} passed, {gaps} known gaps, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn parser_splits_cases_and_reads_metadata() {
    let text = "# file comment: ignored\n# name: one\n# source: s1\n# order: any\nprint a = 1\n----\na\n1\n\n====\n# name: two\n# source: s2\n# order: ordered\n# status: known-gap no engine yet\nrange x from 1 to 2 step 1\n| take 2\n----\nx\n1\n2\n====\n# name: three\n# source: s3\n# order: any\nprint nope(\n----error\nexpected\n";
    let cases = parse_file("t.kqltest", text).expect("parses");
    assert_eq!(cases.len(), 3);
    assert_eq!(cases[0].name, "one");
    assert!(!cases[0].ordered && cases[0].known_gap.is_none());
    assert_eq!(cases[0].query, "print a = 1");
    assert_eq!(
        cases[0].expect,
        Expect::Table { columns: vec!["a".into()], rows: vec![vec!["1".into()]] }
    );
    assert!(cases[1].ordered);
    assert_eq!(cases[1].known_gap.as_deref(), Some("no engine yet"));
    assert_eq!(cases[1].query, "range x from 1 to 2 step 1\n| take 2");
    assert_eq!(cases[1].line, 15);
    assert_eq!(cases[2].expect, Expect::Error("expected".into()));
}

/// The error `parse_file` reports for a malformed file.
fn parse_error(text: &str) -> String {
    match parse_file("t", text) {
        Err(e) => e,
        Ok(cases) => panic!("parsed {} cases from a malformed file", cases.len()),
    }
}

#[test]
fn parser_rejects_malformed_cases() {
    let missing_order = "# name: x\n# source: s\nprint 1\n----\nprint_0\n1\n";
    assert!(parse_error(missing_order).contains("order"));
    let no_sep = "# name: x\n# source: s\n# order: any\nprint 1\n";
    assert!(parse_error(no_sep).contains("----"));
    let ragged = "# name: x\n# source: s\n# order: any\nprint 1\n----\na,b\n1\n";
    assert!(parse_error(ragged).contains("1 cells for 2 columns"));
    let dup = "# name: x\n# source: s\n# order: any\nprint 1\n----\nprint_0\n1\n====\n# name: x\n# source: s\n# order: any\nprint 2\n----\nprint_0\n2\n";
    assert!(parse_error(dup).contains("duplicate"));
    let no_source = "# name: x\n# order: any\nprint 1\n----\nprint_0\n1\n";
    assert!(parse_error(no_source).contains("source"));
}

#[test]
fn csv_reader_handles_quotes_commas_newlines_and_empty_fields() {
    let rows =
        parse_csv("a,b,c\n\"x,y\",\"say \"\"hi\"\"\",\n\"\"\n\"two\nlines\",,z").expect("csv");
    assert_eq!(
        rows,
        vec![
            vec!["a".to_string(), "b".into(), "c".into()],
            vec!["x,y".into(), "say \"hi\"".into(), "".into()],
            vec!["".into()],
            vec!["two\nlines".into(), "".into(), "z".into()],
        ]
    );
    assert_eq!(parse_csv("").expect("empty"), Vec::<Vec<String>>::new());
    assert!(parse_csv("\"open").is_err());
    assert!(parse_csv("a\"b").is_err());
    assert!(parse_csv("\"a\"b").is_err());
    // The report writer quotes what the reader unquotes.
    let cells = vec!["x,y".to_string(), "say \"hi\"".into(), "".into()];
    assert_eq!(parse_csv(&csv_line(&cells)).expect("round trip"), vec![cells]);
    assert_eq!(csv_line(&["".to_string()]), "\"\"");
}
