//! JSON-RPC 2.0 framing of the MCP endpoint and its error codes (SPEC 14):
//! -32700 parse, -32600 invalid request, -32601 method, -32602 params, -32001
//! unauthenticated or scope, -32003 forbidden by policy, -32029 rate limited (and -32603
//! internal, whose cause is logged, never answered).
//!
//! Errors of authentication and limits also carry their HTTP status (401, 403, 429, 503),
//! so a client that reads only the status still fails closed; errors of a well-formed call
//! (a denied tool, a bad argument) answer 200 with the JSON-RPC error, as MCP clients expect.
//! `error.data.code` is the stable machine code (`missing_ai_scope`, `policy_blocked`, ...).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breeze_core::ratelimit::{RateDecision, Verdict};
use serde_json::{Value, json};

use crate::error::ApiError;

/// Parse error.
pub const PARSE_ERROR: i64 = -32700;
/// Not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// Unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// Unauthenticated, or the key lacks the scope.
pub const UNAUTHENTICATED: i64 = -32001;
/// Forbidden by policy.
pub const FORBIDDEN_BY_POLICY: i64 = -32003;
/// Rate limited.
pub const RATE_LIMITED: i64 = -32029;

/// A JSON-RPC error with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// JSON-RPC code.
    pub code: i64,
    /// Stable machine code.
    pub reason: &'static str,
    /// Human message (never a secret, an id of another tenant or internal detail).
    pub message: String,
    /// Seconds until a retry can succeed.
    pub retry_after: Option<u64>,
}

impl RpcError {
    fn new(status: StatusCode, code: i64, reason: &'static str, message: &str) -> Self {
        Self {
            status,
            code,
            reason,
            message: message.to_owned(),
            retry_after: None,
        }
    }

    /// -32700, HTTP 400.
    #[must_use]
    pub fn parse() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            PARSE_ERROR,
            "parse_error",
            "parse error",
        )
    }

    /// -32600, HTTP 400.
    #[must_use]
    pub fn invalid_request(reason: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            reason,
            "invalid request",
        )
    }

    /// -32600, HTTP 404: the session is unknown or lapsed (MCP: the client initializes
    /// again).
    #[must_use]
    pub fn session_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            "session_not_found",
            "unknown or expired session",
        )
    }

    /// -32601, HTTP 200.
    #[must_use]
    pub fn method_not_found() -> Self {
        Self::new(
            StatusCode::OK,
            METHOD_NOT_FOUND,
            "method_not_found",
            "method not found",
        )
    }

    /// -32602, HTTP 200.
    #[must_use]
    pub fn invalid_params(reason: &'static str, message: &str) -> Self {
        Self::new(StatusCode::OK, INVALID_PARAMS, reason, message)
    }

    /// -32001, HTTP 401: the request is not authenticated.
    #[must_use]
    pub fn unauthenticated(reason: &'static str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            UNAUTHENTICATED,
            reason,
            "unauthenticated",
        )
    }

    /// -32001, HTTP 200: an authenticated key may not call this tool.
    #[must_use]
    pub fn scope(reason: &'static str, message: &str) -> Self {
        Self::new(StatusCode::OK, UNAUTHENTICATED, reason, message)
    }

    /// -32001, HTTP 403: a session presented by a key that does not own it.
    #[must_use]
    pub fn foreign_session() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            UNAUTHENTICATED,
            "session_of_another_key",
            "this session belongs to another key",
        )
    }

    /// -32003, HTTP 200.
    #[must_use]
    pub fn policy(reason: &'static str, message: &str) -> Self {
        Self::new(StatusCode::OK, FORBIDDEN_BY_POLICY, reason, message)
    }

    /// -32029, HTTP 429.
    #[must_use]
    pub fn rate_limited(reason: &'static str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMITED,
            reason,
            "rate limited",
        )
    }

    /// Adds the retry delay of a limiter decision; a limiter that could not answer (Redis
    /// down) turns the error into a 503 (still refused: fail closed).
    #[must_use]
    pub fn with_retry(mut self, decision: &RateDecision) -> Self {
        if decision.verdict == Verdict::Unavailable {
            return Self::internal(ApiError::Unavailable);
        }
        self.retry_after = Some(decision.retry_after_secs().unwrap_or(1));
        self
    }

    /// -32603 with the status of `e` (503 for an unreachable dependency, else 500); the
    /// cause is logged and not answered.
    #[must_use]
    pub fn internal(e: ApiError) -> Self {
        let status = e.status();
        if status.is_server_error() && !matches!(e, ApiError::Unavailable) {
            tracing::error!(cause = %e, "mcp internal error");
        }
        let status = if status == StatusCode::SERVICE_UNAVAILABLE {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self::new(status, INTERNAL_ERROR, "internal_error", "internal error")
    }

    /// The error object.
    #[must_use]
    pub fn object(&self) -> ErrorObject {
        ErrorObject {
            code: self.code,
            message: self.message.clone(),
            data: ErrorData { code: self.reason },
        }
    }

    /// The whole answer to the request `id`.
    #[must_use]
    pub fn respond(&self, id: &Value) -> Response {
        let body = ErrorAnswer {
            jsonrpc: "2.0",
            id: id.clone(),
            error: self.object(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A successful answer to the request `id`.
#[must_use]
pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// `error.data`: the stable machine code.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorData {
    /// `missing_ai_scope`, `policy_blocked`, `rate_limited`, ...
    pub code: &'static str,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorObject {
    /// The JSON-RPC code (-32700, -32600, -32601, -32602, -32001, -32003, -32029).
    pub code: i64,
    /// A human message.
    pub message: String,
    /// The machine code.
    pub data: ErrorData,
}

/// A JSON-RPC error answer (also the body of the endpoint's 4xx/5xx answers).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "JsonRpcError")]
pub struct ErrorAnswer {
    /// Always `2.0`.
    pub jsonrpc: &'static str,
    /// The request's id (`null` when it could not be read).
    pub id: Value,
    /// The error.
    pub error: ErrorObject,
}

/// A JSON-RPC answer: a result or an error (the document's description of what
/// [`result`] and [`RpcError::respond`] write).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "JsonRpcResponse")]
pub enum AnswerDoc {
    /// A result.
    Result {
        /// Always `2.0`.
        jsonrpc: &'static str,
        /// The request's id.
        id: Value,
        /// The method's result.
        result: Value,
    },
    /// An error.
    Error(ErrorAnswer),
}

/// A JSON-RPC 2.0 request or notification as the endpoint reads it (the document's
/// description of what [`parse`] accepts).
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "JsonRpcRequest")]
pub struct RequestDoc {
    /// Must be `2.0`.
    pub jsonrpc: String,
    /// A string or integer; absent for a notification.
    pub id: Option<Value>,
    /// `initialize`, `ping`, `tools/list`, `tools/call`, `notifications/initialized`, ...
    pub method: String,
    /// The parameters: an object.
    pub params: Option<serde_json::Map<String, Value>>,
}

/// One parsed message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `None` for a notification.
    pub id: Option<Value>,
    /// The method.
    pub method: String,
    /// The parameters (an object, or null).
    pub params: Value,
}

/// Parses a request body into one message. A body that is not JSON is -32700; anything
/// else that is not one JSON-RPC 2.0 request or notification (a batch, a response, a bad
/// id) is -32600.
///
/// # Errors
/// [`RpcError`].
pub fn parse(body: &[u8]) -> Result<Message, RpcError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| RpcError::parse())?;
    let Value::Object(mut obj) = value else {
        return Err(RpcError::invalid_request(if value.is_array() {
            "batch_not_supported"
        } else {
            "not_an_object"
        }));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::invalid_request("not_jsonrpc_2"));
    }
    let id = match obj.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => return Err(RpcError::invalid_request("invalid_id")),
    };
    let Some(Value::String(method)) = obj.remove("method") else {
        // a response or an error from the client: we never ask it anything
        return Err(RpcError::invalid_request("not_a_request"));
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Null,
        Some(p @ Value::Object(_)) => p,
        Some(_) => return Err(RpcError::invalid_request("params_not_an_object")),
    };
    Ok(Message { id, method, params })
}
