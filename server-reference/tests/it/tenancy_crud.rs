//! Tenancy routes over real HTTP and PostgreSQL: CRUD happy paths with their audit rows,
//! validation errors with field paths, pagination, API keys shown once and usable within
//! their scopes only, enrollment keys stored as peppered hashes, disabling users, and the
//! privilege-escalation refusals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use std::collections::BTreeSet;

use crate::common::tenancy::{
    Auth, audit_rows, call, custom_role, has_audit, json_call, mfa_token, snapshot,
};
use crate::common::{TestServer, seeded};
use breeze_authz::seeded::SeededRole;
use breeze_crypto::credentials::EnrollmentKey;
use serde_json::{Value, json};
use uuid::Uuid;

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

fn issue_paths(v: &Value) -> Vec<String> {
    v["issues"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["path"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let admin = fx
        .partner_user(p, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let t = mfa_token(&server, &fx, &admin).await;

    let (s, v) = json_call(&server, &t, "GET", "/api/v1/orgs/not-a-uuid", None).await;
    assert_eq!(s, 400);
    assert_eq!(issue_paths(&v), ["path.orgId"]);
    assert!(!v.to_string().contains("not-a-uuid"), "value echoed: {v}");

    for limit in ["0", "101", "x"] {
        let (s, v) = json_call(
            &server,
            &t,
            "GET",
            &format!("/api/v1/orgs?limit={limit}"),
            None,
        )
        .await;
        assert_eq!(s, 400, "limit={limit}");
        assert_eq!(issue_paths(&v), ["query.limit"]);
    }
    let (s, v) = json_call(&server, &t, "GET", "/api/v1/orgs?cursor=zzz", None).await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["query.cursor".to_owned()]));
    let (s, v) = json_call(&server, &t, "GET", "/api/v1/devices?status=melted", None).await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["query.status".to_owned()]));
    let (s, v) = json_call(&server, &t, "GET", "/api/v1/devices?bogus=1", None).await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["query.bogus".to_owned()]));

    let sites = format!("/api/v1/orgs/{org}/sites");
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &sites,
        Some(&json!({"name": "A", "color": "red"})),
    )
    .await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["body.color".to_owned()]));
    let (s, v) = json_call(&server, &t, "POST", &sites, Some(&json!({"name": ""}))).await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["body.name".to_owned()]));
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &sites,
        Some(&json!({"name": "A", "timezone": "Mars/Base One"})),
    )
    .await;
    assert_eq!(
        (s, issue_paths(&v)),
        (400, vec!["body.timezone".to_owned()])
    );
    // a missing field is reported at its parent by the shared extractor (`body`)
    let (s, v) = json_call(&server, &t, "POST", &sites, Some(&json!({}))).await;
    assert_eq!(
        (s, v["issues"][0]["message"].as_str()),
        (400, Some("is required")),
        "{v}"
    );
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/orgs/{org}"),
        Some(&json!({"status": "gone"})),
    )
    .await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["body.status".to_owned()]));
    // nothing was created by the refused requests
    let (_, list) = json_call(&server, &t, "GET", &sites, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    let ek = format!("/api/v1/orgs/{org}/enrollment-keys");
    let site = fx.site(org).await;
    for (body, path) in [
        (
            json!({"name": "k", "siteId": site, "maxUsage": 0}),
            "body.maxUsage",
        ),
        (
            json!({"name": "k", "siteId": site, "maxUsage": 100_001}),
            "body.maxUsage",
        ),
        (
            json!({"name": "k", "siteId": site, "expiresInMinutes": 525_601}),
            "body.expiresInMinutes",
        ),
        (
            json!({"name": "k", "siteId": site, "secret": "short"}),
            "body.secret",
        ),
        (json!({"name": "k", "siteId": "nope"}), "body.siteId"),
    ] {
        let (s, v) = json_call(&server, &t, "POST", &ek, Some(&body)).await;
        assert_eq!((s, issue_paths(&v)), (400, vec![path.to_owned()]), "{body}");
        assert!(!v.to_string().contains("short"), "secret echoed");
    }
}

#[tokio::test]
async fn pagination_walks_every_item_once() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let mut expected = BTreeSet::new();
    for _ in 0..7 {
        expected.insert(*fx.site(org).await.as_uuid());
    }
    let admin = fx.org_user(p, org, SeededRole::OrgAdmin, None).await;
    let t = mfa_token(&server, &fx, &admin).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => format!("/api/v1/orgs/{org}/sites?limit=3"),
            Some(c) => format!("/api/v1/orgs/{org}/sites?limit=3&cursor={c}"),
        };
        let (s, v) = json_call(&server, &t, "GET", &path, None).await;
        assert_eq!(s, 200, "{v}");
        pages += 1;
        let items = v["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(id_of));
        match v.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "an item appeared twice or went missing");
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), expected);
}

#[tokio::test]
async fn partner_admin_manages_orgs_sites_groups_and_devices_with_audit() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let admin = fx
        .partner_user(p, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let t = mfa_token(&server, &fx, &admin).await;

    // organization: create (system chain), read, change, delete (its own chain)
    let (s, org) = json_call(
        &server,
        &t,
        "POST",
        "/api/v1/orgs",
        Some(&json!({"name": "Acme", "status": "trial"})),
    )
    .await;
    assert_eq!(s, 201, "{org}");
    let org_id = id_of(&org);
    assert_eq!(org["partnerId"], json!(p));
    assert!(has_audit(&fx, "system", "organization.create", org_id).await);
    // the context was resolved before the org existed; a new request reaches it
    let t = mfa_token(&server, &fx, &admin).await;
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/orgs/{org_id}"),
        Some(&json!({"name": "Acme 2", "status": "active"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["status"].as_str()),
        (Some("Acme 2"), Some("active"))
    );
    assert!(has_audit(&fx, &org_id.to_string(), "organization.update", org_id).await);

    // site -> group -> device move / quarantine / decommission
    let (s, site) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/orgs/{org_id}/sites"),
        Some(&json!({"name": "HQ", "timezone": "Europe/Paris"})),
    )
    .await;
    assert_eq!(s, 201, "{site}");
    let site_id = id_of(&site);
    let (s, site2) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/orgs/{org_id}/sites"),
        Some(&json!({"name": "Branch"})),
    )
    .await;
    assert_eq!(s, 201);
    let site2_id = id_of(&site2);
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/sites/{site2_id}"),
        Some(&json!({"name": "Branch office", "timezone": "America/New_York"})),
    )
    .await;
    assert_eq!(
        (s, v["timezone"].as_str()),
        (200, Some("America/New_York")),
        "{v}"
    );
    let (s, group) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/sites/{site2_id}/groups"),
        Some(&json!({"name": "Servers"})),
    )
    .await;
    assert_eq!(s, 201, "{group}");
    let group_id = id_of(&group);
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/groups/{group_id}"),
        Some(&json!({"name": "Racks"})),
    )
    .await;
    assert_eq!((s, v["name"].as_str()), (200, Some("Racks")));

    let org_oid = breeze_core::tenancy::OrgId::from_uuid(org_id);
    let device = fx
        .device(org_oid, breeze_core::tenancy::SiteId::from_uuid(site_id))
        .await;
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/devices/{device}"),
        Some(&json!({"displayName": "Front desk"})),
    )
    .await;
    assert_eq!((s, v["displayName"].as_str()), (200, Some("Front desk")));
    // absent leaves the name, null clears it
    let dev = format!("/api/v1/devices/{device}");
    let (s, v) = json_call(&server, &t, "PATCH", &dev, Some(&json!({}))).await;
    assert_eq!((s, v["displayName"].as_str()), (200, Some("Front desk")));
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &dev,
        Some(&json!({"displayName": null})),
    )
    .await;
    assert_eq!((s, v["displayName"].clone()), (200, Value::Null));
    // a group of another site is refused, the right one is accepted
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/devices/{device}/move"),
        Some(&json!({"siteId": site_id, "groupId": group_id})),
    )
    .await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["body.groupId".to_owned()]));
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/devices/{device}/move"),
        Some(&json!({"siteId": site2_id, "groupId": group_id})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["siteId"], json!(site2_id));
    assert_eq!(v["groupId"], json!(group_id));
    // a site of another organization of the same partner is refused
    let other_org = fx.org(p).await;
    let other_site = fx.site(other_org).await;
    let t = mfa_token(&server, &fx, &admin).await;
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/devices/{device}/move"),
        Some(&json!({"siteId": other_site})),
    )
    .await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["body.siteId".to_owned()]));

    let (s, v) = json_call(
        &server,
        &t,
        "GET",
        &format!("/api/v1/devices?orgId={org_id}&siteId={site2_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/devices/{device}/quarantine"),
        None,
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("quarantined")));
    let (s, _) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/devices/{device}/quarantine"),
        None,
    )
    .await;
    assert_eq!(s, 409);
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/devices/{device}/decommission"),
        None,
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("decommissioned")));
    let (s, _) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/devices/{device}/move"),
        Some(&json!({"siteId": site_id})),
    )
    .await;
    assert_eq!(s, 409);
    let (_, v) = json_call(
        &server,
        &t,
        "GET",
        &format!("/api/v1/devices?status=decommissioned&orgId={org_id}"),
        None,
    )
    .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);

    // a site with a device or group cannot be deleted; an empty one can
    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/sites/{site2_id}"),
        None,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/groups/{group_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/sites/{site_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = json_call(
        &server,
        &t,
        "GET",
        &format!("/api/v1/sites/{site_id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);

    let chain = org_id.to_string();
    for (action, resource) in [
        ("site.create", site_id),
        ("site.delete", site_id),
        ("site.update", site2_id),
        ("device_group.create", group_id),
        ("device_group.update", group_id),
        ("device_group.delete", group_id),
        ("device.update", device),
        ("device.move", device),
        ("device.quarantine", device),
        ("device.decommission", device),
    ] {
        assert!(
            has_audit(&fx, &chain, action, resource).await,
            "missing {action}"
        );
    }
    // every audit row names the acting user
    let actor = admin.id.to_string();
    assert!(
        audit_rows(&fx)
            .await
            .iter()
            .all(|r| r.actor_id.as_deref() == Some(actor.as_str()))
    );

    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/orgs/{org_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert!(has_audit(&fx, &chain, "organization.delete", org_id).await);
    let t = mfa_token(&server, &fx, &admin).await;
    let (s, _) = json_call(&server, &t, "GET", &format!("/api/v1/orgs/{org_id}"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn org_scope_cannot_create_orgs_or_change_status() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let other = fx.org(p).await;
    let org_admin = fx.org_user(p, org, SeededRole::OrgAdmin, None).await;
    let t = mfa_token(&server, &fx, &org_admin).await;
    let (s, _) = json_call(
        &server,
        &t,
        "POST",
        "/api/v1/orgs",
        Some(&json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/orgs/{org}"),
        Some(&json!({"status": "suspended"})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/orgs/{org}"),
        Some(&json!({"name": "Renamed"})),
    )
    .await;
    assert_eq!((s, v["name"].as_str()), (200, Some("Renamed")));
    // a site-limited org admin cannot create sites (a new site is outside its list) and
    // cannot grant every-site access
    let site = fx.site(org).await;
    let limited = fx
        .org_user(p, org, SeededRole::OrgAdmin, Some(&[site]))
        .await;
    let lt = mfa_token(&server, &fx, &limited).await;
    let (s, v) = json_call(
        &server,
        &lt,
        "POST",
        &format!("/api/v1/orgs/{org}/sites"),
        Some(&json!({"name": "Annex"})),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (403, Some("site_restricted")));
    let body = json!({"email": "z@example.test", "password": "Str0ng-Passw0rd", "membership": {"kind": "organization", "orgId": org, "roleId": seeded(SeededRole::OrgViewer).as_uuid()}});
    let (s, v) = json_call(&server, &lt, "POST", "/api/v1/users", Some(&body)).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("site_restricted")));
    // partner admin with selected access: no partner-wide write
    let selected = fx
        .partner_user(p, SeededRole::PartnerAdmin, "selected", &[org])
        .await;
    let t = mfa_token(&server, &fx, &selected).await;
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        "/api/v1/orgs",
        Some(&json!({"name": "New"})),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("partner_wide_write_required"))
    );
    let (s, v) = json_call(&server, &t, "GET", "/api/v1/orgs", None).await;
    assert_eq!(s, 200);
    let ids: Vec<Uuid> = v["items"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(ids, [*org.as_uuid()]);
    assert!(!v.to_string().contains(&other.to_string()));
}

#[tokio::test]
async fn partners_are_platform_admin_only() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let root = fx.platform_admin().await;
    let t = mfa_token(&server, &fx, &root).await;
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        "/api/v1/partners",
        Some(&json!({"name": "MSP One", "maxDevices": 50})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = id_of(&v);
    assert!(has_audit(&fx, "system", "partner.create", id).await);
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/partners/{id}"),
        Some(&json!({"maxDevices": null, "status": "suspended"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["maxDevices"].clone(), v["status"].as_str()),
        (Value::Null, Some("suspended"))
    );
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        "/api/v1/orgs",
        Some(&json!({"name": "Cust", "partnerId": id})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/partners/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = json_call(&server, &t, "GET", &format!("/api/v1/partners/{id}"), None).await;
    assert_eq!(s, 404);
    assert!(has_audit(&fx, "system", "partner.delete", id).await);
    assert!(has_audit(&fx, "system", "partner.update", id).await);

    let p = fx.partner().await;
    let pa = fx
        .partner_user(p, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let t = mfa_token(&server, &fx, &pa).await;
    let (s, _) = json_call(&server, &t, "GET", "/api/v1/partners", None).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn api_key_is_shown_once_and_works_only_within_its_scopes() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let site = fx.site(org).await;
    fx.device(org, site).await;
    let admin = fx.org_user(p, org, SeededRole::OrgAdmin, None).await;
    let t = mfa_token(&server, &fx, &admin).await;
    let keys = format!("/api/v1/orgs/{org}/api-keys");

    // scopes beyond the creator's permissions are refused
    for scopes in [
        json!(["*"]),
        json!(["billing:manage"]),
        json!(["organizations:delete"]),
    ] {
        let (s, v) = json_call(
            &server,
            &t,
            "POST",
            &keys,
            Some(&json!({"name": "k", "scopes": scopes})),
        )
        .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (403, Some("privilege_escalation")),
            "{scopes}"
        );
    }
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &keys,
        Some(&json!({"name": "k", "scopes": ["devices"]})),
    )
    .await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["body.scopes".to_owned()]));

    let (s, created) = json_call(&server, &t, "POST", &keys, Some(&json!({"name": "CI", "scopes": ["devices:read"], "expiresInDays": 30, "rateLimitPerHour": 100}))).await;
    assert_eq!(s, 201, "{created}");
    let raw = created["key"].as_str().unwrap().to_owned();
    assert!(raw.starts_with("brzk_") && raw.len() == 53, "{raw}");
    assert_eq!(created["keyPrefix"].as_str().unwrap(), &raw[..8]);
    let key_id = id_of(&created);
    assert!(has_audit(&fx, &org.to_string(), "api_key.create", key_id).await);
    // stored: hash only
    let row = snapshot(&fx, "api_keys", "id", key_id).await.unwrap();
    assert!(!row.contains(&raw));
    // never shown again
    let (s, list) = call(&server, Auth::Bearer(&t), "GET", &keys, None).await;
    assert_eq!(s, 200);
    assert!(list.contains(&key_id.to_string()) && !list.contains(&raw));
    assert!(!list.contains("keyHash") && !list.contains("\"key\""));

    // authenticates within its scopes, not outside them
    let (s, v) = call(&server, Auth::ApiKey(&raw), "GET", "/api/v1/devices", None).await;
    assert_eq!(s, 200, "{v}");
    assert!(v.contains("\"items\":[{"));
    let (s, _) = call(
        &server,
        Auth::ApiKey(&raw),
        "POST",
        &format!("/api/v1/devices/{}/quarantine", Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &server,
        Auth::ApiKey(&raw),
        "POST",
        &format!("/api/v1/orgs/{org}/sites"),
        Some(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(s, 403);

    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/api-keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert!(has_audit(&fx, &org.to_string(), "api_key.revoke", key_id).await);
    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/api-keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = call(&server, Auth::ApiKey(&raw), "GET", "/api/v1/devices", None).await;
    assert_eq!(s, 401);

    // a site-limited admin cannot mint a key (it would reach every site)
    let limited = fx
        .org_user(p, org, SeededRole::OrgAdmin, Some(&[site]))
        .await;
    let t = mfa_token(&server, &fx, &limited).await;
    let (s, _) = json_call(
        &server,
        &t,
        "POST",
        &keys,
        Some(&json!({"name": "k", "scopes": ["devices:read"]})),
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn enrollment_key_is_shown_once_and_stored_peppered() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let site = fx.site(org).await;
    let other_org = fx.org(p).await;
    let other_site = fx.site(other_org).await;
    let tech = fx.org_user(p, org, SeededRole::OrgTechnician, None).await;
    let t = mfa_token(&server, &fx, &tech).await;
    let path = format!("/api/v1/orgs/{org}/enrollment-keys");
    // a site of another organization is refused
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &path,
        Some(&json!({"name": "k", "siteId": other_site})),
    )
    .await;
    assert_eq!((s, issue_paths(&v)), (400, vec!["body.siteId".to_owned()]));

    let secret = "per-key-secret-0123456789";
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        &path,
        Some(&json!({"name": "Rollout", "siteId": site, "maxUsage": 25, "secret": secret})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let raw = v["key"].as_str().unwrap().to_owned();
    let key = EnrollmentKey::parse(&raw).unwrap();
    assert_eq!(v["maxUsage"], 25);
    assert_eq!(v["hasSecret"], true);
    assert!(!v.to_string().contains(secret));
    let id = id_of(&v);
    // default expiry: 60 minutes
    let expires = time::OffsetDateTime::parse(
        v["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let minutes = (expires - time::OffsetDateTime::now_utc()).whole_minutes();
    assert!((58..=60).contains(&minutes), "{minutes}");

    let row = snapshot(&fx, "enrollment_keys", "id", id).await.unwrap();
    let row: Value = serde_json::from_str(&row).unwrap();
    assert_eq!(
        row["key_hash"].as_str().unwrap(),
        key.peppered_hash(server.state.pepper.current()).to_hex()
    );
    assert_eq!(
        row["secret_hash"].as_str().unwrap(),
        server.state.pepper.current().hash(secret).to_hex()
    );
    assert!(!row.to_string().contains(&raw));
    assert!(has_audit(&fx, &org.to_string(), "enrollment_key.create", id).await);

    let (s, list) = call(&server, Auth::Bearer(&t), "GET", &path, None).await;
    assert_eq!(s, 200);
    assert!(list.contains(&id.to_string()) && !list.contains(&raw));
    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/enrollment-keys/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert!(has_audit(&fx, &org.to_string(), "enrollment_key.delete", id).await);
    // viewers hold no devices:write
    let viewer = fx.org_user(p, org, SeededRole::OrgViewer, None).await;
    let t = mfa_token(&server, &fx, &viewer).await;
    let (s, _) = json_call(&server, &t, "GET", &path, None).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn users_are_created_disabled_and_their_tokens_die() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let site = fx.site(org).await;
    let admin = fx.org_user(p, org, SeededRole::OrgAdmin, None).await;
    let t = mfa_token(&server, &fx, &admin).await;
    let membership = json!({"kind": "organization", "orgId": org, "roleId": seeded(SeededRole::OrgViewer).as_uuid(), "siteIds": [site]});

    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        "/api/v1/users",
        Some(
            &json!({"email": "New@Example.test", "password": "weakpass", "membership": membership}),
        ),
    )
    .await;
    assert_eq!(s, 400);
    assert!(issue_paths(&v).iter().all(|p| p == "body.password"), "{v}");
    assert!(!v.to_string().contains("weakpass"));

    let (s, v) = json_call(&server, &t, "POST", "/api/v1/users", Some(&json!({"email": "New@Example.test", "name": "New", "password": "Str0ng-Passw0rd", "membership": membership}))).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["email"], "new@example.test");
    assert_eq!(v["membership"]["siteIds"], json!([site]));
    assert!(!v.to_string().contains("Str0ng") && !v.to_string().contains("argon2"));
    let new_id = id_of(&v);
    assert!(has_audit(&fx, &org.to_string(), "user.create", new_id).await);
    let stored = snapshot(&fx, "users", "id", new_id).await.unwrap();
    let stored: Value = serde_json::from_str(&stored).unwrap();
    let phc = stored["password_hash"].as_str().unwrap().to_owned();
    assert!(phc.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"));
    assert!(
        breeze_crypto::password::verify_password(
            &secrecy::SecretString::from("Str0ng-Passw0rd"),
            &phc
        )
        .unwrap()
    );
    let (s, _) = json_call(&server, &t, "POST", "/api/v1/users", Some(&json!({"email": "new@example.test", "password": "Str0ng-Passw0rd", "membership": membership}))).await;
    assert_eq!(s, 409);

    // membership change is audited
    let (s, v) = json_call(&server, &t, "PUT", &format!("/api/v1/users/{new_id}/membership"), Some(&json!({"kind": "organization", "orgId": org, "roleId": seeded(SeededRole::OrgTechnician).as_uuid()}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["membership"]["roleId"],
        json!(seeded(SeededRole::OrgTechnician).as_uuid())
    );
    assert!(has_audit(&fx, &org.to_string(), "membership.change", new_id).await);

    // disabling kills a live token at once
    let viewer = fx.org_user(p, org, SeededRole::OrgViewer, None).await;
    let vt = mfa_token(&server, &fx, &viewer).await;
    let (s, _) = json_call(&server, &vt, "GET", "/api/v1/devices", None).await;
    assert_eq!(s, 200);
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/users/{}", viewer.id),
        Some(&json!({"status": "disabled"})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("disabled")), "{v}");
    let (s, _) = json_call(&server, &vt, "GET", "/api/v1/devices", None).await;
    assert_eq!(s, 401);
    let epoch = snapshot(&fx, "users", "id", *viewer.id.as_uuid())
        .await
        .unwrap();
    assert!(epoch.contains("\"auth_epoch\":1"));
    assert!(has_audit(&fx, &org.to_string(), "user.disable", *viewer.id.as_uuid()).await);

    // DELETE disables too; nobody disables themself
    let (s, _) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/users/{new_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, v) = json_call(&server, &t, "GET", &format!("/api/v1/users/{new_id}"), None).await;
    assert_eq!(v["status"], "disabled");
    assert!(has_audit(&fx, &org.to_string(), "user.delete", new_id).await);
    let (s, v) = json_call(
        &server,
        &t,
        "DELETE",
        &format!("/api/v1/users/{}", admin.id),
        None,
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (403, Some("cannot_modify_self")));
}

#[tokio::test]
async fn privilege_escalation_is_refused() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let other_partner = fx.partner().await;
    let foreign_org = fx.org(other_partner).await;
    let org_admin = fx.org_user(p, org, SeededRole::OrgAdmin, None).await;
    let t = mfa_token(&server, &fx, &org_admin).await;
    let billing_role = custom_role(
        &fx,
        *p.as_uuid(),
        "Billing clerk",
        "organization",
        &["billing:manage", "devices:read"],
    )
    .await;
    let user = |role: Uuid, kind: &str| {
        let m = if kind == "partner" {
            json!({"kind": "partner", "roleId": role, "orgAccess": "all"})
        } else {
            json!({"kind": "organization", "orgId": org, "roleId": role})
        };
        json!({"email": format!("x{}@example.test", Uuid::new_v4().simple()), "password": "Str0ng-Passw0rd", "membership": m})
    };
    for (body, code) in [
        (user(billing_role, "organization"), "privilege_escalation"),
        (
            user(*seeded(SeededRole::PlatformAdmin).as_uuid(), "organization"),
            "system_role_not_grantable",
        ),
        (
            user(*seeded(SeededRole::PartnerViewer).as_uuid(), "partner"),
            "org_scope_cannot_grant_partner",
        ),
    ] {
        let (s, v) = json_call(&server, &t, "POST", "/api/v1/users", Some(&body)).await;
        assert_eq!((s, v["error"].as_str()), (403, Some(code)), "{v}");
    }
    // an org of another partner answers 404
    let body = json!({"email": "y@example.test", "password": "Str0ng-Passw0rd", "membership": {"kind": "organization", "orgId": foreign_org, "roleId": seeded(SeededRole::OrgViewer).as_uuid()}});
    let (s, _) = json_call(&server, &t, "POST", "/api/v1/users", Some(&body)).await;
    assert_eq!(s, 404);
    // roles are partner-wide: an org admin cannot create one
    let (s, v) = json_call(
        &server,
        &t,
        "POST",
        "/api/v1/roles",
        Some(&json!({"name": "R", "scope": "organization", "permissions": ["devices:read"]})),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("partner_wide_write_required"))
    );
    // a technician cannot promote anyone (no users:write) nor invite
    let tech = fx.org_user(p, org, SeededRole::OrgTechnician, None).await;
    let tt = mfa_token(&server, &fx, &tech).await;
    let (s, _) = json_call(&server, &tt, "PUT", &format!("/api/v1/users/{}/membership", tech.id), Some(&json!({"kind": "organization", "orgId": org, "roleId": seeded(SeededRole::OrgAdmin).as_uuid()}))).await;
    assert_eq!(s, 403);
    // the org admin cannot change the membership of a more powerful user's role either
    let clerk = fx.org_user(p, org, SeededRole::OrgViewer, None).await;
    common::tenancy::exec_text(
        &fx,
        "UPDATE org_memberships SET role_id = $2::uuid WHERE user_id = $1",
        *clerk.id.as_uuid(),
        &[&billing_role.to_string()],
    )
    .await;
    let (s, v) = json_call(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/users/{}", clerk.id),
        Some(&json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("privilege_escalation"))
    );

    // partner admin with selected access: no partner memberships
    let sel = fx
        .partner_user(p, SeededRole::PartnerAdmin, "selected", &[org])
        .await;
    let st = mfa_token(&server, &fx, &sel).await;
    let (s, v) = json_call(
        &server,
        &st,
        "POST",
        "/api/v1/users",
        Some(&user(
            *seeded(SeededRole::PartnerViewer).as_uuid(),
            "partner",
        )),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("partner_wide_write_required"))
    );

    // partner admin: roles validated by breeze-authz, seeded roles immutable
    let pa = fx
        .partner_user(p, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let pt = mfa_token(&server, &fx, &pa).await;
    for (perms, path) in [
        (json!(["*:*"]), "body.permissions"),
        (json!(["nothing:here"]), "body.permissions"),
        (json!(["devices"]), "body.permissions[0]"),
    ] {
        let (s, v) = json_call(
            &server,
            &pt,
            "POST",
            "/api/v1/roles",
            Some(&json!({"name": "Bad", "scope": "partner", "permissions": perms})),
        )
        .await;
        assert_eq!(
            (s, issue_paths(&v)),
            (400, vec![path.to_owned()]),
            "{perms}"
        );
    }
    let (s, v) = json_call(
        &server,
        &pt,
        "PATCH",
        &format!("/api/v1/roles/{}", seeded(SeededRole::OrgViewer).as_uuid()),
        Some(&json!({"permissions": ["devices:*"]})),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("seeded_role_immutable"))
    );
    let (s, role) = json_call(&server, &pt, "POST", "/api/v1/roles", Some(&json!({"name": "Helpdesk", "scope": "organization", "permissions": ["devices:read", "alerts:*"], "description": "first line"}))).await;
    assert_eq!(s, 201, "{role}");
    let role_id = id_of(&role);
    assert!(has_audit(&fx, "system", "role.create", role_id).await);
    let (s, v) = json_call(
        &server,
        &pt,
        "PATCH",
        &format!("/api/v1/roles/{role_id}"),
        Some(&json!({"permissions": ["devices:read"]})),
    )
    .await;
    assert_eq!(
        (s, v["permissions"].clone()),
        (200, json!(["devices:read"]))
    );
    assert!(has_audit(&fx, "system", "role.update", role_id).await);
    let (_, list) = json_call(&server, &t, "GET", "/api/v1/roles?limit=100", None).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Helpdesk") && names.contains(&"Org Viewer"),
        "{names:?}"
    );
    // in use -> 409; unused -> deleted
    let (s, _) = json_call(
        &server,
        &pt,
        "DELETE",
        &format!("/api/v1/roles/{billing_role}"),
        None,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = json_call(
        &server,
        &pt,
        "DELETE",
        &format!("/api/v1/roles/{role_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert!(has_audit(&fx, "system", "role.delete", role_id).await);
    // another partner's admin neither sees nor touches the role
    let op = fx
        .partner_user(other_partner, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let ot = mfa_token(&server, &fx, &op).await;
    let (_, list) = call(&server, Auth::Bearer(&ot), "GET", "/api/v1/roles", None).await;
    assert!(!list.contains("Billing clerk"));
    let (s, _) = json_call(
        &server,
        &ot,
        "DELETE",
        &format!("/api/v1/roles/{billing_role}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
}

/// Sends `body` verbatim as `application/json` (trailing-data and control-character cases
/// that `reqwest::json` would not produce).
async fn raw_json(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let res = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn set_partner(fx: &common::Fixtures, partner: Uuid, sql: &str) {
    fx.exec(sql, &[partner]).await;
}

const PARTNER_SUSPEND: &str = "UPDATE partners SET status = 'suspended' WHERE id = $1";
const PARTNER_ACTIVATE: &str =
    "UPDATE partners SET status = 'active', deleted_at = NULL WHERE id = $1";
const PARTNER_DELETE: &str = "UPDATE partners SET deleted_at = now() WHERE id = $1";

#[tokio::test]
async fn finding_06_partner_suspended_or_deleted_refuses_org_user_tokens() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let user = fx.org_user(p, org, SeededRole::OrgViewer, None).await;
    let t = mfa_token(&server, &fx, &user).await;
    let pid = *p.as_uuid();
    let get = |t: String| {
        let server = &server;
        async move { call(server, Auth::Bearer(&t), "GET", "/api/v1/devices", None).await }
    };
    assert_eq!(get(t.clone()).await.0, 200);
    set_partner(&fx, pid, PARTNER_SUSPEND).await;
    let (s, body) = get(t.clone()).await;
    assert_eq!(s, 401, "org user of a suspended partner: {body}");
    assert!(body.contains("no_live_membership"), "{body}");
    set_partner(&fx, pid, PARTNER_ACTIVATE).await;
    assert_eq!(get(t.clone()).await.0, 200);
    set_partner(&fx, pid, PARTNER_DELETE).await;
    let (s, body) = get(t.clone()).await;
    assert_eq!(s, 401, "org user of a deleted partner: {body}");
}

#[tokio::test]
async fn finding_06_partner_suspended_or_deleted_refuses_org_api_keys() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let admin = fx.org_user(p, org, SeededRole::OrgAdmin, None).await;
    let t = mfa_token(&server, &fx, &admin).await;
    let (s, created) = json_call(
        &server,
        &t,
        "POST",
        &format!("/api/v1/orgs/{org}/api-keys"),
        Some(&json!({"name": "CI", "scopes": ["devices:read"]})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let raw = created["key"].as_str().unwrap().to_owned();
    let pid = *p.as_uuid();
    let get = || call(&server, Auth::ApiKey(&raw), "GET", "/api/v1/devices", None);
    assert_eq!(get().await.0, 200);
    set_partner(&fx, pid, PARTNER_SUSPEND).await;
    let (s, body) = get().await;
    assert_eq!(s, 401, "API key of a suspended partner's org: {body}");
    assert!(body.contains("organization_unavailable"), "{body}");
    set_partner(&fx, pid, PARTNER_ACTIVATE).await;
    assert_eq!(get().await.0, 200);
    set_partner(&fx, pid, PARTNER_DELETE).await;
    let (s, body) = get().await;
    assert_eq!(s, 401, "API key of a deleted partner's org: {body}");
    assert!(body.contains("organization_unavailable"), "{body}");
}

#[tokio::test]
async fn finding_12_tenant_admins_cannot_read_or_change_platform_admins() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let partner_admin = fx
        .partner_user(p, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let org_admin = fx.org_user(p, org, SeededRole::OrgAdmin, None).await;
    // platform operators whose home tenant is this partner / this organization
    let op_partner = fx
        .partner_user(p, SeededRole::PartnerViewer, "all", &[])
        .await;
    let op_org = fx.org_user(p, org, SeededRole::OrgViewer, None).await;
    for op in [&op_partner, &op_org] {
        fx.exec(
            "INSERT INTO system_memberships (user_id, role_id) VALUES ($1, $2)",
            &[
                *op.id.as_uuid(),
                *seeded(SeededRole::PlatformAdmin).as_uuid(),
            ],
        )
        .await;
    }
    // an ordinary user of the same tenant stays manageable (the guard is not a blanket 404)
    let plain = fx.org_user(p, org, SeededRole::OrgViewer, None).await;
    for (admin, op) in [
        (&partner_admin, &op_partner),
        (&partner_admin, &op_org),
        (&org_admin, &op_org),
    ] {
        let t = mfa_token(&server, &fx, admin).await;
        let id = *op.id.as_uuid();
        let before_user = snapshot(&fx, "users", "id", id).await;
        let path = format!("/api/v1/users/{id}");
        let (s, v) = json_call(&server, &t, "GET", &path, None).await;
        assert_eq!(s, 404, "read of a platform admin: {v}");
        for body in [json!({"status": "disabled"}), json!({"name": "renamed"})] {
            let (s, v) = json_call(&server, &t, "PATCH", &path, Some(&body)).await;
            assert_eq!(s, 404, "{body} on a platform admin: {v}");
        }
        let (s, v) = json_call(&server, &t, "DELETE", &path, None).await;
        assert_eq!(s, 404, "delete of a platform admin: {v}");
        assert_eq!(snapshot(&fx, "users", "id", id).await, before_user);
        let (s, v) = json_call(
            &server,
            &t,
            "PATCH",
            &format!("/api/v1/users/{}", plain.id),
            Some(&json!({"name": "plain"})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        // nor listed
        let (s, list) = call(
            &server,
            Auth::Bearer(&t),
            "GET",
            "/api/v1/users?limit=100",
            None,
        )
        .await;
        assert_eq!(s, 200, "{list}");
        assert!(list.contains(&plain.id.to_string()), "{list}");
        assert!(
            !list.contains(&op.id.to_string()),
            "a platform admin is listed: {list}"
        );
    }
    // the platform itself still manages them
    let platform = fx.platform_admin().await;
    let t = mfa_token(&server, &fx, &platform).await;
    let (s, v) = json_call(
        &server,
        &t,
        "GET",
        &format!("/api/v1/users/{}", op_org.id),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn finding_19_user_routes_refuse_trailing_data_after_the_json_body() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let site = fx.site(org).await;
    let admin = fx
        .partner_user(p, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let t = mfa_token(&server, &fx, &admin).await;
    let sites = format!("/api/v1/orgs/{org}/sites");
    let count_sites = "SELECT count(*) FROM sites WHERE org_id = $1";
    let n0 = common::tenancy::count(&fx, count_sites, *org.as_uuid()).await;
    for body in [
        r#"{"name":"y"} garbage"#,
        r#"{"name":"a"}{"name":"b"}"#,
        r#"{"name":"a"} {"name":"b"}"#,
        r#"{"name":"a"}]"#,
        r#"{"name":"a"} 1"#,
    ] {
        let (s, v) = raw_json(&server, &t, "POST", &sites, body).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(issue_paths(&v), ["body"], "{body}: {v}");
    }
    assert_eq!(
        common::tenancy::count(&fx, count_sites, *org.as_uuid()).await,
        n0
    );
    let before = snapshot(&fx, "sites", "id", *site.as_uuid()).await;
    let (s, v) = raw_json(
        &server,
        &t,
        "PATCH",
        &format!("/api/v1/sites/{site}"),
        r#"{"name":"renamed"} {"name":"other"}"#,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(snapshot(&fx, "sites", "id", *site.as_uuid()).await, before);
    // trailing whitespace is not data
    let (s, v) = raw_json(&server, &t, "POST", &sites, "{\"name\":\"ok\"} \r\n\t").await;
    assert_eq!(s, 201, "{v}");
}

/// Builds a request body around a name.
type NameBody = Box<dyn Fn(&str) -> Value>;

#[tokio::test]
async fn finding_20_user_supplied_names_refuse_control_characters() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let p = fx.partner().await;
    let org = fx.org(p).await;
    let site = fx.site(org).await;
    let group = fx.group(org, site).await;
    let device = fx.device(org, site).await;
    let admin = fx
        .partner_user(p, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let t = mfa_token(&server, &fx, &admin).await;
    let platform = fx.platform_admin().await;
    let pt = mfa_token(&server, &fx, &platform).await;
    let bad = [
        "evil\n",
        "\nevil",
        "evil\r",
        "ev\nil",
        "\u{85}evil",
        "evil\u{9b}31m",
        "a\u{1b}[31mred",
        "\u{1b}[2J",
        "tab\t",
    ];
    let plain = fx.org_user(p, org, SeededRole::OrgViewer, None).await;
    let cases: Vec<(&str, &str, String, NameBody)> = vec![
        (
            "partner",
            "POST",
            "/api/v1/partners".into(),
            Box::new(|n| json!({"name": n})),
        ),
        (
            "org",
            "POST",
            "/api/v1/orgs".into(),
            Box::new(|n| json!({"name": n})),
        ),
        (
            "org patch",
            "PATCH",
            format!("/api/v1/orgs/{org}"),
            Box::new(|n| json!({"name": n})),
        ),
        (
            "site",
            "POST",
            format!("/api/v1/orgs/{org}/sites"),
            Box::new(|n| json!({"name": n})),
        ),
        (
            "group",
            "POST",
            format!("/api/v1/sites/{site}/groups"),
            Box::new(|n| json!({"name": n})),
        ),
        (
            "group patch",
            "PATCH",
            format!("/api/v1/groups/{group}"),
            Box::new(|n| json!({"name": n})),
        ),
        (
            "device",
            "PATCH",
            format!("/api/v1/devices/{device}"),
            Box::new(|n| json!({"displayName": n})),
        ),
        (
            "user",
            "PATCH",
            format!("/api/v1/users/{}", plain.id),
            Box::new(|n| json!({"name": n})),
        ),
        (
            "role",
            "POST",
            "/api/v1/roles".into(),
            Box::new(
                |n| json!({"name": n, "scope": "organization", "permissions": ["devices:read"]}),
            ),
        ),
        (
            "api key",
            "POST",
            format!("/api/v1/orgs/{org}/api-keys"),
            Box::new(|n| json!({"name": n, "scopes": ["devices:read"]})),
        ),
        (
            "enrollment key",
            "POST",
            format!("/api/v1/orgs/{org}/enrollment-keys"),
            Box::new(move |n| json!({"name": n, "siteId": site})),
        ),
    ];
    for (what, method, path, body) in &cases {
        let token = if *what == "partner" { &pt } else { &t };
        for name in bad {
            let (s, v) = json_call(&server, token, method, path, Some(&body(name))).await;
            assert_eq!(s, 400, "{what} named {name:?}: {v}");
            let paths = issue_paths(&v);
            assert!(
                paths == ["body.name"] || paths == ["body.displayName"],
                "{what} named {name:?}: {v}"
            );
        }
        // the same route accepts a clean name (the refusal is about the characters)
        let (s, v) = json_call(&server, token, method, path, Some(&body("Clean name"))).await;
        assert!(s == 200 || s == 201, "{what} clean: {s} {v}");
    }
}
