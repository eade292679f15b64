//! The statements every table family shares, written once: one row by id, a soft delete
//! (`deleted_at`), and a hard delete that a still-referenced row turns into a conflict.

use sqlx::Postgres;
use sqlx::postgres::PgRow;

use super::{ScopedTx, StoreError, StoreResult};

/// One row by id: `select` is a fixed `SELECT <columns> FROM <table> WHERE id = $1 ...`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn fetch_by_id<T, I>(tx: &mut ScopedTx, select: &str, id: I) -> StoreResult<Option<T>>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    I: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
{
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(select.to_owned()))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

/// Soft-deletes the live row `id` of `table` (a fixed table name).
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such live row.
pub async fn soft_delete<I>(tx: &mut ScopedTx, table: &'static str, id: I) -> StoreResult<()>
where
    I: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
{
    let sql = format!(
        "UPDATE {table} SET deleted_at = now(), updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .execute(tx.conn())
        .await?;
    one_row(done.rows_affected())
}

/// Deletes row `id` of `table` (a fixed table name, `only` a fixed extra condition such as
/// `AND NOT seeded`, or empty); a row that still refers to it (a foreign key) answers
/// [`StoreError::Conflict`] with `in_use`, even one this context cannot see.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such row; the conflict above.
pub async fn delete_unreferenced<I>(
    tx: &mut ScopedTx,
    table: &'static str,
    only: &'static str,
    id: I,
    in_use: &'static str,
) -> StoreResult<()>
where
    I: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
{
    let sql = format!("DELETE FROM {table} WHERE id = $1 {only}");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .execute(tx.conn())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Invalid {
                path: "reference", ..
            } => StoreError::Conflict(in_use),
            other => other,
        })?;
    one_row(done.rows_affected())
}

/// `NotFound` unless exactly the expected row changed.
const fn one_row(affected: u64) -> StoreResult<()> {
    if affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
