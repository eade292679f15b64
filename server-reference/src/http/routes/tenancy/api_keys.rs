//! API keys of an organization (SPEC 3.3): list, create (the raw `brzk_` key is answered
//! once; only its SHA-256 and an 8-character display prefix are stored), revoke. Scopes
//! are parsed with breeze-authz and may not exceed the creator's own permissions (the
//! `ai:*` scopes excepted: capped by the creator at every MCP call, SPEC 14); a
//! site-limited caller cannot create keys (a key reaches every site of its organization).
//! Audited `api_key.create` / `api_key.revoke` on the organization's chain.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_authz::api_key::{ApiKeyScope, ApiKeyScopes};
use breeze_authz::permission::Grant;
use breeze_core::tenancy::ApiKeyId;
use breeze_crypto::credentials::ApiKey;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{MAX_NAME, OrgPath, event, holds_all, name_issue, org_in_reach, seal};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::ApiKeyOut;
use crate::state::AppState;
use crate::store::api_keys::{self, NewApiKey};

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/orgs/{orgId}/api-keys",
            Access::Permission("organizations:read"),
            "list the API keys of an organization",
            list,
        )
        .ok::<PageOf<ApiKeyOut>>(),
        route(
            Method::POST,
            "/api/v1/orgs/{orgId}/api-keys",
            Access::Permission("organizations:write"),
            "create an API key (the key is shown once)",
            create,
        )
        .created::<Created>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/api-keys/{apiKeyId}",
            Access::Permission("organizations:write"),
            "revoke an API key",
            revoke,
        )
        .errors(&[409])
        .no_content(),
    ]
}

/// Longest lifetime in days (10 years).
pub const MAX_EXPIRES_DAYS: i64 = 3650;

/// Path of an API key.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyPath {
    /// The key's id.
    pub api_key_id: ApiKeyId,
}

/// Body of `POST /orgs/{orgId}/api-keys`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"name": "PSA sync", "scopes": ["devices:read", "audit:read"], "expiresInDays": 90}))]
pub struct CreateApiKey {
    /// Name.
    pub name: String,
    /// Scopes (`devices:read`, `devices:*`, `*:read`, `*`).
    pub scopes: Vec<String>,
    /// Lifetime in days (none = no expiry).
    pub expires_in_days: Option<i64>,
    /// Requests per hour (default 1000).
    pub rate_limit_per_hour: Option<i32>,
}

impl Validate for CreateApiKey {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .collect();
        if self.scopes.is_empty() {
            issues.push(FieldIssue::new("scopes", "must hold at least one scope"));
        } else if let Err(e) = ApiKeyScopes::parse(&self.scopes) {
            issues.push(FieldIssue::new("scopes", e.code()));
        }
        if self
            .expires_in_days
            .is_some_and(|d| !(1..=MAX_EXPIRES_DAYS).contains(&d))
        {
            issues.push(FieldIssue::new("expiresInDays", "must be 1 to 3650"));
        }
        if self
            .rate_limit_per_hour
            .is_some_and(|r| !(1..=1_000_000).contains(&r))
        {
            issues.push(FieldIssue::new("rateLimitPerHour", "must be 1 to 1000000"));
        }
        issues
    }
}

/// A created key: its row plus the raw key, answered once.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ApiKeyCreated")]
struct Created {
    #[serde(flatten)]
    view: ApiKeyOut,
    key: String,
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Query(q): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = q.page()?;
    let org = p.org_id;
    org_in_reach(&authed, org)?;
    let mut tx = authed.begin(&state).await?;
    let rows = api_keys::list_api_keys(&mut tx, org, page).await?;
    drop(tx);
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(ApiKeyOut::from),
    ))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Json(body): Json<CreateApiKey>,
) -> Result<impl IntoResponse, ApiError> {
    let org = p.org_id;
    org_in_reach(&authed, org)?;
    if !authed.ctx.allowed_site_ids().is_all() {
        return Err(ApiError::Forbidden("site_restricted"));
    }
    let scopes = ApiKeyScopes::parse(&body.scopes)
        .map_err(|e| ApiError::invalid("body.scopes", e.code()))?;
    for scope in scopes.scopes() {
        // `ai:read|write|execute` (named exactly) are not registry permissions: every MCP
        // call is capped by the creator's permissions at that moment (SPEC 14), so they
        // cannot escalate; a key made by an API key has no creator and reaches no AI tool
        if breeze_authz::ai::AiScope::of(scope).is_some() {
            continue;
        }
        let grant = match scope {
            ApiKeyScope::Full => Grant::full(),
            ApiKeyScope::Pattern(g) => g.clone(),
        };
        let set = state.registry.compile([&grant]).map_err(|_| {
            ApiError::invalid("body.scopes", "a scope matches no registered permission")
        })?;
        if !holds_all(&state, &authed, &set) {
            return Err(ApiError::Forbidden("privilege_escalation"));
        }
    }
    let stored: Vec<String> = scopes.scopes().iter().map(ToString::to_string).collect();
    let key = ApiKey::generate().map_err(ApiError::internal)?;
    let hash = key.hash().to_hex();
    let prefix = key.display_prefix();
    let expires_at = body
        .expires_in_days
        .map(|d| state.clock.now() + time::Duration::days(d));
    let mut tx = authed.begin(&state).await?;
    let view = api_keys::insert_api_key(
        &mut tx,
        &NewApiKey {
            org_id: org,
            name: body.name.trim(),
            key_prefix: &prefix,
            key_hash: &hash,
            scopes: &stored,
            expires_at,
            rate_limit_per_hour: body.rate_limit_per_hour.unwrap_or(1000),
            created_by: authed.user_id(),
        },
    )
    .await?;
    let ev = event(&state, &authed, "api_key.create", "api_key", view.id)?.details(&json!({
        "scopes": view.scopes,
        "keyPrefix": view.key_prefix,
        "expiresAt": view.expires_at.map(|t| t.unix_timestamp()),
        "rateLimitPerHour": view.rate_limit_per_hour,
    }));
    seal(&mut tx, Some(org), ev).await?;
    tx.commit().await?;
    let created = Created {
        view: view.into(),
        key: key.expose_secret().to_owned(),
    };
    Ok((StatusCode::CREATED, axum::Json(created)))
}

async fn revoke(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<ApiKeyPath>,
) -> Result<StatusCode, ApiError> {
    let id = p.api_key_id;
    let mut tx = authed.begin(&state).await?;
    let key = api_keys::get_api_key(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    org_in_reach(&authed, key.org_id)?;
    api_keys::revoke_api_key(&mut tx, id).await?;
    seal(
        &mut tx,
        Some(key.org_id),
        event(&state, &authed, "api_key.revoke", "api_key", id)?,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
