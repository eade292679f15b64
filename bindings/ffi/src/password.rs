//! Passwords: Argon2id hash, verify, needs-rehash and the policy (SPEC 2.1).

use breeze_crypto::password::{self, PasswordPolicy};
use breeze_crypto::secrecy::SecretString;

use crate::error::{FfiError, FfiResult};

/// Hashes `password` with Argon2id (m = 64 MiB, t = 3, p = 4) and a fresh salt: a PHC string.
///
/// # Errors
/// `password` family: `password_too_long`, `rng_failure`, `password_hashing_failed`.
pub fn password_hash(password: &str) -> FfiResult<String> {
    let hash = password::hash_password(&SecretString::from(password))?;
    Ok(hash.as_str().to_owned())
}

/// Hashes with a given hex salt. Known-answer tests only: real hashes use [`password_hash`].
///
/// # Errors
/// `invalid_input` for bad hex, otherwise as [`password_hash`].
pub fn password_hash_with_salt(password: &str, salt_hex: &str) -> FfiResult<String> {
    let salt = decode_hex(salt_hex, "salt")?;
    let hash = password::hash_password_with_salt(&SecretString::from(password), &salt)?;
    Ok(hash.as_str().to_owned())
}

/// Whether `password` matches the stored PHC string (constant time).
///
/// # Errors
/// `password_hash_malformed`, `password_hash_parameters_too_large`, `password_too_long`.
pub fn password_verify(password: &str, phc: &str) -> FfiResult<bool> {
    Ok(password::verify_password(
        &SecretString::from(password),
        phc,
    )?)
}

/// Whether the stored PHC string uses other parameters than the current ones.
///
/// # Errors
/// `password_hash_malformed` and friends.
pub fn password_needs_rehash(phc: &str) -> FfiResult<bool> {
    Ok(password::needs_rehash(phc)?)
}

/// Checks `password` against the default policy; returns the codes of every broken rule
/// (empty when it passes), for example `password_too_short`, `password_missing_digit`.
#[must_use]
pub fn password_policy_check(password: &str) -> Vec<String> {
    match PasswordPolicy::default().check(password) {
        Ok(()) => Vec::new(),
        Err(e) => e.violations().iter().map(|v| v.code().to_owned()).collect(),
    }
}

pub(crate) fn decode_hex(value: &str, what: &str) -> FfiResult<Vec<u8>> {
    hex::decode(value).map_err(|_| FfiError::input(format!("{what} must be hex")))
}
