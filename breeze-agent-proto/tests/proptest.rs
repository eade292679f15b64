//! Property tests: every message survives encode -> decode unchanged, and no byte string makes
//! any decoder panic (arbitrary bytes and mutations of the golden vectors).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeMap;

use breeze_agent_proto::enrollment::{AgentConfig, HardwareInfo, NetworkInterface, OsType};
use breeze_agent_proto::file::EntryKind;
use breeze_agent_proto::frame::{
    Ack, Connected, PatchPhase, PatchProgress, Ping, Pong, TerminalEncoding, TerminalOutput,
    UpdatePhase, UpdateStatus, VerificationPhase, VerificationProgress,
};
use breeze_agent_proto::heartbeat::{IpEntry, IpHistoryUpdate, IpType};
use breeze_agent_proto::payload::*;
use breeze_agent_proto::viewer::{
    ViewerExit, ViewerInput, ViewerNotice, ViewerOutput, ViewerResize, ViewerStop,
};
use breeze_agent_proto::*;
use breeze_core::tenancy::{CommandId, DeviceId, OrgId, SiteId};
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}
fn command_id() -> impl Strategy<Value = CommandId> {
    uuid().prop_map(CommandId::from_uuid)
}
fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("\\PC{{{min},{max}}}")).unwrap()
}
fn hex(n: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9a-f]{{{n}}}")).unwrap()
}
fn token() -> impl Strategy<Value = WireToken> {
    hex(64).prop_map(|h| WireToken::parse(&format!("brz_{h}")).unwrap())
}
fn session_id() -> impl Strategy<Value = SessionId> {
    uuid().prop_map(|u| SessionId::parse(&u.hyphenated().to_string()).unwrap())
}
fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0i64..8_000_000_000).prop_map(|s| Timestamp::from_unix_seconds(s).unwrap())
}
fn version() -> impl Strategy<Value = ProtocolVersion> {
    (1u16..=u16::MAX).prop_map(|n| ProtocolVersion::new(n).unwrap())
}
fn info<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Informational<T>> {
    prop_oneof![
        Just(Informational::Absent),
        s.prop_map(Informational::Present)
    ]
    .boxed()
}
fn ip_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
        any::<[u8; 16]>().prop_map(|b| std::net::Ipv6Addr::from(b).to_string()),
    ]
}
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text(0, 20).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(text(0, 8), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn enroll_request() -> impl Strategy<Value = EnrollRequest> {
    let hw = (
        of(text(0, 40)),
        of(any::<u32>()),
        of(any::<u64>()),
        of(text(0, 40)),
    )
        .prop_map(
            |(cpu_model, cpu_cores, ram_total_mb, serial_number)| HardwareInfo {
                cpu_model,
                cpu_cores,
                ram_total_mb,
                serial_number,
                ..HardwareInfo::default()
            },
        );
    let nic = (
        text(1, 20),
        of(text(0, 20)),
        of(ip_text()),
        of(any::<bool>()),
    )
        .prop_map(|(name, mac, ip, is_primary)| NetworkInterface {
            name,
            mac,
            ip,
            is_primary,
        });
    (
        (
            hex(64),
            of(text(1, 60)),
            text(1, 60),
            prop_oneof![
                Just(OsType::Windows),
                Just(OsType::Macos),
                Just(OsType::Linux)
            ],
        ),
        (
            text(1, 40),
            text(1, 20),
            text(1, 20),
            of(version()),
            of(version()),
        ),
        (of(hw), of(vec(nic, 0..5))),
    )
        .prop_map(
            |(
                (key, secret, hostname, os_type),
                (os_version, architecture, agent_version, pv, mpv),
                (hardware_info, network_info),
            )| EnrollRequest {
                enrollment_key: EnrollmentKey::parse(&key).unwrap(),
                enrollment_secret: secret.map(|s| EnrollmentSecret::parse(&s).unwrap()),
                hostname,
                os_type,
                os_version,
                architecture,
                agent_version,
                protocol_version: pv,
                min_protocol_version: mpv,
                hardware_info,
                network_info,
                public_key: Some("0123456789abcdefghijklmnopqrstuvwxyzABCD-_Z".to_owned()),
            },
        )
}

fn config() -> impl Strategy<Value = AgentConfig> {
    (5u32..=86_400, 5u32..=86_400).prop_map(|(h, m)| AgentConfig {
        heartbeat_interval_seconds: h,
        metrics_collection_interval_seconds: m,
    })
}

fn enroll_response() -> impl Strategy<Value = EnrollResponse> {
    (
        (hex(64), uuid(), token(), token(), token()),
        (uuid(), uuid(), config(), of(version())),
    )
        .prop_map(
            |((agent, device, a, w, h), (org, site, config, pv))| EnrollResponse {
                agent_id: AgentId::parse(&agent).unwrap(),
                device_id: DeviceId::from_uuid(device),
                auth_token: a,
                watchdog_auth_token: w,
                helper_auth_token: h,
                org_id: OrgId::from_uuid(org),
                site_id: SiteId::from_uuid(site),
                config,
                protocol_version: pv,
            },
        )
}

fn metrics() -> impl Strategy<Value = HeartbeatMetrics> {
    let pct = || info(0.0f64..=100.0);
    (
        (pct(), pct(), info(any::<u64>()), pct(), info(0.0f64..1e12)),
        (
            info(any::<u64>()),
            info(any::<u64>()),
            info(any::<u64>()),
            info(any::<u64>()),
            info(any::<u64>()),
        ),
    )
        .prop_map(
            |(
                (cpu_percent, ram_percent, ram_used_mb, disk_percent, disk_used_gb),
                (
                    process_count,
                    network_in_bytes,
                    network_out_bytes,
                    disk_read_bytes,
                    disk_write_bytes,
                ),
            )| HeartbeatMetrics {
                cpu_percent,
                ram_percent,
                ram_used_mb,
                disk_percent,
                disk_used_gb,
                process_count,
                network_in_bytes,
                network_out_bytes,
                disk_read_bytes,
                disk_write_bytes,
            },
        )
}

fn ip_history() -> impl Strategy<Value = IpHistoryUpdate> {
    let entry = (
        text(1, 20),
        ip_text(),
        of(prop_oneof![Just(IpType::Ipv4), Just(IpType::Ipv6)]),
        of(text(0, 30)),
    )
        .prop_map(
            |(interface_name, ip_address, ip_type, mac_address)| IpEntry {
                interface_name,
                ip_address,
                ip_type,
                mac_address,
            },
        )
        .boxed();
    (
        of(vec(entry.clone(), 0..4)),
        of(vec(entry.clone(), 0..4)),
        of(vec(entry, 0..4)),
        of(timestamp()),
    )
        .prop_map(
            |(current_ips, changed_ips, removed_ips, detected_at)| IpHistoryUpdate {
                current_ips,
                changed_ips,
                removed_ips,
                detected_at,
            },
        )
}

fn heartbeat() -> impl Strategy<Value = HeartbeatRequest> {
    (
        (
            prop_oneof![
                Just(HeartbeatStatus::Ok),
                Just(HeartbeatStatus::Warning),
                Just(HeartbeatStatus::Error)
            ],
            text(1, 30),
            of(version()),
            of(version()),
        ),
        (
            info(metrics()),
            info(any::<u64>()),
            info(text(1, 60)),
            info(text(1, 60)),
        ),
        (info(text(0, 60)), info(any::<bool>()), info(ip_history())),
    )
        .prop_map(
            |(
                (status, agent_version, pv, mpv),
                (metrics, uptime, hostname, os_version),
                (last_user, pending_reboot, ip_history_update),
            )| {
                let mut h = HeartbeatRequest::new(status, &agent_version);
                h.protocol_version = pv;
                h.min_protocol_version = mpv;
                h.metrics = metrics;
                h.uptime = uptime;
                h.hostname = hostname;
                h.os_version = os_version;
                h.last_user = last_user;
                h.pending_reboot = pending_reboot;
                h.ip_history_update = ip_history_update;
                h
            },
        )
}

/// One path segment: no separator, no NUL, never `..`.
fn segment() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[^\\x00/\\\\]{1,16}")
        .unwrap()
        .prop_filter("printable, not `..`", |s| {
            s != ".." && !s.chars().any(char::is_control)
        })
}

/// Paths that obey the SPEC 12 rule: absolute (POSIX or a drive), no NUL, no `..` segment,
/// at most 2,048 bytes.
fn path_text() -> impl Strategy<Value = String> {
    let posix = vec(segment(), 0..6).prop_map(|segments| format!("/{}", segments.join("/")));
    let windows = (
        proptest::char::range('A', 'Z'),
        any::<bool>(),
        prop_oneof![Just('\\'), Just('/')],
        vec(segment(), 0..6),
    )
        .prop_map(|(drive, lower, sep, segments)| {
            let drive = if lower {
                drive.to_ascii_lowercase()
            } else {
                drive
            };
            format!("{drive}:{sep}{}", segments.join(&sep.to_string()))
        });
    prop_oneof![posix, windows]
}

fn command_body() -> impl Strategy<Value = CommandBody> {
    let lang = prop_oneof![
        Just(ScriptLanguage::Powershell),
        Just(ScriptLanguage::Cmd),
        Just(ScriptLanguage::Bash),
        Just(ScriptLanguage::Sh),
        Just(ScriptLanguage::Zsh),
        Just(ScriptLanguage::Python)
    ];
    let run_script = (
        (of(uuid()), of(uuid()), text(1, 200), lang),
        (
            btree_map(text(1, 20), text(0, 40), 0..5),
            of(1u32..=86_400),
            of(prop_oneof![Just(RunAs::System), Just(RunAs::User)]),
        ),
    )
        .prop_map(
            |(
                (script_id, execution_id, content, language),
                (parameters, timeout_seconds, run_as),
            )| {
                CommandBody::RunScript(RunScriptPayload {
                    script_id,
                    execution_id,
                    content,
                    language,
                    parameters: parameters.into_iter().collect::<BTreeMap<_, _>>(),
                    timeout_seconds,
                    run_as,
                })
            },
        );
    let power = (of(0u32..=86_400), of(text(0, 100)))
        .prop_map(|(delay_seconds, reason)| PowerPayload {
            delay_seconds,
            reason,
        })
        .boxed();
    let source = prop_oneof![
        Just(PatchSource::Microsoft),
        Just(PatchSource::Apple),
        Just(PatchSource::Linux),
        Just(PatchSource::ThirdParty),
        Just(PatchSource::Custom)
    ];
    prop_oneof![
        run_script,
        command_id()
            .prop_map(|command_id| CommandBody::ScriptCancel(ScriptCancelPayload { command_id })),
        power.clone().prop_map(CommandBody::Reboot),
        power.prop_map(CommandBody::Shutdown),
        Just(CommandBody::CollectInventory(EmptyPayload {})),
        Just(CommandBody::ListProcesses(EmptyPayload {})),
        (1u32.., of(any::<bool>()))
            .prop_map(|(pid, force)| CommandBody::KillProcess(KillProcessPayload { pid, force })),
        path_text().prop_map(|path| CommandBody::FileList(FileListPayload { path })),
        (path_text(), of(1u64..=4 * 1024 * 1024)).prop_map(|(path, max_bytes)| {
            CommandBody::FileRead(FileReadPayload { path, max_bytes })
        }),
        (path_text(), of(any::<bool>())).prop_map(|(path, recursive)| CommandBody::FileDelete(
            FileDeletePayload { path, recursive }
        )),
        (path_text(), vec(any::<u8>(), 0..256)).prop_map(|(path, bytes)| {
            CommandBody::FileWrite(FileWritePayload::new(&path, &bytes).unwrap())
        }),
        of(vec(source, 0..8))
            .prop_map(|sources| CommandBody::PatchScan(PatchScanPayload { sources })),
        (vec(uuid(), 1..20), of(any::<bool>())).prop_map(|(patch_ids, reboot_if_needed)| {
            CommandBody::InstallPatches(InstallPatchesPayload {
                patch_ids,
                reboot_if_needed,
            })
        }),
        vec(uuid(), 1..20).prop_map(|patch_ids| CommandBody::RollbackPatches(
            RollbackPatchesPayload { patch_ids }
        )),
        of(any::<bool>()).prop_map(|remove_data| CommandBody::SelfUninstall(
            SelfUninstallPayload { remove_data }
        )),
        (
            "[a-z_]{1,30}".prop_filter("unknown", |t| CommandType::from_name(t).is_none()),
            json_value()
        )
            .prop_map(
                |(command_type, payload)| CommandBody::Unknown(UnknownCommand {
                    command_type,
                    payload
                })
            ),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    (command_id(), command_body()).prop_map(|(id, body)| Command { id, body })
}

fn heartbeat_response() -> impl Strategy<Value = HeartbeatResponse> {
    (
        vec(command(), 0..=10),
        of(config()),
        any::<bool>(),
        any::<bool>(),
        of(version()),
    )
        .prop_map(
            |(commands, config_update, rotate_token, confirm_token_rotation, protocol_version)| {
                HeartbeatResponse {
                    commands,
                    config_update,
                    rotate_token,
                    confirm_token_rotation,
                    protocol_version,
                }
            },
        )
}

fn command_result() -> impl Strategy<Value = CommandResult> {
    (
        (
            command_id(),
            prop_oneof![
                Just(CommandStatus::Completed),
                Just(CommandStatus::Failed),
                Just(CommandStatus::Timeout)
            ],
            of(any::<i32>()),
        ),
        (
            of(text(0, 200)),
            of(text(0, 200)),
            of(any::<u64>()),
            of(timestamp()),
            of(text(0, 100)),
            of(json_value().prop_filter("null is no result", |v| !v.is_null())),
            of(file_outcome()),
        ),
    )
        .prop_map(
            |(
                (command_id, status, exit_code),
                (stdout, stderr, duration_ms, started_at, error, result, file),
            )| CommandResult {
                command_id,
                status,
                exit_code,
                stdout,
                stderr,
                duration_ms,
                started_at,
                error,
                result,
                file,
            },
        )
}

fn file_error_code() -> impl Strategy<Value = FileErrorCode> {
    prop_oneof![
        Just(FileErrorCode::PathInvalid),
        Just(FileErrorCode::PathForbidden),
        Just(FileErrorCode::NotFound),
        Just(FileErrorCode::PermissionDenied),
        Just(FileErrorCode::IsDirectory),
        Just(FileErrorCode::NotADirectory),
        Just(FileErrorCode::FileTooLarge),
        Just(FileErrorCode::DigestMismatch),
        Just(FileErrorCode::IoError),
    ]
}

fn file_outcome() -> impl Strategy<Value = FileOutcome> {
    let entry = (
        text(1, 30),
        prop_oneof![
            Just(EntryKind::File),
            Just(EntryKind::Dir),
            Just(EntryKind::Symlink),
            Just(EntryKind::Other)
        ],
        any::<u64>(),
        of(any::<u64>()),
    )
        .prop_map(|(name, kind, size, modified_ms)| FileEntry {
            name,
            kind,
            size,
            modified_ms,
        });
    prop_oneof![
        vec(any::<u8>(), 0..512)
            .prop_map(|bytes| FileOutcome::Content(FileContent::new(&bytes).unwrap())),
        (vec(entry, 0..6), any::<bool>())
            .prop_map(|(entries, truncated)| FileOutcome::Listing { entries, truncated }),
        (any::<u64>(), hex(64)).prop_map(|(size, sha256)| FileOutcome::Written { size, sha256 }),
        (file_error_code(), of(text(0, 80)))
            .prop_map(|(code, message)| FileOutcome::Refused { code, message }),
    ]
}

fn agent_frame() -> impl Strategy<Value = AgentFrame> {
    let update_phase = prop_oneof![
        Just(UpdatePhase::Downloading),
        Just(UpdatePhase::Verifying),
        Just(UpdatePhase::Installing),
        Just(UpdatePhase::Completed),
        Just(UpdatePhase::Failed),
        Just(UpdatePhase::RolledBack)
    ];
    let patch_phase = prop_oneof![
        Just(PatchPhase::Downloading),
        Just(PatchPhase::Installing),
        Just(PatchPhase::Verifying),
        Just(PatchPhase::Completed),
        Just(PatchPhase::Failed)
    ];
    let verification_phase = prop_oneof![
        Just(VerificationPhase::Started),
        Just(VerificationPhase::Running),
        Just(VerificationPhase::Completed),
        Just(VerificationPhase::Failed)
    ];
    prop_oneof![
        of(any::<u64>()).prop_map(|t| AgentFrame::Pong(Pong {
            timestamp: t.map(UnixMillis)
        })),
        heartbeat().prop_map(AgentFrame::Heartbeat),
        command_result().prop_map(AgentFrame::CommandResult),
        (session_id(), text(0, 100)).prop_map(|(session_id, data)| AgentFrame::TerminalOutput(
            TerminalOutput {
                session_id,
                data,
                encoding: Some(TerminalEncoding::Utf8)
            }
        )),
        (session_id(), "[A-Za-z0-9+/]{0,40}").prop_map(|(session_id, data)| {
            AgentFrame::TerminalOutput(TerminalOutput {
                session_id,
                data,
                encoding: Some(TerminalEncoding::Base64),
            })
        }),
        (
            update_phase,
            of(text(1, 20)),
            of(0u8..=100),
            of(text(0, 60))
        )
            .prop_map(|(status, target_version, progress, message)| {
                AgentFrame::UpdateStatus(UpdateStatus {
                    status,
                    target_version,
                    progress,
                    message,
                })
            }),
        (
            command_id(),
            patch_phase,
            (0u32..1000, 0u32..1000),
            of(text(1, 30)),
            of(text(0, 60))
        )
            .prop_map(|(command_id, phase, (a, b), current_patch, message)| {
                AgentFrame::PatchProgress(PatchProgress {
                    command_id,
                    phase,
                    completed: a.min(b),
                    total: a.max(b),
                    current_patch,
                    message,
                })
            }),
        (command_id(), verification_phase, 0u8..=100, of(text(0, 60))).prop_map(
            |(command_id, phase, percent, message)| AgentFrame::VerificationProgress(
                VerificationProgress {
                    command_id,
                    phase,
                    percent,
                    message
                }
            )
        ),
        (session_id(), of(any::<i32>())).prop_map(|(session_id, code)| {
            AgentFrame::TerminalExit(TerminalExit { session_id, code })
        }),
    ]
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    let issue = ("[a-zA-Z.\\[\\]0-9]{0,30}", text(0, 50))
        .prop_map(|(p, m)| Issue::new(&p, IssueCode::InvalidValue, &m));
    prop_oneof![
        (
            hex(64),
            any::<u64>(),
            vec("[a-z0-9_]{1,20}", 0..5),
            of(version())
        )
            .prop_map(
                |(a, t, capabilities, protocol_version)| ServerFrame::Connected(Connected {
                    agent_id: AgentId::parse(&a).unwrap(),
                    timestamp: UnixMillis(t),
                    capabilities,
                    protocol_version
                })
            ),
        any::<u64>().prop_map(|t| ServerFrame::Ping(Ping {
            timestamp: UnixMillis(t)
        })),
        command_id().prop_map(|command_id| ServerFrame::Ack(Ack { command_id })),
        heartbeat_response().prop_map(ServerFrame::HeartbeatAck),
        (
            prop_oneof![
                Just(ErrorFrameCode::InvalidMessage),
                Just(ErrorFrameCode::ProcessingError)
            ],
            text(1, 50),
            vec(issue, 0..=10),
            of(text(0, 50))
        )
            .prop_map(|(code, message, issues, received_type)| ServerFrame::Error(
                ErrorFrame {
                    code,
                    message,
                    issues,
                    received_type
                }
            )),
        command().prop_map(ServerFrame::Command),
        (session_id(), dims()).prop_map(|(session_id, (cols, rows))| {
            ServerFrame::TerminalStart(TerminalStart {
                session_id,
                cols,
                rows,
            })
        }),
        (session_id(), text(0, 100)).prop_map(|(session_id, data)| {
            ServerFrame::TerminalInput(TerminalInput { session_id, data })
        }),
        (session_id(), dims()).prop_map(|(session_id, (cols, rows))| {
            ServerFrame::TerminalResize(TerminalResize {
                session_id,
                cols,
                rows,
            })
        }),
        session_id().prop_map(|session_id| ServerFrame::TerminalStop(TerminalStop { session_id })),
    ]
}

fn dims() -> impl Strategy<Value = (u16, u16)> {
    (1u16..=1000, 1u16..=1000)
}

fn viewer_frame() -> impl Strategy<Value = ViewerFrame> {
    prop_oneof![
        text(0, 100).prop_map(|data| ViewerFrame::Input(ViewerInput { data })),
        dims().prop_map(|(cols, rows)| ViewerFrame::Resize(ViewerResize { cols, rows })),
        Just(ViewerFrame::Stop(ViewerStop {})),
    ]
}

fn viewer_event() -> impl Strategy<Value = ViewerEvent> {
    prop_oneof![
        (
            text(0, 100),
            of(Just(breeze_agent_proto::frame::TerminalEncoding::Utf8))
        )
            .prop_map(|(data, encoding)| ViewerEvent::Output(ViewerOutput { data, encoding })),
        "[A-Za-z0-9+/]{0,40}={0,2}".prop_map(|data| ViewerEvent::Output(ViewerOutput {
            data,
            encoding: Some(TerminalEncoding::Base64)
        })),
        of(any::<i32>()).prop_map(|code| ViewerEvent::Exit(ViewerExit { code })),
        ("[a-z_]{1,64}", text(0, 100))
            .prop_map(|(code, message)| ViewerEvent::Notice(ViewerNotice { code, message })),
    ]
}

fn round_trip<T: Message + PartialEq + std::fmt::Debug>(message: &T) -> Result<(), TestCaseError> {
    let text = message
        .encode()
        .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    let decoded =
        T::decode(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    prop_assert!(decoded.dropped.is_empty());
    prop_assert_eq!(&decoded.message, message);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn enroll_request_round_trips(m in enroll_request()) { round_trip(&m)?; }

    #[test]
    fn enroll_response_round_trips(m in enroll_response()) { round_trip(&m)?; }

    #[test]
    fn heartbeat_request_round_trips(m in heartbeat()) { round_trip(&m)?; }

    #[test]
    fn heartbeat_response_round_trips(m in heartbeat_response()) { round_trip(&m)?; }

    #[test]
    fn command_round_trips(m in command()) { round_trip(&m)?; }

    #[test]
    fn command_result_round_trips(m in command_result()) { round_trip(&m)?; }

    #[test]
    fn rotation_round_trips(a in token(), w in token(), h in token(), at in timestamp(), grace in timestamp()) {
        round_trip(&RotateTokenRequest {})?;
        round_trip(&ConfirmRotationRequest {})?;
        round_trip(&RotateTokenResponse { auth_token: a, watchdog_auth_token: w, helper_auth_token: h, pending_expires_at: at })?;
        round_trip(&ConfirmRotationResponse { confirmed: true, grace_expires_at: grace })?;
    }

    #[test]
    fn http_error_round_trips(i in 0..ErrorReason::ALL.len(), error in text(1, 80), message in proptest::option::of(text(1, 80))) {
        round_trip(&HttpErrorBody { error, code: ErrorReason::ALL[i], message, issues: Vec::new() })?;
    }

    #[test]
    fn agent_frame_round_trips(frame in agent_frame()) {
        let text = frame.encode().map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        let decoded = AgentFrame::decode(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
        prop_assert!(decoded.dropped.is_empty());
        prop_assert_eq!(decoded.message, frame);
    }

    #[test]
    fn server_frame_round_trips(frame in server_frame()) {
        let text = frame.encode().map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        let decoded = ServerFrame::decode(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
        prop_assert_eq!(decoded.message, frame);
    }

    #[test]
    fn viewer_frame_round_trips(frame in viewer_frame()) {
        let text = frame.encode().map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        let decoded = ViewerFrame::decode(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
        prop_assert!(decoded.dropped.is_empty());
        prop_assert_eq!(decoded.message, frame);
    }

    #[test]
    fn viewer_event_round_trips(event in viewer_event()) {
        let text = event.encode().map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        let decoded = ViewerEvent::decode(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
        prop_assert!(decoded.dropped.is_empty());
        prop_assert_eq!(decoded.message, event);
    }

    #[test]
    fn generated_paths_obey_the_rule(path in path_text()) {
        prop_assert!(RemotePath::parse(&path).is_ok(), "{:?}", path);
    }

    #[test]
    fn a_dot_dot_segment_is_always_refused(path in path_text(), at in any::<usize>(), sep in prop_oneof![Just('/'), Just('\\')]) {
        // insert `..` as a whole segment right after a separator
        let cuts: Vec<usize> = path.match_indices(['/', '\\']).map(|(i, _)| i).collect();
        let cut = cuts[at % cuts.len()];
        let bad = format!("{}..{sep}{}", &path[..=cut], &path[cut + 1..]);
        prop_assert_eq!(RemotePath::parse(&bad).unwrap_err(), PathError::DotDot, "{:?}", bad);
    }

    #[test]
    fn relative_paths_are_always_refused(path in path_text()) {
        let relative = path.trim_start_matches(|c: char| c == '/' || c.is_ascii_alphabetic() || c == ':' || c == '\\');
        if !relative.is_empty() && !relative.starts_with(['/', '\\']) {
            prop_assert_eq!(RemotePath::parse(relative).unwrap_err(), PathError::Relative, "{:?}", relative);
        }
    }

    #[test]
    fn file_content_round_trips_and_any_other_digest_is_refused(bytes in vec(any::<u8>(), 0..2048), other in hex(64), path in path_text()) {
        let content = FileContent::new(&bytes).unwrap();
        prop_assert_eq!(content.decode().unwrap(), bytes.clone());
        let payload = FileWritePayload::new(&path, &bytes).unwrap();
        prop_assert_eq!(payload.decode().unwrap(), bytes);
        round_trip(&Command { id: CommandId::from_uuid(Uuid::nil()), body: CommandBody::FileWrite(payload.clone()) })?;
        if other != content.sha256 {
            let mut wrong = payload;
            wrong.sha256 = other;
            prop_assert_eq!(wrong.decode().unwrap_err(), ContentError::DigestMismatch);
        }
    }

    #[test]
    fn binary_frame_round_trips(kind in prop_oneof![Just(BinaryKind::Desktop), Just(BinaryKind::Tunnel)], id in session_id(), data in vec(any::<u8>(), 0..512)) {
        let bytes = binary::encode(kind, &id, &data).unwrap();
        let frame = BinaryFrame::decode(&bytes).unwrap();
        prop_assert_eq!(frame.kind, kind);
        prop_assert_eq!(frame.session_id, id);
        prop_assert_eq!(frame.data, &data[..]);
    }
}

fn decode_everything(bytes: &[u8]) {
    for kind in MessageKind::ALL {
        if let Err(err) = kind.decode_to_json(bytes) {
            let issues = err.issues();
            assert!(!issues.is_empty() && issues.len() <= 10);
            assert!(err.received_type().is_none_or(|t| t.chars().count() <= 200));
            let _ = ErrorFrame::invalid_message(&err);
        }
    }
    let _ = BinaryFrame::decode(bytes);
}

fn golden_inputs() -> Vec<Vec<u8>> {
    breeze_agent_proto::golden::text_vectors()
        .into_iter()
        .map(|v| v.input.into_bytes())
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Splice(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just("null".to_owned()),
                Just("-1".to_owned()),
                Just("1e999".to_owned()),
                Just("\"\\ud800\"".to_owned()),
                Just("[[[[[[[[".to_owned()),
                Just("{\"type\":\"x\"}".to_owned()),
                Just("\"\u{0}\"".to_owned()),
                Just("18446744073709551616".to_owned()),
                Just(",\"extra\":1".to_owned()),
                "[ -~]{0,12}",
            ]
        )
            .prop_map(|(i, s)| Mutation::Splice(i, s)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if let Some(x) = bytes.get_mut(i % len) {
                    *x ^= b;
                }
            }
            Mutation::Insert(i, b) => bytes.insert((i % (bytes.len() + 1)).min(bytes.len()), *b),
            Mutation::Delete(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % bytes.len());
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Splice(i, s) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, s.bytes());
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
    }

    #[test]
    fn mutated_golden_inputs_never_panic(index in any::<usize>(), mutations in vec(mutation(), 1..6)) {
        let inputs = golden_inputs();
        let input = apply(inputs[index % inputs.len()].clone(), &mutations);
        decode_everything(&input);
    }

    #[test]
    fn mutated_binary_frames_never_panic(kind in 0u8..5, id in session_id(), data in vec(any::<u8>(), 0..64), mutations in vec(mutation(), 0..4)) {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(id.as_str().as_bytes());
        bytes.extend_from_slice(&data);
        let bytes = apply(bytes, &mutations);
        if let Ok(frame) = BinaryFrame::decode(&bytes) {
            prop_assert_eq!(frame.encode().unwrap(), bytes);
        }
    }
}
