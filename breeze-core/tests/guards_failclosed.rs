//! Every Redis-backed guard fails closed when Redis stops answering (paused past the
//! deadline) or dies, and recovers when it comes back. Runs its own redis-server.
#![cfg(feature = "redis")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code"
)]

mod guards_support;

use std::time::Duration;

use breeze_core::clientip::ClientKey;
use breeze_core::ratelimit::{
    AgentRequestClass, Quota, RateLimitBackend, RateLimiter, RedisConnection, RedisRateLimiter,
    Verdict,
};
use breeze_core::revocation::{RedisRevocationStore, RefreshBurn, RevocationStore, TotpStep};
use breeze_core::tenancy::{ApiKeyId, DeviceId, OrgId, UserId};
use guards_support::OwnRedis;
use uuid::Uuid;

struct Guards {
    limiter: RateLimiter<RedisRateLimiter>,
    revocation: RevocationStore<RedisRevocationStore>,
    user: UserId,
    family: Uuid,
}

impl Guards {
    async fn new(redis: &OwnRedis) -> Self {
        let conn = RedisConnection::connect(&redis.url(), "fc:", Duration::from_millis(200))
            .await
            .unwrap();
        Self {
            limiter: RateLimiter::new(RedisRateLimiter::new(conn.clone())),
            revocation: RevocationStore::new(RedisRevocationStore::new(conn)),
            user: UserId::new_random(),
            family: Uuid::new_v4(),
        }
    }

    /// Every guard's answer while Redis cannot answer: all refuse.
    async fn assert_all_fail_closed(&self, when: &str) {
        let ip = ClientKey::from_ip("198.51.100.1".parse().unwrap());
        let l = &self.limiter;
        let agent = "b".repeat(64);
        let decisions = [
            ("login_per_ip", l.login_per_ip(ip).await),
            (
                "login_per_ip_email",
                l.login_per_ip_email(ip, "x@example.com").await,
            ),
            ("login_lockout", l.login_lockout("x@example.com").await),
            (
                "record_login_failure",
                l.record_login_failure("x@example.com").await,
            ),
            ("refresh_per_user", l.refresh_per_user(self.user).await),
            ("mfa_per_user", l.mfa_per_user(self.user).await),
            (
                "password_reset_per_email",
                l.password_reset_per_email("x@example.com").await,
            ),
            ("enrollment_per_ip", l.enrollment_per_ip(ip).await),
            ("agent_per_agent", l.agent_per_agent(&agent).await),
            (
                "agent_per_device_ip",
                l.agent_per_device_ip(DeviceId::new_random(), ip).await,
            ),
            (
                "agent_per_org",
                l.agent_per_org(OrgId::new_random(), 5, AgentRequestClass::Inventory)
                    .await,
            ),
            ("ws_connect_per_agent", l.ws_connect_per_agent(&agent).await),
            (
                "api_key_hourly",
                l.api_key_hourly(ApiKeyId::new_random(), 1000).await,
            ),
            ("global_per_ip", l.global_per_ip(ip).await),
        ];
        for (name, d) in decisions {
            assert_eq!(d.verdict, Verdict::Unavailable, "{name} must refuse {when}");
            assert!(!d.is_allowed());
            assert_eq!(d.remaining, 0);
            assert!(
                d.retry_after.is_some(),
                "{name} answers 429 with Retry-After {when}"
            );
        }
        assert!(l.clear_login_failures("x@example.com").await.is_err());
        let r = &self.revocation;
        assert!(
            r.is_token_revoked(self.user, i64::MAX).await,
            "cut-off check: revoked {when}"
        );
        assert_eq!(
            r.burn_refresh(Uuid::new_v4(), self.family).await,
            RefreshBurn::Unavailable,
            "{when}"
        );
        assert!(
            r.is_family_revoked(Uuid::new_v4()).await,
            "family check: revoked {when}"
        );
        assert_eq!(
            r.accept_totp_step(self.user, 1_000_000).await,
            TotpStep::Unavailable,
            "{when}"
        );
        assert!(
            r.revoke_user_tokens_before(self.user, 1).await.is_err(),
            "writes report the failure {when}"
        );
        assert!(r.revoke_family(self.family).await.is_err());
    }

    /// With Redis healthy, the same calls allow.
    async fn assert_healthy(&self) {
        let ip = ClientKey::from_ip("198.51.100.2".parse().unwrap());
        assert!(self.limiter.global_per_ip(ip).await.is_allowed());
        assert!(!self.revocation.is_token_revoked(self.user, i64::MAX).await);
        assert!(!self.revocation.is_family_revoked(Uuid::new_v4()).await);
        assert_eq!(
            self.revocation
                .burn_refresh(Uuid::new_v4(), self.family)
                .await,
            RefreshBurn::Fresh
        );
    }

    async fn wait_healthy(&self) {
        let quota = Quota::new(1_000_000, Duration::from_secs(1)).unwrap();
        for _ in 0..200 {
            if self.limiter.backend().hit("probe", quota).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the connection manager did not reconnect");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_redis_past_the_deadline_fails_closed_then_recovers() {
    let redis = OwnRedis::start();
    let guards = Guards::new(&redis).await;
    guards.assert_healthy().await;
    // Pause every client (the guards' connection included) for 8 s: calls outlive the
    // 200 ms deadline.
    redis.command(&["CLIENT", "PAUSE", "8000", "ALL"]).await;
    guards.assert_all_fail_closed("while redis is paused").await;
    guards.wait_healthy().await;
    guards.assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_redis_with_debug_sleep_fails_closed() {
    let redis = OwnRedis::start();
    let guards = Guards::new(&redis).await;
    guards.assert_healthy().await;
    // DEBUG SLEEP blocks the whole server (it is single-threaded) for 8 s.
    let sleeper = {
        let url = redis.url();
        tokio::spawn(async move {
            let client = redis::Client::open(url).unwrap();
            let mut con = client.get_multiplexed_async_connection().await.unwrap();
            // The reply may come after this connection\'s own response timeout: only the
            // server being blocked matters.
            let _: Result<redis::Value, _> = redis::cmd("DEBUG")
                .arg("SLEEP")
                .arg(8)
                .query_async(&mut con)
                .await;
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    guards
        .assert_all_fail_closed("while redis is blocked")
        .await;
    sleeper.await.unwrap();
    guards.wait_healthy().await;
    guards.assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_fails_closed_and_reconnects_after_restart() {
    let mut redis = OwnRedis::start();
    let guards = Guards::new(&redis).await;
    guards.assert_healthy().await;
    // State written before the crash.
    let revoked_user = UserId::new_random();
    guards
        .revocation
        .revoke_user_tokens_before(revoked_user, 5_000)
        .await
        .unwrap();
    redis.kill();
    guards.assert_all_fail_closed("after redis died").await;
    // A second round: still refusing while the manager keeps failing to reconnect.
    guards
        .assert_all_fail_closed("while redis stays down")
        .await;
    redis.restart();
    guards.wait_healthy().await;
    guards.assert_healthy().await;
}

#[tokio::test]
async fn unreachable_redis_at_startup_is_an_error() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    redis.kill();
    let err = RedisConnection::connect(&url, "fc:", Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        !err.to_string().contains("redis://"),
        "no url in the message"
    );
    assert!(
        RedisConnection::connect("not a url", "fc:", Duration::from_millis(200))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn redis_connection_debug_hides_the_url() {
    let redis = OwnRedis::start();
    let conn = RedisConnection::connect(&redis.url(), "fc:", Duration::from_millis(500))
        .await
        .unwrap();
    let shown = format!("{conn:?}");
    assert!(!shown.contains("127.0.0.1"), "{shown}");
    let _ = RedisRateLimiter::new(conn).now_ms();
}
