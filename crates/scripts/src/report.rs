//! Verdict, plain-language explanation, pretty-printing of the final script, and the text
//! report. All of it is derived deterministically from the findings.

use std::fmt::Write;

use crate::types::{Analysis, Behaviour, Ioc, IocKind, Language, Layer, Verdict, VerdictLevel};

/// Scores findings into a verdict.
pub(crate) fn verdict(
    layers: &[Layer],
    behaviours: &[Behaviour],
    iocs: &[Ioc],
    family: Option<&str>,
    empty: bool,
) -> Verdict {
    if empty {
        return Verdict {
            level: VerdictLevel::Unknown,
            score: 0,
            reasons: vec!["no readable script text".into()],
        };
    }
    let mut score = 0u32;
    let mut reasons = Vec::new();
    let obf = layers.len().saturating_sub(1);
    if obf > 0 {
        let pts = (obf as u32 * 10).min(25);
        score += pts;
        reasons.push(format!("{obf} obfuscation layer(s) had to be removed (+{pts})"));
    }
    for b in behaviours {
        score += b.weight;
        reasons.push(format!("{} [{}] (+{})", b.name, b.attack_technique, b.weight));
    }
    let public_net = iocs
        .iter()
        .filter(|i| {
            matches!(i.kind, IocKind::Url | IocKind::Ipv4 | IocKind::Ipv6 | IocKind::Domain)
                && !i.private_or_reserved
        })
        .count();
    if public_net > 0 && !behaviours.is_empty() {
        score += 10;
        reasons.push(format!("{public_net} public network indicator(s) (+10)"));
    }
    if let Some(f) = family {
        score += 30;
        reasons.push(format!("matches known malware/tool family {f} (+30)"));
    }
    let score = score.min(100);
    let level = if score >= 60 {
        VerdictLevel::Malicious
    } else if score >= 25 {
        VerdictLevel::Suspicious
    } else {
        VerdictLevel::Benign
    };
    if reasons.is_empty() {
        reasons.push("no obfuscation, behaviour or indicator of concern found".into());
    }
    Verdict { level, score, reasons }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// Step-by-step explanation from the findings.
pub(crate) fn explain(a: &Analysis) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "The input is {} ({} bytes{}).",
        lang_phrase(a.language),
        a.layers.first().map(|l| l.text.len()).unwrap_or(0),
        if a.truncated { ", cut to the analysis limit" } else { "" }
    ));
    for l in a.layers.iter().skip(1) {
        out.push(format!(
            "Layer {}: undoing {} reveals {} of {}.",
            l.depth,
            l.technique,
            plural(l.text.lines().count().max(1), "line", "lines"),
            lang_phrase(l.language)
        ));
    }
    if a.layers.len() == 1 && a.payloads.is_empty() {
        out.push("No obfuscation layer was found; the script was analysed as written.".into());
    }
    for (k, p) in a.payloads.iter().enumerate() {
        let Some(first) = p.layers.first() else { continue };
        out.push(format!(
            "Payload {} (inside layer {}): {} gives {} of {}{}.",
            k + 1,
            p.found_in,
            p.technique,
            plural(first.text.lines().count().max(1), "line", "lines"),
            lang_phrase(first.language),
            match p.layers.len() {
                1 => String::new(),
                n => format!(", peeled through {} more layer(s)", n - 1),
            }
        ));
    }
    // Behaviours grouped by tactic, in kill-chain order.
    let order = [
        "defense-evasion",
        "discovery",
        "credential-access",
        "collection",
        "command-and-control",
        "execution",
        "privilege-escalation",
        "persistence",
        "lateral-movement",
        "exfiltration",
    ];
    for tactic in order {
        for b in a.behaviours.iter().filter(|b| b.tactic == tactic) {
            out.push(format!(
                "It performs {} ({} {}, {}), seen at layer {} line {}: `{}`.",
                b.name,
                "ATT&CK",
                b.attack_technique,
                b.tactic,
                b.layer,
                b.line_number,
                short(&b.evidence_line, 120)
            ));
        }
    }
    let urls: Vec<&str> = a.ioc_values(IocKind::Url).into_iter().take(5).collect();
    if !urls.is_empty() {
        out.push(format!(
            "It contacts {}: {}.",
            plural(a.iocs.iter().filter(|i| i.kind == IocKind::Url).count(), "URL", "URLs"),
            urls.join(", ")
        ));
    }
    let ips: Vec<String> = a
        .iocs
        .iter()
        .filter(|i| matches!(i.kind, IocKind::Ipv4 | IocKind::Ipv6))
        .take(5)
        .map(|i| {
            if i.private_or_reserved {
                format!("{} (private/reserved)", i.value)
            } else {
                i.value.clone()
            }
        })
        .collect();
    if !ips.is_empty() {
        out.push(format!("IP addresses referenced: {}.", ips.join(", ")));
    }
    let files: Vec<&str> = a.ioc_values(IocKind::FilePath).into_iter().take(5).collect();
    if !files.is_empty() {
        out.push(format!("File paths referenced: {}.", files.join(", ")));
    }
    let reg: Vec<&str> = a.ioc_values(IocKind::RegistryKey).into_iter().take(3).collect();
    if !reg.is_empty() {
        out.push(format!("Registry keys referenced: {}.", reg.join(", ")));
    }
    if let Some(f) = &a.family {
        out.push(format!("Its structure matches the {f} family/tool."));
    }
    out.push(format!("Verdict: {} (score {}/100).", level_name(a.verdict.level), a.verdict.score));
    for n in &a.limits_hit {
        out.push(format!("Note: {n}."));
    }
    out
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push_str("...");
    t
}

fn lang_phrase(l: Language) -> &'static str {
    match l {
        Language::PowerShell => "PowerShell",
        Language::Cmd => "a cmd.exe batch script",
        Language::Bash => "a bash/sh script",
        Language::JavaScript => "JavaScript/JScript",
        Language::Vba => "VBA/VBScript",
        Language::Python => "Python",
        Language::Unknown => "text of unknown language",
    }
}

fn level_name(l: VerdictLevel) -> &'static str {
    match l {
        VerdictLevel::Malicious => "MALICIOUS",
        VerdictLevel::Suspicious => "SUSPICIOUS",
        VerdictLevel::Benign => "BENIGN",
        VerdictLevel::Unknown => "UNKNOWN",
    }
}

/// Pretty-prints a script: one statement per line for long one-liners, with indentation by
/// braces (outside strings). Other languages are returned as they are.
pub(crate) fn pretty(text: &str, lang: Language) -> String {
    if !matches!(lang, Language::PowerShell | Language::JavaScript) || text.len() > 1 << 20 {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut indent = 0usize;
    let mut quote: Option<char> = None;
    let mut paren = 0i32;
    let mut at_line_start = true;
    let push_nl = |out: &mut String, indent: usize| {
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
        for _ in 0..indent.min(20) {
            out.push_str("    ");
        }
    };
    for c in text.chars() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        if at_line_start && (c == ' ' || c == '\t') {
            continue;
        }
        at_line_start = false;
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '(' => {
                paren += 1;
                out.push(c);
            }
            ')' => {
                paren -= 1;
                out.push(c);
            }
            '{' if paren <= 0 => {
                out.push('{');
                indent += 1;
                push_nl(&mut out, indent);
                at_line_start = true;
            }
            '}' if paren <= 0 => {
                indent = indent.saturating_sub(1);
                push_nl(&mut out, indent);
                out.push('}');
                push_nl(&mut out, indent);
                at_line_start = true;
            }
            ';' if paren <= 0 => {
                out.push(';');
                push_nl(&mut out, indent);
                at_line_start = true;
            }
            '\r' => {}
            '\n' => {
                push_nl(&mut out, indent);
                at_line_start = true;
            }
            _ => out.push(c),
        }
    }
    // Drop blank lines the splitting produced.
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.join("\n")
}

/// The analyst's terminal report (Markdown-ish).
pub fn render_text(a: &Analysis) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Script analysis: {} (score {}/100)",
        level_name(a.verdict.level),
        a.verdict.score
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "- Language: {}", a.language.name());
    let _ = writeln!(s, "- Layers: {}", a.layers.len());
    if !a.payloads.is_empty() {
        let _ = writeln!(s, "- Payloads: {}", a.payloads.len());
    }
    if let Some(f) = &a.family {
        let _ = writeln!(s, "- Family: {f}");
    }
    if a.truncated {
        let _ = writeln!(s, "- Input or layers were truncated");
    }
    let _ = writeln!(s, "\n## What it does\n");
    for (i, e) in a.explanation.iter().enumerate() {
        let _ = writeln!(s, "{}. {}", i + 1, e);
    }
    let _ = writeln!(s, "\n## Verdict reasons\n");
    for r in &a.verdict.reasons {
        let _ = writeln!(s, "- {r}");
    }
    let _ = writeln!(s, "\n## Layers\n");
    for l in &a.layers {
        let _ = writeln!(
            s,
            "{}. [{}] {} ({} bytes){}",
            l.depth,
            l.language.name(),
            l.technique,
            l.text.len(),
            if l.truncated { ", truncated" } else { "" }
        );
        let _ = writeln!(s, "   {}", short(&l.text.replace(['\r', '\n'], " "), 160));
    }
    for (k, p) in a.payloads.iter().enumerate() {
        let _ = writeln!(s, "\n## Payload {} (decoded from layer {})\n", k + 1, p.found_in);
        for l in &p.layers {
            let _ = writeln!(
                s,
                "{}. [{}] {} ({} bytes){}",
                l.depth,
                l.language.name(),
                l.technique,
                l.text.len(),
                if l.truncated { ", truncated" } else { "" }
            );
        }
        if let Some(last) = p.layers.last() {
            let _ = writeln!(
                s,
                "\n```{}\n{}\n```",
                last.language.name(),
                short(&pretty(&last.text, last.language), 20_000)
            );
        }
    }
    if !a.behaviours.is_empty() {
        let _ = writeln!(s, "\n## Behaviours (MITRE ATT&CK)\n");
        for b in &a.behaviours {
            let _ = writeln!(
                s,
                "- {} {} ({}) at layer {} line {}\n    {}",
                b.attack_technique,
                b.name,
                b.tactic,
                b.layer,
                b.line_number,
                short(&b.evidence_line, 200)
            );
        }
    }
    if !a.iocs.is_empty() {
        let _ = writeln!(s, "\n## Indicators\n");
        for i in &a.iocs {
            let mut extra = String::new();
            if i.private_or_reserved {
                extra.push_str(" (private/reserved)");
            }
            if let Some(d) = &i.defanged_from {
                let _ = write!(extra, " (written as {d})");
            }
            let _ = writeln!(
                s,
                "- {:<14} {}{}  [layer {} line {}]",
                i.kind.name(),
                i.value,
                extra,
                i.layer,
                i.line
            );
        }
    }
    if !a.limits_hit.is_empty() {
        let _ = writeln!(s, "\n## Notes\n");
        for n in &a.limits_hit {
            let _ = writeln!(s, "- {n}");
        }
    }
    let _ = writeln!(
        s,
        "\n## Final script\n\n```{}\n{}\n```",
        a.layers.last().map(|l| l.language.name()).unwrap_or(""),
        short(&a.final_script, 20_000)
    );
    s
}

impl Analysis {
    /// Values of the indicators of one kind.
    pub fn ioc_values(&self, kind: IocKind) -> Vec<&str> {
        self.iocs.iter().filter(|i| i.kind == kind).map(|i| i.value.as_str()).collect()
    }
}
