//! Writes the golden vectors to `vectors/agent-proto/` (text.json, binary.json).
//!
//! `cargo run -p breeze-agent-proto --example gen_vectors`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/agent-proto");
    std::fs::create_dir_all(&dir).expect("create vectors/agent-proto");
    for (name, contents) in breeze_agent_proto::golden::vector_files() {
        let path = dir.join(&name);
        std::fs::write(&path, contents).expect("write vector file");
        println!("wrote {}", path.display());
    }
}
