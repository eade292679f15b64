//! WebSocket text frames (SPEC 8.6), in both directions: JSON objects tagged by `type`.
//!
//! Decoding checks the frame size before parsing ([`MAX_TEXT_FRAME_BYTES`] for agent frames,
//! [`MAX_SERVER_MESSAGE_BYTES`] for server frames). An agent frame is then held to the limit
//! of its type before it is parsed: [`agent_frame_limit`] finds the top-level `type` member
//! with one non-allocating pass over the bytes, and a frame whose type it cannot find gets
//! the small limit. Then the frame is parsed, its `type` read, its own size limit checked
//! again, then its fields strictly. An invalid agent frame is answered with
//! [`ErrorFrame::invalid_message`].

use breeze_core::tenancy::CommandId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::command::Command;
use crate::decode::{Decoded, check_size, encode_checked, finish, from_value, parse_slice};
use crate::error::{DecodeError, EncodeError};
use crate::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use crate::ids::{AgentId, SessionId, UnixMillis, UuidSchema};
use crate::issue::{Issue, IssueCode};
use crate::limits::{
    MAX_CAPABILITIES, MAX_CAPABILITY_CHARS, MAX_COMMAND_RESULT_BODY_BYTES, MAX_ECHOED_TYPE_CHARS,
    MAX_ERROR_MESSAGE_CHARS, MAX_FACT_CHARS, MAX_HEARTBEAT_BODY_BYTES, MAX_ISSUES,
    MAX_SERVER_MESSAGE_BYTES, MAX_SMALL_FRAME_BYTES, MAX_STATUS_MESSAGE_CHARS,
    MAX_TERMINAL_DATA_CHARS, MAX_TERMINAL_FRAME_BYTES, MAX_TEXT_FRAME_BYTES, MAX_VERSION_CHARS,
};
use crate::result::CommandResult;
use crate::terminal::{TerminalExit, TerminalInput, TerminalResize, TerminalStart, TerminalStop};
use crate::text::truncate_chars;
use crate::validate::{
    Path, Report, Validate, check_chars, check_count, check_opt_chars, check_range,
};
use crate::version::ProtocolVersion;

// ---------------------------------------------------------------- agent -> server

/// `pong`: the answer to a `ping`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pong {
    /// The `ping`'s timestamp, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<UnixMillis>,
}

/// How `terminal_output` data is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TerminalEncoding {
    /// UTF-8 text (the default).
    Utf8,
    /// Standard base64 of raw bytes.
    Base64,
}

/// `terminal_output`: output of a terminal session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminalOutput {
    /// The terminal session (the agent must own it).
    pub session_id: SessionId,
    /// Output (the frame is at most 64 KiB).
    #[schemars(length(max = 65536))]
    pub data: String,
    /// Encoding of `data` (absent: UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TerminalEncoding>,
}

/// Phase of an agent self-update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdatePhase {
    /// Downloading the new version.
    Downloading,
    /// Verifying its signature and hash.
    Verifying,
    /// Installing.
    Installing,
    /// Done.
    Completed,
    /// Failed.
    Failed,
    /// Failed and restored the previous version.
    RolledBack,
}

/// `update_status`: progress of an agent self-update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateStatus {
    /// Phase.
    pub status: UpdatePhase,
    /// Version being installed (at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub target_version: Option<String>,
    /// Percent done (0 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub progress: Option<u8>,
    /// Status text (at most 2,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub message: Option<String>,
}

/// Phase of a patch job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PatchPhase {
    /// Downloading patches.
    Downloading,
    /// Installing patches.
    Installing,
    /// Verifying installed patches.
    Verifying,
    /// Done.
    Completed,
    /// Failed.
    Failed,
}

/// `patch_progress` (BEYOND: upstream's server rejected it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchProgress {
    /// The `install_patches` / `rollback_patches` command.
    #[schemars(with = "UuidSchema")]
    pub command_id: CommandId,
    /// Phase.
    pub phase: PatchPhase,
    /// Patches done.
    pub completed: u32,
    /// Patches in the job (at least `completed`).
    pub total: u32,
    /// Patch being worked on (at most 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub current_patch: Option<String>,
    /// Status text (at most 2,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub message: Option<String>,
}

/// Phase of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationPhase {
    /// Started.
    Started,
    /// Running.
    Running,
    /// Done.
    Completed,
    /// Failed.
    Failed,
}

/// `verification_progress` (BEYOND: upstream's server rejected it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationProgress {
    /// The command being verified.
    #[schemars(with = "UuidSchema")]
    pub command_id: CommandId,
    /// Phase.
    pub phase: VerificationPhase,
    /// Percent done (0 to 100).
    #[schemars(range(max = 100))]
    pub percent: u8,
    /// Status text (at most 2,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub message: Option<String>,
}

/// Every text frame an agent sends.
#[expect(
    clippy::large_enum_variant,
    reason = "frames are decoded and handled one at a time, never stored in bulk"
)]
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentFrame {
    /// `pong`.
    Pong(Pong),
    /// `heartbeat` (the heartbeat request fields).
    Heartbeat(HeartbeatRequest),
    /// `command_result` (the command result fields).
    CommandResult(CommandResult),
    /// `terminal_output`.
    TerminalOutput(TerminalOutput),
    /// `update_status`.
    UpdateStatus(UpdateStatus),
    /// `patch_progress`.
    PatchProgress(PatchProgress),
    /// `verification_progress`.
    VerificationProgress(VerificationProgress),
    /// `terminal_exit`.
    TerminalExit(TerminalExit),
}

/// Splits a parsed frame into its `type` and remaining fields.
pub(crate) fn split_tag(bytes: &[u8]) -> Result<(String, Value), DecodeError> {
    let value: Value = parse_slice(bytes)?;
    let Value::Object(mut map) = value else {
        return Err(DecodeError::single(
            "",
            IssueCode::NotAnObject,
            "a frame must be a json object",
        ));
    };
    match map.remove("type") {
        Some(Value::String(tag)) => Ok((tag, Value::Object(map))),
        Some(_) => Err(DecodeError::single(
            "type",
            IssueCode::MissingType,
            "must be a string",
        )),
        None => Err(DecodeError::single(
            "type",
            IssueCode::MissingType,
            "required field is missing",
        )),
    }
}

/// The byte limit of an agent text frame, decided before parsing from its top-level `type`
/// member: `command_result` [`MAX_COMMAND_RESULT_BODY_BYTES`], `heartbeat`
/// [`MAX_HEARTBEAT_BODY_BYTES`], `terminal_output` [`MAX_TERMINAL_FRAME_BYTES`], every
/// other type, and a frame whose type is not a plain string member of the top-level object,
/// [`MAX_SMALL_FRAME_BYTES`]. The member may be anywhere in the object (encoders that sort
/// keys put it last).
#[must_use]
pub fn agent_frame_limit(bytes: &[u8]) -> usize {
    match top_level_type(bytes) {
        Some(b"command_result") => MAX_COMMAND_RESULT_BODY_BYTES,
        Some(b"heartbeat") => MAX_HEARTBEAT_BODY_BYTES,
        Some(b"terminal_output") => MAX_TERMINAL_FRAME_BYTES,
        _ => MAX_SMALL_FRAME_BYTES,
    }
}

/// A forward-only JSON scanner: no allocation, no recursion, no value is built.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// A string at the cursor: its raw content and whether it holds an escape.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.eat(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            match self.next()? {
                b'"' => return Some((self.bytes.get(start..self.at.saturating_sub(1))?, escaped)),
                b'\\' => {
                    escaped = true;
                    self.next()?;
                }
                _ => {}
            }
        }
    }

    /// Skips one value (objects and arrays by depth counting).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                let start = self.at;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.at += 1;
                }
                (self.at > start).then_some(())
            }
        }
    }
}

/// The raw value of the top-level `type` member when the input is an object and that member
/// is a string without escapes (key and value); `None` otherwise.
fn top_level_type(bytes: &[u8]) -> Option<&[u8]> {
    let mut scan = Scan { bytes, at: 0 };
    scan.ws();
    scan.eat(b'{')?;
    loop {
        scan.ws();
        let (key, key_escaped) = scan.string()?;
        scan.ws();
        scan.eat(b':')?;
        scan.ws();
        if key == b"type" && !key_escaped {
            let (value, escaped) = scan.string()?;
            return (!escaped).then_some(value);
        }
        scan.skip_value()?;
        scan.ws();
        if scan.next()? != b',' {
            return None;
        }
    }
}

pub(crate) fn unknown_type() -> DecodeError {
    DecodeError::single("type", IssueCode::UnknownType, "unknown message type")
}

fn body<T: serde::de::DeserializeOwned>(
    len: usize,
    max: usize,
    rest: Value,
    wrap: fn(T) -> AgentFrame,
) -> Result<AgentFrame, DecodeError> {
    check_size(len, max)?;
    from_value(rest).map(wrap)
}

impl AgentFrame {
    /// The wire `type`.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Pong(_) => "pong",
            Self::Heartbeat(_) => "heartbeat",
            Self::CommandResult(_) => "command_result",
            Self::TerminalOutput(_) => "terminal_output",
            Self::UpdateStatus(_) => "update_status",
            Self::PatchProgress(_) => "patch_progress",
            Self::VerificationProgress(_) => "verification_progress",
            Self::TerminalExit(_) => "terminal_exit",
        }
    }

    /// Decodes an agent text frame (the server side).
    ///
    /// # Errors
    /// [`DecodeError::TooLarge`] before parsing, or [`DecodeError::Invalid`] with at most 10
    /// issues and the echoed `type`; answer it with [`ErrorFrame::invalid_message`].
    pub fn decode(bytes: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        check_size(bytes.len(), MAX_TEXT_FRAME_BYTES)?;
        // the limit of the frame's type, before anything is parsed
        check_size(bytes.len(), agent_frame_limit(bytes))?;
        let (tag, rest) = split_tag(bytes)?;
        let len = bytes.len();
        let frame = match tag.as_str() {
            "pong" => body(len, MAX_SMALL_FRAME_BYTES, rest, Self::Pong),
            "heartbeat" => body(len, MAX_HEARTBEAT_BODY_BYTES, rest, Self::Heartbeat),
            "command_result" => body(
                len,
                MAX_COMMAND_RESULT_BODY_BYTES,
                rest,
                Self::CommandResult,
            ),
            "terminal_output" => body(len, MAX_TERMINAL_FRAME_BYTES, rest, Self::TerminalOutput),
            "update_status" => body(len, MAX_SMALL_FRAME_BYTES, rest, Self::UpdateStatus),
            "patch_progress" => body(len, MAX_SMALL_FRAME_BYTES, rest, Self::PatchProgress),
            "verification_progress" => {
                body(len, MAX_SMALL_FRAME_BYTES, rest, Self::VerificationProgress)
            }
            "terminal_exit" => body(len, MAX_SMALL_FRAME_BYTES, rest, Self::TerminalExit),
            _ => Err(unknown_type()),
        };
        frame
            .and_then(finish)
            .map_err(|e| e.with_received_type(Some(&tag)))
    }

    /// Encodes the frame, refusing one the server would reject.
    ///
    /// # Errors
    /// See [`EncodeError`].
    pub fn encode(&self) -> Result<String, EncodeError> {
        encode_checked(self, MAX_TEXT_FRAME_BYTES, |text| {
            Self::decode(text.as_bytes()).map(|d| d.dropped.len())
        })
    }
}

impl Validate for AgentFrame {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        match self {
            Self::Pong(_) => {}
            Self::Heartbeat(h) => h.validate(path, report),
            Self::CommandResult(r) => r.validate(path, report),
            Self::TerminalOutput(t) => t.validate(path, report),
            Self::UpdateStatus(u) => u.validate(path, report),
            Self::PatchProgress(p) => p.validate(path, report),
            Self::VerificationProgress(v) => v.validate(path, report),
            Self::TerminalExit(t) => t.validate(path, report),
        }
    }
}

fn check_status_message(message: Option<&str>, path: &Path<'_>, report: &mut Report) {
    check_opt_chars(
        message,
        0,
        MAX_STATUS_MESSAGE_CHARS,
        &path.field("message"),
        report,
    );
}

impl Validate for TerminalOutput {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_chars(
            &self.data,
            0,
            MAX_TERMINAL_DATA_CHARS,
            &path.field("data"),
            report,
        );
        if self.encoding == Some(TerminalEncoding::Base64)
            && !self
                .data
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            report.issue(
                &path.field("data"),
                IssueCode::InvalidFormat,
                "expected base64",
            );
        }
    }
}

impl Validate for UpdateStatus {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_opt_chars(
            self.target_version.as_deref(),
            1,
            MAX_VERSION_CHARS,
            &path.field("targetVersion"),
            report,
        );
        if let Some(p) = self.progress {
            check_range(p, 0, 100, &path.field("progress"), report);
        }
        check_status_message(self.message.as_deref(), path, report);
    }
}

impl Validate for PatchProgress {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        if self.completed > self.total {
            report.issue(
                &path.field("completed"),
                IssueCode::OutOfRange,
                "must not exceed `total`",
            );
        }
        check_opt_chars(
            self.current_patch.as_deref(),
            1,
            MAX_FACT_CHARS,
            &path.field("currentPatch"),
            report,
        );
        check_status_message(self.message.as_deref(), path, report);
    }
}

impl Validate for VerificationProgress {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_range(self.percent, 0, 100, &path.field("percent"), report);
        check_status_message(self.message.as_deref(), path, report);
    }
}

// ---------------------------------------------------------------- server -> agent

/// `connected`: sent once after the socket is authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Connected {
    /// The agent the socket is authenticated as.
    pub agent_id: AgentId,
    /// Server time.
    pub timestamp: UnixMillis,
    /// Server capabilities (at most 64 names of `[a-z0-9_]`, each at most 64 characters).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub capabilities: Vec<String>,
    /// The protocol version the server speaks on this socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<ProtocolVersion>,
}

/// `ping`: sent every 30 seconds; answer with `pong` within 40.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ping {
    /// Server time.
    pub timestamp: UnixMillis,
}

/// `ack`: the server stored a command result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ack {
    /// The command whose result was stored.
    #[schemars(with = "UuidSchema")]
    pub command_id: CommandId,
}

/// The `code` of an error frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ErrorFrameCode {
    /// The frame failed decoding.
    #[serde(rename = "INVALID_MESSAGE")]
    InvalidMessage,
    /// The frame was valid but handling it failed.
    #[serde(rename = "PROCESSING_ERROR")]
    ProcessingError,
}

/// `error`: the server refused or failed to handle a frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorFrame {
    /// What went wrong.
    pub code: ErrorFrameCode,
    /// Short generic text (1 to 1,000 characters).
    #[schemars(length(min = 1, max = 1000))]
    pub message: String,
    /// The issues (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub issues: Vec<Issue>,
    /// The `type` the agent sent (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub received_type: Option<String>,
}

impl ErrorFrame {
    /// The `INVALID_MESSAGE` answer to a frame that failed decoding.
    #[must_use]
    pub fn invalid_message(err: &DecodeError) -> Self {
        let mut issues = err.issues();
        issues.truncate(MAX_ISSUES);
        Self {
            code: ErrorFrameCode::InvalidMessage,
            message: "invalid message".to_owned(),
            issues,
            received_type: err
                .received_type()
                .map(|t| truncate_chars(t, MAX_ECHOED_TYPE_CHARS).to_owned()),
        }
    }

    /// The `PROCESSING_ERROR` answer to a valid frame whose handling failed. `received_type`
    /// is bounded to 200 characters; `message` should be generic.
    #[must_use]
    pub fn processing_error(message: &str, received_type: &str) -> Self {
        Self {
            code: ErrorFrameCode::ProcessingError,
            message: truncate_chars(message, MAX_ERROR_MESSAGE_CHARS).to_owned(),
            issues: Vec::new(),
            received_type: Some(truncate_chars(received_type, MAX_ECHOED_TYPE_CHARS).to_owned()),
        }
    }
}

/// Every text frame a server sends. Commands are sent as `{id, type, payload}` with the
/// command type as the frame `type`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// `connected`.
    Connected(Connected),
    /// `ping`.
    Ping(Ping),
    /// `ack`.
    Ack(Ack),
    /// `heartbeat_ack` (the heartbeat response fields).
    HeartbeatAck(HeartbeatResponse),
    /// `error`.
    Error(ErrorFrame),
    /// `terminal_start`.
    TerminalStart(TerminalStart),
    /// `terminal_input`.
    TerminalInput(TerminalInput),
    /// `terminal_resize`.
    TerminalResize(TerminalResize),
    /// `terminal_stop`.
    TerminalStop(TerminalStop),
    /// A command (its `type` is the command type).
    #[serde(untagged)]
    Command(Command),
}

impl ServerFrame {
    /// Decodes a server text frame (the agent side). A command of unknown type decodes to
    /// [`crate::CommandBody::Unknown`]: answer it with [`Command::unsupported_result`].
    ///
    /// # Errors
    /// [`DecodeError::TooLarge`] before parsing, or [`DecodeError::Invalid`].
    pub fn decode(bytes: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        check_size(bytes.len(), MAX_SERVER_MESSAGE_BYTES)?;
        let (tag, rest) = split_tag(bytes)?;
        let frame = match tag.as_str() {
            "connected" => from_value(rest).map(Self::Connected),
            "ping" => from_value(rest).map(Self::Ping),
            "ack" => from_value(rest).map(Self::Ack),
            "heartbeat_ack" => from_value(rest).map(Self::HeartbeatAck),
            "error" => from_value(rest).map(Self::Error),
            "terminal_start" => from_value(rest).map(Self::TerminalStart),
            "terminal_input" => from_value(rest).map(Self::TerminalInput),
            "terminal_resize" => from_value(rest).map(Self::TerminalResize),
            "terminal_stop" => from_value(rest).map(Self::TerminalStop),
            _ => match rest {
                Value::Object(mut map) => {
                    map.insert("type".to_owned(), Value::String(tag.clone()));
                    from_value(Value::Object(map)).map(Self::Command)
                }
                _ => Err(unknown_type()),
            },
        };
        frame
            .and_then(finish)
            .map_err(|e| e.with_received_type(Some(&tag)))
    }

    /// Encodes the frame, refusing one the agent would reject.
    ///
    /// # Errors
    /// See [`EncodeError`].
    pub fn encode(&self) -> Result<String, EncodeError> {
        encode_checked(self, MAX_SERVER_MESSAGE_BYTES, |text| {
            Self::decode(text.as_bytes()).map(|d| d.dropped.len())
        })
    }
}

impl Validate for ServerFrame {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        match self {
            Self::Connected(c) => c.validate(path, report),
            Self::Ping(_) | Self::Ack(_) => {}
            Self::HeartbeatAck(h) => h.validate(path, report),
            Self::Error(e) => e.validate(path, report),
            Self::Command(c) => c.validate(path, report),
            Self::TerminalStart(t) => t.validate(path, report),
            Self::TerminalInput(t) => t.validate(path, report),
            Self::TerminalResize(t) => t.validate(path, report),
            Self::TerminalStop(t) => t.validate(path, report),
        }
    }
}

impl Validate for Connected {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        let caps = path.field("capabilities");
        check_count(self.capabilities.len(), MAX_CAPABILITIES, &caps, report);
        for (i, cap) in self.capabilities.iter().enumerate() {
            let at = caps.index(i);
            check_chars(cap, 1, MAX_CAPABILITY_CHARS, &at, report);
            if !cap
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                report.issue(
                    &at,
                    IssueCode::InvalidFormat,
                    "expected `[a-z0-9_]` characters",
                );
            }
        }
    }
}

impl Validate for ErrorFrame {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_chars(
            &self.message,
            1,
            MAX_ERROR_MESSAGE_CHARS,
            &path.field("message"),
            report,
        );
        check_count(self.issues.len(), MAX_ISSUES, &path.field("issues"), report);
        check_opt_chars(
            self.received_type.as_deref(),
            0,
            MAX_ECHOED_TYPE_CHARS,
            &path.field("receivedType"),
            report,
        );
    }
}
