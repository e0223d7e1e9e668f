//! `bulwark serve`, `bulwark users` and `bulwark audit`: the server and its administration.
//! Without `--root`, the data directory is the root and is served as workspace `default`.
use anyhow::{Context, Result, bail};
use bulwark_server::db::{Db, HashCost};
use bulwark_server::names::{Role, WorkspaceName};
use bulwark_server::{JwksSource, OidcConfig, ServerConfig};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `bulwark serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (cookies are `Secure` unless it is a loopback address).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Server root: `server.sqlite` and `workspaces/<name>/` (default: the data directory,
    /// served as workspace `default`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// OIDC issuer whose bearer JWTs are accepted (with --oidc-audience and --oidc-jwks).
    #[arg(long, requires_all = ["oidc_audience", "oidc_jwks"])]
    pub oidc_issuer: Option<String>,
    /// Expected OIDC audience.
    #[arg(long)]
    pub oidc_audience: Option<String>,
    /// The issuer's JWKS: a file, or an https:// URL.
    #[arg(long)]
    pub oidc_jwks: Option<String>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub body_limit: usize,
}

/// `bulwark users`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; prints the new API key once.
    Add {
        /// User name (OIDC users map by preferred_username, upn or sub).
        name: String,
        /// Role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Workspace (a-z, 0-9, '-').
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Server root (default: the data directory).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// List users.
    List {
        /// Server root (default: the data directory).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
}

/// A role on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Everything, plus users, plugins and settings.
    Owner,
    /// Prompt, sessions, incident updates, KQL, scripts.
    Contributor,
    /// Read what is shared and the workspace's incidents.
    Reader,
}

/// Output of `bulwark audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// One line per entry.
    Text,
    /// JSON lines.
    Json,
}

/// `bulwark audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Newest entries to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Verify the hash chain instead (exit code 1 when it is broken).
    #[arg(long)]
    pub verify: bool,
    /// Server root (default: the data directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

fn config(data_dir: &Path, root: Option<&Path>) -> ServerConfig {
    match root {
        Some(r) => ServerConfig::new(r),
        None => ServerConfig::new(data_dir).with_workspace_dir("default", data_dir),
    }
}

fn open_db(config: &ServerConfig) -> Result<Db> {
    Db::open(&config.db_path())
        .with_context(|| format!("cannot open {}", config.db_path().display()))
}

/// `bulwark serve`.
pub fn serve(data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    let mut config = config(data_dir, args.root.as_deref());
    config.body_limit = args.body_limit;
    if let (Some(issuer), Some(audience), Some(jwks)) =
        (args.oidc_issuer, args.oidc_audience, args.oidc_jwks)
    {
        let jwks = if jwks.starts_with("https://") || jwks.starts_with("http://") {
            JwksSource::Url(jwks)
        } else {
            JwksSource::File(PathBuf::from(jwks))
        };
        config.oidc = Some(OidcConfig { issuer, audience, jwks });
    }
    // The `[llm]` configuration of the data dir (or --config / BULWARK_LLM*) applies to every
    // workspace's copilot; a local model is loaded once and shared.
    let llm_config = crate::llm_cmds::config(data_dir)?;
    if let Some(provider) = crate::llm_cmds::provider(&llm_config)? {
        eprintln!("language model: {}", llm_config.summary());
        config.llm = Some(bulwark_server::ServerLlm {
            provider,
            settings: crate::llm_cmds::settings(&llm_config),
        });
    }
    if open_db(&config)?.users(None)?.is_empty() {
        eprintln!(
            "note: no users yet; add one with `bulwark users add NAME --role owner` (it prints the API key)"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("Bulwark listening on http://{}", listener.local_addr()?);
        bulwark_server::serve(listener, config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `bulwark users …`.
pub fn users(data_dir: &Path, cmd: UsersCommand) -> Result<ExitCode> {
    match cmd {
        UsersCommand::Add { name, role, workspace, root } => {
            let config = config(data_dir, root.as_deref());
            let db = open_db(&config)?;
            let ws = WorkspaceName::parse(&workspace)?;
            let role = match role {
                RoleArg::Owner => Role::Owner,
                RoleArg::Contributor => Role::Contributor,
                RoleArg::Reader => Role::Reader,
            };
            let key = db.add_user(&name, role, &ws, HashCost::default())?;
            db.audit(&bulwark_server::audit::AuditEvent {
                actor: "cli",
                workspace: ws.as_str(),
                action: "admin.user_add",
                target: &name,
                outcome: bulwark_server::audit::Outcome::Ok,
                detail: serde_json::json!({"role": role, "workspace": ws}),
            })?;
            eprintln!(
                "Added {name} ({}) to workspace {ws}. Its API key (shown only now):",
                role.as_str()
            );
            println!("{key}");
        }
        UsersCommand::List { root } => {
            let db = open_db(&config(data_dir, root.as_deref()))?;
            for u in db.users(None)? {
                println!("{}\t{}\t{}\t{}", u.name, u.role.as_str(), u.workspace, u.created);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bulwark audit`.
pub fn audit(data_dir: &Path, args: AuditArgs) -> Result<ExitCode> {
    let config = config(data_dir, args.root.as_deref());
    if !config.db_path().is_file() {
        bail!("no server database at {}", config.db_path().display());
    }
    let db = open_db(&config)?;
    if args.verify {
        let v = db.verify_audit()?;
        return Ok(match v.broken_at {
            None => {
                println!("audit chain intact: {} entries", v.rows);
                ExitCode::SUCCESS
            }
            Some(id) => {
                println!("audit chain BROKEN at entry {id} ({} entries before it verify)", v.rows);
                ExitCode::from(1)
            }
        });
    }
    let mut entries = db.audit_entries(args.limit, None)?;
    entries.reverse();
    for e in entries {
        match args.format {
            AuditFormat::Json => println!("{}", serde_json::to_string(&e)?),
            AuditFormat::Text => println!(
                "{} #{} {} [{}] {} {} {} {}",
                e.time, e.id, e.actor, e.workspace, e.action, e.target, e.outcome, e.detail
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
