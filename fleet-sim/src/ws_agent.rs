//! The WebSocket side of a simulated agent: connect from its source address, answer pings
//! and commands, send heartbeats when asked, drop the socket on a storm, and reconnect
//! with the agent's own backoff (which honours `Retry-After`). A bound agent signs each
//! upgrade request, afresh for every connect ([`upgrade_request`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use breeze_agent::backoff::{Backoff, parse_retry_after};
use breeze_agent_proto::frame::Pong;
use breeze_agent_proto::{AgentFrame, ServerFrame};
use breeze_crypto::httpsig::profile::RequestParts;
use futures::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, RETRY_AFTER};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::SimError;
use crate::creds::AgentRecord;
use crate::http_agent::{completed, heartbeat_body};
use crate::run::RunCtx;
use crate::signing::{sign, upgrade_target_uri};

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

/// The upgrade request of `agent` to `url` (`ws://`): its bearer token and, for a bound
/// agent, the signature of a `GET` with no body over the URI the server rebuilds
/// (`http://` + `Host` + path).
///
/// # Errors
/// [`SimError::Local`] when the request cannot be built or signed.
pub fn upgrade_request(
    url: &str,
    agent: &AgentRecord,
) -> Result<tungstenite::handshake::client::Request, SimError> {
    let refused = |what: &str| SimError::Local(format!("upgrade request: {what}"));
    let mut request = url.into_client_request().map_err(|_| refused("url"))?;
    let mut auth =
        HeaderValue::from_str(&crate::http_agent::bearer(agent)).map_err(|_| refused("token"))?;
    auth.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, auth);
    if let Some(key) = agent.signing_key.as_deref() {
        let target_uri = upgrade_target_uri(&request)?;
        let parts = RequestParts {
            method: request.method().as_str(),
            target_uri: &target_uri,
            body: b"",
        };
        let fields = sign(key, agent.agent_id.as_str(), &parts)?;
        for (name, value) in fields {
            let value = HeaderValue::from_str(&value).map_err(|_| refused("signature"))?;
            request.headers_mut().insert(name, value);
        }
    }
    Ok(request)
}

async fn connect(ctx: &RunCtx, index: usize) -> Result<Ws, ConnectError> {
    let agent = ctx
        .agents
        .get(index)
        .ok_or_else(|| ConnectError::Failed("no_agent".into()))?;
    let url = ctx
        .target
        .ws_url(&breeze_agent::paths::websocket(&agent.agent_id));
    // signed here, at each attempt: a reconnect never replays an earlier nonce
    let request =
        upgrade_request(&url, agent).map_err(|_| ConnectError::Failed("ws_request".into()))?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use crate::admin::unix_now;

    use breeze_agent_proto::signing::{SIGNATURE_HEADER, SIGNATURE_INPUT_HEADER};
    use breeze_agent_proto::{AgentId, WireToken};
    use breeze_crypto::httpsig::DeviceSigningKey;
    use breeze_crypto::httpsig::profile::{self, ReceivedHeaders, VerifyPolicy};

    fn agent(key: Option<Arc<DeviceSigningKey>>) -> AgentRecord {
        AgentRecord {
            agent_id: AgentId::parse(&"d".repeat(64)).unwrap(),
            device_id: uuid::Uuid::new_v4(),
            org_id: uuid::Uuid::new_v4(),
            auth_token: WireToken::parse(&format!("brz_{}", "b".repeat(64))).unwrap(),
            signing_key: key,
        }
    }

    #[test]
    fn a_bound_agents_upgrade_is_signed_over_its_http_form() {
        let key = Arc::new(DeviceSigningKey::generate().unwrap());
        let agent = agent(Some(Arc::clone(&key)));
        let target = crate::target::Target::parse("http://127.0.0.1:3000").unwrap();
        let url = target.ws_url(&breeze_agent::paths::websocket(&agent.agent_id));
        let request = upgrade_request(&url, &agent).unwrap();
        let field = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        // the server rebuilds http:// + Host + path
        let rebuilt = format!(
            "http://{}{}",
            field("host").unwrap(),
            request.uri().path_and_query().unwrap()
        );
        assert_eq!(
            rebuilt,
            format!(
                "http://127.0.0.1:3000/api/v1/agent-ws/{}/ws",
                agent.agent_id.as_str()
            )
        );
        let now = unix_now();
        profile::verify_request(
            &key.public_key(),
            &RequestParts {
                method: "GET",
                target_uri: &rebuilt,
                body: b"",
            },
            &ReceivedHeaders {
                content_digest: field("content-digest"),
                signature_input: field(SIGNATURE_INPUT_HEADER),
                signature: field(SIGNATURE_HEADER),
            },
            &VerifyPolicy::new(profile::REQUEST_LABEL, agent.agent_id.as_str(), now),
        )
        .unwrap();
        assert!(field("content-digest").is_none());
        // a reconnect signs again, with a new nonce
        let again = upgrade_request(&url, &agent).unwrap();
        assert_ne!(
            again.headers().get(SIGNATURE_INPUT_HEADER),
            request.headers().get(SIGNATURE_INPUT_HEADER)
        );
    }

    #[test]
    fn an_unbound_agents_upgrade_carries_the_bearer_only() {
        let agent = agent(None);
        let request = upgrade_request("ws://127.0.0.1:3000/api/v1/agent-ws/x/ws", &agent).unwrap();
        assert!(request.headers().get(AUTHORIZATION).is_some());
        assert!(request.headers().get(SIGNATURE_INPUT_HEADER).is_none());
        assert!(request.headers().get(SIGNATURE_HEADER).is_none());
    }
}
