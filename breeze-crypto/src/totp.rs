//! TOTP (RFC 6238, SPEC 2.4): SHA-1, 6 digits, 30-second steps, +-1 step tolerance, 20-byte
//! random secrets, `otpauth://` URIs with issuer `Breeze RMM`.
//!
//! [`verify`] returns the matched time step so the caller can refuse a step it has already
//! accepted for this user (replay); every candidate step is compared, in constant time.
//!
//! ```
//! use breeze_crypto::totp::{TotpSecret, code_at, verify, TotpError};
//!
//! let secret = TotpSecret::generate()?;
//! let now = 1_800_000_000;
//! let code = code_at(&secret, now)?;
//! let step = verify(&secret, &code, now + 30)?;     // one step late is tolerated
//! assert_eq!(i64::try_from(step).unwrap(), now / 30);
//! assert_eq!(verify(&secret, &code, now + 90), Err(TotpError::Mismatch));
//! # Ok::<(), TotpError>(())
//! ```

use std::fmt;

use secrecy::SecretString;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random;

/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "Breeze RMM";
/// Secret length in bytes.
pub const SECRET_LEN: usize = 20;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Step length in seconds.
pub const STEP_SECS: u64 = 30;
/// Steps tolerated on each side.
pub const SKEW_STEPS: u64 = 1;

/// Why a TOTP operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    /// The code is not 6 digits.
    #[error("code must be 6 digits")]
    MalformedCode,
    /// No step in the window produces this code.
    #[error("code does not match")]
    Mismatch,
    /// The stored secret is not base32 of 20 bytes.
    #[error("totp secret is malformed")]
    MalformedSecret,
    /// The account label cannot be put in a URI (empty, too long, or contains `:`).
    #[error("account label is invalid for an otpauth uri")]
    InvalidLabel,
    /// Time before the epoch or unrepresentable.
    #[error("time is out of range")]
    TimeOutOfRange,
    /// The random generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl TotpError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MalformedCode => "totp_code_malformed",
            Self::Mismatch => "totp_mismatch",
            Self::MalformedSecret => "totp_secret_malformed",
            Self::InvalidLabel => "totp_invalid_label",
            Self::TimeOutOfRange => "time_out_of_range",
            Self::Rng => "rng_failure",
        }
    }
}

/// A 20-byte TOTP secret, zeroized on drop. Store it encrypted (`mfa:v1`).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

impl TotpSecret {
    /// A fresh random secret.
    ///
    /// # Errors
    /// [`TotpError::Rng`].
    pub fn generate() -> Result<Self, TotpError> {
        let mut s = [0u8; SECRET_LEN];
        random::fill(&mut s).map_err(|_| TotpError::Rng)?;
        Ok(Self(s))
    }

    /// From raw bytes (exactly 20).
    ///
    /// # Errors
    /// [`TotpError::MalformedSecret`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        let arr: [u8; SECRET_LEN] = bytes.try_into().map_err(|_| TotpError::MalformedSecret)?;
        Ok(Self(arr))
    }

    /// From the base32 (RFC 4648, no padding) form authenticator apps show.
    ///
    /// # Errors
    /// [`TotpError::MalformedSecret`].
    pub fn from_base32(s: &str) -> Result<Self, TotpError> {
        if s.len() > 64 {
            return Err(TotpError::MalformedSecret);
        }
        let cleaned: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &cleaned)
            .ok_or(TotpError::MalformedSecret)?;
        let out = Self::from_bytes(&bytes);
        bytes.zeroize();
        out
    }

    /// The base32 form (32 characters), to store encrypted or to show once during setup.
    #[must_use]
    pub fn to_base32(&self) -> SecretString {
        SecretString::from(base32::encode(
            base32::Alphabet::Rfc4648 { padding: false },
            &self.0,
        ))
    }

    fn totp(&self, label: &str) -> Result<Totp, TotpError> {
        totp_with(&self.0, DIGITS, label)
    }
}

fn totp_with(secret: &[u8], digits: usize, label: &str) -> Result<Totp, TotpError> {
    let digits = u8::try_from(digits).map_err(|_| TotpError::MalformedCode)?;
    let mut b = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(0)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec());
    if !label.is_empty() {
        b = b
            .with_issuer(Some(ISSUER))
            .with_account_name(label.to_owned());
    }
    b.build().map_err(|_| TotpError::InvalidLabel)
}

fn time_u64(unix: i64) -> Result<u64, TotpError> {
    u64::try_from(unix).map_err(|_| TotpError::TimeOutOfRange)
}

/// The code for the step containing `unix` seconds.
///
/// # Errors
/// [`TotpError::TimeOutOfRange`] for times before the epoch.
pub fn code_at(secret: &TotpSecret, unix: i64) -> Result<String, TotpError> {
    Ok(secret.totp("")?.generate(time_u64(unix)?).to_string())
}

/// Known-answer helper: the RFC 6238 code with `digits` digits for a raw secret.
///
/// # Errors
/// [`TotpError`] when the secret is shorter than 16 bytes or digits not in 6..=8.
#[doc(hidden)]
pub fn rfc6238_sha1_code(secret: &[u8], unix: u64, digits: usize) -> Result<String, TotpError> {
    Ok(totp_with(secret, digits, "")?.generate(unix).to_string())
}

/// Verifies a 6-digit code (spaces allowed, e.g. `123 456`) at `unix` seconds with +-1 step.
/// Returns the matched step number (`unix_time / 30` of the step that matched); the caller
/// must refuse a step it already accepted for this user.
///
/// # Errors
/// [`TotpError::MalformedCode`], [`TotpError::Mismatch`] or [`TotpError::TimeOutOfRange`].
pub fn verify(secret: &TotpSecret, code: &str, unix: i64) -> Result<u64, TotpError> {
    if code.len() > 16 {
        return Err(TotpError::MalformedCode);
    }
    let digits: String = code.chars().filter(|c| *c != ' ').collect();
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::MalformedCode);
    }
    let now_step = time_u64(unix)? / STEP_SECS;
    let totp = secret.totp("")?;
    let mut matched: Option<u64> = None;
    let first = now_step.saturating_sub(SKEW_STEPS);
    let last = now_step.saturating_add(SKEW_STEPS);
    for step in first..=last {
        let candidate = totp.generate(step.saturating_mul(STEP_SECS)).to_string();
        let eq = bool::from(candidate.as_bytes().ct_eq(digits.as_bytes()));
        if eq && matched.is_none() {
            matched = Some(step);
        }
    }
    matched.ok_or(TotpError::Mismatch)
}

/// The `otpauth://totp/...` URI for enrollment (contains the secret: show once, never log).
///
/// # Errors
/// [`TotpError::InvalidLabel`] for an empty label, one over 254 characters, or one with `:`.
pub fn otpauth_uri(secret: &TotpSecret, email: &str) -> Result<SecretString, TotpError> {
    if email.is_empty() || email.len() > 254 {
        return Err(TotpError::InvalidLabel);
    }
    let uri = secret
        .totp(email)?
        .to_url()
        .map_err(|_| TotpError::InvalidLabel)?;
    Ok(SecretString::from(uri))
}

/// Exposes the raw secret bytes to callers that must hand them to another TOTP library.
#[must_use]
pub fn expose_secret_bytes(secret: &TotpSecret) -> &[u8] {
    &secret.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn base32_round_trip_and_bad_secrets() {
        let s = TotpSecret::generate().unwrap();
        let b = s.to_base32();
        assert_eq!(b.expose_secret().len(), 32);
        let back = TotpSecret::from_base32(b.expose_secret()).unwrap();
        assert_eq!(back.0, s.0);
        assert_eq!(
            TotpSecret::from_base32("AAAA").unwrap_err(),
            TotpError::MalformedSecret
        );
        assert_eq!(
            TotpSecret::from_base32("!!!").unwrap_err(),
            TotpError::MalformedSecret
        );
        assert!(!format!("{s:?}").contains(b.expose_secret()));
    }

    #[test]
    fn window_and_malformed_codes() {
        let s = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let t = 1_111_111_109;
        let code = code_at(&s, t).unwrap();
        assert_eq!(verify(&s, &code, t).unwrap(), 1_111_111_109 / 30);
        assert!(verify(&s, &code, t - 30).is_ok());
        assert!(verify(&s, &code, t + 30).is_ok());
        assert_eq!(verify(&s, &code, t + 61), Err(TotpError::Mismatch));
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(verify(&s, &spaced, t).is_ok());
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "１２３４５６",
            &"1".repeat(100),
        ] {
            assert_eq!(verify(&s, bad, t), Err(TotpError::MalformedCode), "{bad}");
        }
        assert_eq!(verify(&s, "123456", -5), Err(TotpError::TimeOutOfRange));
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let s = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let uri = otpauth_uri(&s, "ana@example.com").unwrap();
        let u = uri.expose_secret();
        assert!(
            u.starts_with("otpauth://totp/Breeze%20RMM:ana%40example.com?"),
            "{u}"
        );
        assert!(u.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert!(u.contains("issuer=Breeze%20RMM"));
        assert_eq!(otpauth_uri(&s, "a:b").err(), Some(TotpError::InvalidLabel));
        assert_eq!(otpauth_uri(&s, "").err(), Some(TotpError::InvalidLabel));
    }
}
