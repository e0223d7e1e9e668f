//! Reading `.evtx` files into [`WindowsRecord`]s with the `evtx` crate, record by record.
//!
//! A damaged chunk or record is one `Err` in the stream, never the end of it: the reader goes
//! on with the next record or chunk, so a truncated file still yields everything before (and
//! after) the damage.
use crate::record::WindowsRecord;
use crate::{Error, Result};
use evtx::{EvtxParser, ParserSettings};
use std::fs::File;
use std::path::Path;

/// Why one record (or one whole chunk) could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Where: `record <EventRecordID>` when known, else `#<position>` in the file.
    pub locator: String,
    /// What went wrong.
    pub reason: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.locator, self.reason)
    }
}

/// An open EVTX file. Iterate it with [`EvtxReader::records`].
pub struct EvtxReader {
    parser: EvtxParser<File>,
    /// Set when the file ends inside a chunk: the parser ignores such a tail silently, so the
    /// reader reports it as one more error after the records.
    truncated: Option<String>,
}

/// EVTX layout: a 4 KiB file header, then 64 KiB chunks.
const HEADER_SIZE: u64 = 4096;
const CHUNK_SIZE: u64 = 65536;

/// Opens an EVTX file for reading with `threads` parser threads (0 = one per core).
///
/// ```no_run
/// let mut reader = bulwark_ingest::read_evtx("Security.evtx", 1)?;
/// for record in reader.records() {
///     match record {
///         Ok(r) => println!("{:?} {}", r.event_id, r.computer),
///         Err(e) => eprintln!("skipped {e}"),
///     }
/// }
/// # Ok::<(), bulwark_ingest::Error>(())
/// ```
pub fn read_evtx(path: impl AsRef<Path>, threads: usize) -> Result<EvtxReader> {
    let path = path.as_ref();
    let parser = EvtxParser::from_path(path)
        .map_err(|e| Error::Evtx { path: path.to_path_buf(), message: e.to_string() })?;
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let tail = len.saturating_sub(HEADER_SIZE) % CHUNK_SIZE;
    let truncated = (len > HEADER_SIZE && tail != 0).then(|| {
        format!(
            "file truncated: its last chunk has {tail} of {CHUNK_SIZE} bytes; the records in it \
             cannot be read"
        )
    });
    let settings = ParserSettings::default()
        .num_threads(threads)
        .indent(false)
        .separate_json_attributes(false);
    Ok(EvtxReader { parser: parser.with_configuration(settings), truncated })
}

impl EvtxReader {
    /// Every record in file order; damaged ones as errors.
    pub fn records(&mut self) -> impl Iterator<Item = Result<WindowsRecord, RecordError>> + '_ {
        let mut position = 0u64;
        let truncated = self
            .truncated
            .clone()
            .map(|reason| Err(RecordError { locator: "end of file".to_string(), reason }));
        self.parser
            .records_json_value()
            .map(move |r| {
                position += 1;
                match r {
                    Ok(rec) => WindowsRecord::from_evtx_json(&rec.data).map_err(|reason| {
                        RecordError { locator: format!("record {}", rec.event_record_id), reason }
                    }),
                    Err(e) => Err(RecordError {
                        locator: format!("#{position}"),
                        reason: one_line(&e.to_string()),
                    }),
                }
            })
            .chain(truncated)
    }
}

/// Error texts of the evtx crate span lines; reports want one.
fn one_line(s: &str) -> String {
    let joined: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut out = joined.join(" ");
    if out.len() > 300 {
        let mut cut = 300;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}
