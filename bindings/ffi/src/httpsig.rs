//! HTTP Message Signatures (RFC 9421, `ed25519`) and `Content-Digest` (RFC 9530) in Breeze's
//! request profile (SPEC 17): the device key pair, what an agent signs and what a server
//! verifies. Keys are unpadded base64url of their 32 bytes (the private half is the RFC 8032
//! seed); times are unix seconds.

use std::fmt;

use breeze_crypto::httpsig::profile::{
    self, ReceivedHeaders, RequestParts, SignOptions, VerifyPolicy,
};
use breeze_crypto::httpsig::{DevicePublicKey, DeviceSigningKey, digest};
use breeze_crypto::secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{FfiResult, from_json};

/// A new device key pair: keep `seed` on the device only, register `publicKey`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedKey {
    /// The private key: the 32-byte seed in unpadded base64url (secret).
    pub seed: String,
    /// The public key in unpadded base64url (43 characters).
    pub public_key: String,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// The fields a signer adds to its request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedRequest {
    /// `Content-Digest` (`null` for a request without a body).
    pub content_digest: Option<String>,
    /// `Signature-Input`.
    pub signature_input: String,
    /// `Signature`.
    pub signature: String,
}

/// The signature fields of a received request, as a JSON object with any of
/// `contentDigest`, `signatureInput` and `signature` (absent or `null` when the request has
/// no such field; several field lines of one name joined with `, `). The output of
/// [`httpsig_sign`] has this shape.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureHeaders {
    /// `Content-Digest`.
    #[serde(default)]
    pub content_digest: Option<String>,
    /// `Signature-Input`.
    #[serde(default)]
    pub signature_input: Option<String>,
    /// `Signature`.
    #[serde(default)]
    pub signature: Option<String>,
}

/// A verified signature: `created` and the nonce, for the caller's replay cache (a nonce
/// must be remembered for `profile::NONCE_TTL_SECS` seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedRequest {
    /// `created`, unix seconds.
    pub created: i64,
    /// The signature's nonce.
    pub nonce: String,
}

/// A new Ed25519 key pair from the operating system's generator.
///
/// # Errors
/// `httpsig` family: `random_unavailable`.
pub fn httpsig_generate_key() -> FfiResult<GeneratedKey> {
    let key = DeviceSigningKey::generate()?;
    Ok(GeneratedKey {
        seed: key.to_base64url().expose_secret().to_owned(),
        public_key: key.public_key().to_base64url(),
    })
}

/// The public key of a seed, in unpadded base64url.
///
/// # Errors
/// `httpsig` family: `private_key_invalid` when the seed is not 32 bytes of base64url.
pub fn httpsig_public_key(seed: &str) -> FfiResult<String> {
    Ok(DeviceSigningKey::from_base64url(seed)?
        .public_key()
        .to_base64url())
}

/// The `Content-Digest` field value of `body`: `sha-256=:<base64>:`.
#[must_use]
pub fn httpsig_content_digest(body: &[u8]) -> String {
    digest::content_digest(body)
}

/// Signs a request as an agent does: `@method`, `@target-uri` and, when `body` is not empty,
/// `content-digest`, with `created`, `nonce` (random when `None`), `keyid` and
/// `alg="ed25519"`, label `sig1`.
///
/// # Errors
/// `httpsig` family: `private_key_invalid`, `random_unavailable`, `signature_malformed`
/// (a key id, nonce or component value that cannot be a structured-field string).
pub fn httpsig_sign(
    seed: &str,
    method: &str,
    target_uri: &str,
    body: &[u8],
    keyid: &str,
    created: i64,
    nonce: Option<&str>,
) -> FfiResult<SignedRequest> {
    let key = DeviceSigningKey::from_base64url(seed)?;
    let mut options = SignOptions::new(keyid, created)?;
    if let Some(nonce) = nonce {
        options = options.with_nonce(nonce);
    }
    let signed = profile::sign_request(
        &key,
        &RequestParts {
            method,
            target_uri,
            body,
        },
        &options,
    )?;
    Ok(SignedRequest {
        content_digest: signed.content_digest,
        signature_input: signed.signature_input,
        signature: signed.signature,
    })
}

/// Verifies signature `label` of a received request with `public_key`, as the server does
/// (SPEC 17: the profile's components and parameters, `keyid`, `created` within 300 s before
/// and 30 s after `now`, the nonce's form, the digest, the signature). `headers` is a
/// [`SignatureHeaders`] object. The caller checks the returned nonce was not seen before.
///
/// # Errors
/// `httpsig` family, the first failed check: `public_key_invalid`, `signature_missing`,
/// `signature_malformed`, `signature_label_missing`, `signature_components`,
/// `content_digest_missing`, `signature_params`, `signature_algorithm`, `signature_keyid`,
/// `signature_from_future`, `signature_expired`, `signature_nonce`,
/// `content_digest_mismatch`, `signature_invalid`; `invalid_input` for `headers` of
/// another shape.
#[allow(
    clippy::too_many_arguments,
    reason = "the request's parts, its fields and the policy, as the bindings take them"
)]
pub fn httpsig_verify(
    public_key: &str,
    method: &str,
    target_uri: &str,
    body: &[u8],
    headers: Value,
    label: &str,
    keyid: &str,
    now: i64,
) -> FfiResult<VerifiedRequest> {
    let key = DevicePublicKey::from_base64url(public_key)?;
    let headers: SignatureHeaders = from_json(headers, "signature headers")?;
    let verified = profile::verify_request(
        &key,
        &RequestParts {
            method,
            target_uri,
            body,
        },
        &ReceivedHeaders {
            content_digest: headers.content_digest.as_deref(),
            signature_input: headers.signature_input.as_deref(),
            signature: headers.signature.as_deref(),
        },
        &VerifyPolicy::new(label, keyid, now),
    )?;
    Ok(VerifiedRequest {
        created: verified.created,
        nonce: verified.nonce,
    })
}
