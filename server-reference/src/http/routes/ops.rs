//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::route::{Access, Route, route};
use crate::state::AppState;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/health", Access::Public, "liveness", health).ok::<StatusOut>(),
        route(
            Method::GET,
            "/ready",
            Access::Public,
            "readiness (database reachable)",
            ready,
        )
        .ok::<StatusOut>()
        .describe("200 when PostgreSQL answers, 503 `unavailable` otherwise"),
        route(
            Method::GET,
            "/metrics",
            Access::Metrics,
            "Prometheus metrics (metrics bearer token)",
            metrics,
        )
        .errors(&[404])
        .answers(
            200,
            Some("text/plain; version=0.0.4; charset=utf-8"),
            "Prometheus text exposition",
        ),
        route(
            Method::GET,
            "/api/v1/openapi.json",
            Access::Public,
            "the OpenAPI 3.1 document of every route",
            openapi,
        )
        .answers(200, Some("application/json"), "this document"),
    ]
}

async fn metrics(State(state): State<AppState>) -> Response {
    let (pool_size, pool_idle) = state.store.pool_stats();
    let body = crate::ops::metrics::global().render(&crate::ops::metrics::Gauges {
        pool_size,
        pool_idle,
        rss_bytes: crate::ops::metrics::process_rss_bytes(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

static OPENAPI: OnceLock<String> = OnceLock::new();

async fn openapi() -> Response {
    let body = OPENAPI.get_or_init(|| crate::http::openapi::server_document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// The body of `/health` and `/ready`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusOut {
    /// `ok` (health), `ready` or `unavailable` (readiness).
    pub status: &'static str,
}

async fn health() -> Json<StatusOut> {
    Json(StatusOut { status: "ok" })
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<StatusOut>) {
    if state.store.ping().await {
        (StatusCode::OK, Json(StatusOut { status: "ready" }))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(StatusOut {
                status: "unavailable",
            }),
        )
    }
}
