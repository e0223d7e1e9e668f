//! The semantic checker: resolves tables against a [`SchemaRegistry`], tracks the output
//! schema (column name → Kusto type) through every operator, and checks column references,
//! function names and arity. It reports only what is certainly wrong: unknown types stay
//! unknown (`None`) and schemas that cannot be known (plugins, `bag_unpack`) become *open*,
//! accepting any column.
use crate::ast::*;
use crate::catalog::{self, Kind, Ret};
use crate::diagnostic::{Diagnostic, MAX_DIAGNOSTICS, codes};
use crate::span::Span;
use bulwark_model::{KustoType, SchemaRegistry};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// A column in a tracked schema; `ty` is `None` when it cannot be known statically.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Kusto type, if known.
    pub ty: Option<KustoType>,
}

/// The schema of a tabular expression.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Schema {
    /// Known columns in order.
    pub columns: Vec<Column>,
    /// Whether further, unknown columns may exist (references to them are accepted).
    pub open: bool,
    /// The table the rows come from, for messages.
    pub table: Option<String>,
    /// Log Analytics standard columns (`Type`, `_ResourceId` …): referable but not listed, and
    /// dropped by `project`/`summarize` as in Kusto.
    #[serde(skip)]
    pub hidden: Vec<Column>,
}

impl Schema {
    /// A closed schema from `(name, type)` pairs.
    pub fn of(cols: &[(&str, KustoType)]) -> Schema {
        Schema {
            columns: cols
                .iter()
                .map(|(n, t)| Column { name: (*n).to_string(), ty: Some(*t) })
                .collect(),
            open: false,
            table: None,
            hidden: Vec::new(),
        }
    }

    fn open() -> Schema {
        Schema { open: true, ..Schema::default() }
    }

    /// The column with exactly this name (listed or hidden).
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .or_else(|| self.hidden.iter().find(|c| c.name == name))
    }

    /// Adds or replaces a column.
    fn set(&mut self, name: String, ty: Option<KustoType>) {
        // An empty name marks a multi-column function result whose columns are not modelled.
        if name.is_empty() {
            self.open = true;
            return;
        }
        match self.columns.iter_mut().find(|c| c.name == name) {
            Some(c) => c.ty = ty,
            None => self.columns.push(Column { name, ty }),
        }
    }

    /// Adds a column, renaming it with a numeric suffix on collision (join rule).
    fn add_unique(&mut self, name: &str, ty: Option<KustoType>) {
        let mut candidate = name.to_string();
        let mut n = 1;
        while self.columns.iter().any(|c| c.name == candidate) {
            candidate = format!("{name}{n}");
            n += 1;
        }
        self.columns.push(Column { name: candidate, ty });
    }
}

/// What the checker found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckResult {
    /// Semantic diagnostics (syntax ones are in [`crate::Parsed`]).
    pub diagnostics: Vec<Diagnostic>,
    /// Schema of the query's result, when it has a tabular result.
    pub output_schema: Option<Schema>,
}

impl CheckResult {
    /// Whether no error was reported.
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks a parsed query against the registry.
pub fn check(query: &Query, registry: &SchemaRegistry) -> CheckResult {
    let mut c = Checker {
        registry,
        diags: Vec::new(),
        seen: HashSet::new(),
        scopes: vec![HashMap::new()],
        depth: 0,
        evaluations: 0,
        table_cache: HashMap::new(),
        aggregates_allowed: false,
    };
    let mut output = None;
    for s in &query.statements {
        if let Some(schema) = c.statement(s) {
            output = Some(schema);
        }
    }
    let mut diagnostics = c.diags;
    diagnostics.sort_by_key(|d| d.span().start);
    CheckResult { diagnostics, output_schema: output }
}

#[derive(Debug, Clone)]
enum Binding {
    Scalar(Option<KustoType>),
    Tabular(Schema),
    Function(Rc<FunctionDef>),
}

/// Recursion limit for checking nested functions and subqueries (user functions may recurse).
const MAX_CHECK_DEPTH: usize = 48;

struct Checker<'r> {
    registry: &'r SchemaRegistry,
    diags: Vec<Diagnostic>,
    /// (start, end, message) of reported diagnostics, for O(1) de-duplication.
    seen: HashSet<(u32, u32, String)>,
    scopes: Vec<HashMap<String, Binding>>,
    depth: usize,
    /// Whether aggregation functions are allowed in the expression being checked.
    aggregates_allowed: bool,
    /// Registry tables already converted to schemas.
    table_cache: HashMap<String, Schema>,
    /// Function bodies re-derived so far; bounded so that functions calling functions cannot
    /// make checking exponential.
    evaluations: usize,
}

/// Budget of function-body evaluations per query.
const MAX_FUNCTION_EVALUATIONS: usize = 2_000;

/// Standard columns Log Analytics adds to every table.
pub(crate) const STANDARD_COLUMNS: &[(&str, KustoType)] = &[
    ("Type", KustoType::String),
    ("TenantId", KustoType::String),
    ("SourceSystem", KustoType::String),
    ("_ResourceId", KustoType::String),
    ("_SubscriptionId", KustoType::String),
    ("_ItemId", KustoType::String),
    ("_TimeReceived", KustoType::DateTime),
    ("_BilledSize", KustoType::Real),
    ("_IsBillable", KustoType::String),
];

/// Functions that, unnamed in `extend`, add several columns named after their argument
/// (`series_stats(x)` → `series_stats_x_min`, …).
const MULTI_COLUMN: &[&str] = &[
    "series_stats",
    "series_fit_line",
    "series_fit_2lines",
    "series_stats_dynamic",
    "series_decompose",
    "series_decompose_anomalies",
    "series_decompose_forecast",
    "series_fit_line_dynamic",
    "series_periods_detect",
];

/// Names that convert a value but keep its column name (`tostring(x)` is named `x`).
pub(crate) const NAME_PRESERVING: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "toreal",
    "todouble",
    "tolower",
    "toupper",
    "todatetime",
    "tobool",
    "todynamic",
    "toguid",
    "totimespan",
    "todecimal",
    "bin",
    "floor",
    "bin_at",
    "startofday",
    "startofweek",
    "startofmonth",
    "startofyear",
    "trim",
];

pub(crate) fn default_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Ident(i) => Some(i.name.clone()),
        Expr::Member { base, name, .. } => Some(format!("{}_{}", default_name(base)?, name.name)),
        Expr::Index { base, index, .. } => match index.as_ref() {
            Expr::Literal { value: Literal::String(s), .. } => {
                Some(format!("{}_{s}", default_name(base)?))
            }
            Expr::Literal { value: Literal::Long(i), .. } => {
                Some(format!("{}_{i}", default_name(base)?))
            }
            _ => None,
        },
        // `round(Rate = x * 100)`: a named first argument names the result.
        Expr::Call(c) if matches!(c.args.first(), Some(Expr::NamedArg { .. })) => {
            match c.args.first() {
                Some(Expr::NamedArg { name, .. }) => Some(name.name.clone()),
                _ => None,
            }
        }
        Expr::Call(c) if NAME_PRESERVING.contains(&c.name.name.as_str()) => {
            // trim(chars, x) names after its second argument.
            let arg = if c.name.name == "trim" { c.args.get(1) } else { c.args.first() };
            arg.and_then(default_name)
        }
        // Other calls with exactly one column argument are named after it
        // (`format_datetime(Timestamp, 'y-M-d')` → `Timestamp`).
        Expr::Call(c) if catalog::lookup(&c.name.name).is_some_and(|i| i.kind == Kind::Scalar) => {
            let mut names = c
                .args
                .iter()
                .filter(|a| matches!(a, Expr::Ident(_) | Expr::Member { .. } | Expr::Index { .. }))
                .filter_map(default_name);
            match (names.next(), names.next()) {
                (Some(n), None) => Some(n),
                _ => None,
            }
        }
        _ => None,
    }
}

fn lit_type(l: &Literal) -> Option<KustoType> {
    Some(match l {
        Literal::Bool(_) => KustoType::Bool,
        Literal::Long(_) => KustoType::Long,
        Literal::Int(_) => KustoType::Int,
        Literal::Real(_) => KustoType::Real,
        Literal::Decimal(_) => KustoType::Decimal,
        Literal::String(_) => KustoType::String,
        Literal::DateTime(_) => KustoType::DateTime,
        Literal::TimeSpan(_) => KustoType::TimeSpan,
        Literal::Guid(_) => KustoType::Guid,
        Literal::Dynamic(_) => KustoType::Dynamic,
        Literal::Null(t) => *t,
    })
}

fn is_numeric(t: KustoType) -> bool {
    matches!(t, KustoType::Int | KustoType::Long | KustoType::Real | KustoType::Decimal)
}

fn arith(op: BinOp, l: Option<KustoType>, r: Option<KustoType>) -> Option<KustoType> {
    use KustoType as K;
    let (l, r) = (l?, r?);
    Some(match (op, l, r) {
        (BinOp::Sub, K::DateTime, K::DateTime) => K::TimeSpan,
        (BinOp::Add | BinOp::Sub, K::DateTime, K::TimeSpan) => K::DateTime,
        (BinOp::Add, K::TimeSpan, K::DateTime) => K::DateTime,
        (BinOp::Add | BinOp::Sub, K::TimeSpan, K::TimeSpan) => K::TimeSpan,
        (BinOp::Div, K::TimeSpan, K::TimeSpan) => K::Real,
        (BinOp::Mul | BinOp::Div, K::TimeSpan, n) if is_numeric(n) => K::TimeSpan,
        (BinOp::Mul, n, K::TimeSpan) if is_numeric(n) => K::TimeSpan,
        (_, K::Dynamic, _) | (_, _, K::Dynamic) => return None,
        (_, a, b) if is_numeric(a) && is_numeric(b) => {
            if a == K::Real || b == K::Real {
                K::Real
            } else if a == K::Decimal || b == K::Decimal {
                K::Decimal
            } else if a == K::Int && b == K::Int {
                K::Int
            } else {
                K::Long
            }
        }
        _ => return None,
    })
}

pub(crate) fn matches_pattern(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(p) => rest = &rest[p + part.len()..],
                None => return false,
            }
        }
    }
    true
}

impl Checker<'_> {
    fn error(&mut self, d: Diagnostic) {
        let key = (d.span().start, d.span().end, d.message.clone());
        if self.diags.len() < MAX_DIAGNOSTICS && self.seen.insert(key) {
            self.diags.push(d);
        }
    }

    /// Drops diagnostics after `len` (used to silence re-checks of function bodies).
    fn truncate_diags(&mut self, len: usize) {
        for d in self.diags.drain(len.min(self.diags.len())..) {
            self.seen.remove(&(d.span().start, d.span().end, d.message));
        }
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    fn bind(&mut self, name: &str, b: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), b);
        }
    }

    fn enter(&mut self, span: Span) -> bool {
        if self.depth >= MAX_CHECK_DEPTH {
            self.error(Diagnostic::error(
                codes::DEPTH,
                span,
                "query or function nesting too deep to check",
            ));
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Checks a statement; returns the schema if it produces a tabular result.
    fn statement(&mut self, s: &Statement) -> Option<Schema> {
        match s {
            Statement::Let { name, value, .. } => {
                let b = match value {
                    LetValue::Tabular(t) => Binding::Tabular(self.tabular(t, None)),
                    LetValue::Function(f) => {
                        self.function_body(f, Vec::new());
                        Binding::Function(Rc::new(f.clone()))
                    }
                    LetValue::Expr(e) => self.let_expr(e),
                };
                self.bind(&name.name, b);
                None
            }
            Statement::DeclareQueryParameters { params, .. } => {
                for p in params {
                    let b = match &p.ty {
                        ParamType::Scalar(t) => Binding::Scalar(Some(*t)),
                        ParamType::Tabular { .. } => Binding::Tabular(Schema::open()),
                    };
                    self.bind(&p.name.name, b);
                }
                None
            }
            Statement::Set { .. } => None,
            Statement::Query(t) => match self.body_value(t) {
                Binding::Tabular(s) => Some(s),
                _ => None,
            },
        }
    }

    /// A `let x = expr` right side: a table alias, a tabular call or a scalar.
    fn let_expr(&mut self, e: &Expr) -> Binding {
        match e {
            Expr::Ident(id) => match self.lookup(&id.name).cloned() {
                Some(Binding::Function(f)) if f.params.iter().all(|p| p.default.is_some()) => {
                    self.call_function(&f, Vec::new(), id.span)
                }
                Some(b) => b,
                None => Binding::Tabular(self.table(id)),
            },
            Expr::Call(c) if self.call_is_tabular(c) => {
                Binding::Tabular(self.tabular_call(c, None))
            }
            Expr::Call(c) => match self.lookup(&c.name.name).cloned() {
                Some(Binding::Function(f)) => {
                    self.call_args_check(&f, c);
                    let overrides = self.function_args(&f, &c.args, 0, &Schema::default());
                    self.call_function(&f, overrides, c.span)
                }
                _ => Binding::Scalar(self.expr(e, &Schema::default())),
            },
            _ => Binding::Scalar(self.expr(e, &Schema::default())),
        }
    }

    fn call_is_tabular(&self, c: &Call) -> bool {
        match c.name.name.as_str() {
            "materialize" | "table" | "view" => true,
            n => match self.lookup(n) {
                Some(Binding::Function(f)) => {
                    f.body.last().is_some_and(|s| match s {
                        Statement::Query(t) => {
                            !t.ops.is_empty() || !matches!(t.source, Source::Expr(_))
                        }
                        _ => false,
                    }) && !self.body_is_scalar(f)
                }
                Some(_) => false,
                None => catalog::lookup(n).is_none(),
            },
        }
    }

    fn body_is_scalar(&self, f: &FunctionDef) -> bool {
        match f.body.last() {
            Some(Statement::Query(t)) if t.ops.is_empty() => match &t.source {
                Source::Expr(_) => true,
                Source::Name(id) => {
                    f.params
                        .iter()
                        .any(|p| p.name.name == id.name && matches!(p.ty, ParamType::Scalar(_)))
                        || matches!(self.lookup(&id.name), Some(Binding::Scalar(_)))
                }
                Source::Call(c) => {
                    catalog::lookup(&c.name.name).is_some() && c.name.name != "materialize"
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Checks a function body with its parameters bound; reports problems once, at definition.
    fn function_body(&mut self, f: &FunctionDef, overrides: Vec<(String, Schema)>) -> Binding {
        if !self.enter(f.span) {
            return Binding::Tabular(Schema::open());
        }
        let mut scope = HashMap::new();
        for p in &f.params {
            let b = match &p.ty {
                ParamType::Scalar(t) => Binding::Scalar(Some(*t)),
                ParamType::Tabular { columns, open } => Binding::Tabular(Schema {
                    columns: columns
                        .iter()
                        .map(|c| Column { name: c.name.name.clone(), ty: Some(c.ty) })
                        .collect(),
                    open: *open,
                    table: Some(p.name.name.clone()),
                    hidden: Vec::new(),
                }),
            };
            scope.insert(p.name.name.clone(), b);
        }
        // Actual tabular arguments replace the declared parameter schemas.
        for (name, schema) in overrides {
            scope.insert(name, Binding::Tabular(schema));
        }
        self.scopes.push(scope);
        let mut result = Binding::Scalar(None);
        for s in &f.body {
            match s {
                Statement::Query(t) => result = self.body_value(t),
                other => {
                    self.statement(other);
                }
            }
        }
        self.scopes.pop();
        self.leave();
        result
    }

    /// Result of calling a user function: re-derived from its body (cheap; bodies are small).
    fn call_function(
        &mut self,
        f: &Rc<FunctionDef>,
        overrides: Vec<(String, Schema)>,
        span: Span,
    ) -> Binding {
        self.evaluations += 1;
        if self.evaluations > MAX_FUNCTION_EVALUATIONS {
            if self.evaluations == MAX_FUNCTION_EVALUATIONS + 1 {
                self.error(Diagnostic::warning(
                    codes::DEPTH,
                    span,
                    "too many nested function calls to check fully; later results are unchecked",
                ));
            }
            return Binding::Tabular(Schema::open());
        }
        // Diagnostics inside the body were reported at the definition; silence repeats.
        let before = self.diags.len();
        let r = if self.enter(span) {
            let r = self.function_body(f, overrides);
            self.leave();
            r
        } else {
            Binding::Tabular(Schema::open())
        };
        self.truncate_diags(before);
        r
    }

    /// Checks a user function's arguments; tabular ones are resolved as tables and returned
    /// as parameter overrides.
    fn function_args(
        &mut self,
        f: &FunctionDef,
        args: &[Expr],
        offset: usize,
        row: &Schema,
    ) -> Vec<(String, Schema)> {
        let mut overrides = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let (param, value) = match a {
                Expr::NamedArg { name, value, .. } => {
                    (f.params.iter().find(|p| p.name.name == name.name), value.as_ref())
                }
                other => (f.params.get(i + offset), other),
            };
            match param {
                Some(p) if matches!(p.ty, ParamType::Tabular { .. }) => {
                    let schema = match value {
                        Expr::Tabular(t) => self.tabular(t, None),
                        Expr::Ident(id) => self.table(id),
                        Expr::Call(c) => self.tabular_call(c, None),
                        other => {
                            self.expr(other, row);
                            Schema::open()
                        }
                    };
                    overrides.push((p.name.name.clone(), schema));
                }
                _ => {
                    self.arg(value, row);
                }
            }
        }
        overrides
    }

    fn call_args_check(&mut self, f: &FunctionDef, c: &Call) {
        let required = f.params.iter().filter(|p| p.default.is_none()).count();
        let n = c.args.len();
        if n < required || n > f.params.len() {
            self.error(Diagnostic::error(
                codes::ARITY,
                c.name.span,
                format!(
                    "function '{}' takes {}{} arguments, got {n}",
                    c.name.name,
                    if required == f.params.len() {
                        String::new()
                    } else {
                        format!("{required} to ")
                    },
                    f.params.len()
                ),
            ));
        }
    }

    /// A statement in a body or at top level: tabular unless it is plainly a scalar.
    fn body_value(&mut self, t: &TabularExpr) -> Binding {
        if t.ops.is_empty() {
            match &t.source {
                Source::Expr(e) => return Binding::Scalar(self.expr(e, &Schema::default())),
                Source::Name(id) => {
                    if let Some(Binding::Scalar(ty)) = self.lookup(&id.name) {
                        return Binding::Scalar(*ty);
                    }
                }
                Source::Call(c) if !self.call_is_tabular(c) => {
                    return Binding::Scalar(self.expr(&Expr::Call(c.clone()), &Schema::default()));
                }
                _ => {}
            }
        }
        Binding::Tabular(self.tabular(t, None))
    }

    /// Resolves a table name: let-bound names first, then the registry (exact case).
    fn table(&mut self, id: &Ident) -> Schema {
        match self.lookup(&id.name).cloned() {
            Some(Binding::Tabular(s)) => return s,
            Some(Binding::Function(f)) => {
                let required = f.params.iter().filter(|p| p.default.is_none()).count();
                if required > 0 {
                    self.error(Diagnostic::error(
                        codes::ARITY,
                        id.span,
                        format!("function '{}' needs {required} arguments", id.name),
                    ));
                }
                return match self.call_function(&f, Vec::new(), id.span) {
                    Binding::Tabular(s) => s,
                    _ => Schema::open(),
                };
            }
            Some(Binding::Scalar(_)) => {
                self.error(Diagnostic::error(
                    codes::UNKNOWN_TABLE,
                    id.span,
                    format!("'{}' is a scalar, not a table", id.name),
                ));
                return Schema::open();
            }
            None => {}
        }
        if id.name.contains('*') {
            // Wildcard table names (union): any matching table; schema unknown.
            let any = self.registry.tables().any(|t| matches_pattern(&id.name, t.name()));
            if !any {
                self.error(Diagnostic::error(
                    codes::UNKNOWN_TABLE,
                    id.span,
                    format!("no table matches '{}'", id.name),
                ));
            }
            return Schema::open();
        }
        match self.registry.get(&id.name) {
            Some(t) if t.name() == id.name => {
                if let Some(s) = self.table_cache.get(t.name()) {
                    return s.clone();
                }
                let columns: Vec<Column> = t
                    .columns()
                    .iter()
                    .map(|c| Column { name: c.name.clone(), ty: Some(c.ty) })
                    .collect();
                let hidden = STANDARD_COLUMNS
                    .iter()
                    .filter(|(n, _)| t.column(n).is_none())
                    .map(|(n, ty)| Column { name: (*n).to_string(), ty: Some(*ty) })
                    .collect();
                let schema =
                    Schema { columns, open: false, table: Some(t.name().to_string()), hidden };
                self.table_cache.insert(t.name().to_string(), schema.clone());
                schema
            }
            Some(t) => {
                let name = t.name().to_string();
                self.error(
                    Diagnostic::error(
                        codes::UNKNOWN_TABLE,
                        id.span,
                        format!("unknown table '{}' (table names are case-sensitive)", id.name),
                    )
                    .with_help(format!("did you mean '{name}'?")),
                );
                Schema::open()
            }
            None => {
                let mut d = Diagnostic::error(
                    codes::UNKNOWN_TABLE,
                    id.span,
                    format!("unknown table or function '{}': not in the schema registry", id.name),
                );
                let local: Vec<String> =
                    self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
                let suggestion = self.registry.suggest_table(&id.name).or_else(|| {
                    bulwark_model::text::closest(&id.name, local.iter().map(String::as_str))
                        .map(str::to_string)
                });
                d = match suggestion {
                    Some(s) => d.with_help(format!("did you mean '{s}'?")),
                    None if id.name.ends_with("_CL") => d.with_help("custom tables must be registered with a schema file"),
                    None => d.with_help("workspace functions and custom tables must be defined with `let` or registered"),
                };
                self.error(d);
                Schema::open()
            }
        }
    }

    fn tabular_call(&mut self, c: &Call, input: Option<&Schema>) -> Schema {
        match c.name.name.as_str() {
            "materialize" | "view" => match c.args.first() {
                Some(Expr::Tabular(t)) => self.tabular(t, None),
                Some(Expr::Ident(id)) => self.table(id),
                _ => Schema::open(),
            },
            "table" => match c.args.first() {
                Some(Expr::Literal { value: Literal::String(s), span }) => {
                    self.table(&Ident::new(s.clone(), *span))
                }
                _ => Schema::open(),
            },
            name => match self.lookup(name).cloned() {
                Some(Binding::Function(f)) => {
                    let mut args: Vec<&Expr> = c.args.iter().collect();
                    if input.is_some() {
                        // invoke: the input is the first tabular parameter.
                        let n = args.len() + 1;
                        let required = f.params.iter().filter(|p| p.default.is_none()).count();
                        if n < required || n > f.params.len() {
                            self.error(Diagnostic::error(
                                codes::ARITY,
                                c.name.span,
                                format!(
                                    "function '{name}' takes {} arguments, got {n}",
                                    f.params.len()
                                ),
                            ));
                        }
                    } else {
                        self.call_args_check(&f, c);
                    }
                    args.clear();
                    let mut overrides = Vec::new();
                    let offset = match input {
                        Some(schema) => {
                            if let Some(p) = f.params.first() {
                                overrides.push((p.name.name.clone(), schema.clone()));
                            }
                            1
                        }
                        None => 0,
                    };
                    overrides.extend(self.function_args(&f, &c.args, offset, &Schema::default()));
                    match self.call_function(&f, overrides, c.span) {
                        Binding::Tabular(s) => s,
                        _ => Schema::open(),
                    }
                }
                Some(Binding::Tabular(s)) => s,
                _ => {
                    let mut d = Diagnostic::error(
                        codes::UNKNOWN_TABLE,
                        c.name.span,
                        format!("unknown tabular function '{name}': not defined in the query"),
                    );
                    if let Some(s) = self.registry.suggest_table(name) {
                        d = d.with_help(format!("did you mean '{s}'?"));
                    } else {
                        d = d.with_help("workspace functions (e.g. ASIM parsers, _GetWatchlist) must be defined with `let`");
                    }
                    self.error(d);
                    Schema::open()
                }
            },
        }
    }

    fn tabular(&mut self, t: &TabularExpr, input: Option<&Schema>) -> Schema {
        if !self.enter(t.span) {
            return Schema::open();
        }
        let mut schema = match &t.source {
            Source::Name(id) if id.name == INPUT => input.cloned().unwrap_or_else(Schema::open),
            Source::Name(id) => self.table(id),
            Source::Call(c) => self.tabular_call(c, None),
            Source::Expr(e) => {
                self.error(Diagnostic::error(
                    codes::UNSUPPORTED,
                    e.span(),
                    "cross-cluster/database references are not supported; tables come from the local store",
                ));
                Schema::open()
            }
            Source::Paren(inner) => self.tabular(inner, None),
            Source::Operator(op) => self.operator(op, Schema::default()),
        };
        for op in &t.ops {
            schema = self.operator(op, schema);
        }
        self.leave();
        schema
    }

    fn unknown_column(&mut self, id: &Ident, row: &Schema) {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            // Capped: spare the suggestion search (hostile queries list thousands of names).
            return;
        }
        let table = row.table.as_deref().map(|t| format!(" in {t}")).unwrap_or_default();
        let mut d = Diagnostic::error(
            codes::UNKNOWN_COLUMN,
            id.span,
            format!("unknown column '{}'{table}", id.name),
        );
        if let Some(s) =
            bulwark_model::text::closest(&id.name, row.columns.iter().map(|c| c.name.as_str()))
        {
            d = d
                .with_label(format!("did you mean '{s}'?"))
                .with_help(format!("did you mean '{s}'?"));
            d.message = format!("unknown column '{}'{table} — did you mean '{s}'?", id.name);
        }
        self.error(d);
    }

    fn column_ref(&mut self, id: &Ident, row: &Schema) -> Option<KustoType> {
        if let Some(c) = row.get(&id.name) {
            return c.ty;
        }
        match self.lookup(&id.name) {
            Some(Binding::Scalar(t)) => return *t,
            Some(_) => return None,
            None => {}
        }
        if row.open || matches!(id.name.as_str(), "$left" | "$right" | "null") {
            return None;
        }
        self.unknown_column(id, row);
        None
    }

    /// Types a scalar expression over a row schema, reporting unknown names.
    fn expr(&mut self, e: &Expr, row: &Schema) -> Option<KustoType> {
        if !self.enter(e.span()) {
            return None;
        }
        let t = self.expr_inner(e, row);
        self.leave();
        t
    }

    fn expr_inner(&mut self, e: &Expr, row: &Schema) -> Option<KustoType> {
        match e {
            Expr::Literal { value: Literal::DateTime(text), span } => {
                if crate::time::datetime_nanos(text).is_none() {
                    self.error(
                        Diagnostic::warning(
                            codes::TYPE,
                            *span,
                            format!("datetime literal '{text}' is not in a recognised format"),
                        )
                        .with_help("use ISO 8601, e.g. datetime(2024-01-31T12:00:00Z)"),
                    );
                }
                Some(KustoType::DateTime)
            }
            Expr::Literal { value, .. } => lit_type(value),
            Expr::Ident(id) => self.column_ref(id, row),
            Expr::Star { .. } | Expr::Error { .. } => None,
            Expr::Member { base, .. } => {
                // `$left.x` / `$right.x` are resolved by the join, not here.
                if matches!(base.as_ref(), Expr::Ident(i) if i.name.starts_with('$')) {
                    return None;
                }
                self.expr(base, row);
                Some(KustoType::Dynamic)
            }
            Expr::Index { base, index, .. } => {
                self.expr(base, row);
                self.expr(index, row);
                Some(KustoType::Dynamic)
            }
            Expr::Call(c) => self.call(c, row),
            Expr::Binary { op: op @ (BinOp::And | BinOp::Or), lhs, rhs, .. } => {
                // Long `or`/`and` chains are left-deep: walk the spine iteratively so depth
                // stays flat.
                let mut rights = vec![rhs.as_ref()];
                let mut cur = lhs.as_ref();
                while let Expr::Binary { op: inner, lhs, rhs, .. } = cur {
                    if inner != op {
                        break;
                    }
                    rights.push(rhs);
                    cur = lhs;
                }
                self.expr(cur, row);
                for r in rights.into_iter().rev() {
                    self.expr(r, row);
                }
                Some(KustoType::Bool)
            }
            Expr::Binary { op, lhs, rhs, .. } => {
                let l = self.expr(lhs, row);
                let r = self.expr(rhs, row);
                match op {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                        arith(*op, l, r)
                    }
                    _ => Some(KustoType::Bool),
                }
            }
            Expr::Unary { expr, .. } => self.expr(expr, row),
            Expr::List { expr, list, .. } => {
                self.expr(expr, row);
                for item in list {
                    match item {
                        Expr::Tabular(t) => {
                            self.tabular(t, None);
                        }
                        other => {
                            self.expr(other, row);
                        }
                    }
                }
                Some(KustoType::Bool)
            }
            Expr::Between { expr, low, high, .. } => {
                self.expr(expr, row);
                self.expr(low, row);
                self.expr(high, row);
                Some(KustoType::Bool)
            }
            Expr::NamedArg { value, .. } => self.expr(value, row),
            Expr::Tabular(t) => {
                let s = self.tabular(t, None);
                match s.columns.as_slice() {
                    [only] if !s.open => only.ty,
                    _ => None,
                }
            }
        }
    }

    fn call(&mut self, c: &Call, row: &Schema) -> Option<KustoType> {
        let name = c.name.name.as_str();
        // User functions shadow builtins.
        if let Some(b) = self.lookup(name).cloned() {
            match b {
                Binding::Function(f) => {
                    self.call_args_check(&f, c);
                    let overrides = self.function_args(&f, &c.args, 0, row);
                    return match self.call_function(&f, overrides, c.span) {
                        Binding::Scalar(t) => t,
                        _ => None,
                    };
                }
                // A scalar or table named like a builtin does not hide the builtin function.
                _ if catalog::lookup(name).is_some() => {}
                _ => {
                    self.error(Diagnostic::error(
                        codes::UNKNOWN_FUNCTION,
                        c.name.span,
                        format!("'{name}' is not a function"),
                    ));
                    return None;
                }
            }
        }
        match name {
            "typeof" => {
                if let [Expr::Ident(t)] = c.args.as_slice()
                    && KustoType::parse(&t.name).is_some()
                    && row.get(&t.name).is_none()
                {
                    return Some(KustoType::String);
                }
            }
            "column_ifexists" | "columnifexists" => {
                if let Some(d) = c.args.get(1) {
                    let t = self.expr(d, row);
                    if let Some(Expr::Literal { value: Literal::String(col), .. }) = c.args.first()
                    {
                        return row.get(col).and_then(|c| c.ty).or(t);
                    }
                    return t;
                }
            }
            "toscalar" => {
                return match c.args.first() {
                    Some(Expr::Tabular(t)) => {
                        let s = self.tabular(t, None);
                        match s.columns.as_slice() {
                            [only] if !s.open => only.ty,
                            _ => None,
                        }
                    }
                    Some(other) => self.expr(other, row),
                    None => None,
                };
            }
            "materialize" | "table" => {
                self.tabular_call(c, None);
                return None;
            }
            _ => {}
        }
        let Some(info) = catalog::lookup(name) else {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_FUNCTION,
                c.name.span,
                format!("unknown function '{name}'"),
            );
            if let Some(s) = catalog::suggest(name) {
                d = d.with_help(format!("did you mean '{s}'?"));
            }
            self.error(d);
            for a in &c.args {
                self.arg(a, row);
            }
            return None;
        };
        if info.kind == Kind::Aggregate && !self.aggregates_allowed {
            self.error(
                Diagnostic::error(
                    codes::MISUSE,
                    c.name.span,
                    format!("aggregation '{name}' can only be used in summarize, make-series or top-nested"),
                )
                .with_help("compute it with summarize, then join or extend the result"),
            );
        }
        let n = c.args.len();
        if n < info.min_args || n > info.max_args {
            let range = if info.min_args == info.max_args {
                format!("{}", info.min_args)
            } else if info.max_args == usize::MAX {
                format!("at least {}", info.min_args)
            } else {
                format!("{} to {}", info.min_args, info.max_args)
            };
            self.error(Diagnostic::error(
                codes::ARITY,
                c.name.span,
                format!(
                    "function '{name}' takes {range} argument{}, got {n}",
                    if info.max_args == 1 { "" } else { "s" }
                ),
            ));
        }
        let types: Vec<Option<KustoType>> = c.args.iter().map(|a| self.arg(a, row)).collect();
        match info.ret {
            Ret::Fixed(t) => Some(t),
            Ret::Arg(i) => {
                let t = types.get(i).copied().flatten();
                if matches!(name, "iff" | "iif") {
                    t.or(types.get(2).copied().flatten())
                } else {
                    t
                }
            }
            Ret::Numeric => match types.first().copied().flatten() {
                Some(KustoType::Int | KustoType::Long) => Some(KustoType::Long),
                other => other,
            },
            Ret::Unknown => None,
        }
    }

    fn arg(&mut self, a: &Expr, row: &Schema) -> Option<KustoType> {
        match a {
            Expr::Tabular(t) => {
                self.tabular(t, None);
                None
            }
            other => self.expr(other, row),
        }
    }

    /// Output columns of `name = expr` items (project, extend, by-lists).
    fn named_columns(
        &mut self,
        items: &[NamedExpr],
        row: &Schema,
        counter: &mut usize,
    ) -> Vec<Column> {
        let mut out: Vec<Column> = Vec::new();
        // Later items may use columns defined by earlier ones (`extend a = 1, b = a + 1`).
        let mut work = row.clone();
        let mut added = 0;
        for item in items {
            for c in &out[added..] {
                if !c.name.is_empty() {
                    work.set(c.name.clone(), c.ty);
                }
            }
            added = out.len();
            let ty = self.expr(&item.expr, &work);
            if item.names.len() > 1 {
                for n in &item.names {
                    out.push(Column { name: n.name.clone(), ty: None });
                }
                continue;
            }
            if item.names.is_empty()
                && let Expr::Call(c) = &item.expr
                && MULTI_COLUMN.contains(&c.name.name.as_str())
            {
                *counter += 1;
                out.push(Column { name: String::new(), ty: None });
                continue;
            }
            let name = match item.names.first() {
                Some(n) => n.name.clone(),
                None => default_name(&item.expr).unwrap_or_else(|| {
                    *counter += 1;
                    format!("Column{counter}")
                }),
            };
            out.push(Column { name, ty });
        }
        out
    }

    /// Output columns of aggregations, with Kusto's default names.
    fn aggregate_columns(
        &mut self,
        items: &[NamedExpr],
        row: &Schema,
        counter: &mut usize,
    ) -> Vec<Column> {
        let saved = std::mem::replace(&mut self.aggregates_allowed, true);
        let out = self.aggregate_columns_inner(items, row, counter);
        self.aggregates_allowed = saved;
        out
    }

    fn aggregate_columns_inner(
        &mut self,
        items: &[NamedExpr],
        row: &Schema,
        counter: &mut usize,
    ) -> Vec<Column> {
        let mut out = Vec::new();
        for item in items {
            let ty = self.expr(&item.expr, row);
            if let Some(n) = item.names.first().filter(|_| item.names.len() == 1) {
                // arg_max(X, *) with an explicit name still expands; name applies to X.
                if let Expr::Call(c) = &item.expr
                    && let Some(extra) = self.arg_expansion(c, row)
                {
                    out.push(Column { name: n.name.clone(), ty });
                    out.extend(extra.into_iter().skip(1));
                    continue;
                }
                out.push(Column { name: n.name.clone(), ty });
                continue;
            }
            if item.names.len() > 1 {
                out.extend(item.names.iter().map(|n| Column { name: n.name.clone(), ty: None }));
                continue;
            }
            // `tostring(make_set(x))` is named after the aggregate inside: `set_x`.
            let mut target = &item.expr;
            while let Expr::Call(c) = target {
                let is_agg =
                    catalog::lookup(&c.name.name).is_some_and(|i| i.kind == Kind::Aggregate);
                match c.args.first() {
                    Some(inner @ Expr::Call(_))
                        if !is_agg && NAME_PRESERVING.contains(&c.name.name.as_str()) =>
                    {
                        target = inner
                    }
                    _ => break,
                }
            }
            let Expr::Call(c) = target else {
                let name = default_name(&item.expr).unwrap_or_else(|| {
                    *counter += 1;
                    format!("Column{counter}")
                });
                out.push(Column { name, ty });
                continue;
            };
            if let Some(cols) = self.arg_expansion(c, row) {
                out.extend(cols);
                continue;
            }
            let info = catalog::lookup(&c.name.name);
            let prefix = info.filter(|i| i.kind == Kind::Aggregate).map(|i| i.column_prefix);
            match (prefix, c.name.name.as_str()) {
                (Some(_), "percentiles" | "percentilesw") => {
                    let base = c.args.first().and_then(default_name).unwrap_or_default();
                    let skip = if c.name.name == "percentilesw" { 2 } else { 1 };
                    for p in c.args.iter().skip(skip) {
                        let v = crate::format::format_expr(p).replace(['.', '-'], "_");
                        out.push(Column { name: format!("percentile_{base}_{v}"), ty: None });
                    }
                }
                (Some(_), "percentile" | "percentilew") => {
                    let base = c.args.first().and_then(default_name).unwrap_or_default();
                    let v = c
                        .args
                        .last()
                        .map(|p| crate::format::format_expr(p).replace(['.', '-'], "_"))
                        .unwrap_or_default();
                    out.push(Column { name: format!("percentile_{base}_{v}"), ty });
                }
                (Some(p), _) => {
                    // take_any(X) / take_anyif(X, p) keep X's name; others prefix it.
                    let keeps =
                        matches!(c.name.name.as_str(), "take_any" | "take_anyif" | "any" | "anyif");
                    let name = match c.args.first().and_then(default_name) {
                        Some(arg) if keeps => arg,
                        Some(arg) if c.name.name != "countif" => format!("{p}_{arg}"),
                        _ => format!("{p}_"),
                    };
                    out.push(Column { name, ty });
                }
                (None, _) => {
                    let name = default_name(&item.expr).unwrap_or_else(|| {
                        *counter += 1;
                        format!("Column{counter}")
                    });
                    out.push(Column { name, ty });
                }
            }
        }
        out
    }

    /// `arg_max(X, *)`, `arg_max(X, a, b)`, `take_any(a, b)`, `take_any(*)`: one column per argument.
    fn arg_expansion(&mut self, c: &Call, row: &Schema) -> Option<Vec<Column>> {
        let name = c.name.name.as_str();
        let is_arg = matches!(name, "arg_max" | "arg_min" | "argmax" | "argmin");
        let is_any = matches!(name, "take_any" | "any")
            && (c.args.len() > 1 || matches!(c.args.first(), Some(Expr::Star { .. })));
        if !is_arg && !is_any {
            return None;
        }
        let mut cols = Schema::default();
        for (i, a) in c.args.iter().enumerate() {
            match a {
                Expr::Star { .. } => {
                    for col in &row.columns {
                        if cols.get(&col.name).is_none() {
                            cols.columns.push(col.clone());
                        }
                    }
                }
                other => {
                    let ty = self.expr_type_quiet(other, row);
                    let name = default_name(other).unwrap_or_else(|| {
                        format!("{}_{i}", if name.contains("max") { "max" } else { "min" })
                    });
                    cols.set(name, ty);
                }
            }
        }
        if c.args.iter().any(|a| matches!(a, Expr::Star { .. })) && row.open {
            cols.open = true;
        }
        Some(cols.columns)
    }

    /// Types an expression without reporting (it was already checked).
    fn expr_type_quiet(&mut self, e: &Expr, row: &Schema) -> Option<KustoType> {
        let before = self.diags.len();
        let t = self.expr(e, row);
        self.truncate_diags(before);
        t
    }

    fn check_names_exist(&mut self, names: &[Ident], row: &Schema) {
        for n in names {
            let found = if n.name.contains('*') {
                row.open || row.columns.iter().any(|c| matches_pattern(&n.name, &c.name))
            } else {
                row.open || row.get(&n.name).is_some()
            };
            if !found {
                if n.name.contains('*') {
                    // Kusto accepts patterns that match nothing.
                    continue;
                }
                self.unknown_column(n, row);
            }
        }
    }

    fn operator(&mut self, op: &Operator, input: Schema) -> Schema {
        // Aggregations are only allowed where an operator asks for them (summarize …).
        let saved = std::mem::replace(&mut self.aggregates_allowed, false);
        let out = self.operator_inner(op, input);
        self.aggregates_allowed = saved;
        out
    }

    fn operator_inner(&mut self, op: &Operator, input: Schema) -> Schema {
        let mut row = input;
        let mut counter = 0usize;
        match op {
            Operator::Where { predicate, .. } => {
                let t = self.expr(predicate, &row);
                if let Some(t) = t.filter(|t| !matches!(t, KustoType::Bool | KustoType::Dynamic)) {
                    self.error(Diagnostic::error(
                        codes::TYPE,
                        predicate.span(),
                        format!("'where' needs a bool predicate, found {t}"),
                    ));
                }
                row
            }
            Operator::Project { columns, .. } => {
                let cols = self.named_columns(columns, &row, &mut counter);
                // A projection still names columns of its source table.
                let mut out = Schema { table: row.table.clone(), ..Schema::default() };
                for c in cols {
                    out.set(c.name, c.ty);
                }
                out
            }
            Operator::Extend { columns, .. } | Operator::Serialize { columns, .. } => {
                let cols = self.named_columns(columns, &row, &mut counter);
                for c in cols {
                    row.set(c.name, c.ty);
                }
                row
            }
            Operator::ProjectAway { columns, .. } => {
                self.check_names_exist(columns, &row);
                row.columns.retain(|c| !columns.iter().any(|p| matches_pattern(&p.name, &c.name)));
                row
            }
            Operator::ProjectKeep { columns, .. } => {
                self.check_names_exist(columns, &row);
                row.columns.retain(|c| columns.iter().any(|p| matches_pattern(&p.name, &c.name)));
                row
            }
            Operator::ProjectRename { renames, .. } => {
                for (new, old) in renames {
                    match row.columns.iter_mut().find(|c| c.name == old.name) {
                        Some(c) => c.name = new.name.clone(),
                        None if row.open => {
                            row.columns.push(Column { name: new.name.clone(), ty: None })
                        }
                        None => self.unknown_column(old, &row),
                    }
                }
                row
            }
            Operator::ProjectReorder { columns, .. } => {
                let names: Vec<Ident> = columns.iter().map(|(c, _)| c.clone()).collect();
                self.check_names_exist(&names, &row);
                let mut first = Vec::new();
                for n in &names {
                    let mut i = 0;
                    while i < row.columns.len() {
                        if matches_pattern(&n.name, &row.columns[i].name) {
                            first.push(row.columns.remove(i));
                        } else {
                            i += 1;
                        }
                    }
                }
                first.append(&mut row.columns);
                row.columns = first;
                row
            }
            Operator::Summarize { aggregates, by, .. } => {
                let keys = self.named_columns(by, &row, &mut counter);
                let aggs = self.aggregate_columns(aggregates, &row, &mut counter);
                let mut out = Schema {
                    table: Some(format!("the output of '{}'", op.keyword())),
                    ..Schema::default()
                };
                for c in keys {
                    out.set(c.name, c.ty);
                }
                for c in aggs {
                    out.add_unique(&c.name, c.ty);
                }
                // `arg_max(T, *)` carries every input column, hidden ones included.
                let star = aggregates.iter().any(|a| {
                    matches!(&a.expr, Expr::Call(c) if c.name.name != "count" && c.args.iter().any(|x| matches!(x, Expr::Star { .. })))
                });
                if star {
                    out.open |= row.open;
                    out.hidden = row.hidden.clone();
                }
                out
            }
            Operator::Count { name, .. } => {
                let n = name.as_ref().map_or("Count".to_string(), |n| n.name.clone());
                Schema {
                    columns: vec![Column { name: n, ty: Some(KustoType::Long) }],
                    open: false,
                    table: None,
                    hidden: Vec::new(),
                }
            }
            Operator::Take { count, .. } | Operator::Sample { count, .. } => {
                self.expr(count, &Schema::default());
                row
            }
            Operator::Top { count, by, .. } => {
                self.expr(count, &Schema::default());
                self.expr(&by.expr, &row);
                row
            }
            Operator::TopNested { levels, .. } => {
                let mut out = Schema { open: true, ..Schema::default() };
                for l in levels {
                    let of = self.named_columns(std::slice::from_ref(&l.of), &row, &mut counter);
                    if let Some(o) = &l.others {
                        self.expr(o, &row);
                    }
                    let by =
                        self.aggregate_columns(std::slice::from_ref(&l.by), &row, &mut counter);
                    for c in of.into_iter().chain(by) {
                        out.set(c.name, c.ty);
                    }
                }
                out
            }
            Operator::Sort { keys, .. } => {
                for k in keys {
                    self.expr(&k.expr, &row);
                }
                row
            }
            Operator::Distinct { columns, star, .. } => {
                if *star {
                    return row;
                }
                let cols = self.named_columns(columns, &row, &mut counter);
                let mut out = Schema {
                    table: Some(format!("the output of '{}'", op.keyword())),
                    ..Schema::default()
                };
                for c in cols {
                    out.set(c.name, c.ty);
                }
                out
            }
            Operator::Join { kind, right, on, .. } | Operator::Lookup { kind, right, on, .. } => {
                let right_schema = self.tabular(right, None);
                for cond in on {
                    match cond {
                        JoinOn::Column(id) => {
                            self.column_ref_in(id, &row);
                            self.column_ref_in(id, &right_schema);
                        }
                        JoinOn::Equal { left, right: r } => {
                            self.column_ref_in(left, &row);
                            self.column_ref_in(r, &right_schema);
                        }
                        JoinOn::Expr(e) => {
                            let mut both = row.clone();
                            both.open = true;
                            self.expr(e, &both);
                        }
                    }
                }
                let is_lookup = matches!(op, Operator::Lookup { .. });
                match kind {
                    JoinKind::LeftAnti | JoinKind::LeftSemi => row,
                    JoinKind::RightAnti | JoinKind::RightSemi => right_schema,
                    _ => {
                        let keys: Vec<&str> = on
                            .iter()
                            .filter_map(|c| match c {
                                JoinOn::Column(id) => Some(id.name.as_str()),
                                _ => None,
                            })
                            .collect();
                        let mut out = row;
                        out.open |= right_schema.open;
                        for h in right_schema.hidden {
                            if out.get(&h.name).is_none() {
                                out.hidden.push(h);
                            }
                        }
                        for c in right_schema.columns {
                            if is_lookup && keys.contains(&c.name.as_str()) {
                                continue;
                            }
                            out.add_unique(&c.name, c.ty);
                        }
                        out
                    }
                }
            }
            Operator::Union { params, tables, .. } => {
                let fuzzy = params.iter().any(|p| {
                    p.name.name == "isfuzzy"
                        && matches!(p.value, Expr::Literal { value: Literal::Bool(true), .. })
                });
                let mut parts: Vec<Schema> = Vec::new();
                if !row.columns.is_empty() || row.open {
                    parts.push(row);
                }
                for t in tables {
                    let before = self.diags.len();
                    let s = self.tabular(t, None);
                    if fuzzy {
                        // isfuzzy=true: missing tables are allowed.
                        self.truncate_diags(before);
                    }
                    parts.push(s);
                }
                let mut out = Schema::default();
                if let Some(p) = params.iter().find(|p| p.name.name == "withsource")
                    && let Expr::Ident(id) = &p.value
                {
                    out.set(id.name.clone(), Some(KustoType::String));
                }
                for s in parts {
                    out.open |= s.open;
                    for c in s.columns {
                        match out.columns.iter_mut().find(|x| x.name == c.name) {
                            Some(x) if x.ty != c.ty => x.ty = None,
                            Some(_) => {}
                            None => out.columns.push(c),
                        }
                    }
                }
                out
            }
            Operator::MvExpand { params, columns, limit, .. } => {
                self.mv_expand(&mut row, params, columns);
                if let Some(l) = limit {
                    self.expr(l, &Schema::default());
                }
                row
            }
            Operator::MvApply { params, columns, subquery, .. } => {
                let mut expanded = row.clone();
                self.mv_expand(&mut expanded, params, columns);
                let sub = self.tabular(subquery, Some(&expanded));
                let mut out = row;
                out.open |= sub.open;
                for c in sub.columns {
                    out.set(c.name, c.ty);
                }
                out
            }
            Operator::Parse { source, pattern, .. } => {
                self.expr(source, &row);
                for p in pattern {
                    if let ParsePart::Column { name, ty } = p {
                        row.set(name.name.clone(), Some(ty.unwrap_or(KustoType::String)));
                    }
                }
                row
            }
            Operator::ParseKv { source, columns, .. } => {
                self.expr(source, &row);
                for c in columns {
                    row.set(c.name.name.clone(), Some(c.ty));
                }
                row
            }
            Operator::MakeSeries { aggregates, on, from, to, step, by, .. } => {
                let axis_ty = self.expr(on, &row);
                let _ = axis_ty;
                for e in [from, to].into_iter().flatten() {
                    self.expr(e, &row);
                }
                self.expr(step, &row);
                let keys = self.named_columns(by, &row, &mut counter);
                let aggs: Vec<NamedExpr> = aggregates.iter().map(|(a, _)| a.clone()).collect();
                for (_, d) in aggregates {
                    if let Some(d) = d {
                        self.expr(d, &row);
                    }
                }
                let agg_cols = self.aggregate_columns(&aggs, &row, &mut counter);
                let mut out = Schema {
                    table: Some(format!("the output of '{}'", op.keyword())),
                    ..Schema::default()
                };
                for c in keys {
                    out.set(c.name, c.ty);
                }
                if let Some(n) = default_name(on) {
                    out.set(n, Some(KustoType::Dynamic));
                }
                for c in agg_cols {
                    out.add_unique(&c.name, Some(KustoType::Dynamic));
                }
                out
            }
            Operator::Evaluate { call, .. } => {
                let name = call.name.name.as_str();
                if !catalog::PLUGINS.contains(&name) {
                    let mut d = Diagnostic::error(
                        codes::UNKNOWN_FUNCTION,
                        call.name.span,
                        format!("unknown evaluate plugin '{name}'"),
                    );
                    if let Some(s) =
                        bulwark_model::text::closest(name, catalog::PLUGINS.iter().copied())
                    {
                        d = d.with_help(format!("did you mean '{s}'?"));
                    }
                    self.error(d);
                }
                // Plugins such as pivot(key, any(value)) take aggregations as arguments.
                self.aggregates_allowed = true;
                for a in &call.args {
                    self.arg(a, &row);
                }
                if name == "bag_unpack"
                    && let Some(Expr::Ident(col)) = call.args.first()
                {
                    row.columns.retain(|c| c.name != col.name);
                }
                row.open = true;
                row
            }
            Operator::As { name, .. } => {
                self.bind(&name.name, Binding::Tabular(row.clone()));
                row
            }
            Operator::Search { tables, predicate, .. } => {
                for t in tables {
                    self.table(t);
                }
                let mut open = Schema::open();
                for c in &row.columns {
                    open.columns.push(c.clone());
                }
                self.expr(predicate, &open);
                open.set("$table".into(), Some(KustoType::String));
                open
            }
            Operator::Find { tables, predicate, .. } => {
                for t in tables {
                    self.table(t);
                }
                self.expr(predicate, &Schema::open());
                let mut out = Schema::open();
                out.set("source_".into(), Some(KustoType::String));
                out.set("pack_".into(), Some(KustoType::Dynamic));
                out
            }
            Operator::Render { .. } => row,
            Operator::Invoke { call, .. } => self.tabular_call(call, Some(&row)),
            Operator::GetSchema { .. } => Schema::of(&[
                ("ColumnName", KustoType::String),
                ("ColumnOrdinal", KustoType::Int),
                ("DataType", KustoType::String),
                ("ColumnType", KustoType::String),
            ]),
            Operator::SampleDistinct { count, of, .. } => {
                self.expr(count, &Schema::default());
                let t = self.expr(of, &row);
                let name = default_name(of).unwrap_or_else(|| "Column1".into());
                Schema {
                    columns: vec![Column { name, ty: t }],
                    open: false,
                    table: row.table,
                    hidden: Vec::new(),
                }
            }
            Operator::Range { column, from, to, step, .. } => {
                let empty = Schema::default();
                let t = self.expr(from, &empty);
                self.expr(to, &empty);
                self.expr(step, &empty);
                Schema {
                    columns: vec![Column { name: column.name.clone(), ty: t }],
                    open: false,
                    table: None,
                    hidden: Vec::new(),
                }
            }
            Operator::Print { columns, .. } => {
                let mut out = Schema::default();
                for (i, item) in columns.iter().enumerate() {
                    let ty = self.expr(&item.expr, &Schema::default());
                    let name =
                        item.names.first().map_or_else(|| format!("print_{i}"), |n| n.name.clone());
                    out.set(name, ty);
                }
                out
            }
            Operator::Datatable { columns, values, .. } => {
                for v in values {
                    self.expr(v, &Schema::default());
                }
                if !columns.is_empty() && values.len() % columns.len() != 0 {
                    self.error(Diagnostic::error(
                        codes::TYPE,
                        op.span(),
                        format!(
                            "datatable has {} values, not a multiple of its {} columns",
                            values.len(),
                            columns.len()
                        ),
                    ));
                }
                Schema {
                    columns: columns
                        .iter()
                        .map(|c| Column { name: c.name.name.clone(), ty: Some(c.ty) })
                        .collect(),
                    open: false,
                    table: None,
                    hidden: Vec::new(),
                }
            }
            Operator::ExternalData { columns, .. } => {
                // The schema is declared inline, so the query is schema-valid; running it is
                // what Bulwark cannot do (no network at run time): a warning for the planner.
                self.error(
                    Diagnostic::warning(
                        codes::UNSUPPORTED,
                        op.span(),
                        "externaldata reads remote storage, which Bulwark does not execute",
                    )
                    .with_help("load the data into a local table instead"),
                );
                Schema {
                    columns: columns
                        .iter()
                        .map(|c| Column { name: c.name.name.clone(), ty: Some(c.ty) })
                        .collect(),
                    open: false,
                    table: None,
                    hidden: Vec::new(),
                }
            }
            Operator::Facet { columns, with, .. } => {
                self.check_names_exist(columns, &row);
                if let Some(w) = with {
                    self.tabular(w, Some(&row));
                }
                Schema::open()
            }
            Operator::Fork { branches, .. } => {
                let mut last = Schema::open();
                for b in branches {
                    last = self.tabular(b, Some(&row));
                }
                last
            }
            Operator::Partition { by, subquery, .. } => {
                self.column_ref_in(by, &row);
                self.tabular(subquery, Some(&row))
            }
            Operator::Other { name, .. } => {
                self.error(Diagnostic::error(
                    codes::UNSUPPORTED,
                    name.span,
                    format!("operator '{}' is not supported", name.name),
                ));
                Schema::open()
            }
        }
    }

    fn column_ref_in(&mut self, id: &Ident, row: &Schema) {
        if row.get(&id.name).is_none() && !row.open {
            self.unknown_column(id, row);
        }
    }

    fn mv_expand(&mut self, row: &mut Schema, params: &[OpParam], columns: &[MvExpandColumn]) {
        for c in columns {
            let ty = self.expr(&c.expr, row);
            let _ = ty;
            let name = c.name.as_ref().map(|n| n.name.clone()).or_else(|| default_name(&c.expr));
            let out_ty = c.to_type.or(Some(KustoType::Dynamic));
            match name {
                Some(n) => row.set(n, out_ty),
                None => row.open = true,
            }
        }
        if let Some(p) = params.iter().find(|p| p.name.name == "with_itemindex")
            && let Expr::Ident(id) = &p.value
        {
            row.set(id.name.clone(), Some(KustoType::Long));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_kusto_wildcards() {
        assert!(matches_pattern("Account*", "AccountName"));
        assert!(matches_pattern("*Name", "AccountName"));
        assert!(matches_pattern("A*N*e", "AccountName"));
        assert!(!matches_pattern("Device*", "AccountName"));
        assert!(matches_pattern("X", "X"));
    }

    #[test]
    fn arithmetic_types() {
        use KustoType as K;
        assert_eq!(arith(BinOp::Sub, Some(K::DateTime), Some(K::DateTime)), Some(K::TimeSpan));
        assert_eq!(arith(BinOp::Add, Some(K::Long), Some(K::Real)), Some(K::Real));
        assert_eq!(arith(BinOp::Add, Some(K::String), Some(K::Real)), None);
    }
}
