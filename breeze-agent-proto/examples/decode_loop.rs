//! Decodes a typical heartbeat (or a 1 MiB command result) N times, for instruction and cycle
//! counts that do not depend on machine load:
//!
//! `perf stat -e cycles,instructions target/release/examples/decode_loop heartbeat 100000`
//! (subtract a run with N = 0 for the setup cost).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "measurement program"
)]

use std::hint::black_box;

use breeze_agent_proto::{CommandResult, HeartbeatRequest, Message};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "heartbeat".to_owned());
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let vectors = breeze_agent_proto::golden::text_vectors();
    let heartbeat = vectors
        .iter()
        .find(|v| v.name == "heartbeat_request/typical")
        .unwrap()
        .input
        .clone();
    let line = "drwxr-xr-x  2 root root 4096 Nov 22 14:05 some-directory-name\n";
    let stdout: String = line
        .repeat(1024 * 1024 / line.len() + 1)
        .chars()
        .take(1024 * 1024)
        .collect();
    let result = serde_json::json!({ "commandId": "8c3e4a6b-9d0f-4e2c-b3d4-e5f6a7b8c9d0",
        "status": "completed", "exitCode": 0, "stdout": stdout })
    .to_string();
    for _ in 0..n {
        if what == "heartbeat" {
            black_box(HeartbeatRequest::decode(black_box(heartbeat.as_bytes())).unwrap());
        } else {
            black_box(CommandResult::decode(black_box(result.as_bytes())).unwrap());
        }
    }
}
