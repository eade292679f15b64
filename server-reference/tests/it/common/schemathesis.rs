//! Running schemathesis (PyPI, in the tools venv) and reading what it sent: the HAR report of
//! every request and answer (`tests/it/api_schemathesis.rs`, `tests/it/api_stateful.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::TestServer;
use super::webhooks::test_python;

/// Operations schemathesis must not call: they end the session it authenticates with
/// (logout, password change, MFA enrollment) or are not HTTP request/response (the
/// WebSocket upgrades, MCP's JSON-RPC, which the official MCP SDKs test).
/// The agent protocol's routes take an agent token, never a user's (the agent-proto vectors
/// and the end-to-end tests with the real agent cover them).
pub const EXCLUDED_PATHS: &str =
    "^/api/v1/(auth/(logout|logout-all|password/.*|mfa/(setup|confirm))|mcp|.*/ws|agents/.*)$";

/// A console script of the tools venv (`schemathesis`, `openapi-spec-validator`).
pub fn tool(name: &str) -> PathBuf {
    test_python().with_file_name(name)
}

/// `schemathesis run` against `server`'s served document with what every run here shares:
/// one worker (with two, Hypothesis failed inside itself), [`EXCLUDED_PATHS`], no health
/// checks, no colour or telemetry, and a HAR report of every exchange at `har` with
/// credentials masked. `config` is a `schemathesis.toml`. The caller adds the principal, the
/// checks, the phases, the seed and the budget.
pub fn command(server: &TestServer, config: Option<&Path>, har: &Path) -> Command {
    let mut cmd = Command::new(tool("schemathesis"));
    if let Some(config) = config {
        cmd.arg("--config-file").arg(config);
    }
    cmd.arg("run")
        .arg(server.url("/api/v1/openapi.json"))
        .args(["--url", &server.base])
        .args(["--workers", "1"])
        .args(["--exclude-path-regex", EXCLUDED_PATHS])
        .args(["--suppress-health-check", "all"])
        .args(["--report", "har"])
        .arg("--report-har-path")
        .arg(har)
        .args(["--output-sanitize", "true"])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false");
    cmd
}

/// Runs `cmd` (from [`command`]), fails the test with schemathesis's report when it found
/// anything, and returns the counts of its HAR report at `har`.
pub fn finish(mut cmd: Command, what: &str, har: &Path) -> Har {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "schemathesis {what} found failures:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    read_har(har)
}

/// What a HAR file holds.
#[derive(Debug)]
pub struct Har {
    pub requests: usize,
    pub with_body: usize,
    pub statuses: BTreeMap<u64, usize>,
    /// Requests that carried only the principal's bearer token (no generated `X-API-Key`).
    pub bearer_only: usize,
    /// Of those, the ones answered 401.
    pub bearer_only_401: usize,
}

/// Counts of the requests and answers of a HAR report.
pub fn read_har(path: &Path) -> Har {
    let text = std::fs::read_to_string(path).unwrap();
    let har: Value = serde_json::from_str(&text).unwrap();
    let entries = har["log"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Har {
        requests: entries.len(),
        with_body: 0,
        statuses: BTreeMap::new(),
        bearer_only: 0,
        bearer_only_401: 0,
    };
    for e in &entries {
        let status = e["response"]["status"].as_u64().unwrap_or(0);
        *out.statuses.entry(status).or_insert(0) += 1;
        if e["request"]["postData"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
        {
            out.with_body += 1;
        }
        let names: Vec<String> = e["request"]["headers"]
            .as_array()
            .map(|h| {
                h.iter()
                    .filter_map(|h| h["name"].as_str())
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        if names.iter().any(|n| n == "authorization") && !names.iter().any(|n| n == "x-api-key") {
            out.bearer_only += 1;
            if status == 401 {
                out.bearer_only_401 += 1;
            }
        }
    }
    out
}

/// One request and its answer, from a HAR report.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub status: u16,
    pub response: Option<Value>,
}

/// Every exchange of a HAR report, in order.
pub fn exchanges(path: &Path) -> Vec<Exchange> {
    let text = std::fs::read_to_string(path).unwrap();
    let har: Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for e in har["log"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let url = e["request"]["url"].as_str().unwrap_or_default();
        let Ok(parsed) = reqwest::Url::parse(url) else {
            continue;
        };
        let target = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let content_type = e["request"]["headers"].as_array().and_then(|h| {
            h.iter()
                .find(|h| {
                    h["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("content-type"))
                })
                .and_then(|h| h["value"].as_str())
                .map(str::to_owned)
        });
        out.push(Exchange {
            method: e["request"]["method"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            target,
            body: e["request"]["postData"]["text"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            content_type,
            status: u16::try_from(e["response"]["status"].as_u64().unwrap_or(0)).unwrap_or(0),
            response: e["response"]["content"]["text"]
                .as_str()
                .and_then(|t| serde_json::from_str(t).ok()),
        });
    }
    out
}
