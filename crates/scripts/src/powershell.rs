//! PowerShell layer peeling: `-EncodedCommand` command lines, embedded base64 (+ gzip /
//! deflate) payloads, Invoke-Expression wrappers in every spelling, and constant folding of
//! string-building expressions with variable tracking. Nothing is executed: values come from
//! [`crate::ps_eval`], which only knows pure operations.

use std::sync::LazyLock;

use regex::Regex;

use crate::decode;
use crate::engine::{Limits, Step};
use crate::ps_eval::{Ctx, Eval, V};
use crate::ps_lex::{Tok, Token, lex};

/// Largest text the token-level passes look at; bigger layers get the regex passes only.
const MAX_EVAL_TEXT: usize = 4 << 20;

static ENC_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|[\s"'\\^])[-/\x{2013}\x{2014}\x{2015}](e[a-z]*)\^?\s+\^?["']?([A-Za-z0-9+/]{8,}={0,2})"#)
        .expect("invariant: static regex")
});

static B64_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)FromBase64String\s*\(\s*(?:\(\s*)?(?:''|'|"|\$(\w+))([A-Za-z0-9+/=\s]{16,})?"#,
    )
    .expect("invariant: static regex")
});

/// One PowerShell step, or `None` when nothing more can be undone.
pub(crate) fn step(text: &str, limits: &Limits) -> Option<Step> {
    if let Some(s) = encoded_command(text) {
        return Some(s);
    }
    if let Some(s) = command_line(text) {
        return Some(s);
    }
    if let Some(s) = base64_payload(text, limits) {
        return Some(s);
    }
    if let Some(s) = whitespace_encoding(text) {
        return Some(s);
    }
    if let Some(s) = secure_string(text) {
        return Some(s);
    }
    if text.len() <= MAX_EVAL_TEXT
        && let Some(s) = fold_and_unwrap(text, limits)
    {
        return Some(s);
    }
    None
}

static PS_EXE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^\s*["']?(?:[^\s"']*[\\/])?(?:powershell|pwsh)(?:\.exe)?["']?"#)
        .expect("invariant: static regex")
});

/// `powershell.exe [-flags] [-Command] "<script>"`: the script argument is the next layer.
fn command_line(text: &str) -> Option<Step> {
    let m = PS_EXE.find(text)?;
    let mut rest = text[m.end()..].trim_start();
    if text[m.end()..].chars().next().is_some_and(|c| !c.is_whitespace()) {
        return None;
    }
    while let Some(flag) = rest.strip_prefix(['-', '/', '\u{2013}', '\u{2014}']) {
        let name_len = flag.find(|c: char| c.is_whitespace()).unwrap_or(flag.len());
        let name = flag[..name_len].to_ascii_lowercase();
        let after = flag[name_len..].trim_start();
        if !name.is_empty() && "command".starts_with(name.as_str()) {
            rest = after;
            break;
        }
        if name.starts_with('f')
            || name.starts_with("en")
            || name == "e"
            || name == "ec"
            || name.is_empty()
        {
            // -File, -EncodedCommand (handled elsewhere), or something odd.
            return None;
        }
        let takes_value = [
            "windowstyle",
            "executionpolicy",
            "version",
            "inputformat",
            "outputformat",
            "configurationname",
            "psconsolefile",
            "workingdirectory",
            "ep",
            "ex",
            "w",
        ]
        .iter()
        .any(|f| {
            f.starts_with(name.as_str())
                || (name.starts_with('w') && name.get(..2).is_some_and(|p| f.starts_with(p)))
        });
        rest = after;
        if takes_value {
            let v = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
            rest = rest[v..].trim_start();
        }
    }
    let mut script = rest.trim().to_string();
    for q in ['"', '\''] {
        if script.len() >= 2 && script.starts_with(q) && script.ends_with(q) {
            script = script[1..script.len() - 1].to_string();
            break;
        }
    }
    let script = script.replace("\\\"", "\"");
    if script.trim().is_empty() || script.len() >= text.len() || script.starts_with('-') {
        return None;
    }
    Some(
        Step::new("powershell.exe command line unwrapped", script)
            .with_lang(crate::types::Language::PowerShell)
            .entry(),
    )
}

fn is_encoded_flag(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "e" || n == "ec" || (n.starts_with("en") && "encodedcommand".starts_with(n.as_str()))
}

/// `powershell -enc <base64 of UTF-16LE>` (and every abbreviation of `-EncodedCommand`).
pub(crate) fn encoded_command(text: &str) -> Option<Step> {
    for cap in ENC_FLAG.captures_iter(text).take(64) {
        let (Some(flag), Some(b64)) = (cap.get(1), cap.get(2)) else { continue };
        if !is_encoded_flag(flag.as_str()) {
            continue;
        }
        let Ok(bytes) = decode::base64_lenient(b64.as_str()) else { continue };
        if bytes.len() < 2 {
            continue;
        }
        let (decoded, how) = if !bytes.contains(&0) {
            let s = String::from_utf8_lossy(&bytes).into_owned();
            if decode::ascii_ratio(&s) < 0.9 {
                (decode::utf16le(&bytes), "-EncodedCommand (base64 UTF-16LE)")
            } else {
                (s, "-EncodedCommand (base64 of UTF-8, non-standard)")
            }
        } else {
            (decode::utf16le(&bytes), "-EncodedCommand (base64 UTF-16LE)")
        };
        let decoded = decoded.trim_end_matches('\0').to_string();
        // `grep -e SomeWord` is not an encoded command: require mostly readable text unless
        // PowerShell itself is being launched (then even a corrupt payload is the next layer).
        let launches_ps = {
            let mut from = flag.start().saturating_sub(512);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let before = &text[from..flag.start()];
            contains_ci(before, "powershell") || contains_ci(before, "pwsh")
        };
        if decoded.trim().is_empty() || (!launches_ps && decode::ascii_ratio(&decoded) < 0.75) {
            continue;
        }
        return Some(Step::new(how, decoded).entry());
    }
    None
}

/// `[Convert]::FromBase64String('...')` payloads, optionally gzip / deflate compressed. The
/// payload text becomes the next layer.
fn base64_payload(text: &str, limits: &Limits) -> Option<Step> {
    let lower_has = |needle: &str| contains_ci(text, needle);
    let deflate_ctx = lower_has("deflatestream");
    let gzip_ctx = lower_has("gzipstream");
    let mut best: Option<Step> = None;
    for cap in B64_CALL.captures_iter(text).take(64) {
        let b64 = if let Some(var) = cap.get(1) {
            match lookup_assigned_literal(text, var.as_str()) {
                Some(v) => v,
                None => continue,
            }
        } else {
            match cap.get(2) {
                Some(m) => m.as_str().to_string(),
                None => continue,
            }
        };
        let Ok(bytes) = decode::base64_lenient(&b64) else { continue };
        let (payload, how) = match decode::compression_of(&bytes) {
            Some(fmt) => match decode::decompress(&bytes, fmt, limits.max_decompressed) {
                Ok(p) => (
                    p,
                    format!(
                        "base64 + {fmt} (FromBase64String / {})",
                        if fmt == "gzip" { "GzipStream" } else { "DeflateStream" }
                    ),
                ),
                Err(e) => {
                    limits.note(format!("payload not decompressed: {e}"));
                    continue;
                }
            },
            None if deflate_ctx || gzip_ctx => {
                match decode::decompress(&bytes, "deflate", limits.max_decompressed) {
                    Ok(p) => {
                        (p, "base64 + raw deflate (FromBase64String / DeflateStream)".to_string())
                    }
                    Err(e) => {
                        if matches!(e, crate::Error::Limit { .. }) {
                            limits.note(format!("payload not decompressed: {e}"));
                        }
                        (bytes, "base64 (FromBase64String)".to_string())
                    }
                }
            }
            None => (bytes, "base64 (FromBase64String)".to_string()),
        };
        let decoded = decode::bytes_to_text(&payload);
        if decoded.trim().len() < 4 || decode::ascii_ratio(&decoded) < 0.85 {
            continue;
        }
        if decoded.len() > limits.max_output {
            limits.note(format!(
                "decoded payload of {} bytes exceeds the output limit",
                decoded.len()
            ));
            continue;
        }
        if best.as_ref().is_none_or(|b| b.text.len() < decoded.len()) {
            best = Some(Step::new(&how, decoded).blob());
        }
    }
    best
}

static SECURE_BLOB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)76492d1116743f0423413b16050a5345([A-Za-z0-9+/=]{16,})")
        .expect("invariant: static regex")
});

static SECURE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)-k(?:ey?)?\s*\(?\s*((?:\d{1,3}\s*,\s*){15,31}\d{1,3}|\d{1,3}\s*\.\.\s*\d{1,3})\s*\)?",
    )
    .expect("invariant: static regex")
});

/// `ConvertTo-SecureString <exported blob> -Key (...)` with the key in the script: the blob is
/// `76492d1116743f0423413b16050a5345` + base64(UTF-16LE "2|<base64 IV>|<hex AES-CBC data>").
fn secure_string(text: &str) -> Option<Step> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
    let blob = SECURE_BLOB.captures(text)?.get(1)?.as_str();
    let key_src = SECURE_KEY.captures(text)?.get(1)?.as_str();
    let key: Vec<u8> = if let Some((a, b)) = key_src.split_once("..") {
        let (a, b): (u8, u8) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        if a <= b { (a..=b).collect() } else { (b..=a).rev().collect() }
    } else {
        key_src.split(',').map(|x| x.trim().parse::<u8>().ok()).collect::<Option<_>>()?
    };
    let inner = decode::utf16le(&decode::base64_lenient(blob).ok()?);
    let mut parts = inner.split('|');
    let _version = parts.next()?;
    let iv = decode::base64_lenient(parts.next()?).ok()?;
    let hex = parts.next()?.trim();
    if hex.len() % 2 != 0 || iv.len() != 16 {
        return None;
    }
    let mut data: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<_>>()?;
    let plain = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .ok()?
            .decrypt_padded_mut::<Pkcs7>(&mut data)
            .ok()?
            .to_vec(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv)
            .ok()?
            .decrypt_padded_mut::<Pkcs7>(&mut data)
            .ok()?
            .to_vec(),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .ok()?
            .decrypt_padded_mut::<Pkcs7>(&mut data)
            .ok()?
            .to_vec(),
        _ => return None,
    };
    let out = decode::utf16le(&plain);
    if out.trim().is_empty() || decode::ascii_ratio(&out) < 0.85 {
        return None;
    }
    Some(
        Step::new("SecureString decrypted with the key embedded in the script (AES-CBC)", out)
            .blob(),
    )
}

static WS_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"'([ \t]{16,})'").expect("invariant: static regex"));

/// Invoke-Obfuscation whitespace encoding: each character code is written as runs of spaces
/// between tabs (digit = run length - 1), characters separated by two tabs.
fn whitespace_encoding(text: &str) -> Option<Step> {
    let lit = WS_LITERAL.captures(text)?.get(1)?.as_str();
    if !lit.contains("\t\t") || !contains_ci(text, "split") {
        return None;
    }
    let mut out = String::new();
    for chunk in lit.split("\t\t") {
        let mut digits = String::new();
        for part in chunk.split('\t') {
            let d = part.len().checked_sub(1)?;
            if d > 9 {
                return None;
            }
            digits.push(char::from(b'0' + d as u8));
        }
        if digits.is_empty() {
            continue;
        }
        out.push(char::from_u32(digits.parse().ok()?)?);
    }
    if out.trim().is_empty() || decode::ascii_ratio(&out) < 0.9 {
        return None;
    }
    Some(Step::new("whitespace encoding (spaces and tabs) decoded", out))
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.as_bytes().windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn lookup_assigned_literal(text: &str, var: &str) -> Option<String> {
    let re = Regex::new(&format!(
        r#"(?i)\${}\s*=\s*['"]([A-Za-z0-9+/=\s]{{16,}})['"]"#,
        regex::escape(var)
    ))
    .ok()?;
    re.captures(text).and_then(|c| c.get(1)).map(|m| m.as_str().to_string())
}

/// A statement: token index range.
type Range = (usize, usize);

/// Splits into statements at `;` and newlines outside parentheses. Statements inside script
/// blocks are emitted too (before the statement that contains the block), so straight-line
/// tracking sees assignments made in `% { ... }` blocks.
fn statements(toks: &[Token]) -> Vec<Range> {
    struct Frame {
        start: usize,
        depth: usize,
    }
    let mut out = Vec::new();
    let mut stack = vec![Frame { start: 0, depth: 0 }];
    for (i, t) in toks.iter().enumerate() {
        let frames = stack.len();
        let Some(top) = stack.last_mut() else { break };
        match &t.tok {
            Tok::P("(") | Tok::P("$(") | Tok::P("@(") | Tok::P("[") => top.depth += 1,
            Tok::P(")") | Tok::P("]") => top.depth = top.depth.saturating_sub(1),
            Tok::P("{") | Tok::P("@{") if frames < 256 => {
                stack.push(Frame { start: i + 1, depth: 0 });
            }
            Tok::P("}") if frames > 1 => {
                if let Some(f) = stack.pop()
                    && f.start < i
                {
                    out.push((f.start, i));
                }
            }
            Tok::P(";") | Tok::P("\n") if top.depth == 0 => {
                if top.start < i {
                    out.push((top.start, i));
                }
                top.start = i + 1;
            }
            _ => {}
        }
    }
    while let Some(f) = stack.pop() {
        if f.start < toks.len() {
            out.push((f.start, toks.len()));
        }
    }
    out
}

fn invoker_name(s: &str) -> bool {
    let s = s.trim().to_ascii_lowercase();
    let s = s.trim_start_matches("microsoft.powershell.utility\\");
    s == "iex" || s == "invoke-expression"
}

/// Index of the matching close token for an opener at `i`.
fn matching(toks: &[Token], i: usize, end: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().take(end).skip(i) {
        match &t.tok {
            Tok::P("(")
            | Tok::P("$(")
            | Tok::P("@(")
            | Tok::P("[")
            | Tok::P("{")
            | Tok::P("@{") => depth += 1,
            Tok::P(")") | Tok::P("]") | Tok::P("}") => {
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

/// Does `toks[a..b]` name Invoke-Expression (bareword, or `&`/`.` + an expression that
/// evaluates to it)? Returns the index after the invoker.
fn invoker_at(toks: &[Token], a: usize, b: usize, ctx: &mut Ctx) -> Option<usize> {
    match &toks.get(a)?.tok {
        Tok::Word(w) if invoker_name(w) => Some(a + 1),
        Tok::P("&") | Tok::P(".") => {
            let k = a + 1;
            if k >= b {
                return None;
            }
            let end = match &toks[k].tok {
                Tok::P("(") | Tok::P("$(") => matching(toks, k, b)? + 1,
                Tok::Word(w) if invoker_name(w) => return Some(k + 1),
                Tok::Str(_) | Tok::XStr(_) => k + 1,
                Tok::Var(_) => {
                    // `$x`, `$env:comspec[4,15,25]` and similar.
                    let mut e = k + 1;
                    while e < b && !toks[e].space_before && matches!(toks[e].tok, Tok::P("[")) {
                        e = matching(toks, e, b)? + 1;
                    }
                    e
                }
                _ => return None,
            };
            let v = Eval::new(&toks[k..end], ctx).eval_all()?;
            let name = match v {
                V::Block(_) => return Some(end),
                other => other.to_str()?,
            };
            if invoker_name(&name) { Some(end) } else { None }
        }
        _ => None,
    }
}

fn payload_text(v: V) -> Option<String> {
    match v {
        V::Arr(items) => {
            if items.iter().all(|x| matches!(x, V::Char(_))) {
                items.iter().map(|x| x.to_str()).collect()
            } else {
                let parts: Option<Vec<String>> = items.iter().map(|x| x.to_str()).collect();
                Some(parts?.join("\n"))
            }
        }
        V::Null | V::Bool(_) | V::Enc(_) | V::Type(_) | V::Method(_) | V::Bytes(_) => None,
        other => other.to_str(),
    }
}

fn eval_range(toks: &[Token], a: usize, b: usize, ctx: &mut Ctx) -> Option<V> {
    if a >= b {
        return None;
    }
    let mut a = a;
    while a < b
        && matches!(toks[a].tok, Tok::Param(ref p) if p == "command" || p == "c" || p == "scriptblock")
    {
        a += 1;
    }
    Eval::new(&toks[a..b], ctx).eval_all()
}

/// Finds the Invoke-Expression payload of one statement.
fn unwrap_statement(toks: &[Token], (a, b): Range, ctx: &mut Ctx) -> Option<String> {
    // Prefix form: `iex <expr>`, `&('iex') <expr>`, `Invoke-Command -ScriptBlock ([scriptblock]::Create(..))`.
    if let Some(after) = invoker_at(toks, a, b, ctx)
        && let Some(v) = eval_range(toks, after, b, ctx)
    {
        return payload_text(v);
    }
    if let Tok::Word(w) = &toks[a].tok {
        let w = w.to_ascii_lowercase();
        if (w == "invoke-command" || w == "icm")
            && a + 1 < b
            && let Some(V::Block(s)) = eval_range(toks, a + 1, b, ctx)
        {
            return Some(s);
        }
    }
    // `& ([scriptblock]::Create(...))` and `.( ... )` of a block.
    // Pipeline form: `<expr> | iex`.
    let mut depth = 0usize;
    let mut last_pipe = None;
    for (k, t) in toks.iter().enumerate().take(b).skip(a) {
        match &t.tok {
            Tok::P("(")
            | Tok::P("$(")
            | Tok::P("@(")
            | Tok::P("[")
            | Tok::P("{")
            | Tok::P("@{") => depth += 1,
            Tok::P(")") | Tok::P("]") | Tok::P("}") => depth = depth.saturating_sub(1),
            Tok::P("|") if depth == 0 => last_pipe = Some(k),
            _ => {}
        }
    }
    let p = last_pipe?;
    let after = invoker_at(toks, p + 1, b, ctx)?;
    if after != b {
        return None;
    }
    payload_text(eval_range(toks, a, p, ctx)?)
}

/// Applies assignments of one statement to the context.
fn track_assignment(toks: &[Token], (a, b): Range, ctx: &mut Ctx) {
    let mut k = a;
    // `[Type]$x = ...`
    let mut cast: Option<String> = None;
    if let Tok::Type(t) = &toks[k].tok {
        cast = Some(t.clone());
        k += 1;
    }
    if k + 1 < b
        && let (Tok::Var(name), Tok::P(op)) = (&toks[k].tok, &toks[k + 1].tok)
        && (*op == "=" || *op == "+=")
    {
        let name = name.clone();
        let v = eval_range(toks, k + 2, b, ctx);
        let v = match (op, v) {
            (&"+=", Some(r)) => ctx.vars.get(&name).cloned().and_then(|l| match (l, r) {
                (V::Str(x), r) => Some(V::Str(x + &r.to_str()?)),
                (V::Int(x), V::Int(y)) => Some(V::Int(x.checked_add(y)?)),
                (V::Arr(mut x), r) => {
                    x.extend(match r {
                        V::Arr(y) => y,
                        o => vec![o],
                    });
                    Some(V::Arr(x))
                }
                _ => None,
            }),
            (_, v) => v,
        };
        let v = match (cast, v) {
            (Some(t), Some(v)) if t == "string" => v.to_str().map(V::Str),
            (_, v) => v,
        };
        let too_big = v.as_ref().is_some_and(|v| matches!(v, V::Str(s) if s.len() > ctx.max_str));
        match v {
            Some(v) if !too_big => {
                ctx.set_var(name, v);
            }
            _ => {
                ctx.vars.remove(&name);
            }
        }
        return;
    }
    // Set-Variable / sv / Set-Item variable:x / si
    if let Tok::Word(w) = &toks[a].tok {
        let w = w.to_ascii_lowercase();
        let item = matches!(w.as_str(), "set-item" | "si" | "ni" | "new-item");
        if matches!(w.as_str(), "set-variable" | "sv" | "set" | "new-variable" | "nv") || item {
            let mut name: Option<String> = None;
            let mut value_at: Option<usize> = None;
            let mut k = a + 1;
            while k < b {
                match &toks[k].tok {
                    Tok::Param(p)
                        if "name".starts_with(p.as_str())
                            || (item && "path".starts_with(p.as_str())) =>
                    {
                        if let Some(Tok::Word(n) | Tok::Str(n)) = toks.get(k + 1).map(|t| &t.tok) {
                            name = Some(n.clone());
                        }
                        k += 2;
                    }
                    Tok::Param(p) if "value".starts_with(p.as_str()) => {
                        value_at = Some(k + 1);
                        break;
                    }
                    Tok::Param(_) => k += 1,
                    Tok::Word(n) | Tok::Str(n) if name.is_none() => {
                        name = Some(n.clone());
                        k += 1;
                    }
                    _ => {
                        value_at = Some(k);
                        break;
                    }
                }
            }
            if let (Some(n), Some(at)) = (name, value_at) {
                let n = n.to_lowercase();
                let n =
                    n.trim_start_matches("variable:").trim_start_matches(['/', '\\']).to_string();
                if item && !toks[a + 1..b].iter().any(|t| matches!(&t.tok, Tok::Word(x) | Tok::Str(x) if x.to_lowercase().starts_with("variable:"))) {
                    return;
                }
                match eval_range(toks, at, b, ctx) {
                    Some(v) => {
                        ctx.set_var(n, v);
                    }
                    None => {
                        ctx.vars.remove(&n);
                    }
                }
            }
            return;
        }
    }
    // `++$x` statements and `$x++`.
    if let Tok::Var(n) = &toks[a].tok {
        if b == a + 2 && matches!(toks[a + 1].tok, Tok::P("++")) {
            let cur = ctx
                .vars
                .get(n)
                .and_then(|v| if let V::Int(i) = v { Some(*i) } else { None })
                .unwrap_or(0);
            ctx.set_var(n.clone(), V::Int(cur.saturating_add(1)));
        }
    } else if matches!(toks[a].tok, Tok::P("++") | Tok::P("--")) {
        let _ = eval_range(toks, a, b, ctx);
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Whether a group uses a string-building operator worth folding. Plain variable references
/// and ordinary method calls are left alone, so readable scripts stay as written.
fn has_obfuscation(toks: &[Token]) -> bool {
    toks.iter().enumerate().any(|(i, t)| match &t.tok {
        Tok::Op(o) => {
            matches!(
                o.as_str(),
                "f" | "join" | "split" | "replace" | "ireplace" | "creplace" | "bxor"
            )
        }
        Tok::P("+") | Tok::P("::") => true,
        Tok::P("[") => !t.space_before,
        Tok::P(".") => matches!(toks.get(i + 1).map(|n| &n.tok), Some(Tok::Word(w)) if matches!(
            w.to_ascii_lowercase().as_str(),
            "replace" | "split" | "tochararray" | "substring" | "insert" | "remove" | "trim"
                | "trimstart" | "trimend" | "tolower" | "toupper" | "getstring" | "invoke"
        )),
        Tok::Type(t) => t.contains("char") || t == "string",
        _ => false,
    })
}
/// Collects folding replacements for the groups of one statement (outermost first).
fn fold_groups(
    src: &str,
    toks: &[Token],
    (a, b): Range,
    ctx: &mut Ctx,
    out: &mut Vec<(usize, usize, String)>,
) {
    let mut k = a;
    while k < b {
        let opener = matches!(toks[k].tok, Tok::P("(") | Tok::P("$("));
        if !opener {
            k += 1;
            continue;
        }
        let Some(close) = matching(toks, k, b) else { return };
        let inner = &toks[k + 1..close];
        if !inner.is_empty() && has_obfuscation(inner) {
            let effects =
                inner.iter().any(|t| matches!(t.tok, Tok::P("++") | Tok::P("--") | Tok::P("=")));
            // Snapshot only the variables the group can change, not the whole map.
            let touched: Vec<String> = if effects {
                inner
                    .iter()
                    .filter_map(|t| if let Tok::Var(n) = &t.tok { Some(n.clone()) } else { None })
                    .collect()
            } else {
                Vec::new()
            };
            let saved: Vec<(String, Option<V>)> = touched
                .into_iter()
                .map(|n| {
                    let v = ctx.vars.get(&n).cloned();
                    (n, v)
                })
                .collect();
            let v = Eval::new(inner, ctx).eval_all();
            for (n, old) in saved {
                match old {
                    Some(o) => {
                        ctx.vars.insert(n, o);
                    }
                    None => {
                        ctx.vars.remove(&n);
                    }
                }
            }
            let lit = match v {
                Some(V::Str(s)) => Some(s),
                Some(V::Char(c)) => Some(c.to_string()),
                _ => None,
            };
            if let Some(lit) = lit {
                let start = inner[0].start;
                let end = inner[inner.len() - 1].end;
                let q = quote(&lit);
                if src.get(start..end) != Some(q.as_str()) && lit.len() <= ctx.max_str {
                    out.push((start, end, q));
                    k = close + 1;
                    continue;
                }
            }
        }
        k += 1;
    }
}

/// Ticked barewords (`I`E`X`) and double-quoted strings with pointless escapes.
fn untick(src: &str, toks: &[Token], out: &mut Vec<(usize, usize, String)>) {
    for t in toks {
        let raw = &src[t.start..t.end];
        if !raw.contains('`') {
            continue;
        }
        match &t.tok {
            Tok::Word(w) => out.push((t.start, t.end, w.clone())),
            Tok::XStr(parts) if parts.iter().all(|p| matches!(p, crate::ps_lex::Part::Lit(_))) => {
                let s: String = parts
                    .iter()
                    .map(|p| if let crate::ps_lex::Part::Lit(l) = p { l.as_str() } else { "" })
                    .collect();
                if !s.chars().any(|c| c.is_control()) && !s.contains('$') && !s.contains('"') {
                    out.push((t.start, t.end, format!("\"{s}\"")));
                }
            }
            _ => {}
        }
    }
}

fn apply(src: &str, mut reps: Vec<(usize, usize, String)>) -> String {
    reps.sort_by_key(|r| (r.0, std::cmp::Reverse(r.1)));
    let mut out = String::with_capacity(src.len());
    let mut pos = 0;
    for (s, e, r) in reps {
        if s < pos {
            continue;
        }
        out.push_str(&src[pos..s]);
        out.push_str(&r);
        pos = e;
    }
    out.push_str(&src[pos..]);
    out
}

fn fold_and_unwrap(text: &str, limits: &Limits) -> Option<Step> {
    let toks = lex(text, 2_000_000);
    if toks.is_empty() {
        return None;
    }
    let mut ctx = Ctx::new(limits.max_output);
    let stmts = statements(&toks);
    let mut folds = Vec::new();
    let mut unwraps: Vec<(usize, usize, String)> = Vec::new();
    for &(a, b) in &stmts {
        if ctx.fuel == 0 {
            limits.note("evaluation budget exhausted; later statements were not evaluated".into());
            break;
        }
        if let Some(payload) = unwrap_statement(&toks, (a, b), &mut ctx)
            && payload.len() <= limits.max_output
            && !payload.trim().is_empty()
        {
            unwraps.push((toks[a].start, toks[b - 1].end, payload));
            continue;
        }
        fold_groups(text, &toks, (a, b), &mut ctx, &mut folds);
        track_assignment(&toks, (a, b), &mut ctx);
    }
    if !unwraps.is_empty() {
        let only = unwraps.len() == 1
            && unwraps[0].0 == toks[0].start
            && unwraps[0].1 == toks[toks.len() - 1].end;
        let new = if only { unwraps.swap_remove(0).2 } else { apply(text, unwraps) };
        if new != text {
            return Some(Step::new(
                "Invoke-Expression wrapper removed (payload evaluated without execution)",
                new,
            ));
        }
    }
    if ctx.depth_hit {
        limits.note("expressions nested deeper than 64 levels were not evaluated".into());
    }
    untick(text, &toks, &mut folds);
    if folds.is_empty() {
        return None;
    }
    let new = apply(text, folds);
    if new == text || new.len() > limits.max_output {
        return None;
    }
    let what = if ctx.notes.is_empty() {
        "variable substitution".to_string()
    } else {
        ctx.notes.join(", ")
    };
    Some(Step::new(&format!("constant folding ({what})"), new))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(s: &str) -> Vec<String> {
        let limits = Limits::for_tests();
        let mut out = vec![s.to_string()];
        let mut cur = s.to_string();
        for _ in 0..20 {
            match step(&cur, &limits) {
                Some(st) => {
                    cur = st.text;
                    out.push(cur.clone());
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn encoded_command_abbreviations() {
        for flag in ["-e", "-ec", "-en", "-enc", "-EncodedCommand", "/enc", "\u{2013}Enc"] {
            let cmd = format!("powershell.exe -nop {flag} dwByAGkAdABlAC0AaABvAHMAdAAgADEA");
            let got = encoded_command(&cmd).map(|s| s.text);
            assert_eq!(got.as_deref(), Some("write-host 1"), "{flag}");
        }
        assert!(encoded_command("powershell -ep bypass -file x.ps1").is_none());
        assert!(encoded_command("grep -e SomethingLongWord file.txt").is_none());
    }

    #[test]
    fn iex_wrappers_are_unwrapped() {
        let cases = [
            "iex ('wri'+'te-host hi')",
            "Invoke-Expression \"write-host hi\"",
            "'write-host hi' | iex",
            "&('ie'+'x') ('write-host hi')",
            ". ($env:comspec[4,15,25]-join'') ('write-host hi')",
            "('write-host hi')|&( $ShellId[1]+$ShellId[13]+'x')",
            "$a='write-';$b='host hi';iex ($a+$b)",
            "Set-Variable -Name q -Value 'write-host hi'; iex (Get-Variable q).Value",
            "I`E`X (\"{1}{0}\" -f 'host hi','write-')",
        ];
        for c in cases {
            let layers = run(c);
            assert!(layers.iter().any(|l| l.trim().ends_with("write-host hi")), "{c}: {layers:?}");
        }
    }

    #[test]
    fn base64_gzip_payload() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"write-host gz").unwrap();
        let gz = enc.finish().unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz);
        let s = format!(
            "IEX (New-Object IO.StreamReader(New-Object IO.Compression.GzipStream((New-Object IO.MemoryStream(,[Convert]::FromBase64String('{b64}'))),[IO.Compression.CompressionMode]::Decompress))).ReadToEnd()"
        );
        let layers = run(&s);
        assert!(layers.iter().any(|l| l == "write-host gz"), "{layers:?}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod ws_tests {
    use super::*;

    #[test]
    fn whitespace_encoded_literal() {
        // "hi" = 104 105: runs 2,1,5 / 2,1,6 spaces.
        let s = "'  \t \t     \t\t  \t \t      ' | % {$S = $_ -Split '\t\t'}";
        assert_eq!(whitespace_encoding(s).map(|s| s.text).as_deref(), Some("hi"));
    }
}
