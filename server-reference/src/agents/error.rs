//! The error an agent is answered with: a protocol reason (`breeze_agent_proto::http`), issues,
//! a rate limit or an outage. The HTTP rendering (`HttpErrorBody`) is the HTTP layer's.

use breeze_agent_proto::DecodeError;
use breeze_agent_proto::http::ErrorReason;
use breeze_agent_proto::issue::Issue;

use crate::error::ApiError;
use crate::store::StoreError;

/// An error answered to an agent.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentError {
    /// A reason with its own status.
    Reason(ErrorReason),
    /// 400 with issues (at most 10).
    Invalid(Vec<Issue>),
    /// 429 with `Retry-After`.
    RateLimited(u64),
    /// 503: a dependency is unreachable (fail closed).
    Unavailable,
    /// 500; the cause is logged, never returned.
    Internal(String),
}

impl AgentError {
    /// The refusal of an agent body that failed to decode: 413 when too large, else 400 with
    /// the decoder's issues.
    #[must_use]
    pub fn decode(e: &DecodeError) -> Self {
        match e {
            DecodeError::TooLarge { .. } => Self::Reason(ErrorReason::PayloadTooLarge),
            other => Self::Invalid(other.issues()),
        }
    }

    /// A 500 whose cause is logged.
    #[must_use]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The machine reason.
    #[must_use]
    pub const fn reason(&self) -> ErrorReason {
        match self {
            Self::Reason(r) => *r,
            Self::Invalid(_) => ErrorReason::InvalidRequest,
            Self::RateLimited(_) => ErrorReason::RateLimited,
            Self::Unavailable | Self::Internal(_) => ErrorReason::InternalError,
        }
    }
}

impl From<StoreError> for AgentError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable => Self::Unavailable,
            other => Self::internal(other),
        }
    }
}

impl From<ApiError> for AgentError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unavailable => Self::Unavailable,
            ApiError::RateLimited(r) => Self::RateLimited(r.retry_after_secs),
            ApiError::PayloadTooLarge => Self::Reason(ErrorReason::PayloadTooLarge),
            ApiError::NotFound => Self::Reason(ErrorReason::CommandNotFound),
            other => Self::internal(other),
        }
    }
}
