//! Database administration: roles, database, migrations and the seeded roles.
//!
//! Three roles (SPEC 1.2): the owner runs migrations and owns every object; the runtime role
//! the server connects as is NOSUPERUSER, NOBYPASSRLS and owns nothing; the maintenance role
//! may delete an audit prefix during a retention run. Creating roles needs a superuser
//! (`breeze-server migrate --admin-url`); everything else runs as the owner.

use breeze_authz::role::RoleScope;
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::RoleId;
use secrecy::SecretString;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

use super::{StoreError, StoreResult, connect_options};

/// The owner role (migrations).
pub const OWNER_ROLE: &str = "breeze_owner";
/// The runtime role (the server).
pub const RUNTIME_ROLE: &str = "breeze_app";
/// The maintenance role (audit retention).
pub const MAINT_ROLE: &str = "breeze_maint";

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Every seeded role, in a fixed order (their ids derive from it).
pub const SEEDED_ROLES: [SeededRole; 8] = [
    SeededRole::PlatformAdmin,
    SeededRole::PartnerAdmin,
    SeededRole::PartnerTechnician,
    SeededRole::PartnerViewer,
    SeededRole::OrgAdmin,
    SeededRole::OrgTechnician,
    SeededRole::OrgViewer,
    SeededRole::SecurityApprover,
];

/// The fixed id of a seeded role (`00000000-0000-4000-8000-0000000000NN`).
#[must_use]
pub fn seeded_role_id(role: SeededRole) -> RoleId {
    let index = SEEDED_ROLES.iter().position(|r| *r == role).unwrap_or(0);
    let n = u128::try_from(index).unwrap_or(0).saturating_add(1);
    RoleId::from_uuid(Uuid::from_u128(
        0x0000_0000_0000_4000_8000_0000_0000_0000 | n,
    ))
}

/// Creates the three roles (idempotent, safe to race) with a superuser connection.
///
/// # Errors
/// [`StoreError`] when a role cannot be created.
pub async fn create_roles(admin_url: &SecretString) -> StoreResult<()> {
    let mut conn = PgConnection::connect_with(&connect_options(admin_url)?).await?;
    for role in [OWNER_ROLE, RUNTIME_ROLE, MAINT_ROLE] {
        let sql = format!(
            "DO $$ BEGIN
               CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(())
}

/// Creates database `name` owned by the owner role unless it exists.
///
/// # Errors
/// [`StoreError::Invalid`] for a name outside `[a-z0-9_]{1,63}`; [`StoreError`] otherwise.
pub async fn create_database(admin_url: &SecretString, name: &str) -> StoreResult<()> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::invalid(
            "database",
            "expected 1 to 63 characters of a-z, 0-9 and _",
        ));
    }
    let mut conn = PgConnection::connect_with(&connect_options(admin_url)?).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let sql = format!("CREATE DATABASE {name} OWNER {OWNER_ROLE}");
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await?;
    Ok(())
}

/// Runs the migrations as the owner role, then upserts the seeded roles.
///
/// # Errors
/// [`StoreError`] when a migration fails (it is rolled back) or the owner URL is wrong.
pub async fn migrate(owner_url: &SecretString) -> StoreResult<()> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(connect_options(owner_url)?)
        .await?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| StoreError::database(format!("migration failed: {e}")))?;
    seed_roles(&pool).await?;
    pool.close().await;
    Ok(())
}

async fn seed_roles(pool: &sqlx::PgPool) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('breeze.scope', 'system', true),
                set_config('breeze.accessible_org_ids', '*', true),
                set_config('breeze.accessible_partner_ids', '*', true),
                set_config('breeze.allowed_site_ids', '*', true)",
    )
    .execute(&mut *tx)
    .await?;
    for role in SEEDED_ROLES {
        let scope = match role.scope() {
            RoleScope::System => "system",
            RoleScope::Partner => "partner",
            RoleScope::Organization => "organization",
        };
        let grants: Vec<String> = role
            .grant_strings()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        sqlx::query(
            "INSERT INTO roles (id, partner_id, scope, name, permissions, requires_mfa, seeded)
             VALUES ($1, NULL, $2, $3, $4, $5, true)
             ON CONFLICT (id) DO UPDATE SET scope = EXCLUDED.scope, name = EXCLUDED.name,
               permissions = EXCLUDED.permissions, requires_mfa = EXCLUDED.requires_mfa,
               updated_at = now()",
        )
        .bind(seeded_role_id(role).as_uuid())
        .bind(scope)
        .bind(role.name())
        .bind(&grants)
        .bind(role.force_mfa())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What `breeze-server doctor` reads from PostgreSQL as the runtime role: its flags, whether
/// it owns any table of the schema, and `listen_addresses` (`None` when not readable).
///
/// # Errors
/// [`StoreError`] when the database cannot be reached.
pub async fn doctor_facts(
    url: &SecretString,
) -> StoreResult<(breeze_core::config::doctor::RoleFacts, Option<String>)> {
    let mut conn = PgConnection::connect_with(&connect_options(url)?).await?;
    let (superuser, bypass_rls): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut conn)
            .await?;
    let owns_tables: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public'
                          AND tableowner = current_user)",
    )
    .fetch_one(&mut conn)
    .await?;
    let listen: Option<String> =
        sqlx::query_scalar("SELECT current_setting('listen_addresses', true)")
            .fetch_one(&mut conn)
            .await
            .ok()
            .flatten();
    conn.close().await?;
    Ok((
        breeze_core::config::doctor::RoleFacts {
            superuser,
            bypass_rls,
            owns_tables,
        },
        listen,
    ))
}
