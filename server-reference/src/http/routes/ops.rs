//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::http::route::{Access, Route, route};
use crate::state::AppState;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/health",
            Access::Public,
            "liveness",
            get(health),
        ),
        route(
            Method::GET,
            "/ready",
            Access::Public,
            "readiness (database reachable)",
            get(ready),
        ),
        route(
            Method::GET,
            "/metrics",
            Access::Metrics,
            "Prometheus metrics (metrics bearer token)",
            get(metrics),
        ),
        route(
            Method::GET,
            "/api/v1/openapi.json",
            Access::Public,
            "the OpenAPI 3.1 document of every route",
            get(openapi),
        ),
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

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.store.ping().await {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable"})),
        )
    }
}
