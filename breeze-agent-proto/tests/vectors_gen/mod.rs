//! Lists the shared vectors of `vectors/agent-proto/` (used by `examples/gen_vectors.rs`, which
//! writes them, and by `tests/golden.rs`, which fails when the checked-in copy is stale).
//! The files are built by the library's public [`breeze_agent_proto::golden`] module (the
//! bindings decode through its outcome functions): the golden vectors, the redaction vectors
//! and the JSON Schema of every message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "generator and test code"
)]

use std::path::PathBuf;

use breeze_agent_proto::golden::{schema_files, vector_files};

#[path = "../../../vectors/gen_support.rs"]
pub mod support;

/// The folder of the files under `vectors/`.
pub const DIR: &str = "agent-proto";

/// The command that rewrites the files.
pub const COMMAND: &str = "cargo run -p breeze-agent-proto --example gen_vectors";

/// `vectors/<DIR>` in this checkout.
pub fn dir() -> PathBuf {
    support::dir(env!("CARGO_MANIFEST_DIR"), DIR)
}

/// Every vector file: (path under `vectors/<DIR>/`, pretty JSON text).
pub fn all() -> Vec<(String, String)> {
    let mut files = vector_files();
    files.extend(schema_files());
    files
}
