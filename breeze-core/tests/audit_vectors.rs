//! Replays the checked-in vectors under `vectors/audit/` and fails when they are stale.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod vectors_gen;

use breeze_core::audit::*;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = vectors_gen::dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read vectors/{}/{name}: {e}; run `{}`",
            vectors_gen::DIR,
            vectors_gen::COMMAND
        )
    });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn checked_in_vectors_are_fresh() {
    vectors_gen::support::assert_fresh(
        &vectors_gen::dir(),
        vectors_gen::DIR,
        vectors_gen::COMMAND,
        vectors_gen::all(),
    );
}

#[test]
fn canonical_vectors_replay() {
    let v = load("canonical.json");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let entry: Entry = serde_json::from_value(c["entry"].clone()).unwrap();
        assert_eq!(
            hex::encode(entry.canonical_bytes()),
            c["canonical_hex"].as_str().unwrap(),
            "{name}"
        );
        let (content, chain) = entry.compute_hashes();
        assert_eq!(
            content.to_hex(),
            c["content_hash"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(chain.to_hex(), c["chain_hash"].as_str().unwrap(), "{name}");
        assert!(entry.seal_is_valid(), "{name}");
        // JSON round trip is exact.
        assert_eq!(serde_json::to_value(&entry).unwrap(), c["entry"], "{name}");
    }
}

#[test]
fn worked_example_matches_docs() {
    let docs = include_str!("../src/audit/mod.rs");
    let block = docs.split("## Worked example").nth(1).unwrap();
    let block = block
        .split("```text")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let mut hex_bytes = String::new();
    let (mut content, mut chain) = (String::new(), String::new());
    for line in block.lines() {
        let line = line.trim_start_matches("//!").trim();
        if let Some(h) = line.strip_prefix("content hash ") {
            content = h.trim().to_owned();
        } else if let Some(h) = line.strip_prefix("chain hash ") {
            chain = h.trim().to_owned();
        } else if let Some(first) = line.split_whitespace().next() {
            hex_bytes.push_str(first);
        }
    }
    let e = vectors_gen::worked_example();
    assert_eq!(hex_bytes, hex::encode(e.canonical_bytes()));
    assert_eq!(content, e.content_hash.unwrap().to_hex());
    assert_eq!(chain, e.chain_hash.unwrap().to_hex());
}

fn vector_keys(v: &Value) -> KeyRing {
    let mut ring = KeyRing::new();
    for k in v["keys"].as_array().unwrap() {
        let mut pk = [0u8; 32];
        hex::decode_to_slice(k["public_key"].as_str().unwrap(), &mut pk).unwrap();
        ring.insert_bytes(KeyId::new(k["key_id"].as_str().unwrap()).unwrap(), &pk)
            .unwrap();
    }
    ring
}

#[test]
fn chain_vectors_replay() {
    let v = load("chain.json");
    let keys = vector_keys(&v);
    for which in ["full", "pruned"] {
        let bundle = v[which]["bundle"].as_str().unwrap();
        let report = verify_bundle_bytes(bundle.as_bytes(), &BundleOptions::default());
        assert!(report.ok, "{which}: {report:?}");
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            v[which]["report"],
            "{which}"
        );
        let trusted = verify_bundle_bytes(
            bundle.as_bytes(),
            &BundleOptions {
                trusted_keys: Some(keys.clone()),
                ..BundleOptions::default()
            },
        );
        assert!(trusted.ok && trusted.keys_trusted, "{which}: {trusted:?}");
    }
    assert_eq!(v["pruned"]["report"]["pruned_through"], 3);
    assert_eq!(v["pruned"]["report"]["first_sequence"], 4);
}

#[test]
fn tampered_vectors_replay() {
    let chain = load("chain.json");
    let keys_json: Value = chain["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| serde_json::json!({"key_id": k["key_id"], "public_key": k["public_key"]}))
        .collect();
    let v = load("tampered.json");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        // The bindings' path: options as JSON (keys of chain.json when trusted_keys is set).
        let options_json = serde_json::json!({
            "trusted_keys": if c["trusted_keys"].is_null() { Value::Null } else { keys_json.clone() },
            "trusted_checkpoints": c["trusted_checkpoints"],
        });
        let options = BundleOptions::from_json(options_json.to_string().as_bytes()).unwrap();
        let report = verify_bundle_bytes(c["bundle"].as_str().unwrap().as_bytes(), &options);
        assert!(!report.ok, "{name} verified");
        let b = report.first_break.unwrap();
        assert_eq!(
            serde_json::to_value(b.kind).unwrap(),
            c["expected"]["kind"],
            "{name}: {b:?}"
        );
        assert_eq!(
            b.sequence,
            Some(c["expected"]["sequence"].as_u64().unwrap()),
            "{name}: {b:?}"
        );
    }
}

#[test]
fn sanitize_vectors_replay() {
    let v = load("sanitize.json");
    for c in v["cases"].as_array().unwrap() {
        assert_eq!(sanitize_details(&c["input"]), c["output"], "{}", c["name"]);
    }
}

#[test]
fn stream_vectors_replay() {
    let v = load("stream.json");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    // The entries are those of chain.json's full bundle (or altered copies of them).
    let chain_json = load("chain.json");
    let bundle_entries: Vec<Value> = chain_json["full"]["bundle"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|l| l.get("entry").cloned())
        .collect();
    assert_eq!(bundle_entries.len(), 10);
    let keys = vectors_gen::ring(&[&vectors_gen::signer(1), &vectors_gen::signer(2)]);
    let mut kinds = std::collections::BTreeSet::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let chain: ChainId = serde_json::from_value(c["chain"].clone()).unwrap();
        let entries: Vec<Entry> = serde_json::from_value(c["entries"].clone()).unwrap();
        if [
            "middle",
            "single",
            "whole",
            "tail",
            "hole",
            "holes",
            "reordered",
        ]
        .contains(&name)
        {
            for e in c["entries"].as_array().unwrap() {
                let seq = usize::try_from(e["sequence"].as_u64().unwrap()).unwrap();
                assert_eq!(e, &bundle_entries[seq], "{name}");
            }
        }
        let verdict = vectors_gen::verdict(verify_segment(chain, keys.clone(), &entries));
        assert_eq!(verdict, c["expected"], "{name}");
        if let Some(kind) = c["expected"]["break"]["kind"].as_str() {
            kinds.insert(kind.to_owned());
        }
    }
    for kind in ["entry_removed", "content_altered", "sequence_gap"] {
        assert!(kinds.contains(kind), "no stream case breaks with {kind}");
    }
}
