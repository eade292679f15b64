//! The operator console's files as `breeze-server` serves them (SPEC 15): the bytes built into
//! `server-reference/web/dist` and embedded at compile time, each with its content type,
//! caching and the console's strict Content-Security-Policy; a page with no inline script or
//! style for that policy to allow; nothing served outside `assets/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::path::PathBuf;

use breeze_server::http::hardening::{CONSOLE_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY};

use crate::common::TestServer;

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/dist")
}

async fn get(server: &TestServer, path: &str, gzip: bool) -> reqwest::Response {
    let mut req = server.http.get(server.url(path));
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    req.send().await.unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap_or(""))
}

#[tokio::test]
async fn the_page_and_every_asset_are_the_built_files_under_the_strict_policy() {
    let server = TestServer::start().await;
    let index = std::fs::read(dist().join("index.html")).unwrap();
    let res = get(&server, "/", false).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert_eq!(
        header(&res, "content-security-policy"),
        CONSOLE_CONTENT_SECURITY_POLICY
    );
    assert_eq!(header(&res, "x-frame-options"), "DENY");
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), index.as_slice());

    // the policy has nothing inline to allow
    let page = String::from_utf8(index).unwrap().to_ascii_lowercase();
    assert!(!page.contains("<style"), "inline style element");
    assert!(!page.contains(" style="), "style attribute");
    assert!(!page.contains("javascript:"));
    for script in page.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains("src=\"/assets/"),
            "inline script: <script{tag}>"
        );
    }
    for attr in [" onload=", " onerror=", " onclick="] {
        assert!(!page.contains(attr), "{attr}");
    }
    assert!(!CONSOLE_CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    assert!(!CONSOLE_CONTENT_SECURITY_POLICY.contains("'unsafe-eval'"));

    let mut served = 0;
    for entry in std::fs::read_dir(dist().join("assets")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        let res = get(&server, &format!("/assets/{name}"), false).await;
        assert_eq!(res.status(), 200, "{name}");
        let want_type = match name.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "wasm" => "application/wasm",
            other => panic!("an asset of an unexpected kind: {name} ({other})"),
        };
        assert_eq!(header(&res, "content-type"), want_type, "{name}");
        let cache = if name.ends_with(".wasm") {
            "no-cache"
        } else {
            "public, max-age=31536000, immutable"
        };
        assert_eq!(header(&res, "cache-control"), cache, "{name}");
        assert_eq!(
            header(&res, "content-security-policy"),
            CONSOLE_CONTENT_SECURITY_POLICY
        );
        assert_eq!(res.bytes().await.unwrap().len(), bytes.len(), "{name}");
        // compressed when the client accepts it
        let gz = get(&server, &format!("/assets/{name}"), true).await;
        assert_eq!(gz.status(), 200);
        if bytes.len() > 1024 {
            assert_eq!(header(&gz, "content-encoding"), "gzip", "{name}");
            assert!(gz.bytes().await.unwrap().len() < bytes.len(), "{name}");
        }
        served += 1;
    }
    assert!(served >= 3, "{served} assets");
}

#[tokio::test]
async fn nothing_outside_the_built_assets_is_served() {
    let server = TestServer::start().await;
    for path in [
        "/assets/.env",
        "/assets/..%2Findex.html",
        "/assets/..%2F..%2FCargo.toml",
        "/assets/index.html",
        "/assets/missing.js",
        "/assets/a%00.js",
        "/assets/",
        "/index.htm",
        "/web/dist/index.html",
        "/src/main.ts",
    ] {
        let res = get(&server, path, true).await;
        let status = res.status().as_u16();
        assert!(status == 404 || status == 400, "{path}: {status}");
        // errors are the API's JSON, under the API's policy, never compressed
        assert_eq!(header(&res, "content-encoding"), "", "{path}");
        assert_eq!(
            header(&res, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}
