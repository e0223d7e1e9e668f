//! Bulwark's security copilot, working with no language model.
#![deny(missing_docs)]

pub mod entities;
pub mod nl2kql;
mod error;

pub use error::{Error, Result};
