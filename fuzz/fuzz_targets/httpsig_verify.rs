//! HTTP message signature verification (RFC 9421, SPEC 17) on arbitrary `Signature-Input`,
//! `Signature` and `Content-Digest` fields and body: never panics, and nothing verifies
//! against a device key whose private half this target never uses (a forgery would).
#![no_main]

use breeze_crypto::httpsig::base;
use breeze_crypto::httpsig::digest;
use breeze_crypto::httpsig::keys::DeviceSigningKey;
use breeze_crypto::httpsig::profile::{self, ReceivedHeaders, RequestParts, VerifyPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // fields split on NUL: signature-input, signature, content-digest, body
    let mut parts = text.splitn(4, '\0');
    let input = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let content_digest = parts.next();
    let body = parts.next().unwrap_or_default().as_bytes();
    let _ = base::parse_signature_input(input, "breeze");
    let _ = base::parse_signature(signature, "breeze");
    if let Some(field) = content_digest {
        let _ = digest::check(field, body);
    }
    let key = DeviceSigningKey::from_seed(&[7_u8; 32]).public_key();
    let request = RequestParts {
        method: "POST",
        target_uri: "https://rmm.example/api/v1/agents/a/heartbeat",
        body,
    };
    let headers = ReceivedHeaders {
        content_digest,
        signature_input: Some(input),
        signature: Some(signature),
    };
    let policy = VerifyPolicy::new("breeze", "a", 1_800_000_000);
    assert!(
        profile::verify_request(&key, &request, &headers, &policy).is_err(),
        "a signature nobody made verified"
    );
});
