//! Randomised robustness: mutated real queries and token soup must never panic, printing a
//! valid tree must give text that parses back to the same tree, and rendering any diagnostic
//! must work. `KQL_FUZZ_SECONDS=180 cargo test -p bulwark-kql --test it fuzz -- --nocapture`
//! runs for longer than the default few thousand cases.
use bulwark_kql::{check, format, parse, render};
use bulwark_model::SchemaRegistry;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const TOKENS: &[&str] = &[
    "|",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ":",
    ".",
    "..",
    "=",
    "==",
    "!=",
    "=~",
    "!~",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "!",
    "~",
    "$left",
    "$right",
    "let",
    "where",
    "project",
    "summarize",
    "by",
    "join",
    "kind=inner",
    "on",
    "union",
    "mv-expand",
    "mv-apply",
    "parse",
    "with",
    "extend",
    "datatable",
    "dynamic(",
    "datetime(",
    "time(",
    "guid(",
    "toscalar(",
    "has",
    "!has",
    "has_any",
    "in",
    "!in~",
    "between",
    "and",
    "or",
    "not(",
    "1d",
    "1.5h",
    "0x1F",
    "'s'",
    "\"d\"",
    "@'v'",
    "```m```",
    "h'o'",
    "true",
    "null",
    "count()",
    "arg_max(",
    "*",
    "SigninLogs",
    "TimeGenerated",
    "\n",
    " ",
    "//c\n",
    "['q']",
    "make-series",
    "step",
    "top-nested",
    "of",
    "evaluate",
    "bag_unpack(",
    "invoke",
    "fork",
    "facet",
    "range",
    "from",
    "to",
    "print",
    "é",
    "\u{0}",
];

fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["ok", "err"] {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind);
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if let Ok(t) = std::fs::read_to_string(e.path()) {
                    out.push(t);
                }
            }
        }
    }
    if let Some(path) = bulwark_testutil::shared_path("kql/sentinel_queries.jsonl")
        && let Ok(text) = std::fs::read_to_string(path)
    {
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                && let Some(q) = v.get("query").and_then(|q| q.as_str())
            {
                out.push(q.to_string());
            }
        }
    }
    out
}

fn mutate(rng: &mut SmallRng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..rng.random_range(1..6) {
        let len = chars.len();
        let at = if len == 0 { 0 } else { rng.random_range(0..=len) };
        match rng.random_range(0..5) {
            0 if len > 0 => {
                let end = (at + rng.random_range(1..20)).min(len);
                chars.drain(at.min(len)..end);
            }
            1 => {
                let tok = TOKENS[rng.random_range(0..TOKENS.len())];
                for (i, c) in tok.chars().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            2 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = (start + rng.random_range(1..40)).min(len);
                let piece: Vec<char> = chars[start..end].to_vec();
                for (i, c) in piece.into_iter().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            3 => chars.truncate(at),
            _ if len > 1 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(0..len);
                chars.swap(a, b);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn soup(rng: &mut SmallRng) -> String {
    let n = rng.random_range(1..60);
    (0..n).map(|_| TOKENS[rng.random_range(0..TOKENS.len())]).collect::<Vec<_>>().join(" ")
}

fn exercise(text: &str, registry: &SchemaRegistry) {
    let parsed = parse(text);
    for d in &parsed.diagnostics {
        let _ = render(text, d);
    }
    let result = check(&parsed.syntax, registry);
    for d in &result.diagnostics {
        let _ = render(text, d);
    }
    if parsed.has_valid_syntax() {
        let printed = format(&parsed.syntax);
        let again = parse(&printed);
        assert!(
            again.has_valid_syntax(),
            "printed text does not parse\ninput: {text:?}\nprinted: {printed:?}\n{:?}",
            again.diagnostics
        );
        assert_eq!(
            parsed.syntax, again.syntax,
            "round trip changed the tree\ninput: {text:?}\nprinted: {printed:?}"
        );
    }
}

#[test]
fn mutated_queries_never_panic_and_valid_ones_round_trip() {
    let registry = SchemaRegistry::builtin();
    let seeds = seeds();
    assert!(!seeds.is_empty());
    let budget = std::env::var("KQL_FUZZ_SECONDS").ok().and_then(|s| s.parse::<u64>().ok());
    let deadline = budget.map(|s| Instant::now() + Duration::from_secs(s));
    let max_cases = if deadline.is_some() { usize::MAX } else { 3000 };
    let mut rng = SmallRng::seed_from_u64(0x6b71_6c00);
    let mut cases = 0usize;
    while cases < max_cases && deadline.is_none_or(|d| Instant::now() < d) {
        let text = if cases % 4 == 3 {
            soup(&mut rng)
        } else {
            let seed = &seeds[rng.random_range(0..seeds.len())];
            mutate(&mut rng, seed)
        };
        exercise(&text, &registry);
        cases += 1;
    }
    eprintln!("fuzz: {cases} cases without panic");
}
