//! Outbound webhook settings (SPEC 13).

use std::path::PathBuf;

use super::settings::Settings;
use super::{ConfigError, Mode};

/// Delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Deliveries one replica sends at once. `BREEZE_WEBHOOK_CONCURRENCY`, 1 to 256, default 16.
    pub concurrency: usize,
    /// Delay before the second attempt, in milliseconds; each next one is three times longer
    /// (30 s, 90 s, 4.5 min, 13.5 min, 40.5 min: about an hour over 6 attempts).
    /// `BREEZE_WEBHOOK_RETRY_BASE_MS`, default 30,000 (only test mode may go below 1,000).
    pub retry_base_ms: u64,
    /// Seconds one attempt may take (SPEC 13: 10). `BREEZE_WEBHOOK_TIMEOUT_SECS`, 1 to 10.
    pub timeout_secs: u64,
    /// Milliseconds between polls of the outbox when it was empty. `BREEZE_WEBHOOK_POLL_MS`,
    /// 50 to 10,000, default 500.
    pub poll_ms: u64,
    /// DEVELOPMENT ONLY: loopback targets (127.0.0.0/8, ::1) are allowed.
    /// `BREEZE_WEBHOOK_ALLOW_LOOPBACK=1`; refused in production mode.
    pub allow_loopback: bool,
    /// A PEM file of extra root certificates trusted for webhook targets (a private CA) on
    /// top of the Mozilla roots. `BREEZE_WEBHOOK_CA_FILE`.
    pub ca_file: Option<PathBuf>,
    /// TEST ONLY: names resolve through this JSON file (`{"host": ["ip", ...]}`), read at
    /// every lookup, instead of DNS. `BREEZE_WEBHOOK_TEST_HOSTS_FILE`; test mode only.
    pub test_hosts_file: Option<PathBuf>,
    /// Whether this replica runs delivery workers. `BREEZE_WEBHOOK_WORKERS=0` turns them off
    /// (a replica that only serves the API); default on.
    pub workers: bool,
}

impl WebhookConfig {
    pub(super) fn from_settings(settings: &Settings, mode: Mode) -> Result<Self, ConfigError> {
        let test = mode == Mode::Test;
        let invalid = |name: &str, reason: &str| ConfigError::Invalid {
            name: name.into(),
            reason: reason.into(),
        };
        let concurrency: usize = settings.parsed("BREEZE_WEBHOOK_CONCURRENCY", 16)?;
        if !(1..=256).contains(&concurrency) {
            return Err(invalid("BREEZE_WEBHOOK_CONCURRENCY", "expected 1 to 256"));
        }
        let retry_base_ms: u64 = settings.parsed("BREEZE_WEBHOOK_RETRY_BASE_MS", 30_000)?;
        let floor = if test { 1 } else { 1_000 };
        if !(floor..=3_600_000).contains(&retry_base_ms) {
            return Err(invalid(
                "BREEZE_WEBHOOK_RETRY_BASE_MS",
                "expected 1000 to 3600000 (test mode: from 1)",
            ));
        }
        let timeout_secs: u64 = settings.parsed("BREEZE_WEBHOOK_TIMEOUT_SECS", 10)?;
        if !(1..=10).contains(&timeout_secs) {
            return Err(invalid("BREEZE_WEBHOOK_TIMEOUT_SECS", "expected 1 to 10"));
        }
        let poll_ms: u64 = settings.parsed("BREEZE_WEBHOOK_POLL_MS", 500)?;
        if !(50..=10_000).contains(&poll_ms) {
            return Err(invalid("BREEZE_WEBHOOK_POLL_MS", "expected 50 to 10000"));
        }
        let allow_loopback = flag(settings, "BREEZE_WEBHOOK_ALLOW_LOOPBACK")?;
        if allow_loopback && mode == Mode::Production {
            return Err(invalid(
                "BREEZE_WEBHOOK_ALLOW_LOOPBACK",
                "loopback webhook targets are for development only",
            ));
        }
        let test_hosts_file = settings
            .get("BREEZE_WEBHOOK_TEST_HOSTS_FILE")
            .map(PathBuf::from);
        if test_hosts_file.is_some() && !test {
            return Err(invalid(
                "BREEZE_WEBHOOK_TEST_HOSTS_FILE",
                "a test resolver is for test mode only",
            ));
        }
        Ok(Self {
            concurrency,
            retry_base_ms,
            timeout_secs,
            poll_ms,
            allow_loopback,
            ca_file: settings.get("BREEZE_WEBHOOK_CA_FILE").map(PathBuf::from),
            test_hosts_file,
            workers: settings.parsed("BREEZE_WEBHOOK_WORKERS", 1u8)? != 0,
        })
    }
}

fn flag(settings: &Settings, key: &str) -> Result<bool, ConfigError> {
    match settings.get(key) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(_) => Err(ConfigError::Invalid {
            name: key.into(),
            reason: "expected 0 or 1".into(),
        }),
    }
}
