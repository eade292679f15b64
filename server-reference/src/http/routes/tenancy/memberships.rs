//! User memberships (SPEC 1.2, 5): the membership a client writes, the one answered, and
//! the checks a write passes: the target partner/organization and sites in the caller's reach,
//! the role assignable there, and never a role granting more than the caller holds.

use breeze_authz::access::{Memberships, OrgAccess, Scope, SiteAccess};
use breeze_authz::permission::Grant;
use breeze_authz::registry::PermissionSet;
use breeze_core::tenancy::{OrgId, PartnerId, RoleId, SiteId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{MAX_LIST, holds_all, site_in_reach};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::Validate;
use crate::state::AppState;
use crate::store::roles::RoleRow;
use crate::store::users::{self};
use crate::store::{ScopedTx, roles, tenancy};

/// A membership as written by a client.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum MembershipBody {
    /// Partner membership.
    #[serde(rename_all = "camelCase")]
    Partner {
        /// Role (partner scope).
        role_id: RoleId,
        /// `all`, `selected` or `none`.
        org_access: String,
        /// The organizations of `selected`.
        #[serde(default)]
        org_ids: Vec<OrgId>,
    },
    /// Organization membership.
    #[serde(rename_all = "camelCase")]
    Organization {
        /// Organization.
        org_id: OrgId,
        /// Role (organization scope).
        role_id: RoleId,
        /// Sites (absent = every site).
        site_ids: Option<Vec<SiteId>>,
    },
}

impl MembershipBody {
    pub(crate) fn issues(&self, prefix: &str) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        match self {
            Self::Partner {
                org_access,
                org_ids,
                ..
            } => {
                match org_access.as_str() {
                    "selected" if org_ids.is_empty() => issues.push(FieldIssue::new(
                        format!("{prefix}orgIds"),
                        "must list at least one organization for selected access",
                    )),
                    "all" | "none" if !org_ids.is_empty() => issues.push(FieldIssue::new(
                        format!("{prefix}orgIds"),
                        "is only allowed with selected access",
                    )),
                    "all" | "none" | "selected" => {}
                    _ => issues.push(FieldIssue::new(
                        format!("{prefix}orgAccess"),
                        "must be all, selected or none",
                    )),
                }
                if org_ids.len() > MAX_LIST {
                    issues.push(FieldIssue::new(format!("{prefix}orgIds"), "is too long"));
                }
            }
            Self::Organization { site_ids, .. } => {
                if site_ids.as_ref().is_some_and(|s| s.len() > MAX_LIST) {
                    issues.push(FieldIssue::new(format!("{prefix}siteIds"), "is too long"));
                }
            }
        }
        issues
    }
}

impl Validate for MembershipBody {
    fn validate(&self) -> Vec<FieldIssue> {
        self.issues("")
    }
}

/// A membership as answered.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum MembershipView {
    /// Partner membership.
    #[serde(rename_all = "camelCase")]
    Partner {
        /// Partner.
        partner_id: PartnerId,
        /// Role.
        role_id: RoleId,
        /// `all`, `selected` or `none`.
        org_access: &'static str,
        /// The organizations of `selected` that the caller reaches.
        org_ids: Vec<OrgId>,
        /// Live.
        active: bool,
    },
    /// Organization membership.
    #[serde(rename_all = "camelCase")]
    Organization {
        /// Organization.
        org_id: OrgId,
        /// Role.
        role_id: RoleId,
        /// Sites (absent = every site).
        site_ids: Option<Vec<SiteId>>,
        /// Live.
        active: bool,
    },
}

pub(super) fn membership_view(authed: &Authed, m: &Memberships) -> Option<MembershipView> {
    use breeze_authz::access::MembershipState;
    if let Some(o) = &m.organization {
        return Some(MembershipView::Organization {
            org_id: o.org_id,
            role_id: o.role_id,
            site_ids: match &o.sites {
                SiteAccess::All => None,
                SiteAccess::Only(s) => Some(s.clone()),
            },
            active: o.state == MembershipState::Active,
        });
    }
    m.partner.as_ref().map(|p| {
        let (access, ids) = match &p.org_access {
            OrgAccess::All => ("all", Vec::new()),
            OrgAccess::None => ("none", Vec::new()),
            OrgAccess::Selected(ids) => (
                "selected",
                ids.iter()
                    .copied()
                    .filter(|o| authed.ctx.can_access_org(*o))
                    .collect(),
            ),
        };
        MembershipView::Partner {
            partner_id: p.partner_id,
            role_id: p.role_id,
            org_access: access,
            org_ids: ids,
            active: p.state == MembershipState::Active,
        }
    })
}

pub(super) fn compile_row(state: &AppState, role: &RoleRow) -> Result<PermissionSet, ApiError> {
    let grants = role
        .permissions
        .iter()
        .map(|g| g.parse::<Grant>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    state.registry.compile(&grants).map_err(ApiError::internal)
}

/// The permissions of the role a user's winning membership holds (None: no membership).
pub(super) async fn current_role_set(
    state: &AppState,
    tx: &mut ScopedTx,
    m: &Memberships,
) -> Result<Option<PermissionSet>, ApiError> {
    let role = m
        .organization
        .as_ref()
        .map(|o| o.role_id)
        .or_else(|| m.partner.as_ref().map(|p| p.role_id));
    let Some(role) = role else {
        return Ok(None);
    };
    match roles::get_role(tx, role).await? {
        Some(r) => Ok(Some(compile_row(state, &r)?)),
        // a role the caller cannot see: treat as more powerful than the caller
        None => Err(ApiError::Forbidden("privilege_escalation")),
    }
}

/// A checked membership, ready to write.
#[derive(Debug)]
pub(crate) enum Checked {
    Partner {
        partner: PartnerId,
        role: RoleId,
        access: String,
        orgs: Vec<OrgId>,
    },
    Organization {
        org: OrgId,
        partner: PartnerId,
        role: RoleId,
        sites: Option<Vec<SiteId>>,
    },
}

/// Checks a membership grant against every escalation guard; `partner_hint` is the target
/// user's partner (system scope).
pub(crate) async fn check_membership(
    state: &AppState,
    authed: &Authed,
    tx: &mut ScopedTx,
    body: &MembershipBody,
    partner_hint: Option<PartnerId>,
) -> Result<Checked, ApiError> {
    let role_id = match body {
        MembershipBody::Partner { role_id, .. } | MembershipBody::Organization { role_id, .. } => {
            role_id
        }
    };
    let role = roles::get_role(tx, *role_id)
        .await?
        .ok_or_else(|| ApiError::invalid("body.membership.roleId", "is not a known role"))?;
    if role.scope == "system" {
        return Err(ApiError::Forbidden("system_role_not_grantable"));
    }
    let set = compile_row(state, &role)?;
    if !holds_all(state, authed, &set) {
        return Err(ApiError::Forbidden("privilege_escalation"));
    }
    match body {
        MembershipBody::Partner {
            org_access,
            org_ids,
            ..
        } => {
            if role.scope != "partner" {
                return Err(ApiError::invalid(
                    "body.membership.roleId",
                    "must be a partner-scoped role",
                ));
            }
            if authed.ctx.scope() == Scope::Organization {
                return Err(ApiError::Forbidden("org_scope_cannot_grant_partner"));
            }
            if !authed.ctx.can_write_partner_wide() {
                return Err(ApiError::Forbidden("partner_wide_write_required"));
            }
            let partner = authed
                .ctx
                .current_partner_id()
                .or(partner_hint)
                .ok_or_else(|| ApiError::invalid("body.partnerId", "is required"))?;
            if role.partner_id.is_some_and(|p| p != partner) {
                return Err(ApiError::invalid(
                    "body.membership.roleId",
                    "is not a known role",
                ));
            }
            let mut orgs = Vec::with_capacity(org_ids.len());
            for org in org_ids {
                let ok = authed.ctx.can_access_org(*org)
                    && tenancy::get_org(tx, *org)
                        .await?
                        .is_some_and(|o| o.partner_id == partner);
                if !ok {
                    return Err(ApiError::NotFound);
                }
                orgs.push(*org);
            }
            orgs.sort_unstable();
            orgs.dedup();
            Ok(Checked::Partner {
                partner,
                role: role.id,
                access: org_access.clone(),
                orgs,
            })
        }
        MembershipBody::Organization {
            org_id, site_ids, ..
        } => {
            if role.scope != "organization" {
                return Err(ApiError::invalid(
                    "body.membership.roleId",
                    "must be an organization-scoped role",
                ));
            }
            let org = *org_id;
            if !authed.ctx.can_access_org(*org_id) {
                return Err(ApiError::NotFound);
            }
            let org_row = tenancy::get_org(tx, org).await?.ok_or(ApiError::NotFound)?;
            if role.partner_id.is_some_and(|p| p != org_row.partner_id) {
                return Err(ApiError::invalid(
                    "body.membership.roleId",
                    "is not a known role",
                ));
            }
            let restricted = !authed.ctx.allowed_site_ids().is_all();
            let sites = match site_ids {
                None if restricted => return Err(ApiError::Forbidden("site_restricted")),
                None => None,
                Some(list) => {
                    let mut ids: Vec<SiteId> = list.clone();
                    ids.sort_unstable();
                    ids.dedup();
                    if ids.iter().any(|s| site_in_reach(authed, org, *s).is_err()) {
                        return Err(ApiError::NotFound);
                    }
                    let found = users::count_sites_of(tx, org, &ids).await?;
                    if usize::try_from(found).ok() != Some(ids.len()) {
                        return Err(ApiError::NotFound);
                    }
                    Some(ids)
                }
            };
            Ok(Checked::Organization {
                org,
                partner: org_row.partner_id,
                role: role.id,
                sites,
            })
        }
    }
}

pub(super) async fn write_membership(
    tx: &mut ScopedTx,
    user: UserId,
    m: &Checked,
) -> Result<(), ApiError> {
    match m {
        Checked::Partner {
            partner,
            role,
            access,
            orgs,
        } => users::put_partner_membership(tx, user, *partner, *role, access, orgs).await?,
        Checked::Organization {
            org, role, sites, ..
        } => users::put_org_membership(tx, user, *org, *role, sites.as_deref()).await?,
    }
    Ok(())
}

pub(super) fn membership_details(m: &Checked) -> serde_json::Value {
    match m {
        Checked::Partner {
            role, access, orgs, ..
        } => json!({"kind": "partner", "roleId": role, "orgAccess": access, "orgIds": orgs}),
        Checked::Organization {
            org, role, sites, ..
        } => json!({"kind": "organization", "orgId": org, "roleId": role, "siteIds": sites}),
    }
}
