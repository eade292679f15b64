//! Property tests: every single mutation of a random chain is detected and classified;
//! untouched chains always verify.

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
use fixtures::Item;
use proptest::prelude::*;
use serde_json::Value;

struct Fixture {
    chain: MemoryChain,
    keys: KeyRing,
}

/// A chain of `n` events chosen by `seeds`, checkpointed after the positions in `cps`
/// (alternating keys k1 and k2).
fn build(chain: ChainId, seeds: &[u64], cps: &[bool]) -> Fixture {
    let (k1, k2) = (fixtures::signer(1), fixtures::signer(2));
    let mut c = MemoryChain::new(chain);
    for (i, seed) in seeds.iter().enumerate() {
        c.append(fixtures::event(*seed)).unwrap();
        if cps.get(i).copied().unwrap_or(false) {
            let signer = if i % 2 == 0 { &k1 } else { &k2 };
            c.checkpoint(signer, fixtures::ts(1_000_000_000)).unwrap();
        }
    }
    Fixture {
        chain: c,
        keys: fixtures::ring(&[&k1, &k2]),
    }
}

fn run(
    keys: &KeyRing,
    chain: ChainId,
    items: &[Item],
    trusted: &[Checkpoint],
) -> Result<VerifiedChain, ChainBreak> {
    let mut v = ChainVerifier::new(chain, keys.clone())
        .with_trusted_checkpoints(trusted.iter().cloned())?;
    for it in items {
        match it {
            Item::E(e) => v.push_entry(e)?,
            Item::C(cp) => v.push_checkpoint(cp)?,
        }
    }
    v.finish()
}

fn entry_pos(items: &[Item], seq: u64) -> usize {
    items
        .iter()
        .position(|it| matches!(it, Item::E(e) if e.sequence == seq))
        .unwrap()
}

fn expect_break(
    r: Result<VerifiedChain, ChainBreak>,
    kind: BreakKind,
    seq: u64,
) -> Result<(), TestCaseError> {
    let b = r
        .err()
        .ok_or_else(|| TestCaseError::fail(format!("expected {kind} at {seq}, chain verified")))?;
    prop_assert_eq!((b.kind, b.sequence), (kind, seq), "{}", b);
    Ok(())
}

fn reseal(e: &mut Entry) {
    let (c, h) = e.compute_hashes();
    e.content_hash = Some(c);
    e.chain_hash = Some(h);
}

/// Changes one field of an entry through its JSON form (the result stays a valid entry).
fn mutate_field(e: &Entry, which: usize) -> Entry {
    let mut v = serde_json::to_value(e).unwrap();
    let ev = &mut v["event"];
    match which % 14 {
        0 => ev["action"] = Value::from(format!("{}x", ev["action"].as_str().unwrap())),
        1 => ev["resource_type"] = Value::from("devicex"),
        2 => ev["resource_id"] = Value::from(format!("{}x", ev["resource_id"].as_str().unwrap())),
        3 => ev["user_agent"] = Value::from("curl/8.0"),
        4 => ev["details"]["extra"] = Value::from(1),
        5 => ev["error_message"] = Value::from("changed"),
        6 => {
            let t: Timestamp = ev["timestamp"].as_str().unwrap().parse().unwrap();
            ev["timestamp"] = Value::from(
                Timestamp::from_unix_micros(t.unix_micros() + 1)
                    .unwrap()
                    .to_string(),
            );
        }
        7 => ev["ip"] = Value::from("198.51.100.1"),
        8 => {
            ev["result"] = Value::from(if ev["result"] == "success" {
                "denied"
            } else {
                "success"
            })
        }
        9 => {
            ev["initiated_by"] = Value::from(if ev["initiated_by"] == "ai" {
                "manual"
            } else {
                "ai"
            })
        }
        10 => {
            ev["actor_type"] = Value::from("user");
            ev["actor_id"] = Value::from("00000000-0000-4000-8000-00000000beef");
        }
        11 => v["sequence"] = Value::from(v["sequence"].as_u64().unwrap() + 1000),
        12 => v["prev_hash"] = Value::from("11".repeat(32)),
        _ => v["chain"] = Value::from("system"),
    }
    serde_json::from_value(v).unwrap()
}

fn chain_strategy() -> impl Strategy<Value = (Vec<u64>, Vec<bool>)> {
    (2usize..30).prop_flat_map(|n| {
        (
            prop::collection::vec(any::<u64>(), n),
            prop::collection::vec(prop::bool::weighted(0.25), n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn untouched_chains_verify((seeds, cps) in chain_strategy()) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let s = f.chain.verify(f.keys.clone()).unwrap();
        prop_assert_eq!(s.entries, seeds.len() as u64);
        let bundle = f.chain.export(Vec::new(), &f.keys, fixtures::ts(0)).unwrap();
        let r = verify_bundle_bytes(&bundle, &BundleOptions { trusted_keys: Some(f.keys.clone()), trusted_checkpoints: f.chain.checkpoints().to_vec() });
        prop_assert!(r.ok, "{:?}", r);
        prop_assert_eq!(r.head_hash, Some(f.chain.head().head_hash()));
    }

    #[test]
    fn field_change_is_content_altered((seeds, cps) in chain_strategy(), k in any::<prop::sample::Index>(), which in 0usize..14) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let mut items = fixtures::items_of(&f.chain);
        let k = k.index(seeds.len()) as u64;
        let pos = entry_pos(&items, k);
        let Item::E(e) = &items[pos] else { unreachable!() };
        items[pos] = Item::E(mutate_field(e, which));
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::ContentAltered, k)?;
    }

    #[test]
    fn byte_flip_in_bundle_entry_line_is_caught_there((seeds, cps) in chain_strategy(), k in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), x in 1u8..=255) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let bundle = String::from_utf8(f.chain.export(Vec::new(), &f.keys, fixtures::ts(0)).unwrap()).unwrap();
        let lines: Vec<&str> = bundle.lines().collect();
        let k = k.index(seeds.len());
        let line_idx = lines.iter().enumerate().filter(|(_, l)| l.starts_with("{\"entry\"")).nth(k).unwrap().0;
        let mut bytes = lines[line_idx].as_bytes().to_vec();
        let at = at.index(bytes.len());
        bytes[at] ^= x;
        prop_assume!(!bytes.contains(&b'\n'));
        let mut text = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            text.extend_from_slice(if i == line_idx { &bytes } else { l.as_bytes() });
            text.push(b'\n');
        }
        let report = verify_bundle_bytes(&text, &BundleOptions::default());
        #[derive(serde::Deserialize)]
        enum L { #[serde(rename = "entry")] E(Entry) }
        match serde_json::from_slice::<L>(&bytes) {
            Ok(L::E(e)) if e == f.chain.entries()[k] => prop_assert!(report.ok, "{:?}", report),
            parsed => {
                let b = report.first_break.unwrap();
                let kind = if parsed.is_ok() { BreakKind::ContentAltered } else { BreakKind::Malformed };
                prop_assert_eq!((b.kind, b.sequence), (kind, Some(k as u64)), "{:?}", b);
            }
        }
    }

    #[test]
    fn deletion_is_entry_removed((seeds, cps) in chain_strategy(), k in any::<prop::sample::Index>()) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let mut items = fixtures::items_of(&f.chain);
        let k = k.index(seeds.len() - 1) as u64;
        items.remove(entry_pos(&items, k));
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::EntryRemoved, k)?;
    }

    #[test]
    fn forged_insertion_is_entry_inserted((seeds, cps) in chain_strategy(), k in any::<prop::sample::Index>(), forged_seed in any::<u64>()) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let mut items = fixtures::items_of(&f.chain);
        let k = k.index(seeds.len()) as u64;
        let pos = entry_pos(&items, k);
        let Item::E(orig) = &items[pos] else { unreachable!() };
        let mut forged = orig.clone();
        forged.body = EntryBody::Event(fixtures::event(forged_seed));
        prop_assume!(forged.body != orig.body);
        reseal(&mut forged);
        items.insert(pos, Item::E(forged));
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::EntryInserted, k)?;
    }

    #[test]
    fn replayed_copy_is_entry_inserted((seeds, cps) in chain_strategy(), j in any::<prop::sample::Index>(), p in any::<prop::sample::Index>()) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let mut items = fixtures::items_of(&f.chain);
        let j = j.index(seeds.len());
        let copy = f.chain.entries()[j].clone();
        let after = entry_pos(&items, j as u64) + 1;
        let at = after + p.index(items.len() + 1 - after);
        items.insert(at, Item::E(copy));
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::EntryInserted, j as u64)?;
    }

    #[test]
    fn swap_is_entries_reordered((seeds, cps) in chain_strategy(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let mut items = fixtures::items_of(&f.chain);
        let (a, b) = (a.index(seeds.len()) as u64, b.index(seeds.len()) as u64);
        prop_assume!(a != b);
        let (i, j) = (a.min(b), a.max(b));
        let (pi, pj) = (entry_pos(&items, i), entry_pos(&items, j));
        items.swap(pi, pj);
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::EntriesReordered, i)?;
    }

    #[test]
    fn truncation_after_trusted_checkpoint_is_truncated((seeds, _cps) in chain_strategy(), c in any::<prop::sample::Index>(), m in any::<prop::sample::Index>()) {
        let n = seeds.len();
        let c = c.index(n);
        let mut cps = vec![false; n];
        cps[c] = true;
        let f = build(fixtures::org_a(), &seeds, &cps);
        let trusted = f.chain.checkpoints().to_vec();
        let m = m.index(c + 1) as u64;
        let items: Vec<Item> = fixtures::items_of(&f.chain).into_iter().filter(|it| match it {
            Item::E(e) => e.sequence < m,
            Item::C(cp) => cp.sequence < m,
        }).collect();
        expect_break(run(&f.keys, fixtures::org_a(), &items, &trusted), BreakKind::Truncated, m)?;
        // And the untruncated chain verifies against the same checkpoint.
        prop_assert!(run(&f.keys, fixtures::org_a(), &fixtures::items_of(&f.chain), &trusted).is_ok());
    }

    #[test]
    fn rebuild_before_checkpoint_is_checkpoint_mismatch((seeds, _cps) in chain_strategy(), c in any::<prop::sample::Index>(), k in any::<prop::sample::Index>(), forged_seed in any::<u64>()) {
        let n = seeds.len();
        let c = c.index(n);
        let mut cps = vec![false; n];
        cps[c] = true;
        let f = build(fixtures::org_a(), &seeds, &cps);
        let k = k.index(c + 1);
        // Rebuild: replace entry k and reseal everything from k on (the attacker has no key).
        let mut head = match k {
            0 => ChainHead::genesis(fixtures::org_a()),
            _ => ChainHead::after(&f.chain.entries()[k - 1]).unwrap(),
        };
        let mut items: Vec<Item> = fixtures::items_of(&f.chain).into_iter().filter(|it| matches!(it, Item::E(e) if e.sequence < k as u64)).collect();
        let forged = fixtures::event(forged_seed);
        prop_assume!(EntryBody::Event(forged.clone()) != f.chain.entries()[k].body);
        items.push(Item::E(head.append_event(forged).unwrap()));
        for e in &f.chain.entries()[k + 1..] {
            let EntryBody::Event(ev) = &e.body else { unreachable!() };
            items.push(Item::E(head.append_event(ev.clone()).unwrap()));
            if e.sequence == c as u64 {
                items.push(Item::C(f.chain.checkpoints()[0].clone()));
            }
        }
        if k == c {
            items.insert(entry_pos(&items, c as u64) + 1, Item::C(f.chain.checkpoints()[0].clone()));
        }
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::CheckpointMismatch, c as u64)?;
    }

    #[test]
    fn splice_from_other_org_is_wrong_chain_id((seeds, cps) in chain_strategy(), k in any::<prop::sample::Index>(), replace in any::<bool>()) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let other = build(fixtures::org_b(), &seeds, &cps);
        let mut items = fixtures::items_of(&f.chain);
        let k = k.index(seeds.len());
        let pos = entry_pos(&items, k as u64);
        let foreign = Item::E(other.chain.entries()[k].clone());
        if replace { items[pos] = foreign } else { items.insert(pos, foreign) }
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::WrongChainId, k as u64)?;
    }

    #[test]
    fn unsealed_row_is_unsealed_entry((seeds, cps) in chain_strategy(), k in any::<prop::sample::Index>(), which in 0u8..3) {
        let f = build(fixtures::org_a(), &seeds, &cps);
        let mut items = fixtures::items_of(&f.chain);
        let k = k.index(seeds.len()) as u64;
        let pos = entry_pos(&items, k);
        if let Item::E(e) = &mut items[pos] {
            if which != 1 { e.content_hash = None; }
            if which != 0 { e.chain_hash = None; }
        }
        expect_break(run(&f.keys, fixtures::org_a(), &items, &[]), BreakKind::UnsealedEntry, k)?;
    }
}
