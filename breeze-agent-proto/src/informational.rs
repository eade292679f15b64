//! [`Informational`]: a heartbeat field whose invalid value is dropped, not fatal (SPEC 8.4).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{issue_at, issue_from_serde};
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
        if let Self::Present(value) = self
            && let Err(reason) = rule(value)
        {
            *self = Self::Dropped(reason);
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
        if let Self::Present(value) = self
            && let Err(reason) = rule(value, path, report)
        {
            *self = Self::Dropped(reason);
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
        // syntax error is still an error of the message itself. Scalars are buffered without
        // allocating; objects and arrays as a `serde_json::Value`.
        let buffered = deserializer.deserialize_any(BufferVisitor)?;
        Ok(buffered.into_informational())
    }
}

/// One JSON value, buffered.
enum Buffered<'de> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Borrowed(&'de str),
    Owned(String),
    Value(serde_json::Value),
}

type E = serde_json::Error;

impl Buffered<'_> {
    fn into_informational<T: serde::de::DeserializeOwned>(self) -> Informational<T> {
        use serde::de::value::{
            BoolDeserializer, BorrowedStrDeserializer, F64Deserializer, I64Deserializer,
            StringDeserializer, U64Deserializer,
        };
        let result = match self {
            Self::Null => return Informational::Absent,
            Self::Bool(v) => T::deserialize(BoolDeserializer::<E>::new(v)),
            Self::U64(v) => T::deserialize(U64Deserializer::<E>::new(v)),
            Self::I64(v) => T::deserialize(I64Deserializer::<E>::new(v)),
            Self::F64(v) => T::deserialize(F64Deserializer::<E>::new(v)),
            Self::Borrowed(v) => T::deserialize(BorrowedStrDeserializer::<E>::new(v)),
            Self::Owned(v) => T::deserialize(StringDeserializer::<E>::new(v)),
            Self::Value(v) => {
                return match T::deserialize(&v) {
                    Ok(t) => Informational::Present(t),
                    // Decode again with path tracking to say where inside it failed.
                    Err(_) => match serde_path_to_error::deserialize::<_, T>(&v) {
                        Ok(t) => Informational::Present(t),
                        Err(err) => dropped(&issue_from_serde(&err)),
                    },
                };
            }
        };
        match result {
            Ok(t) => Informational::Present(t),
            Err(err) => dropped(&issue_at(String::new(), &err)),
        }
    }
}

fn dropped<T>(issue: &crate::issue::Issue) -> Informational<T> {
    if issue.path.is_empty() {
        Informational::Dropped(issue.message.clone())
    } else {
        Informational::Dropped(format!("`{}` {}", issue.path, issue.message))
    }
}

struct BufferVisitor;

impl<'de> Visitor<'de> for BufferVisitor {
    type Value = Buffered<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any json value")
    }

    fn visit_unit<Er>(self) -> Result<Self::Value, Er> {
        Ok(Buffered::Null)
    }

    fn visit_none<Er>(self) -> Result<Self::Value, Er> {
        Ok(Buffered::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<Er>(self, v: bool) -> Result<Self::Value, Er> {
        Ok(Buffered::Bool(v))
    }

    fn visit_u64<Er>(self, v: u64) -> Result<Self::Value, Er> {
        Ok(Buffered::U64(v))
    }

    fn visit_i64<Er>(self, v: i64) -> Result<Self::Value, Er> {
        Ok(Buffered::I64(v))
    }

    fn visit_f64<Er>(self, v: f64) -> Result<Self::Value, Er> {
        Ok(Buffered::F64(v))
    }

    fn visit_borrowed_str<Er>(self, v: &'de str) -> Result<Self::Value, Er> {
        Ok(Buffered::Borrowed(v))
    }

    fn visit_str<Er>(self, v: &str) -> Result<Self::Value, Er> {
        Ok(Buffered::Owned(v.to_owned()))
    }

    fn visit_string<Er>(self, v: String) -> Result<Self::Value, Er> {
        Ok(Buffered::Owned(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        serde_json::Value::deserialize(SeqAccessDeserializer::new(seq)).map(Buffered::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        serde_json::Value::deserialize(MapAccessDeserializer::new(map)).map(Buffered::Value)
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
