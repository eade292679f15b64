//! Agent routes (SPEC 8): enrollment, heartbeat, command results, token rotation. Thin
//! adapters over the agent service (`crate::agents`): decode the body with
//! `breeze-agent-proto` (size checked before parsing, strict shapes, its limits), call the
//! service, render. Agent errors are the protocol's `HttpErrorBody`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use breeze_agent_proto::Message as _;
use breeze_agent_proto::enrollment::ENROLLMENT_SECRET_HEADER;
use breeze_agent_proto::enrollment::{EnrollRequest, EnrollResponse};
use breeze_agent_proto::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use breeze_agent_proto::http::ErrorReason;
use breeze_agent_proto::limits::{
    MAX_COMMAND_RESULT_BODY_BYTES, MAX_ENROLL_BODY_BYTES, MAX_HEARTBEAT_BODY_BYTES,
    MAX_ROTATION_BODY_BYTES,
};
use breeze_agent_proto::result::CommandResult;
use breeze_agent_proto::rotation::{
    ConfirmRotationRequest, ConfirmRotationResponse, RotateTokenRequest, RotateTokenResponse,
};
use breeze_agent_proto::signing::{AgentKeyRequest, AgentKeyResponse};
use breeze_core::tenancy::CommandId;
use serde::Deserialize;

use crate::agents::admission::AdmissionSlot;
use crate::agents::auth::AgentAuthed;
use crate::agents::device_key::{self, KeyChange};
use crate::agents::enroll::Presented;
use crate::agents::error::AgentError;
use crate::agents::results::ResultOutcome;
use crate::agents::{enroll as enrollment, heartbeat as beat, results, rotation};
use crate::audit::events::ClientMeta;
use crate::error::ApiError;
use crate::http::agent_auth::{SignedRequest, bearer_token};
use crate::http::extract;
use crate::http::route::{Access, Route, route};
use crate::state::AppState;

/// The routes of this module.
#[must_use]
/// The routes of this module.
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/agents/enroll",
            Access::Public,
            "enroll an agent with an enrollment key",
            enroll,
        )
        .body::<EnrollRequest>()
        .created::<EnrollResponse>()
        .errors(&[401, 403, 409, 426])
        .layer(DefaultBodyLimit::max(MAX_ENROLL_BODY_BYTES)),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/heartbeat",
            Access::Agent,
            "agent heartbeat: facts in, commands out",
            heartbeat,
        )
        .body::<HeartbeatRequest>()
        .ok::<HeartbeatResponse>()
        .layer(DefaultBodyLimit::max(MAX_HEARTBEAT_BODY_BYTES)),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/commands/{commandId}/result",
            Access::Agent,
            "agent posts a command result",
            command_result,
        )
        .body::<CommandResult>()
        .ok::<ResultAccepted>()
        .layer(DefaultBodyLimit::max(MAX_COMMAND_RESULT_BODY_BYTES)),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/rotate-token",
            Access::Agent,
            "stage a token rotation (phase 1)",
            rotate_token,
        )
        .body::<RotateTokenRequest>()
        .ok::<RotateTokenResponse>()
        .layer(DefaultBodyLimit::max(MAX_ROTATION_BODY_BYTES)),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/rotate-token/confirm",
            Access::Agent,
            "confirm a staged token rotation (phase 2)",
            confirm_rotation,
        )
        .body::<ConfirmRotationRequest>()
        .ok::<ConfirmRotationResponse>()
        .layer(DefaultBodyLimit::max(MAX_ROTATION_BODY_BYTES)),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/key",
            Access::Agent,
            "bind the device to its Ed25519 key, once (signed with that key; SPEC 17)",
            register_key,
        )
        .body::<AgentKeyRequest>()
        .ok::<AgentKeyResponse>()
        .layer(DefaultBodyLimit::max(MAX_ROTATION_BODY_BYTES)),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/key/rotate",
            Access::Agent,
            "replace the device's key (signed with the current and the new key; SPEC 17)",
            rotate_key,
        )
        .body::<AgentKeyRequest>()
        .ok::<AgentKeyResponse>()
        .layer(DefaultBodyLimit::max(MAX_ROTATION_BODY_BYTES)),
    ]
}

async fn register_key(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    Extension(signed): Extension<SignedRequest>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<Json<AgentKeyResponse>, AgentError> {
    let proof = signed.proof("POST", &body, uri.path());
    device_key::change(&state, &authed, &proof, KeyChange::Register)
        .await
        .map(Json)
}

async fn rotate_key(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    Extension(signed): Extension<SignedRequest>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<Json<AgentKeyResponse>, AgentError> {
    let proof = signed.proof("POST", &body, uri.path());
    device_key::change(&state, &authed, &proof, KeyChange::Rotate)
        .await
        .map(Json)
}

async fn enroll(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AgentError> {
    let presented = Presented {
        secret_header: headers
            .get(ENROLLMENT_SECRET_HEADER)
            .and_then(|v| v.to_str().ok()),
        bearer: bearer_token(&headers),
    };
    let response = enrollment::enroll(&state, &client, presented, &body).await?;
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

async fn heartbeat(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    Extension(admission): Extension<AdmissionSlot>,
    body: Bytes,
) -> Result<Json<HeartbeatResponse>, AgentError> {
    let request = match HeartbeatRequest::decode(&body) {
        Ok(request) => request.into_message(),
        Err(e) => {
            // refused, but authenticated: its first source address is recorded all the same
            beat::record_unbatched_sighting(&state, &authed).await;
            return Err(AgentError::decode(&e));
        }
    };
    beat::process_heartbeat(&state, &authed, &request, Some(&admission))
        .await
        .map(Json)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ResultPath {
    #[serde(rename = "agentId")]
    _agent_id: String,
    command_id: CommandId,
}

async fn command_result(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    path: Result<extract::Path<ResultPath>, ApiError>,
    body: Bytes,
) -> Result<Response, AgentError> {
    let extract::Path(path) = path.map_err(|_| AgentError::Reason(ErrorReason::CommandNotFound))?;
    let result = CommandResult::decode(&body)
        .map_err(|e| AgentError::decode(&e))?
        .into_message();
    if result.command_id != path.command_id {
        return Err(AgentError::Invalid(vec![
            breeze_agent_proto::issue::Issue::new(
                "commandId",
                breeze_agent_proto::issue::IssueCode::InvalidValue,
                "does not match the path",
            ),
        ]));
    }
    match results::store_result(&state, &authed, result).await? {
        ResultOutcome::NotOwned => Err(AgentError::Reason(ErrorReason::CommandNotFound)),
        ResultOutcome::Recorded => Ok(Json(ResultAccepted {
            accepted: true,
            duplicate: None,
        })
        .into_response()),
        ResultOutcome::Duplicate => Ok(Json(ResultAccepted {
            accepted: true,
            duplicate: Some(true),
        })
        .into_response()),
    }
}

/// The answer to a command result: recorded (or already recorded: `duplicate`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ResultAccepted {
    /// Always `true`.
    pub accepted: bool,
    /// `true` when the same result was already recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}

async fn rotate_token(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    body: Bytes,
) -> Result<Json<RotateTokenResponse>, AgentError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    RotateTokenRequest::decode(body).map_err(|e| AgentError::decode(&e))?;
    rotation::stage(&state, &authed).await.map(Json)
}

async fn confirm_rotation(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    body: Bytes,
) -> Result<Json<ConfirmRotationResponse>, AgentError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    ConfirmRotationRequest::decode(body).map_err(|e| AgentError::decode(&e))?;
    rotation::confirm(&state, &authed).await.map(Json)
}
