//! Passwords: change (step-up), reset request and reset.

use super::answers::StatusAnswer;
use std::time::Instant;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use breeze_core::audit::{Actor, AuditResult};
use breeze_core::ratelimit::Quota;
use breeze_crypto::credentials::{PasswordResetToken, TokenHash};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::step_up::step_up;
use super::{
    RESET_TOKEN_SECS, allow, append, audit_alone, check_password_field, email_hash, event,
    hash_password_off, normalize_email, now, open_session, policy_error, revoke_in_cache,
    session_response, user_actor, wait_floor,
};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::{Authed, ClientMeta};
use crate::http::extract::{Json, Validate, is_valid_email};
use crate::notify::Notification;
use crate::state::AppState;
use crate::store::auth::{self as store};
use crate::store::principal;

/// Password-reset requests per client IP per hour.
pub const RESET_REQUESTS_PER_IP_PER_HOUR: u32 = 10;

/// `POST /auth/password/change` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangeBody {
    current_password: String,
    new_password: String,
}

impl Validate for ChangeBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        check_password_field(&mut issues, "currentPassword", &self.current_password);
        check_password_field(&mut issues, "newPassword", &self.new_password);
        issues
    }
}

/// `POST /api/v1/auth/password/change`: every session ends (auth epoch + 1, families
/// revoked); the caller gets a fresh session in the answer.
pub async fn change(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<ChangeBody>,
) -> Result<Response, ApiError> {
    let session = authed.session().ok_or(ApiError::Forbidden("users_only"))?;
    policy_error("body.newPassword", &body.new_password)?;
    let current = SecretString::from(body.current_password);
    let new = SecretString::from(body.new_password);
    let user = step_up(&state, &authed, session, &current).await?;
    let new_hash = hash_password_off(&state, &new).await?;

    let at = now(&state);
    let mut tx = state.store.begin_system("password change").await?;
    store::set_password(&mut tx, user.id, &new_hash, at).await?;
    let families = store::revoke_all_families(&mut tx, user.id, "password_change", at).await?;
    let ev = authed
        .event(&state, "auth.password.change", AuditResult::Success)?
        .resource_type("user")
        .resource_id(user.id.to_string())
        .details(&json!({"sessionsEnded": families.len()}));
    append(&mut tx, user.org_id, ev).await?;
    let fresh = principal::user_by_id(&mut tx, user.id)
        .await?
        .ok_or(ApiError::Unauthorized("invalid_token"))?;
    let issued = open_session(&state, &mut tx, &fresh, session.claims.mfa, &authed.client).await?;
    tx.commit().await?;
    revoke_in_cache(&state, user.id, &families, Some(at)).await;
    session_response(&state, &issued, fresh.mfa_enabled)
}

/// `POST /auth/password/reset-request` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetRequestBody {
    email: String,
}

impl Validate for ResetRequestBody {
    fn validate(&self) -> Vec<FieldIssue> {
        if is_valid_email(&normalize_email(&self.email)) {
            Vec::new()
        } else {
            vec![FieldIssue::new("email", "must be an e-mail address")]
        }
    }
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(StatusAnswer {
            status: "accepted",
            message: Some("if an account uses this address, a reset message is on its way"),
        }),
    )
        .into_response()
}

/// `POST /api/v1/auth/password/reset-request`: always 202 with the same body.
pub async fn reset_request(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    Json(body): Json<ResetRequestBody>,
) -> Response {
    let start = Instant::now();
    let result = reset_request_inner(&state, &client, &normalize_email(&body.email)).await;
    wait_floor(&state, start).await;
    match result {
        Ok(()) => accepted(),
        Err(e) => e.into_response(),
    }
}

async fn reset_request_inner(
    state: &AppState,
    client: &ClientMeta,
    email: &str,
) -> Result<(), ApiError> {
    let ip_key = format!("reset_ip:{}", client.key());
    allow(
        &state
            .limiter
            .check_quota(
                &ip_key,
                Quota::per_secs(RESET_REQUESTS_PER_IP_PER_HOUR, 60 * 60),
            )
            .await,
    )?;
    allow(&state.limiter.password_reset_per_email(email).await)?;

    let at = now(state);
    let mut tx = state.store.begin_system("password reset request").await?;
    let user = store::login_user_by_email(&mut tx, email)
        .await?
        .filter(|u| u.active);
    let Some(user) = user else {
        let ev = event(
            state,
            Actor::System,
            client,
            "auth.password.reset_request",
            AuditResult::Failure,
        )?
        .details(&json!({"reason": "unknown_user", "emailHash": email_hash(email)}));
        append(&mut tx, None, ev).await?;
        tx.commit().await?;
        return Ok(());
    };
    let token = PasswordResetToken::generate().map_err(ApiError::internal)?;
    let expires = at.saturating_add(time::Duration::seconds(RESET_TOKEN_SECS));
    store::create_password_reset(&mut tx, user.id, &token.hash().to_hex(), expires).await?;
    let ev = event(
        state,
        user_actor(user.id),
        client,
        "auth.password.reset_request",
        AuditResult::Success,
    )?
    .resource_id(user.id.to_string());
    append(&mut tx, user.org_id, ev).await?;
    tx.commit().await?;

    let message = Notification::PasswordReset {
        user: user.id,
        email: user.email.clone(),
        token: SecretString::from(token.expose_secret().to_owned()),
        expires_at: expires.format(&Rfc3339).unwrap_or_default(),
    };
    if let Err(e) = state.notifier.send(state, message).await {
        // the answer stays 202 (no enumeration); the message content is never logged
        tracing::error!(error = %e, "password reset notification failed");
    }
    Ok(())
}

/// `POST /auth/password/reset` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetBody {
    token: String,
    new_password: String,
}

impl Validate for ResetBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.token.is_empty() || self.token.len() > 128 {
            issues.push(FieldIssue::new("token", "is malformed"));
        }
        check_password_field(&mut issues, "newPassword", &self.new_password);
        issues
    }
}

fn bad_reset_token() -> ApiError {
    ApiError::invalid("body.token", "is invalid, used or expired")
}

/// A password reset with an unknown, used or expired token (system chain, aggregated).
const INVALID_RESET_TOKEN: crate::audit::failures::Failure = crate::audit::failures::Failure {
    action: "auth.password.reset",
    reason: "invalid_token",
    result: AuditResult::Failure,
    resource_type: "user",
    error_message: None,
};

/// `POST /api/v1/auth/password/reset`: consumes the token once, sets the password, ends
/// every session.
pub async fn reset(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    Json(body): Json<ResetBody>,
) -> Result<Response, ApiError> {
    policy_error("body.newPassword", &body.new_password)?;
    let token = PasswordResetToken::parse(&body.token).map_err(|_| bad_reset_token())?;
    let at = now(&state);
    let mut tx = state.store.begin_system("password reset lookup").await?;
    let row = store::password_reset_by_hash(&mut tx, &token.hash().to_hex()).await?;
    drop(tx);
    let row = match row {
        Some(row) => {
            let stored: TokenHash = row
                .token_hash
                .parse()
                .map_err(|_| ApiError::internal("malformed reset hash"))?;
            (token.verify(&stored) && !row.used && row.expires_at > at).then_some(row)
        }
        None => None,
    };
    let Some(row) = row else {
        // the system chain: aggregated per source and minute (crate::audit::failures)
        if client.first_failure_in_window(&state, INVALID_RESET_TOKEN) {
            let ev = event(
                &state,
                Actor::System,
                &client,
                "auth.password.reset",
                AuditResult::Failure,
            )?
            .details(&json!({"reason": "invalid_token", "count": 1}));
            audit_alone(&state, None, ev).await?;
        }
        return Err(bad_reset_token());
    };
    let new = SecretString::from(body.new_password);
    let new_hash = hash_password_off(&state, &new).await?;

    let mut tx = state.store.begin_system("password reset").await?;
    if !store::consume_password_reset(&mut tx, row.id, at).await? {
        return Err(bad_reset_token());
    }
    let user = store::login_user_by_id(&mut tx, row.user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(bad_reset_token)?;
    store::set_password(&mut tx, user.id, &new_hash, at).await?;
    let families = store::revoke_all_families(&mut tx, user.id, "password_reset", at).await?;
    let ev = event(
        &state,
        user_actor(user.id),
        &client,
        "auth.password.reset",
        AuditResult::Success,
    )?
    .resource_id(user.id.to_string())
    .details(&json!({"sessionsEnded": families.len()}));
    append(&mut tx, user.org_id, ev).await?;
    tx.commit().await?;
    revoke_in_cache(&state, user.id, &families, Some(at)).await;
    if state
        .limiter
        .clear_login_failures(&user.email)
        .await
        .is_err()
    {
        tracing::warn!("could not clear login failures in the limiter");
    }
    Ok(axum::Json(StatusAnswer {
        status: "password_reset",
        message: None,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reset_token_secret_is_not_in_debug() {
        let t = breeze_crypto::credentials::PasswordResetToken::generate().unwrap();
        assert!(!format!("{t:?}").contains(t.expose_secret()));
    }
}
