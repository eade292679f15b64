//! Remote session routes (SPEC 12): create a terminal session on a device, read it, get a
//! one-time ticket for its socket, end it, and replay its recording. The rules live in
//! `crate::remote::sessions`; the socket is `super::remote_ws`.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breeze_agent_proto::viewer::{TICKET_SUBPROTOCOL_PREFIX, VIEWER_SUBPROTOCOL};
use breeze_core::tenancy::{DeviceId, OrgId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract;
use crate::http::route::{Access, Route, route};
use crate::remote::sessions::{self, PERMISSION};
use crate::state::AppState;
use crate::store::remote::SessionRow;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/devices/{deviceId}/remote-sessions",
            Access::Permission(PERMISSION),
            "open a remote terminal session on a device",
            create,
        )
        .created::<SessionOut>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/remote-sessions/{sessionId}",
            Access::Permission(PERMISSION),
            "read one of your remote sessions",
            read,
        )
        .ok::<SessionOut>()
        .mfa_required(),
        route(
            Method::POST,
            "/api/v1/remote-sessions/{sessionId}/ticket",
            Access::Permission(PERMISSION),
            "get a one-time ticket for a remote session's socket",
            ticket,
        )
        .created::<TicketOut>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::DELETE,
            "/api/v1/remote-sessions/{sessionId}",
            Access::Permission(PERMISSION),
            "end one of your remote sessions",
            end,
        )
        .no_content()
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/remote-sessions/{sessionId}/recording",
            Access::Permission("audit:read"),
            "replay a remote session's recording (digest verified against the audit chain)",
            recording,
        )
        .errors(&[409])
        .answers(200, Some("application/x-asciicast"), "the session transcript (asciicast v2; `X-Transcript-SHA256`, `X-Transcript-Truncated`)")
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/orgs/{orgId}/remote-settings",
            Access::Permission("organizations:read"),
            "read an organization's remote session limits (its own and those in effect)",
            read_settings,
        )
        .ok::<SettingsOut>(),
        route(
            Method::PUT,
            "/api/v1/orgs/{orgId}/remote-settings",
            Access::Permission("organizations:write"),
            "set an organization's remote session limits (they can only tighten the server's)",
            write_settings,
        )
        .ok::<SettingsOut>()
        .mfa_required(),
    ]
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct OrgPath {
    org_id: OrgId,
}

/// `PUT /api/v1/orgs/{orgId}/remote-settings` body: `null` or absent keeps the server's.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsBody {
    /// Idle timeout, 10 to 14,400 seconds.
    #[serde(default)]
    pub idle_secs: Option<i32>,
    /// Maximum duration, 10 to 86,400 seconds.
    #[serde(default)]
    pub max_secs: Option<i32>,
}

impl extract::Validate for SettingsBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.idle_secs.is_some_and(|v| !(10..=14_400).contains(&v)) {
            issues.push(FieldIssue::new("idleSecs", "must be 10 to 14400"));
        }
        if self.max_secs.is_some_and(|v| !(10..=86_400).contains(&v)) {
            issues.push(FieldIssue::new("maxSecs", "must be 10 to 86400"));
        }
        issues
    }
}

/// An organization's remote session limits.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SettingsOut {
    idle_secs: Option<i32>,
    max_secs: Option<i32>,
    effective_idle_secs: u64,
    effective_max_secs: u64,
}

impl From<sessions::OrgSettings> for SettingsOut {
    fn from(s: sessions::OrgSettings) -> Self {
        Self {
            idle_secs: s.idle_secs,
            max_secs: s.max_secs,
            effective_idle_secs: s.effective_idle_secs,
            effective_max_secs: s.effective_max_secs,
        }
    }
}

async fn read_settings(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<OrgPath>,
) -> Result<Json<SettingsOut>, ApiError> {
    Ok(Json(
        sessions::org_settings(&state, &authed, path.org_id)
            .await?
            .into(),
    ))
}

async fn write_settings(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<OrgPath>,
    extract::Json(body): extract::Json<SettingsBody>,
) -> Result<Json<SettingsOut>, ApiError> {
    let settings =
        sessions::set_org_settings(&state, &authed, path.org_id, body.idle_secs, body.max_secs)
            .await?;
    Ok(Json(settings.into()))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DevicePath {
    device_id: DeviceId,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SessionPath {
    session_id: Uuid,
}

/// `POST /api/v1/devices/{deviceId}/remote-sessions` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBody {
    /// Only `terminal`.
    #[serde(rename = "type")]
    pub session_type: String,
    /// Columns (1 to 1,000; default 80).
    #[serde(default)]
    pub cols: Option<u16>,
    /// Rows (1 to 1,000; default 24).
    #[serde(default)]
    pub rows: Option<u16>,
}

impl extract::Validate for CreateBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.session_type != "terminal" {
            issues.push(FieldIssue::new("type", "must be `terminal`"));
        }
        for (name, v) in [("cols", self.cols), ("rows", self.rows)] {
            if v.is_some_and(|v| !(1..=1000).contains(&v)) {
                issues.push(FieldIssue::new(name, "must be 1 to 1000"));
            }
        }
        issues
    }
}

/// A remote session as its owner sees it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOut {
    id: Uuid,
    device_id: String,
    user_id: String,
    #[serde(rename = "type")]
    session_type: &'static str,
    status: String,
    cols: i32,
    rows: i32,
    created_at: String,
    connect_by: String,
    connected_at: Option<String>,
    ended_at: Option<String>,
    end_reason: Option<String>,
    bytes_in: i64,
    bytes_out: i64,
    transcript_sha256: Option<String>,
    truncated: bool,
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl From<SessionRow> for SessionOut {
    fn from(r: SessionRow) -> Self {
        Self {
            id: r.id,
            device_id: r.device_id.to_string(),
            user_id: r.user_id.to_string(),
            session_type: "terminal",
            status: r.status,
            cols: r.cols,
            rows: r.rows,
            created_at: rfc(r.created_at),
            connect_by: rfc(r.connect_by),
            connected_at: r.connected_at.map(rfc),
            ended_at: r.ended_at.map(rfc),
            end_reason: r.end_reason,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
            transcript_sha256: r.transcript_sha256,
            truncated: r.truncated,
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Json(body): extract::Json<CreateBody>,
) -> Result<Response, ApiError> {
    let session = sessions::create(
        &state,
        &authed,
        path.device_id,
        body.cols.unwrap_or(80),
        body.rows.unwrap_or(24),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(SessionOut::from(session))).into_response())
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<SessionPath>,
) -> Result<Json<SessionOut>, ApiError> {
    Ok(Json(
        sessions::get(&state, &authed, path.session_id)
            .await?
            .into(),
    ))
}

/// The ticket answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct TicketOut {
    ticket: String,
    expires_at: String,
    /// The subprotocols to offer, in order: the terminal protocol, then the ticket.
    protocols: [String; 2],
    url: String,
}

async fn ticket(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<SessionPath>,
) -> Result<Response, ApiError> {
    let (ticket, expires_at) = sessions::issue_ticket(&state, &authed, path.session_id).await?;
    let out = TicketOut {
        ticket: ticket.expose().to_owned(),
        expires_at,
        protocols: [
            VIEWER_SUBPROTOCOL.to_owned(),
            format!("{TICKET_SUBPROTOCOL_PREFIX}{}", ticket.expose()),
        ],
        url: format!("/api/v1/remote-sessions/{}/ws", path.session_id),
    };
    let mut response = (StatusCode::CREATED, Json(out)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn end(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<SessionPath>,
) -> Result<StatusCode, ApiError> {
    sessions::end_by_request(&state, &authed, path.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn recording(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<SessionPath>,
) -> Result<Response, ApiError> {
    let replay = crate::remote::transcript::replay(&state, &authed, path.session_id).await?;
    let mut response = replay.transcript.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-asciicast"),
    );
    if let Ok(v) = HeaderValue::from_str(&replay.sha256) {
        headers.insert("x-transcript-sha256", v);
    }
    headers.insert(
        "x-transcript-truncated",
        HeaderValue::from_static(if replay.truncated { "true" } else { "false" }),
    );
    Ok(response)
}
