//! The `breeze-server` command line.
//!
//! ```text
//! breeze-server serve                      run the HTTP server
//! breeze-server migrate [--admin-url URL]  create roles (with a superuser URL) and migrate
//! breeze-server config check               validate the configuration and exit
//! breeze-server audit verify [--org ID]    verify every audit chain (or one); exit 1 on a break
//! breeze-server audit export --org ID|system [--out FILE]   write a chain's export bundle
//! breeze-server audit checkpoint           sign the head of every chain with new entries
//! breeze-server audit retention            prune old prefixes (DATABASE_MAINT_URL)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::config::{ConfigError, ServerConfig};
use crate::state::AppState;
use crate::store::admin;

/// The Breeze reference server.
#[derive(Debug, Parser)]
#[command(name = "breeze-server", version, about)]
pub struct Cli {
    /// A `KEY=VALUE` configuration file (the environment overrides it).
    #[arg(long, global = true, env = "BREEZE_CONFIG_FILE")]
    pub config: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve,
    /// Create the database roles (with `--admin-url`) and run the migrations as the owner.
    Migrate {
        /// A superuser URL: creates the owner, runtime and maintenance roles and the database
        /// first. Without it, the roles and database must exist.
        #[arg(long, env = "DATABASE_ADMIN_URL", hide_env_values = true)]
        admin_url: Option<String>,
        /// The database to create with `--admin-url`.
        #[arg(long, default_value = "breeze")]
        database: String,
    },
    /// Configuration commands.
    Config {
        /// What to do.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Audit log commands (system scope, runtime role `DATABASE_URL`).
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: crate::audit_cli::AuditAction,
    },
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration; exit 1 on any error (production) and list warnings.
    Check,
}

/// CLI errors: printed as one line, exit code 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// State.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// Store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// I/O.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

/// Entry point of the binary.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "command failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// JSON logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command.
///
/// # Errors
/// [`CliError`] of the command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve => {
            let config = ServerConfig::from_env_and_file(cli.config.as_deref())?;
            let report = config.validate()?;
            for issue in report.errors.iter().chain(report.warnings.iter()) {
                tracing::warn!(field = %issue.field, code = issue.code, "config: {}", issue.message);
            }
            let listen = config.listen;
            let state = AppState::connect(config).await?;
            let _audit_tasks = crate::audit_jobs::spawn_background(&state);
            let router = crate::http::router(state);
            let listener = tokio::net::TcpListener::bind(listen).await?;
            tracing::info!(address = %listener.local_addr()?, "breeze-server listening");
            crate::http::serve(listener, router).await?;
            Ok(())
        }
        Command::Migrate {
            admin_url,
            database,
        } => {
            if let Some(admin_url) = admin_url {
                let admin_url = SecretString::from(admin_url);
                admin::create_roles(&admin_url).await?;
                admin::create_database(&admin_url, &database).await?;
            }
            let config = ServerConfig::from_env_and_file(cli.config.as_deref())?;
            let owner = config
                .database_owner_url
                .as_ref()
                .ok_or_else(|| CliError::Other("DATABASE_OWNER_URL is required".into()))?;
            admin::migrate(owner).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Audit { action } => crate::audit_cli::run(cli.config.as_deref(), action).await,
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let config = ServerConfig::from_env_and_file(cli.config.as_deref())?;
            let report = breeze_core::config::validate(&config.security_config());
            for issue in &report.errors {
                println!("error   {issue}");
            }
            for issue in &report.warnings {
                println!("warning {issue}");
            }
            if report.is_ok() {
                println!("configuration ok ({} warnings)", report.warnings.len());
                Ok(())
            } else {
                Err(CliError::Other(format!(
                    "{} configuration errors",
                    report.errors.len()
                )))
            }
        }
    }
}
