//! Device command routes for users (SPEC 8.5): queue a command, list a device's commands,
//! read one. The command is validated and sealed by the agent service
//! (`crate::agents::commands::seal_command`).

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{CommandId, DeviceId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::agents::commands::seal_command;
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{self, PageOf, PageQuery};
use crate::http::route::{Access, Route, route};
use crate::state::AppState;
use crate::store::audit;
use crate::store::commands::{self, NewCommand};

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/devices/{deviceId}/commands",
            Access::Permission("devices:execute"),
            "queue a command for a device",
            queue_command,
        )
        .created::<QueuedCommand>()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/devices/{deviceId}/commands",
            Access::Permission("devices:read"),
            "list a device's commands",
            list_commands,
        )
        .ok::<PageOf<CommandOut>>(),
        route(
            Method::GET,
            "/api/v1/devices/{deviceId}/commands/{commandId}",
            Access::Permission("devices:read"),
            "read a command's status and result",
            get_command,
        )
        .ok::<CommandOut>(),
    ]
}

// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DevicePath {
    device_id: DeviceId,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DeviceCommandPath {
    device_id: DeviceId,
    command_id: CommandId,
}

/// `POST /api/v1/devices/{deviceId}/commands` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"type": "run_script", "payload": {"content": "uname -a", "language": "bash", "parameters": {}, "timeoutSeconds": 60}}))]
pub struct QueueCommandBody {
    /// Command type (`run_script`).
    #[serde(rename = "type")]
    pub command_type: String,
    /// Payload object for the type.
    #[serde(default)]
    pub payload: Option<Value>,
}

impl extract::Validate for QueueCommandBody {
    fn validate(&self) -> Vec<FieldIssue> {
        if breeze_agent_proto::CommandType::from_name(&self.command_type).is_none() {
            return vec![FieldIssue::new("type", "is not a known command type")];
        }
        // file content moves only through the file routes (SPEC 12): checked paths, digests
        // at both ends, nothing kept, and never readable with `devices:read`
        if crate::remote::files::FILE_COMMAND_TYPES.contains(&self.command_type.as_str()) {
            return vec![FieldIssue::new(
                "type",
                "file operations go through /api/v1/devices/{deviceId}/files",
            )];
        }
        Vec::new()
    }
}

/// A command as users see it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandOut {
    id: String,
    device_id: String,
    #[serde(rename = "type")]
    command_type: String,
    status: String,
    created_by: Option<String>,
    created_at: Option<String>,
    sent_at: Option<String>,
    completed_at: Option<String>,
    exit_code: Option<i32>,
    stdout: Option<String>,
    stderr: Option<String>,
    duration_ms: Option<i64>,
    error: Option<String>,
    result: Option<Value>,
}

fn rfc(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

impl From<commands::CommandView> for CommandOut {
    fn from(v: commands::CommandView) -> Self {
        Self {
            id: v.id.to_string(),
            device_id: v.device_id.to_string(),
            command_type: v.command_type,
            status: v.status,
            created_by: v.created_by.map(|u| u.to_string()),
            created_at: rfc(Some(v.created_at)),
            sent_at: rfc(v.sent_at),
            completed_at: rfc(v.completed_at),
            exit_code: v.exit_code,
            stdout: v.stdout,
            stderr: v.stderr,
            duration_ms: v.duration_ms,
            error: v.error,
            result: v.result.and_then(|r| serde_json::from_str(&r).ok()),
        }
    }
}

/// The device as the caller's context sees it: 404 outside their organizations or sites.
pub(crate) async fn reachable_device(
    tx: &mut crate::store::ScopedTx,
    device: DeviceId,
) -> Result<commands::DeviceTarget, ApiError> {
    commands::device_in_reach(tx, device)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn queue_command(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Json(body): extract::Json<QueueCommandBody>,
) -> Result<Response, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let device = reachable_device(&mut tx, path.device_id).await?;
    let id = queue_in(
        &mut tx,
        &state,
        &authed,
        &device,
        &body.command_type,
        body.payload.as_ref(),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(QueuedCommand {
            id: id.into(),
            device_id: device.id.into(),
            command_type: body.command_type,
            status: "pending",
        }),
    )
        .into_response())
}

/// A command just queued.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedCommand {
    /// Command id.
    pub id: uuid::Uuid,
    /// The device.
    pub device_id: uuid::Uuid,
    /// The command type.
    #[serde(rename = "type")]
    pub command_type: String,
    /// Always `pending`.
    pub status: &'static str,
}

/// Queues a command for a device the caller reaches, in the caller's transaction: sealed
/// by the agent service, refused for a quarantined or decommissioned device, audited
/// (`device.command.execute`). Shared by the REST route and the MCP `queue_script` tool.
///
/// # Errors
/// [`ApiError`]: 400 for a payload the command type refuses, 409
/// `device_not_commandable`, or a store failure.
pub(crate) async fn queue_in(
    tx: &mut crate::store::ScopedTx,
    state: &AppState,
    authed: &Authed,
    device: &commands::DeviceTarget,
    command_type: &str,
    payload: Option<&Value>,
) -> Result<CommandId, ApiError> {
    let id = CommandId::new_random();
    let envelope = seal_command(state, id, command_type, payload)?;
    if device.status == "quarantined" || device.status == "decommissioned" {
        return Err(ApiError::Conflict("device_not_commandable"));
    }
    commands::insert(
        tx,
        &NewCommand {
            id,
            org_id: device.org_id,
            site_id: device.site_id,
            device_id: device.id,
            command_type: command_type.to_owned(),
            payload_envelope: envelope,
            created_by: authed.user_id(),
        },
    )
    .await?;
    let event = authed
        .event(state, "device.command.execute", AuditResult::Success)?
        .resource_type("device_command")
        .resource_id(id.to_string())
        .details(&json!({"deviceId": device.id.to_string(), "type": command_type}))
        .build()
        .map_err(ApiError::internal)?;
    audit::append(tx, Some(device.org_id), event).await?;
    Ok(id)
}

async fn list_commands(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Query(query): extract::Query<PageQuery>,
) -> Result<Json<PageOf<CommandOut>>, ApiError> {
    let page = query.page()?;
    let mut tx = authed.begin(&state).await?;
    reachable_device(&mut tx, path.device_id).await?;
    let rows = commands::list(&mut tx, path.device_id, page.after, i64::from(page.limit)).await?;
    drop(tx);
    let items: Vec<CommandOut> = rows.into_iter().map(CommandOut::from).collect();
    Ok(Json(PageOf::from_fetched(items, page, |c| {
        c.id.parse::<uuid::Uuid>().unwrap_or_default()
    })))
}

async fn get_command(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DeviceCommandPath>,
) -> Result<Json<CommandOut>, ApiError> {
    let mut tx = authed.begin(&state).await?;
    reachable_device(&mut tx, path.device_id).await?;
    let view = commands::get(&mut tx, path.device_id, path.command_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    drop(tx);
    Ok(Json(CommandOut::from(view)))
}
