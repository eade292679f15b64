//! Agent fixtures: enrollment keys (peppered hashes as the server stores them), enrollment
//! over real HTTP, and small readers of agent tables and the audit log.

use breeze_core::tenancy::{OrgId, SiteId};
use breeze_crypto::credentials::EnrollmentKey;
use breeze_crypto::httpsig::DeviceSigningKey;
use breeze_crypto::httpsig::profile::{self, RequestParts, SignOptions};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Fixtures, TestServer, system_context};

/// An enrollment key made by [`enrollment_key`].
#[derive(Debug, Clone)]
pub struct KeyFixture {
    /// Row id.
    pub id: Uuid,
    /// The raw key (64 hex).
    pub raw: String,
}

/// Inserts an enrollment key of `site` with `max_usage`, expiring in `expires_in_secs`
/// (negative: already expired), with an optional per-key secret.
pub async fn enrollment_key(
    server: &TestServer,
    fx: &Fixtures,
    org: OrgId,
    site: SiteId,
    max_usage: i32,
    expires_in_secs: i64,
    secret: Option<&str>,
) -> KeyFixture {
    let key = EnrollmentKey::generate().unwrap();
    let hash = key.peppered_hash(server.state.pepper.current()).to_hex();
    let secret_hash = secret.map(|s| server.state.pepper.current().hash(s).to_hex());
    let id = Uuid::new_v4();
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO enrollment_keys (id, org_id, site_id, name, key_hash, secret_hash, max_usage, expires_at)
         VALUES ($1, $2, $3, 'test key', $4, $5, $6, now() + make_interval(secs => $7))",
    )
    .bind(id)
    .bind(org.as_uuid())
    .bind(site.as_uuid())
    .bind(hash)
    .bind(secret_hash)
    .bind(max_usage)
    .bind(expires_in_secs as f64)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    KeyFixture {
        id,
        raw: key.expose_secret().to_owned(),
    }
}

/// An enrollment body for `key` and `hostname`.
pub fn enroll_body(key: &KeyFixture, hostname: &str) -> Value {
    json!({
        "enrollmentKey": key.raw,
        "hostname": hostname,
        "osType": "linux",
        "osVersion": "6.1",
        "architecture": "x86_64",
        "agentVersion": "1.0.0",
    })
}

/// A client bound to a random loopback address (127.x.y.z), so tests that enroll many
/// agents do not share the per-IP enrollment limit.
pub fn client_from_random_loopback() -> reqwest::Client {
    let b = Uuid::new_v4().into_bytes();
    let ip = std::net::IpAddr::from([127, b[0], b[1], b[2].max(2)]);
    reqwest::Client::builder()
        .local_address(ip)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POSTs an enrollment (from a random loopback address); returns status and JSON body.
pub async fn enroll(server: &TestServer, body: &Value, bearer: Option<&str>) -> (u16, Value) {
    let mut req = client_from_random_loopback()
        .post(server.url("/api/v1/agents/enroll"))
        .json(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// An enrolled agent.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// Agent id.
    pub agent_id: String,
    /// Device id.
    pub device_id: Uuid,
    /// Agent token.
    pub token: String,
    /// Watchdog token.
    pub watchdog: String,
}

/// Enrolls and expects 201.
pub async fn enroll_ok(server: &TestServer, key: &KeyFixture, hostname: &str) -> Enrolled {
    let (status, body) = enroll(server, &enroll_body(key, hostname), None).await;
    assert_eq!(status, 201, "{body}");
    Enrolled {
        agent_id: body["agentId"].as_str().unwrap().to_owned(),
        device_id: body["deviceId"].as_str().unwrap().parse().unwrap(),
        token: body["authToken"].as_str().unwrap().to_owned(),
        watchdog: body["watchdogAuthToken"].as_str().unwrap().to_owned(),
    }
}

/// POSTs `body` to an agent path with `token`.
pub async fn agent_post(
    server: &TestServer,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let res = server
        .http
        .post(server.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

/// A minimal heartbeat body.
pub fn beat() -> Value {
    json!({"status": "ok", "agentVersion": "1.0.0"})
}

/// Audit rows `(action, result, details)` of `action` (any chain), oldest first.
pub async fn audit_rows(fx: &Fixtures, action: &str) -> Vec<(String, Option<String>, Value)> {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT chain_key, result, entry FROM audit_log WHERE action = $1 ORDER BY inserted_at, seq",
    )
    .bind(action)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(chain, result, entry)| {
            let entry: Value = serde_json::from_str(&entry).unwrap();
            (chain, result, entry["event"]["details"].clone())
        })
        .collect()
}

/// Runs one statement as the owner with a system context.
pub async fn owner_exec(fx: &Fixtures, sql: &str, id: Uuid) {
    fx.exec(sql, &[id]).await;
}

/// Switches MFA on for `user` and mints an access token that carries `mfa: true` (roles
/// with forced MFA, such as the technicians, need it).
pub async fn mfa_token(server: &TestServer, fx: &Fixtures, user: &super::FixtureUser) -> String {
    fx.exec(
        "UPDATE users SET mfa_enabled = true WHERE id = $1",
        &[*user.id.as_uuid()],
    )
    .await;
    let family = fx.open_family(user.id).await;
    let subject = breeze_crypto::jwt::TokenSubject {
        user_id: *user.id.as_uuid(),
        email: user.email.clone(),
        role_id: Some(*user.role.as_uuid()),
        org_id: user.org.map(|o| *o.as_uuid()),
        partner_id: user.partner.map(|p| *p.as_uuid()),
        scope: user.scope,
        mfa: true,
        auth_epoch: 0,
        mfa_epoch: 0,
    };
    server
        .state
        .jwt
        .issue_access(&subject, family, server.state.clock.unix())
        .unwrap()
        .token
}

/// Verifies every audit chain of the database with the server's keys.
pub async fn verify_all_chains(server: &TestServer, fx: &Fixtures) {
    use breeze_core::audit::{ChainId, ChainVerifier, Entry};
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT chain_key, entry FROM audit_log ORDER BY chain_key, seq")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let mut chains: std::collections::BTreeMap<String, Vec<Entry>> = Default::default();
    for (chain, entry) in rows {
        chains
            .entry(chain)
            .or_default()
            .push(serde_json::from_str(&entry).unwrap());
    }
    assert!(!chains.is_empty());
    for (key, entries) in chains {
        let id = if key == "system" {
            ChainId::System
        } else {
            ChainId::Org(key.parse().unwrap())
        };
        let mut v = ChainVerifier::new(id, server.state.audit_keys.clone());
        for e in &entries {
            v.push_entry(e)
                .unwrap_or_else(|b| panic!("chain {key} broken: {b:?}"));
        }
        v.finish()
            .unwrap_or_else(|b| panic!("chain {key} broken: {b:?}"));
    }
}

/// A second handle on the same database (a second replica's server).
pub fn same_db(db: &super::TestDb) -> super::TestDb {
    super::TestDb {
        name: db.name.clone(),
        host: db.host.clone(),
        port: db.port,
        admin: db.admin.clone(),
    }
}

/// A WebSocket to the agent endpoint.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the agent WebSocket with `token`; `Err(status)` when the upgrade is refused.
pub async fn ws_connect(server: &TestServer, agent_id: &str, token: &str) -> Result<Ws, u16> {
    ws_connect_addr(server.addr, agent_id, token).await
}

/// Opens the agent WebSocket of the server at `addr` with `token`.
pub async fn ws_connect_addr(
    addr: std::net::SocketAddr,
    agent_id: &str,
    token: &str,
) -> Result<Ws, u16> {
    ws_connect_signed(addr, agent_id, token, None).await
}

/// [`ws_connect_addr`], the upgrade signed with `key` when given (SPEC 17).
pub async fn ws_connect_signed(
    addr: std::net::SocketAddr,
    agent_id: &str,
    token: &str,
    key: Option<&DeviceSigningKey>,
) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("ws://{addr}/api/v1/agent-ws/{agent_id}/ws");
    let mut req = url.clone().into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    if let Some(key) = key {
        let http_url = url.replacen("ws", "http", 1);
        for (name, value) in signature_fields(key, agent_id, "GET", &http_url, b"") {
            req.headers_mut().insert(name, value.parse().unwrap());
        }
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("websocket connect failed: {e}"),
    }
}

/// What the server sent next.
#[derive(Debug)]
pub enum WsIn {
    /// A JSON text frame (server pings included).
    Json(Value),
    /// A close frame with its code.
    Close(u16),
    /// The stream ended without a close frame.
    Ended,
}

/// The next frame (60 s cap so a broken test fails instead of hanging).
pub async fn ws_next(ws: &mut Ws) -> WsIn {
    use futures::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), ws.next())
            .await
            .expect("no frame within 60 s");
        match next {
            Some(Ok(Message::Text(t))) => return WsIn::Json(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                return WsIn::Close(frame.map_or(1005, |f| u16::from(f.code)));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return WsIn::Ended,
        }
    }
}

/// The next JSON frame; panics on anything else.
pub async fn ws_json(ws: &mut Ws) -> Value {
    match ws_next(ws).await {
        WsIn::Json(v) => v,
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// Sends a JSON text frame.
pub async fn ws_send(ws: &mut Ws, v: &Value) {
    use futures::SinkExt as _;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        v.to_string().into(),
    ))
    .await
    .unwrap();
}

/// The signature fields (name, value) of a request by `agent_id` signed with `key` now.
pub fn signature_fields(
    key: &DeviceSigningKey,
    agent_id: &str,
    method: &str,
    url: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    signature_fields_at(key, agent_id, method, url, body, now)
}

/// [`signature_fields`] with `created` = `at`.
pub fn signature_fields_at(
    key: &DeviceSigningKey,
    agent_id: &str,
    method: &str,
    url: &str,
    body: &[u8],
    at: i64,
) -> Vec<(&'static str, String)> {
    profile::sign_request(
        key,
        &RequestParts {
            method,
            target_uri: url,
            body,
        },
        &SignOptions::new(agent_id, at).unwrap(),
    )
    .unwrap()
    .into_fields()
}

/// The signing key an agent keeps in `dir/secrets.yaml`.
pub fn agent_key(dir: &std::path::Path) -> DeviceSigningKey {
    DeviceSigningKey::from_base64url(&super::procs::yaml_value(
        &dir.join("secrets.yaml"),
        "signing_key",
    ))
    .unwrap()
}

/// A POST of `body` (JSON) to `url` with bearer `token`, signed with `key` when given.
pub async fn signed_post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: Option<(&DeviceSigningKey, &str)>,
    body: &Value,
) -> reqwest::Response {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut req = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json");
    if let Some((key, agent_id)) = key {
        for (name, value) in signature_fields(key, agent_id, "POST", url, &bytes) {
            req = req.header(name, value);
        }
    }
    req.body(bytes).send().await.unwrap()
}
