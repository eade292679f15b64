//! The agent WebSocket (SPEC 8.6): `GET /api/v1/agent-ws/{agentId}/ws`.
//!
//! Authenticated before the upgrade by the agent guard (agent role only, tenant active).
//! The frame and message size limits are set on the upgrade, so an oversized frame is
//! refused before any parsing. One socket per agent across replicas: the upgrade bumps the
//! device's connection generation and notifies every replica, whose hub closes older
//! sockets with 4002. Pings every 30 s, 4008 without a pong within 40 s of a ping. Commands
//! are pushed when queued (hub notification) and re-claimed on every ping tick.
//!
//! A socket stays only while its agent could open it again: a change of the device (moved,
//! credentials, status), its organization or its partner makes the hub ask the socket to
//! re-authenticate from a fresh row, and every ping tick re-authenticates from the auth
//! cache, so a lost notification is caught within one tick. Closes: 4001 when the device is
//! no longer authorized (token suspended, quarantine, organization or partner not
//! serviceable), 4040 when the agent must reconnect and authenticate again (device moved to
//! another site or organization, decommissioned, its token rotated out).
//!
//! Every inbound text frame except `pong` and `terminal_output` (relay data of a session
//! the agent owns) is charged to the per-agent and per-organization agent limits, the same
//! ones HTTP agent calls use; a refused frame is answered `PROCESSING_ERROR` and dropped,
//! and a limiter that cannot answer closes the socket with 1013 (try again later).
//!
//! A frame naming a command or session the agent does not own is a probe: five within five
//! minutes suspend the agent's tokens durably (audited `agent.token.suspended`) and close
//! with 4001. The agent owns the remote sessions of its device in any state (SPEC 12: the
//! output or exit of a session that just ended is late, not foreign): a session this socket
//! was not told to start is looked up in `remote_sessions` before it counts; only sessions
//! this socket carries are relayed. Every
//! ping tick stops the sessions this socket carries that are no longer live (ended, or their
//! browser's replica lost its lease), so a crashed replica leaves no shell running. When the probe
//! counter cannot answer, the socket closes with 1013 without suspending.

use std::collections::HashSet;

use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use breeze_agent_proto::frame::{Ack, AgentFrame, Connected, ErrorFrame, ErrorFrameCode, Ping};
use breeze_agent_proto::ids::UnixMillis;
use breeze_agent_proto::limits::MAX_TEXT_FRAME_BYTES;
use breeze_agent_proto::{
    BinaryFrame, CloseCode, ServerFrame, TerminalInput, TerminalResize, TerminalStart, TerminalStop,
};
use tokio::time::Instant;

use crate::agents::auth::{SocketVerdict, recheck_socket};
use crate::agents::commands::claim_commands;
use crate::agents::fanout::{Hub, HubEvent, Tenant};
use crate::agents::heartbeat::process_heartbeat;
use crate::agents::results::{ResultOutcome, store_result};
use crate::agents::socket::{self, ProbeVerdict};
use crate::http::agent_auth::{AgentAuthed, AgentError};
use crate::http::route::{Access, Route, route};
use crate::remote::relay::{ToAgent, ToViewer};
use crate::state::AppState;

/// Seconds between server pings.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may wait for its pong.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(40);
/// Initial read and write buffer of a socket.
pub const WS_BUFFER_BYTES: usize = 4 * 1024;
pub use crate::agents::socket::{PROBE_LIMIT, PROBE_WINDOW};
/// Close code when a limiter cannot answer (RFC 6455 "try again later"): the socket closes
/// with no durable consequence for the agent.
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// Sessions a socket remembers as owned (more are looked up again when named).
pub const MAX_REMEMBERED_SESSIONS: usize = 1024;

/// The routes of this module (each router gets its own hub).
#[must_use]
pub fn routes() -> Vec<Route> {
    let hub = Hub::new();
    vec![
        route(
            Method::GET,
            "/api/v1/agent-ws/{agentId}/ws",
            Access::Agent,
            "agent WebSocket",
            upgrade,
        )
        .layer(Extension(hub))
        .answers(101, None, "switching to the agent WebSocket protocol"),
    ]
}

async fn upgrade(
    State(state): State<AppState>,
    Extension(authed): Extension<AgentAuthed>,
    Extension(hub): Extension<Arc<Hub>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AgentError> {
    // a request that is not an upgrade gets the route's own JSON error, before any work
    let ws =
        ws.map_err(|_| AgentError::Reason(breeze_agent_proto::http::ErrorReason::InvalidRequest))?;
    let generation = socket::open(&state, &authed, &hub).await?;
    Ok(ws
        // small initial buffers (they grow for a large frame): 10,000 idle sockets must
        // not hold 128 KiB each
        .read_buffer_size(WS_BUFFER_BYTES)
        .write_buffer_size(WS_BUFFER_BYTES)
        .max_frame_size(MAX_TEXT_FRAME_BYTES)
        .max_message_size(MAX_TEXT_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let tenant = Tenant {
                org: authed.org_id,
                partner: authed.partner_id,
            };
            let (registration, events) = hub.register(authed.device_id, generation, tenant);
            let (relay_registration, relay) = state.relay.register_agent(authed.device_id);
            let mut session = Session {
                state,
                authed,
                socket,
                sessions: HashSet::new(),
                awaiting_pong: None,
            };
            session.run(events, relay).await;
            drop(relay_registration);
            // the browser side of every session this socket carried learns it is gone
            for s in session.sessions.drain() {
                let _ = session.state.relay.to_viewer(s, ToViewer::AgentGone);
            }
            drop(registration);
        })
        .into_response())
}

struct Session {
    state: AppState,
    authed: AgentAuthed,
    socket: WebSocket,
    /// Remote sessions this socket was told to start and that have not ended (the agent
    /// owns those).
    sessions: HashSet<Uuid>,
    awaiting_pong: Option<Instant>,
}

enum Flow {
    Continue,
    Stop,
}

fn now_ms(state: &AppState) -> UnixMillis {
    UnixMillis(u64::try_from(state.clock.unix().saturating_mul(1000)).unwrap_or(0))
}

impl Session {
    async fn run(
        &mut self,
        mut events: tokio::sync::mpsc::Receiver<HubEvent>,
        mut relay: tokio::sync::mpsc::Receiver<(Uuid, ToAgent)>,
    ) {
        let connected = ServerFrame::Connected(Connected {
            agent_id: match breeze_agent_proto::AgentId::parse(&self.authed.agent_id) {
                Ok(id) => id,
                Err(_) => return,
            },
            timestamp: now_ms(&self.state),
            capabilities: vec![
                "commands".to_owned(),
                "heartbeat".to_owned(),
                "terminal".to_owned(),
            ],
            protocol_version: None,
        });
        if matches!(self.send(&connected).await, Flow::Stop) {
            return;
        }
        if matches!(self.push_commands().await, Flow::Stop) {
            return;
        }
        let every = Duration::from_secs(self.state.config.agent_ws_ping_secs.max(1));
        let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
        loop {
            let pong_deadline = self
                .awaiting_pong
                .map_or_else(|| Instant::now() + PING_INTERVAL * 10, |t| t + PONG_TIMEOUT);
            let flow = tokio::select! {
                msg = self.socket.recv() => match msg {
                    Some(Ok(m)) => self.on_message(m).await,
                    _ => Flow::Stop,
                },
                ev = events.recv() => match ev {
                    Some(HubEvent::CommandsQueued) => self.push_commands().await,
                    Some(HubEvent::Close(code)) => self.close(code).await,
                    Some(HubEvent::Recheck) => self.recheck(true).await,
                    None => Flow::Stop,
                },
                rel = relay.recv() => match rel {
                    Some((session, message)) => self.on_relay(session, message).await,
                    None => Flow::Stop,
                },
                _ = ticker.tick() => self.on_tick().await,
                () = tokio::time::sleep_until(pong_deadline), if self.awaiting_pong.is_some() => {
                    self.close(CloseCode::PongTimeout.as_u16()).await
                }
            };
            if matches!(flow, Flow::Stop) {
                return;
            }
        }
    }

    async fn send(&mut self, frame: &ServerFrame) -> Flow {
        let Ok(text) = frame.encode() else {
            tracing::error!("server frame failed its own validation");
            return Flow::Continue;
        };
        if self.socket.send(Message::Text(text.into())).await.is_err() {
            return Flow::Stop;
        }
        Flow::Continue
    }

    async fn close(&mut self, code: u16) -> Flow {
        let reason = match code {
            CLOSE_TRY_AGAIN_LATER => "try again later",
            _ => CloseCode::from_u16(code).map_or("closing", CloseCode::reason),
        };
        let _ = self
            .socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
        Flow::Stop
    }

    /// Re-authenticates the socket (see the module docs); a database that cannot answer
    /// keeps it until the next check.
    async fn recheck(&mut self, fresh: bool) -> Flow {
        let state = self.state.clone();
        let permit = state.agent_load.permit().await;
        let verdict = recheck_socket(&self.state, &self.authed, fresh).await;
        drop(permit);
        match verdict {
            Ok(SocketVerdict::Keep) => Flow::Continue,
            Ok(SocketVerdict::NotAuthorized) => {
                self.close(CloseCode::DeviceNotAuthorized.as_u16()).await
            }
            Ok(SocketVerdict::Reconnect) => self.close(CloseCode::ReconnectRequired.as_u16()).await,
            Err(e) => {
                tracing::warn!(
                    reason = e.reason().as_str(),
                    "re-authenticating an agent socket failed"
                );
                Flow::Continue
            }
        }
    }

    async fn on_tick(&mut self) -> Flow {
        // a lost notification costs at most one tick
        if matches!(self.recheck(false).await, Flow::Stop) {
            return Flow::Stop;
        }
        if self.awaiting_pong.is_none() {
            self.awaiting_pong = Some(Instant::now());
        }
        let ping = ServerFrame::Ping(Ping {
            timestamp: now_ms(&self.state),
        });
        if matches!(self.send(&ping).await, Flow::Stop) {
            return Flow::Stop;
        }
        if matches!(self.stop_dead_sessions().await, Flow::Stop) {
            return Flow::Stop;
        }
        // a lost notification costs at most one tick
        self.push_commands().await
    }

    async fn push_commands(&mut self) -> Flow {
        // the agents' share of the pool, waited for (background work never fails on load)
        let state = self.state.clone();
        let permit = state.agent_load.permit().await;
        let claimed = claim_commands(&self.state, &self.authed).await;
        drop(permit);
        let cmds = match claimed {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(reason = e.reason().as_str(), "claiming commands failed");
                return Flow::Continue;
            }
        };
        for cmd in cmds {
            if matches!(self.send(&ServerFrame::Command(cmd)).await, Flow::Stop) {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Whether the agent owns `session`: started on this socket, or any session of its
    /// device. `None` when that cannot be known now (the
    /// frame is dropped, not counted as a probe).
    async fn owns_session(&mut self, session: &str) -> Option<bool> {
        let Ok(id) = Uuid::parse_str(session) else {
            return Some(false);
        };
        if self.sessions.contains(&id) {
            return Some(true);
        }
        match socket::owns_session(&self.state, &self.authed, id).await {
            Ok(owned) => Some(owned),
            Err(e) => {
                tracing::warn!(
                    reason = e.reason().as_str(),
                    "looking up an agent session failed"
                );
                None
            }
        }
    }

    /// A relay message for the agent's side of `session`, as a frame on this socket.
    async fn on_relay(&mut self, session: Uuid, message: ToAgent) -> Flow {
        let Ok(session_id) = breeze_agent_proto::SessionId::parse(&session.to_string()) else {
            return Flow::Continue;
        };
        let frame = match message {
            ToAgent::Start { cols, rows } => {
                if self.sessions.len() >= MAX_REMEMBERED_SESSIONS {
                    let _ = self.state.relay.to_viewer(session, ToViewer::AgentGone);
                    return Flow::Continue;
                }
                self.sessions.insert(session);
                ServerFrame::TerminalStart(TerminalStart {
                    session_id,
                    cols,
                    rows,
                })
            }
            ToAgent::Input { data } => {
                ServerFrame::TerminalInput(TerminalInput { session_id, data })
            }
            ToAgent::Resize { cols, rows } => ServerFrame::TerminalResize(TerminalResize {
                session_id,
                cols,
                rows,
            }),
            ToAgent::Stop => {
                self.sessions.remove(&session);
                ServerFrame::TerminalStop(TerminalStop { session_id })
            }
        };
        let started = matches!(frame, ServerFrame::TerminalStart(_));
        let flow = self.send(&frame).await;
        if started && matches!(flow, Flow::Continue) {
            let _ = self.state.relay.to_viewer(session, ToViewer::Started);
        }
        flow
    }

    /// Stops the sessions this socket carries that are no longer live (ended elsewhere, or
    /// their browser's replica lost its lease): a crashed replica leaves no shell running.
    async fn stop_dead_sessions(&mut self) -> Flow {
        if self.sessions.is_empty() {
            return Flow::Continue;
        }
        let ids: Vec<Uuid> = self.sessions.iter().copied().collect();
        let live = match socket::live_sessions(&self.state, &self.authed, &ids).await {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!(
                    reason = e.reason().as_str(),
                    "checking live sessions failed"
                );
                return Flow::Continue;
            }
        };
        for id in ids.into_iter().filter(|id| !live.contains(id)) {
            self.sessions.remove(&id);
            let Ok(session_id) = breeze_agent_proto::SessionId::parse(&id.to_string()) else {
                continue;
            };
            let stop = ServerFrame::TerminalStop(TerminalStop { session_id });
            if matches!(self.send(&stop).await, Flow::Stop) {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// A frame naming `session`: relayed when the agent owns it, a probe when it does not.
    async fn session_frame(&mut self, session: &str, kind: &str) -> Flow {
        match self.owns_session(session).await {
            Some(true) => Flow::Continue,
            Some(false) => self.probe(kind).await,
            None => {
                self.send(&ServerFrame::Error(ErrorFrame::processing_error(
                    "the frame could not be processed",
                    kind,
                )))
                .await
            }
        }
    }

    /// Charges an inbound frame to the per-agent and per-organization agent limits (those
    /// of HTTP agent calls). `None` when it may be processed; otherwise how the socket goes
    /// on (a refused frame is answered and dropped; a limiter that cannot answer closes).
    async fn charge(&mut self, kind: &str) -> Option<Flow> {
        let charged = socket::charge_frame(&self.state, &self.authed).await;
        match charged {
            Ok(()) => None,
            Err(AgentError::RateLimited(_)) => Some(
                self.send(&ServerFrame::Error(ErrorFrame::processing_error(
                    "rate limited: the frame was dropped",
                    kind,
                )))
                .await,
            ),
            Err(AgentError::Unavailable) => {
                crate::ops::metrics::global().record_limiter_unavailable();
                Some(self.close(CLOSE_TRY_AGAIN_LATER).await)
            }
            Err(e) => {
                tracing::warn!(
                    reason = e.reason().as_str(),
                    "charging an agent frame failed"
                );
                Some(
                    self.send(&ServerFrame::Error(ErrorFrame::processing_error(
                        "the frame could not be processed",
                        kind,
                    )))
                    .await,
                )
            }
        }
    }

    async fn on_message(&mut self, message: Message) -> Flow {
        match message {
            Message::Text(text) => {
                let decoded = AgentFrame::decode(text.as_bytes());
                let kind = match &decoded {
                    Ok(d) => d.message.type_name(),
                    Err(_) => "invalid",
                };
                // pongs and session relay data are not requests; everything else is
                // charged, invalid frames included
                if !matches!(kind, "pong" | "terminal_output" | "terminal_exit")
                    && let Some(flow) = self.charge(kind).await
                {
                    return flow;
                }
                match decoded {
                    Err(e) => {
                        self.send(&ServerFrame::Error(ErrorFrame::invalid_message(&e)))
                            .await
                    }
                    Ok(decoded) => self.on_frame(decoded.into_message()).await,
                }
            }
            Message::Binary(bytes) => match BinaryFrame::decode(&bytes) {
                Err(e) => {
                    let frame = ErrorFrame {
                        code: ErrorFrameCode::InvalidMessage,
                        message: e.to_string(),
                        issues: Vec::new(),
                        received_type: None,
                    };
                    self.send(&ServerFrame::Error(frame)).await
                }
                Ok(frame) => {
                    let session = frame.session_id.as_str().to_owned();
                    self.session_frame(&session, "binary").await
                }
            },
            Message::Pong(_) => {
                self.awaiting_pong = None;
                Flow::Continue
            }
            Message::Ping(_) => Flow::Continue,
            Message::Close(_) => Flow::Stop,
        }
    }

    async fn on_frame(&mut self, frame: AgentFrame) -> Flow {
        let kind = frame.type_name();
        let outcome: Result<Flow, AgentError> = async {
            Ok(match frame {
                AgentFrame::Pong(_) => {
                    self.awaiting_pong = None;
                    Flow::Continue
                }
                AgentFrame::Heartbeat(beat) => {
                    let response =
                        process_heartbeat(&self.state, &self.authed, &beat, None).await?;
                    self.send(&ServerFrame::HeartbeatAck(response)).await
                }
                AgentFrame::CommandResult(result) => {
                    let id = result.command_id;
                    match store_result(&self.state, &self.authed, result).await? {
                        ResultOutcome::NotOwned => self.probe(kind).await,
                        ResultOutcome::Recorded | ResultOutcome::Duplicate => {
                            self.send(&ServerFrame::Ack(Ack { command_id: id })).await
                        }
                    }
                }
                AgentFrame::TerminalOutput(out) => {
                    let flow = self.session_frame(out.session_id.as_str(), kind).await;
                    if let Ok(id) = Uuid::parse_str(out.session_id.as_str())
                        && self.sessions.contains(&id)
                    {
                        let _ = self.state.relay.to_viewer(
                            id,
                            ToViewer::Output {
                                data: out.data,
                                encoding: out.encoding,
                            },
                        );
                    }
                    flow
                }
                AgentFrame::TerminalExit(exit) => {
                    let flow = self.session_frame(exit.session_id.as_str(), kind).await;
                    if let Ok(id) = Uuid::parse_str(exit.session_id.as_str())
                        && self.sessions.remove(&id)
                    {
                        let _ = self
                            .state
                            .relay
                            .to_viewer(id, ToViewer::Exit { code: exit.code });
                    }
                    flow
                }
                AgentFrame::PatchProgress(p) => self.owned_command(p.command_id, kind).await?,
                AgentFrame::VerificationProgress(v) => {
                    self.owned_command(v.command_id, kind).await?
                }
                AgentFrame::UpdateStatus(_) => Flow::Continue,
            })
        }
        .await;
        match outcome {
            Ok(flow) => flow,
            Err(e) => {
                tracing::warn!(
                    reason = e.reason().as_str(),
                    "agent frame processing failed"
                );
                self.send(&ServerFrame::Error(ErrorFrame::processing_error(
                    "the frame could not be processed",
                    kind,
                )))
                .await
            }
        }
    }

    async fn owned_command(
        &mut self,
        command: breeze_core::tenancy::CommandId,
        kind: &str,
    ) -> Result<Flow, AgentError> {
        let owned = socket::owns_command(&self.state, &self.authed, command).await?;
        Ok(if owned {
            Flow::Continue
        } else {
            self.probe(kind).await
        })
    }

    /// Counts a frame naming something the agent does not own; the fifth within five
    /// minutes suspends the agent durably and closes the socket with 4001.
    async fn probe(&mut self, kind: &str) -> Flow {
        match socket::probe(&self.state, &self.authed, kind).await {
            ProbeVerdict::Warn => {
                self.send(&ServerFrame::Error(ErrorFrame::processing_error(
                    "unknown command or session",
                    kind,
                )))
                .await
            }
            ProbeVerdict::CounterUnavailable => self.close(CLOSE_TRY_AGAIN_LATER).await,
            ProbeVerdict::Suspended => self.close(CloseCode::DeviceNotAuthorized.as_u16()).await,
        }
    }
}
