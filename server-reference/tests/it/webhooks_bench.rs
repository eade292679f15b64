//! Webhook figures (ignored; `scripts/perf-webhooks` runs them on release builds):
//! deliveries per second to a loopback receiver, and the outbox's cost per audited write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "benchmark code"
)]

use std::time::{Duration, Instant};

use breeze_authz::seeded::SeededRole;
use breeze_core::audit::{Action, Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use breeze_core::tenancy::OrgId;
use breeze_server::store::audit;
use serde_json::json;
use uuid::Uuid;

use crate::common::agents::mfa_token;
use crate::common::procs::{env_usize, server_binary, server_process_with};
use crate::common::tls::test_pki;
use crate::common::webhooks::{Flavor, create_webhook, start_receiver};
use crate::common::{Fixtures, TestServer};

#[tokio::test]
#[ignore = "benchmark: scripts/perf-webhooks"]
async fn deliveries_per_second_to_a_loopback_receiver() {
    server_binary();
    let n = env_usize("BENCH_DELIVERIES", 2000);
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let token = mfa_token(&harness, &fx, &admin).await;
    let tmp = std::env::temp_dir().join(format!("breeze-whb-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let pki = test_pki(&tmp);
    let ca = pki.ca.display().to_string();
    let (server, base) = server_process_with(
        &harness.db,
        &tmp,
        "server",
        &[
            ("BREEZE_WEBHOOK_ALLOW_LOOPBACK", "1"),
            ("BREEZE_WEBHOOK_CA_FILE", &ca),
            ("BREEZE_WEBHOOK_POLL_MS", "50"),
        ],
    )
    .await;
    let receiver = start_receiver(Flavor::Node, &tmp, "node", &pki, None).await;
    let http = reqwest::Client::new();
    let (hook, secret) = create_webhook(
        &http,
        &base,
        &token,
        *org.as_uuid(),
        &format!("{}/bench", receiver.base),
        &["device.quarantined"],
    )
    .await;
    receiver.set_secrets(&[("bench", &secret)]);
    // queue n webhook.test deliveries at once (one statement), then time their delivery
    let body = json!({"type": "webhook.test", "timestamp": "2026-12-04T00:00:00Z",
                      "orgId": org, "data": {}})
    .to_string();
    let started = Instant::now();
    let mut tx = fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO webhook_deliveries (org_id, subscription_id, event_type, payload)
         SELECT $1, $2, 'webhook.test', $3 FROM generate_series(1, $4)",
    )
    .bind(*org.as_uuid())
    .bind(hook.parse::<Uuid>().unwrap())
    .bind(&body)
    .bind(i32::try_from(n).unwrap())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    loop {
        let got = receiver.lines().len();
        if got >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {got} of {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let verified = receiver
        .lines()
        .iter()
        .filter(|l| !l["verifiedWith"].as_array().unwrap().is_empty())
        .count();
    println!(
        "webhooks: {n} deliveries in {secs:.2} s = {:.0} deliveries/s (one replica, concurrency 16, HTTPS to the npm standardwebhooks receiver on loopback; {verified} verified)",
        n as f64 / secs
    );
    assert_eq!(verified, n);
    drop(server);
    drop(receiver);
    let _ = std::fs::remove_dir_all(&tmp);
}

async fn appends(server: &TestServer, org: OrgId, n: usize) -> Duration {
    let action = Action::new("device.quarantine").unwrap();
    let started = Instant::now();
    for _ in 0..n {
        let at = Timestamp::from_datetime_truncated(time::OffsetDateTime::now_utc()).unwrap();
        let event = AuditEvent::builder(
            Actor::System,
            action.clone(),
            AuditResult::Success,
            InitiatedBy::Manual,
            at,
        )
        .resource_type("device")
        .resource_id(Uuid::new_v4().to_string())
        .build()
        .unwrap();
        let mut tx = server
            .state
            .store
            .begin(&crate::common::audit::system_ctx())
            .await
            .unwrap();
        audit::append(&mut tx, Some(org), event).await.unwrap();
        tx.commit().await.unwrap();
    }
    started.elapsed()
}

/// `n` subscriptions of `org` to `event` (never sent: the workers are off).
async fn subscribe(fx: &Fixtures, org: OrgId, event: &str, n: usize) {
    let mut tx = fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO webhook_subscriptions (id, org_id, name, url, url_host, events, secret)
         SELECT gen_random_uuid(), $1, 'bench', 'unused', 'bench.example', ARRAY[$2], 'unused'
           FROM generate_series(1, $3)",
    )
    .bind(*org.as_uuid())
    .bind(event)
    .bind(i32::try_from(n).unwrap())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
#[ignore = "benchmark: scripts/perf-webhooks"]
async fn outbox_cost_per_audited_write() {
    let n = env_usize("BENCH_APPENDS", 2000);
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_WEBHOOK_WORKERS".into(), "0".into()));
    })
    .await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let cases: [(&str, &str, usize); 4] = [
        ("no subscription", "", 0),
        ("one subscription, event not matching", "device.enrolled", 1),
        ("one audit.appended subscription", "audit.appended", 1),
        ("five audit.appended subscriptions", "audit.appended", 5),
    ];
    // warm up the pool and the statement caches
    let warm = fx.org(partner).await;
    appends(&server, warm, 200).await;
    for round in 0..2 {
        for (name, events, subs) in cases {
            let org = fx.org(partner).await;
            subscribe(&fx, org, events, subs).await;
            let took = appends(&server, org, n).await;
            if round == 1 {
                println!(
                    "outbox: {name}: {:.1} us per audited write (append + commit, {n} sequential, one connection)",
                    took.as_secs_f64() * 1e6 / n as f64
                );
            }
        }
    }
}
