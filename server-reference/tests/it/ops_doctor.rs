//! `breeze-server doctor`: the production checklist on this host, through the real binary
//! against the test database and Redis.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::os::unix::fs::PermissionsExt as _;

use crate::common::ops::{run_bin, stderr, stdout};
use crate::common::{TestDb, redis_url, test_settings};
use breeze_server::store::admin;

/// The status of `item` in the doctor's output (the first line naming it).
fn status_of(out: &str, item: &str) -> String {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(item))
        .unwrap_or_else(|| panic!("no {item} line in:\n{out}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn env_file(dir: &std::path::Path, mode: u32) -> std::path::PathBuf {
    let path = dir.join("breeze-server.env");
    std::fs::write(&path, "# secrets\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[tokio::test]
async fn a_development_host_gets_warnings_and_a_world_readable_secrets_file_fails() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("breeze-doctor-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut env = test_settings(&db);
    env.push(("REDIS_URL".into(), redis_url()));

    let loose = env_file(&dir, 0o644);
    let out = run_bin(
        &["doctor", "--env-file", loose.to_str().unwrap()],
        &env,
        None,
    );
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert_eq!(status_of(&text, "configuration"), "pass", "{text}");
    assert_eq!(status_of(&text, "database_role"), "pass", "{text}");
    assert_eq!(status_of(&text, "secrets_file"), "fail", "{text}");
    assert!(text.contains("mode 0644"), "{text}");
    // test mode: production-only items are warnings
    assert_eq!(status_of(&text, "tls"), "warn", "{text}");
    assert_eq!(status_of(&text, "secure_cookies"), "warn", "{text}");
    assert!(
        text.ends_with(
            "1 failed
"
        ),
        "{text}"
    );
    assert!(
        stderr(&out).contains("1 checklist items fail"),
        "{}",
        stderr(&out)
    );

    let tight = env_file(&dir, 0o600);
    let out = run_bin(
        &["doctor", "--env-file", tight.to_str().unwrap()],
        &env,
        None,
    );
    let text = stdout(&out);
    println!("doctor, development host:\n{text}");
    assert!(out.status.success(), "{text}");
    assert_eq!(status_of(&text, "secrets_file"), "pass", "{text}");
    assert!(text.ends_with("0 failed\n"), "{text}");
    // no secret value is printed
    for (k, v) in &env {
        if k.contains("KEY") || k.contains("PEPPER") || k.contains("TOKEN") {
            assert!(!text.contains(v.as_str()), "{k} printed");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_production_configuration_fails_on_a_superuser_role_and_unauthenticated_redis() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("breeze-doctor-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = env_file(&dir, 0o640);
    let production = |database_url: String| -> Vec<(String, String)> {
        [
            ("BREEZE_MODE", "production".to_owned()),
            ("DATABASE_URL", database_url),
            ("REDIS_URL", redis_url()),
            (
                "BREEZE_JWT_KEY_k1",
                "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e2b4d6f8a0c1e3b5d".to_owned(),
            ),
            ("BREEZE_JWT_ACTIVE_KID", "k1".to_owned()),
            (
                "BREEZE_ENCRYPTION_KEY_e1",
                "8c3e5a7f1b9d2c4e6a8f0b3d5c7e9a1f2b4d6c8e0a3f5b7d9c1e2a4f6b8d0c3e".to_owned(),
            ),
            ("BREEZE_ENCRYPTION_ACTIVE_KEY_ID", "e1".to_owned()),
            (
                "BREEZE_MFA_ENCRYPTION_KEY",
                "5b7d9f1a3c5e7b9d2f4a6c8e0b2d4f6a8c1e3b5d7f9a2c4e6b8d0f3a5c7e9b1d".to_owned(),
            ),
            (
                "BREEZE_PEPPER",
                "a1c3e5b7d9f2a4c6e8b0d3f5a7c9e1b4d6f8a2c5e7b9d1f3".to_owned(),
            ),
            (
                "BREEZE_AUDIT_SIGNING_KEY_a1",
                "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d".to_owned(),
            ),
            ("BREEZE_AUDIT_ACTIVE_SIGNING_KID", "a1".to_owned()),
            (
                "BREEZE_METRICS_TOKEN",
                "f3a9c1e57b2d4f6a8c0e1b3d5f7a9c2e".to_owned(),
            ),
            (
                "BREEZE_ENROLLMENT_SECRET",
                "7c1e9a3f5b2d8c4e6a0f1b3d5c7e9a2f".to_owned(),
            ),
            ("BREEZE_TRUSTED_PROXIES", "127.0.0.1/32".to_owned()),
            ("BREEZE_PUBLIC_URL", "https://rmm.example.com".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    };

    // the runtime role, but Redis without a password: in production that fails
    let env = production(db.url_string(admin::RUNTIME_ROLE));
    let out = run_bin(
        &["doctor", "--env-file", file.to_str().unwrap()],
        &env,
        None,
    );
    let text = stdout(&out);
    println!("doctor, production-like host:\n{text}");
    assert!(!out.status.success(), "{text}");
    assert_eq!(status_of(&text, "database_role"), "pass", "{text}");
    assert_eq!(status_of(&text, "redis"), "fail", "{text}");
    assert!(text.contains("REDIS_URL has no password"), "{text}");
    for item in [
        "tls",
        "secure_cookies",
        "metrics_token",
        "enrollment_secret",
        "secrets_file",
    ] {
        assert_eq!(status_of(&text, item), "pass", "{item}: {text}");
    }

    // connected as a superuser: the runtime role's row-level security means nothing
    let env = production(db.superuser_url());
    let out = run_bin(
        &["doctor", "--env-file", file.to_str().unwrap()],
        &env,
        None,
    );
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert_eq!(status_of(&text, "database_role"), "fail", "{text}");
    assert!(text.contains("a superuser"), "{text}");

    // TLS served by the server itself instead of a proxy: a matching pair passes, a key of
    // another certificate fails with its code
    let pki = crate::common::tls::test_pki(&dir);
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let other = crate::common::tls::test_pki(&other);
    for (key, expected) in [(&pki.key, "pass"), (&other.key, "fail")] {
        let mut env = production(db.url_string(admin::RUNTIME_ROLE));
        env.retain(|(k, _)| k != "BREEZE_TRUSTED_PROXIES");
        env.push((
            "BREEZE_TLS_CERT_FILE".into(),
            pki.cert.to_str().unwrap().into(),
        ));
        env.push(("BREEZE_TLS_KEY_FILE".into(), key.to_str().unwrap().into()));
        let out = run_bin(
            &["doctor", "--env-file", file.to_str().unwrap()],
            &env,
            None,
        );
        let text = stdout(&out);
        assert_eq!(status_of(&text, "tls"), expected, "{text}");
        if expected == "fail" {
            assert!(text.contains("tls_key_mismatch"), "{text}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
