//! Device-bound agent credentials (SPEC 17): the header names of an HTTP message signature
//! (RFC 9421) and the bodies that register or rotate a device's Ed25519 public key.
//!
//! An agent enrolled with a key (`publicKey` in the enrollment request) signs every request
//! and its WebSocket upgrade; the server then refuses that device's bearer token alone
//! (`signature_required`). An agent enrolled before registers its key once with
//! `POST /api/v1/agents/:agentId/key`, signed with the key it registers; a later change is
//! `POST /api/v1/agents/:agentId/key/rotate`, signed with the current key (label `sig1`)
//! and the new one (label `sig2`). Refusals: `signature_required`, `signature_invalid`
//! (401), `agent_key_already_registered` (409).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::issue::IssueCode;
use crate::validate::{Path, Report, Validate};

/// The header names, as the signing library (`breeze_crypto::httpsig`) names them:
/// `signature-input`, `signature` (RFC 9421), `content-digest` (RFC 9530).
pub use breeze_crypto::httpsig::profile::{
    CONTENT_DIGEST_FIELD as CONTENT_DIGEST_HEADER, SIGNATURE_FIELD as SIGNATURE_HEADER,
    SIGNATURE_INPUT_FIELD as SIGNATURE_INPUT_HEADER,
};
/// Path of the one-time key registration, relative to `/api/v1/agents/:agentId`.
pub const REGISTER_KEY_PATH: &str = "/key";
/// Path of a key rotation, relative to `/api/v1/agents/:agentId`.
pub const ROTATE_KEY_PATH: &str = "/key/rotate";
/// Length of an encoded public key (32 bytes, unpadded base64url).
pub const PUBLIC_KEY_CHARS: usize = 43;

/// Whether `key` has the form of an encoded Ed25519 public key (43 unpadded base64url
/// characters). The server also checks that it is a valid, strong point.
#[must_use]
pub fn is_public_key_form(key: &str) -> bool {
    key.len() == PUBLIC_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks an optional public key field.
pub(crate) fn check_public_key(key: Option<&str>, path: &Path<'_>, report: &mut Report) {
    if key.is_some_and(|k| !is_public_key_form(k)) {
        report.issue(
            path,
            IssueCode::InvalidFormat,
            "expected 43 characters of unpadded base64url (an Ed25519 public key)",
        );
    }
}

/// Body of a key registration or rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentKeyRequest {
    /// The Ed25519 public key (unpadded base64url of its 32 bytes).
    #[schemars(length(min = 43, max = 43))]
    pub public_key: String,
}

/// Answer to a key registration or rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentKeyResponse {
    /// The key now bound to the device.
    #[schemars(length(min = 43, max = 43))]
    pub public_key: String,
}

impl Validate for AgentKeyRequest {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_public_key(Some(&self.public_key), &path.field("publicKey"), report);
    }
}

impl Validate for AgentKeyResponse {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_public_key(Some(&self.public_key), &path.field("publicKey"), report);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use crate::Message as _;

    #[test]
    fn key_bodies_decode_strictly() {
        let key = "A".repeat(43);
        let ok = format!(r#"{{"publicKey":"{key}"}}"#);
        assert_eq!(
            AgentKeyRequest::decode(ok.as_bytes())
                .unwrap()
                .message
                .public_key,
            key
        );
        for bad in [
            r#"{"publicKey":"short"}"#.to_owned(),
            format!(r#"{{"publicKey":"{}="}}"#, "A".repeat(42)),
            format!(r#"{{"publicKey":"{key}","extra":1}}"#),
            "{}".to_owned(),
        ] {
            assert!(AgentKeyRequest::decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
