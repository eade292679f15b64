//! The audit API over real HTTP: filters, pagination, organization isolation, verification,
//! and export (which needs `audit:export`, is audited, and verifies offline).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::collections::HashSet;

use crate::common::TestServer;
use crate::common::audit::{
    custom_role, custom_role_of_scope, days_ago, event, keys, org_user_with_role, system_ctx,
};
use breeze_core::audit::{AuditResult, BundleOptions, verify_bundle_bytes};
use breeze_core::tenancy::OrgId;
use breeze_server::store::PgStore;
use breeze_server::store::audit as store_audit;
use serde_json::Value;

async fn add(
    store: &PgStore,
    org: OrgId,
    action: &str,
    rtype: &str,
    rid: &str,
    result: AuditResult,
) {
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    store_audit::append(
        &mut tx,
        Some(org),
        event(action, rtype, rid, result, days_ago(0)),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let res = server
        .http
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_paginates_and_isolates_orgs() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org_a = fx.org(partner).await;
    let org_b = fx.org(partner).await;
    let store = &server.state.store;
    for i in 0..3 {
        add(
            store,
            org_a,
            "device.delete",
            "device",
            &format!("d{i}"),
            AuditResult::Success,
        )
        .await;
    }
    add(
        store,
        org_a,
        "site.update",
        "site",
        "s1",
        AuditResult::Success,
    )
    .await;
    add(
        store,
        org_a,
        "device.delete",
        "device",
        "d9",
        AuditResult::Denied,
    )
    .await;
    add(
        store,
        org_a,
        "device.command.execute",
        "device",
        "d1",
        AuditResult::Failure,
    )
    .await;
    for i in 0..4 {
        add(
            store,
            org_b,
            "device.delete",
            "device",
            &format!("b{i}"),
            AuditResult::Success,
        )
        .await;
    }
    let mut tx = store.begin(&system_ctx()).await.unwrap();
    store_audit::append(
        &mut tx,
        None,
        event(
            "system.job",
            "system",
            "x",
            AuditResult::Success,
            days_ago(0),
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let reader_role = custom_role(&fx, partner, &["audit:read"]).await;
    let reader_a = org_user_with_role(&fx, partner, org_a, reader_role).await;
    let token = server.token_for(&fx, &reader_a).await;

    // everything the caller sees: only org A's chain (not B's, not the system chain)
    let (status, body) = get(&server, &token, "/api/v1/audit").await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "{body}");
    assert!(items.iter().all(|i| i["chain"] == org_a.to_string()));
    assert!(
        items.iter().all(|i| i.get("chainHash").is_none()),
        "hashes only when asked"
    );
    assert_eq!(items[0]["seq"], 0);
    assert_eq!(items[0]["action"], "device.delete");
    assert_eq!(items[0]["resourceType"], "device");
    assert_eq!(items[0]["actorType"], "user");

    // resource, singular or plural, and action
    for q in [
        "resource=devices&action=device.delete",
        "resource=device&action=device.delete",
    ] {
        let (status, body) = get(&server, &token, &format!("/api/v1/audit?{q}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["items"].as_array().unwrap().len(), 4, "{q}: {body}");
    }
    let (_, body) = get(&server, &token, "/api/v1/audit?action=device.*").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 5);
    let (_, body) = get(&server, &token, "/api/v1/audit?resource=sites").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, body) = get(&server, &token, "/api/v1/audit?result=failure").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, body) = get(&server, &token, "/api/v1/audit?result=denied&actor=user").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let actor = items[2]["actorId"].as_str().unwrap().to_owned();
    let (_, body) = get(&server, &token, &format!("/api/v1/audit?actor={actor}")).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, body) = get(&server, &token, "/api/v1/audit?limit=1&includeHashes=true").await;
    assert_eq!(body["items"][0]["prevHash"], "0".repeat(64));
    assert!(body["items"][0]["chainHash"].is_string());

    // pagination: pages of 2 cover everything exactly once
    let mut seen = HashSet::new();
    let pages = pages(&server, &token, "/api/v1/audit?limit=2").await;
    for i in pages.iter().flatten() {
        assert!(seen.insert(i["seq"].as_u64().unwrap()), "repeated item");
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(pages.len(), 3);

    // a foreign organization: 404, nothing leaked
    let (status, body) = get(&server, &token, &format!("/api/v1/audit?orgId={org_b}")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = get(
        &server,
        &token,
        &format!("/api/v1/audit/verify?orgId={org_b}"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = get(&server, &token, &format!("/api/v1/audit?orgId={org_a}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 6);
    // the organization named and filters combined (each read through its own index)
    for (q, n) in [
        ("action=site.update", 1),
        ("action=device.*&result=denied", 1),
        ("resource=devices&result=success", 3),
        (&format!("actor={actor}&action=device.delete") as &str, 1),
        ("action=device.*&cursor=ORG:1", 3),
        // a cursor on an earlier chain starts at this chain's first entry, a later one ends it
        ("cursor=00000000-0000-4000-8000-000000000000:9", 6),
        ("cursor=ffffffff-ffff-4fff-bfff-ffffffffffff:0", 0),
    ] {
        let q = q.replace("ORG", &org_a.to_string());
        let (status, body) =
            get(&server, &token, &format!("/api/v1/audit?orgId={org_a}&{q}")).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["items"].as_array().unwrap().len(), n, "{q}: {body}");
    }

    // bad input: 400 naming the field
    for (q, field) in [
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("cursor=garbage", "query.cursor"),
        ("result=maybe", "query.result"),
        ("orgId=nope", "query.orgId"),
        ("actor=robot", "query.actor"),
        ("action=DROP%20TABLE", "query.action"),
        ("bogus=1", "query.bogus"),
    ] {
        let (status, body) = get(&server, &token, &format!("/api/v1/audit?{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.to_string().contains(field), "{q}: {body}");
    }

    // verification of the visible chains
    let (status, body) = get(&server, &token, "/api/v1/audit/verify").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let chains = body["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 1);
    assert_eq!(chains[0]["chain"], org_a.to_string());
    assert_eq!(chains[0]["entries"], 6);

    // an accessible organization without any entry: nothing to verify
    let empty = fx.org(partner).await;
    let empty_reader = org_user_with_role(&fx, partner, empty, reader_role).await;
    let token_empty = server.token_for(&fx, &empty_reader).await;
    let (status, body) = get(
        &server,
        &token_empty,
        &format!("/api/v1/audit/verify?orgId={empty}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["chains"].as_array().unwrap().len(), 0);

    // an organization user of B sees B only
    let reader_b = org_user_with_role(&fx, partner, org_b, reader_role).await;
    let token_b = server.token_for(&fx, &reader_b).await;
    let (_, body) = get(&server, &token_b, "/api/v1/audit").await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|i| i["chain"] == org_b.to_string()));

    // no token: 401; a role without audit:read: 403
    let res = server
        .http
        .get(server.url("/api/v1/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let viewer_role = custom_role(&fx, partner, &["devices:read"]).await;
    let viewer = org_user_with_role(&fx, partner, org_a, viewer_role).await;
    let token_v = server.token_for(&fx, &viewer).await;
    let (status, _) = get(&server, &token_v, "/api/v1/audit").await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_needs_audit_export_and_is_audited() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org_a = fx.org(partner).await;
    let org_b = fx.org(partner).await;
    let store = &server.state.store;
    for i in 0..4 {
        add(
            store,
            org_a,
            "device.delete",
            "device",
            &format!("d{i}"),
            AuditResult::Success,
        )
        .await;
    }
    add(
        store,
        org_b,
        "device.delete",
        "device",
        "b",
        AuditResult::Success,
    )
    .await;

    let reader_role = custom_role(&fx, partner, &["audit:read"]).await;
    let reader = org_user_with_role(&fx, partner, org_a, reader_role).await;
    let token_r = server.token_for(&fx, &reader).await;
    let res = server
        .http
        .get(server.url(&format!("/api/v1/audit/export?orgId={org_a}")))
        .bearer_auth(&token_r)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "audit:read is not enough to export");

    let exporter_role = custom_role(&fx, partner, &["audit:read", "audit:export"]).await;
    let exporter = org_user_with_role(&fx, partner, org_a, exporter_role).await;
    let token = server.token_for(&fx, &exporter).await;
    let res = server
        .http
        .get(server.url(&format!("/api/v1/audit/export?orgId={org_a}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let bundle = res.bytes().await.unwrap();
    let r = verify_bundle_bytes(
        &bundle,
        &BundleOptions {
            trusted_keys: Some(keys()),
            ..BundleOptions::default()
        },
    );
    assert!(r.ok, "{r:?}");
    assert_eq!(r.entries, 4);

    // without orgId an organization user exports its own chain; toSeq limits the range
    let res = server
        .http
        .get(server.url("/api/v1/audit/export?toSeq=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let r = verify_bundle_bytes(&res.bytes().await.unwrap(), &BundleOptions::default());
    assert!(r.ok, "{r:?}");
    assert_eq!(r.last_sequence, Some(1));
    // a range that does not start at the chain's start cannot verify: refused
    let (status, body) = get(&server, &token, "/api/v1/audit/export?fromSeq=2").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("query.fromSeq"));

    // the exports were audited in the chain itself
    let (_, body) = get(&server, &token, "/api/v1/audit?action=audit.export").await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(items[0]["actorId"], exporter.id.to_string());
    assert_eq!(items[0]["resourceId"], org_a.to_string());

    // a foreign organization: 404
    let (status, _) = get(
        &server,
        &token,
        &format!("/api/v1/audit/export?orgId={org_b}"),
    )
    .await;
    assert_eq!(status, 404);
    // the chain still verifies after the export events
    let (_, body) = get(&server, &token, "/api/v1/audit/verify").await;
    assert_eq!(body["ok"], true, "{body}");
}

/// Pages through `path` (which has a `?`) by its `nextCursor` and returns each page's
/// items; every page must answer 200.
async fn pages(server: &TestServer, token: &str, path: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let (status, body) = get(server, token, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        pages.push(body["items"].as_array().unwrap().clone());
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return pages,
        }
    }
}

/// Every audit item of every page of `path`, as (chain, seq, action).
async fn all_pages(server: &TestServer, token: &str, path: &str) -> Vec<(String, u64, String)> {
    pages(server, token, path)
        .await
        .iter()
        .flatten()
        .map(|i| {
            (
                i["chain"].as_str().unwrap().to_owned(),
                i["seq"].as_u64().unwrap(),
                i["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The listings a caller's reach narrows (an organization's chain read action by action
/// for a prefix; a partner user's selected organizations named in the query) return
/// exactly the entries, in exactly the order, that the stored rows say they should.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowed_listings_return_the_stored_rows_in_page_order() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let orgs = [
        fx.org(partner).await,
        fx.org(partner).await,
        fx.org(partner).await,
    ];
    let store = &server.state.store;
    // `remoteax.run` would match `remote_x.*` if the underscore were not escaped
    let actions = [
        "remote.session.start",
        "device.delete",
        "remote.file.read",
        "remote_x.run",
        "remoteax.run",
        "remote.session.end",
    ];
    for i in 0..24_usize {
        for (n, org) in orgs.iter().enumerate() {
            let result = if (i + n) % 3 == 0 {
                AuditResult::Denied
            } else {
                AuditResult::Success
            };
            let action = actions[(i * (n + 1) + i / 7) % actions.len()];
            add(store, *org, action, "device", &format!("d{i}"), result).await;
        }
    }
    let mut devices = Vec::new();
    for org in orgs {
        let site = fx.site(org).await;
        for _ in 0..3 {
            devices.push((org, fx.device(org, site).await));
        }
    }
    // what is stored, read by the superuser: (chain, seq, action, result)
    let mut tx = fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    let stored: Vec<(String, i64, String, String)> = sqlx::query_as(
        "SELECT chain_key, seq, action, result FROM audit_log
          WHERE chain_key = ANY ($1) ORDER BY chain_key, seq",
    )
    .bind(orgs.iter().map(ToString::to_string).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    let expect = |chains: &[OrgId], prefix: Option<&str>, result: Option<&str>| {
        stored
            .iter()
            .filter(|(c, _, a, r)| {
                chains.iter().any(|o| o.to_string() == *c)
                    && prefix.is_none_or(|p| a.starts_with(p))
                    && result.is_none_or(|want| r == want)
            })
            .map(|(c, s, a, _)| (c.clone(), u64::try_from(*s).unwrap(), a.clone()))
            .collect::<Vec<_>>()
    };

    // an organization user: its chain, an action prefix, page by page
    let reader_role = custom_role(&fx, partner, &["audit:read"]).await;
    let reader = org_user_with_role(&fx, partner, orgs[0], reader_role).await;
    let token = server.token_for(&fx, &reader).await;
    for prefix in ["remote.", "remote_x.", "remote.session.", "device."] {
        for limit in [1, 4, 100] {
            for result in [None, Some("denied")] {
                let mut path = format!("/api/v1/audit?limit={limit}&action={prefix}*");
                if let Some(r) = result {
                    path.push_str(&format!("&result={r}"));
                }
                let got = all_pages(&server, &token, &path).await;
                let want = expect(&orgs[..1], Some(prefix), result);
                assert!(!want.is_empty(), "{path}: the fixture has matches");
                assert_eq!(got, want, "{path}");
            }
        }
    }

    // a partner user with two of the three organizations selected
    let partner_role =
        custom_role_of_scope(&fx, partner, "partner", &["audit:read", "devices:read"]).await;
    let selected = [orgs[0], orgs[2]];
    let partner_user = fx
        .partner_user_with_role(partner, partner_role, "selected", &selected)
        .await;
    let token = server.token_for(&fx, &partner_user).await;
    let mut both = selected.to_vec();
    both.sort_by_key(ToString::to_string);
    for limit in [3, 100] {
        let path = format!("/api/v1/audit?limit={limit}");
        assert_eq!(
            all_pages(&server, &token, &path).await,
            expect(&both, None, None),
            "{path}"
        );
        for prefix in ["remote.", "remote_x."] {
            let path = format!("/api/v1/audit?limit={limit}&action={prefix}*");
            assert_eq!(
                all_pages(&server, &token, &path).await,
                expect(&both, Some(prefix), None),
                "{path}"
            );
        }
        let path = format!(
            "/api/v1/audit?limit={limit}&orgId={}&action=remote.*",
            orgs[2]
        );
        assert_eq!(
            all_pages(&server, &token, &path).await,
            expect(&orgs[2..], Some("remote."), None),
            "{path}"
        );
    }
    // its devices: those of the selected organizations, in id order, page by page
    let mut want: Vec<String> = devices
        .iter()
        .filter(|(o, _)| selected.contains(o))
        .map(|(_, d)| d.to_string())
        .collect();
    want.sort();
    let got: Vec<String> = pages(&server, &token, "/api/v1/devices?limit=2")
        .await
        .iter()
        .flatten()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
}
