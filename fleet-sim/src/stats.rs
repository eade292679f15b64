//! What a run measured: latency histograms, counters, and errors by kind (429 apart).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// Highest latency recorded exactly (longer ones are clamped to it): 10 minutes.
const MAX_MICROS: u64 = 600_000_000;

/// A latency histogram in microseconds (3 significant figures).
#[derive(Debug)]
pub struct Latency {
    // 1 us .. 10 min at 3 significant figures; `None` only if those constant bounds were
    // ever refused, in which case nothing is recorded (and the report shows no samples)
    hist: Mutex<Option<Histogram<u64>>>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            hist: Mutex::new(Histogram::new_with_bounds(1, MAX_MICROS, 3).ok()),
        }
    }
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

#[allow(
    clippy::cast_precision_loss,
    reason = "microsecond counts far below 2^52 shown as milliseconds"
)]
fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

impl Latency {
    /// Records one sample.
    pub fn record(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(MAX_MICROS);
        if let Some(h) = self.hist.lock().as_mut() {
            h.saturating_record(micros.clamp(1, MAX_MICROS));
        }
    }

    /// Current percentiles.
    #[must_use]
    pub fn percentiles(&self) -> Percentiles {
        let guard = self.hist.lock();
        let Some(h) = guard.as_ref().filter(|h| !h.is_empty()) else {
            return Percentiles::default();
        };
        Percentiles {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }

    /// Samples recorded (cheap: no percentile walk).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.hist.lock().as_ref().map_or(0, Histogram::len)
    }

    /// Forgets every sample (the measured window starts after the ramp).
    pub fn reset(&self) {
        if let Some(h) = self.hist.lock().as_mut() {
            h.reset();
        }
    }
}

/// Errors by kind (`http_503`, `connect`, `timeout`, `ws_close_4002`, ...). Rate limiting is
/// counted apart, with or without a `Retry-After` header.
#[derive(Debug, Default)]
pub struct Errors {
    kinds: Mutex<BTreeMap<String, u64>>,
    rate_limited: AtomicU64,
    rate_limited_without_retry_after: AtomicU64,
}

/// A snapshot of [`Errors`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCounts {
    /// 429 answers that carried `Retry-After` (the expected answer to overload).
    pub rate_limited: u64,
    /// 429 answers without `Retry-After` (a server defect).
    pub rate_limited_without_retry_after: u64,
    /// Every other error, by kind.
    pub by_kind: BTreeMap<String, u64>,
}

impl ErrorCounts {
    /// Errors other than 429 with `Retry-After`.
    #[must_use]
    pub fn hard(&self) -> u64 {
        self.by_kind
            .values()
            .sum::<u64>()
            .saturating_add(self.rate_limited_without_retry_after)
    }
}

impl Errors {
    /// Counts an error of `kind`.
    pub fn count(&self, kind: &str) {
        let mut k = self.kinds.lock();
        *k.entry(kind.to_owned()).or_default() += 1;
    }

    /// Counts a 429; `retry_after` says whether the header was there.
    pub fn rate_limited(&self, retry_after: bool) {
        if retry_after {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        } else {
            self.rate_limited_without_retry_after
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A snapshot.
    #[must_use]
    pub fn snapshot(&self) -> ErrorCounts {
        ErrorCounts {
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            rate_limited_without_retry_after: self
                .rate_limited_without_retry_after
                .load(Ordering::Relaxed),
            by_kind: self.kinds.lock().clone(),
        }
    }

    /// Adds the counts of `other` (a snapshot taken before a [`Errors::reset`]).
    pub fn add(&self, other: &ErrorCounts) {
        let mut k = self.kinds.lock();
        for (kind, n) in &other.by_kind {
            let e = k.entry(kind.clone()).or_default();
            *e = e.saturating_add(*n);
        }
        self.rate_limited
            .fetch_add(other.rate_limited, Ordering::Relaxed);
        self.rate_limited_without_retry_after
            .fetch_add(other.rate_limited_without_retry_after, Ordering::Relaxed);
    }

    /// Forgets every count.
    pub fn reset(&self) {
        self.kinds.lock().clear();
        self.rate_limited.store(0, Ordering::Relaxed);
        self.rate_limited_without_retry_after
            .store(0, Ordering::Relaxed);
    }
}

/// Everything a run counts, shared by every agent task.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP heartbeat round trips (answered 200).
    pub http_heartbeat: Latency,
    /// WebSocket heartbeat round trips (`heartbeat` -> `heartbeat_ack`).
    pub ws_heartbeat: Latency,
    /// WebSocket connects (TCP + upgrade + `connected`).
    pub ws_connect: Latency,
    /// Errors.
    pub errors: Errors,
    /// Sockets open now.
    pub ws_open: AtomicU64,
    /// Most sockets open at once.
    pub ws_open_peak: AtomicU64,
    /// Successful connects (first ones and reconnects).
    pub ws_connects: AtomicU64,
    /// Commands received (either lane).
    pub commands_received: AtomicU64,
    /// Results acknowledged by the server.
    pub results_acked: AtomicU64,
}

impl Stats {
    /// A socket opened.
    pub fn opened(&self) {
        let now = self.ws_open.fetch_add(1, Ordering::Relaxed) + 1;
        self.ws_open_peak.fetch_max(now, Ordering::Relaxed);
        self.ws_connects.fetch_add(1, Ordering::Relaxed);
    }

    /// A socket closed.
    pub fn closed(&self) {
        let _ = self
            .ws_open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
    }

    /// Sockets open now.
    #[must_use]
    pub fn open(&self) -> u64 {
        self.ws_open.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "test code")]
    use super::*;

    #[test]
    fn percentiles_follow_the_samples() {
        let l = Latency::default();
        assert_eq!(l.percentiles(), Percentiles::default());
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let p = l.percentiles();
        assert_eq!(p.count, 100);
        assert!((p.p50_ms - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99_ms - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max_ms - 100.0).abs() < 0.1, "{p:?}");
        // out-of-range samples are clamped, never dropped or panicking
        l.record(Duration::from_secs(7200));
        l.record(Duration::ZERO);
        assert_eq!(l.percentiles().count, 102);
        l.reset();
        assert_eq!(l.percentiles().count, 0);
    }

    #[test]
    fn rate_limits_are_apart_from_hard_errors() {
        let e = Errors::default();
        e.rate_limited(true);
        e.rate_limited(true);
        assert_eq!(e.snapshot().hard(), 0);
        e.rate_limited(false);
        e.count("http_503");
        e.count("http_503");
        let s = e.snapshot();
        assert_eq!(s.rate_limited, 2);
        assert_eq!(s.by_kind.get("http_503"), Some(&2));
        assert_eq!(s.hard(), 3);
    }

    #[test]
    fn open_sockets_track_the_peak() {
        let s = Stats::default();
        s.opened();
        s.opened();
        s.closed();
        s.closed();
        s.closed();
        assert_eq!(s.open(), 0);
        assert_eq!(s.ws_open_peak.load(Ordering::Relaxed), 2);
        assert_eq!(s.ws_connects.load(Ordering::Relaxed), 2);
    }
}
