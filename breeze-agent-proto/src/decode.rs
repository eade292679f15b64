//! The decoding pipeline every message goes through: size check before parsing, strict serde
//! decoding with field paths, then [`Validate`] for limits and patterns.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, EncodeError, InvalidMessage, issue_from_serde};
use crate::issue::{DroppedField, IssueCode};
use crate::validate::{Path, Report, Validate};

/// A successfully decoded message and the informational fields that were dropped from it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Decoded<T> {
    /// The message.
    pub message: T,
    /// Informational heartbeat fields dropped because their value was invalid (SPEC 8.4).
    /// Always empty for messages without informational fields.
    pub dropped: Vec<DroppedField>,
}

impl<T> Decoded<T> {
    /// The message, discarding the dropped-field notes.
    pub fn into_message(self) -> T {
        self.message
    }
}

/// Refuses input above `max` bytes before anything is parsed.
pub(crate) fn check_size(len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        return Err(DecodeError::TooLarge { size: len, max });
    }
    Ok(())
}

/// Parses `bytes` as a `T` with paths, rejecting trailing data.
pub(crate) fn parse_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    // Fast path without path tracking; only a failure is decoded again to find its path.
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| serde_failure(&e))?;
    de.end().map_err(|e| {
        DecodeError::single(
            "",
            IssueCode::Syntax,
            &format!("invalid json: {}", strip(&e)),
        )
    })?;
    Ok(value)
}

/// Decodes a `T` from an already parsed JSON value, with paths.
pub(crate) fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|e| serde_failure(&e))
}

fn strip(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s.get(..i).unwrap_or("").to_owned(),
        None => s,
    }
}

fn serde_failure(err: &serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    DecodeError::Invalid(InvalidMessage {
        issues: vec![issue_from_serde(err)],
        total_issues: 1,
        received_type: None,
    })
}

/// Runs validation and turns the report into the decode result.
pub(crate) fn finish<T: Validate>(mut message: T) -> Result<Decoded<T>, DecodeError> {
    let mut report = Report::default();
    message.validate(&Path::Root, &mut report);
    if !report.is_clean() {
        return Err(DecodeError::Invalid(InvalidMessage {
            issues: report.issues,
            total_issues: report.total_issues,
            received_type: None,
        }));
    }
    Ok(Decoded {
        message,
        dropped: report.dropped,
    })
}

/// Serializes and proves the result decodes cleanly (nothing invalid is ever sent).
pub(crate) fn encode_checked<T: Serialize>(
    message: &T,
    max: usize,
    check: impl FnOnce(&str) -> Result<usize, DecodeError>,
) -> Result<String, EncodeError> {
    let text = serde_json::to_string(message).map_err(|_| EncodeError::Serialize)?;
    if text.len() > max {
        return Err(EncodeError::TooLarge {
            size: text.len(),
            max,
        });
    }
    let dropped = check(&text)?;
    if dropped > 0 {
        return Err(EncodeError::Invalid(InvalidMessage {
            issues: vec![crate::issue::Issue::new(
                "",
                IssueCode::InvalidValue,
                "informational fields with invalid values would be dropped",
            )],
            total_issues: dropped,
            received_type: None,
        }));
    }
    Ok(text)
}
