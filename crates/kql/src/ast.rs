//! The KQL syntax tree: statements, one [`Operator`] enum for tabular operators and one
//! [`Expr`] enum for scalars. Every node carries a [`Span`]; spans compare equal, so `==` is
//! structural. Tabular subqueries inside scalars (`toscalar(T | …)`, `x in (T | …)`) are
//! [`Expr::Tabular`].
use crate::span::Span;
use bulwark_model::KustoType;

/// The source name of pipelines that start without a table (`mv-apply … on (…)`, `fork`,
/// `facet … with (…)`): they read the enclosing operator's input rows.
pub const INPUT: &str = "$input";

/// A name as written (brackets and quotes removed).
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

impl Ident {
    /// An identifier.
    pub fn new(name: impl Into<String>, span: Span) -> Ident {
        Ident { name: name.into(), span }
    }
}

/// A whole query text: statements separated by `;`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// The statements in order; usually lets followed by one tabular expression.
    pub statements: Vec<Statement>,
    /// The whole text.
    pub span: Span,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `let name = value`.
    Let {
        /// Bound name.
        name: Ident,
        /// What it is bound to.
        value: LetValue,
        /// Statement span.
        span: Span,
    },
    /// `declare query_parameters(name:type = default, …)`.
    DeclareQueryParameters {
        /// Declared parameters.
        params: Vec<Param>,
        /// Statement span.
        span: Span,
    },
    /// `set name [= value]`.
    Set {
        /// Option name (may be dotted).
        name: Ident,
        /// Value, if given.
        value: Option<Expr>,
        /// Statement span.
        span: Span,
    },
    /// A query (tabular expression) whose result is returned.
    Query(TabularExpr),
}

impl Statement {
    /// The statement's span.
    pub fn span(&self) -> Span {
        match self {
            Statement::Let { span, .. }
            | Statement::DeclareQueryParameters { span, .. }
            | Statement::Set { span, .. } => *span,
            Statement::Query(t) => t.span,
        }
    }
}

/// The right-hand side of `let`.
#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    /// A scalar expression, or a bare name/call that may denote a table (decided by the checker).
    Expr(Expr),
    /// A tabular expression (has pipes or starts with a tabular operator).
    Tabular(TabularExpr),
    /// A user function `(params) { body }`.
    Function(FunctionDef),
}

/// A user-defined function (lambda) bound by `let`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// Parameters.
    pub params: Vec<Param>,
    /// Body statements: inner lets then the result.
    pub body: Vec<Statement>,
    /// Span of `(params) { body }`.
    pub span: Span,
}

/// A declared parameter `name: type [= default]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name.
    pub name: Ident,
    /// Declared type.
    pub ty: ParamType,
    /// Default value.
    pub default: Option<Expr>,
}

/// A parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    /// A scalar type.
    Scalar(KustoType),
    /// A tabular parameter `(*)` or `(col:type, …)`; `open` when `*` appears.
    Tabular {
        /// Required columns.
        columns: Vec<ColumnDecl>,
        /// Whether other columns are allowed.
        open: bool,
    },
}

/// A column declaration `name: type` (datatable, externaldata, tabular parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDecl {
    /// Column name.
    pub name: Ident,
    /// Its type.
    pub ty: KustoType,
}

/// A source followed by piped operators.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularExpr {
    /// Where rows come from.
    pub source: Source,
    /// `| op` in order.
    pub ops: Vec<Operator>,
    /// Whole expression.
    pub span: Span,
}

/// The start of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A table, let-bound tabular name or parameterless function.
    Name(Ident),
    /// A call such as `materialize(T)`, `_GetWatchlist('x')`, `imAuthentication(starttime=…)`.
    Call(Call),
    /// Other expressions used as a table (e.g. `database("db").T`).
    Expr(Box<Expr>),
    /// `( tabular )`.
    Paren(Box<TabularExpr>),
    /// A data-producing operator: `union`, `datatable`, `range`, `print`, `search`, `find`,
    /// `externaldata`, `evaluate`.
    Operator(Box<Operator>),
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Function name (namespaced names keep their dots, e.g. `geo_info_from_ip_address`).
    pub name: Ident,
    /// Arguments; named ones are [`Expr::NamedArg`], `*` is [`Expr::Star`].
    pub args: Vec<Expr>,
    /// Whole call.
    pub span: Span,
}

/// `name = expr` or bare `expr` in project/extend/summarize lists.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedExpr {
    /// Explicit names (`(a, b) = f()` has two).
    pub names: Vec<Ident>,
    /// The value.
    pub expr: Expr,
}

/// A sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// Sorted expression.
    pub expr: Expr,
    /// `asc`/`desc` written (Kusto's default is descending).
    pub order: Option<SortOrder>,
    /// `nulls first`/`nulls last` written.
    pub nulls: Option<NullsOrder>,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `asc`.
    Asc,
    /// `desc`.
    Desc,
}

/// Where nulls sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullsOrder {
    /// `nulls first`.
    First,
    /// `nulls last`.
    Last,
}

/// An operator parameter `name = value` such as `kind=leftouter`, `hint.strategy=shuffle`,
/// `withsource=T`, `isfuzzy=true`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpParam {
    /// Parameter name (dotted for hints).
    pub name: Ident,
    /// Value (identifiers become [`Expr::Ident`]).
    pub value: Expr,
}

/// Join flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Kusto's default: dedupe left keys, then inner.
    InnerUnique,
    /// Inner join.
    Inner,
    /// Left outer.
    LeftOuter,
    /// Right outer.
    RightOuter,
    /// Full outer.
    FullOuter,
    /// Left rows without match (`leftanti`, `anti`, `leftantisemi`).
    LeftAnti,
    /// Right rows without match.
    RightAnti,
    /// Left rows with match.
    LeftSemi,
    /// Right rows with match.
    RightSemi,
}

impl JoinKind {
    /// Parses a `kind=` value.
    pub fn parse(s: &str) -> Option<JoinKind> {
        Some(match s {
            "innerunique" => JoinKind::InnerUnique,
            "inner" => JoinKind::Inner,
            "leftouter" => JoinKind::LeftOuter,
            "rightouter" => JoinKind::RightOuter,
            "fullouter" | "outer" => JoinKind::FullOuter,
            "leftanti" | "anti" | "leftantisemi" => JoinKind::LeftAnti,
            "rightanti" | "rightantisemi" => JoinKind::RightAnti,
            "leftsemi" | "semi" => JoinKind::LeftSemi,
            "rightsemi" => JoinKind::RightSemi,
            _ => return None,
        })
    }

    /// The canonical keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinKind::InnerUnique => "innerunique",
            JoinKind::Inner => "inner",
            JoinKind::LeftOuter => "leftouter",
            JoinKind::RightOuter => "rightouter",
            JoinKind::FullOuter => "fullouter",
            JoinKind::LeftAnti => "leftanti",
            JoinKind::RightAnti => "rightanti",
            JoinKind::LeftSemi => "leftsemi",
            JoinKind::RightSemi => "rightsemi",
        }
    }
}

/// A join condition.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinOn {
    /// `on Col`: same name on both sides.
    Column(Ident),
    /// `on $left.a == $right.b`.
    Equal {
        /// Left column.
        left: Ident,
        /// Right column.
        right: Ident,
    },
    /// Any other condition (e.g. `where` style predicates in `lookup`), kept for the checker.
    Expr(Expr),
}

/// One `mv-expand` column: `[name =] expr [to typeof(t)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MvExpandColumn {
    /// New name.
    pub name: Option<Ident>,
    /// Expanded expression.
    pub expr: Expr,
    /// `to typeof(t)`.
    pub to_type: Option<KustoType>,
}

/// A piece of a `parse` pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsePart {
    /// A literal text to match.
    Text(String),
    /// A column to capture, with optional type.
    Column {
        /// Column name.
        name: Ident,
        /// Declared type (default string).
        ty: Option<KustoType>,
    },
    /// `*`: skip anything.
    Star,
}

/// A `top-nested` level.
#[derive(Debug, Clone, PartialEq)]
pub struct TopNestedLevel {
    /// `top-nested N of`.
    pub count: Option<Expr>,
    /// `of expr` (optionally named).
    pub of: NamedExpr,
    /// `with others = expr`.
    pub others: Option<Expr>,
    /// `by [name =] aggregation`.
    pub by: NamedExpr,
    /// `asc`/`desc`.
    pub order: Option<SortOrder>,
}

/// Every tabular operator, the unit the planner lowers.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `where`/`filter`.
    Where {
        /// Predicate.
        predicate: Expr,
        /// Span.
        span: Span,
    },
    /// `project`.
    Project {
        /// Output columns.
        columns: Vec<NamedExpr>,
        /// Span.
        span: Span,
    },
    /// `project-away`, with wildcards kept as text (`Col*`).
    ProjectAway {
        /// Column names or patterns.
        columns: Vec<Ident>,
        /// Span.
        span: Span,
    },
    /// `project-keep`.
    ProjectKeep {
        /// Column names or patterns.
        columns: Vec<Ident>,
        /// Span.
        span: Span,
    },
    /// `project-rename new = old, …`.
    ProjectRename {
        /// `(new, old)` pairs.
        renames: Vec<(Ident, Ident)>,
        /// Span.
        span: Span,
    },
    /// `project-reorder a, b asc, c*`.
    ProjectReorder {
        /// Columns/patterns with optional order.
        columns: Vec<(Ident, Option<SortOrder>)>,
        /// Span.
        span: Span,
    },
    /// `extend`.
    Extend {
        /// Added or replaced columns.
        columns: Vec<NamedExpr>,
        /// Span.
        span: Span,
    },
    /// `summarize [hints] aggs [by keys]`.
    Summarize {
        /// Hints such as `hint.shufflekey`.
        params: Vec<OpParam>,
        /// Aggregations.
        aggregates: Vec<NamedExpr>,
        /// Group keys.
        by: Vec<NamedExpr>,
        /// Span.
        span: Span,
    },
    /// `count [as name]`.
    Count {
        /// Output column name (default `Count`).
        name: Option<Ident>,
        /// Span.
        span: Span,
    },
    /// `take`/`limit`.
    Take {
        /// Row count.
        count: Expr,
        /// Span.
        span: Span,
    },
    /// `top N by expr [asc|desc] [nulls …]`.
    Top {
        /// Row count.
        count: Expr,
        /// Sort key.
        by: SortKey,
        /// Span.
        span: Span,
    },
    /// `top-nested` levels.
    TopNested {
        /// The levels, outermost first.
        levels: Vec<TopNestedLevel>,
        /// Span.
        span: Span,
    },
    /// `sort by`/`order by`.
    Sort {
        /// Keys.
        keys: Vec<SortKey>,
        /// Span.
        span: Span,
    },
    /// `distinct a, b` or `distinct *`.
    Distinct {
        /// Columns; empty with `star` for `*`.
        columns: Vec<NamedExpr>,
        /// Whether `*` was written.
        star: bool,
        /// Span.
        span: Span,
    },
    /// `join [kind=…] [hints] (right) on …`.
    Join {
        /// Parameters other than `kind` (hints).
        params: Vec<OpParam>,
        /// Join flavour.
        kind: JoinKind,
        /// Right side.
        right: Box<TabularExpr>,
        /// Conditions (conjunction).
        on: Vec<JoinOn>,
        /// Span.
        span: Span,
    },
    /// `lookup [kind=leftouter|inner] (right) on …`.
    Lookup {
        /// Parameters other than `kind`.
        params: Vec<OpParam>,
        /// `LeftOuter` (default) or `Inner`.
        kind: JoinKind,
        /// Dimension table.
        right: Box<TabularExpr>,
        /// Conditions.
        on: Vec<JoinOn>,
        /// Span.
        span: Span,
    },
    /// `union [params] T1, T2, Pattern*`.
    Union {
        /// `withsource=`, `isfuzzy=`, `kind=`.
        params: Vec<OpParam>,
        /// Tables; wildcard names stay [`Source::Name`] with `*` in the text.
        tables: Vec<TabularExpr>,
        /// Span.
        span: Span,
    },
    /// `mv-expand [params] cols [limit n]`.
    MvExpand {
        /// `bagexpansion=`, `with_itemindex=`, `kind=`.
        params: Vec<OpParam>,
        /// Expanded columns.
        columns: Vec<MvExpandColumn>,
        /// `limit N`.
        limit: Option<Expr>,
        /// Span.
        span: Span,
    },
    /// `mv-apply cols on (subquery)`.
    MvApply {
        /// Parameters.
        params: Vec<OpParam>,
        /// Applied columns.
        columns: Vec<MvExpandColumn>,
        /// The per-row subquery (its source is [`INPUT`]: the expanded rows).
        subquery: Box<TabularExpr>,
        /// Span.
        span: Span,
    },
    /// `parse` / `parse-where`.
    Parse {
        /// `parse-where` drops rows that do not match.
        filter: bool,
        /// `kind=simple|regex|relaxed` and `flags=`.
        params: Vec<OpParam>,
        /// Parsed expression.
        source: Expr,
        /// Pattern pieces.
        pattern: Vec<ParsePart>,
        /// Span.
        span: Span,
    },
    /// `parse-kv expr as (cols) with (params)`.
    ParseKv {
        /// Parsed expression.
        source: Expr,
        /// Output columns.
        columns: Vec<ColumnDecl>,
        /// `with (pair_delimiter=…, …)`.
        with: Vec<OpParam>,
        /// Span.
        span: Span,
    },
    /// `make-series aggs on axis [from a to b] step s [by keys]` (also `in range(a, b, s)`).
    MakeSeries {
        /// `kind=nonempty`.
        params: Vec<OpParam>,
        /// Aggregations, each with optional `default = v`.
        aggregates: Vec<(NamedExpr, Option<Expr>)>,
        /// Axis column.
        on: Expr,
        /// Range start.
        from: Option<Expr>,
        /// Range end.
        to: Option<Expr>,
        /// Step.
        step: Expr,
        /// Group keys.
        by: Vec<NamedExpr>,
        /// Span.
        span: Span,
    },
    /// `evaluate [hints] plugin(args)`.
    Evaluate {
        /// Hints.
        params: Vec<OpParam>,
        /// Plugin call.
        call: Call,
        /// Span.
        span: Span,
    },
    /// `as [hint.materialized=true] Name`.
    As {
        /// Parameters.
        params: Vec<OpParam>,
        /// Bound name.
        name: Ident,
        /// Span.
        span: Span,
    },
    /// `serialize [cols]`.
    Serialize {
        /// Extended columns.
        columns: Vec<NamedExpr>,
        /// Span.
        span: Span,
    },
    /// `search [kind=…] [in (T…)] predicate`.
    Search {
        /// `kind=case_sensitive` etc.
        params: Vec<OpParam>,
        /// Tables to search (empty: all / input).
        tables: Vec<Ident>,
        /// Predicate (a bare string means "any column has").
        predicate: Expr,
        /// Span.
        span: Span,
    },
    /// `find [in (T…)] where predicate [project …]` (basic form).
    Find {
        /// Tables.
        tables: Vec<Ident>,
        /// Predicate.
        predicate: Expr,
        /// `project` columns.
        project: Vec<Ident>,
        /// Span.
        span: Span,
    },
    /// `render chart [with (…)]`, kept as a hint.
    Render {
        /// Chart kind.
        chart: Ident,
        /// Properties.
        with: Vec<OpParam>,
        /// Span.
        span: Span,
    },
    /// `invoke f(args)`.
    Invoke {
        /// Function call whose first tabular parameter is the input.
        call: Call,
        /// Span.
        span: Span,
    },
    /// `getschema`.
    GetSchema {
        /// Span.
        span: Span,
    },
    /// `sample N`.
    Sample {
        /// Row count.
        count: Expr,
        /// Span.
        span: Span,
    },
    /// `sample-distinct N of col`.
    SampleDistinct {
        /// Value count.
        count: Expr,
        /// Column.
        of: Expr,
        /// Span.
        span: Span,
    },
    /// `range col from a to b step s`.
    Range {
        /// Output column.
        column: Ident,
        /// Start.
        from: Expr,
        /// End (inclusive).
        to: Expr,
        /// Step.
        step: Expr,
        /// Span.
        span: Span,
    },
    /// `print a = 1, …`.
    Print {
        /// Columns.
        columns: Vec<NamedExpr>,
        /// Span.
        span: Span,
    },
    /// `datatable (schema) [values]`.
    Datatable {
        /// Columns.
        columns: Vec<ColumnDecl>,
        /// Values, row-major.
        values: Vec<Expr>,
        /// Span.
        span: Span,
    },
    /// `externaldata (schema) [uris] with (…)`: parsed, but flagged by the checker.
    ExternalData {
        /// Columns.
        columns: Vec<ColumnDecl>,
        /// Storage URIs.
        uris: Vec<Expr>,
        /// Properties.
        with: Vec<OpParam>,
        /// Span.
        span: Span,
    },
    /// `facet by a, b [with (subquery)]`.
    Facet {
        /// Columns.
        columns: Vec<Ident>,
        /// Applied to the input for the main result.
        with: Option<Box<TabularExpr>>,
        /// Span.
        span: Span,
    },
    /// `fork (ops) (ops)…`: each branch is a pipe without source.
    Fork {
        /// Branches (their [`Source`] is the input, written `Source::Name(INPUT)`).
        branches: Vec<TabularExpr>,
        /// Span.
        span: Span,
    },
    /// `partition [hints] by Col (ops)`: runs the subquery per value of `Col`.
    Partition {
        /// Hints such as `hint.strategy=native`.
        params: Vec<OpParam>,
        /// Partition key.
        by: Ident,
        /// Subquery over each partition (source [`INPUT`]).
        subquery: Box<TabularExpr>,
        /// Span.
        span: Span,
    },
    /// `reduce`, `scan`, etc.: kept as unparsed text, flagged by the checker.
    Other {
        /// Operator name.
        name: Ident,
        /// Raw text of the arguments.
        text: String,
        /// Span.
        span: Span,
    },
}

/// Binary operators. String operators carry their negation and case sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `==`.
    Eq,
    /// `!=` / `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `=~` (case-insensitive equality).
    EqCi,
    /// `!~`.
    NeCi,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Mod,
    /// A string operator such as `has`, `!contains_cs`, `matches regex`.
    Str(StrOp),
}

/// The string predicate family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOpKind {
    /// `has` (whole term).
    Has,
    /// `hasprefix`.
    HasPrefix,
    /// `hassuffix`.
    HasSuffix,
    /// `contains`.
    Contains,
    /// `startswith`.
    StartsWith,
    /// `endswith`.
    EndsWith,
    /// `matches regex`.
    MatchesRegex,
}

/// A string operator with flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrOp {
    /// Family.
    pub kind: StrOpKind,
    /// `!` form.
    pub negated: bool,
    /// `_cs` form.
    pub case_sensitive: bool,
}

/// Operators whose right side is a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOp {
    /// `in`.
    In,
    /// `!in`.
    NotIn,
    /// `in~`.
    InCi,
    /// `!in~`.
    NotInCi,
    /// `has_any`.
    HasAny,
    /// `has_all`.
    HasAll,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `+x`.
    Plus,
}

/// A literal value. Equality is structural: reals compare by bit pattern, so `real(nan)`
/// equals itself and trees stay comparable.
#[derive(Debug, Clone)]
pub enum Literal {
    /// `true`/`false`, `bool(x)`.
    Bool(bool),
    /// Integer; `int(5)` keeps type Int.
    Long(i64),
    /// `int(…)` literal.
    Int(i64),
    /// Real.
    Real(f64),
    /// `decimal(…)` as text.
    Decimal(String),
    /// String.
    String(String),
    /// `datetime(…)` with its text as written (trimmed), e.g. `2023-01-01T00:00:00Z`, `now`.
    DateTime(String),
    /// Timespan in nanoseconds.
    TimeSpan(i64),
    /// `guid(…)` text.
    Guid(String),
    /// `dynamic(…)` as JSON.
    Dynamic(serde_json::Value),
    /// Typed null: `int(null)`, `string(null)`…
    Null(KustoType),
}

impl PartialEq for Literal {
    fn eq(&self, other: &Literal) -> bool {
        use Literal::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a == b,
            (Long(a), Long(b)) | (Int(a), Int(b)) | (TimeSpan(a), TimeSpan(b)) => a == b,
            (Real(a), Real(b)) => a.to_bits() == b.to_bits(),
            (Decimal(a), Decimal(b))
            | (String(a), String(b))
            | (DateTime(a), DateTime(b))
            | (Guid(a), Guid(b)) => a == b,
            (Dynamic(a), Dynamic(b)) => a == b,
            (Null(a), Null(b)) => a == b,
            _ => false,
        }
    }
}

/// A scalar expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Literal.
    Literal {
        /// Value.
        value: Literal,
        /// Span.
        span: Span,
    },
    /// Column, let-bound scalar or parameter (also `$left`/`$right`).
    Ident(Ident),
    /// `*` (as in `count(*)`, `arg_max(T, *)`).
    Star {
        /// Span.
        span: Span,
    },
    /// `base.name`.
    Member {
        /// Object.
        base: Box<Expr>,
        /// Property.
        name: Ident,
        /// Span.
        span: Span,
    },
    /// `base[index]`.
    Index {
        /// Object.
        base: Box<Expr>,
        /// Index or key.
        index: Box<Expr>,
        /// Span.
        span: Span,
    },
    /// Function call.
    Call(Call),
    /// Binary operation.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left.
        lhs: Box<Expr>,
        /// Right.
        rhs: Box<Expr>,
        /// Span.
        span: Span,
    },
    /// Unary operation.
    Unary {
        /// Operator.
        op: UnaryOp,
        /// Operand.
        expr: Box<Expr>,
        /// Span.
        span: Span,
    },
    /// `x in (…)`, `x has_any (…)` and friends. A single tabular item is a subquery.
    List {
        /// Operator.
        op: ListOp,
        /// Tested value.
        expr: Box<Expr>,
        /// Candidates.
        list: Vec<Expr>,
        /// Span.
        span: Span,
    },
    /// `x [!]between (lo .. hi)`.
    Between {
        /// `!between`.
        negated: bool,
        /// Tested value.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
        /// Span.
        span: Span,
    },
    /// `name = value` inside a call's arguments.
    NamedArg {
        /// Name.
        name: Ident,
        /// Value.
        value: Box<Expr>,
        /// Span.
        span: Span,
    },
    /// A tabular subquery in scalar position.
    Tabular(Box<TabularExpr>),
    /// Placeholder after a syntax error.
    Error {
        /// Span.
        span: Span,
    },
}

impl Expr {
    /// The node's span.
    pub fn span(&self) -> Span {
        match self {
            Expr::Literal { span, .. }
            | Expr::Star { span }
            | Expr::Member { span, .. }
            | Expr::Index { span, .. }
            | Expr::Binary { span, .. }
            | Expr::Unary { span, .. }
            | Expr::List { span, .. }
            | Expr::Between { span, .. }
            | Expr::NamedArg { span, .. }
            | Expr::Error { span } => *span,
            Expr::Ident(i) => i.span,
            Expr::Call(c) => c.span,
            Expr::Tabular(t) => t.span,
        }
    }
}

impl Operator {
    /// The operator's keyword as written canonically.
    pub fn keyword(&self) -> &str {
        match self {
            Operator::Where { .. } => "where",
            Operator::Project { .. } => "project",
            Operator::ProjectAway { .. } => "project-away",
            Operator::ProjectKeep { .. } => "project-keep",
            Operator::ProjectRename { .. } => "project-rename",
            Operator::ProjectReorder { .. } => "project-reorder",
            Operator::Extend { .. } => "extend",
            Operator::Summarize { .. } => "summarize",
            Operator::Count { .. } => "count",
            Operator::Take { .. } => "take",
            Operator::Top { .. } => "top",
            Operator::TopNested { .. } => "top-nested",
            Operator::Sort { .. } => "sort",
            Operator::Distinct { .. } => "distinct",
            Operator::Join { .. } => "join",
            Operator::Lookup { .. } => "lookup",
            Operator::Union { .. } => "union",
            Operator::MvExpand { .. } => "mv-expand",
            Operator::MvApply { .. } => "mv-apply",
            Operator::Parse { filter: false, .. } => "parse",
            Operator::Parse { filter: true, .. } => "parse-where",
            Operator::ParseKv { .. } => "parse-kv",
            Operator::MakeSeries { .. } => "make-series",
            Operator::Evaluate { .. } => "evaluate",
            Operator::As { .. } => "as",
            Operator::Serialize { .. } => "serialize",
            Operator::Search { .. } => "search",
            Operator::Find { .. } => "find",
            Operator::Render { .. } => "render",
            Operator::Invoke { .. } => "invoke",
            Operator::GetSchema { .. } => "getschema",
            Operator::Sample { .. } => "sample",
            Operator::SampleDistinct { .. } => "sample-distinct",
            Operator::Range { .. } => "range",
            Operator::Print { .. } => "print",
            Operator::Datatable { .. } => "datatable",
            Operator::ExternalData { .. } => "externaldata",
            Operator::Facet { .. } => "facet",
            Operator::Fork { .. } => "fork",
            Operator::Partition { .. } => "partition",
            Operator::Other { name, .. } => &name.name,
        }
    }

    /// The operator's span.
    pub fn span(&self) -> Span {
        match self {
            Operator::Where { span, .. }
            | Operator::Project { span, .. }
            | Operator::ProjectAway { span, .. }
            | Operator::ProjectKeep { span, .. }
            | Operator::ProjectRename { span, .. }
            | Operator::ProjectReorder { span, .. }
            | Operator::Extend { span, .. }
            | Operator::Summarize { span, .. }
            | Operator::Count { span, .. }
            | Operator::Take { span, .. }
            | Operator::Top { span, .. }
            | Operator::TopNested { span, .. }
            | Operator::Sort { span, .. }
            | Operator::Distinct { span, .. }
            | Operator::Join { span, .. }
            | Operator::Lookup { span, .. }
            | Operator::Union { span, .. }
            | Operator::MvExpand { span, .. }
            | Operator::MvApply { span, .. }
            | Operator::Parse { span, .. }
            | Operator::ParseKv { span, .. }
            | Operator::MakeSeries { span, .. }
            | Operator::Evaluate { span, .. }
            | Operator::As { span, .. }
            | Operator::Serialize { span, .. }
            | Operator::Search { span, .. }
            | Operator::Find { span, .. }
            | Operator::Render { span, .. }
            | Operator::Invoke { span, .. }
            | Operator::GetSchema { span }
            | Operator::Sample { span, .. }
            | Operator::SampleDistinct { span, .. }
            | Operator::Range { span, .. }
            | Operator::Print { span, .. }
            | Operator::Datatable { span, .. }
            | Operator::ExternalData { span, .. }
            | Operator::Facet { span, .. }
            | Operator::Fork { span, .. }
            | Operator::Partition { span, .. }
            | Operator::Other { span, .. } => *span,
        }
    }
}
