//! Bulwark's security copilot, working with no language model.
#![deny(missing_docs)]

mod copilot;
pub mod entities;
mod error;
pub mod nl2kql;
pub mod planner;
pub mod query;
pub mod session;
pub mod skill;
pub mod skills;

pub use copilot::{Answer, Copilot, ProcessEntry, SkillResult};
pub use error::{Error, Result};
pub use skill::{Evidence, SessionContext, Skill, SkillContext, SkillOutput, SkillRegistry};
