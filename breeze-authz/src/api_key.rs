//! API-key scopes and key status / expiry decisions (SPEC 3.3).
//!
//! A key's scopes are `resource:action` strings with `*` wildcards: `*` alone (or `*:*`) is
//! full access, `devices:*` every action on devices, `*:read` every read. An empty scope
//! list grants nothing. Matching is the grant rule of SPEC 5 ([`Grant::matches`]).
//!
//! [`ApiKeyRecord::check`] is the only way to get a [`UsableApiKey`], and a usable key is
//! the only way an API key becomes a [`crate::access::Principal`], so a revoked or expired
//! key cannot reach access resolution.
//!
//! ```
//! use breeze_authz::api_key::ApiKeyScopes;
//! let scopes = ApiKeyScopes::parse(["devices:*", "*:read"])?;
//! assert!(scopes.allows(&"devices:execute".parse()?));
//! assert!(scopes.allows(&"alerts:read".parse()?));
//! assert!(!scopes.allows(&"scripts:execute".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use breeze_core::tenancy::{ApiKeyId, OrgId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::permission::{Grant, Permission, echo};

/// The most scopes one key may hold.
pub const MAX_SCOPES: usize = 64;

/// A scope list that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ScopeError {
    /// Not `*` and not a `resource:action` pattern.
    #[error(
        "invalid api key scope `{scope}`: expected `*` or `resource:action` with `*` wildcards"
    )]
    InvalidScope {
        /// The rejected scope (truncated).
        scope: String,
    },
    /// More than [`MAX_SCOPES`] scopes.
    #[error("too many api key scopes: at most 64")]
    TooMany,
}

impl ScopeError {
    /// A stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidScope { .. } => "invalid_scope",
            Self::TooMany => "too_many_scopes",
        }
    }
}

/// One API-key scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApiKeyScope {
    /// `*` (or `*:*`): full access within the key's organization.
    Full,
    /// A `resource:action` pattern (either half may be `*`).
    Pattern(Grant),
}

impl ApiKeyScope {
    /// Parses one scope string.
    ///
    /// # Errors
    /// [`ScopeError::InvalidScope`] for anything but `*` or a grant pattern.
    pub fn parse(scope: &str) -> Result<Self, ScopeError> {
        if scope == "*" {
            return Ok(Self::Full);
        }
        let grant: Grant = scope
            .parse()
            .map_err(|_| ScopeError::InvalidScope { scope: echo(scope) })?;
        Ok(if grant.is_full_wildcard() {
            Self::Full
        } else {
            Self::Pattern(grant)
        })
    }

    /// Whether this scope covers `wanted`.
    #[must_use]
    pub fn allows(&self, wanted: &Permission) -> bool {
        match self {
            Self::Full => true,
            Self::Pattern(grant) => grant.matches(wanted),
        }
    }
}

impl std::fmt::Display for ApiKeyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => f.write_str("*"),
            Self::Pattern(grant) => grant.fmt(f),
        }
    }
}

/// A key's scope list (empty = no access). Serializes as the list of scope strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiKeyScopes(Vec<ApiKeyScope>);

impl Serialize for ApiKeyScopes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl ApiKeyScopes {
    /// Parses a scope list; any invalid entry rejects the whole list.
    ///
    /// # Errors
    /// [`ScopeError`] for an invalid scope or more than [`MAX_SCOPES`] of them.
    pub fn parse<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for scope in scopes {
            if out.len() == MAX_SCOPES {
                return Err(ScopeError::TooMany);
            }
            out.push(ApiKeyScope::parse(scope.as_ref())?);
        }
        Ok(Self(out))
    }

    /// Whether any scope covers `wanted`.
    #[must_use]
    pub fn allows(&self, wanted: &Permission) -> bool {
        self.0.iter().any(|scope| scope.allows(wanted))
    }

    /// The scopes.
    #[must_use]
    pub fn scopes(&self) -> &[ApiKeyScope] {
        &self.0
    }
}

/// The stored status of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyStatus {
    /// Usable (subject to its expiry).
    Active,
    /// Revoked by a user.
    Revoked,
    /// Marked expired.
    Expired,
}

/// Why a key may not be used. Every variant maps to HTTP 401 with a generic body (do not
/// tell the caller which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyRejection {
    /// The key was revoked.
    #[error("api key revoked")]
    Revoked,
    /// The key's status is expired, or its expiry time has passed.
    #[error("api key expired")]
    Expired,
}

impl ApiKeyRejection {
    /// A stable machine code for bindings (and the audit log; never the response body).
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Revoked => "api_key_revoked",
            Self::Expired => "api_key_expired",
        }
    }
}

/// What the store knows about a key (after its hash matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id.
    pub id: ApiKeyId,
    /// The organization the key belongs to.
    pub org_id: OrgId,
    /// Stored status.
    pub status: ApiKeyStatus,
    /// Optional expiry; the key is expired at this instant and after.
    pub expires_at: Option<OffsetDateTime>,
    /// Parsed scopes.
    pub scopes: ApiKeyScopes,
}

impl ApiKeyRecord {
    /// Decides whether the key may be used at `now`.
    ///
    /// # Errors
    /// [`ApiKeyRejection::Revoked`] for a revoked key (revocation wins over expiry),
    /// [`ApiKeyRejection::Expired`] for an expired status or `expires_at <= now`.
    pub fn check(&self, now: OffsetDateTime) -> Result<UsableApiKey, ApiKeyRejection> {
        match self.status {
            ApiKeyStatus::Revoked => Err(ApiKeyRejection::Revoked),
            ApiKeyStatus::Expired => Err(ApiKeyRejection::Expired),
            ApiKeyStatus::Active => match self.expires_at {
                Some(expiry) if expiry <= now => Err(ApiKeyRejection::Expired),
                _ => Ok(UsableApiKey {
                    id: self.id,
                    org_id: self.org_id,
                    scopes: self.scopes.clone(),
                }),
            },
        }
    }
}

/// A key that passed [`ApiKeyRecord::check`]. Only that check builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableApiKey {
    id: ApiKeyId,
    org_id: OrgId,
    scopes: ApiKeyScopes,
}

impl UsableApiKey {
    /// The key's id.
    #[must_use]
    pub const fn id(&self) -> ApiKeyId {
        self.id
    }

    /// The key's organization.
    #[must_use]
    pub const fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The key's scopes.
    #[must_use]
    pub const fn scopes(&self) -> &ApiKeyScopes {
        &self.scopes
    }

    /// Whether the key's scopes cover `wanted`.
    #[must_use]
    pub fn allows(&self, wanted: &Permission) -> bool {
        self.scopes.allows(wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn p(s: &str) -> Permission {
        s.parse().unwrap()
    }

    fn record(status: ApiKeyStatus, expires_at: Option<OffsetDateTime>) -> ApiKeyRecord {
        ApiKeyRecord {
            id: ApiKeyId::new_random(),
            org_id: OrgId::new_random(),
            status,
            expires_at,
            scopes: ApiKeyScopes::parse(["devices:read"]).unwrap(),
        }
    }

    #[test]
    fn scope_wildcards() {
        let full = ApiKeyScopes::parse(["*"]).unwrap();
        assert!(full.allows(&p("billing:manage")));
        assert_eq!(ApiKeyScope::parse("*:*").unwrap(), ApiKeyScope::Full);
        let devices = ApiKeyScopes::parse(["devices:*"]).unwrap();
        assert!(devices.allows(&p("devices:delete")));
        assert!(!devices.allows(&p("scripts:read")));
        let reads = ApiKeyScopes::parse(["*:read"]).unwrap();
        assert!(reads.allows(&p("audit:read")));
        assert!(!reads.allows(&p("audit:export")));
        let none = ApiKeyScopes::parse(Vec::<String>::new()).unwrap();
        assert!(!none.allows(&p("devices:read")));
    }

    #[test]
    fn scopes_serialize_as_strings() {
        let scopes = ApiKeyScopes::parse(["*:*", "devices:*", "*:read"]).unwrap();
        assert_eq!(
            serde_json::to_string(&scopes).unwrap(),
            r#"["*","devices:*","*:read"]"#
        );
    }

    #[test]
    fn bad_scopes_reject_the_list() {
        for bad in [
            "",
            "**",
            "devices",
            "devices:",
            "DEVICES:read",
            "devices:read ",
            " *",
        ] {
            let err = ApiKeyScopes::parse(["devices:read", bad]).unwrap_err();
            assert_eq!(err.code(), "invalid_scope", "{bad:?}");
        }
        let many = vec!["devices:read"; MAX_SCOPES + 1];
        assert_eq!(ApiKeyScopes::parse(many).unwrap_err(), ScopeError::TooMany);
        assert!(ApiKeyScopes::parse(vec!["devices:read"; MAX_SCOPES]).is_ok());
    }

    #[test]
    fn status_and_expiry() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        assert!(record(ApiKeyStatus::Active, None).check(now).is_ok());
        assert!(
            record(ApiKeyStatus::Active, Some(now + Duration::SECOND))
                .check(now)
                .is_ok()
        );
        assert_eq!(
            record(ApiKeyStatus::Active, Some(now))
                .check(now)
                .unwrap_err(),
            ApiKeyRejection::Expired
        );
        assert_eq!(
            record(ApiKeyStatus::Expired, None).check(now).unwrap_err(),
            ApiKeyRejection::Expired
        );
        assert_eq!(
            record(ApiKeyStatus::Revoked, Some(now - Duration::DAY))
                .check(now)
                .unwrap_err(),
            ApiKeyRejection::Revoked
        );
        let rec = record(ApiKeyStatus::Active, None);
        let usable = rec.check(now).unwrap();
        assert_eq!(usable.id(), rec.id);
        assert_eq!(usable.org_id(), rec.org_id);
        assert!(usable.allows(&p("devices:read")));
        assert!(!usable.allows(&p("devices:write")));
    }
}
