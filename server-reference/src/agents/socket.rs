//! The agent socket's rules (SPEC 8.6), apart from its transport: opening a socket (agent
//! role, per-agent connect limit, one socket per agent across replicas through the
//! connection generation), charging inbound frames to the agent limits, what the agent owns
//! (commands of its device, live remote sessions of its device), and probes: a frame naming
//! something the agent does not own counts, and the fifth within [`PROBE_WINDOW`] suspends
//! the agent's tokens durably (audited `agent.token.suspended`).
//!
//! The WebSocket I/O loop (`crate::http::routes::agent_ws`) decodes frames, calls these and
//! sends what they decide.

use std::sync::Arc;
use std::time::Duration;

use breeze_agent_proto::http::ErrorReason;
use breeze_core::audit::AuditResult;
use breeze_core::ratelimit::{AgentRequestClass, Quota, Verdict};
use breeze_core::tenancy::CommandId;
use serde_json::json;

use crate::agents::auth::{AgentAuthed, TokenRole, org_devices, rate};
use crate::agents::error::AgentError;
use crate::agents::fanout::Hub;
use crate::audit::events::event_builder;
use crate::state::AppState;
use crate::store::{agents, audit, commands, remote};

/// Probes tolerated within [`PROBE_WINDOW`] before suspension (the fifth suspends).
pub const PROBE_LIMIT: u32 = 5;
/// Probe counting window.
pub const PROBE_WINDOW: Duration = Duration::from_secs(300);

/// Opens a socket for `authed`: the agent role only, the per-agent connect limit, this
/// replica's hub listening, then a new connection generation (every replica's hub closes the
/// older sockets of the device).
///
/// # Errors
/// `invalid_token` for a watchdog token; 429 over the connect limit; 503 when the hub cannot
/// listen; [`AgentError`] on database failure.
pub async fn open(
    state: &AppState,
    authed: &AgentAuthed,
    hub: &Arc<Hub>,
) -> Result<i64, AgentError> {
    if authed.role != TokenRole::Agent {
        return Err(AgentError::Reason(ErrorReason::InvalidToken));
    }
    let decision = state.limiter.ws_connect_per_agent(&authed.agent_id).await;
    if !decision.is_allowed() {
        return Err(AgentError::from(crate::error::rate_limited(&decision)));
    }
    hub.ensure_started(state).await.map_err(|e| {
        tracing::error!(error = %e, "agent hub listener unavailable");
        AgentError::Unavailable
    })?;
    state
        .relay
        .ensure_started(state)
        .await
        .map_err(|_| AgentError::Unavailable)?;
    let mut tx = authed.begin(state).await?;
    let generation =
        agents::bump_ws_generation(&mut tx, authed.device_id, &authed.agent_id).await?;
    tx.commit().await?;
    Ok(generation)
}

/// Charges one inbound frame to the per-agent and per-organization agent limits (those of
/// HTTP agent calls).
///
/// # Errors
/// [`AgentError::RateLimited`] when refused; [`AgentError::Unavailable`] when a limiter
/// cannot answer.
pub async fn charge_frame(state: &AppState, authed: &AgentAuthed) -> Result<(), AgentError> {
    let devices = org_devices(state, authed.org_id).await?;
    rate(&state.limiter.agent_per_agent(&authed.agent_id).await)?;
    rate(
        &state
            .limiter
            .agent_per_org(authed.org_id, devices, AgentRequestClass::General)
            .await,
    )
}

/// Whether `session` is a remote session of the agent's device, in any state (SPEC 12).
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn owns_session(
    state: &AppState,
    authed: &AgentAuthed,
    session: uuid::Uuid,
) -> Result<bool, AgentError> {
    let mut tx = authed.begin(state).await?;
    let owned = remote::is_of_device(&mut tx, authed.device_id, session).await?;
    drop(tx);
    Ok(owned)
}

/// Which of `sessions` are still live with a lease on the agent's device.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn live_sessions(
    state: &AppState,
    authed: &AgentAuthed,
    sessions: &[uuid::Uuid],
) -> Result<Vec<uuid::Uuid>, AgentError> {
    let mut tx = authed.begin(state).await?;
    let live = remote::leased_on(&mut tx, authed.device_id, sessions).await?;
    drop(tx);
    Ok(live)
}

/// Whether `command` is a command of the agent's device.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn owns_command(
    state: &AppState,
    authed: &AgentAuthed,
    command: CommandId,
) -> Result<bool, AgentError> {
    let mut tx = authed.begin(state).await?;
    let owned = commands::belongs_to(&mut tx, authed.device_id, command).await?;
    drop(tx);
    Ok(owned)
}

/// What counting a probe decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeVerdict {
    /// Under the limit: answer the frame as unknown and go on.
    Warn,
    /// The counter could not answer: close (try again later), suspend nobody.
    CounterUnavailable,
    /// The fifth probe: the agent is suspended; close with 4001.
    Suspended,
}

/// Counts a frame of type `kind` naming something the agent does not own.
pub async fn probe(state: &AppState, authed: &AgentAuthed, kind: &str) -> ProbeVerdict {
    let Ok(quota) = Quota::new(PROBE_LIMIT - 1, PROBE_WINDOW) else {
        return ProbeVerdict::Suspended;
    };
    let decision = state
        .limiter
        .check_quota(&format!("agent-probe:{}", authed.agent_id), quota)
        .await;
    if decision.is_allowed() {
        return ProbeVerdict::Warn;
    }
    if decision.verdict == Verdict::Unavailable {
        // nothing was counted: close (fail closed) but suspend nobody on no evidence
        crate::ops::metrics::global().record_limiter_unavailable();
        tracing::warn!("probe counter unavailable; closing the agent socket");
        return ProbeVerdict::CounterUnavailable;
    }
    if let Err(e) = suspend(state, authed, kind).await {
        tracing::error!(
            reason = e.reason().as_str(),
            "suspending a probing agent failed"
        );
    }
    ProbeVerdict::Suspended
}

async fn suspend(state: &AppState, authed: &AgentAuthed, kind: &str) -> Result<(), AgentError> {
    let mut tx = state.store.begin_system("suspend probing agent").await?;
    if agents::suspend(&mut tx, authed.device_id, "cross_tenant_probe").await? {
        let event = event_builder(
            state,
            authed.actor(),
            &authed.client,
            "agent.token.suspended",
            AuditResult::Denied,
        )?
        .resource_type("device")
        .resource_id(authed.device_id.to_string())
        .details(&json!({
            "reason": "cross_tenant_probe",
            "probes": PROBE_LIMIT,
            "windowSeconds": PROBE_WINDOW.as_secs(),
            "lastFrameType": kind,
        }))
        .build()
        .map_err(AgentError::internal)?;
        audit::append(&mut tx, Some(authed.org_id), event).await?;
    }
    tx.commit().await?;
    state.agent_cache.invalidate_device(authed.device_id);
    Ok(())
}
