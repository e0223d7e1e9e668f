//! Integration tests of the KQL front end: API behaviour, fixture snapshots, round trips,
//! the shared Sentinel corpus, and a randomised no-panic run.
mod api;
mod corpus;
mod exec;
mod fixtures;
mod fuzz;
mod golden;
mod roundtrip;
