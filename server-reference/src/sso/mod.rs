//! SSO with OpenID Connect (SPEC 16), the server's side. Every check of what a provider
//! sends is `breeze_crypto::oidc`'s; this module fetches, caches and stores.
//!
//! | module | holds |
//! |---|---|
//! | [`documents`] | the provider's discovery document and key set, fetched through the SSRF-guarded client and cached per provider (10 minutes; an unknown `kid` re-reads the key set at most every 30 s: key rotation); the token request |
//! | [`providers`] | provider configuration (`sso:admin`): create, list, read, change, delete; the client secret sealed (`enc:v3`, covered by `secrets rekey`) and never answered; JIT membership checked against the escalation guards of user creation; every change audited |
//! | [`identity`] | who a verified ID token is: a linked subject, else a user matched by verified e-mail inside the provider's tenant, else a user created just in time |
//!
//! The browser flow (start, callback, MFA completion) is `http/routes/auth/sso.rs`, next to
//! the session helpers it issues Breeze tokens with.

pub mod documents;
pub mod identity;
pub mod providers;

use std::sync::Arc;

use breeze_core::ssrf::{GuardedClient, SsrfError, SsrfPolicy};
use breeze_crypto::oidc::{EndpointRule, StateKey};
use secrecy::ExposeSecret;

use crate::config::ServerConfig;

/// The cookie that binds a login's `state` to the browser (HttpOnly, `SameSite=Lax` so the
/// provider's redirect back carries it, scoped to the SSO routes, 10 minutes).
pub const STATE_COOKIE: &str = "breeze_sso_state";
/// The cookie carrying the MFA challenge of an SSO login that still needs Breeze's TOTP
/// (HttpOnly, `SameSite=Strict`, scoped to the SSO routes, 5 minutes).
pub const MFA_COOKIE: &str = "breeze_sso_mfa";
/// The path both cookies are scoped to.
pub const COOKIE_PATH: &str = "/api/v1/auth/sso";
/// Lifetime of a login in flight (SPEC 16: 10 minutes).
pub const LOGIN_TTL_SECS: i64 = 10 * 60;

/// The SSO side of one replica.
pub struct Sso {
    /// The guarded client every provider request goes through.
    pub client: GuardedClient,
    /// Which provider URLs are allowed.
    pub rule: EndpointRule,
    /// The key of the state cookie.
    pub state_key: StateKey,
    /// Provider documents.
    pub documents: documents::DocumentCache,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

/// Why the SSO side could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SsoSetupError {
    /// `BREEZE_SSO_CA_FILE` cannot be read or the client cannot be built.
    #[error("the SSO client cannot be built: {0}")]
    Client(String),
    /// The state key cannot be derived.
    #[error("the SSO state key cannot be derived")]
    StateKey,
}

impl Sso {
    /// Builds the client and keys from the configuration. The state cookie's key is derived
    /// from the active JWT signing secret (rolling that key invalidates logins in flight,
    /// which last 10 minutes).
    ///
    /// # Errors
    /// [`SsoSetupError`].
    pub fn build(config: &ServerConfig) -> Result<Arc<Self>, SsoSetupError> {
        let sso = &config.sso;
        let mut policy = SsrfPolicy::new().max_redirects(0);
        let rule = if sso.allow_loopback {
            policy = policy
                .allow_entries(["127.0.0.0/8", "::1/128"])
                .map_err(|e| SsoSetupError::Client(e.to_string()))?
                .dangerous_allow_plain_http();
            EndpointRule::AllowLoopbackHttp
        } else {
            EndpointRule::HttpsOnly
        };
        let mut builder = GuardedClient::builder()
            .policy(policy)
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .user_agent("breeze-sso/1");
        if let Some(path) = &sso.ca_file {
            let pem = std::fs::read(path)
                .map_err(|_| SsoSetupError::Client("BREEZE_SSO_CA_FILE cannot be read".into()))?;
            builder = builder
                .add_root_certificates_pem(&pem)
                .map_err(|e: SsrfError| SsoSetupError::Client(e.to_string()))?;
        }
        let client = builder
            .build()
            .map_err(|e| SsoSetupError::Client(e.to_string()))?;
        let secret = config
            .jwt_keys
            .iter()
            .find(|k| k.id == config.jwt_active_kid)
            .map(|k| k.value.expose_secret().as_bytes().to_vec())
            .ok_or(SsoSetupError::StateKey)?;
        let state_key = StateKey::derive(&secret).map_err(|_| SsoSetupError::StateKey)?;
        Ok(Arc::new(Self {
            client,
            rule,
            state_key,
            documents: documents::DocumentCache::default(),
        }))
    }
}
