//! Access and refresh token verification on arbitrary text, against a key ring with a kid'd
//! key and a legacy secret: never panics, and nothing but the one token this target signs
//! itself is ever accepted (a forged or mangled token verifying would be a bypass).
#![no_main]

use breeze_crypto::jwt::{JwtKeyRing, TokenType};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(ring) = JwtKeyRing::builder()
        .key(
            "k1",
            SecretString::from("3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e2b4d6f8a0c1e3b5d".to_owned()),
        )
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
        if let Ok(claims) = ring.verify(&token, expected, NOW) {
            // only a token signed with one of the ring's keys verifies: re-signing its
            // claims with the active key must give a token that verifies to the same claims
            let resigned = ring.sign(&claims).expect("claims of a verified token sign");
            assert_eq!(ring.verify(&resigned, expected, NOW).ok(), Some(claims));
        }
    }
});
