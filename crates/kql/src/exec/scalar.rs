//! Scalar expressions and aggregations → DataFusion [`Expr`]s.
//!
//! Kusto's rules that differ from SQL are applied here: `dynamic` values (JSON text) are
//! converted to the type of whatever they are compared or combined with; string operators
//! (`has`, `contains`, `=~` …) and conversions go through the `kql_*` UDFs; `between` takes a
//! timespan as its upper bound for datetimes.
use std::ops::Not;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{Expr, ExprSchemable, Operator as DfOp, binary_expr, lit, when};

use super::QueryError;
use super::planner::{
    Binding, PResult, PlanError, Planner, Prefetched, Rel, RequestKind, Val, col, fail, span_key,
};
use crate::ast::{BinOp, Call, Expr as Ast, ListOp, Literal, StrOpKind, UnaryOp};
use bulwark_model::KustoType;

/// Functions whose arguments are dynamic values (JSON text passes through unchanged).
const DYNAMIC_ARGS: &[&str] = &[
    "get",
    "array_length",
    "bag_keys",
    "pack",
    "bag_pack",
    "pack_array",
    "array_concat",
    "set_union",
    "set_intersect",
    "bag_merge",
    "parse_json",
    "todynamic",
    "tostring_dynamic",
    "has_any",
    "has_all",
    "in_ci",
    "ipv4_is_in_any_range",
    "mv_items",
    "mv_indexes",
];

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

fn ts_lit(ns: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into())))
}

fn plan_err(span: crate::span::Span, message: impl Into<String>) -> PlanError {
    PlanError::Fail(QueryError::Plan { message: message.into(), span: Some(span) })
}

impl Planner<'_> {
    /// Lowers a scalar expression evaluated over `rel`'s rows.
    pub(crate) fn scalar(&mut self, e: &Ast, rel: &Rel) -> PResult<Val> {
        match e {
            Ast::Literal { value, span } => self.literal(value, *span),
            Ast::Ident(id) => {
                if rel.has(&id.name) {
                    return Ok(Val { expr: col(&id.name), dynamic: rel.is_dynamic(&id.name) });
                }
                match self.lookup(&id.name) {
                    Some(Binding::Value(v)) => Ok(v.clone()),
                    Some(Binding::Function(f)) if f.params.is_empty() => {
                        let f = f.clone();
                        self.scalar_function(&f, &[], rel, id.span)
                    }
                    Some(_) => fail(id.span, format!("'{}' is a table, not a value", id.name)),
                    None if crate::check::STANDARD_COLUMNS.iter().any(|(n, _)| *n == id.name) => {
                        // Log Analytics' standard columns exist on every table; a store
                        // without them reads them as null.
                        let ty = crate::check::STANDARD_COLUMNS
                            .iter()
                            .find(|(n, _)| *n == id.name)
                            .map_or(KustoType::String, |(_, t)| *t);
                        let null =
                            ScalarValue::try_from(&ty.arrow_type()).unwrap_or(ScalarValue::Null);
                        Ok(Val::plain(lit(null)))
                    }
                    None => {
                        let names = rel.names();
                        let mut msg = format!("unknown column '{}'", id.name);
                        if let Some(s) =
                            bulwark_model::text::closest(&id.name, names.iter().map(String::as_str))
                        {
                            msg.push_str(&format!(" — did you mean '{s}'?"));
                        }
                        fail(id.span, msg)
                    }
                }
            }
            Ast::Star { span } => fail(*span, "`*` is not a value here"),
            Ast::Member { base, name, .. } => {
                let b = self.scalar(base, rel)?;
                let get = self.udf("get")?;
                Ok(Val { expr: get.call(vec![b.expr, lit(name.name.clone())]), dynamic: true })
            }
            Ast::Index { base, index, .. } => {
                let b = self.scalar(base, rel)?;
                let i = self.scalar(index, rel)?;
                let get = self.udf("get")?;
                Ok(Val { expr: get.call(vec![b.expr, i.expr]), dynamic: true })
            }
            Ast::Call(c) => self.call(c, rel),
            Ast::Binary { op, lhs, rhs, span } => self.binary(*op, lhs, rhs, rel, *span),
            Ast::Unary { op, expr, .. } => {
                let v = self.scalar(expr, rel)?;
                let v = if v.dynamic { self.undynamic(v, &DataType::Float64)? } else { v };
                Ok(match op {
                    UnaryOp::Neg => Val::plain(Expr::Negative(Box::new(v.expr))),
                    UnaryOp::Plus => v,
                })
            }
            Ast::List { op, expr, list, span } => self.list(*op, expr, list, rel, *span),
            Ast::Between { negated, expr, low, high, .. } => {
                let x = self.scalar(expr, rel)?;
                let lo = self.scalar(low, rel)?;
                let hi = self.scalar(high, rel)?;
                let xt = x.expr.get_type(rel.plan.schema())?;
                let x = if x.dynamic {
                    let lt = lo.expr.get_type(rel.plan.schema())?;
                    self.undynamic(x, &lt)?
                } else {
                    x
                };
                let ht = hi.expr.get_type(rel.plan.schema())?;
                // `datetime between (start .. 1d)`: the upper bound is start + timespan.
                let hi_expr = if matches!(xt, DataType::Timestamp(_, _))
                    && matches!(ht, DataType::Duration(_))
                {
                    binary_expr(lo.expr.clone(), DfOp::Plus, hi.expr)
                } else {
                    hi.expr
                };
                let inside = x.expr.clone().gt_eq(lo.expr).and(x.expr.lt_eq(hi_expr));
                Ok(Val::plain(if *negated { inside.not() } else { inside }))
            }
            Ast::NamedArg { value, .. } => self.scalar(value, rel),
            Ast::Tabular(t) => {
                fail(t.span, "a table is not allowed here; use toscalar(…) for one value")
            }
            Ast::Error { span } => fail(*span, "invalid expression"),
        }
    }

    fn literal(&mut self, value: &Literal, span: crate::span::Span) -> PResult<Val> {
        Ok(match value {
            Literal::Bool(b) => Val::plain(lit(*b)),
            Literal::Long(v) => Val::plain(lit(*v)),
            Literal::Int(v) => Val::plain(lit(i32::try_from(*v).unwrap_or(i32::MAX))),
            Literal::Real(v) => Val::plain(lit(*v)),
            Literal::Decimal(t) => match t.trim().parse::<f64>() {
                Ok(v) => Val::plain(lit(v)),
                Err(_) => return fail(span, format!("invalid decimal '{t}'")),
            },
            Literal::String(s) | Literal::Guid(s) => Val::plain(lit(s.clone())),
            Literal::DateTime(text) => {
                let t = text.trim();
                if t.eq_ignore_ascii_case("now") || t.is_empty() {
                    Val::plain(ts_lit(self.now_ns()))
                } else {
                    match crate::time::datetime_nanos(t) {
                        Some(ns) => Val::plain(ts_lit(ns)),
                        None => return fail(span, format!("invalid datetime '{t}'")),
                    }
                }
            }
            Literal::TimeSpan(ns) => Val::plain(lit(ScalarValue::DurationNanosecond(Some(*ns)))),
            Literal::Dynamic(v) => {
                if v.is_null() {
                    Val { expr: lit(ScalarValue::Utf8(None)), dynamic: true }
                } else {
                    Val { expr: lit(v.to_string()), dynamic: true }
                }
            }
            Literal::Null(t) => {
                let s = ScalarValue::try_from(&t.arrow_type()).unwrap_or(ScalarValue::Null);
                Val { expr: lit(s), dynamic: *t == KustoType::Dynamic }
            }
        })
    }

    fn now_ns(&self) -> i64 {
        self.now.timestamp_nanos_opt().unwrap_or(i64::MAX)
    }

    /// A dynamic value as a value of `target` type (Kusto's implicit conversion).
    pub(crate) fn undynamic(&self, v: Val, target: &DataType) -> PResult<Val> {
        if !v.dynamic {
            return Ok(v);
        }
        let text = self.udf("tostring_dynamic")?.call(vec![v.expr]);
        let kt = match target {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => KustoType::Long,
            DataType::Float32 | DataType::Float64 => KustoType::Real,
            DataType::Boolean => KustoType::Bool,
            DataType::Timestamp(_, _) => KustoType::DateTime,
            DataType::Duration(_) => KustoType::TimeSpan,
            _ => KustoType::String,
        };
        Ok(Val::plain(self.convert_text(text, kt)?))
    }

    fn binary(
        &mut self,
        op: BinOp,
        lhs: &Ast,
        rhs: &Ast,
        rel: &Rel,
        span: crate::span::Span,
    ) -> PResult<Val> {
        let schema = rel.plan.schema().clone();
        match op {
            BinOp::And | BinOp::Or => {
                let l = self.predicate(lhs, rel)?;
                let r = self.predicate(rhs, rel)?;
                return Ok(Val::plain(if op == BinOp::And { l.and(r) } else { l.or(r) }));
            }
            BinOp::Str(s) => {
                let l = self.scalar(lhs, rel)?;
                let r = self.scalar(rhs, rel)?;
                let l = self.text_arg(l, rel)?;
                let r = self.text_arg(r, rel)?;
                let base = match s.kind {
                    StrOpKind::Has => "has",
                    StrOpKind::HasPrefix => "hasprefix",
                    StrOpKind::HasSuffix => "hassuffix",
                    StrOpKind::Contains => "contains",
                    StrOpKind::StartsWith => "startswith",
                    StrOpKind::EndsWith => "endswith",
                    StrOpKind::MatchesRegex => "matches_regex",
                };
                let name = if s.case_sensitive && s.kind != StrOpKind::MatchesRegex {
                    format!("{base}_cs")
                } else {
                    base.to_string()
                };
                let f = self.udf(&name)?;
                let call = f.call(vec![l, r]);
                return Ok(Val::plain(if s.negated { call.not() } else { call }));
            }
            _ => {}
        }
        let l = self.scalar(lhs, rel)?;
        let r = self.scalar(rhs, rel)?;
        // Dynamic operands take the other side's type; two dynamics compare as text.
        let (l, r) = match (l.dynamic, r.dynamic) {
            (true, false) => {
                let t = r.expr.get_type(&schema)?;
                (self.undynamic(l, &t)?, r)
            }
            (false, true) => {
                let t = l.expr.get_type(&schema)?;
                let r = self.undynamic(r, &t)?;
                (l, r)
            }
            (true, true) => {
                let target = if matches!(op, BinOp::Eq | BinOp::Ne | BinOp::EqCi | BinOp::NeCi) {
                    DataType::Utf8
                } else {
                    DataType::Float64
                };
                (self.undynamic(l, &target)?, self.undynamic(r, &target)?)
            }
            _ => (l, r),
        };
        let lt = l.expr.get_type(&schema)?;
        let rt = r.expr.get_type(&schema)?;
        let (mut le, mut re) = (l.expr, r.expr);
        let comparison =
            matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge);
        if comparison {
            // Kusto converts a string compared with a datetime/timespan, and bool with numbers.
            let fix = |this: &Self, e: Expr, from: &DataType, to: &DataType| -> PResult<Expr> {
                Ok(match (from, to) {
                    (f, DataType::Timestamp(_, _)) if is_text(f) => {
                        this.convert_text(e, KustoType::DateTime)?
                    }
                    (f, DataType::Duration(_)) if is_text(f) => {
                        this.convert_text(e, KustoType::TimeSpan)?
                    }
                    // A number compared with a string column compares as text (no failing
                    // cast of every row); a bool compared with text parses the text.
                    (f, t) if (f.is_integer() || f.is_floating()) && is_text(t) => {
                        this.udf("tostring")?.call(vec![e])
                    }
                    (f, DataType::Boolean) if is_text(f) => {
                        this.convert_text(e, KustoType::Bool)?
                    }
                    (DataType::Boolean, t) if t.is_integer() || t.is_floating() => {
                        e.cast_to(&DataType::Int64, &schema)?
                    }
                    _ => e,
                })
            };
            // A string literal compared with a number column becomes a number (no per-row
            // conversion of the column).
            let numeric = |t: &DataType| t.is_integer() || t.is_floating();
            if numeric(&lt)
                && let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = &re
                && let Ok(v) = text.trim().parse::<f64>()
            {
                re = if v.fract() == 0.0 && lt.is_integer() { lit(v as i64) } else { lit(v) };
            } else if numeric(&rt)
                && let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = &le
                && let Ok(v) = text.trim().parse::<f64>()
            {
                le = if v.fract() == 0.0 && rt.is_integer() { lit(v as i64) } else { lit(v) };
            } else {
                le = fix(self, le, &lt, &rt)?;
                re = fix(self, re, &rt, &lt)?;
            }
        }
        let is_dur = |t: &DataType| matches!(t, DataType::Duration(_));
        let is_num = |t: &DataType| t.is_integer() || t.is_floating();
        if op == BinOp::Mul && (is_dur(&lt) && is_num(&rt) || is_num(&lt) && is_dur(&rt)) {
            // timespan × number: multiply the nanoseconds.
            let (d, n) = if is_dur(&lt) { (le, re) } else { (re, le) };
            let d = d.cast_to(&DataType::Int64, &schema)?.cast_to(&DataType::Float64, &schema)?;
            let prod = binary_expr(d, DfOp::Multiply, n.cast_to(&DataType::Float64, &schema)?);
            let e = prod
                .cast_to(&DataType::Int64, &schema)?
                .cast_to(&DataType::Duration(TimeUnit::Nanosecond), &schema)?;
            return Ok(Val::plain(e));
        }
        let e = match op {
            BinOp::Eq => le.eq(re),
            BinOp::Ne => le.not_eq(re),
            BinOp::Lt => le.lt(re),
            BinOp::Le => le.lt_eq(re),
            BinOp::Gt => le.gt(re),
            BinOp::Ge => le.gt_eq(re),
            BinOp::EqCi | BinOp::NeCi
                if is_text(&lt) && matches!(&re, Expr::Literal(ScalarValue::Utf8(Some(_)), _)) =>
            {
                // `x =~ "literal"`: a vectorized lower() beats a per-row case-folding UDF.
                let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = &re else {
                    return fail(span, "internal: literal expected");
                };
                let folded = lit(text.to_lowercase());
                let lowered = datafusion::functions::string::expr_fn::lower(le);
                if op == BinOp::EqCi { lowered.eq(folded) } else { lowered.not_eq(folded) }
            }
            BinOp::EqCi | BinOp::NeCi => {
                let le = if is_text(&lt) { le } else { self.udf("tostring")?.call(vec![le]) };
                let re = if is_text(&rt) { re } else { self.udf("tostring")?.call(vec![re]) };
                let e = self.udf("equals_ci")?.call(vec![le, re]);
                if op == BinOp::NeCi { e.not() } else { e }
            }
            BinOp::Add => binary_expr(le, DfOp::Plus, re),
            BinOp::Sub => {
                if matches!(lt, DataType::Timestamp(_, _))
                    && matches!(rt, DataType::Timestamp(_, _))
                {
                    // datetime - datetime is a timespan.
                    let l_ns = le.cast_to(&DataType::Int64, &schema)?;
                    let r_ns = re.cast_to(&DataType::Int64, &schema)?;
                    binary_expr(l_ns, DfOp::Minus, r_ns)
                        .cast_to(&DataType::Duration(TimeUnit::Nanosecond), &schema)?
                } else {
                    binary_expr(le, DfOp::Minus, re)
                }
            }
            BinOp::Mul => binary_expr(le, DfOp::Multiply, re),
            BinOp::Div => {
                if matches!(lt, DataType::Duration(_)) && matches!(rt, DataType::Duration(_)) {
                    let l = le
                        .cast_to(&DataType::Int64, &schema)?
                        .cast_to(&DataType::Float64, &schema)?;
                    let r = re
                        .cast_to(&DataType::Int64, &schema)?
                        .cast_to(&DataType::Float64, &schema)?;
                    binary_expr(l, DfOp::Divide, r)
                } else if matches!(lt, DataType::Duration(_)) {
                    let l = le.cast_to(&DataType::Int64, &schema)?;
                    let r = re.cast_to(&DataType::Int64, &schema)?;
                    binary_expr(l, DfOp::Divide, r)
                        .cast_to(&DataType::Duration(TimeUnit::Nanosecond), &schema)?
                } else {
                    binary_expr(le, DfOp::Divide, re)
                }
            }
            BinOp::Mod => binary_expr(le, DfOp::Modulo, re),
            BinOp::And | BinOp::Or | BinOp::Str(_) => {
                return fail(span, "internal: operator handled above");
            }
        };
        Ok(Val::plain(e))
    }

    /// A value as text for string operators (`tostring` semantics for others).
    pub(crate) fn text_arg(&self, v: Val, rel: &Rel) -> PResult<Expr> {
        if v.dynamic {
            return Ok(self.udf("tostring_dynamic")?.call(vec![v.expr]));
        }
        self.to_string_expr(v.expr, rel)
    }

    fn list(
        &mut self,
        op: ListOp,
        expr: &Ast,
        list: &[Ast],
        rel: &Rel,
        span: crate::span::Span,
    ) -> PResult<Val> {
        let x = self.scalar(expr, rel)?;
        // Candidates: literals, let-bound dynamic arrays (expanded), or one subquery.
        let mut items: Vec<Val> = Vec::new();
        for a in list {
            match a {
                Ast::Tabular(t) => {
                    let sub = self.tabular(t, None)?;
                    self.subquery_values(&sub, t.span, &mut items)?;
                }
                Ast::Ident(id)
                    if !rel.has(&id.name)
                        && matches!(self.lookup(&id.name), Some(Binding::Tabular(_))) =>
                {
                    let sub = self.table(id)?;
                    self.subquery_values(&sub, id.span, &mut items)?;
                }
                other => {
                    let v = self.scalar(other, rel)?;
                    items.extend(self.expand_array(v));
                }
            }
        }
        let fname = match op {
            ListOp::In | ListOp::NotIn => None,
            ListOp::InCi | ListOp::NotInCi => Some("in_ci"),
            ListOp::HasAny => Some("has_any"),
            ListOp::HasAll => Some("has_all"),
        };
        let negated = matches!(op, ListOp::NotIn | ListOp::NotInCi);
        let e = match fname {
            None => {
                let schema = rel.plan.schema().clone();
                let xt = x.expr.get_type(&schema)?;
                let x = if x.dynamic { self.undynamic(x, &DataType::Utf8)? } else { x };
                let mut values = Vec::new();
                for v in items {
                    let v = if v.dynamic { self.undynamic(v, &xt)? } else { v };
                    // Like `==`: numbers listed against a string column compare as text, and
                    // numeric strings against a number column as numbers (no failing casts).
                    let e = match &v.expr {
                        Expr::Literal(n, _)
                            if is_text(&xt)
                                && (n.data_type().is_integer() || n.data_type().is_floating()) =>
                        {
                            lit(n.to_string())
                        }
                        Expr::Literal(ScalarValue::Utf8(Some(t)), _)
                            if xt.is_integer() || xt.is_floating() =>
                        {
                            match t.trim().parse::<f64>() {
                                Ok(f) if f.fract() == 0.0 && xt.is_integer() => lit(f as i64),
                                Ok(f) => lit(f),
                                Err(_) => v.expr.clone(),
                            }
                        }
                        _ => v.expr,
                    };
                    values.push(e);
                }
                if values.is_empty() {
                    return Ok(Val::plain(lit(negated)));
                }
                x.expr.in_list(values, negated)
            }
            Some("in_ci")
                if !items.is_empty()
                    && items.iter().all(|v| {
                        !v.dynamic
                            && matches!(&v.expr, Expr::Literal(ScalarValue::Utf8(Some(_)), _))
                    }) =>
            {
                // `x in~ ("a", "b")`: lower(x) in the folded literals, vectorized.
                let xe = self.text_arg(x, rel)?;
                let folded: Vec<Expr> = items
                    .iter()
                    .filter_map(|v| match &v.expr {
                        Expr::Literal(ScalarValue::Utf8(Some(t)), _) => Some(lit(t.to_lowercase())),
                        _ => None,
                    })
                    .collect();
                datafusion::functions::string::expr_fn::lower(xe).in_list(folded, negated)
            }
            Some(f) => {
                let xe = self.text_arg(x, rel)?;
                let mut args = vec![xe];
                for v in items {
                    args.push(if v.dynamic { v.expr } else { self.to_string_expr(v.expr, rel)? });
                }
                if args.len() == 1 {
                    return Ok(Val::plain(lit(negated || f == "has_all")));
                }
                let call = self.udf(f)?.call(args);
                if negated { call.not() } else { call }
            }
        };
        let _ = span;
        Ok(Val::plain(e))
    }

    /// The first column's values of a subquery, as list items.
    fn subquery_values(
        &mut self,
        sub: &Rel,
        span: crate::span::Span,
        items: &mut Vec<Val>,
    ) -> PResult<()> {
        let first = match sub.names().first() {
            Some(n) => n.clone(),
            None => return fail(span, "the subquery returns no column"),
        };
        let plan = datafusion::logical_expr::LogicalPlanBuilder::from(sub.plan.clone())
            .project(vec![col(&first)])?
            .build()?;
        if let Prefetched::List(values) = self.need(RequestKind::List, plan)? {
            let dynamic = sub.is_dynamic(&first);
            for v in values {
                if dynamic {
                    // A dynamic column (e.g. make_set's array) contributes its elements.
                    items.extend(self.expand_array(Val { expr: lit(v), dynamic: true }));
                } else {
                    items.push(Val::plain(lit(v)));
                }
            }
        }
        Ok(())
    }

    /// A dynamic array literal becomes its elements; anything else stays one item.
    fn expand_array(&self, v: Val) -> Vec<Val> {
        if v.dynamic
            && let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = &v.expr
            && let Ok(serde_json::Value::Array(xs)) =
                serde_json::from_str::<serde_json::Value>(text)
        {
            return xs
                .into_iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => Val::plain(lit(s)),
                    serde_json::Value::Bool(b) => Val::plain(lit(b)),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => Val::plain(lit(i)),
                        None => Val::plain(lit(n.as_f64().unwrap_or(f64::NAN))),
                    },
                    serde_json::Value::Null => Val::plain(lit(ScalarValue::Utf8(None))),
                    other => Val { expr: lit(other.to_string()), dynamic: true },
                })
                .collect();
        }
        vec![v]
    }

    /// Calls a user-defined scalar function.
    fn scalar_function(
        &mut self,
        f: &crate::ast::FunctionDef,
        args: &[Ast],
        rel: &Rel,
        span: crate::span::Span,
    ) -> PResult<Val> {
        if self.depth >= 64 {
            return fail(span, "user functions nest too deeply (recursion?)");
        }
        let mut scope = std::collections::HashMap::new();
        let mut positional = args.iter().filter(|a| !matches!(a, Ast::NamedArg { .. }));
        for p in &f.params {
            let named = args.iter().find_map(|a| match a {
                Ast::NamedArg { name, value, .. } if name.name == p.name.name => {
                    Some(value.as_ref())
                }
                _ => None,
            });
            let arg = named.or_else(|| positional.next());
            let v = match (arg, &p.default) {
                (Some(a), _) => match &p.ty {
                    crate::ast::ParamType::Tabular { .. } => {
                        let r = match a {
                            Ast::Tabular(t) => self.tabular(t, None)?,
                            Ast::Ident(id) => self.table(id)?,
                            _ => return fail(a.span(), "expected a table argument"),
                        };
                        scope.insert(p.name.name.clone(), Binding::Tabular(r));
                        continue;
                    }
                    _ => self.scalar(a, rel)?,
                },
                (None, Some(d)) => self.scalar(d, rel)?,
                (None, None) => return fail(span, format!("missing argument '{}'", p.name.name)),
            };
            scope.insert(p.name.name.clone(), Binding::Value(v));
        }
        self.depth += 1;
        self.scopes.push(scope);
        let mut result = None;
        let mut err = None;
        for s in &f.body {
            match s {
                crate::ast::Statement::Let { name, value, .. } => {
                    let b = match value {
                        crate::ast::LetValue::Expr(e) => self.scalar(e, rel).map(Binding::Value),
                        crate::ast::LetValue::Function(fd) => {
                            Ok(Binding::Function(std::rc::Rc::new(fd.clone())))
                        }
                        crate::ast::LetValue::Tabular(t) => {
                            self.tabular(t, None).map(Binding::Tabular)
                        }
                    };
                    match b {
                        Ok(b) => {
                            if let Some(sc) = self.scopes.last_mut() {
                                sc.insert(name.name.clone(), b);
                            }
                        }
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                crate::ast::Statement::Query(t) if t.ops.is_empty() => {
                    let r = match &t.source {
                        crate::ast::Source::Expr(e) => self.scalar(e, rel),
                        crate::ast::Source::Name(id) => self.scalar(&Ast::Ident(id.clone()), rel),
                        crate::ast::Source::Call(c) => self.scalar(&Ast::Call(c.clone()), rel),
                        _ => fail(t.span, "the function does not return a scalar"),
                    };
                    match r {
                        Ok(v) => result = Some(v),
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        self.scopes.pop();
        self.depth -= 1;
        if let Some(e) = err {
            return Err(e);
        }
        result.ok_or_else(|| plan_err(span, "the function does not return a scalar"))
    }

    fn call(&mut self, c: &Call, rel: &Rel) -> PResult<Val> {
        if let Some(v) = self.substitutions.get(&span_key(c.span)) {
            return Ok(v.clone());
        }
        let name = c.name.name.as_str();
        if let Some(Binding::Function(f)) = self.lookup(name).cloned() {
            return self.scalar_function(&f, &c.args, rel, c.span);
        }
        // Deprecated spellings still common in published queries.
        let renamed = match name {
            "parsejson" => Some("parse_json"),
            "arraylength" => Some("array_length"),
            "base64_decodestring" => Some("base64_decode_tostring"),
            "base64_encodestring" => Some("base64_encode_tostring"),
            "columnifexists" => Some("column_ifexists"),
            "replace" => Some("replace_regex"),
            "treepath" => Some("bag_keys"),
            "todynamic" => Some("parse_json"),
            _ => None,
        };
        if let Some(new_name) = renamed {
            let mut c2 = c.clone();
            c2.name.name = new_name.to_string();
            if new_name == "replace_regex" && c.args.len() == 3 {
                // replace(regex, rewrite, text) → replace_regex(text, regex, rewrite)
                c2.args = vec![c.args[2].clone(), c.args[0].clone(), c.args[1].clone()];
            }
            return self.call(&c2, rel);
        }
        if super::names::is_aggregate(name) {
            return fail(
                c.span,
                format!(
                    "aggregation '{name}()' is only allowed in summarize, make-series or top-nested"
                ),
            );
        }
        let args = &c.args;
        let arg = |i: usize| -> PResult<&Ast> {
            args.get(i).ok_or_else(|| {
                plan_err(c.span, format!("{name}() needs at least {} argument(s)", i + 1))
            })
        };
        match name {
            "toscalar" => {
                let a = arg(0)?;
                let sub = match a {
                    Ast::Tabular(t) => self.tabular(t, None)?,
                    Ast::Ident(id) => self.table(id)?,
                    Ast::Call(inner) if self.call_is_tabular(inner) => {
                        self.tabular_call(inner, None)?
                    }
                    other => return self.scalar(other, rel),
                };
                let first = match sub.names().first() {
                    Some(n) => n.clone(),
                    None => return fail(c.span, "toscalar's query returns no column"),
                };
                let dynamic = sub.is_dynamic(&first);
                let plan = datafusion::logical_expr::LogicalPlanBuilder::from(sub.plan.clone())
                    .project(vec![col(&first)])?
                    .limit(0, Some(1))?
                    .build()?;
                match self.need(RequestKind::Scalar, plan)? {
                    Prefetched::Scalar(v) => Ok(Val { expr: lit(v), dynamic }),
                    _ => fail(c.span, "toscalar returned no value"),
                }
            }
            "iff" | "iif" => {
                let cond = self.predicate(arg(0)?, rel)?;
                let a = self.scalar(arg(1)?, rel)?;
                let b = self.scalar(arg(2)?, rel)?;
                let dynamic = a.dynamic && b.dynamic;
                let (a, b) = self.common_branches(a, b, rel)?;
                Ok(Val { expr: when(cond, a).otherwise(b)?, dynamic })
            }
            "case" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return fail(c.span, "case() takes predicate/value pairs and an else value");
                }
                let mut whens = Vec::new();
                let mut values = Vec::new();
                for pair in args[..args.len() - 1].chunks(2) {
                    whens.push(self.predicate(&pair[0], rel)?);
                    values.push(self.scalar(&pair[1], rel)?);
                }
                let otherwise = self.scalar(&args[args.len() - 1], rel)?;
                let dynamic = otherwise.dynamic && values.iter().all(|v| v.dynamic);
                let mut iter = whens.into_iter().zip(values);
                let Some((w0, v0)) = iter.next() else {
                    return fail(c.span, "case() needs a predicate");
                };
                let mut builder = when(w0, v0.expr);
                for (w, v) in iter {
                    builder = builder.when(w, v.expr);
                }
                Ok(Val { expr: builder.otherwise(otherwise.expr)?, dynamic })
            }
            "isnull" | "isnotnull" => {
                let v = self.scalar(arg(0)?, rel)?;
                Ok(Val::plain(if name == "isnull" {
                    v.expr.is_null()
                } else {
                    v.expr.is_not_null()
                }))
            }
            "not" => {
                let p = self.predicate(arg(0)?, rel)?;
                Ok(Val::plain(p.not()))
            }
            "now" => {
                let base = ts_lit(self.now_ns());
                match args.first() {
                    Some(a) => {
                        let off = self.scalar(a, rel)?;
                        Ok(Val::plain(binary_expr(base, DfOp::Plus, off.expr)))
                    }
                    None => Ok(Val::plain(base)),
                }
            }
            "ago" => {
                let off = self.scalar(arg(0)?, rel)?;
                Ok(Val::plain(binary_expr(ts_lit(self.now_ns()), DfOp::Minus, off.expr)))
            }
            "tostring" => {
                let v = self.scalar(arg(0)?, rel)?;
                if v.dynamic {
                    Ok(Val::plain(self.udf("tostring_dynamic")?.call(vec![v.expr])))
                } else {
                    Ok(Val::plain(self.udf("tostring")?.call(vec![v.expr])))
                }
            }
            "toint" | "tolong" | "todouble" | "toreal" | "tobool" | "toboolean" | "todatetime"
            | "totimespan" | "toguid" | "todecimal" => {
                let v = self.scalar(arg(0)?, rel)?;
                let input = if v.dynamic {
                    self.udf("tostring_dynamic")?.call(vec![v.expr])
                } else {
                    v.expr
                };
                let f = match name {
                    "toreal" | "todecimal" => "todouble",
                    "toboolean" => "tobool",
                    n => n,
                };
                Ok(Val::plain(self.udf(f)?.call(vec![input])))
            }
            "parse_json" | "todynamic" => {
                let v = self.scalar(arg(0)?, rel)?;
                if v.dynamic {
                    return Ok(v);
                }
                Ok(Val { expr: self.udf("parse_json")?.call(vec![v.expr]), dynamic: true })
            }
            "dynamic" => {
                let v = self.scalar(arg(0)?, rel)?;
                Ok(Val { expr: v.expr, dynamic: true })
            }
            "column_ifexists" => {
                let Ast::Literal { value: Literal::String(n), .. } = arg(0)? else {
                    return fail(c.span, "column_ifexists() needs a column name string");
                };
                if rel.has(n) {
                    Ok(Val { expr: col(n), dynamic: rel.is_dynamic(n) })
                } else {
                    self.scalar(arg(1)?, rel)
                }
            }
            "pack_all" => {
                let mut a = Vec::new();
                for n in rel.names() {
                    a.push(lit(n.clone()));
                    a.push(col(&n));
                }
                Ok(Val { expr: self.udf("pack")?.call(a), dynamic: true })
            }
            "min_of" | "max_of" => {
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.scalar(a, rel)?.expr);
                }
                let f = if name == "min_of" {
                    datafusion::functions::core::expr_fn::least(vals)
                } else {
                    datafusion::functions::core::expr_fn::greatest(vals)
                };
                Ok(Val::plain(f))
            }
            "tohex" => {
                let v = self.scalar(arg(0)?, rel)?;
                let v = self.undynamic(v, &DataType::Int64)?;
                let e = v.expr.cast_to(&DataType::Int64, rel.plan.schema())?;
                Ok(Val::plain(datafusion::functions::string::expr_fn::to_hex(e)))
            }
            "ingestion_time" => {
                if rel.has("TimeGenerated") {
                    Ok(Val::plain(col("TimeGenerated")))
                } else {
                    Ok(Val::plain(lit(ScalarValue::TimestampNanosecond(None, Some("UTC".into())))))
                }
            }
            "gettype" => {
                let v = self.scalar(arg(0)?, rel)?;
                if v.dynamic {
                    return Ok(Val::plain(self.udf("gettype_dynamic")?.call(vec![v.expr])));
                }
                let t = v.expr.get_type(rel.plan.schema())?;
                let name = match super::values::kusto_type(&t, false) {
                    KustoType::DateTime => "datetime",
                    KustoType::TimeSpan => "timespan",
                    KustoType::Int => "int",
                    KustoType::Long => "long",
                    KustoType::Real => "real",
                    KustoType::Bool => "bool",
                    KustoType::Guid => "guid",
                    KustoType::Decimal => "decimal",
                    _ => "string",
                };
                Ok(Val::plain(lit(name)))
            }
            "strcmp" => {
                let a = self.scalar(arg(0)?, rel)?;
                let b = self.scalar(arg(1)?, rel)?;
                let (a, b) = (self.text_arg(a, rel)?, self.text_arg(b, rel)?);
                let e = when(a.clone().lt(b.clone()), lit(-1i64))
                    .when(a.gt(b), lit(1i64))
                    .otherwise(lit(0i64))?;
                Ok(Val::plain(e))
            }
            "make_datetime" => {
                // make_datetime(year, month, day[, hour, minute, second]) as ISO text → datetime.
                let mut parts = Vec::new();
                for a in args {
                    let v = self.scalar(a, rel)?;
                    parts.push(self.undynamic(v, &DataType::Float64)?.expr);
                }
                if parts.len() < 3 {
                    return fail(c.span, "make_datetime() needs year, month and day");
                }
                let schema = rel.plan.schema().clone();
                let int = |e: &Expr| -> PResult<Expr> {
                    Ok(e.clone().cast_to(&DataType::Int64, &schema)?)
                };
                let pad = |e: Expr, n: i64| {
                    datafusion::functions::string::expr_fn::concat(vec![
                        datafusion::functions::unicode::expr_fn::lpad(vec![
                            e.cast_to(&DataType::Utf8, &schema).unwrap_or(lit("")),
                            lit(n),
                            lit("0"),
                        ]),
                    ])
                };
                let mut text = vec![
                    pad(int(&parts[0])?, 4),
                    lit("-"),
                    pad(int(&parts[1])?, 2),
                    lit("-"),
                    pad(int(&parts[2])?, 2),
                ];
                text.push(lit("T"));
                text.push(pad(parts.get(3).map(int).transpose()?.unwrap_or(lit(0i64)), 2));
                text.push(lit(":"));
                text.push(pad(parts.get(4).map(int).transpose()?.unwrap_or(lit(0i64)), 2));
                text.push(lit(":00Z"));
                let base = self.convert_text(
                    datafusion::functions::string::expr_fn::concat(text),
                    KustoType::DateTime,
                )?;
                let e = match parts.get(5) {
                    Some(sec) => {
                        let ns = binary_expr(sec.clone(), DfOp::Multiply, lit(1e9))
                            .cast_to(&DataType::Int64, &schema)?
                            .cast_to(&DataType::Duration(TimeUnit::Nanosecond), &schema)?;
                        binary_expr(base, DfOp::Plus, ns)
                    }
                    None => base,
                };
                Ok(Val::plain(e))
            }
            "make_timespan" => {
                // make_timespan(hours, minutes[, seconds]) or (days, hours, minutes, seconds).
                let mut parts = Vec::new();
                for a in args {
                    let v = self.scalar(a, rel)?;
                    parts.push(self.undynamic(v, &DataType::Float64)?.expr);
                }
                let units: &[f64] = match parts.len() {
                    2 => &[3600e9, 60e9],
                    3 => &[3600e9, 60e9, 1e9],
                    4 => &[86400e9, 3600e9, 60e9, 1e9],
                    _ => return fail(c.span, "make_timespan() takes 2 to 4 arguments"),
                };
                let schema = rel.plan.schema().clone();
                let mut total: Option<Expr> = None;
                for (p, u) in parts.into_iter().zip(units) {
                    let term = binary_expr(
                        p.cast_to(&DataType::Float64, &schema)?,
                        DfOp::Multiply,
                        lit(*u),
                    );
                    total = Some(match total {
                        Some(t) => binary_expr(t, DfOp::Plus, term),
                        None => term,
                    });
                }
                let Some(total) = total else {
                    return fail(c.span, "make_timespan() needs arguments");
                };
                let e = total
                    .cast_to(&DataType::Int64, &schema)?
                    .cast_to(&DataType::Duration(TimeUnit::Nanosecond), &schema)?;
                Ok(Val::plain(e))
            }
            "extractjson" | "extract_json" => {
                // extract_json(path, json[, typeof(T)]): a JSONPath subset ($.a.b[0]['c']).
                let Ast::Literal { value: Literal::String(path), .. } = arg(0)? else {
                    return fail(c.span, "extract_json() needs a constant JSONPath");
                };
                let Some(keys) = json_path(path) else {
                    return fail(
                        arg(0)?.span(),
                        format!("unsupported JSONPath '{path}' (use $.a.b[0] forms)"),
                    );
                };
                let v = self.scalar(arg(1)?, rel)?;
                let base =
                    if v.dynamic { v.expr } else { self.udf("parse_json")?.call(vec![v.expr]) };
                let mut get_args = vec![base];
                get_args.extend(keys);
                let got = self.udf("get")?.call(get_args);
                let text = self.udf("tostring_dynamic")?.call(vec![got]);
                let ty = match args.get(2) {
                    Some(Ast::Call(t)) if t.name.name == "typeof" => match t.args.first() {
                        Some(Ast::Ident(i)) => KustoType::parse(&i.name),
                        _ => None,
                    },
                    _ => None,
                };
                match ty {
                    Some(t) if t != KustoType::String => Ok(Val {
                        expr: self.convert_text(text, t)?,
                        dynamic: t == KustoType::Dynamic,
                    }),
                    _ => Ok(Val::plain(text)),
                }
            }
            "extract" if args.len() == 4 => {
                // extract(regex, group, text, typeof(T)): the match converted to T.
                let ty = match &args[3] {
                    Ast::Call(t) if t.name.name == "typeof" => match t.args.first() {
                        Some(Ast::Ident(i)) => KustoType::parse(&i.name),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(ty) = ty else { return fail(args[3].span(), "expected typeof(T)") };
                let mut c3 = c.clone();
                c3.args.truncate(3);
                let v = self.generic_call(&c3, rel)?;
                Ok(Val { expr: self.convert_text(v.expr, ty)?, dynamic: ty == KustoType::Dynamic })
            }
            _ => self.generic_call(c, rel),
        }
    }

    /// Makes two branch values agree on a type (dynamic → the other's type).
    fn common_branches(&self, a: Val, b: Val, rel: &Rel) -> PResult<(Expr, Expr)> {
        let schema = rel.plan.schema();
        Ok(match (a.dynamic, b.dynamic) {
            (true, false) => {
                let t = b.expr.get_type(schema)?;
                let bt = if t == DataType::Null { DataType::Utf8 } else { t };
                (self.undynamic(a, &bt)?.expr, b.expr)
            }
            (false, true) => {
                let t = a.expr.get_type(schema)?;
                let at = if t == DataType::Null { DataType::Utf8 } else { t };
                (a.expr, self.undynamic(b, &at)?.expr)
            }
            _ => (a.expr, b.expr),
        })
    }

    /// A KQL library function (`kql_<name>`), or a DataFusion math function of the same meaning.
    fn generic_call(&mut self, c: &Call, rel: &Rel) -> PResult<Val> {
        let name = c.name.name.as_str();
        let mut vals = Vec::new();
        for a in &c.args {
            vals.push(self.scalar(a, rel)?);
        }
        if matches!(name, "bin" | "floor")
            && vals.len() == 2
            && matches!(vals[0].expr.get_type(rel.plan.schema())?, DataType::Timestamp(_, _))
            && let Expr::Literal(ScalarValue::DurationNanosecond(Some(step)), _) = &vals[1].expr
            && *step > 0
        {
            // bin(datetime, timespan): DataFusion's vectorized date_bin (origin 1970-01-01,
            // flooring), the same values as Kusto's bin.
            let stride = lit(ScalarValue::new_interval_mdn(0, 0, *step));
            let origin = ts_lit(0);
            let e = datafusion::functions::datetime::expr_fn::date_bin(
                stride,
                vals[0].expr.clone(),
                origin,
            );
            return Ok(Val::plain(e));
        }
        if let Some(udf) = self.fns.scalar(name) {
            let info = bulwark_kql_functions::scalar_info(name);
            let dynamic_args = DYNAMIC_ARGS.contains(&name);
            let mut args = Vec::new();
            for v in vals {
                args.push(if v.dynamic && !dynamic_args {
                    self.udf("tostring_dynamic")?.call(vec![v.expr])
                } else {
                    v.expr
                });
            }
            let dynamic = info.is_some_and(|i| {
                i.returns == bulwark_kql_functions::Returns::Type(KustoType::Dynamic)
            });
            return Ok(Val { expr: udf.call(args), dynamic });
        }
        use datafusion::functions::math::expr_fn as m;
        let schema = rel.plan.schema().clone();
        if name == "abs"
            && let Some(v) = vals.first()
            && matches!(v.expr.get_type(&schema)?, DataType::Duration(_))
        {
            let ns = v.expr.clone().cast_to(&DataType::Int64, &schema)?;
            let e = m::abs(ns).cast_to(&DataType::Duration(TimeUnit::Nanosecond), &schema)?;
            return Ok(Val::plain(e));
        }
        let mut args: Vec<Expr> = Vec::new();
        for v in vals {
            args.push(self.undynamic(v, &DataType::Float64)?.expr);
        }
        let one = |args: &[Expr]| -> PResult<Expr> {
            args.first()
                .cloned()
                .ok_or_else(|| plan_err(c.span, format!("{name}() needs an argument")))
        };
        let e = match name {
            "abs" => m::abs(one(&args)?),
            "ceiling" => m::ceil(one(&args)?),
            "sqrt" => m::sqrt(one(&args)?),
            "exp" => m::exp(one(&args)?),
            "exp2" => m::power(lit(2.0), one(&args)?),
            "exp10" => m::power(lit(10.0), one(&args)?),
            "log" => m::ln(one(&args)?),
            "log10" => m::log10(one(&args)?),
            "log2" => m::log2(one(&args)?),
            "pow" => m::power(one(&args)?, args.get(1).cloned().unwrap_or(lit(1.0))),
            "sign" => m::signum(one(&args)?),
            "sin" => m::sin(one(&args)?),
            "cos" => m::cos(one(&args)?),
            "tan" => m::tan(one(&args)?),
            "asin" => m::asin(one(&args)?),
            "acos" => m::acos(one(&args)?),
            "atan" => m::atan(one(&args)?),
            "atan2" => m::atan2(one(&args)?, args.get(1).cloned().unwrap_or(lit(1.0))),
            "pi" => m::pi(),
            "isnan" => m::isnan(one(&args)?),
            "round" => {
                let x = one(&args)?;
                let digits = args.get(1).cloned().unwrap_or(lit(0i64));
                m::round(vec![x, digits])
            }
            "isinf" => {
                let x = one(&args)?;
                x.clone().eq(lit(f64::INFINITY)).or(x.eq(lit(f64::NEG_INFINITY)))
            }
            "isfinite" => {
                let x = one(&args)?;
                let inf = x.clone().eq(lit(f64::INFINITY)).or(x.clone().eq(lit(f64::NEG_INFINITY)));
                inf.not().and(m::isnan(x).not())
            }
            "rand" => match args.first() {
                Some(n) => m::floor(binary_expr(m::random(), DfOp::Multiply, n.clone())),
                None => m::random(),
            },
            "gettype" => return fail(c.span, "gettype() is not supported"),
            _ => {
                let known = crate::catalog::lookup(name).is_some();
                return fail(
                    c.name.span,
                    if known {
                        format!(
                            "function '{name}' is valid KQL but not supported by Bulwark's engine yet"
                        )
                    } else {
                        format!("unknown function '{name}'")
                    },
                );
            }
        };
        Ok(Val::plain(e))
    }

    /// An aggregation call in `summarize`.
    pub(crate) fn aggregate_call(&mut self, c: &Call, rel: &Rel) -> PResult<Val> {
        let name = match c.name.name.as_str() {
            "makeset" => "make_set",
            "makelist" => "make_list",
            "makebag" => "make_bag",
            "argmax" => "arg_max",
            "argmin" => "arg_min",
            other => other,
        };
        let mut vals = Vec::new();
        for a in &c.args {
            if matches!(a, Ast::Star { .. }) {
                continue;
            }
            vals.push(self.scalar(a, rel)?);
        }
        let schema = rel.plan.schema().clone();
        let numeric = |this: &Self, v: Val| -> PResult<Expr> {
            Ok(this.undynamic(v, &DataType::Float64)?.expr)
        };
        let first = |vals: &[Val]| -> PResult<Val> {
            vals.first()
                .cloned()
                .ok_or_else(|| plan_err(c.span, format!("{name}() needs an argument")))
        };
        let pred = |this: &mut Self, i: usize| -> PResult<Expr> {
            match c.args.get(i) {
                Some(a) => this.predicate(a, rel),
                None => Err(plan_err(c.span, format!("{name}() needs a predicate"))),
            }
        };
        let e = match name {
            "count" => match vals.first() {
                Some(v) => agg::count(v.expr.clone()),
                None => agg::count(lit(1i64)),
            },
            "countif" | "count_if" => self.udaf("countif")?.call(vec![pred(self, 0)?]),
            "sum" => {
                let v = first(&vals)?;
                let e = if v.dynamic { numeric(self, v)? } else { v.expr };
                agg::sum(e)
            }
            "avg" => {
                let v = first(&vals)?;
                agg::avg(numeric(self, v)?)
            }
            "min" | "max" => {
                let v = first(&vals)?;
                let e = if v.dynamic { numeric(self, v)? } else { v.expr };
                if name == "min" { agg::min(e) } else { agg::max(e) }
            }
            "dcount" | "count_distinct" => {
                let v = first(&vals)?;
                self.udaf("dcount")?.call(vec![v.expr])
            }
            "dcountif" | "count_distinctif" => {
                let v = first(&vals)?;
                let p = pred(self, 1)?;
                self.udaf("dcountif")?.call(vec![v.expr, p])
            }
            "sumif" | "avgif" | "minif" | "maxif" => {
                let v = first(&vals)?;
                let p = pred(self, 1)?;
                let f = match name {
                    "minif" => "min_if",
                    "maxif" => "max_if",
                    n => n,
                };
                let e = if v.dynamic { numeric(self, v)? } else { v.expr };
                self.udaf(f)?.call(vec![e, p])
            }
            "make_list" | "make_set" | "make_bag" | "make_list_with_nulls" => {
                let f = if name == "make_list_with_nulls" { "make_list" } else { name };
                let args: Vec<Expr> = vals.into_iter().map(|v| v.expr).collect();
                return Ok(Val { expr: self.udaf(f)?.call(args), dynamic: true });
            }
            "make_list_if" | "make_set_if" | "make_bag_if" => {
                let v = first(&vals)?;
                let p = pred(self, 1)?;
                let mut args = vec![v.expr, p];
                if let Some(m) = vals.get(2) {
                    args.push(m.expr.clone());
                }
                return Ok(Val { expr: self.udaf(name)?.call(args), dynamic: true });
            }
            "percentile" => {
                let v = first(&vals)?;
                let p = vals.get(1).map(|p| p.expr.clone()).unwrap_or(lit(50.0));
                let e = if v.dynamic { numeric(self, v)? } else { v.expr };
                self.udaf("percentile")?.call(vec![e, p])
            }
            "percentiles" => {
                let args: Vec<Expr> = vals.into_iter().map(|v| v.expr).collect();
                return Ok(Val { expr: self.udaf("percentiles")?.call(args), dynamic: true });
            }
            "stdev" | "stdevp" | "variance" | "variancep" => {
                let v = first(&vals)?;
                self.udaf(name)?.call(vec![numeric(self, v)?])
            }
            "take_any" | "any" => {
                let v = first(&vals)?;
                let dynamic = v.dynamic;
                return Ok(Val { expr: self.udaf("take_any")?.call(vec![v.expr]), dynamic });
            }
            "arg_max" | "arg_min" => {
                return fail(
                    c.span,
                    format!(
                        "{name}() must be a whole summarize item (e.g. `summarize {name}(Timestamp, *) by DeviceId`)"
                    ),
                );
            }
            other => {
                return fail(
                    c.name.span,
                    format!("aggregation '{other}()' is not supported by Bulwark's engine yet"),
                );
            }
        };
        let _ = schema;
        Ok(Val::plain(e))
    }

    /// `arg_max(X, *)`, `arg_max(X, a, b)`, `take_any(a, b)`, `take_any(*)`, `percentiles(x, p…)`:
    /// items that produce several columns. Returns the aggregate expressions and, per output
    /// column, its name and the expression over the aggregated row.
    #[allow(clippy::type_complexity)]
    pub(crate) fn multi_aggregate(
        &mut self,
        c: &Call,
        rel: &Rel,
        group_names: &[String],
        item: &crate::ast::NamedExpr,
    ) -> PResult<Option<(Vec<Expr>, Vec<(String, Expr, bool)>)>> {
        let name = c.name.name.as_str();
        let is_arg = matches!(name, "arg_max" | "arg_min");
        let is_any = matches!(name, "take_any" | "any")
            && (c.args.len() > 1 || matches!(c.args.first(), Some(Ast::Star { .. })));
        if name == "percentiles" {
            let Some(x) = c.args.first() else {
                return fail(c.span, "percentiles() needs a column");
            };
            let base = crate::check::default_name(x).unwrap_or_default();
            let v = self.scalar(x, rel)?;
            let v = if v.dynamic { self.undynamic(v, &DataType::Float64)? } else { v };
            let mut aggs = Vec::new();
            let mut outs = Vec::new();
            for (i, p) in c.args.iter().skip(1).enumerate() {
                let pv = self.scalar(p, rel)?;
                let hidden = self.hidden_name("pct");
                aggs.push(
                    self.udaf("percentile")?
                        .call(vec![v.expr.clone(), pv.expr])
                        .alias(hidden.clone()),
                );
                let label = crate::format::format_expr(p).replace(['.', '-'], "_");
                let out = match item.names.get(i) {
                    Some(n) => n.name.clone(),
                    None => format!("percentile_{base}_{label}"),
                };
                outs.push((out, col(&hidden), false));
            }
            return Ok(Some((aggs, outs)));
        }
        if !is_arg && !is_any {
            return Ok(None);
        }
        // Columns selected: `*` is every input column not otherwise in the output.
        let mut selected: Vec<(String, Val)> = Vec::new();
        let mut by: Option<(String, Val)> = None;
        for (i, a) in c.args.iter().enumerate() {
            if is_arg && i == 0 {
                let n = match item.names.first() {
                    Some(n) => n.name.clone(),
                    None => crate::check::default_name(a).unwrap_or_else(|| format!("{name}_")),
                };
                by = Some((n, self.scalar(a, rel)?));
                continue;
            }
            match a {
                Ast::Star { .. } => {
                    for n in rel.names() {
                        let taken = selected.iter().any(|(x, _)| *x == n)
                            || by.as_ref().is_some_and(|(x, _)| *x == n)
                            || group_names.contains(&n)
                            || n.starts_with("__kql_");
                        if !taken {
                            let v = Val { expr: col(&n), dynamic: rel.is_dynamic(&n) };
                            selected.push((n, v));
                        }
                    }
                }
                other => {
                    let n = match other {
                        Ast::NamedArg { name, .. } => name.name.clone(),
                        _ => crate::check::default_name(other)
                            .unwrap_or_else(|| format!("Column{}", i + 1)),
                    };
                    selected.push((n, self.scalar(other, rel)?));
                }
            }
        }
        let hidden = self.hidden_name("arg");
        let (f, by_val) = if is_arg {
            let Some((_, v)) = by.clone() else {
                return fail(c.span, format!("{name}() needs a column"));
            };
            (name, v.expr)
        } else {
            // take_any of several columns: any one row, the same row for all of them.
            ("arg_max", lit(1i64))
        };
        let mut args = vec![by_val];
        args.extend(selected.iter().map(|(_, v)| v.expr.clone()));
        let agg_expr = self.udaf(f)?.call(args).alias(hidden.clone());
        let mut outs = Vec::new();
        if let Some((n, v)) = by {
            outs.push((
                n,
                datafusion::functions::core::expr_fn::get_field(col(&hidden), "c0"),
                v.dynamic,
            ));
        }
        for (i, (n, v)) in selected.into_iter().enumerate() {
            let field = format!("c{}", i + 1);
            outs.push((
                n,
                datafusion::functions::core::expr_fn::get_field(col(&hidden), field.as_str()),
                v.dynamic,
            ));
        }
        Ok(Some((vec![agg_expr], outs)))
    }
}

/// A datatable value converted to its column's type.
pub(crate) fn convert_scalar(
    value: ScalarValue,
    dt: &DataType,
    kt: KustoType,
) -> Result<ScalarValue, String> {
    if value.data_type() == *dt {
        return Ok(value);
    }
    if value.is_null() {
        return ScalarValue::try_from(dt).map_err(|e| e.to_string());
    }
    if kt == KustoType::Dynamic {
        // A scalar in a dynamic column is stored as its JSON text.
        let json = match &value {
            ScalarValue::Utf8(Some(s)) => serde_json::Value::String(s.clone()).to_string(),
            ScalarValue::Boolean(Some(b)) => b.to_string(),
            ScalarValue::Int64(Some(v)) => v.to_string(),
            ScalarValue::Int32(Some(v)) => v.to_string(),
            ScalarValue::Float64(Some(v)) => {
                serde_json::Number::from_f64(*v).map_or("null".into(), |n| n.to_string())
            }
            other => serde_json::Value::String(other.to_string()).to_string(),
        };
        return Ok(ScalarValue::Utf8(Some(json)));
    }
    if kt == KustoType::DateTime
        && let ScalarValue::Utf8(Some(s)) = &value
    {
        return crate::time::datetime_nanos(s)
            .map(|ns| ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into())))
            .ok_or_else(|| format!("'{s}' is not a datetime"));
    }
    value
        .cast_to(dt)
        .map_err(|e| format!("value {value} does not fit the column type {}: {e}", kt.name()))
}

/// The steps of a JSONPath like `$.a.b[0]['c']` as `get` keys; `None` for other forms.
fn json_path(path: &str) -> Option<Vec<Expr>> {
    let rest = path.trim().strip_prefix('$')?;
    let mut keys = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                if name.is_empty() || name == "*" {
                    return None;
                }
                keys.push(lit(name));
            }
            '[' => {
                let mut inner = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    inner.push(n);
                }
                let inner = inner.trim();
                if let Ok(i) = inner.parse::<i64>() {
                    keys.push(lit(i));
                } else {
                    let name = inner.trim_matches(|q| q == '\'' || q == '"');
                    if name.is_empty() || name == "*" {
                        return None;
                    }
                    keys.push(lit(name.to_string()));
                }
            }
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    Some(keys)
}
