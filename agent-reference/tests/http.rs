#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]
//! The HTTP client against real loopback servers: redirects are refused (the bearer token
//! never reaches another host), `Retry-After` is parsed and honoured, error reasons are
//! decoded, URLs are checked; plus backoff and `Retry-After` parsing.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use breeze_agent::backoff::{Backoff, MAX_RETRY_AFTER, parse_retry_after};
use breeze_agent::client::{ApiClient, ClientError, validate_server_url};
use breeze_agent_proto::{ErrorReason, HeartbeatRequest, HeartbeatResponse, HeartbeatStatus};
use breeze_crypto::credentials::AgentToken;

fn beat() -> HeartbeatRequest {
    HeartbeatRequest::new(HeartbeatStatus::Ok, "1.0.0")
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_the_token_never_reaches_it() {
    let other_hits = Arc::new(AtomicUsize::new(0));
    let seen_auth = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let other = {
        let hits = Arc::clone(&other_hits);
        let seen = Arc::clone(&seen_auth);
        Router::new().fallback(move |headers: HeaderMap| {
            let hits = Arc::clone(&hits);
            let seen = Arc::clone(&seen);
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                if let Some(v) = headers.get("authorization") {
                    seen.lock().unwrap().push(v.to_str().unwrap().to_owned());
                }
                "{}"
            }
        })
    };
    let other_addr = common::serve(other).await;
    for status in [301u16, 302, 303, 307, 308] {
        let location = format!("http://localhost:{}/steal", other_addr.port());
        let redirecting = Router::new().fallback(move || {
            let location = location.clone();
            async move {
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("location", location)],
                    "",
                )
                    .into_response()
            }
        });
        let addr = common::serve(redirecting).await;
        let client =
            ApiClient::new(&format!("http://127.0.0.1:{}", addr.port()), false, None).unwrap();
        let token = AgentToken::generate().unwrap();
        let err = client
            .post::<HeartbeatRequest, HeartbeatResponse>("/api/v1/x", Some(&token), &beat(), &[])
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::Redirect { status: s } if s == status),
            "{err}"
        );
        assert!(!err.is_retryable());
        assert!(!err.to_string().contains(token.expose_secret()));
    }
    assert_eq!(other_hits.load(Ordering::SeqCst), 0);
    assert!(seen_auth.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_bearer_token_goes_in_the_header_never_the_url() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let router = {
        let seen = Arc::clone(&seen);
        Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
            let seen = Arc::clone(&seen);
            async move {
                let auth = headers
                    .get("authorization")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                seen.lock().unwrap().push((uri.to_string(), auth));
                "{}"
            }
        })
    };
    let addr = common::serve(router).await;
    let client = ApiClient::new(&format!("http://127.0.0.1:{}", addr.port()), false, None).unwrap();
    let token = AgentToken::generate().unwrap();
    client
        .post::<HeartbeatRequest, HeartbeatResponse>(
            "/api/v1/agents/x/heartbeat",
            Some(&token),
            &beat(),
            &[],
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, "/api/v1/agents/x/heartbeat");
    assert_eq!(seen[0].1, format!("Bearer {}", token.expose_secret()));
}

#[tokio::test]
async fn retry_after_and_the_error_reason_are_read_and_honoured() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = {
        let calls = Arc::clone(&calls);
        Router::new().fallback(move || {
            let calls = Arc::clone(&calls);
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "1")],
                        r#"{"error":"rate limited","code":"rate_limited"}"#,
                    )
                        .into_response()
                } else {
                    "{}".into_response()
                }
            }
        })
    };
    let addr = common::serve(router).await;
    let client = ApiClient::new(&format!("http://127.0.0.1:{}", addr.port()), false, None).unwrap();
    let err = client
        .post::<HeartbeatRequest, HeartbeatResponse>("/x", None, &beat(), &[])
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(err.reason(), Some(ErrorReason::RateLimited));

    // With retries: the second call succeeds; the wait honoured the server's Retry-After.
    let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(2));
    calls.store(0, Ordering::SeqCst);
    let started = std::time::Instant::now();
    client
        .post_with_retry::<HeartbeatRequest, HeartbeatResponse>(
            "/x",
            None,
            &beat(),
            &[],
            &mut backoff,
            3,
        )
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Not a timing assertion on speed: a lower bound proving the 1 s Retry-After was obeyed
    // even though the backoff alone would have waited at most 2 ms.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = {
        let calls = Arc::clone(&calls);
        Router::new().route(
            "/x",
            post(move || {
                let calls = Arc::clone(&calls);
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::UNAUTHORIZED,
                        r#"{"error":"invalid token","code":"invalid_token"}"#,
                    )
                }
            }),
        )
    };
    let addr = common::serve(router).await;
    let client = ApiClient::new(&format!("http://127.0.0.1:{}", addr.port()), false, None).unwrap();
    let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(2));
    let err = client
        .post_with_retry::<HeartbeatRequest, HeartbeatResponse>(
            "/x",
            None,
            &beat(),
            &[],
            &mut backoff,
            5,
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some(ErrorReason::InvalidToken));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_invalid_reply_is_refused() {
    let router = Router::new().fallback(|| async { r#"{"commands":[],"surprise":1}"# });
    let addr = common::serve(router).await;
    let client = ApiClient::new(&format!("http://127.0.0.1:{}", addr.port()), false, None).unwrap();
    let err = client
        .post::<HeartbeatRequest, HeartbeatResponse>("/x", None, &beat(), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Decode(_)), "{err}");
}

#[test]
fn server_urls_are_checked() {
    for ok in [
        "https://breeze.example",
        "https://breeze.example:8443/prefix",
        "http://127.0.0.1:3000",
        "http://127.8.9.1",
        "http://[::1]:3000",
        "http://localhost:3000",
    ] {
        validate_server_url(ok, false).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "http://breeze.example",
        "http://10.0.0.1",
        "ftp://breeze.example",
        "https://user:pass@breeze.example",
        "https://breeze.example/?token=x",
        "https://breeze.example/#x",
        "breeze.example",
        "",
    ] {
        assert!(validate_server_url(bad, false).is_err(), "{bad}");
    }
    validate_server_url("http://breeze.example", true).unwrap();
    assert!(validate_server_url("ftp://breeze.example", true).is_err());
}

#[test]
fn retry_after_parses_seconds_and_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("99999999999999999999999", now),
        Some(MAX_RETRY_AFTER)
    );
    assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
    let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
    assert_eq!(
        parse_retry_after(&later, now),
        Some(Duration::from_secs(30))
    );
    let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
    assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
    for bad in ["", "-5", "1.5", "soon", "Tue, 99 Nov 2023 00:00:00 GMT"] {
        assert_eq!(parse_retry_after(bad, now), None, "{bad}");
    }
}

#[test]
fn backoff_grows_exponentially_to_its_cap_with_full_jitter() {
    let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    let mut ceilings = Vec::new();
    for _ in 0..8 {
        let ceiling = b.ceiling();
        let delay = b.next_delay();
        assert!(delay <= ceiling);
        ceilings.push(ceiling.as_millis());
    }
    assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    // Full jitter: delays spread over [0, ceiling], not clustered at the top.
    let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
    let delays: Vec<Duration> = (0..200).map(|_| b.next_delay()).collect();
    assert!(delays.iter().any(|d| *d < Duration::from_secs(5)));
    assert!(delays.iter().any(|d| *d > Duration::from_secs(5)));
    // Retry-After wins over a shorter backoff, and is capped.
    let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(1));
    assert_eq!(
        b.next_delay_honouring(Some(Duration::from_secs(7))),
        Duration::from_secs(7)
    );
    assert_eq!(
        b.next_delay_honouring(Some(Duration::from_secs(1 << 40))),
        MAX_RETRY_AFTER
    );
    b.reset();
    assert_eq!(b.attempts(), 0);
    // Very many attempts never overflow.
    let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    for _ in 0..100 {
        assert!(b.next_delay() <= Duration::from_secs(60));
    }
}
