//! Group commit of agent heartbeats (SPEC 11).
//!
//! At fleet scale the cost of a heartbeat is not its rows but its transaction: every one
//! paid for a `BEGIN`, the row-level-security settings, the planning and security-predicate
//! setup of its statement, and a `COMMIT`. Measured at 2,000 heartbeats/s on two cores,
//! PostgreSQL spent most of its time there and the p99 reached a second.
//!
//! A heartbeat is therefore handed to [`HeartbeatBatcher::beat`], which queues it and waits.
//! A few workers each take everything queued (up to [`MAX_BATCH`]), run it as one
//! transaction with one statement ([`agents::heartbeat_batch_and_claim`]) and answer every
//! waiter with its own claimed commands. Nothing is answered before the commit, so an
//! answered heartbeat is as durable as before, and a failed batch fails each of its
//! heartbeats (the agents retry) without writing any of them.
//!
//! Tenancy: the batch's transaction runs in a system context narrowed to exactly the
//! organizations and sites of its heartbeats
//! ([`AccessContext::system_within`]), and the statement matches every row on the device
//! *and* the organization that authentication placed it in. The device, organization and
//! site come from the agent's authenticated token, never from the request body.
//!
//! A batch that fails for one of its rows is split and retried in halves until the failing
//! heartbeat stands alone (issue 15, finding 1): one device's bad row fails only that
//! device's heartbeat, never another tenant's.
//!
//! A device's first source address rides with its first heartbeat (authentication leaves
//! it to the heartbeat, [`crate::agents::auth::Sighting::WithHeartbeat`]): it is written
//! by [`agents::record_first_sightings`] in the batch's transaction, so a freshly enrolled
//! fleet's first contact costs no transaction of its own.
//!
//! A device queued twice (a heartbeat over HTTP and one over its socket at the same moment)
//! runs its second heartbeat in the following batch: one statement cannot upsert a row twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use breeze_authz::access::AccessContext;
use breeze_core::tenancy::{CommandId, DeviceId, OrgId, SiteId};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::agents::{self, BatchedBeat, HeartbeatFacts};
use crate::store::commands::{self, ClaimedCommand, MAX_CLAIM};
use crate::store::{PgStore, StoreError};

/// Most heartbeats in one batch.
pub const MAX_BATCH: usize = 512;
/// Heartbeats waiting for a batch before new ones are refused with 429 (backpressure):
/// about a second of the rate one server is sized for, so a queued heartbeat is answered
/// long before an agent's request times out.
pub const QUEUE_DEPTH: usize = 2_048;
/// Batches run at once (each holds one pool connection while it runs; admission keeps
/// [`BATCH_CONNECTIONS`](crate::agents::admission::BATCH_CONNECTIONS) out of the agents' permits).
pub const WORKERS: usize = crate::agents::admission::BATCH_CONNECTIONS as usize;
/// Attempts of a batch that PostgreSQL aborted for a deadlock or a serialization failure.
const ATTEMPTS: u32 = 3;

/// Why a heartbeat was not recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BeatError {
    /// The queue is full: the server is over its heartbeat capacity.
    #[error("heartbeat queue full")]
    Overloaded,
    /// The batcher has stopped (server shutting down).
    #[error("heartbeat batcher stopped")]
    Stopped,
    /// The batch's transaction failed; nothing of it was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Pending {
    beat: BatchedBeat,
    reply: oneshot::Sender<Result<Vec<ClaimedCommand>, BeatError>>,
}

/// Queues heartbeats and records them in batches; cheap to clone.
#[derive(Clone)]
pub struct HeartbeatBatcher {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for HeartbeatBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeartbeatBatcher")
            .field("queued", &(QUEUE_DEPTH - self.queue.capacity()))
            .finish_non_exhaustive()
    }
}

impl HeartbeatBatcher {
    /// Starts [`WORKERS`] workers on the current Tokio runtime. They stop when every
    /// batcher clone is dropped and the queue is drained.
    #[must_use]
    pub fn start(store: PgStore) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            tokio::spawn(worker(store.clone(), Arc::clone(&rx)));
        }
        Self { queue }
    }

    /// Records one heartbeat of an authenticated device (and its first source address when
    /// it carries one) and claims up to [`MAX_CLAIM`] of its pending commands (oldest
    /// first); returns once the batch carrying it committed.
    ///
    /// # Errors
    /// [`BeatError::Overloaded`] when the queue is full, [`BeatError::Stopped`] when the
    /// batcher is gone, [`BeatError::Store`] when the batch failed (nothing written).
    pub async fn beat(
        &self,
        device: DeviceId,
        org: OrgId,
        site: SiteId,
        facts: HeartbeatFacts,
    ) -> Result<Vec<ClaimedCommand>, BeatError> {
        self.submit(BatchedBeat {
            device,
            org,
            site,
            facts,
            first_ip: None,
        })
        .await
    }

    /// [`Self::beat`] for a heartbeat as authentication placed it, with the device's first
    /// source address when it carries one ([`BatchedBeat::first_ip`]).
    ///
    /// # Errors
    /// As [`Self::beat`].
    pub async fn submit(&self, beat: BatchedBeat) -> Result<Vec<ClaimedCommand>, BeatError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending { beat, reply };
        self.queue.try_send(pending).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => BeatError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => BeatError::Stopped,
        })?;
        answer.await.map_err(|_| BeatError::Stopped)?
    }
}

async fn worker(store: PgStore, rx: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    let mut carried: Vec<Pending> = Vec::new();
    loop {
        let mut taken = Vec::with_capacity(MAX_BATCH);
        if carried.is_empty() {
            let got = rx.lock().await.recv_many(&mut taken, MAX_BATCH).await;
            if got == 0 {
                return; // every sender dropped and the queue is empty
            }
        }
        let (batch, repeats) = split_repeats(carried.drain(..).chain(taken));
        carried = repeats;
        run_batch(&store, batch).await;
    }
}

/// The first heartbeat of each device goes into this batch; repeats wait for the next.
fn split_repeats(items: impl Iterator<Item = Pending>) -> (Vec<Pending>, Vec<Pending>) {
    let mut seen = HashSet::new();
    let (mut batch, mut repeats) = (Vec::new(), Vec::new());
    for p in items {
        if seen.insert(p.beat.device) {
            batch.push(p);
        } else {
            repeats.push(p);
        }
    }
    (batch, repeats)
}

async fn run_batch(store: &PgStore, mut batch: Vec<Pending>) {
    // Waiters that gave up (client gone) need no write.
    batch.retain(|p| !p.reply.is_closed());
    if batch.is_empty() {
        return;
    }
    // A stable lock order across concurrent batches.
    batch.sort_by_key(|p| *p.beat.device.as_uuid());
    // Isolation (issue 15, finding 1): a batch that fails for something one of its rows
    // did is split in halves and each half runs alone, down to the single heartbeat that
    // fails; every other heartbeat (of any tenant) is recorded. A bad row costs about
    // 2 log2(n) extra transactions, once.
    let mut parts = vec![batch];
    while let Some(mut part) = parts.pop() {
        let beats: Vec<BatchedBeat> = part.iter().map(|p| p.beat.clone()).collect();
        match record_retrying(store, &beats).await {
            Ok(claimed) => answer(store, part, claimed).await,
            Err(e) if part.len() > 1 && row_specific(&e) => {
                crate::ops::metrics::global().record_heartbeat_batch_failed();
                tracing::warn!(error = %e, heartbeats = part.len(),
                    "heartbeat batch failed; retrying its halves apart");
                let second = part.split_off(part.len() / 2);
                parts.push(second);
                parts.push(part);
            }
            Err(e) => {
                crate::ops::metrics::global().record_heartbeat_batch_failed();
                tracing::warn!(error = %e, heartbeats = part.len(), "heartbeat batch failed");
                for p in part {
                    let _ = p.reply.send(Err(BeatError::Store(e.clone())));
                }
            }
        }
    }
}

/// Whether a failed batch may have failed for one of its rows (worth running apart):
/// refusals and constraint or other statement errors are; an unreachable database or a
/// context that could not be built are not (splitting would only multiply the failure).
const fn row_specific(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Denied
            | StoreError::Conflict(_)
            | StoreError::Duplicate { .. }
            | StoreError::Invalid { .. }
            | StoreError::NotFound
            | StoreError::Database(_)
    )
}

/// Records a batch, retrying deadlocks and serialization failures.
async fn record_retrying(
    store: &PgStore,
    beats: &[BatchedBeat],
) -> Result<Vec<(DeviceId, ClaimedCommand)>, StoreError> {
    let mut attempt = 1;
    loop {
        match record(store, beats).await {
            Err(Retry::Transient(e)) if attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "heartbeat batch retried");
                attempt += 1;
            }
            Err(Retry::Transient(e) | Retry::Fatal(e)) => return Err(e),
            Ok(claimed) => return Ok(claimed),
        }
    }
}

/// Answers every waiter of a committed batch with its own claimed commands.
async fn answer(store: &PgStore, part: Vec<Pending>, claimed: Vec<(DeviceId, ClaimedCommand)>) {
    crate::ops::metrics::global().record_heartbeat_batch(part.len());
    let mut by_device = group_by_device(claimed);
    let mut undelivered = Vec::new();
    for p in part {
        let mine = by_device.remove(&p.beat.device).unwrap_or_default();
        if let Err(Ok(mine)) = p.reply.send(Ok(mine)) {
            // The caller left after the commit: its claimed commands go back.
            if !mine.is_empty() {
                undelivered.push((p.beat, mine));
            }
        }
    }
    if !undelivered.is_empty() {
        return_undelivered(store, &undelivered).await;
    }
}

/// The claimed commands of each device, in their order.
fn group_by_device(
    claimed: Vec<(DeviceId, ClaimedCommand)>,
) -> HashMap<DeviceId, Vec<ClaimedCommand>> {
    let mut by_device: HashMap<DeviceId, Vec<ClaimedCommand>> = HashMap::new();
    for (device, command) in claimed {
        by_device.entry(device).or_default().push(command);
    }
    by_device
}

/// Puts commands claimed for callers that left back to `pending`, in a context narrowed to
/// their devices' organizations and sites. A failure is logged: those commands then stay
/// `sent` and time out as any undelivered command does.
async fn return_undelivered(store: &PgStore, undelivered: &[(BatchedBeat, Vec<ClaimedCommand>)]) {
    let ids: Vec<CommandId> = undelivered
        .iter()
        .flat_map(|(_, cmds)| cmds.iter().map(|c| c.id))
        .collect();
    let result = async {
        let (ctx, record) = AccessContext::system_within(
            "agent heartbeat batch: return undelivered commands",
            time::OffsetDateTime::now_utc(),
            undelivered.iter().map(|(b, _)| b.org),
            undelivered.iter().map(|(b, _)| b.site),
        )
        .map_err(|e| StoreError::Audit(e.to_string()))?;
        let orgs = undelivered
            .iter()
            .map(|(b, _)| b.org)
            .collect::<HashSet<_>>()
            .len();
        crate::store::trace_system_record(&record, Some(orgs));
        let mut tx = store.begin(&ctx).await?;
        let n = commands::unclaim(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok::<u64, StoreError>(n)
    }
    .await;
    match result {
        Ok(n) => tracing::debug!(commands = n, "undelivered commands returned to pending"),
        Err(e) => {
            tracing::warn!(error = %e, commands = ids.len(), "undelivered commands not returned")
        }
    }
}

enum Retry {
    Transient(StoreError),
    Fatal(StoreError),
}

async fn record(
    store: &PgStore,
    beats: &[BatchedBeat],
) -> Result<Vec<(DeviceId, ClaimedCommand)>, Retry> {
    let (ctx, record) = AccessContext::system_within(
        "agent heartbeat batch",
        time::OffsetDateTime::now_utc(),
        beats.iter().map(|b| b.org),
        beats.iter().map(|b| b.site),
    )
    .map_err(|e| Retry::Fatal(StoreError::Audit(e.to_string())))?;
    let orgs = beats.iter().map(|b| b.org).collect::<HashSet<_>>().len();
    crate::store::trace_system_record(&record, Some(orgs));
    let mut tx = store.begin(&ctx).await.map_err(Retry::Fatal)?;
    agents::record_first_sightings(&mut tx, beats)
        .await
        .map_err(classify)?;
    let claimed = agents::heartbeat_batch_and_claim(&mut tx, beats, MAX_CLAIM)
        .await
        .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    Ok(claimed)
}

/// Deadlocks and serialization failures (by SQLSTATE) are worth another attempt; the rest
/// are not.
fn classify(e: StoreError) -> Retry {
    if e.is_transient() {
        Retry::Transient(e)
    } else {
        Retry::Fatal(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

    use super::*;

    fn pending(device: DeviceId) -> Pending {
        let (reply, _) = oneshot::channel();
        Pending {
            beat: BatchedBeat {
                device,
                org: OrgId::new_random(),
                site: SiteId::new_random(),
                facts: HeartbeatFacts {
                    health: "ok",
                    agent_version: "1.0.0".into(),
                    metrics: None,
                    uptime_seconds: None,
                    last_user: None,
                    pending_reboot: None,
                },
                first_ip: None,
            },
            reply,
        }
    }

    #[test]
    fn a_device_twice_waits_for_the_next_batch() {
        let (a, b) = (DeviceId::new_random(), DeviceId::new_random());
        let (batch, repeats) =
            split_repeats([pending(a), pending(b), pending(a), pending(a)].into_iter());
        assert_eq!(
            batch.iter().map(|p| p.beat.device).collect::<Vec<_>>(),
            [a, b]
        );
        assert_eq!(repeats.len(), 2);
        let (batch, repeats) = split_repeats(repeats.into_iter());
        assert_eq!(batch.len(), 1);
        assert_eq!(repeats.len(), 1);
    }

    #[test]
    fn each_device_gets_only_its_commands_in_order() {
        let (a, b) = (DeviceId::new_random(), DeviceId::new_random());
        let cmd = |t: &str| ClaimedCommand {
            id: CommandId::new_random(),
            command_type: t.into(),
            payload_envelope: String::new(),
        };
        let mut by_device = group_by_device(vec![(a, cmd("a1")), (b, cmd("b1")), (a, cmd("a2"))]);
        let types =
            |v: Vec<ClaimedCommand>| v.into_iter().map(|c| c.command_type).collect::<Vec<_>>();
        assert_eq!(types(by_device.remove(&a).unwrap()), ["a1", "a2"]);
        assert_eq!(types(by_device.remove(&b).unwrap()), ["b1"]);
        assert!(by_device.is_empty());
    }

    #[test]
    fn only_deadlocks_and_serialization_failures_are_retried() {
        let failure = |code: &str, message: &str| {
            StoreError::Database(crate::store::DbFailure {
                sqlstate: Some(code.into()),
                constraint: None,
                message: message.into(),
            })
        };
        assert!(matches!(
            classify(failure("40P01", "deadlock detected")),
            Retry::Transient(_)
        ));
        assert!(matches!(
            classify(failure("40001", "could not serialize access")),
            Retry::Transient(_)
        ));
        // the decision is the code's, never the message's
        assert!(matches!(
            classify(failure("XX000", "deadlock detected")),
            Retry::Fatal(_)
        ));
        assert!(matches!(
            classify(StoreError::database("could not serialize access")),
            Retry::Fatal(_)
        ));
        assert!(matches!(classify(StoreError::Denied), Retry::Fatal(_)));
        assert!(matches!(classify(StoreError::Unavailable), Retry::Fatal(_)));
    }
}
