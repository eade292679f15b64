//! Opening sealed column values (`enc:v1/v2/v3`, SPEC 4) and MFA secrets from arbitrary
//! text: never panics, and nothing opens unless this target sealed it (AES-GCM: a forged or
//! altered value must fail its tag).
#![no_main]

use breeze_crypto::envelope::{self, Field, KeyRing, MfaCipher};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ring) = KeyRing::builder()
        .key(
            "k1",
            SecretString::from(
                "8c3e5a7f1b9d2c4e6a8f0b3d5c7e9a1f2b4d6c8e0a3f5b7d9c1e2a4f6b8d0c3e".to_owned(),
            ),
        )
        .map(|b| {
            b.legacy_v1_key(SecretString::from(
                "5b7d9f1a3c5e7b9d2f4a6c8e0b2d4f6a8c1e3b5d7f9a2c4e6b8d0f3a5c7e9b1d".to_owned(),
            ))
        })
        .and_then(|b| b.active("k1"))
    else {
        return;
    };
    let Ok(field) = Field::new("fuzz", "value") else {
        return;
    };
    let _ = envelope::is_encrypted(text);
    let _ = envelope::version_of(text);
    assert!(
        ring.decrypt(text, &field).is_err(),
        "a value nobody sealed opened"
    );
    let _ = ring.reencrypt(text, &field);
    let mfa = MfaCipher::new(&SecretString::from(
        "5b7d9f1a3c5e7b9d2f4a6c8e0b2d4f6a8c1e3b5d7f9a2c4e6b8d0f3a5c7e9b1d".to_owned(),
    ));
    assert!(mfa.decrypt(text).is_err(), "an MFA value nobody sealed opened");
});
