//! The LLM composer: the model writes the answer from numbered evidence only (`[E1]`, `[E2]`
//! …), then the answer is cleaned (echoes of the system prompt removed) and checked by the
//! grounding guard against everything it may rely on: the evidence rows and queries, the
//! skills' results, the prompt and the session context. The evidence list is appended.
//!
//! Evidence is fitted into the model's context window with `bulwark_llm::budget`: whole items
//! in order, the first that only partly fits cut, the rest left out, and the prompt says so.
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

/// The user message: question, session, skill summaries and the numbered evidence, fitted
/// into `window` tokens (counted by `count`) next to the system prompt, keeping `reserve`
/// tokens for the answer. Evidence that does not fit is cut or left out, and the prompt says
/// which (`bulwark_llm::budget`); skill summaries go first when space is short.
pub fn evidence_prompt(
    input: &ComposeInput<'_>,
    window: usize,
    reserve: usize,
    count: &dyn Fn(&str) -> usize,
) -> Result<String, String> {
    let mut head = format!("Analyst's question: {}\n", input.prompt);
    if let Some(ctx) = session_lines(input.session, &[]) {
        head.push_str(&format!("\nSession context:\n{ctx}\n"));
    }
    let mut summaries = String::from("\nWhat the skills found (data; cite the evidence below):\n");
    for (skill, out) in input.outputs {
        summaries.push_str(&fence(skill, crate::entities::cut(&out.markdown, 3_000)));
        summaries.push('\n');
    }
    let tail = "\nWrite the answer now, citing evidence as [E1], [E2] ….";
    let items: Vec<String> = input
        .evidence
        .iter()
        .enumerate()
        .map(|(i, e)| evidence_item(i + 1, e, ROWS_PER_ITEM))
        .collect();
    // Summaries help but the evidence is what answers cite: drop them first when short.
    for with_summaries in [true, false] {
        let fixed = format!(
            "{COMPOSER_SYSTEM}\n{head}{}\nEvidence:\n{tail}",
            if with_summaries { summaries.as_str() } else { "" }
        );
        let Ok(fitted) = bulwark_llm::budget::fit_with(window, count, &fixed, &items, reserve)
        else {
            continue;
        };
        let mut msg = head.clone();
        if with_summaries {
            msg.push_str(&summaries);
        }
        msg.push_str("\nEvidence:\n");
        for item in &fitted.items {
            msg.push_str(item);
            msg.push('\n');
        }
        if let Some(note) = fitted.note() {
            msg.push_str(&format!("({note} Do not cite evidence you were not shown.)\n"));
        }
        msg.push_str(tail);
        return Ok(msg);
    }
    Err(format!(
        "the question and instructions do not fit the model's context window of {window} tokens"
    ))
}

/// The guard's index: one citable item per evidence entry (in order, so `[E3]` is the third),
/// and as supporting context the prompt, the session, the skills' results and fragments.
pub fn evidence_index(input: &ComposeInput<'_>) -> EvidenceIndex {
    let mut ix = EvidenceIndex::new();
    for e in input.evidence {
        ix.add_json(&serde_json::json!({
            "skill": e.skill,
            "source": e.source,
            "query": e.query,
            "row_count": e.row_count,
            "time_range": e.time_range,
            "rows": e.sample_rows,
        }));
        ix.add_count(e.row_count as u64);
    }
    ix.add_context(input.prompt);
    if let Ok(v) = serde_json::to_value(input.session) {
        ix.add_context_json(&v);
    }
    for (skill, out) in input.outputs {
        ix.add_context(skill);
        ix.add_context(&out.markdown);
        ix.add_context_json(&out.result);
    }
    for f in input.fragments {
        ix.add_context(f);
    }
    ix.add_count(input.evidence.len() as u64);
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
    // The answer's tokens plus slack for the chat template's own markup.
    let reserve = client.settings().max_tokens.unwrap_or(1024) as usize + 64;
    let count = |t: &str| provider.count_tokens(t);
    let user = evidence_prompt(input, window, reserve, &count)?;
    let mut request = client.request(vec![Message::system(COMPOSER_SYSTEM), Message::user(user)]);
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
        markdown.push_str(
            "\n\n> Part of the model's answer repeated its instructions and was removed.",
        );
    }
    markdown.push_str(&evidence_section(input.evidence, "E"));
    Ok(Composed { markdown, streamed, entries })
}
