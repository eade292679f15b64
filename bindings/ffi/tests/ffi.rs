//! The binding API's error mapping and input checks (the vectors are replayed by the Python and
//! JavaScript suites; see bindings/README.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_ffi::error::{js_number_from_u64, unix_from_f64};
use breeze_ffi::{Family, agent, audit, authz, credentials, jwt, secrets, totp};
use serde_json::json;

#[test]
fn errors_carry_family_and_crate_code() {
    let e = credentials::credential_hash("api_key", "brzk_short").unwrap_err();
    assert_eq!(
        (e.family, e.code),
        (Family::Credential, "credential_malformed")
    );
    let e = credentials::credential_generate("root").unwrap_err();
    assert_eq!((e.family, e.code), (Family::Input, "invalid_input"));
    let e = authz::grant_matches("devices", "devices:read").unwrap_err();
    assert_eq!((e.family, e.code), (Family::Authz, "invalid_grant"));
    let e = totp::totp_code("not base32!", 0).unwrap_err();
    assert_eq!((e.family, e.code), (Family::Totp, "totp_secret_malformed"));
    let e = jwt::jwt_verify(
        json!({"keys": {"k": "x".repeat(40)}, "active": "k"}),
        "a.b.c",
        "access",
        0,
    )
    .unwrap_err();
    assert_eq!(e.family, Family::Jwt);
    let e = audit::audit_verify_checkpoint(json!({}), json!([])).unwrap_err();
    assert_eq!(e.code, "invalid_input");
    let e = agent::agent_schema("shell_exec").unwrap_err();
    assert_eq!(e.code, "invalid_input");
}

#[test]
fn key_rings_refuse_unknown_fields_and_missing_active() {
    let key = "4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7";
    let e = secrets::secret_encrypt(
        json!({"keys": {"k": key}, "active": "k", "extra": 1}),
        "t",
        "c",
        "x",
    )
    .unwrap_err();
    assert_eq!(e.code, "invalid_input");
    let e = secrets::secret_encrypt(json!({"keys": {"k": key}, "active": "j"}), "t", "c", "x")
        .unwrap_err();
    assert_eq!((e.family, e.code), (Family::Envelope, "active_key_missing"));
    let sealed =
        secrets::secret_encrypt(json!({"keys": {"k": key}, "active": "k"}), "t", "c", "x").unwrap();
    assert!(sealed.starts_with("enc:v3:k:"));
}

#[test]
fn error_messages_never_echo_secrets() {
    let e = credentials::credential_hash("agent_token", "brz_SECRETSECRET").unwrap_err();
    assert!(!e.message.contains("SECRETSECRET"), "{}", e.message);
    let e = secrets::secret_decrypt(
        json!({"keys": {"k": "supersecretkeymaterial-0123456789abcdef"}, "active": "k"}),
        "t",
        "c",
        "enc:v3:k:AAAA.BBBB.CCCC",
    )
    .unwrap_err();
    assert!(!e.message.contains("supersecret"), "{}", e.message);
}

#[test]
fn js_numbers_are_checked() {
    assert_eq!(unix_from_f64(1_800_000_000.0).unwrap(), 1_800_000_000);
    assert_eq!(unix_from_f64(-5.0).unwrap(), -5);
    for bad in [f64::NAN, f64::INFINITY, 1.5, 1e300] {
        assert_eq!(
            unix_from_f64(bad).unwrap_err().code,
            "invalid_input",
            "{bad}"
        );
    }
    assert_eq!(js_number_from_u64(60_000_000).unwrap(), 60_000_000.0);
    assert!(js_number_from_u64(u64::MAX).is_err());
}
