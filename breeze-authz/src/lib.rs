//! Breeze RBAC: the permission registry, roles, access resolution, API-key scopes,
//! session validity, force-MFA and the AI tool risk policy (SPEC sections 1.1, 1.2, 2.2, 2.4,
//! 3.3, 5 and 10).
//!
//! A pure library: no database, no web framework, no clock reads on decision paths (time
//! is a parameter), so it also builds for `wasm32`.
//!
//! | module | holds |
//! |---|---|
//! | [`permission`] | `resource:action` permissions and wildcard grants |
//! | [`registry`] | the SPEC 5 registry (extensible) and compiled permission sets |
//! | [`role`] | roles scoped system / partner / organization |
//! | [`seeded`] | the seeded roles and their permission sets, in one table |
//! | [`access`] | access resolution and the [`access::AccessContext`] (SPEC 1.1, 1.2) |
//! | [`cache`] | the permission cache with per-user and global invalidation |
//! | [`session`] | whether a verified token still belongs to a live session: active user, epochs, password change, MFA (SPEC 2.2) |
//! | [`mfa`] | the force-MFA 428 decision (SPEC 2.4) |
//! | [`api_key`] | API-key scopes, status and expiry (SPEC 3.3) |
//! | [`risk`] | the AI tool risk engine and approvals (SPEC 10) |
//! | [`ai`] | what an API key may do through MCP: the `ai:*` scopes, the tools, the creator's cap (SPEC 14) |
//! | [`approval`] | an approval's life: argument digest, four eyes with a fresh factor, one execution in ten minutes (SPEC 14) |
//!
//! ## Decisions where the SPEC is silent
//!
//! - **Narrowest membership wins**: organization over partner (SPEC 5), and partner over
//!   system, so an extra membership can only narrow what a request reaches.
//! - **`*:*` is for system roles only**, so Partner Admin holds `resource:*` for every SPEC 5
//!   resource instead ([`seeded`] explains every seeded set).
//! - **Site lists**: an organization membership without a site list renders
//!   `breeze.allowed_site_ids = '*'`; an empty list renders `''` and reaches no site.
//! - **Agents** of an offboarding organization still resolve, flagged
//!   ([`access::AccessContext::org_offboarding`]); users and API keys of it do not.
//! - **Unknown AI tools are blocked**; a critical level (from the catalogue or a broader
//!   override) is a floor no more specific override lowers.
//! - **Approvals** must come from a user other than the requester, in scope for the target,
//!   holding `approvals:decide`, within [`risk::APPROVAL_TTL`] (one hour).
//! - **Force-MFA exemptions** are exact paths under `/api/v1` ([`mfa::DEFAULT_EXEMPT_PATHS`]);
//!   anything odd-looking (`..`, `//`, `%`) is not exempt.
//! - **Permission cache**: if the invalidation counters cannot be read, nothing is served
//!   from or stored in the cache.
//!
//! ## Example
//!
//! ```
//! use breeze_authz::access::{resolve, Memberships, OrgAccess, OrgRecord, MembershipState, PartnerMembership, Principal};
//! use breeze_authz::registry::Registry;
//! use breeze_authz::seeded::SeededRole;
//! use breeze_core::tenancy::{OrgId, OrgStatus, PartnerId, RoleId, UserId};
//!
//! // Startup: the registry, the compiled role, and the permission id a route needs.
//! let registry = Registry::spec();
//! let technician = SeededRole::PartnerTechnician.role().compile(&registry)?;
//! let execute = registry.id_of(&"scripts:execute".parse()?).ok_or("unregistered")?;
//!
//! // Per request: resolve the principal, then check permission and tenancy.
//! let partner = PartnerId::new_random();
//! let (a, b) = (OrgId::new_random(), OrgId::new_random());
//! let orgs = [
//!     OrgRecord { id: a, partner_id: partner, status: OrgStatus::Active, deleted: false },
//!     OrgRecord { id: b, partner_id: partner, status: OrgStatus::Suspended, deleted: false },
//! ];
//! let principal = Principal::User {
//!     user_id: UserId::new_random(),
//!     memberships: Memberships {
//!         partner: Some(PartnerMembership {
//!             partner_id: partner,
//!             role_id: RoleId::new_random(),
//!             org_access: OrgAccess::All,
//!             state: MembershipState::Active,
//!         }),
//!         ..Memberships::default()
//!     },
//! };
//! let context = resolve(&principal, &orgs)?;
//! assert!(technician.allows(execute));
//! assert!(context.can_access_org(a));
//! assert!(!context.can_access_org(b)); // suspended
//! let settings = context.session_settings();
//! assert_eq!(settings[2], ("breeze.accessible_org_ids", a.to_string()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod access;
pub mod ai;
pub mod api_key;
pub mod approval;
pub mod cache;
mod idset;
pub mod mfa;
pub mod permission;
pub mod registry;
pub mod risk;
pub mod role;
pub mod seeded;
pub mod session;
