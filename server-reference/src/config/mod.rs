//! Server configuration: environment variables over an optional `KEY=VALUE` file.
//!
//! Every setting is an environment variable; `BREEZE_CONFIG_FILE` (or `--config`) names an
//! optional file of `KEY=VALUE` lines (`#` comments) read first, so the environment wins.
//! Keyed secrets use one variable per key id: `BREEZE_JWT_KEY_<kid>`,
//! `BREEZE_ENCRYPTION_KEY_<id>`, `BREEZE_AUDIT_SIGNING_KEY_<kid>` (Ed25519 seed, 64 hex).
//!
//! `BREEZE_MODE` (`production`, `development` or `test`) is required: there is no default.
//! `development` mode generates any missing secret on first run into a 0600 file
//! (`BREEZE_DEV_SECRETS_FILE`, default `.breeze/dev-secrets.env`) and reuses it afterwards;
//! it never falls back to a built-in default. `production` mode refuses to start on any
//! error of the startup validation ([`breeze_core::config::validate`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use breeze_core::config::{Environment, NamedSecret, SecurityConfig};
use secrecy::{ExposeSecret, SecretString};

mod mcp;
mod remote;
mod settings;
mod webhooks;

pub use mcp::McpConfig;
pub use remote::RemoteConfig;
pub use webhooks::WebhookConfig;

pub use settings::Settings;
use settings::{active_id, ensure_dev_secrets, required};

/// The file development mode writes generated secrets to, unless configured.
pub const DEFAULT_DEV_SECRETS_FILE: &str = ".breeze/dev-secrets.env";
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
        let env_path = std::env::var_os("BREEZE_CONFIG_FILE").map(PathBuf::from);
        let settings = Settings::load(path.or(env_path.as_deref()))?;
        Self::from_settings(settings)
    }

    /// Builds the configuration from raw settings.
    ///
    /// # Errors
    /// [`ConfigError`] for a missing or malformed setting.
    pub fn from_settings(mut settings: Settings) -> Result<Self, ConfigError> {
        // No default: an unset mode once meant development (generated secrets, warnings
        // instead of errors, enrollment without a secret, cookies without Secure).
        let mode =
            Mode::parse(
                settings
                    .get("BREEZE_MODE")
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "BREEZE_MODE".into(),
                        reason: "is required: set it to `production`, `development` or `test`"
                            .into(),
                    })?,
            )?;
        if mode == Mode::Development {
            let path = PathBuf::from(
                settings
                    .get("BREEZE_DEV_SECRETS_FILE")
                    .unwrap_or(DEFAULT_DEV_SECRETS_FILE),
            );
            ensure_dev_secrets(&mut settings, &path)?;
        }
        let jwt_keys = settings.keyed("BREEZE_JWT_KEY_");
        let jwt_active_kid = active_id(
            &settings,
            "BREEZE_JWT_ACTIVE_KID",
            &jwt_keys,
            "BREEZE_JWT_KEY_",
        )?;
        let encryption_keys = settings.keyed("BREEZE_ENCRYPTION_KEY_");
        let encryption_active_key_id = active_id(
            &settings,
            "BREEZE_ENCRYPTION_ACTIVE_KEY_ID",
            &encryption_keys,
            "BREEZE_ENCRYPTION_KEY_",
        )?;
        let audit_signing_keys = settings.keyed("BREEZE_AUDIT_SIGNING_KEY_");
        let audit_active_signing_kid = active_id(
            &settings,
            "BREEZE_AUDIT_ACTIVE_SIGNING_KID",
            &audit_signing_keys,
            "BREEZE_AUDIT_SIGNING_KEY_",
        )?;
        let login_floor_ms = settings.parsed("BREEZE_LOGIN_FLOOR_MS", DEFAULT_LOGIN_FLOOR_MS)?;
        if login_floor_ms == 0 && mode != Mode::Test {
            return Err(ConfigError::Invalid {
                name: "BREEZE_LOGIN_FLOOR_MS".into(),
                reason: "0 is allowed only in test mode".into(),
            });
        }
        let global_rate_limit_per_min = settings.parsed(
            "BREEZE_GLOBAL_RATE_LIMIT_PER_MIN",
            GLOBAL_RATE_LIMIT_PER_MIN,
        )?;
        if global_rate_limit_per_min == 0
            || (global_rate_limit_per_min > GLOBAL_RATE_LIMIT_PER_MIN && mode != Mode::Test)
        {
            return Err(ConfigError::Invalid {
                name: "BREEZE_GLOBAL_RATE_LIMIT_PER_MIN".into(),
                reason: "expected 1 to 300 (only test mode may raise it)".into(),
            });
        }
        let device_offline_secs = settings.parsed("BREEZE_DEVICE_OFFLINE_SECS", 300u64)?;
        let offline_floor = if mode == Mode::Test { 1 } else { 90 };
        if !(offline_floor..=86_400).contains(&device_offline_secs) {
            return Err(ConfigError::Invalid {
                name: "BREEZE_DEVICE_OFFLINE_SECS".into(),
                reason: "expected 90 to 86400 (test mode: from 1)".into(),
            });
        }
        let agent_auth_cache_secs = settings.parsed("BREEZE_AGENT_AUTH_CACHE_SECS", 120u64)?;
        if agent_auth_cache_secs > 600 {
            return Err(ConfigError::Invalid {
                name: "BREEZE_AGENT_AUTH_CACHE_SECS".into(),
                reason: "expected 0 (off) to 600".into(),
            });
        }
        let permission_cache_secs = settings.parsed("BREEZE_PERMISSION_CACHE_SECS", 60u64)?;
        if permission_cache_secs > 300 {
            return Err(ConfigError::Invalid {
                name: "BREEZE_PERMISSION_CACHE_SECS".into(),
                reason: "expected 0 (off) to 300".into(),
            });
        }
        let agent_ip_rate_limit_per_min = settings.parsed(
            "BREEZE_AGENT_IP_RATE_LIMIT_PER_MIN",
            AGENT_IP_RATE_LIMIT_PER_MIN,
        )?;
        if !(1..=breeze_core::ratelimit::MAX_LIMIT).contains(&agent_ip_rate_limit_per_min) {
            return Err(ConfigError::Invalid {
                name: "BREEZE_AGENT_IP_RATE_LIMIT_PER_MIN".into(),
                reason: "expected 1 to 1000000".into(),
            });
        }
        let agent_ws_ping_secs =
            settings.parsed("BREEZE_AGENT_WS_PING_SECS", AGENT_WS_PING_SECS)?;
        if agent_ws_ping_secs == 0
            || agent_ws_ping_secs > AGENT_WS_PING_SECS
            || (agent_ws_ping_secs != AGENT_WS_PING_SECS && mode != Mode::Test)
        {
            return Err(ConfigError::Invalid {
                name: "BREEZE_AGENT_WS_PING_SECS".into(),
                reason: "expected 30 (only test mode may lower it, to 1 at least)".into(),
            });
        }
        let remote = RemoteConfig::from_settings(&settings, mode)?;
        let webhooks = WebhookConfig::from_settings(&settings, mode)?;
        let mcp = McpConfig::from_settings(&settings)?;
        let audit_retention_floor_days = settings.parsed(
            "BREEZE_AUDIT_RETENTION_FLOOR_DAYS",
            DEFAULT_AUDIT_RETENTION_FLOOR_DAYS,
        )?;
        if !(1..=MAX_RETENTION_DAYS).contains(&audit_retention_floor_days) {
            return Err(ConfigError::Invalid {
                name: "BREEZE_AUDIT_RETENTION_FLOOR_DAYS".into(),
                reason: "expected 1 to 36500 days".into(),
            });
        }
        let system_audit_retention_days = settings.parsed(
            "BREEZE_SYSTEM_AUDIT_RETENTION_DAYS",
            DEFAULT_SYSTEM_AUDIT_RETENTION_DAYS.max(audit_retention_floor_days),
        )?;
        if !(audit_retention_floor_days..=MAX_RETENTION_DAYS).contains(&system_audit_retention_days)
        {
            return Err(ConfigError::Invalid {
                name: "BREEZE_SYSTEM_AUDIT_RETENTION_DAYS".into(),
                reason: "expected the retention floor to 36500 days".into(),
            });
        }
        let listen = settings.parsed(
            "BREEZE_LISTEN",
            DEFAULT_LISTEN
                .parse()
                .map_err(|_| ConfigError::Missing("BREEZE_LISTEN".into()))?,
        )?;
        Ok(Self {
            mode,
            listen,
            database_url: required(&settings, "DATABASE_URL")?,
            database_owner_url: settings.secret("DATABASE_OWNER_URL"),
            database_maint_url: settings.secret("DATABASE_MAINT_URL"),
            database_max_connections: settings.parsed("DATABASE_MAX_CONNECTIONS", 20)?,
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
            mfa_encryption_key: required(&settings, "BREEZE_MFA_ENCRYPTION_KEY")?,
            pepper: required(&settings, "BREEZE_PEPPER")?,
            enrollment_secret: settings.secret("BREEZE_ENROLLMENT_SECRET"),
            audit_signing_keys,
            audit_active_signing_kid,
            metrics_token: settings.secret("BREEZE_METRICS_TOKEN"),
            cors_origins: settings.list("BREEZE_CORS_ORIGINS"),
            trusted_proxies: settings.list("BREEZE_TRUSTED_PROXIES"),
            login_floor_ms,
            max_concurrent_hashes: settings.parsed("BREEZE_MAX_CONCURRENT_HASHES", 4)?,
            audit_checkpoint_interval_secs: settings
                .parsed("BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS", 3600)?,
            audit_retention_interval_secs: settings
                .parsed("BREEZE_AUDIT_RETENTION_INTERVAL_SECS", 86_400)?,
            audit_retention_floor_days,
            system_audit_retention_days,
            secure_cookies: settings.parsed("BREEZE_SECURE_COOKIES", mode == Mode::Production)?,
            global_rate_limit_per_min,
            agent_auth_cache_secs,
            device_offline_secs,
            permission_cache_secs,
            agent_ip_rate_limit_per_min,
            agent_ws_ping_secs,
            remote,
            webhooks,
            mcp,
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
