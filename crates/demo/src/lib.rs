//! A deterministic, realistic demo tenant for Bulwark.
//!
//! `bulwark demo` fills a data directory with a week of telemetry from a 200-person company
//! (about 50 devices: workstations, servers, domain controllers) across the Defender XDR and
//! Sentinel tables, with three attacks embedded, and writes their ground truth to
//! `scenarios.json`. The same seed and end time give byte-identical data.
//!
//! ```no_run
//! # fn main() -> Result<(), bulwark_demo::Error> {
//! let store = bulwark_store::Store::open("bulwark-data")?;
//! let options = bulwark_demo::DemoOptions { events: 10_000, ..Default::default() };
//! let summary = bulwark_demo::write_demo(&store, &options, &mut |_| {})?;
//! assert_eq!(summary.ground_truth.scenarios.len(), 3);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod background;
pub mod catalog;
pub mod emit;
pub mod rng;
pub mod scenarios;
pub mod tenant;

pub use scenarios::{GroundTruth, Scenario, Stage};

pub use arrow::record_batch::RecordBatch;
use bulwark_model::time::format_datetime_ns;
use bulwark_store::Store;
use std::path::PathBuf;

/// Errors while generating or writing the demo tenant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table the generator writes is missing from the schema registry (a build defect).
    #[error("the schema registry has no table '{0}'")]
    MissingTable(&'static str),
    /// The tenant is too small for a scenario.
    #[error("cannot plant the attack scenarios: {0}")]
    Scenario(&'static str),
    /// Options out of range.
    #[error("invalid demo options: {0}")]
    Options(String),
    /// Building a batch failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing to the store failed.
    #[error(transparent)]
    Store(#[from] bulwark_store::Error),
    /// Writing scenarios.json failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The generator thread stopped unexpectedly.
    #[error("the generator thread failed: {0}")]
    Thread(String),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Background (benign) events; scenario events come on top.
    pub events: u64,
    /// Seed: same seed and end, same tenant.
    pub seed: u64,
    /// Days of history.
    pub days: u32,
    /// End of the window, ns since the Unix epoch (UTC).
    pub end: i64,
    /// People in the organization (admin accounts come on top).
    pub users: usize,
    /// Workstations (servers and domain controllers come on top).
    pub workstations: usize,
    /// Rows per batch handed to the store.
    pub batch_rows: usize,
    /// Replace whatever the store holds (in the same atomic commit) instead of adding to it.
    pub replace: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            events: 200_000,
            seed: 7,
            days: 7,
            end: default_end(),
            users: 196,
            workstations: 41,
            batch_rows: 64 * 1024,
            replace: false,
        }
    }
}

/// The start of the current UTC hour, in ns: the default end of the demo window, so that
/// "last 24 hours" questions find data and runs within the same hour are identical.
pub fn default_end() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (now - now.rem_euclid(3600)) * 1_000_000_000
}

impl DemoOptions {
    fn validate(&self) -> Result<(), Error> {
        if !(10_000..=100_000_000_000).contains(&self.events) {
            return Err(Error::Options(format!(
                "--events must be between 10000 and 100000000000, got {}",
                self.events
            )));
        }
        if !(5..=90).contains(&self.days) {
            return Err(Error::Options(format!(
                "--days must be between 5 and 90, got {}",
                self.days
            )));
        }
        if self.users < 50 || self.workstations < 10 || self.workstations > self.users {
            return Err(Error::Options("the tenant needs at least 50 users and 10 workstations, and no more workstations than users".into()));
        }
        Ok(())
    }
}

/// What was generated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoSummary {
    /// Rows per table.
    pub rows: Vec<(String, u64)>,
    /// Background rows.
    pub background_rows: u64,
    /// Attack rows.
    pub scenario_rows: u64,
    /// Inventory (DeviceInfo) rows.
    pub inventory_rows: u64,
    /// The ground truth written to `scenarios.json`.
    pub ground_truth: GroundTruth,
}

impl DemoSummary {
    /// All rows.
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().map(|r| r.1).sum()
    }
}

/// Generates the tenant, handing batches to `sink` as they fill. `progress` gets the number of
/// background events generated so far.
pub fn generate(
    options: &DemoOptions,
    sink: &mut emit::Sink<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<DemoSummary, Error> {
    options.validate()?;
    let tenant = tenant::Tenant::build(options.seed, options.users, options.workstations);
    let clock = background::Clock::new(options.end, options.days);
    // The emitter borrows the sink for its whole life; reborrow through a local.
    let mut forward = |table: &'static str, batch: RecordBatch| sink(table, batch);
    let mut em = emit::Emitter::new(&mut forward, options.batch_rows, &tenant.tenant_id)?;
    let mut bg = background::Background::new(&tenant, options.seed);
    let inventory_rows = bg.device_inventory(&mut em, options.end, options.days)?;
    let background_rows = bg.run(&mut em, &clock, options.events, progress)?;
    let legacy: Vec<String> =
        bg.legacy_auth_users().iter().map(|&i| tenant.users[i].account.upn.clone()).collect();
    let (scenarios, scenario_rows) =
        scenarios::plant(&mut em, &tenant, options.seed, options.end, options.days)?;
    let rows = em.finish()?.into_iter().map(|(t, n)| (t.to_string(), n)).collect();
    let start = options.end - i64::from(options.days) * 86_400_000_000_000;
    Ok(DemoSummary {
        rows,
        background_rows,
        scenario_rows,
        inventory_rows,
        ground_truth: GroundTruth {
            seed: options.seed,
            start: format_datetime_ns(start),
            end: format_datetime_ns(options.end),
            domain: tenant::DOMAIN.into(),
            devices: tenant.devices.len(),
            users: tenant.users.len(),
            legacy_auth_users: legacy,
            scenarios,
        },
    })
}

/// Generates the tenant into `store` in one transaction (visible whole at the end) and writes
/// `scenarios.json` into the data directory. Generation runs on its own thread while this one
/// encodes Parquet, so both cores work.
pub fn write_demo(
    store: &Store,
    options: &DemoOptions,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<DemoSummary, Error> {
    options.validate()?;
    let mut tx = store.begin()?;
    if options.replace {
        tx.truncate_all()?;
    }
    let (send, receive) = std::sync::mpsc::sync_channel::<(&'static str, RecordBatch)>(8);
    let summary = std::thread::scope(|scope| -> Result<DemoSummary, Error> {
        let generator = scope.spawn(move || {
            let mut sink = |table: &'static str, batch: RecordBatch| {
                send.send((table, batch)).map_err(|_| Error::Thread("the writer stopped".into()))
            };
            generate(options, &mut sink, progress)
        });
        let mut write_error = None;
        for (table, batch) in receive.iter() {
            if write_error.is_none()
                && let Err(e) = tx.write(table, &batch)
            {
                write_error = Some(e);
            }
        }
        let summary =
            generator.join().map_err(|_| Error::Thread("the generator panicked".into()))??;
        if let Some(e) = write_error {
            return Err(e.into());
        }
        Ok(summary)
    })?;
    let path = store.dir().join("scenarios.json");
    let body = serde_json::to_vec_pretty(&summary.ground_truth)
        .map_err(|e| Error::Options(e.to_string()))?;
    let tmp = store.dir().join("scenarios.json.tmp");
    std::fs::write(&tmp, body).map_err(|source| Error::Io { path: tmp.clone(), source })?;
    tx.commit()?;
    std::fs::rename(&tmp, &path).map_err(|source| Error::Io { path: path.clone(), source })?;
    Ok(summary)
}
