//! The operator console (SPEC 15): the static assets of `server-reference/web`, built into
//! `web/dist` by `scripts/build-console` and embedded in the binary at compile time, so an
//! operator needs nothing but `breeze-server`.
//!
//! `/` is the single page (never cached: it names the current asset files); `/assets/{file}`
//! are content-hashed files (cached for a year, immutable), except the WASM module, whose name
//! is fixed and which is revalidated. Every answer carries the console's own
//! [`CONSOLE_CONTENT_SECURITY_POLICY`], stricter than the API's: no inline script or style.
//! Answers are gzip-compressed when the client accepts it.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{And, DefaultPredicate, Predicate};

use crate::error::ApiError;
use crate::http::extract::Path;
use crate::http::hardening::CONSOLE_CONTENT_SECURITY_POLICY;
use crate::http::route::{Access, Route, route};

/// The built console, embedded from `server-reference/web/dist`.
#[derive(rust_embed::Embed)]
#[folder = "web/dist"]
struct Dist;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/",
            Access::Public,
            "the operator console (single page)",
            index,
        )
        .errors(&[404])
        .answers(200, Some("text/html"), "the console's page")
        .layer(compression()),
        route(
            Method::GET,
            "/assets/{file}",
            Access::Public,
            "a static asset of the operator console",
            asset,
        )
        .errors(&[404])
        .answers(
            200,
            None,
            "the asset (script, style sheet, WASM module, font or image)",
        )
        .layer(compression()),
    ]
}

/// gzip for the console's files (not for its JSON errors, which stay as every API error is);
/// the WASM module, images and fonts included only when the default predicate agrees.
fn compression() -> CompressionLayer<And<DefaultPredicate, SuccessOnly>> {
    CompressionLayer::new()
        .gzip(true)
        .compress_when(DefaultPredicate::new().and(success_only as SuccessOnly))
}

type SuccessOnly = fn(StatusCode, Version, &HeaderMap, &Extensions) -> bool;

fn success_only(status: StatusCode, _: Version, _: &HeaderMap, _: &Extensions) -> bool {
    status.is_success()
}

/// Path of a console asset.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AssetPath {
    /// The file name under `assets/`.
    #[schemars(length(min = 1, max = 128), pattern(r"^[A-Za-z0-9_.-]+$"))]
    pub file: String,
}

async fn index() -> Result<Response, ApiError> {
    serve("index.html", "no-store")
}

async fn asset(Path(p): Path<AssetPath>) -> Result<Response, ApiError> {
    if !is_asset_name(&p.file) {
        return Err(ApiError::NotFound);
    }
    let cache = if p.file.ends_with(".wasm") {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    serve(&format!("assets/{}", p.file), cache)
}

/// A plain file name: no separator, no leading dot, nothing but `[A-Za-z0-9_.-]`.
fn is_asset_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn serve(path: &str, cache_control: &'static str) -> Result<Response, ApiError> {
    let file = Dist::get(path).ok_or(ApiError::NotFound)?;
    let content_type = content_type(path).ok_or(ApiError::NotFound)?;
    // embedded files are `'static`: served without a copy
    let body = match file.data {
        Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        Cow::Owned(bytes) => Bytes::from(bytes),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}

/// The content type of a console file, by extension; a file of any other kind is not served.
fn content_type(path: &str) -> Option<&'static str> {
    let (_, ext) = path.rsplit_once('.')?;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_are_plain_file_names() {
        for ok in ["index-3f2a.js", "breeze_wasm_bg.wasm", "a.css"] {
            assert!(is_asset_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".env",
            "../index.html",
            "a/b.js",
            "a\\b.js",
            "a%2fb.js",
            "a b.js",
        ] {
            assert!(!is_asset_name(bad), "{bad}");
        }
        assert!(!is_asset_name(&"a".repeat(129)));
    }

    #[test]
    fn only_known_kinds_have_a_content_type() {
        assert_eq!(content_type("assets/x.wasm"), Some("application/wasm"));
        assert_eq!(content_type("index.html"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type("assets/x.exe"), None);
        assert_eq!(content_type("assets/noext"), None);
    }
}
