//! The short-lived cache of agent authentication rows (SPEC 11: "the hot path
//! authenticates from a short-lived cache of token hashes").
//!
//! An entry is the [`AgentAuthRow`] of an agent id: token hashes, suspension, device status,
//! organization record. Authentication still compares the presented token with the hashes
//! in constant time; a token that matches no cached hash is looked up again in PostgreSQL
//! before it is refused (a rotation on another replica), so the cache can only delay a
//! revocation, never refuse a valid token.
//!
//! How long a revocation can be delayed is bounded three ways:
//! - entries live at most the configured time ([`DEFAULT_TTL`], `BREEZE_AGENT_AUTH_CACHE_SECS`,
//!   0 turns the cache off);
//! - every refusal is decided on a row read from PostgreSQL just now: a cached row can only
//!   let a request in, never keep one out;
//! - every change that matters notifies PostgreSQL channels at commit (triggers on token
//!   hashes, suspension, device status and placement, organization status), and a
//!   listener task of this process drops the entries named, so other replicas forget within
//!   milliseconds; this process also drops them itself when it makes the change (a device
//!   going between `online` and `offline` is the one status change that keeps its entry:
//!   no decision reads it, and a cached row's status may lag there);
//! - nothing is cached while that listener is down, and the whole cache is cleared every
//!   time it (re)connects, so a notification lost during an outage cannot leave a stale
//!   entry behind;
//! - a row read from PostgreSQL is kept only if no invalidation that concerns it arrived
//!   since the read began ([`AuthCache::ticket`] before the read, checked by
//!   [`AuthCache::put`]): a row read just before a revoking commit cannot be cached after
//!   that commit's notification was handled.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use breeze_core::tenancy::{DeviceId, OrgId, PartnerId};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::store::agents::AgentAuthRow;

/// Default life of an entry (`BREEZE_AGENT_AUTH_CACHE_SECS`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);
/// Most entries kept (least recently used ones go first).
pub const MAX_ENTRIES: usize = 200_000;
/// Channels whose notifications invalidate entries.
pub const CHANNELS: [&str; 2] = ["breeze_device_events", "breeze_org_events"];

struct Entry {
    row: AgentAuthRow,
    at: Instant,
}

/// Invalidations remembered for [`AuthCache::put`]'s check (a ticket older than the oldest
/// one kept refuses its row).
pub const INVALIDATION_LOG: usize = 4096;

/// What an invalidation named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Device(DeviceId),
    Org(OrgId),
    Partner(PartnerId),
    All,
}

impl Target {
    fn concerns(self, row: &AgentAuthRow) -> bool {
        match self {
            Self::Device(d) => row.device_id == d,
            Self::Org(o) => row.org_id == o,
            Self::Partner(p) => row.org.partner_id == p,
            Self::All => true,
        }
    }
}

/// Taken before a row is read from PostgreSQL; [`AuthCache::put`] keeps the row only if no
/// invalidation concerning it was handled since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

struct Inner {
    by_agent: lru::LruCache<String, Entry>,
    agent_of_device: HashMap<DeviceId, String>,
    /// Invalidations handled so far (each one's generation is its position).
    generation: u64,
    /// The last [`INVALIDATION_LOG`] invalidations with their generation.
    log: VecDeque<(u64, Target)>,
}

impl Inner {
    fn record(&mut self, target: Target) {
        self.generation = self.generation.wrapping_add(1);
        if self.log.len() >= INVALIDATION_LOG {
            self.log.pop_front();
        }
        self.log.push_back((self.generation, target));
    }

    /// Whether an invalidation handled after `ticket` concerns `row` (or may have: the log
    /// no longer reaches back to the ticket).
    fn invalidated_since(&self, ticket: Ticket, row: &AgentAuthRow) -> bool {
        if self.generation == ticket.0 {
            return false;
        }
        let complete = self
            .log
            .front()
            .is_some_and(|(g, _)| *g <= ticket.0.wrapping_add(1));
        if !complete {
            return true;
        }
        self.log
            .iter()
            .filter(|(g, _)| *g > ticket.0)
            .any(|(_, t)| t.concerns(row))
    }
}

/// The cache (one per process).
pub struct AuthCache {
    ttl: Duration,
    inner: Mutex<Inner>,
    live: AtomicBool,
    started: OnceCell<()>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

impl AuthCache {
    /// A cache whose entries live `ttl` (zero: the cache is off and nothing is kept).
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner {
                by_agent: lru::LruCache::new(NonZeroUsize::MIN.saturating_add(MAX_ENTRIES - 1)),
                agent_of_device: HashMap::new(),
                generation: 0,
                log: VecDeque::new(),
            }),
            live: AtomicBool::new(false),
            started: OnceCell::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Note {
    device_id: Option<uuid::Uuid>,
    org_id: Option<uuid::Uuid>,
    partner_id: Option<uuid::Uuid>,
    /// A device's new status (`breeze_device_events` from the status trigger).
    status: Option<String>,
    /// Set by the placement and credential triggers.
    moved: Option<bool>,
    credentials: Option<bool>,
}

impl Note {
    /// A device going online or offline, and nothing else: no authentication decision reads
    /// that difference (only `decommissioned` and `quarantined` refuse), so the entry stays.
    /// Without this, every device's first heartbeat dropped the row it had just cached (the
    /// batch turns it online), and its second heartbeat read the row again.
    fn is_liveness_only(&self) -> bool {
        self.moved.is_none()
            && self.credentials.is_none()
            && matches!(self.status.as_deref(), Some("online" | "offline"))
    }
}

impl AuthCache {
    /// The fresh entry of `agent_id`, if any.
    #[must_use]
    pub fn get(&self, agent_id: &str) -> Option<AgentAuthRow> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let mut inner = self.inner.lock();
        match inner.by_agent.get(agent_id) {
            Some(e) if e.at.elapsed() < self.ttl => Some(e.row.clone()),
            Some(_) => {
                if let Some(e) = inner.by_agent.pop(agent_id) {
                    inner.agent_of_device.remove(&e.row.device_id);
                }
                None
            }
            None => None,
        }
    }

    /// The ticket to take before reading a row from PostgreSQL for [`AuthCache::put`].
    #[must_use]
    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.lock().generation)
    }

    /// Keeps `row` for `agent_id`, read after `ticket` was taken: only while invalidations
    /// are flowing, and only if no invalidation concerning the row was handled since the
    /// ticket (the read may predate the change that notified). Returns whether it was kept.
    pub fn put(&self, ticket: Ticket, agent_id: &str, row: AgentAuthRow) -> bool {
        if !self.live.load(Ordering::Acquire) {
            return false;
        }
        let device = row.device_id;
        let mut inner = self.inner.lock();
        // checked under the lock every invalidation takes: none can slip in between
        if inner.invalidated_since(ticket, &row) {
            return false;
        }
        let evicted = inner.by_agent.push(
            agent_id.to_owned(),
            Entry {
                row,
                at: Instant::now(),
            },
        );
        if let Some((old_agent, old)) = evicted
            && old_agent != agent_id
        {
            inner.agent_of_device.remove(&old.row.device_id);
        }
        inner.agent_of_device.insert(device, agent_id.to_owned());
        true
    }

    /// Records the source address this process just stored for `agent_id`.
    pub fn set_last_ip(&self, agent_id: &str, ip: &str) {
        if let Some(e) = self.inner.lock().by_agent.get_mut(agent_id) {
            e.row.last_ip = Some(ip.to_owned());
        }
    }

    /// Forgets the entry of `device`.
    pub fn invalidate_device(&self, device: DeviceId) {
        let mut inner = self.inner.lock();
        inner.record(Target::Device(device));
        if let Some(agent) = inner.agent_of_device.remove(&device) {
            inner.by_agent.pop(&agent);
        }
    }

    /// Forgets every entry of `org`.
    pub fn invalidate_org(&self, org: OrgId) {
        self.invalidate(Target::Org(org));
    }

    /// Forgets every entry of the organizations of `partner`.
    pub fn invalidate_partner(&self, partner: PartnerId) {
        self.invalidate(Target::Partner(partner));
    }

    fn invalidate(&self, target: Target) {
        let mut inner = self.inner.lock();
        inner.record(target);
        let doomed: Vec<String> = inner
            .by_agent
            .iter()
            .filter(|(_, e)| target.concerns(&e.row))
            .map(|(k, _)| k.clone())
            .collect();
        for agent in doomed {
            if let Some(e) = inner.by_agent.pop(&agent) {
                inner.agent_of_device.remove(&e.row.device_id);
            }
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.record(Target::All);
        inner.by_agent.clear();
        inner.agent_of_device.clear();
    }

    /// Entries held (metrics, tests).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().by_agent.len()
    }

    /// Whether no entry is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether entries are being kept (the invalidation listener is up).
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn dispatch(&self, channel: &str, payload: &str) {
        let Ok(note) = serde_json::from_str::<Note>(payload) else {
            // a payload we cannot read: forget everything rather than guess
            self.clear();
            return;
        };
        match (channel, note.device_id, note.org_id, note.partner_id) {
            ("breeze_device_events", Some(_), _, _) if note.is_liveness_only() => {}
            ("breeze_device_events", Some(d), _, _) => {
                self.invalidate_device(DeviceId::from_uuid(d));
            }
            ("breeze_org_events", _, Some(o), _) => self.invalidate_org(OrgId::from_uuid(o)),
            ("breeze_org_events", _, None, Some(p)) => {
                self.invalidate_partner(PartnerId::from_uuid(p));
            }
            _ => self.clear(),
        }
    }

    /// Starts the invalidation listener once (its own PostgreSQL connection). Until it has
    /// connected, and whenever it is reconnecting, nothing is cached.
    pub async fn ensure_listening(self: &Arc<Self>, database_url: &str) {
        if self.ttl.is_zero() {
            return;
        }
        let url = database_url.to_owned();
        let weak = Arc::downgrade(self);
        self.started
            .get_or_init(|| async move {
                tokio::spawn(listen(weak, url));
            })
            .await;
    }
}

async fn listen(cache: std::sync::Weak<AuthCache>, url: String) {
    loop {
        let connected = async {
            let mut l = sqlx::postgres::PgListener::connect(&url).await?;
            l.listen_all(CHANNELS).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let Some(c) = cache.upgrade() else { return };
        let mut listener = match connected {
            Ok(l) => l,
            Err(e) => {
                c.live.store(false, Ordering::Release);
                c.clear();
                drop(c);
                tracing::warn!(error = %e, "agent auth cache listener unavailable; not caching");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // anything cached before this point may have missed a notification
        c.clear();
        c.live.store(true, Ordering::Release);
        drop(c);
        loop {
            let note = listener.try_recv().await;
            let Some(c) = cache.upgrade() else { return };
            match note {
                Ok(Some(n)) => c.dispatch(n.channel(), n.payload()),
                Ok(None) | Err(_) => {
                    c.live.store(false, Ordering::Release);
                    c.clear();
                    tracing::warn!("agent auth cache listener lost its connection; not caching");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use breeze_authz::access::OrgRecord;
    use breeze_core::tenancy::{OrgStatus, PartnerId, SiteId};

    use super::*;

    fn row(org: OrgId) -> AgentAuthRow {
        let partner = PartnerId::new_random();
        AgentAuthRow {
            device_id: DeviceId::new_random(),
            org_id: org,
            site_id: SiteId::new_random(),
            status: "online".into(),
            has_credentials: true,
            suspended: false,
            agent: [Some("a".repeat(64)), None, None],
            watchdog: [None, None, None],
            pending_expires_at: None,
            previous_grace_until: None,
            rotation_due_at: None,
            last_ip: None,
            org: OrgRecord {
                id: org,
                partner_id: partner,
                status: OrgStatus::Active,
                deleted: false,
            },
            public_key: None,
            require_key: false,
        }
    }

    #[test]
    fn nothing_is_cached_while_invalidations_are_not_flowing() {
        let cache = AuthCache::default();
        let t = cache.ticket();
        assert!(!cache.put(t, "agent-1", row(OrgId::new_random())));
        assert!(cache.get("agent-1").is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn entries_go_with_their_device_their_org_or_an_unreadable_note() {
        let cache = AuthCache::default();
        cache.live.store(true, Ordering::Release);
        let org = OrgId::new_random();
        let (a, b, c) = (row(org), row(org), row(OrgId::new_random()));
        let t = cache.ticket();
        cache.put(t, "a", a.clone());
        cache.put(t, "b", b.clone());
        cache.put(t, "c", c.clone());
        assert_eq!(cache.get("a"), Some(a.clone()));
        cache.set_last_ip("a", "127.0.0.9");
        assert_eq!(
            cache.get("a").unwrap().last_ip.as_deref(),
            Some("127.0.0.9")
        );

        cache.dispatch(
            "breeze_device_events",
            &format!(r#"{{"deviceId":"{}","credentials":true}}"#, a.device_id),
        );
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some());
        cache.dispatch("breeze_org_events", &format!(r#"{{"orgId":"{org}"}}"#));
        assert!(cache.get("b").is_none());
        assert!(cache.get("c").is_some());
        // a device going online or offline keeps its entry; any other status, a move or a
        // credential change drops it
        let t = cache.ticket();
        cache.put(t, "a", a.clone());
        for status in ["online", "offline"] {
            cache.dispatch(
                "breeze_device_events",
                &format!(
                    r#"{{"deviceId":"{}","agentId":"a","orgId":"{org}","status":"{status}"}}"#,
                    a.device_id
                ),
            );
            assert!(cache.get("a").is_some(), "{status}");
        }
        for note in [
            r#""status":"quarantined""#,
            r#""status":"decommissioned""#,
            r#""status":"pending""#,
            r#""moved":true"#,
            r#""credentials":true"#,
            r#""status":"online","moved":true"#,
            r#""status":"offline","credentials":true"#,
        ] {
            let t = cache.ticket();
            cache.put(t, "a", a.clone());
            assert!(cache.get("a").is_some());
            cache.dispatch(
                "breeze_device_events",
                &format!(r#"{{"deviceId":"{}",{note}}}"#, a.device_id),
            );
            assert!(cache.get("a").is_none(), "{note}");
        }
        cache.dispatch("breeze_device_events", "not json");
        assert!(cache.is_empty());

        // a re-put of the same agent keeps its device mapping
        let t = cache.ticket();
        cache.put(t, "c", c.clone());
        cache.put(t, "c", c.clone());
        cache.invalidate_device(c.device_id);
        assert!(cache.get("c").is_none());
    }

    #[test]
    fn finding_10_a_row_read_before_an_invalidation_is_not_put_after_it() {
        let cache = AuthCache::default();
        cache.live.store(true, Ordering::Release);
        let org = OrgId::new_random();
        let (a, other) = (row(org), row(OrgId::new_random()));

        // read -> invalidate -> put: refused, for each kind of invalidation
        let ticket = cache.ticket();
        cache.dispatch(
            "breeze_device_events",
            &format!(r#"{{"deviceId":"{}","credentials":true}}"#, a.device_id),
        );
        assert!(!cache.put(ticket, "a", a.clone()));
        assert!(cache.get("a").is_none());
        let ticket = cache.ticket();
        cache.dispatch("breeze_org_events", &format!(r#"{{"orgId":"{org}"}}"#));
        assert!(!cache.put(ticket, "a", a.clone()));
        let ticket = cache.ticket();
        cache.dispatch(
            "breeze_org_events",
            &format!(r#"{{"partnerId":"{}"}}"#, a.org.partner_id),
        );
        assert!(!cache.put(ticket, "a", a.clone()));
        let ticket = cache.ticket();
        cache.clear();
        assert!(!cache.put(ticket, "a", a.clone()));
        assert!(cache.is_empty());

        // an invalidation of something else does not refuse the row
        let ticket = cache.ticket();
        cache.invalidate_device(other.device_id);
        cache.invalidate_org(other.org_id);
        assert!(cache.put(ticket, "a", a.clone()));
        assert_eq!(cache.get("a"), Some(a.clone()));

        // a ticket older than the remembered invalidations refuses
        let ticket = cache.ticket();
        for _ in 0..=INVALIDATION_LOG {
            cache.invalidate_device(other.device_id);
        }
        assert!(!cache.put(ticket, "b", a.clone()));
        // read -> put -> invalidate: the entry goes
        let ticket = cache.ticket();
        assert!(cache.put(ticket, "a", a.clone()));
        cache.invalidate_partner(a.org.partner_id);
        assert!(cache.get("a").is_none());
    }
}
