//! `cargo run -p bulwark-copilot --example ask -- DATA_DIR "prompt" ["prompt" …]`: answers
//! prompts in one session and prints the Markdown and the process log.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: ask DATA_DIR PROMPT…")?;
    let copilot = bulwark_copilot::Copilot::open(&dir)?;
    let mut session = bulwark_copilot::SessionContext::default();
    for prompt in args {
        let answer = copilot.ask(&prompt, &mut session);
        println!("## {prompt}\n\n{}\n", answer.markdown);
        for p in &answer.process_log {
            println!("- {} ({} ms, ok={}): {}", p.step, p.elapsed_ms, p.ok, p.detail);
        }
        println!();
    }
    Ok(())
}
