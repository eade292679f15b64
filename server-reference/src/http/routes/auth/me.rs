//! `GET /api/v1/users/me`: the current user, memberships, permissions and MFA state.

use axum::extract::{Extension, State};

use breeze_authz::access::{MembershipState, OrgAccess, SiteAccess};

use super::answers::{
    MeAnswer, MeMemberships, MeOrganization, MePartner, MeRole, MeSites, MfaStatus, OrgAccessName,
};
use crate::error::ApiError;
use crate::http::authn::Authed;
use crate::state::AppState;
use crate::store::auth as store;
use crate::store::principal;

const fn active(state: MembershipState) -> bool {
    matches!(state, MembershipState::Active)
}

/// `GET /api/v1/users/me` (force-MFA exempt). Reads run in the request's own context: a
/// user sees their own row and memberships through row-level security.
pub async fn me(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<axum::Json<MeAnswer>, ApiError> {
    let session = authed.session().ok_or(ApiError::Forbidden("users_only"))?;
    let user = &session.user;
    let mut tx = authed.begin(&state).await?;
    let profile = store::profile(&mut tx, user.id).await?;
    let memberships = principal::memberships(&mut tx, user.id).await?;
    let mfa = store::mfa_state(&mut tx, user.id).await?;
    drop(tx);

    let partner = memberships.partner.as_ref().map(|p| {
        let (org_access, org_ids) = match &p.org_access {
            OrgAccess::All => (OrgAccessName::All, Vec::new()),
            OrgAccess::Selected(list) => (
                OrgAccessName::Selected,
                list.iter().map(ToString::to_string).collect(),
            ),
            OrgAccess::None => (OrgAccessName::None, Vec::new()),
        };
        MePartner {
            partner_id: p.partner_id.into(),
            role_id: p.role_id.into(),
            org_access,
            org_ids,
            active: active(p.state),
        }
    });
    let organization = memberships.organization.as_ref().map(|o| MeOrganization {
        org_id: o.org_id.into(),
        role_id: o.role_id.into(),
        site_ids: match &o.sites {
            SiteAccess::All => MeSites::All("all"),
            SiteAccess::Only(list) => MeSites::Only(list.iter().map(ToString::to_string).collect()),
        },
        active: active(o.state),
    });
    let system = memberships.system.as_ref().is_some_and(|m| active(m.state));
    let mut permissions: Vec<String> = session
        .role
        .as_ref()
        .map(|r| r.permissions.clone())
        .unwrap_or_default();
    permissions.sort_unstable();
    let role = session.role.as_ref().map(|r| MeRole {
        id: r.id.into(),
        name: r.name.clone(),
        requires_mfa: r.requires_mfa,
    });
    Ok(axum::Json(MeAnswer {
        id: user.id.into(),
        email: user.email.clone(),
        name: profile.name,
        status: if user.active { "active" } else { "disabled" },
        partner_id: user.partner_id.map(Into::into),
        org_id: user.org_id.map(Into::into),
        scope: session.claims.scope.into(),
        role,
        permissions,
        memberships: MeMemberships {
            platform_admin: system,
            partner,
            organization,
        },
        mfa: MfaStatus::of(&mfa, session),
        last_login_at: profile.last_login_at.map(|t| t.unix_timestamp()),
        created_at: profile.created_at.unix_timestamp(),
    }))
}
