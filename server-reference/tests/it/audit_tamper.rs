//! Tampering by a superuser with triggers disabled is detected by the real binary:
//! `breeze-server audit verify` exits non-zero and names the chain, the sequence and the
//! kind of the first break.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common::audit::{app_store, append_n, days_ago, run_cli, signer};
use crate::common::{Fixtures, TestDb};
use breeze_server::audit::jobs as audit_jobs;
use sqlx::PgPool;

async fn as_replica(su: &PgPool, sql: &str, chain: &str, seq: i64) {
    let mut conn = su.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(chain)
        .bind(seq)
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_entry_is_reported_by_the_cli() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let other = fx.org(partner).await;
    let store = app_store(&db).await;
    append_n(&store, Some(org), 6, "device.delete", "device", days_ago(0)).await;
    append_n(
        &store,
        Some(other),
        2,
        "device.delete",
        "device",
        days_ago(0),
    )
    .await;
    append_n(&store, None, 2, "system.job", "system", days_ago(0)).await;

    let (ok, out, err) = run_cli(&db, &["audit", "verify"]);
    assert!(ok, "intact chains must verify: {out} {err}");
    assert!(out.contains("all 3 chains verified"), "{out}");

    let su = db.superuser_pool().await;
    as_replica(
        &su,
        "UPDATE audit_log SET entry = jsonb_set(entry::jsonb, '{event,resource_id}', '\"forged\"')::text
          WHERE chain_key = $1 AND seq = $2",
        &org.to_string(),
        3,
    )
    .await;

    let (ok, out, err) = run_cli(&db, &["audit", "verify"]);
    assert!(!ok, "a tampered chain verified: {out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("BROKEN") && l.contains(&org.to_string()))
        .unwrap_or_else(|| panic!("no break reported for the chain: {out} {err}"));
    assert!(line.contains("seq 3 kind content_altered"), "{line}");
    // the other chains are still intact
    assert!(out.contains(&format!("ok      chain {other}")), "{out}");
    assert!(err.contains("1 of 3 chains broken"), "{err}");

    // --org limits to one chain
    let (ok, out, _) = run_cli(&db, &["audit", "verify", "--org", &other.to_string()]);
    assert!(ok, "{out}");
    let (ok, _, err) = run_cli(&db, &["audit", "verify", "--org", "not-an-org"]);
    assert!(!ok);
    assert!(err.contains("--org"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_entries_are_reported_by_the_cli() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let store = app_store(&db).await;
    append_n(&store, Some(org), 6, "device.delete", "device", days_ago(0)).await;

    let su = db.superuser_pool().await;
    as_replica(
        &su,
        "DELETE FROM audit_log WHERE chain_key = $1 AND seq = $2",
        &org.to_string(),
        2,
    )
    .await;
    let (ok, out, _) = run_cli(&db, &["audit", "verify", "--org", &org.to_string()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("seq 2 kind entry_removed") || out.contains("seq 2 kind sequence_gap"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_tail_after_a_checkpoint_is_reported() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let store = app_store(&db).await;
    append_n(&store, Some(org), 5, "device.delete", "device", days_ago(0)).await;
    audit_jobs::checkpoint_all(&store, &signer(), time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let (ok, out, _) = run_cli(&db, &["audit", "checkpoint"]);
    assert!(ok);
    assert!(
        out.contains("0 checkpoints signed"),
        "nothing new to sign: {out}"
    );

    let su = db.superuser_pool().await;
    as_replica(
        &su,
        "DELETE FROM audit_log WHERE chain_key = $1 AND seq = $2",
        &org.to_string(),
        4,
    )
    .await;
    let (ok, out, _) = run_cli(&db, &["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains("seq 4 kind"), "{out}");
}
