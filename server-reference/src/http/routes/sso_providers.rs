//! SSO provider routes (SPEC 16): `sso:admin` and a session that passed MFA for every
//! change. The rules are `crate::sso::providers`'.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_core::tenancy::{OrgId, PartnerId};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::tenancy::memberships::MembershipBody;
use super::tenancy::{MAX_NAME, name_issue, opt_name_issue};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::sso::providers::{self, ChangeInput, NewInput, ProviderView};
use crate::state::AppState;

const ADMIN: &str = "sso:admin";

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/sso/providers",
            Access::Permission(ADMIN),
            "list SSO providers (optionally of one partner)",
            list,
        )
        .ok::<PageOf<ProviderView>>(),
        route(
            Method::POST,
            "/api/v1/sso/providers",
            Access::Permission(ADMIN),
            "configure an OpenID Connect provider for a partner or an organization",
            create,
        )
        .created::<ProviderView>()
        .errors(&[404, 409])
        .describe("the provider's discovery document and key set are fetched and checked before it is saved (409 with the `oidc_*` reason otherwise); the client secret is stored encrypted and never answered")
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/sso/providers/{providerId}",
            Access::Permission(ADMIN),
            "read an SSO provider",
            read,
        )
        .ok::<ProviderView>(),
        route(
            Method::PATCH,
            "/api/v1/sso/providers/{providerId}",
            Access::Permission(ADMIN),
            "change an SSO provider (client, scopes, JIT membership, enforcement, enabled)",
            update,
        )
        .ok::<ProviderView>()
        .mfa_required(),
        route(
            Method::DELETE,
            "/api/v1/sso/providers/{providerId}",
            Access::Permission(ADMIN),
            "delete an SSO provider and its linked identities (the users stay)",
            remove,
        )
        .no_content()
        .mfa_required(),
    ]
}

/// Path of a provider.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderPath {
    /// The provider.
    pub provider_id: Uuid,
}

/// Query of the list.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "SsoProviderListQuery")]
pub struct ListQuery {
    /// Only this partner's (and its organizations').
    pub partner_id: Option<PartnerId>,
    /// Page size.
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    pub limit: Option<String>,
    /// Cursor.
    pub cursor: Option<String>,
}

impl Validate for ListQuery {}

/// Longest client id or secret accepted.
const MAX_CLIENT_FIELD: usize = 1024;

fn client_issues(issues: &mut Vec<FieldIssue>, id: Option<&str>, secret: Option<&str>) {
    if id.is_some_and(|v| v.is_empty() || v.len() > 255 || v.chars().any(char::is_control)) {
        issues.push(FieldIssue::new(
            "clientId",
            "expected 1 to 255 printable characters",
        ));
    }
    if secret.is_some_and(|v| v.is_empty() || v.len() > MAX_CLIENT_FIELD) {
        issues.push(FieldIssue::new(
            "clientSecret",
            "expected 1 to 1024 characters",
        ));
    }
}

/// Body of `POST /sso/providers`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"partnerId": "4f9c2a1e-7b3d-4c8e-9a5f-1d2e3c4b5a69", "name": "Entra ID", "issuer": "https://login.microsoftonline.com/contoso/v2.0", "clientId": "breeze-rmm", "clientSecret": "the client secret", "enforceSso": false}))]
pub struct CreateProvider {
    /// Partner of a partner-level provider (platform admins name it; a partner's own
    /// admins may omit it).
    pub partner_id: Option<PartnerId>,
    /// Organization of an organization-level provider.
    pub org_id: Option<OrgId>,
    /// Display name.
    pub name: String,
    /// Issuer URL (`https://`), exactly as the provider states it.
    pub issuer: String,
    /// Client id at the provider.
    pub client_id: String,
    /// Client secret (`client_secret_basic`); stored encrypted, never answered.
    pub client_secret: String,
    /// Space-separated scopes (default `openid email profile`; `openid` is always added).
    pub scopes: Option<String>,
    /// Create users just in time with this membership (`null`: only existing users).
    pub jit_membership: Option<MembershipBody>,
    /// Refuse password login to the users this provider covers (platform admins keep it).
    #[serde(default)]
    pub enforce_sso: bool,
}

impl Validate for CreateProvider {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .collect();
        client_issues(
            &mut issues,
            Some(&self.client_id),
            Some(&self.client_secret),
        );
        if let Some(m) = &self.jit_membership {
            issues.extend(m.issues("jitMembership"));
        }
        issues
    }
}

/// `Some(None)` for an explicit `null`, `None` when absent.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PATCH /sso/providers/{id}` (the issuer cannot change: delete and create).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateProvider {
    /// Display name.
    pub name: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// New client secret.
    pub client_secret: Option<String>,
    /// Scopes.
    pub scopes: Option<String>,
    /// JIT membership; `null` turns provisioning off.
    #[serde(default, deserialize_with = "nullable")]
    pub jit_membership: Option<Option<MembershipBody>>,
    /// Enforce SSO.
    pub enforce_sso: Option<bool>,
    /// Enabled.
    pub enabled: Option<bool>,
}

impl Validate for UpdateProvider {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = opt_name_issue("name", self.name.as_deref(), MAX_NAME)
            .into_iter()
            .collect();
        client_issues(
            &mut issues,
            self.client_id.as_deref(),
            self.client_secret.as_deref(),
        );
        if let Some(Some(m)) = &self.jit_membership {
            issues.extend(m.issues("jitMembership"));
        }
        let nothing = self.name.is_none()
            && self.client_id.is_none()
            && self.client_secret.is_none()
            && self.scopes.is_none()
            && self.jit_membership.is_none()
            && self.enforce_sso.is_none()
            && self.enabled.is_none();
        if nothing {
            issues.push(FieldIssue::new("", "nothing to change"));
        }
        issues
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let views = providers::list(&state, &authed, q.partner_id, page).await?;
    Ok(axum::Json(PageOf::from_fetched(views, page, |v| v.id)))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<CreateProvider>,
) -> Result<impl IntoResponse, ApiError> {
    let view = providers::create(
        &state,
        &authed,
        NewInput {
            partner_id: body.partner_id,
            org_id: body.org_id,
            name: body.name,
            issuer: body.issuer,
            client_id: body.client_id,
            client_secret: SecretString::from(body.client_secret),
            scopes: body.scopes,
            jit_membership: body.jit_membership,
            enforce_sso: body.enforce_sso,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<ProviderPath>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        providers::get(&state, &authed, p.provider_id).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<ProviderPath>,
    Json(body): Json<UpdateProvider>,
) -> Result<impl IntoResponse, ApiError> {
    let change = ChangeInput {
        name: body.name,
        client_id: body.client_id,
        client_secret: body.client_secret.map(SecretString::from),
        scopes: body.scopes,
        jit_membership: body.jit_membership,
        enforce_sso: body.enforce_sso,
        enabled: body.enabled,
    };
    Ok(axum::Json(
        providers::update(&state, &authed, p.provider_id, change).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<ProviderPath>,
) -> Result<StatusCode, ApiError> {
    providers::delete(&state, &authed, p.provider_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
