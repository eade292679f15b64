//! Writes the generated vectors of `vectors/crypto/`: `cargo run -p breeze-crypto --example gen_vectors`.
//!
//! The files are built by `tests/vectors_gen/mod.rs`; `tests/vectors.rs` rebuilds them in
//! memory and fails when a checked-in file is stale. Run after a deliberate change to a format.

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

fn main() {
    vectors_gen::support::write_all(
        &vectors_gen::dir(),
        vectors_gen::DIR,
        vectors_gen::COMMAND,
        vectors_gen::all(),
    );
}
