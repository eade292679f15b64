//! [`Informational`]: a heartbeat field whose invalid value is dropped, not fatal (SPEC 8.4).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::issue_from_serde;
use crate::validate::{Path, Report};

/// An informational field: absent, present with a valid value, or dropped because the value
/// the agent sent was invalid.
///
/// Decoding never fails because of an informational field: a value of the wrong type, or one
/// that breaks its limit, becomes [`Informational::Dropped`] and is listed in
/// [`crate::Decoded::dropped`]. A dropped field is not serialized.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Informational<T> {
    /// The agent did not send the field (or sent `null`).
    #[default]
    Absent,
    /// A valid value.
    Present(T),
    /// The agent sent an invalid value; the reason (never the value) is kept.
    Dropped(String),
}

impl<T> Informational<T> {
    /// The value, when present and valid.
    #[must_use]
    pub const fn get(&self) -> Option<&T> {
        match self {
            Self::Present(v) => Some(v),
            Self::Absent | Self::Dropped(_) => None,
        }
    }

    /// True unless a valid value is present (used to skip the field when serializing).
    #[must_use]
    pub const fn is_unset(&self) -> bool {
        !matches!(self, Self::Present(_))
    }

    /// Reports a dropped value, and drops a present value that fails `rule`.
    pub(crate) fn check(
        &mut self,
        path: &Path<'_>,
        report: &mut Report,
        rule: impl FnOnce(&T) -> Result<(), String>,
    ) {
        if let Self::Present(value) = self {
            if let Err(reason) = rule(value) {
                *self = Self::Dropped(reason);
            }
        }
        if let Self::Dropped(reason) = self {
            report.dropped(path, reason);
        }
    }

    /// Like [`Informational::check`], for a nested informational object that checks its own
    /// fields (`rule` drops inner fields and may refuse the whole object).
    pub(crate) fn check_nested(
        &mut self,
        path: &Path<'_>,
        report: &mut Report,
        rule: impl FnOnce(&mut T, &Path<'_>, &mut Report) -> Result<(), String>,
    ) {
        if let Self::Present(value) = self {
            if let Err(reason) = rule(value, path, report) {
                *self = Self::Dropped(reason);
            }
        }
        if let Self::Dropped(reason) = self {
            report.dropped(path, reason);
        }
    }
}

impl<T> From<Option<T>> for Informational<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Absent, Self::Present)
    }
}

impl<T: Serialize> Serialize for Informational<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Present(v) => v.serialize(serializer),
            Self::Absent | Self::Dropped(_) => serializer.serialize_none(),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Informational<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Buffer the value so a bad one is dropped without failing the whole message. A JSON
        // syntax error is still an error of the message itself.
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Self::Absent);
        }
        Ok(match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Self::Present(v),
            Err(err) => {
                let issue = issue_from_serde(&err);
                if issue.path.is_empty() {
                    Self::Dropped(issue.message)
                } else {
                    Self::Dropped(format!("`{}` {}", issue.path, issue.message))
                }
            }
        })
    }
}

impl<T: JsonSchema> JsonSchema for Informational<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
