//! OpenID Connect relying party rules (SPEC 16): what a login through a customer's identity
//! provider must check, with no I/O. The server fetches documents and keeps state; every
//! decision on what it fetched is made here.
//!
//! | module | holds |
//! |---|---|
//! | [`discovery`] | the provider's metadata document: exact issuer match, endpoint URL rule (HTTPS; plain HTTP only for loopback and only when allowed), PKCE S256 support |
//! | [`flow`] | one login's secrets (`state`, `nonce`, PKCE verifier), the HMAC cookie that binds `state` to the browser, the authorization URL, the token request |
//! | [`pkce`] | RFC 7636 verifier and S256 challenge |
//! | [`jwks`] | the provider's JSON Web Key Set: RSA (>= 2048 bits), EC P-256 / P-384, Ed25519 public keys; key selection by `kid` and algorithm |
//! | [`id_token`] | ID-token verification in a fixed order (size, shape, algorithm allow-list, key, signature, issuer, audience and `azp`, expiry, issue time, nonce, subject), verified e-mail, the `amr` rule for multi-factor |
//! | [`token_response`] | the token endpoint's answer |
//!
//! Signatures are verified with `ring` (public-key operations only: no RSA private-key code
//! is linked, see the workspace's `rsa` ban); the module is behind the `oidc` feature so the
//! `wasm32` builds of the library keep no C dependency.

pub mod discovery;
pub mod flow;
pub mod id_token;
pub mod jwks;
pub mod pkce;
pub mod token_response;

pub use discovery::{EndpointRule, ProviderMetadata};
pub use flow::{LoginSecrets, StateKey, TokenRequest, authorization_url, token_request};
pub use id_token::{
    ExpectedNonce, IdTokenClaims, IdTokenPolicy, amr_is_multi_factor, verify_id_token,
};
pub use jwks::{Jwks, SignatureAlg};
pub use token_response::TokenResponse;

/// Largest ID token accepted (bytes of the compact form).
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;
/// Largest discovery document, JWKS or token response accepted (bytes).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Clock tolerance for `exp` and `iat` (seconds).
pub const CLOCK_LEEWAY_SECS: i64 = 60;

/// Why an OIDC step was refused. Each variant has a stable [`OidcError::code`], which the
/// server audits and answers; no variant carries a token, a secret or a claim value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The discovery document is not usable.
    #[error("the provider's discovery document is invalid: {0}")]
    Discovery(&'static str),
    /// The discovery document names another issuer than the configured one.
    #[error("the provider's discovery document names another issuer")]
    IssuerMismatch,
    /// An issuer or endpoint URL is not HTTPS (or loopback HTTP where allowed).
    #[error("an issuer or endpoint URL is not allowed: {0}")]
    InsecureUrl(&'static str),
    /// The provider does not support PKCE with S256.
    #[error("the provider does not support PKCE with S256")]
    PkceUnsupported,
    /// The JWKS document is not usable.
    #[error("the provider's key set is invalid: {0}")]
    Jwks(&'static str),
    /// The token endpoint's answer is not usable.
    #[error("the token endpoint's answer is invalid: {0}")]
    TokenResponse(&'static str),
    /// The ID token is not a well-formed signed JWT.
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    /// The ID token's algorithm is not allowed (`none`, `HS*`, or not in the allow-list).
    #[error("the ID token's signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// No key of the provider's set matches the token's `kid` and algorithm.
    #[error("the ID token is signed by a key the provider does not publish")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the ID token's signature does not verify")]
    BadSignature,
    /// `iss` is not the provider's issuer.
    #[error("the ID token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not contain the client id, or `azp` names another client.
    #[error("the ID token is meant for another client")]
    WrongAudience,
    /// `exp` has passed.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("the ID token is not valid yet")]
    NotYetValid,
    /// `nonce` is missing or not this login's.
    #[error("the ID token's nonce is not this login's")]
    NonceMismatch,
    /// `sub` is missing or empty.
    #[error("the ID token has no subject")]
    MissingSubject,
    /// A URL could not be built.
    #[error("a URL is invalid")]
    InvalidUrl,
    /// A login's stored state (verifier, nonce) is not usable.
    #[error("the login's stored state is invalid: {0}")]
    State(&'static str),
    /// The operating system's random generator failed.
    #[error("the random generator failed")]
    Random,
}

impl OidcError {
    /// Stable, machine-readable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Discovery(_) => "oidc_discovery_invalid",
            Self::IssuerMismatch => "oidc_issuer_mismatch",
            Self::InsecureUrl(_) => "oidc_url_not_allowed",
            Self::PkceUnsupported => "oidc_pkce_unsupported",
            Self::Jwks(_) => "oidc_jwks_invalid",
            Self::TokenResponse(_) => "oidc_token_response_invalid",
            Self::Malformed(_) => "id_token_malformed",
            Self::AlgorithmNotAllowed => "id_token_alg_not_allowed",
            Self::UnknownKey => "id_token_unknown_key",
            Self::BadSignature => "id_token_bad_signature",
            Self::WrongIssuer => "id_token_wrong_issuer",
            Self::WrongAudience => "id_token_wrong_audience",
            Self::Expired => "id_token_expired",
            Self::NotYetValid => "id_token_not_yet_valid",
            Self::NonceMismatch => "id_token_nonce_mismatch",
            Self::MissingSubject => "id_token_missing_subject",
            Self::InvalidUrl => "oidc_url_invalid",
            Self::State(_) => "oidc_state_invalid",
            Self::Random => "rng_failed",
        }
    }
}

/// Base64url without padding, as JOSE uses it.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .ok()
}

/// Base64url without padding.
pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
