//! The served OpenAPI document against testers we did not write: `openapi-spec-validator`
//! (PyPI) accepts it, and `schemathesis` (PyPI) generates requests from it (valid and
//! invalid bodies, parameters and headers) as a platform admin and as an organization
//! technician. Bounded: a fixed seed, a few examples per operation. Every answer must be
//! documented (status, content type and schema) and none may be a 5xx; the run must send
//! real bodies (the count is printed). The test server's own contract check
//! (`common/contract.rs`) sees every answer too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::path::Path;
use std::process::Command;

use breeze_authz::seeded::SeededRole;

use crate::common::TestServer;
use crate::common::agents::mfa_token;
use crate::common::schemathesis::{command, finish, tool};

/// Test cases per operation and phase.
const MAX_EXAMPLES: &str = "6";

fn schemathesis(server: &TestServer, who: &str, token: &str, dir: &Path) -> (usize, usize) {
    let har = dir.join(format!("{who}.har"));
    let mut cmd = command(server, None, &har);
    cmd.args(["-H", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "26"]);
    let h = finish(cmd, &format!("as {who}"), &har);
    println!(
        "schemathesis as {who}: {} requests, {} with a body, 0 failures; answers by status: {:?}",
        h.requests, h.with_body, h.statuses
    );
    // schemathesis also sends each operation with its other security scheme (a generated
    // `X-API-Key`) and with none: those are 401s. With the principal's token alone, the
    // token must work: a 401 there means the run tested nothing but authentication.
    assert!(
        h.bearer_only > 500 && h.bearer_only_401 * 20 < h.bearer_only,
        "{} of {} requests with the token alone were refused 401",
        h.bearer_only_401,
        h.bearer_only
    );
    (h.requests, h.with_body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_and_schemathesis_finds_no_undocumented_answer() {
    let server = TestServer::start().await;
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let site = fx.site(org).await;
    let _device = fx.device(org, site).await;
    let admin = fx.platform_admin().await;
    let technician = fx
        .org_user(partner, org, SeededRole::OrgTechnician, None)
        .await;
    let admin_token = mfa_token(&server, &fx, &admin).await;
    let tech_token = mfa_token(&server, &fx, &technician).await;

    let dir = std::env::temp_dir().join(format!("breeze-schemathesis-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc_path = dir.join("openapi.json");
    std::fs::write(&doc_path, doc).unwrap();
    let out = Command::new(tool("openapi-spec-validator"))
        .arg(&doc_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let server_ref = &server;
    let dir_ref = &dir;
    // the technician first: the admin's run deletes what it finds, the fixtures included
    let (tech_requests, tech_bodies) = tokio::task::block_in_place(|| {
        schemathesis(server_ref, "org-technician", &tech_token, dir_ref)
    });
    let (admin_requests, admin_bodies) = tokio::task::block_in_place(|| {
        schemathesis(server_ref, "platform-admin", &admin_token, dir_ref)
    });
    assert!(admin_requests > 500 && tech_requests > 500);
    assert!(
        admin_bodies > 100 && tech_bodies > 100,
        "bodies sent: {admin_bodies} and {tech_bodies}"
    );
    if std::env::var_os("BREEZE_KEEP_REPORTS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
