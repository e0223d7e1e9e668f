//! Prompt rendering for the local model: the GGUF's `tokenizer.chat_template` (Jinja, run with
//! minijinja plus Python-method compatibility) or, when the file has none, ChatML.
//!
//! Tools follow the Hermes / Qwen2.5 convention. A template that knows about tools (it mentions
//! `tools`) gets them natively, in OpenAI's shape. Otherwise the tool list is written into the
//! system message, earlier assistant tool calls become `<tool_call>` text and tool results
//! become `<tool_response>` blocks inside a user turn, which such templates can render.
use crate::chat::{ChatRequest, Message, Role, ToolChoice, ToolSpec};
use crate::local::tools::{CLOSE, OPEN};
use crate::{Error, Result};
use minijinja::value::Serde;
use minijinja::{Environment, ErrorKind};
use serde_json::{Value, json};

/// What the prompt ends with when a tool call is required (tools on offer, `tool_choice`
/// `required`): the model continues inside an opened call. With a single tool its name and the
/// opening of its arguments object (up to the first required property) are written too, since
/// that is the only possible call (this is how a named `tool_choice` arrives), which keeps
/// small models on track.
pub(crate) fn forced_call_prefill(request: &ChatRequest) -> Option<String> {
    if !ChatTemplate::tools_active(request) || request.tool_choice != ToolChoice::Required {
        return None;
    }
    Some(match request.tools.as_slice() {
        [only] => {
            // Open the arguments at the schema's first required property (and its string
            // quote), if any: tiny
            // models otherwise tend to copy the schema itself into the arguments.
            let first_required = only.parameters["required"]
                .as_array()
                .and_then(|r| r.first())
                .and_then(Value::as_str)
                .map(|key| {
                    let string = only.parameters["properties"][key]["type"] == "string";
                    format!("{}: {}", json!(key), if string { "\"" } else { "" })
                })
                .unwrap_or_default();
            format!("{OPEN}\n{{\"name\": {}, \"arguments\": {{{first_required}", json!(only.name))
        }
        _ => format!("{OPEN}\n{{\"name\": \""),
    })
}

/// A chat template ready to render requests.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    /// Jinja source (`None`: built-in ChatML).
    source: Option<String>,
    /// Whether the template renders `tools` and the tool role itself.
    native_tools: bool,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// A template from Jinja source (checked now, so a broken template fails at load) or ChatML.
    pub fn new(source: Option<String>, bos_token: &str, eos_token: &str) -> Result<ChatTemplate> {
        let native_tools = source.as_deref().is_some_and(|s| s.contains("tools"));
        let template = ChatTemplate {
            source,
            native_tools,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        };
        if let Some(source) = &template.source {
            environment()
                .template_from_str(source)
                .map_err(|e| Error::Model(format!("chat template: {e:#}")))?;
        }
        Ok(template)
    }

    /// Whether tools are on offer for this request (a non-empty list not switched off).
    pub fn tools_active(request: &ChatRequest) -> bool {
        !request.tools.is_empty() && request.tool_choice != ToolChoice::None
    }

    /// The prompt text for `request`, ending where the assistant's reply begins (including the
    /// forced tool call opening when `tool_choice` is `required`).
    pub fn render(&self, request: &ChatRequest) -> Result<String> {
        let tools = ChatTemplate::tools_active(request);
        let mut prompt = match (&self.source, self.native_tools) {
            (Some(source), true) => {
                let messages: Vec<Value> = request.messages.iter().map(openai_message).collect();
                let tools =
                    tools.then(|| request.tools.iter().map(openai_tool).collect::<Vec<_>>());
                self.jinja(source, &messages, tools.as_deref())?
            }
            (source, _) => {
                let messages = rewrite_for_plain_template(request, tools);
                match source {
                    Some(source) => {
                        let messages: Vec<Value> = messages
                            .iter()
                            .map(|m| json!({"role": role_name(m.role), "content": m.content}))
                            .collect();
                        self.jinja(source, &messages, None)?
                    }
                    None => chatml(&messages),
                }
            }
        };
        if let Some(prefill) = forced_call_prefill(request) {
            prompt.push_str(&prefill);
        }
        Ok(prompt)
    }

    fn jinja(&self, source: &str, messages: &[Value], tools: Option<&[Value]>) -> Result<String> {
        let env = environment();
        let template = env
            .template_from_str(source)
            .map_err(|e| Error::Model(format!("chat template: {e:#}")))?;
        let context = json!({
            "messages": messages,
            "tools": tools,
            "add_generation_prompt": true,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
        });
        template.render(Serde(&context)).map_err(|e| Error::Model(format!("chat template: {e:#}")))
    }
}

/// The Jinja environment chat templates run in: Python string/dict methods (`strip`,
/// `startswith`, `items`, …) and `raise_exception`, as Hugging Face provides them.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |message: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        },
    );
    env
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// A message in OpenAI's shape, as tool-aware templates expect (arguments as an object when
/// they are valid JSON, since templates apply `tojson` to them).
fn openai_message(message: &Message) -> Value {
    let mut value = json!({"role": role_name(message.role), "content": message.content});
    if !message.tool_calls.is_empty() {
        value["tool_calls"] = message
            .tool_calls
            .iter()
            .map(|call| {
                let arguments = serde_json::from_str::<Value>(&call.arguments)
                    .unwrap_or_else(|_| Value::String(call.arguments.clone()));
                json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
            })
            .collect();
    }
    if let Some(id) = &message.tool_call_id {
        value["tool_call_id"] = json!(id);
    }
    value
}

fn openai_tool(tool: &ToolSpec) -> Value {
    json!({"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}})
}

/// The Hermes / Qwen2.5 tools section for the system message.
pub fn tools_section(tools: &[ToolSpec]) -> String {
    let mut text = String::from(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for tool in tools {
        text.push('\n');
        // Written by hand to keep OpenAI's field order (name first), which models were
        // trained on; serde_json would sort the keys.
        text.push_str(&format!(
            "{{\"type\": \"function\", \"function\": {{\"name\": {}, \"description\": {}, \"parameters\": {}}}}}",
            json!(tool.name),
            json!(tool.description),
            tool.parameters
        ));
    }
    text.push_str(
        "\n</tools>\n\nFor each function call, return a json object with function name and \
         arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n\
         {\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    );
    text
}

/// The conversation with tools written as text, for templates that know nothing of tools.
fn rewrite_for_plain_template(request: &ChatRequest, tools: bool) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(request.messages.len() + 1);
    if tools {
        let section = tools_section(&request.tools);
        match request.messages.first() {
            Some(first) if first.role == Role::System => {
                out.push(Message::system(format!("{}\n\n{section}", first.content)));
            }
            _ => out.push(Message::system(section)),
        }
    }
    let skip =
        usize::from(tools && request.messages.first().is_some_and(|m| m.role == Role::System));
    for message in &request.messages[skip..] {
        match message.role {
            Role::Tool => {
                let block = format!("<tool_response>\n{}\n</tool_response>", message.content);
                // Consecutive results share one user turn, as Qwen2.5's template does.
                match out.last_mut() {
                    Some(last)
                        if last.role == Role::User
                            && last.content.ends_with("</tool_response>") =>
                    {
                        last.content.push('\n');
                        last.content.push_str(&block);
                    }
                    _ => out.push(Message::user(block)),
                }
            }
            Role::Assistant if !message.tool_calls.is_empty() => {
                let mut content = message.content.clone();
                for call in &message.tool_calls {
                    let arguments = serde_json::from_str::<Value>(&call.arguments)
                        .unwrap_or_else(|_| Value::String(call.arguments.clone()));
                    let body =
                        format!("{{\"name\": {}, \"arguments\": {arguments}}}", json!(call.name));
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(&format!("{OPEN}\n{body}\n{CLOSE}"));
                }
                out.push(Message::assistant(content));
            }
            _ => {
                out.push(Message { tool_calls: Vec::new(), tool_call_id: None, ..message.clone() })
            }
        }
    }
    out
}

/// ChatML, the fallback when the model file carries no template.
fn chatml(messages: &[Message]) -> String {
    let mut text = String::new();
    for message in messages {
        text.push_str("<|im_start|>");
        text.push_str(role_name(message.role));
        text.push('\n');
        text.push_str(&message.content);
        text.push_str("<|im_end|>\n");
    }
    text.push_str("<|im_start|>assistant\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ToolCall;

    const SMOL: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    fn lookup_tool() -> ToolSpec {
        ToolSpec {
            name: "lookup_ip".into(),
            description: "Reputation of an IP address".into(),
            parameters: json!({"type": "object", "properties": {"ip": {"type": "string"}}, "required": ["ip"]}),
        }
    }

    #[test]
    fn renders_the_gguf_template_with_a_generation_prompt() {
        let t =
            ChatTemplate::new(Some(SMOL.into()), "<|im_start|>", "<|im_end|>").expect("template");
        let prompt = t.render(&ChatRequest::new(vec![Message::user("hi")])).expect("render");
        assert_eq!(
            prompt,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn chatml_fallback_matches_the_same_layout() {
        let t = ChatTemplate::new(None, "", "").expect("template");
        let req = ChatRequest::new(vec![Message::system("be brief"), Message::user("hi")]);
        assert_eq!(
            t.render(&req).expect("render"),
            "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn tools_go_into_the_system_message_and_results_into_a_user_turn() {
        let t = ChatTemplate::new(Some(SMOL.into()), "", "").expect("template");
        let mut req = ChatRequest::new(vec![
            Message::system("You are Bulwark."),
            Message::user("Check 10.0.0.1"),
            Message {
                tool_calls: vec![ToolCall {
                    id: "call_0".into(),
                    name: "lookup_ip".into(),
                    arguments: "{\"ip\":\"10.0.0.1\"}".into(),
                }],
                ..Message::assistant("")
            },
            Message::tool("call_0", "{\"verdict\":\"benign\"}"),
            Message::tool("call_1", "second"),
        ]);
        req.tools = vec![lookup_tool()];
        let prompt = t.render(&req).expect("render");
        assert!(
            prompt.starts_with("<|im_start|>system\nYou are Bulwark.\n\n# Tools\n"),
            "{prompt}"
        );
        assert!(prompt.contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"lookup_ip\", \"description\": \"Reputation of an IP address\", \"parameters\": {"), "{prompt}");
        assert!(prompt.contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"lookup_ip\", \"arguments\": {\"ip\":\"10.0.0.1\"}}\n</tool_call><|im_end|>"), "{prompt}");
        assert!(prompt.contains("<|im_start|>user\n<tool_response>\n{\"verdict\":\"benign\"}\n</tool_response>\n<tool_response>\nsecond\n</tool_response><|im_end|>\n<|im_start|>assistant\n"), "{prompt}");
        assert!(!prompt.contains("<|im_start|>tool"), "{prompt}");
        assert_eq!(prompt.matches("<|im_start|>system").count(), 1);
    }

    #[test]
    fn tool_choice_none_hides_tools_and_required_prefills_a_call() {
        let t = ChatTemplate::new(None, "", "").expect("template");
        let mut req = ChatRequest::new(vec![Message::user("Check 10.0.0.1")]);
        req.tools = vec![lookup_tool()];
        req.tool_choice = ToolChoice::None;
        assert!(!t.render(&req).expect("render").contains("<tools>"));
        req.tool_choice = ToolChoice::Required;
        let prompt = t.render(&req).expect("render");
        assert!(prompt.contains("<tools>"));
        assert!(
            prompt.ends_with(
                "<|im_start|>assistant\n<tool_call>\n{\"name\": \"lookup_ip\", \"arguments\": {\"ip\": \""
            ),
            "{prompt}"
        );
        req.tools.push(ToolSpec { name: "other".into(), ..lookup_tool() });
        let prompt = t.render(&req).expect("render");
        assert!(prompt.ends_with("<|im_start|>assistant\n<tool_call>\n{\"name\": \""), "{prompt}");
    }

    #[test]
    fn tool_aware_templates_get_tools_natively() {
        let source = "{% if tools %}TOOLS:{% for t in tools %}{{ t.function.name }};{% endfor %}{% endif %}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}{{ c.function.arguments | tojson }}{% endfor %}{% endif %}{% endfor %}";
        let t = ChatTemplate::new(Some(source.into()), "", "").expect("template");
        let mut req = ChatRequest::new(vec![
            Message::user("q"),
            Message {
                tool_calls: vec![ToolCall {
                    id: "c".into(),
                    name: "lookup_ip".into(),
                    arguments: "{\"ip\": \"1\"}".into(),
                }],
                ..Message::assistant("")
            },
            Message::tool("c", "r"),
        ]);
        req.tools = vec![lookup_tool()];
        assert_eq!(
            t.render(&req).expect("render"),
            "TOOLS:lookup_ip;[user]q[assistant]{\"ip\": \"1\"}[tool]r"
        );
    }

    #[test]
    fn broken_templates_fail_at_load_and_raise_exception_is_an_error() {
        assert!(ChatTemplate::new(Some("{% for %}".into()), "", "").is_err());
        let t = ChatTemplate::new(Some("{{ raise_exception('no system role') }}".into()), "", "")
            .expect("compiles");
        let err = t.render(&ChatRequest::new(vec![])).expect_err("raises");
        assert!(err.to_string().contains("no system role"), "{err}");
        let t = ChatTemplate::new(Some("{{ messages[0].content.strip() }}".into()), "", "")
            .expect("compiles");
        assert_eq!(t.render(&ChatRequest::new(vec![Message::user("  x ")])).expect("render"), "x");
    }
}
