//! Writes the JSON Schema of every message to `vectors/agent-proto/schemas/`.
//!
//! `cargo run -p breeze-agent-proto --example gen_schemas`
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
    std::fs::create_dir_all(dir.join("schemas")).expect("create schemas dir");
    for (name, contents) in breeze_agent_proto::golden::schema_files() {
        let path = dir.join(&name);
        std::fs::write(&path, contents).expect("write schema file");
        println!("wrote {}", path.display());
    }
}
