//! Command results (SPEC 8.5): stored redacted, audited, duplicates recognised.

use breeze_agent_proto::redact_secrets;
use breeze_agent_proto::result::{CommandResult, CommandStatus};
use breeze_core::audit::AuditResult;
use serde_json::json;

use crate::agents::auth::AgentAuthed;
use crate::agents::error::AgentError;
use crate::audit::events::event_builder;
use crate::state::AppState;
use crate::store::audit;
use crate::store::commands::{self, RecordOutcome, StoredResult};

/// Longest stderr excerpt put in an audit entry.
pub const AUDIT_STDERR_CHARS: usize = 2_000;

const fn status_name(s: CommandStatus) -> &'static str {
    match s {
        CommandStatus::Completed => "completed",
        CommandStatus::Failed => "failed",
        CommandStatus::Timeout => "timeout",
    }
}

/// What storing a result found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultOutcome {
    /// Stored and audited.
    Recorded,
    /// The command already had a result (a retry); nothing changed.
    Duplicate,
    /// Not a command of this device.
    NotOwned,
}

/// Stores a command result of the agent's device (redacted) and audits it, in the agent's
/// context. Shared by the HTTP route and the WebSocket.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn store_result(
    state: &AppState,
    authed: &AgentAuthed,
    mut result: CommandResult,
) -> Result<ResultOutcome, AgentError> {
    result.truncate_to_limits();
    // a file operation's outcome (content included) is stored encrypted, only for a file
    // command, and only until the waiting request reads it (`crate::remote::files`)
    let file_outcome = match &result.file {
        Some(outcome) => {
            let text = serde_json::to_string(outcome).map_err(AgentError::internal)?;
            Some(
                state
                    .secrets
                    .encrypt(&text, &crate::remote::files::outcome_field()?)
                    .map_err(AgentError::internal)?,
            )
        }
        None => None,
    };
    let stored = StoredResult {
        status: status_name(result.status),
        exit_code: result.exit_code,
        stdout: result.stdout.as_deref().map(redact_secrets),
        stderr: result.stderr.as_deref().map(redact_secrets),
        duration_ms: result.duration_ms.and_then(|d| i64::try_from(d).ok()),
        error: result.error.as_deref().map(redact_secrets),
        result: result
            .result
            .as_ref()
            .map(|v| redact_secrets(&v.to_string())),
        file_outcome,
    };
    let _permit = state.agent_load.result_permit().await;
    let mut tx = authed.begin(state).await?;
    let (outcome, command_type) =
        commands::record_result(&mut tx, authed.device_id, result.command_id, &stored).await?;
    match outcome {
        RecordOutcome::NotFound => return Ok(ResultOutcome::NotOwned),
        RecordOutcome::AlreadyRecorded => return Ok(ResultOutcome::Duplicate),
        RecordOutcome::Recorded => {}
    }
    let stderr_excerpt: Option<String> = stored
        .stderr
        .as_deref()
        .map(|s| s.chars().take(AUDIT_STDERR_CHARS).collect());
    let audit_result = if result.status == CommandStatus::Completed {
        AuditResult::Success
    } else {
        AuditResult::Failure
    };
    let event = event_builder(
        state,
        authed.actor(),
        &authed.client,
        "device.command.result",
        audit_result,
    )?
    .resource_type("device_command")
    .resource_id(result.command_id.to_string())
    .details(&json!({
        "deviceId": authed.device_id.to_string(),
        "type": command_type,
        "status": stored.status,
        "exitCode": stored.exit_code,
        "durationMs": stored.duration_ms,
        "stderr": stderr_excerpt,
    }))
    .build()
    .map_err(AgentError::internal)?;
    audit::append(&mut tx, Some(authed.org_id), event).await?;
    tx.commit().await?;
    Ok(ResultOutcome::Recorded)
}
