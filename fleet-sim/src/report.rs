//! The final report: a serializable record of a run and its text rendering.

use std::fmt::Write as _;

use serde::Serialize;

use crate::procstat::Usage;
use crate::stats::{ErrorCounts, Percentiles};

/// The ramp (WebSocket runs), or the warm-up interval of HTTP-only runs (`connected` is 0
/// and `connect` holds the warm-up heartbeats).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RampReport {
    /// How long it took.
    pub seconds: f64,
    /// Sockets open at its end.
    pub connected: u64,
    /// Connect latency (TCP + upgrade + `connected`).
    pub connect: Percentiles,
    /// Errors while ramping.
    pub errors: ErrorCounts,
}

/// WebSockets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WsReport {
    /// Open at the end of the window.
    pub held_at_end: u64,
    /// Most open at once.
    pub peak: u64,
    /// Successful connects, reconnects included.
    pub connects: u64,
}

/// Heartbeats of one lane over the window.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatReport {
    /// Answered heartbeats.
    pub count: u64,
    /// Answered heartbeats per second.
    pub per_second: f64,
    /// Round-trip latency.
    pub latency: Percentiles,
}

/// A command queued for every agent at once.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastReport {
    /// Agents targeted.
    pub targeted: usize,
    /// Commands the server said it queued.
    pub queued: usize,
    /// Agents that received it.
    pub delivered: usize,
    /// The bulk call's own time.
    pub queue_call_ms: f64,
    /// From the call to the last delivery, when every agent got it.
    pub all_delivered_within_ms: Option<f64>,
    /// Per-agent delivery time, from the call.
    pub delivery: Percentiles,
    /// Results the server acknowledged.
    pub results_acked: u64,
}

/// A reconnect storm.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StormReport {
    /// Agents dropped.
    pub agents: usize,
    /// Successful reconnects within the storm's timeout.
    pub reconnected: u64,
    /// Seconds until every agent was back.
    pub all_back_within_s: Option<f64>,
    /// Reconnect latency.
    pub reconnect: Percentiles,
    /// Errors during the storm (429s apart).
    pub errors: ErrorCounts,
    /// Server usage during the storm.
    pub server: Option<Usage>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Agents simulated.
    pub agents: usize,
    /// Source addresses used.
    pub source_addrs: usize,
    /// Whether every agent is bound to a device key (SPEC 17): every HTTP request and
    /// WebSocket upgrade was signed. A run with and one without are otherwise alike.
    pub keys_bound: bool,
    /// Agents bound to a key (signing); `agents` when `keys_bound`, 0 for a bearer-only run.
    pub signing_agents: usize,
    /// The ramp (WebSocket runs).
    pub ramp: Option<RampReport>,
    /// Length of the measured window.
    pub window_seconds: f64,
    /// WebSockets.
    pub websockets: Option<WsReport>,
    /// HTTP heartbeats.
    pub http_heartbeats: Option<HeartbeatReport>,
    /// WebSocket heartbeats.
    pub ws_heartbeats: Option<HeartbeatReport>,
    /// Heartbeat interval.
    pub heartbeat_interval_s: Option<f64>,
    /// The command event.
    pub broadcast: Option<BroadcastReport>,
    /// The storm event.
    pub storm: Option<StormReport>,
    /// Errors in the window (429s apart).
    pub errors: ErrorCounts,
    /// Commands received by agents.
    pub commands_received: u64,
    /// Results acknowledged.
    pub results_acked: u64,
    /// Server process watched.
    pub server_pid: Option<u32>,
    /// Server usage over the window.
    pub server: Option<Usage>,
    /// Server usage over the whole run (ramp included).
    pub server_whole_run: Option<Usage>,
    /// The simulator's own usage.
    pub simulator: Option<Usage>,
}

fn pct(p: &Percentiles) -> String {
    format!(
        "n={} p50={:.1}ms p95={:.1}ms p99={:.1}ms max={:.1}ms",
        p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
    )
}

fn errors(e: &ErrorCounts) -> String {
    let mut s = format!(
        "429 with Retry-After: {}, 429 without: {}, other: {}",
        e.rate_limited,
        e.rate_limited_without_retry_after,
        e.hard()
    );
    for (k, v) in &e.by_kind {
        let _ = write!(s, " [{k}: {v}]");
    }
    s
}

fn usage(u: &Usage) -> String {
    format!(
        "RSS {:.1} MiB (peak sampled {:.1} MiB, VmHWM {:.1} MiB), CPU {:.1}% of one core ({:.1} s), {} threads",
        u.rss_mib, u.rss_peak_mib, u.hwm_mib, u.cpu_percent, u.cpu_seconds, u.threads
    )
}

impl Report {
    fn keys_line(&self) -> String {
        if self.keys_bound {
            format!(
                "bound ({} agents sign every request and WebSocket upgrade, RFC 9421 ed25519)",
                self.signing_agents
            )
        } else if self.signing_agents == 0 {
            "not bound (bearer tokens only, no request signatures)".to_owned()
        } else {
            format!(
                "partly bound ({} of {} agents sign their requests)",
                self.signing_agents, self.agents
            )
        }
    }

    /// The report as text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "== breeze-fleet-sim report");
        let _ = writeln!(
            s,
            "agents: {} from {} loopback source addresses; measured window {:.1} s",
            self.agents, self.source_addrs, self.window_seconds
        );
        let _ = writeln!(s, "device keys: {}", self.keys_line());
        if let (Some(r), None) = (&self.ramp, &self.websockets) {
            let _ = writeln!(
                s,
                "warm-up (one interval, not measured): {:.1} s; heartbeats {}\n  warm-up errors: {}",
                r.seconds,
                pct(&r.connect),
                errors(&r.errors)
            );
        } else if let Some(r) = &self.ramp {
            let _ = writeln!(
                s,
                "ramp: {} connected in {:.1} s; connect {}\n  ramp errors: {}",
                r.connected,
                r.seconds,
                pct(&r.connect),
                errors(&r.errors)
            );
        }
        if let Some(w) = &self.websockets {
            let _ = writeln!(
                s,
                "websockets: held at end {}, peak {}, connects {}",
                w.held_at_end, w.peak, w.connects
            );
        }
        let interval = self
            .heartbeat_interval_s
            .map(|i| format!(" (interval {i:.0} s)"))
            .unwrap_or_default();
        for (lane, h) in [("http", &self.http_heartbeats), ("ws", &self.ws_heartbeats)] {
            if let Some(h) = h {
                let _ = writeln!(
                    s,
                    "{lane} heartbeats{interval}: {:.1}/s; latency {}",
                    h.per_second,
                    pct(&h.latency)
                );
            }
        }
        if let Some(b) = &self.broadcast {
            let all = b.all_delivered_within_ms.map_or_else(
                || "NOT all delivered".to_owned(),
                |ms| format!("all within {ms:.0} ms"),
            );
            let _ = writeln!(
                s,
                "command for every agent: targeted {}, queued {}, delivered {} ({all}); bulk call {:.0} ms; delivery {}; results acked {}",
                b.targeted,
                b.queued,
                b.delivered,
                b.queue_call_ms,
                pct(&b.delivery),
                b.results_acked
            );
        }
        if let Some(st) = &self.storm {
            let back = st.all_back_within_s.map_or_else(
                || "NOT all back".to_owned(),
                |t| format!("all back within {t:.1} s"),
            );
            let _ = writeln!(
                s,
                "reconnect storm: {} dropped, {} reconnected ({back}); reconnect {}\n  storm errors: {}",
                st.agents,
                st.reconnected,
                pct(&st.reconnect),
                errors(&st.errors)
            );
            if let Some(u) = &st.server {
                let _ = writeln!(s, "  server during the storm: {}", usage(u));
            }
        }
        let _ = writeln!(
            s,
            "commands received {}, results acked {}",
            self.commands_received, self.results_acked
        );
        let _ = writeln!(s, "window errors: {}", errors(&self.errors));
        if let (Some(pid), Some(u)) = (self.server_pid, &self.server) {
            let _ = writeln!(s, "server (pid {pid}) over the window: {}", usage(u));
        }
        if let Some(u) = &self.server_whole_run {
            let _ = writeln!(s, "server over the whole run: {}", usage(u));
        }
        if let Some(u) = &self.simulator {
            let _ = writeln!(s, "simulator: {}", usage(u));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(agents: usize, signing_agents: usize) -> Report {
        Report {
            agents,
            source_addrs: 1,
            keys_bound: agents > 0 && signing_agents == agents,
            signing_agents,
            ramp: None,
            window_seconds: 1.0,
            websockets: None,
            http_heartbeats: None,
            ws_heartbeats: None,
            heartbeat_interval_s: None,
            broadcast: None,
            storm: None,
            errors: ErrorCounts::default(),
            commands_received: 0,
            results_acked: 0,
            server_pid: None,
            server: None,
            server_whole_run: None,
            simulator: None,
        }
    }

    #[test]
    fn a_bound_run_and_a_bearer_run_are_told_apart() {
        let bound = report(10, 10);
        assert!(
            bound
                .render()
                .contains("device keys: bound (10 agents sign")
        );
        let json = serde_json::to_value(&bound).unwrap_or_default();
        assert_eq!(json.get("keysBound"), Some(&serde_json::Value::Bool(true)));
        assert_eq!(json.get("signingAgents"), Some(&serde_json::json!(10)));
        let plain = report(10, 0);
        assert!(plain.render().contains("device keys: not bound"));
        assert_eq!(
            serde_json::to_value(&plain)
                .unwrap_or_default()
                .get("keysBound"),
            Some(&serde_json::Value::Bool(false))
        );
        assert!(report(10, 3).render().contains("partly bound (3 of 10"));
    }
}
