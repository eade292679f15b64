//! Smoke: the server starts on a migrated database, answers health with the security
//! headers, and refuses to run as a role that could bypass row-level security.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::TestServer;

#[tokio::test]
async fn health_answers_with_security_headers() {
    let server = TestServer::start().await;
    let res = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    // plain HTTP without a trusted proxy: no HSTS (tests/it/ops_tls.rs checks it over TLS)
    assert!(!h.contains_key("strict-transport-security"));
    assert!(h.contains_key("content-security-policy"));
    let res = server.http.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn store_refuses_owner_and_superuser_roles() {
    let db = common::TestDb::new().await;
    let owner = breeze_server::store::PgStore::connect(&db.url("breeze_owner"), 1).await;
    assert!(
        owner.is_err(),
        "the owner role owns tables and must be refused"
    );
    let su =
        breeze_server::store::PgStore::connect(&secrecy::SecretString::from(db.superuser_url()), 1)
            .await;
    assert!(su.is_err(), "a superuser must be refused");
    let app = breeze_server::store::PgStore::connect(&db.url("breeze_app"), 1).await;
    assert!(app.is_ok());
}
