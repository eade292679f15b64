//! Rewrites `vectors/crypto/breeze_generated.json`. Run after a deliberate change to a format:
//! `cargo run -p breeze-crypto --example gen_vectors`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "generator program"
)]

#[path = "../tests/support/generate.rs"]
mod generate;

fn main() {
    let value = generate::generate();
    let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
    std::fs::write(generate::generated_path(), text).unwrap();
    println!("wrote {}", generate::generated_path().display());
}
