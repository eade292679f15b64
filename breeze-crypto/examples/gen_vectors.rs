//! Writes the generated vectors of `vectors/crypto/`: `cargo run -p breeze-crypto --example gen_vectors`.
//!
//! The files are built by `tests/vectors_gen/mod.rs`; `tests/vectors.rs` rebuilds them in
//! memory and fails when a checked-in file is stale. Run after a deliberate change to a format.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "generator program"
)]

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

fn main() {
    let dir = vectors_gen::dir();
    for (name, text) in vectors_gen::all() {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the vectors folder");
        }
        std::fs::write(&path, text).expect("write a vector file");
        println!("wrote vectors/{}/{name}", vectors_gen::DIR);
    }
    println!(
        "(the same command rewrites them: `{}`)",
        vectors_gen::COMMAND
    );
}
