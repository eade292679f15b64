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

mod common;

use breeze_crypto::envelope::{Field, KeyRing};
use breeze_server::rekey;
use common::{TestServer, system_context};
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
    assert_eq!(report.columns.len(), 1);
    let c = &report.columns[0];
    assert_eq!(c.column, "notification_outbox.body");
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
    let c = &again.columns[0];
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
