//! Streaming verification: the first broken link of a chain, and its kind.
//!
//! [`ChainVerifier`] takes entries (and checkpoints) one at a time, in stored order, and
//! keeps a fixed amount of state whatever the length of the chain: the expected next
//! sequence and head hash, the previous link, counters, and the (sequence, head hash) of
//! each verified checkpoint (40 bytes each, so memory grows with checkpoints, never with
//! entries).
//!
//! # How a break is classified
//! Each entry is checked in this order; the first failure is the break:
//! 1. no seal → [`BreakKind::UnsealedEntry`];
//! 2. a stored hash does not match the fields → [`BreakKind::ContentAltered`];
//! 3. intact, but of another chain → [`BreakKind::WrongChainId`] (a row spliced from
//!    another tenant);
//! 4. intact and of this chain, then by its sequence `s` and previous hash `p`, against
//!    the expected sequence `e` and current head `h`:
//!    - `s == e`, `p == h`: accepted;
//!    - `s == e`, `p != h`: the previous entry was rewritten and resealed →
//!      [`BreakKind::ContentAltered`] at `e - 1` (or [`BreakKind::CheckpointMismatch`] when
//!      the previous link is an anchor checkpoint);
//!    - `s > e`, `p == h`: the writer skipped numbers → [`BreakKind::SequenceGap`];
//!    - `s > e`, `p != h`: entries are missing or out of order. The verifier looks at up to
//!      [`REORDER_WINDOW`] further entries for sequence `e`: found →
//!      [`BreakKind::EntriesReordered`], not found → [`BreakKind::EntryRemoved`];
//!    - `s < e`: a sequence seen already comes again → [`BreakKind::EntryInserted`].
//!
//! Checkpoints: a checkpoint presented after entry `s` must sign exactly that entry's
//! chain hash ([`BreakKind::CheckpointMismatch`] otherwise: the chain was rebuilt), and
//! its signature must verify ([`BreakKind::CheckpointInvalid`]). A trusted checkpoint
//! beyond the last entry means the chain was cut short ([`BreakKind::Truncated`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::canonical::{self, SealedFields};
use super::chain::Entry;
use super::chain_id::ChainId;
use super::checkpoint::{Checkpoint, KeyRing};
use super::entry_view::EntryRef;
use super::hash::{ChainHash, Digest32};

/// How many entries the verifier looks ahead to tell a reordering from a removal.
pub const REORDER_WINDOW: u32 = 1024;

/// The kind of the first break found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// An entry's fields no longer match its hashes (or a previous entry was resealed).
    ContentAltered,
    /// One or more entries are missing.
    EntryRemoved,
    /// An entry was added that was not sealed in this position.
    EntryInserted,
    /// Entries are present but out of order.
    EntriesReordered,
    /// Intact, correctly linked entries whose sequence numbers skip.
    SequenceGap,
    /// An intact entry of another chain (another tenant's row spliced in).
    WrongChainId,
    /// A row without a seal.
    UnsealedEntry,
    /// The chain ends before a sequence a trusted checkpoint covers.
    Truncated,
    /// A checkpoint signs a different head: the chain was rebuilt after it.
    CheckpointMismatch,
    /// A checkpoint whose signature, key or chain is wrong.
    CheckpointInvalid,
    /// A retention record that is inconsistent, or a pruned prefix without one.
    RetentionInvalid,
    /// Input that cannot be read (bundles only).
    Malformed,
}

impl BreakKind {
    /// The stable snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ContentAltered => "content_altered",
            Self::EntryRemoved => "entry_removed",
            Self::EntryInserted => "entry_inserted",
            Self::EntriesReordered => "entries_reordered",
            Self::SequenceGap => "sequence_gap",
            Self::WrongChainId => "wrong_chain_id",
            Self::UnsealedEntry => "unsealed_entry",
            Self::Truncated => "truncated",
            Self::CheckpointMismatch => "checkpoint_mismatch",
            Self::CheckpointInvalid => "checkpoint_invalid",
            Self::RetentionInvalid => "retention_invalid",
            Self::Malformed => "malformed",
        }
    }
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first break of a chain: what, where, and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("chain `{chain}` broken at sequence {sequence}: {kind}: {detail}")]
pub struct ChainBreak {
    /// The kind of break.
    pub kind: BreakKind,
    /// The chain verified.
    pub chain: ChainId,
    /// The first sequence number that cannot be trusted (every entry before it verified).
    pub sequence: u64,
    /// What was seen (no secret: only sequence numbers, hashes and chain ids).
    pub detail: String,
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedChain {
    /// The chain.
    pub chain: ChainId,
    /// Sequence of the first entry verified (0, the anchor's sequence + 1, or where a
    /// segment starts).
    pub first_sequence: u64,
    /// Entries verified.
    pub entries: u64,
    /// Sequence of the last entry verified, if any.
    pub last_sequence: Option<u64>,
    /// Chain hash of the head (when no entry: the anchor's head, the head a segment
    /// continues from, or all zero).
    pub head_hash: ChainHash,
    /// Checkpoints verified (inline and trusted, including the anchor).
    pub checkpoints: u64,
    /// Highest sequence removed by a verified retention record, if any.
    pub pruned_through: Option<u64>,
}

#[derive(Debug, Clone)]
enum State {
    Linking,
    Pending {
        expected: u64,
        left: u32,
        found: u64,
    },
    Broken(ChainBreak),
}

/// A streaming verifier of one chain. See the [module docs](self) for the rules.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    chain: ChainId,
    keys: KeyRing,
    state: State,
    expected: u64,
    head: ChainHash,
    first_sequence: u64,
    /// `prev_hash` of the last accepted entry; `None` before the first one.
    last_prev: Option<ChainHash>,
    anchor: Option<u64>,
    anchor_accounted: bool,
    entries: u64,
    checkpoints: u64,
    pruned_through: Option<u64>,
    /// Verified (sequence, head) pairs, ascending.
    known_heads: Vec<(u64, ChainHash)>,
    /// Trusted checkpoints still ahead, ascending by sequence.
    trusted: Vec<Checkpoint>,
    trusted_next: usize,
    scratch: Vec<u8>,
}

impl ChainVerifier {
    /// Verifies a chain from its genesis (sequence 0, previous hash all zero).
    #[must_use]
    pub fn new(chain: ChainId, keys: KeyRing) -> Self {
        Self {
            chain,
            keys,
            state: State::Linking,
            expected: 0,
            head: Digest32::ZERO,
            first_sequence: 0,
            last_prev: None,
            anchor: None,
            anchor_accounted: false,
            entries: 0,
            checkpoints: 0,
            pruned_through: None,
            known_heads: Vec::new(),
            trusted: Vec::new(),
            trusted_next: 0,
            scratch: Vec::with_capacity(512),
        }
    }

    /// Verifies a segment of a chain that continues from a point the caller already trusts:
    /// the first entry must be at `next_sequence` and link to `head` (the chain hash of the
    /// entry before it, all zero at genesis). For a receiver of a stream (`audit.appended`
    /// webhooks) that resumes where it stopped, or that starts mid-chain.
    ///
    /// No anchor checkpoint is required and no retention record is expected. A retention
    /// record inside the segment still needs its checkpoint presented with the segment (as
    /// from genesis) unless that checkpoint's sequence is before `next_sequence`.
    #[must_use]
    pub fn continuing(chain: ChainId, keys: KeyRing, next_sequence: u64, head: ChainHash) -> Self {
        let mut v = Self::new(chain, keys);
        v.expected = next_sequence;
        v.first_sequence = next_sequence;
        v.head = head;
        v
    }

    /// Verifies a pruned chain from its anchor checkpoint: the first entry must be at
    /// `anchor.sequence + 1` and link to `anchor.head_hash`, and a retention record naming
    /// the anchor must appear in the chain (else [`BreakKind::RetentionInvalid`] at the end).
    ///
    /// # Errors
    /// [`BreakKind::CheckpointInvalid`] for an anchor of another chain or that does not
    /// verify against `keys`.
    pub fn from_anchor(anchor: &Checkpoint, keys: KeyRing) -> Result<Self, ChainBreak> {
        let mut v = Self::new(anchor.chain, keys);
        v.check_checkpoint_signature(anchor)?;
        let next = anchor.sequence.checked_add(1).ok_or_else(|| {
            v.brk(
                BreakKind::CheckpointInvalid,
                anchor.sequence,
                "anchor at the last sequence".to_owned(),
            )
        })?;
        v.expected = next;
        v.first_sequence = next;
        v.head = anchor.head_hash;
        v.anchor = Some(anchor.sequence);
        v.checkpoints = 1;
        v.known_heads.push((anchor.sequence, anchor.head_hash));
        Ok(v)
    }

    /// Adds checkpoints the caller trusts (kept from an earlier export, or published): the
    /// chain must contain their heads, so truncation or rebuilding after them is detected.
    ///
    /// # Errors
    /// [`BreakKind::CheckpointInvalid`] when one is of another chain or does not verify,
    /// [`BreakKind::CheckpointMismatch`] when one at the anchor's sequence disagrees with it.
    pub fn with_trusted_checkpoints(
        mut self,
        checkpoints: impl IntoIterator<Item = Checkpoint>,
    ) -> Result<Self, ChainBreak> {
        for cp in checkpoints {
            self.check_checkpoint_signature(&cp)?;
            if cp.sequence < self.first_sequence {
                // Inside the pruned prefix: only the anchor itself can be compared.
                if self.anchor == Some(cp.sequence) && self.head != cp.head_hash {
                    return Err(self.brk(
                        BreakKind::CheckpointMismatch,
                        cp.sequence,
                        format!(
                            "trusted checkpoint at {} disagrees with the anchor",
                            cp.sequence
                        ),
                    ));
                }
                continue;
            }
            self.trusted.push(cp);
        }
        self.trusted.sort_by_key(|c| c.sequence);
        Ok(self)
    }

    /// The chain being verified.
    #[must_use]
    pub const fn chain(&self) -> ChainId {
        self.chain
    }

    /// The first break found so far, if any (a pending removal/reordering decision is not
    /// reported until it is resolved).
    #[must_use]
    pub const fn first_break(&self) -> Option<&ChainBreak> {
        match &self.state {
            State::Broken(b) => Some(b),
            _ => None,
        }
    }

    fn brk(&self, kind: BreakKind, sequence: u64, detail: String) -> ChainBreak {
        ChainBreak {
            kind,
            chain: self.chain,
            sequence,
            detail,
        }
    }

    fn fail(&mut self, kind: BreakKind, sequence: u64, detail: String) -> Result<(), ChainBreak> {
        let b = self.brk(kind, sequence, detail);
        self.state = State::Broken(b.clone());
        Err(b)
    }

    /// Records a verified (sequence, head). Heads arrive in ascending sequence order, so
    /// the list stays sorted and a repeat can only be the last element.
    fn remember_head(&mut self, sequence: u64, head: ChainHash) {
        if self.known_heads.last().is_none_or(|(s, _)| *s < sequence) {
            self.known_heads.push((sequence, head));
        }
    }

    /// The verified head at `sequence`, if a checkpoint there was verified (O(log n)).
    fn known_head(&self, sequence: u64) -> Option<ChainHash> {
        self.known_heads
            .binary_search_by_key(&sequence, |(s, _)| *s)
            .ok()
            .and_then(|i| self.known_heads.get(i))
            .map(|(_, h)| *h)
    }

    fn check_checkpoint_signature(&self, cp: &Checkpoint) -> Result<(), ChainBreak> {
        if cp.chain != self.chain {
            return Err(self.brk(
                BreakKind::CheckpointInvalid,
                cp.sequence,
                format!("checkpoint of chain `{}`", cp.chain),
            ));
        }
        self.keys
            .verify(cp)
            .map_err(|e| self.brk(BreakKind::CheckpointInvalid, cp.sequence, e.to_string()))
    }

    /// Marks the stream as unreadable at the current position (used by bundle readers).
    pub(crate) fn fail_malformed(&mut self, detail: String) -> ChainBreak {
        if let State::Broken(b) = &self.state {
            return b.clone();
        }
        let at = match &self.state {
            State::Pending { expected, .. } => *expected,
            _ => self.expected,
        };
        let b = self.brk(BreakKind::Malformed, at, detail);
        self.state = State::Broken(b.clone());
        b
    }

    /// Feeds the next stored entry.
    ///
    /// # Errors
    /// The first break, once it is certain (the same break on every later call).
    pub fn push_entry(&mut self, e: &Entry) -> Result<(), ChainBreak> {
        self.push(e)
    }

    /// [`Self::push_entry`] for the borrowed view of a bundle line: the same checks, in the
    /// same order, on the same canonical bytes.
    pub(crate) fn push_view(&mut self, e: &EntryRef<'_>) -> Result<(), ChainBreak> {
        self.push(e)
    }

    fn push<E: SealedFields + ?Sized>(&mut self, e: &E) -> Result<(), ChainBreak> {
        let sequence = e.sequence();
        match &mut self.state {
            State::Broken(b) => return Err(b.clone()),
            State::Pending {
                expected,
                left,
                found,
            } => {
                let (expected, found) = (*expected, *found);
                if sequence == expected {
                    return self.fail(
                        BreakKind::EntriesReordered,
                        expected,
                        format!("sequence {found} stored before sequence {expected}"),
                    );
                }
                *left = left.saturating_sub(1);
                if *left == 0 {
                    return self.fail_removed(expected, found);
                }
                return Ok(());
            }
            State::Linking => {}
        }
        let at = self.expected;
        let (Some(stored_content), Some(stored_chain)) = e.seal() else {
            return self.fail(
                BreakKind::UnsealedEntry,
                at,
                format!("entry with sequence {sequence} has no seal"),
            );
        };
        let (content, chain_hash) = canonical::hashes_with(e, &mut self.scratch);
        if content != stored_content || chain_hash != stored_chain {
            let which = if content == stored_content {
                "chain"
            } else {
                "content"
            };
            return self.fail(
                BreakKind::ContentAltered,
                at,
                format!(
                    "{which} hash of the entry with sequence {sequence} does not match its fields"
                ),
            );
        }
        if e.chain() != self.chain {
            return self.fail(
                BreakKind::WrongChainId,
                at,
                format!("entry {sequence} of chain `{}`", e.chain()),
            );
        }
        if sequence == self.expected {
            if e.prev_hash() != self.head {
                return self.fail_prev_mismatch();
            }
            return self.accept(e, stored_chain);
        }
        if sequence > self.expected {
            if e.prev_hash() == self.head {
                return self.fail(
                    BreakKind::SequenceGap,
                    at,
                    format!("sequence jumps from {at} to {sequence}"),
                );
            }
            self.state = State::Pending {
                expected: at,
                left: REORDER_WINDOW,
                found: sequence,
            };
            return Ok(());
        }
        self.fail(
            BreakKind::EntryInserted,
            sequence,
            format!(
                "sequence {sequence} appears again after sequence {}",
                at.saturating_sub(1)
            ),
        )
    }

    fn fail_removed(&mut self, expected: u64, found: u64) -> Result<(), ChainBreak> {
        self.fail(
            BreakKind::EntryRemoved,
            expected,
            format!("expected sequence {expected}, found {found}"),
        )
    }

    fn fail_prev_mismatch(&mut self) -> Result<(), ChainBreak> {
        let at = self.expected;
        match (self.last_prev, self.anchor) {
            (None, Some(anchor)) => self.fail(
                BreakKind::CheckpointMismatch,
                anchor,
                format!("entry {at} does not link to the anchor checkpoint at {anchor}"),
            ),
            (None, None) if at == 0 => self.fail(
                BreakKind::ContentAltered,
                at,
                format!("entry {at} does not link to the start of the chain"),
            ),
            (None, None) => self.fail(
                BreakKind::ContentAltered,
                at,
                format!("entry {at} does not link to the head the segment continues from"),
            ),
            (Some(_), _) => {
                let prev = at.saturating_sub(1);
                self.fail(
                    BreakKind::ContentAltered,
                    prev,
                    format!("entry {prev} differs from the entry that {at} was sealed after"),
                )
            }
        }
    }

    fn accept<E: SealedFields + ?Sized>(
        &mut self,
        e: &E,
        chain_hash: ChainHash,
    ) -> Result<(), ChainBreak> {
        let sequence = e.sequence();
        if let Some(r) = e.retention() {
            self.check_retention(sequence, r)?;
        }
        self.last_prev = Some(e.prev_hash());
        self.head = chain_hash;
        self.entries = self.entries.saturating_add(1);
        let Some(next) = sequence.checked_add(1) else {
            return self.fail(
                BreakKind::Malformed,
                sequence,
                "sequence space exhausted".to_owned(),
            );
        };
        self.expected = next;
        while let Some(cp) = self.trusted.get(self.trusted_next) {
            if cp.sequence != sequence {
                break;
            }
            let ok = cp.head_hash == chain_hash;
            let seq = cp.sequence;
            self.trusted_next += 1;
            if !ok {
                return self.fail(
                    BreakKind::CheckpointMismatch,
                    seq,
                    format!(
                        "trusted checkpoint at {seq} signs another head: the chain was rebuilt"
                    ),
                );
            }
            self.checkpoints = self.checkpoints.saturating_add(1);
            self.remember_head(seq, chain_hash);
        }
        Ok(())
    }

    fn check_retention(
        &mut self,
        at: u64,
        r: &super::retention::RetentionRecord,
    ) -> Result<(), ChainBreak> {
        let cp = &r.checkpoint;
        if let Err(b) = self.check_checkpoint_signature(cp) {
            return self.fail(
                BreakKind::RetentionInvalid,
                at,
                format!("retention checkpoint: {}", b.detail),
            );
        }
        if r.pruned_through != cp.sequence || r.pruned_from > r.pruned_through || cp.sequence >= at
        {
            return self.fail(
                BreakKind::RetentionInvalid,
                at,
                format!(
                    "retention range {}..={} does not end at its checkpoint {} before the record",
                    r.pruned_from, r.pruned_through, cp.sequence
                ),
            );
        }
        match self.known_head(cp.sequence) {
            Some(h) if h != cp.head_hash => {
                return self.fail(
                    BreakKind::RetentionInvalid,
                    at,
                    format!(
                        "retention checkpoint at {} disagrees with the verified head",
                        cp.sequence
                    ),
                );
            }
            Some(_) => {}
            None if cp.sequence >= self.first_sequence => {
                return self.fail(
                    BreakKind::RetentionInvalid,
                    at,
                    format!(
                        "retention checkpoint at {} was not presented with the chain",
                        cp.sequence
                    ),
                );
            }
            None => {}
        }
        if self.anchor == Some(cp.sequence) {
            self.anchor_accounted = true;
        }
        self.pruned_through = Some(
            self.pruned_through
                .map_or(r.pruned_through, |p| p.max(r.pruned_through)),
        );
        Ok(())
    }

    /// Feeds a checkpoint stored right after the entry it signs.
    ///
    /// # Errors
    /// The first break, once certain.
    pub fn push_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), ChainBreak> {
        match &self.state {
            State::Broken(b) => return Err(b.clone()),
            State::Pending { .. } => return Ok(()),
            State::Linking => {}
        }
        if let Err(b) = self.check_checkpoint_signature(cp) {
            self.state = State::Broken(b.clone());
            return Err(b);
        }
        let last = self.expected.checked_sub(1);
        if cp.sequence >= self.expected {
            return self.fail(
                BreakKind::EntryRemoved,
                self.expected,
                format!(
                    "checkpoint at {} but the chain stops at {}",
                    cp.sequence, self.expected
                ),
            );
        }
        if Some(cp.sequence) == last {
            if cp.head_hash != self.head {
                return self.fail(
                    BreakKind::CheckpointMismatch,
                    cp.sequence,
                    format!(
                        "checkpoint at {} signs another head: the chain was rebuilt",
                        cp.sequence
                    ),
                );
            }
        } else if self.known_head(cp.sequence) != Some(cp.head_hash) {
            return self.fail(
                BreakKind::Malformed,
                self.expected,
                format!("checkpoint at {} is out of place", cp.sequence),
            );
        }
        self.checkpoints = self.checkpoints.saturating_add(1);
        self.remember_head(cp.sequence, cp.head_hash);
        Ok(())
    }

    /// Ends the stream.
    ///
    /// # Errors
    /// The first break: one already found, a pending removal, a trusted checkpoint beyond
    /// the end ([`BreakKind::Truncated`]), or an anchor no retention record accounts for.
    pub fn finish(mut self) -> Result<VerifiedChain, ChainBreak> {
        match &self.state {
            State::Broken(b) => return Err(b.clone()),
            State::Pending {
                expected, found, ..
            } => {
                let (expected, found) = (*expected, *found);
                self.fail_removed(expected, found)?;
            }
            State::Linking => {}
        }
        if let Some(cp) = self.trusted.get(self.trusted_next) {
            return Err(self.brk(
                BreakKind::Truncated,
                self.expected,
                format!(
                    "chain ends before sequence {} of a trusted checkpoint",
                    cp.sequence
                ),
            ));
        }
        if let Some(anchor) = self.anchor
            && !self.anchor_accounted
        {
            return Err(self.brk(
                BreakKind::RetentionInvalid,
                self.first_sequence,
                format!("entries through {anchor} are gone and no retention record names that checkpoint"),
            ));
        }
        Ok(VerifiedChain {
            chain: self.chain,
            first_sequence: self.first_sequence,
            entries: self.entries,
            last_sequence: self.expected.checked_sub(1).filter(|_| self.entries > 0),
            head_hash: self.head,
            checkpoints: self.checkpoints,
            pruned_through: self.pruned_through,
        })
    }
}

/// Verifies a whole chain from genesis in one call.
///
/// # Errors
/// The first [`ChainBreak`].
pub fn verify_chain<'a>(
    chain: ChainId,
    keys: KeyRing,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<VerifiedChain, ChainBreak> {
    let mut v = ChainVerifier::new(chain, keys);
    for e in entries {
        v.push_entry(e)?;
    }
    v.finish()
}

/// Verifies a segment of a chain (a contiguous run of entries, from anywhere in the chain)
/// in one call: the first entry is trusted to link to what came before it, so the segment
/// starts from that entry's own sequence and previous hash ([`ChainVerifier::continuing`]).
/// Every later entry must follow without a hole: a missing entry is a break
/// ([`BreakKind::EntryRemoved`] at the missing sequence, or [`BreakKind::SequenceGap`] when
/// the writer itself skipped numbers), an altered one is [`BreakKind::ContentAltered`].
///
/// An empty segment verifies, with no entry. To tie a segment to an earlier one, use
/// [`ChainVerifier::continuing`] with the head and next sequence of the earlier one instead.
///
/// # Errors
/// The first [`ChainBreak`].
pub fn verify_segment<'a>(
    chain: ChainId,
    keys: KeyRing,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<VerifiedChain, ChainBreak> {
    let mut entries = entries.into_iter().peekable();
    let mut v = match entries.peek() {
        Some(first) => ChainVerifier::continuing(chain, keys, first.sequence, first.prev_hash),
        None => ChainVerifier::new(chain, keys),
    };
    for e in entries {
        v.push_entry(e)?;
    }
    v.finish()
}
