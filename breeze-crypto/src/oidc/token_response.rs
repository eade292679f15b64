//! The token endpoint's answer (OIDC Core 3.1.3.3): Breeze uses only the ID token; the
//! provider's access and refresh tokens are not kept.

use serde_json::Value;

use super::{MAX_DOCUMENT_BYTES, OidcError};

/// The part of a successful token response Breeze uses. `Debug` is redacted.
pub struct TokenResponse {
    /// The compact ID token.
    pub id_token: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenResponse([REDACTED])")
    }
}

impl TokenResponse {
    /// Parses a 200 answer: a JSON object with `token_type` `Bearer` (any case) and a string
    /// `id_token`.
    ///
    /// # Errors
    /// [`OidcError::TokenResponse`].
    pub fn parse(body: &[u8]) -> Result<Self, OidcError> {
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(OidcError::TokenResponse("too large"));
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|_| OidcError::TokenResponse("not JSON"))?;
        let token_type = value.get("token_type").and_then(Value::as_str);
        if !token_type.is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
            return Err(OidcError::TokenResponse("token_type is not Bearer"));
        }
        let id_token = value
            .get("id_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or(OidcError::TokenResponse("no id_token"))?;
        Ok(Self {
            id_token: id_token.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let ok = TokenResponse::parse(
            br#"{"token_type":"bearer","id_token":"a.b.c","access_token":"x"}"#,
        )
        .unwrap();
        assert_eq!(ok.id_token, "a.b.c");
        for bad in [
            &br#"{"token_type":"mac","id_token":"a.b.c"}"#[..],
            br#"{"token_type":"Bearer"}"#,
            br#"{"token_type":"Bearer","id_token":""}"#,
            br#"{"token_type":"Bearer","id_token":5}"#,
            b"nope",
        ] {
            assert_eq!(
                TokenResponse::parse(bad).unwrap_err().code(),
                "oidc_token_response_invalid"
            );
        }
    }
}
