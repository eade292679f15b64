//! The agent wire protocol (SPEC 8): decode and validate any message or frame, returning the
//! typed message or the list of issues, the JSON Schemas, the redaction of secrets in
//! command output (SPEC 8.5), and the remote-session checks of SPEC 12 (the remote path rule
//! and file content against its SHA-256).

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

/// Checks a remote file path against the SPEC 12 rule (absolute, at most 2,048 bytes, no NUL,
/// no `..` segment): `None` when allowed, else the stable code of the first rule broken
/// (`path_empty`, `path_too_long`, `path_nul`, `path_relative`, `path_dot_dot`).
#[must_use]
pub fn agent_check_remote_path(path: &str) -> Option<&'static str> {
    breeze_agent_proto::remote_path::check(path)
        .err()
        .map(breeze_agent_proto::PathError::code)
}

/// Checks file content (standard base64) against its SHA-256 (64 lowercase hex digits) and,
/// when given, its size, exactly as both ends of a file transfer do (SPEC 12, at most 4 MiB
/// decoded): `{"ok": true}` or `{"ok": false, "code"}` with `content_invalid`,
/// `file_too_large` or `digest_mismatch`.
#[must_use]
pub fn agent_file_content_verify(
    content_base64: &str,
    sha256: &str,
    size: Option<u64>,
) -> serde_json::Value {
    match breeze_agent_proto::file::decode_checked(content_base64, sha256, size) {
        Ok(_) => serde_json::json!({ "ok": true }),
        Err(e) => serde_json::json!({ "ok": false, "code": e.code() }),
    }
}
