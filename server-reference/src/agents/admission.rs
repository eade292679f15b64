//! Load control of the agent hot path (SPEC 11): a fleet reconnecting at once, or
//! heartbeating faster than PostgreSQL can commit, gets `429` with `Retry-After` instead of
//! waiting on the connection pool until it times out (503) and starving everyone else.
//!
//! - [`AgentLoad::admit`]: an agent request takes one of `pool - reserve - 2` permits (the
//!   two are the heartbeat batcher's connections) before it
//!   touches the database, waiting at most [`ADMIT_WAIT`]; otherwise it is refused with a
//!   `Retry-After` spread over [`RETRY_AFTER_SECS`] so the retries do not come back in
//!   step. The permit is held until the response is ready (a heartbeat gives it back when
//!   it is handed to the batcher, which holds no connection per waiter), so agent traffic
//!   never holds more than its share of the pool and user requests always find a connection.
//! - [`AgentLoad::permit`]: the same permits for background socket work (claiming commands
//!   for a connected agent), which waits instead of failing.
//! - [`AgentLoad::result_permit`]: storing command results (audited, so serialized per
//!   organization chain) uses at most a quarter of that share.
//! - Organization device counts (the size of the per-organization agent limit) are cached
//!   for [`ORG_COUNT_TTL`]: counting an organization's devices on every heartbeat was the
//!   largest cost of agent authentication, and the limit only needs the rough size.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use breeze_core::tenancy::OrgId;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// Longest wait for an admission permit before answering 429.
pub const ADMIT_WAIT: Duration = Duration::from_secs(1);
/// `Retry-After` of a refused agent request: uniformly spread over this range, seconds.
pub const RETRY_AFTER_SECS: (u64, u64) = (2, 10);
/// Pool connections kept out of the agents' reach (user requests, jobs, readiness).
pub const POOL_RESERVE: u32 = 4;
/// Pool connections of the heartbeat batcher's workers, also kept out of the permits.
pub const BATCH_CONNECTIONS: u32 = 2;
/// How long an organization's device count is reused.
pub const ORG_COUNT_TTL: Duration = Duration::from_secs(60);
/// Most organizations whose counts are kept (the map is cleared when it grows past this).
const MAX_ORG_COUNTS: usize = 100_000;

/// Admission and caches of the agent hot path.
#[derive(Debug)]
pub struct AgentLoad {
    gate: Arc<Semaphore>,
    results: Semaphore,
    permits: u32,
    org_counts: Mutex<HashMap<OrgId, (u32, Instant)>>,
}

impl AgentLoad {
    /// Admission sized for a pool of `db_connections`.
    #[must_use]
    pub fn new(db_connections: u32) -> Self {
        let permits = db_connections
            .saturating_sub(POOL_RESERVE + BATCH_CONNECTIONS)
            .max(1);
        Self {
            gate: Arc::new(Semaphore::new(usize::try_from(permits).unwrap_or(1))),
            results: Semaphore::new(usize::try_from((permits / 4).max(1)).unwrap_or(1)),
            permits,
            org_counts: Mutex::new(HashMap::new()),
        }
    }

    /// Permits in all.
    #[must_use]
    pub const fn permits(&self) -> u32 {
        self.permits
    }

    /// A permit for an agent request, or the `Retry-After` seconds to answer with.
    ///
    /// # Errors
    /// The seconds to wait when no permit came within [`ADMIT_WAIT`].
    pub async fn admit(&self) -> Result<AdmissionSlot, u64> {
        match tokio::time::timeout(ADMIT_WAIT, Arc::clone(&self.gate).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(AdmissionSlot(Arc::new(Mutex::new(Some(permit))))),
            _ => Err(spread_retry_after()),
        }
    }

    /// A permit for background work of a connected agent (waits; `None` only when the
    /// gate is closed).
    pub async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        self.gate.acquire().await.ok()
    }

    /// A permit to store a command result (a quarter of the agents' share, waited for).
    /// Results are audited, and appends to one organization's chain take turns on its head,
    /// so unbounded result writers would sit on pool connections waiting for that lock while
    /// command delivery starves; this keeps most of the share for delivery.
    pub async fn result_permit(&self) -> Option<SemaphorePermit<'_>> {
        self.results.acquire().await.ok()
    }

    /// The cached device count of `org`, if fresh.
    #[must_use]
    pub fn org_devices(&self, org: OrgId) -> Option<u32> {
        self.org_counts
            .lock()
            .get(&org)
            .filter(|(_, at)| at.elapsed() < ORG_COUNT_TTL)
            .map(|(n, _)| *n)
    }

    /// Remembers the device count of `org`.
    pub fn set_org_devices(&self, org: OrgId, count: u32) {
        let mut map = self.org_counts.lock();
        if map.len() >= MAX_ORG_COUNTS {
            map.clear();
        }
        map.insert(org, (count, Instant::now()));
    }
}

/// An admitted agent request's permit. The guard holds it until the response is ready; a
/// handler that stops needing a connection before then (a heartbeat handed to the batcher,
/// which has its own connections and queue) gives it back early with
/// [`AdmissionSlot::release`]. Clones share the one permit.
#[derive(Debug, Clone)]
pub struct AdmissionSlot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl AdmissionSlot {
    /// Gives the permit back now (idempotent).
    pub fn release(&self) {
        self.0.lock().take();
    }

    /// Whether the permit is still held.
    #[must_use]
    pub fn is_held(&self) -> bool {
        self.0.lock().is_some()
    }
}

/// A `Retry-After` uniformly spread over [`RETRY_AFTER_SECS`] (the upper bound when the
/// OS has no randomness: waiting longer is always safe).
#[must_use]
pub fn spread_retry_after() -> u64 {
    let (lo, hi) = RETRY_AFTER_SECS;
    let mut b = [0u8; 8];
    if breeze_crypto::random::fill(&mut b).is_err() {
        return hi;
    }
    lo + u64::from_le_bytes(b) % (hi - lo + 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[tokio::test]
    async fn admission_refuses_with_a_spread_retry_after_when_full() {
        let load = AgentLoad::new(8);
        assert_eq!(load.permits(), 2);
        let a = load.admit().await.unwrap();
        let b = load.admit().await.unwrap();
        let refused = load.admit().await.unwrap_err();
        assert!((RETRY_AFTER_SECS.0..=RETRY_AFTER_SECS.1).contains(&refused));
        drop(a);
        let c = load.admit().await.unwrap();
        // an early release frees the permit while the slot (and its clones) live on
        let b2 = b.clone();
        assert!(load.admit().await.is_err());
        b2.release();
        assert!(!b.is_held());
        b.release();
        let _d = load.admit().await.unwrap();
        assert!(c.is_held());
        // a tiny pool still admits one at a time
        assert_eq!(AgentLoad::new(1).permits(), 1);
    }

    #[test]
    fn retry_after_values_spread_over_the_range() {
        let seen: std::collections::HashSet<u64> = (0..500).map(|_| spread_retry_after()).collect();
        assert!(seen.len() > 3, "{seen:?}");
        assert!(
            seen.iter()
                .all(|s| (RETRY_AFTER_SECS.0..=RETRY_AFTER_SECS.1).contains(s))
        );
    }

    #[test]
    fn org_counts_are_cached() {
        let load = AgentLoad::new(20);
        let org = OrgId::new_random();
        assert_eq!(load.org_devices(org), None);
        load.set_org_devices(org, 2000);
        assert_eq!(load.org_devices(org), Some(2000));
    }
}
