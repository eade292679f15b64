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
//! Agent-facing errors are [`HttpErrorBody`]s (`{"error", "code", "message"}`) so the
//! agent can act on the reason. The lookups run in a short system-scope transaction closed
//! before the handler opens the agent's own (organization scope, its site only).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use breeze_agent_proto::http::{ErrorReason, HttpErrorBody, TOKEN_ROTATION_REQUIRED_HEADER};

use breeze_crypto::httpsig::profile::ReceivedHeaders;

use super::authn::client_meta;
pub use crate::agents::auth::{
    AgentAuthed, Lane, Sighting, TokenGeneration, TokenRole, authenticate,
};
use crate::agents::binding::Proof;
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
        // the text of the status actually answered (503 for an outage, not the reason's 500)
        body.message = Some(crate::error::generic_message(status).to_owned());
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

/// Where a first source address is recorded for a request to `path`: with the heartbeat's
/// batch for `POST /api/v1/agents/{agentId}/heartbeat` (the route that hands it there),
/// in authentication's own transaction for every other route.
#[must_use]
pub fn sighting_of(method: &str, path: &str, agent_id: &str) -> Sighting {
    let heartbeat = method == "POST"
        && path
            .strip_prefix("/api/v1/agents/")
            .and_then(|rest| rest.strip_prefix(agent_id))
            == Some("/heartbeat");
    if heartbeat {
        Sighting::WithHeartbeat
    } else {
        Sighting::Immediate
    }
}

/// The bearer token of a request, if any (never from a query string).
#[must_use]
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The signature fields of an agent request and the target URI it is verified against
/// (request extension: the key rotation verifies its second signature with it).
///
/// The target URI is rebuilt as `scheme://authority/path?query`: the authority from the
/// request (`Host`), the scheme `https` when the server serves TLS itself, else `http` or
/// the `X-Forwarded-Proto` (`http`/`https`) of a trusted proxy. A proxy in front of Breeze must keep the `Host` the agent addressed.
#[derive(Debug, Clone, Default)]
pub struct SignedRequest {
    /// The target URI.
    pub target_uri: String,
    /// `Signature-Input` (field lines joined with `, `).
    pub signature_input: Option<String>,
    /// `Signature`.
    pub signature: Option<String>,
    /// `Content-Digest`.
    pub content_digest: Option<String>,
}

fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

impl SignedRequest {
    /// The fields of `req`, as received from `peer`.
    #[must_use]
    pub fn of(state: &AppState, peer: std::net::IpAddr, req: &Request) -> Self {
        use breeze_agent_proto::signing::{
            CONTENT_DIGEST_HEADER, SIGNATURE_HEADER, SIGNATURE_INPUT_HEADER,
        };
        let headers = req.headers();
        let signature_input = joined(headers, SIGNATURE_INPUT_HEADER);
        let signature = joined(headers, SIGNATURE_HEADER);
        if signature_input.is_none() && signature.is_none() {
            // nothing to verify: no target URI is built for an unsigned request
            return Self::default();
        }
        let forwarded_proto = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .filter(|p| matches!(*p, "http" | "https"));
        let scheme = match forwarded_proto {
            _ if state.config.tls.is_some() => "https",
            Some(p) if state.proxies.is_trusted(peer) => p,
            _ => "http",
        };
        let authority = req
            .uri()
            .authority()
            .map(axum::http::uri::Authority::as_str)
            .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
            .unwrap_or_default();
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", axum::http::uri::PathAndQuery::as_str);
        Self {
            target_uri: format!("{scheme}://{authority}{path}"),
            signature_input,
            signature,
            content_digest: joined(headers, CONTENT_DIGEST_HEADER),
        }
    }

    /// Whether the request carries a signature field.
    #[must_use]
    pub const fn is_signed(&self) -> bool {
        self.signature_input.is_some() || self.signature.is_some()
    }

    /// The proof of a request with `method` and `body` to `path`.
    #[must_use]
    pub fn proof<'a>(&'a self, method: &'a str, body: &'a [u8], path: &'a str) -> Proof<'a> {
        Proof {
            method,
            path,
            target_uri: &self.target_uri,
            body,
            headers: self.received(),
            registering: method == "POST"
                && path.ends_with(breeze_agent_proto::signing::REGISTER_KEY_PATH),
        }
    }

    /// The signature fields as the verifier takes them.
    #[must_use]
    pub fn received(&self) -> ReceivedHeaders<'_> {
        ReceivedHeaders {
            content_digest: self.content_digest.as_deref(),
            signature_input: self.signature_input.as_deref(),
            signature: self.signature.as_deref(),
        }
    }
}

/// The guard of [`Access::Agent`](super::route::Access::Agent) routes: authenticates,
/// inserts [`AgentAuthed`], and flags the response when the previous token was used.
pub async fn guard(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
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
    // a signed request's body is read here, for its content digest (the outer layer has
    // already capped it at the largest agent route's limit; the handler's own limit applies
    // when it reads the buffered copy)
    let signed = SignedRequest::of(&state, peer.ip(), &req);
    let (parts, body) = req.into_parts();
    let (bytes, body) = if signed.is_signed() {
        match axum::body::to_bytes(body, super::hardening::MAX_BODY_LIMIT).await {
            Ok(bytes) => (bytes.clone(), axum::body::Body::from(bytes)),
            Err(_) => return AgentError::Reason(ErrorReason::PayloadTooLarge).into_response(),
        }
    } else {
        (axum::body::Bytes::new(), body)
    };
    let proof = signed.proof(parts.method.as_str(), &bytes, &path);
    let sighting = sighting_of(parts.method.as_str(), &path, agent_id);
    let authed = match authenticate(
        &state,
        agent_id,
        bearer_token(&parts.headers),
        &proof,
        client.clone(),
        lane,
        sighting,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    drop(bytes);
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(signed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_heartbeat_route_defers_a_first_sighting() {
        let id = "agent_abc";
        assert_eq!(
            sighting_of("POST", "/api/v1/agents/agent_abc/heartbeat", id),
            Sighting::WithHeartbeat
        );
        for (method, path) in [
            ("GET", "/api/v1/agents/agent_abc/heartbeat"),
            ("POST", "/api/v1/agents/agent_abc/heartbeat/x"),
            ("POST", "/api/v1/agents/agent_abc/commands/1/result"),
            ("POST", "/api/v1/agents/agent_abcd/heartbeat"),
            ("POST", "/api/v1/agents/other/heartbeat"),
            ("GET", "/api/v1/agent-ws/agent_abc/ws"),
        ] {
            assert_eq!(
                sighting_of(method, path, id),
                Sighting::Immediate,
                "{method} {path}"
            );
        }
    }
}
