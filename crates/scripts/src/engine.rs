//! The peeling loop: runs the language passes until a fixed point, a cycle, or a limit, and
//! records every layer with the technique undone.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::types::{AnalyzeOptions, Language, Layer};
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

/// One undone layer.
pub(crate) struct Step {
    pub technique: String,
    pub text: String,
    /// Language of the new text when the pass knows it (else it is detected).
    pub lang: Option<Language>,
}

impl Step {
    pub(crate) fn new(technique: &str, text: String) -> Step {
        Step { technique: technique.to_string(), text, lang: None }
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
    pub final_text: String,
    pub final_language: Language,
    pub truncated: bool,
    pub notes: Vec<String>,
}

/// Peels layers until nothing changes.
pub(crate) fn peel(source: &str, options: &AnalyzeOptions) -> Peeled {
    let limits = Limits::new(options);
    let mut truncated = false;
    let input = if source.len() > options.max_input_bytes {
        truncated = true;
        limits.note(format!(
            "input of {} bytes cut to the first {} bytes",
            source.len(),
            options.max_input_bytes
        ));
        decode::cut(source, options.max_input_bytes)
    } else {
        source
    };
    let language = options.lang.unwrap_or_else(|| lang::detect_language(input));
    let mut kept = 0usize;
    let mut layers = Vec::new();
    let mut keep =
        |depth: usize, technique: &str, l: Language, text: &str, layers: &mut Vec<Layer>| {
            let room = options.max_kept_bytes.saturating_sub(kept);
            let cut = decode::cut(text, room);
            kept += cut.len();
            layers.push(Layer {
                depth,
                technique: technique.to_string(),
                language: l,
                text: cut.to_string(),
                truncated: cut.len() < text.len(),
            });
            cut.len() < text.len()
        };
    truncated |= keep(0, "input", language, input, &mut layers);
    let mut seen = HashSet::new();
    seen.insert(hash(input));
    let mut cur = input.to_string();
    let mut cur_lang = language;
    let mut depth = 0;
    loop {
        if depth >= options.max_depth {
            if options.max_depth > 0 && step(cur_lang, &cur, &limits).is_some() {
                limits.note(format!("maximum depth of {} layers reached", options.max_depth));
            }
            break;
        }
        let Some(s) = step(cur_lang, &cur, &limits) else { break };
        if s.text == cur {
            break;
        }
        if s.text.len() > options.max_output_bytes {
            limits.note(format!("a layer of {} bytes exceeds the output limit", s.text.len()));
            break;
        }
        if !seen.insert(hash(&s.text)) {
            limits.note("layers repeat (cycle); stopped".into());
            break;
        }
        depth += 1;
        // A forced language applies to the input only: inner layers are often another one.
        let next_lang = s.lang.unwrap_or_else(|| {
            let d = lang::detect_language(&s.text);
            if d == Language::Unknown { cur_lang } else { d }
        });
        truncated |= keep(depth, &s.technique, next_lang, &s.text, &mut layers);
        cur = s.text;
        cur_lang = next_lang;
    }
    Peeled {
        language,
        layers,
        final_text: cur,
        final_language: cur_lang,
        truncated,
        notes: limits.take_notes(),
    }
}
