//! The browser's terminal socket (SPEC 12): `GET /api/v1/remote-sessions/{sessionId}/ws`.
//!
//! Authenticated by a one-time ticket offered as the `breeze.ticket.<ticket>` subprotocol
//! next to `breeze.terminal.v1` (which the server selects; the ticket is never echoed, logged
//! or put in a URL). `crate::remote::sessions::open` runs every check before the upgrade.
//!
//! The loop relays `input`/`resize`/`stop` to the agent (wherever its socket is, through
//! `crate::remote::relay`) and output back, records both (`crate::remote::recording`), and
//! on every ping tick re-checks the login session, renews the lease and looks at the device.
//! Closes: 1000 when the shell exits or the browser stops (reasons `idle_timeout`,
//! `max_duration` too), 1003 for a binary frame, 1008 for an input flood, 1013 when the
//! browser cannot keep up with the output (`viewer_too_slow`), 4003 when the session is
//! revoked (user, login session, permission, `DELETE`, quarantine), 4008 without a pong,
//! 4040 when the device moved, its agent went away, or no agent socket took the session
//! within 10 s (`agent_unreachable`). Every close ends the agent's side
//! (`terminal_stop`) and seals the session's end in the audit chain.

use std::time::{Duration, Instant};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use breeze_agent_proto::frame::TerminalEncoding;
use breeze_agent_proto::limits::MAX_TERMINAL_FRAME_BYTES;
use breeze_agent_proto::viewer::{
    VIEWER_SUBPROTOCOL, ViewerEvent, ViewerExit, ViewerFrame, ViewerNotice, ViewerOutput,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::audit::events::ClientMeta;
use crate::error::ApiError;
use crate::http::extract;
use crate::http::route::{Access, Route, route};
use crate::remote::limits::InputBudget;
use crate::remote::recording::{Recorder, Stream};
use crate::remote::relay::{ToAgent, ToViewer};
use crate::remote::sessions::{self, Opened, PERMISSION, Totals, Verdict};
use crate::state::AppState;

/// How long a ping may wait for its pong.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(40);
/// Close: policy violation (input flood, invalid frames).
pub const CLOSE_POLICY: u16 = 1008;
/// Close: binary frames are not part of the protocol.
pub const CLOSE_UNSUPPORTED: u16 = 1003;
/// Close: the session was revoked.
pub const CLOSE_REVOKED: u16 = 4003;
/// Close: no pong.
pub const CLOSE_PONG_TIMEOUT: u16 = 4008;
/// Close: reconnect required (device moved, agent gone or unreachable).
pub const CLOSE_RECONNECT: u16 = 4040;
/// Close: try again later (the browser could not keep up with the output).
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// How long the browser waits for an agent socket to take `terminal_start`.
pub const AGENT_START_WAIT: Duration = Duration::from_secs(10);

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/remote-sessions/{sessionId}/ws",
            Access::Ticket(PERMISSION),
            "remote terminal socket (one-time ticket offered in Sec-WebSocket-Protocol)",
            upgrade,
        )
        .answers(
            101,
            None,
            "switching to the WebSocket protocol `breeze.terminal.v1`",
        )
        .errors(&[409]),
    ]
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SessionPath {
    session_id: Uuid,
}

async fn upgrade(
    State(state): State<AppState>,
    Extension(client): Extension<ClientMeta>,
    extract::Path(path): extract::Path<SessionPath>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // a request that is not an upgrade gets the route's own JSON error, before any work
    let ws = ws.map_err(|_| ApiError::invalid("headers", "must request a WebSocket upgrade"))?;
    state
        .relay
        .ensure_started(&state)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let offered = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    let opened = sessions::open(&state, path.session_id, offered, client).await?;
    Ok(ws
        .protocols([VIEWER_SUBPROTOCOL])
        // small initial buffers that grow for a large frame (memory per live session)
        .read_buffer_size(crate::http::routes::agent_ws::WS_BUFFER_BYTES)
        .write_buffer_size(crate::http::routes::agent_ws::WS_BUFFER_BYTES)
        .max_frame_size(MAX_TERMINAL_FRAME_BYTES)
        .max_message_size(MAX_TERMINAL_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let mut viewer = Viewer::new(state, opened, socket);
            viewer.run().await;
        })
        .into_response())
}

struct Viewer {
    state: AppState,
    opened: Opened,
    socket: WebSocket,
    recorder: Recorder,
    budget: InputBudget,
    bytes_in: u64,
    bytes_out: u64,
    started: Instant,
    last_input: Instant,
    awaiting_pong: Option<Instant>,
    shell_exited: bool,
    /// An agent socket received `terminal_start`.
    agent_started: bool,
    /// The relay queue of this socket overflowed (output lost).
    overflowed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// How the loop ends: the close code and the recorded reason.
struct End {
    code: u16,
    reason: &'static str,
}

const fn end(code: u16, reason: &'static str) -> Option<End> {
    Some(End { code, reason })
}

impl Viewer {
    fn new(state: AppState, opened: Opened, socket: WebSocket) -> Self {
        let cap = state.config.remote.recording_max_bytes;
        let s = &opened.session;
        let recorder = Recorder::new(
            u16::try_from(s.cols).unwrap_or(80),
            u16::try_from(s.rows).unwrap_or(24),
            state.clock.unix(),
            cap,
        );
        let now = Instant::now();
        Self {
            state,
            opened,
            socket,
            recorder,
            budget: InputBudget::new(now),
            bytes_in: 0,
            bytes_out: 0,
            started: now,
            last_input: now,
            awaiting_pong: None,
            shell_exited: false,
            agent_started: false,
            overflowed: std::sync::Arc::default(),
        }
    }

    fn to_agent(&self, message: ToAgent) -> bool {
        let s = &self.opened.session;
        self.state
            .relay
            .to_agent(s.device_id, s.id, message)
            .is_ok()
    }

    async fn run(&mut self) {
        let (registration, mut events, overflowed) =
            self.state.relay.register_viewer(self.opened.session.id);
        self.overflowed = overflowed;
        let s = &self.opened.session;
        let start = ToAgent::Start {
            cols: u16::try_from(s.cols).unwrap_or(80),
            rows: u16::try_from(s.rows).unwrap_or(24),
        };
        let outcome = if self.to_agent(start) {
            self.relay_loop(&mut events).await
        } else {
            End {
                code: 1011,
                reason: "relay_unavailable",
            }
        };
        drop(registration);
        if !self.shell_exited {
            let _ = self.to_agent(ToAgent::Stop);
        }
        let _ = self
            .socket
            .send(Message::Close(Some(CloseFrame {
                code: outcome.code,
                reason: outcome.reason.into(),
            })))
            .await;
        let totals = Totals {
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        if let Err(e) = sessions::finish(
            &self.state,
            &self.opened,
            &mut self.recorder,
            totals,
            outcome.reason,
        )
        .await
        {
            tracing::error!(error = %e, "ending a remote session failed");
        }
    }

    async fn relay_loop(&mut self, events: &mut tokio::sync::mpsc::Receiver<ToViewer>) -> End {
        let every = Duration::from_secs(self.state.config.remote.ping_secs.max(1));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            let step = tokio::select! {
                msg = self.socket.recv() => match msg {
                    Some(Ok(m)) => self.on_browser(m).await,
                    _ => end(1000, "browser_closed"),
                },
                ev = events.recv() => match ev {
                    Some(ev) => self.on_relay(ev).await,
                    None => end(1011, "relay_closed"),
                },
                _ = ticker.tick() => self.on_tick().await,
            };
            if let Some(done) = step {
                return done;
            }
            if self.overflowed.load(std::sync::atomic::Ordering::Relaxed) {
                return End {
                    code: CLOSE_TRY_AGAIN_LATER,
                    reason: "viewer_too_slow",
                };
            }
        }
    }

    async fn send(&mut self, event: &ViewerEvent) -> Option<End> {
        let Ok(text) = event.encode() else {
            tracing::warn!("a viewer event failed its own validation");
            return None;
        };
        if self.socket.send(Message::Text(text.into())).await.is_err() {
            return end(1000, "browser_closed");
        }
        None
    }

    async fn record(&mut self, stream: Stream, data: &str) -> Option<End> {
        if self.recorder.record(stream, data) {
            let notice = ViewerEvent::Notice(ViewerNotice {
                code: "recording_truncated".to_owned(),
                message: "the recording reached its cap and stopped".to_owned(),
            });
            if let Some(done) = self.send(&notice).await {
                return Some(done);
            }
        }
        if let Some(chunk) = self.recorder.take_full()
            && let Err(e) =
                crate::remote::transcript::store_chunk(&self.state, &self.opened, &chunk).await
        {
            // a recording that cannot be stored ends the session (fail closed)
            tracing::error!(error = %e, "storing a recording chunk failed");
            return end(1011, "recording_failed");
        }
        None
    }

    async fn on_browser(&mut self, message: Message) -> Option<End> {
        match message {
            Message::Text(text) => {
                if self.budget.charge(Instant::now(), text.len()).is_err() {
                    return end(CLOSE_POLICY, "input_flood");
                }
                let Ok(frame) = ViewerFrame::decode(text.as_bytes()) else {
                    return end(CLOSE_POLICY, "invalid_frame");
                };
                match frame.into_message() {
                    ViewerFrame::Input(input) => {
                        self.last_input = Instant::now();
                        self.bytes_in += input.data.len() as u64;
                        if let Some(done) = self.record(Stream::Input, &input.data).await {
                            return Some(done);
                        }
                        if !self.to_agent(ToAgent::Input { data: input.data }) {
                            return end(1011, "relay_unavailable");
                        }
                        None
                    }
                    ViewerFrame::Resize(r) => {
                        let size = format!("{}x{}", r.cols, r.rows);
                        if let Some(done) = self.record(Stream::Resize, &size).await {
                            return Some(done);
                        }
                        if !self.to_agent(ToAgent::Resize {
                            cols: r.cols,
                            rows: r.rows,
                        }) {
                            return end(1011, "relay_unavailable");
                        }
                        None
                    }
                    ViewerFrame::Stop(_) => end(1000, "ended_by_user"),
                }
            }
            Message::Binary(_) => end(CLOSE_UNSUPPORTED, "binary_frame"),
            Message::Pong(_) => {
                self.awaiting_pong = None;
                None
            }
            Message::Ping(_) => None,
            Message::Close(_) => end(1000, "browser_closed"),
        }
    }

    async fn on_relay(&mut self, event: ToViewer) -> Option<End> {
        match event {
            ToViewer::Output { data, encoding } => {
                let shown = if encoding == Some(TerminalEncoding::Base64) {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(data.as_bytes())
                        .unwrap_or_default();
                    self.bytes_out += raw.len() as u64;
                    String::from_utf8_lossy(&raw).into_owned()
                } else {
                    self.bytes_out += data.len() as u64;
                    data.clone()
                };
                if let Some(done) = self.record(Stream::Output, &shown).await {
                    return Some(done);
                }
                self.send(&ViewerEvent::Output(ViewerOutput { data, encoding }))
                    .await
            }
            ToViewer::Exit { code } => {
                self.shell_exited = true;
                if let Some(done) = self.send(&ViewerEvent::Exit(ViewerExit { code })).await {
                    return Some(done);
                }
                end(1000, "shell_exited")
            }
            ToViewer::AgentGone => match sessions::recheck(&self.state, &self.opened).await {
                Verdict::Revoked(reason) => end(CLOSE_REVOKED, reason),
                Verdict::Reconnect(reason) => end(CLOSE_RECONNECT, reason),
                Verdict::Keep => end(CLOSE_RECONNECT, "agent_disconnected"),
            },
            ToViewer::Started => {
                self.agent_started = true;
                None
            }
            ToViewer::Overflow => end(CLOSE_TRY_AGAIN_LATER, "viewer_too_slow"),
            ToViewer::End => end(CLOSE_REVOKED, "ended_by_user"),
        }
    }

    async fn on_tick(&mut self) -> Option<End> {
        if self
            .awaiting_pong
            .is_some_and(|t| t.elapsed() >= PONG_TIMEOUT)
        {
            return end(CLOSE_PONG_TIMEOUT, "pong_timeout");
        }
        match sessions::recheck(&self.state, &self.opened).await {
            Verdict::Keep => {}
            Verdict::Revoked(reason) => return end(CLOSE_REVOKED, reason),
            Verdict::Reconnect(reason) => return end(CLOSE_RECONNECT, reason),
        }
        if !self.agent_started && self.started.elapsed() >= AGENT_START_WAIT {
            return end(CLOSE_RECONNECT, "agent_unreachable");
        }
        if self.last_input.elapsed() >= Duration::from_secs(self.opened.idle_secs) {
            return end(1000, "idle_timeout");
        }
        if self.started.elapsed() >= Duration::from_secs(self.opened.max_secs) {
            return end(1000, "max_duration");
        }
        if self.awaiting_pong.is_none() {
            self.awaiting_pong = Some(Instant::now());
        }
        if self
            .socket
            .send(Message::Ping(Vec::new().into()))
            .await
            .is_err()
        {
            return end(1000, "browser_closed");
        }
        None
    }
}
