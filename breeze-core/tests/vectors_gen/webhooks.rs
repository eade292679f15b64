//! Builds the shared vectors of `vectors/webhooks/` (used by `examples/gen_vectors.rs`, which
//! writes them, and by `tests/webhooks_vectors.rs`, which fails when the checked-in copy is
//! stale and replays them).
//!
//! Deterministic: fixed secrets (test-only, published here on purpose), ids and times. Every
//! case states the outcome it was written for; the generator fails if the library disagrees.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines,
    reason = "generator and test code; the case tables are long"
)]
#![allow(
    dead_code,
    missing_docs,
    reason = "shared with the tests, which use a subset"
)]

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use breeze_core::audit::{
    Action, Actor, AuditEvent, AuditResult, ChainHead, ChainId, InitiatedBy, Timestamp,
};
use breeze_core::tenancy::{OrgId, UserId};
use breeze_core::webhooks::{
    DEFAULT_TOLERANCE_SECS, EventType, WebhookError, WebhookSecret, events_from_audit, payload,
    sign, verify,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[path = "../../../vectors/gen_support.rs"]
pub mod support;

/// The folder of the files under `vectors/`.
pub const DIR: &str = "webhooks";

/// The command that rewrites the files.
pub const COMMAND: &str = "cargo run -p breeze-core --example gen_vectors";

/// `vectors/<DIR>` in this checkout.
pub fn dir() -> PathBuf {
    support::dir(env!("CARGO_MANIFEST_DIR"), DIR)
}

/// Every vector file: (file name under `vectors/<DIR>/`, pretty JSON text).
pub fn all() -> Vec<(String, String)> {
    support::pretty([
        ("signatures.json", signature_vectors()),
        ("payloads.json", payload_vectors()),
    ])
}

// ---------------------------------------------------------------- signatures

/// The Standard Webhooks specification's example.
pub const REF_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const REF_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
pub const REF_TS: i64 = 1_614_265_330;
pub const REF_BODY: &str = r#"{"test": 2432232314}"#;
pub const REF_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// A test secret of `bytes`.
pub fn secret_of(bytes: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// Secret `old` of a roll (32 bytes of 0x11).
pub fn old() -> String {
    secret_of(&[0x11; 32])
}

/// Secret `new` of a roll (bytes 0 to 31).
pub fn new() -> String {
    secret_of(&(0..32).collect::<Vec<u8>>())
}

/// A 64-byte secret (bytes 0 to 63), the longest accepted.
pub fn long() -> String {
    secret_of(&(0..64).collect::<Vec<u8>>())
}

/// A secret no sender used (32 bytes of 0x77).
pub fn stranger() -> String {
    secret_of(&[0x77; 32])
}

fn parse_all(secrets: &[String]) -> Result<Vec<WebhookSecret>, WebhookError> {
    secrets.iter().map(|s| WebhookSecret::parse(s)).collect()
}

fn sign_wire(secrets: &[String], id: &str, ts: i64, body: &str) -> Result<String, WebhookError> {
    let parsed = parse_all(secrets)?;
    let refs: Vec<&WebhookSecret> = parsed.iter().collect();
    sign(&refs, id, ts, body.as_bytes())
}

fn verify_wire(c: &VerifyCase) -> Result<(), WebhookError> {
    let parsed = parse_all(&c.secrets)?;
    let refs: Vec<&WebhookSecret> = parsed.iter().collect();
    verify(
        &refs,
        &c.msg_id,
        &c.timestamp,
        &c.signature,
        c.body.as_bytes(),
        c.now,
        c.tolerance.unwrap_or(DEFAULT_TOLERANCE_SECS),
    )
}

fn sig(secrets: &[String], id: &str, ts: i64, body: &str) -> String {
    sign_wire(secrets, id, ts, body).unwrap()
}

struct VerifyCase {
    name: &'static str,
    secrets: Vec<String>,
    msg_id: String,
    timestamp: String,
    signature: String,
    body: String,
    now: i64,
    tolerance: Option<u64>,
    /// `None`: verifies; else the error code.
    code: Option<&'static str>,
}

fn reference(
    name: &'static str,
    now: i64,
    tolerance: Option<u64>,
    code: Option<&'static str>,
) -> VerifyCase {
    VerifyCase {
        name,
        secrets: vec![REF_SECRET.to_owned()],
        msg_id: REF_ID.to_owned(),
        timestamp: REF_TS.to_string(),
        signature: REF_SIGNATURE.to_owned(),
        body: REF_BODY.to_owned(),
        now,
        tolerance,
        code,
    }
}

fn verify_cases() -> Vec<VerifyCase> {
    let body = r#"{"type":"webhook.test","timestamp":"2026-01-01T00:00:00Z","orgId":"6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f","data":{}}"#;
    let t = 1_767_225_600_i64;
    let id = "msg_6f1c2a4e7d8b4c3a9e2f1a2b3c4d5e6f";
    let both = sig(&[old(), new()], id, t, body);
    let roll = |name, secrets: Vec<String>, code| VerifyCase {
        name,
        secrets,
        msg_id: id.to_owned(),
        timestamp: t.to_string(),
        signature: both.clone(),
        body: body.to_owned(),
        now: t + 10,
        tolerance: None,
        code,
    };
    let with_header = |name, header: String, code| VerifyCase {
        signature: header,
        ..reference(name, REF_TS, None, code)
    };
    let with_ts = |name, ts: &str, code| VerifyCase {
        timestamp: ts.to_owned(),
        ..reference(name, REF_TS, None, code)
    };
    let with_secrets = |name, secrets: Vec<String>, code| VerifyCase {
        secrets,
        ..reference(name, REF_TS, None, code)
    };
    let b64_16 = secret_of(&[5; 16]);
    vec![
        reference("reference", REF_TS, None, None),
        reference("reference_window_edge_old", REF_TS + 300, None, None),
        reference("reference_window_edge_new", REF_TS - 300, None, None),
        reference("too_old", REF_TS + 301, None, Some("timestamp_too_old")),
        reference("too_new", REF_TS - 301, None, Some("timestamp_too_new")),
        reference("tolerance_zero_exact", REF_TS, Some(0), None),
        reference(
            "tolerance_zero_late",
            REF_TS + 1,
            Some(0),
            Some("timestamp_too_old"),
        ),
        reference(
            "tolerance_zero_early",
            REF_TS - 1,
            Some(0),
            Some("timestamp_too_new"),
        ),
        reference("tolerance_one_hour", REF_TS + 3600, Some(3600), None),
        reference(
            "years_late",
            REF_TS + 100_000_000,
            None,
            Some("timestamp_too_old"),
        ),
        roll("rolled_header_old_secret", vec![old()], None),
        roll("rolled_header_new_secret", vec![new()], None),
        roll("rolled_header_both_secrets", vec![new(), old()], None),
        roll(
            "rolled_header_other_secret",
            vec![stranger()],
            Some("no_matching_signature"),
        ),
        VerifyCase {
            signature: sig(&[old()], id, t, body),
            ..roll("old_header_receiver_holds_both", vec![new(), old()], None)
        },
        VerifyCase {
            signature: sig(&[new()], id, t, body),
            ..roll(
                "new_header_receiver_holds_old",
                vec![old()],
                Some("no_matching_signature"),
            )
        },
        VerifyCase {
            body: format!("{body} "),
            ..roll(
                "rolled_header_body_changed",
                vec![old(), new()],
                Some("no_matching_signature"),
            )
        },
        with_header(
            "unknown_version_first",
            format!("v2,abc {REF_SIGNATURE}"),
            None,
        ),
        with_header(
            "extra_spaces",
            format!("  {REF_SIGNATURE}   v1a,xyz "),
            None,
        ),
        with_header(
            "short_v1_before_good",
            format!("v1,AAAA {REF_SIGNATURE}"),
            None,
        ),
        with_header(
            "only_unknown_version",
            REF_SIGNATURE.replacen("v1,", "v2,", 1),
            Some("no_matching_signature"),
        ),
        with_header(
            "signature_flipped",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=".to_owned(),
            Some("no_matching_signature"),
        ),
        with_header(
            "signature_not_base64",
            "v1,not-base64!".to_owned(),
            Some("no_matching_signature"),
        ),
        with_header("header_empty", String::new(), Some("signature_header")),
        with_header("header_blank", "   ".to_owned(), Some("signature_header")),
        with_header("header_no_comma", "v1".to_owned(), Some("signature_header")),
        with_header(
            "header_no_value",
            "v1,".to_owned(),
            Some("signature_header"),
        ),
        with_header(
            "header_no_version",
            ",g0hM9SsE".to_owned(),
            Some("signature_header"),
        ),
        with_header(
            "header_bare_value_after_good",
            format!("{REF_SIGNATURE} g0hM9SsE"),
            Some("signature_header"),
        ),
        VerifyCase {
            body: r#"{"test": 2432232315}"#.to_owned(),
            ..reference("body_changed", REF_TS, None, Some("no_matching_signature"))
        },
        VerifyCase {
            msg_id: "msg_p5jXN8AQM9LWM0D4loKWxJel".to_owned(),
            ..reference(
                "msg_id_changed",
                REF_TS,
                None,
                Some("no_matching_signature"),
            )
        },
        with_ts(
            "timestamp_changed",
            "1614265331",
            Some("no_matching_signature"),
        ),
        with_ts("timestamp_empty", "", Some("timestamp_invalid")),
        with_ts(
            "timestamp_plus_sign",
            "+1614265330",
            Some("timestamp_invalid"),
        ),
        with_ts(
            "timestamp_negative",
            "-1614265330",
            Some("timestamp_invalid"),
        ),
        with_ts(
            "timestamp_leading_zero",
            "01614265330",
            Some("timestamp_invalid"),
        ),
        with_ts(
            "timestamp_fraction",
            "1614265330.0",
            Some("timestamp_invalid"),
        ),
        with_ts("timestamp_space", " 1614265330", Some("timestamp_invalid")),
        with_ts(
            "timestamp_overflow",
            "9223372036854775808",
            Some("timestamp_invalid"),
        ),
        VerifyCase {
            msg_id: "msg 1".to_owned(),
            ..reference("msg_id_space", REF_TS, None, Some("message_id"))
        },
        VerifyCase {
            msg_id: String::new(),
            ..reference("msg_id_empty", REF_TS, None, Some("message_id"))
        },
        VerifyCase {
            msg_id: "x".repeat(256),
            ..reference("msg_id_too_long", REF_TS, None, Some("message_id"))
        },
        with_secrets("no_secrets", Vec::new(), Some("no_secret")),
        with_secrets(
            "secret_without_prefix",
            vec!["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
            Some("secret_format"),
        ),
        with_secrets(
            "secret_bad_base64",
            vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa_w".to_owned()],
            Some("secret_format"),
        ),
        with_secrets("secret_16_bytes", vec![b64_16], Some("secret_length")),
        with_secrets(
            "one_bad_secret_in_the_list",
            vec![REF_SECRET.to_owned(), "whsec_".to_owned()],
            Some("secret_length"),
        ),
    ]
}

struct SignCase {
    name: &'static str,
    secrets: Vec<String>,
    msg_id: String,
    timestamp: i64,
    body: String,
}

fn sign_cases() -> Vec<SignCase> {
    let base = |name, secrets: Vec<String>| SignCase {
        name,
        secrets,
        msg_id: REF_ID.to_owned(),
        timestamp: REF_TS,
        body: REF_BODY.to_owned(),
    };
    vec![
        base("reference", vec![REF_SECRET.to_owned()]),
        base("rolled_old_then_new", vec![old(), new()]),
        base("rolled_new_then_old", vec![new(), old()]),
        base("three_secrets", vec![REF_SECRET.to_owned(), old(), long()]),
        base("secret_64_bytes", vec![long()]),
        SignCase {
            body: String::new(),
            ..base("empty_body", vec![old()])
        },
        SignCase {
            body: "{\"note\":\"caf\u{e9} \u{2713} \u{1f600}\"}\n".to_owned(),
            ..base("unicode_body", vec![old()])
        },
        SignCase {
            msg_id: format!("msg_{}", "a".repeat(251)),
            ..base("msg_id_255", vec![old()])
        },
        SignCase {
            timestamp: 0,
            ..base("timestamp_zero", vec![old()])
        },
    ]
}

fn sign_error_cases() -> Vec<(SignCase, &'static str)> {
    let base = |name, secrets: Vec<String>| SignCase {
        name,
        secrets,
        msg_id: REF_ID.to_owned(),
        timestamp: REF_TS,
        body: REF_BODY.to_owned(),
    };
    vec![
        (base("no_secrets", Vec::new()), "no_secret"),
        (
            base(
                "secret_without_prefix",
                vec!["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
            ),
            "secret_format",
        ),
        (
            base(
                "secret_unpadded",
                vec!["whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".to_owned()],
            ),
            "secret_format",
        ),
        (
            base("secret_23_bytes", vec![secret_of(&[1; 23])]),
            "secret_length",
        ),
        (
            base("secret_65_bytes", vec![secret_of(&[1; 65])]),
            "secret_length",
        ),
        (
            SignCase {
                msg_id: "msg.1".to_owned(),
                ..base("msg_id_dot", vec![old()])
            },
            "message_id",
        ),
        (
            SignCase {
                msg_id: "x".repeat(256),
                ..base("msg_id_too_long", vec![old()])
            },
            "message_id",
        ),
        (
            SignCase {
                timestamp: -1,
                ..base("timestamp_negative", vec![old()])
            },
            "timestamp_invalid",
        ),
    ]
}

fn signature_vectors() -> Value {
    assert_eq!(
        sign_wire(&[REF_SECRET.to_owned()], REF_ID, REF_TS, REF_BODY).unwrap(),
        REF_SIGNATURE
    );
    let sign: Vec<Value> = sign_cases()
        .into_iter()
        .map(|c| {
            let signature = sign_wire(&c.secrets, &c.msg_id, c.timestamp, &c.body).unwrap();
            assert_eq!(signature.split(' ').count(), c.secrets.len(), "{}", c.name);
            json!({
                "name": c.name,
                "secrets": c.secrets,
                "msg_id": c.msg_id,
                "timestamp": c.timestamp,
                "body": c.body,
                "signature": signature,
            })
        })
        .collect();
    let sign_errors: Vec<Value> = sign_error_cases()
        .into_iter()
        .map(|(c, code)| {
            let got = sign_wire(&c.secrets, &c.msg_id, c.timestamp, &c.body).unwrap_err();
            assert_eq!(got.code(), code, "{}", c.name);
            json!({
                "name": c.name,
                "secrets": c.secrets,
                "msg_id": c.msg_id,
                "timestamp": c.timestamp,
                "body": c.body,
                "code": code,
            })
        })
        .collect();
    let verify: Vec<Value> = verify_cases()
        .into_iter()
        .map(|c| {
            let got = verify_wire(&c).err().map(|e| e.code());
            assert_eq!(got, c.code, "{}", c.name);
            json!({
                "name": c.name,
                "secrets": c.secrets,
                "msg_id": c.msg_id,
                "timestamp": c.timestamp,
                "signature": c.signature,
                "body": c.body,
                "now": c.now,
                "tolerance": c.tolerance,
                "expect": match c.code {
                    None => json!({"ok": true}),
                    Some(code) => json!({"ok": false, "code": code}),
                },
            })
        })
        .collect();
    json!({
        "description": "Standard Webhooks signatures (webhook-signature: space-separated v1,<base64 HMAC-SHA256(key, msg_id.timestamp.body)>, key = base64-decoded secret after whsec_). `sign`: webhook_sign(secrets, msg_id, timestamp, body) == signature. `sign_errors`: webhook_sign raises `code`. `verify`: webhook_verify(secrets, msg_id, timestamp, signature, body, now, tolerance) passes (expect.ok) or raises expect.code; tolerance null means the default (300 s). Bodies are UTF-8 strings signed as their bytes. Secrets are test-only.",
        "default_tolerance_secs": DEFAULT_TOLERANCE_SECS,
        "reference": {
            "source": "the Standard Webhooks specification's example, also signed by the standardwebhooks 1.1.0 package (PyPI)",
            "secret": REF_SECRET,
            "msg_id": REF_ID,
            "timestamp": REF_TS,
            "body": REF_BODY,
            "signature": REF_SIGNATURE,
        },
        "sign": sign,
        "sign_errors": sign_errors,
        "verify": verify,
    })
}

// ---------------------------------------------------------------- payloads

pub const ORG: &str = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f";
pub const USER: &str = "0b9e5c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b";

/// The data of `audit.appended` for one sealed entry (what `events_from_audit` gives).
pub fn audit_appended_data() -> Value {
    let event = AuditEvent::builder(
        Actor::User(USER.parse::<UserId>().unwrap()),
        Action::new("device.quarantine").unwrap(),
        AuditResult::Success,
        InitiatedBy::Manual,
        Timestamp::from_unix_micros(1_767_225_600_000_001).unwrap(),
    )
    .resource_type("device")
    .resource_id("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
    .details(&json!({"from": "online", "to": "quarantined"}))
    .build()
    .unwrap();
    let entry = ChainHead::genesis(ChainId::Org(ORG.parse::<OrgId>().unwrap()))
        .append_event(event)
        .unwrap();
    let events = events_from_audit(&entry);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].0, EventType::DeviceQuarantined);
    events[0].1.clone()
}

fn build(event_type: &str, timestamp: &str, org: &str, data: &Value) -> Result<String, String> {
    let event = EventType::parse(event_type).map_err(|e| e.code().to_owned())?;
    let t =
        OffsetDateTime::parse(timestamp, &Rfc3339).map_err(|_| "timestamp_invalid".to_owned())?;
    let org: OrgId = org.parse().map_err(|_| "invalid_input".to_owned())?;
    let body = payload(event, t, org, data.clone()).map_err(|e| e.code().to_owned())?;
    Ok(String::from_utf8(body).unwrap())
}

fn payload_vectors() -> Value {
    let t = "2026-01-01T00:00:00Z";
    let ok: Vec<(&str, &str, &str, Value)> = vec![
        ("webhook_test", "webhook.test", t, json!({})),
        (
            "device_enrolled",
            "device.enrolled",
            t,
            json!({"deviceId": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "siteId": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a", "hostname": "web-01", "reenrolledInPlace": false}),
        ),
        (
            "device_offline",
            "device.offline",
            t,
            json!({"deviceId": "d-1", "lastSeenAt": "2025-12-31T23:55:00Z"}),
        ),
        (
            "device_quarantined",
            "device.quarantined",
            t,
            json!({"deviceId": "d-1"}),
        ),
        (
            "command_completed_members_sorted",
            "command.completed",
            t,
            json!({"status": "completed", "commandId": "c-1", "type": "script", "exitCode": 0, "durationMs": 1500, "deviceId": "d-1"}),
        ),
        (
            "remote_session_ended_nulls",
            "remote.session.ended",
            t,
            json!({"sessionId": "r-1", "deviceId": "d-1", "userId": null, "bytesIn": null, "bytesOut": null, "durationMs": null, "transcriptSha256": null, "transcriptBytes": null, "truncated": true, "reason": "replica_lost"}),
        ),
        (
            "approval_requested",
            "approval.requested",
            t,
            json!({"approvalId": "a-1", "tool": "run_script", "requestedBy": USER, "argumentsDigest": "ab".repeat(32), "expiresAt": "2026-01-01T00:15:00Z"}),
        ),
        (
            "approval_decided_partial",
            "approval.decided",
            t,
            json!({"approvalId": "a-1", "decision": "denied"}),
        ),
        ("audit_appended", "audit.appended", t, audit_appended_data()),
        (
            "unicode_and_escapes",
            "device.enrolled",
            t,
            json!({"hostname": "caf\u{e9}-\u{2713}\t\"quoted\"\u{1}"}),
        ),
        (
            "timestamp_fraction_and_offset",
            "webhook.test",
            "2026-01-01T01:30:59.999999+01:30",
            json!({}),
        ),
        (
            "timestamp_lowercase_t_z",
            "webhook.test",
            "2026-01-01t00:00:00z",
            json!({}),
        ),
        (
            "timestamp_epoch",
            "webhook.test",
            "1970-01-01T00:00:00Z",
            json!({}),
        ),
    ];
    let bad: Vec<(&str, &str, &str, &str, Value, &str)> = vec![
        (
            "unknown_type",
            "device.deleted",
            t,
            ORG,
            json!({}),
            "unknown_event",
        ),
        (
            "type_wrong_case",
            "Device.Enrolled",
            t,
            ORG,
            json!({}),
            "unknown_event",
        ),
        ("type_empty", "", t, ORG, json!({}), "unknown_event"),
        (
            "data_array",
            "device.quarantined",
            t,
            ORG,
            json!([]),
            "data_not_object",
        ),
        (
            "data_null",
            "device.quarantined",
            t,
            ORG,
            Value::Null,
            "data_not_object",
        ),
        (
            "data_string",
            "device.quarantined",
            t,
            ORG,
            json!("d-1"),
            "data_not_object",
        ),
        (
            "undocumented_field",
            "device.quarantined",
            t,
            ORG,
            json!({"deviceId": "d-1", "ip": "192.0.2.7"}),
            "undocumented_field",
        ),
        (
            "stderr_refused",
            "command.completed",
            t,
            ORG,
            json!({"commandId": "c-1", "stderr": "boom"}),
            "undocumented_field",
        ),
        (
            "field_wrong_case",
            "device.quarantined",
            t,
            ORG,
            json!({"deviceid": "d-1"}),
            "undocumented_field",
        ),
        (
            "test_event_takes_no_data",
            "webhook.test",
            t,
            ORG,
            json!({"deviceId": "d-1"}),
            "undocumented_field",
        ),
        (
            "timestamp_date_only",
            "webhook.test",
            "2026-01-01",
            ORG,
            json!({}),
            "timestamp_invalid",
        ),
        (
            "timestamp_no_offset",
            "webhook.test",
            "2026-01-01T00:00:00",
            ORG,
            json!({}),
            "timestamp_invalid",
        ),
        (
            "timestamp_unix",
            "webhook.test",
            "1767225600",
            ORG,
            json!({}),
            "timestamp_invalid",
        ),
        (
            "org_not_uuid",
            "webhook.test",
            t,
            "org-1",
            json!({}),
            "invalid_input",
        ),
    ];
    let mut cases = Vec::new();
    for (name, event_type, timestamp, data) in ok {
        let body =
            build(event_type, timestamp, ORG, &data).unwrap_or_else(|c| panic!("{name}: {c}"));
        cases.push(json!({
            "name": name, "type": event_type, "timestamp": timestamp, "org_id": ORG, "data": data,
            "expect": {"ok": true, "body": body},
        }));
    }
    for (name, event_type, timestamp, org, data, code) in bad {
        let got = build(event_type, timestamp, org, &data).unwrap_err();
        assert_eq!(got, code, "{name}");
        cases.push(json!({
            "name": name, "type": event_type, "timestamp": timestamp, "org_id": org, "data": data,
            "expect": {"ok": false, "code": code},
        }));
    }
    let catalogue: Vec<Value> = EventType::ALL
        .iter()
        .map(|e| json!({"type": e.as_str(), "subscribable": e.is_subscribable(), "dataFields": e.data_fields()}))
        .collect();
    json!({
        "description": "Webhook event catalogue and delivery bodies (SPEC 13). `catalogue`: webhook_event_catalogue() == catalogue. `cases`: webhook_payload(type, timestamp, org_id, data) returns expect.body exactly (compact JSON {type, timestamp (UTC, seconds), orgId, data}) or raises expect.code (invalid_input: family input; the others: family webhook).",
        "catalogue": catalogue,
        "cases": cases,
    })
}
