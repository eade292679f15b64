//! Decoding behaviour: limits before parsing, strictness, tolerance, echo bounds, secrets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_agent_proto::limits::{
    MAX_HEARTBEAT_BODY_BYTES, MAX_OUTPUT_CHARS, MAX_RESULT_ERROR_CHARS, MAX_RESULT_JSON_BYTES,
    MAX_SERVER_MESSAGE_BYTES, MAX_TEXT_FRAME_BYTES,
};
use breeze_agent_proto::{
    AgentFrame, Command, CommandBody, CommandResult, CommandStatus, DecodeError, EncodeError,
    EnrollRequest, EnrollResponse, ErrorFrame, ErrorFrameCode, HeartbeatRequest, HeartbeatResponse,
    HeartbeatStatus, Informational, IssueCode, Message, ServerFrame, WireToken,
};
use serde_json::json;

const CMD: &str = "8c3e4a6b-9d0f-4e2c-b3d4-e5f6a7b8c9d0";
const KEY: &str = "9d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e";

fn invalid(err: DecodeError) -> breeze_agent_proto::InvalidMessage {
    match err {
        DecodeError::Invalid(i) => i,
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn oversized_heartbeat_is_refused_before_parsing() {
    // Not JSON at all: a parser would report a syntax error; the size check must win.
    let body = vec![b'x'; MAX_HEARTBEAT_BODY_BYTES + 1];
    let err = HeartbeatRequest::decode(&body).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooLarge {
            size: MAX_HEARTBEAT_BODY_BYTES + 1,
            max: MAX_HEARTBEAT_BODY_BYTES
        }
    );
    assert_eq!(err.code(), "too_large");
    // Exactly at the limit is parsed (and fails as JSON, which proves it was parsed).
    let err = HeartbeatRequest::decode(&body[..MAX_HEARTBEAT_BODY_BYTES]).unwrap_err();
    assert_eq!(invalid(err).issues[0].code, IssueCode::Syntax);
}

#[test]
fn oversized_text_frames_are_refused_before_parsing() {
    let frame = vec![b'{'; MAX_TEXT_FRAME_BYTES + 1];
    assert!(matches!(
        AgentFrame::decode(&frame),
        Err(DecodeError::TooLarge { .. })
    ));
    let frame = vec![b'{'; MAX_SERVER_MESSAGE_BYTES + 1];
    assert!(matches!(
        ServerFrame::decode(&frame),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn heartbeat_frame_has_its_own_limit() {
    let padding = "a".repeat(MAX_HEARTBEAT_BODY_BYTES);
    let frame =
        json!({ "type": "heartbeat", "status": "ok", "agentVersion": "1", "hostname": padding })
            .to_string();
    assert!(frame.len() < MAX_TEXT_FRAME_BYTES);
    let err = AgentFrame::decode(frame.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TooLarge {
                max: MAX_HEARTBEAT_BODY_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
}

fn result_with(field: &str, value: serde_json::Value) -> Vec<u8> {
    let mut v = json!({ "commandId": CMD, "status": "completed" });
    v[field] = value;
    v.to_string().into_bytes()
}

#[test]
fn output_caps_are_exact_in_characters() {
    // Multi-byte characters: the cap counts characters, not bytes.
    let at_cap = "é".repeat(MAX_OUTPUT_CHARS);
    assert!(CommandResult::decode(&result_with("stdout", json!(at_cap))).is_ok());
    let over = "é".repeat(MAX_OUTPUT_CHARS + 1);
    let err = invalid(CommandResult::decode(&result_with("stderr", json!(over))).unwrap_err());
    assert_eq!(err.issues[0].path, "stderr");
    assert_eq!(err.issues[0].code, IssueCode::TooLong);

    let err_text = "e".repeat(MAX_RESULT_ERROR_CHARS + 1);
    let err = invalid(CommandResult::decode(&result_with("error", json!(err_text))).unwrap_err());
    assert_eq!(err.issues[0].path, "error");
    assert!(
        CommandResult::decode(&result_with(
            "error",
            json!("e".repeat(MAX_RESULT_ERROR_CHARS))
        ))
        .is_ok()
    );
}

#[test]
fn result_json_is_capped_at_5_mb() {
    let big = json!({ "blob": "x".repeat(MAX_RESULT_JSON_BYTES) });
    let err = invalid(CommandResult::decode(&result_with("result", big)).unwrap_err());
    assert_eq!(err.issues[0].path, "result");
    let fits = json!({ "blob": "x".repeat(MAX_RESULT_JSON_BYTES - 20) });
    assert!(CommandResult::decode(&result_with("result", fits)).is_ok());
}

#[test]
fn at_most_ten_issues_are_listed_and_all_are_counted() {
    let nics: Vec<_> = (0..25)
        .map(|_| json!({ "name": "", "ip": "nope" }))
        .collect();
    let body = json!({ "enrollmentKey": KEY, "hostname": "", "osType": "linux", "osVersion": "1",
        "architecture": "x", "agentVersion": "1", "networkInfo": nics });
    let err = invalid(EnrollRequest::decode(body.to_string().as_bytes()).unwrap_err());
    assert_eq!(err.issues.len(), 10);
    assert_eq!(err.total_issues, 51);
    assert_eq!(err.issues[0].path, "hostname");
    assert_eq!(err.issues[1].path, "networkInfo[0].name");
    assert!(err.to_string().contains("(and 41 more)"));
}

#[test]
fn unknown_agent_frame_type_is_echoed_bounded() {
    let long = "t".repeat(5000);
    let frame = json!({ "type": long }).to_string();
    let err = AgentFrame::decode(frame.as_bytes()).unwrap_err();
    let reply = ErrorFrame::invalid_message(&err);
    assert_eq!(reply.code, ErrorFrameCode::InvalidMessage);
    assert_eq!(reply.received_type.as_ref().unwrap().chars().count(), 200);
    assert_eq!(reply.issues[0].code, IssueCode::UnknownType);
    // The reply is itself a valid server frame.
    let text = ServerFrame::Error(reply).encode().unwrap();
    assert!(ServerFrame::decode(text.as_bytes()).is_ok());
}

#[test]
fn processing_error_frame_is_bounded() {
    let reply = ErrorFrame::processing_error(&"m".repeat(5000), &"t".repeat(500));
    assert_eq!(reply.code, ErrorFrameCode::ProcessingError);
    assert_eq!(reply.received_type.as_ref().unwrap().len(), 200);
    assert!(ServerFrame::Error(reply).encode().is_ok());
}

#[test]
fn bad_informational_values_are_dropped_not_fatal() {
    let body = json!({ "status": "ok", "agentVersion": "1",
        "metrics": { "cpuPercent": -1, "ramPercent": 50.5, "diskUsedGb": "lots" },
        "hostname": "h".repeat(300), "uptime": 12.5, "osVersion": "ok" });
    let decoded = HeartbeatRequest::decode(body.to_string().as_bytes()).unwrap();
    let beat = &decoded.message;
    let metrics = beat.metrics.get().unwrap();
    assert_eq!(
        metrics.cpu_percent,
        Informational::Dropped("must be between 0 and 100".into())
    );
    assert_eq!(metrics.ram_percent.get(), Some(&50.5));
    assert!(metrics.disk_used_gb.get().is_none());
    assert!(beat.hostname.get().is_none());
    assert!(beat.uptime.get().is_none());
    assert_eq!(beat.os_version.get().map(String::as_str), Some("ok"));
    let paths: Vec<_> = decoded.dropped.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "metrics.cpuPercent",
            "metrics.diskUsedGb",
            "uptime",
            "hostname"
        ]
    );
    // Dropped fields are not re-sent, and the rest survives the round trip.
    let again = HeartbeatRequest::decode(serde_json::to_string(beat).unwrap().as_bytes()).unwrap();
    assert!(again.dropped.is_empty());
    assert_eq!(
        again.message.metrics.get().unwrap().ram_percent.get(),
        Some(&50.5)
    );
}

#[test]
fn dropped_reasons_never_echo_the_value() {
    let secret = "brz_0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let body = json!({ "status": "ok", "agentVersion": "1", "uptime": secret, "metrics": secret });
    let decoded = HeartbeatRequest::decode(body.to_string().as_bytes()).unwrap();
    assert_eq!(decoded.dropped.len(), 2);
    assert!(!format!("{decoded:?}").contains("0a1b2c3d"));
}

#[test]
fn protocol_fields_stay_strict() {
    for body in [
        json!({ "agentVersion": "1" }),
        json!({ "status": "great", "agentVersion": "1" }),
        json!({ "status": "ok", "agentVersion": "" }),
        json!({ "status": "ok", "agentVersion": "1", "protocolVersion": 0 }),
        json!({ "status": "ok", "agentVersion": "1", "unknownThing": 1 }),
    ] {
        assert!(
            HeartbeatRequest::decode(body.to_string().as_bytes()).is_err(),
            "{body}"
        );
    }
}

#[test]
fn errors_never_echo_secret_values() {
    // A secret sent with the wrong type or format must not come back in the error.
    let secret = "hunter2-very-secret-value";
    let body = json!({ "enrollmentKey": secret, "enrollmentSecret": 123456789, "hostname": "h",
        "osType": "linux", "osVersion": "1", "architecture": "x", "agentVersion": "1" });
    let err = EnrollRequest::decode(body.to_string().as_bytes()).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(secret));
    let body = json!({ "enrollmentKey": KEY, "enrollmentSecret": 123456789, "hostname": "h",
        "osType": "linux", "osVersion": "1", "architecture": "x", "agentVersion": "1" });
    let err = EnrollRequest::decode(body.to_string().as_bytes()).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("123456789"));
    assert_eq!(err.issues()[0].path, "enrollmentSecret");
}

#[test]
fn secrets_are_redacted_in_debug_and_compare_by_value() {
    let t = "brz_0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let token = WireToken::parse(t).unwrap();
    assert_eq!(format!("{token:?}"), "WireToken([REDACTED])");
    assert_eq!(token, WireToken::parse(t).unwrap());
    assert_ne!(token, WireToken::parse(&t.replace("f9", "fa")).unwrap());
    for bad in [
        "",
        "brz_",
        "brz_0A1B",
        &t.to_uppercase(),
        &format!("{t}0"),
        &t[..t.len() - 1],
    ] {
        let err = WireToken::parse(bad).unwrap_err();
        assert!(!err.to_string().contains("0a1b"), "{err}");
    }
    let body = json!({ "agentId": "a".repeat(64), "deviceId": CMD, "authToken": t,
        "watchdogAuthToken": t, "helperAuthToken": t, "orgId": CMD, "siteId": CMD,
        "config": { "heartbeatIntervalSeconds": 60, "metricsCollectionIntervalSeconds": 30 } });
    let decoded = EnrollResponse::decode(body.to_string().as_bytes()).unwrap();
    assert!(!format!("{decoded:?}").contains("0a1b2c3d"));
}

#[test]
fn unknown_command_type_is_reported_not_fatal() {
    let frame =
        json!({ "id": CMD, "type": "format_disk", "payload": { "drive": "C:" } }).to_string();
    let decoded = ServerFrame::decode(frame.as_bytes())
        .unwrap()
        .into_message();
    let ServerFrame::Command(command) = decoded else {
        panic!("expected a command")
    };
    let CommandBody::Unknown(unknown) = &command.body else {
        panic!("expected unknown")
    };
    assert_eq!(unknown.command_type, "format_disk");
    let result = command.unsupported_result().unwrap();
    assert_eq!(result.status, CommandStatus::Failed);
    assert_eq!(
        result.error.as_deref(),
        Some("unsupported command type `format_disk`")
    );
    assert_eq!(result.command_id, command.id);
    // The answer is a valid agent frame.
    assert!(AgentFrame::CommandResult(result).encode().is_ok());

    // In a heartbeat response, an unknown type does not spoil the other commands.
    let body = json!({ "commands": [
        { "id": CMD, "type": "format_disk", "payload": null },
        { "id": CMD, "type": "reboot", "payload": {} }
    ] });
    let response = HeartbeatResponse::decode(body.to_string().as_bytes())
        .unwrap()
        .message;
    assert!(matches!(response.commands[0].body, CommandBody::Unknown(_)));
    assert!(matches!(response.commands[1].body, CommandBody::Reboot(_)));
    assert!(response.commands[1].unsupported_result().is_none());
}

#[test]
fn known_command_with_bad_payload_is_an_error_with_a_path() {
    let body = json!({ "commands": [
        { "id": CMD, "type": "reboot", "payload": {} },
        { "id": CMD, "type": "kill_process", "payload": { "pid": "1" } }
    ] });
    let err = invalid(HeartbeatResponse::decode(body.to_string().as_bytes()).unwrap_err());
    assert_eq!(err.issues[0].path, "commands[1].payload.pid");
    assert_eq!(err.issues[0].code, IssueCode::InvalidType);
    let body = json!({ "commands": [{ "id": CMD, "type": "reboot", "payload": {}, "extra": 1 }] });
    let err = invalid(HeartbeatResponse::decode(body.to_string().as_bytes()).unwrap_err());
    assert_eq!(err.issues[0].path, "commands[0].extra");
    assert_eq!(err.issues[0].code, IssueCode::UnknownField);
}

#[test]
fn encode_refuses_what_the_peer_would_refuse() {
    let mut beat = HeartbeatRequest::new(HeartbeatStatus::Ok, "1");
    beat.agent_version = String::new();
    assert!(matches!(beat.encode(), Err(EncodeError::Invalid(_))));
    let mut beat = HeartbeatRequest::new(HeartbeatStatus::Ok, "1");
    beat.hostname = Informational::Present(String::new());
    assert!(
        matches!(beat.encode(), Err(EncodeError::Invalid(_))),
        "would be dropped"
    );
    let mut result = CommandResult::new(
        breeze_core::tenancy::CommandId::new_random(),
        CommandStatus::Completed,
    );
    result.stdout = Some("x".repeat(MAX_OUTPUT_CHARS + 10));
    assert!(result.encode().is_err());
    result.truncate_to_limits();
    assert_eq!(result.stdout.as_ref().unwrap().len(), MAX_OUTPUT_CHARS);
    assert!(result.encode().is_ok());
    let too_many = HeartbeatResponse {
        commands: (0..11)
            .map(|_| Command::new(CommandBody::ListProcesses(Default::default())))
            .collect(),
        ..HeartbeatResponse::default()
    };
    assert!(too_many.encode().is_err());
}

#[test]
fn deeply_nested_json_is_refused_not_overflowed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let frame = format!(
        r#"{{"type":"command_result","commandId":"{CMD}","status":"completed","result":{deep}}}"#
    );
    let err = AgentFrame::decode(frame.as_bytes()).unwrap_err();
    assert_eq!(err.issues()[0].code, IssueCode::Syntax);
    let body = format!(r#"{{"status":"ok","agentVersion":"1","metrics":{deep}}}"#);
    assert!(HeartbeatRequest::decode(body.as_bytes()).is_err());
}

#[test]
fn non_utf8_and_duplicate_keys_are_refused() {
    let mut bytes = br#"{"type":"pong","timestamp":1}"#.to_vec();
    bytes[9] = 0xff;
    assert!(AgentFrame::decode(&bytes).is_err());
    let dup = br#"{"status":"ok","status":"error","agentVersion":"1"}"#;
    let err = HeartbeatRequest::decode(dup).unwrap_err();
    assert_eq!(err.issues()[0].path, "status");
}

#[test]
fn finding_18_small_frame_types_are_capped_before_parsing() {
    use breeze_agent_proto::limits::{MAX_COMMAND_RESULT_BODY_BYTES, MAX_SMALL_FRAME_BYTES};
    let pad = "a".repeat(MAX_SMALL_FRAME_BYTES);
    // not JSON past its type: a parse would report a syntax error; the cap comes first
    for frame in [
        format!(r#"{{"type":"pong","pad":"{pad}"#),
        format!(r#"{{"type":"update_status","pad":"{pad}"#),
        format!(r#"{{"type":"shell_exec","pad":"{pad}"#),
        // no type member found: the small cap
        format!(r#"{{"pad":"{pad}"#),
        format!(r#"["{pad}"]"#),
        // a type that is not a plain string
        format!(r#"{{"type":["command_result"],"pad":"{pad}"}}"#),
        format!(r#"{{"ty\u0070e":"command_result","pad":"{pad}"}}"#),
        // a nested type member does not count
        format!(r#"{{"x":{{"type":"command_result"}},"pad":"{pad}"}}"#),
        format!(r#"{{"x":"\"type\":\"command_result\"","pad":"{pad}"}}"#),
    ] {
        let err = AgentFrame::decode(frame.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooLarge {
                    max: MAX_SMALL_FRAME_BYTES,
                    ..
                }
            ),
            "{}: {err:?}",
            &frame[..40]
        );
    }
    // a command result keeps the large cap wherever its type member is (keys sorted)
    let out = "b".repeat(3 * MAX_SMALL_FRAME_BYTES);
    let result = json!({"type": "command_result", "commandId": CMD, "status": "completed",
                        "stdout": out, "stderr": "x\"type\":\"pong\"", "exitCode": 0})
    .to_string();
    assert!(result.find("\"type\"").unwrap() > MAX_SMALL_FRAME_BYTES);
    assert!(AgentFrame::decode(result.as_bytes()).is_ok());
    let leading = format!(
        r#"{{ "type" : "command_result", "commandId":"{CMD}","status":"completed","stdout":"{out}"}}"#
    );
    assert!(AgentFrame::decode(leading.as_bytes()).is_ok());
    // ... and only that: above it, refused by size
    let huge = format!(
        r#"{{"type":"command_result","stdout":"{}"#,
        "c".repeat(MAX_COMMAND_RESULT_BODY_BYTES)
    );
    assert!(matches!(
        AgentFrame::decode(huge.as_bytes()),
        Err(DecodeError::TooLarge { .. })
    ));
    // a small frame still gets precise parse errors
    let err = AgentFrame::decode(br#"{"type":"pong","#).unwrap_err();
    assert_eq!(err.issues()[0].code, IssueCode::Syntax);
}

#[test]
fn finding_20_control_characters_in_hostnames_and_facts_are_refused() {
    let enroll = |field: &str, value: &str| {
        let mut body = json!({ "enrollmentKey": KEY, "hostname": "host", "osType": "linux",
            "osVersion": "6.1", "architecture": "x86_64", "agentVersion": "1.0.0" });
        body[field] = json!(value);
        EnrollRequest::decode(body.to_string().as_bytes())
    };
    for bad in [
        "host\nINFO forged",
        "host\u{1b}[31m",
        "\u{1b}[2J",
        "host\r",
        "host\t",
        "host\u{85}",
        "host\u{9b}1m",
        "host\u{7f}",
    ] {
        for field in ["hostname", "osVersion", "architecture", "agentVersion"] {
            let err = invalid(enroll(field, bad).unwrap_err());
            assert_eq!(err.issues[0].path, field, "{field}={bad:?}");
            assert_eq!(
                err.issues[0].code,
                IssueCode::InvalidFormat,
                "{field}={bad:?}"
            );
            assert!(!err.to_string().contains(bad), "value echoed: {err}");
        }
    }
    assert!(enroll("hostname", "WS-Zürich-01.example").is_ok());

    // a heartbeat's informational fields with controls are dropped, never kept
    let body = json!({ "status": "ok", "agentVersion": "1",
        "hostname": "host\n\u{1b}[31mforged", "osVersion": "os\u{85}", "lastUser": "eve\u{1b}[0m" });
    let decoded = HeartbeatRequest::decode(body.to_string().as_bytes()).unwrap();
    assert!(decoded.message.hostname.get().is_none());
    assert!(decoded.message.os_version.get().is_none());
    assert!(decoded.message.last_user.get().is_none());
    let paths: Vec<_> = decoded.dropped.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["hostname", "osVersion", "lastUser"]);
    // the required agentVersion is refused outright
    let body = json!({ "status": "ok", "agentVersion": "1\n2" });
    let err = invalid(HeartbeatRequest::decode(body.to_string().as_bytes()).unwrap_err());
    assert_eq!(err.issues[0].path, "agentVersion");
}
