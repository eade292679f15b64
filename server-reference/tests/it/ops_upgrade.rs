//! Rolling upgrade: the previous release (`server-reference/upgrade/PREVIOUS_RELEASE`, built
//! by `scripts/previous-release`, path in `BREEZE_PREVIOUS_SERVER_BIN`) and this checkout
//! share one database. The old release migrates and serves two replicas; the new release
//! migrates the database while they serve; the replicas are replaced one at a time (drained,
//! stopped with SIGTERM, started from the new binary) while a client keeps making audited
//! writes, reads and agent heartbeats through whichever replicas are in the pool. Every
//! request succeeds; sessions, access tokens and agent credentials issued by one release are
//! accepted by the other; both releases verify the audit chains written by both.
//!
//! Migrations since the previous release must only expand the schema (new tables, nullable
//! or defaulted columns, new indexes): the old release still runs on the migrated database.
//! A migration that contracts (drops, renames, retypes, tightens) carries the marker
//! `-- upgrade: contract` and lands one release after the code stopped using what it removes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::auth::{Session, session_of};
use crate::common::procs::{Proc, server_binary, spawn_server_bin, wait_ready};
use crate::common::{TestDb, test_settings};

const EMAIL: &str = "upgrade-admin@example.test";
const PASSWORD: &str = "Upgrade-Admin-Password-42";

/// The previous release's binary, or `None` (skipped with a message) outside CI.
fn previous_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BREEZE_PREVIOUS_SERVER_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "BREEZE_PREVIOUS_SERVER_BIN: {}",
            path.display()
        );
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: BREEZE_PREVIOUS_SERVER_BIN is not set (scripts/test builds it with scripts/previous-release)"
    );
    eprintln!("skipped: set BREEZE_PREVIOUS_SERVER_BIN=$(scripts/previous-release)");
    None
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn previous_commit() -> String {
    let text =
        std::fs::read_to_string(repo_root().join("server-reference/upgrade/PREVIOUS_RELEASE"))
            .unwrap();
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap()
        .to_owned()
}

fn run(binary: &Path, db: &TestDb, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new(binary)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(test_settings(db))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Replica {
    proc: Proc,
    base: String,
}

async fn start(binary: &Path, db: &TestDb, dir: &Path, name: &str) -> Replica {
    let (proc, port) = spawn_server_bin(binary, db, dir, name, &[]);
    let (proc, base) = wait_ready(
        proc,
        &format!("http://127.0.0.1:{port}"),
        &reqwest::Client::new(),
    )
    .await;
    Replica { proc, base }
}

/// SIGTERM (graceful: requests in flight finish) and wait for the exit.
fn stop(mut replica: Replica) {
    let status = Command::new("kill")
        .args(["-TERM", &replica.proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if replica.proc.child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("replica did not stop: {}", replica.proc.log());
}

/// The load balancer: the replicas requests go to, round robin.
#[derive(Clone, Default)]
struct Pool(Arc<Mutex<(Vec<String>, usize)>>);

impl Pool {
    fn set(&self, bases: &[&str]) {
        *self.0.lock().unwrap() = (bases.iter().map(|b| (*b).to_owned()).collect(), 0);
    }
    fn next(&self) -> String {
        let mut guard = self.0.lock().unwrap();
        let (bases, i) = &mut *guard;
        *i = i.wrapping_add(1);
        bases[*i % bases.len()].clone()
    }
}

/// Password + TOTP. `step` picks the code of the current 30 s step (0) or the next (1): a
/// second login within one step needs the next code, a used step is refused (replay).
async fn login(http: &reqwest::Client, base: &str, totp: &str, step: i64) -> Session {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let challenge: Value = res.json().await.unwrap();
    let secret = breeze_crypto::totp::TotpSecret::from_base32(totp).unwrap();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let code = breeze_crypto::totp::code_at(&secret, now + 30 * step).unwrap();
    let res = http
        .post(format!("{base}/api/v1/auth/mfa/verify"))
        .json(&json!({"mfaToken": challenge["mfaToken"], "code": code}))
        .send()
        .await
        .unwrap();
    session_of(res).await
}

async fn created(res: reqwest::Response, what: &str) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{what}: {body}");
    body
}

async fn refresh(http: &reqwest::Client, base: &str, s: &Session) -> Session {
    let res = http
        .post(format!("{base}/api/v1/auth/refresh"))
        .header(
            "cookie",
            format!("breeze_refresh={}; breeze_csrf={}", s.refresh, s.csrf),
        )
        .header("x-breeze-csrf", &s.csrf)
        .send()
        .await
        .unwrap();
    session_of(res).await
}

/// What the client saw: successes per kind and every failure.
#[derive(Default)]
struct Tally {
    writes: usize,
    reads: usize,
    beats: usize,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_replicas_share_one_database_through_a_rolling_upgrade() {
    let Some(old) = previous_binary() else {
        return;
    };
    crate::common::install_crypto();
    let new = server_binary().to_path_buf();
    let db = TestDb::empty().await;
    let tmp =
        std::env::temp_dir().join(format!("breeze-upgrade-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();

    // the previous release migrates, creates the admin and serves two replicas
    run(&old, &db, &["migrate"], None);
    let out = run(
        &old,
        &db,
        &[
            "bootstrap-admin",
            "--email",
            EMAIL,
            "--password-stdin",
            "--with-totp",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    let totp = out
        .lines()
        .find_map(|l| l.strip_prefix("totp secret (base32, shown once): "))
        .unwrap()
        .trim()
        .to_owned();
    let a = start(&old, &db, &tmp, "a-old").await;
    let b = start(&old, &db, &tmp, "b-old").await;
    let http = reqwest::Client::new();
    let session = login(&http, &a.base, &totp, 0).await;
    let token = session.access.clone();
    let post = |base: &str, path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let partner = created(
        post(&a.base, "/api/v1/partners", json!({"name": "Upgrade MSP"}))
            .await
            .unwrap(),
        "partner",
    )
    .await;
    let org = created(
        post(
            &b.base,
            "/api/v1/orgs",
            json!({"name": "Upgrade Org", "partnerId": partner["id"]}),
        )
        .await
        .unwrap(),
        "org",
    )
    .await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let site = created(
        post(
            &a.base,
            &format!("/api/v1/orgs/{org_id}/sites"),
            json!({"name": "HQ", "timezone": "Europe/Paris"}),
        )
        .await
        .unwrap(),
        "site",
    )
    .await;
    let key = created(
        post(
            &b.base,
            &format!("/api/v1/orgs/{org_id}/enrollment-keys"),
            json!({"siteId": site["id"], "name": "upgrade", "maxUsage": 5, "expiresInMinutes": 60}),
        )
        .await
        .unwrap(),
        "enrollment key",
    )
    .await;
    // an agent enrolled by the previous release
    let enrolled = created(
        http.post(format!("{}/api/v1/agents/enroll", a.base))
            .json(&json!({
                "enrollmentKey": key["key"],
                "hostname": "upgrade-host",
                "osType": "linux",
                "osVersion": "6.1",
                "architecture": "x86_64",
                "agentVersion": "1.0.0",
            }))
            .send()
            .await
            .unwrap(),
        "enroll",
    )
    .await;
    let agent_id = enrolled["agentId"].as_str().unwrap().to_owned();
    let agent_token = enrolled["authToken"].as_str().unwrap().to_owned();

    // the client: an audited write, a read and a heartbeat per round, through the pool
    let pool = Pool::default();
    pool.set(&[&a.base, &b.base]);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let running = Arc::new(AtomicBool::new(true));
    let client = {
        let (pool, tally, running, http) = (
            pool.clone(),
            Arc::clone(&tally),
            Arc::clone(&running),
            http.clone(),
        );
        let (token, org_id, agent_id, agent_token) = (
            token.clone(),
            org_id.clone(),
            agent_id.clone(),
            agent_token.clone(),
        );
        tokio::spawn(async move {
            let mut round = 0_u32;
            while running.load(Ordering::SeqCst) {
                round += 1;
                let base = pool.next();
                let write = http
                    .post(format!("{base}/api/v1/orgs/{org_id}/sites"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("site {round}"), "timezone": "UTC"}))
                    .send()
                    .await;
                let base = pool.next();
                let read = http
                    .get(format!("{base}/api/v1/orgs/{org_id}/sites"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                let base = pool.next();
                let beat = http
                    .post(format!("{base}/api/v1/agents/{agent_id}/heartbeat"))
                    .bearer_auth(&agent_token)
                    .json(&json!({"status": "ok", "agentVersion": "1.0.0"}))
                    .send()
                    .await;
                {
                    let mut t = tally.lock().unwrap();
                    for (kind, result, want) in [
                        ("write", write, 201),
                        ("read", read, 200),
                        ("beat", beat, 200),
                    ] {
                        match result {
                            Ok(r) if r.status() == want => match kind {
                                "write" => t.writes += 1,
                                "read" => t.reads += 1,
                                _ => t.beats += 1,
                            },
                            Ok(r) => t
                                .failures
                                .push(format!("{kind} round {round}: {}", r.status())),
                            Err(e) => t.failures.push(format!("{kind} round {round}: {e}")),
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let rounds_after = |min: usize| {
        let tally = Arc::clone(&tally);
        async move {
            for _ in 0..300 {
                if tally.lock().unwrap().writes >= min {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the client made no progress");
        }
    };
    rounds_after(10).await;

    // the new release migrates the database under the running old replicas
    run(&new, &db, &["migrate"], None);
    rounds_after(20).await;

    // replica B: drained, stopped gracefully, started from the new release
    pool.set(&[&a.base]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(b);
    let b = start(&new, &db, &tmp, "b-new").await;
    pool.set(&[&a.base, &b.base]);
    rounds_after(40).await;

    // mixed: what the old release issued works on the new one, and back
    let res = http
        .get(format!("{}/api/v1/orgs/{org_id}", b.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "an old access token on the new release");
    let renewed = refresh(&http, &b.base, &session).await;
    let res = http
        .get(format!("{}/api/v1/orgs/{org_id}", a.base))
        .bearer_auth(&renewed.access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a token from the new release on the old one"
    );
    let again = refresh(&http, &a.base, &renewed).await;
    assert_ne!(again.refresh, renewed.refresh, "the refresh token rotated");
    // a login on the new release while the old one serves
    let fresh = login(&http, &b.base, &totp, 1).await;
    assert!(!fresh.access.is_empty());

    // replica A too
    pool.set(&[&b.base]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(a);
    let a = start(&new, &db, &tmp, "a-new").await;
    pool.set(&[&a.base, &b.base]);
    rounds_after(60).await;
    running.store(false, Ordering::SeqCst);
    client.await.unwrap();

    let t = tally.lock().unwrap();
    println!(
        "rolling upgrade: {} audited writes, {} reads, {} heartbeats, {} failures",
        t.writes,
        t.reads,
        t.beats,
        t.failures.len()
    );
    assert!(t.failures.is_empty(), "failures: {:?}", t.failures);
    assert!(t.writes >= 60 && t.reads >= 60 && t.beats >= 60);
    drop(t);

    // both releases verify every chain written by both
    for binary in [&new, &old] {
        let out = run(binary, &db, &["audit", "verify"], None);
        assert!(!out.contains("BROKEN"), "{}: {out}", binary.display());
    }
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Statements that contract the schema (the old release may still use what they change).
fn contracting_statements(sql: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut found = Vec::new();
    for statement in text.split(';').map(words) {
        let contracting = statement.contains("drop table")
            || statement.contains("drop column")
            || statement.contains(" rename ")
            || statement.contains("set not null")
            || (statement.contains("alter column") && statement.contains(" type "))
            || (statement.contains("add column")
                && statement.contains("not null")
                && !statement.contains("default"));
        if contracting {
            found.push(statement);
        }
    }
    found
}

#[test]
fn the_contract_rule_finds_what_would_break_the_previous_release() {
    assert!(
        contracting_statements(
            "CREATE TABLE t (id uuid PRIMARY KEY);\nALTER TABLE d ADD COLUMN x text;\n\
         ALTER TABLE d ADD COLUMN y int NOT NULL DEFAULT 0; -- drop column in a comment\n\
         CREATE INDEX i ON d (x);"
        )
        .is_empty()
    );
    for bad in [
        "ALTER TABLE d DROP COLUMN x;",
        "DROP TABLE old_things;",
        "ALTER TABLE d RENAME COLUMN x TO y;",
        "ALTER TABLE d RENAME TO e;",
        "ALTER TABLE d ALTER COLUMN x SET NOT NULL;",
        "ALTER TABLE d ALTER COLUMN x TYPE bigint;",
        "ALTER TABLE d ADD COLUMN z text NOT NULL;",
    ] {
        assert_eq!(contracting_statements(bad).len(), 1, "{bad}");
    }
}

#[test]
fn migrations_since_the_previous_release_only_expand() {
    let commit = previous_commit();
    let root = repo_root();
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&root)
            .args(args)
            .output()
            .unwrap()
    };
    if !git(&["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .status
        .success()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: the previous release {commit} is not in this clone's history"
        );
        eprintln!("skipped: {commit} is not in this clone's history");
        return;
    }
    let listed = git(&[
        "ls-tree",
        "--name-only",
        &commit,
        "server-reference/migrations/",
    ]);
    assert!(listed.status.success());
    let released: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(released.len() > 10, "{released:?}");
    let dir = root.join("server-reference/migrations");
    let mut current: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            format!(
                "server-reference/migrations/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    current.sort();
    // released migrations are never edited (the old release's database has applied them)
    for path in &released {
        let then = git(&["show", &format!("{commit}:{path}")]);
        assert!(then.status.success(), "{path} was removed");
        let now = std::fs::read(root.join(path)).unwrap();
        assert!(
            then.stdout == now,
            "{path} changed since the previous release"
        );
    }
    let newest_released = released.iter().max().unwrap();
    let mut checked = 0;
    for path in current.iter().filter(|p| !released.contains(p)) {
        assert!(
            path > newest_released,
            "{path} sorts before a released migration"
        );
        let sql = std::fs::read_to_string(root.join(path)).unwrap();
        if sql.contains("-- upgrade: contract") {
            println!("{path}: contract migration (marked)");
            continue;
        }
        let found = contracting_statements(&sql);
        assert!(
            found.is_empty(),
            "{path} contracts the schema the previous release still uses: {found:?} \
             (expand now, contract one release later with `-- upgrade: contract`)"
        );
        checked += 1;
    }
    println!(
        "migrations: {} released unchanged, {checked} new ones expand only",
        released.len()
    );
}
