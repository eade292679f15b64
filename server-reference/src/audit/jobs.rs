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

use std::time::Duration;

use breeze_core::audit::{
    Action, Actor, AuditEvent, AuditResult, BreakKind, BundleWriter, ChainBreak, ChainHead,
    ChainVerifier, Checkpoint, CheckpointSigner, Entry, EntryBody, InitiatedBy, KeyRing,
    RetentionRecord, Timestamp,
};
use breeze_core::tenancy::OrgId;
use serde::Serialize;
use time::OffsetDateTime;

use crate::state::AppState;
use crate::store::audit::{self as store_audit, StoredHead};
use crate::store::{PgStore, ScopedTx, StoreError};

/// Rows read per query while streaming a chain.
const BATCH: u32 = 1000;

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

fn audit_err(e: impl std::fmt::Display) -> AuditJobError {
    AuditJobError::Audit(e.to_string())
}

fn timestamp(at: OffsetDateTime) -> Result<Timestamp, AuditJobError> {
    Timestamp::from_datetime_truncated(at).map_err(audit_err)
}

/// The first break of a chain, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakReport {
    /// The library's kind name (`content_altered`, `entry_removed`, ...).
    pub kind: String,
    /// First sequence that cannot be trusted.
    pub sequence: u64,
    /// What was seen (sequence numbers and hashes only).
    pub detail: String,
}

impl From<ChainBreak> for BreakReport {
    fn from(b: ChainBreak) -> Self {
        Self {
            kind: b.kind.as_str().to_owned(),
            sequence: b.sequence,
            detail: b.detail,
        }
    }
}

/// The verification of one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    /// `system` or the organization UUID.
    pub chain: String,
    /// Whether the chain verified end to end.
    pub ok: bool,
    /// Entries verified (before the break, if any).
    pub entries: u64,
    /// First sequence stored (0, or after the anchor of a pruned chain).
    pub first_sequence: u64,
    /// Last sequence the database recorded, if any entry was ever sealed.
    pub head_sequence: Option<u64>,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Last sequence removed by retention.
    pub pruned_through: Option<u64>,
    /// The first break.
    #[serde(rename = "break", skip_serializing_if = "Option::is_none")]
    pub first_break: Option<BreakReport>,
}

/// The verification of several chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Whether every chain verified.
    pub ok: bool,
    /// One report per chain.
    pub chains: Vec<ChainReport>,
}

fn broken(head: &StoredHead, first_sequence: u64, b: ChainBreak) -> ChainReport {
    ChainReport {
        chain: head.chain_key.clone(),
        ok: false,
        entries: 0,
        first_sequence,
        head_sequence: head.next_seq.checked_sub(1),
        checkpoints: 0,
        pruned_through: None,
        first_break: Some(b.into()),
    }
}

/// Verifies one chain whose recorded head is `head`, with `keys` only.
///
/// # Errors
/// [`AuditJobError::Store`] when the rows cannot be read (a broken chain is a report, not
/// an error).
pub async fn verify_chain(
    tx: &mut ScopedTx,
    keys: &KeyRing,
    head: &StoredHead,
) -> Result<ChainReport, AuditJobError> {
    let key = head.chain_key.as_str();
    let anchor = store_audit::anchor(tx, key).await?;
    let start_after = anchor.as_ref().map(|a| a.sequence);
    let first_sequence = start_after.map_or(0, |s| s.saturating_add(1));
    let mut v = match &anchor {
        Some(a) => match ChainVerifier::from_anchor(a, keys.clone()) {
            Ok(v) => v,
            Err(b) => return Ok(broken(head, first_sequence, b)),
        },
        None => ChainVerifier::new(head.chain_id(), keys.clone()),
    };
    // Only rows and checkpoints the recorded head covers: everything below it had
    // committed when the head was read, so later appends do not look like a cut tail.
    let below = head.next_seq;
    let cps = store_audit::checkpoints(tx, key, start_after, below).await?;
    let mut cps = cps.into_iter().peekable();
    let mut after = start_after;
    let outcome: Result<(), ChainBreak> = 'rows: loop {
        let batch = store_audit::entries_after(tx, key, after, below, BATCH).await?;
        if batch.is_empty() {
            break 'rows Ok(());
        }
        for (seq, json) in batch {
            after = Some(seq);
            // checkpoints whose row is missing: the verifier reports the removal
            while let Some(cp) = cps.next_if(|c| c.sequence < seq) {
                if let Err(b) = v.push_checkpoint(&cp) {
                    break 'rows Err(b);
                }
            }
            let entry: Entry = match serde_json::from_str(&json) {
                Ok(e) => e,
                Err(_) => {
                    break 'rows Err(ChainBreak {
                        kind: BreakKind::Malformed,
                        chain: head.chain_id(),
                        sequence: seq,
                        detail: format!("stored entry {seq} does not parse"),
                    });
                }
            };
            if let Err(b) = v.push_entry(&entry) {
                break 'rows Err(b);
            }
            while let Some(cp) = cps.next_if(|c| c.sequence == seq) {
                if let Err(b) = v.push_checkpoint(&cp) {
                    break 'rows Err(b);
                }
            }
        }
    };
    let outcome = outcome.and_then(|()| {
        for cp in cps {
            v.push_checkpoint(&cp)?;
        }
        v.finish()
    });
    let verified = match outcome {
        Ok(verified) => verified,
        Err(b) => return Ok(broken(head, first_sequence, b)),
    };
    let mut report = ChainReport {
        chain: head.chain_key.clone(),
        ok: true,
        entries: verified.entries,
        first_sequence: verified.first_sequence,
        head_sequence: head.next_seq.checked_sub(1),
        checkpoints: verified.checkpoints,
        pruned_through: verified.pruned_through,
        first_break: None,
    };
    // The rows must reach the head the database recorded when sealing.
    let ends_at = verified
        .last_sequence
        .map_or(first_sequence, |l| l.saturating_add(1));
    let mismatch = if ends_at < head.next_seq {
        Some((
            BreakKind::Truncated,
            ends_at,
            format!(
                "rows end before sequence {} the chain head records",
                head.next_seq.saturating_sub(1)
            ),
        ))
    } else if head.next_seq > 0 && verified.head_hash != head.head_hash {
        let last = head.next_seq.saturating_sub(1);
        Some((
            BreakKind::ContentAltered,
            last,
            format!("the chain hash at {last} differs from the recorded head"),
        ))
    } else {
        None
    };
    if let Some((kind, sequence, detail)) = mismatch {
        report.ok = false;
        report.first_break = Some(BreakReport {
            kind: kind.as_str().to_owned(),
            sequence,
            detail,
        });
    }
    Ok(report)
}

/// Verifies every chain the transaction's context can see, or only `org`'s chain
/// (`Some(None)` = the system chain).
///
/// # Errors
/// [`AuditJobError::NotFound`] when the one chain asked for is not visible or empty;
/// [`AuditJobError::Store`].
pub async fn verify_visible(
    tx: &mut ScopedTx,
    keys: &KeyRing,
    only: Option<Option<OrgId>>,
) -> Result<VerifyReport, AuditJobError> {
    let heads = store_audit::heads(tx).await?;
    let heads: Vec<StoredHead> = match only {
        None => heads,
        Some(org) => {
            let key = store_audit::chain_key(org);
            let one: Vec<StoredHead> = heads.into_iter().filter(|h| h.chain_key == key).collect();
            if one.is_empty() {
                return Err(AuditJobError::NotFound);
            }
            one
        }
    };
    let mut chains = Vec::with_capacity(heads.len());
    for head in &heads {
        chains.push(verify_chain(tx, keys, head).await?);
    }
    Ok(VerifyReport {
        ok: chains.iter().all(|c| c.ok),
        chains,
    })
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

/// What a retention run did to one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionOutcome {
    /// The organization's chain key.
    pub chain: String,
    /// First sequence removed.
    pub pruned_from: u64,
    /// Last sequence removed (the anchor checkpoint's sequence).
    pub pruned_through: u64,
    /// Rows deleted.
    pub deleted: u64,
    /// Sequence of the retention record appended.
    pub record_sequence: u64,
}

/// How long chains are kept: the operator's floor and the system chain's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// No entry younger than this many days is ever pruned, whatever an organization's
    /// stored `retention_days` says (`BREEZE_AUDIT_RETENTION_FLOOR_DAYS`).
    pub floor_days: u32,
    /// Retention of the system chain in days (`BREEZE_SYSTEM_AUDIT_RETENTION_DAYS`); the
    /// floor applies to it too.
    pub system_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            floor_days: crate::config::DEFAULT_AUDIT_RETENTION_FLOOR_DAYS,
            system_days: crate::config::DEFAULT_SYSTEM_AUDIT_RETENTION_DAYS,
        }
    }
}

impl RetentionPolicy {
    /// The policy the configuration sets.
    #[must_use]
    pub const fn from_config(config: &crate::config::ServerConfig) -> Self {
        Self {
            floor_days: config.audit_retention_floor_days,
            system_days: config.system_audit_retention_days,
        }
    }

    /// The days actually applied to a chain whose configured retention is `days`.
    #[must_use]
    pub fn effective(&self, days: u32) -> u32 {
        days.max(self.floor_days)
    }
}

/// [`retention_run_with`] under the default policy (floor 90 days, system chain 365).
///
/// # Errors
/// As [`retention_run_with`].
pub async fn retention_run(
    maint: &PgStore,
    keys: &KeyRing,
    now: OffsetDateTime,
) -> Result<RetentionReport, AuditJobError> {
    retention_run_with(maint, keys, now, RetentionPolicy::default()).await
}

/// Prunes, for every organization, the prefix of its chain older than its retention period
/// (`organizations.retention_days`, never less than the policy's floor; cut-off
/// `now - days`) that ends at a stored checkpoint, then the system chain's prefix older
/// than the policy's system retention. `maint` must be a store connected as the maintenance
/// role (`DATABASE_MAINT_URL`).
///
/// Per chain, in one transaction: lock the head, verify the chain (a chain that does not
/// verify is never pruned: that would erase the evidence), plan with
/// [`RetentionRecord::plan`], append the retention record, delete the rows through its
/// checkpoint, record that checkpoint as the chain's anchor, and append an
/// `audit.retention.run` event to the system chain. A chain that fails is logged, listed in
/// [`RetentionReport::failed`] and left unchanged; the others proceed.
///
/// # Errors
/// [`AuditJobError::Store`] when the organizations cannot be listed.
pub async fn retention_run_with(
    maint: &PgStore,
    keys: &KeyRing,
    now: OffsetDateTime,
    policy: RetentionPolicy,
) -> Result<RetentionReport, AuditJobError> {
    let mut tx = maint.begin_system("audit retention").await?;
    let orgs = store_audit::org_retention_days(&mut tx).await?;
    drop(tx);
    let chains = orgs
        .into_iter()
        .map(|(org, days)| (Some(org), days))
        .chain(std::iter::once((None, policy.system_days)));
    let mut report = RetentionReport::default();
    for (org, days) in chains {
        let days = policy.effective(days);
        let cutoff = now.saturating_sub(time::Duration::days(i64::from(days)));
        match retention_chain(maint, keys, org, cutoff, now).await {
            Ok(Some(outcome)) => report.pruned.push(outcome),
            Ok(None) => {}
            Err(e) => {
                let chain = store_audit::chain_key(org);
                tracing::error!(chain = %chain, error = %e, "audit retention refused for a chain");
                report.failed.push((chain, e.to_string()));
            }
        }
    }
    Ok(report)
}

/// What a retention run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Chains pruned.
    pub pruned: Vec<RetentionOutcome>,
    /// Chains left unchanged because of an error: (chain key, error).
    pub failed: Vec<(String, String)>,
}

/// The largest stored checkpoint sequence such that every stored entry through it is older
/// than `cutoff`.
async fn prune_end(
    tx: &mut ScopedTx,
    key: &str,
    start_after: Option<u64>,
    below: u64,
    cutoff: Timestamp,
) -> Result<Option<(Checkpoint, u64, Entry)>, AuditJobError> {
    let cps = store_audit::checkpoints(tx, key, start_after, below).await?;
    if cps.is_empty() {
        return Ok(None);
    }
    // first sequence whose entry is not older than the cut-off
    let mut boundary = below;
    let mut first_stored = None;
    let mut after = start_after;
    'scan: loop {
        let batch = store_audit::entries_after(tx, key, after, below, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for (seq, json) in batch {
            after = Some(seq);
            first_stored.get_or_insert(seq);
            let entry: Entry = serde_json::from_str(&json)
                .map_err(|_| audit_err(format!("stored entry {seq} does not parse")))?;
            if entry.timestamp() >= cutoff {
                boundary = seq;
                break 'scan;
            }
        }
    }
    let Some(first) = first_stored else {
        return Ok(None);
    };
    let Some(cp) = cps.into_iter().rev().find(|c| c.sequence < boundary) else {
        return Ok(None);
    };
    let json = store_audit::entry_at(tx, key, cp.sequence)
        .await?
        .ok_or_else(|| audit_err("the checkpointed entry is missing"))?;
    let anchor_entry: Entry = serde_json::from_str(&json)
        .map_err(|_| audit_err("the checkpointed entry does not parse"))?;
    Ok(Some((cp, first, anchor_entry)))
}

async fn retention_chain(
    maint: &PgStore,
    keys: &KeyRing,
    org: Option<OrgId>,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Option<RetentionOutcome>, AuditJobError> {
    let at = timestamp(now)?;
    let cutoff = timestamp(cutoff)?;
    let key = store_audit::chain_key(org);
    let mut tx = maint.begin_system("audit retention").await?;
    let mut head = store_audit::lock_head(&mut tx, org).await?;
    if head.next_sequence() == 0 {
        return Ok(None);
    }
    // Never prune a chain that does not verify: the rows are the evidence.
    let stored = StoredHead {
        chain_key: key.clone(),
        org,
        next_seq: head.next_sequence(),
        head_hash: head.head_hash(),
    };
    let check = verify_chain(&mut tx, keys, &stored).await?;
    if let Some(b) = check.first_break {
        return Err(audit_err(format!(
            "chain does not verify (seq {} {}): not pruning",
            b.sequence, b.kind
        )));
    }
    let start_after = store_audit::anchor(&mut tx, &key)
        .await?
        .map(|a| a.sequence);
    let Some((cp, pruned_from, anchor_entry)) =
        prune_end(&mut tx, &key, start_after, head.next_sequence(), cutoff).await?
    else {
        return Ok(None);
    };
    let through = cp.sequence;
    let record = RetentionRecord::plan(&head, &anchor_entry, &cp, keys, pruned_from, through, at)
        .map_err(audit_err)?;
    let entry = head.seal(EntryBody::Retention(record)).map_err(audit_err)?;
    store_audit::insert_entry(&mut tx, org, &entry).await?;
    let deleted = store_audit::prune_prefix(&mut tx, &cp, through).await?;
    let details = serde_json::json!({
        "chain": key,
        "prunedFrom": pruned_from,
        "prunedThrough": through,
        "deleted": deleted,
        "recordSequence": entry.sequence,
        "cutoff": cutoff.to_datetime().unix_timestamp(),
    });
    let event = AuditEvent::builder(
        Actor::System,
        Action::new("audit.retention.run").map_err(audit_err)?,
        AuditResult::Success,
        InitiatedBy::Schedule,
        at,
    )
    .resource_type("audit_chain")
    .resource_id(key.clone())
    .details(&details)
    .build()
    .map_err(audit_err)?;
    store_audit::append(&mut tx, None, event).await?;
    tx.commit().await?;
    Ok(Some(RetentionOutcome {
        chain: key,
        pruned_from,
        pruned_through: through,
        deleted,
        record_sequence: entry.sequence,
    }))
}

/// Writes `org`'s chain (`None` = system) as an export bundle: header with the configured
/// public keys and the anchor, the entries through `to_seq` (default: the head) each
/// followed by its stored checkpoints, and the trailer. Refuses to grow past `max_bytes`.
/// `from_seq` may not be after the chain's first stored entry: a bundle verifies offline
/// only from genesis or from its anchor, so a range always starts at the chain's start.
///
/// # Errors
/// [`AuditJobError::NotFound`] for a chain that is not visible or empty,
/// [`AuditJobError::TooLarge`], [`AuditJobError::Range`], [`AuditJobError::Store`].
pub async fn export_chain(
    tx: &mut ScopedTx,
    keys: &KeyRing,
    org: Option<OrgId>,
    from_seq: Option<u64>,
    to_seq: Option<u64>,
    max_bytes: usize,
    created_at: OffsetDateTime,
) -> Result<Vec<u8>, AuditJobError> {
    let head = store_audit::head_of(tx, org)
        .await?
        .ok_or(AuditJobError::NotFound)?;
    let key = head.chain_key.clone();
    let anchor = store_audit::anchor(tx, &key).await?;
    let start_after = anchor.as_ref().map(|a| a.sequence);
    let first_sequence = start_after.map_or(0, |s| s.saturating_add(1));
    // A bundle verifies from genesis or from its anchor: it cannot start mid-chain.
    if from_seq.is_some_and(|f| f > first_sequence) {
        return Err(AuditJobError::Range(first_sequence));
    }
    let below = match to_seq {
        Some(t) => head.next_seq.min(t.saturating_add(1)),
        None => head.next_seq,
    };
    let cps = store_audit::checkpoints(tx, &key, start_after, below).await?;
    let mut cps = cps.into_iter().peekable();
    let io = |e: std::io::Error| audit_err(e);
    let mut w = BundleWriter::new(
        Vec::new(),
        head.chain_id(),
        keys,
        anchor.as_ref(),
        timestamp(created_at)?,
    )
    .map_err(io)?;
    let mut after = start_after;
    let mut size = 0usize;
    loop {
        let batch = store_audit::entries_after(tx, &key, after, below, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for (seq, json) in batch {
            after = Some(seq);
            let entry: Entry = serde_json::from_str(&json)
                .map_err(|_| audit_err(format!("stored entry {seq} does not parse")))?;
            // skip checkpoints whose row is gone (the offline verifier sees the gap anyway)
            while cps.next_if(|c| c.sequence < seq).is_some() {}
            w.write_entry(&entry).map_err(io)?;
            size = size.saturating_add(json.len());
            while let Some(cp) = cps.next_if(|c| c.sequence == seq) {
                w.write_checkpoint(&cp).map_err(io)?;
            }
            if size > max_bytes {
                return Err(AuditJobError::TooLarge(max_bytes));
            }
        }
    }
    w.finish().map_err(io)
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
