//! Retention: removing an old prefix of a chain without breaking verification.
//!
//! A prefix may only be removed up to a signed checkpoint. Before the rows go, a retention
//! record is appended at the head of the chain naming the removed range and embedding the
//! checkpoint; the remaining entries then verify from that checkpoint (the anchor) to the
//! head, and the retention record proves the gap before the anchor was a sanctioned prune.

use serde::{Deserialize, Serialize};

use super::chain::{ChainHead, Entry};
use super::checkpoint::{Checkpoint, CheckpointError, KeyRing};
use super::timestamp::Timestamp;

/// A record of a pruned prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRecord {
    /// When the prune was decided.
    pub timestamp: Timestamp,
    /// First sequence number removed (the first one still stored before the prune).
    pub pruned_from: u64,
    /// Last sequence number removed: always the anchor checkpoint's sequence.
    pub pruned_through: u64,
    /// The checkpoint the remaining chain anchors to.
    pub checkpoint: Checkpoint,
}

/// A prune that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RetentionError {
    /// The requested end of the prune is not the checkpoint's sequence.
    #[error(
        "pruning through sequence {requested} refused: the only checkpoint offered is at {checkpoint}"
    )]
    NotAtCheckpoint {
        /// Requested last sequence to remove.
        requested: u64,
        /// Sequence of the checkpoint offered.
        checkpoint: u64,
    },
    /// There is no checkpoint at the requested end of the prune.
    #[error("pruning through sequence {requested} refused: no checkpoint at that sequence")]
    NoCheckpoint {
        /// Requested last sequence to remove.
        requested: u64,
    },
    /// The checkpoint belongs to another chain.
    #[error("checkpoint belongs to another chain")]
    WrongChain,
    /// Sealing the retention record failed.
    #[error("cannot append the retention record: {0}")]
    Chain(#[from] super::chain::ChainError),
    /// The checkpoint does not verify.
    #[error("checkpoint does not verify: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The stored entry at the checkpoint's sequence is not the one the checkpoint signed.
    #[error("stored entry at sequence {sequence} does not match the checkpoint")]
    AnchorMismatch {
        /// The checkpoint's sequence.
        sequence: u64,
    },
    /// The range is empty or reaches beyond the head.
    #[error("invalid prune range {from}..={through}")]
    Range {
        /// First sequence to remove.
        from: u64,
        /// Last sequence to remove.
        through: u64,
    },
}

impl RetentionError {
    /// A stable machine code (snake_case) for the bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotAtCheckpoint { .. } => "not_at_checkpoint",
            Self::NoCheckpoint { .. } => "no_checkpoint",
            Self::WrongChain => "wrong_chain",
            Self::Chain(_) => "chain",
            Self::Checkpoint(_) => "checkpoint",
            Self::AnchorMismatch { .. } => "anchor_mismatch",
            Self::Range { .. } => "range",
        }
    }
}

impl RetentionRecord {
    /// Plans a prune of `pruned_from..=through`, to be appended to the chain whose head is
    /// `head` (then the caller deletes that range).
    ///
    /// `anchor_entry` is the stored entry at `through`; `checkpoint` must be a valid
    /// checkpoint of this chain at exactly `through` that signs that entry's chain hash.
    ///
    /// # Errors
    /// [`RetentionError::NotAtCheckpoint`] when `through` is not the checkpoint's sequence
    /// (pruning anywhere but at a checkpoint is refused), and the other
    /// [`RetentionError`] variants for a foreign, unverifiable or mismatched checkpoint or an
    /// invalid range.
    pub fn plan(
        head: &ChainHead,
        anchor_entry: &Entry,
        checkpoint: &Checkpoint,
        keys: &KeyRing,
        pruned_from: u64,
        through: u64,
        at: Timestamp,
    ) -> Result<Self, RetentionError> {
        if through != checkpoint.sequence {
            return Err(RetentionError::NotAtCheckpoint {
                requested: through,
                checkpoint: checkpoint.sequence,
            });
        }
        if checkpoint.chain != head.chain() || anchor_entry.chain != head.chain() {
            return Err(RetentionError::WrongChain);
        }
        keys.verify(checkpoint)?;
        if pruned_from > through || through >= head.next_sequence() {
            return Err(RetentionError::Range {
                from: pruned_from,
                through,
            });
        }
        let sealed_ok = anchor_entry.sequence == through
            && anchor_entry.seal_is_valid()
            && anchor_entry.chain_hash == Some(checkpoint.head_hash);
        if !sealed_ok {
            return Err(RetentionError::AnchorMismatch { sequence: through });
        }
        Ok(Self {
            timestamp: at,
            pruned_from,
            pruned_through: through,
            checkpoint: checkpoint.clone(),
        })
    }
}
