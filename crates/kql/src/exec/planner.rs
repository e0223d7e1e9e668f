//! The planner: statements and tabular operators → DataFusion [`LogicalPlan`]s.
//!
//! A [`Rel`] is a plan plus what Arrow cannot say about it: which Utf8 columns hold `dynamic`
//! JSON, and whether its row order means something (after `sort`, `top`, `serialize`).
//! Scalars are lowered in [`super::scalar`]. Aggregations and window functions inside
//! expressions are computed by their own plan node first and replaced, by the span of their
//! call, with a reference to that node's column (`substitutions`).
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use datafusion::catalog::MemTable;
use datafusion::common::{Column, JoinType, NullEquality, ScalarValue, UnnestOptions};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator as DfOp, SortExpr, binary_expr,
    lit,
};

use super::names::{aggregate_item_name, item_name, matches_pattern, unique_name};
use super::values::kusto_type;
use super::{Engine, OutputColumn, QueryError, RenderHint};
use crate::ast::{
    Call, Expr as Ast, FunctionDef, INPUT, Ident, JoinKind, JoinOn, LetValue, Literal, NamedExpr,
    NullsOrder, OpParam, Operator, ParamType, ParsePart, Query, SortKey, SortOrder, Source,
    Statement, TabularExpr,
};
use crate::span::Span;

/// A query plan and its result columns.
pub(crate) struct Planned {
    pub(crate) plan: LogicalPlan,
    pub(crate) columns: Vec<OutputColumn>,
    pub(crate) render: Option<RenderHint>,
    pub(crate) ordered: bool,
}

/// What the driver must compute before planning can go on.
pub(crate) enum RequestKind {
    /// The first value of the first column (`toscalar`).
    Scalar,
    /// Every value of the first column (`in (subquery)`).
    List,
    /// The union of the property names of a dynamic column (`bag_unpack`).
    Keys,
}

/// A data-dependent value the planner needs.
pub(crate) struct Request {
    pub(crate) key: String,
    pub(crate) kind: RequestKind,
    pub(crate) plan: LogicalPlan,
}

/// A computed answer to a [`Request`].
#[derive(Debug, Clone)]
pub(crate) enum Prefetched {
    Scalar(ScalarValue),
    List(Vec<ScalarValue>),
    Keys(Vec<String>),
}

pub(crate) enum PlanError {
    Need(Box<Request>),
    Fail(QueryError),
}

impl From<datafusion::error::DataFusionError> for PlanError {
    fn from(e: datafusion::error::DataFusionError) -> PlanError {
        PlanError::Fail(QueryError::Plan {
            message: super::clean_error(&e.to_string()),
            span: None,
        })
    }
}

impl From<datafusion::arrow::error::ArrowError> for PlanError {
    fn from(e: datafusion::arrow::error::ArrowError) -> PlanError {
        PlanError::Fail(QueryError::Plan { message: e.to_string(), span: None })
    }
}

pub(crate) type PResult<T> = Result<T, PlanError>;

/// An error at a place in the query.
pub(crate) fn fail<T>(span: Span, message: impl Into<String>) -> PResult<T> {
    Err(PlanError::Fail(QueryError::Plan { message: message.into(), span: Some(span) }))
}

/// A plan with the facts Arrow does not carry.
#[derive(Clone)]
pub(crate) struct Rel {
    pub(crate) plan: LogicalPlan,
    /// Utf8 columns holding dynamic JSON.
    pub(crate) dynamic: HashSet<String>,
    /// The row order is meaningful; `order` re-creates it when still resolvable.
    pub(crate) ordered: bool,
    pub(crate) order: Vec<SortExpr>,
}

impl Rel {
    pub(crate) fn new(plan: LogicalPlan) -> Rel {
        Rel { plan, dynamic: HashSet::new(), ordered: false, order: Vec::new() }
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.plan.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.plan.schema().fields().iter().any(|f| f.name() == name)
    }

    pub(crate) fn data_type(&self, name: &str) -> Option<DataType> {
        self.plan.schema().fields().iter().find(|f| f.name() == name).map(|f| f.data_type().clone())
    }

    pub(crate) fn is_dynamic(&self, name: &str) -> bool {
        self.dynamic.contains(name)
    }
}

/// A lowered scalar: the DataFusion expression and whether it is a dynamic value.
#[derive(Clone, Debug)]
pub(crate) struct Val {
    pub(crate) expr: Expr,
    pub(crate) dynamic: bool,
}

impl Val {
    pub(crate) fn plain(expr: Expr) -> Val {
        Val { expr, dynamic: false }
    }
}

/// A column reference by exact name (never parsed for dots).
pub(crate) fn col(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

#[derive(Clone)]
pub(crate) enum Binding {
    Value(Val),
    Tabular(Rel),
    Function(Rc<FunctionDef>),
}

/// Nesting limit for subqueries and user function calls.
const MAX_DEPTH: usize = 64;

pub(crate) struct Planner<'e> {
    pub(crate) engine: &'e Engine,
    pub(crate) now: DateTime<Utc>,
    pub(crate) fns: bulwark_kql_functions::KqlFunctions,
    pub(crate) prefetched: &'e HashMap<String, Prefetched>,
    pub(crate) scopes: Vec<HashMap<String, Binding>>,
    pub(crate) substitutions: HashMap<(u32, u32), Val>,
    pub(crate) depth: usize,
    pub(crate) render: Option<RenderHint>,
    hidden: usize,
}

impl<'e> Planner<'e> {
    pub(crate) fn new(
        engine: &'e Engine,
        now: DateTime<Utc>,
        prefetched: &'e HashMap<String, Prefetched>,
    ) -> Planner<'e> {
        Planner {
            engine,
            now,
            fns: bulwark_kql_functions::KqlFunctions::new(now),
            prefetched,
            scopes: vec![HashMap::new()],
            substitutions: HashMap::new(),
            depth: 0,
            render: None,
            hidden: 0,
        }
    }

    /// A fresh internal column name.
    pub(crate) fn hidden_name(&mut self, what: &str) -> String {
        self.hidden += 1;
        format!("__kql_{what}{}", self.hidden)
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    fn bind(&mut self, name: &str, b: Binding) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(name.to_string(), b);
        }
    }

    /// Asks the driver for a data-dependent value, or returns the one it computed.
    pub(crate) fn need(&self, kind: RequestKind, plan: LogicalPlan) -> PResult<Prefetched> {
        let tag = match kind {
            RequestKind::Scalar => "scalar",
            RequestKind::List => "list",
            RequestKind::Keys => "keys",
        };
        let key = format!("{tag}:{}", plan.display_indent());
        match self.prefetched.get(&key) {
            Some(v) => Ok(v.clone()),
            None => Err(PlanError::Need(Box::new(Request { key, kind, plan }))),
        }
    }

    /// A relation with one row and no columns (`print`, scalar lets).
    pub(crate) fn one_row(&self) -> PResult<Rel> {
        Ok(Rel::new(LogicalPlanBuilder::empty(true).build()?))
    }

    pub(crate) fn plan_query(mut self, q: &Query) -> PResult<Planned> {
        let mut result: Option<Rel> = None;
        for s in &q.statements {
            match s {
                Statement::Let { name, value, .. } => {
                    let b = self.let_value(value)?;
                    self.bind(&name.name, b);
                }
                Statement::DeclareQueryParameters { params, .. } => {
                    for p in params {
                        if let Some(d) = &p.default {
                            let rel = self.one_row()?;
                            let v = self.scalar(d, &rel)?;
                            self.bind(&p.name.name, Binding::Value(v));
                        }
                    }
                }
                Statement::Set { .. } => {}
                Statement::Query(t) => result = Some(self.tabular(t, None)?),
            }
        }
        let Some(rel) = result else {
            return fail(
                q.span,
                "the query has no tabular expression to run (only `let` statements)",
            );
        };
        let rel = self.finish_order(rel)?;
        // Internal helper columns never reach the result.
        let visible: Vec<String> =
            rel.names().into_iter().filter(|n| !n.starts_with("__kql_")).collect();
        let rel = if visible.len() == rel.names().len() {
            rel
        } else {
            let exprs: Vec<Expr> = visible.iter().map(|n| col(n)).collect();
            Rel { plan: LogicalPlanBuilder::from(rel.plan.clone()).project(exprs)?.build()?, ..rel }
        };
        let columns = rel
            .plan
            .schema()
            .fields()
            .iter()
            .map(|f| OutputColumn {
                name: f.name().clone(),
                ty: kusto_type(f.data_type(), rel.is_dynamic(f.name())),
            })
            .collect();
        Ok(Planned { plan: rel.plan, columns, render: self.render, ordered: rel.ordered })
    }

    /// Re-applies a meaningful order at the end, so parallel execution cannot shuffle it.
    fn finish_order(&self, rel: Rel) -> PResult<Rel> {
        if !rel.ordered || rel.order.is_empty() {
            return Ok(rel);
        }
        let names = rel.names();
        let resolvable = rel
            .order
            .iter()
            .all(|s| s.expr.column_refs().iter().all(|c| names.iter().any(|n| n == c.name())));
        if !resolvable {
            return Ok(rel);
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone()).sort(rel.order.clone())?.build()?;
        Ok(Rel { plan, ..rel })
    }

    fn let_value(&mut self, value: &LetValue) -> PResult<Binding> {
        match value {
            LetValue::Tabular(t) => Ok(Binding::Tabular(self.tabular(t, None)?)),
            LetValue::Function(f) => Ok(Binding::Function(Rc::new(f.clone()))),
            LetValue::Expr(e) => self.let_expr(e),
        }
    }

    fn let_expr(&mut self, e: &Ast) -> PResult<Binding> {
        match e {
            Ast::Ident(id) => match self.lookup(&id.name).cloned() {
                Some(Binding::Function(f)) if f.params.iter().all(|p| p.default.is_some()) => {
                    self.call_function(&f, &[], None, id.span)
                }
                Some(b) => Ok(b),
                None => Ok(Binding::Tabular(self.table(id)?)),
            },
            Ast::Call(c) if self.call_is_tabular(c) => {
                Ok(Binding::Tabular(self.tabular_call(c, None)?))
            }
            Ast::Call(c) => match self.lookup(&c.name.name).cloned() {
                Some(Binding::Function(f)) => self.call_function(&f, &c.args, None, c.span),
                _ => {
                    let rel = self.one_row()?;
                    Ok(Binding::Value(self.scalar(e, &rel)?))
                }
            },
            _ => {
                let rel = self.one_row()?;
                Ok(Binding::Value(self.scalar(e, &rel)?))
            }
        }
    }

    pub(crate) fn call_is_tabular(&self, c: &Call) -> bool {
        match c.name.name.as_str() {
            "materialize" | "table" | "view" => true,
            n => match self.lookup(n) {
                Some(Binding::Function(f)) => !body_is_scalar(f, self),
                Some(Binding::Tabular(_)) => true,
                Some(Binding::Value(_)) => false,
                None => crate::catalog::lookup(n).is_none(),
            },
        }
    }

    /// Calls a user function: binds parameters in a new scope and plans the body. Scalar
    /// arguments are lowered in the caller's row context `row`.
    pub(crate) fn call_function(
        &mut self,
        f: &FunctionDef,
        args: &[Ast],
        input: Option<Rel>,
        span: Span,
    ) -> PResult<Binding> {
        if self.depth >= MAX_DEPTH {
            return fail(span, "user functions nest too deeply (recursion?)");
        }
        let caller_row = self.one_row()?;
        let mut scope = HashMap::new();
        let mut params = f.params.iter();
        if let Some(rel) = input {
            match params.next() {
                Some(p) => {
                    scope.insert(p.name.name.clone(), Binding::Tabular(rel));
                }
                None => return fail(span, "the invoked function takes no tabular parameter"),
            }
        }
        let mut positional = Vec::new();
        let mut named = HashMap::new();
        for a in args {
            match a {
                Ast::NamedArg { name, value, .. } => {
                    named.insert(name.name.clone(), value.as_ref());
                }
                other => positional.push(other),
            }
        }
        let mut positional = positional.into_iter();
        for p in params {
            let arg = named.get(&p.name.name).copied().or_else(|| positional.next());
            let b = match (&p.ty, arg) {
                (ParamType::Tabular { .. }, Some(a)) => Binding::Tabular(self.tabular_arg(a)?),
                (ParamType::Scalar(_), Some(a)) => Binding::Value(self.scalar(a, &caller_row)?),
                (_, None) => match &p.default {
                    Some(d) => Binding::Value(self.scalar(d, &caller_row)?),
                    None => {
                        return fail(span, format!("missing argument '{}'", p.name.name));
                    }
                },
            };
            scope.insert(p.name.name.clone(), b);
        }
        self.depth += 1;
        self.scopes.push(scope);
        let out = self.function_body(f);
        self.scopes.pop();
        self.depth -= 1;
        out
    }

    fn function_body(&mut self, f: &FunctionDef) -> PResult<Binding> {
        let mut result = None;
        for s in &f.body {
            match s {
                Statement::Let { name, value, .. } => {
                    let b = self.let_value(value)?;
                    self.bind(&name.name, b);
                }
                Statement::Query(t) => result = Some(self.body_value(t)?),
                _ => {}
            }
        }
        match result {
            Some(b) => Ok(b),
            None => fail(f.span, "the function body has no result expression"),
        }
    }

    fn body_value(&mut self, t: &TabularExpr) -> PResult<Binding> {
        if t.ops.is_empty() {
            match &t.source {
                Source::Expr(e) => {
                    let rel = self.one_row()?;
                    return Ok(Binding::Value(self.scalar(e, &rel)?));
                }
                Source::Name(id) => {
                    if let Some(Binding::Value(v)) = self.lookup(&id.name) {
                        return Ok(Binding::Value(v.clone()));
                    }
                }
                Source::Call(c) if !self.call_is_tabular(c) => {
                    let rel = self.one_row()?;
                    return Ok(Binding::Value(self.scalar(&Ast::Call(c.clone()), &rel)?));
                }
                _ => {}
            }
        }
        Ok(Binding::Tabular(self.tabular(t, None)?))
    }

    /// A tabular argument: `T`, `(T | …)`, `materialize(T)`.
    fn tabular_arg(&mut self, a: &Ast) -> PResult<Rel> {
        match a {
            Ast::Tabular(t) => self.tabular(t, None),
            Ast::Ident(id) => self.table(id),
            Ast::Call(c) => self.tabular_call(c, None),
            other => fail(other.span(), "expected a table here"),
        }
    }

    /// Resolves a table name: let-bound names first, then the store's tables (exact case).
    pub(crate) fn table(&mut self, id: &Ident) -> PResult<Rel> {
        match self.lookup(&id.name).cloned() {
            Some(Binding::Tabular(r)) => return Ok(r),
            Some(Binding::Function(f)) => {
                return match self.call_function(&f, &[], None, id.span)? {
                    Binding::Tabular(r) => Ok(r),
                    Binding::Value(_) | Binding::Function(_) => {
                        fail(id.span, format!("'{}' is not a table", id.name))
                    }
                };
            }
            Some(Binding::Value(_)) => {
                return fail(id.span, format!("'{}' is a scalar, not a table", id.name));
            }
            None => {}
        }
        self.scan(&id.name, id.span)
    }

    fn scan(&mut self, name: &str, span: Span) -> PResult<Rel> {
        let mut rel = if let Some(p) = self.engine.tables.get(name) {
            let plan = LogicalPlanBuilder::scan(
                datafusion::common::TableReference::bare(name),
                provider_as_source(Arc::clone(p)),
                None,
            )?
            .build()?;
            Rel::new(plan)
        } else if let Some(t) = self.engine.registry.get(name) {
            // A known table without data in this store: an empty relation of its schema.
            let schema = t.arrow_schema();
            let table = MemTable::try_new(Arc::clone(&schema), vec![vec![]])?;
            let plan = LogicalPlanBuilder::scan(
                datafusion::common::TableReference::bare(name),
                provider_as_source(Arc::new(table)),
                None,
            )?
            .build()?;
            Rel::new(plan)
        } else {
            return fail(span, format!("unknown table '{name}'"));
        };
        if let Some(t) = self.engine.registry.get(name) {
            for c in t.columns() {
                if c.ty == bulwark_model::KustoType::Dynamic {
                    rel.dynamic.insert(c.name.clone());
                }
            }
        }
        Ok(rel)
    }

    pub(crate) fn tabular_call(&mut self, c: &Call, input: Option<Rel>) -> PResult<Rel> {
        match c.name.name.as_str() {
            "materialize" | "view" => match c.args.first() {
                Some(a) => self.tabular_arg(a),
                None => fail(c.span, "materialize() needs a tabular argument"),
            },
            "table" => match c.args.first() {
                Some(Ast::Literal { value: Literal::String(s), span }) => {
                    self.table(&Ident::new(s.clone(), *span))
                }
                // table(name) inside a function: the parameter holds the table's name.
                Some(Ast::Ident(id)) => match self.lookup(&id.name) {
                    Some(Binding::Value(Val {
                        expr: Expr::Literal(ScalarValue::Utf8(Some(s)), _),
                        ..
                    })) => {
                        let s = s.clone();
                        self.table(&Ident::new(s, id.span))
                    }
                    _ => fail(c.span, "table() needs a table name string"),
                },
                _ => fail(c.span, "table() needs a table name string"),
            },
            name => match self.lookup(name).cloned() {
                Some(Binding::Function(f)) => {
                    match self.call_function(&f, &c.args, input, c.span)? {
                        Binding::Tabular(r) => Ok(r),
                        _ => fail(c.span, format!("function '{name}' does not return a table")),
                    }
                }
                Some(Binding::Tabular(r)) => Ok(r),
                _ => fail(c.name.span, format!("unknown tabular function '{name}'")),
            },
        }
    }

    pub(crate) fn tabular(&mut self, t: &TabularExpr, input: Option<&Rel>) -> PResult<Rel> {
        if self.depth >= MAX_DEPTH {
            return fail(t.span, "the query nests too deeply");
        }
        self.depth += 1;
        let out = self.tabular_inner(t, input);
        self.depth -= 1;
        out
    }

    fn tabular_inner(&mut self, t: &TabularExpr, input: Option<&Rel>) -> PResult<Rel> {
        let mut rel = match &t.source {
            Source::Name(id) if id.name == INPUT => match input {
                Some(r) => r.clone(),
                None => return fail(id.span, "this pipeline has no input"),
            },
            Source::Name(id) => self.table(id)?,
            Source::Call(c) => self.tabular_call(c, None)?,
            Source::Expr(e) => {
                return fail(
                    e.span(),
                    "cross-cluster/database references are not supported; tables come from the local store",
                );
            }
            Source::Paren(inner) => self.tabular(inner, None)?,
            Source::Operator(op) => self.source_operator(op)?,
        };
        for op in &t.ops {
            rel = self.operator(rel, op)?;
        }
        Ok(rel)
    }

    /// Operators that start a pipeline.
    fn source_operator(&mut self, op: &Operator) -> PResult<Rel> {
        match op {
            Operator::Union { params, tables, span } => self.union(None, params, tables, *span),
            Operator::Datatable { columns, values, span } => self.datatable(columns, values, *span),
            Operator::Print { columns, .. } => {
                let rel = self.one_row()?;
                let mut counter = 0;
                let mut items = Vec::new();
                for (i, c) in columns.iter().enumerate() {
                    let name = match c.names.first() {
                        Some(n) => n.name.clone(),
                        None => {
                            let _ = &mut counter;
                            format!("print_{i}")
                        }
                    };
                    items.push((name, c.expr.clone()));
                }
                self.project_exprs(&rel, &items, false)
            }
            Operator::Range { column, from, to, step, span } => {
                self.range(column, from, to, step, *span)
            }
            Operator::Search { .. } | Operator::Find { .. } => self.search_source(op),
            Operator::Evaluate { call, span, .. } => fail(
                *span,
                format!("evaluate plugin '{}' needs an input table here", call.name.name),
            ),
            Operator::ExternalData { span, .. } => fail(
                *span,
                "externaldata reads remote storage, which Bulwark never does; ingest the file with `bulwark ingest` and query its table",
            ),
            other => fail(other.span(), format!("'{}' cannot start a query", other.keyword())),
        }
    }

    /// One piped operator.
    pub(crate) fn operator(&mut self, rel: Rel, op: &Operator) -> PResult<Rel> {
        match op {
            Operator::Where { predicate, .. } => {
                let pred = self.predicate(predicate, &rel)?;
                let plan = LogicalPlanBuilder::from(rel.plan.clone()).filter(pred)?.build()?;
                Ok(Rel { plan, ..rel })
            }
            Operator::Project { columns, .. } => {
                let mut counter = 0;
                let items: Vec<(String, Ast)> =
                    columns.iter().map(|c| (item_name(c, &mut counter), c.expr.clone())).collect();
                let mut out = self.project_exprs(&rel, &items, false)?;
                out.ordered = rel.ordered;
                out.order = rel.order;
                Ok(out)
            }
            Operator::Extend { columns, .. } => {
                let mut counter = 0;
                let items: Vec<(String, Ast)> =
                    columns.iter().map(|c| (item_name(c, &mut counter), c.expr.clone())).collect();
                let mut out = self.project_exprs(&rel, &items, true)?;
                out.ordered = rel.ordered;
                out.order = rel.order;
                Ok(out)
            }
            Operator::ProjectAway { columns, span } => {
                let names = rel.names();
                for c in columns {
                    if !names.iter().any(|n| matches_pattern(&c.name, n)) && !c.name.contains('*') {
                        return fail(c.span, format!("unknown column '{}'", c.name));
                    }
                }
                let keep: Vec<String> = names
                    .into_iter()
                    .filter(|n| !columns.iter().any(|c| matches_pattern(&c.name, n)))
                    .collect();
                self.select(rel, &keep, *span)
            }
            Operator::ProjectKeep { columns, span } => {
                let keep: Vec<String> = rel
                    .names()
                    .into_iter()
                    .filter(|n| columns.iter().any(|c| matches_pattern(&c.name, n)))
                    .collect();
                self.select(rel, &keep, *span)
            }
            Operator::ProjectRename { renames, .. } => {
                let mut exprs = Vec::new();
                let mut dynamic = HashSet::new();
                for n in rel.names() {
                    let new = renames
                        .iter()
                        .find(|(_, old)| old.name == n)
                        .map(|(new, _)| new.name.clone());
                    let out = new.unwrap_or_else(|| n.clone());
                    if rel.is_dynamic(&n) {
                        dynamic.insert(out.clone());
                    }
                    exprs.push(col(&n).alias(out));
                }
                for (_, old) in renames {
                    if !rel.has(&old.name) {
                        return fail(old.span, format!("unknown column '{}'", old.name));
                    }
                }
                let plan = LogicalPlanBuilder::from(rel.plan.clone()).project(exprs)?.build()?;
                Ok(Rel { plan, dynamic, ordered: rel.ordered, order: Vec::new() })
            }
            Operator::ProjectReorder { columns, span } => {
                let names = rel.names();
                let mut first: Vec<String> = Vec::new();
                for (c, order) in columns {
                    let mut matched: Vec<String> = names
                        .iter()
                        .filter(|n| matches_pattern(&c.name, n) && !first.contains(n))
                        .cloned()
                        .collect();
                    match order {
                        Some(SortOrder::Asc) => matched.sort(),
                        Some(SortOrder::Desc) => {
                            matched.sort();
                            matched.reverse();
                        }
                        None => {}
                    }
                    first.extend(matched);
                }
                first.extend(names.into_iter().filter(|n| !first.contains(n)).collect::<Vec<_>>());
                self.select(rel, &first, *span)
            }
            Operator::Summarize { aggregates, by, .. } => self.summarize(rel, aggregates, by),
            Operator::Count { name, .. } => {
                let name = name.as_ref().map_or("Count", |n| n.name.as_str());
                let agg = datafusion::functions_aggregate::expr_fn::count(lit(1i64)).alias(name);
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .aggregate(Vec::<Expr>::new(), vec![agg])?
                    .build()?;
                Ok(Rel::new(plan))
            }
            Operator::Take { count, span } => {
                let n = self.const_usize(count, *span)?;
                let plan = LogicalPlanBuilder::from(rel.plan.clone()).limit(0, Some(n))?.build()?;
                Ok(Rel { plan, ..rel })
            }
            Operator::Top { count, by, span } => {
                let n = self.const_usize(count, *span)?;
                let key = self.sort_key(by, &rel, SortOrder::Desc)?;
                let sorted = self.sorted(rel, vec![key])?;
                let plan =
                    LogicalPlanBuilder::from(sorted.plan.clone()).limit(0, Some(n))?.build()?;
                Ok(Rel { plan, ..sorted })
            }
            Operator::Sort { keys, .. } => {
                let keys = keys
                    .iter()
                    .map(|k| self.sort_key(k, &rel, SortOrder::Desc))
                    .collect::<PResult<Vec<_>>>()?;
                self.sorted(rel, keys)
            }
            Operator::Distinct { columns, star, .. } => {
                let group: Vec<Expr> = if *star {
                    rel.names().iter().map(|n| col(n)).collect()
                } else {
                    let mut counter = 0;
                    let mut v = Vec::new();
                    for c in columns {
                        let name = item_name(c, &mut counter);
                        v.push(self.scalar(&c.expr, &rel)?.expr.alias(name));
                    }
                    v
                };
                let dynamic = rel.dynamic.clone();
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .aggregate(group, Vec::<Expr>::new())?
                    .build()?;
                let mut out = Rel::new(plan);
                out.dynamic = dynamic.into_iter().filter(|n| out.has(n)).collect();
                Ok(out)
            }
            Operator::Join { kind, right, on, span, .. } => {
                let right = self.tabular(right, Some(&rel))?;
                self.join(rel, right, *kind, on, *span, false)
            }
            Operator::Lookup { kind, right, on, span, .. } => {
                let right = self.tabular(right, Some(&rel))?;
                self.join(rel, right, *kind, on, *span, true)
            }
            Operator::Union { params, tables, span } => {
                self.union(Some(rel), params, tables, *span)
            }
            Operator::MvExpand { params, columns, limit, .. } => {
                self.mv_expand(rel, params, columns, limit.as_ref())
            }
            Operator::Parse { filter, params, source, pattern, span } => {
                self.parse_op(rel, *filter, params, source, pattern, *span)
            }
            Operator::ParseKv { source, columns, with, span } => {
                self.parse_kv(rel, source, columns, with, *span)
            }
            Operator::Evaluate { call, span, .. } => self.evaluate(rel, call, *span),
            Operator::As { name, .. } => {
                self.bind(&name.name, Binding::Tabular(rel.clone()));
                Ok(rel)
            }
            Operator::Serialize { columns, .. } => {
                let mut counter = 0;
                let items: Vec<(String, Ast)> =
                    columns.iter().map(|c| (item_name(c, &mut counter), c.expr.clone())).collect();
                let mut out = if items.is_empty() {
                    rel.clone()
                } else {
                    self.project_exprs(&rel, &items, true)?
                };
                out.ordered = true;
                out.order = rel.order;
                Ok(out)
            }
            Operator::Render { chart, with, .. } => {
                self.render = Some(RenderHint {
                    chart: chart.name.clone(),
                    properties: with
                        .iter()
                        .map(|p| (p.name.name.clone(), crate::format::format_expr(&p.value)))
                        .collect(),
                });
                Ok(rel)
            }
            Operator::Invoke { call, .. } => self.tabular_call(call, Some(rel)),
            Operator::GetSchema { .. } => self.getschema(&rel),
            Operator::Sample { count, span } => {
                let n = self.const_usize(count, *span)?;
                let key = datafusion::functions::math::expr_fn::random().sort(true, false);
                let plan = LogicalPlanBuilder::from(rel.plan.clone())
                    .sort_with_limit(vec![key], Some(n))?
                    .build()?;
                Ok(Rel { plan, ordered: false, order: Vec::new(), ..rel })
            }
            Operator::SampleDistinct { count, of, span } => {
                let n = self.const_usize(count, *span)?;
                let v = self.scalar(of, &rel)?;
                let name = crate::check::default_name(of).unwrap_or_else(|| "Column1".into());
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .aggregate(vec![v.expr.alias(name)], Vec::<Expr>::new())?
                    .limit(0, Some(n))?
                    .build()?;
                Ok(Rel::new(plan))
            }
            Operator::Search { .. } | Operator::Find { .. } => self.search_input(rel, op),
            Operator::TopNested { span, .. }
            | Operator::MvApply { span, .. }
            | Operator::MakeSeries { span, .. }
            | Operator::Facet { span, .. }
            | Operator::Fork { span, .. }
            | Operator::Partition { span, .. } => self.advanced_operator(rel, op, *span),
            other => fail(other.span(), format!("'{}' is not supported here", other.keyword())),
        }
    }

    /// Keeps the named columns in the given order.
    fn select(&mut self, rel: Rel, names: &[String], _span: Span) -> PResult<Rel> {
        let exprs: Vec<Expr> = names.iter().map(|n| col(n)).collect();
        let plan = LogicalPlanBuilder::from(rel.plan.clone()).project(exprs)?.build()?;
        let dynamic = rel.dynamic.iter().filter(|n| names.contains(n)).cloned().collect();
        Ok(Rel { plan, dynamic, ordered: rel.ordered, order: rel.order })
    }

    /// `project` (only the items) or `extend` (input columns, items replacing or appended).
    /// Items may refer to columns defined earlier in the same operator.
    pub(crate) fn project_exprs(
        &mut self,
        rel: &Rel,
        items: &[(String, Ast)],
        extend: bool,
    ) -> PResult<Rel> {
        let mut cur = rel.clone();
        // Window functions (`row_number()`, `prev()`, `next()`) get their own plan node.
        let mut windows = Vec::new();
        for (_, e) in items {
            collect_calls(
                e,
                &|n| matches!(n, "row_number" | "prev" | "next" | "row_cumsum"),
                &mut windows,
            );
        }
        if !windows.is_empty() {
            cur = self.add_windows(cur, &windows)?;
        }
        // Items are computed in stages: an item that refers to a column defined earlier in
        // the same operator starts a new stage over the previous one's output.
        let mut stage: Vec<(String, Val)> = Vec::new();
        let mut dynamic: HashSet<String> = cur.dynamic.clone();
        for (name, e) in items {
            let defined: Vec<String> = stage.iter().map(|(n, _)| n.clone()).collect();
            if references_any(e, &defined) {
                cur = self.extend_stage(&cur, &stage, &mut dynamic)?;
                stage.clear();
            }
            let v = self.scalar(e, &cur)?;
            stage.retain(|(n, _)| n != name);
            stage.push((name.clone(), v));
        }
        if extend {
            let mut out = self.extend_stage(&cur, &stage, &mut dynamic)?;
            // Internal window columns stay out of the result.
            if !windows.is_empty() {
                let keep: Vec<String> =
                    out.names().into_iter().filter(|n| !n.starts_with("__kql_win")).collect();
                out = self.select(out, &keep, Span::default())?;
            }
            out.ordered = rel.ordered;
            out.order = rel.order.clone();
            return Ok(out);
        }
        // project: exactly the items, in order; earlier stages' items are columns by now.
        let mut out_exprs = Vec::new();
        let mut out_dynamic = HashSet::new();
        let mut out_names: Vec<String> = Vec::new();
        for (name, _) in items {
            if out_names.contains(name) {
                continue;
            }
            match stage.iter().find(|(n, _)| n == name) {
                Some((_, v)) => {
                    if v.dynamic {
                        out_dynamic.insert(name.clone());
                    }
                    out_exprs.push(v.expr.clone().alias(name.clone()));
                }
                None => {
                    if dynamic.contains(name) {
                        out_dynamic.insert(name.clone());
                    }
                    out_exprs.push(col(name));
                }
            }
            out_names.push(name.clone());
        }
        let plan = LogicalPlanBuilder::from(cur.plan.clone()).project(out_exprs)?.build()?;
        Ok(Rel { plan, dynamic: out_dynamic, ordered: rel.ordered, order: rel.order.clone() })
    }

    /// The input's columns with `stage`'s items replacing same-named ones or appended.
    fn extend_stage(
        &mut self,
        cur: &Rel,
        stage: &[(String, Val)],
        dynamic: &mut HashSet<String>,
    ) -> PResult<Rel> {
        let mut names = cur.names();
        let mut exprs: Vec<Expr> = names.iter().map(|n| col(n)).collect();
        for (name, v) in stage {
            if v.dynamic {
                dynamic.insert(name.clone());
            } else {
                dynamic.remove(name);
            }
            let e = v.expr.clone().alias(name.clone());
            match names.iter().position(|n| n == name) {
                Some(i) => exprs[i] = e,
                None => {
                    names.push(name.clone());
                    exprs.push(e);
                }
            }
        }
        let plan = LogicalPlanBuilder::from(cur.plan.clone()).project(exprs)?.build()?;
        Ok(Rel {
            plan,
            dynamic: dynamic.iter().filter(|n| names.contains(n)).cloned().collect(),
            ordered: cur.ordered,
            order: cur.order.clone(),
        })
    }

    fn sorted(&mut self, rel: Rel, keys: Vec<SortExpr>) -> PResult<Rel> {
        let plan = LogicalPlanBuilder::from(rel.plan.clone()).sort(keys.clone())?.build()?;
        Ok(Rel { plan, dynamic: rel.dynamic, ordered: true, order: keys })
    }

    pub(crate) fn sort_key(
        &mut self,
        k: &SortKey,
        rel: &Rel,
        default: SortOrder,
    ) -> PResult<SortExpr> {
        let v = self.scalar(&k.expr, rel)?;
        let asc = k.order.unwrap_or(default) == SortOrder::Asc;
        // Kusto: nulls first when ascending, last when descending, unless written.
        let nulls_first = match k.nulls {
            Some(NullsOrder::First) => true,
            Some(NullsOrder::Last) => false,
            None => asc,
        };
        Ok(v.expr.sort(asc, nulls_first))
    }

    pub(crate) fn const_usize(&mut self, e: &Ast, span: Span) -> PResult<usize> {
        let rel = self.one_row()?;
        let v = self.scalar(e, &rel)?;
        match self.const_value(&v.expr)? {
            Some(s) => match s {
                ScalarValue::Int64(Some(n)) => Ok(usize::try_from(n.max(0)).unwrap_or(0)),
                ScalarValue::Int32(Some(n)) => Ok(usize::try_from(n.max(0)).unwrap_or(0)),
                ScalarValue::Float64(Some(f)) if f >= 0.0 => Ok(f as usize),
                _ => fail(span, "expected a non-negative whole number"),
            },
            None => fail(span, "expected a constant number"),
        }
    }

    /// Evaluates a constant expression at plan time.
    pub(crate) fn const_value(&self, e: &Expr) -> PResult<Option<ScalarValue>> {
        if let Expr::Literal(v, _) = e {
            return Ok(Some(v.clone()));
        }
        if !e.column_refs().is_empty() {
            return Ok(None);
        }
        if let Expr::Negative(inner) = e
            && let Expr::Literal(v, _) = inner.as_ref()
            && let Ok(n) = v.arithmetic_negate()
        {
            return Ok(Some(n));
        }
        let simplifier = datafusion::optimizer::simplify_expressions::ExprSimplifier::new(
            datafusion::logical_expr::simplify::SimplifyContext::default(),
        );
        if let Ok(Expr::Literal(v, _)) = simplifier.simplify(e.clone()) {
            return Ok(Some(v));
        }
        let plan = LogicalPlanBuilder::empty(true).project(vec![e.clone().alias("v")])?.build()?;
        match self.need(RequestKind::Scalar, plan)? {
            Prefetched::Scalar(v) => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    fn add_windows(&mut self, rel: Rel, calls: &[Call]) -> PResult<Rel> {
        use datafusion::functions_window::expr_fn::{lag, lead, row_number};
        use datafusion::logical_expr::ExprFunctionExt;
        let order = rel.order.clone();
        let mut exprs = Vec::new();
        for c in calls {
            let name = self.hidden_name("win");
            let w = match c.name.name.as_str() {
                "row_number" => {
                    let start = match c.args.first() {
                        Some(a) => Some(self.scalar(a, &rel)?.expr),
                        None => None,
                    };
                    let rn = row_number().order_by(order.clone()).build()?;
                    match start {
                        Some(s) => rn + s - lit(1i64),
                        None => rn,
                    }
                }
                f @ ("prev" | "next") => {
                    let Some(a) = c.args.first() else {
                        return fail(c.span, format!("{f}() needs a column"));
                    };
                    let v = self.scalar(a, &rel)?;
                    let offset = match c.args.get(1) {
                        Some(o) => Some(self.const_usize(o, c.span)? as i64),
                        None => Some(1),
                    };
                    let default = match c.args.get(2) {
                        Some(d) => {
                            let dv = self.scalar(d, &rel)?;
                            self.const_value(&dv.expr)?
                        }
                        None => None,
                    };
                    let e = if f == "prev" {
                        lag(v.expr, offset, default)
                    } else {
                        lead(v.expr, offset, default)
                    };
                    e.order_by(order.clone()).build()?
                }
                "row_cumsum" => {
                    let Some(a) = c.args.first() else {
                        return fail(c.span, "row_cumsum() needs a column");
                    };
                    let v = self.scalar(a, &rel)?;
                    datafusion::functions_aggregate::expr_fn::sum(v.expr)
                        .order_by(order.clone())
                        .build()?
                }
                _ => continue,
            };
            exprs.push(w.alias(name.clone()));
            self.substitutions.insert(span_key(c.span), Val::plain(col(&name)));
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone()).window(exprs)?.build()?;
        Ok(Rel { plan, ..rel })
    }

    fn summarize(&mut self, rel: Rel, aggregates: &[NamedExpr], by: &[NamedExpr]) -> PResult<Rel> {
        let mut counter = 0;
        let mut group_exprs = Vec::new();
        let mut group_names = Vec::new();
        let mut dynamic = HashSet::new();
        for b in by {
            let name = unique_name(&item_name(b, &mut counter), &group_names);
            let v = self.scalar(&b.expr, &rel)?;
            if v.dynamic {
                dynamic.insert(name.clone());
            }
            group_exprs.push(v.expr.alias(name.clone()));
            group_names.push(name);
        }
        // Each aggregation call becomes a hidden aggregate column; the item's expression is
        // then evaluated over the aggregated row.
        enum Item {
            Expr(String, Ast),
            Post(Vec<(String, Expr, bool)>),
        }
        let mut agg_exprs = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        for a in aggregates {
            let mut calls = Vec::new();
            collect_calls(&a.expr, &|n| super::names::is_aggregate(n), &mut calls);
            if calls.is_empty() {
                return fail(
                    a.expr.span(),
                    "summarize needs an aggregation function here (count(), sum(), …)",
                );
            }
            if let Ast::Call(c) = &a.expr
                && let Some((aggs, outs)) = self.multi_aggregate(c, &rel, &group_names, a)?
            {
                agg_exprs.extend(aggs);
                items.push(Item::Post(outs));
                continue;
            }
            for c in &calls {
                let hidden = self.hidden_name("agg");
                let v = self.aggregate_call(c, &rel)?;
                agg_exprs.push(v.expr.alias(hidden.clone()));
                self.substitutions
                    .insert(span_key(c.span), Val { expr: col(&hidden), dynamic: v.dynamic });
            }
            items.push(Item::Expr(aggregate_item_name(a, &mut counter), a.expr.clone()));
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone())
            .aggregate(group_exprs, agg_exprs)?
            .build()?;
        let mut agg_rel = Rel::new(plan);
        agg_rel.dynamic = dynamic.clone();
        // Final projection: keys, then each item.
        let mut out_exprs: Vec<Expr> = group_names.iter().map(|n| col(n)).collect();
        let mut out_names = group_names.clone();
        for item in items {
            match item {
                Item::Post(outs) => {
                    for (n, e, d) in outs {
                        let unique = unique_name(&n, &out_names);
                        if d {
                            dynamic.insert(unique.clone());
                        }
                        out_exprs.push(e.alias(unique.clone()));
                        out_names.push(unique);
                    }
                }
                Item::Expr(name, expr) => {
                    let v = self.scalar(&expr, &agg_rel)?;
                    let name = unique_name(&name, &out_names);
                    if v.dynamic {
                        dynamic.insert(name.clone());
                    }
                    out_exprs.push(v.expr.alias(name.clone()));
                    out_names.push(name);
                }
            }
        }
        let plan = LogicalPlanBuilder::from(agg_rel.plan).project(out_exprs)?.build()?;
        let mut out = Rel::new(plan);
        out.dynamic = dynamic.into_iter().filter(|n| out_names.contains(n)).collect();
        Ok(out)
    }

    fn union(
        &mut self,
        input: Option<Rel>,
        params: &[OpParam],
        tables: &[TabularExpr],
        span: Span,
    ) -> PResult<Rel> {
        let mut source_col = None;
        let mut fuzzy = false;
        let mut inner = false;
        for p in params {
            match p.name.name.as_str() {
                "withsource" => {
                    source_col = match &p.value {
                        Ast::Ident(i) => Some(i.name.clone()),
                        Ast::Literal { value: Literal::String(s), .. } => Some(s.clone()),
                        _ => None,
                    }
                }
                "isfuzzy" => {
                    fuzzy = matches!(p.value, Ast::Literal { value: Literal::Bool(true), .. })
                }
                "kind" => inner = matches!(&p.value, Ast::Ident(i) if i.name == "inner"),
                _ => {}
            }
        }
        let mut inputs: Vec<(String, Rel)> = Vec::new();
        if let Some(r) = input {
            inputs.push(("union_arg0".to_string(), r));
        }
        for (i, t) in tables.iter().enumerate() {
            match &t.source {
                Source::Name(id) if t.ops.is_empty() && id.name.contains('*') => {
                    let mut names: Vec<&String> = self
                        .engine
                        .tables
                        .keys()
                        .filter(|n| matches_pattern(&id.name, n))
                        .filter(|n| self.engine.nonempty.as_ref().is_none_or(|s| s.contains(*n)))
                        .collect();
                    names.sort();
                    let names: Vec<String> = names.into_iter().cloned().collect();
                    for n in names {
                        let r = self.scan(&n, id.span)?;
                        inputs.push((n, r));
                    }
                }
                Source::Name(id) if t.ops.is_empty() => match self.table(id) {
                    Ok(r) => inputs.push((id.name.clone(), r)),
                    Err(_) if fuzzy => {}
                    Err(e) => return Err(e),
                },
                _ => {
                    let r = self.tabular(t, None)?;
                    inputs.push((format!("union_arg{}", i + 1), r));
                }
            }
        }
        self.union_inputs(inputs, source_col, inner, span)
    }

    /// The union of named inputs (Kusto's outer union unless `inner`), with the input's name in
    /// `source_col` when given. Shared by `union` and `search`.
    fn union_inputs(
        &mut self,
        inputs: Vec<(String, Rel)>,
        source_col: Option<String>,
        inner: bool,
        span: Span,
    ) -> PResult<Rel> {
        if inputs.is_empty() {
            return fail(span, "union has no tables to read (no table matches)");
        }
        // The union's columns: every input's, in first-seen order; a name seen with two types
        // becomes one column per type (`Name_string`, `Name_long`), as in Kusto.
        let mut columns: Vec<(String, DataType, bool)> = Vec::new();
        let mut conflicts: HashSet<String> = HashSet::new();
        for (_, r) in &inputs {
            for f in r.plan.schema().fields() {
                let dynamic = r.is_dynamic(f.name());
                match columns.iter().find(|(n, _, _)| n == f.name()) {
                    Some((_, t, d)) if t != f.data_type() || *d != dynamic => {
                        conflicts.insert(f.name().clone());
                    }
                    Some(_) => {}
                    None => columns.push((f.name().clone(), f.data_type().clone(), dynamic)),
                }
            }
        }
        if inner {
            // kind=inner: only the columns every input has.
            columns.retain(|(n, _, _)| inputs.iter().all(|(_, r)| r.has(n)));
        }
        let mut out_cols: Vec<(String, DataType, bool)> = Vec::new();
        for (n, _, _) in &columns {
            if conflicts.contains(n) {
                for (_, r) in &inputs {
                    if let Some(t) = r.data_type(n) {
                        let kt = kusto_type(&t, r.is_dynamic(n));
                        let name = format!("{n}_{}", kt.name());
                        if !out_cols.iter().any(|(x, _, _)| *x == name) {
                            out_cols.push((name, t, r.is_dynamic(n)));
                        }
                    }
                }
            } else if let Some(c) = columns.iter().find(|(x, _, _)| x == n) {
                out_cols.push(c.clone());
            }
        }
        let mut plans = Vec::new();
        for (label, r) in &inputs {
            let mut exprs = Vec::new();
            if let Some(s) = &source_col {
                exprs.push(lit(label.clone()).alias(s.clone()));
            }
            for (name, dt, _) in &out_cols {
                let source = if conflicts
                    .iter()
                    .any(|c| name.starts_with(c.as_str()) && name.len() > c.len())
                {
                    conflicts
                        .iter()
                        .find(|c| {
                            name.starts_with(c.as_str())
                                && r.data_type(c).is_some_and(|t| {
                                    format!("{c}_{}", kusto_type(&t, r.is_dynamic(c)).name())
                                        == *name
                                })
                        })
                        .cloned()
                } else if r.has(name) {
                    Some(name.clone())
                } else {
                    None
                };
                let e = match source {
                    Some(s) => col(&s),
                    None => {
                        Expr::Literal(ScalarValue::try_from(dt).unwrap_or(ScalarValue::Null), None)
                    }
                };
                exprs.push(e.alias(name.clone()));
            }
            plans.push(LogicalPlanBuilder::from(r.plan.clone()).project(exprs)?.build()?);
        }
        let mut plans = plans.into_iter();
        let Some(first) = plans.next() else {
            return fail(span, "union has no inputs");
        };
        let mut b = LogicalPlanBuilder::from(first);
        for p in plans {
            b = b.union(p)?;
        }
        let mut out = Rel::new(b.build()?);
        out.dynamic = out_cols.iter().filter(|(_, _, d)| *d).map(|(n, _, _)| n.clone()).collect();
        Ok(out)
    }

    fn join(
        &mut self,
        left: Rel,
        right: Rel,
        kind: JoinKind,
        on: &[JoinOn],
        span: Span,
        lookup: bool,
    ) -> PResult<Rel> {
        let mut keys: Vec<(String, String)> = Vec::new();
        let mut extra: Vec<&Ast> = Vec::new();
        for c in on {
            match c {
                JoinOn::Column(id) => keys.push((id.name.clone(), id.name.clone())),
                JoinOn::Equal { left, right } => keys.push((left.name.clone(), right.name.clone())),
                JoinOn::Expr(e) => extra.push(e),
            }
        }
        for (l, r) in &keys {
            if !left.has(l) {
                return fail(span, format!("join key '{l}' is not a column of the left side"));
            }
            if !right.has(r) {
                return fail(span, format!("join key '{r}' is not a column of the right side"));
            }
        }
        if keys.is_empty() {
            return fail(span, "join needs equality keys: `on Column` or `on $left.A == $right.B`");
        }
        if !extra.is_empty() {
            return fail(
                extra[0].span(),
                "join conditions other than equalities are not supported",
            );
        }
        let mut left_plan = left.plan.clone();
        if kind == JoinKind::InnerUnique {
            // Kusto's default flavour keeps one left row per key.
            let on_exprs: Vec<Expr> = keys.iter().map(|(l, _)| col(l)).collect();
            let select: Vec<Expr> = left.names().iter().map(|n| col(n)).collect();
            left_plan =
                LogicalPlanBuilder::from(left_plan).distinct_on(on_exprs, select, None)?.build()?;
        }
        let jt = match kind {
            JoinKind::InnerUnique | JoinKind::Inner => JoinType::Inner,
            JoinKind::LeftOuter => JoinType::Left,
            JoinKind::RightOuter => JoinType::Right,
            JoinKind::FullOuter => JoinType::Full,
            JoinKind::LeftAnti => JoinType::LeftAnti,
            JoinKind::RightAnti => JoinType::RightAnti,
            JoinKind::LeftSemi => JoinType::LeftSemi,
            JoinKind::RightSemi => JoinType::RightSemi,
        };
        // Keys of different integer widths join on a common type.
        let mut right_plan = right.plan.clone();
        let mut casts = false;
        let mut right_exprs = Vec::new();
        for n in right.names() {
            let mut e = col(&n);
            if let Some((l, _)) = keys.iter().find(|(_, r)| *r == n)
                && let (Some(lt), Some(rt)) = (left.data_type(l), right.data_type(&n))
                && lt != rt
            {
                e = e.cast_to(&lt, right_plan.schema())?;
                casts = true;
            }
            right_exprs.push(e.alias(n));
        }
        if casts {
            right_plan = LogicalPlanBuilder::from(right_plan).project(right_exprs)?.build()?;
        }
        let lq = "__kql_l";
        let rq = "__kql_r";
        let lplan = LogicalPlanBuilder::from(left_plan).alias(lq)?.build()?;
        let rplan = LogicalPlanBuilder::from(right_plan).alias(rq)?.build()?;
        let lkeys: Vec<Column> = keys.iter().map(|(l, _)| Column::new(Some(lq), l)).collect();
        let rkeys: Vec<Column> = keys.iter().map(|(_, r)| Column::new(Some(rq), r)).collect();
        let joined = LogicalPlanBuilder::from(lplan)
            .join_detailed(rplan, jt, (lkeys, rkeys), None, NullEquality::NullEqualsNothing)?
            .build()?;
        let mut exprs = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut dynamic = HashSet::new();
        let with_left = !matches!(jt, JoinType::RightSemi | JoinType::RightAnti);
        let with_right = !matches!(jt, JoinType::LeftSemi | JoinType::LeftAnti);
        if with_left {
            for n in left.names() {
                let e = col_q(lq, &n);
                if left.is_dynamic(&n) {
                    dynamic.insert(n.clone());
                }
                exprs.push(e.alias(n.clone()));
                names.push(n);
            }
        }
        if with_right {
            for n in right.names() {
                if lookup && keys.iter().any(|(_, r)| *r == n) {
                    continue;
                }
                let out = if with_left { unique_name(&n, &names) } else { n.clone() };
                if right.is_dynamic(&n) {
                    dynamic.insert(out.clone());
                }
                exprs.push(col_q(rq, &n).alias(out.clone()));
                names.push(out);
            }
        }
        let plan = LogicalPlanBuilder::from(joined).project(exprs)?.build()?;
        Ok(Rel { plan, dynamic, ordered: false, order: Vec::new() })
    }

    fn datatable(
        &mut self,
        columns: &[crate::ast::ColumnDecl],
        values: &[Ast],
        span: Span,
    ) -> PResult<Rel> {
        if columns.is_empty() {
            return fail(span, "datatable needs at least one column");
        }
        if !values.len().is_multiple_of(columns.len()) {
            return fail(
                span,
                format!(
                    "datatable has {} values, not a multiple of its {} columns",
                    values.len(),
                    columns.len()
                ),
            );
        }
        let rows = values.len() / columns.len();
        let one = self.one_row()?;
        let mut arrays: Vec<ArrayRef> = Vec::new();
        let mut fields = Vec::new();
        let mut dynamic = HashSet::new();
        for (ci, c) in columns.iter().enumerate() {
            let dt = c.ty.arrow_type();
            let mut scalars = Vec::with_capacity(rows);
            for r in 0..rows {
                let v = &values[r * columns.len() + ci];
                let lowered = self.scalar(v, &one)?;
                let value = match self.const_value(&lowered.expr)? {
                    Some(s) => s,
                    None => return fail(v.span(), "datatable values must be constants"),
                };
                let value = super::scalar::convert_scalar(value, &dt, c.ty).map_err(|m| {
                    PlanError::Fail(QueryError::Plan { message: m, span: Some(v.span()) })
                })?;
                scalars.push(value);
            }
            let array = if scalars.is_empty() {
                new_null_array(&dt, 0)
            } else {
                ScalarValue::iter_to_array(scalars)?
            };
            if c.ty == bulwark_model::KustoType::Dynamic {
                dynamic.insert(c.name.name.clone());
            }
            fields.push(Field::new(c.name.name.clone(), array.data_type().clone(), true));
            arrays.push(array);
        }
        let schema = Arc::new(ArrowSchema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)?;
        let table = MemTable::try_new(schema, vec![vec![batch]])?;
        let plan =
            LogicalPlanBuilder::scan("datatable", provider_as_source(Arc::new(table)), None)?
                .build()?;
        let mut rel = Rel::new(plan);
        rel.dynamic = dynamic;
        Ok(rel)
    }

    fn range(
        &mut self,
        column: &Ident,
        from: &Ast,
        to: &Ast,
        step: &Ast,
        span: Span,
    ) -> PResult<Rel> {
        let one = self.one_row()?;
        let mut consts = Vec::new();
        for e in [from, to, step] {
            let v = self.scalar(e, &one)?;
            match self.const_value(&v.expr)? {
                Some(s) => consts.push(s),
                None => return fail(e.span(), "range bounds must be constants"),
            }
        }
        const MAX_RANGE: i64 = 100_000_000;
        let as_i64 = |s: &ScalarValue| -> Option<(i64, u8)> {
            match s {
                ScalarValue::Int64(Some(v)) => Some((*v, 0)),
                ScalarValue::Int32(Some(v)) => Some((i64::from(*v), 0)),
                ScalarValue::TimestampNanosecond(Some(v), _) => Some((*v, 1)),
                ScalarValue::DurationNanosecond(Some(v)) => Some((*v, 2)),
                _ => None,
            }
        };
        let (a, b, s) = (&consts[0], &consts[1], &consts[2]);
        let array: ArrayRef = match (as_i64(a), as_i64(b), as_i64(s)) {
            (Some((a, ka)), Some((b, kb)), Some((s, _))) if ka == kb && s != 0 => {
                let n = if (s > 0 && b >= a) || (s < 0 && b <= a) { (b - a) / s + 1 } else { 0 };
                if n > MAX_RANGE {
                    return fail(
                        span,
                        format!("range would produce {n} rows; the limit is {MAX_RANGE}"),
                    );
                }
                let values: Vec<i64> = (0..n).map(|i| a + i * s).collect();
                match ka {
                    1 => Arc::new(
                        datafusion::arrow::array::TimestampNanosecondArray::from(values)
                            .with_timezone("UTC"),
                    ),
                    2 => Arc::new(datafusion::arrow::array::DurationNanosecondArray::from(values)),
                    _ => Arc::new(datafusion::arrow::array::Int64Array::from(values)),
                }
            }
            _ => {
                let (Some(a), Some(b), Some(s)) = (scalar_f64(a), scalar_f64(b), scalar_f64(s))
                else {
                    return fail(
                        span,
                        "range needs numbers, datetimes or timespans with a non-zero step",
                    );
                };
                if s == 0.0 || !s.is_finite() {
                    return fail(span, "range step must not be zero");
                }
                let n = ((b - a) / s).floor() + 1.0;
                if n > MAX_RANGE as f64 {
                    return fail(span, "range would produce too many rows");
                }
                let n = if n.is_finite() && n > 0.0 { n as i64 } else { 0 };
                Arc::new(datafusion::arrow::array::Float64Array::from(
                    (0..n).map(|i| a + i as f64 * s).collect::<Vec<_>>(),
                ))
            }
        };
        let schema = Arc::new(ArrowSchema::new(vec![Field::new(
            column.name.clone(),
            array.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![array])?;
        let table = MemTable::try_new(schema, vec![vec![batch]])?;
        let plan = LogicalPlanBuilder::scan("range", provider_as_source(Arc::new(table)), None)?
            .build()?;
        let mut rel = Rel::new(plan);
        let ascending = match &consts[2] {
            ScalarValue::Int64(Some(v)) | ScalarValue::DurationNanosecond(Some(v)) => *v > 0,
            ScalarValue::Int32(Some(v)) => *v > 0,
            ScalarValue::Float64(Some(v)) => *v > 0.0,
            _ => true,
        };
        rel.ordered = true;
        rel.order = vec![col(&column.name).sort(ascending, false)];
        Ok(rel)
    }

    fn getschema(&mut self, rel: &Rel) -> PResult<Rel> {
        let mut names = Vec::new();
        let mut ordinals = Vec::new();
        let mut data_types = Vec::new();
        let mut column_types = Vec::new();
        for (i, f) in rel.plan.schema().fields().iter().enumerate() {
            let kt = kusto_type(f.data_type(), rel.is_dynamic(f.name()));
            names.push(f.name().clone());
            ordinals.push(i as i32);
            data_types.push(system_type(kt).to_string());
            column_types.push(kt.name().to_string());
        }
        let schema = Arc::new(ArrowSchema::new(vec![
            Field::new("ColumnName", DataType::Utf8, true),
            Field::new("ColumnOrdinal", DataType::Int32, true),
            Field::new("DataType", DataType::Utf8, true),
            Field::new("ColumnType", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(names)),
                Arc::new(datafusion::arrow::array::Int32Array::from(ordinals)),
                Arc::new(StringArray::from(data_types)),
                Arc::new(StringArray::from(column_types)),
            ],
        )?;
        let table = MemTable::try_new(schema, vec![vec![batch]])?;
        let plan =
            LogicalPlanBuilder::scan("getschema", provider_as_source(Arc::new(table)), None)?
                .build()?;
        let mut out = Rel::new(plan);
        out.ordered = true;
        out.order = vec![col("ColumnOrdinal").sort(true, false)];
        Ok(out)
    }

    fn mv_expand(
        &mut self,
        rel: Rel,
        params: &[OpParam],
        columns: &[crate::ast::MvExpandColumn],
        limit: Option<&Ast>,
    ) -> PResult<Rel> {
        let limit = match limit {
            Some(l) => Some(self.const_usize(l, l.span())?),
            None => None,
        };
        let mut index_col = None;
        let mut as_array = false;
        for p in params {
            match (p.name.name.as_str(), &p.value) {
                ("with_itemindex", Ast::Ident(i)) => index_col = Some(i.name.clone()),
                ("kind" | "bagexpansion", Ast::Ident(i)) => as_array = i.name == "array",
                _ => {}
            }
        }
        let items_fn = self.udf("mv_items")?;
        let index_fn = self.udf("mv_indexes")?;
        let names = rel.names();
        // Each expanded column: (output name, hidden list column, target type).
        let mut expanded: Vec<(String, String, Option<bulwark_model::KustoType>)> = Vec::new();
        let mut exprs: Vec<Expr> = names.iter().map(|n| col(n)).collect();
        let mut first_source = None;
        for c in columns {
            let name = match &c.name {
                Some(n) => n.name.clone(),
                None => {
                    crate::check::default_name(&c.expr).unwrap_or_else(|| "Column1".to_string())
                }
            };
            let v = self.scalar(&c.expr, &rel)?;
            let hidden = self.hidden_name("mv");
            if first_source.is_none() {
                first_source = Some(v.expr.clone());
            }
            exprs.push(items_fn.call(vec![v.expr, lit(as_array)]).alias(hidden.clone()));
            expanded.push((name, hidden, c.to_type));
        }
        let index_hidden = self.hidden_name("mvidx");
        let mut unnest_cols: Vec<Column> =
            expanded.iter().map(|(_, h, _)| Column::new_unqualified(h)).collect();
        if (index_col.is_some() || limit.is_some())
            && let Some(src) = first_source
        {
            exprs.push(index_fn.call(vec![src]).alias(index_hidden.clone()));
            unnest_cols.push(Column::new_unqualified(&index_hidden));
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone())
            .project(exprs)?
            .unnest_columns_with_options(unnest_cols, UnnestOptions::default())?
            .build()?;
        let plan = match limit {
            // `limit N`: at most N rows from each input row.
            Some(n) => LogicalPlanBuilder::from(plan)
                .filter(col(&index_hidden).lt(lit(n as i64)))?
                .build()?,
            None => plan,
        };
        let unnested = Rel::new(plan);
        // Restore the column layout: replaced columns in place, new ones appended.
        let mut out_exprs = Vec::new();
        let mut out_names = Vec::new();
        let mut dynamic: HashSet<String> = rel.dynamic.clone();
        let tostring = self.udf("tostring_dynamic")?;
        let typed = |this: &Self,
                     hidden: &str,
                     ty: Option<bulwark_model::KustoType>|
         -> PResult<(Expr, bool)> {
            let c = col(hidden);
            Ok(match ty {
                None | Some(bulwark_model::KustoType::Dynamic) => (c, true),
                Some(t) => {
                    let text = tostring.call(vec![c]);
                    (this.convert_text(text, t)?, false)
                }
            })
        };
        for n in &names {
            if let Some((_, hidden, ty)) = expanded.iter().find(|(o, _, _)| o == n) {
                let (e, d) = typed(self, hidden, *ty)?;
                if d {
                    dynamic.insert(n.clone());
                } else {
                    dynamic.remove(n);
                }
                out_exprs.push(e.alias(n.clone()));
            } else {
                out_exprs.push(col(n));
            }
            out_names.push(n.clone());
        }
        for (o, hidden, ty) in &expanded {
            if names.contains(o) {
                continue;
            }
            let (e, d) = typed(self, hidden, *ty)?;
            if d {
                dynamic.insert(o.clone());
            }
            out_exprs.push(e.alias(o.clone()));
            out_names.push(o.clone());
        }
        if let Some(ix) = &index_col {
            out_exprs.push(col(&index_hidden).alias(ix.clone()));
            out_names.push(ix.clone());
        }
        let plan = LogicalPlanBuilder::from(unnested.plan).project(out_exprs)?.build()?;
        Ok(Rel {
            plan,
            dynamic: dynamic.into_iter().filter(|n| out_names.contains(n)).collect(),
            ordered: false,
            order: Vec::new(),
        })
    }

    fn parse_op(
        &mut self,
        rel: Rel,
        filter: bool,
        params: &[OpParam],
        source: &Ast,
        pattern: &[ParsePart],
        span: Span,
    ) -> PResult<Rel> {
        let mut regex_kind = false;
        let mut flags = String::new();
        for p in params {
            match (p.name.name.as_str(), &p.value) {
                ("kind", Ast::Ident(i)) => regex_kind = i.name == "regex",
                ("flags", Ast::Ident(i)) => flags = i.name.clone(),
                ("flags", Ast::Literal { value: Literal::String(s), .. }) => flags = s.clone(),
                _ => {}
            }
        }
        let mut re = String::new();
        if !flags.is_empty() {
            re.push_str(&format!("(?{flags})"));
        }
        let mut captures: Vec<(String, Option<bulwark_model::KustoType>)> = Vec::new();
        for (i, part) in pattern.iter().enumerate() {
            let last = i + 1 == pattern.len();
            match part {
                ParsePart::Text(t) => {
                    if regex_kind {
                        re.push_str(t)
                    } else {
                        re.push_str(&regex_escape(t))
                    }
                }
                ParsePart::Star => re.push_str(if last { "(?:.*)" } else { "(?:.*?)" }),
                ParsePart::Column { name, ty } => {
                    let g = match ty {
                        Some(bulwark_model::KustoType::Int | bulwark_model::KustoType::Long) => {
                            "([-+]?\\d+)".to_string()
                        }
                        Some(bulwark_model::KustoType::Real) => {
                            "([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)".to_string()
                        }
                        _ if last => "(.*)".to_string(),
                        _ => "(.*?)".to_string(),
                    };
                    re.push_str(&g);
                    captures.push((name.name.clone(), *ty));
                }
            }
        }
        if regex::Regex::new(&re).is_err() {
            return fail(
                span,
                format!("the parse pattern is not a valid regular expression: {re}"),
            );
        }
        let text = self.scalar(source, &rel)?;
        let text_expr = if text.dynamic {
            self.udf("tostring_dynamic")?.call(vec![text.expr])
        } else {
            self.to_string_expr(text.expr, &rel)?
        };
        let extract = self.udf("extract")?;
        let mut cur = rel.clone();
        if filter {
            let m = self.udf("matches_regex")?.call(vec![text_expr.clone(), lit(re.clone())]);
            let plan = LogicalPlanBuilder::from(cur.plan.clone()).filter(m)?.build()?;
            cur = Rel { plan, ..cur };
        }
        let names = cur.names();
        let mut exprs: Vec<Expr> = Vec::new();
        let mut dynamic = cur.dynamic.clone();
        for n in &names {
            if captures.iter().any(|(c, _)| c == n) {
                continue;
            }
            exprs.push(col(n));
        }
        for (i, (name, ty)) in captures.iter().enumerate() {
            let e = extract.call(vec![lit(re.clone()), lit((i + 1) as i64), text_expr.clone()]);
            let e = match ty {
                None | Some(bulwark_model::KustoType::String) => e,
                Some(bulwark_model::KustoType::Dynamic) => {
                    dynamic.insert(name.clone());
                    self.udf("parse_json")?.call(vec![e])
                }
                Some(t) => self.convert_text(e, *t)?,
            };
            exprs.push(e.alias(name.clone()));
        }
        let plan = LogicalPlanBuilder::from(cur.plan.clone()).project(exprs)?.build()?;
        Ok(Rel { plan, dynamic, ordered: cur.ordered, order: cur.order })
    }

    fn parse_kv(
        &mut self,
        rel: Rel,
        source: &Ast,
        columns: &[crate::ast::ColumnDecl],
        with: &[OpParam],
        _span: Span,
    ) -> PResult<Rel> {
        let mut pair = ",".to_string();
        let mut kv = "=".to_string();
        let mut quote = "\"".to_string();
        for p in with {
            if let Ast::Literal { value: Literal::String(s), .. } = &p.value {
                match p.name.name.as_str() {
                    "pair_delimiter" => pair = s.clone(),
                    "kv_delimiter" => kv = s.clone(),
                    "quote" => quote = s.clone(),
                    _ => {}
                }
            }
        }
        let text = self.scalar(source, &rel)?;
        let text_expr = if text.dynamic {
            self.udf("tostring_dynamic")?.call(vec![text.expr])
        } else {
            self.to_string_expr(text.expr, &rel)?
        };
        let extract = self.udf("extract")?;
        let mut exprs: Vec<Expr> = rel
            .names()
            .iter()
            .filter(|n| !columns.iter().any(|c| c.name.name == **n))
            .map(|n| col(n))
            .collect();
        let p = regex_escape(&pair);
        let q = regex_escape(&quote);
        for c in columns {
            let key = regex_escape(&c.name.name);
            let kvd = regex_escape(&kv);
            // key=value up to the next pair delimiter; a quoted value may hold delimiters.
            let re = if quote.is_empty() {
                format!("(?:^|{p})\\s*{key}\\s*{kvd}\\s*([^{p}]*)", p = p)
            } else {
                format!("(?:^|{p})\\s*{key}\\s*{kvd}\\s*(?:{q}([^{q}]*){q}|([^{p}]*))")
            };
            let first = extract.call(vec![lit(re.clone()), lit(1i64), text_expr.clone()]);
            let value = if quote.is_empty() {
                first
            } else {
                let second = extract.call(vec![lit(re), lit(2i64), text_expr.clone()]);
                let empty = self.udf("isempty")?.call(vec![first.clone()]);
                datafusion::logical_expr::when(empty, second).otherwise(first)?
            };
            let trimmed = datafusion::functions::string::expr_fn::btrim(vec![value]);
            let e = match c.ty {
                bulwark_model::KustoType::String => trimmed,
                t => self.convert_text(trimmed, t)?,
            };
            exprs.push(e.alias(c.name.name.clone()));
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone()).project(exprs)?.build()?;
        let mut dynamic = rel.dynamic.clone();
        for c in columns {
            dynamic.remove(&c.name.name);
        }
        Ok(Rel { plan, dynamic, ordered: rel.ordered, order: rel.order })
    }

    fn evaluate(&mut self, rel: Rel, call: &Call, span: Span) -> PResult<Rel> {
        match call.name.name.as_str() {
            "bag_unpack" => {
                let Some(Ast::Ident(column)) = call.args.first() else {
                    return fail(
                        span,
                        "bag_unpack needs a dynamic column: evaluate bag_unpack(Column)",
                    );
                };
                if !rel.has(&column.name) {
                    return fail(column.span, format!("unknown column '{}'", column.name));
                }
                let prefix = match call.args.get(1) {
                    Some(Ast::Literal { value: Literal::String(s), .. }) => s.clone(),
                    _ => String::new(),
                };
                let probe = LogicalPlanBuilder::from(rel.plan.clone())
                    .project(vec![col(&column.name)])?
                    .build()?;
                let keys = match self.need(RequestKind::Keys, probe)? {
                    Prefetched::Keys(k) => k,
                    _ => Vec::new(),
                };
                let get = self.udf("get")?;
                let mut exprs = Vec::new();
                let mut names = Vec::new();
                for n in rel.names() {
                    if n != column.name {
                        exprs.push(col(&n));
                        names.push(n);
                    }
                }
                let mut dynamic: HashSet<String> =
                    rel.dynamic.iter().filter(|n| **n != column.name).cloned().collect();
                for k in keys {
                    let out = unique_name(&format!("{prefix}{k}"), &names);
                    exprs
                        .push(get.call(vec![col(&column.name), lit(k.clone())]).alias(out.clone()));
                    dynamic.insert(out.clone());
                    names.push(out);
                }
                let plan = LogicalPlanBuilder::from(rel.plan.clone()).project(exprs)?.build()?;
                Ok(Rel { plan, dynamic, ordered: rel.ordered, order: Vec::new() })
            }
            "pivot" => self.pivot(rel, call, span),
            other => fail(
                call.name.span,
                format!("evaluate plugin '{other}' is not supported; supported: bag_unpack, pivot"),
            ),
        }
    }

    /// `evaluate pivot(Col [, agg(expr)] [, key, …])`: one output column per distinct value of
    /// `Col` (read from the data first), holding the aggregation over the rows with that value,
    /// grouped by the keys (default: every column but `Col` and the aggregated ones).
    fn pivot(&mut self, rel: Rel, call: &Call, span: Span) -> PResult<Rel> {
        use datafusion::logical_expr::ExprFunctionExt;
        const MAX_PIVOT_COLUMNS: usize = 1_000;
        let Some(Ast::Ident(pivot)) = call.args.first() else {
            return fail(
                span,
                "pivot needs a column: evaluate pivot(Column [, aggregation] [, keys…])",
            );
        };
        if !rel.has(&pivot.name) {
            return fail(pivot.span, format!("unknown column '{}'", pivot.name));
        }
        let mut rest = call.args.iter().skip(1).peekable();
        let agg_call = match rest.peek() {
            Some(Ast::Call(c)) if super::names::is_aggregate(&c.name.name) => {
                let c = c.clone();
                rest.next();
                Some(c)
            }
            _ => None,
        };
        let mut keys: Vec<String> = Vec::new();
        for k in rest {
            match k {
                Ast::Ident(id) if rel.has(&id.name) => keys.push(id.name.clone()),
                other => return fail(other.span(), "pivot keys must be columns"),
            }
        }
        if keys.is_empty() {
            let mut used = Vec::new();
            if let Some(c) = &agg_call {
                for a in &c.args {
                    if let Ast::Ident(id) = a {
                        used.push(id.name.clone());
                    }
                }
            }
            keys = rel
                .names()
                .into_iter()
                .filter(|n| *n != pivot.name && !used.contains(n) && !n.starts_with("__kql_"))
                .collect();
        }
        let text = self
            .text_arg(Val { expr: col(&pivot.name), dynamic: rel.is_dynamic(&pivot.name) }, &rel)?;
        let probe = LogicalPlanBuilder::from(rel.plan.clone())
            .aggregate(vec![text.clone().alias("v")], Vec::<Expr>::new())?
            .sort(vec![col("v").sort(true, false)])?
            .limit(0, Some(MAX_PIVOT_COLUMNS + 1))?
            .build()?;
        let values = match self.need(RequestKind::List, probe)? {
            Prefetched::List(v) => v,
            _ => Vec::new(),
        };
        if values.len() > MAX_PIVOT_COLUMNS {
            return fail(span, format!("pivot would create more than {MAX_PIVOT_COLUMNS} columns"));
        }
        let mut aggs = Vec::new();
        let mut names: Vec<String> = keys.clone();
        let mut dynamic = HashSet::new();
        for v in values {
            let ScalarValue::Utf8(Some(value)) = v else { continue };
            let agg = match &agg_call {
                Some(c) => self.aggregate_call(c, &rel)?,
                None => Val::plain(datafusion::functions_aggregate::expr_fn::count(lit(1i64))),
            };
            let filtered = agg.expr.filter(text.clone().eq(lit(value.clone()))).build()?;
            let name = unique_name(&value, &names);
            if agg.dynamic {
                dynamic.insert(name.clone());
            }
            aggs.push(filtered.alias(name.clone()));
            names.push(name);
        }
        let group: Vec<Expr> = keys.iter().map(|k| col(k)).collect();
        for k in &keys {
            if rel.is_dynamic(k) {
                dynamic.insert(k.clone());
            }
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone()).aggregate(group, aggs)?.build()?;
        Ok(Rel { plan, dynamic, ordered: false, order: Vec::new() })
    }

    fn search_source(&mut self, op: &Operator) -> PResult<Rel> {
        let (tables, predicate, span) = match op {
            Operator::Search { tables, predicate, span, .. } => (tables.clone(), predicate, *span),
            Operator::Find { tables, predicate, span, .. } => (tables.clone(), predicate, *span),
            _ => return fail(op.span(), "not a search"),
        };
        let names: Vec<String> = if tables.is_empty() {
            let mut v: Vec<String> = self
                .engine
                .tables
                .keys()
                .filter(|n| self.engine.nonempty.as_ref().is_none_or(|s| s.contains(*n)))
                .cloned()
                .collect();
            v.sort();
            v
        } else {
            let mut v = Vec::new();
            for t in &tables {
                if t.name.contains('*') {
                    let mut m: Vec<String> = self
                        .engine
                        .tables
                        .keys()
                        .filter(|n| matches_pattern(&t.name, n))
                        .cloned()
                        .collect();
                    m.sort();
                    v.extend(m);
                } else {
                    v.push(t.name.clone());
                }
            }
            v
        };
        let mut parts = Vec::new();
        for n in names {
            let r = self.table(&Ident::new(n.clone(), span))?;
            let filtered = self.search_filter(r, predicate)?;
            parts.push((n, filtered));
        }
        if parts.is_empty() {
            return fail(span, "search has no tables to read");
        }
        self.union_inputs(parts, Some("$table".to_string()), false, span)
    }

    fn search_input(&mut self, rel: Rel, op: &Operator) -> PResult<Rel> {
        match op {
            Operator::Search { predicate, .. } | Operator::Find { predicate, .. } => {
                self.search_filter(rel, predicate)
            }
            _ => fail(op.span(), "not a search"),
        }
    }

    /// A search predicate: a bare string means "some string column has this term".
    fn search_filter(&mut self, rel: Rel, predicate: &Ast) -> PResult<Rel> {
        let pred = self.search_predicate(predicate, &rel)?;
        let plan = LogicalPlanBuilder::from(rel.plan.clone()).filter(pred)?.build()?;
        Ok(Rel { plan, ..rel })
    }

    fn search_predicate(&mut self, e: &Ast, rel: &Rel) -> PResult<Expr> {
        use crate::ast::BinOp;
        match e {
            Ast::Literal { value: Literal::String(s), .. } => {
                let has = self.udf("has")?;
                let mut any: Option<Expr> = None;
                for f in rel.plan.schema().fields() {
                    if matches!(
                        f.data_type(),
                        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                    ) {
                        let term = if s.contains('*') {
                            self.udf("contains")?.call(vec![col(f.name()), lit(s.replace('*', ""))])
                        } else {
                            has.call(vec![col(f.name()), lit(s.clone())])
                        };
                        any = Some(match any {
                            Some(a) => a.or(term),
                            None => term,
                        });
                    }
                }
                Ok(any.unwrap_or(lit(false)))
            }
            Ast::Binary { op: BinOp::And, lhs, rhs, .. } => {
                Ok(self.search_predicate(lhs, rel)?.and(self.search_predicate(rhs, rel)?))
            }
            Ast::Binary { op: BinOp::Or, lhs, rhs, .. } => {
                Ok(self.search_predicate(lhs, rel)?.or(self.search_predicate(rhs, rel)?))
            }
            Ast::Binary { op: BinOp::Str(s), lhs, rhs, span }
                if matches!(lhs.as_ref(), Ast::Star { .. }) =>
            {
                let term = Ast::Binary {
                    op: BinOp::Str(*s),
                    lhs: lhs.clone(),
                    rhs: rhs.clone(),
                    span: *span,
                };
                let _ = term;
                let Ast::Literal { value: Literal::String(t), .. } = rhs.as_ref() else {
                    return fail(*span, "search * needs a string");
                };
                self.search_predicate(
                    &Ast::Literal { value: Literal::String(t.clone()), span: *span },
                    rel,
                )
            }
            Ast::Binary { op: BinOp::Str(_) | BinOp::Eq | BinOp::EqCi, lhs, .. } if matches!(lhs.as_ref(), Ast::Ident(i) if !rel.has(&i.name)) =>
            {
                // A column this table lacks: no row of it matches.
                Ok(lit(false))
            }
            other => Ok(self.predicate(other, rel)?),
        }
    }

    fn advanced_operator(&mut self, rel: Rel, op: &Operator, span: Span) -> PResult<Rel> {
        match op {
            Operator::MakeSeries { .. } => self.make_series(rel, op),
            Operator::TopNested { .. } => self.top_nested(rel, op),
            Operator::MvApply { .. } => self.mv_apply(rel, op),
            Operator::Fork { branches, .. } => match branches.first() {
                // Only the first branch's result is returned by a single-result engine.
                Some(b) => self.tabular(b, Some(&rel)),
                None => Ok(rel),
            },
            Operator::Facet { with: Some(w), .. } => self.tabular(w, Some(&rel)),
            Operator::Facet { .. } => Ok(rel),
            Operator::Partition { by, subquery, .. } => self.partition(rel, by, subquery),
            _ => fail(span, format!("'{}' is not supported", op.keyword())),
        }
    }

    /// A DataFusion UDF of the KQL function library.
    pub(crate) fn udf(&self, name: &str) -> PResult<Arc<datafusion::logical_expr::ScalarUDF>> {
        self.fns.scalar(name).ok_or_else(|| {
            PlanError::Fail(QueryError::Plan {
                message: format!("internal: function kql_{name} is missing"),
                span: None,
            })
        })
    }

    pub(crate) fn udaf(&self, name: &str) -> PResult<Arc<datafusion::logical_expr::AggregateUDF>> {
        self.fns.aggregate(name).ok_or_else(|| {
            PlanError::Fail(QueryError::Plan {
                message: format!("internal: aggregate kql_{name} is missing"),
                span: None,
            })
        })
    }

    /// Converts a string expression to a Kusto type with `to<type>()` semantics.
    pub(crate) fn convert_text(&self, e: Expr, t: bulwark_model::KustoType) -> PResult<Expr> {
        use bulwark_model::KustoType as K;
        Ok(match t {
            K::String | K::Guid => e,
            K::Int => self.udf("toint")?.call(vec![e]),
            K::Long => self.udf("tolong")?.call(vec![e]),
            K::Real | K::Decimal => self.udf("todouble")?.call(vec![e]),
            K::Bool => self.udf("tobool")?.call(vec![e]),
            K::DateTime => self.udf("todatetime")?.call(vec![e]),
            K::TimeSpan => self.udf("totimespan")?.call(vec![e]),
            K::Dynamic => self.udf("parse_json")?.call(vec![e]),
        })
    }

    pub(crate) fn to_string_expr(&self, e: Expr, rel: &Rel) -> PResult<Expr> {
        let t = e.get_type(rel.plan.schema())?;
        if matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) {
            Ok(e)
        } else {
            Ok(self.udf("tostring")?.call(vec![e]))
        }
    }

    pub(crate) fn predicate(&mut self, e: &Ast, rel: &Rel) -> PResult<Expr> {
        let v = self.scalar(e, rel)?;
        let t = v.expr.get_type(rel.plan.schema())?;
        if t == DataType::Boolean {
            return Ok(v.expr);
        }
        if v.dynamic || matches!(t, DataType::Utf8 | DataType::Utf8View) {
            return Ok(self
                .udf("tobool")?
                .call(vec![self.udf("tostring_dynamic")?.call(vec![v.expr])])
                .is_true());
        }
        if t == DataType::Null {
            return Ok(lit(false));
        }
        fail(e.span(), format!("a filter needs a bool expression, this is {t}"))
    }
}

fn col_q(q: &str, n: &str) -> Expr {
    Expr::Column(Column::new(Some(q), n))
}

pub(crate) fn span_key(s: Span) -> (u32, u32) {
    (s.start, s.end)
}

fn scalar_f64(s: &ScalarValue) -> Option<f64> {
    match s {
        ScalarValue::Int64(Some(v)) => Some(*v as f64),
        ScalarValue::Int32(Some(v)) => Some(f64::from(*v)),
        ScalarValue::Float64(Some(v)) => Some(*v),
        _ => None,
    }
}

fn system_type(t: bulwark_model::KustoType) -> &'static str {
    use bulwark_model::KustoType as K;
    match t {
        K::Bool => "System.SByte",
        K::Int => "System.Int32",
        K::Long => "System.Int64",
        K::Real => "System.Double",
        K::Decimal => "System.Data.SqlTypes.SqlDecimal",
        K::String => "System.String",
        K::DateTime => "System.DateTime",
        K::TimeSpan => "System.TimeSpan",
        K::Guid => "System.Guid",
        K::Dynamic => "System.Object",
    }
}

pub(crate) fn regex_escape(t: &str) -> String {
    regex::escape(t)
}

/// Whether a user function's body is a scalar expression.
fn body_is_scalar(f: &FunctionDef, p: &Planner<'_>) -> bool {
    match f.body.last() {
        Some(Statement::Query(t)) if t.ops.is_empty() => match &t.source {
            Source::Expr(_) => true,
            Source::Name(id) => {
                f.params
                    .iter()
                    .any(|x| x.name.name == id.name && matches!(x.ty, ParamType::Scalar(_)))
                    || matches!(p.lookup(&id.name), Some(Binding::Value(_)))
            }
            Source::Call(c) => {
                crate::catalog::lookup(&c.name.name).is_some() && c.name.name != "materialize"
            }
            _ => false,
        },
        _ => false,
    }
}

/// Calls whose name satisfies `want`, outermost first, not descending into them or into
/// subqueries.
pub(crate) fn collect_calls(e: &Ast, want: &dyn Fn(&str) -> bool, out: &mut Vec<Call>) {
    match e {
        Ast::Call(c) if want(&c.name.name) => out.push(c.clone()),
        Ast::Call(c) => c.args.iter().for_each(|a| collect_calls(a, want, out)),
        Ast::Member { base, .. } => collect_calls(base, want, out),
        Ast::Index { base, index, .. } => {
            collect_calls(base, want, out);
            collect_calls(index, want, out);
        }
        Ast::Binary { lhs, rhs, .. } => {
            collect_calls(lhs, want, out);
            collect_calls(rhs, want, out);
        }
        Ast::Unary { expr, .. } => collect_calls(expr, want, out),
        Ast::List { expr, list, .. } => {
            collect_calls(expr, want, out);
            list.iter().for_each(|a| collect_calls(a, want, out));
        }
        Ast::Between { expr, low, high, .. } => {
            collect_calls(expr, want, out);
            collect_calls(low, want, out);
            collect_calls(high, want, out);
        }
        Ast::NamedArg { value, .. } => collect_calls(value, want, out),
        _ => {}
    }
}

/// Whether `e` names any of `names` as a column.
fn references_any(e: &Ast, names: &[String]) -> bool {
    if names.is_empty() {
        return false;
    }
    match e {
        Ast::Ident(i) => names.contains(&i.name),
        Ast::Call(c) => c.args.iter().any(|a| references_any(a, names)),
        Ast::Member { base, .. } => references_any(base, names),
        Ast::Index { base, index, .. } => {
            references_any(base, names) || references_any(index, names)
        }
        Ast::Binary { lhs, rhs, .. } => references_any(lhs, names) || references_any(rhs, names),
        Ast::Unary { expr, .. } => references_any(expr, names),
        Ast::List { expr, list, .. } => {
            references_any(expr, names) || list.iter().any(|a| references_any(a, names))
        }
        Ast::Between { expr, low, high, .. } => {
            references_any(expr, names) || references_any(low, names) || references_any(high, names)
        }
        Ast::NamedArg { value, .. } => references_any(value, names),
        _ => false,
    }
}

impl Planner<'_> {
    /// `make-series`: aggregates per (keys, bin), then one array per aggregate with a slot for
    /// every bin of `[from, to)` (missing bins hold the default), plus the axis array.
    fn make_series(&mut self, rel: Rel, op: &Operator) -> PResult<Rel> {
        let Operator::MakeSeries { aggregates, on, from, to, step, by, span, .. } = op else {
            return fail(op.span(), "not make-series");
        };
        let span = *span;
        let axis = self.scalar(on, &rel)?;
        let axis_name = crate::check::default_name(on).unwrap_or_else(|| "Column1".into());
        let schema = rel.plan.schema().clone();
        let axis_type = axis.expr.get_type(&schema)?;
        let is_time = matches!(axis_type, DataType::Timestamp(_, _));
        if !is_time && !axis_type.is_integer() && !axis_type.is_floating() {
            return fail(on.span(), "make-series needs a datetime or numeric axis");
        }
        // The axis as a number (nanoseconds for datetimes).
        let axis_num = axis.expr.clone().cast_to(&DataType::Int64, &schema)?;
        let one = self.one_row()?;
        let step_v = self.scalar(step, &one)?;
        let step_num = match self.const_value(&step_v.expr)? {
            Some(ScalarValue::DurationNanosecond(Some(v))) => v,
            Some(ScalarValue::Int64(Some(v))) => v,
            Some(ScalarValue::Int32(Some(v))) => i64::from(v),
            Some(ScalarValue::Float64(Some(v))) => v as i64,
            _ => {
                return fail(step.span(), "make-series step must be a constant timespan or number");
            }
        };
        if step_num <= 0 {
            return fail(step.span(), "make-series step must be positive");
        }
        let bound = |this: &mut Self, e: &Option<crate::ast::Expr>, max: bool| -> PResult<i64> {
            let v = match e {
                Some(e) => {
                    let v = this.scalar(e, &one)?;
                    this.const_value(&v.expr)?
                }
                None => {
                    // Not given: the data's own first/last axis value.
                    let agg = if max {
                        datafusion::functions_aggregate::expr_fn::max(axis_num.clone())
                    } else {
                        datafusion::functions_aggregate::expr_fn::min(axis_num.clone())
                    };
                    let plan = LogicalPlanBuilder::from(rel.plan.clone())
                        .aggregate(Vec::<Expr>::new(), vec![agg.alias("v")])?
                        .build()?;
                    match this.need(RequestKind::Scalar, plan)? {
                        Prefetched::Scalar(v) => Some(v),
                        _ => None,
                    }
                }
            };
            match v {
                Some(ScalarValue::TimestampNanosecond(Some(x), _)) => Ok(x),
                Some(ScalarValue::Int64(Some(x))) => Ok(if max && e.is_none() { x + 1 } else { x }),
                Some(ScalarValue::Int32(Some(x))) => Ok(i64::from(x)),
                Some(ScalarValue::Float64(Some(x))) => Ok(x as i64),
                _ => fail(span, "make-series range bounds must be constants"),
            }
        };
        let start = bound(self, from, false)?;
        let mut end = bound(self, to, true)?;
        if to.is_none() && is_time {
            end += 1;
        }
        let bins = if end > start { (end - start + step_num - 1) / step_num } else { 0 };
        if bins > 1_000_000 {
            return fail(
                span,
                format!("make-series would create {bins} bins; the limit is 1000000"),
            );
        }
        // 1. Rows in range, with their bin index.
        let bin_col = self.hidden_name("bin");
        let in_range = axis_num.clone().gt_eq(lit(start)).and(axis_num.clone().lt(lit(end)));
        let bin_expr = binary_expr(
            binary_expr(axis_num.clone(), DfOp::Minus, lit(start)),
            DfOp::Divide,
            lit(step_num),
        );
        let mut exprs: Vec<Expr> = rel.names().iter().map(|n| col(n)).collect();
        exprs.push(bin_expr.alias(bin_col.clone()));
        let binned =
            LogicalPlanBuilder::from(rel.plan.clone()).filter(in_range)?.project(exprs)?.build()?;
        let mut binned_rel = Rel::new(binned);
        binned_rel.dynamic = rel.dynamic.clone();
        // 2. Aggregate per keys and bin.
        let mut counter = 0;
        let mut key_names = Vec::new();
        let mut key_exprs = Vec::new();
        for b in by {
            let name = unique_name(&item_name(b, &mut counter), &key_names);
            let v = self.scalar(&b.expr, &binned_rel)?;
            key_exprs.push(v.expr.alias(name.clone()));
            key_names.push(name);
        }
        let mut group = key_exprs.clone();
        group.push(col(&bin_col));
        let mut agg_exprs = Vec::new();
        let mut series: Vec<(String, String, Expr)> = Vec::new();
        for (item, default) in aggregates {
            let Ast::Call(c) = &item.expr else {
                return fail(item.expr.span(), "make-series needs an aggregation here");
            };
            let v = self.aggregate_call(c, &binned_rel)?;
            let hidden = self.hidden_name("ms");
            agg_exprs.push(v.expr.alias(hidden.clone()));
            let name = aggregate_item_name(item, &mut counter);
            let d = match default {
                Some(d) => self.scalar(d, &one)?.expr,
                None => lit(0i64),
            };
            series.push((name, hidden, d));
        }
        let per_bin =
            LogicalPlanBuilder::from(binned_rel.plan).aggregate(group, agg_exprs)?.build()?;
        // 3. Per keys: the bins and values as lists, placed into the series.
        let make_list = self.udaf("make_list")?;
        let mut lists = vec![make_list.call(vec![col(&bin_col)]).alias("__kql_bins")];
        for (_, hidden, _) in &series {
            lists.push(make_list.call(vec![col(hidden)]).alias(format!("{hidden}_l")));
        }
        let grouped = LogicalPlanBuilder::from(per_bin)
            .aggregate(key_names.iter().map(|n| col(n)).collect::<Vec<_>>(), lists)?
            .build()?;
        let fill = self.udf("series_fill")?;
        let mut out: Vec<Expr> = key_names.iter().map(|n| col(n)).collect();
        let mut dynamic = HashSet::new();
        for (name, hidden, d) in &series {
            out.push(
                fill.call(vec![
                    col("__kql_bins"),
                    col(&format!("{hidden}_l")),
                    lit(bins),
                    d.clone(),
                ])
                .alias(name.clone()),
            );
            dynamic.insert(name.clone());
        }
        let axis_values: Vec<serde_json::Value> = (0..bins)
            .map(|i| {
                let v = start + i * step_num;
                if is_time {
                    serde_json::Value::String(bulwark_kql_functions::format_iso(v))
                } else {
                    serde_json::Value::from(v)
                }
            })
            .collect();
        out.push(lit(serde_json::Value::Array(axis_values).to_string()).alias(axis_name.clone()));
        dynamic.insert(axis_name);
        let plan = LogicalPlanBuilder::from(grouped).project(out)?.build()?;
        Ok(Rel { plan, dynamic, ordered: false, order: Vec::new() })
    }

    /// `top-nested N1 of A by agg1, top-nested N2 of B by agg2 …`: level k aggregates by the
    /// first k keys, keeps the rows whose earlier keys survived level k-1, and ranks within
    /// them. Output: A, agg1, B, agg2, …
    fn top_nested(&mut self, rel: Rel, op: &Operator) -> PResult<Rel> {
        use datafusion::functions_window::expr_fn::row_number;
        use datafusion::logical_expr::ExprFunctionExt;
        let Operator::TopNested { levels, span } = op else {
            return fail(op.span(), "not top-nested");
        };
        let mut counter = 0;
        let mut of_items: Vec<NamedExpr> = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut prev: Option<Rel> = None;
        for level in levels {
            if level.others.is_some() {
                return fail(*span, "top-nested `with others` is not supported");
            }
            let of_name = item_name(&level.of, &mut counter);
            let of_item = NamedExpr {
                names: vec![Ident::new(of_name.clone(), level.of.expr.span())],
                expr: level.of.expr.clone(),
            };
            let agg_name = match level.by.names.first() {
                Some(n) => n.name.clone(),
                None => format!("aggregated_{of_name}"),
            };
            let agg_item = NamedExpr {
                names: vec![Ident::new(agg_name.clone(), level.by.expr.span())],
                expr: level.by.expr.clone(),
            };
            let partition: Vec<Expr> =
                of_items.iter().filter_map(|i| i.names.first().map(|n| col(&n.name))).collect();
            of_items.push(of_item);
            let summarized = self.summarize(rel.clone(), &[agg_item], &of_items)?;
            // Keep only the groups under the previous level's survivors, with their aggregates.
            let joined = match prev.take() {
                Some(p) => {
                    let on: Vec<JoinOn> = of_items[..of_items.len() - 1]
                        .iter()
                        .filter_map(|i| i.names.first().map(|n| JoinOn::Column(n.clone())))
                        .collect();
                    self.join(p, summarized, JoinKind::Inner, &on, *span, true)?
                }
                None => summarized,
            };
            let asc = level.order == Some(SortOrder::Asc);
            let rank_name = self.hidden_name("rank");
            let rank = row_number()
                .partition_by(partition)
                .order_by(vec![col(&agg_name).sort(asc, false)])
                .build()?
                .alias(rank_name.clone());
            let mut plan = LogicalPlanBuilder::from(joined.plan.clone()).window(vec![rank])?;
            if let Some(count) = &level.count {
                let n = self.const_usize(count, *span)?;
                plan = plan.filter(col(&rank_name).lt_eq(lit(n as i64)))?;
            }
            order.push(of_name);
            order.push(agg_name);
            let keep: Vec<Expr> = order.iter().map(|n| col(n)).collect();
            let plan = plan.project(keep)?.build()?;
            let mut next = Rel::new(plan);
            next.dynamic = joined.dynamic.iter().filter(|n| order.contains(n)).cloned().collect();
            prev = Some(next);
        }
        match prev {
            Some(r) => Ok(r),
            None => fail(*span, "top-nested needs at least one level"),
        }
    }

    /// `mv-apply cols on (subquery)`: the subquery runs over each input row's expanded values.
    /// Rows are numbered, expanded, and the subquery's operators run partitioned by that
    /// number (aggregations group by it, take/top rank within it); row-wise subqueries keep
    /// the input's columns, others are joined back to them.
    fn mv_apply(&mut self, rel: Rel, op: &Operator) -> PResult<Rel> {
        use datafusion::functions_window::expr_fn::row_number;
        let Operator::MvApply { params, columns, subquery, span } = op else {
            return fail(op.span(), "not mv-apply");
        };
        let rid = self.hidden_name("row");
        let numbered = LogicalPlanBuilder::from(rel.plan.clone())
            .window(vec![row_number().alias(rid.clone())])?
            .build()?;
        let base =
            Rel { plan: numbered, dynamic: rel.dynamic.clone(), ordered: false, order: Vec::new() };
        let mut cur = self.mv_expand(base.clone(), params, columns, None)?;
        let rid_ident = Ident::new(rid.clone(), *span);
        cur = self.partitioned_ops(cur, &subquery.ops, &rid_ident)?;
        let base_cols: Vec<String> = base.names().into_iter().filter(|n| *n != rid).collect();
        if base_cols.iter().all(|n| cur.has(n)) {
            let keep: Vec<String> = cur.names().into_iter().filter(|n| *n != rid).collect();
            let mut out = self.select(cur, &keep, *span)?;
            out.ordered = false;
            return Ok(out);
        }
        // The subquery aggregated: its rows join the input row they came from.
        let expanded: Vec<String> = columns
            .iter()
            .map(|c| match &c.name {
                Some(n) => n.name.clone(),
                None => crate::check::default_name(&c.expr).unwrap_or_default(),
            })
            .collect();
        let left_cols: Vec<String> = base
            .names()
            .into_iter()
            .filter(|n| !expanded.contains(n) && !cur.has(n) || *n == rid)
            .collect();
        let left = self.select(base, &left_cols, *span)?;
        let joined =
            self.join(left, cur, JoinKind::Inner, &[JoinOn::Column(rid_ident)], *span, true)?;
        let keep: Vec<String> = joined.names().into_iter().filter(|n| *n != rid).collect();
        self.select(joined, &keep, *span)
    }

    /// Runs `ops` separately for each value of the column `key` (which every row keeps):
    /// aggregations group by it, take/top rank within it, row-wise operators run as usual.
    fn partitioned_ops(&mut self, mut cur: Rel, ops: &[Operator], key: &Ident) -> PResult<Rel> {
        use datafusion::functions_window::expr_fn::row_number;
        use datafusion::logical_expr::ExprFunctionExt;
        let rid = key.name.clone();
        let rid_ident = key.clone();
        for sub_op in ops {
            cur = match sub_op {
                Operator::Summarize { params, aggregates, by, span } => {
                    let mut keyed = vec![NamedExpr {
                        names: vec![rid_ident.clone()],
                        expr: Ast::Ident(rid_ident.clone()),
                    }];
                    keyed.extend(by.iter().cloned());
                    let op = Operator::Summarize {
                        params: params.clone(),
                        aggregates: aggregates.clone(),
                        by: keyed,
                        span: *span,
                    };
                    self.operator(cur, &op)?
                }
                Operator::Count { name, span } => {
                    let n = name.clone().unwrap_or_else(|| Ident::new("Count", *span));
                    let op = Operator::Summarize {
                        params: Vec::new(),
                        aggregates: vec![NamedExpr {
                            names: vec![n],
                            expr: Ast::Call(Call {
                                name: Ident::new("count", *span),
                                args: Vec::new(),
                                span: *span,
                            }),
                        }],
                        by: vec![NamedExpr {
                            names: vec![rid_ident.clone()],
                            expr: Ast::Ident(rid_ident.clone()),
                        }],
                        span: *span,
                    };
                    self.operator(cur, &op)?
                }
                Operator::Take { count, span } | Operator::Top { count, span, .. } => {
                    let n = self.const_usize(count, *span)?;
                    let order = match sub_op {
                        Operator::Top { by, .. } => {
                            vec![self.sort_key(by, &cur, SortOrder::Desc)?]
                        }
                        _ => Vec::new(),
                    };
                    let rank_name = self.hidden_name("rank");
                    let rank = row_number()
                        .partition_by(vec![col(&rid)])
                        .order_by(order)
                        .build()?
                        .alias(rank_name.clone());
                    let keep: Vec<Expr> = cur.names().iter().map(|n| col(n)).collect();
                    let plan = LogicalPlanBuilder::from(cur.plan.clone())
                        .window(vec![rank])?
                        .filter(col(&rank_name).lt_eq(lit(n as i64)))?
                        .project(keep)?
                        .build()?;
                    Rel { plan, ..cur }
                }
                Operator::Project { columns, span } => {
                    let mut columns = columns.clone();
                    columns.push(NamedExpr {
                        names: vec![rid_ident.clone()],
                        expr: Ast::Ident(rid_ident.clone()),
                    });
                    self.operator(cur, &Operator::Project { columns, span: *span })?
                }
                Operator::Where { .. }
                | Operator::Extend { .. }
                | Operator::Sort { .. }
                | Operator::ProjectRename { .. }
                | Operator::ProjectAway { .. }
                | Operator::Parse { .. }
                | Operator::MvExpand { .. } => self.operator(cur, sub_op)?,
                other => {
                    return fail(
                        other.span(),
                        format!("'{}' is not supported inside mv-apply", other.keyword()),
                    );
                }
            };
            if !cur.has(&rid) {
                return fail(sub_op.span(), "this operator drops the row identity mv-apply needs");
            }
        }
        Ok(cur)
    }

    /// `partition by Col (subquery)`: the subquery per value of `Col`, results together.
    fn partition(&mut self, rel: Rel, by: &Ident, sub: &TabularExpr) -> PResult<Rel> {
        if !rel.has(&by.name) {
            return fail(by.span, format!("unknown column '{}'", by.name));
        }
        let mut out = self.partitioned_ops(rel, &sub.ops, by)?;
        out.ordered = false;
        Ok(out)
    }
}
