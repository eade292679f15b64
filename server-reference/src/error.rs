//! The API error type: what clients see (generic, stable codes) and what is logged.
//!
//! Clients get `{"error": "<code>", "message": "<generic text>"}`; validation errors add
//! `issues: [{path, message}]` with field paths and never the offending value. Internal
//! causes are logged (without secrets) and answered with a bare `internal_error`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldIssue {
    /// Where: `body.email`, `path.orgId`, `query.limit`.
    pub path: String,
    /// What is wrong, without echoing the value.
    pub message: String,
}

impl FieldIssue {
    /// An issue at `path`.
    #[must_use]
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Rate-limit figures for the 429 headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// Seconds until a retry can succeed.
    pub retry_after_secs: u64,
    /// The limit.
    pub limit: u64,
    /// Remaining in the window.
    pub remaining: u64,
    /// Unix seconds when the window resets.
    pub reset_unix: u64,
}

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 with field issues.
    #[error("invalid request")]
    Validation(Vec<FieldIssue>),
    /// 401 with a machine code (`invalid_credentials`, `token_expired`, ...).
    #[error("authentication required")]
    Unauthorized(&'static str),
    /// 403 with a machine code.
    #[error("forbidden")]
    Forbidden(&'static str),
    /// 404 (also answered for resources outside the caller's tenancy).
    #[error("not found")]
    NotFound,
    /// 409 with a machine code.
    #[error("conflict")]
    Conflict(&'static str),
    /// 409 `already_exists`: a unique constraint refused the row; the body names it.
    #[error("already exists")]
    Duplicate {
        /// The constraint, when PostgreSQL named one.
        constraint: Option<String>,
    },
    /// 413.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 422 with a machine code: understood, but refused (an agent's typed refusal of a file
    /// operation).
    #[error("unprocessable")]
    Unprocessable(&'static str),
    /// 504 with a machine code: the agent did not answer in time.
    #[error("gateway timeout")]
    GatewayTimeout(&'static str),
    /// 428: the role requires MFA and the user has none.
    #[error("mfa enrollment required")]
    MfaEnrollmentRequired,
    /// 429 with `Retry-After` and `X-RateLimit-*`.
    #[error("too many requests")]
    RateLimited(RateLimited),
    /// 503: a dependency (Redis, PostgreSQL) is unreachable; fail closed.
    #[error("service unavailable")]
    Unavailable,
    /// 500; the cause is logged, never returned.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with one issue.
    #[must_use]
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldIssue::new(path, message)])
    }

    /// A 500 whose cause is logged.
    #[must_use]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::Duplicate { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::MfaEnrollmentRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized(code)
            | Self::Forbidden(code)
            | Self::Conflict(code)
            | Self::Unprocessable(code)
            | Self::GatewayTimeout(code) => code,
            Self::NotFound => "not_found",
            Self::Duplicate { .. } => "already_exists",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MfaEnrollmentRequired => "mfa_enrollment_required",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

/// The body of every error the API answers (agent routes answer the agent protocol's
/// `HttpErrorBody`); the OpenAPI document's `Error` schema is generated from it.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody<'a> {
    /// The stable machine code (`validation_failed`, `not_found`, `rate_limited`, ...).
    pub error: &'a str,
    /// A generic text for the status; never the offending value.
    pub message: &'a str,
    /// `validation_failed`: one issue per field (`body.email`, `query.limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issues: Option<&'a [FieldIssue]>,
    /// `mfa_enrollment_required`: where to enroll.
    #[serde(rename = "enrollUrl", skip_serializing_if = "Option::is_none")]
    pub enroll_url: Option<&'a str>,
    /// `already_exists`: the unique constraint that refused the row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<&'a str>,
}

/// The generic, value-free text of `status` answered as `message` by every error body, the
/// agent routes' included (one list: [`breeze_agent_proto::http::generic_message`]).
#[must_use]
pub const fn generic_message(status: StatusCode) -> &'static str {
    breeze_agent_proto::http::generic_message(status.as_u16())
}

/// Where a user who must enroll in MFA goes: the `enrollUrl` of the 428
/// `mfa_enrollment_required` body (the full route, under the API base path).
pub const MFA_ENROLL_URL: &str = "/api/v1/auth/mfa/setup";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            tracing::error!(cause = %cause, "internal error");
        }
        let body = ErrorBody {
            error: self.code(),
            message: generic_message(status),
            issues: match &self {
                Self::Validation(issues) => Some(issues),
                _ => None,
            },
            enroll_url: matches!(self, Self::MfaEnrollmentRequired).then_some(MFA_ENROLL_URL),
            constraint: match &self {
                Self::Duplicate { constraint } => constraint.as_deref(),
                _ => None,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::RateLimited(r) = self {
            let headers = response.headers_mut();
            for (name, value) in [
                (header::RETRY_AFTER.as_str(), r.retry_after_secs),
                ("x-ratelimit-limit", r.limit),
                ("x-ratelimit-remaining", r.remaining),
                ("x-ratelimit-reset", r.reset_unix),
            ] {
                if let Ok(name) = header::HeaderName::from_bytes(name.as_bytes()) {
                    headers.insert(name, HeaderValue::from(value));
                }
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(code) => Self::Conflict(code),
            StoreError::Denied => Self::NotFound,
            StoreError::Duplicate { constraint } => Self::Duplicate { constraint },
            StoreError::Invalid { path, message, .. } => Self::invalid(path, message),
            StoreError::Unavailable => Self::Unavailable,
            other => Self::internal(other),
        }
    }
}

/// The 429 error of a refused rate-limit decision (503 when the limiter is unavailable).
#[must_use]
pub fn rate_limited(decision: &breeze_core::ratelimit::RateDecision) -> ApiError {
    if decision.verdict == breeze_core::ratelimit::Verdict::Unavailable {
        return ApiError::Unavailable;
    }
    ApiError::RateLimited(RateLimited {
        retry_after_secs: decision.retry_after_secs().unwrap_or(1),
        limit: u64::from(decision.limit),
        remaining: u64::from(decision.remaining),
        reset_unix: decision.reset_at_ms / 1000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ApiError) -> serde_json::Value {
        let response = e.into_response();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn mfa_enrollment_points_at_the_real_setup_route() {
        let body = body_of(ApiError::MfaEnrollmentRequired).await;
        assert_eq!(body["error"], "mfa_enrollment_required");
        assert_eq!(body["enrollUrl"], "/api/v1/auth/mfa/setup");
        assert_eq!(body["message"], "multi-factor enrollment required");
    }

    #[test]
    fn agent_and_user_errors_share_the_generic_texts() {
        use breeze_agent_proto::http::{ErrorReason, HttpErrorBody};
        for reason in ErrorReason::ALL {
            let status = StatusCode::from_u16(reason.http_status()).unwrap();
            let body = HttpErrorBody::new(*reason);
            assert_eq!(
                body.message.as_deref(),
                Some(generic_message(status)),
                "{reason:?}"
            );
            if *reason != ErrorReason::InternalError {
                assert_ne!(generic_message(status), "internal error", "{reason:?}");
            }
        }
    }
}
