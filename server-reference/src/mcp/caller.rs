//! Who calls the MCP endpoint: an API key naming an `ai:*` scope, capped by its creator.
//!
//! Order of checks on every request: the key's shared checks (format, hash, status,
//! expiry, hourly limit: `crate::http::authn::check_api_key`) -> the key names at least one
//! `ai:*` scope -> the creator exists, is active and resolves to a live access context
//! (read fresh, as a user's request would be) that reaches the key's organization -> the
//! per-key and per-organization call limits (shared across replicas). The key's use is
//! recorded with the session (`super::session`). Each tool call then
//! checks its own scope and the creator's permission (`breeze_authz::ai::authorize_tool`).

use axum::http::HeaderMap;
use breeze_authz::ai::{self, AiScope};
use breeze_authz::api_key::ApiKeyScopes;
use breeze_core::ratelimit::Quota;
use breeze_core::tenancy::{ApiKeyId, OrgId, PartnerId, UserId};

use super::jsonrpc::RpcError;
use crate::error::ApiError;
use crate::http::authn::{Authed, Authenticated, ClientMeta, check_api_key, resolved_access};
use crate::state::AppState;
use crate::store::principal;

/// An authenticated MCP caller.
#[derive(Debug, Clone)]
pub struct McpCaller {
    /// The key.
    pub key_id: ApiKeyId,
    /// Its organization.
    pub org_id: OrgId,
    /// The organization's partner.
    pub partner_id: PartnerId,
    /// Its scopes.
    pub scopes: ApiKeyScopes,
    /// The key's creator.
    pub creator: UserId,
    /// The request as the key, in the creator's access narrowed to the key's organization
    /// (its `permissions` are the creator's, now): pass it to the same store and services
    /// as the REST routes.
    pub authed: Authed,
}

impl McpCaller {
    /// Whether the key names `scope`.
    #[must_use]
    pub fn names(&self, scope: AiScope) -> bool {
        scope.named_by(&self.scopes)
    }
}

fn rpc_from_api(e: ApiError) -> RpcError {
    match e {
        ApiError::Unauthorized(code) => RpcError::unauthenticated(code),
        // the partner's IP allow-list refused the key (`ip_not_allowed`, audited): for MCP an
        // unauthenticated -32001 like every other refusal of the key itself
        ApiError::Forbidden(code) => RpcError::unauthenticated(code),
        ApiError::RateLimited { .. } => RpcError::rate_limited("api_key_hourly_limit"),
        other => RpcError::internal(other),
    }
}

/// Authenticates the request (see the module docs).
///
/// # Errors
/// An [`RpcError`] ready to answer: -32001 for the key and its creator, -32029 for the limits.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientMeta,
) -> Result<McpCaller, RpcError> {
    let raw = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RpcError::unauthenticated("missing_api_key"))?;
    let checked = check_api_key(state, raw, &client)
        .await
        .map_err(rpc_from_api)?;
    if ![AiScope::Read, AiScope::Write, AiScope::Execute]
        .iter()
        .any(|s| s.named_by(&checked.scopes))
    {
        return Err(RpcError::unauthenticated("missing_ai_scope"));
    }
    let creator_id = checked
        .row
        .created_by
        .ok_or_else(|| RpcError::unauthenticated("key_without_creator"))?;
    let mut tx = state
        .store
        .begin_system("mcp key creator")
        .await
        .map_err(|e| RpcError::internal(ApiError::from(e)))?;
    let creator = principal::user_by_id(&mut tx, creator_id)
        .await
        .map_err(|e| RpcError::internal(ApiError::from(e)))?
        .filter(|u| u.active)
        .ok_or_else(|| RpcError::unauthenticated("key_creator_inactive"))?;
    let resolved = resolved_access(state, &mut tx, &creator)
        .await
        .map_err(rpc_from_api)?;
    drop(tx);
    let granted = resolved
        .access
        .as_ref()
        .map_err(|_| RpcError::unauthenticated("key_creator_inactive"))?;
    let ctx = ai::delegated_context(&checked.usable, &granted.ctx, &checked.orgs)
        .map_err(|_| RpcError::unauthenticated("key_creator_out_of_reach"))?;
    let partner_id = ctx.current_partner_id().ok_or_else(|| {
        RpcError::internal(ApiError::internal("delegated context without partner"))
    })?;

    let per_key = Quota::per_secs(state.config.mcp.calls_per_min_key, 60);
    let decision = state
        .limiter
        .check_quota(&format!("mcp:key:{}", checked.row.id), per_key)
        .await;
    if !decision.is_allowed() {
        return Err(RpcError::rate_limited("mcp_key_limit").with_retry(&decision));
    }
    let per_org = Quota::per_secs(state.config.mcp.calls_per_min_org, 60);
    let decision = state
        .limiter
        .check_quota(&format!("mcp:org:{}", checked.row.org_id), per_org)
        .await;
    if !decision.is_allowed() {
        return Err(RpcError::rate_limited("mcp_org_limit").with_retry(&decision));
    }

    let authed = Authed {
        ctx,
        who: Authenticated::ApiKey {
            id: checked.row.id,
            scopes: checked.scopes.clone(),
        },
        permissions: granted.permissions.clone(),
        client,
    };
    Ok(McpCaller {
        key_id: checked.row.id,
        org_id: checked.row.org_id,
        partner_id,
        scopes: checked.scopes,
        creator: creator_id,
        authed,
    })
}
