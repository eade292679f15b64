//! Remote session and file operation settings (SPEC 12).

use super::settings::Settings;
use super::{ConfigError, Mode};

/// Remote session limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteConfig {
    /// Seconds without input before a terminal closes (SPEC 12: 15 min).
    /// `BREEZE_REMOTE_IDLE_SECS`, 60 to 14,400 (test mode: from 1).
    pub idle_secs: u64,
    /// Longest a terminal may stay open (SPEC 12: 8 h). `BREEZE_REMOTE_MAX_SECS`, 60 to
    /// 86,400 (test mode: from 1).
    pub max_secs: u64,
    /// Recording cap per session (SPEC 12: 20 MiB). `BREEZE_REMOTE_RECORDING_MAX_BYTES`,
    /// 64 KiB to 256 MiB.
    pub recording_max_bytes: usize,
    /// Seconds between pings and re-checks of a terminal socket (30).
    /// `BREEZE_REMOTE_PING_SECS` (only test mode may lower it).
    pub ping_secs: u64,
    /// Largest file moved by a file operation, decoded (SPEC 12: 4 MiB; may be lowered).
    /// `BREEZE_REMOTE_FILE_MAX_BYTES`.
    pub file_max_bytes: usize,
    /// Seconds a file operation waits for the agent's answer. `BREEZE_REMOTE_FILE_TIMEOUT_SECS`,
    /// 1 to 120, default 30.
    pub file_timeout_secs: u64,
}

/// Default idle timeout.
pub const IDLE_SECS: u64 = 15 * 60;
/// Default maximum duration.
pub const MAX_SECS: u64 = 8 * 3600;
/// Default recording cap.
pub const RECORDING_MAX_BYTES: usize = 20 * 1024 * 1024;
/// Default ping interval.
pub const PING_SECS: u64 = 30;

fn ranged<T: PartialOrd + std::str::FromStr + Copy + std::fmt::Display>(
    settings: &Settings,
    key: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let v = settings.parsed(key, default)?;
    if v < min || v > max {
        return Err(ConfigError::Invalid {
            name: key.into(),
            reason: format!("expected {min} to {max}"),
        });
    }
    Ok(v)
}

impl RemoteConfig {
    pub(super) fn from_settings(settings: &Settings, mode: Mode) -> Result<Self, ConfigError> {
        let test = mode == Mode::Test;
        let floor = if test { 1 } else { 60 };
        let ping_floor = if test { 1 } else { PING_SECS };
        Ok(Self {
            idle_secs: ranged(
                settings,
                "BREEZE_REMOTE_IDLE_SECS",
                IDLE_SECS,
                floor,
                14_400,
            )?,
            max_secs: ranged(settings, "BREEZE_REMOTE_MAX_SECS", MAX_SECS, floor, 86_400)?,
            recording_max_bytes: ranged(
                settings,
                "BREEZE_REMOTE_RECORDING_MAX_BYTES",
                RECORDING_MAX_BYTES,
                64 * 1024,
                256 * 1024 * 1024,
            )?,
            ping_secs: ranged(
                settings,
                "BREEZE_REMOTE_PING_SECS",
                PING_SECS,
                ping_floor,
                PING_SECS,
            )?,
            file_max_bytes: ranged(
                settings,
                "BREEZE_REMOTE_FILE_MAX_BYTES",
                breeze_agent_proto::limits::MAX_FILE_TRANSFER_BYTES,
                1,
                breeze_agent_proto::limits::MAX_FILE_TRANSFER_BYTES,
            )?,
            file_timeout_secs: ranged(settings, "BREEZE_REMOTE_FILE_TIMEOUT_SECS", 30, 1, 120)?,
        })
    }
}
