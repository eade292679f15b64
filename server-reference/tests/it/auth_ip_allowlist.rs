//! Partner IP allow-lists (SPEC 16): `GET`/`PUT /api/v1/partners/{partnerId}/ip-allowlist`
//! and their enforcement on logins, MFA verification, refresh, access tokens and API keys.
//!
//! The client address is the real TCP peer: the test server has no trusted proxy, and the
//! HTTP clients are bound to loopback source addresses (`127.0.0.1` inside the list,
//! `127.0.0.2` outside; every 127.0.0.0/8 address reaches a 127.0.0.1 listener on Linux).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::net::IpAddr;

use crate::common;
use crate::common::auth::{AuditRow, audit_rows, session_of, status_body};
use crate::common::procs::{server_binary, server_process};
use crate::common::tenancy::{api_key_of, mfa_token};
use crate::common::{FIXTURE_PASSWORD, FixtureUser, Fixtures, TestServer};
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgId, PartnerId};
use breeze_crypto::totp::{TotpSecret, code_at};
use breeze_server::clock::Clock as _;
use serde_json::{Value, json};
use uuid::Uuid;

const INSIDE: &str = "127.0.0.1";
const OUTSIDE: &str = "127.0.0.2";

/// An HTTP client whose connections leave from `source`.
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Who presents what on one request.
enum Cred<'a> {
    Bearer(&'a str),
    Key(&'a str),
}

/// Sends `method url` from `http` with `cred` and an optional JSON body.
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url);
    req = match cred {
        Cred::Bearer(t) => req.bearer_auth(t),
        Cred::Key(k) => req.header("x-api-key", k),
    };
    if let Some(b) = body {
        req = req.json(&b);
    }
    status_body(req.send().await.unwrap()).await
}

async fn get(http: &reqwest::Client, url: &str, cred: Cred<'_>) -> (u16, Value) {
    send(http, reqwest::Method::GET, url, cred, None).await
}

async fn put_list(
    server: &TestServer,
    http: &reqwest::Client,
    token: &str,
    partner: PartnerId,
    body: Value,
) -> (u16, Value) {
    let url = server.url(&format!("/api/v1/partners/{partner}/ip-allowlist"));
    send(
        http,
        reqwest::Method::PUT,
        &url,
        Cred::Bearer(token),
        Some(body),
    )
    .await
}

async fn login_from(
    server: &TestServer,
    http: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    http.post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// The stored list of `partner`, read as the owner (`None`: no row).
async fn stored(fx: &Fixtures, partner: PartnerId) -> Option<(String, Vec<String>)> {
    let mut tx = fx.pool().begin().await.unwrap();
    common::system_context(&mut tx).await;
    let row = sqlx::query_as(
        "SELECT mode, cidrs::text[] FROM partner_ip_allowlists WHERE partner_id = $1",
    )
    .bind(partner.as_uuid())
    .fetch_optional(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

fn denials<'a>(rows: &'a [AuditRow], stage: &str) -> Vec<&'a AuditRow> {
    rows.iter()
        .filter(|r| r.details()["stage"] == stage)
        .collect()
}

struct World {
    server: TestServer,
    fx: Fixtures,
    partner: PartnerId,
    org: OrgId,
    admin: FixtureUser,
    admin_token: String,
    inside: reqwest::Client,
    outside: reqwest::Client,
}

async fn world() -> World {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let admin = fx
        .partner_user(partner, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let admin_token = mfa_token(&server, &fx, &admin).await;
    World {
        server,
        fx,
        partner,
        org,
        admin,
        admin_token,
        inside: client_from(INSIDE),
        outside: client_from(OUTSIDE),
    }
}

/// The proof of SPEC 16: with the list `127.0.0.1/32` enforced, a partner user's login, an
/// existing access token and an API key of the partner's organization are refused from
/// 127.0.0.2 (403 `ip_not_allowed`, audited `auth.ip_denied`) and admitted from 127.0.0.1;
/// users of another partner and platform admins are not subject; mode off admits everyone.
#[tokio::test]
async fn an_enforced_list_refuses_logins_tokens_and_keys_from_outside_and_admits_inside() {
    let w = world().await;
    let (server, fx) = (&w.server, &w.fx);
    let user = fx
        .org_user(w.partner, w.org, SeededRole::OrgViewer, None)
        .await;
    let user_token = server.token_for(fx, &user).await;
    let key = api_key_of(fx, *w.org.as_uuid(), &["devices:read"]).await;
    let other_partner = fx.partner().await;
    let other_org = fx.org(other_partner).await;
    let stranger = fx
        .org_user(other_partner, other_org, SeededRole::OrgViewer, None)
        .await;
    let stranger_token = server.token_for(fx, &stranger).await;
    let platform = fx.platform_admin().await;
    let platform_token = mfa_token(server, fx, &platform).await;
    let devices = server.url("/api/v1/devices");
    let partners = server.url("/api/v1/partners");

    // control: without a list the outside address is served
    assert_eq!(
        get(&w.outside, &devices, Cred::Bearer(&user_token)).await.0,
        200
    );
    assert_eq!(get(&w.outside, &devices, Cred::Key(&key)).await.0, 200);
    let (status, body) = get(
        &w.inside,
        &server.url(&format!("/api/v1/partners/{}/ip-allowlist", w.partner)),
        Cred::Bearer(&w.admin_token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "off");
    assert_eq!(body["cidrs"], json!([]));
    assert_eq!(body["callerIp"], INSIDE);

    let (status, body) = put_list(
        server,
        &w.inside,
        &w.admin_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["127.0.0.1"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "enforce");
    assert_eq!(body["cidrs"], json!(["127.0.0.1/32"]));
    assert_eq!(body["callerAdmitted"], true);
    assert_eq!(body["updatedBy"], w.admin.id.to_string());
    let updated = audit_rows(fx, "partner.ip_allowlist.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].chain, "system");
    assert_eq!(
        updated[0].details()["old"],
        json!({"mode": "off", "cidrs": []})
    );
    assert_eq!(
        updated[0].details()["new"],
        json!({"mode": "enforce", "cidrs": ["127.0.0.1/32"]})
    );

    // login: refused from outside once the password verified, admitted inside
    let (status, body) =
        status_body(login_from(server, &w.outside, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("ip_not_allowed")),
        "{body}"
    );
    assert!(body.get("accessToken").is_none());
    // a wrong password from outside learns nothing about the list: the generic 401
    let (status, body) =
        status_body(login_from(server, &w.outside, &user.email, "Wrong-Horse-9").await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_credentials")),
        "{body}"
    );
    let s = session_of(login_from(server, &w.inside, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(
        get(&w.inside, &devices, Cred::Bearer(&s.access)).await.0,
        200
    );

    // an existing access token and an API key: refused outside, admitted inside
    let (status, body) = get(&w.outside, &devices, Cred::Bearer(&user_token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("ip_not_allowed")),
        "{body}"
    );
    assert_eq!(
        get(&w.inside, &devices, Cred::Bearer(&user_token)).await.0,
        200
    );
    let (status, body) = get(&w.outside, &devices, Cred::Key(&key)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("ip_not_allowed")),
        "{body}"
    );
    assert_eq!(get(&w.inside, &devices, Cred::Key(&key)).await.0, 200);
    // the partner's own admin is subject too
    let (status, _) = get(&w.outside, &devices, Cred::Bearer(&w.admin_token)).await;
    assert_eq!(status, 403);

    // not subject: a user of another partner, a platform admin
    assert_eq!(
        get(&w.outside, &devices, Cred::Bearer(&stranger_token))
            .await
            .0,
        200
    );
    let s2 =
        session_of(login_from(server, &w.outside, &stranger.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(
        get(&w.outside, &devices, Cred::Bearer(&s2.access)).await.0,
        200
    );
    assert_eq!(
        get(&w.outside, &partners, Cred::Bearer(&platform_token))
            .await
            .0,
        200
    );

    // audited: one denial per stage, with the address, the partner and the stage, on the
    // user's (or key's) organization chain
    let rows = audit_rows(fx, "auth.ip_denied").await;
    for (stage, actor_type) in [
        ("login", "user"),
        ("access_token", "user"),
        ("api_key", "api_key"),
    ] {
        let found = denials(&rows, stage);
        assert!(!found.is_empty(), "no auth.ip_denied for {stage}: {rows:?}");
        let d = found[0];
        assert_eq!(d.result, "denied");
        assert_eq!(d.actor_type, actor_type);
        assert_eq!(d.details()["ip"], OUTSIDE);
        assert_eq!(d.details()["partnerId"], w.partner.to_string());
    }
    let login_denial = denials(&rows, "login")[0];
    assert_eq!(login_denial.chain, w.org.to_string());
    assert_eq!(
        login_denial.actor_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
    // a flood from the blocked address is aggregated, not written one entry per request
    let before = audit_rows(fx, "auth.ip_denied").await.len();
    for _ in 0..20 {
        assert_eq!(get(&w.outside, &devices, Cred::Key(&key)).await.0, 403);
    }
    let after = audit_rows(fx, "auth.ip_denied").await.len();
    // (at most the first of a new minute and the aggregate of the old one, if a minute ended)
    assert!(
        after <= before + 2,
        "{before} -> {after} entries for 20 refusals"
    );

    // mode off admits everyone again (the networks are kept)
    let (status, body) = put_list(
        server,
        &w.inside,
        &w.admin_token,
        w.partner,
        json!({"mode": "off", "cidrs": ["127.0.0.1/32"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cidrs"], json!(["127.0.0.1/32"]));
    assert_eq!(
        get(&w.outside, &devices, Cred::Bearer(&user_token)).await.0,
        200
    );
    assert_eq!(get(&w.outside, &devices, Cred::Key(&key)).await.0, 200);
    let s3 = session_of(login_from(server, &w.outside, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(
        get(&w.outside, &devices, Cred::Bearer(&s3.access)).await.0,
        200
    );
}

/// Bad lists answer 400 naming the field and change nothing; a list that would lock its
/// author out is 409; a platform admin (not subject) may set any list; the route is
/// `sso:admin` and another partner's list is 404.
#[tokio::test]
async fn bad_or_self_excluding_lists_change_nothing() {
    let w = world().await;
    let (server, fx) = (&w.server, &w.fx);
    let (status, body) = put_list(
        server,
        &w.inside,
        &w.admin_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["127.0.0.0/8", "::1"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = stored(fx, w.partner).await;
    assert_eq!(
        before,
        Some((
            "enforce".to_owned(),
            vec!["127.0.0.0/8".to_owned(), "::1/128".to_owned()]
        ))
    );

    let too_many: Vec<String> = (0..101).map(|i| format!("10.0.{i}.0/24")).collect();
    for (body, field) in [
        (
            json!({"mode": "enforce", "cidrs": ["127.0.0.1", "not-a-network"]}),
            "cidrs[1]",
        ),
        (
            json!({"mode": "enforce", "cidrs": ["10.0.0.5/8"]}),
            "cidrs[0]",
        ),
        (
            json!({"mode": "enforce", "cidrs": ["10.0.0.0/33"]}),
            "cidrs[0]",
        ),
        (json!({"mode": "enforce", "cidrs": too_many}), "cidrs"),
        (json!({"mode": "enforce", "cidrs": []}), "cidrs"),
        (json!({"mode": "on", "cidrs": ["127.0.0.1"]}), "mode"),
    ] {
        let (status, answer) =
            put_list(server, &w.inside, &w.admin_token, w.partner, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(answer.to_string().contains(field), "{body} -> {answer}");
        assert!(
            !answer.to_string().contains("not-a-network"),
            "echoed the input: {answer}"
        );
    }
    // the host-bits refusal names the network that was probably meant
    let (_, answer) = put_list(
        server,
        &w.inside,
        &w.admin_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["10.0.0.5/8"]}),
    )
    .await;
    assert!(answer.to_string().contains("10.0.0.0/8"), "{answer}");

    // the author's own address (127.0.0.1) outside the list: 409, nothing changed
    let (status, answer) = put_list(
        server,
        &w.inside,
        &w.admin_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["127.0.0.2/32"]}),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "ip_allowlist_excludes_caller");
    assert_eq!(stored(fx, w.partner).await, before);
    assert_eq!(
        audit_rows(fx, "partner.ip_allowlist.updated").await.len(),
        1
    );

    // who may touch the list: not a technician (no sso:admin), not another partner's admin
    let tech = fx
        .partner_user(w.partner, SeededRole::PartnerTechnician, "all", &[])
        .await;
    let tech_token = mfa_token(server, fx, &tech).await;
    let url = server.url(&format!("/api/v1/partners/{}/ip-allowlist", w.partner));
    assert_eq!(get(&w.inside, &url, Cred::Bearer(&tech_token)).await.0, 403);
    // a Partner Admin limited to selected organizations does not administer the whole partner
    let limited = fx
        .partner_user(w.partner, SeededRole::PartnerAdmin, "selected", &[w.org])
        .await;
    let limited_token = mfa_token(server, fx, &limited).await;
    let (status, answer) = get(&w.inside, &url, Cred::Bearer(&limited_token)).await;
    assert_eq!(status, 403, "{answer}");
    let (status, _) = put_list(
        server,
        &w.inside,
        &limited_token,
        w.partner,
        json!({"mode": "off", "cidrs": []}),
    )
    .await;
    assert_eq!(status, 403);
    let other = fx.partner().await;
    let foreign = fx
        .partner_user(other, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let foreign_token = mfa_token(server, fx, &foreign).await;
    assert_eq!(
        get(&w.inside, &url, Cred::Bearer(&foreign_token)).await.0,
        404
    );
    let (status, _) = put_list(
        server,
        &w.inside,
        &foreign_token,
        w.partner,
        json!({"mode": "off", "cidrs": []}),
    )
    .await;
    assert_eq!(status, 404);
    // an access token without MFA cannot change it
    let plain = server.token_for(fx, &w.admin).await;
    let (status, _) = put_list(
        server,
        &w.inside,
        &plain,
        w.partner,
        json!({"mode": "off", "cidrs": []}),
    )
    .await;
    // (an MFA-enrolled admin's token without the second factor is refused outright)
    assert!(matches!(status, 401 | 403), "{status}");
    assert_eq!(stored(fx, w.partner).await, before);

    // a platform admin is not subject, so it may set a list that excludes its address; the
    // partner's admin at 127.0.0.1 is then locked out (and can be let back in by the platform)
    let platform = fx.platform_admin().await;
    let platform_token = mfa_token(server, fx, &platform).await;
    let (status, body) = put_list(
        server,
        &w.inside,
        &platform_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["127.0.0.2"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["callerAdmitted"], false);
    assert_eq!(
        get(&w.inside, &url, Cred::Bearer(&w.admin_token)).await.0,
        403
    );
    assert_eq!(
        get(&w.outside, &url, Cred::Bearer(&w.admin_token)).await.0,
        200
    );
}

fn totp(server: &TestServer, secret: &str) -> String {
    code_at(
        &TotpSecret::from_base32(secret).unwrap(),
        server.clock.unix(),
    )
    .unwrap()
}

/// MFA verification and refresh are judged by the list too: a session opened inside cannot
/// be refreshed from outside, and a second factor presented from outside is refused without
/// consuming the challenge or the code.
#[tokio::test]
async fn mfa_verify_and_refresh_follow_the_list() {
    let w = world().await;
    let (server, fx) = (&w.server, &w.fx);
    let user = fx
        .org_user(w.partner, w.org, SeededRole::OrgViewer, None)
        .await;
    let s = session_of(login_from(server, &w.inside, &user.email, FIXTURE_PASSWORD).await).await;
    let (status, _) = put_list(
        server,
        &w.inside,
        &w.admin_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["127.0.0.1/32"]}),
    )
    .await;
    assert_eq!(status, 200);

    let refresh = |http: &reqwest::Client| {
        http.post(server.url("/api/v1/auth/refresh"))
            .header(
                "cookie",
                format!("breeze_refresh={}; breeze_csrf={}", s.refresh, s.csrf),
            )
            .header("x-breeze-csrf", &s.csrf)
            .send()
    };
    let (status, body) = status_body(refresh(&w.outside).await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("ip_not_allowed")),
        "{body}"
    );
    // the refusal burned nothing: the same refresh token still works inside
    let renewed = session_of(refresh(&w.inside).await.unwrap()).await;
    assert!(!renewed.access.is_empty());

    // enroll MFA (inside), then log in again: the challenge is answered from outside
    let s = session_of(login_from(server, &w.inside, &user.email, FIXTURE_PASSWORD).await).await;
    let post = |path: &str, body: Value| {
        w.inside
            .post(server.url(path))
            .bearer_auth(&s.access)
            .json(&body)
            .send()
    };
    let (status, setup) = status_body(
        post(
            "/api/v1/auth/mfa/setup",
            json!({"password": FIXTURE_PASSWORD}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let (status, body) = status_body(
        post(
            "/api/v1/auth/mfa/confirm",
            json!({"code": totp(server, &secret)}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.clock.advance(30);
    let (status, challenge) =
        status_body(login_from(server, &w.inside, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(status, 200, "{challenge}");
    let token = challenge["mfaToken"].as_str().unwrap().to_owned();
    let code = totp(server, &secret);
    let verify = |http: &reqwest::Client| {
        http.post(server.url("/api/v1/auth/mfa/verify"))
            .json(&json!({"mfaToken": token, "code": code}))
            .send()
    };
    let (status, body) = status_body(verify(&w.outside).await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("ip_not_allowed")),
        "{body}"
    );
    let verified = session_of(verify(&w.inside).await.unwrap()).await;
    assert_eq!(verified.body["mfa"], true);

    let rows = audit_rows(fx, "auth.ip_denied").await;
    assert_eq!(denials(&rows, "refresh").len(), 1, "{rows:?}");
    assert_eq!(denials(&rows, "mfa_verify").len(), 1, "{rows:?}");
}

/// Shared across replicas, effective at once: two real `breeze-server` processes on one
/// database; the list set through replica A refuses the very next request on replica B
/// from outside it, and B still admits the inside address.
#[tokio::test]
async fn a_list_set_through_replica_a_refuses_the_next_request_on_b() {
    server_binary();
    let w = world().await;
    let (harness, fx) = (&w.server, &w.fx);
    let user = fx
        .org_user(w.partner, w.org, SeededRole::OrgViewer, None)
        .await;
    let user_token = harness.token_for(fx, &user).await;
    let key = api_key_of(fx, *w.org.as_uuid(), &["devices:read"]).await;

    let tmp = std::env::temp_dir().join(format!("breeze-ipallow-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (server_a, base_a) = server_process(&harness.db, &tmp, "server-a").await;
    let (server_b, base_b) = server_process(&harness.db, &tmp, "server-b").await;
    let devices_b = format!("{base_b}/api/v1/devices");
    // B serves the outside address before the change (and has the user's access cached)
    assert_eq!(
        get(&w.outside, &devices_b, Cred::Bearer(&user_token))
            .await
            .0,
        200,
        "{}",
        server_b.log()
    );
    assert_eq!(get(&w.outside, &devices_b, Cred::Key(&key)).await.0, 200);

    let (status, body) = send(
        &w.inside,
        reqwest::Method::PUT,
        &format!("{base_a}/api/v1/partners/{}/ip-allowlist", w.partner),
        Cred::Bearer(&w.admin_token),
        Some(json!({"mode": "enforce", "cidrs": ["127.0.0.1/32"]})),
    )
    .await;
    assert_eq!(status, 200, "{body} {}", server_a.log());

    let (status, body) = get(&w.outside, &devices_b, Cred::Bearer(&user_token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("ip_not_allowed")),
        "{}",
        server_b.log()
    );
    assert_eq!(get(&w.outside, &devices_b, Cred::Key(&key)).await.0, 403);
    assert_eq!(
        get(&w.inside, &devices_b, Cred::Bearer(&user_token))
            .await
            .0,
        200
    );
    assert_eq!(get(&w.inside, &devices_b, Cred::Key(&key)).await.0, 200);
    drop((server_a, server_b));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The MCP endpoint authenticates its API key with the same checks: a key of the partner's
/// organization is refused from outside (JSON-RPC -32001, reason `ip_not_allowed`,
/// audited) and admitted inside.
#[tokio::test]
async fn the_mcp_endpoint_judges_its_api_key_by_the_list() {
    use crate::common::mcp::{Raw, ai_key};
    let w = world().await;
    let (server, fx) = (&w.server, &w.fx);
    let key = ai_key(
        &w.inside,
        &server.base,
        &w.admin_token,
        *w.org.as_uuid(),
        &["ai:read"],
    )
    .await;
    let (status, _) = put_list(
        server,
        &w.inside,
        &w.admin_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["127.0.0.1/32"]}),
    )
    .await;
    assert_eq!(status, 200);
    let refused = Raw::new(&w.outside, &server.base, &key).initialize().await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(refused.rpc_code(), Some(-32001));
    assert_eq!(refused.reason(), Some("ip_not_allowed"));
    let admitted = Raw::new(&w.inside, &server.base, &key).initialize().await;
    assert_eq!(admitted.status, 200, "{:?}", admitted.body);
    let rows = audit_rows(fx, "auth.ip_denied").await;
    let found = denials(&rows, "api_key");
    assert_eq!(found.len(), 1, "{rows:?}");
    assert_eq!(found[0].actor_type, "api_key");
    assert_eq!(found[0].chain, w.org.to_string());
}

/// An SSO login is judged by the list once the provider vouched for the user: from outside
/// the browser lands on `?sso=error&reason=ip_not_allowed`, no session and no just-in-time
/// user is left behind, `auth.ip_denied` (stage `sso`) is written; from inside it logs in.
#[tokio::test]
async fn an_sso_login_from_outside_the_list_is_refused() {
    use crate::common::sso::{Browser, World};
    let w = World::start(|_| {}).await;
    w.provider.account("alice", "alice@acme.test", true).await;
    let (status, body) = put_list(
        &w.server,
        &client_from(INSIDE),
        &w.admin_token,
        w.partner,
        json!({"mode": "enforce", "cidrs": ["127.0.0.1/32"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    w.provider.next_login("alice", &["pwd"]).await;
    let mut outside = Browser::from_source(OUTSIDE.parse().unwrap());
    let landing = outside.navigate(&w.start_url(), &w.server.base, None).await;
    assert_eq!(
        landing.outcome(),
        ("error".into(), Some("ip_not_allowed".into())),
        "{landing:?}"
    );
    assert!(outside.jar.get(&w.server.base, "breeze_refresh").is_none());
    let users: i64 = {
        let mut tx = w.fx.pool().begin().await.unwrap();
        common::system_context(&mut tx).await;
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'alice@acme.test'")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert_eq!(
        users, 0,
        "the just-in-time user must not outlive the refusal"
    );
    let rows = audit_rows(&w.fx, "auth.ip_denied").await;
    let found = denials(&rows, "sso");
    assert_eq!(found.len(), 1, "{rows:?}");
    assert_eq!(found[0].details()["ip"], OUTSIDE);
    assert_eq!(found[0].details()["partnerId"], w.partner.to_string());

    let (_, landing) = w.login("alice", &["pwd"]).await;
    assert_eq!(landing.outcome(), ("ok".into(), None), "{landing:?}");
}
