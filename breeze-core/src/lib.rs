//! Breeze core: tenancy ids and the scope every data access needs, the tamper-evident
//! audit chain, outbound webhook events and signatures, rate limiting, revocation, the
//! outbound SSRF guard and startup configuration validation, and the text hygiene of names
//! and hostnames.
//!
//! | module | holds |
//! |---|---|
//! | [`tenancy`] | one id newtype per tenancy level (partner, organization, site, device group, device) and per principal (SPEC 1) |
//! | [`audit`] | the tamper-evident audit chain: events, canonical form, per-organization hash chains, checkpoints, retention, export bundles (SPEC 6) |
//! | [`webhooks`] | outbound webhooks: the event catalogue, events from audit entries, delivery bodies, secrets, Standard Webhooks signatures (SPEC 13) |
//! | [`ratelimit`] | sliding-window rate limiting, in memory or Redis (SPEC 7) |
//! | [`revocation`] | token revocation state, the refresh `jti` burn and the refresh-reuse decision (SPEC 2.2, 2.3) |
//! | [`clientip`] | the client IP a request is keyed on, behind trusted proxies |
//! | [`ipallow`] | partner IP allow-lists: parsing, normalization, the admit decision (SPEC 16) |
//! | [`ssrf`] | the SSRF guard for outbound requests (SPEC 9) |
//! | [`config`] | startup configuration validation (SPEC 4, 9) |
//! | [`text`] | text hygiene for names and hostnames that reach logs, audit entries and terminals |
//!
//! Features: `redis` (the Redis backends of [`ratelimit`] and [`revocation`]) and
//! `http-client` (the SSRF-guarded outbound client), both on by default; without them the
//! crate has no network code and builds for WebAssembly (as the bindings use it).
//!
//! ## Example
//!
//! ```
//! use breeze_core::audit::{
//!     Action, Actor, AuditEvent, AuditResult, ChainId, InitiatedBy, KeyRing, MemoryChain,
//!     Timestamp,
//! };
//! use breeze_core::tenancy::{DeviceId, OrgId, UserId};
//!
//! // The tenancy scope: every organization has its own audit chain.
//! let org: OrgId = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f".parse()?;
//! let (user, device) = (UserId::new_random(), DeviceId::new_random());
//! let mut chain = MemoryChain::new(ChainId::Org(org));
//!
//! // Two events, each linked to the one before by its chain hash.
//! let t0 = Timestamp::from_unix_micros(1_767_225_600_000_000)?;
//! let login = AuditEvent::builder(
//!     Actor::User(user),
//!     Action::new("auth.login.success")?,
//!     AuditResult::Success,
//!     InitiatedBy::Manual,
//!     t0,
//! )
//! .resource_type("user")
//! .resource_id(user.to_string())
//! .build()?;
//! let reboot = AuditEvent::builder(
//!     Actor::User(user),
//!     Action::new("device.command.execute")?,
//!     AuditResult::Success,
//!     InitiatedBy::Manual,
//!     Timestamp::from_unix_micros(t0.unix_micros() + 1_000_000)?,
//! )
//! .resource_type("device")
//! .resource_id(device.to_string())
//! .details(&serde_json::json!({"command": "reboot"}))
//! .build()?;
//! let first = chain.append(login)?.chain_hash;
//! let second = chain.append(reboot)?;
//! assert_eq!(second.sequence, 1);
//! assert_eq!(Some(second.prev_hash), first);
//!
//! // Verify the whole chain (no checkpoints, so no keys needed).
//! let verified = chain.verify(KeyRing::new())?;
//! assert_eq!(verified.chain, ChainId::Org(org));
//! assert_eq!((verified.entries, verified.last_sequence), (2, Some(1)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audit;
pub mod clientip;
pub mod config;
pub mod ipallow;
pub mod ratelimit;
pub mod revocation;
pub mod ssrf;
pub mod tenancy;
pub mod text;
pub mod webhooks;
