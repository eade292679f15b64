//! Stateful API testing generated from the OpenAPI document (issue 24): schemathesis (PyPI)
//! follows the document's links between operations (create, then read, update, act on,
//! delete) as three principals, then every request one tenant made on an id is replayed by
//! the other tenant's principal.
//!
//! - Principals: an organization technician of org A (bearer), an API key of org B (same
//!   partner) holding everything an Org Admin could give it, and a platform admin (bearer, last: it deletes what it finds).
//! - Checks on every answer: no 5xx, documented status, content type and schema; the
//!   cross-tenant runs also use schemathesis's own `object_level_authorization` check with
//!   the two tenants as peers (it replays one peer's reads of its objects as the other).
//! - The replay (ours): every request of A's and B's runs whose path names an id and that
//!   succeeded (2xx) is sent again, identical, with the OTHER tenant's credentials. None may
//!   succeed (2xx) or fail with a 5xx; the answers by status are printed. How many of the replayed reads were still live for
//!   their owner right after is printed, so a pass is not a pass on deleted ids.
//!
//! Bounded in CI (`--max-examples`); `scripts/api-stateful SECONDS` runs it long
//! (`BREEZE_STATEFUL_SECONDS`: schemathesis repeats stateful scenarios until each principal's
//! budget is spent, in rounds of at most 10 minutes with a fresh access token each).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};

use crate::common::schemathesis::{Exchange, command, exchanges, finish};
use crate::common::tenancy::{api_key_of, api_key_row, mfa_token};
use crate::common::{FixtureUser, Fixtures, TestServer};

/// Test cases per operation in the bounded (CI) run.
const CI_MAX_EXAMPLES: &str = "12";
/// The longest round: access tokens live 15 minutes.
const ROUND_SECS: u64 = 600;

/// The answer checks of every run.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,use_after_free";

/// How a principal authenticates (one header, as schemathesis sends it) and the tenant it
/// anchors its runs in: path parameters fixed to its own organization and device, so creates
/// under them succeed and the links have something to follow.
#[derive(Clone)]
struct Principal {
    name: &'static str,
    header: (&'static str, String),
    anchors: Vec<(&'static str, uuid::Uuid)>,
}

impl Principal {
    fn cli_header(&self) -> String {
        format!("{}: {}", self.header.0, self.header.1)
    }
}

/// The budget: a long run's seconds per principal, or the bounded run.
fn budget() -> Option<u64> {
    std::env::var("BREEZE_STATEFUL_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
}

fn schemathesis(
    server: &TestServer,
    principal: &Principal,
    round: u64,
    seconds: Option<u64>,
    dir: &Path,
) -> PathBuf {
    let har = dir.join(format!("{}-{round}.har", principal.name));
    let config = dir.join(format!("{}.toml", principal.name));
    let mut toml = String::from("[parameters]\n");
    for (name, id) in &principal.anchors {
        toml.push_str(&format!("\"path.{name}\" = \"{id}\"\n"));
    }
    std::fs::write(&config, toml).unwrap();
    let mut cmd = command(server, Some(&config), &har);
    cmd.args(["-H", &principal.cli_header()])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,fuzzing,stateful"])
        .args(["--seed", &(2400 + round).to_string()]);
    match seconds {
        Some(s) => cmd.args(["--max-time", &s.to_string()]),
        None => cmd.args(["--max-examples", CI_MAX_EXAMPLES]),
    };
    let h = finish(cmd, &format!("(stateful) as {}", principal.name), &har);
    println!(
        "stateful as {} (round {round}): {} requests, {} with a body; answers by status: {:?}",
        principal.name, h.requests, h.with_body, h.statuses
    );
    har
}

/// schemathesis's own object-level authorization check, with the two tenants as peers.
fn object_level_authorization(server: &TestServer, a: &Principal, b: &Principal, dir: &Path) {
    let entries: Vec<Value> = [a, b]
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "fixedHeaders": [{"name": p.header.0, "value": p.header.1}],
            })
        })
        .collect();
    let auth = json!({ "auth": entries });
    let auth_path = dir.join("peers.json");
    std::fs::write(&auth_path, auth.to_string()).unwrap();
    let config = dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.wfc]\npath = \"{}\"\npeers = [\"{}\", \"{}\"]\n",
            auth_path.display(),
            a.name,
            b.name
        ),
    )
    .unwrap();
    let har = dir.join("peers.har");
    let mut cmd = command(server, Some(&config), &har);
    cmd.args([
        "--checks",
        "object_level_authorization,not_a_server_error,status_code_conformance",
    ])
    .args(["--phases", "examples,fuzzing,stateful"])
    .args(["--max-examples", CI_MAX_EXAMPLES])
    .args(["--seed", "2424"]);
    let h = finish(
        cmd,
        &format!(
            "object_level_authorization (peers {} and {})",
            a.name, b.name
        ),
        &har,
    );
    println!(
        "object_level_authorization, peers {} and {}: {} requests; answers by status: {:?}",
        a.name, b.name, h.requests, h.statuses
    );
}

/// The ids in a request path (UUID segments).
fn path_ids(target: &str) -> Vec<uuid::Uuid> {
    let path = target.split('?').next().unwrap_or_default();
    path.split('/')
        .filter_map(|s| uuid::Uuid::parse_str(s).ok())
        .collect()
}

async fn send(server: &TestServer, who: &Principal, x: &Exchange) -> (u16, String) {
    let method = reqwest::Method::from_bytes(x.method.as_bytes()).unwrap();
    let mut req = server
        .http
        .request(method, server.url(&x.target))
        .header(who.header.0, &who.header.1);
    if let Some(body) = &x.body {
        req = req
            .header(
                "content-type",
                x.content_type.as_deref().unwrap_or("application/json"),
            )
            .body(body.clone());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

/// What the replay found.
#[derive(Default)]
struct Replay {
    sent: usize,
    by_status: BTreeMap<u16, usize>,
    distinct_ids: BTreeSet<uuid::Uuid>,
    live_reads: usize,
    successes: Vec<String>,
}

/// Replays every successful id-addressed request of `owner`'s runs as `other`.
async fn replay(
    server: &TestServer,
    owner: &Principal,
    other: &Principal,
    hars: &[PathBuf],
    other_ids: &BTreeSet<uuid::Uuid>,
) -> Replay {
    let mut out = Replay::default();
    let mut seen = BTreeSet::new();
    for har in hars {
        for x in exchanges(har) {
            if !(200..300).contains(&x.status) {
                continue;
            }
            let ids = path_ids(&x.target);
            // an id the other tenant owns too (none expected) would make a 2xx legitimate
            if ids.is_empty() || ids.iter().any(|id| other_ids.contains(id)) {
                continue;
            }
            if !seen.insert((x.method.clone(), x.target.clone(), x.body.clone())) {
                continue;
            }
            let (status, body) = send(server, other, &x).await;
            out.sent += 1;
            out.distinct_ids.extend(ids.iter().copied());
            *out.by_status.entry(status).or_insert(0) += 1;
            if (200..300).contains(&status) || status >= 500 {
                out.successes.push(format!(
                    "{} {} (owner {}: {}) as {}: {status} {body}",
                    x.method, x.target, owner.name, x.status, other.name
                ));
            }
            if x.method == "GET" {
                let (owner_status, _) = send(server, owner, &x).await;
                if (200..300).contains(&owner_status) {
                    out.live_reads += 1;
                }
            }
        }
    }
    out
}

/// Raises org `org`'s keys' hourly quota (SPEC 7; 1,000 by default) to the most a key may
/// have, as an operator would for an integration: a run tests the API, not the quota.
async fn unthrottled_keys(fx: &Fixtures, org: uuid::Uuid) {
    fx.exec(
        "UPDATE api_keys SET rate_limit_per_hour = 1000000 WHERE org_id = $1",
        &[org],
    )
    .await;
}

async fn fresh(
    server: &TestServer,
    fx: &Fixtures,
    name: &'static str,
    user: &FixtureUser,
    anchors: &[(&'static str, uuid::Uuid)],
) -> Principal {
    Principal {
        name,
        header: (
            "Authorization",
            format!("Bearer {}", mfa_token(server, fx, user).await),
        ),
        anchors: anchors.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_runs_find_no_5xx_and_no_cross_tenant_success() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org_a = fx.org(partner).await;
    let site_a = fx.site(org_a).await;
    let device_a = fx.device(org_a, site_a).await;
    let org_b = fx.org(partner).await;
    let site_b = fx.site(org_b).await;
    let device_b = fx.device(org_b, site_b).await;

    let tech_a = fx
        .org_user(partner, org_a, SeededRole::OrgTechnician, None)
        .await;
    let admin = fx.platform_admin().await;
    // the most an Org Admin of org B can give a key (creation caps scopes at the creator's)
    let org_admin_scopes = SeededRole::OrgAdmin.grant_strings();
    // decoys: the session and the key a run may revoke are not the ones it authenticates with
    let anchors_a = [
        ("orgId", *org_a.as_uuid()),
        ("deviceId", device_a),
        ("familyId", fx.open_family(tech_a.id).await),
    ];
    let anchors_b = [
        ("orgId", *org_b.as_uuid()),
        ("deviceId", device_b),
        (
            "apiKeyId",
            api_key_row(&fx, *org_b.as_uuid(), "decoy").await,
        ),
    ];
    let anchors_admin = [("familyId", fx.open_family(admin.id).await)];
    let key_b = Principal {
        name: "org-b-api-key",
        header: (
            "X-API-Key",
            api_key_of(&fx, *org_b.as_uuid(), org_admin_scopes).await,
        ),
        anchors: anchors_b.to_vec(),
    };
    unthrottled_keys(&fx, *org_b.as_uuid()).await;
    // ids each tenant owns from the start (their own org, site, ...): never "foreign"
    let ids_a: BTreeSet<uuid::Uuid> = [*org_a.as_uuid(), *site_a.as_uuid(), device_a].into();
    let ids_b: BTreeSet<uuid::Uuid> = [*org_b.as_uuid(), *site_b.as_uuid(), device_b].into();

    let dir = std::env::temp_dir().join(format!("breeze-stateful-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let rounds: Vec<Option<u64>> = match budget() {
        None => vec![None],
        Some(total) => {
            let mut left = total.max(1);
            let mut r = Vec::new();
            while left > 0 {
                let s = left.min(ROUND_SECS);
                r.push(Some(s));
                left -= s;
            }
            r
        }
    };

    let mut hars_a = Vec::new();
    let mut hars_b = Vec::new();
    for (round, seconds) in (0u64..).zip(rounds.iter()) {
        let a = fresh(&server, &fx, "org-a-technician", &tech_a, &anchors_a).await;
        let (srv, d) = (&server, &dir);
        hars_a.push(tokio::task::block_in_place(|| {
            schemathesis(srv, &a, round, *seconds, d)
        }));
        hars_b.push(tokio::task::block_in_place(|| {
            schemathesis(srv, &key_b, round, *seconds, d)
        }));
    }

    let a = fresh(&server, &fx, "org-a-technician", &tech_a, &anchors_a).await;
    let (srv, d) = (&server, &dir);
    tokio::task::block_in_place(|| object_level_authorization(srv, &a, &key_b, d));

    // a new key of org B for the replays, whatever the runs did to the first one
    let key_b = Principal {
        header: (
            "X-API-Key",
            api_key_of(&fx, *org_b.as_uuid(), org_admin_scopes).await,
        ),
        ..key_b
    };
    unthrottled_keys(&fx, *org_b.as_uuid()).await;
    let a_by_b = replay(&server, &a, &key_b, &hars_a, &ids_b).await;
    let b_by_a = replay(&server, &key_b, &a, &hars_b, &ids_a).await;
    for (label, r) in [
        ("A's requests as B", &a_by_b),
        ("B's requests as A", &b_by_a),
    ] {
        println!(
            "replay {label}: {} requests on {} distinct ids, {} reads still live for their owner; answers by status: {:?}; cross-tenant successes: {}",
            r.sent,
            r.distinct_ids.len(),
            r.live_reads,
            r.by_status,
            r.successes.len()
        );
    }
    let failures: Vec<&String> = a_by_b.successes.iter().chain(&b_by_a.successes).collect();
    assert!(
        failures.is_empty(),
        "cross-tenant replays that succeeded or failed with a 5xx:\n{}",
        failures
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // the replay must have had something to replay, and live objects among it
    assert!(a_by_b.sent >= 20 && b_by_a.sent >= 20, "too few replays");
    assert!(
        a_by_b.live_reads >= 5 && b_by_a.live_reads >= 5,
        "too few live objects replayed"
    );

    for (round, seconds) in (0u64..).zip(rounds.iter().copied()) {
        let admin_p = fresh(&server, &fx, "platform-admin", &admin, &anchors_admin).await;
        tokio::task::block_in_place(|| schemathesis(srv, &admin_p, round, seconds, d));
    }
    if std::env::var_os("BREEZE_KEEP_REPORTS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("reports kept in {}", dir.display());
    }
}
