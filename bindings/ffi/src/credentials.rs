//! Random credentials of every kind, their SHA-256 hashes and peppered hashes (SPEC 3).

use breeze_crypto::credentials::{
    AgentId, AgentToken, ApiKey, EnrollmentKey, PasswordResetToken, Pepper, SessionToken, TokenHash,
};
use breeze_crypto::recovery::RecoveryCode;
use breeze_crypto::secrecy::SecretString;
use serde::Serialize;

use crate::error::{FfiError, FfiResult};

/// Kinds accepted by [`credential_generate`], [`credential_hash`] and [`credential_verify`].
pub const HASHED_KINDS: &[&str] = &[
    "agent_token",
    "api_key",
    "session_token",
    "password_reset_token",
    "enrollment_key",
];

/// Kinds accepted by the peppered functions.
pub const PEPPERED_KINDS: &[&str] = &["enrollment_key", "recovery_code"];

/// A freshly generated credential: show `value` once, store `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedCredential {
    /// The credential itself (secret).
    pub value: String,
    /// Its SHA-256 as 64 hex characters (`null` for `agent_id`, which is not secret).
    pub hash: Option<String>,
}

macro_rules! by_kind {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            "agent_token" => {
                type $t = AgentToken;
                $body
            }
            "api_key" => {
                type $t = ApiKey;
                $body
            }
            "session_token" => {
                type $t = SessionToken;
                $body
            }
            "password_reset_token" => {
                type $t = PasswordResetToken;
                $body
            }
            "enrollment_key" => {
                type $t = EnrollmentKey;
                $body
            }
            other => Err(unknown_kind(other, HASHED_KINDS)),
        }
    };
}

fn unknown_kind(kind: &str, allowed: &[&str]) -> FfiError {
    FfiError::input(format!(
        "unknown credential kind `{kind}`, expected one of {}",
        allowed.join(", ")
    ))
}

/// Generates a credential of `kind` (one of [`HASHED_KINDS`] or `agent_id`).
///
/// # Errors
/// `invalid_input` for an unknown kind, `rng_failure`.
pub fn credential_generate(kind: &str) -> FfiResult<GeneratedCredential> {
    if kind == "agent_id" {
        let id = AgentId::generate()?;
        return Ok(GeneratedCredential {
            value: id.as_str().to_owned(),
            hash: None,
        });
    }
    by_kind!(kind, T => {
        let c = T::generate()?;
        Ok(GeneratedCredential {
            value: c.expose_secret().to_owned(),
            hash: Some(c.hash().to_hex()),
        })
    })
}

/// Checks `value` is a well-formed credential of `kind` and returns its SHA-256 hex.
///
/// # Errors
/// `credential_wrong_prefix`, `credential_malformed`, `credential_too_long`, `invalid_input`.
pub fn credential_hash(kind: &str, value: &str) -> FfiResult<String> {
    by_kind!(kind, T => Ok(T::parse(value)?.hash().to_hex()))
}

/// Whether `value` (a credential of `kind`) hashes to `stored_hex` (constant time).
///
/// # Errors
/// As [`credential_hash`], and `credential_malformed` for a stored hash that is not 64
/// lowercase hex characters.
pub fn credential_verify(kind: &str, value: &str, stored_hex: &str) -> FfiResult<bool> {
    let stored: TokenHash = stored_hex.parse()?;
    by_kind!(kind, T => Ok(T::parse(value)?.verify(&stored)))
}

/// The peppered hash (HMAC-SHA-256 with the pepper) of an `enrollment_key` or a
/// `recovery_code` (normalised first).
///
/// # Errors
/// `invalid_input` for another kind, the kind's parse errors.
pub fn credential_peppered_hash(kind: &str, pepper: &str, value: &str) -> FfiResult<String> {
    let pepper = Pepper::new(SecretString::from(pepper));
    match kind {
        "enrollment_key" => Ok(EnrollmentKey::parse(value)?.peppered_hash(&pepper).to_hex()),
        "recovery_code" => Ok(RecoveryCode::normalize(value)?
            .peppered_hash(&pepper)
            .to_hex()),
        other => Err(unknown_kind(other, PEPPERED_KINDS)),
    }
}

/// Whether the peppered hash of `value` equals `stored_hex` (constant time).
///
/// # Errors
/// As [`credential_peppered_hash`]; `credential_malformed` for a bad stored hash.
pub fn credential_verify_peppered(
    kind: &str,
    pepper: &str,
    value: &str,
    stored_hex: &str,
) -> FfiResult<bool> {
    let stored: TokenHash = stored_hex.parse()?;
    let pepper = Pepper::new(SecretString::from(pepper));
    match kind {
        "enrollment_key" => Ok(EnrollmentKey::parse(value)?.verify_peppered(&pepper, &stored)),
        "recovery_code" => Ok(RecoveryCode::normalize(value)?.verify_peppered(&pepper, &stored)),
        other => Err(unknown_kind(other, PEPPERED_KINDS)),
    }
}

/// A fresh set of 10 recovery codes (show once, store their peppered hashes).
///
/// # Errors
/// `rng_failure`.
pub fn recovery_codes_generate() -> FfiResult<Vec<String>> {
    Ok(breeze_crypto::recovery::generate_codes()?
        .iter()
        .map(|c| c.expose_secret().to_owned())
        .collect())
}

/// The canonical form of a recovery code as a user typed it (`abcd 2345` -> `ABCD-2345`).
///
/// # Errors
/// `recovery_code_malformed`.
pub fn recovery_code_normalize(input: &str) -> FfiResult<String> {
    Ok(RecoveryCode::normalize(input)?.expose_secret().to_owned())
}
