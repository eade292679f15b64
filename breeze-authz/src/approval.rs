//! The life of an AI approval (SPEC 14): the digest of the exact arguments, four eyes with a
//! fresh second factor, and a single execution within ten minutes.
//!
//! ```text
//!            decide(approved) ──> approved ── execute(same digest, < 10 min) ──> executed
//!  pending ──┤
//!            decide(denied)   ──> denied
//!  pending past 60 min, or approved and not executed within 10 min: expired
//! ```
//!
//! [`Approval::decide`] checks, in order: the request is still pending and not expired; the
//! approver (a user, in scope, holding `approvals:decide`, not the requester: the rules of
//! [`ApprovalRequest::decide`]); then a second factor verified within
//! [`FRESH_FACTOR_WINDOW`] (five minutes) and not in the future. [`Approval::execute`]
//! checks the request was approved, not executed, within [`EXECUTION_WINDOW`] of the
//! decision, and that the arguments presented now have the digest that was approved
//! (constant-time comparison). Each successful step returns the next [`Approval`]; the
//! server stores it with a compare-and-set on the old status, so two replicas cannot both
//! execute.
//!
//! The digest is SHA-256 over [`ARGUMENT_DIGEST_DOMAIN`] then the canonical JSON
//! (`breeze_core::audit::canonical_json`) of `{"arguments": ..., "tool": ...}`: key order
//! and whitespace do not change it; any value does.
//!
//! ```
//! use breeze_authz::approval::ArgumentDigest;
//! use serde_json::json;
//! let a = ArgumentDigest::of("queue_script", &json!({"deviceId": "d", "script": "uname -a"}))?;
//! let b = ArgumentDigest::of("queue_script", &json!({"script": "uname -a", "deviceId": "d"}))?;
//! let c = ArgumentDigest::of("queue_script", &json!({"deviceId": "d", "script": "rm -rf /"}))?;
//! assert!(a.matches(&b) && !a.matches(&c));
//! # Ok::<(), breeze_authz::risk::ApprovalError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use breeze_core::audit::Digest32;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::risk::{ApprovalError, ApprovalRecord, ApprovalRequest, ApprovalVerdict, Approver};

/// How long after approval the approved call may run.
pub const EXECUTION_WINDOW: Duration = Duration::minutes(10);

/// How recent the approver's second factor must be.
pub const FRESH_FACTOR_WINDOW: Duration = Duration::minutes(5);

/// The deepest argument object accepted (a scalar is 0, `{}` is 1).
pub const MAX_ARGUMENT_DEPTH: usize = 16;

/// The largest canonical form accepted, in bytes: the whole `{"arguments": ..., "tool": ...}`
/// object that is digested (so a longer tool name leaves less room for arguments).
pub const MAX_ARGUMENT_BYTES: usize = 32 * 1024;

/// Domain tag prefixed to the canonical JSON before hashing.
pub const ARGUMENT_DIGEST_DOMAIN: &[u8] = b"breeze-approval/v1/arguments\0";

/// The SHA-256 digest of a tool name and its exact arguments. Renders as 64 lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArgumentDigest(Digest32);

impl ArgumentDigest {
    /// The digest of `tool` called with `arguments` (a JSON object).
    ///
    /// # Errors
    /// [`ApprovalError::InvalidArguments`] when `arguments` is not an object, nests deeper
    /// than [`MAX_ARGUMENT_DEPTH`] or exceeds [`MAX_ARGUMENT_BYTES`].
    pub fn of(tool: &str, arguments: &Value) -> Result<Self, ApprovalError> {
        if !arguments.is_object() {
            return Err(ApprovalError::InvalidArguments);
        }
        let whole = serde_json::json!({"arguments": arguments, "tool": tool});
        // the wrapper adds one level
        let canonical = breeze_core::audit::canonical_json(&whole, MAX_ARGUMENT_DEPTH + 1)
            .filter(|c| c.len() <= MAX_ARGUMENT_BYTES)
            .ok_or(ApprovalError::InvalidArguments)?;
        let mut h = Sha256::new();
        h.update(ARGUMENT_DIGEST_DOMAIN);
        h.update(&canonical);
        Ok(Self(Digest32::from_bytes(h.finalize().into())))
    }

    /// Whether two digests are equal, in constant time.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }

    /// Lowercase hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }
}

impl FromStr for ArgumentDigest {
    type Err = ApprovalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ApprovalError::InvalidArguments);
        }
        s.parse::<Digest32>()
            .map(Self)
            .map_err(|_| ApprovalError::InvalidArguments)
    }
}

impl fmt::Display for ArgumentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ArgumentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArgumentDigest({})", self.to_hex())
    }
}

impl Serialize for ArgumentDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ArgumentDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved, not yet executed.
    Approved,
    /// Refused.
    Denied,
    /// Executed (once).
    Executed,
    /// Not decided within an hour, or approved and not executed within ten minutes.
    Expired,
}

impl ApprovalStatus {
    /// The stored form (`pending`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Executed => "executed",
            Self::Expired => "expired",
        }
    }

    /// Parses the stored form.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Denied,
            Self::Executed,
            Self::Expired,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A durable approval: the held request, the digest of its arguments, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    request: ApprovalRequest,
    digest: ArgumentDigest,
    status: ApprovalStatus,
    decided_at: Option<OffsetDateTime>,
    executed_at: Option<OffsetDateTime>,
}

impl Approval {
    /// A new pending approval.
    #[must_use]
    pub const fn new(request: ApprovalRequest, digest: ArgumentDigest) -> Self {
        Self {
            request,
            digest,
            status: ApprovalStatus::Pending,
            decided_at: None,
            executed_at: None,
        }
    }

    /// An approval as stored.
    #[must_use]
    pub const fn restore(
        request: ApprovalRequest,
        digest: ArgumentDigest,
        status: ApprovalStatus,
        decided_at: Option<OffsetDateTime>,
        executed_at: Option<OffsetDateTime>,
    ) -> Self {
        Self {
            request,
            digest,
            status,
            decided_at,
            executed_at,
        }
    }

    /// The held request.
    #[must_use]
    pub const fn request(&self) -> &ApprovalRequest {
        &self.request
    }

    /// The digest of the arguments.
    #[must_use]
    pub const fn digest(&self) -> &ArgumentDigest {
        &self.digest
    }

    /// The stored status.
    #[must_use]
    pub const fn stored_status(&self) -> ApprovalStatus {
        self.status
    }

    /// When it was decided.
    #[must_use]
    pub const fn decided_at(&self) -> Option<OffsetDateTime> {
        self.decided_at
    }

    /// When it was executed.
    #[must_use]
    pub const fn executed_at(&self) -> Option<OffsetDateTime> {
        self.executed_at
    }

    /// The last instant it may be decided (exclusive).
    #[must_use]
    pub fn expires_at(&self) -> OffsetDateTime {
        self.request
            .requested_at()
            .saturating_add(crate::risk::APPROVAL_TTL)
    }

    /// The last instant an approved call may run (exclusive).
    #[must_use]
    pub fn execute_by(&self) -> Option<OffsetDateTime> {
        match self.status {
            ApprovalStatus::Approved | ApprovalStatus::Executed => self
                .decided_at
                .map(|at| at.saturating_add(EXECUTION_WINDOW)),
            _ => None,
        }
    }

    /// The status at `now`: a pending request past its expiry, or an approved one past its
    /// execution window, is [`ApprovalStatus::Expired`].
    #[must_use]
    pub fn status_at(&self, now: OffsetDateTime) -> ApprovalStatus {
        match self.status {
            ApprovalStatus::Pending if now >= self.expires_at() => ApprovalStatus::Expired,
            ApprovalStatus::Approved if self.execute_by().is_none_or(|by| now >= by) => {
                ApprovalStatus::Expired
            }
            other => other,
        }
    }

    /// Decides the approval. `factor_verified_at` is when the approver last proved a second
    /// factor (a TOTP code checked by the server), if ever.
    ///
    /// # Errors
    /// [`ApprovalError::AlreadyDecided`] when stored approved, denied or executed (an
    /// approved request whose window closed was still decided); [`ApprovalError::Expired`]
    /// when stored expired or past the hour; the approver rules of [`ApprovalRequest::decide`]; then
    /// [`ApprovalError::FreshFactorRequired`] without a second factor in the last five
    /// minutes.
    pub fn decide(
        &self,
        approver: Approver<'_>,
        verdict: ApprovalVerdict,
        reason: Option<&str>,
        factor_verified_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(Self, ApprovalRecord), ApprovalError> {
        match self.status {
            ApprovalStatus::Pending => {}
            ApprovalStatus::Expired => return Err(ApprovalError::Expired),
            _ => return Err(ApprovalError::AlreadyDecided),
        }
        if self.status_at(now) == ApprovalStatus::Expired {
            return Err(ApprovalError::Expired);
        }
        let record = self.request.decide(approver, verdict, reason, now)?;
        let fresh =
            factor_verified_at.is_some_and(|at| at <= now && now - at <= FRESH_FACTOR_WINDOW);
        if !fresh {
            return Err(ApprovalError::FreshFactorRequired);
        }
        let next = Self {
            status: match verdict {
                ApprovalVerdict::Approved => ApprovalStatus::Approved,
                ApprovalVerdict::Denied => ApprovalStatus::Denied,
            },
            decided_at: Some(now),
            ..self.clone()
        };
        Ok((next, record))
    }

    /// Executes the approved call whose arguments, presented now, digest to `presented`.
    ///
    /// # Errors
    /// [`ApprovalError::NotApproved`] (pending, even past its hour, or denied),
    /// [`ApprovalError::AlreadyExecuted`], [`ApprovalError::ExecutionWindowClosed`]
    /// (approved ten minutes ago or more, or stored as expired),
    /// [`ApprovalError::ArgumentsChanged`].
    pub fn execute(
        &self,
        presented: &ArgumentDigest,
        now: OffsetDateTime,
    ) -> Result<Self, ApprovalError> {
        match self.status {
            ApprovalStatus::Executed => return Err(ApprovalError::AlreadyExecuted),
            ApprovalStatus::Pending | ApprovalStatus::Denied => {
                return Err(ApprovalError::NotApproved);
            }
            ApprovalStatus::Expired => return Err(ApprovalError::ExecutionWindowClosed),
            ApprovalStatus::Approved => {}
        }
        if self.status_at(now) != ApprovalStatus::Approved {
            return Err(ApprovalError::ExecutionWindowClosed);
        }
        if !self.digest.matches(presented) {
            return Err(ApprovalError::ArgumentsChanged);
        }
        Ok(Self {
            status: ApprovalStatus::Executed,
            executed_at: Some(now),
            ..self.clone()
        })
    }
}
