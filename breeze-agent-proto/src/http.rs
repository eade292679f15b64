//! HTTP error bodies, their reason codes and the agent protocol's header names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits::MAX_ERROR_MESSAGE_CHARS;
use crate::validate::{Path, Report, Validate, check_chars};

/// Response header set when the request used the previous (grace-window) token (SPEC 8.2).
pub const TOKEN_ROTATION_REQUIRED_HEADER: &str = "x-token-rotation-required";

/// Path of the enrollment endpoint.
pub const ENROLL_PATH: &str = "/api/v1/agents/enroll";

/// The machine reason of an agent-facing HTTP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorReason {
    /// 401: no enrollment key with that hash.
    EnrollmentKeyNotFound,
    /// 401: the enrollment key expired.
    EnrollmentKeyExpired,
    /// 401: the enrollment key has no uses left.
    EnrollmentKeyExhausted,
    /// 401: the enrollment secret is missing or wrong.
    EnrollmentSecretInvalid,
    /// 403: enrollment is disabled (production without any enrollment secret).
    EnrollmentDisabled,
    /// 403: the tenant is not active.
    TenantInactive,
    /// 403: the partner's device limit is reached.
    DeviceLimitReached,
    /// 409: another enrollment claimed the key's last use first (retry with a new key).
    EnrollmentKeyRaceLost,
    /// 401: the device has no usable credentials; enroll again.
    ReEnrollmentRequired,
    /// 401: the bearer token is malformed or matches nothing.
    InvalidToken,
    /// 403: the token was suspended (cross-tenant probing); an admin must review.
    TokenSuspended,
    /// 403: the device is decommissioned or quarantined.
    DeviceNotAuthorized,
    /// 403: the tenant is offboarding and this route is not allowed.
    TenantOffboarding,
    /// 409: confirm with no staged rotation.
    RotationNotPending,
    /// 409: the staged tokens expired before confirmation.
    RotationExpired,
    /// 409: a concurrent rotation won the compare-and-set.
    RefreshRaced,
    /// 404: the result names a command that is not this device's.
    CommandNotFound,
    /// 400: the body failed validation.
    InvalidRequest,
    /// 413: the body is larger than its limit.
    PayloadTooLarge,
    /// 426: no protocol version in common (see [`crate::version`]).
    ProtocolVersionUnsupported,
    /// 429: a rate limit was hit (honour `Retry-After`).
    RateLimited,
    /// 500: the server failed.
    InternalError,
    /// 401: the device is bound to a key (or its organization requires one) and the
    /// request carries no signature: sign it, or register a key (SPEC 17).
    SignatureRequired,
    /// 401: the request's signature was refused (see `breeze_crypto::httpsig`), or its
    /// nonce was seen before.
    SignatureInvalid,
    /// 409: the device already has a key; change it with a signed rotation.
    AgentKeyAlreadyRegistered,
}

impl ErrorReason {
    /// The HTTP status this reason is sent with.
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            Self::EnrollmentKeyNotFound
            | Self::EnrollmentKeyExpired
            | Self::EnrollmentKeyExhausted
            | Self::EnrollmentSecretInvalid
            | Self::ReEnrollmentRequired
            | Self::InvalidToken
            | Self::SignatureRequired
            | Self::SignatureInvalid => 401,
            Self::EnrollmentDisabled
            | Self::TenantInactive
            | Self::DeviceLimitReached
            | Self::TokenSuspended
            | Self::DeviceNotAuthorized
            | Self::TenantOffboarding => 403,
            Self::CommandNotFound => 404,
            Self::EnrollmentKeyRaceLost
            | Self::RotationNotPending
            | Self::RotationExpired
            | Self::RefreshRaced
            | Self::AgentKeyAlreadyRegistered => 409,
            Self::InvalidRequest => 400,
            Self::PayloadTooLarge => 413,
            Self::ProtocolVersionUnsupported => 426,
            Self::RateLimited => 429,
            Self::InternalError => 500,
        }
    }

    /// The snake_case code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EnrollmentKeyNotFound => "enrollment_key_not_found",
            Self::EnrollmentKeyExpired => "enrollment_key_expired",
            Self::EnrollmentKeyExhausted => "enrollment_key_exhausted",
            Self::EnrollmentSecretInvalid => "enrollment_secret_invalid",
            Self::EnrollmentDisabled => "enrollment_disabled",
            Self::TenantInactive => "tenant_inactive",
            Self::DeviceLimitReached => "device_limit_reached",
            Self::EnrollmentKeyRaceLost => "enrollment_key_race_lost",
            Self::ReEnrollmentRequired => "re_enrollment_required",
            Self::InvalidToken => "invalid_token",
            Self::TokenSuspended => "token_suspended",
            Self::DeviceNotAuthorized => "device_not_authorized",
            Self::TenantOffboarding => "tenant_offboarding",
            Self::RotationNotPending => "rotation_not_pending",
            Self::RotationExpired => "rotation_expired",
            Self::RefreshRaced => "refresh_raced",
            Self::CommandNotFound => "command_not_found",
            Self::InvalidRequest => "invalid_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ProtocolVersionUnsupported => "protocol_version_unsupported",
            Self::RateLimited => "rate_limited",
            Self::InternalError => "internal_error",
            Self::SignatureRequired => "signature_required",
            Self::SignatureInvalid => "signature_invalid",
            Self::AgentKeyAlreadyRegistered => "agent_key_already_registered",
        }
    }

    /// Every reason.
    pub const ALL: &'static [Self] = &[
        Self::EnrollmentKeyNotFound,
        Self::EnrollmentKeyExpired,
        Self::EnrollmentKeyExhausted,
        Self::EnrollmentSecretInvalid,
        Self::EnrollmentDisabled,
        Self::TenantInactive,
        Self::DeviceLimitReached,
        Self::EnrollmentKeyRaceLost,
        Self::ReEnrollmentRequired,
        Self::InvalidToken,
        Self::TokenSuspended,
        Self::DeviceNotAuthorized,
        Self::TenantOffboarding,
        Self::RotationNotPending,
        Self::RotationExpired,
        Self::RefreshRaced,
        Self::CommandNotFound,
        Self::InvalidRequest,
        Self::PayloadTooLarge,
        Self::ProtocolVersionUnsupported,
        Self::RateLimited,
        Self::InternalError,
        Self::SignatureRequired,
        Self::SignatureInvalid,
        Self::AgentKeyAlreadyRegistered,
    ];
}

/// The generic, value-free text of an HTTP status, as the server's `message` field of every
/// error body carries it (the same texts as the user-facing API's errors).
#[must_use]
pub const fn generic_message(status: u16) -> &'static str {
    match status {
        400 => "the request is invalid",
        401 => "authentication failed",
        403 => "not allowed",
        404 => "not found",
        409 => "conflict",
        413 => "payload too large",
        422 => "the request was refused",
        426 => "protocol version not supported",
        428 => "multi-factor enrollment required",
        429 => "too many requests",
        503 => "service unavailable",
        504 => "the device did not answer in time",
        _ => "internal error",
    }
}

/// An agent-facing HTTP error body: `{"error": "...", "code": "...", "message": "..."}`.
///
/// `message` is the generic text of the status ([`generic_message`]); bodies without it
/// (servers before it was added) still decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpErrorBody {
    /// A short generic message (1 to 1,000 characters; never a secret or stack trace).
    #[schemars(length(min = 1, max = 1000))]
    pub error: String,
    /// The machine reason.
    pub code: ErrorReason,
    /// The generic, value-free text of the HTTP status (1 to 1,000 characters); optional on
    /// decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1000))]
    pub message: Option<String>,
    /// Field issues of an `invalid_request` (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub issues: Vec<crate::issue::Issue>,
}

impl HttpErrorBody {
    /// A body with generic messages for `code` (its `message` is the generic text of the
    /// reason's status).
    #[must_use]
    pub fn new(code: ErrorReason) -> Self {
        Self {
            error: code.as_str().replace('_', " "),
            code,
            message: Some(generic_message(code.http_status()).to_owned()),
            issues: Vec::new(),
        }
    }
}

impl Validate for HttpErrorBody {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_chars(
            &self.error,
            1,
            MAX_ERROR_MESSAGE_CHARS,
            &path.field("error"),
            report,
        );
        if let Some(message) = &self.message {
            check_chars(
                message,
                1,
                MAX_ERROR_MESSAGE_CHARS,
                &path.field("message"),
                report,
            );
        }
        crate::validate::check_count(
            self.issues.len(),
            crate::limits::MAX_ISSUES,
            &path.field("issues"),
            report,
        );
    }
}
