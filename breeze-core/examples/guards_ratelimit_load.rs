//! Load program for the rate limiters: decisions per second and latency percentiles.
//!
//! ```text
//! cargo run --release -p breeze-core --example guards_ratelimit_load -- [seconds] [tasks]
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --release -p breeze-core --example guards_ratelimit_load
//! ```
//! The in-memory part runs on one thread (one core); the Redis part, when `REDIS_URL` is
//! set, runs `tasks` concurrent callers over one multiplexed connection on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    missing_docs,
    reason = "example code"
)]

use std::time::{Duration, Instant};

use breeze_core::ratelimit::{
    MemoryRateLimiter, Quota, RateLimitBackend, RedisConnection, RedisRateLimiter,
};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Nanoseconds this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`), so the
/// figure stays meaningful when other builds share the machine.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn memory(seconds: u64, distinct: usize) {
    let limiter = MemoryRateLimiter::new();
    let quota = Quota::new(300, Duration::from_secs(60)).unwrap();
    let keys: Vec<String> = (0..distinct)
        .map(|i| {
            format!(
                "global_ip:v4:10.{}.{}.{}",
                i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect();
    let start = Instant::now();
    let cpu_start = thread_cpu_ns();
    let deadline = start + Duration::from_secs(seconds);
    let mut n: u64 = 0;
    let mut allowed: u64 = 0;
    let mut now_ms = 1_700_000_000_000u64;
    while Instant::now() < deadline {
        for _ in 0..10_000 {
            let key = &keys[(n % distinct as u64) as usize];
            n += 1;
            now_ms += 1;
            if limiter.hit_at(key, quota, now_ms).unwrap().is_allowed() {
                allowed += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "memory  (1 thread, {distinct} keys, 300/min): {n} decisions in {secs:.2} s wall = {:.0} decisions/s ({allowed} allowed)",
        n as f64 / secs
    );
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
        let cpu = (b - a) as f64 / 1e9;
        println!(
            "memory  on-CPU time {cpu:.2} s = {:.0} decisions/s per core ({:.0} ns each)",
            n as f64 / cpu,
            cpu * 1e9 / n as f64
        );
    }
}

async fn redis(url: &str, seconds: u64, tasks: usize) {
    let prefix = format!("load:{}:", uuid::Uuid::new_v4().simple());
    let conn = RedisConnection::connect(url, &prefix, Duration::from_secs(1))
        .await
        .unwrap();
    let limiter = RedisRateLimiter::new(conn);
    let quota = Quota::new(300, Duration::from_secs(60)).unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let limiter = limiter.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut i = 0u64;
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let key = format!("k{}", (t as u64 * 7919 + i) % 1024);
                i += 1;
                let s = Instant::now();
                if limiter.hit(&key, quota).await.is_err() {
                    errors += 1;
                }
                lat.push(s.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (lat, e) = h.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    println!(
        "redis   ({tasks} tasks, 1 connection, loopback): {} decisions in {secs:.2} s = {:.0} decisions/s, p50 {:?}, p99 {:?}, max {:?}, errors {errors}",
        all.len(),
        all.len() as f64 / secs,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default(),
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let tasks: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(32);
    for distinct in [1, 1_000, 10_000, 100_000] {
        memory(seconds, distinct);
    }
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(redis(&url, seconds, 1));
            rt.block_on(redis(&url, seconds, tasks));
        }
        Err(_) => println!("redis: REDIS_URL unset, skipped (scripts/test sets it)"),
    }
}
