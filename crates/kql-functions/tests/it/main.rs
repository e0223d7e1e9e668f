//! Golden tests: every function runs through a real DataFusion
//! `SessionContext`; expected values come from the KQL reference examples
//! (noted per case) or from Kusto's documented rules.

mod aggregates;
mod datetime;
mod dynamic;
mod network;
mod robustness;
mod strings;
mod util;
