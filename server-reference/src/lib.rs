//! `breeze-server`: the reference Breeze server, built only on the Breeze crates.
//!
//! The server wires the libraries to HTTP (axum), PostgreSQL (sqlx, row-level security) and
//! Redis; it re-implements none of their rules. One module per concern:
//!
//! | module | holds |
//! |---|---|
//! | [`audit_jobs`] | audit verification, checkpoints, retention, export and their background tasks |
//! | [`checkpoint_keys`] | audit checkpoint key ids derived from the public key, the verifying ring, the startup check of stored checkpoints |
//! | [`config`] | configuration from the environment and an optional file, startup validation |
//! | [`store`] | the PostgreSQL store: connections, the scoped transaction, one module per table family (all SQL lives here) |
//! | [`http`] | the router, the route table with each route's declared access, middleware, routes per resource |
//! | [`state`] | the shared application state |
//! | [`cli`] | the `breeze-server` command line |
//! | [`failure_audit`] | aggregated audit of repeated unauthenticated failures on the system chain |
//! | [`error`] | the API error type and its JSON rendering |
//! | [`clock`] | the injectable clock |
//! | [`notify`] | outbound user notifications (the encrypted outbox) |
//! | [`fanout`] | the per-process agent WebSocket hub and its PostgreSQL `LISTEN` task |
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use breeze_server::{config::ServerConfig, state::AppState};
//! let config = ServerConfig::from_env_and_file(None)?;
//! let state = AppState::connect(config).await?;
//! let router = breeze_server::http::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! breeze_server::http::serve(listener, router).await?;
//! # Ok(()) }
//! ```

pub mod agent_beats;
pub mod agent_cache;
pub mod agent_load;
pub mod audit_cli;
pub mod audit_jobs;
pub mod bootstrap;
pub mod checkpoint_keys;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod failure_audit;
pub mod fanout;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod rekey;
pub mod state;
pub mod store;
