//! Secrets that travel on the agent wire: agent tokens, enrollment keys and secrets.
//!
//! Each is a newtype whose `Debug` prints `[REDACTED]`, whose memory is zeroized on drop,
//! whose equality is constant-time, and whose deserializer refuses a malformed value without
//! echoing it. They serialize as plain strings because sending them is their purpose.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::limits::MAX_ENROLLMENT_SECRET_CHARS;
use crate::text::is_lower_hex;

/// A secret string that does not match its format (the value is never included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: expected {expected}")]
pub struct SecretFormatError {
    /// Which secret.
    pub kind: &'static str,
    /// The expected format, in words.
    pub expected: &'static str,
}

fn is_agent_token(s: &str) -> bool {
    s.strip_prefix("brz_")
        .is_some_and(|hex| is_lower_hex(hex, 64))
}

fn is_enrollment_secret(s: &str) -> bool {
    !s.is_empty()
        && !s.chars().any(char::is_control)
        && s.chars().nth(MAX_ENROLLMENT_SECRET_CHARS).is_none()
}

macro_rules! wire_secret {
    (
        $(#[$doc:meta])* $name:ident, kind = $kind:literal, expected = $expected:literal,
        schema = $schema:tt, check = $check:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Validates and wraps `value`.
            ///
            /// # Errors
            /// When `value` does not have the expected format.
            pub fn parse(value: &str) -> Result<Self, SecretFormatError> {
                let check: fn(&str) -> bool = $check;
                if check(value) {
                    Ok(Self(Zeroizing::new(value.to_owned())))
                } else {
                    Err(SecretFormatError { kind: $kind, expected: $expected })
                }
            }

            /// The secret text. Callers must not log it.
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = Zeroizing::new(String::deserialize(deserializer)?);
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
                json_schema!($schema)
            }
        }
    };
}

wire_secret!(
    /// An agent bearer token (agent, watchdog or helper role): `brz_` + 64 lowercase hex
    /// (SPEC 3.1). Returned by enrollment and token rotation.
    WireToken,
    kind = "agent token",
    expected = "`brz_` followed by 64 lowercase hex characters",
    schema = { "type": "string", "pattern": "^brz_[0-9a-f]{64}$", "writeOnly": true },
    check = is_agent_token
);

wire_secret!(
    /// A raw enrollment key: 64 lowercase hex characters (SPEC 3.2).
    EnrollmentKey,
    kind = "enrollment key",
    expected = "64 lowercase hex characters",
    schema = { "type": "string", "pattern": "^[0-9a-f]{64}$", "writeOnly": true },
    check = |s| is_lower_hex(s, 64)
);

wire_secret!(
    /// An enrollment secret (per key or global): 1 to 256 characters, no control characters.
    EnrollmentSecret,
    kind = "enrollment secret",
    expected = "1 to 256 characters without control characters",
    schema = { "type": "string", "minLength": 1, "maxLength": 256, "writeOnly": true },
    check = is_enrollment_secret
);
