//! A throwaway `redis-server` on a loopback port, for tests that stop Redis under a server
//! (fail-closed checks, recovery). Killed on drop.
#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// The process and its port.
pub struct ThrowawayRedis {
    child: Option<Child>,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

impl ThrowawayRedis {
    /// On a free port.
    pub async fn start() -> Self {
        Self::start_on(super::procs::free_port()).await
    }

    /// On `port` (again after [`Self::kill`], to bring "the same" Redis back).
    pub async fn start_on(port: u16) -> Self {
        assert!(
            std::path::Path::new(REDIS_SERVER).exists(),
            "{REDIS_SERVER} is missing: run the tests through scripts/test, which installs Redis"
        );
        let child = Command::new(REDIS_SERVER)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let redis = Self {
            child: Some(child),
            port,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not start on port {port}");
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL, and wait for the exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
