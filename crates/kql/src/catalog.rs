//! The builtin function catalogue: names, arity and return-type rules of the common KQL scalar,
//! aggregate and window functions, used by the checker (and by the planner to know what exists).
use bulwark_model::KustoType;
use std::collections::HashMap;
use std::sync::OnceLock;

/// How a function's result type follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// Always this type.
    Fixed(KustoType),
    /// The type of argument `n` (unknown if that argument is).
    Arg(usize),
    /// Numeric promotion of the arguments: real if any is real, else long (or the timespan /
    /// datetime of the first argument).
    Numeric,
    /// Type depends on data (e.g. `iff` branches: taken from argument 1).
    Unknown,
}

/// Function family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Row-level scalar function.
    Scalar,
    /// Aggregation (summarize, make-series, top-nested, mv-apply).
    Aggregate,
    /// Window function over serialized rows (`prev`, `next`, `row_number` …).
    Window,
}

/// One catalogued function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Canonical name.
    pub name: &'static str,
    /// Minimum argument count.
    pub min_args: usize,
    /// Maximum argument count (`usize::MAX` = variadic).
    pub max_args: usize,
    /// Result type rule.
    pub ret: Ret,
    /// Family.
    pub kind: Kind,
    /// For aggregates: the default output column prefix (`count` → `count_`, `dcount(X)` →
    /// `dcount_X`).
    pub column_prefix: &'static str,
}

use KustoType as T;
use Ret::*;

const V: usize = usize::MAX;

macro_rules! f {
    ($name:literal, $min:expr, $max:expr, $ret:expr) => {
        FunctionInfo {
            name: $name,
            min_args: $min,
            max_args: $max,
            ret: $ret,
            kind: Kind::Scalar,
            column_prefix: "",
        }
    };
}
macro_rules! agg {
    ($name:literal, $min:expr, $max:expr, $ret:expr, $prefix:literal) => {
        FunctionInfo {
            name: $name,
            min_args: $min,
            max_args: $max,
            ret: $ret,
            kind: Kind::Aggregate,
            column_prefix: $prefix,
        }
    };
}
macro_rules! win {
    ($name:literal, $min:expr, $max:expr, $ret:expr) => {
        FunctionInfo {
            name: $name,
            min_args: $min,
            max_args: $max,
            ret: $ret,
            kind: Kind::Window,
            column_prefix: "",
        }
    };
}

/// Every builtin function.
pub static FUNCTIONS: &[FunctionInfo] = &[
    // --- conversion
    f!("tostring", 1, 1, Fixed(T::String)),
    f!("toint", 1, 1, Fixed(T::Int)),
    f!("tolong", 1, 1, Fixed(T::Long)),
    f!("toreal", 1, 1, Fixed(T::Real)),
    f!("todouble", 1, 1, Fixed(T::Real)),
    f!("todecimal", 1, 1, Fixed(T::Decimal)),
    f!("tobool", 1, 1, Fixed(T::Bool)),
    f!("toboolean", 1, 1, Fixed(T::Bool)),
    f!("todatetime", 1, 1, Fixed(T::DateTime)),
    f!("totimespan", 1, 1, Fixed(T::TimeSpan)),
    f!("toguid", 1, 1, Fixed(T::Guid)),
    f!("todynamic", 1, 1, Fixed(T::Dynamic)),
    f!("toobject", 1, 1, Fixed(T::Dynamic)),
    f!("parse_json", 1, 1, Fixed(T::Dynamic)),
    f!("parsejson", 1, 1, Fixed(T::Dynamic)),
    f!("parse_xml", 1, 1, Fixed(T::Dynamic)),
    f!("parse_csv", 1, 1, Fixed(T::Dynamic)),
    f!("parse_url", 1, 1, Fixed(T::Dynamic)),
    f!("parseurl", 1, 1, Fixed(T::Dynamic)),
    f!("parse_urlquery", 1, 1, Fixed(T::Dynamic)),
    f!("parse_path", 1, 1, Fixed(T::Dynamic)),
    f!("parse_user_agent", 2, 2, Fixed(T::Dynamic)),
    f!("parse_version", 1, 1, Fixed(T::Decimal)),
    f!("parse_ipv4", 1, 1, Fixed(T::Long)),
    f!("parse_ipv4_mask", 2, 2, Fixed(T::Long)),
    f!("parse_ipv6", 1, 1, Fixed(T::String)),
    f!("parse_command_line", 2, 2, Fixed(T::Dynamic)),
    f!("tohex", 1, 2, Fixed(T::String)),
    f!("dynamic_to_json", 1, 1, Fixed(T::String)),
    f!("typeof", 1, 1, Fixed(T::String)),
    f!("gettype", 1, 1, Fixed(T::String)),
    // --- null and emptiness
    f!("isempty", 1, 1, Fixed(T::Bool)),
    f!("isnotempty", 1, 1, Fixed(T::Bool)),
    f!("notempty", 1, 1, Fixed(T::Bool)),
    f!("isnull", 1, 1, Fixed(T::Bool)),
    f!("isnotnull", 1, 1, Fixed(T::Bool)),
    f!("notnull", 1, 1, Fixed(T::Bool)),
    f!("isnan", 1, 1, Fixed(T::Bool)),
    f!("isinf", 1, 1, Fixed(T::Bool)),
    f!("isfinite", 1, 1, Fixed(T::Bool)),
    f!("coalesce", 1, V, Arg(0)),
    // --- logic
    f!("iff", 3, 3, Arg(1)),
    f!("iif", 3, 3, Arg(1)),
    f!("case", 3, V, Arg(1)),
    f!("not", 1, 1, Fixed(T::Bool)),
    f!("max_of", 1, V, Arg(0)),
    f!("min_of", 1, V, Arg(0)),
    f!("column_ifexists", 2, 2, Arg(1)),
    f!("columnifexists", 2, 2, Arg(1)),
    f!("toscalar", 1, 1, Unknown),
    f!("materialize", 1, 1, Unknown),
    f!("table", 1, 2, Unknown),
    f!("ingestion_time", 0, 0, Fixed(T::DateTime)),
    f!("current_principal", 0, 0, Fixed(T::String)),
    f!("current_principal_details", 0, 0, Fixed(T::Dynamic)),
    f!("current_cluster_endpoint", 0, 0, Fixed(T::String)),
    f!("current_database", 0, 0, Fixed(T::String)),
    f!("new_guid", 0, 0, Fixed(T::Guid)),
    f!("rand", 0, 1, Fixed(T::Real)),
    f!("hash", 1, 2, Fixed(T::Long)),
    f!("hash_sha256", 1, 1, Fixed(T::String)),
    f!("hash_sha1", 1, 1, Fixed(T::String)),
    f!("hash_md5", 1, 1, Fixed(T::String)),
    f!("hash_xxhash64", 1, 2, Fixed(T::Long)),
    f!("hash_combine", 2, V, Fixed(T::Long)),
    f!("hash_many", 1, V, Fixed(T::Long)),
    // --- strings
    f!("strcat", 1, V, Fixed(T::String)),
    f!("strcat_delim", 2, V, Fixed(T::String)),
    f!("strcat_array", 2, 2, Fixed(T::String)),
    f!("strlen", 1, 1, Fixed(T::Long)),
    f!("string_size", 1, 1, Fixed(T::Long)),
    f!("substring", 2, 3, Fixed(T::String)),
    f!("tolower", 1, 1, Fixed(T::String)),
    f!("toupper", 1, 1, Fixed(T::String)),
    f!("trim", 2, 2, Fixed(T::String)),
    f!("trim_start", 2, 2, Fixed(T::String)),
    f!("trim_end", 2, 2, Fixed(T::String)),
    f!("strrep", 2, 3, Fixed(T::String)),
    f!("reverse", 1, 1, Fixed(T::String)),
    f!("replace", 3, 3, Fixed(T::String)),
    f!("replace_string", 3, 3, Fixed(T::String)),
    f!("replace_strings", 3, 3, Fixed(T::String)),
    f!("replace_regex", 3, 3, Fixed(T::String)),
    f!("translate", 3, 3, Fixed(T::String)),
    f!("split", 2, 3, Fixed(T::Dynamic)),
    f!("extract", 3, 4, Unknown),
    f!("extract_all", 2, 4, Fixed(T::Dynamic)),
    f!("extractjson", 2, 3, Unknown),
    f!("extract_json", 2, 3, Unknown),
    f!("indexof", 2, 5, Fixed(T::Long)),
    f!("indexof_regex", 2, 4, Fixed(T::Long)),
    f!("countof", 2, 3, Fixed(T::Long)),
    f!("strcmp", 2, 2, Fixed(T::Int)),
    f!("has_any_index", 2, 2, Fixed(T::Long)),
    f!("isascii", 1, 1, Fixed(T::Bool)),
    f!("isutf8", 1, 1, Fixed(T::Bool)),
    f!("url_encode", 1, 1, Fixed(T::String)),
    f!("url_encode_component", 1, 1, Fixed(T::String)),
    f!("url_decode", 1, 1, Fixed(T::String)),
    f!("base64_encode_tostring", 1, 1, Fixed(T::String)),
    f!("base64_encodestring", 1, 1, Fixed(T::String)),
    f!("base64_decode_tostring", 1, 1, Fixed(T::String)),
    f!("base64_decodestring", 1, 1, Fixed(T::String)),
    f!("base64_decode_toarray", 1, 1, Fixed(T::Dynamic)),
    f!("base64_encode_fromarray", 1, 1, Fixed(T::String)),
    f!("base64_decode_toguid", 1, 1, Fixed(T::Guid)),
    f!("unicode_codepoints_from_string", 1, 1, Fixed(T::Dynamic)),
    f!("unicode_codepoints_to_string", 1, 1, Fixed(T::String)),
    f!("make_string", 1, V, Fixed(T::String)),
    f!("format_datetime", 2, 2, Fixed(T::String)),
    f!("format_timespan", 2, 2, Fixed(T::String)),
    f!("format_bytes", 1, 3, Fixed(T::String)),
    f!("format_ipv4", 1, 2, Fixed(T::String)),
    f!("format_ipv4_mask", 1, 2, Fixed(T::String)),
    // --- ip addresses
    f!("ipv4_is_private", 1, 1, Fixed(T::Bool)),
    f!("ipv4_is_match", 2, 3, Fixed(T::Bool)),
    f!("ipv4_is_in_range", 2, 2, Fixed(T::Bool)),
    f!("ipv4_is_in_any_range", 2, V, Fixed(T::Bool)),
    f!("ipv4_compare", 2, 3, Fixed(T::Long)),
    f!("ipv4_netmask_suffix", 1, 1, Fixed(T::Long)),
    f!("ipv4_range_to_cidr_list", 2, 2, Fixed(T::Dynamic)),
    f!("ipv6_compare", 2, 3, Fixed(T::Long)),
    f!("ipv6_is_match", 2, 3, Fixed(T::Bool)),
    f!("ipv6_is_in_range", 2, 2, Fixed(T::Bool)),
    f!("ipv6_is_in_any_range", 2, V, Fixed(T::Bool)),
    f!("has_ipv4", 2, 2, Fixed(T::Bool)),
    f!("has_ipv4_prefix", 2, 2, Fixed(T::Bool)),
    f!("has_any_ipv4", 2, V, Fixed(T::Bool)),
    f!("has_any_ipv4_prefix", 2, V, Fixed(T::Bool)),
    f!("geo_info_from_ip_address", 1, 1, Fixed(T::Dynamic)),
    // --- dynamic / arrays / bags
    f!("array_length", 1, 1, Fixed(T::Long)),
    f!("arraylength", 1, 1, Fixed(T::Long)),
    f!("array_concat", 1, V, Fixed(T::Dynamic)),
    f!("array_slice", 3, 3, Fixed(T::Dynamic)),
    f!("array_split", 2, 2, Fixed(T::Dynamic)),
    f!("array_index_of", 2, 4, Fixed(T::Long)),
    f!("array_reverse", 1, 1, Fixed(T::Dynamic)),
    f!("array_rotate_left", 2, 2, Fixed(T::Dynamic)),
    f!("array_rotate_right", 2, 2, Fixed(T::Dynamic)),
    f!("array_shift_left", 2, 3, Fixed(T::Dynamic)),
    f!("array_shift_right", 2, 3, Fixed(T::Dynamic)),
    f!("array_sort_asc", 1, V, Fixed(T::Dynamic)),
    f!("array_sort_desc", 1, V, Fixed(T::Dynamic)),
    f!("array_sum", 1, 1, Fixed(T::Real)),
    f!("array_iff", 3, 3, Fixed(T::Dynamic)),
    f!("array_iif", 3, 3, Fixed(T::Dynamic)),
    f!("array_strcat", 2, 2, Fixed(T::String)),
    f!("pack_array", 0, V, Fixed(T::Dynamic)),
    f!("pack", 0, V, Fixed(T::Dynamic)),
    f!("bag_pack", 0, V, Fixed(T::Dynamic)),
    f!("pack_dictionary", 0, V, Fixed(T::Dynamic)),
    f!("pack_all", 0, 1, Fixed(T::Dynamic)),
    f!("bag_pack_columns", 1, V, Fixed(T::Dynamic)),
    f!("bag_keys", 1, 1, Fixed(T::Dynamic)),
    f!("bag_merge", 1, V, Fixed(T::Dynamic)),
    f!("bag_remove_keys", 2, 2, Fixed(T::Dynamic)),
    f!("bag_set_key", 3, 3, Fixed(T::Dynamic)),
    f!("bag_has_key", 2, 2, Fixed(T::Bool)),
    f!("set_difference", 2, V, Fixed(T::Dynamic)),
    f!("set_union", 2, V, Fixed(T::Dynamic)),
    f!("set_intersect", 2, V, Fixed(T::Dynamic)),
    f!("set_has_element", 2, 2, Fixed(T::Bool)),
    f!("jaccard_index", 2, 2, Fixed(T::Real)),
    f!("zip", 2, V, Fixed(T::Dynamic)),
    f!("repeat", 2, 2, Fixed(T::Dynamic)),
    f!("range", 2, 3, Fixed(T::Dynamic)),
    f!("treepath", 1, 1, Fixed(T::Dynamic)),
    // --- datetime and timespan
    f!("now", 0, 1, Fixed(T::DateTime)),
    f!("ago", 1, 1, Fixed(T::DateTime)),
    f!("bin", 2, 2, Arg(0)),
    f!("floor", 2, 2, Arg(0)),
    f!("bin_at", 3, 3, Arg(0)),
    f!("bin_auto", 1, 1, Arg(0)),
    f!("startofday", 1, 2, Fixed(T::DateTime)),
    f!("endofday", 1, 2, Fixed(T::DateTime)),
    f!("startofweek", 1, 2, Fixed(T::DateTime)),
    f!("endofweek", 1, 2, Fixed(T::DateTime)),
    f!("startofmonth", 1, 2, Fixed(T::DateTime)),
    f!("endofmonth", 1, 2, Fixed(T::DateTime)),
    f!("startofyear", 1, 2, Fixed(T::DateTime)),
    f!("endofyear", 1, 2, Fixed(T::DateTime)),
    f!("datetime_add", 3, 3, Fixed(T::DateTime)),
    f!("datetime_diff", 3, 3, Fixed(T::Long)),
    f!("datetime_part", 2, 2, Fixed(T::Int)),
    f!("datepart", 2, 2, Fixed(T::Int)),
    f!("datetime_utc_to_local", 2, 2, Fixed(T::DateTime)),
    f!("datetime_local_to_utc", 2, 2, Fixed(T::DateTime)),
    f!("make_datetime", 1, 7, Fixed(T::DateTime)),
    f!("make_timespan", 1, 4, Fixed(T::TimeSpan)),
    f!("dayofweek", 1, 1, Fixed(T::TimeSpan)),
    f!("dayofmonth", 1, 1, Fixed(T::Int)),
    f!("dayofyear", 1, 1, Fixed(T::Int)),
    f!("hourofday", 1, 1, Fixed(T::Int)),
    f!("weekofyear", 1, 1, Fixed(T::Int)),
    f!("week_of_year", 1, 1, Fixed(T::Int)),
    f!("monthofyear", 1, 1, Fixed(T::Int)),
    f!("getmonth", 1, 1, Fixed(T::Int)),
    f!("getyear", 1, 1, Fixed(T::Int)),
    f!("unixtime_seconds_todatetime", 1, 1, Fixed(T::DateTime)),
    f!("unixtime_milliseconds_todatetime", 1, 1, Fixed(T::DateTime)),
    f!("unixtime_microseconds_todatetime", 1, 1, Fixed(T::DateTime)),
    f!("unixtime_nanoseconds_todatetime", 1, 1, Fixed(T::DateTime)),
    f!("datetime_list_timezones", 0, 0, Fixed(T::Dynamic)),
    // --- math
    f!("abs", 1, 1, Arg(0)),
    f!("round", 1, 2, Arg(0)),
    f!("ceiling", 1, 1, Arg(0)),
    f!("sign", 1, 1, Arg(0)),
    f!("sqrt", 1, 1, Fixed(T::Real)),
    f!("pow", 2, 2, Fixed(T::Real)),
    f!("exp", 1, 1, Fixed(T::Real)),
    f!("exp2", 1, 1, Fixed(T::Real)),
    f!("exp10", 1, 1, Fixed(T::Real)),
    f!("log", 1, 1, Fixed(T::Real)),
    f!("log2", 1, 1, Fixed(T::Real)),
    f!("log10", 1, 1, Fixed(T::Real)),
    f!("pi", 0, 0, Fixed(T::Real)),
    f!("sin", 1, 1, Fixed(T::Real)),
    f!("cos", 1, 1, Fixed(T::Real)),
    f!("tan", 1, 1, Fixed(T::Real)),
    f!("atan", 1, 1, Fixed(T::Real)),
    f!("atan2", 2, 2, Fixed(T::Real)),
    f!("degrees", 1, 1, Fixed(T::Real)),
    f!("radians", 1, 1, Fixed(T::Real)),
    f!("binary_and", 2, 2, Fixed(T::Long)),
    f!("binary_or", 2, 2, Fixed(T::Long)),
    f!("binary_xor", 2, 2, Fixed(T::Long)),
    f!("binary_not", 1, 1, Fixed(T::Long)),
    f!("binary_shift_left", 2, 2, Fixed(T::Long)),
    f!("binary_shift_right", 2, 2, Fixed(T::Long)),
    f!("bitset_count_ones", 1, 1, Fixed(T::Long)),
    f!("estimate_data_size", 1, V, Fixed(T::Long)),
    f!("gamma", 1, 1, Fixed(T::Real)),
    f!("loggamma", 1, 1, Fixed(T::Real)),
    // --- series
    f!("series_decompose_anomalies", 1, 7, Fixed(T::Dynamic)),
    f!("series_decompose", 1, 5, Fixed(T::Dynamic)),
    f!("series_decompose_forecast", 2, 5, Fixed(T::Dynamic)),
    f!("series_fit_line", 1, 1, Fixed(T::Dynamic)),
    f!("series_fit_line_dynamic", 1, 1, Fixed(T::Dynamic)),
    f!("series_fit_2lines", 1, 1, Fixed(T::Dynamic)),
    f!("series_stats", 1, 2, Fixed(T::Dynamic)),
    f!("series_stats_dynamic", 1, 2, Fixed(T::Dynamic)),
    f!("series_outliers", 1, 5, Fixed(T::Dynamic)),
    f!("series_fill_const", 1, 3, Fixed(T::Dynamic)),
    f!("series_fill_linear", 1, 4, Fixed(T::Dynamic)),
    f!("series_fill_forward", 1, 2, Fixed(T::Dynamic)),
    f!("series_fill_backward", 1, 2, Fixed(T::Dynamic)),
    f!("series_periods_detect", 4, 4, Fixed(T::Dynamic)),
    f!("series_iir", 3, 3, Fixed(T::Dynamic)),
    f!("series_add", 2, 2, Fixed(T::Dynamic)),
    f!("series_subtract", 2, 2, Fixed(T::Dynamic)),
    f!("series_multiply", 2, 2, Fixed(T::Dynamic)),
    f!("series_divide", 2, 2, Fixed(T::Dynamic)),
    f!("series_greater", 2, 2, Fixed(T::Dynamic)),
    f!("series_less", 2, 2, Fixed(T::Dynamic)),
    f!("series_abs", 1, 1, Fixed(T::Dynamic)),
    f!("series_seasonal", 1, 2, Fixed(T::Dynamic)),
    // --- aggregates
    agg!("count", 0, 1, Fixed(T::Long), "count"),
    agg!("countif", 1, 1, Fixed(T::Long), "countif"),
    agg!("count_distinct", 1, 1, Fixed(T::Long), "count_distinct"),
    agg!("count_distinctif", 2, 2, Fixed(T::Long), "count_distinctif"),
    agg!("dcount", 1, 2, Fixed(T::Long), "dcount"),
    agg!("dcountif", 2, 3, Fixed(T::Long), "dcountif"),
    agg!("sum", 1, 1, Numeric, "sum"),
    agg!("sumif", 2, 2, Numeric, "sumif"),
    agg!("avg", 1, 1, Fixed(T::Real), "avg"),
    agg!("avgif", 2, 2, Fixed(T::Real), "avgif"),
    agg!("min", 1, 1, Arg(0), "min"),
    agg!("max", 1, 1, Arg(0), "max"),
    agg!("minif", 2, 2, Arg(0), "minif"),
    agg!("maxif", 2, 2, Arg(0), "maxif"),
    agg!("arg_max", 1, V, Arg(0), "max"),
    agg!("arg_min", 1, V, Arg(0), "min"),
    agg!("argmax", 1, V, Arg(0), "max"),
    agg!("argmin", 1, V, Arg(0), "min"),
    agg!("any", 1, V, Arg(0), "any"),
    agg!("anyif", 2, 2, Arg(0), "anyif"),
    agg!("take_any", 1, V, Arg(0), "any"),
    agg!("take_anyif", 2, 2, Arg(0), "anyif"),
    agg!("make_set", 1, 2, Fixed(T::Dynamic), "set"),
    agg!("makeset", 1, 2, Fixed(T::Dynamic), "set"),
    agg!("make_set_if", 2, 3, Fixed(T::Dynamic), "set"),
    agg!("make_list", 1, 2, Fixed(T::Dynamic), "list"),
    agg!("makelist", 1, 2, Fixed(T::Dynamic), "list"),
    agg!("make_list_if", 2, 3, Fixed(T::Dynamic), "list"),
    agg!("make_list_with_nulls", 1, 2, Fixed(T::Dynamic), "list"),
    agg!("make_bag", 1, 2, Fixed(T::Dynamic), "bag"),
    agg!("make_bag_if", 2, 3, Fixed(T::Dynamic), "bag"),
    agg!("stdev", 1, 1, Fixed(T::Real), "stdev"),
    agg!("stdevif", 2, 2, Fixed(T::Real), "stdevif"),
    agg!("stdevp", 1, 1, Fixed(T::Real), "stdevp"),
    agg!("variance", 1, 1, Fixed(T::Real), "variance"),
    agg!("varianceif", 2, 2, Fixed(T::Real), "varianceif"),
    agg!("variancep", 1, 1, Fixed(T::Real), "variancep"),
    agg!("percentile", 2, 2, Arg(0), "percentile"),
    agg!("percentiles", 2, V, Arg(0), "percentile"),
    agg!("percentilew", 3, 3, Arg(0), "percentile"),
    agg!("percentilesw", 3, V, Arg(0), "percentile"),
    agg!("percentiles_array", 2, V, Fixed(T::Dynamic), "percentiles"),
    agg!("binary_all_and", 1, 1, Fixed(T::Long), "binary_all_and"),
    agg!("binary_all_or", 1, 1, Fixed(T::Long), "binary_all_or"),
    agg!("binary_all_xor", 1, 1, Fixed(T::Long), "binary_all_xor"),
    agg!("hll", 1, 2, Fixed(T::Dynamic), "hll"),
    agg!("hll_merge", 1, 1, Fixed(T::Dynamic), "hll_merge"),
    agg!("tdigest", 1, 2, Fixed(T::Dynamic), "tdigest"),
    agg!("buildschema", 1, 1, Fixed(T::Dynamic), "schema"),
    // --- window functions
    win!("prev", 1, 3, Arg(0)),
    win!("next", 1, 3, Arg(0)),
    win!("row_number", 0, 2, Fixed(T::Long)),
    win!("row_rank", 1, 1, Fixed(T::Long)),
    win!("row_rank_dense", 1, 1, Fixed(T::Long)),
    win!("row_rank_min", 1, 1, Fixed(T::Long)),
    win!("row_cumsum", 1, 2, Arg(0)),
    win!("row_window_session", 4, 5, Fixed(T::DateTime)),
];

/// Looks a function up by its exact (case-sensitive) name.
pub fn lookup(name: &str) -> Option<&'static FunctionInfo> {
    static INDEX: OnceLock<HashMap<&'static str, &'static FunctionInfo>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let mut map = HashMap::with_capacity(FUNCTIONS.len());
            for f in FUNCTIONS {
                // First definition wins, as in a linear scan.
                map.entry(f.name).or_insert(f);
            }
            map
        })
        .get(name)
        .copied()
}

/// The closest catalogued name to a misspelt one.
pub fn suggest(name: &str) -> Option<&'static str> {
    bulwark_model::text::closest(name, FUNCTIONS.iter().map(|f| f.name))
}

/// Plugins accepted after `evaluate`.
pub const PLUGINS: &[&str] = &[
    "bag_unpack",
    "pivot",
    "narrow",
    "autocluster",
    "basket",
    "diffpatterns",
    "preview",
    "sequence_detect",
    "ipv4_lookup",
    "ipv6_lookup",
    "series_fit_poly",
    "rolling_percentile",
    "active_users_count",
    "activity_counts_metrics",
    "activity_engagement",
    "funnel_sequence",
    "funnel_sequence_completion",
    "session_count",
    "sliding_window_counts",
    "dcount_intersect",
    "market_basket",
    "schema_merge",
    "infer_storage_schema",
    "geo_point_to_s2cell",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_large_and_names_are_unique_enough() {
        assert!(FUNCTIONS.len() >= 200, "{}", FUNCTIONS.len());
        assert_eq!(lookup("dcount").map(|f| f.kind), Some(Kind::Aggregate));
        assert_eq!(lookup("prev").map(|f| f.kind), Some(Kind::Window));
        assert_eq!(suggest("tostrin"), Some("tostring"));
        assert!(FUNCTIONS.iter().all(|f| f.min_args <= f.max_args));
    }
}
