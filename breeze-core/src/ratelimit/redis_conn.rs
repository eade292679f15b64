//! One reconnecting Redis connection shared by the Redis backends, with a deadline per call.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The default deadline of one Redis call.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(250);

/// Why a Redis call did not produce an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisCallError {
    /// The URL does not parse.
    #[error("invalid redis url")]
    InvalidUrl,
    /// No answer before the deadline.
    #[error("redis did not answer before the deadline")]
    Timeout,
    /// Connection or protocol failure.
    #[error("redis error: {0}")]
    Redis(String),
}

/// A cloneable handle on a reconnecting Redis connection, a key prefix and a call deadline.
///
/// Every call runs under the deadline; a late or failed call is an error, which the guards
/// built on it treat as "refuse" (fail closed).
#[derive(Clone)]
pub struct RedisConnection {
    manager: ConnectionManager,
    prefix: String,
    deadline: Duration,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("RedisConnection")
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connects to `url` (the first connection must succeed; later ones are re-established in
    /// the background). Keys are prefixed with `prefix`; each call must finish within `deadline`.
    ///
    /// # Errors
    /// [`RedisCallError::InvalidUrl`] for a bad URL, [`RedisCallError::Timeout`] or
    /// [`RedisCallError::Redis`] when the first connection fails.
    pub async fn connect(
        url: &str,
        prefix: &str,
        deadline: Duration,
    ) -> Result<Self, RedisCallError> {
        let client = redis::Client::open(url).map_err(|_| RedisCallError::InvalidUrl)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(deadline))
            .set_response_timeout(Some(deadline))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let manager = tokio::time::timeout(
            deadline.saturating_mul(4),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| RedisCallError::Timeout)?
        .map_err(|e| RedisCallError::Redis(e.to_string()))?;
        Ok(Self {
            manager,
            prefix: prefix.to_owned(),
            deadline,
        })
    }

    /// The full Redis key for `area` and `key`.
    #[must_use]
    pub fn key(&self, area: &str, key: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + area.len() + key.len() + 1);
        out.push_str(&self.prefix);
        out.push_str(area);
        out.push(':');
        out.push_str(key);
        out
    }

    /// The call deadline.
    #[must_use]
    pub const fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Runs `call` with a fresh handle on the connection, under the deadline.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, RedisCallError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.deadline, call(self.manager.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(RedisCallError::Redis(e.to_string())),
            Err(_) => Err(RedisCallError::Timeout),
        }
    }
}
