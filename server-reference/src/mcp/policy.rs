//! The risk decision for one tool call: the `breeze-authz` catalogue plus the stored
//! overrides of the target's partner, organization, site and device group (SPEC 10). The
//! rule (most specific wins, critical is a floor) is the library's; this module only loads
//! the overrides.

use std::sync::LazyLock;

use breeze_authz::risk::{
    PolicyScope, RiskDecision, RiskEngine, RiskLevel, ToolCatalogue, ToolTarget,
};
use breeze_core::tenancy::{DeviceGroupId, OrgId, PartnerId, SiteId};

use crate::error::ApiError;
use crate::store::ScopedTx;
use crate::store::mcp::{self as store, PolicyRow};

/// The engine of the default catalogue without overrides: most calls meet no override, and
/// are decided by it without building an engine.
static DEFAULTS: LazyLock<RiskEngine> =
    LazyLock::new(|| RiskEngine::new(ToolCatalogue::default_catalogue()));

/// The default catalogue.
#[must_use]
pub fn catalogue() -> &'static ToolCatalogue {
    DEFAULTS.catalogue()
}

/// Parses a stored level.
#[must_use]
pub fn parse_level(s: &str) -> Option<RiskLevel> {
    match s {
        "low" => Some(RiskLevel::Low),
        "medium" => Some(RiskLevel::Medium),
        "high" => Some(RiskLevel::High),
        "critical" => Some(RiskLevel::Critical),
        _ => None,
    }
}

/// The stored form of a level.
#[must_use]
pub const fn level_name(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::Low => "low",
        RiskLevel::Medium => "medium",
        RiskLevel::High => "high",
        RiskLevel::Critical => "critical",
    }
}

/// The policy scope of a stored row.
#[must_use]
pub fn scope_of(row: &PolicyRow) -> Option<PolicyScope> {
    Some(match row.scope_kind.as_str() {
        "partner" => PolicyScope::Partner(PartnerId::from_uuid(row.scope_id)),
        "organization" => PolicyScope::Organization(OrgId::from_uuid(row.scope_id)),
        "site" => PolicyScope::Site(SiteId::from_uuid(row.scope_id)),
        "device_group" => PolicyScope::DeviceGroup(DeviceGroupId::from_uuid(row.scope_id)),
        _ => return None,
    })
}

/// Decides a call of `tool` on `target` under the stored overrides visible to `tx`.
///
/// # Errors
/// A store failure.
pub async fn decide(
    tx: &mut ScopedTx,
    tool: &str,
    target: &ToolTarget,
) -> Result<RiskDecision, ApiError> {
    let rows = store::policies_for(tx, target.partner_id, target.org_id, Some(tool)).await?;
    if rows.is_empty() {
        return Ok(DEFAULTS.decide(tool, target));
    }
    let mut engine = RiskEngine::new(catalogue().clone());
    for row in &rows {
        let (Some(scope), Some(level)) = (scope_of(row), parse_level(&row.level)) else {
            return Err(ApiError::internal("malformed ai tool policy row"));
        };
        // a stored override the library refuses (it would lower a critical tool) never
        // applies: the routes refuse to store one, and the catalogue default stands
        if engine.set_override(scope, tool, level).is_err() {
            tracing::warn!(policy = %row.id, "ignored an ai tool policy the catalogue refuses");
        }
    }
    Ok(engine.decide(tool, target))
}
