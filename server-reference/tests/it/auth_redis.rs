//! With Redis configured: sessions work through it, and when it goes away login and token
//! checks fail CLOSED (no success while the limiter and the revocation store are blind).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;

use crate::common::auth::{get, login, login_session, refresh, session_of, viewer};
use crate::common::redis::ThrowawayRedis;
use crate::common::{FIXTURE_PASSWORD, TestServer};

#[tokio::test]
async fn with_redis_sessions_work_and_fail_closed_when_it_stops() {
    let mut redis = ThrowawayRedis::start().await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let server = TestServer::start_with(|s| {
        common::auth::trust_loopback(s);
        s.push(("REDIS_URL".into(), url.clone()));
    })
    .await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;

    // through Redis: login, refresh rotation, reuse inside the grace is raced
    let s0 = login_session(&server, &user).await;
    assert_eq!(
        get(&server, &s0.access, "/api/v1/users/me").await.status(),
        200
    );
    let s1 = session_of(refresh(&server, &s0).await).await;
    assert_eq!(refresh(&server, &s0).await.status(), 401);
    assert_eq!(
        get(&server, &s1.access, "/api/v1/users/me").await.status(),
        200
    );

    // Redis goes away
    redis.kill();

    let res = login(&server, &user.email, FIXTURE_PASSWORD).await;
    assert!(
        res.status() == 503 || res.status() == 429,
        "login must fail closed, got {}",
        res.status()
    );
    let status = get(&server, &s1.access, "/api/v1/users/me").await.status();
    assert!(
        status == 401 || status == 503,
        "a valid token must not pass while revocation is unknowable, got {status}"
    );
    let status = refresh(&server, &s1).await.status();
    assert!(
        status == 429 || status == 503 || status == 401,
        "refresh fails closed, got {status}"
    );
}

#[tokio::test]
async fn shared_redis_login_and_lockout() {
    let url = common::redis_url();
    let server = TestServer::start_with(|s| {
        common::auth::trust_loopback(s);
        s.push(("REDIS_URL".into(), url.clone()));
    })
    .await;
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;
    for _ in 0..5 {
        assert_eq!(
            login(&server, &user.email, "Wrong-Password-1")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        login(&server, &user.email, FIXTURE_PASSWORD).await.status(),
        401
    );
}
