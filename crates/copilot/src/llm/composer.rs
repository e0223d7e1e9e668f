//! The LLM composer: the model writes the answer from numbered evidence only (`[E1]`, `[E2]`
//! …), then the answer is cleaned (echoes of the system prompt removed) and checked by the
//! grounding guard against everything it may rely on: the evidence rows and queries, the
//! skills' results, the prompt and the session context. The evidence list is appended.
//!
//! Evidence is fitted into the model's context window: items are added in order while they
//! fit, with fewer sample rows when space is short; what is left out is said in the prompt.
use super::guard::{self, EvidenceIndex};
use super::prompts::{COMPOSER_SYSTEM, fence, session_lines, strip_echo};
use super::{CallError, LlmClient};
use crate::copilot::{ProcessEntry, evidence_section};
use crate::skill::{Evidence, SessionContext, SkillOutput};
use bulwark_llm::{Message, ToolChoice};

/// What the composer writes from.
pub struct ComposeInput<'a> {
    /// The analyst's prompt.
    pub prompt: &'a str,
    /// The session context (after the skills ran).
    pub session: &'a SessionContext,
    /// Successful skill outputs, in order.
    pub outputs: &'a [(String, SkillOutput)],
    /// The deterministic fragments (one per skill run, failures included).
    pub fragments: &'a [String],
    /// All evidence, numbered from 1.
    pub evidence: &'a [Evidence],
}

/// A composed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    /// The final Markdown (guarded, evidence list appended).
    pub markdown: String,
    /// The text as the model streamed it.
    pub streamed: String,
    /// Process entries (`guard`).
    pub entries: Vec<ProcessEntry>,
}

/// Sample rows shown per evidence item when space allows.
const ROWS_PER_ITEM: usize = 8;
/// Characters per sample row.
const ROW_CHARS: usize = 400;

fn rows_text(e: &Evidence, rows: usize) -> String {
    e.sample_rows
        .iter()
        .take(rows)
        .map(|r| {
            let t = serde_json::to_string(r).unwrap_or_default();
            crate::entities::cut(&t, ROW_CHARS).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One evidence item for the prompt, with `rows` sample rows.
fn evidence_item(i: usize, e: &Evidence, rows: usize) -> String {
    let mut s = format!(
        "[E{i}] {} via {}: {} row{}{}",
        e.source,
        e.skill,
        e.row_count,
        if e.row_count == 1 { "" } else { "s" },
        if e.truncated { " (truncated)" } else { "" }
    );
    if let Some((a, b)) = &e.time_range {
        s.push_str(&format!(", {a} to {b}"));
    }
    if let Some(q) = &e.query {
        s.push_str(&format!("\nQuery: {}", crate::entities::cut(q, 600).replace('\n', " ")));
    }
    if rows > 0 && !e.sample_rows.is_empty() {
        s.push('\n');
        s.push_str(&fence(&format!("E{i} rows"), &rows_text(e, rows)));
    }
    s
}

/// The user message: question, session, skill summaries and evidence, fitted to `budget`
/// tokens as counted by `count`.
pub fn evidence_prompt(input: &ComposeInput<'_>, budget: usize, count: &dyn Fn(&str) -> usize) -> String {
    let mut head = format!("Analyst's question: {}\n", input.prompt);
    if let Some(ctx) = session_lines(input.session, &[]) {
        head.push_str(&format!("\nSession context:\n{ctx}\n"));
    }
    let mut used = count(&head);
    let mut parts: Vec<String> = Vec::new();
    // Skill summaries first (they hold the skills' own reading of the data), cut to fit.
    let mut summaries = String::from("\nWhat the skills found (data, cite the evidence below):\n");
    for (skill, out) in input.outputs {
        let f = fence(skill, crate::entities::cut(&out.markdown, 3_000));
        if used + count(&summaries) + count(&f) > budget / 2 {
            summaries.push_str(&format!("({skill}'s summary left out for space)\n"));
            continue;
        }
        summaries.push_str(&f);
        summaries.push('\n');
    }
    used += count(&summaries);
    parts.push(summaries);
    parts.push("\nEvidence:\n".into());
    let mut left_out = 0;
    for (i, e) in input.evidence.iter().enumerate() {
        let mut placed = false;
        for rows in [ROWS_PER_ITEM, 2, 0] {
            let item = evidence_item(i + 1, e, rows);
            let n = count(&item);
            if used + n <= budget {
                used += n;
                parts.push(item);
                parts.push("\n".into());
                placed = true;
                break;
            }
        }
        if !placed {
            left_out += 1;
        }
    }
    if left_out > 0 {
        parts.push(format!(
            "({left_out} evidence item(s) left out to fit the context window; do not cite them)\n"
        ));
    }
    let mut msg = head;
    for p in parts {
        msg.push_str(&p);
    }
    msg.push_str("\nWrite the answer now, citing evidence as [E1], [E2] ….");
    msg
}

/// The guard's index over everything the answer may rely on.
pub fn evidence_index(input: &ComposeInput<'_>) -> EvidenceIndex {
    let mut ix = EvidenceIndex::new();
    ix.add(input.prompt);
    if let Ok(v) = serde_json::to_value(input.session) {
        ix.add_json(&v);
    }
    for (skill, out) in input.outputs {
        ix.add(skill);
        ix.add(&out.markdown);
        ix.add_json(&out.result);
    }
    for f in input.fragments {
        ix.add(f);
    }
    ix.add_count(input.evidence.len() as u64);
    for e in input.evidence {
        ix.add(&e.source);
        ix.add(&e.skill);
        if let Some(q) = &e.query {
            ix.add(q);
        }
        if let Some((a, b)) = &e.time_range {
            ix.add(a);
            ix.add(b);
        }
        ix.add_count(e.row_count as u64);
        ix.add_count(e.sample_rows.len() as u64);
        for r in &e.sample_rows {
            ix.add_json(&serde_json::Value::Object(r.clone()));
        }
    }
    ix
}

/// Writes the answer with the model; `Err` when the model fails or writes nothing (the caller
/// then composes deterministically).
pub fn compose(
    client: &LlmClient,
    input: &ComposeInput<'_>,
    on_token: &mut dyn FnMut(&str),
) -> Result<Composed, String> {
    let provider = client.provider();
    let window = provider.context_window();
    let reserve = client.settings().max_tokens.unwrap_or(1024) as usize;
    let system_tokens = provider.count_tokens(COMPOSER_SYSTEM);
    // 64 tokens of slack for the chat template's own markup.
    let budget = window.saturating_sub(reserve + system_tokens + 64).max(256);
    let count = |t: &str| provider.count_tokens(t);
    let user = evidence_prompt(input, budget, &count);
    let mut request =
        client.request(vec![Message::system(COMPOSER_SYSTEM), Message::user(user)]);
    request.tool_choice = ToolChoice::None;
    let mut streamed = String::new();
    let response = client
        .chat("compose", &request, &mut |t| {
            streamed.push_str(t);
            on_token(t);
        })
        .map_err(|CallError(why)| format!("the model failed: {why}"))?;
    let text = if response.message.content.trim().is_empty() {
        streamed.clone()
    } else {
        response.message.content.clone()
    };
    if text.trim().is_empty() {
        return Err("the model wrote nothing".into());
    }
    let mut entries = Vec::new();
    let (text, echoed) = strip_echo(&text);
    if echoed {
        entries.push(ProcessEntry {
            step: "guard".into(),
            detail: "removed an echo of the system prompt".into(),
            elapsed_ms: 0,
            ok: false,
        });
    }
    let report = guard::check(&text, &evidence_index(input), client.settings().guard);
    entries.push(ProcessEntry {
        step: "guard".into(),
        detail: if report.unsupported.is_empty() {
            format!("{} claims checked, all supported by the evidence", report.claims)
        } else {
            format!(
                "{} claims checked, {} unsupported ({:?}): {}",
                report.claims,
                report.unsupported.len(),
                client.settings().guard,
                report.unsupported.join(", ")
            )
        },
        elapsed_ms: 0,
        ok: report.unsupported.is_empty(),
    });
    let mut markdown = report.text.trim().to_string();
    if echoed {
        markdown.push_str("\n\n> Part of the model's answer repeated its instructions and was removed.");
    }
    markdown.push_str(&evidence_section(input.evidence, "E"));
    Ok(Composed { markdown, streamed, entries })
}
