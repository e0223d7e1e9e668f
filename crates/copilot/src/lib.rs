//! Bulwark's security copilot, working with no language model.
#![deny(missing_docs)]

pub mod entities;
mod error;

pub use error::{Error, Result};
