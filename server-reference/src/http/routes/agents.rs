//! Agent routes (SPEC 8): enrollment, heartbeat, command results, token rotation, and the
//! user routes that queue commands and read their results.
//!
//! Agent bodies are decoded with `breeze-agent-proto` (size checked before parsing, strict
//! shapes, its limits); agent errors are its `HttpErrorBody`. Every agent-supplied string is
//! untrusted data: bounded by the protocol crate, redacted before storage where it may
//! carry secrets, and never rendered.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use breeze_agent_proto::command::Command;
use breeze_agent_proto::enrollment::{
    AgentConfig, ENROLLMENT_SECRET_HEADER, EnrollRequest, EnrollResponse, OsType,
};
use breeze_agent_proto::heartbeat::{HeartbeatRequest, HeartbeatResponse, HeartbeatStatus};
use breeze_agent_proto::http::ErrorReason;
use breeze_agent_proto::limits::{
    MAX_COMMAND_RESULT_BODY_BYTES, MAX_ENROLL_BODY_BYTES, MAX_HEARTBEAT_BODY_BYTES,
    MAX_ROTATION_BODY_BYTES,
};
use breeze_agent_proto::result::{CommandResult, CommandStatus};
use breeze_agent_proto::rotation::{
    ConfirmRotationRequest, ConfirmRotationResponse, RotateTokenRequest, RotateTokenResponse,
};
use breeze_agent_proto::secret::WireToken;
use breeze_agent_proto::{DecodeError, Message as _};
use breeze_core::audit::{Actor, AuditResult};
use breeze_core::tenancy::{CommandId, DeviceId, OrgId};
use breeze_crypto::credentials::{AgentId, AgentToken, EnrollmentKey, TokenHash};
use breeze_crypto::envelope::Field;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::agent_beats::BeatError;
use crate::agent_load::{AdmissionSlot, spread_retry_after};
use crate::config::Mode;
use crate::error::{ApiError, FieldIssue};
use crate::http::agent_auth::{AgentAuthed, AgentError, TokenGeneration, TokenRole};
use crate::http::authn::{Authed, ClientMeta, event_builder};
use crate::http::extract::{self, PageOf, PageQuery};
use crate::http::route::{Access, Route, route};
use crate::state::AppState;
use crate::store::commands::{self, NewCommand, RecordOutcome, StoredResult};
use crate::store::{ScopedTx, agents, audit, principal};

/// How long staged tokens wait for confirmation.
pub const PENDING_TTL: time::Duration = time::Duration::hours(1);
/// How long the previous tokens stay valid after confirmation.
pub const GRACE: time::Duration = time::Duration::minutes(5);
/// Longest stderr excerpt put in an audit entry.
pub const AUDIT_STDERR_CHARS: usize = 2_000;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/agents/enroll",
            Access::Public,
            "enroll an agent with an enrollment key",
            post(enroll).layer(DefaultBodyLimit::max(MAX_ENROLL_BODY_BYTES)),
        ),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/heartbeat",
            Access::Agent,
            "agent heartbeat: facts in, commands out",
            post(heartbeat).layer(DefaultBodyLimit::max(MAX_HEARTBEAT_BODY_BYTES)),
        ),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/commands/{commandId}/result",
            Access::Agent,
            "agent posts a command result",
            post(command_result).layer(DefaultBodyLimit::max(MAX_COMMAND_RESULT_BODY_BYTES)),
        ),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/rotate-token",
            Access::Agent,
            "stage a token rotation (phase 1)",
            post(rotate_token).layer(DefaultBodyLimit::max(MAX_ROTATION_BODY_BYTES)),
        ),
        route(
            Method::POST,
            "/api/v1/agents/{agentId}/rotate-token/confirm",
            Access::Agent,
            "confirm a staged token rotation (phase 2)",
            post(confirm_rotation).layer(DefaultBodyLimit::max(MAX_ROTATION_BODY_BYTES)),
        ),
        route(
            Method::POST,
            "/api/v1/devices/{deviceId}/commands",
            Access::Permission("devices:execute"),
            "queue a command for a device",
            post(queue_command),
        ),
        route(
            Method::GET,
            "/api/v1/devices/{deviceId}/commands",
            Access::Permission("devices:read"),
            "list a device's commands",
            get(list_commands),
        ),
        route(
            Method::GET,
            "/api/v1/devices/{deviceId}/commands/{commandId}",
            Access::Permission("devices:read"),
            "read a command's status and result",
            get(get_command),
        ),
    ]
}

fn decode_error(e: &DecodeError) -> AgentError {
    match e {
        DecodeError::TooLarge { .. } => AgentError::Reason(ErrorReason::PayloadTooLarge),
        other => AgentError::Invalid(other.issues()),
    }
}

fn ts(t: OffsetDateTime) -> breeze_agent_proto::ids::Timestamp {
    breeze_agent_proto::ids::Timestamp::new(t)
}

fn wire(token: &AgentToken) -> Result<WireToken, AgentError> {
    WireToken::parse(token.expose_secret()).map_err(AgentError::internal)
}

/// Three fresh tokens and their hashes.
struct TokenSet {
    agent: AgentToken,
    watchdog: AgentToken,
    helper: AgentToken,
}

impl TokenSet {
    fn generate() -> Result<Self, AgentError> {
        Ok(Self {
            agent: AgentToken::generate().map_err(AgentError::internal)?,
            watchdog: AgentToken::generate().map_err(AgentError::internal)?,
            helper: AgentToken::generate().map_err(AgentError::internal)?,
        })
    }

    fn hashes(&self) -> agents::TokenHashes {
        agents::TokenHashes {
            agent: self.agent.hash().to_hex(),
            watchdog: self.watchdog.hash().to_hex(),
            helper: self.helper.hash().to_hex(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Enrollment (SPEC 8.1)
// ---------------------------------------------------------------------------------------

/// Audits a refused enrollment (the system chain when the organization is unknown) and
/// returns the refusal.
async fn enroll_refused(
    state: &AppState,
    client: &ClientMeta,
    org: Option<OrgId>,
    key_id: Option<Uuid>,
    reason: ErrorReason,
    result: AuditResult,
) -> AgentError {
    match audit_enroll_refusal(state, client, org, key_id, reason.as_str(), result).await {
        Ok(()) => AgentError::Reason(reason),
        Err(e) => e,
    }
}

/// Appends one `agent.enroll` refusal with `reason` in its details (the path every
/// enrollment denial takes, so it can be aggregated in one place). Unauthenticated
/// callers reach it: it costs one append and reads nothing from the request body.
async fn audit_enroll_refusal(
    state: &AppState,
    client: &ClientMeta,
    org: Option<OrgId>,
    key_id: Option<Uuid>,
    reason: &'static str,
    result: AuditResult,
) -> Result<(), AgentError> {
    audit_enroll_refusal_with(state, client, org, key_id, reason, result, Value::Null).await
}

/// [`audit_enroll_refusal`] of a denial before any key was found (rate limit, malformed key):
/// no organization, so the system chain, aggregated per source and minute.
async fn audit_keyless_refusal(
    state: &AppState,
    client: &ClientMeta,
    reason: &'static str,
) -> Result<(), AgentError> {
    audit_enroll_refusal(state, client, None, None, reason, AuditResult::Denied).await
}

/// [`audit_enroll_refusal`] with more details (`extra`, an object, is merged in).
async fn audit_enroll_refusal_with(
    state: &AppState,
    client: &ClientMeta,
    org: Option<OrgId>,
    key_id: Option<Uuid>,
    reason: &'static str,
    result: AuditResult,
    extra: Value,
) -> Result<(), AgentError> {
    // without an organization the refusal goes to the system chain: aggregated per source
    // and minute (crate::failure_audit); the first of a window is written at once
    if org.is_none()
        && !client.first_failure_in_window(
            state,
            crate::failure_audit::Failure {
                action: "agent.enroll",
                reason,
                result,
                resource_type: "enrollment_key",
                error_message: None,
            },
        )
    {
        return Ok(());
    }
    let mut details = if org.is_none() {
        json!({"reason": reason, "count": 1})
    } else {
        json!({"reason": reason})
    };
    if let (Value::Object(extra), Some(d)) = (extra, details.as_object_mut()) {
        d.extend(extra);
    }
    let mut tx = state.store.begin_system("audit refused enrollment").await?;
    let mut builder = event_builder(state, Actor::System, client, "agent.enroll", result)?
        .resource_type("enrollment_key")
        .details(&details);
    if let Some(id) = key_id {
        builder = builder.resource_id(id.to_string());
    }
    let event = builder.build().map_err(AgentError::internal)?;
    audit::append(&mut tx, org, event).await?;
    tx.commit().await?;
    Ok(())
}

/// The audit reason of a malformed enrollment key (answered as the body error it is).
const KEY_MALFORMED: &str = "enrollment_key_malformed";
/// The audit reason of an enrollment refused because the host's device in the site is
/// suspended or quarantined (answered 403 `device_not_authorized`).
pub const DEVICE_HELD: &str = "device_held";

const fn os_name(os: OsType) -> &'static str {
    match os {
        OsType::Windows => "windows",
        OsType::Macos => "macos",
        OsType::Linux => "linux",
    }
}

fn secret_ok(state: &AppState, key_secret: Option<&str>, presented: Option<&str>) -> Option<bool> {
    match (key_secret, &state.config.enrollment_secret) {
        (Some(stored), _) => {
            let Some(p) = presented else {
                return Some(false);
            };
            let Ok(stored) = stored.parse::<TokenHash>() else {
                return Some(false);
            };
            Some(state.pepper.hash(p).ct_eq(&stored))
        }
        (None, Some(global)) => {
            let Some(p) = presented else {
                return Some(false);
            };
            Some(p.as_bytes().ct_eq(global.expose_secret().as_bytes()).into())
        }
        // production without any secret refuses enrollment
        (None, None) if state.config.mode == Mode::Production => None,
        (None, None) => Some(true),
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the SPEC 8.1 order reads best as one sequence"
)]
async fn enroll(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AgentError> {
    let decision = state.limiter.enrollment_per_ip(client.key()).await;
    if !decision.is_allowed() {
        // audited like every other enrollment denial (issue 15, finding 16), before the
        // body is even decoded
        audit_keyless_refusal(&state, &client, ErrorReason::RateLimited.as_str()).await?;
        return Err(AgentError::from(crate::http::authn::rate_limited(
            &decision,
        )));
    }
    let request = match EnrollRequest::decode(&body) {
        Ok(r) => r.into_message(),
        Err(e) => {
            // a malformed (or missing) key is a credential failure worth an audit entry;
            // other malformed bodies are not (issue 15, finding 16)
            if e.issues().iter().any(|i| i.path == "enrollmentKey") {
                audit_keyless_refusal(&state, &client, KEY_MALFORMED).await?;
            }
            return Err(decode_error(&e));
        }
    };
    let key = match EnrollmentKey::parse(request.enrollment_key.expose_secret()) {
        Ok(k) => k,
        Err(_) => {
            audit_keyless_refusal(&state, &client, KEY_MALFORMED).await?;
            return Err(AgentError::Reason(ErrorReason::EnrollmentKeyNotFound));
        }
    };
    let key_hash = key.peppered_hash(&state.pepper);

    let mut tx = state.store.begin_system("agent enrollment").await?;
    let Some(row) = agents::enrollment_key_by_hash(&mut tx, &key_hash.to_hex()).await? else {
        drop(tx);
        return Err(enroll_refused(
            &state,
            &client,
            None,
            None,
            ErrorReason::EnrollmentKeyNotFound,
            AuditResult::Denied,
        )
        .await);
    };
    let refuse = |reason| (Some(row.org_id), Some(row.id), reason);
    let now = state.clock.now();
    let failure = if row.expires_at <= now {
        Some(refuse(ErrorReason::EnrollmentKeyExpired))
    } else if row.usage_count >= row.max_usage {
        Some(refuse(ErrorReason::EnrollmentKeyExhausted))
    } else {
        let header_secret = headers
            .get(ENROLLMENT_SECRET_HEADER)
            .and_then(|v| v.to_str().ok());
        let presented = request
            .enrollment_secret
            .as_ref()
            .map(|s| s.expose_secret())
            .or(header_secret);
        match secret_ok(&state, row.secret_hash.as_deref(), presented) {
            None => Some(refuse(ErrorReason::EnrollmentDisabled)),
            Some(false) => Some(refuse(ErrorReason::EnrollmentSecretInvalid)),
            Some(true) => None,
        }
    };
    if let Some((org, key_id, reason)) = failure {
        drop(tx);
        return Err(
            enroll_refused(&state, &client, org, key_id, reason, AuditResult::Denied).await,
        );
    }
    let orgs = principal::org_records_for(&mut tx, None, Some(*row.org_id.as_uuid())).await?;
    if !orgs
        .iter()
        .any(|o| o.id == row.org_id && o.is_serviceable())
    {
        drop(tx);
        return Err(enroll_refused(
            &state,
            &client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::TenantInactive,
            AuditResult::Denied,
        )
        .await);
    }

    // re-enrollment in place: same host name, same site, the device's current token shown
    let presented_token = crate::http::agent_auth::bearer_token(&headers)
        .and_then(|t| AgentToken::parse(t).ok())
        .map(|t| t.hash());
    let candidates = agents::reenroll_candidates(&mut tx, row.site_id, &request.hostname).await?;
    let in_place = presented_token.as_ref().and_then(|h| {
        candidates.iter().find(|c| {
            c.status != "decommissioned"
                && c.agent_hash
                    .as_deref()
                    .and_then(|s| s.parse::<TokenHash>().ok())
                    .is_some_and(|stored| h.ct_eq(&stored))
        })
    });
    if in_place.is_some_and(|c| c.suspended) {
        drop(tx);
        return Err(enroll_refused(
            &state,
            &client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::TokenSuspended,
            AuditResult::Denied,
        )
        .await);
    }
    // A host whose device in this site is suspended or quarantined cannot come back as a
    // new device (issue 15, finding 3: a multi-use key would otherwise bypass both): after
    // the tenant check, before the device limit. Refused as the device itself would be
    // (403 `device_not_authorized`), audited with reason `device_held`; an admin lifts
    // the suspension or the quarantine first.
    if let Some(held) = agents::held_device(&mut tx, row.site_id, &request.hostname).await? {
        drop(tx);
        let extra = json!({
            "heldDeviceId": held.device_id.to_string(),
            "held": if held.suspended { "suspended" } else { "quarantined" },
            "hostname": request.hostname,
        });
        audit_enroll_refusal_with(
            &state,
            &client,
            Some(row.org_id),
            Some(row.id),
            DEVICE_HELD,
            AuditResult::Denied,
            extra,
        )
        .await?;
        return Err(AgentError::Reason(ErrorReason::DeviceNotAuthorized));
    }
    // The partner row is locked for the rest of this transaction before its devices are
    // counted, so concurrent enrollments of one partner count one after the other and
    // never exceed the limit together (issue 15, finding 16); the limit is read under the
    // lock too.
    if in_place.is_none()
        && row.partner_max_devices.is_some()
        && let Some(max) = agents::lock_partner_limit(&mut tx, row.partner_id).await?
        && agents::partner_device_count(&mut tx, row.partner_id).await? >= i64::from(max)
    {
        drop(tx);
        return Err(enroll_refused(
            &state,
            &client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::DeviceLimitReached,
            AuditResult::Denied,
        )
        .await);
    }

    let tokens = TokenSet::generate()?;
    let (device_id, agent_id, replaced) = match in_place {
        Some(c) => (c.device_id, c.agent_id.clone(), None),
        None => (
            DeviceId::new_random(),
            AgentId::generate()
                .map_err(AgentError::internal)?
                .as_str()
                .to_owned(),
            candidates
                .iter()
                .find(|c| c.status != "decommissioned")
                .map(|c| c.device_id),
        ),
    };
    let device = agents::EnrolledDevice {
        id: device_id,
        org_id: row.org_id,
        site_id: row.site_id,
        agent_id: agent_id.clone(),
        hostname: request.hostname.clone(),
        os_type: os_name(request.os_type),
        os_version: request.os_version.clone(),
        architecture: request.architecture.clone(),
        agent_version: request.agent_version.clone(),
        possible_replacement_of: replaced,
    };
    if in_place.is_some() {
        agents::update_device_in_place(&mut tx, &device).await?;
    } else {
        agents::insert_device(&mut tx, &device).await?;
    }
    agents::set_credentials(&mut tx, device_id, row.org_id, &tokens.hashes()).await?;
    if !agents::claim_key_use(&mut tx, row.id).await? {
        drop(tx);
        return Err(enroll_refused(
            &state,
            &client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::EnrollmentKeyRaceLost,
            AuditResult::Failure,
        )
        .await);
    }
    let event = event_builder(
        &state,
        Actor::Agent(device_id),
        &client,
        "agent.enroll",
        AuditResult::Success,
    )?
    .resource_type("device")
    .resource_id(device_id.to_string())
    .details(&json!({
        "enrollmentKeyId": row.id,
        "siteId": row.site_id.to_string(),
        "hostname": request.hostname,
        "reenrolledInPlace": in_place.is_some(),
        "possibleReplacementOf": replaced.map(|d| d.to_string()),
    }))
    .build()
    .map_err(AgentError::internal)?;
    audit::append(&mut tx, Some(row.org_id), event).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(device_id);

    let response = EnrollResponse {
        agent_id: breeze_agent_proto::AgentId::parse(&agent_id).map_err(AgentError::internal)?,
        device_id,
        auth_token: wire(&tokens.agent)?,
        watchdog_auth_token: wire(&tokens.watchdog)?,
        helper_auth_token: wire(&tokens.helper)?,
        org_id: row.org_id,
        site_id: row.site_id,
        config: AgentConfig::default(),
        protocol_version: None,
    };
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

// ---------------------------------------------------------------------------------------
// Heartbeat (SPEC 8.4)
// ---------------------------------------------------------------------------------------

const fn health_name(s: HeartbeatStatus) -> &'static str {
    match s {
        HeartbeatStatus::Ok => "ok",
        HeartbeatStatus::Warning => "warning",
        HeartbeatStatus::Error => "error",
    }
}

/// Decrypts claimed commands into wire commands; undecodable ones are failed (never
/// silently dropped).
async fn wire_commands(
    state: &AppState,
    tx: &mut ScopedTx,
    device: DeviceId,
    claimed: Vec<commands::ClaimedCommand>,
) -> Result<Vec<Command>, AgentError> {
    let (out, undecodable) = decode_claimed(state, claimed)?;
    for id in undecodable {
        record_undecodable(tx, device, id).await?;
    }
    Ok(out)
}

/// The claimed commands as wire messages, and the ids of those that could not be decrypted
/// or decoded (to be failed by the caller).
fn decode_claimed(
    state: &AppState,
    claimed: Vec<commands::ClaimedCommand>,
) -> Result<(Vec<Command>, Vec<CommandId>), AgentError> {
    let field = payload_field()?;
    let mut out = Vec::with_capacity(claimed.len());
    let mut undecodable = Vec::new();
    for c in claimed {
        let decoded = state
            .secrets
            .decrypt(&c.payload_envelope, &field)
            .ok()
            .and_then(|plain| serde_json::from_str::<Value>(plain.expose_secret()).ok())
            .and_then(|payload| {
                let text =
                    json!({"id": c.id, "type": c.command_type, "payload": payload}).to_string();
                Command::decode(text.as_bytes()).ok()
            });
        if let Some(cmd) = decoded {
            out.push(cmd.into_message());
        } else {
            tracing::warn!(command = %c.id, "stored command could not be decoded; failed");
            undecodable.push(c.id);
        }
    }
    Ok((out, undecodable))
}

async fn record_undecodable(
    tx: &mut ScopedTx,
    device: DeviceId,
    id: CommandId,
) -> Result<(), AgentError> {
    let failed = StoredResult {
        status: "failed",
        exit_code: None,
        stdout: None,
        stderr: None,
        duration_ms: None,
        error: Some("the server could not decode the stored command".into()),
        result: None,
    };
    commands::record_result(tx, device, id, &failed).await?;
    Ok(())
}

/// Claims up to 10 pending commands of the agent's device, in the agent's own context.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn claim_commands(
    state: &AppState,
    authed: &AgentAuthed,
) -> Result<Vec<Command>, AgentError> {
    let mut tx = state.store.begin(&authed.ctx).await?;
    let claimed = commands::claim_pending(&mut tx, authed.device_id, commands::MAX_CLAIM).await?;
    let out = wire_commands(state, &mut tx, authed.device_id, claimed).await?;
    tx.commit().await?;
    Ok(out)
}

/// Confirms a staged rotation with the pending agent hash `presented` (audited). Returns
/// the grace end, or `None` when nothing matching is staged.
async fn confirm_staged(
    state: &AppState,
    tx: &mut ScopedTx,
    authed: &AgentAuthed,
) -> Result<Option<OffsetDateTime>, AgentError> {
    let now = state.clock.now();
    let grace_until = now + GRACE;
    if !agents::confirm_rotation(
        tx,
        authed.device_id,
        &authed.presented_hash,
        now,
        grace_until,
    )
    .await?
    {
        return Ok(None);
    }
    let event = event_builder(
        state,
        authed.actor(),
        &authed.client,
        "agent.token.rotate.confirmed",
        AuditResult::Success,
    )?
    .resource_type("device")
    .resource_id(authed.device_id.to_string())
    .build()
    .map_err(AgentError::internal)?;
    audit::append(tx, Some(authed.org_id), event).await?;
    Ok(Some(grace_until))
}

async fn heartbeat(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    Extension(admission): Extension<AdmissionSlot>,
    body: Bytes,
) -> Result<Json<HeartbeatResponse>, AgentError> {
    let beat = HeartbeatRequest::decode(&body)
        .map_err(|e| decode_error(&e))?
        .into_message();
    process_heartbeat(&state, &authed, &beat, Some(&admission))
        .await
        .map(Json)
}

/// Records a heartbeat (device online, latest facts), confirms a staged rotation when the
/// pending agent token was used, and claims up to 10 pending commands. Shared by the HTTP
/// route and the `heartbeat` frame.
///
/// `admission` (the HTTP route's) is given back when the heartbeat is handed to the
/// batcher: the wait there holds no pool connection, and the batcher bounds its own queue.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn process_heartbeat(
    state: &AppState,
    authed: &AgentAuthed,
    beat: &HeartbeatRequest,
    admission: Option<&AdmissionSlot>,
) -> Result<HeartbeatResponse, AgentError> {
    let facts = agents::HeartbeatFacts {
        health: health_name(beat.status),
        agent_version: beat.agent_version.clone(),
        metrics: beat
            .metrics
            .get()
            .and_then(|m| serde_json::to_value(m).ok()),
        uptime_seconds: beat.uptime.get().and_then(|u| i64::try_from(*u).ok()),
        last_user: beat.last_user.get().cloned(),
        pending_reboot: beat.pending_reboot.get().copied(),
    };
    let confirming =
        authed.generation == TokenGeneration::Pending && authed.role == TokenRole::Agent;
    let (cmds, confirmed) = if confirming {
        // Rare (once per rotation) and audited: its own transaction, in the agent's context.
        let mut tx = state.store.begin(&authed.ctx).await?;
        let confirmed = confirm_staged(state, &mut tx, authed).await?.is_some();
        let claimed = agents::heartbeat_and_claim(
            &mut tx,
            authed.device_id,
            authed.org_id,
            authed.site_id,
            &facts,
            commands::MAX_CLAIM,
        )
        .await?;
        let cmds = wire_commands(state, &mut tx, authed.device_id, claimed).await?;
        tx.commit().await?;
        if confirmed {
            state.agent_cache.invalidate_device(authed.device_id);
        }
        (cmds, confirmed)
    } else {
        if let Some(slot) = admission {
            slot.release();
        }
        let claimed = state
            .heartbeats
            .beat(authed.device_id, authed.org_id, authed.site_id, facts)
            .await
            .map_err(|e| match e {
                BeatError::Overloaded => AgentError::RateLimited(spread_retry_after()),
                BeatError::Stopped => AgentError::Unavailable,
                BeatError::Store(e) => AgentError::from(e),
            })?;
        let (cmds, undecodable) = decode_claimed(state, claimed)?;
        if !undecodable.is_empty() {
            let mut tx = state.store.begin(&authed.ctx).await?;
            for id in undecodable {
                record_undecodable(&mut tx, authed.device_id, id).await?;
            }
            tx.commit().await?;
        }
        (cmds, false)
    };
    Ok(HeartbeatResponse {
        commands: cmds,
        config_update: None,
        rotate_token: authed.rotation_due
            && !authed.rotation_pending
            && authed.generation == TokenGeneration::Current,
        confirm_token_rotation: confirmed,
        protocol_version: None,
    })
}

// ---------------------------------------------------------------------------------------
// Results (SPEC 8.5)
// ---------------------------------------------------------------------------------------

/// Replaces PEM private-key blocks and agent tokens in `text` (before storage).
#[must_use]
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let (before, from_begin) = rest.split_at(start);
        out.push_str(before);
        let header_end = from_begin
            .get(11..)
            .and_then(|h| h.find("-----"))
            .map(|i| i + 11 + 5);
        let header = header_end.and_then(|e| from_begin.get(..e)).unwrap_or("");
        if !header.contains("PRIVATE KEY") {
            out.push_str("-----BEGIN ");
            rest = from_begin.get(11..).unwrap_or("");
            continue;
        }
        out.push_str("[REDACTED PRIVATE KEY]");
        let after_header = from_begin.get(header.len()..).unwrap_or("");
        rest = match after_header.find("-----END ") {
            Some(end) => {
                let tail = after_header.get(end + 9..).unwrap_or("");
                match tail.find("-----") {
                    Some(close) => tail.get(close + 5..).unwrap_or(""),
                    None => "",
                }
            }
            None => "",
        };
    }
    out.push_str(rest);
    redact_agent_tokens(&out)
}

fn redact_agent_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("brz_") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let hex_len = from
            .get(4..)
            .map_or(0, |h| h.chars().take_while(char::is_ascii_hexdigit).count());
        if hex_len >= 32 {
            out.push_str("brz_[REDACTED]");
            rest = from.get(4 + hex_len..).unwrap_or("");
        } else {
            out.push_str("brz_");
            rest = from.get(4..).unwrap_or("");
        }
    }
    out.push_str(rest);
    out
}

const fn status_name(s: CommandStatus) -> &'static str {
    match s {
        CommandStatus::Completed => "completed",
        CommandStatus::Failed => "failed",
        CommandStatus::Timeout => "timeout",
    }
}

/// What storing a result found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultOutcome {
    /// Stored and audited.
    Recorded,
    /// The command already had a result (a retry); nothing changed.
    Duplicate,
    /// Not a command of this device.
    NotOwned,
}

/// Stores a command result of the agent's device (redacted) and audits it, in the agent's
/// context. Shared by the HTTP route and the WebSocket.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn store_result(
    state: &AppState,
    authed: &AgentAuthed,
    mut result: CommandResult,
) -> Result<ResultOutcome, AgentError> {
    result.truncate_to_limits();
    let stored = StoredResult {
        status: status_name(result.status),
        exit_code: result.exit_code,
        stdout: result.stdout.as_deref().map(redact_secrets),
        stderr: result.stderr.as_deref().map(redact_secrets),
        duration_ms: result.duration_ms.and_then(|d| i64::try_from(d).ok()),
        error: result.error.as_deref().map(redact_secrets),
        result: result
            .result
            .as_ref()
            .map(|v| redact_secrets(&v.to_string())),
    };
    let _permit = state.agent_load.result_permit().await;
    let mut tx = state.store.begin(&authed.ctx).await?;
    let (outcome, command_type) =
        commands::record_result(&mut tx, authed.device_id, result.command_id, &stored).await?;
    match outcome {
        RecordOutcome::NotFound => return Ok(ResultOutcome::NotOwned),
        RecordOutcome::AlreadyRecorded => return Ok(ResultOutcome::Duplicate),
        RecordOutcome::Recorded => {}
    }
    let stderr_excerpt: Option<String> = stored
        .stderr
        .as_deref()
        .map(|s| s.chars().take(AUDIT_STDERR_CHARS).collect());
    let audit_result = if result.status == CommandStatus::Completed {
        AuditResult::Success
    } else {
        AuditResult::Failure
    };
    let event = event_builder(
        state,
        authed.actor(),
        &authed.client,
        "device.command.result",
        audit_result,
    )?
    .resource_type("device_command")
    .resource_id(result.command_id.to_string())
    .details(&json!({
        "deviceId": authed.device_id.to_string(),
        "type": command_type,
        "status": stored.status,
        "exitCode": stored.exit_code,
        "durationMs": stored.duration_ms,
        "stderr": stderr_excerpt,
    }))
    .build()
    .map_err(AgentError::internal)?;
    audit::append(&mut tx, Some(authed.org_id), event).await?;
    tx.commit().await?;
    Ok(ResultOutcome::Recorded)
}

#[derive(Debug, Deserialize)]
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
        .map_err(|e| decode_error(&e))?
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
    match store_result(&state, &authed, result).await? {
        ResultOutcome::NotOwned => Err(AgentError::Reason(ErrorReason::CommandNotFound)),
        ResultOutcome::Recorded => Ok(Json(json!({"accepted": true})).into_response()),
        ResultOutcome::Duplicate => {
            Ok(Json(json!({"accepted": true, "duplicate": true})).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rotation (SPEC 8.3)
// ---------------------------------------------------------------------------------------

async fn rotate_token(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    body: Bytes,
) -> Result<Json<RotateTokenResponse>, AgentError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    RotateTokenRequest::decode(body).map_err(|e| decode_error(&e))?;
    if authed.role != TokenRole::Agent || authed.generation != TokenGeneration::Current {
        // staging needs the current agent token (a previous token must not mint new ones)
        return Err(AgentError::Reason(ErrorReason::InvalidToken));
    }
    let tokens = TokenSet::generate()?;
    let expires = state.clock.now() + PENDING_TTL;
    let mut tx = state.store.begin(&authed.ctx).await?;
    if !agents::stage_rotation(
        &mut tx,
        authed.device_id,
        &authed.presented_hash,
        &tokens.hashes(),
        expires,
    )
    .await?
    {
        return Err(AgentError::Reason(ErrorReason::RefreshRaced));
    }
    let event = event_builder(
        &state,
        authed.actor(),
        &authed.client,
        "agent.token.rotate.staged",
        AuditResult::Success,
    )?
    .resource_type("device")
    .resource_id(authed.device_id.to_string())
    .details(&json!({"pendingExpiresAt": expires.format(&Rfc3339).ok()}))
    .build()
    .map_err(AgentError::internal)?;
    audit::append(&mut tx, Some(authed.org_id), event).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(authed.device_id);
    Ok(Json(RotateTokenResponse {
        auth_token: wire(&tokens.agent)?,
        watchdog_auth_token: wire(&tokens.watchdog)?,
        helper_auth_token: wire(&tokens.helper)?,
        pending_expires_at: ts(expires),
    }))
}

async fn confirm_rotation(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    body: Bytes,
) -> Result<Json<ConfirmRotationResponse>, AgentError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    ConfirmRotationRequest::decode(body).map_err(|e| decode_error(&e))?;
    if authed.role != TokenRole::Agent {
        return Err(AgentError::Reason(ErrorReason::InvalidToken));
    }
    match authed.generation {
        TokenGeneration::Pending => {
            let mut tx = state.store.begin(&authed.ctx).await?;
            let Some(grace) = confirm_staged(&state, &mut tx, &authed).await? else {
                return Err(AgentError::Reason(ErrorReason::RefreshRaced));
            };
            tx.commit().await?;
            state.agent_cache.invalidate_device(authed.device_id);
            Ok(Json(ConfirmRotationResponse {
                confirmed: true,
                grace_expires_at: ts(grace),
            }))
        }
        // a retry after success: the pending token is current now
        TokenGeneration::Current if !authed.rotation_pending => {
            let mut tx = state.store.begin_system("rotation confirm retry").await?;
            let row = agents::auth_row(&mut tx, &authed.agent_id).await?;
            drop(tx);
            let grace = row
                .and_then(|r| {
                    r.agent
                        .get(2)
                        .and_then(Clone::clone)
                        .and(r.previous_grace_until)
                })
                .ok_or(AgentError::Reason(ErrorReason::RotationNotPending))?;
            Ok(Json(ConfirmRotationResponse {
                confirmed: true,
                grace_expires_at: ts(grace),
            }))
        }
        _ => Err(AgentError::Reason(ErrorReason::RotationNotPending)),
    }
}

// ---------------------------------------------------------------------------------------
// User routes: queue commands, read results
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevicePath {
    device_id: DeviceId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceCommandPath {
    device_id: DeviceId,
    command_id: CommandId,
}

/// `POST /api/v1/devices/{deviceId}/commands` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
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
        Vec::new()
    }
}

fn payload_field() -> Result<Field, AgentError> {
    Field::new("device_commands", "payload").map_err(AgentError::internal)
}

/// A command as users see it.
#[derive(Debug, Serialize)]
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

/// The device as the caller's context sees it, checked in Rust as well as by row-level
/// security (SPEC 1.3: two independent layers): a device outside the caller's organizations
/// or site list is 404.
async fn reachable_device(
    tx: &mut crate::store::ScopedTx,
    authed: &Authed,
    device: DeviceId,
) -> Result<commands::DeviceTarget, ApiError> {
    let target = commands::device_target(tx, device)
        .await?
        .ok_or(ApiError::NotFound)?;
    if authed.ctx.can_access_site(target.org_id, target.site_id) {
        Ok(target)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Validates a command strictly with the protocol crate (the same decoder the agent runs)
/// and encrypts its payload (v3, AAD `device_commands.payload`): the envelope to store.
///
/// # Errors
/// [`ApiError::Validation`] naming `body.*` fields; 500 when encryption fails.
pub(crate) fn seal_command(
    state: &AppState,
    id: CommandId,
    command_type: &str,
    payload: Option<&Value>,
) -> Result<String, ApiError> {
    let payload = payload
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    let wire = json!({"id": id, "type": command_type, "payload": payload}).to_string();
    Command::decode(wire.as_bytes()).map_err(|e| {
        ApiError::Validation(
            e.issues()
                .into_iter()
                .map(|i| FieldIssue::new(format!("body.{}", i.path), i.message))
                .collect(),
        )
    })?;
    let field = Field::new("device_commands", "payload").map_err(ApiError::internal)?;
    state
        .secrets
        .encrypt(&payload.to_string(), &field)
        .map_err(ApiError::internal)
}

async fn queue_command(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Json(body): extract::Json<QueueCommandBody>,
) -> Result<Response, ApiError> {
    let id = CommandId::new_random();
    let envelope = seal_command(&state, id, &body.command_type, body.payload.as_ref())?;

    let mut tx = state.store.begin(&authed.ctx).await?;
    let device = reachable_device(&mut tx, &authed, path.device_id).await?;
    if device.status == "quarantined" || device.status == "decommissioned" {
        return Err(ApiError::Conflict("device_not_commandable"));
    }
    commands::insert(
        &mut tx,
        &NewCommand {
            id,
            org_id: device.org_id,
            site_id: device.site_id,
            device_id: device.id,
            command_type: body.command_type.clone(),
            payload_envelope: envelope,
            created_by: authed.user_id(),
        },
    )
    .await?;
    let event = authed
        .event(&state, "device.command.execute", AuditResult::Success)?
        .resource_type("device_command")
        .resource_id(id.to_string())
        .details(&json!({"deviceId": device.id.to_string(), "type": body.command_type}))
        .build()
        .map_err(ApiError::internal)?;
    audit::append(&mut tx, Some(device.org_id), event).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "deviceId": device.id, "type": body.command_type, "status": "pending"})),
    )
        .into_response())
}

async fn list_commands(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Query(query): extract::Query<PageQuery>,
) -> Result<Json<PageOf<CommandOut>>, ApiError> {
    let page = query.page()?;
    let mut tx = state.store.begin(&authed.ctx).await?;
    reachable_device(&mut tx, &authed, path.device_id).await?;
    let rows = commands::list(&mut tx, path.device_id, page.after, i64::from(page.limit)).await?;
    drop(tx);
    let items: Vec<CommandOut> = rows.into_iter().map(CommandOut::from).collect();
    Ok(Json(PageOf::from_fetched(items, page, |c| {
        c.id.parse().unwrap_or_default()
    })))
}

async fn get_command(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DeviceCommandPath>,
) -> Result<Json<CommandOut>, ApiError> {
    let mut tx = state.store.begin(&authed.ctx).await?;
    reachable_device(&mut tx, &authed, path.device_id).await?;
    let view = commands::get(&mut tx, path.device_id, path.command_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    drop(tx);
    Ok(Json(CommandOut::from(view)))
}

#[cfg(test)]
mod tests {
    use super::redact_secrets;

    #[test]
    fn private_keys_and_agent_tokens_are_redacted() {
        let pem = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\nb";
        assert_eq!(redact_secrets(pem), "a\n[REDACTED PRIVATE KEY]\nb");
        let open = "x -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA never ends";
        assert_eq!(redact_secrets(open), "x [REDACTED PRIVATE KEY]");
        let token = format!("t=brz_{} é", "a1".repeat(32));
        assert_eq!(redact_secrets(&token), "t=brz_[REDACTED] é");
    }

    #[test]
    fn public_material_and_plain_text_are_kept() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----";
        assert_eq!(redact_secrets(cert), cert);
        for text in ["", "brz_", "brz_short", "-----BEGIN ", "ünïcödé -----BEGIN"] {
            assert_eq!(redact_secrets(text), text);
        }
    }
}
