//! Approval routes (SPEC 14) and the AI tool policy overrides (SPEC 10).
//!
//! - `GET /api/v1/approvals`, `GET /api/v1/approvals/{approvalId}`: the inbox of the
//!   approvals the caller's context reaches (`approvals:decide`).
//! - `POST /api/v1/approvals/{approvalId}/approve|deny`: `approvals:decide`, a user session
//!   that passed MFA, and a TOTP `code` checked now (the fresh second factor). The rules are
//!   `breeze_authz::approval`'s: pending and not expired, the approver in scope and not the
//!   key's creator (four eyes), the factor within five minutes. Every refusal is audited
//!   with its code; the decision is a compare-and-set, so two approvers cannot both decide.
//! - `GET/PUT /api/v1/orgs/{orgId}/ai-policies`, `DELETE .../{policyId}`: the overrides of
//!   a tool's level for the partner, the organization, one of its sites or device groups.
//!   Writing needs `organizations:write` and MFA; a partner-wide row needs partner-wide
//!   reach; lowering a critical tool is refused (`critical_cannot_be_lowered`).

use axum::extract::{Extension, State};
use axum::http::Method;
use axum::response::IntoResponse;
use breeze_authz::approval::ApprovalStatus;
use breeze_authz::risk::{ApprovalError, ApprovalVerdict, Approver, PolicyScope, RiskEngine};
use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{OrgId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::auth::mfa::{CodeRefusal, verify_current_code};
use super::tenancy::{OrgPath, org_in_reach, site_in_reach};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::mcp::approvals::{self, ApprovalView};
use crate::mcp::policy;
use crate::state::AppState;
use crate::store::audit as store_audit;
use crate::store::mcp::{self as store, ApprovalRow, PolicyRow};
use crate::store::{ScopedTx, tenancy};

const DECIDE: &str = "approvals:decide";

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/approvals",
            Access::Permission(DECIDE),
            "list approval requests (newest first; ?status=pending)",
            list,
        )
        .ok::<ApprovalPage>(),
        route(
            Method::GET,
            "/api/v1/approvals/{approvalId}",
            Access::Permission(DECIDE),
            "read an approval request with its exact arguments",
            read,
        )
        .ok::<ApprovalView>(),
        route(
            Method::POST,
            "/api/v1/approvals/{approvalId}/approve",
            Access::Permission(DECIDE),
            "approve a held AI tool call (four eyes, TOTP code now)",
            decide_route::<true>,
        )
        .ok::<ApprovalView>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::POST,
            "/api/v1/approvals/{approvalId}/deny",
            Access::Permission(DECIDE),
            "deny a held AI tool call (TOTP code now)",
            decide_route::<false>,
        )
        .ok::<ApprovalView>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/orgs/{orgId}/ai-policies",
            Access::Permission("organizations:read"),
            "the AI tool policy overrides that apply in an organization, with the catalogue",
            list_policies,
        )
        .ok::<PoliciesOut>(),
        route(
            Method::PUT,
            "/api/v1/orgs/{orgId}/ai-policies",
            Access::Permission("organizations:write"),
            "set an AI tool level for the partner, the organization, a site or a device group",
            set_policy,
        )
        .errors(&[422])
        .ok::<PolicyView>()
        .mfa_required(),
        route(
            Method::DELETE,
            "/api/v1/orgs/{orgId}/ai-policies/{policyId}",
            Access::Permission("organizations:write"),
            "remove an AI tool policy override",
            remove_policy,
        )
        .no_content()
        .mfa_required(),
    ]
}

// ---------------------------------------------------------------------------------------
// The inbox

/// `?status=&after=&limit=` of the list.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ApprovalListQuery")]
pub struct ListQuery {
    status: Option<String>,
    after: Option<Uuid>,
    /// Page size, 1 to 100 (default 50); a query value is text, parsed here.
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    limit: Option<String>,
}

impl ListQuery {
    /// The page size, when given and in 1..=100.
    fn limit(&self) -> Result<u32, FieldIssue> {
        match &self.limit {
            None => Ok(50),
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=100).contains(l))
                .ok_or_else(|| FieldIssue::new("limit", "must be 1 to 100")),
        }
    }
}

impl Validate for ListQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self
            .status
            .as_deref()
            .is_some_and(|s| ApprovalStatus::parse(s).is_none())
        {
            issues.push(FieldIssue::new(
                "status",
                "must be pending, approved, denied, executed or expired",
            ));
        }
        if let Err(issue) = self.limit() {
            issues.push(issue);
        }
        issues
    }
}

/// `{approvalId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPath {
    approval_id: Uuid,
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = q.limit().map_err(|i| ApiError::Validation(vec![i]))?;
    let mut tx = authed.begin(&state).await?;
    let mut rows = store::list_approvals(&mut tx, q.status.as_deref(), q.after, limit + 1).await?;
    drop(tx);
    // row-level security and the same reach check here (two layers, SPEC 1.3)
    rows.retain(|r| match r.site_id {
        Some(site) => authed.ctx.can_access_site(r.org_id, site),
        None => authed.ctx.can_access_org(r.org_id),
    });
    let now = state.clock.now();
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let items: Vec<ApprovalView> = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|r| approvals::view(r, now))
        .collect();
    let next_after = if more {
        items.last().map(|i| i.id)
    } else {
        None
    };
    Ok(axum::Json(ApprovalPage { items, next_after }))
}

async fn load(tx: &mut ScopedTx, authed: &Authed, id: Uuid) -> Result<ApprovalRow, ApiError> {
    let row = store::approval(tx, id).await?.ok_or(ApiError::NotFound)?;
    // row-level security and the same check here (two layers)
    match row.site_id {
        Some(site) => site_in_reach(authed, row.org_id, site)?,
        None => org_in_reach(authed, row.org_id)?,
    }
    Ok(row)
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<ApprovalPath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let row = load(&mut tx, &authed, p.approval_id).await?;
    Ok(axum::Json(approvals::view(&row, state.clock.now())))
}

/// `approve` / `deny` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// The approver's current TOTP code (the fresh second factor).
    #[serde(default)]
    code: Option<String>,
    /// Why (at most 1,000 characters).
    #[serde(default)]
    reason: Option<String>,
}

impl Validate for DecideBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.code.as_deref().is_some_and(|c| c.len() > 16) {
            issues.push(FieldIssue::new("code", "is malformed"));
        }
        if self
            .reason
            .as_deref()
            .is_some_and(|r| r.chars().count() > 1000)
        {
            issues.push(FieldIssue::new("reason", "must be at most 1000 characters"));
        }
        issues
    }
}

/// `approve` (`APPROVE = true`) and `deny`.
async fn decide_route<const APPROVE: bool>(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<ApprovalPath>,
    Json(body): Json<DecideBody>,
) -> Result<impl IntoResponse, ApiError> {
    let verdict = if APPROVE {
        ApprovalVerdict::Approved
    } else {
        ApprovalVerdict::Denied
    };
    decide(&state, &authed, p.approval_id, verdict, &body).await
}

const fn action_of(verdict: ApprovalVerdict) -> &'static str {
    match verdict {
        ApprovalVerdict::Approved => "approval.approved",
        ApprovalVerdict::Denied => "approval.denied",
    }
}

fn refusal_status(e: &ApprovalError) -> ApiError {
    match e {
        ApprovalError::OutOfScope => ApiError::NotFound,
        ApprovalError::Expired => ApiError::Conflict("approval_expired"),
        ApprovalError::AlreadyDecided => ApiError::Conflict("approval_already_decided"),
        ApprovalError::InvalidReason => ApiError::invalid("reason", "is invalid"),
        ApprovalError::SelfApproval => ApiError::Forbidden("self_approval"),
        ApprovalError::FreshFactorRequired => ApiError::Forbidden("fresh_factor_required"),
        ApprovalError::MissingPermission => ApiError::Forbidden("permission_denied"),
        _ => ApiError::Forbidden("approval_refused"),
    }
}

#[allow(clippy::too_many_arguments, reason = "the facts of one refusal")]
async fn audit_refusal(
    state: &AppState,
    authed: &Authed,
    org: OrgId,
    id: Uuid,
    verdict: ApprovalVerdict,
    code: &str,
) -> Result<(), ApiError> {
    let mut tx = authed.begin(state).await?;
    let ev = authed
        .event(state, action_of(verdict), AuditResult::Denied)?
        .resource_type("approval")
        .resource_id(id.to_string())
        .details(&json!({"approvalId": id.to_string(), "code": code}))
        .error_message(code)
        .build()
        .map_err(ApiError::internal)?;
    store_audit::append(&mut tx, Some(org), ev).await?;
    tx.commit().await?;
    Ok(())
}

async fn decide(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
    verdict: ApprovalVerdict,
    body: &DecideBody,
) -> Result<axum::Json<ApprovalView>, ApiError> {
    let session = authed.session().ok_or(ApiError::Forbidden("users_only"))?;
    let approver: UserId = session.user.id;
    let mut tx = authed.begin(state).await?;
    let row = load(&mut tx, authed, id).await?;
    drop(tx);
    let approval = approvals::restore(&row)?;

    // the fresh factor: a TOTP code checked now (each step once, across replicas)
    let factor_at = match body.code.as_deref() {
        None => None,
        Some(code) => match verify_current_code(state, approver, code).await? {
            Ok(()) => Some(state.clock.now()),
            Err(refusal) => {
                audit_refusal(state, authed, row.org_id, id, verdict, refusal.code()).await?;
                return Err(match refusal {
                    CodeRefusal::NotEnrolled => ApiError::Forbidden("fresh_factor_required"),
                    CodeRefusal::BadCode | CodeRefusal::Replayed => {
                        ApiError::Forbidden("invalid_mfa_code")
                    }
                });
            }
        },
    };
    let permissions = authed
        .permissions
        .as_deref()
        .ok_or(ApiError::Forbidden("permission_denied"))?;
    let now = state.clock.now();
    let decided = approval.decide(
        Approver {
            context: &authed.ctx,
            permissions,
            registry: &state.registry,
        },
        verdict,
        body.reason.as_deref(),
        factor_at,
        now,
    );
    let (_, record) = match decided {
        Ok(d) => d,
        Err(e) => {
            audit_refusal(state, authed, row.org_id, id, verdict, e.code()).await?;
            return Err(refusal_status(&e));
        }
    };
    let status = match verdict {
        ApprovalVerdict::Approved => "approved",
        ApprovalVerdict::Denied => "denied",
    };
    let mut tx = authed.begin(state).await?;
    if !store::record_decision(&mut tx, id, status, approver, now, record.reason.as_deref()).await?
    {
        drop(tx);
        audit_refusal(
            state,
            authed,
            row.org_id,
            id,
            verdict,
            "approval_already_decided",
        )
        .await?;
        return Err(ApiError::Conflict("approval_already_decided"));
    }
    let ev = authed
        .event(state, action_of(verdict), AuditResult::Success)?
        .resource_type("approval")
        .resource_id(id.to_string())
        .details(&json!({
            "approvalId": id.to_string(),
            "tool": row.tool,
            "decision": status,
            "decidedBy": approver.to_string(),
            "requestedBy": row.requested_by.to_string(),
            "argumentsDigest": row.argument_digest,
            "deviceId": row.device_id.map(|d| d.to_string()),
            "reason": record.reason,
            "factor": "totp",
        }))
        .build()
        .map_err(ApiError::internal)?;
    store_audit::append(&mut tx, Some(row.org_id), ev).await?;
    let row = load(&mut tx, authed, id).await?;
    tx.commit().await?;
    Ok(axum::Json(approvals::view(&row, now)))
}

// ---------------------------------------------------------------------------------------
// Policies

/// `{orgId}/ai-policies/{policyId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPath {
    org_id: OrgId,
    policy_id: Uuid,
}

/// `PUT` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetPolicyBody {
    /// `partner`, `organization`, `site` or `device_group`.
    scope: String,
    /// The site or device group (for those scopes).
    #[serde(default)]
    scope_id: Option<Uuid>,
    /// The tool.
    tool: String,
    /// `low`, `medium`, `high` or `critical`.
    level: String,
}

impl Validate for SetPolicyBody {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        match self.scope.as_str() {
            "partner" | "organization" => {
                if self.scope_id.is_some() {
                    issues.push(FieldIssue::new(
                        "scopeId",
                        "is only for site or device_group",
                    ));
                }
            }
            "site" | "device_group" => {
                if self.scope_id.is_none() {
                    issues.push(FieldIssue::new("scopeId", "is required for this scope"));
                }
            }
            _ => issues.push(FieldIssue::new(
                "scope",
                "must be partner, organization, site or device_group",
            )),
        }
        if policy::parse_level(&self.level).is_none() {
            issues.push(FieldIssue::new(
                "level",
                "must be low, medium, high or critical",
            ));
        }
        if breeze_authz::risk::ToolName::new(&self.tool).is_err() {
            issues.push(FieldIssue::new("tool", "is not a tool name"));
        }
        issues
    }
}

/// A page of approvals, newest last.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPage {
    /// The approvals.
    pub items: Vec<ApprovalView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<Uuid>,
}

/// An approval policy (a tool's tier for a partner or organization).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// Id.
    pub id: Uuid,
    /// `partner` or `organization`.
    pub scope: String,
    /// The partner or organization.
    pub scope_id: Uuid,
    /// The tool.
    pub tool: String,
    /// Its tier.
    pub level: String,
    /// Who set it.
    pub created_by: Option<Uuid>,
    /// When (RFC 3339).
    pub created_at: Option<String>,
}

/// A tool of the catalogue and its default tier.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CatalogueTool {
    /// The tool.
    pub tool: &'static str,
    /// Its default tier.
    pub level: &'static str,
}

/// The policies of an organization (its own and its partner's) and the tool catalogue.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PoliciesOut {
    /// The policies that apply.
    pub policies: Vec<PolicyView>,
    /// Every tool with its default tier.
    pub catalogue: Vec<CatalogueTool>,
}

fn policy_view(row: &PolicyRow) -> PolicyView {
    PolicyView {
        id: row.id,
        scope: row.scope_kind.clone(),
        scope_id: row.scope_id,
        tool: row.tool.clone(),
        level: row.level.clone(),
        created_by: row.created_by,
        created_at: row
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .ok(),
    }
}

async fn org_partner(
    tx: &mut ScopedTx,
    authed: &Authed,
    org: OrgId,
) -> Result<breeze_core::tenancy::PartnerId, ApiError> {
    org_in_reach(authed, org)?;
    let row = tenancy::get_org(tx, org).await?.ok_or(ApiError::NotFound)?;
    Ok(row.partner_id)
}

async fn audit_policy(
    tx: &mut ScopedTx,
    state: &AppState,
    authed: &Authed,
    action: &str,
    row: &PolicyRow,
    org: OrgId,
) -> Result<(), ApiError> {
    let ev = authed
        .event(state, action, AuditResult::Success)?
        .resource_type("ai_policy")
        .resource_id(row.id.to_string())
        .details(&json!({"scope": row.scope_kind, "scopeId": row.scope_id.to_string(), "tool": row.tool, "level": row.level}))
        .build()
        .map_err(ApiError::internal)?;
    store_audit::append(tx, Some(org), ev).await?;
    Ok(())
}

async fn list_policies(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let partner = org_partner(&mut tx, &authed, p.org_id).await?;
    let rows = store::policies_for(&mut tx, partner, p.org_id, None).await?;
    drop(tx);
    let catalogue: Vec<CatalogueTool> = policy::catalogue()
        .tools()
        .into_iter()
        .map(|(t, l)| CatalogueTool {
            tool: t.as_str(),
            level: policy::level_name(l),
        })
        .collect();
    let policies: Vec<PolicyView> = rows.iter().map(policy_view).collect();
    Ok(axum::Json(PoliciesOut {
        policies,
        catalogue,
    }))
}

async fn set_policy(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Json(body): Json<SetPolicyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let level =
        policy::parse_level(&body.level).ok_or_else(|| ApiError::invalid("level", "is invalid"))?;
    let mut tx = authed.begin(&state).await?;
    let partner = org_partner(&mut tx, &authed, p.org_id).await?;
    // a caller limited to some sites sets levels for those sites and their groups only
    let org_wide = matches!(body.scope.as_str(), "partner" | "organization");
    if org_wide && !authed.ctx.allowed_site_ids().is_all() {
        return Err(ApiError::Forbidden("site_restricted"));
    }
    let (scope, org_col, scope_id) = match (body.scope.as_str(), body.scope_id) {
        ("partner", _) => {
            if !(authed.ctx.can_access_partner(partner) && authed.ctx.can_write_partner_wide()) {
                return Err(ApiError::Forbidden("partner_wide_write_required"));
            }
            (PolicyScope::Partner(partner), None, *partner.as_uuid())
        }
        ("organization", _) => (
            PolicyScope::Organization(p.org_id),
            Some(*p.org_id.as_uuid()),
            *p.org_id.as_uuid(),
        ),
        ("site", Some(id)) => {
            let site = tenancy::get_site(&mut tx, breeze_core::tenancy::SiteId::from_uuid(id))
                .await?
                .filter(|s| s.org_id == p.org_id && site_in_reach(&authed, s.org_id, s.id).is_ok())
                .ok_or_else(|| {
                    ApiError::invalid("scopeId", "is not a site of this organization you reach")
                })?;
            (PolicyScope::Site(site.id), Some(*p.org_id.as_uuid()), id)
        }
        ("device_group", Some(id)) => {
            let group =
                tenancy::get_group(&mut tx, breeze_core::tenancy::DeviceGroupId::from_uuid(id))
                    .await?
                    .filter(|g| {
                        g.org_id == p.org_id && site_in_reach(&authed, g.org_id, g.site_id).is_ok()
                    })
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "scopeId",
                            "is not a device group of this organization you reach",
                        )
                    })?;
            (
                PolicyScope::DeviceGroup(group.id),
                Some(*p.org_id.as_uuid()),
                id,
            )
        }
        _ => return Err(ApiError::invalid("scope", "is invalid")),
    };
    // the library's rule: unknown tools and lowering a critical tool are refused
    let mut engine = RiskEngine::new(policy::catalogue().clone());
    if let Err(e) = engine.set_override(scope, &body.tool, level) {
        return Err(ApiError::Unprocessable(e.code()));
    }
    let row = store::upsert_policy(
        &mut tx,
        &PolicyRow {
            id: Uuid::new_v4(),
            partner_id: *partner.as_uuid(),
            org_id: org_col,
            scope_kind: body.scope.clone(),
            scope_id,
            tool: body.tool.clone(),
            level: body.level.clone(),
            created_by: authed.user_id().map(|u| *u.as_uuid()),
            created_at: state.clock.now(),
        },
    )
    .await?;
    audit_policy(&mut tx, &state, &authed, "ai.policy.set", &row, p.org_id).await?;
    tx.commit().await?;
    Ok(axum::Json(policy_view(&row)))
}

async fn remove_policy(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<PolicyPath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let partner = org_partner(&mut tx, &authed, p.org_id).await?;
    let row = store::delete_policy(&mut tx, partner, p.org_id, p.policy_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit_policy(
        &mut tx,
        &state,
        &authed,
        "ai.policy.removed",
        &row,
        p.org_id,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
