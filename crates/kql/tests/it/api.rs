//! Behaviour of the public API on small, targeted queries.
use bulwark_kql::ast::*;
use bulwark_kql::{
    CheckResult, Severity, check, check_corpus, codes, format, parse, parse_expr, render,
};
use bulwark_model::{KustoType, SchemaRegistry};

fn checked(q: &str) -> CheckResult {
    let parsed = parse(q);
    assert!(parsed.has_valid_syntax(), "{q}: {:?}", parsed.diagnostics);
    check(&parsed.syntax, &SchemaRegistry::builtin())
}

fn errors(q: &str) -> Vec<String> {
    checked(q)
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

fn columns(q: &str) -> Vec<(String, Option<KustoType>)> {
    let r = checked(q);
    assert!(r.is_ok(), "{q}: {:?}", r.diagnostics);
    r.output_schema.expect("tabular result").columns.into_iter().map(|c| (c.name, c.ty)).collect()
}

fn expr(text: &str) -> Expr {
    let p = parse_expr(text);
    assert!(p.diagnostics.is_empty(), "{text}: {:?}", p.diagnostics);
    p.syntax.expect("expression")
}

#[test]
fn precedence_binds_and_tighter_than_or_and_mul_tighter_than_add() {
    let Expr::Binary { op: BinOp::Or, rhs, .. } = expr("a or b and c") else {
        panic!("or at root")
    };
    assert!(matches!(*rhs, Expr::Binary { op: BinOp::And, .. }));
    let Expr::Binary { op: BinOp::Add, rhs, .. } = expr("1 + 2 * 3") else { panic!("+ at root") };
    assert!(matches!(*rhs, Expr::Binary { op: BinOp::Mul, .. }));
    let Expr::Binary { op: BinOp::Eq, lhs, .. } = expr("a + 1 == b") else { panic!("== at root") };
    assert!(matches!(*lhs, Expr::Binary { op: BinOp::Add, .. }));
}

#[test]
fn string_operators_carry_negation_and_case() {
    let Expr::Binary { op: BinOp::Str(s), .. } = expr("a !contains_cs 'x'") else { panic!() };
    assert_eq!(s, StrOp { kind: StrOpKind::Contains, negated: true, case_sensitive: true });
    let Expr::Binary { op: BinOp::Str(s), .. } = expr("a matches regex 'x'") else { panic!() };
    assert_eq!(s.kind, StrOpKind::MatchesRegex);
    let Expr::List { op, list, .. } = expr("a !in~ ('x', 'y')") else { panic!() };
    assert_eq!((op, list.len()), (ListOp::NotInCi, 2));
    let Expr::Between { negated: true, .. } = expr("a !between (1 .. 2)") else { panic!() };
}

#[test]
fn literals_are_typed() {
    let lit = |t: &str| match expr(t) {
        Expr::Literal { value, .. } => value,
        other => panic!("{t}: {other:?}"),
    };
    assert_eq!(lit("1.5d"), Literal::TimeSpan(129_600_000_000_000));
    assert_eq!(lit("time(00:30:00)"), Literal::TimeSpan(1_800_000_000_000));
    assert_eq!(lit("-5"), Literal::Long(-5));
    assert_eq!(lit("int(null)"), Literal::Null(KustoType::Int));
    assert_eq!(
        lit("datetime(2024-01-02T03:04:05Z)"),
        Literal::DateTime("2024-01-02T03:04:05Z".into())
    );
    assert_eq!(
        lit("dynamic({'a': [1, 'b']})"),
        Literal::Dynamic(serde_json::json!({"a": [1, "b"]}))
    );
    assert_eq!(lit("'a' \"b\""), Literal::String("ab".into()));
    assert!(matches!(expr("long(x)"), Expr::Call(_)), "non-literal argument is a call");
}

#[test]
fn spans_point_into_the_text_but_do_not_affect_equality() {
    let a = parse("T | where x == 1").syntax;
    let b = parse("T\n\n|   where   x==1").syntax;
    assert_eq!(a, b);
    let Statement::Query(t) = &b.statements[0] else { panic!() };
    let Operator::Where { predicate, span } = &t.ops[0] else { panic!() };
    assert_eq!(&"T\n\n|   where   x==1"[span.start_usize()..span.end_usize()], "where   x==1");
    assert_eq!(predicate.span().start, 15);
}

#[test]
fn join_conditions_and_kinds() {
    let q = parse("A | join kind=leftouter hint.strategy=broadcast (B) on $left.x == $right.y, z")
        .syntax;
    let Statement::Query(t) = &q.statements[0] else { panic!() };
    let Operator::Join { kind, params, on, .. } = &t.ops[0] else { panic!() };
    assert_eq!(*kind, JoinKind::LeftOuter);
    assert_eq!(params[0].name.name, "hint.strategy");
    assert!(
        matches!(&on[0], JoinOn::Equal { left, right } if left.name == "x" && right.name == "y")
    );
    assert!(matches!(&on[1], JoinOn::Column(c) if c.name == "z"));
}

#[test]
fn parser_recovers_and_reports_each_bad_operator() {
    let p = parse("SigninLogs | where | project a | bogus 1 | take 1");
    let codes: Vec<_> = p.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![codes::SYNTAX, codes::SYNTAX]);
    let Statement::Query(t) = &p.syntax.statements[0] else { panic!() };
    let kws: Vec<_> = t.ops.iter().map(Operator::keyword).collect();
    assert_eq!(kws, vec!["project", "take"]);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for text in [
        format!("print {}1{}", "(".repeat(5000), ")".repeat(5000)),
        format!("print {}1", "-".repeat(5000)),
        format!("print dynamic({}1{})", "[".repeat(5000), "]".repeat(5000)),
        format!("print {}1{}", "f(".repeat(3000), ")".repeat(3000)),
        format!("T {}", "| where (T | where (".repeat(500)),
    ] {
        let p = parse(&text);
        assert!(p.diagnostics.iter().any(|d| d.code == codes::DEPTH), "{:?}", &p.diagnostics[..1]);
        let _ = check(&p.syntax, &SchemaRegistry::builtin());
        let _ = format(&p.syntax);
    }
}

#[test]
fn long_or_chains_parse_check_and_print() {
    let cond = (0..900).map(|i| format!("FileName == 'f{i}.exe'")).collect::<Vec<_>>().join(" or ");
    let q = format!("DeviceProcessEvents | where {cond}");
    assert!(errors(&q).is_empty());
    let printed = format(&parse(&q).syntax);
    assert_eq!(parse(&printed).syntax, parse(&q).syntax);
}

#[test]
fn unknown_column_suggests_the_closest_name() {
    let q = "DeviceLogonEvents | project AccountNam";
    let r = checked(q);
    let d = &r.diagnostics[0];
    assert_eq!(d.code, codes::UNKNOWN_COLUMN);
    assert_eq!(
        d.message,
        "unknown column 'AccountNam' in DeviceLogonEvents — did you mean 'AccountName'?"
    );
    let text = render(q, d);
    assert!(text.contains(" --> 1:29\n"), "{text}");
    assert!(text.contains("^^^^^^^^^^ did you mean 'AccountName'?"), "{text}");
}

#[test]
fn tables_are_case_sensitive_and_unknown_ones_fail() {
    assert!(errors("signinlogs | take 1")[0].contains("case-sensitive"));
    assert!(errors("Foo_CL | take 1")[0].starts_with("KQL1001 unknown table or function 'Foo_CL'"));
    assert!(errors("_GetWatchlist('x') | take 1")[0].contains("unknown tabular function"));
    assert!(errors("SigninLogs | take 1").is_empty());
}

#[test]
fn functions_are_checked_for_name_and_arity() {
    assert_eq!(
        errors("SigninLogs | extend x = strlen()"),
        vec!["KQL1004 function 'strlen' takes 1 argument, got 0"]
    );
    assert!(
        errors("SigninLogs | extend x = tostrng(1)")[0]
            .starts_with("KQL1003 unknown function 'tostrng'")
    );
    let user =
        "let f = (a:long, b:long = 2) { a + b }; SigninLogs | extend x = f(1), y = f(1, 2, 3)";
    assert_eq!(errors(user), vec!["KQL1004 function 'f' takes 1 to 2 arguments, got 3"]);
}

#[test]
fn schema_flows_through_project_extend_and_summarize() {
    let cols = columns(
        "DeviceLogonEvents | project AccountName, Timestamp | extend n = strlen(AccountName), t2 = Timestamp + 1h \
         | summarize count(), dcount(AccountName), make_set(n), arg_max(Timestamp, n), c = countif(n > 1) by AccountName, bin(t2, 1h)",
    );
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["AccountName", "t2", "count_", "dcount_AccountName", "set_n", "Timestamp", "n", "c"]
    );
    assert_eq!(cols[1].1, Some(KustoType::DateTime));
    assert_eq!(cols[2].1, Some(KustoType::Long));
    assert_eq!(cols[4].1, Some(KustoType::Dynamic));
}

#[test]
fn join_suffixes_colliding_right_columns() {
    let cols = columns(
        "let a = SigninLogs | project UserPrincipalName, IPAddress; \
         a | join kind=inner (SigninLogs | project UserPrincipalName, AppId) on UserPrincipalName",
    );
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["UserPrincipalName", "IPAddress", "UserPrincipalName1", "AppId"]);
    let anti = columns(
        "SigninLogs | project A = AppId | join kind=leftanti (AuditLogs) on $left.A == $right.Id",
    );
    assert_eq!(anti.len(), 1);
}

#[test]
fn union_parse_mv_expand_and_datatable_shape_schemas() {
    let cols = columns("union withsource=Src (print a = 1), (print a = 2, b = 'x')");
    assert_eq!(
        cols,
        vec![
            ("Src".into(), Some(KustoType::String)),
            ("a".into(), Some(KustoType::Long)),
            ("b".into(), Some(KustoType::String))
        ]
    );
    let cols = columns(
        "datatable (s:string) ['k=1'] | parse s with 'k=' v:long | mv-expand d = pack_array(v)",
    );
    assert_eq!(
        cols,
        vec![
            ("s".into(), Some(KustoType::String)),
            ("v".into(), Some(KustoType::Long)),
            ("d".into(), Some(KustoType::Dynamic))
        ]
    );
}

#[test]
fn certain_type_errors_only() {
    assert_eq!(
        errors("SigninLogs | where UserPrincipalName"),
        vec!["KQL1005 'where' needs a bool predicate, found string"]
    );
    assert!(
        errors("SigninLogs | where LocationDetails.isRisky").is_empty(),
        "dynamic predicates are allowed"
    );
}

#[test]
fn externaldata_is_flagged_but_schema_valid() {
    let r = checked("externaldata (a:string) ['https://x.invalid/f.csv'] | project a");
    assert!(r.is_ok());
    assert_eq!(r.diagnostics[0].code, codes::UNSUPPORTED);
    assert_eq!(r.diagnostics[0].severity, Severity::Warning);
}

#[test]
fn format_is_canonical_and_stable() {
    let q =
        "let x=5;SigninLogs|where A==x and (B>1 or C<2)|summarize count() by bin(TimeGenerated,1h)";
    let once = format(&parse(q).syntax);
    assert_eq!(
        once,
        "let x = 5;\nSigninLogs\n| where A == x and (B > 1 or C < 2)\n| summarize count() by bin(TimeGenerated, 1h)"
    );
    assert_eq!(format(&parse(&once).syntax), once);
}

#[test]
fn corpus_api_counts_stages() {
    let lines = concat!(
        "{\"query\": \"SigninLogs | take 1\"}\n",
        "{\"query\": \"SigninLogs | where\"}\n",
        "\n",
        "{\"query\": \"Nope_CL | take 1\"}\n",
        "not json\n",
    );
    let report =
        check_corpus(lines.as_bytes(), &SchemaRegistry::builtin()).expect("in-memory read");
    assert_eq!((report.total, report.parsed, report.checked), (4, 2, 1));
    let stages: Vec<_> = report.failures.iter().map(|f| (f.line, f.stage)).collect();
    use bulwark_kql::Stage;
    assert_eq!(stages, vec![(2, Stage::Parse), (4, Stage::Check), (5, Stage::Parse)]);
    let json = serde_json::to_value(&report).expect("serialize");
    assert_eq!(json["failures"][1]["stage"], "check");
}

#[test]
fn nested_function_calls_stay_cheap_to_check() {
    // Each function calls the previous one twice: naive re-checking would be 2^40 evaluations.
    let mut q = String::from("let f0 = () { SigninLogs | take 1 };\n");
    for i in 1..40 {
        q.push_str(&format!("let f{i} = () {{ f{p}() | union f{p}() }};\n", p = i - 1));
    }
    q.push_str("f39() | project UserPrincipalName");
    let start = std::time::Instant::now();
    let r = checked(&q);
    assert!(r.is_ok(), "{:?}", r.diagnostics);
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
}

#[test]
fn diagnostics_are_capped_for_hostile_input() {
    let q = format!(
        "SigninLogs | project {}",
        (0..5000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(", ")
    );
    let r = checked(&q);
    assert_eq!(r.diagnostics.len(), bulwark_kql::MAX_DIAGNOSTICS);
    let p = parse(&"¤".repeat(10_000));
    assert_eq!(p.diagnostics.len(), bulwark_kql::MAX_DIAGNOSTICS);
}

#[test]
fn aggregations_outside_summarize_are_misuse() {
    let e = errors("SigninLogs | extend n = count()");
    assert_eq!(
        e,
        vec![
            "KQL1007 aggregation 'count' can only be used in summarize, make-series or top-nested"
        ]
    );
    assert!(
        errors("SigninLogs | summarize n = tostring(make_set(AppId)) by bin(TimeGenerated, 1h)")
            .is_empty()
    );
    assert!(errors("SigninLogs | where toscalar(SigninLogs | summarize count()) > 1").is_empty());
    assert!(errors("SigninLogs | evaluate pivot(AppId, any(IPAddress))").is_empty());
}
