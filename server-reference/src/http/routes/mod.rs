//! Routes, one module per resource. [`all`] is the route table.

pub mod agent_ws;
pub mod agents;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod command_batches;
pub mod console;
pub mod device_commands;
pub mod device_files;
pub mod mcp;
pub mod ops;
pub mod remote_sessions;
pub mod remote_ws;
pub mod sso_providers;
pub mod tenancy;
pub mod webhooks;

use super::route::Route;

/// Every route of the server, with its declared access.
#[must_use]
pub fn all() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(ops::routes());
    routes.extend(audit::routes());
    routes.extend(tenancy::routes());
    routes.extend(auth::routes());
    routes.extend(agents::routes());
    routes.extend(device_commands::routes());
    routes.extend(agent_ws::routes());
    routes.extend(command_batches::routes());
    routes.extend(remote_sessions::routes());
    routes.extend(remote_ws::routes());
    routes.extend(device_files::routes());
    routes.extend(webhooks::routes());
    routes.extend(mcp::routes());
    routes.extend(approvals::routes());
    routes.extend(sso_providers::routes());
    routes.extend(console::routes());
    routes
}
