//! Step-up: the caller's password verified again before a sensitive change (MFA setup and
//! disable, password change), rate-limited like a login and audited when wrong.

use breeze_core::audit::AuditResult;
use secrecy::SecretString;
use serde_json::json;

use super::{allow, audit_alone, verify_password_off};
use crate::error::ApiError;
use crate::http::authn::{Authed, UserSession};
use crate::state::AppState;
use crate::store::auth::{self as store, LoginUser};

/// Re-verifies the caller's password (step-up) off the executor, rate-limited like a login
/// for the same IP and e-mail. A wrong password answers 403 `invalid_password` (not 401:
/// the session itself is fine) and is audited.
pub(super) async fn step_up(
    state: &AppState,
    authed: &Authed,
    session: &UserSession,
    password: &SecretString,
) -> Result<LoginUser, ApiError> {
    allow(
        &state
            .limiter
            .login_per_ip_email(authed.client.key(), &session.user.email)
            .await,
    )?;
    let mut tx = state.store.begin_system("step-up lookup").await?;
    let user = store::login_user_by_id(&mut tx, session.user.id)
        .await?
        .filter(|u| u.active)
        .ok_or(ApiError::Unauthorized("invalid_token"))?;
    drop(tx);
    if verify_password_off(state, password, &user.password_hash).await? {
        return Ok(user);
    }
    let ev = authed
        .event(state, "auth.step_up", AuditResult::Failure)?
        .resource_type("user")
        .resource_id(user.id.to_string())
        .details(&json!({"reason": "bad_password"}))
        .error_message("invalid password");
    audit_alone(state, user.org_id, ev).await?;
    Err(ApiError::Forbidden("invalid_password"))
}
