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
use breeze_ffi::{Family, agent, audit, authz, credentials, httpsig, jwt, secrets, totp, webhooks};
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

#[test]
fn remote_paths_and_file_content_are_checked() {
    assert_eq!(agent::agent_check_remote_path("/etc/hosts"), None);
    assert_eq!(agent::agent_check_remote_path("C:\\x"), None);
    assert_eq!(agent::agent_check_remote_path(""), Some("path_empty"));
    assert_eq!(agent::agent_check_remote_path("x"), Some("path_relative"));
    assert_eq!(
        agent::agent_check_remote_path("/a/../b"),
        Some("path_dot_dot")
    );
    assert_eq!(agent::agent_check_remote_path("/\0"), Some("path_nul"));
    let long = format!("/{}", "a".repeat(2048));
    assert_eq!(agent::agent_check_remote_path(&long), Some("path_too_long"));

    let sha = "0e90e1aa36481e399939d32680dab2005c299f2bb9c3ba6b151ac0cc821fec7a";
    let ok = serde_json::json!({ "ok": true });
    assert_eq!(
        agent::agent_file_content_verify("V2VsY29tZQo=", sha, Some(8)),
        ok
    );
    assert_eq!(
        agent::agent_file_content_verify("V2VsY29tZQo=", sha, None),
        ok
    );
    let code = |b64: &str, sha: &str, size| {
        agent::agent_file_content_verify(b64, sha, size)["code"].clone()
    };
    assert_eq!(code("V2VsY29tZQo=", sha, Some(7)), "digest_mismatch");
    assert_eq!(
        code("V2VsY29tZQo=", &sha.to_uppercase(), None),
        "digest_mismatch"
    );
    assert_eq!(code("!!!!", sha, None), "content_invalid");
    assert_eq!(code(&"A".repeat(6_000_000), sha, None), "file_too_large");

    use breeze_ffi::error::u64_from_f64;
    assert_eq!(u64_from_f64(8.0).unwrap(), 8);
    for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, 1e16] {
        assert_eq!(
            u64_from_f64(bad).unwrap_err().code,
            "invalid_input",
            "{bad}"
        );
    }
}

#[test]
fn agent_output_is_redacted() {
    let token = format!("brz_{}", "0f".repeat(16));
    let out = agent::agent_redact_secrets(&format!(
        "{token}\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\nok"
    ));
    assert_eq!(out, "brz_[REDACTED]\n[REDACTED PRIVATE KEY]\nok");
    assert_eq!(agent::agent_redact_secrets("plain"), "plain");
}

#[test]
fn session_check_codes_and_inputs() {
    let user = json!({"active": true, "auth_epoch": 3, "mfa_epoch": 1,
        "password_changed_at": 1_767_225_600, "mfa_enabled": true});
    let token = json!({"aep": 3, "mep": 1, "iat": 1_767_225_700, "mfa": true});
    authz::session_check(user.clone(), token.clone()).unwrap();

    let mut bumped = user.clone();
    bumped["auth_epoch"] = json!(4);
    let e = authz::session_check(bumped, token.clone()).unwrap_err();
    assert_eq!((e.family, e.code), (Family::Authz, "session_revoked"));
    let mut inactive = user.clone();
    inactive["active"] = json!(false);
    let e = authz::session_check(inactive, token.clone()).unwrap_err();
    assert_eq!((e.family, e.code), (Family::Authz, "invalid_token"));

    // A verified token's whole claims object is accepted (other claims are ignored)...
    let claims = json!({"sub": "0b9e5c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b", "type": "access",
        "aep": 3, "mep": 1, "iat": 1_767_225_500, "exp": 1_767_226_400, "mfa": false});
    let e = authz::session_check(user.clone(), claims).unwrap_err();
    assert_eq!(e.code, "password_changed");
    // ...but every fact is required, and the user object takes no unknown field.
    let e = authz::session_check(user.clone(), json!({"aep": 3, "mep": 1, "iat": 1})).unwrap_err();
    assert_eq!((e.family, e.code), (Family::Input, "invalid_input"));
    let mut typo = user.clone();
    typo["mfa_enabeld"] = json!(true);
    let e = authz::session_check(typo, token.clone()).unwrap_err();
    assert_eq!(e.code, "invalid_input");

    // JavaScript numbers past 2^32 arrive as floats: integral ones within 2^53 are integers.
    let big = 9_007_199_254_740_991.0_f64;
    let mut big_user = user.clone();
    big_user["auth_epoch"] = json!(big);
    let mut big_token = token.clone();
    big_token["aep"] = json!(big);
    big_token["iat"] = json!(1e10);
    authz::session_check(big_user, big_token).unwrap();
    let mut fractional = token;
    fractional["aep"] = json!(3.5);
    let e = authz::session_check(user, fractional).unwrap_err();
    assert_eq!(e.code, "invalid_input");
}

#[test]
fn js_integral_fields_only_touch_exact_integers() {
    use breeze_ffi::error::js_integral_fields;
    let v = js_integral_fields(
        json!({"a": 1e10, "b": 1.5, "c": 1e300, "d": -2.0, "e": "x", "f": {"g": 2.0}}),
    );
    assert_eq!(v["a"], json!(10_000_000_000_i64));
    assert_eq!(v["b"], json!(1.5));
    assert_eq!(v["c"], json!(1e300));
    assert_eq!(v["d"], json!(-2));
    assert_eq!(v["e"], json!("x"));
    assert_eq!(v["f"], json!({"g": 2.0}));
    assert_eq!(js_integral_fields(json!([1.0])), json!([1.0]));
}

#[test]
fn js_integral_numbers_reach_every_depth() {
    use breeze_ffi::error::js_integral_numbers;
    let v =
        js_integral_numbers(json!({"a": 1e10, "b": [2.0, 1.5, {"c": -3.0}], "d": {"e": 1e300}}));
    assert_eq!(
        v,
        json!({"a": 10_000_000_000_i64, "b": [2, 1.5, {"c": -3}], "d": {"e": 1e300}})
    );
    assert_eq!(js_integral_numbers(json!(4.0)), json!(4));
}

const REF_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const REF_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const REF_BODY: &[u8] = br#"{"test": 2432232314}"#;
const REF_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

#[test]
fn webhook_sign_and_verify() {
    let secrets = [REF_SECRET.to_owned()];
    assert_eq!(
        webhooks::webhook_sign(&secrets, REF_ID, 1_614_265_330, REF_BODY).unwrap(),
        REF_SIG
    );
    webhooks::webhook_verify(
        &secrets,
        REF_ID,
        "1614265330",
        REF_SIG,
        REF_BODY,
        1_614_265_330,
        None,
    )
    .unwrap();
    let e = webhooks::webhook_verify(
        &secrets,
        REF_ID,
        "1614265330",
        REF_SIG,
        REF_BODY,
        1_614_265_631,
        None,
    )
    .unwrap_err();
    assert_eq!((e.family, e.code), (Family::Webhook, "timestamp_too_old"));
    webhooks::webhook_verify(
        &secrets,
        REF_ID,
        "1614265330",
        REF_SIG,
        REF_BODY,
        1_614_265_631,
        Some(301),
    )
    .unwrap();
    let e = webhooks::webhook_sign(&["whsec_short".to_owned()], REF_ID, 0, b"").unwrap_err();
    assert_eq!((e.family, e.code), (Family::Webhook, "secret_format"));
    assert!(!e.message.contains("short"), "{}", e.message);
    let e = webhooks::webhook_sign(&[], REF_ID, 0, b"").unwrap_err();
    assert_eq!(e.code, "no_secret");

    let generated = webhooks::webhook_generate_secret().unwrap();
    assert!(
        generated.starts_with("whsec_") && generated.len() == 50,
        "{generated}"
    );
    let both = [REF_SECRET.to_owned(), generated.clone()];
    let header = webhooks::webhook_sign(&both, "msg_1", 100, b"x").unwrap();
    webhooks::webhook_verify(&[generated], "msg_1", "100", &header, b"x", 100, Some(0)).unwrap();
}

#[test]
fn webhook_catalogue_and_payloads() {
    let cat = webhooks::webhook_event_catalogue();
    let cat = cat.as_array().unwrap();
    assert_eq!(cat.len(), 9);
    assert_eq!(
        cat[0],
        json!({"type": "device.enrolled", "subscribable": true, "dataFields": ["deviceId", "siteId", "hostname", "reenrolledInPlace"]})
    );
    assert_eq!(
        cat[8],
        json!({"type": "webhook.test", "subscribable": false, "dataFields": []})
    );

    let org = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f";
    let body = webhooks::webhook_payload(
        "webhook.test",
        "2026-01-01T01:00:00.5+01:00",
        org,
        json!({}),
    )
    .unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"type":"webhook.test","timestamp":"2026-01-01T00:00:00Z","orgId":"{org}","data":{{}}}}"#
        )
    );
    let code = |t: &str, ts: &str, o: &str, d| webhooks::webhook_payload(t, ts, o, d).unwrap_err();
    let e = code("device.deleted", "2026-01-01T00:00:00Z", org, json!({}));
    assert_eq!((e.family, e.code), (Family::Webhook, "unknown_event"));
    assert_eq!(
        code("webhook.test", "2026-01-01", org, json!({})).code,
        "timestamp_invalid"
    );
    assert_eq!(
        code("webhook.test", "2026-01-01T00:00:00Z", "org", json!({})).code,
        "invalid_input"
    );
    assert_eq!(
        code("webhook.test", "2026-01-01T00:00:00Z", org, json!([])).code,
        "data_not_object"
    );
    assert_eq!(
        code("webhook.test", "2026-01-01T00:00:00Z", org, json!({"a": 1})).code,
        "undocumented_field"
    );
}

#[test]
fn audit_verify_stream_has_the_chain_verdict_shape() {
    let e = audit::audit_verify_stream("nope", json!([]), json!([])).unwrap_err();
    assert_eq!(e.code, "invalid_input");
    let org = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f";
    let v = audit::audit_verify_stream(org, json!([]), json!([])).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["entries"], 0);
    let e = audit::audit_verify_stream(org, json!([{"chain": org}]), json!([])).unwrap_err();
    assert_eq!(e.code, "invalid_input");
}

#[test]
fn approval_digests_ai_scopes_and_tools() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/authz/approvals.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for c in v["digests"].as_array().unwrap() {
        let got = authz::approval_argument_digest(
            c["tool"].as_str().unwrap(),
            c["arguments_json"].as_str().unwrap(),
        );
        match c["hex"].as_str() {
            Some(hex) => assert_eq!(got.unwrap(), hex, "{}", c["name"]),
            None => {
                let e = got.unwrap_err();
                assert_eq!(
                    (e.family, e.code),
                    (Family::Authz, c["error_code"].as_str().unwrap()),
                    "{}",
                    c["name"]
                );
            }
        }
    }
    for c in v["ai_scopes"].as_array().unwrap() {
        let scopes: Vec<String> = serde_json::from_value(c["scopes"].clone()).unwrap();
        assert_eq!(
            authz::ai_scope_named(&scopes, c["scope"].as_str().unwrap()).unwrap(),
            c["named"].as_bool().unwrap(),
            "{c}"
        );
    }
    assert_eq!(authz::ai_tools().unwrap(), v["tools"]);

    // Input errors.
    let e = authz::ai_scope_named(&["ai:read".into()], "ai:*").unwrap_err();
    assert_eq!((e.family, e.code), (Family::Input, "invalid_input"));
    let e = authz::ai_scope_named(&["ai:read".into()], &"x".repeat(10_000)).unwrap_err();
    assert!(e.message.len() < 200, "the scope is echoed truncated");
    let e = authz::ai_scope_named(&["AI:read".into()], "ai:read").unwrap_err();
    assert_eq!((e.family, e.code), (Family::Authz, "invalid_scope"));
    let e = authz::approval_argument_digest("queue_script", "[1, 2").unwrap_err();
    assert_eq!((e.family, e.code), (Family::Authz, "invalid_arguments"));
}

const HS_SEED: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
const HS_PUBLIC: &str = "6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw";
const HS_URI: &str = "https://rmm.example.com/api/v1/agents/agt_1/heartbeat";

#[test]
fn httpsig_keys_sign_and_verify() {
    assert_eq!(httpsig::httpsig_public_key(HS_SEED).unwrap(), HS_PUBLIC);
    let e = httpsig::httpsig_public_key("not a seed").unwrap_err();
    assert_eq!((e.family, e.code), (Family::Httpsig, "private_key_invalid"));
    assert_eq!(Family::Httpsig.as_str(), "httpsig");

    let key = httpsig::httpsig_generate_key().unwrap();
    assert_eq!(
        httpsig::httpsig_public_key(&key.seed).unwrap(),
        key.public_key
    );
    assert_eq!((key.seed.len(), key.public_key.len()), (43, 43));
    let shown = format!("{key:?}");
    assert!(
        !shown.contains(&key.seed) && shown.contains(&key.public_key),
        "{shown}"
    );
    let out = serde_json::to_value(&key).unwrap();
    assert_eq!(out["publicKey"], key.public_key.as_str());

    assert_eq!(
        httpsig::httpsig_content_digest(br#"{"hello": "world"}"#),
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );

    let body = br#"{"status":"ok"}"#;
    let signed = httpsig::httpsig_sign(
        HS_SEED,
        "POST",
        HS_URI,
        body,
        "agt_1",
        1_700_000_000,
        Some("abcdefghijklmnop"),
    )
    .unwrap();
    let headers = serde_json::to_value(&signed).unwrap();
    assert_eq!(
        headers["contentDigest"],
        httpsig::httpsig_content_digest(body).as_str()
    );
    let ok = httpsig::httpsig_verify(
        HS_PUBLIC,
        "POST",
        HS_URI,
        body,
        headers.clone(),
        "sig1",
        "agt_1",
        1_700_000_300,
    )
    .unwrap();
    assert_eq!(
        (ok.created, ok.nonce.as_str()),
        (1_700_000_000, "abcdefghijklmnop")
    );
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        json!({"created": 1_700_000_000, "nonce": "abcdefghijklmnop"})
    );
    let verify = |pk: &str, h: serde_json::Value, now: i64| {
        httpsig::httpsig_verify(pk, "POST", HS_URI, body, h, "sig1", "agt_1", now).unwrap_err()
    };
    let e = verify(HS_PUBLIC, headers.clone(), 1_700_000_301);
    assert_eq!((e.family, e.code), (Family::Httpsig, "signature_expired"));
    assert_eq!(
        verify("short", headers.clone(), 1_700_000_000).code,
        "public_key_invalid"
    );
    assert_eq!(
        verify(HS_PUBLIC, json!({}), 1_700_000_000).code,
        "signature_missing"
    );
    // snake_case or HTTP field names are not silently read as "no field"
    let e = verify(HS_PUBLIC, json!({"signature_input": "x"}), 1_700_000_000);
    assert_eq!((e.family, e.code), (Family::Input, "invalid_input"));
    assert_eq!(
        verify(HS_PUBLIC, json!("sig1=:AA==:"), 1_700_000_000).code,
        "invalid_input"
    );

    // no body: no digest; a random nonce when none is given
    let a = httpsig::httpsig_sign(HS_SEED, "GET", HS_URI, b"", "agt_1", 1, None).unwrap();
    let b = httpsig::httpsig_sign(HS_SEED, "GET", HS_URI, b"", "agt_1", 1, None).unwrap();
    assert_eq!(a.content_digest, None);
    assert_ne!(a.signature_input, b.signature_input);
    let v = httpsig::httpsig_verify(
        HS_PUBLIC,
        "GET",
        HS_URI,
        b"",
        serde_json::to_value(&a).unwrap(),
        "sig1",
        "agt_1",
        1,
    )
    .unwrap();
    assert_eq!(v.nonce.len(), 32);
}
