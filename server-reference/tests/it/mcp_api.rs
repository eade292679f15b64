//! The MCP endpoint and approvals (SPEC 14), in process against PostgreSQL, with a raw
//! JSON-RPC client so every status, header and error code is asserted. The official SDK
//! clients and the real agent are in `mcp_e2e`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines,
    reason = "test code"
)]

use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgId, PartnerId};
use breeze_crypto::totp::TotpSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::agents::mfa_token;
use crate::common::auth::{audit_rows, exec, scalar};
use crate::common::mcp::{Raw, ai_key, code, decide, json_call, with_totp};
use crate::common::{FixtureUser, Fixtures, TestServer};
use reqwest::Method;

/// One organization with a device, an AI key made by an Org Admin (the creator), a second
/// Org Admin with a real TOTP secret (the approver), and a second organization with a
/// device of its own.
struct Env {
    server: TestServer,
    fx: Fixtures,
    partner: PartnerId,
    org: OrgId,
    device: Uuid,
    other_device: Uuid,
    creator: FixtureUser,
    creator_token: String,
    approver_token: String,
    approver_totp: TotpSecret,
    key: String,
}

async fn env_with(edit: impl FnOnce(&mut Vec<(String, String)>)) -> Env {
    let server = TestServer::start_with(edit).await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let device = fx.device(org, site).await;
    let other_org = fx.org(partner).await;
    let other_site = fx.site(other_org).await;
    let other_device = fx.device(other_org, other_site).await;
    let creator = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let creator_token = mfa_token(&server, &fx, &creator).await;
    let approver = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let approver_totp = with_totp(&server, &fx, &approver).await;
    let approver_token = mfa_token(&server, &fx, &approver).await;
    let key = ai_key(
        &server.http,
        &server.url(""),
        &creator_token,
        *org.as_uuid(),
        &["ai:read", "ai:write", "ai:execute"],
    )
    .await;
    Env {
        server,
        fx,
        partner,
        org,
        device,
        other_device,
        creator,
        creator_token,
        approver_token,
        approver_totp,
        key,
    }
}

async fn env() -> Env {
    env_with(|_| {}).await
}

impl Env {
    fn base(&self) -> String {
        self.server.url("")
    }

    /// Another Org Admin with a real TOTP secret: each approval decision in a test uses a
    /// fresh one, because a TOTP step is usable once per user.
    async fn approver(&self) -> (String, TotpSecret) {
        let user = self
            .fx
            .org_user(self.partner, self.org, SeededRole::OrgAdmin, None)
            .await;
        let totp = with_totp(&self.server, &self.fx, &user).await;
        (mfa_token(&self.server, &self.fx, &user).await, totp)
    }

    /// `verb` on approval `id` by a fresh approver with a valid code.
    async fn decide_fresh(&self, id: &str, verb: &str) -> (u16, Value) {
        let (token, totp) = self.approver().await;
        let body = json!({"code": code(&totp, 0)});
        decide(&self.server.http, &self.base(), &token, id, verb, body).await
    }

    async fn client(&self, key: &str) -> Raw {
        let mut c = Raw::new(&self.server.http, &self.base(), key);
        let a = c.initialize().await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        c
    }
}

fn script_args(device: Uuid, content: &str) -> Value {
    json!({"deviceId": device, "content": content, "language": "sh"})
}

#[tokio::test]
async fn sessions_reads_and_protocol_errors() {
    let e = env().await;
    let mut c = Raw::new(&e.server.http, &e.base(), &e.key);
    let init = c.initialize().await;
    assert_eq!(init.status, 200, "{:?}", init.body);
    assert_eq!(init.body["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init.body["result"]["serverInfo"]["name"], "breeze-server");
    let sid = init.session.clone().unwrap();
    assert_eq!(sid.len(), 48);
    // an unknown version is answered with ours
    let other = Raw::new(&e.server.http, &e.base(), &e.key)
        .rpc("initialize", json!({"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}))
        .await;
    assert_eq!(other.body["result"]["protocolVersion"], "2025-11-25");

    // a notification: 202, no body
    let n = c
        .post_bytes(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec())
        .await;
    assert_eq!(n.status, 202);
    assert_eq!(n.body, Value::Null);

    let tools = c.rpc("tools/list", json!({})).await;
    let names: Vec<&str> = tools.body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "get_command_result",
            "get_device",
            "list_commands",
            "list_devices",
            "quarantine_device",
            "query_audit_log",
            "queue_script",
            "verify_audit_chain"
        ]
    );

    let list = c.call("list_devices", json!({})).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["result"]["isError"], false);
    let ids: Vec<&str> = list.content()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [e.device.to_string()]);
    let got = c.call("get_device", json!({"deviceId": e.device})).await;
    assert_eq!(got.content()["device"]["id"], e.device.to_string());
    let verify = c.call("verify_audit_chain", json!({})).await;
    assert_eq!(verify.content()["ok"], true, "{:?}", verify.body);
    let audit = c
        .call(
            "query_audit_log",
            json!({"action": "ai.tool.*", "limit": 10}),
        )
        .await;
    assert!(!audit.content()["items"].as_array().unwrap().is_empty());

    // every call is in the chain with its tier and decision
    let rows = audit_rows(&e.fx, "ai.tool.called").await;
    let listed = rows
        .iter()
        .find(|r| r.details()["tool"] == "list_devices")
        .unwrap();
    assert_eq!(listed.result, "success");
    assert_eq!(listed.actor_type, "api_key");
    assert_eq!(listed.details()["tier"], "low");
    assert_eq!(listed.details()["decision"], "run");
    assert_eq!(
        listed.details()["argumentsDigest"].as_str().unwrap().len(),
        64
    );
    assert_eq!(listed.details()["requestedFor"], e.creator.id.to_string());

    // JSON-RPC errors
    assert_eq!(
        c.post_bytes(b"{not json".to_vec()).await.rpc_code(),
        Some(-32700)
    );
    let batch = c
        .post_bytes(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#.to_vec())
        .await;
    assert_eq!((batch.status, batch.rpc_code()), (400, Some(-32600)));
    assert_eq!(batch.reason(), Some("batch_not_supported"));
    assert_eq!(
        c.rpc("resources/list", json!({})).await.rpc_code(),
        Some(-32601)
    );
    let bad = c.call("get_device", json!({"deviceId": "nope"})).await;
    assert_eq!((bad.status, bad.rpc_code()), (200, Some(-32602)));
    let extra = c
        .call("get_device", json!({"deviceId": e.device, "x": 1}))
        .await;
    assert_eq!(extra.rpc_code(), Some(-32602));
    assert_eq!(
        c.call("no_such_tool", json!({})).await.reason(),
        Some("unknown_tool")
    );
    assert_eq!(c.rpc("ping", json!({})).await.body["result"], json!({}));

    // over 64 KiB: 413 before anything else
    let big =
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(70_000)}});
    assert_eq!(
        c.post_bytes(serde_json::to_vec(&big).unwrap()).await.status,
        413
    );

    // no session, an unknown session, GET, then DELETE ends it
    let mut none = c.clone();
    none.session = None;
    let a = none.rpc("tools/list", json!({})).await;
    assert_eq!((a.status, a.reason()), (400, Some("missing_session")));
    let mut unknown = c.clone();
    unknown.session = Some("x".repeat(48));
    assert_eq!(unknown.rpc("tools/list", json!({})).await.status, 404);
    let get = e
        .server
        .http
        .get(e.server.url("/api/v1/mcp"))
        .header("x-api-key", &e.key)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    // only the session id's SHA-256 is stored
    let expect = breeze_crypto::credentials::SessionToken::parse(&sid)
        .unwrap()
        .hash()
        .to_hex();
    let stored: i64 = scalar(
        &e.fx,
        &format!("SELECT count(*) FROM mcp_sessions WHERE org_id = $1 AND id_hash = '{expect}'"),
        *e.org.as_uuid(),
    )
    .await;
    assert_eq!(stored, 1);
    // each use of the key is recorded (with the session's touch)
    let used: i64 = scalar(
        &e.fx,
        "SELECT max(usage_count) FROM api_keys WHERE org_id = $1 AND last_used_at IS NOT NULL",
        *e.org.as_uuid(),
    )
    .await;
    assert!(used >= 8, "{used}");
    let del = e
        .server
        .http
        .delete(e.server.url("/api/v1/mcp"))
        .header("x-api-key", &e.key)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status().as_u16(), 204);
    assert_eq!(c.rpc("tools/list", json!({})).await.status, 404);
}

#[tokio::test]
async fn keys_scopes_and_the_creators_current_permissions() {
    let e = env().await;
    let http = &e.server.http;
    let base = e.base();
    let org = *e.org.as_uuid();

    // no key, a bad key, a key naming no ai scope, wildcards: 401 -32001 at initialize
    let mut anon = Raw::new(http, &base, "");
    let a = anon.initialize().await;
    assert_eq!((a.status, a.rpc_code()), (401, Some(-32001)));
    for scopes in [&["devices:*"][..], &["*:read", "devices:execute"]] {
        let k = ai_key(http, &base, &e.creator_token, org, scopes).await;
        let a = Raw::new(http, &base, &k).initialize().await;
        assert_eq!(
            (a.status, a.reason()),
            (401, Some("missing_ai_scope")),
            "{scopes:?}"
        );
    }
    // `*` (which only a platform admin could grant) and `ai:*`: written as rows
    for scope in ["*", "ai:*", "*:execute"] {
        let raw = breeze_crypto::credentials::ApiKey::generate().unwrap();
        let mut tx = e.fx.pool().begin().await.unwrap();
        crate::common::system_context(&mut tx).await;
        sqlx::query(
            "INSERT INTO api_keys (id, org_id, name, key_prefix, key_hash, scopes, created_by)
             VALUES ($1, $2, 'wild', $3, $4, ARRAY[$5], $6)",
        )
        .bind(Uuid::new_v4())
        .bind(org)
        .bind(raw.display_prefix())
        .bind(raw.hash().to_hex())
        .bind(scope)
        .bind(e.creator.id.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let a = Raw::new(http, &base, raw.expose_secret())
            .initialize()
            .await;
        assert_eq!(
            (a.status, a.reason()),
            (401, Some("missing_ai_scope")),
            "{scope}"
        );
    }
    // a read key lists read tools only, and cannot queue a script
    let read_key = ai_key(http, &base, &e.creator_token, org, &["ai:read"]).await;
    let r = e.client(&read_key).await;
    let tools = r.rpc("tools/list", json!({})).await;
    assert!(
        tools.body["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["_meta"]["breeze/scope"] == "ai:read")
    );
    let denied = r.call("queue_script", script_args(e.device, "id")).await;
    assert_eq!(
        (denied.status, denied.rpc_code(), denied.reason()),
        (200, Some(-32001), Some("missing_ai_scope"))
    );

    // the creator loses devices:execute (and devices:write): the key loses them at once
    let c = e.client(&e.key).await;
    exec(
        &e.fx,
        &format!(
            "UPDATE org_memberships SET role_id = '{}' WHERE user_id = $1",
            crate::common::seeded(SeededRole::OrgViewer).as_uuid()
        ),
        *e.creator.id.as_uuid(),
    )
    .await;
    let lost = c.call("queue_script", script_args(e.device, "id")).await;
    assert_eq!(lost.rpc_code(), Some(-32001));
    assert_eq!(lost.reason(), Some("creator_lacks_permission"));
    // reads the viewer still holds keep working
    assert_eq!(
        c.call("list_devices", json!({})).await.body["result"]["isError"],
        false
    );
    let rows = audit_rows(&e.fx, "ai.tool.called").await;
    let codes: Vec<&str> = rows
        .iter()
        .filter(|r| r.result == "denied")
        .filter_map(|r| r.details()["code"].as_str())
        .collect();
    assert!(codes.contains(&"missing_ai_scope"), "{codes:?}");
    assert!(codes.contains(&"creator_lacks_permission"), "{codes:?}");
    // a deactivated creator: the key stops authenticating
    exec(
        &e.fx,
        "UPDATE users SET status = 'disabled' WHERE id = $1",
        *e.creator.id.as_uuid(),
    )
    .await;
    let gone = c.rpc("tools/list", json!({})).await;
    assert_eq!(
        (gone.status, gone.reason()),
        (401, Some("key_creator_inactive"))
    );
}

#[tokio::test]
async fn another_organizations_device_is_not_found_and_policies_apply() {
    let e = env().await;
    let c = e.client(&e.key).await;
    // a device of another organization answers exactly as a device that does not exist
    let foreign = c
        .call("get_device", json!({"deviceId": e.other_device}))
        .await;
    let missing = c
        .call("get_device", json!({"deviceId": Uuid::new_v4()}))
        .await;
    assert_eq!(foreign.body["result"], missing.body["result"]);
    assert_eq!(foreign.body["result"]["isError"], true);
    assert_eq!(foreign.content()["error"], "not_found");
    // arguments the agent would refuse are refused before anything is held
    let mut klingon = script_args(e.device, "id");
    klingon["language"] = json!("klingon");
    let bad = c.call("queue_script", klingon).await;
    assert_eq!(
        (bad.rpc_code(), bad.reason()),
        (Some(-32602), Some("invalid_arguments"))
    );
    let mut forever = script_args(e.device, "id");
    forever["timeoutSeconds"] = json!(86_401);
    assert_eq!(
        c.call("queue_script", forever).await.rpc_code(),
        Some(-32602)
    );
    let queued = c
        .call("queue_script", script_args(e.other_device, "id"))
        .await;
    assert_eq!(queued.content()["error"], "not_found");
    let held: i64 = scalar(
        &e.fx,
        "SELECT count(*) FROM approval_requests WHERE org_id = $1",
        *e.org.as_uuid(),
    )
    .await;
    assert_eq!(held, 0);

    // a critical tool is blocked under any policy: lowering it is refused, calling it -32003
    let http = &e.server.http;
    let policies = e.server.url(&format!("/api/v1/orgs/{}/ai-policies", e.org));
    let put = |body: Value| {
        json_call(
            http,
            Method::PUT,
            policies.clone(),
            &e.creator_token,
            Some(body),
        )
    };
    let (s, b) =
        put(json!({"scope": "organization", "tool": "decommission_device", "level": "low"})).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (422, Some("critical_cannot_be_lowered"))
    );
    let crit = c
        .call("decommission_device", json!({"deviceId": e.device}))
        .await;
    assert_eq!(
        (crit.rpc_code(), crit.reason()),
        (Some(-32003), Some("policy_blocked"))
    );

    // the organization raises queue_script to critical: blocked; a site override lower is
    // ignored (critical is a floor) and the ignored override is in the audit record
    let (s, raised) =
        put(json!({"scope": "organization", "tool": "queue_script", "level": "critical"})).await;
    assert_eq!(s, 200, "{raised}");
    let site: Uuid = scalar(&e.fx, "SELECT site_id FROM devices WHERE id = $1", e.device).await;
    let (s, _) =
        put(json!({"scope": "site", "scopeId": site, "tool": "queue_script", "level": "low"}))
            .await;
    assert_eq!(s, 200);
    let blocked = c.call("queue_script", script_args(e.device, "id")).await;
    assert_eq!(blocked.rpc_code(), Some(-32003));
    let rows = audit_rows(&e.fx, "ai.tool.called").await;
    let last = rows
        .iter()
        .rev()
        .find(|r| r.details()["tool"] == "queue_script")
        .unwrap();
    assert_eq!(last.details()["decision"], "blocked");
    assert_eq!(last.details()["ignoredOverride"]["kind"], "site");
    // removing the organization's override: the site's low level now applies (runs)
    let (_, list) = json_call(http, Method::GET, policies.clone(), &e.creator_token, None).await;
    let org_row = list["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["scope"] == "organization")
        .unwrap();
    let url = format!("{policies}/{}", org_row["id"].as_str().unwrap());
    let (del, _) = json_call(http, Method::DELETE, url, &e.creator_token, None).await;
    assert_eq!(del, 204);
    let ran = c.call("queue_script", script_args(e.device, "id")).await;
    assert_eq!(ran.content()["status"], "pending", "{:?}", ran.body);
    // a medium tool runs (and notifies through the audit stream and its webhook event)
    let q = c
        .call("quarantine_device", json!({"deviceId": e.device}))
        .await;
    assert_eq!(
        q.content()["device"]["status"],
        "quarantined",
        "{:?}",
        q.body
    );
    let rows = audit_rows(&e.fx, "device.quarantine").await;
    assert_eq!(rows.last().unwrap().actor_type, "api_key");
}

#[tokio::test]
async fn approvals_four_eyes_fresh_factor_and_one_execution() {
    let e = env().await;
    let http = &e.server.http;
    let base = e.base();
    let c = e.client(&e.key).await;
    let args = script_args(e.device, "uname -a");
    let held = c.call("queue_script", args.clone()).await;
    assert_eq!(
        held.content()["status"],
        "approval_required",
        "{:?}",
        held.body
    );
    let id = held.content()["approvalId"].as_str().unwrap().to_owned();
    let stored: String = scalar(
        &e.fx,
        "SELECT argument_digest FROM approval_requests WHERE id = $1",
        id.parse().unwrap(),
    )
    .await;
    assert_eq!(held.content()["argumentsDigest"], stored);

    // executing before approval
    let mut with_id = args.clone();
    with_id["approvalId"] = json!(id);
    let early = c.call("queue_script", with_id.clone()).await;
    assert_eq!(
        (early.rpc_code(), early.reason()),
        (Some(-32003), Some("approval_not_approved"))
    );

    // the inbox shows the exact arguments
    let url = format!("{base}/api/v1/approvals?status=pending");
    let (_, inbox) = json_call(http, Method::GET, url, &e.approver_token, None).await;
    assert_eq!(inbox["items"][0]["arguments"]["content"], "uname -a");
    // a page size is query text like any other (it was refused as "the wrong type")
    let url = format!("{base}/api/v1/approvals?status=pending&limit=1");
    let (s, page) = json_call(http, Method::GET, url, &e.approver_token, None).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let url = format!("{base}/api/v1/approvals?limit=101");
    let (s, _) = json_call(http, Method::GET, url, &e.approver_token, None).await;
    assert_eq!(s, 400);

    // the key's creator may not approve (four eyes), even with a valid code
    let creator_totp = with_totp(&e.server, &e.fx, &e.creator).await;
    let (s, b) = decide(
        http,
        &base,
        &e.creator_token,
        &id,
        "approve",
        json!({"code": code(&creator_totp, 0)}),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (403, Some("self_approval")));
    // no code, a wrong code
    let (s, b) = decide(http, &base, &e.approver_token, &id, "approve", json!({})).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (403, Some("fresh_factor_required"))
    );
    let (s, b) = decide(
        http,
        &base,
        &e.approver_token,
        &id,
        "approve",
        json!({"code": "000000"}),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (403, Some("invalid_mfa_code")));
    // an API key never approves (users only, MFA)
    let res = http
        .post(format!("{base}/api/v1/approvals/{id}/approve"))
        .header("x-api-key", &e.key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(matches!(res.status().as_u16(), 401 | 403));

    let the_code = code(&e.approver_totp, 0);
    let (s, b) = decide(
        http,
        &base,
        &e.approver_token,
        &id,
        "approve",
        json!({"code": the_code, "reason": "ok"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "approved");
    // a second decision, even with a fresh code of another approver: 409
    let (s, b) = e.decide_fresh(&id, "deny").await;
    assert_eq!(
        (s, b["error"].as_str()),
        (409, Some("approval_already_decided"))
    );

    // other arguments: refused; the approved ones: run once
    let mut changed = with_id.clone();
    changed["content"] = json!("rm -rf /");
    let c2 = c.call("queue_script", changed).await;
    assert_eq!(c2.reason(), Some("arguments_changed"));
    let ran = c.call("queue_script", with_id.clone()).await;
    assert_eq!(ran.content()["status"], "pending", "{:?}", ran.body);
    let command: Uuid = ran.content()["commandId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let again = c.call("queue_script", with_id.clone()).await;
    assert_eq!(again.reason(), Some("approval_already_executed"));
    let commands: i64 = scalar(
        &e.fx,
        "SELECT count(*) FROM device_commands WHERE device_id = $1",
        e.device,
    )
    .await;
    assert_eq!(commands, 1);
    let result_ref: String = scalar(
        &e.fx,
        "SELECT result_ref FROM approval_requests WHERE id = $1",
        id.parse().unwrap(),
    )
    .await;
    assert_eq!(result_ref, command.to_string());

    // the approver's used code cannot decide another request (replay)
    let held2 = c
        .call("queue_script", script_args(e.device, "hostname"))
        .await;
    let id2 = held2.content()["approvalId"].as_str().unwrap().to_owned();
    let (s, b) = decide(
        http,
        &base,
        &e.approver_token,
        &id2,
        "approve",
        json!({"code": the_code}),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (403, Some("invalid_mfa_code")));
    // approved more than ten minutes ago: the window is closed
    let (s, _) = e.decide_fresh(&id2, "approve").await;
    assert_eq!(s, 200);
    exec(&e.fx, "UPDATE approval_requests SET decided_at = decided_at - interval '11 minutes' WHERE id = $1", id2.parse().unwrap()).await;
    let mut late = script_args(e.device, "hostname");
    late["approvalId"] = json!(id2);
    let late = c.call("queue_script", late).await;
    assert_eq!(late.reason(), Some("approval_execution_window_closed"));

    // a request older than an hour can no longer be decided; a denied one never runs
    let held3 = c
        .call("queue_script", script_args(e.device, "whoami"))
        .await;
    let id3 = held3.content()["approvalId"].as_str().unwrap().to_owned();
    exec(&e.fx, "UPDATE approval_requests SET requested_at = requested_at - interval '61 minutes' WHERE id = $1", id3.parse().unwrap()).await;
    let (s, b) = e.decide_fresh(&id3, "approve").await;
    assert_eq!(
        (s, b["error"].as_str()),
        (409, Some("approval_expired")),
        "{b}"
    );
    let held4 = c.call("queue_script", script_args(e.device, "date")).await;
    let id4 = held4.content()["approvalId"].as_str().unwrap().to_owned();
    let (s, _) = e.decide_fresh(&id4, "deny").await;
    assert_eq!(s, 200);
    let mut denied = script_args(e.device, "date");
    denied["approvalId"] = json!(id4);
    assert_eq!(
        c.call("queue_script", denied).await.reason(),
        Some("approval_not_approved")
    );
    // another key (even of the same creator) cannot execute this key's approval
    let other = ai_key(
        http,
        &base,
        &e.creator_token,
        *e.org.as_uuid(),
        &["ai:execute"],
    )
    .await;
    let o = e.client(&other).await;
    assert_eq!(
        o.call("queue_script", with_id).await.reason(),
        Some("approval_not_found")
    );

    // every step is in the chain, refusals with their codes
    let requested = audit_rows(&e.fx, "approval.requested").await;
    assert_eq!(requested.len(), 4);
    let approved = audit_rows(&e.fx, "approval.approved").await;
    let approved_codes: Vec<(&str, Option<&str>)> = approved
        .iter()
        .map(|r| (r.result.as_str(), r.details()["code"].as_str()))
        .collect();
    for want in [
        ("denied", Some("self_approval")),
        ("denied", Some("fresh_factor_required")),
        ("denied", Some("bad_code")),
        ("denied", Some("replayed_step")),
        ("success", None),
    ] {
        assert!(
            approved_codes.contains(&want),
            "{want:?} in {approved_codes:?}"
        );
    }
    let executed = audit_rows(&e.fx, "approval.executed").await;
    let exec_codes: Vec<(&str, Option<&str>)> = executed
        .iter()
        .map(|r| (r.result.as_str(), r.details()["code"].as_str()))
        .collect();
    for want in [
        ("success", None),
        ("denied", Some("arguments_changed")),
        ("denied", Some("approval_already_executed")),
        ("denied", Some("approval_execution_window_closed")),
        ("denied", Some("approval_not_approved")),
    ] {
        assert!(exec_codes.contains(&want), "{want:?} in {exec_codes:?}");
    }
    assert_eq!(
        audit_rows(&e.fx, "approval.denied")
            .await
            .iter()
            .filter(|r| r.result == "success")
            .count(),
        1
    );
    crate::common::agents::verify_all_chains(&e.server, &e.fx).await;
}

#[tokio::test]
async fn session_cap_foreign_sessions_and_call_limits() {
    let e = env_with(|s| s.push(("BREEZE_MCP_CALLS_PER_MIN_KEY".into(), "40".into()))).await;
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(e.client(&e.key).await);
    }
    let mut sixth = Raw::new(&e.server.http, &e.base(), &e.key);
    let a = sixth.initialize().await;
    assert_eq!(
        (a.status, a.rpc_code(), a.reason()),
        (429, Some(-32029), Some("session_cap"))
    );
    // a session presented by another key: refused and audited, not served
    let other = ai_key(
        &e.server.http,
        &e.base(),
        &e.creator_token,
        *e.org.as_uuid(),
        &["ai:read"],
    )
    .await;
    let mut thief = Raw::new(&e.server.http, &e.base(), &other);
    thief.session.clone_from(&sessions[0].session);
    let t = thief.rpc("tools/list", json!({})).await;
    assert_eq!(
        (t.status, t.rpc_code(), t.reason()),
        (403, Some(-32001), Some("session_of_another_key"))
    );
    assert_eq!(audit_rows(&e.fx, "mcp.session.refused").await.len(), 1);
    // ending one frees a place
    let del = e
        .server
        .http
        .delete(e.server.url("/api/v1/mcp"))
        .header("x-api-key", &e.key)
        .header("mcp-session-id", sessions[0].session.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(del.status().as_u16(), 204);
    assert_eq!(sixth.initialize().await.status, 200);
    // the per-key call limit: 40 a minute (initialize calls counted), then 429 -32029
    let mut limited = None;
    for _ in 0..45 {
        let a = sessions[1].rpc("ping", json!({})).await;
        if a.status == 429 {
            limited = Some(a);
            break;
        }
    }
    let limited = limited.expect("the per-key limit never answered 429");
    assert_eq!(
        (limited.rpc_code(), limited.reason()),
        (Some(-32029), Some("mcp_key_limit"))
    );
}
