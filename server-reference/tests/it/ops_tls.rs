//! HTTPS served by `breeze-server` itself (real processes, a test CA): HSTS over TLS, TLS
//! 1.2+ only (checked with Python's OpenSSL client, which can still offer TLS 1.1),
//! certificate reload on SIGHUP without dropping an established connection, a bad reload
//! keeping the old certificate, a wrong key refused at start, and the real agent trusting
//! the server through `--ca-file` (and refusing it without).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::agents::{enrollment_key, mfa_token};
use crate::common::procs::{
    agent_binary, agent_cmd, agent_run, poll, server_binary, spawn_server, wait_ready, yaml_value,
};
use crate::common::tls::{TestPki, test_pki};
use crate::common::{TestServer, system_context};

fn scratch() -> PathBuf {
    let tmp = std::env::temp_dir().join(format!("breeze-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    tmp
}

fn client_config(ca: &Path) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    // no session resumption: every connection verifies the certificate presented now
    config.resumption = rustls::client::Resumption::disabled();
    config
}

/// A client trusting only `ca`, with no connection reuse (each request handshakes).
fn https_client(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(client_config(ca))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The server's certificate and key files, which a test replaces before a SIGHUP.
fn install(pki: &TestPki, dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("server.pem");
    let key = dir.join("server.key");
    std::fs::copy(&pki.cert, &cert).unwrap();
    std::fs::copy(&pki.key, &key).unwrap();
    (cert, key)
}

fn tls_settings<'a>(cert: &'a Path, key: &'a Path) -> [(&'static str, &'a str); 2] {
    [
        ("BREEZE_TLS_CERT_FILE", cert.to_str().unwrap()),
        ("BREEZE_TLS_KEY_FILE", key.to_str().unwrap()),
    ]
}

fn sighup(proc: &crate::common::procs::Proc) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Python's OpenSSL client offering exactly `version` (security level 0, so the refusal
/// can only come from the server): `ok <version>` or `refused <reason>`.
fn python_handshake(port: u16, ca: &Path, version: &str) -> String {
    let script = r"
import socket, ssl, sys
port, ca, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
v = getattr(ssl.TLSVersion, version)
ctx.minimum_version = v
ctx.maximum_version = v
try:
    with socket.create_connection(('127.0.0.1', port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
            print('ok', tls.version())
except ssl.SSLError as e:
    print('refused', e.reason)
";
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            &port.to_string(),
            ca.to_str().unwrap(),
            version,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A TLS connection kept open across the reload: one HTTP/1.1 request at a time.
struct KeptConnection(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl KeptConnection {
    async fn open(port: u16, ca: &Path) -> Self {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(ca)));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        Self(connector.connect(name, tcp).await.unwrap())
    }

    /// `GET /health` on this connection; the status line.
    async fn health(&mut self) -> String {
        self.0
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0_u8; 16 * 1024];
        let mut got = Vec::new();
        // the answer is small: read until its body (after the blank line) has arrived
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), self.0.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return head.lines().next().unwrap().to_owned();
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_hsts_tls12_minimum_and_reload_on_sighup_without_dropping_connections() {
    server_binary();
    let harness = TestServer::start().await;
    let tmp = scratch();
    let pki_in = |name: &str| {
        let dir = tmp.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        test_pki(&dir)
    };
    let (first, second) = (pki_in("a"), pki_in("b"));

    // a key that is not the certificate's stops the server at start
    let wrong_key = tmp.join("wrong.key");
    std::fs::copy(&second.key, &wrong_key).unwrap();
    let (mut refused, _) = spawn_server(
        &harness.db,
        &tmp,
        "wrong-key",
        &tls_settings(&first.cert, &wrong_key),
    );
    let status = refused.child.wait().unwrap();
    assert!(!status.success());
    assert!(
        refused.log().contains("does not match the certificate"),
        "{}",
        refused.log()
    );

    let (cert, key) = install(&first, &tmp);
    let (proc, port) = spawn_server(&harness.db, &tmp, "tls", &tls_settings(&cert, &key));
    let base = format!("https://127.0.0.1:{port}");
    let trusts_first = https_client(&first.ca);
    let trusts_second = https_client(&second.ca);
    let (proc, base) = wait_ready(proc, &base, &trusts_first).await;

    let res = trusts_first
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains; preload",
        "HSTS over TLS"
    );
    assert!(
        trusts_second
            .get(format!("{base}/health"))
            .send()
            .await
            .is_err(),
        "a client not trusting the CA is refused"
    );

    // TLS 1.3 and 1.2 are served; 1.1 and 1.0 are refused by the server (an alert)
    assert_eq!(python_handshake(port, &first.ca, "TLSv1_3"), "ok TLSv1.3");
    assert_eq!(python_handshake(port, &first.ca, "TLSv1_2"), "ok TLSv1.2");
    for old in ["TLSv1_1", "TLSv1"] {
        let answer = python_handshake(port, &first.ca, old);
        assert!(
            // an alert received from the server (protocol_version or handshake_failure)
            answer.starts_with("refused") && answer.contains("ALERT"),
            "{old}: {answer}"
        );
    }

    // a connection established before the reload ...
    let mut kept = KeptConnection::open(port, &first.ca).await;
    assert_eq!(kept.health().await, "HTTP/1.1 200 OK");

    // ... the files are replaced by the second CA's certificate and the server told
    install(&second, &tmp);
    sighup(&proc);
    poll("new handshakes to present the new certificate", || async {
        trusts_second
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(
        trusts_first
            .get(format!("{base}/health"))
            .send()
            .await
            .is_err(),
        "the old certificate is no longer presented"
    );
    // ... and the old connection still answers
    assert_eq!(kept.health().await, "HTTP/1.1 200 OK");
    assert!(
        proc.log().contains("certificate reloaded"),
        "{}",
        proc.log()
    );

    // a broken reload keeps the current certificate and the server serving
    std::fs::write(&key, "not a key").unwrap();
    sighup(&proc);
    poll("the refused reload in the log", || async {
        proc.log().contains("tls: reload refused")
    })
    .await;
    assert!(proc.log().contains("tls_no_key"), "{}", proc.log());
    let res = trusts_second
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(kept.health().await, "HTTP/1.1 200 OK");
    assert!(!proc.log().contains("-----BEGIN"), "no key material logged");

    drop(proc);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_agent_trusts_the_server_through_its_ca_file_only() {
    agent_binary();
    server_binary();
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let key = enrollment_key(&harness, &fx, org, site, 10, 3600, None).await;
    let tech = fx
        .org_user(partner, org, SeededRole::OrgTechnician, None)
        .await;
    let user_token = mfa_token(&harness, &fx, &tech).await;
    let tmp = scratch();
    let pki = test_pki(&tmp);
    let (proc, port) = spawn_server(&harness.db, &tmp, "tls", &tls_settings(&pki.cert, &pki.key));
    let http = https_client(&pki.ca);
    let (server, base) = wait_ready(proc, &format!("https://127.0.0.1:{port}"), &http).await;
    let agent_dir = tmp.join("agent");
    let enroll = |extra: &[&str]| {
        agent_cmd(&agent_dir)
            .args(["enroll", &key.raw, "--server", &base])
            .args(extra)
            .output()
            .unwrap()
    };

    // without the CA file the web PKI does not know the test CA: refused, nothing written
    let out = enroll(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the server's certificate is refused"),
        "{stderr}"
    );
    assert!(!agent_dir.join("agent.yaml").exists());
    // a relative CA path is refused (agent.yaml keeps it; the service's directory differs)
    let out = enroll(&["--ca-file", "ca.pem"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("absolute"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a CA file that is not PEM
    let junk = tmp.join("junk.pem");
    std::fs::write(&junk, "junk").unwrap();
    let out = enroll(&["--ca-file", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds no certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!agent_dir.join("agent.yaml").exists());

    let out = enroll(&["--ca-file", pki.ca.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        yaml_value(&agent_dir.join("agent.yaml"), "ca_file"),
        pki.ca.to_str().unwrap()
    );
    let agent_id = yaml_value(&agent_dir.join("agent.yaml"), "agent_id");
    let device = yaml_value(&agent_dir.join("agent.yaml"), "device_id");
    let agent = agent_run(&agent_dir, &tmp, "agent");
    // the WebSocket over wss:// with the same roots
    poll("the agent's websocket over TLS", || async {
        let mut tx = fx.pool().begin().await.unwrap();
        system_context(&mut tx).await;
        let generation: i64 = sqlx::query_scalar(
            "SELECT coalesce(c.ws_generation, 0) FROM devices d
               LEFT JOIN device_credentials c ON c.device_id = d.id WHERE d.agent_id = $1",
        )
        .bind(&agent_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        generation >= 1
    })
    .await;

    let res = http
        .post(format!("{base}/api/v1/devices/{device}/commands"))
        .bearer_auth(&user_token)
        .json(&json!({"type": "run_script",
                      "payload": {"content": "uname -a", "language": "bash", "timeoutSeconds": 30}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let view_url = format!("{base}/api/v1/devices/{device}/commands/{id}");
    let view = || async {
        http.get(&view_url)
            .bearer_auth(&user_token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    poll("the command result over TLS", || async {
        view().await["status"] == "completed"
    })
    .await;
    let v = view().await;
    assert_eq!(v["exitCode"], 0, "{v}");
    assert!(v["stdout"].as_str().unwrap().contains("Linux"), "{v}");
    drop(agent);
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_without_tls_is_logged_and_the_server_keeps_serving() {
    server_binary();
    let harness = TestServer::start().await;
    let tmp = scratch();
    let (proc, port) = spawn_server(&harness.db, &tmp, "plain", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let (mut proc, base) = wait_ready(proc, &base, &http).await;
    sighup(&proc);
    poll("the SIGHUP in the log", || async {
        proc.log().contains("no TLS certificate to reload")
    })
    .await;
    assert!(proc.child.try_wait().unwrap().is_none(), "still running");
    let res = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    drop(proc);
    let _ = std::fs::remove_dir_all(&tmp);
}
