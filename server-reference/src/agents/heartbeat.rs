//! Heartbeats (SPEC 8.4): facts in, commands out; the hand-off to the group-commit batcher; the confirmation of a staged rotation.

use breeze_agent_proto::heartbeat::{HeartbeatRequest, HeartbeatResponse, HeartbeatStatus};
use breeze_core::audit::AuditResult;
use time::OffsetDateTime;

use crate::agents::admission::{AdmissionSlot, spread_retry_after};
use crate::agents::auth::{AgentAuthed, TokenGeneration, TokenRole};
use crate::agents::beats::BeatError;
use crate::agents::commands::{decode_claimed, record_undecodable, wire_commands};
use crate::agents::error::AgentError;
use crate::agents::rotation::GRACE;
use crate::audit::events::event_builder;
use crate::state::AppState;
use crate::store::commands::{self};
use crate::store::{ScopedTx, agents, audit};

const fn health_name(s: HeartbeatStatus) -> &'static str {
    match s {
        HeartbeatStatus::Ok => "ok",
        HeartbeatStatus::Warning => "warning",
        HeartbeatStatus::Error => "error",
    }
}

/// Decrypts claimed commands into wire commands; undecodable ones are failed (never
/// Confirms a staged rotation with the pending agent hash `presented` (audited). Returns
/// the grace end, or `None` when nothing matching is staged.
pub(crate) async fn confirm_staged(
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
        let mut tx = authed.begin(state).await?;
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
            let mut tx = authed.begin(state).await?;
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
