//! Writes the shared vectors of `vectors/authz/`: `cargo run -p breeze-authz --example gen_vectors`.
//!
//! The files are built by `tests/vectors_gen/mod.rs`; `tests/vectors.rs` rebuilds them in
//! memory and fails when a checked-in file is stale.

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
