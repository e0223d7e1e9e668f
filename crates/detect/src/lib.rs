//! Bulwark detections: Sigma rules (SigmaHQ and our built-in pack) evaluated on our tables,
//! converted to KQL, and turned into alerts with entities.
//!
//! - [`logsource`]: the one auditable mapping of Sigma logsources to tables and fields to columns.
//! - [`event`]: rows seen as Sigma events; raw Windows event rows from EVTX JSON.
//! - [`rules`]: [`RuleSet`] loading (with a [`LoadReport`]), evaluation, [`Correlator`].
//! - [`regression`]: the SigmaHQ regression-test harness (`sigma test DIR`).
//! - [`kql`]: [`to_kql`], Sigma to KQL an analyst can paste into Defender XDR or Sentinel.
//! - [`builtin`]: the built-in analytics pack written by this project.
//! - [`alert`]: [`Alert`] and entity extraction.
//! - [`hunt`]: [`hunt::hunt`] over the store, [`hunt::write_findings`] back into it.
//! - [`stream`]: [`StreamingDetector`], the same rules on events as they arrive (at ingest),
//!   with the same findings as a hunt over the stored rows.
//! - [`incident`]: [`correlate`], alerts grouped into incidents by shared entities and time.
//! - [`title`]: Defender-style incident titles.
//!
//! Rules are parsed and evaluated by the `rsigma` crates. SigmaHQ rules are under the Detection
//! Rule License (DRL) 1.1: alerts and converted queries keep each rule's author.
//!
//! ```
//! use bulwark_detect::RuleSet;
//! use serde_json::json;
//!
//! let mut rules = RuleSet::new();
//! let report = rules.add_yaml(r#"
//! title: Whoami
//! id: 11111111-2222-3333-4444-555555555555
//! logsource: {product: windows, category: process_creation}
//! detection:
//!     selection: {CommandLine|contains: whoami}
//!     condition: selection
//! level: low
//! "#, "example");
//! assert_eq!(report.loaded, 1);
//! let row = json!({"ProcessCommandLine": "cmd /c whoami", "DeviceName": "ws1"});
//! let alerts = rules.evaluate_row("DeviceProcessEvents", row.as_object().unwrap());
//! assert_eq!(alerts.len(), 1);
//! ```
#![deny(missing_docs)]

pub mod alert;
pub mod builtin;
pub mod compat;
pub mod error;
pub mod event;
pub mod hunt;
pub mod incident;
pub mod kql;
pub mod logsource;
pub mod regression;
pub mod rules;
pub mod stream;
pub mod title;

pub use alert::{Alert, AlertKind};
pub use error::{Error, Result};
pub use incident::{Incident, IncidentConfig, correlate};
pub use kql::{chained_correlation_to_kql, correlation_to_kql, to_kql, to_kql_on};
pub use regression::{
    Criterion, EventSource, JsonRendering, RegressionReport, run_regression, run_regression_with,
};
pub use rules::{Correlator, LoadReport, RuleSet};
pub use stream::{StreamConfig, StreamingDetector};
