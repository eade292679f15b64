//! Breeze core: tenancy ids and the scope every data access needs, the tamper-evident
//! audit chain, rate limiting, revocation, the outbound SSRF guard and startup
//! configuration validation, and the text hygiene of names and hostnames.

pub mod audit;
pub mod clientip;
pub mod config;
pub mod ratelimit;
pub mod revocation;
pub mod ssrf;
pub mod tenancy;
pub mod text;
