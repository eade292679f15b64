//! MCP endpoint settings (SPEC 14). The per-key session cap (5) and the body cap (64 KiB)
//! are the SPEC's and not configurable.

use super::ConfigError;
use super::settings::Settings;

/// Call limits and session lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    /// Idle seconds after which a session lapses (each request extends it).
    /// `BREEZE_MCP_SESSION_TTL_SECS`, 60 to 86,400, default 3,600.
    pub session_ttl_secs: u32,
    /// Requests per minute one API key may make to the endpoint, across replicas.
    /// `BREEZE_MCP_CALLS_PER_MIN_KEY`, 1 to 100,000, default 120.
    pub calls_per_min_key: u32,
    /// Requests per minute all the keys of one organization may make, across replicas.
    /// `BREEZE_MCP_CALLS_PER_MIN_ORG`, 1 to 1,000,000, default 600.
    pub calls_per_min_org: u32,
}

impl McpConfig {
    pub(super) fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let bounded = |name: &str, default: u32, max: u32| -> Result<u32, ConfigError> {
            let v: u32 = settings.parsed(name, default)?;
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(ConfigError::Invalid {
                    name: name.into(),
                    reason: format!("expected 1 to {max}"),
                })
            }
        };
        let session_ttl_secs = bounded("BREEZE_MCP_SESSION_TTL_SECS", 3_600, 86_400)?;
        if session_ttl_secs < 60 {
            return Err(ConfigError::Invalid {
                name: "BREEZE_MCP_SESSION_TTL_SECS".into(),
                reason: "expected 60 to 86400".into(),
            });
        }
        Ok(Self {
            session_ttl_secs,
            calls_per_min_key: bounded("BREEZE_MCP_CALLS_PER_MIN_KEY", 120, 100_000)?,
            calls_per_min_org: bounded("BREEZE_MCP_CALLS_PER_MIN_ORG", 600, 1_000_000)?,
        })
    }
}
