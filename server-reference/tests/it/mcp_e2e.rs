//! The MCP endpoint end to end (SPEC 14) with clients we did not write: the official `mcp`
//! Python SDK (PyPI) and `@modelcontextprotocol/sdk` (npm), both in
//! `tests/mcp_clients/`, against two real `breeze-server` replicas on one database and the
//! real `breeze-agent`. The Python SDK connects (its default mode probes `server/discover`
//! and falls back to `initialize`), lists tools, reads, and asks for `queue_script`, which
//! is held for approval; a second user approves on the other replica with a TOTP code; the
//! SDK executes the approved call and reads the agent's real output; a replay is refused.
//! The TypeScript SDK initializes, lists tools and calls a read tool. Sessions are shared by
//! the replicas: the per-key cap holds across them and a session presented by another key
//! on the other replica is refused; the organization's call limit (Redis) is one budget.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines,
    reason = "test code"
)]

use std::path::PathBuf;
use std::process::Command;

use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};

use crate::common::agents::mfa_token;
use crate::common::auth::audit_rows;
use crate::common::mcp::{Raw, ai_key, code, decide, with_totp};
use crate::common::remote::real_fleet;
use crate::common::webhooks::test_python;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_clients")
}

fn run_json(mut cmd: Command, what: &str) -> Value {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed: {stdout}\n{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{what}: {e}: {stdout}\n{stderr}"))
}

/// The Python SDK client (`mcp_client.py`).
fn python(base: &str, key: &str, command: &str, args: &Value) -> Value {
    let mut cmd = Command::new(test_python());
    cmd.arg(clients_dir().join("mcp_client.py"))
        .arg(format!("{base}/api/v1/mcp"))
        .arg(key)
        .arg(command)
        .arg(args.to_string());
    run_json(cmd, &format!("python mcp {command}"))
}

/// The TypeScript SDK client (`mcp_client.mjs`).
fn node(base: &str, key: &str, tool: &str, args: &Value) -> Value {
    let dir = clients_dir();
    assert!(
        dir.join("node_modules/@modelcontextprotocol/sdk").exists(),
        "run `npm ci` in {} (scripts/test does)",
        dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .arg("mcp_client.mjs")
        .arg(format!("{base}/api/v1/mcp"))
        .arg(key)
        .arg(tool)
        .arg(args.to_string());
    run_json(cmd, "node mcp")
}

#[tokio::test]
async fn official_sdks_an_approval_and_the_real_agent_across_two_replicas() {
    test_python();
    // call limits in Redis, shared by the replicas: 1,000 a minute per key, 200 per org
    // (one key prefix for both: the harness gives each server its own by default)
    let redis = crate::common::redis_url();
    let prefix = format!("breeze-test-mcp-{}:", uuid::Uuid::new_v4().simple());
    let f = real_fleet(&[
        ("REDIS_URL", redis.as_str()),
        ("BREEZE_REDIS_PREFIX", prefix.as_str()),
        ("BREEZE_MCP_CALLS_PER_MIN_KEY", "1000"),
        ("BREEZE_MCP_CALLS_PER_MIN_ORG", "200"),
    ])
    .await;
    let http = reqwest::Client::new();
    let org = *f.org.as_uuid();
    let creator =
        f.fx.org_user(f.partner, f.org, SeededRole::OrgAdmin, None)
            .await;
    let creator_token = mfa_token(&f.harness, &f.fx, &creator).await;
    let approver =
        f.fx.org_user(f.partner, f.org, SeededRole::OrgAdmin, None)
            .await;
    let totp = with_totp(&f.harness, &f.fx, &approver).await;
    let approver_token = mfa_token(&f.harness, &f.fx, &approver).await;
    let key = ai_key(
        &http,
        &f.base_a,
        &creator_token,
        org,
        &["ai:read", "ai:execute"],
    )
    .await;
    let args = json!({"deviceId": f.device, "content": "uname -s; echo breeze-mcp-$((6*7))", "language": "sh"});

    // the Python SDK on replica A: connect, list, read, ask
    let seen = python(&f.base_a, &key, "explore", &args);
    assert_eq!(seen["server"], "breeze-server", "{seen}");
    let version = seen["protocolVersion"].as_str().unwrap();
    assert!(
        breeze_server::mcp::PROTOCOL_VERSIONS.contains(&version),
        "{version}"
    );
    let tools: Vec<&str> = seen["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"queue_script") && tools.contains(&"list_devices"),
        "{tools:?}"
    );
    assert!(
        !tools.contains(&"quarantine_device"),
        "no ai:write, no write tool"
    );
    let ids: Vec<&str> = seen["devices"]["content"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [f.device.to_string()]);
    assert_eq!(
        seen["device"]["content"]["device"]["id"],
        f.device.to_string()
    );
    let held = &seen["held"]["content"];
    assert_eq!(held["status"], "approval_required", "{seen}");
    let approval = held["approvalId"].as_str().unwrap().to_owned();

    // a second user approves on replica B with a TOTP code
    let (s, b) = decide(
        &http,
        &f.base_b,
        &approver_token,
        &approval,
        "approve",
        json!({"code": code(&totp, 0), "reason": "checked"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    // the SDK executes the approved call on replica B, then reads the real output on A
    let mut approved = args.clone();
    approved["approvalId"] = json!(approval);
    let queued = python(
        &f.base_b,
        &key,
        "call",
        &json!({"name": "queue_script", "arguments": approved}),
    );
    assert_eq!(queued["content"]["status"], "pending", "{queued}");
    let command = queued["content"]["commandId"].as_str().unwrap();
    let done = python(
        &f.base_a,
        &key,
        "wait",
        &json!({"deviceId": f.device, "commandId": command}),
    );
    let out = &done["content"]["command"];
    assert_eq!(out["exitCode"], 0, "{done}");
    let stdout = out["stdout"].as_str().unwrap();
    assert!(
        stdout.contains("Linux") && stdout.contains("breeze-mcp-42"),
        "{stdout}"
    );
    // a replay through the SDK: -32003
    let replay = python(
        &f.base_a,
        &key,
        "call",
        &json!({"name": "queue_script", "arguments": approved}),
    );
    assert_eq!(replay["error"]["code"], -32003, "{replay}");
    assert_eq!(replay["error"]["data"]["code"], "approval_already_executed");

    // the TypeScript SDK on replica B: initialize, tools/list, one call
    let ts = node(&f.base_b, &key, "list_devices", &json!({}));
    assert_eq!(ts["server"], "breeze-server", "{ts}");
    assert_eq!(ts["sessionId"].as_str().unwrap().len(), 48);
    assert!(
        ts["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("verify_audit_chain"))
    );
    assert_eq!(
        ts["called"]["content"]["items"][0]["id"],
        f.device.to_string(),
        "{ts}"
    );
    let ts_verify = node(&f.base_b, &key, "verify_audit_chain", &json!({}));
    assert_eq!(ts_verify["called"]["content"]["ok"], true, "{ts_verify}");

    // the SDKs ended their sessions (DELETE); the cap of 5 holds across the replicas
    let mut open = Vec::new();
    for base in [&f.base_a, &f.base_a, &f.base_b, &f.base_a, &f.base_b] {
        let mut c = Raw::new(&http, base, &key);
        assert_eq!(c.initialize().await.status, 200);
        open.push(c);
    }
    for base in [&f.base_a, &f.base_b] {
        let a = Raw::new(&http, base, &key).initialize().await;
        assert_eq!((a.status, a.reason()), (429, Some("session_cap")), "{base}");
    }
    // a session opened on A, presented with another key on B: refused
    let other = ai_key(&http, &f.base_b, &creator_token, org, &["ai:read"]).await;
    let mut thief = Raw::new(&http, &f.base_b, &other);
    thief.session.clone_from(&open[0].session);
    let t = thief.rpc("tools/list", json!({})).await;
    assert_eq!(
        (t.status, t.reason()),
        (403, Some("session_of_another_key"))
    );
    // and the owner's session still works on the other replica
    let mut moved = open[0].clone();
    moved.base.clone_from(&f.base_b);
    assert_eq!(moved.rpc("ping", json!({})).await.status, 200);

    // the organization's call limit is one budget for both replicas: alternating between
    // them, fewer than 200 more calls pass (each replica counting alone would pass ~340)
    let mut admitted = 0;
    let mut limited = None;
    for i in 0..450 {
        let c = if i % 2 == 0 { &open[1] } else { &moved };
        let a = c.rpc("ping", json!({})).await;
        if a.status == 429 {
            limited = Some(a);
            break;
        }
        assert_eq!(a.status, 200);
        admitted += 1;
    }
    let limited = limited.expect("the organization's limit never answered");
    assert_eq!(
        (limited.rpc_code(), limited.reason()),
        (Some(-32029), Some("mcp_org_limit"))
    );
    assert!(
        admitted < 200,
        "{admitted} calls passed: the limit is not shared"
    );

    // every step is in the chain
    for (action, result) in [
        ("approval.requested", "success"),
        ("approval.approved", "success"),
        ("approval.executed", "success"),
        ("approval.executed", "denied"),
        ("mcp.session.refused", "denied"),
    ] {
        assert!(
            audit_rows(&f.fx, action)
                .await
                .iter()
                .any(|r| r.result == result),
            "{action} {result}"
        );
    }
    crate::common::agents::verify_all_chains(&f.harness, &f.fx).await;
}
