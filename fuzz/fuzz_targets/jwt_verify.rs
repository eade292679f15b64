//! Access and refresh token verification on arbitrary text, against a key ring with a kid'd
//! key and a legacy secret: never panics, and nothing but the one token this target signs
//! itself is ever accepted (a forged or mangled token verifying would be a bypass).
//!
//! Differential, for the verifier's two fast paths:
//! - claims: the input (and the decoded middle segment of a token-shaped input) as a payload.
//!   Whatever the layout reader (`claims_from_layout`) takes, `serde_json` takes with equal
//!   claims; and `verify` gives exactly what `verify_serde_only` gives for a validly signed
//!   token around that payload, error text included. The seeds `payload-*` are payloads as
//!   `sign` writes them, for the mutator to start from.
//! - base64url: the verifier's segment decoder (`base64-simd`) gives exactly what `base64`'s
//!   `URL_SAFE_NO_PAD` gives (bytes or refusal) on the whole input.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use breeze_crypto::jwt::{
    Claims, JwtKeyRing, TokenType, claims_from_layout, decode_base64url_segment,
};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use sha2::Sha256;

const NOW: i64 = 1_800_000_000;
const K1: &str = "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e2b4d6f8a0c1e3b5d";

fuzz_target!(|data: &[u8]| {
    let Ok(ring) = JwtKeyRing::builder()
        .key("k1", SecretString::from(K1.to_owned()))
        .and_then(|b| {
            b.legacy_secret(SecretString::from(
                "a1c3e5b7d9f2a4c6e8b0d3f5a7c9e1b4d6f8a2c5e7b9d1f3".to_owned(),
            ))
        })
        .and_then(|b| b.active("k1"))
    else {
        return;
    };
    let token = String::from_utf8_lossy(data);
    for expected in [TokenType::Access, TokenType::Refresh] {
        let verified = ring.verify(&token, expected, NOW);
        assert_eq!(
            verified,
            ring.verify_serde_only(&token, expected, NOW),
            "verify differs from its serde-only reference"
        );
        if let Ok(claims) = verified {
            // only a token signed with one of the ring's keys verifies: re-signing its
            // claims with the active key must give a token that verifies to the same claims
            let resigned = ring.sign(&claims).expect("claims of a verified token sign");
            assert_eq!(ring.verify(&resigned, expected, NOW).ok(), Some(claims));
        }
    }

    assert_eq!(
        decode_base64url_segment(&token),
        URL_SAFE_NO_PAD.decode(token.as_bytes()).ok(),
        "base64url decoders differ"
    );

    check_payload(&ring, data);
    if let Some(payload) = token.split('.').nth(1).and_then(decode_base64url_segment) {
        check_payload(&ring, &payload);
    }
});

/// The claims differential on one payload (any bytes).
fn check_payload(ring: &JwtKeyRing, payload: &[u8]) {
    let reference = serde_json::from_slice::<Claims>(payload);
    if let Ok(text) = std::str::from_utf8(payload)
        && let Some(fast) = claims_from_layout(text)
    {
        match &reference {
            Ok(reference) => assert_eq!(&fast, reference, "layout reader differs from serde"),
            Err(e) => panic!("layout reader took what serde_json refuses: {e}"),
        }
    }
    // a validly signed token around the payload, with the ring's own k1 header
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(K1.as_bytes()) else {
        return;
    };
    mac.update(input.as_bytes());
    let token = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    let mut times = vec![NOW];
    if let Ok(c) = &reference {
        times.extend([c.iat, c.exp, c.exp.saturating_sub(1)]);
    }
    for expected in [TokenType::Access, TokenType::Refresh] {
        for &now in &times {
            assert_eq!(
                ring.verify(&token, expected, now),
                ring.verify_serde_only(&token, expected, now),
                "verify differs from its serde-only reference on a signed payload"
            );
        }
    }
}
