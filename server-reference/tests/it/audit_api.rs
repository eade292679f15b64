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
use crate::common::audit::{custom_role, days_ago, event, keys, org_user_with_role, system_ctx};
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
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit?limit=2&cursor={c}"),
            None => "/api/v1/audit?limit=2".to_owned(),
        };
        let (status, body) = get(&server, &token, &path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for i in body["items"].as_array().unwrap() {
            assert!(seen.insert(i["seq"].as_u64().unwrap()), "repeated item");
        }
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(pages, 3);

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
