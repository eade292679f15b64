//! `/metrics` behind its own bearer token (constant-time compare in the guard) and the
//! OpenAPI document generated from the route table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common::TestServer;
use breeze_server::http::route::Access;
use serde_json::Value;

const METRICS_TOKEN: &str = "metrics-token-for-tests-7f3a9c1e5b";

#[tokio::test]
async fn metrics_need_the_right_token() {
    let server = TestServer::start().await;
    // some traffic first
    for _ in 0..3 {
        server.http.get(server.url("/health")).send().await.unwrap();
    }
    let none = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let wrong = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth("metrics-token-for-tests-7f3a9c1e5c")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let prefix = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(&METRICS_TOKEN[..10])
        .send()
        .await
        .unwrap();
    assert_eq!(prefix.status(), 401);
    let ok = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = ok.text().await.unwrap();
    assert!(
        body.contains("# TYPE breeze_db_pool_connections gauge"),
        "{body}"
    );
    assert!(body.contains("breeze_db_pool_idle_connections "));
    assert!(
        body.contains(
            "breeze_http_requests_total{method=\"GET\",route=\"/health\",status=\"2xx\"} 3"
        )
    );
    assert!(body.contains(
        "breeze_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"4xx\"} 3"
    ));
    assert!(
        body.contains(
            "breeze_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"} 3"
        )
    );
    assert!(body.contains("breeze_rate_limit_refusals_total 0"));
    assert!(body.contains("process_resident_memory_bytes "));
    assert!(!body.contains(METRICS_TOKEN));
}

#[tokio::test]
async fn metrics_are_not_served_without_a_configured_token() {
    let server = TestServer::start_with(|s| s.retain(|(k, _)| k != "BREEZE_METRICS_TOKEN")).await;
    let res = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn openapi_lists_every_route_with_its_access() {
    let server = TestServer::start().await;
    let res = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = breeze_server::http::routes::all();
    assert!(!routes.is_empty());
    let mut operations = 0;
    for path in doc["paths"].as_object().unwrap().values() {
        operations += path.as_object().unwrap().len();
    }
    assert_eq!(operations, routes.len(), "one operation per route");
    // the suspension review is declared MFA-only
    for (method, path) in [
        ("GET", "/api/v1/devices/suspended"),
        ("POST", "/api/v1/devices/{deviceId}/unsuspend"),
    ] {
        let r = routes
            .iter()
            .find(|r| r.meta.method == method && r.meta.path == path)
            .unwrap_or_else(|| panic!("{method} {path} missing"));
        assert!(r.meta.mfa, "{method} {path}");
        assert_eq!(r.meta.access, Access::Permission("devices:write"));
    }
    for r in &routes {
        let m = r.meta;
        let op = &doc["paths"][m.path][m.method.to_lowercase()];
        assert!(op.is_object(), "{} {} missing", m.method, m.path);
        assert_eq!(op["summary"], m.summary);
        match m.access {
            // an MFA route takes a user session only (issue 15, finding 3)
            Access::Permission(p) if m.mfa => {
                assert_eq!(op["x-breeze-permission"], p, "{}", m.path);
                assert_eq!(op["x-breeze-mfa"], serde_json::json!(true), "{}", m.path);
                assert_eq!(op["security"], serde_json::json!([{"bearer": []}]));
            }
            Access::Permission(p) => {
                assert_eq!(op["x-breeze-permission"], p, "{}", m.path);
                assert_eq!(op["security"][0]["bearer"], serde_json::json!([]));
                assert_eq!(op["security"][1]["apiKey"], serde_json::json!([]));
            }
            Access::Public => {
                assert_eq!(op["security"], serde_json::json!([]));
                assert!(op.get("x-breeze-permission").is_none());
            }
            Access::Metrics => {
                assert_eq!(op["security"][0]["metricsToken"], serde_json::json!([]));
            }
            Access::Agent => {
                assert_eq!(op["security"][0]["agentToken"], serde_json::json!([]));
                assert!(op["security"].as_array().unwrap().len() == 1);
            }
            Access::AiKey => {
                assert_eq!(op["security"], serde_json::json!([{"apiKey": []}]));
                assert_eq!(op["x-breeze-access"], "ai_key");
                assert!(op.get("x-breeze-permission").is_none());
            }
            Access::Ticket(p) => {
                assert_eq!(op["security"], serde_json::json!([{"remoteTicket": []}]));
                assert_eq!(op["x-breeze-permission"], p, "{}", m.path);
                assert_eq!(op["x-breeze-access"], "ticket");
            }
            Access::Authenticated | Access::PlatformAdmin => {
                assert_eq!(op["security"][0]["bearer"], serde_json::json!([]));
                assert!(op["security"].as_array().unwrap().len() == 1);
            }
        }
        let params: Vec<&str> = m
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (i, name) in params.iter().enumerate() {
            assert_eq!(op["parameters"][i]["name"], *name);
            assert_eq!(op["parameters"][i]["in"], "path");
            if *name == "agentId" {
                assert_eq!(op["parameters"][i]["schema"]["pattern"], "^[0-9a-f]{64}$");
            } else if *name == "file" {
                // the console's asset names
                assert_eq!(m.path, "/assets/{file}");
                assert_eq!(op["parameters"][i]["schema"]["type"], "string");
            } else {
                assert_eq!(op["parameters"][i]["schema"]["format"], "uuid");
            }
        }
    }
    assert_eq!(
        doc["paths"]["/metrics"]["get"]["x-breeze-access"],
        "metrics"
    );
    assert_eq!(
        doc["paths"]["/api/v1/openapi.json"]["get"]["x-breeze-access"],
        "public"
    );
}
