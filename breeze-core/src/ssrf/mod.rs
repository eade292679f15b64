//! The SSRF guard for outbound requests (SPEC 9).
//!
//! [`classify`] says which addresses are never reachable (loopback, private, link-local,
//! CGNAT, unique-local, multicast, unspecified, broadcast, documentation, cloud metadata, and
//! the IPv4-mapped / NAT64 forms of them); [`SsrfPolicy`] adds the explicit allow-list, the
//! scheme rule and the redirect bound. With the `http-client` feature, [`GuardedClient`] is a
//! reqwest client whose DNS hook resolves through a [`DnsResolver`], checks every address and
//! hands the connector only checked addresses, whose redirect policy re-checks every hop, and
//! which checks IP-literal URLs itself.

pub mod classify;
#[cfg(feature = "http-client")]
mod client;
mod hosts;
mod policy;
#[cfg(feature = "http-client")]
mod resolver;

pub use classify::{RefusedRange, refused_range};
#[cfg(feature = "http-client")]
pub use client::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, GuardedClient, GuardedClientBuilder, check_url,
};
pub use hosts::{HostAllowList, MAX_HOST_ENTRIES, MAX_HOST_ENTRY};
pub use policy::{DEFAULT_MAX_REDIRECTS, SsrfError, SsrfPolicy};
#[cfg(feature = "http-client")]
pub use reqwest::{Method, Response, Url};
#[cfg(feature = "http-client")]
pub use resolver::{DnsResolver, HickoryDnsResolver, Lookup};
