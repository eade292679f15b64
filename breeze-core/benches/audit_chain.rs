//! Audit chain benchmarks: append (seal), verify, canonical encoding, checkpoint sign and
//! verify, bundle verification. `cargo bench -p breeze-core --bench audit_chain`.

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

use std::hint::black_box;

use breeze_core::audit::*;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const N: u64 = 10_000;

fn chain_of(n: u64) -> MemoryChain {
    let mut c = MemoryChain::new(fixtures::org_a());
    for i in 0..n {
        c.append(fixtures::event(i)).unwrap();
    }
    c
}

fn benches(c: &mut Criterion) {
    let chain = chain_of(N);
    let avg = chain
        .entries()
        .iter()
        .map(|e| e.canonical_bytes().len())
        .sum::<usize>()
        / chain.entries().len();
    eprintln!("typical entry: {avg} canonical bytes on average");
    let keys = fixtures::ring(&[&fixtures::signer(1)]);

    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(1));
    let event = fixtures::event(7);
    g.bench_function("append (seal one entry)", |b| {
        let mut head = *chain.head();
        b.iter_batched(
            || event.clone(),
            |ev| black_box(head.append_event(ev).unwrap()),
            BatchSize::SmallInput,
        );
    });
    let e = &chain.entries()[7];
    g.bench_function("canonical encode", |b| {
        b.iter(|| black_box(e.canonical_bytes()))
    });

    g.throughput(Throughput::Elements(N));
    g.bench_function("verify 10k entries (in memory)", |b| {
        b.iter(|| verify_chain(fixtures::org_a(), keys.clone(), chain.entries()).unwrap());
    });
    let bundle = chain.export(Vec::new(), &keys, fixtures::ts(0)).unwrap();
    eprintln!(
        "bundle: {} bytes per entry line on average",
        bundle.len() as u64 / N
    );
    g.bench_function("verify 10k-entry bundle (parse + verify)", |b| {
        b.iter(|| assert!(verify_bundle_bytes(&bundle, &BundleOptions::default()).ok));
    });

    g.throughput(Throughput::Elements(1));
    let signer = fixtures::signer(1);
    g.bench_function("checkpoint sign", |b| {
        b.iter(|| black_box(signer.sign_head(chain.head(), fixtures::ts(0)).unwrap()))
    });
    let cp = signer.sign_head(chain.head(), fixtures::ts(0)).unwrap();
    g.bench_function("checkpoint verify", |b| {
        b.iter(|| keys.verify(black_box(&cp)).unwrap())
    });
    g.finish();
}

criterion_group!(audit, benches);
criterion_main!(audit);
