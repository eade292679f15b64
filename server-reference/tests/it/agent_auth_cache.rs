//! The agents' authentication cache (SPEC 11) never outlives a revocation made elsewhere:
//! a change written straight to PostgreSQL, as another replica would, reaches this
//! server's cache through the notification triggers within moments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::time::{Duration, Instant};

use crate::common::TestServer;
use crate::common::agents::{Enrolled, agent_post, beat, enroll_ok, enrollment_key, owner_exec};

async fn heartbeat(server: &TestServer, a: &Enrolled) -> (u16, serde_json::Value) {
    let (s, _, v) = agent_post(
        server,
        &format!("/api/v1/agents/{}/heartbeat", a.agent_id),
        &a.token,
        &beat(),
    )
    .await;
    (s, v)
}

/// Heartbeats until the answer is `want` (the notification is asynchronous), at most 5 s.
async fn until(server: &TestServer, a: &Enrolled, want: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (s, v) = heartbeat(server, a).await;
        if s == want {
            return v;
        }
        assert!(Instant::now() < deadline, "still {s} after 5 s: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn revocations_written_elsewhere_reach_the_cache() {
    let server = TestServer::start_with_agent_auth_cache().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 10, 3600, None).await;
    let a = enroll_ok(&server, &key, "cache-a").await;
    let b = enroll_ok(&server, &key, "cache-b").await;

    // warm: the rows are cached once the invalidation listener is up
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.state.agent_cache.is_live() {
        assert_eq!(heartbeat(&server, &a).await.0, 200);
        assert!(
            Instant::now() < deadline,
            "the cache listener never came up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the first heartbeat turns a device online, which notifies and drops its entry; the
    // next one caches it for good
    for _ in 0..2 {
        assert_eq!(heartbeat(&server, &a).await.0, 200);
        assert_eq!(heartbeat(&server, &b).await.0, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(heartbeat(&server, &a).await.0, 200);
    assert_eq!(heartbeat(&server, &b).await.0, 200);
    assert!(
        server.state.agent_cache.len() >= 2,
        "{}",
        server.state.agent_cache.len()
    );

    // suspension by another replica
    owner_exec(
        &fx,
        "UPDATE device_credentials SET suspended = true, suspended_at = now() WHERE device_id = $1",
        a.device_id,
    )
    .await;
    let v = until(&server, &a, 403).await;
    assert_eq!(v["code"], "token_suspended", "{v}");

    // quarantine by another replica
    owner_exec(
        &fx,
        "UPDATE devices SET status = 'quarantined' WHERE id = $1",
        b.device_id,
    )
    .await;
    until(&server, &b, 403).await;

    // a suspended organization: its agents are refused too
    let c = enroll_ok(&server, &key, "cache-c").await;
    assert_eq!(heartbeat(&server, &c).await.0, 200);
    owner_exec(
        &fx,
        "UPDATE organizations SET status = 'suspended' WHERE id = $1",
        *org.as_uuid(),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (s, _) = heartbeat(&server, &c).await;
        if s != 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a suspended organization's agent is still accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn finding_10_a_row_read_before_a_revocation_is_not_cached_after_its_notification() {
    let server = TestServer::start_with_agent_auth_cache().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 10, 3600, None).await;
    let a = enroll_ok(&server, &key, "race").await;
    let cache = &server.state.agent_cache;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.get(&a.agent_id).is_none() {
        assert_eq!(heartbeat(&server, &a).await.0, 200);
        assert!(Instant::now() < deadline, "never cached");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // the interleaving of `load_row` against a revoking commit on another replica: take
    // the ticket and read the row (here: the same row, still unsuspended) ...
    let ticket = cache.ticket();
    let stale = cache.get(&a.agent_id).unwrap();
    assert!(!stale.suspended);
    // ... the revocation commits and its notification is handled ...
    owner_exec(
        &fx,
        "UPDATE device_credentials SET suspended = true, suspended_at = now() WHERE device_id = $1",
        a.device_id,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.get(&a.agent_id).is_some() {
        assert!(Instant::now() < deadline, "the notification never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... and only then is the row read before it put
    assert!(!cache.put(ticket, &a.agent_id, stale));
    assert!(cache.get(&a.agent_id).is_none(), "the stale row was cached");
    let (s, v) = heartbeat(&server, &a).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (403, Some("token_suspended")),
        "{v}"
    );
}

#[tokio::test]
async fn finding_06_a_partner_suspended_elsewhere_reaches_the_cache() {
    let server = TestServer::start_with_agent_auth_cache().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 10, 3600, None).await;
    let a = enroll_ok(&server, &key, "cache-partner").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.state.agent_cache.is_live() {
        assert_eq!(heartbeat(&server, &a).await.0, 200);
        assert!(
            Instant::now() < deadline,
            "the cache listener never came up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..2 {
        assert_eq!(heartbeat(&server, &a).await.0, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(heartbeat(&server, &a).await.0, 200);
    assert!(!server.state.agent_cache.is_empty(), "the row is cached");

    // the partner is suspended by another replica: no organization row changes, yet the
    // cached row must go (the partner trigger notifies)
    owner_exec(
        &fx,
        "UPDATE partners SET status = 'suspended' WHERE id = $1",
        *partner.as_uuid(),
    )
    .await;
    let v = until(&server, &a, 403).await;
    assert_eq!(v["code"], "tenant_inactive", "{v}");

    // back to active, then deleted
    owner_exec(
        &fx,
        "UPDATE partners SET status = 'active' WHERE id = $1",
        *partner.as_uuid(),
    )
    .await;
    until(&server, &a, 200).await;
    for _ in 0..2 {
        assert_eq!(heartbeat(&server, &a).await.0, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    owner_exec(
        &fx,
        "UPDATE partners SET deleted_at = now() WHERE id = $1",
        *partner.as_uuid(),
    )
    .await;
    let v = until(&server, &a, 403).await;
    assert_eq!(v["code"], "tenant_inactive", "{v}");
}

#[tokio::test]
async fn reads_waiting_together_share_one_statement_and_each_gets_its_own_row() {
    let server = TestServer::start_with_agent_auth_cache().await;
    let fx = server.fixtures().await;
    let mut enrolled = Vec::new();
    for tenant in ["alpha", "bravo"] {
        let partner = fx.partner().await;
        let org = fx.org(partner).await;
        let site = fx.site(org).await;
        let key = enrollment_key(&server, &fx, org, site, 10, 3600, None).await;
        for i in 0..3 {
            let a = enroll_ok(&server, &key, &format!("{tenant}-{i}")).await;
            enrolled.push((a, org));
        }
    }
    let unknown = "ab".repeat(32);
    // queued on this (current-thread) runtime before the loader's worker runs, so they are
    // read together; every id twice
    let mut set = tokio::task::JoinSet::new();
    for id in enrolled
        .iter()
        .map(|(a, _)| a.agent_id.clone())
        .chain([unknown.clone()])
        .flat_map(|id| [id.clone(), id])
    {
        let loader = server.state.agent_rows.clone();
        set.spawn(async move {
            let row = loader.load(&id).await.unwrap();
            (id, row)
        });
    }
    let mut answered = 0;
    while let Some(done) = set.join_next().await {
        let (id, row) = done.unwrap();
        answered += 1;
        if id == unknown {
            assert!(row.is_none(), "an unknown agent id got a row");
            continue;
        }
        let (a, org) = enrolled.iter().find(|(a, _)| a.agent_id == id).unwrap();
        let row = row.unwrap();
        assert_eq!(*row.device_id.as_uuid(), a.device_id);
        assert_eq!(row.org_id, *org);
        assert!(row.has_credentials && !row.suspended);
    }
    assert_eq!(answered, 2 * (enrolled.len() + 1));
    // and each agent authenticates with the row it was given
    for (a, _) in &enrolled {
        assert_eq!(heartbeat(&server, a).await.0, 200);
    }
}
