//! Signed checkpoints: an Ed25519 signature over (chain id, sequence, head hash, entry
//! count, time, key id), and the key ring that verifies them across key rotations.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::chain::ChainHead;
use super::chain_id::ChainId;
use super::hash::ChainHash;
use super::timestamp::Timestamp;

/// Domain tag that starts every signed checkpoint message.
pub const CHECKPOINT_DOMAIN: &[u8] = b"breeze-audit/v1/checkpoint\0";

/// Longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 64;

/// A problem with a checkpoint, a key or a key ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckpointError {
    /// The key id is empty, too long or has characters outside `A-Z a-z 0-9 . _ -`.
    #[error("invalid key id: expected 1 to 64 characters from `A-Z a-z 0-9 . _ -`")]
    KeyIdSyntax,
    /// No key with this id in the ring.
    #[error("unknown checkpoint key `{key_id}`")]
    UnknownKey {
        /// The key id.
        key_id: String,
    },
    /// A key id already bound to a different public key.
    #[error("key id `{key_id}` is already bound to a different public key")]
    KeyIdConflict {
        /// The key id.
        key_id: String,
    },
    /// Not a valid Ed25519 public key.
    #[error("invalid Ed25519 public key")]
    PublicKey,
    /// The signature does not verify.
    #[error("checkpoint signature does not verify")]
    BadSignature,
    /// A checkpoint needs at least one entry in the chain.
    #[error("cannot checkpoint an empty chain")]
    EmptyChain,
    /// The entry count does not equal sequence + 1.
    #[error("checkpoint entry count does not match its sequence")]
    CountMismatch,
}

impl CheckpointError {
    /// A stable machine code (snake_case) for the bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::KeyIdSyntax => "key_id_syntax",
            Self::UnknownKey { .. } => "unknown_key",
            Self::KeyIdConflict { .. } => "key_id_conflict",
            Self::PublicKey => "public_key",
            Self::BadSignature => "bad_signature",
            Self::EmptyChain => "empty_chain",
            Self::CountMismatch => "count_mismatch",
        }
    }
}

/// The id of a checkpoint signing key: 1 to 64 characters from `A-Z a-z 0-9 . _ -`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Validates a key id.
    ///
    /// # Errors
    /// [`CheckpointError::KeyIdSyntax`].
    pub fn new(id: &str) -> Result<Self, CheckpointError> {
        let ok = (1..=MAX_KEY_ID_LEN).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(CheckpointError::KeyIdSyntax)
        }
    }

    /// The key id text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = CheckpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::strvisit::parse_str(d, "a key id")
    }
}

/// A 64-byte Ed25519 signature, rendered as 128 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureBytes(pub [u8; 64]);

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureBytes({})", hex::encode(self.0))
    }
}

impl FromStr for SignatureBytes {
    type Err = CheckpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Exactly 128 digits: `const_hex` would also take a `0x` prefix, which is not canonical.
        if s.len() != 128 {
            return Err(CheckpointError::BadSignature);
        }
        let mut out = [0u8; 64];
        const_hex::decode_to_slice(s, &mut out).map_err(|_| CheckpointError::BadSignature)?;
        Ok(Self(out))
    }
}

impl fmt::Display for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for SignatureBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::strvisit::parse_str(d, "128 hex digits")
    }
}

/// A signed statement that `chain` had `entry_count` entries and head `head_hash` at
/// `sequence`, made at `timestamp` with the key `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The chain.
    pub chain: ChainId,
    /// Sequence number of the head entry.
    pub sequence: u64,
    /// Chain hash of the head entry.
    pub head_hash: ChainHash,
    /// Entries sealed from genesis through the head (always `sequence + 1`).
    pub entry_count: u64,
    /// When the checkpoint was signed.
    pub timestamp: Timestamp,
    /// The signing key.
    pub key_id: KeyId,
    /// Ed25519 signature over [`Checkpoint::signed_message`].
    pub signature: SignatureBytes,
}

impl Checkpoint {
    /// The exact bytes signed: `CHECKPOINT_DOMAIN`, chain id (`00`, or `01` + 16 UUID
    /// bytes), sequence (u64 BE), head hash (32 bytes), entry count (u64 BE), timestamp
    /// (i64 BE microseconds), key id (u32 BE length + UTF-8).
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(128);
        self.write_signed_message(&mut m);
        m
    }

    pub(crate) fn write_signed_message(&self, m: &mut Vec<u8>) {
        m.extend_from_slice(CHECKPOINT_DOMAIN);
        self.chain.encode(m);
        m.extend_from_slice(&self.sequence.to_be_bytes());
        m.extend_from_slice(self.head_hash.as_bytes());
        m.extend_from_slice(&self.entry_count.to_be_bytes());
        m.extend_from_slice(&self.timestamp.unix_micros().to_be_bytes());
        super::canonical::put_str(m, self.key_id.as_str());
    }
}

/// A checkpoint signing key with its id. The secret is zeroized on drop and never printed.
pub struct CheckpointSigner {
    key_id: KeyId,
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl CheckpointSigner {
    /// A signer from a 32-byte Ed25519 seed (the caller's copy should be zeroized too).
    #[must_use]
    pub fn from_seed(key_id: KeyId, seed: &Zeroizing<[u8; 32]>) -> Self {
        Self {
            key_id,
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The key id.
    #[must_use]
    pub const fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The public half, to put in a [`KeyRing`].
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs a checkpoint of a chain's current head.
    ///
    /// # Errors
    /// [`CheckpointError::EmptyChain`] when nothing has been sealed yet.
    pub fn sign_head(
        &self,
        head: &ChainHead,
        at: Timestamp,
    ) -> Result<Checkpoint, CheckpointError> {
        let sequence = head
            .next_sequence()
            .checked_sub(1)
            .ok_or(CheckpointError::EmptyChain)?;
        let mut cp = Checkpoint {
            chain: head.chain(),
            sequence,
            head_hash: head.head_hash(),
            entry_count: head.next_sequence(),
            timestamp: at,
            key_id: self.key_id.clone(),
            signature: SignatureBytes([0; 64]),
        };
        cp.signature = SignatureBytes(self.key.sign(&cp.signed_message()).to_bytes());
        Ok(cp)
    }
}

/// Public keys by key id: old keys stay in the ring after rotation so old checkpoints
/// still verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl KeyRing {
    /// An empty ring.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key.
    ///
    /// # Errors
    /// [`CheckpointError::KeyIdConflict`] when the id is bound to another key already
    /// (adding the same key twice is fine).
    pub fn insert(&mut self, key_id: KeyId, key: VerifyingKey) -> Result<(), CheckpointError> {
        match self.keys.get(&key_id) {
            Some(existing) if *existing != key => {
                Err(CheckpointError::KeyIdConflict { key_id: key_id.0 })
            }
            _ => {
                self.keys.insert(key_id, key);
                Ok(())
            }
        }
    }

    /// Adds a key given as 32 raw bytes.
    ///
    /// # Errors
    /// [`CheckpointError::PublicKey`] for bytes that are not an Ed25519 point, or
    /// [`CheckpointError::KeyIdConflict`].
    pub fn insert_bytes(&mut self, key_id: KeyId, key: &[u8; 32]) -> Result<(), CheckpointError> {
        let key = VerifyingKey::from_bytes(key).map_err(|_| CheckpointError::PublicKey)?;
        if key.is_weak() {
            return Err(CheckpointError::PublicKey);
        }
        self.insert(key_id, key)
    }

    /// The key of an id.
    #[must_use]
    pub fn get(&self, key_id: &KeyId) -> Option<&VerifyingKey> {
        self.keys.get(key_id)
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Iterates over (key id, public key) in key-id order.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &VerifyingKey)> {
        self.keys.iter()
    }

    /// Verifies a checkpoint's signature (strict Ed25519) and its entry count.
    ///
    /// # Errors
    /// [`CheckpointError::UnknownKey`], [`CheckpointError::BadSignature`] or
    /// [`CheckpointError::CountMismatch`].
    pub fn verify(&self, cp: &Checkpoint) -> Result<(), CheckpointError> {
        let key = self
            .keys
            .get(&cp.key_id)
            .ok_or_else(|| CheckpointError::UnknownKey {
                key_id: cp.key_id.0.clone(),
            })?;
        if cp.sequence.checked_add(1) != Some(cp.entry_count) {
            return Err(CheckpointError::CountMismatch);
        }
        let sig = Signature::from_bytes(&cp.signature.0);
        key.verify_strict(&cp.signed_message(), &sig)
            .map_err(|_| CheckpointError::BadSignature)
    }
}

/// The JSON form of one ring key: `{"key_id": "...", "public_key": "<64 hex>"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublicKeyWire {
    pub(crate) key_id: KeyId,
    pub(crate) public_key: String,
}

impl KeyRing {
    pub(crate) fn to_wire(&self) -> Vec<PublicKeyWire> {
        self.keys
            .iter()
            .map(|(id, k)| PublicKeyWire {
                key_id: id.clone(),
                public_key: hex::encode(k.as_bytes()),
            })
            .collect()
    }

    pub(crate) fn from_wire(keys: &[PublicKeyWire]) -> Result<Self, CheckpointError> {
        let mut ring = Self::new();
        for k in keys {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(&k.public_key, &mut bytes)
                .map_err(|_| CheckpointError::PublicKey)?;
            ring.insert_bytes(k.key_id.clone(), &bytes)?;
        }
        Ok(ring)
    }
}
