//! Session management (SPEC 16): a user lists their live login sessions (one per refresh
//! family) and revokes one, or every one but the current; the admin routes of
//! [`crate::http::routes::tenancy::users`] call the same functions for another user.
//!
//! A revocation writes `revoked_at` / `revoked_reason` and its `auth.session.revoked` audit
//! entry in one transaction, then revokes the families in the revocation cache. The guard
//! checks the family of every access token in PostgreSQL as well as in the cache, and the
//! refresh path checks it too, so a revocation committed on one replica refuses the
//! session on every replica at its next request, with or without Redis.
//!
//! Decisions: revoking the current session through `DELETE /auth/sessions/{familyId}` is
//! allowed and is a logout (the answer also clears the cookies); an id that is not one of
//! the caller's live sessions (unknown, another user's, already revoked, expired) is 404 and
//! changes nothing. Lists answer the 100 newest live sessions (`truncated` says whether
//! there are more).

use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{OrgId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{append, cleared_cookies, no_store, now, revoke_in_cache};
use crate::error::ApiError;
use crate::http::authn::{Authed, UserSession};
use crate::http::extract::Path;
use crate::state::AppState;
use crate::store::auth as store;

/// `revoked_reason` of a session its own user revoked.
pub const USER_REVOKED: &str = "user_revoked";
/// `revoked_reason` of a session an administrator revoked.
pub const ADMIN_REVOKED: &str = "admin_revoked";

/// One live session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOut {
    /// The session (refresh family) id: the access token's `sid`.
    pub id: Uuid,
    /// Login time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Login or last token refresh (null when unknown).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Client address at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// The session of the token that asked.
    pub current: bool,
}

/// Live sessions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    /// At most 100 sessions.
    pub items: Vec<SessionOut>,
    /// More live sessions exist than listed (the oldest are left out).
    pub truncated: bool,
}

/// How many sessions a call revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedSessions {
    /// Number of sessions revoked.
    pub revoked: usize,
}

/// Path of one of the caller's sessions.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FamilyPath {
    /// The session (refresh family) id.
    pub family_id: Uuid,
}

fn user_session(authed: &Authed) -> Result<&UserSession, ApiError> {
    authed.session().ok_or(ApiError::Forbidden("users_only"))
}

fn current_family(session: &UserSession) -> Result<Uuid, ApiError> {
    session
        .claims
        .sid
        .ok_or(ApiError::Unauthorized("invalid_token"))
}

/// The live sessions of `user`, `current` marking the caller's own.
///
/// # Errors
/// A store failure.
pub(crate) async fn sessions_of(
    state: &AppState,
    user: UserId,
    current: Option<Uuid>,
) -> Result<SessionList, ApiError> {
    let mut tx = state.store.begin_system("list sessions").await?;
    let mut rows = store::live_sessions(
        &mut tx,
        user,
        now(state),
        store::MAX_LISTED_SESSIONS.saturating_add(1),
    )
    .await?;
    drop(tx);
    let limit = usize::try_from(store::MAX_LISTED_SESSIONS).unwrap_or(usize::MAX);
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    Ok(SessionList {
        items: rows
            .into_iter()
            .map(|r| SessionOut {
                current: Some(r.id) == current,
                id: r.id,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                ip: r.ip,
                user_agent: r.user_agent,
            })
            .collect(),
        truncated,
    })
}

/// Revokes live session `family` of `user` (home organization `org`: its audit chain) on
/// behalf of `authed`; `false` (nothing changed) when `user` has no such live session.
///
/// # Errors
/// A store or audit failure.
pub(crate) async fn revoke_session(
    state: &AppState,
    authed: &Authed,
    user: UserId,
    org: Option<OrgId>,
    family: Uuid,
    reason: &'static str,
) -> Result<bool, ApiError> {
    let mut tx = state.store.begin_system("revoke session").await?;
    if !store::revoke_live_session(&mut tx, family, user, reason, now(state)).await? {
        return Ok(false);
    }
    let ev = authed
        .event(state, "auth.session.revoked", AuditResult::Success)?
        .resource_type("session")
        .resource_id(family.to_string())
        .details(&json!({
            "familyId": family,
            "userId": user,
            "revokedBy": authed.user_id(),
            "reason": reason,
        }));
    append(&mut tx, org, ev).await?;
    tx.commit().await?;
    revoke_in_cache(state, user, &[family], None).await;
    Ok(true)
}

/// Revokes every live session of `user` but `keep`, in one transaction with one audit entry
/// carrying the count; returns the count.
///
/// # Errors
/// A store or audit failure.
pub(crate) async fn revoke_sessions(
    state: &AppState,
    authed: &Authed,
    user: UserId,
    org: Option<OrgId>,
    keep: Option<Uuid>,
    reason: &'static str,
) -> Result<usize, ApiError> {
    let mut tx = state.store.begin_system("revoke sessions").await?;
    let families =
        store::revoke_live_sessions_except(&mut tx, user, keep, reason, now(state)).await?;
    let ev = authed
        .event(state, "auth.session.revoked", AuditResult::Success)?
        .resource_type("user")
        .resource_id(user.to_string())
        .details(&json!({
            "userId": user,
            "revokedBy": authed.user_id(),
            "reason": reason,
            "count": families.len(),
            "kept": keep,
        }));
    append(&mut tx, org, ev).await?;
    tx.commit().await?;
    revoke_in_cache(state, user, &families, None).await;
    Ok(families.len())
}

/// `GET /api/v1/auth/sessions`: the caller's live sessions.
pub async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<axum::Json<SessionList>, ApiError> {
    let session = user_session(&authed)?;
    let current = current_family(session)?;
    Ok(axum::Json(
        sessions_of(&state, session.user.id, Some(current)).await?,
    ))
}

/// `DELETE /api/v1/auth/sessions/{familyId}`: revokes one of the caller's sessions; the
/// current one is a logout (cookies cleared).
pub async fn revoke(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<FamilyPath>,
) -> Result<Response, ApiError> {
    let session = user_session(&authed)?;
    let current = current_family(session)? == p.family_id;
    let (user, org) = (session.user.id, session.user.org_id);
    if !revoke_session(&state, &authed, user, org, p.family_id, USER_REVOKED).await? {
        return Err(ApiError::NotFound);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if current {
        for value in cleared_cookies(&state)? {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        no_store(&mut response);
    }
    Ok(response)
}

/// `POST /api/v1/auth/sessions/revoke-others`: revokes every session of the caller but the
/// current one.
pub async fn revoke_others(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<axum::Json<RevokedSessions>, ApiError> {
    let session = user_session(&authed)?;
    let current = current_family(session)?;
    let (user, org) = (session.user.id, session.user.org_id);
    let revoked = revoke_sessions(&state, &authed, user, org, Some(current), USER_REVOKED).await?;
    Ok(axum::Json(RevokedSessions { revoked }))
}
