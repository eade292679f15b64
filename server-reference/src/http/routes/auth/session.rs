//! Sessions: login, MFA verification, refresh rotation, logout.

use super::answers::{LoginAnswer, MfaChallenge, StatusAnswer};
use std::time::Instant;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use breeze_authz::session::check_session;
use breeze_core::audit::{Actor, AuditResult};
use breeze_core::ratelimit::Verdict;
use breeze_core::revocation::{
    RACE_GRACE, RefreshDecision, TotpStep, decide_refresh, decide_refresh_before_store,
};
use breeze_core::tenancy::UserId;
use breeze_crypto::credentials::{SessionToken, TokenHash};
use breeze_crypto::jwt::TokenType;
use breeze_crypto::recovery::RecoveryCode;
use breeze_crypto::totp::{self, TotpSecret};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{
    IssuedSession, LOCKOUT_SECS, MFA_CHALLENGE_SECS, REFRESH_COOKIE, allow, append, audit_alone,
    check_csrf, check_password_field, cleared_cookies, cookie, dummy_verify_off, email_hash, event,
    invalid_credentials, issue_pair, no_store, normalize_email, now, open_session, revoke_in_cache,
    session_response, token_subject, user_actor, verify_password_off, wait_floor,
};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::{Authed, ClientMeta, token_facts};
use crate::http::extract::{Json, Validate, is_valid_email};
use crate::http::ip_allow::Stage as IpStage;
use crate::state::AppState;
use crate::store::auth as store;
use crate::store::principal;

/// `POST /auth/login` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"email": "tech@msp.example", "password": "correct-horse-battery-9"}))]
pub struct LoginBody {
    email: String,
    password: String,
}

impl Validate for LoginBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if !is_valid_email(&normalize_email(&self.email)) {
            issues.push(FieldIssue::new("email", "must be an e-mail address"));
        }
        check_password_field(&mut issues, "password", &self.password);
        issues
    }
}

/// A login for an e-mail no user has (system chain, aggregated).
const UNKNOWN_USER_LOGIN: crate::audit::failures::Failure = crate::audit::failures::Failure {
    action: "auth.login",
    reason: "unknown_user",
    result: AuditResult::Failure,
    resource_type: "user",
    error_message: Some("invalid credentials"),
};

/// `POST /api/v1/auth/login`.
pub async fn login(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    Json(body): Json<LoginBody>,
) -> Response {
    let start = Instant::now();
    let result = login_inner(&state, &client, body).await;
    wait_floor(&state, start).await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn login_inner(
    state: &AppState,
    client: &ClientMeta,
    body: LoginBody,
) -> Result<Response, ApiError> {
    let email = normalize_email(&body.email);
    let password = SecretString::from(body.password);
    allow(&state.limiter.login_per_ip(client.key()).await)?;
    allow(&state.limiter.login_per_ip_email(client.key(), &email).await)?;
    let lockout = state.limiter.login_lockout(&email).await;
    if lockout.verdict == Verdict::Unavailable {
        return Err(ApiError::Unavailable);
    }

    let mut tx = state.store.begin_system("login lookup").await?;
    let user = store::login_user_by_email(&mut tx, &email).await?;
    drop(tx);

    let Some(user) = user else {
        dummy_verify_off(state, &password).await;
        // the system chain: aggregated per source and minute (crate::audit::failures)
        if client.first_failure_in_window(state, UNKNOWN_USER_LOGIN) {
            let ev = event(
                state,
                Actor::System,
                client,
                "auth.login",
                AuditResult::Failure,
            )?
            .details(
                &json!({"reason": "unknown_user", "emailHash": email_hash(&email), "count": 1}),
            )
            .error_message("invalid credentials");
            audit_alone(state, None, ev).await?;
        }
        return Err(invalid_credentials());
    };
    let org = user.org_id;
    let fail = |reason: &str| -> Result<_, ApiError> {
        Ok(event(
            state,
            user_actor(user.id),
            client,
            "auth.login",
            AuditResult::Failure,
        )?
        .resource_id(user.id.to_string())
        .details(&json!({"reason": reason, "email": user.email}))
        .error_message("invalid credentials"))
    };

    let at = now(state);
    let locked = lockout.verdict == Verdict::Limited || user.locked_until.is_some_and(|t| t > at);
    if locked {
        dummy_verify_off(state, &password).await;
        audit_alone(state, org, fail("locked")?).await?;
        return Err(invalid_credentials());
    }

    if !verify_password_off(state, &password, &user.password_hash).await? {
        let recorded = state.limiter.record_login_failure(&email).await;
        let lock_until = (!recorded.is_allowed())
            .then(|| at.saturating_add(time::Duration::seconds(LOCKOUT_SECS)));
        let mut tx = state.store.begin_system("login failure").await?;
        store::record_login_failure(&mut tx, user.id, lock_until).await?;
        let mut ev = fail("bad_password")?;
        if lock_until.is_some() {
            ev =
                ev.details(&json!({"reason": "bad_password", "email": user.email, "locked": true}));
        }
        append(&mut tx, org, ev).await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    }
    if !user.active {
        audit_alone(state, org, fail("disabled")?).await?;
        return Err(invalid_credentials());
    }
    crate::http::ip_allow::admit_login(state, client, &user).await?;
    // SPEC 16 enforce_sso: the tenant logs in through its provider; platform admins keep
    // the password login (break-glass). Checked after the password, so it tells nothing to
    // someone who does not know it.
    let mut tx = state.store.begin_system("login sso check").await?;
    let sso_only = crate::store::sso::enforced_for(&mut tx, user.partner_id, user.org_id).await?
        && !crate::store::sso::user_home(&mut tx, user.id)
            .await?
            .is_some_and(|h| h.platform_admin);
    drop(tx);
    if sso_only {
        let ev = event(
            state,
            user_actor(user.id),
            client,
            "auth.sso.password_refused",
            AuditResult::Denied,
        )?
        .resource_id(user.id.to_string())
        .details(&json!({"reason": "sso_required", "email": user.email}))
        .error_message("password login refused: the tenant enforces SSO");
        audit_alone(state, org, ev).await?;
        return Err(ApiError::Forbidden("sso_required"));
    }

    // Upgrade a weak stored hash now that the password is known (off the executor, no
    // transaction held while hashing).
    if breeze_crypto::password::needs_rehash(&user.password_hash).unwrap_or(false)
        && let Ok(new_hash) = super::hash_password_off(state, &password).await
    {
        let mut tx = state.store.begin_system("login rehash").await?;
        store::rehash_password(&mut tx, user.id, &user.password_hash, &new_hash).await?;
        tx.commit().await?;
    }
    if state.limiter.clear_login_failures(&email).await.is_err() {
        tracing::warn!("could not clear login failures in the limiter");
    }

    let mut tx = state.store.begin_system("login").await?;
    store::record_login_success(&mut tx, user.id, at).await?;
    let auth_user = principal::user_by_id(&mut tx, user.id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(invalid_credentials)?;

    if auth_user.mfa_enabled {
        let challenge = SessionToken::generate().map_err(ApiError::internal)?;
        let expires = at.saturating_add(time::Duration::seconds(MFA_CHALLENGE_SECS));
        store::create_mfa_challenge(&mut tx, user.id, &challenge.hash().to_hex(), expires).await?;
        let ev = event(
            state,
            user_actor(user.id),
            client,
            "auth.mfa.required",
            AuditResult::Success,
        )?
        .resource_id(user.id.to_string())
        .details(&json!({"stage": "password_verified"}));
        append(&mut tx, org, ev).await?;
        tx.commit().await?;
        let mut response = axum::Json(LoginAnswer::Challenge(MfaChallenge {
            mfa_required: true,
            mfa_token: challenge.expose_secret().to_owned(),
            expires_in: MFA_CHALLENGE_SECS,
        }))
        .into_response();
        no_store(&mut response);
        return Ok(response);
    }

    let session = match open_session(state, &mut tx, &auth_user, false, client).await {
        Ok(s) => s,
        Err(ApiError::Unauthorized(code)) => {
            drop(tx);
            let ev = fail("no_access")?
                .details(&json!({"reason": "no_access", "code": code, "email": user.email}));
            audit_alone(state, org, ev).await?;
            return Err(invalid_credentials());
        }
        Err(e) => return Err(e),
    };
    let ev = event(
        state,
        user_actor(user.id),
        client,
        "auth.login",
        AuditResult::Success,
    )?
    .resource_id(user.id.to_string())
    .details(&json!({"mfa": false, "sessionId": session.access.claims.sid}));
    append(&mut tx, org, ev).await?;
    tx.commit().await?;
    session_response(state, &session, false)
}

/// `POST /auth/mfa/verify` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"mfaToken": "the mfaToken of the login answer", "code": "123456"}))]
pub struct MfaVerifyBody {
    mfa_token: String,
    code: String,
}

impl Validate for MfaVerifyBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.mfa_token.is_empty() || self.mfa_token.len() > 128 {
            issues.push(FieldIssue::new("mfaToken", "is malformed"));
        }
        if self.code.trim().is_empty() || self.code.len() > 32 {
            issues.push(FieldIssue::new("code", "is malformed"));
        }
        issues
    }
}

/// Whether `code` is shaped like a TOTP code (6 digits, spaces allowed).
fn is_totp_shaped(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| *c != ' ').collect();
    digits.len() == totp::DIGITS && digits.iter().all(char::is_ascii_digit)
}

/// `POST /api/v1/auth/mfa/verify`: completes a login with a TOTP code or a recovery code.
pub async fn mfa_verify(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    Json(body): Json<MfaVerifyBody>,
) -> Result<Response, ApiError> {
    complete_mfa(&state, &client, &body.mfa_token, &body.code).await
}

/// Completes a login that passed its first factor (a password, or an SSO login without the
/// provider's MFA) with a TOTP or recovery code for the challenge `mfa_token`.
pub(super) async fn complete_mfa(
    state: &AppState,
    client: &ClientMeta,
    mfa_token: &str,
    code: &str,
) -> Result<Response, ApiError> {
    let bad_token = ApiError::Unauthorized("invalid_mfa_token");
    let token =
        SessionToken::parse(mfa_token).map_err(|_| ApiError::Unauthorized("invalid_mfa_token"))?;
    let at = now(state);
    let mut tx = state.store.begin_system("mfa challenge lookup").await?;
    let challenge = store::live_mfa_challenge(&mut tx, &token.hash().to_hex(), at).await?;
    let Some(challenge) = challenge else {
        return Err(bad_token);
    };
    let stored: TokenHash = challenge
        .token_hash
        .parse()
        .map_err(|_| ApiError::internal("malformed challenge hash"))?;
    if !token.verify(&stored) {
        return Err(bad_token);
    }
    let user_id = challenge.user_id;
    let user = principal::user_by_id(&mut tx, user_id)
        .await?
        .filter(|u| u.active && u.mfa_enabled)
        .ok_or(ApiError::Unauthorized("invalid_mfa_token"))?;
    let mfa = store::mfa_state(&mut tx, user_id).await?;
    drop(tx);
    crate::http::ip_allow::admit_user(state, client, &user, IpStage::MfaVerify).await?;
    allow(&state.limiter.mfa_per_user(user_id).await)?;
    let org = user.org_id;

    let failure = |reason: &str| -> Result<_, ApiError> {
        Ok(event(
            state,
            user_actor(user_id),
            client,
            "auth.mfa.verify",
            AuditResult::Failure,
        )?
        .resource_id(user_id.to_string())
        .details(&json!({"reason": reason}))
        .error_message("invalid mfa code"))
    };
    let bad_code = ApiError::Unauthorized("invalid_mfa_code");

    let method;
    let mut tx;
    if is_totp_shaped(code) {
        method = "totp";
        let envelope = mfa
            .secret
            .as_deref()
            .ok_or_else(|| ApiError::internal("mfa enabled without a secret"))?;
        let base32 = state.mfa.decrypt(envelope).map_err(ApiError::internal)?;
        let secret = TotpSecret::from_base32(base32.expose_secret()).map_err(ApiError::internal)?;
        let Ok(step) = totp::verify(&secret, code, at.unix_timestamp()) else {
            audit_alone(state, org, failure("bad_code")?).await?;
            return Err(bad_code);
        };
        match state.revocation.accept_totp_step(user_id, step).await {
            TotpStep::Accepted => {}
            TotpStep::Replayed => {
                audit_alone(state, org, failure("replayed_step")?).await?;
                return Err(bad_code);
            }
            TotpStep::Unavailable => return Err(ApiError::Unavailable),
        }
        let step = i64::try_from(step).map_err(ApiError::internal)?;
        tx = state.store.begin_system("mfa verify").await?;
        if !store::advance_mfa_step(&mut tx, user_id, step).await? {
            drop(tx);
            audit_alone(state, org, failure("replayed_step")?).await?;
            return Err(bad_code);
        }
    } else {
        method = "recovery_code";
        let Ok(code) = RecoveryCode::normalize(code) else {
            audit_alone(state, org, failure("bad_code")?).await?;
            return Err(bad_code);
        };
        let hashes: Vec<String> = code
            .peppered_hashes(&state.pepper)
            .iter()
            .map(TokenHash::to_hex)
            .collect();
        tx = state.store.begin_system("mfa recovery").await?;
        if !store::consume_recovery_code(&mut tx, user_id, &hashes, at).await? {
            drop(tx);
            audit_alone(state, org, failure("bad_recovery_code")?).await?;
            return Err(bad_code);
        }
        let ev = event(
            state,
            user_actor(user_id),
            client,
            "auth.mfa.recovery_code.used",
            AuditResult::Success,
        )?
        .resource_id(user_id.to_string())
        .details(&json!({"remaining": mfa.recovery_codes_left.saturating_sub(1)}));
        append(&mut tx, org, ev).await?;
    }
    if !store::consume_mfa_challenge(&mut tx, challenge.id, at).await? {
        return Err(bad_token);
    }
    let session = open_session(state, &mut tx, &user, true, client)
        .await
        .map_err(|e| match e {
            ApiError::Unauthorized(_) => ApiError::Unauthorized("invalid_credentials"),
            other => other,
        })?;
    let ev = event(
        state,
        user_actor(user_id),
        client,
        "auth.mfa.verify",
        AuditResult::Success,
    )?
    .resource_id(user_id.to_string())
    .details(&json!({"method": method, "sessionId": session.access.claims.sid}));
    append(&mut tx, org, ev).await?;
    tx.commit().await?;
    session_response(state, &session, true)
}

/// `POST /api/v1/auth/refresh`: rotates the refresh token of the cookie (CSRF header
/// required). A reused token revokes its family unless it is inside the race grace.
pub async fn refresh(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let token = cookie(&headers, REFRESH_COOKIE)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized("missing_token"))?;
    let at = now(&state);
    let claims = state
        .jwt
        .verify(token, TokenType::Refresh, at.unix_timestamp())
        .map_err(|e| match e {
            breeze_crypto::jwt::JwtError::Expired => ApiError::Unauthorized("token_expired"),
            _ => ApiError::Unauthorized("invalid_token"),
        })?;
    let (Some(family), Some(jti)) = (claims.fam, claims.jti) else {
        return Err(ApiError::Unauthorized("invalid_token"));
    };
    let user_id = UserId::from_uuid(claims.sub);
    allow(&state.limiter.refresh_per_user(user_id).await)?;
    if state.revocation.is_token_revoked(user_id, claims.iat).await
        || state.revocation.is_family_revoked(family).await
    {
        return Err(ApiError::Unauthorized("session_revoked"));
    }

    let mut tx = state.store.begin_system("refresh checks").await?;
    let user = principal::user_by_id(&mut tx, user_id)
        .await?
        .ok_or(ApiError::Unauthorized("invalid_token"))?;
    check_session(&user.session_facts(), &token_facts(&claims))
        .map_err(|e| ApiError::Unauthorized(e.code()))?;
    match store::family_state(&mut tx, family, user_id).await? {
        Some(f) if !f.revoked && f.expires_at > at => {}
        _ => return Err(ApiError::Unauthorized("session_revoked")),
    }
    drop(tx);
    crate::http::ip_allow::admit_user(&state, &client, &user, IpStage::Refresh).await?;

    let cache = state.revocation.burn_refresh(jti, family).await;
    if decide_refresh_before_store(cache).is_some() {
        return Err(ApiError::Unavailable);
    }
    let mut tx = state.store.begin_system("refresh rotate").await?;
    let durable = store::burn_refresh_token(&mut tx, jti, family, user_id, at).await?;
    let grace = time::Duration::try_from(RACE_GRACE).map_err(ApiError::internal)?;
    match decide_refresh(cache, durable, at, grace) {
        RefreshDecision::Issue => {}
        RefreshDecision::InvalidToken => return Err(ApiError::Unauthorized("invalid_token")),
        RefreshDecision::Raced => return Err(ApiError::Unauthorized("refresh_raced")),
        RefreshDecision::Unavailable => return Err(ApiError::Unavailable),
        RefreshDecision::Reuse => {
            store::revoke_family(&mut tx, family, user_id, "refresh_reuse", at).await?;
            let ev = event(
                &state,
                user_actor(user_id),
                &client,
                "auth.refresh.reuse_detected",
                AuditResult::Denied,
            )?
            .resource_type("session")
            .resource_id(family.to_string())
            .details(&json!({"familyId": family, "jti": jti}));
            append(&mut tx, user.org_id, ev).await?;
            tx.commit().await?;
            revoke_in_cache(&state, user_id, &[family], None).await;
            return Err(ApiError::Unauthorized("refresh_reused"));
        }
    }

    store::touch_session(&mut tx, family, at).await?;
    let subject = token_subject(&mut tx, &user, claims.mfa).await?;
    let session: IssuedSession = issue_pair(&state, &mut tx, subject, family).await?;
    if let Some(next) = session.refresh.claims.jti {
        store::set_replaced_by(&mut tx, jti, next).await?;
    }
    tx.commit().await?;
    session_response(&state, &session, user.mfa_enabled)
}

fn session_of(authed: &Authed) -> Result<&crate::http::authn::UserSession, ApiError> {
    authed.session().ok_or(ApiError::Forbidden("users_only"))
}

fn logged_out(state: &AppState) -> Result<Response, ApiError> {
    let mut response = axum::Json(StatusAnswer {
        status: "logged_out",
        message: None,
    })
    .into_response();
    for value in cleared_cookies(state)? {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    no_store(&mut response);
    Ok(response)
}

/// `POST /api/v1/auth/logout`: revokes this session's family (durably and in the cache).
pub async fn logout(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Response, ApiError> {
    let session = session_of(&authed)?;
    let user = session.user.id;
    let family = session
        .claims
        .sid
        .ok_or(ApiError::Unauthorized("invalid_token"))?;
    let mut tx = state.store.begin_system("logout").await?;
    store::revoke_family(&mut tx, family, user, "logout", now(&state)).await?;
    let ev = authed
        .event(&state, "auth.logout", AuditResult::Success)?
        .resource_type("session")
        .resource_id(family.to_string())
        .details(&json!({"all": false}));
    append(&mut tx, session.user.org_id, ev).await?;
    tx.commit().await?;
    revoke_in_cache(&state, user, &[family], None).await;
    logged_out(&state)
}

/// `POST /api/v1/auth/logout-all`: ends every session of the user (auth epoch + 1, every
/// family revoked, cache cut-off).
pub async fn logout_all(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Response, ApiError> {
    let session = session_of(&authed)?;
    let user = session.user.id;
    let at = now(&state);
    let mut tx = state.store.begin_system("logout all").await?;
    store::bump_auth_epoch(&mut tx, user).await?;
    let families = store::revoke_all_families(&mut tx, user, "logout_all", at).await?;
    let ev = authed
        .event(&state, "auth.logout", AuditResult::Success)?
        .resource_type("user")
        .resource_id(user.to_string())
        .details(&json!({"all": true, "sessions": families.len()}));
    append(&mut tx, session.user.org_id, ev).await?;
    tx.commit().await?;
    revoke_in_cache(&state, user, &families, Some(at)).await;
    logged_out(&state)
}
