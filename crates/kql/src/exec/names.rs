//! Kusto's default column names, shared with the checker so both agree on a query's schema.
use crate::ast::{Call, Expr, NamedExpr};
use crate::catalog::{self, Kind};
use crate::check::{NAME_PRESERVING, default_name};
use crate::format::format_expr;

pub(crate) use crate::check::matches_pattern;

/// The name of an `extend`/`project`/`by` item: explicit, else derived from the expression,
/// else `Column1`, `Column2`, … (`counter` counts per operator).
pub(crate) fn item_name(item: &NamedExpr, counter: &mut usize) -> String {
    if let Some(n) = item.names.first() {
        return n.name.clone();
    }
    default_name(&item.expr).unwrap_or_else(|| {
        *counter += 1;
        format!("Column{counter}")
    })
}

/// Whether `name` is an aggregation function.
pub(crate) fn is_aggregate(name: &str) -> bool {
    catalog::lookup(name).is_some_and(|i| i.kind == Kind::Aggregate)
}

/// The default name of an aggregation item without an explicit name (`count()` → `count_`,
/// `dcount(X)` → `dcount_X`, `take_any(X)` → `X`, `percentile(X, 95)` → `percentile_X_95`;
/// `tostring(make_set(x))` is named after the aggregation inside).
pub(crate) fn aggregate_item_name(item: &NamedExpr, counter: &mut usize) -> String {
    if let Some(n) = item.names.first() {
        return n.name.clone();
    }
    let mut target = &item.expr;
    while let Expr::Call(c) = target {
        match c.args.first() {
            Some(inner @ Expr::Call(_))
                if !is_aggregate(&c.name.name)
                    && NAME_PRESERVING.contains(&c.name.name.as_str()) =>
            {
                target = inner
            }
            _ => break,
        }
    }
    if let Expr::Call(c) = target
        && let Some(name) = aggregate_call_name(c)
    {
        return name;
    }
    default_name(&item.expr).unwrap_or_else(|| {
        *counter += 1;
        format!("Column{counter}")
    })
}

fn aggregate_call_name(c: &Call) -> Option<String> {
    let info = catalog::lookup(&c.name.name).filter(|i| i.kind == Kind::Aggregate)?;
    let name = c.name.name.as_str();
    if matches!(name, "percentile" | "percentilew") {
        let base = c.args.first().and_then(default_name).unwrap_or_default();
        let v = c.args.last().map(|p| format_expr(p).replace(['.', '-'], "_")).unwrap_or_default();
        return Some(format!("percentile_{base}_{v}"));
    }
    let keeps = matches!(name, "take_any" | "take_anyif" | "any" | "anyif");
    Some(match c.args.first().and_then(default_name) {
        Some(arg) if keeps => arg,
        Some(arg) if name != "countif" => format!("{}_{arg}", info.column_prefix),
        _ => format!("{}_", info.column_prefix),
    })
}

/// A name not yet in `taken`: `name`, else `name1`, `name2`, … (Kusto's rule for join sides).
pub(crate) fn unique_name(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_string();
    }
    (1..)
        .map(|i| format!("{name}{i}"))
        .find(|n| !taken.iter().any(|t| t == n))
        .unwrap_or_else(|| name.to_string())
}
