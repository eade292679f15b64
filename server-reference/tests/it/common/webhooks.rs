//! Webhook end-to-end helpers: the independent receivers (`tests/receivers/`, verifying with
//! the `standardwebhooks` packages from PyPI and npm), their logs, and API shortcuts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::procs::Proc;
use super::tls::TestPki;

/// Which independent implementation verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `standardwebhooks` from PyPI.
    Python,
    /// `standardwebhooks` from npm.
    Node,
}

/// The receivers directory of this checkout.
pub fn receivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/receivers")
}

/// The Python with `standardwebhooks` and the `breeze` binding installed (`scripts/test`
/// and `scripts/test-bindings` make it): `BREEZE_TEST_PYTHON`, else the tools venv.
pub fn test_python() -> PathBuf {
    if let Ok(p) = std::env::var("BREEZE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let tools = std::env::var("BREEZE_TOOLS").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/breeze-tools"),
        PathBuf::from,
    );
    let python = tools.join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test-bindings (or scripts/test) once to create the venv with standardwebhooks and the breeze binding",
        python.display()
    );
    python
}

/// A running receiver.
pub struct Receiver {
    /// The process.
    pub proc: Proc,
    /// `https://127.0.0.1:PORT`.
    pub base: String,
    /// Its JSON-lines log.
    pub log: PathBuf,
    /// The secrets file it reads on every request.
    pub secrets: PathBuf,
    /// Present = answer this status.
    pub status_file: PathBuf,
}

impl Receiver {
    /// Replaces the named secrets it verifies with.
    pub fn set_secrets(&self, secrets: &[(&str, &str)]) {
        let list: Vec<Value> = secrets
            .iter()
            .map(|(name, secret)| json!({"name": name, "secret": secret}))
            .collect();
        let tmp = self.secrets.with_extension("tmp");
        std::fs::write(&tmp, Value::Array(list).to_string()).unwrap();
        std::fs::rename(&tmp, &self.secrets).unwrap();
    }

    /// Answers `status` from now on (`None`: verify and answer 200/400 again).
    pub fn answer(&self, status: Option<u16>) {
        match status {
            Some(s) => std::fs::write(&self.status_file, s.to_string()).unwrap(),
            None => {
                let _ = std::fs::remove_file(&self.status_file);
            }
        }
    }

    /// Every logged request.
    pub fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Starts a receiver of `flavor` in `dir` serving the PKI's leaf; `redirect_to` makes it
/// answer 307 to that URL.
pub async fn start_receiver(
    flavor: Flavor,
    dir: &Path,
    name: &str,
    pki: &TestPki,
    redirect_to: Option<&str>,
) -> Receiver {
    let port_file = dir.join(format!("{name}.port"));
    let log = dir.join(format!("{name}.jsonl"));
    let secrets = dir.join(format!("{name}.secrets.json"));
    let status_file = dir.join(format!("{name}.status"));
    std::fs::write(&secrets, "[]").unwrap();
    let stderr = std::fs::File::create(dir.join(format!("{name}.stderr"))).unwrap();
    let mut cmd = match flavor {
        Flavor::Python => {
            let mut c = Command::new(test_python());
            c.arg(receivers_dir().join("webhook_receiver.py"));
            c
        }
        Flavor::Node => {
            let script = receivers_dir().join("webhook_receiver.mjs");
            assert!(
                receivers_dir()
                    .join("node_modules/standardwebhooks")
                    .exists(),
                "run `npm ci` in {} (scripts/test does)",
                receivers_dir().display()
            );
            let mut c = Command::new("node");
            c.arg(script);
            c
        }
    };
    cmd.arg("--cert")
        .arg(&pki.cert)
        .arg("--key")
        .arg(&pki.key)
        .arg("--secrets-file")
        .arg(&secrets)
        .arg("--log")
        .arg(&log)
        .arg("--port-file")
        .arg(&port_file)
        .arg("--status-file")
        .arg(&status_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    if let Some(url) = redirect_to {
        cmd.arg("--redirect-to").arg(url);
    }
    let proc = Proc {
        child: cmd.spawn().unwrap(),
        log: dir.join(format!("{name}.stderr")),
    };
    for _ in 0..200 {
        if let Ok(port) = std::fs::read_to_string(&port_file)
            && let Ok(port) = port.trim().parse::<u16>()
        {
            return Receiver {
                proc,
                base: format!("https://127.0.0.1:{port}"),
                log,
                secrets,
                status_file,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("receiver {name} did not start: {}", proc.log());
}

/// `POST /api/v1/webhooks`: (subscription id, secret).
pub async fn create_webhook(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    org: uuid::Uuid,
    url: &str,
    events: &[&str],
) -> (String, String) {
    let r = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(token)
        .json(&json!({"orgId": org, "name": "e2e", "url": url, "events": events}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}
