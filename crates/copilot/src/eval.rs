//! Offline NL→KQL evaluation with the metrics of the NL2KQL paper: per query, a syntax score
//! (the text parses), a semantic score (it passes the schema checker), a table score (Jaccard
//! of the tables read versus the baseline's), a filter-column score (Jaccard of the columns in
//! `where` predicates) and a filter-literal score (Jaccard of the literals in `where`
//! predicates), each averaged over the set. Tables, columns and literals come from the KQL
//! syntax tree (`bulwark_kql::parse`), not from the text.
use crate::nl2kql::validate;
use bulwark_kql::ast::{Expr, JoinOn, LetValue, Literal, Operator, Source, Statement, TabularExpr};
use bulwark_model::SchemaRegistry;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Recursion limit when walking a query's tree.
const MAX_DEPTH: usize = 128;

/// What a query reads and filters on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryFeatures {
    /// Tables read (let-bound names excluded).
    pub tables: BTreeSet<String>,
    /// Columns referenced in `where` predicates.
    pub filter_columns: BTreeSet<String>,
    /// Literals in `where` predicates, as text.
    pub filter_literals: BTreeSet<String>,
}

/// Tables, filter columns and filter literals of a KQL text (whatever part of it parses).
pub fn features(kql: &str) -> QueryFeatures {
    let parsed = bulwark_kql::parse(kql);
    let mut f = QueryFeatures::default();
    let mut lets: BTreeSet<String> = BTreeSet::new();
    for st in &parsed.syntax.statements {
        match st {
            Statement::Let { name, value, .. } => {
                lets.insert(name.name.clone());
                match value {
                    LetValue::Tabular(t) => walk_tabular(t, &mut f, 0),
                    LetValue::Expr(e) => walk_scalar_tables(e, &mut f, 0),
                    LetValue::Function(_) => {}
                }
            }
            Statement::Query(t) => walk_tabular(t, &mut f, 0),
            _ => {}
        }
    }
    f.tables.retain(|t| !lets.contains(t) && t != bulwark_kql::ast::INPUT);
    // Let-bound scalars (`IPAddress in (bad)`) are not columns.
    f.filter_columns.retain(|c| !lets.contains(c));
    f
}

fn walk_tabular(t: &TabularExpr, f: &mut QueryFeatures, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match &t.source {
        Source::Name(id) => {
            f.tables.insert(id.name.clone());
        }
        Source::Paren(inner) => walk_tabular(inner, f, depth + 1),
        Source::Operator(op) => walk_operator(op, f, depth + 1),
        Source::Call(c) => {
            // materialize(T), view-like calls: tables inside the arguments.
            for a in &c.args {
                walk_scalar_tables(a, f, depth + 1);
            }
        }
        Source::Expr(_) => {}
    }
    for op in &t.ops {
        walk_operator(op, f, depth + 1);
    }
}

fn walk_operator(op: &Operator, f: &mut QueryFeatures, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match op {
        Operator::Where { predicate, .. } => walk_predicate(predicate, f, depth + 1),
        Operator::Join { right, on, .. } | Operator::Lookup { right, on, .. } => {
            walk_tabular(right, f, depth + 1);
            for o in on {
                if let JoinOn::Expr(e) = o {
                    walk_scalar_tables(e, f, depth + 1);
                }
            }
        }
        Operator::Union { tables, .. } => {
            for t in tables {
                walk_tabular(t, f, depth + 1);
            }
        }
        _ => {}
    }
}

/// Tables read by tabular subqueries inside a scalar expression.
fn walk_scalar_tables(e: &Expr, f: &mut QueryFeatures, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match e {
        Expr::Tabular(t) => walk_tabular(t, f, depth + 1),
        Expr::Call(c) => c.args.iter().for_each(|a| walk_scalar_tables(a, f, depth + 1)),
        Expr::Binary { lhs, rhs, .. } => {
            walk_scalar_tables(lhs, f, depth + 1);
            walk_scalar_tables(rhs, f, depth + 1);
        }
        Expr::List { expr, list, .. } => {
            walk_scalar_tables(expr, f, depth + 1);
            list.iter().for_each(|a| walk_scalar_tables(a, f, depth + 1));
        }
        Expr::Unary { expr, .. } => walk_scalar_tables(expr, f, depth + 1),
        Expr::NamedArg { value, .. } => walk_scalar_tables(value, f, depth + 1),
        _ => {}
    }
}

fn literal_text(l: &Literal) -> Option<String> {
    Some(match l {
        Literal::Bool(b) => b.to_string(),
        Literal::Long(n) | Literal::Int(n) => n.to_string(),
        Literal::Real(r) => r.to_string(),
        Literal::Decimal(s) | Literal::String(s) | Literal::Guid(s) => s.clone(),
        Literal::DateTime(s) => format!("datetime({s})"),
        Literal::TimeSpan(ns) => bulwark_kql::timespan_text(*ns),
        Literal::Dynamic(v) => v.to_string(),
        Literal::Null(_) => return None,
    })
}

fn walk_predicate(e: &Expr, f: &mut QueryFeatures, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match e {
        Expr::Literal { value, .. } => {
            if let Some(t) = literal_text(value) {
                f.filter_literals.insert(t);
            }
        }
        Expr::Ident(id) => {
            if !id.name.starts_with('$') {
                f.filter_columns.insert(id.name.clone());
            }
        }
        Expr::Member { base, .. } | Expr::Index { base, .. } => {
            // `Dyn.field` / `Dyn["x"]`: the column is the base.
            walk_predicate(base, f, depth + 1);
            if let Expr::Index { index, .. } = e {
                walk_predicate(index, f, depth + 1);
            }
        }
        Expr::Call(c) => c.args.iter().for_each(|a| walk_predicate(a, f, depth + 1)),
        Expr::Binary { lhs, rhs, .. } => {
            walk_predicate(lhs, f, depth + 1);
            walk_predicate(rhs, f, depth + 1);
        }
        Expr::Unary { expr, .. } => walk_predicate(expr, f, depth + 1),
        Expr::List { expr, list, .. } => {
            walk_predicate(expr, f, depth + 1);
            list.iter().for_each(|a| walk_predicate(a, f, depth + 1));
        }
        Expr::Between { expr, low, high, .. } => {
            walk_predicate(expr, f, depth + 1);
            walk_predicate(low, f, depth + 1);
            walk_predicate(high, f, depth + 1);
        }
        Expr::NamedArg { value, .. } => walk_predicate(value, f, depth + 1),
        Expr::Tabular(t) => walk_tabular(t, f, depth + 1),
        Expr::Star { .. } | Expr::Error { .. } => {}
    }
}

/// Jaccard similarity; two empty sets are identical (1.0).
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// Scores of one query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalRow {
    /// The natural-language question.
    pub context: String,
    /// The reference query.
    pub baseline: String,
    /// The generated query.
    pub generated: String,
    /// 1 when the generated text parses.
    pub syntax: f64,
    /// 1 when it also passes the schema checker.
    pub semantic: f64,
    /// Jaccard of tables.
    pub table: f64,
    /// Jaccard of filter columns.
    pub filter_column: f64,
    /// Jaccard of filter literals.
    pub filter_literal: f64,
}

/// Scores of a whole set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Queries scored.
    pub count: usize,
    /// Lines that were not `{"context": …, "baseline": …}` objects.
    pub skipped: usize,
    /// Average syntax score.
    pub syntax: f64,
    /// Average semantic score.
    pub semantic: f64,
    /// Average table score.
    pub table: f64,
    /// Average filter-column score.
    pub filter_column: f64,
    /// Average filter-literal score.
    pub filter_literal: f64,
    /// Per-query scores.
    pub rows: Vec<EvalRow>,
}

impl EvalReport {
    /// `{"count","skipped","averages":{…},"rows":[…]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "skipped": self.skipped,
            "averages": {
                "syntax": self.syntax,
                "semantic": self.semantic,
                "table": self.table,
                "filter_column": self.filter_column,
                "filter_literal": self.filter_literal,
            },
            "rows": self.rows,
        })
    }
}

/// Scores one generated query against its baseline.
pub fn score(context: &str, baseline: &str, generated: &str, registry: &SchemaRegistry) -> EvalRow {
    let parses = bulwark_kql::parse(generated).has_valid_syntax() && !generated.trim().is_empty();
    let checks = parses && validate(generated, registry).0;
    let b = features(baseline);
    let g = features(generated);
    EvalRow {
        context: context.to_string(),
        baseline: baseline.to_string(),
        generated: generated.to_string(),
        syntax: if parses { 1.0 } else { 0.0 },
        semantic: if checks { 1.0 } else { 0.0 },
        table: jaccard(&b.tables, &g.tables),
        filter_column: jaccard(&b.filter_columns, &g.filter_columns),
        filter_literal: jaccard(&b.filter_literals, &g.filter_literals),
    }
}

/// Evaluates `generate` over JSONL lines `{"context": NL, "baseline": KQL}` (blank lines
/// ignored, other lines counted as skipped).
pub fn nl2kql<I, S>(lines: I, generate: &dyn Fn(&str) -> String) -> EvalReport
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let registry = SchemaRegistry::builtin();
    let mut rows = Vec::new();
    let mut skipped = 0;
    for line in lines {
        let line = line.as_ref().trim();
        if line.is_empty() {
            continue;
        }
        let pair = serde_json::from_str::<Value>(line).ok().and_then(|v| {
            Some((
                v.get("context")?.as_str()?.to_string(),
                v.get("baseline")?.as_str()?.to_string(),
            ))
        });
        let Some((context, baseline)) = pair else {
            skipped += 1;
            continue;
        };
        let generated = generate(&context);
        rows.push(score(&context, &baseline, &generated, &registry));
    }
    let n = rows.len();
    let avg = |f: &dyn Fn(&EvalRow) -> f64| {
        if n == 0 { 0.0 } else { rows.iter().map(f).sum::<f64>() / n as f64 }
    };
    EvalReport {
        count: n,
        skipped,
        syntax: avg(&|r| r.syntax),
        semantic: avg(&|r| r.semantic),
        table: avg(&|r| r.table),
        filter_column: avg(&|r| r.filter_column),
        filter_literal: avg(&|r| r.filter_literal),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn features_come_from_the_tree() {
        let f = features(
            "let bad = dynamic([\"1.2.3.4\"]);\nlet T = SigninLogs | where ResultType != \"0\";\nT | where IPAddress in (bad) or UserPrincipalName has 'alice'\n| join (AADNonInteractiveUserSignInLogs | where TimeGenerated > ago(1d)) on UserPrincipalName\n| project TimeGenerated",
        );
        assert_eq!(f.tables, set(&["AADNonInteractiveUserSignInLogs", "SigninLogs"]));
        assert_eq!(
            f.filter_columns,
            set(&["IPAddress", "ResultType", "TimeGenerated", "UserPrincipalName"])
        );
        assert_eq!(f.filter_literals, set(&["0", "1d", "alice"]));
    }

    #[test]
    fn jaccard_edges() {
        assert_eq!(jaccard(&set(&[]), &set(&[])), 1.0);
        assert_eq!(jaccard(&set(&["a"]), &set(&[])), 0.0);
        assert_eq!(jaccard(&set(&["a", "b"]), &set(&["b", "c"])), 1.0 / 3.0);
    }
}
