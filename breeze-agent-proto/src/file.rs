//! Remote file operations (SPEC 12): the `file_write` payload and the typed outcome an agent
//! returns for `file_read`, `file_list` and `file_write` in its result's `file` field.
//!
//! Content travels as standard base64 with its SHA-256 (lowercase hex): the sender computes
//! it, the receiver recomputes it over the decoded bytes and refuses a mismatch
//! ([`FileContent::decode`]). At most [`MAX_FILE_TRANSFER_BYTES`] decoded.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::issue::IssueCode;
use crate::limits::{MAX_FILE_LIST_ENTRIES, MAX_FILE_NAME_CHARS, MAX_FILE_TRANSFER_BYTES};
use crate::remote_path;
use crate::validate::{Path, Report, Validate, check_chars, check_count, check_opt_chars};

/// Largest base64 text of a transfer (4 MiB decoded).
pub const MAX_FILE_BASE64_CHARS: usize = MAX_FILE_TRANSFER_BYTES.div_ceil(3) * 4;

/// `file_write`: write a whole file (atomically on the agent).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileWritePayload {
    /// Absolute path (the SPEC 12 path rule).
    #[schemars(length(min = 1, max = 2048))]
    pub path: String,
    /// The content, standard base64 (at most 4 MiB decoded).
    #[schemars(length(max = 5_592_408))]
    pub content_base64: String,
    /// SHA-256 of the decoded content, lowercase hex.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

// Debug shows the path, size and digest, never the content (a written file may be a
// credential). A plain comment: doc comments on the type end up in the JSON Schema.
impl std::fmt::Debug for FileWritePayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWritePayload")
            .field("path", &self.path)
            .field("content_base64_chars", &self.content_base64.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// Why a file transfer's content was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ContentError {
    /// Not standard base64.
    #[error("the content is not valid base64")]
    Base64,
    /// More than 4 MiB decoded.
    #[error("the content is larger than the transfer limit")]
    TooLarge,
    /// The digest does not match the content.
    #[error("the content does not match its sha-256")]
    DigestMismatch,
}

impl ContentError {
    /// Stable code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Base64 => "content_invalid",
            Self::TooLarge => "file_too_large",
            Self::DigestMismatch => "digest_mismatch",
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file's content with its size and digest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileContent {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// The content, standard base64 (at most 4 MiB decoded).
    #[schemars(length(max = 5_592_408))]
    pub content_base64: String,
}

impl std::fmt::Debug for FileContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileContent")
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl FileContent {
    /// Wraps `bytes` (base64 and digest computed here).
    ///
    /// # Errors
    /// [`ContentError::TooLarge`] above 4 MiB.
    pub fn new(bytes: &[u8]) -> Result<Self, ContentError> {
        if bytes.len() > MAX_FILE_TRANSFER_BYTES {
            return Err(ContentError::TooLarge);
        }
        Ok(Self {
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            content_base64: STANDARD.encode(bytes),
        })
    }

    /// The decoded bytes, after checking size and digest.
    ///
    /// # Errors
    /// See [`ContentError`].
    pub fn decode(&self) -> Result<Vec<u8>, ContentError> {
        decode_checked(&self.content_base64, &self.sha256, Some(self.size))
    }
}

/// Decodes base64 `content` and checks it against `sha256` (and `size` when given).
///
/// # Errors
/// See [`ContentError`].
pub fn decode_checked(
    content: &str,
    sha256: &str,
    size: Option<u64>,
) -> Result<Vec<u8>, ContentError> {
    if content.len() > MAX_FILE_BASE64_CHARS {
        return Err(ContentError::TooLarge);
    }
    let bytes = STANDARD.decode(content).map_err(|_| ContentError::Base64)?;
    if bytes.len() > MAX_FILE_TRANSFER_BYTES {
        return Err(ContentError::TooLarge);
    }
    let actual = Sha256::digest(&bytes);
    // Only the wire form (64 lowercase hex digits) can match: an uppercase digest would pass
    // `hex::decode` here yet be refused by validation on the wire.
    if !is_sha256_hex(sha256) {
        return Err(ContentError::DigestMismatch);
    }
    let expected = hex::decode(sha256).map_err(|_| ContentError::DigestMismatch)?;
    // a digest is public, but compare without an early exit anyway
    let same: bool = expected.as_slice().ct_eq(actual.as_slice()).into();
    if !same || size.is_some_and(|s| s != bytes.len() as u64) {
        return Err(ContentError::DigestMismatch);
    }
    Ok(bytes)
}

impl FileWritePayload {
    /// A payload writing `bytes` to `path`.
    ///
    /// # Errors
    /// [`ContentError::TooLarge`] above 4 MiB.
    pub fn new(path: &str, bytes: &[u8]) -> Result<Self, ContentError> {
        let content = FileContent::new(bytes)?;
        Ok(Self {
            path: path.to_owned(),
            content_base64: content.content_base64,
            sha256: content.sha256,
        })
    }

    /// The decoded content, after checking size and digest.
    ///
    /// # Errors
    /// See [`ContentError`].
    pub fn decode(&self) -> Result<Vec<u8>, ContentError> {
        decode_checked(&self.content_base64, &self.sha256, None)
    }
}

/// What a directory entry is (symlinks are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Anything else.
    Other,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileEntry {
    /// Name (untrusted text, at most 1,024 characters).
    #[schemars(length(min = 1, max = 1024))]
    pub name: String,
    /// Kind.
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ms: Option<u64>,
}

/// Stable codes of an agent's refusal of a file operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileErrorCode {
    /// The path breaks the SPEC 12 rule.
    PathInvalid,
    /// The path is the agent's own config or secrets, or outside the configured roots.
    PathForbidden,
    /// No such file or directory.
    NotFound,
    /// The operating system refused access.
    PermissionDenied,
    /// A file was expected.
    IsDirectory,
    /// A directory was expected.
    NotADirectory,
    /// Larger than the transfer limit.
    FileTooLarge,
    /// The content does not match its SHA-256.
    DigestMismatch,
    /// Any other I/O failure.
    IoError,
}

impl FileErrorCode {
    /// Stable code (the wire name).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PathInvalid => "path_invalid",
            Self::PathForbidden => "path_forbidden",
            Self::NotFound => "not_found",
            Self::PermissionDenied => "permission_denied",
            Self::IsDirectory => "is_directory",
            Self::NotADirectory => "not_a_directory",
            Self::FileTooLarge => "file_too_large",
            Self::DigestMismatch => "digest_mismatch",
            Self::IoError => "io_error",
        }
    }
}

/// The outcome of a file operation, in a result's `file` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FileOutcome {
    /// `file_read`: the content.
    Content(FileContent),
    /// `file_list`: the entries (at most 10,000).
    Listing {
        /// Entries.
        #[schemars(length(max = 10000))]
        entries: Vec<FileEntry>,
        /// More entries existed than were listed.
        truncated: bool,
    },
    /// `file_write`: what was written.
    Written {
        /// Size in bytes.
        size: u64,
        /// SHA-256 of what was written, lowercase hex.
        #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
        sha256: String,
    },
    /// The agent refused or failed the operation.
    Refused {
        /// Stable code.
        code: FileErrorCode,
        /// Detail (at most 1,000 characters).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 1000))]
        message: Option<String>,
    },
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_sha256(text: &str, path: &Path<'_>, report: &mut Report) {
    if !is_sha256_hex(text) {
        report.issue(
            &path.field("sha256"),
            IssueCode::InvalidFormat,
            "expected 64 lowercase hex characters",
        );
    }
}

fn check_base64(text: &str, path: &Path<'_>, report: &mut Report) {
    let at = path.field("contentBase64");
    if text.len() > MAX_FILE_BASE64_CHARS {
        report.issue(&at, IssueCode::TooLong, "more than 4 MiB decoded");
    } else if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        report.issue(&at, IssueCode::InvalidFormat, "expected base64");
    }
}

/// Adds an issue when `text` breaks the SPEC 12 path rule.
pub(crate) fn check_remote_path(text: &str, path: &Path<'_>, report: &mut Report) {
    if let Err(e) = remote_path::check(text) {
        let code = match e {
            remote_path::PathError::TooLong => IssueCode::TooLong,
            remote_path::PathError::Empty => IssueCode::TooShort,
            _ => IssueCode::InvalidFormat,
        };
        report.issue(&path.field("path"), code, e.code());
    }
}

impl Validate for FileWritePayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_remote_path(&self.path, path, report);
        check_base64(&self.content_base64, path, report);
        check_sha256(&self.sha256, path, report);
    }
}

impl Validate for FileOutcome {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        match self {
            Self::Content(c) => {
                check_base64(&c.content_base64, path, report);
                check_sha256(&c.sha256, path, report);
            }
            Self::Listing { entries, .. } => {
                let at = path.field("entries");
                check_count(entries.len(), MAX_FILE_LIST_ENTRIES, &at, report);
                for (i, e) in entries.iter().enumerate() {
                    check_chars(
                        &e.name,
                        1,
                        MAX_FILE_NAME_CHARS,
                        &at.index(i).field("name"),
                        report,
                    );
                }
            }
            Self::Written { sha256, .. } => check_sha256(sha256, path, report),
            Self::Refused { message, .. } => check_opt_chars(
                message.as_deref(),
                0,
                crate::limits::MAX_ERROR_MESSAGE_CHARS,
                &path.field("message"),
                report,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips_and_checks_its_digest() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let c = FileContent::new(&bytes).unwrap();
        assert_eq!(c.decode().unwrap(), bytes);
        let mut bad = c.clone();
        bad.sha256 = sha256_hex(b"other");
        assert_eq!(bad.decode().unwrap_err(), ContentError::DigestMismatch);
        let mut short = c;
        short.size -= 1;
        assert_eq!(short.decode().unwrap_err(), ContentError::DigestMismatch);
    }

    #[test]
    fn over_the_limit_is_refused_before_decoding() {
        let big = vec![0u8; MAX_FILE_TRANSFER_BYTES + 1];
        assert_eq!(FileContent::new(&big).unwrap_err(), ContentError::TooLarge);
        let text = "A".repeat(MAX_FILE_BASE64_CHARS + 4);
        assert_eq!(
            decode_checked(&text, &sha256_hex(b""), None).unwrap_err(),
            ContentError::TooLarge
        );
        assert_eq!(
            decode_checked("!!!!", &sha256_hex(b""), None).unwrap_err(),
            ContentError::Base64
        );
    }

    #[test]
    fn debug_never_shows_content() {
        let p = FileWritePayload::new("/tmp/x", b"hunter2-secret").unwrap();
        let c = FileContent::new(b"hunter2-secret").unwrap();
        for dbg in [format!("{p:?}"), format!("{c:?}")] {
            assert!(!dbg.contains(&STANDARD.encode(b"hunter2-secret")), "{dbg}");
        }
    }
}
