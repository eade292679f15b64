//! SSO provider configuration (SPEC 16), permission `sso:admin` and a session that passed
//! MFA: a partner-level provider needs the partner-wide write right; an organization-level
//! one a context reaching every site of the organization. A provider outside the caller's
//! reach is 404. The issuer is fixed at creation (linked subjects are the issuer's); the
//! provider's discovery document and key set are fetched and checked before a provider is
//! saved, so a typo fails at once rather than at the first login.

use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{OrgId, PartnerId};
use breeze_crypto::envelope::Field;
use breeze_crypto::oidc::discovery::check_issuer;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::authn::Authed;
use crate::http::routes::tenancy::memberships::{Checked, MembershipBody, check_membership};
use crate::state::AppState;
use crate::store::page::Page;
use crate::store::sso::{self as store, NewProvider, ProviderChange, ProviderRow};
use crate::store::{ScopedTx, audit, tenancy};

/// The associated data of a sealed client secret.
///
/// # Errors
/// Not reachable (constant names).
pub fn secret_field() -> Result<Field, ApiError> {
    Field::new("sso_providers", "client_secret").map_err(ApiError::internal)
}

/// A provider as the API shows it (never the client secret).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    /// Id.
    pub id: Uuid,
    /// Partner.
    pub partner_id: PartnerId,
    /// Organization, for an organization-level provider.
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: String,
    /// Issuer URL.
    pub issuer: String,
    /// Client id at the provider.
    pub client_id: String,
    /// Requested scopes.
    pub scopes: String,
    /// The membership a user created just in time gets (`null`: no provisioning).
    pub jit_membership: Option<Value>,
    /// Password login refused for the users this provider covers (platform admins keep it).
    pub enforce_sso: bool,
    /// Logins allowed.
    pub enabled: bool,
    /// The redirect URI to register at the provider (`null` until `BREEZE_PUBLIC_URL` is
    /// set).
    pub redirect_uri: Option<String>,
    /// Where a browser starts a login through this provider.
    pub login_path: String,
    /// Created.
    #[schemars(with = "crate::http::doc::Rfc3339")]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// Updated.
    #[schemars(with = "crate::http::doc::Rfc3339")]
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

fn view(state: &AppState, row: ProviderRow) -> ProviderView {
    ProviderView {
        login_path: format!("/api/v1/auth/sso/{}/start", row.id),
        redirect_uri: state.config.sso.redirect_uri(),
        id: row.id,
        partner_id: row.partner_id,
        org_id: row.org_id,
        name: row.name,
        issuer: row.issuer,
        client_id: row.client_id,
        scopes: row.scopes,
        jit_membership: row.jit_membership,
        enforce_sso: row.enforce_sso,
        enabled: row.enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A new provider.
pub struct NewInput {
    /// Partner (partner-level; system scope names it, partner scope may omit it).
    pub partner_id: Option<PartnerId>,
    /// Organization (organization-level).
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: String,
    /// Issuer.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
    /// Scopes (`openid` is always included).
    pub scopes: Option<String>,
    /// JIT membership.
    pub jit_membership: Option<MembershipBody>,
    /// Enforce SSO.
    pub enforce_sso: bool,
}

/// The tenant a provider is configured for, checked against the caller's reach.
struct Tenant {
    partner: PartnerId,
    org: Option<OrgId>,
}

async fn tenant(
    tx: &mut ScopedTx,
    authed: &Authed,
    partner: Option<PartnerId>,
    org: Option<OrgId>,
) -> Result<Tenant, ApiError> {
    match (partner, org) {
        (_, Some(org)) => {
            if !authed.ctx.can_access_org(org) {
                return Err(ApiError::NotFound);
            }
            if !authed.ctx.allowed_site_ids().is_all() {
                return Err(ApiError::Forbidden("site_restricted"));
            }
            let row = tenancy::get_org(tx, org).await?.ok_or(ApiError::NotFound)?;
            if partner.is_some_and(|p| p != row.partner_id) {
                return Err(ApiError::NotFound);
            }
            Ok(Tenant {
                partner: row.partner_id,
                org: Some(org),
            })
        }
        (p, None) => {
            let partner = p
                .or_else(|| authed.ctx.current_partner_id())
                .ok_or_else(|| ApiError::invalid("body.partnerId", "is required"))?;
            if !authed.ctx.can_access_partner(partner) {
                return Err(ApiError::NotFound);
            }
            if !authed.ctx.can_write_partner_wide() {
                return Err(ApiError::Forbidden("partner_wide_write_required"));
            }
            Ok(Tenant { partner, org: None })
        }
    }
}

/// Checks a JIT membership against the escalation guards of user creation and the
/// provider's level; its stored JSON.
async fn checked_jit(
    state: &AppState,
    authed: &Authed,
    tx: &mut ScopedTx,
    tenant: &Tenant,
    membership: &MembershipBody,
) -> Result<Value, ApiError> {
    let checked = check_membership(state, authed, tx, membership, Some(tenant.partner)).await?;
    let fits = match (&checked, tenant.org) {
        (Checked::Partner { partner, .. }, None) => *partner == tenant.partner,
        (Checked::Organization { org, partner, .. }, level) => {
            *partner == tenant.partner && level.is_none_or(|o| o == *org)
        }
        (Checked::Partner { .. }, Some(_)) => false,
    };
    if !fits {
        return Err(ApiError::invalid(
            "body.jitMembership",
            "must grant a membership inside the provider's tenant",
        ));
    }
    serde_json::to_value(membership).map_err(ApiError::internal)
}

fn scopes(raw: Option<&str>) -> Result<String, ApiError> {
    let mut list: Vec<&str> = raw
        .unwrap_or("openid email profile")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let ok = list.len() <= 16
        && list.iter().all(|s| {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        });
    if !ok {
        return Err(ApiError::invalid(
            "body.scopes",
            "expected up to 16 space-separated scope names",
        ));
    }
    if !list.contains(&"openid") {
        list.insert(0, "openid");
    }
    Ok(list.join(" "))
}

async fn seal(
    tx: &mut ScopedTx,
    state: &AppState,
    authed: &Authed,
    row: &ProviderRow,
    action: &str,
    details: &Value,
) -> Result<(), ApiError> {
    let event = authed
        .event(state, action, AuditResult::Success)?
        .resource_type("sso_provider")
        .resource_id(row.id.to_string())
        .details(details)
        .build()
        .map_err(ApiError::internal)?;
    audit::append(tx, row.org_id, event).await?;
    Ok(())
}

/// Creates a provider after fetching and checking its documents.
///
/// # Errors
/// 400 bad fields; 404 out of reach; 403 guards; 409 `sso_provider_exists` or the
/// provider's document error code (`oidc_*`).
pub async fn create(
    state: &AppState,
    authed: &Authed,
    input: NewInput,
) -> Result<ProviderView, ApiError> {
    check_issuer(&input.issuer, state.sso.rule)
        .map_err(|e| ApiError::invalid("body.issuer", e.to_string()))?;
    let scopes = scopes(input.scopes.as_deref())?;
    let id = Uuid::new_v4();
    let mut tx = authed.begin(state).await?;
    let tenant = tenant(&mut tx, authed, input.partner_id, input.org_id).await?;
    let jit = match &input.jit_membership {
        Some(m) => Some(checked_jit(state, authed, &mut tx, &tenant, m).await?),
        None => None,
    };
    drop(tx);
    // the provider must answer before it is saved (no transaction held across HTTP)
    state
        .sso
        .documents
        .get(&state.sso, id, &input.issuer, state.clock.now())
        .await
        .map_err(|e| ApiError::Conflict(e.code()))?;
    let sealed = {
        use secrecy::ExposeSecret as _;
        state
            .secrets
            .encrypt(input.client_secret.expose_secret(), &secret_field()?)
            .map_err(ApiError::internal)?
    };
    let mut tx = authed.begin(state).await?;
    let row = store::insert(
        &mut tx,
        &NewProvider {
            id,
            partner_id: tenant.partner,
            org_id: tenant.org,
            name: input.name.trim(),
            issuer: &input.issuer,
            client_id: &input.client_id,
            client_secret: &sealed,
            scopes: &scopes,
            jit_membership: jit.as_ref(),
            enforce_sso: input.enforce_sso,
            created_by: authed.user_id(),
        },
    )
    .await
    .map_err(|e| match e {
        crate::store::StoreError::Duplicate { .. } => ApiError::Conflict("sso_provider_exists"),
        other => other.into(),
    })?;
    seal(
        &mut tx,
        state,
        authed,
        &row,
        "sso.provider.created",
        &json!({"issuer": row.issuer, "clientId": row.client_id, "enforceSso": row.enforce_sso,
                "jit": row.jit_membership, "partnerId": row.partner_id, "orgId": row.org_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(view(state, row))
}

/// A page of providers the caller reaches.
///
/// # Errors
/// Store errors.
pub async fn list(
    state: &AppState,
    authed: &Authed,
    partner: Option<PartnerId>,
    page: Page,
) -> Result<Vec<ProviderView>, ApiError> {
    let mut tx = authed.begin(state).await?;
    let rows = store::list(&mut tx, partner, page).await?;
    drop(tx);
    Ok(rows
        .into_iter()
        .filter(|r| reaches(authed, r))
        .map(|r| view(state, r))
        .collect())
}

fn reaches(authed: &Authed, row: &ProviderRow) -> bool {
    match row.org_id {
        Some(org) => authed.ctx.can_access_org(org),
        None => authed.ctx.can_access_partner(row.partner_id),
    }
}

async fn own(tx: &mut ScopedTx, authed: &Authed, id: Uuid) -> Result<ProviderRow, ApiError> {
    let row = store::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    if !reaches(authed, &row) {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

/// One provider.
///
/// # Errors
/// 404 outside the caller's reach.
pub async fn get(state: &AppState, authed: &Authed, id: Uuid) -> Result<ProviderView, ApiError> {
    let mut tx = authed.begin(state).await?;
    let row = own(&mut tx, authed, id).await?;
    Ok(view(state, row))
}

/// A change to a provider.
#[derive(Default)]
pub struct ChangeInput {
    /// Name.
    pub name: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<SecretString>,
    /// Scopes.
    pub scopes: Option<String>,
    /// JIT membership (`Some(None)`: provisioning off).
    pub jit_membership: Option<Option<MembershipBody>>,
    /// Enforce SSO.
    pub enforce_sso: Option<bool>,
    /// Enabled.
    pub enabled: Option<bool>,
}

/// Changes a provider.
///
/// # Errors
/// 404 outside the caller's reach; the guards of [`create`].
pub async fn update(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
    input: ChangeInput,
) -> Result<ProviderView, ApiError> {
    let changed: Vec<&str> = [
        ("name", input.name.is_some()),
        ("clientId", input.client_id.is_some()),
        ("clientSecret", input.client_secret.is_some()),
        ("scopes", input.scopes.is_some()),
        ("jitMembership", input.jit_membership.is_some()),
        ("enforceSso", input.enforce_sso.is_some()),
        ("enabled", input.enabled.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let scopes = input
        .scopes
        .as_deref()
        .map(|s| scopes(Some(s)))
        .transpose()?;
    let sealed = match &input.client_secret {
        None => None,
        Some(secret) => {
            use secrecy::ExposeSecret as _;
            Some(
                state
                    .secrets
                    .encrypt(secret.expose_secret(), &secret_field()?)
                    .map_err(ApiError::internal)?,
            )
        }
    };
    let mut tx = authed.begin(state).await?;
    let before = own(&mut tx, authed, id).await?;
    let tenant = tenant(&mut tx, authed, Some(before.partner_id), before.org_id).await?;
    let jit = match &input.jit_membership {
        None => None,
        Some(None) => Some(None),
        Some(Some(m)) => Some(Some(checked_jit(state, authed, &mut tx, &tenant, m).await?)),
    };
    let row = store::update(
        &mut tx,
        id,
        &ProviderChange {
            name: input.name.as_deref().map(str::trim),
            client_id: input.client_id.as_deref(),
            client_secret: sealed.as_deref(),
            scopes: scopes.as_deref(),
            jit_membership: jit.as_ref().map(Option::as_ref),
            enforce_sso: input.enforce_sso,
            enabled: input.enabled,
        },
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    seal(
        &mut tx,
        state,
        authed,
        &row,
        "sso.provider.updated",
        &json!({"clientId": row.client_id, "enforceSso": row.enforce_sso, "enabled": row.enabled,
                "jit": row.jit_membership, "changed": changed,
                "was": {"clientId": before.client_id, "enforceSso": before.enforce_sso,
                        "enabled": before.enabled, "jit": before.jit_membership}}),
    )
    .await?;
    tx.commit().await?;
    state.sso.documents.forget(id);
    Ok(view(state, row))
}

/// Deletes a provider, its logins in flight and its linked identities (the users stay).
///
/// # Errors
/// 404 outside the caller's reach.
pub async fn delete(state: &AppState, authed: &Authed, id: Uuid) -> Result<(), ApiError> {
    let mut tx = authed.begin(state).await?;
    let row = own(&mut tx, authed, id).await?;
    tenant(&mut tx, authed, Some(row.partner_id), row.org_id).await?;
    if !store::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    seal(
        &mut tx,
        state,
        authed,
        &row,
        "sso.provider.deleted",
        &json!({"issuer": row.issuer, "clientId": row.client_id}),
    )
    .await?;
    tx.commit().await?;
    state.sso.documents.forget(id);
    Ok(())
}
