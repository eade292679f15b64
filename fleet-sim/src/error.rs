//! Errors of the simulator.

/// A simulator failure. Messages never carry tokens, keys or passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A command-line value is out of range or malformed.
    #[error("invalid argument `{0}`: {1}")]
    Argument(&'static str, String),
    /// The server URL is not an `http://` loopback address.
    #[error("the server must be an http:// loopback address (127.0.0.0/8 or ::1): {0}")]
    NotLoopback(String),
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        cause: String,
    },
    /// The server answered something the simulator cannot go on from.
    #[error("server: {0}")]
    Server(String),
    /// A local network or runtime failure.
    #[error("local: {0}")]
    Local(String),
}

impl SimError {
    /// A file error.
    #[must_use]
    pub fn file(path: &std::path::Path, cause: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.display().to_string(),
            cause: cause.to_string(),
        }
    }
}
