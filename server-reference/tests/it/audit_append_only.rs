//! The audit tables are append-only at the database for the runtime role AND the owner:
//! UPDATE, DELETE and TRUNCATE are refused (error, or no row visible to change) and nothing
//! changes; an entry that does not extend the head is refused; a fork cannot be stored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::audit::{app_store, append_n, days_ago, event, signer, system_ctx};
use crate::common::{Fixtures, TestDb, system_context};
use breeze_core::audit::{AuditResult, ChainHead, ChainId, EntryBody};
use breeze_server::audit::jobs as audit_jobs;
use breeze_server::store::audit as store_audit;
use sqlx::PgPool;

const TABLES: [(&str, &str); 4] = [
    ("audit_log", "entry"),
    ("audit_checkpoints", "checkpoint"),
    ("audit_chain_heads", "head_hash"),
    ("audit_anchors", "checkpoint"),
];

async fn snapshot(su: &PgPool) -> Vec<String> {
    let mut out = Vec::new();
    for (t, col) in TABLES {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {col} FROM {t} ORDER BY 1"
        )))
        .fetch_all(su)
        .await
        .unwrap();
        out.push(format!("{t}: {rows:?}"));
    }
    out
}

/// Runs `sql` in a system-context transaction as the pool's role; Ok(rows) or Err(sqlstate).
async fn attempt(pool: &PgPool, sql: &str) -> Result<u64, String> {
    let mut tx = pool.begin().await.unwrap();
    system_context(&mut tx).await;
    let r = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *tx)
        .await;
    match r {
        Ok(done) => {
            tx.commit().await.unwrap();
            Ok(done.rows_affected())
        }
        Err(e) => Err(e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()))
            .unwrap_or_else(|| e.to_string())),
    }
}

#[tokio::test]
async fn update_delete_truncate_refused_for_app_and_owner() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let store = app_store(&db).await;
    append_n(&store, Some(org), 3, "device.delete", "device", days_ago(0)).await;
    append_n(&store, None, 2, "system.thing", "system", days_ago(0)).await;
    let made = audit_jobs::checkpoint_all(&store, &signer(), time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(made.len(), 2);
    let su = db.superuser_pool().await;
    let before = snapshot(&su).await;

    for role in ["breeze_app", "breeze_owner"] {
        let pool = db.pool(role).await;
        for (t, col) in TABLES {
            for sql in [
                format!("UPDATE {t} SET {col} = {col}"),
                format!("DELETE FROM {t}"),
            ] {
                let r = attempt(&pool, &sql).await;
                assert!(
                    matches!(r, Err(_) | Ok(0)),
                    "{role}: `{sql}` changed rows: {r:?}"
                );
                if role == "breeze_app" {
                    assert_eq!(r, Err("42501".into()), "{role}: `{sql}`");
                }
            }
            let r = attempt(&pool, &format!("TRUNCATE {t}")).await;
            assert_eq!(r, Err("42501".into()), "{role}: TRUNCATE {t}");
        }
        assert_eq!(snapshot(&su).await, before, "{role} changed an audit table");
    }

    // The maintenance role cannot delete without the session flag either.
    let maint = db.pool("breeze_maint").await;
    let r = attempt(&maint, "DELETE FROM audit_log").await;
    assert_eq!(r, Err("42501".into()), "maint without the flag");
    assert_eq!(snapshot(&su).await, before);

    // The chains still verify.
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let report = audit_jobs::verify_visible(&mut tx, &common::audit::keys(), None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.chains.len(), 2);
}

#[tokio::test]
async fn forged_entries_and_forks_refused() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let store = app_store(&db).await;
    append_n(&store, Some(org), 3, "device.delete", "device", days_ago(0)).await;

    // A correctly sealed entry that does not extend the head (sequence 0 again).
    let mut genesis = ChainHead::genesis(ChainId::Org(org));
    let forged = genesis
        .seal(EntryBody::Event(event(
            "device.delete",
            "device",
            "forged",
            AuditResult::Success,
            days_ago(0),
        )))
        .unwrap();
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let _ = store_audit::lock_head(&mut tx, Some(org)).await.unwrap();
    let r = store_audit::insert_entry(&mut tx, Some(org), &forged).await;
    assert!(r.is_err(), "a stale entry was accepted");
    drop(tx);

    // The right sequence but a wrong predecessor (a fork from entry 1).
    let su = db.superuser_pool().await;
    let entry1: String =
        sqlx::query_scalar("SELECT entry FROM audit_log WHERE chain_key = $1 AND seq = 1")
            .bind(org.to_string())
            .fetch_one(&su)
            .await
            .unwrap();
    let e1: breeze_core::audit::Entry = serde_json::from_str(&entry1).unwrap();
    let mut fork = ChainHead::after(&e1).unwrap();
    // pretend to be the next after 1 but at sequence 3
    let forked = fork
        .seal(EntryBody::Event(event(
            "device.delete",
            "device",
            "fork",
            AuditResult::Success,
            days_ago(0),
        )))
        .unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&forked).unwrap();
    json["sequence"] = 3.into();
    let mut tx = db.pool("breeze_app").await.begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query("SELECT * FROM breeze_audit_lock_head($1)")
        .bind(org.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let r =
        sqlx::query("INSERT INTO audit_log (chain_key, seq, org_id, entry) VALUES ($1, 3, $2, $3)")
            .bind(org.to_string())
            .bind(org.as_uuid())
            .bind(json.to_string())
            .execute(&mut *tx)
            .await;
    assert!(r.is_err(), "a fork was accepted");
    drop(tx);

    // Even with triggers off (superuser, replica role), a duplicate (chain, prev_hash) is
    // refused by the unique constraint: a fork cannot be stored.
    let mut conn = su.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut dup: serde_json::Value = serde_json::from_str(&entry1).unwrap();
    dup["sequence"] = 9.into();
    let r =
        sqlx::query("INSERT INTO audit_log (chain_key, seq, org_id, entry) VALUES ($1, 9, $2, $3)")
            .bind(org.to_string())
            .bind(org.as_uuid())
            .bind(dup.to_string())
            .execute(&mut *conn)
            .await;
    let code = r
        .unwrap_err()
        .as_database_error()
        .and_then(|d| d.code().map(|c| c.into_owned()));
    assert_eq!(code.as_deref(), Some("23505"));
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();

    // An organization context cannot write into another organization's chain.
    let other = fx.org(partner).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&su)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let _ = other;
}
