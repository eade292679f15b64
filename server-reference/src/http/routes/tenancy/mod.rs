//! Tenancy management (SPEC 1, 3.3, 5, 8.1): partners, organizations, sites, device groups,
//! devices, users and memberships, roles, API keys and enrollment keys.
//!
//! Double enforcement (SPEC 1.3): every handler runs its SQL in the request's one
//! transaction (row-level security filters it) AND checks `can_access_org` /
//! `can_access_site` in Rust before acting. A foreign id answers 404, never 403, so a
//! caller cannot tell "exists elsewhere" from "does not exist". Every mutation appends its
//! audit event in the same transaction: the affected organization's chain, or the system
//! chain for partner-level changes (partners, roles, organization creation, partner users).
//!
//! Permissions chosen where the SPEC registry has no dedicated resource:
//! - device groups: `devices:read` to read, `devices:write` to create/rename/delete;
//! - quarantine: `devices:write`; decommission: `devices:delete` (irreversible);
//! - roles: `users:read` to list, `users:write` to create/change/delete (plus a
//!   partner-wide write context: partner scope with `org_access = all`, or system);
//! - API keys: `organizations:read` to list, `organizations:write` to create/revoke;
//! - enrollment keys: `devices:write` for list, create and delete (a key admits devices);
//! - a partner's IP allow-list: `sso:admin` (the tenant's identity-and-access settings).

pub mod api_keys;
pub mod devices;
pub mod enrollment_keys;
pub mod groups;
pub mod ip_allowlist;
pub mod memberships;
pub mod orgs;
pub mod partners;
pub mod roles;
pub mod sites;
pub mod users;

use breeze_authz::registry::PermissionSet;
use breeze_core::audit::{AuditEventBuilder, AuditResult};
use breeze_core::tenancy::{OrgId, SiteId};
use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::route::Route;
use crate::state::AppState;
use crate::store::tenancy;
use crate::store::{ScopedTx, audit};

/// Every tenancy route.
#[must_use]
pub fn routes() -> Vec<Route> {
    let mut all = Vec::new();
    all.extend(partners::routes());
    all.extend(ip_allowlist::routes());
    all.extend(orgs::routes());
    all.extend(sites::routes());
    all.extend(groups::routes());
    all.extend(devices::routes());
    all.extend(users::routes());
    all.extend(roles::routes());
    all.extend(api_keys::routes());
    all.extend(enrollment_keys::routes());
    all
}

/// Longest name of a tenancy object.
pub const MAX_NAME: usize = 200;

/// Starts an audit event of `authed` about `resource_type` `id`.
pub(crate) fn event(
    state: &AppState,
    authed: &Authed,
    action: &str,
    resource_type: &str,
    id: impl std::fmt::Display,
) -> Result<AuditEventBuilder, ApiError> {
    Ok(authed
        .event(state, action, AuditResult::Success)?
        .resource_type(resource_type)
        .resource_id(id.to_string()))
}

/// Seals `event` into `org`'s chain (the system chain for `None`) inside `tx`.
pub(crate) async fn seal(
    tx: &mut ScopedTx,
    org: Option<OrgId>,
    event: AuditEventBuilder,
) -> Result<(), ApiError> {
    let event = event.build().map_err(ApiError::internal)?;
    audit::append(tx, org, event).await?;
    Ok(())
}

/// 404 unless the context reaches organization `org` (Rust-side check, SPEC 1.3).
pub(crate) fn org_in_reach(authed: &Authed, org: OrgId) -> Result<(), ApiError> {
    if authed.ctx.can_access_org(org) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// 404 unless the context reaches site `site` of organization `org`.
pub(crate) fn site_in_reach(authed: &Authed, org: OrgId, site: SiteId) -> Result<(), ApiError> {
    if authed.ctx.can_access_site(org, site) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Whether the caller holds every permission of `set` (privilege-escalation guard: nobody
/// grants what they do not hold).
pub(crate) fn holds_all(state: &AppState, authed: &Authed, set: &PermissionSet) -> bool {
    set.iter(&state.registry)
        .all(|p| authed.allows(state, &p.to_string()))
}

/// A name issue at `path`, if `name` is not 1..=`max` characters without control
/// characters (`breeze_core::text::check_name`: newlines and escape sequences reach logs
/// and terminals).
pub(crate) fn name_issue(path: &str, name: &str, max: usize) -> Option<FieldIssue> {
    match breeze_core::text::check_name(name, max) {
        Ok(()) => None,
        Err(breeze_core::text::NameError::ControlCharacter) => {
            Some(FieldIssue::new(path, "must not contain control characters"))
        }
        Err(_) => Some(FieldIssue::new(
            path,
            format!("must be 1 to {max} characters"),
        )),
    }
}

/// An optional name's issue.
pub(crate) fn opt_name_issue(path: &str, name: Option<&str>, max: usize) -> Option<FieldIssue> {
    name.and_then(|n| name_issue(path, n, max))
}

/// Path of an organization.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgPath {
    /// The organization.
    pub org_id: OrgId,
}

/// Path of a site.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SitePath {
    /// The site.
    pub site_id: SiteId,
}

/// Loads a site the context reaches (404 otherwise, whether it exists or not).
pub(crate) async fn site_for(
    tx: &mut ScopedTx,
    authed: &Authed,
    site: SiteId,
) -> Result<tenancy::SiteRow, ApiError> {
    let row = tenancy::get_site(tx, site)
        .await?
        .ok_or(ApiError::NotFound)?;
    site_in_reach(authed, row.org_id, row.id)?;
    Ok(row)
}

/// Most organizations or sites a membership lists.
pub const MAX_LIST: usize = 1000;

/// A password from a request body: never printed (`Debug` is redacted), zeroized on drop.
pub struct Password(pub SecretString);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl schemars::JsonSchema for Password {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Password".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "password", "writeOnly": true})
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        Ok(Self(SecretString::from(s.as_str())))
    }
}
