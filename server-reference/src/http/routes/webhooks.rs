//! Webhook routes (SPEC 13): subscriptions (org-scoped CRUD), their delivery log, a test
//! event, redelivery, a secret roll, and the organization's host allow-list. Reads need
//! `webhooks:read`; every write needs `webhooks:write` and a user session that passed MFA.
//! The rules live in `crate::webhooks::service`.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_core::tenancy::OrgId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::tenancy::{MAX_NAME, OrgPath, name_issue, opt_name_issue};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::state::AppState;
use crate::webhooks::service::{
    self, ChangeInput, DeliveryView, NewInput, SubscriptionView, WithSecret,
};

const READ: &str = "webhooks:read";
const WRITE: &str = "webhooks:write";

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/webhooks",
            Access::Permission(READ),
            "list webhook subscriptions (optionally of one organization)",
            list,
        )
        .errors(&[404])
        .ok::<PageOf<SubscriptionView>>(),
        route(
            Method::POST,
            "/api/v1/webhooks",
            Access::Permission(WRITE),
            "create a webhook subscription (the signing secret is shown once)",
            create,
        )
        .errors(&[404])
        .created::<WithSecret>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/webhooks/{webhookId}",
            Access::Permission(READ),
            "read a webhook subscription",
            read,
        )
        .ok::<SubscriptionView>(),
        route(
            Method::PATCH,
            "/api/v1/webhooks/{webhookId}",
            Access::Permission(WRITE),
            "change a webhook subscription (name, URL, events, enabled)",
            update,
        )
        .ok::<SubscriptionView>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::DELETE,
            "/api/v1/webhooks/{webhookId}",
            Access::Permission(WRITE),
            "delete a webhook subscription and its delivery log",
            remove,
        )
        .no_content()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/webhooks/{webhookId}/deliveries",
            Access::Permission(READ),
            "the delivery log of a webhook subscription, with every attempt",
            deliveries,
        )
        .ok::<PageOf<DeliveryView>>(),
        route(
            Method::POST,
            "/api/v1/webhooks/{webhookId}/test",
            Access::Permission(WRITE),
            "send a webhook.test event to this subscription",
            test,
        )
        .accepted::<DeliveryView>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::POST,
            "/api/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
            Access::Permission(WRITE),
            "queue a delivery again with the same webhook-id",
            redeliver,
        )
        .accepted::<DeliveryView>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::POST,
            "/api/v1/webhooks/{webhookId}/secret/roll",
            Access::Permission(WRITE),
            "roll the signing secret (the new one is shown once; the old one keeps signing during the overlap)",
            roll,
        )
        .ok::<WithSecret>()
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/orgs/{orgId}/webhook-settings",
            Access::Permission(READ),
            "read an organization's webhook host allow-list",
            read_settings,
        )
        .ok::<WebhookSettings>(),
        route(
            Method::PUT,
            "/api/v1/orgs/{orgId}/webhook-settings",
            Access::Permission(WRITE),
            "set or lift an organization's webhook host allow-list",
            write_settings,
        )
        .ok::<WebhookSettings>()
        .mfa_required(),
    ]
}

/// Path of a subscription.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPath {
    /// The subscription.
    pub webhook_id: Uuid,
}

/// Path of a delivery.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPath {
    /// The subscription.
    pub webhook_id: Uuid,
    /// The delivery.
    pub delivery_id: Uuid,
}

/// Query of `GET /webhooks`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "WebhookListQuery")]
pub struct ListQuery {
    /// Only this organization's.
    pub org_id: Option<OrgId>,
    /// Page size.
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    pub limit: Option<String>,
    /// Cursor.
    pub cursor: Option<String>,
}

impl Validate for ListQuery {}

/// Query of the delivery log.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// Page size.
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    pub limit: Option<String>,
    /// Cursor.
    pub cursor: Option<String>,
}

impl Validate for DeliveriesQuery {}

/// Body of `POST /webhooks`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"orgId": "4f9c2a1e-7b3d-4c8e-9a5f-1d2e3c4b5a69", "name": "PSA tickets", "url": "https://psa.example/hooks/breeze", "events": ["device.offline", "command.completed"]}))]
pub struct CreateWebhook {
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// `https://` URL.
    pub url: String,
    /// Event types (`device.enrolled`, `audit.appended`, ...).
    pub events: Vec<String>,
}

impl Validate for CreateWebhook {
    fn validate(&self) -> Vec<FieldIssue> {
        name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .collect()
    }
}

/// Body of `PATCH /webhooks/{id}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateWebhook {
    /// Name.
    pub name: Option<String>,
    /// `https://` URL.
    pub url: Option<String>,
    /// Event types.
    pub events: Option<Vec<String>>,
    /// `true` re-enables (clearing the failure count), `false` disables.
    pub enabled: Option<bool>,
}

impl Validate for UpdateWebhook {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = opt_name_issue("name", self.name.as_deref(), MAX_NAME)
            .into_iter()
            .collect();
        if self.name.is_none()
            && self.url.is_none()
            && self.events.is_none()
            && self.enabled.is_none()
        {
            issues.push(FieldIssue::new("", "nothing to change"));
        }
        issues
    }
}

/// Body of a secret roll.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RollSecret {
    /// Seconds the old secret keeps signing (default 86,400; 0 to 604,800).
    #[schemars(range(min = 0, max = 604_800))]
    pub overlap_seconds: Option<i64>,
}

impl Validate for RollSecret {}

/// Body and answer of the webhook settings.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookSettings {
    /// Host names (`hooks.example.com`, `*.example.com`) subscriptions may target; `null`
    /// lifts the restriction.
    pub allowed_hosts: Option<Vec<String>>,
}

impl Validate for WebhookSettings {}

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
    let views = service::list(&state, &authed, q.org_id, page).await?;
    Ok(axum::Json(PageOf::from_fetched(views, page, |v| v.id)))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<CreateWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    let created = service::create(
        &state,
        &authed,
        NewInput {
            org_id: body.org_id,
            name: body.name,
            url: body.url,
            events: body.events,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<WebhookPath>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(axum::Json(
        service::get(&state, &authed, p.webhook_id).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<WebhookPath>,
    Json(body): Json<UpdateWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    let change = ChangeInput {
        name: body.name,
        url: body.url,
        events: body.events,
        enabled: body.enabled,
    };
    Ok(axum::Json(
        service::update(&state, &authed, p.webhook_id, change).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<WebhookPath>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state, &authed, p.webhook_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<WebhookPath>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    if let Some(s) = &q.status
        && !["pending", "delivered", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "query.status",
            "must be pending, delivered or failed",
        ));
    }
    let rows =
        service::deliveries(&state, &authed, p.webhook_id, q.status.as_deref(), page).await?;
    Ok(axum::Json(PageOf::from_fetched(rows, page, |d| d.id)))
}

async fn test(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<WebhookPath>,
) -> Result<impl IntoResponse, ApiError> {
    let delivery = service::send_test(&state, &authed, p.webhook_id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(delivery)))
}

async fn redeliver(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<DeliveryPath>,
) -> Result<impl IntoResponse, ApiError> {
    let delivery = service::redeliver(&state, &authed, p.webhook_id, p.delivery_id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(delivery)))
}

async fn roll(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<WebhookPath>,
    Json(body): Json<RollSecret>,
) -> Result<impl IntoResponse, ApiError> {
    let overlap = body.overlap_seconds;
    Ok(axum::Json(
        service::roll_secret(&state, &authed, p.webhook_id, overlap).await?,
    ))
}

async fn read_settings(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed_hosts = service::allowed_hosts(&state, &authed, p.org_id).await?;
    Ok(axum::Json(WebhookSettings { allowed_hosts }))
}

async fn write_settings(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Json(body): Json<WebhookSettings>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed_hosts =
        service::set_allowed_hosts(&state, &authed, p.org_id, body.allowed_hosts).await?;
    Ok(axum::Json(WebhookSettings { allowed_hosts }))
}
