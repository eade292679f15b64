//! Retention: per chain, the prefix older than its period (never younger than the floor)
//! that ends at a stored checkpoint is pruned through the maintenance role.

use breeze_core::audit::{
    Action, Actor, AuditEvent, AuditResult, Checkpoint, Entry, EntryBody, InitiatedBy, KeyRing,
    RetentionRecord, Timestamp,
};
use breeze_core::tenancy::OrgId;
use serde::Serialize;
use time::OffsetDateTime;

use crate::store::audit::{self as store_audit, StoredHead};
use crate::store::{PgStore, ScopedTx};

/// Rows read per query while streaming a chain.
use super::{AuditJobError, BATCH, audit_err, timestamp, verify_chain};

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
