//! Audit log storage (SPEC 6.1): appending sealed entries in the transaction of the change.
//!
//! [`append`] takes the chain's head lock (`breeze_audit_lock_head`, a row lock held to
//! commit, so entries are sealed in commit order and concurrent writers queue instead of
//! forking), seals the event with [`breeze_core::audit::ChainHead`] and inserts the entry's
//! JSON wire form. The insert trigger refuses anything that does not extend the head exactly.

use breeze_core::audit::{AuditEvent, ChainHead, ChainId, Checkpoint, Digest32, Entry, EntryBody};
use breeze_core::tenancy::OrgId;

use super::{ScopedTx, StoreError, StoreResult};

/// The chain key of `org` (`system` for events without an organization).
#[must_use]
pub fn chain_key(org: Option<OrgId>) -> String {
    org.map_or_else(|| "system".to_owned(), |o| o.to_string())
}

/// The chain id of `org`.
#[must_use]
pub const fn chain_id(org: Option<OrgId>) -> ChainId {
    match org {
        Some(o) => ChainId::Org(o),
        None => ChainId::System,
    }
}

/// Locks `org`'s chain head for this transaction and returns it.
///
/// # Errors
/// [`StoreError::Denied`] when the context has no access to the chain.
pub async fn lock_head(tx: &mut ScopedTx, org: Option<OrgId>) -> StoreResult<ChainHead> {
    let (next_seq, head_hash): (i64, String) =
        sqlx::query_as("SELECT next_seq, head_hash FROM breeze_audit_lock_head($1)")
            .bind(chain_key(org))
            .fetch_one(tx.conn())
            .await?;
    let next = u64::try_from(next_seq).map_err(|_| StoreError::Audit("negative head".into()))?;
    let hash: Digest32 = head_hash
        .parse()
        .map_err(|_| StoreError::Audit("malformed head hash".into()))?;
    Ok(ChainHead::resume(chain_id(org), next, hash))
}

/// Inserts a sealed entry (the head must have been locked in this transaction), with the
/// webhook deliveries it gives rise to.
///
/// # Errors
/// [`StoreError`] when the insert is refused.
pub async fn insert_entry(tx: &mut ScopedTx, org: Option<OrgId>, entry: &Entry) -> StoreResult<()> {
    let json = serde_json::to_string(entry).map_err(|e| StoreError::Audit(e.to_string()))?;
    let seq =
        i64::try_from(entry.sequence).map_err(|_| StoreError::Audit("sequence overflow".into()))?;
    sqlx::query("INSERT INTO audit_log (chain_key, seq, org_id, entry) VALUES ($1, $2, $3, $4)")
        .bind(chain_key(org))
        .bind(seq)
        .bind(org.map(|o| *o.as_uuid()))
        .bind(json)
        .execute(tx.conn())
        .await?;
    if let Some(org) = org {
        enqueue_webhooks(tx, org, entry).await?;
    }
    Ok(())
}

/// Appends `event` to `org`'s chain (the system chain for `None`) inside `tx`: it commits
/// with the change it records, or neither happens.
///
/// # Errors
/// [`StoreError`] when the chain cannot be locked or the entry is refused; the caller must
/// then drop the transaction (the change is not made).
pub async fn append(tx: &mut ScopedTx, org: Option<OrgId>, event: AuditEvent) -> StoreResult<u64> {
    let mut head = lock_head(tx, org).await?;
    let entry = head
        .seal(EntryBody::Event(event))
        .map_err(|e| StoreError::Audit(e.to_string()))?;
    insert_entry(tx, org, &entry).await?;
    Ok(entry.sequence)
}

/// Writes the webhook deliveries an organization's entry gives rise to (`audit.appended`
/// and the mapped domain event, SPEC 13) into the outbox, in the entry's own transaction.
async fn enqueue_webhooks(tx: &mut ScopedTx, org: OrgId, entry: &Entry) -> StoreResult<()> {
    let timestamp = entry.timestamp().to_datetime();
    let mut events = Vec::with_capacity(2);
    for (event, data) in breeze_core::webhooks::events_from_audit(entry) {
        let body = breeze_core::webhooks::payload(event, timestamp, org, data)
            .map_err(|e| StoreError::Audit(format!("webhook payload: {}", e.code())))?;
        let body = String::from_utf8(body)
            .map_err(|_| StoreError::Audit("webhook payload is not UTF-8".into()))?;
        events.push((event.as_str(), body));
    }
    super::webhooks::enqueue(tx, org, &events).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading chains: heads, entries, checkpoints, anchors (verification, export, retention)
// ---------------------------------------------------------------------------------------

/// The head of a stored chain as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHead {
    /// `system` or the organization's UUID.
    pub chain_key: String,
    /// The organization (`None` for the system chain).
    pub org: Option<OrgId>,
    /// Next sequence number (entries ever sealed).
    pub next_seq: u64,
    /// Chain hash of the last entry (all zero when empty).
    pub head_hash: Digest32,
}

impl StoredHead {
    /// The chain id.
    #[must_use]
    pub const fn chain_id(&self) -> ChainId {
        chain_id(self.org)
    }
}

/// Parses a chain key (`system` or an organization UUID).
///
/// # Errors
/// [`StoreError::Audit`] for anything else.
pub fn parse_chain_key(key: &str) -> StoreResult<Option<OrgId>> {
    match key.parse::<ChainId>() {
        Ok(ChainId::System) => Ok(None),
        Ok(ChainId::Org(o)) => Ok(Some(o)),
        Err(_) => Err(StoreError::Audit("malformed chain key".into())),
    }
}

fn to_u64(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Audit("negative sequence".into()))
}

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Audit("sequence overflow".into()))
}

/// The heads of every chain the context can see (system scope: all; otherwise the
/// accessible organizations'), ordered by chain key. Reads without locking.
///
/// # Errors
/// [`StoreError`].
pub async fn heads(tx: &mut ScopedTx) -> StoreResult<Vec<StoredHead>> {
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT chain_key, next_seq, head_hash FROM breeze_audit_heads()")
            .fetch_all(tx.conn())
            .await?;
    rows.into_iter()
        .map(|(chain_key, next_seq, head_hash)| {
            Ok(StoredHead {
                org: parse_chain_key(&chain_key)?,
                chain_key,
                next_seq: to_u64(next_seq)?,
                head_hash: head_hash
                    .parse()
                    .map_err(|_| StoreError::Audit("malformed head hash".into()))?,
            })
        })
        .collect()
}

/// The head of `org`'s chain if the context can see it and it has ever been written.
///
/// # Errors
/// [`StoreError`].
pub async fn head_of(tx: &mut ScopedTx, org: Option<OrgId>) -> StoreResult<Option<StoredHead>> {
    let key = chain_key(org);
    Ok(heads(tx).await?.into_iter().find(|h| h.chain_key == key))
}

/// Up to `limit` stored entries of a chain with `after < seq < below`, in sequence order,
/// as (sequence, entry JSON).
///
/// # Errors
/// [`StoreError`].
pub async fn entries_after(
    tx: &mut ScopedTx,
    chain: &str,
    after: Option<u64>,
    below: u64,
    limit: u32,
) -> StoreResult<Vec<(u64, String)>> {
    let after = after.map(to_i64).transpose()?.unwrap_or(-1);
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, entry FROM audit_log
          WHERE chain_key = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4",
    )
    .bind(chain)
    .bind(after)
    .bind(to_i64(below)?)
    .bind(i64::from(limit))
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|(seq, entry)| Ok((to_u64(seq)?, entry)))
        .collect()
}

/// The stored entry of a chain at `seq`, as JSON.
///
/// # Errors
/// [`StoreError`].
pub async fn entry_at(tx: &mut ScopedTx, chain: &str, seq: u64) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT entry FROM audit_log WHERE chain_key = $1 AND seq = $2")
            .bind(chain)
            .bind(to_i64(seq)?)
            .fetch_optional(tx.conn())
            .await?,
    )
}

fn parse_checkpoint(json: &str) -> StoreResult<Checkpoint> {
    serde_json::from_str(json).map_err(|_| StoreError::Audit("malformed stored checkpoint".into()))
}

/// Stored checkpoints of a chain with `after < seq < below`, ascending.
///
/// # Errors
/// [`StoreError`], or [`StoreError::Audit`] for a stored checkpoint that does not parse.
pub async fn checkpoints(
    tx: &mut ScopedTx,
    chain: &str,
    after: Option<u64>,
    below: u64,
) -> StoreResult<Vec<Checkpoint>> {
    let after = after.map(to_i64).transpose()?.unwrap_or(-1);
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT checkpoint FROM audit_checkpoints
          WHERE chain_key = $1 AND seq > $2 AND seq < $3 ORDER BY seq",
    )
    .bind(chain)
    .bind(after)
    .bind(to_i64(below)?)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|j| parse_checkpoint(j)).collect()
}

/// Whether a checkpoint of `chain` at `seq` is stored.
///
/// # Errors
/// [`StoreError`].
pub async fn has_checkpoint(tx: &mut ScopedTx, chain: &str, seq: u64) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_checkpoints WHERE chain_key = $1 AND seq = $2)",
    )
    .bind(chain)
    .bind(to_i64(seq)?)
    .fetch_one(tx.conn())
    .await?)
}

/// Stores a signed checkpoint (system scope only; an existing one at that sequence is kept).
///
/// # Errors
/// [`StoreError`].
pub async fn insert_checkpoint(tx: &mut ScopedTx, cp: &Checkpoint) -> StoreResult<bool> {
    let org = match cp.chain {
        ChainId::System => None,
        ChainId::Org(o) => Some(o),
    };
    let json = serde_json::to_string(cp).map_err(|e| StoreError::Audit(e.to_string()))?;
    let done = sqlx::query(
        "INSERT INTO audit_checkpoints (chain_key, seq, org_id, checkpoint)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(chain_key(org))
    .bind(to_i64(cp.sequence)?)
    .bind(org.map(|o| *o.as_uuid()))
    .bind(json)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The distinct key ids of every stored checkpoint (system scope sees all chains).
///
/// # Errors
/// [`StoreError`].
pub async fn checkpoint_key_ids(tx: &mut ScopedTx) -> StoreResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT key_id FROM audit_checkpoints ORDER BY key_id")
            .fetch_all(tx.conn())
            .await?,
    )
}

/// The most recently stored checkpoint signed under `key_id`.
///
/// # Errors
/// [`StoreError`], or [`StoreError::Audit`] for a stored checkpoint that does not parse.
pub async fn latest_checkpoint_of_key(
    tx: &mut ScopedTx,
    key_id: &str,
) -> StoreResult<Option<Checkpoint>> {
    let row: Option<String> = sqlx::query_scalar(
        "SELECT checkpoint FROM audit_checkpoints WHERE key_id = $1
          ORDER BY created_at DESC, chain_key, seq DESC LIMIT 1",
    )
    .bind(key_id)
    .fetch_optional(tx.conn())
    .await?;
    row.as_deref().map(parse_checkpoint).transpose()
}

/// The checkpoint a pruned chain starts from (the latest anchor), if it was ever pruned.
///
/// # Errors
/// [`StoreError`].
pub async fn anchor(tx: &mut ScopedTx, chain: &str) -> StoreResult<Option<Checkpoint>> {
    let row: Option<String> = sqlx::query_scalar(
        "SELECT checkpoint FROM audit_anchors WHERE chain_key = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(chain)
    .fetch_optional(tx.conn())
    .await?;
    row.as_deref().map(parse_checkpoint).transpose()
}

// ---------------------------------------------------------------------------------------
// Retention (maintenance role only)
// ---------------------------------------------------------------------------------------

/// Every organization with its retention period in days.
///
/// # Errors
/// [`StoreError`].
pub async fn org_retention_days(tx: &mut ScopedTx) -> StoreResult<Vec<(OrgId, u32)>> {
    let rows: Vec<(uuid::Uuid, i32)> =
        sqlx::query_as("SELECT id, retention_days FROM organizations ORDER BY id")
            .fetch_all(tx.conn())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, days)| (OrgId::from_uuid(id), u32::try_from(days).unwrap_or(365)))
        .collect())
}

/// Deletes the entries of `chain` through `through` and records `anchor` as the chain's
/// new start. Only the maintenance role in system scope can (the trigger also needs the
/// `breeze.audit_maintenance` flag, set here for this transaction only). The retention
/// record must have been appended in this transaction first.
///
/// # Errors
/// [`StoreError::Denied`] for any other role; [`StoreError`].
pub async fn prune_prefix(
    tx: &mut ScopedTx,
    anchor: &Checkpoint,
    through: u64,
) -> StoreResult<u64> {
    if anchor.sequence != through {
        return Err(StoreError::Audit("prune must end at the anchor".into()));
    }
    let org = match anchor.chain {
        ChainId::System => None,
        ChainId::Org(o) => Some(o),
    };
    let key = chain_key(org);
    sqlx::query("SELECT set_config('breeze.audit_maintenance', 'on', true)")
        .execute(tx.conn())
        .await?;
    let deleted = sqlx::query("DELETE FROM audit_log WHERE chain_key = $1 AND seq <= $2")
        .bind(&key)
        .bind(to_i64(through)?)
        .execute(tx.conn())
        .await?
        .rows_affected();
    sqlx::query("SELECT set_config('breeze.audit_maintenance', 'off', true)")
        .execute(tx.conn())
        .await?;
    let json = serde_json::to_string(anchor).map_err(|e| StoreError::Audit(e.to_string()))?;
    sqlx::query(
        "INSERT INTO audit_anchors (chain_key, seq, org_id, checkpoint) VALUES ($1, $2, $3, $4)",
    )
    .bind(&key)
    .bind(to_i64(through)?)
    .bind(org.map(|o| *o.as_uuid()))
    .bind(json)
    .execute(tx.conn())
    .await?;
    Ok(deleted)
}

// ---------------------------------------------------------------------------------------
// Listing events (the API)
// ---------------------------------------------------------------------------------------

/// Filters of an audit listing; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only this organization's chain.
    pub org: Option<OrgId>,
    /// Only these organizations' chains (the caller's reach, `AccessContext::listing_orgs`,
    /// when no single organization is named): row-level security already limits the rows
    /// to them; naming them lets the query read their chains instead of every chain in
    /// page order until its own come.
    pub orgs: Option<Vec<OrgId>>,
    /// `resource_type` is one of these.
    pub resource_types: Option<Vec<String>>,
    /// Exact action, or a prefix when `action_prefix`.
    pub action: Option<String>,
    /// Whether `action` is a prefix (`device.*`).
    pub action_prefix: bool,
    /// Actor id.
    pub actor_id: Option<String>,
    /// Actor type.
    pub actor_type: Option<String>,
    /// Result.
    pub result: Option<String>,
    /// Entries after this (chain key, sequence).
    pub after: Option<(String, u64)>,
}

/// One stored row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRow {
    /// Chain key.
    pub chain_key: String,
    /// Sequence.
    pub seq: u64,
    /// The entry JSON.
    pub entry: String,
}

/// The conditions every listing applies, on the parameters both statements of [`list`]
/// bind the same way: $1 organization, $2 resource types, $3 action or prefix, $4 whether
/// it is a prefix, $5 actor id, $6 actor type, $7 result, $8/$9 the cursor's chain and
/// sequence, $10 the limit, $11 the organizations' chain keys.
///
/// An organization's entries are its chain (`chain_key` is the organization id as text, a
/// table CHECK): naming the chain lets an index serve the page. Within one chain the cursor
/// is `seq > n` (a cursor on an earlier chain starts at the chain's first entry, one on a
/// later chain ends the listing): the index then starts at the cursor, where a row
/// comparison beside `chain_key = ...` would be checked entry by entry from the chain's
/// start (41 ms for a page in the middle of a 1,000,000-entry chain). Planned per
/// execution, each CASE folds to the one branch that applies.
///
/// A prefix is matched with `^@` (`starts_with`), not `LIKE`: under row-level security
/// PostgreSQL evaluates a condition before the policy's, and so turns it into an index
/// range, only when its function is leakproof, which `starts_with` is and `LIKE` is not
/// (with `LIKE 'remote.%'` the chain's whole index range was read and filtered). It also
/// needs no escaping: the prefix is compared literally.
const LIST_CONDITIONS: &str = "($1::uuid IS NULL OR (org_id = $1 AND chain_key = $1::text))
            AND ($11::text[] IS NULL OR chain_key = ANY ($11))
            AND ($2::text[] IS NULL OR resource_type = ANY ($2))
            AND ($3::text IS NULL OR (CASE WHEN $4 THEN action ^@ $3 ELSE action = $3 END))
            AND ($5::text IS NULL OR actor_id = $5)
            AND ($6::text IS NULL OR actor_type = $6)
            AND ($7::text IS NULL OR result = $7)
            AND ($8::text IS NULL OR CASE
                   WHEN $1::uuid IS NULL THEN (chain_key, seq) > ($8, $9::bigint)
                   WHEN $8 = $1::text THEN seq > $9
                   ELSE $8 < $1::text END)";

/// Lists entries visible to the context (row-level security decides which chains),
/// ordered by (chain key, sequence), at most `limit`.
///
/// # Errors
/// [`StoreError`].
pub async fn list(tx: &mut ScopedTx, f: &ListFilter, limit: u32) -> StoreResult<Vec<ListedRow>> {
    let (after_key, after_seq) = match &f.after {
        Some((k, s)) => (Some(k.clone()), Some(to_i64(*s)?)),
        None => (None, None),
    };
    let sql = if f.org.is_some() && f.action_prefix && f.action.is_some() {
        // One chain, an action prefix: the matching entries of several actions, in sequence
        // order. No index holds them in that order, so a single statement read the whole
        // chain's matches and sorted them (60 ms at 100,000 entries in the chain). Instead:
        // the chain's distinct matching actions, one index probe each
        // (`audit_log_chain_action`, migration 0820), then each action's first page in
        // sequence order from the same index, merged. Reads at most (actions x page)
        // entries, whatever the chain's length (4.5 ms).
        format!(
            "WITH RECURSIVE actions(action) AS (
                 (SELECT action FROM audit_log
                   WHERE chain_key = $1::text AND action ^@ $3
                   ORDER BY action USING ~<~ LIMIT 1)
               UNION ALL
                 SELECT (SELECT a.action FROM audit_log a
                          WHERE a.chain_key = $1::text AND a.action ^@ $3
                            AND a.action ~>~ actions.action
                          ORDER BY a.action USING ~<~ LIMIT 1)
                   FROM actions WHERE actions.action IS NOT NULL)
             SELECT page.chain_key, page.seq, page.entry
               FROM actions CROSS JOIN LATERAL (
                    SELECT chain_key, seq, entry FROM audit_log
                     WHERE action = actions.action AND {LIST_CONDITIONS}
                     ORDER BY seq LIMIT $10) page
              ORDER BY page.seq
              LIMIT $10"
        )
    } else {
        format!(
            "SELECT chain_key, seq, entry FROM audit_log
              WHERE {LIST_CONDITIONS}
              ORDER BY chain_key, seq
              LIMIT $10"
        )
    };
    let orgs: Option<Vec<String>> = f
        .orgs
        .as_ref()
        .map(|orgs| orgs.iter().map(|o| chain_key(Some(*o))).collect());
    tx.plan_per_execution().await?;
    let rows: Vec<(String, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.org.map(|o| *o.as_uuid()))
        .bind(f.resource_types.as_ref())
        .bind(f.action.as_ref())
        .bind(f.action_prefix)
        .bind(f.actor_id.as_ref())
        .bind(f.actor_type.as_ref())
        .bind(f.result.as_ref())
        .bind(after_key)
        .bind(after_seq)
        .bind(i64::from(limit))
        .bind(orgs)
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter()
        .map(|(chain_key, seq, entry)| {
            Ok(ListedRow {
                chain_key,
                seq: to_u64(seq)?,
                entry,
            })
        })
        .collect()
}

/// The `details` of the latest `remote.session.ended` event about `session` in `org`'s
/// chain: the digest of the recording sealed when the session ended.
///
/// Read through the partial index `audit_log_session_ended` (chain, session, sequence;
/// migration 0821) with the action written into the statement so the planner can use it:
/// one index probe whatever the number of the organization's sessions (1.6-1.7 ms), where a
/// lookup by organization and action read every ended session's event until this one's
/// (18-39 ms with 10,000 in one chain).
///
/// # Errors
/// [`StoreError`].
pub async fn session_ended_details(
    tx: &mut ScopedTx,
    org: OrgId,
    session: &str,
) -> StoreResult<Option<serde_json::Value>> {
    let entry: Option<String> = sqlx::query_scalar(
        "SELECT entry FROM audit_log
          WHERE chain_key = $1::text AND org_id = $1
            AND action = 'remote.session.ended' AND resource_id = $2
          ORDER BY seq DESC LIMIT 1",
    )
    .bind(org.as_uuid())
    .bind(session)
    .fetch_optional(tx.conn())
    .await?;
    Ok(entry
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok())
        .and_then(|v| v.get("event")?.get("details").cloned()))
}
