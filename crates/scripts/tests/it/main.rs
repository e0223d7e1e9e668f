//! Integration tests of bulwark-scripts against the shared corpora and hostile inputs.
#![allow(clippy::unwrap_used)]

mod api;
mod fuzz;
mod link;
mod obfuscation;
mod revoke;
mod robust;
mod unit42;
