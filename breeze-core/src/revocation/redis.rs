//! The Redis revocation store: each operation is one atomic command or Lua script.

use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use uuid::Uuid;

use super::backend::{BurnOutcome, NonceOutcome, RevocationBackend, RevocationError, StepOutcome};
use crate::ratelimit::{Clock, RedisCallError, RedisConnection, SystemClock, duration_ms};
use crate::tenancy::UserId;

const RAISE_CUTOFF_LUA: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]))
local new = tonumber(ARGV[1])
if cur and cur > new then new = cur end
redis.call('SET', KEYS[1], new, 'PX', ARGV[2])
return new
";

const BURN_LUA: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
local at = tonumber(redis.call('GET', KEYS[1]))
if not at then return 0 end
return at
";

const TOTP_LUA: &str = r"
local last = tonumber(redis.call('GET', KEYS[1]))
local step = tonumber(ARGV[1])
if last and step <= last then return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
";

impl From<RedisCallError> for RevocationError {
    fn from(e: RedisCallError) -> Self {
        match e {
            RedisCallError::Timeout => Self::Timeout,
            other => Self::Backend(other.to_string()),
        }
    }
}

/// Revocation state in Redis, shared by every replica. Errors and missed deadlines are
/// returned as errors, which [`RevocationStore`](super::RevocationStore) treats as revoked.
#[derive(Debug, Clone)]
pub struct RedisRevocationStore {
    conn: RedisConnection,
    scripts: Arc<[Script; 3]>,
    clock: Arc<dyn Clock>,
}

fn ttl_ms(ttl: Duration) -> u64 {
    duration_ms(ttl).max(1)
}

impl RedisRevocationStore {
    /// A store on `conn` with the system clock.
    #[must_use]
    pub fn new(conn: RedisConnection) -> Self {
        Self::with_clock(conn, Arc::new(SystemClock))
    }

    /// A store on `conn` reading time from `clock` (burn times for the race grace).
    #[must_use]
    pub fn with_clock(conn: RedisConnection, clock: Arc<dyn Clock>) -> Self {
        Self {
            conn,
            scripts: Arc::new([
                Script::new(RAISE_CUTOFF_LUA),
                Script::new(BURN_LUA),
                Script::new(TOTP_LUA),
            ]),
            clock,
        }
    }

    async fn script<T: redis::FromRedisValue>(
        &self,
        which: usize,
        key: String,
        args: (String, u64),
    ) -> Result<T, RevocationError> {
        let scripts = Arc::clone(&self.scripts);
        Ok(self
            .conn
            .run(|mut con| async move {
                match scripts.get(which) {
                    Some(script) => {
                        script
                            .key(key)
                            .arg(args.0)
                            .arg(args.1)
                            .invoke_async(&mut con)
                            .await
                    }
                    None => Err((redis::ErrorKind::Client, "no such script").into()),
                }
            })
            .await?)
    }
}

impl RevocationBackend for RedisRevocationStore {
    async fn raise_user_cutoff(
        &self,
        user: UserId,
        cutoff_secs: i64,
        ttl: Duration,
    ) -> Result<(), RevocationError> {
        let key = self.conn.key("rv:cut", &user.to_string());
        let _: i64 = self
            .script(0, key, (cutoff_secs.to_string(), ttl_ms(ttl)))
            .await?;
        Ok(())
    }

    async fn user_cutoff(&self, user: UserId) -> Result<Option<i64>, RevocationError> {
        let key = self.conn.key("rv:cut", &user.to_string());
        Ok(self
            .conn
            .run(|mut con| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<i64>>(&mut con)
                    .await
            })
            .await?)
    }

    async fn burn_jti(&self, jti: Uuid, ttl: Duration) -> Result<BurnOutcome, RevocationError> {
        let now = self.clock.now_ms();
        let key = self.conn.key("rv:jti", &jti.to_string());
        let at: i64 = self.script(1, key, (now.to_string(), ttl_ms(ttl))).await?;
        Ok(if at < 0 {
            BurnOutcome::Fresh
        } else {
            BurnOutcome::AlreadyBurned {
                ms: now.saturating_sub(u64::try_from(at).unwrap_or(0)),
            }
        })
    }

    async fn revoke_family(&self, family: Uuid, ttl: Duration) -> Result<(), RevocationError> {
        let key = self.conn.key("rv:fam", &family.to_string());
        let ttl = ttl_ms(ttl);
        self.conn
            .run(|mut con| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(ttl)
                    .query_async::<()>(&mut con)
                    .await
            })
            .await?;
        Ok(())
    }

    async fn family_revoked(&self, family: Uuid) -> Result<bool, RevocationError> {
        let key = self.conn.key("rv:fam", &family.to_string());
        Ok(self
            .conn
            .run(|mut con| async move {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query_async::<bool>(&mut con)
                    .await
            })
            .await?)
    }

    async fn use_totp_step(
        &self,
        user: UserId,
        step: u64,
        ttl: Duration,
    ) -> Result<StepOutcome, RevocationError> {
        let key = self.conn.key("rv:totp", &user.to_string());
        let replayed: i64 = self.script(2, key, (step.to_string(), ttl_ms(ttl))).await?;
        Ok(if replayed == 0 {
            StepOutcome::Accepted
        } else {
            StepOutcome::Replayed
        })
    }

    async fn use_nonce(
        &self,
        scope: &str,
        nonce: &str,
        ttl: Duration,
    ) -> Result<NonceOutcome, RevocationError> {
        let key = self.conn.key("rv:nonce", &format!("{scope}:{nonce}"));
        let ttl = ttl_ms(ttl);
        let set: Option<String> = self
            .conn
            .run(|mut con| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async::<Option<String>>(&mut con)
                    .await
            })
            .await?;
        Ok(if set.is_some() {
            NonceOutcome::Fresh
        } else {
            NonceOutcome::Seen
        })
    }
}
