//! `breeze-agent`: the reference Breeze endpoint agent.
//!
//! ```text
//! breeze-agent [--config-dir DIR] enroll <KEY> --server URL [--enrollment-secret S] [--insecure-http] [--force]
//! breeze-agent [--config-dir DIR] run
//! breeze-agent [--config-dir DIR] status
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use breeze_agent::config::{ConfigDir, DEFAULT_CONFIG_DIR};
use breeze_agent::enroll::{EnrollOptions, enroll};
use breeze_agent::exec::ExecLimits;
use breeze_agent_proto::{EnrollmentKey, EnrollmentSecret};
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

#[derive(Debug, Parser)]
#[command(
    name = "breeze-agent",
    version,
    about = "The reference Breeze endpoint agent"
)]
struct Cli {
    /// Configuration directory (agent.yaml, secrets.yaml).
    #[arg(long, env = "BREEZE_CONFIG_DIR", default_value = DEFAULT_CONFIG_DIR, global = true)]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Enroll this host with an enrollment key.
    Enroll {
        /// The enrollment key (64 hex characters). Prefer the environment variable: command
        /// lines are visible to other users.
        #[arg(env = "BREEZE_ENROLLMENT_KEY", hide_env_values = true)]
        key: Zeroizing<String>,
        /// Server base URL (https://...; http:// only to loopback or with --insecure-http).
        #[arg(long)]
        server: String,
        /// Enrollment secret, when the key or the server requires one.
        #[arg(long, env = "BREEZE_ENROLLMENT_SECRET", hide_env_values = true)]
        enrollment_secret: Option<Zeroizing<String>>,
        /// Allow plain http:// to a non-loopback server (tokens travel in clear: testing only).
        #[arg(long)]
        insecure_http: bool,
        /// A PEM file of the CA that issued the server's certificate (a private CA), trusted
        /// instead of the public web PKI. Absolute; kept in agent.yaml.
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
        /// Enroll again even though this host is already enrolled.
        #[arg(long)]
        force: bool,
    },
    /// Run the agent (heartbeats, WebSocket commands, token rotation) until SIGTERM/SIGINT.
    Run,
    /// Print the non-secret enrollment state.
    Status,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ignored = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("breeze-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = ConfigDir::new(cli.config_dir);
    match runtime.block_on(dispatch(dir, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("breeze-agent: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(dir: ConfigDir, command: Cmd) -> Result<(), String> {
    match command {
        Cmd::Enroll {
            key,
            server,
            enrollment_secret,
            insecure_http,
            ca_file,
            force,
        } => {
            let key = EnrollmentKey::parse(key.trim()).map_err(|e| e.to_string())?;
            let secret = enrollment_secret
                .map(|s| EnrollmentSecret::parse(&s))
                .transpose()
                .map_err(|e| e.to_string())?;
            let file = enroll(
                &dir,
                EnrollOptions {
                    server_url: server,
                    insecure_http,
                    ca_file,
                    key,
                    secret,
                    force,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "enrolled: agent {} device {}",
                file.agent_id, file.device_id
            );
            Ok(())
        }
        Cmd::Run => {
            let (tx, rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutting down");
                let _ignored = tx.send(true);
            });
            breeze_agent::agent::run(dir, ExecLimits::default(), rx)
                .await
                .map_err(|e| e.to_string())
        }
        Cmd::Status => {
            let agent = dir.read_agent().map_err(|e| e.to_string())?;
            let secrets = dir.read_secrets().map_err(|e| e.to_string())?;
            println!("server_url: {}", agent.server_url);
            println!("agent_id: {}", agent.agent_id);
            println!("device_id: {}", agent.device_id);
            println!("org_id: {}", agent.org_id);
            println!("site_id: {}", agent.site_id);
            println!(
                "heartbeat_interval_seconds: {}",
                agent.heartbeat_interval_seconds
            );
            println!(
                "rotation_pending: {}",
                secrets
                    .pending
                    .as_ref()
                    .map_or("no".to_owned(), |p| format!(
                        "yes (expires {})",
                        p.expires_at
                    ))
            );
            Ok(())
        }
    }
}

async fn wait_for_signal() {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ignored = tokio::signal::ctrl_c().await;
        }
    }
}
