//! Sessions: refresh rotation, reuse detection, the race grace, CSRF, logout, logout-all,
//! password change.
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
    Session, audit_rows, get, login, login_session, post, refresh, scalar, server, session_of,
    status_body, viewer,
};
use serde_json::json;

const ME: &str = "/api/v1/users/me";

#[tokio::test]
async fn refresh_rotates_within_the_family() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s0 = login_session(&server, &user).await;
    let s1 = session_of(refresh(&server, &s0).await).await;
    assert_ne!(s1.refresh, s0.refresh);
    // (access tokens of one family minted in the same second are identical: no jti)
    assert_eq!(get(&server, &s1.access, ME).await.status(), 200);
    let s2 = session_of(refresh(&server, &s1).await).await;
    assert_eq!(get(&server, &s2.access, ME).await.status(), 200);
    // one family, three tokens, two burned
    let families: i64 = scalar(
        &fx,
        "SELECT count(*) FROM refresh_families WHERE user_id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert_eq!(families, 1);
    let burned: i64 = scalar(
        &fx,
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND used_at IS NOT NULL",
        *user.id.as_uuid(),
    )
    .await;
    assert_eq!(burned, 2);
}

#[tokio::test]
async fn reuse_after_the_grace_revokes_the_family() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s0 = login_session(&server, &user).await;
    let s1 = session_of(refresh(&server, &s0).await).await;
    // past the 15 s race grace (server clock)
    server.clock.advance(16);
    let (status, body) = status_body(refresh(&server, &s0).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "refresh_reused");
    // the newest refresh token of the family is dead too, and so are its access tokens
    let (status, _) = status_body(refresh(&server, &s1).await).await;
    assert_eq!(status, 401);
    assert_eq!(get(&server, &s1.access, ME).await.status(), 401);
    assert_eq!(get(&server, &s0.access, ME).await.status(), 401);
    let rows = audit_rows(&fx, "auth.refresh.reuse_detected").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].result, "denied");
    let reason: Option<String> = scalar(
        &fx,
        "SELECT revoked_reason FROM refresh_families WHERE user_id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert_eq!(reason.as_deref(), Some("refresh_reuse"));
    // a new login opens a new, working family
    let s = login_session(&server, &user).await;
    assert_eq!(get(&server, &s.access, ME).await.status(), 200);
}

#[tokio::test]
async fn raced_refresh_inside_the_grace_does_not_revoke() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s0 = login_session(&server, &user).await;
    // two requests with the same refresh token back to back
    let first = refresh(&server, &s0).await;
    let second = refresh(&server, &s0).await;
    let s1 = session_of(first).await;
    let (status, body) = status_body(second).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "refresh_raced");
    // nothing was revoked: the winner's tokens keep working
    assert_eq!(get(&server, &s1.access, ME).await.status(), 200);
    let s2 = session_of(refresh(&server, &s1).await).await;
    assert_eq!(get(&server, &s2.access, ME).await.status(), 200);
    assert!(
        audit_rows(&fx, "auth.refresh.reuse_detected")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn refresh_requires_the_csrf_header() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let cookies = format!("breeze_refresh={}; breeze_csrf={}", s.refresh, s.csrf);
    // missing header
    let res = server
        .http
        .post(server.url("/api/v1/auth/refresh"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    let (status, body) = status_body(res).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "csrf_failed");
    // wrong header
    let res = server
        .http
        .post(server.url("/api/v1/auth/refresh"))
        .header("cookie", &cookies)
        .header("x-breeze-csrf", "x".repeat(48))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // header without the cookie
    let res = server
        .http
        .post(server.url("/api/v1/auth/refresh"))
        .header("cookie", format!("breeze_refresh={}", s.refresh))
        .header("x-breeze-csrf", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // a duplicated CSRF cookie is ambiguous: refused
    let res = server
        .http
        .post(server.url("/api/v1/auth/refresh"))
        .header("cookie", format!("{cookies}; breeze_csrf=other"))
        .header("x-breeze-csrf", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // the refused attempts burned nothing: the proper call still works
    assert_eq!(refresh(&server, &s).await.status(), 200);
}

#[tokio::test]
async fn refresh_refuses_access_tokens_and_garbage() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let as_access = Session {
        refresh: s.access.clone(),
        ..s.clone()
    };
    let (status, body) = status_body(refresh(&server, &as_access).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");
    let garbage = Session {
        refresh: "abc.def.ghi".into(),
        ..s.clone()
    };
    assert_eq!(refresh(&server, &garbage).await.status(), 401);
    // and a refresh token is not an access token
    assert_eq!(get(&server, &s.refresh, ME).await.status(), 401);
}

#[tokio::test]
async fn logout_kills_the_sessions_access_and_refresh_tokens() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s = login_session(&server, &user).await;
    let other = login_session(&server, &user).await;
    let res = post(&server, &s.access, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(res.status(), 200);
    let cleared = common::auth::set_cookie(&res, "breeze_refresh").unwrap();
    assert!(cleared.contains("Max-Age=0"));
    assert_eq!(get(&server, &s.access, ME).await.status(), 401);
    assert_eq!(refresh(&server, &s).await.status(), 401);
    // another device's session is untouched
    assert_eq!(get(&server, &other.access, ME).await.status(), 200);
    // a login right after logout (same second) works
    let again = login_session(&server, &user).await;
    assert_eq!(get(&server, &again.access, ME).await.status(), 200);
    assert_eq!(audit_rows(&fx, "auth.logout").await.len(), 1);
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let a = login_session(&server, &user).await;
    let b = login_session(&server, &user).await;
    assert_eq!(
        post(&server, &a.access, "/api/v1/auth/logout-all", json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(get(&server, &a.access, ME).await.status(), 401);
    assert_eq!(get(&server, &b.access, ME).await.status(), 401);
    assert_eq!(refresh(&server, &b).await.status(), 401);
    let again = login_session(&server, &user).await;
    assert_eq!(get(&server, &again.access, ME).await.status(), 200);
}

#[tokio::test]
async fn password_change_logs_out_other_sessions() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let mine = login_session(&server, &user).await;
    let other = login_session(&server, &user).await;

    // wrong current password: refused, nothing changes
    let res = post(
        &server,
        &mine.access,
        "/api/v1/auth/password/change",
        json!({"currentPassword": "Wrong-Password-1", "newPassword": "Brand-New-Pass-42"}),
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(get(&server, &other.access, ME).await.status(), 200);

    // a weak new password: which rule, never the value
    let (status, body) = status_body(
        post(
            &server,
            &mine.access,
            "/api/v1/auth/password/change",
            json!({"currentPassword": FIXTURE_PASSWORD, "newPassword": "weakpass"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    let text = body.to_string();
    assert!(text.contains("uppercase"));
    assert!(text.contains("digit"));
    assert!(!text.contains("weakpass"));

    let res = post(
        &server,
        &mine.access,
        "/api/v1/auth/password/change",
        json!({"currentPassword": FIXTURE_PASSWORD, "newPassword": "Brand-New-Pass-42"}),
    )
    .await;
    let fresh = session_of(res).await;
    assert_eq!(get(&server, &other.access, ME).await.status(), 401);
    assert_eq!(refresh(&server, &other).await.status(), 401);
    assert_eq!(get(&server, &mine.access, ME).await.status(), 401);
    assert_eq!(get(&server, &fresh.access, ME).await.status(), 200);
    assert_eq!(
        login(&server, &user.email, FIXTURE_PASSWORD).await.status(),
        401
    );
    assert_eq!(
        login(&server, &user.email, "Brand-New-Pass-42")
            .await
            .status(),
        200
    );
    assert_eq!(audit_rows(&fx, "auth.password.change").await.len(), 1);
}

#[tokio::test]
async fn refresh_per_user_limit() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let mut s = login_session(&server, &user).await;
    for _ in 0..10 {
        s = session_of(refresh(&server, &s).await).await;
    }
    let res = refresh(&server, &s).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_yield_one_session() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s0 = login_session(&server, &user).await;
    let (a, b) = tokio::join!(refresh(&server, &s0), refresh(&server, &s0));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "exactly one rotation wins");
    let (winner, loser) = if a.status() == 200 { (a, b) } else { (b, a) };
    let (_, body) = status_body(loser).await;
    assert_eq!(body["error"], "refresh_raced");
    let s1 = session_of(winner).await;
    assert_eq!(get(&server, &s1.access, ME).await.status(), 200);
    assert!(
        audit_rows(&fx, "auth.refresh.reuse_detected")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn refresh_after_the_family_absolute_expiry_fails() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let s0 = login_session(&server, &user).await;
    common::auth::exec(
        &fx,
        "UPDATE refresh_families SET expires_at = now() - interval '1 second' WHERE user_id = $1",
        *user.id.as_uuid(),
    )
    .await;
    let (status, body) = status_body(refresh(&server, &s0).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "session_revoked");
    // the guard's durable backstop refuses its access token too
    assert_eq!(get(&server, &s0.access, ME).await.status(), 401);
}
