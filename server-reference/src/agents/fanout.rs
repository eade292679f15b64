//! The per-process WebSocket hub: which agents have a socket on this replica, and the
//! PostgreSQL `LISTEN` task that tells them what happened elsewhere (SPEC 8.6, 11).
//!
//! Cross-replica delivery goes through PostgreSQL: inserting a command notifies
//! `breeze_commands` (trigger), a device's status, placement or credentials change notifies
//! `breeze_device_events`, an organization's or partner's status or deletion notifies
//! `breeze_org_events` (triggers), and a new socket bumps the device's connection generation
//! and notifies `breeze_agent_ws`. Every replica's hub listens and forwards to its local
//! sockets: quarantine closes with 4001 and decommission with 4040 at once; any other
//! change of the device, its organization or its partner makes the socket re-authenticate
//! from a fresh row and close if it no longer may stay. A lost notification costs latency,
//! not correctness: sockets also re-authenticate and re-claim pending commands on every
//! ping tick, and the generation column stays authoritative.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use breeze_core::tenancy::{DeviceId, OrgId, PartnerId};
use parking_lot::Mutex;
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio::sync::{OnceCell, mpsc};

use crate::state::AppState;

/// Notification channels the hub listens on.
pub const CHANNELS: [&str; 4] = [
    "breeze_commands",
    "breeze_device_events",
    "breeze_org_events",
    "breeze_agent_ws",
];

/// What the hub tells a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubEvent {
    /// Commands were queued for the device: claim and push them.
    CommandsQueued,
    /// Close with this code (4001 device no longer authorized, 4002 superseded, 4040
    /// reconnect required).
    Close(u16),
    /// The device, its organization or its partner changed: re-authenticate from a fresh
    /// row and close if the socket may no longer stay.
    Recheck,
}

/// Where a socket's agent belongs (which organization and partner notifications reach it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    /// Organization.
    pub org: OrgId,
    /// Partner.
    pub partner: PartnerId,
}

struct Local {
    id: u64,
    generation: i64,
    tenant: Tenant,
    tx: mpsc::Sender<HubEvent>,
}

/// The hub of one server process (one per router).
#[derive(Default)]
pub struct Hub {
    sockets: Mutex<HashMap<DeviceId, Vec<Local>>>,
    next_id: AtomicU64,
    started: OnceCell<()>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

/// A registration; dropping it unregisters the socket.
#[derive(Debug)]
pub struct Registration {
    hub: Arc<Hub>,
    device: DeviceId,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.hub.sockets.lock();
        if let Some(list) = map.get_mut(&self.device) {
            list.retain(|l| l.id != self.id);
            if list.is_empty() {
                map.remove(&self.device);
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Note {
    device_id: Option<uuid::Uuid>,
    org_id: Option<uuid::Uuid>,
    partner_id: Option<uuid::Uuid>,
    status: Option<String>,
    generation: Option<i64>,
}

impl Hub {
    /// A new hub (its listener starts with the first socket).
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Starts the `LISTEN` task once.
    ///
    /// # Errors
    /// [`sqlx::Error`] when the listener cannot connect.
    pub async fn ensure_started(self: &Arc<Self>, state: &AppState) -> Result<(), sqlx::Error> {
        self.started
            .get_or_try_init(|| async {
                let url = state.config.database_url.expose_secret().to_owned();
                let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
                listener.listen_all(CHANNELS).await?;
                let hub = Arc::downgrade(self);
                tokio::spawn(async move {
                    loop {
                        // recv reconnects by itself after a lost connection
                        let note = match listener.recv().await {
                            Ok(n) => n,
                            Err(e) => {
                                tracing::warn!(error = %e, "agent hub listener error");
                                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                                continue;
                            }
                        };
                        let Some(hub) = hub.upgrade() else { break };
                        hub.dispatch(note.channel(), note.payload());
                    }
                });
                Ok::<(), sqlx::Error>(())
            })
            .await
            .map(|_| ())
    }

    /// Registers a socket of `device` at `generation`; events arrive on the receiver.
    #[must_use]
    pub fn register(
        self: &Arc<Self>,
        device: DeviceId,
        generation: i64,
        tenant: Tenant,
    ) -> (Registration, mpsc::Receiver<HubEvent>) {
        let (tx, rx) = mpsc::channel(16);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut map = self.sockets.lock();
        let list = map.entry(device).or_default();
        // a newer local socket supersedes older ones at once (the notify does it elsewhere)
        for old in list.iter().filter(|l| l.generation < generation) {
            let _ = old.tx.try_send(HubEvent::Close(4002));
        }
        list.push(Local {
            id,
            generation,
            tenant,
            tx,
        });
        drop(map);
        (
            Registration {
                hub: Arc::clone(self),
                device,
                id,
            },
            rx,
        )
    }

    /// Sockets registered on this replica (metrics, tests).
    #[must_use]
    pub fn local_sockets(&self) -> usize {
        self.sockets.lock().values().map(Vec::len).sum()
    }

    fn send(&self, device: DeviceId, event: HubEvent, older_than: Option<i64>) {
        let map = self.sockets.lock();
        if let Some(list) = map.get(&device) {
            for l in list {
                if older_than.is_none_or(|g| l.generation < g) {
                    // a full queue already holds a wake-up; dropping this one loses nothing
                    let _ = l.tx.try_send(event);
                }
            }
        }
    }

    /// Sends `event` to every local socket whose tenant `matches`.
    fn send_tenants(&self, matches: impl Fn(&Tenant) -> bool, event: HubEvent) {
        let map = self.sockets.lock();
        for l in map.values().flatten().filter(|l| matches(&l.tenant)) {
            // a full queue already holds a wake-up; the ping tick re-checks anyway
            let _ = l.tx.try_send(event);
        }
    }

    fn dispatch(&self, channel: &str, payload: &str) {
        let Ok(note) = serde_json::from_str::<Note>(payload) else {
            return;
        };
        if channel == "breeze_org_events" {
            match (note.org_id, note.partner_id) {
                (Some(o), _) => {
                    let org = OrgId::from_uuid(o);
                    self.send_tenants(|t| t.org == org, HubEvent::Recheck);
                }
                (None, Some(p)) => {
                    let partner = PartnerId::from_uuid(p);
                    self.send_tenants(|t| t.partner == partner, HubEvent::Recheck);
                }
                (None, None) => {}
            }
            return;
        }
        let Some(device) = note.device_id.map(DeviceId::from_uuid) else {
            return;
        };
        match channel {
            "breeze_commands" => self.send(device, HubEvent::CommandsQueued, None),
            "breeze_device_events" => match note.status.as_deref() {
                Some("quarantined") => self.send(device, HubEvent::Close(4001), None),
                Some("decommissioned") => self.send(device, HubEvent::Close(4040), None),
                // moved, credentials changed (suspension, rotation), any other status
                _ => self.send(device, HubEvent::Recheck, None),
            },
            "breeze_agent_ws" => {
                if let Some(g) = note.generation {
                    self.send(device, HubEvent::Close(4002), Some(g));
                }
            }
            _ => {}
        }
    }
}
