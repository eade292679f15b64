//! HTTP Message Signatures (RFC 9421) with `ed25519`, and `Content-Digest` (RFC 9530,
//! `sha-256`): the proof of possession that binds an agent's credentials to a key only its
//! device holds (SPEC 17).
//!
//! - [`base`]: the signature base of RFC 9421 section 2.5 over component values the caller
//!   derived, and the `@signature-params` of a signature: the general layer, checked
//!   against the RFC's appendix B test vectors.
//! - [`digest`]: `Content-Digest: sha-256=:…:` of a body, and its check.
//! - [`keys`]: the device's Ed25519 key pair ([`DeviceSigningKey`], [`DevicePublicKey`]).
//! - [`profile`]: Breeze's strict request profile. A request signs `@method`,
//!   `@target-uri` and, when it has a body, `content-digest`, with `created`, `nonce`,
//!   `keyid` and `alg="ed25519"`; a verifier accepts exactly that, within a time window,
//!   and hands the nonce back for its replay cache.
//!
//! Structured fields are parsed and serialized by the `sfv` crate (RFC 8941 / 9651).
//!
//! ```
//! use breeze_crypto::httpsig::{DeviceSigningKey, profile::{self, RequestParts, SignOptions, VerifyPolicy}};
//!
//! let key = DeviceSigningKey::generate()?;
//! let body = br#"{"status":"ok","agentVersion":"1.0.0"}"#;
//! let uri = "https://rmm.example.com/api/v1/agents/agt_1/heartbeat";
//! let signed = profile::sign_request(
//!     &key,
//!     &RequestParts { method: "POST", target_uri: uri, body },
//!     &SignOptions::new("agt_1", 1_700_000_000)?,
//! )?;
//! let headers = signed.as_received();
//! let ok = profile::verify_request(
//!     &key.public_key(),
//!     &RequestParts { method: "POST", target_uri: uri, body },
//!     &headers,
//!     &VerifyPolicy::new(profile::REQUEST_LABEL, "agt_1", 1_700_000_010),
//! )?;
//! assert_eq!(ok.created, 1_700_000_000);
//! # Ok::<(), breeze_crypto::httpsig::SignatureError>(())
//! ```

pub mod base;
pub mod digest;
pub mod keys;
pub mod profile;

pub use keys::{DevicePublicKey, DeviceSigningKey};

/// Why a signature, digest or key was refused. Nothing of the key or the signature is
/// echoed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `Signature-Input` or `Signature` field.
    #[error("the request is not signed")]
    Missing,
    /// A field is not a valid structured field of the expected shape.
    #[error("malformed signature field: {0}")]
    Malformed(&'static str),
    /// The expected signature label is not in both fields.
    #[error("no signature with the expected label")]
    LabelMissing,
    /// The covered components are not the profile's.
    #[error("the signature does not cover exactly the required components")]
    Components,
    /// A required parameter is missing, or one the profile does not know is present.
    #[error("signature parameters refused: {0}")]
    Params(&'static str),
    /// `alg` names another algorithm than `ed25519`.
    #[error("unsupported signature algorithm")]
    Algorithm,
    /// `keyid` is not the expected key.
    #[error("the signature names another key")]
    KeyId,
    /// `created` is older than the window, or `expires` has passed.
    #[error("the signature has expired")]
    Expired,
    /// `created` is later than the allowed clock skew.
    #[error("the signature was created in the future")]
    FromFuture,
    /// `nonce` is not a string of the allowed length and characters.
    #[error("the signature nonce is malformed")]
    Nonce,
    /// A body is present but its digest is not covered, or the field is missing.
    #[error("the request body has no content digest")]
    DigestMissing,
    /// The `Content-Digest` field does not match the body.
    #[error("the content digest does not match the body")]
    DigestMismatch,
    /// The signature does not verify with the key.
    #[error("the signature does not verify")]
    Invalid,
    /// The public key is not a valid, strong Ed25519 point in base64url.
    #[error("invalid public key")]
    PublicKey,
    /// The private key material is not a 32-byte seed in base64url.
    #[error("invalid private key")]
    PrivateKey,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

impl SignatureError {
    /// A stable machine code (API error codes and audit details).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Missing => "signature_missing",
            Self::Malformed(_) => "signature_malformed",
            Self::LabelMissing => "signature_label_missing",
            Self::Components => "signature_components",
            Self::Params(_) => "signature_params",
            Self::Algorithm => "signature_algorithm",
            Self::KeyId => "signature_keyid",
            Self::Expired => "signature_expired",
            Self::FromFuture => "signature_from_future",
            Self::Nonce => "signature_nonce",
            Self::DigestMissing => "content_digest_missing",
            Self::DigestMismatch => "content_digest_mismatch",
            Self::Invalid => "signature_invalid",
            Self::PublicKey => "public_key_invalid",
            Self::PrivateKey => "private_key_invalid",
            Self::Random => "random_unavailable",
        }
    }
}
