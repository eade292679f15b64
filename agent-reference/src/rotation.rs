//! Two-phase token rotation (SPEC 8.3), crash-safe on the host.
//!
//! 1. `POST rotate-token` with the current token: the server stages three pending tokens.
//! 2. The pending tokens are written durably to `secrets.yaml` next to the current ones and
//!    read back (constant-time comparison). Nothing is confirmed unless that succeeds.
//! 3. `POST rotate-token/confirm` with the pending token.
//! 4. The pending tokens become current in `secrets.yaml` (durable write, read back).
//!
//! A crash before 2 leaves only the current tokens (the server's staged ones expire). A crash
//! between 2 and 4 leaves pending tokens on disk: at startup [`resume`] confirms them (the
//! confirm is idempotent: a retry after success also answers `confirmed`) and promotes them.
//! If the server no longer knows them (`rotation_expired`, `rotation_not_pending`,
//! `refresh_raced`, or 401) they are dropped and the current tokens stay in use. A transport
//! error keeps them for the next attempt. The agent therefore always holds a token the server
//! accepts: the current one until confirm succeeds, and the previous one stays valid for the
//! 5-minute grace window after it.

use breeze_agent_proto::{
    AgentId, ConfirmRotationRequest, ConfirmRotationResponse, RotateTokenRequest,
    RotateTokenResponse,
};
use breeze_crypto::credentials::CredentialError;

use crate::client::{ApiClient, ClientError};
use breeze_crypto::httpsig::DeviceSigningKey;

use crate::config::{ConfigDir, ConfigError, PendingTokens, Secrets, Tokens};
use crate::paths;

/// A rotation step failed; the on-disk state is always consistent afterwards.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// Reading or writing `secrets.yaml` failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server call failed (pending tokens, if any, are kept for a retry).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A token from the server did not parse.
    #[error("token from the server is malformed: {0}")]
    Credential(#[from] CredentialError),
}

/// What a rotation step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationOutcome {
    /// Nothing was pending (only for [`resume`]).
    NothingPending,
    /// The pending tokens were confirmed and are now current.
    Rotated,
    /// The server no longer knows the pending tokens; they were dropped and the current
    /// tokens stay in use.
    PendingDiscarded,
}

/// Whether a confirm failure means the pending tokens are dead (drop them) rather than
/// unreachable for now (keep them).
const fn pending_is_dead(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Status {
            status: 401 | 409,
            ..
        }
    )
}

/// Confirms pending tokens left in `secrets.yaml` (startup, or the server asked via
/// `confirmTokenRotation`).
///
/// # Errors
/// [`RotationError`]; on a transport error or 5xx the pending tokens stay on disk.
pub async fn resume(
    client: &ApiClient,
    dir: &ConfigDir,
    agent: &AgentId,
) -> Result<RotationOutcome, RotationError> {
    let secrets = dir.read_secrets()?;
    let Some(pending) = secrets.pending else {
        return Ok(RotationOutcome::NothingPending);
    };
    confirm_and_promote(
        client,
        dir,
        agent,
        (secrets.current, secrets.signing_key),
        pending,
    )
    .await
}

/// Runs a full rotation (or resumes one already pending).
///
/// # Errors
/// [`RotationError`]; the current tokens stay valid whatever fails.
pub async fn rotate(
    client: &ApiClient,
    dir: &ConfigDir,
    agent: &AgentId,
) -> Result<RotationOutcome, RotationError> {
    let secrets = dir.read_secrets()?;
    if let Some(pending) = secrets.pending {
        return confirm_and_promote(
            client,
            dir,
            agent,
            (secrets.current, secrets.signing_key),
            pending,
        )
        .await;
    }
    // Phase 1: stage with the current token.
    let reply = client
        .post::<RotateTokenRequest, RotateTokenResponse>(
            &paths::rotate_token(agent),
            Some(&secrets.current.auth),
            &RotateTokenRequest {},
            &[],
        )
        .await?;
    let staged = reply.message;
    let pending = PendingTokens {
        tokens: Tokens::from_wire(
            &staged.auth_token,
            &staged.watchdog_auth_token,
            &staged.helper_auth_token,
        )?,
        expires_at: staged.pending_expires_at.get(),
    };
    // Durable write + read-back before anything is confirmed.
    let with_pending = Secrets {
        current: secrets.current,
        pending: Some(pending),
        signing_key: secrets.signing_key,
    };
    dir.write_secrets_verified(&with_pending)?;
    tracing::info!("token rotation staged and saved; confirming");
    let Secrets {
        current,
        pending,
        signing_key,
    } = with_pending;
    match pending {
        Some(pending) => {
            confirm_and_promote(client, dir, agent, (current, signing_key), pending).await
        }
        None => Ok(RotationOutcome::NothingPending),
    }
}

async fn confirm_and_promote(
    client: &ApiClient,
    dir: &ConfigDir,
    agent: &AgentId,
    (current, signing_key): (Tokens, Option<std::sync::Arc<DeviceSigningKey>>),
    pending: PendingTokens,
) -> Result<RotationOutcome, RotationError> {
    // Phase 2: confirm with the pending token.
    let confirmed = client
        .post::<ConfirmRotationRequest, ConfirmRotationResponse>(
            &paths::confirm_rotation(agent),
            Some(&pending.tokens.auth),
            &ConfirmRotationRequest {},
            &[],
        )
        .await;
    match confirmed {
        Ok(_) => {
            dir.write_secrets_verified(&Secrets {
                current: pending.tokens,
                pending: None,
                signing_key,
            })?;
            tracing::info!("token rotation confirmed; new tokens are current");
            Ok(RotationOutcome::Rotated)
        }
        Err(e) if pending_is_dead(&e) => {
            tracing::warn!(error = %e, "pending tokens refused by the server; keeping the current tokens");
            dir.write_secrets_verified(&Secrets {
                current,
                pending: None,
                signing_key,
            })?;
            Ok(RotationOutcome::PendingDiscarded)
        }
        Err(e) => Err(e.into()),
    }
}
