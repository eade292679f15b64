//! The browser side of a terminal session (SPEC 12): the frames on
//! `GET /api/v1/remote-sessions/{id}/ws`, JSON text objects tagged by `type`.
//!
//! Browser -> server ([`ViewerFrame`]): `input {data}` (at most 16 KiB), `resize {cols,
//! rows}`, `stop {}`. Server -> browser ([`ViewerEvent`]): `output {data, encoding?}`, `exit
//! {code?}`, `notice {code, message}` (for example that recording stopped at its cap). The
//! session id is in the URL, so browser frames carry none: a browser can only ever speak to
//! the session its ticket opened.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decode::{Decoded, check_size, encode_checked, finish, from_value};
use crate::error::{DecodeError, EncodeError};
use crate::frame::{TerminalEncoding, split_tag, unknown_type};
use crate::issue::IssueCode;
use crate::limits::{
    MAX_ERROR_MESSAGE_CHARS, MAX_SMALL_FRAME_BYTES, MAX_TERMINAL_DATA_CHARS,
    MAX_TERMINAL_FRAME_BYTES,
};
use crate::terminal::{check_dimensions, check_input};
use crate::validate::{Path, Report, Validate, check_chars};

/// The WebSocket subprotocol a browser offers and the server selects (the ticket rides in a
/// second offered subprotocol, `breeze.ticket.<ticket>`, that is never echoed back).
pub const VIEWER_SUBPROTOCOL: &str = "breeze.terminal.v1";
/// Prefix of the subprotocol that carries the one-time ticket.
pub const TICKET_SUBPROTOCOL_PREFIX: &str = "breeze.ticket.";

/// `input`: keystrokes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ViewerInput {
    /// Input (UTF-8, at most 16,384 bytes).
    #[schemars(length(max = 16384))]
    pub data: String,
}

// Debug shows the size, never the keystrokes (they include typed passwords).
impl std::fmt::Debug for ViewerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewerInput")
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// `resize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ViewerResize {
    /// Columns (1 to 1,000).
    #[schemars(range(min = 1, max = 1000))]
    pub cols: u16,
    /// Rows (1 to 1,000).
    #[schemars(range(min = 1, max = 1000))]
    pub rows: u16,
}

/// `stop`: end the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewerStop {}

/// Every frame a browser sends on a terminal socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ViewerFrame {
    /// `input`.
    Input(ViewerInput),
    /// `resize`.
    Resize(ViewerResize),
    /// `stop`.
    Stop(ViewerStop),
}

/// `output`: terminal output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ViewerOutput {
    /// Output.
    #[schemars(length(max = 65536))]
    pub data: String,
    /// Encoding of `data` (absent: UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TerminalEncoding>,
}

/// `exit`: the shell ended; the socket closes next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ViewerExit {
    /// Exit code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
}

/// `notice`: something the person at the terminal should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ViewerNotice {
    /// Stable code (`recording_truncated`, `idle_warning`, ...).
    #[schemars(length(min = 1, max = 64))]
    pub code: String,
    /// Text (at most 1,000 characters).
    #[schemars(length(max = 1000))]
    pub message: String,
}

/// Every frame the server sends on a terminal socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ViewerEvent {
    /// `output`.
    Output(ViewerOutput),
    /// `exit`.
    Exit(ViewerExit),
    /// `notice`.
    Notice(ViewerNotice),
}

impl ViewerFrame {
    /// Decodes a browser frame (size checked before parsing: at most 64 KiB).
    ///
    /// # Errors
    /// [`DecodeError::TooLarge`] or [`DecodeError::Invalid`].
    pub fn decode(bytes: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        check_size(bytes.len(), MAX_SMALL_FRAME_BYTES)?;
        let (tag, rest) = split_tag(bytes)?;
        let frame = match tag.as_str() {
            "input" => from_value(rest).map(Self::Input),
            "resize" => from_value(rest).map(Self::Resize),
            "stop" => from_value(rest).map(Self::Stop),
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
        encode_checked(self, MAX_SMALL_FRAME_BYTES, |text| {
            Self::decode(text.as_bytes()).map(|d| d.dropped.len())
        })
    }
}

impl ViewerEvent {
    /// Decodes a server frame (the browser side).
    ///
    /// # Errors
    /// [`DecodeError::TooLarge`] or [`DecodeError::Invalid`].
    pub fn decode(bytes: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        check_size(bytes.len(), MAX_TERMINAL_FRAME_BYTES)?;
        let (tag, rest) = split_tag(bytes)?;
        let frame = match tag.as_str() {
            "output" => from_value(rest).map(Self::Output),
            "exit" => from_value(rest).map(Self::Exit),
            "notice" => from_value(rest).map(Self::Notice),
            _ => Err(unknown_type()),
        };
        frame
            .and_then(finish)
            .map_err(|e| e.with_received_type(Some(&tag)))
    }

    /// Encodes the frame.
    ///
    /// # Errors
    /// See [`EncodeError`].
    pub fn encode(&self) -> Result<String, EncodeError> {
        encode_checked(self, MAX_TERMINAL_FRAME_BYTES, |text| {
            Self::decode(text.as_bytes()).map(|d| d.dropped.len())
        })
    }
}

impl Validate for ViewerFrame {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        match self {
            Self::Input(i) => check_input(&i.data, path, report),
            Self::Resize(r) => check_dimensions(r.cols, r.rows, path, report),
            Self::Stop(_) => {}
        }
    }
}

impl Validate for ViewerEvent {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        match self {
            Self::Output(o) => {
                check_chars(
                    &o.data,
                    0,
                    MAX_TERMINAL_DATA_CHARS,
                    &path.field("data"),
                    report,
                );
                // the same rule as the agent's `terminal_output` it relays
                if o.encoding == Some(TerminalEncoding::Base64)
                    && !o
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
            Self::Exit(_) => {}
            Self::Notice(n) => {
                check_chars(&n.code, 1, 64, &path.field("code"), report);
                check_chars(
                    &n.message,
                    0,
                    MAX_ERROR_MESSAGE_CHARS,
                    &path.field("message"),
                    report,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_frames_decode_strictly() {
        let f = ViewerFrame::decode(br#"{"type":"input","data":"ls\r"}"#).unwrap();
        assert_eq!(
            f.message,
            ViewerFrame::Input(ViewerInput {
                data: "ls\r".into()
            })
        );
        assert!(ViewerFrame::decode(br#"{"type":"input","data":"x","sessionId":"a"}"#).is_err());
        assert!(ViewerFrame::decode(br#"{"type":"resize","cols":0,"rows":10}"#).is_err());
        assert!(ViewerFrame::decode(br#"{"type":"exec","data":"x"}"#).is_err());
        let big = format!(
            r#"{{"type":"input","data":"{}"}}"#,
            "a".repeat(16 * 1024 + 1)
        );
        assert!(ViewerFrame::decode(big.as_bytes()).is_err());
        let at = format!(r#"{{"type":"input","data":"{}"}}"#, "a".repeat(16 * 1024));
        assert!(ViewerFrame::decode(at.as_bytes()).is_ok());
    }

    #[test]
    fn server_events_round_trip() {
        let e = ViewerEvent::Exit(ViewerExit { code: Some(0) });
        let text = e.encode().unwrap();
        assert_eq!(text, r#"{"type":"exit","code":0}"#);
        assert_eq!(ViewerEvent::decode(text.as_bytes()).unwrap().message, e);
    }
}
