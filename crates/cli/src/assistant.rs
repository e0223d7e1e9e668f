//! The copilot's faces: `ask`, `chat`, `promptbook`, `sessions`, `kql generate`.
use crate::cli::{
    AskArgs, ExportFormat, ListFormat, PromptbookCommand, ReportFormat, SessionsCommand,
};
use crate::output;
use anyhow::{Context, Result, bail};
use bulwark_copilot::session::SessionStore;
use bulwark_copilot::{Answer, Copilot};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

fn sessions(data_dir: &Path) -> Result<SessionStore> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    SessionStore::open(data_dir.join("sessions.sqlite")).context("cannot open the session store")
}

fn copilot(data_dir: &Path) -> Result<Copilot> {
    crate::llm_cmds::copilot(data_dir)
}

/// Prints an answer: its Markdown (which lists its evidence with the KQL that ran), then the
/// session and skills.
fn print_answer(answer: &Answer, session: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", answer.markdown.trim_end())?;
    let skills: Vec<&str> = answer.skills.iter().map(String::as_str).collect();
    writeln!(out, "\n(session {session}; skills: {})", skills.join(", "))?;
    Ok(())
}

pub fn ask(data_dir: &Path, args: &AskArgs) -> Result<ExitCode> {
    let prompt = args.prompt.join(" ");
    let copilot = copilot(data_dir)?;
    let mut store = sessions(data_dir)?;
    let (session, _, answer) =
        copilot.ask_in_session(&mut store, args.session.as_deref(), &prompt)?;
    match args.format {
        ReportFormat::Json => println!("{}", answer.to_json(Some(&session))),
        ReportFormat::Text => print_answer(&answer, &session)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub fn chat(data_dir: &Path, session: Option<String>) -> Result<ExitCode> {
    let copilot = copilot(data_dir)?;
    let mut store = sessions(data_dir)?;
    let mut session = match session {
        Some(s) => s,
        None => store.create(None)?,
    };
    let mut last_prompt: Option<i64> = None;
    eprintln!(
        "Bulwark chat (session {session}). Ask about incidents, users, devices, IPs, scripts; /pin [note], /pins, /export FILE, /quit."
    );
    let stdin = std::io::stdin();
    loop {
        eprint!("> ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        if let Some(note) = line.strip_prefix("/pin") {
            match last_prompt {
                Some(p) => {
                    store.pin(&session, p, note.trim())?;
                    eprintln!("pinned");
                }
                None => eprintln!("nothing to pin yet"),
            }
            continue;
        }
        if line == "/pins" {
            println!("{}", store.pin_summary(&session)?);
            continue;
        }
        if let Some(file) = line.strip_prefix("/export") {
            let file = file.trim();
            if file.is_empty() {
                eprintln!("usage: /export FILE.md|FILE.html");
                continue;
            }
            let text = if file.ends_with(".html") {
                store.export_html(&session)?
            } else {
                store.export_markdown(&session)?
            };
            std::fs::write(file, text).with_context(|| format!("cannot write {file}"))?;
            eprintln!("exported to {file}");
            continue;
        }
        let (id, prompt_id, answer) = copilot.ask_in_session(&mut store, Some(&session), line)?;
        session = id;
        last_prompt = Some(prompt_id);
        print_answer(&answer, &session)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn find_book(name: &str) -> Result<bulwark_copilot::promptbook::Promptbook> {
    if let Some(b) = bulwark_copilot::promptbook::find(name) {
        return Ok(b);
    }
    let path = Path::new(name);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let book = if name.ends_with(".md") {
            bulwark_copilot::promptbook::Promptbook::from_markdown(&text)?
        } else {
            bulwark_copilot::promptbook::Promptbook::from_yaml(&text)?
        };
        return Ok(book);
    }
    let names: Vec<String> =
        bulwark_copilot::promptbook::builtin().into_iter().map(|b| b.name).collect();
    bail!("no promptbook '{name}' (built-ins: {}; or give a YAML/Markdown file)", names.join(", "))
}

pub fn promptbook(data_dir: &Path, cmd: PromptbookCommand) -> Result<ExitCode> {
    match cmd {
        PromptbookCommand::List => {
            let mut t = output::table(&["name", "inputs", "steps", "description"]);
            for b in bulwark_copilot::promptbook::builtin() {
                t.add_row(vec![
                    b.name.clone(),
                    b.inputs.join(", "),
                    b.prompts.len().to_string(),
                    b.description.clone(),
                ]);
            }
            println!("{t}");
        }
        PromptbookCommand::Show { name } => {
            let b = find_book(&name)?;
            println!("{}: {}", b.name, b.description);
            println!(
                "inputs: {}",
                if b.inputs.is_empty() { "none".into() } else { b.inputs.join(", ") }
            );
            for (i, p) in b.prompts.iter().enumerate() {
                println!("{:2}. {p}", i + 1);
            }
        }
        PromptbookCommand::Run { name, params, format } => {
            let book = find_book(&name)?;
            let mut map = BTreeMap::new();
            for p in &params {
                let Some((k, v)) = p.split_once('=') else {
                    bail!("--param {p}: expected KEY=VALUE");
                };
                map.insert(k.trim().to_string(), v.trim().to_string());
            }
            let copilot = copilot(data_dir)?;
            let mut store = sessions(data_dir)?;
            let (session, answers) = copilot.run_promptbook(&mut store, None, &book, &map)?;
            match format {
                ReportFormat::Json => {
                    let steps: Vec<serde_json::Value> =
                        answers.iter().map(|a| a.to_json(Some(&session))).collect();
                    println!("{}", serde_json::json!({ "session": session, "steps": steps }));
                }
                ReportFormat::Text => {
                    for (i, a) in answers.iter().enumerate() {
                        println!("## Step {}: {}\n", i + 1, a.prompt);
                        print_answer(a, &session)?;
                        println!();
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn sessions_cmd(data_dir: &Path, cmd: SessionsCommand) -> Result<ExitCode> {
    let store = sessions(data_dir)?;
    match cmd {
        SessionsCommand::List { format } => {
            let list = store.list()?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string(&list)?),
                ListFormat::Table => {
                    let mut t = output::table(&["id", "name", "created", "prompts"]);
                    for s in list {
                        t.add_row(vec![s.id, s.name, s.created, s.prompts.to_string()]);
                    }
                    println!("{t}");
                }
            }
        }
        SessionsCommand::Show { id } => print!("{}", store.export_markdown(&id)?),
        SessionsCommand::Export { id, format } => match format {
            ExportFormat::Markdown => print!("{}", store.export_markdown(&id)?),
            ExportFormat::Html => print!("{}", store.export_html(&id)?),
        },
        SessionsCommand::Delete { id } => {
            store.delete(&id)?;
            eprintln!("deleted session {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bulwark kql generate`: exit 1 when the generated query does not check.
pub fn kql_generate(question: &str, format: ListFormat) -> Result<ExitCode> {
    let g = bulwark_copilot::nl2kql::generate(question);
    match format {
        ListFormat::Json => println!("{}", g.to_json()),
        ListFormat::Table => {
            println!("{}", g.kql);
            if !g.valid {
                eprintln!("the generated query does not pass the schema check");
            }
        }
    }
    Ok(if g.valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The first question `demo` answers, so a new user sees the copilot work.
pub fn first_answer(data_dir: &Path) -> Result<()> {
    let copilot = copilot(data_dir)?;
    let mut store = sessions(data_dir)?;
    let prompt = "Summarize the most severe incident";
    let (session, _, answer) = copilot.ask_in_session(&mut store, None, prompt)?;
    println!("\n> {prompt}\n");
    print_answer(&answer, &session)?;
    println!(
        "\nAsk your own: `bulwark --data-dir {0} ask \"what did the macro launch?\"`, or `bulwark --data-dir {0} chat`.",
        data_dir.display()
    );
    Ok(())
}
