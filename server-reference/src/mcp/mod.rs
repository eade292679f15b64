//! The MCP endpoint, the AI risk engine wired in, and human approvals (SPEC 14).
//!
//! | module | holds |
//! |---|---|
//! | [`jsonrpc`] | JSON-RPC framing and the SPEC 14 error codes |
//! | [`caller`] | who calls: an API key naming an `ai:*` scope, capped by its creator now |
//! | [`session`] | `initialize`, sessions in PostgreSQL (TTL, 5 per key, bound to the key) |
//! | [`tools`] | the tools and one call's path (scope, target, decision, run / hold / refuse) |
//! | [`policy`] | the stored overrides fed to the `breeze-authz` risk engine |
//! | [`approvals`] | holding, restoring and executing approvals, every step audited |
//!
//! The HTTP side is `crate::http::routes::mcp` (the endpoint) and
//! `crate::http::routes::approvals` (the approval inbox and the policy overrides).

pub mod approvals;
pub mod caller;
pub mod jsonrpc;
pub mod policy;
pub mod session;
pub mod tools;

/// The largest request body of the endpoint (SPEC 14: 64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Live sessions one API key may hold (SPEC 14).
pub const MAX_SESSIONS_PER_KEY: i64 = 5;

/// Protocol versions this server speaks, newest first.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
