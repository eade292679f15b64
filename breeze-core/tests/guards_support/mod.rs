//! Helpers shared by the guards test suites: Redis connection, a throwaway redis-server.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[cfg(feature = "redis")]
use breeze_core::ratelimit::RedisConnection;

/// A clock start near the real time, so Redis TTLs and manual timestamps agree.
pub fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// REDIS_URL, or a failure naming scripts/test (never a silent pass).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "REDIS_URL is unset: the Redis backend suite needs a Redis. Run scripts/test (it \
             starts a throwaway Redis and sets REDIS_URL), or set REDIS_URL=redis://127.0.0.1:6379"
        )
    })
}

#[cfg(feature = "redis")]
/// A connection with a unique key prefix per call, so concurrent runs never collide.
pub async fn redis_conn() -> RedisConnection {
    let prefix = format!("breeze-test:{}:", uuid::Uuid::new_v4().simple());
    RedisConnection::connect(&redis_url(), &prefix, Duration::from_secs(3))
        .await
        .expect("connect to REDIS_URL")
}

/// A redis-server process owned by a test; killed on drop.
pub struct OwnRedis {
    child: Option<Child>,
    pub port: u16,
}

impl OwnRedis {
    /// Starts `redis-server` on a free loopback port without persistence.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { child: None, port };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let bin = std::env::var("REDIS_SERVER_BIN")
            .unwrap_or_else(|_| "/usr/bin/redis-server".to_owned());
        let child = Command::new(&bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}): install redis-server (scripts/test needs it)")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    #[cfg(feature = "redis")]
    /// Sends one command with redis-cli semantics over a fresh synchronous-ish connection.
    pub async fn command(&self, args: &[&str]) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: redis::Value = cmd.query_async(&mut con).await.unwrap();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Instantiates a backend suite: `module` holds one test per case, each given a fresh
/// backend. `clocked` cases get `(backend, ManualClock)` from `make(clock)`; `real` cases get
/// a backend on the system clock from `make_real()`. The caller has `suite`, `ManualClock`
/// and `guards_support` in scope.
#[macro_export]
macro_rules! backend_suite {
    ($module:ident, $make:expr, $make_real:expr, clocked: [$($case:ident),* $(,)?], real: [$($real:ident),* $(,)?]) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = ManualClock::new(guards_support::now_ms());
                    let backend = $make(clock.clone()).await;
                    suite::$case(backend, clock).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $real() {
                    suite::$real($make_real().await).await;
                }
            )*
        }
    };
}
