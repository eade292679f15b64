//! [`WebhookSecret`]: the HMAC key of a subscription, `whsec_` + standard base64 on the wire.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, Zeroizing};

use super::error::WebhookError;

/// The wire prefix of a webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a generated secret.
pub const GENERATED_SECRET_BYTES: usize = 32;
/// Fewest bytes a secret may decode to (SPEC 13: at least 24 random bytes).
pub const MIN_SECRET_BYTES: usize = 24;
/// Most bytes a secret may decode to (the Standard Webhooks limit).
pub const MAX_SECRET_BYTES: usize = 64;

/// A webhook signing secret: the raw key bytes, zeroized on drop. Its `Debug` never shows
/// them; [`WebhookSecret::to_wire`] is the only way out (to show once, or to encrypt at
/// rest).
///
/// ```
/// use breeze_core::webhooks::WebhookSecret;
///
/// let secret = WebhookSecret::generate()?;
/// let wire = secret.to_wire();
/// assert!(wire.starts_with("whsec_"));
/// assert_eq!(WebhookSecret::parse(&wire)?, secret);
/// assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl WebhookSecret {
    /// A new secret of 32 bytes from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`WebhookError::RngFailure`] when the generator is unavailable.
    pub fn generate() -> Result<Self, WebhookError> {
        let bytes = breeze_crypto::random::bytes::<GENERATED_SECRET_BYTES>()
            .map_err(|_| WebhookError::RngFailure)?;
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// Parses the wire form: `whsec_` followed by standard base64 (with padding) of 24 to 64
    /// bytes.
    ///
    /// # Errors
    /// [`WebhookError::SecretFormat`] without the prefix or for bad base64,
    /// [`WebhookError::SecretLength`] for a decoded length outside 24..=64.
    pub fn parse(wire: &str) -> Result<Self, WebhookError> {
        let b64 = wire
            .strip_prefix(SECRET_PREFIX)
            .ok_or(WebhookError::SecretFormat)?;
        // Refuse before decoding anything far too long (4 base64 characters per 3 bytes).
        if b64.len() > MAX_SECRET_BYTES.div_ceil(3) * 4 {
            return Err(WebhookError::SecretLength);
        }
        let mut bytes = STANDARD
            .decode(b64)
            .map_err(|_| WebhookError::SecretFormat)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            bytes.zeroize();
            return Err(WebhookError::SecretLength);
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The wire form, `whsec_` + standard base64 (zeroized on drop).
    #[must_use]
    pub fn to_wire(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(
            SECRET_PREFIX.len() + self.0.len().div_ceil(3) * 4,
        ));
        out.push_str(SECRET_PREFIX);
        STANDARD.encode_string(self.0.as_slice(), &mut out);
        out
    }

    /// The HMAC key bytes.
    pub(crate) fn key(&self) -> &[u8] {
        &self.0
    }
}

/// Constant-time in the key bytes (lengths may differ in time).
impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        breeze_crypto::ct::constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for WebhookSecret {}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn reference_secret_round_trips() {
        let s = WebhookSecret::parse(REFERENCE).unwrap();
        assert_eq!(s.key().len(), 24);
        assert_eq!(s.to_wire().as_str(), REFERENCE);
    }

    #[test]
    fn generated_secrets_are_32_random_bytes() {
        let a = WebhookSecret::generate().unwrap();
        let b = WebhookSecret::generate().unwrap();
        assert_eq!(a.key().len(), 32);
        assert_ne!(a, b);
        let wire = a.to_wire();
        assert_eq!(wire.len(), 6 + 44);
        assert_eq!(WebhookSecret::parse(&wire).unwrap(), a);
    }

    #[test]
    fn debug_is_redacted() {
        let s = WebhookSecret::parse(REFERENCE).unwrap();
        let shown = format!("{s:?} {:?}", vec![s.clone()]);
        assert!(!shown.contains("MfKQ"), "{shown}");
        assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn bad_secrets() {
        let b64 = |n: usize| STANDARD.encode(vec![7u8; n]);
        let cases = [
            ("", "secret_format"),
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret_format"),
            ("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret_format"),
            ("whsec ", "secret_format"),
            ("whsec_", "secret_length"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "secret_format"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", "secret_format"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "secret_format"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa_w", "secret_format"),
            ("whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret_format"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "secret_format"),
        ];
        for (input, code) in cases {
            let e = WebhookSecret::parse(input).unwrap_err();
            assert_eq!(e.code(), code, "{input:?}");
            assert!(!e.to_string().contains("MfKQ"), "{e}");
        }
        for n in [1, 16, 23, 65, 100, 10_000] {
            let e = WebhookSecret::parse(&format!("whsec_{}", b64(n))).unwrap_err();
            assert_eq!(e.code(), "secret_length", "{n}");
        }
        for n in [24, 32, 48, 64] {
            let s = WebhookSecret::parse(&format!("whsec_{}", b64(n))).unwrap();
            assert_eq!(s.key().len(), n);
        }
        // Unpadded base64 is refused (the wire form is always padded).
        let unpadded = format!("whsec_{}", b64(25).trim_end_matches('='));
        assert_eq!(
            WebhookSecret::parse(&unpadded).unwrap_err().code(),
            "secret_format"
        );
    }
}
