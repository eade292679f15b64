//! The device's Ed25519 key pair. Both halves travel as unpadded base64url of their 32
//! bytes (the private half is the RFC 8032 seed): the public key in the enrollment request
//! and the device row, the seed only in the agent's `secrets.yaml`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::SignatureError;

/// Length of an encoded key (32 bytes in unpadded base64url).
pub const ENCODED_KEY_LEN: usize = 43;

/// A device's private signing key. `Debug` never shows it; the seed is zeroized on drop.
pub struct DeviceSigningKey {
    key: SigningKey,
}

impl std::fmt::Debug for DeviceSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSigningKey")
            .field("public", &self.public_key().to_base64url())
            .finish_non_exhaustive()
    }
}

impl DeviceSigningKey {
    /// A new key from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`SignatureError::Random`] when the generator fails.
    pub fn generate() -> Result<Self, SignatureError> {
        let seed = crate::random::bytes::<32>().map_err(|_| SignatureError::Random)?;
        Ok(Self::from_seed(&seed))
    }

    /// The key of a 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Parses the unpadded base64url seed kept in the agent's secrets file.
    ///
    /// # Errors
    /// [`SignatureError::PrivateKey`] when it is not 32 bytes of base64url.
    pub fn from_base64url(encoded: &str) -> Result<Self, SignatureError> {
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded.trim())
                .map_err(|_| SignatureError::PrivateKey)?,
        );
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| SignatureError::PrivateKey)?,
        );
        Ok(Self::from_seed(&seed))
    }

    /// The seed in unpadded base64url, for the secrets file only.
    #[must_use]
    pub fn to_base64url(&self) -> SecretString {
        let seed = Zeroizing::new(self.key.to_bytes());
        SecretString::from(URL_SAFE_NO_PAD.encode(seed.as_ref()))
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> DevicePublicKey {
        DevicePublicKey(self.key.verifying_key())
    }

    /// Ed25519 signature of `message` (deterministic, RFC 8032).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// A device's public key: a valid Ed25519 point that is not of small order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DevicePublicKey(VerifyingKey);

impl std::fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DevicePublicKey")
            .field(&self.to_base64url())
            .finish()
    }
}

impl DevicePublicKey {
    /// Parses the unpadded base64url form (exactly 43 characters).
    ///
    /// # Errors
    /// [`SignatureError::PublicKey`] when it is not 32 bytes, not a point, or a weak
    /// (small-order) point that any signature would match.
    pub fn from_base64url(encoded: &str) -> Result<Self, SignatureError> {
        if encoded.len() != ENCODED_KEY_LEN {
            return Err(SignatureError::PublicKey);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SignatureError::PublicKey)?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::PublicKey)?;
        Self::from_bytes(&raw)
    }

    /// The key of 32 raw bytes.
    ///
    /// # Errors
    /// [`SignatureError::PublicKey`] as [`Self::from_base64url`].
    pub fn from_bytes(raw: &[u8; 32]) -> Result<Self, SignatureError> {
        let key = VerifyingKey::from_bytes(raw).map_err(|_| SignatureError::PublicKey)?;
        if key.is_weak() {
            return Err(SignatureError::PublicKey);
        }
        Ok(Self(key))
    }

    /// The unpadded base64url form.
    #[must_use]
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// The raw 32 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Verifies `signature` over `message` (strict: rejects non-canonical encodings and
    /// small-order components).
    ///
    /// # Errors
    /// [`SignatureError::Invalid`] when it does not verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let raw: [u8; 64] = signature.try_into().map_err(|_| SignatureError::Invalid)?;
        self.0
            .verify_strict(message, &Signature::from_bytes(&raw))
            .map_err(|_| SignatureError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn round_trips_and_hides_the_seed() {
        use secrecy::ExposeSecret as _;
        let key = DeviceSigningKey::generate().unwrap();
        let seed = key.to_base64url();
        let again = DeviceSigningKey::from_base64url(seed.expose_secret()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let shown = format!("{key:?}");
        assert!(!shown.contains(seed.expose_secret()));
        let public = key.public_key().to_base64url();
        assert_eq!(public.len(), ENCODED_KEY_LEN);
        assert_eq!(
            DevicePublicKey::from_base64url(&public).unwrap(),
            key.public_key()
        );
        let sig = key.sign(b"m");
        key.public_key().verify(b"m", &sig).unwrap();
        assert_eq!(
            key.public_key().verify(b"n", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            key.public_key().verify(b"m", &sig[..63]),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn refuses_bad_public_keys() {
        // the identity point (small order) and a non-canonical encoding
        let identity = URL_SAFE_NO_PAD.encode({
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        });
        for bad in [
            "",
            "short",
            &identity,
            &"A".repeat(44),
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert_eq!(
                DevicePublicKey::from_base64url(bad),
                Err(SignatureError::PublicKey),
                "{bad}"
            );
        }
        assert_eq!(
            DeviceSigningKey::from_base64url("abc").map(|_| ()),
            Err(SignatureError::PrivateKey)
        );
    }
}
