//! Every seeded role against a representative route set, asserted over HTTP: a table of
//! expected allow (2xx) / deny (403) per role.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common::TestServer;
use crate::common::tenancy::{Auth, call, mfa_token};
use breeze_authz::seeded::SeededRole;
use serde_json::json;

/// The probes, in table column order.
const PROBES: [&str; 7] = [
    "list devices",
    "quarantine device",
    "create site",
    "create API key",
    "list users",
    "create role",
    "decommission device",
];

/// Expected outcome per role: true = allowed (2xx), false = 403.
#[rustfmt::skip]
const EXPECTED: [(SeededRole, [bool; 7]); 8] = [
    // columns: list devices, quarantine, create site, create API key, list users,
    // create role, decommission
    (SeededRole::PlatformAdmin, [true, true, true, true, true, true, true]),
    (SeededRole::PartnerAdmin, [true, true, true, true, true, true, true]),
    (SeededRole::PartnerTechnician, [true, true, false, false, true, false, false]),
    (SeededRole::PartnerViewer, [true, false, false, false, false, false, false]),
    // Org Admin holds users:write but a role is partner-wide: partner_wide_write_required
    (SeededRole::OrgAdmin, [true, true, true, true, true, false, true]),
    (SeededRole::OrgTechnician, [true, true, false, false, true, false, false]),
    (SeededRole::OrgViewer, [true, false, false, false, false, false, false]),
    (SeededRole::SecurityApprover, [true, false, false, false, false, false, false]),
];

#[tokio::test]
async fn seeded_roles_allow_and_deny_as_tabled() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let mut failures = Vec::new();
    for (i, (role, expected)) in EXPECTED.iter().enumerate() {
        let user = match role {
            SeededRole::PlatformAdmin => fx.platform_admin().await,
            r if r.scope() == breeze_authz::role::RoleScope::Partner => {
                fx.partner_user(partner, *r, "all", &[]).await
            }
            r => fx.org_user(partner, org, *r, None).await,
        };
        let token = mfa_token(&server, &fx, &user).await;
        let device = fx.device(org, site).await;
        let device2 = fx.device(org, site).await;
        let role_body = if *role == SeededRole::PlatformAdmin {
            json!({"name": format!("r{i}"), "scope": "organization", "permissions": ["devices:read"], "partnerId": partner})
        } else {
            json!({"name": format!("r{i}"), "scope": "organization", "permissions": ["devices:read"]})
        };
        let probes = [
            ("GET", "/api/v1/devices".to_owned(), None),
            ("POST", format!("/api/v1/devices/{device}/quarantine"), None),
            (
                "POST",
                format!("/api/v1/orgs/{org}/sites"),
                Some(json!({"name": format!("s{i}")})),
            ),
            (
                "POST",
                format!("/api/v1/orgs/{org}/api-keys"),
                Some(json!({"name": format!("k{i}"), "scopes": ["devices:read"]})),
            ),
            ("GET", "/api/v1/users".to_owned(), None),
            ("POST", "/api/v1/roles".to_owned(), Some(role_body)),
            (
                "POST",
                format!("/api/v1/devices/{device2}/decommission"),
                None,
            ),
        ];
        for (j, (method, path, body)) in probes.iter().enumerate() {
            let (status, text) =
                call(&server, Auth::Bearer(&token), method, path, body.as_ref()).await;
            let allowed = (200..300).contains(&status);
            let ok = if expected[j] { allowed } else { status == 403 };
            if !ok {
                failures.push(format!(
                    "{role:?} {}: {method} {path} -> {status} (expected {}): {text}",
                    PROBES[j],
                    if expected[j] { "2xx" } else { "403" }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
