//! PowerShell tokenizer for the safe subset the evaluator understands.
//!
//! It never fails: text it cannot classify becomes [`Tok::Other`]. Tokens carry byte spans so
//! that folded expressions can be spliced back into the source text. Backtick escapes in
//! barewords (`I`E`X`) are removed while lexing, which undoes the "ticking" obfuscation.

/// A double-quoted string piece.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    /// Literal text.
    Lit(String),
    /// `$name` or `${name}` (lower-cased name).
    Var(String),
    /// `$( ... )` raw source.
    Sub(String),
}

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Single-quoted or here-string literal.
    Str(String),
    /// Double-quoted (expandable) string.
    XStr(Vec<Part>),
    /// Integer.
    Num(i64),
    /// `$name` (lower-cased, scope kept: `env:comspec`).
    Var(String),
    /// `[Type]` (lower-cased, whitespace removed).
    Type(String),
    /// Bareword (command, member or argument), backticks removed.
    Word(String),
    /// `-operator` (lower-cased, without the dash), only for known operators.
    Op(String),
    /// `-Parameter` (lower-cased, without the dash).
    Param(String),
    /// Punctuation: `( ) [ ] { } , ; | & . = + - * / % ! :: .. ++ -- $( @( @{ += newline`.
    P(&'static str),
    /// Anything else.
    Other,
}

/// A token with its byte span and whether whitespace preceded it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
    pub space_before: bool,
}

const OPERATORS: &[&str] = &[
    "f",
    "join",
    "split",
    "isplit",
    "csplit",
    "replace",
    "ireplace",
    "creplace",
    "bxor",
    "band",
    "bor",
    "bnot",
    "eq",
    "ne",
    "ieq",
    "ceq",
    "like",
    "ilike",
    "clike",
    "notlike",
    "match",
    "imatch",
    "cmatch",
    "notmatch",
    "as",
    "is",
    "isnot",
    "not",
    "and",
    "or",
    "xor",
    "shl",
    "shr",
    "contains",
    "notcontains",
    "in",
    "notin",
    "gt",
    "ge",
    "lt",
    "le",
];

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2013}' | '\u{2014}' | '\u{2015}')
}

fn is_squote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}')
}

fn is_dquote(c: char) -> bool {
    matches!(c, '"' | '\u{201c}' | '\u{201d}' | '\u{201e}')
}

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(c, '(' | ')' | '{' | '}' | '[' | ']' | ',' | ';' | '|' | '&' | '$' | '=' | '#')
        || is_squote(c)
        || is_dquote(c))
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '`'
}

/// Tokenizes `src`. At most `max_tokens` tokens are produced (the rest is dropped).
pub(crate) fn lex(src: &str, max_tokens: usize) -> Vec<Token> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let n = chars.len();
    let at = |i: usize| -> char { if i < n { chars[i].1 } else { '\0' } };
    let off = |i: usize| -> usize { if i < n { chars[i].0 } else { src.len() } };
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    let mut space = true;
    while i < n && out.len() < max_tokens {
        let c = at(i);
        let start = i;
        // Whether the previous token ends a value, so `[`/`.` are postfix and `-` is binary.
        let after_value = !space
            && out.last().is_some_and(|t| {
                matches!(
                    t.tok,
                    Tok::Str(_)
                        | Tok::XStr(_)
                        | Tok::Num(_)
                        | Tok::Var(_)
                        | Tok::Word(_)
                        | Tok::P(")")
                        | Tok::P("]")
                        | Tok::P("}")
                )
            });
        let push = |tok: Tok, end: usize, out: &mut Vec<Token>| {
            out.push(Token { tok, start: off(start), end: off(end), space_before: space });
        };
        if c == '\n' {
            push(Tok::P("\n"), i + 1, &mut out);
            i += 1;
            space = true;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            space = true;
            continue;
        }
        if c == '`' && at(i + 1) == '\n' {
            i += 2;
            space = true;
            continue;
        }
        if c == '`' && at(i + 1) == '\r' && at(i + 2) == '\n' {
            i += 3;
            space = true;
            continue;
        }
        if c == '<' && at(i + 1) == '#' {
            let mut j = i + 2;
            while j < n && !(at(j) == '#' && at(j + 1) == '>') {
                j += 1;
            }
            i = (j + 2).min(n);
            space = true;
            continue;
        }
        if c == '#' {
            while i < n && at(i) != '\n' {
                i += 1;
            }
            space = true;
            continue;
        }
        // Here-strings.
        if c == '@'
            && (is_squote(at(i + 1)) || is_dquote(at(i + 1)))
            && matches!(at(i + 2), '\n' | '\r')
        {
            let q = at(i + 1);
            let mut j = i + 2;
            let body_start = if at(j) == '\r' { j + 2 } else { j + 1 };
            j = body_start;
            while j < n && !(at(j) == q && at(j + 1) == '@' && (j == 0 || at(j - 1) == '\n')) {
                j += 1;
            }
            let mut body: String = chars[body_start.min(n)..j.min(n)].iter().map(|x| x.1).collect();
            while body.ends_with('\n') || body.ends_with('\r') {
                body.pop();
            }
            let end = (j + 2).min(n);
            if is_squote(q) {
                push(Tok::Str(body), end, &mut out);
            } else {
                push(Tok::XStr(parse_expandable(&body)), end, &mut out);
            }
            i = end;
            space = false;
            continue;
        }
        if is_squote(c) {
            let mut s = String::new();
            let mut j = i + 1;
            while j < n {
                if is_squote(at(j)) {
                    if is_squote(at(j + 1)) {
                        s.push(at(j));
                        j += 2;
                        continue;
                    }
                    break;
                }
                s.push(at(j));
                j += 1;
            }
            push(Tok::Str(s), (j + 1).min(n), &mut out);
            i = (j + 1).min(n);
            space = false;
            continue;
        }
        if is_dquote(c) {
            let mut raw = String::new();
            let mut j = i + 1;
            let mut depth = 0usize;
            while j < n {
                let d = at(j);
                if d == '`' && j + 1 < n {
                    raw.push(d);
                    raw.push(at(j + 1));
                    j += 2;
                    continue;
                }
                if d == '$' && at(j + 1) == '(' {
                    depth += 1;
                    raw.push_str("$(");
                    j += 2;
                    continue;
                }
                if depth > 0 && d == ')' {
                    depth -= 1;
                } else if depth == 0 && is_dquote(d) {
                    if is_dquote(at(j + 1)) {
                        raw.push('`');
                        raw.push('"');
                        j += 2;
                        continue;
                    }
                    break;
                }
                raw.push(d);
                j += 1;
            }
            push(Tok::XStr(parse_expandable(&raw)), (j + 1).min(n), &mut out);
            i = (j + 1).min(n);
            space = false;
            continue;
        }
        if c == '$' {
            let d = at(i + 1);
            if d == '(' {
                push(Tok::P("$("), i + 2, &mut out);
                i += 2;
                space = false;
                continue;
            }
            if d == '{' {
                let mut name = String::new();
                let mut j = i + 2;
                while j < n && at(j) != '}' {
                    if at(j) == '`' && j + 1 < n {
                        j += 1;
                    }
                    name.push(at(j));
                    j += 1;
                }
                push(Tok::Var(name.to_lowercase()), (j + 1).min(n), &mut out);
                i = (j + 1).min(n);
                space = false;
                continue;
            }
            if matches!(d, '?' | '$' | '^') {
                push(Tok::Var(d.to_string()), i + 2, &mut out);
                i += 2;
                space = false;
                continue;
            }
            let mut j = i + 1;
            let mut name = String::new();
            while j < n
                && (ident_char(at(j))
                    || (at(j) == ':'
                        && ident_char(at(j + 1))
                        && !name.is_empty()
                        && !name.contains(':')))
            {
                if at(j) != '`' {
                    name.push(at(j));
                }
                j += 1;
            }
            if name.is_empty() {
                push(Tok::Other, i + 1, &mut out);
                i += 1;
            } else {
                push(Tok::Var(name.to_lowercase()), j, &mut out);
                i = j;
            }
            space = false;
            continue;
        }
        if c == '@' && at(i + 1) == '(' {
            push(Tok::P("@("), i + 2, &mut out);
            i += 2;
            space = false;
            continue;
        }
        if c == '@' && at(i + 1) == '{' {
            push(Tok::P("@{"), i + 2, &mut out);
            i += 2;
            space = false;
            continue;
        }
        if c == '[' && !after_value {
            // Type literal?
            let mut j = i + 1;
            let mut depth = 1;
            let mut name = String::new();
            let mut ok = true;
            while j < n {
                let d = at(j);
                if d == '[' {
                    depth += 1;
                } else if d == ']' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                } else if !(d.is_alphanumeric() || matches!(d, '.' | '_' | ',' | '`' | ' ' | '+')) {
                    ok = false;
                    break;
                }
                if d != '`' && d != ' ' {
                    name.push(d);
                }
                j += 1;
                if j - i > 200 {
                    ok = false;
                    break;
                }
            }
            let first_ok = name.chars().next().is_some_and(|f| f.is_alphabetic() || f == '_');
            if ok && j < n && first_ok {
                push(Tok::Type(name.to_lowercase()), j + 1, &mut out);
                i = j + 1;
                space = false;
                continue;
            }
        }
        if is_dash(c) && at(i + 1).is_alphabetic() && !after_value_word(&out, space) {
            let mut j = i + 1;
            let mut name = String::new();
            while j < n && (at(j).is_alphanumeric() || at(j) == '`' || at(j) == '_') {
                if at(j) != '`' {
                    name.push(at(j));
                }
                j += 1;
            }
            let lower = name.to_lowercase();
            if OPERATORS.contains(&lower.as_str()) {
                push(Tok::Op(lower), j, &mut out);
            } else if out.last().is_some_and(|t| {
                matches!(
                    t.tok,
                    Tok::Word(_)
                        | Tok::Param(_)
                        | Tok::Str(_)
                        | Tok::XStr(_)
                        | Tok::Var(_)
                        | Tok::Num(_)
                        | Tok::P(")")
                )
            }) || space
            {
                push(Tok::Param(lower), j, &mut out);
            } else {
                push(Tok::Other, j, &mut out);
            }
            i = j;
            space = false;
            continue;
        }
        if c.is_ascii_digit()
            && !(after_value && matches!(out.last().map(|t| &t.tok), Some(Tok::Word(_))))
        {
            let mut j = i;
            let mut text = String::new();
            while j < n && (at(j).is_ascii_alphanumeric()) {
                text.push(at(j));
                j += 1;
            }
            let lower = text.to_lowercase();
            let val = if let Some(h) = lower.strip_prefix("0x") {
                i64::from_str_radix(h, 16).ok()
            } else {
                lower.parse::<i64>().ok()
            };
            if let Some(v) = val {
                // `1..5` ranges: stop before the dots.
                push(Tok::Num(v), j, &mut out);
                i = j;
                space = false;
                continue;
            }
        }
        let two: String = [c, at(i + 1)].iter().collect();
        let p2 = match two.as_str() {
            "::" => Some("::"),
            ".." => Some(".."),
            "++" => Some("++"),
            "--" => Some("--"),
            "+=" => Some("+="),
            "-=" => Some("-="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(p) = p2 {
            push(Tok::P(p), i + 2, &mut out);
            i += 2;
            space = false;
            continue;
        }
        let p1 = match c {
            '(' => Some("("),
            ')' => Some(")"),
            '[' => Some("["),
            ']' => Some("]"),
            '{' => Some("{"),
            '}' => Some("}"),
            ',' => Some(","),
            ';' => Some(";"),
            '|' => Some("|"),
            '&' => Some("&"),
            '=' => Some("="),
            '+' => Some("+"),
            '*' => Some("*"),
            '/' if after_value || !at(i + 1).is_alphanumeric() => Some("/"),
            '%' => Some("%"),
            '!' => Some("!"),
            '.' if after_value
                || matches!(at(i + 1), ' ' | '(' | '$' | '\'' | '"' | '&' | '{' | '\t')
                || i + 1 >= n =>
            {
                Some(".")
            }
            '-' | '\u{2013}' | '\u{2014}' | '\u{2015}' => Some("-"),
            '>' => Some(">"),
            '<' => Some("<"),
            _ => None,
        };
        if let Some(p) = p1 {
            push(Tok::P(p), i + 1, &mut out);
            i += 1;
            space = false;
            continue;
        }
        // Bareword (member names stop at '.', '(' and operators).
        let member =
            !space && matches!(out.last().map(|t| &t.tok), Some(Tok::P(".")) | Some(Tok::P("::")));
        let mut j = i;
        let mut word = String::new();
        while j < n {
            let d = at(j);
            if d == '`' && j + 1 < n {
                word.push(at(j + 1));
                j += 2;
                continue;
            }
            if !is_word_char(d) || (member && !(d.is_alphanumeric() || d == '_')) {
                break;
            }
            if !member
                && j > i
                && matches!(d, '.' | ',' | '+' | '*')
                && !at(j + 1).is_alphanumeric()
            {
                break;
            }
            word.push(d);
            j += 1;
        }
        if j == i {
            push(Tok::Other, i + 1, &mut out);
            i += 1;
        } else {
            push(Tok::Word(word), j, &mut out);
            i = j;
        }
        space = false;
    }
    out
}

fn after_value_word(out: &[Token], space: bool) -> bool {
    // `$a-join''`: a dash right after a value is an operator, never part of a word; the
    // operator path handles that too, so only barewords glued to the dash count here.
    !space && out.last().is_some_and(|t| matches!(t.tok, Tok::Word(_)))
}

/// Splits the raw body of a double-quoted string into literal, variable and sub-expression
/// pieces, undoing backtick escapes.
pub(crate) fn parse_expandable(raw: &str) -> Vec<Part> {
    let chars: Vec<char> = raw.chars().collect();
    let n = chars.len();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '`' && i + 1 < n {
            let e = chars[i + 1];
            lit.push(match e {
                '0' => '\0',
                'a' => '\u{7}',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'v' => '\u{b}',
                'e' => '\u{1b}',
                other => other,
            });
            i += 2;
            continue;
        }
        if c == '$' && i + 1 < n {
            let d = chars[i + 1];
            if d == '(' {
                let mut depth = 1;
                let mut j = i + 2;
                while j < n {
                    if chars[j] == '(' {
                        depth += 1;
                    } else if chars[j] == ')' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Sub(chars[i + 2..j.min(n)].iter().collect()));
                i = j + 1;
                continue;
            }
            if d == '{' {
                let mut j = i + 2;
                let mut name = String::new();
                while j < n && chars[j] != '}' {
                    name.push(chars[j]);
                    j += 1;
                }
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var(name.to_lowercase()));
                i = j + 1;
                continue;
            }
            if d == '?' || d == '$' || d == '^' {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var(d.to_string()));
                i += 2;
                continue;
            }
            if d.is_alphanumeric() || d == '_' {
                let mut j = i + 1;
                let mut name = String::new();
                while j < n
                    && (chars[j].is_alphanumeric()
                        || chars[j] == '_'
                        || (chars[j] == ':'
                            && j + 1 < n
                            && chars[j + 1].is_alphanumeric()
                            && !name.contains(':')))
                {
                    name.push(chars[j]);
                    j += 1;
                }
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var(name.to_lowercase()));
                i = j;
                continue;
            }
        }
        lit.push(c);
        i += 1;
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s, 10_000).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_format_and_casts() {
        let t = toks("(\"{1}{0}\" -f 'x','ie')|&([char]105+'ex')");
        assert!(t.contains(&Tok::Op("f".into())));
        assert!(t.contains(&Tok::Type("char".into())));
        assert!(t.contains(&Tok::Str("ie".into())));
    }

    #[test]
    fn ticks_removed_from_words() {
        assert_eq!(toks("I`N`V`oke-Ex`pression")[0], Tok::Word("INVoke-Expression".into()));
    }

    #[test]
    fn index_vs_type() {
        let t = toks("$env:comspec[4,15,25]-join''");
        assert_eq!(t[0], Tok::Var("env:comspec".into()));
        assert_eq!(t[1], Tok::P("["));
        assert!(t.contains(&Tok::Op("join".into())));
    }
}
