//! `breeze-fleet-sim`: simulates a fleet of Breeze agents against a running server, on
//! loopback only, and reports what the server carried.
//!
//! The simulator speaks the real agent protocol (`breeze-agent-proto` types, the same paths
//! and headers as `breeze-agent`): it enrolls agents with enrollment keys, holds one
//! WebSocket per agent, sends heartbeats at an interval with jitter, answers the commands
//! it is sent, and can drop every socket at once to make a reconnect storm. Connections
//! are spread over many loopback source addresses (`127.x.y.z`) so neither the ephemeral
//! port range nor the server's per-IP limits bound a run, and every run is bounded in time
//! and in the number of agents. Agents enrolled with `--bind-keys` hold an Ed25519 device
//! key and sign every request and WebSocket upgrade as `breeze-agent` does (SPEC 17,
//! [`signing`]).
//!
//! ```
//! use breeze_fleet_sim::addrs::SourcePool;
//! use breeze_fleet_sim::target::Target;
//!
//! let target = Target::parse("http://127.0.0.1:3000").unwrap();
//! assert_eq!(target.ws_url("/api/v1/agent-ws/a/ws"), "ws://127.0.0.1:3000/api/v1/agent-ws/a/ws");
//! // a public address is refused: all traffic stays on loopback
//! assert!(Target::parse("http://203.0.113.7:3000").is_err());
//!
//! let pool = SourcePool::new(1000).unwrap();
//! assert_eq!(pool.len(), 1000);
//! assert!(pool.for_agent(12_345).is_loopback());
//! ```

pub mod actors;
pub mod addrs;
pub mod admin;
pub mod audit_seed;
pub mod creds;
pub mod enroll;
pub mod error;
pub mod http_agent;
pub mod probe;
pub mod procstat;
pub mod provision;
pub mod report;
pub mod run;
pub mod signing;
pub mod stats;
pub mod target;
pub mod ws_agent;

pub use error::SimError;
