//! Login: success with cookies, one generic failure for every credential problem, lockout,
//! rate limits, audit events, and tokens of disabled users.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::FIXTURE_PASSWORD;
use crate::common::auth::{
    audit_rows, exec, get, login, login_from, login_session, random_ip, scalar, server, set_cookie,
    status_body, viewer,
};
use serde_json::json;

#[tokio::test]
async fn login_success_sets_cookies_and_token_works() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let res = login(&server, &user.email.to_uppercase(), FIXTURE_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let refresh = set_cookie(&res, "breeze_refresh").unwrap();
    assert!(refresh.contains("HttpOnly"));
    assert!(refresh.contains("SameSite=Strict"));
    assert!(refresh.contains("Path=/api/v1/auth"));
    let csrf = set_cookie(&res, "breeze_csrf").unwrap();
    assert!(
        !csrf.contains("HttpOnly"),
        "the CSRF cookie must be readable by the app"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let session = common::auth::session_of(res).await;
    assert_eq!(session.body["expiresIn"], 900);
    assert_eq!(session.body["user"]["email"], user.email);
    assert_eq!(session.body["user"]["scope"], "organization");
    assert_eq!(session.body["mfa"], false);

    let (status, me) = status_body(get(&server, &session.access, "/api/v1/users/me").await).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], user.id.to_string());
    assert_eq!(me["mfa"]["enabled"], false);
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "devices:read")
    );
    assert_eq!(
        me["memberships"]["organization"]["orgId"],
        user.org.unwrap().to_string()
    );

    let ok = audit_rows(&fx, "auth.login").await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].result, "success");
    assert_eq!(ok[0].chain, user.org.unwrap().to_string());
    assert_eq!(
        ok[0].actor_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
    let last: Option<time::OffsetDateTime> = scalar(
        &fx,
        "SELECT last_login_at FROM users WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert!(last.is_some());
}

#[tokio::test]
async fn unknown_user_and_wrong_password_are_indistinguishable() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let (s1, b1) = status_body(login(&server, &user.email, "Wrong-Password-1").await).await;
    let (s2, b2) =
        status_body(login(&server, "nobody@example.test", "Wrong-Password-1").await).await;
    assert_eq!(s1, 401);
    assert_eq!(s2, 401);
    assert_eq!(b1, b2, "same body for unknown user and wrong password");
    assert_eq!(b1["error"], "invalid_credentials");
    let text = b1.to_string();
    assert!(!text.contains("Wrong-Password-1"));

    // disabled user with the right password: the same answer
    exec(
        &fx,
        "UPDATE users SET status = 'disabled' WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    let (s3, b3) = status_body(login(&server, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(s3, 401);
    assert_eq!(b3, b1);

    let rows = audit_rows(&fx, "auth.login").await;
    let reasons: Vec<&str> = rows
        .iter()
        .map(|r| r.details()["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["bad_password", "unknown_user", "disabled"]);
    assert!(rows.iter().all(|r| r.result == "failure"));
    let unknown = &rows[1];
    assert_eq!(unknown.chain, "system");
    assert_eq!(unknown.actor_type, "system");
    assert!(unknown.actor_id.is_none());
    assert_eq!(
        unknown.details()["emailHash"].as_str().unwrap().len(),
        64,
        "unknown e-mails are recorded hashed"
    );
    for r in &rows {
        let entry = r.entry.to_string();
        assert!(!entry.contains("Wrong-Password-1"), "never the password");
        assert!(
            !entry.contains("nobody@example.test"),
            "never an unknown raw e-mail"
        );
    }
}

#[tokio::test]
async fn malformed_login_body_is_a_validation_error_without_echo() {
    let server = server().await;
    let res = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "not-an-email", "password": "Secret-Echo-77"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_body(res).await;
    assert_eq!(status, 400);
    assert_eq!(body["issues"][0]["path"], "body.email");
    assert!(!body.to_string().contains("Secret-Echo-77"));
    assert!(!body.to_string().contains("not-an-email"));
    let res = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "a@example.test", "password": "x", "extra": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn account_locks_after_five_failures_with_the_generic_answer() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    for _ in 0..5 {
        let (s, b) = status_body(login(&server, &user.email, "Wrong-Password-1").await).await;
        assert_eq!(s, 401);
        assert_eq!(b["error"], "invalid_credentials");
    }
    // from another IP (so the per-IP+e-mail limit is not what refuses), the right password
    let (s, b) = status_body(login(&server, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(s, 401, "locked accounts get the generic 401");
    assert_eq!(b["error"], "invalid_credentials");
    let locked: Option<time::OffsetDateTime> = scalar(
        &fx,
        "SELECT locked_until FROM users WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert!(locked.is_some(), "the lock is kept durably too");
    let reasons: Vec<String> = audit_rows(&fx, "auth.login")
        .await
        .iter()
        .map(|r| r.details()["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons.last().unwrap(), "locked");
    assert_eq!(reasons.iter().filter(|r| *r == "bad_password").count(), 5);

    // another user is not affected
    let other = viewer(&fx).await;
    assert_eq!(
        login(&server, &other.email, FIXTURE_PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn per_ip_limit_answers_429_with_retry_after() {
    let server = server().await;
    let ip = random_ip();
    for i in 0..10 {
        let res = login_from(
            &server,
            &ip,
            &format!("u{i}@example.test"),
            "Wrong-Password-1",
        )
        .await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    let res = login_from(&server, &ip, "u99@example.test", "Wrong-Password-1").await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.headers().contains_key("x-ratelimit-limit"));
    // another IP still gets through to the credential check
    let res = login_from(
        &server,
        &random_ip(),
        "u99@example.test",
        "Wrong-Password-1",
    )
    .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn per_ip_and_email_limit_answers_429() {
    let server = server().await;
    let ip = random_ip();
    for _ in 0..5 {
        let res = login_from(&server, &ip, "same@example.test", "Wrong-Password-1").await;
        assert_eq!(res.status(), 401);
    }
    let res = login_from(&server, &ip, "same@example.test", "Wrong-Password-1").await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn disabled_users_token_stops_working() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    assert_eq!(
        get(&server, &s.access, "/api/v1/users/me").await.status(),
        200
    );
    exec(
        &fx,
        "UPDATE users SET status = 'disabled' WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert_eq!(
        get(&server, &s.access, "/api/v1/users/me").await.status(),
        401
    );
    // and the refresh token too
    let res = common::auth::refresh(&server, &s).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn revoked_membership_token_fails() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    exec(
        &fx,
        "UPDATE org_memberships SET active = false WHERE user_id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert_eq!(
        get(&server, &s.access, "/api/v1/users/me").await.status(),
        401
    );
    // login with the right password now fails generically (no live access)
    let (status, body) = status_body(login(&server, &user.email, FIXTURE_PASSWORD).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_credentials");
}

#[tokio::test]
async fn partner_user_login_is_audited_on_the_system_chain() {
    let server = server().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let user = fx
        .partner_user(
            partner,
            breeze_authz::seeded::SeededRole::PartnerViewer,
            "all",
            &[],
        )
        .await;
    let s = login_session(&server, &user).await;
    assert_eq!(s.body["user"]["scope"], "partner");
    assert_eq!(s.body["user"]["partnerId"], partner.to_string());
    let rows = audit_rows(&fx, "auth.login").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].chain, "system");
    assert_eq!(rows[0].actor_type, "user");
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let server = common::TestServer::start_with(|s| {
        common::auth::trust_loopback(s);
        s.push(("BREEZE_SECURE_COOKIES".into(), "true".into()));
    })
    .await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let res = login(&server, &user.email, FIXTURE_PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert!(
        set_cookie(&res, "breeze_refresh")
            .unwrap()
            .contains("; Secure")
    );
    assert!(
        set_cookie(&res, "breeze_csrf")
            .unwrap()
            .contains("; Secure")
    );
}

#[tokio::test]
async fn weak_stored_hash_is_upgraded_on_login() {
    // an argon2-cffi hash of the fixture password with weaker parameters (interop vector)
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vectors/crypto/argon2_cffi.json"
    );
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let weak = vectors["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["password"] == FIXTURE_PASSWORD && h["needsRehash"] == true)
        .unwrap()["phc"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    {
        let mut tx = fx.pool().begin().await.unwrap();
        common::system_context(&mut tx).await;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user.id.as_uuid())
            .bind(&weak)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let epoch_before: i32 = scalar(
        &fx,
        "SELECT auth_epoch FROM users WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    let s = login_session(&server, &user).await;
    let stored: String = scalar(
        &fx,
        "SELECT password_hash FROM users WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert_ne!(stored, weak);
    assert!(stored.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"));
    // a rehash is not a password change: the session it opened stays valid
    let epoch_after: i32 = scalar(
        &fx,
        "SELECT auth_epoch FROM users WHERE id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert_eq!(epoch_before, epoch_after);
    assert_eq!(
        get(&server, &s.access, "/api/v1/users/me").await.status(),
        200
    );
    assert_eq!(
        login(&server, &user.email, FIXTURE_PASSWORD).await.status(),
        200
    );
}

/// `(entries, sum of details.count)` of unknown-user login failures on the system chain from
/// `ip` (an entry without a count stands for one failure).
async fn unknown_user_failures_from(fx: &common::Fixtures, ip: &str) -> (usize, u64) {
    let rows = audit_rows(fx, "auth.login").await;
    let mine: Vec<_> = rows
        .iter()
        .filter(|r| {
            r.chain == "system"
                && r.details()["reason"] == "unknown_user"
                && r.entry["event"]["ip"] == ip
        })
        .collect();
    let sum = mine
        .iter()
        .map(|r| r.details()["count"].as_u64().unwrap_or(1))
        .sum();
    (mine.len(), sum)
}

#[tokio::test]
async fn finding_17_a_flood_of_failed_logins_from_one_ip_is_aggregated_and_the_count_adds_up() {
    let server = server().await;
    let fx = server.fixtures().await;
    let ip = "10.17.17.17";
    let mut failed = 0u64;
    let mut limited = 0u64;
    for i in 0..25 {
        let res = login_from(
            &server,
            ip,
            &format!("flood-{i}@example.test"),
            "Wrong-Password-1",
        )
        .await;
        match res.status().as_u16() {
            401 => failed += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(failed >= 10, "{failed} failures reached the audit");
    assert!(limited > 0, "the per-IP limit answered some");
    // another source is aggregated on its own
    let other = "10.18.18.18";
    for i in 0..3 {
        let res = login_from(
            &server,
            other,
            &format!("o-{i}@example.test"),
            "Wrong-1-Pass",
        )
        .await;
        assert_eq!(res.status().as_u16(), 401);
    }

    // the first failure of each source is written at once
    let (entries, _) = unknown_user_failures_from(&fx, ip).await;
    assert!(entries >= 1, "the first failure is written at once");
    // once the window is over, the repeats are flushed as one event with their count
    server.clock.advance(120);
    let mut seen = (0, 0);
    for _ in 0..100 {
        seen = unknown_user_failures_from(&fx, ip).await;
        if seen.1 == failed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (entries, sum) = seen;
    assert_eq!(sum, failed, "the counts add up to the failures");
    // at most two entries per source and minute window (the first, then the aggregate); the
    // flood may straddle one window boundary
    assert!(
        entries <= 4,
        "{entries} system-chain entries for {failed} failures from one source"
    );
    let mut other_seen = (0, 0);
    for _ in 0..50 {
        other_seen = unknown_user_failures_from(&fx, other).await;
        if other_seen.1 == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(other_seen.1, 3);
    assert!(other_seen.0 <= 4);
    common::agents::verify_all_chains(&server, &fx).await;
}
