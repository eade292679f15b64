//! The operator console (SPEC 15) end to end in a real browser: Debian's Chromium, driven by
//! `tests/console/console.test.mjs` (playwright-core), against the real `breeze-server`
//! process (which embeds `web/dist`), PostgreSQL and the real `breeze-agent`. This harness
//! prepares the world (an organization with a site, an org admin with TOTP, a second org admin
//! whose role forces MFA and who has none yet), passes it to the script in the environment and
//! asserts that it exits 0. The script takes a 1366x768 screenshot of each page: into
//! `docs/console/` with `BREEZE_UPDATE_SCREENSHOTS=1`, else into `target/debug/console-screenshots`.
//!
//! Needs `npm ci` in `tests/console` (scripts/test does it) and `/usr/bin/chromium`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::PathBuf;
use std::process::Command;

use breeze_authz::seeded::SeededRole;
use secrecy::ExposeSecret;

use crate::common::mcp::with_totp;
use crate::common::procs::{agent_binary, server_binary, server_process};
use crate::common::{FIXTURE_PASSWORD, TestServer};

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let dir = console_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in {} (scripts/test does)",
        dir.display()
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "the console test needs Debian's chromium (apt-get install chromium)"
    );
    agent_binary();
    server_binary();

    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    fx.site(org).await;
    let admin = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;
    let secret = with_totp(&harness, &fx, &admin).await;
    // an org admin's role forces MFA; this one has none yet
    let newcomer = fx.org_user(partner, org, SeededRole::OrgAdmin, None).await;

    let tmp =
        std::env::temp_dir().join(format!("breeze-console-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(tmp.join("agent")).unwrap();
    let (server, base) = server_process(&harness.db, &tmp, "server").await;
    // the committed screenshots are refreshed on request only: a test run leaves the tree clean
    let shots = if std::env::var("BREEZE_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/console")
    } else {
        crate::common::procs::target_debug_dir().join("console-screenshots")
    };

    let out = Command::new("node")
        .current_dir(&dir)
        .args(["--test", "--test-reporter=spec", "console.test.mjs"])
        .env("BREEZE_BASE", &base)
        .env("ADMIN_EMAIL", &admin.email)
        .env("ADMIN_PASSWORD", FIXTURE_PASSWORD)
        .env("ADMIN_TOTP_SECRET", secret.to_base32().expose_secret())
        .env("NEWUSER_EMAIL", &newcomer.email)
        .env("NEWUSER_PASSWORD", FIXTURE_PASSWORD)
        .env("ORG_ID", org.to_string())
        .env("AGENT_BIN", agent_binary())
        .env("WORK_DIR", &tmp)
        .env("PG_SUPERUSER_URL", harness.db.superuser_url())
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    if !out.status.success() {
        let agent_log = std::fs::read_to_string(tmp.join("agent.log")).unwrap_or_default();
        let server_log = server.log();
        let tail = |s: &str| {
            s.lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "the console browser test failed\n--- server log (tail)\n{}\n--- agent log (tail)\n{}",
            tail(&server_log),
            tail(&agent_log)
        );
    }
    assert!(
        stdout.contains("first load of /:"),
        "the first-load figures are missing: {stdout}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}
