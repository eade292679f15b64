//! A small, dependency-free metrics registry and its Prometheus text exposition (SPEC 9).
//!
//! The registry is process-wide (one server per process): request counts by route pattern
//! and status class, a latency histogram per route pattern, rate-limit refusals. Gauges that
//! are read on demand (the database pool, the process's resident memory) are added when the
//! exposition is rendered. Labels are route patterns (`/api/v1/orgs/{orgId}`), never
//! concrete paths, query strings or anything a client chose freely.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// A latency histogram (cumulative buckets are computed at render time).
#[derive(Debug, Default)]
struct Histogram {
    /// Per-bucket counts (non-cumulative); the last slot is `+Inf`.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    count: u64,
    sum_micros: u64,
}

impl Histogram {
    fn observe(&mut self, latency: Duration) {
        let secs = latency.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(b) = self.buckets.get_mut(slot) {
            *b = b.saturating_add(1);
        }
        self.count = self.count.saturating_add(1);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros = self.sum_micros.saturating_add(micros);
    }
}

/// The registry.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (method, route pattern, status class) -> count.
    requests: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    /// route pattern -> latency histogram.
    latency: Mutex<BTreeMap<String, Histogram>>,
    rate_limited: AtomicU64,
    limiter_unavailable: AtomicU64,
    agent_admission_refused: AtomicU64,
    heartbeat_batches: AtomicU64,
    heartbeats_batched: AtomicU64,
    heartbeat_batch_failures: AtomicU64,
}

static GLOBAL: std::sync::OnceLock<Metrics> = std::sync::OnceLock::new();

/// The process-wide registry.
#[must_use]
pub fn global() -> &'static Metrics {
    GLOBAL.get_or_init(Metrics::default)
}

/// The status class label (`2xx`, ...).
#[must_use]
pub const fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, latency: Duration) {
        {
            let mut requests = self.requests.lock();
            let entry = requests
                .entry((method.to_owned(), route.to_owned(), status_class(status)))
                .or_insert(0);
            *entry = entry.saturating_add(1);
        }
        self.latency
            .lock()
            .entry(route.to_owned())
            .or_default()
            .observe(latency);
        if status == 429 {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a request refused because the rate limiter was unavailable (fail closed).
    pub fn record_limiter_unavailable(&self) {
        self.limiter_unavailable.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an agent request refused by admission control (429: the pool was busy).
    pub fn record_agent_admission_refused(&self) {
        self.agent_admission_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a committed heartbeat batch of `heartbeats`.
    pub fn record_heartbeat_batch(&self, heartbeats: usize) {
        self.heartbeat_batches.fetch_add(1, Ordering::Relaxed);
        self.heartbeats_batched.fetch_add(
            u64::try_from(heartbeats).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// (batches committed, heartbeats they recorded) so far.
    #[must_use]
    pub fn heartbeat_batch_counts(&self) -> (u64, u64) {
        (
            self.heartbeat_batches.load(Ordering::Relaxed),
            self.heartbeats_batched.load(Ordering::Relaxed),
        )
    }

    /// Records a heartbeat batch that failed (its heartbeats were answered with an error).
    pub fn record_heartbeat_batch_failed(&self) {
        self.heartbeat_batch_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Renders the Prometheus text exposition (format 0.0.4) with the on-demand gauges.
    #[must_use]
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP breeze_http_requests_total HTTP requests by method, route pattern and status class.\n\
             # TYPE breeze_http_requests_total counter\n",
        );
        for ((method, route, class), count) in self.requests.lock().iter() {
            let _ = writeln!(
                out,
                "breeze_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{class}\"}} {count}",
                escape(method),
                escape(route)
            );
        }
        out.push_str(
            "# HELP breeze_http_request_duration_seconds HTTP request latency by route pattern.\n\
             # TYPE breeze_http_request_duration_seconds histogram\n",
        );
        for (route, h) in self.latency.lock().iter() {
            let route = escape(route);
            let mut cumulative = 0u64;
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets.iter()) {
                cumulative = cumulative.saturating_add(*n);
                let _ = writeln!(
                    out,
                    "breeze_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "breeze_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            #[expect(
                clippy::cast_precision_loss,
                reason = "a latency sum in seconds for display"
            )]
            let sum = h.sum_micros as f64 / 1_000_000.0;
            let _ = writeln!(
                out,
                "breeze_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "breeze_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            );
        };
        counter(
            &mut out,
            "breeze_rate_limit_refusals_total",
            "Requests answered 429 by any rate limit.",
            self.rate_limited.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "breeze_rate_limiter_unavailable_total",
            "Requests refused with 503 because the rate limiter was unavailable.",
            self.limiter_unavailable.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "breeze_agent_admission_refusals_total",
            "Agent requests answered 429 because the agents' share of the database pool was busy.",
            self.agent_admission_refused.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "breeze_agent_heartbeat_batches_total",
            "Heartbeat batches committed (one transaction each).",
            self.heartbeat_batches.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "breeze_agent_heartbeats_batched_total",
            "Heartbeats recorded by committed batches.",
            self.heartbeats_batched.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "breeze_agent_heartbeat_batch_failures_total",
            "Heartbeat batches that failed; their heartbeats were answered with an error.",
            self.heartbeat_batch_failures.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "breeze_db_pool_connections",
            "Open connections in the database pool.",
            u64::from(gauges.pool_size),
        );
        gauge(
            &mut out,
            "breeze_db_pool_idle_connections",
            "Idle connections in the database pool.",
            u64::try_from(gauges.pool_idle).unwrap_or(u64::MAX),
        );
        if let Some(rss) = gauges.rss_bytes {
            gauge(
                &mut out,
                "process_resident_memory_bytes",
                "Resident memory of the process.",
                rss,
            );
        }
        out
    }
}

/// Figures read when the exposition is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Open pool connections.
    pub pool_size: u32,
    /// Idle pool connections.
    pub pool_idle: usize,
    /// Resident set size in bytes, when known.
    pub rss_bytes: Option<u64>,
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

/// The resident set size of the process from `/proc/self/status` (`VmRSS`, reported in kB
/// whatever the page size), `None` where that file does not exist.
#[must_use]
pub fn process_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record_request("GET", "/health", 200, Duration::from_millis(3));
        m.record_request("GET", "/health", 200, Duration::from_millis(30));
        m.record_request("GET", "/x\"y", 429, Duration::from_millis(1));
        let text = m.render(&Gauges {
            pool_size: 3,
            pool_idle: 2,
            rss_bytes: Some(4096),
        });
        assert!(text.contains(
            "breeze_http_requests_total{method=\"GET\",route=\"/health\",status=\"2xx\"} 2"
        ));
        assert!(text.contains("route=\"/x\\\"y\""));
        assert!(text.contains(
            "breeze_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "breeze_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("breeze_rate_limit_refusals_total 1"));
        assert!(text.contains("breeze_db_pool_connections 3"));
        assert!(text.contains("breeze_db_pool_idle_connections 2"));
        assert!(text.contains("process_resident_memory_bytes 4096"));
    }

    #[test]
    fn rss_is_read_on_linux() {
        let rss = process_rss_bytes().unwrap();
        assert!(rss > 0 && rss.is_multiple_of(1024));
    }
}
