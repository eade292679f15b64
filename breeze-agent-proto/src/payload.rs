//! Typed payloads of the SPEC 8.5 command types.

use std::collections::BTreeMap;

use breeze_core::tenancy::CommandId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::file::check_remote_path;
use crate::ids::UuidSchema;
use crate::issue::IssueCode;
use crate::limits::{
    MAX_DELAY_SECONDS, MAX_FILE_READ_BYTES, MAX_PARAMETER_NAME_CHARS, MAX_PARAMETER_VALUE_CHARS,
    MAX_PATCH_IDS, MAX_PATCH_SOURCES, MAX_REASON_CHARS, MAX_SCRIPT_CHARS, MAX_SCRIPT_PARAMETERS,
    MAX_TIMEOUT_SECONDS,
};
use crate::validate::{
    Path, Report, Validate, check_chars, check_count, check_opt_chars, check_range,
};

/// Interpreter of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScriptLanguage {
    /// Windows PowerShell / PowerShell Core.
    Powershell,
    /// Windows `cmd.exe`.
    Cmd,
    /// Bash.
    Bash,
    /// POSIX sh.
    Sh,
    /// Zsh.
    Zsh,
    /// Python 3.
    Python,
}

/// Account a script runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunAs {
    /// SYSTEM / root.
    System,
    /// The logged-in user.
    User,
}

/// `run_script`: run a script body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunScriptPayload {
    /// The library script this body came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_id: Option<Uuid>,
    /// The execution record to report against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<Uuid>,
    /// Script body (1 to 1,000,000 characters).
    #[schemars(length(min = 1, max = 1_000_000))]
    pub content: String,
    /// Interpreter.
    pub language: ScriptLanguage,
    /// Named parameters (at most 100; names 1 to 128, values at most 8,192 characters).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 100))]
    pub parameters: BTreeMap<String, String>,
    /// Timeout in seconds (1 to 86,400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub timeout_seconds: Option<u32>,
    /// Account to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as: Option<RunAs>,
}

// Debug shows the body's length, never the body or parameter values: scripts routinely carry
// credentials. (A plain comment: doc comments on the type end up in the JSON Schema.)
impl std::fmt::Debug for RunScriptPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunScriptPayload")
            .field("script_id", &self.script_id)
            .field("execution_id", &self.execution_id)
            .field("content_chars", &self.content.chars().count())
            .field("language", &self.language)
            .field("parameters", &self.parameters.keys().collect::<Vec<_>>())
            .field("timeout_seconds", &self.timeout_seconds)
            .field("run_as", &self.run_as)
            .finish()
    }
}

/// `script_cancel`: cancel a running `run_script` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptCancelPayload {
    /// The `run_script` command to cancel.
    #[schemars(with = "UuidSchema")]
    pub command_id: CommandId,
}

/// `reboot` and `shutdown`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PowerPayload {
    /// Delay before acting, in seconds (at most 86,400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 86400))]
    pub delay_seconds: Option<u32>,
    /// Reason shown to the user (at most 500 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub reason: Option<String>,
}

/// A payload with no fields (`collect_inventory`, `list_processes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyPayload {}

/// `kill_process`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KillProcessPayload {
    /// Process id (at least 1).
    #[schemars(range(min = 1))]
    pub pid: u32,
    /// Kill without asking the process to exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

/// `file_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileListPayload {
    /// Absolute directory path (the SPEC 12 path rule: at most 2,048 bytes).
    #[schemars(length(min = 1, max = 2048))]
    pub path: String,
}

/// `file_read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileReadPayload {
    /// Absolute file path (the SPEC 12 path rule: at most 2,048 bytes).
    #[schemars(length(min = 1, max = 2048))]
    pub path: String,
    /// Read at most this many bytes (1 to 4,194,304).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4_194_304))]
    pub max_bytes: Option<u64>,
}

/// `file_delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileDeletePayload {
    /// Absolute path of a file or directory (the SPEC 12 path rule).
    #[schemars(length(min = 1, max = 2048))]
    pub path: String,
    /// Delete a directory and its contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
}

/// Where patches come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PatchSource {
    /// Windows Update.
    Microsoft,
    /// Apple software update.
    Apple,
    /// The Linux distribution's package manager.
    Linux,
    /// Third-party application catalogs.
    ThirdParty,
    /// Custom packages.
    Custom,
}

/// `patch_scan`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchScanPayload {
    /// Sources to scan (at most 8; absent: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8))]
    pub sources: Option<Vec<PatchSource>>,
}

/// `install_patches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallPatchesPayload {
    /// Patches to install (1 to 1,000).
    #[schemars(length(min = 1, max = 1000))]
    pub patch_ids: Vec<Uuid>,
    /// Reboot when a patch needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboot_if_needed: Option<bool>,
}

/// `rollback_patches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackPatchesPayload {
    /// Patches to roll back (1 to 1,000).
    #[schemars(length(min = 1, max = 1000))]
    pub patch_ids: Vec<Uuid>,
}

/// `self_uninstall`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfUninstallPayload {
    /// Also remove configuration and secrets files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_data: Option<bool>,
}

fn check_patch_ids(ids: &[Uuid], path: &Path<'_>, report: &mut Report) {
    let path = path.field("patchIds");
    if ids.is_empty() {
        report.issue(&path, IssueCode::TooShort, "at least 1 entry required");
    }
    check_count(ids.len(), MAX_PATCH_IDS, &path, report);
}

impl Validate for RunScriptPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_chars(
            &self.content,
            1,
            MAX_SCRIPT_CHARS,
            &path.field("content"),
            report,
        );
        let params = path.field("parameters");
        check_count(
            self.parameters.len(),
            MAX_SCRIPT_PARAMETERS,
            &params,
            report,
        );
        for (name, value) in &self.parameters {
            let at = params.field(name);
            check_chars(name, 1, MAX_PARAMETER_NAME_CHARS, &at, report);
            check_chars(value, 0, MAX_PARAMETER_VALUE_CHARS, &at, report);
        }
        if let Some(t) = self.timeout_seconds {
            check_range(
                t,
                1,
                MAX_TIMEOUT_SECONDS,
                &path.field("timeoutSeconds"),
                report,
            );
        }
    }
}

impl Validate for ScriptCancelPayload {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}

impl Validate for PowerPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        if let Some(d) = self.delay_seconds {
            check_range(d, 0, MAX_DELAY_SECONDS, &path.field("delaySeconds"), report);
        }
        check_opt_chars(
            self.reason.as_deref(),
            0,
            MAX_REASON_CHARS,
            &path.field("reason"),
            report,
        );
    }
}

impl Validate for EmptyPayload {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}

impl Validate for KillProcessPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_range(self.pid, 1, u32::MAX, &path.field("pid"), report);
    }
}

impl Validate for FileListPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_remote_path(&self.path, path, report);
    }
}

impl Validate for FileReadPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_remote_path(&self.path, path, report);
        if let Some(max) = self.max_bytes {
            check_range(max, 1, MAX_FILE_READ_BYTES, &path.field("maxBytes"), report);
        }
    }
}

impl Validate for FileDeletePayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_remote_path(&self.path, path, report);
    }
}

impl Validate for PatchScanPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        if let Some(sources) = &self.sources {
            check_count(
                sources.len(),
                MAX_PATCH_SOURCES,
                &path.field("sources"),
                report,
            );
        }
    }
}

impl Validate for InstallPatchesPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_patch_ids(&self.patch_ids, path, report);
    }
}

impl Validate for RollbackPatchesPayload {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_patch_ids(&self.patch_ids, path, report);
    }
}

impl Validate for SelfUninstallPayload {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_script_debug_hides_body_and_parameter_values() {
        let p = RunScriptPayload {
            script_id: None,
            execution_id: None,
            content: "curl -H 'Authorization: Bearer s3cr3t-token' https://x".into(),
            language: ScriptLanguage::Bash,
            parameters: BTreeMap::from([("API_KEY".to_owned(), "brzk_hunter2".to_owned())]),
            timeout_seconds: Some(60),
            run_as: None,
        };
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("API_KEY") && dbg.contains("content_chars"));
    }
}
