//! Coalesced reads of agent authentication rows (SPEC 11).
//!
//! A row is read from PostgreSQL when the cache does not hold it: every agent's first
//! request after enrollment or after a restart, and every re-check after an invalidation.
//! A freshly enrolled or restarted fleet makes those requests all at once, and one short
//! transaction per agent (its `BEGIN`, the row-level-security settings, the statement, its
//! end) was what an agent's first contact cost PostgreSQL.
//!
//! [`RowLoader::load`] therefore queues the agent id and waits; one worker takes everything
//! queued (up to [`MAX_BATCH`] ids), reads all of their rows with one statement in one
//! system-scope read ([`agents::auth_rows`]) and answers every waiter with its own row, which
//! it also puts in the cache under a ticket taken before the read (an invalidation handled
//! meanwhile keeps it out, as for a single read). A waiter holds no pool connection. When the
//! queue is full the caller reads alone, as before.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::agents::auth_cache::AuthCache;
use crate::store::agents::{self, AgentAuthRow};
use crate::store::{PgStore, StoreError};

/// Most agent ids read by one statement.
pub const MAX_BATCH: usize = 256;
/// Ids waiting for a read before callers read alone.
pub const QUEUE_DEPTH: usize = 4_096;

type Reply = oneshot::Sender<Result<Option<AgentAuthRow>, StoreError>>;

struct Wanted {
    agent_id: String,
    reply: Reply,
}

/// Queues reads of authentication rows and runs them in batches; cheap to clone.
#[derive(Clone)]
pub struct RowLoader {
    queue: mpsc::Sender<Wanted>,
    store: PgStore,
    cache: Arc<AuthCache>,
}

impl std::fmt::Debug for RowLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowLoader")
            .field("queued", &(QUEUE_DEPTH - self.queue.capacity()))
            .finish_non_exhaustive()
    }
}

impl RowLoader {
    /// Starts the worker on the current Tokio runtime; it stops when every loader clone is
    /// dropped and the queue is drained.
    #[must_use]
    pub fn start(store: PgStore, cache: Arc<AuthCache>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(worker(store.clone(), Arc::clone(&cache), rx));
        Self {
            queue,
            store,
            cache,
        }
    }

    /// The authentication row of `agent_id` read from PostgreSQL now (never from the cache),
    /// put in the cache for the next calls; `None` when no device has that agent id.
    ///
    /// # Errors
    /// [`StoreError`] when the read failed.
    pub async fn load(&self, agent_id: &str) -> Result<Option<AgentAuthRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let wanted = Wanted {
            agent_id: agent_id.to_owned(),
            reply,
        };
        match self.queue.try_send(wanted) {
            Ok(()) => answer.await.map_err(|_| StoreError::Unavailable)?,
            // full or stopped: this caller reads alone
            Err(_) => read(&self.store, &self.cache, &[agent_id.to_owned()])
                .await
                .map(|mut rows| rows.remove(agent_id)),
        }
    }
}

async fn worker(store: PgStore, cache: Arc<AuthCache>, mut rx: mpsc::Receiver<Wanted>) {
    loop {
        let mut taken = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut taken, MAX_BATCH).await == 0 {
            return; // every sender dropped and the queue is empty
        }
        // waiters that gave up need no read
        taken.retain(|w| !w.reply.is_closed());
        if taken.is_empty() {
            continue;
        }
        let mut ids: Vec<String> = taken.iter().map(|w| w.agent_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        match read(&store, &cache, &ids).await {
            Ok(rows) => {
                for w in taken {
                    let _ = w.reply.send(Ok(rows.get(&w.agent_id).cloned()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, agents = ids.len(), "authentication rows not read");
                for w in taken {
                    let _ = w.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Reads the rows of `ids` in one statement and caches each under a ticket taken before
/// the read.
async fn read(
    store: &PgStore,
    cache: &AuthCache,
    ids: &[String],
) -> Result<HashMap<String, AgentAuthRow>, StoreError> {
    // taken before the read: an invalidation handled after it refuses the row (a revoking
    // commit between this read and the put must not leave its old row cached)
    let ticket = cache.ticket();
    let mut tx = store.begin_system("authenticate agents").await?;
    let rows = agents::auth_rows(&mut tx, ids).await?;
    drop(tx);
    for (agent_id, row) in &rows {
        cache.put(ticket, agent_id, row.clone());
    }
    Ok(rows)
}
