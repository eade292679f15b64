//! Chain verification: a chain's rows streamed in sequence order into breeze-core's
//! `ChainVerifier`, checkpoints checked with the configured keys, the end compared with the
//! recorded head.

use breeze_core::audit::{BreakKind, ChainBreak, ChainVerifier, Entry, KeyRing};
use breeze_core::tenancy::OrgId;
use serde::Serialize;

use crate::store::ScopedTx;
use crate::store::audit::{self as store_audit, StoredHead};

/// Rows read per query while streaming a chain.
use super::{AuditJobError, BATCH};

/// The first break of a chain, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
