//! Outbound webhooks end to end (SPEC 13), with real processes over loopback: two
//! `breeze-server` replicas on one database deliver to HTTPS receivers (a test CA) that
//! verify every delivery with the independent `standardwebhooks` packages from PyPI and
//! npm, never with Breeze's verifier. Covered: signatures through a secret roll (both
//! secrets verify during the overlap, only the new one after), tenant separation, the
//! `webhook.test` event, redelivery with the same `webhook-id`, audit streaming rebuilt and
//! verified by the Python binding (a dropped delivery is a gap), a redirect refused and
//! audited, and durability: `kill -9` with 1,000 events queued, then two replicas with no
//! duplicates.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines,
    reason = "test code"
)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgId, PartnerId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::agents::mfa_token;
use crate::common::auth::scalar;
use crate::common::procs::{Proc, poll, server_binary, server_process_with};
use crate::common::tls::{TestPki, test_pki};
use crate::common::webhooks::{Flavor, create_webhook, receivers_dir, start_receiver, test_python};
use crate::common::{Fixtures, TestServer};

/// Two replicas, two organizations with an MFA-passed Org Admin each, a test CA.
struct Rig {
    harness: TestServer,
    fx: Fixtures,
    partner: PartnerId,
    org_a: OrgId,
    org_b: OrgId,
    token_a: String,
    token_b: String,
    tmp: PathBuf,
    pki: TestPki,
    env: Vec<(String, String)>,
    server_a: Option<Proc>,
    base_a: String,
    server_b: Option<Proc>,
    base_b: String,
    http: reqwest::Client,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.server_a.take();
        self.server_b.take();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

async fn rig(extra: &[(&str, &str)]) -> Rig {
    server_binary();
    test_python();
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org_a = fx.org(partner).await;
    let org_b = fx.org(partner).await;
    let admin_a = fx
        .org_user(partner, org_a, SeededRole::OrgAdmin, None)
        .await;
    let admin_b = fx
        .org_user(partner, org_b, SeededRole::OrgAdmin, None)
        .await;
    let token_a = mfa_token(&harness, &fx, &admin_a).await;
    let token_b = mfa_token(&harness, &fx, &admin_b).await;
    let tmp = std::env::temp_dir().join(format!("breeze-wh-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let pki = test_pki(&tmp);
    let mut env: Vec<(String, String)> = vec![
        ("BREEZE_WEBHOOK_ALLOW_LOOPBACK".into(), "1".into()),
        (
            "BREEZE_WEBHOOK_CA_FILE".into(),
            pki.ca.display().to_string(),
        ),
        ("BREEZE_WEBHOOK_RETRY_BASE_MS".into(), "300".into()),
        ("BREEZE_WEBHOOK_POLL_MS".into(), "100".into()),
        ("BREEZE_WEBHOOK_TIMEOUT_SECS".into(), "3".into()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let pairs = pairs_of(&env);
    let (server_a, base_a) = server_process_with(&harness.db, &tmp, "server-a", &pairs).await;
    let (server_b, base_b) = server_process_with(&harness.db, &tmp, "server-b", &pairs).await;
    Rig {
        harness,
        fx,
        partner,
        org_a,
        org_b,
        token_a,
        token_b,
        tmp,
        pki,
        env,
        server_a: Some(server_a),
        base_a,
        server_b: Some(server_b),
        base_b,
        http: reqwest::Client::new(),
    }
}

fn pairs_of(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

impl Rig {
    async fn restart_a(&mut self, name: &str) {
        let pairs = pairs_of(&self.env);
        let (p, base) = server_process_with(&self.harness.db, &self.tmp, name, &pairs).await;
        self.server_a = Some(p);
        self.base_a = base;
    }

    async fn post(&self, base: &str, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, base: &str, token: &str, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn deliveries(&self, token: &str, webhook: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/webhooks/{webhook}/deliveries?limit=100");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&self.base_a, token, &path).await;
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }
}

fn lines_at<'a>(lines: &'a [Value], path: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["path"] == path).collect()
}

fn of_type<'a>(lines: &[&'a Value], t: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .copied()
        .filter(|l| l["body"]["type"] == t)
        .collect()
}

/// The ids of `event_type` deliveries at `path` that verified with exactly `name`.
fn verified_ids(lines: &[Value], path: &str, event_type: &str, name: &str) -> HashSet<String> {
    of_type(&lines_at(lines, path), event_type)
        .into_iter()
        .filter(|l| verified(l) == [name])
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether every delivery id seen at `path` has a line that verified.
fn all_ids_verified(lines: &[Value], path: &str) -> bool {
    let at = lines_at(lines, path);
    at.iter().all(|l| {
        at.iter()
            .any(|m| m["id"] == l["id"] && !verified(m).is_empty())
    })
}

fn verified(line: &Value) -> Vec<String> {
    let mut v: Vec<String> = line["verifiedWith"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// Runs the Python audit-stream check over the `audit.appended` deliveries at `path`.
fn stream_check(log: &Path, path: &str, chain: OrgId, drop_one: bool) -> Value {
    let mut cmd = std::process::Command::new(test_python());
    cmd.arg(receivers_dir().join("audit_stream_check.py"))
        .arg("--log")
        .arg(log)
        .arg("--path")
        .arg(path)
        .arg("--chain")
        .arg(chain.to_string());
    if drop_one {
        cmd.arg("--drop-one");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "audit_stream_check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn deliveries_verify_with_standardwebhooks_from_pypi_and_npm_through_a_secret_roll() {
    let rig = rig(&[]).await;
    let py = start_receiver(Flavor::Python, &rig.tmp, "py", &rig.pki, None).await;
    let node = start_receiver(Flavor::Node, &rig.tmp, "node", &rig.pki, None).await;
    let (a, b) = (*rig.org_a.as_uuid(), *rig.org_b.as_uuid());

    let (a1, s1) = create_webhook(
        &rig.http,
        &rig.base_a,
        &rig.token_a,
        a,
        &format!("{}/a1", py.base),
        &["device.quarantined", "audit.appended"],
    )
    .await;
    let (a2, s_a2) = create_webhook(
        &rig.http,
        &rig.base_b,
        &rig.token_a,
        a,
        &format!("{}/a2", node.base),
        &["device.quarantined"],
    )
    .await;
    let (_b1, s_b1) = create_webhook(
        &rig.http,
        &rig.base_b,
        &rig.token_b,
        b,
        &format!("{}/b1?token=receiver-side-secret", py.base),
        &["device.quarantined", "audit.appended"],
    )
    .await;
    py.set_secrets(&[("a1", &s1), ("b1", &s_b1)]);
    node.set_secrets(&[("a2", &s_a2)]);

    // the secret is shown once: never in a read
    let read = rig
        .get(&rig.base_a, &rig.token_a, &format!("/api/v1/webhooks/{a1}"))
        .await;
    assert!(read.get("secret").is_none());
    assert!(!read.to_string().contains(&s1));
    // a query string (a receiver's token) is not shown back
    let listed = rig
        .get(
            &rig.base_a,
            &rig.token_b,
            &format!("/api/v1/webhooks?orgId={b}"),
        )
        .await;
    assert!(
        !listed.to_string().contains("receiver-side-secret"),
        "{listed}"
    );

    // events in both organizations, through both replicas
    let site_a = rig.fx.site(rig.org_a).await;
    let site_b = rig.fx.site(rig.org_b).await;
    let dev_a = rig.fx.device(rig.org_a, site_a).await;
    let dev_b = rig.fx.device(rig.org_b, site_b).await;
    let (s, _) = rig
        .post(
            &rig.base_a,
            &rig.token_a,
            &format!("/api/v1/devices/{dev_a}/quarantine"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = rig
        .post(
            &rig.base_b,
            &rig.token_b,
            &format!("/api/v1/devices/{dev_b}/quarantine"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, test_delivery) = rig
        .post(
            &rig.base_b,
            &rig.token_a,
            &format!("/api/v1/webhooks/{a1}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 202, "{test_delivery}");

    // a subscription's first deliveries (its own `webhook.created` entry) can arrive before
    // the receiver knows its secret: refused with 400, they are retried and verify later
    let b1 = "/b1?token=receiver-side-secret";
    poll("deliveries at every receiver, each verified", || async {
        let p = py.lines();
        let n = node.lines();
        verified_ids(&p, "/a1", "device.quarantined", "a1").len() == 1
            && verified_ids(&p, "/a1", "webhook.test", "a1").len() == 1
            && verified_ids(&p, b1, "device.quarantined", "b1").len() == 1
            && verified_ids(&n, "/a2", "device.quarantined", "a2").len() == 1
            && all_ids_verified(&p, "/a1")
            && all_ids_verified(&p, b1)
            && all_ids_verified(&n, "/a2")
    })
    .await;
    let p = py.lines();
    let n = node.lines();
    for (lines, path, name, org) in [
        (&p, "/a1", "a1", a),
        (&p, b1, "b1", b),
        (&n, "/a2", "a2", a),
    ] {
        for line in lines_at(lines, path) {
            // never another subscription's secret, never another organization's event
            let with = verified(line);
            assert!(with.is_empty() || with == [name], "{line}");
            assert_eq!(line["body"]["orgId"], org.to_string(), "{line}");
        }
    }
    assert!(lines_at(&n, "/a2").iter().all(|l| l["receiver"] == "node"));
    // the payload holds only the documented fields
    let q = of_type(&lines_at(&p, "/a1"), "device.quarantined")[0];
    assert_eq!(
        q["body"]["data"],
        json!({"deviceId": dev_a.to_string()}),
        "{q}"
    );
    let t = of_type(&lines_at(&p, "/a1"), "webhook.test")[0];
    assert_eq!(t["body"]["data"], json!({}), "{t}");
    assert_eq!(t["id"], test_delivery["webhookId"]);

    // roll with an overlap: every delivery carries both signatures, each verifies alone
    let (s, rolled) = rig
        .post(
            &rig.base_a,
            &rig.token_a,
            &format!("/api/v1/webhooks/{a1}/secret/roll"),
            &json!({"overlapSeconds": 3600}),
        )
        .await;
    assert_eq!(s, 200, "{rolled}");
    let s2 = rolled["secret"].as_str().unwrap().to_owned();
    assert_ne!(s2, s1);
    py.set_secrets(&[("a1-old", &s1), ("a1-new", &s2), ("b1", &s_b1)]);
    let line = test_and_receive(&rig, &py, &a1).await;
    assert_eq!(verified(&line), ["a1-new", "a1-old"], "{line}");
    assert_eq!(line["signature"].as_str().unwrap().split(' ').count(), 2);

    // roll without overlap: only the newest secret signs
    let (_, rolled) = rig
        .post(
            &rig.base_a,
            &rig.token_a,
            &format!("/api/v1/webhooks/{a1}/secret/roll"),
            &json!({"overlapSeconds": 0}),
        )
        .await;
    let s3 = rolled["secret"].as_str().unwrap().to_owned();
    py.set_secrets(&[("a1-old", &s2), ("a1-new", &s3), ("b1", &s_b1)]);
    let line = test_and_receive(&rig, &py, &a1).await;
    assert_eq!(verified(&line), ["a1-new"], "{line}");

    // redelivery: the same webhook-id again
    let first_test = test_delivery["id"].as_str().unwrap();
    let (s, again) = rig
        .post(
            &rig.base_b,
            &rig.token_a,
            &format!("/api/v1/webhooks/{a1}/deliveries/{first_test}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 202, "{again}");
    let test_id = test_delivery["webhookId"].as_str().unwrap().to_owned();
    poll("the redelivery", || async {
        py.lines().iter().filter(|l| l["id"] == test_id).count() == 2
    })
    .await;

    // another organization's admin cannot see, test or redeliver it
    let (s, _) = rig
        .post(
            &rig.base_a,
            &rig.token_b,
            &format!("/api/v1/webhooks/{a1}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 404);

    // audit streaming: org A's chain rebuilt from the deliveries verifies with the Python
    // binding, up to the head; dropping one delivery is detected as a gap
    let head: i64 = scalar(
        &rig.fx,
        "SELECT max(seq) FROM audit_log WHERE org_id = $1",
        a,
    )
    .await;
    poll("audit.appended up to the head", || async {
        let v = stream_check(&py.log, "/a1", rig.org_a, false);
        v["ok"] == true && v["last_sequence"].as_i64() == Some(head)
    })
    .await;
    let verdict = stream_check(&py.log, "/a1", rig.org_a, false);
    assert!(verdict["entries"].as_u64().unwrap() >= 5, "{verdict}");
    let broken = stream_check(&py.log, "/a1", rig.org_a, true);
    assert_eq!(broken["ok"], false, "{broken}");
    assert!(
        ["entry_removed", "sequence_gap"].contains(&broken["break"]["kind"].as_str().unwrap()),
        "{broken}"
    );
    // no entry of org B's chain in org A's stream
    for line in of_type(&lines_at(&py.lines(), "/a1"), "audit.appended") {
        assert_eq!(line["body"]["data"]["chain"], a.to_string());
    }
    let _ = (a2, &rig.partner);
}

#[tokio::test]
async fn a_redirect_is_refused_audited_and_never_followed() {
    let rig = rig(&[]).await;
    let bystander = start_receiver(Flavor::Node, &rig.tmp, "bystander", &rig.pki, None).await;
    let stolen = format!("{}/stolen", bystander.base);
    let redirector = start_receiver(
        Flavor::Python,
        &rig.tmp,
        "redirector",
        &rig.pki,
        Some(&stolen),
    )
    .await;
    let a = *rig.org_a.as_uuid();
    let (id, _) = create_webhook(
        &rig.http,
        &rig.base_a,
        &rig.token_a,
        a,
        &format!("{}/in", redirector.base),
        &["device.quarantined"],
    )
    .await;
    let (s, d) = rig
        .post(
            &rig.base_a,
            &rig.token_a,
            &format!("/api/v1/webhooks/{id}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 202);
    let delivery = d["id"].as_str().unwrap().to_owned();
    poll("the refused attempt", || async {
        rig.deliveries(&rig.token_a, &id).await.iter().any(|x| {
            x["id"] == delivery
                && x["attempts"].as_i64() >= Some(1)
                && x["lastError"] == "redirect_refused"
        })
    })
    .await;
    let log = rig.deliveries(&rig.token_a, &id).await;
    let first = &log.iter().find(|x| x["id"] == delivery).unwrap()["attemptLog"][0];
    // the guard's redirect policy refused to follow: the attempt failed without an answer
    assert_eq!(first["error"], "redirect_refused", "{first}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        bystander.lines().is_empty(),
        "the redirect target was contacted"
    );
    assert!(!redirector.lines().is_empty());
    let refused: i64 = scalar(
        &rig.fx,
        "SELECT count(*) FROM audit_log
          WHERE action = 'webhook.delivery.refused' AND resource_id = $1::text",
        id.parse().unwrap(),
    )
    .await;
    assert_eq!(refused, 1);
}

#[tokio::test]
async fn kill_9_with_1000_queued_loses_nothing_and_two_replicas_send_no_duplicates() {
    // two deliveries at a time per replica, so that most of the 1,000 are still queued
    // when replica A is killed
    let mut rig = rig(&[("BREEZE_WEBHOOK_CONCURRENCY", "2")]).await;
    let py = start_receiver(Flavor::Python, &rig.tmp, "py", &rig.pki, None).await;
    let a = *rig.org_a.as_uuid();
    let b = *rig.org_b.as_uuid();
    let (hook_a, secret_a) = create_webhook(
        &rig.http,
        &rig.base_a,
        &rig.token_a,
        a,
        &format!("{}/a", py.base),
        &["device.quarantined"],
    )
    .await;
    let (hook_b, secret_b) = create_webhook(
        &rig.http,
        &rig.base_a,
        &rig.token_b,
        b,
        &format!("{}/b", py.base),
        &["device.quarantined"],
    )
    .await;
    py.set_secrets(&[("a", &secret_a), ("b", &secret_b)]);

    // phase 1: replica B serves the API only (no workers); 1,000 events of org A are queued
    // through it while replica A delivers them, and A is killed -9 mid-way
    let mut api_only = pairs_of(&rig.env);
    api_only.push(("BREEZE_WEBHOOK_WORKERS", "0"));
    rig.server_b.take();
    let (pb, base_b) =
        server_process_with(&rig.harness.db, &rig.tmp, "server-b-api", &api_only).await;
    rig.server_b = Some(pb);
    rig.base_b = base_b.clone();
    let mut victim = rig.server_a.take().unwrap();
    let kill = async {
        poll("some deliveries before the kill", || async {
            lines_at(&py.lines(), "/a").len() >= 100
        })
        .await;
        victim.child.kill().unwrap(); // SIGKILL
        let _ = victim.child.wait();
    };
    tokio::join!(
        kill,
        queue_tests(&rig, &base_b, &rig.token_a, &hook_a, 1000),
        queue_tests(&rig, &base_b, &rig.token_b, &hook_b, 50),
    );
    drop(victim);
    let before_restart = lines_at(&py.lines(), "/a").len();
    assert!(
        before_restart < 1000,
        "everything was delivered before the kill: nothing was queued"
    );
    rig.restart_a("server-a2").await;
    let started = Instant::now();
    poll("every queued event delivered after the restart", || async {
        let ids: HashSet<String> = lines_at(&py.lines(), "/a")
            .iter()
            .filter(|l| !verified(l).is_empty())
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        ids.len() >= 1000
    })
    .await;
    let lines = py.lines();
    let expected = msg_ids(&rig.fx, &hook_a).await;
    assert_eq!(expected.len(), 1000);
    let got: HashMap<String, usize> = count_ids(&lines_at(&lines, "/a"));
    for id in &expected {
        assert!(got.contains_key(id), "{id} never delivered");
    }
    assert!(
        got.keys().all(|k| expected.contains(k)),
        "an id not of this subscription"
    );
    for line in lines_at(&lines, "/a") {
        assert_eq!(line["body"]["orgId"], a.to_string());
    }
    for line in lines_at(&lines, "/b") {
        assert_eq!(line["body"]["orgId"], b.to_string());
    }
    let dup1: usize = got.values().map(|n| n - 1).sum();
    eprintln!(
        "kill -9: {before_restart} requests before the kill, all 1000 delivered {:.1} s after the restart, {dup1} delivered twice (in flight at the kill or after a failed attempt)",
        started.elapsed().as_secs_f64()
    );

    // phase 2: both replicas deliver 1,000 more with a healthy receiver: no duplicates
    rig.server_b.take();
    let pairs = pairs_of(&rig.env);
    let (pb, base_b) = server_process_with(&rig.harness.db, &rig.tmp, "server-b2", &pairs).await;
    rig.server_b = Some(pb);
    rig.base_b = base_b;
    let (hook_c, secret_c) = create_webhook(
        &rig.http,
        &rig.base_a,
        &rig.token_a,
        a,
        &format!("{}/c", py.base),
        &["device.quarantined"],
    )
    .await;
    py.set_secrets(&[("a", &secret_a), ("b", &secret_b), ("c", &secret_c)]);
    let started = Instant::now();
    let base_a = rig.base_a.clone();
    let base_b = rig.base_b.clone();
    let (r1, r2) = tokio::join!(
        queue_tests(&rig, &base_a, &rig.token_a, &hook_c, 500),
        queue_tests(&rig, &base_b, &rig.token_a, &hook_c, 500)
    );
    let _ = (r1, r2);
    poll("1000 deliveries through two replicas", || async {
        lines_at(&py.lines(), "/c").len() >= 1000
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let lines = py.lines();
    let got = count_ids(&lines_at(&lines, "/c"));
    let failed_attempts: i64 = scalar(
        &rig.fx,
        "SELECT count(*) FROM webhook_delivery_attempts t
           JOIN webhook_deliveries d ON d.id = t.delivery_id
          WHERE d.subscription_id = $1 AND t.error IS NOT NULL",
        hook_c.parse().unwrap(),
    )
    .await;
    let dup2: usize = got.values().map(|n| n - 1).sum();
    let replicas: i64 = scalar(
        &rig.fx,
        "SELECT count(DISTINCT t.replica) FROM webhook_delivery_attempts t
           JOIN webhook_deliveries d ON d.id = t.delivery_id
          WHERE d.subscription_id = $1",
        hook_c.parse().unwrap(),
    )
    .await;
    eprintln!(
        "two replicas: 1000 queued and delivered in {secs:.1} s ({:.0}/s end to end, debug build unless BREEZE_E2E_RELEASE=1), {dup2} duplicates, {failed_attempts} failed attempts, {replicas} replicas sent",
        1000.0 / secs
    );
    assert_eq!(got.len(), 1000);
    assert!(
        i64::try_from(dup2).unwrap() <= failed_attempts,
        "{dup2} duplicates beyond {failed_attempts} failed attempts"
    );
    assert_eq!(replicas, 2, "both replicas should have delivered");
}

/// Sends a `webhook.test` to `hook` and returns the receiver's line of it.
async fn test_and_receive(
    rig: &Rig,
    receiver: &crate::common::webhooks::Receiver,
    hook: &str,
) -> Value {
    let (s, sent) = rig
        .post(
            &rig.base_a,
            &rig.token_a,
            &format!("/api/v1/webhooks/{hook}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 202, "{sent}");
    let id = sent["webhookId"].as_str().unwrap().to_owned();
    poll("the test delivery", || async {
        receiver.lines().iter().any(|l| l["id"] == id)
    })
    .await;
    receiver
        .lines()
        .into_iter()
        .find(|l| l["id"] == id)
        .unwrap()
}

fn count_ids(lines: &[&Value]) -> HashMap<String, usize> {
    let mut got: HashMap<String, usize> = HashMap::new();
    for l in lines {
        if let Some(id) = l["id"].as_str() {
            *got.entry(id.to_owned()).or_default() += 1;
        }
    }
    got
}

async fn msg_ids(fx: &Fixtures, hook: &str) -> HashSet<String> {
    let mut tx = fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT msg_id FROM webhook_deliveries WHERE subscription_id = $1::uuid",
    )
    .bind(hook)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    ids.into_iter().collect()
}

/// Queues `n` `webhook.test` deliveries through `base`, 8 requests at a time.
async fn queue_tests(rig: &Rig, base: &str, token: &str, hook: &str, n: usize) {
    use futures::StreamExt as _;
    futures::stream::iter(0..n)
        .for_each_concurrent(8, |_| async move {
            let (s, body) = rig
                .post(
                    base,
                    token,
                    &format!("/api/v1/webhooks/{hook}/test"),
                    &json!({}),
                )
                .await;
            assert_eq!(s, 202, "{body}");
        })
        .await;
}
