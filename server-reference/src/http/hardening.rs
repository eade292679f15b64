//! Global hardening layers (SPEC 9): security headers (HSTS only over TLS), CORS, the per-IP rate limit, the body
//! limit with a JSON 413, CSRF on cookie-authenticated routes, request ids and the access log.
//!
//! Order, outermost first: panic catching -> request id and access log (and metrics) ->
//! security headers -> JSON rendering of a bare 413 -> CORS -> global per-IP rate limit
//! (fail closed) -> body limit -> CSRF -> the route (guard, handler).
//!
//! The layers are applied with [`Router::layer`], so they run after routing and see the
//! matched route pattern ([`MatchedPath`]); unmatched requests (404) run them too through the
//! fallback.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use breeze_core::ratelimit::{Policy, Quota};
use subtle::ConstantTimeEq;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use crate::config::Mode;
use crate::error::ApiError;
use crate::http::authn;
use crate::state::AppState;

/// The hard cap on any request body: the largest route limit (agent command results).
pub const MAX_BODY_LIMIT: usize = breeze_agent_proto::limits::MAX_COMMAND_RESULT_BODY_BYTES;

/// Default request body limit (routes that need more, such as agent heartbeats, raise it).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The Content-Security-Policy of the seed document (`000_bb0006369434a77e.txt`), exactly.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The Content-Security-Policy of the operator console's page and assets (SPEC 15), stricter
/// than the API's: no inline script or style at all, scripts and WASM compiled only from the
/// server's own files, no plugin or frame, connections only back to the server (the terminal's
/// WebSocket included: CSP 3 `'self'` covers `ws:`/`wss:` to the same host). Set by the
/// console's handlers; the layer below keeps a policy a handler set.
pub const CONSOLE_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `Strict-Transport-Security`, sent only on responses that reach the client over TLS
/// ([`hsts`]).
pub const HSTS: (&str, &str) = (
    "strict-transport-security",
    "max-age=31536000; includeSubDomains; preload",
);

/// The security headers set on every response.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
];

/// The request id header (accepted from the client when well formed, generated otherwise).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The CSRF header a cookie-authenticated state-changing request must carry.
pub const CSRF_HEADER: &str = "x-breeze-csrf";
/// The cookie whose value the CSRF header must equal.
pub const CSRF_COOKIE: &str = "breeze_csrf";
/// The refresh-token cookie: its presence makes a request cookie-authenticated.
pub const REFRESH_COOKIE: &str = "breeze_refresh";
/// The path prefix of the cookie-authenticated routes.
pub const COOKIE_AUTH_PREFIX: &str = "/api/v1/auth/";
/// Longest client-supplied request id kept.
pub const MAX_REQUEST_ID: usize = 128;

/// The request id of a request (request extension, also echoed in `x-request-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Applies the global layers.
pub fn apply(app: Router, state: &AppState) -> Router {
    let mut app = app
        .layer(axum::middleware::from_fn(csrf))
        // the extractors' limit; a route raises it with its own `DefaultBodyLimit` layer
        // (agent heartbeats 5 MiB, command results 24 MiB) ...
        .layer(axum::extract::DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        // ... a declared length above the path's limit is refused before routing ...
        .layer(axum::middleware::from_fn(declared_body_limit))
        // ... and no body at all may exceed the largest route limit
        .layer(RequestBodyLimitLayer::new(MAX_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            global_rate_limit,
        ));
    if let Some(cors) = cors_layer(&state.config.cors_origins, state.config.mode) {
        app = app.layer(cors);
    }
    app = app.layer(axum::middleware::map_response(json_payload_too_large));
    for (name, value) in SECURITY_HEADERS {
        let name = HeaderName::from_static(name);
        let value = HeaderValue::from_static(value);
        // A handler may set a stricter Content-Security-Policy (the console's); every other
        // header is forced.
        app = app.layer(if name == header::CONTENT_SECURITY_POLICY {
            SetResponseHeaderLayer::if_not_present(name, value)
        } else {
            SetResponseHeaderLayer::overriding(name, value)
        });
    }
    app = app.layer(axum::middleware::from_fn_with_state(state.clone(), hsts));
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        request_id_and_access_log,
    ))
    .layer(CatchPanicLayer::custom(|_| {
        axum::response::IntoResponse::into_response(crate::error::ApiError::internal(
            "handler panicked",
        ))
    }))
}

/// The CORS layer for `origins`: `None` (no cross-origin access at all) when the list is
/// empty. `*` is never honoured: production validation refuses it, and development warns and
/// drops it. Credentials are allowed only for a listed origin.
#[must_use]
pub fn cors_layer(origins: &[String], mode: Mode) -> Option<CorsLayer> {
    let mut allowed: Vec<HeaderValue> = Vec::new();
    for origin in origins {
        let origin = origin.trim().trim_end_matches('/');
        if origin == "*" {
            tracing::warn!(
                mode = ?mode,
                "BREEZE_CORS_ORIGINS: `*` is not honoured; list the allowed origins explicitly"
            );
            continue;
        }
        let well_formed = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.contains('*');
        match HeaderValue::from_str(origin) {
            Ok(v) if well_formed => allowed.push(v),
            _ => tracing::warn!("BREEZE_CORS_ORIGINS: an entry is not an origin and is ignored"),
        }
    }
    if allowed.is_empty() {
        return None;
    }
    let for_credentials = allowed.clone();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_credentials(AllowCredentials::predicate(move |origin, _| {
                for_credentials.iter().any(|o| o == origin)
            }))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(CSRF_HEADER),
                HeaderName::from_static("x-api-key"),
            ])
            .expose_headers([
                HeaderName::from_static(REQUEST_ID_HEADER),
                header::RETRY_AFTER,
                HeaderName::from_static("x-ratelimit-limit"),
                HeaderName::from_static("x-ratelimit-remaining"),
                HeaderName::from_static("x-ratelimit-reset"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Whether `path` is an agent route (enrollment, the agent's own routes, its WebSocket).
#[must_use]
pub fn is_agent_path(path: &str) -> bool {
    path.starts_with("/api/v1/agents/") || path.starts_with("/api/v1/agent-ws/")
}

/// The global per-IP limit (SPEC 7, 300 / min; the key and name are those of
/// `RateLimiter::global_per_ip`). A limiter that cannot answer refuses (503).
///
/// Agent routes are exempt from it (hundreds of agents may share one NAT address, and each
/// has its own per-agent, per-device+IP and per-org limits, SPEC 8.2); they are held to a
/// much higher per-IP cap of their own (`agent_ip`), which bounds what one address can send
/// before authentication (enrollment keeps its own 10 / min on top).
/// Adds [`HSTS`] when the client reached the server over TLS: the server serves TLS itself
/// (`BREEZE_TLS_CERT_FILE`), or the request came from a trusted proxy that says
/// `X-Forwarded-Proto: https`. Over plain HTTP the header means nothing to a browser
/// (RFC 6797 section 8.1) and on a development `localhost` it would pin every other local
/// service to HTTPS.
async fn hsts(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let over_tls = state.config.tls.is_some() || {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded_https = req
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        forwarded_https && peer.is_some_and(|ip| state.proxies.is_trusted(ip))
    };
    let mut response = next.run(req).await;
    if over_tls {
        response.headers_mut().insert(
            HeaderName::from_static(HSTS.0),
            HeaderValue::from_static(HSTS.1),
        );
    }
    response
}

async fn global_rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
    else {
        // served without client addresses: the limit cannot be applied, so refuse
        return ApiError::Unavailable.into_response();
    };
    let client = authn::client_meta(&state, peer.ip(), req.headers());
    let policy = if is_agent_path(req.uri().path()) {
        Policy::new(
            "agent_ip",
            Quota::per_secs(state.config.agent_ip_rate_limit_per_min, 60),
        )
    } else {
        Policy::new(
            "global_ip",
            Quota::per_secs(state.config.global_rate_limit_per_min, 60),
        )
    };
    let decision = state.limiter.check(policy, &client.key().to_string()).await;
    if decision.is_allowed() {
        return next.run(req).await;
    }
    if decision.verdict == breeze_core::ratelimit::Verdict::Unavailable {
        crate::ops::metrics::global().record_limiter_unavailable();
    }
    authn::rate_limited(&decision).into_response()
}

/// Refuses a declared `Content-Length` above the limit of the path (413): agent routes
/// accept up to [`MAX_BODY_LIMIT`] (each narrows it further), a file upload (`PUT
/// /api/v1/devices/{id}/files/content`) the 4 MiB transfer limit, the MCP endpoint 64 KiB
/// (SPEC 14), every other route
/// [`DEFAULT_BODY_LIMIT`].
async fn declared_body_limit(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let limit = if path.starts_with("/api/v1/agents/") {
        MAX_BODY_LIMIT
    } else if path.starts_with("/api/v1/devices/") && path.ends_with("/files/content") {
        breeze_agent_proto::limits::MAX_FILE_TRANSFER_BYTES
    } else if path == "/api/v1/mcp" {
        crate::mcp::MAX_BODY_BYTES
    } else {
        DEFAULT_BODY_LIMIT
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(req).await
}

/// Re-renders a bare 413 (the body-limit layer's plain text) in the JSON error format.
async fn json_payload_too_large(response: Response) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        response
    } else {
        ApiError::PayloadTooLarge.into_response()
    }
}

/// Every value of cookie `name` in the request's `Cookie` headers.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
}

/// The single value of cookie `name`: `None` when absent or present more than once (a
/// duplicated cookie, for example one tossed in from a sibling subdomain, is ambiguous).
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &'a str) -> Option<&'a str> {
    let mut values = cookie_values(headers, name);
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// Whether a request passes the CSRF check: not state-changing, not under the
/// cookie-authenticated prefix, not carrying the refresh cookie, or carrying a CSRF header
/// equal (constant time) to a non-empty CSRF cookie.
#[must_use]
pub fn csrf_ok(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let state_changing = matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !state_changing
        || !path.starts_with(COOKIE_AUTH_PREFIX)
        || cookie_values(headers, REFRESH_COOKIE).next().is_none()
    {
        return true;
    }
    let Some(expected) = cookie(headers, CSRF_COOKIE).filter(|c| !c.is_empty()) else {
        return false;
    };
    let Some(presented) = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes) else {
        return false;
    };
    presented.ct_eq(expected.as_bytes()).into()
}

/// CSRF (SPEC 9): cookie-authenticated state-changing requests need `x-breeze-csrf` equal
/// to the `breeze_csrf` cookie (403 `csrf_failed`).
async fn csrf(req: Request, next: Next) -> Response {
    if csrf_ok(req.method(), req.uri().path(), req.headers()) {
        next.run(req).await
    } else {
        ApiError::Forbidden("csrf_failed").into_response()
    }
}

fn well_formed_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= MAX_REQUEST_ID
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    .then(|| s.to_owned())
}

/// Request id (kept from the client when well formed, else generated), echoed on the
/// response; one structured access-log line per request; request metrics.
///
/// The log line holds the method, the route pattern (never the concrete path or the query
/// string), the status, the latency, the request id and the client IP: no header, token or
/// body.
async fn request_id_and_access_log(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(well_formed_request_id)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let method = req.method().as_str().to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or_else(
        || crate::ops::metrics::UNMATCHED_ROUTE.to_owned(),
        |m| m.as_str().to_owned(),
    );
    let client_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| authn::client_meta(&state, c.0.ip(), req.headers()).ip);
    req.extensions_mut().insert(RequestId(id.clone()));

    let mut response = next.run(req).await;

    let latency = started.elapsed();
    let status = response.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    crate::ops::metrics::global().record_request(&method, &route, status, latency);
    let client_ip = client_ip.map(|ip| ip.to_string());
    tracing::info!(
        target: "breeze::access",
        method = %method,
        route = %route,
        status,
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        request_id = %id,
        client_ip = client_ip.as_deref().unwrap_or("-"),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn csp_is_the_seed_policy() {
        assert_eq!(
            CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        );
    }

    #[test]
    fn csrf_rules() {
        let p = "/api/v1/auth/refresh";
        let post = Method::POST;
        // no cookie: not cookie-authenticated
        assert!(csrf_ok(&post, p, &headers(&[])));
        // GET is not state-changing
        assert!(csrf_ok(
            &Method::GET,
            p,
            &headers(&[("cookie", "breeze_refresh=r")])
        ));
        // outside the prefix
        assert!(csrf_ok(
            &post,
            "/api/v1/devices",
            &headers(&[("cookie", "breeze_refresh=r")])
        ));
        // refresh cookie without header
        assert!(!csrf_ok(
            &post,
            p,
            &headers(&[("cookie", "breeze_refresh=r; breeze_csrf=abc")])
        ));
        // wrong header
        assert!(!csrf_ok(
            &post,
            p,
            &headers(&[
                ("cookie", "breeze_refresh=r; breeze_csrf=abc"),
                ("x-breeze-csrf", "abd")
            ])
        ));
        // header without cookie value
        assert!(!csrf_ok(
            &post,
            p,
            &headers(&[("cookie", "breeze_refresh=r"), ("x-breeze-csrf", "")])
        ));
        // a duplicated CSRF cookie is ambiguous
        assert!(!csrf_ok(
            &post,
            p,
            &headers(&[
                (
                    "cookie",
                    "breeze_refresh=r; breeze_csrf=abc; breeze_csrf=evil"
                ),
                ("x-breeze-csrf", "abc")
            ])
        ));
        // matching, cookies split over two headers
        assert!(csrf_ok(
            &post,
            p,
            &headers(&[
                ("cookie", "breeze_refresh=r"),
                ("cookie", "breeze_csrf=abc"),
                ("x-breeze-csrf", "abc")
            ])
        ));
    }

    #[test]
    fn cors_refuses_wildcards_and_junk() {
        assert!(cors_layer(&["*".into()], Mode::Development).is_none());
        assert!(cors_layer(&[], Mode::Production).is_none());
        assert!(cors_layer(&["https://*.example.com".into()], Mode::Development).is_none());
        assert!(cors_layer(&["https://app.example.com".into()], Mode::Production).is_some());
    }

    #[test]
    fn request_ids_are_sanitized() {
        assert_eq!(
            well_formed_request_id(&HeaderValue::from_static("abc-123_x.y")),
            Some("abc-123_x.y".into())
        );
        assert_eq!(
            well_formed_request_id(&HeaderValue::from_static("a b")),
            None
        );
        assert_eq!(
            well_formed_request_id(&HeaderValue::from_str(&"a".repeat(129)).unwrap()),
            None
        );
    }
}
