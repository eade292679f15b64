//! Helpers of the operations tests: running the real `breeze-server` binary against a test
//! database, and reading rows as the superuser for assertions.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use super::{TestDb, test_settings};

/// The built `breeze-server` binary.
pub fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_breeze-server")
}

/// Runs `breeze-server ARGS` with exactly `env` (the parent's environment is cleared so the
/// superuser `DATABASE_URL` of the test run never leaks in), feeding `stdin`.
pub fn run_bin(args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(server_bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn breeze-server");
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// Runs the binary with the test settings of `db`.
pub fn run_on(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    run_bin(args, &test_settings(db), stdin)
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `(action, resource_id, result)` of the audit entries of `chain` (`system` or an org id),
/// in sequence order.
pub async fn audit_actions(db: &TestDb, chain: &str) -> Vec<(String, Option<String>, String)> {
    let pool = db.superuser_pool().await;
    sqlx::query_as(
        "SELECT action, resource_id, result FROM audit_log WHERE chain_key = $1 AND entry_kind = 'event' ORDER BY seq",
    )
    .bind(chain)
    .fetch_all(&pool)
    .await
    .unwrap()
}
