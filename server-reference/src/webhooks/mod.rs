//! Outbound webhooks and audit streaming (SPEC 13), wired from breeze-core's rules.
//!
//! - The event catalogue, the payloads, Standard Webhooks signing, the secret format and the
//!   retry schedule are `breeze_core::webhooks`; the address checks are `breeze_core::ssrf`.
//! - Deliveries are written to the outbox by [`crate::store::audit::append`], in the
//!   transaction of the audit entry they come from.
//! - [`worker`] claims due deliveries on every replica (`FOR UPDATE SKIP LOCKED`) and
//!   [`deliver`] sends each through the SSRF-guarded client, at send time: resolve, refuse,
//!   connect to the checked address, no redirects, 10 s, at most 64 KiB of answer read.
//! - [`service`] is the subscription lifecycle the routes call (create, change, delete,
//!   roll the secret, test, redeliver, the organization's host allow-list), audited.
//! - [`target`] is the URL rule of a subscription; [`client`] builds the guarded client
//!   from the configuration.

pub mod client;
pub mod deliver;
pub mod service;
pub mod target;
pub mod worker;

use std::sync::Arc;

use breeze_core::ssrf::GuardedClient;
use tokio::sync::Notify;
use uuid::Uuid;

/// The delivery side of one replica: the guarded client, the worker's wake-up, the id the
/// attempt log names this replica by.
#[derive(Debug)]
pub struct Webhooks {
    /// The SSRF-guarded client every attempt goes through.
    pub client: GuardedClient,
    /// Wakes the worker early (a test event, a redelivery).
    pub wake: Notify,
    /// This replica in the attempt log.
    pub replica: Uuid,
}

impl Webhooks {
    /// The delivery side over `client`.
    #[must_use]
    pub fn new(client: GuardedClient) -> Arc<Self> {
        Arc::new(Self {
            client,
            wake: Notify::new(),
            replica: Uuid::new_v4(),
        })
    }
}
