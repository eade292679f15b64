//! Heartbeats (SPEC 8.4): facts in, commands out; the hand-off to the group-commit batcher; the confirmation of a staged rotation.

use breeze_agent_proto::heartbeat::{HeartbeatRequest, HeartbeatResponse, HeartbeatStatus};
use breeze_core::audit::AuditResult;
use time::OffsetDateTime;

use crate::agents::admission::{AdmissionSlot, spread_retry_after};
use crate::agents::auth::{AgentAuthed, TokenGeneration, TokenRole, record_first_sighting};
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

/// Records the first sighting of a heartbeat that failed before reaching a batch; a failure
/// is logged (the heartbeat's own error is what the agent gets, and its next request sees
/// the address as unrecorded and records it again).
pub async fn record_unbatched_sighting(state: &AppState, authed: &AgentAuthed) {
    if let Err(e) = record_first_sighting(state, authed).await {
        tracing::warn!(error = ?e, device = %authed.device_id,
            "first source address of a failed heartbeat not recorded");
    }
}

/// Records a heartbeat (device online, latest facts), confirms a staged rotation when the
/// pending agent token was used, and claims up to 10 pending commands. Shared by the HTTP
/// route and the `heartbeat` frame.
///
/// `admission` (the HTTP route's) is given back when the heartbeat is handed to the
/// batcher: the wait there holds no pool connection, and the batcher bounds its own queue.
/// A first source address left by authentication ([`AgentAuthed::first_sighting`]) is
/// recorded in the batch's transaction, or alone when the heartbeat does not reach one.
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
        record_first_sighting(state, authed).await?;
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
        let first_ip = authed.first_sighting.as_ref().map(|s| s.0.clone());
        let beat = agents::BatchedBeat {
            device: authed.device_id,
            org: authed.org_id,
            site: authed.site_id,
            facts,
            first_ip: first_ip.clone(),
        };
        let claimed = match state.heartbeats.submit(beat).await {
            Ok(claimed) => claimed,
            Err(e) => {
                // the first sighting did not reach a committed batch: it is recorded alone,
                // under an agent permit again (the request's went back when it was queued)
                if authed.first_sighting.is_some() {
                    let _permit = state.agent_load.permit().await;
                    record_unbatched_sighting(state, authed).await;
                }
                return Err(match e {
                    BeatError::Overloaded => AgentError::RateLimited(spread_retry_after()),
                    BeatError::Stopped => AgentError::Unavailable,
                    BeatError::Store(e) => AgentError::from(e),
                });
            }
        };
        if let Some(ip) = &first_ip {
            state.agent_cache.set_last_ip(&authed.agent_id, ip);
        }
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
