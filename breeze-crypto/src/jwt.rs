//! JSON Web Tokens (SPEC 2.2): HS256 only, pinned; `iss = "breeze"`, `aud = "breeze-api"`;
//! access tokens (15 min) and refresh tokens (7 days); a key ring with `kid` for zero-downtime
//! rotation, and one legacy secret for tokens without `kid`.
//!
//! Built on `hmac` + `sha2` rather than a general JOSE crate: Breeze needs exactly one
//! algorithm, and a general crate brings RSA/EC code (with an open RSA advisory in one backend
//! and a C build in the other) that this verifier must never reach. Interoperability with
//! node `jose` is proven by the vectors in `vectors/crypto/jwt_jose.json`.
//!
//! ```
//! use breeze_crypto::jwt::{JwtKeyRing, TokenSubject, TokenType, TokenScope, JwtError};
//! use secrecy::SecretString;
//! use uuid::Uuid;
//!
//! let ring = JwtKeyRing::builder()
//!     .key("2026-11", SecretString::from("8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d"))?
//!     .active("2026-11")?;
//! let subject = TokenSubject {
//!     user_id: Uuid::new_v4(), email: "ana@example.com".into(), role_id: None,
//!     org_id: None, partner_id: Some(Uuid::new_v4()), scope: TokenScope::Partner,
//!     mfa: true, auth_epoch: 1, mfa_epoch: 1,
//! };
//! let now = 1_800_000_000;
//! let family = Uuid::new_v4();
//! let access = ring.issue_access(&subject, family, now)?;
//! let claims = ring.verify(&access.token, TokenType::Access, now + 60)?;
//! assert_eq!(claims.sid, Some(family));
//! assert_eq!(ring.verify(&access.token, TokenType::Refresh, now).unwrap_err(), JwtError::WrongType);
//! assert_eq!(ring.verify(&access.token, TokenType::Access, now + 900).unwrap_err(), JwtError::Expired);
//! # Ok::<(), JwtError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

mod claims_layout;

/// Issuer claim.
pub const ISSUER: &str = "breeze";
/// Audience claim.
pub const AUDIENCE: &str = "breeze-api";
/// Access token lifetime in seconds (15 minutes).
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Refresh token lifetime in seconds (7 days).
pub const REFRESH_TTL_SECS: i64 = 7 * 24 * 3600;
/// Longest token accepted; longer input is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Minimum secret length in bytes.
pub const MIN_SECRET_LEN: usize = 32;
/// Tolerated clock skew for `iat` in the future, in seconds.
pub const IAT_LEEWAY_SECS: i64 = 60;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused, or could not be issued. Each kind is distinct so that callers can
/// log "expired" apart from "forged" — the HTTP answer stays a generic 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token is too large")]
    TooLarge,
    /// Not three base64url parts of JSON.
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is not `HS256` (including `none`), or the header carries `crit`.
    #[error("token algorithm `{0}` is not accepted")]
    UnsupportedAlgorithm(String),
    /// `kid` names no key in the ring, or a token without `kid` where no legacy secret is set.
    #[error("token key id is unknown")]
    UnknownKeyId,
    /// The HMAC does not match.
    #[error("token signature is invalid")]
    BadSignature,
    /// Claims missing or of the wrong type.
    #[error("token claims are invalid: {0}")]
    InvalidClaims(String),
    /// `iss` is not `breeze`.
    #[error("token issuer is wrong")]
    WrongIssuer,
    /// `aud` is not `breeze-api`.
    #[error("token audience is wrong")]
    WrongAudience,
    /// `exp` has passed.
    #[error("token has expired")]
    Expired,
    /// `iat` is in the future beyond the leeway.
    #[error("token is issued in the future")]
    IssuedInFuture,
    /// `type` is not the one this check wants.
    #[error("token type is wrong")]
    WrongType,
    /// A secret shorter than [`MIN_SECRET_LEN`], an invalid key id, or no such active key.
    #[error("jwt key configuration is invalid: {0}")]
    KeyConfig(&'static str),
    /// Serialising claims failed.
    #[error("token could not be encoded")]
    Encoding,
}

impl JwtError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "token_too_large",
            Self::Malformed(_) => "token_malformed",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::UnknownKeyId => "unknown_key_id",
            Self::BadSignature => "bad_signature",
            Self::InvalidClaims(_) => "invalid_claims",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongType => "wrong_type",
            Self::KeyConfig(_) => "key_config",
            Self::Encoding => "encoding_failed",
        }
    }
}

/// `type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Access token.
    Access,
    /// Refresh token.
    Refresh,
}

/// `scope` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Platform administration.
    System,
    /// A partner (MSP) user.
    Partner,
    /// An organization user.
    Organization,
}

/// The claims of SPEC 2.2, exactly as they appear in the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// User e-mail.
    pub email: String,
    /// Role id, if any.
    #[serde(rename = "roleId", default)]
    pub role_id: Option<Uuid>,
    /// Organization id, if any.
    #[serde(rename = "orgId", default)]
    pub org_id: Option<Uuid>,
    /// Partner id, if any.
    #[serde(rename = "partnerId", default)]
    pub partner_id: Option<Uuid>,
    /// Scope.
    pub scope: TokenScope,
    /// Token type.
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// Whether MFA was completed for this session.
    pub mfa: bool,
    /// Auth epoch: bumping the user's epoch logs every session out.
    pub aep: u64,
    /// MFA epoch.
    pub mep: u64,
    /// Refresh family id (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Refresh family id (refresh tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<Uuid>,
    /// Unique token id (refresh tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<Uuid>,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// Who a token is for: the fields the server fills from the user and session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// User id.
    pub user_id: Uuid,
    /// User e-mail.
    pub email: String,
    /// Role id.
    pub role_id: Option<Uuid>,
    /// Organization id.
    pub org_id: Option<Uuid>,
    /// Partner id.
    pub partner_id: Option<Uuid>,
    /// Scope.
    pub scope: TokenScope,
    /// MFA completed.
    pub mfa: bool,
    /// Auth epoch.
    pub auth_epoch: u64,
    /// MFA epoch.
    pub mfa_epoch: u64,
}

/// A signed token and its claims.
pub struct IssuedToken {
    /// The compact JWS. Secret: goes to its owner only.
    pub token: String,
    /// The claims inside.
    pub claims: Claims,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[REDACTED]")
            .field("claims", &self.claims)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing)]
    crit: Option<serde_json::Value>,
}

/// An HS256 key, kept as the keyed HMAC state (computed once, cloned per use; zeroized on drop
/// through `hmac`'s `zeroize` feature), with the encoded header its tokens carry.
struct JwtSecret {
    mac: HmacSha256,
    /// `base64url({"alg":"HS256","typ":"JWT","kid":...})`, `kid` left out for the legacy
    /// secret: the first segment of every token signed with this key.
    header: String,
}

impl JwtSecret {
    fn new(s: &SecretString, kid: Option<&str>) -> Result<Self, JwtError> {
        let bytes = s.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(JwtError::KeyConfig("secret shorter than 32 bytes"));
        }
        let mac = <HmacSha256 as KeyInit>::new_from_slice(bytes)
            .map_err(|_| JwtError::KeyConfig("secret rejected by hmac"))?;
        let header = b64_json(&Header {
            alg: "HS256".into(),
            typ: Some("JWT".into()),
            kid: kid.map(str::to_owned),
            crit: None,
        })
        .map_err(|_| JwtError::KeyConfig("key id could not be encoded"))?;
        Ok(Self { mac, header })
    }

    fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

/// Builds a [`JwtKeyRing`].
#[derive(Default)]
pub struct JwtKeyRingBuilder {
    keys: BTreeMap<String, JwtSecret>,
    legacy: Option<JwtSecret>,
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl JwtKeyRingBuilder {
    /// Adds a signing/verification key under `kid` (secret of at least 32 bytes).
    ///
    /// # Errors
    /// [`JwtError::KeyConfig`].
    pub fn key(mut self, kid: &str, secret: SecretString) -> Result<Self, JwtError> {
        if !valid_kid(kid) {
            return Err(JwtError::KeyConfig(
                "key id must match ^[A-Za-z0-9._-]{1,64}$",
            ));
        }
        if self.keys.contains_key(kid) {
            return Err(JwtError::KeyConfig("key id added twice"));
        }
        self.keys
            .insert(kid.to_owned(), JwtSecret::new(&secret, Some(kid))?);
        Ok(self)
    }

    /// Sets the legacy secret that checks tokens without `kid` (upstream's `JWT_SECRET`).
    ///
    /// # Errors
    /// [`JwtError::KeyConfig`].
    pub fn legacy_secret(mut self, secret: SecretString) -> Result<Self, JwtError> {
        self.legacy = Some(JwtSecret::new(&secret, None)?);
        Ok(self)
    }

    /// Names the key new tokens are signed with.
    ///
    /// # Errors
    /// [`JwtError::KeyConfig`] if no such key was added.
    pub fn active(self, kid: &str) -> Result<JwtKeyRing, JwtError> {
        if !self.keys.contains_key(kid) {
            return Err(JwtError::KeyConfig("active key id not in the ring"));
        }
        Ok(JwtKeyRing {
            active: Some(kid.to_owned()),
            keys: self.keys,
            legacy: self.legacy,
        })
    }

    /// Signs new tokens with the legacy secret and no `kid` (upstream-compatible mode, before
    /// a key ring is configured).
    ///
    /// # Errors
    /// [`JwtError::KeyConfig`] if no legacy secret was set.
    pub fn legacy_active(self) -> Result<JwtKeyRing, JwtError> {
        if self.legacy.is_none() {
            return Err(JwtError::KeyConfig("no legacy secret set"));
        }
        Ok(JwtKeyRing {
            active: None,
            keys: self.keys,
            legacy: self.legacy,
        })
    }
}

/// HS256 keys by `kid`, one active for signing, plus an optional legacy secret.
pub struct JwtKeyRing {
    active: Option<String>,
    keys: BTreeMap<String, JwtSecret>,
    legacy: Option<JwtSecret>,
}

impl fmt::Debug for JwtKeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeyRing")
            .field("active", &self.active)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("legacy", &self.legacy.is_some())
            .finish()
    }
}

fn b64_json<T: Serialize>(v: &T) -> Result<String, JwtError> {
    serde_json::to_vec(v)
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
        .map_err(|_| JwtError::Encoding)
}

impl JwtKeyRing {
    /// Starts a ring.
    #[must_use]
    pub fn builder() -> JwtKeyRingBuilder {
        JwtKeyRingBuilder::default()
    }

    fn signing_key(&self) -> Result<&JwtSecret, JwtError> {
        match &self.active {
            Some(kid) => self
                .keys
                .get(kid)
                .ok_or(JwtError::KeyConfig("active key id not in the ring")),
            None => self
                .legacy
                .as_ref()
                .ok_or(JwtError::KeyConfig("no legacy secret set")),
        }
    }

    /// Signs arbitrary claims with the active key. Prefer [`JwtKeyRing::issue_access`] and
    /// [`JwtKeyRing::issue_refresh`].
    ///
    /// # Errors
    /// [`JwtError::Encoding`] or [`JwtError::KeyConfig`].
    pub fn sign(&self, claims: &Claims) -> Result<String, JwtError> {
        let key = self.signing_key()?;
        let mut token = String::with_capacity(512);
        token.push_str(&key.header);
        token.push('.');
        let claims_json = serde_json::to_vec(claims).map_err(|_| JwtError::Encoding)?;
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let mut mac = key.mac();
        mac.update(token.as_bytes());
        let sig = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut token);
        Ok(token)
    }

    fn base_claims(subject: &TokenSubject, token_type: TokenType, now: i64, ttl: i64) -> Claims {
        Claims {
            sub: subject.user_id,
            email: subject.email.clone(),
            role_id: subject.role_id,
            org_id: subject.org_id,
            partner_id: subject.partner_id,
            scope: subject.scope,
            token_type,
            mfa: subject.mfa,
            aep: subject.auth_epoch,
            mep: subject.mfa_epoch,
            sid: None,
            fam: None,
            jti: None,
            iat: now,
            exp: now.saturating_add(ttl),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        }
    }

    /// Issues a 15-minute access token for a session of refresh family `family`.
    ///
    /// # Errors
    /// As [`JwtKeyRing::sign`].
    pub fn issue_access(
        &self,
        subject: &TokenSubject,
        family: Uuid,
        now: i64,
    ) -> Result<IssuedToken, JwtError> {
        let mut claims = Self::base_claims(subject, TokenType::Access, now, ACCESS_TTL_SECS);
        claims.sid = Some(family);
        Ok(IssuedToken {
            token: self.sign(&claims)?,
            claims,
        })
    }

    /// Issues a 7-day refresh token in `family` with a fresh random `jti`.
    ///
    /// # Errors
    /// As [`JwtKeyRing::sign`].
    pub fn issue_refresh(
        &self,
        subject: &TokenSubject,
        family: Uuid,
        now: i64,
    ) -> Result<IssuedToken, JwtError> {
        let mut claims = Self::base_claims(subject, TokenType::Refresh, now, REFRESH_TTL_SECS);
        claims.fam = Some(family);
        claims.jti = Some(Uuid::new_v4());
        Ok(IssuedToken {
            token: self.sign(&claims)?,
            claims,
        })
    }

    /// Verifies a token: size, shape, `alg = HS256`, key by `kid` (or the legacy secret when
    /// there is no `kid`), signature (constant time), claims, `iss`, `aud`, `exp`, `iat`, then
    /// `type`. `now` is unix seconds.
    ///
    /// A header segment byte-identical to one this ring signs with (`{"alg":"HS256","typ":
    /// "JWT","kid":...}`) is matched without decoding it; any other header is decoded and
    /// checked in full. Either way the same header gets the same answer. Segments of the
    /// usual sizes are decoded into stack buffers. Likewise a payload in exactly the layout
    /// [`JwtKeyRing::sign`] writes is read without serde (and gives exactly the claims
    /// `serde_json` would); any other payload is parsed by `serde_json`, which gives the
    /// verdict and the error.
    ///
    /// # Errors
    /// The first check that fails, as a [`JwtError`].
    pub fn verify(&self, token: &str, expected: TokenType, now: i64) -> Result<Claims, JwtError> {
        self.verify_with(token, expected, now, claims_layout::parse)
    }

    /// [`JwtKeyRing::verify`] with every payload parsed by `serde_json`, the layout fast path
    /// left out: the reference the differential tests and the fuzz target compare `verify`
    /// with. Not for use outside them.
    ///
    /// # Errors
    /// As [`JwtKeyRing::verify`].
    #[doc(hidden)]
    pub fn verify_serde_only(
        &self,
        token: &str,
        expected: TokenType,
        now: i64,
    ) -> Result<Claims, JwtError> {
        self.verify_with(token, expected, now, |_| None)
    }

    /// `verify`, reading the payload with `fast` first and with `serde_json` when `fast`
    /// declines (`fast` must only return claims `serde_json` would return).
    fn verify_with(
        &self,
        token: &str,
        expected: TokenType,
        now: i64,
        fast: impl Fn(&str) -> Option<Claims>,
    ) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::TooLarge);
        }
        let (h, p, s) = split_compact(token).ok_or(JwtError::Malformed("expected three parts"))?;
        let key = match self.key_for_known_header(h) {
            Some(key) => key,
            None => self.key_for_header(h)?,
        };

        let mut sig_stack = [0u8; SIG_STACK_LEN];
        let mut sig_heap = Vec::new();
        let sig = decode_segment(s, &mut sig_stack, &mut sig_heap)
            .ok_or(JwtError::Malformed("signature is not base64url"))?;
        let signing_input = token
            .get(..h.len() + 1 + p.len())
            .ok_or(JwtError::Malformed("expected three parts"))?;
        let mut mac = key.mac();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(sig).map_err(|_| JwtError::BadSignature)?;

        let mut payload_stack = [0u8; PAYLOAD_STACK_LEN];
        let mut payload_heap = Vec::new();
        let payload = decode_segment(p, &mut payload_stack, &mut payload_heap)
            .ok_or(JwtError::Malformed("payload is not base64url"))?;
        // One UTF-8 check of the whole payload is cheaper than serde_json's check of each string.
        let payload = std::str::from_utf8(payload)
            .map_err(|_| JwtError::InvalidClaims("claims are not utf-8".into()))?;
        // Nearly every payload is in the layout `sign` writes, read directly; anything else
        // is parsed (and refused, with its error text) by serde_json.
        let claims: Claims = match fast(payload) {
            Some(claims) => claims,
            None => serde_json::from_str(payload)
                .map_err(|e| JwtError::InvalidClaims(e.to_string().chars().take(200).collect()))?,
        };
        if claims.iss != ISSUER {
            return Err(JwtError::WrongIssuer);
        }
        if claims.aud != AUDIENCE {
            return Err(JwtError::WrongAudience);
        }
        if now >= claims.exp {
            return Err(JwtError::Expired);
        }
        if claims.iat > now.saturating_add(IAT_LEEWAY_SECS) {
            return Err(JwtError::IssuedInFuture);
        }
        if claims.token_type != expected {
            return Err(JwtError::WrongType);
        }
        match claims.token_type {
            TokenType::Access if claims.sid.is_none() => {
                Err(JwtError::InvalidClaims("access token without sid".into()))
            }
            TokenType::Refresh if claims.fam.is_none() || claims.jti.is_none() => Err(
                JwtError::InvalidClaims("refresh token without fam or jti".into()),
            ),
            _ => Ok(claims),
        }
    }

    /// The key whose own signing header is exactly `h`, if any. Headers are public: the
    /// comparison need not be constant time.
    fn key_for_known_header(&self, h: &str) -> Option<&JwtSecret> {
        self.keys
            .values()
            .chain(self.legacy.as_ref())
            .find(|key| key.header == h)
    }

    /// Decodes and checks a header this ring did not write: `alg` must be `HS256`, `crit`
    /// absent, and `kid` must name a key (or be absent with a legacy secret set).
    fn key_for_header(&self, h: &str) -> Result<&JwtSecret, JwtError> {
        let mut stack = [0u8; HEADER_STACK_LEN];
        let mut heap = Vec::new();
        let header_bytes = decode_segment(h, &mut stack, &mut heap)
            .ok_or(JwtError::Malformed("header is not base64url"))?;
        let header: Header = serde_json::from_slice(header_bytes)
            .map_err(|_| JwtError::Malformed("header is not a json object"))?;
        if header.alg != "HS256" {
            return Err(JwtError::UnsupportedAlgorithm(
                header.alg.chars().take(16).collect(),
            ));
        }
        if header.crit.is_some() {
            return Err(JwtError::UnsupportedAlgorithm("crit".into()));
        }
        match header.kid.as_deref() {
            Some(kid) => self.keys.get(kid).ok_or(JwtError::UnknownKeyId),
            None => self.legacy.as_ref().ok_or(JwtError::UnknownKeyId),
        }
    }
}

/// The claims when `payload` is exactly in the layout [`JwtKeyRing::sign`] writes, read
/// without serde; `None` for anything else. What `verify` tries before `serde_json`, exposed
/// for the differential tests and the fuzz target: whenever it returns claims,
/// `serde_json::from_str::<Claims>(payload)` returns the same claims.
#[doc(hidden)]
#[must_use]
pub fn claims_from_layout(payload: &str) -> Option<Claims> {
    claims_layout::parse(payload)
}

/// Stack space for a decoded signature: 32 bytes, and the decoder's estimate for 43 characters is
/// 33.
const SIG_STACK_LEN: usize = 48;
/// Stack space for a decoded header; longer headers are decoded on the heap.
const HEADER_STACK_LEN: usize = 192;
/// Stack space for decoded claims (an access token's are about 400 bytes); longer payloads
/// are decoded on the heap.
const PAYLOAD_STACK_LEN: usize = 1024;

/// The three dot-separated segments of a compact JWS, or `None` unless there are exactly three.
fn split_compact(token: &str) -> Option<(&str, &str, &str)> {
    let (h, rest) = token.split_once('.')?;
    let (p, s) = rest.split_once('.')?;
    if s.contains('.') {
        return None;
    }
    Some((h, p, s))
}

/// Decodes one base64url segment (no padding, canonical) into `stack` when its decoded length
/// fits, otherwise into `heap`. `None` when it is not valid base64url.
///
/// `base64-simd` decodes (SIMD where the CPU has it: a 540-character payload in about a
/// quarter of the time `base64` takes); it accepts and rejects exactly what `base64`'s
/// `URL_SAFE_NO_PAD` does, which `tests/jwt_claims_layout.rs` and the `jwt_verify` fuzz target
/// check against it.
fn decode_segment<'a>(
    segment: &str,
    stack: &'a mut [u8],
    heap: &'a mut Vec<u8>,
) -> Option<&'a [u8]> {
    let b64 = base64_simd::URL_SAFE_NO_PAD;
    // The estimate is an upper bound of the decoded length, so `decode` (which panics on a
    // short output) always has room.
    if b64.estimated_decoded_length(segment.len()) <= stack.len() {
        let decoded = b64
            .decode(segment.as_bytes(), base64_simd::Out::from_slice(stack))
            .ok()?;
        Some(decoded)
    } else {
        *heap = b64.decode_to_vec(segment).ok()?;
        Some(heap.as_slice())
    }
}

/// Decodes one base64url segment as [`JwtKeyRing::verify`] does (no padding, canonical
/// trailing bits), into a stack buffer of the size the payload gets when the result fits.
/// Exposed for the differential tests and the fuzz target, which compare it with `base64`'s
/// `URL_SAFE_NO_PAD`.
#[doc(hidden)]
#[must_use]
pub fn decode_base64url_segment(segment: &str) -> Option<Vec<u8>> {
    let mut stack = [0u8; PAYLOAD_STACK_LEN];
    let mut heap = Vec::new();
    decode_segment(segment, &mut stack, &mut heap).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d";
    const S2: &str = "f3a9c1e5b7d2048e6c1a3f5b7d9e0c2a4f6b8d1e3c5a7f9b";

    fn subject() -> TokenSubject {
        TokenSubject {
            user_id: Uuid::from_u128(1),
            email: "ana@example.com".into(),
            role_id: Some(Uuid::from_u128(2)),
            org_id: Some(Uuid::from_u128(3)),
            partner_id: None,
            scope: TokenScope::Organization,
            mfa: false,
            auth_epoch: 4,
            mfa_epoch: 5,
        }
    }

    fn ring(active: &str) -> JwtKeyRing {
        JwtKeyRing::builder()
            .key("a", SecretString::from(S1))
            .unwrap()
            .key("b", SecretString::from(S2))
            .unwrap()
            .legacy_secret(SecretString::from(S1))
            .unwrap()
            .active(active)
            .unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    fn forge(header: &str, payload: &Claims, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap())
        );
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn access_and_refresh_round_trip() {
        let r = ring("a");
        let fam = Uuid::from_u128(9);
        let a = r.issue_access(&subject(), fam, NOW).unwrap();
        assert_eq!(a.claims.exp - a.claims.iat, 900);
        assert_eq!(
            r.verify(&a.token, TokenType::Access, NOW).unwrap(),
            a.claims
        );
        let f = r.issue_refresh(&subject(), fam, NOW).unwrap();
        let c = r.verify(&f.token, TokenType::Refresh, NOW + 3600).unwrap();
        assert_eq!(c.fam, Some(fam));
        assert!(c.jti.is_some());
        assert_eq!(
            r.verify(&f.token, TokenType::Access, NOW),
            Err(JwtError::WrongType)
        );
        assert!(!format!("{a:?}").contains(&a.token));
    }

    #[test]
    fn rotation_by_kid() {
        let old = ring("a");
        let new = ring("b");
        let t = old
            .issue_access(&subject(), Uuid::nil(), NOW)
            .unwrap()
            .token;
        assert!(
            new.verify(&t, TokenType::Access, NOW).is_ok(),
            "a still readable"
        );
        let removed = JwtKeyRing::builder()
            .key("b", SecretString::from(S2))
            .unwrap()
            .active("b")
            .unwrap();
        assert_eq!(
            removed.verify(&t, TokenType::Access, NOW),
            Err(JwtError::UnknownKeyId)
        );
    }

    #[test]
    fn legacy_tokens_without_kid() {
        let c = ring("a")
            .issue_access(&subject(), Uuid::nil(), NOW)
            .unwrap()
            .claims;
        let t = forge(r#"{"alg":"HS256","typ":"JWT"}"#, &c, S1.as_bytes());
        assert!(ring("a").verify(&t, TokenType::Access, NOW).is_ok());
        let no_legacy = JwtKeyRing::builder()
            .key("a", SecretString::from(S1))
            .unwrap()
            .active("a")
            .unwrap();
        assert_eq!(
            no_legacy.verify(&t, TokenType::Access, NOW),
            Err(JwtError::UnknownKeyId)
        );
        // legacy-only signer
        let legacy_only = JwtKeyRing::builder()
            .legacy_secret(SecretString::from(S1))
            .unwrap()
            .legacy_active()
            .unwrap();
        let t2 = legacy_only
            .issue_access(&subject(), Uuid::nil(), NOW)
            .unwrap()
            .token;
        assert!(ring("b").verify(&t2, TokenType::Access, NOW).is_ok());
    }

    #[test]
    fn attacks_are_refused_with_their_kind() {
        let r = ring("a");
        let c = r.issue_access(&subject(), Uuid::nil(), NOW).unwrap().claims;
        // alg none
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"a"}"#),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap())
        );
        assert_eq!(
            r.verify(&none, TokenType::Access, NOW),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
        let hs512 = forge(r#"{"alg":"HS512","kid":"a"}"#, &c, S1.as_bytes());
        assert!(matches!(
            r.verify(&hs512, TokenType::Access, NOW),
            Err(JwtError::UnsupportedAlgorithm(_))
        ));
        let crit = forge(
            r#"{"alg":"HS256","kid":"a","crit":["x"]}"#,
            &c,
            S1.as_bytes(),
        );
        assert!(matches!(
            r.verify(&crit, TokenType::Access, NOW),
            Err(JwtError::UnsupportedAlgorithm(_))
        ));
        // wrong key under a known kid
        let wrong = forge(r#"{"alg":"HS256","kid":"a"}"#, &c, S2.as_bytes());
        assert_eq!(
            r.verify(&wrong, TokenType::Access, NOW),
            Err(JwtError::BadSignature)
        );
        // unknown kid
        let unknown = forge(r#"{"alg":"HS256","kid":"zz"}"#, &c, S1.as_bytes());
        assert_eq!(
            r.verify(&unknown, TokenType::Access, NOW),
            Err(JwtError::UnknownKeyId)
        );
        // claims checks (validly signed)
        let mut bad = c.clone();
        bad.iss = "evil".into();
        let t = r.sign(&bad).unwrap();
        assert_eq!(
            r.verify(&t, TokenType::Access, NOW),
            Err(JwtError::WrongIssuer)
        );
        let mut bad = c.clone();
        bad.aud = "other".into();
        let t = r.sign(&bad).unwrap();
        assert_eq!(
            r.verify(&t, TokenType::Access, NOW),
            Err(JwtError::WrongAudience)
        );
        let mut bad = c.clone();
        bad.iat = NOW + 3600;
        bad.exp = NOW + 7200;
        let t = r.sign(&bad).unwrap();
        assert_eq!(
            r.verify(&t, TokenType::Access, NOW),
            Err(JwtError::IssuedInFuture)
        );
        let t = r.sign(&c).unwrap();
        assert_eq!(
            r.verify(&t, TokenType::Access, c.exp),
            Err(JwtError::Expired)
        );
        // altered payload
        let mut parts: Vec<&str> = t.split('.').collect();
        let mut other = c.clone();
        other.scope = TokenScope::System;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        parts[1] = &forged_payload;
        assert_eq!(
            r.verify(&parts.join("."), TokenType::Access, NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens() {
        let r = ring("a");
        for t in ["", "a.b", "a.b.c.d", "!!.e30.AA", "e30.e30.e30"] {
            assert!(
                matches!(
                    r.verify(t, TokenType::Access, NOW),
                    Err(JwtError::Malformed(_) | JwtError::UnsupportedAlgorithm(_))
                ),
                "{t}"
            );
        }
        assert_eq!(
            r.verify(&"a".repeat(MAX_TOKEN_LEN + 1), TokenType::Access, NOW),
            Err(JwtError::TooLarge)
        );
        // signed but claims of the wrong type
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"a"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"not-a-uuid"}"#)
        );
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(S1.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        let t = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert!(matches!(
            r.verify(&t, TokenType::Access, NOW),
            Err(JwtError::InvalidClaims(_))
        ));
    }

    #[test]
    fn key_config_errors() {
        assert!(matches!(
            JwtKeyRing::builder().key("a", SecretString::from("short")),
            Err(JwtError::KeyConfig(_))
        ));
        assert!(matches!(
            JwtKeyRing::builder().key("a b", SecretString::from(S1)),
            Err(JwtError::KeyConfig(_))
        ));
        assert!(matches!(
            JwtKeyRing::builder().active("a"),
            Err(JwtError::KeyConfig(_))
        ));
        assert!(!format!("{:?}", ring("a")).contains(S1));
    }
}
