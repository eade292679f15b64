//! The provider's JSON Web Key Set (RFC 7517) and signature verification with its keys.
//!
//! Only public keys of the asymmetric JOSE algorithms are kept: RSA (modulus of 2048 to
//! 8192 bits), EC P-256 and P-384, Ed25519. A key marked for encryption (`use: enc`, or
//! `key_ops` without `verify`) is skipped; a key that declares an `alg` is used only for that
//! algorithm. Keys of other types are skipped rather than refused, so a provider that adds a
//! new kind of key does not break logins with the others.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::Value;

use super::{MAX_DOCUMENT_BYTES, OidcError, b64url_decode};

/// The JOSE signature algorithms an ID token may use. `none` and the `HS*` family are not
/// here and can never be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl SignatureAlg {
    /// Every algorithm Breeze verifies.
    pub const ALL: [Self; 9] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::EdDsa,
    ];

    /// The algorithm of a JOSE `alg` name; `None` for `none`, `HS*` and anything unknown.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JOSE name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    const fn family(self) -> KeyFamily {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                KeyFamily::Rsa
            }
            Self::Es256 => KeyFamily::P256,
            Self::Es384 => KeyFamily::P384,
            Self::EdDsa => KeyFamily::Ed25519,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// One usable public key.
#[derive(Clone, PartialEq, Eq)]
enum KeyMaterial {
    /// Big-endian modulus and exponent, leading zeros stripped.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed point `0x04 || x || y`.
    Ec { family: KeyFamily, point: Vec<u8> },
    /// 32 bytes.
    Ed25519(Vec<u8>),
}

impl KeyMaterial {
    const fn family(&self) -> KeyFamily {
        match self {
            Self::Rsa { .. } => KeyFamily::Rsa,
            Self::Ec { family, .. } => *family,
            Self::Ed25519(_) => KeyFamily::Ed25519,
        }
    }
}

/// A public key of the set.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<SignatureAlg>,
    material: KeyMaterial,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("family", &self.material.family())
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// The key id, when the key has one.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn fits(&self, alg: SignatureAlg) -> bool {
        self.material.family() == alg.family() && self.alg.is_none_or(|a| a == alg)
    }

    /// Verifies `signature` over `message` with this key and `alg`.
    fn verify(&self, alg: SignatureAlg, message: &[u8], sig: &[u8]) -> bool {
        let rsa_params: &'static signature::RsaParameters = match alg {
            SignatureAlg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SignatureAlg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            SignatureAlg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            SignatureAlg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            SignatureAlg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            SignatureAlg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            SignatureAlg::Es256 | SignatureAlg::Es384 | SignatureAlg::EdDsa => {
                let algorithm: &'static dyn VerificationAlgorithm = match alg {
                    SignatureAlg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
                    SignatureAlg::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
                    _ => &signature::ED25519,
                };
                let key: &[u8] = match &self.material {
                    KeyMaterial::Ec { point, .. } => point,
                    KeyMaterial::Ed25519(k) => k,
                    KeyMaterial::Rsa { .. } => return false,
                };
                return UnparsedPublicKey::new(algorithm, key)
                    .verify(message, sig)
                    .is_ok();
            }
        };
        let KeyMaterial::Rsa { n, e } = &self.material else {
            return false;
        };
        RsaPublicKeyComponents { n, e }
            .verify(rsa_params, message, sig)
            .is_ok()
    }

    fn parse(value: &Value) -> Option<Self> {
        let map = value.as_object()?;
        let field = |name: &str| map.get(name).and_then(Value::as_str);
        if field("use").is_some_and(|u| u != "sig") {
            return None;
        }
        if let Some(ops) = map.get("key_ops") {
            let verify = ops
                .as_array()
                .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("verify")));
            if !verify {
                return None;
            }
        }
        // a private key published by mistake is not used (and never kept)
        if map.contains_key("d") {
            return None;
        }
        let alg = match field("alg") {
            None => None,
            Some(name) => Some(SignatureAlg::from_name(name)?),
        };
        let bytes = |name: &str| field(name).and_then(b64url_decode);
        let material = match field("kty")? {
            "RSA" => {
                let n = strip_zeros(bytes("n")?);
                let e = strip_zeros(bytes("e")?);
                let bits = n.len() * 8;
                if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 4 {
                    return None;
                }
                KeyMaterial::Rsa { n, e }
            }
            "EC" => {
                let (family, len) = match field("crv")? {
                    "P-256" => (KeyFamily::P256, 32),
                    "P-384" => (KeyFamily::P384, 48),
                    _ => return None,
                };
                let x = bytes("x")?;
                let y = bytes("y")?;
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                KeyMaterial::Ec { family, point }
            }
            "OKP" => {
                if field("crv")? != "Ed25519" {
                    return None;
                }
                let x = bytes("x")?;
                if x.len() != 32 {
                    return None;
                }
                KeyMaterial::Ed25519(x)
            }
            _ => return None,
        };
        Some(Self {
            kid: field("kid").map(str::to_owned),
            alg,
            material,
        })
    }
}

fn strip_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.drain(..first);
    bytes
}

/// The usable keys of a provider's set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// At most this many keys are kept from one set.
pub const MAX_KEYS: usize = 64;

impl Jwks {
    /// Parses a JWKS document, keeping the usable public signing keys.
    ///
    /// # Errors
    /// [`OidcError::Jwks`] when the document is too large, not `{"keys":[...]}`, has more than
    /// [`MAX_KEYS`] keys, or no usable key at all.
    pub fn parse(document: &[u8]) -> Result<Self, OidcError> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(OidcError::Jwks("too large"));
        }
        let value: Value =
            serde_json::from_slice(document).map_err(|_| OidcError::Jwks("not JSON"))?;
        let items = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(OidcError::Jwks("no keys array"))?;
        if items.len() > MAX_KEYS {
            return Err(OidcError::Jwks("too many keys"));
        }
        let keys: Vec<Jwk> = items.iter().filter_map(Jwk::parse).collect();
        if keys.is_empty() {
            return Err(OidcError::Jwks("no usable signing key"));
        }
        Ok(Self { keys })
    }

    /// The key ids of the set, in order (for logs and tests; key ids are public).
    #[must_use]
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(Jwk::kid).collect()
    }

    /// The key that verifies a token signed with `alg` and carrying `kid`: the key with that
    /// id fitting the algorithm; without a `kid`, the only key fitting the algorithm.
    #[must_use]
    pub fn select(&self, alg: SignatureAlg, kid: Option<&str>) -> Option<&Jwk> {
        let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
        match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let first = fitting.next()?;
                fitting.next().is_none().then_some(first)
            }
        }
    }

    /// Verifies a JWS signature with the selected key.
    ///
    /// # Errors
    /// [`OidcError::UnknownKey`] when no key fits; [`OidcError::BadSignature`].
    pub fn verify(
        &self,
        alg: SignatureAlg,
        kid: Option<&str>,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), OidcError> {
        let key = self.select(alg, kid).ok_or(OidcError::UnknownKey)?;
        if key.verify(alg, message, sig) {
            Ok(())
        } else {
            Err(OidcError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use serde_json::json;

    #[test]
    fn algorithm_names_round_trip_and_symmetric_ones_do_not_exist() {
        for alg in SignatureAlg::ALL {
            assert_eq!(SignatureAlg::from_name(alg.name()), Some(alg));
        }
        for name in ["none", "HS256", "HS512", "rs256", ""] {
            assert_eq!(SignatureAlg::from_name(name), None);
        }
    }

    #[test]
    fn unusable_keys_are_skipped_and_an_empty_set_refused() {
        let small_rsa = json!({"kty":"RSA","kid":"s","n":"AQAB","e":"AQAB"});
        let enc = json!({"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let private = json!({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let hmac = json!({"kty":"oct","k":"c2VjcmV0"});
        let doc = serde_json::to_vec(&json!({"keys":[small_rsa, enc, private, hmac]})).unwrap();
        assert_eq!(Jwks::parse(&doc).unwrap_err().code(), "oidc_jwks_invalid");
        let ok = json!({"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let doc = serde_json::to_vec(&json!({"keys":[hmac, ok]})).unwrap();
        let set = Jwks::parse(&doc).unwrap();
        assert_eq!(set.kids(), vec!["ed"]);
        assert!(set.select(SignatureAlg::EdDsa, Some("ed")).is_some());
        assert!(set.select(SignatureAlg::EdDsa, None).is_some());
        assert!(set.select(SignatureAlg::EdDsa, Some("other")).is_none());
        assert!(set.select(SignatureAlg::Es256, Some("ed")).is_none());
        for bad in [&b"{}"[..], b"[]", b"{\"keys\":{}}", b"nope"] {
            assert!(Jwks::parse(bad).is_err());
        }
    }

    #[test]
    fn rfc8037_ed25519_signature_verifies_and_a_changed_one_does_not() {
        // RFC 8037 appendix A.4
        let set = Jwks::parse(
            br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
        )
        .unwrap();
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = b64url_decode("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg").unwrap();
        assert!(set.verify(SignatureAlg::EdDsa, None, input, &sig).is_ok());
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert_eq!(
            set.verify(SignatureAlg::EdDsa, None, input, &bad),
            Err(OidcError::BadSignature)
        );
        assert_eq!(
            set.verify(SignatureAlg::Rs256, None, input, &sig),
            Err(OidcError::UnknownKey)
        );
    }
}
