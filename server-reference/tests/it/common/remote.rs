//! Remote session helpers (SPEC 12): create, ticket, and a browser socket that sends exactly
//! what a browser sends (the terminal subprotocol and the ticket subprotocol, a
//! `User-Agent` when the browser has one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use serde_json::{Value, json};
use uuid::Uuid;

use super::agents::Ws;

/// `POST /api/v1/devices/{device}/remote-sessions` with `token`: (status, body).
pub async fn create_session(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    device: Uuid,
) -> (u16, Value) {
    let res = http
        .post(format!("{base}/api/v1/devices/{device}/remote-sessions"))
        .bearer_auth(token)
        .json(&json!({"type": "terminal", "cols": 100, "rows": 30}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A created session's id (asserts 201).
pub async fn new_session(http: &reqwest::Client, base: &str, token: &str, device: Uuid) -> String {
    let (status, body) = create_session(http, base, token, device).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// `POST /api/v1/remote-sessions/{session}/ticket`: (status, body).
pub async fn ticket(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    session: &str,
) -> (u16, Value) {
    let res = http
        .post(format!("{base}/api/v1/remote-sessions/{session}/ticket"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A ticket's text (asserts 201).
pub async fn new_ticket(http: &reqwest::Client, base: &str, token: &str, session: &str) -> String {
    let (status, body) = ticket(http, base, token, session).await;
    assert_eq!(status, 201, "{body}");
    body["ticket"].as_str().unwrap().to_owned()
}

/// Opens the browser socket of `session` at `addr` (`host:port`) with `ticket`;
/// `Err(status)` when the upgrade is refused.
pub async fn viewer_connect(
    addr: &str,
    session: &str,
    ticket: &str,
    user_agent: Option<&str>,
) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("ws://{addr}/api/v1/remote-sessions/{session}/ws");
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("breeze.terminal.v1, breeze.ticket.{ticket}")
            .parse()
            .unwrap(),
    );
    if let Some(ua) = user_agent {
        req.headers_mut().insert("user-agent", ua.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, res)) => {
            assert_eq!(
                res.headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok()),
                Some("breeze.terminal.v1"),
                "the server selects the terminal protocol, never echoes the ticket"
            );
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("viewer connect failed: {e}"),
    }
}

/// The host:port of a base URL.
#[must_use]
pub fn host_of(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}
