//! Writes the shared vectors of `vectors/authz/`: `cargo run -p breeze-authz --example gen_vectors`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "generator code"
)]

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/authz");
    std::fs::create_dir_all(&dir).expect("create vectors/authz");
    for (name, text) in vectors_gen::all() {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write vector file");
        println!("wrote {}", path.display());
    }
    println!("(regenerate with `{}`)", vectors_gen::COMMAND);
}
