//! The protocol side of file operations: `file_read`, `file_list` and `file_write` commands,
//! answered by a `command_result` whose `file` field carries the typed outcome (content,
//! listing, what was written, or a refusal with its stable code).
//!
//! Each operation is logged with its path, size and digest, never its content.

use breeze_agent_proto::command::{Command, CommandBody};
use breeze_agent_proto::file::{ContentError, FileContent, FileOutcome, FileWritePayload};
use breeze_agent_proto::limits::MAX_ERROR_MESSAGE_CHARS;
use breeze_agent_proto::payload::{FileListPayload, FileReadPayload};
use breeze_agent_proto::{CommandResult, CommandStatus, FileErrorCode};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{FileError, FileOps};

/// A file operation taken from a command.
#[derive(Debug, Clone)]
pub enum FileCommand {
    /// `file_read`.
    Read(FileReadPayload),
    /// `file_list`.
    List(FileListPayload),
    /// `file_write`.
    Write(FileWritePayload),
}

impl FileCommand {
    /// The file operation `body` asks for, if it is one.
    #[must_use]
    pub fn from_body(body: &CommandBody) -> Option<Self> {
        match body {
            CommandBody::FileRead(p) => Some(Self::Read(p.clone())),
            CommandBody::FileList(p) => Some(Self::List(p.clone())),
            CommandBody::FileWrite(p) => Some(Self::Write(p.clone())),
            _ => None,
        }
    }

    fn path(&self) -> &str {
        match self {
            Self::Read(p) => &p.path,
            Self::List(p) => &p.path,
            Self::Write(p) => &p.path,
        }
    }

    /// Runs the operation (blocking file system calls: call it off the async threads).
    #[must_use]
    pub fn run(&self, ops: &FileOps) -> FileOutcome {
        let outcome = match self {
            Self::Read(p) => ops.read(&p.path, p.max_bytes).map(|file| {
                FileOutcome::Content(FileContent {
                    size: file.size,
                    content_base64: STANDARD.encode(&file.bytes),
                    sha256: file.sha256,
                })
            }),
            Self::List(p) => ops.list(&p.path).map(|listing| FileOutcome::Listing {
                entries: listing.entries,
                truncated: listing.truncated,
            }),
            Self::Write(p) => write(ops, p),
        };
        let outcome = outcome.unwrap_or_else(|e| refused(&e));
        log(self, &outcome);
        outcome
    }
}

fn write(ops: &FileOps, payload: &FileWritePayload) -> Result<FileOutcome, FileError> {
    let content = payload.decode().map_err(|e| match e {
        ContentError::TooLarge => FileError::FileTooLarge {
            max: ops.max_bytes(),
        },
        // Content that is not base64 cannot match its digest.
        ContentError::Base64 | ContentError::DigestMismatch => FileError::DigestMismatch,
    })?;
    let written = ops.write(&payload.path, &content, &payload.sha256)?;
    Ok(FileOutcome::Written {
        size: written.size,
        sha256: written.sha256,
    })
}

fn refused(e: &FileError) -> FileOutcome {
    let message: String = e
        .to_string()
        .chars()
        .take(MAX_ERROR_MESSAGE_CHARS)
        .collect();
    FileOutcome::Refused {
        code: e.code(),
        message: Some(message),
    }
}

fn log(command: &FileCommand, outcome: &FileOutcome) {
    let op = match command {
        FileCommand::Read(_) => "file.read",
        FileCommand::List(_) => "file.list",
        FileCommand::Write(_) => "file.write",
    };
    let path = command.path();
    match outcome {
        FileOutcome::Content(c) => {
            tracing::info!(op, path, size = c.size, sha256 = %c.sha256, "file operation");
        }
        FileOutcome::Written { size, sha256 } => {
            tracing::info!(op, path, size, sha256 = %sha256, "file operation");
        }
        FileOutcome::Listing { entries, truncated } => {
            tracing::info!(
                op,
                path,
                entries = entries.len(),
                truncated,
                "file operation"
            );
        }
        FileOutcome::Refused { code, .. } => {
            tracing::warn!(op, path, code = code.as_str(), "file operation refused");
        }
    }
}

/// The `command_result` for `command`: `completed` with the outcome, or `failed` with the
/// refusal's code and message also in `error`.
#[must_use]
pub fn result(command: &Command, outcome: FileOutcome) -> CommandResult {
    let mut result = CommandResult::new(command.id, CommandStatus::Completed);
    if let FileOutcome::Refused { code, message } = &outcome {
        result.status = CommandStatus::Failed;
        result.error = Some(refusal_text(*code, message.as_deref()));
    }
    result.file = Some(outcome);
    result
}

fn refusal_text(code: FileErrorCode, message: Option<&str>) -> String {
    match message {
        Some(m) => format!("{}: {m}", code.as_str()),
        None => code.as_str().to_owned(),
    }
}
