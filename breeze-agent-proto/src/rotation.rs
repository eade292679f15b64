//! Token rotation (SPEC 8.3): stage with the current token, confirm with the pending one.
//!
//! `POST /api/v1/agents/:agentId/rotate-token` stages three new tokens as pending for one
//! hour; `POST /api/v1/agents/:agentId/rotate-token/confirm`, authenticated with the pending
//! agent token, promotes them and keeps the old ones valid for a five-minute grace window.
//! Both are safe to retry (compare-and-set on the stored hashes). Failures use these
//! [`crate::ErrorReason`]s: `rotation_not_pending` (confirm with nothing staged),
//! `rotation_expired` (the pending tokens expired: stage again), `refresh_raced` (another
//! rotation won the compare-and-set: re-read and retry), `re_enrollment_required`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::Timestamp;
use crate::secret::WireToken;
use crate::validate::{Path, Report, Validate};

/// Path of the stage request, relative to `/api/v1/agents/:agentId`.
pub const ROTATE_TOKEN_PATH: &str = "/rotate-token";
/// Path of the confirm request, relative to `/api/v1/agents/:agentId`.
pub const CONFIRM_ROTATION_PATH: &str = "/rotate-token/confirm";

/// Phase 1 request body (authenticated with the current agent token). It has no fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateTokenRequest {}

/// Phase 1 response: the three staged tokens. The agent writes them durably and reads them
/// back before confirming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateTokenResponse {
    /// New agent-role token (pending until confirmed).
    pub auth_token: WireToken,
    /// New watchdog-role token.
    pub watchdog_auth_token: WireToken,
    /// New helper-role token.
    pub helper_auth_token: WireToken,
    /// When the pending tokens expire unless confirmed.
    pub pending_expires_at: Timestamp,
}

/// Phase 2 request body (authenticated with the pending agent token). It has no fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRotationRequest {}

/// Phase 2 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmRotationResponse {
    /// Always `true`: the pending tokens are now current (a retry after success also answers
    /// `true`).
    pub confirmed: bool,
    /// Until when the previous tokens stay valid.
    pub grace_expires_at: Timestamp,
}

impl Validate for RotateTokenRequest {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}

impl Validate for RotateTokenResponse {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}

impl Validate for ConfirmRotationRequest {
    fn validate(&mut self, _: &Path<'_>, _: &mut Report) {}
}

impl Validate for ConfirmRotationResponse {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        if !self.confirmed {
            report.issue(
                &path.field("confirmed"),
                crate::issue::IssueCode::InvalidValue,
                "must be true",
            );
        }
    }
}
