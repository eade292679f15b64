//! Agent authentication (SPEC 8.2) for every `/api/v1/agents/{agentId}/*` route declared
//! [`Access::Agent`](super::route::Access::Agent) and for the agent WebSocket.
//!
//! Order: bearer `brz_` format -> device by agent id -> token suspended -> credentials
//! missing (`re_enrollment_required`) -> current, pending (unexpired), previous (in grace)
//! hash for the agent role, then the watchdog role (constant-time) -> decommissioned or
//! quarantined: 403 -> per device+IP limit -> source-IP change (audited, de-duplicated per
//! device+IP for 24 h) -> per-agent limit -> per-organization limit -> tenant state
//! (`offboarding` keeps the HTTP agent routes, not the WebSocket) -> the response carries
//! `x-token-rotation-required: true` when the previous token was used.
//!
//! Agent-facing errors are [`HttpErrorBody`]s (`{"error", "code"}`) so the agent can act on
//! the reason. The lookups run in a short system-scope transaction closed before the
//! handler opens the agent's own (organization scope, its site only).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use breeze_agent_proto::http::{ErrorReason, HttpErrorBody, TOKEN_ROTATION_REQUIRED_HEADER};

use super::authn::client_meta;
pub use crate::agents::auth::{AgentAuthed, Lane, TokenGeneration, TokenRole, authenticate};
pub use crate::agents::error::AgentError;
use crate::state::AppState;

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let reason = self.reason();
        let status = match &self {
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::from_u16(reason.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        if let Self::Internal(cause) = &self {
            tracing::error!(cause = %cause, "agent route internal error");
        }
        let retry = match &self {
            Self::RateLimited(secs) => Some(*secs),
            _ => None,
        };
        let mut body = HttpErrorBody::new(reason);
        if let Self::Invalid(issues) = self {
            body.issues = issues
                .into_iter()
                .take(breeze_agent_proto::limits::MAX_ISSUES)
                .collect();
        }
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

/// The agent id of an agent path (`/api/v1/agents/{agentId}/...` or
/// `/api/v1/agent-ws/{agentId}/ws`).
#[must_use]
pub fn agent_id_of_path(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/api/v1/agents/")
        .or_else(|| path.strip_prefix("/api/v1/agent-ws/"))?;
    rest.split('/').next()
}

/// The bearer token of a request, if any (never from a query string).
#[must_use]
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The guard of [`Access::Agent`](super::route::Access::Agent) routes: authenticates,
/// inserts [`AgentAuthed`], and flags the response when the previous token was used.
pub async fn guard(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let client = client_meta(&state, peer.ip(), req.headers());
    let path = req.uri().path().to_owned();
    let Some(agent_id) = agent_id_of_path(&path) else {
        return AgentError::Reason(ErrorReason::InvalidToken).into_response();
    };
    let lane = if path.starts_with("/api/v1/agent-ws/") {
        Lane::WebSocket
    } else {
        Lane::Http
    };
    // admission before any database work; held until the response is ready, unless the
    // handler gives it back early (see `AdmissionSlot`)
    let slot = match state.agent_load.admit().await {
        Ok(p) => p,
        Err(retry_after) => {
            crate::ops::metrics::global().record_agent_admission_refused();
            return AgentError::RateLimited(retry_after).into_response();
        }
    };
    let authed = match authenticate(
        &state,
        agent_id,
        bearer_token(req.headers()),
        client.clone(),
        lane,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let previous = authed.generation == TokenGeneration::Previous;
    req.extensions_mut().insert(client);
    req.extensions_mut().insert(authed);
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    drop(slot);
    if previous {
        response.headers_mut().insert(
            TOKEN_ROTATION_REQUIRED_HEADER,
            HeaderValue::from_static("true"),
        );
    }
    response
}
