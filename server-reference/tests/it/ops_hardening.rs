//! Hardening over real HTTP: security headers on every kind of response, CORS allow-list,
//! JSON 413, the global per-IP limit (429 with Retry-After and X-RateLimit-*), CSRF on
//! cookie-authenticated routes, request ids.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::TestServer;
use breeze_server::http::hardening::{CONTENT_SECURITY_POLICY, SECURITY_HEADERS};
use serde_json::Value;

/// The SPEC 7 per-IP limit (the harness raises it for everyone else).
fn spec_limit(s: &mut Vec<(String, String)>) {
    s.retain(|(k, _)| k != "BREEZE_GLOBAL_RATE_LIMIT_PER_MIN");
    s.push(("BREEZE_GLOBAL_RATE_LIMIT_PER_MIN".into(), "300".into()));
}

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            res.headers()
                .get(name)
                .unwrap_or_else(|| panic!("{what}: missing {name}")),
            value,
            "{what}: {name}"
        );
    }
    assert_eq!(
        res.headers()["content-security-policy"],
        CONTENT_SECURITY_POLICY
    );
}

#[tokio::test]
async fn security_headers_on_200_404_401_413_and_429() {
    let server = TestServer::start_with(spec_limit).await;
    let ok = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_security_headers(&ok, "200");

    let missing = server
        .http
        .get(server.url("/api/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_security_headers(&missing, "404");
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");

    let unauth = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    assert_security_headers(&unauth, "401");

    let big = vec![b'a'; 2 * 1024 * 1024];
    let too_large = server
        .http
        .post(server.url("/api/v1/openapi.json"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    assert_security_headers(&too_large, "413");
    assert!(
        too_large.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = too_large.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");

    // exhaust the per-IP budget (300 / min; the requests above count too)
    let mut limited = None;
    for _ in 0..400 {
        let res = server.http.get(server.url("/health")).send().await.unwrap();
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), 200);
    }
    let limited = limited.expect("the per-IP limit never answered 429");
    assert_security_headers(&limited, "429");
    let h = limited.headers();
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(h["x-ratelimit-limit"], "300");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert!(h.contains_key("x-ratelimit-reset"));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");

    // every route is behind it, not only /health
    let other = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 429);
}

#[tokio::test]
async fn per_ip_limit_counts_forwarded_clients_separately_only_from_trusted_proxies() {
    // loopback is a trusted proxy here: X-Forwarded-For names the client
    let server = TestServer::start_with(|s| {
        spec_limit(s);
        s.push(("BREEZE_TRUSTED_PROXIES".into(), "127.0.0.1/32".into()));
    })
    .await;
    for _ in 0..300 {
        let res = server
            .http
            .get(server.url("/health"))
            .header("x-forwarded-for", "203.0.113.7")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = server
        .http
        .get(server.url("/health"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // another client behind the same proxy is not affected
    let res = server
        .http
        .get(server.url("/health"))
        .header("x-forwarded-for", "203.0.113.8")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn hsts_only_when_a_trusted_proxy_says_https() {
    use breeze_server::http::hardening::HSTS;
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_TRUSTED_PROXIES".into(), "127.0.0.1/32".into()));
    })
    .await;
    let hsts = |res: &reqwest::Response| res.headers().get(HSTS.0).cloned();
    let direct = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(hsts(&direct), None, "plain http: no HSTS");
    let proxied_http = server
        .http
        .get(server.url("/health"))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(hsts(&proxied_http), None, "proxy says http: no HSTS");
    let proxied_https = server
        .http
        .get(server.url("/api/v1/nope"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied_https.status(), 404);
    assert_eq!(hsts(&proxied_https).unwrap(), HSTS.1, "proxy says https");

    // the same header from a client that is not a trusted proxy changes nothing
    let untrusted = TestServer::start().await;
    let spoofed = untrusted
        .http
        .get(untrusted.url("/health"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(hsts(&spoofed), None, "untrusted peer: no HSTS");
}

#[tokio::test]
async fn cors_allows_listed_origins_only() {
    let server = TestServer::start_with(|s| {
        s.push((
            "BREEZE_CORS_ORIGINS".into(),
            "https://app.example.com".into(),
        ));
    })
    .await;
    // preflight from the listed origin
    let res = server
        .http
        .request(reqwest::Method::OPTIONS, server.url("/api/v1/openapi.json"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-breeze-csrf, x-api-key",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(
        h["access-control-allow-origin"], "https://app.example.com",
        "listed origin echoed"
    );
    assert_eq!(h["access-control-allow-credentials"], "true");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in [
        "authorization",
        "content-type",
        "x-breeze-csrf",
        "x-api-key",
    ] {
        assert!(allowed.contains(name), "{name} not allowed: {allowed}");
    }
    assert_security_headers(&res, "preflight");

    // simple request from the listed origin
    let res = server
        .http
        .get(server.url("/health"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    // another origin: no allow-origin, no credentials
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.test",
        "null",
    ] {
        let res = server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/api/v1/openapi.json"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(
            !res.headers().contains_key("access-control-allow-origin"),
            "{origin} was allowed"
        );
        assert!(
            !res.headers()
                .contains_key("access-control-allow-credentials"),
            "{origin} got credentials"
        );
        let res = server
            .http
            .get(server.url("/health"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert!(!res.headers().contains_key("access-control-allow-origin"));
    }
}

#[tokio::test]
async fn wildcard_cors_is_not_honoured_outside_production() {
    let server = TestServer::start_with(|s| {
        s.push(("BREEZE_CORS_ORIGINS".into(), "*".into()));
    })
    .await;
    let res = server
        .http
        .get(server.url("/health"))
        .header("origin", "https://anyone.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn csrf_is_required_on_cookie_authenticated_state_changes() {
    let server = TestServer::start().await;
    let url = server.url("/api/v1/auth/refresh");
    // refresh cookie, no header
    let res = server
        .http
        .post(&url)
        .header("cookie", "breeze_refresh=abc; breeze_csrf=tok123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_security_headers(&res, "403");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "csrf_failed");
    // wrong header
    let res = server
        .http
        .post(&url)
        .header("cookie", "breeze_refresh=abc; breeze_csrf=tok123")
        .header("x-breeze-csrf", "tok124")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // header but no csrf cookie
    let res = server
        .http
        .post(&url)
        .header("cookie", "breeze_refresh=abc")
        .header("x-breeze-csrf", "tok123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // matching: passes the CSRF layer (what answers next is the route, not csrf_failed)
    let res = server
        .http
        .post(&url)
        .header("cookie", "breeze_refresh=abc; breeze_csrf=tok123")
        .header("x-breeze-csrf", "tok123")
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_ne!(body["error"], "csrf_failed", "{status}");
    // no cookie at all: refresh is cookie-authenticated, so it is refused, never served
    let res = server.http.post(&url).send().await.unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test]
async fn request_ids_are_generated_or_kept() {
    let server = TestServer::start().await;
    let res = server.http.get(server.url("/health")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let res = server
        .http
        .get(server.url("/health"))
        .header("x-request-id", "client-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-req-42");
    // a malformed one is replaced, not echoed
    let res = server
        .http
        .get(server.url("/health"))
        .header("x-request-id", "bad id\twith tab")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

/// A TCP proxy to the test Redis that can be cut, to make the shared limiter unreachable.
struct CuttableProxy {
    url: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl CuttableProxy {
    async fn start() -> Self {
        let redis = common::redis_url();
        let target = redis
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}/", listener.local_addr().unwrap());
        let tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            std::sync::Arc::default();
        let inner = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { url, tasks }
    }

    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test]
async fn the_global_limit_fails_closed_when_redis_is_unreachable() {
    let proxy = CuttableProxy::start().await;
    let url = proxy.url.clone();
    let server = TestServer::start_with(move |s| s.push(("REDIS_URL".into(), url))).await;
    let res = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200, "works through Redis");
    proxy.cut();
    for path in ["/health", "/api/v1/openapi.json"] {
        let res = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(
            res.status(),
            503,
            "{path} must be refused without the limiter"
        );
        assert_security_headers(&res, "503");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "service_unavailable");
    }
}

#[tokio::test]
async fn the_global_limit_is_shared_through_redis() {
    let redis = common::redis_url();
    let server = TestServer::start_with(move |s| {
        spec_limit(s);
        s.push(("REDIS_URL".into(), redis));
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..301 {
        statuses.push(
            server
                .http
                .get(server.url("/health"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(statuses[..300].iter().all(|s| *s == 200));
    assert_eq!(statuses[300], 429);
}
