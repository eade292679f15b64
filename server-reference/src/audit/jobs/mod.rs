//! Audit log work beyond appending (SPEC 6.1): verification, signed checkpoints, retention
//! and export. The rules are breeze-core's ([`ChainVerifier`], [`CheckpointSigner`],
//! [`RetentionRecord`], [`BundleWriter`]); this module only feeds them rows from the store.
//!
//! - [`verify_chain`] / [`verify_visible`]: streams a chain's rows in sequence order into a
//!   [`ChainVerifier`] (from the stored anchor after a prune), each stored checkpoint right
//!   after the row it signs, then compares the end with the head the database recorded (a
//!   cut tail is reported as `truncated`). Verification trusts only the configured
//!   checkpoint keys.
//! - [`checkpoint_all`]: signs the head of every chain with entries since its last
//!   checkpoint.
//! - [`retention_run_with`]: per organization and for the system chain, prunes the prefix
//!   older than its retention period (never younger than the operator's floor) that ends at
//!   a stored checkpoint, through the maintenance role.
//! - [`export_chain`]: a self-contained bundle of one chain, size-capped.
//! - [`spawn_background`]: the periodic checkpoint and retention tasks of `serve`.

mod export;
mod retention;
mod verify;

pub use export::*;
pub use retention::*;
pub use verify::*;

use std::time::Duration;

use breeze_core::audit::{ChainHead, Checkpoint, CheckpointSigner, Timestamp};
use time::OffsetDateTime;

use crate::state::AppState;
use crate::store::audit::{self as store_audit};
use crate::store::{PgStore, StoreError};

/// Rows read per query while streaming a chain.
pub(super) const BATCH: u32 = 1000;

/// Largest export bundle built in memory.
pub const MAX_EXPORT_BYTES: usize = 64 << 20;

/// Audit work that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditJobError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A library refusal (signing, sealing, retention planning), with its message.
    #[error("audit: {0}")]
    Audit(String),
    /// No such chain (or not visible).
    #[error("no such audit chain")]
    NotFound,
    /// The export is bigger than the cap.
    #[error("export larger than {0} bytes")]
    TooLarge(usize),
    /// An export range that cannot produce a verifiable bundle.
    #[error("export range must start at the chain's first stored entry {0}")]
    Range(u64),
}

pub(super) fn audit_err(e: impl std::fmt::Display) -> AuditJobError {
    AuditJobError::Audit(e.to_string())
}

pub(super) fn timestamp(at: OffsetDateTime) -> Result<Timestamp, AuditJobError> {
    Timestamp::from_datetime_truncated(at).map_err(audit_err)
}

/// Signs and stores a checkpoint of every chain with entries since its last checkpoint.
/// Returns the checkpoints made.
///
/// # Errors
/// [`AuditJobError`]; nothing is stored on error.
pub async fn checkpoint_all(
    store: &PgStore,
    signer: &CheckpointSigner,
    at: OffsetDateTime,
) -> Result<Vec<Checkpoint>, AuditJobError> {
    let at = timestamp(at)?;
    let mut tx = store.begin_system("audit checkpoint").await?;
    let mut made = Vec::new();
    for head in store_audit::heads(&mut tx).await? {
        let Some(last) = head.next_seq.checked_sub(1) else {
            continue;
        };
        if store_audit::has_checkpoint(&mut tx, &head.chain_key, last).await? {
            continue;
        }
        let ch = ChainHead::resume(head.chain_id(), head.next_seq, head.head_hash);
        let cp = signer.sign_head(&ch, at).map_err(audit_err)?;
        if store_audit::insert_checkpoint(&mut tx, &cp).await? {
            made.push(cp);
        }
    }
    tx.commit().await?;
    Ok(made)
}

/// Starts the periodic checkpoint and retention tasks when their intervals are set
/// (`BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS`, `BREEZE_AUDIT_RETENTION_INTERVAL_SECS`).
/// Retention needs `DATABASE_MAINT_URL`; without it the task logs and does not start.
pub fn spawn_background(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let every = state.config.audit_checkpoint_interval_secs;
    if every > 0 {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match checkpoint_all(&state.store, &state.audit_signer, state.clock.now()).await {
                    Ok(made) => tracing::info!(checkpoints = made.len(), "audit checkpoint run"),
                    Err(e) => tracing::error!(error = %e, "audit checkpoint run failed"),
                }
            }
        }));
    }
    let every = state.config.audit_retention_interval_secs;
    if every > 0 {
        match state.config.database_maint_url.clone() {
            None => tracing::error!(
                "audit retention is enabled but DATABASE_MAINT_URL is not set: not running"
            ),
            Some(url) => {
                let state = state.clone();
                tasks.push(tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(every));
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let mut maint: Option<PgStore> = None;
                    loop {
                        tick.tick().await;
                        if maint.is_none() {
                            match PgStore::connect(&url, 2).await {
                                Ok(s) => maint = Some(s),
                                Err(e) => {
                                    tracing::error!(error = %e, "audit retention: cannot connect");
                                    continue;
                                }
                            }
                        }
                        let Some(store) = &maint else { continue };
                        let policy = RetentionPolicy::from_config(&state.config);
                        match retention_run_with(
                            store,
                            &state.audit_keys,
                            state.clock.now(),
                            policy,
                        )
                        .await
                        {
                            Ok(done) => tracing::info!(
                                pruned = done.pruned.len(),
                                failed = done.failed.len(),
                                "audit retention run"
                            ),
                            Err(e) => tracing::error!(error = %e, "audit retention run failed"),
                        }
                    }
                }));
            }
        }
    }
    tasks
}
