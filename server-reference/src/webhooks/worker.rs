//! The delivery workers of one replica: claim due deliveries (`FOR UPDATE SKIP LOCKED`, so
//! replicas never send the same attempt twice), send them concurrently, sleep when the
//! outbox is empty (or until woken), and prune old delivered and failed rows.

use std::time::Duration;

use futures::StreamExt as _;

use super::deliver;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::webhooks as store;

/// How long a claim holds a delivery beyond the attempt's own timeout before another
/// worker may take it over (the sender crashed).
pub const LEASE_MARGIN_SECS: u64 = 20;
/// Delivered and failed deliveries are kept this long (the delivery log).
pub const KEEP_DAYS: i64 = 30;
/// How often old deliveries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Starts the workers of this replica unless the configuration turns them off.
#[must_use]
pub fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    if !state.config.webhooks.workers {
        return None;
    }
    let state = state.clone();
    Some(tokio::spawn(async move { run(state).await }))
}

async fn run(state: AppState) {
    let poll = Duration::from_millis(state.config.webhooks.poll_ms);
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        let sent = match run_once(&state).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "webhook worker: claim failed, retrying");
                0
            }
        };
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(tokio::time::Instant::now());
            if let Err(e) = prune(&state).await {
                tracing::warn!(error = %e, "webhook worker: prune failed");
            }
        }
        if sent == 0 {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = state.webhooks.wake.notified() => {}
            }
        }
    }
}

/// Claims one batch of due deliveries (at most the configured concurrency) and runs every
/// attempt; returns how many were claimed.
///
/// # Errors
/// [`StoreError`] when the claim fails (attempt errors are logged: their lease lapses and
/// another worker retries them).
pub async fn run_once(state: &AppState) -> Result<usize, StoreError> {
    let config = &state.config.webhooks;
    let lease = i64::try_from(config.timeout_secs.saturating_add(LEASE_MARGIN_SECS)).unwrap_or(30);
    let limit = i64::try_from(config.concurrency).unwrap_or(16);
    let mut tx = state.store.begin_system("webhook claim").await?;
    let batch = store::claim(&mut tx, limit, lease).await?;
    tx.commit().await?;
    let claimed = batch.len();
    futures::stream::iter(batch)
        .for_each_concurrent(config.concurrency, |c| async move {
            let id = c.id;
            if let Err(e) = deliver::attempt(state, c).await {
                tracing::warn!(delivery = %id, error = %e, "webhook attempt not recorded");
            }
        })
        .await;
    Ok(claimed)
}

async fn prune(state: &AppState) -> Result<u64, StoreError> {
    let before = state.clock.now() - time::Duration::days(KEEP_DAYS);
    let mut tx = state.store.begin_system("webhook prune").await?;
    let n = store::prune(&mut tx, before, 10_000).await?;
    tx.commit().await?;
    Ok(n)
}
