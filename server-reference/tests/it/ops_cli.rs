//! The operations commands of the real `breeze-server` binary: `bootstrap-admin`,
//! `enrollment-key create`, production refusing to start on a placeholder secret, and the
//! development secrets file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::ops::{audit_actions, run_bin, run_on, stderr, stdout};
use crate::common::{TestDb, TestServer};
use breeze_authz::seeded::SeededRole;
use breeze_crypto::credentials::{EnrollmentKey, Pepper};
use breeze_server::config::{Mode, ServerConfig, Settings};
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;

const ADMIN_PASSWORD: &str = "Bootstrap-Admin-42";

async fn admins(db: &TestDb) -> Vec<(Uuid, String, Uuid, String)> {
    let pool = db.superuser_pool().await;
    sqlx::query_as(
        "SELECT u.id, u.email, m.role_id, u.password_hash FROM users u
           JOIN system_memberships m ON m.user_id = u.id WHERE m.active ORDER BY u.created_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn bootstrap_admin_creates_the_first_platform_admin_once() {
    let db = TestDb::new().await;
    let out = run_on(
        &db,
        &[
            "bootstrap-admin",
            "--email",
            "Root@Example.TEST",
            "--password-stdin",
        ],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(ADMIN_PASSWORD));
    assert!(!stderr(&out).contains(ADMIN_PASSWORD));

    let rows = admins(&db).await;
    assert_eq!(rows.len(), 1);
    let (id, email, role, hash) = &rows[0];
    assert_eq!(email, "root@example.test");
    assert_eq!(
        role,
        breeze_server::store::admin::seeded_role_id(SeededRole::PlatformAdmin).as_uuid()
    );
    assert!(hash.starts_with("$argon2id$"));
    assert!(
        breeze_crypto::password::verify_password(
            &SecretString::from(ADMIN_PASSWORD.to_owned()),
            hash
        )
        .unwrap()
    );
    assert!(stdout(&out).contains(&id.to_string()));

    let audit = audit_actions(&db, "system").await;
    assert_eq!(
        audit,
        vec![(
            "user.bootstrap_admin".to_owned(),
            Some(id.to_string()),
            "success".to_owned()
        )]
    );

    // a second run is refused and changes nothing
    let again = run_on(
        &db,
        &[
            "bootstrap-admin",
            "--email",
            "other@example.test",
            "--password-stdin",
        ],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("a platform admin already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(admins(&db).await.len(), 1);
    assert_eq!(audit_actions(&db, "system").await.len(), 1);
}

#[tokio::test]
async fn bootstrap_admin_generates_and_prints_a_password_once() {
    let db = TestDb::new().await;
    let out = run_on(
        &db,
        &["bootstrap-admin", "--email", "gen@example.test"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("generated password (shown once, store it now): "))
        .expect("password line")
        .trim()
        .to_owned();
    assert_eq!(password.len(), 24);
    assert!(!stderr(&out).contains(&password), "never in logs");
    let rows = admins(&db).await;
    assert_eq!(rows.len(), 1);
    assert!(
        breeze_crypto::password::verify_password(&SecretString::from(password), &rows[0].3)
            .unwrap()
    );
}

#[tokio::test]
async fn bootstrap_admin_refuses_bad_input_and_changes_nothing() {
    let db = TestDb::new().await;
    for (email, password) in [
        ("not-an-email", ADMIN_PASSWORD),
        ("ok@example.test", "short"),
        ("ok@example.test", "alllowercase-no-digits"),
        ("ok@example.test", ""),
    ] {
        let out = run_on(
            &db,
            &["bootstrap-admin", "--email", email, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        assert!(!out.status.success(), "{email}");
        let err = stderr(&out);
        assert!(err.contains("error:"), "{err}");
        if !password.is_empty() {
            assert!(!err.contains(password), "password echoed: {err}");
        }
    }
    assert!(admins(&db).await.is_empty());
    assert!(audit_actions(&db, "system").await.is_empty());
}

#[tokio::test]
async fn enrollment_key_create_prints_the_key_once_and_stores_its_peppered_hash() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let other_org = fx.org(partner).await;

    let out = run_on(
        &server.db,
        &[
            "enrollment-key",
            "create",
            "--org",
            &org.to_string(),
            "--site",
            &site.to_string(),
            "--max-usage",
            "5",
            "--expires-minutes",
            "30",
            "--name",
            "lab rollout",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let raw = text.lines().last().unwrap().trim().to_owned();
    let key = EnrollmentKey::parse(&raw).expect("the printed key parses");
    assert!(!stderr(&out).contains(&raw));

    let pool = server.db.superuser_pool().await;
    let (id, key_hash, max_usage, name, minutes): (Uuid, String, i32, String, f64) =
        sqlx::query_as(
            "SELECT id, key_hash, max_usage, name,
                    extract(epoch FROM expires_at - created_at)::float8 / 60
               FROM enrollment_keys WHERE org_id = $1 AND site_id = $2",
        )
        .bind(org.as_uuid())
        .bind(site.as_uuid())
        .fetch_one(&pool)
        .await
        .unwrap();
    let pepper = Pepper::new(SecretString::from(
        "a1c3e5b7d9f2a4c6e8b0d3f5a7c9e1b4d6f8a2c5e7b9d1f3".to_owned(),
    ));
    assert_eq!(key_hash, key.peppered_hash(&pepper).to_hex());
    assert_ne!(key_hash, key.hash().to_hex(), "peppered, not plain");
    assert_eq!(max_usage, 5);
    assert_eq!(name, "lab rollout");
    assert!((29.0..=31.0).contains(&minutes), "{minutes}");
    let audit = audit_actions(&server.db, &org.to_string()).await;
    assert_eq!(
        audit,
        vec![(
            "enrollment_key.create".to_owned(),
            Some(id.to_string()),
            "success".to_owned()
        )]
    );

    // a site of another organization: refused, nothing written, nothing audited
    let out = run_on(
        &server.db,
        &[
            "enrollment-key",
            "create",
            "--org",
            &other_org.to_string(),
            "--site",
            &site.to_string(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("site"), "{}", stderr(&out));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollment_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert!(
        audit_actions(&server.db, &other_org.to_string())
            .await
            .is_empty()
    );

    // out-of-range options
    let (org_s, site_s) = (org.to_string(), site.to_string());
    for args in [
        ["--max-usage", "0"],
        ["--max-usage", "100001"],
        ["--expires-minutes", "0"],
        ["--name", " "],
    ] {
        let mut all = vec![
            "enrollment-key",
            "create",
            "--org",
            org_s.as_str(),
            "--site",
            site_s.as_str(),
        ];
        all.extend(args);
        let out = run_on(&server.db, &all, None);
        assert!(!out.status.success(), "{args:?}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollment_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn production_refuses_to_serve_with_a_placeholder_jwt_secret() {
    let placeholder = "changeme-changeme-changeme-changeme-changeme";
    let env: Vec<(String, String)> = [
        ("BREEZE_MODE", "production"),
        ("DATABASE_URL", "postgres://breeze_app@127.0.0.1:1/breeze"),
        ("BREEZE_LISTEN", "127.0.0.1:0"),
        ("BREEZE_JWT_KEY_k1", placeholder),
        ("BREEZE_JWT_ACTIVE_KID", "k1"),
        (
            "BREEZE_ENCRYPTION_KEY_e1",
            "8c3e5a7f1b9d2c4e6a8f0b3d5c7e9a1f2b4d6c8e0a3f5b7d9c1e2a4f6b8d0c3e",
        ),
        (
            "BREEZE_MFA_ENCRYPTION_KEY",
            "5b7d9f1a3c5e7b9d2f4a6c8e0b2d4f6a8c1e3b5d7f9a2c4e6b8d0f3a5c7e9b1d",
        ),
        (
            "BREEZE_PEPPER",
            "a1c3e5b7d9f2a4c6e8b0d3f5a7c9e1b4d6f8a2c5e7b9d1f3",
        ),
        (
            "BREEZE_AUDIT_SIGNING_KEY_a1",
            "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
        ),
        ("BREEZE_CORS_ORIGINS", "https://app.example.com"),
        ("BREEZE_METRICS_TOKEN", "f3a9c1e57b2d4f6a8c0e1b3d5f7a9c2e"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let out = run_bin(&["serve"], &env, None);
    assert!(
        !out.status.success(),
        "production started with a placeholder"
    );
    let err = stderr(&out);
    assert!(
        err.contains("jwt_secrets.k1") && err.contains("placeholder"),
        "the error names the setting and the rule: {err}"
    );
    assert!(err.contains("startup validation failed"), "{err}");
    assert!(
        !err.contains(placeholder),
        "the value is never printed: {err}"
    );
    assert!(!stdout(&out).contains(placeholder));
    // `config check` refuses the same configuration
    let out = run_bin(&["config", "check"], &env, None);
    assert!(!out.status.success());
    assert!(!stdout(&out).contains(placeholder));
}

#[test]
fn the_per_ip_limit_may_be_lowered_but_raised_only_in_test_mode() {
    let with = |mode: &str, limit: &str| {
        let dir = std::env::temp_dir().join(format!("breeze-limit-{}", Uuid::new_v4()));
        let r = ServerConfig::from_settings(Settings::from_pairs([
            ("BREEZE_MODE", mode.to_owned()),
            (
                "DATABASE_URL",
                "postgres://breeze_app@127.0.0.1:1/breeze".to_owned(),
            ),
            (
                "BREEZE_DEV_SECRETS_FILE",
                dir.join("s.env").display().to_string(),
            ),
            ("BREEZE_GLOBAL_RATE_LIMIT_PER_MIN", limit.to_owned()),
        ]));
        let _ = std::fs::remove_dir_all(&dir);
        r.map(|c| c.global_rate_limit_per_min)
    };
    assert_eq!(with("development", "120").unwrap(), 120);
    assert!(with("development", "301").is_err());
    assert!(with("development", "0").is_err());
    let err = with("development", "5000").unwrap_err().to_string();
    assert!(err.contains("BREEZE_GLOBAL_RATE_LIMIT_PER_MIN"), "{err}");
    let default = with("development", "").unwrap();
    assert_eq!(default, 300);
}

#[test]
fn the_agent_auth_cache_may_be_off_or_up_to_ten_minutes() {
    let with = |secs: &str| {
        let dir = std::env::temp_dir().join(format!("breeze-cache-{}", Uuid::new_v4()));
        let r = ServerConfig::from_settings(Settings::from_pairs([
            ("BREEZE_MODE", "development".to_owned()),
            (
                "DATABASE_URL",
                "postgres://breeze_app@127.0.0.1:1/breeze".to_owned(),
            ),
            (
                "BREEZE_DEV_SECRETS_FILE",
                dir.join("s.env").display().to_string(),
            ),
            ("BREEZE_AGENT_AUTH_CACHE_SECS", secs.to_owned()),
        ]));
        let _ = std::fs::remove_dir_all(&dir);
        r.map(|c| c.agent_auth_cache_secs)
    };
    assert_eq!(with("").unwrap(), 120);
    assert_eq!(with("0").unwrap(), 0);
    assert_eq!(with("600").unwrap(), 600);
    let err = with("601").unwrap_err().to_string();
    assert!(err.contains("BREEZE_AGENT_AUTH_CACHE_SECS"), "{err}");
    assert!(with("-1").is_err());
    assert!(with("soon").is_err());
}

#[test]
fn development_generates_a_private_secrets_file_and_reuses_it() {
    let dir = std::env::temp_dir().join(format!("breeze-devsecrets-{}", Uuid::new_v4()));
    let file = dir.join("nested/dev-secrets.env");
    let settings = || {
        Settings::from_pairs([
            ("BREEZE_MODE", "development".to_owned()),
            (
                "DATABASE_URL",
                "postgres://breeze_app@127.0.0.1:1/breeze".to_owned(),
            ),
            ("BREEZE_DEV_SECRETS_FILE", file.display().to_string()),
        ])
    };
    let first = ServerConfig::from_settings(settings()).unwrap();
    assert_eq!(first.mode, Mode::Development);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "secrets file mode {mode:o}");
    let text = std::fs::read_to_string(&file).unwrap();
    for key in [
        "BREEZE_JWT_KEY_dev1=",
        "BREEZE_ENCRYPTION_KEY_dev1=",
        "BREEZE_MFA_ENCRYPTION_KEY=",
        "BREEZE_PEPPER=",
        "BREEZE_AUDIT_SIGNING_KEY_dev1=",
        "BREEZE_METRICS_TOKEN=",
    ] {
        assert!(text.contains(key), "{key} missing");
    }
    let second = ServerConfig::from_settings(settings()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "file not rewritten"
    );
    use secrecy::ExposeSecret as _;
    assert_eq!(
        first.jwt_keys[0].value.expose_secret(),
        second.jwt_keys[0].value.expose_secret(),
        "the same keys on the second start"
    );
    assert_eq!(first.pepper.expose_secret(), second.pepper.expose_secret());
    // development validation passes with the generated secrets
    assert!(first.validate().unwrap().is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn serve_logs_one_json_access_line_per_request_without_secrets() {
    let db = TestDb::new().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut env = common::test_settings(&db);
    env.push(("BREEZE_LISTEN".into(), format!("127.0.0.1:{port}")));
    let mut child = std::process::Command::new(common::ops::server_bin())
        .arg("serve")
        .env_clear()
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::install_crypto();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not come up");
    let secret = "sekrit-query-value-0123456789";
    let res = http
        .get(format!("{base}/ready?token={secret}"))
        .header("authorization", format!("Bearer {secret}"))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .post(format!("{base}/api/v1/nothing-here"))
        .body(format!("{{\"password\":\"{secret}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    let access: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "breeze::access")
        .collect();
    let ready = access
        .iter()
        .find(|v| v["fields"]["request_id"] == "trace-me-1")
        .expect("access line of /ready");
    let f = &ready["fields"];
    assert_eq!(f["method"], "GET");
    assert_eq!(f["route"], "/ready");
    assert_eq!(f["status"], 200);
    assert_eq!(f["client_ip"], "127.0.0.1");
    assert!(f["latency_ms"].is_u64());
    let missing = access
        .iter()
        .find(|v| v["fields"]["status"] == 404)
        .expect("access line of the 404");
    assert_eq!(
        missing["fields"]["route"], "<unmatched>",
        "never the raw path"
    );
}

// ---------------------------------------------------------------------------------------
// Finding 15: explicit mode, checkpoint key ids derived from the public key, and refusing
// to serve over checkpoints signed by keys the ring does not know
// ---------------------------------------------------------------------------------------

/// The key id the server derives for an Ed25519 seed (hex): `ed25519-` and the first 16
/// hex digits of SHA-256 of the 32-byte public key.
fn derived_key_id(seed_hex: &str) -> String {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(seed_hex, seed.as_mut_slice()).unwrap();
    let signer = breeze_core::audit::CheckpointSigner::from_seed(
        breeze_core::audit::KeyId::new("any").unwrap(),
        &seed,
    );
    let digest = breeze_core::audit::hash::sha256(signer.verifying_key().as_bytes());
    format!("ed25519-{}", &digest.to_hex()[..16])
}

/// A free loopback port.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// What a `serve` process did within a deadline.
enum Served {
    /// It exited (status, standard error).
    Exited(bool, String),
    /// It answered `/health` (standard error after it was stopped).
    Up(String),
}

/// Runs `breeze-server serve EXTRA` with exactly `env` until it exits or answers `/health`
/// (then stops it), within 60 s.
async fn serve_until_up_or_exit(env: &[(String, String)], extra: &[&str]) -> Served {
    let port = free_port();
    let mut child = std::process::Command::new(common::ops::server_bin())
        .arg("serve")
        .args(extra)
        .env_clear()
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("BREEZE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::install_crypto();
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return Served::Exited(status.success(), stderr(&out));
        }
        if http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok()
        {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            return Served::Up(stderr(&out));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    panic!("serve neither exited nor came up within 60 s");
}

/// The test settings of `db` without any generated-in-development secret, in `mode`, with
/// `secrets_file` as the development secrets file.
fn dev_settings(db: &TestDb, secrets_file: &std::path::Path) -> Vec<(String, String)> {
    let mut env = common::test_settings(db);
    env.retain(|(k, _)| {
        !(k.starts_with("BREEZE_JWT_")
            || k.starts_with("BREEZE_ENCRYPTION_")
            || k.starts_with("BREEZE_AUDIT_SIGNING_KEY_")
            || k == "BREEZE_AUDIT_ACTIVE_SIGNING_KID"
            || k == "BREEZE_MFA_ENCRYPTION_KEY"
            || k == "BREEZE_PEPPER"
            || k == "BREEZE_METRICS_TOKEN"
            || k == "BREEZE_MODE"
            || k == "BREEZE_LOGIN_FLOOR_MS"
            || k == "BREEZE_GLOBAL_RATE_LIMIT_PER_MIN")
    });
    env.push(("BREEZE_MODE".into(), "development".into()));
    env.push((
        "BREEZE_DEV_SECRETS_FILE".into(),
        secrets_file.display().to_string(),
    ));
    env
}

fn dev_audit_seed(secrets_file: &std::path::Path) -> String {
    std::fs::read_to_string(secrets_file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("BREEZE_AUDIT_SIGNING_KEY_dev1="))
        .unwrap()
        .to_owned()
}

async fn checkpoint_key_ids(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT key_id FROM audit_checkpoints ORDER BY created_at, chain_key, seq")
        .fetch_all(&db.superuser_pool().await)
        .await
        .unwrap()
}

#[test]
fn finding_15_serve_without_breeze_mode_refuses_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("breeze-nomode-{}", Uuid::new_v4()));
    let file = dir.join("dev-secrets.env");
    let env: Vec<(String, String)> = [
        (
            "DATABASE_URL",
            "postgres://breeze_app@127.0.0.1:1/breeze".to_owned(),
        ),
        ("BREEZE_LISTEN", "127.0.0.1:0".to_owned()),
        ("BREEZE_DEV_SECRETS_FILE", file.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let out = run_bin(&["serve"], &env, None);
    let err = stderr(&out);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "serve ran without a mode");
    assert!(
        err.contains("BREEZE_MODE") && err.contains("production"),
        "the error names the setting and its values: {err}"
    );
    assert!(
        !file.exists(),
        "no development secrets are generated without an explicit mode"
    );
    // the configuration API refuses the same
    let refused = ServerConfig::from_settings(Settings::from_pairs([(
        "DATABASE_URL",
        "postgres://breeze_app@127.0.0.1:1/breeze",
    )]))
    .unwrap_err();
    assert!(refused.to_string().contains("BREEZE_MODE"), "{refused}");
}

#[tokio::test]
async fn finding_15_two_development_servers_never_share_a_checkpoint_key_id() {
    let db = TestDb::new().await;
    let store = common::audit::app_store(&db).await;
    let dir = std::env::temp_dir().join(format!("breeze-twodev-{}", Uuid::new_v4()));
    let (file_a, file_b) = (dir.join("a.env"), dir.join("b.env"));
    let at = common::audit::days_ago(0);

    // each development server generates its secrets when it starts (`serve`); the audit
    // commands then use that server's file and never generate one themselves
    for file in [&file_a, &file_b] {
        ServerConfig::from_settings(Settings::from_pairs(dev_settings(&db, file))).unwrap();
    }
    common::audit::append_n(&store, None, 2, "test.event", "test", at).await;
    let out = run_bin(&["audit", "checkpoint"], &dev_settings(&db, &file_a), None);
    assert!(out.status.success(), "{}", stderr(&out));
    common::audit::append_n(&store, None, 2, "test.event", "test", at).await;
    let out = run_bin(&["audit", "checkpoint"], &dev_settings(&db, &file_b), None);
    assert!(out.status.success(), "{}", stderr(&out));

    let (seed_a, seed_b) = (dev_audit_seed(&file_a), dev_audit_seed(&file_b));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_ne!(seed_a, seed_b, "two generated keys");
    let ids = checkpoint_key_ids(&db).await;
    assert_eq!(
        ids,
        vec![derived_key_id(&seed_a), derived_key_id(&seed_b)],
        "each checkpoint is signed under its own key's derived id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_15_serve_refuses_checkpoints_signed_by_keys_its_ring_does_not_know() {
    let db = TestDb::new().await;
    let store = common::audit::app_store(&db).await;
    let at = common::audit::days_ago(0);
    // a checkpoint signed before key ids were derived (configured id `t1`)...
    common::audit::append_n(&store, None, 2, "test.event", "test", at).await;
    breeze_server::audit::jobs::checkpoint_all(
        &store,
        &common::audit::signer(),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    // ...and one signed by the binary now
    common::audit::append_n(&store, None, 2, "test.event", "test", at).await;
    let out = run_on(&db, &["audit", "checkpoint"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let ids = checkpoint_key_ids(&db).await;
    let derived = derived_key_id(common::audit::TEST_AUDIT_SEED);
    assert_eq!(ids, vec!["t1".to_owned(), derived.clone()]);
    // both verify with the configured key (the configured id stays an alias of its key)
    let out = run_on(&db, &["audit", "verify"], None);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // The server with its own key starts and says which mode and key ids it uses.
    match serve_until_up_or_exit(&common::test_settings(&db), &[]).await {
        Served::Up(log) => {
            let line = log
                .lines()
                .find(|l| l.contains("audit checkpoint keys"))
                .unwrap_or_else(|| panic!("no startup line naming the keys:\n{log}"));
            assert!(line.contains("\"mode\":\"test\""), "{line}");
            assert!(line.contains(&derived), "{line}");
        }
        Served::Exited(_, err) => panic!("the server with the right key refused: {err}"),
    }

    // A second server with a fresh key under the same configured id (the reproduced
    // `dev1` case) refuses to start: the stored checkpoints are signed by a key it lacks.
    let other_seed = "1f2e3d4c5b6a79880716253443526170f1e2d3c4b5a6978800f1e2d3c4b5a697";
    let mut other = common::test_settings(&db);
    for (k, v) in &mut other {
        if k == "BREEZE_AUDIT_SIGNING_KEY_t1" {
            *v = other_seed.to_owned();
        }
    }
    match serve_until_up_or_exit(&other, &[]).await {
        Served::Exited(ok, err) => {
            assert!(!ok);
            assert!(
                err.contains(&derived) && err.contains("--allow-unknown-checkpoint-keys"),
                "the refusal names the unknown key id and the way out: {err}"
            );
        }
        Served::Up(_) => panic!("serve started over checkpoints signed by a key it does not know"),
    }
    // told to, it starts, and says so loudly
    match serve_until_up_or_exit(&other, &["--allow-unknown-checkpoint-keys"]).await {
        Served::Up(log) => {
            assert!(
                log.lines().any(|l| l.contains("\"level\":\"ERROR\"")
                    && l.contains("unknown checkpoint keys")
                    && l.contains(&derived)),
                "{log}"
            );
        }
        Served::Exited(_, err) => panic!("the escape hatch did not start the server: {err}"),
    }
    assert_eq!(
        checkpoint_key_ids(&db).await.len(),
        2,
        "no checkpoint was signed by the refused servers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_17_serve_writes_counted_failures_when_it_shuts_down() {
    let db = TestDb::new().await;
    let port = free_port();
    let mut child = std::process::Command::new(common::ops::server_bin())
        .arg("serve")
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(common::test_settings(&db))
        .env("BREEZE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::install_crypto();
    let base = format!("http://127.0.0.1:{port}");
    {
        let http = reqwest::Client::new();
        let mut up = false;
        for _ in 0..200 {
            if http.get(format!("{base}/health")).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(up, "the server did not come up");
        for i in 0..3 {
            let res = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"email": format!("gone-{i}@example.test"), "password": "Wrong-Password-1"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 401);
        }
    }
    // SIGTERM: graceful shutdown, then the counted repeats are written
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = false;
    for _ in 0..200 {
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if !exited {
        child.kill().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(exited, "serve did not stop on SIGTERM: {}", stderr(&out));
    let counts: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT ((entry::jsonb) #>> '{event,details,count}')::bigint FROM audit_log
          WHERE chain_key = 'system' AND action = 'auth.login'
            AND (entry::jsonb) #>> '{event,details,reason}' = 'unknown_user' ORDER BY seq",
    )
    .fetch_all(&db.superuser_pool().await)
    .await
    .unwrap();
    let sum: i64 = counts.iter().map(|c| c.unwrap_or(1)).sum();
    assert_eq!(sum, 3, "{counts:?}: {}", stderr(&out));
    // the first failure at once, the two repeats as one event (the three requests take
    // milliseconds: they straddle a minute boundary almost never)
    assert_eq!(counts, vec![Some(1), Some(2)]);
}
