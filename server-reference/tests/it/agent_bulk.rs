//! `POST /api/v1/commands/bulk` over real HTTP on real PostgreSQL: all or nothing, tenant
//! bounds, validation, one audit entry per organization, and delivery to connected agents.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common::agents::{
    Enrolled, KeyFixture, audit_rows, enroll_ok, enrollment_key, mfa_token, owner_exec,
    verify_all_chains, ws_connect, ws_json,
};
use crate::common::{Fixtures, TestServer, system_context};
use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};
use uuid::Uuid;

async fn bulk(server: &TestServer, token: &str, body: &Value) -> (u16, Value) {
    let res = server
        .http
        .post(server.url("/api/v1/commands/bulk"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn queued(fx: &Fixtures) -> i64 {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query_scalar("SELECT count(*) FROM device_commands")
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

struct World {
    server: TestServer,
    fx: Fixtures,
    partner: breeze_core::tenancy::PartnerId,
    org: breeze_core::tenancy::OrgId,
    key: KeyFixture,
}

async fn world() -> World {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 20, 3600, None).await;
    World {
        server,
        fx,
        partner,
        org,
        key,
    }
}

fn ids(agents: &[&Enrolled]) -> Vec<String> {
    agents.iter().map(|a| a.device_id.to_string()).collect()
}

#[tokio::test]
async fn bulk_is_all_or_nothing_within_the_callers_reach() {
    let w = world().await;
    let a = enroll_ok(&w.server, &w.key, "bulk-a").await;
    let b = enroll_ok(&w.server, &w.key, "bulk-b").await;
    let c = enroll_ok(&w.server, &w.key, "bulk-c").await;
    let tech =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgTechnician, None)
            .await;
    let token = mfa_token(&w.server, &w.fx, &tech).await;
    let viewer =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgViewer, None)
            .await;
    let viewer_token = w.server.token_for(&w.fx, &viewer).await;
    let body = |devices: Vec<String>| json!({"deviceIds": devices, "type": "collect_inventory", "payload": {}});

    // refusals change nothing
    let (s, _) = bulk(&w.server, &viewer_token, &body(ids(&[&a]))).await;
    assert_eq!(s, 403);
    let (s, e) = bulk(&w.server, &token, &body(vec![])).await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = bulk(&w.server, &token, &body(ids(&[&a, &b, &a]))).await;
    assert_eq!(s, 400);
    assert!(e.to_string().contains("deviceIds.2"), "{e}");
    let many: Vec<String> = (0..10_001).map(|_| Uuid::new_v4().to_string()).collect();
    let (s, _) = bulk(&w.server, &token, &body(many)).await;
    assert_eq!(s, 400);
    let (s, _) = bulk(
        &w.server,
        &token,
        &json!({"deviceIds": ids(&[&a]), "type": "shell_exec"}),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = bulk(
        &w.server,
        &token,
        &json!({"deviceIds": ids(&[&a]), "type": "run_script", "payload": {"content": 7}}),
    )
    .await;
    assert_eq!(s, 400);
    // one unknown device among known ones: 404, nothing queued
    let mut with_unknown = ids(&[&a, &b]);
    with_unknown.push(Uuid::new_v4().to_string());
    let (s, _) = bulk(&w.server, &token, &body(with_unknown)).await;
    assert_eq!(s, 404);
    // another organization's technician: 404 for our device, nothing queued
    let org2 = w.fx.org(w.partner).await;
    let outsider =
        w.fx.org_user(w.partner, org2, SeededRole::OrgTechnician, None)
            .await;
    let outsider_token = mfa_token(&w.server, &w.fx, &outsider).await;
    let (s, e) = bulk(&w.server, &outsider_token, &body(ids(&[&a]))).await;
    assert_eq!(s, 404);
    assert!(!e.to_string().contains(&a.device_id.to_string()));
    // a quarantined device in the list: 409, nothing queued
    owner_exec(
        &w.fx,
        "UPDATE devices SET status = 'quarantined' WHERE id = $1",
        c.device_id,
    )
    .await;
    let (s, e) = bulk(&w.server, &token, &body(ids(&[&a, &c]))).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (409, Some("device_not_commandable")),
        "{e}"
    );
    assert_eq!(queued(&w.fx).await, 0);
    assert!(
        audit_rows(&w.fx, "device.command.bulk_execute")
            .await
            .is_empty()
    );

    // the good request: one command per device, one batch, one audit entry
    let (s, v) = bulk(&w.server, &token, &body(ids(&[&a, &b]))).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["count"], 2);
    let batch: Uuid = v["batchId"].as_str().unwrap().parse().unwrap();
    let commands = v["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[0]["deviceId"], a.device_id.to_string());
    let mut tx = w.fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let in_batch: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM device_commands WHERE batch_id = $1 AND status = 'pending'
            AND type = 'collect_inventory'",
    )
    .bind(batch)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    assert_eq!(in_batch, 2);
    let rows = audit_rows(&w.fx, "device.command.bulk_execute").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].2["deviceCount"], 2);
    assert_eq!(rows[0].2["type"], "collect_inventory");
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn connected_agents_get_a_bulk_command_pushed() {
    let w = world().await;
    let a = enroll_ok(&w.server, &w.key, "push-a").await;
    let b = enroll_ok(&w.server, &w.key, "push-b").await;
    let tech =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgTechnician, None)
            .await;
    let token = mfa_token(&w.server, &w.fx, &tech).await;
    let mut sockets = Vec::new();
    for agent in [&a, &b] {
        let mut ws = ws_connect(&w.server, &agent.agent_id, &agent.token)
            .await
            .unwrap();
        assert_eq!(ws_json(&mut ws).await["type"], "connected");
        sockets.push(ws);
    }
    let (s, v) = bulk(
        &w.server,
        &token,
        &json!({"deviceIds": ids(&[&a, &b]), "type": "list_processes", "payload": {}}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    for (ws, cmd) in sockets.iter_mut().zip(v["commands"].as_array().unwrap()) {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                let f = ws_json(ws).await;
                if f["type"] == "list_processes" {
                    return f;
                }
            }
        })
        .await
        .expect("the command was not pushed within 5 s");
        assert_eq!(frame["id"], cmd["id"]);
    }
}
