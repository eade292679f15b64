//! The AI tool risk engine (SPEC 10).
//!
//! Every AI-initiated tool call is classified here, not by the model:
//!
//! | level | outcome |
//! |---|---|
//! | low | [`RiskOutcome::Run`] (run and log) |
//! | medium | [`RiskOutcome::RunAndNotify`] |
//! | high | [`RiskOutcome::NeedsApproval`] by someone with `approvals:decide` |
//! | critical | [`RiskOutcome::Blocked`], always |
//!
//! The [`ToolCatalogue`] gives each tool a default level; a tool not in the catalogue is
//! blocked. A [`RiskEngine`] adds policy overrides per partner, organization, site or
//! device group; the most specific override that applies to the target wins, with one
//! exception: **critical is a floor**. An override that would lower a tool the catalogue
//! marks critical is refused when it is added ([`RiskPolicyError::CriticalCannotBeLowered`]);
//! and when a broader override raised a tool to critical, a more specific lower override is
//! ignored and reported in [`RiskDecision::ignored_override`] (so the server can audit it).
//!
//! High-risk calls become an [`ApprovalRequest`]; [`ApprovalRequest::decide`] checks the
//! approver (a user, in scope for the target, holding `approvals:decide`, not the requester,
//! before the request expires) and yields the [`ApprovalRecord`] the server writes to the
//! audit chain.
//!
//! ```
//! use breeze_authz::risk::{PolicyScope, RiskEngine, RiskLevel, RiskOutcome, ToolCatalogue, ToolTarget};
//! use breeze_core::tenancy::{OrgId, PartnerId};
//!
//! let target = ToolTarget { partner_id: PartnerId::new_random(), org_id: OrgId::new_random(), site_id: None, device_group_id: None };
//! let mut engine = RiskEngine::new(ToolCatalogue::default_catalogue());
//! assert_eq!(engine.decide("query_devices", &target).outcome, RiskOutcome::Run);
//! assert_eq!(engine.decide("wipe_device", &target).outcome, RiskOutcome::Blocked);
//! assert_eq!(engine.decide("no_such_tool", &target).outcome, RiskOutcome::Blocked);
//!
//! engine.set_override(PolicyScope::Organization(target.org_id), "run_script", RiskLevel::Medium)?;
//! assert_eq!(engine.decide("run_script", &target).outcome, RiskOutcome::RunAndNotify);
//! assert!(engine.set_override(PolicyScope::Organization(target.org_id), "wipe_device", RiskLevel::Low).is_err());
//! # Ok::<(), breeze_authz::risk::RiskPolicyError>(())
//! ```

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;

use breeze_core::tenancy::{DeviceGroupId, OrgId, PartnerId, SiteId, UserId};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::access::AccessContext;
use crate::permission::{Permission, echo};
use crate::registry::{PermissionSet, Registry};

/// The longest tool name accepted.
pub const MAX_TOOL_NAME_LEN: usize = 64;

/// How long a pending approval request may be decided.
pub const APPROVAL_TTL: Duration = Duration::hours(1);

/// The longest approval reason accepted (characters).
pub const MAX_APPROVAL_REASON_LEN: usize = 1000;

/// A tool's risk level, ordered low < medium < high < critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Run and log.
    Low,
    /// Run and notify a technician.
    Medium,
    /// Needs a human approval.
    High,
    /// Always blocked.
    Critical,
}

impl RiskLevel {
    /// What happens to a call at this level.
    #[must_use]
    pub const fn outcome(self) -> RiskOutcome {
        match self {
            Self::Low => RiskOutcome::Run,
            Self::Medium => RiskOutcome::RunAndNotify,
            Self::High => RiskOutcome::NeedsApproval,
            Self::Critical => RiskOutcome::Blocked,
        }
    }
}

/// What the server does with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskOutcome {
    /// Run it (and audit).
    Run,
    /// Run it and notify a technician.
    RunAndNotify,
    /// Hold it until someone with `approvals:decide` approves.
    NeedsApproval,
    /// Refuse it.
    Blocked,
}

/// A risk policy change or approval that is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RiskPolicyError {
    /// Not a tool name (lowercase snake case, at most 64 characters).
    #[error("invalid tool name `{name}`")]
    InvalidToolName {
        /// The rejected name (truncated).
        name: String,
    },
    /// The tool is not in the catalogue.
    #[error("unknown tool `{tool}`")]
    UnknownTool {
        /// The tool.
        tool: String,
    },
    /// The catalogue already has the tool.
    #[error("tool `{tool}` is already in the catalogue")]
    AlreadyRegistered {
        /// The tool.
        tool: String,
    },
    /// An override that would lower a critical tool.
    #[error("tool `{tool}` is critical and cannot be lowered to {level:?}")]
    CriticalCannotBeLowered {
        /// The tool.
        tool: String,
        /// The refused level.
        level: RiskLevel,
    },
}

impl RiskPolicyError {
    /// A stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidToolName { .. } => "invalid_tool_name",
            Self::UnknownTool { .. } => "unknown_tool",
            Self::AlreadyRegistered { .. } => "tool_already_registered",
            Self::CriticalCannotBeLowered { .. } => "critical_cannot_be_lowered",
        }
    }
}

/// A tool name: lowercase snake case (`run_script`), at most 64 characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ToolName(Box<str>);

impl ToolName {
    /// Validates a tool name.
    ///
    /// # Errors
    /// [`RiskPolicyError::InvalidToolName`].
    pub fn new(name: &str) -> Result<Self, RiskPolicyError> {
        let mut chars = name.chars();
        let valid = name.len() <= MAX_TOOL_NAME_LEN
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(name.into()))
        } else {
            Err(RiskPolicyError::InvalidToolName { name: echo(name) })
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ToolName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ToolName({})", self.0)
    }
}

/// The default catalogue: `(tool, level)`.
pub const DEFAULT_TOOLS: &[(&str, RiskLevel)] = &[
    // Reads: run and log.
    ("query_devices", RiskLevel::Low),
    ("get_device_details", RiskLevel::Low),
    ("analyze_metrics", RiskLevel::Low),
    ("get_active_alerts", RiskLevel::Low),
    ("query_audit_log", RiskLevel::Low),
    ("get_security_posture", RiskLevel::Low),
    ("analyze_disk_usage", RiskLevel::Low),
    ("generate_report", RiskLevel::Low),
    // The reference server's MCP reads (`crate::ai::TOOLS`).
    ("list_devices", RiskLevel::Low),
    ("get_device", RiskLevel::Low),
    ("list_commands", RiskLevel::Low),
    ("get_command_result", RiskLevel::Low),
    ("verify_audit_chain", RiskLevel::Low),
    // Low-impact changes and read-only device work: run and notify.
    ("manage_alerts", RiskLevel::Medium),
    ("security_scan", RiskLevel::Medium),
    ("run_readonly_script", RiskLevel::Medium),
    ("deploy_approved_patches", RiskLevel::Medium),
    // Cuts a device off (protective, reversible by a human with MFA).
    ("quarantine_device", RiskLevel::Medium),
    // State-changing device work: a human approves.
    ("execute_command", RiskLevel::High),
    ("run_script", RiskLevel::High),
    ("queue_script", RiskLevel::High),
    ("manage_services", RiskLevel::High),
    ("kill_process", RiskLevel::High),
    ("file_operations", RiskLevel::High),
    ("registry_write", RiskLevel::High),
    ("disk_cleanup", RiskLevel::High),
    ("deploy_patches", RiskLevel::High),
    ("reboot_device", RiskLevel::High),
    ("create_automation", RiskLevel::High),
    // Destructive or bulk: never from an AI.
    ("wipe_device", RiskLevel::Critical),
    ("decommission_device", RiskLevel::Critical),
    ("uninstall_agent", RiskLevel::Critical),
    ("bulk_delete", RiskLevel::Critical),
    ("bulk_execute", RiskLevel::Critical),
];

/// Tools and their default levels.
#[derive(Debug, Clone, Default)]
pub struct ToolCatalogue {
    tools: HashMap<ToolName, RiskLevel>,
}

impl ToolCatalogue {
    /// An empty catalogue (every tool blocked).
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// The catalogue of [`DEFAULT_TOOLS`].
    #[must_use]
    pub fn default_catalogue() -> Self {
        let mut catalogue = Self::empty();
        for (name, level) in DEFAULT_TOOLS {
            if let Ok(tool) = ToolName::new(name) {
                catalogue.tools.insert(tool, *level);
            }
        }
        catalogue
    }

    /// Adds an application tool.
    ///
    /// # Errors
    /// [`RiskPolicyError::InvalidToolName`], or [`RiskPolicyError::AlreadyRegistered`]
    /// (levels are not silently replaced; use a policy override).
    pub fn register(&mut self, name: &str, level: RiskLevel) -> Result<(), RiskPolicyError> {
        let tool = ToolName::new(name)?;
        if self.tools.contains_key(name) {
            return Err(RiskPolicyError::AlreadyRegistered {
                tool: tool.0.into(),
            });
        }
        self.tools.insert(tool, level);
        Ok(())
    }

    /// The default level of a tool.
    #[must_use]
    pub fn level(&self, tool: &str) -> Option<RiskLevel> {
        self.tools.get(tool).copied()
    }

    /// Every tool, sorted by name.
    #[must_use]
    pub fn tools(&self) -> Vec<(&ToolName, RiskLevel)> {
        let mut tools: Vec<_> = self.tools.iter().map(|(t, l)| (t, *l)).collect();
        tools.sort();
        tools
    }
}

/// Where an override applies (from least to most specific).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum PolicyScope {
    /// Every organization of a partner.
    Partner(PartnerId),
    /// One organization.
    Organization(OrgId),
    /// One site.
    Site(SiteId),
    /// One device group.
    DeviceGroup(DeviceGroupId),
}

/// What a tool call acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToolTarget {
    /// The partner.
    pub partner_id: PartnerId,
    /// The organization.
    pub org_id: OrgId,
    /// The site, when the call concerns one.
    pub site_id: Option<SiteId>,
    /// The device group, when the call concerns one.
    pub device_group_id: Option<DeviceGroupId>,
}

/// Where a decision's level came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "scope", rename_all = "snake_case")]
pub enum LevelSource {
    /// The catalogue default.
    Catalogue,
    /// An override.
    Policy(PolicyScope),
    /// The tool is not in the catalogue (blocked).
    UnknownTool,
}

/// The classification of one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskDecision {
    /// The tool as asked for (truncated if it was not a valid name).
    pub tool: String,
    /// The target.
    pub target: ToolTarget,
    /// The effective level.
    pub level: RiskLevel,
    /// What to do.
    pub outcome: RiskOutcome,
    /// Where the level came from.
    pub source: LevelSource,
    /// A more specific override that was ignored because it would have lowered a critical
    /// level (audit it).
    pub ignored_override: Option<PolicyScope>,
}

#[derive(Debug, Clone, Default)]
struct Overrides {
    partner: HashMap<PartnerId, RiskLevel>,
    org: HashMap<OrgId, RiskLevel>,
    site: HashMap<SiteId, RiskLevel>,
    group: HashMap<DeviceGroupId, RiskLevel>,
}

/// The catalogue plus policy overrides.
#[derive(Debug, Clone)]
pub struct RiskEngine {
    catalogue: ToolCatalogue,
    overrides: HashMap<ToolName, Overrides>,
}

impl RiskEngine {
    /// An engine with no overrides.
    #[must_use]
    pub fn new(catalogue: ToolCatalogue) -> Self {
        Self {
            catalogue,
            overrides: HashMap::new(),
        }
    }

    /// The catalogue.
    #[must_use]
    pub const fn catalogue(&self) -> &ToolCatalogue {
        &self.catalogue
    }

    /// Sets (or replaces) the override of `tool` at `scope`.
    ///
    /// # Errors
    /// [`RiskPolicyError::UnknownTool`] for a tool not in the catalogue;
    /// [`RiskPolicyError::CriticalCannotBeLowered`] for a level below critical on a tool the
    /// catalogue marks critical.
    pub fn set_override(
        &mut self,
        scope: PolicyScope,
        tool: &str,
        level: RiskLevel,
    ) -> Result<(), RiskPolicyError> {
        let tool = ToolName::new(tool)?;
        let default =
            self.catalogue
                .level(tool.as_str())
                .ok_or_else(|| RiskPolicyError::UnknownTool {
                    tool: tool.to_string(),
                })?;
        if default == RiskLevel::Critical && level < RiskLevel::Critical {
            return Err(RiskPolicyError::CriticalCannotBeLowered {
                tool: tool.to_string(),
                level,
            });
        }
        let entry = self.overrides.entry(tool).or_default();
        match scope {
            PolicyScope::Partner(id) => entry.partner.insert(id, level),
            PolicyScope::Organization(id) => entry.org.insert(id, level),
            PolicyScope::Site(id) => entry.site.insert(id, level),
            PolicyScope::DeviceGroup(id) => entry.group.insert(id, level),
        };
        Ok(())
    }

    /// Removes the override of `tool` at `scope` (returns whether there was one).
    pub fn remove_override(&mut self, scope: PolicyScope, tool: &str) -> bool {
        let Some(entry) = self.overrides.get_mut(tool) else {
            return false;
        };
        match scope {
            PolicyScope::Partner(id) => entry.partner.remove(&id),
            PolicyScope::Organization(id) => entry.org.remove(&id),
            PolicyScope::Site(id) => entry.site.remove(&id),
            PolicyScope::DeviceGroup(id) => entry.group.remove(&id),
        }
        .is_some()
    }

    /// Classifies a call of `tool` on `target`.
    #[must_use]
    pub fn decide(&self, tool: &str, target: &ToolTarget) -> RiskDecision {
        let Some(default) = self.catalogue.level(tool) else {
            return RiskDecision {
                tool: echo(tool),
                target: *target,
                level: RiskLevel::Critical,
                outcome: RiskOutcome::Blocked,
                source: LevelSource::UnknownTool,
                ignored_override: None,
            };
        };
        let mut level = default;
        let mut source = LevelSource::Catalogue;
        let mut floor_critical = default == RiskLevel::Critical;
        let mut ignored_override = None;
        if let Some(o) = self.overrides.get(tool) {
            // From least to most specific; a later (more specific) one replaces an earlier
            // one unless a critical level has already been reached.
            let candidates = [
                o.partner
                    .get(&target.partner_id)
                    .map(|l| (PolicyScope::Partner(target.partner_id), *l)),
                o.org
                    .get(&target.org_id)
                    .map(|l| (PolicyScope::Organization(target.org_id), *l)),
                target
                    .site_id
                    .and_then(|id| o.site.get(&id).map(|l| (PolicyScope::Site(id), *l))),
                target
                    .device_group_id
                    .and_then(|id| o.group.get(&id).map(|l| (PolicyScope::DeviceGroup(id), *l))),
            ];
            for (scope, candidate) in candidates.into_iter().flatten() {
                if floor_critical && candidate < RiskLevel::Critical {
                    ignored_override = Some(scope);
                    continue;
                }
                level = candidate;
                source = LevelSource::Policy(scope);
                floor_critical |= candidate == RiskLevel::Critical;
            }
        }
        RiskDecision {
            tool: tool.to_owned(),
            target: *target,
            level,
            outcome: level.outcome(),
            source,
            ignored_override,
        }
    }
}

/// An approval that cannot be requested or decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApprovalError {
    /// The decision does not need approval (it runs, or it is blocked).
    #[error("this tool call does not need approval (outcome {outcome:?})")]
    NotApprovable {
        /// The decision's outcome.
        outcome: RiskOutcome,
    },
    /// Only a user may approve (not an API key, an agent or the system).
    #[error("only a user may decide an approval")]
    ApproverNotAUser,
    /// The approver lacks `approvals:decide`.
    #[error("the approver lacks `approvals:decide`")]
    MissingPermission,
    /// The approver's access context does not reach the target.
    #[error("the target is outside the approver's access")]
    OutOfScope,
    /// The requester may not approve their own request.
    #[error("a request cannot be decided by its requester")]
    SelfApproval,
    /// The request is older than [`APPROVAL_TTL`].
    #[error("the approval request has expired")]
    Expired,
    /// The reason is too long or contains control characters.
    #[error("invalid approval reason: at most 1000 characters, no control characters")]
    InvalidReason,
    /// The arguments are not a JSON object of bounded depth and size, or a digest is not
    /// 64 lowercase hex digits.
    #[error("invalid tool arguments")]
    InvalidArguments,
    /// The request was already approved, denied or executed.
    #[error("the approval request was already decided")]
    AlreadyDecided,
    /// The approver has not proved a second factor in the last five minutes.
    #[error("a second factor verified in the last five minutes is required")]
    FreshFactorRequired,
    /// The request is pending or was denied.
    #[error("the approval request is not approved")]
    NotApproved,
    /// The approved call already ran.
    #[error("the approved call was already executed")]
    AlreadyExecuted,
    /// More than ten minutes passed since the approval.
    #[error("the approved call may no longer run")]
    ExecutionWindowClosed,
    /// The arguments differ from the ones approved.
    #[error("the arguments differ from the approved ones")]
    ArgumentsChanged,
}

impl ApprovalError {
    /// A stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotApprovable { .. } => "not_approvable",
            Self::ApproverNotAUser => "approver_not_a_user",
            Self::MissingPermission => "missing_permission",
            Self::OutOfScope => "out_of_scope",
            Self::SelfApproval => "self_approval",
            Self::Expired => "approval_expired",
            Self::InvalidReason => "invalid_reason",
            Self::InvalidArguments => "invalid_arguments",
            Self::AlreadyDecided => "approval_already_decided",
            Self::FreshFactorRequired => "fresh_factor_required",
            Self::NotApproved => "approval_not_approved",
            Self::AlreadyExecuted => "approval_already_executed",
            Self::ExecutionWindowClosed => "approval_execution_window_closed",
            Self::ArgumentsChanged => "arguments_changed",
        }
    }
}

/// A high-risk call held for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRequest {
    decision: RiskDecision,
    requested_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    requested_at: OffsetDateTime,
}

/// The verdict of an approver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalVerdict {
    /// Run it.
    Approved,
    /// Do not run it.
    Denied,
}

/// Who decides: their access context and the permissions of the role of the membership
/// that context was resolved from (the role [`AccessContext::role_id`] names).
#[derive(Debug, Clone, Copy)]
pub struct Approver<'a> {
    /// The approver's resolved access context.
    pub context: &'a AccessContext,
    /// The approver's compiled permissions.
    pub permissions: &'a PermissionSet,
    /// The registry the permissions were compiled against.
    pub registry: &'a Registry,
}

/// The audit record of a decided approval. Only [`ApprovalRequest::decide`] builds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    /// The tool.
    pub tool: String,
    /// The target.
    pub target: ToolTarget,
    /// The level that required approval.
    pub level: RiskLevel,
    /// Who asked (the user on whose behalf the AI acted).
    pub requested_by: UserId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// Who decided (held `approvals:decide` at the time).
    pub decided_by: UserId,
    /// The verdict.
    pub verdict: ApprovalVerdict,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    /// The approver's reason, if given.
    pub reason: Option<String>,
}

impl ApprovalRequest {
    /// Holds a decision for approval.
    ///
    /// # Errors
    /// [`ApprovalError::NotApprovable`] unless the outcome is
    /// [`RiskOutcome::NeedsApproval`] (a blocked call can never be approved).
    pub fn new(
        decision: RiskDecision,
        requested_by: UserId,
        requested_at: OffsetDateTime,
    ) -> Result<Self, ApprovalError> {
        if decision.outcome != RiskOutcome::NeedsApproval {
            return Err(ApprovalError::NotApprovable {
                outcome: decision.outcome,
            });
        }
        Ok(Self {
            decision,
            requested_by,
            requested_at,
        })
    }

    /// The decision held.
    #[must_use]
    pub const fn decision(&self) -> &RiskDecision {
        &self.decision
    }

    /// Who asked.
    #[must_use]
    pub const fn requested_by(&self) -> UserId {
        self.requested_by
    }

    /// When.
    #[must_use]
    pub const fn requested_at(&self) -> OffsetDateTime {
        self.requested_at
    }

    /// Decides the request.
    ///
    /// # Errors
    /// [`ApprovalError`] when the approver is not a user, does not reach the target
    /// (organization and, when set, site), lacks `approvals:decide`, is the requester, the
    /// request is older than [`APPROVAL_TTL`], or the reason is invalid.
    pub fn decide(
        &self,
        approver: Approver<'_>,
        verdict: ApprovalVerdict,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ApprovalRecord, ApprovalError> {
        let decided_by = approver
            .context
            .user_id()
            .ok_or(ApprovalError::ApproverNotAUser)?;
        let target = &self.decision.target;
        let in_scope = approver.context.can_access_org(target.org_id)
            && target
                .site_id
                .is_none_or(|site| approver.context.can_access_site(target.org_id, site));
        if !in_scope {
            return Err(ApprovalError::OutOfScope);
        }
        let may_decide = Permission::new("approvals", "decide").is_ok_and(|p| {
            approver
                .permissions
                .allows_permission(approver.registry, &p)
        });
        if !may_decide {
            return Err(ApprovalError::MissingPermission);
        }
        if decided_by == self.requested_by {
            return Err(ApprovalError::SelfApproval);
        }
        if now >= self.requested_at.saturating_add(APPROVAL_TTL) {
            return Err(ApprovalError::Expired);
        }
        let reason = match reason.map(str::trim) {
            Some(r)
                if r.chars().count() > MAX_APPROVAL_REASON_LEN
                    || r.chars().any(char::is_control) =>
            {
                return Err(ApprovalError::InvalidReason);
            }
            Some("") | None => None,
            Some(r) => Some(r.to_owned()),
        };
        Ok(ApprovalRecord {
            tool: self.decision.tool.clone(),
            target: *target,
            level: self.decision.level,
            requested_by: self.requested_by,
            requested_at: self.requested_at,
            decided_by,
            verdict,
            decided_at: now,
            reason,
        })
    }
}
