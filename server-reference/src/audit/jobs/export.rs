//! Export: a self-contained, size-capped bundle of one chain.

use breeze_core::audit::{BundleWriter, Entry, KeyRing};
use breeze_core::tenancy::OrgId;
use time::OffsetDateTime;

use crate::store::ScopedTx;
use crate::store::audit::{self as store_audit};

/// Rows read per query while streaming a chain.
use super::{AuditJobError, BATCH, audit_err, timestamp};

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
