//! Device commands (SPEC 8.5): sealing a queued command (validated by the protocol decoder, payload encrypted), claiming pending commands and decoding them for the wire (undecodable ones failed, never dropped).

use breeze_agent_proto::Message as _;
use breeze_agent_proto::command::Command;
use breeze_core::tenancy::{CommandId, DeviceId};
use breeze_crypto::envelope::Field;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::agents::auth::AgentAuthed;
use crate::agents::error::AgentError;
use crate::error::{ApiError, FieldIssue};
use crate::state::AppState;
use crate::store::ScopedTx;
use crate::store::commands::{self, StoredResult};

/// silently dropped).
pub(crate) async fn wire_commands(
    state: &AppState,
    tx: &mut ScopedTx,
    device: DeviceId,
    claimed: Vec<commands::ClaimedCommand>,
) -> Result<Vec<Command>, AgentError> {
    let (out, undecodable) = decode_claimed(state, claimed)?;
    for id in undecodable {
        record_undecodable(tx, device, id).await?;
    }
    Ok(out)
}

/// The claimed commands as wire messages, and the ids of those that could not be decrypted
/// or decoded (to be failed by the caller).
pub(crate) fn decode_claimed(
    state: &AppState,
    claimed: Vec<commands::ClaimedCommand>,
) -> Result<(Vec<Command>, Vec<CommandId>), AgentError> {
    let field = payload_field()?;
    let mut out = Vec::with_capacity(claimed.len());
    let mut undecodable = Vec::new();
    for c in claimed {
        let decoded = state
            .secrets
            .decrypt(&c.payload_envelope, &field)
            .ok()
            .and_then(|plain| serde_json::from_str::<Value>(plain.expose_secret()).ok())
            .and_then(|payload| {
                let text =
                    json!({"id": c.id, "type": c.command_type, "payload": payload}).to_string();
                Command::decode(text.as_bytes()).ok()
            });
        if let Some(cmd) = decoded {
            out.push(cmd.into_message());
        } else {
            tracing::warn!(command = %c.id, "stored command could not be decoded; failed");
            undecodable.push(c.id);
        }
    }
    Ok((out, undecodable))
}

pub(crate) async fn record_undecodable(
    tx: &mut ScopedTx,
    device: DeviceId,
    id: CommandId,
) -> Result<(), AgentError> {
    let failed = StoredResult {
        status: "failed",
        exit_code: None,
        stdout: None,
        stderr: None,
        duration_ms: None,
        error: Some("the server could not decode the stored command".into()),
        result: None,
        file_outcome: None,
    };
    commands::record_result(tx, device, id, &failed).await?;
    Ok(())
}

/// Claims up to 10 pending commands of the agent's device, in the agent's own context.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn claim_commands(
    state: &AppState,
    authed: &AgentAuthed,
) -> Result<Vec<Command>, AgentError> {
    let mut tx = authed.begin(state).await?;
    let claimed = commands::claim_pending(&mut tx, authed.device_id, commands::MAX_CLAIM).await?;
    let out = wire_commands(state, &mut tx, authed.device_id, claimed).await?;
    tx.commit().await?;
    Ok(out)
}

fn payload_field() -> Result<Field, AgentError> {
    Field::new("device_commands", "payload").map_err(AgentError::internal)
}

/// Validates a command strictly with the protocol crate (the same decoder the agent runs),
/// without sealing it: the MCP `queue_script` tool checks its arguments with it before a
/// call is held for approval, so nobody is asked to approve a command that cannot run.
///
/// # Errors
/// [`ApiError::Validation`] naming `body.*` fields.
pub fn check_command(id: CommandId, command_type: &str, payload: &Value) -> Result<(), ApiError> {
    let wire = json!({"id": id, "type": command_type, "payload": payload}).to_string();
    Command::decode(wire.as_bytes()).map_err(|e| {
        ApiError::Validation(
            e.issues()
                .into_iter()
                .map(|i| FieldIssue::new(format!("body.{}", i.path), i.message))
                .collect(),
        )
    })?;
    Ok(())
}

/// Validates a command strictly with the protocol crate (the same decoder the agent runs)
/// and encrypts its payload (v3, AAD `device_commands.payload`): the envelope to store.
///
/// # Errors
/// [`ApiError::Validation`] naming `body.*` fields; 500 when encryption fails.
pub fn seal_command(
    state: &AppState,
    id: CommandId,
    command_type: &str,
    payload: Option<&Value>,
) -> Result<String, ApiError> {
    let payload = payload
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    check_command(id, command_type, &payload)?;
    let field = Field::new("device_commands", "payload").map_err(ApiError::internal)?;
    state
        .secrets
        .encrypt(&payload.to_string(), &field)
        .map_err(ApiError::internal)
}
