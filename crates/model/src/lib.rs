//! Bulwark's shared vocabulary, used by every other crate.
//!
//! * [`KustoType`] — the scalar types of Kusto Query Language and how each maps onto Arrow.
//! * [`SchemaRegistry`] — the one place that defines tables and their typed columns: the Defender
//!   XDR / Sentinel tables analysts know (so their KQL carries over), plus custom `*_CL` tables.
//! * [`entity`] — the entities an investigation is about (devices, accounts, IPs, files …).
//!
//! ```
//! use bulwark_model::{KustoType, SchemaRegistry};
//! let registry = SchemaRegistry::builtin();
//! let table = registry.get("DeviceProcessEvents").expect("built-in table");
//! assert_eq!(table.column("ProcessCommandLine").map(|c| c.ty), Some(KustoType::String));
//! assert_eq!(registry.suggest_table("DeviceProcesEvents").as_deref(), Some("DeviceProcessEvents"));
//! ```
#![deny(missing_docs)]

pub mod batch;
pub mod entity;
mod error;
mod kusto_type;
mod schema;
pub mod text;
pub mod time;

pub use batch::{BatchBuilder, ValueError};
pub use entity::{Entity, EntityKind};
pub use error::{Error, Result};
pub use kusto_type::KustoType;
pub use schema::{ColumnDef, KUSTO_TYPE_METADATA_KEY, SchemaRegistry, TableSchema};
