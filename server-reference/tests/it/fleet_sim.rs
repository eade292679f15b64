//! `breeze-fleet-sim` against the real server on loopback: enrollment with a key, a held
//! fleet with heartbeats, a reconnect storm, and the report's figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::time::Duration;

use crate::common::TestServer;
use crate::common::agents::enrollment_key;
use breeze_agent_proto::{EnrollmentKey, EnrollmentSecret};
use breeze_fleet_sim::addrs::SourcePool;
use breeze_fleet_sim::creds::KeyRecord;
use breeze_fleet_sim::enroll::enroll;
use breeze_fleet_sim::run::{HeartbeatLane, Heartbeats, Options, Storm, run};
use breeze_fleet_sim::target::Target;

const SECRET: &str = "fleet-sim-test-secret-0123456789";

async fn setup() -> (TestServer, Vec<KeyRecord>) {
    // the simulator runs against the server as deployed: authentication cache on
    let server = TestServer::start_with_agent_auth_cache().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 100, 3600, Some(SECRET)).await;
    let keys = vec![KeyRecord {
        enrollment_key: EnrollmentKey::parse(&key.raw).unwrap(),
        enrollment_secret: EnrollmentSecret::parse(SECRET).unwrap(),
        org_id: *org.as_uuid(),
        site_id: *site.as_uuid(),
    }];
    (server, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_fleet_enrolls_holds_heartbeats_and_survives_a_storm() {
    let (server, keys) = setup().await;
    let target = Target::parse(&format!("http://{}", server.addr)).unwrap();
    let pool = SourcePool::new(8).unwrap();
    let enrolled = enroll(&target, &pool, &keys, 30, 8, false).await.unwrap();
    assert_eq!((enrolled.agents.len(), enrolled.failed), (30, 0));
    assert_eq!(enrolled.errors.hard(), 0, "{:?}", enrolled.errors);

    let report = run(Options {
        target,
        agents: enrolled.agents,
        source_addrs: 8,
        websockets: true,
        heartbeats: Some(Heartbeats {
            interval: Duration::from_secs(1),
            jitter_pct: 10,
            lane: HeartbeatLane::Http,
        }),
        ramp_rate: 200,
        ramp_timeout: Duration::from_secs(30),
        duration: Duration::from_secs(4),
        broadcast: None,
        storm: Some(Storm {
            at: Duration::from_secs(2),
            timeout: Duration::from_secs(30),
        }),
        // the server runs in this process
        server_pid: Some(std::process::id()),
        progress: false,
    })
    .await
    .unwrap();
    let text = report.render();
    let ramp = report.ramp.as_ref().unwrap();
    assert_eq!(ramp.connected, 30, "{text}");
    let ws = report.websockets.as_ref().unwrap();
    assert_eq!(ws.held_at_end, 30, "{text}");
    assert!(ws.connects >= 60, "{text}");
    let storm = report.storm.as_ref().unwrap();
    assert!(storm.all_back_within_s.is_some(), "{text}");
    assert_eq!(storm.errors.hard(), 0, "{text}");
    let hb = report.http_heartbeats.as_ref().unwrap();
    assert!(hb.count >= 30, "{text}");
    assert!(
        hb.latency.p99_ms > 0.0 && hb.latency.max_ms >= hb.latency.p99_ms,
        "{text}"
    );
    assert_eq!(report.errors.hard(), 0, "{text}");
    assert!(report.server.unwrap().rss_mib > 0.0, "{text}");
    assert!(text.contains("reconnect storm: 30 dropped"), "{text}");
}

#[tokio::test]
async fn a_wrong_secret_enrolls_nobody_and_says_why() {
    let (server, mut keys) = setup().await;
    keys[0].enrollment_secret = EnrollmentSecret::parse("not-the-secret-at-all-0000").unwrap();
    let target = Target::parse(&format!("http://{}", server.addr)).unwrap();
    let pool = SourcePool::new(2).unwrap();
    let enrolled = enroll(&target, &pool, &keys, 3, 2, false).await.unwrap();
    assert_eq!((enrolled.agents.len(), enrolled.failed), (0, 3));
    assert_eq!(
        enrolled.errors.by_kind.get("enroll_http_401"),
        Some(&3),
        "{:?}",
        enrolled.errors
    );
}
