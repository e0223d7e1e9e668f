//! Language detection from shebangs and weighted keyword evidence.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use crate::types::Language;

struct Rules {
    set: RegexSet,
    langs: Vec<(Language, u32)>,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let table: &[(Language, u32, &str)] = &[
        (Language::PowerShell, 5, r"(?i)\bpowershell(\.exe)?\b|\bpwsh\b"),
        (
            Language::PowerShell,
            4,
            r"(?i)\$env:|\[convert\]::|\bnew-object\b|\binvoke-expression\b|\biex\b",
        ),
        (
            Language::PowerShell,
            3,
            r"(?i)\b(write-host|get-\w+|set-\w+|start-process|invoke-\w+|add-type)\b",
        ),
        (
            Language::PowerShell,
            3,
            r"(?i)-(join|split|replace|bxor|f)\s*['\x22(]|\[(char|string|byte)(\[\])?\]",
        ),
        (Language::PowerShell, 2, r"(?i)\$\w+\s*=|\|\s*%\s*\{|\$_\b|\[system\.[\w.]+\]"),
        (Language::Cmd, 5, r"(?im)^\s*@?echo\s+off\b|^\s*(rem|::)\s|\bgoto\s+:?\w+"),
        (
            Language::Cmd,
            4,
            r"(?i)\bset\s+/?[a-z_]*\w+=|%[a-z_]\w*:~-?\d+(,-?\d+)?%|\bfor\s+/f\b|\bcmd(\.exe)?\s+/[ck]\b",
        ),
        (Language::Cmd, 2, r"%\w+%|![\w]+!|\^[a-z&|]"),
        (Language::Bash, 8, r"(?m)\A#!\s*/(usr/)?bin/(env\s+)?(ba|z|da)?sh\b"),
        (Language::Bash, 4, r"\|\s*(ba)?sh\b|\bbase64\s+(-d|--decode)\b|\$'\\x|\bchmod\s+\+x\b"),
        (
            Language::Bash,
            3,
            r"(?m)\b(wget|curl)\s+-|\bfi\s*$|\bdone\s*$|\bthen\s*$|\beval\s+\x22?\$",
        ),
        (
            Language::JavaScript,
            5,
            r"String\.fromCharCode|\bnew\s+ActiveXObject\b|\bunescape\s*\(|\batob\s*\(|\bdocument\.\w+",
        ),
        (
            Language::JavaScript,
            3,
            r"\bvar\s+\w+\s*=|\bfunction\s*\w*\s*\(|\blet\s+\w+\s*=|\bconst\s+\w+\s*=|=>|\beval\s*\(",
        ),
        (Language::JavaScript, 2, r"\bWScript\.\w+\(|\)\s*;\s*$"),
        (
            Language::Vba,
            5,
            r"(?im)^\s*(private\s+|public\s+)?(sub|function)\s+\w+|^\s*end\s+(sub|function)\b|\battribute\s+vb_",
        ),
        (
            Language::Vba,
            4,
            r"(?i)\bchrw?\s*\(\s*\d+|\bstrreverse\s*\(|\bcreateobject\s*\(|(?m)^\s*dim\s+\w+",
        ),
        (Language::Vba, 3, r#"(?im)^\s*execute(global)?\b|^\s*set\s+\w+\s*=|"\s*&\s*""#),
        (Language::Python, 8, r"(?m)\A#!\s*/usr/bin/(env\s+)?python"),
        (
            Language::Python,
            4,
            r"(?m)^\s*(import\s+\w+|from\s+\w+\s+import\b|def\s+\w+\s*\(.*\)\s*:)|\b__import__\s*\(|\bbase64\.b64decode\b",
        ),
        (Language::Python, 3, r"\bexec\s*\(|\bprint\s*\(|\blambda\b"),
    ];
    let set = RegexSet::new(table.iter().map(|t| t.2)).expect("invariant: static regex set");
    Rules { set, langs: table.iter().map(|t| (t.0, t.1)).collect() }
});

static ENC_CMD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(powershell|pwsh)(\.exe)?\b").expect("invariant: static regex")
});

/// Detects the language of `text` (looks at the first 64 KiB).
pub fn detect_language(text: &str) -> Language {
    let head = crate::decode::cut(text, 64 << 10);
    if head.trim().is_empty() {
        return Language::Unknown;
    }
    let mut score = [0u32; 7];
    let idx = |l: Language| match l {
        Language::PowerShell => 0,
        Language::Cmd => 1,
        Language::Bash => 2,
        Language::JavaScript => 3,
        Language::Vba => 4,
        Language::Python => 5,
        Language::Unknown => 6,
    };
    for m in RULES.set.matches(head).iter() {
        let (l, w) = RULES.langs[m];
        score[idx(l)] += w;
    }
    // A command line that starts PowerShell is analysed as PowerShell.
    let first = head.trim_start().trim_start_matches(['"', '\'', '\\']);
    if ENC_CMD.find(first).is_some_and(|m| m.start() < 80) {
        score[0] += 10;
    }
    let order = [
        Language::PowerShell,
        Language::Cmd,
        Language::Bash,
        Language::JavaScript,
        Language::Vba,
        Language::Python,
    ];
    let best = order.iter().copied().max_by_key(|l| (score[idx(*l)], std::cmp::Reverse(idx(*l))));
    match best {
        Some(l) if score[idx(l)] >= 3 => l,
        _ => Language::Unknown,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_language() {
        assert_eq!(detect_language("powershell -nop -enc AAAA"), Language::PowerShell);
        assert_eq!(detect_language("$a = New-Object Net.WebClient"), Language::PowerShell);
        assert_eq!(detect_language("@echo off\nset x=1\n"), Language::Cmd);
        assert_eq!(detect_language("#!/bin/sh\necho hi | base64 -d | sh"), Language::Bash);
        assert_eq!(
            detect_language("var s = String.fromCharCode(104,105); eval(s);"),
            Language::JavaScript
        );
        assert_eq!(
            detect_language("Sub AutoOpen()\nx = Chr(104) & Chr(105)\nEnd Sub"),
            Language::Vba
        );
        assert_eq!(
            detect_language("import base64\nexec(base64.b64decode('aGk='))"),
            Language::Python
        );
        assert_eq!(detect_language(""), Language::Unknown);
    }
}
