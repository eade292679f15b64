//! TOTP enrollment: setup (password step-up), confirm (first code), status.

use super::answers::{MfaConfirmAnswer, MfaSetupAnswer, MfaStatus};
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use breeze_core::audit::AuditResult;
use breeze_core::revocation::TotpStep;
use breeze_crypto::recovery::generate_codes;
use breeze_crypto::totp::{self, TotpSecret};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::step_up::step_up;
use super::{allow, append, check_password_field, no_store};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::{Authed, UserSession};
use crate::http::extract::{Json, Validate};
use crate::state::AppState;
use crate::store::auth as store;

fn session_of(authed: &Authed) -> Result<&UserSession, ApiError> {
    authed.session().ok_or(ApiError::Forbidden("users_only"))
}

/// `POST /auth/mfa/setup` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetupBody {
    password: String,
}

impl Validate for SetupBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        check_password_field(&mut issues, "password", &self.password);
        issues
    }
}

/// `POST /api/v1/auth/mfa/setup`: after a password step-up, stores a new pending secret
/// (encrypted, `mfa:v1`) and shows it once. MFA stays off until `/mfa/confirm`.
pub async fn setup(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<SetupBody>,
) -> Result<Response, ApiError> {
    let session = session_of(&authed)?;
    if session.user.mfa_enabled {
        return Err(ApiError::Conflict("mfa_already_enabled"));
    }
    let password = SecretString::from(body.password);
    let user = step_up(&state, &authed, session, &password).await?;
    let secret = TotpSecret::generate().map_err(ApiError::internal)?;
    let base32 = secret.to_base32();
    let envelope = state
        .mfa
        .encrypt(base32.expose_secret())
        .map_err(ApiError::internal)?;
    let uri = totp::otpauth_uri(&secret, &user.email).map_err(ApiError::internal)?;
    let mut tx = state.store.begin_system("mfa setup").await?;
    store::set_pending_secret(&mut tx, user.id, &envelope).await?;
    let ev = authed
        .event(&state, "auth.mfa.setup", AuditResult::Success)?
        .resource_type("user")
        .resource_id(user.id.to_string());
    append(&mut tx, user.org_id, ev).await?;
    tx.commit().await?;
    let mut response = axum::Json(MfaSetupAnswer {
        secret: base32.expose_secret().to_owned(),
        otpauth_uri: uri.expose_secret().to_owned(),
        issuer: totp::ISSUER,
    })
    .into_response();
    no_store(&mut response);
    Ok(response)
}

/// `POST /auth/mfa/confirm` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfirmBody {
    code: String,
}

impl Validate for ConfirmBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let digits: Vec<char> = self.code.chars().filter(|c| *c != ' ').collect();
        if self.code.len() <= 16
            && digits.len() == totp::DIGITS
            && digits.iter().all(char::is_ascii_digit)
        {
            Vec::new()
        } else {
            vec![FieldIssue::new("code", "must be 6 digits")]
        }
    }
}

fn wrong_code() -> ApiError {
    ApiError::invalid("body.code", "does not match")
}

/// `POST /api/v1/auth/mfa/confirm`: the first code must verify against the pending secret;
/// then MFA is switched on, the MFA epoch bumps (sessions re-login with the second factor)
/// and 10 recovery codes are answered once.
pub async fn confirm(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<ConfirmBody>,
) -> Result<Response, ApiError> {
    let session = session_of(&authed)?;
    let user = session.user.id;
    allow(&state.limiter.mfa_per_user(user).await)?;
    let mut tx = state.store.begin_system("mfa confirm lookup").await?;
    let mfa = store::mfa_state(&mut tx, user).await?;
    drop(tx);
    if mfa.enabled {
        return Err(ApiError::Conflict("mfa_already_enabled"));
    }
    let pending = mfa
        .pending_secret
        .ok_or(ApiError::Conflict("no_pending_enrollment"))?;
    let base32 = state.mfa.decrypt(&pending).map_err(ApiError::internal)?;
    let secret = TotpSecret::from_base32(base32.expose_secret()).map_err(ApiError::internal)?;
    let Ok(step) = totp::verify(&secret, &body.code, state.clock.unix()) else {
        let ev = authed
            .event(&state, "auth.mfa.enrolled", AuditResult::Failure)?
            .resource_type("user")
            .resource_id(user.to_string())
            .details(&json!({"reason": "bad_code"}));
        super::audit_alone(&state, session.user.org_id, ev).await?;
        return Err(wrong_code());
    };
    match state.revocation.accept_totp_step(user, step).await {
        TotpStep::Accepted => {}
        TotpStep::Replayed => return Err(wrong_code()),
        TotpStep::Unavailable => return Err(ApiError::Unavailable),
    }
    let step = i64::try_from(step).map_err(ApiError::internal)?;
    let codes = generate_codes().map_err(ApiError::internal)?;
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| c.peppered_hash(state.pepper.current()).to_hex())
        .collect();
    let mut tx = state.store.begin_system("mfa confirm").await?;
    store::enable_mfa(&mut tx, user, &pending, step, &hashes).await?;
    let ev = authed
        .event(&state, "auth.mfa.enrolled", AuditResult::Success)?
        .resource_type("user")
        .resource_id(user.to_string())
        .details(&json!({"recoveryCodes": hashes.len()}));
    append(&mut tx, session.user.org_id, ev).await?;
    tx.commit().await?;
    let shown: Vec<String> = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
    let mut response = axum::Json(MfaConfirmAnswer {
        mfa_enabled: true,
        recovery_codes: shown,
        relogin_required: true,
    })
    .into_response();
    no_store(&mut response);
    Ok(response)
}

/// `GET /api/v1/auth/mfa/status`.
pub async fn status(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Response, ApiError> {
    let session = session_of(&authed)?;
    let mut tx = authed.begin(&state).await?;
    let mfa = store::mfa_state(&mut tx, session.user.id).await?;
    drop(tx);
    Ok(axum::Json(MfaStatus::of(&mfa, session)).into_response())
}

/// Why a TOTP code was not accepted ([`verify_current_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// The user has no second factor enrolled.
    NotEnrolled,
    /// The code does not match the current window.
    BadCode,
    /// The code's step was already used (on any replica).
    Replayed,
}

impl CodeRefusal {
    /// A stable code for the audit log.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::NotEnrolled => "mfa_not_enrolled",
            Self::BadCode => "bad_code",
            Self::Replayed => "replayed_step",
        }
    }
}

/// Checks a TOTP code of an enrolled user now, for a step-up (SPEC 14 approvals):
/// rate-limited like an MFA login, and each time step usable once, across replicas (the
/// revocation store, then the stored last step, as a login's second factor).
///
/// # Errors
/// 429 from the limiter, 503 when the replay store is unreachable, a store failure; a
/// refused code is `Ok(Err(..))` for the caller to audit.
pub(crate) async fn verify_current_code(
    state: &AppState,
    user: breeze_core::tenancy::UserId,
    code: &str,
) -> Result<Result<(), CodeRefusal>, ApiError> {
    allow(&state.limiter.mfa_per_user(user).await)?;
    let mut tx = state.store.begin_system("step-up code lookup").await?;
    let mfa = store::mfa_state(&mut tx, user).await?;
    drop(tx);
    let Some(envelope) = mfa.secret.as_deref().filter(|_| mfa.enabled) else {
        return Ok(Err(CodeRefusal::NotEnrolled));
    };
    let base32 = state.mfa.decrypt(envelope).map_err(ApiError::internal)?;
    let secret = TotpSecret::from_base32(base32.expose_secret()).map_err(ApiError::internal)?;
    let Ok(step) = totp::verify(&secret, code, state.clock.unix()) else {
        return Ok(Err(CodeRefusal::BadCode));
    };
    match state.revocation.accept_totp_step(user, step).await {
        TotpStep::Accepted => {}
        TotpStep::Replayed => return Ok(Err(CodeRefusal::Replayed)),
        TotpStep::Unavailable => return Err(ApiError::Unavailable),
    }
    let step = i64::try_from(step).map_err(ApiError::internal)?;
    let mut tx = state.store.begin_system("step-up code").await?;
    if !store::advance_mfa_step(&mut tx, user, step).await? {
        return Ok(Err(CodeRefusal::Replayed));
    }
    tx.commit().await?;
    Ok(Ok(()))
}
