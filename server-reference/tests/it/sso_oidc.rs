//! SSO with OpenID Connect (SPEC 16) against a real provider we did not write:
//! `oidc-provider` from npm (`tests/sso_provider/provider.mjs`), driven through the whole
//! browser flow by a cookie-keeping client (`common::sso::Browser`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common::auth::{audit_rows, status_body};
use crate::common::mcp::{code, with_totp};
use crate::common::sso::{Browser, World};
use crate::common::{FIXTURE_PASSWORD, TestServer, seeded};
use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};

async fn me(server: &TestServer, token: &str) -> Value {
    let (status, body) = status_body(
        server
            .http
            .get(server.url("/api/v1/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn user_count(w: &World, email: &str) -> i64 {
    let mut tx = w.fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    sqlx::query_scalar("SELECT count(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

/// The details of the last `auth.sso.login` entry with `result`.
async fn last_sso_login(w: &World, result: &str) -> Value {
    audit_rows(&w.fx, "auth.sso.login")
        .await
        .into_iter()
        .rev()
        .find(|r| r.result == result)
        .unwrap_or_else(|| panic!("no auth.sso.login with result {result}"))
        .details()
        .clone()
}

#[tokio::test]
async fn a_first_login_creates_the_user_just_in_time_and_a_second_matches_it() {
    let w = World::start(|_| {}).await;
    w.provider.account("alice", "Alice@Acme.Test", true).await;

    let (browser, landing) = w.login("alice", &["pwd"]).await;
    assert_eq!(landing.outcome(), ("ok".into(), None), "{landing:?}");
    // the flow went through the provider and back to Breeze's callback
    assert!(
        landing
            .hops
            .iter()
            .any(|h| h.starts_with(&w.provider.issuer))
    );
    assert!(landing.url.contains("/api/v1/auth/sso/callback?"));
    // the state cookie is gone, the session cookies are set
    assert!(
        browser
            .jar
            .get(&w.server.base, "breeze_sso_state")
            .is_none()
    );
    let token = browser.access_token(&w.server).await;
    let body = me(&w.server, &token).await;
    assert_eq!(body["email"], "alice@acme.test", "{body}");
    assert_eq!(user_count(&w, "alice@acme.test").await, 1);
    let provisioned = audit_rows(&w.fx, "auth.sso.user_provisioned").await;
    assert_eq!(provisioned.len(), 1);
    assert_eq!(last_sso_login(&w, "success").await["matched"], "jit");

    // the second login finds the linked subject; no second user
    let (browser, landing) = w.login("alice", &["pwd"]).await;
    assert_eq!(landing.outcome().0, "ok");
    let token = browser.access_token(&w.server).await;
    assert_eq!(me(&w.server, &token).await["email"], "alice@acme.test");
    assert_eq!(user_count(&w, "alice@acme.test").await, 1);
    assert_eq!(last_sso_login(&w, "success").await["matched"], "linked");
    assert_eq!(
        audit_rows(&w.fx, "auth.sso.user_provisioned").await.len(),
        1
    );
}

#[tokio::test]
async fn existing_users_match_by_verified_email_only_inside_the_providers_tenant() {
    let w = World::start(|_| {}).await;
    // a user of an organization of the partner: matched by verified e-mail
    let bob =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgViewer, None)
            .await;
    w.provider.account("bob", &bob.email, true).await;
    let (browser, landing) = w.login("bob", &["pwd"]).await;
    assert_eq!(landing.outcome(), ("ok".into(), None));
    let token = browser.access_token(&w.server).await;
    assert_eq!(me(&w.server, &token).await["id"], bob.id.to_string());
    assert_eq!(last_sso_login(&w, "success").await["matched"], "email");

    // the same address unverified at the provider: refused (a second subject)
    w.provider
        .account("bob-unverified", "new-person@acme.test", false)
        .await;
    let (_, landing) = w.login("bob-unverified", &["pwd"]).await;
    assert_eq!(
        landing.outcome(),
        ("error".into(), Some("email_unverified".into()))
    );

    // a user of ANOTHER partner, and a platform admin: never reachable through this provider
    let other_partner = w.fx.partner().await;
    let mallory =
        w.fx.partner_user(other_partner, SeededRole::PartnerAdmin, "all", &[])
            .await;
    let root = w.fx.platform_admin().await;
    for (id, user) in [("victim", &mallory), ("root", &root)] {
        w.provider.account(id, &user.email, true).await;
        let (_, landing) = w.login(id, &["pwd", "otp"]).await;
        assert_eq!(
            landing.outcome(),
            ("error".into(), Some("tenant_mismatch".into())),
            "{id}"
        );
        let denied = last_sso_login(&w, "denied").await;
        assert_eq!(denied["reason"], "tenant_mismatch");
    }
    assert_eq!(user_count(&w, &mallory.email).await, 1);
}

#[tokio::test]
async fn mfa_is_the_providers_when_amr_says_so_otherwise_breeze_totp_applies() {
    let w = World::start(|_| {}).await;
    let carol =
        w.fx.partner_user(w.partner, SeededRole::PartnerTechnician, "all", &[])
            .await;
    let secret = with_totp(&w.server, &w.fx, &carol).await;
    w.provider.account("carol", &carol.email, true).await;

    // pwd + otp at the provider: multi-factor, the session says so, no Breeze TOTP asked
    let (browser, landing) = w.login("carol", &["pwd", "otp"]).await;
    assert_eq!(landing.outcome().0, "ok");
    let token = browser.access_token(&w.server).await;
    let claims = w
        .server
        .state
        .jwt
        .verify(
            &token,
            breeze_crypto::jwt::TokenType::Access,
            w.server.state.clock.unix(),
        )
        .unwrap();
    assert!(claims.mfa);
    assert_eq!(last_sso_login(&w, "success").await["mfa"], "provider");

    // a password only: Breeze's TOTP completes the login, through the HttpOnly MFA cookie
    let (mut browser, landing) = w.login("carol", &["pwd"]).await;
    assert_eq!(landing.outcome(), ("mfa".into(), None));
    assert!(browser.jar.get(&w.server.base, "breeze_refresh").is_none());
    assert!(browser.jar.get(&w.server.base, "breeze_sso_mfa").is_some());
    let (status, body) = browser.sso_mfa(&w.server, "000000").await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = browser.sso_mfa(&w.server, &code(&secret, 0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mfa"], true);
    assert!(browser.jar.get(&w.server.base, "breeze_sso_mfa").is_none());
    let token = body["accessToken"].as_str().unwrap();
    assert_eq!(me(&w.server, token).await["email"], carol.email);
    // without the cookie there is nothing to complete
    let (status, _) = Browser::new().sso_mfa(&w.server, &code(&secret, 1)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_bad_id_token_is_refused_with_its_reason_and_audited() {
    let w = World::start(|_| {}).await;
    w.provider.account("dave", "dave@acme.test", true).await;
    let cases = [
        ("wrong_nonce", "id_token_nonce_mismatch"),
        ("expired", "id_token_expired"),
        ("wrong_audience", "id_token_wrong_audience"),
        ("wrong_issuer", "id_token_wrong_issuer"),
        ("unknown_kid", "id_token_unknown_key"),
        ("bad_signature", "id_token_bad_signature"),
        ("alg_none", "id_token_alg_not_allowed"),
        ("hs256_with_secret", "id_token_alg_not_allowed"),
        ("no_email_verified", "email_unverified"),
    ];
    for (mode, reason) in cases {
        w.provider.tamper(mode).await;
        let (browser, landing) = w.login("dave", &["pwd"]).await;
        assert_eq!(
            landing.outcome(),
            ("error".into(), Some(reason.into())),
            "{mode}"
        );
        assert!(
            browser.jar.get(&w.server.base, "breeze_refresh").is_none(),
            "{mode}"
        );
        let denied = last_sso_login(&w, "denied").await;
        assert_eq!(denied["reason"], reason, "{mode}");
        assert_eq!(denied["providerId"], w.provider_id, "{mode}");
    }
    assert_eq!(
        user_count(&w, "dave@acme.test").await,
        0,
        "no refused login created a user"
    );
    // and the untampered login still works
    let (_, landing) = w.login("dave", &["pwd"]).await;
    assert_eq!(landing.outcome().0, "ok");
}

#[tokio::test]
async fn tampered_state_another_browser_a_replayed_callback_and_a_replayed_code_are_refused() {
    let w = World::start(|_| {}).await;
    w.provider.account("erin", "erin@acme.test", true).await;

    // 1. tampered state: the cookie's HMAC does not match
    let (mut b, url) = w.until_callback("erin").await;
    let tampered = url.replace("state=", "state=x");
    let landing = b.navigate(&tampered, &w.server.base, None).await;
    assert_eq!(
        landing.outcome(),
        ("error".into(), Some("state_invalid".into()))
    );

    // 2. the right URL in another browser (login CSRF): no state cookie
    let (_starter, url) = w.until_callback("erin").await;
    let landing = Browser::new().navigate(&url, &w.server.base, None).await;
    assert_eq!(
        landing.outcome(),
        ("error".into(), Some("state_invalid".into()))
    );

    // 3. a replayed callback, with the captured state cookie: the login is used once
    let (mut b, url) = w.until_callback("erin").await;
    let cookie = b.jar.get(&w.server.base, "breeze_sso_state").unwrap();
    let landing = b.navigate(&url, &w.server.base, None).await;
    assert_eq!(landing.outcome().0, "ok");
    let mut replay = Browser::new();
    replay.jar.set(
        &w.server.base,
        "breeze_sso_state",
        &cookie,
        "/api/v1/auth/sso",
    );
    let landing = replay.navigate(&url, &w.server.base, None).await;
    assert_eq!(
        landing.outcome(),
        ("error".into(), Some("state_replayed".into()))
    );

    // 4. a used code in a fresh login of the same browser: the provider refuses it
    let used_code = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (mut b, fresh) = w.until_callback("erin").await;
    let mut fresh_url = reqwest::Url::parse(&fresh).unwrap();
    let pairs: Vec<(String, String)> = fresh_url
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "code" {
                used_code.clone()
            } else {
                v.into_owned()
            };
            (k.into_owned(), value)
        })
        .collect();
    fresh_url.query_pairs_mut().clear().extend_pairs(pairs);
    let landing = b.navigate(fresh_url.as_str(), &w.server.base, None).await;
    assert_eq!(
        landing.outcome(),
        ("error".into(), Some("oidc_code_rejected".into()))
    );

    // every refusal is in the audit log with its reason
    let reasons: Vec<String> = audit_rows(&w.fx, "auth.sso.login")
        .await
        .iter()
        .filter(|r| r.result == "denied")
        .map(|r| r.details()["reason"].as_str().unwrap().to_owned())
        .collect();
    for reason in ["state_invalid", "state_replayed", "oidc_code_rejected"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} not audited: {reasons:?}"
        );
    }
}

#[tokio::test]
async fn a_rotated_provider_key_is_picked_up_and_a_retired_one_refused() {
    let w = World::start(|_| {}).await;
    w.provider.account("frank", "frank@acme.test", true).await;
    let (_, landing) = w.login("frank", &["pwd"]).await;
    assert_eq!(landing.outcome().0, "ok");

    // the provider rotates: the next token names a key Breeze has not cached yet
    let (status, _) = w.provider.control("rotate", json!({})).await;
    assert_eq!(status, 200);
    let (_, landing) = w.login("frank", &["pwd"]).await;
    assert_eq!(
        landing.outcome(),
        ("ok".into(), None),
        "a rotated key must be fetched"
    );

    // the old key is retired; once Breeze's cached key set expires (10 minutes on the
    // server clock), a token signed with it is refused
    let (status, _) = w.provider.control("retire", json!({})).await;
    assert_eq!(status, 200);
    w.server.clock.advance(11 * 60);
    w.provider.tamper("retired_key").await;
    let (_, landing) = w.login("frank", &["pwd"]).await;
    assert_eq!(
        landing.outcome(),
        ("error".into(), Some("id_token_unknown_key".into()))
    );
    let (_, landing) = w.login("frank", &["pwd"]).await;
    assert_eq!(landing.outcome().0, "ok");
}

#[tokio::test]
async fn enforce_sso_refuses_password_login_and_keeps_the_break_glass_admin() {
    let w = World::start(|_| {}).await;
    let tech =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgViewer, None)
            .await;
    let root = w.fx.platform_admin().await;
    let login = |email: String| {
        let server = &w.server;
        async move {
            status_body(
                server
                    .http
                    .post(server.url("/api/v1/auth/login"))
                    .json(&json!({"email": email, "password": FIXTURE_PASSWORD}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(login(tech.email.clone()).await.0, 200);

    let (status, body) = status_body(
        w.server
            .http
            .patch(
                w.server
                    .url(&format!("/api/v1/sso/providers/{}", w.provider_id)),
            )
            .bearer_auth(&w.admin_token)
            .json(&json!({"enforceSso": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enforceSso"], true);

    let (status, body) = login(tech.email.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("sso_required")),
        "{body}"
    );
    let refused = audit_rows(&w.fx, "auth.sso.password_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].result, "denied");
    // a wrong password still gets the generic answer (enforcement tells an outsider nothing)
    let (status, _) = status_body(
        w.server
            .http
            .post(w.server.url("/api/v1/auth/login"))
            .json(&json!({"email": tech.email, "password": "Wrong-Password-1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    // the platform admin's break-glass login
    assert_eq!(login(root.email.clone()).await.0, 200);
    // the tenant's users still get in through the provider
    w.provider.account("tech", &tech.email, true).await;
    let (_, landing) = w.login("tech", &["pwd"]).await;
    assert_eq!(landing.outcome().0, "ok");
}

#[tokio::test]
async fn provider_configuration_keeps_the_secret_and_checks_what_it_is_given() {
    let w = World::start(|_| {}).await;
    let path = format!("/api/v1/sso/providers/{}", w.provider_id);
    let get = |p: String| {
        let server = &w.server;
        let token = w.admin_token.clone();
        async move {
            status_body(
                server
                    .http
                    .get(server.url(&p))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, body) = get(path.clone()).await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(!text.contains(crate::common::sso::CLIENT_SECRET));
    assert_eq!(
        body["redirectUri"],
        format!("{}/api/v1/auth/sso/callback", w.server.base)
    );
    assert_eq!(body["scopes"], "openid email profile");
    let (status, list) = get("/api/v1/sso/providers".into()).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(crate::common::sso::CLIENT_SECRET));
    // stored sealed
    let mut tx = w.fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    let stored: String = sqlx::query_scalar("SELECT client_secret FROM sso_providers")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    drop(tx);
    assert!(stored.starts_with("enc:v3:"), "{stored}");
    let audit = audit_rows(&w.fx, "sso.provider.created").await;
    assert_eq!(audit.len(), 1);
    assert!(
        !audit[0]
            .entry
            .to_string()
            .contains(crate::common::sso::CLIENT_SECRET)
    );

    // a second partner-level provider; bad issuers; an unreachable provider
    assert_eq!(w.configure(json!({})).await.0, 409);
    let (status, body) = w.configure(json!({"issuer": "ftp://idp.example"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = w
        .configure(json!({"orgId": w.org, "issuer": "http://127.0.0.1:9"}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("oidc_provider_unreachable")),
        "{body}"
    );
    // an issuer the provider does not state as its own
    let (status, body) = w
        .configure(json!({"orgId": w.org, "issuer": format!("{}/", w.provider.issuer)}))
        .await;
    assert_eq!(status, 409, "{body}");
    // JIT with a role the admin does not hold is an escalation; a platform role never
    let (status, body) = w
        .configure(json!({"orgId": w.org, "jitMembership": {"kind": "partner", "roleId": seeded(SeededRole::PlatformAdmin), "orgAccess": "all"}}))
        .await;
    assert_eq!(status, 403, "{body}");
    // an organization-level provider: accepted, org admins without sso:admin refused
    let (status, body) = w
        .configure(json!({"orgId": w.org, "name": "Org IdP"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["orgId"], w.org.to_string());
    let org_admin =
        w.fx.org_user(w.partner, w.org, SeededRole::OrgAdmin, None)
            .await;
    let org_token = crate::common::tenancy::mfa_token(&w.server, &w.fx, &org_admin).await;
    let (status, _) = status_body(
        w.server
            .http
            .get(w.server.url(&path))
            .bearer_auth(org_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    // a secret change is audited without the secret; delete removes it
    let (status, body) = status_body(
        w.server
            .http
            .patch(w.server.url(&path))
            .bearer_auth(&w.admin_token)
            .json(
                &json!({"clientSecret": "a-new-secret-that-is-long-enough", "jitMembership": null}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jitMembership"], Value::Null);
    let updated = audit_rows(&w.fx, "sso.provider.updated").await;
    assert_eq!(
        updated[0].details()["changed"],
        json!(["clientSecret", "jitMembership"])
    );
    assert!(!updated[0].entry.to_string().contains("a-new-secret"));
    let (status, _) = status_body(
        w.server
            .http
            .delete(w.server.url(&path))
            .bearer_auth(&w.admin_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(get(path).await.0, 404);
}

#[tokio::test]
async fn a_login_started_on_one_replica_completes_on_another() {
    use crate::common::procs::{server_binary, server_process_with};
    server_binary();
    let w = World::start(|_| {}).await;
    // replica A: another breeze-server process on the same database, behind the same public
    // URL (as behind a load balancer); the provider sends the browser back to the public URL,
    // which here is the in-process replica
    let dir = std::env::temp_dir().join(format!("breeze-sso-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_a, a_base) = server_process_with(
        &w.server.db,
        &dir,
        "replica-a",
        &[
            ("BREEZE_PUBLIC_URL", &w.server.base),
            ("BREEZE_SSO_ALLOW_LOOPBACK", "1"),
        ],
    )
    .await;
    w.provider.account("gina", "gina@acme.test", true).await;
    w.provider.next_login("gina", &["pwd"]).await;
    let mut browser = Browser::new();
    let start = format!("{a_base}/api/v1/auth/sso/{}/start", w.provider_id);
    let landing = browser.navigate(&start, &w.server.base, None).await;
    assert!(landing.hops[0].starts_with(&a_base));
    assert!(landing.url.starts_with(&w.server.base), "{landing:?}");
    assert_eq!(landing.outcome(), ("ok".into(), None), "{landing:?}");
    let token = browser.access_token(&w.server).await;
    assert_eq!(me(&w.server, &token).await["email"], "gina@acme.test");
    // and the session it opened is good on replica A too
    let (status, body) = status_body(
        reqwest::Client::new()
            .get(format!("{a_base}/api/v1/users/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}
