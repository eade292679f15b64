//! One terminal session: the PTY, the shell, and the threads that serve them (an input
//! writer, an output reader, and a supervisor that reports the exit once).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use breeze_agent_proto::ids::SessionId;
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, WaitIdStatus, waitid};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::chunk::{Chunk, Chunker, MAX_CHUNK_BYTES};
use super::kill::{session_alive, signal_session};
use super::{TerminalConfig, TerminalError, TerminalEvent};

/// Input writes queued for one session before input is refused.
const INPUT_QUEUE: usize = 256;
/// `TERM` of every shell.
const TERM: &str = "xterm-256color";

/// Called once by the supervisor, just before it reports the exit.
pub(super) type OnEnd = Box<dyn FnOnce() + Send>;

/// A live session as the manager holds it.
pub(super) struct Live {
    /// Distinguishes this session from a later one with the same id.
    pub(super) generation: u64,
    master: Box<dyn MasterPty + Send>,
    input: SyncSender<Zeroizing<Vec<u8>>>,
    target: KillTarget,
    stopping: bool,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("generation", &self.generation)
            .field("leader", &self.target.leader)
            .field("stopping", &self.stopping)
            .finish_non_exhaustive()
    }
}

impl Live {
    pub(super) fn input(&self, bytes: Vec<u8>) -> Result<(), TerminalError> {
        match self.input.try_send(Zeroizing::new(bytes)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(TerminalError::InputBacklog),
            Err(TrySendError::Disconnected(_)) => Err(TerminalError::NotFound),
        }
    }

    pub(super) fn resize(&self, cols: u16, rows: u16) -> Result<(), TerminalError> {
        self.master
            .resize(pty_size(cols, rows))
            .map_err(|e| TerminalError::Resize(e.to_string()))
    }

    /// The processes to signal, the first time only.
    pub(super) fn begin_stop(&mut self) -> Option<KillTarget> {
        if self.stopping {
            return None;
        }
        self.stopping = true;
        Some(self.target.clone())
    }
}

/// The session's processes, signalled only until the shell is reaped (after that its pid,
/// and so its session and group ids, may belong to someone else).
#[derive(Debug, Clone)]
pub(super) struct KillTarget {
    leader: Pid,
    reaped: Arc<Mutex<bool>>,
}

impl KillTarget {
    pub(super) fn signal(&self, signal: Signal) {
        let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if !*reaped {
            signal_session(self.leader, signal);
        }
    }
}

const fn pty_size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// The shell with a scrubbed environment (the agent's own may hold secrets), in `$HOME`.
fn shell_command(shell: &Path) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(shell);
    cmd.env_clear();
    cmd.env("PATH", crate::exec::SCRIPT_PATH);
    cmd.env("TERM", TERM);
    cmd.env("LANG", "C.UTF-8");
    cmd.env("SHELL", shell);
    let home = std::env::var_os("HOME")
        .filter(|h| Path::new(h).is_absolute())
        .unwrap_or_else(|| "/root".into());
    let cwd = if Path::new(&home).is_dir() {
        home.clone()
    } else {
        "/".into()
    };
    cmd.env("HOME", home);
    cmd.cwd(cwd);
    cmd
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), TerminalError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map(drop)
        .map_err(|e| TerminalError::Spawn(format!("no thread: {e}")))
}

/// Opens a PTY, starts the shell in it as the leader of a new session, and starts the
/// threads serving it.
pub(super) fn spawn(
    config: &TerminalConfig,
    id: SessionId,
    (cols, rows): (u16, u16),
    events: mpsc::Sender<TerminalEvent>,
    generation: u64,
    on_end: OnEnd,
) -> Result<Live, TerminalError> {
    let failed = |e: &dyn std::fmt::Display| TerminalError::Spawn(e.to_string());
    let pair = native_pty_system()
        .openpty(pty_size(cols, rows))
        .map_err(|e| failed(&e))?;
    // portable-pty's child calls setsid() and takes the PTY as its controlling terminal: the
    // shell leads a new session and process group.
    let mut child = pair
        .slave
        .spawn_command(shell_command(&config.shell))
        .map_err(|e| failed(&e))?;
    // Only the shell's side holds the slave now, so the reader sees the end when it goes.
    drop(pair.slave);
    let Some(leader) = child
        .process_id()
        .and_then(|p| i32::try_from(p).ok())
        .and_then(Pid::from_raw)
    else {
        let _ignored = child.kill();
        let _ignored = child.wait();
        return Err(TerminalError::Spawn(
            "the shell has no process id".to_owned(),
        ));
    };
    let target = KillTarget {
        leader,
        reaped: Arc::new(Mutex::new(false)),
    };
    let abandon = |child: &mut Box<dyn Child + Send + Sync>, e: TerminalError| {
        signal_session(leader, Signal::KILL);
        let _ignored = child.wait();
        e
    };
    let reader = match pair.master.try_clone_reader() {
        Ok(r) => r,
        Err(e) => return Err(abandon(&mut child, failed(&e))),
    };
    let writer = match pair.master.take_writer() {
        Ok(w) => w,
        Err(e) => return Err(abandon(&mut child, failed(&e))),
    };
    let (input, input_rx) = sync_channel(INPUT_QUEUE);
    if let Err(e) = spawn_thread("terminal-in", move || write_input(writer, &input_rx)) {
        return Err(abandon(&mut child, e));
    }
    let gate = Arc::new(Mutex::new(true));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let output = Output {
        id,
        events,
        gate: Arc::clone(&gate),
    };
    let reader_output = output.clone();
    if let Err(e) = spawn_thread("terminal-out", move || {
        read_output(reader, &reader_output);
        drop(done_tx);
    }) {
        return Err(abandon(&mut child, e));
    }
    let supervised = Supervised {
        target: target.clone(),
        grace: config.stop_grace,
        reader_done: done_rx,
        output,
        on_end,
    };
    // If this thread cannot start, the child is dropped unreaped (a zombie until the agent
    // exits) but killed: nothing of the session keeps running.
    if let Err(e) = spawn_thread("terminal-wait", move || supervise(child, supervised)) {
        signal_session(leader, Signal::KILL);
        return Err(e);
    }
    Ok(Live {
        generation,
        master: pair.master,
        input,
        target,
        stopping: false,
    })
}

/// Where a session's events go; `gate` closes when the exit is reported, so no output ever
/// follows it.
#[derive(Clone)]
struct Output {
    id: SessionId,
    events: mpsc::Sender<TerminalEvent>,
    gate: Arc<Mutex<bool>>,
}

impl Output {
    /// Sends a chunk; `false` when the session is over or nobody listens any more.
    fn chunk(&self, chunk: Chunk) -> bool {
        let open = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        *open
            && self
                .events
                .blocking_send(TerminalEvent::Output {
                    session: self.id.clone(),
                    chunk,
                })
                .is_ok()
    }

    /// Closes the gate and sends the exit.
    fn exit(&self, code: Option<i32>) {
        let mut open = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        *open = false;
        let _ignored = self.events.blocking_send(TerminalEvent::Exit {
            session: self.id.clone(),
            code,
        });
    }
}

fn write_input(mut writer: Box<dyn Write + Send>, input: &Receiver<Zeroizing<Vec<u8>>>) {
    // Ends when the session is removed (the sender is dropped) or the PTY is gone.
    for bytes in input {
        if writer
            .write_all(&bytes)
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

fn read_output(mut reader: Box<dyn Read + Send>, output: &Output) {
    let mut chunker = Chunker::new();
    let mut buf = vec![0u8; MAX_CHUNK_BYTES];
    loop {
        let Some(window) = buf.get_mut(..chunker.room()) else {
            return;
        };
        let n = match reader.read(window) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every holder of the terminal's side is gone.
            Err(_) => break,
        };
        if let Some(chunk) = window.get(..n).and_then(|read| chunker.push(read))
            && !output.chunk(chunk)
        {
            return;
        }
    }
    if let Some(chunk) = chunker.finish() {
        output.chunk(chunk);
    }
}

struct Supervised {
    target: KillTarget,
    grace: Duration,
    reader_done: Receiver<()>,
    output: Output,
    on_end: OnEnd,
}

/// `true` once the reader thread has ended (its sender dropped), waiting at most `wait`.
fn reader_finished(done: &Receiver<()>, wait: Duration) -> bool {
    matches!(
        done.recv_timeout(wait),
        Err(RecvTimeoutError::Disconnected) | Ok(())
    )
}

fn supervise(mut child: Box<dyn Child + Send + Sync>, s: Supervised) {
    let leader = s.target.leader;
    // Wait for the shell without reaping it: its pid stays ours while the session is hung up.
    let code = match wait_unreaped(leader) {
        Some(status) => status.exit_status(),
        None => child
            .wait()
            .ok()
            .filter(|status| status.signal().is_none())
            .and_then(|status| i32::try_from(status.exit_code()).ok()),
    };
    // Whatever the shell left in its session is hung up, then killed after the grace; the
    // reader ends when the last holder of the terminal is gone.
    if session_alive(leader) {
        s.target.signal(Signal::HUP);
    }
    if !reader_finished(&s.reader_done, s.grace) {
        s.target.signal(Signal::KILL);
        // A process that left the session (setsid) may keep the terminal open; the exit is
        // reported anyway and the gate drops anything it still prints.
        reader_finished(&s.reader_done, s.grace);
    }
    {
        let mut reaped = s
            .target
            .reaped
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ignored = child.wait();
        *reaped = true;
    }
    // The slot is free before the exit is reported: whoever hears of the exit may start
    // another session at once.
    (s.on_end)();
    s.output.exit(code);
}

/// Blocks until `leader` has exited, leaving it a zombie (`WNOWAIT`).
fn wait_unreaped(leader: Pid) -> Option<WaitIdStatus> {
    loop {
        match waitid(
            WaitId::Pid(leader),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Ok(Some(status)) => return Some(status),
            Err(Errno::INTR) | Ok(None) => {}
            Err(_) => return None,
        }
    }
}
