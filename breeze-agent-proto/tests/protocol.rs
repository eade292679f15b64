//! Versioning, close codes, binary frames and error reasons.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_agent_proto::binary::{HEADER_BYTES, encode};
use breeze_agent_proto::limits::{MAX_DESKTOP_FRAME_DATA_BYTES, MAX_TUNNEL_FRAME_DATA_BYTES};
use breeze_agent_proto::version::{PROTOCOL_VERSION_HEADER, RefuseReason};
use breeze_agent_proto::{
    AgentVersions, BinaryFrame, BinaryFrameError, BinaryKind, CloseCode, ErrorReason, Negotiation,
    ProtocolVersion, SessionId, SupportedVersions, negotiate,
};

fn v(n: u16) -> ProtocolVersion {
    ProtocolVersion::new(n).unwrap()
}

#[test]
fn negotiation_accepts_downgrades_and_refuses() {
    let server = SupportedVersions {
        min: v(2),
        max: v(4),
    };
    let agent = |min, max| AgentVersions {
        min: v(min),
        max: v(max),
    };
    assert_eq!(negotiate(agent(3, 3), server), Negotiation::Accept(v(3)));
    assert_eq!(negotiate(agent(1, 4), server), Negotiation::Accept(v(4)));
    assert_eq!(
        negotiate(agent(2, 6), server),
        Negotiation::Downgrade {
            requested: v(6),
            to: v(4)
        }
    );
    assert_eq!(
        negotiate(agent(1, 1), server),
        Negotiation::Refuse(RefuseReason::AgentTooOld {
            agent_max: v(1),
            server_min: v(2)
        })
    );
    assert_eq!(
        negotiate(agent(5, 6), server),
        Negotiation::Refuse(RefuseReason::AgentTooNew {
            agent_min: v(5),
            server_max: v(4)
        })
    );
    assert_eq!(
        negotiate(agent(4, 3), server),
        Negotiation::Refuse(RefuseReason::InvalidRange)
    );
    let broken = SupportedVersions {
        min: v(4),
        max: v(2),
    };
    assert_eq!(
        negotiate(agent(3, 3), broken),
        Negotiation::Refuse(RefuseReason::InvalidRange)
    );
    // A legacy agent (no announcement) speaks version 1, which the default server accepts.
    let legacy = AgentVersions::announced(None, None);
    assert_eq!(
        negotiate(legacy, SupportedVersions::default()).version(),
        Some(ProtocolVersion::V1)
    );
    assert!(negotiate(legacy, server).version().is_none());
}

#[test]
fn version_header_parsing() {
    assert_eq!(PROTOCOL_VERSION_HEADER, "x-breeze-protocol-version");
    assert_eq!(
        AgentVersions::from_header(None).unwrap(),
        AgentVersions::announced(None, None)
    );
    assert_eq!(
        AgentVersions::from_header(Some("3")).unwrap(),
        AgentVersions {
            min: v(3),
            max: v(3)
        }
    );
    assert_eq!(
        AgentVersions::from_header(Some("1-3")).unwrap(),
        AgentVersions {
            min: v(1),
            max: v(3)
        }
    );
    assert_eq!(
        AgentVersions {
            min: v(1),
            max: v(3)
        }
        .to_header(),
        "1-3"
    );
    for bad in ["", "0", "-", "1-", "a", "99999999", "1-2-3", "+1", "1.0"] {
        assert!(AgentVersions::from_header(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn close_codes() {
    for code in CloseCode::ALL {
        assert_eq!(CloseCode::from_u16(code.as_u16()), Some(*code));
        assert!(!code.reason().is_empty() && code.reason().len() < 123);
    }
    assert_eq!(CloseCode::DeviceNotAuthorized.as_u16(), 4001);
    assert_eq!(CloseCode::Superseded.as_u16(), 4002);
    assert_eq!(CloseCode::PongTimeout.as_u16(), 4008);
    assert_eq!(CloseCode::ReconnectRequired.as_u16(), 4040);
    assert_eq!(CloseCode::from_u16(1000), None);
    assert!(!CloseCode::DeviceNotAuthorized.should_reconnect());
    assert!(CloseCode::PongTimeout.should_reconnect());
}

#[test]
fn binary_frames_round_trip_and_enforce_limits() {
    let id = SessionId::parse("9d4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e1").unwrap();
    for kind in [BinaryKind::Desktop, BinaryKind::Tunnel] {
        let data = vec![7u8; kind.max_data()];
        let bytes = encode(kind, &id, &data).unwrap();
        assert_eq!(bytes.len(), HEADER_BYTES + kind.max_data());
        let frame = BinaryFrame::decode(&bytes).unwrap();
        assert_eq!(
            (frame.kind, &frame.session_id, frame.data),
            (kind, &id, &data[..])
        );
        assert_eq!(frame.encode().unwrap(), bytes);

        let mut over = bytes.clone();
        over.push(0);
        assert_eq!(
            BinaryFrame::decode(&over).unwrap_err(),
            BinaryFrameError::TooLarge {
                size: kind.max_data() + 1,
                max: kind.max_data()
            }
        );
        assert!(encode(kind, &id, &over[HEADER_BYTES..]).is_err());
    }
    assert_eq!(MAX_DESKTOP_FRAME_DATA_BYTES, 5_000_000);
    assert_eq!(MAX_TUNNEL_FRAME_DATA_BYTES, 1_000_000);
    assert_eq!(
        BinaryFrame::decode(&[]).unwrap_err(),
        BinaryFrameError::Empty
    );
    assert_eq!(
        BinaryFrame::decode(&[0x04]).unwrap_err(),
        BinaryFrameError::UnknownKind(4)
    );
    assert_eq!(
        BinaryFrame::decode(&[0x02; 36]).unwrap_err(),
        BinaryFrameError::Truncated { len: 36 }
    );
    let mut bad = vec![0x03];
    bad.extend_from_slice(b"9D4F5B7C-0E1A-4F3D-84E5-F6A7B8C9D0E1");
    assert_eq!(
        BinaryFrame::decode(&bad).unwrap_err(),
        BinaryFrameError::InvalidSessionId
    );
}

#[test]
fn session_ids_are_strict() {
    assert!(SessionId::parse("9d4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e1").is_ok());
    for bad in [
        "",
        "9d4f5b7c0e1a4f3d84e5f6a7b8c9d0e1",
        "9d4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e",
        "9d4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e1 ",
        "9d4f5b7c_0e1a_4f3d_84e5_f6a7b8c9d0e1",
        "9D4F5B7C-0E1A-4F3D-84E5-F6A7B8C9D0E1",
        "zd4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e1",
    ] {
        assert!(SessionId::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn error_reasons_have_the_spec_codes_and_statuses() {
    for (reason, code, status) in [
        (
            ErrorReason::EnrollmentKeyNotFound,
            "enrollment_key_not_found",
            401,
        ),
        (
            ErrorReason::EnrollmentKeyExpired,
            "enrollment_key_expired",
            401,
        ),
        (
            ErrorReason::EnrollmentKeyExhausted,
            "enrollment_key_exhausted",
            401,
        ),
        (ErrorReason::TenantInactive, "tenant_inactive", 403),
        (
            ErrorReason::EnrollmentKeyRaceLost,
            "enrollment_key_race_lost",
            409,
        ),
        (
            ErrorReason::ReEnrollmentRequired,
            "re_enrollment_required",
            401,
        ),
        (ErrorReason::RefreshRaced, "refresh_raced", 409),
        (ErrorReason::PayloadTooLarge, "payload_too_large", 413),
        (
            ErrorReason::ProtocolVersionUnsupported,
            "protocol_version_unsupported",
            426,
        ),
    ] {
        assert_eq!(reason.as_str(), code);
        assert_eq!(reason.http_status(), status);
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            serde_json::json!(code)
        );
    }
    for reason in ErrorReason::ALL {
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            serde_json::json!(reason.as_str())
        );
    }
    assert_eq!(
        breeze_agent_proto::TOKEN_ROTATION_REQUIRED_HEADER,
        "x-token-rotation-required"
    );
}

#[test]
fn message_kinds_cover_the_browser_protocol() {
    use breeze_agent_proto::MessageKind;
    for (kind, name) in [
        (MessageKind::ViewerFrame, "viewer_frame"),
        (MessageKind::ViewerEvent, "viewer_event"),
    ] {
        assert_eq!(kind.name(), name);
        assert_eq!(MessageKind::from_name(name), Some(kind));
        assert!(MessageKind::ALL.contains(&kind));
        // The schema is a tagged union of exactly the frame types of that direction.
        let schema = kind.schema().as_value().to_string();
        for ty in match kind {
            MessageKind::ViewerFrame => ["input", "resize", "stop"],
            _ => ["output", "exit", "notice"],
        } {
            assert!(
                schema.contains(&format!("\"const\":\"{ty}\"")),
                "{name}: {ty}"
            );
        }
    }
    let names: std::collections::HashSet<_> = MessageKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), MessageKind::ALL.len(), "names are unique");
}

#[test]
fn terminal_subprotocols() {
    use breeze_agent_proto::viewer::{TICKET_SUBPROTOCOL_PREFIX, VIEWER_SUBPROTOCOL};
    assert_eq!(VIEWER_SUBPROTOCOL, "breeze.terminal.v1");
    assert_eq!(TICKET_SUBPROTOCOL_PREFIX, "breeze.ticket.");
    // A ticket (32 bytes, base64url) fits a subprotocol token: no separators or spaces.
    let ticket = format!("{TICKET_SUBPROTOCOL_PREFIX}{}", "A-_z".repeat(11));
    assert!(
        ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    );
}
