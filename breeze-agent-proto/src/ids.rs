//! Wire identifiers and timestamps: agent ids, session ids, Unix milliseconds and RFC 3339.
//!
//! Tenancy ids (`DeviceId`, `OrgId`, `SiteId`, `CommandId`) are the `breeze_core::tenancy`
//! newtypes; this module holds only what is specific to the agent wire.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::text::{is_lower_hex, is_lower_uuid};

/// A string that does not match its identifier pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: expected {expected}")]
pub struct IdFormatError {
    /// Which identifier.
    pub kind: &'static str,
    /// The expected pattern, in words.
    pub expected: &'static str,
}

macro_rules! pattern_id {
    (
        $(#[$doc:meta])* $name:ident, kind = $kind:literal, expected = $expected:literal,
        pattern = $pattern:literal, check = $check:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            ///
            /// # Errors
            /// When `value` does not match the pattern.
            pub fn parse(value: &str) -> Result<Self, IdFormatError> {
                let check: fn(&str) -> bool = $check;
                if check(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(IdFormatError { kind: $kind, expected: $expected })
                }
            }

            /// The identifier text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdFormatError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = Cow::<'de, str>::deserialize(deserializer)?;
                Self::parse(&s).map_err(|_| {
                    serde::de::Error::custom(concat!("format: expected ", $expected))
                })
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": concat!("A ", $kind, ": ", $expected, ".")
                })
            }
        }
    };
}

pattern_id!(
    /// The public agent id issued at enrollment: 64 lowercase hex characters (SPEC 3.1).
    AgentId,
    kind = "agent id",
    expected = "64 lowercase hex characters",
    pattern = "^[0-9a-f]{64}$",
    check = |s| is_lower_hex(s, 64)
);

pattern_id!(
    /// A terminal, desktop or tunnel session id: a lowercase hyphenated UUID, exactly the 36
    /// bytes a binary frame carries (SPEC 8.6).
    SessionId,
    kind = "session id",
    expected = "a lowercase hyphenated uuid (36 characters)",
    pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    check = is_lower_uuid
);

/// Milliseconds since the Unix epoch (the `timestamp` of `connected`, `ping` and `pong`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

/// A point in time written as RFC 3339 text (`2026-11-22T14:05:29Z`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Wraps a time.
    #[must_use]
    pub const fn new(at: OffsetDateTime) -> Self {
        Self(at)
    }

    /// A whole second since the Unix epoch, in UTC.
    ///
    /// # Errors
    /// When `seconds` is outside the range `time` supports.
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, time::error::ComponentRange> {
        OffsetDateTime::from_unix_timestamp(seconds).map(Self)
    }

    /// The time.
    #[must_use]
    pub const fn get(&self) -> OffsetDateTime {
        self.0
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => write!(f, "Timestamp({s})"),
            Err(_) => write!(f, "Timestamp({:?})", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self
            .0
            .format(&Rfc3339)
            .map_err(|_| serde::ser::Error::custom("timestamp cannot be written as rfc 3339"))?;
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(deserializer)?;
        if s.len() > 64 {
            return Err(serde::de::Error::custom(
                "format: expected an rfc 3339 timestamp",
            ));
        }
        OffsetDateTime::parse(&s, &Rfc3339)
            .map(Self)
            .map_err(|_| serde::de::Error::custom("format: expected an rfc 3339 timestamp"))
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time", "maxLength": 64 })
    }
}

/// Schema of a tenancy id (`breeze_core::tenancy`): a UUID string.
pub(crate) struct UuidSchema;

impl JsonSchema for UuidSchema {
    fn schema_name() -> Cow<'static, str> {
        "Uuid".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "uuid" })
    }
}
