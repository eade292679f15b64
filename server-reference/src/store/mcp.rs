//! MCP sessions, approval requests and AI tool policy overrides (SPEC 14).
//!
//! Sessions are rows with an expiry, shared by every replica; the per-key cap is enforced
//! under a transaction-scoped advisory lock on the key, so two replicas opening sessions at
//! once cannot both take the fifth place. Approval state changes are compare-and-set on the
//! old status, so an approval is decided once and executed once whatever the replica.

use breeze_core::tenancy::{ApiKeyId, DeviceGroupId, DeviceId, OrgId, PartnerId, SiteId, UserId};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ScopedTx, StoreError, StoreResult};

// ---------------------------------------------------------------------------------------
// Sessions

/// Opens a session for `key` unless it already has `cap` live ones. Returns `false` at the
/// cap (nothing written).
///
/// # Errors
/// [`StoreError`].
#[allow(clippy::too_many_arguments, reason = "one row's columns")]
pub async fn open_session(
    tx: &mut ScopedTx,
    id_hash: &str,
    org: OrgId,
    key: ApiKeyId,
    protocol_version: &str,
    client_name: Option<&str>,
    ttl_secs: u32,
    cap: i64,
) -> StoreResult<bool> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('mcp-key:' || $1::text, 0))")
        .bind(key.as_uuid())
        .execute(tx.conn())
        .await?;
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mcp_sessions WHERE api_key_id = $1 AND expires_at > now()",
    )
    .bind(key.as_uuid())
    .fetch_one(tx.conn())
    .await?;
    if live >= cap {
        return Ok(false);
    }
    sqlx::query("DELETE FROM mcp_sessions WHERE api_key_id = $1 AND expires_at <= now()")
        .bind(key.as_uuid())
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO mcp_sessions (id_hash, org_id, api_key_id, protocol_version, client_name, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(id_hash)
    .bind(org.as_uuid())
    .bind(key.as_uuid())
    .bind(protocol_version)
    .bind(client_name)
    .bind(f64::from(ttl_secs))
    .execute(tx.conn())
    .await?;
    Ok(true)
}

/// The key of the live session `id_hash` (visible to the context), its expiry extended by
/// `ttl_secs`.
///
/// # Errors
/// [`StoreError`].
pub async fn touch_session(
    tx: &mut ScopedTx,
    id_hash: &str,
    ttl_secs: u32,
) -> StoreResult<Option<ApiKeyId>> {
    let key: Option<Uuid> = sqlx::query_scalar(
        "UPDATE mcp_sessions
            SET last_used_at = now(), expires_at = now() + make_interval(secs => $2)
          WHERE id_hash = $1 AND expires_at > now()
      RETURNING api_key_id",
    )
    .bind(id_hash)
    .bind(f64::from(ttl_secs))
    .fetch_optional(tx.conn())
    .await?;
    Ok(key.map(ApiKeyId::from_uuid))
}

/// The key that owns the live session `id_hash`, whatever the context (to refuse and audit
/// a session presented by another key). Run in a system-scope transaction.
///
/// # Errors
/// [`StoreError`].
pub async fn session_owner(tx: &mut ScopedTx, id_hash: &str) -> StoreResult<Option<ApiKeyId>> {
    let key: Option<Uuid> = sqlx::query_scalar(
        "SELECT api_key_id FROM mcp_sessions WHERE id_hash = $1 AND expires_at > now()",
    )
    .bind(id_hash)
    .fetch_optional(tx.conn())
    .await?;
    Ok(key.map(ApiKeyId::from_uuid))
}

/// Ends the session `id_hash` of `key`; `false` when there was none.
///
/// # Errors
/// [`StoreError`].
pub async fn end_session(tx: &mut ScopedTx, id_hash: &str, key: ApiKeyId) -> StoreResult<bool> {
    let n = sqlx::query("DELETE FROM mcp_sessions WHERE id_hash = $1 AND api_key_id = $2")
        .bind(id_hash)
        .bind(key.as_uuid())
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(n > 0)
}

// ---------------------------------------------------------------------------------------
// Approvals

/// An approval request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRow {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Partner.
    pub partner_id: PartnerId,
    /// Site of the target device.
    pub site_id: Option<SiteId>,
    /// Group of the target device.
    pub device_group_id: Option<DeviceGroupId>,
    /// Target device.
    pub device_id: Option<DeviceId>,
    /// Tool.
    pub tool: String,
    /// Level that required approval.
    pub level: String,
    /// The exact arguments.
    pub arguments: Value,
    /// Their digest (hex).
    pub argument_digest: String,
    /// The key that asked.
    pub api_key_id: ApiKeyId,
    /// The key's creator.
    pub requested_by: UserId,
    /// When.
    pub requested_at: OffsetDateTime,
    /// Decision deadline.
    pub expires_at: OffsetDateTime,
    /// Stored status.
    pub status: String,
    /// Approver.
    pub decided_by: Option<UserId>,
    /// When decided.
    pub decided_at: Option<OffsetDateTime>,
    /// Approver's reason.
    pub reason: Option<String>,
    /// When executed.
    pub executed_at: Option<OffsetDateTime>,
    /// What the execution made (a command id).
    pub result_ref: Option<String>,
}

const APPROVAL_COLS: &str = "id, org_id, partner_id, site_id, device_group_id, device_id, tool, \
    level, arguments, argument_digest, api_key_id, requested_by, requested_at, expires_at, \
    status, decided_by, decided_at, reason, executed_at, result_ref";

fn approval_row(r: &sqlx::postgres::PgRow) -> StoreResult<ApprovalRow> {
    use sqlx::Row as _;
    let get = |e: sqlx::Error| StoreError::database(e.to_string());
    Ok(ApprovalRow {
        id: r.try_get("id").map_err(get)?,
        org_id: OrgId::from_uuid(r.try_get("org_id").map_err(get)?),
        partner_id: PartnerId::from_uuid(r.try_get("partner_id").map_err(get)?),
        site_id: r
            .try_get::<Option<Uuid>, _>("site_id")
            .map_err(get)?
            .map(SiteId::from_uuid),
        device_group_id: r
            .try_get::<Option<Uuid>, _>("device_group_id")
            .map_err(get)?
            .map(DeviceGroupId::from_uuid),
        device_id: r
            .try_get::<Option<Uuid>, _>("device_id")
            .map_err(get)?
            .map(DeviceId::from_uuid),
        tool: r.try_get("tool").map_err(get)?,
        level: r.try_get("level").map_err(get)?,
        arguments: r.try_get("arguments").map_err(get)?,
        argument_digest: r.try_get("argument_digest").map_err(get)?,
        api_key_id: ApiKeyId::from_uuid(r.try_get("api_key_id").map_err(get)?),
        requested_by: UserId::from_uuid(r.try_get("requested_by").map_err(get)?),
        requested_at: r.try_get("requested_at").map_err(get)?,
        expires_at: r.try_get("expires_at").map_err(get)?,
        status: r.try_get("status").map_err(get)?,
        decided_by: r
            .try_get::<Option<Uuid>, _>("decided_by")
            .map_err(get)?
            .map(UserId::from_uuid),
        decided_at: r.try_get("decided_at").map_err(get)?,
        reason: r.try_get("reason").map_err(get)?,
        executed_at: r.try_get("executed_at").map_err(get)?,
        result_ref: r.try_get("result_ref").map_err(get)?,
    })
}

/// Writes a new pending approval request.
///
/// # Errors
/// [`StoreError`].
pub async fn insert_approval(tx: &mut ScopedTx, a: &ApprovalRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO approval_requests (id, org_id, partner_id, site_id, device_group_id, device_id,
             tool, level, arguments, argument_digest, api_key_id, requested_by, requested_at,
             expires_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'pending')",
    )
    .bind(a.id)
    .bind(a.org_id.as_uuid())
    .bind(a.partner_id.as_uuid())
    .bind(a.site_id.map(|s| *s.as_uuid()))
    .bind(a.device_group_id.map(|g| *g.as_uuid()))
    .bind(a.device_id.map(|d| *d.as_uuid()))
    .bind(&a.tool)
    .bind(&a.level)
    .bind(&a.arguments)
    .bind(&a.argument_digest)
    .bind(a.api_key_id.as_uuid())
    .bind(a.requested_by.as_uuid())
    .bind(a.requested_at)
    .bind(a.expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The approval `id`, as visible to the context.
///
/// # Errors
/// [`StoreError`].
pub async fn approval(tx: &mut ScopedTx, id: Uuid) -> StoreResult<Option<ApprovalRow>> {
    let sql = format!("SELECT {APPROVAL_COLS} FROM approval_requests WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(approval_row).transpose()
}

/// Approvals visible to the context, newest first, optionally of one status, after the
/// `(requested_at, id)` cursor.
///
/// # Errors
/// [`StoreError`].
pub async fn list_approvals(
    tx: &mut ScopedTx,
    status: Option<&str>,
    after: Option<Uuid>,
    limit: u32,
) -> StoreResult<Vec<ApprovalRow>> {
    let sql = format!(
        "SELECT {APPROVAL_COLS} FROM approval_requests
          WHERE ($1::text IS NULL OR status = $1)
            AND ($2::uuid IS NULL OR (requested_at, id) <
                 (SELECT requested_at, id FROM approval_requests WHERE id = $2))
          ORDER BY requested_at DESC, id DESC
          LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(approval_row).collect()
}

/// Records a decision if the approval is still pending; `false` otherwise (another
/// replica decided first).
///
/// # Errors
/// [`StoreError`].
pub async fn record_decision(
    tx: &mut ScopedTx,
    id: Uuid,
    status: &str,
    decided_by: UserId,
    decided_at: OffsetDateTime,
    reason: Option<&str>,
) -> StoreResult<bool> {
    let n = sqlx::query(
        "UPDATE approval_requests SET status = $2, decided_by = $3, decided_at = $4, reason = $5
          WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(status)
    .bind(decided_by.as_uuid())
    .bind(decided_at)
    .bind(reason)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Marks an approved request executed if it still is approved; `false` otherwise (it ran
/// already, on this replica or another).
///
/// # Errors
/// [`StoreError`].
pub async fn record_execution(
    tx: &mut ScopedTx,
    id: Uuid,
    executed_at: OffsetDateTime,
    result_ref: &str,
) -> StoreResult<bool> {
    let n = sqlx::query(
        "UPDATE approval_requests SET status = 'executed', executed_at = $2, result_ref = $3
          WHERE id = $1 AND status = 'approved'",
    )
    .bind(id)
    .bind(executed_at)
    .bind(result_ref)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

// ---------------------------------------------------------------------------------------
// Policies

/// One override as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyRow {
    /// Id.
    pub id: Uuid,
    /// Partner.
    pub partner_id: Uuid,
    /// Organization (none for a partner-wide row).
    pub org_id: Option<Uuid>,
    /// `partner`, `organization`, `site` or `device_group`.
    pub scope_kind: String,
    /// The partner, organization, site or group id.
    pub scope_id: Uuid,
    /// Tool.
    pub tool: String,
    /// Level.
    pub level: String,
    /// Who set it.
    pub created_by: Option<Uuid>,
    /// When.
    pub created_at: OffsetDateTime,
}

const POLICY_COLS: &str =
    "id, partner_id, org_id, scope_kind, scope_id, tool, level, created_by, created_at";

/// The overrides that can apply to a call in `org` (its own rows and its partner's), for
/// one tool or all.
///
/// # Errors
/// [`StoreError`].
pub async fn policies_for(
    tx: &mut ScopedTx,
    partner: PartnerId,
    org: OrgId,
    tool: Option<&str>,
) -> StoreResult<Vec<PolicyRow>> {
    let sql = format!(
        "SELECT {POLICY_COLS} FROM ai_tool_policies
          WHERE (org_id = $2 OR (org_id IS NULL AND partner_id = $1))
            AND ($3::text IS NULL OR tool = $3)
          ORDER BY scope_kind, tool, id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner.as_uuid())
        .bind(org.as_uuid())
        .bind(tool)
        .fetch_all(tx.conn())
        .await?)
}

/// Sets (inserts or replaces) an override.
///
/// # Errors
/// [`StoreError`].
pub async fn upsert_policy(tx: &mut ScopedTx, p: &PolicyRow) -> StoreResult<PolicyRow> {
    let sql = format!(
        "INSERT INTO ai_tool_policies (id, partner_id, org_id, scope_kind, scope_id, tool, level, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (scope_kind, scope_id, tool)
         DO UPDATE SET level = EXCLUDED.level, created_by = EXCLUDED.created_by, created_at = now()
         RETURNING {POLICY_COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(p.id)
        .bind(p.partner_id)
        .bind(p.org_id)
        .bind(&p.scope_kind)
        .bind(p.scope_id)
        .bind(&p.tool)
        .bind(&p.level)
        .bind(p.created_by)
        .fetch_one(tx.conn())
        .await?)
}

/// Deletes the override `id` if it belongs to `org` or to `org`'s partner; returns it.
///
/// # Errors
/// [`StoreError`].
pub async fn delete_policy(
    tx: &mut ScopedTx,
    partner: PartnerId,
    org: OrgId,
    id: Uuid,
) -> StoreResult<Option<PolicyRow>> {
    let sql = format!(
        "DELETE FROM ai_tool_policies
          WHERE id = $3 AND (org_id = $2 OR (org_id IS NULL AND partner_id = $1))
      RETURNING {POLICY_COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner.as_uuid())
        .bind(org.as_uuid())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}
