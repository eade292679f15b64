//! `secrets rekey`: values under an old key move to the active key, values already current
//! are left alone, values no key opens are counted failed and untouched; the run is
//! audited; a second run rewrites nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::{TestServer, system_context};
use breeze_crypto::envelope::{Field, KeyRing};
use breeze_server::ops::rekey;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

const OLD_KEY: &str = "4e1c7a9f2b5d8e0a3c6f9b2d5e8a1c4f7b0d3e6a9c2f5b8d1e4a7c0f3b6d9e2a";
const NEW_KEY: &str = "8c3e5a7f1b9d2c4e6a8f0b3d5c7e9a1f2b4d6c8e0a3f5b7d9c1e2a4f6b8d0c3e";
const GONE_KEY: &str = "d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4";

fn ring(id: &str, key: &str) -> KeyRing {
    KeyRing::builder()
        .key(id, SecretString::from(key.to_owned()))
        .unwrap()
        .active(id)
        .unwrap()
}

async fn insert_outbox(server: &TestServer, body: &str) -> Uuid {
    let fx = server.fixtures().await;
    let id = Uuid::new_v4();
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO notification_outbox (id, kind, recipient, body) VALUES ($1, 'test', 'a@example.test', $2)",
    )
    .bind(id)
    .bind(body)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn body_of(server: &TestServer, id: Uuid) -> String {
    let pool = server.db.superuser_pool().await;
    sqlx::query_scalar("SELECT body FROM notification_outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn rekey_moves_old_values_to_the_active_key_and_is_resumable() {
    // the server reads `old` and `t1`, writes under `t1`
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_ENCRYPTION_KEY_old".into(), OLD_KEY.into()));
        assert!(
            s.iter()
                .any(|(k, v)| k == "BREEZE_ENCRYPTION_KEY_t1" && v == NEW_KEY)
        );
    })
    .await;
    let field = Field::new("notification_outbox", "body").unwrap();
    let old = ring("old", OLD_KEY);
    let gone = ring("gone", GONE_KEY);

    let mut expected = Vec::new();
    for i in 0..5 {
        let plain = format!("reset link #{i}");
        let id = insert_outbox(&server, &old.encrypt(&plain, &field).unwrap()).await;
        expected.push((id, plain));
    }
    // one already under the active key
    let current_plain = "already current".to_owned();
    let current_value = server
        .state
        .secrets
        .encrypt(&current_plain, &field)
        .unwrap();
    let current_id = insert_outbox(&server, &current_value).await;
    // one under a key nobody has any more
    let lost_value = gone.encrypt("lost", &field).unwrap();
    let lost_id = insert_outbox(&server, &lost_value).await;

    // batch of 2: several transactions, keyset pagination across them
    let report = rekey::rekey(&server.state, 2).await.unwrap();
    assert_eq!(report.active_key_id, "t1");
    assert_eq!(
        report.columns.len(),
        rekey::ENCRYPTED_COLUMNS.len() + rekey::MFA_COLUMNS.len()
    );
    let outbox = |r: &rekey::RekeyReport| {
        r.columns
            .iter()
            .find(|c| c.column == "notification_outbox.body")
            .unwrap()
            .clone()
    };
    let c = &outbox(&report);
    assert_eq!(
        (c.scanned, c.reencrypted, c.already_current, c.failed),
        (7, 5, 1, 1)
    );

    for (id, plain) in &expected {
        let stored = body_of(&server, *id).await;
        assert!(stored.starts_with("enc:v3:t1:"), "{stored}");
        let opened = server.state.secrets.decrypt(&stored, &field).unwrap();
        assert_eq!(opened.expose_secret(), plain);
        // the old key alone no longer opens it
        assert!(old.decrypt(&stored, &field).is_err());
    }
    assert_eq!(
        body_of(&server, current_id).await,
        current_value,
        "not rewritten"
    );
    assert_eq!(
        body_of(&server, lost_id).await,
        lost_value,
        "left untouched"
    );

    // second run: nothing left to do
    let again = rekey::rekey(&server.state, 500).await.unwrap();
    let c = &outbox(&again);
    assert_eq!(
        (c.scanned, c.reencrypted, c.already_current, c.failed),
        (7, 0, 6, 1)
    );

    // both runs are on the system chain, failure result because of the lost value
    let audit = common::ops::audit_actions(&server.db, "system").await;
    let runs: Vec<_> = audit.iter().filter(|a| a.0 == "secrets.rekey").collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].1.as_deref(), Some("t1"));
    assert_eq!(runs[0].2, "failure");
}

#[tokio::test]
async fn rekey_with_everything_current_succeeds_and_zero_batch_is_refused() {
    let server = TestServer::start().await;
    let field = Field::new("notification_outbox", "body").unwrap();
    let value = server.state.secrets.encrypt("x", &field).unwrap();
    insert_outbox(&server, &value).await;
    let report = rekey::rekey(&server.state, 10).await.unwrap();
    assert_eq!(report.totals(), (1, 0, 1, 0));
    assert!(matches!(
        rekey::rekey(&server.state, 0).await,
        Err(rekey::RekeyError::Batch)
    ));
    let audit = common::ops::audit_actions(&server.db, "system").await;
    let runs: Vec<_> = audit.iter().filter(|a| a.0 == "secrets.rekey").collect();
    assert_eq!(runs.len(), 1, "the refused run records nothing");
    assert_eq!(runs[0].2, "success");
}

#[tokio::test]
async fn rekey_through_the_binary() {
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_ENCRYPTION_KEY_old".into(), OLD_KEY.into()));
    })
    .await;
    let field = Field::new("notification_outbox", "body").unwrap();
    let old = ring("old", OLD_KEY);
    let id = insert_outbox(&server, &old.encrypt("hello", &field).unwrap()).await;
    let mut env = common::test_settings(&server.db);
    env.push(("BREEZE_ENCRYPTION_KEY_old".into(), OLD_KEY.into()));
    let out = common::ops::run_bin(&["secrets", "rekey", "--batch", "1"], &env, None);
    let stdout = common::ops::stdout(&out);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        common::ops::stderr(&out)
    );
    assert!(
        stdout.contains(
            "notification_outbox.body: scanned 1, reencrypted 1, already current 0, failed 0"
        ),
        "{stdout}"
    );
    let stored = body_of(&server, id).await;
    assert!(stored.starts_with("enc:v3:t1:"));
    assert!(!stdout.contains("hello") && !common::ops::stderr(&out).contains("hello"));
}

/// Every `table.column` of the public schema's base tables holding at least one value that
/// looks like an at-rest envelope (`enc:v1:`, `enc:v2:`, `enc:v3:`), with those values.
/// Read as the superuser, so row-level security hides nothing.
async fn envelopes_in_database(
    server: &TestServer,
) -> std::collections::BTreeMap<(String, String), Vec<String>> {
    let pool = server.db.superuser_pool().await;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
            AND c.data_type IN ('text', 'character varying')
          ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(columns.len() > 20, "the schema walk found too few columns");
    let mut found = std::collections::BTreeMap::new();
    for (table, column) in columns {
        let values: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT \"{column}\"::text FROM \"{table}\"
              WHERE \"{column}\" ~ '^enc:v[0-9]+:'"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        if !values.is_empty() {
            found.insert((table, column), values);
        }
    }
    found
}

#[tokio::test]
async fn finding_07_every_encrypted_column_in_the_database_is_rekeyed() {
    use breeze_authz::seeded::SeededRole;
    use common::agents::{enroll_ok, enrollment_key, mfa_token};
    // writes go under `old`; `t1` is configured too and becomes the active key later
    let server = TestServer::start_with(|s| {
        s.retain(|(k, _)| k != "BREEZE_ENCRYPTION_ACTIVE_KEY_ID");
        s.push(("BREEZE_ENCRYPTION_KEY_old".into(), OLD_KEY.into()));
        s.push(("BREEZE_ENCRYPTION_ACTIVE_KEY_ID".into(), "old".into()));
    })
    .await;
    let fx = server.fixtures().await;

    // Exercise every path of the server that stores an encrypted value, for two tenants:
    // queued commands and password-reset mails.
    for n in 0..2 {
        let partner = fx.partner().await;
        let org = fx.org(partner).await;
        let site = fx.site(org).await;
        let key = enrollment_key(&server, &fx, org, site, 5, 3600, None).await;
        let agent = enroll_ok(&server, &key, &format!("rekey-host-{n}")).await;
        let tech = fx
            .org_user(partner, org, SeededRole::OrgTechnician, None)
            .await;
        let token = mfa_token(&server, &fx, &tech).await;
        let res = server
            .http
            .post(server.url(&format!("/api/v1/devices/{}/commands", agent.device_id)))
            .bearer_auth(&token)
            .json(&serde_json::json!({"type": "run_script", "payload": {
                "scriptId": "00000000-0000-4000-8000-000000000001",
                "content": format!("echo command-history-{n}"), "language": "bash",
                "timeoutSeconds": 60}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
        let res = server
            .http
            .post(server.url("/api/v1/auth/password/reset-request"))
            .json(&serde_json::json!({"email": tech.email}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
    }

    // The guard: every column holding envelopes must be in the rekey registry. A new
    // encrypted column that is not registered fails here.
    let before = envelopes_in_database(&server).await;
    let registered: std::collections::BTreeSet<(String, String)> = rekey::ENCRYPTED_COLUMNS
        .iter()
        .map(|c| (c.column.table.to_owned(), c.column.column.to_owned()))
        .collect();
    let missing: Vec<_> = before.keys().filter(|k| !registered.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "encrypted columns missing from rekey::ENCRYPTED_COLUMNS: {missing:?}"
    );
    for expected in [
        ("device_commands", "payload"),
        ("notification_outbox", "body"),
    ] {
        assert!(
            before.contains_key(&(expected.0.to_owned(), expected.1.to_owned())),
            "the exercise wrote no {expected:?}: {before:?}"
        );
    }

    // Rotate: `t1` becomes active (a new server state on the same database), rekey, and
    // then the active key alone must open every envelope in the database.
    let mut settings = common::test_settings(&server.db);
    settings.push(("BREEZE_ENCRYPTION_KEY_old".into(), OLD_KEY.into()));
    let config = breeze_server::config::ServerConfig::from_settings(
        breeze_server::config::Settings::from_pairs(settings),
    )
    .unwrap();
    let store = breeze_server::store::PgStore::connect(&config.database_url, 4)
        .await
        .unwrap();
    let rotated = breeze_server::state::AppState::build(
        config,
        store,
        std::sync::Arc::new(breeze_server::clock::SystemClock),
    )
    .await
    .unwrap();
    let report = rekey::rekey(&rotated, 1).await.unwrap();
    let (_, _, _, failed) = report.totals();
    assert_eq!(failed, 0, "{report:?}");
    let commands = report
        .columns
        .iter()
        .find(|c| c.column == "device_commands.payload")
        .unwrap_or_else(|| panic!("device_commands.payload not rekeyed: {report:?}"));
    assert_eq!(
        (commands.scanned, commands.reencrypted),
        (2, 2),
        "{report:?}"
    );

    let only_new = ring("t1", NEW_KEY);
    let after = envelopes_in_database(&server).await;
    for ((table, column), values) in &after {
        let field = Field::new(table, column).unwrap();
        for v in values {
            assert!(
                only_new.decrypt(v, &field).is_ok(),
                "{table}.{column} still needs the old key after a complete rekey"
            );
        }
    }
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn finding_07_every_field_the_code_encrypts_under_is_in_the_rekey_registry() {
    // The second guard, independent of which paths a test exercises: every associated data
    // (`Field::new(table, column)`) named anywhere in the server's source must be a
    // registered column, so a new encrypted column cannot be added without rekey seeing it.
    let registered: std::collections::BTreeSet<String> = rekey::ENCRYPTED_COLUMNS
        .iter()
        .map(|c| format!("{}.{}", c.field_table, c.field_column))
        .collect();
    let constants = [
        ("OUTBOX_TABLE", breeze_server::notify::OUTBOX_TABLE),
        (
            "OUTBOX_BODY_COLUMN",
            breeze_server::notify::OUTBOX_BODY_COLUMN,
        ),
    ];
    let resolve = |arg: &str| -> Option<String> {
        let arg = arg.trim();
        if let Some(lit) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
            return Some(lit.to_owned());
        }
        constants
            .iter()
            .find(|(name, _)| arg == *name)
            .map(|(_, v)| (*v).to_owned())
    };
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut seen = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let is_rekey = file.ends_with("rekey.rs");
        for (at, _) in text.match_indices("Field::new(") {
            let rest = &text[at + "Field::new(".len()..];
            let args = &rest[..rest.find(')').unwrap()];
            if is_rekey && args.contains("col.field_table") {
                continue; // the registry's own use
            }
            let parts: Vec<&str> = args.split(',').collect();
            assert_eq!(parts.len(), 2, "{}: Field::new({args})", file.display());
            let (Some(table), Some(column)) = (resolve(parts[0]), resolve(parts[1])) else {
                panic!(
                    "{}: Field::new({args}) names its associated data with something this guard \
                     cannot resolve: use string literals or add the constant here",
                    file.display()
                );
            };
            let aad = format!("{table}.{column}");
            assert!(
                registered.contains(&aad),
                "{}: `{aad}` is encrypted but not in rekey::ENCRYPTED_COLUMNS",
                file.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "the scan found only {seen} fields");
}
