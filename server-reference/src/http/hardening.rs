//! Global hardening layers (SPEC 9): security headers, body limit, panic catching.

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// Default request body limit (routes that need more, such as agent heartbeats, raise it).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The Content-Security-Policy of the seed document.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; font-src 'self' data:; connect-src 'self' wss: https:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The security headers set on every response.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains; preload",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
];

/// Applies the global layers.
pub fn apply(mut app: Router, _state: &AppState) -> Router {
    for (name, value) in SECURITY_HEADERS {
        app = app.layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    // the default limit of body extractors; a route raises it with its own
    // `DefaultBodyLimit` layer (agent heartbeats 5 MiB, command results 24 MiB)
    app.layer(axum::extract::DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(crate::error::ApiError::internal(
                "handler panicked",
            ))
        }))
}
