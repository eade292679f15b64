//! Agent HTTP routes over real HTTP on real PostgreSQL: enrollment (order, refusals audited,
//! concurrency), agent authentication, heartbeat, commands and results, token rotation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::agents::{
    KeyFixture, agent_post, audit_rows, beat, enroll, enroll_body, enroll_ok, enrollment_key,
    mfa_token, verify_all_chains,
};
use crate::common::{TestServer, system_context};
use breeze_agent_proto::Message as _;
use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};

struct World {
    server: TestServer,
    fx: common::Fixtures,
    partner: breeze_core::tenancy::PartnerId,
    org: breeze_core::tenancy::OrgId,
    site: breeze_core::tenancy::SiteId,
}

async fn world_with(server: TestServer) -> World {
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    World {
        server,
        fx,
        partner,
        org,
        site,
    }
}

async fn world() -> World {
    world_with(TestServer::start().await).await
}

impl World {
    async fn key(&self, max: i32) -> KeyFixture {
        enrollment_key(&self.server, &self.fx, self.org, self.site, max, 3600, None).await
    }
}

async fn scalar_i64(fx: &common::Fixtures, sql: &str, id: uuid::Uuid) -> i64 {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    v
}

#[tokio::test]
async fn enrollment_then_heartbeat_with_both_roles() {
    let w = world().await;
    let key = w.key(5).await;
    let (status, body) = enroll(&w.server, &enroll_body(&key, "host-a"), None).await;
    assert_eq!(status, 201, "{body}");
    for field in [
        "agentId",
        "deviceId",
        "authToken",
        "watchdogAuthToken",
        "helperAuthToken",
        "orgId",
        "siteId",
    ] {
        assert!(body[field].is_string(), "missing {field}: {body}");
    }
    assert_eq!(body["orgId"], w.org.to_string());
    assert_eq!(body["siteId"], w.site.to_string());
    assert_eq!(body["config"]["heartbeatIntervalSeconds"], 60);
    assert_eq!(body["config"]["metricsCollectionIntervalSeconds"], 30);
    let agent = body["agentId"].as_str().unwrap();
    let path = format!("/api/v1/agents/{agent}/heartbeat");

    let (s, h, b) = agent_post(
        &w.server,
        &path,
        body["authToken"].as_str().unwrap(),
        &beat(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["commands"].as_array().unwrap().is_empty());
    assert!(!h.contains_key("x-token-rotation-required"));
    let (s, _, _) = agent_post(
        &w.server,
        &path,
        body["watchdogAuthToken"].as_str().unwrap(),
        &beat(),
    )
    .await;
    assert_eq!(s, 200);
    // the helper token is not an agent credential for these routes
    let (s, _, b) = agent_post(
        &w.server,
        &path,
        body["helperAuthToken"].as_str().unwrap(),
        &beat(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("invalid_token")));
    assert_eq!(b["message"], "authentication failed", "{b}");
    // a token of the right shape that matches nothing, and a malformed one
    let (s, _, b) = agent_post(
        &w.server,
        &path,
        &format!("brz_{}", "0".repeat(64)),
        &beat(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("invalid_token")));
    let (s, _, _) = agent_post(&w.server, &path, "brz_nothex", &beat()).await;
    assert_eq!(s, 401);
    // another agent's id with a valid token of this one
    let other = format!("/api/v1/agents/{}/heartbeat", "a".repeat(64));
    let (s, _, _) = agent_post(
        &w.server,
        &other,
        body["authToken"].as_str().unwrap(),
        &beat(),
    )
    .await;
    assert_eq!(s, 401);
    // a bad body: 400 with issues, nothing changed
    let (s, _, b) = agent_post(
        &w.server,
        &path,
        body["authToken"].as_str().unwrap(),
        &json!({"status": "fine"}),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_request")));

    let device: uuid::Uuid = body["deviceId"].as_str().unwrap().parse().unwrap();
    let online = scalar_i64(
        &w.fx,
        "SELECT count(*) FROM devices WHERE id = $1 AND status = 'online' AND last_seen_at IS NOT NULL",
        device,
    )
    .await;
    assert_eq!(online, 1);
    let enrolls = audit_rows(&w.fx, "agent.enroll").await;
    assert_eq!(enrolls.len(), 1);
    assert_eq!(enrolls[0].0, w.org.to_string());
    assert_eq!(enrolls[0].1.as_deref(), Some("success"));
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn enrollment_refusals_are_typed_and_audited() {
    let w = world().await;
    // unknown key: 401, audited on the system chain
    let unknown = KeyFixture {
        id: uuid::Uuid::nil(),
        raw: "ab".repeat(32),
    };
    let (s, b) = enroll(&w.server, &enroll_body(&unknown, "h"), None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("enrollment_key_not_found"))
    );
    // expired
    let expired = enrollment_key(&w.server, &w.fx, w.org, w.site, 5, -10, None).await;
    let (s, b) = enroll(&w.server, &enroll_body(&expired, "h"), None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("enrollment_key_expired"))
    );
    // exhausted
    let once = w.key(1).await;
    enroll_ok(&w.server, &once, "h1").await;
    let (s, b) = enroll(&w.server, &enroll_body(&once, "h2"), None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("enrollment_key_exhausted"))
    );
    // per-key secret: missing and wrong refused, right one (body or header) accepted
    let secret = enrollment_key(
        &w.server,
        &w.fx,
        w.org,
        w.site,
        5,
        3600,
        Some("s3cret-value"),
    )
    .await;
    let (s, b) = enroll(&w.server, &enroll_body(&secret, "h"), None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("enrollment_secret_invalid"))
    );
    let mut body = enroll_body(&secret, "h");
    body["enrollmentSecret"] = json!("wrong-value");
    let (s, b) = enroll(&w.server, &body, None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("enrollment_secret_invalid"))
    );
    body["enrollmentSecret"] = json!("s3cret-value");
    let (s, _) = enroll(&w.server, &body, None).await;
    assert_eq!(s, 201);
    let res = common::agents::client_from_random_loopback()
        .post(w.server.url("/api/v1/agents/enroll"))
        .header("x-agent-enrollment-secret", "s3cret-value")
        .json(&enroll_body(&secret, "h-hdr"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // tenant inactive
    let key = w.key(5).await;
    w.fx.set_org_status(w.org, "suspended").await;
    let (s, b) = enroll(&w.server, &enroll_body(&key, "h"), None).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("tenant_inactive")));
    w.fx.set_org_status(w.org, "active").await;
    // partner device limit
    w.fx.exec(
        "UPDATE partners SET max_devices = 3 WHERE id = $1",
        &[*w.partner.as_uuid()],
    )
    .await;
    let (s, b) = enroll(&w.server, &enroll_body(&key, "h-limit"), None).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("device_limit_reached")));
    // a malformed body with a well-formed key: 400, nothing audited for it
    let (s, b) = enroll(
        &w.server,
        &json!({"enrollmentKey": "ab".repeat(32), "hostname": "x"}),
        None,
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_request")));

    let rows = audit_rows(&w.fx, "agent.enroll").await;
    let reasons: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.1.as_deref() != Some("success"))
        .map(|r| (r.0.clone(), r.2["reason"].as_str().unwrap().to_owned()))
        .collect();
    let org = w.org.to_string();
    assert_eq!(
        reasons,
        vec![
            ("system".to_owned(), "enrollment_key_not_found".to_owned()),
            (org.clone(), "enrollment_key_expired".to_owned()),
            (org.clone(), "enrollment_key_exhausted".to_owned()),
            (org.clone(), "enrollment_secret_invalid".to_owned()),
            (org.clone(), "enrollment_secret_invalid".to_owned()),
            (org.clone(), "tenant_inactive".to_owned()),
            (org, "device_limit_reached".to_owned()),
        ]
    );
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn global_secret_is_required_when_configured() {
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_ENROLLMENT_SECRET".into(), "global-secret-1".into()));
    })
    .await;
    let w = world_with(server).await;
    let key = w.key(5).await;
    let (s, b) = enroll(&w.server, &enroll_body(&key, "h"), None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("enrollment_secret_invalid"))
    );
    let mut body = enroll_body(&key, "h");
    body["enrollmentSecret"] = json!("global-secret-2");
    let (s, _) = enroll(&w.server, &body, None).await;
    assert_eq!(s, 401);
    body["enrollmentSecret"] = json!("global-secret-1");
    let (s, _) = enroll(&w.server, &body, None).await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn twenty_concurrent_enrollments_on_ten_uses() {
    let w = world().await;
    let key = w.key(10).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let http = common::agents::client_from_random_loopback();
        let url = w.server.url("/api/v1/agents/enroll");
        let body = enroll_body(&key, &format!("race-{i}"));
        tasks.push(tokio::spawn(async move {
            let res = http.post(url).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body["code"].as_str().map(str::to_owned))
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, code) = t.await.unwrap();
        match status {
            201 => ok += 1,
            401 => assert_eq!(code.as_deref(), Some("enrollment_key_exhausted")),
            409 => assert_eq!(code.as_deref(), Some("enrollment_key_race_lost")),
            other => panic!("unexpected {other} {code:?}"),
        }
    }
    assert_eq!(ok, 10);
    let used = scalar_i64(
        &w.fx,
        "SELECT usage_count::bigint FROM enrollment_keys WHERE id = $1",
        key.id,
    )
    .await;
    assert_eq!(used, 10);
    let devices = scalar_i64(
        &w.fx,
        "SELECT count(*) FROM devices WHERE site_id = $1",
        *w.site.as_uuid(),
    )
    .await;
    assert_eq!(devices, 10, "a lost race must roll its device back");
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn reenrollment_in_place_only_with_the_current_token() {
    let w = world().await;
    let key = w.key(10).await;
    let first = enroll_ok(&w.server, &key, "same-host").await;
    // with the device's current token: same device and agent id, new tokens
    let (s, b) = enroll(
        &w.server,
        &enroll_body(&key, "same-host"),
        Some(&first.token),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(b["deviceId"], first.device_id.to_string());
    assert_eq!(b["agentId"], first.agent_id);
    assert_ne!(b["authToken"], first.token);
    // the old token no longer works
    let path = format!("/api/v1/agents/{}/heartbeat", first.agent_id);
    let (s, _, _) = agent_post(&w.server, &path, &first.token, &beat()).await;
    assert_eq!(s, 401);
    // without a token: a new device flagged as a possible replacement
    let (s, b2) = enroll(&w.server, &enroll_body(&key, "same-host"), None).await;
    assert_eq!(s, 201);
    assert_ne!(b2["deviceId"], first.device_id.to_string());
    let new_id: uuid::Uuid = b2["deviceId"].as_str().unwrap().parse().unwrap();
    let flagged = scalar_i64(
        &w.fx,
        &format!(
            "SELECT count(*) FROM devices WHERE id = $1 AND possible_replacement_of = '{}'",
            first.device_id
        ),
        new_id,
    )
    .await;
    assert_eq!(flagged, 1);
}

#[tokio::test]
async fn authentication_refusals_in_order() {
    let w = world().await;
    let key = w.key(10).await;
    let a = enroll_ok(&w.server, &key, "auth-host").await;
    let path = format!("/api/v1/agents/{}/heartbeat", a.agent_id);

    // quarantined: 403 device_not_authorized
    w.fx.exec(
        "UPDATE devices SET status = 'quarantined' WHERE id = $1",
        &[a.device_id],
    )
    .await;
    let (s, _, b) = agent_post(&w.server, &path, &a.token, &beat()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (403, Some("device_not_authorized"))
    );
    // issue 26: the agent error body carries the documented generic `message` next to the
    // `error` and `code` the agent parses, and the protocol decoder accepts it
    assert_eq!(b["error"], "device not authorized", "{b}");
    assert_eq!(b["message"], "not allowed", "{b}");
    let decoded = breeze_agent_proto::HttpErrorBody::decode(b.to_string().as_bytes()).unwrap();
    assert_eq!(
        decoded.message.code,
        breeze_agent_proto::ErrorReason::DeviceNotAuthorized
    );
    assert_eq!(decoded.message.message.as_deref(), Some("not allowed"));
    // a wrong token still says invalid_token (the token is checked before the status)
    let (s, _, b) = agent_post(
        &w.server,
        &path,
        &format!("brz_{}", "1".repeat(64)),
        &beat(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("invalid_token")));
    w.fx.exec(
        "UPDATE devices SET status = 'offline' WHERE id = $1",
        &[a.device_id],
    )
    .await;
    let (s, _, _) = agent_post(&w.server, &path, &a.token, &beat()).await;
    assert_eq!(s, 200);
    // suspended beats everything else
    w.fx.exec(
        "UPDATE device_credentials SET suspended = true, suspended_at = now() WHERE device_id = $1",
        &[a.device_id],
    )
    .await;
    let (s, _, b) = agent_post(&w.server, &path, &a.token, &beat()).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("token_suspended")));
    // credentials missing: re-enrollment required
    w.fx.exec(
        "DELETE FROM device_credentials WHERE device_id = $1",
        &[a.device_id],
    )
    .await;
    let (s, _, b) = agent_post(&w.server, &path, &a.token, &beat()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("re_enrollment_required"))
    );
}

#[tokio::test]
async fn source_ip_change_is_audited_once_per_day() {
    let w = world().await;
    let key = w.key(10).await;
    let a = enroll_ok(&w.server, &key, "ip-host").await;
    let path = format!("/api/v1/agents/{}/heartbeat", a.agent_id);
    let from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let beat_from = |client: reqwest::Client| {
        let url = w.server.url(&path);
        let token = a.token.clone();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&beat())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(beat_from(from("127.0.0.1")).await, 200);
    assert_eq!(beat_from(from("127.0.0.2")).await, 200);
    assert_eq!(beat_from(from("127.0.0.1")).await, 200);
    assert_eq!(beat_from(from("127.0.0.2")).await, 200);
    let rows = audit_rows(&w.fx, "agent.source.ip.changed").await;
    // 127.0.0.2 once, 127.0.0.1 once (first sighting is not a change); repeats de-duplicated
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].2["ip"], "127.0.0.2");
    assert_eq!(rows[1].2["ip"], "127.0.0.1");
}

/// The device's recorded source addresses (history) and its `last_ip`.
async fn sightings(fx: &common::Fixtures, device: uuid::Uuid) -> (Vec<String>, Option<String>) {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let history: Vec<String> = sqlx::query_scalar(
        "SELECT host(ip) FROM agent_ip_history WHERE device_id = $1 ORDER BY first_seen_at, ip",
    )
    .bind(device)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let last: Option<String> =
        sqlx::query_scalar("SELECT host(last_ip) FROM device_credentials WHERE device_id = $1")
            .bind(device)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    (history, last)
}

#[tokio::test]
async fn first_source_address_rides_with_the_heartbeat_or_is_recorded_alone() {
    let w = world().await;
    let key = w.key(10).await;
    let from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let post_from = |ip: &'static str, agent: String, token: String, body: Value| {
        let url = w.server.url(&format!("/api/v1/agents/{agent}/heartbeat"));
        let client = from(ip);
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    // a first heartbeat: its address is written with the batch, not audited (no change)
    let a = enroll_ok(&w.server, &key, "sighting-a").await;
    assert_eq!(sightings(&w.fx, a.device_id).await, (vec![], None));
    let status = post_from("127.0.0.3", a.agent_id.clone(), a.token.clone(), beat()).await;
    assert_eq!(status, 200);
    assert_eq!(
        sightings(&w.fx, a.device_id).await,
        (vec!["127.0.0.3".to_owned()], Some("127.0.0.3".to_owned()))
    );
    // the same address again writes nothing new; another one is a change, audited with the
    // address the batch recorded as the previous one
    assert_eq!(
        post_from("127.0.0.3", a.agent_id.clone(), a.token.clone(), beat()).await,
        200
    );
    assert_eq!(
        post_from("127.0.0.6", a.agent_id.clone(), a.token.clone(), beat()).await,
        200
    );
    let (history, last) = sightings(&w.fx, a.device_id).await;
    assert_eq!(history, ["127.0.0.3", "127.0.0.6"]);
    assert_eq!(last.as_deref(), Some("127.0.0.6"));

    // a first heartbeat refused after authentication (an undecodable body) is recorded alone
    let b = enroll_ok(&w.server, &key, "sighting-b").await;
    let status = post_from(
        "127.0.0.4",
        b.agent_id.clone(),
        b.token.clone(),
        json!({"status": "unheard-of"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        sightings(&w.fx, b.device_id).await,
        (vec!["127.0.0.4".to_owned()], Some("127.0.0.4".to_owned()))
    );
    assert_eq!(
        post_from("127.0.0.5", b.agent_id.clone(), b.token.clone(), beat()).await,
        200
    );

    // exactly the two changes were audited, each from the address recorded first
    let rows = audit_rows(&w.fx, "agent.source.ip.changed").await;
    let changes: Vec<(String, String)> = rows
        .iter()
        .map(|(_, _, d)| {
            (
                d["previousIp"].as_str().unwrap_or_default().to_owned(),
                d["ip"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("127.0.0.3".to_owned(), "127.0.0.6".to_owned()),
            ("127.0.0.4".to_owned(), "127.0.0.5".to_owned())
        ]
    );
}

async fn queue(w: &World, token: &str, device: uuid::Uuid, body: &Value) -> (u16, Value) {
    let res = w
        .server
        .http
        .post(w.server.url(&format!("/api/v1/devices/{device}/commands")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";

#[tokio::test]
async fn commands_flow_from_user_to_agent_and_back() {
    let w = world().await;
    let key = w.key(10).await;
    let a = enroll_ok(&w.server, &key, "cmd-host").await;
    let b = enroll_ok(&w.server, &key, "other-host").await;
    let tech =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgTechnician, None)
            .await;
    let tech_token = mfa_token(&w.server, &w.fx, &tech).await;
    let viewer =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgViewer, None)
            .await;
    let viewer_token = w.server.token_for(&w.fx, &viewer).await;

    let script = json!({"type": "run_script", "payload": {
        "scriptId": "00000000-0000-4000-8000-000000000001",
        "content": "echo very-secret-script-body", "language": "bash", "timeoutSeconds": 60}});
    // a viewer may not execute
    let (s, _) = queue(&w, &viewer_token, a.device_id, &script).await;
    assert_eq!(s, 403);
    // unknown type / bad payload: 400
    let (s, _) = queue(&w, &tech_token, a.device_id, &json!({"type": "shell_exec"})).await;
    assert_eq!(s, 400);
    let (s, body) = queue(&w, &tech_token, a.device_id, &script).await;
    assert_eq!(s, 201, "{body}");
    let cmd_id = body["id"].as_str().unwrap().to_owned();

    // encrypted at rest
    let mut tx = w.fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let stored: String =
        sqlx::query_scalar("SELECT payload FROM device_commands WHERE id = $1::uuid")
            .bind(&cmd_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    drop(tx);
    assert!(!stored.contains("very-secret-script-body"));

    // the other agent does not get it; this one does, once
    let (_, _, hb) = agent_post(
        &w.server,
        &format!("/api/v1/agents/{}/heartbeat", b.agent_id),
        &b.token,
        &beat(),
    )
    .await;
    assert!(hb["commands"].as_array().unwrap().is_empty());
    let hb_path = format!("/api/v1/agents/{}/heartbeat", a.agent_id);
    let (_, _, hb) = agent_post(&w.server, &hb_path, &a.token, &beat()).await;
    let cmds = hb["commands"].as_array().unwrap();
    assert_eq!(cmds.len(), 1, "{hb}");
    assert_eq!(cmds[0]["id"], cmd_id);
    assert_eq!(cmds[0]["type"], "run_script");
    assert_eq!(
        cmds[0]["payload"]["content"],
        "echo very-secret-script-body"
    );
    let (_, _, hb) = agent_post(&w.server, &hb_path, &a.token, &beat()).await;
    assert!(hb["commands"].as_array().unwrap().is_empty());

    // the other agent cannot post a result for it
    let result = json!({"commandId": cmd_id, "status": "completed", "exitCode": 0,
        "stdout": format!("ok\n{PEM}\ntail"), "stderr": "warn brz_".to_owned() + &"ab".repeat(32),
        "durationMs": 12});
    let (s, _, e) = agent_post(
        &w.server,
        &format!("/api/v1/agents/{}/commands/{cmd_id}/result", b.agent_id),
        &b.token,
        &result,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("command_not_found")));
    let res_path = format!("/api/v1/agents/{}/commands/{cmd_id}/result", a.agent_id);
    let (s, _, e) = agent_post(&w.server, &res_path, &a.token, &result).await;
    assert_eq!(s, 200, "{e}");
    // a retry is harmless
    let (s, _, e) = agent_post(&w.server, &res_path, &a.token, &result).await;
    assert_eq!((s, e["duplicate"].as_bool()), (200, Some(true)));

    // the user reads it back, redacted
    let res = w
        .server
        .http
        .get(w.server.url(&format!(
            "/api/v1/devices/{}/commands/{cmd_id}",
            a.device_id
        )))
        .bearer_auth(&viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["status"], "completed");
    assert_eq!(view["exitCode"], 0);
    let stdout = view["stdout"].as_str().unwrap();
    assert!(
        stdout.contains("[REDACTED PRIVATE KEY]") && !stdout.contains("MIIEv"),
        "{stdout}"
    );
    assert!(stdout.ends_with("tail"));
    assert!(!view["stderr"].as_str().unwrap().contains("abab"));
    let res = w
        .server
        .http
        .get(
            w.server
                .url(&format!("/api/v1/devices/{}/commands", a.device_id)),
        )
        .bearer_auth(&viewer_token)
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // another organization's user sees nothing
    let org2 = w.fx.org(w.partner).await;
    let outsider =
        w.fx.org_user(w.partner, org2, SeededRole::OrgViewer, None)
            .await;
    let outsider_token = w.server.token_for(&w.fx, &outsider).await;
    let res = w
        .server
        .http
        .get(w.server.url(&format!(
            "/api/v1/devices/{}/commands/{cmd_id}",
            a.device_id
        )))
        .bearer_auth(&outsider_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // quarantined devices take no commands
    w.fx.exec(
        "UPDATE devices SET status = 'quarantined' WHERE id = $1",
        &[b.device_id],
    )
    .await;
    let (s, _) = queue(&w, &tech_token, b.device_id, &script).await;
    assert_eq!(s, 409);

    let exec = audit_rows(&w.fx, "device.command.execute").await;
    assert_eq!(exec.len(), 1);
    assert_eq!(exec[0].2["type"], "run_script");
    assert_eq!(exec[0].2["deviceId"], a.device_id.to_string());
    let results = audit_rows(&w.fx, "device.command.result").await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].2["exitCode"], 0);
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn two_phase_rotation_with_grace_and_retries() {
    let w = world().await;
    let key = w.key(10).await;
    let a = enroll_ok(&w.server, &key, "rot-host").await;
    let base = format!("/api/v1/agents/{}", a.agent_id);
    let hb = format!("{base}/heartbeat");

    // nothing staged: confirm refuses
    let (s, _, b) = agent_post(
        &w.server,
        &format!("{base}/rotate-token/confirm"),
        &a.token,
        &json!({}),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("rotation_not_pending")));
    // stage twice (a retry after a lost response): the second staging replaces the first
    let (s, _, first) = agent_post(
        &w.server,
        &format!("{base}/rotate-token"),
        &a.token,
        &json!({}),
    )
    .await;
    assert_eq!(s, 200, "{first}");
    let (s, _, staged) = agent_post(
        &w.server,
        &format!("{base}/rotate-token"),
        &a.token,
        &json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let first_pending = first["authToken"].as_str().unwrap();
    let pending = staged["authToken"].as_str().unwrap();
    assert!(staged["pendingExpiresAt"].is_string());
    // the replaced staging is dead; the old token still works (not yet confirmed)
    let (s, _, _) = agent_post(&w.server, &hb, first_pending, &beat()).await;
    assert_eq!(s, 401);
    let (s, h, b) = agent_post(&w.server, &hb, &a.token, &beat()).await;
    assert_eq!(s, 200);
    assert!(b.get("confirmTokenRotation").is_none());
    assert!(!h.contains_key("x-token-rotation-required"));
    // a pending token cannot stage another rotation
    let (s, _, _) = agent_post(
        &w.server,
        &format!("{base}/rotate-token"),
        pending,
        &json!({}),
    )
    .await;
    assert_eq!(s, 401);
    // confirm with the pending token
    let (s, _, c) = agent_post(
        &w.server,
        &format!("{base}/rotate-token/confirm"),
        pending,
        &json!({}),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["confirmed"], true);
    // retry of the confirm (now the current token): still confirmed
    let (s, _, c2) = agent_post(
        &w.server,
        &format!("{base}/rotate-token/confirm"),
        pending,
        &json!({}),
    )
    .await;
    assert_eq!((s, c2["confirmed"].as_bool()), (200, Some(true)));
    // old token: valid in grace, flagged
    let (s, h, _) = agent_post(&w.server, &hb, &a.token, &beat()).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-token-rotation-required"], "true");
    // after the grace window the old one is refused, the new one works
    w.server.clock.advance(6 * 60);
    let (s, _, _) = agent_post(&w.server, &hb, &a.token, &beat()).await;
    assert_eq!(s, 401);
    let (s, _, _) = agent_post(&w.server, &hb, pending, &beat()).await;
    assert_eq!(s, 200);

    // a heartbeat with the pending token confirms too
    let (_, _, staged) = agent_post(
        &w.server,
        &format!("{base}/rotate-token"),
        pending,
        &json!({}),
    )
    .await;
    let pending2 = staged["authToken"].as_str().unwrap();
    let (s, _, b) = agent_post(&w.server, &hb, pending2, &beat()).await;
    assert_eq!(s, 200);
    assert_eq!(b["confirmTokenRotation"], true);
    // staged tokens expire unconfirmed after an hour
    let (_, _, staged) = agent_post(
        &w.server,
        &format!("{base}/rotate-token"),
        pending2,
        &json!({}),
    )
    .await;
    let pending3 = staged["authToken"].as_str().unwrap();
    w.server.clock.advance(61 * 60);
    let (s, _, _) = agent_post(
        &w.server,
        &format!("{base}/rotate-token/confirm"),
        pending3,
        &json!({}),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, _) = agent_post(&w.server, &hb, pending2, &beat()).await;
    assert_eq!(s, 200);
    // due after 30 days
    w.server.clock.advance(31 * 24 * 3600);
    let (_, _, b) = agent_post(&w.server, &hb, pending2, &beat()).await;
    assert_eq!(b["rotateToken"], true);

    assert_eq!(
        audit_rows(&w.fx, "agent.token.rotate.staged").await.len(),
        4
    );
    assert_eq!(
        audit_rows(&w.fx, "agent.token.rotate.confirmed")
            .await
            .len(),
        2
    );
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn heartbeat_body_limit_is_five_mib() {
    let w = world().await;
    let key = w.key(10).await;
    let a = enroll_ok(&w.server, &key, "big-host").await;
    let path = format!("/api/v1/agents/{}/heartbeat", a.agent_id);
    // 2 MiB (above the 1 MiB default, below 5 MiB) is read and decoded (and refused as a
    // bad body, not as too large)
    let mut big = beat();
    big["hostname"] = json!("x".repeat(2 * 1024 * 1024));
    let (s, _, _) = agent_post(&w.server, &path, &a.token, &big).await;
    assert_eq!(s, 200, "informational fields with bad values are dropped");
    big["hostname"] = json!("x".repeat(6 * 1024 * 1024));
    let (s, _, _) = agent_post(&w.server, &path, &a.token, &big).await;
    assert_eq!(s, 413);
}

#[tokio::test]
async fn enrollment_is_limited_per_ip_and_commands_stay_in_their_tenant() {
    let w = world().await;
    // ten enrollment attempts per minute per client address, then 429 with Retry-After
    let client = common::agents::client_from_random_loopback();
    let unknown = json!({"enrollmentKey": "cd".repeat(32), "hostname": "h", "osType": "linux",
                         "osVersion": "1", "architecture": "x", "agentVersion": "1"});
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let res = client
            .post(w.server.url("/api/v1/agents/enroll"))
            .json(&unknown)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);

    // a technician of another organization cannot queue on this device (404, nothing queued)
    let key = w.key(10).await;
    let a = enroll_ok(&w.server, &key, "tenant-host").await;
    let org2 = w.fx.org(w.partner).await;
    let outsider =
        w.fx.org_user(w.partner, org2, SeededRole::OrgTechnician, None)
            .await;
    let token = mfa_token(&w.server, &w.fx, &outsider).await;
    let (s, _) = queue(
        &w,
        &token,
        a.device_id,
        &json!({"type": "reboot", "payload": {}}),
    )
    .await;
    assert_eq!(s, 404);
    let queued = scalar_i64(
        &w.fx,
        "SELECT count(*) FROM device_commands WHERE device_id = $1",
        a.device_id,
    )
    .await;
    assert_eq!(queued, 0);
}

/// Finding 16 (issue 15): the partner device limit was a count followed by an insert, so
/// concurrent enrollments each saw room and together exceeded it.
#[tokio::test]
async fn finding_16_partner_device_limit_holds_under_concurrent_enrollments() {
    let w = world().await;
    const LIMIT: i64 = 5;
    w.fx.exec(
        "UPDATE partners SET max_devices = 5 WHERE id = $1",
        &[*w.partner.as_uuid()],
    )
    .await;
    // two keys in two organizations of the partner: the limit is the partner's
    let org2 = w.fx.org(w.partner).await;
    let site2 = w.fx.site(org2).await;
    let keys = [
        w.key(100).await,
        enrollment_key(&w.server, &w.fx, org2, site2, 100, 3600, None).await,
    ];
    let mut tasks = Vec::new();
    for i in 0..30 {
        let http = common::agents::client_from_random_loopback();
        let url = w.server.url("/api/v1/agents/enroll");
        let body = enroll_body(&keys[i % 2], &format!("limit-{i}"));
        tasks.push(tokio::spawn(async move {
            let res = http.post(url).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body["code"].as_str().map(str::to_owned))
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, code) = t.await.unwrap();
        match status {
            201 => ok += 1,
            403 => assert_eq!(code.as_deref(), Some("device_limit_reached")),
            other => panic!("unexpected {other} {code:?}"),
        }
    }
    let devices = scalar_i64(
        &w.fx,
        "SELECT count(*) FROM devices d JOIN organizations o ON o.id = d.org_id
          WHERE o.partner_id = $1",
        *w.partner.as_uuid(),
    )
    .await;
    assert_eq!(devices, LIMIT, "the partner's devices exceed its limit");
    assert_eq!(ok, LIMIT);
    let refused = audit_rows(&w.fx, "agent.enroll")
        .await
        .into_iter()
        .filter(|r| r.2["reason"] == json!("device_limit_reached"))
        .count();
    assert_eq!(refused, 25);
}

/// Finding 16 (issue 15): a malformed enrollment key and a rate-limited enrollment were
/// refused without an audit entry.
#[tokio::test]
async fn finding_16_malformed_key_and_rate_limited_enrollments_are_audited() {
    let w = world().await;
    let client = common::agents::client_from_random_loopback();
    let mut statuses = Vec::new();
    for i in 0..11 {
        let key = if i == 0 {
            "not-a-key".to_owned()
        } else {
            "cd".repeat(32)
        };
        let body = json!({"enrollmentKey": key, "hostname": "h", "osType": "linux",
                          "osVersion": "1", "architecture": "x", "agentVersion": "1"});
        let res = client
            .post(w.server.url("/api/v1/agents/enroll"))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses[0], 400, "a malformed key is a bad request");
    assert_eq!(statuses[1..10], [401; 9]);
    assert_eq!(statuses[10], 429);
    // refusals without an organization are aggregated per source and minute (finding 17):
    // the first of each reason is written at once, the repeats as one event with their count
    let state = &w.server.state;
    state
        .failure_audit
        .flush_all(&state.store, state.clock.now())
        .await
        .unwrap();
    let rows = audit_rows(&w.fx, "agent.enroll").await;
    let reasons: Vec<(String, Option<String>, String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.0.clone(),
                r.1.clone(),
                r.2["reason"].as_str().unwrap().to_owned(),
                r.2["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let denied = |reason: &str, count: i64| {
        (
            "system".to_owned(),
            Some("denied".to_owned()),
            reason.to_owned(),
            count,
        )
    };
    let want = vec![
        denied("enrollment_key_malformed", 1),
        denied("enrollment_key_not_found", 1),
        denied("rate_limited", 1),
        denied("enrollment_key_not_found", 8),
    ];
    assert_eq!(reasons, want);
    verify_all_chains(&w.server, &w.fx).await;
}

async fn user_call(w: &World, token: &str, method: reqwest::Method, path: &str) -> (u16, Value) {
    let res = w
        .server
        .http
        .request(method, w.server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Finding 3 (issue 15): a suspended or quarantined host came back as a new device by
/// enrolling again with a multi-use key; and there was no admin review of suspensions.
#[tokio::test]
async fn finding_03_held_hosts_cannot_reenroll_and_suspensions_are_reviewed() {
    let w = world().await;
    let key = w.key(100).await;
    let quarantined = enroll_ok(&w.server, &key, "held-q").await;
    let suspended = enroll_ok(&w.server, &key, "held-s").await;
    let admin =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgAdmin, None)
            .await;
    let token = mfa_token(&w.server, &w.fx, &admin).await;
    let (s, _) = user_call(
        &w,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/devices/{}/quarantine", quarantined.device_id),
    )
    .await;
    assert_eq!(s, 200);
    w.fx.exec(
        "UPDATE device_credentials SET suspended = true, suspended_at = now(),
                suspended_reason = 'cross_tenant_probe' WHERE device_id = $1",
        &[suspended.device_id],
    )
    .await;
    let devices_in_site = "SELECT count(*) FROM devices WHERE site_id = $1";
    let before = scalar_i64(&w.fx, devices_in_site, *w.site.as_uuid()).await;

    // re-enrolling either host name as a new device is refused and audited
    for host in ["held-q", "held-s"] {
        let (s, b) = enroll(&w.server, &enroll_body(&key, host), None).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("device_not_authorized")),
            "{host}: {b}"
        );
    }
    assert_eq!(
        scalar_i64(&w.fx, devices_in_site, *w.site.as_uuid()).await,
        before
    );
    let held: Vec<(String, String)> = audit_rows(&w.fx, "agent.enroll")
        .await
        .into_iter()
        .filter(|r| r.2["reason"] == json!("device_held"))
        .map(|r| {
            assert_eq!(r.0, w.org.to_string());
            assert_eq!(r.1.as_deref(), Some("denied"));
            (
                r.2["heldDeviceId"].as_str().unwrap().to_owned(),
                r.2["held"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        held,
        vec![
            (quarantined.device_id.to_string(), "quarantined".to_owned()),
            (suspended.device_id.to_string(), "suspended".to_owned()),
        ]
    );
    // another host name of the site still enrolls
    enroll_ok(&w.server, &key, "fresh-host").await;

    // the review: listed for a devices:write user whose session passed MFA
    let (s, b) = user_call(
        &w,
        &token,
        reqwest::Method::GET,
        "/api/v1/devices/suspended",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{b}");
    assert_eq!(items[0]["id"], json!(suspended.device_id));
    assert_eq!(items[0]["suspendedReason"], json!("cross_tenant_probe"));
    let (s, b) = user_call(
        &w,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/devices/suspended?orgId={}", w.org),
    )
    .await;
    assert_eq!((s, b["items"].as_array().unwrap().len()), (200, 1));
    // without MFA (a role that does not force it) or with a read-only role: 403
    let writer_role = common::audit::custom_role(&w.fx, w.partner, &["devices:write"]).await;
    let writer = common::audit::org_user_with_role(&w.fx, w.partner, w.org, writer_role).await;
    let no_mfa = w.server.token_for(&w.fx, &writer).await;
    let viewer =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgViewer, None)
            .await;
    let viewer = mfa_token(&w.server, &w.fx, &viewer).await;
    let lift = format!("/api/v1/devices/{}/unsuspend", suspended.device_id);
    for t in [&no_mfa, &viewer] {
        let (s, _) = user_call(&w, t, reqwest::Method::GET, "/api/v1/devices/suspended").await;
        assert_eq!(s, 403);
        let (s, _) = user_call(&w, t, reqwest::Method::POST, &lift).await;
        assert_eq!(s, 403);
    }
    let (s, b) = user_call(&w, &no_mfa, reqwest::Method::POST, &lift).await;
    assert_eq!((s, b["error"].as_str()), (403, Some("mfa_required")), "{b}");
    // the suspended agent is refused until the lift
    let path = format!("/api/v1/agents/{}/heartbeat", suspended.agent_id);
    let (s, _, b) = agent_post(&w.server, &path, &suspended.token, &beat()).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("token_suspended")));

    // the lift: audited with the reason it lifts, the agent works again at once
    let (s, b) = user_call(&w, &token, reqwest::Method::POST, &lift).await;
    assert_eq!(s, 200, "{b}");
    let lifts = audit_rows(&w.fx, "device.suspension.lift").await;
    assert_eq!(lifts.len(), 1);
    assert_eq!(lifts[0].0, w.org.to_string());
    assert_eq!(lifts[0].2["reason"], json!("cross_tenant_probe"));
    let (s, _, _) = agent_post(&w.server, &path, &suspended.token, &beat()).await;
    assert_eq!(s, 200);
    let (s, b) = user_call(&w, &token, reqwest::Method::POST, &lift).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (409, Some("not_suspended")),
        "{b}"
    );
    let (s, b) = user_call(
        &w,
        &token,
        reqwest::Method::GET,
        "/api/v1/devices/suspended",
    )
    .await;
    assert_eq!((s, b["items"].as_array().unwrap().len()), (200, 0));
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn finding_05_agents_behind_one_nat_are_not_held_to_the_per_ip_user_limit() {
    // the SPEC per-IP limit of user routes: 300 / min
    let server = TestServer::start_with(|s| {
        s.retain(|(k, _)| k != "BREEZE_GLOBAL_RATE_LIMIT_PER_MIN");
        s.push(("BREEZE_GLOBAL_RATE_LIMIT_PER_MIN".into(), "300".into()));
    })
    .await;
    let w = world_with(server).await;
    let key = w.key(20).await;
    let mut agents = Vec::new();
    for i in 0..11 {
        agents.push(enroll_ok(&w.server, &key, &format!("nat-{i}")).await);
    }
    // 11 agents behind one address, 28 heartbeats each (308 requests), each agent well
    // inside its own per-agent, per-device+IP and per-organization limits
    let mut refused = 0;
    for _ in 0..28 {
        for a in &agents {
            let (s, _, b) = agent_post(
                &w.server,
                &format!("/api/v1/agents/{}/heartbeat", a.agent_id),
                &a.token,
                &beat(),
            )
            .await;
            if s != 200 {
                refused += 1;
                assert_eq!(s, 429, "{b}");
            }
        }
    }
    assert_eq!(
        refused, 0,
        "agents behind one NAT were throttled by the per-IP limit"
    );

    // agent routes keep a per-IP cap of their own (much higher in production)
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_AGENT_IP_RATE_LIMIT_PER_MIN".into(), "20".into()));
    })
    .await;
    let w = world_with(server).await;
    let key = w.key(2).await;
    let a = enroll_ok(&w.server, &key, "capped").await;
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let (s, _, _) = agent_post(
            &w.server,
            &format!("/api/v1/agents/{}/heartbeat", a.agent_id),
            &a.token,
            &beat(),
        )
        .await;
        statuses.push(s);
    }
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses[20], 429);
}

const PARTNER_SUSPEND: &str = "UPDATE partners SET status = 'suspended' WHERE id = $1";
const PARTNER_ACTIVATE: &str =
    "UPDATE partners SET status = 'active', deleted_at = NULL WHERE id = $1";
const PARTNER_DELETE: &str = "UPDATE partners SET deleted_at = now() WHERE id = $1";

#[tokio::test]
async fn finding_06_partner_suspended_or_deleted_refuses_agent_heartbeats() {
    let w = world().await;
    let key = w.key(10).await;
    let a = enroll_ok(&w.server, &key, "partner-host").await;
    let path = format!("/api/v1/agents/{}/heartbeat", a.agent_id);
    let p = *w.partner.as_uuid();
    let (s, _, b) = agent_post(&w.server, &path, &a.token, &beat()).await;
    assert_eq!(s, 200, "{b}");
    for (what, sql) in [("suspended", PARTNER_SUSPEND), ("deleted", PARTNER_DELETE)] {
        w.fx.exec(sql, &[p]).await;
        for token in [&a.token, &a.watchdog] {
            let (s, _, b) = agent_post(&w.server, &path, token, &beat()).await;
            assert_eq!(
                (s, b["code"].as_str()),
                (403, Some("tenant_inactive")),
                "agent of a {what} partner: {b}"
            );
        }
        w.fx.exec(PARTNER_ACTIVATE, &[p]).await;
        let (s, _, b) = agent_post(&w.server, &path, &a.token, &beat()).await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test]
async fn finding_06_partner_suspended_or_deleted_refuses_enrollment() {
    let w = world().await;
    let key = w.key(10).await;
    let p = *w.partner.as_uuid();
    let devices = "SELECT count(*) FROM devices WHERE org_id = $1";
    enroll_ok(&w.server, &key, "before").await;
    for (what, sql) in [("suspended", PARTNER_SUSPEND), ("deleted", PARTNER_DELETE)] {
        w.fx.exec(sql, &[p]).await;
        let n = scalar_i64(&w.fx, devices, *w.org.as_uuid()).await;
        let (s, b) = enroll(&w.server, &enroll_body(&key, &format!("h-{what}")), None).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("tenant_inactive")),
            "enrollment under a {what} partner: {b}"
        );
        assert_eq!(scalar_i64(&w.fx, devices, *w.org.as_uuid()).await, n);
        w.fx.exec(PARTNER_ACTIVATE, &[p]).await;
    }
    enroll_ok(&w.server, &key, "after").await;
    let org = w.org.to_string();
    let refused: Vec<String> = audit_rows(&w.fx, "agent.enroll")
        .await
        .iter()
        .filter(|r| r.1.as_deref() != Some("success"))
        .map(|r| format!("{}:{}", r.0, r.2["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        refused,
        vec![
            format!("{org}:tenant_inactive"),
            format!("{org}:tenant_inactive")
        ]
    );
    verify_all_chains(&w.server, &w.fx).await;
}

#[tokio::test]
async fn finding_20_agent_hostnames_with_control_characters_are_refused() {
    let w = world().await;
    let key = w.key(50).await;
    let devices = "SELECT count(*) FROM devices WHERE org_id = $1";
    let n = scalar_i64(&w.fx, devices, *w.org.as_uuid()).await;
    for host in [
        "host\nINFO forged log line",
        "host\u{1b}[31mred",
        "\u{1b}[2J",
        "host\r",
        "host\u{85}",
        "host\u{9b}1m",
        "host\u{7f}",
    ] {
        let (s, b) = enroll(&w.server, &enroll_body(&key, host), None).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (400, Some("invalid_request")),
            "hostname {host:?}: {b}"
        );
        assert!(b.to_string().contains("hostname"), "{b}");
        let mut body = enroll_body(&key, "fine-host");
        body["osVersion"] = json!(host);
        let (s, b) = enroll(&w.server, &body, None).await;
        assert_eq!(s, 400, "osVersion {host:?}: {b}");
    }
    assert_eq!(scalar_i64(&w.fx, devices, *w.org.as_uuid()).await, n);
    // a heartbeat's informational hostname with controls is dropped, never stored or echoed
    let a = enroll_ok(&w.server, &key, "clean-host").await;
    let path = format!("/api/v1/agents/{}/heartbeat", a.agent_id);
    let mut hb = beat();
    hb["hostname"] = json!("clean-host\n\u{1b}[31mforged");
    hb["lastUser"] = json!("eve\u{1b}[0m");
    let (s, _, b) = agent_post(&w.server, &path, &a.token, &hb).await;
    assert_eq!(s, 200, "{b}");
    assert!(!b.to_string().contains('\u{1b}'), "{b}");
    let stored: i64 = scalar_i64(
        &w.fx,
        "SELECT count(*) FROM device_heartbeats WHERE device_id = $1
            AND (last_user IS NULL OR last_user !~ '[[:cntrl:]]')",
        a.device_id,
    )
    .await;
    assert_eq!(stored, 1);
    let hostname_clean = scalar_i64(
        &w.fx,
        "SELECT count(*) FROM devices WHERE id = $1 AND hostname = 'clean-host'",
        a.device_id,
    )
    .await;
    assert_eq!(hostname_clean, 1);
}
