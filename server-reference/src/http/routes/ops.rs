//! Operations: liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
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
    ]
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
