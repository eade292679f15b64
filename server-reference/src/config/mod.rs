//! Server configuration: environment variables over an optional `KEY=VALUE` file.
//!
//! Every setting is an environment variable; `BREEZE_CONFIG_FILE` (or `--config`) names an
//! optional file of `KEY=VALUE` lines (`#` comments) read first, so the environment wins.
//! Keyed secrets use one variable per key id: `BREEZE_JWT_KEY_<kid>`,
//! `BREEZE_ENCRYPTION_KEY_<id>`, `BREEZE_AUDIT_SIGNING_KEY_<kid>` (Ed25519 seed, 64 hex).
//!
//! `BREEZE_MODE` (`production`, `development` or `test`) is required: there is no default.
//! `development` mode generates any missing secret on first run into a 0600 file
//! (`BREEZE_DEV_SECRETS_FILE`, default `dev-secrets.env` in the state directory of
//! `scripts/run`: `$BREEZE_RUN_DIR`, else `~/.cache/breeze-run`; never inside the
//! checkout) and reuses it afterwards; it never falls back to a built-in default. Only
//! `serve`, `migrate` and `bootstrap-admin` create that file ([`DevSecrets`]); the other
//! commands refuse without it, and `DATABASE_URL` is checked before anything is written. `production` mode refuses to start on any
//! error of the startup validation ([`breeze_core::config::validate`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use breeze_core::config::{Environment, NamedSecret, SecurityConfig};
use secrecy::{ExposeSecret, SecretString};

mod check;
mod mcp;
mod remote;
mod rotation;
mod settings;
mod sso;
mod tls;
mod webhooks;

pub use check::{CheckReport, check, check_settings};
pub use mcp::McpConfig;
pub use remote::RemoteConfig;
pub use rotation::RotationConfig;
pub use sso::SsoConfig;
pub use tls::TlsFiles;
pub use webhooks::WebhookConfig;

pub use settings::Settings;
use settings::{active_id, ensure_dev_secrets, required};

/// The name of development mode's generated secrets file in its state directory.
pub const DEV_SECRETS_FILE_NAME: &str = "dev-secrets.env";
/// The state directory of development mode under `$HOME` when `BREEZE_RUN_DIR` is unset
/// (the one `scripts/run` uses).
pub const DEFAULT_RUN_DIR_UNDER_HOME: &str = ".cache/breeze-run";

/// What development mode may do when its secrets file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevSecrets {
    /// Generate it (`serve`, and the set-up commands `migrate` and `bootstrap-admin`).
    Generate,
    /// Refuse, naming the settings: the other commands work on a running server's data,
    /// and freshly generated keys would not be that server's.
    ExistingOnly,
}
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// Default login response floor (SPEC 2.1).
pub const DEFAULT_LOGIN_FLOOR_MS: u64 = 350;

/// A configuration that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting has a value that cannot be used (the value is never echoed).
    #[error("invalid setting `{name}`: {reason}")]
    Invalid {
        /// Variable name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A required setting is missing.
    #[error("missing setting `{0}`")]
    Missing(String),
    /// The configuration file cannot be read or written.
    #[error("config file `{path}`: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Production startup validation found errors.
    #[error("startup validation failed: {0}")]
    Validation(String),
    /// Development mode: the secrets file does not exist and this command may not create
    /// one (its new keys would not be the running server's).
    #[error(
        "development mode: the secrets file `{0}` does not exist and this command does not create one (new keys would not be the running server's): start the server once with `scripts/run`, then `eval \"$(scripts/run --env)\"`; or set BREEZE_DEV_SECRETS_FILE to the server's file; or configure BREEZE_JWT_KEY_<id>, BREEZE_ENCRYPTION_KEY_<id>, BREEZE_MFA_ENCRYPTION_KEY, BREEZE_PEPPER and BREEZE_AUDIT_SIGNING_KEY_<id>"
    )]
    NoDevSecrets(String),
    /// Several settings are missing or malformed (each is named, in order).
    #[error("{} configuration errors: {}", .0.len(), join(.0))]
    Several(Vec<ConfigError>),
}

fn join(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigError {
    /// One error for a non-empty list: the error itself when alone, else
    /// [`ConfigError::Several`].
    #[must_use]
    pub fn from_list(mut errors: Vec<Self>) -> Self {
        if errors.len() == 1
            && let Some(only) = errors.pop()
        {
            return only;
        }
        Self::Several(errors)
    }

    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_setting",
            Self::Missing(_) => "missing_setting",
            Self::File { .. } => "config_file",
            Self::Validation(_) => "validation_failed",
            Self::NoDevSecrets(_) => "dev_secrets_missing",
            Self::Several(_) => "several_errors",
        }
    }

    /// The errors this one stands for: itself, or each of [`ConfigError::Several`].
    #[must_use]
    pub fn flatten(self) -> Vec<Self> {
        match self {
            Self::Several(list) => list.into_iter().flat_map(Self::flatten).collect(),
            other => vec![other],
        }
    }
}

/// Development mode's secrets file: `BREEZE_DEV_SECRETS_FILE`, else `dev-secrets.env` in
/// `BREEZE_RUN_DIR`, else in `$HOME/.cache/breeze-run` (the state directory of
/// `scripts/run`), never a path relative to the working directory.
///
/// # Errors
/// [`ConfigError::Missing`] naming `BREEZE_DEV_SECRETS_FILE` when none of them is set.
pub fn dev_secrets_file(settings: &Settings) -> Result<PathBuf, ConfigError> {
    if let Some(file) = settings.get("BREEZE_DEV_SECRETS_FILE") {
        return Ok(PathBuf::from(file));
    }
    if let Some(dir) = settings.get("BREEZE_RUN_DIR") {
        return Ok(Path::new(dir).join(DEV_SECRETS_FILE_NAME));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(Path::new(&home)
            .join(DEFAULT_RUN_DIR_UNDER_HOME)
            .join(DEV_SECRETS_FILE_NAME)),
        None => Err(ConfigError::Missing(
            "BREEZE_DEV_SECRETS_FILE (or BREEZE_RUN_DIR, or HOME)".into(),
        )),
    }
}

/// Collects the errors of the configuration steps so every one is reported.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    fn take<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.extend(e.flatten());
                None
            }
        }
    }

    fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }
}

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Production: validation errors refuse startup; secrets must be configured.
    Production,
    /// Development: missing secrets are generated into a 0600 file.
    Development,
    /// Tests: like development, but secrets come from the caller and the login floor may be 0.
    Test,
}

impl Mode {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value {
            "production" => Ok(Self::Production),
            "development" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            _ => Err(ConfigError::Invalid {
                name: "BREEZE_MODE".into(),
                reason: "expected `production`, `development` or `test`".into(),
            }),
        }
    }

    /// The setting's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Development => "development",
            Self::Test => "test",
        }
    }

    /// The validation environment.
    #[must_use]
    pub const fn environment(self) -> Environment {
        match self {
            Self::Production => Environment::Production,
            Self::Development => Environment::Development,
            Self::Test => Environment::Test,
        }
    }
}

/// A keyed secret (`kid`, value).
#[derive(Clone)]
pub struct KeyedSecret {
    /// Key id.
    pub id: String,
    /// The secret.
    pub value: SecretString,
}

impl fmt::Debug for KeyedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyedSecret({}, [REDACTED])", self.id)
    }
}

/// The server configuration. `Debug` never prints a secret.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Mode.
    pub mode: Mode,
    /// Listen address.
    pub listen: SocketAddr,
    /// PostgreSQL URL of the runtime role (NOSUPERUSER, NOBYPASSRLS, owns nothing).
    pub database_url: SecretString,
    /// PostgreSQL URL of the owner role (migrations).
    pub database_owner_url: Option<SecretString>,
    /// PostgreSQL URL of the maintenance role (audit retention).
    pub database_maint_url: Option<SecretString>,
    /// Connections in the runtime pool.
    pub database_max_connections: u32,
    /// Redis URL: when set, rate limits, revocation and fan-out go through Redis and fail
    /// closed when it is unreachable.
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key (several deployments or tests may share one Redis).
    pub redis_prefix: String,
    /// JWT key ring.
    pub jwt_keys: Vec<KeyedSecret>,
    /// Active JWT kid.
    pub jwt_active_kid: String,
    /// Legacy JWT secret for tokens without `kid`.
    pub jwt_legacy_secret: Option<SecretString>,
    /// At-rest encryption keys.
    pub encryption_keys: Vec<KeyedSecret>,
    /// Active encryption key id.
    pub encryption_active_key_id: String,
    /// MFA encryption key.
    pub mfa_encryption_key: SecretString,
    /// Pepper for enrollment keys and recovery codes.
    pub pepper: SecretString,
    /// Global enrollment secret (SPEC 8.1), if any.
    pub enrollment_secret: Option<SecretString>,
    /// Audit checkpoint signing keys (Ed25519 seeds, hex).
    pub audit_signing_keys: Vec<KeyedSecret>,
    /// Active audit signing kid.
    pub audit_active_signing_kid: String,
    /// Bearer token for `/metrics`.
    pub metrics_token: Option<SecretString>,
    /// Allowed CORS origins.
    pub cors_origins: Vec<String>,
    /// Proxy CIDRs whose forwarded headers are trusted.
    pub trusted_proxies: Vec<String>,
    /// Login response floor in milliseconds (0 only in test mode).
    pub login_floor_ms: u64,
    /// Password hashes computed at once (each takes 64 MiB).
    pub max_concurrent_hashes: usize,
    /// Seconds between audit checkpoint runs (0 = off).
    pub audit_checkpoint_interval_secs: u64,
    /// Seconds between audit retention runs (0 = off).
    pub audit_retention_interval_secs: u64,
    /// The shortest audit retention, in days, anyone may set and the retention job ever
    /// applies (`BREEZE_AUDIT_RETENTION_FLOOR_DAYS`, default 90, 1 to 36500): an
    /// organization's shorter stored retention is treated as this floor.
    pub audit_retention_floor_days: u32,
    /// Retention of the system chain in days (`BREEZE_SYSTEM_AUDIT_RETENTION_DAYS`, default
    /// 365, at least the floor).
    pub system_audit_retention_days: u32,
    /// Whether the refresh cookie carries `Secure` (true unless development over http).
    pub secure_cookies: bool,
    /// Requests per minute per client IP across all routes (SPEC 7: 300). May be lowered;
    /// only test mode may raise it (`BREEZE_GLOBAL_RATE_LIMIT_PER_MIN`).
    pub global_rate_limit_per_min: u32,
    /// Seconds an agent's authentication row may be reused (SPEC 11; 0 turns the cache
    /// off; at most 600). `BREEZE_AGENT_AUTH_CACHE_SECS`, default 120.
    pub agent_auth_cache_secs: u64,
    /// Seconds without a heartbeat after which an online device is marked offline (audited
    /// `device.offline`). `BREEZE_DEVICE_OFFLINE_SECS`, 90 to 86,400 (test mode: from 1),
    /// default 300.
    pub device_offline_secs: u64,
    /// Seconds a user's resolved permissions may be reused (SPEC 5: at most 300; 0 turns the
    /// cache off). Any role or membership change invalidates at once on every replica.
    /// `BREEZE_PERMISSION_CACHE_SECS`, default 60.
    pub permission_cache_secs: u64,
    /// Requests per minute per client IP on the agent routes (`/api/v1/agents/...`,
    /// `/api/v1/agent-ws/...`), which are exempt from the per-IP user limit: many agents
    /// share one NAT address and each has its own per-agent, per-device+IP and per-org
    /// limits; this cap only bounds unauthenticated traffic (enrollment, bad tokens) from
    /// one address. `BREEZE_AGENT_IP_RATE_LIMIT_PER_MIN`, default 20,000.
    pub agent_ip_rate_limit_per_min: u32,
    /// Seconds between pings of an agent WebSocket, which is also when each socket is
    /// re-authenticated (SPEC 8.6: 30). Only test mode may lower it
    /// (`BREEZE_AGENT_WS_PING_SECS`).
    pub agent_ws_ping_secs: u64,
    /// Remote sessions and file operations (SPEC 12).
    pub remote: RemoteConfig,
    /// Outbound webhook delivery (SPEC 13).
    pub webhooks: WebhookConfig,
    /// The MCP endpoint (SPEC 14).
    pub mcp: McpConfig,
    /// SSO with OpenID Connect (SPEC 16).
    pub sso: SsoConfig,
    /// HTTPS served by the server itself (`BREEZE_TLS_CERT_FILE` + `BREEZE_TLS_KEY_FILE`);
    /// `None`: plain HTTP, for a TLS reverse proxy listed in `BREEZE_TRUSTED_PROXIES` (or
    /// development on loopback).
    pub tls: Option<TlsFiles>,
    /// A secret roll in progress (`secrets rotate`): staged and previous values.
    pub rotation: RotationConfig,
}

/// Default of [`ServerConfig::audit_retention_floor_days`].
pub const DEFAULT_AUDIT_RETENTION_FLOOR_DAYS: u32 = 90;
/// Default of [`ServerConfig::system_audit_retention_days`] (SPEC 6.1: 365 days).
pub const DEFAULT_SYSTEM_AUDIT_RETENTION_DAYS: u32 = 365;
/// The longest retention the schema allows (`organizations.retention_days`).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// The SPEC 7 per-IP limit of every route, per minute.
pub const GLOBAL_RATE_LIMIT_PER_MIN: u32 = 300;
/// Default per-IP cap of the agent routes (`BREEZE_AGENT_IP_RATE_LIMIT_PER_MIN`).
pub const AGENT_IP_RATE_LIMIT_PER_MIN: u32 = 20_000;
/// Seconds between agent WebSocket pings (SPEC 8.6).
pub const AGENT_WS_PING_SECS: u64 = 30;

impl ServerConfig {
    /// Loads from the environment and an optional file (`path`, else `BREEZE_CONFIG_FILE`).
    ///
    /// # Errors
    /// [`ConfigError`] for a missing or malformed setting.
    pub fn from_env_and_file(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(path, DevSecrets::Generate)
    }

    /// Loads from the environment and an optional file (`path`, else `BREEZE_CONFIG_FILE`);
    /// in development mode `dev` says whether a missing secrets file may be generated.
    ///
    /// # Errors
    /// [`ConfigError`] for a missing or malformed setting (every one, see
    /// [`ConfigError::Several`]).
    pub fn load(path: Option<&Path>, dev: DevSecrets) -> Result<Self, ConfigError> {
        let mut settings = Settings::load_env_and_file(path)?;
        Self::build(&mut settings, dev).map_err(ConfigError::from_list)
    }

    /// Builds the configuration from raw settings.
    ///
    /// # Errors
    /// [`ConfigError`] for a missing or malformed setting; [`ConfigError::Several`] when
    /// more than one is wrong (each is named).
    pub fn from_settings(settings: Settings) -> Result<Self, ConfigError> {
        Self::from_settings_all(settings).map_err(ConfigError::from_list)
    }

    /// Builds the configuration from raw settings, collecting every missing or malformed
    /// setting instead of stopping at the first (`config check` lists them all). Only a
    /// missing or unknown `BREEZE_MODE` stops at once: the other rules depend on it.
    ///
    /// # Errors
    /// Every [`ConfigError`] found (at least one).
    pub fn from_settings_all(mut settings: Settings) -> Result<Self, Vec<ConfigError>> {
        Self::build(&mut settings, DevSecrets::Generate)
    }

    /// [`Self::from_settings_all`] on settings the caller keeps (development mode merges
    /// its generated secrets into them).
    pub(crate) fn build(
        settings: &mut Settings,
        dev: DevSecrets,
    ) -> Result<Self, Vec<ConfigError>> {
        // No default: an unset mode once meant development (generated secrets, warnings
        // instead of errors, enrollment without a secret, cookies without Secure).
        let mode = settings
            .get("BREEZE_MODE")
            .ok_or_else(|| ConfigError::Invalid {
                name: "BREEZE_MODE".into(),
                reason: "is required: set it to `production`, `development` or `test`".into(),
            })
            .and_then(Mode::parse)
            .map_err(|e| vec![e])?;
        if mode == Mode::Development {
            // named up front, before any secrets file is written
            if settings.get("DATABASE_URL").is_none() {
                return Err(vec![ConfigError::Missing("DATABASE_URL".into())]);
            }
            let path = dev_secrets_file(settings).map_err(|e| vec![e])?;
            ensure_dev_secrets(settings, &path, dev).map_err(|e| vec![e])?;
        }
        let settings: &Settings = settings;
        let mut p = Problems::default();
        let invalid = |name: &str, reason: &str| ConfigError::Invalid {
            name: name.into(),
            reason: reason.into(),
        };
        let jwt_keys = settings.keyed("BREEZE_JWT_KEY_");
        let jwt_active_kid = p.take(active_id(
            settings,
            "BREEZE_JWT_ACTIVE_KID",
            &jwt_keys,
            "BREEZE_JWT_KEY_",
        ));
        let encryption_keys = settings.keyed("BREEZE_ENCRYPTION_KEY_");
        let encryption_active_key_id = p.take(active_id(
            settings,
            "BREEZE_ENCRYPTION_ACTIVE_KEY_ID",
            &encryption_keys,
            "BREEZE_ENCRYPTION_KEY_",
        ));
        let rotation = match RotationConfig::from_settings(settings, &jwt_keys, &encryption_keys) {
            Ok(r) => Some(r),
            Err(errors) => {
                p.0.extend(errors);
                None
            }
        };
        let audit_signing_keys = settings.keyed("BREEZE_AUDIT_SIGNING_KEY_");
        let audit_active_signing_kid = p.take(active_id(
            settings,
            "BREEZE_AUDIT_ACTIVE_SIGNING_KID",
            &audit_signing_keys,
            "BREEZE_AUDIT_SIGNING_KEY_",
        ));
        let login_floor_ms =
            p.take(settings.parsed("BREEZE_LOGIN_FLOOR_MS", DEFAULT_LOGIN_FLOOR_MS));
        if login_floor_ms == Some(0) && mode != Mode::Test {
            p.push(invalid(
                "BREEZE_LOGIN_FLOOR_MS",
                "0 is allowed only in test mode",
            ));
        }
        let global_rate_limit_per_min = p.take(settings.parsed(
            "BREEZE_GLOBAL_RATE_LIMIT_PER_MIN",
            GLOBAL_RATE_LIMIT_PER_MIN,
        ));
        if let Some(limit) = global_rate_limit_per_min
            && (limit == 0 || (limit > GLOBAL_RATE_LIMIT_PER_MIN && mode != Mode::Test))
        {
            p.push(invalid(
                "BREEZE_GLOBAL_RATE_LIMIT_PER_MIN",
                "expected 1 to 300 (only test mode may raise it)",
            ));
        }
        let device_offline_secs = p.take(settings.parsed("BREEZE_DEVICE_OFFLINE_SECS", 300u64));
        let offline_floor = if mode == Mode::Test { 1 } else { 90 };
        if let Some(secs) = device_offline_secs
            && !(offline_floor..=86_400).contains(&secs)
        {
            p.push(invalid(
                "BREEZE_DEVICE_OFFLINE_SECS",
                "expected 90 to 86400 (test mode: from 1)",
            ));
        }
        let agent_auth_cache_secs = p.take(settings.parsed("BREEZE_AGENT_AUTH_CACHE_SECS", 120u64));
        if agent_auth_cache_secs.is_some_and(|s| s > 600) {
            p.push(invalid(
                "BREEZE_AGENT_AUTH_CACHE_SECS",
                "expected 0 (off) to 600",
            ));
        }
        let permission_cache_secs = p.take(settings.parsed("BREEZE_PERMISSION_CACHE_SECS", 60u64));
        if permission_cache_secs.is_some_and(|s| s > 300) {
            p.push(invalid(
                "BREEZE_PERMISSION_CACHE_SECS",
                "expected 0 (off) to 300",
            ));
        }
        let agent_ip_rate_limit_per_min = p.take(settings.parsed(
            "BREEZE_AGENT_IP_RATE_LIMIT_PER_MIN",
            AGENT_IP_RATE_LIMIT_PER_MIN,
        ));
        if agent_ip_rate_limit_per_min
            .is_some_and(|l| !(1..=breeze_core::ratelimit::MAX_LIMIT).contains(&l))
        {
            p.push(invalid(
                "BREEZE_AGENT_IP_RATE_LIMIT_PER_MIN",
                "expected 1 to 1000000",
            ));
        }
        let agent_ws_ping_secs =
            p.take(settings.parsed("BREEZE_AGENT_WS_PING_SECS", AGENT_WS_PING_SECS));
        if agent_ws_ping_secs.is_some_and(|s| {
            s == 0 || s > AGENT_WS_PING_SECS || (s != AGENT_WS_PING_SECS && mode != Mode::Test)
        }) {
            p.push(invalid(
                "BREEZE_AGENT_WS_PING_SECS",
                "expected 30 (only test mode may lower it, to 1 at least)",
            ));
        }
        let remote = p.take(RemoteConfig::from_settings(settings, mode));
        let webhooks = p.take(WebhookConfig::from_settings(settings, mode));
        let mcp = p.take(McpConfig::from_settings(settings));
        let sso = p.take(SsoConfig::from_settings(settings, mode));
        let tls = p.take(TlsFiles::from_settings(settings)).flatten();
        let audit_retention_floor_days = p.take(settings.parsed(
            "BREEZE_AUDIT_RETENTION_FLOOR_DAYS",
            DEFAULT_AUDIT_RETENTION_FLOOR_DAYS,
        ));
        if audit_retention_floor_days.is_some_and(|d| !(1..=MAX_RETENTION_DAYS).contains(&d)) {
            p.push(invalid(
                "BREEZE_AUDIT_RETENTION_FLOOR_DAYS",
                "expected 1 to 36500 days",
            ));
        }
        let floor = audit_retention_floor_days.unwrap_or(DEFAULT_AUDIT_RETENTION_FLOOR_DAYS);
        let system_audit_retention_days = p.take(settings.parsed(
            "BREEZE_SYSTEM_AUDIT_RETENTION_DAYS",
            DEFAULT_SYSTEM_AUDIT_RETENTION_DAYS.max(floor),
        ));
        if system_audit_retention_days.is_some_and(|d| !(floor..=MAX_RETENTION_DAYS).contains(&d)) {
            p.push(invalid(
                "BREEZE_SYSTEM_AUDIT_RETENTION_DAYS",
                "expected the retention floor to 36500 days",
            ));
        }
        let listen = p.take(
            DEFAULT_LISTEN
                .parse()
                .map_err(|_| ConfigError::Missing("BREEZE_LISTEN".into()))
                .and_then(|default| settings.parsed("BREEZE_LISTEN", default)),
        );
        let database_url = p.take(required(settings, "DATABASE_URL"));
        let database_max_connections = p.take(settings.parsed("DATABASE_MAX_CONNECTIONS", 20));
        let mfa_encryption_key = p.take(required(settings, "BREEZE_MFA_ENCRYPTION_KEY"));
        let pepper = p.take(required(settings, "BREEZE_PEPPER"));
        let max_concurrent_hashes = p.take(settings.parsed("BREEZE_MAX_CONCURRENT_HASHES", 4));
        let audit_checkpoint_interval_secs =
            p.take(settings.parsed("BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS", 3600));
        let audit_retention_interval_secs =
            p.take(settings.parsed("BREEZE_AUDIT_RETENTION_INTERVAL_SECS", 86_400));
        let secure_cookies =
            p.take(settings.parsed("BREEZE_SECURE_COOKIES", mode == Mode::Production));
        let (
            Some(jwt_active_kid),
            Some(encryption_active_key_id),
            Some(audit_active_signing_kid),
            Some(login_floor_ms),
            Some(global_rate_limit_per_min),
            Some(device_offline_secs),
            Some(agent_auth_cache_secs),
            Some(permission_cache_secs),
            Some(agent_ip_rate_limit_per_min),
            Some(agent_ws_ping_secs),
            Some(remote),
            Some(webhooks),
            Some(mcp),
            Some(sso),
            Some(audit_retention_floor_days),
            Some(system_audit_retention_days),
            Some(listen),
            Some(database_url),
            Some(database_max_connections),
            Some(mfa_encryption_key),
            Some(pepper),
            Some(max_concurrent_hashes),
            Some(audit_checkpoint_interval_secs),
            Some(audit_retention_interval_secs),
            Some(secure_cookies),
            Some(rotation),
        ) = (
            jwt_active_kid,
            encryption_active_key_id,
            audit_active_signing_kid,
            login_floor_ms,
            global_rate_limit_per_min,
            device_offline_secs,
            agent_auth_cache_secs,
            permission_cache_secs,
            agent_ip_rate_limit_per_min,
            agent_ws_ping_secs,
            remote,
            webhooks,
            mcp,
            sso,
            audit_retention_floor_days,
            system_audit_retention_days,
            listen,
            database_url,
            database_max_connections,
            mfa_encryption_key,
            pepper,
            max_concurrent_hashes,
            audit_checkpoint_interval_secs,
            audit_retention_interval_secs,
            secure_cookies,
            rotation,
        )
        else {
            return Err(p.0);
        };
        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(Self {
            mode,
            listen,
            database_url,
            database_owner_url: settings.secret("DATABASE_OWNER_URL"),
            database_maint_url: settings.secret("DATABASE_MAINT_URL"),
            database_max_connections,
            redis_url: settings.secret("REDIS_URL"),
            redis_prefix: settings
                .get("BREEZE_REDIS_PREFIX")
                .unwrap_or("breeze:")
                .to_owned(),
            jwt_keys,
            jwt_active_kid,
            jwt_legacy_secret: settings.secret("BREEZE_JWT_LEGACY_SECRET"),
            encryption_keys,
            encryption_active_key_id,
            mfa_encryption_key,
            pepper,
            enrollment_secret: settings.secret("BREEZE_ENROLLMENT_SECRET"),
            audit_signing_keys,
            audit_active_signing_kid,
            metrics_token: settings.secret("BREEZE_METRICS_TOKEN"),
            cors_origins: settings.list("BREEZE_CORS_ORIGINS"),
            trusted_proxies: settings.list("BREEZE_TRUSTED_PROXIES"),
            login_floor_ms,
            max_concurrent_hashes,
            audit_checkpoint_interval_secs,
            audit_retention_interval_secs,
            audit_retention_floor_days,
            system_audit_retention_days,
            secure_cookies,
            global_rate_limit_per_min,
            agent_auth_cache_secs,
            device_offline_secs,
            permission_cache_secs,
            agent_ip_rate_limit_per_min,
            agent_ws_ping_secs,
            remote,
            webhooks,
            mcp,
            sso,
            tls,
            rotation,
        })
    }

    /// The security settings as the startup validation sees them.
    #[must_use]
    pub fn security_config(&self) -> SecurityConfig {
        let named = |keys: &[KeyedSecret]| {
            keys.iter()
                .map(|k| NamedSecret::new(&k.id, k.value.expose_secret()))
                .collect::<Vec<_>>()
        };
        let mut config = SecurityConfig::new(self.mode.environment());
        config.app_encryption_keys = named(&self.encryption_keys);
        config.active_encryption_key_id = Some(self.encryption_active_key_id.clone());
        config.mfa_encryption_key = Some(self.mfa_encryption_key.clone());
        config.jwt_secrets = named(&self.jwt_keys);
        config.active_jwt_kid = Some(self.jwt_active_kid.clone());
        config.jwt_legacy_secret = self.jwt_legacy_secret.clone();
        config.peppers = vec![NamedSecret::new("pepper", self.pepper.expose_secret())];
        config
            .peppers
            .extend(rotation::to_named(&self.rotation.peppers));
        config.metrics_tokens_accepted = rotation::to_named(&self.rotation.metrics_tokens);
        config.cors_origins = self.cors_origins.clone();
        config.trusted_proxies = self.trusted_proxies.clone();
        config.redis_url = self.redis_url.clone();
        config.metrics_token = self.metrics_token.clone();
        config
    }

    /// Runs the startup validation. In production any error refuses startup; elsewhere
    /// errors and warnings are logged.
    ///
    /// # Errors
    /// [`ConfigError::Validation`] listing the errors (names and rules, never values).
    pub fn validate(&self) -> Result<breeze_core::config::ConfigReport, ConfigError> {
        let report = breeze_core::config::validate(&self.security_config());
        if self.mode == Mode::Production && !report.is_ok() {
            let list = report
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ConfigError::Validation(list));
        }
        Ok(report)
    }
}
