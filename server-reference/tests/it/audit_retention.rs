//! Checkpoints and retention: a prefix older than the organization's retention period is
//! pruned only through a stored checkpoint, the chain records it and still verifies end to
//! end, the run is audited, and the export bundle verifies offline with trusted keys only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::audit::{
    app_store, append_n, days_ago, keys, maint_store, run_cli, signer, system_ctx,
};
use crate::common::{Fixtures, TestDb};
use breeze_core::audit::{BundleOptions, CheckpointSigner, KeyId, verify_bundle_bytes};
use breeze_server::audit::jobs::{self as audit_jobs, MAX_EXPORT_BYTES};
use breeze_server::store::audit as store_audit;
use time::OffsetDateTime;
use zeroize::Zeroizing;

async fn count(db: &TestDb, chain: &str) -> (i64, Option<i64>) {
    sqlx::query_as("SELECT count(*), min(seq) FROM audit_log WHERE chain_key = $1")
        .bind(chain)
        .fetch_one(&db.superuser_pool().await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_through_a_checkpoint_and_the_chain_still_verifies() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let young = fx.org(partner).await;
    let store = app_store(&db).await;
    let maint = maint_store(&db).await;
    let now = OffsetDateTime::now_utc();
    let key = org.to_string();

    // 5 old entries (0..=4), checkpoint at 4; 2 more old ones (5, 6) without a checkpoint;
    // then 3 recent ones (7..=9) and a checkpoint at 9.
    append_n(
        &store,
        Some(org),
        5,
        "device.delete",
        "device",
        days_ago(400),
    )
    .await;
    append_n(
        &store,
        Some(young),
        3,
        "device.delete",
        "device",
        days_ago(400),
    )
    .await;
    audit_jobs::checkpoint_all(&store, &signer(), now)
        .await
        .unwrap();
    append_n(
        &store,
        Some(org),
        2,
        "device.delete",
        "device",
        days_ago(390),
    )
    .await;
    append_n(&store, Some(org), 3, "device.update", "device", days_ago(1)).await;
    let made = audit_jobs::checkpoint_all(&store, &signer(), now)
        .await
        .unwrap();
    assert_eq!(
        made.len(),
        1,
        "only the chain with new entries is checkpointed"
    );
    assert_eq!(made[0].sequence, 9);
    // `young` keeps everything: 1000 days of retention
    fx.exec(
        "UPDATE organizations SET retention_days = 1000 WHERE id = $1",
        &[*young.as_uuid()],
    )
    .await;

    // The runtime role cannot prune (no delete privilege, no anchor insert).
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let cps = store_audit::checkpoints(&mut tx, &key, None, 100)
        .await
        .unwrap();
    assert!(
        store_audit::prune_prefix(&mut tx, &cps[0], 4)
            .await
            .is_err()
    );
    drop(tx);

    let done = audit_jobs::retention_run(&maint, &keys(), now)
        .await
        .unwrap();
    assert!(done.failed.is_empty(), "{done:?}");
    assert_eq!(done.pruned.len(), 1, "{done:?}");
    let o = &done.pruned[0];
    assert_eq!(o.chain, key);
    // entries 5 and 6 are old too, but no checkpoint ends there: the prune stops at 4
    assert_eq!((o.pruned_from, o.pruned_through, o.deleted), (0, 4, 5));
    assert_eq!(o.record_sequence, 10);
    assert_eq!(count(&db, &key).await, (6, Some(5)));
    assert_eq!(count(&db, &young.to_string()).await, (3, Some(0)));

    // The chain still verifies end to end, from its anchor.
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let report = audit_jobs::verify_visible(&mut tx, &keys(), None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    let c = report.chains.iter().find(|c| c.chain == key).unwrap();
    assert_eq!(c.first_sequence, 5);
    assert_eq!(c.pruned_through, Some(4));
    assert_eq!(c.head_sequence, Some(10));
    // the run is audited on the system chain
    let rows = store_audit::list(
        &mut tx,
        &store_audit::ListFilter {
            action: Some("audit.retention.run".into()),
            ..Default::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].chain_key, "system");
    assert!(rows[0].entry.contains(&key));

    // The export verifies offline with the trusted key, and not with a stranger's.
    let bundle = audit_jobs::export_chain(
        &mut tx,
        &keys(),
        Some(org),
        None,
        None,
        MAX_EXPORT_BYTES,
        now,
    )
    .await
    .unwrap();
    drop(tx);
    let r = verify_bundle_bytes(
        &bundle,
        &BundleOptions {
            trusted_keys: Some(keys()),
            ..BundleOptions::default()
        },
    );
    assert!(r.ok, "{r:?}");
    assert!(r.keys_trusted);
    assert_eq!(r.pruned_through, Some(4));
    assert_eq!(r.last_sequence, Some(10));
    let stranger =
        CheckpointSigner::from_seed(KeyId::new("t1").unwrap(), &Zeroizing::new([3u8; 32]));
    let mut other = breeze_core::audit::KeyRing::new();
    other
        .insert(stranger.key_id().clone(), stranger.verifying_key())
        .unwrap();
    let r = verify_bundle_bytes(
        &bundle,
        &BundleOptions {
            trusted_keys: Some(other),
            ..BundleOptions::default()
        },
    );
    assert!(!r.ok, "a bundle verified with an untrusted key");

    // A second run finds nothing more to prune (the next checkpoint covers young entries).
    let done = audit_jobs::retention_run(&maint, &keys(), now)
        .await
        .unwrap();
    assert!(done.pruned.is_empty() && done.failed.is_empty(), "{done:?}");

    // Later: everything is old; checkpoint the head and prune again through it.
    let later = now + time::Duration::days(400);
    let made = audit_jobs::checkpoint_all(&store, &signer(), later)
        .await
        .unwrap();
    assert!(made.iter().any(|c| c.sequence == 10), "{made:?}");
    let done = audit_jobs::retention_run(&maint, &keys(), later)
        .await
        .unwrap();
    let o = done.pruned.iter().find(|o| o.chain == key).unwrap();
    assert_eq!((o.pruned_from, o.pruned_through), (5, 10));
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let report = audit_jobs::verify_visible(&mut tx, &keys(), None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");

    // The CLI agrees, and its export verifies too.
    let (ok, out, err) = run_cli(&db, &["audit", "verify"]);
    assert!(ok, "{out} {err}");
    let file = std::env::temp_dir().join(format!("audit-{}.jsonl", db.name));
    let (ok, _, err) = run_cli(
        &db,
        &[
            "audit",
            "export",
            "--org",
            &key,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let r = verify_bundle_bytes(
        &bytes,
        &BundleOptions {
            trusted_keys: Some(keys()),
            ..BundleOptions::default()
        },
    );
    assert!(r.ok, "{r:?}");
    assert_eq!(r.pruned_through, Some(10));
    // the CLI export was audited in the chain, which still verifies
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let rows = store_audit::list(
        &mut tx,
        &store_audit::ListFilter {
            org: Some(org),
            action: Some("audit.export".into()),
            ..Default::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    let report = audit_jobs::verify_visible(&mut tx, &keys(), Some(Some(org)))
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
}

#[tokio::test]
async fn nothing_is_pruned_without_a_checkpoint() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let store = app_store(&db).await;
    let maint = maint_store(&db).await;
    append_n(
        &store,
        Some(org),
        4,
        "device.delete",
        "device",
        days_ago(800),
    )
    .await;
    let done = audit_jobs::retention_run(&maint, &keys(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(done.pruned.is_empty() && done.failed.is_empty());
    assert_eq!(count(&db, &org.to_string()).await, (4, Some(0)));
}

#[tokio::test]
async fn a_chain_that_does_not_verify_is_never_pruned() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let fine = fx.org(partner).await;
    let store = app_store(&db).await;
    let maint = maint_store(&db).await;
    let now = OffsetDateTime::now_utc();
    append_n(
        &store,
        Some(org),
        4,
        "device.delete",
        "device",
        days_ago(800),
    )
    .await;
    append_n(
        &store,
        Some(fine),
        4,
        "device.delete",
        "device",
        days_ago(800),
    )
    .await;
    audit_jobs::checkpoint_all(&store, &signer(), now)
        .await
        .unwrap();
    append_n(&store, Some(org), 1, "device.delete", "device", days_ago(0)).await;
    append_n(
        &store,
        Some(fine),
        1,
        "device.delete",
        "device",
        days_ago(0),
    )
    .await;

    // a superuser alters an old entry with triggers off
    let su = db.superuser_pool().await;
    let mut conn = su.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_log SET entry = jsonb_set(entry::jsonb, '{event,resource_id}', '\"x\"')::text
          WHERE chain_key = $1 AND seq = 1",
    )
    .bind(org.to_string())
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);

    let done = audit_jobs::retention_run(&maint, &keys(), now)
        .await
        .unwrap();
    assert_eq!(done.failed.len(), 1, "{done:?}");
    assert_eq!(done.failed[0].0, org.to_string());
    assert!(done.failed[0].1.contains("content_altered"), "{done:?}");
    assert_eq!(
        count(&db, &org.to_string()).await,
        (5, Some(0)),
        "evidence kept"
    );
    // the other chain was pruned normally
    assert_eq!(done.pruned.len(), 1);
    assert_eq!(done.pruned[0].chain, fine.to_string());
    let (ok, out, _) = run_cli(&db, &["audit", "retention"]);
    assert!(!ok, "the CLI reports the refused chain: {out}");
    assert!(out.contains(&format!("FAILED chain {org}")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_tasks_checkpoint_and_prune() {
    let server = common::TestServer::start_with(|s| {
        for (k, v) in s.iter_mut() {
            if k == "BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS"
                || k == "BREEZE_AUDIT_RETENTION_INTERVAL_SECS"
            {
                *v = "1".into();
            }
        }
    })
    .await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    append_n(
        &server.state.store,
        Some(org),
        3,
        "device.delete",
        "device",
        days_ago(500),
    )
    .await;
    let tasks = audit_jobs::spawn_background(&server.state);
    assert_eq!(tasks.len(), 2);
    // wait (bounded) for the checkpoint, then for the prune through it
    let su = server.db.superuser_pool().await;
    let mut pruned = false;
    for _ in 0..300 {
        let anchors: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_anchors WHERE chain_key = $1")
                .bind(org.to_string())
                .fetch_one(&su)
                .await
                .unwrap();
        if anchors > 0 {
            pruned = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.abort();
    }
    assert!(
        pruned,
        "the background tasks never checkpointed and pruned the old chain"
    );
    let mut tx = server.state.store.begin(&system_ctx()).await.unwrap();
    let report = audit_jobs::verify_visible(&mut tx, &keys(), None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
}

/// PATCH an organization over real HTTP as `token`.
async fn patch_org(
    server: &common::TestServer,
    token: &str,
    org: breeze_core::tenancy::OrgId,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let res = server
        .http
        .patch(server.url(&format!("/api/v1/orgs/{org}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

async fn retention_days_of(db: &TestDb, org: breeze_core::tenancy::OrgId) -> i32 {
    sqlx::query_scalar("SELECT retention_days FROM organizations WHERE id = $1")
        .bind(org.as_uuid())
        .fetch_one(&db.superuser_pool().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn finding_08_org_admin_cannot_shrink_retention_and_partner_changes_respect_the_floor() {
    use breeze_authz::seeded::SeededRole;
    let server = common::TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let org_admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let org_token = common::agents::mfa_token(&server, &fx, &org_admin).await;
    let partner_admin = fx
        .partner_user(partner, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let partner_token = common::agents::mfa_token(&server, &fx, &partner_admin).await;

    // an org admin may still rename the organization...
    let (s, body) = patch_org(
        &server,
        &org_token,
        org,
        &serde_json::json!({"name": "Renamed"}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // ...but not touch its audit retention, not even upwards
    for days in [1, 400] {
        let (s, body) = patch_org(
            &server,
            &org_token,
            org,
            &serde_json::json!({"retentionDays": days}),
        )
        .await;
        assert_eq!(s, 403, "org admin changed retention to {days}: {body}");
        assert_eq!(body["error"], "retention_change_requires_partner", "{body}");
    }
    assert_eq!(retention_days_of(&server.db, org).await, 365);

    // a partner admin below the floor (default 90 days): 400 naming the field
    let (s, body) = patch_org(
        &server,
        &partner_token,
        org,
        &serde_json::json!({"retentionDays": 89}),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["path"] == "body.retentionDays"),
        "{body}"
    );
    assert_eq!(retention_days_of(&server.db, org).await, 365);
    // creating an organization below the floor is refused the same way
    let res = server
        .http
        .post(server.url("/api/v1/orgs"))
        .bearer_auth(&partner_token)
        .json(&serde_json::json!({"name": "Short memory", "retentionDays": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);

    // at the floor: accepted and audited with the old and new values
    let (s, body) = patch_org(
        &server,
        &partner_token,
        org,
        &serde_json::json!({"retentionDays": 90}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["retentionDays"], 90);
    assert_eq!(retention_days_of(&server.db, org).await, 90);
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT entry FROM audit_log WHERE chain_key = $1 AND action = 'organization.retention.change'",
    )
    .bind(org.to_string())
    .fetch_all(&server.db.superuser_pool().await)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let entry: serde_json::Value = serde_json::from_str(&rows[0]).unwrap();
    let details = &entry["event"]["details"];
    assert_eq!(details["from"], 365, "{entry}");
    assert_eq!(details["to"], 90, "{entry}");
    assert_eq!(
        entry["event"]["actor_id"],
        partner_admin.id.to_string(),
        "{entry}"
    );

    // PostgreSQL refuses it too: an organization-scope context cannot change retention
    let fx_pool = server.db.pool("breeze_app").await;
    let mut tx = fx_pool.begin().await.unwrap();
    sqlx::query(
        "SELECT set_config('breeze.scope', 'organization', true),
                set_config('breeze.org_id', $1, true),
                set_config('breeze.accessible_org_ids', $1, true),
                set_config('breeze.accessible_partner_ids', '', true),
                set_config('breeze.allowed_site_ids', '*', true)",
    )
    .bind(org.to_string())
    .execute(&mut *tx)
    .await
    .unwrap();
    // the same context may rename (the row is reachable)...
    let renamed = sqlx::query("UPDATE organizations SET name = 'Again' WHERE id = $1")
        .bind(org.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(renamed.rows_affected(), 1);
    // ...but not change the retention
    let refused = sqlx::query("UPDATE organizations SET retention_days = 1 WHERE id = $1")
        .bind(org.as_uuid())
        .execute(&mut *tx)
        .await;
    assert!(
        refused.is_err(),
        "the database let an organization context shrink retention"
    );
}

#[tokio::test]
async fn finding_08_the_retention_job_never_prunes_younger_than_the_floor() {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let store = app_store(&db).await;
    // a retention below the floor already stored (written before the floor existed)
    fx.exec(
        "UPDATE organizations SET retention_days = 1 WHERE id = $1",
        &[*org.as_uuid()],
    )
    .await;
    append_n(
        &store,
        Some(org),
        4,
        "device.delete",
        "device",
        days_ago(30),
    )
    .await;
    audit_jobs::checkpoint_all(&store, &signer(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    // the binary with the default floor (90 days) keeps 30-day-old entries
    let (ok, out, err) = run_cli(&db, &["audit", "retention"]);
    assert!(ok, "{out} {err}");
    assert_eq!(
        count(&db, &org.to_string()).await,
        (4, Some(0)),
        "entries younger than the floor were pruned: {out}"
    );
    // entries older than the floor go
    append_n(&store, Some(org), 2, "device.delete", "device", days_ago(0)).await;
    let later = OffsetDateTime::now_utc() + time::Duration::days(200);
    audit_jobs::checkpoint_all(&store, &signer(), later)
        .await
        .unwrap();
    let maint = maint_store(&db).await;
    let done = audit_jobs::retention_run(&maint, &keys(), later)
        .await
        .unwrap();
    assert_eq!(done.pruned.len(), 1, "{done:?}");
}

#[tokio::test]
async fn finding_17_the_system_chain_is_pruned_past_its_retention_and_still_verifies() {
    let db = TestDb::new().await;
    let store = app_store(&db).await;
    // 4 system entries older than the default system retention (365 days), a checkpoint,
    // then 2 recent ones and a checkpoint
    append_n(&store, None, 4, "auth.login", "user", days_ago(400)).await;
    audit_jobs::checkpoint_all(&store, &signer(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    append_n(&store, None, 2, "auth.login", "user", days_ago(1)).await;
    audit_jobs::checkpoint_all(&store, &signer(), OffsetDateTime::now_utc())
        .await
        .unwrap();

    let (ok, out, err) = run_cli(&db, &["audit", "retention"]);
    assert!(ok, "{out} {err}");
    assert!(out.contains("pruned chain system seq 0..=3"), "{out}");
    // rows 0..=3 gone; 4, 5, the retention record (6) and the run event (7) remain
    assert_eq!(count(&db, "system").await, (4, Some(4)));
    let anchors: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_anchors WHERE chain_key = 'system'")
            .fetch_one(&db.superuser_pool().await)
            .await
            .unwrap();
    assert_eq!(anchors, 1);
    // the system chain still verifies from its anchor, in process and through the binary
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    let report = audit_jobs::verify_visible(&mut tx, &keys(), Some(None))
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.chains[0].pruned_through, Some(3));
    drop(tx);
    let (ok, out, err) = run_cli(&db, &["audit", "verify"]);
    assert!(ok, "{out} {err}");

    // a shorter system retention applies, never below the floor
    let (ok, out, _) = run_cli(&db, &["audit", "retention"]);
    assert!(ok && out.contains("0 chains pruned"), "{out}");
    let settings = |days: &str| {
        breeze_server::config::ServerConfig::from_settings(
            breeze_server::config::Settings::from_pairs(
                common::test_settings(&db).into_iter().chain([(
                    "BREEZE_SYSTEM_AUDIT_RETENTION_DAYS".to_owned(),
                    days.to_owned(),
                )]),
            ),
        )
    };
    assert_eq!(settings("120").unwrap().system_audit_retention_days, 120);
    let err = settings("30").unwrap_err().to_string();
    assert!(err.contains("BREEZE_SYSTEM_AUDIT_RETENTION_DAYS"), "{err}");
}
