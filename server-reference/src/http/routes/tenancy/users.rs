//! Users and memberships: list, create with an initial password and a membership
//! (`users:invite`), read, enable/disable and rename (`users:write`), replace the
//! membership (`users:write`, audited `membership.change`), delete (= disable,
//! `users:delete`), list (`users:read`) and revoke (`users:write`) a user's login sessions
//! (SPEC 16, through [`crate::http::routes::auth::sessions`]).
//!
//! Privilege-escalation guards (every grant path):
//! - the granted role's permissions must all be held by the caller, and so must the
//!   target's current role when the target already exists (nobody changes someone more
//!   powerful than themself);
//! - system roles are never granted here; the role's scope must match the membership kind;
//! - organization-scope callers cannot create or change partner memberships, and partner
//!   memberships need a partner-wide write context (`org_access = all`, or system);
//! - `selected` org lists and site lists may only name organizations / sites the caller
//!   reaches; a site-limited caller can only grant site lists within its own;
//! - nobody changes their own membership or disables themself.
//!
//! Disabling bumps the user's auth epoch in the same transaction (every token dies at the
//! next request) and then raises the revocation cut-off (fast path, after commit).

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_authz::access::{Memberships, Scope, SiteAccess};
use breeze_core::tenancy::{PartnerId, UserId};
use breeze_crypto::password::{PasswordPolicy, hash_password};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::memberships::{
    Checked, MembershipBody, MembershipView, check_membership, current_role_set,
    membership_details, membership_view, write_membership,
};
use super::{MAX_NAME, Password, event, holds_all, opt_name_issue, seal};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate, is_valid_email};
use crate::http::route::{Access, Route, route};
use crate::http::routes::auth::sessions;
use crate::http::views::UserOut;
use crate::state::AppState;
use crate::store::ScopedTx;
use crate::store::users::{self, NewUser, UserRow};

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/users",
            Access::Permission("users:read"),
            "list users",
            list,
        )
        .errors(&[404])
        .ok::<PageOf<UserOut>>(),
        route(
            Method::POST,
            "/api/v1/users",
            Access::Permission("users:invite"),
            "create a user with an initial password and a membership",
            create,
        )
        .errors(&[404])
        .created::<UserView>()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/users/{userId}",
            Access::Permission("users:read"),
            "read a user and their membership",
            read,
        )
        .ok::<UserView>(),
        route(
            Method::PATCH,
            "/api/v1/users/{userId}",
            Access::Permission("users:write"),
            "rename, enable or disable a user",
            update,
        )
        .ok::<UserOut>()
        .errors(&[409]),
        route(
            Method::PUT,
            "/api/v1/users/{userId}/membership",
            Access::Permission("users:write"),
            "replace a user's membership (role, org access, sites)",
            put_membership,
        )
        .ok::<UserView>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/users/{userId}",
            Access::Permission("users:delete"),
            "delete (disable) a user",
            remove,
        )
        .no_content()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/users/{userId}/sessions",
            Access::Permission("users:read"),
            "list a user's live login sessions",
            list_sessions,
        )
        .ok::<sessions::SessionList>(),
        route(
            Method::DELETE,
            "/api/v1/users/{userId}/sessions",
            Access::Permission("users:write"),
            "revoke every login session of a user",
            revoke_sessions,
        )
        .ok::<sessions::RevokedSessions>(),
        route(
            Method::DELETE,
            "/api/v1/users/{userId}/sessions/{familyId}",
            Access::Permission("users:write"),
            "revoke one login session of a user",
            revoke_session,
        )
        .no_content(),
    ]
}

/// Path of a user.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPath {
    /// The user.
    pub user_id: UserId,
}

/// Path of one login session of a user.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSessionPath {
    /// The user.
    pub user_id: UserId,
    /// The session (refresh family).
    pub family_id: uuid::Uuid,
}

/// Body of `POST /users`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateUser {
    /// E-mail.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Initial password (checked against the policy, hashed with Argon2id).
    pub password: Password,
    /// The membership.
    pub membership: MembershipBody,
    /// Home partner (platform admins creating a partner user only).
    pub partner_id: Option<PartnerId>,
}

impl Validate for CreateUser {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if !is_valid_email(self.email.trim()) {
            issues.push(FieldIssue::new("email", "must be an e-mail address"));
        }
        if self.name.chars().count() > MAX_NAME || breeze_core::text::has_control(&self.name) {
            issues.push(FieldIssue::new("name", "must be at most 200 characters"));
        }
        if let Err(e) =
            PasswordPolicy::default().check(secrecy::ExposeSecret::expose_secret(&self.password.0))
        {
            for v in e.violations() {
                issues.push(FieldIssue::new("password", v.code()));
            }
        }
        issues.extend(self.membership.issues("membership."));
        issues
    }
}

/// Body of `PATCH /users/{userId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateUser {
    /// Display name.
    pub name: Option<String>,
    /// `active` or `disabled`.
    pub status: Option<String>,
}

impl Validate for UpdateUser {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = opt_name_issue("name", self.name.as_deref(), MAX_NAME)
            .into_iter()
            .collect();
        if self
            .status
            .as_deref()
            .is_some_and(|s| !matches!(s, "active" | "disabled"))
        {
            issues.push(FieldIssue::new("status", "must be active or disabled"));
        }
        issues
    }
}

/// A user with their membership.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// The user.
    #[serde(flatten)]
    pub user: UserOut,
    /// The membership (organization membership first, as resolution picks it).
    pub membership: Option<MembershipView>,
}

/// Whether the context reaches user `u` (Rust-side check beside row-level security):
/// organization users through their organization, partner users through their partner.
fn user_in_reach(authed: &Authed, u: &UserRow) -> bool {
    match (u.org_id, u.partner_id) {
        (Some(org), _) => authed.ctx.can_access_org(org),
        (None, Some(partner)) => authed.ctx.can_access_partner(partner),
        (None, None) => authed.ctx.scope() == Scope::System,
    }
}

/// Loads a user the context reaches (404 otherwise). Platform admins are only reachable
/// from system scope.
async fn user_for(tx: &mut ScopedTx, authed: &Authed, id: UserId) -> Result<UserRow, ApiError> {
    let row = users::get_user(tx, id)
        .await?
        .filter(|u| user_in_reach(authed, u))
        .ok_or(ApiError::NotFound)?;
    if authed.ctx.scope() != Scope::System && users::is_platform_user(tx, id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = q.page()?;
    let mut tx = authed.begin(&state).await?;
    let mut rows = users::list_users(&mut tx, page).await?;
    drop(tx);
    rows.retain(|u| user_in_reach(&authed, u));
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(UserOut::from),
    ))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<CreateUser>,
) -> Result<impl IntoResponse, ApiError> {
    let email = body.email.trim().to_lowercase();
    if body.partner_id.is_some() && authed.ctx.scope() != Scope::System {
        return Err(ApiError::invalid("body.partnerId", "is not allowed"));
    }
    // Argon2id runs before the transaction opens (never hold a transaction across it).
    let password = body.password.0;
    let hash = state
        .hash_work(move || hash_password(&password))
        .await
        .ok_or(ApiError::Unavailable)?
        .map_err(ApiError::internal)?;
    let mut tx = authed.begin(&state).await?;
    let hint = body.partner_id;
    let checked = check_membership(&state, &authed, &mut tx, &body.membership, hint).await?;
    let (partner, org) = match &checked {
        Checked::Partner { partner, .. } => (*partner, None),
        Checked::Organization { org, partner, .. } => (*partner, Some(*org)),
    };
    let user = users::insert_user(
        &mut tx,
        &NewUser {
            email: &email,
            name: body.name.trim(),
            partner_id: partner,
            org_id: org,
            password_hash: hash.as_str(),
        },
    )
    .await?;
    write_membership(&mut tx, user.id, &checked).await?;
    let ev = event(&state, &authed, "user.create", "user", user.id)?
        .details(&json!({"membership": membership_details(&checked)}));
    seal(&mut tx, org, ev).await?;
    let memberships = users::memberships(&mut tx, user.id).await?;
    tx.commit().await?;
    let view = UserView {
        membership: membership_view(&authed, &memberships),
        user: user.into(),
    };
    Ok((StatusCode::CREATED, axum::Json(view)))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<UserPath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let user = user_for(&mut tx, &authed, p.user_id).await?;
    let memberships = users::memberships(&mut tx, user.id).await?;
    drop(tx);
    Ok(axum::Json(UserView {
        membership: membership_view(&authed, &memberships),
        user: user.into(),
    }))
}

/// Refuses acting on oneself and on anyone whose role holds more than the caller.
async fn guard_target(
    state: &AppState,
    authed: &Authed,
    tx: &mut ScopedTx,
    target: &UserRow,
) -> Result<Memberships, ApiError> {
    if authed.user_id() == Some(target.id) {
        return Err(ApiError::Forbidden("cannot_modify_self"));
    }
    let memberships = users::memberships(tx, target.id).await?;
    if let Some(set) = current_role_set(state, tx, &memberships).await?
        && !holds_all(state, authed, &set)
    {
        return Err(ApiError::Forbidden("privilege_escalation"));
    }
    // a site-limited caller only manages users limited to sites it reaches itself
    if !authed.ctx.allowed_site_ids().is_all() {
        let within = memberships
            .organization
            .as_ref()
            .is_some_and(|o| match &o.sites {
                SiteAccess::All => false,
                SiteAccess::Only(sites) => sites
                    .iter()
                    .all(|s| authed.ctx.can_access_site(o.org_id, *s)),
            });
        if !within {
            return Err(ApiError::Forbidden("site_restricted"));
        }
    }
    // a partner user's membership is partner-wide: organization scope cannot touch it
    if memberships.organization.is_none()
        && memberships.partner.is_some()
        && !authed.ctx.can_write_partner_wide()
    {
        return Err(ApiError::Forbidden("partner_wide_write_required"));
    }
    Ok(memberships)
}

async fn set_active(
    state: &AppState,
    authed: &Authed,
    id: UserId,
    name: Option<&str>,
    active: Option<bool>,
    action: &str,
) -> Result<UserRow, ApiError> {
    let mut tx = authed.begin(state).await?;
    let target = user_for(&mut tx, authed, id).await?;
    guard_target(state, authed, &mut tx, &target).await?;
    if let Some(name) = name {
        users::set_name(&mut tx, id, name.trim()).await?;
    }
    if let Some(active) = active {
        users::set_active(&mut tx, id, active).await?;
    }
    let ev = event(state, authed, action, "user", id)?.details(&json!({
        "name": name.is_some(),
        "active": active,
    }));
    seal(&mut tx, target.org_id, ev).await?;
    let row = users::get_user(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    if active == Some(false) {
        // fast path; the epoch bump above already makes every token fail verification
        let _ = state
            .revocation
            .revoke_user_tokens_before(id, state.clock.unix())
            .await;
    }
    Ok(row)
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<UserPath>,
    Json(body): Json<UpdateUser>,
) -> Result<impl IntoResponse, ApiError> {
    let active = body.status.as_deref().map(|s| s == "active");
    let action = match active {
        Some(true) => "user.enable",
        Some(false) => "user.disable",
        None => "user.update",
    };
    let row = set_active(
        &state,
        &authed,
        p.user_id,
        body.name.as_deref(),
        active,
        action,
    )
    .await?;
    Ok(axum::Json(UserOut::from(row)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<UserPath>,
) -> Result<StatusCode, ApiError> {
    set_active(&state, &authed, p.user_id, None, Some(false), "user.delete").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_membership(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<UserPath>,
    Json(body): Json<MembershipBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = p.user_id;
    let mut tx = authed.begin(&state).await?;
    let target = user_for(&mut tx, &authed, id).await?;
    guard_target(&state, &authed, &mut tx, &target).await?;
    match (&body, target.org_id) {
        (MembershipBody::Partner { .. }, None) => {}
        (MembershipBody::Organization { org_id, .. }, Some(home)) if *org_id == home => {}
        _ => {
            return Err(ApiError::invalid(
                "body.kind",
                "must match the user's home (partner user or organization user of that organization)",
            ));
        }
    }
    let checked = check_membership(&state, &authed, &mut tx, &body, target.partner_id).await?;
    write_membership(&mut tx, id, &checked).await?;
    let ev = event(&state, &authed, "membership.change", "user", id)?
        .details(&json!({"membership": membership_details(&checked)}));
    seal(&mut tx, target.org_id, ev).await?;
    let memberships = users::memberships(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(UserView {
        membership: membership_view(&authed, &memberships),
        user: target.into(),
    }))
}

async fn list_sessions(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<UserPath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let user = user_for(&mut tx, &authed, p.user_id).await?;
    drop(tx);
    Ok(axum::Json(
        sessions::sessions_of(&state, user.id, None).await?,
    ))
}

/// A user whose sessions the caller may revoke: within reach (404 otherwise) and passing
/// [`guard_target`] as every other change to a user does.
async fn session_target(
    state: &AppState,
    authed: &Authed,
    id: UserId,
) -> Result<UserRow, ApiError> {
    let mut tx = authed.begin(state).await?;
    let target = user_for(&mut tx, authed, id).await?;
    guard_target(state, authed, &mut tx, &target).await?;
    Ok(target)
}

async fn revoke_sessions(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<UserPath>,
) -> Result<impl IntoResponse, ApiError> {
    let target = session_target(&state, &authed, p.user_id).await?;
    let revoked = sessions::revoke_sessions(
        &state,
        &authed,
        target.id,
        target.org_id,
        None,
        sessions::ADMIN_REVOKED,
    )
    .await?;
    Ok(axum::Json(sessions::RevokedSessions { revoked }))
}

async fn revoke_session(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<UserSessionPath>,
) -> Result<StatusCode, ApiError> {
    let target = session_target(&state, &authed, p.user_id).await?;
    let revoked = sessions::revoke_session(
        &state,
        &authed,
        target.id,
        target.org_id,
        p.family_id,
        sessions::ADMIN_REVOKED,
    )
    .await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
