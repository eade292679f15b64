//! The WebSocket side of a simulated agent: connect from its source address, answer pings
//! and commands, send heartbeats when asked, drop the socket on a storm, and reconnect
//! with the agent's own backoff (which honours `Retry-After`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use breeze_agent::backoff::{Backoff, parse_retry_after};
use breeze_agent_proto::frame::Pong;
use breeze_agent_proto::{AgentFrame, ServerFrame};
use futures::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, RETRY_AFTER};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::http_agent::{completed, heartbeat_body};
use crate::run::RunCtx;

/// Connect timeout (TCP, upgrade and the `connected` frame).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest message accepted from the server.
const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Why a connect attempt failed.
#[derive(Debug)]
enum ConnectError {
    RateLimited(Option<Duration>),
    Failed(String),
    Stopped,
}

/// Why a session ended.
#[derive(Debug)]
enum Ended {
    /// The run is over.
    Stop,
    /// A storm: reconnect at once.
    Storm,
    /// The server or the network closed it (kind counted).
    Closed(String),
}

async fn connect(ctx: &RunCtx, index: usize) -> Result<Ws, ConnectError> {
    let agent = ctx
        .agents
        .get(index)
        .ok_or_else(|| ConnectError::Failed("no_agent".into()))?;
    let url = ctx
        .target
        .ws_url(&breeze_agent::paths::websocket(&agent.agent_id));
    let mut request = url
        .into_client_request()
        .map_err(|_| ConnectError::Failed("request".into()))?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", agent.auth_token.expose_secret()))
        .map_err(|_| ConnectError::Failed("request".into()))?;
    auth.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, auth);
    // small initial buffers (they grow for a large frame): the simulator holds tens of
    // thousands of sockets
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let attempt = async {
        let tcp = ctx
            .pool
            .connect(index, ctx.target.socket_addr())
            .await
            .map_err(|e| ConnectError::Failed(format!("connect_{:?}", e.kind()).to_lowercase()))?;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .map_err(|e| match e {
                tungstenite::Error::Http(resp) if resp.status().as_u16() == 429 => {
                    ConnectError::RateLimited(
                        resp.headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, SystemTime::now())),
                    )
                }
                tungstenite::Error::Http(resp) => {
                    ConnectError::Failed(format!("ws_upgrade_{}", resp.status().as_u16()))
                }
                _ => ConnectError::Failed("ws_handshake".into()),
            })?;
        // connected means the server said so
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    if matches!(
                        ServerFrame::decode(text.as_bytes()).map(|d| d.into_message()),
                        Ok(ServerFrame::Connected(_))
                    ) {
                        return Ok(ws);
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    let code = f.as_ref().map_or(1005, |f| u16::from(f.code));
                    return Err(ConnectError::Failed(format!("ws_close_{code}")));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(ConnectError::Failed("ws_reset".into())),
            }
        }
    };
    let mut stop = ctx.stop.subscribe();
    tokio::select! {
        r = tokio::time::timeout(CONNECT_TIMEOUT, attempt) => {
            r.unwrap_or_else(|_| Err(ConnectError::Failed("ws_connect_timeout".into())))
        }
        () = crate::run::stopped(&mut stop) => Err(ConnectError::Stopped),
    }
}

async fn session(ctx: &RunCtx, index: usize, ws: Ws) -> Ended {
    let (mut sink, mut source) = ws.split();
    let mut stop = ctx.stop.subscribe();
    let mut storm = ctx.storm.subscribe();
    storm.mark_unchanged();
    let beat_every = ctx.ws_heartbeat;
    let mut next_beat = tokio::time::Instant::now()
        + beat_every.map_or(Duration::from_secs(86_400), breeze_agent::backoff::jitter);
    let beat_body = beat_every.map(|_| {
        let body = heartbeat_body(index);
        // the heartbeat fields with the frame tag in front
        body.strip_prefix('{')
            .map(|rest| format!("{{\"type\":\"heartbeat\",{rest}"))
            .unwrap_or_default()
    });
    let mut beat_sent: Option<Instant> = None;
    loop {
        tokio::select! {
            () = crate::run::stopped(&mut stop) => {
                let _ = sink.send(Message::Close(None)).await;
                return Ended::Stop;
            }
            _ = storm.changed() => {
                // an abrupt drop, as when a load balancer or the network goes away
                return Ended::Storm;
            }
            () = tokio::time::sleep_until(next_beat), if beat_body.is_some() => {
                next_beat = tokio::time::Instant::now()
                    + crate::http_agent::next_interval(
                        beat_every.unwrap_or(Duration::from_secs(60)),
                        ctx.jitter_pct,
                    );
                if let Some(text) = &beat_body {
                    beat_sent = Some(Instant::now());
                    if sink.send(Message::text(text.clone())).await.is_err() {
                        return Ended::Closed("ws_send".into());
                    }
                }
            }
            msg = source.next() => match msg {
                None | Some(Err(_)) => return Ended::Closed("ws_reset".into()),
                Some(Ok(Message::Close(f))) => {
                    let code = f.as_ref().map_or(1005, |f| u16::from(f.code));
                    return Ended::Closed(format!("ws_close_{code}"));
                }
                Some(Ok(Message::Text(text))) => {
                    let reply = match ServerFrame::decode(text.as_bytes()).map(|d| d.into_message()) {
                        Ok(ServerFrame::Ping(p)) => {
                            AgentFrame::Pong(Pong { timestamp: Some(p.timestamp) }).encode().ok()
                        }
                        Ok(ServerFrame::Command(cmd)) => {
                            ctx.on_command(index);
                            AgentFrame::CommandResult(completed(cmd.id)).encode().ok()
                        }
                        Ok(ServerFrame::Ack(_)) => {
                            ctx.stats.results_acked.fetch_add(1, Ordering::Relaxed);
                            None
                        }
                        Ok(ServerFrame::HeartbeatAck(resp)) => {
                            if let Some(t) = beat_sent.take() {
                                ctx.stats.ws_heartbeat.record(t.elapsed());
                            }
                            for _ in &resp.commands {
                                ctx.on_command(index);
                            }
                            None
                        }
                        Ok(ServerFrame::Error(e)) => {
                            ctx.stats.errors.count(&format!("ws_error_frame_{:?}", e.code).to_lowercase());
                            None
                        }
                        Ok(ServerFrame::Connected(_)) => None,
                        // simulated agents open no terminals; the server never starts one
                        // on them (no session is created in a fleet run)
                        Ok(
                            ServerFrame::TerminalStart(_)
                            | ServerFrame::TerminalInput(_)
                            | ServerFrame::TerminalResize(_)
                            | ServerFrame::TerminalStop(_),
                        ) => {
                            ctx.stats.errors.count("ws_terminal_frame");
                            None
                        }
                        Err(_) => {
                            ctx.stats.errors.count("ws_frame_invalid");
                            None
                        }
                    };
                    if let Some(reply) = reply
                        && sink.send(Message::text(reply)).await.is_err()
                    {
                        return Ended::Closed("ws_send".into());
                    }
                }
                // transport pings are answered by tungstenite
                Some(Ok(_)) => {}
            }
        }
    }
}

/// Agent `index` holds a WebSocket until the run stops. Its first connect waits for the
/// ramp's pace; after a storm it reconnects at once; after any other failure it backs off
/// like `breeze-agent` (exponential with full jitter, at least the server's `Retry-After`).
pub async fn agent_loop(ctx: Arc<RunCtx>, index: usize) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    ctx.ramp_permit().await;
    loop {
        if ctx.stopping() {
            return;
        }
        let started = Instant::now();
        let delay = match connect(&ctx, index).await {
            Ok(ws) => {
                ctx.stats.ws_connect.record(started.elapsed());
                ctx.stats.opened();
                backoff.reset();
                let ended = session(&ctx, index, ws).await;
                ctx.stats.closed();
                match ended {
                    Ended::Stop => return,
                    Ended::Storm => continue,
                    Ended::Closed(kind) => {
                        ctx.stats.errors.count(&kind);
                        backoff.next_delay()
                    }
                }
            }
            Err(ConnectError::Stopped) => return,
            Err(ConnectError::RateLimited(ra)) => {
                ctx.stats.errors.rate_limited(ra.is_some());
                backoff.next_delay_honouring(ra)
            }
            Err(ConnectError::Failed(kind)) => {
                ctx.stats.errors.count(&kind);
                backoff.next_delay()
            }
        };
        let mut stop = ctx.stop.subscribe();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = crate::run::stopped(&mut stop) => return,
        }
    }
}
