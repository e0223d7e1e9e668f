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
//! # Notes for the planner
//!
//! * `now()` and `ago()` read the query start time fixed when the functions
//!   are built ([`KqlFunctions::new`] / [`register_all`]): build one set per
//!   query so every row sees one `now`.
//! * `arg_max(by, v1, ..)`/`arg_min` return an Arrow struct `{c0: by, c1: v1,
//!   ..}`; unpack with `get_field` (SQL `agg(..)['c1']`). Rows whose `by` is
//!   null are skipped; ties keep the first row seen.
//! * `percentiles(x, p1, p2, ..)` returns a JSON array of values in `p` order.
//! * Utf8 cannot tell `dynamic` from `string`: use `kql_tostring_dynamic` for
//!   `tostring(<dynamic>)` (unquotes JSON strings) and `kql_get` for `d.a[0]`.
//!   Builders (`pack`, `make_list`, ..) embed a string argument as JSON when
//!   it holds object/array text, else as a JSON string.
//! * KQL strings are never null: null string inputs read as `""`, string
//!   predicates never return null, `extract` with no match gives `""`.
//! * Operators map to functions: `=~` `kql_equals_ci`, `in~` `kql_in_ci`,
//!   `matches regex` `kql_matches_regex`; negations (`!has`) are `NOT`.
//! * List arguments (`has_any`, `in~`, `ipv4_is_in_any_range`) accept both
//!   separate string arguments and one JSON array (a `dynamic([...])` literal).
//! * Invalid constant arguments (regex, datetime part, `countof` kind, non-constant
//!   percentile) are DataFusion execution errors; bad data yields null.
//! * `dcount` is exact; `geo_info_from_ip_address` always returns `{}` (no
//!   geolocation database offline); JSON object keys come out sorted.
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
