//! The language-model path as a user runs it: `bulwark llm serve` hosts the real local model
//! (SmolLM2-135M, GGUF) over the OpenAI API on 127.0.0.1, and `bulwark ask` reaches it through
//! the OpenAI-compatible client (`BULWARK_LLM=openai`), planning with tools and composing under
//! the grounding guard. A 135M model's answers are not judged; the plumbing is: model calls
//! made and counted, their tokens recorded, the guard run, and an answer with evidence.
use assert_cmd::cargo::cargo_bin_cmd;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A `bulwark llm serve` child process, killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(model: &std::path::Path) -> Served {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("bulwark"))
        .args(["llm", "serve", "--listen", "127.0.0.1:0", "--max-tokens", "48", "--model"])
        .arg(model)
        .env("CANDLE_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start bulwark llm serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    Served { child, url }
}

#[test]
fn ask_runs_through_the_llm_planner_and_composer_against_llm_serve() {
    let Some(model) = bulwark_testutil::test_model() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["demo", "--events", "10000", "--seed", "7", "--end", "2026-11-20T12:00:00Z"])
        .args(["--quiet"])
        .assert()
        .success();
    // One planning round and short completions keep the test to two model calls; the time
    // budget is generous because a loaded 2-core CI machine reads a 2k-token prompt slowly
    // (a prompt over budget falls back to the deterministic path, which is not what this
    // test is about).
    std::fs::write(
        data.join("bulwark.toml"),
        "[llm]\nmax_steps = 1\nmax_tokens = 48\ntime_budget_secs = 900\ntimeout_secs = 900\n",
    )
    .expect("write bulwark.toml");
    let served = serve(&model);

    // The OpenAI-compatible client against the real server.
    let out = cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["llm", "info", "--ping", "--format", "json"])
        .env("BULWARK_LLM", "openai")
        .env("BULWARK_LLM_URL", &served.url)
        .env("BULWARK_LLM_MODEL", "smollm2")
        .output()
        .expect("run llm info");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(info["backend"], "openai");
    assert!(info["ping"]["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 5, "{info}");
    assert!(info["ping"]["usage"]["completion_tokens"].as_u64().unwrap_or(0) >= 1, "{info}");

    // A whole prompt: LLM planner (tools = skills) → skills → LLM composer → guard.
    let out = cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["ask", "summarize incident 1", "--format", "json"])
        .env("BULWARK_LLM", "openai")
        .env("BULWARK_LLM_URL", &served.url)
        .env("BULWARK_LLM_MODEL", "smollm2")
        .output()
        .expect("run ask");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let usage = &answer["usage"];
    assert_eq!(usage["backend"], "openai", "{usage}");
    assert!(usage["model_calls"].as_u64().unwrap_or(0) >= 2, "planner and composer: {usage}");
    assert!(usage["prompt_tokens"].as_u64().unwrap_or(0) > 100, "{usage}");
    let log = answer["process_log"].as_array().expect("process log");
    let steps: Vec<&str> = log.iter().filter_map(|e| e["step"].as_str()).collect();
    assert!(steps.contains(&"llm"), "model calls are in the process log: {steps:?}");
    // Whatever the small model planned (or if it failed and the deterministic planner took
    // over, which the log says), the incident's skill ran and its evidence is attached.
    assert!(
        answer["skills"].as_array().is_some_and(|s| s.iter().any(|s| s == "IncidentSummary")),
        "{}",
        answer["skills"]
    );
    assert!(answer["evidence"].as_array().is_some_and(|e| !e.is_empty()));
    assert!(!answer["answer"].as_str().unwrap_or("").trim().is_empty());
    // The answer a model wrote went through the guard (or the deterministic composer took
    // over, and the log says so).
    assert!(steps.contains(&"guard") || log.iter().any(|e| e["step"] == "compose"), "{steps:?}");

    // The session keeps the tokens (capacity accounting).
    let session = answer["session"].as_str().expect("session id");
    let out = cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["sessions", "export", session])
        .output()
        .expect("export");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.to_lowercase().contains("token"), "{text}");
}

#[test]
fn a_broken_llm_configuration_is_one_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("bulwark.toml"), "[llm]\nbackend = \"openai\"\nmodle = \"x\"\n")
        .expect("write");
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["llm", "info"])
        .env_remove("BULWARK_LLM")
        .assert()
        .failure()
        .stderr(predicates::str::contains("modle"));
}
