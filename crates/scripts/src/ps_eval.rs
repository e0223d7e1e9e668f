//! Evaluator for the pure, side-effect-free subset of PowerShell expressions.
//!
//! It computes string-building expressions (concatenation, `-f`, `-join`, `-split`,
//! `-replace`, `[char]` casts, char arrays, indexing, `-bxor`, reversal, base64 and
//! compression calls, `Encoding.GetString`) over literals and tracked variables. Anything
//! with an effect or an unknown value makes evaluation give up (`None`): nothing is executed.
//! Every operation spends fuel and every string is size-checked, so hostile input cannot make
//! it loop or allocate without bound; nesting is capped by a depth guard.

use std::collections::HashMap;

use crate::decode;
use crate::ps_lex::{Part, Tok, Token, lex};

/// A value of the safe subset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Null,
    Bool(bool),
    Int(i64),
    Char(char),
    Str(String),
    Arr(Vec<V>),
    Bytes(Vec<u8>),
    /// A `[System.Text.Encoding]::X` object.
    Enc(&'static str),
    /// A type literal.
    Type(String),
    /// A method reference (`"".Insert` without call): PowerShell prints its signature.
    Method(String),
    /// A variable object (`Get-Variable x`), whose `.Value` is the value.
    VarObj(Box<V>),
    /// A script block built from text (`[ScriptBlock]::Create(s)`).
    Block(String),
}

impl V {
    pub(crate) fn to_str(&self) -> Option<String> {
        Some(match self {
            V::Null => String::new(),
            V::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            V::Int(i) => i.to_string(),
            V::Char(c) => c.to_string(),
            V::Str(s) => s.clone(),
            V::Arr(a) => {
                let mut out = String::new();
                for (k, v) in a.iter().enumerate() {
                    if k > 0 {
                        out.push(' ');
                    }
                    out.push_str(&v.to_str()?);
                }
                out
            }
            V::Bytes(b) => b.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" "),
            V::Enc(e) => format!("System.Text.{e}Encoding"),
            V::Type(t) => t.clone(),
            V::Method(m) => m.clone(),
            V::VarObj(v) => v.to_str()?,
            V::Block(b) => b.clone(),
        })
    }

    fn to_int(&self) -> Option<i64> {
        match self {
            V::Int(i) => Some(*i),
            V::Char(c) => Some(*c as i64),
            V::Bool(b) => Some(i64::from(*b)),
            V::Null => Some(0),
            V::Str(s) => {
                let t = s.trim();
                if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                    i64::from_str_radix(h, 16).ok()
                } else {
                    t.parse().ok()
                }
            }
            _ => None,
        }
    }

    fn to_list(&self) -> Vec<V> {
        match self {
            V::Arr(a) => a.clone(),
            V::Bytes(b) => b.iter().map(|x| V::Int(i64::from(*x))).collect(),
            other => vec![other.clone()],
        }
    }

    fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            V::Bytes(b) => Some(b.clone()),
            V::Arr(a) => a.iter().map(|v| v.to_int().and_then(|i| u8::try_from(i).ok())).collect(),
            _ => None,
        }
    }
}

/// Evaluation context: variables, fuel and limits.
pub(crate) struct Ctx {
    pub vars: HashMap<String, V>,
    pub fuel: u64,
    pub max_str: usize,
    pub depth: usize,
    /// Obfuscation operators used by the evaluations (for the layer's technique label).
    pub notes: Vec<&'static str>,
    /// Set when the nesting guard stopped an evaluation.
    pub depth_hit: bool,
    /// Bytes ever stored in tracked variables (monotonic, so overwrites count too).
    pub var_bytes: usize,
}

/// Budget for tracked variable values, per layer.
const VAR_BUDGET: usize = 64 << 20;

/// Largest array the evaluator builds.
const MAX_ARRAY: usize = 1 << 20;

/// Rough heap size of a value.
pub(crate) fn approx_size(v: &V) -> usize {
    match v {
        V::Str(s) | V::Method(s) | V::Block(s) | V::Type(s) => s.len() + 24,
        V::Bytes(b) => b.len() + 24,
        V::Arr(a) => a.iter().take(10_000).map(approx_size).sum::<usize>().max(a.len() * 32),
        V::VarObj(b) => approx_size(b),
        _ => 32,
    }
}

const MAX_DEPTH: usize = 64;

impl Ctx {
    pub(crate) fn new(max_str: usize) -> Ctx {
        Ctx {
            vars: HashMap::new(),
            fuel: 2_000_000,
            max_str,
            depth: 0,
            notes: Vec::new(),
            depth_hit: false,
            var_bytes: 0,
        }
    }

    /// Stores a tracked variable unless the total size of tracked values would pass the
    /// budget (copies of huge strings would otherwise multiply memory).
    pub(crate) fn set_var(&mut self, name: String, v: V) -> bool {
        let size = approx_size(&v);
        if self.var_bytes.saturating_add(size) > VAR_BUDGET || self.vars.len() >= 10_000 {
            self.vars.remove(&name);
            return false;
        }
        self.var_bytes += size;
        self.vars.insert(name, v);
        true
    }

    fn spend(&mut self, n: u64) -> Option<()> {
        if self.fuel < n {
            self.fuel = 0;
            return None;
        }
        self.fuel -= n;
        Some(())
    }

    fn note(&mut self, t: &'static str) {
        if !self.notes.contains(&t) {
            self.notes.push(t);
        }
    }

    fn check(&self, s: &str) -> Option<()> {
        if s.len() > self.max_str { None } else { Some(()) }
    }

    /// Values of automatic and environment variables used in index tricks (`$ShellId[1]`).
    fn auto_var(name: &str) -> Option<&'static str> {
        Some(match name {
            "shellid" => "Microsoft.PowerShell",
            "pshome" => "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
            "env:comspec" => "C:\\Windows\\system32\\cmd.exe",
            "env:public" => "C:\\Users\\Public",
            "env:windir" => "C:\\Windows",
            "env:systemroot" => "C:\\Windows",
            "env:programdata" => "C:\\ProgramData",
            "env:allusersprofile" => "C:\\ProgramData",
            "verbosepreference" | "debugpreference" | "warningpreference" => "SilentlyContinue",
            "erroractionpreference" => "Continue",
            "env:psmodulepath" => {
                "C:\\Program Files\\WindowsPowerShell\\Modules;C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules"
            }
            "mshome" => "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
            _ => return None,
        })
    }
}

/// Parser-evaluator over a token slice.
pub(crate) struct Eval<'a> {
    pub toks: &'a [Token],
    pub pos: usize,
    pub ctx: &'a mut Ctx,
    no_comma: bool,
}

fn is(t: Option<&Token>, p: &str) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::P(q)) if *q == p)
}

impl<'a> Eval<'a> {
    pub(crate) fn new(toks: &'a [Token], ctx: &'a mut Ctx) -> Eval<'a> {
        Eval { toks, pos: 0, ctx, no_comma: false }
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn peek_tok(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn eat(&mut self, p: &str) -> bool {
        if is(self.peek(), p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_newlines(&mut self) {
        while is(self.peek(), "\n") {
            self.pos += 1;
        }
    }

    /// Evaluates the whole slice as one expression; `None` unless every token is consumed.
    pub(crate) fn eval_all(&mut self) -> Option<V> {
        self.skip_newlines();
        let v = self.pipeline()?;
        self.skip_newlines();
        if self.pos == self.toks.len() { Some(v) } else { None }
    }

    /// `expr | % { body } | ? { body }`: ForEach-Object / Where-Object stages over `$_`.
    fn pipeline(&mut self) -> Option<V> {
        let mut v = self.expr()?;
        while is(self.peek(), "|") {
            let stage = self.toks.get(self.pos + 1)?;
            let kind = match &stage.tok {
                Tok::P("%") => 'f',
                Tok::Word(w)
                    if matches!(w.to_ascii_lowercase().as_str(), "foreach-object" | "foreach") =>
                {
                    'f'
                }
                Tok::Word(w)
                    if matches!(
                        w.to_ascii_lowercase().as_str(),
                        "?" | "where-object" | "where"
                    ) =>
                {
                    'w'
                }
                Tok::Other if self.ctx.depth < MAX_DEPTH => return None,
                _ => return None,
            };
            let open = self.pos + 2;
            if !is(self.toks.get(open), "{") {
                return None;
            }
            let close = block_end(self.toks, open)?;
            let body = &self.toks[open + 1..close];
            self.pos = close + 1;
            let items = match v {
                V::Null => vec![],
                V::Arr(a) => a,
                V::Bytes(b) => b.into_iter().map(|x| V::Int(i64::from(x))).collect(),
                other => vec![other],
            };
            let saved = self.ctx.vars.remove("_");
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                self.ctx.spend(4)?;
                self.ctx.vars.insert("_".into(), it.clone());
                self.ctx.depth += 1;
                let r = if self.ctx.depth > MAX_DEPTH {
                    None
                } else {
                    Eval::new(body, self.ctx).eval_all()
                };
                self.ctx.depth -= 1;
                let r = r?;
                if kind == 'f' {
                    match r {
                        V::Null => {}
                        V::Arr(a) => out.extend(a),
                        o => out.push(o),
                    }
                } else if truthy(&r) {
                    out.push(it);
                }
            }
            match saved {
                Some(s) => self.ctx.vars.insert("_".into(), s),
                None => self.ctx.vars.remove("_"),
            };
            self.ctx.note("pipeline ForEach-Object");
            v = if out.len() == 1 { out.pop()? } else { V::Arr(out) };
        }
        Some(v)
    }

    pub(crate) fn expr(&mut self) -> Option<V> {
        self.ctx.depth += 1;
        let r = if self.ctx.depth > MAX_DEPTH {
            self.ctx.depth_hit = true;
            None
        } else {
            self.bitwise()
        };
        self.ctx.depth -= 1;
        r
    }

    fn bitwise(&mut self) -> Option<V> {
        let mut l = self.comparison()?;
        loop {
            let op = match self.peek_tok() {
                Some(Tok::Op(o)) if matches!(o.as_str(), "bxor" | "band" | "bor") => o.clone(),
                _ => break,
            };
            self.pos += 1;
            let r = self.comparison()?;
            self.ctx.spend(1)?;
            self.ctx.note("-bxor");
            l = bitop(&op, &l, &r)?;
        }
        Some(l)
    }

    fn comparison(&mut self) -> Option<V> {
        let mut l = self.additive()?;
        loop {
            let op = match self.peek_tok() {
                Some(Tok::Op(o))
                    if matches!(
                        o.as_str(),
                        "join"
                            | "split"
                            | "isplit"
                            | "csplit"
                            | "replace"
                            | "ireplace"
                            | "creplace"
                            | "as"
                    ) =>
                {
                    o.clone()
                }
                _ => break,
            };
            self.pos += 1;
            let r = self.additive()?;
            self.ctx.spend(4)?;
            l = match op.as_str() {
                "join" => {
                    self.ctx.note("-join");
                    let sep = r.to_str()?;
                    let parts: Option<Vec<String>> =
                        l.to_list().iter().map(|v| v.to_str()).collect();
                    let s = parts?.join(&sep);
                    self.ctx.check(&s)?;
                    V::Str(s)
                }
                "split" | "isplit" | "csplit" => {
                    self.ctx.note("-split");
                    let items = r.to_list();
                    let pat = items.first()?.to_str()?;
                    let s = l.to_str()?;
                    V::Arr(regex_split(&s, &pat, op != "csplit")?.into_iter().map(V::Str).collect())
                }
                "replace" | "ireplace" | "creplace" => {
                    self.ctx.note("-replace");
                    let items = r.to_list();
                    let pat = items.first()?.to_str()?;
                    let rep = items.get(1).map(|v| v.to_str()).unwrap_or(Some(String::new()))?;
                    let s = l.to_str()?;
                    let out = regex_replace(&s, &pat, &rep, op != "creplace")?;
                    self.ctx.check(&out)?;
                    V::Str(out)
                }
                "as" => cast(&r.to_str()?, l, self.ctx)?,
                _ => return None,
            };
        }
        Some(l)
    }

    fn additive(&mut self) -> Option<V> {
        let mut l = self.multiplicative()?;
        loop {
            let plus = if is(self.peek(), "+") {
                true
            } else if is(self.peek(), "-") {
                false
            } else {
                break;
            };
            self.pos += 1;
            self.skip_newlines();
            let r = self.multiplicative()?;
            self.ctx.spend(2)?;
            l = if plus {
                add(l, r, self.ctx)?
            } else {
                V::Int(l.to_int()?.checked_sub(r.to_int()?)?)
            };
        }
        Some(l)
    }

    fn multiplicative(&mut self) -> Option<V> {
        let mut l = self.format()?;
        loop {
            let op = if is(self.peek(), "*") {
                '*'
            } else if is(self.peek(), "%") && !is(self.toks.get(self.pos + 1), "{") {
                '%'
            } else if is(self.peek(), "/") {
                '/'
            } else {
                break;
            };
            self.pos += 1;
            let r = self.format()?;
            self.ctx.spend(2)?;
            l = match (op, &l) {
                ('*', V::Str(s)) => {
                    let k = usize::try_from(r.to_int()?).ok()?;
                    if s.len().saturating_mul(k) > self.ctx.max_str {
                        return None;
                    }
                    V::Str(s.repeat(k))
                }
                ('*', _) => V::Int(l.to_int()?.checked_mul(r.to_int()?)?),
                ('%', _) => V::Int(l.to_int()?.checked_rem(r.to_int()?)?),
                _ => V::Int(l.to_int()?.checked_div(r.to_int()?)?),
            };
        }
        Some(l)
    }

    fn format(&mut self) -> Option<V> {
        let mut l = self.range()?;
        while matches!(self.peek_tok(), Some(Tok::Op(o)) if o == "f") {
            self.pos += 1;
            let r = self.range()?;
            self.ctx.spend(4)?;
            self.ctx.note("-f format");
            let fmt = l.to_str()?;
            let args = r.to_list();
            let s = format_op(&fmt, &args)?;
            self.ctx.check(&s)?;
            l = V::Str(s);
        }
        Some(l)
    }

    fn range(&mut self) -> Option<V> {
        let l = self.comma()?;
        if self.eat("..") {
            let r = self.comma()?;
            let (a, b) = (l.to_int()?, r.to_int()?);
            if (a - b).unsigned_abs() >= MAX_ARRAY as u64 {
                return None;
            }
            self.ctx.spend((a - b).unsigned_abs() + 1)?;
            let v: Vec<V> = if a <= b {
                (a..=b).map(V::Int).collect()
            } else {
                (b..=a).rev().map(V::Int).collect()
            };
            return Some(V::Arr(v));
        }
        Some(l)
    }

    fn comma(&mut self) -> Option<V> {
        if self.no_comma {
            return self.unary();
        }
        // Unary comma: `,$x` makes a one-element array.
        if self.eat(",") {
            let v = self.unary()?;
            return Some(V::Arr(vec![v]));
        }
        let first = self.unary()?;
        if !is(self.peek(), ",") {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(",") {
            self.skip_newlines();
            items.push(self.unary()?);
            self.ctx.spend(1)?;
        }
        Some(V::Arr(items))
    }

    fn unary(&mut self) -> Option<V> {
        self.ctx.depth += 1;
        let r = if self.ctx.depth > MAX_DEPTH {
            self.ctx.depth_hit = true;
            None
        } else {
            self.unary_inner()
        };
        self.ctx.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> Option<V> {
        self.ctx.spend(1)?;
        match self.peek_tok()?.clone() {
            Tok::Op(o) if o == "join" => {
                self.pos += 1;
                let v = self.unary()?;
                self.ctx.note("-join");
                let parts: Option<Vec<String>> = v.to_list().iter().map(|x| x.to_str()).collect();
                let s = parts?.concat();
                self.ctx.check(&s)?;
                Some(V::Str(s))
            }
            Tok::Op(o) if o == "split" => {
                self.pos += 1;
                let v = self.unary()?;
                let s = v.to_str()?;
                Some(V::Arr(s.split_whitespace().map(|x| V::Str(x.to_string())).collect()))
            }
            Tok::Op(o) if o == "bnot" => {
                self.pos += 1;
                let v = self.unary()?;
                Some(V::Int(!v.to_int()?))
            }
            Tok::P("-") => {
                self.pos += 1;
                let v = self.unary()?;
                Some(V::Int(v.to_int()?.checked_neg()?))
            }
            Tok::P("+") => {
                self.pos += 1;
                let v = self.unary()?;
                Some(V::Int(v.to_int()?))
            }
            Tok::P("++") | Tok::P("--") => {
                let inc = matches!(self.peek_tok(), Some(Tok::P("++")));
                self.pos += 1;
                let name = match self.peek_tok() {
                    Some(Tok::Var(n)) => n.clone(),
                    _ => return None,
                };
                self.pos += 1;
                let cur = self.ctx.vars.get(&name).cloned().unwrap_or(V::Null).to_int()?;
                let new = if inc { cur.checked_add(1)? } else { cur.checked_sub(1)? };
                self.ctx.set_var(name, V::Int(new));
                Some(V::Int(new))
            }
            Tok::Type(t) => {
                // A cast applies when an operand follows; otherwise it is a type value.
                self.pos += 1;
                let next = self.peek_tok();
                let operand = matches!(
                    next,
                    Some(Tok::Str(_))
                        | Some(Tok::XStr(_))
                        | Some(Tok::Num(_))
                        | Some(Tok::Var(_))
                        | Some(Tok::Type(_))
                        | Some(Tok::P("("))
                        | Some(Tok::P("$("))
                        | Some(Tok::P("@("))
                        | Some(Tok::P("-"))
                        | Some(Tok::P("+"))
                ) && !is(self.peek(), "::");
                if !operand {
                    self.pos -= 1;
                    return self.postfix();
                }
                let v = self.unary()?;
                cast(&t, v, self.ctx)
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Option<V> {
        let mut v = self.primary()?;
        loop {
            self.ctx.spend(1)?;
            let tight = self.peek().is_some_and(|t| !t.space_before);
            if tight && is(self.peek(), "[") {
                self.pos += 1;
                let saved = self.no_comma;
                self.no_comma = false;
                let idx = self.expr()?;
                self.no_comma = saved;
                if !self.eat("]") {
                    return None;
                }
                v = index(&v, &idx)?;
                continue;
            }
            if tight && (is(self.peek(), ".") || is(self.peek(), "::")) {
                let stat = is(self.peek(), "::");
                self.pos += 1;
                let name = match self.peek_tok() {
                    Some(Tok::Word(w)) => w.to_lowercase(),
                    Some(Tok::Str(s)) => s.to_lowercase(),
                    Some(Tok::XStr(_)) | Some(Tok::P("(")) => {
                        // Dynamic member name: `"".("In"+"sert")`.
                        let n = self.primary()?.to_str()?.to_lowercase();
                        self.pos -= 1;
                        n
                    }
                    _ => return None,
                };
                self.pos += 1;
                if is(self.peek(), "(") && !self.peek().is_some_and(|t| t.space_before) {
                    self.pos += 1;
                    let args = self.args()?;
                    v = call(&v, &name, &args, stat, self.ctx)?;
                } else {
                    v = member(&v, &name, stat)?;
                }
                continue;
            }
            break;
        }
        Some(v)
    }

    fn args(&mut self) -> Option<Vec<V>> {
        let saved = self.no_comma;
        self.no_comma = true;
        let mut args = Vec::new();
        self.skip_newlines();
        if self.eat(")") {
            self.no_comma = saved;
            return Some(args);
        }
        loop {
            self.skip_newlines();
            let a = self.expr();
            let Some(a) = a else {
                self.no_comma = saved;
                return None;
            };
            args.push(a);
            self.skip_newlines();
            if self.eat(",") {
                continue;
            }
            if self.eat(")") {
                break;
            }
            self.no_comma = saved;
            return None;
        }
        self.no_comma = saved;
        Some(args)
    }

    fn group(&mut self, close: &str) -> Option<V> {
        let saved = self.no_comma;
        self.no_comma = false;
        self.skip_newlines();
        if self.eat(close) {
            self.no_comma = saved;
            return Some(V::Null);
        }
        let v = self.pipeline();
        self.skip_newlines();
        let ok = self.eat(close);
        self.no_comma = saved;
        if ok { v } else { None }
    }

    fn primary(&mut self) -> Option<V> {
        let t = self.peek()?.tok.clone();
        self.pos += 1;
        match t {
            Tok::Str(s) => Some(V::Str(s)),
            Tok::XStr(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        Part::Lit(l) => out.push_str(&l),
                        Part::Var(n) => out.push_str(&self.var(&n, false)?.to_str()?),
                        Part::Sub(src) => {
                            let v = eval_source(&src, self.ctx)?;
                            out.push_str(&v.to_str()?);
                        }
                    }
                    self.ctx.check(&out)?;
                }
                Some(V::Str(out))
            }
            Tok::Num(n) => Some(V::Int(n)),
            Tok::Var(n) => {
                let indexed = is(self.peek(), "[") && !self.peek().is_some_and(|t| t.space_before)
                    || is(self.peek(), ".");
                self.var(&n, indexed)
            }
            Tok::Type(t) => Some(type_value(&t)),
            Tok::Word(w) => {
                let w = w.to_lowercase();
                if !matches!(
                    w.as_str(),
                    "get-variable"
                        | "gv"
                        | "get-item"
                        | "gi"
                        | "ls"
                        | "dir"
                        | "gci"
                        | "get-childitem"
                        | "variable"
                ) {
                    return None;
                }
                let name = match self.peek_tok()? {
                    Tok::Word(n) | Tok::Str(n) => n.to_lowercase(),
                    _ => return None,
                };
                self.pos += 1;
                let name = name
                    .trim_start_matches("variable:")
                    .trim_start_matches(['/', '\\'])
                    .to_string();
                let value = self.ctx.vars.get(&name)?.clone();
                let mut value_only = false;
                while let Some(Tok::Param(p)) = self.peek_tok() {
                    if p.starts_with("v") {
                        value_only = true;
                    }
                    self.pos += 1;
                }
                Some(if value_only { value } else { V::VarObj(Box::new(value)) })
            }
            Tok::P("(") => self.group(")"),
            Tok::P("$(") => self.group(")"),
            Tok::P("@(") => {
                let v = self.group(")")?;
                Some(match v {
                    V::Arr(a) => V::Arr(a),
                    V::Null => V::Arr(vec![]),
                    other => V::Arr(vec![other]),
                })
            }
            Tok::P("@{") => {
                // Only the empty hashtable (special-character encoding uses "$(@{})").
                if self.eat("}") {
                    Some(V::Str("System.Collections.Hashtable".into()))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn var(&mut self, name: &str, indexed: bool) -> Option<V> {
        if let Some(v) = self.ctx.vars.get(name) {
            return Some(v.clone());
        }
        let bare =
            name.strip_prefix("script:").or_else(|| name.strip_prefix("global:")).unwrap_or(name);
        if let Some(v) = self.ctx.vars.get(bare) {
            return Some(v.clone());
        }
        match bare {
            "true" => return Some(V::Bool(true)),
            "false" => return Some(V::Bool(false)),
            "null" => return Some(V::Null),
            "?" => return Some(V::Bool(true)),
            _ => {}
        }
        if indexed { Ctx::auto_var(bare).map(|s| V::Str(s.to_string())) } else { None }
    }
}

fn truthy(v: &V) -> bool {
    match v {
        V::Null => false,
        V::Bool(b) => *b,
        V::Int(i) => *i != 0,
        V::Char(c) => *c != '\0',
        V::Str(s) => !s.is_empty(),
        V::Arr(a) => !a.is_empty(),
        _ => true,
    }
}

/// Index of the `}` closing the `{` at `open`.
fn block_end(toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::P("{") | Tok::P("@{") => depth += 1,
            Tok::P("}") => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// Tokenizes and evaluates `src` as one expression.
pub(crate) fn eval_source(src: &str, ctx: &mut Ctx) -> Option<V> {
    ctx.depth += 1;
    if ctx.depth > MAX_DEPTH {
        ctx.depth_hit = true;
        ctx.depth -= 1;
        return None;
    }
    let toks = lex(src, 200_000);
    let r = Eval::new(&toks, ctx).eval_all();
    ctx.depth -= 1;
    r
}

fn type_value(t: &str) -> V {
    let short = t.trim_start_matches("system.");
    match short {
        "text.encoding]::unicode" => V::Enc("Unicode"),
        _ => V::Type(short.to_string()),
    }
}

fn add(l: V, r: V, ctx: &mut Ctx) -> Option<V> {
    match (&l, &r) {
        (V::Int(a), V::Int(b)) => Some(V::Int(a.checked_add(*b)?)),
        (V::Arr(a), _) => {
            if a.len().saturating_add(r.to_list().len()) > MAX_ARRAY {
                return None;
            }
            let mut a = a.clone();
            a.extend(r.to_list());
            Some(V::Arr(a))
        }
        (V::Int(a), V::Str(s)) => Some(V::Int(a.checked_add(s.trim().parse::<i64>().ok()?)?)),
        _ => {
            ctx.note("string concatenation");
            let mut s = l.to_str()?;
            s.push_str(&r.to_str()?);
            ctx.check(&s)?;
            Some(V::Str(s))
        }
    }
}

fn bitop(op: &str, l: &V, r: &V) -> Option<V> {
    let rb = r.to_int()?;
    let f = |x: i64| match op {
        "bxor" => x ^ rb,
        "band" => x & rb,
        _ => x | rb,
    };
    match l {
        V::Arr(a) => {
            Some(V::Arr(a.iter().map(|v| v.to_int().map(|x| V::Int(f(x)))).collect::<Option<_>>()?))
        }
        V::Bytes(b) => Some(V::Arr(b.iter().map(|x| V::Int(f(i64::from(*x)))).collect())),
        other => Some(V::Int(f(other.to_int()?))),
    }
}

fn cast(t: &str, v: V, ctx: &mut Ctx) -> Option<V> {
    let t = t.trim_start_matches("system.");
    match t {
        "char" => {
            ctx.note("[char] cast");
            match v {
                V::Str(s) if s.chars().count() == 1 => s.chars().next().map(V::Char),
                other => char::from_u32(u32::try_from(other.to_int()?).ok()?).map(V::Char),
            }
        }
        "char[]" => {
            ctx.note("char array");
            match v {
                V::Str(s) => Some(V::Arr(s.chars().map(V::Char).collect())),
                other => Some(V::Arr(
                    other
                        .to_list()
                        .into_iter()
                        .map(|x| match x {
                            V::Char(c) => Some(V::Char(c)),
                            V::Str(s) if s.chars().count() == 1 => s.chars().next().map(V::Char),
                            o => char::from_u32(u32::try_from(o.to_int()?).ok()?).map(V::Char),
                        })
                        .collect::<Option<_>>()?,
                )),
            }
        }
        "string" => Some(V::Str(match &v {
            V::Arr(_) => v.to_str()?,
            _ => v.to_str()?,
        })),
        "int" | "int32" | "int64" | "long" | "int16" | "byte" | "uint32" => {
            Some(V::Int(v.to_int()?))
        }
        "int[]" | "byte[]" | "int32[]" => {
            Some(V::Arr(v.to_list().iter().map(|x| x.to_int().map(V::Int)).collect::<Option<_>>()?))
        }
        "string[]" => {
            Some(V::Arr(v.to_list().iter().map(|x| x.to_str().map(V::Str)).collect::<Option<_>>()?))
        }
        "array" | "object[]" => Some(V::Arr(v.to_list())),
        "scriptblock" => Some(v),
        _ => None,
    }
}

fn index(v: &V, idx: &V) -> Option<V> {
    let pick = |i: i64, len: usize| -> Option<usize> {
        let len = i64::try_from(len).ok()?;
        let k = if i < 0 { len + i } else { i };
        if k < 0 || k >= len { None } else { usize::try_from(k).ok() }
    };
    let one = |i: i64| -> Option<V> {
        match v {
            V::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                Some(V::Char(chars[pick(i, chars.len())?]))
            }
            V::Arr(a) => Some(a[pick(i, a.len())?].clone()),
            V::Bytes(b) => Some(V::Int(i64::from(b[pick(i, b.len())?]))),
            V::Method(m) => {
                let chars: Vec<char> = m.chars().collect();
                Some(V::Char(chars[pick(i, chars.len())?]))
            }
            _ => None,
        }
    };
    match idx {
        V::Arr(list) => {
            let mut out = Vec::new();
            for i in list {
                out.push(one(i.to_int()?)?);
            }
            Some(V::Arr(out))
        }
        other => one(other.to_int()?),
    }
}

fn member(v: &V, name: &str, stat: bool) -> Option<V> {
    match (v, name) {
        (V::VarObj(inner), "value") => Some((**inner).clone()),
        // Regex match objects are modelled as their text.
        (V::Str(s), "value") => Some(V::Str(s.clone())),
        (V::Str(s), "length") => Some(V::Int(s.chars().count() as i64)),
        (V::Arr(a), "length" | "count") => Some(V::Int(a.len() as i64)),
        (V::Bytes(b), "length" | "count") => Some(V::Int(b.len() as i64)),
        (V::Type(t), n) if stat => {
            let t = t.trim_start_matches("system.");
            match (t, n) {
                ("text.encoding", "unicode") => Some(V::Enc("Unicode")),
                ("text.encoding", "utf8") => Some(V::Enc("UTF8")),
                ("text.encoding", "ascii") => Some(V::Enc("ASCII")),
                ("text.encoding", "default") => Some(V::Enc("UTF8")),
                ("text.encoding", "bigendianunicode") => Some(V::Enc("BigEndianUnicode")),
                ("text.encoding", "utf32") => Some(V::Enc("UTF32")),
                ("environment", "newline") => Some(V::Str("\r\n".into())),
                ("string", "empty") => Some(V::Str(String::new())),
                _ => None,
            }
        }
        (V::Str(_), m) => {
            // A method reference without call prints as its overload signature; special
            // character encoding indexes into it.
            let sig = match m {
                "insert" => "string Insert(int startIndex, string value)",
                "normalize" => {
                    "string Normalize(), string Normalize(System.Text.NormalizationForm normalizationForm)"
                }
                "replace" => {
                    "string Replace(char oldChar, char newChar), string Replace(string oldValue, string newValue)"
                }
                _ => return None,
            };
            Some(V::Method(sig.to_string()))
        }
        _ => None,
    }
}

fn call(v: &V, name: &str, args: &[V], stat: bool, ctx: &mut Ctx) -> Option<V> {
    ctx.spend(8)?;
    if stat && let V::Type(t) = v {
        let t = t.trim_start_matches("system.");
        return static_call(t, name, args, ctx);
    }
    match v {
        V::Enc(e) if name == "getstring" => {
            ctx.note("Encoding.GetString");
            let bytes = args.first()?.to_bytes()?;
            Some(V::Str(match *e {
                "Unicode" => decode::utf16le(&bytes),
                "BigEndianUnicode" => {
                    let units: Vec<u16> =
                        bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                    String::from_utf16_lossy(&units)
                }
                "ASCII" => {
                    bytes.iter().map(|b| if *b < 128 { char::from(*b) } else { '?' }).collect()
                }
                _ => String::from_utf8_lossy(&bytes).into_owned(),
            }))
        }
        V::Enc(e) if name == "getbytes" => {
            let s = args.first()?.to_str()?;
            Some(V::Bytes(match *e {
                "Unicode" => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
                _ => s.into_bytes(),
            }))
        }
        V::Str(s) => {
            let a = |k: usize| args.get(k).and_then(|x| x.to_str());
            let out = match name {
                "replace" => {
                    ctx.note(".Replace");
                    let from = a(0)?;
                    if from.is_empty() {
                        return None;
                    }
                    s.replace(&from, &a(1).unwrap_or_default())
                }
                "tolower" | "tolowerinvariant" => s.to_lowercase(),
                "toupper" | "toupperinvariant" => s.to_uppercase(),
                "tostring" => s.clone(),
                "trim" | "trimstart" | "trimend" => {
                    let set: Vec<char> = match args.first() {
                        None => vec![],
                        Some(x) => x
                            .to_list()
                            .iter()
                            .filter_map(|c| c.to_str())
                            .flat_map(|c| c.chars().collect::<Vec<_>>())
                            .collect(),
                    };
                    let f =
                        |c: char| if set.is_empty() { c.is_whitespace() } else { set.contains(&c) };
                    match name {
                        "trim" => s.trim_matches(f).to_string(),
                        "trimstart" => s.trim_start_matches(f).to_string(),
                        _ => s.trim_end_matches(f).to_string(),
                    }
                }
                "substring" => {
                    let chars: Vec<char> = s.chars().collect();
                    let st = usize::try_from(args.first()?.to_int()?).ok()?;
                    let len = match args.get(1) {
                        Some(l) => usize::try_from(l.to_int()?).ok()?,
                        None => chars.len().checked_sub(st)?,
                    };
                    chars.get(st..st.checked_add(len)?)?.iter().collect()
                }
                "split" => {
                    ctx.note(".Split");
                    let seps: Vec<char> = args
                        .iter()
                        .flat_map(|x| x.to_list())
                        .filter_map(|x| x.to_str())
                        .flat_map(|x| x.chars().collect::<Vec<_>>())
                        .collect();
                    return Some(V::Arr(
                        s.split(|c| seps.contains(&c)).map(|x| V::Str(x.to_string())).collect(),
                    ));
                }
                "tochararray" => return Some(V::Arr(s.chars().map(V::Char).collect())),
                "insert" => {
                    let at = usize::try_from(args.first()?.to_int()?).ok()?;
                    let mut chars: Vec<char> = s.chars().collect();
                    if at > chars.len() {
                        return None;
                    }
                    let ins: Vec<char> = a(1)?.chars().collect();
                    chars.splice(at..at, ins);
                    chars.into_iter().collect()
                }
                "remove" => {
                    let chars: Vec<char> = s.chars().collect();
                    let st = usize::try_from(args.first()?.to_int()?).ok()?;
                    let len = match args.get(1) {
                        Some(l) => usize::try_from(l.to_int()?).ok()?,
                        None => chars.len().checked_sub(st)?,
                    };
                    let end = st.checked_add(len)?;
                    if end > chars.len() {
                        return None;
                    }
                    chars[..st].iter().chain(chars[end..].iter()).collect()
                }
                "normalize" => s.clone(),
                _ => return None,
            };
            ctx.check(&out)?;
            Some(V::Str(out))
        }
        V::Arr(_) | V::Char(_) | V::Int(_) | V::Bool(_) if name == "tostring" => {
            Some(V::Str(v.to_str()?))
        }
        _ => None,
    }
}

fn static_call(t: &str, name: &str, args: &[V], ctx: &mut Ctx) -> Option<V> {
    match (t, name) {
        ("convert", "frombase64string") => {
            ctx.note("FromBase64String");
            let s = args.first()?.to_str()?;
            decode::base64_lenient(&s).ok().map(V::Bytes)
        }
        ("convert", "toint16" | "toint32" | "tobyte" | "toint64") => {
            let s = args.first()?.to_str()?;
            let base = args.get(1).and_then(|b| b.to_int()).unwrap_or(10);
            let base = u32::try_from(base).ok().filter(|b| [2, 8, 10, 16].contains(b))?;
            Some(V::Int(i64::from_str_radix(s.trim(), base).ok()?))
        }
        ("convert", "tochar") => {
            char::from_u32(u32::try_from(args.first()?.to_int()?).ok()?).map(V::Char)
        }
        ("string", "join") => {
            ctx.note("String.Join");
            let sep = args.first()?.to_str()?;
            let items: Vec<V> =
                if args.len() == 2 { args[1].to_list() } else { args[1..].to_vec() };
            let parts: Option<Vec<String>> = items.iter().map(|x| x.to_str()).collect();
            let s = parts?.join(&sep);
            ctx.check(&s)?;
            Some(V::Str(s))
        }
        ("string", "concat") => {
            let parts: Option<Vec<String>> =
                args.iter().flat_map(|a| a.to_list()).map(|x| x.to_str()).collect();
            Some(V::Str(parts?.concat()))
        }
        ("string", "new") => {
            let parts: Option<Vec<String>> =
                args.first()?.to_list().iter().map(|x| x.to_str()).collect();
            Some(V::Str(parts?.concat()))
        }
        ("char", "convertfromutf32") => {
            char::from_u32(u32::try_from(args.first()?.to_int()?).ok()?)
                .map(|c| V::Str(c.to_string()))
        }
        ("text.encoding", "unicode" | "utf8" | "ascii") => None,
        ("regex", "matches") => {
            // `[regex]::Matches($s,'.','RightToLeft')` reverses a string.
            let s = args.first()?.to_str()?;
            let pat = args.get(1)?.to_str()?;
            let opts = args.get(2).and_then(|o| o.to_str()).unwrap_or_default().to_lowercase();
            if pat != "." {
                return None;
            }
            ctx.note("reversal");
            let mut chars: Vec<V> =
                s.chars().filter(|c| *c != '\n').map(|c| V::Str(c.to_string())).collect();
            if opts.contains("righttoleft") {
                chars.reverse();
            }
            Some(V::Arr(chars))
        }
        ("scriptblock", "create") => Some(V::Block(args.first()?.to_str()?)),
        _ => None,
    }
}

/// PowerShell `-f`: `{index[,align][:format]}` with `{{`/`}}` escapes.
pub(crate) fn format_op(fmt: &str, args: &[V]) -> Option<String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            if chars.get(i + 1) == Some(&'{') {
                out.push('{');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            let mut num = String::new();
            while j < chars.len() && chars[j].is_ascii_digit() {
                num.push(chars[j]);
                j += 1;
            }
            // Skip alignment / format spec.
            let mut align: i64 = 0;
            if chars.get(j) == Some(&',') {
                let mut k = j + 1;
                let mut a = String::new();
                while k < chars.len()
                    && (chars[k].is_ascii_digit() || chars[k] == '-' || chars[k] == ' ')
                {
                    a.push(chars[k]);
                    k += 1;
                }
                align = a.trim().parse().ok()?;
                j = k;
            }
            while j < chars.len() && chars[j] != '}' {
                j += 1;
            }
            if j >= chars.len() || num.is_empty() {
                return None;
            }
            let k: usize = num.parse().ok()?;
            let val = args.get(k)?.to_str()?;
            let w = usize::try_from(align.unsigned_abs()).ok()?.min(10_000);
            let len = val.chars().count();
            if align > 0 && len < w {
                out.push_str(&" ".repeat(w - len));
                out.push_str(&val);
            } else if align < 0 && len < w {
                out.push_str(&val);
                out.push_str(&" ".repeat(w - len));
            } else {
                out.push_str(&val);
            }
            i = j + 1;
            continue;
        }
        if c == '}' && chars.get(i + 1) == Some(&'}') {
            out.push('}');
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    Some(out)
}

fn build_regex(pat: &str, ci: bool) -> Option<regex::Regex> {
    regex::RegexBuilder::new(pat).case_insensitive(ci).size_limit(1 << 20).build().ok()
}

fn regex_split(s: &str, pat: &str, ci: bool) -> Option<Vec<String>> {
    let re = build_regex(pat, ci)?;
    Some(re.split(s).map(|x| x.to_string()).collect())
}

fn regex_replace(s: &str, pat: &str, rep: &str, ci: bool) -> Option<String> {
    let re = build_regex(pat, ci)?;
    // .NET uses $1 like the regex crate, but `$name` differs; plain text is the common case.
    let rep = rep.replace("${", "$${");
    Some(re.replace_all(s, rep.as_str()).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Option<String> {
        let mut ctx = Ctx::new(1 << 20);
        eval_source(s, &mut ctx)?.to_str()
    }

    #[test]
    fn folds_common_obfuscations() {
        assert_eq!(ev("'ie'+'x'").as_deref(), Some("iex"));
        assert_eq!(ev("\"{1}{0}\" -f 'x','ie'").as_deref(), Some("iex"));
        assert_eq!(ev("[char]105+[char]101+[char]120").as_deref(), Some("iex"));
        assert_eq!(ev("-join ([char[]](105,101,120))").as_deref(), Some("iex"));
        assert_eq!(ev("('xei'[-1..-3] -join '')").as_deref(), Some("iex"));
        assert_eq!(ev("$env:comspec[4,15,25]-join''").as_deref(), Some("iex"));
        assert_eq!(ev("$ShellId[1]+$ShellId[13]+'x'").as_deref(), Some("iex"));
        assert_eq!(ev("'aXb'.Replace('X','-') -replace 'a','c'").as_deref(), Some("c-b"));
        assert_eq!(
            ev("[Text.Encoding]::Unicode.GetString([Convert]::FromBase64String('aQBlAHgA'))")
                .as_deref(),
            Some("iex")
        );
        assert_eq!(ev("((105,101,120) | % {[char]$_}) -join ''").as_deref(), Some("iex"));
        assert_eq!(
            ev("(('69x65x78' -split 'x' | ? {$_} | % {[char][convert]::ToInt16($_,16)}) -join '')")
                .as_deref(),
            Some("iex")
        );
        assert_eq!(ev("[string]::Join('', ([char[]]'xei')[2,1,0])").as_deref(), Some("iex"));
        assert_eq!(ev("(73 -bxor 0)").as_deref(), Some("73"));
    }

    #[test]
    fn deep_nesting_gives_up() {
        let s = format!("{}'a'{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(ev(&s), None);
    }
}
