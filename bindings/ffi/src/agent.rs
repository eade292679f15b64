//! The agent wire protocol (SPEC 8): decode and validate any message or frame, returning the
//! typed message or the list of issues, the JSON Schemas, and the redaction of secrets in
//! command output (SPEC 8.5).

use breeze_agent_proto::MessageKind;
use breeze_agent_proto::golden::{expected_binary_outcome, expected_outcome};

use crate::error::{FfiError, FfiResult, to_json};

fn kind(name: &str) -> FfiResult<MessageKind> {
    MessageKind::from_name(name)
        .ok_or_else(|| FfiError::input(format!("unknown agent message kind `{name}`")))
}

/// Every message kind (`enroll_request`, `heartbeat_request`, `agent_frame`, ...).
#[must_use]
pub fn agent_message_kinds() -> Vec<String> {
    MessageKind::ALL
        .iter()
        .map(|k| k.name().to_owned())
        .collect()
}

/// Decodes and validates `input` as a message of `kind`: `{"valid": true, "message",
/// "dropped"}` or `{"valid": false, "error", "issues": [{"path", "code", "message"}],
/// "totalIssues", "receivedType"}`.
///
/// # Errors
/// `invalid_input` for an unknown kind (a bad message is a result, not an error).
pub fn agent_decode(kind_name: &str, input: &[u8]) -> FfiResult<serde_json::Value> {
    Ok(expected_outcome(kind(kind_name)?, input))
}

/// Decodes a binary WebSocket frame: `{"valid": true, "kind", "sessionId", "dataHex"}` or
/// `{"valid": false, "error"}`.
#[must_use]
pub fn agent_decode_binary(input: &[u8]) -> serde_json::Value {
    expected_binary_outcome(input)
}

/// The JSON Schema of messages of `kind`.
///
/// # Errors
/// `invalid_input` for an unknown kind.
pub fn agent_schema(kind_name: &str) -> FfiResult<serde_json::Value> {
    to_json(&kind(kind_name)?.schema())
}

/// Replaces PEM private-key blocks and agent tokens (`brz_` + at least 32 hex digits) in a
/// command's output, exactly as the server does before storing it (SPEC 8.5): for showing
/// output that did not come through the server's store.
#[must_use]
pub fn agent_redact_secrets(text: &str) -> String {
    breeze_agent_proto::redact_secrets(text)
}
