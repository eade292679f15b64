//! The configuration being validated.

use breeze_crypto::secrecy::SecretString;

/// Where the server runs: production turns secret weaknesses into errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Production: weak or placeholder secrets, wildcard CORS and open proxies refuse startup.
    Production,
    /// Development: the same findings are warnings.
    Development,
    /// Tests: like development.
    Test,
}

impl Environment {
    /// Whether this is production.
    #[must_use]
    pub const fn is_production(self) -> bool {
        matches!(self, Self::Production)
    }
}

/// A secret with a name (a key id, or what it is for); `Debug` never shows the value.
#[derive(Debug, Clone)]
pub struct NamedSecret {
    /// Key id or purpose (`k2025`, `enrollment`).
    pub name: String,
    /// The secret.
    pub value: SecretString,
}

impl NamedSecret {
    /// A named secret.
    #[must_use]
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: SecretString::from(value.to_owned()),
        }
    }
}

/// The security-relevant settings of a Breeze server.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// Production or not.
    pub environment: Environment,
    /// The at-rest encryption key ring (SPEC 4), by key id.
    pub app_encryption_keys: Vec<NamedSecret>,
    /// The key id new writes use (must be in the ring).
    pub active_encryption_key_id: Option<String>,
    /// The MFA (TOTP secret) encryption key; must differ from every app key.
    pub mfa_encryption_key: Option<SecretString>,
    /// The JWT key ring (SPEC 2.2), by `kid`.
    pub jwt_secrets: Vec<NamedSecret>,
    /// The `kid` tokens are signed with (must be in the ring).
    pub active_jwt_kid: Option<String>,
    /// The legacy secret for tokens without `kid`, if still accepted.
    pub jwt_legacy_secret: Option<SecretString>,
    /// Peppers (enrollment keys, recovery codes), by purpose.
    pub peppers: Vec<NamedSecret>,
    /// Allowed CORS origins (`https://app.example.com`).
    pub cors_origins: Vec<String>,
    /// Proxy networks whose forwarded headers are trusted.
    pub trusted_proxies: Vec<String>,
    /// The Redis URL, when replicas share rate limits and revocation.
    pub redis_url: Option<SecretString>,
    /// The bearer token of the metrics endpoint.
    pub metrics_token: Option<SecretString>,
    /// Metrics tokens accepted beside it during a roll (`next`, `previous`).
    pub metrics_tokens_accepted: Vec<NamedSecret>,
    /// Networks outbound webhooks may reach despite the SSRF guard.
    pub ssrf_allow_list: Vec<String>,
}

impl SecurityConfig {
    /// An empty configuration for `environment`.
    #[must_use]
    pub const fn new(environment: Environment) -> Self {
        Self {
            environment,
            app_encryption_keys: Vec::new(),
            active_encryption_key_id: None,
            mfa_encryption_key: None,
            jwt_secrets: Vec::new(),
            active_jwt_kid: None,
            jwt_legacy_secret: None,
            peppers: Vec::new(),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            redis_url: None,
            metrics_token: None,
            metrics_tokens_accepted: Vec::new(),
            ssrf_allow_list: Vec::new(),
        }
    }
}
