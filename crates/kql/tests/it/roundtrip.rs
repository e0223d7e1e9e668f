//! Printer round trips over hand-written queries covering every operator.
use bulwark_kql::{format, parse};

#[track_caller]
fn round_trip(q: &str) {
    let first = parse(q);
    assert!(first.has_valid_syntax(), "{q}: {:?}", first.diagnostics);
    let printed = format(&first.syntax);
    let second = parse(&printed);
    assert!(second.has_valid_syntax(), "{printed}: {:?}", second.diagnostics);
    assert_eq!(first.syntax, second.syntax, "\n{q}\n--- printed ---\n{printed}");
}

#[test]
fn every_operator_round_trips() {
    for q in [
        "T | where a > 1 | filter b",
        "T | project a, b = c + 1, ['x y'] = 2 | project-away a, b* | project-keep c | project-rename n = o | project-reorder z asc, y*",
        "T | extend (a, b) = f(x) | summarize hint.shufflekey=k count(), s = sum(x) by k, bin(t, 1h)",
        "T | count as N | take 5 | limit 1 | top 3 by x asc nulls first | sort by a, b desc | order by c asc",
        "T | top-nested 3 of a with others = 'o' by c = count() desc, top-nested of b by sum(x)",
        "T | distinct * | distinct a, b",
        "T | join (U) on a | join kind=leftsemi hint.remote=auto U on $left.a == $right.b | lookup kind=inner (V | where x) on k",
        "union withsource=S isfuzzy=true A, B*, (C | take 1) | union D",
        "T | mv-expand bagexpansion=array with_itemindex=i a to typeof(long), b limit 5 | mv-apply x = y to typeof(string) on (take 1 | extend z = 1)",
        "T | parse kind=regex flags=Ui s with 'a' x:long * 'b' y | parse-where s with * 'k' k | parse-kv s as (a:string, b:long) with (pair_delimiter=',')",
        "T | make-series kind=nonempty s = sum(x) default = 0, c = count() on t from ago(1d) to now() step 1h by k",
        "T | make-series avg(x) on t step 1d",
        "T | evaluate bag_unpack(d) | evaluate hint.distribution=per_node pivot(k, sum(v)) | as hint.materialized=true X | serialize | serialize r = row_number()",
        "search kind=case_sensitive in (A, B) 'x' | search 'y'",
        "find in (A, B) where x == 1 project a, b",
        "T | render timechart with (title='t', ysplit=panels) | invoke f(1) | getschema | sample 3 | sample-distinct 2 of a",
        "range x from 1 to 3 step 1; datatable (a:long, b:string) [1, 'a', 2, 'b']; print 1, x = 2",
        "externaldata (a:string) [h@'https://x.invalid/a'] with (format='csv')",
        "T | facet by a, b with (take 1) | fork (take 1) (count) | reduce by a with threshold=0.5",
        "T | partition hint.strategy=native by k (top 1 by t | project k) | partition by k { take 1 }",
        "declare query_parameters(a:long = 1, b:string); set notruncation; set x = 5; T",
        "let f = (t:(*), n:long = 1) { t | take n }; let g = view () { T }; f(T)",
        "print a = -x, b = - -1, c = +1, d = 1 - -2, e = -(a + b), f = (a or b) and c, g = a.b['c'][0].d, h = -1d",
        "print a = x in (T | project y), b = toscalar(T | count), c = not(a), d = ns.func(1), e = count(*)",
        "print a = dynamic(null), b = dynamic([]), c = dynamic({}), d = real(nan), e = 1e-7, f = 0.1, g = time(0.5ms)",
    ] {
        round_trip(q);
    }
}
