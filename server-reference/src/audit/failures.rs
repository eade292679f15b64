//! Aggregated audit of unauthenticated failures on the system chain (issue 15, finding 17).
//!
//! Unauthenticated failures (a login for an unknown e-mail, an invalid password-reset token,
//! an enrollment with an unknown key) have no organization, so they all append to the one
//! system chain under its one head lock. A flood of them would serialize on that lock and
//! grow the chain without bound. Instead, per (action, reason, source IP) and fixed minute
//! window (of the server clock):
//!
//! - the first failure of a window is written at once, as before, with `details.count = 1`;
//! - the repeats are only counted in memory;
//! - when the window is over, the flusher task (every second) writes one event for them with
//!   `details.count` = the repeats, `details.aggregated = true` and the window's start, so the
//!   counts of a source's entries add up to its failures;
//! - on shutdown `serve` flushes what is still open, and a flush that cannot be written is
//!   kept and retried, so a count is lost only if the process dies.
//!
//! The aggregation is per replica: with `R` replicas a source writes at most `2 R` entries a
//! minute for each kind of failure. At most [`MAX_SOURCES`] windows are tracked; beyond that
//! new sources share one overflow window without an address, so memory stays bounded and no
//! failure goes uncounted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use breeze_core::audit::{Action, Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use parking_lot::Mutex;
use serde_json::json;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::store::{PgStore, StoreError, audit};

/// Length of an aggregation window in seconds.
pub const WINDOW_SECS: i64 = 60;

/// Windows tracked at once (sources x kinds of failure); further sources share one window.
pub const MAX_SOURCES: usize = 10_000;

/// How often the flusher looks for finished windows.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A kind of unauthenticated failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Failure {
    /// The audit action (`auth.login`).
    pub action: &'static str,
    /// `details.reason` (`unknown_user`).
    pub reason: &'static str,
    /// The result recorded.
    pub result: AuditResult,
    /// The resource type recorded.
    pub resource_type: &'static str,
    /// The error message recorded, if any.
    pub error_message: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    failure: Failure,
    /// `None`: the overflow window of sources beyond [`MAX_SOURCES`].
    source: Option<IpAddr>,
}

#[derive(Debug, Clone)]
struct Window {
    key: Key,
    /// Window number (unix seconds / [`WINDOW_SECS`]).
    number: i64,
    /// Failures after the first one written at once.
    repeats: u64,
    user_agent: Option<String>,
}

#[derive(Debug, Default)]
struct Windows {
    open: HashMap<Key, Window>,
    /// Finished windows with repeats, not yet written.
    due: Vec<Window>,
}

/// The per-process aggregator. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct FailureAudit {
    windows: Mutex<Windows>,
}

fn window_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(WINDOW_SECS)
}

impl FailureAudit {
    /// An empty aggregator.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one failure of `failure` from `source` at `now`. Returns `true` when it is the
    /// first of its window: the caller writes it at once (with `details.count = 1`).
    /// Otherwise it was counted for the window's aggregate event.
    pub fn first_in_window(
        &self,
        failure: Failure,
        source: IpAddr,
        user_agent: Option<&str>,
        now: OffsetDateTime,
    ) -> bool {
        let number = window_of(now);
        let mut w = self.windows.lock();
        let mut key = Key {
            failure,
            source: Some(source),
        };
        if !w.open.contains_key(&key) && w.open.len() >= MAX_SOURCES {
            key.source = None;
        }
        let fresh = Window {
            key: key.clone(),
            number,
            repeats: 0,
            user_agent: user_agent.map(str::to_owned),
        };
        match w.open.get_mut(&key) {
            Some(open) if open.number == number => {
                open.repeats = open.repeats.saturating_add(1);
                if let Some(ua) = user_agent {
                    open.user_agent = Some(ua.to_owned());
                }
                false
            }
            Some(open) => {
                let finished = std::mem::replace(open, fresh);
                if finished.repeats > 0 {
                    w.due.push(finished);
                }
                true
            }
            None => {
                w.open.insert(key, fresh);
                true
            }
        }
    }

    /// Takes the windows finished before `now`'s window (all of them with `all`).
    fn take(&self, now: OffsetDateTime, all: bool) -> Vec<Window> {
        let number = window_of(now);
        let mut w = self.windows.lock();
        let mut out = std::mem::take(&mut w.due);
        w.open.retain(|_, open| {
            if all || open.number < number {
                if open.repeats > 0 {
                    out.push(open.clone());
                }
                false
            } else {
                true
            }
        });
        out
    }

    /// Puts windows back after a failed write (they are retried on the next flush).
    fn restore(&self, windows: Vec<Window>) {
        self.windows.lock().due.extend(windows);
    }

    /// Writes one aggregate event per finished window with repeats, in one system-chain
    /// transaction; on failure nothing is lost (retried next time). Returns the events written.
    ///
    /// # Errors
    /// [`StoreError`] when the events cannot be written.
    pub async fn flush_due(
        &self,
        store: &PgStore,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        self.flush(store, now, false).await
    }

    /// [`Self::flush_due`] of every window, finished or not (shutdown).
    ///
    /// # Errors
    /// As [`Self::flush_due`].
    pub async fn flush_all(
        &self,
        store: &PgStore,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        self.flush(store, now, true).await
    }

    async fn flush(
        &self,
        store: &PgStore,
        now: OffsetDateTime,
        all: bool,
    ) -> Result<usize, StoreError> {
        let windows = self.take(now, all);
        if windows.is_empty() {
            return Ok(0);
        }
        match write(store, &windows, now).await {
            Ok(()) => Ok(windows.len()),
            Err(e) => {
                self.restore(windows);
                Err(e)
            }
        }
    }

    /// Starts the flusher: every second it writes the windows that have ended (by `clock`).
    /// It stops when the aggregator is dropped.
    pub fn spawn_flusher(
        self: &Arc<Self>,
        store: PgStore,
        clock: Arc<dyn Clock>,
    ) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(this) = weak.upgrade() else { break };
                if let Err(e) = this.flush_due(&store, clock.now()).await {
                    tracing::error!(error = %e, "failure audit: aggregate events not written (kept, retrying)");
                }
            }
        })
    }
}

fn event(window: &Window, now: OffsetDateTime) -> Result<AuditEvent, StoreError> {
    let audit_err = |e: &dyn std::fmt::Display| StoreError::Audit(e.to_string());
    let f = window.key.failure;
    let at = Timestamp::from_datetime_truncated(now).map_err(|e| audit_err(&e))?;
    let action = Action::new(f.action).map_err(|e| audit_err(&e))?;
    let start = window.number.saturating_mul(WINDOW_SECS);
    let mut builder = AuditEvent::builder(Actor::System, action, f.result, InitiatedBy::Manual, at)
        .resource_type(f.resource_type)
        .details(&json!({
            "reason": f.reason,
            "count": window.repeats,
            "aggregated": true,
            "windowStart": start,
            "windowSeconds": WINDOW_SECS,
            "source": if window.key.source.is_some() { "ip" } else { "overflow" },
        }));
    if let Some(ip) = window.key.source {
        builder = builder.ip(ip);
    }
    if let Some(ua) = &window.user_agent {
        builder = builder.user_agent(ua);
    }
    if let Some(message) = f.error_message {
        builder = builder.error_message(message);
    }
    builder.build().map_err(|e| audit_err(&e))
}

async fn write(store: &PgStore, windows: &[Window], now: OffsetDateTime) -> Result<(), StoreError> {
    let mut tx = store.begin_system("failure audit aggregate").await?;
    for window in windows {
        audit::append(&mut tx, None, event(window, now)?).await?;
    }
    tx.commit().await
}
