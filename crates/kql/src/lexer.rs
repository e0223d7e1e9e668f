//! The lexer: KQL text to tokens with spans. Never fails; malformed input becomes
//! [`TokenKind::Error`] tokens plus diagnostics, so the parser can keep going.
//!
//! Words are all [`TokenKind::Ident`]: KQL keywords are contextual (`where`, `has`, `kind` are
//! valid column names), so the parser decides by position.
use crate::diagnostic::{Diagnostic, MAX_DIAGNOSTICS, codes};
use crate::span::Span;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A word: identifier or contextual keyword (`$left`/`$right` included).
    Ident(String),
    /// An integer literal (decimal or `0x` hex), already converted.
    Long(i64),
    /// A real literal.
    Real(f64),
    /// A timespan literal such as `1d`, `30m`, `1.5h`, in nanoseconds.
    Timespan(i64),
    /// A string literal after unescaping (concatenation of adjacent literals is the parser's job).
    Str(String),
    /// Punctuation or operator, e.g. `|`, `==`, `!~`, `=~`.
    Punct(&'static str),
    /// Something that could not be lexed (already reported).
    Error,
    /// End of input.
    Eof,
}

/// A token and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Kind and value.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

const PUNCTS: [&str; 29] = [
    "==", "!=", "<=", ">=", "=~", "!~", "<>", "=>", "..", "|", "(", ")", "[", "]", "{", "}", ",",
    ";", ":", ".", "=", "<", ">", "+", "-", "*", "/", "%", "!",
];

/// Nanoseconds per timespan unit, by the unit names KQL accepts.
pub fn timespan_unit(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => 86_400_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "s" | "sec" | "second" | "seconds" => 1_000_000_000,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "microsecond" | "microseconds" | "micro" | "micros" => 1_000,
        "tick" | "ticks" => 100,
        "ns" | "nanosecond" | "nanoseconds" => 1,
        _ => return None,
    })
}

/// Lexes the whole text. The last token is always [`TokenKind::Eof`].
pub fn lex(text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut lx = Lexer { src: text, bytes: text.as_bytes(), pos: 0, tokens: Vec::new(), diags };
    lx.run();
    let end = text.len();
    lx.tokens.push(Token { kind: TokenKind::Eof, span: Span::new(end, end) });
    lx.tokens
}

struct Lexer<'a, 'd> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    diags: &'d mut Vec<Diagnostic>,
}

impl Lexer<'_, '_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token { kind, span: Span::new(start, self.pos) });
    }

    fn error(&mut self, start: usize, msg: impl Into<String>) {
        if self.diags.len() < MAX_DIAGNOSTICS {
            self.diags.push(Diagnostic::error(codes::LEX, Span::new(start, self.pos), msg));
        }
        self.push(TokenKind::Error, start);
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            let before = self.pos;
            self.step();
            // Progress guard: every step consumes at least one byte.
            if self.pos <= before {
                self.pos = before + 1;
                while !self.src.is_char_boundary(self.pos) {
                    self.pos += 1;
                }
            }
        }
    }

    fn step(&mut self) {
        let start = self.pos;
        let c = self.peek(0);
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
            b'/' if self.peek(1) == b'/' => {
                while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            }
            b'`' if self.peek(1) == b'`' && self.peek(2) == b'`' => self.fenced(b'`'),
            b'~' if self.peek(1) == b'~' && self.peek(2) == b'~' => self.fenced(b'~'),
            b'\'' | b'"' => self.quoted(start, false),
            b'@' if matches!(self.peek(1), b'\'' | b'"') => {
                self.pos += 1;
                self.quoted(start, true);
            }
            b'h' | b'H' if matches!(self.peek(1), b'\'' | b'"') => {
                self.pos += 1;
                self.quoted(start, false);
            }
            b'h' | b'H' if self.peek(1) == b'@' && matches!(self.peek(2), b'\'' | b'"') => {
                self.pos += 2;
                self.quoted(start, true);
            }
            b'0'..=b'9' => self.number(start),
            b'.' if self.peek(1).is_ascii_digit()
                && !matches!(
                    self.tokens.last().map(|t| &t.kind),
                    Some(TokenKind::Ident(_)) | Some(TokenKind::Punct(")" | "]"))
                ) =>
            {
                self.number(start)
            }
            b'$' if is_ident_start(self.peek(1)) => {
                self.pos += 1;
                self.word(start);
            }
            c if is_ident_start(c) => self.word(start),
            b'~' => {
                self.pos += 1;
                self.push(TokenKind::Punct("~"), start);
            }
            _ => {
                for p in PUNCTS {
                    if self.src[self.pos..].starts_with(p) {
                        self.pos += p.len();
                        self.push(TokenKind::Punct(p), start);
                        return;
                    }
                }
                let ch = self.src[self.pos..].chars().next().unwrap_or('\0');
                self.pos += ch.len_utf8().max(1);
                self.error(start, format!("unexpected character '{}'", ch.escape_debug()));
            }
        }
    }

    fn word(&mut self, start: usize) {
        while self.pos < self.bytes.len() && is_ident_continue(self.bytes[self.pos]) {
            self.pos += 1;
        }
        let text = self.src[start..self.pos].to_string();
        let is_datetime = matches!(text.as_str(), "datetime" | "guid");
        self.push(TokenKind::Ident(text), start);
        if is_datetime {
            self.datetime_body();
        }
    }

    /// `datetime(2018-06-09T02:23:26.68Z)`, `guid(74be27de-…)`: the unquoted body is not made of KQL tokens, so it
    /// becomes one string token between the parentheses.
    fn datetime_body(&mut self) {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        if !trimmed.starts_with('(') {
            return;
        }
        let open = self.pos + (rest.len() - trimmed.len());
        let body = &trimmed[1..];
        if body.trim_start().starts_with(['\'', '"', '@']) {
            return;
        }
        let Some(close) = body.find([')', '\n', '(']) else { return };
        if body.as_bytes().get(close) != Some(&b')') {
            return;
        }
        self.pos = open + 1;
        self.push(TokenKind::Punct("("), open);
        let text_start = self.pos;
        self.pos += close;
        let text = body[..close].trim().to_string();
        if !text.is_empty() {
            self.push(TokenKind::Str(text), text_start);
        }
        let close_start = self.pos;
        self.pos += 1;
        self.push(TokenKind::Punct(")"), close_start);
    }

    fn fenced(&mut self, fence: u8) {
        let start = self.pos;
        self.pos += 3;
        let body_start = self.pos;
        let pat = if fence == b'`' { "```" } else { "~~~" };
        match self.src[body_start..].find(pat) {
            Some(i) => {
                self.pos = body_start + i + 3;
                let body = self.src[body_start..body_start + i].to_string();
                self.push(TokenKind::Str(body), start);
            }
            None => {
                self.pos = self.bytes.len();
                self.error(start, "unterminated multi-line string");
            }
        }
    }

    fn quoted(&mut self, start: usize, verbatim: bool) {
        let quote = self.peek(0);
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(ch) = self.src[self.pos..].chars().next() else {
                self.error(start, "unterminated string literal");
                return;
            };
            if ch == '\n' {
                self.error(start, "unterminated string literal (strings end at the line end)");
                return;
            }
            self.pos += ch.len_utf8();
            if ch as u32 == u32::from(quote) {
                if verbatim && self.peek(0) == quote {
                    self.pos += 1;
                    value.push(ch);
                    continue;
                }
                break;
            }
            if ch == '\\' && !verbatim {
                let Some(esc) = self.src[self.pos..].chars().next() else { continue };
                self.pos += esc.len_utf8();
                match esc {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '0' => value.push('\0'),
                    '\\' | '\'' | '"' => value.push(esc),
                    'u' => {
                        let hex: String = self.src[self.pos..].chars().take(4).collect();
                        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                            Some(c) if hex.len() == 4 => {
                                self.pos += 4;
                                value.push(c);
                            }
                            _ => {
                                value.push('\\');
                                value.push('u');
                            }
                        }
                    }
                    // Kusto keeps unknown escapes such as `\d` (common in regexes) verbatim.
                    other => {
                        value.push('\\');
                        value.push(other);
                    }
                }
                continue;
            }
            value.push(ch);
        }
        self.push(TokenKind::Str(value), start);
    }

    fn number(&mut self, start: usize) {
        if self.peek(0) == b'0'
            && matches!(self.peek(1), b'x' | b'X')
            && self.peek(2).is_ascii_hexdigit()
        {
            self.pos += 2;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
            let digits = &self.src[start + 2..self.pos];
            match u64::from_str_radix(digits, 16) {
                Ok(v) => self.push(TokenKind::Long(v as i64), start),
                Err(_) => self.error(start, "hex literal out of range"),
            }
            return;
        }
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        let mut real = false;
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            real = true;
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit()
                || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()))
        {
            real = true;
            self.pos += 2;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        let num_end = self.pos;
        let text = &self.src[start..num_end];
        if is_ident_start(self.peek(0)) {
            let unit_start = self.pos;
            while is_ident_continue(self.peek(0)) {
                self.pos += 1;
            }
            let unit = &self.src[unit_start..self.pos];
            match (timespan_unit(unit), text.parse::<f64>()) {
                (Some(mult), Ok(v)) => {
                    let nanos = v * mult as f64;
                    if nanos.is_finite() && nanos.abs() < 9.2e18 {
                        self.push(TokenKind::Timespan(nanos.round() as i64), start);
                    } else {
                        self.error(start, "timespan literal out of range");
                    }
                }
                _ => self.error(
                    start,
                    format!("invalid number or timespan literal '{}'", &self.src[start..self.pos]),
                ),
            }
            return;
        }
        if real {
            match text.parse::<f64>() {
                Ok(v) => self.push(TokenKind::Real(v), start),
                Err(_) => self.error(start, "invalid real literal"),
            }
        } else {
            match text.parse::<i64>() {
                Ok(v) => self.push(TokenKind::Long(v), start),
                Err(_) => match text.parse::<f64>() {
                    Ok(v) => self.push(TokenKind::Real(v), start),
                    Err(_) => self.error(start, "invalid number"),
                },
            }
        }
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        let mut d = Vec::new();
        let toks = lex(s, &mut d);
        assert!(d.is_empty(), "{d:?}");
        toks.into_iter().map(|t| t.kind).filter(|k| *k != TokenKind::Eof).collect()
    }

    #[test]
    fn lexes_literals() {
        assert_eq!(kinds("1d"), vec![TokenKind::Timespan(86_400_000_000_000)]);
        assert_eq!(kinds("1.5h"), vec![TokenKind::Timespan(5_400_000_000_000)]);
        assert_eq!(kinds("100ms"), vec![TokenKind::Timespan(100_000_000)]);
        assert_eq!(kinds("0x1F"), vec![TokenKind::Long(31)]);
        assert_eq!(kinds("2.5e3"), vec![TokenKind::Real(2500.0)]);
        assert_eq!(kinds(r#"@"C:\x""y""#), vec![TokenKind::Str("C:\\x\"y".into())]);
        assert_eq!(kinds(r"'a\'b\n\d'"), vec![TokenKind::Str("a'b\n\\d".into())]);
        assert_eq!(kinds("h'secret'"), vec![TokenKind::Str("secret".into())]);
        assert_eq!(kinds("```a\nb```"), vec![TokenKind::Str("a\nb".into())]);
    }

    #[test]
    fn lexes_operators_and_comments() {
        assert_eq!(
            kinds("a !~ b // c\n=~ $left"),
            vec![
                TokenKind::Ident("a".into()),
                TokenKind::Punct("!~"),
                TokenKind::Ident("b".into()),
                TokenKind::Punct("=~"),
                TokenKind::Ident("$left".into()),
            ]
        );
    }

    #[test]
    fn bad_input_becomes_error_tokens() {
        let mut d = Vec::new();
        let toks = lex("a ¤ 'open", &mut d);
        assert_eq!(d.len(), 2);
        assert!(toks.iter().any(|t| t.kind == TokenKind::Error));
        assert_eq!(toks.last().map(|t| &t.kind), Some(&TokenKind::Eof));
    }
}
