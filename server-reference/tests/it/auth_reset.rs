//! Password reset: no enumeration, the token travels only through the encrypted outbox,
//! single use, every session ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::FIXTURE_PASSWORD;
use crate::common::TestServer;
use crate::common::auth::{
    audit_rows, get, login, login_session, outbox_bodies, random_ip, scalar, server, status_body,
    viewer,
};
use serde_json::{Value, json};

async fn reset_request(server: &TestServer, email: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/api/v1/auth/password/reset-request"))
        .header("x-forwarded-for", random_ip())
        .json(&json!({"email": email}))
        .send()
        .await
        .unwrap()
}

async fn reset(server: &TestServer, token: &str, password: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/api/v1/auth/password/reset"))
        .json(&json!({"token": token, "newPassword": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn reset_flow_end_to_end_and_single_use() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    let old_session = login_session(&server, &user).await;

    let (s_known, b_known) = status_body(reset_request(&server, &user.email).await).await;
    let (s_unknown, b_unknown) =
        status_body(reset_request(&server, "nobody@example.test").await).await;
    assert_eq!(s_known, 202);
    assert_eq!(s_unknown, 202);
    assert_eq!(b_known, b_unknown, "no enumeration");

    let bodies = outbox_bodies(&server, &fx, *user.id.as_uuid()).await;
    assert_eq!(bodies.len(), 1);
    let token = bodies[0]["resetToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 48);
    // only the hash is stored
    let stored: String = scalar(
        &fx,
        "SELECT token_hash FROM password_resets WHERE user_id = $1",
        *user.id.as_uuid(),
    )
    .await;
    assert_ne!(stored, token);
    assert_eq!(stored.len(), 64);

    // policy first: a weak password does not consume the token
    let (status, body) = status_body(reset(&server, &token, "short").await).await;
    assert_eq!(status, 400);
    assert!(!body.to_string().contains("short\""));

    let (status, body) = status_body(reset(&server, &token, "Reset-Pass-2026").await).await;
    assert_eq!(status, 200, "{body}");
    // single use
    let (status, _) = status_body(reset(&server, &token, "Other-Pass-2027").await).await;
    assert_eq!(status, 400);

    // every old session ended; the new password works, the old one not
    assert_eq!(
        get(&server, &old_session.access, "/api/v1/users/me")
            .await
            .status(),
        401
    );
    assert_eq!(
        common::auth::refresh(&server, &old_session).await.status(),
        401
    );
    assert_eq!(
        login(&server, &user.email, FIXTURE_PASSWORD).await.status(),
        401
    );
    assert_eq!(
        login(&server, &user.email, "Reset-Pass-2026")
            .await
            .status(),
        200
    );
    assert_eq!(
        login(&server, &user.email, "Other-Pass-2027")
            .await
            .status(),
        401
    );

    let rows = audit_rows(&fx, "auth.password.reset").await;
    let results: Vec<&str> = rows.iter().map(|r| r.result.as_str()).collect();
    assert_eq!(results, ["success", "failure"]);
    for r in audit_rows(&fx, "auth.password.reset_request").await {
        assert!(
            !r.entry.to_string().contains(&token),
            "the token never reaches the audit log"
        );
    }
}

#[tokio::test]
async fn reset_token_expires_after_an_hour() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    assert_eq!(reset_request(&server, &user.email).await.status(), 202);
    let bodies = outbox_bodies(&server, &fx, *user.id.as_uuid()).await;
    let token = bodies[0]["resetToken"].as_str().unwrap().to_owned();
    server.clock.advance(3601);
    assert_eq!(
        reset(&server, &token, "Reset-Pass-2026").await.status(),
        400
    );
    assert_eq!(
        login(&server, &user.email, FIXTURE_PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn bad_reset_tokens_are_refused() {
    let server = server().await;
    for token in ["", "abc", &"A".repeat(48), &"!".repeat(48)] {
        let (status, body) = status_body(reset(&server, token, "Reset-Pass-2026").await).await;
        assert_eq!(status, 400);
        assert!(!body.to_string().contains("Reset-Pass-2026"));
    }
}

#[tokio::test]
async fn reset_requests_are_limited_per_email() {
    let server = server().await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    for _ in 0..3 {
        assert_eq!(reset_request(&server, &user.email).await.status(), 202);
    }
    let res = reset_request(&server, &user.email).await;
    assert_eq!(res.status(), 429);
    let bodies: Vec<Value> = outbox_bodies(&server, &fx, *user.id.as_uuid()).await;
    assert_eq!(bodies.len(), 3);
}
