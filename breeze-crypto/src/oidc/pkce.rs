//! PKCE (RFC 7636) with the S256 method only: the verifier stays with the server, the
//! challenge goes to the provider.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{OidcError, b64url_encode};

/// A code verifier: 32 random bytes as 43 base64url characters (RFC 7636 section 4.1:
/// 43 to 128 unreserved characters). `Debug` is redacted.
pub struct PkceVerifier(SecretString);

impl std::fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkceVerifier([REDACTED])")
    }
}

impl PkceVerifier {
    /// A fresh verifier from the OS CSPRNG.
    ///
    /// # Errors
    /// [`OidcError::Random`] when the random generator fails.
    pub fn generate() -> Result<Self, OidcError> {
        let bytes = crate::random::bytes::<32>().map_err(|_| OidcError::Random)?;
        Ok(Self(SecretString::from(b64url_encode(bytes.as_ref()))))
    }

    /// A verifier read back from storage. Refused unless 43 to 128 unreserved characters.
    ///
    /// # Errors
    /// [`OidcError::State`] when the text is not a verifier.
    pub fn from_stored(text: &str) -> Result<Self, OidcError> {
        let ok = (43..=128).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if ok {
            Ok(Self(SecretString::from(text.to_owned())))
        } else {
            Err(OidcError::State("stored PKCE verifier"))
        }
    }

    /// The S256 challenge: base64url(SHA-256(verifier)).
    #[must_use]
    pub fn challenge(&self) -> String {
        b64url_encode(&Sha256::digest(self.0.expose_secret().as_bytes()))
    }

    /// The verifier text (for the token request and for sealed storage).
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = PkceVerifier::from_stored("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(v.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_verifiers_are_43_unreserved_characters_and_differ() {
        let a = PkceVerifier::generate().unwrap();
        let b = PkceVerifier::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert!(PkceVerifier::from_stored(a.expose()).is_ok());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "PkceVerifier([REDACTED])");
    }

    #[test]
    fn malformed_stored_verifiers_are_refused() {
        for bad in [
            "short",
            &"a".repeat(129),
            &format!("{}+", "a".repeat(43)),
            "",
        ] {
            assert_eq!(
                PkceVerifier::from_stored(bad).unwrap_err().code(),
                "oidc_state_invalid"
            );
        }
    }
}
