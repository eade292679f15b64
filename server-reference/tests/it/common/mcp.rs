//! MCP test helpers: a raw JSON-RPC client over reqwest (to assert every status, header and
//! error code; the independent SDK clients are driven by `tests/mcp_clients/`), AI keys made
//! through the REST route, and users with a real TOTP secret for the approval step-up.
#![allow(dead_code, reason = "shared by several test files")]

use breeze_crypto::totp::{TotpSecret, code_at};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{FixtureUser, Fixtures, TestServer};

/// A raw MCP client of one key (and its session, once initialized).
#[derive(Clone)]
pub struct Raw {
    /// HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The API key.
    pub key: String,
    /// The session id.
    pub session: Option<String>,
}

/// One answer: status, body (null when empty), session header.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
    /// `Mcp-Session-Id`, when answered.
    pub session: Option<String>,
}

impl Answer {
    /// `error.code`, when an error.
    #[must_use]
    pub fn rpc_code(&self) -> Option<i64> {
        self.body.pointer("/error/code").and_then(Value::as_i64)
    }

    /// `error.data.code`, when an error.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.body
            .pointer("/error/data/code")
            .and_then(Value::as_str)
    }

    /// `result.structuredContent`.
    #[must_use]
    pub fn content(&self) -> &Value {
        self.body
            .pointer("/result/structuredContent")
            .unwrap_or(&Value::Null)
    }
}

impl Raw {
    /// A client of `key` on `base`.
    #[must_use]
    pub fn new(http: &reqwest::Client, base: &str, key: &str) -> Self {
        Self {
            http: http.clone(),
            base: base.to_owned(),
            key: key.to_owned(),
            session: None,
        }
    }

    /// POSTs raw bytes.
    pub async fn post_bytes(&self, body: Vec<u8>) -> Answer {
        let mut req = self
            .http
            .post(format!("{}/api/v1/mcp", self.base))
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let session = res
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(ToOwned::to_owned);
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            session,
        }
    }

    /// A request (`id` 1).
    pub async fn rpc(&self, method: &str, params: Value) -> Answer {
        let msg = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        self.post_bytes(serde_json::to_vec(&msg).unwrap()).await
    }

    /// `initialize`; keeps the session id.
    pub async fn initialize(&mut self) -> Answer {
        let a = self
            .rpc(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "breeze-test", "version": "1"}}),
            )
            .await;
        if a.status == 200 {
            self.session.clone_from(&a.session);
        }
        a
    }

    /// `tools/call`.
    pub async fn call(&self, name: &str, arguments: Value) -> Answer {
        self.rpc("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }
}

/// Creates an API key of `org` through the REST route as the holder of `token`; returns the
/// raw key.
pub async fn ai_key(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    org: Uuid,
    scopes: &[&str],
) -> String {
    let res = http
        .post(format!("{base}/api/v1/orgs/{org}/api-keys"))
        .bearer_auth(token)
        .json(&json!({"name": "ai agent", "scopes": scopes}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["key"].as_str().unwrap().to_owned()
}

/// Gives `user` a real TOTP secret (MFA on); returns it.
pub async fn with_totp(server: &TestServer, fx: &Fixtures, user: &FixtureUser) -> TotpSecret {
    let secret = TotpSecret::generate().unwrap();
    let envelope = server
        .state
        .mfa
        .encrypt(secret.to_base32().expose_secret())
        .unwrap();
    let mut tx = fx.pool().begin().await.unwrap();
    super::system_context(&mut tx).await;
    sqlx::query("UPDATE users SET mfa_enabled = true, mfa_secret = $2 WHERE id = $1")
        .bind(user.id.as_uuid())
        .bind(envelope)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    secret
}

/// The current code of `secret`, `offset_steps` 30-second steps from now.
#[must_use]
pub fn code(secret: &TotpSecret, offset_steps: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    code_at(secret, now + offset_steps * 30).unwrap()
}

/// One JSON request with a bearer token; returns status and body (a string when not JSON).
pub async fn json_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `POST /api/v1/approvals/{id}/{verb}` with `body`; returns status and body.
pub async fn decide(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    verb: &str,
    body: Value,
) -> (u16, Value) {
    let url = format!("{base}/api/v1/approvals/{id}/{verb}");
    json_call(http, reqwest::Method::POST, url, token, Some(body)).await
}
