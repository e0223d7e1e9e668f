//! Bulwark's security copilot, working with no language model.
#![deny(missing_docs)]

pub mod entities;
mod error;
pub mod nl2kql;

pub use error::{Error, Result};
