//! The subscription lifecycle (SPEC 13), called by the routes: every change is checked in
//! Rust (organization in reach, not site-limited for writes) and under row-level security,
//! and audited in the organization's chain in the same transaction (`webhook.created`,
//! `webhook.updated`, `webhook.deleted`, `webhook.secret_rolled`, `webhook.test`,
//! `webhook.redeliver`, `webhook.settings`; refusals of a target as `webhook.created` /
//! `webhook.updated` with result `denied`). A secret is answered once, at creation and at
//! a roll; it is stored encrypted, as is the URL.

use breeze_core::audit::AuditResult;
use breeze_core::tenancy::OrgId;
use breeze_core::webhooks::{self as rules, EventType, WebhookSecret};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::deliver::{previous_secret_field, secret_field, url_field};
use super::target::{self, Target};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::state::AppState;
use crate::store::page::Page;
use crate::store::webhooks::{self as store, DeliveryRow, SubscriptionChange, SubscriptionRow};
use crate::store::{ScopedTx, audit};

/// Longest overlap of a secret roll (7 days).
pub const MAX_OVERLAP_SECS: i64 = 7 * 24 * 3600;
/// Overlap of a roll when the request does not say (24 h).
pub const DEFAULT_OVERLAP_SECS: i64 = 24 * 3600;
/// Most subscriptions of one organization.
pub const MAX_PER_ORG: i64 = 50;

/// A subscription as the API shows it (never a secret; the URL without its query).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// The URL with any query string replaced by `?…`.
    pub url: String,
    /// The URL's host.
    pub url_host: String,
    /// Subscribed event types.
    pub events: Vec<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// Why it is disabled (`consecutive_failures`, `by_request`).
    pub disabled_reason: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i32,
    /// Until when the previous secret still signs (a roll's overlap).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Last roll.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub secret_rolled_at: Option<OffsetDateTime>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Updated.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// Id.
    pub id: Uuid,
    /// The `webhook-id` header (the same on every attempt and redelivery).
    pub webhook_id: String,
    /// Event type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made in the current cycle.
    pub attempts: i32,
    /// Next attempt (pending only).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Status code of the last answer.
    pub last_status_code: Option<i32>,
    /// Stable code of the last failure.
    pub last_error: Option<String>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Delivered.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub delivered_at: Option<OffsetDateTime>,
    /// Every attempt, oldest first (listing only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptView>>,
}

/// One attempt as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    /// Attempt number.
    pub attempt: i32,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub started_at: OffsetDateTime,
    /// Duration.
    pub duration_ms: i32,
    /// Status code of the answer.
    pub status_code: Option<i32>,
    /// Stable error code.
    pub error: Option<String>,
    /// At most 1 KiB of the answer's body.
    pub response_excerpt: Option<String>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(r: DeliveryRow) -> Self {
        Self {
            id: r.id,
            webhook_id: r.msg_id,
            event_type: r.event_type,
            next_attempt_at: (r.status == "pending").then_some(r.next_attempt_at),
            status: r.status,
            attempts: r.attempts,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
            attempt_log: None,
        }
    }
}

/// A created subscription or a rolled secret: the view plus the secret, answered once.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithSecret {
    /// The subscription.
    #[serde(flatten)]
    pub view: SubscriptionView,
    /// `whsec_…`: shown this once.
    pub secret: String,
}

impl std::fmt::Debug for WithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithSecret")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

/// What a create asks for.
#[derive(Debug, Clone)]
pub struct NewInput {
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Event types.
    pub events: Vec<String>,
}

/// What an update asks for.
#[derive(Debug, Clone, Default)]
pub struct ChangeInput {
    /// Name.
    pub name: Option<String>,
    /// URL.
    pub url: Option<String>,
    /// Event types.
    pub events: Option<Vec<String>>,
    /// Enable (`true`, also clears the failure count) or disable.
    pub enabled: Option<bool>,
}

fn view(state: &AppState, row: SubscriptionRow) -> Result<SubscriptionView, ApiError> {
    let url = state
        .secrets
        .decrypt(&row.url, &url_field()?)
        .map_err(ApiError::internal)?;
    let shown = target::parse(secrecy::ExposeSecret::expose_secret(&url)).map_or_else(
        |_| format!("https://{}/", row.url_host),
        |t| target::display(&t.url),
    );
    Ok(SubscriptionView {
        id: row.id,
        org_id: row.org_id,
        name: row.name,
        url: shown,
        url_host: row.url_host,
        events: row.events,
        status: row.status,
        disabled_reason: row.disabled_reason,
        consecutive_failures: row.consecutive_failures,
        previous_secret_expires_at: row.previous_secret_expires_at,
        secret_rolled_at: row.secret_rolled_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Parses subscribable event names (unknown ones and `webhook.test` refused), deduplicated.
///
/// # Errors
/// [`ApiError::Validation`] at `body.events`.
pub fn parse_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() || events.len() > EventType::SUBSCRIBABLE.len() {
        return Err(ApiError::invalid(
            "body.events",
            "must list 1 to 8 subscribable event types",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for (i, name) in events.iter().enumerate() {
        let event = EventType::parse_subscribable(name).map_err(|e| {
            ApiError::Validation(vec![FieldIssue::new(format!("body.events[{i}]"), e.code())])
        })?;
        let name = event.as_str().to_owned();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn writable(authed: &Authed, org: OrgId) -> Result<(), ApiError> {
    if !authed.ctx.can_access_org(org) {
        return Err(ApiError::NotFound);
    }
    // a subscription sees every site's events of the organization
    if !authed.ctx.allowed_site_ids().is_all() {
        return Err(ApiError::Forbidden("site_restricted"));
    }
    Ok(())
}

async fn seal(
    tx: &mut ScopedTx,
    state: &AppState,
    authed: &Authed,
    org: OrgId,
    (action, result): (&str, AuditResult),
    id: Uuid,
    details: &Value,
) -> Result<(), ApiError> {
    let event = authed
        .event(state, action, result)?
        .resource_type("webhook")
        .resource_id(id.to_string())
        .details(details)
        .build()
        .map_err(ApiError::internal)?;
    audit::append(tx, Some(org), event).await?;
    Ok(())
}

/// Checks a target at save time, auditing a refusal (`action` with result `denied`).
async fn checked_target(
    state: &AppState,
    authed: &Authed,
    org: OrgId,
    id: Uuid,
    action: &str,
    raw: &str,
) -> Result<Target, ApiError> {
    let mut tx = authed.begin(state).await?;
    let allowed = store::allowed_hosts(&mut tx, org).await?;
    drop(tx);
    match target::check_at_save(&state.webhooks.client, raw, allowed.as_deref()).await {
        Ok(t) => Ok(t),
        Err(e) => {
            let host = target::parse(raw).map(|t| t.host).ok();
            let mut tx = authed.begin(state).await?;
            seal(
                &mut tx,
                state,
                authed,
                org,
                (action, AuditResult::Denied),
                id,
                &json!({"reason": e.code(), "host": host}),
            )
            .await?;
            tx.commit().await?;
            Err(ApiError::Validation(vec![FieldIssue::new(
                "body.url",
                e.code(),
            )]))
        }
    }
}

/// Creates a subscription; the secret is in the answer, once.
///
/// # Errors
/// 404 outside the caller's reach, 403 for a site-limited caller, 400 for a bad name,
/// events or URL (a refused URL is audited), 409 past [`MAX_PER_ORG`].
pub async fn create(
    state: &AppState,
    authed: &Authed,
    input: NewInput,
) -> Result<WithSecret, ApiError> {
    let org = input.org_id;
    writable(authed, org)?;
    let events = parse_events(&input.events)?;
    let id = Uuid::new_v4();
    let target = checked_target(state, authed, org, id, "webhook.created", &input.url).await?;
    let secret = WebhookSecret::generate().map_err(ApiError::internal)?;
    let wire: Zeroizing<String> = secret.to_wire();
    let url = state
        .secrets
        .encrypt(target.url.as_str(), &url_field()?)
        .map_err(ApiError::internal)?;
    let sealed_secret = state
        .secrets
        .encrypt(&wire, &secret_field()?)
        .map_err(ApiError::internal)?;
    let mut tx = authed.begin(state).await?;
    if store::count(&mut tx, org).await? >= MAX_PER_ORG {
        return Err(ApiError::Conflict("too_many_webhooks"));
    }
    let row = store::insert(
        &mut tx,
        &store::NewSubscription {
            id,
            org_id: org,
            name: input.name.trim(),
            url: &url,
            url_host: &target.host,
            events: &events,
            secret: &sealed_secret,
            created_by: authed.user_id(),
        },
    )
    .await?;
    seal(
        &mut tx,
        state,
        authed,
        org,
        ("webhook.created", AuditResult::Success),
        id,
        &json!({"name": row.name, "host": row.url_host, "events": row.events}),
    )
    .await?;
    tx.commit().await?;
    Ok(WithSecret {
        view: view(state, row)?,
        secret: wire.to_string(),
    })
}

/// Loads a subscription the caller reaches (404 otherwise).
async fn own(
    tx: &mut ScopedTx,
    authed: &Authed,
    id: Uuid,
    lock: bool,
) -> Result<SubscriptionRow, ApiError> {
    let row = if lock {
        store::get_for_update(tx, id).await?
    } else {
        store::get(tx, id).await?
    }
    .ok_or(ApiError::NotFound)?;
    if !authed.ctx.can_access_org(row.org_id) {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

/// One subscription.
///
/// # Errors
/// 404 outside the caller's reach.
pub async fn get(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
) -> Result<SubscriptionView, ApiError> {
    let mut tx = authed.begin(state).await?;
    let row = own(&mut tx, authed, id, false).await?;
    drop(tx);
    view(state, row)
}

/// A page of the subscriptions the caller reaches (of `org` when given).
///
/// # Errors
/// 404 for an organization outside the caller's reach.
pub async fn list(
    state: &AppState,
    authed: &Authed,
    org: Option<OrgId>,
    page: Page,
) -> Result<Vec<SubscriptionView>, ApiError> {
    if let Some(org) = org
        && !authed.ctx.can_access_org(org)
    {
        return Err(ApiError::NotFound);
    }
    let mut tx = authed.begin(state).await?;
    let rows = store::list(&mut tx, org, page).await?;
    drop(tx);
    rows.into_iter()
        .filter(|r| authed.ctx.can_access_org(r.org_id))
        .map(|r| view(state, r))
        .collect()
}

/// Changes a subscription (a new URL is checked like at creation).
///
/// # Errors
/// As [`create`]; 404 outside the caller's reach.
pub async fn update(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
    change: ChangeInput,
) -> Result<SubscriptionView, ApiError> {
    let mut tx = authed.begin(state).await?;
    let before = own(&mut tx, authed, id, false).await?;
    drop(tx);
    let org = before.org_id;
    writable(authed, org)?;
    let events = change.events.as_deref().map(parse_events).transpose()?;
    let target = match &change.url {
        Some(raw) => Some(checked_target(state, authed, org, id, "webhook.updated", raw).await?),
        None => None,
    };
    let url = target
        .as_ref()
        .map(|t| {
            state
                .secrets
                .encrypt(t.url.as_str(), &url_field()?)
                .map_err(ApiError::internal)
        })
        .transpose()?;
    let mut tx = authed.begin(state).await?;
    own(&mut tx, authed, id, true).await?;
    let row = store::update(
        &mut tx,
        id,
        &SubscriptionChange {
            name: change.name.as_deref().map(str::trim),
            url: url.as_deref().zip(target.as_ref().map(|t| t.host.as_str())),
            events: events.as_deref(),
            enabled: change.enabled,
        },
    )
    .await?;
    seal(
        &mut tx,
        state,
        authed,
        org,
        ("webhook.updated", AuditResult::Success),
        id,
        &json!({
            "name": change.name.is_some().then_some(&row.name),
            "host": target.as_ref().map(|_| &row.url_host),
            "events": events,
            "enabled": change.enabled,
        }),
    )
    .await?;
    tx.commit().await?;
    view(state, row)
}

/// Deletes a subscription with its deliveries.
///
/// # Errors
/// 404 outside the caller's reach; 403 for a site-limited caller.
pub async fn delete(state: &AppState, authed: &Authed, id: Uuid) -> Result<(), ApiError> {
    let mut tx = authed.begin(state).await?;
    let row = own(&mut tx, authed, id, true).await?;
    writable(authed, row.org_id)?;
    store::delete(&mut tx, id).await?;
    seal(
        &mut tx,
        state,
        authed,
        row.org_id,
        ("webhook.deleted", AuditResult::Success),
        id,
        &json!({"name": row.name, "host": row.url_host}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Rolls the secret: a new one (answered once) signs from now on; the current one keeps
/// signing next to it for `overlap_secs` (0 = dropped at once), so receivers can switch.
///
/// # Errors
/// 404 outside the caller's reach; 400 for an overlap beyond [`MAX_OVERLAP_SECS`].
pub async fn roll_secret(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
    overlap_secs: Option<i64>,
) -> Result<WithSecret, ApiError> {
    let overlap = overlap_secs.unwrap_or(DEFAULT_OVERLAP_SECS);
    if !(0..=MAX_OVERLAP_SECS).contains(&overlap) {
        return Err(ApiError::invalid(
            "body.overlapSeconds",
            "must be 0 to 604800",
        ));
    }
    let secret = WebhookSecret::generate().map_err(ApiError::internal)?;
    let wire = secret.to_wire();
    let sealed = state
        .secrets
        .encrypt(&wire, &secret_field()?)
        .map_err(ApiError::internal)?;
    let mut tx = authed.begin(state).await?;
    let row = own(&mut tx, authed, id, true).await?;
    writable(authed, row.org_id)?;
    let until = state.clock.now() + time::Duration::seconds(overlap);
    // the current secret moves to the previous slot, re-sealed for that column
    let previous = if overlap > 0 {
        let current = state
            .secrets
            .decrypt(&row.secret, &secret_field()?)
            .map_err(ApiError::internal)?;
        Some(
            state
                .secrets
                .encrypt(
                    secrecy::ExposeSecret::expose_secret(&current),
                    &previous_secret_field()?,
                )
                .map_err(ApiError::internal)?,
        )
    } else {
        None
    };
    let row = store::roll_secret(
        &mut tx,
        id,
        &sealed,
        previous.as_deref().map(|p| (p, until)),
    )
    .await?;
    seal(
        &mut tx,
        state,
        authed,
        row.org_id,
        ("webhook.secret_rolled", AuditResult::Success),
        id,
        &json!({"overlapSeconds": overlap}),
    )
    .await?;
    tx.commit().await?;
    Ok(WithSecret {
        view: view(state, row)?,
        secret: wire.to_string(),
    })
}

/// Queues a `webhook.test` delivery (`{type:"webhook.test"}` and nothing else) to this
/// subscription only.
///
/// # Errors
/// 404 outside the caller's reach; 409 when the subscription is disabled.
pub async fn send_test(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
) -> Result<DeliveryView, ApiError> {
    let mut tx = authed.begin(state).await?;
    let row = own(&mut tx, authed, id, false).await?;
    writable(authed, row.org_id)?;
    if row.status != "active" {
        return Err(ApiError::Conflict("webhook_disabled"));
    }
    let body = rules::payload(
        EventType::WebhookTest,
        state.clock.now(),
        row.org_id,
        json!({}),
    )
    .map_err(ApiError::internal)?;
    let body = String::from_utf8(body).map_err(ApiError::internal)?;
    let delivery = store::enqueue_one(
        &mut tx,
        row.org_id,
        id,
        EventType::WebhookTest.as_str(),
        &body,
    )
    .await?;
    seal(
        &mut tx,
        state,
        authed,
        row.org_id,
        ("webhook.test", AuditResult::Success),
        id,
        &json!({"deliveryId": delivery.id}),
    )
    .await?;
    tx.commit().await?;
    state.webhooks.wake.notify_one();
    Ok(delivery.into())
}

/// Queues a delivery again, due now, with the same `webhook-id`.
///
/// # Errors
/// 404 outside the caller's reach or for another subscription's delivery; 409 while a
/// worker holds it.
pub async fn redeliver(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
    delivery: Uuid,
) -> Result<DeliveryView, ApiError> {
    let mut tx = authed.begin(state).await?;
    let row = own(&mut tx, authed, id, false).await?;
    writable(authed, row.org_id)?;
    let again = store::redeliver(&mut tx, id, delivery).await?;
    seal(
        &mut tx,
        state,
        authed,
        row.org_id,
        ("webhook.redeliver", AuditResult::Success),
        id,
        &json!({"deliveryId": again.id, "webhookId": again.msg_id}),
    )
    .await?;
    tx.commit().await?;
    state.webhooks.wake.notify_one();
    Ok(again.into())
}

/// A page of a subscription's deliveries with their attempts.
///
/// # Errors
/// 404 outside the caller's reach.
pub async fn deliveries(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
    status: Option<&str>,
    page: Page,
) -> Result<Vec<DeliveryView>, ApiError> {
    let mut tx = authed.begin(state).await?;
    own(&mut tx, authed, id, false).await?;
    let rows = store::deliveries(&mut tx, id, status, page).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let attempts = store::attempts_of(&mut tx, &ids).await?;
    drop(tx);
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = attempts
                .iter()
                .filter(|a| a.delivery_id == r.id)
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    started_at: a.started_at,
                    duration_ms: a.duration_ms,
                    status_code: a.status_code,
                    error: a.error.clone(),
                    response_excerpt: a.response_excerpt.clone(),
                })
                .collect();
            let mut v = DeliveryView::from(r);
            v.attempt_log = Some(mine);
            v
        })
        .collect())
}

/// The organization's host allow-list (`None`: any public host).
///
/// # Errors
/// 404 outside the caller's reach.
pub async fn allowed_hosts(
    state: &AppState,
    authed: &Authed,
    org: OrgId,
) -> Result<Option<Vec<String>>, ApiError> {
    if !authed.ctx.can_access_org(org) {
        return Err(ApiError::NotFound);
    }
    let mut tx = authed.begin(state).await?;
    Ok(store::allowed_hosts(&mut tx, org).await?)
}

/// Replaces the organization's host allow-list (`None` lifts it).
///
/// # Errors
/// 404 outside the caller's reach, 403 for a site-limited caller, 400 for a bad entry.
pub async fn set_allowed_hosts(
    state: &AppState,
    authed: &Authed,
    org: OrgId,
    hosts: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, ApiError> {
    writable(authed, org)?;
    let list = hosts
        .map(|h| {
            breeze_core::ssrf::HostAllowList::parse(&h)
                .map(|l| l.entries().to_vec())
                .map_err(|e| ApiError::invalid("body.allowedHosts", e.code()))
        })
        .transpose()?;
    let mut tx = authed.begin(state).await?;
    store::set_allowed_hosts(&mut tx, org, list.as_deref()).await?;
    let event = authed
        .event(state, "webhook.settings", AuditResult::Success)?
        .resource_type("organization")
        .resource_id(org.to_string())
        .details(&json!({"allowedHosts": list}))
        .build()
        .map_err(ApiError::internal)?;
    audit::append(&mut tx, Some(org), event).await?;
    tx.commit().await?;
    Ok(list)
}
