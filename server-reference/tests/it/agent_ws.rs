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

use crate::common;
use crate::common::agents::{
    Enrolled, WsIn, agent_post, audit_rows, beat, enroll_ok, enrollment_key, mfa_token, same_db,
    verify_all_chains, ws_connect, ws_json, ws_next, ws_send,
};
use crate::common::{Fixtures, TestServer, test_settings};
use breeze_authz::seeded::SeededRole;
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

// ------------------------------------------------------------------ issue 15 findings

/// The close code the socket receives within `secs` (server pings and other frames are
/// skipped); `None` when it is still open then.
async fn close_within(ws: &mut common::agents::Ws, secs: u64) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, ws_next(ws)).await {
            Err(_) => return None,
            Ok(WsIn::Close(code)) => return Some(code),
            Ok(WsIn::Ended) => return Some(0),
            Ok(WsIn::Json(_)) => {}
        }
    }
}

async fn world_on(server: TestServer) -> World {
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

async fn suspended_in_db(w: &World) -> bool {
    let mut tx = w.fx.pool().begin().await.unwrap();
    common::system_context(&mut tx).await;
    sqlx::query_scalar("SELECT suspended FROM device_credentials WHERE device_id = $1")
        .bind(w.agent.device_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn finding_02_org_suspension_offboarding_and_deletion_close_the_socket_with_4001() {
    let w = world().await;
    let org = *w.org.as_uuid();
    for (change, restore) in [
        (
            "UPDATE organizations SET status = 'suspended' WHERE id = $1",
            "UPDATE organizations SET status = 'active' WHERE id = $1",
        ),
        (
            "UPDATE organizations SET status = 'offboarding' WHERE id = $1",
            "UPDATE organizations SET status = 'active' WHERE id = $1",
        ),
        (
            "UPDATE organizations SET deleted_at = now() WHERE id = $1",
            "UPDATE organizations SET deleted_at = NULL WHERE id = $1",
        ),
    ] {
        let mut ws = connected(&w).await;
        w.fx.exec(change, &[org]).await;
        assert_eq!(close_within(&mut ws, 5).await, Some(4001), "{change}");
        w.fx.exec(restore, &[org]).await;
    }
}

#[tokio::test]
async fn finding_02_partner_suspension_and_deletion_close_the_socket_with_4001() {
    let w = world().await;
    let partner = *w.partner.as_uuid();
    for (change, restore) in [
        (
            "UPDATE partners SET status = 'suspended' WHERE id = $1",
            "UPDATE partners SET status = 'active' WHERE id = $1",
        ),
        (
            "UPDATE partners SET deleted_at = now() WHERE id = $1",
            "UPDATE partners SET deleted_at = NULL WHERE id = $1",
        ),
    ] {
        let mut ws = connected(&w).await;
        w.fx.exec(change, &[partner]).await;
        assert_eq!(close_within(&mut ws, 5).await, Some(4001), "{change}");
        w.fx.exec(restore, &[partner]).await;
    }
}

#[tokio::test]
async fn finding_02_a_moved_device_socket_closes_with_4040_and_reconnects_in_its_new_place() {
    let w = world().await;
    let site2 = w.fx.site(w.org).await;
    let mut ws = connected(&w).await;
    w.fx.exec(
        "UPDATE devices SET site_id = $1 WHERE id = $2",
        &[*site2.as_uuid(), w.agent.device_id],
    )
    .await;
    assert_eq!(close_within(&mut ws, 5).await, Some(4040));
    // the agent reconnects and is served in its new place
    let mut ws = connected(&w).await;
    assert_eq!(close_within(&mut ws, 2).await, None);
}

#[tokio::test]
async fn finding_02_a_missed_notification_is_caught_within_one_ping_tick() {
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_AGENT_WS_PING_SECS".into(), "2".into()));
    })
    .await;
    let w = world_on(server).await;
    // changes that send no notification at all (as a lost one would look)
    w.fx.exec(
        "ALTER TABLE organizations DISABLE TRIGGER organizations_notify",
        &[],
    )
    .await;
    w.fx.exec(
        "ALTER TABLE devices DISABLE TRIGGER devices_placement_notify",
        &[],
    )
    .await;

    let site2 = w.fx.site(w.org).await;
    let mut ws = connected(&w).await;
    w.fx.exec(
        "UPDATE devices SET site_id = $1 WHERE id = $2",
        &[*site2.as_uuid(), w.agent.device_id],
    )
    .await;
    // one tick is 2 s; allow the tick plus scheduling slack
    assert_eq!(close_within(&mut ws, 4).await, Some(4040));

    let mut ws = connected(&w).await;
    w.fx.set_org_status(w.org, "suspended").await;
    assert_eq!(close_within(&mut ws, 4).await, Some(4001));
}

#[tokio::test]
async fn finding_04_websocket_frames_are_charged_to_the_per_agent_and_per_org_limits() {
    let w = world().await;
    // another organization of the same partner, whose agent must stay unaffected
    let org2 = w.fx.org(w.partner).await;
    let site2 = w.fx.site(org2).await;
    let key2 = enrollment_key(&w.server, &w.fx, org2, site2, 10, 3600, None).await;
    let other = enroll_ok(&w.server, &key2, "other-tenant").await;

    // per agent: 120 / min shared by HTTP and the socket
    let mut ws = connected(&w).await;
    let frame = json!({"type": "heartbeat", "status": "ok", "agentVersion": "1.0.0"});
    let (mut acks, mut refused) = (0, 0);
    for _ in 0..130 {
        ws_send(&mut ws, &frame).await;
        match next_non_ping(&mut ws).await {
            WsIn::Json(v) if v["type"] == "heartbeat_ack" => acks += 1,
            WsIn::Json(v) if v["type"] == "error" => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(acks <= 120, "{acks} heartbeat frames accepted");
    assert!(refused >= 10, "{refused} refused");
    let (s, _, _) = agent_post(
        &w.server,
        &format!("/api/v1/agents/{}/heartbeat", w.agent.agent_id),
        &w.agent.token,
        &beat(),
    )
    .await;
    assert_eq!(
        s, 429,
        "the flooding agent's own HTTP limit is the same one"
    );
    let (s, _, _) = agent_post(
        &w.server,
        &format!("/api/v1/agents/{}/heartbeat", other.agent_id),
        &other.token,
        &beat(),
    )
    .await;
    assert_eq!(s, 200, "another tenant is not affected");

    // per organization: the other agents of org2 used up its budget
    let mut ws2 = ws_connect(&w.server, &other.agent_id, &other.token)
        .await
        .unwrap();
    assert_eq!(ws_json(&mut ws2).await["type"], "connected");
    let mut filled = 0;
    while w
        .server
        .state
        .limiter
        .agent_per_org(org2, 1, breeze_core::ratelimit::AgentRequestClass::General)
        .await
        .is_allowed()
    {
        filled += 1;
        assert!(filled < 100_000);
    }
    ws_send(&mut ws2, &frame).await;
    let WsIn::Json(v) = next_non_ping(&mut ws2).await else {
        panic!("expected an answer")
    };
    assert_eq!(v["type"], "error", "{v}");
}

/// A TCP proxy to the test Redis that can be cut, to make the shared limiter unreachable.
struct CuttableProxy {
    url: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl CuttableProxy {
    async fn start() -> Self {
        let redis = common::redis_url();
        let target = redis
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}/", listener.local_addr().unwrap());
        let tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            std::sync::Arc::default();
        let inner = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { url, tasks }
    }

    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

fn desktop_frame(session: &str) -> Vec<u8> {
    let mut bytes = vec![0x02];
    bytes.extend_from_slice(session.as_bytes());
    bytes.extend_from_slice(b"pixels");
    bytes
}

async fn ws_send_binary(ws: &mut common::agents::Ws, bytes: Vec<u8>) {
    use futures::SinkExt as _;
    ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        bytes.into(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn finding_09_a_probe_while_the_limiter_is_down_closes_without_suspending() {
    let proxy = CuttableProxy::start().await;
    let url = proxy.url.clone();
    let server = TestServer::start_with(move |s| s.push(("REDIS_URL".into(), url))).await;
    let w = world_on(server).await;
    let mut ws = connected(&w).await;
    proxy.cut();
    ws_send_binary(&mut ws, desktop_frame(&uuid::Uuid::new_v4().to_string())).await;
    let code = close_within(&mut ws, 10).await;
    assert_eq!(code, Some(1013), "closed, try again later");
    assert!(!suspended_in_db(&w).await, "suspended without a count");
    assert!(audit_rows(&w.fx, "agent.token.suspended").await.is_empty());
}

#[tokio::test]
async fn a_live_remote_session_of_the_device_is_owned_on_a_new_socket() {
    let w = world().await;
    let _token = tech_token(&w).await;
    let session = uuid::Uuid::new_v4();
    // a session of this device started before the agent reconnected (SPEC 12)
    w.fx.exec(
        "INSERT INTO remote_sessions (id, org_id, site_id, device_id, user_id, type, cols, rows,
                                      connect_by, status, lease_owner, lease_until)
         SELECT $1, d.org_id, d.site_id, d.id, (SELECT id FROM users LIMIT 1), 'terminal',
                80, 24, now() + interval '5 minutes', 'connected', gen_random_uuid(),
                now() + interval '5 minutes'
           FROM devices d WHERE d.id = $2",
        &[session, w.agent.device_id],
    )
    .await;
    let session = session.to_string();

    // a socket opened afterwards (a reconnect) relays the session's output
    let mut ws = connected(&w).await;
    for _ in 0..6 {
        ws_send(
            &mut ws,
            &json!({"type": "terminal_output", "sessionId": session, "data": "$ "}),
        )
        .await;
        ws_send_binary(&mut ws, desktop_frame(&session)).await;
    }
    ws_send(
        &mut ws,
        &json!({"type": "heartbeat", "status": "ok", "agentVersion": "1.0.0"}),
    )
    .await;
    let WsIn::Json(v) = next_non_ping(&mut ws).await else {
        panic!("the socket was closed")
    };
    assert_eq!(v["type"], "heartbeat_ack", "{v}");
    assert!(!suspended_in_db(&w).await);
}

#[tokio::test]
async fn finding_18_small_frame_types_are_capped_before_parsing() {
    let w = world().await;
    let mut ws = connected(&w).await;
    // 200 KiB: a pong (64 KiB cap) that is not even JSON past its type is refused by size
    let text = format!(r#"{{"type":"pong","pad":"{}"#, "a".repeat(200 * 1024));
    {
        use futures::SinkExt as _;
        ws.send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
            .await
            .unwrap();
    }
    let WsIn::Json(err) = next_non_ping(&mut ws).await else {
        panic!("expected an error frame")
    };
    assert_eq!(err["code"], "INVALID_MESSAGE", "{err}");
    assert_eq!(err["issues"][0]["code"], "too_long", "{err}");
    // an unknown type gets the small cap too
    let big = json!({"type": "shell_exec", "pad": "b".repeat(200 * 1024)});
    ws_send(&mut ws, &big).await;
    let WsIn::Json(err) = next_non_ping(&mut ws).await else {
        panic!("expected an error frame")
    };
    assert_eq!(err["issues"][0]["code"], "too_long", "{err}");
    // a large command result keeps the large cap, wherever its type member is
    let token = tech_token(&w).await;
    let id = queue_script(&w.server, &token, w.agent.device_id).await;
    let WsIn::Json(cmd) = next_non_ping(&mut ws).await else {
        panic!("expected the command")
    };
    assert_eq!(cmd["id"], id);
    ws_send(
        &mut ws,
        &json!({"type": "command_result", "commandId": id, "status": "completed",
                "exitCode": 0, "stdout": "c".repeat(1024 * 1024)}),
    )
    .await;
    let WsIn::Json(ack) = next_non_ping(&mut ws).await else {
        panic!("expected an ack")
    };
    assert_eq!(ack, json!({"type": "ack", "commandId": id}));
}
