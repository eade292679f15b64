//! Writes the shared vectors of `vectors/agent-proto/` (golden vectors, redaction vectors and
//! `schemas/`): `cargo run -p breeze-agent-proto --example gen_vectors`.
//!
//! The files are listed by `tests/vectors_gen/mod.rs`; `tests/golden.rs` rebuilds them in
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
