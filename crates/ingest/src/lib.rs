//! Bulwark ingestion: security telemetry files into the normalized tables.
//!
//! Two layers:
//! * **Parsing, independent of the store** — [`read_evtx`] yields [`WindowsRecord`]s (system
//!   fields plus a flat event-data map) from `.evtx` files; [`WindowsRecord::from_flat_json`]
//!   reads flattened JSON exports into the same shape; [`parse_syslog`] and [`parse_cef`] read
//!   lines. The detection engine can evaluate rules on these streams directly.
//! * **Ingesting into a [`bulwark_store::Store`]** — [`ingest`] walks files and directories,
//!   detects each file's format from its content ([`sniff`]), and writes rows with bounded
//!   memory on all cores: EVTX and Windows JSON to `SecurityEvent` / `WindowsEvent` plus the
//!   `Device*` tables per the audited [`mapping::MAPPINGS`] table; Log Analytics and Defender
//!   exports to the table they name or match; CSV by header; syslog to `Syslog`; CEF to
//!   `CommonSecurityLog`. Bad records are reported as `file:record: reason` and never stop the
//!   run; files already ingested (same SHA-256) are skipped unless forced.
//!
//! ```no_run
//! use bulwark_ingest::{IngestOptions, ingest};
//! let store = bulwark_store::Store::open("bulwark-data")?;
//! let report = ingest(&store, &["logs/".into()], &IngestOptions::default(), &|_| {})?;
//! println!("{} rows, {} rejected", report.total_rows(), report.rejected);
//! # Ok::<(), bulwark_ingest::Error>(())
//! ```
#![deny(missing_docs)]

mod delimited;
mod error;
mod evtx;
mod json;
pub mod mapping;
mod pipeline;
mod record;
mod sink;
mod sniff;
mod syslog;
mod windows;

pub use error::{Error, Result};
pub use evtx::{EvtxReader, RecordError, read_evtx};
pub use pipeline::{
    FileReport, IngestOptions, IngestReport, ProgressEvent, SkippedFile, ingest, ingest_with,
};
pub use record::{Source, WindowsRecord};
pub use sniff::{Format, sniff, sniff_file};
pub use syslog::{Cef, SyslogLine, parse_cef, parse_syslog};
pub use windows::raw_table;
