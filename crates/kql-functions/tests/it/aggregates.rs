//! Aggregations over a two-partition table, so partial states are merged.

use std::sync::Arc;

use bulwark_kql_functions::{
    KqlFunctions, Returns, aggregate, aggregate_info, register_all, scalar, scalar_info,
    scalar_names,
};
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::util::{column, now};

fn batch(schema: &Arc<Schema>, rows: &[(&str, Option<i64>, Option<&str>, &str)]) -> RecordBatch {
    RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.1.map(|x| x as f64)).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.3))),
        ],
    )
    .expect("batch")
}

/// Group `a`: x = 1..=5 plus a null row; group `b`: x = 10, 20.
fn events_ctx() -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
    register_all(&ctx, now());
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Utf8, false),
        Field::new("x", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("bag", DataType::Utf8, false),
    ]));
    let p1 = batch(
        &schema,
        &[
            ("a", Some(1), Some(""), "{\"k1\":1}"),
            ("a", Some(2), Some("p2"), "{\"k2\":2}"),
            ("b", Some(10), Some("q10"), "{}"),
        ],
    );
    let p2 = batch(
        &schema,
        &[
            ("a", Some(3), Some("p3"), "{\"k3\":3}"),
            ("a", None, None, "not json"),
            ("a", Some(4), Some("p4"), "{}"),
            ("a", Some(5), Some("p5"), "{\"k1\":9}"),
            ("b", Some(20), Some("q20"), "{\"z\":true}"),
        ],
    );
    let table = MemTable::try_new(schema, vec![vec![p1], vec![p2]]).expect("mem");
    ctx.register_table("ev", Arc::new(table)).expect("register");
    ctx
}

async fn per_group(ctx: &SessionContext, agg: &str) -> Vec<String> {
    let sql = format!("SELECT {agg} AS v, g FROM ev GROUP BY g ORDER BY g");
    column(ctx, &sql).await.unwrap_or_else(|e| panic!("{agg}: {e}"))
}

/// Sorts a JSON array rendering so partition merge order does not matter.
fn sorted_json(s: &str) -> String {
    let mut v: Vec<serde_json::Value> =
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    v.sort_by_key(|x| x.to_string());
    serde_json::Value::Array(v).to_string()
}

#[tokio::test]
async fn counting_and_summing_aggregates() {
    let ctx = events_ctx();
    let cases: &[(&str, [&str; 2])] = &[
        ("kql_count_if(x > 2)", ["3", "2"]),
        ("kql_dcount(x % 2)", ["2", "1"]),
        ("kql_dcountif(x, x > 1)", ["4", "2"]),
        ("kql_sumif(x, x > 2)", ["12", "30"]),
        ("kql_sumif(f, x > 100)", ["0", "0"]),
        ("kql_avgif(f, x <= 2)", ["1.5", "null"]),
        // Sample/population statistics of 1..5 and of {10, 20}.
        ("kql_stdev(f)", ["1.5811388300841898", "7.0710678118654755"]),
        ("kql_stdevp(f)", ["1.4142135623730951", "5"]),
        ("kql_variance(x)", ["2.5", "50"]),
        ("kql_variancep(x)", ["2", "25"]),
        // Nearest rank: ceil(p/100 * n).
        ("kql_percentile(x, 50)", ["3", "10"]),
        ("kql_percentile(x, 95)", ["5", "20"]),
        ("kql_percentile(f, 0)", ["1", "10"]),
        ("kql_percentiles(x, 0, 50, 100)", ["[1.0,3.0,5.0]", "[10.0,10.0,20.0]"]),
        ("kql_min_if(x, name <> '')", ["2", "10"]),
        ("kql_max_if(x, x < 5)", ["4", "null"]),
        ("kql_arg_max(x, name)['c1']", ["p5", "q20"]),
        ("kql_arg_max(x, name)['c0']", ["5", "20"]),
        ("kql_arg_min(x, name, f)['c1']", ["", "q10"]),
        ("kql_arg_min(x, name, f)['c2']", ["1", "10"]),
        ("kql_array_length(kql_make_set(x % 2, 1))", ["1", "1"]),
        ("kql_array_length(kql_make_list(x))", ["5", "2"]),
    ];
    let mut failures = Vec::new();
    for (agg, want) in cases {
        let got = per_group(&ctx, agg).await;
        if got != want {
            failures.push(format!("{agg}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn collecting_aggregates_are_json() {
    let ctx = events_ctx();
    let list = per_group(&ctx, "kql_make_list(x)").await;
    assert_eq!(sorted_json(&list[0]), "[1,2,3,4,5]");
    let set = per_group(&ctx, "kql_make_set(x % 2)").await;
    assert_eq!(sorted_json(&set[0]), "[0,1]");
    assert_eq!(set[1], "[0]");
    let names = per_group(&ctx, "kql_make_set(name)").await;
    assert_eq!(sorted_json(&names[1]), "[\"q10\",\"q20\"]");
    let list_if = per_group(&ctx, "kql_make_list_if(x, x > 3)").await;
    assert_eq!(sorted_json(&list_if[0]), "[4,5]");
    let set_if = per_group(&ctx, "kql_make_set_if(g, x > 15)").await;
    assert_eq!(set_if, ["[]", "[\"b\"]"]);
    let bag = per_group(&ctx, "kql_make_bag(bag)").await;
    let a: serde_json::Value = serde_json::from_str(&bag[0]).expect("json");
    assert_eq!(a["k2"], 2);
    assert_eq!(a["k3"], 3);
    assert!(a["k1"] == 1 || a["k1"] == 9, "k1 is one of the offered values: {a}");
    assert_eq!(bag[1], "{\"z\":true}");
    // take_any prefers a non-empty value.
    let any = per_group(&ctx, "kql_take_any(name)").await;
    assert!(any.iter().all(|v| !v.is_empty() && v != "null"), "{any:?}");
    // No GROUP BY: a single final merge of both partitions.
    let total = column(&ctx, "SELECT kql_percentile(x, 100) FROM ev").await.expect("query");
    assert_eq!(total, ["20"]);
    let dc = column(&ctx, "SELECT kql_dcount(g) FROM ev").await.expect("query");
    assert_eq!(dc, ["2"]);
}

#[tokio::test]
async fn registry_lookups_and_arity() {
    let fns = KqlFunctions::new(now());
    for name in scalar_names() {
        let udf = fns.scalar(name).unwrap_or_else(|| panic!("{name} resolves"));
        assert!(udf.name().starts_with("kql_"), "{name}");
    }
    assert_eq!(scalar_info("todynamic").map(|i| i.df_name.as_str()), Some("kql_parse_json"));
    assert_eq!(scalar_info("iif").map(|i| i.df_name.as_str()), Some("kql_iff"));
    let sub = scalar_info("substring").expect("substring");
    assert_eq!((sub.min_args, sub.max_args), (2, 3));
    assert_eq!(scalar_info("bin").map(|i| i.returns), Some(Returns::SameAsArg(0)));
    assert!(scalar_info("no_such_fn").is_none());
    assert!(scalar("no_such_fn", now()).is_err());
    assert_eq!(aggregate("countif").map(|a| a.name().to_string()), Some("kql_count_if".into()));
    assert_eq!(aggregate_info("arg_max").map(|i| i.returns), Some(Returns::ArgStruct));
    assert!(aggregate("take_any").is_some() && aggregate("any").is_some());
    assert!(scalar_names().len() >= 100, "{} scalar names", scalar_names().len());
}
