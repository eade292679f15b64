//! Chain entries and sealing: appending to a chain given its current head.

use serde::{Deserialize, Serialize};

use super::canonical;
use super::chain_id::ChainId;
use super::checkpoint::Checkpoint;
use super::event::AuditEvent;
use super::hash::{ChainHash, Digest32};
use super::retention::RetentionRecord;
use super::timestamp::Timestamp;

/// What an entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    /// An audit event.
    Event(AuditEvent),
    /// A retention record (a pruned prefix).
    Retention(RetentionRecord),
}

/// One entry of a chain, as stored and exported. The seal (`content_hash`, `chain_hash`)
/// is `None` for a row that was written but never sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The chain it belongs to.
    pub chain: ChainId,
    /// Gap-free position in the chain, from 0.
    pub sequence: u64,
    /// Chain hash of the previous entry (all zero for sequence 0).
    pub prev_hash: ChainHash,
    /// The event or retention record.
    pub body: EntryBody,
    /// `SHA-256(content domain || canonical bytes)`.
    pub content_hash: Option<Digest32>,
    /// `SHA-256(chain domain || prev_hash || content_hash)`.
    pub chain_hash: Option<ChainHash>,
}

impl Entry {
    /// The timestamp of the event or retention record.
    #[must_use]
    pub const fn timestamp(&self) -> Timestamp {
        match &self.body {
            EntryBody::Event(e) => e.timestamp(),
            EntryBody::Retention(r) => r.timestamp,
        }
    }

    /// The canonical bytes (see the `audit` module docs).
    #[must_use]
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::canonical_bytes(self)
    }

    /// Recomputes (content hash, chain hash) from the fields.
    #[must_use]
    pub fn compute_hashes(&self) -> (Digest32, ChainHash) {
        canonical::hashes_with(self, &mut Vec::with_capacity(384))
    }

    /// Whether the entry is sealed and both stored hashes match its fields.
    #[must_use]
    pub fn seal_is_valid(&self) -> bool {
        let (content, chain) = self.compute_hashes();
        self.content_hash == Some(content) && self.chain_hash == Some(chain)
    }
}

/// Appending that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChainError {
    /// The sequence number space is exhausted.
    #[error("chain sequence exhausted")]
    SequenceExhausted,
    /// The entry given as the head is not sealed, or its seal does not match its fields.
    #[error("entry at sequence {sequence} is not validly sealed")]
    BadHead {
        /// Its sequence.
        sequence: u64,
    },
    /// A retention record that does not belong to this chain.
    #[error("retention record belongs to another chain")]
    WrongChain,
}

impl ChainError {
    /// A stable machine code (snake_case) for the bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::SequenceExhausted => "sequence_exhausted",
            Self::BadHead { .. } => "bad_head",
            Self::WrongChain => "wrong_chain",
        }
    }
}

/// The state needed to append: chain id, next sequence number, current head hash.
///
/// The server reads the last row under its per-chain lock, builds the head with
/// [`ChainHead::after`], seals, and inserts in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    chain: ChainId,
    next_sequence: u64,
    head_hash: ChainHash,
}

impl ChainHead {
    /// The head of an empty chain: next sequence 0, head hash all zero.
    #[must_use]
    pub const fn genesis(chain: ChainId) -> Self {
        Self {
            chain,
            next_sequence: 0,
            head_hash: Digest32::ZERO,
        }
    }

    /// The head after a stored entry, re-checking the entry's seal first so a tampered last
    /// row is never built upon.
    ///
    /// # Errors
    /// [`ChainError::BadHead`] or [`ChainError::SequenceExhausted`].
    pub fn after(entry: &Entry) -> Result<Self, ChainError> {
        let bad = ChainError::BadHead {
            sequence: entry.sequence,
        };
        let (content, chain_hash) = entry.compute_hashes();
        if entry.content_hash != Some(content) || entry.chain_hash != Some(chain_hash) {
            return Err(bad);
        }
        Ok(Self {
            chain: entry.chain,
            next_sequence: entry
                .sequence
                .checked_add(1)
                .ok_or(ChainError::SequenceExhausted)?,
            head_hash: chain_hash,
        })
    }

    /// The head a store keeps beside the chain (next sequence and last chain hash), for
    /// stores that maintain it under the per-chain lock instead of re-reading the last row.
    /// A wrong head cannot hide anything: the next entry then fails verification.
    #[must_use]
    pub const fn resume(chain: ChainId, next_sequence: u64, head_hash: ChainHash) -> Self {
        Self {
            chain,
            next_sequence,
            head_hash,
        }
    }

    /// The head a verified checkpoint states (verify it with a [`KeyRing`] first).
    ///
    /// [`KeyRing`]: super::checkpoint::KeyRing
    #[must_use]
    pub const fn from_checkpoint(cp: &Checkpoint) -> Self {
        Self {
            chain: cp.chain,
            next_sequence: cp.entry_count,
            head_hash: cp.head_hash,
        }
    }

    /// The chain.
    #[must_use]
    pub const fn chain(&self) -> ChainId {
        self.chain
    }

    /// Sequence number the next entry gets (= entries sealed so far).
    #[must_use]
    pub const fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Chain hash of the last entry (all zero for an empty chain).
    #[must_use]
    pub const fn head_hash(&self) -> ChainHash {
        self.head_hash
    }

    /// Seals `body` as the next entry and advances the head.
    ///
    /// # Errors
    /// [`ChainError::SequenceExhausted`], or [`ChainError::WrongChain`] for a retention
    /// record whose checkpoint is of another chain.
    pub fn seal(&mut self, body: EntryBody) -> Result<Entry, ChainError> {
        if let EntryBody::Retention(r) = &body
            && r.checkpoint.chain != self.chain
        {
            return Err(ChainError::WrongChain);
        }
        let next = self
            .next_sequence
            .checked_add(1)
            .ok_or(ChainError::SequenceExhausted)?;
        let mut entry = Entry {
            chain: self.chain,
            sequence: self.next_sequence,
            prev_hash: self.head_hash,
            body,
            content_hash: None,
            chain_hash: None,
        };
        let (content, chain_hash) = entry.compute_hashes();
        entry.content_hash = Some(content);
        entry.chain_hash = Some(chain_hash);
        self.next_sequence = next;
        self.head_hash = chain_hash;
        Ok(entry)
    }

    /// Seals an audit event as the next entry.
    ///
    /// # Errors
    /// [`ChainError::SequenceExhausted`].
    pub fn append_event(&mut self, event: AuditEvent) -> Result<Entry, ChainError> {
        self.seal(EntryBody::Event(event))
    }
}

/// The JSON form of an entry: `{"chain", "sequence", "prev_hash", "event" | "retention",
/// "content_hash", "chain_hash"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryWire {
    chain: ChainId,
    sequence: u64,
    prev_hash: ChainHash,
    #[serde(default)]
    event: Option<AuditEvent>,
    #[serde(default)]
    retention: Option<RetentionRecord>,
    #[serde(default)]
    content_hash: Option<Digest32>,
    #[serde(default)]
    chain_hash: Option<ChainHash>,
}

/// The JSON form written: same fields and order as `EntryWire`, borrowed.
#[derive(Serialize)]
struct EntryWireRef<'a> {
    chain: ChainId,
    sequence: u64,
    prev_hash: ChainHash,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a AuditEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<&'a RetentionRecord>,
    content_hash: Option<Digest32>,
    chain_hash: Option<ChainHash>,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (event, retention) = match &self.body {
            EntryBody::Event(e) => (Some(e), None),
            EntryBody::Retention(r) => (None, Some(r)),
        };
        EntryWireRef {
            chain: self.chain,
            sequence: self.sequence,
            prev_hash: self.prev_hash,
            event,
            retention,
            content_hash: self.content_hash,
            chain_hash: self.chain_hash,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = EntryWire::deserialize(d)?;
        let body = match (w.event, w.retention) {
            (Some(e), None) => EntryBody::Event(e),
            (None, Some(r)) => EntryBody::Retention(r),
            _ => {
                return Err(serde::de::Error::custom(
                    "an entry holds exactly one of `event` and `retention`",
                ));
            }
        };
        Ok(Self {
            chain: w.chain,
            sequence: w.sequence,
            prev_hash: w.prev_hash,
            body,
            content_hash: w.content_hash,
            chain_hash: w.chain_hash,
        })
    }
}
