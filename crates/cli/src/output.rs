//! Progress bars and tables for people; JSON for programs.
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A progress bar counting `unit` up to `total`, hidden when quiet or not on a terminal.
pub fn progress(total: u64, unit: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}})"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A spinner counting `unit` with a message (rate) and prefix (current file); hidden when quiet.
pub fn spinner(unit: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    let template =
        format!("{{spinner}} [{{elapsed_precise}}] {{human_pos}} {unit} ({{msg}}) {{wide_prefix}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A table with a header row, for terminal output.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

/// Thousands separators for counts.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_get_separators() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(1234567), "1,234,567");
        assert_eq!(super::count(100), "100");
    }
}
