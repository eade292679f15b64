//! Writes the shared vectors of `vectors/audit/` and `vectors/webhooks/`:
//! `cargo run -p breeze-core --example gen_vectors`.
//!
//! The files are built by `tests/vectors_gen/mod.rs` and `tests/vectors_gen/webhooks.rs`;
//! `tests/audit_vectors.rs` and `tests/webhooks_vectors.rs` rebuild them in memory and fail
//! when a checked-in file is stale.
#![expect(
    clippy::duplicate_mod,
    reason = "each generator includes vectors/gen_support.rs as its own `support`, as the tests do"
)]

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

#[path = "../tests/vectors_gen/webhooks.rs"]
mod webhooks_gen;

fn main() {
    vectors_gen::support::write_all(
        &vectors_gen::dir(),
        vectors_gen::DIR,
        vectors_gen::COMMAND,
        vectors_gen::all(),
    );
    webhooks_gen::support::write_all(
        &webhooks_gen::dir(),
        webhooks_gen::DIR,
        webhooks_gen::COMMAND,
        webhooks_gen::all(),
    );
}
