//! Decoding and encoding errors, and the mapping of serde errors to [`Issue`]s.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::issue::{Issue, IssueCode};
use crate::limits::MAX_ECHOED_TYPE_CHARS;
use crate::text::truncate_chars;

/// Why a message or frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is larger than the limit for its kind; nothing was parsed.
    #[error("message of {size} bytes exceeds the {max} byte limit")]
    TooLarge {
        /// Input size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The input was parsed and found invalid.
    #[error("invalid message: {0}")]
    Invalid(InvalidMessage),
}

impl DecodeError {
    /// Stable machine code for bindings: `too_large` or `invalid_message`.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Invalid(_) => "invalid_message",
        }
    }

    /// The issues (a `too_large` error is one issue at the root).
    #[must_use]
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            Self::TooLarge { max, .. } => {
                vec![Issue::new(
                    "",
                    IssueCode::TooLong,
                    &format!("at most {max} bytes allowed"),
                )]
            }
            Self::Invalid(invalid) => invalid.issues.clone(),
        }
    }

    /// The `type` the peer sent, when it was a string (at most 200 characters).
    #[must_use]
    pub fn received_type(&self) -> Option<&str> {
        match self {
            Self::TooLarge { .. } => None,
            Self::Invalid(invalid) => invalid.received_type.as_deref(),
        }
    }

    pub(crate) fn single(path: &str, code: IssueCode, message: &str) -> Self {
        Self::Invalid(InvalidMessage {
            issues: vec![Issue::new(path, code, message)],
            total_issues: 1,
            received_type: None,
        })
    }

    pub(crate) fn with_received_type(mut self, received: Option<&str>) -> Self {
        if let Self::Invalid(invalid) = &mut self {
            invalid.received_type =
                received.map(|t| truncate_chars(t, MAX_ECHOED_TYPE_CHARS).to_owned());
        }
        self
    }
}

/// The issues of an invalid message: at most 10 listed, all counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvalidMessage {
    /// The first issues found (at most [`crate::limits::MAX_ISSUES`]).
    pub issues: Vec<Issue>,
    /// How many issues were found in all.
    pub total_issues: usize,
    /// The `type` the peer sent, bounded to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_type: Option<String>,
}

impl std::fmt::Display for InvalidMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for issue in &self.issues {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{issue}")?;
        }
        let hidden = self.total_issues.saturating_sub(self.issues.len());
        if hidden > 0 {
            write!(f, " (and {hidden} more)")?;
        }
        Ok(())
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message breaks a limit or pattern; the peer would refuse it.
    #[error("message would be refused: {0}")]
    Invalid(InvalidMessage),
    /// The encoded message is larger than the limit for its kind.
    #[error("encoded message of {size} bytes exceeds the {max} byte limit")]
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Serialization failed (a JSON value that cannot be written).
    #[error("message could not be serialized")]
    Serialize,
}

impl EncodeError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_message",
            Self::TooLarge { .. } => "too_large",
            Self::Serialize => "serialize_failed",
        }
    }
}

impl From<DecodeError> for EncodeError {
    fn from(err: DecodeError) -> Self {
        match err {
            DecodeError::TooLarge { size, max } => Self::TooLarge { size, max },
            DecodeError::Invalid(invalid) => Self::Invalid(invalid),
        }
    }
}

/// Marks an inner path inside a custom serde error message (see [`nested_error`]).
const PATH_MARK: char = '\u{1}';

/// Renders a serde path as `a.b[2].c` (empty for the root).
pub(crate) fn render_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Segment::Map { key } => push_field(&mut out, key),
            Segment::Enum { variant } => push_field(&mut out, variant),
            Segment::Unknown => push_field(&mut out, "?"),
        }
    }
    out
}

fn push_field(out: &mut String, name: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(name);
}

/// Turns a serde error (with its path) into one [`Issue`] whose message never echoes input.
pub(crate) fn issue_from_serde(err: &serde_path_to_error::Error<serde_json::Error>) -> Issue {
    issue_at(render_path(err.path()), err.inner())
}

/// Like [`issue_from_serde`] for an error found at `path` without path tracking.
pub(crate) fn issue_at(mut path: String, inner: &serde_json::Error) -> Issue {
    let full = inner.to_string();
    let mut msg = strip_position(&full);
    // Splice the path of a nested decode.
    if let Some(rest) = msg.strip_prefix(PATH_MARK)
        && let Some((inner_path, inner_msg)) = rest.split_once(PATH_MARK)
    {
        if !inner_path.is_empty() {
            push_path(&mut path, inner_path);
        }
        msg = strip_position(inner_msg);
    }
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return Issue::new(&path, IssueCode::Syntax, &syntax_message(msg));
    }
    let (code, text) = classify(msg, &mut path);
    Issue::new(&path, code, &text)
}

fn push_path(path: &mut String, inner: &str) {
    if !path.is_empty() && !inner.starts_with('[') {
        path.push('.');
    }
    path.push_str(inner);
}

/// Removes serde_json's ` at line L column C` suffix.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(msg),
        None => msg,
    }
}

fn syntax_message(msg: &str) -> String {
    // serde_json syntax messages describe the grammar, never the input (for example
    // "expected value", "trailing characters", "recursion limit exceeded").
    format!("invalid json: {msg}")
}

/// The text between the first two backticks (a field or variant name).
fn quoted(msg: &str) -> Option<&str> {
    let start = msg.find('`')?;
    let rest = msg.get(start.saturating_add(1)..)?;
    let end = rest.find('`')?;
    rest.get(..end)
}

/// The ", expected ..." tail of a serde message.
fn expected(msg: &str) -> &str {
    match msg.find(", expected ") {
        Some(i) => msg.get(i.saturating_add(2)..).unwrap_or(""),
        None => "",
    }
}

fn classify(msg: &str, path: &mut String) -> (IssueCode, String) {
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        // serde_path_to_error already ends the path with the unknown key; a hand-written
        // deserializer (commands) does not.
        if let Some(name) = quoted(rest)
            && path != name
            && !path.ends_with(&format!(".{name}"))
        {
            push_path(path, crate::text::truncate_chars(name, 64));
        }
        return (IssueCode::UnknownField, "unknown field".to_owned());
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        if let Some(name) = quoted(rest) {
            push_path(path, name);
        }
        return (
            IssueCode::MissingField,
            "required field is missing".to_owned(),
        );
    }
    if let Some(rest) = msg.strip_prefix("duplicate field ") {
        if let Some(name) = quoted(rest) {
            push_path(path, name);
        }
        return (
            IssueCode::InvalidValue,
            "field appears more than once".to_owned(),
        );
    }
    if msg.starts_with("unknown variant ") {
        let exp = expected(msg);
        return (IssueCode::InvalidValue, format!("unknown value, {exp}"));
    }
    if msg.starts_with("invalid type: ") {
        return (
            IssueCode::InvalidType,
            format!("invalid type, {}", expected(msg)),
        );
    }
    if msg.starts_with("invalid value: ") {
        return (
            IssueCode::InvalidValue,
            format!("invalid value, {}", expected(msg)),
        );
    }
    if msg.starts_with("invalid length ") {
        return (
            IssueCode::TooMany,
            format!("invalid length, {}", expected(msg)),
        );
    }
    // Custom messages come from this crate's own deserializers and never carry input.
    if let Some(rest) = msg.strip_prefix(FORMAT_PREFIX) {
        return (IssueCode::InvalidFormat, rest.to_owned());
    }
    if let Some(rest) = msg.strip_prefix(RANGE_PREFIX) {
        return (IssueCode::OutOfRange, rest.to_owned());
    }
    (IssueCode::InvalidValue, msg.to_owned())
}

/// Prefix of custom deserializer messages that report a pattern mismatch.
pub(crate) const FORMAT_PREFIX: &str = "format: ";
/// Prefix of custom deserializer messages that report a number out of range.
pub(crate) const RANGE_PREFIX: &str = "range: ";

/// A serde error message carrying the path of an error found in a nested decode (a command
/// payload decoded from a buffered value), placed under the field `prefix`;
/// [`issue_from_serde`] splices it into the outer path.
pub(crate) fn nested_error_at(
    prefix: &str,
    err: &serde_path_to_error::Error<serde_json::Error>,
) -> String {
    let inner = render_path(err.path());
    let mut path = prefix.to_owned();
    if !inner.is_empty() {
        push_path(&mut path, &inner);
    }
    format!("{PATH_MARK}{path}{PATH_MARK}{}", err.inner())
}

/// A custom serde error message placed at the field `prefix` (spliced like [`nested_error_at`]).
pub(crate) fn nested_message_at(prefix: &str, message: &str) -> String {
    format!("{PATH_MARK}{prefix}{PATH_MARK}{message}")
}
