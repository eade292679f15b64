#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]
//! Host files: modes, atomic write and read-back, refusal of unsafe or invalid files, and
//! redacted Debug output.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use breeze_agent::config::{AgentFile, ConfigDir, ConfigError, PendingTokens, Secrets, Tokens};
use breeze_core::tenancy::{DeviceId, OrgId, SiteId};
use breeze_crypto::credentials::AgentToken;
use time::OffsetDateTime;

fn tokens() -> Tokens {
    Tokens {
        auth: AgentToken::generate().unwrap(),
        watchdog: AgentToken::generate().unwrap(),
        helper: AgentToken::generate().unwrap(),
    }
}

fn agent_file() -> AgentFile {
    AgentFile {
        server_url: "https://breeze.example".to_owned(),
        insecure_http: false,
        ca_file: None,
        agent_id: common::agent_id(),
        device_id: DeviceId::new_random(),
        org_id: OrgId::new_random(),
        site_id: SiteId::new_random(),
        heartbeat_interval_seconds: 60,
        metrics_collection_interval_seconds: 30,
        terminal_shell: None,
        file_roots: None,
        file_max_bytes: None,
        key_bound: false,
    }
}

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

fn setup() -> (tempfile::TempDir, ConfigDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ConfigDir::new(tmp.path().join("breeze"));
    (tmp, dir)
}

#[test]
fn files_are_written_at_their_modes_and_read_back() {
    let (_tmp, dir) = setup();
    let agent = agent_file();
    let secrets = Secrets {
        current: tokens(),
        pending: Some(PendingTokens {
            tokens: tokens(),
            expires_at: OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap(),
        }),
        signing_key: None,
    };
    dir.write_agent(&agent).unwrap();
    dir.write_secrets_verified(&secrets).unwrap();

    assert_eq!(mode(dir.path()), 0o750);
    assert_eq!(mode(&dir.agent_path()), 0o640);
    assert_eq!(mode(&dir.secrets_path()), 0o600);
    assert_eq!(dir.read_agent().unwrap(), agent);
    assert!(dir.read_secrets().unwrap().ct_eq(&secrets));

    // agent.yaml holds no token.
    let agent_text = fs::read_to_string(dir.agent_path()).unwrap();
    assert!(!agent_text.contains("brz_"));
    // No temp files are left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn rewriting_replaces_atomically_and_keeps_the_mode() {
    let (_tmp, dir) = setup();
    let first = Secrets {
        current: tokens(),
        pending: None,
        signing_key: None,
    };
    dir.write_secrets_verified(&first).unwrap();
    let inode_before = fs::metadata(dir.secrets_path()).unwrap().ino();
    let second = Secrets {
        current: tokens(),
        pending: None,
        signing_key: None,
    };
    dir.write_secrets_verified(&second).unwrap();
    let after = fs::metadata(dir.secrets_path()).unwrap();
    // A rename, not an in-place rewrite: a crash mid-write can never leave a torn file.
    assert_ne!(after.ino(), inode_before);
    assert_eq!(after.mode() & 0o7777, 0o600);
    let back = dir.read_secrets().unwrap();
    assert!(back.ct_eq(&second));
    assert!(!back.ct_eq(&first));
}

#[test]
fn a_secrets_file_readable_by_others_or_group_is_refused() {
    let (_tmp, dir) = setup();
    dir.write_secrets(&Secrets {
        current: tokens(),
        pending: None,
        signing_key: None,
    })
    .unwrap();
    for bad in [0o644, 0o640, 0o604, 0o660, 0o606] {
        fs::set_permissions(dir.secrets_path(), fs::Permissions::from_mode(bad)).unwrap();
        let err = dir.read_secrets().unwrap_err();
        assert!(matches!(err, ConfigError::Unsafe { .. }), "{bad:o}: {err}");
        assert_eq!(err.code(), "unsafe");
    }
    fs::set_permissions(dir.secrets_path(), fs::Permissions::from_mode(0o600)).unwrap();
    dir.read_secrets().unwrap();
    fs::set_permissions(dir.secrets_path(), fs::Permissions::from_mode(0o400)).unwrap();
    dir.read_secrets().unwrap();
}

#[test]
fn a_writable_agent_file_or_directory_is_refused() {
    let (_tmp, dir) = setup();
    dir.write_agent(&agent_file()).unwrap();
    fs::set_permissions(dir.agent_path(), fs::Permissions::from_mode(0o662)).unwrap();
    assert!(matches!(
        dir.read_agent().unwrap_err(),
        ConfigError::Unsafe { .. }
    ));
    fs::set_permissions(dir.agent_path(), fs::Permissions::from_mode(0o644)).unwrap();
    dir.read_agent().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(
        dir.read_agent().unwrap_err(),
        ConfigError::Unsafe { .. }
    ));
    assert!(matches!(
        dir.write_agent(&agent_file()).unwrap_err(),
        ConfigError::Unsafe { .. }
    ));
}

#[test]
fn a_symlinked_secrets_file_is_refused() {
    let (tmp, dir) = setup();
    dir.write_secrets(&Secrets {
        current: tokens(),
        pending: None,
        signing_key: None,
    })
    .unwrap();
    let elsewhere = tmp.path().join("elsewhere.yaml");
    fs::rename(dir.secrets_path(), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.secrets_path()).unwrap();
    let err = dir.read_secrets().unwrap_err();
    assert!(matches!(err, ConfigError::Unsafe { .. }), "{err}");
}

#[test]
fn missing_files_say_so() {
    let (_tmp, dir) = setup();
    dir.ensure().unwrap();
    assert!(matches!(
        dir.read_agent().unwrap_err(),
        ConfigError::Missing { .. }
    ));
    assert!(matches!(
        dir.read_secrets().unwrap_err(),
        ConfigError::Missing { .. }
    ));
    assert!(!dir.is_enrolled());
}

fn write_raw(dir: &ConfigDir, name: &str, text: &str, mode: u32) {
    breeze_agent::config::atomic_write(dir.path(), name, text.as_bytes(), mode).unwrap();
}

#[test]
fn invalid_content_is_refused_without_echoing_tokens() {
    let (_tmp, dir) = setup();
    dir.ensure().unwrap();
    let good = common::new_token();
    // A malformed token (uppercase hex) must not appear in the error.
    let bad = format!("brz_{}", "ABCDEF0123456789".repeat(4));
    let text =
        format!("auth_token: {bad}\nwatchdog_auth_token: {good}\nhelper_auth_token: {good}\n");
    write_raw(&dir, "secrets.yaml", &text, 0o600);
    let err = dir.read_secrets().unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{message}");
    assert!(
        !message.contains(&bad) && !message.contains(&good),
        "{message}"
    );
    assert!(!format!("{err:?}").contains(&good));

    // Unknown field.
    let text = format!(
        "auth_token: {good}\nwatchdog_auth_token: {good}\nhelper_auth_token: {good}\nextra: 1\n"
    );
    write_raw(&dir, "secrets.yaml", &text, 0o600);
    assert!(matches!(
        dir.read_secrets().unwrap_err(),
        ConfigError::Invalid { .. }
    ));

    // Wrong type and out-of-range interval in agent.yaml.
    let mut agent = serde_norway::to_string(&agent_file()).unwrap();
    agent = agent.replace(
        "heartbeat_interval_seconds: 60",
        "heartbeat_interval_seconds: sixty",
    );
    write_raw(&dir, "agent.yaml", &agent, 0o640);
    assert!(matches!(
        dir.read_agent().unwrap_err(),
        ConfigError::Invalid { .. }
    ));
    let agent = serde_norway::to_string(&agent_file()).unwrap().replace(
        "heartbeat_interval_seconds: 60",
        "heartbeat_interval_seconds: 1",
    );
    write_raw(&dir, "agent.yaml", &agent, 0o640);
    assert!(matches!(
        dir.read_agent().unwrap_err(),
        ConfigError::Invalid { .. }
    ));
    // Writing an invalid file is refused and leaves the old one.
    let mut bad_file = agent_file();
    bad_file.heartbeat_interval_seconds = 0;
    assert!(matches!(
        dir.write_agent(&bad_file).unwrap_err(),
        ConfigError::Invalid { .. }
    ));
}

#[test]
fn an_oversized_file_is_refused() {
    let (_tmp, dir) = setup();
    dir.ensure().unwrap();
    let text = "#".repeat(70 * 1024);
    write_raw(&dir, "secrets.yaml", &text, 0o600);
    assert!(matches!(
        dir.read_secrets().unwrap_err(),
        ConfigError::Unsafe { .. }
    ));
}

#[test]
fn debug_output_of_secrets_is_redacted() {
    let secrets = Secrets {
        current: tokens(),
        pending: Some(PendingTokens {
            tokens: tokens(),
            expires_at: OffsetDateTime::now_utc(),
        }),
        signing_key: None,
    };
    let debug = format!("{secrets:?}");
    for t in [
        &secrets.current.auth,
        &secrets.current.watchdog,
        &secrets.current.helper,
        &secrets.pending.as_ref().unwrap().tokens.auth,
    ] {
        assert!(!debug.contains(t.expose_secret()));
    }
    assert!(!debug.contains("brz_"), "{debug}");
    assert!(debug.contains("REDACTED"));
}

#[test]
fn an_existing_readable_directory_is_tightened_and_a_writable_one_refused() {
    let (_tmp, dir) = setup();
    fs::create_dir(dir.path()).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir.write_agent(&agent_file()).unwrap();
    assert_eq!(mode(dir.path()), 0o750);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o757)).unwrap();
    assert!(matches!(
        dir.ensure().unwrap_err(),
        ConfigError::Unsafe { .. }
    ));
    assert_eq!(
        mode(dir.path()),
        0o757,
        "a refused directory is left as found"
    );
}

#[test]
fn remote_session_settings_round_trip_and_are_validated() {
    let (_tmp, dir) = setup();
    // Absent settings are not written (older agents read the file unchanged).
    dir.write_agent(&agent_file()).unwrap();
    let text = fs::read_to_string(dir.agent_path()).unwrap();
    assert!(!text.contains("terminal_shell") && !text.contains("file_roots"));

    let mut agent = agent_file();
    agent.terminal_shell = Some("/bin/bash".into());
    agent.file_roots = Some(vec!["/srv".into(), "/var/log".into()]);
    agent.file_max_bytes = Some(1024);
    dir.write_agent(&agent).unwrap();
    let back = dir.read_agent().unwrap();
    assert_eq!(back, agent);
    assert_eq!(
        back.terminal_config().shell,
        std::path::PathBuf::from("/bin/bash")
    );
    let files = back.file_config(dir.path());
    assert_eq!(files.max_bytes, 1024);
    assert_eq!(files.config_dir, dir.path());

    for (field, value) in [
        ("terminal_shell", "bash"),
        ("file_roots", "[srv]"),
        ("file_max_bytes", "0"),
        ("file_max_bytes", "4194305"),
    ] {
        let text = format!(
            "{}{field}: {value}\n",
            serde_norway::to_string(&agent_file()).unwrap()
        );
        write_raw(&dir, "agent.yaml", &text, 0o640);
        assert!(
            matches!(dir.read_agent(), Err(ConfigError::Invalid { .. })),
            "{field}: {value}"
        );
    }
}
