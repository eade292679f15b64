//! MFA: setup with a password step-up, confirm-before-enable, login with TOTP, step replay,
//! recovery codes used once, force-MFA 428.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::auth::{
    Session, audit_rows, get, login, login_session, post, scalar, server, session_of, status_body,
    viewer,
};
use crate::common::{FIXTURE_PASSWORD, FixtureUser, TestServer};
use breeze_authz::seeded::SeededRole;
use breeze_crypto::totp::{TotpSecret, code_at};
use breeze_server::clock::Clock as _;
use serde_json::{Value, json};

fn code(server: &TestServer, secret: &str) -> String {
    code_at(
        &TotpSecret::from_base32(secret).unwrap(),
        server.clock.unix(),
    )
    .unwrap()
}

/// Enrolls `user` (setup + confirm); returns the base32 secret and the recovery codes.
async fn enroll(server: &TestServer, s: &Session) -> (String, Vec<String>) {
    let (status, body) = status_body(
        post(
            server,
            &s.access,
            "/api/v1/auth/mfa/setup",
            json!({"password": FIXTURE_PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    let uri = body["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"));
    assert!(uri.contains("Breeze%20RMM"));
    let (status, body) = status_body(
        post(
            server,
            &s.access,
            "/api/v1/auth/mfa/confirm",
            json!({"code": code(server, &secret)}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Logs in with the password; expects the MFA challenge and returns its token.
async fn mfa_challenge(server: &TestServer, user: &FixtureUser) -> String {
    let (status, body) = status_body(login(server, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["mfaRequired"], true);
    assert!(
        body.get("accessToken").is_none(),
        "no access token before the second factor"
    );
    body["mfaToken"].as_str().unwrap().to_owned()
}

async fn verify(server: &TestServer, token: &str, code: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/api/v1/auth/mfa/verify"))
        .json(&json!({"mfaToken": token, "code": code}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn setup_requires_the_password() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let (status, body) = status_body(
        post(
            &server,
            &s.access,
            "/api/v1/auth/mfa/setup",
            json!({"password": "Wrong-Password-1"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.get("secret").is_none());
    let pending: Option<String> = scalar(
        &fx,
        "SELECT mfa_pending_secret FROM users WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert!(pending.is_none());
    let res = post(&server, &s.access, "/api/v1/auth/mfa/setup", json!({})).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_wrong_first_code_leaves_mfa_off() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let (_, body) = status_body(
        post(
            &server,
            &s.access,
            "/api/v1/auth/mfa/setup",
            json!({"password": FIXTURE_PASSWORD}),
        )
        .await,
    )
    .await;
    let secret = body["secret"].as_str().unwrap().to_owned();
    let stored: Option<String> = scalar(
        &fx,
        "SELECT mfa_pending_secret FROM users WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    let stored = stored.unwrap();
    assert!(
        stored.starts_with("mfa:v1:"),
        "the secret is stored encrypted"
    );
    assert!(!stored.contains(&secret));

    let right = code(&server, &secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let res = post(
        &server,
        &s.access,
        "/api/v1/auth/mfa/confirm",
        json!({"code": wrong}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let (_, status_json) =
        status_body(get(&server, &s.access, "/api/v1/auth/mfa/status").await).await;
    assert_eq!(status_json["enabled"], false);
    assert_eq!(status_json["pending"], true);
    // login still answers tokens directly
    let again = login_session(&server, &user).await;
    assert_eq!(again.body["mfa"], false);
}

#[tokio::test]
async fn totp_login_and_step_replay_refused() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let (secret, _) = enroll(&server, &s).await;
    // enabling MFA bumped the MFA epoch: the old session must log in again
    assert_eq!(
        get(&server, &s.access, "/api/v1/users/me").await.status(),
        401
    );
    assert_eq!(audit_rows(&fx, "auth.mfa.enrolled").await.len(), 1);

    // next step (the enrollment used the current one)
    server.clock.advance(30);
    let token = mfa_challenge(&server, &user).await;
    let c = code(&server, &secret);
    let session = session_of(verify(&server, &token, &c).await).await;
    assert_eq!(session.body["mfa"], true);
    let (status, me) = status_body(get(&server, &session.access, "/api/v1/users/me").await).await;
    assert_eq!(status, 200);
    assert_eq!(me["mfa"]["enabled"], true);
    assert_eq!(me["mfa"]["sessionVerified"], true);

    // the challenge is single use
    let (status, body) = status_body(verify(&server, &token, &c).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_mfa_token");

    // the same code (same step) with a fresh challenge: replay refused
    let token2 = mfa_challenge(&server, &user).await;
    let (status, body) = status_body(verify(&server, &token2, &c).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_mfa_code");
    // a wrong code
    let (status, _) = status_body(verify(&server, &token2, "000001").await).await;
    assert_eq!(status, 401);
    let failures: Vec<Value> = audit_rows(&fx, "auth.mfa.verify")
        .await
        .iter()
        .filter(|r| r.result == "failure")
        .map(|r| r.details()["reason"].clone())
        .collect();
    assert!(failures.contains(&json!("replayed_step")));

    // an MFA challenge token is not an access token
    assert_eq!(
        get(&server, &token2, "/api/v1/users/me").await.status(),
        401
    );
    // a refresh keeps mfa = true
    let refreshed = session_of(common::auth::refresh(&server, &session).await).await;
    assert_eq!(refreshed.body["mfa"], true);
    assert_eq!(
        get(&server, &refreshed.access, "/api/v1/users/me")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn recovery_code_works_once() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let (_, codes) = enroll(&server, &s).await;
    let stored: i64 = scalar(
        &fx,
        "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        *user.id.as_uuid(),
    )
    .await;
    assert_eq!(stored, 10);

    let token = mfa_challenge(&server, &user).await;
    // typed in lower case without the hyphen
    let typed = codes[0].to_lowercase().replace('-', "");
    let session = session_of(verify(&server, &token, &typed).await).await;
    assert_eq!(
        get(&server, &session.access, "/api/v1/users/me")
            .await
            .status(),
        200
    );

    let token = mfa_challenge(&server, &user).await;
    let (status, body) = status_body(verify(&server, &token, &codes[0]).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_mfa_code");
    // another code of the set still works, with the same challenge
    assert_eq!(verify(&server, &token, &codes[1]).await.status(), 200);
    assert_eq!(
        audit_rows(&fx, "auth.mfa.recovery_code.used").await.len(),
        2
    );
}

#[tokio::test]
async fn force_mfa_role_gets_428_except_on_exempt_routes() {
    let server = server().await;
    let fx = server.fixtures().await;
    assert!(SeededRole::OrgTechnician.force_mfa());
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let user = fx
        .org_user(partner, org, SeededRole::OrgTechnician, None)
        .await;
    let s = login_session(&server, &user).await;
    let (status, body) =
        status_body(get(&server, &s.access, "/api/v1/auth/logout-all-nope").await).await;
    // unknown route: 404 before any guard
    assert_eq!(status, 404, "{body}");
    let (status, body) =
        status_body(post(&server, &s.access, "/api/v1/auth/logout-all", json!({})).await).await;
    assert_eq!(status, 428);
    assert_eq!(body["error"], "mfa_enrollment_required");
    // issue 26: the enrollUrl is the real route (it answers, it is not a 404)
    assert_eq!(body["enrollUrl"], "/api/v1/auth/mfa/setup");
    let enroll_url = body["enrollUrl"].as_str().unwrap().to_owned();
    let (status, body) = status_body(post(&server, &s.access, &enroll_url, json!({})).await).await;
    assert_eq!(status, 400, "the enrollUrl is routed and exempt: {body}");
    // exempt: users/me, MFA status and setup
    let (status, me) = status_body(get(&server, &s.access, "/api/v1/users/me").await).await;
    assert_eq!(status, 200);
    assert_eq!(me["mfa"]["required"], true);
    assert_eq!(
        get(&server, &s.access, "/api/v1/auth/mfa/status")
            .await
            .status(),
        200
    );
    let (secret, _) = enroll(&server, &s).await;
    server.clock.advance(30);
    let token = mfa_challenge(&server, &user).await;
    let session = session_of(verify(&server, &token, &code(&server, &secret)).await).await;
    assert_eq!(
        post(
            &server,
            &session.access,
            "/api/v1/auth/logout-all",
            json!({})
        )
        .await
        .status(),
        200,
        "after enrollment the gate opens"
    );
}

#[tokio::test]
async fn mfa_verify_rejects_malformed_tokens() {
    let server = server().await;
    let (status, _) = status_body(verify(&server, "short", "123456").await).await;
    assert_eq!(status, 401);
    let (status, _) = status_body(verify(&server, &"A".repeat(48), "123456").await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn mfa_challenge_expires_and_verification_is_rate_limited() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let (secret, _) = enroll(&server, &s).await;
    server.clock.advance(30);

    // an expired challenge (5 minutes) is refused even with the right code
    let token = mfa_challenge(&server, &user).await;
    server.clock.advance(301);
    let (status, body) = status_body(verify(&server, &token, &code(&server, &secret)).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_mfa_token");

    // 5 verifications per user per 5 minutes (the enrollment's confirm counted as one)
    let token = mfa_challenge(&server, &user).await;
    let right = code(&server, &secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        assert_eq!(verify(&server, &token, wrong).await.status(), 401);
    }
    let res = verify(&server, &token, &right).await;
    assert_eq!(res.status(), 429, "limited even with the right code");
    assert!(res.headers().contains_key("retry-after"));
}
