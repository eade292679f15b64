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

/// Whether `presented` equals any of `candidates`, comparing against every candidate (no
/// early exit on the first match), each in constant time: used while a secret is rolled and
/// an old and a new value are both accepted.
///
/// ```
/// assert!(breeze_crypto::ct::constant_time_eq_any(b"new", &[b"old", b"new"]));
/// assert!(!breeze_crypto::ct::constant_time_eq_any(b"other", &[b"old", b"new"]));
/// assert!(!breeze_crypto::ct::constant_time_eq_any(b"x", &[]));
/// ```
#[must_use]
pub fn constant_time_eq_any(presented: &[u8], candidates: &[&[u8]]) -> bool {
    let mut found = subtle::Choice::from(0u8);
    for candidate in candidates {
        found |= presented.ct_eq(candidate);
    }
    bool::from(found)
}
