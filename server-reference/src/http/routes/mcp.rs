//! `/api/v1/mcp`: MCP over Streamable HTTP (SPEC 14). `POST` carries one JSON-RPC message
//! and is answered with `application/json` (a notification: 202, no body); `GET` (a
//! server-initiated stream) is not offered (405, as MCP allows); `DELETE` ends the session.
//! Authentication, sessions and tools are `crate::mcp`'s.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::audit::events::ClientMeta;
use crate::http::route::{Access, Route, route};
use crate::mcp::jsonrpc::{self, RpcError};
use crate::mcp::{MAX_BODY_BYTES, PROTOCOL_VERSIONS, caller, session, tools};
use crate::state::AppState;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/mcp",
            Access::AiKey,
            "MCP (Streamable HTTP): one JSON-RPC request or notification",
            post_message,
        )
        .body::<jsonrpc::RequestDoc>()
        .ok::<jsonrpc::AnswerDoc>()
        .answers(202, None, "a notification or response was accepted (no body)")
        .errors(&[404])
        .errors_as::<jsonrpc::ErrorAnswer>()
        .describe("MCP Streamable HTTP (protocol versions 2025-11-25, 2025-06-18, 2025-03-26). Send `Accept: application/json, text/event-stream`; after `initialize` send the `Mcp-Session-Id` the server answered and `MCP-Protocol-Version`. Errors of a well-formed call answer 200 with a JSON-RPC error; authentication and limits also carry their HTTP status."),
        route(
            Method::GET,
            "/api/v1/mcp",
            Access::AiKey,
            "MCP: server-initiated stream (not offered: 405)",
            no_stream,
        )
        .answers(405, None, "no server-initiated stream is offered (`Allow: POST, DELETE`)")
        .errors_as::<jsonrpc::ErrorAnswer>(),
        route(
            Method::DELETE,
            "/api/v1/mcp",
            Access::AiKey,
            "MCP: end the session",
            end_session,
        )
        .no_content()
        .errors(&[400, 404])
        .errors_as::<jsonrpc::ErrorAnswer>(),
    ]
}

/// The requests served after `initialize`.
const METHODS: &[&str] = &["ping", "tools/list", "tools/call"];

fn protocol_header_ok(headers: &HeaderMap) -> bool {
    headers
        .get("mcp-protocol-version")
        .is_none_or(|v| v.to_str().is_ok_and(|v| PROTOCOL_VERSIONS.contains(&v)))
}

async fn post_message(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let null = Value::Null;
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let mut e = RpcError::invalid_request("body_too_large");
        e.status = StatusCode::PAYLOAD_TOO_LARGE;
        return e.respond(&null);
    };
    let caller = match caller::authenticate(&state, &headers, client).await {
        Ok(c) => c,
        Err(e) => return e.respond(&null),
    };
    let message = match jsonrpc::parse(&bytes) {
        Ok(m) => m,
        Err(e) => return e.respond(&null),
    };
    let id = message.id.clone().unwrap_or(Value::Null);
    if message.method == "initialize" {
        if message.id.is_none() {
            return RpcError::invalid_request("initialize_is_a_request").respond(&id);
        }
        return match session::initialize(&state, &caller, &message.params).await {
            Ok((sid, result)) => {
                let mut response = axum::Json(jsonrpc::result(&id, result)).into_response();
                if let Ok(v) = HeaderValue::from_str(&sid) {
                    response.headers_mut().insert(session::HEADER, v);
                }
                response
            }
            Err(e) => e.respond(&id),
        };
    }
    // a method this server does not have (a newer client's `server/discover` probe, for
    // one) is -32601 whatever the session, so the client falls back to `initialize`
    let notification = message.id.is_none();
    if !notification && !METHODS.contains(&message.method.as_str()) {
        return RpcError::method_not_found().respond(&id);
    }
    if !protocol_header_ok(&headers) {
        return RpcError::invalid_request("unsupported_protocol_version").respond(&id);
    }
    if let Err(e) = session::resume(&state, &caller, &headers).await {
        return e.respond(&id);
    }
    let Some(request_id) = message.id else {
        // notifications (initialized, cancelled, ...) need no answer
        return StatusCode::ACCEPTED.into_response();
    };
    let outcome = match message.method.as_str() {
        "ping" => Ok(serde_json::json!({})),
        "tools/list" => Ok(tools::list(&caller)),
        "tools/call" => tools::call(&state, &caller, &message.params).await,
        _ => Err(RpcError::method_not_found()),
    };
    match outcome {
        Ok(result) => axum::Json(jsonrpc::result(&request_id, result)).into_response(),
        Err(e) => e.respond(&request_id),
    }
}

async fn no_stream() -> Response {
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    response
}

async fn end_session(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    headers: HeaderMap,
) -> Response {
    let null = Value::Null;
    let caller = match caller::authenticate(&state, &headers, client).await {
        Ok(c) => c,
        Err(e) => return e.respond(&null),
    };
    match session::end(&state, &caller, &headers).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.respond(&null),
    }
}
