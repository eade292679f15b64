//! Approvals as the server keeps them (SPEC 14): held by an MCP call, decided through the
//! REST routes, executed once by the MCP call that presents the same arguments. The rules
//! (four eyes, fresh factor, expiry, one execution in ten minutes, argument digest) are
//! `breeze_authz::approval`'s; this module restores an [`Approval`] from its row, applies
//! the library's answer with a compare-and-set, and writes every step to the audit chain:
//! `approval.requested`, `approval.approved`, `approval.denied`, `approval.executed`
//! (refusals with result `denied` and their code).

use breeze_authz::approval::{Approval, ApprovalStatus, ArgumentDigest};
use breeze_authz::risk::{
    ApprovalError, ApprovalRequest, LevelSource, RiskDecision, RiskOutcome, ToolTarget,
};
use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{ApiKeyId, DeviceId, OrgId, SiteId, UserId};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::caller::McpCaller;
use super::jsonrpc::RpcError;
use super::policy;
use super::tools::CallFacts;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::ScopedTx;
use crate::store::audit as store_audit;
use crate::store::mcp::{self as store, ApprovalRow};

fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A request just held.
pub struct Held {
    /// Its id.
    pub id: Uuid,
    expires_at: OffsetDateTime,
    digest: String,
}

impl Held {
    /// The MCP result naming it.
    #[must_use]
    pub fn answer(&self) -> Value {
        json!({
            "status": "approval_required",
            "approvalId": self.id,
            "expiresAt": rfc(self.expires_at),
            "argumentsDigest": self.digest,
            "message": "a human with approvals:decide must approve this call; then call the \
                        tool again with the same arguments and this approvalId",
        })
    }
}

/// Holds a high-risk call: a pending approval row with the exact arguments and their
/// digest, and `approval.requested` in the organization's chain, in `tx`.
///
/// # Errors
/// A store failure, or a decision that does not need approval (a programming error).
#[allow(clippy::too_many_arguments, reason = "the facts of one held call")]
pub async fn hold(
    tx: &mut ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    decision: &RiskDecision,
    arguments: &Value,
    digest: &ArgumentDigest,
    device: Option<DeviceId>,
) -> Result<Held, ApiError> {
    let now = state.clock.now();
    let request = ApprovalRequest::new(decision.clone(), caller.creator, now)
        .map_err(|e| ApiError::internal(e.code()))?;
    let approval = Approval::new(request, *digest);
    let id = Uuid::new_v4();
    let row = ApprovalRow {
        id,
        org_id: decision.target.org_id,
        partner_id: decision.target.partner_id,
        site_id: decision.target.site_id,
        device_group_id: decision.target.device_group_id,
        device_id: device,
        tool: decision.tool.clone(),
        level: policy::level_name(decision.level).to_owned(),
        arguments: arguments.clone(),
        argument_digest: digest.to_hex(),
        api_key_id: caller.key_id,
        requested_by: caller.creator,
        requested_at: now,
        expires_at: approval.expires_at(),
        status: "pending".into(),
        decided_by: None,
        decided_at: None,
        reason: None,
        executed_at: None,
        result_ref: None,
    };
    store::insert_approval(tx, &row).await?;
    let ev = caller
        .authed
        .event(state, "approval.requested", AuditResult::Success)?
        .resource_type("approval")
        .resource_id(id.to_string())
        .details(&json!({
            "approvalId": id.to_string(),
            "tool": decision.tool,
            "tier": policy::level_name(decision.level),
            "argumentsDigest": digest.to_hex(),
            "expiresAt": rfc(row.expires_at),
            "deviceId": device.map(|d| d.to_string()),
            "requestedFor": caller.creator.to_string(),
        }))
        .build()
        .map_err(ApiError::internal)?;
    store_audit::append(tx, Some(decision.target.org_id), ev).await?;
    Ok(Held {
        id,
        expires_at: row.expires_at,
        digest: digest.to_hex(),
    })
}

/// The library's view of a stored row.
///
/// # Errors
/// [`ApiError::Internal`] for a malformed row.
pub fn restore(row: &ApprovalRow) -> Result<Approval, ApiError> {
    let level = policy::parse_level(&row.level).ok_or_else(|| ApiError::internal("bad level"))?;
    let decision = RiskDecision {
        tool: row.tool.clone(),
        target: ToolTarget {
            partner_id: row.partner_id,
            org_id: row.org_id,
            site_id: row.site_id,
            device_group_id: row.device_group_id,
        },
        level,
        outcome: RiskOutcome::NeedsApproval,
        source: LevelSource::Catalogue,
        ignored_override: None,
    };
    let request = ApprovalRequest::new(decision, row.requested_by, row.requested_at)
        .map_err(|e| ApiError::internal(e.code()))?;
    let digest: ArgumentDigest = row
        .argument_digest
        .parse()
        .map_err(|_| ApiError::internal("bad digest"))?;
    let status =
        ApprovalStatus::parse(&row.status).ok_or_else(|| ApiError::internal("bad status"))?;
    Ok(Approval::restore(
        request,
        digest,
        status,
        row.decided_at,
        row.executed_at,
    ))
}

/// Loads the approval `id` for execution by `caller` with arguments digesting to `digest`:
/// it must be this key's request for this tool (anything else is "not found", whatever
/// exists), and the library must allow the execution now.
///
/// # Errors
/// -32003 with the refusal's code (`approval_not_found`, `approval_not_approved`,
/// `approval_already_executed`, `approval_execution_window_closed`, `arguments_changed`).
pub async fn claim(
    tx: &mut ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    id: Uuid,
    tool: &str,
    digest: &ArgumentDigest,
) -> Result<Uuid, RpcError> {
    let not_found = || RpcError::policy("approval_not_found", "no such approval for this call");
    let row = store::approval(tx, id)
        .await
        .map_err(|e| RpcError::internal(e.into()))?
        .filter(|r| r.api_key_id == caller.key_id && r.tool == tool)
        .ok_or_else(not_found)?;
    let approval = restore(&row).map_err(RpcError::internal)?;
    approval
        .execute(digest, state.clock.now())
        .map_err(|e| refusal(&e))?;
    Ok(row.id)
}

fn refusal(e: &ApprovalError) -> RpcError {
    let (reason, message) = match e {
        ApprovalError::NotApproved => ("approval_not_approved", "the request is not approved"),
        ApprovalError::AlreadyExecuted => {
            ("approval_already_executed", "the approved call already ran")
        }
        ApprovalError::ExecutionWindowClosed => (
            "approval_execution_window_closed",
            "the approved call may no longer run (10 minutes after approval)",
        ),
        ApprovalError::ArgumentsChanged => (
            "arguments_changed",
            "the arguments differ from the approved ones",
        ),
        _ => ("approval_refused", "the approval does not allow this call"),
    };
    RpcError::policy(reason, message)
}

/// Audits a refused execution (`approval.executed`, denied, with its code) in its own
/// transaction.
///
/// # Errors
/// -32603 on a store failure.
pub async fn audit_refused_execution(
    state: &AppState,
    caller: &McpCaller,
    id: Uuid,
    tool: &str,
    refusal: &RpcError,
) -> Result<(), RpcError> {
    let run = async {
        let mut tx = caller.authed.begin(state).await?;
        let ev = caller
            .authed
            .event(state, "approval.executed", AuditResult::Denied)?
            .resource_type("approval")
            .resource_id(id.to_string())
            .details(&json!({"approvalId": id.to_string(), "tool": tool, "code": refusal.reason}))
            .error_message(refusal.reason)
            .build()
            .map_err(ApiError::internal)?;
        store_audit::append(&mut tx, Some(caller.org_id), ev).await?;
        tx.commit().await?;
        Ok::<(), ApiError>(())
    };
    run.await.map_err(RpcError::internal)
}

/// Marks the approval executed (compare-and-set: a second execution, on any replica, finds
/// it executed and rolls back) and audits `approval.executed`, in the call's transaction.
///
/// # Errors
/// -32003 `approval_already_executed` when another execution won; -32603 on a store failure.
pub(super) async fn record_executed(
    tx: &mut ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    id: Uuid,
    facts: &CallFacts<'_>,
    result_ref: Option<&str>,
) -> Result<(), RpcError> {
    let now = state.clock.now();
    let won = store::record_execution(tx, id, now, result_ref.unwrap_or("-"))
        .await
        .map_err(|e| RpcError::internal(e.into()))?;
    if !won {
        return Err(refusal(&ApprovalError::AlreadyExecuted));
    }
    let ev = caller
        .authed
        .event(state, "approval.executed", AuditResult::Success)
        .map_err(RpcError::internal)?
        .resource_type("approval")
        .resource_id(id.to_string())
        .details(&json!({
            "approvalId": id.to_string(),
            "tool": facts.tool,
            "argumentsDigest": facts.digest.to_hex(),
            "resultRef": result_ref,
        }))
        .build()
        .map_err(ApiError::internal)
        .map_err(RpcError::internal)?;
    store_audit::append(tx, Some(caller.org_id), ev)
        .await
        .map_err(|e| RpcError::internal(e.into()))?;
    Ok(())
}

/// An approval as the REST routes answer it.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// The tool held for approval.
    pub tool: String,
    /// Its risk tier (`low`, `medium`, `high`, `critical`).
    pub tier: String,
    /// The call's arguments as the model sent them.
    pub arguments: Value,
    /// SHA-256 digest the executed call must match.
    pub arguments_digest: String,
    /// The device, when the call names one.
    pub device_id: Option<DeviceId>,
    /// The site, when the call names one.
    pub site_id: Option<SiteId>,
    /// The AI key that made the call.
    pub api_key_id: ApiKeyId,
    /// The key's creator, who asked.
    pub requested_by: UserId,
    /// When it was asked (RFC 3339).
    pub requested_at: String,
    /// When an undecided request expires (RFC 3339).
    pub expires_at: String,
    /// `pending`, `approved`, `denied`, `expired`, `executed`.
    pub status: String,
    /// The approver or denier.
    pub decided_by: Option<UserId>,
    /// When it was decided (RFC 3339).
    pub decided_at: Option<String>,
    /// Until when an approved call may run (RFC 3339).
    pub execute_by: Option<String>,
    /// The decider's reason.
    pub reason: Option<String>,
    /// When the approved call ran (RFC 3339).
    pub executed_at: Option<String>,
    /// What the executed call produced (a command id).
    pub result_ref: Option<String>,
}

/// An approval as the REST routes answer it.
#[must_use]
pub fn view(row: &ApprovalRow, now: OffsetDateTime) -> ApprovalView {
    let approval = restore(row).ok();
    let status = approval
        .as_ref()
        .map_or(row.status.as_str(), |a| a.status_at(now).as_str());
    ApprovalView {
        id: row.id,
        org_id: row.org_id,
        tool: row.tool.clone(),
        tier: row.level.clone(),
        arguments: row.arguments.clone(),
        arguments_digest: row.argument_digest.clone(),
        device_id: row.device_id,
        site_id: row.site_id,
        api_key_id: row.api_key_id,
        requested_by: row.requested_by,
        requested_at: rfc(row.requested_at),
        expires_at: rfc(row.expires_at),
        status: status.to_owned(),
        decided_by: row.decided_by,
        decided_at: row.decided_at.map(rfc),
        execute_by: approval.as_ref().and_then(Approval::execute_by).map(rfc),
        reason: row.reason.clone(),
        executed_at: row.executed_at.map(rfc),
        result_ref: row.result_ref.clone(),
    }
}
