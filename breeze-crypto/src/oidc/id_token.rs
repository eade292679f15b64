//! ID-token verification (OpenID Connect Core 1.0 section 3.1.3.7), in a fixed order:
//!
//! 1. size (at most [`MAX_ID_TOKEN_BYTES`]) and shape: three base64url parts;
//! 2. header: a JSON object, `alg` in the allow-list (`none` and `HS*` can never be
//!    allowed: an HMAC "signed" with the client secret proves nothing about the provider),
//!    no `crit`;
//! 3. key: the provider's key with the header's `kid` fitting `alg`
//!    ([`OidcError::UnknownKey`]: the server then re-reads the provider's key set once, which
//!    is how a rotated key is picked up);
//! 4. signature;
//! 5. claims: `iss` equal to the issuer, `aud` containing the client id (and, with several
//!    audiences, `azp` equal to it; a present `azp` must always equal it), `exp` not passed,
//!    `iat` not in the future (both with [`CLOCK_LEEWAY_SECS`]), `nonce` equal to this
//!    login's (constant time), `sub` present.

use serde_json::{Map, Value};

use super::jwks::{Jwks, SignatureAlg};
use super::{CLOCK_LEEWAY_SECS, MAX_ID_TOKEN_BYTES, OidcError, b64url_decode};
use crate::ct::constant_time_eq;

/// The nonce the login sent, as the server kept it.
#[derive(Clone, Copy)]
pub enum ExpectedNonce<'a> {
    /// The nonce itself.
    Value(&'a str),
    /// The lowercase hex SHA-256 of the nonce (the server stores only this).
    Sha256Hex(&'a str),
}

impl std::fmt::Debug for ExpectedNonce<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExpectedNonce([REDACTED])")
    }
}

impl ExpectedNonce<'_> {
    /// Whether the token's `nonce` is this login's (constant time; an empty nonce never is).
    fn matches(self, token_nonce: &str) -> bool {
        if token_nonce.is_empty() {
            return false;
        }
        match self {
            Self::Value(v) => {
                !v.is_empty() && constant_time_eq(token_nonce.as_bytes(), v.as_bytes())
            }
            Self::Sha256Hex(h) => {
                use sha2::Digest as _;
                let digest = hex::encode(sha2::Sha256::digest(token_nonce.as_bytes()));
                constant_time_eq(digest.as_bytes(), h.as_bytes())
            }
        }
    }
}

/// What an ID token must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenPolicy {
    /// The provider's issuer, exactly.
    pub issuer: String,
    /// Breeze's client id at the provider.
    pub client_id: String,
    /// Algorithms accepted.
    pub algs: Vec<SignatureAlg>,
}

/// The verified claims Breeze uses. Values come from the provider; the server treats them
/// as data (they are never rendered as markup, and e-mail is normalised before matching).
#[derive(Clone, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// The provider's stable id of the user.
    pub subject: String,
    /// `email`, when present.
    pub email: Option<String>,
    /// `email_verified` (a boolean, or the string `"true"` some providers send).
    pub email_verified: bool,
    /// `amr`: how the user authenticated at the provider.
    pub amr: Vec<String>,
    /// `name`, when present.
    pub name: Option<String>,
    /// `exp` (seconds since the epoch).
    pub expires_at: i64,
    /// `iat`.
    pub issued_at: i64,
}

impl std::fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("email_verified", &self.email_verified)
            .field("amr", &self.amr)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl IdTokenClaims {
    /// The e-mail address, lowercased and trimmed, only when the provider says it verified
    /// it.
    #[must_use]
    pub fn verified_email(&self) -> Option<String> {
        self.email
            .as_deref()
            .filter(|_| self.email_verified)
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
    }

    /// Whether the provider says the user passed more than one factor ([`amr_is_multi_factor`]).
    #[must_use]
    pub fn multi_factor(&self) -> bool {
        amr_is_multi_factor(&self.amr)
    }
}

/// Whether an `amr` list (RFC 8176 values) shows a multi-factor login: `mfa` itself, or
/// methods of two different factor kinds (something known: `pwd`, `pin`, `kba`; something
/// held: `otp`, `hwk`, `swk`, `sc`, `sms`, `tel`; something inherent: `fpt`, `face`,
/// `iris`, `retina`, `vbm`). One method alone (a passkey reported as `hwk` only, say) is
/// not taken as multi-factor; Breeze's own TOTP then applies.
#[must_use]
pub fn amr_is_multi_factor(amr: &[String]) -> bool {
    if amr.iter().any(|m| m == "mfa") {
        return true;
    }
    let kind = |m: &str| match m {
        "pwd" | "pin" | "kba" => Some(0u8),
        "otp" | "hwk" | "swk" | "sc" | "sms" | "tel" => Some(1),
        "fpt" | "face" | "iris" | "retina" | "vbm" => Some(2),
        _ => None,
    };
    let mut seen = [false; 3];
    for m in amr {
        if let Some(k) = kind(m)
            && let Some(slot) = seen.get_mut(usize::from(k))
        {
            *slot = true;
        }
    }
    seen.iter().filter(|s| **s).count() >= 2
}

/// Verifies `token` against the provider's `keys` and `policy` for the login whose nonce is
/// `nonce` (the value, or its SHA-256), at `now` (seconds since the epoch). See the module docs for the order.
///
/// # Errors
/// The first check that fails, as an [`OidcError`].
pub fn verify_id_token(
    token: &str,
    keys: &Jwks,
    policy: &IdTokenPolicy,
    nonce: ExpectedNonce<'_>,
    now: i64,
) -> Result<IdTokenClaims, OidcError> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(OidcError::Malformed("too large"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::Malformed("not three parts"));
    };
    let header = decode_object(header_b64, "header")?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(OidcError::Malformed("no alg"))?;
    let alg = SignatureAlg::from_name(alg_name).ok_or(OidcError::AlgorithmNotAllowed)?;
    if !policy.algs.contains(&alg) {
        return Err(OidcError::AlgorithmNotAllowed);
    }
    if header.contains_key("crit") {
        return Err(OidcError::Malformed("crit header"));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(_) => return Err(OidcError::Malformed("kid is not a string")),
    };
    let sig = b64url_decode(sig_b64).ok_or(OidcError::Malformed("signature encoding"))?;
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = token
        .get(..signing_input_len)
        .ok_or(OidcError::Malformed("signing input"))?;
    keys.verify(alg, kid, signing_input.as_bytes(), &sig)?;

    let claims = decode_object(payload_b64, "payload")?;
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(policy.issuer.as_str()) {
        return Err(OidcError::WrongIssuer);
    }
    check_audience(&claims, &policy.client_id)?;
    let expires_at = numeric_date(&claims, "exp")?.ok_or(OidcError::Malformed("no exp"))?;
    if expires_at.saturating_add(CLOCK_LEEWAY_SECS) <= now {
        return Err(OidcError::Expired);
    }
    let issued_at = numeric_date(&claims, "iat")?.ok_or(OidcError::Malformed("no iat"))?;
    if issued_at > now.saturating_add(CLOCK_LEEWAY_SECS) {
        return Err(OidcError::NotYetValid);
    }
    let token_nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !nonce.matches(token_nonce) {
        return Err(OidcError::NonceMismatch);
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(OidcError::MissingSubject)?
        .to_owned();
    let text = |name: &str, max: usize| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| s.len() <= max)
            .map(str::to_owned)
    };
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let amr = match claims.get("amr") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .take(16)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Ok(IdTokenClaims {
        subject,
        email: text("email", 320),
        email_verified,
        amr,
        name: text("name", 200),
        expires_at,
        issued_at,
    })
}

fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, OidcError> {
    let bytes = b64url_decode(part).ok_or(OidcError::Malformed(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OidcError::Malformed(what)),
    }
}

fn check_audience(claims: &Map<String, Value>, client_id: &str) -> Result<(), OidcError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => return Err(OidcError::WrongAudience),
    };
    if !audiences.contains(&client_id) {
        return Err(OidcError::WrongAudience);
    }
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(_) => Err(OidcError::WrongAudience),
        None if audiences.len() == 1 => Ok(()),
        None => Err(OidcError::WrongAudience),
    }
}

/// A NumericDate claim: an integer or a number with a fraction (truncated).
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            let f = n.as_f64().ok_or(OidcError::Malformed(name))?;
            if !f.is_finite() || f.abs() > 1e15 {
                return Err(OidcError::Malformed(name));
            }
            #[allow(
                clippy::cast_possible_truncation,
                reason = "bounded above, fraction dropped"
            )]
            Ok(Some(f.trunc() as i64))
        }
        Some(_) => Err(OidcError::Malformed(name)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn amr(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn amr_rule() {
        assert!(amr_is_multi_factor(&amr(&["mfa"])));
        assert!(amr_is_multi_factor(&amr(&["pwd", "otp"])));
        assert!(amr_is_multi_factor(&amr(&["hwk", "fpt"])));
        assert!(!amr_is_multi_factor(&amr(&["pwd"])));
        assert!(!amr_is_multi_factor(&amr(&["hwk"])));
        assert!(!amr_is_multi_factor(&amr(&["otp", "sms"])));
        assert!(!amr_is_multi_factor(&amr(&["pwd", "pin", "unknown"])));
        assert!(!amr_is_multi_factor(&[]));
    }

    fn claims(v: &Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn audience_and_azp() {
        use serde_json::json;
        let ok = |v: Value| check_audience(&claims(&v), "me").is_ok();
        assert!(ok(json!({"aud": "me"})));
        assert!(ok(json!({"aud": ["me"]})));
        assert!(ok(json!({"aud": ["me", "other"], "azp": "me"})));
        assert!(!ok(json!({"aud": ["me", "other"]})));
        assert!(!ok(json!({"aud": ["me"], "azp": "other"})));
        assert!(!ok(json!({"aud": "other"})));
        assert!(!ok(json!({"aud": 1})));
        assert!(!ok(json!({})));
    }

    #[test]
    fn numeric_dates() {
        use serde_json::json;
        let c = claims(&json!({"a": 5, "b": 5.9, "c": "5", "d": 1e300}));
        assert_eq!(numeric_date(&c, "a").unwrap(), Some(5));
        assert_eq!(numeric_date(&c, "b").unwrap(), Some(5));
        assert!(numeric_date(&c, "c").is_err());
        assert!(numeric_date(&c, "d").is_err());
        assert_eq!(numeric_date(&c, "e").unwrap(), None);
    }
}
