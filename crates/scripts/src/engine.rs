//! The peeling loop: runs the language passes until a fixed point, a cycle, or a limit, and
//! records every layer with the technique undone.
//!
//! Layers versus payloads: the script layers are the program an analyst reads, rewritten step
//! by step (folding, IEX of a computed string, character codes …) after the launch chain that
//! reaches it (`cmd /c` → `powershell -enc` → the script). Two kinds of step leave that program
//! instead of rewriting it, and start a [`Payload`] of the last layer: decoding an embedded data
//! blob (`FromBase64String` with or without gzip/deflate, SecureString, `exec(b64decode)`), and
//! entering an interpreter again once the script was reached (a child `powershell -c …` or
//! `-enc` launched *by* the script). A payload is peeled by the same passes into its own chain.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::types::{AnalyzeOptions, Language, Layer, Payload};
use crate::{decode, lang, other, powershell};

/// Limits and notes shared by the passes of one analysis.
pub(crate) struct Limits {
    pub max_output: usize,
    pub max_decompressed: usize,
    notes: RefCell<Vec<String>>,
}

impl Limits {
    pub(crate) fn new(o: &AnalyzeOptions) -> Limits {
        Limits {
            max_output: o.max_output_bytes,
            max_decompressed: o.max_decompressed_bytes,
            notes: RefCell::new(Vec::new()),
        }
    }

    #[cfg(test)]
    pub(crate) fn for_tests() -> Limits {
        Limits::new(&AnalyzeOptions::default())
    }

    /// Records a note once.
    pub(crate) fn note(&self, n: String) {
        let mut v = self.notes.borrow_mut();
        if !v.contains(&n) && v.len() < 50 {
            v.push(n);
        }
    }

    pub(crate) fn take_notes(&self) -> Vec<String> {
        self.notes.borrow_mut().drain(..).collect()
    }
}

/// What a step did to the text, which decides whether it stays in the script's layer chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepKind {
    /// The same program, rewritten (folded, unwrapped, un-escaped).
    Rewrite,
    /// An interpreter started on a script: `powershell -enc`/`-command`, `base64 -d | sh`.
    Entry,
    /// An embedded data blob decoded (base64, compressed, encrypted).
    Blob,
}

/// One undone layer.
pub(crate) struct Step {
    pub technique: String,
    pub text: String,
    /// Language of the new text when the pass knows it (else it is detected).
    pub lang: Option<Language>,
    pub kind: StepKind,
}

impl Step {
    pub(crate) fn new(technique: &str, text: String) -> Step {
        Step { technique: technique.to_string(), text, lang: None, kind: StepKind::Rewrite }
    }

    /// Marks the step as entering an interpreter.
    pub(crate) fn entry(mut self) -> Step {
        self.kind = StepKind::Entry;
        self
    }

    /// Marks the step as decoding an embedded blob.
    pub(crate) fn blob(mut self) -> Step {
        self.kind = StepKind::Blob;
        self
    }

    pub(crate) fn with_lang(mut self, l: Language) -> Step {
        self.lang = Some(l);
        self
    }
}

fn hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Runs one pass for `language`, falling back to language-independent passes.
fn step(language: Language, text: &str, limits: &Limits) -> Option<Step> {
    // A PowerShell command line can sit in any script (cmd, VBA `Shell`, JS `Run`).
    if let Some(s) = powershell::encoded_command(text) {
        return Some(s.with_lang(Language::PowerShell));
    }
    match language {
        Language::PowerShell => powershell::step(text, limits),
        Language::Cmd => other::cmd_step(text, limits),
        Language::Bash => other::bash_step(text, limits),
        Language::JavaScript => other::js_step(text, limits),
        Language::Vba => other::vba_step(text, limits),
        Language::Python => other::python_step(text, limits),
        Language::Unknown => other::generic_step(text, limits),
    }
}

/// Output of [`peel`].
pub(crate) struct Peeled {
    pub language: Language,
    pub layers: Vec<Layer>,
    pub payloads: Vec<Payload>,
    pub final_text: String,
    pub final_language: Language,
    pub truncated: bool,
    pub notes: Vec<String>,
}

/// State shared by the script chain and the payload chains of one analysis.
struct Chain<'a> {
    options: &'a AnalyzeOptions,
    limits: Limits,
    kept: usize,
    truncated: bool,
    seen: HashSet<u64>,
    /// Layers produced so far (script and payloads): the depth of the next one.
    depth: usize,
}

impl Chain<'_> {
    fn keep(&mut self, technique: &str, l: Language, text: &str) -> Layer {
        let room = self.options.max_kept_bytes.saturating_sub(self.kept);
        let cut = decode::cut(text, room);
        self.kept += cut.len();
        self.truncated |= cut.len() < text.len();
        let layer = Layer {
            depth: self.depth,
            technique: technique.to_string(),
            language: l,
            text: cut.to_string(),
            truncated: cut.len() < text.len(),
        };
        self.depth += 1;
        layer
    }

    /// The next step of `cur`, or `None` at a fixed point, a cycle or a limit.
    fn next(&mut self, cur: &str, cur_lang: Language) -> Option<Step> {
        if self.depth > self.options.max_depth {
            if self.options.max_depth > 0 && step(cur_lang, cur, &self.limits).is_some() {
                self.limits
                    .note(format!("maximum depth of {} layers reached", self.options.max_depth));
            }
            return None;
        }
        let s = step(cur_lang, cur, &self.limits)?;
        if s.text == cur {
            return None;
        }
        if s.text.len() > self.options.max_output_bytes {
            self.limits.note(format!("a layer of {} bytes exceeds the output limit", s.text.len()));
            return None;
        }
        if !self.seen.insert(hash(&s.text)) {
            self.limits.note("layers repeat (cycle); stopped".into());
            return None;
        }
        Some(s)
    }

    fn lang_of(s: &Step, cur_lang: Language) -> Language {
        // A forced language applies to the input only: inner layers are often another one.
        s.lang.unwrap_or_else(|| {
            let d = lang::detect_language(&s.text);
            if d == Language::Unknown { cur_lang } else { d }
        })
    }
}

/// Peels layers until nothing changes; payloads found in the script are peeled on their own.
pub(crate) fn peel(source: &str, options: &AnalyzeOptions) -> Peeled {
    let mut chain = Chain {
        options,
        limits: Limits::new(options),
        kept: 0,
        truncated: false,
        seen: HashSet::new(),
        depth: 0,
    };
    let input = if source.len() > options.max_input_bytes {
        chain.truncated = true;
        chain.limits.note(format!(
            "input of {} bytes cut to the first {} bytes",
            source.len(),
            options.max_input_bytes
        ));
        decode::cut(source, options.max_input_bytes)
    } else {
        source
    };
    let language = options.lang.unwrap_or_else(|| lang::detect_language(input));
    let mut layers = vec![chain.keep("input", language, input)];
    chain.seen.insert(hash(input));
    let mut payloads = Vec::new();
    let mut cur = input.to_string();
    let mut cur_lang = language;
    // Whether the launch chain has reached the script (an interpreter was entered).
    let mut entered = false;
    while let Some(s) = chain.next(&cur, cur_lang) {
        let next_lang = Chain::lang_of(&s, cur_lang);
        let leaves = match s.kind {
            StepKind::Rewrite => false,
            StepKind::Entry => entered,
            StepKind::Blob => true,
        };
        if leaves {
            payloads.push(peel_payload(&mut chain, layers.len() - 1, s, next_lang));
            break;
        }
        entered |= s.kind == StepKind::Entry;
        layers.push(chain.keep(&s.technique, next_lang, &s.text));
        cur = s.text;
        cur_lang = next_lang;
    }
    Peeled {
        language,
        layers,
        payloads,
        final_text: cur,
        final_language: cur_lang,
        truncated: chain.truncated,
        notes: chain.limits.take_notes(),
    }
}

/// A payload's own chain: its decoded text, then every further step (nested blobs included).
fn peel_payload(chain: &mut Chain<'_>, found_in: usize, first: Step, lang: Language) -> Payload {
    let technique = first.technique.clone();
    let mut layers = vec![chain.keep(&first.technique, lang, &first.text)];
    let mut cur = first.text;
    let mut cur_lang = lang;
    while let Some(s) = chain.next(&cur, cur_lang) {
        let next_lang = Chain::lang_of(&s, cur_lang);
        layers.push(chain.keep(&s.technique, next_lang, &s.text));
        cur = s.text;
        cur_lang = next_lang;
    }
    Payload { found_in, technique, layers }
}
