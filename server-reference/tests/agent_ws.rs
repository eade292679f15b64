//! The agent WebSocket over real loopback sockets on real PostgreSQL: authentication before
//! the upgrade, command push and results, strict frames, one socket per agent (4002),
//! quarantine (4001) and decommission (4040) closes, probe suspension, and delivery across
//! two server replicas sharing one database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use breeze_authz::seeded::SeededRole;
use common::agents::{
    Enrolled, WsIn, agent_post, audit_rows, beat, enroll_ok, enrollment_key, mfa_token, same_db,
    verify_all_chains, ws_connect, ws_json, ws_next, ws_send,
};
use common::{Fixtures, TestServer, test_settings};
use serde_json::{Value, json};

struct World {
    server: TestServer,
    fx: Fixtures,
    partner: breeze_core::tenancy::PartnerId,
    org: breeze_core::tenancy::OrgId,
    agent: Enrolled,
}

async fn world() -> World {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 10, 3600, None).await;
    let agent = enroll_ok(&server, &key, "ws-host").await;
    World {
        server,
        fx,
        partner,
        org,
        agent,
    }
}

async fn connected(w: &World) -> common::agents::Ws {
    let mut ws = ws_connect(&w.server, &w.agent.agent_id, &w.agent.token)
        .await
        .unwrap();
    let hello = ws_json(&mut ws).await;
    assert_eq!(hello["type"], "connected");
    assert_eq!(hello["agentId"], w.agent.agent_id);
    ws
}

/// The next frame that is not a server ping.
async fn next_non_ping(ws: &mut common::agents::Ws) -> WsIn {
    loop {
        match ws_next(ws).await {
            WsIn::Json(v) if v["type"] == "ping" => {}
            other => return other,
        }
    }
}

async fn queue_script(server: &TestServer, token: &str, device: uuid::Uuid) -> String {
    let res = server
        .http
        .post(server.url(&format!("/api/v1/devices/{device}/commands")))
        .bearer_auth(token)
        .json(&json!({"type": "run_script", "payload": {"content": "id", "language": "bash"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn tech_token(w: &World) -> String {
    let tech =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgTechnician, None)
            .await;
    mfa_token(&w.server, &w.fx, &tech).await
}

#[tokio::test]
async fn authentication_happens_before_the_upgrade() {
    let w = world().await;
    assert_eq!(
        ws_connect(
            &w.server,
            &w.agent.agent_id,
            &format!("brz_{}", "0".repeat(64))
        )
        .await
        .err(),
        Some(401)
    );
    // the watchdog token is not a WebSocket credential
    assert_eq!(
        ws_connect(&w.server, &w.agent.agent_id, &w.agent.watchdog)
            .await
            .err(),
        Some(401)
    );
    // an offboarding tenant keeps HTTP agent routes but not the socket
    w.fx.set_org_status(w.org, "offboarding").await;
    assert_eq!(
        ws_connect(&w.server, &w.agent.agent_id, &w.agent.token)
            .await
            .err(),
        Some(403)
    );
    let (s, _, _) = agent_post(
        &w.server,
        &format!("/api/v1/agents/{}/heartbeat", w.agent.agent_id),
        &w.agent.token,
        &beat(),
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn commands_are_pushed_and_results_acknowledged() {
    let w = world().await;
    let mut ws = connected(&w).await;
    let token = tech_token(&w).await;
    let id = queue_script(&w.server, &token, w.agent.device_id).await;
    let WsIn::Json(cmd) = next_non_ping(&mut ws).await else {
        panic!("expected the command")
    };
    assert_eq!(cmd["id"], id);
    assert_eq!(cmd["type"], "run_script");
    ws_send(
        &mut ws,
        &json!({"type": "command_result", "commandId": id, "status": "completed",
                "exitCode": 3, "stderr": "boom"}),
    )
    .await;
    let WsIn::Json(ack) = next_non_ping(&mut ws).await else {
        panic!("expected an ack")
    };
    assert_eq!(ack, json!({"type": "ack", "commandId": id}));
    // a heartbeat frame gets its ack
    ws_send(
        &mut ws,
        &json!({"type": "heartbeat", "status": "ok", "agentVersion": "1.0.0"}),
    )
    .await;
    let WsIn::Json(hb) = next_non_ping(&mut ws).await else {
        panic!("expected heartbeat_ack")
    };
    assert_eq!(hb["type"], "heartbeat_ack");
    // an invalid frame: INVALID_MESSAGE with the echoed type, the socket stays open
    ws_send(&mut ws, &json!({"type": "shell_exec", "cmd": "id"})).await;
    let WsIn::Json(err) = next_non_ping(&mut ws).await else {
        panic!("expected an error frame")
    };
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "INVALID_MESSAGE");
    assert_eq!(err["receivedType"], "shell_exec");
    ws_send(&mut ws, &json!({"type": "pong", "timestamp": 1})).await;

    let results = audit_rows(&w.fx, "device.command.result").await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].2["exitCode"], 3);
    assert_eq!(results[0].2["stderr"], "boom");
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn a_newer_socket_supersedes_the_older_with_4002() {
    let w = world().await;
    let mut first = connected(&w).await;
    let _second = connected(&w).await;
    assert!(matches!(next_non_ping(&mut first).await, WsIn::Close(4002)));
}

#[tokio::test]
async fn quarantine_closes_with_4001_and_decommission_with_4040() {
    let w = world().await;
    let mut ws = connected(&w).await;
    w.fx.exec(
        "UPDATE devices SET status = 'quarantined' WHERE id = $1",
        &[w.agent.device_id],
    )
    .await;
    assert!(matches!(next_non_ping(&mut ws).await, WsIn::Close(4001)));
    assert_eq!(
        ws_connect(&w.server, &w.agent.agent_id, &w.agent.token)
            .await
            .err(),
        Some(403)
    );
    w.fx.exec(
        "UPDATE devices SET status = 'online' WHERE id = $1",
        &[w.agent.device_id],
    )
    .await;
    let mut ws = connected(&w).await;
    w.fx.exec(
        "UPDATE devices SET status = 'decommissioned' WHERE id = $1",
        &[w.agent.device_id],
    )
    .await;
    assert!(matches!(next_non_ping(&mut ws).await, WsIn::Close(4040)));
}

#[tokio::test]
async fn five_probes_suspend_the_agent() {
    let w = world().await;
    // another agent of another organization with a command of its own
    let org2 = w.fx.org(w.partner).await;
    let site2 = w.fx.site(org2).await;
    let key2 = enrollment_key(&w.server, &w.fx, org2, site2, 10, 3600, None).await;
    let victim = enroll_ok(&w.server, &key2, "victim").await;
    let tech2 =
        w.fx.org_user(w.partner, org2, SeededRole::OrgTechnician, None)
            .await;
    let token2 = mfa_token(&w.server, &w.fx, &tech2).await;
    let victim_cmd = queue_script(&w.server, &token2, victim.device_id).await;

    let mut ws = connected(&w).await;
    let forged = json!({"type": "command_result", "commandId": victim_cmd,
                        "status": "completed", "exitCode": 0, "stdout": "pwned"});
    for _ in 0..4 {
        ws_send(&mut ws, &forged).await;
        let WsIn::Json(err) = next_non_ping(&mut ws).await else {
            panic!("expected an error frame")
        };
        assert_eq!(err["code"], "PROCESSING_ERROR");
    }
    ws_send(&mut ws, &forged).await;
    assert!(matches!(next_non_ping(&mut ws).await, WsIn::Close(4001)));

    // suspended durably: HTTP and WebSocket refused, the victim's command untouched
    let (s, _, b) = agent_post(
        &w.server,
        &format!("/api/v1/agents/{}/heartbeat", w.agent.agent_id),
        &w.agent.token,
        &beat(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("token_suspended")));
    assert_eq!(
        ws_connect(&w.server, &w.agent.agent_id, &w.agent.token)
            .await
            .err(),
        Some(403)
    );
    let res = w
        .server
        .http
        .get(w.server.url(&format!(
            "/api/v1/devices/{}/commands/{victim_cmd}",
            victim.device_id
        )))
        .bearer_auth(&token2)
        .send()
        .await
        .unwrap();
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["status"], "pending");
    assert!(view["stdout"].is_null());
    let rows = audit_rows(&w.fx, "agent.token.suspended").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, w.org.to_string());
    assert_eq!(rows[0].2["reason"], "cross_tenant_probe");
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn a_command_queued_on_one_replica_reaches_a_socket_on_another() {
    let a = world().await;
    let b = TestServer::start_on(same_db(&a.server.db), test_settings(&a.server.db)).await;
    let mut ws = ws_connect(&b, &a.agent.agent_id, &a.agent.token)
        .await
        .unwrap();
    assert_eq!(ws_json(&mut ws).await["type"], "connected");
    let token = tech_token(&a).await;
    let id = queue_script(&a.server, &token, a.agent.device_id).await;
    let WsIn::Json(cmd) = next_non_ping(&mut ws).await else {
        panic!("expected the command")
    };
    assert_eq!(cmd["id"], id);
    // and a newer socket on replica A supersedes the one on B
    let _on_a = connected(&a).await;
    assert!(matches!(next_non_ping(&mut ws).await, WsIn::Close(4002)));
}

#[tokio::test]
async fn a_socket_that_never_pongs_is_closed_with_4008() {
    let w = world().await;
    let mut ws = connected(&w).await;
    // the first ping comes after 30 s; without a pong the socket closes 40 s later
    let WsIn::Json(ping) = ws_next(&mut ws).await else {
        panic!("expected a ping")
    };
    assert_eq!(ping["type"], "ping");
    assert!(ping["timestamp"].is_u64());
    // (a second ping may come first, at 60 s)
    assert!(matches!(next_non_ping(&mut ws).await, WsIn::Close(4008)));
}

#[tokio::test]
async fn a_socket_that_pongs_stays_open() {
    let w = world().await;
    let mut ws = connected(&w).await;
    for _ in 0..2 {
        let WsIn::Json(ping) = ws_next(&mut ws).await else {
            panic!("expected a ping")
        };
        assert_eq!(ping["type"], "ping");
        ws_send(
            &mut ws,
            &json!({"type": "pong", "timestamp": ping["timestamp"]}),
        )
        .await;
    }
    // still usable after 60 s: a heartbeat frame is answered
    ws_send(
        &mut ws,
        &json!({"type": "heartbeat", "status": "ok", "agentVersion": "1.0.0"}),
    )
    .await;
    let WsIn::Json(ack) = next_non_ping(&mut ws).await else {
        panic!("expected heartbeat_ack")
    };
    assert_eq!(ack["type"], "heartbeat_ack");
}
