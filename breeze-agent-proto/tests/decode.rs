//! Decoding behaviour: limits before parsing, strictness, tolerance, echo bounds, secrets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_agent_proto::file::{MAX_FILE_BASE64_CHARS, decode_checked};
use breeze_agent_proto::limits::{
    MAX_FILE_TRANSFER_BYTES, MAX_HEARTBEAT_BODY_BYTES, MAX_OUTPUT_CHARS, MAX_REMOTE_PATH_BYTES,
    MAX_RESULT_ERROR_CHARS, MAX_RESULT_JSON_BYTES, MAX_SERVER_MESSAGE_BYTES,
    MAX_TERMINAL_FRAME_BYTES, MAX_TERMINAL_INPUT_BYTES, MAX_TEXT_FRAME_BYTES,
};
use breeze_agent_proto::viewer::ViewerInput;
use breeze_agent_proto::{
    AgentFrame, Command, CommandBody, CommandResult, CommandStatus, CommandType, ContentError,
    DecodeError, EncodeError, EnrollRequest, EnrollResponse, ErrorFrame, ErrorFrameCode,
    FileContent, FileWritePayload, HeartbeatRequest, HeartbeatResponse, HeartbeatStatus,
    Informational, IssueCode, Message, MessageKind, RemotePath, ServerFrame, SessionId,
    TerminalInput, ViewerEvent, ViewerFrame, WireToken,
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

// ---------------------------------------------------------------- remote sessions (SPEC 12)

const SESSION: &str = "9d4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e1";
const WELCOME_SHA256: &str = "0e90e1aa36481e399939d32680dab2005c299f2bb9c3ba6b151ac0cc821fec7a";

fn file_command(ty: &str, path: &str) -> Vec<u8> {
    let payload = if ty == "file_write" {
        json!({ "path": path, "contentBase64": "V2VsY29tZQo=", "sha256": WELCOME_SHA256 })
    } else {
        json!({ "path": path })
    };
    json!({ "id": CMD, "type": ty, "payload": payload })
        .to_string()
        .into_bytes()
}

fn only_issue(err: DecodeError) -> breeze_agent_proto::Issue {
    let invalid = invalid(err);
    assert_eq!(invalid.issues.len(), 1, "{:?}", invalid.issues);
    invalid.issues.into_iter().next().unwrap()
}

#[test]
fn every_file_command_refuses_each_break_of_the_path_rule() {
    let long = format!("/{}", "a".repeat(MAX_REMOTE_PATH_BYTES));
    let long_multibyte = format!("/{}", "é".repeat(MAX_REMOTE_PATH_BYTES / 2));
    let cases: [(&str, &str, IssueCode); 9] = [
        ("", "path_empty", IssueCode::TooShort),
        (&long, "path_too_long", IssueCode::TooLong),
        (&long_multibyte, "path_too_long", IssueCode::TooLong),
        ("/etc/\0shadow", "path_nul", IssueCode::InvalidFormat),
        ("etc/shadow", "path_relative", IssueCode::InvalidFormat),
        (
            "\\\\server\\share",
            "path_relative",
            IssueCode::InvalidFormat,
        ),
        (
            "/var/../etc/shadow",
            "path_dot_dot",
            IssueCode::InvalidFormat,
        ),
        (
            "C:\\Users\\..\\Admin",
            "path_dot_dot",
            IssueCode::InvalidFormat,
        ),
        ("/a\\..\\b", "path_dot_dot", IssueCode::InvalidFormat),
    ];
    for ty in ["file_list", "file_read", "file_delete", "file_write"] {
        for (path, rule, code) in &cases {
            let issue = only_issue(Command::decode(&file_command(ty, path)).unwrap_err());
            assert_eq!(issue.path, "payload.path", "{ty} {path:?}");
            assert_eq!(issue.code, *code, "{ty} {path:?}");
            assert_eq!(issue.message, *rule, "{ty} {path:?}");
            assert_eq!(RemotePath::parse(path).unwrap_err().code(), *rule);
        }
        let at_limit = format!("/{}", "a".repeat(MAX_REMOTE_PATH_BYTES - 1));
        for ok in [
            "/",
            "/etc/hosts",
            "C:\\Windows\\win.ini",
            "d:/x",
            "/a/..b",
            &at_limit,
        ] {
            assert!(
                Command::decode(&file_command(ty, ok)).is_ok(),
                "{ty} {ok:?}"
            );
        }
    }
}

#[test]
fn terminal_input_over_16_kib_is_refused_in_bytes() {
    let server = |data: &str| {
        json!({ "type": "terminal_input", "sessionId": SESSION, "data": data }).to_string()
    };
    let browser = |data: &str| json!({ "type": "input", "data": data }).to_string();
    let at = "a".repeat(MAX_TERMINAL_INPUT_BYTES);
    let over = "a".repeat(MAX_TERMINAL_INPUT_BYTES + 1);
    // 8,193 two-byte characters: under the limit in characters, over it in bytes.
    let over_multibyte = "é".repeat(MAX_TERMINAL_INPUT_BYTES / 2 + 1);
    assert!(ServerFrame::decode(server(&at).as_bytes()).is_ok());
    assert!(ViewerFrame::decode(browser(&at).as_bytes()).is_ok());
    for data in [&over, &over_multibyte] {
        for err in [
            ServerFrame::decode(server(data).as_bytes()).unwrap_err(),
            ViewerFrame::decode(browser(data).as_bytes()).unwrap_err(),
        ] {
            let issue = only_issue(err);
            assert_eq!(
                (issue.path.as_str(), issue.code),
                ("data", IssueCode::TooLong)
            );
        }
    }
    // The encoders refuse what the peer would refuse.
    let frame = ViewerFrame::Input(ViewerInput { data: over.clone() });
    assert!(matches!(frame.encode(), Err(EncodeError::Invalid(_))));
    let frame = ServerFrame::TerminalInput(TerminalInput {
        session_id: SessionId::parse(SESSION).unwrap(),
        data: over,
    });
    assert!(matches!(frame.encode(), Err(EncodeError::Invalid(_))));
}

#[test]
fn terminal_output_over_64_kib_is_refused_before_parsing() {
    let head = json!({ "type": "terminal_output", "sessionId": SESSION, "data": "" }).to_string();
    let frame = |total: usize| {
        let data = "x".repeat(total - head.len());
        json!({ "type": "terminal_output", "sessionId": SESSION, "data": data }).to_string()
    };
    assert!(AgentFrame::decode(frame(MAX_TERMINAL_FRAME_BYTES).as_bytes()).is_ok());
    let err = AgentFrame::decode(frame(MAX_TERMINAL_FRAME_BYTES + 1).as_bytes()).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooLarge {
            size: MAX_TERMINAL_FRAME_BYTES + 1,
            max: MAX_TERMINAL_FRAME_BYTES
        }
    );
    // Not JSON past the limit: the size check wins, for the agent frame and the browser event.
    let mut junk = br#"{"type":"terminal_output","#.to_vec();
    junk.resize(MAX_TERMINAL_FRAME_BYTES + 1, b'[');
    assert!(matches!(
        AgentFrame::decode(&junk),
        Err(DecodeError::TooLarge { .. })
    ));
    let mut junk = br#"{"type":"output","#.to_vec();
    junk.resize(MAX_TERMINAL_FRAME_BYTES + 1, b'[');
    assert!(matches!(
        ViewerEvent::decode(&junk),
        Err(DecodeError::TooLarge { .. })
    ));
    // A browser frame has the same 64 KiB bound.
    let mut junk = br#"{"type":"input","#.to_vec();
    junk.resize(MAX_TERMINAL_FRAME_BYTES + 1, b'[');
    assert!(matches!(
        ViewerFrame::decode(&junk),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn bad_sha256_is_refused_on_the_wire_and_on_decode() {
    let write = |sha: &str| {
        json!({ "id": CMD, "type": "file_write",
            "payload": { "path": "/etc/motd", "contentBase64": "V2VsY29tZQo=", "sha256": sha } })
        .to_string()
    };
    let result = |sha: &str| {
        json!({ "commandId": CMD, "status": "completed",
            "file": { "kind": "written", "size": 8, "sha256": sha } })
        .to_string()
    };
    for bad in [
        WELCOME_SHA256.to_uppercase(),
        WELCOME_SHA256[..63].to_owned(),
        format!("{WELCOME_SHA256}0"),
        "g".repeat(64),
        String::new(),
    ] {
        let issue = only_issue(Command::decode(write(&bad).as_bytes()).unwrap_err());
        assert_eq!(
            (issue.path.as_str(), issue.code),
            ("payload.sha256", IssueCode::InvalidFormat)
        );
        let issue = only_issue(CommandResult::decode(result(&bad).as_bytes()).unwrap_err());
        assert_eq!(
            (issue.path.as_str(), issue.code),
            ("file.sha256", IssueCode::InvalidFormat)
        );
        assert_eq!(
            decode_checked("V2VsY29tZQo=", &bad, None).unwrap_err(),
            ContentError::DigestMismatch,
            "{bad:?}"
        );
    }
    // Well-formed but not the content's digest: the wire accepts it, decoding refuses it.
    let other = breeze_agent_proto::file::sha256_hex(b"other");
    let command = Command::decode(write(&other).as_bytes()).unwrap().message;
    let CommandBody::FileWrite(payload) = command.body else {
        panic!("a file_write");
    };
    assert_eq!(payload.decode().unwrap_err(), ContentError::DigestMismatch);
    assert_eq!(ContentError::DigestMismatch.code(), "digest_mismatch");
}

#[test]
fn content_over_4_mib_is_refused() {
    let zeros = vec![0u8; MAX_FILE_TRANSFER_BYTES];
    // Exactly 4 MiB travels in a file_write command and decodes.
    let at = FileWritePayload::new("/tmp/big", &zeros).unwrap();
    let text = Command::new(CommandBody::FileWrite(at.clone()))
        .encode()
        .unwrap();
    assert!(text.len() <= MAX_SERVER_MESSAGE_BYTES);
    assert_eq!(at.decode().unwrap().len(), MAX_FILE_TRANSFER_BYTES);
    // One byte more is refused when wrapping, when decoding, and on the wire.
    let mut over = zeros;
    over.push(0);
    assert_eq!(FileContent::new(&over).unwrap_err(), ContentError::TooLarge);
    assert_eq!(
        FileWritePayload::new("/tmp/big", &over).unwrap_err(),
        ContentError::TooLarge
    );
    let sha = breeze_agent_proto::file::sha256_hex(&over);
    let b64 = format!("{}AAA=", "AAAA".repeat(MAX_FILE_TRANSFER_BYTES / 3));
    assert!(b64.len() <= MAX_FILE_BASE64_CHARS);
    assert_eq!(
        decode_checked(&b64, &sha, None).unwrap_err(),
        ContentError::TooLarge
    );
    let long = "A".repeat(MAX_FILE_BASE64_CHARS + 4);
    assert_eq!(
        decode_checked(&long, &sha, None).unwrap_err(),
        ContentError::TooLarge
    );
    let frame = json!({ "id": CMD, "type": "file_write",
        "payload": { "path": "/tmp/big", "contentBase64": long, "sha256": sha } })
    .to_string();
    let issue = only_issue(Command::decode(frame.as_bytes()).unwrap_err());
    assert_eq!(
        (issue.path.as_str(), issue.code),
        ("payload.contentBase64", IssueCode::TooLong)
    );
    assert_eq!(ContentError::TooLarge.code(), "file_too_large");
}

#[test]
fn unknown_viewer_types_are_refused_and_echoed_bounded() {
    for (input, tag) in [
        (json!({ "type": "exec", "data": "id" }), "exec"),
        (
            json!({ "type": "terminal_input", "sessionId": SESSION, "data": "x" }),
            "terminal_input",
        ),
        (json!({ "type": "output", "data": "x" }), "output"),
    ] {
        let err = invalid(ViewerFrame::decode(input.to_string().as_bytes()).unwrap_err());
        assert_eq!(err.issues[0].code, IssueCode::UnknownType);
        assert_eq!(err.received_type.as_deref(), Some(tag));
    }
    for input in [
        json!({ "type": "eval", "code": "x" }),
        json!({ "type": "input", "data": "x" }),
    ] {
        let err = invalid(ViewerEvent::decode(input.to_string().as_bytes()).unwrap_err());
        assert_eq!(err.issues[0].code, IssueCode::UnknownType);
    }
    let long = json!({ "type": "x".repeat(250) }).to_string();
    let err = invalid(ViewerFrame::decode(long.as_bytes()).unwrap_err());
    assert!(err.received_type.unwrap().chars().count() <= 200);
    let err = invalid(ViewerFrame::decode(br#"{"data":"x"}"#).unwrap_err());
    assert_eq!(err.issues[0].code, IssueCode::MissingType);
}

#[test]
fn extra_fields_are_refused_in_every_new_message() {
    let file = json!({ "kind": "written", "size": 1, "sha256": WELCOME_SHA256, "path": "/x" });
    let cases: Vec<(MessageKind, serde_json::Value, &str)> = vec![
        (
            MessageKind::ServerFrame,
            json!({ "type": "terminal_start", "sessionId": SESSION, "cols": 80, "rows": 24, "shell": "sh" }),
            "shell",
        ),
        (
            MessageKind::ServerFrame,
            json!({ "type": "terminal_input", "sessionId": SESSION, "data": "x", "echo": true }),
            "echo",
        ),
        (
            MessageKind::ServerFrame,
            json!({ "type": "terminal_resize", "sessionId": SESSION, "cols": 80, "rows": 24, "px": 1 }),
            "px",
        ),
        (
            MessageKind::ServerFrame,
            json!({ "type": "terminal_stop", "sessionId": SESSION, "force": true }),
            "force",
        ),
        (
            MessageKind::AgentFrame,
            json!({ "type": "terminal_exit", "sessionId": SESSION, "signal": 9 }),
            "signal",
        ),
        (
            MessageKind::AgentFrame,
            json!({ "type": "terminal_output", "sessionId": SESSION, "data": "x", "seq": 1 }),
            "seq",
        ),
        (
            MessageKind::ViewerFrame,
            json!({ "type": "input", "data": "x", "sessionId": SESSION }),
            "sessionId",
        ),
        (
            MessageKind::ViewerFrame,
            json!({ "type": "resize", "cols": 1, "rows": 1, "x": 0 }),
            "x",
        ),
        (
            MessageKind::ViewerFrame,
            json!({ "type": "stop", "reason": "bye" }),
            "reason",
        ),
        (
            MessageKind::ViewerEvent,
            json!({ "type": "output", "data": "x", "raw": true }),
            "raw",
        ),
        (
            MessageKind::ViewerEvent,
            json!({ "type": "exit", "code": 0, "signal": 9 }),
            "signal",
        ),
        (
            MessageKind::ViewerEvent,
            json!({ "type": "notice", "code": "c", "message": "m", "level": 1 }),
            "level",
        ),
        (
            MessageKind::Command,
            json!({ "id": CMD, "type": "file_write", "payload": { "path": "/x", "contentBase64": "", "sha256": WELCOME_SHA256, "mode": 511 } }),
            "payload.mode",
        ),
        (
            MessageKind::CommandResult,
            json!({ "commandId": CMD, "status": "completed", "file": file }),
            "file.path",
        ),
    ];
    for (kind, input, path) in cases {
        let err = kind
            .decode_to_json(input.to_string().as_bytes())
            .unwrap_err();
        let issue = only_issue(err);
        assert_eq!(
            (issue.path.as_str(), issue.code),
            (path, IssueCode::UnknownField),
            "{input}"
        );
    }
}

#[test]
fn removed_terminal_commands_are_unknown_types() {
    for ty in [
        "terminal_start",
        "terminal_data",
        "terminal_resize",
        "terminal_stop",
    ] {
        assert!(CommandType::from_name(ty).is_none(), "{ty}");
        let body = json!({ "id": CMD, "type": ty, "payload": { "sessionId": SESSION } });
        let command = Command::decode(body.to_string().as_bytes())
            .unwrap()
            .message;
        assert!(matches!(command.body, CommandBody::Unknown(_)), "{ty}");
    }
    assert_eq!(
        CommandType::from_name("file_write"),
        Some(CommandType::FileWrite)
    );
}
