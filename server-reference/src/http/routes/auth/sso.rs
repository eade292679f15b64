//! The SSO browser flow (SPEC 16): start, callback, MFA completion.
//!
//! **Start** `GET /api/v1/auth/sso/{providerId}/start`: per-IP login limit; the provider
//! (enabled) and its documents; fresh `state`, `nonce` and PKCE verifier; the login stored
//! (state and nonce as SHA-256, the verifier sealed, 10 minutes); the state cookie
//! (HMAC of the state, HttpOnly, `SameSite=Lax`, path `/api/v1/auth/sso`); 303 to the
//! provider's authorization endpoint.
//!
//! **Callback** `GET /api/v1/auth/sso/callback`, checks in order, each refusal audited
//! (`auth.sso.login`, result `denied`, `details.reason`) and answered with a 303 to
//! `BREEZE_SSO_COMPLETE_PATH?sso=error&reason=<code>`:
//! 1. `state` present and the state cookie its HMAC (`state_invalid`: tampered, or another
//!    browser's login);
//! 2. the login consumed exactly once (`state_invalid` unknown, `state_replayed`,
//!    `state_expired`);
//! 3. the provider still enabled (`provider_disabled`);
//! 4. no `error` from the provider (`provider_error`), `iss` (when sent, RFC 9207) equal to
//!    the issuer (`issuer_mismatch`), a `code` (`code_missing`);
//! 5. the code exchanged with the verifier (`oidc_code_rejected`, ...);
//! 6. the ID token verified by `breeze_crypto::oidc` against the provider's keys (an unknown
//!    `kid` re-reads the key set once): its error code (`id_token_expired`,
//!    `id_token_wrong_audience`, `id_token_nonce_mismatch`, `id_token_unknown_key`, ...);
//! 7. the user: `crate::sso::identity` (`email_unverified`, `tenant_mismatch`, ...);
//! 8. MFA: the provider's when `amr` shows more than one factor; otherwise a user with
//!    Breeze TOTP gets a challenge in an HttpOnly cookie and `?sso=mfa`; otherwise the
//!    session is issued without MFA (the force-MFA gate then applies as after a password);
//! 9. the normal access/refresh pair: refresh and CSRF cookies, `?sso=ok`; the page gets
//!    its access token from `POST /api/v1/auth/refresh`.
//!
//! **MFA** `POST /api/v1/auth/sso/mfa` `{code}` with the MFA cookie: the same TOTP /
//! recovery-code check as `POST /auth/mfa/verify`.

use std::time::Instant;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breeze_core::audit::{Actor, AuditResult};
use breeze_core::tenancy::OrgId;
use breeze_crypto::credentials::{SessionToken, TokenHash};
use breeze_crypto::envelope::Field;
use breeze_crypto::oidc::pkce::PkceVerifier;
use breeze_crypto::oidc::{
    ExpectedNonce, IdTokenClaims, IdTokenPolicy, LoginSecrets, OidcError, authorization_url,
    token_request, verify_id_token,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    MFA_CHALLENGE_SECS, allow, append, cookie, event, now, open_session, session_cookies,
    user_actor, wait_floor,
};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::ClientMeta;
use crate::http::extract::{Json, Path, Query, Validate};
use crate::http::ip_allow;
use crate::sso::documents::{self, DocumentError};
use crate::sso::{COOKIE_PATH, LOGIN_TTL_SECS, MFA_COOKIE, STATE_COOKIE, identity};
use crate::state::AppState;
use crate::store::auth as auth_store;
use crate::store::principal;
use crate::store::sso::{self as store, ProviderRow};

/// Path of `start`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderPath {
    /// The provider.
    pub provider_id: Uuid,
}

/// The provider's redirect back (OIDC Core 3.1.2.5 / 3.1.2.6, RFC 9207). Other parameters
/// a provider adds are ignored.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent at start.
    pub state: Option<String>,
    /// The issuer (RFC 9207).
    pub iss: Option<String>,
    /// The provider's error code.
    pub error: Option<String>,
}

impl Validate for CallbackQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        for (name, value, max) in [
            ("code", &self.code, 4096),
            ("state", &self.state, 256),
            ("iss", &self.iss, 2048),
            ("error", &self.error, 256),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > max) {
                issues.push(FieldIssue::new(name, "is too long"));
            }
        }
        issues
    }
}

/// `POST /auth/sso/mfa` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoMfaBody {
    /// A TOTP code or a recovery code.
    code: String,
}

impl Validate for SsoMfaBody {
    fn validate(&self) -> Vec<FieldIssue> {
        if self.code.trim().is_empty() || self.code.len() > 32 {
            vec![FieldIssue::new("code", "is malformed")]
        } else {
            Vec::new()
        }
    }
}

fn verifier_field() -> Result<Field, ApiError> {
    Field::new("sso_login_attempts", "code_verifier").map_err(ApiError::internal)
}

fn secure(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    }
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text).map_err(|_| ApiError::internal("header value"))
}

fn see_other(location: &str, cookies: &[HeaderValue]) -> Result<Response, ApiError> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, header_value(location)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        headers.append(header::SET_COOKIE, c.clone());
    }
    Ok(response)
}

fn complete(state: &AppState, outcome: &str) -> String {
    format!("{}?sso={outcome}", state.config.sso.complete_path)
}

/// `GET /api/v1/auth/sso/{providerId}/start`.
pub async fn start(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    Path(p): Path<ProviderPath>,
) -> Result<Response, ApiError> {
    allow(&state.limiter.login_per_ip(client.key()).await)?;
    let redirect_uri = state
        .config
        .sso
        .redirect_uri()
        .ok_or(ApiError::Conflict("sso_not_configured"))?;
    let mut tx = state.store.begin_system("sso start").await?;
    let provider = store::get(&mut tx, p.provider_id)
        .await?
        .filter(|r| r.enabled)
        .ok_or(ApiError::NotFound)?;
    drop(tx);
    let docs = state
        .sso
        .documents
        .get(&state.sso, provider.id, &provider.issuer, now(&state))
        .await
        .map_err(|e| ApiError::Conflict(e.code()))?;
    let secrets = LoginSecrets::generate().map_err(ApiError::internal)?;
    let sealed = state
        .secrets
        .encrypt(secrets.verifier().expose(), &verifier_field()?)
        .map_err(ApiError::internal)?;
    let at = now(&state);
    let mut tx = state.store.begin_system("sso start").await?;
    store::insert_attempt(
        &mut tx,
        &store::NewAttempt {
            id: Uuid::new_v4(),
            provider_id: provider.id,
            state_hash: &TokenHash::of(secrets.state().as_bytes()).to_hex(),
            nonce_hash: &TokenHash::of(secrets.nonce().as_bytes()).to_hex(),
            code_verifier: &sealed,
            expires_at: at.saturating_add(time::Duration::seconds(LOGIN_TTL_SECS)),
        },
        at,
    )
    .await?;
    tx.commit().await?;
    let url = authorization_url(
        &docs.metadata.authorization_endpoint,
        &provider.client_id,
        &redirect_uri,
        &provider.scopes,
        &secrets,
    );
    let binding = state
        .sso
        .state_key
        .cookie_value(secrets.state())
        .map_err(ApiError::internal)?;
    let cookie = header_value(&format!(
        "{STATE_COOKIE}={binding}; Path={COOKIE_PATH}; Max-Age={LOGIN_TTL_SECS}; HttpOnly; SameSite=Lax{}",
        secure(&state)
    ))?;
    see_other(url.as_str(), &[cookie])
}

/// A refused callback: its reason, and the chain it is audited in once the provider is
/// known.
struct Refusal {
    reason: &'static str,
    provider: Option<ProviderRow>,
    user: Option<crate::store::sso::UserHome>,
}

impl Refusal {
    const fn early(reason: &'static str) -> Self {
        Self {
            reason,
            provider: None,
            user: None,
        }
    }
}

const UNBOUND_CALLBACK: crate::audit::failures::Failure = crate::audit::failures::Failure {
    action: "auth.sso.login",
    reason: "state_invalid",
    result: AuditResult::Denied,
    resource_type: "sso_provider",
    error_message: Some("sso login refused"),
};

/// `GET /api/v1/auth/sso/callback`.
pub async fn callback(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let cleared = header_value(&format!(
        "{STATE_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure(&state)
    ))?;
    let outcome = callback_inner(&state, &client, &headers, q).await;
    match outcome {
        Ok(mut response) => {
            response.headers_mut().append(header::SET_COOKIE, cleared);
            Ok(response)
        }
        Err(CallbackError::Api(e)) => Err(e),
        Err(CallbackError::Refused(r)) => {
            audit_refusal(&state, &client, &r).await?;
            // refusals after the token exchange are not faster than successes
            wait_floor(&state, start).await;
            let location = format!("{}&reason={}", complete(&state, "error"), r.reason);
            see_other(&location, &[cleared])
        }
    }
}

enum CallbackError {
    Api(ApiError),
    Refused(Box<Refusal>),
}

impl CallbackError {
    /// A refusal once the provider is known (audited in its chain).
    fn refused(
        reason: &'static str,
        provider: &ProviderRow,
        user: Option<crate::store::sso::UserHome>,
    ) -> Self {
        Self::Refused(Box::new(Refusal {
            reason,
            provider: Some(provider.clone()),
            user,
        }))
    }
}

impl From<ApiError> for CallbackError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<crate::store::StoreError> for CallbackError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Api(e.into())
    }
}

async fn audit_refusal(state: &AppState, client: &ClientMeta, r: &Refusal) -> Result<(), ApiError> {
    let Some(provider) = &r.provider else {
        // no provider known: unauthenticated noise, aggregated on the system chain
        if client.first_failure_in_window(state, UNBOUND_CALLBACK) {
            let ev = event(
                state,
                Actor::System,
                client,
                "auth.sso.login",
                AuditResult::Denied,
            )?
            .resource_type("sso_provider")
            .details(&json!({"reason": r.reason, "count": 1}))
            .error_message("sso login refused");
            super::audit_alone(state, None, ev).await?;
        }
        return Ok(());
    };
    let actor = r.user.as_ref().map_or(Actor::System, |u| user_actor(u.id));
    let chain: Option<OrgId> = provider
        .org_id
        .or_else(|| r.user.as_ref().and_then(|u| u.org_id));
    let ev = event(state, actor, client, "auth.sso.login", AuditResult::Denied)?
        .resource_type("sso_provider")
        .resource_id(provider.id.to_string())
        .details(&json!({"reason": r.reason, "providerId": provider.id, "issuer": provider.issuer}))
        .error_message("sso login refused");
    super::audit_alone(state, chain, ev).await
}

async fn callback_inner(
    state: &AppState,
    client: &ClientMeta,
    headers: &HeaderMap,
    q: CallbackQuery,
) -> Result<Response, CallbackError> {
    let refuse = |reason| CallbackError::Refused(Box::new(Refusal::early(reason)));
    let Some(state_value) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(refuse("state_invalid"));
    };
    let bound =
        cookie(headers, STATE_COOKIE).is_some_and(|c| state.sso.state_key.matches(state_value, c));
    if !bound {
        return Err(refuse("state_invalid"));
    }
    let at = now(state);
    let mut tx = state.store.begin_system("sso callback").await?;
    let attempt =
        store::consume_attempt(&mut tx, &TokenHash::of(state_value.as_bytes()).to_hex(), at)
            .await?;
    let Some(attempt) = attempt else {
        return Err(refuse("state_invalid"));
    };
    let provider = store::get(&mut tx, attempt.provider_id).await?;
    tx.commit().await.map_err(ApiError::from)?;
    let Some(provider) = provider else {
        return Err(refuse("provider_disabled"));
    };
    let refuse_at = |reason: &'static str, provider: &ProviderRow| {
        CallbackError::refused(reason, provider, None)
    };
    if attempt.consumed_at.is_some() {
        return Err(refuse_at("state_replayed", &provider));
    }
    if attempt.expires_at <= at {
        return Err(refuse_at("state_expired", &provider));
    }
    if !provider.enabled {
        return Err(refuse_at("provider_disabled", &provider));
    }
    if q.error.is_some() {
        return Err(refuse_at("provider_error", &provider));
    }
    if q.iss.as_deref().is_some_and(|iss| iss != provider.issuer) {
        return Err(refuse_at("issuer_mismatch", &provider));
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(refuse_at("code_missing", &provider));
    };
    let redirect_uri = state
        .config
        .sso
        .redirect_uri()
        .ok_or(ApiError::Conflict("sso_not_configured"))?;

    let doc_refusal = |e: DocumentError| refuse_at(e.code(), &provider);
    let docs = state
        .sso
        .documents
        .get(&state.sso, provider.id, &provider.issuer, at)
        .await
        .map_err(doc_refusal)?;
    let verifier_text = state
        .secrets
        .decrypt(&attempt.code_verifier, &verifier_field()?)
        .map_err(ApiError::internal)?;
    let verifier =
        PkceVerifier::from_stored(verifier_text.expose_secret()).map_err(ApiError::internal)?;
    let client_secret: SecretString = state
        .secrets
        .decrypt(
            &provider.client_secret,
            &crate::sso::providers::secret_field()?,
        )
        .map_err(ApiError::internal)?;
    let request = token_request(
        code,
        &redirect_uri,
        &verifier,
        &provider.client_id,
        &client_secret,
    );
    let tokens = documents::exchange(&state.sso, &docs.metadata, &request)
        .await
        .map_err(doc_refusal)?;

    let policy = IdTokenPolicy {
        issuer: provider.issuer.clone(),
        client_id: provider.client_id.clone(),
        algs: docs.metadata.id_token_algs.clone(),
    };
    let nonce = ExpectedNonce::Sha256Hex(&attempt.nonce_hash);
    let unix = at.unix_timestamp();
    let verified = match verify_id_token(&tokens.id_token, &docs.jwks, &policy, nonce, unix) {
        Err(OidcError::UnknownKey) => {
            // a key the cached set does not hold: the provider may have rotated
            match state
                .sso
                .documents
                .refresh_jwks(&state.sso, provider.id, &docs.metadata, at)
                .await
                .map_err(doc_refusal)?
            {
                Some(fresh) => verify_id_token(&tokens.id_token, &fresh, &policy, nonce, unix),
                None => Err(OidcError::UnknownKey),
            }
        }
        other => other,
    };
    let claims: IdTokenClaims = verified.map_err(|e| refuse_at(e.code(), &provider))?;
    finish(state, client, &provider, &claims).await
}

/// Steps 7 to 9: the user, MFA, the session.
async fn finish(
    state: &AppState,
    client: &ClientMeta,
    provider: &ProviderRow,
    claims: &IdTokenClaims,
) -> Result<Response, CallbackError> {
    let at = now(state);
    let mut tx = state.store.begin_system("sso login").await?;
    let resolved = identity::resolve(&mut tx, provider, claims, at).await?;
    let (user_id, how) = match resolved {
        Ok(found) => found,
        Err(reason) => {
            drop(tx);
            return Err(CallbackError::refused(reason, provider, None));
        }
    };
    let home = store::user_home(&mut tx, user_id).await?;
    let user = principal::user_by_id(&mut tx, user_id)
        .await?
        .filter(|u| u.active);
    let Some(user) = user else {
        drop(tx);
        return Err(CallbackError::refused("user_disabled", provider, home));
    };
    // SPEC 16: the partner's IP allow-list (audited `auth.ip_denied`; a user just created
    // is rolled back with the transaction)
    if !ip_allow::user_admitted(&user, client) {
        drop(tx);
        // audits the refusal; the browser then goes to the error page like any refusal
        match ip_allow::admit_user(state, client, &user, ip_allow::Stage::Sso).await {
            Ok(()) | Err(ApiError::Forbidden(_)) => {}
            Err(e) => return Err(e.into()),
        }
        return Err(CallbackError::Refused(Box::new(Refusal {
            reason: ip_allow::IP_NOT_ALLOWED,
            provider: Some(provider.clone()),
            user: home,
        })));
    }
    let chain = user.org_id.or(provider.org_id);
    if how == identity::How::Created {
        let ev = event(state, user_actor(user.id), client, "auth.sso.user_provisioned", AuditResult::Success)?
            .resource_id(user.id.to_string())
            .details(&json!({"providerId": provider.id, "email": user.email, "jit": provider.jit_membership}));
        append(&mut tx, chain, ev).await?;
    }
    let provider_mfa = claims.multi_factor();
    let details = |mfa: &str, session: Option<Uuid>| {
        json!({"providerId": provider.id, "issuer": provider.issuer, "matched": how.as_str(),
               "mfa": mfa, "amr": claims.amr, "sessionId": session})
    };
    let success = |details: &serde_json::Value| -> Result<_, ApiError> {
        Ok(event(
            state,
            user_actor(user.id),
            client,
            "auth.sso.login",
            AuditResult::Success,
        )?
        .resource_id(user.id.to_string())
        .details(details))
    };
    if !provider_mfa && user.mfa_enabled {
        let challenge = SessionToken::generate().map_err(ApiError::internal)?;
        let expires = at.saturating_add(time::Duration::seconds(MFA_CHALLENGE_SECS));
        auth_store::create_mfa_challenge(&mut tx, user.id, &challenge.hash().to_hex(), expires)
            .await?;
        append(
            &mut tx,
            chain,
            success(&details("breeze_totp_required", None))?,
        )
        .await?;
        tx.commit().await.map_err(ApiError::from)?;
        let cookie = header_value(&format!(
            "{MFA_COOKIE}={}; Path={COOKIE_PATH}; Max-Age={MFA_CHALLENGE_SECS}; HttpOnly; SameSite=Strict{}",
            challenge.expose_secret(),
            secure(state)
        ))?;
        return Ok(see_other(&complete(state, "mfa"), &[cookie])?);
    }
    let session = match open_session(state, &mut tx, &user, provider_mfa, client).await {
        Ok(s) => s,
        Err(ApiError::Unauthorized(_)) => {
            drop(tx);
            return Err(CallbackError::refused("no_access", provider, home));
        }
        Err(e) => return Err(e.into()),
    };
    let d = details(
        if provider_mfa { "provider" } else { "none" },
        session.access.claims.sid,
    );
    append(&mut tx, chain, success(&d)?).await?;
    tx.commit().await.map_err(ApiError::from)?;
    Ok(see_other(
        &complete(state, "ok"),
        &session_cookies(state, &session)?,
    )?)
}

/// `POST /api/v1/auth/sso/mfa`: completes an SSO login with Breeze's TOTP (or a recovery
/// code); the challenge travels in the HttpOnly MFA cookie, never in the page.
pub async fn mfa(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    headers: HeaderMap,
    Json(body): Json<SsoMfaBody>,
) -> Result<Response, ApiError> {
    let token = cookie(&headers, MFA_COOKIE)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized("invalid_mfa_token"))?
        .to_owned();
    let mut response = super::session::complete_mfa(&state, &client, &token, &body.code).await?;
    response.headers_mut().append(
        header::SET_COOKIE,
        header_value(&format!(
            "{MFA_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict{}",
            secure(&state)
        ))?,
    );
    Ok(response)
}
