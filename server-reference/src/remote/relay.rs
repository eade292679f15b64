//! The terminal relay between replicas (SPEC 12, 11): the browser's socket and the agent's
//! socket may sit on different replicas, so every relay message goes through PostgreSQL
//! `NOTIFY breeze_relay` and every replica's listener hands it to the local socket it names
//! (an agent socket by device, a browser socket by session).
//!
//! Order: each replica publishes from one task on one dedicated connection, so messages one
//! replica sends arrive everywhere in the order it sent them (PostgreSQL delivers the
//! notifications of one session in commit order). A `NOTIFY` payload is limited to 8,000
//! bytes: terminal data is split on character boundaries (base64 on 4-character boundaries)
//! into pieces that fit ([`split_data`]). Local delivery takes the same path, so there is one
//! behaviour to reason about; it costs one database round trip per message.
//!
//! Terminal data crosses PostgreSQL in transit only (never stored by the relay); the
//! database connection is as trusted as the database itself (use TLS to it in production).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use breeze_agent_proto::frame::TerminalEncoding;
use breeze_core::tenancy::DeviceId;
use parking_lot::Mutex;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use sqlx::Connection as _;
use tokio::sync::{OnceCell, mpsc};
use uuid::Uuid;

use crate::state::AppState;

/// The notification channel.
pub const CHANNEL: &str = "breeze_relay";
/// Budget of one piece of terminal data in a notification (the payload limit is 8,000
/// bytes; the envelope takes the rest).
pub const PIECE_BUDGET: usize = 6_000;
/// Messages queued for one local socket before it is declared too slow.
pub const SOCKET_QUEUE: usize = 2_048;
/// Messages queued for publishing before new ones are refused.
pub const PUBLISH_QUEUE: usize = 8_192;

/// A message for the agent's side of a session (`Debug` never shows keystrokes).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ToAgent {
    /// Open the PTY.
    Start {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Keystrokes.
    Input {
        /// UTF-8 text.
        data: String,
    },
    /// Resize.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Kill the session's process group.
    Stop,
}

impl std::fmt::Debug for ToAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Start { cols, rows } => write!(f, "Start({cols}x{rows})"),
            Self::Input { data } => write!(f, "Input({} bytes)", data.len()),
            Self::Resize { cols, rows } => write!(f, "Resize({cols}x{rows})"),
            Self::Stop => f.write_str("Stop"),
        }
    }
}

/// A message for the browser's side of a session (`Debug` never shows output).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ToViewer {
    /// Terminal output.
    Output {
        /// Data.
        data: String,
        /// Encoding (absent: UTF-8).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encoding: Option<TerminalEncoding>,
    },
    /// The shell exited.
    Exit {
        /// Exit code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
    },
    /// An agent socket was handed `terminal_start` (the agent side is there).
    Started,
    /// The agent's socket went away.
    AgentGone,
    /// This browser's queue overflowed: output was lost, the session must end.
    Overflow,
    /// Someone asked the session to end (`DELETE`), or a re-check elsewhere ended it.
    End,
}

impl std::fmt::Debug for ToViewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Output { data, .. } => write!(f, "Output({} bytes)", data.len()),
            Self::Exit { code } => write!(f, "Exit({code:?})"),
            Self::Started => f.write_str("Started"),
            Self::AgentGone => f.write_str("AgentGone"),
            Self::Overflow => f.write_str("Overflow"),
            Self::End => f.write_str("End"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k")]
enum Wire {
    #[serde(rename = "a")]
    Agent { d: Uuid, s: Uuid, m: ToAgent },
    #[serde(rename = "v")]
    Viewer { s: Uuid, m: ToViewer },
}

/// What an agent socket receives: the session and the message.
pub type AgentMessage = (Uuid, ToAgent);

struct Slot<T> {
    id: u64,
    tx: mpsc::Sender<T>,
    overflowed: Arc<AtomicBool>,
}

/// The relay of one server process.
pub struct Relay {
    replica: Uuid,
    agents: Mutex<HashMap<DeviceId, Vec<Slot<AgentMessage>>>>,
    viewers: Mutex<HashMap<Uuid, Slot<ToViewer>>>,
    publisher: OnceCell<mpsc::Sender<String>>,
    listening: OnceCell<()>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

/// The relay could not reach PostgreSQL or its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the relay is unavailable")]
pub struct RelayUnavailable;

/// Unregisters a local agent socket when dropped.
pub struct AgentRegistration {
    relay: Arc<Relay>,
    device: DeviceId,
    id: u64,
}

impl Drop for AgentRegistration {
    fn drop(&mut self) {
        let mut map = self.relay.agents.lock();
        if let Some(list) = map.get_mut(&self.device) {
            list.retain(|s| s.id != self.id);
            if list.is_empty() {
                map.remove(&self.device);
            }
        }
    }
}

/// Unregisters a local browser socket when dropped.
pub struct ViewerRegistration {
    relay: Arc<Relay>,
    session: Uuid,
    id: u64,
}

impl Drop for ViewerRegistration {
    fn drop(&mut self) {
        let mut map = self.relay.viewers.lock();
        if map.get(&self.session).is_some_and(|s| s.id == self.id) {
            map.remove(&self.session);
        }
    }
}

impl Relay {
    /// A relay for this process, with a fresh replica id (the lease owner id).
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            replica: Uuid::new_v4(),
            agents: Mutex::new(HashMap::new()),
            viewers: Mutex::new(HashMap::new()),
            publisher: OnceCell::new(),
            listening: OnceCell::new(),
            next_id: AtomicU64::new(0),
        })
    }

    /// This replica's id (what a session lease names).
    #[must_use]
    pub const fn replica(&self) -> Uuid {
        self.replica
    }

    /// Starts the listener and the publisher once.
    ///
    /// # Errors
    /// [`RelayUnavailable`] when PostgreSQL cannot be reached.
    pub async fn ensure_started(
        self: &Arc<Self>,
        state: &AppState,
    ) -> Result<(), RelayUnavailable> {
        let url = state.config.database_url.expose_secret().to_owned();
        self.listening
            .get_or_try_init(|| async {
                let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
                listener.listen(CHANNEL).await?;
                let relay = Arc::downgrade(self);
                tokio::spawn(async move {
                    loop {
                        let note = match listener.recv().await {
                            Ok(n) => n,
                            Err(e) => {
                                tracing::warn!(error = %e, "relay listener error");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                continue;
                            }
                        };
                        let Some(relay) = relay.upgrade() else { break };
                        relay.dispatch(note.payload());
                    }
                });
                Ok::<(), sqlx::Error>(())
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "relay listener unavailable");
                RelayUnavailable
            })?;
        self.publisher
            .get_or_try_init(|| async {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                let (tx, mut rx) = mpsc::channel::<String>(PUBLISH_QUEUE);
                tokio::spawn(async move {
                    while let Some(payload) = rx.recv().await {
                        let sent = sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(CHANNEL)
                            .bind(&payload)
                            .execute(&mut conn)
                            .await;
                        if let Err(e) = sent {
                            tracing::warn!(error = %e, "relay publish failed; reconnecting");
                            match sqlx::PgConnection::connect(&url).await {
                                Ok(c) => conn = c,
                                Err(e) => {
                                    tracing::error!(error = %e, "relay publisher cannot reconnect");
                                    tokio::time::sleep(Duration::from_secs(1)).await;
                                }
                            }
                        }
                    }
                });
                Ok::<_, sqlx::Error>(tx)
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "relay publisher unavailable");
                RelayUnavailable
            })?;
        Ok(())
    }

    /// Registers a local agent socket of `device`.
    #[must_use]
    pub fn register_agent(
        self: &Arc<Self>,
        device: DeviceId,
    ) -> (AgentRegistration, mpsc::Receiver<AgentMessage>) {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.agents.lock().entry(device).or_default().push(Slot {
            id,
            tx,
            overflowed: Arc::new(AtomicBool::new(false)),
        });
        (
            AgentRegistration {
                relay: Arc::clone(self),
                device,
                id,
            },
            rx,
        )
    }

    /// Registers the local browser socket of `session` (a session has one). The flag turns
    /// true when its queue overflowed (output was lost).
    #[must_use]
    pub fn register_viewer(
        self: &Arc<Self>,
        session: Uuid,
    ) -> (
        ViewerRegistration,
        mpsc::Receiver<ToViewer>,
        Arc<AtomicBool>,
    ) {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let overflowed = Arc::new(AtomicBool::new(false));
        self.viewers.lock().insert(
            session,
            Slot {
                id,
                tx,
                overflowed: Arc::clone(&overflowed),
            },
        );
        (
            ViewerRegistration {
                relay: Arc::clone(self),
                session,
                id,
            },
            rx,
            overflowed,
        )
    }

    fn publish(&self, wire: &Wire) -> Result<(), RelayUnavailable> {
        let payload = serde_json::to_string(wire).map_err(|_| RelayUnavailable)?;
        let tx = self.publisher.get().ok_or(RelayUnavailable)?;
        tx.try_send(payload).map_err(|_| RelayUnavailable)
    }

    /// Sends `message` to the agent socket of `device` for `session`, wherever it is
    /// (input is split into pieces that fit a notification).
    ///
    /// # Errors
    /// [`RelayUnavailable`].
    pub fn to_agent(
        &self,
        device: DeviceId,
        session: Uuid,
        message: ToAgent,
    ) -> Result<(), RelayUnavailable> {
        let d = *device.as_uuid();
        match message {
            ToAgent::Input { data } => {
                for piece in split_data(&data, None) {
                    self.publish(&Wire::Agent {
                        d,
                        s: session,
                        m: ToAgent::Input {
                            data: piece.to_owned(),
                        },
                    })?;
                }
                Ok(())
            }
            m => self.publish(&Wire::Agent { d, s: session, m }),
        }
    }

    /// Sends `message` to the browser socket of `session`, wherever it is.
    ///
    /// # Errors
    /// [`RelayUnavailable`].
    pub fn to_viewer(&self, session: Uuid, message: ToViewer) -> Result<(), RelayUnavailable> {
        match message {
            ToViewer::Output { data, encoding } => {
                for piece in split_data(&data, encoding) {
                    self.publish(&Wire::Viewer {
                        s: session,
                        m: ToViewer::Output {
                            data: piece.to_owned(),
                            encoding,
                        },
                    })?;
                }
                Ok(())
            }
            m => self.publish(&Wire::Viewer { s: session, m }),
        }
    }

    fn dispatch(&self, payload: &str) {
        let Ok(wire) = serde_json::from_str::<Wire>(payload) else {
            tracing::warn!("undecodable relay notification dropped");
            return;
        };
        match wire {
            Wire::Agent { d, s, m } => {
                let map = self.agents.lock();
                if let Some(list) = map.get(&DeviceId::from_uuid(d)) {
                    for slot in list {
                        // a full queue: the agent socket is not reading; its ping tick or
                        // the viewer's limits end the session
                        let _ = slot.tx.try_send((s, m.clone()));
                    }
                }
            }
            Wire::Viewer { s, m } => {
                let map = self.viewers.lock();
                if let Some(slot) = map.get(&s)
                    && slot.tx.try_send(m).is_err()
                {
                    // the browser cannot keep up: output was lost, so the session ends
                    // (the socket's loop reads the flag) rather than go on with a hole
                    slot.overflowed.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

/// JSON-escaped length of one character (what it costs in a notification payload).
const fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Splits terminal data into pieces whose JSON-escaped size fits [`PIECE_BUDGET`]: UTF-8
/// text on character boundaries, base64 on 4-character boundaries (each piece decodes on
/// its own).
#[must_use]
pub fn split_data(data: &str, encoding: Option<TerminalEncoding>) -> Vec<&str> {
    let mut pieces = Vec::new();
    if encoding == Some(TerminalEncoding::Base64) {
        let mut rest = data;
        while rest.len() > PIECE_BUDGET {
            let cut = PIECE_BUDGET - PIECE_BUDGET % 4;
            let (head, tail) = rest.split_at(cut);
            pieces.push(head);
            rest = tail;
        }
        if !rest.is_empty() || pieces.is_empty() {
            pieces.push(rest);
        }
        return pieces;
    }
    let mut start = 0;
    let mut cost = 0;
    for (i, c) in data.char_indices() {
        let n = escaped_len(c);
        if cost + n > PIECE_BUDGET {
            pieces.push(data.get(start..i).unwrap_or_default());
            start = i;
            cost = 0;
        }
        cost += n;
    }
    if start < data.len() || pieces.is_empty() {
        pieces.push(data.get(start..).unwrap_or_default());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_a_notification_and_join_back() {
        let nasty: String = "é\u{1b}[0m\"\\x".repeat(3_000);
        let pieces = split_data(&nasty, None);
        assert!(pieces.len() > 1);
        assert_eq!(pieces.concat(), nasty);
        for p in &pieces {
            let wire = serde_json::to_string(&Wire::Viewer {
                s: Uuid::nil(),
                m: ToViewer::Output {
                    data: (*p).to_owned(),
                    encoding: None,
                },
            })
            .unwrap_or_default();
            assert!(wire.len() < 8_000, "{}", wire.len());
        }
    }

    #[test]
    fn debug_never_shows_terminal_data() {
        let input = format!(
            "{:?}",
            ToAgent::Input {
                data: "hunter2".into()
            }
        );
        let output = format!(
            "{:?}",
            ToViewer::Output {
                data: "hunter2".into(),
                encoding: None
            }
        );
        assert!(!input.contains("hunter2") && !output.contains("hunter2"));
    }

    #[test]
    fn base64_splits_on_quads() {
        let b64 = "QUJD".repeat(4_000);
        let pieces = split_data(&b64, Some(TerminalEncoding::Base64));
        assert!(pieces.iter().all(|p| p.len() % 4 == 0));
        assert_eq!(pieces.concat(), b64);
        assert_eq!(split_data("", None), vec![""]);
    }
}
