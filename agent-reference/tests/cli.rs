#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]
//! The `breeze-agent` binary as a real process against a loopback server: enroll, status,
//! and `run` (heartbeat with telemetry, commands over heartbeat and WebSocket, ping/pong,
//! token rotation, clean shutdown on SIGTERM).

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Stdio;
use std::time::Duration;

use breeze_agent::config::ConfigDir;
use breeze_agent_proto::frame::AgentFrame;
use breeze_agent_proto::{Command, CommandStatus, Message};
use common::{FakeState, Shared};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_breeze-agent");
const LIMIT: Duration = Duration::from_secs(60);

fn key() -> String {
    "0123456789abcdef".repeat(4)
}

fn agent(dir: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("RUST_LOG", "info")
        .arg("--config-dir")
        .arg(dir)
        .kill_on_drop(true);
    cmd
}

async fn enrolled(state: &Shared) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let addr = common::serve(common::router(state.clone())).await;
    let url = format!("http://127.0.0.1:{}", addr.port());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc-breeze");
    let out = agent(&dir)
        .env("BREEZE_ENROLLMENT_KEY", key())
        .env("BREEZE_ENROLLMENT_SECRET", "s3cret enrollment")
        .args(["enroll", "--server", &url])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, dir, url)
}

fn script(content: &str) -> Command {
    let text = json!({
        "id": breeze_core::tenancy::CommandId::new_random().to_string(),
        "type": "run_script",
        "payload": {"content": content, "language": "sh", "timeoutSeconds": 30}
    })
    .to_string();
    Command::decode(text.as_bytes()).unwrap().message
}

#[tokio::test(flavor = "multi_thread")]
async fn enroll_writes_the_host_files_and_status_shows_no_secret() {
    let state = FakeState::new();
    let (_tmp, dir, url) = enrolled(&state).await;
    {
        let st = state.lock().unwrap();
        let req = &st.enroll_requests[0];
        assert_eq!(req["enrollmentKey"], key());
        assert_eq!(req["enrollmentSecret"], "s3cret enrollment");
        assert_eq!(req["osType"], "linux");
        assert!(req["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    }
    let mode = |p: std::path::PathBuf| std::fs::metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(mode(dir.clone()), 0o750);
    assert_eq!(mode(dir.join("agent.yaml")), 0o640);
    assert_eq!(mode(dir.join("secrets.yaml")), 0o600);
    let config = ConfigDir::new(&dir);
    let secrets = config.read_secrets().unwrap();
    assert_eq!(
        secrets.current.auth.expose_secret(),
        state.lock().unwrap().current
    );
    assert_eq!(config.read_agent().unwrap().server_url, url);

    let out = agent(&dir).arg("status").output().await.unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(stdout.contains(common::agent_id().as_str()), "{stdout}");
    assert!(!stdout.contains("brz_"), "{stdout}");

    // A second enrollment without --force is refused and changes nothing.
    let out = agent(&dir)
        .env("BREEZE_ENROLLMENT_KEY", key())
        .args(["enroll", "--server", &url])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already enrolled"));
    assert_eq!(state.lock().unwrap().enroll_requests.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_enrollment_input_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    // Plain http to a non-loopback host.
    let out = agent(&dir)
        .args(["enroll", &key(), "--server", "http://breeze.example"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure-http"));
    // A malformed key is refused without being echoed.
    let bad_key = "Z".repeat(64);
    let out = agent(&dir)
        .args(["enroll", &bad_key, "--server", "https://breeze.example"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid enrollment key"), "{stderr}");
    assert!(!stderr.contains(&bad_key));
    assert!(!dir.join("agent.yaml").exists() && !dir.join("secrets.yaml").exists());
    // `run` without enrollment fails clearly.
    let out = agent(&dir).arg("run").output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("enroll"));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_heartbeats_executes_commands_rotates_and_stops_on_sigterm() {
    let state = FakeState::new();
    let (_tmp, dir, _url) = enrolled(&state).await;
    let first_token = state.lock().unwrap().current.clone();
    let hb_command = script("echo from-heartbeat");
    let ws_command = script("echo from-websocket; exit 4");
    {
        let mut st = state.lock().unwrap();
        st.heartbeat_commands.push(hb_command.clone());
        st.ws_commands.push(ws_command.clone());
        st.rotate_on_next_heartbeat = true;
    }
    let mut child = agent(&dir)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Heartbeat command: executed and its result posted over HTTP.
    common::wait_until(LIMIT, || !state.lock().unwrap().results.is_empty()).await;
    {
        let st = state.lock().unwrap();
        let r = &st.results[0];
        assert_eq!(r.command_id, hb_command.id);
        assert_eq!(r.status, CommandStatus::Completed);
        assert_eq!(r.stdout.as_deref(), Some("from-heartbeat\n"));
        // Real telemetry in the heartbeat.
        let beat = &st.heartbeats[0];
        let metrics = beat.metrics.get().unwrap();
        assert!(metrics.ram_used_mb.get().is_some_and(|mb| *mb > 0));
        assert!(metrics.cpu_percent.get().is_some());
        assert!(beat.hostname.get().is_some() && beat.uptime.get().is_some());
        assert_eq!(st.heartbeat_tokens[0], first_token);
    }

    // WebSocket: the ping got a pong, the pushed command a command_result frame.
    common::wait_until(LIMIT, || {
        let st = state.lock().unwrap();
        st.ws_frames
            .iter()
            .any(|f| matches!(f, AgentFrame::Pong(_)))
            && st
                .ws_frames
                .iter()
                .any(|f| matches!(f, AgentFrame::CommandResult(_)))
    })
    .await;
    {
        let st = state.lock().unwrap();
        let r = st
            .ws_frames
            .iter()
            .find_map(|f| match f {
                AgentFrame::CommandResult(r) => Some(r),
                _ => None,
            })
            .unwrap();
        assert_eq!(r.command_id, ws_command.id);
        assert_eq!(r.status, CommandStatus::Failed);
        assert_eq!(r.exit_code, Some(4));
        assert_eq!(r.stdout.as_deref(), Some("from-websocket\n"));
        assert_eq!(st.ws_auth_failures, 0);
    }

    // Rotation: staged, confirmed, promoted on disk; the next heartbeat uses the new token.
    common::wait_until(LIMIT, || {
        let st = state.lock().unwrap();
        st.confirms == 1 && st.heartbeat_tokens.len() >= 2
    })
    .await;
    {
        let st = state.lock().unwrap();
        assert_eq!(st.stages, 1);
        assert_ne!(st.current, first_token);
        assert_eq!(st.heartbeat_tokens.last().unwrap(), &st.current);
        assert_eq!(st.bad_auth, 0);
        let on_disk = ConfigDir::new(&dir).read_secrets().unwrap();
        assert_eq!(on_disk.current.auth.expose_secret(), st.current);
        assert!(on_disk.pending.is_none());
    }

    // SIGTERM: clean exit.
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(LIMIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    // No token ever reaches the log.
    assert!(!stderr.contains("brz_"), "{stderr}");
}
