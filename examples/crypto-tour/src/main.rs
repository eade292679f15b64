//! Tour of breeze-crypto (filled in with the crypto crate).
fn main() {}
