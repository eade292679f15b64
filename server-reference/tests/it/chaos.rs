//! Faults under load (issue 24), run by `scripts/chaos` (ignored in the normal suite: each
//! takes tens of seconds and kills processes). Each scenario prints one `chaos:` line with
//! its figures; docs/RELIABILITY.md has the table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::agents::{mfa_token, verify_all_chains};
use crate::common::procs::{Proc, server_binary, server_process};
use crate::common::redis::ThrowawayRedis;
use crate::common::{TestServer, system_context};

/// What one writer saw for one write.
#[derive(Debug)]
enum Outcome {
    /// 201 with the new site's id.
    Created(Uuid),
    /// Any other status, or no answer at all (connection refused or reset).
    Failed(String),
}

/// `kill -9` of `breeze-server` while 16 clients create sites (each an audited write) in two
/// organizations: after a restart every acknowledged write is present with its audit entry,
/// no write is half applied (a site without its entry or an entry without its site), and
/// every chain verifies without a fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault injection: run by scripts/chaos"]
async fn chaos_server_kill9_under_audited_writes() {
    server_binary();
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let admin = fx.platform_admin().await;
    let token = mfa_token(&harness, &fx, &admin).await;
    let partner = fx.partner().await;
    let orgs = [fx.org(partner).await, fx.org(partner).await];
    let tmp = std::env::temp_dir().join(format!("breeze-chaos-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (first, base) = server_process(&harness.db, &tmp, "before-kill").await;
    let base = Arc::new(RwLock::new(base));
    let running = Arc::new(AtomicBool::new(true));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut writers = Vec::new();
    for client in 0..16_usize {
        let (base, running, outcomes, http, token) = (
            Arc::clone(&base),
            Arc::clone(&running),
            Arc::clone(&outcomes),
            http.clone(),
            token.clone(),
        );
        let org = orgs[client % 2];
        writers.push(tokio::spawn(async move {
            let mut n = 0_u32;
            while running.load(Ordering::SeqCst) {
                n += 1;
                let url = format!("{}/api/v1/orgs/{org}/sites", base.read().unwrap());
                let sent = http
                    .post(url)
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("w{client}-{n}"), "timezone": "UTC"}))
                    .send()
                    .await;
                let outcome = match sent {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = r.json().await.unwrap();
                        Outcome::Created(v["id"].as_str().unwrap().parse().unwrap())
                    }
                    Ok(r) => Outcome::Failed(r.status().to_string()),
                    Err(e) => Outcome::Failed(if e.is_connect() {
                        "connection refused".into()
                    } else {
                        "no answer".into()
                    }),
                };
                let failed = matches!(outcome, Outcome::Failed(_));
                outcomes.lock().unwrap().push(outcome);
                if failed {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // SIGKILL: no graceful shutdown, transactions in flight die with the process
    let mut first: Proc = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (second, new_base) = server_process(&harness.db, &tmp, "after-kill").await;
    *base.write().unwrap() = new_base;
    let downtime = killed_at.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let acknowledged: Vec<Uuid> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Created(id) => Some(*id),
            Outcome::Failed(_) => None,
        })
        .collect();
    let mut failures = BTreeMap::<String, usize>::new();
    for o in &outcomes {
        if let Outcome::Failed(why) = o {
            *failures.entry(why.clone()).or_default() += 1;
        }
    }
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let sites: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM sites WHERE org_id = ANY($1) AND name LIKE 'w%-%'")
            .bind(orgs.iter().map(|o| *o.as_uuid()).collect::<Vec<_>>())
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let audited: Vec<Uuid> = sqlx::query_scalar(
        "SELECT resource_id::uuid FROM audit_log WHERE action = 'site.create' AND org_id = ANY($1)",
    )
    .bind(orgs.iter().map(|o| *o.as_uuid()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    let site_set: std::collections::BTreeSet<Uuid> = sites.iter().copied().collect();
    let audit_set: std::collections::BTreeSet<Uuid> = audited.iter().copied().collect();
    let missing = acknowledged
        .iter()
        .filter(|id| !site_set.contains(id) || !audit_set.contains(id))
        .count();
    let half_applied = site_set.symmetric_difference(&audit_set).count();
    let applied_unacknowledged = sites.len() - acknowledged.len().min(sites.len());
    verify_all_chains(&harness, &fx).await;
    println!(
        "chaos: server kill -9 under 16 writers: {} writes acknowledged, {} missing; {} failed while down {:?} ({} applied without an answer), {} half applied; chains verify",
        acknowledged.len(),
        missing,
        outcomes.len() - acknowledged.len(),
        failures,
        applied_unacknowledged,
        half_applied
    );
    println!(
        "chaos: restart took {:.1} s until /ready",
        downtime.as_secs_f64()
    );
    assert!(acknowledged.len() > 50, "the writers made progress");
    assert_eq!(missing, 0, "an acknowledged write is missing");
    assert_eq!(half_applied, 0, "a write is half applied");
    assert_eq!(audited.len(), audit_set.len(), "one audit entry per site");
    drop(second);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Redis stopped under load with `REDIS_URL` set: every request, each rate-limited and each
/// authenticated one revocation-checked, fails closed (503, 0 admitted), and service comes
/// back when Redis does, without a restart of the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault injection: run by scripts/chaos"]
async fn chaos_redis_stopped_fails_closed_and_recovers() {
    let mut redis = ThrowawayRedis::start().await;
    let url = redis.url();
    let server = TestServer::start_with(move |s| s.push(("REDIS_URL".into(), url.clone()))).await;
    let fx = server.fixtures().await;
    let admin = fx.platform_admin().await;
    let token = mfa_token(&server, &fx, &admin).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let round = |label: &'static str| {
        let (http, token) = (http.clone(), token.clone());
        let base = server.base.clone();
        async move {
            let mut statuses = BTreeMap::<u16, usize>::new();
            for i in 0..50 {
                let read = http
                    .get(format!("{base}/api/v1/orgs"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                let login = http
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({"email": format!("nobody{i}@example.test"), "password": "x"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                *statuses.entry(read).or_default() += 1;
                *statuses.entry(login).or_default() += 1;
            }
            println!("chaos: redis {label}: 100 requests answered {statuses:?}");
            statuses
        }
    };
    let before = round("up").await;
    assert_eq!(before.get(&200), Some(&50), "{before:?}");
    redis.kill();
    let started = Instant::now();
    let down = round("stopped").await;
    let admitted: usize = down
        .iter()
        .filter(|(s, _)| (200..300).contains(*s) || **s == 401)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        admitted, 0,
        "requests admitted without their checks: {down:?}"
    );
    assert_eq!(down.get(&503), Some(&100), "{down:?}");
    let down_for = started.elapsed();
    let _redis = ThrowawayRedis::start_on(redis.port).await;
    let back = Instant::now();
    let mut recovered = None;
    for _ in 0..200 {
        let s = http
            .get(format!("{}/api/v1/orgs", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        if s == 200 {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("service did not come back with Redis");
    let after = round("back").await;
    assert_eq!(after.get(&200), Some(&50), "{after:?}");
    println!(
        "chaos: redis stopped {:.1} s under load: 0 of 100 admitted (all 503); back {:.1} s after Redis returned, no restart",
        down_for.as_secs_f64(),
        recovered.as_secs_f64()
    );
}

/// The cluster `scripts/chaos` started for the PostgreSQL scenarios (a tmpfs volume of its
/// own, `DATABASE_URL` pointing at it): data directory, binaries, start options, volume.
struct ChaosCluster {
    data: std::path::PathBuf,
    bin: std::path::PathBuf,
    opts: String,
    volume: std::path::PathBuf,
}

impl ChaosCluster {
    fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .unwrap_or_else(|_| panic!("{name} is not set: run this through scripts/chaos"))
        };
        Self {
            data: var("CHAOS_PG_DATA").into(),
            bin: var("CHAOS_PG_BIN").into(),
            opts: var("CHAOS_PG_OPTS"),
            volume: var("CHAOS_PG_VOLUME").into(),
        }
    }

    fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    fn alive(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    /// SIGKILL to the postmaster only (its backends notice and exit on their own).
    fn kill_postmaster(&self) {
        let pid = self.postmaster_pid().expect("postmaster.pid");
        let children: Vec<u32> =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
        assert!(
            std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        // wait for the orphaned backends to exit before a restart can take the shared memory
        for _ in 0..200 {
            if !Self::alive(pid) && children.iter().all(|c| !Self::alive(*c)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("PostgreSQL processes did not exit after the postmaster was killed");
    }

    fn start(&self) {
        let out = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.volume.join("restart.log"))
            .args(["-w", "-o", &self.opts, "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn running(&self) -> bool {
        self.postmaster_pid().is_some_and(Self::alive)
    }
}

/// Writers and readers through one server process while the database fails; per-phase
/// status counts and the ids of acknowledged writes.
struct Load {
    running: Arc<AtomicBool>,
    phase: Arc<RwLock<&'static str>>,
    seen: Arc<Mutex<BTreeMap<(&'static str, String), usize>>>,
    created: Arc<Mutex<Vec<Uuid>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, token: &str, org: Uuid, clients: usize) -> Self {
        let running = Arc::new(AtomicBool::new(true));
        let phase = Arc::new(RwLock::new("before"));
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let created = Arc::new(Mutex::new(Vec::new()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for client in 0..clients {
            let (running, phase, seen, created, http) = (
                Arc::clone(&running),
                Arc::clone(&phase),
                Arc::clone(&seen),
                Arc::clone(&created),
                http.clone(),
            );
            let (base, token) = (base.to_owned(), token.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut n = 0_u32;
                while running.load(Ordering::SeqCst) {
                    n += 1;
                    let write = client % 2 == 0;
                    let sent = if write {
                        http.post(format!("{base}/api/v1/orgs/{org}/sites"))
                            .bearer_auth(&token)
                            .json(&json!({"name": format!("p{client}-{n}"), "timezone": "UTC"}))
                            .send()
                            .await
                    } else {
                        http.get(format!("{base}/api/v1/orgs/{org}/sites"))
                            .bearer_auth(&token)
                            .send()
                            .await
                    };
                    let label = match sent {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            if status == 201 {
                                let v: Value = r.json().await.unwrap_or_default();
                                if let Some(id) = v["id"].as_str().and_then(|s| s.parse().ok()) {
                                    created.lock().unwrap().push(id);
                                }
                            }
                            status.to_string()
                        }
                        Err(_) => "no answer".to_owned(),
                    };
                    let p = *phase.read().unwrap();
                    *seen.lock().unwrap().entry((p, label)).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        Self {
            running,
            phase,
            seen,
            created,
            tasks,
        }
    }

    fn phase(&self, name: &'static str) {
        *self.phase.write().unwrap() = name;
    }

    fn count(&self, phase: &str, label: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|((p, l), _)| *p == phase && l == label)
            .map(|(_, n)| n)
            .sum()
    }

    async fn stop(self) -> (BTreeMap<(&'static str, String), usize>, Vec<Uuid>) {
        self.running.store(false, Ordering::SeqCst);
        for t in self.tasks {
            t.await.unwrap();
        }
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        let created = std::mem::take(&mut *self.created.lock().unwrap());
        (seen, created)
    }
}

/// Every acknowledged site is there with its audit entry; no site without an entry or entry
/// without a site (nothing half applied); every chain verifies.
async fn writes_consistent(
    harness: &TestServer,
    fx: &crate::common::Fixtures,
    org: Uuid,
    acked: &[Uuid],
) -> usize {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let sites: std::collections::BTreeSet<Uuid> =
        sqlx::query_scalar("SELECT id FROM sites WHERE org_id = $1 AND name LIKE 'p%-%'")
            .bind(org)
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let audited: std::collections::BTreeSet<Uuid> = sqlx::query_scalar(
        "SELECT resource_id::uuid FROM audit_log WHERE action = 'site.create' AND org_id = $1",
    )
    .bind(org)
    .fetch_all(&mut *tx)
    .await
    .unwrap()
    .into_iter()
    .collect();
    drop(tx);
    let missing: Vec<_> = acked.iter().filter(|id| !sites.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged writes missing: {missing:?}"
    );
    assert_eq!(sites, audited, "a write is half applied");
    verify_all_chains(harness, fx).await;
    sites.len()
}

/// What the clients were answered in `phase`, by status.
fn answers_in<'a>(
    seen: &'a BTreeMap<(&'static str, String), usize>,
    phase: &str,
) -> BTreeMap<&'a String, &'a usize> {
    seen.iter()
        .filter(|((p, _), _)| *p == phase)
        .map(|((_, l), n)| (l, n))
        .collect()
}

/// Answers with a 5xx other than 503, in any phase.
fn other_5xx(seen: &BTreeMap<(&'static str, String), usize>) -> usize {
    seen.iter()
        .filter(|((_, l), _)| l.starts_with('5') && l != "503")
        .map(|(_, n)| n)
        .sum()
}

async fn ready_status(base: &str) -> u16 {
    reqwest::get(format!("{base}/ready"))
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// The PostgreSQL scenarios' start: a platform admin, one organization, a server process
/// on the chaos cluster and 8 clients (half writing sites, half reading).
struct World {
    harness: TestServer,
    fx: crate::common::Fixtures,
    org: Uuid,
    tmp: std::path::PathBuf,
    server: Proc,
    base: String,
    load: Load,
}

async fn world() -> World {
    server_binary();
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let admin = fx.platform_admin().await;
    let token = mfa_token(&harness, &fx, &admin).await;
    let partner = fx.partner().await;
    let org = *fx.org(partner).await.as_uuid();
    let tmp = std::env::temp_dir().join(format!("breeze-chaos-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (server, base) = server_process(&harness.db, &tmp, "server").await;
    let load = Load::start(&base, &token, org, 8);
    World {
        harness,
        fx,
        org,
        tmp,
        server,
        base,
        load,
    }
}

/// `kill -9` of PostgreSQL's postmaster under load: the server keeps running, answers 503
/// (never 500) while the database is gone, `/ready` says so, and it recovers by itself once
/// PostgreSQL is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault injection: run by scripts/chaos (its own PostgreSQL cluster)"]
async fn chaos_postgres_postmaster_killed() {
    let cluster = ChaosCluster::from_env();
    let World {
        harness,
        fx,
        org,
        tmp,
        mut server,
        base,
        load,
    } = world().await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    load.phase("down");
    cluster.kill_postmaster();
    let down_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ready_down = ready_status(&base).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server must keep running"
    );
    cluster.start();
    load.phase("recovering");
    let up_at = Instant::now();
    let mut recovered = None;
    for _ in 0..300 {
        if load.count("recovering", "201") > 0 {
            recovered = Some(up_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = recovered.expect("writes did not recover after PostgreSQL restarted");
    load.phase("after");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ready_after = ready_status(&base).await;
    let (seen, created) = load.stop().await;
    let total = writes_consistent(&harness, &fx, org, &created).await;
    let down = answers_in(&seen, "down");
    println!(
        "chaos: postgres postmaster kill -9: down {:.1} s, answers while down {down:?}, /ready {ready_down} while down and {ready_after} after; writes back {:.2} s after restart, no server restart; {} acknowledged writes all present, {total} sites, none half applied; chains verify",
        up_at.duration_since(down_at).as_secs_f64(),
        recovered.as_secs_f64(),
        created.len()
    );
    assert_eq!(other_5xx(&seen), 0, "5xx other than 503: {seen:?}");
    assert!(
        !seen.keys().any(|(_, l)| l == "no answer"),
        "every request answered: {seen:?}"
    );
    assert_eq!(ready_down, 503);
    assert_eq!(ready_after, 200);
    assert!(server.child.try_wait().unwrap().is_none());
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The PostgreSQL volume full: writes fail with 503 (never 500) and nothing is half
/// written; service resumes when space returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault injection: run by scripts/chaos (its own PostgreSQL cluster)"]
async fn chaos_postgres_volume_full() {
    use std::io::Write as _;
    let cluster = ChaosCluster::from_env();
    let World {
        harness,
        fx,
        org,
        tmp,
        mut server,
        base,
        load,
    } = world().await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // fill the volume to the last byte
    let filler = cluster.volume.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0_u8; 1024 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let mut byte = [0_u8; 1];
    while file.write_all(&byte).is_ok() {
        byte[0] = 1;
    }
    drop(file);
    load.phase("full");
    let full_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let ready_full = ready_status(&base).await;
    std::fs::remove_file(&filler).unwrap();
    load.phase("recovering");
    let freed_at = Instant::now();
    let mut restarted_postgres = false;
    let mut recovered = None;
    for i in 0..400 {
        if load.count("recovering", "201") > 0 {
            recovered = Some(freed_at.elapsed());
            break;
        }
        // PostgreSQL may have stopped itself (a WAL write that cannot be made is a PANIC,
        // and a crash restart without space fails): an operator (or its unit) starts it
        if i == 100 && !cluster.running() {
            cluster.start();
            restarted_postgres = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = recovered.expect("writes did not resume after space returned");
    load.phase("after");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (seen, created) = load.stop().await;
    let total = writes_consistent(&harness, &fx, org, &created).await;
    let full = answers_in(&seen, "full");
    println!(
        "chaos: postgres volume full for {:.1} s: answers {full:?}, /ready {ready_full}; writes back {:.2} s after space returned{}; no server restart; {} acknowledged writes all present, {total} sites, none half applied; chains verify",
        freed_at.duration_since(full_at).as_secs_f64(),
        recovered.as_secs_f64(),
        if restarted_postgres {
            " (PostgreSQL had stopped and was started again)"
        } else {
            ""
        },
        created.len()
    );
    assert_eq!(other_5xx(&seen), 0, "5xx other than 503: {seen:?}");
    assert!(
        full.keys().any(|l| *l == "503"),
        "writes refused with 503 while full: {seen:?}"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server kept running"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Successful agent WebSocket upgrades so far, from the server's `/metrics` (1xx answers on
/// the agent socket route: 101); `None` while the server does not answer.
async fn agent_upgrades(http: &reqwest::Client, base: &str, token: &str) -> Option<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(
        text.lines()
            .filter(|l| {
                l.starts_with("breeze_http_requests_total{")
                    && l.contains("agent-ws")
                    && l.contains("status=\"1xx\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>(),
    )
}

/// The server down for 2 minutes under a fleet of simulated agents (2,000 by default,
/// `CHAOS_AGENTS`; `CHAOS_OUTAGE_SECS`, default 120): they come back with the agent's backoff
/// and jitter. The reconnect curve (agents back per 5 s after the restart) is printed; no
/// 5xx other than 503 after the restart, no pool exhaustion, every agent back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault injection: run by scripts/chaos"]
async fn chaos_agents_reconnect_after_a_server_outage() {
    use breeze_agent_proto::{EnrollmentKey, EnrollmentSecret};
    use breeze_fleet_sim::addrs::SourcePool;
    use breeze_fleet_sim::creds::KeyRecord;
    use breeze_fleet_sim::enroll::enroll;
    use breeze_fleet_sim::run::{Options, run};
    use breeze_fleet_sim::target::Target;

    let agents = crate::common::procs::env_usize("CHAOS_AGENTS", 2000);
    let outage = Duration::from_secs(
        u64::try_from(crate::common::procs::env_usize("CHAOS_OUTAGE_SECS", 120)).unwrap(),
    );
    server_binary();
    let harness = TestServer::start_with_agent_auth_cache().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let secret = "chaos-fleet-secret-0123456789abcdef";
    let key = crate::common::agents::enrollment_key(
        &harness,
        &fx,
        org,
        site,
        i32::try_from(agents).unwrap(),
        3600,
        Some(secret),
    )
    .await;
    let metrics = crate::common::test_settings(&harness.db)
        .into_iter()
        .find(|(k, _)| k == "BREEZE_METRICS_TOKEN")
        .unwrap()
        .1;
    let tmp = std::env::temp_dir().join(format!("breeze-chaos-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let port = crate::common::procs::free_port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let start = |name: &'static str| {
        let (proc, _) = crate::common::procs::spawn_server(
            &harness.db,
            &tmp,
            name,
            &[
                ("BREEZE_LISTEN", &listen),
                ("BREEZE_AGENT_AUTH_CACHE_SECS", "120"),
            ],
        );
        proc
    };
    let http = reqwest::Client::new();
    let (first, _) = crate::common::procs::wait_ready(start("before"), &base, &http).await;

    let target = Target::parse(&base).unwrap();
    // one loopback source address per agent, as the perf runs do: enrollment is limited to
    // 10 a minute per address
    let pool = SourcePool::new(agents).unwrap();
    let keys = vec![KeyRecord {
        enrollment_key: EnrollmentKey::parse(&key.raw).unwrap(),
        enrollment_secret: EnrollmentSecret::parse(secret).unwrap(),
        org_id: *org.as_uuid(),
        site_id: *site.as_uuid(),
    }];
    let enrolled = enroll(&target, &pool, &keys, agents, 16, false)
        .await
        .unwrap();
    assert_eq!(enrolled.agents.len(), agents, "{:?}", enrolled.errors);

    let kill_at = Duration::from_secs(20);
    let run_for = kill_at + outage + Duration::from_secs(90);
    let sim = tokio::spawn(run(Options {
        target,
        agents: enrolled.agents,
        source_addrs: agents,
        websockets: true,
        heartbeats: None,
        ramp_rate: 500,
        ramp_timeout: Duration::from_secs(60),
        duration: run_for,
        broadcast: None,
        storm: None,
        server_pid: None,
        progress: false,
    }));
    // wait until the whole fleet is connected, then take the server away
    let mut connected_before = 0;
    for _ in 0..600 {
        connected_before = agent_upgrades(&http, &base, &metrics).await.unwrap_or(0);
        if connected_before >= agents as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        connected_before >= agents as u64,
        "{connected_before} of {agents} connected"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    tokio::time::sleep(outage).await;
    let second = start("after");
    let restarted = Instant::now();
    // the reconnect curve: upgrades answered by the new process, per second
    let mut curve: Vec<(u64, u64)> = Vec::new();
    let mut all_back = None;
    while restarted.elapsed() < Duration::from_secs(85) {
        if let Some(n) = agent_upgrades(&http, &base, &metrics).await {
            curve.push((restarted.elapsed().as_secs(), n));
            if n >= agents as u64 && all_back.is_none() {
                all_back = Some(restarted.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let report = sim.await.unwrap().unwrap();
    // what the agents were answered: an upgrade refused with a 5xx other than 503 is a defect
    let errors_5xx: u64 = report
        .errors
        .by_kind
        .iter()
        .filter(|(k, _)| k.strip_prefix("ws_upgrade_5").is_some() && k.as_str() != "ws_upgrade_503")
        .map(|(_, n)| n)
        .sum();
    let every_5s: Vec<String> = curve
        .iter()
        .filter(|(s, _)| s % 5 == 0)
        .map(|(s, n)| format!("{s}s:{n}"))
        .collect();
    println!(
        "chaos: {agents} agents, server down {} s: back {} after the restart; reconnect curve (agents connected to the new process) {}; 5xx other than 503 after the restart: {errors_5xx}; agent-side errors {:?}",
        outage.as_secs(),
        all_back.map_or("NOT ALL".to_owned(), |d| format!(
            "all in {:.1} s",
            d.as_secs_f64()
        )),
        every_5s.join(" "),
        report.errors.by_kind
    );
    assert!(all_back.is_some(), "not every agent came back: {curve:?}");
    assert_eq!(errors_5xx, 0);
    drop(second);
    let _ = std::fs::remove_dir_all(&tmp);
}
