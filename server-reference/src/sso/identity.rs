//! Who a verified ID token is (SPEC 16), decided in one system-scope transaction:
//!
//! 1. the provider's subject already linked to a user: that user;
//! 2. else a user with the token's **verified** e-mail (`email_verified` true), only when the
//!    user's home is inside the provider's tenant (the partner for a partner-level
//!    provider, the organization for an organization-level one) and the user is not a
//!    platform admin: a provider can never log in to another tenant's user, or to the
//!    platform, by asserting their address; the subject is then linked;
//! 3. else, when the provider has a JIT membership, a new user in the provider's tenant with
//!    that membership (checked against the escalation guards when it was configured), a
//!    password hash that no password matches, linked.
//!
//! Refusals are codes the callback audits and answers: `email_unverified`,
//! `email_invalid`, `tenant_mismatch`, `identity_conflict`, `no_account`, `user_disabled`,
//! `jit_invalid`.

use breeze_core::tenancy::{OrgId, PartnerId, UserId};
use breeze_crypto::oidc::IdTokenClaims;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::http::routes::tenancy::memberships::MembershipBody;
use crate::store::ScopedTx;
use crate::store::sso::{self as store, ProviderRow};
use crate::store::users::{self, NewUser};

/// How the user was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// The subject was linked.
    Linked,
    /// Matched by verified e-mail and linked now.
    Matched,
    /// Created just in time.
    Created,
}

impl How {
    /// The audit word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Linked => "linked",
            Self::Matched => "email",
            Self::Created => "jit",
        }
    }
}

/// Whether a user whose home is `partner` / `org` is inside `provider`'s tenant.
#[must_use]
pub fn covers(provider: &ProviderRow, partner: Option<PartnerId>, org: Option<OrgId>) -> bool {
    match provider.org_id {
        Some(p_org) => org == Some(p_org),
        None => partner == Some(provider.partner_id),
    }
}

/// Resolves the user of `claims` at `provider` inside `tx` (system scope).
///
/// # Errors
/// [`ApiError`] on store failure; `Ok(Err(code))` is a refusal.
pub async fn resolve(
    tx: &mut ScopedTx,
    provider: &ProviderRow,
    claims: &IdTokenClaims,
    now: OffsetDateTime,
) -> Result<Result<(UserId, How), &'static str>, ApiError> {
    if let Some(user) = store::identity(tx, provider.id, &claims.subject).await? {
        let Some(home) = store::user_home(tx, user).await? else {
            return Ok(Err("no_account"));
        };
        if !covers(provider, home.partner_id, home.org_id) || home.platform_admin {
            return Ok(Err("tenant_mismatch"));
        }
        if !home.active {
            return Ok(Err("user_disabled"));
        }
        store::touch_identity(tx, provider.id, &claims.subject, now).await?;
        return Ok(Ok((user, How::Linked)));
    }
    let Some(email) = claims.verified_email() else {
        return Ok(Err("email_unverified"));
    };
    if !crate::http::extract::is_valid_email(&email) {
        return Ok(Err("email_invalid"));
    }
    if let Some(home) = store::user_home_by_email(tx, &email).await? {
        if !covers(provider, home.partner_id, home.org_id) || home.platform_admin {
            return Ok(Err("tenant_mismatch"));
        }
        if !home.active {
            return Ok(Err("user_disabled"));
        }
        if !store::link_identity(tx, provider.id, &claims.subject, home.id, now).await? {
            return Ok(Err("identity_conflict"));
        }
        return Ok(Ok((home.id, How::Matched)));
    }
    let Some(jit) = &provider.jit_membership else {
        return Ok(Err("no_account"));
    };
    let Ok(membership) = serde_json::from_value::<MembershipBody>(jit.clone()) else {
        return Ok(Err("jit_invalid"));
    };
    let org = match (&membership, provider.org_id) {
        (MembershipBody::Organization { org_id, .. }, Some(p_org)) if *org_id == p_org => {
            Some(p_org)
        }
        (MembershipBody::Organization { org_id, .. }, None) => Some(*org_id),
        (MembershipBody::Partner { .. }, None) => None,
        _ => return Ok(Err("jit_invalid")),
    };
    let name = claims
        .name
        .as_deref()
        .filter(|n| breeze_core::text::check_name(n.trim(), 200).is_ok())
        .map_or("", str::trim);
    let hash = breeze_crypto::password::unusable_hash().map_err(ApiError::internal)?;
    let user = users::insert_user(
        tx,
        &NewUser {
            email: &email,
            name,
            partner_id: provider.partner_id,
            org_id: org,
            password_hash: &hash,
        },
    )
    .await?;
    match membership {
        MembershipBody::Partner {
            role_id,
            org_access,
            org_ids,
        } => {
            users::put_partner_membership(
                tx,
                user.id,
                provider.partner_id,
                role_id,
                &org_access,
                &org_ids,
            )
            .await?;
        }
        MembershipBody::Organization {
            org_id,
            role_id,
            site_ids,
        } => {
            users::put_org_membership(tx, user.id, org_id, role_id, site_ids.as_deref()).await?;
        }
    }
    if !store::link_identity(tx, provider.id, &claims.subject, user.id, now).await? {
        return Ok(Err("identity_conflict"));
    }
    Ok(Ok((user.id, How::Created)))
}
