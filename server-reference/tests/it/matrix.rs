//! The cross-tenant denial matrix, generated from the route table (`routes::all()`).
//!
//! Every protected route (Permission / PlatformAdmin / Authenticated) either has tenant
//! path parameters, each filled BY NAME with an id of a victim tenant, or is listed in
//! [`CLASSIFIED`]. A route in neither, or a path parameter name not in [`param_id`], fails
//! the test: a new route cannot slip in untested. Four attackers call every route:
//! (a) a Partner Admin of another partner, (b) an Org Admin of another organization of the
//! victim's partner, (c) a Partner Admin of the victim's partner with `selected` org access
//! excluding the victim org, (d) an Org Admin of the victim org limited to a site list
//! excluding the victim site (site / group / device / enrollment-key addressed routes),
//! (e) a full-scope (`*`) API key of a sibling organization.
//! Each must answer 403 or 404 with a body naming no victim id or name; list routes must
//! not return victim rows; afterwards every victim row reads back unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use std::collections::BTreeMap;

use crate::common::tenancy::{
    Auth, api_key_of, api_key_row, call, count, custom_role, enrollment_key_row, exec_text,
    mfa_token, snapshot,
};
use crate::common::{TestServer, seeded};
use breeze_authz::seeded::SeededRole;
use breeze_server::http::route::Access;
use breeze_server::http::routes;
use serde_json::{Value, json};
use uuid::Uuid;

/// How a protected route without tenant path parameters is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A list: run by every attacker, the answer must name no victim row.
    List,
    /// Creates inside the caller's own tenancy; body-borne ids are covered by the
    /// tenancy_* tests (escalation and foreign-id refusals).
    CreateOwn,
    /// Acts on the caller only (users/me, logout, MFA setup, ...).
    SelfOnly,
    /// Names its targets in the body (bulk commands): run by every attacker with the
    /// victim's ids in the body (see [`body_for`]), the answer must be 403/404.
    BodyTargets,
}

/// Protected routes with no tenant path parameter. One line per route: other engineers'
/// routes (auth, audit, metrics, openapi) are added here when merged.
const CLASSIFIED: &[(&str, &str, Class)] = &[
    ("GET", "/api/v1/partners", Class::List),
    ("POST", "/api/v1/partners", Class::CreateOwn),
    ("GET", "/api/v1/orgs", Class::List),
    ("POST", "/api/v1/orgs", Class::CreateOwn),
    ("GET", "/api/v1/devices", Class::List),
    ("GET", "/api/v1/devices/suspended", Class::List),
    ("GET", "/api/v1/users", Class::List),
    ("POST", "/api/v1/users", Class::CreateOwn),
    ("GET", "/api/v1/roles", Class::List),
    ("POST", "/api/v1/roles", Class::CreateOwn),
    ("GET", "/api/v1/audit", Class::List),
    ("GET", "/api/v1/audit/verify", Class::List),
    ("GET", "/api/v1/audit/export", Class::List),
    ("POST", "/api/v1/auth/logout", Class::SelfOnly),
    ("POST", "/api/v1/auth/logout-all", Class::SelfOnly),
    ("POST", "/api/v1/auth/mfa/setup", Class::SelfOnly),
    ("POST", "/api/v1/auth/mfa/confirm", Class::SelfOnly),
    ("GET", "/api/v1/auth/mfa/status", Class::SelfOnly),
    ("POST", "/api/v1/auth/password/change", Class::SelfOnly),
    ("GET", "/api/v1/users/me", Class::SelfOnly),
    ("GET", "/api/v1/auth/sessions", Class::SelfOnly),
    (
        "POST",
        "/api/v1/auth/sessions/revoke-others",
        Class::SelfOnly,
    ),
    ("POST", "/api/v1/commands/bulk", Class::BodyTargets),
    ("GET", "/api/v1/webhooks", Class::List),
    ("POST", "/api/v1/webhooks", Class::BodyTargets),
    ("GET", "/api/v1/approvals", Class::List),
    ("GET", "/api/v1/sso/providers", Class::List),
    ("POST", "/api/v1/sso/providers", Class::BodyTargets),
];

/// Path parameters that address something inside one site: attacker (d) runs on these.
const SITE_LEVEL_PARAMS: &[&str] = &["siteId", "groupId", "deviceId", "keyId", "approvalId"];

/// The victim tenant.
struct Victim {
    partner: Uuid,
    org: Uuid,
    site: Uuid,
    other_site: Uuid,
    group: Uuid,
    device: Uuid,
    user: Uuid,
    role: Uuid,
    api_key: Uuid,
    enrollment_key: Uuid,
    command: Uuid,
    /// A pending remote session of a victim user on the victim device.
    session: Uuid,
    /// A login session (refresh family) of the victim user.
    family: Uuid,
    /// A webhook subscription of the victim org and one of its deliveries.
    webhook: Uuid,
    delivery: Uuid,
    /// A pending AI approval on the victim device, and an AI tool policy of the victim org.
    approval: Uuid,
    policy: Uuid,
    /// An SSO provider of the victim org.
    sso_provider: Uuid,
    /// Distinctive names of the victim rows.
    names: Vec<String>,
}

/// The victim id for a path parameter, by name; `None` = unknown parameter (test fails).
fn param_id(v: &Victim, name: &str) -> Option<Uuid> {
    Some(match name {
        "partnerId" => v.partner,
        "orgId" => v.org,
        "siteId" => v.site,
        "groupId" => v.group,
        "deviceId" => v.device,
        "userId" => v.user,
        "roleId" => v.role,
        "apiKeyId" => v.api_key,
        "keyId" => v.enrollment_key,
        "commandId" => v.command,
        "sessionId" => v.session,
        "familyId" => v.family,
        "providerId" => v.sso_provider,
        "webhookId" => v.webhook,
        "deliveryId" => v.delivery,
        "approvalId" => v.approval,
        "policyId" => v.policy,
        _ => return None,
    })
}

/// A minimal valid body per method + path, so a request reaches the tenancy check rather
/// than failing validation. `Some(None)` = the route takes no body; `None` = unknown route
/// (test fails: add its body here).
fn body_for(v: &Victim, method: &str, path: &str) -> Option<Option<Value>> {
    let name = json!({"name": "pwned"});
    Some(match (method, path) {
        ("GET" | "DELETE", _) => None,
        ("PATCH", "/api/v1/partners/{partnerId}") => Some(name),
        ("PUT", "/api/v1/partners/{partnerId}/ip-allowlist") => {
            Some(json!({"mode": "enforce", "cidrs": ["192.0.2.0/24"]}))
        }
        ("PATCH", "/api/v1/orgs/{orgId}") => Some(json!({"name": "pwned", "status": "suspended"})),
        ("POST", "/api/v1/orgs/{orgId}/sites") => Some(name),
        ("PATCH", "/api/v1/sites/{siteId}") => Some(name),
        ("POST", "/api/v1/sites/{siteId}/groups") => Some(name),
        ("PATCH", "/api/v1/groups/{groupId}") => Some(name),
        ("PATCH", "/api/v1/devices/{deviceId}") => Some(json!({"displayName": "pwned"})),
        ("POST", "/api/v1/devices/{deviceId}/move") => Some(json!({"siteId": v.other_site})),
        (
            "POST",
            "/api/v1/devices/{deviceId}/quarantine"
            | "/api/v1/devices/{deviceId}/decommission"
            | "/api/v1/devices/{deviceId}/unsuspend",
        ) => None,
        ("PATCH", "/api/v1/users/{userId}") => Some(json!({"status": "disabled"})),
        ("PUT", "/api/v1/users/{userId}/membership") => Some(json!({
            "kind": "organization",
            "orgId": v.org,
            "roleId": seeded(SeededRole::OrgViewer).as_uuid(),
        })),
        ("PATCH", "/api/v1/roles/{roleId}") => Some(json!({"permissions": ["devices:read"]})),
        ("POST", "/api/v1/orgs/{orgId}/api-keys") => {
            Some(json!({"name": "pwned", "scopes": ["devices:read"]}))
        }
        ("POST", "/api/v1/orgs/{orgId}/enrollment-keys") => {
            Some(json!({"name": "pwned", "siteId": v.site}))
        }
        ("POST", "/api/v1/devices/{deviceId}/commands") => {
            Some(json!({"type": "reboot", "payload": {}}))
        }
        ("POST", "/api/v1/devices/{deviceId}/remote-sessions") => Some(json!({"type": "terminal"})),
        ("POST", "/api/v1/remote-sessions/{sessionId}/ticket") => None,
        ("PUT", "/api/v1/orgs/{orgId}/remote-settings") => Some(json!({"idleSecs": 10})),
        ("PUT", "/api/v1/devices/{deviceId}/files/content") => Some(json!({"pwned": true})),
        ("POST", "/api/v1/webhooks") => Some(json!({
            "orgId": v.org,
            "name": "pwned",
            "url": "https://hooks.example.com/pwned",
            "events": ["audit.appended"],
        })),
        ("PATCH", "/api/v1/webhooks/{webhookId}") => Some(json!({"enabled": false})),
        (
            "POST",
            "/api/v1/webhooks/{webhookId}/test"
            | "/api/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
        ) => None,
        ("POST", "/api/v1/webhooks/{webhookId}/secret/roll") => Some(json!({"overlapSeconds": 0})),
        ("PUT", "/api/v1/orgs/{orgId}/webhook-settings") => {
            Some(json!({"allowedHosts": ["pwned.example"]}))
        }
        (
            "POST",
            "/api/v1/approvals/{approvalId}/approve" | "/api/v1/approvals/{approvalId}/deny",
        ) => Some(json!({"code": "123456", "reason": "pwned"})),
        ("PUT", "/api/v1/orgs/{orgId}/ai-policies") => Some(json!({
            "scope": "organization",
            "tool": "queue_script",
            "level": "low",
        })),
        ("POST", "/api/v1/sso/providers") => Some(json!({
            "orgId": v.org,
            "name": "pwned",
            "issuer": "https://idp.pwned.example",
            "clientId": "pwned",
            "clientSecret": "pwned-secret",
        })),
        ("PATCH", "/api/v1/sso/providers/{providerId}") => {
            Some(json!({"enabled": false, "enforceSso": true}))
        }
        ("POST", "/api/v1/commands/bulk") => Some(json!({
            "deviceIds": [v.device],
            "type": "reboot",
            "payload": {},
        })),
        _ => return None,
    })
}

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(ToOwned::to_owned)
        .collect()
}

/// Routes whose owner control needs more than the victim rows: a connected agent (file
/// operations), an ended session (replay), the session's own user (not the partner admin).
const NO_OWNER_CONTROL: &[&str] = &[
    "/api/v1/devices/{deviceId}/files/content",
    "/api/v1/devices/{deviceId}/files/list",
    "/api/v1/remote-sessions/{sessionId}",
    "/api/v1/remote-sessions/{sessionId}/recording",
];

/// The victim URL of a route: path parameters filled by name, plus the query a route
/// needs to reach its tenancy check (`?path=` of the file routes).
fn fill(path: &str, v: &Victim) -> String {
    let query = if path.contains("/files/") {
        "?path=/etc/hosts"
    } else {
        ""
    };
    fill_path(path, v) + query
}

fn fill_path(path: &str, v: &Victim) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => param_id(v, name)
                    .unwrap_or_else(|| panic!("unknown path parameter `{name}` in {path}"))
                    .to_string(),
                None => seg.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// A `brzk_` credential is an API key, anything else an access token.
fn auth_of(cred: &str) -> Auth<'_> {
    if cred.starts_with("brzk_") {
        Auth::ApiKey(cred)
    } else {
        Auth::Bearer(cred)
    }
}

fn leaks<'a>(body: &str, markers: &'a [String]) -> Vec<&'a String> {
    markers
        .iter()
        .filter(|m| body.contains(m.as_str()))
        .collect()
}

/// Victim rows read back as the owner: (table, key column, id).
fn victim_rows(v: &Victim) -> Vec<(&'static str, &'static str, Uuid)> {
    vec![
        ("partners", "id", v.partner),
        ("organizations", "id", v.org),
        ("sites", "id", v.site),
        ("device_groups", "id", v.group),
        ("devices", "id", v.device),
        ("users", "id", v.user),
        ("org_memberships", "user_id", v.user),
        ("roles", "id", v.role),
        ("api_keys", "id", v.api_key),
        ("enrollment_keys", "id", v.enrollment_key),
        ("device_commands", "id", v.command),
        // suspended: an attacker's unsuspend must leave it so
        ("device_credentials", "device_id", v.device),
        ("remote_sessions", "id", v.session),
        ("refresh_families", "id", v.family),
        ("webhook_subscriptions", "id", v.webhook),
        ("webhook_deliveries", "id", v.delivery),
        ("approval_requests", "id", v.approval),
        ("ai_tool_policies", "id", v.policy),
        ("sso_providers", "id", v.sso_provider),
        // none: an attacker's PUT must not create one
        ("partner_ip_allowlists", "partner_id", v.partner),
    ]
}

async fn snapshots(fx: &common::Fixtures, v: &Victim) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for (table, key, id) in victim_rows(v) {
        out.insert(format!("{table}/{id}"), snapshot(fx, table, key, id).await);
    }
    out.insert(
        "audit entries of the victim org".to_owned(),
        Some(
            count(
                fx,
                "SELECT count(*) FROM audit_log WHERE org_id = $1",
                v.org,
            )
            .await
            .to_string(),
        ),
    );
    for table in [
        "sites",
        "device_groups",
        "devices",
        "api_keys",
        "enrollment_keys",
        "users",
        "device_commands",
        "remote_sessions",
        "remote_session_tickets",
        "webhook_subscriptions",
        "webhook_deliveries",
        "webhook_delivery_attempts",
        "approval_requests",
        "ai_tool_policies",
        "mcp_sessions",
    ] {
        let sql = format!("SELECT count(*) FROM {table} WHERE org_id = $1");
        out.insert(
            format!("count {table}"),
            Some(count(fx, &sql, v.org).await.to_string()),
        );
    }
    out
}

#[tokio::test]
async fn cross_tenant_denial_matrix() {
    run_matrix(false).await;
}

/// The same matrix with row-level security switched OFF on every tenant table: the
/// Rust-side checks alone must still refuse everything (SPEC 1.3, two independent layers).
#[tokio::test]
async fn cross_tenant_denial_matrix_without_rls() {
    run_matrix(true).await;
}

/// Tables whose row-level security the second run switches off.
const RLS_TABLES: &[&str] = &[
    "partners",
    "partner_ip_allowlists",
    "organizations",
    "sites",
    "device_groups",
    "devices",
    "roles",
    "users",
    "system_memberships",
    "partner_memberships",
    "org_memberships",
    "api_keys",
    "enrollment_keys",
    "device_commands",
    "device_credentials",
    "agent_ip_history",
    "device_heartbeats",
    "remote_sessions",
    "remote_session_tickets",
    "remote_session_transcripts",
    "webhook_subscriptions",
    "webhook_deliveries",
    "webhook_delivery_attempts",
    "mcp_sessions",
    "approval_requests",
    "ai_tool_policies",
];

async fn run_matrix(disable_rls: bool) {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let tag = Uuid::new_v4().simple().to_string();
    let tag = &tag[..12];

    // the victim: partner V, organization V1 (sites S1, S2), organization V2
    let vp = fx.partner().await;
    let v1 = fx.org(vp).await;
    let v2 = fx.org(vp).await;
    let s1 = fx.site(v1).await;
    let s2 = fx.site(v1).await;
    let g1 = fx.group(v1, s1).await;
    let d1 = fx.device(v1, s1).await;
    let _d2 = fx.device(v1, s2).await;
    let u1 = fx.org_user(vp, v1, SeededRole::OrgTechnician, None).await;
    let r1 = custom_role(
        &fx,
        *vp.as_uuid(),
        &format!("victim-role-{tag}"),
        "organization",
        &["devices:read"],
    )
    .await;
    let k1 = api_key_row(&fx, *v1.as_uuid(), &format!("victim-apikey-{tag}")).await;
    let e1 = enrollment_key_row(
        &fx,
        *v1.as_uuid(),
        *s1.as_uuid(),
        &format!("victim-ekey-{tag}"),
    )
    .await;
    let names = vec![
        format!("victim-org-{tag}"),
        format!("victim-site-{tag}"),
        format!("victim-group-{tag}"),
        format!("victim-host-{tag}"),
        format!("victim-user-{tag}"),
    ];
    exec_text(
        &fx,
        "UPDATE organizations SET name = $2 WHERE id = $1",
        *v1.as_uuid(),
        &[&names[0]],
    )
    .await;
    exec_text(
        &fx,
        "UPDATE sites SET name = $2 WHERE id = $1",
        *s1.as_uuid(),
        &[&names[1]],
    )
    .await;
    exec_text(
        &fx,
        "UPDATE device_groups SET name = $2 WHERE id = $1",
        g1,
        &[&names[2]],
    )
    .await;
    exec_text(
        &fx,
        "UPDATE devices SET hostname = $2 WHERE id = $1",
        d1,
        &[&names[3]],
    )
    .await;
    exec_text(
        &fx,
        "UPDATE users SET name = $2 WHERE id = $1",
        *u1.id.as_uuid(),
        &[&names[4]],
    )
    .await;
    let mut all_names = names.clone();
    all_names.extend([
        format!("victim-role-{tag}"),
        format!("victim-apikey-{tag}"),
        format!("victim-ekey-{tag}"),
        u1.email.clone(),
    ]);
    // a queued command of the victim device (agent routes: SPEC 8)
    let c1 = Uuid::new_v4();
    fx.exec(
        "INSERT INTO device_commands (id, org_id, site_id, device_id, type, payload)
         SELECT $1, org_id, site_id, id, 'reboot', 'not-an-envelope' FROM devices WHERE id = $2",
        &[c1, d1],
    )
    .await;
    // the victim device's agent credentials, suspended (the suspension review routes)
    fx.exec(
        "INSERT INTO device_credentials (device_id, org_id, agent_hash, suspended,
                                         suspended_reason, suspended_at)
         SELECT id, org_id, repeat('a', 64), true, 'cross_tenant_probe', now()
           FROM devices WHERE id = $1",
        &[d1],
    )
    .await;
    // a pending remote session of the victim user (SPEC 12)
    let rs1 = Uuid::new_v4();
    fx.exec(
        "INSERT INTO remote_sessions (id, org_id, site_id, device_id, user_id, type, cols, rows,
                                      connect_by)
         SELECT $1, org_id, site_id, id, $3, 'terminal', 80, 24, now() + interval '5 minutes'
           FROM devices WHERE id = $2",
        &[rs1, d1, *u1.id.as_uuid()],
    )
    .await;
    // a webhook subscription of the victim org (URL and secret sealed as the server seals
    // them) with one queued delivery
    let wh1 = Uuid::new_v4();
    let seal = |value: &str, column: &str| {
        let field = breeze_crypto::envelope::Field::new("webhook_subscriptions", column).unwrap();
        server.state.secrets.encrypt(value, &field).unwrap()
    };
    let url = seal(&format!("https://victim-hooks-{tag}.example/in"), "url");
    let secret = seal("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret");
    let mut tx = fx.pool().begin().await.unwrap();
    common::system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO webhook_subscriptions (id, org_id, name, url, url_host, events, secret)
         VALUES ($1, $2, $3, $4, $5, ARRAY['device.quarantined'], $6)",
    )
    .bind(wh1)
    .bind(*v1.as_uuid())
    .bind(format!("victim-webhook-{tag}"))
    .bind(&url)
    .bind(format!("victim-hooks-{tag}.example"))
    .bind(&secret)
    .execute(&mut *tx)
    .await
    .unwrap();
    let dl1: Uuid = sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (org_id, subscription_id, event_type, payload, next_attempt_at)
         VALUES ($1, $2, 'device.quarantined', '{}', now() + interval '1 day') RETURNING id",
    )
    .bind(*v1.as_uuid())
    .bind(wh1)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    all_names.push(format!("victim-webhook-{tag}"));
    all_names.push(format!("victim-hooks-{tag}"));
    // a pending AI approval (held for the victim key, on the victim device) and an AI tool
    // policy of the victim org (SPEC 14)
    let ap1 = Uuid::new_v4();
    fx.exec(
        "INSERT INTO approval_requests (id, org_id, partner_id, site_id, device_id, tool, level,
                                        arguments, argument_digest, api_key_id, requested_by,
                                        requested_at, expires_at)
         SELECT $1, d.org_id, o.partner_id, d.site_id, d.id, 'queue_script', 'high',
                jsonb_build_object('deviceId', d.id, 'content', 'id', 'language', 'sh'),
                repeat('a', 64), $3, $4, now(), now() + interval '1 hour'
           FROM devices d JOIN organizations o ON o.id = d.org_id WHERE d.id = $2",
        &[ap1, d1, k1, *u1.id.as_uuid()],
    )
    .await;
    let sp1 = Uuid::new_v4();
    fx.exec(
        &format!(
            "INSERT INTO sso_providers (id, partner_id, org_id, name, issuer, client_id, client_secret)
             VALUES ($1, $2, $3, 'victim-sso-{tag}', 'https://idp.victim-{tag}.example',
                     'victim-client-{tag}', 'enc:v3:not-a-real-envelope')"
        ),
        &[sp1, *vp.as_uuid(), *v1.as_uuid()],
    )
    .await;
    all_names.push(format!("victim-sso-{tag}"));
    all_names.push(format!("victim-client-{tag}"));
    let po1 = Uuid::new_v4();
    fx.exec(
        "INSERT INTO ai_tool_policies (id, partner_id, org_id, scope_kind, scope_id, tool, level)
         VALUES ($1, $2, $3, 'organization', $3, 'queue_script', 'high')",
        &[po1, *vp.as_uuid(), *v1.as_uuid()],
    )
    .await;
    let v = Victim {
        partner: *vp.as_uuid(),
        org: *v1.as_uuid(),
        site: *s1.as_uuid(),
        other_site: *s2.as_uuid(),
        group: g1,
        device: d1,
        user: *u1.id.as_uuid(),
        role: r1,
        api_key: k1,
        enrollment_key: e1,
        command: c1,
        session: rs1,
        family: fx.open_family(u1.id).await,
        webhook: wh1,
        delivery: dl1,
        approval: ap1,
        policy: po1,
        sso_provider: sp1,
        names: all_names,
    };

    // the attackers (each with data of its own, so lists are not trivially empty)
    let ap = fx.partner().await;
    let a_org = fx.org(ap).await;
    let a_site = fx.site(a_org).await;
    fx.device(a_org, a_site).await;
    let a = fx
        .partner_user(ap, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let v2_site = fx.site(v2).await;
    fx.device(v2, v2_site).await;
    let b = fx.org_user(vp, v2, SeededRole::OrgAdmin, None).await;
    let c = fx
        .partner_user(vp, SeededRole::PartnerAdmin, "selected", &[v2])
        .await;
    let d = fx.org_user(vp, v1, SeededRole::OrgAdmin, Some(&[s2])).await;

    let every_id = |v: &Victim| -> Vec<String> {
        let mut m: Vec<String> = [
            v.partner,
            v.org,
            v.site,
            v.group,
            v.device,
            v.user,
            v.role,
            v.api_key,
            v.enrollment_key,
            v.approval,
            v.policy,
            v.family,
            v.sso_provider,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        m.extend(v.names.iter().cloned());
        m
    };
    // (a) reaches nothing of partner V; (b) and (c) are inside partner V, so the partner
    // itself and its partner-level roles are theirs to see; (d) is inside organization V1,
    // so only what lives in site S1 is foreign to it.
    let markers_a = every_id(&v);
    let markers_bc: Vec<String> = every_id(&v)
        .into_iter()
        .filter(|m| {
            *m != v.partner.to_string()
                && *m != v.role.to_string()
                && !m.starts_with("victim-role-")
        })
        .collect();
    let markers_d: Vec<String> = [v.site, v.group, v.device, v.enrollment_key]
        .iter()
        .map(ToString::to_string)
        .chain([
            format!("victim-site-{tag}"),
            format!("victim-group-{tag}"),
            format!("victim-host-{tag}"),
            format!("victim-ekey-{tag}"),
        ])
        .collect();
    let attackers = [
        (
            "a: partner admin of another partner",
            mfa_token(&server, &fx, &a).await,
            &markers_a,
        ),
        (
            "b: org admin of a sibling org",
            mfa_token(&server, &fx, &b).await,
            &markers_bc,
        ),
        (
            "c: partner admin, selected without victim org",
            mfa_token(&server, &fx, &c).await,
            &markers_bc,
        ),
        (
            "e: full-scope API key of a sibling org",
            api_key_of(&fx, *v2.as_uuid(), &["*"]).await,
            &markers_bc,
        ),
    ];
    let site_attacker = (
        "d: org admin limited to another site",
        mfa_token(&server, &fx, &d).await,
        &markers_d,
    );

    // positive control: the victim's own partner admin reaches every GET route the matrix
    // fills, so the ids are right and a denial below means a refusal, not a typo
    let owner = fx
        .partner_user(vp, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let owner_token = mfa_token(&server, &fx, &owner).await;
    let mut controls = 0usize;
    for r in &routes::all() {
        let meta = r.meta;
        let params = path_params(meta.path);
        if meta.method != "GET"
            || params.is_empty()
            || params == ["partnerId"]
            || NO_OWNER_CONTROL.contains(&meta.path)
            || !matches!(
                meta.access,
                Access::Permission(_) | Access::PlatformAdmin | Access::Authenticated
            )
        {
            continue;
        }
        let url = fill(meta.path, &v);
        let (status, text) = call(&server, Auth::Bearer(&owner_token), "GET", &url, None).await;
        assert_eq!(status, 200, "owner control GET {url}: {text}");
        controls += 1;
    }
    assert!(controls >= 6, "only {controls} owner controls ran");
    // and each attacker is a working principal: it lists its own devices
    for (who, token, _) in attackers.iter().chain([&site_attacker]) {
        let (status, text) = call(&server, auth_of(token), "GET", "/api/v1/devices", None).await;
        assert_eq!(status, 200, "{who} cannot list devices: {text}");
        assert!(
            text.contains("\"items\":[{"),
            "{who} sees no device of its own: {text}"
        );
    }

    if disable_rls {
        let su = server.db.superuser_pool().await;
        for t in RLS_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY"
            )))
            .execute(&su)
            .await
            .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {t} DISABLE ROW LEVEL SECURITY"
            )))
            .execute(&su)
            .await
            .unwrap();
        }
        // the switch took: the runtime role now sees every organization
        let app = server.db.pool("breeze_app").await;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
            .fetch_one(&app)
            .await
            .unwrap();
        assert!(n >= 3, "row-level security is still on");
    }
    let before = snapshots(&fx, &v).await;
    let mut failures = Vec::new();
    let mut probed = 0usize;
    let table = routes::all();
    assert!(table.len() >= 40, "the route table looks truncated");
    for r in &table {
        let meta = r.meta;
        if !matches!(
            meta.access,
            Access::Permission(_) | Access::PlatformAdmin | Access::Authenticated
        ) {
            continue;
        }
        let params = path_params(meta.path);
        for p in &params {
            assert!(
                param_id(&v, p).is_some(),
                "unknown path parameter `{p}` in {} {}: add it to param_id",
                meta.method,
                meta.path
            );
        }
        if params.is_empty() {
            let class = CLASSIFIED
                .iter()
                .find(|(m, p, _)| *m == meta.method && *p == meta.path)
                .map(|(_, _, c)| *c)
                .unwrap_or_else(|| {
                    panic!(
                        "{} {} has no tenant path parameter and is not in CLASSIFIED",
                        meta.method, meta.path
                    )
                });
            if class == Class::BodyTargets {
                let body = body_for(&v, meta.method, meta.path)
                    .unwrap_or_else(|| panic!("no matrix body for {} {}", meta.method, meta.path));
                for (who, token, markers) in attackers.iter().chain([&site_attacker]) {
                    let (status, text) = call(
                        &server,
                        auth_of(token),
                        meta.method,
                        meta.path,
                        body.as_ref(),
                    )
                    .await;
                    probed += 1;
                    let leaked = leaks(&text, markers);
                    if !matches!(status, 403 | 404) || !leaked.is_empty() {
                        failures.push(format!(
                            "{who}: {} {} -> {status} (want 403/404), leaked {leaked:?}: {text}",
                            meta.method, meta.path
                        ));
                    }
                }
            }
            if class == Class::List {
                for (who, token, markers) in attackers.iter().chain([&site_attacker]) {
                    let (status, body) =
                        call(&server, auth_of(token), "GET", meta.path, None).await;
                    probed += 1;
                    let leaked = leaks(&body, markers);
                    if !leaked.is_empty() || status >= 500 {
                        failures.push(format!(
                            "{who}: GET {} -> {status}, leaked {leaked:?}",
                            meta.path
                        ));
                    }
                }
            }
            continue;
        }
        let body = body_for(&v, meta.method, meta.path).unwrap_or_else(|| {
            panic!(
                "no matrix body for {} {}: add one to body_for",
                meta.method, meta.path
            )
        });
        let url = fill(meta.path, &v);
        let site_level = params
            .iter()
            .any(|p| SITE_LEVEL_PARAMS.contains(&p.as_str()));
        let mut runs: Vec<&(&str, String, &Vec<String>)> = attackers.iter().collect();
        if site_level {
            runs.push(&site_attacker);
        }
        for (who, token, markers) in runs {
            let (status, text) =
                call(&server, auth_of(token), meta.method, &url, body.as_ref()).await;
            probed += 1;
            let leaked = leaks(&text, markers);
            if !matches!(status, 403 | 404) || !leaked.is_empty() {
                failures.push(format!(
                    "{who}: {} {} -> {status} (want 403/404), leaked {leaked:?}: {text}",
                    meta.method, meta.path
                ));
            }
        }
        // attacker (d) on lists of its own organization: no site-S1 row may show
        if !site_level && meta.method == "GET" && params == ["orgId"] {
            let (who, token, markers) = &site_attacker;
            let (status, text) = call(&server, auth_of(token), "GET", &url, None).await;
            probed += 1;
            let leaked = leaks(&text, markers);
            if !leaked.is_empty() || status >= 500 {
                failures.push(format!(
                    "{who}: GET {} -> {status}, leaked {leaked:?}",
                    meta.path
                ));
            }
        }
    }

    // the browser socket of the victim session: no ticket, or a made-up one, opens nothing
    for offered in [
        None,
        Some("breeze.terminal.v1, breeze.ticket.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let url = server.url(&format!("/api/v1/remote-sessions/{}/ws", v.session));
        let mut req = server.http.get(&url);
        if let Some(p) = offered {
            req = req
                .header("sec-websocket-protocol", p)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        }
        let res = req.send().await.unwrap();
        probed += 1;
        if !matches!(res.status().as_u16(), 400 | 401 | 403 | 404 | 426) {
            failures.push(format!(
                "ticketless socket of the victim session -> {}",
                res.status()
            ));
        }
    }

    // list filters naming victim ids
    for q in [
        format!("/api/v1/devices?orgId={}", v.org),
        format!("/api/v1/devices?siteId={}", v.site),
        format!("/api/v1/devices?orgId={}&siteId={}", v.org, v.site),
        format!("/api/v1/audit?orgId={}", v.org),
        format!("/api/v1/audit/verify?orgId={}", v.org),
        format!("/api/v1/audit/export?orgId={}", v.org),
    ] {
        for (who, token, markers) in attackers.iter().chain([&site_attacker]) {
            let (status, text) = call(&server, auth_of(token), "GET", &q, None).await;
            probed += 1;
            let leaked = leaks(&text, markers);
            if !leaked.is_empty() || status >= 500 {
                failures.push(format!("{who}: GET {q} -> {status}, leaked {leaked:?}"));
            }
        }
    }

    let after = snapshots(&fx, &v).await;
    for (k, b) in &before {
        if after.get(k) != Some(b) {
            failures.push(format!(
                "victim row changed: {k}: {b:?} -> {:?}",
                after.get(k)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} matrix failures (of {probed} probes):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(probed > 100, "only {probed} probes ran");
}

#[test]
fn classification_table_has_no_stale_or_duplicate_entries() {
    let table = routes::all();
    for (m, p, _) in CLASSIFIED {
        let hits = table
            .iter()
            .filter(|r| r.meta.method == *m && r.meta.path == *p)
            .count();
        assert_eq!(
            hits, 1,
            "{m} {p} is classified but is not exactly one route"
        );
        assert!(
            path_params(p).is_empty(),
            "{m} {p} has path parameters: use the matrix"
        );
    }
}
