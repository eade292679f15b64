//! Partner IP allow-lists (SPEC 16, migration 0793): one row per partner, under the partner
//! axis of row-level security. The list every request is judged by is read with the user's
//! or the API key's row ([`super::principal`]); this module holds the management reads and
//! writes and the one conversion from stored columns to a [`IpAllowList`].

use breeze_core::ipallow::{IpAllowList, IpAllowMode};
use breeze_core::tenancy::{PartnerId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ScopedTx, StoreError, StoreResult};

/// A partner's stored list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowListRow {
    /// The list (mode off without networks when the partner never set one).
    pub list: IpAllowList,
    /// Last change, `None` when never set.
    pub updated_at: Option<OffsetDateTime>,
    /// Who changed it last.
    pub updated_by: Option<UserId>,
}

/// The stored columns (`mode`, `cidrs::text[]`) as a list; `None` without a row. Fails
/// closed: a stored value the library does not accept is a database error, never "off".
///
/// # Errors
/// [`StoreError::Database`] for a malformed stored list.
pub(crate) fn from_columns(
    mode: Option<String>,
    cidrs: Option<Vec<String>>,
) -> StoreResult<Option<IpAllowList>> {
    let Some(mode) = mode else { return Ok(None) };
    let mode: IpAllowMode = mode
        .parse()
        .map_err(|_| StoreError::database("unknown ip allow-list mode"))?;
    IpAllowList::parse(mode, cidrs.unwrap_or_default())
        .map(Some)
        .map_err(|_| StoreError::database("malformed ip allow-list"))
}

/// The list of `partner` as the request's context sees it (row-level security: a context
/// that does not reach the partner reads nothing, which is the same as no list).
///
/// # Errors
/// [`StoreError`] on database failure or a malformed stored list.
pub async fn get(tx: &mut ScopedTx, partner: PartnerId) -> StoreResult<AllowListRow> {
    let row: Option<(String, Vec<String>, OffsetDateTime, Option<Uuid>)> = sqlx::query_as(
        "SELECT mode, cidrs::text[], updated_at, updated_by
           FROM partner_ip_allowlists WHERE partner_id = $1",
    )
    .bind(partner.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        None => AllowListRow {
            list: IpAllowList::off(),
            updated_at: None,
            updated_by: None,
        },
        Some((mode, cidrs, at, by)) => AllowListRow {
            list: from_columns(Some(mode), Some(cidrs))?.unwrap_or_else(IpAllowList::off),
            updated_at: Some(at),
            updated_by: by.map(UserId::from_uuid),
        },
    })
}

/// Replaces the list of `partner` (insert or update), locking the row first so two
/// concurrent changes are serialized and each audits the list it really replaced. Returns
/// the previous list.
///
/// # Errors
/// [`StoreError`] on database failure; row-level security refuses a context without the
/// partner-wide write right on this partner (42501).
pub async fn put(
    tx: &mut ScopedTx,
    partner: PartnerId,
    list: &IpAllowList,
    by: Option<UserId>,
) -> StoreResult<IpAllowList> {
    // serialize writers of this partner's list (the row may not exist yet)
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('ip_allowlist:' || $1::text, 0))")
        .bind(partner.as_uuid())
        .execute(tx.conn())
        .await?;
    let old = get(tx, partner).await?.list;
    sqlx::query(
        "INSERT INTO partner_ip_allowlists (partner_id, mode, cidrs, updated_at, updated_by)
         VALUES ($1, $2, $3::text[]::cidr[], now(), $4)
         ON CONFLICT (partner_id) DO UPDATE
            SET mode = EXCLUDED.mode, cidrs = EXCLUDED.cidrs,
                updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
    )
    .bind(partner.as_uuid())
    .bind(list.mode().as_str())
    .bind(list.entry_strings())
    .bind(by.map(|u| *u.as_uuid()))
    .execute(tx.conn())
    .await?;
    Ok(old)
}

/// The list that applies to user `user` at login: their home partner's, unless they are a
/// live platform admin (system scope is not subject to a partner's list). `None`: no list.
///
/// # Errors
/// [`StoreError`] on database failure or a malformed stored list.
pub async fn for_user(tx: &mut ScopedTx, user: UserId) -> StoreResult<Option<IpAllowList>> {
    let row: Option<(Option<String>, Option<Vec<String>>)> = sqlx::query_as(sqlx::AssertSqlSafe(
        format!("SELECT a.mode, a.cidrs::text[] FROM users u {USER_LIST_JOIN} WHERE u.id = $1"),
    ))
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    match row {
        Some((mode, cidrs)) => from_columns(mode, cidrs),
        None => Ok(None),
    }
}

/// The join (as `a`) of the list that applies to user `u`: the home partner's list, none
/// for a live platform admin. Shared by [`for_user`] and `principal::user_by_id` so login
/// and every request judge the same list.
pub(crate) const USER_LIST_JOIN: &str = "LEFT JOIN partner_ip_allowlists a
      ON a.partner_id = u.partner_id
     AND NOT EXISTS (SELECT 1 FROM system_memberships s WHERE s.user_id = u.id AND s.active)";
