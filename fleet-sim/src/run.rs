//! `run`: holds a fleet against the server for a bounded time, with optional events (a
//! command for every agent at once, a reconnect storm), and measures it.
//!
//! Timeline: ramp (WebSockets opened at `ramp_rate` per second, progress bar) -> measured
//! window of `duration` (counters reset at its start; the events fire at their offsets
//! inside it) -> every socket closed -> report.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::watch;

use crate::SimError;
use crate::addrs::SourcePool;
use crate::admin::{Admin, AdminLogin};
use crate::creds::AgentRecord;
use crate::http_agent::Clients;
use crate::procstat::{Usage, Watch};
use crate::report::{BroadcastReport, HeartbeatReport, RampReport, Report, StormReport, WsReport};
use crate::stats::{Latency, Stats};
use crate::target::Target;

/// The agent version the simulator announces.
pub const AGENT_VERSION: &str = concat!("fleet-sim/", env!("CARGO_PKG_VERSION"));
/// Longest measured window.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Most agents in one run.
pub const MAX_AGENTS: usize = 100_000;
/// Devices per bulk request (the server's limit).
pub const BULK_CHUNK: usize = 10_000;

/// Where heartbeats go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatLane {
    /// `POST /api/v1/agents/{agentId}/heartbeat`.
    Http,
    /// A `heartbeat` frame on the agent's WebSocket.
    Ws,
}

/// Heartbeat plan.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeats {
    /// Interval between an agent's heartbeats.
    pub interval: Duration,
    /// Jitter, percent of the interval either way.
    pub jitter_pct: u32,
    /// Lane.
    pub lane: HeartbeatLane,
}

/// A command for every agent at once.
#[derive(Debug, Clone)]
pub struct Broadcast {
    /// Offset into the measured window.
    pub at: Duration,
    /// How to log in as an administrator.
    pub login: AdminLogin,
    /// How long to wait for every delivery.
    pub timeout: Duration,
}

/// A reconnect storm.
#[derive(Debug, Clone, Copy)]
pub struct Storm {
    /// Offset into the measured window.
    pub at: Duration,
    /// How long to wait for every agent to be back.
    pub timeout: Duration,
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server.
    pub target: Target,
    /// The agents (from `enroll`).
    pub agents: Vec<AgentRecord>,
    /// Loopback source addresses.
    pub source_addrs: usize,
    /// Hold one WebSocket per agent.
    pub websockets: bool,
    /// Heartbeats, if any.
    pub heartbeats: Option<Heartbeats>,
    /// WebSocket connects per second while ramping.
    pub ramp_rate: u32,
    /// Longest ramp.
    pub ramp_timeout: Duration,
    /// Measured window.
    pub duration: Duration,
    /// Command event.
    pub broadcast: Option<Broadcast>,
    /// Storm event.
    pub storm: Option<Storm>,
    /// Server process to read RSS and CPU of.
    pub server_pid: Option<u32>,
    /// Draw progress on stderr.
    pub progress: bool,
}

struct Tracking {
    started: Instant,
    pending: HashSet<usize>,
    latency: Arc<Latency>,
}

/// Shared by every agent task of a run.
pub struct RunCtx {
    /// The server.
    pub target: Target,
    /// Source addresses.
    pub pool: SourcePool,
    /// HTTP clients (one per source address).
    pub clients: Clients,
    /// The agents.
    pub agents: Vec<Arc<AgentRecord>>,
    /// Counters.
    pub stats: Stats,
    /// Set to true to end the run.
    pub stop: watch::Sender<bool>,
    /// Bumped to drop every socket at once.
    pub storm: watch::Sender<u64>,
    /// Interval of WebSocket heartbeats, if they go that way.
    pub ws_heartbeat: Option<Duration>,
    /// Heartbeat jitter percent.
    pub jitter_pct: u32,
    ramp: tokio::sync::Mutex<tokio::time::Interval>,
    broadcast: Mutex<Option<Tracking>>,
}

impl std::fmt::Debug for RunCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCtx")
            .field("target", &self.target)
            .field("agents", &self.agents.len())
            .finish_non_exhaustive()
    }
}

impl RunCtx {
    /// Whether the run is ending.
    #[must_use]
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Waits for the ramp's next connect slot.
    pub async fn ramp_permit(&self) {
        self.ramp.lock().await.tick().await;
    }

    /// Agent `index` received a command (either lane).
    pub fn on_command(&self, index: usize) {
        self.stats.commands_received.fetch_add(1, Ordering::Relaxed);
        let mut b = self.broadcast.lock();
        if let Some(t) = b.as_mut()
            && t.pending.remove(&index)
        {
            t.latency.record(t.started.elapsed());
        }
    }
}

/// Resolves once `stop` reads true (at once if it already does).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A progress bar on stderr (hidden when `enabled` is false).
#[must_use]
pub fn bar(enabled: bool, len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(u64::try_from(len).unwrap_or(u64::MAX)),
        if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}) {prefix}",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    pb
}

fn usage_of(w: Option<&mut Watch>) -> Option<Usage> {
    w.and_then(|w| w.usage().ok())
}

async fn do_broadcast(ctx: &RunCtx, b: &Broadcast) -> Result<BroadcastReport, SimError> {
    let admin = Admin::login(&ctx.target, &b.login).await?;
    let latency = Arc::new(Latency::default());
    let targeted = ctx.agents.len();
    let acked_before = ctx.stats.results_acked.load(Ordering::Relaxed);
    let started = Instant::now();
    *ctx.broadcast.lock() = Some(Tracking {
        started,
        pending: (0..targeted).collect(),
        latency: Arc::clone(&latency),
    });
    let ids: Vec<String> = ctx.agents.iter().map(|a| a.device_id.to_string()).collect();
    let mut queued = 0usize;
    for chunk in ids.chunks(BULK_CHUNK) {
        let answer = admin
            .post(
                "/api/v1/commands/bulk",
                &json!({"deviceIds": chunk, "type": "collect_inventory", "payload": {}}),
            )
            .await;
        match answer {
            Ok(v) => {
                queued += v
                    .get("count")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0);
            }
            Err(e) => {
                *ctx.broadcast.lock() = None;
                return Err(e);
            }
        }
    }
    let api = started.elapsed();
    let deadline = started + b.timeout;
    loop {
        let left = ctx.broadcast.lock().as_ref().map_or(0, |t| t.pending.len());
        if left == 0 || Instant::now() >= deadline || ctx.stopping() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_in = started.elapsed();
    let pending = ctx.broadcast.lock().take().map_or(0, |t| t.pending.len());
    // give the results a moment to be acknowledged
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = latency.percentiles();
    Ok(BroadcastReport {
        targeted,
        queued,
        delivered: targeted.saturating_sub(pending),
        queue_call_ms: api.as_secs_f64() * 1000.0,
        all_delivered_within_ms: (pending == 0).then_some(all_in.as_secs_f64() * 1000.0),
        delivery: p,
        results_acked: ctx
            .stats
            .results_acked
            .load(Ordering::Relaxed)
            .saturating_sub(acked_before),
    })
}

async fn do_storm(ctx: &RunCtx, s: &Storm, watch: Option<&mut Watch>) -> StormReport {
    let n = u64::try_from(ctx.agents.len()).unwrap_or(u64::MAX);
    let errors_before = ctx.stats.errors.snapshot();
    ctx.stats.errors.reset();
    ctx.stats.ws_connect.reset();
    let mut server = watch.and_then(|w| Watch::start(w.pid()).ok());
    let connects_before = ctx.stats.ws_connects.load(Ordering::Relaxed);
    let started = Instant::now();
    ctx.storm.send_modify(|g| *g = g.wrapping_add(1));
    let deadline = started + s.timeout;
    let mut back_within = None;
    while Instant::now() < deadline && !ctx.stopping() {
        let back = ctx
            .stats
            .ws_connects
            .load(Ordering::Relaxed)
            .saturating_sub(connects_before);
        if let Some(w) = server.as_mut() {
            w.tick();
        }
        if back >= n {
            back_within = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reconnected = ctx
        .stats
        .ws_connects
        .load(Ordering::Relaxed)
        .saturating_sub(connects_before);
    let errors = ctx.stats.errors.snapshot();
    // the window's counts go on from where they were
    ctx.stats.errors.add(&errors_before);
    StormReport {
        agents: ctx.agents.len(),
        reconnected,
        all_back_within_s: back_within.map(|d| d.as_secs_f64()),
        reconnect: ctx.stats.ws_connect.percentiles(),
        errors,
        server: usage_of(server.as_mut()),
    }
}

/// Runs `opts` and reports.
///
/// # Errors
/// [`SimError::Argument`] for options out of range; [`SimError::Server`] when an event's
/// administrator call is refused.
#[allow(clippy::too_many_lines, reason = "one timeline, read top to bottom")]
pub async fn run(opts: Options) -> Result<Report, SimError> {
    if opts.agents.is_empty() || opts.agents.len() > MAX_AGENTS {
        return Err(SimError::Argument(
            "--agents",
            format!("must be 1 to {MAX_AGENTS}"),
        ));
    }
    if opts.duration.is_zero() || opts.duration > MAX_DURATION {
        return Err(SimError::Argument(
            "--duration",
            "must be 1 to 3600 seconds".into(),
        ));
    }
    if opts.ramp_rate == 0 {
        return Err(SimError::Argument(
            "--ramp-rate",
            "must be at least 1".into(),
        ));
    }
    if !opts.websockets && opts.heartbeats.is_none_or(|h| h.lane == HeartbeatLane::Ws) {
        return Err(SimError::Argument(
            "--ws",
            "nothing to do: hold WebSockets, or send heartbeats over HTTP".into(),
        ));
    }
    if !opts.websockets && (opts.storm.is_some() || opts.broadcast.is_some()) {
        return Err(SimError::Argument(
            "--ws",
            "storms and commands need --ws".into(),
        ));
    }
    if let Some(h) = opts.heartbeats
        && (h.interval < Duration::from_secs(1) || h.interval > Duration::from_secs(3600))
    {
        return Err(SimError::Argument(
            "--heartbeat-interval",
            "must be 1 to 3600 seconds".into(),
        ));
    }
    let pool = SourcePool::new(opts.source_addrs)?;
    let clients = Clients::new(&opts.target, &pool)?;
    let n = opts.agents.len();
    // agents enrolled with a device key sign everything they send (SPEC 17)
    let signing_agents = opts
        .agents
        .iter()
        .filter(|a| a.signing_key.is_some())
        .count();
    let mut ramp = tokio::time::interval(Duration::from_secs(1) / opts.ramp_rate);
    ramp.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctx = Arc::new(RunCtx {
        target: opts.target.clone(),
        pool,
        clients,
        agents: opts.agents.into_iter().map(Arc::new).collect(),
        stats: Stats::default(),
        stop: watch::channel(false).0,
        storm: watch::channel(0).0,
        ws_heartbeat: opts
            .heartbeats
            .filter(|h| h.lane == HeartbeatLane::Ws)
            .map(|h| h.interval),
        jitter_pct: opts.heartbeats.map_or(0, |h| h.jitter_pct),
        ramp: tokio::sync::Mutex::new(ramp),
        broadcast: Mutex::new(None),
    });
    let mut server_run = opts.server_pid.map(Watch::start).transpose()?;
    let mut me = Watch::start(std::process::id())?;

    let mut tasks = tokio::task::JoinSet::new();
    if opts.websockets {
        for i in 0..n {
            tasks.spawn(crate::ws_agent::agent_loop(Arc::clone(&ctx), i));
        }
    }
    if let Some(h) = opts.heartbeats.filter(|h| h.lane == HeartbeatLane::Http) {
        for i in 0..n {
            tasks.spawn(crate::http_agent::heartbeat_loop(
                Arc::clone(&ctx),
                i,
                h.interval,
                h.jitter_pct,
            ));
        }
    }

    // --- ramp ---------------------------------------------------------------------------
    let ramp_started = Instant::now();
    let ramp_report = if opts.websockets {
        let pb = bar(opts.progress, n, "ramping");
        let goal = u64::try_from(n).unwrap_or(u64::MAX);
        while ctx.stats.open() < goal && ramp_started.elapsed() < opts.ramp_timeout {
            pb.set_position(ctx.stats.open());
            let e = ctx.stats.errors.snapshot();
            pb.set_prefix(format!("429: {} errors: {}", e.rate_limited, e.hard()));
            if let Some(w) = server_run.as_mut() {
                w.tick();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pb.finish_and_clear();
        Some(RampReport {
            seconds: ramp_started.elapsed().as_secs_f64(),
            connected: ctx.stats.open(),
            connect: ctx.stats.ws_connect.percentiles(),
            errors: ctx.stats.errors.snapshot(),
        })
    } else {
        // HTTP only: one interval of warm-up (every agent has sent its first heartbeat and
        // the connection pools are open) before the window
        let warm = opts.heartbeats.map_or(Duration::ZERO, |h| h.interval);
        let pb = bar(
            opts.progress,
            usize::try_from(warm.as_secs()).unwrap_or(0),
            "warming",
        );
        while ramp_started.elapsed() < warm {
            pb.set_position(ramp_started.elapsed().as_secs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        pb.finish_and_clear();
        Some(RampReport {
            seconds: ramp_started.elapsed().as_secs_f64(),
            connected: 0,
            connect: ctx.stats.http_heartbeat.percentiles(),
            errors: ctx.stats.errors.snapshot(),
        })
    };
    ctx.stats.errors.reset();
    ctx.stats.http_heartbeat.reset();
    ctx.stats.ws_heartbeat.reset();
    ctx.stats.ws_connect.reset();

    // --- measured window ----------------------------------------------------------------
    let mut server_window = opts.server_pid.map(Watch::start).transpose()?;
    let window_started = Instant::now();
    let mut broadcast_report = None;
    let mut storm_report = None;
    let mut broadcast = opts.broadcast.clone();
    let mut storm = opts.storm;
    let pb = bar(
        opts.progress,
        usize::try_from(opts.duration.as_secs()).unwrap_or(0),
        "holding",
    );
    let mut last_count = 0u64;
    let mut last_tick = Instant::now();
    loop {
        let elapsed = window_started.elapsed();
        if let Some(b) = broadcast.as_ref().filter(|b| elapsed >= b.at) {
            pb.set_prefix("command for every agent...".to_owned());
            broadcast_report = Some(do_broadcast(&ctx, b).await);
            broadcast = None;
        }
        if let Some(s) = storm.filter(|s| elapsed >= s.at) {
            pb.set_prefix("reconnect storm...".to_owned());
            storm_report = Some(do_storm(&ctx, &s, server_window.as_mut()).await);
            storm = None;
        }
        if elapsed >= opts.duration && broadcast.is_none() && storm.is_none() {
            break;
        }
        if let Some(w) = server_window.as_mut() {
            w.tick();
        }
        if let Some(w) = server_run.as_mut() {
            w.tick();
        }
        me.tick();
        let count = ctx.stats.http_heartbeat.count() + ctx.stats.ws_heartbeat.count();
        let rate = f64::from(u32::try_from(count.saturating_sub(last_count)).unwrap_or(u32::MAX))
            / last_tick.elapsed().as_secs_f64().max(1e-3);
        last_count = count;
        last_tick = Instant::now();
        let e = ctx.stats.errors.snapshot();
        pb.set_position(elapsed.as_secs());
        pb.set_prefix(format!(
            "open {} | heartbeats/s {rate:.0} | 429 {} | errors {}",
            ctx.stats.open(),
            e.rate_limited,
            e.hard()
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    pb.finish_and_clear();
    let window = window_started.elapsed();
    let held = ctx.stats.open();
    let server = usage_of(server_window.as_mut());
    let server_whole = usage_of(server_run.as_mut());
    let errors = ctx.stats.errors.snapshot();

    // --- stop ---------------------------------------------------------------------------
    ctx.stop.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();

    let heartbeat = |l: &Latency| {
        let p = l.percentiles();
        HeartbeatReport {
            count: p.count,
            per_second: f64::from(u32::try_from(p.count).unwrap_or(u32::MAX))
                / window.as_secs_f64().max(1e-3),
            latency: p,
        }
    };
    let hb = opts.heartbeats;
    Ok(Report {
        agents: n,
        source_addrs: opts.source_addrs,
        keys_bound: signing_agents == n,
        signing_agents,
        ramp: ramp_report,
        window_seconds: window.as_secs_f64(),
        websockets: opts.websockets.then(|| WsReport {
            held_at_end: held,
            peak: ctx.stats.ws_open_peak.load(Ordering::Relaxed),
            connects: ctx.stats.ws_connects.load(Ordering::Relaxed),
        }),
        http_heartbeats: hb
            .filter(|h| h.lane == HeartbeatLane::Http)
            .map(|_| heartbeat(&ctx.stats.http_heartbeat)),
        ws_heartbeats: hb
            .filter(|h| h.lane == HeartbeatLane::Ws)
            .map(|_| heartbeat(&ctx.stats.ws_heartbeat)),
        heartbeat_interval_s: hb.map(|h| h.interval.as_secs_f64()),
        broadcast: broadcast_report.transpose()?,
        storm: storm_report,
        errors,
        commands_received: ctx.stats.commands_received.load(Ordering::Relaxed),
        results_acked: ctx.stats.results_acked.load(Ordering::Relaxed),
        server_pid: opts.server_pid,
        server,
        server_whole_run: server_whole,
        simulator: me.usage().ok(),
    })
}
