//! Real processes for end-to-end tests: the `breeze-server` and `breeze-agent` binaries of
//! this checkout, started on loopback with their logs captured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::{TestDb, test_settings};

/// Kills the child on drop.
pub struct Proc {
    /// The process.
    pub child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// The process's log, without terminal colour sequences.
    pub fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}

pub fn target_debug_dir() -> PathBuf {
    // this test binary lives in <target>/debug/deps/
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Builds `package`'s binary `bin` from this checkout and copies it to a private path (the
/// target directory may be shared with other checkouts that rebuild the same binary).
///
/// With `BREEZE_E2E_RELEASE=1` the release build is used (benchmarks measure what ships).
pub fn build_private(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = target_debug_dir().parent().unwrap().to_path_buf();
    let release = std::env::var("BREEZE_E2E_RELEASE").is_ok_and(|v| v == "1");
    let mut args = vec!["build", "-p", package, "--bin", bin];
    if release {
        args.push("--release");
    }
    let status = Command::new(cargo)
        .args(&args)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building {bin} failed");
    let built = target
        .join(if release { "release" } else { "debug" })
        .join(bin);
    // a hard link next to the build: no copy of a 200 MB binary per test process, and a
    // rebuild by another checkout replaces `built`, not this inode
    let dir = target.join("e2e-private");
    std::fs::create_dir_all(&dir).unwrap();
    forget_old_links(&dir);
    let private = dir.join(format!("{bin}-{}", uuid::Uuid::new_v4().simple()));
    if std::fs::hard_link(&built, &private).is_err() {
        std::fs::copy(&built, &private).unwrap();
    }
    private
}

/// Removes private binaries of earlier runs: links whose inode has not been linked (its
/// change time) for an hour. Linking updates the change time of every link of the inode,
/// so a binary in use by a running test always looks fresh.
pub fn forget_old_links(dir: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    for e in entries.flatten() {
        let old = e
            .metadata()
            .is_ok_and(|m| now.saturating_sub(m.ctime()) > 3600);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The reference agent binary (the workspace's own `breeze-agent`).
pub fn agent_binary() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_private("agent-reference", "breeze-agent"))
}

/// The `breeze-server` binary of this checkout.
pub fn server_binary() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_private("server-reference", "breeze-server"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `breeze-server serve` on `db` and waits for `/ready`.
pub async fn server_process(db: &TestDb, dir: &Path, name: &str) -> (Proc, String) {
    server_process_with(db, dir, name, &[]).await
}

/// [`server_process`] with extra settings.
pub async fn server_process_with(
    db: &TestDb,
    dir: &Path,
    name: &str,
    extra: &[(&str, &str)],
) -> (Proc, String) {
    let (proc, port) = spawn_server(db, dir, name, extra);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(proc, &base, &reqwest::Client::new()).await
}

/// Starts `breeze-server serve` on a free loopback port without waiting for it.
pub fn spawn_server(db: &TestDb, dir: &Path, name: &str, extra: &[(&str, &str)]) -> (Proc, u16) {
    spawn_server_bin(server_binary(), db, dir, name, extra)
}

/// [`spawn_server`] with another build of `breeze-server` (the previous release).
pub fn spawn_server_bin(
    binary: &Path,
    db: &TestDb,
    dir: &Path,
    name: &str,
    extra: &[(&str, &str)],
) -> (Proc, u16) {
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(binary);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BREEZE_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file);
    for (k, v) in test_settings(db) {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let proc = Proc {
        child: cmd.spawn().unwrap(),
        log,
    };
    (proc, port)
}

/// Waits until `base` answers `/ready` with 200 through `http`.
pub async fn wait_ready(proc: Proc, base: &str, http: &reqwest::Client) -> (Proc, String) {
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await
            && r.status() == 200
        {
            return (proc, base.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not become ready: {}", proc.log());
}

pub fn agent_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(agent_binary());
    cmd.arg("--config-dir")
        .arg(dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

pub fn agent_enroll(dir: &Path, base: &str, key: &str) {
    let out = agent_cmd(dir)
        .args(["enroll", key, "--server", base])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "enroll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn agent_run(dir: &Path, logs: &Path, name: &str) -> Proc {
    let log = logs.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = agent_cmd(dir)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    Proc { child, log }
}

/// Reads a YAML scalar of a flat file written by the agent.
pub fn yaml_value(path: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("no `{key}` in {}", path.display()))
}

pub async fn poll<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The `pct`-th percentile (nearest rank) of sorted samples (the benchmarks' figures).
#[must_use]
pub fn percentile(sorted: &[std::time::Duration], pct: usize) -> std::time::Duration {
    let i = (sorted.len() - 1) * pct / 100;
    sorted[i.min(sorted.len() - 1)]
}

/// A benchmark size from the environment (`BENCH_*`), else `default`.
#[must_use]
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
