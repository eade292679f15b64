//! The agent service (SPEC 8, 11): everything the server does for and to agents, called by
//! the HTTP routes and the WebSocket (`crate::http::routes::agents`, `agent_ws`), which only
//! decode, call and render.
//!
//! | module | holds |
//! |---|---|
//! | [`enroll`] | enrollment in the SPEC 8.1 order, refusals and their audit, re-enrollment in place |
//! | [`auth`] | agent token authentication (SPEC 8.2) and the socket re-check |
//! | [`auth_cache`] | the short-lived cache of authentication rows, invalidated through PostgreSQL |
//! | [`rows`] | coalesced reads of authentication rows on a cache miss |
//! | [`heartbeat`] | a heartbeat's processing: facts, rotation confirmation, claimed commands |
//! | [`beats`] | the group commit of heartbeats |
//! | [`commands`] | sealing queued commands, claiming and decoding them for the wire |
//! | [`results`] | command results: redacted, stored, audited |
//! | [`rotation`] | token rotation: stage, confirm, grace |
//! | [`socket`] | the agent socket's rules: open, charge frames, ownership, probes and suspension |
//! | [`fanout`] | the per-process WebSocket hub and its `LISTEN` task |
//! | [`admission`] | load control of the agent hot path |
//! | [`error`] | the error an agent is answered with |

pub mod admission;
pub mod auth;
pub mod auth_cache;
pub mod beats;
pub mod binding;
pub mod commands;
pub mod device_key;
pub mod enroll;
pub mod error;
pub mod fanout;
pub mod heartbeat;
pub mod offline;
pub mod results;
pub mod rotation;
pub mod rows;
pub mod socket;
