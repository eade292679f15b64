//! Device-bound agent credentials (SPEC 17) over real HTTP on real PostgreSQL (and Redis for
//! the replay cache across replicas): a bound device's bearer token alone is refused; every
//! alteration of a signed request is refused with its reason and audited; a refused thief's
//! address is never recorded as the device's; the one-time registration, the signed
//! rotation and the organization's policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::agents::{
    KeyFixture, audit_rows, beat, client_from_random_loopback, enroll, enroll_body, enrollment_key,
    mfa_token, same_db, signature_fields, signature_fields_at, verify_all_chains, ws_connect_addr,
    ws_connect_signed,
};
use crate::common::{TestServer, system_context, test_settings};
use breeze_authz::seeded::SeededRole;
use breeze_crypto::httpsig::DeviceSigningKey;
use breeze_crypto::httpsig::profile::{NEW_KEY_LABEL, RequestParts, SignOptions, sign_request};
use serde_json::{Value, json};

struct Bound {
    agent_id: String,
    device_id: uuid::Uuid,
    token: String,
    key: DeviceSigningKey,
}

async fn enroll_bound(server: &TestServer, key: &KeyFixture, host: &str) -> Bound {
    let device_key = DeviceSigningKey::generate().unwrap();
    let mut body = enroll_body(key, host);
    body["publicKey"] = json!(device_key.public_key().to_base64url());
    let (status, v) = enroll(server, &body, None).await;
    assert_eq!(status, 201, "{v}");
    Bound {
        agent_id: v["agentId"].as_str().unwrap().to_owned(),
        device_id: v["deviceId"].as_str().unwrap().parse().unwrap(),
        token: v["authToken"].as_str().unwrap().to_owned(),
        key: device_key,
    }
}

/// Sends `body` to `url` with `token` and the given signature fields; (status, code).
async fn send(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    fields: &[(&'static str, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut req = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json");
    for (name, value) in fields {
        req = req.header(*name, value);
    }
    let res = req.body(body.to_vec()).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn codes(rows: &[(String, Option<String>, Value)]) -> Vec<String> {
    rows.iter()
        .map(|(_, _, d)| d["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn ip_rows(fx: &common::Fixtures, device: uuid::Uuid) -> Vec<String> {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query_scalar("SELECT host(ip) FROM agent_ip_history WHERE device_id = $1")
        .bind(device)
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

/// A server, its fixtures, a partner, an organization and an enrollment key of one of its
/// sites.
async fn world() -> (
    TestServer,
    common::Fixtures,
    breeze_core::tenancy::PartnerId,
    breeze_core::tenancy::OrgId,
    KeyFixture,
) {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 5, 3600, None).await;
    (server, fx, partner, org, key)
}

#[tokio::test]
async fn a_bound_device_is_refused_its_token_alone_and_every_altered_signature() {
    let (server, fx, _, org, key) = world().await;
    let a = enroll_bound(&server, &key, "bound-1").await;
    let http = reqwest::Client::new();
    let url = server.url(&format!("/api/v1/agents/{}/heartbeat", a.agent_id));
    let body = serde_json::to_vec(&beat()).unwrap();

    // the real agent: signed, accepted
    let good = signature_fields(&a.key, &a.agent_id, "POST", &url, &body);
    let (status, v) = send(&http, &url, &a.token, &good, &body).await;
    assert_eq!(status, 200, "{v}");

    // a thief with the token (not the key), from another address: refused, never recorded
    let thief = client_from_random_loopback();
    let (status, v) = send(&thief, &url, &a.token, &[], &body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_required"))
    );
    let upgrade = ws_connect_addr(server.addr, &a.agent_id, &a.token).await;
    assert_eq!(upgrade.err(), Some(401));
    let thief_key = DeviceSigningKey::generate().unwrap();
    let forged = signature_fields(&thief_key, &a.agent_id, "POST", &url, &body);
    let (status, v) = send(&thief, &url, &a.token, &forged, &body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_invalid"))
    );
    assert_eq!(
        ip_rows(&fx, a.device_id).await,
        vec!["127.0.0.1".to_owned()]
    );

    // the genuine request replayed
    let (status, v) = send(&http, &url, &a.token, &good, &body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_invalid"))
    );

    // a signature over another path, method or body; outside the time window (by a margin:
    // these are built before the requests go out, and a signature made for 31 s ahead was
    // inside the 30 s window by the time a slow machine sent it; the exact bounds are
    // breeze-crypto's httpsig vectors, on a fixed clock)
    let other_path = server.url(&format!("/api/v1/agents/{}/rotate-token", a.agent_id));
    type Fields = Vec<(&'static str, String)>;
    let cases: Vec<(Fields, Vec<u8>)> = vec![
        (
            signature_fields(&a.key, &a.agent_id, "POST", &other_path, &body),
            body.clone(),
        ),
        (
            signature_fields(&a.key, &a.agent_id, "PUT", &url, &body),
            body.clone(),
        ),
        (
            signature_fields(&a.key, &a.agent_id, "POST", &url, &body),
            br#"{"status":"error","agentVersion":"1.0.0"}"#.to_vec(),
        ),
        (
            signature_fields(
                &a.key,
                &a.agent_id,
                "POST",
                &url,
                br#"{"status":"error","agentVersion":"1.0.0"}"#,
            )
            .into_iter()
            .map(|(n, v)| {
                if n == "content-digest" {
                    (n, breeze_crypto::httpsig::digest::content_digest(&body))
                } else {
                    (n, v)
                }
            })
            .collect(),
            body.clone(),
        ),
        (
            signature_fields_at(
                &a.key,
                &a.agent_id,
                "POST",
                &url,
                &body,
                server.state.clock.unix() - 315,
            ),
            body.clone(),
        ),
        (
            signature_fields_at(
                &a.key,
                &a.agent_id,
                "POST",
                &url,
                &body,
                server.state.clock.unix() + 45,
            ),
            body.clone(),
        ),
        (
            signature_fields(&a.key, "agt_someone_else", "POST", &url, &body),
            body.clone(),
        ),
    ];
    for (fields, sent) in &cases {
        let (status, v) = send(&http, &url, &a.token, fields, sent).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("signature_invalid")),
            "{fields:?}"
        );
    }

    // each refusal audited with its reason, on the device's organization chain
    let refused = audit_rows(&fx, "agent.auth.signature_invalid").await;
    assert_eq!(
        codes(&refused),
        [
            "signature_missing",
            "signature_missing",
            "signature_invalid",
            "signature_replayed",
            "signature_invalid",
            "signature_invalid",
            "content_digest_mismatch",
            "signature_invalid",
            "signature_expired",
            "signature_from_future",
            "signature_keyid",
        ]
    );
    assert!(
        refused
            .iter()
            .all(|(chain, result, _)| chain == &org.to_string()
                && result.as_deref() == Some("denied"))
    );

    // the genuine agent keeps working, over HTTP and the (signed) socket
    let fresh = signature_fields(&a.key, &a.agent_id, "POST", &url, &body);
    assert_eq!(send(&http, &url, &a.token, &fresh, &body).await.0, 200);
    assert!(
        ws_connect_signed(server.addr, &a.agent_id, &a.token, Some(&a.key))
            .await
            .is_ok()
    );
    verify_all_chains(&server, &fx).await;
}

#[tokio::test]
async fn a_device_enrolled_before_registers_its_key_once_with_proof_then_rotates_it() {
    let (server, fx, _, _, key) = world().await;
    let e = common::agents::enroll_ok(&server, &key, "legacy-1").await;
    let http = reqwest::Client::new();
    let beat_url = server.url(&format!("/api/v1/agents/{}/heartbeat", e.agent_id));
    let body = serde_json::to_vec(&beat()).unwrap();
    assert_eq!(
        send(&http, &beat_url, &e.token, &[], &body).await.0,
        200,
        "unbound: the token is enough"
    );

    let reg_url = server.url(&format!("/api/v1/agents/{}/key", e.agent_id));
    let first = DeviceSigningKey::generate().unwrap();
    let reg_body =
        serde_json::to_vec(&json!({"publicKey": first.public_key().to_base64url()})).unwrap();
    // without proof of the key, and with a signature by another key: refused
    let (status, v) = send(&http, &reg_url, &e.token, &[], &reg_body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_required")),
        "{v}"
    );
    let other = DeviceSigningKey::generate().unwrap();
    let wrong = signature_fields(&other, &e.agent_id, "POST", &reg_url, &reg_body);
    assert_eq!(
        send(&http, &reg_url, &e.token, &wrong, &reg_body).await.0,
        401
    );
    // a bad key: 400
    let bad = br#"{"publicKey":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let (status, v) = send(&http, &reg_url, &e.token, &[], bad).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    // signed with the key it registers: bound
    let proof = signature_fields(&first, &e.agent_id, "POST", &reg_url, &reg_body);
    let (status, v) = send(&http, &reg_url, &e.token, &proof, &reg_body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["publicKey"], first.public_key().to_base64url());
    let (status, v) = send(&http, &beat_url, &e.token, &[], &body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_required"))
    );
    // once: a second registration, even signed by the bound key
    let again = signature_fields(&first, &e.agent_id, "POST", &reg_url, &reg_body);
    let (status, v) = send(&http, &reg_url, &e.token, &again, &reg_body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("agent_key_already_registered"))
    );

    // rotation: signed with the current key (sig1) and the new one (sig2)
    let rot_url = server.url(&format!("/api/v1/agents/{}/key/rotate", e.agent_id));
    let second = DeviceSigningKey::generate().unwrap();
    let rot_body =
        serde_json::to_vec(&json!({"publicKey": second.public_key().to_base64url()})).unwrap();
    let only_old = signature_fields(&first, &e.agent_id, "POST", &rot_url, &rot_body);
    let (status, v) = send(&http, &rot_url, &e.token, &only_old, &rot_body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_invalid")),
        "no sig2: {v}"
    );
    let now = server.state.clock.unix();
    let old_sig = signature_fields(&first, &e.agent_id, "POST", &rot_url, &rot_body);
    let new_sig = sign_request(
        &second,
        &RequestParts {
            method: "POST",
            target_uri: &rot_url,
            body: &rot_body,
        },
        &SignOptions::new(&e.agent_id, now)
            .unwrap()
            .with_label(NEW_KEY_LABEL),
    )
    .unwrap();
    let both: Vec<(&'static str, String)> = old_sig
        .iter()
        .map(|(n, v)| match *n {
            "signature-input" => (*n, format!("{v}, {}", new_sig.signature_input)),
            "signature" => (*n, format!("{v}, {}", new_sig.signature)),
            _ => (*n, v.clone()),
        })
        .collect();
    let (status, v) = send(&http, &rot_url, &e.token, &both, &rot_body).await;
    assert_eq!(status, 200, "{v}");
    let by_old = signature_fields(&first, &e.agent_id, "POST", &beat_url, &body);
    assert_eq!(
        send(&http, &beat_url, &e.token, &by_old, &body).await.0,
        401
    );
    let by_new = signature_fields(&second, &e.agent_id, "POST", &beat_url, &body);
    assert_eq!(
        send(&http, &beat_url, &e.token, &by_new, &body).await.0,
        200
    );

    // token rotation keeps the key: the staged tokens are confirmed with a signed request
    let rt_url = server.url(&format!("/api/v1/agents/{}/rotate-token", e.agent_id));
    let f = signature_fields(&second, &e.agent_id, "POST", &rt_url, b"{}");
    let (status, staged) = send(&http, &rt_url, &e.token, &f, b"{}").await;
    assert_eq!(status, 200, "{staged}");
    let pending = staged["authToken"].as_str().unwrap();
    let c_url = server.url(&format!(
        "/api/v1/agents/{}/rotate-token/confirm",
        e.agent_id
    ));
    assert_eq!(
        send(&http, &c_url, pending, &[], b"{}").await.0,
        401,
        "still bound"
    );
    let f = signature_fields(&second, &e.agent_id, "POST", &c_url, b"{}");
    assert_eq!(send(&http, &c_url, pending, &f, b"{}").await.0, 200);

    let registered = audit_rows(&fx, "agent.key.registered").await;
    assert_eq!(registered.len(), 1);
    assert_eq!(
        registered[0].2["publicKey"],
        first.public_key().to_base64url()
    );
    let rotated = audit_rows(&fx, "agent.key.rotated").await;
    assert_eq!(rotated.len(), 1);
    assert_eq!(
        rotated[0].2["previousKey"],
        first.public_key().to_base64url()
    );
    assert_eq!(
        rotated[0].2["publicKey"],
        second.public_key().to_base64url()
    );
    verify_all_chains(&server, &fx).await;
}

#[tokio::test]
async fn an_organization_can_require_binding_for_all_its_devices() {
    let (server, fx, partner, org, key) = world().await;
    let legacy = common::agents::enroll_ok(&server, &key, "legacy-2").await;
    let admin = fx
        .partner_user(partner, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let token = mfa_token(&server, &fx, &admin).await;
    let res = server
        .http
        .patch(server.url(&format!("/api/v1/orgs/{org}")))
        .bearer_auth(&token)
        .json(&json!({"requireAgentKey": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["requireAgentKey"], true);
    assert_eq!(
        audit_rows(&fx, "organization.agent_key_policy.change")
            .await
            .len(),
        1
    );

    // enrollment without a key is refused; with one it is accepted
    let (status, v) = enroll(&server, &enroll_body(&key, "new-1"), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_required"))
    );
    enroll_bound(&server, &key, "new-2").await;

    // the device enrolled before: its token alone is refused, except to register its key
    let http = reqwest::Client::new();
    let beat_url = server.url(&format!("/api/v1/agents/{}/heartbeat", legacy.agent_id));
    let body = serde_json::to_vec(&beat()).unwrap();
    let (status, v) = send(&http, &beat_url, &legacy.token, &[], &body).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("signature_required"))
    );
    assert_eq!(
        codes(&audit_rows(&fx, "agent.auth.signature_invalid").await),
        ["agent_key_required"]
    );
    let device_key = DeviceSigningKey::generate().unwrap();
    let reg_url = server.url(&format!("/api/v1/agents/{}/key", legacy.agent_id));
    let reg_body =
        serde_json::to_vec(&json!({"publicKey": device_key.public_key().to_base64url()})).unwrap();
    let proof = signature_fields(&device_key, &legacy.agent_id, "POST", &reg_url, &reg_body);
    assert_eq!(
        send(&http, &reg_url, &legacy.token, &proof, &reg_body)
            .await
            .0,
        200
    );
    let signed = signature_fields(&device_key, &legacy.agent_id, "POST", &beat_url, &body);
    assert_eq!(
        send(&http, &beat_url, &legacy.token, &signed, &body)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_nonce_used_on_one_replica_is_refused_on_the_other() {
    let prefix = format!("breeze-test-{}:", uuid::Uuid::new_v4().simple());
    let settings = |db: &common::TestDb| {
        let mut s = test_settings(db);
        s.retain(|(k, _)| k != "BREEZE_REDIS_PREFIX" && k != "REDIS_URL");
        s.push(("REDIS_URL".into(), common::redis_url()));
        s.push(("BREEZE_REDIS_PREFIX".into(), prefix.clone()));
        s
    };
    let db = common::TestDb::new().await;
    let a = TestServer::start_on(same_db(&db), settings(&db)).await;
    let b = TestServer::start_on(same_db(&db), settings(&db)).await;
    let fx = a.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&a, &fx, org, site, 5, 3600, None).await;
    let d = enroll_bound(&a, &key, "replicated").await;
    let http = reqwest::Client::new();
    let path = format!("/api/v1/agents/{}/heartbeat", d.agent_id);
    let body = serde_json::to_vec(&beat()).unwrap();
    // both replicas listen on 127.0.0.1: one signed request, its Host rewritten per replica
    // is a different target URI, so the replay goes to B with A's exact signature over B's URI
    let url_b = b.url(&path);
    let fields = signature_fields(&d.key, &d.agent_id, "POST", &url_b, &body);
    assert_eq!(send(&http, &url_b, &d.token, &fields, &body).await.0, 200);
    // the same signed request again, to replica A (whose Host differs: sent with B's Host)
    let res = http
        .post(a.url(&path))
        .header("host", b.addr.to_string())
        .bearer_auth(&d.token)
        .header("content-type", "application/json")
        .headers(
            fields
                .iter()
                .map(|(n, v)| {
                    (
                        reqwest::header::HeaderName::from_static(n),
                        v.parse().unwrap(),
                    )
                })
                .collect(),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let refused = audit_rows(&fx, "agent.auth.signature_invalid").await;
    assert_eq!(codes(&refused), ["signature_replayed"]);
}

/// With the agents' authentication cache on (as deployed), a signature refused on a cached
/// row is decided again on the key read fresh: a key changed without a notification (here
/// written with triggers off) does not lock the device out for the cache's life.
#[tokio::test]
async fn a_refusal_on_a_cached_row_is_decided_again_with_the_fresh_key() {
    let server = TestServer::start_with_agent_auth_cache().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&server, &fx, org, site, 5, 3600, None).await;
    let a = enroll_bound(&server, &key, "cached-1").await;
    let http = reqwest::Client::new();
    let url = server.url(&format!("/api/v1/agents/{}/heartbeat", a.agent_id));
    let body = serde_json::to_vec(&beat()).unwrap();
    // the first heartbeat brings the device online (a notification that empties the cache);
    // the next ones are answered from the cached row
    for _ in 0..3 {
        let f = signature_fields(&a.key, &a.agent_id, "POST", &url, &body);
        assert_eq!(send(&http, &url, &a.token, &f, &body).await.0, 200);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let next = DeviceSigningKey::generate().unwrap();
    // as a superuser with triggers off: no notification reaches the cache
    let pool = sqlx::PgPool::connect(&server.db.superuser_url())
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE device_credentials SET public_key = $2 WHERE device_id = $1")
        .bind(a.device_id)
        .bind(next.public_key().to_base64url())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let by_next = signature_fields(&next, &a.agent_id, "POST", &url, &body);
    let (status, v) = send(&http, &url, &a.token, &by_next, &body).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        audit_rows(&fx, "agent.auth.signature_invalid")
            .await
            .is_empty()
    );
}
