//! placeholder
use crate::http::route::Route;
/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> { Vec::new() }
