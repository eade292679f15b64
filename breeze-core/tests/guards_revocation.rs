//! The revocation suite, run once per backend (in-memory and Redis).
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

use breeze_core::ratelimit::ManualClock;
use breeze_core::revocation::{
    BurnOutcome, MemoryRevocationStore, RefreshBurn, RevocationBackend, RevocationStore,
    StepOutcome, TotpStep,
};
use breeze_core::tenancy::UserId;
use uuid::Uuid;

mod suite {
    use super::*;

    pub async fn user_cutoff<B: RevocationBackend>(b: B, _clock: ManualClock) {
        let store = RevocationStore::new(b);
        let user = UserId::new_random();
        let other = UserId::new_random();
        assert!(
            !store.is_token_revoked(user, 1_000).await,
            "no cut-off: not revoked"
        );
        store.revoke_user_tokens_before(user, 2_000).await.unwrap();
        assert!(store.is_token_revoked(user, 1_000).await);
        assert!(
            store.is_token_revoked(user, 2_000).await,
            "same second: revoked"
        );
        assert!(
            !store.is_token_revoked(user, 2_001).await,
            "issued after: valid"
        );
        assert!(
            !store.is_token_revoked(other, 1_000).await,
            "other users untouched"
        );
        // The cut-off never moves back.
        store.revoke_user_tokens_before(user, 1_500).await.unwrap();
        assert!(store.is_token_revoked(user, 1_900).await);
        assert_eq!(
            store.backend().user_cutoff(user).await.unwrap(),
            Some(2_000)
        );
        store.revoke_user_tokens_before(user, 3_000).await.unwrap();
        assert!(store.is_token_revoked(user, 2_500).await);
    }

    pub async fn refresh_burn_grace_and_reuse<B: RevocationBackend>(b: B, clock: ManualClock) {
        let store = RevocationStore::new(b);
        let family = Uuid::new_v4();
        let jti = Uuid::new_v4();
        assert_eq!(store.burn_refresh(jti, family).await, RefreshBurn::Fresh);
        clock.advance(Duration::from_secs(14));
        assert_eq!(
            store.burn_refresh(jti, family).await,
            RefreshBurn::Raced,
            "inside 15 s grace"
        );
        assert!(
            !store.is_family_revoked(family).await,
            "a race revokes nothing"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            store.burn_refresh(jti, family).await,
            RefreshBurn::Reused,
            "grace over at 15 s"
        );
        assert!(
            store.is_family_revoked(family).await,
            "reuse revokes the family"
        );
        // Another jti of another family is unaffected.
        let other_family = Uuid::new_v4();
        assert_eq!(
            store.burn_refresh(Uuid::new_v4(), other_family).await,
            RefreshBurn::Fresh
        );
        assert!(!store.is_family_revoked(other_family).await);
    }

    pub async fn burn_reports_age<B: RevocationBackend>(b: B, clock: ManualClock) {
        let jti = Uuid::new_v4();
        assert_eq!(
            b.burn_jti(jti, Duration::from_secs(60)).await.unwrap(),
            BurnOutcome::Fresh
        );
        clock.advance(Duration::from_millis(1_234));
        assert_eq!(
            b.burn_jti(jti, Duration::from_secs(60)).await.unwrap(),
            BurnOutcome::AlreadyBurned { ms: 1_234 }
        );
    }

    pub async fn family_revocation<B: RevocationBackend>(b: B, _clock: ManualClock) {
        let store = RevocationStore::new(b);
        let family = Uuid::new_v4();
        assert!(!store.is_family_revoked(family).await);
        store.revoke_family(family).await.unwrap();
        assert!(store.is_family_revoked(family).await);
        store.revoke_family(family).await.unwrap();
        assert!(store.is_family_revoked(family).await, "idempotent");
    }

    pub async fn totp_steps<B: RevocationBackend>(b: B, _clock: ManualClock) {
        let store = RevocationStore::new(b);
        let user = UserId::new_random();
        let other = UserId::new_random();
        assert_eq!(store.accept_totp_step(user, 100).await, TotpStep::Accepted);
        assert_eq!(
            store.accept_totp_step(user, 100).await,
            TotpStep::Replayed,
            "same step"
        );
        assert_eq!(
            store.accept_totp_step(user, 99).await,
            TotpStep::Replayed,
            "older step"
        );
        assert_eq!(
            store.accept_totp_step(other, 100).await,
            TotpStep::Accepted,
            "per user"
        );
        assert_eq!(store.accept_totp_step(user, 101).await, TotpStep::Accepted);
        assert_eq!(store.accept_totp_step(user, 101).await, TotpStep::Replayed);
        assert_eq!(
            store.accept_totp_step(user, u64::MAX / 2).await,
            TotpStep::Accepted
        );
    }

    pub async fn entries_expire<B: RevocationBackend>(b: B, clock: ManualClock) {
        // Short TTLs through the backend directly (the store uses the SPEC lifetimes).
        let family = Uuid::new_v4();
        b.revoke_family(family, Duration::from_millis(300))
            .await
            .unwrap();
        assert!(b.family_revoked(family).await.unwrap());
        clock.advance(Duration::from_millis(400));
        tokio::time::sleep(Duration::from_millis(400)).await; // Redis keeps real time
        assert!(!b.family_revoked(family).await.unwrap());
        let user = UserId::new_random();
        b.use_totp_step(user, 5, Duration::from_millis(300))
            .await
            .unwrap();
        assert_eq!(
            b.use_totp_step(user, 5, Duration::from_secs(1))
                .await
                .unwrap(),
            StepOutcome::Replayed
        );
    }

    pub async fn concurrent_burns_have_one_winner<B: RevocationBackend + 'static>(b: B) {
        let b = Arc::new(b);
        let jti = Uuid::new_v4();
        let user = UserId::new_random();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let b = Arc::clone(&b);
            tasks.push(tokio::spawn(async move {
                let burn = b.burn_jti(jti, Duration::from_secs(60)).await.unwrap();
                let step = b
                    .use_totp_step(user, 7, Duration::from_secs(60))
                    .await
                    .unwrap();
                (burn == BurnOutcome::Fresh, step == StepOutcome::Accepted)
            }));
        }
        let (mut fresh, mut accepted) = (0, 0);
        for t in tasks {
            let (f, a) = t.await.unwrap();
            fresh += usize::from(f);
            accepted += usize::from(a);
        }
        assert_eq!(fresh, 1, "exactly one presenter wins the refresh");
        assert_eq!(accepted, 1, "exactly one code use per step");
    }
}

macro_rules! suite_for {
    ($backend:ident, $make:expr, $make_real:expr) => {
        backend_suite!(
            $backend,
            $make,
            $make_real,
            clocked: [user_cutoff, refresh_burn_grace_and_reuse, burn_reports_age, family_revocation, totp_steps, entries_expire],
            real: [concurrent_burns_have_one_winner]
        );
    };
}

async fn memory_backend(clock: ManualClock) -> MemoryRevocationStore {
    MemoryRevocationStore::with_clock(Arc::new(clock))
}

async fn memory_backend_real() -> MemoryRevocationStore {
    MemoryRevocationStore::new()
}

suite_for!(memory, memory_backend, memory_backend_real);

#[cfg(feature = "redis")]
async fn redis_backend(clock: ManualClock) -> breeze_core::revocation::RedisRevocationStore {
    breeze_core::revocation::RedisRevocationStore::with_clock(
        guards_support::redis_conn().await,
        Arc::new(clock),
    )
}

#[cfg(feature = "redis")]
async fn redis_backend_real() -> breeze_core::revocation::RedisRevocationStore {
    breeze_core::revocation::RedisRevocationStore::new(guards_support::redis_conn().await)
}

#[cfg(feature = "redis")]
suite_for!(redis, redis_backend, redis_backend_real);

#[test]
fn memory_sweeps_expired_entries() {
    let clock = ManualClock::new(1_000);
    let store = MemoryRevocationStore::with_clock(Arc::new(clock.clone()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..100 {
            store
                .burn_jti(Uuid::new_v4(), Duration::from_secs(1))
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 100);
        clock.advance(Duration::from_secs(2));
        assert!(store.is_empty());
    });
}
