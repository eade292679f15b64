//! Issue 26, a new operator's first hour with the real `breeze-server` binary: exports are
//! private (0600), `audit keys` prints what a verifier needs to check an export's origin,
//! `config check` lists every finding in one run, and the commands other than `serve` never
//! write development secrets into the working directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output, Stdio};

use crate::common::TestDb;
use crate::common::ops::{run_bin, run_on, server_bin, stderr, stdout};
use breeze_core::audit::export::{BundleOptions, verify_bundle};
use serde_json::Value;
use uuid::Uuid;

/// The audit signing seed of the test settings (`BREEZE_AUDIT_SIGNING_KEY_t1`).
const TEST_AUDIT_SEED: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";

fn mode_of(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("breeze-{tag}-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `(derived key id, public key hex)` of an Ed25519 seed.
fn public_of(seed_hex: &str) -> (String, String) {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(seed_hex, seed.as_mut_slice()).unwrap();
    let signer = breeze_core::audit::CheckpointSigner::from_seed(
        breeze_core::audit::KeyId::new("any").unwrap(),
        &seed,
    );
    let public = signer.verifying_key();
    let digest = breeze_core::audit::hash::sha256(public.as_bytes());
    (
        format!("ed25519-{}", &digest.to_hex()[..16]),
        hex::encode(public.as_bytes()),
    )
}

/// `audit export --org system --out PATH` on `db`.
fn export_system(db: &TestDb, path: &std::path::Path) -> Output {
    run_on(
        db,
        &[
            "audit",
            "export",
            "--org",
            "system",
            "--out",
            path.to_str().unwrap(),
        ],
        None,
    )
}

/// A system chain with an entry and a signed checkpoint.
async fn chain_with_checkpoint(db: &TestDb) {
    let out = run_on(
        db,
        &["bootstrap-admin", "--email", "root@example.test"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_on(db, &["audit", "checkpoint"], None);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn ops_audit_export_writes_the_bundle_0600_also_over_an_existing_file() {
    let db = TestDb::new().await;
    chain_with_checkpoint(&db).await;
    let dir = temp_dir("export");
    let fresh = dir.join("fresh.jsonl");
    let out = export_system(&db, &fresh);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode_of(&fresh), 0o600, "a new export is private");
    // an existing world-readable file is replaced by a private one
    let existing = dir.join("existing.jsonl");
    std::fs::write(&existing, b"old content").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = export_system(&db, &existing);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        mode_of(&existing),
        0o600,
        "an overwritten export is private"
    );
    let text = std::fs::read_to_string(&existing).unwrap();
    assert!(
        text.starts_with("{\"format\":\"breeze-audit-bundle\""),
        "{text}"
    );
    // no temporary file is left behind
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn ops_audit_keys_prints_the_public_keys_that_verify_an_exports_origin() {
    let db = TestDb::new().await;
    chain_with_checkpoint(&db).await;
    let (derived, public) = public_of(TEST_AUDIT_SEED);

    let text = run_on(&db, &["audit", "keys"], None);
    assert!(text.status.success(), "{}", stderr(&text));
    let printed = stdout(&text);
    assert!(printed.contains(&derived), "{printed}");
    assert!(printed.contains(&public), "{printed}");
    assert!(printed.contains("active"), "{printed}");
    assert!(printed.contains("ed25519"), "{printed}");
    assert!(
        printed.contains("t1"),
        "the configured id is shown as an alias: {printed}"
    );
    for out in [&printed, &stderr(&text)] {
        assert!(!out.contains(TEST_AUDIT_SEED), "never the private seed");
    }

    let json = run_on(&db, &["audit", "keys", "--json"], None);
    assert!(json.status.success(), "{}", stderr(&json));
    assert!(!stdout(&json).contains(TEST_AUDIT_SEED));
    let doc: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(doc["algorithm"], "ed25519");
    assert_eq!(doc["active_key_id"], derived.as_str());
    assert_eq!(doc["keys"][0]["key_id"], derived.as_str());
    assert_eq!(doc["keys"][0]["public_key"], public.as_str());
    assert_eq!(doc["keys"][0]["active"], true);
    assert_eq!(doc["keys"][0]["aliases"], serde_json::json!(["t1"]));

    // the printed keys verify an export's origin with the library's bundle verifier
    let export = run_on(&db, &["audit", "export", "--org", "system"], None);
    assert!(export.status.success(), "{}", stderr(&export));
    let options = serde_json::json!({"trusted_keys": doc["trusted_keys"]});
    let options = BundleOptions::from_json(options.to_string().as_bytes()).unwrap();
    let report = verify_bundle(export.stdout.as_slice(), &options);
    assert!(report.ok, "{report:?}");
    assert!(report.keys_trusted);
    assert!(
        report.checkpoints >= 1,
        "a checkpoint was verified: {report:?}"
    );
    // another server's key does not verify it
    let (other_id, other_public) = public_of(&"11".repeat(32));
    let wrong = serde_json::json!({"trusted_keys": [
        {"key_id": other_id, "public_key": other_public},
        {"key_id": "t1", "public_key": other_public},
    ]});
    let wrong = BundleOptions::from_json(wrong.to_string().as_bytes()).unwrap();
    let report = verify_bundle(export.stdout.as_slice(), &wrong);
    assert!(!report.ok, "a foreign key verified the export: {report:?}");
}

fn production_env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn ops_config_check_lists_every_error_and_warning_in_one_run() {
    let placeholder = "changeme-changeme-changeme-changeme-changeme";
    // production without DATABASE_URL, the MFA key, the pepper and the audit signing key,
    // with a placeholder JWT secret and a wildcard CORS origin
    let env = production_env(&[
        ("BREEZE_MODE", "production"),
        ("BREEZE_JWT_KEY_k1", placeholder),
        (
            "BREEZE_ENCRYPTION_KEY_e1",
            "8c3e5a7f1b9d2c4e6a8f0b3d5c7e9a1f2b4d6c8e0a3f5b7d9c1e2a4f6b8d0c3e",
        ),
        ("BREEZE_CORS_ORIGINS", "*"),
        ("BREEZE_AGENT_AUTH_CACHE_SECS", "9999"),
    ]);
    let out = run_bin(&["config", "check"], &env, None);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error ")).collect();
    for name in [
        "DATABASE_URL",
        "BREEZE_MFA_ENCRYPTION_KEY",
        "BREEZE_PEPPER",
        "BREEZE_AUDIT_SIGNING_KEY_",
        "BREEZE_AGENT_AUTH_CACHE_SECS",
        "jwt_secrets.k1",
        "cors_origins",
    ] {
        assert!(
            errors.iter().any(|l| l.contains(name)),
            "`{name}` is listed: {text}"
        );
    }
    assert!(errors.len() >= 7, "one line per finding: {text}");
    assert!(!text.contains(placeholder), "never a value: {text}");
    assert!(!stderr(&out).contains(placeholder));
    assert!(
        stderr(&out).contains("configuration errors"),
        "{}",
        stderr(&out)
    );

    // `serve` names them all at once too
    let out = run_bin(&["serve"], &env, None);
    assert!(!out.status.success());
    let err = stderr(&out);
    for name in ["DATABASE_URL", "BREEZE_MFA_ENCRYPTION_KEY", "BREEZE_PEPPER"] {
        assert!(err.contains(name), "`{name}` in {err}");
    }
}

/// Runs `breeze-server ARGS` with exactly `env` in `cwd`.
fn run_in(cwd: &std::path::Path, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(server_bin())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn ops_cli_commands_in_development_never_write_secrets_into_the_working_directory() {
    let checkout = temp_dir("checkout");
    let home = temp_dir("home");
    let home_s = home.display().to_string();
    let dev = |extra: &[(&str, &str)]| {
        let mut env = production_env(&[("BREEZE_MODE", "development"), ("HOME", &home_s)]);
        env.extend(production_env(extra));
        env
    };
    // no DATABASE_URL: named up front, nothing written anywhere
    for args in [
        &["audit", "verify"][..],
        &["audit", "export", "--org", "system"][..],
        &["serve"][..],
    ] {
        let out = run_in(&checkout, args, &dev(&[]));
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("DATABASE_URL"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            all_files(&checkout).is_empty(),
            "{args:?} wrote into the checkout"
        );
        assert!(all_files(&home).is_empty(), "{args:?} wrote a secrets file");
    }
    // with a DATABASE_URL but no secrets file: audit commands refuse, naming the settings,
    // and never generate keys that would not be the server's
    let db_url = [("DATABASE_URL", "postgres://breeze_app@127.0.0.1:1/breeze")];
    for args in [
        &["audit", "verify"][..],
        &["audit", "export", "--org", "system"][..],
        &["audit", "keys"][..],
        &["config", "check"][..],
    ] {
        let out = run_in(&checkout, args, &dev(&db_url));
        assert!(!out.status.success(), "{args:?}");
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            text.contains("BREEZE_DEV_SECRETS_FILE") && text.contains("scripts/run --env"),
            "{args:?}: {text}"
        );
        assert!(
            all_files(&checkout).is_empty(),
            "{args:?} wrote into the checkout"
        );
        assert!(all_files(&home).is_empty(), "{args:?} wrote a secrets file");
    }
    // the set-up commands create it in the state directory of scripts/run (0700/0600),
    // never in the checkout (`migrate` stops right after, on the missing owner URL)
    let run_dir = home.join(".cache/breeze-run");
    let out = run_in(&checkout, &["migrate"], &dev(&db_url));
    assert!(!out.status.success(), "no DATABASE_OWNER_URL");
    assert!(
        stderr(&out).contains("DATABASE_OWNER_URL"),
        "{}",
        stderr(&out)
    );
    let file = run_dir.join("dev-secrets.env");
    assert!(file.exists(), "{}", stderr(&out));
    assert_eq!(mode_of(&file), 0o600);
    assert_eq!(mode_of(&run_dir), 0o700);
    assert!(
        all_files(&checkout).is_empty(),
        "migrate wrote into the checkout"
    );
    // now the audit commands find the server's keys
    let out = run_in(&checkout, &["audit", "keys"], &dev(&db_url));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ed25519-"), "{}", stdout(&out));
    // BREEZE_RUN_DIR moves the state directory, as in scripts/run
    let elsewhere = home.join("elsewhere");
    let elsewhere_s = elsewhere.display().to_string();
    let out = run_in(
        &checkout,
        &["migrate"],
        &dev(&[db_url[0], ("BREEZE_RUN_DIR", &elsewhere_s)]),
    );
    assert!(!out.status.success());
    assert!(elsewhere.join("dev-secrets.env").exists());
    assert!(all_files(&checkout).is_empty());
    std::fs::remove_dir_all(&checkout).unwrap();
    std::fs::remove_dir_all(&home).unwrap();
}

#[tokio::test]
async fn ops_bootstrap_admin_with_totp_enrolls_the_second_factor_and_shows_it_once() {
    use secrecy::ExposeSecret as _;
    let db = TestDb::new().await;
    let password = "Bootstrap-Admin-42";
    let out = run_on(
        &db,
        &[
            "bootstrap-admin",
            "--email",
            "root@example.test",
            "--password-stdin",
            "--with-totp",
        ],
        Some(&format!("{password}\n")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("`{prefix}` in {text}"))
            .trim()
            .to_owned()
    };
    let uri = line("totp otpauth uri (shown once, add it to an authenticator app): ");
    let secret = line("totp secret (base32, shown once): ");
    let codes = line("recovery codes (shown once): ");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert_eq!(codes.split(' ').count(), 10);
    let logs = stderr(&out);
    assert!(
        !logs.contains(&secret) && !logs.contains(password),
        "never in logs"
    );

    let pool = db.superuser_pool().await;
    let (enabled, stored, pending): (bool, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT mfa_enabled, mfa_secret, mfa_pending_secret FROM users WHERE email = 'root@example.test'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(enabled);
    assert!(pending.is_none());
    let stored = stored.unwrap();
    assert!(!stored.contains(&secret), "stored encrypted");
    let key = crate::common::test_settings(&db)
        .into_iter()
        .find(|(k, _)| k == "BREEZE_MFA_ENCRYPTION_KEY")
        .unwrap()
        .1;
    let cipher = breeze_crypto::envelope::MfaCipher::new(&secrecy::SecretString::from(key));
    assert_eq!(cipher.decrypt(&stored).unwrap().expose_secret(), secret);
    let recovery: i64 = sqlx::query_scalar("SELECT count(*) FROM mfa_recovery_codes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recovery, 10);
    let actions: Vec<String> = crate::common::ops::audit_actions(&db, "system")
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    assert_eq!(actions, ["user.bootstrap_admin", "auth.mfa.enrolled"]);
}
