//! `breeze-server`: the reference Breeze server, built only on the Breeze crates.
//!
//! The server wires the libraries to HTTP (axum), PostgreSQL (sqlx, row-level security) and
//! Redis; it re-implements none of their rules. One module per concern:
//!
//! | module | holds |
//! |---|---|
//! | [`agents`] | the agent service: enrollment, authentication and its cache, heartbeats and their group commit, commands, results, token rotation, the WebSocket fan-out, admission |
//! | [`audit`] | audit verification, checkpoints, retention, export and their tasks and CLI; checkpoint key ids; aggregated failure audit; the audit event of a request |
//! | [`ops`] | the `breeze-server` command line, bootstrap, secrets rekey, metrics |
//! | [`http`] | the router, the route table with each route's declared access, middleware, thin route adapters per resource |
//! | [`store`] | the PostgreSQL store: connections, the scoped transaction, paging, one module per table family (all SQL lives here) |
//! | [`permissions`] | the permission cache of user requests and the version counters read from PostgreSQL |
//! | [`config`] | configuration from the environment and an optional file, startup validation |
//! | [`state`] | the shared application state |
//! | [`error`] | the API error type and its JSON rendering |
//! | [`clock`] | the injectable clock |
//! | [`notify`] | outbound user notifications (the encrypted outbox) |
//! | [`mcp`] | the MCP endpoint: API-key callers capped by their creator, sessions, tools, the risk decision, approvals (SPEC 14) |
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

pub mod agents;
pub mod audit;
pub mod clock;
pub mod config;
pub mod error;
pub mod http;
pub mod mcp;
pub mod notify;
pub mod ops;
pub mod permissions;
pub mod remote;
pub mod sso;
pub mod state;
pub mod store;
pub mod webhooks;
