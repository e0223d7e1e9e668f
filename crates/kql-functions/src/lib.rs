//! KQL (Kusto Query Language) functions for DataFusion.
//!
//! Scalar functions are [`ScalarUDF`](datafusion::logical_expr::ScalarUDF)s
//! named `kql_<name>` and aggregations are
//! [`AggregateUDF`](datafusion::logical_expr::AggregateUDF)s named the same
//! way, so they never clash with DataFusion's built-ins. They follow Kusto's
//! semantics where they differ from SQL: `has` matches whole terms,
//! conversions return null instead of failing, strings are never null
//! (a null string reads as `""`), datetimes are UTC.
//!
//! Storage conventions: string/guid `Utf8` (also `Utf8View`/`LargeUtf8` in),
//! dynamic `Utf8` JSON text, datetime `Timestamp(Nanosecond, "UTC")`,
//! timespan `Duration(Nanosecond)`, int `Int32`, long `Int64`, real
//! `Float64`, bool `Boolean`.
//!
//! `now()` and `ago()` read the query start time fixed when the functions
//! are built ([`KqlFunctions::new`]), so every row of a query sees one `now`.
//!
//! ```
//! use bulwark_kql_functions::{KqlFunctions, scalar_info};
//! use chrono::{TimeZone, Utc};
//! use datafusion::prelude::SessionContext;
//!
//! let ctx = SessionContext::new();
//! let fns = KqlFunctions::new(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
//! fns.register_all(&ctx);
//! assert_eq!(fns.scalar("has").unwrap().name(), "kql_has");
//! assert_eq!(scalar_info("substring").unwrap().max_args, 3);
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let batches = rt.block_on(async {
//!     ctx.sql("SELECT kql_has('The quick brown fox', 'QUICK') AS h").await?.collect().await
//! }).unwrap();
//! assert_eq!(batches[0].num_rows(), 1);
//! ```

#![deny(missing_docs)]

mod aggregate;
mod convert;
mod datetime;
mod dynamic;
mod error;
mod network;
mod registry;
mod string;
mod udf;

pub use convert::{format_real, parse_bool, parse_guid, parse_long, parse_real};
pub use datetime::{
    format_datetime, format_iso, format_timespan, format_timespan_kql, parse_datetime,
    parse_timespan,
};
pub use error::{Error, Result};
pub use network::{parse_ipv4_cidr, parse_ipv6_cidr, parse_path, parse_url};
pub use registry::{
    FunctionInfo, KqlFunctions, Returns, aggregate, aggregate_info, aggregate_names, register_all,
    scalar, scalar_info, scalar_names, udafs, udfs,
};

/// Every scalar definition; `now_ns` is the query start in Unix nanoseconds.
pub(crate) fn all_scalar_defs(now_ns: i64) -> Vec<udf::Def> {
    let mut v = string::defs();
    v.extend(dynamic::defs());
    v.extend(datetime::defs(now_ns));
    v.extend(convert::defs());
    v.extend(network::defs());
    v
}
