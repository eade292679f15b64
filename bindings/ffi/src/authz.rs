//! Authorization: permission checks against roles, grants, API-key scopes, session validity,
//! force-MFA, the AI tool risk decision, the `ai:*` scopes and MCP tools, and the argument
//! digest of an AI approval (SPEC 2.2, 3.3, 5, 10, 14).

use breeze_authz::ai::{AiScope, TOOLS};
use breeze_authz::api_key::{ApiKeyScope, ApiKeyScopes, ApiKeyStatus};
use breeze_authz::approval::ArgumentDigest;
use breeze_authz::mfa::{MfaGate, MfaPolicy};
use breeze_authz::permission::{Grant, Permission};
use breeze_authz::registry::Registry;
use breeze_authz::risk::{
    ApprovalError, PolicyScope, RiskEngine, RiskLevel, ToolCatalogue, ToolTarget,
};
use breeze_authz::role::{Role, RoleScope};
use breeze_authz::seeded::SeededRole;
use breeze_authz::session::{TokenFacts, UserFacts, check_session};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{FfiError, FfiResult, from_json, js_integral_fields, to_json};

/// A role as the bindings pass it: `{"name", "scope", "grants", "force_mfa"}` (the shape of
/// `vectors/authz/permissions.json`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    name: String,
    scope: RoleScope,
    grants: Vec<String>,
    #[serde(default)]
    force_mfa: bool,
}

/// A risk override: `{"scope": {"kind": "organization", "id": "<uuid>"}, "tool", "level"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    scope: PolicyScope,
    tool: String,
    level: RiskLevel,
}

fn permission(p: &str) -> FfiResult<Permission> {
    Ok(p.parse::<Permission>()?)
}

fn build_role(spec: serde_json::Value) -> FfiResult<Role> {
    let spec: RoleSpec = from_json(spec, "role")?;
    let grants = spec
        .grants
        .iter()
        .map(|g| g.parse::<Grant>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Role::new(&spec.name, spec.scope, grants, spec.force_mfa)?)
}

fn role_allows_permission(role: &Role, permission: &Permission) -> FfiResult<bool> {
    let registry = Registry::spec();
    Ok(role
        .compile(&registry)?
        .allows_permission(&registry, permission))
}

/// Whether the seeded role named `role` (for example `Partner Technician`) grants `perm`.
///
/// # Errors
/// `invalid_input` for an unknown role name, `invalid_permission`.
pub fn permission_check(role: &str, perm: &str) -> FfiResult<bool> {
    let seeded = SeededRole::from_name(role)
        .ok_or_else(|| FfiError::input(format!("unknown seeded role `{role}`")))?;
    role_allows_permission(&seeded.role(), &permission(perm)?)
}

/// Whether a custom role (`{"name", "scope", "grants", "force_mfa"}`) grants `perm`.
///
/// # Errors
/// `invalid_grant`, `invalid_role_name`, `full_wildcard_not_allowed`, `unknown_permission`,
/// `invalid_permission`, `invalid_input`.
pub fn role_allows(role: serde_json::Value, perm: &str) -> FfiResult<bool> {
    role_allows_permission(&build_role(role)?, &permission(perm)?)
}

/// Validates a custom role against the SPEC 5 registry.
///
/// # Errors
/// As [`role_allows`].
pub fn role_validate(role: serde_json::Value) -> FfiResult<()> {
    build_role(role)?.compile(&Registry::spec())?;
    Ok(())
}

/// Whether `grant` (`devices:*`, `*:read`, ...) covers `perm`.
///
/// # Errors
/// `invalid_grant`, `invalid_permission`.
pub fn grant_matches(grant: &str, perm: &str) -> FfiResult<bool> {
    Ok(grant.parse::<Grant>()?.matches(&permission(perm)?))
}

/// Every permission of the SPEC 5 registry, in registry order.
#[must_use]
pub fn permission_registry() -> Vec<String> {
    Registry::spec().iter().map(ToString::to_string).collect()
}

/// The seeded roles as `{"name", "scope", "grants", "force_mfa"}`.
///
/// # Errors
/// Never in practice (serialisation of plain data).
pub fn seeded_roles() -> FfiResult<serde_json::Value> {
    let roles: Vec<RoleSpec> = SeededRole::ALL
        .iter()
        .map(|r| RoleSpec {
            name: r.name().to_owned(),
            scope: r.scope(),
            grants: r.grant_strings().iter().map(|g| (*g).to_owned()).collect(),
            force_mfa: r.force_mfa(),
        })
        .collect();
    to_json(&roles)
}

/// Whether an API key with `scopes` may use `perm`.
///
/// # Errors
/// `invalid_scope`, `too_many_scopes`, `invalid_permission`.
pub fn api_key_scopes_allow(scopes: &[String], perm: &str) -> FfiResult<bool> {
    Ok(ApiKeyScopes::parse(scopes.iter())?.allows(&permission(perm)?))
}

fn rfc3339(value: &str) -> FfiResult<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| FfiError::input(format!("`{value}` is not an RFC 3339 time")))
}

/// Checks an API key's `status` (`active` / `revoked` / `expired`) and `expires_at` (RFC 3339
/// or `None`) at `now` (RFC 3339): `Ok` when usable.
///
/// # Errors
/// `api_key_revoked`, `api_key_expired`, `invalid_input`.
pub fn api_key_check(status: &str, expires_at: Option<&str>, now: &str) -> FfiResult<()> {
    let status: ApiKeyStatus = from_json(serde_json::Value::from(status), "api key status")?;
    let record = breeze_authz::api_key::ApiKeyRecord {
        id: breeze_core_ids::api_key_id(),
        org_id: breeze_core_ids::org_id(),
        status,
        expires_at: expires_at.map(rfc3339).transpose()?,
        scopes: ApiKeyScopes::default(),
    };
    record.check(rfc3339(now)?)?;
    Ok(())
}

mod breeze_core_ids {
    //! Placeholder ids for an API-key record checked only for status and expiry.
    use breeze_core::tenancy::{ApiKeyId, OrgId};

    pub(super) fn api_key_id() -> ApiKeyId {
        ApiKeyId::from_uuid(uuid::Uuid::nil())
    }
    pub(super) fn org_id() -> OrgId {
        OrgId::from_uuid(uuid::Uuid::nil())
    }
}

/// The default AI tool catalogue as `[{"tool", "level"}]`, sorted by tool.
///
/// # Errors
/// Never in practice.
pub fn risk_catalogue() -> FfiResult<serde_json::Value> {
    #[derive(Serialize)]
    struct Row {
        tool: String,
        level: RiskLevel,
    }
    let rows: Vec<Row> = ToolCatalogue::default_catalogue()
        .tools()
        .into_iter()
        .map(|(tool, level)| Row {
            tool: tool.to_string(),
            level,
        })
        .collect();
    to_json(&rows)
}

/// The risk decision for `tool` on `target` (`{"partner_id", "org_id", "site_id",
/// "device_group_id"}`) under the default catalogue and `policies` (overrides,
/// `[{"scope": {"kind", "id"}, "tool", "level"}]`): `{"tool", "target", "level", "outcome",
/// "source", "ignored_override"}`.
///
/// # Errors
/// `unknown_tool`, `critical_cannot_be_lowered`, `invalid_tool_name` for a refused override;
/// `invalid_input`.
pub fn risk_decide(
    tool: &str,
    target: serde_json::Value,
    policies: serde_json::Value,
) -> FfiResult<serde_json::Value> {
    let target: ToolTarget = from_json(target, "tool target")?;
    let policies: Vec<PolicySpec> = from_json(policies, "risk policies")?;
    let mut engine = RiskEngine::new(ToolCatalogue::default_catalogue());
    for p in policies {
        engine.set_override(p.scope, &p.tool, p.level)?;
    }
    to_json(&engine.decide(tool, &target))
}

/// Whether the force-MFA gate answers 428 (enrollment required) for a request to `path`.
#[must_use]
pub fn mfa_enrollment_required(role_requires_mfa: bool, mfa_enrolled: bool, path: &str) -> bool {
    MfaPolicy::default().decide(role_requires_mfa, mfa_enrolled, path)
        == MfaGate::EnrollmentRequired
}

/// Whether a verified token still belongs to a live session of its user (SPEC 2.2): `user`
/// is the user's current row `{"active", "auth_epoch", "mfa_epoch", "password_changed_at"
/// (unix seconds), "mfa_enabled"}`, `token` the token's `{"aep", "mep", "iat", "mfa"}` (the
/// claims object `jwt_verify` returns can be passed as is: other claims are ignored). Integral
/// floats within 2^53 are taken as integers (JavaScript numbers). `Ok` when valid.
///
/// # Errors
/// The first failing check, in order: `invalid_token` (user not active), `session_revoked`
/// (auth or MFA epoch changed), `password_changed` (issued before the last password change),
/// `mfa_required`; `invalid_input` for objects of the wrong shape.
pub fn session_check(user: serde_json::Value, token: serde_json::Value) -> FfiResult<()> {
    let user: UserFacts = from_json(js_integral_fields(user), "session user")?;
    let token: TokenFacts = from_json(js_integral_fields(token), "session token")?;
    Ok(check_session(&user, &token)?)
}

/// The digest an AI approval binds (SPEC 14): 64 lowercase hex of SHA-256 over
/// `breeze-approval/v1/arguments\0` and the canonical JSON of `{"arguments", "tool"}`.
/// `arguments_json` is the JSON text of the arguments object exactly as it will be sent:
/// text, not an already-parsed value, because JavaScript cannot tell `1` from `1.0` and
/// the two digest differently (canonical floats keep their fraction). Key order and
/// whitespace do not change the digest; duplicate keys keep the last value.
///
/// # Errors
/// `invalid_arguments` (family `authz`) when the text is not JSON, not an object, nests
/// deeper than 16 or its canonical form (with the tool) exceeds 32 KiB.
pub fn approval_argument_digest(tool: &str, arguments_json: &str) -> FfiResult<String> {
    let arguments: serde_json::Value =
        serde_json::from_str(arguments_json).map_err(|_| ApprovalError::InvalidArguments)?;
    Ok(ArgumentDigest::of(tool, &arguments)?.to_hex())
}

/// Whether an API key with `scopes` names `scope` (`ai:read`, `ai:write` or `ai:execute`)
/// exactly; no wildcard (`*`, `*:*`, `ai:*`, `*:read`, ...) names an AI scope.
///
/// # Errors
/// `invalid_scope`, `too_many_scopes` for the list; `invalid_input` for a `scope` that is
/// not one of the three.
pub fn ai_scope_named(scopes: &[String], scope: &str) -> FfiResult<bool> {
    let wanted = ApiKeyScope::parse(scope)
        .ok()
        .and_then(|s| AiScope::of(&s))
        .ok_or_else(|| {
            let shown: String = scope.chars().take(100).collect();
            FfiError::input(format!("`{shown}` is not ai:read, ai:write or ai:execute"))
        })?;
    Ok(wanted.named_by(&ApiKeyScopes::parse(scopes.iter())?))
}

/// The tools of the reference server's MCP endpoint, sorted by name, as `[{"name", "scope"
/// (`ai:read` / `ai:write` / `ai:execute`), "permission" (what the key's creator must hold
/// now), "level" (the default risk level)}]`.
///
/// # Errors
/// Never in practice.
pub fn ai_tools() -> FfiResult<serde_json::Value> {
    #[derive(Serialize)]
    struct Row {
        name: &'static str,
        scope: &'static str,
        permission: &'static str,
        level: Option<RiskLevel>,
    }
    let catalogue = ToolCatalogue::default_catalogue();
    let rows: Vec<Row> = TOOLS
        .iter()
        .map(|t| Row {
            name: t.name,
            scope: t.scope.as_str(),
            permission: t.permission,
            level: catalogue.level(t.name),
        })
        .collect();
    to_json(&rows)
}
