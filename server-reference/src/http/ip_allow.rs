//! Partner IP allow-lists at the door (SPEC 16): the one check that user logins (password,
//! MFA, refresh, SSO), access tokens and API keys pass before they are honoured. The rule is
//! [`breeze_core::ipallow`]; the list is read from PostgreSQL with the user's or the key's
//! row on every request (`store::principal`), so a change committed through one replica
//! applies to the next request on every replica, with no cache to go stale.
//!
//! Who is subject: a user to their home partner's list (`users.partner_id`; a live platform
//! admin to none), an API key to the list of its organization's partner. Agents are not
//! subject (their devices sit on customer networks; they have their own source-IP history,
//! SPEC 8). The client address is [`ClientMeta::ip`], which honours forwarded headers only
//! from trusted proxies.
//!
//! A refusal answers 403 `ip_not_allowed` and is audited `auth.ip_denied` (result `denied`,
//! details `ip`, `partnerId`, `stage`) on the subject's chain (its organization's, the system
//! chain for a partner user). A blocked client repeating itself cannot flood the chain: per
//! (stage, source address) and minute the first refusal is written at once and the repeats
//! are counted into one aggregate event on the system chain (`crate::audit::failures`).

use breeze_core::audit::{Actor, AuditResult};
use breeze_core::ipallow::IpAllowList;
use breeze_core::tenancy::{OrgId, PartnerId};
use serde_json::json;

use crate::audit::events::{ClientMeta, event_builder};
use crate::audit::failures::Failure;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::principal::AuthUser;
use crate::store::{audit, ip_allowlists};

/// The error code of a refusal.
pub const IP_NOT_ALLOWED: &str = "ip_not_allowed";

/// Where a credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `POST /auth/login`, after the password verified.
    Login,
    /// `POST /auth/mfa/verify` and `POST /auth/sso/mfa`.
    MfaVerify,
    /// The SSO callback, once the provider's ID token verified and the user is known.
    Sso,
    /// `POST /auth/refresh`.
    Refresh,
    /// A request with an access token (the guard).
    AccessToken,
    /// A request with an API key (the guard and the MCP endpoint).
    ApiKey,
}

impl Stage {
    /// The `details.stage` (and aggregation reason) of the audit event.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::MfaVerify => "mfa_verify",
            Self::Sso => "sso",
            Self::Refresh => "refresh",
            Self::AccessToken => "access_token",
            Self::ApiKey => "api_key",
        }
    }

    const fn failure(self) -> Failure {
        Failure {
            action: "auth.ip_denied",
            reason: self.as_str(),
            result: AuditResult::Denied,
            resource_type: "partner",
            error_message: Some(IP_NOT_ALLOWED),
        }
    }
}

/// Who presented the credential, for the audit event.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// The audit actor (the user or the API key).
    pub actor: Actor,
    /// The chain the refusal goes to (`None`: the system chain).
    pub org: Option<OrgId>,
    /// The partner whose list refused.
    pub partner: Option<PartnerId>,
}

impl Subject {
    /// A user (their home organization's chain, their home partner).
    #[must_use]
    pub const fn user(user: &AuthUser) -> Self {
        Self {
            actor: Actor::User(user.id),
            org: user.org_id,
            partner: user.partner_id,
        }
    }
}

/// Admits `client` under `list` (`None`: no list applies), or audits and refuses it with
/// 403 [`IP_NOT_ALLOWED`].
///
/// # Errors
/// [`ApiError::Forbidden`] for a refused address; a store failure writing the audit event
/// (the request is refused either way).
pub async fn admit(
    state: &AppState,
    client: &ClientMeta,
    list: Option<&IpAllowList>,
    subject: Subject,
    stage: Stage,
) -> Result<(), ApiError> {
    if list.is_none_or(|l| l.permits(client.ip)) {
        return Ok(());
    }
    if client.first_failure_in_window(state, stage.failure()) {
        let mut ev = event_builder(
            state,
            subject.actor,
            client,
            "auth.ip_denied",
            AuditResult::Denied,
        )?
        .resource_type("partner")
        .details(&json!({
            "ip": client.ip.to_string(),
            "partnerId": subject.partner,
            "stage": stage.as_str(),
            "count": 1,
        }))
        .error_message(IP_NOT_ALLOWED);
        if let Some(partner) = subject.partner {
            ev = ev.resource_id(partner.to_string());
        }
        let event = ev.build().map_err(ApiError::internal)?;
        let mut tx = state.store.begin_system("ip allow-list denial").await?;
        audit::append(&mut tx, subject.org, event).await?;
        tx.commit().await?;
    }
    Err(ApiError::Forbidden(IP_NOT_ALLOWED))
}

/// Whether `client` may act for `user` (their list read by `principal::user_by_id`), without
/// auditing: for a caller that must close its transaction before [`admit_user`] writes the
/// refusal.
#[must_use]
pub fn user_admitted(user: &AuthUser, client: &ClientMeta) -> bool {
    user.ip_allowlist
        .as_ref()
        .is_none_or(|l| l.permits(client.ip))
}

/// [`admit`] for a user whose row (with its list) was read by `principal::user_by_id`.
///
/// # Errors
/// As [`admit`].
pub async fn admit_user(
    state: &AppState,
    client: &ClientMeta,
    user: &AuthUser,
    stage: Stage,
) -> Result<(), ApiError> {
    admit(
        state,
        client,
        user.ip_allowlist.as_ref(),
        Subject::user(user),
        stage,
    )
    .await
}

/// [`admit`] at password login, once the password verified: reads the list that applies
/// to `user` in its own short system read (no transaction is open at that point of the
/// login), then judges `client`.
///
/// # Errors
/// As [`admit`].
pub async fn admit_login(
    state: &AppState,
    client: &ClientMeta,
    user: &crate::store::auth::LoginUser,
) -> Result<(), ApiError> {
    let mut tx = state.store.begin_system("login ip allow-list").await?;
    let list = ip_allowlists::for_user(&mut tx, user.id).await?;
    drop(tx);
    let subject = Subject {
        actor: Actor::User(user.id),
        org: user.org_id,
        partner: user.partner_id,
    };
    admit(state, client, list.as_ref(), subject, Stage::Login).await
}
