//! Writes the JSON Schema of every message to `vectors/agent-proto/schemas/`.
//!
//! `cargo run -p breeze-agent-proto --example gen_schemas`
#![allow(clippy::expect_used, reason = "generator program")]

mod support;

fn main() {
    support::write_under_vectors(breeze_agent_proto::golden::schema_files());
}
