//! `breeze-fleet-sim` against the real server on loopback: enrollment with a key, a held
//! fleet with heartbeats, a reconnect storm, and the report's figures; the same with agents
//! bound to device keys (SPEC 17), whose every request and upgrade the server verifies.
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
use breeze_fleet_sim::enroll::{Plan, enroll, enroll_with};
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
    // bearer tokens only, and the report says so
    assert!(!report.keys_bound && report.signing_agents == 0, "{text}");
    assert!(text.contains("device keys: not bound"), "{text}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_fleet_signs_every_request_and_upgrade_the_server_checks() {
    use breeze_fleet_sim::http_agent::{
        agent_post, agent_url, bearer, ensure_crypto_provider, heartbeat_body,
    };

    let (server, keys) = setup().await;
    let target = Target::parse(&format!("http://{}", server.addr)).unwrap();
    let pool = SourcePool::new(4).unwrap();
    let plan = Plan {
        count: 10,
        concurrency: 4,
        bind_keys: true,
        progress: false,
    };
    let enrolled = enroll_with(&target, &pool, &keys, plan).await.unwrap();
    assert_eq!((enrolled.agents.len(), enrolled.failed), (10, 0));
    assert!(enrolled.keys_bound);
    assert!(enrolled.agents.iter().all(|a| a.signing_key.is_some()));

    // the server holds them to their keys: bearer alone is refused, and a signed request
    // is good once (its nonce is spent)
    let agent = enrolled.agents[0].clone();
    ensure_crypto_provider();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let path = format!("/api/v1/agents/{}/heartbeat", agent.agent_id.as_str());
    let url = agent_url(&target, &path).unwrap();
    let unsigned = breeze_fleet_sim::creds::AgentRecord {
        signing_key: None,
        ..agent.clone()
    };
    let resp = agent_post(&client, &url, &unsigned, &bearer(&agent), heartbeat_body(0))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.text().await.unwrap().contains("signature_required"));
    let signed = agent_post(&client, &url, &agent, &bearer(&agent), heartbeat_body(0))
        .unwrap()
        .build()
        .unwrap();
    let replay = signed.try_clone().unwrap();
    assert_eq!(client.execute(signed).await.unwrap().status().as_u16(), 200);
    assert_eq!(client.execute(replay).await.unwrap().status().as_u16(), 401);

    // a held, heartbeating fleet through a storm: every upgrade (reconnects included) and
    // every heartbeat signed afresh, none refused
    let report = run(Options {
        target,
        agents: enrolled.agents,
        source_addrs: 4,
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
        server_pid: None,
        progress: false,
    })
    .await
    .unwrap();
    let text = report.render();
    assert!(report.keys_bound && report.signing_agents == 10, "{text}");
    assert!(text.contains("device keys: bound (10 agents"), "{text}");
    assert_eq!(report.ramp.as_ref().unwrap().connected, 10, "{text}");
    assert_eq!(report.ramp.as_ref().unwrap().errors.hard(), 0, "{text}");
    let ws = report.websockets.as_ref().unwrap();
    assert_eq!(ws.held_at_end, 10, "{text}");
    assert!(ws.connects >= 20, "{text}");
    let storm = report.storm.as_ref().unwrap();
    assert!(storm.all_back_within_s.is_some(), "{text}");
    assert_eq!(storm.errors.hard(), 0, "{text}");
    assert!(
        report.http_heartbeats.as_ref().unwrap().count >= 10,
        "{text}"
    );
    assert_eq!(report.errors.hard(), 0, "{text}");
}

/// The scale run's tools against the real server and database: seeded history continues an
/// organization's real chain from its stored head and the server verifies it; the probe
/// times pages as an organization user and refuses to report an error as a latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_audit_history_continues_the_chain_verifies_and_probes_time_it() {
    use breeze_core::audit::AuditResult;
    use breeze_fleet_sim::audit_seed::{SeedPlan, parse_starts, write_copy};
    use breeze_fleet_sim::probe::{self, Credential};
    use breeze_server::store::audit as store_audit;
    use secrecy::SecretString;

    use crate::common::audit::{custom_role, days_ago, event, org_user_with_role, system_ctx};

    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let other = fx.org(partner).await;
    // two real entries first: the seeded ones must continue after them
    for rid in ["d1", "d2"] {
        let mut tx = server.state.store.begin(&system_ctx()).await.unwrap();
        store_audit::append(
            &mut tx,
            Some(org),
            event(
                "device.delete",
                "device",
                rid,
                AuditResult::Success,
                days_ago(0),
            ),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let su = server.db.superuser_pool().await;
    let start: String = sqlx::query_scalar(
        "SELECT chain_key || ' ' || next_seq || ' ' || head_hash FROM audit_chain_heads
          WHERE chain_key = $1",
    )
    .bind(org.to_string())
    .fetch_one(&su)
    .await
    .unwrap();
    let starts = parse_starts(&format!("{start}\n{other}\n")).unwrap();
    assert_eq!(starts[0].next_seq, 2);
    let mut copy = Vec::new();
    let summary = write_copy(
        &SeedPlan::new(starts, 300, 50, days_ago(0).unix_micros() / 1_000_000).unwrap(),
        &mut copy,
    )
    .unwrap();
    assert_eq!((summary.rows, summary.largest_chain_len), (300, 150));

    // loaded as scripts/perf-scale loads it: triggers off for this superuser session only
    let mut conn = su.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut sink = conn
        .copy_in_raw("COPY audit_log (chain_key, seq, org_id, entry) FROM STDIN")
        .await
        .unwrap();
    sink.send(copy).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 300);
    sqlx::query(
        "INSERT INTO audit_chain_heads (chain_key, next_seq, head_hash)
         SELECT DISTINCT ON (chain_key) chain_key, seq + 1, chain_hash FROM audit_log
          WHERE chain_key <> 'system' ORDER BY chain_key, seq DESC
         ON CONFLICT (chain_key) DO UPDATE
            SET next_seq = EXCLUDED.next_seq, head_hash = EXCLUDED.head_hash",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);

    let reader_role = custom_role(&fx, partner, &["audit:read"]).await;
    let reader = org_user_with_role(&fx, partner, org, reader_role).await;
    let token = server.token_for(&fx, &reader).await;
    let res = server
        .http
        .get(server.url(&format!("/api/v1/audit/verify?orgId={org}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["chains"][0]["entries"], 152, "{body}");

    let target = Target::parse(&format!("http://{}", server.addr)).unwrap();
    let clients = probe::clients(4).unwrap();
    let bearer = Credential::Bearer(SecretString::from(format!("Bearer {token}")));
    let specs = probe::parse_probes(&format!(
        "first /api/v1/audit?limit=5\nrandom /api/v1/audit?limit=5&cursor={org}:{{n:140}}\n"
    ))
    .unwrap();
    let results = probe::run(&clients, &target, &bearer, &specs, 1, 6)
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.latency.count, 6, "{r:?}");
        assert_eq!(r.items, Some(5), "{r:?}");
    }
    // another organization's chain is a 404 for this user: a failed probe, not a figure
    let foreign = probe::parse_probes(&format!("foreign /api/v1/audit?orgId={other}\n")).unwrap();
    let err = probe::run(&clients, &target, &bearer, &foreign, 0, 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("status 404"), "{err}");
}
