//! End to end with real processes: the `breeze-server` binary (twice, as two replicas on one
//! database) and the reference agent binary `breeze-agent`, over loopback HTTP and
//! WebSocket. Enrollment, a script queued by a user and run by the real agent, audit chain
//! verification, quarantine and decommission seen by the agent, probe suspension, and
//! cross-replica delivery.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use std::time::Duration;

use crate::common::agents::{
    KeyFixture, WsIn, audit_rows, beat, enrollment_key, mfa_token, verify_all_chains, ws_next,
    ws_send,
};
use crate::common::procs::{
    agent_binary, agent_cmd, agent_enroll, agent_run, poll, server_binary, server_process,
    yaml_value,
};
use crate::common::{Fixtures, TestServer, system_context};
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgId, PartnerId, SiteId};
use serde_json::{Value, json};

/// The common start of these tests: both binaries built, an in-process server for its
/// database, fixtures and keys, one organization with a site and an enrollment key (10 uses,
/// an hour), and a scratch directory for the processes' files.
struct World {
    harness: TestServer,
    fx: Fixtures,
    partner: PartnerId,
    org: OrgId,
    site: SiteId,
    key: KeyFixture,
    tmp: std::path::PathBuf,
}

async fn world() -> World {
    agent_binary();
    server_binary();
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&harness, &fx, org, site, 10, 3600, None).await;
    World {
        harness,
        fx,
        partner,
        org,
        site,
        key,
        tmp: scratch(),
    }
}

/// A fresh scratch directory.
fn scratch() -> std::path::PathBuf {
    let tmp = std::env::temp_dir().join(format!("breeze-e2e-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    tmp
}

async fn ws_generation(fx: &Fixtures, agent_id: &str) -> i64 {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query_scalar(
        "SELECT coalesce(c.ws_generation, 0) FROM devices d
           LEFT JOIN device_credentials c ON c.device_id = d.id WHERE d.agent_id = $1",
    )
    .bind(agent_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap()
}

async fn queue(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    device: &str,
    content: &str,
) -> String {
    let res = http
        .post(format!("{base}/api/v1/devices/{device}/commands"))
        .bearer_auth(token)
        .json(&json!({"type": "run_script",
                      "payload": {"content": content, "language": "bash", "timeoutSeconds": 30}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

async fn command_view(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    device: &str,
    id: &str,
) -> Value {
    http.get(format!("{base}/api/v1/devices/{device}/commands/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_and_real_agent_end_to_end() {
    // an in-process server only for its database, fixtures and keys
    let World {
        harness,
        fx,
        partner,
        org,
        key,
        tmp,
        ..
    } = world().await;
    let tech = fx
        .org_user(partner, org, SeededRole::OrgTechnician, None)
        .await;
    let user_token = mfa_token(&harness, &fx, &tech).await;

    let (server_a, base_a) = server_process(&harness.db, &tmp, "server-a").await;
    let (server_b, base_b) = server_process(&harness.db, &tmp, "server-b").await;

    // enroll the real agent against replica B, run it
    let agent_dir = tmp.join("agent");
    agent_enroll(&agent_dir, &base_b, &key.raw);
    let agent_id = yaml_value(&agent_dir.join("agent.yaml"), "agent_id");
    let device = yaml_value(&agent_dir.join("agent.yaml"), "device_id");
    let mut agent = agent_run(&agent_dir, &tmp, "agent");
    poll("the agent's websocket", || async {
        ws_generation(&fx, &agent_id).await >= 1
    })
    .await;

    // a user queues a script on replica A; the agent (connected to B) runs it
    let http = reqwest::Client::new();
    let id = queue(&http, &base_a, &user_token, &device, "echo hello-from-e2e").await;
    poll("the command result", || {
        let (http, base_a, user_token, device, id) = (&http, &base_a, &user_token, &device, &id);
        async move {
            command_view(http, base_a, user_token, device, id).await["status"] == "completed"
        }
    })
    .await;
    let view = command_view(&http, &base_a, &user_token, &device, &id).await;
    assert_eq!(view["exitCode"], 0, "{view}");
    assert!(view["stdout"].as_str().unwrap().contains("hello-from-e2e"));
    assert_eq!(audit_rows(&fx, "agent.enroll").await.len(), 1);
    assert_eq!(audit_rows(&fx, "device.command.execute").await.len(), 1);
    assert_eq!(audit_rows(&fx, "device.command.result").await.len(), 1);
    verify_all_chains(&harness, &fx).await;

    // quarantine: the socket closes with 4001 and the agent is refused
    let token = yaml_value(&agent_dir.join("secrets.yaml"), "auth_token");
    fx.exec(
        "UPDATE devices SET status = 'quarantined' WHERE id = $1",
        &[device.parse().unwrap()],
    )
    .await;
    poll("the agent to see 4001", || async {
        agent.log().contains("code=4001")
    })
    .await;
    let res = http
        .post(format!("{base_b}/api/v1/agents/{agent_id}/heartbeat"))
        .bearer_auth(&token)
        .json(&beat())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "device_not_authorized");

    // back online, restart the agent, then decommission: 4040
    fx.exec(
        "UPDATE devices SET status = 'offline' WHERE id = $1",
        &[device.parse().unwrap()],
    )
    .await;
    drop(agent);
    let before = ws_generation(&fx, &agent_id).await;
    agent = agent_run(&agent_dir, &tmp, "agent-2");
    poll("the agent to reconnect", || async {
        ws_generation(&fx, &agent_id).await > before
    })
    .await;
    fx.exec(
        "UPDATE devices SET status = 'decommissioned' WHERE id = $1",
        &[device.parse().unwrap()],
    )
    .await;
    poll("the agent to see 4040", || async {
        agent.log().contains("code=4040")
    })
    .await;
    drop(agent);
    drop(server_a);
    drop(server_b);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_frames_from_a_real_agent_token_suspend_it() {
    let World {
        harness,
        fx,
        partner,
        org,
        key,
        tmp,
        ..
    } = world().await;
    let org2 = fx.org(partner).await;
    let site2 = fx.site(org2).await;
    let key2 = enrollment_key(&harness, &fx, org2, site2, 10, 3600, None).await;
    let tech2 = fx
        .org_user(partner, org2, SeededRole::OrgTechnician, None)
        .await;
    let token2 = mfa_token(&harness, &fx, &tech2).await;

    let (server, base) = server_process(&harness.db, &tmp, "server").await;
    // two real enrollments; the victim's agent is not running, so its command stays queued
    let dir = tmp.join("attacker");
    agent_enroll(&dir, &base, &key.raw);
    let victim_dir = tmp.join("victim");
    agent_enroll(&victim_dir, &base, &key2.raw);
    let victim_device = yaml_value(&victim_dir.join("agent.yaml"), "device_id");
    let http = reqwest::Client::new();
    let victim_cmd = queue(&http, &base, &token2, &victim_device, "echo secret").await;

    // the attacker's real token, over a hand-made socket to the real server process
    let agent_id = yaml_value(&dir.join("agent.yaml"), "agent_id");
    let token = yaml_value(&dir.join("secrets.yaml"), "auth_token");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // (the agent is bound to its key: the socket must be signed like the agent would)
    let agent_key = common::agents::agent_key(&dir);
    let mut ws = common::agents::ws_connect_signed(addr, &agent_id, &token, Some(&agent_key))
        .await
        .unwrap();
    let forged = json!({"type": "command_result", "commandId": victim_cmd,
                        "status": "completed", "exitCode": 0, "stdout": "pwned"});
    let mut closed = None;
    for _ in 0..5 {
        ws_send(&mut ws, &forged).await;
        loop {
            match ws_next(&mut ws).await {
                WsIn::Json(v) if v["type"] == "connected" || v["type"] == "ping" => {}
                WsIn::Json(v) => {
                    assert_eq!(v["code"], "PROCESSING_ERROR");
                    break;
                }
                WsIn::Close(code) => {
                    closed = Some(code);
                    break;
                }
                WsIn::Ended => panic!("socket ended without a close frame"),
            }
        }
    }
    assert_eq!(closed, Some(4001));
    let res = http
        .post(format!("{base}/api/v1/agents/{agent_id}/heartbeat"))
        .bearer_auth(&token)
        .json(&beat())
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "token_suspended");
    let view = command_view(&http, &base, &token2, &victim_device, &victim_cmd).await;
    assert_eq!(view["status"], "pending");
    let rows = audit_rows(&fx, "agent.token.suspended").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, org.to_string());
    verify_all_chains(&harness, &fx).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

async fn credential_hashes(
    fx: &Fixtures,
    device: &str,
) -> (String, Option<String>, Option<String>) {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query_as(
        "SELECT agent_hash, agent_pending_hash, agent_previous_hash FROM device_credentials
          WHERE device_id = $1::uuid",
    )
    .bind(device)
    .fetch_one(&mut *tx)
    .await
    .unwrap()
}

fn token_hash(token: &str) -> String {
    breeze_crypto::credentials::AgentToken::parse(token)
        .unwrap()
        .hash()
        .to_hex()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_the_real_agent_survives_a_kill_between_phases() {
    let World {
        harness,
        fx,
        key,
        tmp,
        ..
    } = world().await;
    let (server, base) = server_process(&harness.db, &tmp, "server").await;
    let dir = tmp.join("agent");
    agent_enroll(&dir, &base, &key.raw);
    let agent_id = yaml_value(&dir.join("agent.yaml"), "agent_id");
    let device = yaml_value(&dir.join("agent.yaml"), "device_id");
    let enrolled_token = yaml_value(&dir.join("secrets.yaml"), "auth_token");

    // 1. a due rotation, run by the real agent on its next heartbeat (staged, confirmed)
    fx.exec(
        "UPDATE device_credentials SET rotation_due_at = now() - interval '1 minute'
          WHERE device_id = $1",
        &[device.parse().unwrap()],
    )
    .await;
    let agent = agent_run(&dir, &tmp, "agent-1");
    // confirmed on the server, then saved by the agent as its current token (it writes the
    // file after the confirmation answer, so the two are polled together)
    poll("the agent's own rotation, confirmed and saved", || async {
        let (current, pending, previous) = credential_hashes(&fx, &device).await;
        let saved = std::fs::read_to_string(dir.join("secrets.yaml"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("auth_token: "))
                    .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_owned())
            });
        pending.is_none()
            && previous.as_deref() == Some(token_hash(&enrolled_token).as_str())
            && current != token_hash(&enrolled_token)
            && saved.is_some_and(|t| t.starts_with("brz_") && token_hash(&t) == current)
    })
    .await;
    drop(agent); // SIGKILL
    let rotated = yaml_value(&dir.join("secrets.yaml"), "auth_token");
    assert_eq!(
        credential_hashes(&fx, &device).await.0,
        token_hash(&rotated),
        "the agent saved the confirmed token"
    );

    // 2. phase 1 done, then the agent dies before phase 2: the staged tokens are on disk
    let http = reqwest::Client::new();
    let agent_key = common::agents::agent_key(&dir);
    let staged: Value = common::agents::signed_post(
        &http,
        &format!("{base}/api/v1/agents/{agent_id}/rotate-token"),
        &rotated,
        Some((&agent_key, &agent_id)),
        &json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let secrets = dir.join("secrets.yaml");
    let current = std::fs::read_to_string(&secrets).unwrap();
    let doc = format!(
        "{}pending:\n  auth_token: {}\n  watchdog_auth_token: {}\n  helper_auth_token: {}\n  expires_at: {}\n",
        current
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
        staged["authToken"].as_str().unwrap(),
        staged["watchdogAuthToken"].as_str().unwrap(),
        staged["helperAuthToken"].as_str().unwrap(),
        staged["pendingExpiresAt"].as_str().unwrap(),
    );
    std::fs::write(&secrets, doc).unwrap();
    let pending_hash = token_hash(staged["authToken"].as_str().unwrap());
    assert_eq!(
        credential_hashes(&fx, &device).await.1.as_deref(),
        Some(pending_hash.as_str())
    );

    // restarted, the agent resumes: confirms with the pending token, never stranded
    let agent = agent_run(&dir, &tmp, "agent-2");
    poll("the resumed confirmation", || async {
        let (current, pending, _) = credential_hashes(&fx, &device).await;
        pending.is_none() && current == pending_hash
    })
    .await;
    poll("the agent to save the promoted token", || async {
        std::fs::read_to_string(&secrets).is_ok_and(|t| !t.contains("pending"))
            && token_hash(&yaml_value(&secrets, "auth_token")) == pending_hash
    })
    .await;
    assert!(audit_rows(&fx, "agent.token.rotate.staged").await.len() >= 2);
    assert!(audit_rows(&fx, "agent.token.rotate.confirmed").await.len() >= 2);
    verify_all_chains(&harness, &fx).await;
    drop(agent);
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Enrolls a device over HTTP against a server process; returns (agent id, token).
async fn http_enroll(base: &str, key: &KeyFixture, hostname: &str) -> (String, String) {
    let res = common::agents::client_from_random_loopback()
        .post(format!("{base}/api/v1/agents/enroll"))
        .json(&common::agents::enroll_body(key, hostname))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    (
        v["agentId"].as_str().unwrap().to_owned(),
        v["authToken"].as_str().unwrap().to_owned(),
    )
}

/// Issue 15, finding 1, end to end: a real agent's device is moved through the API while
/// devices of another partner keep heartbeating; every heartbeat answers 200 and a command
/// queued after the move is delivered to the moved agent and run by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_01_e2e_moved_agent_and_other_tenants_keep_heartbeating() {
    let World {
        harness,
        fx,
        partner,
        org,
        key,
        tmp,
        ..
    } = world().await;
    let site2 = fx.site(org).await;
    let admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let user_token = mfa_token(&harness, &fx, &admin).await;
    // another partner's devices
    let other_partner = fx.partner().await;
    let other_org = fx.org(other_partner).await;
    let other_site = fx.site(other_org).await;
    const OTHERS: usize = 20;
    let other_key = enrollment_key(&harness, &fx, other_org, other_site, 30, 3600, None).await;

    let (server, base) = server_process(&harness.db, &tmp, "server").await;
    let agent_dir = tmp.join("agent");
    agent_enroll(&agent_dir, &base, &key.raw);
    let device = yaml_value(&agent_dir.join("agent.yaml"), "device_id");
    // heartbeat every 5 seconds (the protocol's minimum) instead of 60
    let agent_yaml = agent_dir.join("agent.yaml");
    let text = std::fs::read_to_string(&agent_yaml).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("heartbeat_interval_seconds:") {
                "heartbeat_interval_seconds: 5\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&agent_yaml, text).unwrap();
    let agent = agent_run(&agent_dir, &tmp, "agent");
    let beats_of = |device: String| {
        let fx = &fx;
        async move {
            let mut tx = fx.pool().begin().await.unwrap();
            system_context(&mut tx).await;
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM device_heartbeats WHERE device_id = $1::uuid",
            )
            .bind(device)
            .fetch_one(&mut *tx)
            .await
            .unwrap()
        }
    };
    poll("the agent's first heartbeat", || {
        let beats = beats_of(device.clone());
        async move { beats.await > 0 }
    })
    .await;

    // the other partner's devices heartbeat continuously from now on: each every 3 s from
    // its own address (inside the per-device, per-IP and per-org agent limits), staggered,
    // so some are always in flight
    let mut others = Vec::new();
    for i in 0..OTHERS {
        others.push(http_enroll(&base, &other_key, &format!("other-{i}")).await);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut pumps = tokio::task::JoinSet::new();
    for (i, (agent_id, token)) in others.into_iter().enumerate() {
        let (stop, base) = (std::sync::Arc::clone(&stop), base.clone());
        pumps.spawn(async move {
            let http = common::agents::client_from_random_loopback();
            tokio::time::sleep(Duration::from_millis(150 * i as u64)).await;
            let mut statuses: Vec<u16> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let res = http
                    .post(format!("{base}/api/v1/agents/{agent_id}/heartbeat"))
                    .bearer_auth(&token)
                    .json(&beat())
                    .send()
                    .await
                    .unwrap();
                statuses.push(res.status().as_u16());
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            statuses
        });
    }

    // move the real agent's device through the API, then queue a command
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/v1/devices/{device}/move"))
        .bearer_auth(&user_token)
        .json(&json!({"siteId": site2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = queue(&http, &base, &user_token, &device, "echo after-the-move").await;
    poll("the moved agent to run the command", || {
        let (http, base, user_token, device, id) = (&http, &base, &user_token, &device, &id);
        async move {
            command_view(http, base, user_token, device, id).await["status"] == "completed"
        }
    })
    .await;
    let view = command_view(&http, &base, &user_token, &device, &id).await;
    assert!(view["stdout"].as_str().unwrap().contains("after-the-move"));
    // two more of the moved agent's heartbeats while the others keep going
    tokio::time::sleep(Duration::from_secs(11)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = Vec::new();
    while let Some(done) = pumps.join_next().await {
        statuses.extend(done.unwrap());
    }
    assert!(
        statuses.len() > 3 * OTHERS,
        "only {} heartbeats",
        statuses.len()
    );
    let failed: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} answered {failed:?}",
        failed.len(),
        statuses.len()
    );
    let log = agent.log();
    assert!(!log.contains("heartbeat failed"), "{log}");
    let moves = audit_rows(&fx, "device.move").await;
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].2["heartbeatMoved"], json!(true));
    verify_all_chains(&harness, &fx).await;
    drop(agent);
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Issue 15, finding 3, end to end: the real agent's host is quarantined through the API;
/// enrolling it again (a new config directory, a multi-use key) is refused with 403
/// `device_not_authorized` and audited with reason `device_held`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_03_e2e_reenrolment_of_a_quarantined_host_is_refused() {
    let World {
        harness,
        fx,
        partner,
        org,
        site,
        key,
        tmp,
    } = world().await;
    let admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let user_token = mfa_token(&harness, &fx, &admin).await;
    let (server, base) = server_process(&harness.db, &tmp, "server").await;
    let first = tmp.join("agent");
    agent_enroll(&first, &base, &key.raw);
    let device = yaml_value(&first.join("agent.yaml"), "device_id");
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/v1/devices/{device}/quarantine"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // the same host enrolls again from scratch: refused
    let again = agent_cmd(&tmp.join("agent-again"))
        .args(["enroll", &key.raw, "--server", &base])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "re-enrolment succeeded: {stderr}");
    // and over plain HTTP with the host name the device has: 403 with the documented code
    let hostname: String = {
        let mut tx = fx.pool().begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query_scalar("SELECT hostname FROM devices WHERE id = $1::uuid")
            .bind(&device)
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    let res = common::agents::client_from_random_loopback()
        .post(format!("{base}/api/v1/agents/enroll"))
        .json(&common::agents::enroll_body(&key, &hostname))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "device_not_authorized");
    let held: Vec<_> = audit_rows(&fx, "agent.enroll")
        .await
        .into_iter()
        .filter(|r| r.2["reason"] == json!("device_held"))
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    for r in &held {
        assert_eq!(r.0, org.to_string());
        assert_eq!(r.1.as_deref(), Some("denied"));
        assert_eq!(r.2["heldDeviceId"], json!(device));
        assert_eq!(r.2["held"], json!("quarantined"));
    }
    let devices: i64 = {
        let mut tx = fx.pool().begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query_scalar("SELECT count(*) FROM devices WHERE site_id = $1")
            .bind(site.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(devices, 1, "no new device for the held host");
    verify_all_chains(&harness, &fx).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The permission cache across replicas (issue 16): two real `breeze-server` processes on
/// one database. Replica B serves a user's requests from its permission cache; a role change
/// made through replica A's API denies the user's very next request on B.
#[tokio::test]
async fn permission_cache_a_role_change_through_replica_a_denies_the_next_request_on_b() {
    server_binary();
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let target = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let admin_token = mfa_token(&harness, &fx, &admin).await;
    let target_token = mfa_token(&harness, &fx, &target).await;

    let tmp = scratch();
    let (server_a, base_a) = server_process(&harness.db, &tmp, "server-a").await;
    let (server_b, base_b) = server_process(&harness.db, &tmp, "server-b").await;
    let http = reqwest::Client::new();
    let audit_on_b = || async {
        http.get(format!("{base_b}/api/v1/audit"))
            .bearer_auth(&target_token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let set_role_without_triggers = |role: SeededRole| {
        let url = harness.db.superuser_url();
        let user = *target.id.as_uuid();
        async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("SET LOCAL session_replication_role = replica")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("UPDATE org_memberships SET role_id = $2 WHERE user_id = $1")
                .bind(user)
                .bind(common::seeded(role).as_uuid())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };

    // B reads the user's role once and caches it
    assert_eq!(audit_on_b().await, 200, "{}", server_b.log());
    // the cache is really in use: a change that bypasses the version triggers (superuser,
    // triggers off) is not seen by B within the TTL
    set_role_without_triggers(SeededRole::OrgViewer).await;
    assert_eq!(audit_on_b().await, 200, "B must answer from its cache");
    set_role_without_triggers(SeededRole::OrgAdmin).await;

    // the role change through replica A's API
    let r = http
        .put(format!(
            "{base_a}/api/v1/users/{}/membership",
            target.id.as_uuid()
        ))
        .bearer_auth(&admin_token)
        .json(&json!({
            "kind": "organization",
            "orgId": org,
            "roleId": common::seeded(SeededRole::OrgViewer).as_uuid(),
        }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(
        status,
        200,
        "{} {}",
        r.text().await.unwrap(),
        server_a.log()
    );
    // the very next request on B is denied: an Org Viewer has no audit:read
    assert_eq!(audit_on_b().await, 403, "{}", server_b.log());
    drop((server_a, server_b));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Runs `tests/httpsig_client/agent_request.py` (the `http-message-signatures` package
/// from PyPI) as a separate process; its one JSON line.
fn python_agent_request(args: &[&str]) -> Value {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/httpsig_client/agent_request.py");
    let out = std::process::Command::new(common::webhooks::test_python())
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "agent_request.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// A real server process and a real agent enrolled on it (bound to its key, not running),
/// with a technician's token for the organization.
struct BoundAgent {
    harness: TestServer,
    fx: Fixtures,
    user_token: String,
    tmp: std::path::PathBuf,
    server: common::procs::Proc,
    base: String,
    dir: std::path::PathBuf,
    agent_id: String,
    device: String,
}

async fn bound_agent() -> BoundAgent {
    let World {
        harness,
        fx,
        partner,
        org,
        key,
        tmp,
        ..
    } = world().await;
    let tech = fx
        .org_user(partner, org, SeededRole::OrgTechnician, None)
        .await;
    let user_token = mfa_token(&harness, &fx, &tech).await;
    let (server, base) = server_process(&harness.db, &tmp, "server").await;
    let dir = tmp.join("agent");
    agent_enroll(&dir, &base, &key.raw);
    let agent_id = yaml_value(&dir.join("agent.yaml"), "agent_id");
    let device = yaml_value(&dir.join("agent.yaml"), "device_id");
    BoundAgent {
        harness,
        fx,
        user_token,
        tmp,
        server,
        base,
        dir,
        agent_id,
        device,
    }
}

/// SPEC 17 against real processes: the real agent is bound to its key at enrollment; its
/// token copied to another process (without the key) is refused and audited while the
/// real agent keeps working; a request signed with the device's key by an independent
/// RFC 9421 implementation (the `http-message-signatures` package) is accepted, and the
/// same request replayed is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_token_is_refused_from_another_process_while_the_real_agent_keeps_working() {
    let BoundAgent {
        harness,
        fx,
        user_token,
        tmp,
        server,
        base,
        dir,
        agent_id,
        device,
    } = bound_agent().await;
    let secrets = std::fs::read_to_string(dir.join("secrets.yaml")).unwrap();
    assert!(
        secrets.contains("signing_key: "),
        "the key is kept in secrets.yaml"
    );
    let agent = agent_run(&dir, &tmp, "agent");
    poll("the agent's signed websocket", || async {
        ws_generation(&fx, &agent_id).await >= 1
    })
    .await;

    // another process with the copied token only, then with a key of its own
    let token = yaml_value(&dir.join("secrets.yaml"), "auth_token");
    let url = format!("{base}/api/v1/agents/{agent_id}/heartbeat");
    let thief = python_agent_request(&["--url", &url, "--token", &token, "--agent-id", &agent_id]);
    assert_eq!(thief["status"], 401, "{thief}");
    assert_eq!(thief["code"], "signature_required");
    let forger = python_agent_request(&[
        "--url",
        &url,
        "--token",
        &token,
        "--agent-id",
        &agent_id,
        "--own-key",
    ]);
    assert_eq!(forger["status"], 401, "{forger}");
    assert_eq!(forger["code"], "signature_invalid");

    // the device's own key in an independent implementation: accepted once, never twice
    let seed = yaml_value(&dir.join("secrets.yaml"), "signing_key");
    let genuine = python_agent_request(&[
        "--url",
        &url,
        "--token",
        &token,
        "--agent-id",
        &agent_id,
        "--seed",
        &seed,
        "--replay",
    ]);
    assert_eq!(genuine["status"], 200, "{genuine}");
    assert_eq!(genuine["replayStatus"], 401, "{genuine}");
    assert_eq!(genuine["replayCode"], "signature_invalid");

    let codes: Vec<String> = audit_rows(&fx, "agent.auth.signature_invalid")
        .await
        .iter()
        .map(|(_, _, d)| d["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        codes,
        [
            "signature_missing",
            "signature_invalid",
            "signature_replayed"
        ]
    );

    // the real agent was never disturbed: it runs a script queued now
    let http = reqwest::Client::new();
    let id = queue(&http, &base, &user_token, &device, "echo still-bound").await;
    poll("the real agent's result", || {
        let (http, base, user_token, device, id) = (&http, &base, &user_token, &device, &id);
        async move { command_view(http, base, user_token, device, id).await["status"] == "completed" }
    })
    .await;
    let view = command_view(&http, &base, &user_token, &device, &id).await;
    assert!(
        view["stdout"].as_str().unwrap().contains("still-bound"),
        "{view}"
    );
    verify_all_chains(&harness, &fx).await;
    drop(agent);
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// SPEC 17: an agent enrolled before device-bound credentials (no key on either side)
/// generates a key at its next start, saves it, registers it once with a request signed by
/// it, records that in `agent.yaml`, and from then on signs everything it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_enrolled_before_binding_registers_its_key_at_start() {
    let BoundAgent {
        harness: _harness,
        fx,
        user_token,
        tmp,
        server,
        base,
        dir,
        agent_id,
        device,
    } = bound_agent().await;

    // as enrolled before SPEC 17: no key on the server, none in the agent's files
    fx.exec(
        "UPDATE device_credentials SET public_key = NULL, key_bound_at = NULL WHERE device_id = $1",
        &[device.parse().unwrap()],
    )
    .await;
    for (file, drop_key) in [
        ("secrets.yaml", "signing_key:"),
        ("agent.yaml", "key_bound:"),
    ] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(drop_key))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(kept, text, "{file} had {drop_key}");
        std::fs::write(&path, kept).unwrap();
    }

    let agent = agent_run(&dir, &tmp, "agent");
    let stored = || async {
        let mut tx = fx.pool().begin().await.unwrap();
        system_context(&mut tx).await;
        let key: Option<String> = sqlx::query_scalar(
            "SELECT public_key FROM device_credentials WHERE device_id = $1::uuid",
        )
        .bind(&device)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        key
    };
    poll("the key registered by the agent", || async {
        stored().await.is_some()
    })
    .await;
    let seed = yaml_value(&dir.join("secrets.yaml"), "signing_key");
    let public = breeze_crypto::httpsig::DeviceSigningKey::from_base64url(&seed)
        .unwrap()
        .public_key()
        .to_base64url();
    assert_eq!(stored().await.as_deref(), Some(public.as_str()));
    poll("agent.yaml to record the binding", || async {
        std::fs::read_to_string(dir.join("agent.yaml"))
            .is_ok_and(|t| t.lines().any(|l| l.trim() == "key_bound: true"))
    })
    .await;
    assert_eq!(audit_rows(&fx, "agent.key.registered").await.len(), 1);

    // bound now: its token alone is refused, while the agent itself keeps working
    let http = reqwest::Client::new();
    let token = yaml_value(&dir.join("secrets.yaml"), "auth_token");
    let res = http
        .post(format!("{base}/api/v1/agents/{agent_id}/heartbeat"))
        .bearer_auth(&token)
        .json(&beat())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    poll("the agent's signed websocket", || async {
        ws_generation(&fx, &agent_id).await >= 1
    })
    .await;
    let id = queue(&http, &base, &user_token, &device, "echo bound-later").await;
    poll("the result", || {
        let (http, base, user_token, device, id) = (&http, &base, &user_token, &device, &id);
        async move { command_view(http, base, user_token, device, id).await["status"] == "completed" }
    })
    .await;
    drop(agent);
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}
