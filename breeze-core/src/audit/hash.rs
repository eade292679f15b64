//! SHA-256 digests of the chain and their domain-separation tags.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Domain tag prefixed to the canonical bytes when computing a content hash.
pub const CONTENT_HASH_DOMAIN: &[u8] = b"breeze-audit/v1/content\0";
/// Domain tag prefixed to `previous chain hash || content hash` when computing a chain hash.
pub const CHAIN_HASH_DOMAIN: &[u8] = b"breeze-audit/v1/chain\0";

/// A SHA-256 digest: a content hash or a chain hash. Renders as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest32([u8; 32]);

/// The hash an entry of the chain links to (the chain hash of its predecessor).
pub type ChainHash = Digest32;

impl Digest32 {
    /// The all-zero digest: the previous chain hash of the first entry of a chain (genesis).
    pub const ZERO: Self = Self([0; 32]);

    /// Wraps raw digest bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex rendering.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// A digest string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest: expected 64 hex digits")]
pub struct DigestParseError;

impl FromStr for Digest32 {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Exactly 64 digits: `const_hex` would also take a `0x` prefix, which is not canonical.
        if s.len() != 64 {
            return Err(DigestParseError);
        }
        let mut out = [0u8; 32];
        const_hex::decode_to_slice(s, &mut out).map_err(|_| DigestParseError)?;
        Ok(Self(out))
    }
}

impl fmt::Display for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest32({})", self.to_hex())
    }
}

impl Serialize for Digest32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the input length.
        hex::encode_to_slice(self.0, &mut buf).map_err(serde::ser::Error::custom)?;
        let text = std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?;
        s.serialize_str(text)
    }
}

impl<'de> Deserialize<'de> for Digest32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::strvisit::parse_str(d, "64 hex digits")
    }
}

/// `SHA-256(CONTENT_HASH_DOMAIN || canonical)`.
#[must_use]
pub fn content_hash_of(canonical: &[u8]) -> Digest32 {
    let mut h = Sha256::new();
    h.update(CONTENT_HASH_DOMAIN);
    h.update(canonical);
    Digest32(h.finalize().into())
}

/// `SHA-256(CHAIN_HASH_DOMAIN || previous || content)`.
#[must_use]
pub fn chain_hash_of(previous: &Digest32, content: &Digest32) -> Digest32 {
    let mut h = Sha256::new();
    h.update(CHAIN_HASH_DOMAIN);
    h.update(previous.0);
    h.update(content.0);
    Digest32(h.finalize().into())
}

/// Plain SHA-256 (used by the details sanitizer for bulky values).
#[must_use]
pub fn sha256(bytes: &[u8]) -> Digest32 {
    Digest32(Sha256::digest(bytes).into())
}
