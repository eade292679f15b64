//! Startup configuration validation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code"
)]

use breeze_core::config::{
    ConfigReport, Environment, NamedSecret, SecurityConfig, Severity, validate,
};
use breeze_crypto::keys::KNOWN_PLACEHOLDERS;
use breeze_crypto::secrecy::SecretString;

const APP_KEY: &str = "4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7";
const APP_KEY_2: &str = "0c7a1e9d2b5f8a3c6e1d4b7a0f3c9e2d5b8a1f4c7e0d3a6b9f2c5e8d1a4b7c0f";
const MFA_KEY: &str = "9b3e71c0d5a28f46e1b7c3d9a0f5e2b8c4d6a1f3e7b9c0d2a5f8e1b4c7d0a3f6";
const JWT: &str = "Jq8vR2mZ5tW9xK3nB7cF1hL4pD6sG0yA";
const JWT_2: &str = "Xw3Nf7Qk1Lp9Rv5Tz2Hm8Bc4Jd6Gs0Ya";
const PEPPER: &str = "p3PpEr-Zq7Wm2Xk9Rt5Yb1Nc8Vd4Lf6Hg0";
const METRICS: &str = "mT9kQ2wE7rY4uI1oP6aS3dF8gH5jK0lZ";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn good(env: Environment) -> SecurityConfig {
    let mut c = SecurityConfig::new(env);
    c.app_encryption_keys = vec![
        NamedSecret::new("k2026", APP_KEY),
        NamedSecret::new("k2025", APP_KEY_2),
    ];
    c.active_encryption_key_id = Some("k2026".to_owned());
    c.mfa_encryption_key = Some(secret(MFA_KEY));
    c.jwt_secrets = vec![NamedSecret::new("j1", JWT), NamedSecret::new("j2", JWT_2)];
    c.active_jwt_kid = Some("j2".to_owned());
    c.peppers = vec![NamedSecret::new("enrollment", PEPPER)];
    c.cors_origins = vec![
        "https://app.example.com".to_owned(),
        "https://admin.example.com:8443".to_owned(),
    ];
    c.trusted_proxies = vec!["10.0.0.0/8".to_owned(), "fd00::/8".to_owned()];
    c.redis_url = Some(secret(
        "rediss://:Zt7Kq2Wv9Lm4Xp1Rb8Nc5Hd3Gf6Js0Ya@redis.internal:6380/0",
    ));
    c.metrics_token = Some(secret(METRICS));
    c.ssrf_allow_list = vec!["10.20.0.0/16".to_owned()];
    c
}

fn codes(r: &ConfigReport, severity: Severity) -> Vec<(String, &'static str)> {
    let list = match severity {
        Severity::Error => &r.errors,
        Severity::Warning => &r.warnings,
    };
    list.iter().map(|i| (i.field.clone(), i.code)).collect()
}

#[test]
fn a_good_production_config_passes_clean() {
    let r = validate(&good(Environment::Production));
    assert!(r.is_ok(), "{:?}", r.errors);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn every_known_placeholder_is_refused_everywhere() {
    assert!(KNOWN_PLACEHOLDERS.len() >= 24);
    for placeholder in KNOWN_PLACEHOLDERS {
        let mut c = good(Environment::Production);
        c.app_encryption_keys = vec![NamedSecret::new("k", placeholder)];
        c.active_encryption_key_id = None;
        c.mfa_encryption_key = Some(secret(placeholder));
        c.jwt_secrets = vec![NamedSecret::new("j", placeholder)];
        c.active_jwt_kid = None;
        c.peppers = vec![NamedSecret::new("enrollment", placeholder)];
        c.metrics_token = Some(secret(placeholder));
        let r = validate(&c);
        for field in [
            "app_encryption_keys.k",
            "mfa_encryption_key",
            "jwt_secrets.j",
            "peppers.enrollment",
            "metrics_token",
        ] {
            assert!(
                r.has(field, "placeholder"),
                "`{placeholder}` in {field}: {:?}",
                r.errors
            );
        }
        // The report never carries the value (checked for values that cannot occur in
        // ordinary message words such as "secret" or "development").
        let distinctive = placeholder.chars().any(|ch| !ch.is_ascii_lowercase())
            || ["changeme", "changeit", "supersecret", "letmein", "mysecret"].contains(placeholder);
        if placeholder.len() >= 8 && distinctive {
            let shown = format!("{r:?} {}", serde_json::to_string(&r).unwrap());
            assert!(!shown.contains(placeholder), "`{placeholder}` leaked");
        }
    }
}

#[test]
fn weak_secrets_are_errors_in_production_and_warnings_in_development() {
    for (env, severity) in [
        (Environment::Production, Severity::Error),
        (Environment::Development, Severity::Warning),
    ] {
        let mut c = good(env);
        // 32 bytes, not periodic, but only 11 distinct values.
        let low_entropy: String = (0u32..32)
            .map(|i| format!("{:02x}", (i * i * i + i) % 11))
            .collect();
        c.app_encryption_keys[1].value = secret(&low_entropy);
        c.mfa_encryption_key = Some(secret("abcd"));
        c.jwt_secrets[0].value = secret("short-but-random-Q7x");
        c.jwt_secrets[1].value = secret("abababababababababababababababababab");
        c.peppers[0].value = secret("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        let r = validate(&c);
        let found = codes(&r, severity);
        for expected in [
            ("app_encryption_keys.k2025".to_owned(), "low_entropy"),
            ("mfa_encryption_key".to_owned(), "wrong_length"),
            ("jwt_secrets.j1".to_owned(), "too_short"),
            ("jwt_secrets.j2".to_owned(), "simple_sequence"),
            ("peppers.enrollment".to_owned(), "simple_sequence"),
        ] {
            assert!(
                found.contains(&expected),
                "{env:?}: {expected:?} not in {found:?}"
            );
        }
    }
}

#[test]
fn keys_must_be_distinct() {
    let mut c = good(Environment::Production);
    c.mfa_encryption_key = Some(secret(APP_KEY));
    let r = validate(&c);
    assert!(
        r.errors
            .iter()
            .any(|e| e.field == "mfa_encryption_key" && e.code == "not_distinct"),
        "{:?}",
        r.errors
    );
    // The same key in another encoding (base64 of the same 32 bytes) is still the same key.
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&APP_KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let b64 = base64_std(&bytes);
    c.mfa_encryption_key = Some(secret(&b64));
    assert!(validate(&c).has("mfa_encryption_key", "not_distinct"));
    // A JWT secret reused as a pepper or as the metrics token.
    let mut c = good(Environment::Production);
    c.peppers[0].value = secret(JWT);
    c.metrics_token = Some(secret(JWT_2));
    let r = validate(&c);
    assert!(
        r.errors
            .iter()
            .any(|e| e.field == "peppers.enrollment" && e.code == "not_distinct")
    );
    assert!(
        r.errors
            .iter()
            .any(|e| e.field == "metrics_token" && e.code == "not_distinct")
    );
    // Two kids with the same secret: only a warning.
    let mut c = good(Environment::Production);
    c.jwt_secrets[1].value = secret(JWT);
    let r = validate(&c);
    assert!(r.is_ok(), "{:?}", r.errors);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.field == "jwt_secrets.j2" && w.code == "not_distinct")
    );
    // A JWT secret equal to an encryption key string.
    let mut c = good(Environment::Production);
    c.jwt_secrets[0].value = secret(APP_KEY);
    assert!(
        validate(&c)
            .errors
            .iter()
            .any(|e| e.field == "jwt_secrets.j1" && e.code == "not_distinct")
    );
}

fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn key_rings_need_valid_unique_ids_and_a_known_active_id() {
    let mut c = good(Environment::Production);
    c.app_encryption_keys[1].name = "bad id!".to_owned();
    c.active_encryption_key_id = Some("nope".to_owned());
    c.jwt_secrets[1].name = "j1".to_owned();
    c.active_jwt_kid = None;
    let r = validate(&c);
    let found = codes(&r, Severity::Error);
    assert!(
        found.contains(&("app_encryption_keys[1]".to_owned(), "invalid_key_id")),
        "{found:?}"
    );
    assert!(found.contains(&(
        "app_encryption_keys.active".to_owned(),
        "unknown_active_key"
    )));
    assert!(found.contains(&("jwt_secrets.j1".to_owned(), "duplicate_key_id")));
    assert!(found.contains(&("jwt_secrets.active".to_owned(), "missing_active_key")));
    // Nothing configured at all.
    let r = validate(&SecurityConfig::new(Environment::Development));
    assert!(r.has("app_encryption_keys", "missing"));
    assert!(r.has("jwt_secrets", "missing"));
    assert!(!r.is_ok(), "missing keys are errors even in development");
}

#[test]
fn cors() {
    let mut c = good(Environment::Production);
    c.cors_origins = [
        "*",
        "https://*.example.com",
        "null",
        "https://app.example.com/path",
        "ftp://x.example.com",
        "https://",
        "https://a.example.com:99999",
        "http://plain.example.com",
        "http://localhost:3000",
        "https://[2001:db8::1]:8443",
    ]
    .map(str::to_owned)
    .to_vec();
    let r = validate(&c);
    let errors = codes(&r, Severity::Error);
    let warnings = codes(&r, Severity::Warning);
    let at = |i: usize| format!("cors_origins[{i}]");
    assert!(errors.contains(&(at(0), "cors_wildcard")));
    assert!(errors.contains(&(at(1), "cors_wildcard")));
    assert!(errors.contains(&(at(2), "cors_null_origin")));
    for i in 3..=6 {
        assert!(
            errors.contains(&(at(i), "cors_invalid_origin")),
            "{i}: {errors:?}"
        );
    }
    assert!(warnings.contains(&(at(7), "cors_insecure_origin")));
    assert!(warnings.contains(&(at(8), "cors_localhost")));
    assert!(
        !errors.iter().chain(&warnings).any(|(f, _)| *f == at(9)),
        "a bracketed IPv6 origin is fine"
    );
    // In development a wildcard is only a warning.
    let mut c = good(Environment::Development);
    c.cors_origins = vec!["*".to_owned()];
    let r = validate(&c);
    assert!(r.is_ok());
    assert!(r.has("cors_origins[0]", "cors_wildcard"));
}

#[test]
fn proxies() {
    let mut c = good(Environment::Production);
    c.trusted_proxies = [
        "10.0.0.0/8",
        "10.0.0.0/33",
        "not-an-ip",
        "0.0.0.0/0",
        "::/0",
    ]
    .map(str::to_owned)
    .to_vec();
    let r = validate(&c);
    let errors = codes(&r, Severity::Error);
    assert!(errors.contains(&("trusted_proxies[1]".to_owned(), "invalid_proxy_cidr")));
    assert!(errors.contains(&("trusted_proxies[2]".to_owned(), "invalid_proxy_cidr")));
    assert!(errors.contains(&("trusted_proxies[3]".to_owned(), "proxy_trusts_everyone")));
    assert!(errors.contains(&("trusted_proxies[4]".to_owned(), "proxy_trusts_everyone")));
    assert!(!errors.iter().any(|(f, _)| f == "trusted_proxies[0]"));
}

#[test]
fn redis_url() {
    let check = |url: Option<&str>| {
        let mut c = good(Environment::Production);
        c.redis_url = url.map(secret);
        validate(&c)
    };
    assert!(check(None).has("redis_url", "redis_not_configured"));
    let r = check(Some("redis://redis.internal:6379"));
    assert!(r.is_ok());
    assert!(r.has("redis_url", "redis_no_password"));
    assert!(r.has("redis_url", "redis_plaintext"));
    let r = check(Some("redis://:changeme@127.0.0.1:6379"));
    assert!(r.has("redis_url", "redis_weak_password"));
    assert!(!r.has("redis_url", "redis_plaintext"), "loopback is fine");
    assert!(!format!("{r:?}").contains("changeme"));
    let r = check(Some("redis://user:Zt7Kq2Wv9Lm4Xp1R@10.1.1.1/2"));
    assert!(!r.has("redis_url", "redis_no_password"));
    let r = check(Some("unix:///run/redis.sock?password=Zt7Kq2Wv9Lm4Xp1R"));
    assert!(!r.has("redis_url", "redis_no_password"), "{:?}", r.warnings);
    assert!(check(Some("http://redis")).has("redis_url", "redis_invalid_url"));
    assert!(check(Some("redis.internal:6379")).has("redis_url", "redis_invalid_url"));
    // Development: no warnings about passwords.
    let mut c = good(Environment::Development);
    c.redis_url = Some(secret("redis://127.0.0.1:6379"));
    assert!(validate(&c).warnings.is_empty());
}

#[test]
fn metrics_token_and_ssrf_allow_list() {
    let mut c = good(Environment::Production);
    c.metrics_token = None;
    c.ssrf_allow_list = [
        "10.20.0.0/16",
        "169.254.0.0/16",
        "fd00::/8",
        "0.0.0.0/0",
        "bogus",
    ]
    .map(str::to_owned)
    .to_vec();
    let r = validate(&c);
    assert!(r.has("metrics_token", "metrics_token_missing"));
    assert!(r.warnings.iter().any(|w| w.code == "metrics_token_missing"));
    let errors = codes(&r, Severity::Error);
    assert!(
        errors.contains(&("ssrf_allow_list[1]".to_owned(), "ssrf_allows_metadata")),
        "{errors:?}"
    );
    assert!(errors.contains(&("ssrf_allow_list[2]".to_owned(), "ssrf_allows_metadata")));
    assert!(errors.contains(&("ssrf_allow_list[3]".to_owned(), "ssrf_allows_everything")));
    assert!(errors.contains(&("ssrf_allow_list[4]".to_owned(), "invalid_allow_entry")));
    assert!(!errors.iter().any(|(f, _)| f == "ssrf_allow_list[0]"));
    let mut c = good(Environment::Production);
    c.metrics_token = Some(secret("short"));
    assert!(
        validate(&c)
            .errors
            .iter()
            .any(|e| e.field == "metrics_token" && e.code == "too_short")
    );
}

#[test]
fn reports_serialize_with_stable_codes() {
    let mut c = good(Environment::Production);
    c.cors_origins = vec!["*".to_owned()];
    let json = serde_json::to_value(validate(&c)).unwrap();
    assert_eq!(json["errors"][0]["code"], "cors_wildcard");
    assert_eq!(json["errors"][0]["severity"], "error");
    assert_eq!(json["errors"][0]["field"], "cors_origins[0]");
    let shown = validate(&c).errors[0].to_string();
    assert_eq!(
        shown,
        "cors_origins[0]: wildcard origins are refused in production (cors_wildcard)"
    );
}
