//! The session manager against real PTYs and a real `/bin/sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use breeze_agent_proto::frame::TerminalEncoding;
use tokio::sync::mpsc;

use super::*;

const WAIT: Duration = Duration::from_secs(20);

fn sid(n: u8) -> SessionId {
    SessionId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02x}")).unwrap()
}

fn sh() -> Terminals {
    Terminals::new(TerminalConfig {
        shell: PathBuf::from("/bin/sh"),
        max_sessions: MAX_SESSIONS,
        stop_grace: Duration::from_millis(500),
    })
}

fn text(chunk: &Chunk) -> String {
    match chunk.encoding {
        TerminalEncoding::Utf8 => chunk.data.clone(),
        TerminalEncoding::Base64 => String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(&chunk.data)
                .unwrap(),
        )
        .into_owned(),
    }
}

/// Reads events until the session's output contains `needle`; returns all output so far.
async fn until_output(rx: &mut mpsc::Receiver<TerminalEvent>, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + WAIT;
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(TerminalEvent::Output { chunk, .. })) => seen.push_str(&text(&chunk)),
            Ok(Some(TerminalEvent::Exit { code, .. })) => {
                panic!("exited ({code:?}) before {needle:?}; output: {seen:?}")
            }
            Ok(None) | Err(_) => panic!("no {needle:?} in time; output: {seen:?}"),
        }
    }
    seen
}

/// Reads events until the exit of `id`; returns its code.
async fn until_exit(rx: &mut mpsc::Receiver<TerminalEvent>, id: &SessionId) -> Option<i32> {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(TerminalEvent::Exit { session, code })) if &session == id => return code,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("no exit in time"),
        }
    }
}

/// Whether `pid` is gone (a zombie waiting for an init that does not reap counts as gone).
fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The number printed right after `tag` (the echo of the typed command has `tag` followed
/// by `$`, which does not count).
fn pid_after(output: &str, tag: &str) -> Option<i32> {
    output.match_indices(tag).find_map(|(i, _)| {
        let digits: String = output[i + tag.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

#[tokio::test]
async fn the_shell_computes_and_says_42() {
    let terminals = sh();
    let (tx, mut rx) = mpsc::channel(64);
    terminals.start(sid(1), 80, 24, tx).unwrap();
    terminals
        .input(&sid(1), b"echo $((6*7))\n".to_vec())
        .unwrap();
    // The typed line echoes as `$((6*7))`; only the shell's answer holds 42.
    until_output(&mut rx, "42").await;
    terminals.input(&sid(1), b"exit 3\n".to_vec()).unwrap();
    assert_eq!(until_exit(&mut rx, &sid(1)).await, Some(3));
    // The exit is reported once and the session is gone; nothing follows it.
    drop(terminals);
    assert!(
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .is_none(),
        "nothing after the exit"
    );
}

#[tokio::test]
async fn the_shell_sees_xterm_and_no_agent_environment() {
    let terminals = sh();
    let (tx, mut rx) = mpsc::channel(64);
    terminals.start(sid(2), 80, 24, tx).unwrap();
    terminals
        .input(
            &sid(2),
            b"echo \"term:$TERM:\" \"cargo:${CARGO:-none}:\"\n".to_vec(),
        )
        .unwrap();
    let out = until_output(&mut rx, "cargo:none:").await;
    assert!(out.contains("term:xterm-256color:"), "{out:?}");
}

#[tokio::test]
async fn resize_changes_stty_size() {
    let terminals = sh();
    let (tx, mut rx) = mpsc::channel(64);
    terminals.start(sid(3), 80, 24, tx).unwrap();
    terminals.input(&sid(3), b"stty size\n".to_vec()).unwrap();
    until_output(&mut rx, "24 80").await;
    terminals.resize(&sid(3), 132, 43).unwrap();
    terminals.input(&sid(3), b"stty size\n".to_vec()).unwrap();
    until_output(&mut rx, "43 132").await;
    assert!(matches!(
        terminals.resize(&sid(3), 0, 10),
        Err(TerminalError::InvalidSize)
    ));
    assert!(matches!(
        terminals.resize(&sid(3), 10, 1001),
        Err(TerminalError::InvalidSize)
    ));
}

#[tokio::test]
async fn stop_kills_every_process_of_the_session() {
    let terminals = sh();
    let (tx, mut rx) = mpsc::channel(64);
    terminals.start(sid(4), 80, 24, tx).unwrap();
    // A background job and a foreground one: with job control each has its own process
    // group, both in the shell's session.
    terminals
        .input(
            &sid(4),
            b"sleep 1000 & echo \"bg=$!\"; sh -c 'echo \"fg=$$\"; exec sleep 1000'\n".to_vec(),
        )
        .unwrap();
    let mut out = String::new();
    let (background, foreground) = loop {
        if let (Some(bg), Some(fg)) = (pid_after(&out, "bg="), pid_after(&out, "fg=")) {
            break (bg, fg);
        }
        out += &until_output(&mut rx, "\n").await;
    };
    assert!(!process_gone(background) && !process_gone(foreground));
    terminals.stop(&sid(4)).unwrap();
    // Stopping twice is harmless: either the session is still ending (Ok) or its shell has
    // already exited and the session is gone (NotFound); nothing else, and no panic.
    assert!(matches!(
        terminals.stop(&sid(4)),
        Ok(()) | Err(TerminalError::NotFound)
    ));
    // SIGHUP ends the shell: no exit status.
    assert_eq!(until_exit(&mut rx, &sid(4)).await, None);
    let deadline = Instant::now() + WAIT;
    while !(process_gone(background) && process_gone(foreground)) {
        assert!(Instant::now() < deadline, "sleep children still alive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(terminals.live(), 0);
    assert!(matches!(
        terminals.stop(&sid(4)),
        Err(TerminalError::NotFound)
    ));
}

#[tokio::test]
async fn a_shell_that_ignores_sighup_is_killed_after_the_grace() {
    let terminals = sh();
    let (tx, mut rx) = mpsc::channel(64);
    terminals.start(sid(5), 80, 24, tx).unwrap();
    terminals
        .input(&sid(5), b"trap '' HUP; echo trapped\"\"ok\n".to_vec())
        .unwrap();
    until_output(&mut rx, "trappedok").await;
    terminals.stop(&sid(5)).unwrap();
    assert_eq!(until_exit(&mut rx, &sid(5)).await, None);
}

#[tokio::test]
async fn at_most_eight_sessions_live_at_once() {
    let terminals = sh();
    let (tx, mut rx) = mpsc::channel(64);
    for n in 0..8 {
        terminals.start(sid(0x10 + n), 80, 24, tx.clone()).unwrap();
    }
    assert_eq!(terminals.live(), 8);
    let refused = terminals.start(sid(0x20), 80, 24, tx.clone()).unwrap_err();
    assert!(matches!(refused, TerminalError::TooManySessions { max: 8 }));
    assert_eq!(refused.code(), "too_many_sessions");
    // An id in use is refused as such.
    assert!(matches!(
        terminals.start(sid(0x10), 80, 24, tx.clone()),
        Err(TerminalError::AlreadyExists)
    ));
    // Once one has exited, a new one may start.
    terminals.stop(&sid(0x10)).unwrap();
    until_exit(&mut rx, &sid(0x10)).await;
    terminals.start(sid(0x20), 80, 24, tx.clone()).unwrap();
    assert_eq!(terminals.live(), 8);
    // Dropping the manager (the socket went away) stops every session.
    drop(terminals);
    drop(tx);
    let mut exits = 0;
    while let Ok(Some(event)) = tokio::time::timeout(WAIT, rx.recv()).await {
        if matches!(event, TerminalEvent::Exit { .. }) {
            exits += 1;
        }
    }
    assert_eq!(exits, 8, "every remaining session reported its exit");
}

#[tokio::test]
async fn requests_for_unknown_sessions_and_bad_sizes_are_refused() {
    let terminals = sh();
    let (tx, _rx) = mpsc::channel(4);
    assert!(matches!(
        terminals.input(&sid(6), b"x".to_vec()),
        Err(TerminalError::NotFound)
    ));
    assert!(matches!(
        terminals.resize(&sid(6), 80, 24),
        Err(TerminalError::NotFound)
    ));
    assert!(matches!(
        terminals.start(sid(6), 0, 24, tx.clone()),
        Err(TerminalError::InvalidSize)
    ));
    let missing = Terminals::new(TerminalConfig {
        shell: PathBuf::from("/nonexistent/shell"),
        ..TerminalConfig::default()
    });
    let err = missing.start(sid(6), 80, 24, tx).unwrap_err();
    assert_eq!(err.code(), "spawn_failed");
    assert_eq!(missing.live(), 0);
}

#[test]
fn the_default_shell_is_absolute() {
    assert!(default_shell().is_absolute());
    let relative = TerminalConfig::new(Some(Path::new("bash")));
    assert!(relative.shell.is_absolute());
    let configured = TerminalConfig::new(Some(Path::new("/bin/bash")));
    assert_eq!(configured.shell, PathBuf::from("/bin/bash"));
}
