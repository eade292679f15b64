//! Every credential parser (agent tokens, API keys, enrollment keys, ...) on arbitrary text:
//! never panics, and whatever parses hashes and prints a display prefix without panicking.
#![no_main]

use breeze_crypto::credentials::{
    AgentToken, ApiKey, EnrollmentKey, PasswordResetToken, SessionToken, TokenHash,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if AgentToken::parse(text).is_ok() {
        let _ = TokenHash::of(text.as_bytes()).to_hex();
    }
    if let Ok(key) = ApiKey::parse(text) {
        let _ = key.is_legacy();
        let _ = key.display_prefix();
    }
    let _ = SessionToken::parse(text);
    let _ = PasswordResetToken::parse(text);
    let _ = EnrollmentKey::parse(text);
});
