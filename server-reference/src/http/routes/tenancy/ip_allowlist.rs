//! A partner's IP allow-list (SPEC 16): `GET` and `PUT /api/v1/partners/{partnerId}/ip-allowlist`.
//!
//! Permission `sso:admin` (SPEC 5: the identity-and-access settings of a tenant; only
//! Partner Admin and the platform hold it). The caller must reach the partner (partner
//! scope: its own; system: all); any other partner answers 404, never 403. The list governs
//! every organization of the partner, so reading and changing it both need partner-wide
//! reach (partner scope with `org_access = all`, or system; 403 otherwise: a member limited
//! to selected organizations does not administer the whole partner), and changing it needs
//! an MFA session. A list in mode `enforce` that would exclude the caller's own current
//! address, when the caller is subject to it, is refused with 409
//! `ip_allowlist_excludes_caller`, so an administrator cannot lock themselves out by
//! mistake. Every change is audited `partner.ip_allowlist.updated` on the system chain with
//! the old and the new list, in the transaction of the change. Enforcement is
//! [`crate::http::ip_allow`].

use axum::extract::{Extension, State};
use axum::http::Method;
use axum::response::IntoResponse;
use breeze_authz::role::RoleScope;
use breeze_core::ipallow::{IpAllowError, IpAllowList, IpAllowMode};
use breeze_core::tenancy::PartnerId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::partners::PartnerPath;
use super::{event, seal};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, Path, Validate};
use crate::http::route::{Access, Route, route};
use crate::state::AppState;
use crate::store::{ip_allowlists, tenancy};

/// The refusal of a list that would lock its author out.
pub const EXCLUDES_CALLER: &str = "ip_allowlist_excludes_caller";

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/partners/{partnerId}/ip-allowlist",
            Access::Permission("sso:admin"),
            "read a partner's IP allow-list (and the caller's address as the server sees it)",
            read,
        )
        .ok::<AllowListOut>(),
        route(
            Method::PUT,
            "/api/v1/partners/{partnerId}/ip-allowlist",
            Access::Permission("sso:admin"),
            "replace a partner's IP allow-list (mode off or enforce, at most 100 networks)",
            write,
        )
        .ok::<AllowListOut>()
        .errors(&[409])
        .mfa_required(),
    ]
}

/// `PUT /api/v1/partners/{partnerId}/ip-allowlist` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"mode": "enforce", "cidrs": ["203.0.113.0/24", "2001:db8::/48"]}))]
pub struct AllowListBody {
    /// `off` (everyone admitted; the networks are kept) or `enforce`.
    pub mode: String,
    /// CIDR networks or single addresses, at most 100; no host bits after the prefix
    /// (`10.0.0.0/8`, not `10.0.0.5/8`). Stored normalized (IPv4-mapped IPv6 as IPv4,
    /// sorted, without duplicates).
    pub cidrs: Vec<String>,
}

impl AllowListBody {
    fn parse(&self) -> Result<IpAllowList, IpAllowError> {
        let mode: IpAllowMode = self.mode.parse()?;
        IpAllowList::parse(mode, &self.cidrs)
    }
}

fn issue(e: &IpAllowError) -> FieldIssue {
    let path = match (e, e.index()) {
        (IpAllowError::InvalidMode, _) => "mode".to_owned(),
        (_, Some(i)) => format!("cidrs[{i}]"),
        (_, None) => "cidrs".to_owned(),
    };
    FieldIssue::new(path, e.to_string())
}

impl Validate for AllowListBody {
    fn validate(&self) -> Vec<FieldIssue> {
        self.parse().err().map(|e| issue(&e)).into_iter().collect()
    }
}

/// A partner's IP allow-list.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowListOut {
    /// The partner.
    pub partner_id: PartnerId,
    /// `off` or `enforce` (`off` when never set).
    pub mode: &'static str,
    /// The networks, normalized and sorted.
    pub cidrs: Vec<String>,
    /// Last change (absent when never set).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub updated_at: Option<OffsetDateTime>,
    /// Who changed it last.
    pub updated_by: Option<String>,
    /// The caller's address as the server sees it (behind trusted proxies: the client's).
    pub caller_ip: String,
    /// Whether the list as shown admits that address.
    pub caller_admitted: bool,
}

fn out(authed: &Authed, partner: PartnerId, row: ip_allowlists::AllowListRow) -> AllowListOut {
    AllowListOut {
        partner_id: partner,
        mode: row.list.mode().as_str(),
        caller_ip: authed.client.ip.to_string(),
        caller_admitted: row.list.permits(authed.client.ip),
        cidrs: row.list.entry_strings(),
        updated_at: row.updated_at,
        updated_by: row.updated_by.map(|u| u.to_string()),
    }
}

/// 404 unless the context reaches `partner` (Rust-side check; row-level security is the
/// second layer).
fn partner_in_reach(authed: &Authed, partner: PartnerId) -> Result<(), ApiError> {
    if authed.ctx.can_access_partner(partner) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Whether `authed` itself is judged by `partner`'s list: a user of that home partner who
/// is not acting as the platform.
fn caller_is_subject(authed: &Authed, partner: PartnerId) -> bool {
    authed.ctx.scope() != RoleScope::System
        && authed
            .session()
            .is_some_and(|s| s.user.partner_id == Some(partner))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<PartnerPath>,
) -> Result<impl IntoResponse, ApiError> {
    let partner = p.partner_id;
    partner_in_reach(&authed, partner)?;
    if !authed.ctx.can_write_partner_wide() {
        return Err(ApiError::Forbidden("partner_wide_access_required"));
    }
    let mut tx = authed.begin(&state).await?;
    tenancy::get_partner(&mut tx, partner)
        .await?
        .ok_or(ApiError::NotFound)?;
    let row = ip_allowlists::get(&mut tx, partner).await?;
    drop(tx);
    Ok(axum::Json(out(&authed, partner, row)))
}

async fn write(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<PartnerPath>,
    Json(body): Json<AllowListBody>,
) -> Result<impl IntoResponse, ApiError> {
    let partner = p.partner_id;
    partner_in_reach(&authed, partner)?;
    if !authed.ctx.can_write_partner_wide() {
        return Err(ApiError::Forbidden("partner_wide_write_required"));
    }
    let list = body
        .parse()
        .map_err(|e| ApiError::Validation(vec![issue(&e)]))?;
    if caller_is_subject(&authed, partner) && !list.permits(authed.client.ip) {
        return Err(ApiError::Conflict(EXCLUDES_CALLER));
    }
    let mut tx = authed.begin(&state).await?;
    tenancy::get_partner(&mut tx, partner)
        .await?
        .ok_or(ApiError::NotFound)?;
    let old = ip_allowlists::put(&mut tx, partner, &list, authed.user_id()).await?;
    let ev = event(
        &state,
        &authed,
        "partner.ip_allowlist.updated",
        "partner",
        partner,
    )?
    .details(&json!({
        "old": {"mode": old.mode().as_str(), "cidrs": old.entry_strings()},
        "new": {"mode": list.mode().as_str(), "cidrs": list.entry_strings()},
    }));
    seal(&mut tx, None, ev).await?;
    let row = ip_allowlists::get(&mut tx, partner).await?;
    tx.commit().await?;
    Ok(axum::Json(out(&authed, partner, row)))
}
