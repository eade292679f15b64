//! The rate-limiter suite, run once per backend (in-memory and Redis).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code"
)]

#[macro_use]
mod guards_support;

use std::sync::Arc;
use std::time::Duration;

use breeze_core::clientip::ClientKey;
use breeze_core::ratelimit::policy::{self, AgentRequestClass, agent_org_limit};
use breeze_core::ratelimit::{
    ManualClock, MemoryRateLimiter, Quota, RateLimitBackend, RateLimitError, RateLimiter, Verdict,
};
use breeze_core::tenancy::{ApiKeyId, DeviceId, OrgId, UserId};

/// The suite: every function takes a fresh backend on a manual clock.
mod suite {
    use super::*;

    pub async fn allows_up_to_limit_then_limits<B: RateLimitBackend>(b: B, clock: ManualClock) {
        let quota = Quota::new(3, Duration::from_secs(10)).unwrap();
        let start = clock.now();
        for expected_remaining in [2, 1, 0] {
            let d = b.hit("k", quota).await.unwrap();
            assert_eq!(d.verdict, Verdict::Allowed);
            assert_eq!(d.remaining, expected_remaining);
            assert_eq!(d.limit, 3);
            assert_eq!(
                d.reset_at_ms,
                start + 10_000,
                "reset = oldest entry + window"
            );
            assert_eq!(d.retry_after, None);
            clock.advance(Duration::from_millis(1));
        }
        let d = b.hit("k", quota).await.unwrap();
        assert_eq!(d.verdict, Verdict::Limited);
        assert_eq!(d.remaining, 0);
        // The request at start+1 ms must leave the window (the one at start is trimmed).
        assert_eq!(d.retry_after, Some(Duration::from_millis(10_000 + 1 - 3)));
        let headers = d.headers();
        assert!(headers.contains(&("X-RateLimit-Limit", "3".to_owned())));
        assert!(headers.contains(&("X-RateLimit-Remaining", "0".to_owned())));
        assert!(headers.contains(&("Retry-After", "10".to_owned())));
    }

    pub async fn window_slides<B: RateLimitBackend>(b: B, clock: ManualClock) {
        let quota = Quota::new(2, Duration::from_secs(10)).unwrap();
        assert!(b.hit("k", quota).await.unwrap().is_allowed()); // t = 0
        clock.advance(Duration::from_secs(5));
        assert!(b.hit("k", quota).await.unwrap().is_allowed()); // t = 5
        clock.advance(Duration::from_secs(4));
        assert!(!b.hit("k", quota).await.unwrap().is_allowed()); // t = 9, counted
        clock.advance(Duration::from_secs(2));
        // t = 11: the t = 0 entry left; t = 5 and the rejected t = 9 remain: still limited.
        let d = b.hit("k", quota).await.unwrap();
        assert_eq!(d.verdict, Verdict::Limited, "rejected requests count");
        clock.advance(Duration::from_secs(7));
        // t = 18: the rejected 9 and 11 are in the window: still limited (and counted).
        assert!(!b.hit("k", quota).await.unwrap().is_allowed());
        clock.advance(Duration::from_secs(4));
        // t = 22: 11 left at 21, only the rejected 18 remains: allowed, nothing left.
        let d = b.hit("k", quota).await.unwrap();
        assert!(d.is_allowed());
        assert_eq!(d.remaining, 0);
        clock.advance(Duration::from_secs(19));
        // t = 41: everything left.
        let d = b.hit("k", quota).await.unwrap();
        assert!(d.is_allowed());
        assert_eq!(d.remaining, 1);
    }

    pub async fn hammering_stays_blocked<B: RateLimitBackend>(b: B, clock: ManualClock) {
        let quota = Quota::new(5, Duration::from_secs(60)).unwrap();
        for _ in 0..5 {
            assert!(b.hit("k", quota).await.unwrap().is_allowed());
        }
        // A client hitting once a second for five minutes never gets through.
        for _ in 0..300 {
            clock.advance(Duration::from_secs(1));
            let d = b.hit("k", quota).await.unwrap();
            assert_eq!(d.verdict, Verdict::Limited);
            assert!(d.retry_after.unwrap() > Duration::ZERO);
        }
        // Waiting out the retry-after lets it in.
        let d = b.peek("k", quota).await.unwrap();
        clock.advance(d.retry_after.unwrap());
        assert!(b.hit("k", quota).await.unwrap().is_allowed());
    }

    pub async fn retry_after_is_exact<B: RateLimitBackend>(b: B, clock: ManualClock) {
        let quota = Quota::new(1, Duration::from_secs(30)).unwrap();
        assert!(b.hit("k", quota).await.unwrap().is_allowed());
        clock.advance(Duration::from_secs(10));
        let d = b.peek("k", quota).await.unwrap();
        assert_eq!(d.retry_after, Some(Duration::from_secs(20)));
        clock.advance(Duration::from_millis(19_999));
        assert!(!b.peek("k", quota).await.unwrap().is_allowed());
        clock.advance(Duration::from_millis(1));
        assert!(b.peek("k", quota).await.unwrap().is_allowed());
    }

    pub async fn peek_does_not_count<B: RateLimitBackend>(b: B, _clock: ManualClock) {
        let quota = Quota::new(2, Duration::from_secs(10)).unwrap();
        for _ in 0..10 {
            let d = b.peek("k", quota).await.unwrap();
            assert!(d.is_allowed());
            assert_eq!(d.remaining, 2);
        }
        assert!(b.hit("k", quota).await.unwrap().is_allowed());
        assert_eq!(b.peek("k", quota).await.unwrap().remaining, 1);
    }

    pub async fn clear_forgets<B: RateLimitBackend>(b: B, _clock: ManualClock) {
        let quota = Quota::new(1, Duration::from_secs(10)).unwrap();
        assert!(b.hit("k", quota).await.unwrap().is_allowed());
        assert!(!b.hit("k", quota).await.unwrap().is_allowed());
        b.clear("k").await.unwrap();
        assert!(b.hit("k", quota).await.unwrap().is_allowed());
    }

    pub async fn keys_are_independent<B: RateLimitBackend>(b: B, _clock: ManualClock) {
        let quota = Quota::new(1, Duration::from_secs(10)).unwrap();
        assert!(b.hit("a", quota).await.unwrap().is_allowed());
        assert!(!b.hit("a", quota).await.unwrap().is_allowed());
        assert!(b.hit("b", quota).await.unwrap().is_allowed());
    }

    pub async fn bad_keys_are_refused<B: RateLimitBackend>(b: B, _clock: ManualClock) {
        let quota = Quota::new(1, Duration::from_secs(10)).unwrap();
        assert!(matches!(
            b.hit("", quota).await,
            Err(RateLimitError::InvalidKey)
        ));
        let long = "x".repeat(513);
        assert!(matches!(
            b.hit(&long, quota).await,
            Err(RateLimitError::InvalidKey)
        ));
        assert!(matches!(
            b.peek("", quota).await,
            Err(RateLimitError::InvalidKey)
        ));
        assert!(matches!(b.clear("").await, Err(RateLimitError::InvalidKey)));
        // The front turns an unusable key into a refusal, not an allow.
        let limiter = RateLimiter::new(b);
        assert_eq!(
            limiter.check_quota("", quota).await.verdict,
            Verdict::Unavailable
        );
    }

    pub async fn org_budget_reserves_inventory<B: RateLimitBackend>(b: B, _clock: ManualClock) {
        let limiter = RateLimiter::new(b);
        let org = OrgId::new_random();
        // 10 devices -> clamp(120, 600, 20000) = 600; general may use 480.
        for _ in 0..480 {
            assert!(
                limiter
                    .agent_per_org(org, 10, AgentRequestClass::General)
                    .await
                    .is_allowed()
            );
        }
        let d = limiter
            .agent_per_org(org, 10, AgentRequestClass::General)
            .await;
        assert_eq!(d.verdict, Verdict::Limited);
        assert_eq!(d.limit, 480);
        // The rejected general request counted: 481 used, 119 left for inventory.
        for _ in 0..119 {
            assert!(
                limiter
                    .agent_per_org(org, 10, AgentRequestClass::Inventory)
                    .await
                    .is_allowed()
            );
        }
        let d = limiter
            .agent_per_org(org, 10, AgentRequestClass::Inventory)
            .await;
        assert_eq!(d.verdict, Verdict::Limited);
        assert_eq!(d.limit, 600);
        // Another organization is untouched.
        let other = OrgId::new_random();
        assert!(
            limiter
                .agent_per_org(other, 10, AgentRequestClass::General)
                .await
                .is_allowed()
        );
    }

    pub async fn catalogue_limits<B: RateLimitBackend>(b: B, clock: ManualClock) {
        let limiter = RateLimiter::new(b);
        let ip = ClientKey::from_ip("203.0.113.9".parse().unwrap());
        let user = UserId::new_random();
        let device = DeviceId::new_random();
        let api_key = ApiKeyId::new_random();
        let agent = "a".repeat(64);

        async fn count<F, Fut>(mut f: F) -> usize
        where
            F: FnMut() -> Fut,
            Fut: std::future::Future<Output = breeze_core::ratelimit::RateDecision>,
        {
            let mut allowed = 0;
            for _ in 0..400 {
                if f().await.is_allowed() {
                    allowed += 1;
                }
            }
            allowed
        }
        assert_eq!(count(|| limiter.login_per_ip(ip)).await, 10);
        assert_eq!(
            count(|| limiter.login_per_ip_email(ip, "a@example.com")).await,
            5
        );
        // Same address, case and spaces differ: same key.
        assert!(
            !limiter
                .login_per_ip_email(ip, "  A@Example.COM ")
                .await
                .is_allowed()
        );
        assert_eq!(count(|| limiter.refresh_per_user(user)).await, 10);
        assert_eq!(count(|| limiter.mfa_per_user(user)).await, 5);
        assert_eq!(
            count(|| limiter.password_reset_per_email("r@example.com")).await,
            3
        );
        assert_eq!(count(|| limiter.enrollment_per_ip(ip)).await, 10);
        assert_eq!(count(|| limiter.agent_per_agent(&agent)).await, 120);
        assert_eq!(count(|| limiter.agent_per_device_ip(device, ip)).await, 30);
        assert_eq!(count(|| limiter.ws_connect_per_agent(&agent)).await, 6);
        assert_eq!(count(|| limiter.api_key_hourly(api_key, 7)).await, 7);
        assert_eq!(count(|| limiter.global_per_ip(ip)).await, 300);
        // Windows: refresh is per minute, reset per hour.
        clock.advance(Duration::from_secs(61));
        assert!(limiter.refresh_per_user(user).await.is_allowed());
        assert!(
            !limiter
                .password_reset_per_email("r@example.com")
                .await
                .is_allowed()
        );
        clock.advance(Duration::from_secs(3600));
        assert!(
            limiter
                .password_reset_per_email("r@example.com")
                .await
                .is_allowed()
        );
    }

    pub async fn account_lockout<B: RateLimitBackend>(b: B, clock: ManualClock) {
        let limiter = RateLimiter::new(b);
        let email = "victim@example.com";
        assert!(limiter.login_lockout(email).await.is_allowed());
        for i in 1..=4 {
            let d = limiter.record_login_failure(email).await;
            assert!(d.is_allowed(), "not locked after {i} failures");
        }
        let d = limiter.record_login_failure(email).await;
        assert_eq!(d.verdict, Verdict::Limited, "locked after 5 failures");
        assert_eq!(d.retry_after, Some(Duration::from_secs(15 * 60)));
        clock.advance(Duration::from_secs(14 * 60));
        assert!(
            !limiter.login_lockout(email).await.is_allowed(),
            "still locked at 14 min"
        );
        // Checking the lock does not extend it.
        clock.advance(Duration::from_secs(60));
        assert!(
            limiter.login_lockout(email).await.is_allowed(),
            "unlocked at 15 min"
        );
        // A successful login clears the count.
        for _ in 0..4 {
            limiter.record_login_failure(email).await;
        }
        limiter.clear_login_failures(email).await.unwrap();
        assert!(limiter.record_login_failure(email).await.is_allowed());
        // Other accounts are unaffected.
        assert!(
            limiter
                .login_lockout("other@example.com")
                .await
                .is_allowed()
        );
    }

    /// N tasks hammering one key never get more than the limit through.
    pub async fn concurrent_hammering_never_exceeds_limit<B: RateLimitBackend + 'static>(b: B) {
        let b = Arc::new(b);
        let quota = Quota::new(100, Duration::from_secs(600)).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let b = Arc::clone(&b);
            tasks.push(tokio::spawn(async move {
                let mut allowed = 0u32;
                for _ in 0..25 {
                    if b.hit("hot", quota).await.unwrap().is_allowed() {
                        allowed += 1;
                    }
                }
                allowed
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(
            total, 100,
            "exactly the limit gets through 800 concurrent requests"
        );
        assert!(!b.hit("hot", quota).await.unwrap().is_allowed());
    }
}

trait ManualClockExt {
    fn now(&self) -> u64;
}
impl ManualClockExt for ManualClock {
    fn now(&self) -> u64 {
        breeze_core::ratelimit::Clock::now_ms(self)
    }
}

macro_rules! suite_for {
    ($backend:ident, $make:expr, $make_real:expr) => {
        backend_suite!(
            $backend,
            $make,
            $make_real,
            clocked: [allows_up_to_limit_then_limits, window_slides, hammering_stays_blocked, retry_after_is_exact, peek_does_not_count, clear_forgets, keys_are_independent, bad_keys_are_refused, org_budget_reserves_inventory, catalogue_limits, account_lockout],
            real: [concurrent_hammering_never_exceeds_limit]
        );
    };
}

async fn memory_backend(clock: ManualClock) -> MemoryRateLimiter {
    MemoryRateLimiter::with_clock(Arc::new(clock))
}

async fn memory_backend_real() -> MemoryRateLimiter {
    MemoryRateLimiter::new()
}

suite_for!(memory, memory_backend, memory_backend_real);

#[cfg(feature = "redis")]
async fn redis_backend(clock: ManualClock) -> breeze_core::ratelimit::RedisRateLimiter {
    breeze_core::ratelimit::RedisRateLimiter::with_clock(
        guards_support::redis_conn().await,
        Arc::new(clock),
    )
}

#[cfg(feature = "redis")]
async fn redis_backend_real() -> breeze_core::ratelimit::RedisRateLimiter {
    breeze_core::ratelimit::RedisRateLimiter::new(guards_support::redis_conn().await)
}

#[cfg(feature = "redis")]
suite_for!(redis, redis_backend, redis_backend_real);

// Backend-specific and pure checks.

#[test]
fn memory_evicts_least_recently_used_at_cap() {
    let clock = ManualClock::new(1_000_000);
    let b = MemoryRateLimiter::with_options(3, 1, Arc::new(clock));
    let quota = Quota::new(1, Duration::from_secs(60)).unwrap();
    let now = 1_000_000;
    for k in ["a", "b", "c"] {
        assert!(b.hit_at(k, quota, now).unwrap().is_allowed());
    }
    // Touch "a" so "b" is the least recently used.
    assert!(!b.hit_at("a", quota, now).unwrap().is_allowed());
    assert!(b.hit_at("d", quota, now).unwrap().is_allowed());
    assert_eq!(b.tracked_keys(), 3);
    assert!(
        !b.hit_at("a", quota, now).unwrap().is_allowed(),
        "a survived"
    );
    assert!(
        !b.hit_at("c", quota, now).unwrap().is_allowed(),
        "c survived"
    );
    assert!(
        b.hit_at("b", quota, now).unwrap().is_allowed(),
        "b was evicted"
    );
}

#[test]
fn memory_default_cap_is_100k_keys() {
    let b = MemoryRateLimiter::new();
    let quota = Quota::new(1, Duration::from_secs(60)).unwrap();
    for i in 0..100_500 {
        b.hit_at(&format!("k{i}"), quota, 1_000).unwrap();
    }
    assert!(b.tracked_keys() <= 100_000);
    assert!(b.tracked_keys() >= 99_000, "shards fill evenly enough");
}

#[test]
fn quota_rejects_bad_values() {
    assert!(Quota::new(0, Duration::from_secs(1)).is_err());
    assert!(Quota::new(1_000_001, Duration::from_secs(1)).is_err());
    assert!(Quota::new(1, Duration::ZERO).is_err());
    assert!(Quota::new(1, Duration::from_secs(86_401)).is_err());
    assert_eq!(
        Quota::per_secs(0, 0),
        Quota::new(1, Duration::from_secs(1)).unwrap()
    );
    assert_eq!(
        Quota::new(5, Duration::from_secs(1))
            .unwrap()
            .retaining(2)
            .retain(),
        5
    );
}

#[test]
fn catalogue_matches_spec() {
    let q = |p: policy::Policy| (p.quota.limit(), p.quota.window().as_secs());
    assert_eq!(q(policy::LOGIN_PER_IP), (10, 300));
    assert_eq!(q(policy::LOGIN_PER_IP_EMAIL), (5, 300));
    assert_eq!(q(policy::LOGIN_FAILURES_PER_ACCOUNT), (5, 900));
    assert_eq!(q(policy::REFRESH_PER_USER), (10, 60));
    assert_eq!(q(policy::MFA_PER_USER), (5, 300));
    assert_eq!(q(policy::PASSWORD_RESET_PER_EMAIL), (3, 3600));
    assert_eq!(q(policy::ENROLLMENT_PER_IP), (10, 60));
    assert_eq!(q(policy::AGENT_PER_AGENT), (120, 60));
    assert_eq!(q(policy::AGENT_PER_DEVICE_IP), (30, 60));
    assert_eq!(q(policy::WS_CONNECT_PER_AGENT), (6, 60));
    assert_eq!(q(policy::GLOBAL_PER_IP), (300, 60));
    assert_eq!(q(policy::api_key_hourly(250)), (250, 3600));
    assert_eq!(agent_org_limit(0), 600);
    assert_eq!(agent_org_limit(50), 600);
    assert_eq!(agent_org_limit(51), 612);
    assert_eq!(agent_org_limit(1000), 12_000);
    assert_eq!(agent_org_limit(1667), 20_000);
    assert_eq!(agent_org_limit(u32::MAX), 20_000);
    let general = policy::agent_per_org(1000, AgentRequestClass::General).quota;
    let inventory = policy::agent_per_org(1000, AgentRequestClass::Inventory).quota;
    assert_eq!((general.limit(), general.retain()), (9_600, 12_000));
    assert_eq!((inventory.limit(), inventory.retain()), (12_000, 12_000));
}

mod model {
    //! The in-memory limiter against a brute-force model that keeps every request forever.
    use std::time::Duration;

    use breeze_core::ratelimit::{MemoryRateLimiter, Quota};
    use proptest::prelude::*;

    /// Requests in the window ending at `t` (entries newer than `t - window`).
    fn in_window(log: &[u64], t: u64, window: u64) -> usize {
        log.iter().filter(|&&e| e + window > t && e <= t).count()
    }

    proptest! {
        #[test]
        fn matches_the_full_log_model(
            limit in 1u32..6,
            window in 1u64..40,
            steps in proptest::collection::vec((0u64..15, any::<bool>()), 1..120),
        ) {
            let quota = Quota::new(limit, Duration::from_millis(window)).unwrap();
            let limiter = MemoryRateLimiter::with_max_keys(16);
            let mut log: Vec<u64> = Vec::new();
            let mut t = 1_000u64;
            for (advance, peek) in steps {
                t += advance;
                let count = in_window(&log, t, window);
                let allowed = count < limit as usize;
                let d = if peek {
                    limiter.peek_at("k", quota, t).unwrap()
                } else {
                    limiter.hit_at("k", quota, t).unwrap()
                };
                prop_assert_eq!(d.is_allowed(), allowed, "t={} count={}", t, count);
                if !peek {
                    log.push(t);
                }
                if allowed {
                    let used = count + usize::from(!peek);
                    prop_assert_eq!(d.remaining as usize, limit as usize - used);
                    prop_assert_eq!(d.retry_after, None);
                } else {
                    prop_assert_eq!(d.remaining, 0);
                    // Brute force: the first instant a request would be allowed again.
                    let mut free = t;
                    while in_window(&log, free, window) >= limit as usize {
                        free += 1;
                    }
                    prop_assert_eq!(d.retry_after, Some(Duration::from_millis((free - t).max(1))));
                }
            }
        }
    }
}
