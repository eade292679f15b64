//! Device-bound credentials (SPEC 17), as `breeze-agent` does them: an agent enrolled with
//! `--bind-keys` holds an Ed25519 key, and signs every HTTP request and its WebSocket
//! upgrade with an RFC 9421 signature (`@method`, `@target-uri` and, with a body,
//! `content-digest`; `created` now, a fresh nonce, `keyid` the agent id).
//!
//! The target URI is the one the server rebuilds: `http://` + `Host` + path and query.
//! For HTTP that is what `reqwest::Url` serializes (the `Host` reqwest sends drops a
//! default port as the URL does); for the WebSocket upgrade it is read off the upgrade
//! request itself ([`upgrade_target_uri`]), so the `Host` tungstenite sends and the signed
//! URI cannot differ.

use breeze_crypto::httpsig::DeviceSigningKey;
use breeze_crypto::httpsig::profile::RequestParts;

use crate::SimError;

/// The signature fields of one request: (`content-digest` when there is a body),
/// `signature-input`, `signature`.
pub type SignatureFields = Vec<(&'static str, String)>;

/// Signs a request of agent `agent_id` with `key` now, with a fresh nonce: exactly what
/// `breeze-agent` sends (`breeze_agent::client::sign_with`).
///
/// # Errors
/// [`SimError::Local`] with the library's code (the random generator failed, or a value
/// cannot be encoded); nothing of the key is in it.
pub fn sign(
    key: &DeviceSigningKey,
    agent_id: &str,
    parts: &RequestParts<'_>,
) -> Result<SignatureFields, SimError> {
    breeze_agent::client::sign_with(key, agent_id, parts.method, parts.target_uri, parts.body)
        .map_err(|e| SimError::Local(format!("request signature: {e}")))
}

/// `request` with `fields` added, when there are any.
pub fn with_fields(
    mut request: reqwest::RequestBuilder,
    fields: Option<SignatureFields>,
) -> reqwest::RequestBuilder {
    for (name, value) in fields.into_iter().flatten() {
        request = request.header(name, value);
    }
    request
}

/// The target URI the server rebuilds for a WebSocket upgrade request: `http://` + its
/// `Host` + its path and query (the server sees plain HTTP on loopback).
///
/// # Errors
/// [`SimError::Local`] when the request has no `Host` or no path.
pub fn upgrade_target_uri<B>(
    request: &tokio_tungstenite::tungstenite::http::Request<B>,
) -> Result<String, SimError> {
    let host = request
        .headers()
        .get(tokio_tungstenite::tungstenite::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| SimError::Local("upgrade request without a Host".into()))?;
    let path = request
        .uri()
        .path_and_query()
        .ok_or_else(|| SimError::Local("upgrade request without a path".into()))?;
    Ok(format!("http://{host}{path}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use crate::admin::unix_now;
    use breeze_agent_proto::signing::{
        CONTENT_DIGEST_HEADER, SIGNATURE_HEADER, SIGNATURE_INPUT_HEADER,
    };

    use breeze_crypto::httpsig::profile::{self, ReceivedHeaders, VerifyPolicy};

    const AGENT: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn received(fields: &SignatureFields) -> ReceivedHeaders<'_> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        ReceivedHeaders {
            content_digest: get(CONTENT_DIGEST_HEADER),
            signature_input: get(SIGNATURE_INPUT_HEADER),
            signature: get(SIGNATURE_HEADER),
        }
    }

    #[test]
    fn a_signed_request_verifies_and_each_gets_its_own_nonce() {
        let key = DeviceSigningKey::generate().unwrap();
        let body = br#"{"status":"ok"}"#;
        let parts = RequestParts {
            method: "POST",
            target_uri: "http://127.0.0.1:3000/api/v1/agents/x/heartbeat",
            body,
        };
        let now = unix_now();
        let a = sign(&key, AGENT, &parts).unwrap();
        let b = sign(&key, AGENT, &parts).unwrap();
        assert_eq!(a.len(), 3);
        let ok = profile::verify_request(
            &key.public_key(),
            &parts,
            &received(&a),
            &VerifyPolicy::new(profile::REQUEST_LABEL, AGENT, now),
        )
        .unwrap();
        let again = profile::verify_request(
            &key.public_key(),
            &parts,
            &received(&b),
            &VerifyPolicy::new(profile::REQUEST_LABEL, AGENT, now),
        )
        .unwrap();
        assert_ne!(ok.nonce, again.nonce);
        // the seed is in no field
        use secrecy::ExposeSecret as _;
        let seed = key.to_base64url();
        assert!(a.iter().all(|(_, v)| !v.contains(seed.expose_secret())));
    }

    #[test]
    fn the_upgrade_is_signed_over_its_http_form() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let key = DeviceSigningKey::generate().unwrap();
        let ws = format!("ws://127.0.0.1:3000/api/v1/agent-ws/{AGENT}/ws");
        let request = ws.as_str().into_client_request().unwrap();
        let uri = upgrade_target_uri(&request).unwrap();
        assert_eq!(
            uri,
            format!("http://127.0.0.1:3000/api/v1/agent-ws/{AGENT}/ws")
        );
        let parts = RequestParts {
            method: "GET",
            target_uri: &uri,
            body: b"",
        };
        let now = unix_now();
        let fields = sign(&key, AGENT, &parts).unwrap();
        assert_eq!(fields.len(), 2, "no body, no digest");
        profile::verify_request(
            &key.public_key(),
            &parts,
            &received(&fields),
            &VerifyPolicy::new(profile::REQUEST_LABEL, AGENT, now),
        )
        .unwrap();
    }
}
