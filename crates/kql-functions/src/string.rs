//! KQL string operators (`has`, `contains`, `startswith`, `=~`, `in~`,
//! `matches regex`, ...) and string functions (`strcat`, `substring`,
//! `split`, `extract`, `trim`, hashing, encoding, ...).
//!
//! KQL strings are never null: a null string argument is read as `""`, so
//! predicates always return true/false (which keeps `!has` faithful).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DFResult, exec_err};
use memchr::memmem;
use regex::Regex;
use serde_json::Value;

use crate::registry::Returns;
use crate::udf::{
    Def, bool_array, const_str, i64_array, i64s, r_bool, r_i64, r_str, str_array, strs,
};
use bulwark_model::KustoType;

// ---------- term matching ----------

/// Where a needle must sit relative to term boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Whole term(s): `has`.
    Term,
    /// Term prefix: `hasprefix`.
    Prefix,
    /// Term suffix: `hassuffix`.
    Suffix,
    /// Anywhere: `contains`.
    Anywhere,
    /// At the start: `startswith`.
    Start,
    /// At the end: `endswith`.
    End,
}

fn is_term_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A compiled `has`-family needle.
pub(crate) struct Matcher {
    needle: Vec<u8>,
    finder: memmem::Finder<'static>,
    mode: Mode,
    case_sensitive: bool,
    check_start: bool,
    check_end: bool,
}

impl Matcher {
    pub(crate) fn new(needle: &str, mode: Mode, case_sensitive: bool) -> Self {
        let n: Vec<u8> =
            if case_sensitive { needle.as_bytes().to_vec() } else { lower(needle).into_bytes() };
        let first = n.first().copied().is_some_and(is_term_byte);
        let last = n.last().copied().is_some_and(is_term_byte);
        let (check_start, check_end) = match mode {
            Mode::Term => (first, last),
            Mode::Prefix => (first, false),
            Mode::Suffix => (false, last),
            _ => (false, false),
        };
        Matcher {
            finder: memmem::Finder::new(&n).into_owned(),
            needle: n,
            mode,
            case_sensitive,
            check_start,
            check_end,
        }
    }

    /// Tests one haystack; `buf` is scratch space reused across rows.
    pub(crate) fn is_match(&self, hay: &str, buf: &mut Vec<u8>) -> bool {
        if self.case_sensitive {
            self.is_match_prepared(hay.as_bytes())
        } else {
            fold_into(hay, buf);
            self.is_match_prepared(buf)
        }
    }

    /// Tests a haystack already case-folded with [`fold_into`] when the
    /// matcher is case-insensitive.
    pub(crate) fn is_match_prepared(&self, h: &[u8]) -> bool {
        let n = &self.needle;
        match self.mode {
            Mode::Start => h.starts_with(n),
            Mode::End => h.ends_with(n),
            Mode::Anywhere => self.finder.find(h).is_some(),
            Mode::Term | Mode::Prefix | Mode::Suffix => {
                if n.is_empty() {
                    return true;
                }
                self.finder.find_iter(h).any(|pos| {
                    let start_ok = !self.check_start || pos == 0 || !is_term_byte(h[pos - 1]);
                    let end = pos + n.len();
                    let end_ok = !self.check_end || end == h.len() || !is_term_byte(h[end]);
                    start_ok && end_ok
                })
            }
        }
    }
}

/// Case-folds a haystack into `buf` (ASCII fast path).
fn fold_into(hay: &str, buf: &mut Vec<u8>) {
    buf.clear();
    if hay.is_ascii() {
        buf.extend(hay.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        buf.extend_from_slice(hay.to_lowercase().as_bytes());
    }
}

/// Whether every row of the array holds the same value (a literal).
fn is_constant(a: &StringArray) -> bool {
    let first = a.iter().next().flatten();
    a.iter().all(|v| v == first)
}

fn lower(s: &str) -> String {
    if s.is_ascii() { s.to_ascii_lowercase() } else { s.to_lowercase() }
}

/// A predicate `hay OP needle` with per-distinct-needle compilation.
fn predicate(kql: &'static str, mode: Mode, cs: bool) -> Def {
    Def::new(kql, 2, 2, Returns::Type(KustoType::Bool), r_bool, move |a, _| {
        let hay = strs(&a[0])?;
        let needles = strs(&a[1])?;
        let mut buf = Vec::new();
        let mut cur: Option<(String, Matcher)> = None;
        let mut out = Vec::with_capacity(hay.len());
        for i in 0..hay.len() {
            let nd = if needles.is_null(i) { "" } else { needles.value(i) };
            if cur.as_ref().is_none_or(|(s, _)| s != nd) {
                cur = Some((nd.to_string(), Matcher::new(nd, mode, cs)));
            }
            let h = if hay.is_null(i) { "" } else { hay.value(i) };
            out.push(Some(cur.as_ref().is_some_and(|(_, m)| m.is_match(h, &mut buf))));
        }
        Ok(bool_array(out))
    })
}

/// Expands list arguments: a JSON array text contributes its elements, any
/// other value contributes itself.
pub(crate) fn expand_list(args: &[StringArray], row: usize) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        if a.is_null(row) {
            continue;
        }
        let v = a.value(row);
        if v.trim_start().starts_with('[')
            && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(v)
        {
            out.extend(items.iter().map(crate::dynamic::value_to_kql_string));
            continue;
        }
        out.push(v.to_string());
    }
    out
}

/// `has_any` / `has_all` / `in~`.
fn list_predicate(kql: &'static str, all: bool, equals: bool) -> Def {
    Def::new(kql, 2, usize::MAX, Returns::Type(KustoType::Bool), r_bool, move |a, _| {
        let hay = strs(&a[0])?;
        let lists = a[1..].iter().map(strs).collect::<DFResult<Vec<_>>>()?;
        let mut buf = Vec::new();
        let mut cache: Option<(Vec<String>, Vec<Matcher>)> = None;
        let mut out = Vec::with_capacity(hay.len());
        // Literal lists (the usual case) are expanded once, not per row.
        let constant = lists.iter().all(is_constant);
        for i in 0..hay.len() {
            if constant && cache.is_some() {
                let h = if hay.is_null(i) { "" } else { hay.value(i) };
                let r = match &cache {
                    Some((keys, _)) if equals => {
                        let hl = lower(h);
                        keys.iter().any(|k| lower(k) == hl)
                    }
                    Some((_, ms)) => {
                        fold_into(h, &mut buf);
                        if all {
                            !ms.is_empty() && ms.iter().all(|m| m.is_match_prepared(&buf))
                        } else {
                            ms.iter().any(|m| m.is_match_prepared(&buf))
                        }
                    }
                    None => false,
                };
                out.push(Some(r));
                continue;
            }
            let needles = expand_list(&lists, i);
            if cache.as_ref().is_none_or(|(k, _)| *k != needles) {
                let ms = if equals {
                    Vec::new()
                } else {
                    needles.iter().map(|n| Matcher::new(n, Mode::Term, false)).collect()
                };
                cache = Some((needles, ms));
            }
            let h = if hay.is_null(i) { "" } else { hay.value(i) };
            let r = match &cache {
                Some((keys, _)) if equals => {
                    let hl = lower(h);
                    keys.iter().any(|k| lower(k) == hl)
                }
                Some((_, ms)) if all => {
                    !ms.is_empty() && ms.iter().all(|m| m.is_match(h, &mut buf))
                }
                Some((_, ms)) => ms.iter().any(|m| m.is_match(h, &mut buf)),
                None => false,
            };
            out.push(Some(r));
        }
        Ok(bool_array(out))
    })
}

// ---------- regex cache ----------

/// Compiles a KQL (RE2-syntax) regex, caching compiled patterns process-wide
/// so a pattern literal compiles once, not once per batch.
pub(crate) fn regex(pattern: &str) -> DFResult<Arc<Regex>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock()
        && let Some(r) = c.get(pattern)
    {
        return Ok(Arc::clone(r));
    }
    let re = match regex::RegexBuilder::new(pattern).size_limit(1 << 22).build() {
        Ok(r) => Arc::new(r),
        Err(e) => return exec_err!("invalid regular expression `{pattern}`: {e}"),
    };
    if let Ok(mut c) = cache.lock() {
        // Bound memory: patterns are normally few query literals.
        if c.len() >= 512 {
            c.clear();
        }
        c.insert(pattern.to_string(), Arc::clone(&re));
    }
    Ok(re)
}

/// Converts a KQL rewrite pattern (`\1` group references) to Rust's (`${1}`).
fn rewrite_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str("${");
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    out.push(d);
                    chars.next();
                }
                out.push('}');
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

fn s_or_empty(a: &StringArray, i: usize) -> &str {
    if a.is_null(i) { "" } else { a.value(i) }
}

// ---------- string functions ----------

fn substring(s: &str, start: i64, len: Option<i64>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len() as i64;
    let mut st = if start < 0 { n + start } else { start };
    st = st.clamp(0, n);
    let end = match len {
        Some(l) if l < 0 => st,
        Some(l) => st.saturating_add(l).min(n),
        None => n,
    };
    chars[st as usize..end as usize].iter().collect()
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = bytes.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(h).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Ticks (100 ns) from 0001-01-01 to the Unix epoch.
const EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// KQL `hash()` / `hash_xxhash64()`: XXH64 (seed 0) of the UTF-8 bytes for
/// strings, of the little-endian 8 bytes of the tick count for datetimes and
/// timespans, and of the little-endian 8 bytes for numbers (longs, reals),
/// reinterpreted as a signed long. Strings and datetimes match Kusto's
/// documented examples; other types are stable but unverified against Kusto.
pub(crate) fn xxhash(bytes: &[u8]) -> i64 {
    twox_hash::XxHash64::oneshot(0, bytes) as i64
}

fn countof_normal(s: &str, needle: &str) -> i64 {
    if needle.is_empty() {
        return 0;
    }
    // Kusto's "normal" kind counts overlapping occurrences.
    let mut count = 0;
    let mut from = 0;
    while let Some(p) = s[from..].find(needle) {
        count += 1;
        let step = s[from + p..].chars().next().map_or(1, char::len_utf8);
        from += p + step;
        if from > s.len() {
            break;
        }
    }
    count
}

fn indexof(s: &str, lookup: &str, start: i64, length: i64, occurrence: i64) -> Option<i64> {
    if start < 0 || occurrence <= 0 || length < -1 {
        return None;
    }
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let n = chars.len() as i64;
    if start > n {
        return Some(-1);
    }
    let byte_start = chars.get(start as usize).map_or(s.len(), |c| c.0);
    let byte_end = if length == -1 {
        s.len()
    } else {
        let e = start.saturating_add(length).min(n);
        chars.get(e as usize).map_or(s.len(), |c| c.0)
    };
    let hay = &s[byte_start..byte_end];
    let mut from = 0;
    let mut seen = 0;
    while let Some(p) = hay[from..].find(lookup) {
        seen += 1;
        let at = from + p;
        if seen == occurrence {
            let char_idx = hay[..at].chars().count() as i64 + start;
            return Some(char_idx);
        }
        from = at + hay[at..].chars().next().map_or(1, char::len_utf8);
        if from > hay.len() {
            break;
        }
    }
    Some(-1)
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

/// All string operator and function definitions.
pub(crate) fn defs() -> Vec<Def> {
    let t = |k| Returns::Type(k);
    let mut v = vec![
        predicate("has", Mode::Term, false),
        predicate("has_cs", Mode::Term, true),
        predicate("hasprefix", Mode::Prefix, false),
        predicate("hasprefix_cs", Mode::Prefix, true),
        predicate("hassuffix", Mode::Suffix, false),
        predicate("hassuffix_cs", Mode::Suffix, true),
        predicate("contains", Mode::Anywhere, false),
        predicate("contains_cs", Mode::Anywhere, true),
        predicate("startswith", Mode::Start, false),
        predicate("startswith_cs", Mode::Start, true),
        predicate("endswith", Mode::End, false),
        predicate("endswith_cs", Mode::End, true),
        list_predicate("has_any", false, false),
        list_predicate("has_all", true, false),
        list_predicate("in_ci", false, true),
    ];
    v.push(Def::new("equals_ci", 2, 2, t(KustoType::Bool), r_bool, |a, _| {
        let (x, y) = (strs(&a[0])?, strs(&a[1])?);
        Ok(bool_array(
            (0..x.len())
                .map(|i| {
                    let (p, q) = (s_or_empty(&x, i), s_or_empty(&y, i));
                    // ASCII strings compare without allocating.
                    Some(if p.is_ascii() && q.is_ascii() {
                        p.eq_ignore_ascii_case(q)
                    } else {
                        lower(p) == lower(q)
                    })
                })
                .collect(),
        ))
    }));
    v.push(Def::new("matches_regex", 2, 2, t(KustoType::Bool), r_bool, |a, _| {
        let (x, p) = (strs(&a[0])?, strs(&a[1])?);
        let mut out = Vec::with_capacity(x.len());
        for i in 0..x.len() {
            if p.is_null(i) {
                out.push(None);
                continue;
            }
            let re = regex(p.value(i))?;
            out.push(Some(re.is_match(s_or_empty(&x, i))));
        }
        Ok(bool_array(out))
    }));
    v.push(Def::new("strcat", 1, 64, t(KustoType::String), r_str, |a, n| {
        let cols = a.iter().map(strs).collect::<DFResult<Vec<_>>>()?;
        Ok(str_array(
            (0..n)
                .map(|i| Some(cols.iter().map(|c| s_or_empty(c, i)).collect::<String>()))
                .collect(),
        ))
    }));
    v.push(Def::new("strcat_delim", 3, 65, t(KustoType::String), r_str, |a, n| {
        let cols = a.iter().map(strs).collect::<DFResult<Vec<_>>>()?;
        Ok(str_array(
            (0..n)
                .map(|i| {
                    let d = s_or_empty(&cols[0], i);
                    Some(cols[1..].iter().map(|c| s_or_empty(c, i)).collect::<Vec<_>>().join(d))
                })
                .collect(),
        ))
    }));
    v.push(Def::new("strlen", 1, 1, t(KustoType::Long), r_i64, |a, _| {
        let s = strs(&a[0])?;
        Ok(i64_array(
            (0..s.len()).map(|i| Some(s_or_empty(&s, i).chars().count() as i64)).collect(),
        ))
    }));
    v.push(Def::new("substring", 2, 3, t(KustoType::String), r_str, |a, _| {
        let s = strs(&a[0])?;
        let st = i64s(&a[1])?;
        let ln = a.get(2).map(i64s).transpose()?;
        Ok(str_array(
            (0..s.len())
                .map(|i| {
                    if st.is_null(i) {
                        return None;
                    }
                    let l = match &ln {
                        Some(l) if l.is_null(i) => None,
                        Some(l) => Some(l.value(i)),
                        None => None,
                    };
                    Some(substring(s_or_empty(&s, i), st.value(i), l))
                })
                .collect(),
        ))
    }));
    v.push(Def::new("split", 2, 3, t(KustoType::Dynamic), r_str, |a, _| {
        let s = strs(&a[0])?;
        let d = strs(&a[1])?;
        let idx = a.get(2).map(i64s).transpose()?;
        Ok(str_array(
            (0..s.len())
                .map(|i| {
                    let src = s_or_empty(&s, i);
                    let delim = s_or_empty(&d, i);
                    let parts: Vec<Value> = if delim.is_empty() {
                        vec![Value::String(src.to_string())]
                    } else {
                        src.split(delim).map(|p| Value::String(p.to_string())).collect()
                    };
                    let parts = match &idx {
                        Some(ix) if ix.is_null(i) => return None,
                        Some(ix) => {
                            let k = ix.value(i);
                            if k < 0 {
                                return None;
                            }
                            parts.get(k as usize).cloned().into_iter().collect()
                        }
                        None => parts,
                    };
                    Some(json_text(&Value::Array(parts)))
                })
                .collect(),
        ))
    }));
    v.push(Def::new("replace_string", 3, 3, t(KustoType::String), r_str, |a, _| {
        let (s, l, r) = (strs(&a[0])?, strs(&a[1])?, strs(&a[2])?);
        Ok(str_array(
            (0..s.len())
                .map(|i| {
                    let (src, lk) = (s_or_empty(&s, i), s_or_empty(&l, i));
                    if lk.is_empty() {
                        return Some(src.to_string());
                    }
                    Some(src.replace(lk, s_or_empty(&r, i)))
                })
                .collect(),
        ))
    }));
    v.push(Def::new("replace_regex", 3, 3, t(KustoType::String), r_str, |a, _| {
        let (s, l, r) = (strs(&a[0])?, strs(&a[1])?, strs(&a[2])?);
        let mut out = Vec::with_capacity(s.len());
        for i in 0..s.len() {
            if l.is_null(i) {
                out.push(None);
                continue;
            }
            let re = regex(l.value(i))?;
            let rw = rewrite_pattern(s_or_empty(&r, i));
            out.push(Some(re.replace_all(s_or_empty(&s, i), rw.as_str()).into_owned()));
        }
        Ok(str_array(out))
    }));
    v.push(Def::new("extract", 3, 3, t(KustoType::String), r_str, |a, _| {
        let (p, g, s) = (strs(&a[0])?, i64s(&a[1])?, strs(&a[2])?);
        let mut out = Vec::with_capacity(s.len());
        for i in 0..s.len() {
            if p.is_null(i) || g.is_null(i) {
                out.push(None);
                continue;
            }
            let re = regex(p.value(i))?;
            let grp = g.value(i);
            let r = if grp < 0 {
                None
            } else {
                re.captures(s_or_empty(&s, i))
                    .and_then(|c| c.get(grp as usize).map(|m| m.as_str().to_string()))
            };
            // KQL strings are never null: no match yields "".
            out.push(Some(r.unwrap_or_default()));
        }
        Ok(str_array(out))
    }));
    v.push(Def::new("extract_all", 2, 3, t(KustoType::Dynamic), r_str, |a, _| {
        let p = strs(&a[0])?;
        let (groups, s) =
            if a.len() == 3 { (Some(strs(&a[1])?), strs(&a[2])?) } else { (None, strs(&a[1])?) };
        let mut out = Vec::with_capacity(s.len());
        for i in 0..s.len() {
            if p.is_null(i) {
                out.push(None);
                continue;
            }
            let re = regex(p.value(i))?;
            let sel: Option<Vec<usize>> = match &groups {
                Some(g) if !g.is_null(i) => match serde_json::from_str::<Value>(g.value(i)) {
                    Ok(Value::Array(xs)) => {
                        Some(xs.iter().filter_map(Value::as_u64).map(|x| x as usize).collect())
                    }
                    _ => {
                        return exec_err!(
                            "extract_all: captureGroups must be a dynamic array of group numbers"
                        );
                    }
                },
                _ => None,
            };
            let ng = re.captures_len() - 1;
            let mut matches = Vec::new();
            for c in re.captures_iter(s_or_empty(&s, i)) {
                let get = |k: usize| Value::String(c.get(k).map_or("", |m| m.as_str()).to_string());
                let item = match &sel {
                    Some(ks) if ks.len() == 1 => get(ks[0]),
                    Some(ks) => Value::Array(ks.iter().map(|&k| get(k)).collect()),
                    None if ng <= 1 => get(ng),
                    None => Value::Array((1..=ng).map(get).collect()),
                };
                matches.push(item);
            }
            out.push(if matches.is_empty() {
                None
            } else {
                Some(json_text(&Value::Array(matches)))
            });
        }
        Ok(str_array(out))
    }));
    for (name, lead, trail) in
        [("trim", true, true), ("trim_start", true, false), ("trim_end", false, true)]
    {
        v.push(Def::new(name, 2, 2, t(KustoType::String), r_str, move |a, _| {
            let (p, s) = (strs(&a[0])?, strs(&a[1])?);
            let mut out = Vec::with_capacity(s.len());
            for i in 0..s.len() {
                if p.is_null(i) {
                    out.push(None);
                    continue;
                }
                let pat = p.value(i);
                let mut txt = s_or_empty(&s, i).to_string();
                if lead {
                    let re = regex(&format!("^(?:{pat})+"))?;
                    txt = re.replace(&txt, "").into_owned();
                }
                if trail {
                    let re = regex(&format!("(?:{pat})+$"))?;
                    txt = re.replace(&txt, "").into_owned();
                }
                out.push(Some(txt));
            }
            Ok(str_array(out))
        }));
    }
    v.push(Def::new("indexof", 2, 5, t(KustoType::Long), r_i64, |a, _| {
        let (s, l) = (strs(&a[0])?, strs(&a[1])?);
        let st = a.get(2).map(i64s).transpose()?;
        let ln = a.get(3).map(i64s).transpose()?;
        let oc = a.get(4).map(i64s).transpose()?;
        let get = |x: &Option<datafusion::arrow::array::Int64Array>, i: usize, d: i64| match x {
            Some(x) if x.is_null(i) => None,
            Some(x) => Some(x.value(i)),
            None => Some(d),
        };
        Ok(i64_array(
            (0..s.len())
                .map(|i| {
                    indexof(
                        s_or_empty(&s, i),
                        s_or_empty(&l, i),
                        get(&st, i, 0)?,
                        get(&ln, i, -1)?,
                        get(&oc, i, 1)?,
                    )
                })
                .collect(),
        ))
    }));
    v.push(Def::new("countof", 2, 3, t(KustoType::Long), r_i64, |a, _| {
        let (s, l) = (strs(&a[0])?, strs(&a[1])?);
        let kind = match a.get(2) {
            Some(k) => const_str(k)?.unwrap_or_else(|| "normal".into()),
            None => "normal".into(),
        };
        let is_regex = match kind.as_str() {
            "normal" => false,
            "regex" => true,
            other => return exec_err!("countof: kind must be 'normal' or 'regex', got '{other}'"),
        };
        let mut out = Vec::with_capacity(s.len());
        for i in 0..s.len() {
            let (src, nd) = (s_or_empty(&s, i), s_or_empty(&l, i));
            out.push(Some(if is_regex {
                regex(nd)?.find_iter(src).count() as i64
            } else {
                countof_normal(src, nd)
            }));
        }
        Ok(i64_array(out))
    }));
    type StrFn = fn(&str) -> Option<String>;
    let unary: [(&'static str, StrFn); 10] = [
        ("tolower", |s| Some(s.to_lowercase())),
        ("toupper", |s| Some(s.to_uppercase())),
        ("reverse", |s| Some(s.chars().rev().collect())),
        ("url_encode", |s| Some(url_encode(s))),
        ("url_decode", url_decode),
        ("base64_encode_tostring", |s| {
            Some(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
        }),
        ("base64_decode_tostring", |s| {
            let b = base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()?;
            String::from_utf8(b).ok()
        }),
        ("hash_md5", |s| {
            use md5::Digest;
            Some(hex::encode(md5::Md5::digest(s.as_bytes())))
        }),
        ("hash_sha1", |s| {
            use sha1::Digest;
            Some(hex::encode(sha1::Sha1::digest(s.as_bytes())))
        }),
        ("hash_sha256", |s| {
            use sha2::Digest;
            Some(hex::encode(sha2::Sha256::digest(s.as_bytes())))
        }),
    ];
    for (name, f) in unary {
        v.push(Def::new(name, 1, 1, t(KustoType::String), r_str, move |a, _| {
            let s = strs(&a[0])?;
            Ok(str_array((0..s.len()).map(|i| f(s_or_empty(&s, i))).collect()))
        }));
    }
    v.push(Def::new("url_encode_component", 1, 1, t(KustoType::String), r_str, |a, _| {
        let s = strs(&a[0])?;
        Ok(str_array((0..s.len()).map(|i| Some(url_encode(s_or_empty(&s, i)))).collect()))
    }));
    v.push(Def::new("hash", 1, 2, t(KustoType::Long), r_i64, |a, _| {
        let h: Vec<Option<i64>> = if crate::udf::is_string(a[0].data_type()) {
            let s = strs(&a[0])?;
            (0..s.len()).map(|i| s.is_valid(i).then(|| xxhash(s.value(i).as_bytes()))).collect()
        } else if matches!(a[0].data_type(), DataType::Timestamp(_, _)) {
            // Kusto hashes a datetime as its ticks (100 ns since 0001-01-01).
            let t = crate::udf::datetimes(&a[0])?;
            t.iter()
                .map(|x| x.map(|x| xxhash(&(x.div_euclid(100) + EPOCH_TICKS).to_le_bytes())))
                .collect()
        } else if matches!(a[0].data_type(), DataType::Duration(_)) {
            let t = crate::udf::timespans(&a[0])?;
            t.iter().map(|x| x.map(|x| xxhash(&x.div_euclid(100).to_le_bytes()))).collect()
        } else if matches!(a[0].data_type(), DataType::Float64) {
            let f = crate::udf::f64s(&a[0])?;
            f.iter().map(|x| x.map(|x| xxhash(&x.to_le_bytes()))).collect()
        } else {
            let l = i64s(&a[0])?;
            l.iter().map(|x| x.map(|x| xxhash(&x.to_le_bytes()))).collect()
        };
        let m = a.get(1).map(i64s).transpose()?;
        Ok(i64_array(
            h.into_iter()
                .enumerate()
                .map(|(i, x)| match &m {
                    None => x,
                    Some(m) if m.is_null(i) || m.value(i) <= 0 => None,
                    Some(m) => x.map(|x| (x as u64 % m.value(i) as u64) as i64),
                })
                .collect(),
        ))
    }));
    v.push(Def::new("strrep", 2, 3, t(KustoType::String), r_str, |a, _| {
        let s = strs(&a[0])?;
        let m = i64s(&a[1])?;
        let d = a.get(2).map(strs).transpose()?;
        Ok(str_array(
            (0..s.len())
                .map(|i| {
                    if m.is_null(i) {
                        return None;
                    }
                    // Kusto caps the multiplier at 1024 and the result at 1 MB.
                    let k = m.value(i).clamp(0, 1024) as usize;
                    let delim = d.as_ref().map_or("", |d| s_or_empty(d, i));
                    let one = s_or_empty(&s, i);
                    if (one.len() + delim.len()).saturating_mul(k) > 1 << 20 {
                        return None;
                    }
                    Some(vec![one; k].join(delim))
                })
                .collect(),
        ))
    }));
    v.push(Def::new("isempty", 1, 1, t(KustoType::Bool), r_bool, |a, _| {
        let s = strs(&a[0])?;
        Ok(bool_array((0..s.len()).map(|i| Some(s.is_null(i) || s.value(i).is_empty())).collect()))
    }));
    v.push(Def::new("isnotempty", 1, 1, t(KustoType::Bool), r_bool, |a, _| {
        let s = strs(&a[0])?;
        Ok(bool_array(
            (0..s.len()).map(|i| Some(!(s.is_null(i) || s.value(i).is_empty()))).collect(),
        ))
    }));
    v
}
