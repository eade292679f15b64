//! Figures of the terminal relay (SPEC 12), printed, never asserted on time: keystroke to
//! echo through the real agent's PTY (p50/p99, browser and agent on the same replica and on
//! different replicas), the throughput of `cat`-ing 10 MiB through the relay, and the server
//! memory per live session. Ignored in the test run; `scripts/perf-remote` runs it on release
//! builds and docs/BENCHMARKS.md records the output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "benchmark code"
)]

use std::time::{Duration, Instant};

use breeze_authz::seeded::SeededRole;
use serde_json::json;

use crate::common::agents::{Ws, WsIn, ws_next, ws_send};
use crate::common::procs::{Proc, percentile};
use crate::common::remote::{
    fleet_user_token, host_of, new_session, new_ticket, real_fleet, viewer_connect,
};

async fn open(http: &reqwest::Client, base: &str, token: &str, device: uuid::Uuid) -> Ws {
    let session = new_session(http, base, token, device).await;
    let ticket = new_ticket(http, base, token, &session).await;
    let mut ws = viewer_connect(&host_of(base), &session, &ticket, None)
        .await
        .unwrap();
    // the prompt
    drain(&mut ws, Duration::from_millis(500)).await;
    ws
}

/// Reads output for `quiet` after the last frame; returns the bytes read.
async fn drain(ws: &mut Ws, quiet: Duration) -> usize {
    let mut n = 0;
    while let Ok(WsIn::Json(v)) = tokio::time::timeout(quiet, ws_next(ws)).await {
        n += v["data"].as_str().map_or(0, str::len);
    }
    n
}

/// The next output frame's data.
async fn next_output(ws: &mut Ws) -> String {
    loop {
        match ws_next(ws).await {
            WsIn::Json(v) if v["type"] == "output" => {
                return v["data"].as_str().unwrap_or_default().to_owned();
            }
            WsIn::Json(_) => {}
            other => panic!("terminal ended: {other:?}"),
        }
    }
}

async fn keystrokes(ws: &mut Ws, n: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let c = char::from(b'a' + u8::try_from(i % 26).unwrap()).to_string();
        let t = Instant::now();
        ws_send(ws, &json!({"type": "input", "data": c})).await;
        let echoed = next_output(ws).await;
        times.push(t.elapsed());
        assert!(echoed.contains(&c), "{echoed:?}");
        if i % 50 == 49 {
            // clear the line (Ctrl-U) and let its redraw pass
            ws_send(ws, &json!({"type": "input", "data": "\u{15}"})).await;
            drain(ws, Duration::from_millis(200)).await;
        }
        // stay under the 200 frames per minute input limit
        tokio::time::sleep(Duration::from_millis(310)).await;
    }
    times.sort();
    (percentile(&times, 50), percentile(&times, 99))
}

fn rss_kib(p: &Proc) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/perf-remote"]
async fn remote_relay_figures() {
    let f = real_fleet(&[("RUST_LOG", "warn")]).await;
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(fleet_user_token(&f, SeededRole::OrgTechnician).await);
    }
    let (base_a, base_b, device) = (&f.base_a, &f.base_b, f.device);
    let (server_a, server_b) = (&f.server_a, &f.server_b);
    let http = reqwest::Client::new();
    let n: usize = std::env::var("BENCH_KEYSTROKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);

    println!("remote relay figures ({n} keystrokes each; agent socket on replica B)");
    // warm-up: one session opened and closed, so allocator growth is not counted below
    let mut ws = open(&http, base_a, &tokens[0], device).await;
    ws_send(&mut ws, &json!({"type": "stop"})).await;
    drain(&mut ws, Duration::from_millis(300)).await;
    drop(ws);
    // memory: 10 idle live sessions (5 per user: the user cap), browsers on A
    let (a0, b0) = (rss_kib(server_a), rss_kib(server_b));
    let mut live = Vec::new();
    for token in &tokens {
        for _ in 0..5 {
            live.push(open(&http, base_a, token, device).await);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (a1, b1) = (rss_kib(server_a), rss_kib(server_b));
    println!(
        "  memory, 10 live idle sessions: replica A (browsers) {a0} -> {a1} KiB ({:+.1} KiB/session), replica B (agent) {b0} -> {b1} KiB ({:+.1} KiB/session)",
        (a1 as f64 - a0 as f64) / 10.0,
        (b1 as f64 - b0 as f64) / 10.0
    );
    drop(live);
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (label, base) in [
        ("same replica (B)", &base_b),
        ("across replicas (A)", &base_a),
    ] {
        let mut ws = open(&http, base, &tokens[0], device).await;
        let (p50, p99) = keystrokes(&mut ws, n).await;
        println!(
            "  keystroke -> echo, browser on {label}: p50 {:.2} ms, p99 {:.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        ws_send(&mut ws, &json!({"type": "stop"})).await;
        drain(&mut ws, Duration::from_millis(300)).await;
    }

    // throughput: 10 MiB of output through the relay to a browser on the other replica
    let mut ws = open(&http, base_a, &tokens[0], device).await;
    ws_send(
        &mut ws,
        &json!({"type": "input",
                "data": "head -c 10485760 /dev/zero | tr '\\0' x; echo; echo DO\"\"NE\n"}),
    )
    .await;
    let t = Instant::now();
    let mut bytes = 0usize;
    let mut tail = String::new();
    loop {
        let data = next_output(&mut ws).await;
        bytes += data.len();
        tail.push_str(&data);
        if tail.len() > 64 {
            tail = tail.split_off(tail.len() - 64);
        }
        if tail.contains("DONE") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(300), "no end of output");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  cat of 10 MiB, browser on A: {:.1} MiB in {secs:.2} s = {:.2} MiB/s",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / 1_048_576.0 / secs
    );
    ws_send(&mut ws, &json!({"type": "stop"})).await;
    drain(&mut ws, Duration::from_millis(500)).await;
    drop(ws);
    tokio::time::sleep(Duration::from_secs(1)).await;
}
