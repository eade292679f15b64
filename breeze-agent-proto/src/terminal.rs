//! The terminal relay frames on the agent's socket (SPEC 12).
//!
//! Server -> agent: `terminal_start {sessionId, cols, rows}`, `terminal_input {sessionId,
//! data}`, `terminal_resize {sessionId, cols, rows}`, `terminal_stop {sessionId}`. Agent ->
//! server: `terminal_output {sessionId, data, encoding?}` (in [`crate::frame`]) and, once per
//! session, `terminal_exit {sessionId, code}`.
//!
//! These are live frames, never queued commands: a terminal only exists while a person is
//! connected to it through a ticketed, recorded session, so there is no `terminal_*` command
//! type (a queued keystroke delivered minutes later, outside a session's checks and
//! recording, is exactly what must not happen).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::issue::IssueCode;
use crate::limits::{MAX_TERMINAL_DIMENSION, MAX_TERMINAL_INPUT_BYTES};
use crate::validate::{Path, Report, Validate, check_range};

/// `terminal_start`: open a PTY for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminalStart {
    /// The session.
    pub session_id: SessionId,
    /// Columns (1 to 1,000).
    #[schemars(range(min = 1, max = 1000))]
    pub cols: u16,
    /// Rows (1 to 1,000).
    #[schemars(range(min = 1, max = 1000))]
    pub rows: u16,
}

/// `terminal_input`: keystrokes for a session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminalInput {
    /// The session.
    pub session_id: SessionId,
    /// Input (UTF-8, at most 16,384 bytes).
    #[schemars(length(max = 16384))]
    pub data: String,
}

// Debug shows the size, never the keystrokes (they include typed passwords). A plain
// comment: doc comments on the type end up in the JSON Schema.
impl std::fmt::Debug for TerminalInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalInput")
            .field("session_id", &self.session_id)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// `terminal_resize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminalResize {
    /// The session.
    pub session_id: SessionId,
    /// Columns (1 to 1,000).
    #[schemars(range(min = 1, max = 1000))]
    pub cols: u16,
    /// Rows (1 to 1,000).
    #[schemars(range(min = 1, max = 1000))]
    pub rows: u16,
}

/// `terminal_stop`: kill the session's process group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminalStop {
    /// The session.
    pub session_id: SessionId,
}

/// `terminal_exit`: the session's shell ended (sent once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminalExit {
    /// The session.
    pub session_id: SessionId,
    /// Exit code (absent when killed by a signal or unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
}

pub(crate) fn check_dimensions(cols: u16, rows: u16, path: &Path<'_>, report: &mut Report) {
    check_range(cols, 1, MAX_TERMINAL_DIMENSION, &path.field("cols"), report);
    check_range(rows, 1, MAX_TERMINAL_DIMENSION, &path.field("rows"), report);
}

pub(crate) fn check_input(data: &str, path: &Path<'_>, report: &mut Report) {
    if data.len() > MAX_TERMINAL_INPUT_BYTES {
        report.issue(
            &path.field("data"),
            IssueCode::TooLong,
            "at most 16384 bytes",
        );
    }
}

impl Validate for TerminalStart {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_dimensions(self.cols, self.rows, path, report);
    }
}

impl Validate for TerminalInput {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_input(&self.data, path, report);
    }
}

impl Validate for TerminalResize {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_dimensions(self.cols, self.rows, path, report);
    }
}

impl Validate for TerminalStop {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}

impl Validate for TerminalExit {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}
