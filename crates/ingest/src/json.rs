//! JSON input: JSON lines, concatenated (pretty-printed) objects, or one array of objects, read
//! streamingly. Each object is routed to a table:
//! 1. `--table` when given;
//! 2. its `Type` field when that names a known table (Log Analytics exports);
//! 3. a flattened Windows event (an `EventID` plus a `Channel` or provider: OTRF
//!    Security-Datasets, NXLog, Winlogbeat) goes through the Windows mapping;
//! 4. otherwise the table whose columns best cover the object's non-empty keys (Defender
//!    advanced-hunting exports), when that covers at least 60% of them and 3 or more;
//! 5. otherwise the object is rejected, asking for `--table`.
use crate::pipeline::FileCtx;
use crate::record::WindowsRecord;
use crate::sink::resolve_column;
use crate::{Result, windows};
use bulwark_model::{KustoType, TableSchema};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::io::BufRead;
use std::sync::Arc;

/// Longest JSON line accepted; longer ones are rejected without being held in memory.
pub(crate) const MAX_LINE: usize = 64 << 20;

/// Reads JSON from `input` into the context's tables.
pub(crate) fn ingest_json(ctx: &mut FileCtx<'_>, mut input: impl BufRead) -> Result<()> {
    // Decide the layout from the first non-blank byte (and whether the first line parses).
    let first = loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) => {
                ctx.reject(&"#1", &format!("read error: {e}"));
                return Ok(());
            }
        };
        if buf.is_empty() {
            return Ok(());
        }
        let skip = buf
            .iter()
            .take_while(|b| b.is_ascii_whitespace() || **b == 0xef || **b == 0xbb || **b == 0xbf)
            .count();
        if skip < buf.len() {
            let b = buf[skip];
            input.consume(skip);
            break b;
        }
        let n = buf.len();
        input.consume(n);
    };
    if first == b'[' {
        return ingest_array(ctx, input);
    }
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut stream_mode = false;
    while !ctx.stopped {
        line.clear();
        let (read, truncated) = match read_line_limited(&mut input, &mut line, MAX_LINE) {
            Ok(x) => x,
            Err(e) => {
                ctx.reject(&format!("{}", number + 1), &format!("read error: {e}"));
                break;
            }
        };
        if read == 0 {
            break;
        }
        number += 1;
        if truncated {
            ctx.reject(&number, &format!("line longer than {MAX_LINE} bytes"));
            continue;
        }
        let text = trim_ascii(&line);
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(obj)) => ctx.object(obj, &number)?,
            Ok(other) => {
                ctx.reject(&number, &format!("expected a JSON object, found {}", kind(&other)))
            }
            Err(e) if number == 1 && text.first() == Some(&b'{') && e.is_eof() => {
                // A pretty-printed object spans lines: read the rest as a stream of values.
                stream_mode = true;
                break;
            }
            Err(e) => ctx.reject(&number, &format!("invalid JSON: {e}")),
        }
    }
    if stream_mode {
        let chained = std::io::Read::chain(std::io::Cursor::new(std::mem::take(&mut line)), input);
        let mut n = 0u64;
        for value in serde_json::Deserializer::from_reader(chained).into_iter::<Value>() {
            n += 1;
            match value {
                Ok(Value::Object(obj)) => ctx.object(obj, &format!("object {n}"))?,
                Ok(other) => ctx.reject(
                    &format!("object {n}"),
                    &format!("expected a JSON object, found {}", kind(&other)),
                ),
                Err(e) => {
                    // A stream cannot resynchronize after a syntax error: report and stop.
                    ctx.reject(
                        &format!("object {n}"),
                        &format!("invalid JSON (rest of file not readable): {e}"),
                    );
                    break;
                }
            }
            if ctx.stopped {
                break;
            }
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    b.trim_ascii()
}

/// Reads up to and including the next `\n` into `buf`, keeping at most `limit` bytes (the rest
/// of an over-long line is consumed and dropped). Returns (bytes consumed, truncated).
pub(crate) fn read_line_limited(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut truncated = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok((consumed, truncated));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = limit.saturating_sub(buf.len());
        if take > room {
            truncated = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        input.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, truncated));
        }
    }
}

/// Streams the elements of a top-level array without holding the array.
fn ingest_array(ctx: &mut FileCtx<'_>, input: impl BufRead) -> Result<()> {
    struct Seed<'c, 'a> {
        ctx: &'c mut FileCtx<'a>,
        result: Result<()>,
    }
    impl<'de> DeserializeSeed<'de> for &mut Seed<'_, '_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for &mut Seed<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut n = 0u64;
            while let Some(v) = seq.next_element::<Value>()? {
                n += 1;
                match v {
                    Value::Object(obj) => {
                        if let Err(e) = self.ctx.object(obj, &format!("element {n}")) {
                            self.result = Err(e);
                            return Ok(());
                        }
                    }
                    other => self.ctx.reject(
                        &format!("element {n}"),
                        &format!("expected a JSON object, found {}", kind(&other)),
                    ),
                }
                if self.ctx.stopped {
                    return Ok(());
                }
            }
            Ok(())
        }
    }
    let mut seed = Seed { ctx, result: Ok(()) };
    let mut de = serde_json::Deserializer::from_reader(input);
    if let Err(e) = (&mut seed).deserialize(&mut de) {
        seed.ctx.reject(&"array", &format!("invalid JSON (rest of file not readable): {e}"));
    }
    seed.result
}

impl FileCtx<'_> {
    /// Writes one object and counts it (accepted or rejected), flushing a full chunk.
    fn object(&mut self, obj: Map<String, Value>, locator: &dyn std::fmt::Display) -> Result<()> {
        match write_object(self, obj) {
            Ok(()) => self.accepted(),
            Err(reason) => {
                self.reject(locator, &reason);
                Ok(())
            }
        }
    }
}

/// Routes one object to its table(s) and writes it, or says why it cannot be placed.
fn write_object(ctx: &mut FileCtx<'_>, obj: Map<String, Value>) -> Result<(), String> {
    if let Some(table) = ctx.table.clone() {
        write_to_table(ctx, &table, &obj);
        return Ok(());
    }
    if let Some(Value::String(t)) = obj.get("Type")
        && let Some(schema) = ctx.rows.registry().get(t).cloned()
    {
        write_to_table(ctx, &schema, &obj);
        return Ok(());
    }
    if let Some(r) = WindowsRecord::from_flat_json(&obj) {
        windows::write_record(&mut ctx.rows, &r);
        return Ok(());
    }
    match infer_table(ctx, &obj) {
        Some(schema) => {
            write_to_table(ctx, &schema, &obj);
            Ok(())
        }
        None => Err("cannot tell which table this object belongs to (no Type field, no table \
                     whose columns match; use --table)"
            .to_string()),
    }
}

fn non_empty(v: &Value) -> bool {
    !matches!(v, Value::Null) && !matches!(v, Value::String(s) if s.is_empty())
}

/// The table whose columns best cover the object's non-empty keys (cached per key set).
fn infer_table(ctx: &mut FileCtx<'_>, obj: &Map<String, Value>) -> Option<Arc<TableSchema>> {
    let keys: Vec<&str> =
        obj.iter().filter(|(_, v)| non_empty(v)).map(|(k, _)| k.as_str()).collect();
    infer_from_keys(ctx, &keys)
}

/// Picks a table for a set of column names (JSON keys or a CSV header).
pub(crate) fn infer_from_keys(ctx: &mut FileCtx<'_>, keys: &[&str]) -> Option<Arc<TableSchema>> {
    let signature = keys.join("\u{1}");
    if let Some(hit) = ctx.infer_cache.get(&signature) {
        return hit.as_ref().and_then(|n| ctx.rows.registry().get(n).cloned());
    }
    let mut best: Option<(usize, usize, Arc<TableSchema>)> = None;
    for t in ctx.rows.registry().tables() {
        let score = keys.iter().filter(|k| exact_or_suffix(t, k)).count();
        if score == 0 {
            continue;
        }
        let better = match &best {
            None => true,
            // More keys covered wins; then the smaller table (fewer columns left empty).
            Some((s, cols, _)) => score > *s || (score == *s && t.columns().len() < *cols),
        };
        if better {
            best = Some((score, t.columns().len(), t.clone()));
        }
    }
    let chosen =
        best.filter(|(score, _, _)| *score >= 3 && score * 10 >= keys.len() * 6).map(|(_, _, t)| t);
    ctx.infer_cache.insert(signature, chosen.as_ref().map(|t| t.name().to_string()));
    chosen
}

fn exact_or_suffix(t: &TableSchema, key: &str) -> bool {
    t.index_of(key).is_some()
        || key
            .rsplit_once('_')
            .is_some_and(|(base, _)| !base.is_empty() && t.index_of(base).is_some())
}

/// Keys that carry an event time when the table's time column is not among the keys.
const TIME_KEYS: &[&str] = &[
    "TimeGenerated",
    "Timestamp",
    "@timestamp",
    "timestamp",
    "EventTime",
    "TimeCreated",
    "time",
    "eventTime",
    "date",
];

/// Writes `obj` as one row of `schema`, columns matched by name. Keys without a column go to
/// `AdditionalFields` when the table has one, else are noted in the report.
fn write_to_table(ctx: &mut FileCtx<'_>, schema: &Arc<TableSchema>, obj: &Map<String, Value>) {
    let name = schema.name().to_string();
    let mut unmatched = Map::new();
    let mut missing: Vec<String> = Vec::new();
    {
        let Some(mut row) = ctx.rows.row(&name) else { return };
        for (k, v) in obj {
            match resolve_column(schema, k) {
                Some(i) => row.json_at(i, v),
                // `Type` names the table in Log Analytics exports: it was used for routing.
                None if non_empty(v) && k != "Type" => {
                    unmatched.insert(k.clone(), v.clone());
                }
                None => {}
            }
        }
        if let Some(tc) = schema.time_column()
            && let Some(i) = schema.index_of(tc)
            && !obj.contains_key(tc)
            && let Some(v) = TIME_KEYS.iter().find_map(|k| obj.get(*k).filter(|v| non_empty(v)))
        {
            row.json_at(i, v);
        }
        if !unmatched.is_empty() {
            match schema.column("AdditionalFields") {
                Some(c) if c.ty == KustoType::Dynamic && !obj.contains_key("AdditionalFields") => {
                    row.text(
                        "AdditionalFields",
                        &Value::Object(std::mem::take(&mut unmatched)).to_string(),
                    );
                }
                _ => missing.extend(unmatched.keys().cloned()),
            }
        }
        row.end();
    }
    for k in missing {
        if ctx.unmapped.len() < 200 {
            ctx.unmapped.insert(format!("{name}.{k}"));
        }
    }
}
