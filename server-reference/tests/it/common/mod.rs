//! Test harness: a fresh database per test (real PostgreSQL, real roles, migrations run as
//! the owner), the server on a loopback port over real HTTP, and fixtures written as the
//! owner with a system context.
//!
//! Needs `DATABASE_URL` (a superuser URL; `scripts/test` sets it, starting a throwaway
//! server when the caller did not) and, for Redis tests, `REDIS_URL`.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

pub mod agents;
pub mod auth;
pub mod contract;
pub mod mcp;
pub mod ops;
pub mod procs;
pub mod redis;
pub mod remote;
pub mod schemathesis;
pub mod sso;
pub mod tenancy;
pub mod tls;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgId, PartnerId, RoleId, SiteId, UserId};
use breeze_crypto::jwt::{TokenScope, TokenSubject};
use breeze_server::clock::OffsetClock;
use breeze_server::config::{ServerConfig, Settings};
use breeze_server::state::AppState;
use breeze_server::store::{PgStore, admin};
use secrecy::SecretString;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor as _, PgPool};
use uuid::Uuid;

pub mod audit;

/// A PHC string of "Correct-Horse-9" (Argon2id, SPEC parameters), precomputed so fixtures
/// do not pay 64 MiB and a quarter second per user.
pub const FIXTURE_PASSWORD: &str = "Correct-Horse-9";

/// The superuser URL from the environment, or a failure naming scripts/test.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests through scripts/test, which starts a throwaway PostgreSQL")
    })
}

/// The Redis URL from the environment, or a failure naming scripts/test.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: run the tests through scripts/test, which starts a throwaway Redis")
    })
}

fn random_suffix() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A fresh, migrated database.
pub struct TestDb {
    /// Database name.
    pub name: String,
    host: String,
    port: u16,
    admin: String,
}

impl TestDb {
    /// Creates the roles (idempotent), a new database owned by the owner role, and migrates.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        admin::migrate(&db.url(admin::OWNER_ROLE)).await.unwrap();
        db
    }

    /// The roles and a new database, not migrated (an upgrade test migrates it with the
    /// previous release first).
    pub async fn empty() -> Self {
        let admin = admin_url();
        let admin_secret = SecretString::from(admin.clone());
        admin::create_roles(&admin_secret).await.unwrap();
        let name = format!("breeze_t_{}", &random_suffix()[..16]);
        admin::create_database(&admin_secret, &name).await.unwrap();
        let opts: PgConnectOptions = admin.parse().unwrap();
        Self {
            name,
            host: opts.get_host().to_owned(),
            port: opts.get_port(),
            admin,
        }
    }

    /// The URL of `role` on this database.
    pub fn url(&self, role: &str) -> SecretString {
        SecretString::from(self.url_string(role))
    }

    /// The URL of `role` as a string.
    pub fn url_string(&self, role: &str) -> String {
        format!(
            "postgres://{role}@{}:{}/{}",
            self.host, self.port, self.name
        )
    }

    /// The superuser URL on this database.
    pub fn superuser_url(&self) -> String {
        let mut opts: PgConnectOptions = self.admin.parse().unwrap();
        opts = opts.database(&self.name);
        let user = opts.get_username().to_owned();
        format!(
            "postgres://{user}@{}:{}/{}",
            self.host, self.port, self.name
        )
    }

    /// A pool as `role`.
    pub async fn pool(&self, role: &str) -> PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.url_string(role))
            .await
            .unwrap()
    }

    /// A superuser pool on this database.
    pub async fn superuser_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.superuser_url())
            .await
            .unwrap()
    }
}

/// Settings of a test server: fixed test keys, test mode, no login floor.
pub fn test_settings(db: &TestDb) -> Vec<(String, String)> {
    let pairs = [
        ("BREEZE_MODE", "test".to_owned()),
        ("DATABASE_URL", db.url_string(admin::RUNTIME_ROLE)),
        ("DATABASE_OWNER_URL", db.url_string(admin::OWNER_ROLE)),
        ("DATABASE_MAINT_URL", db.url_string(admin::MAINT_ROLE)),
        ("DATABASE_MAX_CONNECTIONS", "10".to_owned()),
        (
            "BREEZE_JWT_KEY_t1",
            "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e2b4d6f8a0c1e3b5d".to_owned(),
        ),
        ("BREEZE_JWT_ACTIVE_KID", "t1".to_owned()),
        (
            "BREEZE_ENCRYPTION_KEY_t1",
            "8c3e5a7f1b9d2c4e6a8f0b3d5c7e9a1f2b4d6c8e0a3f5b7d9c1e2a4f6b8d0c3e".to_owned(),
        ),
        ("BREEZE_ENCRYPTION_ACTIVE_KEY_ID", "t1".to_owned()),
        (
            "BREEZE_MFA_ENCRYPTION_KEY",
            "5b7d9f1a3c5e7b9d2f4a6c8e0b2d4f6a8c1e3b5d7f9a2c4e6b8d0f3a5c7e9b1d".to_owned(),
        ),
        (
            "BREEZE_PEPPER",
            "a1c3e5b7d9f2a4c6e8b0d3f5a7c9e1b4d6f8a2c5e7b9d1f3".to_owned(),
        ),
        (
            "BREEZE_AUDIT_SIGNING_KEY_t1",
            "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d".to_owned(),
        ),
        ("BREEZE_AUDIT_ACTIVE_SIGNING_KID", "t1".to_owned()),
        (
            "BREEZE_METRICS_TOKEN",
            "metrics-token-for-tests-7f3a9c1e5b".to_owned(),
        ),
        ("BREEZE_LOGIN_FLOOR_MS", "0".to_owned()),
        // direct database writes in tests take effect at once; the cache has its own tests
        ("BREEZE_AGENT_AUTH_CACHE_SECS", "0".to_owned()),
        // the per-IP limit of every route is raised for tests that make many requests;
        // tests/it/ops_hardening.rs sets the SPEC value (300) and checks it
        ("BREEZE_GLOBAL_RATE_LIMIT_PER_MIN", "1000000".to_owned()),
        ("BREEZE_MAX_CONCURRENT_HASHES", "2".to_owned()),
        ("BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS", "0".to_owned()),
        ("BREEZE_AUDIT_RETENTION_INTERVAL_SECS", "0".to_owned()),
        (
            "BREEZE_REDIS_PREFIX",
            format!("breeze-test-{}:", random_suffix()),
        ),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A running server on a loopback port.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Address.
    pub addr: SocketAddr,
    /// The server's state (key rings, store).
    pub state: AppState,
    /// The server's clock.
    pub clock: Arc<OffsetClock>,
    /// The database.
    pub db: TestDb,
    /// An HTTP client (no cookies kept, no redirects).
    pub http: reqwest::Client,
    /// The contract check of every answer ([`contract`]).
    pub contract: contract::Contract,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        let violations = self.contract.violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "the server answered outside its OpenAPI document:\n  {}",
                violations.join("\n  ")
            );
        }
    }
}

/// Installs the ring provider for reqwest's rustls (once per process).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TestServer {
    /// A fresh database and a server on it, in-memory limiter and revocation.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server with Redis (`REDIS_URL`) for limits and revocation.
    pub async fn start_with_redis() -> Self {
        let url = redis_url();
        Self::start_with(move |s| s.push(("REDIS_URL".into(), url.clone()))).await
    }

    /// A server with the agents' authentication cache on (the harness turns it off so that
    /// direct database writes take effect at once), as deployed.
    pub async fn start_with_agent_auth_cache() -> Self {
        Self::start_with(|s| {
            s.retain(|(k, _)| k != "BREEZE_AGENT_AUTH_CACHE_SECS");
            s.push(("BREEZE_AGENT_AUTH_CACHE_SECS".into(), "120".into()));
        })
        .await
    }

    /// A fresh database and a server whose settings `edit` may change.
    pub async fn start_with(edit: impl FnOnce(&mut Vec<(String, String)>)) -> Self {
        let db = TestDb::new().await;
        let mut settings = test_settings(&db);
        edit(&mut settings);
        Self::start_on(db, settings).await
    }

    /// A server on an existing database.
    pub async fn start_on(db: TestDb, settings: Vec<(String, String)>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on_listener(db, settings, listener).await
    }

    /// A server on an existing database and an already bound listener (a test that must
    /// know the server's address before it starts, as the SSO tests do for the redirect
    /// URI registered at the provider).
    pub async fn start_on_listener(
        db: TestDb,
        settings: Vec<(String, String)>,
        listener: tokio::net::TcpListener,
    ) -> Self {
        install_crypto();
        let config = ServerConfig::from_settings(Settings::from_pairs(settings)).unwrap();
        let store = PgStore::connect(&config.database_url, config.database_max_connections)
            .await
            .unwrap();
        let clock = OffsetClock::new();
        let state = AppState::build(config, store, clock.clone()).await.unwrap();
        let contract = contract::Contract::default();
        let router = breeze_server::http::router(state.clone()).layer(
            axum::middleware::from_fn_with_state(contract.clone(), contract::check),
        );
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = breeze_server::http::serve(listener, router).await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: format!("http://{addr}"),
            addr,
            state,
            clock,
            db,
            http,
            contract,
            task,
        }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Fixtures on this server's database.
    pub async fn fixtures(&self) -> Fixtures {
        Fixtures::new(&self.db).await
    }

    /// Mints an access token for `user` (as login would), opening a refresh family.
    pub async fn token_for(&self, fx: &Fixtures, user: &FixtureUser) -> String {
        let family = fx.open_family(user.id).await;
        let subject = TokenSubject {
            user_id: *user.id.as_uuid(),
            email: user.email.clone(),
            role_id: Some(*user.role.as_uuid()),
            org_id: user.org.map(|o| *o.as_uuid()),
            partner_id: user.partner.map(|p| *p.as_uuid()),
            scope: user.scope,
            mfa: false,
            auth_epoch: 0,
            mfa_epoch: 0,
        };
        self.state
            .jwt
            .issue_access(&subject, family, self.state.clock.unix())
            .unwrap()
            .token
    }
}

/// A user made by the fixtures.
#[derive(Debug, Clone)]
pub struct FixtureUser {
    /// Id.
    pub id: UserId,
    /// E-mail.
    pub email: String,
    /// Role.
    pub role: RoleId,
    /// Home partner.
    pub partner: Option<PartnerId>,
    /// Home organization.
    pub org: Option<OrgId>,
    /// Token scope.
    pub scope: TokenScope,
}

/// Writes fixture rows as the owner role with a system context (row-level security still
/// applies to the owner: it is forced).
pub struct Fixtures {
    pool: PgPool,
    password_hash: String,
}

/// The id of a seeded role.
pub fn seeded(role: SeededRole) -> RoleId {
    admin::seeded_role_id(role)
}

static FIXTURE_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

impl Fixtures {
    /// Fixtures over `db`.
    pub async fn new(db: &TestDb) -> Self {
        let password_hash = FIXTURE_HASH
            .get_or_init(|| async {
                tokio::task::spawn_blocking(|| {
                    breeze_crypto::password::hash_password(&SecretString::from(
                        FIXTURE_PASSWORD.to_owned(),
                    ))
                    .unwrap()
                    .as_str()
                    .to_owned()
                })
                .await
                .unwrap()
            })
            .await
            .clone();
        Self {
            pool: db.pool(admin::OWNER_ROLE).await,
            password_hash,
        }
    }

    /// Runs `sql` with binds in a system-context transaction as the owner.
    pub async fn exec(&self, sql: &str, binds: &[Uuid]) {
        let mut tx = self.pool.begin().await.unwrap();
        system_context(&mut tx).await;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// The owner pool (for assertions; set a context first with [`system_context`]).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A partner.
    pub async fn partner(&self) -> PartnerId {
        let id = Uuid::new_v4();
        self.exec(
            "INSERT INTO partners (id, name) VALUES ($1, 'Partner ' || $1::text)",
            &[id],
        )
        .await;
        PartnerId::from_uuid(id)
    }

    /// An active organization of `partner`.
    pub async fn org(&self, partner: PartnerId) -> OrgId {
        let id = Uuid::new_v4();
        self.exec(
            "INSERT INTO organizations (id, partner_id, name) VALUES ($1, $2, 'Org ' || $1::text)",
            &[id, *partner.as_uuid()],
        )
        .await;
        OrgId::from_uuid(id)
    }

    /// Sets an organization's status.
    pub async fn set_org_status(&self, org: OrgId, status: &str) {
        let mut tx = self.pool.begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query("UPDATE organizations SET status = $2 WHERE id = $1")
            .bind(org.as_uuid())
            .bind(status)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// A site of `org`.
    pub async fn site(&self, org: OrgId) -> SiteId {
        let id = Uuid::new_v4();
        self.exec(
            "INSERT INTO sites (id, org_id, name) VALUES ($1, $2, 'Site ' || $1::text)",
            &[id, *org.as_uuid()],
        )
        .await;
        SiteId::from_uuid(id)
    }

    /// A device group in `site`.
    pub async fn group(&self, org: OrgId, site: SiteId) -> Uuid {
        let id = Uuid::new_v4();
        self.exec(
            "INSERT INTO device_groups (id, org_id, site_id, name) VALUES ($1, $2, $3, 'Group')",
            &[id, *org.as_uuid(), *site.as_uuid()],
        )
        .await;
        id
    }

    /// A device in `site`.
    pub async fn device(&self, org: OrgId, site: SiteId) -> Uuid {
        let id = Uuid::new_v4();
        let agent_id = format!("{}{}", id.simple(), Uuid::new_v4().simple());
        let mut tx = self.pool.begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query(
            "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type)
             VALUES ($1, $2, $3, $4, 'host-' || $1::text, 'linux')",
        )
        .bind(id)
        .bind(org.as_uuid())
        .bind(site.as_uuid())
        .bind(agent_id)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    async fn user_row(&self, partner: Option<PartnerId>, org: Option<OrgId>) -> (UserId, String) {
        let id = Uuid::new_v4();
        let email = format!("u{}@example.test", id.simple());
        let mut tx = self.pool.begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query(
            "INSERT INTO users (id, email, name, partner_id, org_id, password_hash)
             VALUES ($1, $2, 'Test User', $3, $4, $5)",
        )
        .bind(id)
        .bind(&email)
        .bind(partner.map(|p| *p.as_uuid()))
        .bind(org.map(|o| *o.as_uuid()))
        .bind(&self.password_hash)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        (UserId::from_uuid(id), email)
    }

    /// A partner user with `role` and org access `all`, `none`, or `selected` (`orgs`).
    pub async fn partner_user(
        &self,
        partner: PartnerId,
        role: SeededRole,
        access: &str,
        orgs: &[OrgId],
    ) -> FixtureUser {
        self.partner_user_with_role(partner, seeded(role), access, orgs)
            .await
    }

    /// A partner user holding the role `role` (seeded or custom), with org access as in
    /// [`Self::partner_user`].
    pub async fn partner_user_with_role(
        &self,
        partner: PartnerId,
        role: RoleId,
        access: &str,
        orgs: &[OrgId],
    ) -> FixtureUser {
        let (id, email) = self.user_row(Some(partner), None).await;
        let org_ids: Vec<Uuid> = orgs.iter().map(|o| *o.as_uuid()).collect();
        let mut tx = self.pool.begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query(
            "INSERT INTO partner_memberships (user_id, partner_id, role_id, org_access, org_ids)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_uuid())
        .bind(partner.as_uuid())
        .bind(role.as_uuid())
        .bind(access)
        .bind(&org_ids)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        FixtureUser {
            id,
            email,
            role,
            partner: Some(partner),
            org: None,
            scope: TokenScope::Partner,
        }
    }

    /// An organization user with `role`, limited to `sites` when given.
    pub async fn org_user(
        &self,
        partner: PartnerId,
        org: OrgId,
        role: SeededRole,
        sites: Option<&[SiteId]>,
    ) -> FixtureUser {
        let (id, email) = self.user_row(Some(partner), Some(org)).await;
        let site_ids: Option<Vec<Uuid>> = sites.map(|s| s.iter().map(|x| *x.as_uuid()).collect());
        let mut tx = self.pool.begin().await.unwrap();
        system_context(&mut tx).await;
        sqlx::query(
            "INSERT INTO org_memberships (user_id, org_id, role_id, site_ids) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.as_uuid())
        .bind(org.as_uuid())
        .bind(seeded(role).as_uuid())
        .bind(site_ids)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        FixtureUser {
            id,
            email,
            role: seeded(role),
            partner: Some(partner),
            org: Some(org),
            scope: TokenScope::Organization,
        }
    }

    /// A platform admin.
    pub async fn platform_admin(&self) -> FixtureUser {
        let (id, email) = self.user_row(None, None).await;
        self.exec(
            "INSERT INTO system_memberships (user_id, role_id) VALUES ($1, $2)",
            &[*id.as_uuid(), *seeded(SeededRole::PlatformAdmin).as_uuid()],
        )
        .await;
        FixtureUser {
            id,
            email,
            role: seeded(SeededRole::PlatformAdmin),
            partner: None,
            org: None,
            scope: TokenScope::System,
        }
    }

    /// Opens a refresh family (session) for `user`; returns its id.
    pub async fn open_family(&self, user: UserId) -> Uuid {
        let id = Uuid::new_v4();
        self.exec(
            "INSERT INTO refresh_families (id, user_id, expires_at) VALUES ($1, $2, now() + interval '30 days')",
            &[id, *user.as_uuid()],
        )
        .await;
        id
    }
}

/// Sets a system access context on a transaction (fixtures and assertions).
pub async fn system_context(conn: &mut sqlx::PgConnection) {
    conn.execute(
        "SELECT set_config('breeze.scope', 'system', true),
                set_config('breeze.accessible_org_ids', '*', true),
                set_config('breeze.accessible_partner_ids', '*', true),
                set_config('breeze.allowed_site_ids', '*', true)",
    )
    .await
    .unwrap();
}
