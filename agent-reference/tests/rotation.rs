#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]
//! Token rotation against a loopback server, with the state on real files: a full rotation,
//! resuming after a crash between the phases, after a crash between confirm and promotion,
//! expired pending tokens, and failures that must keep the pending tokens.

mod common;

use breeze_agent::client::ApiClient;
use breeze_agent::config::{ConfigDir, PendingTokens, Secrets, Tokens};
use breeze_agent::rotation::{RotationError, RotationOutcome, resume, rotate};
use breeze_crypto::credentials::AgentToken;
use common::{ConfirmMode, FakeState, Shared};
use time::OffsetDateTime;

struct Setup {
    _tmp: tempfile::TempDir,
    dir: ConfigDir,
    client: ApiClient,
    state: Shared,
}

fn tokens_with_auth(auth: &str) -> Tokens {
    Tokens {
        auth: AgentToken::parse(auth).unwrap(),
        watchdog: AgentToken::generate().unwrap(),
        helper: AgentToken::generate().unwrap(),
    }
}

async fn setup() -> Setup {
    let state = FakeState::new();
    let addr = common::serve(common::router(state.clone())).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = ConfigDir::new(tmp.path().join("breeze"));
    let current = state.lock().unwrap().current.clone();
    dir.write_secrets_verified(&Secrets {
        current: tokens_with_auth(&current),
        pending: None,
        signing_key: None,
    })
    .unwrap();
    let client = ApiClient::new(&format!("http://127.0.0.1:{}", addr.port()), false, None).unwrap();
    Setup {
        _tmp: tmp,
        dir,
        client,
        state,
    }
}

fn auth_on_disk(dir: &ConfigDir) -> String {
    dir.read_secrets()
        .unwrap()
        .current
        .auth
        .expose_secret()
        .to_owned()
}

#[tokio::test]
async fn a_full_rotation_stages_saves_confirms_and_promotes() {
    let s = setup().await;
    let old = auth_on_disk(&s.dir);
    let outcome = rotate(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap();
    assert_eq!(outcome, RotationOutcome::Rotated);
    let st = s.state.lock().unwrap();
    assert_eq!((st.stages, st.confirms, st.bad_auth), (1, 1, 0));
    // The server's current token is the one on disk, and it is new.
    assert_eq!(auth_on_disk(&s.dir), st.current);
    assert_ne!(st.current, old);
    assert!(s.dir.read_secrets().unwrap().pending.is_none());
}

#[tokio::test]
async fn a_crash_between_the_phases_is_resumed_with_the_pending_token() {
    let s = setup().await;
    let old = auth_on_disk(&s.dir);
    // Phase 1 happened and was saved, then the agent "crashed": the server holds pending
    // tokens and so does the file.
    s.state.lock().unwrap().confirm_mode = ConfirmMode::Fail;
    let err = rotate(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::Client(_)), "{err}");
    let on_disk = s.dir.read_secrets().unwrap();
    let pending = on_disk.pending.as_ref().expect("pending tokens kept");
    assert_eq!(
        on_disk.current.auth.expose_secret(),
        old,
        "current unchanged"
    );
    assert_eq!(
        Some(pending.tokens.auth.expose_secret().to_owned()),
        s.state.lock().unwrap().pending
    );

    // Restart: resume confirms with the pending token and promotes it.
    s.state.lock().unwrap().confirm_mode = ConfirmMode::Normal;
    let outcome = resume(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap();
    assert_eq!(outcome, RotationOutcome::Rotated);
    let st = s.state.lock().unwrap();
    assert_eq!(auth_on_disk(&s.dir), st.current);
    assert_ne!(st.current, old);
    assert_eq!(st.stages, 1, "no second stage");
    assert!(s.dir.read_secrets().unwrap().pending.is_none());
}

#[tokio::test]
async fn a_crash_after_confirm_but_before_promotion_is_resumed() {
    let s = setup().await;
    // The server already promoted `new` (confirm succeeded) but the file still lists it as
    // pending: the agent crashed before writing the promotion.
    let old = auth_on_disk(&s.dir);
    let new = common::new_token();
    {
        let mut st = s.state.lock().unwrap();
        st.previous = Some(old.clone());
        st.current = new.clone();
    }
    s.dir
        .write_secrets_verified(&Secrets {
            current: tokens_with_auth(&old),
            pending: Some(PendingTokens {
                tokens: tokens_with_auth(&new),
                expires_at: OffsetDateTime::now_utc(),
            }),
            signing_key: None,
        })
        .unwrap();
    let outcome = resume(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap();
    assert_eq!(outcome, RotationOutcome::Rotated);
    assert_eq!(auth_on_disk(&s.dir), new);
}

#[tokio::test]
async fn expired_pending_tokens_are_dropped_and_the_current_ones_kept() {
    let s = setup().await;
    let old = auth_on_disk(&s.dir);
    s.dir
        .write_secrets_verified(&Secrets {
            current: tokens_with_auth(&old),
            pending: Some(PendingTokens {
                tokens: tokens_with_auth(&common::new_token()),
                expires_at: OffsetDateTime::now_utc(),
            }),
            signing_key: None,
        })
        .unwrap();
    s.state.lock().unwrap().confirm_mode = ConfirmMode::Expired;
    let outcome = resume(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap();
    assert_eq!(outcome, RotationOutcome::PendingDiscarded);
    let on_disk = s.dir.read_secrets().unwrap();
    assert!(on_disk.pending.is_none());
    assert_eq!(on_disk.current.auth.expose_secret(), old);
}

#[tokio::test]
async fn unknown_pending_tokens_are_dropped() {
    let s = setup().await;
    let old = auth_on_disk(&s.dir);
    s.dir
        .write_secrets_verified(&Secrets {
            current: tokens_with_auth(&old),
            pending: Some(PendingTokens {
                tokens: tokens_with_auth(&common::new_token()),
                expires_at: OffsetDateTime::now_utc(),
            }),
            signing_key: None,
        })
        .unwrap();
    // Normal mode, but the server never staged these: `rotation_not_pending` (409).
    let outcome = resume(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap();
    assert_eq!(outcome, RotationOutcome::PendingDiscarded);
    assert_eq!(auth_on_disk(&s.dir), old);
    // The agent can rotate normally afterwards.
    let outcome = rotate(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap();
    assert_eq!(outcome, RotationOutcome::Rotated);
    assert_eq!(auth_on_disk(&s.dir), s.state.lock().unwrap().current);
}

#[tokio::test]
async fn an_unreachable_server_keeps_the_pending_tokens() {
    let s = setup().await;
    let old = auth_on_disk(&s.dir);
    let pending = common::new_token();
    s.dir
        .write_secrets_verified(&Secrets {
            current: tokens_with_auth(&old),
            pending: Some(PendingTokens {
                tokens: tokens_with_auth(&pending),
                expires_at: OffsetDateTime::now_utc(),
            }),
            signing_key: None,
        })
        .unwrap();
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let dead = ApiClient::new(&format!("http://127.0.0.1:{port}"), false, None).unwrap();
    let err = resume(&dead, &s.dir, &common::agent_id())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationError::Client(ref e) if e.is_retryable()),
        "{err}"
    );
    let on_disk = s.dir.read_secrets().unwrap();
    assert_eq!(on_disk.current.auth.expose_secret(), old);
    assert_eq!(
        on_disk.pending.unwrap().tokens.auth.expose_secret(),
        pending
    );
}

#[tokio::test]
async fn nothing_pending_means_nothing_to_resume() {
    let s = setup().await;
    let outcome = resume(&s.client, &s.dir, &common::agent_id())
        .await
        .unwrap();
    assert_eq!(outcome, RotationOutcome::NothingPending);
    assert_eq!(s.state.lock().unwrap().confirms, 0);
}
