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

/// Two `breeze-server` processes (replicas A and B) on one database and the real
/// `breeze-agent` (its terminal shell `/bin/sh`, no user start-up files) enrolled in a fresh
/// organization and connected to replica B. The scratch directory goes with it.
pub struct RealFleet {
    /// The in-process server (its database, fixtures and keys).
    pub harness: super::TestServer,
    /// Fixtures on that database.
    pub fx: super::Fixtures,
    /// The partner.
    pub partner: breeze_core::tenancy::PartnerId,
    /// The organization.
    pub org: breeze_core::tenancy::OrgId,
    /// Replica A and its base URL.
    pub server_a: super::procs::Proc,
    /// `http://127.0.0.1:PORT` of replica A.
    pub base_a: String,
    /// Replica B.
    pub server_b: super::procs::Proc,
    /// `http://127.0.0.1:PORT` of replica B.
    pub base_b: String,
    /// The agent's config directory.
    pub agent_dir: std::path::PathBuf,
    /// The agent process.
    pub agent: super::procs::Proc,
    /// Its device.
    pub device: Uuid,
    /// The scratch directory (logs, agent files).
    pub tmp: std::path::PathBuf,
}

impl Drop for RealFleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Starts a [`RealFleet`]; `extra` settings go to both replicas.
pub async fn real_fleet(extra: &[(&str, &str)]) -> RealFleet {
    use super::procs::{
        agent_binary, agent_enroll, agent_run, poll, server_binary, server_process_with, yaml_value,
    };
    agent_binary();
    server_binary();
    let harness = super::TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = super::agents::enrollment_key(&harness, &fx, org, site, 10, 3600, None).await;
    let tmp = std::env::temp_dir().join(format!("breeze-e2e-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (server_a, base_a) = server_process_with(&harness.db, &tmp, "server-a", extra).await;
    let (server_b, base_b) = server_process_with(&harness.db, &tmp, "server-b", extra).await;
    let agent_dir = tmp.join("agent");
    agent_enroll(&agent_dir, &base_b, &key.raw);
    let config = agent_dir.join("agent.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("terminal_shell: /bin/sh\n");
    std::fs::write(&config, text).unwrap();
    let device: Uuid = yaml_value(&config, "device_id").parse().unwrap();
    let agent = agent_run(&agent_dir, &tmp, "agent");
    poll("the agent's websocket", || async {
        agent.log().contains("websocket session ready")
    })
    .await;
    RealFleet {
        harness,
        fx,
        partner,
        org,
        server_a,
        base_a,
        server_b,
        base_b,
        agent_dir,
        agent,
        device,
        tmp,
    }
}

/// A user of the fleet's organization with `role` and an MFA-passed access token.
pub async fn fleet_user_token(f: &RealFleet, role: breeze_authz::seeded::SeededRole) -> String {
    let user = f.fx.org_user(f.partner, f.org, role, None).await;
    super::agents::mfa_token(&f.harness, &f.fx, &user).await
}
