//! Verifying a segment of a chain, as a receiver of `audit.appended` webhooks does:
//! `verify_segment` and `ChainVerifier::continuing`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

#[path = "vectors_gen/mod.rs"]
mod fixtures;

use breeze_core::audit::*;
use fixtures::{event, full_chain, org_a, org_b, pruned_chain, ring, signer};

fn entries() -> Vec<Entry> {
    full_chain().entries().to_vec()
}

fn keys() -> KeyRing {
    ring(&[&signer(1), &signer(2)])
}

fn segment(from: u64, through: u64) -> Vec<Entry> {
    entries()
        .into_iter()
        .filter(|e| (from..=through).contains(&e.sequence))
        .collect()
}

fn broken(r: Result<VerifiedChain, ChainBreak>) -> (BreakKind, u64) {
    let b = r.unwrap_err();
    (b.kind, b.sequence)
}

#[test]
fn a_middle_segment_verifies() {
    let seg = segment(3, 7);
    let v = verify_segment(org_a(), keys(), &seg).unwrap();
    assert_eq!(v.chain, org_a());
    assert_eq!(v.first_sequence, 3);
    assert_eq!(v.entries, 5);
    assert_eq!(v.last_sequence, Some(7));
    assert_eq!(Some(v.head_hash), seg[4].chain_hash);
    assert_eq!(v.checkpoints, 0);
    assert_eq!(v.pruned_through, None);
    // A single entry, the whole chain, and the last entry are segments too.
    assert_eq!(
        verify_segment(org_a(), keys(), &segment(5, 5))
            .unwrap()
            .entries,
        1
    );
    assert_eq!(
        verify_segment(org_a(), keys(), &entries()).unwrap().entries,
        10
    );
    assert_eq!(
        verify_segment(org_a(), KeyRing::new(), &segment(9, 9))
            .unwrap()
            .last_sequence,
        Some(9)
    );
}

#[test]
fn an_empty_segment_verifies_with_no_entry() {
    let v = verify_segment(org_a(), KeyRing::new(), &[]).unwrap();
    assert_eq!((v.entries, v.last_sequence), (0, None));
}

#[test]
fn a_dropped_middle_entry_names_the_missing_sequence() {
    let seg: Vec<Entry> = segment(3, 8)
        .into_iter()
        .filter(|e| e.sequence != 5)
        .collect();
    let b = verify_segment(org_a(), keys(), &seg).unwrap_err();
    assert_eq!((b.kind, b.sequence), (BreakKind::EntryRemoved, 5));
    assert!(b.detail.contains("expected sequence 5"), "{}", b.detail);
    // Several missing: the first is named.
    let seg: Vec<Entry> = segment(2, 9)
        .into_iter()
        .filter(|e| !(4..=6).contains(&e.sequence))
        .collect();
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &seg)),
        (BreakKind::EntryRemoved, 4)
    );
}

#[test]
fn a_writer_that_skipped_numbers_is_a_sequence_gap() {
    let seg = segment(3, 4);
    let mut head = ChainHead::resume(org_a(), 6, seg[1].chain_hash.unwrap());
    let skipped = head.append_event(event(6)).unwrap();
    let seg = [seg[0].clone(), seg[1].clone(), skipped];
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &seg)),
        (BreakKind::SequenceGap, 5)
    );
}

#[test]
fn a_tampered_entry_breaks() {
    // Edited in place: its own hashes no longer match.
    let mut seg = segment(3, 7);
    let EntryBody::Event(e) = &seg[2].body else {
        panic!()
    };
    let mut wire = serde_json::to_value(e).unwrap();
    wire["action"] = "auth.login.failure".into();
    seg[2].body = EntryBody::Event(serde_json::from_value(wire).unwrap());
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &seg)),
        (BreakKind::ContentAltered, 5)
    );

    // Edited and resealed: the next entry no longer links to it.
    let (c, h) = seg[2].compute_hashes();
    seg[2].content_hash = Some(c);
    seg[2].chain_hash = Some(h);
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &seg)),
        (BreakKind::ContentAltered, 5)
    );

    // The first entry of a segment is checked against its own seal.
    let mut seg = segment(3, 7);
    seg[0].sequence = 2;
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &seg)),
        (BreakKind::ContentAltered, 2)
    );
}

#[test]
fn reordered_inserted_foreign_and_unsealed_entries_break() {
    let s = segment(3, 7);
    let reordered = [s[0].clone(), s[2].clone(), s[1].clone(), s[3].clone()];
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &reordered)),
        (BreakKind::EntriesReordered, 4)
    );
    let repeated = [s[0].clone(), s[1].clone(), s[1].clone()];
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &repeated)),
        (BreakKind::EntryInserted, 4)
    );
    assert_eq!(
        broken(verify_segment(org_b(), keys(), &s)),
        (BreakKind::WrongChainId, 3)
    );
    let mut unsealed = s.clone();
    unsealed[1].chain_hash = None;
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &unsealed)),
        (BreakKind::UnsealedEntry, 4)
    );
}

#[test]
fn continuing_ties_a_segment_to_the_head_before_it() {
    let all = entries();
    // Verify 0..=4, then resume from its head for 5..=9.
    let first = verify_segment(org_a(), keys(), &all[..5]).unwrap();
    let next = first.last_sequence.unwrap() + 1;
    let mut v = ChainVerifier::continuing(org_a(), keys(), next, first.head_hash);
    for e in &all[5..] {
        v.push_entry(e).unwrap();
    }
    let second = v.finish().unwrap();
    assert_eq!(
        (second.first_sequence, second.entries, second.last_sequence),
        (5, 5, Some(9))
    );

    // A segment that does not start where the last one ended: the hole is named.
    let mut v = ChainVerifier::continuing(org_a(), keys(), next, first.head_hash);
    for e in &all[6..] {
        v.push_entry(e).unwrap();
    }
    assert_eq!(broken(v.finish()), (BreakKind::EntryRemoved, 5));

    // The wrong head: the first entry does not link to it.
    let mut v = ChainVerifier::continuing(org_a(), keys(), next, all[3].chain_hash.unwrap());
    let b = v.push_entry(&all[5]).unwrap_err();
    assert_eq!((b.kind, b.sequence), (BreakKind::ContentAltered, 5));
    assert!(
        b.detail.contains("head the segment continues from"),
        "{}",
        b.detail
    );

    // From genesis it is `ChainVerifier::new`.
    let mut v = ChainVerifier::continuing(org_a(), keys(), 0, Digest32::ZERO);
    for e in &all {
        v.push_entry(e).unwrap();
    }
    assert_eq!(
        v.finish().unwrap(),
        verify_chain(org_a(), keys(), &all).unwrap()
    );
}

#[test]
fn checkpoints_pushed_inside_a_segment_are_checked() {
    let chain = full_chain();
    let cp7 = chain
        .checkpoints()
        .iter()
        .find(|c| c.sequence == 7)
        .unwrap()
        .clone();
    let seg = segment(5, 9);
    let mut v = ChainVerifier::continuing(org_a(), keys(), 5, seg[0].prev_hash);
    for e in &seg {
        v.push_entry(e).unwrap();
        if e.sequence == 7 {
            v.push_checkpoint(&cp7).unwrap();
        }
    }
    assert_eq!(v.finish().unwrap().checkpoints, 1);
    // Unknown keys refuse the checkpoint.
    let mut v = ChainVerifier::continuing(org_a(), KeyRing::new(), 5, seg[0].prev_hash);
    for e in &seg[..3] {
        v.push_entry(e).unwrap();
    }
    assert_eq!(
        v.push_checkpoint(&cp7).unwrap_err().kind,
        BreakKind::CheckpointInvalid
    );
}

#[test]
fn a_segment_after_a_prune_verifies_without_its_anchor() {
    let pruned = pruned_chain();
    let after: Vec<Entry> = pruned
        .entries()
        .iter()
        .filter(|e| e.sequence >= 8)
        .cloned()
        .collect();
    assert!(
        after
            .iter()
            .any(|e| matches!(e.body, EntryBody::Retention(_)))
    );
    let v = verify_segment(org_a(), keys(), &after).unwrap();
    assert_eq!(
        (v.first_sequence, v.last_sequence, v.pruned_through),
        (8, Some(12), Some(3))
    );
    // Retention records are not streamed as webhooks: a stream without one has a hole.
    let streamed: Vec<Entry> = after
        .iter()
        .filter(|e| matches!(e.body, EntryBody::Event(_)))
        .cloned()
        .collect();
    assert_eq!(
        broken(verify_segment(org_a(), keys(), &streamed)),
        (BreakKind::EntryRemoved, 10)
    );
}
