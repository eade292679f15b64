//! The PostgreSQL store. All SQL of the server lives under this module.
//!
//! The only way to run a query is through a [`ScopedTx`], and the only ways to open one are
//! [`PgStore::begin`] (with an [`AccessContext`], which only authentication or
//! `AccessContext::system` can build) and the crate-private `PgStore::begin_system`.
//! Opening sets the eight `breeze.*` settings transaction-locally before anything else, so
//! row-level security sees the request's context on every statement (SPEC 1.2, 1.3).
//!
//! Route code never sees a connection: it calls the functions of the table-family modules,
//! which take `&mut ScopedTx`. The domain types they return are plain Rust, so a second
//! backend (an embedded one) implements the same functions without touching routes.
//!
//! Never hold a [`ScopedTx`] across non-database I/O (HTTP, Redis, password hashing):
//! finish reading, commit or drop, then do the slow work.

pub mod admin;
pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod commands;
pub mod devices;
pub mod enrollment_keys;
pub mod ip_allowlists;
pub mod mcp;
pub mod ops;
pub mod page;
pub mod principal;
pub mod remote;
pub mod roles;
pub mod rows;
pub mod sso;
pub mod tenancy;
pub mod users;
pub mod webhooks;

use std::time::Duration;

use breeze_authz::access::AccessContext;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// A store operation that failed. Messages never contain secrets or row contents.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such row (or not visible in this context).
    #[error("not found")]
    NotFound,
    /// A domain conflict the store detected itself, with a machine code.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A unique constraint refused the row (`23505`), naming the constraint.
    #[error("already exists ({})", constraint.as_deref().unwrap_or("unnamed constraint"))]
    Duplicate {
        /// The constraint PostgreSQL named.
        constraint: Option<String>,
    },
    /// Row-level security or a privilege refused the statement.
    #[error("denied by the database")]
    Denied,
    /// Input the database refused, with a field path (`reference` for a foreign key,
    /// `value` for a check constraint) and a message; `constraint` names the constraint.
    #[error("invalid `{path}`: {message}")]
    Invalid {
        /// The field path.
        path: &'static str,
        /// What is wrong, generically.
        message: String,
        /// The constraint PostgreSQL named, when one refused the row.
        constraint: Option<String>,
    },
    /// The database is unreachable or the pool is exhausted.
    #[error("database unavailable")]
    Unavailable,
    /// An audit entry could not be built or sealed.
    #[error("audit: {0}")]
    Audit(String),
    /// Any other database error (logged, answered as 500), with its SQLSTATE.
    #[error("database error: {0}")]
    Database(DbFailure),
}

/// A database failure the store does not map to a domain error: its SQLSTATE and constraint
/// (for decisions, such as retrying a deadlock) and PostgreSQL's message (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFailure {
    /// The five-character SQLSTATE, when PostgreSQL returned one.
    pub sqlstate: Option<String>,
    /// The constraint involved, when PostgreSQL named one.
    pub constraint: Option<String>,
    /// The message (logged, never answered to a client).
    pub message: String,
}

impl std::fmt::Display for DbFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sqlstate {
            Some(code) => write!(f, "[{code}] {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// SQLSTATE `40001`: the transaction could not be serialized.
pub const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `40P01`: the transaction was chosen as a deadlock victim.
pub const DEADLOCK_DETECTED: &str = "40P01";

impl StoreError {
    /// A store-side failure without a SQLSTATE (a malformed stored value, a bad URL).
    #[must_use]
    pub fn database(message: impl Into<String>) -> Self {
        Self::Database(DbFailure {
            sqlstate: None,
            constraint: None,
            message: message.into(),
        })
    }

    /// Input refused before the database saw it, with a field path.
    #[must_use]
    pub fn invalid(path: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            path,
            message: message.into(),
            constraint: None,
        }
    }

    /// The SQLSTATE of a database failure, when there is one.
    #[must_use]
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Database(f) => f.sqlstate.as_deref(),
            Self::Duplicate { .. } => Some("23505"),
            _ => None,
        }
    }

    /// Whether the whole transaction may succeed when run again unchanged: a serialization
    /// failure or a deadlock (decided on the SQLSTATE, never on message text).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self.sqlstate(),
            Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
        )
    }
}

/// SQLSTATEs that say the database cannot serve right now, not that the request is wrong:
/// connection exceptions (class 08), insufficient resources (class 53: disk full, out of
/// memory, too many connections) and the server shutting down or starting (57P01-57P03).
/// They answer 503 like an unreachable database (the client may retry), never 500.
#[must_use]
pub fn database_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(sqlstate, "57P01" | "57P02" | "57P03")
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable,
            sqlx::Error::Database(db) if db.code().as_deref().is_some_and(database_unavailable) => {
                Self::Unavailable
            }
            sqlx::Error::Database(db) => {
                let constraint = db.constraint().map(str::to_owned);
                match db.code().as_deref() {
                    // insufficient_privilege (RLS WITH CHECK, missing grant, our triggers)
                    Some("42501") => Self::Denied,
                    Some("23505") => Self::Duplicate { constraint },
                    Some("23503") => Self::Invalid {
                        path: "reference",
                        message: "refers to a missing row".into(),
                        constraint,
                    },
                    Some("23514") => Self::Invalid {
                        path: "value",
                        message: "violates a constraint".into(),
                        constraint,
                    },
                    code => Self::Database(DbFailure {
                        sqlstate: code.map(str::to_owned),
                        constraint,
                        message: db.message().to_owned(),
                    }),
                }
            }
            _ => Self::database(e.to_string()),
        }
    }
}

/// Result alias of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// The runtime connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Connect options from a URL (the secret URL is never logged).
///
/// # Errors
/// [`StoreError::Database`] for a malformed URL (the URL itself is not echoed).
pub fn connect_options(url: &SecretString) -> StoreResult<PgConnectOptions> {
    url.expose_secret()
        .parse::<PgConnectOptions>()
        .map_err(|_| StoreError::database("malformed database url"))
}

impl PgStore {
    /// Connects the runtime pool and checks that the role is safe to run as: not a
    /// superuser, no BYPASSRLS, owning no table.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when PostgreSQL cannot be reached;
    /// [`StoreError::Database`] when the role is unsafe.
    pub async fn connect(url: &SecretString, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(connect_options(url)?)
            .await?;
        let store = Self { pool };
        store.check_runtime_role().await?;
        Ok(store)
    }

    /// Wraps an existing pool (tests, embedding); the role check still runs.
    ///
    /// # Errors
    /// As [`PgStore::connect`].
    pub async fn from_pool(pool: PgPool) -> StoreResult<Self> {
        let store = Self { pool };
        store.check_runtime_role().await?;
        Ok(store)
    }

    async fn check_runtime_role(&self) -> StoreResult<()> {
        let (superuser, bypass, owned): (bool, bool, i64) = sqlx::query_as(
            "SELECT r.rolsuper, r.rolbypassrls,
                    (SELECT count(*) FROM pg_class c
                      WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p'))
               FROM pg_roles r WHERE r.rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await?;
        if superuser || bypass || owned > 0 {
            return Err(StoreError::database(
                "the runtime database role must be NOSUPERUSER, NOBYPASSRLS and own no table",
            ));
        }
        Ok(())
    }

    /// Whether PostgreSQL answers (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .is_ok()
    }

    /// Pool figures for metrics: (connections open, idle).
    #[must_use]
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Opens the request's one transaction with `ctx` set.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when no connection can be had.
    pub async fn begin(&self, ctx: &AccessContext) -> StoreResult<ScopedTx> {
        let mut tx = self.pool.begin().await?;
        let settings = ctx.session_settings();
        let mut names = Vec::with_capacity(settings.len());
        let mut values = Vec::with_capacity(settings.len());
        for (name, value) in settings {
            names.push(name);
            values.push(value);
        }
        sqlx::query("SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)")
            .bind(&names)
            .bind(&values)
            .execute(&mut *tx)
            .await?;
        Ok(ScopedTx {
            tx,
            ctx: ctx.clone(),
        })
    }

    /// Opens a system-scope transaction for platform work with no user behind it
    /// (authentication lookups, background jobs, CLI). `reason` is recorded in the context's
    /// actor and must say why.
    ///
    /// Crate-private: the server's own flows are its only callers (issue 15, finding 11).
    /// Each use is traced with its access record (target `breeze::system_context`); the
    /// flows that change data audit what they did in the same transaction. Code outside
    /// the crate (tests, embedders) builds a context with
    /// [`AccessContext::system`], which hands it the record to write, and calls
    /// [`PgStore::begin`].
    ///
    /// ```compile_fail
    /// # async fn f(store: breeze_server::store::PgStore) {
    /// // not part of the library API
    /// let _ = store.begin_system("anything").await;
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], or [`StoreError::Audit`] for an invalid reason.
    pub(crate) async fn begin_system(&self, reason: &str) -> StoreResult<ScopedTx> {
        let (ctx, record) = AccessContext::system(reason, time::OffsetDateTime::now_utc())
            .map_err(|e| StoreError::Audit(e.to_string()))?;
        trace_system_record(&record, None);
        self.begin(&ctx).await
    }
}

/// Traces the access record of a system context (target `breeze::system_context`, debug
/// level: authentication opens one per request). `orgs` is the number of organizations a
/// narrowed context reaches (`None`: the whole platform).
pub(crate) fn trace_system_record(
    record: &breeze_authz::access::SystemAccessRecord,
    orgs: Option<usize>,
) {
    tracing::debug!(
        target: "breeze::system_context",
        reason = %record.reason,
        issued_at = %record.issued_at,
        narrowed_to_orgs = ?orgs,
        "system context opened"
    );
}

/// One transaction carrying an access context. Dropping it without [`ScopedTx::commit`]
/// rolls back everything, audit entries included.
pub struct ScopedTx {
    tx: Transaction<'static, Postgres>,
    ctx: AccessContext,
}

impl std::fmt::Debug for ScopedTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedTx")
            .field("scope", &self.ctx.scope())
            .finish_non_exhaustive()
    }
}

impl ScopedTx {
    /// The access context this transaction carries.
    #[must_use]
    pub const fn context(&self) -> &AccessContext {
        &self.ctx
    }

    /// The connection, for the store's own modules only.
    pub(in crate::store) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Plans this transaction's remaining statements for their actual parameters
    /// (`plan_cache_mode = force_custom_plan`, transaction-local), for the listings whose
    /// optional filters read `($n IS NULL OR col = $n)`.
    ///
    /// A prepared statement's generic plan (PostgreSQL's choice after five executions)
    /// cannot fold such a condition, so it serves no filter from an index and cannot weigh
    /// a rare value against a common one: at scale it can turn an organization's page or a
    /// rare actor's events into a scan of the whole table (docs/PERFORMANCE.md, "Cost as the
    /// fleet grows"). Planned per execution, the absent filters fold away and the present
    /// ones choose their index. Planning costs a fraction of a millisecond; listings only.
    ///
    /// The same transaction runs without JIT compilation (`jit = off`): a listing reads a
    /// page through an index, but under row-level security its estimated cost can pass
    /// `jit_above_cost`, and compiling its expressions then took 25-47 ms for a query that
    /// runs in 1.4 ms (an organization's audit page by action prefix, 1,000,000 entries).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub(in crate::store) async fn plan_per_execution(&mut self) -> StoreResult<()> {
        sqlx::query(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
                    set_config('jit', 'off', true)",
        )
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Commits.
    ///
    /// # Errors
    /// [`StoreError`] when the commit fails (nothing was written).
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await.map_err(StoreError::from)
    }
}

#[cfg(test)]
mod unavailable_tests {
    use super::database_unavailable;

    #[test]
    fn database_states_that_mean_try_again_later() {
        for code in [
            "08006", "08001", "53100", "53200", "53300", "57P01", "57P02", "57P03",
        ] {
            assert!(database_unavailable(code), "{code}");
        }
        // the request's own fault or a bug: not 503
        for code in ["23505", "42501", "22P02", "40001", "57014", "XX000"] {
            assert!(!database_unavailable(code), "{code}");
        }
    }
}
