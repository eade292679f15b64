//! Helpers of the authentication tests: logging in over HTTP, cookies, refresh calls,
//! audit rows, the encrypted outbox.

use breeze_authz::seeded::SeededRole;
use breeze_crypto::envelope::Field;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{FIXTURE_PASSWORD, FixtureUser, Fixtures, TestServer, system_context};

/// Settings edit: trust `X-Forwarded-For` from loopback so tests can act from many IPs.
pub fn trust_loopback(settings: &mut Vec<(String, String)>) {
    settings.push(("BREEZE_TRUSTED_PROXIES".into(), "127.0.0.1/32".into()));
}

/// A server that trusts forwarded headers from loopback.
pub async fn server() -> TestServer {
    TestServer::start_with(trust_loopback).await
}

/// A user whose role does not force MFA (Org Viewer of a fresh partner/org).
pub async fn viewer(fx: &Fixtures) -> FixtureUser {
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    fx.org_user(partner, org, SeededRole::OrgViewer, None).await
}

/// A session as the client sees it after login or refresh.
#[derive(Debug, Clone)]
pub struct Session {
    /// Bearer access token.
    pub access: String,
    /// Refresh token (cookie value).
    pub refresh: String,
    /// CSRF token (cookie value).
    pub csrf: String,
    /// The body.
    pub body: Value,
}

/// The raw `Set-Cookie` header of `name`.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(raw: &str) -> String {
    raw.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// Reads a session out of a 200 login / verify / refresh answer.
pub async fn session_of(res: reqwest::Response) -> Session {
    if res.status() != 200 {
        let status = res.status();
        panic!(
            "expected a session, got {status}: {}",
            res.text().await.unwrap()
        );
    }
    let refresh = cookie_value(&set_cookie(&res, "breeze_refresh").expect("refresh cookie"));
    let csrf = cookie_value(&set_cookie(&res, "breeze_csrf").expect("csrf cookie"));
    let body: Value = res.json().await.unwrap();
    Session {
        access: body["accessToken"].as_str().unwrap().to_owned(),
        refresh,
        csrf,
        body,
    }
}

/// `POST /api/v1/auth/login` from `ip` (forwarded header).
pub async fn login_from(
    server: &TestServer,
    ip: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    server
        .http
        .post(server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// `POST /api/v1/auth/login` from a random IP (no rate limit interference).
pub async fn login(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    login_from(server, &random_ip(), email, password).await
}

/// Logs `user` in with the fixture password and returns the session.
pub async fn login_session(server: &TestServer, user: &FixtureUser) -> Session {
    session_of(login(server, &user.email, FIXTURE_PASSWORD).await).await
}

/// A random 10.x.y.z address.
pub fn random_ip() -> String {
    let b = Uuid::new_v4().into_bytes();
    format!("10.{}.{}.{}", b[0], b[1], b[2].max(1))
}

/// `POST /api/v1/auth/refresh` with the session's cookies and CSRF header.
pub async fn refresh(server: &TestServer, s: &Session) -> reqwest::Response {
    server
        .http
        .post(server.url("/api/v1/auth/refresh"))
        .header(
            "cookie",
            format!("breeze_refresh={}; breeze_csrf={}", s.refresh, s.csrf),
        )
        .header("x-breeze-csrf", &s.csrf)
        .header("x-forwarded-for", random_ip())
        .send()
        .await
        .unwrap()
}

/// An authenticated GET.
pub async fn get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    server
        .http
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// An authenticated POST with a JSON body.
pub async fn post(server: &TestServer, token: &str, path: &str, body: Value) -> reqwest::Response {
    server
        .http
        .post(server.url(path))
        .bearer_auth(token)
        .header("x-forwarded-for", random_ip())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The JSON body of a response with its status.
pub async fn status_body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// One audit row.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// Chain (`system` or an org id).
    pub chain: String,
    /// Result.
    pub result: String,
    /// Actor type.
    pub actor_type: String,
    /// Actor id.
    pub actor_id: Option<String>,
    /// The full entry JSON.
    pub entry: Value,
}

impl AuditRow {
    /// The event's details.
    pub fn details(&self) -> &Value {
        &self.entry["event"]["details"]
    }
}

/// Every audit row with `action`, read as the owner with a system context.
pub async fn audit_rows(fx: &Fixtures, action: &str) -> Vec<AuditRow> {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let rows: Vec<(String, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT chain_key, result, actor_type, actor_id, entry FROM audit_log
          WHERE action = $1 ORDER BY inserted_at, seq",
    )
    .bind(action)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(chain, result, actor_type, actor_id, entry)| AuditRow {
            chain,
            result,
            actor_type,
            actor_id,
            entry: serde_json::from_str(&entry).unwrap(),
        })
        .collect()
}

/// Runs one statement with one uuid bind as the owner with a system context.
pub async fn exec(fx: &Fixtures, sql: &str, id: Uuid) {
    fx.exec(sql, &[id]).await;
}

/// Reads one scalar with one uuid bind as the owner with a system context.
pub async fn scalar<T>(fx: &Fixtures, sql: &str, id: Uuid) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let v: T = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    v
}

/// The decrypted bodies of the outbox messages of `user` (oldest first), decrypted with the
/// server's key ring.
pub async fn outbox_bodies(server: &TestServer, fx: &Fixtures, user: Uuid) -> Vec<Value> {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, body FROM notification_outbox WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let field = Field::new("notification_outbox", "body").unwrap();
    rows.into_iter()
        .map(|(kind, body)| {
            assert_eq!(kind, "password_reset");
            assert!(body.starts_with("enc:v3:"), "outbox bodies are encrypted");
            let plain = server.state.secrets.decrypt(&body, &field).unwrap();
            serde_json::from_str(plain.expose_secret()).unwrap()
        })
        .collect()
}
