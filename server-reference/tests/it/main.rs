//! The server's integration tests, one binary with a module per area (one link instead of
//! one per file): agents, audit, auth, operations, row-level security, tenancy, the fleet
//! simulator and the end-to-end runs with real `breeze-server` and `breeze-agent` processes.
//!
//! Needs `DATABASE_URL` and, for the Redis tests, `REDIS_URL`; `scripts/test` provides both.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

mod agent_auth_cache;
mod agent_binding;
mod agent_bulk;
mod agent_e2e;
mod agent_heartbeat_batch;
mod agent_http;
mod agent_ws;
mod api_clients;
mod api_schemathesis;
mod api_stateful;
mod audit_api;
mod audit_append_only;
mod audit_concurrency;
mod audit_retention;
mod audit_tamper;
mod auth_ip_allowlist;
mod auth_login;
mod auth_mfa;
mod auth_redis;
mod auth_reset;
mod auth_session;
mod auth_sessions;
mod console_assets;
mod console_e2e;
mod fleet_sim;
mod matrix;
mod mcp_api;
mod mcp_bench;
mod mcp_e2e;
mod sso_oidc;

mod chaos;
mod edge_inputs;
mod ops_cli;
mod ops_doctor;
mod ops_firsthour;
mod ops_hardening;
mod ops_metrics_openapi;
mod ops_rekey;
mod ops_rotate;
mod ops_tls;
mod ops_upgrade;
mod remote_bench;
mod remote_e2e;
mod remote_sessions;
mod rls_coverage;
mod smoke;
mod tenancy_crud;
mod tenancy_seeded_roles;
mod webhooks_api;
mod webhooks_bench;
mod webhooks_e2e;
