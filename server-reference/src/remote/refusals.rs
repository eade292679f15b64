//! Refused tickets (SPEC 12): the audited reasons, and the refusal itself: audited
//! `remote.ticket.rejected` with the reason (never the ticket) in the organization's chain
//! when the ticket named one, else the system chain, and answered 401 `ticket_rejected`.

use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{OrgId, UserId};
use serde_json::json;
use uuid::Uuid;

use crate::audit::events::{ClientMeta, event_builder};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{ScopedTx, audit};

/// Why a ticket was refused (the audited reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No ticket, or not a well-formed one.
    Malformed,
    /// No such ticket.
    Unknown,
    /// Consumed before.
    Replayed,
    /// Issued for another session.
    SessionMismatch,
    /// Past its 60 seconds.
    Expired,
    /// Presented from another IP.
    IpMismatch,
    /// Presented with another User-Agent.
    UserAgentMismatch,
    /// The stored claims do not name the ticket's user and login session (a tampered row).
    ClaimsMismatch,
}

impl Rejection {
    /// The audited reason.
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unknown => "unknown",
            Self::Replayed => "replayed",
            Self::SessionMismatch => "session_mismatch",
            Self::Expired => "expired",
            Self::IpMismatch => "ip_mismatch",
            Self::UserAgentMismatch => "ua_mismatch",
            Self::ClaimsMismatch => "claims_mismatch",
        }
    }
}

async fn audit_rejection(
    state: &AppState,
    tx: &mut ScopedTx,
    client: &ClientMeta,
    org: Option<OrgId>,
    user: Option<UserId>,
    session: Uuid,
    why: Rejection,
) -> Result<(), ApiError> {
    let actor = user.map_or(
        breeze_core::audit::Actor::System,
        breeze_core::audit::Actor::User,
    );
    let event = event_builder(
        state,
        actor,
        client,
        "remote.ticket.rejected",
        AuditResult::Denied,
    )?
    .resource_type("remote_session")
    .resource_id(session.to_string())
    .details(&json!({"reason": why.reason()}))
    .build()
    .map_err(ApiError::internal)?;
    audit::append(tx, org, event).await?;
    Ok(())
}

/// Records a refusal (audited in the organization's chain when the ticket named one, else
/// the system chain) and answers 401 `ticket_rejected`.
pub(crate) async fn reject(
    state: &AppState,
    client: &ClientMeta,
    org: Option<OrgId>,
    user: Option<UserId>,
    session: Uuid,
    why: Rejection,
) -> ApiError {
    let written = async {
        let mut tx = state.store.begin_system("remote ticket rejected").await?;
        audit_rejection(state, &mut tx, client, org, user, session, why).await?;
        tx.commit().await?;
        Ok::<(), ApiError>(())
    }
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, "auditing a ticket rejection failed");
    }
    tracing::info!(reason = why.reason(), "remote session ticket rejected");
    ApiError::Unauthorized("ticket_rejected")
}
