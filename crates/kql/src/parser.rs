//! The recursive-descent parser: tokens to [`Query`], with precedence climbing for scalars,
//! error recovery (a bad operator is skipped up to the next `|`, a bad statement up to the next
//! `;`), a nesting-depth guard and a progress guard in every loop.
use crate::ast::*;
use crate::diagnostic::{Diagnostic, MAX_DIAGNOSTICS, codes};
use crate::lexer::{Token, TokenKind, lex};
use crate::span::Span;
use bulwark_model::KustoType;

/// Maximum nesting of expressions and subqueries before the parser reports
/// [`codes::DEPTH`] instead of recursing further.
pub const MAX_DEPTH: usize = 64;
/// Maximum operators chained at one precedence level (bounds left-deep trees).
pub const MAX_CHAIN: usize = 1000;

/// A parse result: the tree (possibly partial) and every diagnostic.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// The tree; statements that failed to parse are left out.
    pub syntax: T,
    /// Lexer and parser diagnostics in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Parsed<T> {
    /// Whether the text had no syntax errors.
    pub fn has_valid_syntax(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The tree if the syntax is valid, else the diagnostics.
    pub fn into_result(self) -> Result<T, Vec<Diagnostic>> {
        if self.has_valid_syntax() { Ok(self.syntax) } else { Err(self.diagnostics) }
    }
}

/// Parses a query text. Never panics; always returns a tree and diagnostics.
pub fn parse(text: &str) -> Parsed<Query> {
    let mut diagnostics = Vec::new();
    let tokens = lex(text, &mut diagnostics);
    let mut p = Parser { text, tokens, pos: 0, diags: diagnostics, depth: 0 };
    let query = p.query();
    let mut diagnostics = p.diags;
    diagnostics.sort_by_key(|d| d.span().start);
    Parsed { syntax: query, diagnostics }
}

/// Parses a single scalar expression (used by tests and tools).
pub fn parse_expr(text: &str) -> Parsed<Option<Expr>> {
    let mut diagnostics = Vec::new();
    let tokens = lex(text, &mut diagnostics);
    let mut p = Parser { text, tokens, pos: 0, diags: diagnostics, depth: 0 };
    let e = p.expr().ok();
    if e.is_some() && !p.at_eof() {
        let _ = p.fail::<()>("end of expression");
    }
    Parsed { syntax: e, diagnostics: p.diags }
}

/// Marker that a diagnostic was recorded and the caller should recover.
#[derive(Debug)]
struct Fail;

type PResult<T> = Result<T, Fail>;

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    depth: usize,
}

/// Names accepted as leading `name=value` operator parameters; anything else starts the
/// operator's body (so `summarize kind = count()` still names a column).
fn is_param_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("hint.")
        || matches!(
            lower.as_str(),
            "kind" | "withsource" | "isfuzzy" | "bagexpansion" | "with_itemindex" | "flags"
        )
}

fn str_op(word: &str) -> Option<StrOp> {
    let (base, cs) = match word.strip_suffix("_cs") {
        Some(b) => (b, true),
        None => (word, false),
    };
    let kind = match base {
        "has" => StrOpKind::Has,
        "hasprefix" => StrOpKind::HasPrefix,
        "hassuffix" => StrOpKind::HasSuffix,
        "contains" => StrOpKind::Contains,
        "startswith" => StrOpKind::StartsWith,
        "endswith" => StrOpKind::EndsWith,
        "containscs" => {
            return Some(StrOp { kind: StrOpKind::Contains, negated: false, case_sensitive: true });
        }
        _ => return None,
    };
    Some(StrOp { kind, negated: false, case_sensitive: cs })
}

impl<'a> Parser<'a> {
    // ----- token helpers -------------------------------------------------------------------

    fn tok(&self) -> &Token {
        self.tokens.get(self.pos).or_else(|| self.tokens.last()).unwrap_or(&EOF_TOKEN)
    }

    fn tok_at(&self, n: usize) -> &Token {
        self.tokens.get(self.pos + n).or_else(|| self.tokens.last()).unwrap_or(&EOF_TOKEN)
    }

    fn span(&self) -> Span {
        self.tok().span
    }

    fn prev_end(&self) -> Span {
        if self.pos == 0 {
            return Span::new(0, 0);
        }
        let e = self.tokens.get(self.pos - 1).map_or(0, |t| t.span.end);
        Span { start: e, end: e }
    }

    fn since(&self, start: Span) -> Span {
        start.to(self.prev_end())
    }

    fn at_eof(&self) -> bool {
        matches!(self.tok().kind, TokenKind::Eof)
    }

    /// Advances past the current token (never past end of input) and returns its span.
    fn bump(&mut self) -> Span {
        let span = self.span();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        span
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(&self.tok().kind, TokenKind::Punct(q) if *q == p)
    }

    fn is_punct_at(&self, n: usize, p: &str) -> bool {
        matches!(&self.tok_at(n).kind, TokenKind::Punct(q) if *q == p)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.tok().kind, TokenKind::Ident(s) if s == w)
    }

    fn is_word_at(&self, n: usize, w: &str) -> bool {
        matches!(&self.tok_at(n).kind, TokenKind::Ident(s) if s == w)
    }

    fn word(&self) -> Option<&str> {
        match &self.tok().kind {
            TokenKind::Ident(s) => Some(s),
            _ => None,
        }
    }

    fn word_at(&self, n: usize) -> Option<&str> {
        match &self.tok_at(n).kind {
            TokenKind::Ident(s) => Some(s),
            _ => None,
        }
    }

    /// Whether token `n` ahead starts exactly where token `n-1` ends (no whitespace).
    fn adjacent(&self, n: usize) -> bool {
        n > 0 && self.tok_at(n - 1).span.end == self.tok_at(n).span.start
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn describe(&self) -> String {
        match &self.tok().kind {
            TokenKind::Ident(s) => format!("'{s}'"),
            TokenKind::Long(_) | TokenKind::Real(_) => "a number".into(),
            TokenKind::Timespan(_) => "a timespan".into(),
            TokenKind::Str(_) => "a string".into(),
            TokenKind::Punct(p) => format!("'{p}'"),
            TokenKind::Error => "an invalid token".into(),
            TokenKind::Eof => "end of input".into(),
        }
    }

    fn report(&mut self, d: Diagnostic) {
        // One error per offset: a cascade at the same place adds nothing.
        let dup = self.diags.iter().rev().take(4).any(|e| e.span().start == d.span().start);
        if !dup && self.diags.len() < MAX_DIAGNOSTICS {
            self.diags.push(d);
        }
    }

    fn fail<T>(&mut self, expected: &str) -> PResult<T> {
        let msg = format!("expected {expected}, found {}", self.describe());
        let d = Diagnostic::error(codes::SYNTAX, self.span(), msg);
        self.report(d);
        Err(Fail)
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        if self.is_punct(p) { Ok(self.bump()) } else { self.fail(&format!("'{p}'")) }
    }

    fn expect_word(&mut self, w: &str) -> PResult<Span> {
        if self.is_word(w) { Ok(self.bump()) } else { self.fail(&format!("'{w}'")) }
    }

    fn enter(&mut self) -> PResult<DepthGuard> {
        if self.depth >= MAX_DEPTH {
            let d = Diagnostic::error(
                codes::DEPTH,
                self.span(),
                format!("query nested too deeply (limit {MAX_DEPTH})"),
            );
            self.report(d);
            return Err(Fail);
        }
        self.depth += 1;
        Ok(DepthGuard)
    }

    fn leave(&mut self, _g: DepthGuard) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Skips to the next token at bracket depth 0 that satisfies `stop` (or a closing bracket
    /// that would go below depth 0, or end of input).
    fn recover(&mut self, stop: &[&str]) {
        let mut depth = 0usize;
        loop {
            match &self.tok().kind {
                TokenKind::Eof => return,
                TokenKind::Punct(p) => {
                    if depth == 0 && stop.contains(p) {
                        return;
                    }
                    match *p {
                        "(" | "[" | "{" => depth += 1,
                        ")" | "]" | "}" => {
                            if depth == 0 {
                                return;
                            }
                            depth -= 1;
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    // ----- statements ----------------------------------------------------------------------

    fn query(&mut self) -> Query {
        let mut statements = Vec::new();
        let start = self.span();
        loop {
            while self.eat_punct(";") {}
            if self.at_eof() {
                break;
            }
            let before = self.pos;
            match self.statement() {
                Ok(s) => {
                    statements.push(s);
                    if !self.at_eof() && !self.is_punct(";") {
                        let _ = self.fail::<()>("';' or '|'");
                        self.recover(&[";"]);
                    }
                }
                Err(Fail) => self.recover(&[";"]),
            }
            if !self.at_eof() && !self.is_punct(";") && self.pos == before {
                // Progress guard: a stray closing bracket; skip it.
                self.bump();
            }
            if self.is_punct(")") || self.is_punct("]") || self.is_punct("}") {
                let _ = self.fail::<()>("a statement");
                self.bump();
            }
        }
        Query { statements, span: start.to(self.prev_end()) }
    }

    fn statement(&mut self) -> PResult<Statement> {
        let start = self.span();
        if self.is_word("let")
            && matches!(self.tok_at(1).kind, TokenKind::Ident(_) | TokenKind::Punct("["))
        {
            self.bump();
            let name = self.ident()?;
            self.expect_punct("=")?;
            let value = self.let_value()?;
            return Ok(Statement::Let { name, value, span: self.since(start) });
        }
        if self.is_word("declare") && self.is_word_at(1, "query_parameters") {
            self.bump();
            self.bump();
            self.expect_punct("(")?;
            let params = self.params(")")?;
            self.expect_punct(")")?;
            return Ok(Statement::DeclareQueryParameters { params, span: self.since(start) });
        }
        if self.is_word("set")
            && matches!(self.tok_at(1).kind, TokenKind::Ident(_))
            && !self.is_punct_at(1, "|")
        {
            self.bump();
            let name = self.dotted_name()?;
            let value = if self.eat_punct("=") { Some(self.expr()?) } else { None };
            return Ok(Statement::Set { name, value, span: self.since(start) });
        }
        let t = self.tabular()?;
        Ok(Statement::Query(t))
    }

    fn let_value(&mut self) -> PResult<LetValue> {
        if self.is_word("view") && self.is_punct_at(1, "(") {
            self.bump();
        }
        if self.is_punct("(") && self.looks_like_lambda() {
            return Ok(LetValue::Function(self.function_def()?));
        }
        match self.expr_or_tabular()? {
            Expr::Tabular(t) => Ok(LetValue::Tabular(*t)),
            e => Ok(LetValue::Expr(e)),
        }
    }

    fn looks_like_lambda(&self) -> bool {
        (self.is_punct_at(1, ")") && self.is_punct_at(2, "{"))
            || (matches!(self.tok_at(1).kind, TokenKind::Ident(_)) && self.is_punct_at(2, ":"))
    }

    fn function_def(&mut self) -> PResult<FunctionDef> {
        let start = self.expect_punct("(")?;
        let params = self.params(")")?;
        self.expect_punct(")")?;
        self.expect_punct("{")?;
        let g = self.enter()?;
        let body = self.block_body();
        self.leave(g);
        let body = body?;
        self.expect_punct("}")?;
        Ok(FunctionDef { params, body, span: self.since(start) })
    }

    fn block_body(&mut self) -> PResult<Vec<Statement>> {
        let mut body = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.is_punct("}") || self.at_eof() {
                break;
            }
            let before = self.pos;
            body.push(self.statement()?);
            if self.pos == before {
                return self.fail("a statement");
            }
            if !self.is_punct(";") && !self.is_punct("}") {
                return self.fail("';' or '}'");
            }
        }
        Ok(body)
    }

    fn params(&mut self, close: &str) -> PResult<Vec<Param>> {
        let mut params = Vec::new();
        while !self.is_punct(close) && !self.at_eof() {
            let before = self.pos;
            let name = self.ident()?;
            self.expect_punct(":")?;
            let ty = if self.is_punct("(") {
                self.bump();
                let mut columns = Vec::new();
                let mut open = false;
                while !self.is_punct(")") && !self.at_eof() {
                    let b = self.pos;
                    if self.eat_punct("*") {
                        open = true;
                    } else {
                        columns.push(self.column_decl()?);
                    }
                    if !self.eat_punct(",") {
                        break;
                    }
                    if self.pos == b {
                        break;
                    }
                }
                self.expect_punct(")")?;
                ParamType::Tabular { columns, open }
            } else {
                ParamType::Scalar(self.type_name()?)
            };
            let default = if self.eat_punct("=") { Some(self.expr()?) } else { None };
            params.push(Param { name, ty, default });
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
        }
        Ok(params)
    }

    fn type_name(&mut self) -> PResult<KustoType> {
        let span = self.span();
        let Some(w) = self.word() else { return self.fail("a type name") };
        match KustoType::parse(w) {
            Some(t) => {
                self.bump();
                Ok(t)
            }
            None => {
                let d = Diagnostic::error(codes::SYNTAX, span, format!("unknown type '{w}'"))
                    .with_help(format!("expected one of: {}", KustoType::EXPECTED));
                self.report(d);
                Err(Fail)
            }
        }
    }

    fn column_decl(&mut self) -> PResult<ColumnDecl> {
        let name = self.ident()?;
        self.expect_punct(":")?;
        let ty = self.type_name()?;
        Ok(ColumnDecl { name, ty })
    }

    fn column_decls(&mut self) -> PResult<Vec<ColumnDecl>> {
        self.expect_punct("(")?;
        let mut cols = Vec::new();
        while !self.is_punct(")") && !self.at_eof() {
            let before = self.pos;
            cols.push(self.column_decl()?);
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(cols)
    }

    // ----- names ---------------------------------------------------------------------------

    /// A plain or bracketed (`['x']`, `["x"]`) identifier.
    fn ident(&mut self) -> PResult<Ident> {
        match &self.tok().kind {
            TokenKind::Ident(s) => {
                let id = Ident::new(s.clone(), self.span());
                self.bump();
                Ok(id)
            }
            TokenKind::Punct("[")
                if matches!(self.tok_at(1).kind, TokenKind::Str(_)) && self.is_punct_at(2, "]") =>
            {
                let start = self.bump();
                let name = match &self.tok().kind {
                    TokenKind::Str(s) => s.clone(),
                    _ => String::new(),
                };
                self.bump();
                let end = self.bump();
                Ok(Ident::new(name, start.to(end)))
            }
            _ => self.fail("an identifier"),
        }
    }

    fn is_bracket_ident(&self, n: usize) -> bool {
        self.is_punct_at(n, "[")
            && matches!(self.tok_at(n + 1).kind, TokenKind::Str(_))
            && self.is_punct_at(n + 2, "]")
    }

    /// `a.b.c` as one identifier (option and hint names).
    fn dotted_name(&mut self) -> PResult<Ident> {
        let mut id = self.ident()?;
        while self.is_punct(".") && matches!(self.tok_at(1).kind, TokenKind::Ident(_)) {
            self.bump();
            let next = self.ident()?;
            id.name.push('.');
            id.name.push_str(&next.name);
            id.span = id.span.to(next.span);
        }
        Ok(id)
    }

    /// A column name or wildcard pattern such as `Col*`, `*Id`, `['a b']`.
    fn name_pattern(&mut self) -> PResult<Ident> {
        if self.is_bracket_ident(0) {
            return self.ident();
        }
        let start = self.span();
        let mut name = String::new();
        let mut n = 0;
        loop {
            let take = match &self.tok().kind {
                TokenKind::Ident(s) => Some(s.clone()),
                TokenKind::Punct("*") => Some("*".to_string()),
                TokenKind::Long(v) if n > 0 => Some(v.to_string()),
                _ => None,
            };
            match take {
                Some(t) if n == 0 || self.adjacent_prev() => {
                    name.push_str(&t);
                    self.bump();
                    n += 1;
                }
                _ => break,
            }
        }
        if n == 0 {
            return self.fail("a column name");
        }
        Ok(Ident::new(name, self.since(start)))
    }

    fn adjacent_prev(&self) -> bool {
        self.pos > 0
            && self.tokens.get(self.pos - 1).is_some_and(|p| p.span.end == self.tok().span.start)
    }

    fn name_patterns(&mut self) -> PResult<Vec<Ident>> {
        let mut out = Vec::new();
        loop {
            let before = self.pos;
            out.push(self.name_pattern()?);
            if !self.eat_punct(",") || self.pos == before || self.at_list_end() {
                break;
            }
        }
        Ok(out)
    }

    fn at_list_end(&self) -> bool {
        self.at_eof() || self.is_punct("|") || self.is_punct(";") || self.is_punct(")")
    }

    // ----- tabular expressions -------------------------------------------------------------

    fn starts_source_operator(&self) -> bool {
        let Some(w) = self.word() else { return false };
        let next = &self.tok_at(1).kind;
        match w {
            "datatable" | "externaldata" | "external_data" => {
                matches!(next, TokenKind::Punct("(")) || self.is_word_at(1, "with")
            }
            "union" => {
                matches!(next, TokenKind::Ident(_) | TokenKind::Punct("(") | TokenKind::Punct("["))
            }
            "range" => matches!(next, TokenKind::Ident(_)) && self.is_word_at(2, "from"),
            "print" => !matches!(
                next,
                TokenKind::Punct("|" | ")" | "," | ";" | "==" | "!=" | "." | "[" | "=~" | "=")
                    | TokenKind::Eof
            ),
            "search" => {
                matches!(next, TokenKind::Str(_) | TokenKind::Punct("*"))
                    || self.is_word_at(1, "in")
                    || self.is_word_at(1, "kind")
            }
            "find" => {
                self.is_word_at(1, "in")
                    || self.is_word_at(1, "where")
                    || self.is_word_at(1, "withsource")
            }
            "evaluate" => matches!(next, TokenKind::Ident(_)),
            _ => false,
        }
    }

    /// A tabular expression: a source then `| op`s.
    fn tabular(&mut self) -> PResult<TabularExpr> {
        match self.expr_or_tabular()? {
            Expr::Tabular(t) => Ok(*t),
            e => {
                let span = e.span();
                Ok(TabularExpr { source: expr_to_source(e), ops: Vec::new(), span })
            }
        }
    }

    /// An expression that may turn out to be tabular (followed by `|` or starting with a
    /// data-source operator); tabular ones come back as [`Expr::Tabular`].
    fn expr_or_tabular(&mut self) -> PResult<Expr> {
        let g = self.enter()?;
        let r = self.expr_or_tabular_inner();
        self.leave(g);
        r
    }

    fn expr_or_tabular_inner(&mut self) -> PResult<Expr> {
        let start = self.span();
        let source = if self.starts_source_operator() {
            Source::Operator(Box::new(self.operator()?))
        } else {
            let e = self.expr()?;
            if !self.is_punct("|") {
                return Ok(e);
            }
            expr_to_source(e)
        };
        let ops = self.pipe_ops();
        Ok(Expr::Tabular(Box::new(TabularExpr { source, ops, span: self.since(start) })))
    }

    /// `| op | op …`; failed operators are reported and skipped.
    fn pipe_ops(&mut self) -> Vec<Operator> {
        let mut ops = Vec::new();
        while self.is_punct("|") {
            let before = self.pos;
            self.bump();
            match self.operator() {
                Ok(op) => {
                    ops.push(op);
                    if !self.is_punct("|")
                        && !self.at_list_end()
                        && !self.is_punct("}")
                        && !self.is_punct(",")
                    {
                        let _ = self.fail::<()>("'|' or end of query");
                        self.recover(&["|", ";"]);
                    }
                }
                Err(Fail) => self.recover(&["|", ";"]),
            }
            if self.pos == before {
                break;
            }
        }
        ops
    }

    /// Operators without a leading source (mv-apply, fork and facet bodies).
    fn bare_ops(&mut self) -> PResult<TabularExpr> {
        let start = self.span();
        let first = self.operator()?;
        let mut ops = vec![first];
        ops.extend(self.pipe_ops());
        let src = Source::Name(Ident::new(INPUT, Span { start: start.start, end: start.start }));
        Ok(TabularExpr { source: src, ops, span: self.since(start) })
    }

    fn operator_name(&mut self) -> PResult<Ident> {
        let start = self.span();
        let Some(w) = self.word() else { return self.fail("a tabular operator") };
        let mut name = w.to_string();
        self.bump();
        while self.is_punct("-")
            && self.adjacent_prev()
            && self.adjacent(1)
            && matches!(self.tok_at(1).kind, TokenKind::Ident(_))
        {
            self.bump();
            if let Some(w) = self.word() {
                name.push('-');
                name.push_str(w);
            }
            self.bump();
        }
        Ok(Ident::new(name, self.since(start)))
    }

    fn operator(&mut self) -> PResult<Operator> {
        let g = self.enter()?;
        let r = self.operator_inner();
        self.leave(g);
        r
    }

    fn operator_inner(&mut self) -> PResult<Operator> {
        let start = self.span();
        let name = self.operator_name()?;
        let op = match name.name.as_str() {
            "where" | "filter" => Operator::Where { predicate: self.expr()?, span: start },
            "project" => Operator::Project { columns: self.named_exprs(&[])?, span: start },
            "project-away" => Operator::ProjectAway { columns: self.name_patterns()?, span: start },
            "project-keep" => Operator::ProjectKeep { columns: self.name_patterns()?, span: start },
            "project-rename" => {
                let mut renames = Vec::new();
                loop {
                    let before = self.pos;
                    let new = self.ident()?;
                    self.expect_punct("=")?;
                    let old = self.ident()?;
                    renames.push((new, old));
                    if !self.eat_punct(",") || self.pos == before || self.at_list_end() {
                        break;
                    }
                }
                Operator::ProjectRename { renames, span: start }
            }
            "project-reorder" => {
                let mut columns = Vec::new();
                loop {
                    let before = self.pos;
                    let col = self.name_pattern()?;
                    let order = self.sort_order();
                    columns.push((col, order));
                    if !self.eat_punct(",") || self.pos == before || self.at_list_end() {
                        break;
                    }
                }
                Operator::ProjectReorder { columns, span: start }
            }
            "extend" => Operator::Extend { columns: self.named_exprs(&[])?, span: start },
            "summarize" => {
                let params = self.op_params();
                let aggregates =
                    if self.is_word("by") { Vec::new() } else { self.named_exprs(&["by"])? };
                let by = if self.eat_word("by") { self.named_exprs(&[])? } else { Vec::new() };
                Operator::Summarize { params, aggregates, by, span: start }
            }
            "count" => {
                let name = if self.eat_word("as") { Some(self.ident()?) } else { None };
                Operator::Count { name, span: start }
            }
            "take" | "limit" => Operator::Take { count: self.expr()?, span: start },
            "top" => {
                let count = self.expr()?;
                self.expect_word("by")?;
                let by = self.sort_key()?;
                Operator::Top { count, by, span: start }
            }
            "top-nested" => self.top_nested(start)?,
            "sort" | "order" => {
                self.expect_word("by")?;
                let mut keys = Vec::new();
                loop {
                    let before = self.pos;
                    keys.push(self.sort_key()?);
                    if !self.eat_punct(",") || self.pos == before || self.at_list_end() {
                        break;
                    }
                }
                Operator::Sort { keys, span: start }
            }
            "distinct" => {
                if self.eat_punct("*") {
                    Operator::Distinct { columns: Vec::new(), star: true, span: start }
                } else {
                    Operator::Distinct { columns: self.named_exprs(&[])?, star: false, span: start }
                }
            }
            "join" | "lookup" => {
                let mut params = self.op_params();
                let kind_param = params.iter().position(|p| p.name.name == "kind");
                let default =
                    if name.name == "join" { JoinKind::InnerUnique } else { JoinKind::LeftOuter };
                let kind = match kind_param {
                    Some(i) => {
                        let p = params.remove(i);
                        let text = match &p.value {
                            Expr::Ident(id) => id.name.clone(),
                            _ => String::new(),
                        };
                        match JoinKind::parse(&text) {
                            Some(k) => k,
                            None => {
                                let d = Diagnostic::error(codes::SYNTAX, p.value.span(), format!("unknown join kind '{text}'"))
                                    .with_help("expected inner, innerunique, leftouter, rightouter, fullouter, leftanti, rightanti, leftsemi or rightsemi");
                                self.report(d);
                                return Err(Fail);
                            }
                        }
                    }
                    None => default,
                };
                let right = Box::new(self.join_right()?);
                let on = if self.eat_word("on") { self.join_conditions()? } else { Vec::new() };
                if name.name == "join" {
                    Operator::Join { params, kind, right, on, span: start }
                } else {
                    Operator::Lookup { params, kind, right, on, span: start }
                }
            }
            "union" => {
                let params = self.op_params();
                let mut tables = Vec::new();
                loop {
                    let before = self.pos;
                    tables.push(self.union_item()?);
                    if !self.eat_punct(",") || self.pos == before || self.at_list_end() {
                        break;
                    }
                }
                Operator::Union { params, tables, span: start }
            }
            "mv-expand" | "mvexpand" => {
                let params = self.op_params();
                let columns = self.mv_columns()?;
                let limit = if self.eat_word("limit") { Some(self.expr()?) } else { None };
                Operator::MvExpand { params, columns, limit, span: start }
            }
            "mv-apply" | "mvapply" => {
                let params = self.op_params();
                let columns = self.mv_columns()?;
                if self.eat_word("limit") {
                    self.expr()?;
                }
                self.expect_word("on")?;
                self.expect_punct("(")?;
                let subquery = Box::new(self.bare_ops()?);
                self.expect_punct(")")?;
                Operator::MvApply { params, columns, subquery, span: start }
            }
            "parse" | "parse-where" => {
                let params = self.op_params();
                let source = self.expr()?;
                self.expect_word("with")?;
                let pattern = self.parse_pattern()?;
                Operator::Parse {
                    filter: name.name == "parse-where",
                    params,
                    source,
                    pattern,
                    span: start,
                }
            }
            "parse-kv" => {
                let source = self.expr()?;
                self.expect_word("as")?;
                let columns = self.column_decls()?;
                let with = if self.eat_word("with") { self.paren_params()? } else { Vec::new() };
                Operator::ParseKv { source, columns, with, span: start }
            }
            "make-series" => self.make_series(start)?,
            "evaluate" => {
                let params = self.op_params();
                let call = match self.postfix_expr()? {
                    Expr::Call(c) => c,
                    other => {
                        let d = Diagnostic::error(
                            codes::SYNTAX,
                            other.span(),
                            "expected a plugin call after 'evaluate'",
                        );
                        self.report(d);
                        return Err(Fail);
                    }
                };
                // Optional output schema `: (a:string, …)` is accepted and dropped.
                if self.is_punct(":") && self.is_punct_at(1, "(") {
                    self.bump();
                    self.column_decls()?;
                }
                Operator::Evaluate { params, call, span: start }
            }
            "as" => {
                let params = self.op_params();
                Operator::As { params, name: self.ident()?, span: start }
            }
            "serialize" => {
                let columns = if self.at_list_end() { Vec::new() } else { self.named_exprs(&[])? };
                Operator::Serialize { columns, span: start }
            }
            "search" => {
                let params = self.op_params();
                let tables = if self.eat_word("in") { self.paren_names()? } else { Vec::new() };
                let predicate = self.expr()?;
                Operator::Search { params, tables, predicate, span: start }
            }
            "find" => {
                let _ = self.op_params();
                let tables = if self.eat_word("in") { self.paren_names()? } else { Vec::new() };
                self.expect_word("where")?;
                let predicate = self.expr()?;
                let project =
                    if self.eat_word("project") { self.name_patterns()? } else { Vec::new() };
                Operator::Find { tables, predicate, project, span: start }
            }
            "render" => {
                let chart = self.ident()?;
                let with = if self.eat_word("with") { self.paren_params()? } else { Vec::new() };
                Operator::Render { chart, with, span: start }
            }
            "invoke" => match self.postfix_expr()? {
                Expr::Call(call) => Operator::Invoke { call, span: start },
                other => {
                    let d = Diagnostic::error(
                        codes::SYNTAX,
                        other.span(),
                        "expected a function call after 'invoke'",
                    );
                    self.report(d);
                    return Err(Fail);
                }
            },
            "getschema" => Operator::GetSchema { span: start },
            "sample" => Operator::Sample { count: self.expr()?, span: start },
            "sample-distinct" => {
                let count = self.expr()?;
                self.expect_word("of")?;
                Operator::SampleDistinct { count, of: self.expr()?, span: start }
            }
            "range" => {
                let column = self.ident()?;
                self.expect_word("from")?;
                let from = self.expr()?;
                self.expect_word("to")?;
                let to = self.expr()?;
                self.expect_word("step")?;
                let step = self.expr()?;
                Operator::Range { column, from, to, step, span: start }
            }
            "print" => Operator::Print { columns: self.named_exprs(&[])?, span: start },
            "datatable" => {
                let columns = self.column_decls()?;
                self.expect_punct("[")?;
                let values = self.expr_list("]")?;
                self.expect_punct("]")?;
                Operator::Datatable { columns, values, span: start }
            }
            "externaldata" | "external_data" => {
                let columns = self.column_decls()?;
                self.expect_punct("[")?;
                let uris = self.expr_list("]")?;
                self.expect_punct("]")?;
                let with = if self.eat_word("with") { self.paren_params()? } else { Vec::new() };
                Operator::ExternalData { columns, uris, with, span: start }
            }
            "facet" => {
                self.expect_word("by")?;
                let columns = self.name_patterns()?;
                let with = if self.eat_word("with") {
                    self.expect_punct("(")?;
                    let t = self.bare_ops()?;
                    self.expect_punct(")")?;
                    Some(Box::new(t))
                } else {
                    None
                };
                Operator::Facet { columns, with, span: start }
            }
            "partition" => {
                let params = self.op_params();
                self.expect_word("by")?;
                let by = self.ident()?;
                let close = if self.eat_punct("{") {
                    "}"
                } else {
                    self.expect_punct("(")?;
                    ")"
                };
                let subquery = Box::new(self.bare_ops()?);
                self.expect_punct(close)?;
                Operator::Partition { params, by, subquery, span: start }
            }
            "fork" => {
                let mut branches = Vec::new();
                loop {
                    let before = self.pos;
                    if matches!(self.tok().kind, TokenKind::Ident(_)) && self.is_punct_at(1, "=") {
                        self.bump();
                        self.bump();
                    }
                    if !self.eat_punct("(") {
                        break;
                    }
                    branches.push(self.bare_ops()?);
                    self.expect_punct(")")?;
                    if self.pos == before {
                        break;
                    }
                }
                if branches.is_empty() {
                    return self.fail("'(' starting a fork branch");
                }
                Operator::Fork { branches, span: start }
            }
            "reduce" | "scan" | "consume" | "make-graph" | "graph-match" | "project-smart"
            | "macro-expand" | "lookup-v2" | "assert-schema" => {
                let text_start = self.span();
                self.recover(&["|", ";"]);
                let end = self.prev_end();
                let text = self
                    .text
                    .get(text_start.start_usize()..end.end_usize().max(text_start.start_usize()))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                Operator::Other { name: name.clone(), text, span: start }
            }
            other => {
                let d = Diagnostic::error(
                    codes::SYNTAX,
                    name.span,
                    format!("unknown tabular operator '{other}'"),
                );
                self.report(d);
                return Err(Fail);
            }
        };
        Ok(set_span(op, self.since(start)))
    }

    fn top_nested(&mut self, start: Span) -> PResult<Operator> {
        let mut levels = Vec::new();
        loop {
            let before = self.pos;
            let count = if self.is_word("of") { None } else { Some(self.expr()?) };
            self.expect_word("of")?;
            let of = self.named_expr(&["with", "by"])?;
            let others = if self.eat_word("with") {
                self.expect_word("others")?;
                self.expect_punct("=")?;
                Some(self.expr()?)
            } else {
                None
            };
            self.expect_word("by")?;
            let by = self.named_expr(&[])?;
            let order = self.sort_order();
            levels.push(TopNestedLevel { count, of, others, by, order });
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
            if self.is_word("top-nested") {
                self.bump();
            } else if self.is_word("top") && self.is_punct_at(1, "-") {
                self.operator_name()?;
            }
        }
        Ok(Operator::TopNested { levels, span: start })
    }

    fn make_series(&mut self, start: Span) -> PResult<Operator> {
        let params = self.op_params();
        let mut aggregates = Vec::new();
        loop {
            let before = self.pos;
            let agg = self.named_expr(&["on", "default"])?;
            let default = if self.eat_word("default") {
                self.expect_punct("=")?;
                Some(self.expr()?)
            } else {
                None
            };
            aggregates.push((agg, default));
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
        }
        self.expect_word("on")?;
        let on = self.postfix_expr()?;
        let (mut from, mut to) = (None, None);
        let step;
        if self.eat_word("in") {
            // `in range(from, to, step)`
            self.expect_word("range")?;
            self.expect_punct("(")?;
            from = Some(self.expr()?);
            self.expect_punct(",")?;
            to = Some(self.expr()?);
            self.expect_punct(",")?;
            step = self.expr()?;
            self.expect_punct(")")?;
        } else {
            if self.eat_word("from") {
                from = Some(self.expr()?);
            }
            if self.eat_word("to") {
                to = Some(self.expr()?);
            }
            self.expect_word("step")?;
            step = self.expr()?;
        }
        let by = if self.eat_word("by") { self.named_exprs(&[])? } else { Vec::new() };
        Ok(Operator::MakeSeries { params, aggregates, on, from, to, step, by, span: start })
    }

    fn join_right(&mut self) -> PResult<TabularExpr> {
        if self.is_punct("(") {
            let start = self.bump();
            let inner = self.tabular()?;
            self.expect_punct(")")?;
            let span = self.since(start);
            return Ok(match (inner.ops.is_empty(), &inner.source) {
                (true, _) => TabularExpr { span, ..inner },
                _ => inner,
            });
        }
        let e = self.postfix_expr()?;
        let span = e.span();
        Ok(TabularExpr { source: expr_to_source(e), ops: Vec::new(), span })
    }

    fn join_conditions(&mut self) -> PResult<Vec<JoinOn>> {
        let mut on = Vec::new();
        loop {
            let before = self.pos;
            let e = self.expr()?;
            on.extend(split_join_condition(e));
            if !self.eat_punct(",") || self.pos == before || self.at_list_end() {
                break;
            }
        }
        Ok(on)
    }

    fn union_item(&mut self) -> PResult<TabularExpr> {
        let start = self.span();
        if self.is_punct("(") {
            self.bump();
            let t = self.tabular()?;
            self.expect_punct(")")?;
            return Ok(TabularExpr { span: self.since(start), ..t });
        }
        // A wildcard name (`Security*`) or a plain name/call.
        let wild = matches!(self.tok().kind, TokenKind::Punct("*"))
            || (matches!(self.tok().kind, TokenKind::Ident(_))
                && self.is_punct_at(1, "*")
                && self.adjacent(1));
        if wild {
            let id = self.name_pattern()?;
            let span = id.span;
            return Ok(TabularExpr { source: Source::Name(id), ops: Vec::new(), span });
        }
        let e = self.postfix_expr()?;
        let span = e.span();
        Ok(TabularExpr { source: expr_to_source(e), ops: Vec::new(), span })
    }

    fn mv_columns(&mut self) -> PResult<Vec<MvExpandColumn>> {
        let mut cols = Vec::new();
        loop {
            let before = self.pos;
            let named = self.named_expr(&["to", "limit", "on"])?;
            let to_type = if self.is_word("to") && self.is_word_at(1, "typeof") {
                self.bump();
                self.bump();
                self.expect_punct("(")?;
                let t = self.type_name()?;
                self.expect_punct(")")?;
                Some(t)
            } else {
                None
            };
            let name = named.names.into_iter().next();
            cols.push(MvExpandColumn { name, expr: named.expr, to_type });
            if !self.eat_punct(",") || self.pos == before || self.at_list_end() {
                break;
            }
        }
        Ok(cols)
    }

    fn parse_pattern(&mut self) -> PResult<Vec<ParsePart>> {
        let mut parts = Vec::new();
        loop {
            let before = self.pos;
            match self.tok().kind.clone() {
                TokenKind::Str(_) => {
                    let (s, _) = self.string_lit();
                    parts.push(ParsePart::Text(s));
                }
                TokenKind::Punct("*") => {
                    self.bump();
                    parts.push(ParsePart::Star);
                }
                TokenKind::Ident(_) | TokenKind::Punct("[") => {
                    let name = self.ident()?;
                    let ty = if self.eat_punct(":") { Some(self.type_name()?) } else { None };
                    parts.push(ParsePart::Column { name, ty });
                }
                _ => break,
            }
            // Commas between pieces are tolerated.
            self.eat_punct(",");
            if self.pos == before {
                break;
            }
        }
        if parts.is_empty() {
            return self.fail("a parse pattern");
        }
        Ok(parts)
    }

    fn paren_names(&mut self) -> PResult<Vec<Ident>> {
        self.expect_punct("(")?;
        let names = self.name_patterns()?;
        self.expect_punct(")")?;
        Ok(names)
    }

    fn paren_params(&mut self) -> PResult<Vec<OpParam>> {
        self.expect_punct("(")?;
        let mut out = Vec::new();
        while !self.is_punct(")") && !self.at_eof() {
            let before = self.pos;
            let name = self.dotted_name()?;
            self.expect_punct("=")?;
            let value = self.expr()?;
            out.push(OpParam { name, value });
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(out)
    }

    /// Leading `name=value` operator parameters (`kind=`, `hint.*=`, `withsource=` …).
    fn op_params(&mut self) -> Vec<OpParam> {
        let mut out = Vec::new();
        while let Some(first) = self.word() {
            // Dotted hint names: hint.strategy
            let mut n = 1;
            let mut name = first.to_string();
            while self.is_punct_at(n, ".") && matches!(self.tok_at(n + 1).kind, TokenKind::Ident(_))
            {
                name.push('.');
                name.push_str(self.word_at(n + 1).unwrap_or(""));
                n += 2;
            }
            if !self.is_punct_at(n, "=") || !is_param_name(&name) {
                break;
            }
            let start = self.span();
            for _ in 0..=n {
                self.bump();
            }
            let name = Ident::new(name, self.since(start));
            // A bare word is the value itself (`kind=inner (T)` is not a call).
            let value = match self.word() {
                Some(w @ ("true" | "false")) => {
                    let value = Literal::Bool(w == "true");
                    Expr::Literal { value, span: self.bump() }
                }
                Some(_) => match self.ident() {
                    Ok(id) => Expr::Ident(id),
                    Err(Fail) => break,
                },
                None => match self.unary_expr() {
                    Ok(v) => v,
                    Err(Fail) => break,
                },
            };
            out.push(OpParam { name, value });
        }
        out
    }

    fn sort_order(&mut self) -> Option<SortOrder> {
        if self.eat_word("asc") || self.eat_word("granny-asc") {
            Some(SortOrder::Asc)
        } else if self.eat_word("desc") || self.eat_word("granny-desc") {
            Some(SortOrder::Desc)
        } else {
            None
        }
    }

    fn sort_key(&mut self) -> PResult<SortKey> {
        let expr = self.expr()?;
        let order = self.sort_order();
        let nulls = if self.is_word("nulls") {
            self.bump();
            if self.eat_word("first") {
                Some(NullsOrder::First)
            } else if self.eat_word("last") {
                Some(NullsOrder::Last)
            } else {
                return self.fail("'first' or 'last'");
            }
        } else {
            None
        };
        Ok(SortKey { expr, order, nulls })
    }

    fn named_exprs(&mut self, stops: &[&str]) -> PResult<Vec<NamedExpr>> {
        let mut out = Vec::new();
        loop {
            let before = self.pos;
            out.push(self.named_expr(stops)?);
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
            // Tolerate a trailing comma.
            if self.at_list_end() || stops.iter().any(|s| self.is_word(s)) {
                break;
            }
        }
        Ok(out)
    }

    fn named_expr(&mut self, _stops: &[&str]) -> PResult<NamedExpr> {
        // (a, b) = expr
        if self.is_punct("(")
            && matches!(self.tok_at(1).kind, TokenKind::Ident(_))
            && self.is_punct_at(2, ",")
        {
            let save = self.pos;
            let nd = self.diags.len();
            self.bump();
            let mut names = Vec::new();
            let mut ok = true;
            loop {
                match self.ident() {
                    Ok(id) => names.push(id),
                    Err(Fail) => {
                        ok = false;
                        break;
                    }
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
            if ok && self.eat_punct(")") && self.eat_punct("=") {
                let expr = self.expr()?;
                return Ok(NamedExpr { names, expr });
            }
            // Not a name list after all: drop any diagnostic from the attempt and re-parse.
            self.pos = save;
            self.diags.truncate(nd);
        }
        let is_name = (matches!(self.tok().kind, TokenKind::Ident(_)) && self.is_punct_at(1, "="))
            || (self.is_bracket_ident(0) && self.is_punct_at(3, "="));
        if is_name {
            let name = self.ident()?;
            self.expect_punct("=")?;
            let expr = self.expr()?;
            return Ok(NamedExpr { names: vec![name], expr });
        }
        Ok(NamedExpr { names: Vec::new(), expr: self.expr()? })
    }

    fn expr_list(&mut self, close: &str) -> PResult<Vec<Expr>> {
        let mut out = Vec::new();
        while !self.is_punct(close) && !self.at_eof() {
            let before = self.pos;
            out.push(self.expr_or_tabular()?);
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
        }
        Ok(out)
    }

    // ----- scalar expressions --------------------------------------------------------------

    /// A scalar expression.
    fn expr(&mut self) -> PResult<Expr> {
        let g = self.enter()?;
        let r = self.binary(0);
        self.leave(g);
        r
    }

    /// The infix operator at the cursor: (precedence, tokens to consume, operator).
    fn peek_infix(&self) -> Option<(u8, usize, Infix)> {
        match &self.tok().kind {
            TokenKind::Punct(p) => {
                let op = match *p {
                    "==" => BinOp::Eq,
                    "!=" | "<>" => BinOp::Ne,
                    "<" => BinOp::Lt,
                    "<=" => BinOp::Le,
                    ">" => BinOp::Gt,
                    ">=" => BinOp::Ge,
                    "=~" => BinOp::EqCi,
                    "!~" => BinOp::NeCi,
                    "+" => return Some((4, 1, Infix::Bin(BinOp::Add))),
                    "-" => return Some((4, 1, Infix::Bin(BinOp::Sub))),
                    "*" => return Some((5, 1, Infix::Bin(BinOp::Mul))),
                    "/" => return Some((5, 1, Infix::Bin(BinOp::Div))),
                    "%" => return Some((5, 1, Infix::Bin(BinOp::Mod))),
                    "!" if self.adjacent(1) => {
                        let w = self.word_at(1)?;
                        if let Some(mut s) = str_op(w) {
                            s.negated = true;
                            return Some((3, 2, Infix::Bin(BinOp::Str(s))));
                        }
                        return match w {
                            "in" if self.is_punct_at(2, "~") && self.adjacent(2) => {
                                Some((3, 3, Infix::List(ListOp::NotInCi)))
                            }
                            "in" => Some((3, 2, Infix::List(ListOp::NotIn))),
                            "between" => Some((3, 2, Infix::Between(true))),
                            _ => None,
                        };
                    }
                    _ => return None,
                };
                Some((3, 1, Infix::Bin(op)))
            }
            TokenKind::Ident(w) => match w.as_str() {
                "or" => Some((1, 1, Infix::Bin(BinOp::Or))),
                "and" => Some((2, 1, Infix::Bin(BinOp::And))),
                "in" if self.is_punct_at(1, "~") && self.adjacent(1) => {
                    Some((3, 2, Infix::List(ListOp::InCi)))
                }
                "in" => Some((3, 1, Infix::List(ListOp::In))),
                "has_any" => Some((3, 1, Infix::List(ListOp::HasAny))),
                "has_all" => Some((3, 1, Infix::List(ListOp::HasAll))),
                "between" => Some((3, 1, Infix::Between(false))),
                "notbetween" => Some((3, 1, Infix::Between(true))),
                "matches" if self.is_word_at(1, "regex") => Some((
                    3,
                    2,
                    Infix::Bin(BinOp::Str(StrOp {
                        kind: StrOpKind::MatchesRegex,
                        negated: false,
                        case_sensitive: true,
                    })),
                )),
                "notcontains" => Some((
                    3,
                    1,
                    Infix::Bin(BinOp::Str(StrOp {
                        kind: StrOpKind::Contains,
                        negated: true,
                        case_sensitive: false,
                    })),
                )),
                "notcontainscs" => Some((
                    3,
                    1,
                    Infix::Bin(BinOp::Str(StrOp {
                        kind: StrOpKind::Contains,
                        negated: true,
                        case_sensitive: true,
                    })),
                )),
                "nothas" => Some((
                    3,
                    1,
                    Infix::Bin(BinOp::Str(StrOp {
                        kind: StrOpKind::Has,
                        negated: true,
                        case_sensitive: false,
                    })),
                )),
                w => str_op(w).map(|s| (3, 1, Infix::Bin(BinOp::Str(s)))),
            },
            _ => None,
        }
    }

    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary_expr()?;
        let mut chain = 0usize;
        while let Some((prec, ntok, infix)) = self.peek_infix() {
            if prec <= min {
                break;
            }
            chain += 1;
            if chain > MAX_CHAIN {
                let d = Diagnostic::error(
                    codes::DEPTH,
                    self.span(),
                    format!("expression chains more than {MAX_CHAIN} operators"),
                );
                self.report(d);
                return Err(Fail);
            }
            for _ in 0..ntok {
                self.bump();
            }
            let start = lhs.span();
            lhs = match infix {
                Infix::Bin(op) => {
                    let g = self.enter()?;
                    let rhs = self.binary(prec);
                    self.leave(g);
                    let rhs = rhs?;
                    let span = start.to(rhs.span());
                    Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), span }
                }
                Infix::List(op) => {
                    let list = if self.is_punct("(") {
                        self.bump();
                        let l = self.expr_list(")")?;
                        self.expect_punct(")")?;
                        l
                    } else {
                        vec![self.postfix_expr()?]
                    };
                    Expr::List { op, expr: Box::new(lhs), list, span: self.since(start) }
                }
                Infix::Between(negated) => {
                    self.expect_punct("(")?;
                    let low = self.expr()?;
                    self.expect_punct("..")?;
                    let high = self.expr()?;
                    self.expect_punct(")")?;
                    Expr::Between {
                        negated,
                        expr: Box::new(lhs),
                        low: Box::new(low),
                        high: Box::new(high),
                        span: self.since(start),
                    }
                }
            };
        }
        Ok(lhs)
    }

    fn unary_expr(&mut self) -> PResult<Expr> {
        let start = self.span();
        let op = if self.is_punct("-") {
            Some(UnaryOp::Neg)
        } else if self.is_punct("+") {
            Some(UnaryOp::Plus)
        } else {
            None
        };
        if let Some(op) = op {
            self.bump();
            let g = self.enter()?;
            let inner = self.unary_expr();
            self.leave(g);
            let inner = inner?;
            // Fold negative numeric literals so `-5` is a literal, as Kusto treats it.
            if op == UnaryOp::Neg
                && let Expr::Literal { value, .. } = &inner
            {
                let folded = match value {
                    Literal::Long(v) => v.checked_neg().map(Literal::Long),
                    Literal::Real(v) => Some(Literal::Real(-v)),
                    Literal::TimeSpan(v) => v.checked_neg().map(Literal::TimeSpan),
                    _ => None,
                };
                if let Some(value) = folded {
                    return Ok(Expr::Literal { value, span: self.since(start) });
                }
            }
            return Ok(Expr::Unary { op, expr: Box::new(inner), span: self.since(start) });
        }
        self.postfix_expr()
    }

    fn postfix_expr(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > MAX_CHAIN {
                return self.fail("end of member chain");
            }
            let start = e.span();
            if self.is_punct(".") {
                match &self.tok_at(1).kind {
                    TokenKind::Ident(_) => {
                        self.bump();
                        let name = self.ident()?;
                        if self.is_punct("(") && dotted(&e).is_some() {
                            // Namespaced call: a.b(…)
                            let mut full = dotted(&e).unwrap_or_default();
                            full.push('.');
                            full.push_str(&name.name);
                            let id = Ident::new(full, start.to(name.span));
                            e = Expr::Call(self.call_args(id)?);
                        } else {
                            e = Expr::Member { base: Box::new(e), name, span: self.since(start) };
                        }
                    }
                    TokenKind::Punct("[") => {
                        // `a.[0]`, `a.['b']`: the dot is optional before an index.
                        self.bump();
                        self.bump();
                        let index = self.expr()?;
                        self.expect_punct("]")?;
                        e = Expr::Index {
                            base: Box::new(e),
                            index: Box::new(index),
                            span: self.since(start),
                        };
                    }
                    _ => break,
                }
            } else if self.is_punct("[") {
                self.bump();
                let index = self.expr()?;
                self.expect_punct("]")?;
                e = Expr::Index {
                    base: Box::new(e),
                    index: Box::new(index),
                    span: self.since(start),
                };
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn string_lit(&mut self) -> (String, Span) {
        let start = self.span();
        let mut s = String::new();
        while let TokenKind::Str(v) = &self.tok().kind {
            s.push_str(v);
            self.bump();
        }
        (s, self.since(start))
    }

    fn call_args(&mut self, name: Ident) -> PResult<Call> {
        let start = name.span;
        self.expect_punct("(")?;
        let mut args = Vec::new();
        while !self.is_punct(")") && !self.at_eof() {
            let before = self.pos;
            if matches!(self.tok().kind, TokenKind::Ident(_)) && self.is_punct_at(1, "=") {
                let n = self.ident()?;
                self.bump();
                let v = self.expr_or_tabular()?;
                let span = n.span.to(v.span());
                args.push(Expr::NamedArg { name: n, value: Box::new(v), span });
            } else if self.is_punct("*") && (self.is_punct_at(1, ")") || self.is_punct_at(1, ",")) {
                args.push(Expr::Star { span: self.bump() });
            } else {
                args.push(self.expr_or_tabular()?);
            }
            if !self.eat_punct(",") || self.pos == before {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(Call { name, args, span: self.since(start) })
    }

    /// Raw text between the parentheses at the cursor (which must be `(`), consuming them.
    fn raw_parens(&mut self) -> PResult<(String, Vec<Token>)> {
        let open = self.expect_punct("(")?;
        let first = self.pos;
        let mut depth = 0usize;
        loop {
            match &self.tok().kind {
                TokenKind::Eof => return self.fail("')'"),
                TokenKind::Punct("(") => depth += 1,
                TokenKind::Punct(")") => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                _ => {}
            }
            self.bump();
        }
        let inner: Vec<Token> =
            self.tokens.get(first..self.pos).map(<[Token]>::to_vec).unwrap_or_default();
        let close = self.bump();
        let text =
            self.text.get(open.end_usize()..close.start_usize()).unwrap_or("").trim().to_string();
        Ok((text, inner))
    }

    fn primary(&mut self) -> PResult<Expr> {
        let start = self.span();
        match self.tok().kind.clone() {
            TokenKind::Long(v) => {
                self.bump();
                Ok(Expr::Literal { value: Literal::Long(v), span: start })
            }
            TokenKind::Real(v) => {
                self.bump();
                Ok(Expr::Literal { value: Literal::Real(v), span: start })
            }
            TokenKind::Timespan(v) => {
                self.bump();
                Ok(Expr::Literal { value: Literal::TimeSpan(v), span: start })
            }
            TokenKind::Str(_) => {
                let (s, span) = self.string_lit();
                Ok(Expr::Literal { value: Literal::String(s), span })
            }
            TokenKind::Punct("*") => {
                self.bump();
                Ok(Expr::Star { span: start })
            }
            TokenKind::Punct("(") => {
                self.bump();
                let e = self.expr_or_tabular()?;
                if self.is_punct(",") {
                    // A parenthesised list outside `in`: keep the first item, report the rest.
                    return self.fail("')'");
                }
                self.expect_punct(")")?;
                Ok(match e {
                    Expr::Tabular(mut t) => {
                        t.span = self.since(start);
                        Expr::Tabular(t)
                    }
                    other => other,
                })
            }
            TokenKind::Punct("[") if self.is_bracket_ident(0) => Ok(Expr::Ident(self.ident()?)),
            TokenKind::Ident(w) => {
                // Kusto accepts `true`, `True` and `TRUE`.
                if matches!(w.as_str(), "true" | "True" | "TRUE" | "false" | "False" | "FALSE") {
                    self.bump();
                    let value = Literal::Bool(w.eq_ignore_ascii_case("true"));
                    return Ok(Expr::Literal { value, span: start });
                }
                if self.is_punct_at(1, "(") {
                    if let Some(lit) = self.typed_literal(&w)? {
                        return Ok(Expr::Literal { value: lit, span: self.since(start) });
                    }
                    let name = self.ident()?;
                    return Ok(Expr::Call(self.call_args(name)?));
                }
                Ok(Expr::Ident(self.ident()?))
            }
            _ => self.fail("an expression"),
        }
    }

    /// `datetime(…)`, `dynamic(…)`, `long(null)` … when the call at the cursor is a literal.
    fn typed_literal(&mut self, w: &str) -> PResult<Option<Literal>> {
        let lit_start = self.span();
        let lit = match w {
            "datetime" | "date" => {
                self.bump();
                let (text, inner) = self.raw_parens()?;
                match inner.as_slice() {
                    [Token { kind: TokenKind::Str(s), .. }] if s.trim() == "null" => {
                        Literal::Null(KustoType::DateTime)
                    }
                    [Token { kind: TokenKind::Str(s), .. }] => {
                        Literal::DateTime(s.trim().to_string())
                    }
                    [Token { kind: TokenKind::Ident(n), .. }] if n == "null" => {
                        Literal::Null(KustoType::DateTime)
                    }
                    _ => Literal::DateTime(text),
                }
            }
            "time" | "timespan" => {
                self.bump();
                let (text, inner) = self.raw_parens()?;
                match inner.as_slice() {
                    [Token { kind: TokenKind::Timespan(v), .. }] => Literal::TimeSpan(*v),
                    [Token { kind: TokenKind::Long(d), .. }] => {
                        Literal::TimeSpan(d.saturating_mul(86_400_000_000_000))
                    }
                    [Token { kind: TokenKind::Ident(n), .. }] if n == "null" => {
                        Literal::Null(KustoType::TimeSpan)
                    }
                    _ => match crate::time::timespan_nanos(&text) {
                        Some(v) => Literal::TimeSpan(v),
                        None => {
                            let d = Diagnostic::error(
                                codes::SYNTAX,
                                self.since(lit_start),
                                format!("invalid timespan literal '{text}'"),
                            );
                            self.report(d);
                            return Err(Fail);
                        }
                    },
                }
            }
            "dynamic" => {
                self.bump();
                self.expect_punct("(")?;
                let v = self.dynamic_value(0)?;
                self.expect_punct(")")?;
                Literal::Dynamic(v)
            }
            "guid" | "uuid" | "uniqueid" => {
                self.bump();
                let (text, inner) = self.raw_parens()?;
                match inner.as_slice() {
                    [Token { kind: TokenKind::Ident(n) | TokenKind::Str(n), .. }]
                        if n == "null" =>
                    {
                        Literal::Null(KustoType::Guid)
                    }
                    [Token { kind: TokenKind::Str(s), .. }] => Literal::Guid(s.clone()),
                    _ => Literal::Guid(text),
                }
            }
            "long" | "int" | "real" | "double" | "bool" | "boolean" | "string" | "decimal"
            | "int64" | "int32" => {
                let ty = KustoType::parse(w).unwrap_or(KustoType::Long);
                // Only literal arguments make a typed literal; anything else is a call.
                let arg = self.tok_at(2).kind.clone();
                let neg = matches!(arg, TokenKind::Punct("-"));
                let arg = if neg { self.tok_at(3).kind.clone() } else { arg };
                let close = if neg { 4 } else { 3 };
                let lit = match (&arg, ty) {
                    (TokenKind::Ident(n), _) if n == "null" => Some(Literal::Null(ty)),
                    (TokenKind::Long(v), KustoType::Int) => {
                        Some(Literal::Int(if neg { -v } else { *v }))
                    }
                    (TokenKind::Long(v), KustoType::Long) => {
                        Some(Literal::Long(if neg { -v } else { *v }))
                    }
                    (TokenKind::Long(v), KustoType::Real) => {
                        Some(Literal::Real(if neg { -(*v as f64) } else { *v as f64 }))
                    }
                    (TokenKind::Real(v), KustoType::Real) => {
                        Some(Literal::Real(if neg { -v } else { *v }))
                    }
                    (TokenKind::Ident(b), KustoType::Bool) if b == "true" || b == "false" => {
                        Some(Literal::Bool(b == "true"))
                    }
                    (TokenKind::Long(v), KustoType::Decimal) => {
                        Some(Literal::Decimal(format!("{}{v}", if neg { "-" } else { "" })))
                    }
                    (TokenKind::Real(v), KustoType::Decimal) => {
                        Some(Literal::Decimal(format!("{}{v}", if neg { "-" } else { "" })))
                    }
                    (TokenKind::Ident(n), KustoType::Real)
                        if matches!(n.as_str(), "nan" | "inf") =>
                    {
                        Some(Literal::Real(if n == "nan" {
                            f64::NAN
                        } else if neg {
                            f64::NEG_INFINITY
                        } else {
                            f64::INFINITY
                        }))
                    }
                    (TokenKind::Str(s), KustoType::String) => Some(Literal::String(s.clone())),
                    _ => None,
                };
                match lit {
                    Some(l) if self.is_punct_at(close, ")") => {
                        for _ in 0..=close {
                            self.bump();
                        }
                        l
                    }
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(lit))
    }

    /// A JSON-like value inside `dynamic(…)` (KQL literals allowed: `datetime(…)`, `'x'`, …).
    fn dynamic_value(&mut self, depth: usize) -> PResult<serde_json::Value> {
        use serde_json::Value;
        if depth > MAX_DEPTH {
            let d =
                Diagnostic::error(codes::DEPTH, self.span(), "dynamic literal nested too deeply");
            self.report(d);
            return Err(Fail);
        }
        match self.tok().kind.clone() {
            TokenKind::Punct("[") => {
                self.bump();
                let mut items = Vec::new();
                while !self.is_punct("]") && !self.at_eof() {
                    let before = self.pos;
                    items.push(self.dynamic_value(depth + 1)?);
                    if !self.eat_punct(",") || self.pos == before {
                        break;
                    }
                }
                self.expect_punct("]")?;
                Ok(Value::Array(items))
            }
            TokenKind::Punct("{") => {
                self.bump();
                let mut map = serde_json::Map::new();
                while !self.is_punct("}") && !self.at_eof() {
                    let before = self.pos;
                    let key = match self.tok().kind.clone() {
                        TokenKind::Str(s) => s,
                        TokenKind::Ident(s) => s,
                        _ => return self.fail("a property name"),
                    };
                    self.bump();
                    self.expect_punct(":")?;
                    let v = self.dynamic_value(depth + 1)?;
                    map.insert(key, v);
                    if !self.eat_punct(",") || self.pos == before {
                        break;
                    }
                }
                self.expect_punct("}")?;
                Ok(Value::Object(map))
            }
            TokenKind::Punct(")") if depth == 0 => Ok(Value::Null),
            _ => {
                let e = self.unary_expr()?;
                Ok(match e {
                    Expr::Literal { value, .. } => match value {
                        Literal::Bool(b) => Value::Bool(b),
                        Literal::Long(v) | Literal::Int(v) => Value::from(v),
                        Literal::Real(v) => {
                            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
                        }
                        Literal::String(s)
                        | Literal::DateTime(s)
                        | Literal::Guid(s)
                        | Literal::Decimal(s) => Value::String(s),
                        Literal::TimeSpan(v) => Value::String(crate::format::timespan_text(v)),
                        Literal::Dynamic(v) => v,
                        Literal::Null(_) => Value::Null,
                    },
                    Expr::Ident(id) if id.name == "null" => Value::Null,
                    other => {
                        let d = Diagnostic::error(
                            codes::SYNTAX,
                            other.span(),
                            "expected a constant inside dynamic(…)",
                        );
                        self.report(d);
                        return Err(Fail);
                    }
                })
            }
        }
    }
}

struct DepthGuard;

static EOF_TOKEN: Token = Token { kind: TokenKind::Eof, span: Span { start: 0, end: 0 } };

enum Infix {
    Bin(BinOp),
    List(ListOp),
    Between(bool),
}

/// `a.b.c` as text when the expression is a plain identifier chain.
fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Ident(i) => Some(i.name.clone()),
        Expr::Member { base, name, .. } => dotted(base).map(|b| format!("{b}.{}", name.name)),
        _ => None,
    }
}

fn expr_to_source(e: Expr) -> Source {
    match e {
        Expr::Ident(id) => Source::Name(id),
        Expr::Call(c) => Source::Call(c),
        Expr::Tabular(t) => Source::Paren(t),
        other => Source::Expr(Box::new(other)),
    }
}

/// `$left.a == $right.b and c` → conditions.
fn split_join_condition(e: Expr) -> Vec<JoinOn> {
    match e {
        Expr::Binary { op: BinOp::And, lhs, rhs, .. } => {
            let mut v = split_join_condition(*lhs);
            v.extend(split_join_condition(*rhs));
            v
        }
        Expr::Ident(id) => vec![JoinOn::Column(id)],
        Expr::Binary { op: BinOp::Eq, lhs, rhs, span } => {
            if let (Some(l), Some(r)) = (side_column(&lhs, "$left"), side_column(&rhs, "$right")) {
                return vec![JoinOn::Equal { left: l, right: r }];
            }
            match (side_column(&lhs, "$right"), side_column(&rhs, "$left")) {
                (Some(r), Some(l)) => vec![JoinOn::Equal { left: l, right: r }],
                _ => vec![JoinOn::Expr(Expr::Binary { op: BinOp::Eq, lhs, rhs, span })],
            }
        }
        other => vec![JoinOn::Expr(other)],
    }
}

fn side_column(e: &Expr, side: &str) -> Option<Ident> {
    match e {
        Expr::Member { base, name, .. } => match base.as_ref() {
            Expr::Ident(b) if b.name == side => Some(name.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn set_span(op: Operator, span: Span) -> Operator {
    let mut op = op;
    match &mut op {
        Operator::Where { span: s, .. }
        | Operator::Project { span: s, .. }
        | Operator::ProjectAway { span: s, .. }
        | Operator::ProjectKeep { span: s, .. }
        | Operator::ProjectRename { span: s, .. }
        | Operator::ProjectReorder { span: s, .. }
        | Operator::Extend { span: s, .. }
        | Operator::Summarize { span: s, .. }
        | Operator::Count { span: s, .. }
        | Operator::Take { span: s, .. }
        | Operator::Top { span: s, .. }
        | Operator::TopNested { span: s, .. }
        | Operator::Sort { span: s, .. }
        | Operator::Distinct { span: s, .. }
        | Operator::Join { span: s, .. }
        | Operator::Lookup { span: s, .. }
        | Operator::Union { span: s, .. }
        | Operator::MvExpand { span: s, .. }
        | Operator::MvApply { span: s, .. }
        | Operator::Parse { span: s, .. }
        | Operator::ParseKv { span: s, .. }
        | Operator::MakeSeries { span: s, .. }
        | Operator::Evaluate { span: s, .. }
        | Operator::As { span: s, .. }
        | Operator::Serialize { span: s, .. }
        | Operator::Search { span: s, .. }
        | Operator::Find { span: s, .. }
        | Operator::Render { span: s, .. }
        | Operator::Invoke { span: s, .. }
        | Operator::GetSchema { span: s }
        | Operator::Sample { span: s, .. }
        | Operator::SampleDistinct { span: s, .. }
        | Operator::Range { span: s, .. }
        | Operator::Print { span: s, .. }
        | Operator::Datatable { span: s, .. }
        | Operator::ExternalData { span: s, .. }
        | Operator::Facet { span: s, .. }
        | Operator::Fork { span: s, .. }
        | Operator::Partition { span: s, .. }
        | Operator::Other { span: s, .. } => *s = span,
    }
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expressions_with_recovery() {
        let p = parse_expr("a + (b");
        assert!(p.syntax.is_none());
        assert_eq!(p.diagnostics[0].code, codes::SYNTAX);
        assert!(parse_expr("a + b * 2").syntax.is_some());
    }
}
