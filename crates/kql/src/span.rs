//! Byte-offset spans carried by every token and AST node, and line/column lookup.
//!
//! Spans compare equal to each other on purpose (like sqlparser's `AttachedToken`): deriving
//! `PartialEq` on AST nodes then compares structure, not positions, so
//! `parse(format(parse(q))) == parse(q)` holds. Use [`Span::same_range`] to compare positions.
use std::fmt;

/// A half-open byte range `start..end` into the query text.
#[derive(Clone, Copy, Default, serde::Serialize)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets (saturating at `u32::MAX`).
    pub fn new(start: usize, end: usize) -> Span {
        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Span { start: c(start), end: c(end.max(start)) }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// Whether two spans cover the same bytes (the `==` operator ignores positions).
    pub fn same_range(self, other: Span) -> bool {
        self.start == other.start && self.end == other.end
    }

    /// Start as a `usize` offset.
    pub fn start_usize(self) -> usize {
        self.start as usize
    }

    /// End as a `usize` offset.
    pub fn end_usize(self) -> usize {
        self.end as usize
    }
}

impl PartialEq for Span {
    fn eq(&self, _other: &Span) -> bool {
        true
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// 1-based line and column (in characters) of a byte offset; offsets past the end or inside a
/// character are clamped.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_chars() {
        let s = "ab\ncdé\nx";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 4), (2, 2));
        assert_eq!(line_col(s, 6), (2, 3), "inside 'é' clamps to its start");
        assert_eq!(line_col(s, 7), (2, 4));
        assert_eq!(line_col(s, 8), (3, 1));
        assert_eq!(line_col(s, 999), (3, 2));
    }

    #[test]
    fn spans_compare_structurally() {
        assert_eq!(Span::new(1, 2), Span::new(5, 9));
        assert!(!Span::new(1, 2).same_range(Span::new(1, 3)));
        assert!(Span::new(1, 2).to(Span::new(4, 6)).same_range(Span::new(1, 6)));
    }
}
