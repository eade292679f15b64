//! `POST /api/v1/commands/bulk`: one command for many devices at once (a script for a whole
//! site, a patch scan for a fleet).
//!
//! All or nothing: every device must be visible to the caller (row-level security and the
//! caller's site reach, checked in Rust too) and commandable, or nothing is queued. The
//! payload is validated once by the protocol crate and encrypted once; the commands are
//! inserted in one statement and share a batch id, which the audit entry of each
//! organization names (`device.command.bulk_execute`, with the device count). Each insert
//! notifies the agent hubs at commit, so connected agents get the command pushed at once.

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{CommandId, DeviceId, OrgId};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::agents::commands::seal_command;
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract;
use crate::http::route::{Access, Route, route};
use crate::state::AppState;
use crate::store::audit;
use crate::store::commands::{self, DeviceTarget, NewBatch};

/// Most devices one bulk request may target.
pub const MAX_BULK_DEVICES: usize = 10_000;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/commands/bulk",
            Access::Permission("devices:execute"),
            "queue one command for many devices (all or nothing)",
            queue_bulk,
        )
        .created::<QueuedBatch>()
        .errors(&[404, 409]),
    ]
}

/// `POST /api/v1/commands/bulk` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BulkCommandBody {
    /// Target devices (1 to 10,000, no duplicates).
    pub device_ids: Vec<DeviceId>,
    /// Command type (`run_script`).
    #[serde(rename = "type")]
    pub command_type: String,
    /// Payload object for the type.
    #[serde(default)]
    pub payload: Option<Value>,
}

impl extract::Validate for BulkCommandBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.device_ids.is_empty() || self.device_ids.len() > MAX_BULK_DEVICES {
            issues.push(FieldIssue::new("deviceIds", "must list 1 to 10000 devices"));
        }
        let mut seen = HashSet::with_capacity(self.device_ids.len());
        if let Some(i) = self.device_ids.iter().position(|d| !seen.insert(*d)) {
            issues.push(FieldIssue::new(format!("deviceIds.{i}"), "is listed twice"));
        }
        if breeze_agent_proto::CommandType::from_name(&self.command_type).is_none() {
            issues.push(FieldIssue::new("type", "is not a known command type"));
        }
        issues
    }
}

/// Every requested device as the caller reaches it, in request order: a device that is
/// missing, invisible or outside the caller's sites is 404 (whichever it is: no oracle),
/// one that cannot take commands is 409.
fn reachable_all(
    authed: &Authed,
    requested: &[DeviceId],
    found: Vec<DeviceTarget>,
) -> Result<Vec<DeviceTarget>, ApiError> {
    let mut by_id: BTreeMap<DeviceId, DeviceTarget> =
        found.into_iter().map(|t| (t.id, t)).collect();
    let mut out = Vec::with_capacity(requested.len());
    for id in requested {
        let target = by_id.remove(id).ok_or(ApiError::NotFound)?;
        if !authed.ctx.can_access_site(target.org_id, target.site_id) {
            return Err(ApiError::NotFound);
        }
        out.push(target);
    }
    if out
        .iter()
        .any(|t| t.status == "quarantined" || t.status == "decommissioned")
    {
        return Err(ApiError::Conflict("device_not_commandable"));
    }
    Ok(out)
}

async fn queue_bulk(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Json(body): extract::Json<BulkCommandBody>,
) -> Result<Response, ApiError> {
    let batch_id = Uuid::new_v4();
    // one validation and one encryption for the whole batch
    let envelope = seal_command(
        &state,
        CommandId::new_random(),
        &body.command_type,
        body.payload.as_ref(),
    )?;

    let mut tx = authed.begin(&state).await?;
    let found = commands::device_targets(&mut tx, &body.device_ids).await?;
    let targets = reachable_all(&authed, &body.device_ids, found)?;
    let planned: Vec<(CommandId, DeviceTarget)> = targets
        .into_iter()
        .map(|t| (CommandId::new_random(), t))
        .collect();
    let inserted = commands::insert_batch(
        &mut tx,
        &NewBatch {
            batch_id,
            commands: &planned,
            command_type: &body.command_type,
            payload_envelope: &envelope,
            created_by: authed.user_id(),
        },
    )
    .await?;
    if usize::try_from(inserted).ok() != Some(planned.len()) {
        return Err(ApiError::internal("bulk insert count mismatch"));
    }
    // one entry per organization, heads locked in id order (no lock-order deadlock)
    let mut per_org: BTreeMap<OrgId, usize> = BTreeMap::new();
    for (_, t) in &planned {
        *per_org.entry(t.org_id).or_default() += 1;
    }
    for (org, count) in per_org {
        let event = authed
            .event(&state, "device.command.bulk_execute", AuditResult::Success)?
            .resource_type("device_command_batch")
            .resource_id(batch_id.to_string())
            .details(&json!({"type": body.command_type, "deviceCount": count}))
            .build()
            .map_err(ApiError::internal)?;
        audit::append(&mut tx, Some(org), event).await?;
    }
    tx.commit().await?;
    let commands: Vec<BatchCommand> = planned
        .iter()
        .map(|(id, t)| BatchCommand {
            id: (*id).into(),
            device_id: t.id.into(),
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(QueuedBatch {
            batch_id,
            command_type: body.command_type,
            status: "pending",
            count: commands.len(),
            commands,
        }),
    )
        .into_response())
}

/// One command of a batch.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchCommand {
    /// Command id.
    pub id: Uuid,
    /// Its device.
    pub device_id: Uuid,
}

/// A batch just queued: one command per device.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedBatch {
    /// Batch id.
    pub batch_id: Uuid,
    /// The command type.
    #[serde(rename = "type")]
    pub command_type: String,
    /// Always `pending`.
    pub status: &'static str,
    /// How many commands.
    pub count: usize,
    /// The commands.
    pub commands: Vec<BatchCommand>,
}
