//! File operations through the agent (SPEC 12): read, list and write a file on a device.
//!
//! `devices:execute` for every operation, reads included, and a user session that passed
//! MFA. Order: the SPEC 12 path rule (`breeze_agent_proto::remote_path`) -> size (a write
//! over the configured limit is 413) -> the device in the caller's reach (404) and
//! serviceable (409) -> the command is queued with its payload encrypted and pushed to the
//! agent's socket (file commands are never handed out in an HTTP heartbeat answer: a file
//! operation is for a connected agent) -> the request waits for the outcome (504
//! `agent_timeout` after the configured wait; a command not yet delivered is then never
//! delivered) -> the agent's typed refusal is 422 with its code -> read content is checked
//! against its SHA-256 here too -> the outcome is wiped from the database and a written
//! file's content is dropped from the stored payload -> audited `file.read` / `file.write`
//! / `file.list` with path, size and digest.

use std::time::Duration;

use breeze_agent_proto::file::{FileContent, FileEntry, FileOutcome, FileWritePayload};
use breeze_agent_proto::remote_path::RemotePath;
use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{CommandId, DeviceId};
use breeze_crypto::envelope::Field;
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::agents::commands::seal_command;
use crate::agents::error::AgentError;
use crate::error::ApiError;
use crate::http::authn::Authed;
use crate::state::AppState;
use crate::store::audit;
use crate::store::commands::{self, NewCommand};

/// The command types of file operations (refused by the generic command queue).
pub const FILE_COMMAND_TYPES: [&str; 3] = ["file_read", "file_list", "file_write"];
/// The permission every file operation needs.
pub const PERMISSION: &str = "devices:execute";

/// The envelope field of a stored outcome.
///
/// # Errors
/// [`AgentError`] for an invalid field name (a programming error).
pub fn outcome_field() -> Result<Field, AgentError> {
    Field::new("device_commands", "file_outcome").map_err(AgentError::internal)
}

/// A file operation.
#[derive(Debug)]
pub enum FileOp {
    /// Read a file.
    Read(RemotePath),
    /// List a directory.
    List(RemotePath),
    /// Write a file.
    Write(RemotePath, Vec<u8>),
}

impl FileOp {
    const fn command_type(&self) -> &'static str {
        match self {
            Self::Read(_) => "file_read",
            Self::List(_) => "file_list",
            Self::Write(..) => "file_write",
        }
    }

    const fn action(&self) -> &'static str {
        match self {
            Self::Read(_) => "file.read",
            Self::List(_) => "file.list",
            Self::Write(..) => "file.write",
        }
    }

    fn path(&self) -> &RemotePath {
        match self {
            Self::Read(p) | Self::List(p) | Self::Write(p, _) => p,
        }
    }
}

/// What a successful operation returns.
#[derive(Debug)]
pub enum FileResult {
    /// The file's bytes and their SHA-256 (checked).
    Content {
        /// Bytes.
        bytes: Vec<u8>,
        /// SHA-256, lowercase hex.
        sha256: String,
    },
    /// Directory entries.
    Listing {
        /// Entries.
        entries: Vec<FileEntry>,
        /// More existed.
        truncated: bool,
    },
    /// What was written.
    Written {
        /// Size.
        size: u64,
        /// SHA-256, lowercase hex.
        sha256: String,
    },
}

/// Checks a path from a request.
///
/// # Errors
/// 400 naming `path` with the rule's code.
pub fn parse_path(text: &str) -> Result<RemotePath, ApiError> {
    RemotePath::parse(text).map_err(|e| ApiError::invalid("path", e.code()))
}

fn payload_of(state: &AppState, op: &FileOp) -> Result<serde_json::Value, ApiError> {
    Ok(match op {
        FileOp::Read(p) => json!({
            "path": p.as_str(),
            "maxBytes": state.config.remote.file_max_bytes,
        }),
        FileOp::List(p) => json!({"path": p.as_str()}),
        FileOp::Write(p, bytes) => {
            let payload =
                FileWritePayload::new(p.as_str(), bytes).map_err(|_| ApiError::PayloadTooLarge)?;
            serde_json::to_value(payload).map_err(ApiError::internal)?
        }
    })
}

/// Runs `op` on `device` through its agent and waits for the outcome (see the module docs).
///
/// # Errors
/// See the module docs.
pub async fn run(
    state: &AppState,
    authed: &Authed,
    device: DeviceId,
    op: FileOp,
) -> Result<FileResult, ApiError> {
    if let FileOp::Write(_, bytes) = &op
        && bytes.len() > state.config.remote.file_max_bytes
    {
        return Err(ApiError::PayloadTooLarge);
    }
    let id = CommandId::new_random();
    let payload = payload_of(state, &op)?;
    let envelope = seal_command(state, id, op.command_type(), Some(&payload))?;
    drop(payload);
    let mut tx = authed.begin(state).await?;
    let target = commands::device_in_reach(&mut tx, device)
        .await?
        .ok_or(ApiError::NotFound)?;
    if target.status == "quarantined" || target.status == "decommissioned" {
        return Err(ApiError::Conflict("device_not_available"));
    }
    commands::wipe_stale_file_outcomes(&mut tx, target.org_id, 600).await?;
    commands::insert(
        &mut tx,
        &NewCommand {
            id,
            org_id: target.org_id,
            site_id: target.site_id,
            device_id: target.id,
            command_type: op.command_type().to_owned(),
            payload_envelope: envelope,
            created_by: authed.user_id(),
        },
    )
    .await?;
    tx.commit().await?;

    let outcome = wait(state, authed, id).await.and_then(|r| match (&op, r) {
        // the digest is checked at both ends: the agent's of what it wrote must be ours
        (FileOp::Write(_, bytes), FileResult::Written { size, sha256 })
            if size != bytes.len() as u64
                || sha256 != breeze_agent_proto::file::sha256_hex(bytes) =>
        {
            Err(ApiError::Unprocessable("digest_mismatch"))
        }
        (_, r) => Ok(r),
    });
    // whatever happened, nothing of the file stays: the outcome is wiped and the payload
    // replaced by a summary without content
    let summary = seal_command(
        state,
        id,
        "file_list",
        Some(&json!({"path": op.path().as_str()})),
    )?;
    let mut tx = authed.begin(state).await?;
    commands::wipe_file_content(&mut tx, id, &summary).await?;
    if outcome.is_err() {
        commands::abandon_file_command(&mut tx, id).await?;
    }
    let (result, details) = match &outcome {
        Ok(r) => (
            AuditResult::Success,
            details(&op, target.id, id, Some(r), None),
        ),
        Err(e) => (
            AuditResult::Failure,
            details(&op, target.id, id, None, Some(e.code())),
        ),
    };
    let event = authed
        .event(state, op.action(), result)?
        .resource_type("device")
        .resource_id(target.id.to_string())
        .details(&details)
        .build()
        .map_err(ApiError::internal)?;
    audit::append(&mut tx, Some(target.org_id), event).await?;
    tx.commit().await?;
    outcome
}

fn details(
    op: &FileOp,
    device: DeviceId,
    command: CommandId,
    result: Option<&FileResult>,
    error: Option<&str>,
) -> serde_json::Value {
    let (size, sha) = match (op, result) {
        (_, Some(FileResult::Content { bytes, sha256 })) => {
            (Some(bytes.len() as u64), Some(sha256.clone()))
        }
        (_, Some(FileResult::Written { size, sha256 })) => (Some(*size), Some(sha256.clone())),
        (FileOp::Write(_, bytes), _) => (
            Some(bytes.len() as u64),
            Some(breeze_agent_proto::file::sha256_hex(bytes)),
        ),
        _ => (None, None),
    };
    json!({
        "deviceId": device.to_string(),
        "commandId": command.to_string(),
        "path": op.path().as_str(),
        "size": size,
        "sha256": sha,
        "error": error,
    })
}

async fn wait(state: &AppState, authed: &Authed, id: CommandId) -> Result<FileResult, ApiError> {
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(state.config.remote.file_timeout_secs);
    let mut pause = Duration::from_millis(20);
    loop {
        let mut tx = authed.begin(state).await?;
        let progress = commands::file_progress(&mut tx, id).await?;
        drop(tx);
        let progress = progress.ok_or(ApiError::NotFound)?;
        if matches!(progress.status.as_str(), "completed" | "failed" | "timeout") {
            return outcome_of(state, progress);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::GatewayTimeout("agent_timeout"));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

fn outcome_of(state: &AppState, progress: commands::FileProgress) -> Result<FileResult, ApiError> {
    let Some(envelope) = progress.file_outcome else {
        return Err(ApiError::Unprocessable("agent_failed"));
    };
    let field = outcome_field().map_err(|_| ApiError::internal("outcome field"))?;
    let plain = state
        .secrets
        .decrypt(&envelope, &field)
        .map_err(ApiError::internal)?;
    let outcome: FileOutcome =
        serde_json::from_str(plain.expose_secret()).map_err(ApiError::internal)?;
    match outcome {
        FileOutcome::Content(content) => content_of(&content),
        FileOutcome::Listing { entries, truncated } => {
            Ok(FileResult::Listing { entries, truncated })
        }
        FileOutcome::Written { size, sha256 } => Ok(FileResult::Written { size, sha256 }),
        FileOutcome::Refused { code, .. } => Err(ApiError::Unprocessable(code.as_str())),
    }
}

fn content_of(content: &FileContent) -> Result<FileResult, ApiError> {
    let bytes = content
        .decode()
        .map_err(|e| ApiError::Unprocessable(e.code()))?;
    Ok(FileResult::Content {
        bytes,
        sha256: content.sha256.clone(),
    })
}
