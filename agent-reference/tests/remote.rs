#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]
//! Remote sessions over the agent's real WebSocket against a loopback server (SPEC 12): a
//! terminal driven by `terminal_*` frames, its shell killed when the socket goes, and file
//! commands answered with typed outcomes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use breeze_agent::agent::Context;
use breeze_agent::backoff::Backoff;
use breeze_agent::config::ConfigDir;
use breeze_agent::enroll::{EnrollOptions, enroll};
use breeze_agent::exec::ExecLimits;
use breeze_agent::ws::{Ended, session};
use breeze_agent_proto::command::{Command, CommandBody};
use breeze_agent_proto::frame::{AgentFrame, ServerFrame, TerminalEncoding};
use breeze_agent_proto::ids::SessionId;
use breeze_agent_proto::payload::{FileListPayload, FileReadPayload};
use breeze_agent_proto::{
    CommandStatus, EnrollmentKey, FileErrorCode, FileOutcome, FileWritePayload, TerminalInput,
    TerminalStart, TerminalStop,
};
use common::{FakeState, Shared};

const LIMIT: Duration = Duration::from_secs(30);

async fn context(state: &Shared) -> (tempfile::TempDir, Arc<Context>) {
    let addr = common::serve(common::router(state.clone())).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = ConfigDir::new(tmp.path().join("breeze"));
    enroll(
        &dir,
        EnrollOptions {
            server_url: format!("http://127.0.0.1:{}", addr.port()),
            insecure_http: false,
            ca_file: None,
            key: EnrollmentKey::parse(&"1".repeat(64)).unwrap(),
            secret: None,
            force: false,
        },
    )
    .await
    .unwrap();
    // `/bin/sh` rather than the host's `$SHELL`, whose rc files may do anything (a login
    // bash here runs `pyenv rehash`, which can wait a minute on a lock).
    let mut agent = dir.read_agent().unwrap();
    agent.terminal_shell = Some("/bin/sh".into());
    dir.write_agent(&agent).unwrap();
    let ctx = Arc::new(Context::load(dir, ExecLimits::default()).unwrap());
    assert_eq!(
        ctx.terminals.config().shell,
        std::path::PathBuf::from("/bin/sh")
    );
    (tmp, ctx)
}

fn spawn_session(ctx: &Arc<Context>) -> tokio::task::JoinHandle<Ended> {
    let ctx = Arc::clone(ctx);
    tokio::spawn(async move {
        let (_tx, mut rx) = tokio::sync::watch::channel(false);
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(2));
        session(&ctx, &mut rx, &mut backoff).await
    })
}

fn sid() -> SessionId {
    SessionId::parse("6b1f7c6e-3a0d-4c55-9a43-0d9f3f1f2a11").unwrap()
}

fn send(state: &Shared, frame: ServerFrame) {
    state.lock().unwrap().ws_outgoing.push(frame);
}

fn input(state: &Shared, data: &str) {
    send(
        state,
        ServerFrame::TerminalInput(TerminalInput {
            session_id: sid(),
            data: data.to_owned(),
        }),
    );
}

/// Everything the session printed so far, decoded.
fn output(state: &Shared) -> String {
    use base64::Engine as _;
    let st = state.lock().unwrap();
    let mut all = String::new();
    for frame in &st.ws_frames {
        if let AgentFrame::TerminalOutput(o) = frame {
            assert_eq!(o.session_id, sid());
            match o.encoding {
                None | Some(TerminalEncoding::Utf8) => all.push_str(&o.data),
                Some(TerminalEncoding::Base64) => all.push_str(&String::from_utf8_lossy(
                    &base64::engine::general_purpose::STANDARD
                        .decode(&o.data)
                        .unwrap(),
                )),
            }
        }
    }
    all
}

fn exits(state: &Shared) -> Vec<Option<i32>> {
    state
        .lock()
        .unwrap()
        .ws_frames
        .iter()
        .filter_map(|f| match f {
            AgentFrame::TerminalExit(e) if e.session_id == sid() => Some(e.code),
            _ => None,
        })
        .collect()
}

fn start(state: &Shared) {
    send(
        state,
        ServerFrame::TerminalStart(TerminalStart {
            session_id: sid(),
            cols: 80,
            rows: 24,
        }),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_runs_over_the_socket_and_exits_once() {
    let state = FakeState::new();
    let (_tmp, ctx) = context(&state).await;
    let task = spawn_session(&ctx);
    start(&state);
    input(&state, "echo $((6*7))\n");
    common::wait_until(LIMIT, || output(&state).contains("42")).await;
    send(
        &state,
        ServerFrame::TerminalStop(TerminalStop { session_id: sid() }),
    );
    common::wait_until(LIMIT, || !exits(&state).is_empty()).await;
    // A second stop, for a session that is gone, is not answered with another exit.
    send(
        &state,
        ServerFrame::TerminalStop(TerminalStop { session_id: sid() }),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(exits(&state), [None], "one exit, no code (ended by SIGHUP)");
    assert_eq!(ctx.terminals.live(), 0);
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_socket_goes_the_shell_and_its_children_are_killed() {
    let state = FakeState::new();
    let (_tmp, ctx) = context(&state).await;
    let task = spawn_session(&ctx);
    start(&state);
    input(&state, "sleep 1000 & echo \"bg=$!\"\n");
    let pid_after = |out: &str| -> Option<i32> {
        out.match_indices("bg=").find_map(|(i, _)| {
            let digits: String = out[i + 3..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
    };
    common::wait_until(LIMIT, || pid_after(&output(&state)).is_some()).await;
    let sleeper = pid_after(&output(&state)).unwrap();
    state.lock().unwrap().ws_hang_up = true;
    assert_eq!(
        tokio::time::timeout(LIMIT, task).await.unwrap().unwrap(),
        Ended::Reconnect(None)
    );
    common::wait_until(LIMIT, || {
        ctx.terminals.live() == 0
            && std::fs::read_to_string(format!("/proc/{sleeper}/stat")).map_or(true, |s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_beyond_the_limit_is_answered_with_an_exit() {
    let state = FakeState::new();
    let (_tmp, ctx) = context(&state).await;
    let task = spawn_session(&ctx);
    let id = |n: u32| SessionId::parse(&format!("6b1f7c6e-3a0d-4c55-9a43-{n:012x}")).unwrap();
    for n in 0..9 {
        send(
            &state,
            ServerFrame::TerminalStart(TerminalStart {
                session_id: id(n),
                cols: 80,
                rows: 24,
            }),
        );
    }
    // A repeated start for a live session changes nothing and is not answered.
    send(
        &state,
        ServerFrame::TerminalStart(TerminalStart {
            session_id: id(0),
            cols: 80,
            rows: 24,
        }),
    );
    let exits = |state: &Shared| -> Vec<SessionId> {
        state
            .lock()
            .unwrap()
            .ws_frames
            .iter()
            .filter_map(|f| match f {
                AgentFrame::TerminalExit(e) => Some(e.session_id.clone()),
                _ => None,
            })
            .collect()
    };
    common::wait_until(LIMIT, || !exits(&state).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(exits(&state), [id(8)], "only the ninth was refused");
    assert_eq!(ctx.terminals.live(), 8);
    task.abort();
    ctx.terminals.stop_all();
}

fn results(state: &Shared) -> Vec<breeze_agent_proto::CommandResult> {
    state
        .lock()
        .unwrap()
        .ws_frames
        .iter()
        .filter_map(|f| match f {
            AgentFrame::CommandResult(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

async fn run(state: &Shared, body: CommandBody) -> breeze_agent_proto::CommandResult {
    let command = Command::new(body);
    let id = command.id;
    state.lock().unwrap().ws_commands.push(command);
    common::wait_until(LIMIT, || results(state).iter().any(|r| r.command_id == id)).await;
    results(state)
        .into_iter()
        .find(|r| r.command_id == id)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn file_commands_are_answered_with_typed_outcomes() {
    let state = FakeState::new();
    let (tmp, ctx) = context(&state).await;
    let task = spawn_session(&ctx);
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let file = data.join("notes.txt");
    let path = file.to_str().unwrap();
    let bytes = b"line one\n\x00\xffbinary".to_vec();

    let written = run(
        &state,
        CommandBody::FileWrite(FileWritePayload::new(path, &bytes).unwrap()),
    )
    .await;
    assert_eq!(written.status, CommandStatus::Completed);
    let Some(FileOutcome::Written { size, sha256 }) = written.file else {
        panic!("{written:?}")
    };
    assert_eq!(size, u64::try_from(bytes.len()).unwrap());

    let read = run(
        &state,
        CommandBody::FileRead(FileReadPayload {
            path: path.to_owned(),
            max_bytes: None,
        }),
    )
    .await;
    let Some(FileOutcome::Content(content)) = read.file else {
        panic!("{read:?}")
    };
    assert_eq!(content.sha256, sha256);
    assert_eq!(content.decode().unwrap(), bytes);

    let listed = run(
        &state,
        CommandBody::FileList(FileListPayload {
            path: data.to_str().unwrap().to_owned(),
        }),
    )
    .await;
    let Some(FileOutcome::Listing { entries, truncated }) = listed.file else {
        panic!("{listed:?}")
    };
    assert!(!truncated);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].name, "notes.txt");

    // The agent's own secrets: refused with the stable code, and nothing of them returned.
    let secrets = tmp.path().join("breeze/secrets.yaml");
    let refused = run(
        &state,
        CommandBody::FileRead(FileReadPayload {
            path: secrets.to_str().unwrap().to_owned(),
            max_bytes: None,
        }),
    )
    .await;
    assert_eq!(refused.status, CommandStatus::Failed);
    let Some(FileOutcome::Refused { code, .. }) = refused.file else {
        panic!("{refused:?}")
    };
    assert_eq!(code, FileErrorCode::PathForbidden);
    assert!(
        refused
            .error
            .as_deref()
            .unwrap()
            .starts_with("path_forbidden")
    );
    task.abort();
}
