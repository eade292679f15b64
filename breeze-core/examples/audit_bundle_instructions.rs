//! Load-independent cost of bundle verification: callgrind instruction counts per entry.
//!
//! `audit_bundle_instructions write PATH N` writes an N-entry bundle (the `audit_export_1m`
//! bench's entries, a checkpoint every 10,000); `verify-disk PATH` verifies it from the file
//! with a 64 KiB `BufReader` (the bench's from-disk path); `verify-mem PATH` reads it into
//! memory first and calls `verify_bundle_bytes` (what the bindings call). Count both verify
//! modes under `valgrind --tool=callgrind` for a bundle of N entries and one of 0 entries:
//! the difference divided by N is the cost of an entry (docs/BENCHMARKS.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "measurement code"
)]

#[path = "../tests/vectors_gen/mod.rs"]
mod fixtures;

use std::fs::File;
use std::io::{BufReader, BufWriter};

use breeze_core::audit::{
    BundleOptions, BundleWriter, ChainHead, verify_bundle, verify_bundle_bytes,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = || BundleOptions {
        trusted_keys: Some(fixtures::ring(&[&fixtures::signer(1)])),
        ..BundleOptions::default()
    };
    let report = match args.first().map(String::as_str) {
        Some("write") => return write(&args[1], args[2].parse().unwrap()),
        Some("verify-disk") => verify_bundle(
            BufReader::with_capacity(1 << 16, File::open(&args[1]).unwrap()),
            &options(),
        ),
        Some("verify-mem") => verify_bundle_bytes(&std::fs::read(&args[1]).unwrap(), &options()),
        _ => panic!(
            "usage: audit_bundle_instructions write PATH N | verify-disk PATH | verify-mem PATH"
        ),
    };
    assert!(report.ok, "{report:?}");
    println!("{} entries verified", report.entries);
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
}
