//! `breeze-server config check`: every error and warning of a configuration in one run.
//!
//! The settings are loaded collecting every missing or malformed one
//! ([`ServerConfig::from_settings_all`]), then the startup validation
//! ([`breeze_core::config::validate`]) runs on the security settings present, so a
//! production configuration lacking three secrets and carrying a placeholder lists all four
//! findings at once. A validation finding about a secret already reported missing or
//! malformed is not repeated. Nothing is written: in development mode a missing secrets file
//! is reported, not generated.

use std::path::Path;

use breeze_core::config::{NamedSecret, SecurityConfig};
use secrecy::ExposeSecret;

use super::settings::Settings;
use super::{ConfigError, DevSecrets, Mode, ServerConfig};

/// The findings of a check: lines naming the setting and the rule, never a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Errors: the configuration cannot be used (in production, `serve` refuses it).
    pub errors: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl CheckReport {
    /// Whether there is no error.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The validation field family a setting belongs to (`jwt_secrets`, ...), if any.
fn family_of_setting(name: &str) -> Option<&'static str> {
    [
        ("BREEZE_JWT_", "jwt_secrets"),
        ("BREEZE_ENCRYPTION_", "app_encryption_keys"),
        ("BREEZE_MFA_ENCRYPTION_KEY", "mfa_encryption_key"),
        ("BREEZE_PEPPER", "peppers"),
        ("BREEZE_METRICS_TOKEN", "metrics_token"),
        ("BREEZE_CORS_ORIGINS", "cors_origins"),
        ("BREEZE_TRUSTED_PROXIES", "trusted_proxies"),
    ]
    .into_iter()
    .find_map(|(prefix, family)| name.starts_with(prefix).then_some(family))
}

/// The families a load error already reports (every secret family for a missing
/// development secrets file).
fn families_of(error: &ConfigError) -> Vec<&'static str> {
    match error {
        ConfigError::Missing(name) | ConfigError::Invalid { name, .. } => {
            family_of_setting(name).into_iter().collect()
        }
        ConfigError::NoDevSecrets(_) => vec![
            "jwt_secrets",
            "app_encryption_keys",
            "mfa_encryption_key",
            "peppers",
            "metrics_token",
        ],
        ConfigError::Several(list) => list.iter().flat_map(families_of).collect(),
        ConfigError::File { .. } | ConfigError::Validation(_) => Vec::new(),
    }
}

/// The family of a validation field: `jwt_secrets.k1` -> `jwt_secrets`.
fn family_of_field(field: &str) -> &str {
    field.split(['.', '[']).next().unwrap_or(field)
}

/// The security settings as present in `settings` (nothing required), for validating a
/// configuration that did not load.
fn security_of(settings: &Settings, mode: Mode) -> SecurityConfig {
    let named = |prefix: &str| {
        settings
            .keyed(prefix)
            .iter()
            .map(|k| NamedSecret::new(&k.id, k.value.expose_secret()))
            .collect::<Vec<_>>()
    };
    let mut config = SecurityConfig::new(mode.environment());
    config.app_encryption_keys = named("BREEZE_ENCRYPTION_KEY_");
    config.active_encryption_key_id = settings
        .get("BREEZE_ENCRYPTION_ACTIVE_KEY_ID")
        .map(str::to_owned);
    config.mfa_encryption_key = settings.secret("BREEZE_MFA_ENCRYPTION_KEY");
    config.jwt_secrets = named("BREEZE_JWT_KEY_");
    config.active_jwt_kid = settings.get("BREEZE_JWT_ACTIVE_KID").map(str::to_owned);
    config.jwt_legacy_secret = settings.secret("BREEZE_JWT_LEGACY_SECRET");
    config.peppers = settings
        .get("BREEZE_PEPPER")
        .map(|p| vec![NamedSecret::new("pepper", p)])
        .unwrap_or_default();
    config.peppers.extend(super::rotation::named(
        settings,
        breeze_core::config::rotation::PEPPER_VARS,
    ));
    config.metrics_tokens_accepted =
        super::rotation::named(settings, breeze_core::config::rotation::METRICS_TOKEN_VARS);
    config.cors_origins = settings.list("BREEZE_CORS_ORIGINS");
    config.trusted_proxies = settings.list("BREEZE_TRUSTED_PROXIES");
    config.redis_url = settings.secret("REDIS_URL");
    config.metrics_token = settings.secret("BREEZE_METRICS_TOKEN");
    config
}

/// Checks the configuration of the environment and `path` (else `BREEZE_CONFIG_FILE`):
/// every missing or malformed setting and every finding of the startup validation.
///
/// # Errors
/// [`ConfigError::File`] when the configuration file cannot be read (nothing else can be
/// checked then).
pub fn check(path: Option<&Path>) -> Result<CheckReport, ConfigError> {
    let mut settings = Settings::load_env_and_file(path)?;
    Ok(check_settings(&mut settings))
}

/// [`check`] on raw settings.
#[must_use]
pub fn check_settings(settings: &mut Settings) -> CheckReport {
    let mut report = CheckReport::default();
    let (security, covered) = match ServerConfig::build(settings, DevSecrets::ExistingOnly) {
        Ok(config) => (Some(config.security_config()), Vec::new()),
        Err(errors) => {
            let covered: Vec<&'static str> = errors.iter().flat_map(families_of).collect();
            report.errors.extend(errors.iter().map(ToString::to_string));
            // without a mode the rules to apply are unknown: that error is the only one
            let mode = settings
                .get("BREEZE_MODE")
                .and_then(|m| Mode::parse(m).ok());
            (mode.map(|m| security_of(settings, m)), covered)
        }
    };
    if let Some(security) = security {
        let validation = breeze_core::config::validate(&security);
        let fresh = |issue: &&breeze_core::config::ConfigIssue| {
            !covered.contains(&family_of_field(&issue.field))
        };
        report.errors.extend(
            validation
                .errors
                .iter()
                .filter(fresh)
                .map(ToString::to_string),
        );
        report.warnings.extend(
            validation
                .warnings
                .iter()
                .filter(fresh)
                .map(ToString::to_string),
        );
    }
    report
}
