//! The audit event of a request: who called from where ([`ClientMeta`], set on every
//! request, public ones included) and the builder that starts an event with it.

use std::net::IpAddr;

use breeze_core::audit::{
    Action, Actor, AuditEvent, AuditEventBuilder, AuditResult, InitiatedBy, Timestamp,
};
use breeze_core::clientip::ClientKey;

use crate::error::ApiError;
use crate::state::AppState;

/// Longest user agent kept.
pub const MAX_USER_AGENT: usize = 512;

/// Who is calling from where (set on every request, public ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMeta {
    /// The client address (forwarded headers honoured only from trusted proxies).
    pub ip: IpAddr,
    /// The user agent, truncated.
    pub user_agent: Option<String>,
}

impl ClientMeta {
    /// The rate-limit key of the client (IPv6 by /64).
    #[must_use]
    pub fn key(&self) -> ClientKey {
        ClientKey::from_ip(self.ip)
    }

    /// Counts one unauthenticated failure of this client in the server's per-source, per-minute
    /// aggregation (`crate::audit::failures`); `true` when it is the first of its window, which
    /// the caller writes to the system chain at once (with `details.count = 1`).
    #[must_use]
    pub fn first_failure_in_window(
        &self,
        state: &AppState,
        failure: crate::audit::failures::Failure,
    ) -> bool {
        state.failure_audit.first_in_window(
            failure,
            self.ip,
            self.user_agent.as_deref(),
            state.clock.now(),
        )
    }
}

/// Starts an audit event for `actor` at `client`, initiated manually, timestamped now.
///
/// # Errors
/// [`ApiError::Internal`] for an invalid action name or clock (programming errors).
pub fn event_builder(
    state: &AppState,
    actor: Actor,
    client: &ClientMeta,
    action: &str,
    result: AuditResult,
) -> Result<AuditEventBuilder, ApiError> {
    let action = Action::new(action).map_err(ApiError::internal)?;
    let now = Timestamp::from_datetime_truncated(state.clock.now()).map_err(ApiError::internal)?;
    let mut builder =
        AuditEvent::builder(actor, action, result, InitiatedBy::Manual, now).ip(client.ip);
    if let Some(ua) = &client.user_agent {
        builder = builder.user_agent(ua);
    }
    Ok(builder)
}
