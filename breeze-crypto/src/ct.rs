//! Constant-time comparison for secrets and their hashes.

use subtle::ConstantTimeEq;

/// Compares two byte strings in time that depends only on their lengths, never on where they
/// first differ. Unequal lengths compare unequal.
///
/// ```
/// assert!(breeze_crypto::ct::constant_time_eq(b"abc", b"abc"));
/// assert!(!breeze_crypto::ct::constant_time_eq(b"abc", b"abd"));
/// ```
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}
