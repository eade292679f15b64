//! Authentication routes (SPEC 2, 3, 6.2, 7, 9): login, MFA, refresh, logout, passwords and
//! the current user.
//!
//! | route | access |
//! |---|---|
//! | `POST /api/v1/auth/login` | public |
//! | `POST /api/v1/auth/mfa/verify` | public (MFA challenge token) |
//! | `POST /api/v1/auth/refresh` | public, refresh cookie + CSRF header |
//! | `POST /api/v1/auth/logout`, `/logout-all` | authenticated |
//! | `POST /api/v1/auth/mfa/setup`, `/mfa/confirm`, `GET /mfa/status` | authenticated (force-MFA exempt) |
//! | `POST /api/v1/auth/password/change` | authenticated |
//! | `POST /api/v1/auth/password/reset-request`, `/password/reset` | public |
//! | `GET /api/v1/users/me` | authenticated (force-MFA exempt) |
//! | `GET /api/v1/auth/sso/{providerId}/start`, `GET /auth/sso/callback` | public (SSO browser flow, `sso.rs`) |
//! | `POST /api/v1/auth/sso/mfa` | public (the SSO login's MFA cookie) |
//! | `GET /api/v1/auth/sessions` | authenticated: the caller's live sessions |
//! | `DELETE /api/v1/auth/sessions/{familyId}` | authenticated: revoke one of the caller's sessions |
//! | `POST /api/v1/auth/sessions/revoke-others` | authenticated: revoke all the caller's other sessions |
//!
//! An administrator's view of another user's sessions (`/api/v1/users/{userId}/sessions`)
//! lives with the user routes (`tenancy::users`) and shares [`sessions`]' functions.
//!
//! Decisions (documented here because the SPEC leaves them open):
//! - Every credential failure of login (unknown user, wrong password, disabled, locked, no
//!   live membership) answers the same 401 `invalid_credentials`, after the same Argon2 cost
//!   (a dummy verification when no real one runs) and no sooner than the login floor. Rate
//!   limits answer 429 with `Retry-After` (503 when the limiter backend is unreachable).
//! - A locked account (5 failures within 15 minutes) also gets the generic 401; the lock is
//!   kept in the limiter and, as a durable backstop, in `users.locked_until`.
//! - Logout revokes the session's refresh family (PostgreSQL `revoked_at` and the revocation
//!   cache). That alone ends the session's access token, because the guard checks the family
//!   of every access token (`sid`). It deliberately sets NO user-wide cut-off: the cut-off
//!   revokes tokens issued in its own second too, so a login right after a logout would
//!   be born revoked, and it would end the user's other devices as well.
//!   `POST /auth/logout-all` ends every session: auth epoch + 1 (durable, checked on every
//!   request), every family revoked, and the cache cut-off at `now - 1` (the epoch covers the
//!   current second, so a login right after it works).
//! - Password change and reset bump the auth epoch (every session ends) and revoke every
//!   family; a change answers a fresh session for the caller so only the other sessions end.
//! - Enabling MFA bumps the MFA epoch: the caller's current token (old `mep`) answers 401
//!   afterwards and the user logs in again with the second factor.

pub mod answers;
mod me;
pub(crate) mod mfa;
mod password;
mod session;
pub(crate) mod sessions;
mod sso;
mod step_up;

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use breeze_authz::access::{Principal, resolve};
use breeze_authz::role::RoleScope;
use breeze_core::audit::{Actor, AuditEventBuilder, AuditResult};
use breeze_core::ratelimit::RateDecision;
use breeze_core::tenancy::{OrgId, UserId};
use breeze_crypto::credentials::{SessionToken, TokenHash};
use breeze_crypto::jwt::{
    ACCESS_TTL_SECS, IssuedToken, REFRESH_TTL_SECS, TokenScope, TokenSubject,
};
use secrecy::SecretString;

use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{ApiError, FieldIssue};
use crate::http::authn::{self, ClientMeta};
use crate::http::route::{Access, Route, route};
use crate::state::AppState;
use crate::store::principal::{self, AuthUser};
use crate::store::{ScopedTx, audit, auth as store};

/// The refresh-token cookie (HttpOnly, SameSite=Strict, scoped to [`AUTH_COOKIE_PATH`]).
pub const REFRESH_COOKIE: &str = "breeze_refresh";
/// The CSRF cookie (not HttpOnly, `Path=/` so the web app's scripts can read it; its value
/// goes in [`CSRF_HEADER`]).
pub const CSRF_COOKIE: &str = "breeze_csrf";
/// The CSRF header the refresh call must carry.
pub const CSRF_HEADER: &str = "x-breeze-csrf";
/// The path the refresh cookie is scoped to.
pub const AUTH_COOKIE_PATH: &str = "/api/v1/auth";
/// Absolute lifetime of a refresh family (30 days).
pub const FAMILY_LIFETIME_SECS: i64 = 30 * 24 * 60 * 60;
/// Lifetime of an MFA login challenge (5 minutes).
pub const MFA_CHALLENGE_SECS: i64 = 5 * 60;
/// Lifetime of a password-reset token (1 hour).
pub const RESET_TOKEN_SECS: i64 = 60 * 60;
/// How long an account stays locked after too many failures (15 minutes).
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// Longest password accepted in a body (bytes; Argon2 input bound).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/auth/login",
            Access::Public,
            "log in with e-mail and password",
            session::login,
        )
        .ok::<answers::LoginAnswer>()
        .errors(&[401, 403]),
        route(
            Method::POST,
            "/api/v1/auth/mfa/verify",
            Access::Public,
            "complete a login with a TOTP or recovery code",
            session::mfa_verify,
        )
        .ok::<answers::SessionAnswer>()
        .errors(&[401, 403]),
        route(
            Method::POST,
            "/api/v1/auth/refresh",
            Access::Public,
            "rotate the refresh token (cookie + CSRF header)",
            session::refresh,
        )
        .ok::<answers::SessionAnswer>()
        .errors(&[401, 403])
        .describe("the refresh token is the HttpOnly `breeze_refresh` cookie; send the `breeze_csrf` cookie's value in `x-breeze-csrf`"),
        route(
            Method::POST,
            "/api/v1/auth/logout",
            Access::Authenticated,
            "end this session",
            session::logout,
        )
        .ok::<answers::StatusAnswer>(),
        route(
            Method::POST,
            "/api/v1/auth/logout-all",
            Access::Authenticated,
            "end every session of the user",
            session::logout_all,
        )
        .ok::<answers::StatusAnswer>(),
        route(
            Method::POST,
            "/api/v1/auth/mfa/setup",
            Access::Authenticated,
            "start TOTP enrollment (password step-up)",
            mfa::setup,
        )
        .ok::<answers::MfaSetupAnswer>()
        .errors(&[409]),
        route(
            Method::POST,
            "/api/v1/auth/mfa/confirm",
            Access::Authenticated,
            "confirm TOTP enrollment with a first code",
            mfa::confirm,
        )
        .ok::<answers::MfaConfirmAnswer>()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/auth/mfa/status",
            Access::Authenticated,
            "MFA state of the current user",
            mfa::status,
        )
        .ok::<answers::MfaStatus>(),
        route(
            Method::POST,
            "/api/v1/auth/password/change",
            Access::Authenticated,
            "change the password (password step-up)",
            password::change,
        )
        .ok::<answers::SessionAnswer>(),
        route(
            Method::POST,
            "/api/v1/auth/password/reset-request",
            Access::Public,
            "ask for a password-reset token",
            password::reset_request,
        )
        .accepted::<answers::StatusAnswer>(),
        route(
            Method::POST,
            "/api/v1/auth/password/reset",
            Access::Public,
            "set a new password with a reset token",
            password::reset,
        )
        .ok::<answers::StatusAnswer>()
        .errors(&[401]),
        route(
            Method::GET,
            "/api/v1/auth/sso/{providerId}/start",
            Access::Public,
            "start a login through an SSO provider (redirects the browser to it)",
            sso::start,
        )
        .answers(303, None, "to the provider's authorization endpoint, with the state cookie")
        .errors(&[409])
        .describe("a browser navigation, not an API call: `409 sso_not_configured` until `BREEZE_PUBLIC_URL` is set, or the provider's document error (`oidc_*`) when it cannot be reached"),
        route(
            Method::GET,
            "/api/v1/auth/sso/callback",
            Access::Public,
            "the SSO provider's redirect back (code, state)",
            sso::callback,
        )
        .answers(303, None, "to the console: `?sso=ok` (session cookies set), `?sso=mfa` (Breeze TOTP still needed) or `?sso=error&reason=<code>`")
        .errors(&[409]),
        route(
            Method::POST,
            "/api/v1/auth/sso/mfa",
            Access::Public,
            "complete an SSO login with a TOTP or recovery code (the SSO MFA cookie)",
            sso::mfa,
        )
        .ok::<answers::SessionAnswer>()
        .errors(&[401, 403]),
        route(
            Method::GET,
            "/api/v1/users/me",
            Access::Authenticated,
            "the current user, memberships, permissions and MFA state",
            me::me,
        )
        .ok::<answers::MeAnswer>(),
        route(
            Method::GET,
            "/api/v1/auth/sessions",
            Access::Authenticated,
            "the caller's live sessions (newest first, at most 100)",
            sessions::list,
        )
        .ok::<sessions::SessionList>(),
        route(
            Method::DELETE,
            "/api/v1/auth/sessions/{familyId}",
            Access::Authenticated,
            "revoke one of the caller's sessions (the current one = logout)",
            sessions::revoke,
        )
        .no_content(),
        route(
            Method::POST,
            "/api/v1/auth/sessions/revoke-others",
            Access::Authenticated,
            "revoke every session of the caller but the current one",
            sessions::revoke_others,
        )
        .ok::<sessions::RevokedSessions>(),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

/// The one answer of every login credential failure.
const fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized("invalid_credentials")
}

/// Lowercase, trimmed e-mail.
fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// SHA-256 hex of a normalized e-mail (audit details of unknown users).
fn email_hash(email: &str) -> String {
    TokenHash::of(email.as_bytes()).to_hex()
}

/// Refuses a limited (429) or unavailable (503) decision.
fn allow(decision: &RateDecision) -> Result<(), ApiError> {
    if decision.is_allowed() {
        Ok(())
    } else {
        Err(authn::rate_limited(decision))
    }
}

/// Waits until `floor_ms` have passed since `start` (SPEC 2.1 login floor).
async fn wait_floor(state: &AppState, start: Instant) {
    let floor = Duration::from_millis(state.config.login_floor_ms);
    if let Some(rest) = floor.checked_sub(start.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}

/// A password policy failure: one issue per broken rule, never the password.
fn policy_error(path: &str, password: &str) -> Result<(), ApiError> {
    match breeze_crypto::password::PasswordPolicy::default().check(password) {
        Ok(()) => {
            if password.len() > MAX_PASSWORD_BYTES {
                return Err(ApiError::invalid(path, "password is too long"));
            }
            Ok(())
        }
        Err(e) => Err(ApiError::Validation(
            e.violations()
                .iter()
                .map(|v| FieldIssue::new(path, format!("{v} ({})", v.code())))
                .collect(),
        )),
    }
}

/// Checks a password field's size (any content: policy is checked where a new password is set).
fn check_password_field(issues: &mut Vec<FieldIssue>, path: &str, value: &str) {
    if value.is_empty() {
        issues.push(FieldIssue::new(path, "is required"));
    } else if value.len() > MAX_PASSWORD_BYTES {
        issues.push(FieldIssue::new(path, "is too long"));
    }
}

/// Appends an audit event inside `tx`.
async fn append(
    tx: &mut ScopedTx,
    org: Option<OrgId>,
    event: AuditEventBuilder,
) -> Result<(), ApiError> {
    let event = event.build().map_err(ApiError::internal)?;
    audit::append(tx, org, event).await?;
    Ok(())
}

/// Writes one audit event in its own system transaction (failures, where nothing else
/// changes).
async fn audit_alone(
    state: &AppState,
    org: Option<OrgId>,
    event: AuditEventBuilder,
) -> Result<(), ApiError> {
    let mut tx = state.store.begin_system("auth audit").await?;
    append(&mut tx, org, event).await?;
    tx.commit().await?;
    Ok(())
}

/// A user's audit actor.
const fn user_actor(user: UserId) -> Actor {
    Actor::User(user)
}

/// Starts an auth audit event for a user (or the system) at `client`.
fn event(
    state: &AppState,
    actor: Actor,
    client: &ClientMeta,
    action: &str,
    result: AuditResult,
) -> Result<AuditEventBuilder, ApiError> {
    Ok(authn::event_builder(state, actor, client, action, result)?.resource_type("user"))
}

/// The claims subject of `user` from their live memberships (role, scope, tenant).
///
/// # Errors
/// [`ApiError::Unauthorized`] with the resolution code when the user has no live access.
async fn token_subject(
    tx: &mut ScopedTx,
    user: &AuthUser,
    mfa: bool,
) -> Result<TokenSubject, ApiError> {
    let memberships = principal::memberships(tx, user.id).await?;
    let orgs = principal::org_records(tx, &memberships).await?;
    let ctx = resolve(
        &Principal::User {
            user_id: user.id,
            memberships,
        },
        &orgs,
    )
    .map_err(|e| ApiError::Unauthorized(e.code()))?;
    let scope = match ctx.scope() {
        RoleScope::System => TokenScope::System,
        RoleScope::Partner => TokenScope::Partner,
        RoleScope::Organization => TokenScope::Organization,
    };
    let (org_id, partner_id) = match scope {
        TokenScope::System => (None, None),
        TokenScope::Partner => (None, ctx.current_partner_id().or(user.partner_id)),
        TokenScope::Organization => (ctx.org_id().or(user.org_id), user.partner_id),
    };
    Ok(TokenSubject {
        user_id: *user.id.as_uuid(),
        email: user.email.clone(),
        role_id: ctx.role_id().map(|r| *r.as_uuid()),
        org_id: org_id.map(|o| *o.as_uuid()),
        partner_id: partner_id.map(|p| *p.as_uuid()),
        scope,
        mfa,
        auth_epoch: user.auth_epoch,
        mfa_epoch: user.mfa_epoch,
    })
}

/// A freshly issued session: access and refresh tokens plus a CSRF value.
struct IssuedSession {
    access: IssuedToken,
    refresh: IssuedToken,
    csrf: SessionToken,
    subject: TokenSubject,
}

/// Issues an access + refresh pair in `family` and records the refresh `jti`.
async fn issue_pair(
    state: &AppState,
    tx: &mut ScopedTx,
    subject: TokenSubject,
    family: Uuid,
) -> Result<IssuedSession, ApiError> {
    let now = state.clock.now();
    let unix = now.unix_timestamp();
    let access = state
        .jwt
        .issue_access(&subject, family, unix)
        .map_err(ApiError::internal)?;
    let refresh = state
        .jwt
        .issue_refresh(&subject, family, unix)
        .map_err(ApiError::internal)?;
    let jti = refresh
        .claims
        .jti
        .ok_or_else(|| ApiError::internal("refresh token without jti"))?;
    let user = UserId::from_uuid(subject.user_id);
    store::record_refresh_token(tx, jti, family, user, now).await?;
    let csrf = SessionToken::generate().map_err(ApiError::internal)?;
    Ok(IssuedSession {
        access,
        refresh,
        csrf,
        subject,
    })
}

/// Opens a new session (refresh family) for `user` inside `tx`.
///
/// # Errors
/// [`ApiError::Unauthorized`] when the user has no live access.
async fn open_session(
    state: &AppState,
    tx: &mut ScopedTx,
    user: &AuthUser,
    mfa: bool,
    client: &ClientMeta,
) -> Result<IssuedSession, ApiError> {
    let subject = token_subject(tx, user, mfa).await?;
    let family = Uuid::new_v4();
    let opened = state.clock.now();
    let expires = opened.saturating_add(time::Duration::seconds(FAMILY_LIFETIME_SECS));
    store::open_family(
        tx,
        family,
        user.id,
        opened,
        expires,
        Some(client.ip.to_string()),
        client.user_agent.as_deref(),
    )
    .await?;
    issue_pair(state, tx, subject, family).await
}

fn cookie_header(value: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(value).map_err(|_| ApiError::internal("cookie value not a header"))
}

/// The `Set-Cookie` values of a session.
fn session_cookies(state: &AppState, s: &IssuedSession) -> Result<[HeaderValue; 2], ApiError> {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    Ok([
        cookie_header(&format!(
            "{REFRESH_COOKIE}={}; Path={AUTH_COOKIE_PATH}; Max-Age={REFRESH_TTL_SECS}; HttpOnly; SameSite=Strict{secure}",
            s.refresh.token
        ))?,
        cookie_header(&format!(
            "{CSRF_COOKIE}={}; Path=/; Max-Age={REFRESH_TTL_SECS}; SameSite=Strict{secure}",
            s.csrf.expose_secret()
        ))?,
    ])
}

/// `Set-Cookie` values that delete both cookies.
fn cleared_cookies(state: &AppState) -> Result<[HeaderValue; 2], ApiError> {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    Ok([
        cookie_header(&format!(
            "{REFRESH_COOKIE}=; Path={AUTH_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict{secure}"
        ))?,
        cookie_header(&format!(
            "{CSRF_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict{secure}"
        ))?,
    ])
}

/// The user summary of a session response.
fn session_user(subject: &TokenSubject, mfa_enabled: bool) -> answers::SessionUser {
    answers::SessionUser {
        id: subject.user_id,
        email: subject.email.clone(),
        scope: subject.scope.into(),
        role_id: subject.role_id,
        org_id: subject.org_id,
        partner_id: subject.partner_id,
        mfa_enabled,
    }
}

/// The 200 answer of a new session: tokens in the body and cookies.
fn session_response(
    state: &AppState,
    s: &IssuedSession,
    mfa_enabled: bool,
) -> Result<Response, ApiError> {
    let body = answers::LoginAnswer::Session(answers::SessionAnswer {
        access_token: s.access.token.clone(),
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        mfa: s.subject.mfa,
        user: session_user(&s.subject, mfa_enabled),
    });
    let mut response = axum::Json(body).into_response();
    for value in session_cookies(state, s)? {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    no_store(&mut response);
    Ok(response)
}

/// Responses carrying secrets must not be cached.
fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The single value of cookie `name`; `None` when absent or present more than once (a
/// duplicated cookie is ambiguous: refuse rather than pick one).
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else {
            continue;
        };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k.trim() == name {
                if found.is_some() {
                    return None;
                }
                found = Some(v.trim());
            }
        }
    }
    found
}

/// The CSRF check of cookie-authenticated calls: header equals cookie (constant time).
fn check_csrf(headers: &HeaderMap) -> Result<(), ApiError> {
    let cookie_value = cookie(headers, CSRF_COOKIE).filter(|v| !v.is_empty());
    let header_value = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    match (cookie_value, header_value) {
        (Some(c), Some(h)) if bool::from(c.as_bytes().ct_eq(h.as_bytes())) => Ok(()),
        _ => Err(ApiError::Forbidden("csrf_failed")),
    }
}

/// Verifies a password against a stored hash off the executor (bounded).
async fn verify_password_off(
    state: &AppState,
    password: &SecretString,
    stored: &str,
) -> Result<bool, ApiError> {
    let pw = password.clone();
    let stored = stored.to_owned();
    let outcome = state
        .hash_work(move || breeze_crypto::password::verify_password(&pw, &stored))
        .await
        .ok_or(ApiError::Unavailable)?;
    Ok(match outcome {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!(code = e.code(), "stored password hash is unusable");
            false
        }
    })
}

/// Spends the cost of one verification without a real hash (unknown or locked users).
async fn dummy_verify_off(state: &AppState, password: &SecretString) {
    let pw = password.clone();
    let _ = state
        .hash_work(move || breeze_crypto::password::dummy_verify(&pw))
        .await;
}

/// Hashes a new password off the executor (bounded).
async fn hash_password_off(state: &AppState, password: &SecretString) -> Result<String, ApiError> {
    let pw = password.clone();
    state
        .hash_work(move || breeze_crypto::password::hash_password(&pw))
        .await
        .ok_or(ApiError::Unavailable)?
        .map(|h| h.as_str().to_owned())
        .map_err(|e| ApiError::internal(e.code()))
}

/// Revokes `families` in the revocation cache and, with `cutoff_from`, raises the user's
/// cut-off to one second before that moment (the durable state was already committed; cache
/// errors are logged: the durable epoch and `revoked_at` still refuse the tokens).
///
/// The cut-off is computed from the moment of the change, never from "now" after the
/// commit: a token the same request issued (password change) has `iat >= cutoff_from`, so
/// it stays valid even when the clock ticks over in between. Tokens issued earlier in the
/// same second are not caught by the cut-off; the bumped auth epoch and the revoked
/// families refuse them.
async fn revoke_in_cache(
    state: &AppState,
    user: UserId,
    families: &[Uuid],
    cutoff_from: Option<OffsetDateTime>,
) {
    for family in families {
        if state.revocation.revoke_family(*family).await.is_err() {
            tracing::warn!("revocation cache unavailable: family revoked durably only");
        }
    }
    if let Some(at) = cutoff_from {
        let cutoff = at.unix_timestamp().saturating_sub(1);
        if state
            .revocation
            .revoke_user_tokens_before(user, cutoff)
            .await
            .is_err()
        {
            tracing::warn!("revocation cache unavailable: user cut-off kept durably only");
        }
    }
}

/// Now, from the server clock.
fn now(state: &AppState) -> OffsetDateTime {
    state.clock.now()
}
