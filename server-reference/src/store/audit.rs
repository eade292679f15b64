//! Audit log storage (SPEC 6.1): appending sealed entries in the transaction of the change.
//!
//! [`append`] takes the chain's head lock (`breeze_audit_lock_head`, a row lock held to
//! commit, so entries are sealed in commit order and concurrent writers queue instead of
//! forking), seals the event with [`breeze_core::audit::ChainHead`] and inserts the entry's
//! JSON wire form. The insert trigger refuses anything that does not extend the head exactly.

use breeze_core::audit::{AuditEvent, ChainHead, ChainId, Digest32, Entry, EntryBody};
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

/// Inserts a sealed entry (the head must have been locked in this transaction).
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
