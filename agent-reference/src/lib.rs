//! `breeze-agent`: the reference Breeze endpoint agent (SPEC section 8).
//!
//! Every message is a `breeze_agent_proto` type; this crate adds the host side: the config
//! directory ([`config`]), the HTTP client ([`client`]) and WebSocket loop ([`ws`]),
//! enrollment ([`enroll`]), token rotation ([`rotation`]), command execution ([`exec`]),
//! remote terminals ([`terminal`], relayed on the socket by [`relay`]) and file operations
//! ([`files`], SPEC 12), telemetry ([`telemetry`]) and the run loop ([`agent`]). The paths
//! it calls are in [`paths`].
//!
//! ```
//! use breeze_agent::backoff::parse_retry_after;
//! use std::time::{Duration, SystemTime};
//!
//! assert_eq!(parse_retry_after("7", SystemTime::now()), Some(Duration::from_secs(7)));
//! assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
//! ```

pub mod agent;
pub mod backoff;
pub mod client;
pub mod config;
pub mod enroll;
pub mod exec;
pub mod files;
pub mod paths;
pub mod relay;
pub mod rotation;
pub mod telemetry;
pub mod terminal;
pub mod ws;
