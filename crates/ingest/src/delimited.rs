//! CSV with a header row, and line-oriented text (syslog, CEF).
use crate::json::{MAX_LINE, infer_from_keys, read_line_limited};
use crate::pipeline::FileCtx;
use crate::sink::resolve_column;
use crate::{Result, syslog};
use std::io::{BufRead, Read};

/// Reads a CSV file whose first row names the columns. The table is `--table` or the one whose
/// columns best match the header; rows with the wrong number of fields are rejected.
pub(crate) fn ingest_csv(ctx: &mut FileCtx<'_>, input: impl Read) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(input);
    let mut records = reader.byte_records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().trim_start_matches('\u{feff}').to_string())
            .collect(),
        Some(Err(e)) => {
            ctx.reject(&"line 1", &format!("unreadable header: {e}"));
            return Ok(());
        }
        None => return Ok(()),
    };
    let table = match ctx.table.clone() {
        Some(t) => t,
        None => {
            let keys: Vec<&str> = header.iter().map(String::as_str).collect();
            match infer_from_keys(ctx, &keys) {
                Some(t) => t,
                None => {
                    ctx.skip_reason =
                        Some("CSV header matches no known table; give --table NAME".to_string());
                    return Ok(());
                }
            }
        }
    };
    let columns: Vec<Option<usize>> = header.iter().map(|h| resolve_column(&table, h)).collect();
    for (i, h) in header.iter().enumerate() {
        if columns[i].is_none() && ctx.unmapped.len() < 200 {
            ctx.unmapped.insert(format!("{}.{h}", table.name()));
        }
    }
    let mut line = 1u64;
    for rec in records {
        if ctx.stopped {
            break;
        }
        line = rec.as_ref().ok().and_then(|r| r.position()).map(|p| p.line()).unwrap_or(line + 1);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                ctx.reject(&format!("line {line}"), &format!("unreadable row: {e}"));
                continue;
            }
        };
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.trim_ascii().is_empty()) {
            continue;
        }
        if rec.len() != header.len() {
            ctx.reject(
                &format!("line {line}"),
                &format!("expected {} fields, found {}", header.len(), rec.len()),
            );
            continue;
        }
        {
            let Some(mut row) = ctx.rows.row(table.name()) else { break };
            for (field, col) in rec.iter().zip(&columns) {
                if let Some(i) = col
                    && !field.is_empty()
                {
                    row.text_at(*i, &String::from_utf8_lossy(field));
                }
            }
            row.end();
        }
        ctx.accepted()?;
    }
    Ok(())
}

/// Reads syslog / CEF lines, one record per non-empty line.
pub(crate) fn ingest_lines(ctx: &mut FileCtx<'_>, mut input: impl BufRead) -> Result<()> {
    let mut buf = Vec::new();
    let mut number = 0u64;
    while !ctx.stopped {
        buf.clear();
        let (read, truncated) = match read_line_limited(&mut input, &mut buf, MAX_LINE) {
            Ok(x) => x,
            Err(e) => {
                ctx.reject(&format!("line {}", number + 1), &format!("read error: {e}"));
                break;
            }
        };
        if read == 0 {
            break;
        }
        number += 1;
        if truncated {
            ctx.reject(&format!("line {number}"), &format!("line longer than {MAX_LINE} bytes"));
            continue;
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']).trim_start_matches('\u{feff}');
        if text.trim().is_empty() {
            continue;
        }
        if text.contains('\0') {
            ctx.reject(&format!("line {number}"), &"binary data in a text line");
            continue;
        }
        syslog::write_line(&mut ctx.rows, text);
        ctx.accepted()?;
    }
    Ok(())
}
