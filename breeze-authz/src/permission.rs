//! Permissions (`resource:action`) and grants with wildcards (SPEC 5).
//!
//! A [`Permission`] is what a route needs: a concrete `resource:action` pair with no
//! wildcard in it. A [`Grant`] is what a role or an API key holds: each half is either a
//! concrete name or `*`. A grant matches a permission when its resource equals the wanted
//! resource or is `*`, and its action equals the wanted action or is `*`. Nothing else
//! matches: there are no prefixes, globs or hierarchies, so `devices:*` can never reach
//! `devices-admin:read` and `*:read` can never reach `devices:write`.
//!
//! ```
//! use breeze_authz::permission::{Grant, Permission};
//! let wanted: Permission = "devices:execute".parse()?;
//! assert!("devices:*".parse::<Grant>()?.matches(&wanted));
//! assert!(!"*:read".parse::<Grant>()?.matches(&wanted));
//! # Ok::<(), breeze_authz::permission::PermissionError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest resource or action name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// A permission or grant string that does not have the `resource:action` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PermissionError {
    /// Not a concrete `resource:action` pair.
    #[error(
        "invalid permission `{input}`: expected `resource:action` with lowercase names (a-z, 0-9, `_`, `-`, `.`, at most 64 characters each)"
    )]
    InvalidPermission {
        /// The rejected input (truncated to 100 characters).
        input: String,
    },
    /// Not a `resource:action` grant where each half is a name or `*`.
    #[error(
        "invalid grant `{input}`: expected `resource:action` where each half is a lowercase name or `*`"
    )]
    InvalidGrant {
        /// The rejected input (truncated to 100 characters).
        input: String,
    },
}

impl PermissionError {
    /// A stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidPermission { .. } => "invalid_permission",
            Self::InvalidGrant { .. } => "invalid_grant",
        }
    }
}

/// Truncates user input before it is echoed in an error message.
pub(crate) fn echo(input: &str) -> String {
    input.chars().take(100).collect()
}

/// Whether `name` is a valid resource or action name: starts with a lowercase letter,
/// then lowercase letters, digits, `_`, `-` or `.`, at most [`MAX_NAME_LEN`] bytes.
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= MAX_NAME_LEN
        && first.is_ascii_lowercase()
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'))
}

/// A concrete permission `resource:action` (no wildcard).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    resource: Box<str>,
    action: Box<str>,
}

impl Permission {
    /// Builds a permission from its two halves.
    ///
    /// # Errors
    /// [`PermissionError::InvalidPermission`] when either half is not a valid name.
    pub fn new(resource: &str, action: &str) -> Result<Self, PermissionError> {
        if is_valid_name(resource) && is_valid_name(action) {
            Ok(Self {
                resource: resource.into(),
                action: action.into(),
            })
        } else {
            Err(PermissionError::InvalidPermission {
                input: echo(&format!("{resource}:{action}")),
            })
        }
    }

    /// The resource half (`devices` in `devices:read`).
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The action half (`read` in `devices:read`).
    #[must_use]
    pub fn action(&self) -> &str {
        &self.action
    }
}

impl FromStr for Permission {
    type Err = PermissionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || PermissionError::InvalidPermission { input: echo(s) };
        let (resource, action) = s.split_once(':').ok_or_else(invalid)?;
        Self::new(resource, action).map_err(|_| invalid())
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

impl fmt::Debug for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permission({self})")
    }
}

/// One half of a grant: a concrete name or the `*` wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// `*`: any name.
    Any,
    /// Exactly this name.
    Exact(Box<str>),
}

impl Pattern {
    fn parse(s: &str) -> Option<Self> {
        if s == "*" {
            Some(Self::Any)
        } else if is_valid_name(s) {
            Some(Self::Exact(s.into()))
        } else {
            None
        }
    }

    /// Whether this pattern accepts `name`.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => **exact == *name,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Exact(name) => f.write_str(name),
        }
    }
}

/// What a role holds: `resource:action` where each half may be `*`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grant {
    resource: Pattern,
    action: Pattern,
}

impl Grant {
    /// `*:*`, the full wildcard (system roles only; see [`crate::role::Role::new`]).
    #[must_use]
    pub const fn full() -> Self {
        Self {
            resource: Pattern::Any,
            action: Pattern::Any,
        }
    }

    /// The grant of exactly one permission.
    #[must_use]
    pub fn exact(permission: &Permission) -> Self {
        Self {
            resource: Pattern::Exact(permission.resource.clone()),
            action: Pattern::Exact(permission.action.clone()),
        }
    }

    /// The resource pattern.
    #[must_use]
    pub const fn resource(&self) -> &Pattern {
        &self.resource
    }

    /// The action pattern.
    #[must_use]
    pub const fn action(&self) -> &Pattern {
        &self.action
    }

    /// Whether this is `*:*`.
    #[must_use]
    pub const fn is_full_wildcard(&self) -> bool {
        matches!((&self.resource, &self.action), (Pattern::Any, Pattern::Any))
    }

    /// Whether this grant covers `wanted` (SPEC 5 matching rule).
    #[must_use]
    pub fn matches(&self, wanted: &Permission) -> bool {
        self.resource.matches(&wanted.resource) && self.action.matches(&wanted.action)
    }
}

impl From<&Permission> for Grant {
    fn from(permission: &Permission) -> Self {
        Self::exact(permission)
    }
}

impl FromStr for Grant {
    type Err = PermissionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || PermissionError::InvalidGrant { input: echo(s) };
        let (resource, action) = s.split_once(':').ok_or_else(invalid)?;
        Ok(Self {
            resource: Pattern::parse(resource).ok_or_else(invalid)?,
            action: Pattern::parse(action).ok_or_else(invalid)?,
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Grant({self})")
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Permission);
string_serde!(Grant);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_permissions() {
        let p: Permission = "devices:read".parse().unwrap();
        assert_eq!(p.resource(), "devices");
        assert_eq!(p.action(), "read");
        assert_eq!(p.to_string(), "devices:read");
    }

    #[test]
    fn rejects_malformed_permissions() {
        for bad in [
            "",
            ":",
            "devices",
            "devices:",
            ":read",
            "devices:*",
            "*:read",
            "*",
            "Devices:read",
            "devices:read:x",
            "dev ices:read",
            "devices:réad",
            "1devices:read",
            "-a:read",
        ] {
            let err = bad.parse::<Permission>().unwrap_err();
            assert_eq!(err.code(), "invalid_permission", "{bad}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(Permission::new(&long, "read").is_err());
        assert!(Permission::new(&"a".repeat(MAX_NAME_LEN), "read").is_ok());
    }

    #[test]
    fn rejects_malformed_grants() {
        for bad in [
            "",
            "*",
            "**:read",
            "devices:**",
            "devices",
            "a*:read",
            "devices:re*",
            "*:*:*",
        ] {
            assert_eq!(
                bad.parse::<Grant>().unwrap_err().code(),
                "invalid_grant",
                "{bad}"
            );
        }
    }

    #[test]
    fn wildcard_matching_follows_spec() {
        let read: Permission = "devices:read".parse().unwrap();
        let write: Permission = "devices:write".parse().unwrap();
        let scripts_read: Permission = "scripts:read".parse().unwrap();
        let g = |s: &str| s.parse::<Grant>().unwrap();
        assert!(g("devices:read").matches(&read));
        assert!(!g("devices:read").matches(&write));
        assert!(g("devices:*").matches(&write));
        assert!(!g("devices:*").matches(&scripts_read));
        assert!(g("*:read").matches(&scripts_read));
        assert!(!g("*:read").matches(&write));
        assert!(g("*:*").matches(&write));
        assert!(g("*:*").is_full_wildcard());
        assert!(!g("devices:*").is_full_wildcard());
        // No prefix matching.
        let longer: Permission = "devices-admin:read".parse().unwrap();
        assert!(!g("devices:*").matches(&longer));
    }

    #[test]
    fn error_message_truncates_input() {
        let input = format!("{}:", "x".repeat(500));
        let msg = input.parse::<Permission>().unwrap_err().to_string();
        assert!(msg.len() < 300);
    }

    #[test]
    fn serde_round_trip_validates() {
        let g: Grant = serde_json::from_str("\"devices:*\"").unwrap();
        assert_eq!(serde_json::to_string(&g).unwrap(), "\"devices:*\"");
        assert!(serde_json::from_str::<Permission>("\"devices:*\"").is_err());
    }
}
