//! The tools of the MCP endpoint and one call's path (SPEC 14).
//!
//! A `tools/call` goes: parameters -> the tool is served (else a catalogued tool the policy
//! blocks is -32003, anything else -32602) -> the key names the tool's `ai:*` scope and
//! its creator holds the tool's permission now (-32001) -> arguments (-32602) -> the target
//! in the key's delegated context (a device outside it, or in another organization, is the
//! same "not found" as a device that does not exist) -> the risk decision for that target
//! -> run (low, medium), hold for approval or execute an approved request (high), refuse
//! (critical, -32003). Every call that gets past the parameters writes `ai.tool.called`
//! (tool, tier, decision, argument digest, outcome) to the organization's audit chain.
//!
//! Tools run through the same store functions and services as the REST routes, with the
//! request's [`Authed`] being the key in its creator's narrowed context.

use breeze_authz::ai::{self, ToolSpec};
use breeze_authz::approval::ArgumentDigest;
use breeze_authz::risk::{RiskDecision, RiskOutcome, ToolTarget};
use breeze_core::audit::{AuditResult, Entry};
use breeze_core::tenancy::{CommandId, DeviceId, SiteId};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::approvals;
use super::caller::McpCaller;
use super::jsonrpc::RpcError;
use super::policy;
use crate::agents::commands::check_command;
use crate::audit::jobs::{self as audit_jobs, AuditJobError};
use crate::error::ApiError;
use crate::http::routes::audit::{item as audit_item, parse_cursor};
use crate::http::routes::device_commands::{CommandOut, queue_in, reachable_device};
use crate::http::routes::tenancy::devices::{device_for, set_status_in};
use crate::http::views::DeviceOut;
use crate::state::AppState;
use crate::store::audit::{self as store_audit, ListFilter};
use crate::store::devices::{self, DeviceFilter};
use crate::store::page::Page;
use crate::store::{ScopedTx, commands};

/// The most items a list tool answers.
pub const MAX_ITEMS: u32 = 100;

fn uuid_schema(description: &str) -> Value {
    json!({"type": "string", "format": "uuid", "description": description})
}

fn limit_schema() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": MAX_ITEMS, "default": 25})
}

fn approval_schema() -> Value {
    json!({"type": "string", "format": "uuid",
           "description": "the id of an approved request, to execute it with the same arguments"})
}

fn definition(spec: &ToolSpec) -> Value {
    let (description, properties, required): (&str, Value, Vec<&str>) = match spec.name {
        "list_devices" => (
            "List the organization's devices (id, hostname, OS, status, last seen).",
            json!({
                "status": {"type": "string", "enum": ["online", "offline", "quarantined", "decommissioned"]},
                "siteId": uuid_schema("only this site"),
                "limit": limit_schema(),
                "after": uuid_schema("the last device id of the previous page"),
            }),
            vec![],
        ),
        "get_device" => (
            "Read one device.",
            json!({"deviceId": uuid_schema("the device")}),
            vec!["deviceId"],
        ),
        "list_commands" => (
            "List a device's commands, newest first, with their status and result.",
            json!({
                "deviceId": uuid_schema("the device"),
                "limit": limit_schema(),
                "after": uuid_schema("the last command id of the previous page"),
            }),
            vec!["deviceId"],
        ),
        "get_command_result" => (
            "Read one command's status, exit code and output.",
            json!({"deviceId": uuid_schema("the device"), "commandId": uuid_schema("the command")}),
            vec!["deviceId", "commandId"],
        ),
        "query_audit_log" => (
            "Read the organization's audit log in chain order; `action` may end with `*`.",
            json!({
                "action": {"type": "string", "maxLength": 100},
                "limit": limit_schema(),
                "cursor": {"type": "string", "description": "nextCursor of the previous page"},
            }),
            vec![],
        ),
        "verify_audit_chain" => (
            "Verify the organization's tamper-evident audit chain and its signed checkpoints.",
            json!({}),
            vec![],
        ),
        "queue_script" => (
            "Queue a script on a device. High risk: the first call returns approval_required; \
             after a human approves, call again with the same arguments and approvalId.",
            json!({
                "deviceId": uuid_schema("the device"),
                "content": {"type": "string", "minLength": 1, "maxLength": 100_000},
                "language": {"type": "string", "enum": ["bash", "sh", "zsh", "python", "powershell", "cmd"]},
                "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 86_400},
                "approvalId": approval_schema(),
            }),
            vec!["deviceId", "content", "language"],
        ),
        "quarantine_device" => (
            "Quarantine a device: it keeps only its heartbeat until a human lifts it.",
            json!({"deviceId": uuid_schema("the device"), "approvalId": approval_schema()}),
            vec!["deviceId"],
        ),
        _ => ("", json!({}), vec![]),
    };
    let tier = policy::catalogue().level(spec.name).map(policy::level_name);
    json!({
        "name": spec.name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        },
        "annotations": {
            "readOnlyHint": spec.scope == ai::AiScope::Read,
            "destructiveHint": false,
        },
        "_meta": {"breeze/tier": tier, "breeze/scope": spec.scope.as_str()},
    })
}

/// The `tools/list` result: the tools whose scope the key names.
#[must_use]
pub fn list(caller: &McpCaller) -> Value {
    let tools: Vec<Value> = ai::TOOLS
        .iter()
        .filter(|t| caller.names(t.scope))
        .map(definition)
        .collect();
    json!({"tools": tools})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallParams {
    name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(default, rename = "_meta")]
    _meta: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListDevicesArgs {
    status: Option<String>,
    site_id: Option<SiteId>,
    limit: Option<u32>,
    after: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeviceArgs {
    device_id: DeviceId,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListCommandsArgs {
    device_id: DeviceId,
    limit: Option<u32>,
    after: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CommandArgs {
    device_id: DeviceId,
    command_id: CommandId,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AuditArgs {
    action: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ScriptArgs {
    device_id: DeviceId,
    content: String,
    language: String,
    timeout_seconds: Option<u32>,
}

impl ScriptArgs {
    /// The `run_script` payload of these arguments.
    fn payload(&self) -> Value {
        let mut payload = Map::new();
        payload.insert("content".into(), json!(self.content));
        payload.insert("language".into(), json!(self.language));
        if let Some(t) = self.timeout_seconds {
            payload.insert("timeoutSeconds".into(), json!(t));
        }
        Value::Object(payload)
    }
}

/// One validated call.
#[derive(Debug)]
enum Call {
    ListDevices(ListDevicesArgs),
    GetDevice(DeviceArgs),
    ListCommands(ListCommandsArgs),
    GetCommandResult(CommandArgs),
    QueryAuditLog(AuditArgs),
    VerifyAuditChain,
    QueueScript(ScriptArgs),
    Quarantine(DeviceArgs),
}

fn bad_args(_: serde_json::Error) -> RpcError {
    RpcError::invalid_params(
        "invalid_arguments",
        "the arguments do not match the tool's input schema",
    )
}

fn check_limit(limit: Option<u32>) -> Result<u32, RpcError> {
    match limit {
        None => Ok(25),
        Some(l) if (1..=MAX_ITEMS).contains(&l) => Ok(l),
        Some(_) => Err(RpcError::invalid_params(
            "invalid_arguments",
            "limit must be 1 to 100",
        )),
    }
}

impl Call {
    fn parse(name: &str, args: &Value) -> Result<Self, RpcError> {
        let a = args.clone();
        let call = match name {
            "list_devices" => Self::ListDevices(serde_json::from_value(a).map_err(bad_args)?),
            "get_device" => Self::GetDevice(serde_json::from_value(a).map_err(bad_args)?),
            "list_commands" => Self::ListCommands(serde_json::from_value(a).map_err(bad_args)?),
            "get_command_result" => {
                Self::GetCommandResult(serde_json::from_value(a).map_err(bad_args)?)
            }
            "query_audit_log" => Self::QueryAuditLog(serde_json::from_value(a).map_err(bad_args)?),
            "verify_audit_chain" => {
                let NoArgs {} = serde_json::from_value(a).map_err(bad_args)?;
                Self::VerifyAuditChain
            }
            "queue_script" => {
                let s: ScriptArgs = serde_json::from_value(a).map_err(bad_args)?;
                if s.content.is_empty() || s.content.chars().count() > 100_000 {
                    return Err(RpcError::invalid_params(
                        "invalid_arguments",
                        "content must be 1 to 100000 characters",
                    ));
                }
                // the agent's own decoder, before anything is held for approval
                check_command(CommandId::new_random(), "run_script", &s.payload()).map_err(
                    |_| {
                        RpcError::invalid_params(
                            "invalid_arguments",
                            "the script is not a valid run_script command (language, timeout)",
                        )
                    },
                )?;
                Self::QueueScript(s)
            }
            "quarantine_device" => Self::Quarantine(serde_json::from_value(a).map_err(bad_args)?),
            _ => return Err(RpcError::invalid_params("unknown_tool", "unknown tool")),
        };
        match &call {
            Self::ListDevices(a) => {
                check_limit(a.limit)?;
            }
            Self::ListCommands(a) => {
                check_limit(a.limit)?;
            }
            Self::QueryAuditLog(a) => {
                check_limit(a.limit)?;
            }
            _ => {}
        }
        Ok(call)
    }

    const fn device(&self) -> Option<DeviceId> {
        match self {
            Self::GetDevice(a) | Self::Quarantine(a) => Some(a.device_id),
            Self::ListCommands(a) => Some(a.device_id),
            Self::GetCommandResult(a) => Some(a.device_id),
            Self::QueueScript(a) => Some(a.device_id),
            _ => None,
        }
    }
}

/// What a tool made, for the approval's `result_ref` and the audit.
struct Ran {
    content: Value,
    result_ref: Option<String>,
    /// A device whose cached agent state must go after commit.
    invalidate: Option<DeviceId>,
}

impl Ran {
    const fn read(content: Value) -> Self {
        Self {
            content,
            result_ref: None,
            invalidate: None,
        }
    }
}

/// A successful tool result (`structuredContent` plus the same JSON as text).
#[must_use]
pub fn tool_result(content: &Value, is_error: bool) -> Value {
    json!({
        "content": [{"type": "text", "text": content.to_string()}],
        "structuredContent": content,
        "isError": is_error,
    })
}

fn tool_error(code: &str, message: &str) -> Value {
    tool_result(&json!({"error": code, "message": message}), true)
}

/// The audit facts of one call.
pub(super) struct CallFacts<'a> {
    pub tool: &'a str,
    pub decision: Option<&'a RiskDecision>,
    pub digest: &'a ArgumentDigest,
    pub device: Option<DeviceId>,
    pub approval: Option<Uuid>,
}

fn outcome_name(o: RiskOutcome) -> &'static str {
    match o {
        RiskOutcome::Run => "run",
        RiskOutcome::RunAndNotify => "run_and_notify",
        RiskOutcome::NeedsApproval => "needs_approval",
        RiskOutcome::Blocked => "blocked",
    }
}

/// Writes `ai.tool.called` in `tx`.
pub(super) async fn audit_call(
    tx: &mut ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    facts: &CallFacts<'_>,
    result: AuditResult,
    code: Option<&str>,
) -> Result<(), ApiError> {
    let mut details = Map::new();
    details.insert("tool".into(), json!(facts.tool));
    details.insert("argumentsDigest".into(), json!(facts.digest.to_hex()));
    details.insert("requestedFor".into(), json!(caller.creator.to_string()));
    if let Some(d) = facts.decision {
        details.insert("tier".into(), json!(policy::level_name(d.level)));
        details.insert("decision".into(), json!(outcome_name(d.outcome)));
        if let Some(ignored) = d.ignored_override {
            details.insert("ignoredOverride".into(), json!(ignored));
        }
    }
    if let Some(device) = facts.device {
        details.insert("deviceId".into(), json!(device.to_string()));
    }
    if let Some(a) = facts.approval {
        details.insert("approvalId".into(), json!(a.to_string()));
    }
    if let Some(code) = code {
        details.insert("code".into(), json!(code));
    }
    let details = Value::Object(details);
    let mut ev = caller
        .authed
        .event(state, "ai.tool.called", result)?
        .resource_type("ai_tool")
        .resource_id(facts.tool)
        .details(&details);
    if let Some(code) = code {
        ev = ev.error_message(code);
    }
    let ev = ev.build().map_err(ApiError::internal)?;
    store_audit::append(tx, Some(caller.org_id), ev).await?;
    Ok(())
}

async fn audit_alone(
    state: &AppState,
    caller: &McpCaller,
    facts: &CallFacts<'_>,
    result: AuditResult,
    code: &str,
) -> Result<(), RpcError> {
    let mut tx = caller.authed.begin(state).await.map_err(api)?;
    audit_call(&mut tx, state, caller, facts, result, Some(code))
        .await
        .map_err(RpcError::internal)?;
    tx.commit().await.map_err(api)?;
    Ok(())
}

fn api<E: Into<ApiError>>(e: E) -> RpcError {
    RpcError::internal(e.into())
}

fn org_target(caller: &McpCaller) -> ToolTarget {
    ToolTarget {
        partner_id: caller.partner_id,
        org_id: caller.org_id,
        site_id: None,
        device_group_id: None,
    }
}

/// `tools/call` (see the module docs).
///
/// # Errors
/// [`RpcError`] for refusals before the tool runs; a tool that fails answers a result with
/// `isError`.
pub async fn call(state: &AppState, caller: &McpCaller, params: &Value) -> Result<Value, RpcError> {
    let p: CallParams = serde_json::from_value(params.clone())
        .map_err(|_| RpcError::invalid_params("invalid_call", "expected {name, arguments}"))?;
    let mut args = p.arguments.unwrap_or_default();
    let approval_id = match args.remove("approvalId") {
        None => None,
        Some(Value::String(s)) => Some(Uuid::parse_str(&s).map_err(|_| {
            RpcError::invalid_params("invalid_arguments", "approvalId is not an id")
        })?),
        Some(_) => {
            return Err(RpcError::invalid_params(
                "invalid_arguments",
                "approvalId is not an id",
            ));
        }
    };
    let args = Value::Object(args);
    let digest = ArgumentDigest::of(&p.name, &args).map_err(|_| {
        RpcError::invalid_params("invalid_arguments", "arguments too large or too deep")
    })?;
    let Some(spec) = ai::tool_spec(&p.name) else {
        return unserved(state, caller, &p.name, &digest).await;
    };
    let facts = |decision, device, approval| CallFacts {
        tool: spec.name,
        decision,
        digest: &digest,
        device,
        approval,
    };
    if let Err(denial) = ai::authorize_tool(
        spec,
        &caller.scopes,
        caller.authed.permissions.as_deref(),
        &state.registry,
    ) {
        audit_alone(
            state,
            caller,
            &facts(None, None, approval_id),
            AuditResult::Denied,
            denial.code(),
        )
        .await?;
        return Err(RpcError::scope(denial.code(), &denial.to_string()));
    }
    let call = Call::parse(spec.name, &args)?;

    let mut tx = caller.authed.begin(state).await.map_err(api)?;
    let target = match call.device() {
        None => org_target(caller),
        Some(id) => match device_for(&mut tx, &caller.authed, id).await {
            Ok(row) => ToolTarget {
                partner_id: caller.partner_id,
                org_id: row.org_id,
                site_id: Some(row.site_id),
                device_group_id: row.group_id,
            },
            Err(ApiError::NotFound) => {
                drop(tx);
                audit_alone(
                    state,
                    caller,
                    &facts(None, Some(id), approval_id),
                    AuditResult::Failure,
                    "not_found",
                )
                .await?;
                return Ok(tool_error("not_found", "no such device"));
            }
            Err(e) => return Err(RpcError::internal(e)),
        },
    };
    let decision = policy::decide(&mut tx, spec.name, &target)
        .await
        .map_err(RpcError::internal)?;
    let f = facts(Some(&decision), call.device(), approval_id);
    match decision.outcome {
        RiskOutcome::Blocked => Err(refuse_blocked(tx, state, caller, &f).await),
        RiskOutcome::NeedsApproval => match approval_id {
            None => {
                let held = approvals::hold(
                    &mut tx,
                    state,
                    caller,
                    &decision,
                    &args,
                    &digest,
                    call.device(),
                )
                .await
                .map_err(RpcError::internal)?;
                let f = facts(Some(&decision), call.device(), Some(held.id));
                audit_call(&mut tx, state, caller, &f, AuditResult::Success, None)
                    .await
                    .map_err(RpcError::internal)?;
                tx.commit().await.map_err(api)?;
                Ok(tool_result(&held.answer(), false))
            }
            Some(id) => {
                let approval =
                    approvals::claim(&mut tx, state, caller, id, spec.name, &digest).await;
                let approval = match approval {
                    Ok(a) => a,
                    Err(refusal) => {
                        drop(tx);
                        approvals::audit_refused_execution(state, caller, id, spec.name, &refusal)
                            .await?;
                        audit_alone(state, caller, &f, AuditResult::Denied, refusal.reason).await?;
                        return Err(refusal);
                    }
                };
                run_and_finish(tx, state, caller, &call, &f, Some(approval)).await
            }
        },
        RiskOutcome::Run | RiskOutcome::RunAndNotify => {
            run_and_finish(tx, state, caller, &call, &f, None).await
        }
    }
}

/// Runs the call in `tx`, records an approved execution (compare-and-set), audits and
/// commits; a tool failure rolls back and answers an `isError` result, audited.
async fn run_and_finish(
    mut tx: ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    call: &Call,
    facts: &CallFacts<'_>,
    approval: Option<Uuid>,
) -> Result<Value, RpcError> {
    let ran = match run(&mut tx, state, caller, call).await {
        Ok(ran) => ran,
        Err(e) => {
            drop(tx);
            let (code, message) = match &e {
                ApiError::Conflict(code) => (*code, "the device is not in a state for this"),
                ApiError::NotFound => ("not_found", "not found"),
                ApiError::Validation(_) => ("invalid_arguments", "the arguments were refused"),
                _ => return Err(RpcError::internal(e)),
            };
            audit_alone(state, caller, facts, AuditResult::Failure, code).await?;
            return Ok(tool_error(code, message));
        }
    };
    if let Some(id) = approval {
        approvals::record_executed(&mut tx, state, caller, id, facts, ran.result_ref.as_deref())
            .await?;
    }
    audit_call(&mut tx, state, caller, facts, AuditResult::Success, None)
        .await
        .map_err(RpcError::internal)?;
    tx.commit().await.map_err(api)?;
    if let Some(device) = ran.invalidate {
        state.agent_cache.invalidate_device(device);
    }
    Ok(tool_result(&ran.content, false))
}

/// A tool this server does not serve: a catalogued one the policy blocks (every critical
/// tool) is refused as policy and audited; anything else is an unknown tool.
async fn unserved(
    state: &AppState,
    caller: &McpCaller,
    name: &str,
    digest: &ArgumentDigest,
) -> Result<Value, RpcError> {
    if policy::catalogue().level(name).is_none() {
        return Err(RpcError::invalid_params("unknown_tool", "unknown tool"));
    }
    let mut tx = caller.authed.begin(state).await.map_err(api)?;
    let decision = policy::decide(&mut tx, name, &org_target(caller))
        .await
        .map_err(RpcError::internal)?;
    if decision.outcome != RiskOutcome::Blocked {
        return Err(RpcError::invalid_params(
            "unknown_tool",
            "this server does not provide that tool",
        ));
    }
    let facts = CallFacts {
        tool: name,
        decision: Some(&decision),
        digest,
        device: None,
        approval: None,
    };
    Err(refuse_blocked(tx, state, caller, &facts).await)
}

/// Audits a call the policy blocks (`ai.tool.called`, denied, `policy_blocked`), commits, and
/// answers -32003.
async fn refuse_blocked(
    mut tx: ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    facts: &CallFacts<'_>,
) -> RpcError {
    let audited = audit_call(
        &mut tx,
        state,
        caller,
        facts,
        AuditResult::Denied,
        Some("policy_blocked"),
    )
    .await;
    if let Err(e) = audited {
        return RpcError::internal(e);
    }
    if let Err(e) = tx.commit().await {
        return api(e);
    }
    RpcError::policy(
        "policy_blocked",
        "this tool is blocked by policy for this target",
    )
}

async fn run(
    tx: &mut ScopedTx,
    state: &AppState,
    caller: &McpCaller,
    call: &Call,
) -> Result<Ran, ApiError> {
    let authed = &caller.authed;
    Ok(match call {
        Call::ListDevices(a) => {
            let limit = a.limit.unwrap_or(25);
            let filter = DeviceFilter {
                org: Some(caller.org_id),
                orgs: None,
                site: a.site_id,
                status: a.status.clone(),
            };
            let page = Page {
                limit,
                after: a.after,
            };
            let mut rows = devices::list_devices(tx, &filter, page).await?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            rows.retain(|r| authed.ctx.can_access_site(r.org_id, r.site_id));
            let next = if more {
                rows.last().map(|r| r.id.to_string())
            } else {
                None
            };
            let items: Vec<DeviceOut> = rows.into_iter().map(DeviceOut::from).collect();
            Ran::read(json!({"items": items, "nextAfter": next}))
        }
        Call::GetDevice(a) => {
            let row = device_for(tx, authed, a.device_id).await?;
            Ran::read(json!({"device": DeviceOut::from(row)}))
        }
        Call::ListCommands(a) => {
            reachable_device(tx, a.device_id).await?;
            let limit = a.limit.unwrap_or(25);
            let rows = commands::list(tx, a.device_id, a.after, i64::from(limit) + 1).await?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            let items: Vec<CommandOut> = rows
                .into_iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(CommandOut::from)
                .collect();
            let next = if more {
                serde_json::to_value(items.last())
                    .ok()
                    .and_then(|v| v.get("id").cloned())
            } else {
                None
            };
            Ran::read(json!({"items": items, "nextAfter": next}))
        }
        Call::GetCommandResult(a) => {
            reachable_device(tx, a.device_id).await?;
            let view = commands::get(tx, a.device_id, a.command_id)
                .await?
                .ok_or(ApiError::NotFound)?;
            Ran::read(json!({"command": CommandOut::from(view)}))
        }
        Call::QueryAuditLog(a) => {
            let limit = a.limit.unwrap_or(25);
            let (action, action_prefix) = match &a.action {
                Some(x) => match x.strip_suffix('*') {
                    Some(prefix) => (Some(prefix.to_owned()), true),
                    None => (Some(x.clone()), false),
                },
                None => (None, false),
            };
            let filter = ListFilter {
                org: Some(caller.org_id),
                action,
                action_prefix,
                after: a.cursor.as_deref().and_then(parse_cursor),
                ..ListFilter::default()
            };
            let rows = store_audit::list(tx, &filter, limit.saturating_add(1)).await?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            let mut items = Vec::new();
            for row in rows
                .into_iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
            {
                let entry: Entry = serde_json::from_str(&row.entry)
                    .map_err(|_| ApiError::internal("stored audit entry does not parse"))?;
                items.push(audit_item(row.chain_key, row.seq, &entry, false));
            }
            let next = if more {
                serde_json::to_value(items.last()).ok().and_then(|v| {
                    Some(format!(
                        "{}:{}",
                        v.get("chain")?.as_str()?,
                        v.get("seq")?.as_u64()?
                    ))
                })
            } else {
                None
            };
            Ran::read(json!({"items": items, "nextCursor": next}))
        }
        Call::VerifyAuditChain => {
            let report =
                match audit_jobs::verify_visible(tx, &state.audit_keys, Some(Some(caller.org_id)))
                    .await
                {
                    Err(AuditJobError::NotFound) => audit_jobs::VerifyReport {
                        ok: true,
                        chains: Vec::new(),
                    },
                    other => other.map_err(|e| ApiError::internal(e.to_string()))?,
                };
            Ran::read(serde_json::to_value(report).map_err(ApiError::internal)?)
        }
        Call::QueueScript(a) => {
            let device = reachable_device(tx, a.device_id).await?;
            let id = queue_in(tx, state, authed, &device, "run_script", Some(&a.payload())).await?;
            Ran {
                content: json!({"commandId": id, "deviceId": device.id, "status": "pending"}),
                result_ref: Some(id.to_string()),
                invalidate: None,
            }
        }
        Call::Quarantine(a) => {
            let row = device_for(tx, authed, a.device_id).await?;
            let row =
                set_status_in(tx, state, authed, &row, "quarantined", "device.quarantine").await?;
            Ran {
                content: json!({"device": DeviceOut::from(row.clone())}),
                result_ref: Some(row.id.to_string()),
                invalidate: Some(row.id),
            }
        }
    })
}
