//! The WebSocket command channel (SPEC 8.6): `GET /api/v1/agent-ws/:agentId/ws` with
//! `Authorization: Bearer` (never a query string), reconnecting with backoff.
//!
//! Server frames are decoded strictly with the protocol crate (size checked first; the socket
//! itself refuses messages above `MAX_SERVER_MESSAGE_BYTES`). `ping` frames get a `pong`
//! frame, commands are executed and answered with `command_result` frames (over HTTP when
//! the socket is gone by then), and terminal frames drive the PTY sessions ([`crate::relay`]),
//! whose output and exits go back as `terminal_output` and `terminal_exit` frames. When the
//! socket ends, for whatever reason, every terminal session is stopped. Close codes: 4001 (not authorized) stands by for
//! [`STANDBY`]; 4002 (superseded) does not fight the newer socket and waits [`SUPERSEDED_WAIT`];
//! 4008 and 4040 reconnect with backoff.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use breeze_agent_proto::frame::{AgentFrame, Pong, ServerFrame};
use breeze_agent_proto::ids::UnixMillis;
use breeze_agent_proto::limits::MAX_SERVER_MESSAGE_BYTES;
use breeze_agent_proto::{CloseCode, Command, CommandResult};
use futures::{SinkExt, StreamExt};
use reqwest::Url;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, connect_async_tls_with_config};

use crate::agent::Context;
use crate::backoff::{Backoff, jitter, parse_retry_after};
use crate::paths;
use crate::relay::{self, TerminalRequest};
use crate::terminal::TerminalEvent;

/// Terminal events buffered between the PTY readers and the socket (each at most 16 KiB of
/// output); when full, the readers wait and the shells with them.
const TERMINAL_EVENT_QUEUE: usize = 64;

/// How long to stand by after 4001 or a refused upgrade (401/403) before trying again.
pub const STANDBY: Duration = Duration::from_secs(900);
/// How long to wait after 4002 before trying again (plus jitter).
pub const SUPERSEDED_WAIT: Duration = Duration::from_secs(300);
/// Longest reconnect backoff.
pub const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(120);

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown was requested.
    Shutdown,
    /// The device is not authorized (4001, or 401/403 on upgrade): stand by.
    NotAuthorized,
    /// Another socket replaced this one (4002): do not fight.
    Superseded,
    /// Reconnect after backoff (4008, 4040, network loss, other codes); `Some` when the
    /// server said how long to wait.
    Reconnect(Option<Duration>),
}

/// What to do on a close code.
#[must_use]
pub fn on_close(code: u16) -> Ended {
    match CloseCode::from_u16(code) {
        Some(CloseCode::DeviceNotAuthorized) => Ended::NotAuthorized,
        Some(CloseCode::Superseded) => Ended::Superseded,
        _ => Ended::Reconnect(None),
    }
}

/// The WebSocket URL for a server base URL: `https` -> `wss`, `http` -> `ws`, base path kept.
///
/// # Errors
/// When the base has another scheme.
pub fn ws_url(base: &Url, agent: &breeze_agent_proto::AgentId) -> Result<Url, &'static str> {
    let mut url = base.clone();
    let scheme = match base.scheme() {
        "https" => "wss",
        "http" => "ws",
        _ => return Err("unsupported scheme"),
    };
    url.set_scheme(scheme).map_err(|()| "cannot set scheme")?;
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{}", paths::websocket(agent)));
    Ok(url)
}

/// Reconnects until shutdown, waiting as each ending demands.
pub async fn run(ctx: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(Duration::from_secs(1), MAX_RECONNECT_BACKOFF);
    loop {
        let ended = session(&ctx, &mut shutdown, &mut backoff).await;
        let wait = match ended {
            Ended::Shutdown => return,
            Ended::NotAuthorized => {
                tracing::warn!("websocket: device not authorized; standing by");
                STANDBY.saturating_add(jitter(STANDBY / 10))
            }
            Ended::Superseded => {
                tracing::warn!("websocket superseded by a newer connection; not fighting it");
                SUPERSEDED_WAIT.saturating_add(jitter(SUPERSEDED_WAIT))
            }
            Ended::Reconnect(retry_after) => backoff.next_delay_honouring(retry_after),
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// One connection: connect, serve frames until the socket ends, and say why it ended.
pub async fn session(
    ctx: &Arc<Context>,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Ended {
    let agent = ctx.agent_id().await;
    let url = match ws_url(ctx.client.base(), &agent) {
        Ok(url) => url,
        Err(e) => {
            tracing::error!(error = e, "websocket url");
            return Ended::NotAuthorized;
        }
    };
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "websocket request");
            return Ended::NotAuthorized;
        }
    };
    let token = ctx.token().await;
    let Ok(mut auth) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) else {
        return Ended::NotAuthorized;
    };
    auth.set_sensitive(true);
    request
        .headers_mut()
        .insert(tungstenite::http::header::AUTHORIZATION, auth);
    // the upgrade is signed like every request (SPEC 17): over the http(s) form of the url
    let http_url = url.as_str().replacen("ws", "http", 1);
    match ctx.client.signature("GET", &http_url, &[]) {
        Ok(fields) => {
            for (name, value) in fields.into_iter().flatten() {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    request.headers_mut().insert(name, v);
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "websocket signature");
            return Ended::NotAuthorized;
        }
    }
    let connector = if url.scheme() == "wss" {
        Connector::Rustls(ctx.client.tls())
    } else {
        Connector::Plain
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES));
    let connected = tokio::select! {
        r = tokio::time::timeout(
            crate::client::CONNECT_TIMEOUT.saturating_mul(2),
            connect_async_tls_with_config(request, Some(config), true, Some(connector)),
        ) => r,
        _ = shutdown.changed() => return Ended::Shutdown,
    };
    let stream = match connected {
        Ok(Ok((stream, _response))) => stream,
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            tracing::warn!(status, "websocket upgrade refused");
            if matches!(status, 401 | 403) {
                return Ended::NotAuthorized;
            }
            let retry_after = response
                .headers()
                .get(tungstenite::http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            return Ended::Reconnect(retry_after);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "websocket connect failed");
            return Ended::Reconnect(None);
        }
        Err(_) => {
            tracing::warn!("websocket connect timed out");
            return Ended::Reconnect(None);
        }
    };
    tracing::info!("websocket connected");
    backoff.reset();
    serve(ctx, stream, shutdown).await
}

async fn serve<S>(
    ctx: &Arc<Context>,
    stream: tokio_tungstenite::WebSocketStream<S>,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut source) = stream.split();
    let (tx, mut rx) = mpsc::channel::<CommandResult>(32);
    let (terminal_tx, mut terminal_rx) = mpsc::channel::<TerminalEvent>(TERMINAL_EVENT_QUEUE);
    let ended = loop {
        tokio::select! {
            _ = shutdown.changed() => {
                let _ignored = sink.send(Message::Close(None)).await;
                break Ended::Shutdown;
            }
            Some(result) = rx.recv() => {
                let text = match AgentFrame::CommandResult(result.clone()).encode() {
                    Ok(text) => text,
                    Err(e) => {
                        tracing::error!(error = %e, "result frame could not be encoded");
                        continue;
                    }
                };
                if let Err(e) = sink.send(Message::text(text)).await {
                    tracing::warn!(error = %e, "websocket send failed; result goes over http");
                    post_later(ctx, result);
                    break Ended::Reconnect(None);
                }
            }
            Some(event) = terminal_rx.recv() => {
                let text = match relay::frame(event).encode() {
                    Ok(text) => text,
                    Err(e) => {
                        tracing::error!(error = %e, "terminal frame could not be encoded");
                        continue;
                    }
                };
                if let Err(e) = sink.send(Message::text(text)).await {
                    tracing::warn!(error = %e, "websocket send failed");
                    break Ended::Reconnect(None);
                }
            }
            message = source.next() => match message {
                None => break Ended::Reconnect(None),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "websocket read failed");
                    break Ended::Reconnect(None);
                }
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = handle_text(ctx, text.as_bytes(), &tx, &terminal_tx)
                        && let Err(e) = sink.send(Message::text(reply)).await
                    {
                        tracing::warn!(error = %e, "websocket send failed");
                        break Ended::Reconnect(None);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    tracing::info!(code, "websocket closed by the server");
                    break on_close(code);
                }
                // Transport pings are answered by tungstenite itself; binary frames (remote
                // desktop, tunnels) are not supported by this agent.
                Some(Ok(_)) => {}
            }
        }
    };
    // No terminal outlives the socket it served: every process group is hung up (and
    // killed after the grace). Their remaining events have nowhere to go.
    ctx.terminals.stop_all();
    drop(terminal_rx);
    // Results still queued for this socket go over HTTP; commands still running see the
    // channel closed and do the same.
    rx.close();
    while let Ok(result) = rx.try_recv() {
        post_later(ctx, result);
    }
    ended
}

fn post_later(ctx: &Arc<Context>, result: CommandResult) {
    let ctx = Arc::clone(ctx);
    tokio::spawn(async move { ctx.post_result(&result).await });
}

fn now_millis() -> UnixMillis {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    UnixMillis(ms)
}

/// Handles one server text frame; returns an immediate reply (a pong, or the exit of a
/// refused terminal start) to send.
fn handle_text(
    ctx: &Arc<Context>,
    bytes: &[u8],
    tx: &mpsc::Sender<CommandResult>,
    terminal_tx: &mpsc::Sender<TerminalEvent>,
) -> Option<String> {
    let frame = match ServerFrame::decode(bytes) {
        Ok(decoded) => decoded.message,
        Err(e) => {
            tracing::warn!(error = %e, "invalid frame from the server ignored");
            return None;
        }
    };
    match frame {
        ServerFrame::Ping(_) => AgentFrame::Pong(Pong {
            timestamp: Some(now_millis()),
        })
        .encode()
        .ok(),
        ServerFrame::Command(command) => {
            spawn_command(Arc::clone(ctx), command, tx.clone());
            None
        }
        ServerFrame::Connected(c) => {
            tracing::info!(capabilities = ?c.capabilities, "websocket session ready");
            None
        }
        ServerFrame::Error(e) => {
            tracing::warn!(code = ?e.code, message = %e.message, "server reported a frame error");
            None
        }
        ServerFrame::Ack(_) | ServerFrame::HeartbeatAck(_) => None,
        ServerFrame::TerminalStart(f) => terminal(ctx, TerminalRequest::Start(f), terminal_tx),
        ServerFrame::TerminalInput(f) => terminal(ctx, TerminalRequest::Input(f), terminal_tx),
        ServerFrame::TerminalResize(f) => terminal(ctx, TerminalRequest::Resize(f), terminal_tx),
        ServerFrame::TerminalStop(f) => terminal(ctx, TerminalRequest::Stop(f), terminal_tx),
    }
}

fn terminal(
    ctx: &Context,
    request: TerminalRequest,
    events: &mpsc::Sender<TerminalEvent>,
) -> Option<String> {
    let reply = relay::handle(&ctx.terminals, request, events)?;
    match reply.encode() {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::error!(error = %e, "terminal frame could not be encoded");
            None
        }
    }
}

fn spawn_command(ctx: Arc<Context>, command: Command, tx: mpsc::Sender<CommandResult>) {
    tokio::spawn(async move {
        let Some(result) = ctx.run_command(&command).await else {
            return;
        };
        if let Err(mpsc::error::SendError(result)) = tx.send(result).await {
            // The socket this command came on is gone: deliver over HTTP instead.
            ctx.post_result(&result).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_map_to_the_spec_behaviour() {
        assert_eq!(on_close(4001), Ended::NotAuthorized);
        assert_eq!(on_close(4002), Ended::Superseded);
        assert_eq!(on_close(4008), Ended::Reconnect(None));
        assert_eq!(on_close(4040), Ended::Reconnect(None));
        assert_eq!(on_close(1000), Ended::Reconnect(None));
        assert_eq!(on_close(1006), Ended::Reconnect(None));
    }

    #[test]
    fn the_websocket_url_follows_the_server_scheme_and_prefix() {
        let agent = breeze_agent_proto::AgentId::parse(&"c".repeat(64)).unwrap();
        let c = "c".repeat(64);
        let url = ws_url(&Url::parse("https://breeze.example").unwrap(), &agent).unwrap();
        assert_eq!(
            url.as_str(),
            format!("wss://breeze.example/api/v1/agent-ws/{c}/ws")
        );
        let url = ws_url(&Url::parse("http://127.0.0.1:3000/base/").unwrap(), &agent).unwrap();
        assert_eq!(
            url.as_str(),
            format!("ws://127.0.0.1:3000/base/api/v1/agent-ws/{c}/ws")
        );
        assert!(
            url.query().is_none(),
            "the token never goes in the query string"
        );
        assert!(ws_url(&Url::parse("ftp://x").unwrap(), &agent).is_err());
    }
}
