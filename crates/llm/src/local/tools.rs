//! Tool calls in generated text, the Hermes / Qwen2.5 way: the model answers with
//! `<tool_call>{"name": …, "arguments": {…}}</tool_call>` blocks (or, from smaller models, a
//! bare JSON object with `name` and `arguments` as the whole reply).
//!
//! [`parse_reply`] turns finished text into content plus [`ToolCall`]s and never panics on
//! garbage (an unparseable block stays text). [`TextGate`] decides, token by token, which text
//! can be streamed: it holds back what might still turn into a tool call or a stop sequence,
//! so the streamed pieces always concatenate to the final content.
use crate::chat::ToolCall;
use serde_json::Value;

/// Opens a tool call block.
pub(crate) const OPEN: &str = "<tool_call>";
/// Closes a tool call block.
pub(crate) const CLOSE: &str = "</tool_call>";

/// Finished text split into what the user reads and the tools the model called.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReply {
    /// Text outside tool call blocks (the whole text when no call parsed).
    pub content: String,
    /// Parsed calls, ids `call_0`, `call_1`, … in order.
    pub calls: Vec<ToolCall>,
}

/// Parses `<tool_call>` blocks (a missing closing tag is tolerated at the end of the text), or a
/// bare JSON object with `name` and `arguments` as the whole reply. Blocks that do not hold a
/// call are left in the content.
pub fn parse_reply(text: &str) -> ParsedReply {
    let mut calls = Vec::new();
    let mut content = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let before = &rest[..start];
        let after = &rest[start + OPEN.len()..];
        // The block ends at its closing tag, the next opening tag, or the end of the text.
        let (body, next) = match (after.find(CLOSE), after.find(OPEN)) {
            (Some(close), Some(open)) if open < close => (&after[..open], &after[open..]),
            (Some(close), _) => (&after[..close], &after[close + CLOSE.len()..]),
            (None, Some(open)) => (&after[..open], &after[open..]),
            (None, None) => (after, ""),
        };
        content.push_str(before);
        match call_from_json(body, calls.len()) {
            Some(call) => calls.push(call),
            None => content.push_str(&rest[start..rest.len() - next.len()]),
        }
        rest = next;
    }
    content.push_str(rest);
    if calls.is_empty() {
        let trimmed = text.trim();
        if trimmed.starts_with('{')
            && let Some(call) = call_from_json(trimmed, 0)
        {
            return ParsedReply { content: String::new(), calls: vec![call] };
        }
        return ParsedReply { content: text.to_string(), calls };
    }
    ParsedReply { content: content.trim().to_string(), calls }
}

/// One call from a JSON object `{"name": "...", "arguments": {...}}` (`parameters` accepted for
/// `arguments`; arguments given as a JSON string are kept as that string). Trailing text after
/// the object is ignored.
fn call_from_json(body: &str, index: usize) -> Option<ToolCall> {
    let object = first_json_object(body)?;
    let value: Value = serde_json::from_str(object).ok()?;
    let map = value.as_object()?;
    let name = map.get("name")?.as_str()?.trim();
    if name.is_empty() {
        return None;
    }
    let arguments = match map.get("arguments").or_else(|| map.get("parameters")) {
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Some(ToolCall { id: format!("call_{index}"), name: name.to_string(), arguments })
}

/// The first balanced `{…}` in `text` (string-aware), without parsing it.
fn first_json_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text[start..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(&text[start..start + offset + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// What [`TextGate::push`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Keep generating.
    Continue,
    /// A stop sequence appeared: stop generating.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    /// Plain text, streamed as it becomes safe.
    Streaming,
    /// Inside tool calls: nothing more is streamed.
    ToolCall,
    /// The reply opened with `{`: it may be a bare JSON call, so it is held until the end.
    MaybeJson,
    /// A stop sequence ended the text.
    Stopped,
}

/// Decides which generated text may be streamed; see the module docs.
#[derive(Debug)]
pub(crate) struct TextGate {
    text: String,
    emitted: usize,
    stops: Vec<String>,
    tools: bool,
    state: GateState,
}

impl TextGate {
    /// A gate for a reply. `tools`: watch for tool calls. `prefill`: text the prompt already
    /// put in the model's mouth (a forced `<tool_call>` opening), part of the parsed text.
    pub(crate) fn new(stops: &[String], tools: bool, prefill: &str) -> TextGate {
        let stops = stops.iter().filter(|s| !s.is_empty()).cloned().collect();
        let state = if tools && prefill.contains(OPEN) {
            GateState::ToolCall
        } else {
            GateState::Streaming
        };
        TextGate { text: prefill.to_string(), emitted: 0, stops, tools, state }
    }

    /// Adds a decoded piece; `emit` receives the text that became safe to stream.
    pub(crate) fn push(&mut self, piece: &str, emit: &mut dyn FnMut(&str)) -> Gate {
        if self.state == GateState::ToolCall {
            self.text.push_str(piece);
            // After a closed call, anything but another call ends the reply (models that keep
            // talking after a call only hallucinate its result).
            if let Some(close) = self.text.rfind(CLOSE) {
                let end = close + CLOSE.len();
                let tail = self.text[end..].trim_start();
                if !tail.is_empty() && !tail.starts_with(OPEN) && !OPEN.starts_with(tail) {
                    self.text.truncate(end);
                    return Gate::Stop;
                }
            }
            return Gate::Continue;
        }
        if self.state != GateState::Streaming {
            self.text.push_str(piece);
            return Gate::Continue;
        }
        let search_from =
            floor_char_boundary(&self.text, self.emitted.saturating_sub(self.longest_marker()));
        self.text.push_str(piece);
        let stop = self
            .stops
            .iter()
            .filter_map(|s| self.text[search_from..].find(s.as_str()).map(|i| search_from + i))
            .min();
        let call = if self.tools {
            self.text[search_from..].find(OPEN).map(|i| search_from + i)
        } else {
            None
        };
        match (stop, call) {
            (Some(stop), call) if call.is_none_or(|c| stop <= c) => {
                self.text.truncate(stop);
                self.flush(stop, emit);
                self.state = GateState::Stopped;
                return Gate::Stop;
            }
            (_, Some(call)) => {
                self.flush(call, emit);
                self.state = GateState::ToolCall;
                return Gate::Continue;
            }
            _ => {}
        }
        if self.tools && self.emitted == 0 {
            let start = self.text.trim_start();
            if start.starts_with('{') {
                self.state = GateState::MaybeJson;
                return Gate::Continue;
            }
            if start.is_empty() {
                // Leading whitespace: the reply may still open with a bare JSON call.
                return Gate::Continue;
            }
        }
        let safe = self.text.len() - self.held_suffix();
        self.flush(safe, emit);
        Gate::Continue
    }

    /// Ends the reply: streams what is left of the content and returns the parsed reply.
    pub(crate) fn finish(mut self, emit: &mut dyn FnMut(&str)) -> ParsedReply {
        match self.state {
            GateState::ToolCall | GateState::MaybeJson => {
                let parsed = parse_reply(&self.text);
                if !parsed.calls.is_empty() {
                    // The content is what was streamed before the first call.
                    let content = self.text[..self.emitted].to_string();
                    return ParsedReply { content, calls: parsed.calls };
                }
            }
            GateState::Streaming | GateState::Stopped => {}
        }
        let end = self.text.len();
        self.flush(end, emit);
        ParsedReply { content: self.text, calls: Vec::new() }
    }

    fn flush(&mut self, to: usize, emit: &mut dyn FnMut(&str)) {
        if to > self.emitted {
            emit(&self.text[self.emitted..to]);
            self.emitted = to;
        }
    }

    fn longest_marker(&self) -> usize {
        let open = if self.tools { OPEN.len() } else { 0 };
        self.stops.iter().map(String::len).max().unwrap_or(0).max(open)
    }

    /// Length of the longest suffix of the text that could still grow into a marker.
    fn held_suffix(&self) -> usize {
        let markers = self.stops.iter().map(String::as_str).chain(self.tools.then_some(OPEN));
        let mut held = 0;
        for marker in markers {
            for len in (1..marker.len()).rev() {
                if len <= held {
                    break;
                }
                if marker.is_char_boundary(len) && self.text.ends_with(&marker[..len]) {
                    held = len;
                    break;
                }
            }
        }
        held.min(self.text.len() - self.emitted)
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&str], stops: &[&str], tools: bool) -> (String, ParsedReply) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut gate = TextGate::new(&stops, tools, "");
        let mut streamed = String::new();
        for piece in pieces {
            if gate.push(piece, &mut |s| streamed.push_str(s)) == Gate::Stop {
                break;
            }
        }
        let reply = gate.finish(&mut |s| streamed.push_str(s));
        (streamed, reply)
    }

    #[test]
    fn parses_one_block() {
        let r = parse_reply(
            "<tool_call>\n{\"name\": \"lookup_ip\", \"arguments\": {\"ip\": \"10.0.0.1\"}}\n</tool_call>",
        );
        assert_eq!(r.content, "");
        assert_eq!(r.calls.len(), 1);
        assert_eq!(r.calls[0].id, "call_0");
        assert_eq!(r.calls[0].name, "lookup_ip");
        let args: Value = serde_json::from_str(&r.calls[0].arguments).expect("json");
        assert_eq!(args["ip"], "10.0.0.1");
    }

    #[test]
    fn parses_several_blocks_with_text_around_and_a_missing_final_close() {
        let text = "Checking both.\n<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>\n<tool_call>{\"name\": \"b\", \"arguments\": {\"x\": [1, \"}\"]}}";
        let r = parse_reply(text);
        assert_eq!(r.content, "Checking both.");
        let names: Vec<_> = r.calls.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
        assert_eq!(names, [("call_0", "a"), ("call_1", "b")]);
        assert_eq!(r.calls[1].arguments, r#"{"x":[1,"}"]}"#);
    }

    #[test]
    fn bare_json_reply_is_a_call_and_string_arguments_are_kept() {
        let r = parse_reply("  {\"name\": \"search\", \"arguments\": \"{\\\"q\\\": 1}\"}  ");
        assert_eq!(r.calls.len(), 1);
        assert_eq!(r.calls[0].arguments, "{\"q\": 1}");
        assert_eq!(r.content, "");
        // `parameters` is accepted for `arguments`; missing arguments are an empty object.
        let r = parse_reply("{\"name\": \"x\", \"parameters\": {\"a\": 1}}");
        assert_eq!(r.calls[0].arguments, r#"{"a":1}"#);
        let r = parse_reply("<tool_call>{\"name\": \"x\"}</tool_call>");
        assert_eq!(r.calls[0].arguments, "{}");
    }

    #[test]
    fn garbage_stays_text_and_never_panics() {
        for text in [
            "",
            "<tool_call>",
            "<tool_call></tool_call>",
            "<tool_call>{\"name\": 3}</tool_call>",
            "<tool_call>{\"name\": \"\"}</tool_call>",
            "<tool_call>{{{{{{",
            "</tool_call><tool_call>\"é\\",
            "{\"arguments\": {}}",
            "{not json}",
            "[1,2]",
            "<tool_call>é{\"name\":\"ü\",\"arguments\":{\"k\":\"\\ud800\"}}",
        ] {
            let r = parse_reply(text);
            if r.calls.is_empty() {
                assert_eq!(r.content, text);
            }
        }
        let deep = format!("<tool_call>{}</tool_call>", "{\"a\":".repeat(10_000));
        assert!(parse_reply(&deep).calls.is_empty());
    }

    #[test]
    fn gate_streams_plain_text_exactly() {
        let (streamed, reply) = run(&["Hel", "lo <", "tool", " there"], &[], true);
        assert_eq!(streamed, "Hello <tool there");
        assert_eq!(reply.content, streamed);
        assert!(reply.calls.is_empty());
    }

    #[test]
    fn gate_holds_back_a_tool_call_and_keeps_prior_text() {
        let pieces = ["Sure. <to", "ol_call>{\"name\": \"f\", ", "\"arguments\": {}}</tool_call>"];
        let (streamed, reply) = run(&pieces, &[], true);
        assert_eq!(streamed, "Sure. ");
        assert_eq!(reply.content, "Sure. ");
        assert_eq!(reply.calls[0].name, "f");
    }

    #[test]
    fn gate_holds_back_bare_json_and_releases_it_when_not_a_call() {
        let (streamed, reply) = run(&[" {\"name\": \"f\"", ", \"arguments\": {}}"], &[], true);
        assert_eq!(streamed, "");
        assert_eq!(reply.calls.len(), 1);
        let (streamed, reply) = run(&["{\"a\": 1}", " is JSON"], &[], true);
        assert_eq!(streamed, "{\"a\": 1} is JSON");
        assert_eq!(reply.content, streamed);
        // Without tools, JSON is just text and streams at once.
        let (streamed, _) = run(&["{\"name\": \"f\", \"arguments\": {}}"], &[], false);
        assert_eq!(streamed, "{\"name\": \"f\", \"arguments\": {}}");
    }

    #[test]
    fn gate_stops_at_a_stop_sequence_split_across_pieces() {
        let (streamed, reply) = run(&["one EN", "D two"], &["END"], false);
        assert_eq!(streamed, "one ");
        assert_eq!(reply.content, "one ");
        let (streamed, _) = run(&["é", "E", "x"], &["EN"], false);
        assert_eq!(streamed, "éEx");
    }

    #[test]
    fn text_after_a_closed_call_ends_the_reply_but_another_call_does_not() {
        let pieces = [
            "<tool_call>{\"name\": \"a\"}</tool_call>\n<tool",
            "_call>{\"name\": \"b\"}</tool_call>",
            "\nThe result is",
        ];
        let stops: Vec<String> = Vec::new();
        let mut gate = TextGate::new(&stops, true, "");
        let decisions: Vec<Gate> = pieces.iter().map(|p| gate.push(p, &mut |_| {})).collect();
        assert_eq!(decisions, [Gate::Continue, Gate::Continue, Gate::Stop]);
        let reply = gate.finish(&mut |_| {});
        let names: Vec<_> = reply.calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn forced_tool_call_prefill_is_parsed() {
        let mut gate = TextGate::new(&[], true, "<tool_call>\n{\"name\": \"");
        let mut streamed = String::new();
        gate.push("f\", \"arguments\": {\"a\": 1}}", &mut |s| streamed.push_str(s));
        let reply = gate.finish(&mut |s| streamed.push_str(s));
        assert_eq!(streamed, "");
        assert_eq!(reply.calls[0].name, "f");
        assert_eq!(reply.content, "");
    }
}
