//! Builds the shared vectors of `vectors/audit/` (used by `examples/gen_vectors.rs`, which
//! writes them, and by `tests/audit_vectors.rs`, which fails when the checked-in copy is
//! stale). The same file is included by the tests, the benches and `breeze-ffi`'s
//! `audit_bundle_1m` example as a fixture library.
//!
//! Deterministic: fixed keys (test seeds, published here on purpose), ids and timestamps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "generator and test code"
)]
#![allow(
    dead_code,
    missing_docs,
    reason = "shared with the tests, which use a subset"
)]

use std::net::IpAddr;
use std::path::PathBuf;

use breeze_core::audit::*;
use breeze_core::tenancy::{ApiKeyId, DeviceId, OrgId, UserId};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// 2026-01-01T00:00:00Z in microseconds.
pub const T0: i64 = 1_767_225_600_000_000;
/// Organization of the main test chain.
pub const ORG_A: &str = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f";
/// Another organization (for splices).
pub const ORG_B: &str = "a3d5c7e9-1b2d-4f60-8a1c-3e5f7a9b1d2f";
/// The user of the worked example.
pub const USER: &str = "0b9e5c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b";

pub fn ts(offset_micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0 + offset_micros).unwrap()
}

pub fn org_a() -> ChainId {
    ChainId::Org(ORG_A.parse::<OrgId>().unwrap())
}

pub fn org_b() -> ChainId {
    ChainId::Org(ORG_B.parse::<OrgId>().unwrap())
}

/// Test signer `n` (seed = 32 bytes of `n`), key id `k{n}`.
pub fn signer(n: u8) -> CheckpointSigner {
    CheckpointSigner::from_seed(
        KeyId::new(&format!("k{n}")).unwrap(),
        &Zeroizing::new([n; 32]),
    )
}

pub fn ring(signers: &[&CheckpointSigner]) -> KeyRing {
    let mut r = KeyRing::new();
    for s in signers {
        r.insert(s.key_id().clone(), s.verifying_key()).unwrap();
    }
    r
}

fn uuid_n(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}

/// A deterministic, varied event number `i` (about 300 bytes canonical).
pub fn event(i: u64) -> AuditEvent {
    let n = u8::try_from(i % 250).unwrap() + 1;
    let (actor, initiated) = match i % 4 {
        0 => (
            Actor::User(UserId::from_uuid(uuid_n(n))),
            InitiatedBy::Manual,
        ),
        1 => (
            Actor::ApiKey(ApiKeyId::from_uuid(uuid_n(n))),
            InitiatedBy::Integration,
        ),
        2 => (
            Actor::Agent(DeviceId::from_uuid(uuid_n(n))),
            InitiatedBy::Agent,
        ),
        _ => (Actor::System, InitiatedBy::Schedule),
    };
    let result = match i % 3 {
        0 => AuditResult::Success,
        1 => AuditResult::Failure,
        _ => AuditResult::Denied,
    };
    let action = [
        "device.command.execute",
        "auth.login.success",
        "agent.token.rotate.staged",
        "role.membership.change",
    ][usize::try_from(i % 4).unwrap()];
    let mut b = AuditEvent::builder(actor, Action::new(action).unwrap(), result, initiated, ts(i64::try_from(i % 100_000_000).unwrap() * 1_000_001))
        .resource_type("device")
        .resource_id(format!("dev-{i:06}"))
        .ip(IpAddr::from([192, 0, 2, n]))
        .user_agent("breeze-agent/1.4.2 (linux; x86_64)")
        .details(&json!({"command": "script.run", "exitCode": i % 7, "scriptId": format!("s-{}", i % 13), "token": "do-not-log"}));
    if result == AuditResult::Failure {
        b = b.error_message("timed out after 30s");
    }
    b.build().unwrap()
}

/// The worked example of the module docs.
pub fn worked_example() -> Entry {
    let event = AuditEvent::builder(
        Actor::User(USER.parse().unwrap()),
        Action::new("device.command.execute").unwrap(),
        AuditResult::Success,
        InitiatedBy::Manual,
        ts(1),
    )
    .resource_type("device")
    .resource_id("d-42")
    .ip(IpAddr::from([192, 0, 2, 7]))
    .details(&json!({"command": "reboot"}))
    .build()
    .unwrap();
    ChainHead::genesis(org_a()).append_event(event).unwrap()
}

/// One item of a stored stream: an entry, or a checkpoint right after its entry.
#[derive(Debug, Clone)]
pub enum Item {
    E(Entry),
    C(Checkpoint),
}

/// The main test chain of org A: events 0..=9, checkpoints after 3 (key k1), 7 and 9 (k2).
pub fn full_chain() -> MemoryChain {
    let (k1, k2) = (signer(1), signer(2));
    let mut c = MemoryChain::new(org_a());
    for i in 0..10 {
        c.append(event(i)).unwrap();
        match i {
            3 => drop(c.checkpoint(&k1, ts(3_500_000)).unwrap()),
            7 => drop(c.checkpoint(&k2, ts(7_500_000)).unwrap()),
            9 => drop(c.checkpoint(&k2, ts(9_500_000)).unwrap()),
            _ => {}
        }
    }
    c
}

/// The main chain pruned through 3 (retention record at 10), then events 11 and 12 and a
/// checkpoint after 12.
pub fn pruned_chain() -> MemoryChain {
    let mut c = full_chain();
    let keys = ring(&[&signer(1), &signer(2)]);
    c.prune_through(3, &keys, ts(10_000_000)).unwrap();
    c.append(event(11)).unwrap();
    c.append(event(12)).unwrap();
    c.checkpoint(&signer(2), ts(12_500_000)).unwrap();
    c
}

pub fn items_of(c: &MemoryChain) -> Vec<Item> {
    let mut out = Vec::new();
    for e in c.entries() {
        out.push(Item::E(e.clone()));
        for cp in c
            .checkpoints()
            .iter()
            .filter(|cp| cp.sequence == e.sequence)
        {
            out.push(Item::C(cp.clone()));
        }
    }
    out
}

pub fn bundle(
    chain: ChainId,
    keys: &KeyRing,
    anchor: Option<&Checkpoint>,
    items: &[Item],
) -> String {
    let mut w = BundleWriter::new(Vec::new(), chain, keys, anchor, ts(99_000_000)).unwrap();
    for it in items {
        match it {
            Item::E(e) => w.write_entry(e).unwrap(),
            Item::C(cp) => w.write_checkpoint(cp).unwrap(),
        }
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

fn entry_at(items: &[Item], seq: u64) -> usize {
    items
        .iter()
        .position(|it| matches!(it, Item::E(e) if e.sequence == seq))
        .unwrap()
}

fn reseal(e: &mut Entry) {
    let (c, h) = e.compute_hashes();
    e.content_hash = Some(c);
    e.chain_hash = Some(h);
}

/// Rebuilds a stream from `from` on: reseals every entry so it links to its predecessor.
fn relink(items: &mut [Item], from: usize) {
    let mut prev = None;
    for (idx, it) in items.iter_mut().enumerate() {
        if let Item::E(e) = it {
            if idx >= from {
                if let Some(p) = prev {
                    e.prev_hash = p;
                }
                reseal(e);
            }
            prev = e.chain_hash;
        }
    }
}

fn other_event(e: &Entry) -> Entry {
    let mut e = e.clone();
    e.body = EntryBody::Event(
        AuditEvent::builder(
            Actor::System,
            Action::new("audit.log.cleared").unwrap(),
            AuditResult::Success,
            InitiatedBy::Manual,
            e.timestamp(),
        )
        .resource_type("audit_log")
        .build()
        .unwrap(),
    );
    e
}

/// A tampered bundle and the break it must produce.
pub struct Tampered {
    pub name: &'static str,
    pub description: &'static str,
    pub bundle: String,
    pub trusted_keys: bool,
    pub trusted_checkpoints: Vec<Checkpoint>,
    pub kind: BreakKind,
    pub sequence: u64,
}

pub fn tampered_cases() -> Vec<Tampered> {
    let keys = ring(&[&signer(1), &signer(2)]);
    let full = full_chain();
    let base = items_of(&full);
    let chain = org_a();
    let mk = |items: &[Item]| bundle(chain, &keys, None, items);
    let mut cases = Vec::new();
    let mut case = |name, description, bundle, kind, sequence| {
        cases.push(Tampered {
            name,
            description,
            bundle,
            trusted_keys: false,
            trusted_checkpoints: Vec::new(),
            kind,
            sequence,
        });
    };

    let mut it = base.clone();
    if let Item::E(e) = &mut it[entry_at(&base, 5)] {
        *e = Entry {
            body: other_event(e).body,
            ..e.clone()
        };
    }
    case(
        "content_altered",
        "entry 5's event replaced, hashes kept",
        mk(&it),
        BreakKind::ContentAltered,
        5,
    );

    let mut it = base.clone();
    if let Item::E(e) = &mut it[entry_at(&base, 2)] {
        e.chain_hash = Some(Digest32::from_bytes([0xab; 32]));
    }
    case(
        "chain_hash_altered",
        "entry 2's stored chain hash overwritten",
        mk(&it),
        BreakKind::ContentAltered,
        2,
    );

    let mut it = base.clone();
    if let Item::E(e) = &mut it[entry_at(&base, 5)] {
        *e = other_event(e);
        reseal(e);
    }
    case(
        "entry_rewritten_and_resealed",
        "entry 5 replaced and its own hashes recomputed; entry 6 no longer links",
        mk(&it),
        BreakKind::ContentAltered,
        5,
    );

    let mut it = base.clone();
    it.remove(entry_at(&base, 5));
    case(
        "entry_removed",
        "entry 5 deleted",
        mk(&it),
        BreakKind::EntryRemoved,
        5,
    );

    let mut it = base.clone();
    it.remove(entry_at(&base, 0));
    case(
        "first_entry_removed",
        "entry 0 deleted",
        mk(&it),
        BreakKind::EntryRemoved,
        0,
    );

    let mut it = base.clone();
    let Item::E(e4) = &base[entry_at(&base, 4)] else {
        unreachable!()
    };
    let mut forged = other_event(e4);
    forged.sequence = 5;
    forged.prev_hash = e4.chain_hash.unwrap();
    reseal(&mut forged);
    it.insert(entry_at(&base, 4) + 1, Item::E(forged));
    case(
        "entry_inserted",
        "a validly sealed entry 5 inserted after entry 4, before the real entry 5",
        mk(&it),
        BreakKind::EntryInserted,
        5,
    );

    let mut it = base.clone();
    it.insert(entry_at(&base, 4) + 1, Item::E(e4.clone()));
    case(
        "entry_duplicated",
        "entry 4 stored twice",
        mk(&it),
        BreakKind::EntryInserted,
        4,
    );

    let mut it = base.clone();
    it.swap(entry_at(&base, 5), entry_at(&base, 6));
    case(
        "entries_swapped",
        "entries 5 and 6 swapped",
        mk(&it),
        BreakKind::EntriesReordered,
        5,
    );

    let mut it = base.clone();
    let moved = it.remove(entry_at(&base, 2));
    it.insert(entry_at(&base, 6) - 1 + 1, moved);
    case(
        "entry_moved_later",
        "entry 2 moved after entry 6",
        mk(&it),
        BreakKind::EntriesReordered,
        2,
    );

    let mut it: Vec<Item> = base[..entry_at(&base, 4) + 1].to_vec();
    let Item::E(e5) = &base[entry_at(&base, 5)] else {
        unreachable!()
    };
    let mut gap = e5.clone();
    gap.sequence = 6;
    reseal(&mut gap);
    it.push(Item::E(gap));
    case(
        "sequence_gap",
        "the writer sealed sequence 6 right after 4",
        mk(&it),
        BreakKind::SequenceGap,
        5,
    );

    let mut other = MemoryChain::new(org_b());
    for i in 0..6 {
        other.append(event(i)).unwrap();
    }
    let mut it = base.clone();
    it[entry_at(&base, 5)] = Item::E(other.entries()[5].clone());
    case(
        "spliced_from_other_org",
        "entry 5 replaced by entry 5 of another organization's chain",
        mk(&it),
        BreakKind::WrongChainId,
        5,
    );

    let mut it = base.clone();
    if let Item::E(e) = &mut it[entry_at(&base, 5)] {
        e.content_hash = None;
        e.chain_hash = None;
    }
    case(
        "unsealed_entry",
        "entry 5 stored without a seal",
        mk(&it),
        BreakKind::UnsealedEntry,
        5,
    );

    let mut it = base.clone();
    let at2 = entry_at(&base, 2);
    if let Item::E(e) = &mut it[at2] {
        *e = other_event(e);
    }
    relink(&mut it, at2);
    case(
        "rebuilt_after_checkpoint",
        "entry 2 replaced and every later entry resealed; the checkpoint at 3 signs the old head",
        mk(&it),
        BreakKind::CheckpointMismatch,
        3,
    );

    let mut it = base.clone();
    if let Item::C(cp) = &mut it[entry_at(&base, 3) + 1] {
        cp.signature.0[0] ^= 1;
    }
    case(
        "checkpoint_bad_signature",
        "one bit of the checkpoint at 3 flipped",
        mk(&it),
        BreakKind::CheckpointInvalid,
        3,
    );

    case(
        "checkpoint_unknown_key",
        "the header lists only key k1; the checkpoint at 7 is signed by k2",
        bundle(chain, &ring(&[&signer(1)]), None, &base),
        BreakKind::CheckpointInvalid,
        7,
    );

    let full_text = mk(&base);
    let cut: String = full_text
        .lines()
        .take(full_text.lines().count() - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    case(
        "truncated_file",
        "the end line is missing",
        cut,
        BreakKind::Truncated,
        10,
    );

    let mut text = mk(&base);
    text = text.replacen("\n{\"entry\"", "\nnot json\n{\"entry\"", 1);
    case(
        "malformed_line",
        "a line that is not JSON after the header",
        text,
        BreakKind::Malformed,
        0,
    );

    let text = mk(&base).replacen("{\"end\":{\"entries\":10", "{\"end\":{\"entries\":11", 1);
    case(
        "end_line_count_mismatch",
        "the end line counts 11 entries",
        text,
        BreakKind::Malformed,
        10,
    );

    let it: Vec<Item> = base[entry_at(&base, 4)..].to_vec();
    case(
        "prefix_removed_without_anchor",
        "entries 0 to 3 deleted, no anchor, no retention record",
        mk(&it),
        BreakKind::EntryRemoved,
        0,
    );

    let cp3 = full.checkpoints()[0].clone();
    case(
        "prefix_removed_without_retention_record",
        "entries 0 to 3 deleted and the checkpoint at 3 given as anchor, but no retention record names it",
        bundle(chain, &keys, Some(&cp3), &it),
        BreakKind::RetentionInvalid,
        4,
    );

    let pruned = pruned_chain();
    let mut it = items_of(&pruned);
    if let Some(pos) = it
        .iter()
        .position(|x| matches!(x, Item::E(e) if matches!(e.body, EntryBody::Retention(_))))
    {
        if let Item::E(e) = &mut it[pos] {
            if let EntryBody::Retention(r) = &mut e.body {
                r.pruned_through = 2;
            }
            reseal(e);
        }
        relink(&mut it, pos);
    }
    case(
        "retention_record_forged_range",
        "the retention record rewritten to end at 2, not at its checkpoint (and the tail resealed)",
        bundle(chain, &keys, pruned.anchor(), &it),
        BreakKind::RetentionInvalid,
        10,
    );

    // Truncation and rebuild detected only against a checkpoint the verifier kept.
    let cp9 = full.checkpoints()[2].clone();
    let upto5: Vec<Item> = base[..=entry_at(&base, 5)].to_vec();
    cases.push(Tampered {
        name: "truncated_after_trusted_checkpoint",
        description: "entries 6 to 9 and their checkpoints dropped; the verifier holds the checkpoint at 9",
        bundle: mk(&upto5),
        trusted_keys: false,
        trusted_checkpoints: vec![cp9.clone()],
        kind: BreakKind::Truncated,
        sequence: 6,
    });
    let mut it: Vec<Item> = base[..=entry_at(&base, 7) + 1].to_vec();
    for i in 8..10 {
        let Item::E(prev) = it
            .iter()
            .rev()
            .find(|x| matches!(x, Item::E(_)))
            .unwrap()
            .clone()
        else {
            unreachable!()
        };
        let mut e = other_event(&prev);
        e.sequence = i;
        e.prev_hash = prev.chain_hash.unwrap();
        reseal(&mut e);
        it.push(Item::E(e));
    }
    cases.push(Tampered {
        name: "tail_rebuilt_after_trusted_checkpoint",
        description: "entries 8 and 9 replaced by validly sealed forgeries and the checkpoint at 9 dropped; the verifier holds the real one",
        bundle: mk(&it),
        trusted_keys: false,
        trusted_checkpoints: vec![cp9],
        kind: BreakKind::CheckpointMismatch,
        sequence: 9,
    });

    // An attacker rebuilds the chain and re-signs with their own key under the same id.
    let attacker =
        CheckpointSigner::from_seed(KeyId::new("k1").unwrap(), &Zeroizing::new([0xee; 32]));
    let mut forged = MemoryChain::new(org_a());
    for i in 0..4 {
        forged
            .append(if i == 2 {
                AuditEvent::builder(
                    Actor::System,
                    Action::new("audit.log.cleared").unwrap(),
                    AuditResult::Success,
                    InitiatedBy::Manual,
                    ts(2),
                )
                .resource_type("audit_log")
                .build()
                .unwrap()
            } else {
                event(i)
            })
            .unwrap();
    }
    forged.checkpoint(&attacker, ts(3_500_000)).unwrap();
    cases.push(Tampered {
        name: "rebuilt_and_resigned_with_attacker_key",
        description: "chain rebuilt and checkpoint signed by an attacker key listed in the header as k1; verified with the trusted ring",
        bundle: bundle(chain, &ring(&[&attacker]), None, &items_of(&forged)),
        trusted_keys: true,
        trusted_checkpoints: Vec::new(),
        kind: BreakKind::CheckpointInvalid,
        sequence: 3,
    });
    cases
}

fn hexs(b: &[u8]) -> String {
    hex::encode(b)
}

fn canonical_case(name: &str, e: &Entry) -> Value {
    json!({
        "name": name,
        "entry": e,
        "canonical_hex": hexs(&e.canonical_bytes()),
        "content_hash": e.content_hash.unwrap().to_hex(),
        "chain_hash": e.chain_hash.unwrap().to_hex(),
    })
}

fn canonical_vectors() -> Value {
    let mut cases = vec![canonical_case("worked_example", &worked_example())];

    let sys = AuditEvent::builder(
        Actor::System,
        Action::new("audit.retention.run").unwrap(),
        AuditResult::Success,
        InitiatedBy::Schedule,
        ts(0),
    )
    .resource_type("audit_chain")
    .build()
    .unwrap();
    cases.push(canonical_case(
        "system_chain_system_actor_minimal",
        &ChainHead::genesis(ChainId::System)
            .append_event(sys)
            .unwrap(),
    ));

    let full = AuditEvent::builder(
        Actor::ApiKey(ApiKeyId::from_uuid(uuid_n(0x11))),
        Action::new("api_key.scope.check").unwrap(),
        AuditResult::Failure,
        InitiatedBy::Integration,
        Timestamp::from_unix_micros(-1).unwrap(),
    )
    .resource_type("api_key")
    .resource_id("ключ/💡 \"quoted\"")
    .ip("2001:db8::42".parse().unwrap())
    .user_agent("Mozilla/5.0 (X11; Linux x86_64)\tTest")
    .error_message("línea 1\nline 2 \u{0001}")
    .details(&json!({"z": [1, -2, 3.5, 1e300, true, null], "a": {"nested": "é\u{7f}\\"}, "B": "", "password": "x", "body": "hello"}))
    .build()
    .unwrap();
    let mut head = ChainHead::genesis(org_a());
    for i in 0..3 {
        head.append_event(event(i)).unwrap();
    }
    cases.push(canonical_case(
        "api_key_ipv6_every_field_seq3_pre_epoch",
        &head.append_event(full).unwrap(),
    ));

    let agent = AuditEvent::builder(
        Actor::Agent(DeviceId::from_uuid(uuid_n(0x22))),
        Action::new("agent.enroll").unwrap(),
        AuditResult::Denied,
        InitiatedBy::Agent,
        ts(5),
    )
    .resource_type("device")
    .ip(IpAddr::from([10, 0, 0, 1]))
    .details(&json!({"reason": "enrollment_key_expired"}))
    .build()
    .unwrap();
    cases.push(canonical_case(
        "agent_denied",
        &ChainHead::genesis(org_b()).append_event(agent).unwrap(),
    ));

    let pruned = pruned_chain();
    let retention = pruned
        .entries()
        .iter()
        .find(|e| matches!(e.body, EntryBody::Retention(_)))
        .unwrap();
    cases.push(canonical_case("retention_record", retention));
    cases.push(canonical_case(
        "chain_entry_seq5",
        &full_chain().entries()[5],
    ));

    json!({
        "description": "Canonical form v1 of audit entries: canonical bytes (hex), content hash and chain hash. See breeze_core::audit docs for the layout.",
        "content_hash": "sha256(\"breeze-audit/v1/content\\u0000\" || canonical)",
        "chain_hash": "sha256(\"breeze-audit/v1/chain\\u0000\" || prev_hash || content_hash)",
        "cases": cases,
    })
}

fn keys_json(signers: &[&CheckpointSigner]) -> Value {
    Value::Array(
        signers
            .iter()
            .map(|s| {
                let n = s.key_id().as_str().trim_start_matches('k').parse::<u8>().unwrap();
                json!({"key_id": s.key_id(), "seed_hex": hexs(&[n; 32]), "public_key": hexs(s.verifying_key().as_bytes())})
            })
            .collect(),
    )
}

fn chain_vectors() -> Value {
    let keys = ring(&[&signer(1), &signer(2)]);
    let full = full_chain();
    let pruned = pruned_chain();
    let full_bundle = full.export(Vec::new(), &keys, ts(99_000_000)).unwrap();
    let pruned_bundle = pruned.export(Vec::new(), &keys, ts(99_000_000)).unwrap();
    let opts = BundleOptions::default();
    json!({
        "description": "A small chain of one organization with checkpoints (keys k1 then k2, a rotation), exported whole, and again after pruning through the checkpoint at 3 (retention record at 10). Seeds are test-only.",
        "keys": keys_json(&[&signer(1), &signer(2)]),
        "full": {
            "bundle": String::from_utf8(full_bundle.clone()).unwrap(),
            "report": verify_bundle_bytes(&full_bundle, &opts),
        },
        "pruned": {
            "bundle": String::from_utf8(pruned_bundle.clone()).unwrap(),
            "report": verify_bundle_bytes(&pruned_bundle, &opts),
        },
    })
}

fn tampered_vectors() -> Value {
    let cases: Vec<Value> = tampered_cases()
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "bundle": t.bundle,
                "trusted_keys": if t.trusted_keys { json!(["k1", "k2"]) } else { Value::Null },
                "trusted_checkpoints": t.trusted_checkpoints,
                "expected": {"kind": t.kind, "sequence": t.sequence},
            })
        })
        .collect();
    json!({
        "description": "Tampered variants of the chain in chain.json. Verify each bundle (with the keys of chain.json when trusted_keys is set, and the trusted checkpoints given) and expect a report with ok=false and break.kind/break.sequence as in expected.",
        "cases": cases,
    })
}

/// The verdict `audit_verify_chain` / `audit_verify_stream` answer in the bindings.
pub fn verdict(result: Result<VerifiedChain, ChainBreak>) -> Value {
    match result {
        Ok(v) => {
            let mut j = serde_json::to_value(&v).unwrap();
            j["ok"] = true.into();
            j
        }
        Err(b) => json!({"ok": false, "break": b}),
    }
}

/// A segment of the main chain of `chain.json`, from `from` through `through`, without `drop`.
pub fn stream_segment(from: u64, through: u64, drop: &[u64]) -> Vec<Entry> {
    full_chain()
        .entries()
        .iter()
        .filter(|e| (from..=through).contains(&e.sequence) && !drop.contains(&e.sequence))
        .cloned()
        .collect()
}

/// An entry with its event's action changed through the JSON form; resealed or not.
fn edited(e: &Entry, reseal_it: bool) -> Entry {
    let mut wire = serde_json::to_value(e).unwrap();
    wire["event"]["action"] = "auth.login.failure".into();
    let mut out: Entry = serde_json::from_value(wire).unwrap();
    if reseal_it {
        reseal(&mut out);
    }
    out
}

/// A stream case: name, description, chain, entries, and the break expected (kind,
/// sequence), or `None` when the segment verifies.
pub type StreamCase = (
    &'static str,
    &'static str,
    ChainId,
    Vec<Entry>,
    Option<(BreakKind, u64)>,
);

pub fn stream_cases() -> Vec<StreamCase> {
    let middle = stream_segment(3, 7, &[]);
    let mut edited_5 = middle.clone();
    edited_5[2] = edited(&middle[2], false);
    let mut resealed_5 = middle.clone();
    resealed_5[2] = edited(&middle[2], true);
    let reordered = vec![
        middle[0].clone(),
        middle[2].clone(),
        middle[1].clone(),
        middle[3].clone(),
    ];
    let mut skipped = stream_segment(3, 4, &[]);
    let mut head = ChainHead::resume(org_a(), 6, skipped[1].chain_hash.unwrap());
    skipped.push(head.append_event(event(6)).unwrap());
    vec![
        (
            "middle",
            "entries 3 to 7: a segment that starts mid-chain verifies",
            org_a(),
            middle.clone(),
            None,
        ),
        (
            "single",
            "entry 5 alone",
            org_a(),
            stream_segment(5, 5, &[]),
            None,
        ),
        (
            "whole",
            "entries 0 to 9: the whole chain is a segment too",
            org_a(),
            stream_segment(0, 9, &[]),
            None,
        ),
        (
            "tail",
            "entries 8 and 9: the end of the chain",
            org_a(),
            stream_segment(8, 9, &[]),
            None,
        ),
        (
            "empty",
            "no entry: verifies, with no entry",
            org_a(),
            Vec::new(),
            None,
        ),
        (
            "hole",
            "entries 3 to 7 without 5: the missing sequence is named",
            org_a(),
            stream_segment(3, 7, &[5]),
            Some((BreakKind::EntryRemoved, 5)),
        ),
        (
            "holes",
            "entries 2 to 9 without 4, 5 and 6: the first missing sequence is named",
            org_a(),
            stream_segment(2, 9, &[4, 5, 6]),
            Some((BreakKind::EntryRemoved, 4)),
        ),
        (
            "edited",
            "entries 3 to 7, the action of 5 changed in place",
            org_a(),
            edited_5,
            Some((BreakKind::ContentAltered, 5)),
        ),
        (
            "edited_resealed",
            "entries 3 to 7, 5 changed and resealed: 6 no longer links to it",
            org_a(),
            resealed_5,
            Some((BreakKind::ContentAltered, 5)),
        ),
        (
            "reordered",
            "entries 3, 5, 4, 6",
            org_a(),
            reordered,
            Some((BreakKind::EntriesReordered, 4)),
        ),
        (
            "writer_skipped",
            "3 and 4, then an entry sealed as 6 right after 4",
            org_a(),
            skipped,
            Some((BreakKind::SequenceGap, 5)),
        ),
        (
            "other_chain",
            "entries 3 to 7 verified as another organization's chain",
            org_b(),
            middle,
            Some((BreakKind::WrongChainId, 3)),
        ),
    ]
}

fn stream_vectors() -> Value {
    let keys = ring(&[&signer(1), &signer(2)]);
    let cases: Vec<Value> = stream_cases()
        .into_iter()
        .map(|(name, description, chain, entries, expected)| {
            let result = verify_segment(chain, keys.clone(), &entries);
            match (&result, expected) {
                (Ok(_), None) => {}
                (Err(b), Some((kind, seq))) => {
                    assert_eq!((b.kind, b.sequence), (kind, seq), "{name}")
                }
                _ => panic!("{name}: {result:?}"),
            }
            json!({
                "name": name,
                "description": description,
                "chain": chain,
                "entries": entries,
                "expected": verdict(result),
            })
        })
        .collect();
    json!({
        "description": "Segments of the chain of chain.json (its full bundle's entries), as a receiver of audit.appended webhooks gets them: the first entry is trusted to link to what came before it, every later one must follow. Verify each case's entries as a segment of `chain` (audit_verify_stream, with the keys of chain.json) and expect `expected`, the verdict audit_verify_chain also answers.",
        "cases": cases,
    })
}

fn sanitize_vectors() -> Value {
    let inputs = [
        (
            "secret_keys_any_style",
            json!({"password": "p", "apiKey": "a", "api_key": "b", "API-KEY": "c", "x-api-key": "d", "Authorization": "Bearer x", "set-cookie": "s", "refreshToken": "t", "client_secret": "c", "privateKey": "k", "accessKeyId": "i", "recovery_key": "r", "credentials": {"user": "u"}, "username": "kept"}),
        ),
        (
            "bulky_keys",
            json!({"content": "abc", "body": {"a": [1, 2]}, "stdin": "", "scriptContent": "echo hi", "fileContent": "é", "contents": "kept (not an exact bulky key)"}),
        ),
        (
            "string_cap",
            json!({"note": "x".repeat(2100), "list": ["é".repeat(2049)]}),
        ),
        (
            "depth_cap",
            json!({"l2": {"l3": {"l4": {"l5": {"l6": {"l7": {"l8": {"l9": {"x": 1}, "ok": [1, [2]]}}}}}}}}),
        ),
    ];
    let cases: Vec<Value> = inputs
        .into_iter()
        .map(|(name, input)| json!({"name": name, "output": sanitize_details(&input), "input": input}))
        .collect();
    json!({"description": "Details sanitizer of SPEC 6.1: input -> output.", "cases": cases})
}

#[path = "../../../vectors/gen_support.rs"]
pub mod support;

/// The folder of the files under `vectors/`.
pub const DIR: &str = "audit";

/// The command that rewrites the files.
pub const COMMAND: &str = "cargo run -p breeze-core --example gen_vectors";

/// `vectors/<DIR>` in this checkout.
pub fn dir() -> PathBuf {
    support::dir(env!("CARGO_MANIFEST_DIR"), DIR)
}

/// Every vector file: (file name under `vectors/<DIR>/`, pretty JSON text).
pub fn all() -> Vec<(String, String)> {
    support::pretty([
        ("canonical.json", canonical_vectors()),
        ("chain.json", chain_vectors()),
        ("tampered.json", tampered_vectors()),
        ("sanitize.json", sanitize_vectors()),
        ("stream.json", stream_vectors()),
    ])
}
