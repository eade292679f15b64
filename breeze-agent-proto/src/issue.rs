//! Issues found while decoding a message, and notes about dropped informational fields.
//!
//! An [`Issue`] names the field (`metrics.cpuPercent`, `commands[2].payload.path`), a stable
//! machine [`IssueCode`] and a short lowercase message. Messages never echo the offending
//! value, so a secret sent in the wrong field cannot come back in an error or a log line.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits::{MAX_ISSUE_MESSAGE_CHARS, MAX_ISSUE_PATH_CHARS};
use crate::text::truncate_chars;

/// What kind of problem an [`Issue`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IssueCode {
    /// The bytes are not valid JSON (or not UTF-8).
    Syntax,
    /// The message is not a JSON object.
    NotAnObject,
    /// The `type` tag is missing or not a string.
    MissingType,
    /// The `type` tag names no message this side accepts.
    UnknownType,
    /// A field this message does not have.
    UnknownField,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong JSON type.
    InvalidType,
    /// A field has the right type but a value outside its set (an unknown enum value).
    InvalidValue,
    /// A string or body is longer than its limit.
    TooLong,
    /// A string is shorter than its minimum (usually: empty).
    TooShort,
    /// A list has more entries than its limit.
    TooMany,
    /// A number is outside its range.
    OutOfRange,
    /// A string does not match its pattern (ids, tokens, addresses).
    InvalidFormat,
}

impl IssueCode {
    /// The stable snake_case code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::NotAnObject => "not_an_object",
            Self::MissingType => "missing_type",
            Self::UnknownType => "unknown_type",
            Self::UnknownField => "unknown_field",
            Self::MissingField => "missing_field",
            Self::InvalidType => "invalid_type",
            Self::InvalidValue => "invalid_value",
            Self::TooLong => "too_long",
            Self::TooShort => "too_short",
            Self::TooMany => "too_many",
            Self::OutOfRange => "out_of_range",
            Self::InvalidFormat => "invalid_format",
        }
    }
}

impl fmt::Display for IssueCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with a decoded message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    /// Where: dotted field path with `[n]` list indexes; empty for the message itself.
    pub path: String,
    /// What kind of problem.
    pub code: IssueCode,
    /// Short lowercase explanation (never the offending value).
    pub message: String,
}

impl Issue {
    /// Builds an issue, bounding path and message lengths.
    #[must_use]
    pub fn new(path: &str, code: IssueCode, message: &str) -> Self {
        Self {
            path: truncate_chars(path, MAX_ISSUE_PATH_CHARS).to_owned(),
            code,
            message: truncate_chars(message, MAX_ISSUE_MESSAGE_CHARS).to_owned(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.code, self.message)
        } else {
            write!(f, "`{}` {}: {}", self.path, self.code, self.message)
        }
    }
}

/// An informational heartbeat field whose value was invalid and was dropped (SPEC 8.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DroppedField {
    /// The dropped field's path.
    pub path: String,
    /// Why it was dropped (never the value).
    pub reason: String,
}
