//! Remote file operations (SPEC 12): read, list and write, each confined by [`guard`].
//!
//! Every path first passes the protocol's rule (`RemotePath`: absolute, at most 2,048 bytes,
//! no NUL, no `..` segment) and must be absolute on this host. It is then resolved (symlinks
//! followed, the parent alone for a file still to be created) and refused when it lands in
//! the agent's own config and secrets directory or, when `file_roots` is set, outside every
//! root. What is opened is checked again through the descriptor, so a symlink swapped in
//! between the check and the open does not lead anywhere refused.
//!
//! - [`FileOps::read`]: regular files only, at most the configured size (4 MiB at most);
//!   the bytes, their size and SHA-256.
//! - [`FileOps::list`]: entries of one directory without following symlinks, at most
//!   10,000 (then `truncated`).
//! - [`FileOps::write`]: the digest is checked before anything is written; then a temp file
//!   in the same directory, fsync, rename, fsync of the directory. An existing file keeps its
//!   permission bits and owner (setuid/setgid are not carried over); a directory is never
//!   replaced.

pub mod command;
mod error;
pub mod guard;
mod list;
mod read;
mod write;

use std::path::PathBuf;

pub use breeze_agent_proto::file::{EntryKind, FileEntry};
use breeze_agent_proto::limits::MAX_FILE_TRANSFER_BYTES;

pub use self::error::FileError;
use self::guard::Guard;

/// Default and ceiling of the bytes a read or write may move (the protocol's 4 MiB).
pub const MAX_FILE_BYTES: u64 = MAX_FILE_TRANSFER_BYTES as u64;

/// Where file operations may go and how large they may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    /// The agent's config and secrets directory (always refused).
    pub config_dir: PathBuf,
    /// When set, the only trees file operations may touch.
    pub roots: Option<Vec<PathBuf>>,
    /// Largest read or write (clamped to [`MAX_FILE_BYTES`]).
    pub max_bytes: u64,
}

/// A file's content as read.
#[derive(Clone, PartialEq, Eq)]
pub struct ReadFile {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Their number.
    pub size: u64,
    /// Their SHA-256, lowercase hex.
    pub sha256: String,
}

impl std::fmt::Debug for ReadFile {
    // A file may be a credential: never its content in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadFile")
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// A directory's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Entries, sorted by name.
    pub entries: Vec<FileEntry>,
    /// More entries existed than were listed.
    pub truncated: bool,
}

/// What a write left on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub size: u64,
    /// Their SHA-256, lowercase hex.
    pub sha256: String,
}

/// File operations under one configuration.
#[derive(Debug)]
pub struct FileOps {
    guard: Guard,
    max_bytes: u64,
}

impl FileOps {
    /// Resolves the config directory and the roots once (a root that does not exist is
    /// dropped with a warning; roots set but none usable refuse everything).
    #[must_use]
    pub fn new(config: &FileConfig) -> Self {
        Self {
            guard: Guard::new(&config.config_dir, config.roots.as_deref()),
            max_bytes: config.max_bytes.clamp(1, MAX_FILE_BYTES),
        }
    }

    /// The largest read or write.
    #[must_use]
    pub const fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Reads the regular file at `path`, at most `limit` bytes (and never more than the
    /// configured maximum); a larger file is refused, never truncated.
    ///
    /// # Errors
    /// See [`FileError`].
    pub fn read(&self, path: &str, limit: Option<u64>) -> Result<ReadFile, FileError> {
        let limit = limit.map_or(self.max_bytes, |l| l.min(self.max_bytes));
        read::read(&self.guard, path, limit)
    }

    /// Lists the directory at `path`.
    ///
    /// # Errors
    /// See [`FileError`].
    pub fn list(&self, path: &str) -> Result<Listing, FileError> {
        list::list(&self.guard, path)
    }

    /// Writes `content` to `path` after checking it against `sha256` (lowercase hex).
    ///
    /// # Errors
    /// See [`FileError`].
    pub fn write(&self, path: &str, content: &[u8], sha256: &str) -> Result<Written, FileError> {
        write::write(&self.guard, path, content, sha256, self.max_bytes)
    }
}

#[cfg(test)]
mod tests;
