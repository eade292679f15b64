//! The fail-closed front over a revocation backend.

use std::time::Duration;

use uuid::Uuid;

use super::backend::{BurnOutcome, NonceOutcome, RevocationBackend, RevocationError, StepOutcome};
use crate::ratelimit::duration_ms;
use crate::tenancy::UserId;

/// The race grace after a refresh rotation (SPEC 2.3).
pub const RACE_GRACE: Duration = Duration::from_secs(15);
/// How long a user cut-off is kept: the absolute lifetime of a refresh family (30 days).
pub const DEFAULT_CUTOFF_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// How long a burned `jti` is kept: the refresh-token lifetime (7 days).
pub const DEFAULT_JTI_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long a family revocation is kept: the absolute family lifetime (30 days).
pub const DEFAULT_FAMILY_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// How long the last accepted TOTP step is kept (well past the +-1 step tolerance).
pub const DEFAULT_TOTP_TTL: Duration = Duration::from_secs(10 * 60);

/// The answer to presenting a refresh token's `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshBurn {
    /// First use: issue the new pair.
    Fresh,
    /// Reused within the race grace right after its rotation: answer 401 `refresh_raced`,
    /// revoke nothing.
    Raced,
    /// Reused after the grace: the family has been revoked; audit
    /// `auth.refresh.reuse_detected` and answer 401.
    Reused,
    /// The backend could not answer: refuse the refresh (fail closed).
    Unavailable,
}

/// The answer to a TOTP code's time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpStep {
    /// First use of this step (and newer than every accepted one).
    Accepted,
    /// Replay: refuse.
    Replayed,
    /// The backend could not answer: refuse (fail closed).
    Unavailable,
}

/// The answer to a signed request's nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceUse {
    /// First use of the nonce.
    Fresh,
    /// Seen before: a replay, refuse.
    Replayed,
    /// The backend could not answer: refuse (fail closed).
    Unavailable,
}

/// Revocation checks for a server; every read fails closed.
#[derive(Debug, Clone)]
pub struct RevocationStore<B> {
    backend: B,
    grace: Duration,
}

impl<B: RevocationBackend> RevocationStore<B> {
    /// A store over `backend` with the 15 s race grace.
    #[must_use]
    pub const fn new(backend: B) -> Self {
        Self {
            backend,
            grace: RACE_GRACE,
        }
    }

    /// The backend.
    #[must_use]
    pub const fn backend(&self) -> &B {
        &self.backend
    }

    /// Revokes every token of `user` issued at or before `cutoff_secs` (Unix seconds). The
    /// cut-off only ever moves forward.
    ///
    /// # Errors
    /// The backend error: the caller must still bump the durable epoch in PostgreSQL.
    pub async fn revoke_user_tokens_before(
        &self,
        user: UserId,
        cutoff_secs: i64,
    ) -> Result<(), RevocationError> {
        self.backend
            .raise_user_cutoff(user, cutoff_secs, DEFAULT_CUTOFF_TTL)
            .await
    }

    /// Whether a token of `user` issued at `issued_at_secs` (its `iat`) is revoked by the
    /// user-wide cut-off. Tokens issued in the cut-off's own second are revoked too (the
    /// `iat` has one-second resolution; erring towards revoked). Backend error: revoked.
    pub async fn is_token_revoked(&self, user: UserId, issued_at_secs: i64) -> bool {
        match self.backend.user_cutoff(user).await {
            Ok(Some(cutoff)) => issued_at_secs <= cutoff,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Burns the presented refresh `jti` of `family`. A reuse after the race grace revokes the
    /// whole family before answering [`RefreshBurn::Reused`].
    pub async fn burn_refresh(&self, jti: Uuid, family: Uuid) -> RefreshBurn {
        match self.backend.burn_jti(jti, DEFAULT_JTI_TTL).await {
            Ok(BurnOutcome::Fresh) => RefreshBurn::Fresh,
            Ok(BurnOutcome::AlreadyBurned { ms }) if ms < duration_ms(self.grace) => {
                RefreshBurn::Raced
            }
            Ok(BurnOutcome::AlreadyBurned { .. }) => {
                // Best effort here; the caller also revokes the family in PostgreSQL.
                let _revoked = self.backend.revoke_family(family, DEFAULT_FAMILY_TTL).await;
                RefreshBurn::Reused
            }
            Err(_) => RefreshBurn::Unavailable,
        }
    }

    /// Revokes the refresh family (logout, reuse detected).
    ///
    /// # Errors
    /// The backend error: the caller must still set the family's `revoked_at` in PostgreSQL.
    pub async fn revoke_family(&self, family: Uuid) -> Result<(), RevocationError> {
        self.backend.revoke_family(family, DEFAULT_FAMILY_TTL).await
    }

    /// Whether the family is revoked. Backend error: revoked.
    pub async fn is_family_revoked(&self, family: Uuid) -> bool {
        self.backend.family_revoked(family).await.unwrap_or(true)
    }

    /// Accepts the TOTP time `step` for `user` at most once (and never an older step after a
    /// newer one). Backend error: refused.
    pub async fn accept_totp_step(&self, user: UserId, step: u64) -> TotpStep {
        match self
            .backend
            .use_totp_step(user, step, DEFAULT_TOTP_TTL)
            .await
        {
            Ok(StepOutcome::Accepted) => TotpStep::Accepted,
            Ok(StepOutcome::Replayed) => TotpStep::Replayed,
            Err(_) => TotpStep::Unavailable,
        }
    }

    /// Accepts a signature `nonce` of `scope` (a device) once within `ttl` (the signature
    /// window). Backend error: refused.
    pub async fn accept_nonce(&self, scope: &str, nonce: &str, ttl: Duration) -> NonceUse {
        match self.backend.use_nonce(scope, nonce, ttl).await {
            Ok(NonceOutcome::Fresh) => NonceUse::Fresh,
            Ok(NonceOutcome::Seen) => NonceUse::Replayed,
            Err(_) => NonceUse::Unavailable,
        }
    }
}
