//! The `breeze-server` command line.
//!
//! ```text
//! breeze-server serve                      run the HTTP server
//! breeze-server migrate [--admin-url URL]  create roles (with a superuser URL) and migrate
//! breeze-server config check               list every configuration error and warning
//! breeze-server audit verify [--org ID]    verify every audit chain (or one); exit 1 on a break
//! breeze-server audit export --org ID|system [--out FILE]   write a chain's export bundle
//! breeze-server audit keys [--json]        print the checkpoint public keys (for verifiers)
//! breeze-server audit checkpoint           sign the head of every chain with new entries
//! breeze-server audit retention            prune old prefixes (DATABASE_MAINT_URL)
//! breeze-server bootstrap-admin --email E [--password-stdin] [--with-totp]
//! breeze-server enrollment-key create --org ID --site ID [--max-usage N] [--expires-minutes M] [--name N]
//! breeze-server secrets rekey [--batch N]
//! breeze-server secrets rotate <jwt|encryption|mfa|pepper|enrollment-secret|metrics-token>
//!     <stage|activate|retire> --env-file FILE [--key-id ID] [--force]
//!                                          one phase of a secret roll (docs/OPERATIONS.md)
//! breeze-server openapi                    print the OpenAPI document
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::{ConfigError, DevSecrets, ServerConfig};
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
    /// Run the HTTP server (`BREEZE_MODE` must be set).
    Serve {
        /// Start even when the database holds audit checkpoints signed by keys this server
        /// does not have (they will not verify here); logged as an error at startup.
        #[arg(long, env = "BREEZE_ALLOW_UNKNOWN_CHECKPOINT_KEYS")]
        allow_unknown_checkpoint_keys: bool,
    },
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
    /// The production checklist on this host: configuration, database role and bind,
    /// Redis, the secrets file, TLS, cookies, metrics and enrollment secrets; pass / warn /
    /// fail per item with the fix; exit 1 when an item fails.
    Doctor {
        /// The environment file the service loads its secrets from (its mode is checked);
        /// defaults to `--config`.
        #[arg(long)]
        env_file: Option<std::path::PathBuf>,
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
        action: crate::audit::cli::AuditAction,
    },
    /// Create the first platform admin (refused when one exists). Without
    /// `--password-stdin` a password is generated and printed once.
    BootstrapAdmin {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Enroll a TOTP second factor at creation and print, once, its `otpauth://` URI
        /// (for an authenticator app), its base32 secret and ten recovery codes: the first
        /// login then asks for a code instead of answering 428 `mfa_enrollment_required`.
        #[arg(long)]
        with_totp: bool,
    },
    /// Enrollment keys.
    EnrollmentKey {
        /// What to do.
        #[command(subcommand)]
        action: EnrollmentKeyAction,
    },
    /// Print the OpenAPI 3.1 document (the one served at `/api/v1/openapi.json`); needs no
    /// configuration.
    Openapi,
    /// At-rest secrets.
    Secrets {
        /// What to do.
        #[command(subcommand)]
        action: SecretsAction,
    },
}

/// `enrollment-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum EnrollmentKeyAction {
    /// Create a key for a site and print it once.
    Create {
        /// Organization id.
        #[arg(long)]
        org: uuid::Uuid,
        /// Site id (in that organization).
        #[arg(long)]
        site: uuid::Uuid,
        /// Uses allowed.
        #[arg(long, default_value_t = 1)]
        max_usage: u32,
        /// Minutes until the key expires.
        #[arg(long, default_value_t = 60)]
        expires_minutes: u32,
        /// Display name.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// `secrets` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Re-encrypt every key-ringed column under the active key (resumable).
    Rekey {
        /// Rows per transaction.
        #[arg(long, default_value_t = crate::ops::rekey::DEFAULT_BATCH)]
        batch: u32,
    },
    /// One phase of a secret roll, as an edit of the service's environment file: `stage`
    /// adds a new value that is accepted but not used, `activate` uses it and keeps the old
    /// one accepted, `retire` removes the old one (refused while it is still needed).
    /// Audited on the system chain; prints the next steps.
    Rotate {
        /// `jwt`, `encryption`, `mfa`, `pepper`, `enrollment-secret` or `metrics-token`.
        kind: String,
        /// `stage`, `activate` or `retire`.
        phase: String,
        /// The service's environment file (owned by the caller, mode 0600 or 0640).
        #[arg(long)]
        env_file: PathBuf,
        /// The staged key id of `jwt` or `encryption` (default: `k` + the UTC time).
        #[arg(long)]
        key_id: Option<String>,
        /// Retire although the old value may still be in use: `jwt` before the refresh token
        /// lifetime since `activate` has passed (logs out every session that has not
        /// refreshed since); `pepper` while enrollment keys or recovery codes made before it
        /// are still usable (they stop working).
        #[arg(long)]
        force: bool,
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
    /// Bootstrap commands.
    #[error(transparent)]
    Bootstrap(#[from] crate::ops::bootstrap::BootstrapError),
    /// Rekey.
    #[error(transparent)]
    Rekey(#[from] crate::ops::rekey::RekeyError),
    /// Rotate.
    #[error(transparent)]
    Rotate(#[from] crate::ops::rotate::RotateCliError),
    /// Audit subcommands.
    #[error(transparent)]
    Audit(#[from] crate::audit::cli::AuditCliError),
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

/// Loads the configuration and refuses on any validation error in production; `dev` says
/// whether development mode may create its secrets file.
fn load_config(path: Option<&std::path::Path>, dev: DevSecrets) -> Result<ServerConfig, CliError> {
    let config = ServerConfig::load(path, dev)?;
    let report = config.validate()?;
    for issue in report.errors.iter().chain(report.warnings.iter()) {
        tracing::warn!(field = %issue.field, code = issue.code, "config: {}", issue.message);
    }
    Ok(config)
}

fn read_password_stdin() -> Result<SecretString, CliError> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(CliError::Other("no password on standard input".into()));
    }
    Ok(SecretString::from(password.to_owned()))
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

/// Logs the mode and the checkpoint key ids in use, and refuses to serve over stored
/// checkpoints the key ring cannot verify unless `allow_unknown` (then logs an error).
async fn check_checkpoint_keys(state: &AppState, allow_unknown: bool) -> Result<(), CliError> {
    let ring = crate::audit::checkpoint_keys::ring_ids(&state.audit_keys);
    tracing::info!(
        mode = state.config.mode.as_str(),
        signing_key_id = %state.audit_signer.key_id(),
        verifying_key_ids = %ring,
        "breeze-server starting: mode and audit checkpoint keys in use"
    );
    let unknown =
        crate::audit::checkpoint_keys::unknown_stored_keys(&state.store, &state.audit_keys).await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let list = unknown.join(",");
    if allow_unknown {
        tracing::error!(
            unknown_key_ids = %list,
            "starting with unknown checkpoint keys (--allow-unknown-checkpoint-keys): checkpoints signed by {list} will not verify with this server's keys"
        );
        return Ok(());
    }
    Err(CliError::Other(format!(
        "the database holds audit checkpoints signed by keys this server does not have (key ids {list}): configure those keys as BREEZE_AUDIT_SIGNING_KEY_<id>, or start with --allow-unknown-checkpoint-keys to accept that they will not verify here"
    )))
}

/// Runs a parsed command.
///
/// Connections the kernel queues for `accept` (capped by `net.core.somaxconn`). Tokio's
/// default of 1024 overflows when a fleet reconnects at once: the dropped SYNs are retried
/// only after a second, which shows up as one-second latencies.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds the listening socket with [`LISTEN_BACKLOG`].
///
/// # Errors
/// The I/O error of socket, bind or listen.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// # Errors
/// [`CliError`] of the command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Openapi => {
            let doc = crate::http::openapi::server_document();
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| CliError::Other(format!("cannot render the document: {e}")))?;
            println!("{text}");
            Ok(())
        }
        Command::Serve {
            allow_unknown_checkpoint_keys,
        } => {
            let config = load_config(cli.config.as_deref(), DevSecrets::Generate)?;
            let listen = config.listen;
            // the certificate is read before anything else starts: a wrong file stops here
            let tls = config
                .tls
                .clone()
                .map(crate::http::tls::CertStore::open)
                .transpose()
                .map_err(|e| CliError::Other(format!("BREEZE_TLS_*: {e}")))?;
            let state = AppState::connect(config).await?;
            check_checkpoint_keys(&state, allow_unknown_checkpoint_keys).await?;
            let _audit_tasks = crate::audit::jobs::spawn_background(&state);
            let _webhook_workers = crate::webhooks::worker::spawn(&state);
            let _offline_sweep = crate::agents::offline::spawn(&state);
            let router = crate::http::router(state.clone());
            let listener = bind(listen)?;
            tracing::info!(
                address = %listener.local_addr()?,
                tls = tls.is_some(),
                "breeze-server listening"
            );
            let served = match tls {
                Some(store) => crate::http::serve_tls(listener, store, router).await,
                None => crate::http::serve(listener, router).await,
            };
            // repeated failures still counted in memory are written before exiting
            if let Err(e) = state
                .failure_audit
                .flush_all(&state.store, state.clock.now())
                .await
            {
                tracing::error!(error = %e, "failure audit: counts not written at shutdown");
            }
            served?;
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
            let config = ServerConfig::load(cli.config.as_deref(), DevSecrets::Generate)?;
            let owner = config
                .database_owner_url
                .as_ref()
                .ok_or_else(|| CliError::Other("DATABASE_OWNER_URL is required".into()))?;
            admin::migrate(owner).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Audit { action } => {
            let config = ServerConfig::load(cli.config.as_deref(), DevSecrets::ExistingOnly)?;
            if let crate::audit::cli::AuditAction::Keys { json } = action {
                // the configured keys only: no database connection
                let (signer, ring) = crate::audit::checkpoint_keys::from_config(&config)?;
                let keys = crate::audit::cli::ring_keys(&ring, signer.key_id().as_str());
                return Ok(crate::audit::cli::print_keys(&keys, json)?);
            }
            let state = AppState::connect(config).await?;
            Ok(crate::audit::cli::run(&state, action).await?)
        }
        Command::Doctor { env_file } => {
            let findings =
                crate::ops::doctor::run(cli.config.as_deref(), env_file.as_deref()).await?;
            print!("{}", crate::ops::doctor::render(&findings));
            let failed = findings
                .iter()
                .filter(|f| f.status == breeze_core::config::doctor::Status::Fail)
                .count();
            if failed == 0 {
                Ok(())
            } else {
                Err(CliError::Other(format!("{failed} checklist items fail")))
            }
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            // every finding, one per line, in one run (never a value)
            let report = crate::config::check(cli.config.as_deref())?;
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
                    "{} configuration errors, {} warnings",
                    report.errors.len(),
                    report.warnings.len()
                )))
            }
        }
        Command::BootstrapAdmin {
            email,
            password_stdin,
            with_totp,
        } => {
            let (password, generated) = if password_stdin {
                (read_password_stdin()?, false)
            } else {
                (crate::ops::bootstrap::generate_password()?, true)
            };
            let state =
                AppState::connect(load_config(cli.config.as_deref(), DevSecrets::Generate)?)
                    .await?;
            let (id, totp) = if with_totp {
                let (id, totp) =
                    crate::ops::bootstrap::bootstrap_admin_with_totp(&state, &email, &password)
                        .await?;
                (id, Some(totp))
            } else {
                (
                    crate::ops::bootstrap::bootstrap_admin(&state, &email, &password).await?,
                    None,
                )
            };
            println!("platform admin created: {id}");
            if let Some(totp) = totp {
                // shown once, like a generated password: the server keeps only the
                // encrypted secret and the peppered hashes of the codes
                println!(
                    "totp otpauth uri (shown once, add it to an authenticator app): {}",
                    totp.otpauth_uri.expose_secret()
                );
                println!(
                    "totp secret (base32, shown once): {}",
                    totp.secret.expose_secret()
                );
                let codes: Vec<&str> = totp
                    .recovery_codes
                    .iter()
                    .map(breeze_crypto::recovery::RecoveryCode::expose_secret)
                    .collect();
                println!("recovery codes (shown once): {}", codes.join(" "));
            }
            if generated {
                println!(
                    "generated password (shown once, store it now): {}",
                    secrecy::ExposeSecret::expose_secret(&password)
                );
            }
            Ok(())
        }
        Command::EnrollmentKey {
            action:
                EnrollmentKeyAction::Create {
                    org,
                    site,
                    max_usage,
                    expires_minutes,
                    name,
                },
        } => {
            let state = AppState::connect(load_config(
                cli.config.as_deref(),
                DevSecrets::ExistingOnly,
            )?)
            .await?;
            let created = crate::ops::bootstrap::create_enrollment_key(
                &state,
                &crate::ops::bootstrap::EnrollmentKeyOptions {
                    org_id: breeze_core::tenancy::OrgId::from_uuid(org),
                    site_id: breeze_core::tenancy::SiteId::from_uuid(site),
                    max_usage,
                    expires_minutes,
                    name,
                },
            )
            .await?;
            println!(
                "enrollment key {} (expires {}):",
                created.id, created.expires_at
            );
            println!("{}", created.key.expose_secret());
            Ok(())
        }
        Command::Secrets {
            action:
                SecretsAction::Rotate {
                    kind,
                    phase,
                    env_file,
                    key_id,
                    force,
                },
        } => {
            let options = crate::ops::rotate::RotateOptions {
                kind,
                phase,
                env_file,
                key_id,
                force,
            };
            // the arguments are checked before the configuration is even loaded
            breeze_core::config::rotation::SecretKind::parse(&options.kind)
                .map_err(crate::ops::rotate::RotateCliError::from)?;
            breeze_core::config::rotation::Phase::parse(&options.phase)
                .map_err(crate::ops::rotate::RotateCliError::from)?;
            let config = load_config(cli.config.as_deref(), DevSecrets::ExistingOnly)?;
            let store = crate::store::PgStore::connect(&config.database_url, 2).await?;
            let outcome = crate::ops::rotate::rotate(&store, &options).await?;
            let r = &outcome.rotation;
            println!(
                "{} {}: done{} (changed {})",
                r.kind.as_str(),
                r.phase.as_str(),
                r.key_id
                    .as_deref()
                    .map(|k| format!(", key id `{k}`"))
                    .unwrap_or_default(),
                r.changed.join(", ")
            );
            for step in &outcome.next_steps {
                println!("next: {step}");
            }
            Ok(())
        }
        Command::Secrets {
            action: SecretsAction::Rekey { batch },
        } => {
            let state = AppState::connect(load_config(
                cli.config.as_deref(),
                DevSecrets::ExistingOnly,
            )?)
            .await?;
            let report = crate::ops::rekey::rekey(&state, batch).await?;
            for c in &report.columns {
                println!(
                    "{}: scanned {}, reencrypted {}, already current {}, failed {}",
                    c.column, c.scanned, c.reencrypted, c.already_current, c.failed
                );
            }
            let (scanned, reencrypted, current, failed) = report.totals();
            println!(
                "total under key `{}`: scanned {scanned}, reencrypted {reencrypted}, already current {current}, failed {failed}",
                report.active_key_id
            );
            if failed > 0 {
                return Err(CliError::Other(format!(
                    "{failed} values could not be decrypted with any configured key; they were left untouched"
                )));
            }
            Ok(())
        }
    }
}
