//! Writes the golden vectors to `vectors/agent-proto/` (text.json, binary.json).
//!
//! `cargo run -p breeze-agent-proto --example gen_vectors`
#![allow(clippy::expect_used, reason = "generator program")]

mod support;

fn main() {
    support::write_under_vectors(breeze_agent_proto::golden::vector_files());
}
