//! Group commit of heartbeats over real HTTP and PostgreSQL: heartbeats of devices in two
//! partners' organizations, arriving together (and twice for every device), are recorded
//! in shared batches, and each device gets exactly its own commands, once, oldest first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use std::collections::{BTreeMap, HashSet};

use crate::common::agents::{Enrolled, agent_post, beat, enroll_ok, enrollment_key, mfa_token};
use crate::common::{TestServer, system_context};
use breeze_authz::access::AccessContext;
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{DeviceId, OrgId, SiteId};
use breeze_server::agents::beats::HeartbeatBatcher;
use breeze_server::store::agents::{
    BatchedBeat, HeartbeatFacts, heartbeat_batch_and_claim, record_first_sightings,
};
use serde_json::{Value, json};
use uuid::Uuid;

const DEVICES_PER_ORG: usize = 4;
const COMMANDS_PER_DEVICE: usize = 3;

struct Tenant {
    org: OrgId,
    site: SiteId,
    devices: Vec<Enrolled>,
}

async fn tenant(server: &TestServer, fx: &common::Fixtures, name: &str) -> Tenant {
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(server, fx, org, site, 100, 3600, None).await;
    let mut devices = Vec::new();
    for i in 0..DEVICES_PER_ORG {
        devices.push(enroll_ok(server, &key, &format!("{name}-{i}")).await);
    }
    // queue COMMANDS_PER_DEVICE scripts per device, one after the other
    let tech = fx
        .org_user(partner, org, SeededRole::OrgTechnician, None)
        .await;
    let token = mfa_token(server, fx, &tech).await;
    for d in &devices {
        for seq in 0..COMMANDS_PER_DEVICE {
            let body = json!({"type": "run_script", "payload": {
                "scriptId": "00000000-0000-4000-8000-000000000001",
                "content": format!("echo {}-{seq}", d.device_id),
                "language": "bash", "timeoutSeconds": 60}});
            let res = server
                .http
                .post(server.url(&format!("/api/v1/devices/{}/commands", d.device_id)))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
        }
    }
    Tenant { org, site, devices }
}

async fn rows(fx: &common::Fixtures, sql: &str) -> Vec<(Uuid, Uuid, String)> {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_heartbeats_of_two_tenants_each_get_their_own_commands_once() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let a = tenant(&server, &fx, "alpha").await;
    let b = tenant(&server, &fx, "bravo").await;

    // every device heartbeats twice at the same moment
    let (batches_before, beats_before) =
        breeze_server::ops::metrics::global().heartbeat_batch_counts();
    let mut set = tokio::task::JoinSet::new();
    for d in a.devices.iter().chain(&b.devices) {
        for _ in 0..2 {
            let http = server.http.clone();
            let url = server.url(&format!("/api/v1/agents/{}/heartbeat", d.agent_id));
            let (token, device) = (d.token.clone(), d.device_id);
            set.spawn(async move {
                let res = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&beat())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                (device, res.json::<Value>().await.unwrap())
            });
        }
    }
    let mut got: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    let mut seen_ids = HashSet::new();
    while let Some(done) = set.join_next().await {
        let (device, body) = done.unwrap();
        let contents: Vec<String> = body["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                assert!(
                    seen_ids.insert(c["id"].as_str().unwrap().to_owned()),
                    "twice: {c}"
                );
                c["payload"]["content"].as_str().unwrap().to_owned()
            })
            .collect();
        // one response carries a device's commands in the order they were queued
        let mut sorted = contents.clone();
        sorted.sort();
        assert_eq!(contents, sorted, "out of order for {device}");
        got.entry(device).or_default().extend(contents);
    }
    for d in a.devices.iter().chain(&b.devices) {
        let mut mine = got.remove(&d.device_id).unwrap_or_default();
        mine.sort();
        let want: Vec<String> = (0..COMMANDS_PER_DEVICE)
            .map(|seq| format!("echo {}-{seq}", d.device_id))
            .collect();
        assert_eq!(mine, want, "device {}", d.device_id);
    }
    assert!(got.is_empty());
    // all 16 heartbeats went through the batcher
    let (batches, beats) = breeze_server::ops::metrics::global().heartbeat_batch_counts();
    assert_eq!(beats - beats_before, 4 * DEVICES_PER_ORG as u64);
    assert!(batches > batches_before);

    // each heartbeat row sits in its device's own tenant; every device is online
    let beats = rows(
        &fx,
        "SELECT h.device_id, h.org_id, d.status FROM device_heartbeats h
           JOIN devices d ON d.id = h.device_id",
    )
    .await;
    assert_eq!(beats.len(), 2 * DEVICES_PER_ORG);
    for (device, org, status) in beats {
        let t = if a.devices.iter().any(|d| d.device_id == device) {
            &a
        } else {
            &b
        };
        assert_eq!(org, *t.org.as_uuid());
        assert_eq!(status, "online");
    }
    let sent = rows(
        &fx,
        "SELECT device_id, org_id, status FROM device_commands WHERE status <> 'sent'",
    )
    .await;
    assert!(sent.is_empty(), "{sent:?}");

    // a later heartbeat claims nothing more
    let d = &a.devices[0];
    let path = format!("/api/v1/agents/{}/heartbeat", d.agent_id);
    let (s, _, hb) = agent_post(&server, &path, &d.token, &beat()).await;
    assert_eq!(s, 200);
    assert!(hb["commands"].as_array().unwrap().is_empty());
}

async fn count(fx: &common::Fixtures, sql: &str, device: Uuid) -> i64 {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(device)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_batch_writes_nothing_for_a_mismatched_pair_or_outside_its_context() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let a = tenant(&server, &fx, "alpha").await;
    let b = tenant(&server, &fx, "bravo").await;
    let victim = &a.devices[0];
    let beat_as = |org: OrgId, site: SiteId| BatchedBeat {
        device: DeviceId::from_uuid(victim.device_id),
        org,
        site,
        facts: HeartbeatFacts {
            health: "ok",
            agent_version: "9.9.9".into(),
            metrics: None,
            uptime_seconds: None,
            last_user: None,
            pending_reboot: None,
        },
        first_ip: None,
    };
    let narrowed = |org: OrgId, site: SiteId| {
        AccessContext::system_within("test", time::OffsetDateTime::now_utc(), [org], [site])
            .unwrap()
            .0
    };
    let attempts = [
        // A's device presented as B's, in B's context
        (narrowed(b.org, b.site), beat_as(b.org, b.site)),
        // A's device as A's, in a context that reaches only B
        (narrowed(b.org, b.site), beat_as(a.org, a.site)),
        // A's device presented as B's, in a context reaching both
        (
            AccessContext::system_within(
                "test",
                time::OffsetDateTime::now_utc(),
                [a.org, b.org],
                [a.site, b.site],
            )
            .unwrap()
            .0,
            beat_as(b.org, b.site),
        ),
    ];
    for (ctx, beat) in attempts {
        let mut tx = server.state.store.begin(&ctx).await.unwrap();
        let claimed = heartbeat_batch_and_claim(&mut tx, &[beat], 10).await;
        // refused or empty, never a claim
        if let Ok(claimed) = claimed {
            assert!(claimed.is_empty(), "{claimed:?}");
            tx.commit().await.unwrap();
        }
    }
    let sql_beats = "SELECT count(*) FROM device_heartbeats WHERE device_id = $1";
    let sql_pending =
        "SELECT count(*) FROM device_commands WHERE device_id = $1 AND status = 'pending'";
    let sql_online = "SELECT count(*) FROM devices WHERE id = $1 AND last_seen_at IS NOT NULL AND status = 'online'";
    assert_eq!(count(&fx, sql_beats, victim.device_id).await, 0);
    assert_eq!(
        count(&fx, sql_pending, victim.device_id).await,
        i64::try_from(COMMANDS_PER_DEVICE).unwrap()
    );
    let online_before = count(&fx, sql_online, victim.device_id).await;

    // the right pair in its own context: recorded, commands claimed
    let mut tx = server
        .state
        .store
        .begin(&narrowed(a.org, a.site))
        .await
        .unwrap();
    let claimed = heartbeat_batch_and_claim(&mut tx, &[beat_as(a.org, a.site)], 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), COMMANDS_PER_DEVICE);
    assert_eq!(count(&fx, sql_beats, victim.device_id).await, 1);
    assert_eq!(count(&fx, sql_pending, victim.device_id).await, 0);
    assert_eq!(count(&fx, sql_online, victim.device_id).await, 1);
    assert_eq!(
        online_before, 0,
        "enrolled devices start without a heartbeat"
    );
}

#[tokio::test]
async fn first_sightings_are_written_only_for_the_right_pair_in_its_context() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let a = tenant(&server, &fx, "alpha").await;
    let b = tenant(&server, &fx, "bravo").await;
    let victim = &a.devices[0];
    let other = &b.devices[0];
    let sighting = |device: Uuid, org: OrgId, site: SiteId, ip: &str| BatchedBeat {
        device: DeviceId::from_uuid(device),
        org,
        site,
        facts: ok_facts(),
        first_ip: Some(ip.to_owned()),
    };
    let within = |orgs: &[OrgId], sites: &[SiteId]| {
        AccessContext::system_within(
            "test",
            time::OffsetDateTime::now_utc(),
            orgs.iter().copied(),
            sites.iter().copied(),
        )
        .unwrap()
        .0
    };
    let sql_history =
        "SELECT count(*) FROM agent_ip_history WHERE device_id = $1 AND ip = '10.9.9.9'";
    let sql_last =
        "SELECT count(*) FROM device_credentials WHERE device_id = $1 AND last_ip = '10.9.9.9'";
    let attempts = [
        // A's device presented as B's, in B's context
        (
            within(&[b.org], &[b.site]),
            sighting(victim.device_id, b.org, b.site, "10.9.9.9"),
        ),
        // A's device as A's, in a context that reaches only B
        (
            within(&[b.org], &[b.site]),
            sighting(victim.device_id, a.org, a.site, "10.9.9.9"),
        ),
        // A's device presented as B's, in a context reaching both
        (
            within(&[a.org, b.org], &[a.site, b.site]),
            sighting(victim.device_id, b.org, b.site, "10.9.9.9"),
        ),
    ];
    for (ctx, beat) in attempts {
        let mut tx = server.state.store.begin(&ctx).await.unwrap();
        // refused or a no-op, never a write
        if record_first_sightings(&mut tx, &[beat]).await.is_ok() {
            tx.commit().await.unwrap();
        }
    }
    assert_eq!(count(&fx, sql_history, victim.device_id).await, 0);
    assert_eq!(count(&fx, sql_last, victim.device_id).await, 0);

    // an address that is not an IP fails the whole statement: nothing of the batch written
    let both = within(&[a.org, b.org], &[a.site, b.site]);
    let mut tx = server.state.store.begin(&both).await.unwrap();
    let bad = [
        sighting(victim.device_id, a.org, a.site, "10.9.9.9"),
        sighting(other.device_id, b.org, b.site, "not-an-ip"),
    ];
    assert!(record_first_sightings(&mut tx, &bad).await.is_err());
    drop(tx);
    assert_eq!(count(&fx, sql_history, victim.device_id).await, 0);

    // the right pairs of two tenants in one batch, in a context reaching exactly them:
    // each device's history row and last_ip; a beat without a sighting writes none
    let mut tx = server.state.store.begin(&both).await.unwrap();
    let mut quiet = sighting(a.devices[1].device_id, a.org, a.site, "10.9.9.9");
    quiet.first_ip = None;
    let batch = [
        sighting(victim.device_id, a.org, a.site, "10.9.9.9"),
        sighting(other.device_id, b.org, b.site, "10.9.9.9"),
        quiet,
    ];
    record_first_sightings(&mut tx, &batch).await.unwrap();
    tx.commit().await.unwrap();
    for device in [victim.device_id, other.device_id] {
        assert_eq!(count(&fx, sql_history, device).await, 1);
        assert_eq!(count(&fx, sql_last, device).await, 1);
    }
    assert_eq!(count(&fx, sql_history, a.devices[1].device_id).await, 0);
    assert_eq!(count(&fx, sql_last, a.devices[1].device_id).await, 0);
}

#[tokio::test]
async fn heartbeats_queued_together_share_one_transaction() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let a = tenant(&server, &fx, "alpha").await;
    let b = tenant(&server, &fx, "bravo").await;
    let batcher = HeartbeatBatcher::start(server.state.store.clone());
    let facts = HeartbeatFacts {
        health: "warning",
        agent_version: "2.0.0".into(),
        metrics: None,
        uptime_seconds: Some(5),
        last_user: None,
        pending_reboot: None,
    };
    let (batches_before, beats_before) =
        breeze_server::ops::metrics::global().heartbeat_batch_counts();
    // queued on this (current-thread) runtime before any worker runs
    let mut set = tokio::task::JoinSet::new();
    for (t, d) in a
        .devices
        .iter()
        .map(|d| (&a, d))
        .chain(b.devices.iter().map(|d| (&b, d)))
    {
        let (batcher, facts) = (batcher.clone(), facts.clone());
        let (device, org, site) = (DeviceId::from_uuid(d.device_id), t.org, t.site);
        set.spawn(async move { batcher.beat(device, org, site, facts).await.unwrap().len() });
    }
    let mut claimed = 0;
    while let Some(n) = set.join_next().await {
        claimed += n.unwrap();
    }
    assert_eq!(claimed, 2 * DEVICES_PER_ORG * COMMANDS_PER_DEVICE);
    let (batches, beats) = breeze_server::ops::metrics::global().heartbeat_batch_counts();
    let (batches, beats) = (batches - batches_before, beats - beats_before);
    assert_eq!(beats, 2 * DEVICES_PER_ORG as u64);
    assert!(batches < beats, "{batches} batches for {beats} heartbeats");
}

fn ok_facts() -> HeartbeatFacts {
    HeartbeatFacts {
        health: "ok",
        agent_version: "1.0.0".into(),
        metrics: None,
        uptime_seconds: None,
        last_user: None,
        pending_reboot: None,
    }
}

/// Queues one heartbeat per `(device, org, site)` on a fresh batcher before any worker
/// runs (one batch), and returns each device's outcome: the claimed command ids or the
/// error.
async fn beat_together(
    server: &TestServer,
    beats: Vec<(Uuid, OrgId, SiteId)>,
) -> BTreeMap<Uuid, Result<Vec<String>, String>> {
    let batcher = HeartbeatBatcher::start(server.state.store.clone());
    let mut set = tokio::task::JoinSet::new();
    for (device, org, site) in beats {
        let batcher = batcher.clone();
        set.spawn(async move {
            let got = batcher
                .beat(DeviceId::from_uuid(device), org, site, ok_facts())
                .await
                .map(|cmds| cmds.into_iter().map(|c| c.id.to_string()).collect())
                .map_err(|e| e.to_string());
            (device, got)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (device, got) = done.unwrap();
        out.insert(device, got);
    }
    out
}

async fn queue_script(server: &TestServer, token: &str, device: Uuid) -> String {
    let body = json!({"type": "run_script", "payload": {
        "scriptId": "00000000-0000-4000-8000-000000000001",
        "content": "echo after-move", "language": "bash", "timeoutSeconds": 60}});
    let res = server
        .http
        .post(server.url(&format!("/api/v1/devices/{device}/commands")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Finding 1 (issue 15): moving a device left its heartbeat row and pending commands in
/// the old site, so the moved device's next heartbeat raised 42501 inside the shared batch
/// and failed every other tenant's heartbeat with it.
#[tokio::test]
async fn finding_01_moved_device_heartbeats_with_other_tenants() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let a = tenant(&server, &fx, "alpha").await;
    let b = tenant(&server, &fx, "bravo").await;
    let moved = &a.devices[0];
    // every device has a heartbeat row (and its first commands claimed)
    let first = beat_together(
        &server,
        a.devices
            .iter()
            .map(|d| (d.device_id, a.org, a.site))
            .chain(b.devices.iter().map(|d| (d.device_id, b.org, b.site)))
            .collect(),
    )
    .await;
    assert!(first.values().all(Result::is_ok), "{first:?}");

    // a command queued before the move and still pending moves with the device
    let partner: Uuid = {
        let mut tx = fx.pool().begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query_scalar("SELECT partner_id FROM organizations WHERE id = $1")
            .bind(a.org.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    let admin = fx
        .org_user(
            breeze_core::tenancy::PartnerId::from_uuid(partner),
            a.org,
            SeededRole::OrgAdmin,
            None,
        )
        .await;
    let token = mfa_token(&server, &fx, &admin).await;
    let before_move = queue_script(&server, &token, moved.device_id).await;
    let site2 = fx.site(a.org).await;
    let res = server
        .http
        .post(server.url(&format!("/api/v1/devices/{}/move", moved.device_id)))
        .bearer_auth(&token)
        .json(&json!({"siteId": site2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after_move = queue_script(&server, &token, moved.device_id).await;

    // the moved device (now in site2) beats together with another partner's devices: the
    // batch context reaches site2 and B's site, not the old site
    let got = beat_together(
        &server,
        std::iter::once((moved.device_id, a.org, site2))
            .chain(b.devices.iter().map(|d| (d.device_id, b.org, b.site)))
            .collect(),
    )
    .await;
    assert!(got.values().all(Result::is_ok), "{got:?}");
    let mut mine = got[&moved.device_id].clone().unwrap();
    mine.sort();
    let mut want = vec![before_move, after_move];
    want.sort();
    assert_eq!(mine, want);

    // the heartbeat row and every unfinished command sit in the new site
    let misplaced = count(
        &fx,
        "SELECT (SELECT count(*) FROM device_heartbeats h JOIN devices d ON d.id = h.device_id
                  WHERE h.device_id = $1 AND h.site_id <> d.site_id)
              + (SELECT count(*) FROM device_commands c JOIN devices d ON d.id = c.device_id
                  WHERE c.device_id = $1 AND c.site_id <> d.site_id
                    AND c.status IN ('pending', 'sent'))",
        moved.device_id,
    )
    .await;
    assert_eq!(misplaced, 0);
    // the move is audited with what moved along
    let moves = common::agents::audit_rows(&fx, "device.move").await;
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].2["heartbeatMoved"], json!(true));
    assert_eq!(moves[0].2["commandsMoved"], json!(4), "3 sent, 1 pending");
}

/// Finding 1 (issue 15): a row the batch context cannot update (here a heartbeat left in
/// another site, as the old move did) fails only its own device's heartbeat, never the
/// other tenants' in the same batch; migration 0700 repairs such rows.
#[tokio::test]
async fn finding_01_a_poisoned_row_fails_only_its_own_heartbeat() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let a = tenant(&server, &fx, "alpha").await;
    let b = tenant(&server, &fx, "bravo").await;
    let all = |a: &Tenant, b: &Tenant| -> Vec<(Uuid, OrgId, SiteId)> {
        a.devices
            .iter()
            .map(|d| (d.device_id, a.org, a.site))
            .chain(b.devices.iter().map(|d| (d.device_id, b.org, b.site)))
            .collect()
    };
    let first = beat_together(&server, all(&a, &b)).await;
    assert!(first.values().all(Result::is_ok), "{first:?}");
    // poison: the heartbeat row and a pending command of one device in another site
    let poisoned = a.devices[0].device_id;
    let elsewhere = fx.site(a.org).await;
    fx.exec(
        "UPDATE device_heartbeats SET site_id = $2 WHERE device_id = $1",
        &[poisoned, *elsewhere.as_uuid()],
    )
    .await;
    fx.exec(
        "INSERT INTO device_commands (id, org_id, site_id, device_id, type, payload)
         SELECT gen_random_uuid(), org_id, $2, id, 'run_script', 'x' FROM devices WHERE id = $1",
        &[poisoned, *elsewhere.as_uuid()],
    )
    .await;

    let got = beat_together(&server, all(&a, &b)).await;
    for (device, outcome) in &got {
        if *device == poisoned {
            assert!(outcome.is_err(), "{outcome:?}");
        } else {
            assert_eq!(outcome, &Ok(Vec::new()), "{device}");
        }
    }

    // the repair migration puts the rows back in the device's site
    let repair = include_str!("../../migrations/0700_device_site_repair.sql");
    let mut conn = fx.pool().acquire().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("BEGIN; {repair} COMMIT;")))
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let got = beat_together(&server, all(&a, &b)).await;
    assert!(got.values().all(Result::is_ok), "{got:?}");
    assert_eq!(got[&poisoned].as_ref().unwrap().len(), 1, "{got:?}");
}
