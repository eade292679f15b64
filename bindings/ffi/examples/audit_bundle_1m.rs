//! Writes a large audit export bundle for the binding benchmarks and times the Rust baseline.
//!
//! `cargo run --release -p breeze-ffi --example audit_bundle_1m -- write PATH [N]` writes an
//! N-entry bundle (default 1,000,000; checkpoint every 10,000 entries, as the breeze-core
//! bench) and `PATH.keys.json`; `... -- verify PATH` reads it into memory and times
//! `verify_bundle_bytes` (the Rust figure) and `breeze_ffi::audit::audit_verify_bundle` (what
//! every binding calls).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "example code"
)]

#[path = "../../../breeze-core/tests/vectors_gen/mod.rs"]
mod fixtures;

use std::fs::File;
use std::io::BufWriter;
use std::time::Instant;

use breeze_core::audit::{BundleOptions, BundleWriter, ChainHead, verify_bundle_bytes};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write") => write(
            &args[1],
            args.get(2).map_or(1_000_000, |n| n.parse().unwrap()),
        ),
        Some("verify") => verify(&args[1]),
        _ => panic!("usage: audit_bundle_1m write PATH [N] | verify PATH"),
    }
}

fn write(path: &str, n: u64) {
    let signer = fixtures::signer(1);
    let keys = fixtures::ring(&[&signer]);
    let mut head = ChainHead::genesis(fixtures::org_a());
    let file = BufWriter::with_capacity(1 << 16, File::create(path).unwrap());
    let mut w = BundleWriter::new(file, head.chain(), &keys, None, fixtures::ts(0)).unwrap();
    for i in 0..n {
        let e = head.append_event(fixtures::event(i)).unwrap();
        w.write_entry(&e).unwrap();
        if (i + 1) % 10_000 == 0 {
            w.write_checkpoint(&signer.sign_head(&head, fixtures::ts(0)).unwrap())
                .unwrap();
        }
    }
    w.finish().unwrap();
    let key_list: Vec<serde_json::Value> = keys
        .iter()
        .map(|(id, k)| serde_json::json!({"key_id": id.as_str(), "public_key": hex::encode(k.as_bytes())}))
        .collect();
    std::fs::write(
        format!("{path}.keys.json"),
        serde_json::to_string(&key_list).unwrap(),
    )
    .unwrap();
    println!(
        "wrote {n} entries to {path} ({} bytes)",
        std::fs::metadata(path).unwrap().len()
    );
}

fn verify(path: &str) {
    let bytes = std::fs::read(path).unwrap();
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{path}.keys.json")).unwrap())
            .unwrap();
    let mut ring = breeze_core::audit::KeyRing::new();
    for k in keys.as_array().unwrap() {
        let mut pk = [0u8; 32];
        hex::decode_to_slice(k["public_key"].as_str().unwrap(), &mut pk).unwrap();
        ring.insert_bytes(
            breeze_core::audit::KeyId::new(k["key_id"].as_str().unwrap()).unwrap(),
            &pk,
        )
        .unwrap();
    }
    let start = Instant::now();
    let report = verify_bundle_bytes(
        &bytes,
        &BundleOptions {
            trusted_keys: Some(ring),
            ..BundleOptions::default()
        },
    );
    let rust = start.elapsed().as_secs_f64();
    assert!(report.ok, "{report:?}");
    println!(
        "rust verify_bundle_bytes: {} entries in {rust:.2} s ({:.0} entries/s)",
        report.entries,
        report.entries as f64 / rust
    );

    let start = Instant::now();
    let v = breeze_ffi::audit::audit_verify_bundle(&bytes, Some(keys), None).unwrap();
    let ffi = start.elapsed().as_secs_f64();
    assert_eq!(v["ok"], true);
    println!("rust breeze_ffi::audit_verify_bundle: {ffi:.2} s");
}
