//! Access resolution (SPEC 1.1): from a principal to the [`AccessContext`] every data
//! access takes.
//!
//! [`resolve`] is the only way to build an [`AccessContext`] besides
//! [`AccessContext::system`], which needs a written reason and returns a
//! [`SystemAccessRecord`] for the audit log. The context has private fields, no public
//! constructor and no `Deserialize`, so a repository function that takes one cannot be
//! called with a context invented by the caller.
//!
//! Rules:
//! - **The narrowest live membership wins**: organization over partner (SPEC 5), partner
//!   over system. A membership is live when its state is active and, for an organization
//!   membership, its organization is active or trial and not deleted. A user with no live
//!   membership gets [`ResolveError::NoLiveMembership`] (HTTP 401).
//! - **Partner scope**: `org_access = all` reaches every active/trial, not-deleted
//!   organization of the partner; `selected` the listed ones under the same filters (an
//!   org of another partner in the list is ignored); `none` nothing. Partner users are not
//!   limited to sites.
//! - **Organization scope**: exactly its own organization, and the membership's site list
//!   (`SiteAccess::All` or an explicit list; an empty list reaches no site).
//! - **API keys** resolve to organization scope on the key's organization (all sites);
//!   only a [`UsableApiKey`] (status and expiry checked) can be a principal.
//! - **Agents** resolve to organization scope on their device's organization and site. An
//!   agent of an offboarding organization still resolves, with
//!   [`AccessContext::org_offboarding`] set, so the server can allow only heartbeat,
//!   command fetch, results and rotation (SPEC 1).
//!
//! `orgs` passed to [`resolve`] are the organization records the server loaded for the
//! principal (all orgs of the partner for a partner membership, the one org otherwise);
//! records of other partners are ignored, so passing too many is harmless.
//! Loading them `ORDER BY id` makes resolution cheaper (the id list is sorted in place and
//! an already sorted input is detected in linear time).
//!
//! The context cannot be forged from outside this crate:
//!
//! ```compile_fail
//! use breeze_authz::access::AccessContext;
//! // Private fields: no struct literal.
//! let ctx = AccessContext { scope: breeze_authz::access::Scope::System };
//! ```
//!
//! ```compile_fail
//! use breeze_authz::access::AccessContext;
//! // No `Deserialize`: a context never comes from request data.
//! let ctx: AccessContext = serde_json::from_str("{}").unwrap();
//! ```

use breeze_core::tenancy::{
    ApiKeyId, DeviceId, OrgId, OrgStatus, PartnerId, RoleId, SiteId, UserId,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api_key::UsableApiKey;
pub use crate::idset::IdSet;
/// The scope of an access context (SPEC 1.1): the same three levels as a role's scope.
pub use crate::role::RoleScope as Scope;

/// The most characters of a system-context reason.
pub const MAX_REASON_LEN: usize = 500;

/// What an organization looks like to access resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrgRecord {
    /// The organization.
    pub id: OrgId,
    /// Its partner.
    pub partner_id: PartnerId,
    /// Lifecycle status.
    pub status: OrgStatus,
    /// Soft-deleted.
    pub deleted: bool,
}

impl OrgRecord {
    /// Active or trial, and not deleted: the only organizations users can reach.
    #[must_use]
    pub const fn is_serviceable(&self) -> bool {
        self.status.is_active() && !self.deleted
    }
}

/// Whether a membership is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipState {
    /// In force.
    Active,
    /// Disabled, invited-but-not-accepted, or the partner itself is suspended: ignored.
    Inactive,
}

/// Which organizations of the partner a partner membership reaches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "org_ids", rename_all = "snake_case")]
pub enum OrgAccess {
    /// Every active/trial, not-deleted organization of the partner.
    All,
    /// The listed organizations (same filters).
    Selected(Vec<OrgId>),
    /// None.
    None,
}

/// Which sites of its organization an organization membership reaches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "site_ids", rename_all = "snake_case")]
pub enum SiteAccess {
    /// Every site.
    All,
    /// Only these sites; an empty list reaches no site.
    Only(Vec<SiteId>),
}

/// A system (platform operator) membership.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SystemMembership {
    /// The system role.
    pub role_id: RoleId,
    /// Whether it is in force.
    pub state: MembershipState,
}

/// A partner membership (role + org access).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartnerMembership {
    /// The partner.
    pub partner_id: PartnerId,
    /// The partner role.
    pub role_id: RoleId,
    /// Which of the partner's organizations it reaches.
    pub org_access: OrgAccess,
    /// Whether it is in force.
    pub state: MembershipState,
}

/// An organization membership (role + optional site list).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrgMembership {
    /// The organization.
    pub org_id: OrgId,
    /// The organization role.
    pub role_id: RoleId,
    /// Which sites it reaches.
    pub sites: SiteAccess,
    /// Whether it is in force.
    pub state: MembershipState,
}

/// A user's memberships as loaded by the server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Memberships {
    /// A system membership.
    pub system: Option<SystemMembership>,
    /// A partner membership.
    pub partner: Option<PartnerMembership>,
    /// An organization membership.
    pub organization: Option<OrgMembership>,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An authenticated user.
    User {
        /// The user.
        user_id: UserId,
        /// Their memberships.
        memberships: Memberships,
    },
    /// An API key that passed its status and expiry check.
    ApiKey(UsableApiKey),
    /// An authenticated agent.
    Agent {
        /// The agent's device.
        device_id: DeviceId,
        /// The device's organization.
        org_id: OrgId,
        /// The device's site.
        site_id: SiteId,
    },
}

/// Why no access context could be resolved. Every variant is HTTP 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResolveError {
    /// The user has no live membership.
    #[error("no live membership")]
    NoLiveMembership,
    /// The API key's or agent's organization is unknown, suspended or deleted.
    #[error("organization unavailable")]
    OrganizationUnavailable,
}

impl ResolveError {
    /// A stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoLiveMembership => "no_live_membership",
            Self::OrganizationUnavailable => "organization_unavailable",
        }
    }

    /// The HTTP status the server answers with.
    #[must_use]
    pub const fn http_status(&self) -> u16 {
        401
    }
}

/// A system context that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SystemContextError {
    /// Empty, too long, or containing control characters.
    #[error("a system context needs a reason of 1 to 500 characters without control characters")]
    InvalidReason,
}

/// Who acts under a context (for the audit log's actor fields).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A user.
    User(UserId),
    /// An API key.
    ApiKey(ApiKeyId),
    /// An agent (its device).
    Agent(DeviceId),
    /// The platform itself (background jobs, CLI), with its reason.
    System(String),
}

/// What a request may reach. Built only by [`resolve`] or [`AccessContext::system`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessContext {
    scope: Scope,
    actor: Actor,
    org_id: Option<OrgId>,
    accessible_org_ids: IdSet<OrgId>,
    accessible_partner_ids: IdSet<PartnerId>,
    allowed_site_ids: IdSet<SiteId>,
    user_id: Option<UserId>,
    current_partner_id: Option<PartnerId>,
    role_id: Option<RoleId>,
    org_access_all: bool,
    org_offboarding: bool,
}

/// The audit record of a system context: who asked for it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[must_use = "a system context must be written to the audit log"]
pub struct SystemAccessRecord {
    /// The reason given.
    pub reason: String,
    /// When the context was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
}

/// The most organizations [`AccessContext::listing_orgs`] names. PostgreSQL weighs every
/// listed id against the column's statistics when it plans the listing: planning took
/// 0.3 ms longer with 300 ids and 2.2 ms longer with 1,000, more than the ordered scan it
/// replaces costs a partner reaching most organizations (docs/PERFORMANCE.md).
pub const LISTING_ORGS_MAX: usize = 256;

/// The names of the PostgreSQL session settings of SPEC 1.2, in the order
/// [`AccessContext::session_settings`] returns them. The eighth,
/// `breeze.partner_wide_write`, carries [`AccessContext::can_write_partner_wide`] so
/// row-level security refuses partner-wide writes too (`true`, or empty for no right).
pub const SESSION_SETTING_NAMES: [&str; 8] = [
    "breeze.scope",
    "breeze.org_id",
    "breeze.accessible_org_ids",
    "breeze.accessible_partner_ids",
    "breeze.user_id",
    "breeze.current_partner_id",
    "breeze.allowed_site_ids",
    "breeze.partner_wide_write",
];

fn org_scope(
    actor: Actor,
    org: &OrgRecord,
    sites: IdSet<SiteId>,
    user_id: Option<UserId>,
    role_id: Option<RoleId>,
) -> AccessContext {
    AccessContext {
        scope: Scope::Organization,
        actor,
        org_id: Some(org.id),
        accessible_org_ids: IdSet::collect([org.id]),
        accessible_partner_ids: IdSet::none(),
        allowed_site_ids: sites,
        user_id,
        current_partner_id: Some(org.partner_id),
        role_id,
        org_access_all: false,
        org_offboarding: org.status == OrgStatus::Offboarding && !org.deleted,
    }
}

fn find_org(orgs: &[OrgRecord], id: OrgId) -> Option<&OrgRecord> {
    orgs.iter().find(|org| org.id == id)
}

/// Resolves the access context of `principal`.
///
/// # Errors
/// [`ResolveError::NoLiveMembership`] for a user with no live membership;
/// [`ResolveError::OrganizationUnavailable`] for an API key or agent whose organization is
/// not in `orgs`, suspended or deleted.
pub fn resolve(principal: &Principal, orgs: &[OrgRecord]) -> Result<AccessContext, ResolveError> {
    match principal {
        Principal::User {
            user_id,
            memberships,
        } => resolve_user(*user_id, memberships, orgs),
        Principal::ApiKey(key) => {
            let org = find_org(orgs, key.org_id())
                .filter(|org| org.is_serviceable())
                .ok_or(ResolveError::OrganizationUnavailable)?;
            Ok(org_scope(
                Actor::ApiKey(key.id()),
                org,
                IdSet::all(),
                None,
                None,
            ))
        }
        Principal::Agent {
            device_id,
            org_id,
            site_id,
        } => {
            let org = find_org(orgs, *org_id)
                .filter(|org| {
                    !org.deleted && (org.status.is_active() || org.status == OrgStatus::Offboarding)
                })
                .ok_or(ResolveError::OrganizationUnavailable)?;
            Ok(org_scope(
                Actor::Agent(*device_id),
                org,
                IdSet::collect([*site_id]),
                None,
                None,
            ))
        }
    }
}

fn resolve_user(
    user_id: UserId,
    memberships: &Memberships,
    orgs: &[OrgRecord],
) -> Result<AccessContext, ResolveError> {
    if let Some(m) = &memberships.organization
        && m.state == MembershipState::Active
        && let Some(org) = find_org(orgs, m.org_id).filter(|org| org.is_serviceable())
    {
        let sites = match &m.sites {
            SiteAccess::All => IdSet::all(),
            SiteAccess::Only(ids) => IdSet::collect(ids.iter().copied()),
        };
        return Ok(org_scope(
            Actor::User(user_id),
            org,
            sites,
            Some(user_id),
            Some(m.role_id),
        ));
    }
    if let Some(m) = &memberships.partner
        && m.state == MembershipState::Active
    {
        let of_partner = orgs
            .iter()
            .filter(|org| org.partner_id == m.partner_id && org.is_serviceable());
        let accessible = match &m.org_access {
            OrgAccess::All => IdSet::collect(of_partner.map(|org| org.id)),
            OrgAccess::Selected(selected) => IdSet::collect(of_partner.map(|org| org.id))
                .intersect(&IdSet::collect(selected.iter().copied())),
            OrgAccess::None => IdSet::none(),
        };
        return Ok(AccessContext {
            scope: Scope::Partner,
            actor: Actor::User(user_id),
            org_id: None,
            accessible_org_ids: accessible,
            accessible_partner_ids: IdSet::collect([m.partner_id]),
            allowed_site_ids: IdSet::all(),
            user_id: Some(user_id),
            current_partner_id: Some(m.partner_id),
            role_id: Some(m.role_id),
            org_access_all: m.org_access == OrgAccess::All,
            org_offboarding: false,
        });
    }
    if let Some(m) = &memberships.system
        && m.state == MembershipState::Active
    {
        return Ok(AccessContext {
            scope: Scope::System,
            actor: Actor::User(user_id),
            org_id: None,
            accessible_org_ids: IdSet::all(),
            accessible_partner_ids: IdSet::all(),
            allowed_site_ids: IdSet::all(),
            user_id: Some(user_id),
            current_partner_id: None,
            role_id: Some(m.role_id),
            org_access_all: true,
            org_offboarding: false,
        });
    }
    Err(ResolveError::NoLiveMembership)
}

impl AccessContext {
    /// The context of an API key acting for its creator: one organization, the given
    /// sites, the key as the actor (built by [`crate::ai::delegated_context`]).
    pub(crate) fn delegated(
        key: breeze_core::tenancy::ApiKeyId,
        org: &OrgRecord,
        sites: IdSet<SiteId>,
    ) -> Self {
        org_scope(Actor::ApiKey(key), org, sites, None, None)
    }

    /// A system-scope context for platform work with no user behind it (background jobs,
    /// CLI commands). The returned record must be written to the audit log.
    ///
    /// # Errors
    /// [`SystemContextError::InvalidReason`] for an empty (after trimming), over-long or
    /// control-character reason.
    pub fn system(
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(Self, SystemAccessRecord), SystemContextError> {
        let reason = reason.trim();
        if reason.is_empty()
            || reason.chars().count() > MAX_REASON_LEN
            || reason.chars().any(char::is_control)
        {
            return Err(SystemContextError::InvalidReason);
        }
        let context = Self {
            scope: Scope::System,
            actor: Actor::System(reason.to_owned()),
            org_id: None,
            accessible_org_ids: IdSet::all(),
            accessible_partner_ids: IdSet::all(),
            allowed_site_ids: IdSet::all(),
            user_id: None,
            current_partner_id: None,
            role_id: None,
            org_access_all: true,
            org_offboarding: false,
        };
        let record = SystemAccessRecord {
            reason: reason.to_owned(),
            issued_at: now,
        };
        Ok((context, record))
    }

    /// A system-scope context narrowed to the listed organizations and sites, for platform
    /// work done on behalf of several authenticated principals at once (the server's batched
    /// agent heartbeats): row-level security still admits only those organizations and
    /// sites, and no partner. PostgreSQL does not treat it as "system": policies reserved
    /// to the platform (users, memberships, refresh tokens, MFA, password resets, partners)
    /// refuse it, because its lists are not `*`. The returned record must be written to the audit log, as for
    /// [`AccessContext::system`].
    ///
    /// # Errors
    /// [`SystemContextError::InvalidReason`], as for [`AccessContext::system`].
    pub fn system_within(
        reason: &str,
        now: OffsetDateTime,
        orgs: impl IntoIterator<Item = OrgId>,
        sites: impl IntoIterator<Item = SiteId>,
    ) -> Result<(Self, SystemAccessRecord), SystemContextError> {
        let (mut context, record) = Self::system(reason, now)?;
        context.accessible_org_ids = IdSet::collect(orgs);
        context.accessible_partner_ids = IdSet::none();
        context.allowed_site_ids = IdSet::collect(sites);
        context.org_access_all = false;
        Ok((context, record))
    }

    /// The scope.
    #[must_use]
    pub const fn scope(&self) -> Scope {
        self.scope
    }

    /// Who acts.
    #[must_use]
    pub const fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The organization of an organization-scope context.
    #[must_use]
    pub const fn org_id(&self) -> Option<OrgId> {
        self.org_id
    }

    /// The one organization every row this context reads belongs to: its own, in
    /// organization scope; `None` in partner and system scope. A listing narrowed to it
    /// returns exactly the rows row-level security lets through, but reads that
    /// organization's index range instead of filtering a scan of every organization's rows.
    #[must_use]
    pub const fn sole_org(&self) -> Option<OrgId> {
        match self.scope {
            Scope::Organization => self.org_id,
            Scope::System | Scope::Partner => None,
        }
    }

    /// The organizations a listing may be narrowed to: every organization this context
    /// reaches (its own in organization scope, the reached ones in partner scope, possibly
    /// none) when they are at most [`LISTING_ORGS_MAX`]; `None` in system scope, which
    /// reaches every organization, and for a longer list. Row-level security lets through
    /// exactly these organizations' rows, so a listing that also names them returns the
    /// same rows, but reads their index ranges instead of filtering a scan of every
    /// organization's rows until a page fills (a partner user with a few selected
    /// organizations among a thousand).
    #[must_use]
    pub fn listing_orgs(&self) -> Option<Vec<OrgId>> {
        match self.scope {
            Scope::System => None,
            Scope::Organization | Scope::Partner => self
                .accessible_org_ids
                .ids()
                .filter(|ids| ids.len() <= LISTING_ORGS_MAX),
        }
    }

    /// The organizations this context reaches.
    #[must_use]
    pub const fn accessible_org_ids(&self) -> &IdSet<OrgId> {
        &self.accessible_org_ids
    }

    /// The partners this context reaches (system: all; partner: its own; organization: none).
    #[must_use]
    pub const fn accessible_partner_ids(&self) -> &IdSet<PartnerId> {
        &self.accessible_partner_ids
    }

    /// The sites this context reaches inside its accessible organizations.
    #[must_use]
    pub const fn allowed_site_ids(&self) -> &IdSet<SiteId> {
        &self.allowed_site_ids
    }

    /// The user, when a user acts.
    #[must_use]
    pub const fn user_id(&self) -> Option<UserId> {
        self.user_id
    }

    /// The partner the request runs under (partner scope: its own; organization scope: the
    /// organization's partner; system: none).
    #[must_use]
    pub const fn current_partner_id(&self) -> Option<PartnerId> {
        self.current_partner_id
    }

    /// The role of the membership that won, when a user acts.
    #[must_use]
    pub const fn role_id(&self) -> Option<RoleId> {
        self.role_id
    }

    /// Whether the context is an agent of an offboarding organization (serve only
    /// heartbeat, command fetch, results and token rotation).
    #[must_use]
    pub const fn org_offboarding(&self) -> bool {
        self.org_offboarding
    }

    /// Whether the context reaches organization `org`.
    #[must_use]
    pub fn can_access_org(&self, org: OrgId) -> bool {
        self.accessible_org_ids.contains(&org)
    }

    /// Whether the context reaches site `site` of organization `org` (the caller passes the
    /// site's real organization, as stored).
    #[must_use]
    pub fn can_access_site(&self, org: OrgId, site: SiteId) -> bool {
        self.can_access_org(org) && self.allowed_site_ids.contains(&site)
    }

    /// Whether the context reaches partner `partner`.
    #[must_use]
    pub fn can_access_partner(&self, partner: PartnerId) -> bool {
        self.accessible_partner_ids.contains(&partner)
    }

    /// Whether the context may write partner-wide rows (SPEC 1.1: partner scope with
    /// `org_access = all`, or system scope not narrowed by [`AccessContext::system_within`]).
    #[must_use]
    pub const fn can_write_partner_wide(&self) -> bool {
        match self.scope {
            Scope::System | Scope::Partner => self.org_access_all,
            Scope::Organization => false,
        }
    }

    /// The PostgreSQL session settings of SPEC 1.2, as `(name, value)` pairs in the order of
    /// [`SESSION_SETTING_NAMES`], for `set_config(name, value, true)`. Lists are
    /// comma-joined lowercase UUIDs, `*` means all, the empty string none (or not
    /// applicable). `breeze.partner_wide_write` is `true` when
    /// [`AccessContext::can_write_partner_wide`] holds, else empty.
    #[must_use]
    pub fn session_settings(&self) -> [(&'static str, String); 8] {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let [scope, org, orgs, partners, user, current, sites, write] = SESSION_SETTING_NAMES;
        [
            (scope, self.scope.as_str().to_owned()),
            (org, opt(self.org_id.map(|id| id.to_string()))),
            (orgs, self.accessible_org_ids.to_setting()),
            (partners, self.accessible_partner_ids.to_setting()),
            (user, opt(self.user_id.map(|id| id.to_string()))),
            (
                current,
                opt(self.current_partner_id.map(|id| id.to_string())),
            ),
            (sites, self.allowed_site_ids.to_setting()),
            (
                write,
                if self.can_write_partner_wide() {
                    "true".to_owned()
                } else {
                    String::new()
                },
            ),
        ]
    }
}
