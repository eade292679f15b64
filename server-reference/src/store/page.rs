//! Keyset paging, written once for every list: a [`Page`] (a limit and the id to continue
//! after) and [`fetch_page`], which runs a list query ordered by id and fetches one row more
//! than the limit so the caller can tell whether there is a next page.

use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;

use super::{ScopedTx, StoreResult};

/// The most items a page holds.
pub const MAX_PAGE: u32 = 100;
/// Items a page holds when the client does not say.
pub const DEFAULT_PAGE: u32 = 50;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1..=[`MAX_PAGE`].
    pub limit: u32,
    /// Items after this id (ids are UUIDs; pages are ordered by id).
    pub after: Option<uuid::Uuid>,
}

impl Page {
    /// How many rows a list query fetches: one more than the limit, the extra one only
    /// telling that a next page exists.
    #[must_use]
    pub fn fetch_limit(self) -> i64 {
        i64::from(self.limit).saturating_add(1)
    }
}

/// Runs `select` (`SELECT <columns> FROM <table> WHERE <filter>`, a fixed string whose filter
/// uses the parameters `$1..=$params`, bound by `bind`) as one page: rows after
/// `page.after`, ordered by id, at most `page.limit + 1` of them.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn fetch_page<T>(
    tx: &mut ScopedTx,
    select: &str,
    params: usize,
    bind: impl FnOnce(QueryAs<'_, Postgres, T, PgArguments>) -> QueryAs<'_, Postgres, T, PgArguments>,
    page: Page,
) -> StoreResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let after = params + 1;
    let limit = params + 2;
    let sql = format!(
        "{select} AND (${after}::uuid IS NULL OR id > ${after}) ORDER BY id LIMIT ${limit}"
    );
    let query = bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)));
    Ok(query
        .bind(page.after)
        .bind(page.fetch_limit())
        .fetch_all(tx.conn())
        .await?)
}
