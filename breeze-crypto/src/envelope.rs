//! Secrets at rest (SPEC 4): AES-256-GCM envelopes, key rings and re-encryption.
//!
//! ```text
//! enc:v1:<iv>.<tag>.<ciphertext>                  legacy, no key id, no associated data
//! enc:v2:<keyId>:<iv>.<tag>.<ciphertext>          no associated data
//! enc:v3:<keyId>:<iv>.<tag>.<ciphertext>          associated data = "<table>.<column>"
//! mfa:v1:<iv>.<tag>.<ciphertext>                  TOTP secrets, under the MFA key
//! ```
//! Parts are base64url without padding; the IV is 12 random bytes per encryption and the
//! tag 16 bytes. The AES key is SHA-256 of the configured key string (COMPAT with upstream).
//!
//! New writes are always v3 under the active key, bound to their column. Reading is strict:
//! [`KeyRing::decrypt`] accepts only v3 with the right associated data (no downgrade, no
//! plaintext pass-through). Older envelopes are read only by [`KeyRing::reencrypt`], which
//! moves any readable value to v3 under the active key.
//!
//! ```
//! use breeze_crypto::envelope::{Field, KeyRing, EnvelopeError};
//! use secrecy::{ExposeSecret, SecretString};
//!
//! let ring = KeyRing::builder()
//!     .key("k2026", SecretString::from("4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7"))?
//!     .active("k2026")?;
//! let field = Field::new("sso_providers", "client_secret")?;
//! let stored = ring.encrypt("s3cr3t", &field)?;
//! assert!(stored.starts_with("enc:v3:k2026:"));
//! assert_eq!(ring.decrypt(&stored, &field)?.expose_secret(), "s3cr3t");
//!
//! // The same ciphertext moved to another column does not open.
//! let other = Field::new("webhooks", "secret")?;
//! assert_eq!(ring.decrypt(&stored, &other).unwrap_err(), EnvelopeError::Authentication);
//! // A value without an envelope is refused, never passed through as plaintext.
//! assert_eq!(ring.decrypt("s3cr3t", &field).unwrap_err(), EnvelopeError::NotAnEnvelope);
//! # Ok::<(), EnvelopeError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::random;

/// Longest envelope accepted (9 MiB); longer input is refused before decoding.
pub const MAX_ENVELOPE_LEN: usize = 9 << 20;
/// Longest plaintext accepted for encryption (6 MiB, so the envelope fits the limit above).
/// The largest values are the payload and outcome of a remote file transfer (SPEC 12: 4 MiB
/// of content, base64 in JSON, about 5.6 MB).
pub const MAX_PLAINTEXT_LEN: usize = 6 << 20;
/// Longest key id.
pub const MAX_KEY_ID_LEN: usize = 64;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a value could not be encrypted or decrypted. Messages never contain key material or
/// plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The value does not start with a known envelope prefix.
    #[error("value is not an encrypted envelope")]
    NotAnEnvelope,
    /// The envelope prefix is known but the rest is malformed (parts, base64, lengths).
    #[error("encrypted envelope is malformed: {0}")]
    Malformed(&'static str),
    /// Longer than [`MAX_ENVELOPE_LEN`] or [`MAX_PLAINTEXT_LEN`].
    #[error("value is too large")]
    TooLarge,
    /// The key id in the envelope is not in the ring.
    #[error("unknown encryption key id `{0}`")]
    UnknownKeyId(String),
    /// A v1 envelope, but no legacy key is configured.
    #[error("no legacy key configured for enc:v1 values")]
    NoLegacyKey,
    /// The envelope version is not accepted here (for example v2 where v3 is required).
    #[error("envelope version `{found}` not accepted here, `{required}` required")]
    VersionNotAccepted {
        /// Version found.
        found: &'static str,
        /// Version required.
        required: &'static str,
    },
    /// Tag check failed: wrong key, wrong associated data, or altered bytes.
    #[error("decryption failed: wrong key, wrong context or altered value")]
    Authentication,
    /// The plaintext is not UTF-8.
    #[error("decrypted value is not utf-8")]
    NotUtf8,
    /// A key id or field name breaks its syntax.
    #[error("invalid {what}: `{value}`")]
    InvalidName {
        /// What was being named.
        what: &'static str,
        /// The offending name (not secret).
        value: String,
    },
    /// The ring has no key with the id named as active, or no keys at all.
    #[error("the active key id `{0}` is not in the key ring")]
    ActiveKeyMissing(String),
    /// The same key id was added twice.
    #[error("key id `{0}` added twice")]
    DuplicateKeyId(String),
    /// The random generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl EnvelopeError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotAnEnvelope => "not_an_envelope",
            Self::Malformed(_) => "envelope_malformed",
            Self::TooLarge => "too_large",
            Self::UnknownKeyId(_) => "unknown_key_id",
            Self::NoLegacyKey => "no_legacy_key",
            Self::VersionNotAccepted { .. } => "version_not_accepted",
            Self::Authentication => "authentication_failed",
            Self::NotUtf8 => "not_utf8",
            Self::InvalidName { .. } => "invalid_name",
            Self::ActiveKeyMissing(_) => "active_key_missing",
            Self::DuplicateKeyId(_) => "duplicate_key_id",
            Self::Rng => "rng_failure",
        }
    }
}

/// A 256-bit AES key derived from a configured key string: SHA-256 of its UTF-8 bytes.
struct DerivedKey(Aes256Gcm);

impl DerivedKey {
    fn from_config(value: &SecretString) -> Self {
        let digest = Zeroizing::new(<[u8; 32]>::from(Sha256::digest(
            value.expose_secret().as_bytes(),
        )));
        Self(Aes256Gcm::new(&(*digest).into()))
    }
}

/// The table and column a value is stored in; its associated data is `"<table>.<column>"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    aad: String,
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Field {
    /// A field; table and column are lowercase SQL identifiers (`[a-z0-9_]`, 1..=63).
    ///
    /// # Errors
    /// [`EnvelopeError::InvalidName`].
    pub fn new(table: &str, column: &str) -> Result<Self, EnvelopeError> {
        for (what, v) in [("table name", table), ("column name", column)] {
            if !is_identifier(v) {
                return Err(EnvelopeError::InvalidName {
                    what,
                    value: v.chars().take(64).collect(),
                });
            }
        }
        Ok(Self {
            aad: format!("{table}.{column}"),
        })
    }

    /// The associated data bytes, `"<table>.<column>"`.
    #[must_use]
    pub fn associated_data(&self) -> &str {
        &self.aad
    }
}

fn validate_key_id(id: &str) -> Result<(), EnvelopeError> {
    if !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Ok(())
    } else {
        Err(EnvelopeError::InvalidName {
            what: "key id",
            value: id.chars().take(MAX_KEY_ID_LEN).collect(),
        })
    }
}

/// Envelope versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `enc:v1`: legacy key, no associated data.
    V1,
    /// `enc:v2`: key id, no associated data.
    V2,
    /// `enc:v3`: key id and column-bound associated data.
    V3,
    /// `mfa:v1`: TOTP secrets under the MFA key.
    MfaV1,
}

impl Version {
    /// The prefix as written (`enc:v3`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "enc:v1",
            Self::V2 => "enc:v2",
            Self::V3 => "enc:v3",
            Self::MfaV1 => "mfa:v1",
        }
    }
}

/// A parsed envelope (borrowed parts, not yet authenticated).
struct Parsed<'a> {
    version: Version,
    key_id: Option<&'a str>,
    iv: [u8; IV_LEN],
    tag: [u8; TAG_LEN],
    ciphertext: Vec<u8>,
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| EnvelopeError::Malformed(what))
}

fn parse(value: &str) -> Result<Parsed<'_>, EnvelopeError> {
    if value.len() > MAX_ENVELOPE_LEN {
        return Err(EnvelopeError::TooLarge);
    }
    let (version, rest) = if let Some(r) = value.strip_prefix("enc:v1:") {
        (Version::V1, r)
    } else if let Some(r) = value.strip_prefix("enc:v2:") {
        (Version::V2, r)
    } else if let Some(r) = value.strip_prefix("enc:v3:") {
        (Version::V3, r)
    } else if let Some(r) = value.strip_prefix("mfa:v1:") {
        (Version::MfaV1, r)
    } else {
        return Err(EnvelopeError::NotAnEnvelope);
    };
    let (key_id, body) = match version {
        Version::V2 | Version::V3 => {
            let (kid, body) = rest
                .split_once(':')
                .ok_or(EnvelopeError::Malformed("missing key id"))?;
            validate_key_id(kid).map_err(|_| EnvelopeError::Malformed("invalid key id"))?;
            (Some(kid), body)
        }
        Version::V1 | Version::MfaV1 => (None, rest),
    };
    let mut parts = body.split('.');
    let (Some(iv), Some(tag), Some(ct), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(EnvelopeError::Malformed("expected iv.tag.ciphertext"));
    };
    let iv: [u8; IV_LEN] = b64(iv, "iv is not base64url")?
        .try_into()
        .map_err(|_| EnvelopeError::Malformed("iv must be 12 bytes"))?;
    let tag: [u8; TAG_LEN] = b64(tag, "tag is not base64url")?
        .try_into()
        .map_err(|_| EnvelopeError::Malformed("tag must be 16 bytes"))?;
    let ciphertext = b64(ct, "ciphertext is not base64url")?;
    Ok(Parsed {
        version,
        key_id,
        iv,
        tag,
        ciphertext,
    })
}

/// Whether `value` is a well-formed envelope of any version (so it is never encrypted twice).
/// A value that merely starts with `enc:` but is malformed is not an envelope.
#[must_use]
pub fn is_encrypted(value: &str) -> bool {
    parse(value).is_ok()
}

/// The version of a well-formed envelope.
///
/// # Errors
/// [`EnvelopeError::NotAnEnvelope`] or [`EnvelopeError::Malformed`].
pub fn version_of(value: &str) -> Result<Version, EnvelopeError> {
    parse(value).map(|p| p.version)
}

/// The prefixes of every envelope that names key `key_id` (`enc:v2:<id>:` and
/// `enc:v3:<id>:`): what a store searches for to learn whether a key is still needed before
/// it is removed from the ring.
///
/// ```
/// let prefixes = breeze_crypto::envelope::key_id_prefixes("k1");
/// assert_eq!(prefixes, ["enc:v2:k1:".to_owned(), "enc:v3:k1:".to_owned()]);
/// ```
#[must_use]
pub fn key_id_prefixes(key_id: &str) -> [String; 2] {
    [
        format!("{}:{key_id}:", Version::V2.as_str()),
        format!("{}:{key_id}:", Version::V3.as_str()),
    ]
}

fn seal(
    key: &DerivedKey,
    iv: &[u8; IV_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; TAG_LEN]), EnvelopeError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::TooLarge);
    }
    let mut buf = plaintext.to_vec();
    let nonce = Nonce::from(*iv);
    let tag = key
        .0
        .encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into())
        .map_err(|_| EnvelopeError::TooLarge)?;
    Ok((buf, tag.into()))
}

fn open(key: &DerivedKey, p: &Parsed<'_>, aad: &[u8]) -> Result<SecretString, EnvelopeError> {
    let mut buf = Zeroizing::new(p.ciphertext.clone());
    let nonce = Nonce::from(p.iv);
    let tag = Tag::from(p.tag);
    key.0
        .decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| EnvelopeError::Authentication)?;
    let text = std::str::from_utf8(&buf).map_err(|_| EnvelopeError::NotUtf8)?;
    Ok(SecretString::from(text))
}

fn format_envelope(
    version: Version,
    key_id: Option<&str>,
    iv: &[u8; IV_LEN],
    tag: &[u8; TAG_LEN],
    ct: &[u8],
) -> String {
    let body = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(tag),
        URL_SAFE_NO_PAD.encode(ct)
    );
    match key_id {
        Some(kid) => format!("{}:{kid}:{body}", version.as_str()),
        None => format!("{}:{body}", version.as_str()),
    }
}

fn fresh_iv() -> Result<[u8; IV_LEN], EnvelopeError> {
    let mut iv = [0u8; IV_LEN];
    random::fill(&mut iv).map_err(|_| EnvelopeError::Rng)?;
    Ok(iv)
}

/// Builds a [`KeyRing`]: add keys, then name the active one.
#[derive(Default)]
pub struct KeyRingBuilder {
    keys: BTreeMap<String, DerivedKey>,
    legacy: Option<DerivedKey>,
}

impl KeyRingBuilder {
    /// Adds a readable key under `id` (`^[A-Za-z0-9._-]+$`). Validate the configured value
    /// with [`crate::keys::validate_encryption_key`] first in production.
    ///
    /// # Errors
    /// [`EnvelopeError::InvalidName`] or [`EnvelopeError::DuplicateKeyId`].
    pub fn key(mut self, id: &str, value: SecretString) -> Result<Self, EnvelopeError> {
        validate_key_id(id)?;
        if self.keys.contains_key(id) {
            return Err(EnvelopeError::DuplicateKeyId(id.to_owned()));
        }
        self.keys
            .insert(id.to_owned(), DerivedKey::from_config(&value));
        Ok(self)
    }

    /// Sets the key that opens legacy `enc:v1` values (upstream's `APP_ENCRYPTION_KEY`).
    #[must_use]
    pub fn legacy_v1_key(mut self, value: SecretString) -> Self {
        self.legacy = Some(DerivedKey::from_config(&value));
        self
    }

    /// Names the active key and finishes the ring.
    ///
    /// # Errors
    /// [`EnvelopeError::ActiveKeyMissing`].
    pub fn active(self, id: &str) -> Result<KeyRing, EnvelopeError> {
        if !self.keys.contains_key(id) {
            return Err(EnvelopeError::ActiveKeyMissing(id.to_owned()));
        }
        Ok(KeyRing {
            active: id.to_owned(),
            keys: self.keys,
            legacy: self.legacy,
        })
    }
}

/// Several readable keys, one active for writes (SPEC 4).
pub struct KeyRing {
    active: String,
    keys: BTreeMap<String, DerivedKey>,
    legacy: Option<DerivedKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("legacy_v1", &self.legacy.is_some())
            .finish()
    }
}

/// Result of [`KeyRing::reencrypt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reencrypted {
    /// The value to store: v3 under the active key.
    pub value: String,
    /// Whether it differs from the input (false when it was already v3 under the active key).
    pub changed: bool,
}

impl KeyRing {
    /// Starts a ring.
    #[must_use]
    pub fn builder() -> KeyRingBuilder {
        KeyRingBuilder::default()
    }

    /// The active key id.
    #[must_use]
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Whether a key id is readable.
    #[must_use]
    pub fn has_key(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    fn active_key(&self) -> Result<&DerivedKey, EnvelopeError> {
        self.keys
            .get(&self.active)
            .ok_or_else(|| EnvelopeError::ActiveKeyMissing(self.active.clone()))
    }

    /// Encrypts a value for `field` as v3 under the active key with a fresh random IV.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLarge`] or [`EnvelopeError::Rng`].
    pub fn encrypt(&self, plaintext: &str, field: &Field) -> Result<String, EnvelopeError> {
        self.encrypt_with_iv(plaintext, field, &fresh_iv()?)
    }

    /// Encrypts with a caller-chosen IV. DANGEROUS: reusing an IV under one key breaks
    /// AES-GCM. Exists only to produce deterministic known-answer vectors.
    ///
    /// # Errors
    /// As [`KeyRing::encrypt`].
    #[doc(hidden)]
    pub fn dangerous_encrypt_with_iv(
        &self,
        plaintext: &str,
        field: &Field,
        iv: &[u8; IV_LEN],
    ) -> Result<String, EnvelopeError> {
        self.encrypt_with_iv(plaintext, field, iv)
    }

    fn encrypt_with_iv(
        &self,
        plaintext: &str,
        field: &Field,
        iv: &[u8; IV_LEN],
    ) -> Result<String, EnvelopeError> {
        let (ct, tag) = seal(
            self.active_key()?,
            iv,
            field.aad.as_bytes(),
            plaintext.as_bytes(),
        )?;
        Ok(format_envelope(
            Version::V3,
            Some(&self.active),
            iv,
            &tag,
            &ct,
        ))
    }

    fn key_for(&self, p: &Parsed<'_>) -> Result<&DerivedKey, EnvelopeError> {
        match p.key_id {
            Some(kid) => self
                .keys
                .get(kid)
                .ok_or_else(|| EnvelopeError::UnknownKeyId(kid.to_owned())),
            None => self.legacy.as_ref().ok_or(EnvelopeError::NoLegacyKey),
        }
    }

    /// Decrypts a v3 value stored in `field`. Anything else — plaintext, v1, v2, `mfa:v1`, a
    /// value from another column — is refused.
    ///
    /// # Errors
    /// [`EnvelopeError`] naming why.
    pub fn decrypt(&self, value: &str, field: &Field) -> Result<SecretString, EnvelopeError> {
        let p = parse(value)?;
        if p.version != Version::V3 {
            return Err(EnvelopeError::VersionNotAccepted {
                found: p.version.as_str(),
                required: Version::V3.as_str(),
            });
        }
        open(self.key_for(&p)?, &p, field.aad.as_bytes())
    }

    /// Decrypts any `enc:` version this ring can read (v1 with the legacy key, v2, v3 with
    /// `field` as associated data). For migration only: application reads use
    /// [`KeyRing::decrypt`].
    ///
    /// # Errors
    /// [`EnvelopeError`] naming why; `mfa:v1` is refused (it belongs to [`MfaCipher`]).
    pub fn decrypt_for_migration(
        &self,
        value: &str,
        field: &Field,
    ) -> Result<SecretString, EnvelopeError> {
        let p = parse(value)?;
        let aad: &[u8] = match p.version {
            Version::V1 | Version::V2 => b"",
            Version::V3 => field.aad.as_bytes(),
            Version::MfaV1 => {
                return Err(EnvelopeError::VersionNotAccepted {
                    found: p.version.as_str(),
                    required: "enc:v1|enc:v2|enc:v3",
                });
            }
        };
        open(self.key_for(&p)?, &p, aad)
    }

    /// Takes a value under any readable key and version to v3 under the active key, bound to
    /// `field`. A value already v3 under the active key is authenticated and returned as is.
    ///
    /// # Errors
    /// [`EnvelopeError`]: a value that cannot be read is never rewritten.
    pub fn reencrypt(&self, value: &str, field: &Field) -> Result<Reencrypted, EnvelopeError> {
        let p = parse(value)?;
        let plaintext = self.decrypt_for_migration(value, field)?;
        if p.version == Version::V3 && p.key_id == Some(self.active.as_str()) {
            return Ok(Reencrypted {
                value: value.to_owned(),
                changed: false,
            });
        }
        Ok(Reencrypted {
            value: self.encrypt(plaintext.expose_secret(), field)?,
            changed: true,
        })
    }

    /// Writes a legacy v2 value (no associated data). Only for interop tests with upstream.
    ///
    /// # Errors
    /// As [`KeyRing::encrypt`].
    #[doc(hidden)]
    pub fn dangerous_encrypt_v2_with_iv(
        &self,
        plaintext: &str,
        iv: &[u8; IV_LEN],
    ) -> Result<String, EnvelopeError> {
        let (ct, tag) = seal(self.active_key()?, iv, b"", plaintext.as_bytes())?;
        Ok(format_envelope(
            Version::V2,
            Some(&self.active),
            iv,
            &tag,
            &ct,
        ))
    }

    /// Writes a legacy v1 value under the legacy key. Only for interop tests with upstream.
    ///
    /// # Errors
    /// [`EnvelopeError::NoLegacyKey`] or as [`KeyRing::encrypt`].
    #[doc(hidden)]
    pub fn dangerous_encrypt_v1_with_iv(
        &self,
        plaintext: &str,
        iv: &[u8; IV_LEN],
    ) -> Result<String, EnvelopeError> {
        let key = self.legacy.as_ref().ok_or(EnvelopeError::NoLegacyKey)?;
        let (ct, tag) = seal(key, iv, b"", plaintext.as_bytes())?;
        Ok(format_envelope(Version::V1, None, iv, &tag, &ct))
    }
}

/// The cipher for TOTP secrets (`mfa:v1`), under the separate MFA key. During a roll of that
/// key it also opens values under the staged or previous key ([`MfaCipher::accept`]): an
/// `mfa:v1` envelope names no key, so each key is tried in turn (AES-GCM authenticates, so
/// a wrong key fails cleanly); new values are always sealed under the current key.
pub struct MfaCipher {
    current: DerivedKey,
    accepted: Vec<DerivedKey>,
}

impl fmt::Debug for MfaCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaCipher([REDACTED])")
    }
}

impl MfaCipher {
    /// From the configured MFA key (which must differ from the app key:
    /// [`crate::keys::validate_distinct_keys`]).
    #[must_use]
    pub fn new(value: &SecretString) -> Self {
        Self {
            current: DerivedKey::from_config(value),
            accepted: Vec::new(),
        }
    }

    /// Also opens values sealed under `value` (a staged or previous MFA key).
    #[must_use]
    pub fn accept(mut self, value: &SecretString) -> Self {
        self.accepted.push(DerivedKey::from_config(value));
        self
    }

    /// Rewrites `value` under the current key when only an accepted key opens it (`changed`
    /// is false when the current key already does).
    ///
    /// # Errors
    /// [`EnvelopeError`] when no key opens it, or as [`MfaCipher::encrypt`].
    pub fn reencrypt(&self, value: &str) -> Result<Reencrypted, EnvelopeError> {
        let p = Self::parsed(value)?;
        if open(&self.current, &p, b"").is_ok() {
            return Ok(Reencrypted {
                value: value.to_owned(),
                changed: false,
            });
        }
        let plain = self.open_accepted(&p)?;
        Ok(Reencrypted {
            value: self.encrypt(plain.expose_secret())?,
            changed: true,
        })
    }

    /// Whether the current key alone opens `value` (a previous key may be dropped once this
    /// holds for every stored value).
    #[must_use]
    pub fn opens_with_current(&self, value: &str) -> bool {
        Self::parsed(value).is_ok_and(|p| open(&self.current, &p, b"").is_ok())
    }

    fn parsed(value: &str) -> Result<Parsed<'_>, EnvelopeError> {
        let p = parse(value)?;
        if p.version != Version::MfaV1 {
            return Err(EnvelopeError::VersionNotAccepted {
                found: p.version.as_str(),
                required: Version::MfaV1.as_str(),
            });
        }
        Ok(p)
    }

    fn open_accepted(&self, p: &Parsed<'_>) -> Result<SecretString, EnvelopeError> {
        let mut last = None;
        for key in &self.accepted {
            match open(key, p, b"") {
                Ok(plain) => return Ok(plain),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(EnvelopeError::Authentication))
    }

    /// Encrypts a TOTP secret as `mfa:v1`.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLarge`] or [`EnvelopeError::Rng`].
    pub fn encrypt(&self, plaintext: &str) -> Result<String, EnvelopeError> {
        self.dangerous_encrypt_with_iv(plaintext, &fresh_iv()?)
    }

    /// Encrypts with a caller-chosen IV: known-answer vectors only.
    ///
    /// # Errors
    /// As [`MfaCipher::encrypt`].
    #[doc(hidden)]
    pub fn dangerous_encrypt_with_iv(
        &self,
        plaintext: &str,
        iv: &[u8; IV_LEN],
    ) -> Result<String, EnvelopeError> {
        let (ct, tag) = seal(&self.current, iv, b"", plaintext.as_bytes())?;
        Ok(format_envelope(Version::MfaV1, None, iv, &tag, &ct))
    }

    /// Decrypts an `mfa:v1` value; any other envelope is refused.
    ///
    /// # Errors
    /// [`EnvelopeError`] naming why.
    pub fn decrypt(&self, value: &str) -> Result<SecretString, EnvelopeError> {
        let p = Self::parsed(value)?;
        match open(&self.current, &p, b"") {
            Ok(plain) => Ok(plain),
            Err(e) if self.accepted.is_empty() => Err(e),
            Err(_) => self.open_accepted(&p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_cipher_rolls_to_a_new_key() {
        let old = MfaCipher::new(&SecretString::from(K1));
        let stored = old.encrypt("JBSWY3DPEHPK3PXP").unwrap();
        // the new key alone cannot open it; with the old one accepted it can
        let new_only = MfaCipher::new(&SecretString::from(K2));
        assert!(new_only.decrypt(&stored).is_err());
        let rolled = MfaCipher::new(&SecretString::from(K2)).accept(&SecretString::from(K1));
        assert_eq!(
            rolled.decrypt(&stored).unwrap().expose_secret(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(!rolled.opens_with_current(&stored));
        let r = rolled.reencrypt(&stored).unwrap();
        assert!(r.changed);
        assert!(new_only.opens_with_current(&r.value));
        assert_eq!(
            new_only.decrypt(&r.value).unwrap().expose_secret(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(!rolled.reencrypt(&r.value).unwrap().changed);
        // a value no key opens is an error, never a silent pass
        let other = MfaCipher::new(&SecretString::from("x".repeat(64)))
            .encrypt("s")
            .unwrap();
        assert!(rolled.reencrypt(&other).is_err());
        assert!(rolled.decrypt(&other).is_err());
    }

    const K1: &str = "4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7";
    const K2: &str = "9b3e71c0d5a28f46e1b7c3d9a0f5e2b8c4d6a1f3e7b9c0d2a5f8e1b4c7d0a3f6";

    fn ring(active: &str) -> KeyRing {
        KeyRing::builder()
            .key("k1", SecretString::from(K1))
            .unwrap()
            .key("k2", SecretString::from(K2))
            .unwrap()
            .legacy_v1_key(SecretString::from(K1))
            .active(active)
            .unwrap()
    }

    fn field() -> Field {
        Field::new("users", "mfa_secret").unwrap()
    }

    #[test]
    fn nist_gcm_known_answers_through_seal() {
        #[derive(serde::Deserialize)]
        struct V {
            key: String,
            iv: String,
            aad: String,
            plaintext: String,
            ciphertext: String,
            tag: String,
        }
        #[derive(serde::Deserialize)]
        struct F {
            vectors: Vec<V>,
        }
        let f: F =
            serde_json::from_str(include_str!("../../vectors/crypto/aes256gcm_nist.json")).unwrap();
        assert!(f.vectors.len() >= 8);
        for v in f.vectors {
            let key: [u8; 32] = hex::decode(&v.key).unwrap().try_into().unwrap();
            let k = DerivedKey(Aes256Gcm::new(&key.into()));
            let iv: [u8; 12] = hex::decode(&v.iv).unwrap().try_into().unwrap();
            let (ct, tag) = seal(
                &k,
                &iv,
                &hex::decode(&v.aad).unwrap(),
                &hex::decode(&v.plaintext).unwrap(),
            )
            .unwrap();
            assert_eq!(hex::encode(ct), v.ciphertext);
            assert_eq!(hex::encode(tag), v.tag);
        }
    }

    #[test]
    fn v3_round_trip_and_context_binding() {
        let r = ring("k1");
        let v = r.encrypt("hello", &field()).unwrap();
        assert!(v.starts_with("enc:v3:k1:"));
        assert!(is_encrypted(&v));
        assert_eq!(r.decrypt(&v, &field()).unwrap().expose_secret(), "hello");
        assert_ne!(v, r.encrypt("hello", &field()).unwrap(), "fresh iv");
        let other = Field::new("users", "other").unwrap();
        assert_eq!(
            r.decrypt(&v, &other).err(),
            Some(EnvelopeError::Authentication)
        );
    }

    #[test]
    fn no_downgrade_and_no_plaintext() {
        let r = ring("k1");
        let iv = [7u8; 12];
        let v2 = r.dangerous_encrypt_v2_with_iv("x", &iv).unwrap();
        let v1 = r.dangerous_encrypt_v1_with_iv("x", &iv).unwrap();
        for v in [&v1, &v2] {
            assert!(matches!(
                r.decrypt(v, &field()),
                Err(EnvelopeError::VersionNotAccepted { .. })
            ));
            assert_eq!(
                r.decrypt_for_migration(v, &field())
                    .unwrap()
                    .expose_secret(),
                "x"
            );
        }
        assert_eq!(
            r.decrypt("x", &field()).err(),
            Some(EnvelopeError::NotAnEnvelope)
        );
        assert!(!is_encrypted("hello"));
        assert!(!is_encrypted("enc:v3:k1:garbage"));
    }

    #[test]
    fn reencrypt_moves_everything_to_active_key() {
        let old = ring("k1");
        let new = ring("k2");
        let iv = [9u8; 12];
        let inputs = [
            old.encrypt("a", &field()).unwrap(),
            old.dangerous_encrypt_v2_with_iv("b", &iv).unwrap(),
            old.dangerous_encrypt_v1_with_iv("c", &iv).unwrap(),
        ];
        for (input, want) in inputs.iter().zip(["a", "b", "c"]) {
            let out = new.reencrypt(input, &field()).unwrap();
            assert!(out.changed);
            assert!(out.value.starts_with("enc:v3:k2:"));
            assert_eq!(
                new.decrypt(&out.value, &field()).unwrap().expose_secret(),
                want
            );
            let again = new.reencrypt(&out.value, &field()).unwrap();
            assert!(!again.changed);
            assert_eq!(again.value, out.value);
        }
        // a ring without k1 cannot read k1 values and refuses to rewrite them
        let only2 = KeyRing::builder()
            .key("k2", SecretString::from(K2))
            .unwrap()
            .active("k2")
            .unwrap();
        assert_eq!(
            only2.reencrypt(&inputs[0], &field()),
            Err(EnvelopeError::UnknownKeyId("k1".into()))
        );
        assert_eq!(
            only2.reencrypt(&inputs[2], &field()),
            Err(EnvelopeError::NoLegacyKey)
        );
    }

    #[test]
    fn malformed_envelopes_are_typed() {
        let r = ring("k1");
        let good = r.encrypt("hello", &field()).unwrap();
        let (head, _) = good.rsplit_once('.').unwrap();
        let cases: Vec<(String, EnvelopeError)> = vec![
            (
                head.to_string(),
                EnvelopeError::Malformed("expected iv.tag.ciphertext"),
            ),
            (
                format!("{good}.x"),
                EnvelopeError::Malformed("expected iv.tag.ciphertext"),
            ),
            (
                "enc:v3:k1".into(),
                EnvelopeError::Malformed("missing key id"),
            ),
            (
                "enc:v3:k 1:a.b.c".into(),
                EnvelopeError::Malformed("invalid key id"),
            ),
            (
                "enc:v3:k1:AAAA.AAAA.AAAA".into(),
                EnvelopeError::Malformed("iv must be 12 bytes"),
            ),
            (
                good.replacen("enc:v3:k1:", "enc:v3:k9:", 1),
                EnvelopeError::UnknownKeyId("k9".into()),
            ),
            ("x".repeat(MAX_ENVELOPE_LEN + 1), EnvelopeError::TooLarge),
            (
                good.replacen("enc:v3:", "enc:v4:", 1),
                EnvelopeError::NotAnEnvelope,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                r.decrypt(&input, &field()).unwrap_err(),
                want,
                "{}",
                &input[..input.len().min(40)]
            );
        }
        // padding and non-url alphabet are refused
        let padded = good.replacen('.', "=.", 1);
        assert!(matches!(
            r.decrypt(&padded, &field()),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn flipped_tag_bit_and_non_utf8() {
        let r = ring("k1");
        let iv = [1u8; 12];
        let v = r.dangerous_encrypt_with_iv("hello", &field(), &iv).unwrap();
        let p = parse(&v).unwrap();
        let mut tag = p.tag;
        tag[0] ^= 1;
        let flipped = format_envelope(Version::V3, Some("k1"), &iv, &tag, &p.ciphertext);
        assert_eq!(
            r.decrypt(&flipped, &field()).err(),
            Some(EnvelopeError::Authentication)
        );

        let key = r.active_key().unwrap();
        let (ct, tag) = seal(key, &iv, field().aad.as_bytes(), &[0xff, 0xfe]).unwrap();
        let bad = format_envelope(Version::V3, Some("k1"), &iv, &tag, &ct);
        assert_eq!(
            r.decrypt(&bad, &field()).err(),
            Some(EnvelopeError::NotUtf8)
        );
    }

    #[test]
    fn mfa_cipher_is_separate() {
        let m = MfaCipher::new(&SecretString::from(K2));
        let v = m.encrypt("JBSWY3DPEHPK3PXP").unwrap();
        assert!(v.starts_with("mfa:v1:"));
        assert_eq!(m.decrypt(&v).unwrap().expose_secret(), "JBSWY3DPEHPK3PXP");
        let r = ring("k1");
        assert!(matches!(
            r.decrypt(&v, &field()),
            Err(EnvelopeError::VersionNotAccepted { .. })
        ));
        let app = r.encrypt("x", &field()).unwrap();
        assert!(matches!(
            m.decrypt(&app),
            Err(EnvelopeError::VersionNotAccepted { .. })
        ));
        let wrong = MfaCipher::new(&SecretString::from(K1));
        assert_eq!(wrong.decrypt(&v).err(), Some(EnvelopeError::Authentication));
    }

    #[test]
    fn bad_names_and_rings() {
        assert!(Field::new("Users", "x").is_err());
        assert!(Field::new("users", "").is_err());
        assert!(matches!(
            KeyRing::builder().key("bad id", SecretString::from(K1)),
            Err(EnvelopeError::InvalidName { .. })
        ));
        assert!(matches!(
            KeyRing::builder().active("k1"),
            Err(EnvelopeError::ActiveKeyMissing(_))
        ));
        assert!(matches!(
            KeyRing::builder()
                .key("k1", SecretString::from(K1))
                .unwrap()
                .key("k1", SecretString::from(K2)),
            Err(EnvelopeError::DuplicateKeyId(_))
        ));
        let dbg = format!("{:?}", ring("k1"));
        assert!(!dbg.contains(K1));
    }
}
