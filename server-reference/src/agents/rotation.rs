//! Agent token rotation (SPEC 8.3): stage three fresh tokens, confirm with the pending one, the previous ones valid for a grace.

use breeze_agent_proto::http::ErrorReason;
use breeze_agent_proto::rotation::*;
use breeze_agent_proto::secret::WireToken;
use breeze_core::audit::AuditResult;
use breeze_crypto::credentials::AgentToken;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::agents::auth::{AgentAuthed, TokenGeneration, TokenRole};
use crate::agents::error::AgentError;
use crate::audit::events::event_builder;
use crate::state::AppState;
use crate::store::{agents, audit};

use crate::agents::heartbeat::confirm_staged;

/// How long staged tokens wait for confirmation.
pub const PENDING_TTL: time::Duration = time::Duration::hours(1);
/// How long the previous tokens stay valid after confirmation.
pub const GRACE: time::Duration = time::Duration::minutes(5);

fn ts(t: OffsetDateTime) -> breeze_agent_proto::ids::Timestamp {
    breeze_agent_proto::ids::Timestamp::new(t)
}

pub(crate) fn wire(token: &AgentToken) -> Result<WireToken, AgentError> {
    WireToken::parse(token.expose_secret()).map_err(AgentError::internal)
}

/// Three fresh tokens and their hashes.
pub(crate) struct TokenSet {
    pub(crate) agent: AgentToken,
    pub(crate) watchdog: AgentToken,
    pub(crate) helper: AgentToken,
}

impl TokenSet {
    pub(crate) fn generate() -> Result<Self, AgentError> {
        Ok(Self {
            agent: AgentToken::generate().map_err(AgentError::internal)?,
            watchdog: AgentToken::generate().map_err(AgentError::internal)?,
            helper: AgentToken::generate().map_err(AgentError::internal)?,
        })
    }

    pub(crate) fn hashes(&self) -> agents::TokenHashes {
        agents::TokenHashes {
            agent: self.agent.hash().to_hex(),
            watchdog: self.watchdog.hash().to_hex(),
            helper: self.helper.hash().to_hex(),
        }
    }
}

/// Stages a token rotation (phase 1): three fresh tokens, pending until confirmed or
/// [`PENDING_TTL`] passes; audited.
///
/// # Errors
/// `invalid_token` unless the current agent token was presented; `refresh_raced` when
/// another rotation won; [`AgentError`] on database failure.
pub async fn stage(
    state: &AppState,
    authed: &AgentAuthed,
) -> Result<RotateTokenResponse, AgentError> {
    if authed.role != TokenRole::Agent || authed.generation != TokenGeneration::Current {
        // staging needs the current agent token (a previous token must not mint new ones)
        return Err(AgentError::Reason(ErrorReason::InvalidToken));
    }
    let tokens = TokenSet::generate()?;
    let expires = state.clock.now() + PENDING_TTL;
    let mut tx = authed.begin(state).await?;
    if !agents::stage_rotation(
        &mut tx,
        authed.device_id,
        &authed.presented_hash,
        &tokens.hashes(),
        expires,
    )
    .await?
    {
        return Err(AgentError::Reason(ErrorReason::RefreshRaced));
    }
    let event = event_builder(
        state,
        authed.actor(),
        &authed.client,
        "agent.token.rotate.staged",
        AuditResult::Success,
    )?
    .resource_type("device")
    .resource_id(authed.device_id.to_string())
    .details(&json!({"pendingExpiresAt": expires.format(&Rfc3339).ok()}))
    .build()
    .map_err(AgentError::internal)?;
    audit::append(&mut tx, Some(authed.org_id), event).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(authed.device_id);
    Ok(RotateTokenResponse {
        auth_token: wire(&tokens.agent)?,
        watchdog_auth_token: wire(&tokens.watchdog)?,
        helper_auth_token: wire(&tokens.helper)?,
        pending_expires_at: ts(expires),
    })
}

/// Confirms a staged rotation (phase 2) with the pending token; a retry after success
/// answers the same grace end.
///
/// # Errors
/// `invalid_token` for a watchdog token; `rotation_not_pending` when nothing is staged;
/// `refresh_raced` when the staged tokens changed; [`AgentError`] on database failure.
pub async fn confirm(
    state: &AppState,
    authed: &AgentAuthed,
) -> Result<ConfirmRotationResponse, AgentError> {
    if authed.role != TokenRole::Agent {
        return Err(AgentError::Reason(ErrorReason::InvalidToken));
    }
    match authed.generation {
        TokenGeneration::Pending => {
            let mut tx = authed.begin(state).await?;
            let Some(grace) = confirm_staged(state, &mut tx, authed).await? else {
                return Err(AgentError::Reason(ErrorReason::RefreshRaced));
            };
            tx.commit().await?;
            state.agent_cache.invalidate_device(authed.device_id);
            Ok(ConfirmRotationResponse {
                confirmed: true,
                grace_expires_at: ts(grace),
            })
        }
        // a retry after success: the pending token is current now
        TokenGeneration::Current if !authed.rotation_pending => {
            let mut tx = state.store.begin_system("rotation confirm retry").await?;
            let row = agents::auth_row(&mut tx, &authed.agent_id).await?;
            drop(tx);
            let grace = row
                .and_then(|r| {
                    r.agent
                        .get(2)
                        .and_then(Clone::clone)
                        .and(r.previous_grace_until)
                })
                .ok_or(AgentError::Reason(ErrorReason::RotationNotPending))?;
            Ok(ConfirmRotationResponse {
                confirmed: true,
                grace_expires_at: ts(grace),
            })
        }
        _ => Err(AgentError::Reason(ErrorReason::RotationNotPending)),
    }
}
