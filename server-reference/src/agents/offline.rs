//! The offline sweep: an online device without a heartbeat for `BREEZE_DEVICE_OFFLINE_SECS`
//! is marked offline and `device.offline` is audited in its organization's chain, in the
//! same transaction (so the `device.offline` webhook goes out exactly when it is recorded).
//! Every replica sweeps; the update skips rows another replica holds, so a device flips once.

use std::time::Duration;

use breeze_core::audit::{Action, Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use serde_json::json;

use crate::state::AppState;
use crate::store::{StoreError, audit, devices};

/// Devices marked per transaction.
const BATCH: i64 = 500;
/// Time between sweeps.
const EVERY: Duration = Duration::from_secs(15);

/// Starts the sweep of this replica.
#[must_use]
pub fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    let every = EVERY.min(Duration::from_secs(state.config.device_offline_secs.max(1)));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweep_once(&state).await {
                tracing::warn!(error = %e, "offline sweep failed, retrying");
            }
        }
    })
}

/// Marks the silent devices offline (in batches) and audits each; returns how many.
///
/// # Errors
/// [`StoreError`]; a failed batch changes nothing.
pub async fn sweep_once(state: &AppState) -> Result<usize, StoreError> {
    let silent = i64::try_from(state.config.device_offline_secs).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let mut tx = state.store.begin_system("offline sweep").await?;
        let gone = devices::mark_silent_offline(&mut tx, silent, BATCH).await?;
        let now = Timestamp::from_datetime_truncated(state.clock.now())
            .map_err(|e| StoreError::Audit(e.to_string()))?;
        let action = Action::new("device.offline").map_err(|e| StoreError::Audit(e.to_string()))?;
        for d in &gone {
            let event = AuditEvent::builder(
                Actor::System,
                action.clone(),
                AuditResult::Success,
                InitiatedBy::Policy,
                now,
            )
            .resource_type("device")
            .resource_id(d.id.to_string())
            .details(&json!({
                "lastSeenAt": d.last_seen_at.map(|t| t.unix_timestamp()),
                "silentSeconds": silent,
            }))
            .build()
            .map_err(|e| StoreError::Audit(e.to_string()))?;
            audit::append(&mut tx, Some(d.org_id), event).await?;
        }
        tx.commit().await?;
        total += gone.len();
        if i64::try_from(gone.len()).unwrap_or(i64::MAX) < BATCH {
            return Ok(total);
        }
    }
}
