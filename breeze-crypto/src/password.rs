//! Passwords (SPEC 2.1): Argon2id with m = 64 MiB, t = 3, p = 4, 32-byte output and a 16-byte
//! random salt, stored as a PHC string; the password policy; a dummy verify for unknown users;
//! and a "needs rehash" check.
//!
//! Hashing costs about a quarter of a second and 64 MiB: callers on an async executor must
//! run it on a blocking thread and bound how many run at once.
//!
//! ```
//! use breeze_crypto::password::{PasswordPolicy, PolicyViolation};
//!
//! let policy = PasswordPolicy::default();
//! assert!(policy.check("Correct-Horse-9").is_ok());
//! assert_eq!(
//!     policy.check("short").unwrap_err().violations(),
//!     &[PolicyViolation::TooShort { min: 8 }, PolicyViolation::MissingUppercase, PolicyViolation::MissingDigit]
//! );
//! ```

use std::fmt;

use argon2::password_hash::phc::PasswordHash as PhcHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::random;

/// Argon2 memory cost in KiB (64 MiB).
pub const M_COST_KIB: u32 = 65_536;
/// Argon2 iterations.
pub const T_COST: u32 = 3;
/// Argon2 lanes.
pub const P_COST: u32 = 4;
/// Output length in bytes.
pub const OUTPUT_LEN: usize = 32;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Longest password accepted at all (policy maximum is 128 characters; this bounds work on
/// hostile input before hashing).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest PHC string accepted.
pub const MAX_PHC_LEN: usize = 512;
/// Highest memory cost a stored hash may ask for (256 MiB), so a hostile hash cannot exhaust
/// memory.
pub const MAX_M_COST_KIB: u32 = 262_144;
/// Highest iteration count a stored hash may ask for.
pub const MAX_T_COST: u32 = 16;
/// Highest lane count a stored hash may ask for.
pub const MAX_P_COST: u32 = 16;

/// A password hash could not be made or checked. Mismatch is not an error: `verify` answers
/// `Ok(false)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The stored string is not a PHC string of a supported Argon2 variant.
    #[error("stored password hash is malformed or not argon2")]
    MalformedHash,
    /// The stored hash asks for more memory, time or lanes than allowed.
    #[error("stored password hash parameters exceed the allowed maximum")]
    ParametersTooLarge,
    /// The password is longer than [`MAX_PASSWORD_BYTES`].
    #[error("password is too long")]
    TooLong,
    /// The random generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// Argon2 refused its inputs.
    #[error("password hashing failed")]
    Hashing,
}

impl PasswordError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MalformedHash => "password_hash_malformed",
            Self::ParametersTooLarge => "password_hash_parameters_too_large",
            Self::TooLong => "password_too_long",
            Self::Rng => "rng_failure",
            Self::Hashing => "password_hashing_failed",
        }
    }
}

/// A PHC string (`$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>`). Not secret, but not for
/// logs either.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The PHC string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

fn current_params() -> Result<Params, PasswordError> {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|_| PasswordError::Hashing)
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        current_params()?,
    ))
}

/// Hashes a password with the current parameters and a fresh random salt.
///
/// # Errors
/// [`PasswordError::TooLong`], [`PasswordError::Rng`] or [`PasswordError::Hashing`].
pub fn hash_password(password: &SecretString) -> Result<PasswordHash, PasswordError> {
    let salt = random::bytes::<SALT_LEN>().map_err(|_| PasswordError::Rng)?;
    hash_password_with_salt(password, salt.as_ref())
}

/// Hashes with a given salt. Only for known-answer tests and interop vectors: real hashes
/// must use [`hash_password`].
///
/// # Errors
/// As [`hash_password`].
pub fn hash_password_with_salt(
    password: &SecretString,
    salt: &[u8],
) -> Result<PasswordHash, PasswordError> {
    let pw = password.expose_secret().as_bytes();
    if pw.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let phc = hasher()?
        .hash_password_with_salt(pw, salt)
        .map_err(|_| PasswordError::Hashing)?;
    Ok(PasswordHash(phc.to_string()))
}

fn parse_stored(stored: &str) -> Result<PhcHash, PasswordError> {
    if stored.len() > MAX_PHC_LEN {
        return Err(PasswordError::MalformedHash);
    }
    let phc = PhcHash::new(stored).map_err(|_| PasswordError::MalformedHash)?;
    let alg = phc.algorithm.as_str();
    if !matches!(alg, "argon2id" | "argon2i" | "argon2d") {
        return Err(PasswordError::MalformedHash);
    }
    let params = Params::try_from(&phc).map_err(|_| PasswordError::MalformedHash)?;
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return Err(PasswordError::ParametersTooLarge);
    }
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err(PasswordError::MalformedHash);
    }
    Ok(phc)
}

/// Verifies a password against a stored PHC string from any standard Argon2 implementation.
/// The comparison of outputs is constant time.
///
/// # Errors
/// [`PasswordError::MalformedHash`] or [`PasswordError::ParametersTooLarge`] for a bad
/// stored value; [`PasswordError::TooLong`] for an oversized password. A wrong password is
/// `Ok(false)`.
pub fn verify_password(password: &SecretString, stored: &str) -> Result<bool, PasswordError> {
    let pw = password.expose_secret().as_bytes();
    if pw.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let phc = parse_stored(stored)?;
    match Argon2::default().verify_password(pw, &phc) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(PasswordError::MalformedHash),
    }
}

/// A well-formed hash (current parameters, random salt) whose output is 32 random bytes
/// rather than the Argon2 output of any password: no password verifies against it, and
/// making it costs no Argon2 run. For accounts that must have no usable password (users
/// created by an SSO login).
///
/// # Errors
/// [`PasswordError::Rng`].
pub fn unusable_hash() -> Result<String, PasswordError> {
    use base64::Engine as _;
    let salt = random::bytes::<SALT_LEN>().map_err(|_| PasswordError::Rng)?;
    let out = random::bytes::<32>().map_err(|_| PasswordError::Rng)?;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!(
        "$argon2id$v=19$m=65536,t=3,p=4${}${}",
        b64.encode(salt.as_ref()),
        b64.encode(out.as_ref())
    ))
}

/// A valid hash with the current parameters of a password nobody knows.
const DUMMY_HASH: &str = "$argon2id$v=19$m=65536,t=3,p=4$xG4b0hG3S1m9bq0mUw7m9w$Jw1J7Yw6X0yBvR0k2nM3l8Qy1a3b5c7d9e0f2g4h6i8";

/// Runs a full verification against a dummy hash with the current parameters, so that a
/// login for an unknown user takes as long as one for a known user. Always `false`.
#[must_use]
pub fn dummy_verify(password: &SecretString) -> bool {
    let pw = password.expose_secret().as_bytes();
    let bounded = pw.get(..MAX_PASSWORD_BYTES).unwrap_or(pw);
    let _ = PhcHash::new(DUMMY_HASH)
        .ok()
        .map(|phc| Argon2::default().verify_password(bounded, &phc));
    false
}

/// Whether a stored hash is weaker than the current parameters (or not Argon2id / v19) and
/// should be replaced after the next successful login.
///
/// # Errors
/// [`PasswordError::MalformedHash`] or [`PasswordError::ParametersTooLarge`].
pub fn needs_rehash(stored: &str) -> Result<bool, PasswordError> {
    let phc = parse_stored(stored)?;
    let params = Params::try_from(&phc).map_err(|_| PasswordError::MalformedHash)?;
    let output_len = phc.hash.as_ref().map_or(0, |h| h.len());
    let salt_len = phc.salt.as_ref().map_or(0, |s| s.len());
    Ok(phc.algorithm.as_str() != "argon2id"
        || phc.version != Some(0x13)
        || params.m_cost() < M_COST_KIB
        || params.t_cost() < T_COST
        || params.p_cost() < P_COST
        || output_len < OUTPUT_LEN
        || salt_len < SALT_LEN)
}

/// One broken rule of the password policy. Never carries the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Fewer characters than the minimum.
    #[error("password must be at least {min} characters")]
    TooShort {
        /// Minimum length.
        min: usize,
    },
    /// More characters than the maximum.
    #[error("password must be at most {max} characters")]
    TooLong {
        /// Maximum length.
        max: usize,
    },
    /// No lowercase letter.
    #[error("password must contain a lowercase letter")]
    MissingLowercase,
    /// No uppercase letter.
    #[error("password must contain an uppercase letter")]
    MissingUppercase,
    /// No digit.
    #[error("password must contain a digit")]
    MissingDigit,
}

impl PolicyViolation {
    /// Stable machine code for bindings and API error bodies.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "password_too_short",
            Self::TooLong { .. } => "password_too_long",
            Self::MissingLowercase => "password_missing_lowercase",
            Self::MissingUppercase => "password_missing_uppercase",
            Self::MissingDigit => "password_missing_digit",
        }
    }
}

/// Every rule a password broke, in policy order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password does not meet the policy ({} rule(s) broken)", .0.len())]
pub struct PolicyError(Vec<PolicyViolation>);

impl PolicyError {
    /// The broken rules.
    #[must_use]
    pub fn violations(&self) -> &[PolicyViolation] {
        &self.0
    }
}

/// The password policy of SPEC 2.1: 8..=128 characters, a lowercase letter, an uppercase
/// letter and a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_len: usize,
    /// Maximum length in characters.
    pub max_len: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: 8,
            max_len: 128,
        }
    }
}

impl PasswordPolicy {
    /// Checks a candidate password and reports every broken rule.
    ///
    /// # Errors
    /// [`PolicyError`] listing the violations.
    pub fn check(&self, password: &str) -> Result<(), PolicyError> {
        let mut v = Vec::new();
        let n = password.chars().count();
        if n < self.min_len {
            v.push(PolicyViolation::TooShort { min: self.min_len });
        }
        if n > self.max_len {
            v.push(PolicyViolation::TooLong { max: self.max_len });
        }
        if !password.chars().any(char::is_lowercase) {
            v.push(PolicyViolation::MissingLowercase);
        }
        if !password.chars().any(char::is_uppercase) {
            v.push(PolicyViolation::MissingUppercase);
        }
        if !password.chars().any(|c| c.is_ascii_digit()) {
            v.push(PolicyViolation::MissingDigit);
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(PolicyError(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> SecretString {
        SecretString::from(v)
    }

    #[test]
    fn hash_has_spec_parameters_and_verifies() {
        let h = hash_password(&s("Correct-Horse-9")).unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=65536,t=3,p=4$"));
        assert!(verify_password(&s("Correct-Horse-9"), h.as_str()).unwrap());
        assert!(!verify_password(&s("Correct-Horse-8"), h.as_str()).unwrap());
        assert!(!needs_rehash(h.as_str()).unwrap());
        assert_ne!(h, hash_password(&s("Correct-Horse-9")).unwrap(), "salted");
    }

    #[test]
    fn dummy_hash_has_current_parameters() {
        assert!(!needs_rehash(DUMMY_HASH).unwrap());
        assert!(!dummy_verify(&s("anything")));
    }

    #[test]
    fn weaker_hashes_need_rehash() {
        let weak = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$OSsxk9ZbTuw3vB5XqVjO7vk6ofD1fMxq5W0zY+GhZ2A";
        assert!(needs_rehash(weak).unwrap());
        let argon2i = "$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$OSsxk9ZbTuw3vB5XqVjO7vk6ofD1fMxq5W0zY+GhZ2A";
        assert!(needs_rehash(argon2i).unwrap());
    }

    #[test]
    fn bad_stored_values_are_typed_errors() {
        for bad in [
            "",
            "plaintext",
            "$2b$12$abcdefghijklmnopqrstuu",
            "$argon2id$v=19$m=65536,t=3,p=4$",
            "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
        ] {
            assert_eq!(
                verify_password(&s("x"), bad),
                Err(PasswordError::MalformedHash),
                "{bad}"
            );
        }
        let huge = "$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$OSsxk9ZbTuw3vB5XqVjO7vk6ofD1fMxq5W0zY+GhZ2A";
        assert_eq!(
            verify_password(&s("x"), huge),
            Err(PasswordError::ParametersTooLarge)
        );
        let long = "$argon2id$".repeat(100);
        assert_eq!(
            verify_password(&s("x"), &long),
            Err(PasswordError::MalformedHash)
        );
        assert_eq!(
            hash_password(&s(&"a".repeat(MAX_PASSWORD_BYTES + 1))),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn policy_reports_each_rule() {
        let p = PasswordPolicy::default();
        assert!(p.check("Abcdefg1").is_ok());
        assert_eq!(
            p.check("abcdefg1").unwrap_err().violations(),
            &[PolicyViolation::MissingUppercase]
        );
        assert_eq!(
            p.check("ABCDEFG1").unwrap_err().violations(),
            &[PolicyViolation::MissingLowercase]
        );
        assert_eq!(
            p.check("Abcdefgh").unwrap_err().violations(),
            &[PolicyViolation::MissingDigit]
        );
        let long = format!("Ab1{}", "x".repeat(126));
        assert_eq!(
            p.check(&long).unwrap_err().violations(),
            &[PolicyViolation::TooLong { max: 128 }]
        );
        assert_eq!(
            p.check("").unwrap_err().violations(),
            &[
                PolicyViolation::TooShort { min: 8 },
                PolicyViolation::MissingLowercase,
                PolicyViolation::MissingUppercase,
                PolicyViolation::MissingDigit
            ]
        );
        // characters, not bytes
        assert!(p.check("Ééééééé1").is_ok());
        let msg = p.check("Secretpass").unwrap_err().to_string();
        assert!(!msg.contains("Secretpass"));
    }

    #[test]
    fn an_unusable_hash_is_well_formed_and_verifies_nothing() {
        let h = unusable_hash().unwrap();
        assert!(parse_stored(&h).is_ok());
        assert!(!needs_rehash(&h).unwrap());
        assert!(!verify_password(&SecretString::from(""), &h).unwrap());
        assert!(!verify_password(&SecretString::from("Correct-horse-1"), &h).unwrap());
        assert_ne!(h, unusable_hash().unwrap());
    }
}
