//! Webhook subscriptions and the SSRF guard at save and at send time (SPEC 13, 9), in
//! process against PostgreSQL. Names resolve through a test hosts file the test rewrites
//! (`BREEZE_WEBHOOK_TEST_HOSTS_FILE`, test mode only), so a name can be public when saved
//! and private when sent. The delivery worker is run by hand (`worker::run_once`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines,
    reason = "test code"
)]

use std::path::PathBuf;

use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::OrgId;
use breeze_server::webhooks::worker;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::agents::mfa_token;
use crate::common::{Fixtures, TestServer};

struct Env {
    server: TestServer,
    fx: Fixtures,
    org: OrgId,
    token: String,
    hosts: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.hosts);
    }
}

fn set_hosts(path: &PathBuf, map: &Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, map.to_string()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn env() -> Env {
    let hosts = std::env::temp_dir().join(format!("breeze-hosts-{}.json", Uuid::new_v4().simple()));
    set_hosts(&hosts, &json!({}));
    let path = hosts.display().to_string();
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_WEBHOOK_TEST_HOSTS_FILE".into(), path));
        s.push(("BREEZE_WEBHOOK_RETRY_BASE_MS".into(), "1".into()));
        s.push(("BREEZE_WEBHOOK_TIMEOUT_SECS".into(), "2".into()));
        s.push(("BREEZE_DEVICE_OFFLINE_SECS".into(), "60".into()));
    })
    .await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let token = mfa_token(&server, &fx, &admin).await;
    Env {
        server,
        fx,
        org,
        token,
        hosts,
    }
}

impl Env {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .server
            .http
            .request(method, self.server.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, url: &str, events: &[&str]) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(json!({"orgId": self.org, "name": "t", "url": url, "events": events})),
        )
        .await
    }

    /// `sql` counts with `$1` = this organization.
    async fn count(&self, sql: &str) -> i64 {
        crate::common::auth::scalar(&self.fx, sql, *self.org.as_uuid()).await
    }
}

fn issue_code(body: &Value) -> String {
    body["issues"][0]["message"]
        .as_str()
        .or_else(|| body["details"][0]["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn targets_in_refused_ranges_are_refused_when_saved_and_audited() {
    let e = env().await;
    set_hosts(
        &e.hosts,
        &json!({
            "internal.test": ["10.1.2.3"],
            "metadata.test": ["169.254.169.254"],
            "mixed.test": ["93.184.216.34", "192.168.0.1"],
        }),
    );
    let refused = [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/",
        "https://172.16.0.1/",
        "https://192.168.1.10/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[fd00::1]/",
        "https://0.0.0.0/",
        "https://2130706433/",
        "https://internal.test/",
        "https://metadata.test/",
        "https://mixed.test/",
    ];
    for url in refused {
        let (status, body) = e.create(url, &["device.quarantined"]).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(issue_code(&body), "address_refused", "{url}: {body}");
    }
    for (url, code) in [
        ("http://93.184.216.34/", "scheme_not_allowed"),
        ("https://user:pw@93.184.216.34/", "credentials_in_url"),
        ("https://unknown.test/", "resolve_failed"),
    ] {
        let (status, body) = e.create(url, &["device.quarantined"]).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(issue_code(&body), code, "{url}: {body}");
    }
    assert_eq!(
        e.count("SELECT count(*) FROM webhook_subscriptions WHERE org_id = $1")
            .await,
        0
    );
    let denied = e
        .count(
            "SELECT count(*) FROM audit_log WHERE org_id = $1
               AND action = 'webhook.created' AND result = 'denied'",
        )
        .await;
    assert_eq!(denied, i64::try_from(refused.len()).unwrap() + 3);
}

#[tokio::test]
async fn a_name_that_turns_private_after_saving_is_refused_at_send_and_audited() {
    let e = env().await;
    set_hosts(&e.hosts, &json!({"rebind.test": ["93.184.216.34"]}));
    let (status, created) = e
        .create("https://rebind.test/in", &["device.quarantined"])
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    // now the name resolves to a private address
    set_hosts(&e.hosts, &json!({"rebind.test": ["10.0.0.7"]}));
    let (status, _) = e
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(worker::run_once(&e.server.state).await.unwrap(), 1);
    let (_, log) = e
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    let attempt = &log["items"][0]["attemptLog"][0];
    // refused by the guard before any connection: no status code, the refusal's own code
    assert_eq!(attempt["error"], "address_refused", "{log}");
    assert!(attempt["statusCode"].is_null());
    assert_eq!(log["items"][0]["status"], "pending", "retried later: {log}");
    assert_eq!(
        e.count(
            "SELECT count(*) FROM audit_log WHERE org_id = $1
               AND action = 'webhook.delivery.refused' AND result = 'denied'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn twenty_consecutive_failures_disable_a_subscription_once_and_audit_it() {
    let e = env().await;
    set_hosts(&e.hosts, &json!({"flaky.test": ["93.184.216.34"]}));
    let (_, created) = e
        .create("https://flaky.test/in", &["device.quarantined"])
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    set_hosts(&e.hosts, &json!({"flaky.test": ["10.9.9.9"]}));
    for _ in 0..4 {
        let (s, _) = e
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/webhooks/{id}/test"),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, 202);
    }
    for _ in 0..400 {
        worker::run_once(&e.server.state).await.unwrap();
        let (_, sub) = e
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/webhooks/{id}"),
                None,
            )
            .await;
        if sub["status"] == "disabled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let (_, sub) = e
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(sub["status"], "disabled", "{sub}");
    assert_eq!(sub["disabledReason"], "consecutive_failures");
    assert_eq!(sub["consecutiveFailures"], 20);
    // nothing more is attempted for a disabled subscription
    for _ in 0..20 {
        worker::run_once(&e.server.state).await.unwrap();
    }
    let attempts = e
        .count("SELECT count(*) FROM webhook_delivery_attempts WHERE org_id = $1")
        .await;
    assert_eq!(attempts, 20);
    assert_eq!(
        e.count("SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'webhook.disabled'")
            .await,
        1
    );
    // a test event to a disabled subscription is refused; re-enabling resets the count
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 409);
    let (s, sub) = e
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(s, 200, "{sub}");
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["consecutiveFailures"], 0);
}

#[tokio::test]
async fn events_are_written_to_the_outbox_in_the_transaction_of_the_change() {
    let e = env().await;
    set_hosts(&e.hosts, &json!({"hooks.example.com": ["93.184.216.34"]}));
    let (_, q) = e
        .create("https://hooks.example.com/q", &["device.quarantined"])
        .await;
    let (_, all) = e
        .create("https://hooks.example.com/all", &["audit.appended"])
        .await;
    let site = e.fx.site(e.org).await;
    let device = e.fx.device(e.org, site).await;
    let before = e
        .count("SELECT count(*) FROM webhook_deliveries WHERE org_id = $1")
        .await;
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{device}/quarantine"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200);
    let mut tx = e.fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT subscription_id, event_type, payload FROM webhook_deliveries
          WHERE org_id = $1 ORDER BY created_at DESC, event_type LIMIT 2",
    )
    .bind(*e.org.as_uuid())
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    let after = e
        .count("SELECT count(*) FROM webhook_deliveries WHERE org_id = $1")
        .await;
    assert_eq!(after - before, 2, "one per matching subscription");
    let quarantined = rows.iter().find(|r| r.1 == "device.quarantined").unwrap();
    assert_eq!(quarantined.0.to_string(), q["id"].as_str().unwrap());
    let payload: Value = serde_json::from_str(&quarantined.2).unwrap();
    assert_eq!(payload["data"], json!({"deviceId": device.to_string()}));
    assert_eq!(payload["orgId"], e.org.to_string());
    let appended = rows.iter().find(|r| r.1 == "audit.appended").unwrap();
    assert_eq!(appended.0.to_string(), all["id"].as_str().unwrap());
    let payload: Value = serde_json::from_str(&appended.2).unwrap();
    assert_eq!(
        payload["data"]["entry"]["event"]["action"],
        "device.quarantine"
    );

    // a change that fails writes no event
    let missing = Uuid::new_v4();
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{missing}/quarantine"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        e.count("SELECT count(*) FROM webhook_deliveries WHERE org_id = $1")
            .await,
        after
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_typed_errors_and_changes_nothing() {
    let e = env().await;
    set_hosts(
        &e.hosts,
        &json!({"hooks.example.com": ["93.184.216.34"], "other.example.org": ["93.184.216.35"]}),
    );
    for (events, code) in [
        (json!(["device.exploded"]), "unknown_event"),
        (json!(["webhook.test"]), "event_not_subscribable"),
    ] {
        let (s, body) = e
            .call(
                reqwest::Method::POST,
                "/api/v1/webhooks",
                Some(json!({"orgId": e.org, "name": "x", "url": "https://hooks.example.com/", "events": events})),
            )
            .await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(issue_code(&body), code, "{body}");
    }
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(json!({"orgId": e.org, "name": "x", "url": "https://hooks.example.com/", "events": []})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(json!({"orgId": e.org, "name": "x\u{1b}[31m", "url": "https://hooks.example.com/", "events": ["device.quarantined"]})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(json!({"orgId": e.org, "name": "x", "url": "https://hooks.example.com/", "events": ["device.quarantined"], "secret": "whsec_mine"})),
        )
        .await;
    assert_eq!(s, 400, "unknown fields (a chosen secret) are refused");

    // the host allow-list
    let (s, body) = e
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{}/webhook-settings", e.org),
            Some(json!({"allowedHosts": ["https://bad entry"]})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = e
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{}/webhook-settings", e.org),
            Some(json!({"allowedHosts": ["HOOKS.example.com"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["allowedHosts"], json!(["hooks.example.com"]));
    let (s, body) = e
        .create("https://other.example.org/", &["device.quarantined"])
        .await;
    assert_eq!(s, 400);
    assert_eq!(issue_code(&body), "host_not_allowed");
    let (s, created) = e
        .create("https://hooks.example.com/ok", &["device.quarantined"])
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(
        e.count("SELECT count(*) FROM webhook_subscriptions WHERE org_id = $1")
            .await,
        1
    );
    let id = created["id"].as_str().unwrap();
    // roll overlap bounds, redelivery of an unknown delivery
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/webhooks/{id}/secret/roll"),
            Some(json!({"overlapSeconds": 9_999_999})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = e
        .call(
            reqwest::Method::POST,
            &format!(
                "/api/v1/webhooks/{id}/deliveries/{}/redeliver",
                Uuid::new_v4()
            ),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = e
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries?status=lost"),
            None,
        )
        .await;
    assert_eq!(s, 400);
    // delete; then it is gone
    let (s, _) = e
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = e
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_silent_device_goes_offline_once_audited_with_its_webhook() {
    let e = env().await;
    set_hosts(&e.hosts, &json!({"hooks.example.com": ["93.184.216.34"]}));
    let (_, sub) = e
        .create("https://hooks.example.com/off", &["device.offline"])
        .await;
    let site = e.fx.site(e.org).await;
    let silent = e.fx.device(e.org, site).await;
    let alive = e.fx.device(e.org, site).await;
    e.fx.exec(
        "UPDATE devices SET status = 'online', last_seen_at = now() - interval '10 minutes' WHERE id = $1",
        &[silent],
    )
    .await;
    e.fx.exec(
        "UPDATE devices SET status = 'online', last_seen_at = now() WHERE id = $1",
        &[alive],
    )
    .await;
    let flipped = breeze_server::agents::offline::sweep_once(&e.server.state)
        .await
        .unwrap();
    assert_eq!(flipped, 1);
    assert_eq!(
        breeze_server::agents::offline::sweep_once(&e.server.state)
            .await
            .unwrap(),
        0,
        "a device flips once"
    );
    let mut tx = e.fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_type, payload FROM webhook_deliveries WHERE subscription_id = $1::text::uuid",
    )
    .bind(sub["id"].as_str().unwrap())
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let statuses: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, status FROM devices WHERE id = ANY ($1)")
            .bind(vec![silent, alive])
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    drop(tx);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let payload: Value = serde_json::from_str(&rows[0].1).unwrap();
    assert_eq!(payload["type"], "device.offline");
    assert_eq!(payload["data"]["deviceId"], silent.to_string());
    assert!(payload["data"]["lastSeenAt"].is_number(), "{payload}");
    for (id, status) in statuses {
        assert_eq!(status, if id == silent { "offline" } else { "online" });
    }
}
