//! The shared application state: configuration, store, key rings, limiter, revocation.

use std::sync::Arc;
use std::time::Duration;

use breeze_authz::mfa::MfaPolicy;
use breeze_authz::registry::Registry;
use breeze_core::audit::{CheckpointSigner, KeyRing as AuditKeyRing};
use breeze_core::clientip::{ForwardedHeader, TrustedProxies};
use breeze_core::ratelimit::{
    MemoryRateLimiter, Quota, RateDecision, RateLimitBackend, RateLimitError, RateLimiter,
    RedisConnection, RedisRateLimiter,
};
use breeze_core::revocation::{
    BurnOutcome, MemoryRevocationStore, NonceOutcome, RedisRevocationStore, RevocationBackend,
    RevocationError, RevocationStore, StepOutcome,
};
use breeze_core::tenancy::UserId;
use breeze_crypto::credentials::{Pepper, PepperRing};
use breeze_crypto::envelope::{KeyRing, MfaCipher};
use breeze_crypto::jwt::JwtKeyRing;
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, ServerConfig};
use crate::store::{PgStore, StoreError};

/// The rate-limit backend: in memory on a single node, Redis when `REDIS_URL` is set.
#[derive(Debug, Clone)]
pub enum LimitBackend {
    /// In-process.
    Memory(Arc<MemoryRateLimiter>),
    /// Shared through Redis (fails closed).
    Redis(RedisRateLimiter),
}

impl RateLimitBackend for LimitBackend {
    async fn hit(&self, key: &str, quota: Quota) -> Result<RateDecision, RateLimitError> {
        match self {
            Self::Memory(m) => m.hit(key, quota).await,
            Self::Redis(r) => r.hit(key, quota).await,
        }
    }

    async fn peek(&self, key: &str, quota: Quota) -> Result<RateDecision, RateLimitError> {
        match self {
            Self::Memory(m) => m.peek(key, quota).await,
            Self::Redis(r) => r.peek(key, quota).await,
        }
    }

    async fn clear(&self, key: &str) -> Result<(), RateLimitError> {
        match self {
            Self::Memory(m) => m.clear(key).await,
            Self::Redis(r) => r.clear(key).await,
        }
    }

    fn now_ms(&self) -> u64 {
        match self {
            Self::Memory(m) => m.now_ms(),
            Self::Redis(r) => r.now_ms(),
        }
    }
}

/// The revocation backend: in memory on a single node, Redis when `REDIS_URL` is set.
#[derive(Debug, Clone)]
pub enum RevocationBackendKind {
    /// In-process.
    Memory(Arc<MemoryRevocationStore>),
    /// Shared through Redis (fails closed).
    Redis(RedisRevocationStore),
}

impl RevocationBackend for RevocationBackendKind {
    async fn raise_user_cutoff(
        &self,
        user: UserId,
        cutoff_secs: i64,
        ttl: Duration,
    ) -> Result<(), RevocationError> {
        match self {
            Self::Memory(m) => m.raise_user_cutoff(user, cutoff_secs, ttl).await,
            Self::Redis(r) => r.raise_user_cutoff(user, cutoff_secs, ttl).await,
        }
    }

    async fn user_cutoff(&self, user: UserId) -> Result<Option<i64>, RevocationError> {
        match self {
            Self::Memory(m) => m.user_cutoff(user).await,
            Self::Redis(r) => r.user_cutoff(user).await,
        }
    }

    async fn burn_jti(&self, jti: Uuid, ttl: Duration) -> Result<BurnOutcome, RevocationError> {
        match self {
            Self::Memory(m) => m.burn_jti(jti, ttl).await,
            Self::Redis(r) => r.burn_jti(jti, ttl).await,
        }
    }

    async fn revoke_family(&self, family: Uuid, ttl: Duration) -> Result<(), RevocationError> {
        match self {
            Self::Memory(m) => m.revoke_family(family, ttl).await,
            Self::Redis(r) => r.revoke_family(family, ttl).await,
        }
    }

    async fn family_revoked(&self, family: Uuid) -> Result<bool, RevocationError> {
        match self {
            Self::Memory(m) => m.family_revoked(family).await,
            Self::Redis(r) => r.family_revoked(family).await,
        }
    }

    async fn use_totp_step(
        &self,
        user: UserId,
        step: u64,
        ttl: Duration,
    ) -> Result<StepOutcome, RevocationError> {
        match self {
            Self::Memory(m) => m.use_totp_step(user, step, ttl).await,
            Self::Redis(r) => r.use_totp_step(user, step, ttl).await,
        }
    }

    async fn use_nonce(
        &self,
        scope: &str,
        nonce: &str,
        ttl: Duration,
    ) -> Result<NonceOutcome, RevocationError> {
        match self {
            Self::Memory(m) => m.use_nonce(scope, nonce, ttl).await,
            Self::Redis(r) => r.use_nonce(scope, nonce, ttl).await,
        }
    }
}

/// State that cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be loaded (names the setting, never the value).
    #[error("key `{0}` is unusable")]
    Key(String),
    /// Redis is configured and unreachable at startup.
    #[error("redis is configured but unreachable")]
    Redis,
}

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The shared parts of [`AppState`].
pub struct Inner {
    /// Configuration.
    pub config: ServerConfig,
    /// Store.
    pub store: PgStore,
    /// JWT key ring.
    pub jwt: JwtKeyRing,
    /// At-rest encryption key ring.
    pub secrets: KeyRing,
    /// TOTP secret cipher.
    pub mfa: MfaCipher,
    /// Peppers of enrollment keys and recovery codes: the current one hashes new values;
    /// during a roll the staged or previous one still verifies (`BREEZE_PEPPER_NEXT`,
    /// `BREEZE_PEPPER_PREVIOUS`).
    pub pepper: PepperRing,
    /// Audit checkpoint signer (active key, under its derived key id).
    pub audit_signer: CheckpointSigner,
    /// Audit checkpoint verifying keys (every configured key, under its derived id and its
    /// configured id: see [`crate::audit::checkpoint_keys`]).
    pub audit_keys: AuditKeyRing,
    /// Rate limiter.
    pub limiter: RateLimiter<LimitBackend>,
    /// Revocation store.
    pub revocation: RevocationStore<RevocationBackendKind>,
    /// Permission registry.
    pub registry: Registry,
    /// Bounds concurrent password hashing (64 MiB each).
    pub hash_permits: Semaphore,
    /// Admission and caches of the agent hot path.
    pub agent_load: crate::agents::admission::AgentLoad,
    /// The permission cache of user requests (`None` when turned off).
    pub permission_cache: Option<crate::permissions::UserPermissionCache>,
    /// Short-lived cache of agent authentication rows.
    pub agent_cache: Arc<crate::agents::auth_cache::AuthCache>,
    /// Group commit of agent heartbeats.
    pub heartbeats: crate::agents::beats::HeartbeatBatcher,
    /// Coalesced reads of agent authentication rows (cache misses).
    pub agent_rows: crate::agents::rows::RowLoader,
    /// Proxies whose forwarded headers are trusted.
    pub proxies: TrustedProxies,
    /// Force-MFA exemptions.
    pub mfa_policy: MfaPolicy,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Aggregated audit of unauthenticated failures on the system chain (per replica).
    pub failure_audit: Arc<crate::audit::failures::FailureAudit>,
    /// Outbound user notifications (password resets); the encrypted outbox by default.
    pub notifier: Arc<dyn crate::notify::Notifier>,
    /// The terminal relay between replicas (SPEC 12); its id is this replica's lease id.
    pub relay: Arc<crate::remote::relay::Relay>,
    /// Outbound webhook delivery (SPEC 13): the SSRF-guarded client and the worker's wake-up.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// SSO (SPEC 16): the guarded client to identity providers, the state cookie key and the
    /// providers' documents.
    pub sso: Arc<crate::sso::Sso>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

fn key_err(name: &str) -> StateError {
    StateError::Key(name.to_owned())
}

impl AppState {
    /// Connects everything the configuration names, with the system clock.
    ///
    /// # Errors
    /// [`StateError`] when a key, PostgreSQL or Redis is unusable.
    pub async fn connect(config: ServerConfig) -> Result<Self, StateError> {
        let store = PgStore::connect(&config.database_url, config.database_max_connections).await?;
        Self::build(config, store, Arc::new(SystemClock)).await
    }

    /// Builds the state over an existing store with `clock` (tests inject theirs).
    ///
    /// # Errors
    /// [`StateError`] when a key or Redis is unusable.
    pub async fn build(
        config: ServerConfig,
        store: PgStore,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StateError> {
        let mut jwt = JwtKeyRing::builder();
        for key in &config.jwt_keys {
            jwt = jwt
                .key(&key.id, key.value.clone())
                .map_err(|_| key_err(&format!("BREEZE_JWT_KEY_{}", key.id)))?;
        }
        if let Some(legacy) = &config.jwt_legacy_secret {
            jwt = jwt
                .legacy_secret(legacy.clone())
                .map_err(|_| key_err("BREEZE_JWT_LEGACY_SECRET"))?;
        }
        let jwt = jwt
            .active(&config.jwt_active_kid)
            .map_err(|_| key_err("BREEZE_JWT_ACTIVE_KID"))?;

        let mut ring = KeyRing::builder();
        for key in &config.encryption_keys {
            ring = ring
                .key(&key.id, key.value.clone())
                .map_err(|_| key_err(&format!("BREEZE_ENCRYPTION_KEY_{}", key.id)))?;
        }
        let secrets = ring
            .active(&config.encryption_active_key_id)
            .map_err(|_| key_err("BREEZE_ENCRYPTION_ACTIVE_KEY_ID"))?;

        let (audit_signer, audit_keys) = crate::audit::checkpoint_keys::from_config(&config)?;

        let (limiter, revocation) = match &config.redis_url {
            None => (
                LimitBackend::Memory(Arc::new(MemoryRateLimiter::new())),
                RevocationBackendKind::Memory(Arc::new(MemoryRevocationStore::new())),
            ),
            Some(url) => {
                let conn = RedisConnection::connect(
                    url.expose_secret(),
                    &config.redis_prefix,
                    breeze_core::ratelimit::DEFAULT_DEADLINE,
                )
                .await
                .map_err(|_| StateError::Redis)?;
                (
                    LimitBackend::Redis(RedisRateLimiter::new(conn.clone())),
                    RevocationBackendKind::Redis(RedisRevocationStore::new(conn)),
                )
            }
        };

        let proxies =
            TrustedProxies::parse(&config.trusted_proxies, ForwardedHeader::XForwardedFor)
                .map_err(|_| key_err("BREEZE_TRUSTED_PROXIES"))?;
        let hash_permits = Semaphore::new(config.max_concurrent_hashes.max(1));
        let db_connections = config.database_max_connections;
        let agent_cache_secs = config.agent_auth_cache_secs;
        let permission_cache = match config.permission_cache_secs {
            0 => None,
            secs => Some(
                crate::permissions::new_cache(std::time::Duration::from_secs(secs))
                    .map_err(|_| key_err("BREEZE_PERMISSION_CACHE_SECS"))?,
            ),
        };
        // during a roll of the MFA key, the staged or previous key still opens TOTP secrets
        let mfa = config
            .rotation
            .mfa_keys
            .iter()
            .fold(MfaCipher::new(&config.mfa_encryption_key), |c, k| {
                c.accept(&k.value)
            });
        let pepper = config.rotation.peppers.iter().fold(
            PepperRing::new(Pepper::new(config.pepper.clone())),
            |ring, p| ring.accept(Pepper::new(p.value.clone())),
        );
        let webhook_client = crate::webhooks::client::build(&config.webhooks)
            .map_err(|_| key_err("BREEZE_WEBHOOK_CA_FILE"))?;
        let sso = crate::sso::Sso::build(&config).map_err(|e| match e {
            crate::sso::SsoSetupError::Client(_) => key_err("BREEZE_SSO_CA_FILE"),
            crate::sso::SsoSetupError::StateKey => key_err("BREEZE_JWT_ACTIVE_KID"),
        })?;
        let heartbeats = crate::agents::beats::HeartbeatBatcher::start(store.clone());
        let agent_cache = Arc::new(crate::agents::auth_cache::AuthCache::new(
            std::time::Duration::from_secs(agent_cache_secs),
        ));
        let agent_rows =
            crate::agents::rows::RowLoader::start(store.clone(), Arc::clone(&agent_cache));
        let failure_audit = Arc::new(crate::audit::failures::FailureAudit::new());
        // the flusher ends by itself once the state (and with it the aggregator) is dropped
        drop(failure_audit.spawn_flusher(store.clone(), clock.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                jwt,
                secrets,
                mfa,
                pepper,
                audit_signer,
                audit_keys,
                limiter: RateLimiter::new(limiter),
                revocation: RevocationStore::new(revocation),
                registry: Registry::spec(),
                hash_permits,
                agent_load: crate::agents::admission::AgentLoad::new(db_connections),
                permission_cache,
                agent_cache: Arc::clone(&agent_cache),
                agent_rows,
                heartbeats,
                proxies,
                mfa_policy: MfaPolicy::default(),
                clock,
                failure_audit,
                notifier: Arc::new(crate::notify::OutboxNotifier),
                relay: crate::remote::relay::Relay::new(),
                webhooks: crate::webhooks::Webhooks::new(webhook_client),
                sso,
            }),
        })
    }

    /// Runs CPU- and memory-heavy password work off the async executor, at most
    /// `max_concurrent_hashes` at once.
    ///
    /// Returns `None` if the worker could not run (runtime shutting down).
    pub async fn hash_work<T, F>(&self, work: F) -> Option<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self.hash_permits.acquire().await.ok()?;
        tokio::task::spawn_blocking(work).await.ok()
    }
}
