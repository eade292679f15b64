//! The revocation backend trait.

use std::future::Future;
use std::time::Duration;

use uuid::Uuid;

use crate::tenancy::UserId;

/// What burning a refresh `jti` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurnOutcome {
    /// First use: burned now.
    Fresh,
    /// Already burned, `ms` milliseconds ago.
    AlreadyBurned {
        /// Milliseconds since the first burn (0 if the clock stepped back).
        ms: u64,
    },
}

/// What recording a TOTP time step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// A step newer than any accepted before: accepted and recorded.
    Accepted,
    /// This step (or a later one) was already accepted for the user.
    Replayed,
}

/// What recording a signature nonce found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceOutcome {
    /// Not seen before: recorded now.
    Fresh,
    /// Already recorded (a replay).
    Seen,
}

/// Errors of the revocation backends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The backend did not answer before the deadline.
    #[error("revocation backend timed out")]
    Timeout,
    /// The backend failed.
    #[error("revocation backend unavailable: {0}")]
    Backend(String),
}

impl RevocationError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Timeout => "backend_timeout",
            Self::Backend(_) => "backend_unavailable",
        }
    }
}

/// Storage of revocation state. Each method is one atomic step.
pub trait RevocationBackend: Send + Sync {
    /// Raises the user's cut-off to `cutoff_secs` (never lowers it), kept for `ttl`.
    fn raise_user_cutoff(
        &self,
        user: UserId,
        cutoff_secs: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send;

    /// The user's cut-off in Unix seconds, if any.
    fn user_cutoff(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Option<i64>, RevocationError>> + Send;

    /// Burns `jti` if it was not burned (atomic set-if-absent, kept for `ttl`), recording the
    /// burn time (the race-grace marker).
    fn burn_jti(
        &self,
        jti: Uuid,
        ttl: Duration,
    ) -> impl Future<Output = Result<BurnOutcome, RevocationError>> + Send;

    /// Marks the refresh family revoked for `ttl`.
    fn revoke_family(
        &self,
        family: Uuid,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send;

    /// Whether the family is revoked.
    fn family_revoked(
        &self,
        family: Uuid,
    ) -> impl Future<Output = Result<bool, RevocationError>> + Send;

    /// Accepts TOTP `step` for `user` only if it is newer than every step accepted before
    /// (atomic compare-and-set, remembered for `ttl`).
    fn use_totp_step(
        &self,
        user: UserId,
        step: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<StepOutcome, RevocationError>> + Send;

    /// Records `nonce` under `scope` if it was not recorded (atomic set-if-absent, kept for
    /// `ttl`): the replay cache of signed agent requests (SPEC 17).
    fn use_nonce(
        &self,
        scope: &str,
        nonce: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<NonceOutcome, RevocationError>> + Send;
}
