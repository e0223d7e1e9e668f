//! The function registry: KQL name -> DataFusion UDF/UDAF, plus each
//! function's arity and return type for the KQL checker.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bulwark_model::KustoType;
use chrono::{DateTime, Utc};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

/// How a function's KQL result type is determined (for the checker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Returns {
    /// Always this type.
    Type(KustoType),
    /// The type of argument `i` (e.g. `bin`, `sumif`, `percentile`).
    SameAsArg(usize),
    /// The common type of the value arguments starting at `i` (`iff` uses 1).
    CommonOfArgs(usize),
    /// `arg_max`/`arg_min`: an Arrow struct of the `by` value followed by the
    /// selected row's values, fields named `c0`, `c1`, ...
    ArgStruct,
}

/// Static description of one KQL function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The KQL name (`has_any`, `format_datetime`, ...).
    pub kql_name: &'static str,
    /// The DataFusion function name (`kql_<name>`).
    pub df_name: String,
    /// Minimum number of arguments.
    pub min_args: usize,
    /// Maximum number of arguments (`usize::MAX` when variadic).
    pub max_args: usize,
    /// Result type rule.
    pub returns: Returns,
}

/// All KQL functions, built for one query (the query's start time fixes
/// `now()` and `ago()`).
#[derive(Debug, Clone)]
pub struct KqlFunctions {
    scalars: HashMap<&'static str, (FunctionInfo, Arc<ScalarUDF>)>,
    aggregates: HashMap<&'static str, (FunctionInfo, Arc<AggregateUDF>)>,
}

impl KqlFunctions {
    /// Builds every function with `now` as the query start time.
    pub fn new(now: DateTime<Utc>) -> Self {
        let now_ns = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
        let mut scalars = HashMap::new();
        for def in crate::all_scalar_defs(now_ns) {
            let info = def.info.clone();
            let mut udf = def.into_udf();
            // Aliases are also DataFusion aliases, so SQL and `Expr`s can use them.
            let aliases: Vec<&'static str> = SCALAR_ALIASES
                .iter()
                .filter(|(_, _, target)| *target == info.kql_name)
                .map(|(_, df, _)| *df)
                .collect();
            if !aliases.is_empty() {
                udf = udf.with_aliases(aliases);
            }
            scalars.insert(info.kql_name, (info, Arc::new(udf)));
        }
        for (alias, _, target) in SCALAR_ALIASES {
            if let Some(e) = scalars.get(target).cloned() {
                scalars.insert(alias, e);
            }
        }
        let mut aggregates = HashMap::new();
        for (info, mut udaf) in crate::aggregate::defs() {
            let aliases: Vec<&'static str> = AGG_ALIASES
                .iter()
                .filter(|(_, _, target)| *target == info.kql_name)
                .map(|(_, df, _)| *df)
                .collect();
            if !aliases.is_empty() {
                udaf = udaf.with_aliases(aliases);
            }
            aggregates.insert(info.kql_name, (info, Arc::new(udaf)));
        }
        for (alias, _, target) in AGG_ALIASES {
            if let Some(e) = aggregates.get(target).cloned() {
                aggregates.insert(alias, e);
            }
        }
        KqlFunctions { scalars, aggregates }
    }

    /// The scalar UDF for a KQL function name (or alias).
    pub fn scalar(&self, kql_name: &str) -> Option<Arc<ScalarUDF>> {
        self.scalars.get(kql_name).map(|(_, u)| Arc::clone(u))
    }

    /// The aggregate UDF for a KQL aggregation name (or alias).
    pub fn aggregate(&self, kql_name: &str) -> Option<Arc<AggregateUDF>> {
        self.aggregates.get(kql_name).map(|(_, u)| Arc::clone(u))
    }

    /// Every distinct scalar UDF.
    pub fn udfs(&self) -> Vec<Arc<ScalarUDF>> {
        let mut v: Vec<_> = self.scalars.values().map(|(_, u)| Arc::clone(u)).collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v.dedup_by(|a, b| a.name() == b.name());
        v
    }

    /// Every distinct aggregate UDF.
    pub fn udafs(&self) -> Vec<Arc<AggregateUDF>> {
        let mut v: Vec<_> = self.aggregates.values().map(|(_, u)| Arc::clone(u)).collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v.dedup_by(|a, b| a.name() == b.name());
        v
    }

    /// Registers every function on a session under its `kql_<name>`.
    pub fn register_all(&self, ctx: &SessionContext) {
        for u in self.udfs() {
            ctx.register_udf(u.as_ref().clone());
        }
        for u in self.udafs() {
            ctx.register_udaf(u.as_ref().clone());
        }
    }
}

/// Scalar aliases (KQL synonyms) -> canonical names.
const SCALAR_ALIASES: [(&str, &str, &str); 6] = [
    ("hash_xxhash64", "kql_hash_xxhash64", "hash"),
    ("todynamic", "kql_todynamic", "parse_json"),
    ("toreal", "kql_toreal", "todouble"),
    ("iif", "kql_iif", "iff"),
    ("bag_pack", "kql_bag_pack", "pack"),
    ("floor", "kql_floor", "bin"),
];

/// Aggregate aliases.
const AGG_ALIASES: [(&str, &str, &str); 2] =
    [("countif", "kql_countif", "count_if"), ("any", "kql_any", "take_any")];

fn info_table() -> &'static KqlFunctions {
    static T: OnceLock<KqlFunctions> = OnceLock::new();
    T.get_or_init(|| KqlFunctions::new(DateTime::<Utc>::UNIX_EPOCH))
}

/// Static information (arity, result type) about a scalar KQL function.
pub fn scalar_info(kql_name: &str) -> Option<&'static FunctionInfo> {
    info_table().scalars.get(kql_name).map(|(i, _)| i)
}

/// Static information about a KQL aggregation function.
pub fn aggregate_info(kql_name: &str) -> Option<&'static FunctionInfo> {
    info_table().aggregates.get(kql_name).map(|(i, _)| i)
}

/// Every KQL scalar function name (including aliases), sorted.
pub fn scalar_names() -> Vec<&'static str> {
    let mut v: Vec<_> = info_table().scalars.keys().copied().collect();
    v.sort_unstable();
    v
}

/// Every KQL aggregation function name (including aliases), sorted.
pub fn aggregate_names() -> Vec<&'static str> {
    let mut v: Vec<_> = info_table().aggregates.keys().copied().collect();
    v.sort_unstable();
    v
}

/// A scalar UDF by KQL name, built for query time `now`.
pub fn scalar(kql_name: &str, now: DateTime<Utc>) -> Result<Arc<ScalarUDF>> {
    KqlFunctions::new(now)
        .scalar(kql_name)
        .ok_or_else(|| Error::UnknownFunction { name: kql_name.to_string() })
}

/// An aggregate UDF by KQL name (aggregates do not depend on the query time).
pub fn aggregate(kql_name: &str) -> Option<Arc<AggregateUDF>> {
    info_table().aggregate(kql_name)
}

/// All scalar UDFs for query time `now`.
pub fn udfs(now: DateTime<Utc>) -> Vec<Arc<ScalarUDF>> {
    KqlFunctions::new(now).udfs()
}

/// All aggregate UDFs.
pub fn udafs() -> Vec<Arc<AggregateUDF>> {
    info_table().udafs()
}

/// Registers all functions on `ctx` with `now` as the query start time.
pub fn register_all(ctx: &SessionContext, now: DateTime<Utc>) {
    KqlFunctions::new(now).register_all(ctx);
}
