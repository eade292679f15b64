//! MFA recovery codes (SPEC 2.4 and 3.2): 10 codes of 8 characters from `A-Z0-9`, shown as
//! `XXXX-XXXX`, stored as `sha256_hex(PEPPER + ":" + CODE)` of the upper-cased, trimmed code.
//!
//! ```
//! use breeze_crypto::credentials::Pepper;
//! use breeze_crypto::recovery::{generate_codes, RecoveryCode};
//! use secrecy::SecretString;
//!
//! let pepper = Pepper::new(SecretString::from("a-long-random-pepper-from-config-0123456789"));
//! let codes = generate_codes()?;
//! assert_eq!(codes.len(), 10);
//! let stored = codes[0].peppered_hash(&pepper);
//! // what the user types: lower case, no hyphen, stray spaces
//! let typed = codes[0].expose_secret().to_lowercase().replace('-', "");
//! let presented = RecoveryCode::normalize(&format!("  {typed} "))?;
//! assert!(presented.verify_peppered(&pepper, &stored));
//! # Ok::<(), breeze_crypto::recovery::RecoveryCodeError>(())
//! ```

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::credentials::{Pepper, TokenHash};
use crate::random;

/// Codes per set.
pub const CODES_PER_SET: usize = 10;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A recovery code that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryCodeError {
    /// Not 8 characters of `A-Z0-9` (optionally as `XXXX-XXXX`).
    #[error("recovery code must be 8 letters or digits, as XXXX-XXXX")]
    Malformed,
    /// The random generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl RecoveryCodeError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "recovery_code_malformed",
            Self::Rng => "rng_failure",
        }
    }
}

/// One recovery code in canonical `XXXX-XXXX` form.
pub struct RecoveryCode(SecretString);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

impl RecoveryCode {
    /// Canonicalises what a user typed: trimmed, upper-cased; `XXXXXXXX` gains its hyphen.
    ///
    /// # Errors
    /// [`RecoveryCodeError::Malformed`].
    pub fn normalize(input: &str) -> Result<Self, RecoveryCodeError> {
        let code = canonical(input)?;
        let text = std::str::from_utf8(&code[..]).map_err(|_| RecoveryCodeError::Malformed)?;
        Ok(Self(SecretString::from(text)))
    }

    /// Canonicalises what a user typed, as [`RecoveryCode::normalize`] does, and returns
    /// its stored form under `pepper`: the request path's form, which keeps the code on
    /// the stack (zeroized after) and allocates nothing.
    ///
    /// # Errors
    /// [`RecoveryCodeError::Malformed`].
    pub fn peppered_hash_presented(
        input: &str,
        pepper: &Pepper,
    ) -> Result<TokenHash, RecoveryCodeError> {
        let code = canonical(input)?;
        let text = std::str::from_utf8(&code[..]).map_err(|_| RecoveryCodeError::Malformed)?;
        Ok(pepper.hash(text))
    }

    /// The code as shown to the user (`XXXX-XXXX`).
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The stored form, `sha256_hex(PEPPER + ":" + "XXXX-XXXX")`.
    #[must_use]
    pub fn peppered_hash(&self, pepper: &Pepper) -> TokenHash {
        pepper.hash(self.0.expose_secret())
    }

    /// The code's hashes under every pepper of `ring`, the current one first: what the
    /// store looks a presented code up by while a pepper is rolled.
    #[must_use]
    pub fn peppered_hashes(&self, ring: &crate::credentials::PepperRing) -> Vec<TokenHash> {
        ring.hashes(self.0.expose_secret())
    }

    /// Whether this code matches a stored hash (constant time). Consuming it exactly once is
    /// the store's job (an atomic delete or update).
    #[must_use]
    pub fn verify_peppered(&self, pepper: &Pepper, stored: &TokenHash) -> bool {
        self.peppered_hash(pepper).ct_eq(stored)
    }
}

/// `XXXX-XXXX` from what a user typed: trimmed, upper-cased, at most one hyphen after the
/// fourth character, eight characters of the alphabet. On the stack, zeroized on drop.
fn canonical(input: &str) -> Result<Zeroizing<[u8; 9]>, RecoveryCodeError> {
    if input.len() > 64 {
        return Err(RecoveryCodeError::Malformed);
    }
    let typed = input.trim().as_bytes();
    let mut out = Zeroizing::new([b'-'; 9]);
    let mut n = 0;
    for (i, &b) in typed.iter().enumerate() {
        if b == b'-' && i == 4 && typed.len() == 9 {
            continue;
        }
        let up = b.to_ascii_uppercase();
        if !ALPHABET.contains(&up) {
            return Err(RecoveryCodeError::Malformed);
        }
        let at = if n < 4 { n } else { n + 1 };
        *out.get_mut(at).ok_or(RecoveryCodeError::Malformed)? = up;
        n += 1;
    }
    if n == 8 && (typed.len() == 8 || typed.len() == 9) {
        Ok(out)
    } else {
        Err(RecoveryCodeError::Malformed)
    }
}

/// A fresh set of 10 distinct codes.
///
/// # Errors
/// [`RecoveryCodeError::Rng`].
pub fn generate_codes() -> Result<Vec<RecoveryCode>, RecoveryCodeError> {
    let mut out: Vec<RecoveryCode> = Vec::with_capacity(CODES_PER_SET);
    while out.len() < CODES_PER_SET {
        let raw = random::string_from_alphabet(ALPHABET, 8).map_err(|_| RecoveryCodeError::Rng)?;
        let code = RecoveryCode::normalize(&raw)?;
        if !out
            .iter()
            .any(|c| c.expose_secret() == code.expose_secret())
        {
            out.push(code);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_canonical_and_distinct() {
        let codes = generate_codes().unwrap();
        assert_eq!(codes.len(), 10);
        for c in &codes {
            let s = c.expose_secret();
            assert_eq!(s.len(), 9);
            assert_eq!(&s[4..5], "-");
            assert!(s.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)));
        }
    }

    #[test]
    fn the_allocation_free_hash_is_the_canonical_codes_hash() {
        let pepper = Pepper::new(SecretString::from("test-pepper-0123456789abcdef0123456789"));
        let expected = pepper.hash("ABCD-1234");
        for input in ["abcd-1234", " ABCD1234 ", "AbCd-1234\n"] {
            assert_eq!(
                RecoveryCode::peppered_hash_presented(input, &pepper),
                Ok(expected),
                "{input:?}"
            );
        }
        for bad in [
            "ABCD-12345",
            "-ABCD1234",
            "ABCD1234-",
            "AB-CD-1234",
            "ABCD 1234",
            "abcd-12é4",
        ] {
            assert_eq!(
                RecoveryCode::peppered_hash_presented(bad, &pepper),
                Err(RecoveryCodeError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn normalisation() {
        for input in ["abcd-1234", " ABCD1234 ", "AbCd-1234\n"] {
            assert_eq!(
                RecoveryCode::normalize(input).unwrap().expose_secret(),
                "ABCD-1234"
            );
        }
        for bad in [
            "",
            "ABCD-123",
            "ABCD_1234",
            "ABCD--1234",
            "ÄBCD-1234",
            "ABC-D1234",
            &"A".repeat(100),
        ] {
            assert_eq!(
                RecoveryCode::normalize(bad).unwrap_err(),
                RecoveryCodeError::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn peppered_hash_matches_upstream_formula() {
        let pepper = Pepper::new(SecretString::from("p"));
        let c = RecoveryCode::normalize("abcd-1234").unwrap();
        assert_eq!(c.peppered_hash(&pepper), TokenHash::of(b"p:ABCD-1234"));
    }
}
