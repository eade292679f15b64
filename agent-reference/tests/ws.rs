#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]
//! The WebSocket session against a loopback server: how each close code and upgrade refusal
//! ends a session, and the heartbeat's `configUpdate` persisted to `agent.yaml`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use breeze_agent::agent::{Context, heartbeat_once};
use breeze_agent::backoff::Backoff;
use breeze_agent::config::ConfigDir;
use breeze_agent::enroll::{EnrollOptions, enroll};
use breeze_agent::exec::ExecLimits;
use breeze_agent::ws::{Ended, session};
use breeze_agent_proto::frame::AgentFrame;
use breeze_agent_proto::{AgentConfig, EnrollmentKey, HeartbeatRequest, HeartbeatStatus};
use common::{FakeState, Shared};

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
    let ctx = Arc::new(Context::load(dir, ExecLimits::default()).unwrap());
    (tmp, ctx)
}

async fn one_session(ctx: &Arc<Context>) -> Ended {
    let (_tx, mut rx) = tokio::sync::watch::channel(false);
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(2));
    tokio::time::timeout(Duration::from_secs(60), session(ctx, &mut rx, &mut backoff))
        .await
        .expect("session ended")
}

#[tokio::test]
async fn close_codes_end_the_session_as_the_spec_says() {
    for (code, expected) in [
        (4001, Ended::NotAuthorized),
        (4002, Ended::Superseded),
        (4008, Ended::Reconnect(None)),
        (4040, Ended::Reconnect(None)),
    ] {
        let state = FakeState::new();
        state.lock().unwrap().ws_close_code = Some(code);
        let (_tmp, ctx) = context(&state).await;
        assert_eq!(one_session(&ctx).await, expected, "close {code}");
        let st = state.lock().unwrap();
        assert!(
            matches!(st.ws_frames.first(), Some(AgentFrame::Pong(_))),
            "ping answered"
        );
        assert_eq!(st.ws_connections, 1);
    }
}

#[tokio::test]
async fn a_refused_upgrade_stands_by_or_honours_retry_after() {
    let state = FakeState::new();
    let (_tmp, ctx) = context(&state).await;
    state.lock().unwrap().ws_reject = Some((403, "0"));
    assert_eq!(one_session(&ctx).await, Ended::NotAuthorized);
    state.lock().unwrap().ws_reject = Some((503, "42"));
    assert_eq!(
        one_session(&ctx).await,
        Ended::Reconnect(Some(Duration::from_secs(42)))
    );
    state.lock().unwrap().ws_reject = Some((429, "7"));
    assert_eq!(
        one_session(&ctx).await,
        Ended::Reconnect(Some(Duration::from_secs(7)))
    );
}

#[tokio::test]
async fn shutdown_ends_a_live_session() {
    let state = FakeState::new();
    let (_tmp, ctx) = context(&state).await;
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(2));
    let ctx2 = Arc::clone(&ctx);
    let task = tokio::spawn(async move { session(&ctx2, &mut rx, &mut backoff).await });
    common::wait_until(Duration::from_secs(60), || {
        !state.lock().unwrap().ws_frames.is_empty()
    })
    .await;
    tx.send(true).unwrap();
    assert_eq!(task.await.unwrap(), Ended::Shutdown);
}

#[tokio::test]
async fn a_config_update_is_applied_and_saved() {
    let state = FakeState::new();
    let (_tmp, ctx) = context(&state).await;
    let update = AgentConfig {
        heartbeat_interval_seconds: 120,
        metrics_collection_interval_seconds: 45,
    };
    state.lock().unwrap().config_update = Some(update);
    heartbeat_once(&ctx, &HeartbeatRequest::new(HeartbeatStatus::Ok, "1.0.0"))
        .await
        .unwrap();
    assert_eq!(ctx.agent.read().await.agent_config(), update);
    assert_eq!(ctx.dir.read_agent().unwrap().agent_config(), update);
}
