//! An in-memory chain: entries, checkpoints and an optional anchor, with append,
//! checkpoint, prune, verify and export. The reference for what a store must do (the
//! server's PostgreSQL store does the same steps in SQL), and the fixture of the tests,
//! vectors and benchmarks.

use std::io::Write;

use super::chain::{ChainError, ChainHead, Entry, EntryBody};
use super::chain_id::ChainId;
use super::checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, KeyRing};
use super::event::AuditEvent;
use super::export::BundleWriter;
use super::retention::{RetentionError, RetentionRecord};
use super::timestamp::Timestamp;
use super::verify::{ChainBreak, ChainVerifier, VerifiedChain};

/// One stored item, in stream order.
enum Stored<'a> {
    Entry(&'a Entry),
    Checkpoint(&'a Checkpoint),
}

/// A chain held in memory.
#[derive(Debug, Clone)]
pub struct MemoryChain {
    head: ChainHead,
    entries: Vec<Entry>,
    /// Checkpoints after the anchor, ascending.
    checkpoints: Vec<Checkpoint>,
    anchor: Option<Checkpoint>,
}

impl MemoryChain {
    /// An empty chain.
    #[must_use]
    pub fn new(chain: ChainId) -> Self {
        Self {
            head: ChainHead::genesis(chain),
            entries: Vec::new(),
            checkpoints: Vec::new(),
            anchor: None,
        }
    }

    /// The current head.
    #[must_use]
    pub const fn head(&self) -> &ChainHead {
        &self.head
    }

    /// Stored entries, in sequence order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Stored checkpoints after the anchor, in sequence order.
    #[must_use]
    pub fn checkpoints(&self) -> &[Checkpoint] {
        &self.checkpoints
    }

    /// The checkpoint the chain starts from after a prune.
    #[must_use]
    pub const fn anchor(&self) -> Option<&Checkpoint> {
        self.anchor.as_ref()
    }

    /// Seals and stores an event.
    ///
    /// # Errors
    /// [`ChainError::SequenceExhausted`].
    pub fn append(&mut self, event: AuditEvent) -> Result<&Entry, ChainError> {
        let entry = self.head.append_event(event)?;
        self.entries.push(entry);
        self.entries.last().ok_or(ChainError::SequenceExhausted)
    }

    /// Signs and stores a checkpoint of the current head.
    ///
    /// # Errors
    /// [`CheckpointError::EmptyChain`].
    pub fn checkpoint(
        &mut self,
        signer: &CheckpointSigner,
        at: Timestamp,
    ) -> Result<Checkpoint, CheckpointError> {
        let cp = signer.sign_head(&self.head, at)?;
        if self
            .checkpoints
            .last()
            .is_none_or(|c| c.sequence != cp.sequence)
        {
            self.checkpoints.push(cp.clone());
        }
        Ok(cp)
    }

    /// Removes every stored entry through `through`, which must be the sequence of a stored
    /// checkpoint: appends the retention record first, then drops the prefix and makes that
    /// checkpoint the anchor.
    ///
    /// # Errors
    /// [`RetentionError::NoCheckpoint`] when no stored checkpoint is at `through`, and the
    /// errors of [`RetentionRecord::plan`]. Nothing changes on error.
    pub fn prune_through(
        &mut self,
        through: u64,
        keys: &KeyRing,
        at: Timestamp,
    ) -> Result<&Entry, RetentionError> {
        let cp = self
            .checkpoints
            .iter()
            .find(|c| c.sequence == through)
            .ok_or(RetentionError::NoCheckpoint { requested: through })?
            .clone();
        let first = self
            .entries
            .first()
            .ok_or(RetentionError::NoCheckpoint { requested: through })?;
        let pruned_from = first.sequence;
        let anchor_entry = self
            .entries
            .iter()
            .find(|e| e.sequence == through)
            .ok_or(RetentionError::AnchorMismatch { sequence: through })?;
        let record = RetentionRecord::plan(
            &self.head,
            anchor_entry,
            &cp,
            keys,
            pruned_from,
            through,
            at,
        )?;
        let mut head = self.head;
        let entry = head.seal(EntryBody::Retention(record))?;
        self.head = head;
        self.entries.push(entry);
        self.entries.retain(|e| e.sequence > through);
        self.checkpoints.retain(|c| c.sequence > through);
        self.anchor = Some(cp);
        self.entries
            .last()
            .ok_or(RetentionError::AnchorMismatch { sequence: through })
    }

    /// Entries in sequence order, each followed by the checkpoints that sign it: the order
    /// a verifier and a bundle take them in.
    fn stored_order(&self) -> impl Iterator<Item = Stored<'_>> {
        let mut cps = self.checkpoints.iter().peekable();
        self.entries.iter().flat_map(move |e| {
            let mut signed = Vec::new();
            while let Some(cp) = cps.next_if(|c| c.sequence == e.sequence) {
                signed.push(Stored::Checkpoint(cp));
            }
            std::iter::once(Stored::Entry(e)).chain(signed)
        })
    }

    /// A verifier positioned at this chain's start (genesis or anchor).
    ///
    /// # Errors
    /// [`ChainBreak`] when the anchor does not verify against `keys`.
    pub fn verifier(&self, keys: KeyRing) -> Result<ChainVerifier, ChainBreak> {
        match &self.anchor {
            Some(a) => ChainVerifier::from_anchor(a, keys),
            None => Ok(ChainVerifier::new(self.head.chain(), keys)),
        }
    }

    /// Verifies the stored chain with its checkpoints.
    ///
    /// # Errors
    /// The first [`ChainBreak`].
    pub fn verify(&self, keys: KeyRing) -> Result<VerifiedChain, ChainBreak> {
        let mut v = self.verifier(keys)?;
        for item in self.stored_order() {
            match item {
                Stored::Entry(e) => v.push_entry(e)?,
                Stored::Checkpoint(cp) => v.push_checkpoint(cp)?,
            }
        }
        v.finish()
    }

    /// Writes the chain as an export bundle (see [`super::export`]).
    ///
    /// # Errors
    /// I/O errors of `w`.
    pub fn export<W: Write>(
        &self,
        w: W,
        keys: &KeyRing,
        created_at: Timestamp,
    ) -> std::io::Result<W> {
        let mut bw =
            BundleWriter::new(w, self.head.chain(), keys, self.anchor.as_ref(), created_at)?;
        for item in self.stored_order() {
            match item {
                Stored::Entry(e) => bw.write_entry(e)?,
                Stored::Checkpoint(cp) => bw.write_checkpoint(cp)?,
            }
        }
        bw.finish()
    }
}
