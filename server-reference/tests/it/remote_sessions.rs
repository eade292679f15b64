//! Remote sessions on one in-process server over loopback (SPEC 12): the relay, tickets,
//! isolation, caps, limits and re-checks, file operations. The agent side is a WebSocket
//! client speaking the agent protocol (so every frame the server sends the agent can be
//! asserted); `remote_e2e.rs` runs the real `breeze-agent` with a real PTY across two
//! `breeze-server` processes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::time::Duration;

use base64::Engine as _;
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgId, PartnerId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::agents::{
    Enrolled, Ws, WsIn, audit_rows, enroll_ok, enrollment_key, mfa_token, verify_all_chains,
    ws_connect, ws_json, ws_next, ws_send,
};
use crate::common::remote::{
    create_session, host_of, new_session, new_ticket, ticket, viewer_connect,
};
use crate::common::{Fixtures, TestServer};

struct World {
    server: TestServer,
    fx: Fixtures,
    partner: PartnerId,
    org: OrgId,
    agent: Enrolled,
    /// The technician who opens sessions.
    tech: String,
    tech_id: Uuid,
}

async fn world_with(extra: &[(&str, &str)]) -> World {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let server = TestServer::start_with(move |s| {
        s.push(("BREEZE_REMOTE_PING_SECS".into(), "1".into()));
        s.extend(extra);
    })
    .await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 10, 3600, None).await;
    let agent = enroll_ok(&server, &key, "remote-host").await;
    let user = fx
        .org_user(partner, org, SeededRole::OrgTechnician, None)
        .await;
    let tech = mfa_token(&server, &fx, &user).await;
    World {
        server,
        fx,
        partner,
        org,
        agent,
        tech,
        tech_id: *user.id.as_uuid(),
    }
}

async fn world() -> World {
    world_with(&[]).await
}

/// The agent's socket (after `connected`).
async fn agent_socket(w: &World) -> Ws {
    let mut ws = ws_connect(&w.server, &w.agent.agent_id, &w.agent.token)
        .await
        .unwrap();
    assert_eq!(ws_json(&mut ws).await["type"], "connected");
    ws
}

/// The next frame of `type` on a socket (pings and others skipped), or the close code.
async fn next_of(ws: &mut Ws, kind: &str) -> Result<Value, u16> {
    loop {
        match ws_next(ws).await {
            WsIn::Json(v) if v["type"] == kind => return Ok(v),
            WsIn::Json(_) => {}
            WsIn::Close(code) => return Err(code),
            WsIn::Ended => return Err(0),
        }
    }
}

/// The close code of a socket within `secs` (frames skipped).
async fn closed_within(ws: &mut Ws, secs: u64) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, ws_next(ws)).await {
            Err(_) => return None,
            Ok(WsIn::Close(code)) => return Some(code),
            Ok(WsIn::Ended) => return Some(0),
            Ok(WsIn::Json(_)) => {}
        }
    }
}

/// A session opened by the technician with its browser socket connected; the agent has
/// received `terminal_start`.
async fn live_session(w: &World, agent: &mut Ws) -> (String, Ws) {
    let base = &w.server.base;
    let session = new_session(&w.server.http, base, &w.tech, w.agent.device_id).await;
    let t = new_ticket(&w.server.http, base, &w.tech, &session).await;
    let viewer = viewer_connect(&host_of(base), &session, &t, None)
        .await
        .unwrap();
    let start = next_of(agent, "terminal_start").await.unwrap();
    assert_eq!(start["sessionId"], session.as_str());
    assert_eq!(
        (start["cols"].as_u64(), start["rows"].as_u64()),
        (Some(100), Some(30))
    );
    (session, viewer)
}

async fn session_row(w: &World, session: &str) -> (String, Option<String>) {
    let mut tx = w.fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    sqlx::query_as("SELECT status, end_reason FROM remote_sessions WHERE id = $1::uuid")
        .bind(session)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

async fn ticket_rejections(w: &World) -> Vec<String> {
    audit_rows(&w.fx, "remote.ticket.rejected")
        .await
        .into_iter()
        .map(|(_, _, details)| details["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_relay_carries_input_output_resize_and_exit_and_the_recording_replays() {
    let w = world().await;
    let mut agent = agent_socket(&w).await;
    let (session, mut viewer) = live_session(&w, &mut agent).await;

    ws_send(
        &mut viewer,
        &json!({"type": "input", "data": "echo $((6*7))\r"}),
    )
    .await;
    let input = next_of(&mut agent, "terminal_input").await.unwrap();
    assert_eq!(input["data"], "echo $((6*7))\r");
    assert_eq!(input["sessionId"], session.as_str());
    ws_send(
        &mut agent,
        &json!({"type": "terminal_output", "sessionId": session, "data": "42\r\n"}),
    )
    .await;
    let out = next_of(&mut viewer, "output").await.unwrap();
    assert_eq!(out["data"], "42\r\n");
    // binary-safe output travels as base64
    let raw = base64::engine::general_purpose::STANDARD.encode([0xff_u8, 0xfe, b'x']);
    ws_send(
        &mut agent,
        &json!({"type": "terminal_output", "sessionId": session, "data": raw, "encoding": "base64"}),
    )
    .await;
    let out = next_of(&mut viewer, "output").await.unwrap();
    assert_eq!(
        (out["data"].as_str(), out["encoding"].as_str()),
        (Some(raw.as_str()), Some("base64"))
    );

    ws_send(
        &mut viewer,
        &json!({"type": "resize", "cols": 132, "rows": 40}),
    )
    .await;
    let resize = next_of(&mut agent, "terminal_resize").await.unwrap();
    assert_eq!(
        (resize["cols"].as_u64(), resize["rows"].as_u64()),
        (Some(132), Some(40))
    );

    ws_send(
        &mut agent,
        &json!({"type": "terminal_exit", "sessionId": session, "code": 0}),
    )
    .await;
    assert_eq!(next_of(&mut viewer, "exit").await.unwrap()["code"], 0);
    assert_eq!(closed_within(&mut viewer, 10).await, Some(1000));
    // late frames of the agent's own ended session are dropped, never counted as probes
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..6 {
        ws_send(
            &mut agent,
            &json!({"type": "terminal_output", "sessionId": session, "data": "late"}),
        )
        .await;
        ws_send(
            &mut agent,
            &json!({"type": "terminal_exit", "sessionId": session, "code": 0}),
        )
        .await;
    }
    ws_send(
        &mut agent,
        &json!({"type": "heartbeat", "status": "ok", "agentVersion": "1.0.0"}),
    )
    .await;
    next_of(&mut agent, "heartbeat_ack").await.unwrap();
    assert!(audit_rows(&w.fx, "agent.token.suspended").await.is_empty());

    // the end is sealed in the chain with the recording's digest, and replay verifies it
    let mut ended = Vec::new();
    for _ in 0..50 {
        ended = audit_rows(&w.fx, "remote.session.ended").await;
        if !ended.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ended.len(), 1);
    let details = &ended[0].2;
    assert_eq!(details["reason"], "shell_exited");
    assert_eq!(details["bytesIn"], 14);
    assert_eq!(details["truncated"], false);
    let admin =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgAdmin, None)
            .await;
    let admin_token = mfa_token(&w.server, &w.fx, &admin).await;
    let res = w
        .server
        .http
        .get(
            w.server
                .url(&format!("/api/v1/remote-sessions/{session}/recording")),
        )
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-transcript-sha256"].to_str().unwrap(),
        details["transcriptSha256"].as_str().unwrap()
    );
    let cast = res.text().await.unwrap();
    assert!(cast.contains(r#""i","echo $((6*7))\r""#), "{cast}");
    assert!(cast.contains(r#""o","42\r\n""#), "{cast}");
    assert!(cast.contains(r#""r","132x40""#), "{cast}");
    // the technician has no audit:read: no replay
    let res = w
        .server
        .http
        .get(
            w.server
                .url(&format!("/api/v1/remote-sessions/{session}/recording")),
        )
        .bearer_auth(&w.tech)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(audit_rows(&w.fx, "remote.session.created").await.len(), 1);
    assert_eq!(audit_rows(&w.fx, "remote.session.connected").await.len(), 1);
    verify_all_chains(&w.server, &w.fx).await;

    // a tampered recording is refused: the digest no longer matches the sealed one
    w.fx.exec(
        "UPDATE remote_session_transcripts SET chunk = (SELECT chunk FROM remote_session_transcripts
            WHERE session_id = $1 ORDER BY seq LIMIT 1) || '' WHERE session_id = $1 AND seq = 0",
        &[session.parse().unwrap()],
    )
    .await;
    w.fx.exec(
        "UPDATE remote_sessions SET transcript_sha256 = repeat('0', 64) WHERE id = $1",
        &[session.parse().unwrap()],
    )
    .await;
    let res = w
        .server
        .http
        .get(
            w.server
                .url(&format!("/api/v1/remote-sessions/{session}/recording")),
        )
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn tickets_are_single_use_bound_and_every_refusal_is_audited() {
    let w = world().await;
    let _agent = agent_socket(&w).await;
    let (http, base) = (&w.server.http, &w.server.base);
    let host = host_of(base);

    // replay: the first use connects, the second is refused
    let s1 = new_session(http, base, &w.tech, w.agent.device_id).await;
    let t1 = new_ticket(http, base, &w.tech, &s1).await;
    let _v1 = viewer_connect(&host, &s1, &t1, None).await.unwrap();
    assert_eq!(viewer_connect(&host, &s1, &t1, None).await.err(), Some(401));

    // expired
    let s2 = new_session(http, base, &w.tech, w.agent.device_id).await;
    let t2 = new_ticket(http, base, &w.tech, &s2).await;
    w.fx.exec(
        "UPDATE remote_session_tickets SET expires_at = now() - interval '1 second'
          WHERE session_id = $1",
        &[s2.parse().unwrap()],
    )
    .await;
    assert_eq!(viewer_connect(&host, &s2, &t2, None).await.err(), Some(401));

    // another User-Agent than the one that asked for the ticket
    let s3 = new_session(http, base, &w.tech, w.agent.device_id).await;
    let t3 = new_ticket(http, base, &w.tech, &s3).await;
    assert_eq!(
        viewer_connect(&host, &s3, &t3, Some("evil-browser/1.0"))
            .await
            .err(),
        Some(401)
    );
    // consumed by the refused attempt: not usable afterwards either
    assert_eq!(viewer_connect(&host, &s3, &t3, None).await.err(), Some(401));

    // another IP: asked from 127.x.y.z, presented from 127.0.0.1
    let s4 = new_session(http, base, &w.tech, w.agent.device_id).await;
    let other_ip = crate::common::agents::client_from_random_loopback();
    let (status, body) = ticket(&other_ip, base, &w.tech, &s4).await;
    assert_eq!(status, 201, "{body}");
    let t4 = body["ticket"].as_str().unwrap().to_owned();
    assert_eq!(viewer_connect(&host, &s4, &t4, None).await.err(), Some(401));

    // another user's session: no ticket for it, and one's own ticket opens only one's own
    let other =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgTechnician, None)
            .await;
    let other_token = mfa_token(&w.server, &w.fx, &other).await;
    let s5 = new_session(http, base, &w.tech, w.agent.device_id).await;
    assert_eq!(ticket(http, base, &other_token, &s5).await.0, 404);
    let s6 = new_session(http, base, &other_token, w.agent.device_id).await;
    let t6 = new_ticket(http, base, &other_token, &s6).await;
    assert_eq!(viewer_connect(&host, &s5, &t6, None).await.err(), Some(401));

    // unknown and malformed tickets
    let unknown = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    assert_eq!(
        viewer_connect(&host, &s5, &unknown, None).await.err(),
        Some(401)
    );
    assert_eq!(
        viewer_connect(&host, &s5, "short", None).await.err(),
        Some(401)
    );

    let mut reasons = ticket_rejections(&w).await;
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "expired",
            "ip_mismatch",
            "malformed",
            "replayed",
            "replayed",
            "session_mismatch",
            "ua_mismatch",
            "unknown"
        ]
    );
    // no ticket is ever written to the audit log
    let mut tx = w.fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    let log: Vec<String> = sqlx::query_scalar("SELECT entry FROM audit_log")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    for t in [&t1, &t2, &t3, &t4, &t6] {
        assert!(
            log.iter().all(|e| !e.contains(t.as_str())),
            "a ticket reached the audit log"
        );
    }
    // and only the hash is stored
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT ticket_hash FROM remote_session_tickets")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert!(stored.iter().all(|h| h.len() == 32));
}

#[tokio::test]
async fn other_tenants_and_other_users_cannot_touch_a_session_or_its_device() {
    let w = world().await;
    let mut agent = agent_socket(&w).await;
    let (http, base) = (&w.server.http, &w.server.base);
    let (session, _viewer) = live_session(&w, &mut agent).await;
    let device = w.agent.device_id;

    // a user of another organization (same partner), a partner admin whose selected
    // organizations exclude this one, an org admin limited to another site, another
    // technician of the same organization
    let sibling = w.fx.org(w.partner).await;
    let other_org =
        w.fx.org_user(w.partner, sibling, SeededRole::OrgAdmin, None)
            .await;
    let unselected =
        w.fx.partner_user(w.partner, SeededRole::PartnerAdmin, "selected", &[sibling])
            .await;
    let other_site = w.fx.site(w.org).await;
    let site_limited =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgAdmin, Some(&[other_site]))
            .await;
    let colleague =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgTechnician, None)
            .await;
    for (who, user, device_reachable) in [
        ("other org", &other_org, false),
        ("unselected org", &unselected, false),
        ("forbidden site", &site_limited, false),
        ("colleague", &colleague, true),
    ] {
        let token = mfa_token(&w.server, &w.fx, user).await;
        let (status, _) = create_session(http, base, &token, device).await;
        if device_reachable {
            assert_eq!(status, 201, "{who} may open their own session");
        } else {
            assert_eq!(status, 404, "{who} created a session");
        }
        for (method, path) in [
            ("GET", format!("/api/v1/remote-sessions/{session}")),
            ("POST", format!("/api/v1/remote-sessions/{session}/ticket")),
            ("DELETE", format!("/api/v1/remote-sessions/{session}")),
            (
                "GET",
                format!("/api/v1/remote-sessions/{session}/recording"),
            ),
            (
                "GET",
                format!("/api/v1/devices/{device}/files/list?path=/etc"),
            ),
            (
                "GET",
                format!("/api/v1/devices/{device}/files/content?path=/etc/hosts"),
            ),
        ] {
            if device_reachable && path.contains("/files/") {
                continue; // a colleague with devices:execute may use files (below)
            }
            let req = match method {
                "GET" => http.get(w.server.url(&path)),
                "POST" => http.post(w.server.url(&path)),
                _ => http.delete(w.server.url(&path)),
            };
            let status = req
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert!(
                matches!(status, 403 | 404),
                "{who}: {method} {path} -> {status}"
            );
        }
    }
    // the session is untouched: still connected, the agent never told to stop
    assert_eq!(session_row(&w, &session).await.0, "connected");
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(WsIn::Json(v)) = tokio::time::timeout_at(deadline, ws_next(&mut agent)).await {
        assert_ne!(
            v["type"], "terminal_stop",
            "opening another session stopped this one"
        );
    }
}

#[tokio::test]
async fn caps_hold_per_user_and_per_organization() {
    let w = world().await;
    let (http, base) = (&w.server.http, &w.server.base);
    for _ in 0..5 {
        new_session(http, base, &w.tech, w.agent.device_id).await;
    }
    let (status, body) = create_session(http, base, &w.tech, w.agent.device_id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("remote_session_limit_user"))
    );
    let mut others = Vec::new();
    for _ in 0..2 {
        let u =
            w.fx.org_user(w.partner, w.org, SeededRole::OrgTechnician, None)
                .await;
        others.push(mfa_token(&w.server, &w.fx, &u).await);
    }
    for t in &others {
        for _ in 0..2 {
            new_session(http, base, t, w.agent.device_id).await;
        }
    }
    // 9 live; the tenth is allowed, the eleventh is over the organization's cap
    new_session(http, base, &others[0], w.agent.device_id).await;
    let (status, body) = create_session(http, base, &others[1], w.agent.device_id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("remote_session_limit_org"))
    );
    // ending one frees a place
    let mine: Vec<Uuid> = {
        let mut tx = w.fx.pool().begin().await.unwrap();
        crate::common::system_context(&mut tx).await;
        sqlx::query_scalar("SELECT id FROM remote_sessions WHERE user_id = $1 LIMIT 1")
            .bind(w.tech_id)
            .fetch_all(&mut *tx)
            .await
            .unwrap()
    };
    let res = http
        .delete(
            w.server
                .url(&format!("/api/v1/remote-sessions/{}", mine[0])),
        )
        .bearer_auth(&w.tech)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        create_session(http, base, &others[1], w.agent.device_id)
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn an_input_flood_closes_with_1008_and_stops_the_agent_side() {
    let w = world().await;
    let mut agent = agent_socket(&w).await;
    let (session, mut viewer) = live_session(&w, &mut agent).await;
    for _ in 0..201 {
        ws_send(&mut viewer, &json!({"type": "input", "data": "x"})).await;
    }
    assert_eq!(closed_within(&mut viewer, 10).await, Some(1008));
    let stop = next_of(&mut agent, "terminal_stop").await.unwrap();
    assert_eq!(stop["sessionId"], session.as_str());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        session_row(&w, &session).await,
        ("ended".to_owned(), Some("input_flood".to_owned()))
    );
    // one frame over 16 KiB is refused too
    let (_, mut viewer) = live_session(&w, &mut agent).await;
    ws_send(
        &mut viewer,
        &json!({"type": "input", "data": "y".repeat(16 * 1024 + 1)}),
    )
    .await;
    assert_eq!(closed_within(&mut viewer, 10).await, Some(1008));
}

#[tokio::test]
async fn an_idle_session_closes() {
    let w = world_with(&[("BREEZE_REMOTE_IDLE_SECS", "2")]).await;
    let mut agent = agent_socket(&w).await;
    let (session, mut viewer) = live_session(&w, &mut agent).await;
    assert_eq!(closed_within(&mut viewer, 10).await, Some(1000));
    next_of(&mut agent, "terminal_stop").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        session_row(&w, &session).await.1.as_deref(),
        Some("idle_timeout")
    );
}

#[tokio::test]
async fn quarantine_mid_session_closes_both_ends_within_a_ping_tick() {
    let w = world().await;
    let mut agent = agent_socket(&w).await;
    let (_session, mut viewer) = live_session(&w, &mut agent).await;
    w.fx.exec(
        "UPDATE devices SET status = 'quarantined' WHERE id = $1",
        &[w.agent.device_id],
    )
    .await;
    // the agent's socket closes with 4001 at once; the browser's within a tick or two
    assert_eq!(closed_within(&mut agent, 5).await, Some(4001));
    assert_eq!(closed_within(&mut viewer, 5).await, Some(4003));
}

#[tokio::test]
async fn disabling_the_user_mid_session_closes_both_ends_within_a_ping_tick() {
    let w = world().await;
    let mut agent = agent_socket(&w).await;
    let (session, mut viewer) = live_session(&w, &mut agent).await;
    w.fx.exec(
        "UPDATE users SET status = 'disabled' WHERE id = $1",
        &[w.tech_id],
    )
    .await;
    assert_eq!(closed_within(&mut viewer, 5).await, Some(4003));
    let stop = next_of(&mut agent, "terminal_stop").await.unwrap();
    assert_eq!(stop["sessionId"], session.as_str());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        session_row(&w, &session).await.1.as_deref(),
        Some("user_revoked")
    );
}

#[tokio::test]
async fn delete_of_a_connected_session_closes_it_with_4003() {
    let w = world().await;
    let mut agent = agent_socket(&w).await;
    let (session, mut viewer) = live_session(&w, &mut agent).await;
    let res = w
        .server
        .http
        .delete(w.server.url(&format!("/api/v1/remote-sessions/{session}")))
        .bearer_auth(&w.tech)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(closed_within(&mut viewer, 5).await, Some(4003));
    next_of(&mut agent, "terminal_stop").await.unwrap();
}

/// Answers the next file command on the agent socket with `file` (the typed outcome).
async fn answer_file(agent: &mut Ws, kind: &str, file: Value) -> Value {
    let cmd = next_of(agent, kind).await.unwrap();
    ws_send(
        agent,
        &json!({"type": "command_result", "commandId": cmd["id"], "status": "completed",
                "file": file}),
    )
    .await;
    cmd
}

#[tokio::test]
async fn file_operations_go_through_the_agent_with_digests_and_leave_nothing_behind() {
    let w = world_with(&[("BREEZE_REMOTE_FILE_TIMEOUT_SECS", "2")]).await;
    let mut agent = agent_socket(&w).await;
    let (http, device) = (w.server.http.clone(), w.agent.device_id);
    let url = |p: &str| w.server.url(&format!("/api/v1/devices/{device}/files/{p}"));
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = breeze_agent_proto::file::sha256_hex(&bytes);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);

    // read
    let get = tokio::spawn({
        let (http, u, t) = (
            http.clone(),
            url("content?path=/srv/data.bin"),
            w.tech.clone(),
        );
        async move { http.get(u).bearer_auth(t).send().await.unwrap() }
    });
    let cmd = answer_file(
        &mut agent,
        "file_read",
        json!({"kind": "content", "size": bytes.len(), "sha256": sha, "contentBase64": b64}),
    )
    .await;
    assert_eq!(cmd["payload"]["path"], "/srv/data.bin");
    let res = get.await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-content-sha256"].to_str().unwrap(), sha);
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // a read whose content does not match its digest is refused here too
    let get = tokio::spawn({
        let (http, u, t) = (
            http.clone(),
            url("content?path=/srv/data.bin"),
            w.tech.clone(),
        );
        async move { http.get(u).bearer_auth(t).send().await.unwrap() }
    });
    answer_file(
        &mut agent,
        "file_read",
        json!({"kind": "content", "size": bytes.len(), "sha256": "0".repeat(64), "contentBase64": b64}),
    )
    .await;
    let res = get.await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "digest_mismatch"
    );

    // write: the digest is checked before queueing and against the agent's answer
    let put = tokio::spawn({
        let (http, u, t, body, sha) = (
            http.clone(),
            url("content?path=/srv/new.bin"),
            w.tech.clone(),
            bytes.clone(),
            sha.clone(),
        );
        async move {
            http.put(u)
                .bearer_auth(t)
                .header("x-content-sha256", sha)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    });
    let cmd = answer_file(
        &mut agent,
        "file_write",
        json!({"kind": "written", "size": bytes.len(), "sha256": sha}),
    )
    .await;
    assert_eq!(cmd["payload"]["sha256"], sha.as_str());
    let res = put.await.unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .put(url("content?path=/srv/new.bin"))
        .bearer_auth(&w.tech)
        .header("x-content-sha256", "0".repeat(64))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // list
    let list = tokio::spawn({
        let (http, u, t) = (http.clone(), url("list?path=/srv"), w.tech.clone());
        async move { http.get(u).bearer_auth(t).send().await.unwrap() }
    });
    answer_file(
        &mut agent,
        "file_list",
        json!({"kind": "listing", "truncated": false,
               "entries": [{"name": "<img src=x onerror=alert(1)>", "kind": "file", "size": 3}]}),
    )
    .await;
    let v: Value = list.await.unwrap().json().await.unwrap();
    assert_eq!(v["entries"][0]["name"], "<img src=x onerror=alert(1)>");

    // the agent's typed refusal
    let get = tokio::spawn({
        let (http, u, t) = (
            http.clone(),
            url("content?path=/etc/breeze/secrets.yaml"),
            w.tech.clone(),
        );
        async move { http.get(u).bearer_auth(t).send().await.unwrap() }
    });
    answer_file(
        &mut agent,
        "file_read",
        json!({"kind": "refused", "code": "path_forbidden"}),
    )
    .await;
    let res = get.await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "path_forbidden"
    );

    // bad paths never reach the agent
    for (path, code) in [
        ("etc/passwd", "path_relative"),
        ("/etc/../root/.ssh/id_rsa", "path_dot_dot"),
        ("/etc/%00passwd", "path_nul"),
    ] {
        let res = http
            .get(url(&format!("content?path={path}")))
            .bearer_auth(&w.tech)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert!(res.text().await.unwrap().contains(code), "{path}");
    }
    // over-size upload
    let res = http
        .put(url("content?path=/srv/big.bin"))
        .bearer_auth(&w.tech)
        .header("x-content-sha256", "0".repeat(64))
        .body(vec![0u8; 4 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // no answer: 504, and the command is never delivered later
    let res = http
        .get(url("list?path=/srv"))
        .bearer_auth(&w.tech)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 504);

    // devices:read alone cannot read a file
    let viewer_user =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgViewer, None)
            .await;
    let viewer_token = mfa_token(&w.server, &w.fx, &viewer_user).await;
    let res = http
        .get(url("content?path=/etc/hosts"))
        .bearer_auth(&viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // nor through the generic command queue and its results
    let res = http
        .post(w.server.url(&format!("/api/v1/devices/{device}/commands")))
        .bearer_auth(&w.tech)
        .json(&json!({"type": "file_read", "payload": {"path": "/etc/shadow"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // nothing of any content is left in the database
    let mut tx = w.fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM device_commands WHERE file_outcome IS NOT NULL
            OR (type = 'file_write' AND length(payload) > 10000)",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(left, 0);
    drop(tx);
    let reads = audit_rows(&w.fx, "file.read").await;
    assert!(
        reads
            .iter()
            .any(|(_, _, d)| d["sha256"] == sha.as_str() && d["path"] == "/srv/data.bin")
    );
    assert_eq!(audit_rows(&w.fx, "file.write").await.len(), 1);
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn without_an_agent_socket_the_browser_is_told_to_reconnect() {
    let w = world().await;
    let base = &w.server.base;
    let session = new_session(&w.server.http, base, &w.tech, w.agent.device_id).await;
    let t = new_ticket(&w.server.http, base, &w.tech, &session).await;
    let mut viewer = viewer_connect(&host_of(base), &session, &t, None)
        .await
        .unwrap();
    assert_eq!(closed_within(&mut viewer, 20).await, Some(4040));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        session_row(&w, &session).await.1.as_deref(),
        Some("agent_unreachable")
    );
}

#[tokio::test]
async fn a_session_whose_replica_lost_its_lease_is_stopped_on_the_agent() {
    let w = world_with(&[("BREEZE_AGENT_WS_PING_SECS", "1")]).await;
    let mut agent = agent_socket(&w).await;
    let (session, viewer) = live_session(&w, &mut agent).await;
    // the browser's replica is gone: its socket is not read any more and its lease lapses
    std::mem::forget(viewer);
    w.fx.exec(
        "UPDATE remote_sessions SET lease_until = now() - interval '1 second',
                lease_owner = gen_random_uuid() WHERE id = $1",
        &[session.parse().unwrap()],
    )
    .await;
    let stop = next_of(&mut agent, "terminal_stop").await.unwrap();
    assert_eq!(stop["sessionId"], session.as_str());
}

#[tokio::test]
async fn an_organization_can_tighten_its_idle_timeout_but_not_loosen_the_servers() {
    let w = world().await;
    let mut agent = agent_socket(&w).await;
    let http = &w.server.http;
    let url = w
        .server
        .url(&format!("/api/v1/orgs/{}/remote-settings", w.org));
    let admin =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgAdmin, None)
            .await;
    let admin_token = mfa_token(&w.server, &w.fx, &admin).await;
    // the technician may read but not write
    let put = |token: &str, body: Value| {
        http.put(&url)
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    assert_eq!(
        put(&w.tech, json!({"idleSecs": 10}))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        put(&admin_token, json!({"idleSecs": 9}))
            .await
            .unwrap()
            .status(),
        400
    );
    let res = put(&admin_token, json!({"idleSecs": 10, "maxSecs": 86_400}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    // the server's 15 min idle becomes 10 s; a day of duration cannot loosen the server's 8 h
    assert_eq!(
        (
            v["effectiveIdleSecs"].as_u64(),
            v["effectiveMaxSecs"].as_u64()
        ),
        (Some(10), Some(8 * 3600))
    );
    let read: Value = http
        .get(&url)
        .bearer_auth(&w.tech)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["idleSecs"], 10);
    assert_eq!(
        audit_rows(&w.fx, "organization.remote_settings.change")
            .await
            .len(),
        1
    );

    let (session, mut viewer) = live_session(&w, &mut agent).await;
    assert_eq!(closed_within(&mut viewer, 20).await, Some(1000));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        session_row(&w, &session).await.1.as_deref(),
        Some("idle_timeout")
    );
}
