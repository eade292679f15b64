//! Remote terminal sessions (SPEC 12): a real PTY running the configured shell, one per
//! session id, at most [`MAX_SESSIONS`] at once.
//!
//! The shell is the leader of its own session and process group, with `TERM=xterm-256color`
//! and a scrubbed environment (the agent's own may hold secrets). Its output is read on a
//! blocking thread and delivered as [`TerminalEvent::Output`] chunks of at most
//! [`chunk::MAX_CHUNK_BYTES`] through a bounded channel (a slow socket slows the shell rather
//! than growing a buffer); input goes through a bounded queue to a writer thread, so a shell
//! that stops reading never blocks the caller.
//!
//! [`Terminals::stop`] hangs up every process of the session (SIGHUP, then SIGKILL after a
//! short grace). When the shell ends, for any reason, what it left running in its session is
//! hung up the same way, then exactly one [`TerminalEvent::Exit`] follows the last output.
//! Dropping the manager stops every session: no shell outlives the socket it served.

pub mod chunk;
mod kill;
mod session;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use breeze_agent_proto::ids::SessionId;
use breeze_agent_proto::limits::MAX_TERMINAL_DIMENSION;
use rustix::process::Signal;
use tokio::sync::mpsc;

use self::chunk::Chunk;
use self::session::Live;

/// Most live sessions per agent.
pub const MAX_SESSIONS: usize = 8;
/// How long a hung-up session may take to exit before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// Shell used when neither the config nor `$SHELL` names an absolute one.
pub const FALLBACK_SHELL: &str = "/bin/sh";

/// How terminals are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalConfig {
    /// The shell (an absolute path).
    pub shell: PathBuf,
    /// Most live sessions.
    pub max_sessions: usize,
    /// SIGHUP-to-SIGKILL grace.
    pub stop_grace: Duration,
}

impl TerminalConfig {
    /// The configured shell (`terminal_shell` in `agent.yaml`), else [`default_shell`].
    #[must_use]
    pub fn new(configured: Option<&Path>) -> Self {
        Self {
            shell: configured
                .filter(|p| p.is_absolute())
                .map_or_else(default_shell, Path::to_path_buf),
            max_sessions: MAX_SESSIONS,
            stop_grace: STOP_GRACE,
        }
    }
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self::new(None)
    }
}

/// `$SHELL` when it is an absolute path, else [`FALLBACK_SHELL`].
#[must_use]
pub fn default_shell() -> PathBuf {
    std::env::var_os("SHELL")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(FALLBACK_SHELL))
}

/// What a session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEvent {
    /// Output of the PTY.
    Output {
        /// The session.
        session: SessionId,
        /// The output (its `Debug` shows only the length).
        chunk: Chunk,
    },
    /// The shell ended; sent once, after the last output.
    Exit {
        /// The session.
        session: SessionId,
        /// Exit status; `None` when a signal ended the shell (or its status is unknown).
        code: Option<i32>,
    },
}

/// A terminal request that could not be honoured.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The session limit is reached.
    #[error("at most {max} terminal sessions may be open at once")]
    TooManySessions {
        /// The limit.
        max: usize,
    },
    /// A live session already has this id.
    #[error("a terminal session with this id is already open")]
    AlreadyExists,
    /// No live session has this id.
    #[error("no such terminal session")]
    NotFound,
    /// Columns or rows outside 1 to 1,000.
    #[error("terminal size must be 1 to {MAX_TERMINAL_DIMENSION} columns and rows")]
    InvalidSize,
    /// The shell is not reading its input fast enough; this input was dropped.
    #[error("terminal input queue is full")]
    InputBacklog,
    /// The PTY or the shell could not be started.
    #[error("the terminal could not be started: {0}")]
    Spawn(String),
    /// The PTY could not be resized.
    #[error("the terminal could not be resized: {0}")]
    Resize(String),
}

impl TerminalError {
    /// A stable snake_case code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooManySessions { .. } => "too_many_sessions",
            Self::AlreadyExists => "already_exists",
            Self::NotFound => "not_found",
            Self::InvalidSize => "invalid_size",
            Self::InputBacklog => "input_backlog",
            Self::Spawn(_) => "spawn_failed",
            Self::Resize(_) => "resize_failed",
        }
    }
}

/// The sessions of one agent.
#[derive(Debug)]
pub struct Terminals {
    config: TerminalConfig,
    shared: Arc<Shared>,
}

/// The live sessions, shared with each session's supervisor thread (which removes its own
/// entry once the shell is reaped, just before it reports the exit).
#[derive(Debug, Default)]
struct Shared {
    sessions: Mutex<HashMap<SessionId, Live>>,
    generation: AtomicU64,
}

impl Shared {
    fn sessions(&self) -> MutexGuard<'_, HashMap<SessionId, Live>> {
        // A panic elsewhere never leaves the map half-updated (single inserts and removes).
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remove(&self, id: &SessionId, generation: u64) {
        let mut sessions = self.sessions();
        if sessions.get(id).is_some_and(|l| l.generation == generation) {
            sessions.remove(id);
        }
    }
}

fn check_size(cols: u16, rows: u16) -> Result<(), TerminalError> {
    let range = 1..=MAX_TERMINAL_DIMENSION;
    if range.contains(&cols) && range.contains(&rows) {
        Ok(())
    } else {
        Err(TerminalError::InvalidSize)
    }
}

impl Terminals {
    /// A manager with no sessions.
    #[must_use]
    pub fn new(config: TerminalConfig) -> Self {
        Self {
            config,
            shared: Arc::new(Shared::default()),
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &TerminalConfig {
        &self.config
    }

    /// Starts the shell for session `id` in a `cols` x `rows` PTY; its output and exit go to
    /// `events`.
    ///
    /// # Errors
    /// [`TerminalError::InvalidSize`], [`TerminalError::AlreadyExists`],
    /// [`TerminalError::TooManySessions`], [`TerminalError::Spawn`].
    pub fn start(
        &self,
        id: SessionId,
        cols: u16,
        rows: u16,
        events: mpsc::Sender<TerminalEvent>,
    ) -> Result<(), TerminalError> {
        check_size(cols, rows)?;
        // The lock is held across the spawn: the count stays exact, and a shell that exits
        // at once has its supervisor wait for the insert before removing the entry.
        let mut sessions = self.shared.sessions();
        if sessions.contains_key(&id) {
            return Err(TerminalError::AlreadyExists);
        }
        if sessions.len() >= self.config.max_sessions {
            return Err(TerminalError::TooManySessions {
                max: self.config.max_sessions,
            });
        }
        let generation = self.shared.generation.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&self.shared);
        let ended_id = id.clone();
        let live = session::spawn(
            &self.config,
            id.clone(),
            (cols, rows),
            events,
            generation,
            Box::new(move || shared.remove(&ended_id, generation)),
        )?;
        sessions.insert(id, live);
        Ok(())
    }

    /// Queues `bytes` as input for session `id`.
    ///
    /// # Errors
    /// [`TerminalError::NotFound`], [`TerminalError::InputBacklog`].
    pub fn input(&self, id: &SessionId, bytes: Vec<u8>) -> Result<(), TerminalError> {
        let sessions = self.shared.sessions();
        sessions
            .get(id)
            .ok_or(TerminalError::NotFound)?
            .input(bytes)
    }

    /// Resizes session `id` (the shell gets SIGWINCH).
    ///
    /// # Errors
    /// [`TerminalError::InvalidSize`], [`TerminalError::NotFound`], [`TerminalError::Resize`].
    pub fn resize(&self, id: &SessionId, cols: u16, rows: u16) -> Result<(), TerminalError> {
        check_size(cols, rows)?;
        let sessions = self.shared.sessions();
        sessions
            .get(id)
            .ok_or(TerminalError::NotFound)?
            .resize(cols, rows)
    }

    /// Hangs up session `id`: SIGHUP to every process of its session now, SIGKILL to what is
    /// left after the grace. Its exit is reported once it is gone. Stopping a session that
    /// is already stopping does nothing more.
    ///
    /// # Errors
    /// [`TerminalError::NotFound`].
    pub fn stop(&self, id: &SessionId) -> Result<(), TerminalError> {
        let target = {
            let mut sessions = self.shared.sessions();
            let live = sessions.get_mut(id).ok_or(TerminalError::NotFound)?;
            live.begin_stop()
        };
        if let Some(target) = target {
            target.signal(Signal::HUP);
            let grace = self.config.stop_grace;
            let later = target.clone();
            let spawned = std::thread::Builder::new()
                .name("terminal-kill".to_owned())
                .spawn(move || {
                    std::thread::sleep(grace);
                    later.signal(Signal::KILL);
                });
            if spawned.is_err() {
                // No thread for the grace: kill now rather than leave the session running.
                tracing::warn!("no thread for the stop grace; killing the session at once");
                target.signal(Signal::KILL);
            }
        }
        Ok(())
    }

    /// Stops every session (the socket they served is gone).
    pub fn stop_all(&self) {
        let ids: Vec<SessionId> = self.shared.sessions().keys().cloned().collect();
        for id in ids {
            // A session that ended meanwhile is simply not found.
            let _ignored = self.stop(&id);
        }
    }

    /// How many sessions are live (including those being stopped).
    #[must_use]
    pub fn live(&self) -> usize {
        self.shared.sessions().len()
    }
}

impl Drop for Terminals {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests;
