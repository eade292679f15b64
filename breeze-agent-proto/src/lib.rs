//! Breeze agent wire protocol (SPEC section 8): every message between agent and server.
//!
//! One module per message family — [`enrollment`] (8.1), [`rotation`] (8.3), [`heartbeat`]
//! (8.4), [`command`], [`payload`] and [`result`] (8.5), [`frame`], [`binary`] and [`close`]
//! (8.6), [`http`] error bodies — plus [`limits`] (every size and length limit, in one place),
//! [`version`] (protocol versions and their negotiation; the compatibility rule is
//! written there) and [`redact`] (private keys and agent tokens removed from command output
//! before it is stored or shown, SPEC 8.5).
//!
//! Remote sessions (SPEC 12): [`terminal`] (the live `terminal_*` frames on the agent's
//! socket; there are no queued terminal commands), [`viewer`] (the browser's frames and the
//! server's answers, [`MessageKind::ViewerFrame`] / [`MessageKind::ViewerEvent`]), [`file`]
//! (`file_write`, content as base64 with its SHA-256, the typed outcome in a result's `file`
//! field) and [`remote_path`] (the path rule every file operation obeys).
//!
//! Decoding is strict for protocol fields: the size is checked before parsing, unknown types
//! and unknown fields are refused, and every limit is enforced, with an error listing at most
//! 10 issues, each with its field path. Shape errors (a wrong type, a missing or unknown
//! field) stop the decoder, so they come one at a time; limit and pattern violations are all
//! collected. Informational heartbeat fields are tolerant: a bad value is dropped and listed
//! in [`Decoded::dropped`] (SPEC 8.4). Every message has a JSON Schema ([`MessageKind::schema`])
//! and golden vectors under `vectors/agent-proto/`.
//!
//! Versions: the agent announces the highest (and optionally lowest) protocol version it
//! speaks; the server answers with the version both will speak, an explicit downgrade, or a
//! refusal ([`negotiate`]). Within a version the wire is frozen; an unknown *command type* is
//! the one extension that needs no new version (the agent reports it as unsupported). The
//! full rule is in [`version`].
//!
//! The crate is pure (no I/O, no async runtime) so it builds for WebAssembly.
//!
//! ```
//! use breeze_agent_proto::{AgentFrame, ErrorFrame, HeartbeatStatus, Message, HeartbeatRequest};
//!
//! // An agent builds and encodes a heartbeat...
//! let beat = HeartbeatRequest::new(HeartbeatStatus::Ok, "2.4.1");
//! let body = beat.encode()?;
//!
//! // ...the server decodes it; a bad metric would be dropped and reported, not fatal.
//! let decoded = HeartbeatRequest::decode(
//!     br#"{"status":"ok","agentVersion":"2.4.1","metrics":{"cpuPercent":250}}"#,
//! )?;
//! assert_eq!(decoded.message.status, HeartbeatStatus::Ok);
//! assert_eq!(decoded.dropped[0].path, "metrics.cpuPercent");
//! assert!(body.contains("\"agentVersion\":\"2.4.1\""));
//!
//! // A WebSocket frame of unknown type is refused with an issue list the server echoes back.
//! let err = AgentFrame::decode(br#"{"type":"shell_exec","cmd":"id"}"#).unwrap_err();
//! let reply = ErrorFrame::invalid_message(&err);
//! assert_eq!(reply.received_type.as_deref(), Some("shell_exec"));
//! assert_eq!(reply.issues[0].path, "type");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod binary;
pub mod close;
pub mod command;
mod decode;
pub mod enrollment;
mod error;
pub mod file;
pub mod frame;
pub mod golden;
pub mod heartbeat;
pub mod http;
pub mod ids;
mod informational;
pub mod issue;
pub mod limits;
mod message;
mod net;
pub mod payload;
pub mod redact;
pub mod remote_path;
pub mod result;
pub mod rotation;
pub mod secret;
pub mod signing;
pub mod terminal;
mod text;
mod validate;
pub mod version;
pub mod viewer;

pub use binary::{BinaryFrame, BinaryFrameError, BinaryKind};
pub use close::CloseCode;
pub use command::{Command, CommandBody, CommandType, UnknownCommand};
pub use decode::Decoded;
pub use enrollment::{
    AgentConfig, EnrollRequest, EnrollResponse, HardwareInfo, NetworkInterface, OsType,
};
pub use error::{DecodeError, EncodeError, InvalidMessage};
pub use file::{
    ContentError, FileContent, FileEntry, FileErrorCode, FileOutcome, FileWritePayload,
};
pub use frame::{AgentFrame, ErrorFrame, ErrorFrameCode, ServerFrame};
pub use heartbeat::{HeartbeatMetrics, HeartbeatRequest, HeartbeatResponse, HeartbeatStatus};
pub use http::{ErrorReason, HttpErrorBody, TOKEN_ROTATION_REQUIRED_HEADER};
pub use ids::{AgentId, SessionId, Timestamp, UnixMillis};
pub use informational::Informational;
pub use issue::{DroppedField, Issue, IssueCode};
pub use message::{DecodedJson, Message, MessageKind};
pub use redact::redact_secrets;
pub use remote_path::{PathError, RemotePath};
pub use result::{CommandResult, CommandStatus};
pub use rotation::{
    ConfirmRotationRequest, ConfirmRotationResponse, RotateTokenRequest, RotateTokenResponse,
};
pub use secret::{EnrollmentKey, EnrollmentSecret, WireToken};
pub use terminal::{TerminalExit, TerminalInput, TerminalResize, TerminalStart, TerminalStop};
pub use version::{AgentVersions, Negotiation, ProtocolVersion, SupportedVersions, negotiate};
pub use viewer::{ViewerEvent, ViewerFrame};
