//! The grounding guard, as the copilot calls it: an index of everything the answer may rely
//! on (evidence rows, queries, skill results, the prompt, the session context) and a check of
//! a model-written answer against it. Claims are the entities (IP addresses, hosts, domains,
//! URLs, hashes, accounts) and the numbers the answer states; a sentence with a claim the
//! index does not hold is removed (or flagged), and the answer says what was removed.
//!
//! This is the one place to swap in `bulwark_llm::guard` once it lands; the copilot uses only
//! [`EvidenceIndex`], [`check`], [`GuardPolicy`] and [`GuardReport`].
use crate::entities;
use bulwark_model::EntityKind;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;

/// What happens to a sentence with an unsupported claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardPolicy {
    /// Remove the sentence (the default).
    #[default]
    Remove,
    /// Keep it, marked as unsupported.
    Flag,
}

/// Everything an answer may rely on.
#[derive(Debug, Clone, Default)]
pub struct EvidenceIndex {
    text: String,
    numbers: HashSet<String>,
}

/// Recursion limit for JSON values (hostile nesting stays bounded).
const MAX_DEPTH: usize = 64;

impl EvidenceIndex {
    /// An empty index.
    pub fn new() -> EvidenceIndex {
        EvidenceIndex::default()
    }

    /// Adds text.
    pub fn add(&mut self, text: &str) {
        let lower = text.to_lowercase();
        for n in number_runs(&lower) {
            self.numbers.insert(n);
        }
        self.text.push_str(&lower);
        self.text.push('\n');
    }

    /// Adds every string, number and key of a JSON value.
    pub fn add_json(&mut self, value: &Value) {
        self.add_json_at(value, 0);
    }

    fn add_json_at(&mut self, value: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match value {
            Value::String(s) => self.add(s),
            Value::Number(n) => self.add(&n.to_string()),
            Value::Bool(b) => self.add(if *b { "true" } else { "false" }),
            Value::Array(a) => {
                self.add_count(a.len() as u64);
                for v in a {
                    self.add_json_at(v, depth + 1);
                }
            }
            Value::Object(o) => {
                for (k, v) in o {
                    self.add(k);
                    self.add_json_at(v, depth + 1);
                }
            }
            Value::Null => {}
        }
    }

    /// Adds a count the answer may state (rows returned, items listed).
    pub fn add_count(&mut self, n: u64) {
        self.numbers.insert(n.to_string());
    }

    fn has_text(&self, value: &str) -> bool {
        self.text.contains(&value.to_lowercase())
    }

    fn has_number(&self, n: &str) -> bool {
        let plain: String = n.chars().filter(|c| *c != ',').collect();
        self.numbers.contains(&plain)
            || plain
                .strip_suffix(".0")
                .is_some_and(|p| self.numbers.contains(p))
            || self.text.contains(&plain)
    }
}

/// The guard's verdict on one answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardReport {
    /// The answer after the guard (sentences removed or flagged, a note appended).
    pub text: String,
    /// Claims checked.
    pub claims: usize,
    /// Unsupported claims (as written).
    pub unsupported: Vec<String>,
}

/// Maximal runs of ASCII digits (with inner `,` / `.` kept) in lower-cased text.
fn number_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            cur.push(c);
        } else if (c == '.' || c == ',') && !cur.is_empty() {
            out.push(cur.clone());
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(cur.trim_end_matches(['.', ',']).to_string());
            cur.clear();
        }
    }
    if !cur.is_empty() {
        out.push(cur.trim_end_matches(['.', ',']).to_string());
    }
    // Also every plain run, so "1,234" is known as "1234" and "1" and "234".
    let plain: Vec<String> = out.iter().map(|n| n.replace(',', "")).collect();
    out.extend(plain);
    out
}

/// Numbers stated in a sentence as counts or quantities: digit runs standing alone (not part of
/// a host name, an address, a date, a time or a citation such as `[E2]`).
fn stated_numbers(sentence: &str) -> Vec<String> {
    let chars: Vec<char> = sentence.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (matches!(chars[i], ',' | '.')
                    && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())))
        {
            i += 1;
        }
        let before = start.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let after = chars.get(i).copied();
        let glued = |c: Option<char>| {
            c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '/' | '\\' | '.'))
        };
        // `.` after is the end of a sentence unless a letter or digit follows it.
        let after_glued = match after {
            Some('.') => chars.get(i + 1).is_some_and(|c| c.is_alphanumeric()),
            other => glued(other),
        };
        let citation = before == Some('E') || before == Some('[');
        if !glued(before) && !after_glued && !citation {
            out.push(chars[start..i].iter().collect());
        }
    }
    out
}

/// Entity claims in a sentence: the kinds an answer could invent.
fn stated_entities(sentence: &str) -> Vec<String> {
    let ex = entities::extract(sentence);
    ex.entities
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EntityKind::Ip
                    | EntityKind::Device
                    | EntityKind::Domain
                    | EntityKind::Url
                    | EntityKind::FileHash
                    | EntityKind::User
                    | EntityKind::Mailbox
            )
        })
        .map(|e| e.value)
        .collect()
}

/// Splits a line into sentences (keeping their ends).
fn sentences(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        if matches!(bytes[i], b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_some_and(|b| *b == b' ')
            && line.is_char_boundary(i + 1)
        {
            out.push(&line[start..=i]);
            start = i + 1;
        }
    }
    if start < line.len() {
        out.push(&line[start..]);
    }
    out
}

/// Checks `answer` against `index`: every entity and number it states must be in the index.
pub fn check(answer: &str, index: &EvidenceIndex, policy: GuardPolicy) -> GuardReport {
    let mut claims = 0;
    let mut unsupported: Vec<String> = Vec::new();
    let mut lines_out = Vec::new();
    let mut in_code = false;
    for line in answer.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            lines_out.push(line.to_string());
            continue;
        }
        if in_code {
            // Code blocks (queries) are checked as a whole by the entities they name.
            let bad: Vec<String> =
                stated_entities(line).into_iter().filter(|e| !index.has_text(e)).collect();
            claims += stated_entities(line).len();
            if bad.is_empty() || policy == GuardPolicy::Flag {
                lines_out.push(line.to_string());
            }
            unsupported.extend(bad);
            continue;
        }
        let mut kept = String::new();
        for sentence in sentences(line) {
            let mut bad = Vec::new();
            // Numbers are read with the entities cut out (an address is not four counts).
            let mut rest = sentence.to_lowercase();
            for e in stated_entities(sentence) {
                claims += 1;
                rest = rest.replace(&e.to_lowercase(), " ");
                if !index.has_text(&e) {
                    bad.push(e);
                }
            }
            for n in stated_numbers(&rest) {
                claims += 1;
                if !index.has_number(&n) && !bad.contains(&n) {
                    bad.push(n);
                }
            }
            if bad.is_empty() {
                kept.push_str(sentence);
            } else {
                match policy {
                    GuardPolicy::Remove => {}
                    GuardPolicy::Flag => {
                        kept.push_str(sentence);
                        kept.push_str(&format!(" _(unsupported: {})_", bad.join(", ")));
                    }
                }
                for b in bad {
                    if !unsupported.contains(&b) {
                        unsupported.push(b);
                    }
                }
            }
        }
        // A line emptied down to its bullet marker goes entirely.
        let body = kept.trim().trim_start_matches(['-', '*', '+']).trim();
        if !line.trim().is_empty() && body.is_empty() {
            continue;
        }
        lines_out.push(kept.trim_end().to_string());
    }
    let mut text = lines_out.join("\n");
    if !unsupported.is_empty() {
        let list: Vec<String> = unsupported.iter().map(|u| format!("`{u}`")).collect();
        text.push_str(&format!(
            "\n\n> **Grounding check:** {} statement{} the evidence does not support ({}).",
            match policy {
                GuardPolicy::Remove => "removed",
                GuardPolicy::Flag => "flagged",
            },
            if unsupported.len() == 1 { "" } else { "s" },
            list.join(", ")
        ));
    }
    GuardReport { text, claims, unsupported }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index() -> EvidenceIndex {
        let mut ix = EvidenceIndex::new();
        ix.add_json(&json!([{"DeviceName": "wks-fin-003", "RemoteIP": "45.142.212.61", "Count": 12}]));
        ix.add_count(3);
        ix
    }

    #[test]
    fn supported_claims_pass() {
        let r = check(
            "wks-fin-003 talked to 45.142.212.61 12 times [E1]. Three rows [E2].",
            &index(),
            GuardPolicy::Remove,
        );
        assert!(r.unsupported.is_empty(), "{r:?}");
        assert_eq!(r.claims, 3);
        assert!(!r.text.contains("Grounding check"));
    }

    #[test]
    fn invented_ip_host_and_count_are_removed() {
        let answer = "- wks-fin-003 reached 45.142.212.61 [E1].\n- It also reached 10.66.6.6 [E1].\n- srv-evil-01 was involved.\n- 4711 files were copied. The device was wks-fin-003.";
        let r = check(answer, &index(), GuardPolicy::Remove);
        assert_eq!(r.unsupported, vec!["10.66.6.6", "srv-evil-01", "4711"]);
        assert!(!r.text.contains("It also reached"), "{}", r.text);
        assert!(!r.text.contains("- srv-evil-01 was"), "{}", r.text);
        assert!(!r.text.contains("files were copied"), "{}", r.text);
        assert!(r.text.contains("The device was wks-fin-003."), "{}", r.text);
        assert!(r.text.contains("removed statements"), "{}", r.text);
        let flagged = check(answer, &index(), GuardPolicy::Flag);
        assert!(
            flagged.text.contains("It also reached 10.66.6.6 [E1]. _(unsupported: 10.66.6.6)_"),
            "{}",
            flagged.text
        );
    }

    #[test]
    fn numbers_inside_names_dates_and_citations_are_not_counts() {
        assert!(stated_numbers("wks-fin-003 at 2024-05-01 10:15 [E12] E3").is_empty());
        assert_eq!(stated_numbers("12 hosts, 1,024 bytes and 3.5 GB."), vec!["12", "1,024", "3.5"]);
    }
}
