//! Bulwark's security copilot, working with no language model.
#![deny(missing_docs)]

mod engine_shim;
pub mod entities;
mod error;
pub mod nl2kql;
pub mod query;
pub mod skill;
pub mod skills;

pub use error::{Error, Result};
