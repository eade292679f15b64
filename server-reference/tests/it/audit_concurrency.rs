//! Sixteen concurrent writers over two organizations' chains: sealing happens in commit
//! order under the per-chain head lock, so both chains verify, sequences are gap-free and
//! no entry shares a predecessor with another (no fork).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common::audit::{app_store, days_ago, event, keys, system_ctx};
use crate::common::{Fixtures, TestDb};
use breeze_core::audit::AuditResult;
use breeze_server::audit::jobs as audit_jobs;
use breeze_server::store::audit as store_audit;

const WRITERS: usize = 16;
const EVENTS_EACH: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_fork() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let orgs = [fx.org(partner).await, fx.org(partner).await];
    let store = app_store(&db).await;

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let org = orgs[w % 2];
        tasks.push(tokio::spawn(async move {
            for i in 0..EVENTS_EACH {
                let mut tx = store.begin(&system_ctx()).await.unwrap();
                let ev = event(
                    "device.command.execute",
                    "device",
                    &format!("w{w}-{i}"),
                    AuditResult::Success,
                    days_ago(0),
                );
                store_audit::append(&mut tx, Some(org), ev).await.unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let per_chain = i64::try_from(WRITERS / 2 * EVENTS_EACH).unwrap();
    let su = db.superuser_pool().await;
    for org in orgs {
        let (rows, min, max, prevs, chains): (i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), min(seq), max(seq), count(DISTINCT prev_hash), count(DISTINCT chain_hash)
               FROM audit_log WHERE chain_key = $1",
        )
        .bind(org.to_string())
        .fetch_one(&su)
        .await
        .unwrap();
        assert_eq!(rows, per_chain);
        assert_eq!((min, max), (0, per_chain - 1), "sequence not gap-free");
        assert_eq!(
            prevs, rows,
            "two entries share a predecessor: the chain forked"
        );
        assert_eq!(chains, rows);
    }

    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let report = audit_jobs::verify_visible(&mut tx, &keys(), None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.chains.len(), 2);
    for c in &report.chains {
        assert_eq!(c.entries, u64::try_from(per_chain).unwrap());
    }
}
