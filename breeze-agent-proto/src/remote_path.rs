//! The path rule of remote file operations (SPEC 12): absolute, at most 2,048 bytes, no NUL,
//! no `..` segment. The server checks it on the request before anything is sent to the agent;
//! the agent checks it again before it touches the file system (and then applies its own
//! rules: its config and secrets directory, configured roots).
//!
//! Absolute means `/...` (POSIX) or a drive path `C:\...` / `C:/...` (Windows). Segments are
//! split on both `/` and `\`, so `C:\a\..\b` and `/a/../b` are both refused.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::MAX_REMOTE_PATH_BYTES;

/// Why a remote path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathError {
    /// The path is empty.
    #[error("the path is empty")]
    Empty,
    /// The path is longer than 2,048 bytes.
    #[error("the path is longer than 2048 bytes")]
    TooLong,
    /// The path holds a NUL character.
    #[error("the path holds a nul character")]
    Nul,
    /// The path is not absolute.
    #[error("the path is not absolute")]
    Relative,
    /// The path has a `..` segment.
    #[error("the path has a `..` segment")]
    DotDot,
}

impl PathError {
    /// Stable code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Empty => "path_empty",
            Self::TooLong => "path_too_long",
            Self::Nul => "path_nul",
            Self::Relative => "path_relative",
            Self::DotDot => "path_dot_dot",
        }
    }
}

/// A path that passed the rule.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RemotePath(String);

impl RemotePath {
    /// Checks `text` against the rule.
    ///
    /// # Errors
    /// The first rule it breaks, in the order: empty, too long, NUL, relative, `..`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        check(text)?;
        Ok(Self(text.to_owned()))
    }

    /// The path.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RemotePath").field(&self.0).finish()
    }
}

impl fmt::Display for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RemotePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn is_absolute(text: &str) -> bool {
    let b = text.as_bytes();
    match b {
        [b'/', ..] => true,
        [drive, b':', b'\\' | b'/', ..] => drive.is_ascii_alphabetic(),
        _ => false,
    }
}

/// Checks `text` against the rule without keeping it.
///
/// # Errors
/// See [`RemotePath::parse`].
pub fn check(text: &str) -> Result<(), PathError> {
    if text.is_empty() {
        return Err(PathError::Empty);
    }
    if text.len() > MAX_REMOTE_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    if text.contains('\0') {
        return Err(PathError::Nul);
    }
    if !is_absolute(text) {
        return Err(PathError::Relative);
    }
    if text.split(['/', '\\']).any(|segment| segment == "..") {
        return Err(PathError::DotDot);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_posix_and_windows_paths() {
        for ok in [
            "/",
            "/etc/hosts",
            "/a/..b/c..",
            "C:\\Windows\\x.txt",
            "d:/data",
            "/a/./b",
        ] {
            assert!(RemotePath::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_each_rule_in_order() {
        let long = format!("/{}", "a".repeat(MAX_REMOTE_PATH_BYTES));
        for (bad, want) in [
            ("", PathError::Empty),
            (long.as_str(), PathError::TooLong),
            ("/etc/\0passwd", PathError::Nul),
            ("etc/passwd", PathError::Relative),
            ("./x", PathError::Relative),
            ("C:x", PathError::Relative),
            ("\\\\server\\share", PathError::Relative),
            ("/etc/../root", PathError::DotDot),
            ("/etc/..", PathError::DotDot),
            ("C:\\a\\..\\b", PathError::DotDot),
            ("/a\\..\\b", PathError::DotDot),
        ] {
            assert_eq!(RemotePath::parse(bad).unwrap_err(), want, "{bad:?}");
        }
    }

    #[test]
    fn exactly_the_limit_is_allowed() {
        let at = format!("/{}", "a".repeat(MAX_REMOTE_PATH_BYTES - 1));
        assert!(RemotePath::parse(&at).is_ok());
    }
}
