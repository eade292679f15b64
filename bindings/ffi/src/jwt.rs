//! HS256 JWTs with a `kid` key ring and an optional legacy secret (SPEC 2.2).

use std::collections::BTreeMap;

use breeze_crypto::jwt::{Claims, JwtKeyRing, TokenType};
use breeze_crypto::secrecy::SecretString;
use serde::Deserialize;

use crate::error::{FfiError, FfiResult, from_json, to_json};

/// A JWT key ring as the bindings pass it:
/// `{"keys": {"2026-11": "<secret>"}, "active": "2026-11", "legacySecret": "<secret>"}`;
/// `active` may be `null` to sign with the legacy secret and no `kid`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JwtRingSpec {
    #[serde(default)]
    keys: BTreeMap<String, String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    legacy_secret: Option<String>,
}

fn ring(spec: serde_json::Value) -> FfiResult<JwtKeyRing> {
    let spec: JwtRingSpec = from_json(spec, "jwt key ring")?;
    let mut builder = JwtKeyRing::builder();
    for (kid, secret) in spec.keys {
        builder = builder.key(&kid, SecretString::from(secret))?;
    }
    if let Some(legacy) = spec.legacy_secret {
        builder = builder.legacy_secret(SecretString::from(legacy))?;
    }
    Ok(match spec.active {
        Some(kid) => builder.active(&kid)?,
        None => builder.legacy_active()?,
    })
}

fn token_type(expected: &str) -> FfiResult<TokenType> {
    match expected {
        "access" => Ok(TokenType::Access),
        "refresh" => Ok(TokenType::Refresh),
        other => Err(FfiError::input(format!(
            "token type must be `access` or `refresh`, not `{other}`"
        ))),
    }
}

/// Signs `claims` (the SPEC 2.2 claim set, camelCase) with the ring's active key.
///
/// # Errors
/// `jwt` family (`key_config`, `encoding_failed`), `invalid_input` for claims of the wrong shape.
pub fn jwt_sign(ring_spec: serde_json::Value, claims: serde_json::Value) -> FfiResult<String> {
    let claims: Claims = from_json(claims, "claims")?;
    Ok(ring(ring_spec)?.sign(&claims)?)
}

/// Verifies `token` as an `expected` (`access` / `refresh`) token at `now` (unix seconds)
/// and returns its claims.
///
/// # Errors
/// The first failed check: `bad_signature`, `expired`, `unknown_key_id`, `wrong_type`, ...
pub fn jwt_verify(
    ring_spec: serde_json::Value,
    token: &str,
    expected: &str,
    now: i64,
) -> FfiResult<serde_json::Value> {
    let claims = ring(ring_spec)?.verify(token, token_type(expected)?, now)?;
    to_json(&claims)
}
