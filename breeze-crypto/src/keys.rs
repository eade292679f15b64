//! Validation of configured secrets (SPEC 4 and 9): encryption keys, JWT secrets, peppers and
//! the list of known placeholder values a production deployment must refuse.
//!
//! These checks run at startup, before a key is ever used. They never echo the value they
//! reject.
//!
//! ```
//! use breeze_crypto::keys::{validate_encryption_key, validate_distinct_keys, KeyError};
//!
//! let app = "4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7";
//! let mfa = "9b3e71c0d5a28f46e1b7c3d9a0f5e2b8c4d6a1f3e7b9c0d2a5f8e1b4c7d0a3f6";
//! validate_encryption_key(app)?;
//! validate_encryption_key(mfa)?;
//! validate_distinct_keys(app, mfa)?;
//! assert_eq!(validate_encryption_key("changeme"), Err(KeyError::Placeholder));
//! # Ok::<(), KeyError>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::ct::constant_time_eq;

/// Known placeholder and default values (compared case-insensitively, ignoring separators).
/// Upstream Breeze refuses 24; this list is a superset.
pub const KNOWN_PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me_in_production",
    "changeit",
    "secret",
    "password",
    "passw0rd",
    "default",
    "example",
    "test",
    "testing",
    "development",
    "placeholder",
    "replace-me",
    "replace-with-a-real-secret",
    "your-secret-here",
    "your-secret-key",
    "your-jwt-secret",
    "your-super-secret-jwt-key",
    "your-encryption-key",
    "your-32-byte-hex-key",
    "your-enrollment-secret",
    "supersecret",
    "super-secret-key",
    "mysecret",
    "my-secret-key",
    "jwt-secret",
    "jwt_secret_change_me",
    "breeze",
    "breeze-dev-secret",
    "dev-secret",
    "insecure",
    "admin",
    "letmein",
    "dummy",
    "sample",
    "todo",
    "xxxxxxxx",
    "12345678",
    "1234567890abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0000000000000000000000000000000000000000000000000000000000000000",
];

/// Fragments that mark a value as a placeholder wherever they appear (after normalisation).
const PLACEHOLDER_MARKERS: &[&str] = &[
    "changeme",
    "changeit",
    "replaceme",
    "yoursecret",
    "yourkey",
    "yourjwt",
    "placeholder",
    "example",
    "insecure",
    "donotuse",
];

/// Minimum length in bytes of a JWT signing secret (SPEC 2.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// Minimum length in characters of a pepper or shared enrollment secret.
pub const MIN_PEPPER_CHARS: usize = 32;
/// Minimum number of distinct byte values in a decoded encryption key (SPEC 4).
pub const MIN_DISTINCT_KEY_BYTES: usize = 16;
/// Minimum number of distinct characters in a JWT secret or pepper.
pub const MIN_DISTINCT_SECRET_CHARS: usize = 10;

/// Why a configured secret is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The value is a known placeholder or default.
    #[error("value is a known placeholder or default")]
    Placeholder,
    /// The value is neither 64 hex characters nor base64 of 32 bytes.
    #[error("key must be 64 hex characters or base64 of exactly 32 bytes")]
    NotDecodable,
    /// The value decodes, but not to 32 bytes.
    #[error("key decodes to {actual} bytes, expected 32")]
    WrongLength {
        /// Decoded length.
        actual: usize,
    },
    /// Too few distinct byte values or characters.
    #[error("key has {distinct} distinct values, at least {minimum} required")]
    LowEntropy {
        /// Distinct values found.
        distinct: usize,
        /// Distinct values required.
        minimum: usize,
    },
    /// The bytes form a simple sequence (constant, counting up or down, or a short repeat).
    #[error("key is a simple sequence")]
    SimpleSequence,
    /// The secret is shorter than required.
    #[error("secret is {actual} bytes, at least {minimum} required")]
    TooShort {
        /// Length found.
        actual: usize,
        /// Length required.
        minimum: usize,
    },
    /// Two keys that must differ are equal.
    #[error("two keys that must be different are equal")]
    NotDistinct,
}

impl KeyError {
    /// Stable machine code for bindings and config reports.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Placeholder => "placeholder",
            Self::NotDecodable => "not_decodable",
            Self::WrongLength { .. } => "wrong_length",
            Self::LowEntropy { .. } => "low_entropy",
            Self::SimpleSequence => "simple_sequence",
            Self::TooShort { .. } => "too_short",
            Self::NotDistinct => "not_distinct",
        }
    }
}

fn normalise(value: &str) -> String {
    value
        .trim()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether `value` is a known placeholder or default, or contains a placeholder marker
/// such as `changeme` or `your-secret`. Case and separators (`-`, `_`, spaces) are ignored.
#[must_use]
pub fn is_known_placeholder(value: &str) -> bool {
    let norm = normalise(value);
    if norm.is_empty() {
        return true;
    }
    KNOWN_PLACEHOLDERS.iter().any(|p| normalise(p) == norm)
        || PLACEHOLDER_MARKERS.iter().any(|m| norm.contains(m))
}

/// Decodes a configured encryption key: 64 hex characters, or base64 (standard or URL-safe,
/// padded or not). The result is zeroized on drop.
///
/// # Errors
/// [`KeyError::NotDecodable`] or [`KeyError::WrongLength`].
pub fn decode_key_material(value: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let value = value.trim();
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(value)
            .map(Zeroizing::new)
            .map_err(|_| KeyError::NotDecodable);
    }
    let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
        .map(Zeroizing::new)
        .ok_or(KeyError::NotDecodable)?;
    if decoded.len() != 32 {
        return Err(KeyError::WrongLength {
            actual: decoded.len(),
        });
    }
    Ok(decoded)
}

fn distinct_bytes(bytes: &[u8]) -> usize {
    let mut seen = [false; 256];
    for b in bytes {
        if let Some(slot) = seen.get_mut(usize::from(*b)) {
            *slot = true;
        }
    }
    seen.iter().filter(|s| **s).count()
}

/// A constant difference between neighbours (`00 01 02 ..`, `ff fe ..`, `aa aa ..`) or a
/// repeat of a pattern of at most 8 bytes.
fn is_simple_sequence(bytes: &[u8]) -> bool {
    let diffs: Vec<u8> = bytes
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(b.wrapping_sub(*a)),
            _ => None,
        })
        .collect();
    if diffs.windows(2).all(|w| matches!(w, [a, b] if a == b)) {
        return true;
    }
    (1..=8).any(|period| {
        bytes.len() > period
            && bytes
                .iter()
                .zip(bytes.iter().skip(period))
                .all(|(a, b)| a == b)
    })
}

/// Validates an AES-256 encryption key as configured (SPEC 4): decodes to exactly 32 bytes
/// (64 hex or base64), has at least 16 distinct byte values, is not a simple sequence, and
/// is not a known placeholder.
///
/// # Errors
/// The first rule the key breaks.
pub fn validate_encryption_key(value: &str) -> Result<(), KeyError> {
    if is_known_placeholder(value) {
        return Err(KeyError::Placeholder);
    }
    let bytes = decode_key_material(value)?;
    if is_simple_sequence(&bytes) {
        return Err(KeyError::SimpleSequence);
    }
    let distinct = distinct_bytes(&bytes);
    if distinct < MIN_DISTINCT_KEY_BYTES {
        return Err(KeyError::LowEntropy {
            distinct,
            minimum: MIN_DISTINCT_KEY_BYTES,
        });
    }
    Ok(())
}

fn validate_text_secret(value: &str, minimum: usize) -> Result<(), KeyError> {
    if is_known_placeholder(value) {
        return Err(KeyError::Placeholder);
    }
    if value.len() < minimum {
        return Err(KeyError::TooShort {
            actual: value.len(),
            minimum,
        });
    }
    if is_simple_sequence(value.as_bytes()) {
        return Err(KeyError::SimpleSequence);
    }
    let distinct = distinct_bytes(value.as_bytes());
    if distinct < MIN_DISTINCT_SECRET_CHARS {
        return Err(KeyError::LowEntropy {
            distinct,
            minimum: MIN_DISTINCT_SECRET_CHARS,
        });
    }
    Ok(())
}

/// Validates an HS256 signing secret: at least 32 bytes, at least 10 distinct characters,
/// not a simple sequence, not a placeholder.
///
/// # Errors
/// The first rule the secret breaks.
pub fn validate_jwt_secret(value: &str) -> Result<(), KeyError> {
    validate_text_secret(value, MIN_JWT_SECRET_BYTES)
}

/// Validates a pepper (SPEC 3.2) or a shared enrollment secret with the same rules as a JWT
/// secret.
///
/// # Errors
/// The first rule the secret breaks.
pub fn validate_pepper(value: &str) -> Result<(), KeyError> {
    validate_text_secret(value, MIN_PEPPER_CHARS)
}

/// Checks that two configured secrets differ (the app key and the MFA key must, SPEC 4).
/// Keys that decode to the same bytes in different encodings count as equal.
///
/// # Errors
/// [`KeyError::NotDistinct`].
pub fn validate_distinct_keys(first: &str, second: &str) -> Result<(), KeyError> {
    let same_text = constant_time_eq(first.trim().as_bytes(), second.trim().as_bytes());
    let same_bytes = match (decode_key_material(first), decode_key_material(second)) {
        (Ok(a), Ok(b)) => constant_time_eq(&a, &b),
        _ => false,
    };
    if same_text || same_bytes {
        Err(KeyError::NotDistinct)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7";

    #[test]
    fn at_least_24_placeholders_all_refused() {
        assert!(KNOWN_PLACEHOLDERS.len() >= 24);
        for p in KNOWN_PLACEHOLDERS {
            assert!(is_known_placeholder(p), "{p}");
            assert_eq!(validate_jwt_secret(p), Err(KeyError::Placeholder), "{p}");
            assert_eq!(
                validate_encryption_key(p),
                Err(KeyError::Placeholder),
                "{p}"
            );
        }
        assert!(is_known_placeholder("  CHANGE_ME  "));
        assert!(is_known_placeholder("please-changeme-now-0123456789abcdef"));
        assert!(is_known_placeholder(""));
        assert!(!is_known_placeholder(GOOD));
    }

    #[test]
    fn encryption_key_rules() {
        assert_eq!(validate_encryption_key(GOOD), Ok(()));
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(GOOD).unwrap());
        assert_eq!(validate_encryption_key(&b64), Ok(()));
        assert_eq!(validate_encryption_key("zz"), Err(KeyError::NotDecodable));
        let short = base64::engine::general_purpose::STANDARD.encode([7u8, 1, 2, 3, 9, 200]);
        assert_eq!(
            validate_encryption_key(&short),
            Err(KeyError::WrongLength { actual: 6 })
        );
        let counting: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            validate_encryption_key(&counting),
            Err(KeyError::SimpleSequence)
        );
        let descending: String = (0u8..32).map(|b| format!("{:02x}", 250 - b)).collect();
        assert_eq!(
            validate_encryption_key(&descending),
            Err(KeyError::SimpleSequence)
        );
        let repeat = "a1b2c3d4".repeat(8);
        assert_eq!(
            validate_encryption_key(&repeat),
            Err(KeyError::SimpleSequence)
        );
        // 32 bytes drawn from only 4 values, not periodic.
        let few: String = [1u8, 2, 3, 4, 4, 3, 2, 1, 1, 3, 2, 4, 2, 4, 1, 3]
            .iter()
            .chain([4u8, 4, 1, 1, 2, 2, 3, 3, 1, 4, 3, 2, 3, 1, 4, 2].iter())
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            validate_encryption_key(&few),
            Err(KeyError::LowEntropy {
                distinct: 4,
                minimum: 16
            })
        );
    }

    #[test]
    fn jwt_secret_rules() {
        assert_eq!(
            validate_jwt_secret("Tq9!vR2#pL7@wX4$zK8%mN3^bH6&"),
            Err(KeyError::TooShort {
                actual: 28,
                minimum: 32
            })
        );
        assert_eq!(
            validate_jwt_secret(&"ab".repeat(20)),
            Err(KeyError::SimpleSequence)
        );
        assert_eq!(
            validate_jwt_secret("Tq9!vR2#pL7@wX4$zK8%mN3^bH6&jD5*fG1("),
            Ok(())
        );
    }

    #[test]
    fn distinct_keys_compare_decoded_bytes() {
        let other = "9b3e71c0d5a28f46e1b7c3d9a0f5e2b8c4d6a1f3e7b9c0d2a5f8e1b4c7d0a3f6";
        assert_eq!(validate_distinct_keys(GOOD, other), Ok(()));
        assert_eq!(
            validate_distinct_keys(GOOD, GOOD),
            Err(KeyError::NotDistinct)
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(GOOD).unwrap());
        assert_eq!(
            validate_distinct_keys(GOOD, &b64),
            Err(KeyError::NotDistinct)
        );
    }
}
