//! Remote sessions end to end with real processes (SPEC 12): two `breeze-server` replicas
//! on one database, the real `breeze-agent` (a real PTY) connected to replica B, and a
//! browser socket (exactly what a browser sends) on replica A. The terminal computes
//! `$((6*7))`, resizes, ends; the recording replays with the digest sealed in the chain;
//! a 3 MiB binary file round-trips with matching SHA-256; the agent refuses its own secrets;
//! no ticket appears in any server log line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::agents::{Ws, WsIn, audit_rows, verify_all_chains, ws_next, ws_send};
use crate::common::procs::poll;
use crate::common::remote::{
    fleet_user_token, host_of, new_session, new_ticket, real_fleet, viewer_connect,
};
use breeze_authz::seeded::SeededRole;

/// Reads terminal output until `want` appears (or 20 s pass); returns everything read.
async fn read_until(viewer: &mut Ws, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while Instant::now() < deadline {
        let next = tokio::time::timeout(Duration::from_secs(20), ws_next(viewer)).await;
        match next {
            Ok(WsIn::Json(v)) if v["type"] == "output" => {
                seen.push_str(v["data"].as_str().unwrap_or_default());
                if seen.contains(want) {
                    return seen;
                }
            }
            Ok(WsIn::Json(_)) => {}
            other => panic!("the terminal ended before `{want}`: {other:?}; saw {seen:?}"),
        }
    }
    panic!("no `{want}` within 20 s; saw {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_terminal_and_real_files_across_two_replicas() {
    // debug logging: the strictest place for a ticket to leak
    let f = real_fleet(&[("BREEZE_REMOTE_PING_SECS", "1"), ("RUST_LOG", "debug")]).await;
    let tech_token = fleet_user_token(&f, SeededRole::OrgTechnician).await;
    let admin_token = fleet_user_token(&f, SeededRole::OrgAdmin).await;
    let (fx, harness, device, tmp, agent_dir) = (&f.fx, &f.harness, f.device, &f.tmp, &f.agent_dir);
    let (base_a, base_b) = (&f.base_a, &f.base_b);
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // the terminal: browser on A, agent on B
    let session = new_session(&http, base_a, &tech_token, device).await;
    let ticket = new_ticket(&http, base_a, &tech_token, &session).await;
    let mut viewer = viewer_connect(&host_of(base_a), &session, &ticket, None)
        .await
        .unwrap_or_else(|s| panic!("viewer refused with {s}: {}", f.server_a.log()));
    ws_send(
        &mut viewer,
        &json!({"type": "input", "data": "echo $((6*7))\n"}),
    )
    .await;
    let seen = read_until(&mut viewer, "42").await;
    assert!(seen.contains("42"), "{seen}");
    ws_send(
        &mut viewer,
        &json!({"type": "resize", "cols": 120, "rows": 40}),
    )
    .await;
    ws_send(
        &mut viewer,
        &json!({"type": "input", "data": "stty size\n"}),
    )
    .await;
    read_until(&mut viewer, "40 120").await;
    ws_send(&mut viewer, &json!({"type": "stop"})).await;
    let mut code = None;
    for _ in 0..100 {
        match tokio::time::timeout(Duration::from_secs(10), ws_next(&mut viewer)).await {
            Ok(WsIn::Close(c)) => {
                code = Some(c);
                break;
            }
            Ok(WsIn::Ended) | Err(_) => break,
            Ok(WsIn::Json(_)) => {}
        }
    }
    assert_eq!(code, Some(1000));

    // the recording replays (on B, another replica) with the digest sealed at the end
    poll("remote.session.ended", || async {
        !audit_rows(fx, "remote.session.ended").await.is_empty()
    })
    .await;
    let ended = audit_rows(fx, "remote.session.ended").await;
    let sealed = ended[0].2["transcriptSha256"].as_str().unwrap().to_owned();
    let res = http
        .get(format!(
            "{base_b}/api/v1/remote-sessions/{session}/recording"
        ))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-transcript-sha256"].to_str().unwrap(),
        sealed
    );
    let cast = res.text().await.unwrap();
    assert!(
        cast.contains("42") && cast.contains(r#""r","120x40""#),
        "{cast}"
    );

    // files through the real agent: 3 MiB of binary round-trips, digests at both ends
    let bytes: Vec<u8> = {
        let mut state = 0x9e37_79b9_u32;
        (0..3 * 1024 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect()
    };
    let sha = breeze_agent_proto::file::sha256_hex(&bytes);
    let target = tmp.join("upload.bin");
    let url = |what: &str, path: &std::path::Path| {
        format!(
            "{base_a}/api/v1/devices/{device}/files/{what}?path={}",
            path.display()
        )
    };
    let res = http
        .put(url("content", &target))
        .bearer_auth(&tech_token)
        .header("x-content-sha256", &sha)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sha256"], sha.as_str());
    assert_eq!(std::fs::read(&target).unwrap(), bytes, "the file on disk");
    let res = http
        .get(url("content", &target))
        .bearer_auth(&tech_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-content-sha256"].to_str().unwrap(), sha);
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let res = http
        .get(url("list", tmp))
        .bearer_auth(&tech_token)
        .send()
        .await
        .unwrap();
    let listing: Value = res.json().await.unwrap();
    assert!(
        listing["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "upload.bin" && e["size"] == 3 * 1024 * 1024),
        "{listing}"
    );
    // the agent's own secrets file is refused with a typed error
    let res = http
        .get(url("content", &agent_dir.join("secrets.yaml")))
        .bearer_auth(&tech_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "path_forbidden"
    );

    verify_all_chains(harness, fx).await;
    // no ticket in any server log line
    for (name, log) in [("A", f.server_a.log()), ("B", f.server_b.log())] {
        assert!(!log.contains(&ticket), "replica {name} logged a ticket");
        assert!(!log.is_empty(), "replica {name} logged nothing at all");
    }
}
