//! Clients generated from the served OpenAPI document, as an integrator makes them (issue 26):
//! a Python client by `openapi-python-client` (PyPI) and TypeScript types by
//! `openapi-typescript` used through `openapi-fetch` (npm), each driving its flow of
//! `examples/api-client-*` as a real process against a test server: log in with a TOTP code,
//! create a partner, an organization, a site and an enrollment key, list devices, read the
//! audit log, export it and verify the bundle against the trusted checkpoint keys of
//! `breeze-server audit keys --json` (the Python and the Node binding).
//!
//! The TypeScript flow is type-checked (`tsc --noEmit`, strict) against the generated types
//! first, so a document whose shapes do not match the flow fails here. Every answer the flows
//! get is also checked against the document by the harness (`TestServer`'s contract check).
//!
//! Needs the tools `scripts/test` installs: the tools venv with `openapi-python-client`, the
//! `breeze` binding and `examples/api-client-python/requirements.txt`; Node with `npm ci` done
//! in `examples/api-client-typescript`; the Node addon of `bindings/node`. Without them the
//! tests say what is missing and pass, unless `CI` is set, where they fail.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use breeze_server::audit::jobs as audit_jobs;
use breeze_server::ops::bootstrap::bootstrap_admin_with_totp;
use secrecy::{ExposeSecret as _, SecretString};

use crate::common::TestServer;
use crate::common::ops::{run_on, stderr, stdout};

/// Longest a flow may take (it normally takes a few seconds).
const FLOW_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a generator or `tsc` may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

const ADMIN_EMAIL: &str = "integrator-admin@example.test";
const ADMIN_PASSWORD: &str = "Integrator-Flow-42";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tools_dir() -> PathBuf {
    std::env::var("BREEZE_TOOLS").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/breeze-tools"),
        PathBuf::from,
    )
}

/// `true` when the test may run; otherwise prints why not and, under `CI`, fails.
fn tools_ready(flow: &str, missing: &[String]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let what = missing.join("; ");
    assert!(
        std::env::var_os("CI").is_none(),
        "the {flow} client flow cannot run: {what} (scripts/test installs them)"
    );
    eprintln!(
        "SKIPPED: the {flow} client flow needs {what} (scripts/test installs them; with CI set this fails)"
    );
    false
}

/// A fresh scratch directory under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "breeze-api-clients-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `cmd` to completion (killed after `timeout`) on a blocking thread, so the in-process
/// server keeps answering; returns its output and how long it took.
async fn run(mut cmd: Command, what: &str, timeout: Duration) -> (Output, Duration) {
    let what = what.to_owned();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                buf
            })
        };
        let out = drain(Box::new(child.stdout.take().unwrap()));
        let err = drain(Box::new(child.stderr.take().unwrap()));
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                let (o, e) = (out.join().unwrap(), err.join().unwrap());
                panic!(
                    "{what}: still running after {timeout:?}, killed\n--- stdout\n{}\n--- stderr\n{}",
                    String::from_utf8_lossy(&o),
                    String::from_utf8_lossy(&e)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        };
        (output, started.elapsed())
    })
    .await
    .unwrap()
}

/// [`run`], failing unless the command succeeded; returns its standard output.
async fn run_ok(cmd: Command, what: &str, timeout: Duration) -> (String, Duration) {
    let (out, took) = run(cmd, what, timeout).await;
    assert!(
        out.status.success(),
        "{what} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    (stdout(&out), took)
}

/// What both flows need from the server: a platform admin with TOTP, the trusted keys and
/// the served document.
struct Setup {
    server: TestServer,
    checkpoints: Vec<tokio::task::JoinHandle<()>>,
    totp_secret: SecretString,
    keys: PathBuf,
    document: PathBuf,
}

impl Setup {
    /// A server that signs checkpoints every second (so an export proves its origin soon),
    /// its admin, `breeze-server audit keys --json` and the served document, in `dir`.
    async fn new(dir: &Path) -> Self {
        let server = TestServer::start_with(|s| {
            s.retain(|(k, _)| k != "BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS");
            s.push(("BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS".into(), "1".into()));
        })
        .await;
        let checkpoints = audit_jobs::spawn_background(&server.state);
        let (_, totp) = bootstrap_admin_with_totp(
            &server.state,
            ADMIN_EMAIL,
            &SecretString::from(ADMIN_PASSWORD.to_owned()),
        )
        .await
        .unwrap();

        // the keys a verifier trusts, from the operator's command (as examples/ READMEs say)
        let out = run_on(&server.db, &["audit", "keys", "--json"], None);
        assert!(out.status.success(), "audit keys: {}", stderr(&out));
        let keys = dir.join("trusted_keys.json");
        std::fs::write(&keys, &out.stdout).unwrap();

        // the document as served, byte for byte
        let res = server
            .http
            .get(server.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let document = dir.join("openapi.json");
        std::fs::write(&document, res.bytes().await.unwrap()).unwrap();

        Self {
            server,
            checkpoints,
            totp_secret: totp.secret,
            keys,
            document,
        }
    }

    /// The flow's settings (the secrets in the environment, never on a command line).
    fn flow_env(&self, cmd: &mut Command) {
        cmd.env("BREEZE_BASE_URL", &self.server.base)
            .env("BREEZE_EMAIL", ADMIN_EMAIL)
            .env("BREEZE_PASSWORD", ADMIN_PASSWORD)
            .env("BREEZE_TOTP_SECRET", self.totp_secret.expose_secret())
            .env("BREEZE_TRUSTED_KEYS", &self.keys);
    }

    fn stop(self) {
        for t in &self.checkpoints {
            t.abort();
        }
        drop(self.server);
    }
}

/// What a flow printed: every step, and the verified export against the trusted keys.
fn assert_flow_output(flow: &str, out: &str, secret: &SecretString) {
    for step in [
        "login: TOTP code accepted, session with mfa=true",
        "created partner ",
        "created organization ",
        "created site ",
        "created enrollment key ",
        "listed devices of the organization: 0",
        "read the audit log of the organization: ",
        "audit export: ",
        "flow complete in ",
    ] {
        assert!(
            out.contains(step),
            "{flow} flow did not print `{step}`:\n{out}"
        );
    }
    let verified = out
        .lines()
        .find(|l| l.starts_with("verified "))
        .unwrap_or_else(|| panic!("{flow} flow did not verify the export:\n{out}"));
    let entries: u64 = verified
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{flow}: `{verified}`"));
    // the organization's chain: site.create and enrollment_key.create at least
    assert!(entries >= 2, "{flow}: {verified}");
    // the origin: at least one checkpoint, verified with the keys of `audit keys --json`
    let checkpoints: u64 = verified
        .split(" checkpoint(s) verified against the trusted keys (")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{flow}: the origin was not checked: `{verified}`"));
    assert!(
        checkpoints >= 1 && verified.contains("t1"),
        "{flow}: {verified}"
    );
    assert!(
        !out.contains(secret.expose_secret()) && !out.contains(ADMIN_PASSWORD),
        "{flow} flow printed a secret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_clients_python_generated_client_runs_the_integrator_flow() {
    let example = repo_root().join("examples/api-client-python");
    let venv = tools_dir().join("venv/bin");
    let (python, generator) = (venv.join("python"), venv.join("openapi-python-client"));
    let mut missing = Vec::new();
    if !generator.exists() {
        missing.push(format!(
            "{} (pip install -r examples/api-client-python/requirements.txt)",
            generator.display()
        ));
    } else {
        let probe = Command::new(&python)
            .args(["-c", "import breeze, httpx, attrs"])
            .output()
            .unwrap();
        if !probe.status.success() {
            missing.push(format!(
                "the `breeze` binding, httpx and attrs in {} (scripts/test-bindings; requirements.txt)",
                python.display()
            ));
        }
    }
    if !tools_ready("Python", &missing) {
        return;
    }

    let dir = scratch("python");
    let setup = Setup::new(&dir).await;
    let secret = setup.totp_secret.clone();

    // the generator's input: the served document, as served
    let input = setup.document.clone();
    let generated = dir.join("generated");
    let mut cmd = Command::new(&generator);
    cmd.current_dir(&dir)
        .args(["generate", "--meta", "none", "--path"])
        .arg(&input)
        .arg("--output-path")
        .arg(generated.join("breeze_api_client"))
        .arg("--config")
        .arg(example.join("generator-config.yaml"));
    let (gen_out, took) = run_ok(cmd, "openapi-python-client generate", TOOL_TIMEOUT).await;
    assert!(
        !gen_out.contains("Warning") && !gen_out.contains("WARNING"),
        "openapi-python-client dropped parts of the document:\n{gen_out}"
    );
    eprintln!("openapi-python-client generated the client in {took:.1?}");

    let mut cmd = Command::new(&python);
    cmd.arg(example.join("flow.py"))
        .args(["--wait-checkpoint", "20", "--out"])
        .arg(dir.join("export.jsonl"))
        .env("PYTHONPATH", &generated)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    setup.flow_env(&mut cmd);
    let (out, took) = run_ok(cmd, "examples/api-client-python/flow.py", FLOW_TIMEOUT).await;
    eprintln!("python flow took {took:.1?}:\n{out}");
    assert_flow_output("Python", &out, &secret);
    assert!(dir.join("export.jsonl").exists());

    setup.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_clients_typescript_generated_types_run_the_integrator_flow() {
    let example = repo_root().join("examples/api-client-typescript");
    let bin = example.join("node_modules/.bin");
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node on PATH".to_owned());
    }
    for tool in ["openapi-typescript", "tsc"] {
        if !bin.join(tool).exists() {
            missing.push(format!(
                "{} (npm ci in examples/api-client-typescript)",
                bin.join(tool).display()
            ));
        }
    }
    let addon = repo_root().join("bindings/node/breeze.linux-x64-gnu.node");
    if !addon.exists() {
        missing.push(format!(
            "the Node addon {} (scripts/test-bindings)",
            addon.display()
        ));
    }
    if !tools_ready("TypeScript", &missing) {
        return;
    }

    let dir = scratch("typescript");
    let setup = Setup::new(&dir).await;
    let secret = setup.totp_secret.clone();

    // generated types into a scratch copy of the example (nothing written into the checkout)
    let work = dir.join("example");
    std::fs::create_dir_all(&work).unwrap();
    for file in ["flow.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(example.join(file), work.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(example.join("node_modules"), work.join("node_modules")).unwrap();
    let mut cmd = Command::new(bin.join("openapi-typescript"));
    cmd.current_dir(&work)
        .arg(&setup.document)
        .args(["-o", "generated/schema.d.ts"]);
    let (_, took) = run_ok(cmd, "openapi-typescript", TOOL_TIMEOUT).await;
    eprintln!("openapi-typescript generated the types in {took:.1?}");

    // strict type-check against the generated types, then compile and run
    let mut cmd = Command::new(bin.join("tsc"));
    cmd.current_dir(&work)
        .args(["-p", "tsconfig.json", "--noEmit"]);
    run_ok(
        cmd,
        "tsc --noEmit (strict, against the generated types)",
        TOOL_TIMEOUT,
    )
    .await;
    let mut cmd = Command::new(bin.join("tsc"));
    cmd.current_dir(&work).args(["-p", "tsconfig.json"]);
    run_ok(cmd, "tsc", TOOL_TIMEOUT).await;

    let mut cmd = Command::new("node");
    cmd.current_dir(&work)
        .arg("dist/flow.js")
        .args(["--wait-checkpoint", "20", "--out"])
        .arg(dir.join("export.jsonl"))
        .env(
            "BREEZE_NODE_BINDING",
            repo_root().join("bindings/node/index.js"),
        );
    setup.flow_env(&mut cmd);
    let (out, took) = run_ok(cmd, "examples/api-client-typescript/flow.ts", FLOW_TIMEOUT).await;
    eprintln!("typescript flow took {took:.1?}:\n{out}");
    assert_flow_output("TypeScript", &out, &secret);
    assert!(dir.join("export.jsonl").exists());

    setup.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}
