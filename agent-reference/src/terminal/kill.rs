//! Signals for everything a terminal session started.
//!
//! The shell is the leader of its own session and process group (pgid = sid = its pid). An
//! interactive shell with job control puts each job in a process group of its own, still in
//! the shell's session, so killing the shell's group alone would leave `sleep 1000 &` (or a
//! foreground `vim`) running. [`signal_session`] therefore signals the leader's group and,
//! on Linux, every other process group of the session found in `/proc`.
//!
//! A process that leaves the session (`setsid`, as daemons do) is out of reach here, as it
//! is for any terminal.
//!
//! Process ids are not reused while a process group or session still holds them, and the
//! manager reaps the leader only after its last signal, so the numbers signalled here always
//! belong to this session.

use rustix::process::{Pid, Signal, kill_process_group};

/// Sends `signal` to the leader's process group and every process group of its session.
pub fn signal_session(leader: Pid, signal: Signal) {
    // ESRCH (nobody left) is the expected outcome once the session is gone.
    let _ignored = kill_process_group(leader, signal);
    for group in session_groups(leader) {
        if group != leader {
            let _ignored = kill_process_group(group, signal);
        }
    }
}

/// Whether any process of the session (the leader's zombie aside) is still alive.
#[must_use]
pub fn session_alive(leader: Pid) -> bool {
    !session_groups(leader).is_empty()
}

/// The process groups of the processes whose session is `leader` (Linux: from `/proc`).
#[cfg(target_os = "linux")]
fn session_groups(leader: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut groups = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
            .and_then(Pid::from_raw)
        else {
            continue;
        };
        let Some((state, pgrp, session)) = stat_fields(pid) else {
            continue;
        };
        if session == leader.as_raw_nonzero().get()
            && state != 'Z'
            && let Some(group) = Pid::from_raw(pgrp)
            && !groups.contains(&group)
        {
            groups.push(group);
        }
    }
    groups
}

#[cfg(not(target_os = "linux"))]
fn session_groups(leader: Pid) -> Vec<Pid> {
    if rustix::process::test_kill_process_group(leader).is_ok() {
        vec![leader]
    } else {
        Vec::new()
    }
}

/// State, process group and session of `pid`, from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn stat_fields(pid: Pid) -> Option<(char, i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).ok()?;
    // `pid (comm) state ppid pgrp session ...`; comm may hold spaces and parentheses.
    let rest = stat.get(stat.rfind(')')?.checked_add(1)?..)?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some((state, pgrp, session))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_group_and_session() {
        use std::os::unix::process::CommandExt as _;
        let me = rustix::process::getpid();
        let (state, pgrp, _session) = stat_fields(me).unwrap();
        assert!(state.is_ascii_uppercase(), "{state}");
        assert_eq!(pgrp, rustix::process::getpgrp().as_raw_nonzero().get());
        // Our own session id may be 0 in a container whose session leader lives outside the
        // PID namespace (rustix's `getsid` panics on that), so the session field is checked on
        // a child that leads a group of its own: same session as ours, its own pid as group.
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
        let (_, child_pgrp, child_session) = stat_fields(pid).unwrap();
        let (_, _, my_session) = stat_fields(me).unwrap();
        let _killed = child.kill();
        let _reaped = child.wait();
        assert_eq!(child_pgrp, pid.as_raw_nonzero().get());
        assert_eq!(child_session, my_session);
    }
}
