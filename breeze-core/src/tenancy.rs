//! Tenancy ids (SPEC 1): Partner -> Organization -> Site -> Device Group -> Device.
//!
//! Every id is its own newtype over a UUID, so a device id can never be passed where an
//! organization id is wanted. Ids render as lowercase hyphenated UUIDs, the form the
//! PostgreSQL session settings of SPEC 1.2 use.
//!
//! ```
//! use breeze_core::tenancy::{OrgId, SiteId};
//! let org: OrgId = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f".parse()?;
//! assert_eq!(org.to_string(), "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f");
//! // `SiteId::from(org)` does not compile: the types are distinct.
//! let _site = SiteId::new_random();
//! # Ok::<(), breeze_core::tenancy::IdParseError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: expected a UUID")]
pub struct IdParseError {
    /// Which id was being parsed (for example `organization id`).
    pub kind: &'static str,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            #[must_use]
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// A fresh random (v4) id.
            #[must_use]
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| IdParseError { kind: $kind })
            }
        }
    };
}

uuid_id!(
    /// A partner (MSP). Partners are flat: there is no partner tree.
    PartnerId,
    "partner id"
);
uuid_id!(
    /// An organization (an MSP's customer).
    OrgId,
    "organization id"
);
uuid_id!(
    /// A site (a customer location) inside an organization.
    SiteId,
    "site id"
);
uuid_id!(
    /// A device group inside a site.
    DeviceGroupId,
    "device group id"
);
uuid_id!(
    /// A managed device.
    DeviceId,
    "device id"
);
uuid_id!(
    /// A human user.
    UserId,
    "user id"
);
uuid_id!(
    /// A role (system, partner or organization scoped).
    RoleId,
    "role id"
);
uuid_id!(
    /// An API key's database id (not the key itself).
    ApiKeyId,
    "api key id"
);
uuid_id!(
    /// An enrollment key's database id (not the key itself).
    EnrollmentKeyId,
    "enrollment key id"
);
uuid_id!(
    /// A command queued for a device.
    CommandId,
    "command id"
);

/// Lifecycle state of an organization (SPEC 1). Soft deletion is tracked separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    /// Paying customer, fully active.
    Active,
    /// Trial customer, fully active.
    Trial,
    /// Suspended: no access.
    Suspended,
    /// Being offboarded: agents may only heartbeat, fetch commands, post results and rotate.
    Offboarding,
}

impl OrgStatus {
    /// Whether users and agents of the organization are served normally.
    #[must_use]
    pub const fn is_active(self) -> bool {
        matches!(self, Self::Active | Self::Trial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = OrgId::new_random();
        let back: OrgId = id.to_string().parse().unwrap();
        assert_eq!(id, back);
        let err = "not-a-uuid".parse::<DeviceId>().unwrap_err();
        assert_eq!(err.to_string(), "invalid device id: expected a UUID");
    }

    #[test]
    fn only_active_and_trial_are_active() {
        assert!(OrgStatus::Active.is_active());
        assert!(OrgStatus::Trial.is_active());
        assert!(!OrgStatus::Suspended.is_active());
        assert!(!OrgStatus::Offboarding.is_active());
    }
}
