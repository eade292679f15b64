//! In-memory and Redis limiter throughput.
//!
//! `cargo bench -p breeze-core --bench guards_ratelimit -- --warm-up-time 1 --measurement-time 3`
//! The Redis group runs when `REDIS_URL` is set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "bench code"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use breeze_core::ratelimit::{ManualClock, MemoryRateLimiter, Quota, RateLimitBackend};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn memory(c: &mut Criterion) {
    let clock = ManualClock::new(1_700_000_000_000);
    let limiter = MemoryRateLimiter::with_clock(Arc::new(clock.clone()));
    let quota = Quota::new(300, Duration::from_secs(60)).unwrap();
    let keys: Vec<String> = (0..1024)
        .map(|i| format!("global_ip:v4:10.0.{}.{}", i / 256, i % 256))
        .collect();
    let mut group = c.benchmark_group("ratelimit_memory");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    let mut now = 1_700_000_000_000u64;
    group.bench_function("hit_1024_keys", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            now += 1;
            black_box(limiter.hit_at(black_box(&keys[i]), quota, now).unwrap())
        });
    });
    group.bench_function("hit_one_hot_key_blocked", |b| {
        b.iter(|| {
            black_box(
                limiter
                    .hit_at(black_box("global_ip:v4:192.0.2.1"), quota, now)
                    .unwrap(),
            )
        });
    });
    group.bench_function("hit_via_trait_system_clock", |b| {
        let limiter = MemoryRateLimiter::new();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        b.iter(|| {
            i = (i + 1) & 1023;
            let mut fut = std::pin::pin!(limiter.hit(&keys[i], quota));
            match fut.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(d) => black_box(d.unwrap()),
                std::task::Poll::Pending => panic!("memory limiter is synchronous"),
            }
        });
    });
    group.finish();
}

fn redis(c: &mut Criterion) {
    let Ok(url) = std::env::var("REDIS_URL") else {
        eprintln!("REDIS_URL unset: skipping the Redis limiter bench (scripts/test sets it)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let conn = rt
        .block_on(breeze_core::ratelimit::RedisConnection::connect(
            &url,
            &prefix,
            Duration::from_secs(1),
        ))
        .unwrap();
    let limiter = breeze_core::ratelimit::RedisRateLimiter::new(conn);
    let quota = Quota::new(300, Duration::from_secs(60)).unwrap();
    let mut group = c.benchmark_group("ratelimit_redis");
    group.throughput(Throughput::Elements(1));
    let mut i = 0u32;
    group.bench_function("hit_sequential", |b| {
        b.iter(|| {
            i = (i + 1) % 1024;
            let key = format!("k{i}");
            black_box(rt.block_on(limiter.hit(&key, quota)).unwrap())
        });
    });
    group.finish();
}

use std::future::Future as _;

criterion_group!(benches, memory, redis);
criterion_main!(benches);
