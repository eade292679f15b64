//! Agents (SPEC 8): enrollment keys as enrollment reads them, devices and their
//! credentials, source-IP history, heartbeat facts, token rotation and suspension.
//!
//! Credentials are SHA-256 hex hashes; callers compare them in constant time. Every
//! compare-and-set here names the hash it expects, so a lost race changes nothing.

pub mod auth;
pub mod enrollment;
pub mod heartbeat;
pub mod keys;
pub mod rotation;

pub use auth::*;
pub use enrollment::*;
pub use heartbeat::*;
pub use keys::*;
pub use rotation::*;
