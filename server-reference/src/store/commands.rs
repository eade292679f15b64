//! Device commands (SPEC 8.5): queueing, atomic claiming, results.
//!
//! Payloads are stored as envelopes (the caller encrypts and decrypts); this module never
//! sees plaintext payloads. Claiming uses `FOR UPDATE SKIP LOCKED` so concurrent claimers
//! (heartbeat and WebSocket, several replicas) never hand one command out twice.

use breeze_core::tenancy::{CommandId, DeviceId, OrgId, SiteId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ScopedTx, StoreResult};

/// Largest number of commands handed out at once.
pub const MAX_CLAIM: i64 = 10;

/// A new command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommand {
    /// Id.
    pub id: CommandId,
    /// Organization.
    pub org_id: OrgId,
    /// Site of the device.
    pub site_id: SiteId,
    /// Device.
    pub device_id: DeviceId,
    /// Command type (`run_script`).
    pub command_type: String,
    /// Envelope of the payload JSON.
    pub payload_envelope: String,
    /// Who queued it.
    pub created_by: Option<UserId>,
}

/// Queues a command (the insert trigger notifies `breeze_commands` at commit).
///
/// # Errors
/// [`super::StoreError`] on database failure or refusal.
pub async fn insert(tx: &mut ScopedTx, c: &NewCommand) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO device_commands (id, org_id, site_id, device_id, type, payload, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.id.as_uuid())
    .bind(c.org_id.as_uuid())
    .bind(c.site_id.as_uuid())
    .bind(c.device_id.as_uuid())
    .bind(&c.command_type)
    .bind(&c.payload_envelope)
    .bind(c.created_by.map(|u| *u.as_uuid()))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Commands of one batch: the same type and payload envelope for many devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBatch<'a> {
    /// Batch id (named by the batch's audit entries).
    pub batch_id: Uuid,
    /// `(command id, device)` pairs; every device must be one of `targets`.
    pub commands: &'a [(CommandId, DeviceTarget)],
    /// Command type.
    pub command_type: &'a str,
    /// Envelope of the payload JSON (one encryption shared by the batch).
    pub payload_envelope: &'a str,
    /// Who queued it.
    pub created_by: Option<UserId>,
}

/// Queues a batch in one statement (the insert trigger notifies each command at commit).
///
/// # Errors
/// [`super::StoreError`] on database failure or refusal (row-level security refuses the
/// whole statement when one row is outside the context).
pub async fn insert_batch(tx: &mut ScopedTx, b: &NewBatch<'_>) -> StoreResult<u64> {
    let mut ids = Vec::with_capacity(b.commands.len());
    let mut orgs = Vec::with_capacity(b.commands.len());
    let mut sites = Vec::with_capacity(b.commands.len());
    let mut devices = Vec::with_capacity(b.commands.len());
    for (id, t) in b.commands {
        ids.push(*id.as_uuid());
        orgs.push(*t.org_id.as_uuid());
        sites.push(*t.site_id.as_uuid());
        devices.push(*t.id.as_uuid());
    }
    let done = sqlx::query(
        "INSERT INTO device_commands
           (id, org_id, site_id, device_id, type, payload, created_by, batch_id)
         SELECT t.id, t.org, t.site, t.dev, $5, $6, $7, $8
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[]) AS t(id, org, site, dev)",
    )
    .bind(&ids)
    .bind(&orgs)
    .bind(&sites)
    .bind(&devices)
    .bind(b.command_type)
    .bind(b.payload_envelope)
    .bind(b.created_by.map(|u| *u.as_uuid()))
    .bind(b.batch_id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// A claimed command (payload still an envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedCommand {
    /// Id.
    pub id: CommandId,
    /// Type.
    pub command_type: String,
    /// Envelope.
    pub payload_envelope: String,
}

/// Claims up to `limit` (at most [`MAX_CLAIM`]) pending commands of `device`, oldest first:
/// pending -> sent.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn claim_pending(
    tx: &mut ScopedTx,
    device: DeviceId,
    limit: i64,
) -> StoreResult<Vec<ClaimedCommand>> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "WITH picked AS (
           SELECT id FROM device_commands
            WHERE device_id = $1 AND status = 'pending'
            ORDER BY created_at, id LIMIT $2
            FOR UPDATE SKIP LOCKED)
         UPDATE device_commands c SET status = 'sent', sent_at = now()
           FROM picked WHERE c.id = picked.id
         RETURNING c.id, c.type, c.payload",
    )
    .bind(device.as_uuid())
    .bind(limit.clamp(1, MAX_CLAIM))
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, command_type, payload_envelope)| ClaimedCommand {
            id: CommandId::from_uuid(id),
            command_type,
            payload_envelope,
        })
        .collect())
}

/// Puts claimed commands back to `pending` (their heartbeat's caller left before it could
/// be answered), unless something else has moved them on. Returns how many went back.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn unclaim(tx: &mut ScopedTx, ids: &[CommandId]) -> StoreResult<u64> {
    let ids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
    let done = sqlx::query(
        "UPDATE device_commands SET status = 'pending', sent_at = NULL
          WHERE id = ANY($1) AND status = 'sent'",
    )
    .bind(&ids)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// A result to record (already capped and redacted by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    /// `completed`, `failed` or `timeout`.
    pub status: &'static str,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Standard output.
    pub stdout: Option<String>,
    /// Standard error.
    pub stderr: Option<String>,
    /// Duration.
    pub duration_ms: Option<i64>,
    /// Error text.
    pub error: Option<String>,
    /// Structured result (JSON text).
    pub result: Option<String>,
    /// Envelope of a file operation's outcome (kept for file commands only).
    pub file_outcome: Option<String>,
}

/// What recording a result found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stored.
    Recorded,
    /// The command is this device's but already has a result.
    AlreadyRecorded,
    /// No such command for this device.
    NotFound,
}

/// Records the result of `command`, only when it belongs to `device` and has none yet.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn record_result(
    tx: &mut ScopedTx,
    device: DeviceId,
    command: CommandId,
    r: &StoredResult,
) -> StoreResult<(RecordOutcome, Option<String>)> {
    let updated: Option<String> = sqlx::query_scalar(
        "UPDATE device_commands SET status = $3, exit_code = $4, stdout = $5, stderr = $6,
                duration_ms = $7, error = $8, result = $9, completed_at = now(),
                file_outcome = CASE WHEN type IN ('file_read', 'file_list', 'file_write')
                                    THEN $10 END,
                sent_at = coalesce(sent_at, now())
          WHERE id = $1 AND device_id = $2 AND status IN ('pending', 'sent')
         RETURNING type",
    )
    .bind(command.as_uuid())
    .bind(device.as_uuid())
    .bind(r.status)
    .bind(r.exit_code)
    .bind(&r.stdout)
    .bind(&r.stderr)
    .bind(r.duration_ms)
    .bind(&r.error)
    .bind(&r.result)
    .bind(&r.file_outcome)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(t) = updated {
        return Ok((RecordOutcome::Recorded, Some(t)));
    }
    let exists: Option<String> =
        sqlx::query_scalar("SELECT type FROM device_commands WHERE id = $1 AND device_id = $2")
            .bind(command.as_uuid())
            .bind(device.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    Ok(match exists {
        Some(t) => (RecordOutcome::AlreadyRecorded, Some(t)),
        None => (RecordOutcome::NotFound, None),
    })
}

/// Whether `command` exists and belongs to `device`.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn belongs_to(
    tx: &mut ScopedTx,
    device: DeviceId,
    command: CommandId,
) -> StoreResult<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM device_commands WHERE id = $1 AND device_id = $2")
            .bind(command.as_uuid())
            .bind(device.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    Ok(found.is_some())
}

/// A command as a user reads it (payload omitted: it may hold secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandView {
    /// Id.
    pub id: CommandId,
    /// Device.
    pub device_id: DeviceId,
    /// Type.
    pub command_type: String,
    /// Status.
    pub status: String,
    /// Who queued it.
    pub created_by: Option<Uuid>,
    /// Queued at.
    pub created_at: OffsetDateTime,
    /// Handed to the agent at.
    pub sent_at: Option<OffsetDateTime>,
    /// Finished at.
    pub completed_at: Option<OffsetDateTime>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Standard output (redacted).
    pub stdout: Option<String>,
    /// Standard error (redacted).
    pub stderr: Option<String>,
    /// Duration.
    pub duration_ms: Option<i64>,
    /// Error.
    pub error: Option<String>,
    /// Structured result JSON text.
    pub result: Option<String>,
}

const VIEW_COLUMNS: &str = "id, device_id, type, status, created_by, created_at, sent_at, \
     completed_at, exit_code, stdout, stderr, duration_ms, error, result";

fn view(r: &sqlx::postgres::PgRow) -> StoreResult<CommandView> {
    use sqlx::Row as _;
    Ok(CommandView {
        id: CommandId::from_uuid(r.try_get(0)?),
        device_id: DeviceId::from_uuid(r.try_get(1)?),
        command_type: r.try_get(2)?,
        status: r.try_get(3)?,
        created_by: r.try_get(4)?,
        created_at: r.try_get(5)?,
        sent_at: r.try_get(6)?,
        completed_at: r.try_get(7)?,
        exit_code: r.try_get(8)?,
        stdout: r.try_get(9)?,
        stderr: r.try_get(10)?,
        duration_ms: r.try_get(11)?,
        error: r.try_get(12)?,
        result: r.try_get(13)?,
    })
}

/// One command of `device` (visible to the context).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn get(
    tx: &mut ScopedTx,
    device: DeviceId,
    command: CommandId,
) -> StoreResult<Option<CommandView>> {
    let sql =
        format!("SELECT {VIEW_COLUMNS} FROM device_commands WHERE id = $1 AND device_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(command.as_uuid())
        .bind(device.as_uuid())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(view).transpose()
}

/// Commands of `device` after `cursor` (by id), at most `limit + 1` (pagination).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn list(
    tx: &mut ScopedTx,
    device: DeviceId,
    cursor: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<CommandView>> {
    let sql = format!(
        "SELECT {VIEW_COLUMNS} FROM device_commands
          WHERE device_id = $1 AND ($2::uuid IS NULL OR id > $2)
          ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(device.as_uuid())
        .bind(cursor)
        .bind(limit.saturating_add(1))
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(view).collect()
}

/// A device as the command route needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTarget {
    /// Id.
    pub id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Status.
    pub status: String,
}

/// The device `id` as visible to the context.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn device_target(tx: &mut ScopedTx, id: DeviceId) -> StoreResult<Option<DeviceTarget>> {
    let row: Option<(Uuid, Uuid, Uuid, String)> =
        sqlx::query_as("SELECT id, org_id, site_id, status FROM devices WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.map(|(id, org, site, status)| DeviceTarget {
        id: DeviceId::from_uuid(id),
        org_id: OrgId::from_uuid(org),
        site_id: SiteId::from_uuid(site),
        status,
    }))
}

/// The device `id` when the transaction's context reaches its site: row-level security and
/// the same check in Rust (SPEC 1.3, two independent layers). `None` outside the reach.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn device_in_reach(tx: &mut ScopedTx, id: DeviceId) -> StoreResult<Option<DeviceTarget>> {
    let target = device_target(tx, id).await?;
    Ok(target.filter(|t| tx.context().can_access_site(t.org_id, t.site_id)))
}

/// The devices of `ids` visible in the context (missing ones are simply absent).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn device_targets(tx: &mut ScopedTx, ids: &[DeviceId]) -> StoreResult<Vec<DeviceTarget>> {
    let ids: Vec<Uuid> = ids.iter().map(|d| *d.as_uuid()).collect();
    let rows: Vec<(Uuid, Uuid, Uuid, String)> =
        sqlx::query_as("SELECT id, org_id, site_id, status FROM devices WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(tx.conn())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, org, site, status)| DeviceTarget {
            id: DeviceId::from_uuid(id),
            org_id: OrgId::from_uuid(org),
            site_id: SiteId::from_uuid(site),
            status,
        })
        .collect())
}

/// What a waiting file operation finds of its command.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FileProgress {
    /// Status.
    pub status: String,
    /// Envelope of the outcome.
    pub file_outcome: Option<String>,
    /// Error text.
    pub error: Option<String>,
}

/// The status and outcome of file command `id`.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn file_progress(tx: &mut ScopedTx, id: CommandId) -> StoreResult<Option<FileProgress>> {
    Ok(
        sqlx::query_as("SELECT status, file_outcome, error FROM device_commands WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Forgets a file command's content: the outcome is wiped and the payload replaced by
/// `summary` (an envelope without content), so nothing of the file outlives the request.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn wipe_file_content(tx: &mut ScopedTx, id: CommandId, summary: &str) -> StoreResult<()> {
    sqlx::query("UPDATE device_commands SET file_outcome = NULL, payload = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(summary)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Gives up on a file command the agent has not answered (`timeout`): a pending one is never
/// delivered, and a late answer to a delivered one is not stored (a result is recorded only
/// for a pending or sent command).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn abandon_file_command(tx: &mut ScopedTx, id: CommandId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE device_commands SET status = 'timeout', completed_at = now()
          WHERE id = $1 AND status IN ('pending', 'sent')",
    )
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Wipes the organization's file outcomes nobody is waiting for any more (older than
/// `secs`).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn wipe_stale_file_outcomes(
    tx: &mut ScopedTx,
    org: OrgId,
    secs: i64,
) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE device_commands SET file_outcome = NULL
          WHERE org_id = $2 AND file_outcome IS NOT NULL
            AND completed_at < now() - make_interval(secs => $1)",
    )
    .bind(secs as f64)
    .bind(org.as_uuid())
    .execute(tx.conn())
    .await?
    .rows_affected())
}
