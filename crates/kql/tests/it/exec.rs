//! Execution through DataFusion: small inline tables, every result checked cell by cell.
use bulwark_kql::exec::{Engine, QueryOptions};
use chrono::{TimeZone, Utc};

fn run(q: &str) -> Vec<Vec<String>> {
    let engine = Engine::empty();
    let opts = QueryOptions {
        now: Some(Utc.with_ymd_and_hms(2024, 1, 15, 12, 0, 0).single().expect("time")),
        ..Default::default()
    };
    match engine.query_blocking(q, &opts) {
        Ok(out) => {
            let mut rows = vec![out.columns.iter().map(|c| c.name.clone()).collect()];
            rows.extend(out.rows_text());
            rows
        }
        Err(e) => panic!("{q}\n{}", e.render(q)),
    }
}

fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
}

#[test]
fn where_has_project() {
    let q = r#"datatable(s:string, n:long)["abc def", 1, "abcdef", 2, "ABC-x", 3]
| where s has "abc" | project s, m = n * 2 | sort by m asc"#;
    assert_eq!(run(q), rows(&[&["s", "m"], &["abc def", "2"], &["ABC-x", "6"]]));
}

#[test]
fn summarize_count_by() {
    let q = r#"datatable(u:string, ok:bool)["a", true, "a", false, "b", true]
| summarize n = count(), fails = countif(not(ok)) by u | order by u asc"#;
    assert_eq!(run(q), rows(&[&["u", "n", "fails"], &["a", "2", "1"], &["b", "1", "0"]]));
}

#[test]
fn join_default_is_innerunique() {
    let q = r#"let L = datatable(k:string, a:long)["x", 1, "x", 2, "y", 3];
let R = datatable(k:string, b:long)["x", 10, "x", 20];
L | join R on k | summarize c = count()"#;
    assert_eq!(run(q), rows(&[&["c"], &["2"]]));
}

#[test]
fn dynamic_access_and_mv_expand() {
    let q = r#"print d = dynamic({"a": [1, 2, 3], "b": "x"})
| extend b = tostring(d.b), first = toint(d.a[0])
| mv-expand v = d.a to typeof(long)
| project b, first, v"#;
    assert_eq!(
        run(q),
        rows(&[&["b", "first", "v"], &["x", "1", "1"], &["x", "1", "2"], &["x", "1", "3"]])
    );
}

#[test]
fn datetime_bin_and_ago() {
    let q = r#"datatable(t:datetime)[datetime(2024-01-15T10:20:00Z), datetime(2024-01-15T10:40:00Z), datetime(2024-01-10T00:00:00Z)]
| where t > ago(1d) | summarize c = count() by bin(t, 1h)"#;
    assert_eq!(run(q), rows(&[&["t", "c"], &["2024-01-15T10:00:00Z", "2"]]));
}

#[test]
fn toscalar_and_in_subquery() {
    let q = r#"let T = datatable(x:long)[1, 2, 3, 4];
let m = toscalar(T | summarize max(x));
T | where x in ((T | where x > 2 | project x)) | extend top = x == m | order by x asc"#;
    assert_eq!(run(q), rows(&[&["x", "top"], &["3", "false"], &["4", "true"]]));
}

#[test]
fn mv_apply_top_per_row() {
    // From the mv-apply reference: the two largest elements of each row's array.
    let q = r#"let _data = range x from 1 to 8 step 1 | summarize l = make_list(x) by xMod2 = x % 2;
_data | mv-apply element = l to typeof(long) on (top 2 by element) | project xMod2, element | order by xMod2 asc, element desc"#;
    assert_eq!(
        run(q),
        rows(&[&["xMod2", "element"], &["0", "8"], &["0", "6"], &["1", "7"], &["1", "5"]])
    );
}

#[test]
fn mv_apply_summarize_per_row() {
    let q = r#"datatable(id:string, v:dynamic)["a", dynamic([1, 2, 3]), "b", dynamic([10])]
| mv-apply x = v to typeof(long) on (summarize total = sum(x), n = count())
| project id, total, n | order by id asc"#;
    assert_eq!(run(q), rows(&[&["id", "total", "n"], &["a", "6", "3"], &["b", "10", "1"]]));
}

#[test]
fn top_nested_two_levels() {
    let q = r#"datatable(State:string, Source:string, n:long)[
"TX", "radar", 5, "TX", "radar", 5, "TX", "public", 3, "KS", "radar", 4, "KS", "spotter", 6, "OK", "radar", 1]
| top-nested 2 of State by total = sum(n), top-nested 1 of Source by s = sum(n)
| order by total desc"#;
    assert_eq!(
        run(q),
        rows(&[
            &["State", "total", "Source", "s"],
            &["TX", "13", "radar", "10"],
            &["KS", "10", "spotter", "6"]
        ])
    );
}

#[test]
fn partition_runs_the_subquery_per_value() {
    let q = r#"datatable(k:string, v:long)["a", 1, "a", 5, "a", 3, "b", 2, "b", 9]
| partition hint.strategy=native by k (top 1 by v)
| project k, v | order by k asc"#;
    assert_eq!(run(q), rows(&[&["k", "v"], &["a", "5"], &["b", "9"]]));
}

#[test]
fn mixed_string_and_number_comparisons_do_not_fail() {
    // Published queries compare string columns with numbers (`LogonTypeName in (2, 10)`,
    // `ResultType == 0`): they compare as text instead of failing a cast on every row.
    let q = r#"datatable(s:string, n:long)["2", 2, "3 - Network", 3, "0", 9]
| where s in (2, 7) or s == 0 or n in ("3")
| order by n asc"#;
    assert_eq!(run(q), rows(&[&["s", "n"], &["2", "2"], &["3 - Network", "3"], &["0", "9"]]));
}

#[test]
fn evaluate_pivot_counts_and_aggregates_per_value() {
    let q = r#"datatable(EventType:string, State:string, n:long)[
"Wind", "AL", 1, "Wind", "AL", 2, "Wind", "AK", 3, "Hail", "AL", 4]
| project EventType, State
| evaluate pivot(State)
| order by EventType asc"#;
    assert_eq!(
        run(q),
        rows(&[&["EventType", "AK", "AL"], &["Hail", "0", "1"], &["Wind", "1", "2"]])
    );
    let q = r#"datatable(Key:string, Value:string, Host:string)[
"user", "bob", "h1", "ip", "10.0.0.1", "h1", "user", "eve", "h2"]
| evaluate pivot(Key, take_any(Value), Host)
| order by Host asc"#;
    assert_eq!(
        run(q),
        rows(&[&["Host", "ip", "user"], &["h1", "10.0.0.1", "bob"], &["h2", "", "eve"]])
    );
}
