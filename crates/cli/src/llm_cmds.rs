//! The language-model faces: configuration for `ask`/`chat`/`promptbook`, `bulwark llm serve`
//! (an OpenAI-compatible server over a local GGUF model), `bulwark llm info` and
//! `bulwark eval nl2kql`.
use crate::cli::{EvalCommand, ListFormat, LlmCommand};
use anyhow::{Context, Result, bail};
use bulwark_copilot::Copilot;
use bulwark_copilot::llm::{LlmClient, LlmSettings};
use bulwark_llm::{LlmConfig, Provider};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

/// `--config FILE`, set once by `main` before any command runs.
static CONFIG_PATH: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Records the global `--config` option.
pub fn set_config_path(path: Option<PathBuf>) {
    let _ = CONFIG_PATH.set(path);
}

fn config_path() -> Option<&'static Path> {
    CONFIG_PATH.get().and_then(|p| p.as_deref())
}

/// The `[llm]` configuration for `data_dir` (file + `BULWARK_LLM*` env).
pub fn config(data_dir: &Path) -> Result<LlmConfig> {
    LlmConfig::load(data_dir, config_path()).map_err(anyhow::Error::from)
}

/// The configured model, or `None` for `BULWARK_LLM=none` (the default).
pub fn provider(cfg: &LlmConfig) -> Result<Option<Arc<dyn Provider>>> {
    bulwark_llm::connect(cfg).context("cannot set up the language model")
}

/// How the copilot uses the model, from the configuration.
pub fn settings(cfg: &LlmConfig) -> LlmSettings {
    LlmSettings::from_config(cfg)
}

/// The copilot over `data_dir`, with the configured model when there is one.
pub fn copilot(data_dir: &Path) -> Result<Copilot> {
    let copilot = Copilot::open(data_dir).with_context(|| {
        format!(
            "cannot open {} for questions (build a tenant with `bulwark demo` or ingest data first)",
            data_dir.display()
        )
    })?;
    let cfg = config(data_dir)?;
    Ok(match provider(&cfg)? {
        Some(p) => copilot.with_llm(p, settings(&cfg)),
        None => copilot,
    })
}

/// `bulwark llm …`.
pub fn llm(data_dir: &Path, cmd: LlmCommand, quiet: bool) -> Result<ExitCode> {
    match cmd {
        LlmCommand::Serve { model, listen, context_window, max_tokens } => {
            serve(data_dir, model, &listen, context_window, max_tokens, quiet)
        }
        LlmCommand::Info { ping, format } => {
            let cfg = config(data_dir)?;
            let mut info = serde_json::json!({
                "backend": cfg.backend.name(),
                "summary": cfg.summary(),
            });
            if ping {
                let provider = provider(&cfg)?
                    .context("no model configured (BULWARK_LLM=none): nothing to ping")?;
                let started = std::time::Instant::now();
                let request = bulwark_llm::ChatRequest {
                    max_tokens: Some(8),
                    ..bulwark_llm::ChatRequest::new(vec![bulwark_llm::Message::user(
                        "Reply with the word ready.",
                    )])
                };
                let reply = provider
                    .chat(&request, &mut |_| {}, &bulwark_llm::CancelToken::new())
                    .context("the model did not answer")?;
                info["ping"] = serde_json::json!({
                    "model": reply.model,
                    "reply": reply.message.content,
                    "usage": reply.usage,
                    "elapsed_ms": started.elapsed().as_millis() as u64,
                });
            }
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&info)?),
                ListFormat::Table => {
                    if cfg.enabled() {
                        println!("backend: {}", cfg.summary());
                    } else {
                        println!(
                            "backend: none (the deterministic planner and composer; set BULWARK_LLM=openai|azure|anthropic|local or an [llm] section in bulwark.toml to use a model)"
                        );
                    }
                    if let Some(p) = info.get("ping") {
                        println!(
                            "ping: {} answered {:?} in {} ms",
                            p["model"].as_str().unwrap_or(""),
                            p["reply"].as_str().unwrap_or(""),
                            p["elapsed_ms"]
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `bulwark eval …`.
pub fn eval(data_dir: &Path, cmd: EvalCommand) -> Result<ExitCode> {
    match cmd {
        EvalCommand::Nl2kql { file, format } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let cfg = config(data_dir)?;
            let registry = bulwark_model::SchemaRegistry::builtin();
            let provider = provider(&cfg)?;
            let settings = settings(&cfg);
            let generate = |question: &str| -> String {
                match &provider {
                    Some(p) => {
                        let client = LlmClient::new(Arc::clone(p), settings.clone());
                        bulwark_copilot::llm::nl2kql::generate(&client, question, &registry)
                            .generated
                            .kql
                    }
                    None => bulwark_copilot::nl2kql::generate_with(question, &registry).kql,
                }
            };
            let report = bulwark_copilot::eval::nl2kql(text.lines(), &generate);
            match format {
                ListFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&report.to_json())?)
                }
                ListFormat::Table => {
                    println!(
                        "{} queries scored ({} lines skipped) with backend {}",
                        report.count,
                        report.skipped,
                        cfg.backend.name()
                    );
                    for (name, v) in [
                        ("syntax", report.syntax),
                        ("semantic", report.semantic),
                        ("table", report.table),
                        ("filter column", report.filter_column),
                        ("filter literal", report.filter_literal),
                    ] {
                        println!("  {name:<15} {v:.3}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `bulwark llm serve`.
fn serve(
    data_dir: &Path,
    model: Option<PathBuf>,
    listen: &str,
    context_window: Option<usize>,
    max_tokens: Option<u32>,
    quiet: bool,
) -> Result<ExitCode> {
    let cfg = config(data_dir)?;
    let Some(path) = model.or(cfg.model_path.clone()) else {
        bail!(
            "give the model: `bulwark llm serve --model FILE.gguf` (or model_path in the [llm] section of bulwark.toml)"
        );
    };
    let defaults = bulwark_llm::LocalOptions::default();
    let options = bulwark_llm::LocalOptions {
        context_window: context_window.or(cfg.context_window),
        max_tokens: max_tokens.or(cfg.max_tokens).unwrap_or(defaults.max_tokens),
        seed: cfg.seed.unwrap_or(defaults.seed),
    };
    let started = std::time::Instant::now();
    let local = bulwark_llm::LocalModel::load(&path, options)
        .with_context(|| format!("cannot load {}", path.display()))?;
    if !quiet {
        eprintln!(
            "loaded {} ({}, {} tokens of context) in {:.1} s",
            path.display(),
            local.architecture(),
            local.context_window(),
            started.elapsed().as_secs_f64()
        );
    }
    let provider: Arc<dyn Provider> = Arc::new(local);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("cannot read the bound address")?;
        // Scripts and tests read this line to learn the port when listening on :0.
        println!("listening on http://{addr}/v1");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        bulwark_llm::serve::serve(listener, provider, shutdown).await.context("the server stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}
