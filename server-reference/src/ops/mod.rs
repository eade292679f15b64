//! Operations: the command line, first-run bootstrap, the secrets rekey and the metrics
//! registry.

pub mod bootstrap;
pub mod cli;
pub mod doctor;
pub mod metrics;
pub mod rekey;
pub mod rotate;
