//! Remote sessions (SPEC 12): the session rows, their one-time tickets, the encrypted
//! recording chunks. Envelopes are sealed and opened by the caller; this module never sees a
//! ticket (only its SHA-256) nor a transcript's plaintext.

use std::net::IpAddr;

use breeze_core::tenancy::{DeviceId, OrgId, SiteId, UserId};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ScopedTx, StoreResult};

/// A remote session as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Site of the device.
    pub site_id: SiteId,
    /// Device.
    pub device_id: DeviceId,
    /// Creator and owner.
    pub user_id: UserId,
    /// `pending`, `connected` or `ended`.
    pub status: String,
    /// Terminal columns.
    pub cols: i32,
    /// Terminal rows.
    pub rows: i32,
    /// Created.
    pub created_at: OffsetDateTime,
    /// A pending session is dead after this.
    pub connect_by: OffsetDateTime,
    /// Connected.
    pub connected_at: Option<OffsetDateTime>,
    /// Ended.
    pub ended_at: Option<OffsetDateTime>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// Asked to end while connected.
    pub revoked: bool,
    /// Replica holding the lease.
    pub lease_owner: Option<Uuid>,
    /// Input bytes.
    pub bytes_in: i64,
    /// Output bytes.
    pub bytes_out: i64,
    /// Recording size.
    pub transcript_bytes: Option<i64>,
    /// Recording digest.
    pub transcript_sha256: Option<String>,
    /// Recording stopped at its cap.
    pub truncated: bool,
}

const SESSION_COLUMNS: &str = "id, org_id, site_id, device_id, user_id, status, cols, rows,
    created_at, connect_by, connected_at, ended_at, end_reason, revoked, lease_owner,
    bytes_in, bytes_out, transcript_bytes, transcript_sha256, truncated";

/// A new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Device.
    pub device_id: DeviceId,
    /// Owner.
    pub user_id: UserId,
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
    /// Seconds it may stay unconnected.
    pub connect_within_secs: i64,
}

/// A session the sweep ended.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Swept {
    /// Id.
    pub id: Uuid,
    /// Device.
    pub device_id: DeviceId,
    /// Owner.
    pub user_id: UserId,
    /// `expired` or `lease_lost`.
    pub end_reason: Option<String>,
}

/// Serializes session creation in `org` (caps across replicas): a transaction-scoped
/// advisory lock held until commit.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn lock_org(tx: &mut ScopedTx, org: OrgId) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('breeze.remote:' || $1::text, 0))")
        .bind(org.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Ends the organization's dead sessions: pending past their connect deadline (`expired`),
/// connected with a lapsed lease (`lease_lost`: the replica holding it is gone).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn sweep(tx: &mut ScopedTx, org: OrgId) -> StoreResult<Vec<Swept>> {
    Ok(sqlx::query_as(
        "UPDATE remote_sessions
            SET status = 'ended', ended_at = now(),
                end_reason = CASE WHEN status = 'pending' THEN 'expired' ELSE 'lease_lost' END
          WHERE org_id = $1 AND status <> 'ended'
            AND ((status = 'pending' AND connect_by <= now())
              OR (status = 'connected' AND lease_until <= now()))
         RETURNING id, device_id, user_id, end_reason",
    )
    .bind(org.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// Live (not ended) sessions of the organization and of the user.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn live_counts(tx: &mut ScopedTx, org: OrgId, user: UserId) -> StoreResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE org_id = $1), count(*) FILTER (WHERE user_id = $2)
           FROM remote_sessions WHERE status <> 'ended' AND (org_id = $1 OR user_id = $2)",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// Inserts a pending session.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn insert(tx: &mut ScopedTx, s: &NewSession) -> StoreResult<SessionRow> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO remote_sessions (id, org_id, site_id, device_id, user_id, type, cols, rows,
                                      connect_by)
         VALUES ($1, $2, $3, $4, $5, 'terminal', $6, $7, now() + make_interval(secs => $8))
         RETURNING {SESSION_COLUMNS}"
    )))
    .bind(s.id)
    .bind(s.org_id.as_uuid())
    .bind(s.site_id.as_uuid())
    .bind(s.device_id.as_uuid())
    .bind(s.user_id.as_uuid())
    .bind(i32::from(s.cols))
    .bind(i32::from(s.rows))
    .bind(s.connect_within_secs as f64)
    .fetch_one(tx.conn())
    .await?)
}

/// One session.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn get(tx: &mut ScopedTx, id: Uuid) -> StoreResult<Option<SessionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLUMNS} FROM remote_sessions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// A new ticket (its hash only).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    /// SHA-256 of the ticket.
    pub hash: [u8; 32],
    /// Session.
    pub session_id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// User.
    pub user_id: UserId,
    /// The user's login session (refresh family).
    pub family_id: Uuid,
    /// Client address.
    pub client_ip: IpAddr,
    /// SHA-256 of the User-Agent.
    pub ua_hash: [u8; 32],
    /// The access-token claims of the request that asked for it.
    pub claims: Value,
    /// Seconds it stays valid.
    pub ttl_secs: i64,
}

/// Stores a ticket; returns its expiry.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn insert_ticket(tx: &mut ScopedTx, t: &NewTicket) -> StoreResult<OffsetDateTime> {
    Ok(sqlx::query_scalar(
        "INSERT INTO remote_session_tickets (ticket_hash, session_id, org_id, site_id, user_id,
                    family_id, client_ip, ua_hash, claims, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10))
         RETURNING expires_at",
    )
    .bind(t.hash.as_slice())
    .bind(t.session_id)
    .bind(t.org_id.as_uuid())
    .bind(t.site_id.as_uuid())
    .bind(t.user_id.as_uuid())
    .bind(t.family_id)
    .bind(t.client_ip.to_string())
    .bind(t.ua_hash.as_slice())
    .bind(&t.claims)
    .bind(t.ttl_secs as f64)
    .fetch_one(tx.conn())
    .await?)
}

/// A ticket as consumed.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TicketRow {
    /// Session.
    pub session_id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// User.
    pub user_id: UserId,
    /// Login session.
    pub family_id: Uuid,
    /// Client address it is bound to (canonical text).
    pub client_ip: String,
    /// SHA-256 of the User-Agent it is bound to.
    pub ua_hash: Vec<u8>,
    /// Access-token claims.
    pub claims: Value,
    /// Expired at the moment of consumption.
    pub expired: bool,
}

/// What consuming a ticket found.
#[derive(Debug, Clone, PartialEq)]
pub enum Consumed {
    /// This call consumed it (checks of expiry and binding are the caller's).
    Fresh(TicketRow),
    /// It was consumed before (a replay).
    Replayed(TicketRow),
    /// No such ticket.
    Unknown,
}

/// Consumes the ticket with this hash, atomically: exactly one caller ever gets
/// [`Consumed::Fresh`].
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn consume_ticket(tx: &mut ScopedTx, hash: &[u8; 32]) -> StoreResult<Consumed> {
    let fresh: Option<TicketRow> = sqlx::query_as(
        "UPDATE remote_session_tickets SET consumed_at = now()
          WHERE ticket_hash = $1 AND consumed_at IS NULL
         RETURNING session_id, org_id, user_id, family_id, client_ip, ua_hash, claims,
                   expires_at <= now() AS expired",
    )
    .bind(hash.as_slice())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(row) = fresh {
        return Ok(Consumed::Fresh(row));
    }
    let before: Option<TicketRow> = sqlx::query_as(
        "SELECT session_id, org_id, user_id, family_id, client_ip, ua_hash, claims,
                expires_at <= now() AS expired
           FROM remote_session_tickets WHERE ticket_hash = $1",
    )
    .bind(hash.as_slice())
    .fetch_optional(tx.conn())
    .await?;
    Ok(before.map_or(Consumed::Unknown, Consumed::Replayed))
}

/// Deletes tickets expired for more than an hour (they prove nothing any more).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn purge_tickets(tx: &mut ScopedTx, org: OrgId) -> StoreResult<u64> {
    Ok(sqlx::query(
        "DELETE FROM remote_session_tickets
          WHERE org_id = $1 AND expires_at < now() - interval '1 hour'",
    )
    .bind(org.as_uuid())
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Connects a pending session: this replica takes the lease. `false` when the session is
/// not pending, past its deadline, or revoked.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn connect(
    tx: &mut ScopedTx,
    id: Uuid,
    owner: Uuid,
    lease_secs: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE remote_sessions
            SET status = 'connected', connected_at = now(), lease_owner = $2,
                lease_until = now() + make_interval(secs => $3)
          WHERE id = $1 AND status = 'pending' AND connect_by > now() AND NOT revoked",
    )
    .bind(id)
    .bind(owner)
    .bind(lease_secs as f64)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renews this replica's lease. `None` when the lease is no longer this replica's or the
/// session ended; otherwise whether the session was revoked.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn renew(
    tx: &mut ScopedTx,
    id: Uuid,
    owner: Uuid,
    lease_secs: i64,
) -> StoreResult<Option<bool>> {
    Ok(sqlx::query_scalar(
        "UPDATE remote_sessions SET lease_until = now() + make_interval(secs => $3)
          WHERE id = $1 AND lease_owner = $2 AND status = 'connected'
         RETURNING revoked",
    )
    .bind(id)
    .bind(owner)
    .bind(lease_secs as f64)
    .fetch_optional(tx.conn())
    .await?)
}

/// Facts of a session's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndFacts {
    /// Why.
    pub reason: &'static str,
    /// Input bytes.
    pub bytes_in: i64,
    /// Output bytes.
    pub bytes_out: i64,
    /// Recording size.
    pub transcript_bytes: i64,
    /// Recording digest.
    pub transcript_sha256: String,
    /// Recording stopped at its cap.
    pub truncated: bool,
}

/// Ends a session (called by the replica holding its lease). `false` when it had already
/// ended.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn end(tx: &mut ScopedTx, id: Uuid, f: &EndFacts) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE remote_sessions
            SET status = 'ended', ended_at = now(), end_reason = $2, bytes_in = $3,
                bytes_out = $4, transcript_bytes = $5, transcript_sha256 = $6, truncated = $7,
                lease_until = NULL, lease_owner = NULL
          WHERE id = $1 AND status <> 'ended'",
    )
    .bind(id)
    .bind(f.reason)
    .bind(f.bytes_in)
    .bind(f.bytes_out)
    .bind(f.transcript_bytes)
    .bind(&f.transcript_sha256)
    .bind(f.truncated)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What asking a session to end did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// It was pending: ended here.
    Ended,
    /// It is connected: flagged; the replica holding it closes both ends.
    Flagged,
    /// It had already ended (or does not exist).
    Nothing,
}

/// Asks a session to end (`DELETE`).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn revoke(tx: &mut ScopedTx, id: Uuid) -> StoreResult<Revoked> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE remote_sessions
            SET revoked = true,
                status = CASE WHEN status = 'pending' THEN 'ended' ELSE status END,
                ended_at = CASE WHEN status = 'pending' THEN now() ELSE ended_at END,
                end_reason = CASE WHEN status = 'pending' THEN 'ended_by_user' ELSE end_reason END
          WHERE id = $1 AND status <> 'ended'
         RETURNING CASE WHEN status = 'ended' THEN 'ended' ELSE 'flagged' END",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(match status.as_deref() {
        Some("ended") => Revoked::Ended,
        Some(_) => Revoked::Flagged,
        None => Revoked::Nothing,
    })
}

/// Appends one encrypted recording chunk.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn append_chunk(
    tx: &mut ScopedTx,
    session: &SessionRow,
    seq: i32,
    envelope: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO remote_session_transcripts (session_id, seq, org_id, site_id, chunk)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session.id)
    .bind(seq)
    .bind(session.org_id.as_uuid())
    .bind(session.site_id.as_uuid())
    .bind(envelope)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The recording's chunks, in order.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn chunks(tx: &mut ScopedTx, session: Uuid) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT chunk FROM remote_session_transcripts WHERE session_id = $1 ORDER BY seq",
    )
    .bind(session)
    .fetch_all(tx.conn())
    .await?)
}

/// Whether `session` is a session of `device`, in any state: what its agent may name (late
/// output of a session that just ended is the agent's own, never a probe).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn is_of_device(tx: &mut ScopedTx, device: DeviceId, session: Uuid) -> StoreResult<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM remote_sessions WHERE id = $1 AND device_id = $2")
            .bind(session)
            .bind(device.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    Ok(found.is_some())
}

/// Which of `sessions` are live on `device` with a lease that has not lapsed (what an agent
/// socket keeps running).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn leased_on(
    tx: &mut ScopedTx,
    device: DeviceId,
    sessions: &[Uuid],
) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM remote_sessions
          WHERE device_id = $1 AND id = ANY($2) AND status = 'connected' AND lease_until > now()",
    )
    .bind(device.as_uuid())
    .bind(sessions)
    .fetch_all(tx.conn())
    .await?)
}

/// An organization's own remote session limits (`None`: the server's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct OrgLimits {
    /// Idle timeout, seconds.
    pub remote_idle_secs: Option<i32>,
    /// Maximum duration, seconds.
    pub remote_max_secs: Option<i32>,
}

/// The organization's remote session limits (`None` when it is out of reach).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn org_limits(tx: &mut ScopedTx, org: OrgId) -> StoreResult<Option<OrgLimits>> {
    Ok(sqlx::query_as(
        "SELECT remote_idle_secs, remote_max_secs FROM organizations
          WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(org.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Sets the organization's remote session limits; returns them (`None` out of reach).
///
/// # Errors
/// [`super::StoreError`] on database failure or refusal.
pub async fn set_org_limits(
    tx: &mut ScopedTx,
    org: OrgId,
    limits: OrgLimits,
) -> StoreResult<Option<OrgLimits>> {
    Ok(sqlx::query_as(
        "UPDATE organizations SET remote_idle_secs = $2, remote_max_secs = $3, updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL
         RETURNING remote_idle_secs, remote_max_secs",
    )
    .bind(org.as_uuid())
    .bind(limits.remote_idle_secs)
    .bind(limits.remote_max_secs)
    .fetch_optional(tx.conn())
    .await?)
}
