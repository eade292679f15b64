//! The HTTP side of a simulated agent: one `reqwest` client per source address, the
//! heartbeat loop, and command results posted back. A bound agent (one enrolled with a
//! device key) signs each request over the exact bytes it sends ([`agent_post`]).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use breeze_agent::backoff::{jitter, parse_retry_after};
use breeze_agent_proto::result::{CommandResult, CommandStatus};
use breeze_agent_proto::{
    HeartbeatRequest, HeartbeatResponse, HeartbeatStatus, Informational, Message as _,
};
use breeze_core::tenancy::CommandId;
use breeze_crypto::httpsig::profile::RequestParts;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};

use crate::SimError;
use crate::addrs::SourcePool;
use crate::creds::AgentRecord;
use crate::run::RunCtx;
use crate::signing::{sign, with_fields};
use crate::target::Target;

/// Whole-request timeout of simulated agent calls.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What one agent call came to.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Answered and decoded.
    Ok(T),
    /// 429, with the server's `Retry-After` when it sent a valid one.
    RateLimited(Option<Duration>),
    /// Anything else, by kind (`http_503`, `timeout`, `connect`, `decode`).
    Failed(String),
}

/// The kind of a transport error.
#[must_use]
pub fn transport_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

/// Installs the ring crypto provider once: `reqwest` is built without one (the workspace
/// uses ring everywhere) and refuses to build a client until it is there, even for plain
/// HTTP.
pub fn ensure_crypto_provider() {
    // Err only means a provider is installed already
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One HTTP client per loopback source address.
#[derive(Debug, Clone)]
pub struct Clients {
    by_source: Vec<reqwest::Client>,
}

impl Clients {
    /// Builds the clients (plain HTTP to loopback: no TLS, no proxy, no redirects).
    ///
    /// # Errors
    /// [`SimError::Local`] when a client cannot be built.
    pub fn new(target: &Target, pool: &SourcePool) -> Result<Self, SimError> {
        ensure_crypto_provider();
        let sources: Vec<std::net::IpAddr> = if target.is_ipv4() {
            pool.all()
                .iter()
                .map(|a| std::net::IpAddr::V4(*a))
                .collect()
        } else {
            vec![std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)]
        };
        let by_source = sources
            .into_iter()
            .map(|ip| {
                reqwest::Client::builder()
                    .local_address(ip)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .connect_timeout(Duration::from_secs(10))
                    .timeout(REQUEST_TIMEOUT)
                    .pool_idle_timeout(Duration::from_secs(50))
                    .tcp_nodelay(true)
                    .user_agent(concat!("breeze-fleet-sim/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| SimError::Local(format!("http client: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { by_source })
    }

    /// The client of agent `index` (the same source address as its WebSocket).
    #[must_use]
    pub fn for_agent(&self, index: usize) -> Option<&reqwest::Client> {
        let i = index.checked_rem(self.by_source.len())?;
        self.by_source.get(i)
    }
}

/// Sends `req` and sorts the answer: 2xx decoded as `R`, 429 with its `Retry-After`, every
/// other status or failure by kind.
pub async fn exchange<R: breeze_agent_proto::Message>(req: reqwest::RequestBuilder) -> Outcome<R> {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(transport_kind(&e)),
    };
    let status = resp.status().as_u16();
    if status == 429 {
        let ra = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        return Outcome::RateLimited(ra);
    }
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return Outcome::Failed(transport_kind(&e)),
    };
    if !(200..300).contains(&status) {
        return Outcome::Failed(format!("http_{status}"));
    }
    match R::decode(&body) {
        Ok(d) => Outcome::Ok(d.into_message()),
        Err(_) => Outcome::Failed("decode".into()),
    }
}

/// The heartbeat body of a simulated agent.
#[must_use]
pub fn heartbeat_body(index: usize) -> String {
    let mut hb = HeartbeatRequest::new(HeartbeatStatus::Ok, crate::run::AGENT_VERSION);
    hb.hostname = Informational::Present(format!("sim-{index:06}"));
    hb.uptime = Informational::Present(86_400);
    hb.encode().unwrap_or_default()
}

/// A completed result for `command`, as the simulator answers every command.
#[must_use]
pub fn completed(command: CommandId) -> CommandResult {
    let mut r = CommandResult::new(command, CommandStatus::Completed);
    r.exit_code = Some(0);
    r.stdout = Some("ok".into());
    r.duration_ms = Some(1);
    r
}

/// The `Authorization` value of `agent` (its agent-role token: never logged).
#[must_use]
pub fn bearer(agent: &AgentRecord) -> String {
    format!("Bearer {}", agent.auth_token.expose_secret())
}

/// A JSON `POST` of `agent` to `url` with `body` and its bearer token; a bound agent signs
/// it (method, `url` as sent, and the digest of exactly these body bytes; `created` now, a
/// fresh nonce).
///
/// # Errors
/// [`SimError::Local`] when the request cannot be signed.
pub fn agent_post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    agent: &AgentRecord,
    bearer: &str,
    body: String,
) -> Result<reqwest::RequestBuilder, SimError> {
    let fields = agent
        .signing_key
        .as_deref()
        .map(|key| {
            let parts = RequestParts {
                method: "POST",
                target_uri: url.as_str(),
                body: body.as_bytes(),
            };
            sign(key, agent.agent_id.as_str(), &parts)
        })
        .transpose()?;
    let request = client
        .post(url.clone())
        .header(AUTHORIZATION, bearer)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    Ok(with_fields(request, fields))
}

/// The URL of `path` on the server, as `reqwest` sends it (and the agent signs it).
///
/// # Errors
/// [`SimError::Local`] when it does not parse.
pub fn agent_url(target: &Target, path: &str) -> Result<reqwest::Url, SimError> {
    reqwest::Url::parse(&target.http_url(path)).map_err(|e| SimError::Local(format!("url: {e}")))
}

/// Posts one command result over HTTP.
async fn post_result(ctx: &RunCtx, index: usize, agent: &AgentRecord, result: &CommandResult) {
    let Some(client) = ctx.clients.for_agent(index) else {
        return;
    };
    let Ok(body) = result.encode() else {
        ctx.stats.errors.count("encode");
        return;
    };
    let Ok(url) = agent_url(
        &ctx.target,
        &breeze_agent::paths::command_result(&agent.agent_id, result.command_id),
    ) else {
        ctx.stats.errors.count("result_url");
        return;
    };
    let Ok(req) = agent_post(client, &url, agent, &bearer(agent), body) else {
        ctx.stats.errors.count("result_sign");
        return;
    };
    match req.send().await {
        Ok(r) if r.status().is_success() => {
            ctx.stats
                .results_acked
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(r) if r.status().as_u16() == 429 => {
            ctx.stats
                .errors
                .rate_limited(r.headers().contains_key(RETRY_AFTER));
        }
        Ok(r) => ctx
            .stats
            .errors
            .count(&format!("result_http_{}", r.status().as_u16())),
        Err(e) => ctx.stats.errors.count(&transport_kind(&e)),
    }
}

/// The delay before the next heartbeat: `interval` shifted by up to `jitter_pct` percent
/// either way.
#[must_use]
pub fn next_interval(interval: Duration, jitter_pct: u32) -> Duration {
    let spread = interval.saturating_mul(jitter_pct.min(100)) / 100;
    interval.saturating_sub(spread) + jitter(spread.saturating_mul(2))
}

/// Heartbeats of agent `index` over HTTP until the run stops: a random first delay within
/// one interval (agents do not start in step), then every interval with jitter; a 429
/// waits at least its `Retry-After`.
pub async fn heartbeat_loop(ctx: Arc<RunCtx>, index: usize, interval: Duration, jitter_pct: u32) {
    let Some(agent) = ctx.agents.get(index).cloned() else {
        return;
    };
    let Some(client) = ctx.clients.for_agent(index).cloned() else {
        return;
    };
    let Ok(url) = agent_url(
        &ctx.target,
        &breeze_agent::paths::heartbeat(&agent.agent_id),
    ) else {
        ctx.stats.errors.count("heartbeat_url");
        return;
    };
    let bearer = bearer(&agent);
    // serialized once; a bound agent signs each send over these very bytes
    let body = heartbeat_body(index);
    let mut stop = ctx.stop.subscribe();
    let mut delay = jitter(interval);
    loop {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = crate::run::stopped(&mut stop) => return,
        }
        if *stop.borrow() {
            return;
        }
        delay = next_interval(interval, jitter_pct);
        // signed now: `created` is the send time, and the nonce is new for every request
        let Ok(req) = agent_post(&client, &url, &agent, &bearer, body.clone()) else {
            ctx.stats.errors.count("heartbeat_sign");
            continue;
        };
        let started = Instant::now();
        match exchange::<HeartbeatResponse>(req).await {
            Outcome::Ok(resp) => {
                ctx.stats.http_heartbeat.record(started.elapsed());
                for cmd in resp.commands {
                    ctx.on_command(index);
                    post_result(&ctx, index, &agent, &completed(cmd.id)).await;
                }
            }
            Outcome::RateLimited(ra) => {
                ctx.stats.errors.rate_limited(ra.is_some());
                delay = delay.max(ra.unwrap_or(Duration::ZERO));
            }
            Outcome::Failed(kind) => ctx.stats.errors.count(&format!("heartbeat_{kind}")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use crate::admin::unix_now;

    use std::sync::Arc;

    use breeze_agent_proto::signing::{
        CONTENT_DIGEST_HEADER, SIGNATURE_HEADER, SIGNATURE_INPUT_HEADER,
    };
    use breeze_agent_proto::{AgentId, WireToken};
    use breeze_crypto::httpsig::DeviceSigningKey;
    use breeze_crypto::httpsig::profile::{self, ReceivedHeaders, VerifyPolicy};

    fn agent(key: Option<Arc<DeviceSigningKey>>) -> AgentRecord {
        AgentRecord {
            agent_id: AgentId::parse(&"a".repeat(64)).unwrap(),
            device_id: uuid::Uuid::new_v4(),
            org_id: uuid::Uuid::new_v4(),
            auth_token: WireToken::parse(&format!("brz_{}", "b".repeat(64))).unwrap(),
            signing_key: key,
        }
    }

    fn client() -> reqwest::Client {
        ensure_crypto_provider();
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    fn field<'r>(req: &'r reqwest::Request, name: &str) -> Option<&'r str> {
        req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn a_bound_agents_heartbeat_is_signed_over_what_is_sent() {
        let key = Arc::new(DeviceSigningKey::generate().unwrap());
        let agent = agent(Some(Arc::clone(&key)));
        let target = Target::parse("http://127.0.0.1:3000").unwrap();
        let url = agent_url(&target, &breeze_agent::paths::heartbeat(&agent.agent_id)).unwrap();
        let req = agent_post(&client(), &url, &agent, &bearer(&agent), heartbeat_body(1))
            .unwrap()
            .build()
            .unwrap();
        // what goes on the wire: the URL, the body bytes and the three fields
        let sent_uri = req.url().as_str();
        assert_eq!(
            sent_uri,
            format!(
                "http://127.0.0.1:3000/api/v1/agents/{}/heartbeat",
                agent.agent_id.as_str()
            )
        );
        let body = req.body().and_then(reqwest::Body::as_bytes).unwrap();
        assert_eq!(body, heartbeat_body(1).as_bytes());
        let parts = RequestParts {
            method: req.method().as_str(),
            target_uri: sent_uri,
            body,
        };
        let headers = ReceivedHeaders {
            content_digest: field(&req, CONTENT_DIGEST_HEADER),
            signature_input: field(&req, SIGNATURE_INPUT_HEADER),
            signature: field(&req, SIGNATURE_HEADER),
        };
        let now = unix_now();
        let ok = profile::verify_request(
            &key.public_key(),
            &parts,
            &headers,
            &VerifyPolicy::new(profile::REQUEST_LABEL, agent.agent_id.as_str(), now),
        )
        .unwrap();
        assert!((now - 5..=now).contains(&ok.created), "{}", ok.created);
        // the bearer token still travels; the signature binds it to the device
        assert!(field(&req, "authorization").is_some_and(|v| v.starts_with("Bearer brz_")));

        // another body under the same fields is refused
        let other = heartbeat_body(2);
        assert!(
            profile::verify_request(
                &key.public_key(),
                &RequestParts {
                    body: other.as_bytes(),
                    ..parts
                },
                &headers,
                &VerifyPolicy::new(profile::REQUEST_LABEL, agent.agent_id.as_str(), now),
            )
            .is_err()
        );
    }

    #[test]
    fn an_unbound_agent_sends_no_signature() {
        let agent = agent(None);
        let target = Target::parse("http://127.0.0.1:3000").unwrap();
        let url = agent_url(&target, &breeze_agent::paths::heartbeat(&agent.agent_id)).unwrap();
        let req = agent_post(&client(), &url, &agent, &bearer(&agent), heartbeat_body(1))
            .unwrap()
            .build()
            .unwrap();
        for name in [
            CONTENT_DIGEST_HEADER,
            SIGNATURE_INPUT_HEADER,
            SIGNATURE_HEADER,
        ] {
            assert!(field(&req, name).is_none(), "{name}");
        }
    }

    #[test]
    fn intervals_stay_within_the_jitter_band() {
        let base = Duration::from_secs(10);
        for _ in 0..1000 {
            let d = next_interval(base, 20);
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
        }
        assert_eq!(next_interval(base, 0), base);
        // a silly percentage is capped, never underflows
        assert!(next_interval(base, 1000) <= Duration::from_secs(20));
    }

    #[test]
    fn heartbeat_body_is_a_valid_heartbeat() {
        let body = heartbeat_body(7);
        let hb = HeartbeatRequest::decode(body.as_bytes()).map(|d| d.into_message());
        assert!(matches!(hb, Ok(h) if h.hostname.get().map(String::as_str) == Some("sim-000007")));
    }
}
