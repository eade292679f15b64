//! TOTP (RFC 6238, 6 digits, 30 s, one step of skew) for MFA (SPEC 2.4).

use breeze_crypto::secrecy::ExposeSecret;
use breeze_crypto::totp::{self, TotpSecret};

use crate::error::FfiResult;

/// A fresh 20-byte TOTP secret as base32 (store it with [`crate::secrets::mfa_encrypt`]).
///
/// # Errors
/// `rng_failure`.
pub fn totp_generate_secret() -> FfiResult<String> {
    Ok(TotpSecret::generate()?
        .to_base32()
        .expose_secret()
        .to_owned())
}

/// The 6-digit code for `secret_base32` at `unix` seconds.
///
/// # Errors
/// `totp_secret_malformed`, `time_out_of_range`.
pub fn totp_code(secret_base32: &str, unix: i64) -> FfiResult<String> {
    Ok(totp::code_at(
        &TotpSecret::from_base32(secret_base32)?,
        unix,
    )?)
}

/// Checks `code` at `unix` seconds (one step of skew either way); returns the matched step
/// (store it to refuse replays).
///
/// # Errors
/// `totp_mismatch`, `totp_code_malformed`, `totp_secret_malformed`, `time_out_of_range`.
pub fn totp_verify(secret_base32: &str, code: &str, unix: i64) -> FfiResult<u64> {
    Ok(totp::verify(
        &TotpSecret::from_base32(secret_base32)?,
        code,
        unix,
    )?)
}

/// The `otpauth://` enrollment URI (contains the secret: show once).
///
/// # Errors
/// `totp_invalid_label`, `totp_secret_malformed`.
pub fn totp_otpauth_uri(secret_base32: &str, email: &str) -> FfiResult<String> {
    let uri = totp::otpauth_uri(&TotpSecret::from_base32(secret_base32)?, email)?;
    Ok(uri.expose_secret().to_owned())
}

/// The RFC 6238 SHA-1 code of a raw secret (any length) with `digits` digits: for checking
/// the RFC's own test vectors.
///
/// # Errors
/// `time_out_of_range`.
pub fn totp_rfc6238_code(secret: &[u8], unix: u64, digits: usize) -> FfiResult<String> {
    Ok(totp::rfc6238_sha1_code(secret, unix, digits)?)
}
