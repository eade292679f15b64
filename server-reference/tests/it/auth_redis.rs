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
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::auth::{get, login, login_session, refresh, session_of, viewer};
use crate::common::{FIXTURE_PASSWORD, TestServer};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A throwaway redis-server on a free loopback port, killed on drop.
struct ThrowawayRedis {
    child: Child,
    port: u16,
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_redis() -> ThrowawayRedis {
    assert!(
        std::path::Path::new(REDIS_SERVER).exists(),
        "{REDIS_SERVER} is missing: run the tests through scripts/test, which installs Redis"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(REDIS_SERVER)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let redis = ThrowawayRedis { child, port };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return redis;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("redis-server did not start on port {port}");
}

#[tokio::test]
async fn with_redis_sessions_work_and_fail_closed_when_it_stops() {
    let mut redis = start_redis().await;
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
    redis.child.kill().unwrap();
    redis.child.wait().unwrap();

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
