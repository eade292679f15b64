//! Audit work of the server beyond appending (which the store does in the transaction of
//! each change): verification, checkpoints, retention, export, their background tasks and
//! command line, the checkpoint key ids, the aggregation of unauthenticated failures, and the
//! audit event of a request (who called from where).
//!
//! The rules are breeze-core's (`breeze_core::audit`); these modules feed them rows.

pub mod checkpoint_keys;
pub mod cli;
pub mod events;
pub mod failures;
pub mod jobs;
