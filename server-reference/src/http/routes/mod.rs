//! Routes, one module per resource. [`all`] is the route table.

pub mod agent_ws;
pub mod agents;
pub mod audit;
pub mod auth;
pub mod command_batches;
pub mod device_commands;
pub mod ops;
pub mod tenancy;

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
    routes
}
