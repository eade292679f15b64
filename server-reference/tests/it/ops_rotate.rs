//! `breeze-server secrets rotate` (docs/OPERATIONS.md, "Rotate secrets").
//!
//! Each roll runs two real `breeze-server` replicas on one database and one Redis, with their
//! secrets in an environment file that only the command edits. A client makes authenticated
//! requests the whole time, through a "load balancer" that takes a replica out of service
//! while it restarts (as a real one does); the replicas are restarted one at a time with the
//! new file after every phase, and every request must succeed: tokens issued by one replica
//! verify on the other before, during and after the roll, enrollment works with the old and
//! the new secret and pepper during the window, metrics answer to the old and the new token,
//! encrypted columns written by either replica read back on the other throughout and after
//! the rekey. The refusals (unknown kind, phases out of order, a key still in use, an unsafe
//! file) change nothing: not the file, not the audit chain.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use crate::common::agents::client_from_random_loopback;
use crate::common::auth::{random_ip, session_of, viewer};
use crate::common::procs::{Proc, free_port, server_binary};
use crate::common::tenancy::api_key_of;
use crate::common::{FIXTURE_PASSWORD, Fixtures, TestDb, redis_url, test_settings};

/// Settings that live in the environment file (the secrets), not in the process environment
/// (which would override the file).
fn is_secret_setting(name: &str) -> bool {
    [
        "BREEZE_JWT_",
        "BREEZE_ENCRYPTION_",
        "BREEZE_MFA_ENCRYPTION_KEY",
        "BREEZE_PEPPER",
        "BREEZE_AUDIT_SIGNING_KEY_",
        "BREEZE_AUDIT_ACTIVE_SIGNING_KID",
        "BREEZE_METRICS_TOKEN",
        "BREEZE_ENROLLMENT_SECRET",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

const ENROLLMENT_SECRET: &str = "4e1f7a9c2b5d8e0f3a6c9b2e5d8f1a4c7e0b3d6f9a2c5e8b1d4f7a0c3e6b9d2f";

/// The test database, the environment file and the settings every process gets.
struct Setup {
    db: TestDb,
    dir: PathBuf,
    env_file: PathBuf,
    env: Vec<(String, String)>,
}

impl Setup {
    async fn new() -> Self {
        crate::common::install_crypto();
        let db = TestDb::new().await;
        let dir = std::env::temp_dir().join(format!("breeze-rotate-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let hosts = dir.join("hosts.json");
        std::fs::write(
            &hosts,
            json!({"hooks.example": ["93.184.216.34"]}).to_string(),
        )
        .unwrap();
        let (secrets, mut env): (Vec<_>, Vec<_>) = test_settings(&db)
            .into_iter()
            .partition(|(k, _)| is_secret_setting(k));
        let env_file = dir.join("breeze-server.env");
        let mut body = String::from("# the service's secrets (tests/it/ops_rotate.rs)\n");
        for (k, v) in &secrets {
            body.push_str(&format!("{k}={v}\n"));
        }
        body.push_str(&format!("BREEZE_ENROLLMENT_SECRET={ENROLLMENT_SECRET}\n"));
        std::fs::write(&env_file, body).unwrap();
        std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        env.extend([
            (
                "BREEZE_CONFIG_FILE".to_owned(),
                env_file.display().to_string(),
            ),
            ("REDIS_URL".to_owned(), redis_url()),
            (
                "BREEZE_TRUSTED_PROXIES".to_owned(),
                "127.0.0.1/32".to_owned(),
            ),
            (
                "BREEZE_WEBHOOK_TEST_HOSTS_FILE".to_owned(),
                hosts.display().to_string(),
            ),
            ("BREEZE_WEBHOOK_WORKERS".to_owned(), "0".to_owned()),
        ]);
        Self {
            db,
            dir,
            env_file,
            env,
        }
    }

    /// `breeze-server secrets rotate ARGS --env-file FILE`.
    fn rotate(&self, args: &[&str]) -> Output {
        let mut all = vec!["secrets", "rotate"];
        all.extend_from_slice(args);
        let file = self.env_file.display().to_string();
        all.extend_from_slice(&["--env-file", &file]);
        self.cli(&all)
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(server_binary())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs a phase that must succeed.
    fn phase(&self, kind: &str, phase: &str, extra: &[&str]) -> String {
        let mut args = vec![kind, phase];
        args.extend_from_slice(extra);
        let out = self.rotate(&args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{kind} {phase} failed: {text}");
        text
    }

    fn file_text(&self) -> String {
        std::fs::read_to_string(&self.env_file).unwrap()
    }

    fn file_value(&self, key: &str) -> Option<String> {
        self.file_text()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
    }

    fn start(&self, port: u16, name: &str) -> Proc {
        let log = self
            .dir
            .join(format!("{name}-{}.log", Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(server_binary())
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("BREEZE_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Proc { child, log }
    }
}

/// The "load balancer": which replicas are in service. A request holds its replica's gate
/// (read) while it runs; a restart takes it out of service (write) once its requests ended.
#[derive(Clone)]
struct Lb {
    bases: [String; 2],
    gates: [Arc<RwLock<bool>>; 2],
    http: reqwest::Client,
}

impl Lb {
    /// Two in-service replicas for request `i`: `a` issues, `b` verifies (the same one while
    /// the other restarts). The guards keep them in service until dropped.
    async fn pair(&self, i: u64) -> (String, String, Vec<tokio::sync::RwLockReadGuard<'_, bool>>) {
        let first = usize::from(i % 2 == 1);
        let mut guards = Vec::new();
        let mut up = Vec::new();
        for r in [first, 1 - first] {
            let g = self.gates[r].read().await;
            if *g {
                up.push(self.bases[r].clone());
                guards.push(g);
            }
        }
        assert!(!up.is_empty(), "both replicas out of service");
        let a = up[0].clone();
        let b = up.last().unwrap().clone();
        (a, b, guards)
    }
}

/// Two replicas on fixed ports.
struct Cluster {
    lb: Lb,
    ports: [u16; 2],
    procs: [Option<Proc>; 2],
}

async fn wait_ready(http: &reqwest::Client, base: &str, proc: &Proc) {
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("replica did not become ready: {}", proc.log());
}

impl Cluster {
    async fn start(setup: &Setup) -> Self {
        let ports = [free_port(), free_port()];
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let bases = ports.map(|p| format!("http://127.0.0.1:{p}"));
        let a = setup.start(ports[0], "replica-a");
        let b = setup.start(ports[1], "replica-b");
        wait_ready(&http, &bases[0], &a).await;
        wait_ready(&http, &bases[1], &b).await;
        Self {
            lb: Lb {
                bases,
                gates: [Arc::new(RwLock::new(true)), Arc::new(RwLock::new(true))],
                http,
            },
            ports,
            procs: [Some(a), Some(b)],
        }
    }

    /// Restarts replica `r` with the current file, out of service meanwhile.
    async fn restart(&mut self, setup: &Setup, r: usize) {
        *self.lb.gates[r].write().await = false;
        self.procs[r] = None; // killed and reaped
        let proc = setup.start(
            self.ports[r],
            if r == 0 { "replica-a" } else { "replica-b" },
        );
        wait_ready(&self.lb.http, &self.lb.bases[r], &proc).await;
        self.procs[r] = Some(proc);
        *self.lb.gates[r].write().await = true;
    }

    /// Runs one rotation phase on the environment file, then restarts both replicas on it
    /// ([`Self::rolling_restart`]); the phase's output.
    async fn roll(
        &mut self,
        setup: &Setup,
        client: &Client,
        kind: &str,
        phase: &str,
        extra: &[&str],
    ) -> String {
        let out = setup.phase(kind, phase, extra);
        self.rolling_restart(setup, client).await;
        out
    }

    /// Restarts both replicas, one at a time, letting the client run in between.
    async fn rolling_restart(&mut self, setup: &Setup, client: &Client) {
        for r in 0..2 {
            self.restart(setup, r).await;
            client.progress(3).await;
        }
    }

    fn logs(&self) -> String {
        self.procs
            .iter()
            .flatten()
            .map(Proc::log)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What the client does on each request: issue on one replica, check on the other.
type StepFut<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
type Step = Arc<dyn for<'a> Fn(&'a Lb, u64) -> StepFut<'a> + Send + Sync>;

/// The client loop: runs `step` until stopped, counting successes and recording failures.
struct Client {
    done: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Client {
    fn spawn(lb: Lb, step: Step) -> Self {
        let done = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (done, failures, stop) = (done.clone(), failures.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    match step(&lb, i).await {
                        Ok(()) => {
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => failures.lock().await.push(format!("request {i}: {e}")),
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        Self {
            done,
            failures,
            stop,
            task,
        }
    }

    /// Waits for `n` more successful requests (fails the test on the first failure).
    async fn progress(&self, n: u64) {
        let target = self.done.load(Ordering::SeqCst) + n;
        for _ in 0..1200 {
            if let Some(f) = self.failures.lock().await.first() {
                panic!("a request failed during the roll: {f}");
            }
            if self.done.load(Ordering::SeqCst) >= target {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the client made no progress");
    }

    /// Stops the loop and returns (successes, failures).
    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        let failures = self.failures.lock().await.clone();
        (self.done.load(Ordering::SeqCst), failures)
    }
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn expect(what: &str, status: u16, want: u16, body: &Value) -> Result<(), String> {
    if status == want {
        Ok(())
    } else {
        Err(format!("{what}: {status} {body}"))
    }
}

/// `secrets.rotate` entries of the system chain: (resource id, details).
async fn rotate_events(db: &TestDb) -> Vec<(String, Value)> {
    let pool = db.superuser_pool().await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT resource_id, entry FROM audit_log
          WHERE chain_key = 'system' AND action = 'secrets.rotate' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, entry)| {
            let v: Value = serde_json::from_str(&entry).unwrap();
            (id, v["event"]["details"].clone())
        })
        .collect()
}

/// Checks the audit trail of a whole roll and that no value of the file is in it.
async fn assert_audited(setup: &Setup, kind: &str, values: &[String]) {
    let events = rotate_events(&setup.db).await;
    let phases: Vec<&str> = events
        .iter()
        .filter(|(id, _)| id == kind)
        .map(|(_, d)| d["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["stage", "activate", "retire"]);
    let pool = setup.db.superuser_pool().await;
    let entries: Vec<String> =
        sqlx::query_scalar("SELECT entry FROM audit_log WHERE chain_key = 'system'")
            .fetch_all(&pool)
            .await
            .unwrap();
    for value in values {
        assert!(
            !entries.iter().any(|e| e.contains(value.as_str())),
            "a secret value reached the audit chain"
        );
    }
}

/// Fails the test if any replica log holds one of `values`.
fn assert_not_logged(cluster: &Cluster, values: &[String]) {
    let logs = cluster.logs();
    for v in values {
        assert!(
            !logs.contains(v.as_str()),
            "a secret value reached a replica's log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_roll_keeps_every_session_working_across_two_replicas() {
    let setup = Setup::new().await;
    let fx = Fixtures::new(&setup.db).await;
    let user = viewer(&fx).await;
    let mut cluster = Cluster::start(&setup).await;
    let lb = cluster.lb.clone();
    let login = lb
        .http
        .post(format!("{}/api/v1/auth/login", lb.bases[0]))
        .header("x-forwarded-for", random_ip())
        .json(&json!({"email": user.email, "password": FIXTURE_PASSWORD}))
        .send()
        .await
        .unwrap();
    let first = session_of(login).await;
    let old_access = first.access.clone();
    let session = Arc::new(Mutex::new(first));
    let refreshes = Arc::new(AtomicU64::new(0));
    // refreshes are limited to 10 a minute per user: one every 7 s, or when asked
    let want_refresh = Arc::new(AtomicBool::new(false));
    let last_refresh = Arc::new(Mutex::new(std::time::Instant::now()));
    let step: Step = {
        let (session, refreshes, want, last) = (
            session.clone(),
            refreshes.clone(),
            want_refresh.clone(),
            last_refresh.clone(),
        );
        Arc::new(move |lb: &Lb, i: u64| {
            let (session, refreshes, want, last) = (
                session.clone(),
                refreshes.clone(),
                want.clone(),
                last.clone(),
            );
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let (a, b, _guards) = lb.pair(i).await;
                let mut s = session.lock().await;
                let mut last = last.lock().await;
                if want.swap(false, Ordering::SeqCst) || last.elapsed() > Duration::from_secs(7) {
                    *last = std::time::Instant::now();
                    // a new token pair from replica a ...
                    let res = lb
                        .http
                        .post(format!("{a}/api/v1/auth/refresh"))
                        .header(
                            "cookie",
                            format!("breeze_refresh={}; breeze_csrf={}", s.refresh, s.csrf),
                        )
                        .header("x-breeze-csrf", &s.csrf)
                        .header("x-forwarded-for", random_ip())
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if res.status() != 200 {
                        let (st, body) = json_of(res).await;
                        return Err(format!("refresh on {a}: {st} {body}"));
                    }
                    *s = session_of(res).await;
                    refreshes.fetch_add(1, Ordering::SeqCst);
                }
                // ... verified by replica b
                let res = lb
                    .http
                    .get(format!("{b}/api/v1/users/me"))
                    .bearer_auth(&s.access)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let (st, body) = json_of(res).await;
                expect(&format!("users/me on {b}"), st, 200, &body)
            })
        })
    };
    let client = Client::spawn(lb.clone(), step);
    client.progress(5).await;

    let staged = cluster
        .roll(&setup, &client, "jwt", "stage", &["--key-id", "t2"])
        .await;
    assert!(staged.contains("key id `t2`"), "{staged}");
    let activated = cluster.roll(&setup, &client, "jwt", "activate", &[]).await;
    assert!(activated.contains("wait until"), "{activated}");
    // the token from before the roll still verifies on both replicas
    for base in &lb.bases {
        let res = lb
            .http
            .get(format!("{base}/api/v1/users/me"))
            .bearer_auth(&old_access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // the client's session was refreshed by a replica signing with t2 before retiring t1
    let after = refreshes.load(Ordering::SeqCst);
    want_refresh.store(true, Ordering::SeqCst);
    client.progress(4).await;
    assert!(refreshes.load(Ordering::SeqCst) > after);

    // within the tokens' lifetime, retiring is refused and changes nothing
    let before = setup.file_text();
    let early = setup.rotate(&["jwt", "retire"]);
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("may still be valid: retire it in"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    assert_eq!(setup.file_text(), before);
    cluster
        .roll(&setup, &client, "jwt", "retire", &["--force"])
        .await;
    client.progress(5).await;
    let (ok, failures) = client.finish().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ok >= 30, "only {ok} requests");

    // t1 is gone: a token it signed no longer verifies anywhere
    for base in &lb.bases {
        let res = lb
            .http
            .get(format!("{base}/api/v1/users/me"))
            .bearer_auth(&old_access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        setup.file_value("BREEZE_JWT_ACTIVE_KID").as_deref(),
        Some("t2")
    );
    assert!(setup.file_value("BREEZE_JWT_KEY_t1").is_none());
    let t2 = setup.file_value("BREEZE_JWT_KEY_t2").unwrap();
    assert_eq!(t2.len(), 64);
    assert_audited(&setup, "jwt", std::slice::from_ref(&t2)).await;
    assert_not_logged(&cluster, &[t2]);
    assert_eq!(
        std::fs::metadata(&setup.env_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_roll_and_rekey_keep_encrypted_columns_readable_on_both_replicas() {
    let setup = Setup::new().await;
    let fx = Fixtures::new(&setup.db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let key = mfa_admin_token(&setup, &fx, partner, org).await;
    let mut cluster = Cluster::start(&setup).await;
    let lb = cluster.lb.clone();
    // (id, url) of every subscription written so far, by either replica
    let written: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let step: Step = {
        let (written, key) = (written.clone(), key.clone());
        Arc::new(move |lb: &Lb, i: u64| {
            let (written, key) = (written.clone(), key.clone());
            Box::pin(async move {
                let (a, b, _guards) = lb.pair(i).await;
                let mut all = written.lock().await;
                if i.is_multiple_of(4) && all.len() < 45 {
                    // (the view masks a query string: the path carries the check)
                    let url = format!("https://hooks.example/h/{i}/{}", Uuid::new_v4());
                    let res = lb
                        .http
                        .post(format!("{a}/api/v1/webhooks"))
                        .bearer_auth(&key)
                        .json(&json!({"orgId": org, "name": format!("w{i}"), "url": url, "events": ["device.offline"]}))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let (st, body) = json_of(res).await;
                    expect(&format!("create on {a}"), st, 201, &body)?;
                    all.push((body["id"].as_str().unwrap_or_default().to_owned(), url));
                }
                // the newest and one older subscription, read (decrypted) on replica b
                let n = all.len();
                for idx in [n - 1, usize::try_from(i).unwrap() % n] {
                    let (id, url) = &all[idx];
                    let res = lb
                        .http
                        .get(format!("{b}/api/v1/webhooks/{id}"))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let (st, body) = json_of(res).await;
                    expect(&format!("read on {b}"), st, 200, &body)?;
                    if body["url"] != json!(url) {
                        return Err(format!("read on {b}: url {} is not {url}", body["url"]));
                    }
                }
                Ok(())
            })
        })
    };
    let client = Client::spawn(lb.clone(), step);
    client.progress(8).await;

    cluster
        .roll(&setup, &client, "encryption", "stage", &["--key-id", "t2"])
        .await;
    let activated = cluster
        .roll(&setup, &client, "encryption", "activate", &[])
        .await;
    assert!(activated.contains("secrets rekey"), "{activated}");
    client.progress(4).await;

    // values under t1 remain: retiring it is refused and changes nothing
    let before = setup.file_text();
    refused(
        &setup.rotate(&["encryption", "retire"]),
        "encryption key `t1` still encrypts",
    );
    assert_eq!(setup.file_text(), before);

    // the rekey runs while the client keeps writing and reading
    let rekey = setup.cli(&["secrets", "rekey", "--batch", "7"]);
    assert!(
        rekey.status.success(),
        "{}",
        String::from_utf8_lossy(&rekey.stderr)
    );
    assert!(String::from_utf8_lossy(&rekey.stdout).contains("failed 0"));
    client.progress(4).await;
    cluster
        .roll(&setup, &client, "encryption", "retire", &[])
        .await;
    client.progress(4).await;
    let (ok, failures) = client.finish().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ok >= 30, "only {ok} requests");

    // every subscription reads back on both replicas, and nothing is left under t1
    let all = written.lock().await.clone();
    for (id, url) in &all {
        for base in &lb.bases {
            let res = lb
                .http
                .get(format!("{base}/api/v1/webhooks/{id}"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            let (st, body) = json_of(res).await;
            assert_eq!(st, 200, "{body}");
            assert_eq!(body["url"], json!(url));
        }
    }
    let pool = setup.db.superuser_pool().await;
    let under_t1: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_subscriptions WHERE url ^@ 'enc:v3:t1:' OR secret ^@ 'enc:v3:t1:'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(under_t1, 0);
    assert!(setup.file_value("BREEZE_ENCRYPTION_KEY_t1").is_none());
    let t2 = setup.file_value("BREEZE_ENCRYPTION_KEY_t2").unwrap();
    assert_audited(&setup, "encryption", std::slice::from_ref(&t2)).await;
    assert_not_logged(&cluster, &[t2]);
}

/// An access token of an organization admin who passed MFA (webhook writes need it),
/// signed with the JWT key of the environment file (this roll does not touch it).
async fn mfa_admin_token(
    setup: &Setup,
    fx: &Fixtures,
    partner: breeze_core::tenancy::PartnerId,
    org: breeze_core::tenancy::OrgId,
) -> String {
    let admin = fx
        .org_user(
            partner,
            org,
            breeze_authz::seeded::SeededRole::OrgAdmin,
            None,
        )
        .await;
    fx.exec(
        "UPDATE users SET mfa_enabled = true WHERE id = $1",
        &[*admin.id.as_uuid()],
    )
    .await;
    let family = fx.open_family(admin.id).await;
    let ring = breeze_crypto::jwt::JwtKeyRing::builder()
        .key(
            "t1",
            secrecy::SecretString::from(setup.file_value("BREEZE_JWT_KEY_t1").unwrap()),
        )
        .unwrap()
        .active("t1")
        .unwrap();
    let subject = breeze_crypto::jwt::TokenSubject {
        user_id: *admin.id.as_uuid(),
        email: admin.email.clone(),
        role_id: Some(*admin.role.as_uuid()),
        org_id: admin.org.map(|o| *o.as_uuid()),
        partner_id: admin.partner.map(|p| *p.as_uuid()),
        scope: admin.scope,
        mfa: true,
        auth_epoch: 0,
        mfa_epoch: 0,
    };
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    ring.issue_access(&subject, family, now).unwrap().token
}

/// Enrolls with `key` (and the key's own `secret`, if any) on `base`, presenting the global
/// enrollment secret `global`.
async fn enroll(base: &str, key: &str, secret: Option<&str>, global: &str) -> Result<(), String> {
    let mut body = json!({
        "enrollmentKey": key,
        "hostname": format!("host-{}", Uuid::new_v4().simple()),
        "osType": "linux",
        "osVersion": "6.1",
        "architecture": "x86_64",
        "agentVersion": "1.0.0",
    });
    if let Some(s) = secret {
        body["enrollmentSecret"] = json!(s);
    }
    let res = client_from_random_loopback()
        .post(format!("{base}/api/v1/agents/enroll"))
        .header(
            breeze_agent_proto::enrollment::ENROLLMENT_SECRET_HEADER,
            global,
        )
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let (st, body) = json_of(res).await;
    expect(&format!("enroll on {base}"), st, 201, &body)
}

/// An enrollment key made through the API: the raw key and its own secret, if any.
type MadeKey = (String, Option<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pepper_roll_keeps_enrollment_keys_made_before_and_during_it_working() {
    let setup = Setup::new().await;
    let fx = Fixtures::new(&setup.db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let api_key = api_key_of(&fx, *org.as_uuid(), &["devices:write"]).await;
    let mut cluster = Cluster::start(&setup).await;
    let lb = cluster.lb.clone();
    // (raw key, its own secret) made through replica a; the client uses those from `from` on
    let keys: Arc<Mutex<Vec<MadeKey>>> = Arc::new(Mutex::new(Vec::new()));
    let from = Arc::new(AtomicUsize::new(0));
    let step: Step = {
        let (keys, from, api_key) = (keys.clone(), from.clone(), api_key.clone());
        Arc::new(move |lb: &Lb, i: u64| {
            let (keys, from, api_key) = (keys.clone(), from.clone(), api_key.clone());
            Box::pin(async move {
                let (a, b, _guards) = lb.pair(i).await;
                let mut all = keys.lock().await;
                if i.is_multiple_of(3) {
                    // every other key has its own secret, also kept as a peppered hash
                    let secret = i
                        .is_multiple_of(2)
                        .then(|| format!("per-key-secret-{}", Uuid::new_v4().simple()));
                    let mut body = json!({"siteId": site, "name": format!("k{i}"), "maxUsage": 1000, "expiresInMinutes": 60});
                    if let Some(s) = &secret {
                        body["secret"] = json!(s);
                    }
                    let res = lb
                        .http
                        .post(format!("{a}/api/v1/orgs/{org}/enrollment-keys"))
                        .header("x-api-key", &api_key)
                        .json(&body)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let (st, body) = json_of(res).await;
                    expect(&format!("key on {a}"), st, 201, &body)?;
                    all.push((body["key"].as_str().unwrap_or_default().to_owned(), secret));
                }
                let first = from.load(Ordering::SeqCst).min(all.len() - 1);
                let usable = &all[first..];
                // the newest key and one older one, on replica b
                let i = usize::try_from(i).unwrap();
                for (key, secret) in [&usable[usable.len() - 1], &usable[i % usable.len()]] {
                    enroll(&b, key, secret.as_deref(), ENROLLMENT_SECRET).await?;
                }
                Ok(())
            })
        })
    };
    let client = Client::spawn(lb.clone(), step);
    client.progress(6).await;

    let old_pepper = setup.file_value("BREEZE_PEPPER").unwrap();
    cluster.roll(&setup, &client, "pepper", "stage", &[]).await;
    let activated = cluster
        .roll(&setup, &client, "pepper", "activate", &[])
        .await;
    assert!(activated.contains("previous pepper"), "{activated}");
    client.progress(4).await;
    assert_eq!(
        setup.file_value("BREEZE_PEPPER_PREVIOUS").as_deref(),
        Some(old_pepper.as_str())
    );
    // keys made before the roll still enroll now, on both replicas
    let oldest = keys.lock().await[0].clone();
    for base in &lb.bases {
        enroll(base, &oldest.0, oldest.1.as_deref(), ENROLLMENT_SECRET)
            .await
            .unwrap();
    }
    // retiring the previous pepper ends keys made under it: the client moves to keys made
    // once every replica hashed with the new one (the documented consequence)
    let made = keys.lock().await.len();
    client.progress(4).await;
    from.store(made, Ordering::SeqCst);
    client.progress(3).await;
    // keys made before every replica hashed with the new pepper are still usable: retiring
    // is refused (naming how many), changing nothing; --force accepts ending them
    let before = setup.file_text();
    let early = setup.rotate(&["pepper", "retire"]);
    assert!(!early.status.success());
    let err = String::from_utf8_lossy(&early.stderr);
    assert!(
        err.contains("enrollment keys and 0 unused recovery codes made before the new pepper"),
        "{err}"
    );
    assert_eq!(setup.file_text(), before);
    cluster
        .roll(&setup, &client, "pepper", "retire", &["--force"])
        .await;
    client.progress(4).await;
    let (ok, failures) = client.finish().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ok >= 25, "only {ok} requests");
    let refused = enroll(
        &lb.bases[0],
        &oldest.0,
        oldest.1.as_deref(),
        ENROLLMENT_SECRET,
    )
    .await;
    assert!(
        refused.is_err(),
        "a key hashed under the retired pepper still enrolls"
    );
    let new_pepper = setup.file_value("BREEZE_PEPPER").unwrap();
    assert_ne!(new_pepper, old_pepper);
    assert!(setup.file_value("BREEZE_PEPPER_PREVIOUS").is_none());
    assert_audited(&setup, "pepper", &[new_pepper.clone(), old_pepper.clone()]).await;
    assert_not_logged(&cluster, &[new_pepper, old_pepper]);
}

/// An enrollment key of a fresh organization, written as the server stores it: hashed with
/// the pepper of the environment file.
async fn enrollment_key_row(setup: &Setup) -> String {
    let fx = Fixtures::new(&setup.db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let pepper = breeze_crypto::credentials::Pepper::new(secrecy::SecretString::from(
        setup.file_value("BREEZE_PEPPER").unwrap(),
    ));
    let key = breeze_crypto::credentials::EnrollmentKey::generate().unwrap();
    let mut tx = fx.pool().begin().await.unwrap();
    crate::common::system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO enrollment_keys (id, org_id, site_id, name, key_hash, max_usage, expires_at)
         VALUES ($1, $2, $3, 'rotate', $4, 100000, now() + interval '1 hour')",
    )
    .bind(Uuid::new_v4())
    .bind(org.as_uuid())
    .bind(site.as_uuid())
    .bind(key.peppered_hash(&pepper).to_hex())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    key.expose_secret().to_owned()
}

/// The driver of the two shared-secret rolls (enrollment secret, metrics token): the client
/// presents the values in `presented`, in turn; both are accepted during the window.
/// `step_of` gets them and an enrollment key.
async fn single_secret_roll(
    kind: &str,
    var: &str,
    step_of: fn(Arc<Mutex<Vec<String>>>, String) -> Step,
) {
    let setup = Setup::new().await;
    let key = enrollment_key_row(&setup).await;
    let mut cluster = Cluster::start(&setup).await;
    let lb = cluster.lb.clone();
    let old = setup.file_value(var).unwrap();
    let presented = Arc::new(Mutex::new(vec![old.clone()]));
    let client = Client::spawn(lb.clone(), step_of(presented.clone(), key.clone()));
    client.progress(4).await;

    cluster.roll(&setup, &client, kind, "stage", &[]).await;
    // the clients move over while both values are accepted
    let new = setup.file_value(&format!("{var}_NEXT")).unwrap();
    *presented.lock().await = vec![old.clone(), new.clone()];
    client.progress(6).await;
    cluster.roll(&setup, &client, kind, "activate", &[]).await;
    client.progress(4).await;
    assert_eq!(setup.file_value(var).as_deref(), Some(new.as_str()));
    *presented.lock().await = vec![new.clone()];
    client.progress(2).await;
    cluster.roll(&setup, &client, kind, "retire", &[]).await;
    client.progress(4).await;
    let (ok, failures) = client.finish().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ok >= 25, "only {ok} requests");
    // the old value is refused everywhere now
    let check = step_of(Arc::new(Mutex::new(vec![old.clone()])), key);
    for i in 0..2 {
        assert!(
            check(&lb, i).await.is_err(),
            "the retired value is still accepted"
        );
    }
    assert!(setup.file_value(&format!("{var}_PREVIOUS")).is_none());
    assert_audited(&setup, kind, &[new.clone(), old.clone()]).await;
    assert_not_logged(&cluster, &[new, old]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_secret_roll_accepts_the_old_and_the_new_secret_during_the_window() {
    fn step_of(presented: Arc<Mutex<Vec<String>>>, key: String) -> Step {
        Arc::new(move |lb: &Lb, i: u64| {
            let (presented, key) = (presented.clone(), key.clone());
            Box::pin(async move {
                let (_, b, _guards) = lb.pair(i).await;
                let secrets = presented.lock().await.clone();
                let secret = &secrets[usize::try_from(i).unwrap() % secrets.len()];
                enroll(&b, &key, None, secret).await
            })
        })
    }
    single_secret_roll("enrollment-secret", "BREEZE_ENROLLMENT_SECRET", step_of).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_token_roll_accepts_the_old_and_the_new_token_during_the_window() {
    fn step_of(presented: Arc<Mutex<Vec<String>>>, _key: String) -> Step {
        Arc::new(move |lb: &Lb, i: u64| {
            let presented = presented.clone();
            Box::pin(async move {
                let (_, b, _guards) = lb.pair(i).await;
                let tokens = presented.lock().await.clone();
                let token = &tokens[usize::try_from(i).unwrap() % tokens.len()];
                let res = lb
                    .http
                    .get(format!("{b}/metrics"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = res.status().as_u16();
                expect(&format!("metrics on {b}"), status, 200, &Value::Null)
            })
        })
    }
    single_secret_roll("metrics-token", "BREEZE_METRICS_TOKEN", step_of).await;
}

/// The file's text, mode and inode: what a refused rotation must leave as it was.
fn snapshot(path: &Path) -> (String, u32, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(path).unwrap();
    (
        std::fs::read_to_string(path).unwrap(),
        meta.permissions().mode() & 0o777,
        meta.ino(),
    )
}

fn refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "not refused: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
}

#[tokio::test]
async fn refused_rotations_change_nothing() {
    let setup = Setup::new().await;
    let path = setup.env_file.clone();
    let before = snapshot(&path);

    refused(
        &setup.rotate(&["session-secret", "stage"]),
        "unknown secret kind `session-secret`",
    );
    refused(
        &setup.rotate(&["jwt", "rollback"]),
        "unknown phase `rollback`",
    );
    refused(
        &setup.rotate(&["jwt", "activate"]),
        "cannot activate jwt: the roll is idle (the next phase is `stage`)",
    );
    refused(
        &setup.rotate(&["pepper", "retire"]),
        "cannot retire pepper: the roll is idle",
    );
    refused(
        &setup.rotate(&["encryption", "stage", "--key-id", "t1"]),
        "key id `t1` is already in the ring",
    );
    refused(
        &setup.rotate(&["jwt", "stage", "--key-id", "no/slash"]),
        "key id `no/slash` is invalid",
    );
    assert_eq!(snapshot(&path), before);

    // an unsafe file: readable by others, writable by the group, another owner, a link
    for mode in [0o644, 0o620, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        refused(&setup.rotate(&["metrics-token", "stage"]), "is too open");
        let (text, now_mode, ino) = snapshot(&path);
        assert_eq!(
            (text.as_str(), now_mode, ino),
            (before.0.as_str(), mode, before.2)
        );
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // another owner (only root can give the file away to test it)
    let me = {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(&setup.dir).unwrap().uid()
    };
    if me == 0 {
        std::os::unix::fs::chown(&path, Some(65_534), None).unwrap();
        refused(
            &setup.rotate(&["metrics-token", "stage"]),
            "owned by uid 65534",
        );
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
    }
    let link = setup.dir.join("link.env");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let out = setup.cli(&[
        "secrets",
        "rotate",
        "metrics-token",
        "stage",
        "--env-file",
        &link.display().to_string(),
    ]);
    refused(&out, "not a regular file");
    assert_eq!(snapshot(&path), before);

    // one rotation at a time: another holding the directory's lock makes this one refuse
    let held = std::fs::File::open(&setup.dir).unwrap();
    held.lock().unwrap();
    refused(
        &setup.rotate(&["metrics-token", "stage"]),
        "another `secrets rotate` is running",
    );
    held.unlock().unwrap();
    drop(held);
    assert_eq!(snapshot(&path), before);

    // a phase twice: the second is refused and leaves the first's result
    setup.phase("jwt", "stage", &["--key-id", "t2"]);
    let staged = snapshot(&path);
    assert_eq!(staged.1, 0o600);
    refused(
        &setup.rotate(&["jwt", "stage", "--key-id", "t3"]),
        "the next phase is `activate`",
    );
    refused(
        &setup.rotate(&["jwt", "retire"]),
        "cannot retire jwt: the roll is staged",
    );
    assert_eq!(snapshot(&path), staged);

    // no temporary file is left behind, and only the one phase done is audited
    let leftovers: Vec<String> = std::fs::read_dir(&setup.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".rotate-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let events = rotate_events(&setup.db).await;
    assert_eq!(events.len(), 1, "{events:?}");
    // doctor names the roll left between two phases
    let file = setup.env_file.display().to_string();
    let doctor = setup.cli(&["doctor", "--env-file", &file]);
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        report.lines().any(|l| l.starts_with("warn")
            && l.contains("secret_rotation")
            && l.contains("rolls in progress: jwt staged (next: activate)")),
        "{report}"
    );
    assert_eq!(events[0].0, "jwt");
    assert_eq!(
        events[0].1,
        json!({"kind": "jwt", "phase": "stage", "keyId": "t2",
               "variables": ["BREEZE_JWT_KEY_t2", "BREEZE_JWT_NEXT_KID", "BREEZE_JWT_ACTIVE_KID"]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_key_roll_and_rekey_keep_totp_logins_working_across_two_replicas() {
    use breeze_crypto::envelope::MfaCipher;
    use breeze_crypto::totp::{TotpSecret, code_at};
    use secrecy::ExposeSecret as _;
    const USERS: usize = 40;
    let setup = Setup::new().await;
    let fx = Fixtures::new(&setup.db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let old_key =
        secrecy::SecretString::from(setup.file_value("BREEZE_MFA_ENCRYPTION_KEY").unwrap());
    let old = MfaCipher::new(&old_key);
    // users with TOTP, their secrets sealed under the MFA key of the file
    let mut users = Vec::new();
    for _ in 0..USERS {
        let user = fx
            .org_user(
                partner,
                org,
                breeze_authz::seeded::SeededRole::OrgViewer,
                None,
            )
            .await;
        let secret = TotpSecret::generate().unwrap();
        let sealed = old.encrypt(secret.to_base32().expose_secret()).unwrap();
        let mut tx = fx.pool().begin().await.unwrap();
        crate::common::system_context(&mut tx).await;
        sqlx::query("UPDATE users SET mfa_enabled = true, mfa_secret = $2 WHERE id = $1")
            .bind(user.id.as_uuid())
            .bind(sealed)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        users.push((
            user.email.clone(),
            secret.to_base32().expose_secret().to_owned(),
        ));
    }
    let users = Arc::new(users);
    let mut cluster = Cluster::start(&setup).await;
    let lb = cluster.lb.clone();
    // a TOTP step is accepted once per user: each user logs in at most once per step
    let last_step = Arc::new(Mutex::new(vec![-1i64; USERS]));
    let step: Step = {
        let (users, last_step) = (users.clone(), last_step.clone());
        Arc::new(move |lb: &Lb, i: u64| {
            let (users, last_step) = (users.clone(), last_step.clone());
            Box::pin(async move {
                let (now, u) = loop {
                    let now = i64::try_from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs(),
                    )
                    .unwrap();
                    let mut steps = last_step.lock().await;
                    let start = usize::try_from(i).unwrap() % USERS;
                    let free = (0..USERS)
                        .map(|k| (start + k) % USERS)
                        .find(|&k| steps[k] < now / 30);
                    if let Some(k) = free {
                        steps[k] = now / 30 + 1; // the code of this step and the next are spent
                        break (now, k);
                    }
                    drop(steps);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                };
                let (email, secret) = &users[u];
                let (a, b, _guards) = lb.pair(i).await;
                let res = lb
                    .http
                    .post(format!("{a}/api/v1/auth/login"))
                    .header("x-forwarded-for", random_ip())
                    .json(&json!({"email": email, "password": FIXTURE_PASSWORD}))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let (st, body) = json_of(res).await;
                expect(&format!("login on {a}"), st, 200, &body)?;
                let mfa_token = body["mfaToken"].as_str().unwrap_or_default().to_owned();
                // the TOTP secret is decrypted by replica b
                let code = code_at(&TotpSecret::from_base32(secret).unwrap(), now).unwrap();
                let res = lb
                    .http
                    .post(format!("{b}/api/v1/auth/mfa/verify"))
                    .header("x-forwarded-for", random_ip())
                    .json(&json!({"mfaToken": mfa_token, "code": code}))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let (st, body) = json_of(res).await;
                expect(&format!("mfa verify on {b}"), st, 200, &body)
            })
        })
    };
    let client = Client::spawn(lb.clone(), step);
    client.progress(3).await;

    cluster.roll(&setup, &client, "mfa", "stage", &[]).await;
    let activated = cluster.roll(&setup, &client, "mfa", "activate", &[]).await;
    assert!(activated.contains("secrets rekey"), "{activated}");
    client.progress(2).await;

    // TOTP secrets under the previous key remain: retiring it is refused, changing nothing
    let before = setup.file_text();
    refused(
        &setup.rotate(&["mfa", "retire"]),
        &format!("{USERS} stored totp secrets do not open under the current mfa key"),
    );
    assert_eq!(setup.file_text(), before);

    let rekey = setup.cli(&["secrets", "rekey"]);
    let out = String::from_utf8_lossy(&rekey.stdout);
    assert!(
        rekey.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&rekey.stderr)
    );
    assert!(
        out.contains(&format!(
            "users.mfa_secret: scanned {USERS}, reencrypted {USERS}, already current 0, failed 0"
        )),
        "{out}"
    );
    client.progress(2).await;
    cluster.roll(&setup, &client, "mfa", "retire", &[]).await;
    client.progress(3).await;
    let (ok, failures) = client.finish().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ok >= 15, "only {ok} requests");

    // every TOTP secret opens under the new key alone, not under the old one
    let new_key =
        secrecy::SecretString::from(setup.file_value("BREEZE_MFA_ENCRYPTION_KEY").unwrap());
    let new = MfaCipher::new(&new_key);
    let pool = setup.db.superuser_pool().await;
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT mfa_secret FROM users WHERE mfa_secret IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), USERS);
    assert!(
        stored
            .iter()
            .all(|v| new.opens_with_current(v) && !old.opens_with_current(v))
    );
    assert!(
        setup
            .file_value("BREEZE_MFA_ENCRYPTION_KEY_PREVIOUS")
            .is_none()
    );
    let new_value = new_key.expose_secret().to_owned();
    assert_audited(&setup, "mfa", std::slice::from_ref(&new_value)).await;
    assert_not_logged(&cluster, &[new_value]);
}
