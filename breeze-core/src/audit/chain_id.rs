//! Which chain an entry belongs to: one per organization, plus the system chain.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::tenancy::OrgId;

/// A chain id: an organization's chain, or the system chain for events without an org.
/// Renders as the organization's UUID, or `system`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChainId {
    /// The chain of events without an organization.
    System,
    /// The chain of one organization.
    Org(OrgId),
}

/// A chain id string that is neither `system` nor a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid chain id: expected `system` or an organization UUID")]
pub struct ChainIdParseError;

impl ChainId {
    /// Appends the canonical encoding: `00` for the system chain, `01` followed by the 16
    /// bytes of the organization UUID otherwise.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::System => out.push(0),
            Self::Org(org) => {
                out.push(1);
                out.extend_from_slice(org.as_uuid().as_bytes());
            }
        }
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Org(org) => fmt::Display::fmt(org, f),
        }
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({self})")
    }
}

impl FromStr for ChainId {
    type Err = ChainIdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "system" {
            return Ok(Self::System);
        }
        s.parse::<OrgId>()
            .map(Self::Org)
            .map_err(|_| ChainIdParseError)
    }
}

impl From<OrgId> for ChainId {
    fn from(org: OrgId) -> Self {
        Self::Org(org)
    }
}

impl Serialize for ChainId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChainId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::strvisit::parse_str(d, "`system` or an organization UUID")
    }
}
