//! Command results (SPEC 8.5): the `command_result` frame and the HTTP result body.

use breeze_core::tenancy::CommandId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::file::FileOutcome;
use crate::ids::{Timestamp, UuidSchema};
use crate::issue::IssueCode;
use crate::limits::{MAX_OUTPUT_CHARS, MAX_RESULT_ERROR_CHARS, MAX_RESULT_JSON_BYTES};
use crate::validate::{Path, Report, Validate, check_opt_chars};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandStatus {
    /// Ran to completion (whatever its exit code).
    Completed,
    /// Could not run, or failed.
    Failed,
    /// Killed after its timeout.
    Timeout,
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandResult {
    /// The command this answers (accepted only for a command of the same device).
    #[schemars(with = "UuidSchema")]
    pub command_id: CommandId,
    /// How it ended.
    pub status: CommandStatus,
    /// Process exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Standard output (at most 5,000,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5_000_000))]
    pub stdout: Option<String>,
    /// Standard error (at most 5,000,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5_000_000))]
    pub stderr: Option<String>,
    /// Run time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// When the command started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// Error text (at most 10,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10_000))]
    pub error: Option<String>,
    /// Structured result (serialized at most 5 MB). `null` means no result.
    #[serde(default, skip_serializing_if = "is_absent")]
    pub result: Option<Value>,
    /// The outcome of a `file_read`, `file_list` or `file_write` (SPEC 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileOutcome>,
}

impl CommandResult {
    /// A result with only the command id and status.
    #[must_use]
    pub const fn new(command_id: CommandId, status: CommandStatus) -> Self {
        Self {
            command_id,
            status,
            exit_code: None,
            stdout: None,
            stderr: None,
            duration_ms: None,
            started_at: None,
            error: None,
            result: None,
            file: None,
        }
    }

    /// Cuts `stdout`, `stderr` and `error` to their character limits (for an agent about to
    /// send the output of a chatty command).
    pub fn truncate_to_limits(&mut self) {
        for (field, max) in [
            (&mut self.stdout, MAX_OUTPUT_CHARS),
            (&mut self.stderr, MAX_OUTPUT_CHARS),
            (&mut self.error, MAX_RESULT_ERROR_CHARS),
        ] {
            if let Some(text) = field {
                let keep = crate::text::truncate_chars(text, max).len();
                text.truncate(keep);
            }
        }
    }
}

fn is_absent(value: &Option<Value>) -> bool {
    value.as_ref().is_none_or(Value::is_null)
}

/// A writer that only counts, failing once `limit` is passed (so a huge value stops early).
struct CountingWriter {
    written: usize,
    limit: usize,
}

impl std::io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written = self.written.saturating_add(buf.len());
        if self.written > self.limit {
            return Err(std::io::Error::other("limit exceeded"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// True when `value` serializes to more than `limit` bytes.
pub(crate) fn json_exceeds(value: &Value, limit: usize) -> bool {
    let mut counter = CountingWriter { written: 0, limit };
    serde_json::to_writer(&mut counter, value).is_err()
}

impl Validate for CommandResult {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_opt_chars(
            self.stdout.as_deref(),
            0,
            MAX_OUTPUT_CHARS,
            &path.field("stdout"),
            report,
        );
        check_opt_chars(
            self.stderr.as_deref(),
            0,
            MAX_OUTPUT_CHARS,
            &path.field("stderr"),
            report,
        );
        check_opt_chars(
            self.error.as_deref(),
            0,
            MAX_RESULT_ERROR_CHARS,
            &path.field("error"),
            report,
        );
        if let Some(result) = &self.result
            && json_exceeds(result, MAX_RESULT_JSON_BYTES)
        {
            report.issue(
                &path.field("result"),
                IssueCode::TooLong,
                &format!("at most {MAX_RESULT_JSON_BYTES} bytes of json allowed"),
            );
        }
        if let Some(file) = &mut self.file {
            file.validate(&path.field("file"), report);
        }
    }
}
