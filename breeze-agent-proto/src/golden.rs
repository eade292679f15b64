//! Golden vectors: example inputs of every message and frame with their expected decoding,
//! and command outputs with their redaction ([`redact_vectors`]).
//!
//! `cargo run -p breeze-agent-proto --example gen_vectors` writes them to
//! `vectors/agent-proto/`; the Rust tests replay the checked-in files and fail when they are
//! stale; every binding replays the same files. Each text vector holds the exact input text,
//! so invalid JSON can be a vector too.

use serde::Serialize;
use serde_json::{Value, json};

use crate::binary::BinaryFrame;
use crate::file;
use crate::message::MessageKind;
use crate::redact::redact_secrets;
use crate::remote_path::{self, PathError};

const AGENT_ID: &str = "3f9c1a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60";
const KEY: &str = "9d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e";
const TOKEN_A: &str = "brz_0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const TOKEN_W: &str = "brz_1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a";
const TOKEN_H: &str = "brz_2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b";
const DEVICE: &str = "5a1c8e2b-3d4f-4a6b-8c9d-0e1f2a3b4c5d";
const ORG: &str = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f";
const SITE: &str = "7b2d3f5a-8c9e-4d1b-a2c3-d4e5f6a7b8c9";
const CMD: &str = "8c3e4a6b-9d0f-4e2c-b3d4-e5f6a7b8c9d0";
const SESSION: &str = "9d4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e1";
const PATCH: &str = "0e5a6c8d-1f2b-4a4e-95f6-a7b8c9d0e1f2";
/// `Welcome\n`, standard base64, and its SHA-256.
const WELCOME_B64: &str = "V2VsY29tZQo=";
const WELCOME_SHA256: &str = "0e90e1aa36481e399939d32680dab2005c299f2bb9c3ba6b151ac0cc821fec7a";

/// One text vector: an input of a [`MessageKind`] and what decoding it yields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TextVector {
    /// Unique name (`kind/case`).
    pub name: String,
    /// Which decoder ([`MessageKind::name`]).
    pub kind: &'static str,
    /// The exact input text.
    pub input: String,
    /// The expected outcome.
    pub expect: Value,
}

/// One binary-frame vector.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryVector {
    /// Unique name.
    pub name: String,
    /// The frame, lowercase hex.
    pub input_hex: String,
    /// The expected outcome.
    pub expect: Value,
}

/// One redaction vector: a command output and what [`redact_secrets`] makes of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactVector {
    /// Unique name (`redact/case`).
    pub name: String,
    /// The text as the agent reported it.
    pub input: String,
    /// The text as stored and shown.
    pub output: String,
}

/// What decoding `input` as `kind` yields, in the vector format.
#[must_use]
pub fn expected_outcome(kind: MessageKind, input: &[u8]) -> Value {
    match kind.decode_to_json(input) {
        Ok(decoded) => {
            json!({ "valid": true, "message": decoded.message, "dropped": decoded.dropped })
        }
        Err(err) => {
            let mut out = json!({ "valid": false, "error": err.code(), "issues": err.issues() });
            if let (Some(map), crate::DecodeError::Invalid(invalid)) = (out.as_object_mut(), &err) {
                map.insert("totalIssues".to_owned(), json!(invalid.total_issues));
                if let Some(t) = &invalid.received_type {
                    map.insert("receivedType".to_owned(), json!(t));
                }
            }
            out
        }
    }
}

/// What decoding a binary frame yields, in the vector format.
#[must_use]
pub fn expected_binary_outcome(input: &[u8]) -> Value {
    match BinaryFrame::decode(input) {
        Ok(frame) => json!({
            "valid": true,
            "kind": match frame.kind { crate::BinaryKind::Desktop => "desktop", crate::BinaryKind::Tunnel => "tunnel" },
            "sessionId": frame.session_id.as_str(),
            "dataHex": hex(frame.data),
        }),
        Err(err) => json!({ "valid": false, "error": err.code() }),
    }
}

/// Lowercase hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

struct Builder(Vec<TextVector>);

impl Builder {
    fn text(&mut self, kind: MessageKind, case: &str, input: &str) {
        self.0.push(TextVector {
            name: format!("{}/{case}", kind.name()),
            kind: kind.name(),
            input: input.to_owned(),
            expect: expected_outcome(kind, input.as_bytes()),
        });
    }

    fn json(&mut self, kind: MessageKind, case: &str, input: &Value) {
        self.text(kind, case, &input.to_string());
    }
}

fn command(ty: &str, payload: &Value) -> Value {
    json!({ "id": CMD, "type": ty, "payload": payload })
}

fn with_type(ty: &str, fields: &Value) -> Value {
    let mut v = fields.clone();
    if let Some(map) = v.as_object_mut() {
        map.insert("type".to_owned(), json!(ty));
    }
    v
}

fn typical_heartbeat() -> Value {
    json!({
        "status": "ok",
        "agentVersion": "2.4.1",
        "protocolVersion": 1,
        "metrics": {
            "cpuPercent": 12.5, "ramPercent": 61.0, "ramUsedMb": 9984, "diskPercent": 48.2,
            "diskUsedGb": 231.7, "processCount": 312, "networkInBytes": 18446744073u64,
            "networkOutBytes": 9223372036u64
        },
        "uptime": 86400,
        "hostname": "ws-accounting-07",
        "osVersion": "Windows 11 Pro 23H2",
        "lastUser": "CONTOSO\\jdoe",
        "pendingReboot": false,
        "ipHistoryUpdate": {
            "currentIPs": [
                { "interfaceName": "Ethernet", "ipAddress": "10.20.30.40", "ipType": "ipv4", "macAddress": "00:1a:2b:3c:4d:5e" },
                { "interfaceName": "Ethernet", "ipAddress": "fe80::1%12", "ipType": "ipv6" }
            ],
            "detectedAt": "2026-11-22T14:05:29Z"
        }
    })
}

fn command_result() -> Value {
    json!({
        "commandId": CMD, "status": "completed", "exitCode": 0,
        "stdout": "hello\n", "stderr": "", "durationMs": 1250,
        "startedAt": "2026-11-22T14:05:29Z"
    })
}

fn all_commands() -> Vec<(&'static str, Value)> {
    vec![
        (
            "run_script",
            json!({ "content": "Get-Service | Where Status -eq Running", "language": "powershell",
            "parameters": { "Name": "spooler" }, "timeoutSeconds": 300, "runAs": "system",
            "scriptId": PATCH, "executionId": DEVICE }),
        ),
        ("script_cancel", json!({ "commandId": CMD })),
        (
            "reboot",
            json!({ "delaySeconds": 300, "reason": "patch window" }),
        ),
        ("shutdown", json!({})),
        ("collect_inventory", json!({})),
        ("list_processes", json!({})),
        ("kill_process", json!({ "pid": 4242, "force": true })),
        ("file_list", json!({ "path": "C:\\Users\\Public" })),
        (
            "file_read",
            json!({ "path": "/var/log/syslog", "maxBytes": 65536 }),
        ),
        (
            "file_delete",
            json!({ "path": "/tmp/old.log", "recursive": false }),
        ),
        (
            "file_write",
            json!({ "path": "/etc/motd", "contentBase64": WELCOME_B64, "sha256": WELCOME_SHA256 }),
        ),
        (
            "patch_scan",
            json!({ "sources": ["microsoft", "third_party"] }),
        ),
        (
            "install_patches",
            json!({ "patchIds": [PATCH], "rebootIfNeeded": true }),
        ),
        ("rollback_patches", json!({ "patchIds": [PATCH] })),
        ("self_uninstall", json!({ "removeData": true })),
    ]
}

/// Every text vector, in a fixed order.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "one flat list of examples reads best"
)]
pub fn text_vectors() -> Vec<TextVector> {
    use MessageKind as K;
    let mut b = Builder(Vec::new());

    // ---- enrollment (8.1)
    b.json(
        K::EnrollRequest,
        "minimal",
        &json!({ "enrollmentKey": KEY, "hostname": "ws-07",
        "osType": "windows", "osVersion": "11", "architecture": "amd64", "agentVersion": "2.4.1" }),
    );
    b.json(K::EnrollRequest, "full", &json!({ "enrollmentKey": KEY, "enrollmentSecret": "s3cret-from-installer",
        "hostname": "db-01", "osType": "linux", "osVersion": "Ubuntu 24.04", "architecture": "arm64",
        "agentVersion": "2.4.1", "protocolVersion": 1, "minProtocolVersion": 1,
        "hardwareInfo": { "cpuModel": "Ampere Altra", "cpuCores": 80, "ramTotalMb": 262144, "serialNumber": "SN123" },
        "networkInfo": [{ "name": "eth0", "mac": "02:42:ac:11:00:02", "ip": "172.17.0.2", "isPrimary": true }] }));
    b.json(
        K::EnrollRequest,
        "bad_key",
        &json!({ "enrollmentKey": "not-a-key", "hostname": "h",
        "osType": "linux", "osVersion": "1", "architecture": "x", "agentVersion": "1" }),
    );
    b.json(
        K::EnrollRequest,
        "bad_os_type",
        &json!({ "enrollmentKey": KEY, "hostname": "h",
        "osType": "freebsd", "osVersion": "1", "architecture": "x", "agentVersion": "1" }),
    );
    b.json(K::EnrollRequest, "unknown_field", &json!({ "enrollmentKey": KEY, "hostname": "h",
        "osType": "linux", "osVersion": "1", "architecture": "x", "agentVersion": "1", "isAdmin": true }));
    let bad_nics: Vec<Value> = (0..12)
        .map(|i| json!({ "name": format!("eth{i}"), "ip": "999.1.1.1" }))
        .collect();
    b.json(K::EnrollRequest, "many_issues", &json!({ "enrollmentKey": KEY, "hostname": "",
        "osType": "macos", "osVersion": "", "architecture": "arm64", "agentVersion": "1", "networkInfo": bad_nics }));
    b.json(
        K::EnrollResponse,
        "typical",
        &json!({ "agentId": AGENT_ID, "deviceId": DEVICE,
        "authToken": TOKEN_A, "watchdogAuthToken": TOKEN_W, "helperAuthToken": TOKEN_H,
        "orgId": ORG, "siteId": SITE, "protocolVersion": 1,
        "config": { "heartbeatIntervalSeconds": 60, "metricsCollectionIntervalSeconds": 30 } }),
    );
    b.json(
        K::EnrollResponse,
        "bad_token",
        &json!({ "agentId": AGENT_ID, "deviceId": DEVICE,
        "authToken": "brz_SHORT", "watchdogAuthToken": TOKEN_W, "helperAuthToken": TOKEN_H,
        "orgId": ORG, "siteId": SITE,
        "config": { "heartbeatIntervalSeconds": 60, "metricsCollectionIntervalSeconds": 30 } }),
    );

    // ---- heartbeat (8.4)
    b.json(
        K::HeartbeatRequest,
        "minimal",
        &json!({ "status": "ok", "agentVersion": "2.4.1" }),
    );
    b.json(K::HeartbeatRequest, "typical", &typical_heartbeat());
    b.json(K::HeartbeatRequest, "dropped_fields", &json!({ "status": "warning", "agentVersion": "2.4.1",
        "metrics": { "cpuPercent": 250, "ramPercent": "high", "ramUsedMb": 2048, "diskPercent": 40 },
        "uptime": -5, "hostname": "", "lastUser": 42, "pendingReboot": "yes",
        "ipHistoryUpdate": { "currentIPs": [{ "interfaceName": "eth0", "ipAddress": "not-an-ip" }] } }));
    b.json(
        K::HeartbeatRequest,
        "metrics_unknown_field_dropped",
        &json!({ "status": "ok",
        "agentVersion": "2.4.1", "metrics": { "cpuPercent": 5, "gpuPercent": 3 } }),
    );
    b.json(
        K::HeartbeatRequest,
        "missing_status",
        &json!({ "agentVersion": "2.4.1" }),
    );
    b.json(
        K::HeartbeatRequest,
        "bad_status",
        &json!({ "status": "fine", "agentVersion": "2.4.1" }),
    );
    b.json(
        K::HeartbeatRequest,
        "unknown_field",
        &json!({ "status": "ok", "agentVersion": "2.4.1", "shell": "id" }),
    );
    b.text(
        K::HeartbeatRequest,
        "syntax_error",
        r#"{"status":"ok","agentVersion":"#,
    );
    b.text(
        K::HeartbeatRequest,
        "trailing_data",
        r#"{"status":"ok","agentVersion":"1"} {}"#,
    );
    b.json(K::HeartbeatResponse, "empty", &json!({ "commands": [] }));
    b.json(
        K::HeartbeatResponse,
        "commands_and_flags",
        &json!({
        "commands": [command("run_script", &json!({ "content": "uptime", "language": "bash" })),
                     command("defrag_disk", &json!({ "drive": "C:" }))],
        "configUpdate": { "heartbeatIntervalSeconds": 120, "metricsCollectionIntervalSeconds": 60 },
        "rotateToken": true, "protocolVersion": 1 }),
    );
    b.json(
        K::HeartbeatResponse,
        "confirm_rotation",
        &json!({ "commands": [], "confirmTokenRotation": true }),
    );
    let eleven: Vec<Value> = (0..11)
        .map(|_| command("list_processes", &json!({})))
        .collect();
    b.json(
        K::HeartbeatResponse,
        "too_many_commands",
        &json!({ "commands": eleven }),
    );
    b.json(K::HeartbeatResponse, "bad_interval", &json!({ "commands": [],
        "configUpdate": { "heartbeatIntervalSeconds": 1, "metricsCollectionIntervalSeconds": 100000 } }));

    // ---- commands (8.5)
    for (ty, payload) in all_commands() {
        b.json(K::Command, ty, &command(ty, &payload));
    }
    b.json(
        K::Command,
        "unknown_type",
        &command("defrag_disk", &json!({ "drive": "C:" })),
    );
    b.json(
        K::Command,
        "run_script_missing_content",
        &command("run_script", &json!({ "language": "bash" })),
    );
    b.json(
        K::Command,
        "file_read_empty_path",
        &command("file_read", &json!({ "path": "" })),
    );
    b.json(
        K::Command,
        "payload_unknown_field",
        &command("reboot", &json!({ "force": true })),
    );
    b.json(
        K::Command,
        "missing_id",
        &json!({ "type": "reboot", "payload": {} }),
    );
    b.json(K::CommandResult, "completed", &command_result());
    b.json(K::CommandResult, "failed_with_result", &json!({ "commandId": CMD, "status": "failed",
        "exitCode": 1, "error": "access denied", "result": { "files": [{ "name": "a.txt", "size": 12 }] } }));
    b.json(
        K::CommandResult,
        "bad_status",
        &json!({ "commandId": CMD, "status": "done" }),
    );

    // ---- token rotation (8.3)
    b.json(K::RotateTokenRequest, "empty", &json!({}));
    b.json(
        K::RotateTokenRequest,
        "unknown_field",
        &json!({ "token": TOKEN_A }),
    );
    b.json(
        K::RotateTokenResponse,
        "staged",
        &json!({ "authToken": TOKEN_A, "watchdogAuthToken": TOKEN_W,
        "helperAuthToken": TOKEN_H, "pendingExpiresAt": "2026-11-22T15:05:29Z" }),
    );
    b.json(K::ConfirmRotationRequest, "empty", &json!({}));
    b.json(
        K::ConfirmRotationResponse,
        "confirmed",
        &json!({ "confirmed": true, "graceExpiresAt": "2026-11-22T14:10:29Z" }),
    );

    // ---- HTTP error bodies
    for reason in crate::ErrorReason::ALL {
        b.json(
            K::HttpError,
            reason.as_str(),
            &serde_json::to_value(crate::HttpErrorBody::new(*reason)).unwrap_or(Value::Null),
        );
    }
    // a body of a server from before `message` was added still decodes
    b.json(
        K::HttpError,
        "without_message",
        &json!({ "error": "invalid token", "code": "invalid_token" }),
    );
    b.json(
        K::HttpError,
        "empty_message",
        &json!({ "error": "invalid token", "code": "invalid_token", "message": "" }),
    );
    b.json(
        K::HttpError,
        "unknown_code",
        &json!({ "error": "nope", "code": "teapot" }),
    );

    // ---- agent -> server frames (8.6)
    b.json(
        K::AgentFrame,
        "pong",
        &json!({ "type": "pong", "timestamp": 1_795_000_000_000u64 }),
    );
    b.json(
        K::AgentFrame,
        "heartbeat",
        &with_type("heartbeat", &typical_heartbeat()),
    );
    b.json(
        K::AgentFrame,
        "command_result",
        &with_type("command_result", &command_result()),
    );
    b.json(
        K::AgentFrame,
        "terminal_output",
        &json!({ "type": "terminal_output", "sessionId": SESSION, "data": "total 48\n" }),
    );
    b.json(K::AgentFrame, "terminal_output_base64", &json!({ "type": "terminal_output", "sessionId": SESSION, "data": "dG90YWwgNDgK", "encoding": "base64" }));
    b.json(K::AgentFrame, "update_status", &json!({ "type": "update_status", "status": "downloading", "targetVersion": "2.5.0", "progress": 40 }));
    b.json(K::AgentFrame, "patch_progress", &json!({ "type": "patch_progress", "commandId": CMD, "phase": "installing", "completed": 2, "total": 5, "currentPatch": "KB5032190" }));
    b.json(K::AgentFrame, "verification_progress", &json!({ "type": "verification_progress", "commandId": CMD, "phase": "running", "percent": 75 }));
    b.json(
        K::AgentFrame,
        "unknown_type",
        &json!({ "type": "shell_exec", "cmd": "id" }),
    );
    b.json(
        K::AgentFrame,
        "long_unknown_type",
        &json!({ "type": "x".repeat(250) }),
    );
    b.json(K::AgentFrame, "missing_type", &json!({ "timestamp": 1 }));
    b.json(K::AgentFrame, "type_not_string", &json!({ "type": 7 }));
    b.text(K::AgentFrame, "not_an_object", "[\"pong\"]");
    b.text(K::AgentFrame, "syntax_error", "{\"type\":");
    b.json(
        K::AgentFrame,
        "server_type_from_agent",
        &json!({ "type": "connected", "agentId": AGENT_ID, "timestamp": 1 }),
    );
    b.json(
        K::AgentFrame,
        "unknown_field",
        &json!({ "type": "pong", "timestamp": 1, "extra": 1 }),
    );
    b.json(
        K::AgentFrame,
        "bad_session_id",
        &json!({ "type": "terminal_output", "sessionId": SESSION.to_uppercase(), "data": "x" }),
    );
    b.json(K::AgentFrame, "bad_base64", &json!({ "type": "terminal_output", "sessionId": SESSION, "data": "not base64!", "encoding": "base64" }));
    b.json(K::AgentFrame, "several_issues", &json!({ "type": "update_status", "status": "installing", "targetVersion": "", "progress": 150 }));
    b.json(K::AgentFrame, "patch_progress_over_total", &json!({ "type": "patch_progress", "commandId": CMD, "phase": "installing", "completed": 6, "total": 5 }));

    // ---- server -> agent frames (8.6)
    b.json(
        K::ServerFrame,
        "connected",
        &json!({ "type": "connected", "agentId": AGENT_ID, "timestamp": 1_795_000_000_000u64,
        "capabilities": ["terminal_output_base64"], "protocolVersion": 1 }),
    );
    b.json(
        K::ServerFrame,
        "ping",
        &json!({ "type": "ping", "timestamp": 1_795_000_000_000u64 }),
    );
    b.json(
        K::ServerFrame,
        "ack",
        &json!({ "type": "ack", "commandId": CMD }),
    );
    b.json(
        K::ServerFrame,
        "heartbeat_ack",
        &json!({ "type": "heartbeat_ack", "commands": [], "rotateToken": true }),
    );
    b.json(K::ServerFrame, "error", &json!({ "type": "error", "code": "INVALID_MESSAGE", "message": "invalid message",
        "issues": [{ "path": "type", "code": "unknown_type", "message": "unknown message type" }], "receivedType": "shell_exec" }));
    b.json(K::ServerFrame, "processing_error", &json!({ "type": "error", "code": "PROCESSING_ERROR", "message": "result could not be stored", "receivedType": "command_result" }));
    b.json(
        K::ServerFrame,
        "command_run_script",
        &command(
            "run_script",
            &json!({ "content": "whoami", "language": "sh" }),
        ),
    );
    b.json(
        K::ServerFrame,
        "command_unknown_type",
        &command("defrag_disk", &json!({})),
    );
    b.json(K::ServerFrame, "bad_capability", &json!({ "type": "connected", "agentId": AGENT_ID, "timestamp": 1, "capabilities": ["Bad Cap"] }));
    b.json(
        K::ServerFrame,
        "error_bad_code",
        &json!({ "type": "error", "code": "OOPS", "message": "x" }),
    );
    file_vectors(&mut b);
    terminal_vectors(&mut b);
    viewer_vectors(&mut b);
    b.0
}

fn file_write(path: &str, content: &str, sha256: &str) -> Value {
    json!({ "path": path, "contentBase64": content, "sha256": sha256 })
}

fn result_with_file(file: &Value) -> Value {
    json!({ "commandId": CMD, "status": "completed", "exitCode": 0, "durationMs": 12, "file": file })
}

/// SPEC 12 file operations: the path rule on every file command, `file_write` content and
/// digest checks, and the typed outcome in a result's `file` field.
fn file_vectors(b: &mut Builder) {
    use MessageKind as K;
    let long = format!("/{}", "a".repeat(crate::limits::MAX_REMOTE_PATH_BYTES));
    let paths: [(&str, &str, Value); 8] = [
        (
            "file_read_relative_path",
            "file_read",
            json!({ "path": "etc/passwd" }),
        ),
        (
            "file_read_dot_dot",
            "file_read",
            json!({ "path": "/var/log/../../etc/shadow" }),
        ),
        (
            "file_list_windows_dot_dot",
            "file_list",
            json!({ "path": "C:\\Users\\..\\Administrator" }),
        ),
        (
            "file_list_nul",
            "file_list",
            json!({ "path": "/etc/\u{0}passwd" }),
        ),
        (
            "file_delete_too_long",
            "file_delete",
            json!({ "path": long }),
        ),
        (
            "file_delete_unc_path",
            "file_delete",
            json!({ "path": "\\\\server\\share\\x" }),
        ),
        (
            "file_read_max_bytes_over_limit",
            "file_read",
            json!({ "path": "/var/log/syslog", "maxBytes": crate::limits::MAX_FILE_READ_BYTES + 1 }),
        ),
        (
            "file_write_relative_path",
            "file_write",
            file_write("motd", WELCOME_B64, WELCOME_SHA256),
        ),
    ];
    for (case, ty, payload) in paths {
        b.json(K::Command, case, &command(ty, &payload));
    }
    b.json(
        K::Command,
        "file_write_windows_path",
        &command(
            "file_write",
            &file_write(
                "C:\\ProgramData\\app\\settings.ini",
                WELCOME_B64,
                WELCOME_SHA256,
            ),
        ),
    );
    b.json(
        K::Command,
        "file_write_empty_file",
        &command(
            "file_write",
            &file_write(
                "/tmp/empty",
                "",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
        ),
    );
    b.json(
        K::Command,
        "file_write_bad_sha256_uppercase",
        &command(
            "file_write",
            &file_write("/etc/motd", WELCOME_B64, &WELCOME_SHA256.to_uppercase()),
        ),
    );
    b.json(
        K::Command,
        "file_write_bad_sha256_short",
        &command(
            "file_write",
            &file_write("/etc/motd", WELCOME_B64, "0e90e1aa"),
        ),
    );
    b.json(
        K::Command,
        "file_write_bad_base64",
        &command(
            "file_write",
            &file_write("/etc/motd", "not base64!", WELCOME_SHA256),
        ),
    );
    b.json(
        K::Command,
        "file_write_missing_sha256",
        &command(
            "file_write",
            &json!({ "path": "/etc/motd", "contentBase64": WELCOME_B64 }),
        ),
    );
    let mut extra = file_write("/etc/motd", WELCOME_B64, WELCOME_SHA256);
    if let Some(map) = extra.as_object_mut() {
        map.insert("mode".to_owned(), json!("0777"));
    }
    b.json(
        K::Command,
        "file_write_extra_field",
        &command("file_write", &extra),
    );
    b.json(
        K::Command,
        "file_write_several_issues",
        &command("file_write", &file_write("../x", "%%%", "nope")),
    );
    // The queued terminal commands are gone (SPEC 12: live frames only): a server that still
    // sends one gets an unknown command type, which the agent refuses to run.
    b.json(
        K::Command,
        "terminal_start_is_no_command",
        &command(
            "terminal_start",
            &json!({ "sessionId": SESSION, "cols": 80, "rows": 24 }),
        ),
    );

    b.json(K::CommandResult, "file_content", &result_with_file(&json!({ "kind": "content", "size": 8, "sha256": WELCOME_SHA256, "contentBase64": WELCOME_B64 })));
    b.json(
        K::CommandResult,
        "file_listing",
        &result_with_file(&json!({ "kind": "listing", "truncated": false, "entries": [
        { "name": "hosts", "kind": "file", "size": 221, "modifiedMs": 1_795_000_000_000u64 },
        { "name": "ssl", "kind": "dir", "size": 4096 },
        { "name": "localtime", "kind": "symlink", "size": 33 },
        { "name": "initctl", "kind": "other", "size": 0 } ] })),
    );
    b.json(
        K::CommandResult,
        "file_listing_truncated",
        &result_with_file(&json!({ "kind": "listing", "truncated": true, "entries": [] })),
    );
    b.json(
        K::CommandResult,
        "file_written",
        &result_with_file(&json!({ "kind": "written", "size": 8, "sha256": WELCOME_SHA256 })),
    );
    b.json(K::CommandResult, "file_refused", &result_with_file(&json!({ "kind": "refused", "code": "path_forbidden", "message": "the agent's secrets directory" })));
    b.json(
        K::CommandResult,
        "file_refused_no_message",
        &result_with_file(&json!({ "kind": "refused", "code": "digest_mismatch" })),
    );
    b.json(
        K::CommandResult,
        "file_refused_unknown_code",
        &result_with_file(&json!({ "kind": "refused", "code": "disk_on_fire" })),
    );
    b.json(
        K::CommandResult,
        "file_unknown_kind",
        &result_with_file(&json!({ "kind": "symlink_target", "target": "/etc" })),
    );
    b.json(
        K::CommandResult,
        "file_content_bad_sha256",
        &result_with_file(
            &json!({ "kind": "content", "size": 8, "sha256": "xyz", "contentBase64": WELCOME_B64 }),
        ),
    );
    b.json(K::CommandResult, "file_content_bad_base64", &result_with_file(&json!({ "kind": "content", "size": 8, "sha256": WELCOME_SHA256, "contentBase64": "V2Vs Y29t" })));
    b.json(K::CommandResult, "file_content_extra_field", &result_with_file(&json!({ "kind": "content", "size": 8, "sha256": WELCOME_SHA256, "contentBase64": WELCOME_B64, "path": "/etc/motd" })));
    b.json(
        K::CommandResult,
        "file_written_bad_sha256",
        &result_with_file(
            &json!({ "kind": "written", "size": 8, "sha256": WELCOME_SHA256.to_uppercase() }),
        ),
    );
    b.json(K::CommandResult, "file_listing_empty_name", &result_with_file(&json!({ "kind": "listing", "truncated": false, "entries": [{ "name": "", "kind": "file", "size": 1 }] })));
    b.json(K::CommandResult, "file_listing_bad_entry_kind", &result_with_file(&json!({ "kind": "listing", "truncated": false, "entries": [{ "name": "x", "kind": "socket", "size": 1 }] })));
}

/// SPEC 12 terminal relay frames on the agent's socket.
fn terminal_vectors(b: &mut Builder) {
    use MessageKind as K;
    let input_limit = crate::limits::MAX_TERMINAL_INPUT_BYTES;
    b.json(
        K::ServerFrame,
        "terminal_start",
        &json!({ "type": "terminal_start", "sessionId": SESSION, "cols": 120, "rows": 40 }),
    );
    b.json(
        K::ServerFrame,
        "terminal_input",
        &json!({ "type": "terminal_input", "sessionId": SESSION, "data": "ls -la\r" }),
    );
    b.json(
        K::ServerFrame,
        "terminal_input_at_limit",
        &json!({ "type": "terminal_input", "sessionId": SESSION, "data": "a".repeat(input_limit) }),
    );
    b.json(K::ServerFrame, "terminal_input_over_limit", &json!({ "type": "terminal_input", "sessionId": SESSION, "data": "a".repeat(input_limit + 1) }));
    // The limit is in bytes: 8,193 two-byte characters are 16,386 bytes.
    b.json(K::ServerFrame, "terminal_input_over_limit_multibyte", &json!({ "type": "terminal_input", "sessionId": SESSION, "data": "é".repeat(input_limit / 2 + 1) }));
    b.json(
        K::ServerFrame,
        "terminal_resize",
        &json!({ "type": "terminal_resize", "sessionId": SESSION, "cols": 200, "rows": 50 }),
    );
    b.json(
        K::ServerFrame,
        "terminal_stop",
        &json!({ "type": "terminal_stop", "sessionId": SESSION }),
    );
    b.json(
        K::ServerFrame,
        "terminal_start_bad_dimensions",
        &json!({ "type": "terminal_start", "sessionId": SESSION, "cols": 0, "rows": 1001 }),
    );
    b.json(K::ServerFrame, "terminal_start_shell_refused", &json!({ "type": "terminal_start", "sessionId": SESSION, "cols": 80, "rows": 24, "shell": "/bin/sh" }));
    b.json(
        K::ServerFrame,
        "terminal_stop_extra_field",
        &json!({ "type": "terminal_stop", "sessionId": SESSION, "force": true }),
    );
    b.json(
        K::ServerFrame,
        "terminal_resize_missing_rows",
        &json!({ "type": "terminal_resize", "sessionId": SESSION, "cols": 80 }),
    );
    b.json(
        K::ServerFrame,
        "terminal_input_bad_session",
        &json!({ "type": "terminal_input", "sessionId": "../../etc", "data": "x" }),
    );
    b.json(
        K::ServerFrame,
        "terminal_data_removed",
        &json!({ "type": "terminal_data", "sessionId": SESSION, "data": "x" }),
    );

    b.json(
        K::AgentFrame,
        "terminal_exit",
        &json!({ "type": "terminal_exit", "sessionId": SESSION, "code": 0 }),
    );
    b.json(
        K::AgentFrame,
        "terminal_exit_signal",
        &json!({ "type": "terminal_exit", "sessionId": SESSION }),
    );
    b.json(
        K::AgentFrame,
        "terminal_exit_extra_field",
        &json!({ "type": "terminal_exit", "sessionId": SESSION, "code": 1, "signal": "SIGKILL" }),
    );
    b.json(
        K::AgentFrame,
        "terminal_exit_bad_code",
        &json!({ "type": "terminal_exit", "sessionId": SESSION, "code": "1" }),
    );
    // 64 KiB is the whole frame, checked before parsing.
    let frame_limit = crate::limits::MAX_TERMINAL_FRAME_BYTES;
    let head = json!({ "type": "terminal_output", "sessionId": SESSION, "data": "" }).to_string();
    let fill = |total: usize| {
        let data = "x".repeat(total.saturating_sub(head.len()));
        json!({ "type": "terminal_output", "sessionId": SESSION, "data": data }).to_string()
    };
    b.text(
        K::AgentFrame,
        "terminal_output_at_frame_limit",
        &fill(frame_limit),
    );
    b.text(
        K::AgentFrame,
        "terminal_output_over_frame_limit",
        &fill(frame_limit + 1),
    );
    b.json(
        K::AgentFrame,
        "terminal_output_extra_field",
        &json!({ "type": "terminal_output", "sessionId": SESSION, "data": "x", "seq": 1 }),
    );
    b.json(
        K::AgentFrame,
        "server_type_terminal_start_refused",
        &json!({ "type": "terminal_start", "sessionId": SESSION, "cols": 80, "rows": 24 }),
    );
}

/// SPEC 12 browser frames (`viewer_frame`) and the server's answers (`viewer_event`).
fn viewer_vectors(b: &mut Builder) {
    use MessageKind as K;
    let input_limit = crate::limits::MAX_TERMINAL_INPUT_BYTES;
    b.json(
        K::ViewerFrame,
        "input",
        &json!({ "type": "input", "data": "ls -la\r" }),
    );
    b.json(
        K::ViewerFrame,
        "input_control_keys",
        &json!({ "type": "input", "data": "\u{3}\u{1b}[A\u{4}" }),
    );
    b.json(
        K::ViewerFrame,
        "resize",
        &json!({ "type": "resize", "cols": 132, "rows": 43 }),
    );
    b.json(K::ViewerFrame, "stop", &json!({ "type": "stop" }));
    b.json(
        K::ViewerFrame,
        "input_over_limit",
        &json!({ "type": "input", "data": "a".repeat(input_limit + 1) }),
    );
    b.json(
        K::ViewerFrame,
        "input_with_session_id",
        &json!({ "type": "input", "sessionId": SESSION, "data": "x" }),
    );
    b.json(
        K::ViewerFrame,
        "resize_out_of_range",
        &json!({ "type": "resize", "cols": 1001, "rows": 0 }),
    );
    b.json(
        K::ViewerFrame,
        "resize_negative",
        &json!({ "type": "resize", "cols": -1, "rows": 24 }),
    );
    b.json(
        K::ViewerFrame,
        "stop_extra_field",
        &json!({ "type": "stop", "reason": "bye" }),
    );
    b.json(
        K::ViewerFrame,
        "unknown_type",
        &json!({ "type": "exec", "data": "id" }),
    );
    b.json(
        K::ViewerFrame,
        "agent_frame_type_refused",
        &json!({ "type": "terminal_input", "sessionId": SESSION, "data": "id\n" }),
    );
    b.json(K::ViewerFrame, "missing_type", &json!({ "data": "x" }));
    b.json(
        K::ViewerFrame,
        "input_missing_data",
        &json!({ "type": "input" }),
    );
    b.text(K::ViewerFrame, "not_an_object", "\"input\"");
    b.text(K::ViewerFrame, "syntax_error", "{\"type\":\"input\",");

    b.json(
        K::ViewerEvent,
        "output",
        &json!({ "type": "output", "data": "total 48\r\n" }),
    );
    b.json(
        K::ViewerEvent,
        "output_base64",
        &json!({ "type": "output", "data": "dG90YWwgNDgK", "encoding": "base64" }),
    );
    b.json(
        K::ViewerEvent,
        "exit",
        &json!({ "type": "exit", "code": 0 }),
    );
    b.json(
        K::ViewerEvent,
        "exit_unknown_code",
        &json!({ "type": "exit" }),
    );
    b.json(K::ViewerEvent, "notice", &json!({ "type": "notice", "code": "recording_truncated", "message": "recording stopped at 20 MiB" }));
    b.json(
        K::ViewerEvent,
        "notice_empty_code",
        &json!({ "type": "notice", "code": "", "message": "x" }),
    );
    b.json(
        K::ViewerEvent,
        "output_extra_field",
        &json!({ "type": "output", "data": "x", "sessionId": SESSION }),
    );
    b.json(
        K::ViewerEvent,
        "output_bad_encoding",
        &json!({ "type": "output", "data": "x", "encoding": "latin1" }),
    );
    b.json(
        K::ViewerEvent,
        "output_bad_base64",
        &json!({ "type": "output", "data": "not base64!", "encoding": "base64" }),
    );
    b.json(
        K::ViewerEvent,
        "unknown_type",
        &json!({ "type": "eval", "code": "alert(1)" }),
    );
    b.json(
        K::ViewerEvent,
        "browser_type_refused",
        &json!({ "type": "input", "data": "x" }),
    );
}

/// Every binary-frame vector.
#[must_use]
pub fn binary_vectors() -> Vec<BinaryVector> {
    let frame = |kind: u8, id: &str, data: &[u8]| {
        let mut v = vec![kind];
        v.extend_from_slice(id.as_bytes());
        v.extend_from_slice(data);
        v
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("desktop", frame(0x02, SESSION, &[0x89, 0x50, 0x4e, 0x47])),
        ("tunnel", frame(0x03, SESSION, b"GET / HTTP/1.1\r\n")),
        ("tunnel_empty_data", frame(0x03, SESSION, b"")),
        ("empty", Vec::new()),
        ("unknown_kind", frame(0x01, SESSION, b"x")),
        ("truncated_header", frame(0x02, "9d4f5b7c-0e1a", b"")),
        (
            "uppercase_session_id",
            frame(0x02, &SESSION.to_uppercase(), b"x"),
        ),
        (
            "session_id_not_uuid",
            frame(0x03, "../../../../../../../../etc/passwd00", b"x"),
        ),
        ("session_id_not_utf8", {
            let mut v = vec![0x02, 0xff];
            v.extend(SESSION.bytes().skip(1));
            v
        }),
    ];
    cases
        .into_iter()
        .map(|(name, bytes)| BinaryVector {
            name: format!("binary/{name}"),
            input_hex: hex(&bytes),
            expect: expected_binary_outcome(&bytes),
        })
        .collect()
}

/// The redaction vectors (SPEC 8.5): private keys and agent tokens in command output, and
/// the near misses that must be kept.
#[must_use]
pub fn redact_vectors() -> Vec<RedactVector> {
    let hex32 = "0123456789abcdef".repeat(2);
    let hex64 = "0123456789abcdef".repeat(4);
    let h31 = "a".repeat(31);
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("plain_text", "exit 0: 3 files copied\n".to_owned()),
        (
            "rsa_private_key",
            "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\nb".to_owned(),
        ),
        (
            "pkcs8_private_key",
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----".to_owned(),
        ),
        (
            "encrypted_private_key",
            "x -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY----- y".to_owned(),
        ),
        (
            "unterminated_block",
            "x -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA never ends".to_owned(),
        ),
        (
            "end_line_never_closes",
            "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY\ntail".to_owned(),
        ),
        (
            "header_never_closes",
            "-----BEGIN PRIVATE KEY\nMIIE\n".to_owned(),
        ),
        (
            "header_spans_lines",
            "-----BEGIN X\nPRIVATE KEY-----\nsecret\n-----END X-----!".to_owned(),
        ),
        (
            "private_key_after_header",
            "-----BEGIN X-----PRIVATE KEY\n-----END X-----".to_owned(),
        ),
        (
            "certificate_kept",
            "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----".to_owned(),
        ),
        (
            "public_key_kept",
            "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----".to_owned(),
        ),
        (
            "nested_begin",
            "-----BEGIN PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\nC".to_owned(),
        ),
        (
            "private_key_inside_certificate",
            "-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\n-----END CERTIFICATE-----".to_owned(),
        ),
        (
            "two_blocks",
            "-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY----- and -----BEGIN DSA PRIVATE KEY-----\nB\n-----END DSA PRIVATE KEY-----".to_owned(),
        ),
        (
            "lone_markers",
            "----------BEGIN ----- -----END PRIVATE KEY----- -----BEGIN ".to_owned(),
        ),
        (
            "multibyte_around_block",
            "é-----BEGIN PRIVATE KEY-----ü\n-----END PRIVATE KEY-----😀".to_owned(),
        ),
        (
            "multibyte_in_header",
            "-----BEGIN 😀 PRIVATE KEY 😀-----é".to_owned(),
        ),
        ("non_ascii_look_alike", "-----BEGIN PRÏVATE KEY-----\nx\n-----END PRÏVATE KEY-----".to_owned()),
        ("agent_token", format!("t=brz_{hex64} é")),
        ("token_32_hex", format!("brz_{hex32}")),
        ("token_31_hex_kept", format!("brz_{h31}")),
        ("token_31_hex_then_letter_kept", format!("brz_{h31}g")),
        ("token_uppercase_hex", format!("brz_{}", "ABCDEF0123456789".repeat(2))),
        ("token_mixed_case_hex", format!("brz_{}", "aBcD".repeat(16))),
        ("token_then_non_hex", format!("brz_{hex32}ghij")),
        ("uppercase_prefix_kept", format!("BRZ_{hex32} Brz_{hex32}")),
        ("token_inside_word", format!("xbrz_{hex32}")),
        ("prefix_then_token", format!("brz_brz_{hex32}")),
        ("short_prefixes_kept", "brz_ brz_short brz_abc".to_owned()),
        ("multibyte_around_token", format!("ü brz_{hex32}é ébrz_{hex32}")),
        ("multibyte_cuts_hex_run", format!("brz_{}é9", "9".repeat(31))),
        ("tokens_separated", format!("brz_{hex64} brz_{hex64}\nbrz_{hex64}")),
        ("tokens_back_to_back", format!("brz_{hex64}brz_{hex64}")),
        ("token_before_block", format!("brz_{hex32}-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----")),
        ("token_inside_block", format!("-----BEGIN PRIVATE KEY-----\nbrz_{hex32}\n-----END PRIVATE KEY-----brz_{hex32}")),
        (
            "json_result",
            format!("{{\"env\":{{\"BREEZE_TOKEN\":\"brz_{hex64}\"}},\"key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n\"}}"),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, input)| RedactVector {
            name: format!("redact/{name}"),
            output: redact_secrets(&input),
            input,
        })
        .collect()
}

/// One remote-path vector (SPEC 12 path rule): a path and the code of the rule it breaks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathVector {
    /// Unique name (`remote_path/case`).
    pub name: String,
    /// The path as a client sent it.
    pub input: String,
    /// `null` when the path is allowed, else the stable [`PathError::code`].
    pub code: Option<&'static str>,
}

/// The outcome of the path rule in the vector format: `None` (allowed) or the error code.
#[must_use]
pub fn expected_path_outcome(path: &str) -> Option<&'static str> {
    remote_path::check(path).err().map(PathError::code)
}

/// The remote-path vectors: every rule, its order, and the near misses that are allowed.
#[must_use]
pub fn path_vectors() -> Vec<PathVector> {
    let max = crate::limits::MAX_REMOTE_PATH_BYTES;
    let cases: Vec<(&str, String)> = vec![
        ("root", "/".to_owned()),
        ("posix_file", "/etc/hosts".to_owned()),
        (
            "windows_backslash",
            "C:\\Windows\\System32\\drivers\\etc\\hosts".to_owned(),
        ),
        ("windows_forward_slash", "d:/data/report.csv".to_owned()),
        ("dots_inside_names_allowed", "/a/..b/c../...".to_owned()),
        ("single_dot_segment_allowed", "/a/./b".to_owned()),
        (
            "spaces_and_unicode_allowed",
            "/home/jdoe/Documents/Résumé 2026.pdf".to_owned(),
        ),
        ("double_slash_allowed", "//etc//hosts".to_owned()),
        ("at_byte_limit", format!("/{}", "a".repeat(max - 1))),
        ("empty", String::new()),
        ("over_byte_limit", format!("/{}", "a".repeat(max))),
        // 1 + 2 * 1024 = 2049 bytes in 1025 characters: the limit counts bytes.
        (
            "over_byte_limit_multibyte",
            format!("/{}", "é".repeat(max / 2)),
        ),
        ("nul", "/etc/\0passwd".to_owned()),
        ("trailing_nul", "/etc/passwd\0".to_owned()),
        ("relative", "etc/passwd".to_owned()),
        ("dot_relative", "./x".to_owned()),
        ("home_relative", "~/.ssh/id_ed25519".to_owned()),
        ("leading_space", " /etc/hosts".to_owned()),
        ("drive_relative", "C:x".to_owned()),
        ("drive_without_separator", "C:".to_owned()),
        ("digit_drive", "1:\\x".to_owned()),
        ("unc_share", "\\\\server\\share\\x".to_owned()),
        ("windows_device_path", "\\\\?\\C:\\x".to_owned()),
        ("dot_dot_middle", "/etc/../root/.ssh".to_owned()),
        ("dot_dot_end", "/etc/..".to_owned()),
        ("dot_dot_only", "/..".to_owned()),
        ("windows_dot_dot", "C:\\a\\..\\b".to_owned()),
        ("mixed_separator_dot_dot", "/a\\..\\b".to_owned()),
        ("dot_dot_relative", "../etc".to_owned()),
        // The first rule broken is reported: too long before nul before relative before `..`.
        ("too_long_and_nul", format!("\0{}", "a".repeat(max))),
        ("nul_and_relative", "a\0/../b".to_owned()),
        ("relative_and_dot_dot", "a/../b".to_owned()),
    ];
    cases
        .into_iter()
        .map(|(name, input)| PathVector {
            name: format!("remote_path/{name}"),
            code: expected_path_outcome(&input),
            input,
        })
        .collect()
}

/// A base64 text given as `unit` repeated `times` times, then the vector's `contentBase64`
/// (keeps the 4 MiB cases small in the file).
#[derive(Debug, Clone, Serialize)]
pub struct Repeat {
    /// The repeated text.
    pub unit: &'static str,
    /// How many times.
    pub times: usize,
}

/// One file-content vector: base64 content, its claimed SHA-256 and size, and what
/// [`file::decode_checked`] makes of them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentVector {
    /// Unique name (`file_content/case`).
    pub name: String,
    /// When present, the input starts with this repetition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_base64_repeat: Option<Repeat>,
    /// The (rest of the) base64 text.
    pub content_base64: String,
    /// The claimed SHA-256.
    pub sha256: String,
    /// The claimed size (`null`: not checked).
    pub size: Option<u64>,
    /// `{"ok": true, "dataHex"}` or `{"ok": false, "code"}`.
    pub expect: Value,
}

/// A content case: repetition, rest of the text, claimed digest, claimed size.
type ContentCase = (Option<Repeat>, String, String, Option<u64>);

/// What checking file content yields, in the vector format.
#[must_use]
pub fn expected_content_outcome(content_base64: &str, sha256: &str, size: Option<u64>) -> Value {
    match file::decode_checked(content_base64, sha256, size) {
        Ok(bytes) => json!({ "ok": true, "dataHex": hex(&bytes) }),
        Err(e) => json!({ "ok": false, "code": e.code() }),
    }
}

/// The file-content vectors (SPEC 12: base64 content with its SHA-256, at most 4 MiB).
#[must_use]
pub fn content_vectors() -> Vec<ContentVector> {
    let empty_sha = file::sha256_hex(b"");
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let all = file::FileContent::new(&all_bytes).ok();
    let (all_b64, all_sha) = all.map_or_else(Default::default, |c| (c.content_base64, c.sha256));
    let limit = crate::limits::MAX_FILE_TRANSFER_BYTES;
    let plain =
        |b64: &str, sha: &str, size: Option<u64>| (None, b64.to_owned(), sha.to_owned(), size);
    let cases: Vec<(&str, ContentCase)> = vec![
        ("text", plain(WELCOME_B64, WELCOME_SHA256, Some(8))),
        (
            "text_size_not_given",
            plain(WELCOME_B64, WELCOME_SHA256, None),
        ),
        ("empty", plain("", &empty_sha, Some(0))),
        ("every_byte_value", plain(&all_b64, &all_sha, Some(256))),
        (
            "digest_of_other_content",
            plain(WELCOME_B64, &empty_sha, Some(8)),
        ),
        ("size_mismatch", plain(WELCOME_B64, WELCOME_SHA256, Some(7))),
        (
            "sha256_uppercase",
            plain(WELCOME_B64, &WELCOME_SHA256.to_uppercase(), Some(8)),
        ),
        ("sha256_short", plain(WELCOME_B64, "0e90e1aa", Some(8))),
        (
            "sha256_not_hex",
            plain(WELCOME_B64, &"z".repeat(64), Some(8)),
        ),
        ("sha256_empty", plain(WELCOME_B64, "", Some(8))),
        ("not_base64", plain("!!!!", &empty_sha, None)),
        (
            "missing_padding",
            plain("V2VsY29tZQo", WELCOME_SHA256, Some(8)),
        ),
        ("url_safe_alphabet", plain("-_-_", &empty_sha, None)),
        (
            "embedded_newline",
            plain("V2Vs\nY29tZQo=", WELCOME_SHA256, Some(8)),
        ),
        (
            "embedded_space",
            plain("V2Vs Y29tZQo=", WELCOME_SHA256, Some(8)),
        ),
        // 4 MiB + 1 zero bytes: the text fits the base64 bound, the decoded size does not.
        (
            "decoded_over_limit",
            (
                Some(Repeat {
                    unit: "AAAA",
                    times: limit / 3,
                }),
                "AAA=".to_owned(),
                empty_sha.clone(),
                None,
            ),
        ),
        // Longer than any 4 MiB content can encode to: refused before decoding.
        (
            "text_over_limit",
            (
                Some(Repeat {
                    unit: "AAAA",
                    times: limit / 3 + 1,
                }),
                "AAAA".to_owned(),
                empty_sha.clone(),
                None,
            ),
        ),
        (
            "text_over_limit_not_base64",
            (
                Some(Repeat {
                    unit: "!!!!",
                    times: limit / 3 + 2,
                }),
                String::new(),
                empty_sha,
                None,
            ),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, (repeat, rest, sha256, size))| {
            let full = repeat
                .as_ref()
                .map_or_else(String::new, |r| r.unit.repeat(r.times))
                + &rest;
            ContentVector {
                name: format!("file_content/{name}"),
                expect: expected_content_outcome(&full, &sha256, size),
                content_base64_repeat: repeat,
                content_base64: rest,
                sha256,
                size,
            }
        })
        .collect()
}

/// The files the generator writes under `vectors/agent-proto/`: (relative path, contents).
#[must_use]
pub fn vector_files() -> Vec<(String, String)> {
    let header = |what: &str| {
        json!({
            "description": format!("Breeze agent protocol golden vectors: {what}. Replayed by the Rust tests and every binding."),
            "generator": "cargo run -p breeze-agent-proto --example gen_vectors",
        })
    };
    let mut text =
        header("text messages and frames (input is the exact text; decode it as `kind`)");
    let mut binary = header("binary WebSocket frames (input is hex)");
    let mut redact = header(
        "command-output redaction (SPEC 8.5; `output` is `redact_secrets(input)`: PEM private-key blocks and agent tokens replaced)",
    );
    if let (Some(t), Some(bin), Some(red)) = (
        text.as_object_mut(),
        binary.as_object_mut(),
        redact.as_object_mut(),
    ) {
        t.insert(
            "vectors".to_owned(),
            serde_json::to_value(text_vectors()).unwrap_or(Value::Null),
        );
        bin.insert(
            "vectors".to_owned(),
            serde_json::to_value(binary_vectors()).unwrap_or(Value::Null),
        );
        red.insert(
            "vectors".to_owned(),
            serde_json::to_value(redact_vectors()).unwrap_or(Value::Null),
        );
    }
    let with_vectors = |mut file: Value, vectors: Value| {
        if let Some(map) = file.as_object_mut() {
            map.insert("vectors".to_owned(), vectors);
        }
        pretty(&file)
    };
    let paths = with_vectors(
        header(
            "the remote path rule of file operations (SPEC 12: absolute, at most 2,048 bytes, no NUL, no `..` segment; `code` is null when allowed, else the first rule broken)",
        ),
        serde_json::to_value(path_vectors()).unwrap_or(Value::Null),
    );
    let content = with_vectors(
        header(
            "file transfer content (SPEC 12: standard base64 with its lowercase SHA-256 and optional size, at most 4 MiB decoded; the input is `contentBase64Repeat.unit` repeated `times` times, then `contentBase64`)",
        ),
        serde_json::to_value(content_vectors()).unwrap_or(Value::Null),
    );
    vec![
        ("text.json".to_owned(), pretty(&text)),
        ("binary.json".to_owned(), pretty(&binary)),
        ("redact.json".to_owned(), pretty(&redact)),
        ("remote_path.json".to_owned(), paths),
        ("file_content.json".to_owned(), content),
    ]
}

/// The JSON Schema files: (relative path, contents).
#[must_use]
pub fn schema_files() -> Vec<(String, String)> {
    MessageKind::ALL
        .iter()
        .map(|kind| {
            let schema = kind.schema();
            (
                format!("schemas/{}.schema.json", kind.name()),
                pretty(schema.as_value()),
            )
        })
        .collect()
}

/// Pretty JSON with a trailing newline.
#[must_use]
pub fn pretty(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}
