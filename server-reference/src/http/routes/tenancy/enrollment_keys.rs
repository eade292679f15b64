//! Enrollment keys of an organization (SPEC 8.1): list, create (the raw 64-hex key is
//! answered once; key and optional per-key secret are stored as peppered hashes), delete.
//! `devices:write` for all three (a key admits devices into a site). Audited
//! `enrollment_key.create` / `enrollment_key.delete` on the organization's chain.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_core::tenancy::{EnrollmentKeyId, SiteId};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{MAX_NAME, OrgPath, Password, event, name_issue, org_in_reach, seal, site_in_reach};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::EnrollmentKeyOut;
use crate::state::AppState;
use crate::store::enrollment_keys::{
    self, DEFAULT_EXPIRES_MINUTES, MAX_EXPIRES_MINUTES, MAX_USAGE, NewEnrollmentKey,
};
use crate::store::tenancy;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/orgs/{orgId}/enrollment-keys",
            Access::Permission("devices:write"),
            "list the enrollment keys of an organization",
            list,
        )
        .ok::<PageOf<EnrollmentKeyOut>>(),
        route(
            Method::POST,
            "/api/v1/orgs/{orgId}/enrollment-keys",
            Access::Permission("devices:write"),
            "create an enrollment key (the key is shown once)",
            create,
        )
        .created::<Created>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/enrollment-keys/{keyId}",
            Access::Permission("devices:write"),
            "delete an enrollment key",
            remove,
        )
        .no_content(),
    ]
}

/// Shortest per-key secret.
pub const MIN_SECRET: usize = 16;
/// Longest per-key secret.
pub const MAX_SECRET: usize = 128;

/// Path of an enrollment key.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPath {
    /// The key's id.
    pub key_id: EnrollmentKeyId,
}

/// Body of `POST /orgs/{orgId}/enrollment-keys`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"siteId": "8b1e6f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "name": "front desk", "maxUsage": 5, "expiresInMinutes": 60}))]
pub struct CreateEnrollmentKey {
    /// Site enrolled devices land in.
    pub site_id: SiteId,
    /// Name.
    pub name: String,
    /// Most uses (1..=100000, default 1).
    pub max_usage: Option<i32>,
    /// Lifetime in minutes (default 60, at most a year).
    pub expires_in_minutes: Option<i64>,
    /// Optional per-key secret the agent must present (16..=128 characters).
    pub secret: Option<Password>,
}

impl Validate for CreateEnrollmentKey {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .collect();
        if self
            .max_usage
            .is_some_and(|m| !(1..=MAX_USAGE).contains(&m))
        {
            issues.push(FieldIssue::new("maxUsage", "must be 1 to 100000"));
        }
        if self
            .expires_in_minutes
            .is_some_and(|m| !(1..=MAX_EXPIRES_MINUTES).contains(&m))
        {
            issues.push(FieldIssue::new("expiresInMinutes", "must be 1 to 525600"));
        }
        if let Some(s) = &self.secret {
            let n = s.0.expose_secret().chars().count();
            if !(MIN_SECRET..=MAX_SECRET).contains(&n) {
                issues.push(FieldIssue::new("secret", "must be 16 to 128 characters"));
            }
        }
        issues
    }
}

#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "EnrollmentKeyCreated")]
struct Created {
    #[serde(flatten)]
    view: EnrollmentKeyOut,
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
    let mut rows = enrollment_keys::list_enrollment_keys(&mut tx, org, page).await?;
    drop(tx);
    rows.retain(|r| site_in_reach(&authed, r.org_id, r.site_id).is_ok());
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(EnrollmentKeyOut::from),
    ))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Json(body): Json<CreateEnrollmentKey>,
) -> Result<impl IntoResponse, ApiError> {
    let org = p.org_id;
    org_in_reach(&authed, org)?;
    let mut tx = authed.begin(&state).await?;
    let site = tenancy::get_site(&mut tx, body.site_id)
        .await?
        .filter(|s| s.org_id == org && site_in_reach(&authed, s.org_id, s.id).is_ok())
        .ok_or_else(|| ApiError::invalid("body.siteId", "is not a site of this organization"))?;
    let minutes = body.expires_in_minutes.unwrap_or(DEFAULT_EXPIRES_MINUTES);
    let secret: Option<&SecretString> = body.secret.as_ref().map(|s| &s.0);
    let created = enrollment_keys::create_enrollment_key(
        &mut tx,
        state.pepper.current(),
        &NewEnrollmentKey {
            org_id: org,
            site_id: site.id,
            name: body.name.trim(),
            max_usage: body.max_usage.unwrap_or(1),
            expires_at: state.clock.now() + time::Duration::minutes(minutes),
            created_by: authed.user_id(),
        },
        secret,
    )
    .await?;
    let view = created.view;
    let ev = event(
        &state,
        &authed,
        "enrollment_key.create",
        "enrollment_key",
        view.id,
    )?
    .details(&json!({
        "siteId": view.site_id,
        "maxUsage": view.max_usage,
        "expiresAt": view.expires_at.unix_timestamp(),
        "hasSecret": view.has_secret,
    }));
    seal(&mut tx, Some(org), ev).await?;
    tx.commit().await?;
    let out = Created {
        view: view.into(),
        key: created.key.expose_secret().to_owned(),
    };
    Ok((StatusCode::CREATED, axum::Json(out)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<KeyPath>,
) -> Result<StatusCode, ApiError> {
    let id = p.key_id;
    let mut tx = authed.begin(&state).await?;
    let key = enrollment_keys::get_enrollment_key(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    site_in_reach(&authed, key.org_id, key.site_id)?;
    enrollment_keys::delete_enrollment_key(&mut tx, id).await?;
    seal(
        &mut tx,
        Some(key.org_id),
        event(
            &state,
            &authed,
            "enrollment_key.delete",
            "enrollment_key",
            id,
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
