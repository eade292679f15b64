//! Webhook subscriptions, the delivery outbox and its attempt log (SPEC 13).
//!
//! [`enqueue`] runs inside the transaction of the audit entry an event comes from (see
//! [`super::audit::append`]), so a delivery exists exactly when its event committed. The
//! workers [`claim`] due rows with `FOR UPDATE SKIP LOCKED` in a short system-scope
//! transaction, send outside any transaction, then [`finish_attempt`]. Encrypted columns
//! (`url`, `secret`, `previous_secret`) are stored and returned as envelopes: this module
//! never sees a decrypted secret or URL.

use breeze_core::tenancy::{OrgId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::page::{Page, fetch_page};
use super::rows::{delete_unreferenced, fetch_by_id};
use super::{ScopedTx, StoreError, StoreResult};

/// A subscription as stored (envelopes for the URL and the secrets).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionRow {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// The URL, encrypted (field `webhook_subscriptions.url`).
    pub url: String,
    /// The URL's host, in clear.
    pub url_host: String,
    /// Subscribed event types.
    pub events: Vec<String>,
    /// The current secret, encrypted (field `webhook_subscriptions.secret`).
    pub secret: String,
    /// The previous secret during a roll's overlap (field `webhook_subscriptions.previous_secret`).
    pub previous_secret: Option<String>,
    /// End of the overlap.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// `active` or `disabled`.
    pub status: String,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i32,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Updated.
    pub updated_at: OffsetDateTime,
    /// Last secret roll.
    pub secret_rolled_at: Option<OffsetDateTime>,
}

const SUB_COLS: &str = "id, org_id, name, url, url_host, events, secret, previous_secret, \
     previous_secret_expires_at, status, disabled_reason, consecutive_failures, created_by, \
     created_at, updated_at, secret_rolled_at";

/// A new subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription<'a> {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: &'a str,
    /// Encrypted URL.
    pub url: &'a str,
    /// Host in clear.
    pub url_host: &'a str,
    /// Event types.
    pub events: &'a [String],
    /// Encrypted secret.
    pub secret: &'a str,
    /// Creator.
    pub created_by: Option<UserId>,
}

/// Inserts a subscription.
///
/// # Errors
/// [`StoreError`].
pub async fn insert(tx: &mut ScopedTx, new: &NewSubscription<'_>) -> StoreResult<SubscriptionRow> {
    let sql = format!(
        "INSERT INTO webhook_subscriptions (id, org_id, name, url, url_host, events, secret, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {SUB_COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new.id)
        .bind(new.org_id)
        .bind(new.name)
        .bind(new.url)
        .bind(new.url_host)
        .bind(new.events)
        .bind(new.secret)
        .bind(new.created_by)
        .fetch_one(tx.conn())
        .await?)
}

/// One subscription (row-level security decides whether the context sees it).
///
/// # Errors
/// [`StoreError`].
pub async fn get(tx: &mut ScopedTx, id: Uuid) -> StoreResult<Option<SubscriptionRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {SUB_COLS} FROM webhook_subscriptions WHERE id = $1"),
        id,
    )
    .await
}

/// One subscription, locked for an update in this transaction.
///
/// # Errors
/// [`StoreError`].
pub async fn get_for_update(tx: &mut ScopedTx, id: Uuid) -> StoreResult<Option<SubscriptionRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {SUB_COLS} FROM webhook_subscriptions WHERE id = $1 FOR UPDATE"),
        id,
    )
    .await
}

/// A page of the subscriptions the context sees, of one organization or all.
///
/// # Errors
/// [`StoreError`].
pub async fn list(
    tx: &mut ScopedTx,
    org: Option<OrgId>,
    page: Page,
) -> StoreResult<Vec<SubscriptionRow>> {
    let select = format!(
        "SELECT {SUB_COLS} FROM webhook_subscriptions WHERE ($1::uuid IS NULL OR org_id = $1)"
    );
    fetch_page(tx, &select, 1, |q| q.bind(org), page).await
}

/// How many subscriptions `org` has.
///
/// # Errors
/// [`StoreError`].
pub async fn count(tx: &mut ScopedTx, org: OrgId) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM webhook_subscriptions WHERE org_id = $1")
            .bind(org)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// What an update changes (`None` = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionChange<'a> {
    /// Name.
    pub name: Option<&'a str>,
    /// Encrypted URL and its host.
    pub url: Option<(&'a str, &'a str)>,
    /// Event types.
    pub events: Option<&'a [String]>,
    /// `true` re-enables (and clears the failure count), `false` disables by request.
    pub enabled: Option<bool>,
}

/// Applies `change` to subscription `id`.
///
/// # Errors
/// [`StoreError::NotFound`] when the context does not see it.
pub async fn update(
    tx: &mut ScopedTx,
    id: Uuid,
    change: &SubscriptionChange<'_>,
) -> StoreResult<SubscriptionRow> {
    let (url, host) = change.url.unzip();
    let sql = format!(
        "UPDATE webhook_subscriptions SET
            name = COALESCE($2, name),
            url = COALESCE($3, url),
            url_host = COALESCE($4, url_host),
            events = COALESCE($5, events),
            status = CASE WHEN $6::boolean IS NULL THEN status
                          WHEN $6 THEN 'active' ELSE 'disabled' END,
            disabled_reason = CASE WHEN $6::boolean IS NULL THEN disabled_reason
                                   WHEN $6 THEN NULL ELSE 'by_request' END,
            consecutive_failures = CASE WHEN $6 THEN 0 ELSE consecutive_failures END,
            updated_at = now()
          WHERE id = $1 RETURNING {SUB_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(change.name)
        .bind(url)
        .bind(host)
        .bind(change.events)
        .bind(change.enabled)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Replaces the secret; the old one keeps signing until `overlap_until` (`None`: dropped now).
///
/// # Errors
/// [`StoreError::NotFound`] when the context does not see it.
pub async fn roll_secret(
    tx: &mut ScopedTx,
    id: Uuid,
    new_secret: &str,
    previous: Option<(&str, OffsetDateTime)>,
) -> StoreResult<SubscriptionRow> {
    let (prev, until) = previous.unzip();
    let sql = format!(
        "UPDATE webhook_subscriptions SET secret = $2, previous_secret = $3,
                previous_secret_expires_at = $4, secret_rolled_at = now(), updated_at = now()
          WHERE id = $1 RETURNING {SUB_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(new_secret)
        .bind(prev)
        .bind(until)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Deletes a subscription (its deliveries and attempts go with it).
///
/// # Errors
/// [`StoreError::NotFound`] when the context does not see it.
pub async fn delete(tx: &mut ScopedTx, id: Uuid) -> StoreResult<()> {
    // deliveries and attempts cascade: nothing can still refer to a subscription
    delete_unreferenced(tx, "webhook_subscriptions", "", id, "webhook_in_use").await
}

// ---------------------------------------------------------------------------------------
// The outbox
// ---------------------------------------------------------------------------------------

/// Writes one delivery per (event, active subscription of `org` that subscribed to it),
/// in the caller's transaction. `events` are (event type, payload JSON). Returns how many.
///
/// # Errors
/// [`StoreError`]; the caller's transaction (and the change it records) must then fail.
pub async fn enqueue(
    tx: &mut ScopedTx,
    org: OrgId,
    events: &[(&'static str, String)],
) -> StoreResult<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let (types, payloads): (Vec<&str>, Vec<&str>) =
        events.iter().map(|(t, p)| (*t, p.as_str())).unzip();
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (org_id, subscription_id, event_type, payload)
         SELECT s.org_id, s.id, e.t, e.p
           FROM webhook_subscriptions s
           CROSS JOIN unnest($2::text[], $3::text[]) AS e(t, p)
          WHERE s.org_id = $1 AND s.status = 'active' AND e.t = ANY (s.events)",
    )
    .bind(org)
    .bind(types)
    .bind(payloads)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Queues one delivery of `payload` to subscription `id` only (the `webhook.test` event).
///
/// # Errors
/// [`StoreError`].
pub async fn enqueue_one(
    tx: &mut ScopedTx,
    org: OrgId,
    subscription: Uuid,
    event_type: &str,
    payload: &str,
) -> StoreResult<DeliveryRow> {
    let sql = format!(
        "INSERT INTO webhook_deliveries (org_id, subscription_id, event_type, payload)
         VALUES ($1, $2, $3, $4) RETURNING {DELIVERY_COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org)
        .bind(subscription)
        .bind(event_type)
        .bind(payload)
        .fetch_one(tx.conn())
        .await?)
}

/// A delivery as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    /// Id.
    pub id: Uuid,
    /// The `webhook-id` header.
    pub msg_id: String,
    /// Organization.
    pub org_id: OrgId,
    /// Subscription.
    pub subscription_id: Uuid,
    /// Event type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// Next attempt (pending only).
    pub next_attempt_at: OffsetDateTime,
    /// Last answer's status code.
    pub last_status_code: Option<i32>,
    /// Last error code.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Delivered.
    pub delivered_at: Option<OffsetDateTime>,
}

const DELIVERY_COLS: &str = "id, msg_id, org_id, subscription_id, event_type, status, attempts, \
     next_attempt_at, last_status_code, last_error, created_at, delivered_at";

/// A page of a subscription's deliveries (ordered by id).
///
/// # Errors
/// [`StoreError`].
pub async fn deliveries(
    tx: &mut ScopedTx,
    subscription: Uuid,
    status: Option<&str>,
    page: Page,
) -> StoreResult<Vec<DeliveryRow>> {
    let select = format!(
        "SELECT {DELIVERY_COLS} FROM webhook_deliveries
          WHERE subscription_id = $1 AND ($2::text IS NULL OR status = $2)"
    );
    let status = status.map(str::to_owned);
    fetch_page(tx, &select, 2, |q| q.bind(subscription).bind(status), page).await
}

/// One attempt of the log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttemptRow {
    /// Delivery.
    pub delivery_id: Uuid,
    /// 1-based attempt number.
    pub attempt: i32,
    /// Start.
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

/// The attempts of the given deliveries, oldest first.
///
/// # Errors
/// [`StoreError`].
pub async fn attempts_of(tx: &mut ScopedTx, deliveries: &[Uuid]) -> StoreResult<Vec<AttemptRow>> {
    Ok(sqlx::query_as(
        "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error, response_excerpt
           FROM webhook_delivery_attempts WHERE delivery_id = ANY ($1)
          ORDER BY started_at, attempt",
    )
    .bind(deliveries)
    .fetch_all(tx.conn())
    .await?)
}

/// Puts a delivery of subscription `subscription` back in the queue, due now, with a fresh
/// attempt budget and the same `webhook-id`.
///
/// # Errors
/// [`StoreError::NotFound`] when the context does not see it; [`StoreError::Conflict`]
/// (`delivery_in_flight`) while a worker holds it.
pub async fn redeliver(
    tx: &mut ScopedTx,
    subscription: Uuid,
    delivery: Uuid,
) -> StoreResult<DeliveryRow> {
    let sql = format!(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0,
                next_attempt_at = now(), delivered_at = NULL
          WHERE id = $1 AND subscription_id = $2
            AND (locked_until IS NULL OR locked_until < now())
          RETURNING {DELIVERY_COLS}"
    );
    if let Some(row) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(delivery)
        .bind(subscription)
        .fetch_optional(tx.conn())
        .await?
    {
        return Ok(row);
    }
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1 AND subscription_id = $2)",
    )
    .bind(delivery)
    .bind(subscription)
    .fetch_one(tx.conn())
    .await?;
    Err(if exists {
        StoreError::Conflict("delivery_in_flight")
    } else {
        StoreError::NotFound
    })
}

// ---------------------------------------------------------------------------------------
// Workers (system scope)
// ---------------------------------------------------------------------------------------

/// A claimed delivery with what sending it needs (still encrypted).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimed {
    /// Delivery id.
    pub id: Uuid,
    /// The `webhook-id`.
    pub msg_id: String,
    /// Organization.
    pub org_id: OrgId,
    /// Subscription.
    pub subscription_id: Uuid,
    /// Event type.
    pub event_type: String,
    /// The body.
    pub payload: String,
    /// This attempt's number (1-based).
    pub attempts: i32,
    /// Encrypted URL.
    pub url: String,
    /// Host in clear.
    pub url_host: String,
    /// Encrypted current secret.
    pub secret: String,
    /// Encrypted previous secret, while its overlap lasts.
    pub previous_secret: Option<String>,
    /// The organization's host allow-list.
    pub allowed_hosts: Option<Vec<String>>,
    /// Whether the subscription is active (a disabled one's deliveries fail unsent).
    pub subscription_active: bool,
}

/// Claims up to `limit` due deliveries for `lease_secs`: counts the attempt and sets the
/// lease in one statement, skipping rows another worker holds. Deliveries of a subscription
/// that is no longer active are claimed too, and failed unsent by the caller.
///
/// # Errors
/// [`StoreError`].
pub async fn claim(tx: &mut ScopedTx, limit: i64, lease_secs: i64) -> StoreResult<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "WITH due AS (
           SELECT id FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= now()
              AND (locked_until IS NULL OR locked_until < now())
            ORDER BY next_attempt_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
         ), claimed AS (
           UPDATE webhook_deliveries d
              SET attempts = d.attempts + 1,
                  locked_until = now() + make_interval(secs => $2)
             FROM due WHERE d.id = due.id
           RETURNING d.id, d.msg_id, d.org_id, d.subscription_id, d.event_type, d.payload, d.attempts
         )
         SELECT c.id, c.msg_id, c.org_id, c.subscription_id, c.event_type, c.payload, c.attempts,
                s.url, s.url_host, s.secret,
                CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END
                  AS previous_secret,
                o.webhook_allowed_hosts AS allowed_hosts,
                s.status = 'active' AS subscription_active
           FROM claimed c
           JOIN webhook_subscriptions s ON s.id = c.subscription_id
           JOIN organizations o ON o.id = c.org_id",
    )
    .bind(limit)
    .bind(f64::from(u32::try_from(lease_secs).unwrap_or(60)))
    .fetch_all(tx.conn())
    .await?)
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome<'a> {
    /// Delivery.
    pub delivery: Uuid,
    /// Organization.
    pub org: OrgId,
    /// Subscription.
    pub subscription: Uuid,
    /// Attempt number.
    pub attempt: i32,
    /// This replica.
    pub replica: Uuid,
    /// Start.
    pub started_at: OffsetDateTime,
    /// Duration.
    pub duration_ms: i32,
    /// Status code of the answer, if one came.
    pub status_code: Option<i32>,
    /// Stable error code (`None` = delivered).
    pub error: Option<&'a str>,
    /// At most 1 KiB of the answer's body.
    pub response_excerpt: Option<&'a str>,
    /// When to try again (`None` = delivered, or no attempt left: failed).
    pub retry_at: Option<OffsetDateTime>,
}

/// What recording a failed attempt did to the subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCount {
    /// Failed attempts since the last success, this one included (0 after a success).
    pub consecutive: i32,
    /// This failure disabled the subscription (the caller audits `webhook.disabled`).
    pub disabled_now: bool,
}

/// Records an attempt: the log row, the delivery's new state, the subscription's failure
/// counter (reset on success; at `disable_after` consecutive failures the subscription is
/// disabled, and `disabled_now` is true for exactly that attempt).
///
/// # Errors
/// [`StoreError`].
pub async fn finish_attempt(
    tx: &mut ScopedTx,
    o: &AttemptOutcome<'_>,
    disable_after: i32,
) -> StoreResult<FailureCount> {
    sqlx::query(
        "INSERT INTO webhook_delivery_attempts
           (delivery_id, org_id, attempt, replica, started_at, duration_ms, status_code, error, response_excerpt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(o.delivery)
    .bind(o.org)
    .bind(o.attempt)
    .bind(o.replica)
    .bind(o.started_at)
    .bind(o.duration_ms)
    .bind(o.status_code)
    .bind(o.error)
    .bind(o.response_excerpt)
    .execute(tx.conn())
    .await?;
    let status = match (o.error, o.retry_at) {
        (None, _) => "delivered",
        (Some(_), Some(_)) => "pending",
        (Some(_), None) => "failed",
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, locked_until = NULL,
                next_attempt_at = COALESCE($3, next_attempt_at),
                last_status_code = $4, last_error = $5,
                delivered_at = CASE WHEN $2 = 'delivered' THEN now() END
          WHERE id = $1",
    )
    .bind(o.delivery)
    .bind(status)
    .bind(o.retry_at)
    .bind(o.status_code)
    .bind(o.error)
    .execute(tx.conn())
    .await?;
    if o.error.is_none() {
        sqlx::query(
            "UPDATE webhook_subscriptions SET consecutive_failures = 0
              WHERE id = $1 AND consecutive_failures <> 0",
        )
        .bind(o.subscription)
        .execute(tx.conn())
        .await?;
        return Ok(FailureCount::default());
    }
    let row: Option<(i32, bool)> = sqlx::query_as(
        "UPDATE webhook_subscriptions
            SET consecutive_failures = consecutive_failures + 1,
                status = CASE WHEN consecutive_failures + 1 >= $2 THEN 'disabled' ELSE status END,
                disabled_reason = CASE WHEN consecutive_failures + 1 >= $2 AND status = 'active'
                                       THEN 'consecutive_failures' ELSE disabled_reason END
          WHERE id = $1
          RETURNING consecutive_failures,
                    (status = 'disabled' AND disabled_reason = 'consecutive_failures'
                     AND consecutive_failures = $2)",
    )
    .bind(o.subscription)
    .bind(disable_after)
    .fetch_optional(tx.conn())
    .await?;
    Ok(
        row.map_or_else(FailureCount::default, |(consecutive, disabled_now)| {
            FailureCount {
                consecutive,
                disabled_now,
            }
        }),
    )
}

/// Fails a claimed delivery without sending it (its subscription is no longer active).
///
/// # Errors
/// [`StoreError`].
pub async fn fail_unsent(tx: &mut ScopedTx, delivery: Uuid, error: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', locked_until = NULL, last_error = $2
          WHERE id = $1",
    )
    .bind(delivery)
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes delivered and failed deliveries created before `before` (their attempts go with
/// them), at most `limit` at once.
///
/// # Errors
/// [`StoreError`].
pub async fn prune(tx: &mut ScopedTx, before: OffsetDateTime, limit: i64) -> StoreResult<u64> {
    Ok(sqlx::query(
        "DELETE FROM webhook_deliveries WHERE id IN (
           SELECT id FROM webhook_deliveries
            WHERE status <> 'pending' AND created_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

// ---------------------------------------------------------------------------------------
// Per-organization settings
// ---------------------------------------------------------------------------------------

/// The organization's host allow-list (`None` = any public host).
///
/// # Errors
/// [`StoreError::NotFound`] when the context does not see the organization.
pub async fn allowed_hosts(tx: &mut ScopedTx, org: OrgId) -> StoreResult<Option<Vec<String>>> {
    let row: Option<(Option<Vec<String>>,)> =
        sqlx::query_as("SELECT webhook_allowed_hosts FROM organizations WHERE id = $1")
            .bind(org)
            .fetch_optional(tx.conn())
            .await?;
    row.map(|(hosts,)| hosts).ok_or(StoreError::NotFound)
}

/// Replaces the organization's host allow-list.
///
/// # Errors
/// [`StoreError::NotFound`] when the context does not see the organization.
pub async fn set_allowed_hosts(
    tx: &mut ScopedTx,
    org: OrgId,
    hosts: Option<&[String]>,
) -> StoreResult<()> {
    let done = sqlx::query("UPDATE organizations SET webhook_allowed_hosts = $2 WHERE id = $1")
        .bind(org)
        .bind(hosts)
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
