//! Builds a 1,000,000-entry export bundle in a temporary file (streaming, checkpoint every
//! 10,000 entries), verifies it offline, and prints entries/s and peak memory (VmHWM).
//! `cargo bench -p breeze-core --bench audit_export_1m` (set `AUDIT_EXPORT_ENTRIES` to
//! change the size).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "bench code"
)]

#[path = "../tests/vectors_gen/mod.rs"]
mod fixtures;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::time::Instant;

use breeze_core::audit::*;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Nanoseconds this thread has spent on a CPU (first field of schedstat), so figures can be
/// read independently of other load on the machine.
fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn rate(n: u64, ns: u64) -> f64 {
    n as f64 / (ns.max(1) as f64 / 1e9)
}

fn reset_hwm() {
    // Linux: writing 5 to clear_refs resets the peak resident set size.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let n: u64 = std::env::var("AUDIT_EXPORT_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let path =
        std::env::temp_dir().join(format!("breeze-audit-export-{}.jsonl", std::process::id()));
    let signer = fixtures::signer(1);
    let keys = fixtures::ring(&[&signer]);
    println!(
        "audit export benchmark: {n} entries, file {}",
        path.display()
    );
    println!("peak memory before: {} KiB", vm_hwm_kib());

    reset_hwm();
    let start = Instant::now();
    let cpu = on_cpu_ns();
    let mut head = ChainHead::genesis(fixtures::org_a());
    let file = BufWriter::with_capacity(1 << 16, File::create(&path).unwrap());
    let mut w = BundleWriter::new(file, head.chain(), &keys, None, fixtures::ts(0)).unwrap();
    let mut canonical_total = 0usize;
    for i in 0..n {
        let e = head.append_event(fixtures::event(i)).unwrap();
        if i < 1000 {
            canonical_total += e.canonical_bytes().len();
        }
        w.write_entry(&e).unwrap();
        if (i + 1) % 10_000 == 0 {
            w.write_checkpoint(&signer.sign_head(&head, fixtures::ts(0)).unwrap())
                .unwrap();
        }
    }
    w.finish().unwrap();
    let build = start.elapsed();
    let build_cpu = on_cpu_ns() - cpu;
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "build+seal+write: {:.2} s, {:.0} entries/s wall, {:.0} entries/s on-CPU, file {:.1} MiB ({} bytes/line), typical canonical entry {} bytes; peak memory {} KiB",
        build.as_secs_f64(),
        n as f64 / build.as_secs_f64(),
        rate(n, build_cpu),
        size as f64 / 1048576.0,
        size / n.max(1),
        canonical_total / usize::try_from(n.clamp(1, 1000)).unwrap(),
        vm_hwm_kib()
    );

    reset_hwm();
    let start = Instant::now();
    let cpu = on_cpu_ns();
    let reader = BufReader::with_capacity(1 << 16, File::open(&path).unwrap());
    let report = verify_bundle(
        reader,
        &BundleOptions {
            trusted_keys: Some(keys),
            ..BundleOptions::default()
        },
    );
    let verify = start.elapsed();
    let verify_cpu = on_cpu_ns() - cpu;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries, n);
    println!(
        "offline verify (read + parse + hash + link + {} checkpoints): {:.2} s, {:.0} entries/s wall, {:.0} entries/s on-CPU; peak memory {} KiB",
        report.checkpoints,
        verify.as_secs_f64(),
        n as f64 / verify.as_secs_f64(),
        rate(n, verify_cpu),
        vm_hwm_kib()
    );
    std::fs::remove_file(&path).unwrap();

    // Hashing and linking alone (entries already in memory, as the server's store sees
    // them): the per-core verification rate.
    let m = n.min(200_000);
    let mut head = ChainHead::genesis(fixtures::org_a());
    let entries: Vec<Entry> = (0..m)
        .map(|i| head.append_event(fixtures::event(i)).unwrap())
        .collect();
    let start = Instant::now();
    let cpu = on_cpu_ns();
    let s = verify_chain(fixtures::org_a(), KeyRing::new(), &entries).unwrap();
    let (wall, cpu) = (start.elapsed(), on_cpu_ns() - cpu);
    assert_eq!(s.entries, m);
    println!(
        "in-memory verify of {m} entries (canonical encode + 2 SHA-256 + link): {:.0} entries/s wall, {:.0} entries/s on-CPU",
        m as f64 / wall.as_secs_f64(),
        rate(m, cpu)
    );
}
