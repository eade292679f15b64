//! Token revocation state (SPEC 2.2, 2.3, 2.4): the user-wide cut-off, refresh `jti` burns
//! with the 15 s race grace, refresh-family revocation and the per-user TOTP step guard.
//!
//! A [`RevocationBackend`] stores the state: [`MemoryRevocationStore`] for a single node,
//! [`RedisRevocationStore`] (feature `redis`) for replicas. [`RevocationStore`] sits in front
//! and fails closed: when the backend cannot answer, tokens are revoked, refreshes and TOTP
//! codes refused. PostgreSQL remains the durable backstop (family `revoked_at`, user epochs),
//! so losing this cache never un-revokes anything the database knows about.
//!
//! What a refresh does with the two burns of its `jti` (the cache's [`RefreshBurn`] and the
//! store's [`DurableBurn`]) is the pure [`decide_refresh`] (after
//! [`decide_refresh_before_store`]).

mod backend;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod refresh;
mod store;

pub use backend::{BurnOutcome, NonceOutcome, RevocationBackend, RevocationError, StepOutcome};
pub use memory::MemoryRevocationStore;
#[cfg(feature = "redis")]
pub use redis::RedisRevocationStore;
pub use refresh::{DurableBurn, RefreshDecision, decide_refresh, decide_refresh_before_store};
pub use store::{
    DEFAULT_CUTOFF_TTL, DEFAULT_FAMILY_TTL, DEFAULT_JTI_TTL, DEFAULT_TOTP_TTL, NonceUse,
    RACE_GRACE, RefreshBurn, RevocationStore, TotpStep,
};
