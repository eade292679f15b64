//! A stand-in Breeze server on loopback for the agent's tests: real HTTP and WebSocket
//! (axum), speaking the protocol crate's messages on the paths in `breeze_agent::paths`.
//! The real server replaces it in the lead's end-to-end test.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use breeze_agent_proto::frame::{AgentFrame, Ping, ServerFrame};
use breeze_agent_proto::ids::{Timestamp, UnixMillis};
use breeze_agent_proto::{
    AgentConfig, AgentId, Command, CommandResult, ConfirmRotationResponse, EnrollRequest,
    EnrollResponse, ErrorReason, HeartbeatRequest, HeartbeatResponse, HttpErrorBody, Message,
    RotateTokenResponse, WireToken,
};
use breeze_core::tenancy::{DeviceId, OrgId, SiteId};
use breeze_crypto::credentials::AgentToken;

/// How the fake confirms a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmMode {
    /// Promote the pending tokens.
    Normal,
    /// Answer 409 `rotation_expired`.
    Expired,
    /// Answer 500.
    Fail,
}

/// What the fake saw and what it will answer.
#[derive(Debug)]
pub struct FakeState {
    pub agent_id: AgentId,
    pub current: String,
    pub previous: Option<String>,
    pub pending: Option<String>,
    pub confirm_mode: ConfirmMode,
    pub enroll_requests: Vec<serde_json::Value>,
    pub heartbeats: Vec<HeartbeatRequest>,
    pub heartbeat_tokens: Vec<String>,
    pub heartbeat_commands: Vec<Command>,
    pub rotate_on_next_heartbeat: bool,
    pub results: Vec<CommandResult>,
    pub ws_commands: Vec<Command>,
    /// Server frames to send as they are (terminal frames).
    pub ws_outgoing: Vec<ServerFrame>,
    /// Drop the socket (no close frame) at the next turn.
    pub ws_hang_up: bool,
    pub ws_frames: Vec<AgentFrame>,
    pub ws_auth_failures: usize,
    pub ws_connections: usize,
    pub confirms: usize,
    pub stages: usize,
    pub bad_auth: usize,
    pub heartbeat_interval: u32,
    pub ws_close_code: Option<u16>,
    pub ws_reject: Option<(u16, &'static str)>,
    pub config_update: Option<AgentConfig>,
}

pub type Shared = Arc<Mutex<FakeState>>;

pub fn new_token() -> String {
    AgentToken::generate().unwrap().expose_secret().to_owned()
}

pub fn wire(s: &str) -> WireToken {
    WireToken::parse(s).unwrap()
}

pub fn agent_id() -> AgentId {
    AgentId::parse(&"ab".repeat(32)).unwrap()
}

impl FakeState {
    pub fn new() -> Shared {
        Arc::new(Mutex::new(Self {
            agent_id: agent_id(),
            current: new_token(),
            previous: None,
            pending: None,
            confirm_mode: ConfirmMode::Normal,
            enroll_requests: Vec::new(),
            heartbeats: Vec::new(),
            heartbeat_tokens: Vec::new(),
            heartbeat_commands: Vec::new(),
            rotate_on_next_heartbeat: false,
            results: Vec::new(),
            ws_commands: Vec::new(),
            ws_outgoing: Vec::new(),
            ws_hang_up: false,
            ws_frames: Vec::new(),
            ws_auth_failures: 0,
            ws_connections: 0,
            confirms: 0,
            stages: 0,
            bad_auth: 0,
            heartbeat_interval: 5,
            ws_close_code: None,
            ws_reject: None,
            config_update: None,
        }))
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn error(code: ErrorReason) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap();
    (status, HttpErrorBody::new(code).encode().unwrap()).into_response()
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

async fn enroll(State(s): State<Shared>, body: String) -> Response {
    let req = EnrollRequest::decode(body.as_bytes()).unwrap().message;
    let mut st = s.lock().unwrap();
    st.enroll_requests
        .push(serde_json::from_str(&body).unwrap());
    drop(req);
    let resp = EnrollResponse {
        agent_id: st.agent_id.clone(),
        device_id: DeviceId::new_random(),
        auth_token: wire(&st.current),
        watchdog_auth_token: wire(&new_token()),
        helper_auth_token: wire(&new_token()),
        org_id: OrgId::new_random(),
        site_id: SiteId::new_random(),
        config: AgentConfig {
            heartbeat_interval_seconds: st.heartbeat_interval,
            metrics_collection_interval_seconds: 30,
        },
        protocol_version: None,
    };
    json(StatusCode::CREATED, resp.encode().unwrap())
}

fn authorized(st: &mut FakeState, id: &str, headers: &HeaderMap) -> bool {
    let ok = id == st.agent_id.as_str()
        && bearer(headers).is_some_and(|t| t == st.current || st.previous.as_deref() == Some(&t));
    if !ok {
        st.bad_auth += 1;
    }
    ok
}

async fn heartbeat(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut st = s.lock().unwrap();
    if !authorized(&mut st, &id, &headers) {
        return error(ErrorReason::InvalidToken);
    }
    let beat = HeartbeatRequest::decode(body.as_bytes()).unwrap().message;
    st.heartbeats.push(beat);
    st.heartbeat_tokens
        .push(bearer(&headers).unwrap_or_default());
    let resp = HeartbeatResponse {
        commands: std::mem::take(&mut st.heartbeat_commands),
        rotate_token: std::mem::take(&mut st.rotate_on_next_heartbeat),
        config_update: st.config_update.take(),
        ..HeartbeatResponse::default()
    };
    json(StatusCode::OK, resp.encode().unwrap())
}

async fn rotate(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut st = s.lock().unwrap();
    if !authorized(&mut st, &id, &headers) {
        return error(ErrorReason::InvalidToken);
    }
    st.stages += 1;
    let pending = new_token();
    st.pending = Some(pending.clone());
    let resp = RotateTokenResponse {
        auth_token: wire(&pending),
        watchdog_auth_token: wire(&new_token()),
        helper_auth_token: wire(&new_token()),
        pending_expires_at: Timestamp::from_unix_seconds(4_000_000_000).unwrap(),
    };
    json(StatusCode::OK, resp.encode().unwrap())
}

async fn confirm(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut st = s.lock().unwrap();
    st.confirms += 1;
    let presented = bearer(&headers);
    match st.confirm_mode {
        ConfirmMode::Expired => return error(ErrorReason::RotationExpired),
        ConfirmMode::Fail => return error(ErrorReason::InternalError),
        ConfirmMode::Normal => {}
    }
    if id != st.agent_id.as_str() {
        return error(ErrorReason::InvalidToken);
    }
    let ok_body = || {
        ConfirmRotationResponse {
            confirmed: true,
            grace_expires_at: Timestamp::from_unix_seconds(4_000_000_000).unwrap(),
        }
        .encode()
        .unwrap()
    };
    if presented.is_some() && presented == st.pending {
        let new = st.pending.take().unwrap();
        let old = std::mem::replace(&mut st.current, new);
        st.previous = Some(old);
        return json(StatusCode::OK, ok_body());
    }
    // Idempotent: a retry after success (the pending token is now current) answers true.
    if presented.as_deref() == Some(st.current.as_str()) && st.previous.is_some() {
        return json(StatusCode::OK, ok_body());
    }
    st.bad_auth += 1;
    error(ErrorReason::RotationNotPending)
}

async fn result(
    State(s): State<Shared>,
    Path((id, command)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut st = s.lock().unwrap();
    if !authorized(&mut st, &id, &headers) {
        return error(ErrorReason::InvalidToken);
    }
    let r = CommandResult::decode(body.as_bytes()).unwrap().message;
    assert_eq!(r.command_id.to_string(), command);
    st.results.push(r);
    json(StatusCode::OK, "{\"success\":true}".to_owned())
}

async fn ws(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    {
        let mut st = s.lock().unwrap();
        if let Some((status, retry_after)) = st.ws_reject {
            return (
                StatusCode::from_u16(status).unwrap(),
                [("retry-after", retry_after)],
                "",
            )
                .into_response();
        }
        if !authorized(&mut st, &id, &headers) {
            st.ws_auth_failures += 1;
            return StatusCode::UNAUTHORIZED.into_response();
        }
        st.ws_connections += 1;
    }
    upgrade.on_upgrade(move |socket| ws_session(s, socket))
}

async fn ws_session(s: Shared, mut socket: WebSocket) {
    let ping = ServerFrame::Ping(Ping {
        timestamp: UnixMillis(1),
    })
    .encode()
    .unwrap();
    if socket.send(WsMessage::text(ping)).await.is_err() {
        return;
    }
    let close = s.lock().unwrap().ws_close_code;
    if let Some(code) = close {
        // Wait for the pong first so the test also sees the agent answered.
        if let Some(Ok(WsMessage::Text(t))) = socket.recv().await {
            let frame = AgentFrame::decode(t.as_bytes()).unwrap().message;
            s.lock().unwrap().ws_frames.push(frame);
        }
        let frame = axum::extract::ws::CloseFrame {
            code,
            reason: "test".into(),
        };
        let _ = socket.send(WsMessage::Close(Some(frame))).await;
        return;
    }
    loop {
        let (pending, outgoing, hang_up) = {
            let mut st = s.lock().unwrap();
            let hang_up = std::mem::take(&mut st.ws_hang_up);
            (
                std::mem::take(&mut st.ws_commands),
                std::mem::take(&mut st.ws_outgoing),
                hang_up,
            )
        };
        if hang_up {
            return;
        }
        let frames = pending
            .into_iter()
            .map(ServerFrame::Command)
            .chain(outgoing);
        for frame in frames {
            let text = frame.encode().unwrap();
            if socket.send(WsMessage::text(text)).await.is_err() {
                return;
            }
        }
        match tokio::time::timeout(Duration::from_millis(100), socket.recv()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => {
                let frame = AgentFrame::decode(t.as_bytes()).unwrap().message;
                s.lock().unwrap().ws_frames.push(frame);
            }
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(None) | Ok(Some(Err(_))) => return,
        }
    }
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route(breeze_agent::paths::ENROLL, post(enroll))
        .route("/api/v1/agents/{id}/heartbeat", post(heartbeat))
        .route("/api/v1/agents/{id}/rotate-token", post(rotate))
        .route("/api/v1/agents/{id}/rotate-token/confirm", post(confirm))
        .route(
            "/api/v1/agents/{id}/commands/{command}/result",
            post(result),
        )
        .route("/api/v1/agent-ws/{id}/ws", get(ws))
        .with_state(state)
}

/// Serves `router` on an ephemeral loopback port.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// Polls `check` every 50 ms until it holds, failing after `limit` (a hang guard, not a
/// timing assertion).
pub async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
