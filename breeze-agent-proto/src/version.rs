//! Protocol versions and their negotiation.
//!
//! # Compatibility rule
//!
//! * A protocol version is a positive integer. Within one version the wire is frozen: no field
//!   changes meaning, type or limit, and no field is added or removed from any message.
//! * The agent announces the highest version it speaks as `protocolVersion` and, optionally,
//!   the lowest as `minProtocolVersion` (default: the same), in the enrollment request, in every
//!   heartbeat and in the [`PROTOCOL_VERSION_HEADER`] of the WebSocket upgrade. An agent that
//!   announces nothing is a legacy (upstream) agent and speaks version 1.
//! * The server speaks a range `min..=max` ([`SupportedVersions`]). [`negotiate`] picks the
//!   highest version both sides speak: the agent's own version is [`Negotiation::Accept`]ed;
//!   a lower one is an explicit [`Negotiation::Downgrade`] the server states in its response
//!   (`protocolVersion`), after which the agent must speak exactly that version; no common
//!   version is a [`Negotiation::Refuse`] (HTTP 426 with `protocol_version_unsupported`, and
//!   the WebSocket upgrade is refused the same way).
//! * New command types do not need a new version: an agent reports a type it does not know
//!   with a failed result (see [`crate::CommandBody::Unknown`]). Everything else (a new frame,
//!   a new field, a changed limit) does.

use std::fmt;
use std::num::NonZeroU16;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// HTTP header carrying the agent's protocol version on the WebSocket upgrade request
/// (`<max>` or `<min>-<max>`).
pub const PROTOCOL_VERSION_HEADER: &str = "x-breeze-protocol-version";

/// A protocol version (1, 2, ...).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ProtocolVersion(NonZeroU16);

impl ProtocolVersion {
    /// Version 1: the upstream-compatible wire this crate implements.
    pub const V1: Self = Self(NonZeroU16::MIN);
    /// The version this crate speaks.
    pub const CURRENT: Self = Self::V1;
    /// What an agent that announces no version speaks.
    pub const LEGACY: Self = Self::V1;

    /// A version number; `None` for 0.
    #[must_use]
    pub const fn new(number: u16) -> Option<Self> {
        match NonZeroU16::new(number) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// The version number.
    #[must_use]
    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What an agent announced: the versions it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentVersions {
    /// Lowest version the agent speaks.
    pub min: ProtocolVersion,
    /// Highest version the agent speaks.
    pub max: ProtocolVersion,
}

impl AgentVersions {
    /// From the optional `protocolVersion` / `minProtocolVersion` fields of a request. No
    /// announcement means a legacy agent ([`ProtocolVersion::LEGACY`]).
    #[must_use]
    pub fn announced(max: Option<ProtocolVersion>, min: Option<ProtocolVersion>) -> Self {
        let max = max.unwrap_or(ProtocolVersion::LEGACY);
        Self {
            min: min.unwrap_or(max),
            max,
        }
    }

    /// Parses the [`PROTOCOL_VERSION_HEADER`] value (`3` or `1-3`); an absent header is a
    /// legacy agent.
    ///
    /// # Errors
    /// When the header is present but malformed.
    pub fn from_header(value: Option<&str>) -> Result<Self, VersionHeaderError> {
        let Some(value) = value else {
            return Ok(Self::announced(None, None));
        };
        let parse = |s: &str| {
            let s = s.trim();
            if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionHeaderError);
            }
            s.parse::<u16>()
                .ok()
                .and_then(ProtocolVersion::new)
                .ok_or(VersionHeaderError)
        };
        match value.split_once('-') {
            Some((min, max)) => Ok(Self {
                min: parse(min)?,
                max: parse(max)?,
            }),
            None => {
                let v = parse(value)?;
                Ok(Self { min: v, max: v })
            }
        }
    }

    /// The header value announcing these versions.
    #[must_use]
    pub fn to_header(&self) -> String {
        if self.min == self.max {
            self.max.to_string()
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

/// A malformed [`PROTOCOL_VERSION_HEADER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid protocol version header: expected `<version>` or `<min>-<max>`")]
pub struct VersionHeaderError;

/// The versions a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedVersions {
    /// Lowest version accepted (raise it to retire old agents).
    pub min: ProtocolVersion,
    /// Highest version spoken.
    pub max: ProtocolVersion,
}

impl Default for SupportedVersions {
    fn default() -> Self {
        Self {
            min: ProtocolVersion::V1,
            max: ProtocolVersion::CURRENT,
        }
    }
}

/// The outcome of [`negotiate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiation {
    /// Speak the agent's highest version.
    Accept(ProtocolVersion),
    /// Speak an older version the agent also speaks; the server states it in its response.
    Downgrade {
        /// What the agent asked for (its highest).
        requested: ProtocolVersion,
        /// What both will speak.
        to: ProtocolVersion,
    },
    /// No common version: refuse with `protocol_version_unsupported`.
    Refuse(RefuseReason),
}

impl Negotiation {
    /// The version to speak, unless refused.
    #[must_use]
    pub const fn version(&self) -> Option<ProtocolVersion> {
        match self {
            Self::Accept(v) | Self::Downgrade { to: v, .. } => Some(*v),
            Self::Refuse(_) => None,
        }
    }
}

/// Why [`negotiate`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefuseReason {
    /// The agent's versions are all older than the server accepts.
    #[error("agent protocol {agent_max} is older than the minimum {server_min}")]
    AgentTooOld {
        /// Highest version the agent speaks.
        agent_max: ProtocolVersion,
        /// Lowest version the server accepts.
        server_min: ProtocolVersion,
    },
    /// The agent's versions are all newer than the server speaks.
    #[error("agent protocol {agent_min} is newer than the maximum {server_max}")]
    AgentTooNew {
        /// Lowest version the agent speaks.
        agent_min: ProtocolVersion,
        /// Highest version the server speaks.
        server_max: ProtocolVersion,
    },
    /// A range with its minimum above its maximum (agent announcement or server setting).
    #[error("agent announced an empty version range")]
    InvalidRange,
}

/// Picks the version to speak with an agent (see the module docs for the rule).
#[must_use]
pub fn negotiate(agent: AgentVersions, server: SupportedVersions) -> Negotiation {
    if agent.min > agent.max || server.min > server.max {
        return Negotiation::Refuse(RefuseReason::InvalidRange);
    }
    if agent.max < server.min {
        return Negotiation::Refuse(RefuseReason::AgentTooOld {
            agent_max: agent.max,
            server_min: server.min,
        });
    }
    if agent.min > server.max {
        return Negotiation::Refuse(RefuseReason::AgentTooNew {
            agent_min: agent.min,
            server_max: server.max,
        });
    }
    let chosen = agent.max.min(server.max);
    if chosen == agent.max {
        Negotiation::Accept(chosen)
    } else {
        Negotiation::Downgrade {
            requested: agent.max,
            to: chosen,
        }
    }
}
