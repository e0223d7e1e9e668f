//! Context-window budgeting: fitting evidence into what a model can read.
//!
//! A prompt is a fixed part (system prompt + question) plus evidence blocks in priority order.
//! [`fit`] keeps whole blocks while they fit in the window minus the tokens reserved for the
//! answer, cuts the first block that only partly fits at a line boundary, drops the rest, and
//! reports which blocks were cut or dropped so the caller can tell the user
//! ([`Fitted::note`]).
use crate::provider::Provider;
use crate::{Error, Result};

/// Tokens charged per evidence block on top of its text (its `[E3]` label and separators).
pub const ITEM_OVERHEAD: usize = 4;
/// Smallest remainder worth filling with a truncated block (below it the block is dropped).
pub const MIN_PARTIAL: usize = 32;
/// Appended to a block cut short.
pub const TRUNCATION_MARK: &str = "\n… (truncated to fit the context window)";

/// The evidence that fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// Blocks to send, in the given order: whole ones, then possibly one truncated.
    pub items: Vec<String>,
    /// Index of the block that was truncated (its text is the last of `items`).
    pub truncated: Option<usize>,
    /// Indices of blocks left out.
    pub dropped: Vec<usize>,
    /// Tokens of the fixed part plus the blocks sent (with overheads).
    pub tokens: usize,
    /// Tokens available for the prompt: window − reserved completion tokens.
    pub budget: usize,
}

impl Fitted {
    /// Whether everything fitted unchanged.
    pub fn complete(&self) -> bool {
        self.truncated.is_none() && self.dropped.is_empty()
    }

    /// A note for the user when evidence was cut, numbering blocks from 1 like citations
    /// (`Evidence E4 was shortened and E5–E7 were omitted to fit the model's context window.`).
    pub fn note(&self) -> Option<String> {
        if self.complete() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(t) = self.truncated {
            parts.push(format!("E{} was shortened", t + 1));
        }
        if !self.dropped.is_empty() {
            let verb = if self.dropped.len() == 1 { "was" } else { "were" };
            parts.push(format!("{} {verb} omitted", ranges(&self.dropped)));
        }
        Some(format!("Evidence {} to fit the model's context window.", parts.join(" and ")))
    }
}

/// `[3, 4, 5, 8]` → `E4–E6, E9` (1-based).
fn ranges(indices: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        out.push(if end > start {
            format!("E{}–E{}", start + 1, end + 1)
        } else {
            format!("E{}", start + 1)
        });
        i += 1;
    }
    out.join(", ")
}

/// Fits `items` (highest priority first) next to `fixed` in `provider`'s context window,
/// keeping `reserve` tokens for the answer.
pub fn fit<S: AsRef<str>>(
    provider: &dyn Provider,
    fixed: &str,
    items: &[S],
    reserve: usize,
) -> Result<Fitted> {
    fit_with(provider.context_window(), &|t| provider.count_tokens(t), fixed, items, reserve)
}

/// [`fit`] with an explicit window and token counter.
pub fn fit_with<S: AsRef<str>>(
    window: usize,
    count: &dyn Fn(&str) -> usize,
    fixed: &str,
    items: &[S],
    reserve: usize,
) -> Result<Fitted> {
    let fixed_tokens = count(fixed);
    let needed = fixed_tokens + reserve;
    if needed > window {
        return Err(Error::ContextWindow { needed, window });
    }
    let budget = window - reserve;
    let mut used = fixed_tokens;
    let mut out =
        Fitted { items: Vec::new(), truncated: None, dropped: Vec::new(), tokens: 0, budget };
    let mut stopped = false;
    for (i, item) in items.iter().enumerate() {
        let text = item.as_ref();
        if stopped {
            out.dropped.push(i);
            continue;
        }
        let cost = count(text) + ITEM_OVERHEAD;
        if used + cost <= budget {
            used += cost;
            out.items.push(text.to_string());
            continue;
        }
        stopped = true;
        let room = budget - used;
        match truncate(text, room, count) {
            Some((cut, tokens)) => {
                used += tokens;
                out.items.push(cut);
                out.truncated = Some(i);
            }
            None => out.dropped.push(i),
        }
    }
    out.tokens = used;
    Ok(out)
}

/// The longest prefix of `text` (whole lines, else whole characters) that fits `room` tokens
/// with the overhead and the truncation mark; `None` when the room is too small to bother.
fn truncate(text: &str, room: usize, count: &dyn Fn(&str) -> usize) -> Option<(String, usize)> {
    let fixed = ITEM_OVERHEAD + count(TRUNCATION_MARK);
    if room < MIN_PARTIAL.max(fixed + 1) {
        return None;
    }
    let avail = room - fixed;
    // Line ends (byte offsets after each '\n'); token counts grow with the prefix, so a
    // binary search needs O(log lines) counts.
    let ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
    let fits = |end: usize| count(text[..end].trim_end()) <= avail;
    let lines = ends.partition_point(|&e| fits(e));
    let end = if lines > 0 {
        ends[lines - 1]
    } else {
        // Not even one line fits: cut the first line at a character boundary.
        let first_end = ends.first().copied().unwrap_or(text.len());
        let bounds: Vec<usize> = text[..first_end].char_indices().map(|(i, _)| i).skip(1).collect();
        let n = bounds.partition_point(|&b| fits(b));
        if n == 0 {
            return None;
        }
        bounds[n - 1]
    };
    let mut cut = text[..end].trim_end().to_string();
    cut.push_str(TRUNCATION_MARK);
    let tokens = count(&cut) + ITEM_OVERHEAD;
    Some((cut, tokens))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::provider::estimate_tokens;

    fn lines(n: usize, tag: &str) -> String {
        (0..n).map(|i| format!("{tag} row {i:04} DeviceName=ws-{i:04}\n")).collect()
    }

    #[test]
    fn everything_fits() {
        let items = vec!["a".repeat(40), "b".repeat(40)];
        let f = fit_with(1000, &estimate_tokens, "question", &items, 100).unwrap();
        assert!(f.complete() && f.note().is_none());
        assert_eq!(f.items, items);
        assert_eq!(f.tokens, 2 + 2 * (10 + ITEM_OVERHEAD));
    }

    #[test]
    fn truncates_at_a_line_and_drops_the_rest() {
        let items: Vec<String> = (0..7).map(|i| lines(40, &format!("item{i}"))).collect();
        let per_item = estimate_tokens(&items[0]) + ITEM_OVERHEAD;
        // Room for three whole items and about half of the fourth.
        let window = 50 + 3 * per_item + per_item / 2 + 200;
        let f = fit_with(window, &estimate_tokens, &"q".repeat(200), &items, 200).unwrap();
        assert_eq!(f.items.len(), 4);
        assert_eq!(f.truncated, Some(3));
        assert_eq!(f.dropped, vec![4, 5, 6]);
        assert!(f.tokens <= f.budget, "{} > {}", f.tokens, f.budget);
        let cut = &f.items[3];
        assert!(cut.ends_with(TRUNCATION_MARK));
        let body = cut.strip_suffix(TRUNCATION_MARK).unwrap();
        // Whole lines only, a prefix of the original.
        assert!(items[3].starts_with(body) && body.ends_with(char::is_numeric));
        assert!(body.lines().count() > 5 && body.lines().count() < 40);
        assert_eq!(
            f.note().unwrap(),
            "Evidence E4 was shortened and E5–E7 were omitted to fit the model's context window."
        );
    }

    #[test]
    fn tiny_remainder_drops_instead_of_truncating() {
        let items = vec!["x".repeat(400), "y".repeat(400)];
        let f = fit_with(100 + 104 + 10, &estimate_tokens, "", &items, 100).unwrap();
        assert_eq!(f.items.len(), 1);
        assert_eq!((f.truncated, f.dropped.clone()), (None, vec![1]));
        assert_eq!(f.note().unwrap(), "Evidence E2 was omitted to fit the model's context window.");
    }

    #[test]
    fn one_long_line_is_cut_at_a_character() {
        let items = vec!["é".repeat(4000)];
        let f = fit_with(300, &estimate_tokens, "", &items, 100).unwrap();
        assert_eq!(f.truncated, Some(0));
        assert!(f.tokens <= 200);
        assert!(f.items[0].starts_with("éé"));
    }

    #[test]
    fn fixed_part_too_big_is_an_error() {
        let e = fit_with(100, &estimate_tokens, &"w".repeat(400), &["x"], 10).unwrap_err();
        assert!(matches!(e, Error::ContextWindow { needed: 110, window: 100 }));
    }

    #[test]
    fn range_notes() {
        assert_eq!(ranges(&[3, 4, 5, 8, 10, 11]), "E4–E6, E9, E11–E12");
    }
}
