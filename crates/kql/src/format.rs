//! The pretty printer: a canonical layout (one `| operator` per line) that parses back to the
//! same tree, i.e. `parse(format(parse(q))) == parse(q)` structurally.
use crate::ast::*;
use bulwark_model::KustoType;
use std::fmt::Write;

/// Formats a whole query.
pub fn format(query: &Query) -> String {
    let mut out = String::new();
    for (i, s) in query.statements.iter().enumerate() {
        if i > 0 {
            out.push_str(";\n");
        }
        statement(&mut out, s, true);
    }
    out
}

/// Formats one scalar expression.
pub fn format_expr(e: &Expr) -> String {
    let mut out = String::new();
    expr(&mut out, e);
    out
}

/// Canonical text of a timespan in nanoseconds, e.g. `1d`, `90m`, `1500ms`.
pub fn timespan_text(nanos: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "microsecond"),
        (100, "tick"),
    ];
    if nanos == 0 {
        return "0s".into();
    }
    for (size, unit) in UNITS {
        if nanos % size == 0 {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

fn statement(out: &mut String, s: &Statement, top: bool) {
    match s {
        Statement::Let { name, value, .. } => {
            let _ = write!(out, "let {} = ", ident(&name.name));
            match value {
                LetValue::Expr(e) => expr(out, e),
                LetValue::Tabular(t) => tabular(out, t, top),
                LetValue::Function(f) => {
                    out.push('(');
                    params(out, &f.params);
                    out.push_str(") {\n");
                    for st in &f.body {
                        out.push_str("    ");
                        statement(out, st, false);
                        out.push_str(";\n");
                    }
                    out.push('}');
                }
            }
        }
        Statement::DeclareQueryParameters { params: ps, .. } => {
            out.push_str("declare query_parameters(");
            params(out, ps);
            out.push(')');
        }
        Statement::Set { name, value, .. } => {
            let _ = write!(out, "set {}", name.name);
            if let Some(v) = value {
                out.push_str(" = ");
                expr(out, v);
            }
        }
        Statement::Query(t) => tabular(out, t, top),
    }
}

fn params(out: &mut String, ps: &[Param]) {
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}:", ident(&p.name.name));
        match &p.ty {
            ParamType::Scalar(t) => out.push_str(t.name()),
            ParamType::Tabular { columns, open } => {
                out.push('(');
                let mut parts: Vec<String> = columns.iter().map(column_decl).collect();
                if *open {
                    parts.push("*".into());
                }
                out.push_str(&parts.join(", "));
                out.push(')');
            }
        }
        if let Some(d) = &p.default {
            out.push_str(" = ");
            expr(out, d);
        }
    }
}

fn column_decl(c: &ColumnDecl) -> String {
    format!("{}:{}", ident(&c.name.name), c.ty.name())
}

/// Plain identifiers stay bare; anything else is bracketed.
fn ident(name: &str) -> String {
    let mut chars = name.chars();
    let plain = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    } && !matches!(name, "true" | "false");
    if plain { name.to_string() } else { format!("[{}]", string_lit(name)) }
}

fn string_lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn tabular(out: &mut String, t: &TabularExpr, top: bool) {
    match &t.source {
        Source::Name(id) => out.push_str(&name_or_pattern(&id.name)),
        Source::Call(c) => call(out, c),
        Source::Expr(e) => expr(out, e),
        Source::Paren(inner) => {
            out.push('(');
            tabular(out, inner, false);
            out.push(')');
        }
        Source::Operator(op) => operator(out, op),
    }
    for op in &t.ops {
        out.push_str(if top { "\n| " } else { " | " });
        operator(out, op);
    }
}

/// Names in name position: patterns with `*` are written raw.
fn name_or_pattern(name: &str) -> String {
    if name.contains('*') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*')
    {
        name.to_string()
    } else {
        ident(name)
    }
}

/// A nested pipeline without a source (mv-apply, fork, facet bodies).
fn bare(out: &mut String, t: &TabularExpr) {
    for (i, op) in t.ops.iter().enumerate() {
        if i > 0 {
            out.push_str(" | ");
        }
        operator(out, op);
    }
}

fn list<T>(out: &mut String, items: &[T], mut f: impl FnMut(&mut String, &T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        f(out, item);
    }
}

fn named(out: &mut String, n: &NamedExpr) {
    match n.names.len() {
        0 => {}
        1 => {
            let _ = write!(out, "{} = ", ident(&n.names[0].name));
        }
        _ => {
            out.push('(');
            list(out, &n.names, |o, i| o.push_str(&ident(&i.name)));
            out.push_str(") = ");
        }
    }
    expr(out, &n.expr);
}

fn op_params(out: &mut String, ps: &[OpParam]) {
    for p in ps {
        let _ = write!(out, "{}=", p.name.name);
        expr(out, &p.value);
        out.push(' ');
    }
}

fn paren_params(out: &mut String, ps: &[OpParam]) {
    out.push('(');
    list(out, ps, |o, p| {
        let _ = write!(o, "{}=", p.name.name);
        expr(o, &p.value);
    });
    out.push(')');
}

fn sort_order(o: Option<SortOrder>) -> &'static str {
    match o {
        Some(SortOrder::Asc) => " asc",
        Some(SortOrder::Desc) => " desc",
        None => "",
    }
}

fn sort_key(out: &mut String, k: &SortKey) {
    expr(out, &k.expr);
    out.push_str(sort_order(k.order));
    match k.nulls {
        Some(NullsOrder::First) => out.push_str(" nulls first"),
        Some(NullsOrder::Last) => out.push_str(" nulls last"),
        None => {}
    }
}

fn join_on(out: &mut String, on: &[JoinOn]) {
    if on.is_empty() {
        return;
    }
    out.push_str(" on ");
    list(out, on, |o, c| match c {
        JoinOn::Column(id) => o.push_str(&ident(&id.name)),
        JoinOn::Equal { left, right } => {
            let _ = write!(o, "$left.{} == $right.{}", ident(&left.name), ident(&right.name));
        }
        JoinOn::Expr(e) => expr(o, e),
    });
}

fn right_side(out: &mut String, t: &TabularExpr) {
    out.push('(');
    tabular(out, t, false);
    out.push(')');
}

fn mv_columns(out: &mut String, cols: &[MvExpandColumn]) {
    list(out, cols, |o, c| {
        if let Some(n) = &c.name {
            let _ = write!(o, "{} = ", ident(&n.name));
        }
        expr(o, &c.expr);
        if let Some(t) = c.to_type {
            let _ = write!(o, " to typeof({})", t.name());
        }
    });
}

fn operator(out: &mut String, op: &Operator) {
    out.push_str(op.keyword());
    match op {
        Operator::Where { predicate, .. } => {
            out.push(' ');
            expr(out, predicate);
        }
        Operator::Project { columns, .. }
        | Operator::Extend { columns, .. }
        | Operator::Print { columns, .. } => {
            out.push(' ');
            list(out, columns, named);
        }
        Operator::Serialize { columns, .. } => {
            if !columns.is_empty() {
                out.push(' ');
                list(out, columns, named);
            }
        }
        Operator::ProjectAway { columns, .. } | Operator::ProjectKeep { columns, .. } => {
            out.push(' ');
            list(out, columns, |o, c| o.push_str(&name_or_pattern(&c.name)));
        }
        Operator::ProjectRename { renames, .. } => {
            out.push(' ');
            list(out, renames, |o, (n, old)| {
                let _ = write!(o, "{} = {}", ident(&n.name), ident(&old.name));
            });
        }
        Operator::ProjectReorder { columns, .. } => {
            out.push(' ');
            list(out, columns, |o, (c, ord)| {
                o.push_str(&name_or_pattern(&c.name));
                o.push_str(sort_order(*ord));
            });
        }
        Operator::Summarize { params, aggregates, by, .. } => {
            out.push(' ');
            op_params(out, params);
            list(out, aggregates, named);
            if !by.is_empty() {
                out.push_str(if aggregates.is_empty() { "by " } else { " by " });
                list(out, by, named);
            }
        }
        Operator::Count { name, .. } => {
            if let Some(n) = name {
                let _ = write!(out, " as {}", ident(&n.name));
            }
        }
        Operator::Take { count, .. } | Operator::Sample { count, .. } => {
            out.push(' ');
            expr(out, count);
        }
        Operator::Top { count, by, .. } => {
            out.push(' ');
            expr(out, count);
            out.push_str(" by ");
            sort_key(out, by);
        }
        Operator::TopNested { levels, .. } => {
            for (i, l) in levels.iter().enumerate() {
                if i > 0 {
                    out.push_str(", top-nested");
                }
                if let Some(c) = &l.count {
                    out.push(' ');
                    expr(out, c);
                }
                out.push_str(" of ");
                named(out, &l.of);
                if let Some(o) = &l.others {
                    out.push_str(" with others = ");
                    expr(out, o);
                }
                out.push_str(" by ");
                named(out, &l.by);
                out.push_str(sort_order(l.order));
            }
        }
        Operator::Sort { keys, .. } => {
            out.push_str(" by ");
            list(out, keys, sort_key);
        }
        Operator::Distinct { columns, star, .. } => {
            if *star {
                out.push_str(" *");
            } else {
                out.push(' ');
                list(out, columns, named);
            }
        }
        Operator::Join { params, kind, right, on, .. }
        | Operator::Lookup { params, kind, right, on, .. } => {
            let _ = write!(out, " kind={} ", kind.as_str());
            op_params(out, params);
            right_side(out, right);
            join_on(out, on);
        }
        Operator::Union { params, tables, .. } => {
            out.push(' ');
            op_params(out, params);
            list(out, tables, |o, t| match (&t.source, t.ops.is_empty()) {
                (Source::Name(id), true) => o.push_str(&name_or_pattern(&id.name)),
                _ => right_side(o, t),
            });
        }
        Operator::MvExpand { params, columns, limit, .. } => {
            out.push(' ');
            op_params(out, params);
            mv_columns(out, columns);
            if let Some(l) = limit {
                out.push_str(" limit ");
                expr(out, l);
            }
        }
        Operator::MvApply { params, columns, subquery, .. } => {
            out.push(' ');
            op_params(out, params);
            mv_columns(out, columns);
            out.push_str(" on (");
            bare(out, subquery);
            out.push(')');
        }
        Operator::Parse { params, source, pattern, .. } => {
            out.push(' ');
            op_params(out, params);
            expr(out, source);
            out.push_str(" with");
            for p in pattern {
                out.push(' ');
                match p {
                    ParsePart::Text(t) => out.push_str(&string_lit(t)),
                    ParsePart::Star => out.push('*'),
                    ParsePart::Column { name, ty } => {
                        out.push_str(&ident(&name.name));
                        if let Some(t) = ty {
                            let _ = write!(out, ":{}", t.name());
                        }
                    }
                }
            }
        }
        Operator::ParseKv { source, columns, with, .. } => {
            out.push(' ');
            expr(out, source);
            out.push_str(" as (");
            out.push_str(&columns.iter().map(column_decl).collect::<Vec<_>>().join(", "));
            out.push(')');
            if !with.is_empty() {
                out.push_str(" with ");
                paren_params(out, with);
            }
        }
        Operator::MakeSeries { params, aggregates, on, from, to, step, by, .. } => {
            out.push(' ');
            op_params(out, params);
            list(out, aggregates, |o, (n, d)| {
                named(o, n);
                if let Some(d) = d {
                    o.push_str(" default = ");
                    expr(o, d);
                }
            });
            out.push_str(" on ");
            expr(out, on);
            if let Some(f) = from {
                out.push_str(" from ");
                expr(out, f);
            }
            if let Some(t) = to {
                out.push_str(" to ");
                expr(out, t);
            }
            out.push_str(" step ");
            expr(out, step);
            if !by.is_empty() {
                out.push_str(" by ");
                list(out, by, named);
            }
        }
        Operator::Evaluate { params, call: c, .. } => {
            out.push(' ');
            op_params(out, params);
            call(out, c);
        }
        Operator::As { params, name, .. } => {
            out.push(' ');
            op_params(out, params);
            out.push_str(&ident(&name.name));
        }
        Operator::Search { params, tables, predicate, .. } => {
            out.push(' ');
            op_params(out, params);
            if !tables.is_empty() {
                out.push_str("in (");
                list(out, tables, |o, t| o.push_str(&name_or_pattern(&t.name)));
                out.push_str(") ");
            }
            expr(out, predicate);
        }
        Operator::Find { tables, predicate, project, .. } => {
            if !tables.is_empty() {
                out.push_str(" in (");
                list(out, tables, |o, t| o.push_str(&name_or_pattern(&t.name)));
                out.push(')');
            }
            out.push_str(" where ");
            expr(out, predicate);
            if !project.is_empty() {
                out.push_str(" project ");
                list(out, project, |o, t| o.push_str(&name_or_pattern(&t.name)));
            }
        }
        Operator::Render { chart, with, .. } => {
            let _ = write!(out, " {}", ident(&chart.name));
            if !with.is_empty() {
                out.push_str(" with ");
                paren_params(out, with);
            }
        }
        Operator::Invoke { call: c, .. } => {
            out.push(' ');
            call(out, c);
        }
        Operator::GetSchema { .. } => {}
        Operator::SampleDistinct { count, of, .. } => {
            out.push(' ');
            expr(out, count);
            out.push_str(" of ");
            expr(out, of);
        }
        Operator::Range { column, from, to, step, .. } => {
            let _ = write!(out, " {} from ", ident(&column.name));
            expr(out, from);
            out.push_str(" to ");
            expr(out, to);
            out.push_str(" step ");
            expr(out, step);
        }
        Operator::Datatable { columns, values, .. } => {
            let _ = write!(
                out,
                "({}) [",
                columns.iter().map(column_decl).collect::<Vec<_>>().join(", ")
            );
            list(out, values, expr);
            out.push(']');
        }
        Operator::ExternalData { columns, uris, with, .. } => {
            let _ = write!(
                out,
                "({}) [",
                columns.iter().map(column_decl).collect::<Vec<_>>().join(", ")
            );
            list(out, uris, expr);
            out.push(']');
            if !with.is_empty() {
                out.push_str(" with ");
                paren_params(out, with);
            }
        }
        Operator::Facet { columns, with, .. } => {
            out.push_str(" by ");
            list(out, columns, |o, c| o.push_str(&name_or_pattern(&c.name)));
            if let Some(w) = with {
                out.push_str(" with (");
                bare(out, w);
                out.push(')');
            }
        }
        Operator::Fork { branches, .. } => {
            for b in branches {
                out.push_str(" (");
                bare(out, b);
                out.push(')');
            }
        }
        Operator::Partition { params, by, subquery, .. } => {
            out.push(' ');
            op_params(out, params);
            let _ = write!(out, "by {} (", ident(&by.name));
            bare(out, subquery);
            out.push(')');
        }
        Operator::Other { text, .. } => {
            if !text.is_empty() {
                out.push(' ');
                out.push_str(text);
            }
        }
    }
}

fn call(out: &mut String, c: &Call) {
    // Namespaced names keep their dots; each part is an identifier.
    let name = c.name.name.split('.').map(ident).collect::<Vec<_>>().join(".");
    out.push_str(&name);
    out.push('(');
    list(out, &c.args, expr);
    out.push(')');
}

fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary { op, .. } => match op {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            _ => 3,
        },
        Expr::List { .. } | Expr::Between { .. } => 3,
        Expr::Unary { .. } => 6,
        Expr::Literal { value: Literal::Long(v), .. } if *v < 0 => 6,
        Expr::Literal { value: Literal::Real(v), .. } if v.is_sign_negative() => 6,
        Expr::Literal { value: Literal::TimeSpan(v), .. } if *v < 0 => 6,
        _ => 7,
    }
}

/// Writes `e`, parenthesised when its precedence is below `min`.
fn sub(out: &mut String, e: &Expr, min: u8) {
    if prec(e) < min {
        out.push('(');
        expr(out, e);
        out.push(')');
    } else {
        expr(out, e);
    }
}

fn binop_text(op: BinOp) -> String {
    match op {
        BinOp::Or => "or".into(),
        BinOp::And => "and".into(),
        BinOp::Eq => "==".into(),
        BinOp::Ne => "!=".into(),
        BinOp::Lt => "<".into(),
        BinOp::Le => "<=".into(),
        BinOp::Gt => ">".into(),
        BinOp::Ge => ">=".into(),
        BinOp::EqCi => "=~".into(),
        BinOp::NeCi => "!~".into(),
        BinOp::Add => "+".into(),
        BinOp::Sub => "-".into(),
        BinOp::Mul => "*".into(),
        BinOp::Div => "/".into(),
        BinOp::Mod => "%".into(),
        BinOp::Str(s) => {
            let base = match s.kind {
                StrOpKind::Has => "has",
                StrOpKind::HasPrefix => "hasprefix",
                StrOpKind::HasSuffix => "hassuffix",
                StrOpKind::Contains => "contains",
                StrOpKind::StartsWith => "startswith",
                StrOpKind::EndsWith => "endswith",
                StrOpKind::MatchesRegex => return "matches regex".into(),
            };
            format!(
                "{}{base}{}",
                if s.negated { "!" } else { "" },
                if s.case_sensitive { "_cs" } else { "" }
            )
        }
    }
}

fn literal(out: &mut String, v: &Literal) {
    match v {
        Literal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Literal::Long(v) => {
            let _ = write!(out, "{v}");
        }
        Literal::Int(v) => {
            let _ = write!(out, "int({v})");
        }
        Literal::Real(v) => {
            if v.is_nan() {
                out.push_str("real(nan)");
            } else if v.is_infinite() {
                out.push_str(if *v > 0.0 { "real(inf)" } else { "real(-inf)" });
            } else {
                let s = format!("{v:?}");
                out.push_str(&s);
            }
        }
        Literal::Decimal(s) => {
            let _ = write!(out, "decimal({s})");
        }
        Literal::String(s) => out.push_str(&string_lit(s)),
        Literal::DateTime(s) => wrapped(out, "datetime", s),
        Literal::Guid(s) => wrapped(out, "guid", s),
        Literal::TimeSpan(v) => out.push_str(&timespan_text(*v)),
        Literal::Dynamic(v) => {
            out.push_str("dynamic(");
            dynamic(out, v);
            out.push(')');
        }
        Literal::Null(t) => {
            let name = if *t == KustoType::Decimal { "decimal" } else { t.name() };
            let _ = write!(out, "{name}(null)");
        }
    }
}

/// `datetime(text)` raw when the text is tame, else with a quoted string.
fn wrapped(out: &mut String, f: &str, text: &str) {
    let tame = !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | ' ' | '+' | 'T' | 'Z' | '/')
        });
    if tame && text != "null" {
        let _ = write!(out, "{f}({text})");
    } else {
        let _ = write!(out, "{f}({})", string_lit(text));
    }
}

fn dynamic(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(f) = n.as_f64() {
                let _ = write!(out, "{f:?}");
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => out.push_str(&string_lit(s)),
        Value::Array(items) => {
            out.push('[');
            list(out, items, dynamic);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&string_lit(k));
                out.push_str(": ");
                dynamic(out, v);
            }
            out.push('}');
        }
    }
}

fn expr(out: &mut String, e: &Expr) {
    match e {
        Expr::Literal { value, .. } => literal(out, value),
        Expr::Ident(id) => out.push_str(&ident(&id.name)),
        Expr::Star { .. } => out.push('*'),
        Expr::Member { base, name, .. } => {
            sub(out, base, 7);
            out.push('.');
            out.push_str(&ident(&name.name));
        }
        Expr::Index { base, index, .. } => {
            sub(out, base, 7);
            out.push('[');
            expr(out, index);
            out.push(']');
        }
        Expr::Call(c) => call(out, c),
        Expr::Binary { op, lhs, rhs, .. } => {
            let p = prec(e);
            sub(out, lhs, p);
            let _ = write!(out, " {} ", binop_text(*op));
            sub(out, rhs, p + 1);
        }
        Expr::Unary { op, expr: inner, .. } => {
            out.push(if *op == UnaryOp::Neg { '-' } else { '+' });
            if prec(inner) == 6 {
                // Nested signs print as `- -x`: parentheses would add nesting depth.
                out.push(' ');
                expr(out, inner);
            } else if prec(inner) < 6 {
                out.push('(');
                expr(out, inner);
                out.push(')');
            } else {
                expr(out, inner);
            }
        }
        Expr::List { op, expr: inner, list: items, .. } => {
            sub(out, inner, 4);
            let kw = match op {
                ListOp::In => "in",
                ListOp::NotIn => "!in",
                ListOp::InCi => "in~",
                ListOp::NotInCi => "!in~",
                ListOp::HasAny => "has_any",
                ListOp::HasAll => "has_all",
            };
            let _ = write!(out, " {kw} (");
            list(out, items, expr);
            out.push(')');
        }
        Expr::Between { negated, expr: inner, low, high, .. } => {
            sub(out, inner, 4);
            out.push_str(if *negated { " !between (" } else { " between (" });
            expr(out, low);
            out.push_str(" .. ");
            expr(out, high);
            out.push(')');
        }
        Expr::NamedArg { name, value, .. } => {
            let _ = write!(out, "{} = ", ident(&name.name));
            expr(out, value);
        }
        Expr::Tabular(t) => {
            out.push('(');
            tabular(out, t, false);
            out.push(')');
        }
        Expr::Error { .. } => out.push_str("__error__"),
    }
}
