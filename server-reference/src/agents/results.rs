//! Command results (SPEC 8.5): stored redacted, audited, duplicates recognised.

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

/// Replaces PEM private-key blocks and agent tokens in `text` (before storage).
#[must_use]
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let (before, from_begin) = rest.split_at(start);
        out.push_str(before);
        let header_end = from_begin
            .get(11..)
            .and_then(|h| h.find("-----"))
            .map(|i| i + 11 + 5);
        let header = header_end.and_then(|e| from_begin.get(..e)).unwrap_or("");
        if !header.contains("PRIVATE KEY") {
            out.push_str("-----BEGIN ");
            rest = from_begin.get(11..).unwrap_or("");
            continue;
        }
        out.push_str("[REDACTED PRIVATE KEY]");
        let after_header = from_begin.get(header.len()..).unwrap_or("");
        rest = match after_header.find("-----END ") {
            Some(end) => {
                let tail = after_header.get(end + 9..).unwrap_or("");
                match tail.find("-----") {
                    Some(close) => tail.get(close + 5..).unwrap_or(""),
                    None => "",
                }
            }
            None => "",
        };
    }
    out.push_str(rest);
    redact_agent_tokens(&out)
}

fn redact_agent_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("brz_") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let hex_len = from
            .get(4..)
            .map_or(0, |h| h.chars().take_while(char::is_ascii_hexdigit).count());
        if hex_len >= 32 {
            out.push_str("brz_[REDACTED]");
            rest = from.get(4 + hex_len..).unwrap_or("");
        } else {
            out.push_str("brz_");
            rest = from.get(4..).unwrap_or("");
        }
    }
    out.push_str(rest);
    out
}

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

#[cfg(test)]
mod tests {
    use super::redact_secrets;

    #[test]
    fn private_keys_and_agent_tokens_are_redacted() {
        let pem = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\nb";
        assert_eq!(redact_secrets(pem), "a\n[REDACTED PRIVATE KEY]\nb");
        let open = "x -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA never ends";
        assert_eq!(redact_secrets(open), "x [REDACTED PRIVATE KEY]");
        let token = format!("t=brz_{} é", "a1".repeat(32));
        assert_eq!(redact_secrets(&token), "t=brz_[REDACTED] é");
    }

    #[test]
    fn public_material_and_plain_text_are_kept() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----";
        assert_eq!(redact_secrets(cert), cert);
        for text in ["", "brz_", "brz_short", "-----BEGIN ", "ünïcödé -----BEGIN"] {
            assert_eq!(redact_secrets(text), text);
        }
    }
}
