//! MCP figures (ignored; `scripts/perf-mcp` runs them on release builds): the round trip of
//! a read tool through the whole path (key and creator checks, session, call limits, risk
//! decision, the read, the `ai.tool.called` audit entry) sequentially (p50 / p99), and calls
//! per second with several clients at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "benchmark code"
)]

use std::time::Instant;

use breeze_authz::seeded::SeededRole;
use serde_json::json;
use uuid::Uuid;

use crate::common::TestServer;
use crate::common::agents::mfa_token;
use crate::common::mcp::{Raw, ai_key};
use crate::common::procs::{env_usize, percentile, server_binary, server_process_with};

#[tokio::test]
#[ignore = "benchmark: scripts/perf-mcp"]
async fn read_tool_round_trip_and_calls_per_second() {
    server_binary();
    let n = env_usize("BENCH_CALLS", 2000);
    let clients = env_usize("BENCH_CLIENTS", 8);
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let mut devices = Vec::new();
    for _ in 0..20 {
        devices.push(fx.device(org, site).await);
    }
    let admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let token = mfa_token(&harness, &fx, &admin).await;
    let tmp = std::env::temp_dir().join(format!("breeze-mcpb-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (server, base) = server_process_with(
        &harness.db,
        &tmp,
        "server",
        &[
            ("BREEZE_MCP_CALLS_PER_MIN_KEY", "100000"),
            ("BREEZE_MCP_CALLS_PER_MIN_ORG", "1000000"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let key = ai_key(&http, &base, &token, *org.as_uuid(), &["ai:read"]).await;
    // the keys' own hourly limit (default 1,000) is not what is measured
    let unlimited = "UPDATE api_keys SET rate_limit_per_hour = 1000000 WHERE org_id = $1";
    fx.exec(unlimited, &[*org.as_uuid()]).await;
    let mut c = Raw::new(&http, &base, &key);
    assert_eq!(c.initialize().await.status, 200);

    // warm up, then sequential round trips of get_device
    for d in devices.iter().take(50) {
        assert_eq!(
            c.call("get_device", json!({"deviceId": d})).await.status,
            200
        );
    }
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let d = devices[i % devices.len()];
        let t = Instant::now();
        let a = c.call("get_device", json!({"deviceId": d})).await;
        times.push(t.elapsed());
        assert_eq!(a.body["result"]["isError"], false, "{:?}", a.body);
    }
    times.sort();
    println!(
        "mcp get_device round trip, 1 client, {n} calls: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&times, 50).as_secs_f64() * 1e3,
        percentile(&times, 99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );

    // several clients at once (5 sessions per key: one key per five clients)
    let mut sessions = Vec::new();
    for i in 0..clients {
        if i % 5 == 0 {
            c = Raw::new(
                &http,
                &base,
                &ai_key(&http, &base, &token, *org.as_uuid(), &["ai:read"]).await,
            );
        }
        let mut s = c.clone();
        assert_eq!(s.initialize().await.status, 200);
        sessions.push(s);
    }
    fx.exec(unlimited, &[*org.as_uuid()]).await;
    let per = n / clients;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (k, s) in sessions.into_iter().enumerate() {
        let devices = devices.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(per);
            for i in 0..per {
                let d = devices[(i + k) % devices.len()];
                let t = Instant::now();
                let a = s.call("get_device", json!({"deviceId": d})).await;
                times.push(t.elapsed());
                assert_eq!(a.body["result"]["isError"], false, "{:?}", a.body);
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "mcp get_device, {clients} clients, {} calls: {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms",
        all.len(),
        all.len() as f64 / secs,
        percentile(&all, 50).as_secs_f64() * 1e3,
        percentile(&all, 99).as_secs_f64() * 1e3,
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}
