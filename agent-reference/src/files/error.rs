//! Why a file operation was refused or failed, with the protocol's stable codes.

use breeze_agent_proto::FileErrorCode;
use breeze_agent_proto::remote_path::PathError;

/// A refused or failed file operation. Messages never hold file content.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path breaks the SPEC 12 rule, or is not absolute on this host.
    #[error("invalid path: {0}")]
    PathInvalid(&'static str),
    /// The agent's own config or secrets, or outside the configured roots.
    #[error("path refused: {0}")]
    PathForbidden(&'static str),
    /// No such file or directory.
    #[error("no such file or directory")]
    NotFound,
    /// The operating system refused access.
    #[error("permission denied")]
    PermissionDenied,
    /// A file was expected.
    #[error("is a directory")]
    IsDirectory,
    /// A directory was expected.
    #[error("not a directory")]
    NotADirectory,
    /// Larger than the limit.
    #[error("larger than {max} bytes")]
    FileTooLarge {
        /// The limit.
        max: u64,
    },
    /// The content does not match its SHA-256.
    #[error("the content does not match its sha-256")]
    DigestMismatch,
    /// Any other I/O failure.
    #[error("i/o error: {0}")]
    Io(std::io::Error),
}

impl FileError {
    /// The stable code (`path_invalid`, `path_forbidden`, `not_found`, ...).
    #[must_use]
    pub const fn code(&self) -> FileErrorCode {
        match self {
            Self::PathInvalid(_) => FileErrorCode::PathInvalid,
            Self::PathForbidden(_) => FileErrorCode::PathForbidden,
            Self::NotFound => FileErrorCode::NotFound,
            Self::PermissionDenied => FileErrorCode::PermissionDenied,
            Self::IsDirectory => FileErrorCode::IsDirectory,
            Self::NotADirectory => FileErrorCode::NotADirectory,
            Self::FileTooLarge { .. } => FileErrorCode::FileTooLarge,
            Self::DigestMismatch => FileErrorCode::DigestMismatch,
            Self::Io(_) => FileErrorCode::IoError,
        }
    }
}

impl From<PathError> for FileError {
    fn from(e: PathError) -> Self {
        Self::PathInvalid(match e {
            PathError::Empty => "the path is empty",
            PathError::TooLong => "the path is longer than 2048 bytes",
            PathError::Nul => "the path holds a nul character",
            PathError::Relative => "the path is not absolute",
            PathError::DotDot => "the path has a `..` segment",
        })
    }
}

impl From<std::io::Error> for FileError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::PermissionDenied => Self::PermissionDenied,
            ErrorKind::IsADirectory => Self::IsDirectory,
            ErrorKind::NotADirectory => Self::NotADirectory,
            // O_NOFOLLOW met a symlink where the resolved path had none: swapped since.
            _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                Self::PathForbidden("the path changed while it was being opened")
            }
            _ => Self::Io(e),
        }
    }
}

impl From<rustix::io::Errno> for FileError {
    fn from(e: rustix::io::Errno) -> Self {
        Self::from(std::io::Error::from(e))
    }
}
