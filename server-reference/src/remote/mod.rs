//! Remote sessions and file operations (SPEC 12): the session service ([`sessions`]), its
//! one-time tickets ([`ticket`]) and their audited refusals ([`refusals`]), the relay between replicas ([`relay`]), the recording
//! ([`recording`]) and its sealed storage and replay ([`transcript`]), the browser input
//! limits ([`limits`]) and file operations through the agent ([`files`]). The routes (`crate::http::routes::remote_sessions`, `remote_ws`,
//! `device_files`) only adapt HTTP and WebSocket to these.

pub mod files;
pub mod limits;
pub mod recording;
pub mod refusals;
pub mod relay;
pub mod sessions;
pub mod ticket;
pub mod transcript;
