//! MCP sessions (SPEC 14): opened by `initialize`, named by the `Mcp-Session-Id` header,
//! kept in PostgreSQL (every replica sees them) with an idle TTL, at most
//! [`super::MAX_SESSIONS_PER_KEY`] live per key, and bound to the key that opened it: the
//! id presented with another key is refused (403, -32001) and audited, never served.
//! The id is a 48-character random token; only its SHA-256 is stored. The key's use
//! (`last_used_at`, `usage_count`) is recorded in the same commit as the session's touch.

use axum::http::HeaderMap;
use breeze_core::audit::AuditResult;
use breeze_crypto::credentials::SessionToken;
use serde_json::{Value, json};

use super::caller::McpCaller;
use super::jsonrpc::RpcError;
use super::{MAX_SESSIONS_PER_KEY, PROTOCOL_VERSIONS};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::audit as store_audit;
use crate::store::mcp as store;
use crate::store::principal;

/// The session header.
pub const HEADER: &str = "mcp-session-id";

fn api<E: Into<ApiError>>(e: E) -> RpcError {
    RpcError::internal(e.into())
}

const LATEST: &str = "2025-11-25";

/// The version answered to a client asking for `requested`: the same when spoken here,
/// else the newest.
#[must_use]
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| PROTOCOL_VERSIONS.iter().find(|v| **v == r).copied())
        .unwrap_or(LATEST)
}

/// `initialize`: opens a session for the key and answers the server's capabilities.
/// Returns the new session id (for the response header) and the result.
///
/// # Errors
/// -32029 (HTTP 429) at the per-key session cap; -32603 on a store failure.
pub async fn initialize(
    state: &AppState,
    caller: &McpCaller,
    params: &Value,
) -> Result<(String, Value), RpcError> {
    let version = negotiate(params.get("protocolVersion").and_then(Value::as_str));
    let client_name = params
        .pointer("/clientInfo/name")
        .and_then(Value::as_str)
        .map(|n| n.chars().take(200).collect::<String>());
    let token = SessionToken::generate().map_err(|e| RpcError::internal(ApiError::internal(e)))?;
    let hash = token.hash().to_hex();
    let mut tx = caller.authed.begin(state).await.map_err(api)?;
    let opened = store::open_session(
        &mut tx,
        &hash,
        caller.org_id,
        caller.key_id,
        version,
        client_name.as_deref(),
        state.config.mcp.session_ttl_secs,
        MAX_SESSIONS_PER_KEY,
    )
    .await
    .map_err(api)?;
    let (result, code) = if opened {
        (AuditResult::Success, None)
    } else {
        (AuditResult::Denied, Some("session_cap"))
    };
    let details = json!({"protocolVersion": version, "client": client_name, "code": code});
    audit(
        &mut tx,
        state,
        caller,
        "mcp.session.open",
        result,
        &details,
        code,
    )
    .await?;
    principal::touch_api_key(&mut tx, caller.key_id)
        .await
        .map_err(api)?;
    tx.commit().await.map_err(api)?;
    if !opened {
        return Err(RpcError::rate_limited("session_cap"));
    }
    let result = json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "breeze-server", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Breeze RMM tools. High-risk tools return approval_required: a human \
                         approves in Breeze, then call the tool again with the same arguments \
                         and the approvalId.",
    });
    Ok((token.expose_secret().to_owned(), result))
}

/// Writes a session event about the caller's key in its organization's chain, in `tx`.
#[allow(clippy::too_many_arguments, reason = "one audit entry's facts")]
async fn audit(
    tx: &mut crate::store::ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    action: &str,
    result: AuditResult,
    details: &Value,
    code: Option<&str>,
) -> Result<(), RpcError> {
    let mut ev = caller
        .authed
        .event(state, action, result)
        .map_err(RpcError::internal)?
        .resource_type("api_key")
        .resource_id(caller.key_id.to_string())
        .details(details);
    if let Some(code) = code {
        ev = ev.error_message(code);
    }
    let ev = ev
        .build()
        .map_err(|e| RpcError::internal(ApiError::internal(e)))?;
    store_audit::append(tx, Some(caller.org_id), ev)
        .await
        .map_err(api)?;
    Ok(())
}

fn presented(headers: &HeaderMap) -> Result<SessionToken, RpcError> {
    let raw = headers
        .get(HEADER)
        .ok_or_else(|| RpcError::invalid_request("missing_session"))?
        .to_str()
        .map_err(|_| RpcError::session_not_found())?;
    SessionToken::parse(raw).map_err(|_| RpcError::session_not_found())
}

/// The caller's live session named by the request (its TTL extended).
///
/// # Errors
/// -32600 (400) without a session header; 404 for an unknown or lapsed session; 403
/// -32001 for a session of another key (audited in the caller's organization).
pub async fn resume(
    state: &AppState,
    caller: &McpCaller,
    headers: &HeaderMap,
) -> Result<(), RpcError> {
    let token = presented(headers)?;
    let hash = token.hash().to_hex();
    let mut tx = caller.authed.begin(state).await.map_err(api)?;
    let row = store::touch_session(&mut tx, &hash, state.config.mcp.session_ttl_secs)
        .await
        .map_err(api)?;
    match row {
        Some(key) if key == caller.key_id => {
            // the key's use (`last_used_at`) is recorded in this same commit
            principal::touch_api_key(&mut tx, caller.key_id)
                .await
                .map_err(api)?;
            tx.commit().await.map_err(api)?;
            Ok(())
        }
        // another key of the same organization: the update above touched it; undo
        Some(_) => {
            drop(tx);
            refuse_foreign(state, caller).await
        }
        None => {
            drop(tx);
            // a live session of a key of another organization is invisible to this
            // context: look once in system scope, to refuse and audit rather than 404
            let mut sys = state
                .store
                .begin_system("mcp session owner")
                .await
                .map_err(api)?;
            let owner = store::session_owner(&mut sys, &hash).await.map_err(api)?;
            drop(sys);
            match owner {
                Some(key) if key != caller.key_id => refuse_foreign(state, caller).await,
                _ => Err(RpcError::session_not_found()),
            }
        }
    }
}

async fn refuse_foreign(state: &AppState, caller: &McpCaller) -> Result<(), RpcError> {
    let mut tx = caller.authed.begin(state).await.map_err(api)?;
    let code = "session_of_another_key";
    let details = json!({"code": code});
    audit(
        &mut tx,
        state,
        caller,
        "mcp.session.refused",
        AuditResult::Denied,
        &details,
        Some(code),
    )
    .await?;
    tx.commit().await.map_err(api)?;
    Err(RpcError::foreign_session())
}

/// `DELETE /api/v1/mcp`: ends the caller's session.
///
/// # Errors
/// As [`resume`].
pub async fn end(
    state: &AppState,
    caller: &McpCaller,
    headers: &HeaderMap,
) -> Result<(), RpcError> {
    resume(state, caller, headers).await?;
    let token = presented(headers)?;
    let mut tx = caller.authed.begin(state).await.map_err(api)?;
    store::end_session(&mut tx, &token.hash().to_hex(), caller.key_id)
        .await
        .map_err(api)?;
    tx.commit().await.map_err(api)?;
    Ok(())
}
