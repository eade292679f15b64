//! Breeze's request profile of RFC 9421 (SPEC 17): what an agent signs and what the server
//! accepts, nothing more.
//!
//! A signature covers `@method`, `@target-uri` and, when the request has a body,
//! `content-digest` (RFC 9530, `sha-256`), in any order and nothing else; its parameters are
//! `created` and `nonce` and `keyid` (required), `alg` (if present, `ed25519`) and `expires`
//! (if present, in the future); no others. The verifier's order of checks:
//!
//! 1. both fields present; the label's member in each;
//! 2. the covered components; a body without a covered digest is refused;
//! 3. the parameters: known names only, required ones present, `alg`, `keyid`;
//! 4. time: `created` no later than `now + max_skew`, no older than `now - max_age`,
//!    `expires` (if any) after `now`;
//! 5. the nonce's form (the caller checks it was not seen before, after the signature
//!    verifies: only a verified request may take a place in the replay cache);
//! 6. the `Content-Digest` field against the body;
//! 7. the Ed25519 signature over the signature base.

use super::SignatureError;
use super::base::{self, SignatureParams};
use super::digest;
use super::keys::{DevicePublicKey, DeviceSigningKey};

/// The label of a request's signature by the device's key.
pub const REQUEST_LABEL: &str = "sig1";
/// The label of the second signature of a key rotation, made with the new key.
pub const NEW_KEY_LABEL: &str = "sig2";
/// The `alg` parameter value.
pub const ALGORITHM: &str = "ed25519";
/// Oldest accepted `created`, seconds before now (SPEC 17: 5 minutes).
pub const MAX_AGE_SECS: i64 = 300;
/// Latest accepted `created`, seconds after now (clock skew).
pub const MAX_SKEW_SECS: i64 = 30;
/// Shortest accepted nonce.
pub const NONCE_MIN_LEN: usize = 16;
/// Longest accepted nonce.
pub const NONCE_MAX_LEN: usize = 128;
/// How long a verifier must remember a nonce: every `created` it would still accept.
pub const NONCE_TTL_SECS: i64 = MAX_AGE_SECS + MAX_SKEW_SECS;

const METHOD: &str = "@method";
const TARGET_URI: &str = "@target-uri";
const CONTENT_DIGEST: &str = "content-digest";
const KNOWN_PARAMS: [&str; 5] = ["created", "expires", "nonce", "keyid", "alg"];

/// The parts of a request a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, as sent (`POST`).
    pub method: &'a str,
    /// The full target URI (`https://host[:port]/path?query`).
    pub target_uri: &'a str,
    /// The body bytes (empty for none).
    pub body: &'a [u8],
}

/// How to sign: the label, the key id, `created` and the nonce.
#[derive(Debug, Clone)]
pub struct SignOptions {
    label: String,
    keyid: String,
    created: i64,
    nonce: String,
}

impl SignOptions {
    /// Options for key `keyid` at `created` (Unix seconds), label [`REQUEST_LABEL`] and a
    /// fresh random nonce (24 bytes, base64url).
    ///
    /// # Errors
    /// [`SignatureError::Random`] when the generator fails.
    pub fn new(keyid: &str, created: i64) -> Result<Self, SignatureError> {
        use base64::Engine as _;
        let raw = crate::random::bytes::<24>().map_err(|_| SignatureError::Random)?;
        Ok(Self {
            label: REQUEST_LABEL.to_owned(),
            keyid: keyid.to_owned(),
            created,
            nonce: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref()),
        })
    }

    /// The same options with another nonce (test vectors).
    #[must_use]
    pub fn with_nonce(mut self, nonce: &str) -> Self {
        nonce.clone_into(&mut self.nonce);
        self
    }

    /// The same options with another label ([`NEW_KEY_LABEL`] for a rotation's second
    /// signature).
    #[must_use]
    pub fn with_label(mut self, label: &str) -> Self {
        label.clone_into(&mut self.label);
        self
    }

    /// The nonce.
    #[must_use]
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
}

/// `Content-Digest` (RFC 9530), as a lowercase field name.
pub const CONTENT_DIGEST_FIELD: &str = "content-digest";
/// `Signature-Input` (RFC 9421), as a lowercase field name.
pub const SIGNATURE_INPUT_FIELD: &str = "signature-input";
/// `Signature` (RFC 9421), as a lowercase field name.
pub const SIGNATURE_FIELD: &str = "signature";

/// The fields a signer adds to its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Content-Digest`, when the request has a body.
    pub content_digest: Option<String>,
    /// `Signature-Input` (one member).
    pub signature_input: String,
    /// `Signature` (one member).
    pub signature: String,
}

impl SignedHeaders {
    /// The fields as (lowercase name, value) pairs to add to the request:
    /// `content-digest` (when there is a body), `signature-input`, `signature`.
    #[must_use]
    pub fn into_fields(self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(3);
        if let Some(digest) = self.content_digest {
            out.push((CONTENT_DIGEST_FIELD, digest));
        }
        out.push((SIGNATURE_INPUT_FIELD, self.signature_input));
        out.push((SIGNATURE_FIELD, self.signature));
        out
    }

    /// These fields as a verifier receives them.
    #[must_use]
    pub fn as_received(&self) -> ReceivedHeaders<'_> {
        ReceivedHeaders {
            content_digest: self.content_digest.as_deref(),
            signature_input: Some(&self.signature_input),
            signature: Some(&self.signature),
        }
    }
}

/// The signature fields of a received request (several field lines of one name joined
/// with `, `, as RFC 9110 combines them).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceivedHeaders<'a> {
    /// `Content-Digest`.
    pub content_digest: Option<&'a str>,
    /// `Signature-Input`.
    pub signature_input: Option<&'a str>,
    /// `Signature`.
    pub signature: Option<&'a str>,
}

/// What a verifier accepts.
#[derive(Debug, Clone, Copy)]
pub struct VerifyPolicy<'a> {
    /// The label to verify.
    pub label: &'a str,
    /// The `keyid` the signature must name.
    pub keyid: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
    /// Oldest accepted `created`, seconds before `now`.
    pub max_age: i64,
    /// Latest accepted `created`, seconds after `now`.
    pub max_skew: i64,
}

impl<'a> VerifyPolicy<'a> {
    /// The SPEC 17 window ([`MAX_AGE_SECS`], [`MAX_SKEW_SECS`]).
    #[must_use]
    pub const fn new(label: &'a str, keyid: &'a str, now: i64) -> Self {
        Self {
            label,
            keyid,
            now,
            max_age: MAX_AGE_SECS,
            max_skew: MAX_SKEW_SECS,
        }
    }
}

/// A verified signature's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `created`, Unix seconds.
    pub created: i64,
    /// The nonce, for the caller's replay cache.
    pub nonce: String,
}

fn component_value<'v>(
    parts: &RequestParts<'v>,
    digest: Option<&'v str>,
    id: &str,
) -> Option<&'v str> {
    match id {
        METHOD => Some(parts.method),
        TARGET_URI => Some(parts.target_uri),
        CONTENT_DIGEST => digest,
        _ => None,
    }
}

/// Signs a request with `key`.
///
/// # Errors
/// [`SignatureError::Malformed`] when the label, key id, nonce or a component value cannot
/// be encoded.
pub fn sign_request(
    key: &DeviceSigningKey,
    parts: &RequestParts<'_>,
    options: &SignOptions,
) -> Result<SignedHeaders, SignatureError> {
    let content_digest = (!parts.body.is_empty()).then(|| digest::content_digest(parts.body));
    let components: &[&str] = if content_digest.is_some() {
        &[METHOD, TARGET_URI, CONTENT_DIGEST]
    } else {
        &[METHOD, TARGET_URI]
    };
    let params = SignatureParams::new(components)?
        .integer("created", options.created)?
        .string("nonce", &options.nonce)?
        .string("keyid", &options.keyid)?
        .string("alg", ALGORITHM)?;
    let base = base::signature_base(&params, |id| {
        component_value(parts, content_digest.as_deref(), id)
    })?;
    let signature = key.sign(base.as_bytes());
    Ok(SignedHeaders {
        signature_input: base::signature_input_member(&options.label, &params)?,
        signature: base::signature_member(&options.label, &signature)?,
        content_digest,
    })
}

fn check_components(params: &SignatureParams, body: &[u8]) -> Result<bool, SignatureError> {
    let ids = params.components()?;
    let has = |c: &str| ids.iter().filter(|i| **i == c).count() == 1;
    let digest = ids.contains(&CONTENT_DIGEST);
    let expected = if digest { 3 } else { 2 };
    if ids.len() != expected || !has(METHOD) || !has(TARGET_URI) || (digest && !has(CONTENT_DIGEST))
    {
        return Err(SignatureError::Components);
    }
    if !body.is_empty() && !digest {
        return Err(SignatureError::DigestMissing);
    }
    Ok(digest)
}

fn check_params<'p>(
    params: &'p SignatureParams,
    policy: &VerifyPolicy<'_>,
) -> Result<(i64, &'p str), SignatureError> {
    if params.names().any(|n| !KNOWN_PARAMS.contains(&n)) {
        return Err(SignatureError::Params("unknown parameter"));
    }
    let created = params
        .get_integer("created")
        .ok_or(SignatureError::Params("created"))?;
    let nonce = params
        .get_string("nonce")
        .ok_or(SignatureError::Params("nonce"))?;
    let keyid = params
        .get_string("keyid")
        .ok_or(SignatureError::Params("keyid"))?;
    if params.has("alg") && params.get_string("alg") != Some(ALGORITHM) {
        return Err(SignatureError::Algorithm);
    }
    if params.has("expires") && params.get_integer("expires").is_none() {
        return Err(SignatureError::Params("expires"));
    }
    if !crate::ct::constant_time_eq(keyid.as_bytes(), policy.keyid.as_bytes()) {
        return Err(SignatureError::KeyId);
    }
    if created > policy.now.saturating_add(policy.max_skew) {
        return Err(SignatureError::FromFuture);
    }
    if created < policy.now.saturating_sub(policy.max_age)
        || params
            .get_integer("expires")
            .is_some_and(|e| e <= policy.now)
    {
        return Err(SignatureError::Expired);
    }
    let nonce_ok = (NONCE_MIN_LEN..=NONCE_MAX_LEN).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b));
    if !nonce_ok {
        return Err(SignatureError::Nonce);
    }
    Ok((created, nonce))
}

/// Verifies signature `policy.label` of a received request with `key` (see the module docs
/// for the order of checks).
///
/// # Errors
/// The [`SignatureError`] of the first failed check.
pub fn verify_request(
    key: &DevicePublicKey,
    parts: &RequestParts<'_>,
    headers: &ReceivedHeaders<'_>,
    policy: &VerifyPolicy<'_>,
) -> Result<Verified, SignatureError> {
    let (Some(input), Some(signature)) = (headers.signature_input, headers.signature) else {
        return Err(SignatureError::Missing);
    };
    let params = base::parse_signature_input(input, policy.label)?;
    let signature = base::parse_signature(signature, policy.label)?;
    let covers_digest = check_components(&params, parts.body)?;
    let (created, nonce) = check_params(&params, policy)?;
    let digest = if covers_digest {
        let field = headers
            .content_digest
            .ok_or(SignatureError::DigestMissing)?;
        digest::check(field, parts.body)?;
        Some(field)
    } else {
        None
    };
    let base = base::signature_base(&params, |id| component_value(parts, digest, id))?;
    key.verify(base.as_bytes(), &signature)?;
    Ok(Verified {
        created,
        nonce: nonce.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    const URI: &str = "https://rmm.example.com/api/v1/agents/agt_1/heartbeat";
    const NOW: i64 = 1_700_000_000;

    fn parts(body: &[u8]) -> RequestParts<'_> {
        RequestParts {
            method: "POST",
            target_uri: URI,
            body,
        }
    }

    fn policy() -> VerifyPolicy<'static> {
        VerifyPolicy::new(REQUEST_LABEL, "agt_1", NOW)
    }

    #[test]
    fn signs_and_verifies_with_and_without_a_body() {
        let key = DeviceSigningKey::generate().unwrap();
        for body in [&b"{}"[..], b""] {
            let signed =
                sign_request(&key, &parts(body), &SignOptions::new("agt_1", NOW).unwrap()).unwrap();
            assert_eq!(signed.content_digest.is_some(), !body.is_empty());
            let ok = verify_request(
                &key.public_key(),
                &parts(body),
                &signed.as_received(),
                &policy(),
            )
            .unwrap();
            assert_eq!(ok.created, NOW);
        }
    }

    #[test]
    fn refuses_each_alteration_with_its_reason() {
        let key = DeviceSigningKey::generate().unwrap();
        let other = DeviceSigningKey::generate().unwrap();
        let body = b"{\"a\":1}";
        let signed =
            sign_request(&key, &parts(body), &SignOptions::new("agt_1", NOW).unwrap()).unwrap();
        let h = signed.as_received();
        let pk = key.public_key();
        let check = |p: RequestParts<'_>, h: ReceivedHeaders<'_>, pol: VerifyPolicy<'_>| {
            verify_request(&pk, &p, &h, &pol).map(|_| ())
        };
        // another body (digest field kept), path, method
        assert_eq!(
            check(parts(b"{\"a\":2}"), h, policy()),
            Err(SignatureError::DigestMismatch)
        );
        let other_path = RequestParts {
            target_uri: "https://rmm.example.com/api/v1/agents/agt_1/commands/x/result",
            ..parts(body)
        };
        assert_eq!(check(other_path, h, policy()), Err(SignatureError::Invalid));
        let other_method = RequestParts {
            method: "PUT",
            ..parts(body)
        };
        assert_eq!(
            check(other_method, h, policy()),
            Err(SignatureError::Invalid)
        );
        // another key
        assert_eq!(
            verify_request(&other.public_key(), &parts(body), &h, &policy()).map(|_| ()),
            Err(SignatureError::Invalid)
        );
        // time window and key id
        assert_eq!(
            check(
                parts(body),
                h,
                VerifyPolicy::new(REQUEST_LABEL, "agt_1", NOW + 301)
            ),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            check(
                parts(body),
                h,
                VerifyPolicy::new(REQUEST_LABEL, "agt_1", NOW - 31)
            ),
            Err(SignatureError::FromFuture)
        );
        assert_eq!(
            check(
                parts(body),
                h,
                VerifyPolicy::new(REQUEST_LABEL, "agt_2", NOW)
            ),
            Err(SignatureError::KeyId)
        );
        assert_eq!(
            check(parts(body), h, VerifyPolicy::new("sig9", "agt_1", NOW)),
            Err(SignatureError::LabelMissing)
        );
        // missing pieces
        assert_eq!(
            check(
                parts(body),
                ReceivedHeaders {
                    signature: None,
                    ..h
                },
                policy()
            ),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(
                parts(body),
                ReceivedHeaders {
                    content_digest: None,
                    ..h
                },
                policy()
            ),
            Err(SignatureError::DigestMissing)
        );
        // a bodyless signature replayed with a body
        let bare =
            sign_request(&key, &parts(b""), &SignOptions::new("agt_1", NOW).unwrap()).unwrap();
        assert_eq!(
            check(parts(body), bare.as_received(), policy()),
            Err(SignatureError::DigestMissing)
        );
    }

    #[test]
    fn refuses_other_profiles() {
        let key = DeviceSigningKey::generate().unwrap();
        let pk = key.public_key();
        let sig = base::signature_member(REQUEST_LABEL, &[0u8; 64]).unwrap();
        let cases = [
            (
                r#"sig1=("@method");created=1700000000;nonce="abcdefghijklmnop";keyid="agt_1""#,
                SignatureError::Components,
            ),
            (
                r#"sig1=("@method" "@target-uri" "@path");created=1700000000;nonce="abcdefghijklmnop";keyid="agt_1""#,
                SignatureError::Components,
            ),
            (
                r#"sig1=("@method" "@method");created=1700000000;nonce="abcdefghijklmnop";keyid="agt_1""#,
                SignatureError::Components,
            ),
            (
                r#"sig1=("@method" "@target-uri");nonce="abcdefghijklmnop";keyid="agt_1""#,
                SignatureError::Params("created"),
            ),
            (
                r#"sig1=("@method" "@target-uri");created=1700000000;keyid="agt_1""#,
                SignatureError::Params("nonce"),
            ),
            (
                r#"sig1=("@method" "@target-uri");created=1700000000;nonce="abcdefghijklmnop""#,
                SignatureError::Params("keyid"),
            ),
            (
                r#"sig1=("@method" "@target-uri");created=1700000000;nonce="abcdefghijklmnop";keyid="agt_1";tag="x""#,
                SignatureError::Params("unknown parameter"),
            ),
            (
                r#"sig1=("@method" "@target-uri");created=1700000000;nonce="abcdefghijklmnop";keyid="agt_1";alg="hmac-sha256""#,
                SignatureError::Algorithm,
            ),
            (
                r#"sig1=("@method" "@target-uri");created=1700000000;nonce="short";keyid="agt_1""#,
                SignatureError::Nonce,
            ),
            (
                r#"sig1=("@method" "@target-uri");created=1700000000;nonce="abcdefghijklmnop";keyid="agt_1";expires=1700000000"#,
                SignatureError::Expired,
            ),
            (
                r#"sig1=("@method" "@target-uri");created=1700000000;nonce="abcdefghijklmnop";keyid="agt_1""#,
                SignatureError::Invalid,
            ),
            (
                r#"sig1="not a list""#,
                SignatureError::Malformed("signature-input"),
            ),
            ("sig1=(", SignatureError::Malformed("signature-input")),
        ];
        for (input, want) in cases {
            let h = ReceivedHeaders {
                content_digest: None,
                signature_input: Some(input),
                signature: Some(&sig),
            };
            assert_eq!(
                verify_request(&pk, &parts(b""), &h, &policy()).map(|_| ()),
                Err(want),
                "{input}"
            );
        }
    }
}
