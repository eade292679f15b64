//! One login's secrets and the two requests built from them.
//!
//! A login starts with [`LoginSecrets::generate`]: `state` (sent to the provider and back),
//! `nonce` (sent to the provider, returned inside the ID token) and the PKCE verifier (kept
//! by the server; the provider gets its S256 challenge). The browser gets a cookie whose
//! value is [`StateKey::cookie_value`] of the `state`: an HMAC under a server key, so the
//! callback is accepted only from the browser that started the login (a login-CSRF link
//! carrying another browser's `state` finds no matching cookie).

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use url::Url;
use zeroize::Zeroizing;

use super::pkce::PkceVerifier;
use super::{OidcError, b64url_encode};
use crate::ct::constant_time_eq;

type HmacSha256 = Hmac<Sha256>;

/// `state`, `nonce` and the PKCE verifier of one login. `Debug` is redacted.
pub struct LoginSecrets {
    state: SecretString,
    nonce: SecretString,
    verifier: PkceVerifier,
}

impl std::fmt::Debug for LoginSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginSecrets([REDACTED])")
    }
}

fn random_text() -> Result<SecretString, OidcError> {
    let bytes = crate::random::bytes::<32>().map_err(|_| OidcError::Random)?;
    Ok(SecretString::from(b64url_encode(bytes.as_ref())))
}

impl LoginSecrets {
    /// Fresh secrets: 32 random bytes each, base64url (43 characters).
    ///
    /// # Errors
    /// [`OidcError::Random`].
    pub fn generate() -> Result<Self, OidcError> {
        Ok(Self {
            state: random_text()?,
            nonce: random_text()?,
            verifier: PkceVerifier::generate()?,
        })
    }

    /// The `state` value.
    #[must_use]
    pub fn state(&self) -> &str {
        self.state.expose_secret()
    }

    /// The `nonce` value.
    #[must_use]
    pub fn nonce(&self) -> &str {
        self.nonce.expose_secret()
    }

    /// The PKCE verifier.
    #[must_use]
    pub const fn verifier(&self) -> &PkceVerifier {
        &self.verifier
    }
}

/// The server key that binds `state` to the browser. `Debug` is redacted.
pub struct StateKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey([REDACTED])")
    }
}

impl StateKey {
    /// A key derived from a server secret (at least 32 bytes): HMAC-SHA256(secret,
    /// `"breeze-oidc-state-key/v1"`).
    ///
    /// # Errors
    /// [`OidcError::State`] when the secret is shorter than 32 bytes.
    pub fn derive(secret: &[u8]) -> Result<Self, OidcError> {
        if secret.len() < 32 {
            return Err(OidcError::State("state key secret shorter than 32 bytes"));
        }
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
            .map_err(|_| OidcError::State("state key"))?;
        mac.update(b"breeze-oidc-state-key/v1");
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&mac.finalize().into_bytes());
        Ok(Self(key))
    }

    fn mac(&self, state: &str) -> Result<Vec<u8>, OidcError> {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.0.as_ref())
            .map_err(|_| OidcError::State("state key"))?;
        mac.update(b"breeze-oidc-state/v1\0");
        mac.update(state.as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// The browser cookie's value for `state`: base64url(HMAC-SHA256(key, state)).
    ///
    /// # Errors
    /// [`OidcError::State`] (not reachable with a derived key).
    pub fn cookie_value(&self, state: &str) -> Result<String, OidcError> {
        Ok(b64url_encode(&self.mac(state)?))
    }

    /// Whether `cookie` is the cookie value of `state` (constant time).
    #[must_use]
    pub fn matches(&self, state: &str, cookie: &str) -> bool {
        self.cookie_value(state)
            .is_ok_and(|expected| constant_time_eq(expected.as_bytes(), cookie.as_bytes()))
    }
}

/// The authorization request (OIDC Core 3.1.2.1): the provider's authorization endpoint with
/// `response_type=code`, the client id, the redirect URI, the scopes, `state`, `nonce` and
/// the S256 PKCE challenge. Existing query parameters of the endpoint are kept.
#[must_use]
pub fn authorization_url(
    endpoint: &Url,
    client_id: &str,
    redirect_uri: &str,
    scopes: &str,
    secrets: &LoginSecrets,
) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scopes)
        .append_pair("state", secrets.state())
        .append_pair("nonce", secrets.nonce())
        .append_pair("code_challenge", &secrets.verifier().challenge())
        .append_pair("code_challenge_method", "S256");
    url
}

/// A token request (OIDC Core 3.1.3.1) with `client_secret_basic` authentication.
/// `Debug` is redacted (the body holds the code and the verifier).
pub struct TokenRequest {
    /// `application/x-www-form-urlencoded` body.
    pub body: SecretString,
    /// The `Authorization` header value (`Basic ...`).
    pub authorization: SecretString,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenRequest([REDACTED])")
    }
}

/// Builds the token request exchanging `code` with the PKCE `verifier`. The client id and
/// secret are form-encoded before the Basic encoding (RFC 6749 section 2.3.1).
#[must_use]
pub fn token_request(
    code: &str,
    redirect_uri: &str,
    verifier: &PkceVerifier,
    client_id: &str,
    client_secret: &SecretString,
) -> TokenRequest {
    use base64::Engine as _;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier.expose())
        .finish();
    let form = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = Zeroizing::new(format!(
        "{}:{}",
        form(client_id),
        form(client_secret.expose_secret())
    ));
    let basic = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
    TokenRequest {
        body: SecretString::from(body),
        authorization: SecretString::from(format!("Basic {basic}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn the_state_cookie_binds_state_to_the_key() {
        let key = StateKey::derive(&[7u8; 32]).unwrap();
        let other = StateKey::derive(&[8u8; 32]).unwrap();
        let s = LoginSecrets::generate().unwrap();
        let cookie = key.cookie_value(s.state()).unwrap();
        assert!(key.matches(s.state(), &cookie));
        assert!(!other.matches(s.state(), &cookie));
        assert!(!key.matches("another-state", &cookie));
        assert!(!key.matches(s.state(), ""));
        assert!(StateKey::derive(&[1u8; 31]).is_err());
        assert_eq!(format!("{key:?}"), "StateKey([REDACTED])");
        assert_eq!(format!("{s:?}"), "LoginSecrets([REDACTED])");
    }

    #[test]
    fn the_authorization_url_carries_every_parameter() {
        let endpoint = Url::parse("https://idp.example/auth?tenant=a").unwrap();
        let s = LoginSecrets::generate().unwrap();
        let url = authorization_url(&endpoint, "c id", "https://rmm/cb", "openid email", &s);
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["tenant"], "a");
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["client_id"], "c id");
        assert_eq!(pairs["state"], s.state());
        assert_eq!(pairs["nonce"], s.nonce());
        assert_eq!(pairs["code_challenge"], s.verifier().challenge());
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_ne!(s.state(), s.nonce());
    }

    #[test]
    fn the_token_request_form_encodes_client_credentials() {
        let v = PkceVerifier::from_stored("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        let r = token_request(
            "a b",
            "https://rmm/cb",
            &v,
            "id:1",
            &SecretString::from("s&3"),
        );
        assert_eq!(
            r.body.expose_secret(),
            "grant_type=authorization_code&code=a+b&redirect_uri=https%3A%2F%2Frmm%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        // base64("id%3A1:s%263")
        assert_eq!(r.authorization.expose_secret(), "Basic aWQlM0ExOnMlMjYz");
        assert_eq!(format!("{r:?}"), "TokenRequest([REDACTED])");
    }
}
